/* RFC 3263 next-hop lookup on c-ares, driven by the epoll loop.
 *
 * c-ares tells which sockets it wants watched (ARES_OPT_SOCK_STATE_CB);
 * the evloop calls ares_process_fd when they are ready, resolver_tick lets
 * it time queries out. A lookup follows the system's order, files then
 * DNS (as the C library with "hosts: files dns", which is how siproxd
 * resolves): a name in the hosts file is its address, port 5060 or the
 * hop's, without any query. Else one small state machine: SRV query (only
 * for a name without port), then A (ares_getaddrinfo, hosts file again
 * for SRV targets) of each SRV target in RFC 2782 order until one
 * resolves, or of the name itself with 5060 when the SRV query gives no
 * target, whatever the reason: no record, NXDOMAIN, REFUSED, SERVFAIL or
 * no answer at all (as Kamailio and PJSIP do; a DNS server that refuses
 * SRV is common on small gateways). */
#include "autoconfig.h"

#include "daemon/dns/resolver.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include "daemon/base/addr.h"
#include "daemon/dns/dns_cache.h"
#include "daemon/dns/dns_srv.h"
#include "daemon/base/evloop.h"
#include "daemon/base/log.h"

#define LOOKUPS_MAX 64          /* lookups running at once */
#define WAITERS_MAX 4           /* distinct callbacks joined to one lookup */
#define QUERY_TIMEOUT_MS RESOLVER_QUERY_TIMEOUT_MS
#define QUERY_TRIES RESOLVER_QUERY_TRIES
#define FILES_TTL_S 30          /* how long a hosts-file answer is cached */

struct waiter {
	resolver_cb cb;
	void *arg;
};

struct lookup {
	bool used;
	struct sip_hop hop;
	char key[DNS_CACHE_KEY_MAX];
	struct dns_srv_target srv[DNS_SRV_MAX];
	int nsrv, cur;              /* SRV targets, the one being looked up */
	uint32_t ttl_s;             /* smallest TTL seen so far */
	struct waiter w[WAITERS_MAX];
	int nw;
};

static struct {
	ares_channel ch;
	bool up;
	struct dns_cache cache;
	struct lookup lk[LOOKUPS_MAX];
} rs;

void resolver_key(const struct sip_hop *hop, char *buf, size_t n)
{
	snprintf(buf, n, "%c|%s|%u", hop->proto == SIP_PROTO_TCP ? 'T' : 'U', hop->host,
		 hop->port);
}

static void on_fd(int fd, uint32_t events, void *arg)
{
	(void)arg;
	ares_process_fd(rs.ch, events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD,
			events & EPOLLOUT ? fd : ARES_SOCKET_BAD);
}

/* c-ares opens, needs and closes sockets: mirror that in the evloop. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	(void)data;
	evloop_del(fd);
	if ((readable || writable) &&
	    evloop_add(fd, (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0), on_fd, NULL))
		log_ratelimited("dns-evloop", 10, LOG_ERR, "DNS: cannot watch socket %d", fd);
}

int resolver_init(const char *servers)
{
	struct ares_options o;
	int rc;

	memset(&rs, 0, sizeof(rs));
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		log_err("DNS: c-ares: %s", ares_strerror(rc));
		return -EIO;
	}
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = on_sock_state;
	o.timeout = QUERY_TIMEOUT_MS;
	o.tries = QUERY_TRIES;
	rc = ares_init_options(&rs.ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
			       ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		log_err("DNS: c-ares: %s", ares_strerror(rc));
		ares_library_cleanup();
		return rc == ARES_ENOMEM ? -ENOMEM : -EIO;
	}
	if (servers && *servers && ares_set_servers_ports_csv(rs.ch, servers) != ARES_SUCCESS) {
		log_err("DNS: dns_server '%s' is not a list of a.b.c.d[:port]", servers);
		ares_destroy(rs.ch);
		ares_library_cleanup();
		return -EINVAL;
	}
	rs.up = true;
	return 0;
}

void resolver_fini(void)
{
	if (!rs.up)
		return;
	rs.up = false;          /* callbacks from ares_destroy only free */
	ares_destroy(rs.ch);    /* ends every query: their callbacks run now */
	ares_library_cleanup();
	for (int i = 0; i < LOOKUPS_MAX; i++) {
		struct lookup *l = &rs.lk[i];

		for (int j = 0; l->used && j < l->nw; j++)
			l->w[j].cb(l->w[j].arg, &l->hop, -ECANCELED, NULL);
		l->used = false;
	}
}

