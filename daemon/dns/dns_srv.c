/* SRV records for SIP: parse with c-ares, order per RFC 2782. */
#include "autoconfig.h"

#include "daemon/dns/dns_srv.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_HEADER_LEN 12

/* Skip one (possibly compressed) name at p; returns its wire length or -1. */
static long skip_name(const unsigned char *p, const unsigned char *abuf, int alen)
{
	char *name = NULL;
	long enclen = 0;

	if (ares_expand_name(p, abuf, alen, &name, &enclen) != ARES_SUCCESS)
		return -1;
	ares_free_string(name);
	return enclen;
}

int dns_answer_min_ttl(const unsigned char *abuf, int alen, uint32_t *ttl_s)
{
	const unsigned char *p = abuf + DNS_HEADER_LEN, *end = abuf + alen;
	unsigned qd, an;
	uint32_t min = UINT32_MAX;
	long n;

	if (alen < DNS_HEADER_LEN)
		return -EBADMSG;
	qd = (unsigned)abuf[4] << 8 | abuf[5];
	an = (unsigned)abuf[6] << 8 | abuf[7];
	for (unsigned i = 0; i < qd; i++) {
		if ((n = skip_name(p, abuf, alen)) < 0 || end - p < n + 4)
			return -EBADMSG;
		p += n + 4;   /* QTYPE, QCLASS */
	}
	for (unsigned i = 0; i < an; i++) {
		uint32_t ttl;
		unsigned rdlen;

		if ((n = skip_name(p, abuf, alen)) < 0 || end - p < n + 10)
			return -EBADMSG;
		p += n + 4;   /* TYPE, CLASS */
		ttl = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		rdlen = (unsigned)p[4] << 8 | p[5];
		p += 6;
		if (end - p < (long)rdlen)
			return -EBADMSG;
		p += rdlen;
		if (ttl & 0x80000000u)
			ttl = 0;   /* RFC 2181 8: a TTL with the top bit set means 0 */
		if (ttl < min)
			min = ttl;
	}
	if (min == UINT32_MAX)
		return -ENODATA;
	*ttl_s = min;
	return 0;
}

int dns_srv_parse(const unsigned char *abuf, int alen, struct dns_srv_target *out,
		  size_t max, uint32_t *ttl_s)
{
	struct ares_srv_reply *head = NULL;
	size_t n = 0;
	int rc = ares_parse_srv_reply(abuf, alen, &head);

	if (rc == ARES_ENODATA)
		return -ENODATA;
	if (rc != ARES_SUCCESS)
		return -EBADMSG;
	if (dns_answer_min_ttl(abuf, alen, ttl_s) != 0)
		*ttl_s = 0;
	for (struct ares_srv_reply *r = head; r && n < max; r = r->next) {
		if (!r->host || !r->host[0] || !strcmp(r->host, "."))
			continue;   /* "." : decidedly not available (RFC 2782) */
		if ((size_t)snprintf(out[n].host, sizeof(out[n].host), "%s", r->host) >=
		    sizeof(out[n].host))
			continue;
		out[n].port = r->port;
		out[n].priority = r->priority;
		out[n].weight = r->weight;
		n++;
	}
	ares_free_data(head);
	return (int)n;
}

static int by_priority_weight0_first(const void *a, const void *b)
{
	const struct dns_srv_target *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if ((x->weight != 0) != (y->weight != 0))
		return x->weight != 0 ? 1 : -1;   /* weight 0 first (RFC 2782) */
	return strcmp(x->host, y->host);      /* any order: a deterministic one */
}

void dns_srv_order(struct dns_srv_target *t, size_t n, uint32_t (*rnd)(void))
{
	qsort(t, n, sizeof(*t), by_priority_weight0_first);
	for (size_t start = 0; start < n;) {
		size_t end = start;

		while (end < n && t[end].priority == t[start].priority)
			end++;
		/* Weighted selection, RFC 2782: pick with running sums, move the
		 * pick to the front of what is left, repeat. */
		for (size_t i = start; i + 1 < end; i++) {
			uint64_t sum = 0, r, run = 0;
			size_t pick = i;

			for (size_t j = i; j < end; j++)
				sum += t[j].weight;
			r = sum ? rnd() % (sum + 1) : 0;
			for (size_t j = i; j < end; j++) {
				run += t[j].weight;
				if (run >= r) {
					pick = j;
					break;
				}
			}
			if (pick != i) {
				struct dns_srv_target tmp = t[pick];

				memmove(&t[i + 1], &t[i], (pick - i) * sizeof(*t));
				t[i] = tmp;
			}
		}
		start = end;
	}
}
