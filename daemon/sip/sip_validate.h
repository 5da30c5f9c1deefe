/* Validation of hostile or broken SIP before the proxy acts on it:
 * sipmasq's size limits (sip_max_message_size, sip_max_headers,
 * sip_max_vias), the request checks of RFC 3261 16.3 (step 2: URI scheme,
 * step 5: Proxy-Require) and the answer to requests for sipmasq itself
 * (RFC 3261 8.2.1, 16.5). Framing (RFC 3261 18.3: the body is what
 * Content-Length says, bytes beyond it are dropped, a shorter datagram is
 * a 400) is libosip2's, see sipmsg_parse. */
#ifndef SIPMASQ_SIP_VALIDATE_H
#define SIPMASQ_SIP_VALIDATE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include <osipparser2/osip_parser.h>

#include "daemon/config/config.h"

/* What to answer a request that failed a check. */
struct sipval_verdict {
	int status;                /* 0 = passed; else the SIP status to answer */
	const char *limit;         /* the directive that refused it, or NULL */
	unsigned value;            /* and its value */
	char unsupported[256];     /* 420: value of the Unsupported header */
};

/* sipval_header_count: header fields of the raw message buf (len bytes):
 * lines between the start line and the first empty line, a folded line
 * (starting with SP or HT) counting with the one it continues. */
unsigned sipval_header_count(const char *buf, size_t len);

/* sipval_limits: sip_max_message_size, sip_max_headers and (requests)
 * sip_max_vias on the datagram buf/len and its parsed form msg. Returns 0,
 * or 513 (Message Too Large, RFC 3261 21.5.14) with v->limit set. */
int sipval_limits(const struct sipmasq_config *cfg, const char *buf, size_t len,
                  const osip_message_t *msg, struct sipval_verdict *v);

/* sipval_content_length_ok: false when msg has a Content-Length that is
 * not a decimal number a datagram can hold (libosip2 reads "-999" or
 * "abc" as 0 and parses on). */
bool sipval_content_length_ok(const osip_message_t *msg);

/* sipval_request: the RFC 3261 16.3 checks of request msg: step 1, a bad
 * Content-Length value gives 400; step 2, a
 * Request-URI scheme other than sip: gives 416 (sips: too: sipmasq has no
 * TLS to keep it secure, RFC 3261 26.2.2); step 5, Proxy-Require option
 * tags (sipmasq supports none) give 420 with v->unsupported listing them.
 * Returns v->status (0 = passed). */
int sipval_request(const osip_message_t *msg, struct sipval_verdict *v);

/* sipval_parse_foreign_scheme: libosip2 rejects a whole request whose
 * Request-URI has a scheme it cannot parse (RFC 4475 3.3.7:
 * "soap.beep://192.0.2.103:3002"). For a datagram buf/len whose start
 * line is "METHOD scheme:... SIP/2.0" with a scheme other than sip, parse
 * a copy with the Request-URI replaced, so that the request can still be
 * answered 416. Returns 0 with *out set (osip_message_free), else -EINVAL
 * (*out NULL). */
int sipval_parse_foreign_scheme(const char *buf, size_t len, osip_message_t **out);

/* sipval_local_status: the answer to request msg whose Request-URI names
 * sipmasq itself and no phone behind it: 200 to OPTIONS (RFC 3261 11.2),
 * 501 to a method sipmasq does not know (RFC 3261 8.2.1), else 404 (no
 * such resource here, RFC 3261 16.5). It does not depend on the user part,
 * so the public side cannot tell a known user from an unknown one. */
int sipval_local_status(const osip_message_t *msg);

/* sipval_sdp_streams: m= lines of an SDP body (len bytes, need not be
 * NUL-terminated). */
unsigned sipval_sdp_streams(const char *body, size_t len);

/* sipval_limit_hit: one rate-limited line (per directive) naming the limit
 * `directive` = value that refused `what` from src. directive must be a
 * string literal (it keys the rate limit). */
void sipval_limit_hit(const char *directive, unsigned value, const char *what,
                      const struct sockaddr_in *src);

#endif
