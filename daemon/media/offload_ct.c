/* The conntrack tier of offload; see offload_ct.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/addr.h"
#include "daemon/base/evloop.h"
#include "daemon/base/log.h"
#include "daemon/media/offload_ct.h"
#include "daemon/media/offload_node.h"
#include "kmod-free-fallback/conntrack.h"

/* Offload state of one stream, hung on media_stream.engine_priv. */
struct ct_stream {
	struct offload_node node;        /* first: the stream, the list of offloaded ones */
	struct ct_flow flow[2];          /* [0 = RTP, 1 = RTCP] */
	bool on[2];                      /* flow[i] is installed */
};

static struct {
	struct ct_engine *ce;
	uint32_t timeout_s;              /* rtp_timeout: an entry's life before its first packet */
	struct offload_node *list;
} ct;

static void seen_reset(struct media_stream *s, unsigned rtcp)
{
	for (int side = 0; side < 2; side++)
		s->leg[side].kernel_seen[rtcp][0] = s->leg[side].kernel_seen[rtcp][1] = 0;
}

/* Whether flow[rtcp] is installed; while it is, the relay forwards none
 * of that kind (media.h, no_relay_tx: its copies would clash). */
static void set_on(struct ct_stream *o, unsigned rtcp, bool on)
{
	o->on[rtcp] = on;
	o->node.s->leg[MEDIA_PRIVATE].no_relay_tx[rtcp] = on;
	o->node.s->leg[MEDIA_PUBLIC].no_relay_tx[rtcp] = on;
}

/* Move what the kernel forwarded since the last fold into the legs: the
 * original direction came from the private side, the reply from the
 * public side. Returns ct_engine_get()'s result. */
static int flow_fold(struct ct_stream *o, unsigned rtcp)
{
	struct ct_counters c;
	int rc;

	if (!o->on[rtcp])
		return 0;
	rc = ct_engine_get(ct.ce, &o->flow[rtcp], &c);
	if (rc)
		return rc;
	for (int side = 0; side < 2; side++) {
		struct media_leg *in = &o->node.s->leg[side];
		uint64_t *seen = in->kernel_seen[rtcp];

		if (c.packets[side] > seen[0] && c.bytes[side] >= seen[1]) {
			offload_leg_credit(in, c.packets[side] - seen[0], c.bytes[side] - seen[1]);
			/* Conntrack keeps no last-seen time: a counter that moved
			 * since the last fold (a second ago) is as close as it gets. */
			in->last_rx_ms = evloop_now_ms();
		}
		seen[0] = c.packets[side];
		seen[1] = c.bytes[side];
	}
	return 0;
}

static void flow_remove(struct ct_stream *o, unsigned rtcp)
{
	if (!o->on[rtcp])
		return;
	flow_fold(o, rtcp);
	ct_engine_del(ct.ce, &o->flow[rtcp]);
	seen_reset(o->node.s, rtcp);
	set_on(o, rtcp, false);
}

/* Install, move or remove the entry of one kind (RTP/RTCP) of a stream. */
static void flow_update(struct ct_stream *o, unsigned rtcp)
{
	struct media_stream *s = o->node.s;
	const struct media_leg *a = &s->leg[MEDIA_PRIVATE], *b = &s->leg[MEDIA_PUBLIC];
	struct ct_flow f = {
		.a = rtcp ? a->peer_rtcp : a->peer,
		.relay_a = addr_port_plus(&a->local, rtcp),
		.b = rtcp ? b->peer_rtcp : b->peer,
		.relay_b = addr_port_plus(&b->local, rtcp),
	};
	/* One entry carries both directions, and its reply tuple admits B's
	 * source: both parties must have been latched by the relay. */
	bool want = (rtcp ? a->rtcp_latched && b->rtcp_latched : a->latched && b->latched) &&
		    addr_is_endpoint(&f.a) && addr_is_endpoint(&f.b);
	char x[ADDR_STRLEN], y[ADDR_STRLEN];
	int rc;

	if (o->on[rtcp] && (!want || memcmp(&f, &o->flow[rtcp], sizeof(f))))
		flow_remove(o, rtcp);
	if (!want || o->on[rtcp])
		return;
	rc = ct_engine_put(ct.ce, &f, ct.timeout_s);
	if (rc < 0) {
		log_ratelimited("offload-ct-put", 10, LOG_WARNING,
				"conntrack engine: cannot offload a stream (%s): it stays in userspace",
				strerror(-rc));
		return;
	}
	if (rc == 0)
		seen_reset(s, rtcp);   /* a new entry counts from zero */
	log_debug(DBCLASS_RTP, "offloaded %s to conntrack: %s -> relay %u / relay %u <- %s",
		  rtcp ? "RTCP" : "RTP", addr_str(&f.a, x), ntohs(f.relay_a.sin_port),
		  ntohs(f.relay_b.sin_port), addr_str(&f.b, y));
	o->flow[rtcp] = f;
	set_on(o, rtcp, true);
}

