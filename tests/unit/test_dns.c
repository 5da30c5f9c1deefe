/* Unit tests of the pure DNS logic: the lookup cache with an injected
 * clock (daemon/dns/dns_cache.c) and SRV answers (daemon/dns/dns_srv.c): parse,
 * smallest TTL, RFC 2782 order. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "daemon/base/addr.h"
#include "daemon/dns/dns_cache.h"
#include "daemon/dns/dns_srv.h"
#include "tests/unit/unit.h"

/* A wire-format answer being built. */
struct wire {
	unsigned char b[1024];
	int n;
};

static void put8(struct wire *w, unsigned v)
{
	w->b[w->n++] = (unsigned char)v;
}

static void put16(struct wire *w, unsigned v)
{
	put8(w, v >> 8);
	put8(w, v & 0xff);
}

static void put32(struct wire *w, uint32_t v)
{
	put16(w, v >> 16);
	put16(w, v & 0xffff);
}

static void put_name(struct wire *w, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);

		put8(w, (unsigned)len);
		memcpy(w->b + w->n, name, len);
		w->n += (int)len;
		name += len + (dot ? 1 : 0);
	}
	put8(w, 0);
}

/* Header and the question "_sip._udp.example.test SRV IN". */
static void srv_answer_start(struct wire *w, unsigned ancount)
{
	w->n = 0;
	put16(w, 0x1234);
	put16(w, 0x8180);       /* response, RD, RA, NOERROR */
	put16(w, 1);
	put16(w, ancount);
	put16(w, 0);
	put16(w, 0);
	put_name(w, "_sip._udp.example.test");
	put16(w, 33);           /* SRV */
	put16(w, 1);            /* IN */
}

static void srv_record(struct wire *w, uint32_t ttl, unsigned prio, unsigned weight,
		       unsigned port, const char *target)
{
	int rdlen_at;

	put16(w, 0xc00c);       /* the question's name */
	put16(w, 33);
	put16(w, 1);
	put32(w, ttl);
	rdlen_at = w->n;
	put16(w, 0);
	put16(w, prio);
	put16(w, weight);
	put16(w, port);
	put_name(w, target);
	w->b[rdlen_at] = (unsigned char)((w->n - rdlen_at - 2) >> 8);
	w->b[rdlen_at + 1] = (unsigned char)((w->n - rdlen_at - 2) & 0xff);
}

static void test_srv_parse(void)
{
	struct dns_srv_target t[DNS_SRV_MAX];
	struct wire w;
	uint32_t ttl = 0;
	int n;

	srv_answer_start(&w, 3);
	srv_record(&w, 300, 20, 0, 5080, "backup.example.test");
	srv_record(&w, 120, 10, 5, 5070, "registrar.example.test");
	srv_record(&w, 0x80000001u, 10, 5, 5060, "other.example.test");   /* TTL "negative": 0 */
	n = dns_srv_parse(w.b, w.n, t, DNS_SRV_MAX, &ttl);
	CHECK_INT(n, 3);
	CHECK_INT(ttl, 0);
	CHECK_STR(t[0].host, "backup.example.test");
	CHECK_INT(t[0].port, 5080);
	CHECK_INT(t[0].priority, 20);
	CHECK_INT(t[1].port, 5070);

	srv_answer_start(&w, 2);
	srv_record(&w, 300, 20, 0, 5080, "a.example.test");
	srv_record(&w, 120, 10, 5, 5070, "b.example.test");
	CHECK_INT(dns_answer_min_ttl(w.b, w.n, &ttl), 0);
	CHECK_INT(ttl, 120);

	/* Target "." : the service is decidedly not there (RFC 2782). */
	srv_answer_start(&w, 1);
	srv_record(&w, 60, 0, 0, 0, "");
	CHECK_INT(dns_srv_parse(w.b, w.n, t, DNS_SRV_MAX, &ttl), 0);

	/* No answer record, truncated answers. */
	srv_answer_start(&w, 0);
	CHECK_INT(dns_answer_min_ttl(w.b, w.n, &ttl), -ENODATA);
	CHECK_INT(dns_srv_parse(w.b, w.n, t, DNS_SRV_MAX, &ttl), -ENODATA);
	srv_answer_start(&w, 1);
	srv_record(&w, 60, 1, 1, 5060, "x.example.test");
	CHECK_INT(dns_answer_min_ttl(w.b, w.n - 5, &ttl), -EBADMSG);
	CHECK(dns_srv_parse(w.b, w.n - 5, t, DNS_SRV_MAX, &ttl) < 0);
	CHECK_INT(dns_answer_min_ttl(w.b, 5, &ttl), -EBADMSG);
}

static uint32_t rnd_value;

static uint32_t fixed_rnd(void)
{
	return rnd_value;
}

static struct dns_srv_target srv(const char *host, unsigned prio, unsigned weight)
{
	struct dns_srv_target t;

