/* Conntrack engine: entries over ctnetlink; see conntrack.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmod-free-fallback/conntrack_priv.h"

#ifdef HAVE_CONNTRACK
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

struct ct_engine {
	struct mnl_socket *nl;
	unsigned portid;
	unsigned seq;
	uint32_t mark;
};

/* An entry as the kernel reported it. */
struct ct_seen {
	struct ct_flow flow;          /* original src/dst, reply src/dst */
	struct ct_counters counters;
	uint32_t mark, status;
};

static void flow_to_seen(const struct nf_conntrack *ct, struct ct_seen *e)
{
	memset(e, 0, sizeof(*e));
	e->flow.a.sin_family = e->flow.relay_a.sin_family = AF_INET;
	e->flow.b.sin_family = e->flow.relay_b.sin_family = AF_INET;
	e->flow.a.sin_addr.s_addr = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC);
	e->flow.a.sin_port = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC);
	e->flow.relay_a.sin_addr.s_addr = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST);
	e->flow.relay_a.sin_port = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST);
	e->flow.b.sin_addr.s_addr = nfct_get_attr_u32(ct, ATTR_REPL_IPV4_SRC);
	e->flow.b.sin_port = nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC);
	e->flow.relay_b.sin_addr.s_addr = nfct_get_attr_u32(ct, ATTR_REPL_IPV4_DST);
	e->flow.relay_b.sin_port = nfct_get_attr_u16(ct, ATTR_REPL_PORT_DST);
	e->mark = nfct_get_attr_u32(ct, ATTR_MARK);
	e->status = nfct_get_attr_u32(ct, ATTR_STATUS);
	e->counters.timeout_s = nfct_get_attr_u32(ct, ATTR_TIMEOUT);
	/* Absent without nf_conntrack_acct: then 0. */
	e->counters.packets[0] = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS);
	e->counters.bytes[0] = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES);
	e->counters.packets[1] = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS);
	e->counters.bytes[1] = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
}

static bool is_udp4(const struct nf_conntrack *ct)
{
	return nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) == AF_INET &&
	       nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO) == IPPROTO_UDP;
}

/* A tuple-only object: enough for the kernel to find an entry. */
static struct nf_conntrack *tuple_ct(const struct sockaddr_in *src, const struct sockaddr_in *dst)
{
	struct nf_conntrack *ct = nfct_new();

	if (!ct)
		return NULL;
	nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, AF_INET);
	nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, src->sin_addr.s_addr);
	nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, dst->sin_addr.s_addr);
	nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, IPPROTO_UDP);
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, src->sin_port);
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, dst->sin_port);
	return ct;
}

/* One ctnetlink request and its answers: each message of an answer goes
 * to cb (may be NULL). Returns 0 or -errno (the kernel's error). */
