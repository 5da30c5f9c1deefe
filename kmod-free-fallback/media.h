/* Media plane interface: relay streams between the private and public side.
 *
 * A stream is one SDP media line (m=) relayed through sipmasq: it owns a relay
 * port pair (RTP on an even port, RTCP on port+1) on each side. The daemon
 * opens a stream when it rewrites an m= line, tells it where each party said
 * it receives (SDP), and closes it when the call ends. Engines only move
 * packets. The userspace engine (kmod-free-fallback/relay_user.c) is always
 * present and reserves the ports; kernel engines take over forwarding later. */
#ifndef SIPMASQ_MEDIA_H
#define SIPMASQ_MEDIA_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

enum media_side {
	MEDIA_PRIVATE = 0,   /* the inbound interface: phones, PBX */
	MEDIA_PUBLIC = 1,    /* the outbound interface: providers, remote peers */
};

/* One side of a stream. Addresses are in network byte order. */
struct media_leg {
	struct sockaddr_in local;       /* relay address and RTP port here; RTCP = port+1 */
	struct sockaddr_in sdp;         /* last address the party announced in SDP (port 0 = none) */
	struct sockaddr_in peer;        /* where RTP is sent: SDP address, then the latched source */
	struct sockaddr_in peer_rtcp;   /* where RTCP is sent */
	bool latched;                   /* peer learnt from a received RTP packet (symmetric RTP) */
	bool rtcp_latched;
	uint64_t rx_packets, rx_bytes;  /* received on this side (RTP + RTCP) */
	uint64_t fwd_packets, fwd_bytes;/* of those, forwarded to the other side */
	uint64_t kernel_packets, kernel_bytes; /* of fwd_*: forwarded by a kernel engine */
	uint64_t kernel_seen[2][2];     /* offload layer: the kernel entry's counters already
	                                 * folded in, [RTP/RTCP][packets/bytes] (saved across
	                                 * a restart so nothing is counted twice) */
	uint64_t drops;                 /* received but not forwarded (no peer yet, send error,
	                                 * foreign source, latching not proven yet) */
	uint64_t foreign;               /* of drops: from a source that is not the latched party
	                                 * or may not latch (RTP injection attempts) */
	uint64_t last_rx_ms;            /* evloop_now_ms() of the last packet from the party
	                                 * (not foreign ones), 0 = none yet */
	int fd_rtp, fd_rtcp;            /* userspace engine sockets */
	bool no_relay_tx[2];            /* [RTP/RTCP]: the relay must not forward this
	                                 * party's packets (it drops them): a conntrack
	                                 * entry rewrites them in the kernel, and a copy
	                                 * the relay sent would clash with the entry's
	                                 * tuples and leave from another port. Only
	                                 * packets queued before the entry existed, or
	                                 * after it expired, still reach the relay. */
};

/* A relayed media line. Owned by the media plane: created by
 * media_stream_open(), freed by media_stream_close(). */
struct media_stream {
	struct media_leg leg[2];        /* indexed by enum media_side */
	uint64_t opened_ms;             /* evloop_now_ms() at open */
	void *engine_priv;              /* reserved for kernel engines */
};

/* media_init: set the relay port range [port_low, port_high] (host byte
 * order; low is rounded up and high down to whole even/odd pairs). Sockets
 * are registered with the evloop. Returns 0 or -EINVAL for an empty range. */
int media_init(uint16_t port_low, uint16_t port_high);

/* media_fini: close every stream still open. */
void media_fini(void);

/* media_stream_open: reserve a relay port pair bound to `private_addr` and
 * another bound to `public_addr`, each drawn from the range. On success *out
 * is a new stream with both peers unknown. Returns 0, -ENOSPC when the range
 * has no free pair, or -errno from socket calls. */
int media_stream_open(struct in_addr private_addr, struct in_addr public_addr,
                      struct media_stream **out);

