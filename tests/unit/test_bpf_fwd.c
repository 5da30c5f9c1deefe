/* Golden tests of the fast path (bpf/smq_fwd.bpf.c): crafted frames through
 * the XDP and tc programs with BPF_PROG_RUN; each case checks the verdict,
 * the frame that comes out (addresses, ports, TTL, MACs, payload, and both
 * checksums recomputed from scratch), the stream's counters and the
 * per-reason statistics.
 *
 * bpf_fib_lookup() runs in the caller's network namespace, so the test
 * builds one (bpf_testenv.h): smqa 10.1.0.1/24 (the private side, where
 * frames come in) and smqb 10.2.0.1/24 (the public side), veths with fixed
 * MACs, forwarding on, and permanent neighbours for the peers. Needs root;
 * exits 77 (skip) otherwise. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon/kernel/kernel_engine.h"
#include "daemon/kernel/kernel_engine_priv.h"
#include "daemon/base/log.h"
#include "tests/unit/bpf_pkt.h"
#include "tests/unit/bpf_testenv.h"
#include "tests/unit/unit.h"

static const uint8_t mac_a[ETH_ALEN] = { 2, 0, 0, 0, 0x0a, 1 };   /* smqa */
static const uint8_t mac_b[ETH_ALEN] = { 2, 0, 0, 0, 0x0b, 1 };   /* smqb */
static const uint8_t mac_peer_b[ETH_ALEN] = { 2, 0, 0, 0, 0x0b, 2 };   /* 10.2.0.2 */
static const uint8_t mac_nat[ETH_ALEN] = { 2, 0, 0, 0, 0x0a, 9 };      /* 10.1.0.9 */

static struct kernel_engine *ke;
static int if_a, if_b;
static int xdp_fd;   /* the XDP program under test: native or generic */
static uint64_t stats_mark[SMQ_REASON__COUNT];

/* The RTP stream of the tests: 10.1.0.2:5004 -> relay 10.1.0.1:40000 is
 * forwarded as relay 10.2.0.1:40002 -> 10.2.0.2:6004. */
static const struct pkt_spec rtp_in = {
	.src = "10.1.0.2", .sport = 5004, .dst = "10.1.0.1", .dport = 40000, .ttl = 64,
};

/* Entries whose next hop fails in some way: relay ports 400x0 each. */
#define PORT_NAT        40010   /* to 10.1.0.9 on smqa: egress = ingress (XDP_TX) */
#define PORT_NO_NEIGH   40020   /* to 10.2.0.3: no neighbour entry */
#define PORT_NO_ROUTE   40030   /* to 192.0.2.1: no route */
#define PORT_MISMATCH   40040   /* entry says smqa, the route says smqb */

static void setup_net(void)
{
	int err = 0;

	err |= testenv_sh("echo 1 > /proc/sys/net/ipv4/ip_forward");
	err |= testenv_sh("ip link add smqa address 02:00:00:00:0a:01 type veth peer name smqa_p");
	err |= testenv_sh("ip link add smqb address 02:00:00:00:0b:01 type veth peer name smqb_p");
	err |= testenv_sh("ip addr add 10.1.0.1/24 dev smqa && ip addr add 10.2.0.1/24 dev smqb");
	err |= testenv_sh("for i in smqa smqa_p smqb smqb_p; do ip link set $i up; done");
	err |= testenv_sh("ip neigh replace 10.2.0.2 lladdr 02:00:00:00:0b:02 dev smqb nud permanent");
	err |= testenv_sh("ip neigh replace 10.1.0.9 lladdr 02:00:00:00:0a:09 dev smqa nud permanent");
	CHECK_INT(err, 0);
	if_a = (int)if_nametoindex("smqa");
	if_b = (int)if_nametoindex("smqb");
	CHECK(if_a > 0 && if_b > 0);
}

