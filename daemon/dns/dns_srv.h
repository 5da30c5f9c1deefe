/* SRV answers for SIP (RFC 3263 4.2): parse, TTL, and the order in which
 * targets are tried (RFC 2782). Pure logic over wire-format answers. */
#ifndef SIPMASQ_DNS_SRV_H
#define SIPMASQ_DNS_SRV_H

#include <stddef.h>
#include <stdint.h>

#define DNS_SRV_MAX 16          /* targets kept from one answer */

/* One SRV record (RFC 2782). */
struct dns_srv_target {
	char host[256];         /* target name, without the trailing dot */
	uint16_t port;          /* host order */
	uint16_t priority;      /* lower is tried first */
	uint16_t weight;        /* share within one priority */
};

/* dns_srv_parse: the SRV records of a wire-format answer (abuf, alen bytes)
 * into out (at most max), and the smallest TTL of the answer section (s)
 * into *ttl_s. A single record with target "." means "no such service"
 * (RFC 2782) and gives 0 records. Returns the number of records, or
 * -EBADMSG for an answer c-ares cannot parse, -ENODATA for none. */
int dns_srv_parse(const unsigned char *abuf, int alen, struct dns_srv_target *out,
		  size_t max, uint32_t *ttl_s);

/* dns_answer_min_ttl: smallest TTL (s) of the answer-section records of a
 * wire-format answer. Returns 0, -ENODATA (no answer record) or -EBADMSG. */
int dns_answer_min_ttl(const unsigned char *abuf, int alen, uint32_t *ttl_s);

/* dns_srv_order: sort t[0..n) in place into the order to try them: by
 * priority, lowest first; within one priority a weighted random order
 * (RFC 2782 "Usage rules": each pick with a chance proportional to its
 * weight, weight 0 only rarely first). rnd() returns uniform random
 * 32-bit numbers (injected so tests are deterministic). */
void dns_srv_order(struct dns_srv_target *t, size_t n, uint32_t (*rnd)(void));

#endif
