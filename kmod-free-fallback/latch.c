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

void latch_set_sdp(struct latch *l, enum media_side side, struct in_addr sdp,
		   struct in_addr signal_src)
{
	l->sdp_known = true;
	l->strict = !latch_behind_nat(side, sdp, signal_src);
	l->sdp_ip = sdp;
	l->signal_ip = signal_src;
	memset(l->cand, 0, sizeof(l->cand));
	l->next = 0;
}

void latch_open(struct latch *l, uint64_t now_ms, uint64_t window_ms)
{
	l->until_ms = now_ms + window_ms;
}

/* The candidate slot of src, taking the next slot round robin if new. */
static struct latch_cand *cand_of(struct latch *l, const struct sockaddr_in *src, bool *fresh)
{
	struct latch_cand *c;

	for (unsigned i = 0; i < LATCH_CANDIDATES; i++) {
		c = &l->cand[i];
		if (c->count && addr_equal(&c->src, src)) {
			*fresh = false;
			return c;
		}
	}
	c = &l->cand[l->next];
	l->next = (l->next + 1) % LATCH_CANDIDATES;
	*fresh = true;
	return c;
}

enum latch_verdict latch_rtp(struct latch *l, const struct sockaddr_in *src,
			     const unsigned char *pkt, size_t len, uint64_t now_ms)
{
	struct latch_cand *c;
	uint32_t ssrc;
	bool fresh;

	if (now_ms > l->until_ms || !l->sdp_known)
		return LATCH_REJECT;
	if (l->strict)
		return src->sin_addr.s_addr == l->sdp_ip.s_addr ? LATCH_ACCEPT : LATCH_REJECT;
	if (l->signal_ip.s_addr && src->sin_addr.s_addr == l->signal_ip.s_addr)
		return LATCH_ACCEPT;
	/* NAT: only RTP version 2 proves anything (STUN keepalives and the
	 * like wait, they are not counted as foreign). */
	if (len < RTP_HDR_LEN || (pkt[0] >> 6) != 2)
		return LATCH_WAIT;
	memcpy(&ssrc, pkt + 8, sizeof(ssrc));
	c = cand_of(l, src, &fresh);
	if (fresh || c->ssrc != ssrc) {
		c->src = *src;
		c->ssrc = ssrc;
		c->count = 0;
	}
	if (++c->count < LATCH_SSRC_PACKETS)
		return LATCH_WAIT;
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
		return src->sin_addr.s_addr == l->sdp_ip.s_addr ? LATCH_ACCEPT : LATCH_REJECT;
	return LATCH_WAIT;
}