static struct sockaddr_in sa(const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

/* add_entry: packets to 10.1.0.1:relay_port from src:sport arriving on
 * smqa go to new_src:nsport -> new_dst:ndport via egress (0 = routed). */
static void add_entry(uint16_t relay_port, const char *src, uint16_t sport,
		      const char *new_src, uint16_t nsport, const char *new_dst, uint16_t ndport,
		      int egress)
{
	struct sockaddr_in relay = sa("10.1.0.1", relay_port), peer = sa(src, sport);
	struct sockaddr_in out_src = sa(new_src, nsport), out_dst = sa(new_dst, ndport);
	struct smq_flow_key key;
	struct smq_flow_action act;

	kernel_engine_key_ipv4(&key, &relay, &peer);
	kernel_engine_action_ipv4(&act, &out_src, &out_dst, if_a, egress, 0, relay_port);
	CHECK_INT(kernel_engine_stream_put(ke, &key, &act), 0);
}

static int get_entry(uint16_t relay_port, const char *src, uint16_t sport,
		     struct smq_flow_action *act)
{
	struct sockaddr_in relay = sa("10.1.0.1", relay_port), peer = sa(src, sport);
	struct smq_flow_key key;

	kernel_engine_key_ipv4(&key, &relay, &peer);
	return kernel_engine_stream_get(ke, &key, act);
}

static void mark(void)
{
	CHECK_INT(kernel_engine_stats(ke, stats_mark), 0);
}

/* counted: since mark(), exactly one packet was counted, for `reason`. */
#define COUNTED(reason) CHECK(counted_(reason, __LINE__))
static bool counted_(unsigned int reason, int line)
{
	uint64_t now[SMQ_REASON__COUNT];
	bool ok = kernel_engine_stats(ke, now) == 0;
	unsigned int r;

	for (r = 0; r < SMQ_REASON__COUNT; r++) {
		uint64_t d = now[r] - stats_mark[r];

		if (d != (r == reason)) {
			fprintf(stderr, "line %d: reason %s counted %llu (expected %s once)\n", line,
				kernel_engine_reason_name(r), (unsigned long long)d,
				kernel_engine_reason_name(reason));
			ok = false;
		}
	}
	return ok;
}

/* run_on: one frame through the XDP program under test (tc = false) or the
 * tc program, arriving on interface ifindex. Returns the verdict, or -1 if
 * the run itself failed. */
static int run_on(bool tc, int ifindex, struct pkt *in, struct pkt *out)
{
	struct xdp_md xctx = { .data_end = (__u32)in->len, .ingress_ifindex = (__u32)ifindex };
	struct __sk_buff sctx = { .ifindex = (__u32)ifindex, .ingress_ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b, .data_size_in = (__u32)in->len,
		    .data_out = out->b, .data_size_out = sizeof(out->b), .repeat = 1);
	int err;

	memset(out, 0, sizeof(*out));
	if (tc) {
		o.ctx_in = &sctx;
		o.ctx_size_in = sizeof(sctx);
	} else {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	}
	err = bpf_prog_test_run_opts(tc ? ke->tc_prog_fd : xdp_fd, &o);
	if (err) {
		fprintf(stderr, "BPF_PROG_RUN (%s): %s\n", tc ? "tc" : "xdp", strerror(-err));
		return -1;
	}
	out->len = o.data_size_out;
	return (int)o.retval;
}

/* run: run_on() smqa, where every entry expects its packets. */
static int run(bool tc, struct pkt *in, struct pkt *out)
{
	return run_on(tc, if_a, in, out);
}

/* passed_unchanged: the verdict is "to the stack" and not a byte moved. */
static bool passed_unchanged(bool tc, int verdict, struct pkt *in, struct pkt *out)
{
	return verdict == (tc ? TC_ACT_OK : XDP_PASS) && out->len == in->len &&
	       !memcmp(in->b, out->b, in->len);
}

/* rewritten: out is in as the relay would send it from src_ip:sport to
 * dst_ip:dport through the given MACs. */
static bool rewritten(struct pkt *in, struct pkt *out, const char *src_ip, uint16_t sport,
		      const char *dst_ip, uint16_t dport, const uint8_t *smac, const uint8_t *dmac)
{
	struct ethhdr *e = (struct ethhdr *)out->b;
	struct iphdr *ii = pkt_ip(in), *oi = pkt_ip(out);
	struct udphdr *iu = pkt_udp(in), *ou = pkt_udp(out);
	size_t plen = ntohs(iu->len) - sizeof(*iu);
	bool ok = true;

#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "  mismatch: %s\n", #cond); ok = false; } } while (0)
	EXPECT(out->len == in->len);
	EXPECT(!memcmp(e->h_dest, dmac, ETH_ALEN));
	EXPECT(!memcmp(e->h_source, smac, ETH_ALEN));
	EXPECT(e->h_proto == htons(ETH_P_IP));
	EXPECT(oi->saddr == pkt_ip4(src_ip));
	EXPECT(oi->daddr == pkt_ip4(dst_ip));
	EXPECT(oi->ttl == ii->ttl - 1);
	EXPECT(oi->tos == ii->tos && oi->id == ii->id && oi->frag_off == ii->frag_off);
	EXPECT(oi->tot_len == ii->tot_len && oi->protocol == IPPROTO_UDP);
	EXPECT(ou->source == htons(sport));
	EXPECT(ou->dest == htons(dport));
	EXPECT(ou->len == iu->len);
	EXPECT(!memcmp(out->b + PKT_OFF_PAY, in->b + PKT_OFF_PAY, plen));
	EXPECT(pkt_csums_ok(out));
	EXPECT(!ou->check == !iu->check);   /* "no checksum" stays so */
#undef EXPECT
	return ok;
}

static void rtp_payload(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7);
	p[0] = 0x80;   /* RTP version 2 */
	p[1] = 0x00;   /* PCMU */
}

