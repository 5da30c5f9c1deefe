/* The sipmasq RTP fast path, shared by the XDP programs and the tc
 * program: parse an Ethernet/IPv4/UDP frame, look its (destination,
 * source) up in smq_streams, and on a hit rewrite it into the packet the
 * userspace relay would have sent (other side's relay address/port ->
 * other side's peer), find the next hop with bpf_fib_lookup and tell the
 * caller where it goes.
 *
 * Anything the fast path does not forward is left byte-for-byte unchanged
 * and handed to the kernel stack, where the userspace relay (or the kernel
 * itself) deals with it: every check that can refuse a packet runs before
 * the first byte is written. Each packet counts exactly one reason in
 * smq_stats.
 *
 * The hooks differ only in the redirect target check, the UDP checksum
 * update and the verdict, selected by the compile-time constant `hook` (the
 * branches not taken are removed when the function is inlined):
 *   - native XDP redirects only to interfaces known to take XDP frames
 *     (smq_tx_ports); generic XDP and tc send through the egress device's
 *     ordinary transmit path, which any device has.
 *   - XDP has no skb: it updates the checksum field arithmetically. It
 *     cannot see CHECKSUM_PARTIAL (a datagram from a sender on the same
 *     host through a veth/tap, whose checksum field holds only the pseudo
 *     header sum): such datagrams leave with a wrong checksum. Real NICs
 *     never deliver those; use tc on interfaces that can.
 *   - tc has an skb whose checksum state (CHECKSUM_PARTIAL from a local
 *     sender on veth/virtio, CHECKSUM_COMPLETE from the NIC) must stay
 *     consistent with the bytes, which only bpf_l4_csum_replace() does. */
#ifndef SMQ_FWD_H
#define SMQ_FWD_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "sipmasq_abi.h"
#include "smq_csum.h"
#include "smq_maps.h"

#define SMQ_HOOK_XDP         1   /* native XDP: redirect via smq_tx_ports */
#define SMQ_HOOK_XDP_GENERIC 2   /* generic (skb) XDP: redirect to any interface */
#define SMQ_HOOK_TC          3

/* What the hook must do with the packet. */
#define SMQ_ACT_PASS     0  /* unchanged, to the stack */
#define SMQ_ACT_FORWARD  1  /* rewritten: send out of *out_ifindex */
#define SMQ_ACT_DROP     2  /* rewritten but cannot be sent: drop */

/* IPv4 fragment bits of iphdr.frag_off (host order values of <net/ip.h>). */
#define SMQ_IP_MF     0x2000
#define SMQ_IP_OFFSET 0x1fff

/* Offsets in an untagged Ethernet/IPv4 (no options)/UDP frame. */
#define SMQ_OFF_IP       ((__u32)sizeof(struct ethhdr))
#define SMQ_OFF_UDP      (SMQ_OFF_IP + (__u32)sizeof(struct iphdr))
#define SMQ_OFF_UDP_CSUM (SMQ_OFF_UDP + (__u32)__builtin_offsetof(struct udphdr, check))
#define SMQ_HDRS_LEN     (SMQ_OFF_UDP + (__u32)sizeof(struct udphdr))

/* smq_count: one more packet for `reason`. Per-CPU slot: no atomics. */
static __always_inline void smq_count(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&smq_stats, &reason);

	if (c)
		*c += 1;
}

/* smq_pass: count `reason` and leave the packet to the stack. */
static __always_inline int smq_pass(__u32 reason)
{
	smq_count(reason);
	return SMQ_ACT_PASS;
}

/* smq_fib_reason: the smq_stats reason for a failed bpf_fib_lookup(). */
static __always_inline __u32 smq_fib_reason(long rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return SMQ_REASON_FIB_NO_NEIGH;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return SMQ_REASON_FIB_FRAG_NEEDED;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return SMQ_REASON_FIB_FWD_DISABLED;
	default:
		return SMQ_REASON_FIB_FAILED;
	}
}

