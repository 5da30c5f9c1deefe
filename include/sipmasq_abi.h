/* Data layouts shared between the sipmasq daemon and its BPF programs
 * (bpf/smq_fwd.bpf.c). Rules for everything in this file, so that the same
 * bytes mean the same thing on both sides of a BPF map:
 *   - fixed-width kernel types only (__u64, __u32, ...), no pointers, no enums
 *     as field types, no bool;
 *   - fields ordered largest first, any hole filled by an explicit `pad`
 *     field that writers zero;
 *   - every struct's size is pinned by a _Static_assert below;
 *   - a field is never reused for something else: a retired one is renamed
 *     `reserved...` and stays;
 *   - a layout change bumps SMQ_ABI_VERSION.
 * Compiled by gcc/clang for the daemon and by clang -target bpf. */
#ifndef SIPMASQ_ABI_H
#define SIPMASQ_ABI_H

/* BPF objects built against vmlinux.h already have the __uNN types, and
 * <linux/types.h> would redefine them. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Version of the layouts below; the daemon refuses BPF objects built with
 * another one. */
#define SMQ_ABI_VERSION 3   /* 3: smq_flow_action.ingress_ifindex and idle_timeout_s,
                             * reasons wrong_ingress and idle_expired */

/* Traffic counters of one direction of a relayed flow. Written by the data
 * path, read (never reset) by the daemon. Host byte order. */
struct smq_counters {
	__u64 packets;        /* datagrams seen */
	__u64 bytes;          /* UDP payload bytes of those datagrams */
	__u64 last_seen_ns;   /* CLOCK_MONOTONIC ns of the last one (bpf_ktime_get_ns()), 0 = never */
};

/* Address families of struct smq_flow_key (the values of AF_INET and
 * AF_INET6, spelled out because BPF code has no <sys/socket.h>). */
#define SMQ_AF_INET  2
#define SMQ_AF_INET6 10

/* Key of the stream map (smq_streams): one packet direction of one RTP or
 * RTCP flow, as the packet arrives at the gateway. Addresses are 16 bytes in
 * network byte order; an IPv4 address is stored IPv4-mapped
 * (::ffff:a.b.c.d, see smq_ip_set_v4()) so that IPv6 needs no new layout.
 * The source is part of the key: a packet to a relay port from anybody but
 * the latched peer is a miss and goes to the userspace relay (which drops
 * it). Hash keys compare every byte: writers zero the whole struct first. */
struct smq_flow_key {
	__u8   dst_addr[16];  /* relay address the packet was sent to (this gateway) */
	__u8   src_addr[16];  /* latched peer: the packet's source address */
	__be16 dst_port;      /* relay port the packet was sent to, network order */
	__be16 src_port;      /* latched peer's source port, network order */
	__u8   family;        /* SMQ_AF_INET or SMQ_AF_INET6 */
	__u8   pad[3];        /* zero */
} __attribute__((aligned(4)));

/* smq_flow_action.flags bits. Unknown bits must be zero. */
#define SMQ_FLOW_F_RTCP 0x1u  /* informational (bpftool, daemon): the entry carries RTCP */

/* Value of the stream map: how to rewrite and where to send a packet that
 * matched its key, plus the counters of that direction. Addresses as in
 * smq_flow_key (same family as the key: the fast path never translates
 * between IPv4 and IPv6).
 *
 * The counters live in the value, updated with atomic adds, instead of in a
 * separate per-CPU map: one flow is one RTP source, which RSS keeps on one
 * CPU, so the cache line is not contended; a per-CPU hash map would cost
 * nr_cpus copies of every entry, a second lookup per packet, and leave the
 * daemon two maps to keep in step. The price: replacing an entry from
 * userspace rewrites its counters (kernel_engine_stream_put() carries them
 * over; packets counted between its read and its write are lost). */
struct smq_flow_action {
	struct smq_counters counters; /* forwarded by the fast path; packets it passes to the stack are not counted */
	__u64  cookie;           /* opaque to the fast path: the daemon's stream id, for re-adoption after a restart */
	__u8   new_src_addr[16]; /* source to write: the relay address on the other side */
	__u8   new_dst_addr[16]; /* destination to write: the other side's latched peer */
	__be16 new_src_port;     /* relay port on the other side, network order */
	__be16 new_dst_port;     /* other side's peer port, network order */
	__u32  egress_ifindex;   /* interface the packet must leave by; 0 = wherever the route says */
	__u32  flags;            /* SMQ_FLOW_F_* */
	__u32  pad;              /* zero */
	__u32  ingress_ifindex;  /* interface the packet must arrive on (the relay address's side);
	                          * another one passes it to the stack (wrong_ingress), where
	                          * rp_filter and firewall rules see it. 0 = any (tests only) */
	__u32  idle_timeout_s;   /* seconds since counters.last_seen_ns (the last forwarded packet,
	                          * or the daemon's last put) after which the entry stops
	                          * forwarding: packets pass to the stack (idle_expired), so that
	                          * a dead daemon's entries cannot forward old tuples forever.
	                          * 0 = never */
} __attribute__((aligned(8)));

/* Why the fast path did what it did with a packet: the index into the
 * per-CPU array smq_stats, which counts packets per reason. Every packet the
 * XDP or tc program sees adds one to exactly one reason. One X-macro list
 * gives the enum here and the names in the daemon (kernel_engine_reason_name);
 * new reasons go at the end (the map is sized by SMQ_REASON__COUNT, so a new
 * reason makes the pinned map incompatible and it is recreated). */