static struct ct_stream *stream_of(struct media_stream *s, bool create)
{
	return offload_node_of(s, &ct.list, sizeof(struct ct_stream), create);
}

static void stream_free(struct ct_stream *o)
{
	offload_node_free(&ct.list, &o->node);
}

void offload_ct_event(struct media_stream *s, enum media_event ev)
{
	struct ct_stream *o = stream_of(s, ev == MEDIA_EV_PEERS);

	if (!o)
		return;
	for (unsigned rtcp = 0; rtcp < 2; rtcp++) {
		if (ev == MEDIA_EV_CLOSING)
			flow_remove(o, rtcp);
		else
			flow_update(o, rtcp);
	}
	if (ev == MEDIA_EV_CLOSING)
		stream_free(o);
}

void offload_ct_stream_sync(struct media_stream *s)
{
	struct ct_stream *o = s && ct.ce ? s->engine_priv : NULL;

	for (unsigned rtcp = 0; o && rtcp < 2; rtcp++) {
		if (flow_fold(o, rtcp) != -ENOENT)
			continue;
		/* Expired (silence longer than the kernel's UDP stream timeout)
		 * or deleted by somebody: the stream lives, so the entry too. */
		log_info("conntrack engine: %s entry of relay port %u was gone: created again",
			 rtcp ? "RTCP" : "RTP", ntohs(o->flow[rtcp].relay_a.sin_port));
		set_on(o, rtcp, false);
		seen_reset(s, rtcp);
		flow_update(o, rtcp);
	}
}

void offload_ct_sync(void)
{
	for (struct offload_node *n = ct.list; n; n = n->next)
		offload_ct_stream_sync(n->s);
}

static bool owned(const struct ct_flow *f, void *arg)
{
	(void)arg;
	for (struct offload_node *n = ct.list; n; n = n->next) {
		const struct ct_stream *o = (const struct ct_stream *)n;

		for (unsigned rtcp = 0; rtcp < 2; rtcp++)
			if (o->on[rtcp] && !memcmp(&o->flow[rtcp].a, &f->a, sizeof(f->a)) &&
			    !memcmp(&o->flow[rtcp].relay_a, &f->relay_a, sizeof(f->relay_a)))
				return true;
	}
	return false;
}

void offload_ct_purge_stale(void)
{
	int n;

	if (!ct.ce)
		return;
	n = ct_engine_purge(ct.ce, owned, NULL);
	if (n > 0)
		log_notice("conntrack engine: %d stale entries of a previous daemon removed", n);
}

void offload_ct_purge_leftovers(const struct sipmasq_config *cfg)
{
	struct ct_engine *ce;
	char why[128];
	int n;

	if (ct_engine_open(cfg->rtp_conntrack_mark, &ce, why, sizeof(why)) != 0)
		return;
	n = ct_engine_purge(ce, NULL, NULL);
	if (n > 0)
		log_notice("conntrack engine: %d entries of an earlier sipmasq (mark 0x%x) removed: "
			   "this one relays with another engine", n, cfg->rtp_conntrack_mark);
	ct_engine_close(ce);
}

int offload_ct_init(const struct sipmasq_config *cfg, char *why, size_t why_len)
{
	const char *ifs[2] = { cfg->if_inbound, cfg->if_outbound };
	int rc;

	memset(&ct, 0, sizeof(ct));
	ct.timeout_s = cfg->rtp_timeout;
	rc = ct_engine_open(cfg->rtp_conntrack_mark, &ct.ce, why, why_len);
	if (rc)
		return rc;
	rc = ct_engine_check(ct.ce, ifs, 2, why, why_len);
	if (rc) {
		ct_engine_close(ct.ce);
		ct.ce = NULL;
	}
	return rc;
}

void offload_ct_fini(bool handover)
{
	if (!ct.ce)
		return;
	while (ct.list) {
		struct ct_stream *o = (struct ct_stream *)ct.list;

		for (unsigned rtcp = 0; rtcp < 2 && !handover; rtcp++)
			flow_remove(o, rtcp);
		stream_free(o);
	}
	ct_engine_close(ct.ce);
	ct.ce = NULL;
	if (handover)
		log_notice("conntrack entries left in place for the next sipmasq (hitless restart)");
}

bool offload_ct_active(void)
{
	return ct.ce != NULL;
}

bool offload_ct_stream_in_kernel(const struct media_stream *s)
{
	const struct ct_stream *o = s && ct.ce ? s->engine_priv : NULL;

	return o && (o->on[0] || o->on[1]);
}