/* smq_fwd: run the fast path on one frame.
 *   ctx         the program's context (struct xdp_md * or struct __sk_buff *)
 *   data, data_end  the frame's linear bytes (direct packet access)
 *   pkt_len     the frame's full length in bytes (tc: skb->len, which may
 *               exceed the linear part; XDP: data_end - data)
 *   in_ifindex  the interface the frame arrived on
 *   hook        SMQ_HOOK_* (a constant)
 *   out_ifindex set on SMQ_ACT_FORWARD: the egress interface
 *   hit         set on SMQ_ACT_FORWARD: the matching smq_streams value
 *   payload_len set on SMQ_ACT_FORWARD: UDP payload bytes
 * Returns SMQ_ACT_*. Passed and dropped packets are counted here; on
 * SMQ_ACT_FORWARD the stream's counters and SMQ_REASON_FORWARDED are not
 * counted yet: the hook counts them with smq_fwd_done() once the redirect
 * is accepted. */
static __always_inline int smq_fwd(void *ctx, void *data, void *data_end,
				   __u32 pkt_len, __u32 in_ifindex, const int hook,
				   __u32 *out_ifindex,
				   struct smq_flow_action **hit, __u32 *payload_len)
{
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct udphdr *udp;
	struct smq_flow_key key;
	struct smq_flow_action *act;
	struct bpf_fib_lookup fib;
	__be32 old_w[3], new_w[3];   /* saddr, daddr, ports: before and after */
	__u32 tot_len, udp_len;
	long rc;

	if ((void *)(eth + 1) > data_end)
		return smq_pass(SMQ_REASON_MALFORMED);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return smq_pass(SMQ_REASON_NOT_IPV4);
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return smq_pass(SMQ_REASON_MALFORMED);
	if (iph->version != 4)
		return smq_pass(SMQ_REASON_MALFORMED);
	if (iph->ihl != 5)
		return smq_pass(SMQ_REASON_IP_OPTIONS);
	if (iph->frag_off & bpf_htons(SMQ_IP_MF | SMQ_IP_OFFSET))
		return smq_pass(SMQ_REASON_FRAGMENT);
	if (iph->protocol != IPPROTO_UDP)
		return smq_pass(SMQ_REASON_NOT_UDP);
	udp = (void *)(iph + 1);
	if ((void *)(udp + 1) > data_end)
		return smq_pass(SMQ_REASON_MALFORMED);
	/* Ethernet pads short frames: trust the IP length, not the frame's. */
	tot_len = bpf_ntohs(iph->tot_len);
	udp_len = bpf_ntohs(udp->len);
	if (tot_len < sizeof(*iph) + sizeof(*udp) || tot_len > pkt_len - SMQ_OFF_IP ||
	    udp_len < sizeof(*udp) || udp_len > tot_len - sizeof(*iph))
		return smq_pass(SMQ_REASON_MALFORMED);

	__builtin_memset(&key, 0, sizeof(key));
	key.family = SMQ_AF_INET;
	smq_ip_set_v4(key.dst_addr, iph->daddr);
	smq_ip_set_v4(key.src_addr, iph->saddr);
	key.dst_port = udp->dest;
	key.src_port = udp->source;
	act = bpf_map_lookup_elem(&smq_streams, &key);
	if (!act)
		return smq_pass(SMQ_REASON_MISS);
	/* The key's source is the latched peer of one side; the same source
	 * arriving on the other side is spoofed (what rp_filter would drop,
	 * which this hook runs before): the stack decides. */
	if (act->ingress_ifindex && act->ingress_ifindex != in_ifindex)
		return smq_pass(SMQ_REASON_WRONG_INGRESS);
	/* An entry nobody used or renewed for idle_timeout_s belongs to a call
	 * that is over, maybe of a daemon that is gone: the stack (and the
	 * userspace relay, which renews it if the call is alive) decides. */
	if (act->idle_timeout_s &&
	    bpf_ktime_get_ns() - act->counters.last_seen_ns >
	    (__u64)act->idle_timeout_s * 1000000000ull)
		return smq_pass(SMQ_REASON_IDLE_EXPIRED);

	/* A router would send ICMP time exceeded; the userspace relay (which
	 * sends a fresh datagram) is the better place for such a packet. */
	if (iph->ttl <= 1)
		return smq_pass(SMQ_REASON_TTL_EXCEEDED);

