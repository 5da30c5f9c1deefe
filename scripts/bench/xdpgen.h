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
/* Delay histogram: one bucket per microsecond, the last one is "or more". */
#define XG_HIST_BUCKETS 16384
/* Most frames the paced generator sends back to back to catch up. */
#define XG_LAG_MAX 32
#define XG_MAGIC 0x58474e31u   /* "XGN1" */
/* A generated frame: Ethernet, IPv4, UDP, 12-byte RTP header and 160 bytes
 * of payload (G.711, 20 ms): 172 bytes of UDP payload, 214 on the wire. */
#define XG_FRAME_LEN (14 + 20 + 8 + 12 + 160)
/* Exit status of a generator whose kernel refuses its way of sending (the
 * call is named on stderr): the harness then tries the next generator. */
#define XG_EXIT_REFUSED 3

enum { XG_CNT_FRAMES, XG_CNT_MAX };

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
};

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