/* A hit from the latched peer: forwarded, rewritten, counted. */
static void test_hit(bool tc)
{
	struct smq_flow_action before, after;
	uint8_t pay[172];
	struct pkt in, out;
	int v;

	rtp_payload(pay, sizeof(pay), 1);
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	CHECK_INT(get_entry(40000, "10.1.0.2", 5004, &before), 0);
	mark();
	v = run(tc, &in, &out);
	CHECK_INT(v, tc ? TC_ACT_REDIRECT : XDP_REDIRECT);
	CHECK(rewritten(&in, &out, "10.2.0.1", 40002, "10.2.0.2", 6004, mac_b, mac_peer_b));
	COUNTED(SMQ_REASON_FORWARDED);
	CHECK_INT(get_entry(40000, "10.1.0.2", 5004, &after), 0);
	CHECK_INT(after.counters.packets - before.counters.packets, 1);
	CHECK_INT(after.counters.bytes - before.counters.bytes, sizeof(pay));
	CHECK(after.counters.last_seen_ns > before.counters.last_seen_ns);
}

/* A zero UDP checksum ("none") stays zero; a tiny datagram in a padded
 * 60-byte frame counts its real payload, not the padding. */
static void test_hit_no_csum_padded(bool tc)
{
	struct pkt_spec s = rtp_in;
	struct smq_flow_action before, after;
	struct pkt in, out;
	uint8_t pay[4] = { 1, 2, 3, 4 };

	s.no_udp_csum = true;
	pkt_build(&in, &s, pay, sizeof(pay));
	CHECK_INT(in.len, 60);
	CHECK_INT(get_entry(40000, "10.1.0.2", 5004, &before), 0);
	mark();
	CHECK_INT(run(tc, &in, &out), tc ? TC_ACT_REDIRECT : XDP_REDIRECT);
	CHECK(rewritten(&in, &out, "10.2.0.1", 40002, "10.2.0.2", 6004, mac_b, mac_peer_b));
	CHECK_INT(pkt_udp(&out)->check, 0);
	COUNTED(SMQ_REASON_FORWARDED);
	CHECK_INT(get_entry(40000, "10.1.0.2", 5004, &after), 0);
	CHECK_INT(after.counters.bytes - before.counters.bytes, sizeof(pay));
}

/* A datagram whose rewritten checksum computes to 0 must carry 0xffff
 * (0 would mean "no checksum"). Two payload bytes are chosen to get there. */
