/* Offload of latched streams to the kernel engine; see offload.h. */
#include "autoconfig.h"

#include <errno.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/base/addr.h"
#include "daemon/base/log.h"
#include "daemon/media/offload.h"
#include "daemon/media/offload_node.h"
#include "daemon/media/offload_ct.h"

/* The eBPF tiers do not serve (or were not asked for): rtp_engine auto and
 * conntrack go on to the conntrack tier, then userspace; any other engine
 * removes the conntrack entries an earlier daemon may have left. */
static void after_ebpf(const struct sipmasq_config *cfg)
{
	char why[512] = "";

	if (cfg->rtp_engine != RTP_ENGINE_AUTO && cfg->rtp_engine != RTP_ENGINE_CONNTRACK) {
		offload_ct_purge_leftovers(cfg);
		return;
	}
	if (offload_ct_init(cfg, why, sizeof(why)) != 0) {
		log_warn("rtp engine: userspace (conntrack engine unavailable: %s)", why);
		return;
	}
	log_notice("rtp engine: conntrack (netfilter entries with NAT, mark 0x%x)",
		   cfg->rtp_conntrack_mark);
	/* Not seen by the start-up probe (it runs on loopback). */
	log_notice("conntrack engine: relayed media passes the FORWARD chain: a firewall "
		   "that drops forwarded traffic must accept ct mark 0x%x (docs/fast-path.md)",
		   cfg->rtp_conntrack_mark);
	media_set_hook(offload_ct_event);
}

#ifdef HAVE_BPF
#include <net/if.h>

#include "daemon/base/iface.h"
#include "daemon/kernel/kernel_engine.h"

/* One kernel entry: a direction (from side) and kind (RTP/RTCP) of a stream.
 * What was already folded into the leg is in leg->kernel_seen[kind]. */
struct flow {
	struct smq_flow_key key;
	bool on;                         /* installed in smq_streams */
	unsigned rtcp;                   /* kind: 0 RTP, 1 RTCP */
};

/* Seconds without a forwarded packet after which a kernel entry stops
 * forwarding (smq_flow_action.idle_timeout_s): what a dead daemon leaves
 * behind dies out. A live call that fell silent that long (hold without
 * RTP) is relayed by userspace when it speaks again, and its entries are
 * renewed at the next tick. */
#define OFFLOAD_IDLE_TIMEOUT_S 30u

/* Offload state of one stream, hung on media_stream.engine_priv. */
struct offloaded {
	struct offload_node node;        /* first: the stream, the list of offloaded ones */
	struct flow flow[2][2];          /* [from side][0 = RTP, 1 = RTCP] */
	uint64_t user_fwd[2];            /* [from side] packets userspace had forwarded at
	                                  * the last tick (fwd_packets - kernel_packets) */
};

static struct {
	struct kernel_engine *ke;
	enum kernel_engine_mode mode[2]; /* per side: how its ingress is hooked */
	int ifindex[2];
	char ifname[2][IF_NAMESIZE];
	int want;                        /* rtp_engine */
	bool xdp_veth;                   /* rtp_xdp_veth */
	struct offload_node *list;
} ol;

/* Move what the kernel forwarded since the last fold into the leg. When
 * userspace forwarded packets of this side since the last tick
 * (user_moved) while the entry was idle for half its timeout, the kernel
 * passed them up (idle_expired, or about to): renew the entry. */
