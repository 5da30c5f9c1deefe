// SPDX-License-Identifier: GPL-2.0
/* Benchmark load generator and sink (scripts/bench/xdpgen.c drives them).
 *
 * xdpgen_tx: run by BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on a
 * template RTP frame (Ethernet/IPv4/UDP, UDP checksum 0 = none); each run
 * picks the next stream round robin, writes its UDP destination port, the
 * RTP sequence number and timestamp, and the payload's bench header, and
 * transmits the frame with XDP_TX (out of the interface the run is bound to),
 * or for the streams of the second direction, if any, redirects it to the
 * interface in xg_tx.
 * Paced (xg_pace_due, shared with afpgen.c) by dropping the runs that come
 * before the next frame is due.
 *
 * xdpgen_rx: attached to the far end's interface; counts bench frames
 * (per CPU) of the step the harness armed (xg_arm: sent at or after its
 * start, arrived before its end), per stream with a window of sequence
 * numbers (duplicates, reordering), keeps a one-way delay histogram in
 * microseconds (then milliseconds, then an overflow count) and drops them;
 * frames of a previous step and frames arriving after the step's end are
 * counted apart, never as delivered; everything else passes. Delay =
 * bpf_ktime_get_ns() at the far end minus the send time the generator
 * wrote: both are CLOCK_MONOTONIC of one host.
 *
 * Payload layout after the 12-byte RTP header (host byte order, one host):
 *   +0  u32 per-stream sequence number   +4  u64 send time, ns
 *   +12 u32 stream index                 +16 u32 magic XG_MAGIC */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdpgen.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XG_MAX_STREAMS);
	__type(key, __u32);
	__type(value, __u16);   /* destination UDP port, network byte order */
} xg_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XG_HIST_BUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} xg_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XG_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xg_cnt SEC(".maps");

/* Per stream (index of the generator's port table): what arrived of the
 * armed step. Mmapable: the sink reads and zeroes it without a syscall per
 * stream. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XG_MAX_STREAMS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xg_stream);
} xg_streams SEC(".maps");

/* The armed step, CLOCK_MONOTONIC ns, set by the sink's "arm": frames sent
 * before start belong to a previous step; frames arriving after end are
 * late. */
__u64 xg_arm_start_ns;
__u64 xg_arm_end_ns = ~0ull;

/* The second direction's egress (a device of another namespace, entered
 * by the loader when it filled the map). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xg_tx SEC(".maps");

/* Set by the loader before load: streams in all, and how many of them (the
 * first ones) go out of the run's own interface with XDP_TX; the others are
 * redirected through xg_tx. */
const volatile __u32 xg_nstreams = 1;
const volatile __u32 xg_nstreams0 = 1;
/* Pacing (xdpgen.h), set by the loader before the run. */
struct xg_pace xg_pace;
/* Frames generated so far (BPF_PROG_RUN runs on one CPU at a time: no
 * atomics needed). */
__u64 xg_next;
/* Faults for the harness's own test (XG_DROP, XG_DUP: xgsend.h): frame
 * number xg_drop_at is counted as sent but not sent; frame number xg_dup_at
 * is sent twice (the second copy is not counted as sent). ~0: none. */
__u64 xg_drop_at = ~0ull;
__u64 xg_dup_at = ~0ull;
__u64 xg_dup_done;

/* The headers of the template frame, set by the loader before load. Every
 * run writes them again: live frames are recycled with whatever the stack
 * left in them (a forwarded frame comes back with the gateway's MACs and
 * the masqueraded source address), only the frame pointers are reset. */
struct xg_hdrs xg_tmpl[2];   /* per direction; not const: clang would fold the copy to zeros */