static void test_hit_csum_ffff(bool tc)
{
	struct pkt in, out, want;
	uint8_t pay[16];
	unsigned int x;
	bool found = false;

	rtp_payload(pay, sizeof(pay), 2);
	for (x = 0; x < 0x10000 && !found; x++) {
		pay[14] = (uint8_t)(x >> 8);
		pay[15] = (uint8_t)x;
		pkt_build(&want, &rtp_in, pay, sizeof(pay));
		pkt_ip(&want)->saddr = pkt_ip4("10.2.0.1");
		pkt_ip(&want)->daddr = pkt_ip4("10.2.0.2");
		pkt_udp(&want)->source = htons(40002);
		pkt_udp(&want)->dest = htons(6004);
		found = pkt_udp_csum(pkt_ip(&want), pkt_udp(&want)) == 0xffff;
	}
	if (!CHECK(found))
		return;
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	CHECK(pkt_udp(&in)->check != 0);
	CHECK_INT(run(tc, &in, &out), tc ? TC_ACT_REDIRECT : XDP_REDIRECT);
	CHECK_INT(pkt_udp(&out)->check, 0xffff);
	CHECK(pkt_csums_ok(&out));
}

/* Egress = ingress ("behind a NAT router"): XDP_TX, MACs swapped to smqa
 * and the NAT router's; tc redirects to smqa's egress. */
static void test_hit_same_interface(bool tc)
{
	struct pkt_spec s = rtp_in;
	struct pkt in, out;
	uint8_t pay[40];

	rtp_payload(pay, sizeof(pay), 3);
	s.dport = PORT_NAT;
	s.sport = 5010;
	pkt_build(&in, &s, pay, sizeof(pay));
	mark();
	CHECK_INT(run(tc, &in, &out), tc ? TC_ACT_REDIRECT : XDP_TX);
	CHECK(rewritten(&in, &out, "10.1.0.1", PORT_NAT + 2, "10.1.0.9", 7000, mac_a, mac_nat));
	COUNTED(SMQ_REASON_FORWARDED);
}

/* Misses and packets the fast path does not handle reach the stack
 * untouched, each under its reason. */
static void test_passes(bool tc)
{
	struct pkt_spec s;
	struct pkt in, out;
	uint8_t pay[32];

	rtp_payload(pay, sizeof(pay), 4);

	/* Right relay port, wrong source port: not the latched peer. */
	s = rtp_in;
	s.sport = 5006;
	pkt_build(&in, &s, pay, sizeof(pay));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_MISS);

	/* Right source, wrong source address. */
	s = rtp_in;
	s.src = "10.1.0.3";
	pkt_build(&in, &s, pay, sizeof(pay));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_MISS);

	/* Not a relay port (SIP, say). */
	s = rtp_in;
	s.dport = 5060;
	pkt_build(&in, &s, pay, sizeof(pay));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_MISS);

	/* TTL 1: the fast path would have to send ICMP; the relay takes it. */
	s = rtp_in;
	s.ttl = 1;
	pkt_build(&in, &s, pay, sizeof(pay));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_TTL_EXCEEDED);

	/* Fragments: first (MF) and later (offset). */
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	pkt_ip(&in)->frag_off = htons(0x2000);
	pkt_ip(&in)->check = htons(pkt_ip_csum(pkt_ip(&in)));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_FRAGMENT);
	pkt_ip(&in)->frag_off = htons(0x0010);
	pkt_ip(&in)->check = htons(pkt_ip_csum(pkt_ip(&in)));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_FRAGMENT);

	/* Not UDP (the same bytes labelled TCP). */
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	pkt_ip(&in)->protocol = IPPROTO_TCP;
	pkt_ip(&in)->check = htons(pkt_ip_csum(pkt_ip(&in)));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_NOT_UDP);

	/* IP options: ihl 6 (the fast path only knows 20-byte headers). */
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	pkt_ip(&in)->ihl = 6;
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_IP_OPTIONS);

	/* Not IPv4: ARP and IPv6 ethertypes. */
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	((struct ethhdr *)in.b)->h_proto = htons(ETH_P_ARP);
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_NOT_IPV4);
	((struct ethhdr *)in.b)->h_proto = htons(ETH_P_IPV6);
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_NOT_IPV4);

	/* Truncated: the IP length claims more than the frame has. */
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	pkt_ip(&in)->tot_len = htons(1000);
	pkt_ip(&in)->check = htons(pkt_ip_csum(pkt_ip(&in)));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_MALFORMED);
	/* UDP length beyond the IP payload. */
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	pkt_udp(&in)->len = htons(200);
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_MALFORMED);
	/* Cut in the UDP header. */
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	in.len = PKT_OFF_UDP + 4;
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_MALFORMED);
}