void resolver_tick(void)
{
	if (rs.up)
		ares_process_fd(rs.ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

int resolver_cached(const struct sip_hop *hop, struct sockaddr_in *addr)
{
	char key[DNS_CACHE_KEY_MAX];
	struct in_addr ip;
	int err = 0;

	if (addr_is_numeric(hop->host, &ip)) {
		*addr = addr_make(ip, hop->port ? hop->port : 5060);
		return 0;
	}
	resolver_key(hop, key, sizeof(key));
	switch (dns_cache_get(&rs.cache, key, evloop_now_ms(), addr, &err)) {
	case DNS_CACHE_POSITIVE:
		return 0;
	case DNS_CACHE_NEGATIVE:
		return err;
	default:
		return -EAGAIN;
	}
}

/* c-ares status to our errors (resolver_cb). */
static int map_status(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
	case ARES_ENONAME:
		return -ENOENT;
	case ARES_ETIMEOUT:
		return -ETIMEDOUT;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return -ECANCELED;
	default:
		return -EHOSTUNREACH;   /* refused, server failure, unreachable */
	}
}

/* The lookup ends: cache the outcome, free the slot, tell the waiters. */
static void finish(struct lookup *l, int err, const struct sockaddr_in *addr)
{
	struct lookup done = *l;

	l->used = false;
	if (err == -ENOENT)
		done.ttl_s = RESOLVER_NEG_TTL_S;
	else if (err)
		done.ttl_s = RESOLVER_UNAVAILABLE_TTL_S;
	if (err != -ECANCELED)
		dns_cache_put(&rs.cache, done.key, addr, err, done.ttl_s, evloop_now_ms());
	if (!err) {
		char a[ADDR_STRLEN];

		log_debug(DBCLASS_DNS, "DNS: %s is %s (TTL %u s)", done.key, addr_str(addr, a),
			  done.ttl_s);
	} else {
		log_debug(DBCLASS_DNS, "DNS: %s: %s", done.key, strerror(-err));
	}
	for (int i = 0; i < done.nw; i++)
		done.w[i].cb(done.w[i].arg, &done.hop, err, addr);
}

static void lookup_a(struct lookup *l, const char *name);

static void on_addr(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct lookup *l = arg;
	uint16_t port = l->nsrv ? l->srv[l->cur].port : l->hop.port ? l->hop.port : 5060;
	int err = map_status(status);

	(void)timeouts;
	if (!rs.up) {
		ares_freeaddrinfo(res);
		return;
	}
	for (struct ares_addrinfo_node *n = res ? res->nodes : NULL; !err && n; n = n->ai_next) {
		if (n->ai_family != AF_INET)
			continue;
		struct sockaddr_in sa = addr_make(((struct sockaddr_in *)n->ai_addr)->sin_addr, port);

		if ((uint32_t)(n->ai_ttl > 0 ? n->ai_ttl : 0) < l->ttl_s)
			l->ttl_s = (uint32_t)(n->ai_ttl > 0 ? n->ai_ttl : 0);
		ares_freeaddrinfo(res);
		finish(l, 0, &sa);
		return;
	}
	ares_freeaddrinfo(res);
	if (!err)
		err = -ENOENT;
	if (l->nsrv && l->cur + 1 < l->nsrv && err != -ECANCELED) {
		l->cur++;   /* RFC 3263 4.4: the next target */
		lookup_a(l, l->srv[l->cur].host);
		return;
	}
	finish(l, err, NULL);
}

static void lookup_a(struct lookup *l, const char *name)
{
	struct ares_addrinfo_hints hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = l->hop.proto == SIP_PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	ares_getaddrinfo(rs.ch, name, NULL, &hints, on_addr, l);
}

static uint32_t srv_random(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)evloop_now_ms();
	return r;
}

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct lookup *l = arg;
	int err = map_status(status), n;
	uint32_t ttl = 0;

	(void)timeouts;
	if (!rs.up)
		return;
	if (err == -ECANCELED) {
		finish(l, err, NULL);
		return;
	}
	/* No usable SRV answer, whatever the reason (no record, NXDOMAIN,
	 * REFUSED, SERVFAIL, timeout, unparseable): A of the name, port 5060
	 * (RFC 3263 4.2; Kamailio and PJSIP fall back the same way). */
	n = err ? -ENODATA : dns_srv_parse(abuf, alen, l->srv, DNS_SRV_MAX, &ttl);
	if (n == -ENODATA || n == -EBADMSG) {
		if (err)
			log_debug(DBCLASS_DNS, "DNS: %s: SRV query failed (%s), trying A", l->key,
				  ares_strerror(status));
		lookup_a(l, l->hop.host);
		return;
	}
	if (n <= 0) {   /* "." or unparseable: the service is not there */
		finish(l, -ENOENT, NULL);
		return;
	}
	dns_srv_order(l->srv, (size_t)n, srv_random);
	l->nsrv = n;
	l->cur = 0;
	l->ttl_s = ttl < l->ttl_s ? ttl : l->ttl_s;
	log_debug(DBCLASS_DNS, "DNS: %s: %d SRV target(s), first %s:%u", l->key, n,
		  l->srv[0].host, l->srv[0].port);
	lookup_a(l, l->srv[0].host);
}

