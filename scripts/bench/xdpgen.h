/* Shared by the benchmark's load generators (xdpgen.bpf.c in XDP, afpgen.c
 * on an AF_PACKET socket) and the sink (xdpgen.bpf.c): the frame and payload
 * layout, how a frame is stamped and how sending is paced. Host byte order
 * where not said otherwise (generators and sink run on one host). Both BPF
 * and user code include it: only linux/ headers and always-inline helpers. */
#ifndef XDPGEN_H
#define XDPGEN_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define XG_MAX_STREAMS 65536
/* Delay histogram: one bucket per microsecond below XG_HIST_FINE us, then
 * one per millisecond up to XG_HIST_FINE us + XG_HIST_COARSE ms (about
 * 1.04 s); later frames go to the overflow count (XG_CNT_OVERFLOW), never
 * into the last bucket. */
#define XG_HIST_FINE 16384
#define XG_HIST_COARSE 1024
#define XG_HIST_BUCKETS (XG_HIST_FINE + XG_HIST_COARSE)
/* Most frames the paced generator sends back to back to catch up. */
#define XG_LAG_MAX 32
#define XG_MAGIC 0x58474e31u   /* "XGN1" */
/* A generated frame: Ethernet, IPv4, UDP, 12-byte RTP header and 160 bytes
 * of payload (G.711, 20 ms): 172 bytes of UDP payload, 214 on the wire. */
#define XG_FRAME_LEN (14 + 20 + 8 + 12 + 160)
/* Exit status of a generator whose kernel refuses its way of sending (the
 * call is named on stderr): the harness then tries the next generator. */
#define XG_EXIT_REFUSED 3

/* The sink's counters (per CPU), since its last "arm":
 * FRAMES: frames of the step (sent at or after its start) that arrived
 *   before its end (the step's last send plus the grace the harness gives);
 * PREV: frames sent before the step's start: late packets of a previous step,
 *   never counted as delivered;
 * AFTER: frames of the step that arrived after its end (counted as lost);
 * OVERFLOW: FRAMES whose delay is past the histogram (about 1.04 s);
 * DUP: FRAMES that repeat a per-stream sequence number already received;
 * REORDER: FRAMES older than one already received on their stream;
 * OLD: FRAMES too far behind their stream's newest to tell duplicate from
 *   reordered (XG_WINDOW). */
enum { XG_CNT_FRAMES, XG_CNT_PREV, XG_CNT_AFTER, XG_CNT_OVERFLOW, XG_CNT_DUP, XG_CNT_REORDER,
       XG_CNT_OLD, XG_CNT_MAX };

/* Sequence numbers a stream's window remembers, behind its newest. */
#define XG_WINDOW 64

/* The sink's state of one stream (index of the generator's port table),
 * since the last "arm": frames counted (FRAMES, duplicates included) and
 * the sequence window. Plain array entry; a stream arrives on one
 * interface, so one CPU at a time in practice. */
struct xg_stream {
	__u64 received;    /* FRAMES of this stream, duplicates included */
	__u64 dup;         /* of them, duplicates */
	__u64 window;      /* bit k: sequence number top - 1 - k received */
	__u32 top;         /* newest sequence number received + 1; 0: none yet */
	__u32 reorder;     /* of them, older than the newest (not duplicates) */
};

/* What the generator writes after the RTP header of each frame, host byte
 * order (generator and sinks run on one host). */
struct xg_payload {
	__u32 seq;       /* per-stream sequence number */
	__u64 sent_ns;   /* CLOCK_MONOTONIC at generation */
	__u32 stream;    /* index into the generator's port table */
	__u32 magic;     /* XG_MAGIC */
} __attribute__((packed));

/* The headers of a generated frame: Ethernet, IPv4 (no options), UDP, RTP. */
struct xg_hdrs {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	__u8 rtp[12];
} __attribute__((packed));

/* The start of a generated frame; the rest of its XG_FRAME_LEN is padding. */
struct xg_frame {
	struct xg_hdrs h;
	struct xg_payload pl;
} __attribute__((packed));

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define xg_htons(x) __builtin_bswap16(x)
#define xg_htonl(x) __builtin_bswap32(x)
#else
#define xg_htons(x) (x)
#define xg_htonl(x) (x)
#endif

