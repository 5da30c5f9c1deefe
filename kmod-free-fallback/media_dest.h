/* Which SDP-announced destinations the relay may send media to.
 *
 * c=/m= of an SDP body come from whoever sent the SIP message: an INVITE to
 * an auto-answering phone could point a sustained RTP flow at the gateway
 * itself, at loopback, at broadcast/multicast, or from the public side at a
 * host of the private network. media_dest_verdict() refuses those (this
 * host and loopback only for the public side: a PBX may run on the gateway
 * itself, on the private side, as with siproxd); the relay
 * then sends nothing to the announced address (a party that really is there
 * and sends first still latches, and is answered at its source). */
#ifndef SIPMASQ_MEDIA_DEST_H
#define SIPMASQ_MEDIA_DEST_H

#include <netinet/in.h>
#include <stddef.h>

#include "kmod-free-fallback/media.h"

/* One IPv4 address of this host (getifaddrs), network byte order. */
struct media_ifaddr {
	struct in_addr addr;
	struct in_addr mask;        /* 0 = unknown */
	int ifindex;                /* interface it is on */
};

/* media_dest_verdict: whether the party on `side` may be sent media at
 * address a (network order), given this host's addresses list[0..n) and
 * the interfaces of the two sides (ifindex[enum media_side], 0 = unknown).
 * Returns NULL when allowed, else a short reason ("loopback", "multicast",
 * "broadcast", "reserved", "this gateway", "other side's network"). A
 * network that both sides' interfaces share (one interface for both) is
 * never "the other side's". 0.0.0.0 is the caller's business (hold). */
const char *media_dest_verdict(enum media_side side, struct in_addr a,
			       const struct media_ifaddr *list, size_t n, const int ifindex[2]);

/* media_dest_check: media_dest_verdict() against the host's current
 * addresses (getifaddrs; on failure only the address-only rules apply). */
const char *media_dest_check(enum media_side side, struct in_addr a, const int ifindex[2]);

#endif