	new_w[0] = smq_ip_get_v4(act->new_src_addr);
	new_w[1] = smq_ip_get_v4(act->new_dst_addr);
	/* Route the packet as it will be after the rewrite. Needs forwarding
	 * enabled on the ingress interface (FWD_DISABLED otherwise). */
	__builtin_memset(&fib, 0, sizeof(fib));
	fib.family = SMQ_AF_INET;
	fib.tos = iph->tos;
	fib.l4_protocol = IPPROTO_UDP;
	fib.sport = act->new_src_port;
	fib.dport = act->new_dst_port;
	fib.tot_len = tot_len;
	fib.ifindex = in_ifindex;
	fib.ipv4_src = new_w[0];
	fib.ipv4_dst = new_w[1];
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return smq_pass(smq_fib_reason(rc));
	/* The entry names the interface the daemon expects; if routing now
	 * says otherwise, let the stack (and the userspace relay) decide. */
	if (act->egress_ifindex && act->egress_ifindex != fib.ifindex)
		return smq_pass(SMQ_REASON_ROUTE_MISMATCH);
	/* Native XDP hands frames to the egress driver's XDP transmit,
	 * which not every driver has (a bridge has none: the frame would be
	 * dropped). Checked before rewriting: a rewritten packet cannot go
	 * back to the stack (it would no longer reach the relay socket). */
	if (hook == SMQ_HOOK_XDP && fib.ifindex != in_ifindex &&
	    !bpf_map_lookup_elem(&smq_tx_ports, &fib.ifindex))
		return smq_pass(SMQ_REASON_NO_TX_PORT);

	/* From here on the packet is rewritten. */
	old_w[0] = iph->saddr;
	old_w[1] = iph->daddr;
	__builtin_memcpy(&old_w[2], &udp->source, 4);   /* source and dest ports */
	__builtin_memcpy(&new_w[2], &act->new_src_port, 4);

	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	/* The IPv4 header checksum is plain data in both hooks (no skb
	 * offload state covers it): update it arithmetically. */
	iph->ttl--;
	iph->check = smq_csum_ttl_dec(iph->check);
	iph->check = smq_csum_update(iph->check, old_w, new_w, 8);
	iph->saddr = new_w[0];
	iph->daddr = new_w[1];
	udp->source = act->new_src_port;
	udp->dest = act->new_dst_port;

	*out_ifindex = fib.ifindex;
	*hit = act;
	*payload_len = udp_len - sizeof(*udp);

	if (hook != SMQ_HOOK_TC) {
		/* A zero UDP checksum means "none" and stays zero; a computed
		 * zero is sent as 0xffff (RFC 768). */
		if (udp->check) {
			__u16 c = smq_csum_update(udp->check, old_w, new_w, 12);

			udp->check = c ? c : 0xffff;
		}
		return SMQ_ACT_FORWARD;
	}

	/* tc: addresses are in the pseudo header (BPF_F_PSEUDO_HDR: with
	 * CHECKSUM_PARTIAL only the pseudo-header seed changes, with
	 * CHECKSUM_COMPLETE skb->csum follows); ports are payload for the
	 * checksum. BPF_F_MARK_MANGLED_0 keeps a zero checksum zero and turns
	 * a computed zero into 0xffff. These helpers invalidate the packet
	 * pointers: nothing reads the packet after them. */
	rc = bpf_l4_csum_replace(ctx, SMQ_OFF_UDP_CSUM, 0,
				 bpf_csum_diff(old_w, 8, new_w, 8, 0),
				 BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0);
	if (!rc)
		rc = bpf_l4_csum_replace(ctx, SMQ_OFF_UDP_CSUM, 0,
					 bpf_csum_diff(&old_w[2], 4, &new_w[2], 4, 0),
					 BPF_F_MARK_MANGLED_0);
	if (rc) {
		smq_count(SMQ_REASON_REWRITE_FAILED);
		return SMQ_ACT_DROP;
	}
	return SMQ_ACT_FORWARD;
}

/* smq_fwd_done: account a packet the hook has sent: the stream's counters
 * (atomic: the daemon may read them at any time, and a flow can move
 * between CPUs) and SMQ_REASON_FORWARDED. */
static __always_inline void smq_fwd_done(struct smq_flow_action *act, __u32 payload_len)
{
	__sync_fetch_and_add(&act->counters.packets, 1);
	__sync_fetch_and_add(&act->counters.bytes, payload_len);
	/* A plain store: last writer wins, any recent time is right. */
	act->counters.last_seen_ns = bpf_ktime_get_ns();
	smq_count(SMQ_REASON_FORWARDED);
}

#endif
