/* The last step of forwarding: send the serialized message to its next hop
 * at once when the hop's address is known (numeric host, cache hit), else
 * park a copy until the resolver answers (RFC 3263), so that a DNS lookup
 * never holds up the SIP loop. The parking lot is bounded in messages,
 * bytes and time. */
#ifndef SIPMASQ_SIP_SEND_H
#define SIPMASQ_SIP_SEND_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/dns/resolver.h"
#include "daemon/sip/sip_hop.h"

#define SIP_SEND_PARK_MAX 256            /* messages waiting for a lookup */
#define SIP_SEND_PARK_BYTES (2u << 20)   /* their total size */
/* Longest wait for one lookup, ms: the resolver gives its own answer first
 * (an SRV that times out still falls back to A), with slack for a loaded
 * host; 8 s cut the A fallback off after a 7 s SRV timeout. */
#define SIP_SEND_WAIT_MS (RESOLVER_LOOKUP_MAX_MS + 2000)

/* Why a message could not be sent. */
enum sip_send_error {
	SIP_SEND_NO_SUCH_HOST = 1,  /* NXDOMAIN, no address, no SIP service (SRV ".") */
	SIP_SEND_DNS_DOWN,          /* the DNS did not answer or failed; or the wait ran out */
	SIP_SEND_BUSY,              /* the parking lot or the resolver is full */
	SIP_SEND_SELF,              /* the name resolves to sipmasq's own SIP address */
	SIP_SEND_UNREACHABLE,       /* the transport failed: a TCP connect refused or timed
	                             * out, a connection lost before writing it, a socket
	                             * error (RFC 3261 16.9: answered like a 503) */
};

/* Told about a message (buf, len bytes, NUL-terminated when sip_send's
 * buf was; valid during the call only) that will not be sent, after one
 * rate-limited log line. */
typedef void (*sip_send_fail_cb)(const char *buf, size_t len, enum sip_send_error why);

/* True when dst (network byte order) is sipmasq's own SIP address. */
typedef bool (*sip_send_self_cb)(const struct sockaddr_in *dst);

/* sip_send_init: set the callbacks (either may be NULL), empty the
 * parking lot, and take over the TCP transport's undeliverable messages
 * (sip_tcp_set_undeliverable): they fail with SIP_SEND_UNREACHABLE. */
void sip_send_init(sip_send_fail_cb on_fail, sip_send_self_cb is_self);

/* sip_send: send buf (len bytes, copied when parked) to hop. Returns 0
 * (sent, or handed to the transport which logs its own errors), 1 (parked:
 * sent or failed later from the evloop), or -1 (failed now: on_fail was
 * called before returning). */
int sip_send(const struct sip_hop *hop, const char *buf, size_t len);

/* sip_send_expire: fail the parked messages whose wait ran out at now_ms
 * (evloop_now_ms). Call about once a second. */
void sip_send_expire(uint64_t now_ms);

/* sip_send_fini: drop every parked message silently. */
void sip_send_fini(void);

#endif
