/* Send now or park until the next hop's name resolves (see sip_send.h). */
#include "autoconfig.h"

#include "daemon/transport/sip_send.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/addr.h"
#include "daemon/dns/dns_cache.h"
#include "daemon/base/evloop.h"
#include "daemon/base/log.h"
#include "daemon/dns/resolver.h"
#include "daemon/transport/sip_transport.h"

struct parked {
	char *buf;                  /* NULL = free slot */
	size_t len;
	uint64_t deadline_ms;
	struct sip_hop hop;
};

static struct {
	sip_send_fail_cb on_fail;
	sip_send_self_cb is_self;
	struct parked p[SIP_SEND_PARK_MAX];
	size_t bytes;
} ss;

void sip_send_init(sip_send_fail_cb on_fail, sip_send_self_cb is_self)
{
	sip_send_fini();
	ss.on_fail = on_fail;
	ss.is_self = is_self;
}

static const char *why_text(enum sip_send_error why)
{
	switch (why) {
	case SIP_SEND_NO_SUCH_HOST:
		return "no such host or SIP service (NXDOMAIN or no address)";
	case SIP_SEND_DNS_DOWN:
		return "DNS did not answer in time or failed";
	case SIP_SEND_BUSY:
		return "too many messages waiting for DNS";
	case SIP_SEND_SELF:
		return "resolves to sipmasq itself";
	}
	return "?";
}

static void fail(const struct sip_hop *hop, const char *buf, size_t len,
		 enum sip_send_error why)
{
	log_ratelimited(why == SIP_SEND_SELF ? "send-self" : "send-dns", 10, LOG_NOTICE,
			"next hop %s:%u: %s, message not forwarded", hop->host, hop->port, why_text(why));
	if (ss.on_fail)
		ss.on_fail(buf, len, why);
}

static int deliver(const struct sip_hop *hop, const struct sockaddr_in *dst, const char *buf,
		   size_t len)
{
	char a[ADDR_STRLEN];

	if (ss.is_self && ss.is_self(dst)) {
		fail(hop, buf, len, SIP_SEND_SELF);
		return -1;
	}
	log_debug(DBCLASS_NETTRAF, "to %s/%s:\n%.*s", addr_str(dst, a),
		  sip_proto_name(hop->proto), (int)len, buf);
	sip_transport_deliver(hop->proto, dst, buf, len);
	return 0;
}

static enum sip_send_error error_of(int err)
{
	return err == -ENOENT ? SIP_SEND_NO_SUCH_HOST : SIP_SEND_DNS_DOWN;
}

/* Take slot i out of the lot; the caller frees the returned buffer. */
static struct parked unpark(size_t i)
{
	struct parked p = ss.p[i];

	ss.bytes -= p.len;
	ss.p[i].buf = NULL;
	return p;
}

/* A lookup ended: send or fail everything parked for that hop. */
static void on_resolved(void *arg, const struct sip_hop *hop, int err,
			const struct sockaddr_in *addr)
{
	char key[DNS_CACHE_KEY_MAX], k[DNS_CACHE_KEY_MAX];

	(void)arg;
	resolver_key(hop, key, sizeof(key));
	for (size_t i = 0; i < SIP_SEND_PARK_MAX; i++) {
		struct parked p;

		if (!ss.p[i].buf)
			continue;
		resolver_key(&ss.p[i].hop, k, sizeof(k));
		if (strcmp(k, key))
			continue;
		p = unpark(i);   /* before calling out: on_fail may park again */
		if (!err)
			deliver(&p.hop, addr, p.buf, p.len);
		else if (err != -ECANCELED)   /* -ECANCELED: shutting down */
			fail(&p.hop, p.buf, p.len, error_of(err));
		free(p.buf);
	}
}

int sip_send(const struct sip_hop *hop, const char *buf, size_t len)
{
	struct sockaddr_in dst;
	size_t i;
	int rc = resolver_cached(hop, &dst);

	if (rc == 0)
		return deliver(hop, &dst, buf, len);
	if (rc != -EAGAIN) {
		fail(hop, buf, len, error_of(rc));
		return -1;
	}
	for (i = 0; i < SIP_SEND_PARK_MAX && ss.p[i].buf; i++)
		;
	if (i == SIP_SEND_PARK_MAX || ss.bytes + len > SIP_SEND_PARK_BYTES ||
	    !(ss.p[i].buf = malloc(len + 1))) {
		fail(hop, buf, len, SIP_SEND_BUSY);
		return -1;
	}
	memcpy(ss.p[i].buf, buf, len);
	ss.p[i].buf[len] = '\0';   /* as the transport delivers it: parsers may rely on it */
	ss.p[i].len = len;
	ss.p[i].hop = *hop;
	ss.p[i].deadline_ms = evloop_now_ms() + SIP_SEND_WAIT_MS;
	ss.bytes += len;
	log_debug(DBCLASS_DNS, "next hop %s:%u: waiting for DNS (%zu bytes parked)", hop->host,
		  hop->port, len);
	rc = resolver_start(hop, on_resolved, NULL);   /* may send it before returning */
	if (rc && ss.p[i].buf) {
		struct parked p = unpark(i);

		fail(&p.hop, p.buf, p.len, rc == -EBUSY ? SIP_SEND_BUSY : SIP_SEND_DNS_DOWN);
		free(p.buf);
		return -1;
	}
	return 1;
}

void sip_send_expire(uint64_t now_ms)
{
	for (size_t i = 0; i < SIP_SEND_PARK_MAX; i++) {
		if (ss.p[i].buf && ss.p[i].deadline_ms <= now_ms) {
			struct parked p = unpark(i);

			fail(&p.hop, p.buf, p.len, SIP_SEND_DNS_DOWN);
			free(p.buf);
		}
	}
}

void sip_send_fini(void)
{
	for (size_t i = 0; i < SIP_SEND_PARK_MAX; i++)
		if (ss.p[i].buf)
			free(unpark(i).buf);
}
