// SPDX-License-Identifier: GPL-2.0
/* sipmasq RTP fast path: the XDP programs (native and generic mode) and the
 * tc (clsact ingress) program, thin wrappers around smq_fwd() (smq_fwd.h).
 * One of them runs on every relay interface; the loader is
 * daemon/kernel/kernel_engine.c.
 * GPL: bpf_fib_lookup() is a GPL-only helper. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "sipmasq_abi.h"
#include "smq_fwd.h"

/* Read by the loader from the skeleton's .rodata: the layouts this object
 * was built with (include/sipmasq_abi.h). */
const volatile __u32 smq_abi_version = SMQ_ABI_VERSION;

/* smq_xdp_run: the XDP programs. Hit -> XDP_TX when egress == ingress (the
 * "behind a NAT router" setup), else a redirect (native: through
 * smq_tx_ports; generic: straight to the interface); anything else ->
 * XDP_PASS. */
static __always_inline int smq_xdp_run(struct xdp_md *ctx, const int hook)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct smq_flow_action *hit = NULL;
	__u32 out = 0, payload = 0;
	long rc;

	switch (smq_fwd(ctx, data, data_end, (__u32)(data_end - data),
			ctx->ingress_ifindex, hook, &out, &hit, &payload)) {
	case SMQ_ACT_FORWARD:
		break;
	case SMQ_ACT_DROP:
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
	if (out == ctx->ingress_ifindex)
		rc = XDP_TX;
	else if (hook == SMQ_HOOK_XDP)
		rc = bpf_redirect_map(&smq_tx_ports, out, XDP_ABORTED);
	else
		rc = bpf_redirect(out, 0);
	if (rc != XDP_TX && rc != XDP_REDIRECT) {
		/* smq_fwd() checked the target is in the map: it was removed
		 * meanwhile. The packet is rewritten and cannot go to the
		 * stack any more. */
		smq_count(SMQ_REASON_REDIRECT_FAILED);
		return XDP_DROP;
	}
	if (hit)
		smq_fwd_done(hit, payload);
	return (int)rc;
}

/* smq_xdp: for interfaces attached in native (driver) mode. */
SEC("xdp")
int smq_xdp(struct xdp_md *ctx)
{
	return smq_xdp_run(ctx, SMQ_HOOK_XDP);
}

/* smq_xdp_generic: for interfaces attached in generic (skb) mode, where a
 * redirect is an ordinary transmit that every device supports. */
SEC("xdp")
int smq_xdp_generic(struct xdp_md *ctx)
{
	return smq_xdp_run(ctx, SMQ_HOOK_XDP_GENERIC);
}

/* smq_tc: hit -> bpf_redirect() to the egress interface (its egress path,
 * also when it is the ingress interface); anything else -> TC_ACT_OK. */
SEC("tc")
int smq_tc(struct __sk_buff *skb)
{
	struct smq_flow_action *hit = NULL;
	__u32 out = 0, payload = 0;
	void *data, *data_end;

	/* GRO-coalesced UDP (rx-udp-gro-forwarding): one skb, many datagrams.
	 * Rare on a relay; the stack segments it correctly. */
	if (skb->gso_segs > 1) {
		smq_count(SMQ_REASON_GSO);
		return TC_ACT_OK;
	}
	/* The headers are normally in the linear part already; pulling is a
	 * no-op then, and cheap insurance for drivers that split them. */
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (data + SMQ_HDRS_LEN > data_end) {
		bpf_skb_pull_data(skb, SMQ_HDRS_LEN);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}

	switch (smq_fwd(skb, data, data_end, skb->len, skb->ingress_ifindex,
			SMQ_HOOK_TC, &out, &hit, &payload)) {
	case SMQ_ACT_FORWARD:
		break;
	case SMQ_ACT_DROP:
		return TC_ACT_SHOT;
	default:
		return TC_ACT_OK;
	}
	if (hit)
		smq_fwd_done(hit, payload);
	return (int)bpf_redirect(out, 0);
}

char LICENSE[] SEC("license") = "GPL";
