/* Latching policy of the relay: which source a stream leg may learn as its
 * peer (symmetric RTP), as a defence against RTP injection and "RTP Bleed".
 *
 * A leg may latch only while its window is open (opened by every signalling
 * event of the stream: SDP offer, answer, re-INVITE) and only a source that
 * the SDP allows (none before the party's own SDP: the window opens at the
 * offer, when the answering party's relay port is already announced):
 *   - strict: the party's SDP address is where it really is (same as its
 *     signalling source, and not a private address on the public side):
 *     only packets from that IP address latch (any port: symmetric RTP from
 *     another port of the same host is common);
 *   - NAT: the party is behind NAT (SDP address private on the public side,
 *     different from its signalling source, or unknown): any source, but
 *     only the first that sends LATCH_SSRC_PACKETS RTP packets with the same
 *     SSRC (rtpengine's "heuristic" learning, stricter); a source with the
 *     signalling source's IP address (the NAT in front of the party, as a
 *     rule) latches at once, as it would in strict mode.
 * RTCP latches only from the IP address RTP latched to (or, strict, the SDP
 * address). Pure logic over the arguments: no I/O, no clock. */
#ifndef SIPMASQ_LATCH_H
#define SIPMASQ_LATCH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmod-free-fallback/media.h"

#define LATCH_CANDIDATES   4   /* NAT mode: sources followed at once */
#define LATCH_SSRC_PACKETS 3   /* NAT mode: same-SSRC packets needed to latch */

/* A source seen while latching in NAT mode. */
struct latch_cand {
	struct sockaddr_in src;
	uint32_t ssrc;              /* network byte order, as on the wire */
	unsigned count;             /* consecutive packets with that SSRC */
};

/* Latching state of one leg. Zeroed = window closed, no SDP. */
struct latch {
	uint64_t until_ms;          /* latching allowed while now <= until_ms */
	bool sdp_known;             /* latch_set_sdp() was called: the party spoke */
	bool strict;                /* see above; false = NAT */
	struct in_addr sdp_ip;      /* strict mode: the only address that latches */
	struct in_addr signal_ip;   /* NAT mode: latches at once (0 = unknown) */
	struct latch_cand cand[LATCH_CANDIDATES];
	unsigned next;              /* candidate slot reused next (round robin) */
};

enum latch_verdict {
	LATCH_REJECT,   /* foreign source: drop and count it */
	LATCH_WAIT,     /* maybe the party, not proven yet: drop, not foreign */
	LATCH_ACCEPT,   /* latch this source now */
};

/* latch_behind_nat: whether the party on `side`, whose SDP gave address sdp
 * and whose SIP message came from signal_src (0 = unknown), must be treated
 * as behind NAT. Private addresses (RFC 1918, RFC 6598, link-local) count
 * only on the public side: on the private side they are the norm. */
bool latch_behind_nat(enum media_side side, struct in_addr sdp, struct in_addr signal_src);

/* latch_set_sdp: a new SDP address for the leg (network order): mode from
 * latch_behind_nat(), candidates forgotten. The window is not touched. */
void latch_set_sdp(struct latch *l, enum media_side side, struct in_addr sdp,
		   struct in_addr signal_src);

/* latch_open: (re)open the window until now_ms + window_ms. */
void latch_open(struct latch *l, uint64_t now_ms, uint64_t window_ms);

/* latch_rtp: verdict for an RTP datagram pkt[0..len) from src on a leg that
 * has not latched yet; follows NAT-mode candidates. */
enum latch_verdict latch_rtp(struct latch *l, const struct sockaddr_in *src,
			     const unsigned char *pkt, size_t len, uint64_t now_ms);

/* latch_rtcp: verdict for an RTCP datagram from src on a leg whose RTCP has
 * not latched; rtp_peer is the RTP source latched on that leg, or NULL. */
enum latch_verdict latch_rtcp(const struct latch *l, const struct sockaddr_in *rtp_peer,
			      const struct sockaddr_in *src, uint64_t now_ms);

#endif
