/* Asynchronous lookup of SIP next hops (RFC 3263 4.2) with c-ares inside
 * the event loop: SRV (_sip._udp / _sip._tcp) when the hop names a host
 * without a port, then A; results cached per hop for their TTL. Never
 * blocks, except resolver_resolve_sync, which is for start-up only. */
#ifndef SIPMASQ_RESOLVER_H
#define SIPMASQ_RESOLVER_H

#include <netinet/in.h>

#include "daemon/sip/sip_hop.h"

/* How long a failure is remembered (s): NXDOMAIN / no such record, and a
 * DNS server that did not answer (so a burst of requests does not ask
 * again for each one). */
#define RESOLVER_NEG_TTL_S 30
#define RESOLVER_UNAVAILABLE_TTL_S 5

/* c-ares timing: the first try waits RESOLVER_QUERY_TIMEOUT_MS and each of
 * the RESOLVER_QUERY_TRIES rounds doubles it (1 + 2 + 4 s per server). */
#define RESOLVER_QUERY_TIMEOUT_MS 1000
#define RESOLVER_QUERY_TRIES 3
/* The longest one lookup takes against a server that never answers: the
 * SRV query's rounds, then the A query's (RFC 3263 4.2 fallback), in ms. */
#define RESOLVER_LOOKUP_MAX_MS (2 * RESOLVER_QUERY_TIMEOUT_MS * ((1 << RESOLVER_QUERY_TRIES) - 1))

/* Called once per resolver_start (possibly from inside it): err is 0 with
 * *addr set (network byte order), or -ENOENT (the name or service does not
 * exist: NXDOMAIN, no A record, SRV target "."), -ETIMEDOUT (no answer),
 * -EHOSTUNREACH (servers refused or failed), -ECANCELED (resolver_fini).
 * hop and addr are only valid during the call. */
typedef void (*resolver_cb)(void *arg, const struct sip_hop *hop, int err,
			    const struct sockaddr_in *addr);

/* resolver_init: create the c-ares channel and hook it into the evloop
 * (evloop_init first). servers: "a.b.c.d[:port],..." (the dns_server
 * directive) or "" for /etc/resolv.conf. Returns 0, -EINVAL (bad server
 * list) or -ENOMEM/-EIO (c-ares failed; logged). */
int resolver_init(const char *servers);

/* resolver_fini: cancel every lookup (callbacks get -ECANCELED) and free
 * the channel. */
void resolver_fini(void);

/* resolver_tick: let c-ares retry and time out queries; call about once a
 * second (proxy_tick). */
void resolver_tick(void);

/* resolver_cached: without any query, the address of hop: numeric hosts
 * (port 0 = 5060) and cache hits give 0; a remembered failure gives its
 * error; -EAGAIN means a lookup is needed (resolver_start). */
int resolver_cached(const struct sip_hop *hop, struct sockaddr_in *addr);

/* resolver_start: look hop up, or join the lookup of the same hop already
 * running with the same cb and arg. cb(arg, ...) is called exactly once
 * when it ends. Returns 0; -ENOTCONN when resolver_init was not called;
 * -EBUSY when too many lookups are running (cb is not called then). */
int resolver_start(const struct sip_hop *hop, resolver_cb cb, void *arg);

/* resolver_resolve_sync: resolver_cached, else a lookup waited for up to
 * timeout_ms while running the evloop (only resolver sockets may be
 * registered yet: start-up). Returns as resolver_cb's err, or -ETIMEDOUT. */
int resolver_resolve_sync(const struct sip_hop *hop, struct sockaddr_in *addr,
			  int timeout_ms);

/* resolver_key: the cache key of a hop ("U|host|port") into buf. */
void resolver_key(const struct sip_hop *hop, char *buf, size_t n);

#endif