#define SMQ_REASONS(X) \
	X(FORWARDED,        "forwarded")        /* rewritten and sent (XDP_TX / redirect) */ \
	X(MISS,             "miss")             /* IPv4/UDP with no stream entry: stack */ \
	X(NOT_IPV4,         "not_ipv4")         /* other ethertype (ARP, IPv6, VLAN): stack */ \
	X(NOT_UDP,          "not_udp")          /* IPv4 but not UDP: stack */ \
	X(IP_OPTIONS,       "ip_options")       /* IPv4 header with options: stack */ \
	X(FRAGMENT,         "fragment")         /* IPv4 fragment: stack reassembles */ \
	X(MALFORMED,        "malformed")        /* truncated or inconsistent lengths: stack */ \
	X(TTL_EXCEEDED,     "ttl_exceeded")     /* hit, but TTL <= 1: stack (userspace relays it) */ \
	X(FIB_NO_NEIGH,     "fib_no_neigh")     /* hit, next hop MAC unknown: stack (resolves it) */ \
	X(FIB_FRAG_NEEDED,  "fib_frag_needed")  /* hit, larger than the egress MTU: stack */ \
	X(FIB_FWD_DISABLED, "fib_fwd_disabled") /* hit, forwarding off on the ingress interface: stack */ \
	X(FIB_FAILED,       "fib_failed")       /* hit, no usable route (unreachable, blackhole...): stack */ \
	X(ROUTE_MISMATCH,   "route_mismatch")   /* hit, route leaves by another interface than the entry's: stack */ \
	X(NO_TX_PORT,       "no_tx_port")       /* hit, native XDP, egress not in smq_tx_ports (takes no XDP frames?): stack */ \
	X(REDIRECT_FAILED,  "redirect_failed")  /* rewritten but the redirect was refused: dropped */ \
	X(REWRITE_FAILED,   "rewrite_failed")   /* tc checksum helper failed mid-rewrite: dropped */ \
	X(GSO,              "gso")              /* tc: coalesced (GRO) datagram: stack */ \
	X(WRONG_INGRESS,    "wrong_ingress")    /* hit, but arrived on another interface than the entry's
	                                          * (a spoofed source from the other side): stack */ \
	X(IDLE_EXPIRED,     "idle_expired")     /* hit, but idle past its idle_timeout_s: stack */

enum smq_reason {
#define SMQ_REASON_ENUM_(name, str) SMQ_REASON_##name,
	SMQ_REASONS(SMQ_REASON_ENUM_)
#undef SMQ_REASON_ENUM_
	SMQ_REASON__COUNT
};

/* Names of the maps, as pinned under the pin directory (bpffs) and as
 * declared in bpf/lib/smq_maps.h. */
#define SMQ_MAP_STREAMS  "smq_streams"   /* HASH smq_flow_key -> smq_flow_action */
#define SMQ_MAP_STATS    "smq_stats"     /* PERCPU_ARRAY enum smq_reason -> __u64 packets */
#define SMQ_MAP_TX_PORTS "smq_tx_ports"  /* DEVMAP_HASH ifindex -> ifindex: native XDP redirect targets */

/* smq_ip_set_v4: store the IPv4 address v4 (network order) into a 16-byte
 * address field in IPv4-mapped form. */
static inline void smq_ip_set_v4(__u8 a[16], __be32 v4)
{
	__builtin_memset(a, 0, 10);
	a[10] = 0xff;
	a[11] = 0xff;
	__builtin_memcpy(&a[12], &v4, 4);
}

/* smq_ip_get_v4: the IPv4 address (network order) of an IPv4-mapped field. */
static inline __be32 smq_ip_get_v4(const __u8 a[16])
{
	__be32 v4;

	__builtin_memcpy(&v4, &a[12], 4);
	return v4;
}

/* smq_ip_is_v4: the field holds an IPv4-mapped address. */
static inline int smq_ip_is_v4(const __u8 a[16])
{
	static const __u8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	int i;

	for (i = 0; i < 12; i++)
		if (a[i] != prefix[i])
			return 0;
	return 1;
}

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct smq_counters) == 24, "smq_counters layout changed");
_Static_assert(__builtin_offsetof(struct smq_counters, last_seen_ns) == 16,
	       "smq_counters layout changed");
_Static_assert(sizeof(struct smq_flow_key) == 40, "smq_flow_key layout changed");
_Static_assert(__builtin_offsetof(struct smq_flow_key, dst_port) == 32,
	       "smq_flow_key layout changed");
_Static_assert(__builtin_offsetof(struct smq_flow_key, family) == 36,
	       "smq_flow_key layout changed");
_Static_assert(sizeof(struct smq_flow_action) == 88, "smq_flow_action layout changed");
_Static_assert(__builtin_offsetof(struct smq_flow_action, new_src_addr) == 32,
	       "smq_flow_action layout changed");
_Static_assert(__builtin_offsetof(struct smq_flow_action, egress_ifindex) == 68,
	       "smq_flow_action layout changed");
_Static_assert(__builtin_offsetof(struct smq_flow_action, pad) == 76,
	       "smq_flow_action layout changed");
_Static_assert(__builtin_offsetof(struct smq_flow_action, ingress_ifindex) == 80,
	       "smq_flow_action layout changed");
_Static_assert(__builtin_offsetof(struct smq_flow_action, idle_timeout_s) == 84,
	       "smq_flow_action layout changed");
#endif

#endif