static int request(struct ct_engine *ce, uint8_t type, uint16_t flags,
		   const struct nf_conntrack *ct, const struct nfct_filter_dump *filter,
		   mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfh;
	unsigned seq = ++ce->seq;
	ssize_t n;
	int rc;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	/* An ACK ends every answer but a dump's (which ends with DONE): a GET
	 * answers one message, flagged MULTI, and nothing after it. (NLM_F_DUMP
	 * is two bits, one of which NLM_F_EXCL shares.) */
	nlh->nlmsg_flags = NLM_F_REQUEST | flags |
			   ((flags & NLM_F_DUMP) == NLM_F_DUMP ? 0 : NLM_F_ACK);
	nlh->nlmsg_seq = seq;
	nfh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	nfh->nfgen_family = AF_INET;
	nfh->version = NFNETLINK_V0;
	nfh->res_id = 0;
	if (ct && nfct_nlmsg_build(nlh, ct) < 0)
		return -EINVAL;
	if (filter && nfct_nlmsg_build_filter(nlh, filter) < 0)
		return -EINVAL;
	if (mnl_socket_sendto(ce->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(ce->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, ce->portid, cb, data);
		/* A late answer to an earlier request that timed out: skip it. */
		if (rc < 0 && errno == EPROTO)   /* libmnl: sequence mismatch */
			rc = MNL_CB_OK;
	} while (rc > 0);
	return rc < 0 ? -errno : 0;
}

struct collect {
	struct ct_seen *v;
	size_t n, cap;
	uint32_t mark;            /* 0 = any */
};

static int collect_cb(const struct nlmsghdr *nlh, void *data)
{
	struct collect *c = data;
	struct nf_conntrack *ct = nfct_new();
	struct ct_seen e;

	if (!ct)
		return MNL_CB_ERROR;
	if (nfct_nlmsg_parse(nlh, ct) < 0 || !is_udp4(ct)) {
		nfct_destroy(ct);
		return MNL_CB_OK;
	}
	flow_to_seen(ct, &e);
	nfct_destroy(ct);
	if (c->mark && e.mark != c->mark)
		return MNL_CB_OK;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct ct_seen *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return MNL_CB_ERROR;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = e;
	return MNL_CB_OK;
}

/* The entry holding tuple src -> dst (either direction), anybody's. */
static int lookup(struct ct_engine *ce, const struct sockaddr_in *src,
		  const struct sockaddr_in *dst, struct ct_seen *out)
{
	struct nf_conntrack *ct = tuple_ct(src, dst);
	struct collect c = { 0 };
	int rc;

	if (!ct)
		return -ENOMEM;
	rc = request(ce, IPCTNL_MSG_CT_GET, 0, ct, NULL, collect_cb, &c);
	nfct_destroy(ct);
	if (rc == 0 && c.n == 0)
		rc = -ENOENT;
	if (rc == 0)
		*out = c.v[0];
	free(c.v);
	return rc;
}

int ct_tuple_exists(struct ct_engine *ce, const struct sockaddr_in *src,
		    const struct sockaddr_in *dst)
{
	struct ct_seen e;
	int rc = lookup(ce, src, dst, &e);

	return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

int ct_tuple_delete(struct ct_engine *ce, const struct sockaddr_in *src,
		    const struct sockaddr_in *dst)
{
	struct nf_conntrack *ct = tuple_ct(src, dst);
	int rc;

	if (!ct)
		return -ENOMEM;
	/* Always with a tuple: a delete request without one flushes the table. */
	rc = request(ce, IPCTNL_MSG_CT_DELETE, 0, ct, NULL, NULL, NULL);
	nfct_destroy(ct);
	return rc;
}

static bool same_addr(const struct sockaddr_in *x, const struct sockaddr_in *y)
{
	return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
}

/* e is our entry for f, rewriting as f says. */
static bool seen_is(const struct ct_engine *ce, const struct ct_seen *e, const struct ct_flow *f)
{
	return e->mark == ce->mark && (e->status & IPS_NAT_MASK) == IPS_NAT_MASK &&
	       same_addr(&e->flow.a, &f->a) && same_addr(&e->flow.relay_a, &f->relay_a) &&
	       same_addr(&e->flow.b, &f->b) && same_addr(&e->flow.relay_b, &f->relay_b);
}

int ct_engine_open(uint32_t mark, struct ct_engine **out, char *why, size_t why_len)
{
	struct ct_engine *ce;
	int err;

	if (!mark) {
		snprintf(why, why_len, "conntrack mark 0 would claim every unmarked entry");
		return -EINVAL;
	}
	ce = calloc(1, sizeof(*ce));
	if (!ce)
		return -ENOMEM;
	ce->mark = mark;
	ce->seq = (unsigned)time(NULL);
	ce->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!ce->nl || mnl_socket_bind(ce->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		snprintf(why, why_len, "cannot open a ctnetlink socket (%s)", strerror(err));
		ct_engine_close(ce);
		return -err;
	}
	ce->portid = mnl_socket_get_portid(ce->nl);
	/* The event loop must never hang on the kernel: every answer comes
	 * within the request's system call, so a second is plenty. */
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(mnl_socket_get_fd(ce->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*out = ce;
	return 0;
}

void ct_engine_close(struct ct_engine *ce)
{
	if (!ce)
		return;
	if (ce->nl)
		mnl_socket_close(ce->nl);
	free(ce);
}

static int create(struct ct_engine *ce, const struct ct_flow *f, uint32_t timeout_s)
{
	struct nf_conntrack *ct = tuple_ct(&f->a, &f->relay_a);
	int rc;

	if (!ct)
		return -ENOMEM;
	/* The kernel wants a reply tuple too: the inverted original, from
	 * which it computes the real one with the NAT bindings below, setting
	 * the entry's SRC_NAT and DST_NAT bits, without which nothing is
	 * rewritten. A reply tuple given as the final one (B -> relay_b)
	 * leaves NAT nothing to change: no bits, no rewrite, and packets reach
	 * the local socket. */
	nfct_setobjopt(ct, NFCT_SOPT_SETUP_REPLY);
	nfct_set_attr_u32(ct, ATTR_DNAT_IPV4, f->b.sin_addr.s_addr);
	nfct_set_attr_u16(ct, ATTR_DNAT_PORT, f->b.sin_port);
	nfct_set_attr_u32(ct, ATTR_SNAT_IPV4, f->relay_b.sin_addr.s_addr);
	nfct_set_attr_u16(ct, ATTR_SNAT_PORT, f->relay_b.sin_port);
	nfct_set_attr_u32(ct, ATTR_TIMEOUT, timeout_s);
	nfct_set_attr_u32(ct, ATTR_MARK, ce->mark);
	/* ASSURED: not an early-drop victim when the table fills up.
	 * SEEN_REPLY: packets renew it for the UDP "stream" timeout. */
	nfct_set_attr_u32(ct, ATTR_STATUS, IPS_ASSURED | IPS_SEEN_REPLY);
	rc = request(ce, IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, ct, NULL,
		     NULL, NULL);
	nfct_destroy(ct);
	return rc;
}

int ct_engine_put(struct ct_engine *ce, const struct ct_flow *f, uint32_t timeout_s)
{
	struct ct_seen e;
	int rc = lookup(ce, &f->a, &f->relay_a, &e);

	if (rc == 0 && seen_is(ce, &e, f))
		return 1;
	/* The relay's own flows hold these tuples as automatic entries (its
	 * sockets received from A and sent to B): they go. A packet may bring
	 * one back between delete and create, hence the retries. */
	for (int attempt = 0; attempt < 3; attempt++) {
		ct_tuple_delete(ce, &f->a, &f->relay_a);
		ct_tuple_delete(ce, &f->b, &f->relay_b);
		rc = create(ce, f, timeout_s);
		if (rc != -EEXIST)
			break;
	}
	if (rc)
		return rc;
	/* NAT may have picked other ports if ours were taken: not our flow. */
	if (lookup(ce, &f->a, &f->relay_a, &e) == 0 && !seen_is(ce, &e, f)) {
		ct_tuple_delete(ce, &f->a, &f->relay_a);
		return -EADDRINUSE;
	}
	return 0;
}

int ct_engine_get(struct ct_engine *ce, const struct ct_flow *f, struct ct_counters *c)
{
	struct ct_seen e;
	int rc = lookup(ce, &f->a, &f->relay_a, &e);

	if (rc)
		return rc;
	if (!seen_is(ce, &e, f))
		return -ENOENT;
	*c = e.counters;
	return 0;
}

int ct_engine_del(struct ct_engine *ce, const struct ct_flow *f)
{
	struct ct_seen e;
	int rc = lookup(ce, &f->a, &f->relay_a, &e);

	if (rc)
		return rc;
	if (e.mark != ce->mark)
		return -ENOENT;   /* not ours: leave it */
	return ct_tuple_delete(ce, &f->a, &f->relay_a);
}

static int dump_ours(struct ct_engine *ce, struct collect *c)
{
	struct nfct_filter_dump *filter = nfct_filter_dump_create();
	struct nfct_filter_dump_mark m = { .val = ce->mark, .mask = 0xffffffffu };
	int rc;

	if (!filter)
		return -ENOMEM;
	/* The kernel filters by mark; collect_cb checks again (older kernels). */
	nfct_filter_dump_set_attr(filter, NFCT_FILTER_DUMP_MARK, &m);
	nfct_filter_dump_set_attr_u8(filter, NFCT_FILTER_DUMP_L3NUM, AF_INET);
	c->mark = ce->mark;
	rc = request(ce, IPCTNL_MSG_CT_GET, NLM_F_DUMP, NULL, filter, collect_cb, c);
	nfct_filter_dump_destroy(filter);
	return rc;
}

int ct_engine_foreach(struct ct_engine *ce, ct_engine_cb cb, void *arg)
{
	struct collect c = { 0 };
	int rc = dump_ours(ce, &c);

	/* Called after the dump: cb may send requests of its own. */
	for (size_t i = 0; rc == 0 && i < c.n; i++)
		rc = cb(&c.v[i].flow, &c.v[i].counters, arg);
	free(c.v);
	return rc;
}

int ct_engine_purge(struct ct_engine *ce, bool (*keep)(const struct ct_flow *f, void *arg),
		    void *arg)
{
	struct collect c = { 0 };
	int rc = dump_ours(ce, &c), n = 0;

	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		if (keep && keep(&c.v[i].flow, arg))
			continue;
		if (ct_tuple_delete(ce, &c.v[i].flow.a, &c.v[i].flow.relay_a) == 0)
			n++;
	}
	free(c.v);
	return rc ? rc : n;
}

#else /* !HAVE_CONNTRACK */

int ct_engine_open(uint32_t mark, struct ct_engine **out, char *why, size_t why_len)
{
	(void)mark;
	(void)out;
	snprintf(why, why_len, "sipmasq was built without libnetfilter_conntrack");
	return -EOPNOTSUPP;
}

void ct_engine_close(struct ct_engine *ce) { (void)ce; }

int ct_engine_put(struct ct_engine *ce, const struct ct_flow *f, uint32_t timeout_s)
{
	(void)ce;
	(void)f;
	(void)timeout_s;
	return -EOPNOTSUPP;
}

int ct_engine_get(struct ct_engine *ce, const struct ct_flow *f, struct ct_counters *c)
{
	(void)ce;
	(void)f;
	(void)c;
	return -EOPNOTSUPP;
}

int ct_engine_del(struct ct_engine *ce, const struct ct_flow *f)
{
	(void)ce;
	(void)f;
	return -EOPNOTSUPP;
}

int ct_engine_foreach(struct ct_engine *ce, ct_engine_cb cb, void *arg)
{
	(void)ce;
	(void)cb;
	(void)arg;
	return -EOPNOTSUPP;
}

int ct_engine_purge(struct ct_engine *ce, bool (*keep)(const struct ct_flow *f, void *arg),
		    void *arg)
{
	(void)ce;
	(void)keep;
	(void)arg;
	return -EOPNOTSUPP;
}

int ct_tuple_exists(struct ct_engine *ce, const struct sockaddr_in *src,
		    const struct sockaddr_in *dst)
{
	(void)ce;
	(void)src;
	(void)dst;
	return -EOPNOTSUPP;
}

int ct_tuple_delete(struct ct_engine *ce, const struct sockaddr_in *src,
		    const struct sockaddr_in *dst)
{
	(void)ce;
	(void)src;
	(void)dst;
	return -EOPNOTSUPP;
}

#endif
