/* Lookup cache with TTLs (see dns_cache.h). Linear search: DNS_CACHE_SIZE
 * is small and a lookup costs far less than the SIP parse around it. */
#include "autoconfig.h"

#include "daemon/dns/dns_cache.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct dns_cache_entry *find(struct dns_cache *c, const char *key)
{
	for (size_t i = 0; i < DNS_CACHE_SIZE; i++)
		if (c->e[i].expires_ms && !strcasecmp(c->e[i].key, key))   /* names: any case */
			return &c->e[i];
	return NULL;
}

enum dns_cache_hit dns_cache_get(struct dns_cache *c, const char *key, uint64_t now_ms,
				 struct sockaddr_in *addr, int *err)
{
	struct dns_cache_entry *e = find(c, key);

	if (!e)
		return DNS_CACHE_MISS;
	if (e->expires_ms <= now_ms) {
		e->expires_ms = 0;
		return DNS_CACHE_MISS;
	}
	if (e->err) {
		*err = e->err;
		return DNS_CACHE_NEGATIVE;
	}
	*addr = e->addr;
	return DNS_CACHE_POSITIVE;
}

/* A free or expired slot, else the entry closest to expiry. */
static struct dns_cache_entry *victim(struct dns_cache *c, uint64_t now_ms)
{
	struct dns_cache_entry *v = &c->e[0];

	for (size_t i = 0; i < DNS_CACHE_SIZE; i++) {
		if (c->e[i].expires_ms <= now_ms)
			return &c->e[i];
		if (c->e[i].expires_ms < v->expires_ms)
			v = &c->e[i];
	}
	return v;
}

void dns_cache_put(struct dns_cache *c, const char *key, const struct sockaddr_in *addr,
		   int err, uint32_t ttl_s, uint64_t now_ms)
{
	struct dns_cache_entry *e = find(c, key);

	if (ttl_s == 0) {
		if (e)
			e->expires_ms = 0;
		return;
	}
	if (ttl_s > DNS_CACHE_TTL_MAX)
		ttl_s = DNS_CACHE_TTL_MAX;
	if (!e)
		e = victim(c, now_ms);
	snprintf(e->key, sizeof(e->key), "%s", key);
	memset(&e->addr, 0, sizeof(e->addr));
	if (!err && addr)
		e->addr = *addr;
	e->err = err;
	e->expires_ms = now_ms + (uint64_t)ttl_s * 1000u;
}

void dns_cache_clear(struct dns_cache *c)
{
	memset(c, 0, sizeof(*c));
}