/* media_stream_set_peer: the address and RTP port that the party on `side`
 * announced in its SDP (c= and m=), network byte order, in a SIP message
 * that came from signal_src (network order, 0 = unknown). RTCP goes to
 * port+1 until an RTCP packet is latched. If the address or port changes
 * (e.g. a re-INVITE), the latch on that side is dropped and learnt again.
 * Each call is a signalling event: latching is allowed again on both sides
 * for the latch window (kmod-free-fallback/latch.h says from where). */
void media_stream_set_peer(struct media_stream *s, enum media_side side,
                           const struct sockaddr_in *sdp_addr, struct in_addr signal_src);

/* media_stream_signal: a signalling event of s's call without new SDP for
 * it (e.g. a 200 OK without SDP after a reliable 183 answer, an ACK):
 * reopens latching on both sides like media_stream_set_peer. s may be NULL. */
void media_stream_signal(struct media_stream *s);

/* Default of rtp_latch_window, seconds. */
#define MEDIA_LATCH_WINDOW_DEFAULT_S 10u

/* media_set_latch_window: how long after a signalling event (stream open,
 * media_stream_set_peer) a leg may latch its peer, in seconds. */
void media_set_latch_window(unsigned seconds);

/* media_set_dscp: DSCP (0..63, RFC 2474; 0 = unmarked) of what the
 * userspace relay sends from sockets opened from now on (rtp_dscp). Kernel
 * engines forward with the sender's DSCP. */
void media_set_dscp(unsigned dscp);
/* media_leg_may_send: whether media may be sent to the party on `side` of
 * s now (its RTP peer, or RTCP peer if rtcp): a usable address that is not
 * refused (kmod-free-fallback/media_dest.h), and, unless the party is in
 * strict latching mode (its SDP address is its signalling address), one
 * that proved itself by sending (latched). Engines (kernel offload too)
 * send nothing otherwise: an SDP cannot aim a flow at a third host. */
bool media_leg_may_send(const struct media_stream *s, enum media_side side, bool rtcp);

/* media_set_ifindex: the interfaces the private and the public relay
 * addresses are on (0 = unknown, not checked). A datagram to a relay port
 * that arrives on another interface (except loopback) is dropped and
 * counted as foreign: its source is spoofed (a phone's LAN address sent in
 * from the WAN), what rp_filter would drop when it is on. */
void media_set_ifindex(int ifindex_private, int ifindex_public);

/* media_wrong_ingress_drops: datagrams dropped since start because they
 * arrived on the other side's interface (also counted as foreign). */
uint64_t media_wrong_ingress_drops(void);

/* media_foreign_drops: datagrams dropped for their source since start, all
 * streams (closed ones too). */
uint64_t media_foreign_drops(void);

/* media_stream_close: release the ports and free s. s may be NULL. */
void media_stream_close(struct media_stream *s);

/* What the relay tells the offload layer (daemon/media/offload.c). */
enum media_event {
	MEDIA_EV_PEERS,    /* a peer was latched or announced anew: kernel entries may change */
	MEDIA_EV_CLOSING,  /* the stream is about to be freed: take its kernel entries away */
};

/* Called by the relay engine on those events; set once at start. */
typedef void (*media_hook_fn)(struct media_stream *s, enum media_event ev);

/* media_set_hook: install fn (NULL: nobody listens). */
void media_set_hook(media_hook_fn fn);

/* media_stream_adopt: open a stream again with exactly the ports, SDP and
 * latched peers, and counters of legs[] (a call saved by a previous daemon,
 * whose kernel entries may still forward). Ports must lie in the range.
 * Returns 0 with *out set, -EBUSY when a port is taken, -EINVAL when it is
 * outside the range, or -errno from bind(). */
int media_stream_adopt(const struct media_leg legs[2], struct media_stream **out);

/* media_generation: a number that changes whenever a stream opens or
 * closes, gets a new SDP address or latches a peer (what a saved call
 * state must follow). Compare for equality only. */
unsigned media_generation(void);

/* media_ports_free: number of free relay port pairs (for logs and tests). */
unsigned media_ports_free(void);

#endif
