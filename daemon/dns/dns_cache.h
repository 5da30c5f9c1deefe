/* A small cache of name lookups (RFC 3263 results: one IPv4 address and
 * port per key), positive and negative, honouring the records' TTLs
 * (RFC 1035 3.2.1, RFC 2308 for the negative entries). Pure logic: the
 * clock is passed in, so tests inject their own. */
#ifndef SIPMASQ_DNS_CACHE_H
#define SIPMASQ_DNS_CACHE_H

#include <netinet/in.h>
#include <stdint.h>

#define DNS_CACHE_SIZE 128      /* entries; the least useful one is replaced */
#define DNS_CACHE_KEY_MAX 280   /* "U|" + host (255) + "|" + port, with NUL */
#define DNS_CACHE_TTL_MAX 86400 /* s: longer TTLs are cut (RFC 2181 8 allows it) */

/* Result of dns_cache_get. */
enum dns_cache_hit {
	DNS_CACHE_MISS = 0,     /* unknown or expired: look it up */
	DNS_CACHE_POSITIVE,     /* *addr is valid */
	DNS_CACHE_NEGATIVE,     /* a recent lookup failed: *err (negative errno) */
};

/* One cached answer (positive or negative) for a key of sip_send/resolver. */
struct dns_cache_entry {
	char key[DNS_CACHE_KEY_MAX];
	struct sockaddr_in addr;  /* network byte order */
	int err;                  /* 0 = positive entry, else -errno */
	uint64_t expires_ms;      /* on the caller's clock; 0 = free slot */
};

/* The whole cache, zero-initialised to be empty. */
struct dns_cache {
	struct dns_cache_entry e[DNS_CACHE_SIZE];
};

/* dns_cache_get: look key up at time now_ms (caller's monotonic clock, ms).
 * Fills *addr (positive) or *err (negative). Expired entries count as a
 * miss (and are freed). */
enum dns_cache_hit dns_cache_get(struct dns_cache *c, const char *key, uint64_t now_ms,
				 struct sockaddr_in *addr, int *err);

/* dns_cache_put: remember key -> addr (err == 0) or key -> failure err
 * (negative errno) for ttl_s seconds from now_ms (cut to
 * DNS_CACHE_TTL_MAX). A TTL of 0 stores nothing (RFC 1035: use once only).
 * Replaces the entry of the same key, else a free or expired slot, else
 * the entry closest to expiry. */
void dns_cache_put(struct dns_cache *c, const char *key, const struct sockaddr_in *addr,
		   int err, uint32_t ttl_s, uint64_t now_ms);

/* dns_cache_clear: forget everything. */
void dns_cache_clear(struct dns_cache *c);

#endif