/* The latched peer's exact tuple arriving on the other interface (smqb,
 * the other side: a spoofed source that rp_filter would drop) goes to the
 * stack untouched, and the entry counts nothing. */
static void test_wrong_ingress(bool tc)
{
	struct smq_flow_action before, after;
	struct pkt in, out;
	uint8_t pay[32];

	rtp_payload(pay, sizeof(pay), 8);
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	CHECK_INT(get_entry(40000, "10.1.0.2", 5004, &before), 0);
	mark();
	CHECK(passed_unchanged(tc, run_on(tc, if_b, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_WRONG_INGRESS);
	CHECK_INT(get_entry(40000, "10.1.0.2", 5004, &after), 0);
	CHECK_INT(after.counters.packets, before.counters.packets);
	/* The same frame on its own interface is forwarded. */
	mark();
	CHECK_INT(run(tc, &in, &out), tc ? TC_ACT_REDIRECT : XDP_REDIRECT);
	COUNTED(SMQ_REASON_FORWARDED);
}

/* An entry idle past its idle_timeout_s (a dead daemon's, or a call that
 * is over) stops forwarding: the stack gets the frame untouched. A put by
 * the daemon renews it. */
static void test_idle_expired(bool tc)
{
	struct sockaddr_in relay = sa("10.1.0.1", 40000), peer = sa("10.1.0.2", 5004);
	struct smq_flow_key key;
	struct smq_flow_action saved, act;
	struct timespec ts;
	struct pkt in, out;
	uint8_t pay[32];

	rtp_payload(pay, sizeof(pay), 9);
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	kernel_engine_key_ipv4(&key, &relay, &peer);
	if (!CHECK_INT(kernel_engine_stream_get(ke, &key, &saved), 0))
		return;
	act = saved;
	act.idle_timeout_s = 2;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	act.counters.last_seen_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec -
				    3000000000u;   /* 3 s ago */
	CHECK_INT(bpf_map_update_elem(ke->streams_fd, &key, &act, BPF_ANY), 0);
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_IDLE_EXPIRED);
	CHECK_INT(kernel_engine_stream_put(ke, &key, &act), 0);
	mark();
	CHECK_INT(run(tc, &in, &out), tc ? TC_ACT_REDIRECT : XDP_REDIRECT);
	COUNTED(SMQ_REASON_FORWARDED);
	/* 1 s idle of 2 allowed: still forwarding. */
	act.counters.last_seen_ns += 2000000000u;
	CHECK_INT(bpf_map_update_elem(ke->streams_fd, &key, &act, BPF_ANY), 0);
	mark();
	CHECK_INT(run(tc, &in, &out), tc ? TC_ACT_REDIRECT : XDP_REDIRECT);
	COUNTED(SMQ_REASON_FORWARDED);
	CHECK_INT(bpf_map_update_elem(ke->streams_fd, &key, &saved, BPF_ANY), 0);
}

/* Hits whose next hop cannot be used go to the stack untouched. */
static void test_fib_failures(bool tc)
{
	struct pkt_spec s = rtp_in;
	struct pkt in, out;
	uint8_t pay[32], big[1400];

	rtp_payload(pay, sizeof(pay), 5);

	s.dport = PORT_NO_NEIGH;
	s.sport = 5020;
	pkt_build(&in, &s, pay, sizeof(pay));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_FIB_NO_NEIGH);

	s.dport = PORT_NO_ROUTE;
	s.sport = 5030;
	pkt_build(&in, &s, pay, sizeof(pay));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_FIB_FAILED);

	s.dport = PORT_MISMATCH;
	s.sport = 5040;
	pkt_build(&in, &s, pay, sizeof(pay));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_ROUTE_MISMATCH);

	/* Forwarding off on the ingress interface: the fib helper refuses. */
	CHECK_INT(testenv_sh("echo 0 > /proc/sys/net/ipv4/conf/smqa/forwarding"), 0);
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_FIB_FWD_DISABLED);
	CHECK_INT(testenv_sh("echo 1 > /proc/sys/net/ipv4/conf/smqa/forwarding"), 0);

	/* Larger than the egress MTU. */
	CHECK_INT(testenv_sh("ip link set smqb mtu 1280"), 0);
	rtp_payload(big, sizeof(big), 6);
	pkt_build(&in, &rtp_in, big, sizeof(big));
	mark();
	CHECK(passed_unchanged(tc, run(tc, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_FIB_FRAG_NEEDED);
	CHECK_INT(testenv_sh("ip link set smqb mtu 1500"), 0);
}

/* Native XDP only: the egress interface must be a registered redirect
 * target, checked before the frame is touched. */
static void test_no_tx_port(void)
{
	struct pkt in, out;
	uint8_t pay[32];

	rtp_payload(pay, sizeof(pay), 7);
	pkt_build(&in, &rtp_in, pay, sizeof(pay));
	CHECK_INT(kernel_engine_tx_port_del(ke, if_b), 0);
	mark();
	CHECK(passed_unchanged(false, run(false, &in, &out), &in, &out));
	COUNTED(SMQ_REASON_NO_TX_PORT);
	CHECK_INT(kernel_engine_tx_port_add(ke, if_b), 0);
	mark();
	CHECK_INT(run(false, &in, &out), XDP_REDIRECT);
	COUNTED(SMQ_REASON_FORWARDED);
}

int main(void)
{
	struct kernel_engine_opts opts = { .pin_dir = testenv_pin_dir(), .max_entries = 64 };
	char why[256];
	int rc, i;

	rc = testenv_enter();
	if (rc)
		return rc;
	log_open(false, 0);
	setup_net();
	rc = kernel_engine_open(&opts, &ke, why, sizeof(why));
	if (!CHECK_INT(rc, 0)) {
		fprintf(stderr, "kernel_engine_open: %s\n", why);
		return unit_summary();
	}
	CHECK_INT(kernel_engine_tx_port_add(ke, if_b), 0);

	add_entry(40000, "10.1.0.2", 5004, "10.2.0.1", 40002, "10.2.0.2", 6004, if_b);
	add_entry(PORT_NAT, "10.1.0.2", 5010, "10.1.0.1", PORT_NAT + 2, "10.1.0.9", 7000, 0);
	add_entry(PORT_NO_NEIGH, "10.1.0.2", 5020, "10.2.0.1", 40022, "10.2.0.3", 6000, 0);
	add_entry(PORT_NO_ROUTE, "10.1.0.2", 5030, "10.2.0.1", 40032, "192.0.2.1", 6000, 0);
	add_entry(PORT_MISMATCH, "10.1.0.2", 5040, "10.2.0.1", 40042, "10.2.0.2", 6000, if_a);

	for (i = 0; i < 3; i++) {
		static const char *const names[] = { "native XDP", "generic XDP", "tc" };
		bool tc = i == 2;

		fprintf(stderr, "--- %s program\n", names[i]);
		xdp_fd = i == 0 ? ke->xdp_prog_fd : ke->xdp_generic_prog_fd;
		/* Generic XDP redirects to any interface, registered or not. */
		if (i == 1)
			CHECK_INT(kernel_engine_tx_port_del(ke, if_b), 0);
		test_hit(tc);
		test_hit_no_csum_padded(tc);
		test_hit_csum_ffff(tc);
		test_hit_same_interface(tc);
		test_passes(tc);
		test_wrong_ingress(tc);
		test_idle_expired(tc);
		test_fib_failures(tc);
		if (i == 1)
			CHECK_INT(kernel_engine_tx_port_add(ke, if_b), 0);
	}
	xdp_fd = ke->xdp_prog_fd;
	test_no_tx_port();

	kernel_engine_close(ke, false);
	return unit_summary();
}
