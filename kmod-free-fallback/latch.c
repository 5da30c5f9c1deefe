/* Latching policy of the relay; see latch.h. */
#include "autoconfig.h"   /* autoconf; <> so that daemon/config/config.h is never picked */

#include <arpa/inet.h>
#include <string.h>

#include "daemon/base/addr.h"
#include "kmod-free-fallback/latch.h"

#define RTP_HDR_LEN 12

/* RFC 1918, RFC 6598 (carrier-grade NAT) and link-local addresses. */
static bool ip_private(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	return (h >> 24) == 10 || (h >> 20) == 0xac1 || (h >> 16) == 0xc0a8 ||
	       (h >> 22) == (100u << 2 | 1u) || (h >> 16) == 0xa9fe;
}

bool latch_behind_nat(enum media_side side, struct in_addr sdp, struct in_addr signal_src)
{
	if (!signal_src.s_addr || sdp.s_addr != signal_src.s_addr)
		return true;
	return side == MEDIA_PUBLIC && ip_private(sdp);
}

void latch_set_sdp(struct latch *l, enum media_side side, const struct sockaddr_in *sdp,
		   struct in_addr signal_src)
{
	l->sdp_known = true;
	l->strict = !latch_behind_nat(side, sdp->sin_addr, signal_src);
	l->sdp.sin_family = AF_INET;
	l->sdp.sin_addr = sdp->sin_addr;
	l->sdp.sin_port = sdp->sin_port;
	l->signal_ip = signal_src;
	l->tier = LATCH_TIER_NONE;
	memset(l->cand, 0, sizeof(l->cand));
}

void latch_open(struct latch *l, uint64_t now_ms, uint64_t window_ms)
{
	l->opened_ms = now_ms;
	l->until_ms = now_ms + window_ms;
	/* A new signalling event starts the count afresh: candidates of the
	 * previous window cannot carry a sprayer's progress over. */
	memset(l->cand, 0, sizeof(l->cand));
}

enum latch_tier latch_tier_of(const struct latch *l, const struct sockaddr_in *src)
{
	if (src->sin_addr.s_addr == l->sdp.sin_addr.s_addr)
		return src->sin_port == l->sdp.sin_port ? LATCH_TIER_EXACT : LATCH_TIER_SDP_IP;
	if (l->signal_ip.s_addr && src->sin_addr.s_addr == l->signal_ip.s_addr)
		return LATCH_TIER_SIGNAL_IP;
	return LATCH_TIER_STRANGER;
}

void latch_adopted(struct latch *l, const struct sockaddr_in *peer)
{
	l->tier = (uint8_t)latch_tier_of(l, peer);
}

void latch_unlatched(struct latch *l)
{
	l->tier = LATCH_TIER_NONE;
}

/* The candidate slot of src, or a free slot (count 0) for a new one, or
 * NULL when every slot is taken: candidates are never evicted inside a
 * window, so a sprayer rotating source ports cannot push the party out. */
static struct latch_cand *cand_of(struct latch *l, const struct sockaddr_in *src)
{
	struct latch_cand *free_slot = NULL;

	for (unsigned i = 0; i < LATCH_CANDIDATES; i++) {
		struct latch_cand *c = &l->cand[i];

		if (!c->count) {
			if (!free_slot)
				free_slot = c;
		} else if (addr_equal(&c->src, src)) {
			return c;
		}
	}
	return free_slot;
}

/* Whether a candidate other than `me` has proven itself too: then the
 * strangers are ambiguous and none may latch. */
static bool other_proven(const struct latch *l, const struct latch_cand *me)
{
	for (unsigned i = 0; i < LATCH_CANDIDATES; i++)
		if (&l->cand[i] != me && l->cand[i].count >= LATCH_SSRC_PACKETS)
			return true;
	return false;
}

/* NAT mode, a stranger: count it as a candidate; ACCEPT once proven, past
 * the grace period and unambiguous. */
static enum latch_verdict stranger_rtp(struct latch *l, const struct sockaddr_in *src,
				       const unsigned char *pkt, size_t len, uint64_t now_ms)
{
	struct latch_cand *c;
	uint32_t ssrc;

	/* Only RTP version 2 proves anything (STUN keepalives and the like
	 * wait, they are not counted as foreign). */
	if (len < RTP_HDR_LEN || (pkt[0] >> 6) != 2)
		return LATCH_WAIT;
	c = cand_of(l, src);
	if (!c)
		return LATCH_REJECT;   /* cap reached: may not latch in this window */
	memcpy(&ssrc, pkt + 8, sizeof(ssrc));
	if (!c->count || c->ssrc != ssrc) {
		c->src = *src;
		c->ssrc = ssrc;
		c->count = 0;
	}
	if (c->count < LATCH_SSRC_PACKETS)
		c->count++;
	if (c->count < LATCH_SSRC_PACKETS || now_ms < l->opened_ms + LATCH_GRACE_MS ||
	    other_proven(l, c))
		return LATCH_WAIT;
	return LATCH_ACCEPT;
}

enum latch_verdict latch_rtp(struct latch *l, const struct sockaddr_in *src,
			     const unsigned char *pkt, size_t len, uint64_t now_ms)
{
	enum latch_tier t;
	enum latch_verdict v;

	if (now_ms > l->until_ms || !l->sdp_known)
		return LATCH_REJECT;
	t = latch_tier_of(l, src);
	if (t >= l->tier)
		return LATCH_REJECT;   /* latched already, to as good a source */
	if (t == LATCH_TIER_STRANGER) {
		if (l->strict)
			return LATCH_REJECT;
		v = stranger_rtp(l, src, pkt, len, now_ms);
		if (v != LATCH_ACCEPT)
			return v;
	}
	l->tier = (uint8_t)t;
	memset(l->cand, 0, sizeof(l->cand));
	return LATCH_ACCEPT;
}

enum latch_verdict latch_rtcp(const struct latch *l, const struct sockaddr_in *rtp_peer,
			      const struct sockaddr_in *src, uint64_t now_ms)
{
	if (rtp_peer)   /* the party RTP proved: its IP address, any port */
		return src->sin_addr.s_addr == rtp_peer->sin_addr.s_addr ?
		       LATCH_ACCEPT : LATCH_REJECT;
	if (now_ms > l->until_ms || !l->sdp_known)
		return LATCH_REJECT;
	if (l->strict)
		return src->sin_addr.s_addr == l->sdp.sin_addr.s_addr ? LATCH_ACCEPT : LATCH_REJECT;
	return LATCH_WAIT;
}