SEC("xdp")
int xdpgen_tx(struct xdp_md *ctx)
{
	struct xg_frame *f = (void *)(long)ctx->data;
	__u32 n = xg_nstreams ? xg_nstreams : 1;
	__u64 now = bpf_ktime_get_ns(), i = xg_next;
	__u32 stream = (__u32)(i % n);
	__u16 *port;

	if ((void *)(f + 1) > (void *)(long)ctx->data_end)
		return XDP_DROP;
	/* Paced: BPF_PROG_RUN cannot sleep and one run per syscall costs
	 * milliseconds (page pool setup), so one long run spins here, dropping
	 * template frames (recycled at once) until the next one is due. */
	if (!xg_pace_due(&xg_pace, i, now))
		return XDP_DROP;
	if (i == xg_dup_at && !xg_dup_done)
		xg_dup_done = 1;   /* this frame again on the next run */
	else
		xg_next = i + 1;
	if (i == xg_drop_at)
		return XDP_DROP;
	port = bpf_map_lookup_elem(&xg_ports, &stream);
	if (!port)
		return XDP_DROP;
	if (stream < xg_nstreams0)
		__builtin_memcpy(&f->h, &xg_tmpl[0], sizeof(f->h));
	else
		__builtin_memcpy(&f->h, &xg_tmpl[1], sizeof(f->h));
	xg_stamp(f, *port, stream, (__u32)(i / n), now);
	return stream < xg_nstreams0 ? XDP_TX : bpf_redirect_map(&xg_tx, 0, 0);
}

static __always_inline void xg_count(__u32 key, __u64 add)
{
	__u64 *v = bpf_map_lookup_elem(&xg_cnt, &key);

	if (v)
		*v += add;
}

/* Per-stream accounting of a frame of the step: duplicate (its sequence
 * number was received), reordered (older than the newest, first time) or
 * too old to tell (behind the window). */
static __always_inline void xg_stream_seen(__u32 stream, __u32 seq)
{
	struct xg_stream *s = bpf_map_lookup_elem(&xg_streams, &stream);
	__u32 back;

	if (!s)
		return;
	__sync_fetch_and_add(&s->received, 1);
	if (seq >= s->top) {
		/* Newer than every frame so far: slide the window. */
		__u32 shift = seq + 1 - s->top;

		if (s->top == 0)
			s->window = 0;
		else if (shift >= XG_WINDOW)
			s->window = 0;
		else
			s->window = (s->window << shift) | (1ull << (shift - 1));
		s->top = seq + 1;
		return;
	}
	back = s->top - 1 - seq;   /* 0: the newest itself */
	if (back == 0) {
		__sync_fetch_and_add(&s->dup, 1);
		xg_count(XG_CNT_DUP, 1);
	} else if (back > XG_WINDOW) {
		xg_count(XG_CNT_OLD, 1);
	} else if (s->window & (1ull << (back - 1))) {
		__sync_fetch_and_add(&s->dup, 1);
		xg_count(XG_CNT_DUP, 1);
	} else {
		s->window |= 1ull << (back - 1);
		s->reorder++;
		xg_count(XG_CNT_REORDER, 1);
	}
}

SEC("xdp")
int xdpgen_rx(struct xdp_md *ctx)
{
	struct xg_frame *f = (void *)(long)ctx->data;
	__u64 now = bpf_ktime_get_ns(), us;
	__u32 b;
	__u64 *h;

	if ((void *)(f + 1) > (void *)(long)ctx->data_end)
		return XDP_PASS;
	if (f->h.eth.h_proto != bpf_htons(ETH_P_IP) || f->h.ip.protocol != IPPROTO_UDP ||
	    f->h.ip.ihl != 5 || f->pl.magic != XG_MAGIC)
		return XDP_PASS;
	if (f->pl.sent_ns < xg_arm_start_ns) {
		xg_count(XG_CNT_PREV, 1);
		return XDP_DROP;
	}
	if (now > xg_arm_end_ns) {
		xg_count(XG_CNT_AFTER, 1);
		return XDP_DROP;
	}
	xg_count(XG_CNT_FRAMES, 1);
	xg_stream_seen(f->pl.stream, f->pl.seq);
	us = now > f->pl.sent_ns ? (now - f->pl.sent_ns) / 1000 : 0;
	if (us < XG_HIST_FINE) {
		b = (__u32)us;
	} else if ((us - XG_HIST_FINE) / 1000 < XG_HIST_COARSE) {
		b = XG_HIST_FINE + (__u32)((us - XG_HIST_FINE) / 1000);
	} else {
		xg_count(XG_CNT_OVERFLOW, 1);
		return XDP_DROP;
	}
	h = bpf_map_lookup_elem(&xg_hist, &b);
	if (h)
		*h += 1;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