	memset(&t, 0, sizeof(t));
	snprintf(t.host, sizeof(t.host), "%s", host);
	t.priority = (uint16_t)prio;
	t.weight = (uint16_t)weight;
	return t;
}

static void test_srv_order(void)
{
	struct dns_srv_target t[5];
	unsigned first_heavy = 0;

	/* Priority first, whatever the weights. */
	t[0] = srv("p30", 30, 100);
	t[1] = srv("p10", 10, 0);
	t[2] = srv("p20", 20, 50);
	rnd_value = 0;
	dns_srv_order(t, 3, fixed_rnd);
	CHECK_STR(t[0].host, "p10");
	CHECK_STR(t[1].host, "p20");
	CHECK_STR(t[2].host, "p30");

	/* Within one priority, weight 0 first, then by name: running sums 0
	 * (zero), 90 (heavy), 100 (light). A random 0 picks the weight-0
	 * entry, 1..90 the heavy one, 91..100 the light one. */
	for (uint32_t r = 0; r <= 100; r++) {
		t[0] = srv("heavy", 5, 90);
		t[1] = srv("light", 5, 10);
		t[2] = srv("zero", 5, 0);
		t[3] = srv("later", 6, 1000);
		rnd_value = r;
		dns_srv_order(t, 4, fixed_rnd);
		CHECK_STR(t[3].host, "later");
		if (r == 0)
			CHECK_STR(t[0].host, "zero");
		if (r == 5)
			CHECK_STR(t[0].host, "heavy");
		if (r == 95)
			CHECK_STR(t[0].host, "light");
		first_heavy += !strcmp(t[0].host, "heavy");
	}
	/* 90 of 101 values pick heavy: its weight's share. */
	CHECK_INT(first_heavy, 90);
}

static void test_cache(void)
{
	static struct dns_cache c;
	struct sockaddr_in a = addr_make((struct in_addr){ htonl(0xc6336402) }, 5060), got;
	int err = 0;

	dns_cache_clear(&c);
	CHECK_INT(dns_cache_get(&c, "U|example.test|0", 1000, &got, &err), DNS_CACHE_MISS);
	dns_cache_put(&c, "U|example.test|0", &a, 0, 30, 1000);
	CHECK_INT(dns_cache_get(&c, "U|EXAMPLE.test|0", 1000, &got, &err), DNS_CACHE_POSITIVE);
	CHECK(addr_equal(&got, &a));
	/* Honours the TTL: valid until 30 s later, not at 30 s. */
	CHECK_INT(dns_cache_get(&c, "U|example.test|0", 30999, &got, &err), DNS_CACHE_POSITIVE);
	CHECK_INT(dns_cache_get(&c, "U|example.test|0", 31000, &got, &err), DNS_CACHE_MISS);
	/* TTL 0 stores nothing and drops an older answer. */
	dns_cache_put(&c, "U|zero.test|0", &a, 0, 60, 1000);
	dns_cache_put(&c, "U|zero.test|0", &a, 0, 0, 2000);
	CHECK_INT(dns_cache_get(&c, "U|zero.test|0", 2000, &got, &err), DNS_CACHE_MISS);
	/* Negative entries. */
	dns_cache_put(&c, "U|nowhere.test|0", NULL, -ENOENT, 30, 1000);
	CHECK_INT(dns_cache_get(&c, "U|nowhere.test|0", 2000, &got, &err), DNS_CACHE_NEGATIVE);
	CHECK_INT(err, -ENOENT);
	/* Huge TTLs are cut. */
	dns_cache_put(&c, "U|long.test|0", &a, 0, 0xffffffffu, 0);
	CHECK_INT(dns_cache_get(&c, "U|long.test|0", DNS_CACHE_TTL_MAX * 1000ull - 1, &got, &err),
		  DNS_CACHE_POSITIVE);
	CHECK_INT(dns_cache_get(&c, "U|long.test|0", DNS_CACHE_TTL_MAX * 1000ull, &got, &err),
		  DNS_CACHE_MISS);
	/* Full: the entry closest to expiry makes room; the others stay. */
	dns_cache_clear(&c);
	for (unsigned i = 0; i < DNS_CACHE_SIZE; i++) {
		char key[32];

		snprintf(key, sizeof(key), "U|h%u|0", i);
		dns_cache_put(&c, key, &a, 0, 100 + i, 0);
	}
	dns_cache_put(&c, "U|new|0", &a, 0, 10, 0);
	CHECK_INT(dns_cache_get(&c, "U|new|0", 0, &got, &err), DNS_CACHE_POSITIVE);
	CHECK_INT(dns_cache_get(&c, "U|h0|0", 0, &got, &err), DNS_CACHE_MISS);
	CHECK_INT(dns_cache_get(&c, "U|h1|0", 0, &got, &err), DNS_CACHE_POSITIVE);
}

int main(void)
{
	test_srv_parse();
	test_srv_order();
	test_cache();
	return unit_summary();
}