/* The hosts file (files before DNS): 0 with *addr, else -ENOENT. */
static int lookup_files(const struct sip_hop *hop, struct sockaddr_in *addr)
{
	struct hostent *he = NULL;
	struct in_addr ip;

	if (ares_gethostbyname_file(rs.ch, hop->host, AF_INET, &he) != ARES_SUCCESS || !he)
		return -ENOENT;
	if (he->h_addrtype != AF_INET || !he->h_addr_list[0]) {
		ares_free_hostent(he);
		return -ENOENT;
	}
	memcpy(&ip, he->h_addr_list[0], sizeof(ip));
	ares_free_hostent(he);
	*addr = addr_make(ip, hop->port ? hop->port : 5060);
	return 0;
}

int resolver_start(const struct sip_hop *hop, resolver_cb cb, void *arg)
{
	char key[DNS_CACHE_KEY_MAX], name[300];
	struct lookup *l = NULL;
	struct sockaddr_in sa;

	if (!rs.up)
		return -ENOTCONN;
	resolver_key(hop, key, sizeof(key));
	for (int i = 0; i < LOOKUPS_MAX; i++) {
		struct lookup *x = &rs.lk[i];

		if (x->used && !strcmp(x->key, key)) {
			for (int j = 0; j < x->nw; j++)
				if (x->w[j].cb == cb && x->w[j].arg == arg)
					return 0;
			if (x->nw == WAITERS_MAX)
				return -EBUSY;
			x->w[x->nw++] = (struct waiter){ cb, arg };
			return 0;
		}
		if (!x->used && !l)
			l = x;
	}
	if (!l)
		return -EBUSY;
	memset(l, 0, sizeof(*l));
	l->used = true;
	l->hop = *hop;
	snprintf(l->key, sizeof(l->key), "%s", key);
	l->ttl_s = DNS_CACHE_TTL_MAX;
	l->w[l->nw++] = (struct waiter){ cb, arg };
	log_debug(DBCLASS_DNS, "DNS: looking up %s", key);

	if (lookup_files(hop, &sa) == 0) {
		log_debug(DBCLASS_DNS, "DNS: %s found in the hosts file", key);
		l->ttl_s = FILES_TTL_S;
		finish(l, 0, &sa);
	} else if (hop->port == 0) {
		/* RFC 3263 4.2: a name without port is looked up as a SIP service. */
		snprintf(name, sizeof(name), "_sip._%s.%s",
			 hop->proto == SIP_PROTO_TCP ? "tcp" : "udp", hop->host);
		ares_query(rs.ch, name, ns_c_in, ns_t_srv, on_srv, l);
	} else {
		lookup_a(l, hop->host);
	}
	return 0;   /* l may be finished already: c-ares can answer at once */
}

/* Stands in for the waiter of a resolver_resolve_sync that gave up. */
static void on_abandoned(void *arg, const struct sip_hop *hop, int err,
			 const struct sockaddr_in *addr)
{
	(void)arg, (void)hop, (void)err, (void)addr;
}

struct sync_result {
	bool done;
	int err;
	struct sockaddr_in addr;
};

static void on_sync(void *arg, const struct sip_hop *hop, int err, const struct sockaddr_in *addr)
{
	struct sync_result *r = arg;

	(void)hop;
	r->done = true;
	r->err = err;
	if (!err)
		r->addr = *addr;
}

int resolver_resolve_sync(const struct sip_hop *hop, struct sockaddr_in *addr, int timeout_ms)
{
	struct sync_result r = { 0 };
	uint64_t deadline = evloop_now_ms() + (uint64_t)timeout_ms;
	int rc = resolver_cached(hop, addr);

	if (rc != -EAGAIN)
		return rc;
	if ((rc = resolver_start(hop, on_sync, &r)) != 0)
		return rc;
	while (!r.done && evloop_now_ms() < deadline) {
		evloop_run_once(100);
		resolver_tick();
	}
	if (!r.done) {
		/* Leave the lookup running, but nobody may call back into r. */
		for (int i = 0; i < LOOKUPS_MAX; i++)
			for (int j = 0; j < rs.lk[i].nw; j++)
				if (rs.lk[i].w[j].arg == &r)
					rs.lk[i].w[j].cb = on_abandoned;
		return -ETIMEDOUT;
	}
	if (!r.err)
		*addr = r.addr;
	return r.err;
}
