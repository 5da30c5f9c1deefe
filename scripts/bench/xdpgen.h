/* Shared between xdpgen.bpf.c and xdpgen.c: the bench payload after the RTP
 * header and the sink's maps. Host byte order (sender and sink are one host). */
#ifndef XDPGEN_H
#define XDPGEN_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#define XG_MAX_STREAMS 65536
/* Delay histogram: one bucket per microsecond, the last one is "or more". */
#define XG_HIST_BUCKETS 16384
/* Most frames the paced generator sends back to back to catch up. */
#define XG_LAG_MAX 32
#define XG_MAGIC 0x58474e31u   /* "XGN1" */

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

#endif
