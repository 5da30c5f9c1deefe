// SPDX-License-Identifier: GPL-2.0
/* A do-nothing XDP program, for tests: natively redirected frames are only
 * accepted by a veth whose peer runs an XDP program (or has GRO on), so the
 * datapath tests attach this one to the far ends of their veth pairs. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int smq_xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