static void flow_fold_renew(struct media_leg *in, struct flow *fl, bool user_moved)
{
	uint64_t *seen = in->kernel_seen[fl->rtcp];
	struct smq_flow_action act;
	struct timespec ts;

	if (!fl->on || kernel_engine_stream_get(ol.ke, &fl->key, &act) != 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (user_moved && act.idle_timeout_s &&
	    (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - act.counters.last_seen_ns >
	    (uint64_t)act.idle_timeout_s * 500000000u)
		kernel_engine_stream_put(ol.ke, &fl->key, &act);
	if (act.counters.packets >= seen[0] && act.counters.bytes >= seen[1])
		offload_leg_credit(in, act.counters.packets - seen[0], act.counters.bytes - seen[1]);
	seen[0] = act.counters.packets;
	seen[1] = act.counters.bytes;
	/* bpf_ktime_get_ns() and evloop_now_ms() are both CLOCK_MONOTONIC. */
	if (act.counters.last_seen_ns / 1000000u > in->last_rx_ms)
		in->last_rx_ms = act.counters.last_seen_ns / 1000000u;
}

static void flow_fold(struct media_leg *in, struct flow *fl)
{
	flow_fold_renew(in, fl, false);
}

static void flow_remove(struct media_leg *in, struct flow *fl)
{
	if (!fl->on)
		return;
	flow_fold(in, fl);
	kernel_engine_stream_del(ol.ke, &fl->key);
	in->kernel_seen[fl->rtcp][0] = in->kernel_seen[fl->rtcp][1] = 0;
	fl->on = false;
}

/* Install, move or remove the entry of one direction and kind. */
static void flow_update(struct offloaded *o, enum media_side from, unsigned rtcp)
{
	struct media_stream *s = o->node.s;
	struct media_leg *in = &s->leg[from], *out = &s->leg[!from];
	struct flow *fl = &o->flow[from][rtcp];
	const struct sockaddr_in *src = rtcp ? &in->peer_rtcp : &in->peer;
	const struct sockaddr_in *dst = rtcp ? &out->peer_rtcp : &out->peer;
	bool latched = rtcp ? in->rtcp_latched : in->latched;
	struct sockaddr_in relay_in = addr_port_plus(&in->local, rtcp);
	struct sockaddr_in relay_out = addr_port_plus(&out->local, rtcp);
	/* Native XDP redirects only to interfaces that take XDP frames: toward
	 * an egress that is not native XDP too, every packet would be passed
	 * up anyway (no_tx_port), so leave that direction to userspace. */
	bool native_dead_end = ol.mode[from] == KE_MODE_XDP_NATIVE &&
			       ol.mode[!from] != KE_MODE_XDP_NATIVE &&
			       ol.ifindex[from] != ol.ifindex[!from];
	bool want = ol.mode[from] != KE_MODE_NONE && !native_dead_end && latched && addr_is_endpoint(dst) &&
		    media_leg_may_send(s, (enum media_side)!from, rtcp);
	struct smq_flow_key key;
	struct smq_flow_action act;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	int rc;

	fl->rtcp = rtcp;
	kernel_engine_key_ipv4(&key, &relay_in, src);
	if (fl->on && (!want || memcmp(&key, &fl->key, sizeof(key))))
		flow_remove(in, fl);
	if (!want)
		return;
	kernel_engine_action_ipv4(&act, &relay_out, dst, ol.ifindex[from], ol.ifindex[!from],
				  rtcp ? SMQ_FLOW_F_RTCP : 0,
				  ((uint64_t)ntohs(s->leg[0].local.sin_port) << 16) |
				  ntohs(s->leg[1].local.sin_port));
	act.idle_timeout_s = OFFLOAD_IDLE_TIMEOUT_S;
	rc = kernel_engine_stream_put(ol.ke, &key, &act);
	if (rc) {
		log_ratelimited("offload-put", 10, LOG_WARNING,
				"kernel engine: cannot offload a stream (%s): it stays in userspace",
				strerror(-rc));
		return;
	}
	if (!fl->on)
		log_debug(DBCLASS_RTP, "offloaded %s %s: %s -> relay %u -> %s",
			  from == MEDIA_PRIVATE ? "private->public" : "public->private",
			  rtcp ? "RTCP" : "RTP", addr_str(src, a), ntohs(relay_in.sin_port),
			  addr_str(dst, b));
	fl->key = key;
	fl->on = true;
	fl->rtcp = rtcp;
}

static struct offloaded *offloaded_of(struct media_stream *s, bool create)
{
	return offload_node_of(s, &ol.list, sizeof(struct offloaded), create);
}

static void offloaded_free(struct offloaded *o)
{
	offload_node_free(&ol.list, &o->node);
}

static void on_media_event(struct media_stream *s, enum media_event ev)
{
	struct offloaded *o = offloaded_of(s, ev == MEDIA_EV_PEERS);

	if (!o)
		return;
	for (int from = 0; from < 2; from++) {
		for (unsigned rtcp = 0; rtcp < 2; rtcp++) {
			if (ev == MEDIA_EV_CLOSING)
				flow_remove(&s->leg[from], &o->flow[from][rtcp]);
			else
				flow_update(o, (enum media_side)from, rtcp);
		}
	}
	if (ev == MEDIA_EV_CLOSING)
		offloaded_free(o);
}

/* IPv4 forwarding on ifname: bpf_fib_lookup() refuses to route packets
 * that came in on an interface that does not forward (FWD_DISABLED), so the
 * fast path would pass every packet up. A host in front of a NAT router is
 * often a plain host with forwarding off. */
static bool iface_forwards(const char *ifname)
{
	char path[96], v = '0';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	f = fopen(path, "r");
	if (!f)
		return true;   /* can't tell: let the stats show it */
	if (fread(&v, 1, 1, f) != 1)
		v = '1';
	fclose(f);
	return v != '0';
}

/* ifname is an Ethernet device (ARPHRD_ETHER: a MAC header XDP can parse
 * and rewrite); true when unknown, so that a missing /sys never hides the
 * fast path (attaching then says what is wrong). */
static bool iface_is_ethernet(const char *ifname)
{
	char path[96];
	int type = ARPHRD_ETHER;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/type", ifname);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (fscanf(f, "%d", &type) != 1)
		type = ARPHRD_ETHER;
	fclose(f);
	return type == ARPHRD_ETHER;
}

/* The mode to use on ifname for rtp_engine `want`, attached; KE_MODE_NONE
 * when the kernel can't (then that interface's traffic stays in userspace). */
static enum kernel_engine_mode attach(const char *ifname, int want, bool xdp_veth)
{
	enum kernel_engine_mode chosen = KE_MODE_NONE;
	char why[512] = "", drv[32] = "";
	int rc;

	if (!iface_forwards(ifname)) {
		log_warn("rtp engine on %s: userspace: IPv4 forwarding is off there "
			 "(net.ipv4.conf.%s.forwarding = 0) and the kernel fast path routes "
			 "like a router; set it to 1 to relay media in the kernel", ifname, ifname);
		return KE_MODE_NONE;
	}

	if ((want == RTP_ENGINE_AUTO || want == RTP_ENGINE_XDP) && !iface_is_ethernet(ifname)) {
		/* XDP sees frames from the MAC header on: an L3 device (ppp0,
		 * wg0, tun) has none, and a redirect there would leave one. */
		log_notice("rtp engine on %s: skipping XDP: not an Ethernet interface", ifname);
		want = RTP_ENGINE_TC;
	}
	if ((want == RTP_ENGINE_AUTO || (want == RTP_ENGINE_XDP && !xdp_veth)) &&
	    iface_driver(ifname, drv, sizeof(drv)) == 0 && !strcmp(drv, "veth")) {
		/* Packets a local sender hands to a veth carry a partial UDP
		 * checksum (CHECKSUM_PARTIAL) that XDP cannot see or complete,
		 * and frames redirected into a veth whose peer has no NAPI are
		 * dropped while the counters say forwarded; tc has neither
		 * trap and is as fast as XDP on an skb anyway. Forcing xdp does
		 * not change that unless the operator vouches for the peers
		 * (rtp_xdp_veth): it is refused here, loudly. */
		if (want == RTP_ENGINE_XDP)
			log_err("rtp engine on %s: rtp_engine = xdp refused on a veth (partial "
				"checksums, no NAPI on the peer: media would be lost; see "
				"rtp_xdp_veth); using tc", ifname);
		else
			log_notice("rtp engine on %s: skipping XDP: veth interfaces pass partial "
				   "checksums XDP cannot complete", ifname);
		want = RTP_ENGINE_TC;
	}
	if (want == RTP_ENGINE_TC) {
		rc = kernel_engine_attach(ol.ke, ifname, KE_MODE_TC, why, sizeof(why));
		chosen = rc ? KE_MODE_NONE : KE_MODE_TC;
	} else if (want == RTP_ENGINE_XDP_GENERIC) {
		rc = kernel_engine_attach(ol.ke, ifname, KE_MODE_XDP_GENERIC, why, sizeof(why));
		chosen = rc ? KE_MODE_NONE : KE_MODE_XDP_GENERIC;
	} else if (want == RTP_ENGINE_XDP) {
		rc = kernel_engine_attach(ol.ke, ifname, KE_MODE_XDP_NATIVE, why, sizeof(why));
		chosen = KE_MODE_XDP_NATIVE;
		if (rc) {
			log_warn("rtp engine on %s: XDP native failed (%s), trying tc", ifname, why);
			rc = kernel_engine_attach(ol.ke, ifname, KE_MODE_TC, why, sizeof(why));
			chosen = rc ? KE_MODE_NONE : KE_MODE_TC;
		}
	} else {
		rc = kernel_engine_attach_auto(ol.ke, ifname, &chosen, why, sizeof(why));
		if (rc)
			chosen = KE_MODE_NONE;
	}
	if (chosen == KE_MODE_NONE)
		log_warn("rtp engine on %s: userspace (kernel engine failed: %s)", ifname,
			 why[0] ? why : strerror(-rc));
	else
		log_notice("rtp engine on %s: %s%s%s%s", ifname, kernel_engine_mode_name(chosen),
			   why[0] ? " (" : "", why, why[0] ? ")" : "");
	return chosen;
}

/* The kernel engine will not run: take away what an earlier sipmasq left
 * attached and pinned, or say loudly that it still forwards. */
static void purge_leftover(const char *pin_dir, const char *because)
{
	char why[512] = "";
	int rc = kernel_engine_purge(pin_dir, why, sizeof(why));

	if (rc > 0)
		log_notice("kernel engine: removed the fast path an earlier sipmasq left in %s "
			   "(%s): every stream goes through userspace", pin_dir, because);
	else if (rc < 0)
		log_err("kernel engine: an earlier sipmasq's fast path is still attached and "
			"pinned in %s and cannot be removed (%s%s%s): it keeps forwarding old "
			"calls' media ahead of this daemon; remove it as root (ip link set IF "
			"xdp off, tc filter del dev IF ingress, rm -r %s)", pin_dir,
			strerror(-rc), why[0] ? "; " : "", why, pin_dir);
}

/* An eBPF engine is attached somewhere. */
static bool ebpf_active(void)
{
	return ol.ke && (ol.mode[0] != KE_MODE_NONE || ol.mode[1] != KE_MODE_NONE);
}

void offload_init(const struct sipmasq_config *cfg, int ifindex_priv, int ifindex_pub)
{
	struct kernel_engine_opts opts = { 0 };
	const char *names[2] = { cfg->if_inbound, cfg->if_outbound };
	unsigned range = (unsigned)cfg->rtp_port_high - cfg->rtp_port_low + 1u;
	char why[512] = "";
	int rc;

	memset(&ol, 0, sizeof(ol));
	/* Every engine checks the ingress interface: userspace sockets too. */
	media_set_ifindex(ifindex_priv, ifindex_pub);
	ol.ifindex[MEDIA_PRIVATE] = ifindex_priv;
	ol.ifindex[MEDIA_PUBLIC] = ifindex_pub;
	ol.want = cfg->rtp_engine;
	ol.xdp_veth = cfg->rtp_xdp_veth;
	/* Known whatever the engine: offload_iface_changed needs them. */
	for (int side = 0; side < 2; side++)
		snprintf(ol.ifname[side], sizeof(ol.ifname[side]), "%s", names[side]);
	if (cfg->rtp_engine == RTP_ENGINE_USERSPACE || !cfg->rtp_proxy_enable) {
		log_notice("rtp engine: userspace%s",
			   cfg->rtp_proxy_enable ? " (rtp_engine = userspace)" : "");
		purge_leftover(cfg->bpf_pin_dir, cfg->rtp_proxy_enable ? "rtp_engine = userspace"
							       : "rtp_proxy_enable = 0");
		offload_ct_purge_leftovers(cfg);
		return;
	}
	if (cfg->rtp_engine == RTP_ENGINE_CONNTRACK || !cfg->rtp_engine_bpf) {
		if (cfg->rtp_engine == RTP_ENGINE_AUTO)
			log_notice("rtp engine: skipping XDP and tc (rtp_engine_bpf = no)");
		purge_leftover(cfg->bpf_pin_dir, cfg->rtp_engine == RTP_ENGINE_CONNTRACK ?
			       "rtp_engine = conntrack" : "rtp_engine_bpf = no");
		after_ebpf(cfg);
		return;
	}
	opts.pin_dir = cfg->bpf_pin_dir;
	/* A stream takes a port pair per side and has 4 entries (RTP, RTCP,
	 * both directions): as many entries as ports in the range. */
	opts.max_entries = range < 64 ? 64 : range;
	rc = kernel_engine_open(&opts, &ol.ke, why, sizeof(why));
	if (rc) {
		log_warn("rtp engine: %s (kernel engine unavailable: %s)",
			 cfg->rtp_engine == RTP_ENGINE_AUTO ? "skipping XDP and tc" : "userspace",
			 why[0] ? why : strerror(-rc));
		ol.ke = NULL;
		purge_leftover(cfg->bpf_pin_dir, "kernel engine unavailable");
		after_ebpf(cfg);
		return;
	}
	for (int side = 0; side < 2; side++) {
		if (side == MEDIA_PUBLIC && !strcmp(names[0], names[1]))
			ol.mode[side] = ol.mode[MEDIA_PRIVATE];
		else
			ol.mode[side] = attach(names[side], cfg->rtp_engine, cfg->rtp_xdp_veth);
		/* Not used there: an earlier sipmasq's attachment must not go
		 * on forwarding on that interface. */
		if (ol.mode[side] == KE_MODE_NONE && kernel_engine_detach(ol.ke, names[side]) == 0)
			log_notice("rtp engine on %s: removed the attachment an earlier sipmasq "
				   "left there", names[side]);
	}
	if (!ebpf_active()) {
		kernel_engine_close(ol.ke, false);
		ol.ke = NULL;
		after_ebpf(cfg);
		return;
	}
	offload_ct_purge_leftovers(cfg);
	media_set_hook(on_media_event);
}

void offload_stream_adopted(struct media_stream *s)
{
	if (offload_ct_active())
		offload_ct_event(s, MEDIA_EV_PEERS);
	if (ol.ke)
		on_media_event(s, MEDIA_EV_PEERS);
}

void offload_iface_changed(enum media_side side, int ifindex)
{
	bool shared = !strcmp(ol.ifname[0], ol.ifname[1]);

	if (ol.ifindex[side] == ifindex)
		return;
	ol.ifindex[side] = ifindex;
	if (shared)
		ol.ifindex[!side] = ifindex;
	/* The userspace relay checks the ingress interface too. */
	media_set_ifindex(ol.ifindex[MEDIA_PRIVATE], ol.ifindex[MEDIA_PUBLIC]);
	if (!ol.ke)
		return;
	/* The old attachment went with the old interface: drop its pins and
	 * its TX port, attach to the new one. */
	kernel_engine_detach(ol.ke, ol.ifname[side]);
	ol.mode[side] = ifindex ? attach(ol.ifname[side], ol.want, ol.xdp_veth) : KE_MODE_NONE;
	if (shared)
		ol.mode[!side] = ol.mode[side];
	for (struct offload_node *n = ol.list; n; n = n->next)
		on_media_event(n->s, MEDIA_EV_PEERS);   /* entries forward to the new ifindex */
}

void offload_stream_sync(struct media_stream *s)
{
	struct offloaded *o = s && ol.ke ? s->engine_priv : NULL;

	offload_ct_stream_sync(s);
	for (int from = 0; o && from < 2; from++) {
		struct media_leg *in = &s->leg[from];
		uint64_t user = in->fwd_packets - in->kernel_packets;
		bool moved = user != o->user_fwd[from];

		for (unsigned rtcp = 0; rtcp < 2; rtcp++)
			flow_fold_renew(in, &o->flow[from][rtcp], moved);
		o->user_fwd[from] = in->fwd_packets - in->kernel_packets;
	}
}

void offload_sync(void)
{
	offload_ct_sync();
	for (struct offload_node *n = ol.list; n; n = n->next)
		offload_stream_sync(n->s);
}

static bool key_owned(const struct smq_flow_key *key)
{
	for (struct offload_node *n = ol.list; n; n = n->next)
		for (int i = 0; i < 4; i++) {
			const struct flow *fl = &((struct offloaded *)n)->flow[i / 2][i % 2];
			if (fl->on && !memcmp(&fl->key, key, sizeof(*key)))
				return true;
		}
	return false;
}

struct stale {
	struct smq_flow_key *keys;
	size_t n, cap;
};

static int collect_stale(const struct smq_flow_key *key, const struct smq_flow_action *act,
			 void *arg)
{
	struct stale *st = arg;

	(void)act;
	if (key_owned(key))
		return 0;
	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 64;
		struct smq_flow_key *k = realloc(st->keys, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		st->keys = k;
		st->cap = cap;
	}
	st->keys[st->n++] = *key;
	return 0;
}

void offload_purge_stale(void)
{
	struct stale st = { 0 };

	offload_ct_purge_stale();
	if (!ol.ke)
		return;
	/* Collect first: deleting while walking a hash map may skip entries. */
	kernel_engine_stream_foreach(ol.ke, collect_stale, &st);
	for (size_t i = 0; i < st.n; i++)
		kernel_engine_stream_del(ol.ke, &st.keys[i]);
	if (st.n)
		log_notice("kernel engine: %zu stale entries of a previous daemon removed", st.n);
	free(st.keys);
}

void offload_fini(bool handover)
{
	if (offload_ct_active()) {
		media_set_hook(NULL);
		offload_ct_fini(handover);
	}
	if (!ol.ke)
		return;
	media_set_hook(NULL);
	while (ol.list) {
		struct offloaded *o = (struct offloaded *)ol.list;

		for (int i = 0; i < 4 && !handover; i++)
			flow_remove(&o->node.s->leg[i / 2], &o->flow[i / 2][i % 2]);
		offloaded_free(o);
	}
	kernel_engine_close(ol.ke, handover);
	ol.ke = NULL;
	if (handover)
		log_notice("kernel engine left attached for the next sipmasq (hitless restart)");
}

unsigned offload_reasons(const char **names, uint64_t *counts, unsigned max)
{
	uint64_t all[SMQ_REASON__COUNT];
	unsigned n = 0;

	if (!ol.ke || kernel_engine_stats(ol.ke, all) != 0)
		return 0;
	for (unsigned i = 0; i < SMQ_REASON__COUNT && n < max; i++, n++) {
		names[n] = kernel_engine_reason_name(i);
		counts[n] = all[i];
	}
	return n;
}

bool offload_active(void)
{
	return offload_ct_active() || ebpf_active();
}

const char *offload_engine_name(void)
{
	if (offload_ct_active())
		return "conntrack";
	if (!ebpf_active())
		return "userspace";
	if (ol.mode[0] != ol.mode[1])
		return "mixed";
	return kernel_engine_mode_name(ol.mode[0]);
}

bool offload_stream_in_kernel(const struct media_stream *s, enum media_side from)
{
	/* engine_priv is the running engine's: the kernel's, else conntrack's. */
	const struct offloaded *o = s && ol.ke ? s->engine_priv : NULL;

	if (!ol.ke)
		return offload_ct_stream_in_kernel(s);
	return o && (o->flow[from][0].on || o->flow[from][1].on);
}

#else /* !HAVE_BPF */

#include <sys/stat.h>

/* The interfaces' indexes, for the userspace relay's ingress check. */
static int stub_ifindex[2];

void offload_iface_changed(enum media_side side, int ifindex)
{
	stub_ifindex[side] = ifindex;
	media_set_ifindex(stub_ifindex[MEDIA_PRIVATE], stub_ifindex[MEDIA_PUBLIC]);
}

void offload_init(const struct sipmasq_config *cfg, int ifindex_priv, int ifindex_pub)
{
	struct stat st;

	stub_ifindex[MEDIA_PRIVATE] = ifindex_priv;
	stub_ifindex[MEDIA_PUBLIC] = ifindex_pub;
	media_set_ifindex(ifindex_priv, ifindex_pub);
	if (cfg->rtp_engine == RTP_ENGINE_XDP || cfg->rtp_engine == RTP_ENGINE_TC)
		log_notice("rtp engine: userspace (sipmasq was built without eBPF support)");
	else if (cfg->rtp_engine == RTP_ENGINE_AUTO && cfg->rtp_proxy_enable)
		log_notice("rtp engine: skipping XDP and tc (sipmasq was built without eBPF support)");
	if (cfg->bpf_pin_dir[0] && stat(cfg->bpf_pin_dir, &st) == 0)
		log_err("kernel engine: %s exists: an earlier sipmasq built with eBPF may have "
			"left its fast path attached there, forwarding old calls' media; this "
			"build cannot remove it (rm -r %s, and detach its XDP/tc programs)",
			cfg->bpf_pin_dir, cfg->bpf_pin_dir);
	if (cfg->rtp_proxy_enable && cfg->rtp_engine != RTP_ENGINE_USERSPACE)
		after_ebpf(cfg);
	else
		offload_ct_purge_leftovers(cfg);
}

void offload_sync(void) { offload_ct_sync(); }
void offload_stream_adopted(struct media_stream *s)
{
	if (offload_ct_active())
		offload_ct_event(s, MEDIA_EV_PEERS);
}
void offload_stream_sync(struct media_stream *s) { offload_ct_stream_sync(s); }
void offload_purge_stale(void) { offload_ct_purge_stale(); }
void offload_fini(bool handover)
{
	if (offload_ct_active()) {
		media_set_hook(NULL);
		offload_ct_fini(handover);
	}
}
bool offload_active(void) { return offload_ct_active(); }
bool offload_stream_in_kernel(const struct media_stream *s, enum media_side from)
{
	(void)from;
	return offload_ct_stream_in_kernel(s);
}
unsigned offload_reasons(const char **names, uint64_t *counts, unsigned max)
{
	(void)names;
	(void)counts;
	(void)max;
	return 0;
}
const char *offload_engine_name(void)
{
	return offload_ct_active() ? "conntrack" : "userspace";
}

#endif
