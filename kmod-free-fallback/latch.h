/* Latching policy of the relay: which source a stream leg may learn as its
 * peer (symmetric RTP), as a defence against RTP injection, "RTP Bleed" and
 * media hijack by a sprayer.
 *
 * A leg may latch only while its window is open (opened by every signalling
 * event of the stream: SDP offer, answer, re-INVITE, ACK) and only after the
 * party's own SDP. Sources are ranked in tiers, best first (the idea of
 * rtpengine's "heuristic" endpoint learning, stricter):
 *   0 EXACT      the SDP address and port: latches at once;
 *   1 SDP_IP     the SDP address, another port: latches at once;
 *   2 SIGNAL_IP  the address the party's SIP came from (the NAT in front of
 *                a phone, as a rule): latches at once;
 *   3 STRANGER   any other source, and only in NAT mode (see below): latches
 *                only after LATCH_GRACE_MS since the last signalling event,
 *                after LATCH_SSRC_PACKETS RTP packets with one SSRC, while
 *                no better tier has latched, and only if it is the only
 *                proven stranger (two proven strangers = a sprayer is there:
 *                nobody latches, a stranger never gets the call's audio by
 *                luck).
 * Inside the window a better tier replaces a worse latched source (the
 * party's own address re-latches over a stranger that won first); an equal
 * or worse one never does. Stranger candidates are never evicted: at most
 * LATCH_CANDIDATES new ones per window, later ones are not followed (a
 * sprayer rotating source ports can block a stranger party, never win).
 *
 * Modes: strict when the party's SDP address is where it really is (same as
 * its signalling source, and not a private address on the public side):
 * strangers never latch. NAT otherwise (SDP private on the public side,
 * different from the signalling source, or the source unknown as for a call
 * adopted after a restart).
 *
 * RTCP latches only from the IP address RTP latched to (or, strict, the SDP
 * address). Pure logic over the arguments: no I/O, no clock. */
#ifndef SIPMASQ_LATCH_H
#define SIPMASQ_LATCH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmod-free-fallback/media.h"

#define LATCH_CANDIDATES   4     /* NAT mode: strangers followed per window */
#define LATCH_SSRC_PACKETS 3     /* NAT mode: same-SSRC packets a stranger needs */
#define LATCH_GRACE_MS     1000u /* NAT mode: no stranger before this, ms after
                                  * the last signalling event */

/* How well a source matches what the party announced; lower is better. */
enum latch_tier {
	LATCH_TIER_EXACT = 0,
	LATCH_TIER_SDP_IP = 1,
	LATCH_TIER_SIGNAL_IP = 2,
	LATCH_TIER_STRANGER = 3,
	LATCH_TIER_NONE = 4,        /* nothing latched */
};

/* A stranger seen while latching in NAT mode. */
struct latch_cand {
	struct sockaddr_in src;
	uint32_t ssrc;              /* network byte order, as on the wire */
	unsigned count;             /* consecutive packets with that SSRC; 0 = free slot */
};

/* Latching state of one leg. Zeroed = window closed, no SDP: nothing
 * latches before latch_set_sdp(). */
struct latch {
	uint64_t opened_ms;         /* last signalling event (latch_open) */
	uint64_t until_ms;          /* latching allowed while now <= until_ms */
	bool sdp_known;             /* latch_set_sdp() was called: the party spoke */
	bool strict;                /* see above; false = NAT */
	struct sockaddr_in sdp;     /* SDP address and RTP port */
	struct in_addr signal_ip;   /* where the party's SIP came from (0 = unknown) */
	uint8_t tier;               /* enum latch_tier of the latched RTP source */
	struct latch_cand cand[LATCH_CANDIDATES];
};

enum latch_verdict {
	LATCH_REJECT,   /* foreign source: drop and count it */
	LATCH_WAIT,     /* maybe the party, not proven yet: drop, not foreign */
	LATCH_ACCEPT,   /* latch this source now (replacing a worse one if latched) */
};

/* latch_behind_nat: whether the party on `side`, whose SDP gave address sdp
 * and whose SIP message came from signal_src (0 = unknown), must be treated
 * as behind NAT. Private addresses (RFC 1918, RFC 6598, link-local) count
 * only on the public side: on the private side they are the norm. */
bool latch_behind_nat(enum media_side side, struct in_addr sdp, struct in_addr signal_src);

/* latch_set_sdp: a new SDP address and RTP port for the leg (network order):
 * mode from latch_behind_nat(), nothing latched, candidates forgotten. The
 * window is not touched. */
void latch_set_sdp(struct latch *l, enum media_side side, const struct sockaddr_in *sdp,
		   struct in_addr signal_src);

/* latch_open: a signalling event: (re)open the window until now_ms +
 * window_ms, restart the stranger grace period, forget stranger candidates. */
void latch_open(struct latch *l, uint64_t now_ms, uint64_t window_ms);

/* latch_tier_of: the tier src would have on this leg (LATCH_TIER_STRANGER
 * also in strict mode; latch_rtp() rejects it there). */
enum latch_tier latch_tier_of(const struct latch *l, const struct sockaddr_in *src);

/* latch_adopted: the leg's RTP peer `peer` was latched by a previous daemon
 * (restart): remember its tier so that only a better one may replace it. */
void latch_adopted(struct latch *l, const struct sockaddr_in *peer);

/* latch_unlatched: the relay forgot the latched RTP source (the leg starts
 * over as if nothing had latched). */
void latch_unlatched(struct latch *l);

/* latch_rtp: verdict for an RTP datagram pkt[0..len) from src, on a leg that
 * has not latched or whose latched source is not src. LATCH_ACCEPT records
 * src's tier as the latched one. Follows NAT-mode candidates. */
enum latch_verdict latch_rtp(struct latch *l, const struct sockaddr_in *src,
			     const unsigned char *pkt, size_t len, uint64_t now_ms);

/* latch_rtcp: verdict for an RTCP datagram from src on a leg whose RTCP has
 * not latched; rtp_peer is the RTP source latched on that leg, or NULL. */
enum latch_verdict latch_rtcp(const struct latch *l, const struct sockaddr_in *rtp_peer,
			      const struct sockaddr_in *src, uint64_t now_ms);

#endif