/* Writes what differs between the frames of a template: the stream's UDP
 * destination port (dport_be, network byte order), the RTP sequence number
 * and timestamp (network byte order, 160 samples a frame) and the payload
 * (seq: the stream's frame number; now: CLOCK_MONOTONIC ns). */
static __always_inline void xg_stamp(struct xg_frame *f, __u16 dport_be, __u32 stream,
				     __u32 seq, __u64 now)
{
	__u16 rtp_seq = xg_htons((__u16)seq);
	__u32 rtp_ts = xg_htonl(seq * 160u);

	f->h.udp.dest = dport_be;
	__builtin_memcpy(&f->h.rtp[2], &rtp_seq, sizeof(rtp_seq));
	__builtin_memcpy(&f->h.rtp[4], &rtp_ts, sizeof(rtp_ts));
	f->pl.seq = seq;
	f->pl.sent_ns = now;
	f->pl.stream = stream;
	f->pl.magic = XG_MAGIC;
}

/* Pacing of a generator: rate_pps frames/s from start_ns (CLOCK_MONOTONIC)
 * on, in bursts of burst frames (1..XG_LAG_MAX) back to back, as a NIC's
 * interrupt moderation hands them to its driver: one wakeup of the
 * gateway's NAPI thread per burst rather than per frame. */
struct xg_pace {
	__u64 rate_pps;     /* 0: unpaced, every frame is due at once */
	__u64 start_ns;
	__u64 burst;
	__u64 burst_left;   /* frames of the current burst still to send */
	__u64 jitter_ns;    /* phones shape (burst 1): frame i is due up to this much
			     * after its slot, a different delay per frame */
};

/* A delay in [0, jitter_ns) for frame next, the same in BPF and user space
 * (a multiplicative hash: no state, no random source needed). */
static __always_inline __u64 xg_jitter(__u64 next, __u64 jitter_ns)
{
	return jitter_ns ? ((next * 0x9e3779b97f4a7c15ull) >> 24) % jitter_ns : 0;
}

/* When frame number next is due in the phones shape (jitter_ns set):
 * CLOCK_MONOTONIC ns. */
static __always_inline __u64 xg_pace_next_due(const struct xg_pace *p, __u64 next)
{
	return p->start_ns + next * 1000000000u / p->rate_pps + xg_jitter(next, p->jitter_ns);
}

/* Whether frame number next (counted over all streams from 0) may leave at
 * now: 1 when it is due or belongs to a burst under way, 0 when the caller
 * should try again later. After losing its CPU the generator catches up by
 * at most XG_LAG_MAX frames rather than bursting past the veth ring (256):
 * start_ns moves on, and the skipped frames show as a shortfall of the sent
 * rate. */
static __always_inline int xg_pace_due(struct xg_pace *p, __u64 next, __u64 now)
{
	__u64 due;

	if (!p->rate_pps)
		return 1;
	if (now < p->start_ns)
		return 0;
	if (p->jitter_ns) {
		/* Phones: every frame on its own stream's 20 ms clock (the
		 * harness gives rate = streams x 50), late by its jitter. */
		if (now < xg_pace_next_due(p, next))
			return 0;
		/* Behind only past the jitter: slots whose latest due time
		 * passed (a lag rule on the slots alone would keep every frame
		 * waiting for its own jitter: one frame per ~1 ms). */
		if (now > p->start_ns + p->jitter_ns) {
			due = (now - p->start_ns - p->jitter_ns) * p->rate_pps / 1000000000u;
			if (due > next + XG_LAG_MAX)
				p->start_ns += (due - next - XG_LAG_MAX) * 1000000000u /
					       p->rate_pps;
		}
		return 1;
	}
	due = (now - p->start_ns) * p->rate_pps / 1000000000u;
	if (p->burst_left)
		p->burst_left--;
	else if (due < next + p->burst)
		return 0;
	else
		p->burst_left = p->burst - 1;
	if (due - next > XG_LAG_MAX)
		p->start_ns += (due - next - XG_LAG_MAX) * 1000000000u / p->rate_pps;
	return 1;
}

#endif
