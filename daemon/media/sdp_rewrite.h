/* SDP rewriting for the media relay (RFC 4566 c=, o=, m=; RFC 3605 a=rtcp). */
#ifndef SIPMASQ_SDP_REWRITE_H
#define SIPMASQ_SDP_REWRITE_H

#include <netinet/in.h>
#include <stddef.h>

#include "daemon/media/calls.h"

/* Addresses of the relay on each side (enum media_side index), network order. */
struct sdp_addrs {
	struct in_addr bind[2];      /* where relay sockets are bound */
	struct in_addr announce[2];  /* what SDP toward that side says (host_outbound) */
	struct in_addr signal_src;   /* source of the SIP message carrying the SDP (0 = unknown) */
};

/* sdp_rewrite: rewrite an SDP body sent by the party on side `from` so that
 * the party on the other side sends its media to sipmasq: c= (session and
 * media level) and o= get the relay's announced address on the other side,
 * each m= port (not 0) the relay port of that stream, a=rtcp the port+1;
 * ICE candidates, which would leak private addresses, are removed. Streams are
 * opened on `call` by m= index as needed and told the sender's address.
 * in/len: the body (not NUL-terminated); *out: new body (malloc, caller
 * frees), *out_len its length. Returns 0, -EINVAL when the body is not
 * parseable SDP, -ENOSPC when the relay port range is exhausted, -ENOMEM. */
int sdp_rewrite(struct call *call, enum media_side from, const struct sdp_addrs *a,
                const char *in, size_t len, char **out, size_t *out_len);

#endif
