/* Helpers over libosip2 messages: the header surgery a masquerading proxy
 * does (RFC 3261 section 16). No SIP parsing of our own: everything goes
 * through libosip2's structures. */
#ifndef SIPMASQ_SIP_MSG_H
#define SIPMASQ_SIP_MSG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include <osipparser2/osip_parser.h>

#include "daemon/sip/sip_proto.h"

/* Prefix of every Via branch sipmasq generates: RFC 3261 magic cookie plus
 * "smq" and a direction letter ('O' = request sent to the public side,
 * 'I' = sent to the private side), so a response tells where it must go. */
#define SIPMSG_BRANCH_PREFIX "z9hG4bKsmq"
/* The To tag of the responses sipmasq makes itself (sip_reply.c). */
#define SIPMSG_OWN_TAG_PREFIX "smq"
#define SIPMSG_BRANCH_LEN 32

/* sipmsg_parse: parse one datagram (len bytes, not NUL-terminated).
 * Returns 0 with *out set (free with osip_message_free); -EBADMSG when
 * libosip2 rejects it (*out NULL, or the partly parsed request when its
 * Via, From, To, Call-ID and CSeq were read, e.g. a body shorter than
 * Content-Length, so that it can be answered 400); -EPROTO when it parsed but a mandatory
 * header (Via, From, To, Call-ID, CSeq) is missing or the CSeq method differs
 * from the request method, and -EPROTONOSUPPORT for a SIP version other than
 * 2.0: in both cases *out is set so the caller can answer 400 or 505. */
int sipmsg_parse(const char *buf, size_t len, osip_message_t **out);

/* sipmsg_serialize: rebuild the wire form after changes. *out is allocated
 * with osip_malloc (free with osip_free). Returns 0 or -EBADMSG. */
int sipmsg_serialize(osip_message_t *msg, char **out, size_t *len);

/* sipmsg_uri_host_port: a URI's host and port (host order; 5060 when absent).
 * Returns the host string (owned by the URI) or NULL. */
const char *sipmsg_uri_host_port(const osip_uri_t *uri, unsigned short *port);

/* sipmsg_uri_param: value of URI parameter `name` (owned by the URI), NULL
 * when absent; "" for a parameter without value. */
const char *sipmsg_uri_param(const osip_uri_t *uri, const char *name);

/* sipmsg_via_param: value of Via parameter `name` (owned), NULL when absent. */
const char *sipmsg_via_param(const osip_via_t *via, const char *name);

/* sipmsg_via_mark_received: RFC 3261 18.2.1 and RFC 3581: add received=
 * (when the source differs from sent-by) and fill rport= with the source
 * port (when the client asked with an empty rport) on the topmost Via. */
void sipmsg_via_mark_received(osip_message_t *msg, const struct sockaddr_in *src);

/* sipmsg_branch: the branch sipmasq puts in its Via for request msg, sent
 * toward direction `dir` ('O' or 'I'). Stateless-proxy rule of RFC 3261
 * 16.11: derived from the incoming topmost Via branch (or the dialog fields
 * when that is not RFC 3261 style), so retransmissions, a CANCEL and the ACK
 * of a non-2xx response get the same branch as their INVITE. out must hold
 * SIPMSG_BRANCH_LEN + 1 bytes. */
void sipmsg_branch(const osip_message_t *msg, char dir, char *out);

/* sipmsg_via_push: insert Via "SIP/2.0/<proto> host:port;branch=..;rport" on
 * top; proto is the transport the request leaves on (RFC 3261 18.1.1). */
int sipmsg_via_push(osip_message_t *msg, struct in_addr host, unsigned short port,
                    enum sip_proto proto, const char *branch);

/* sipmsg_via_proto: the transport of a Via's sent-protocol: TCP for "TCP"
 * (any case), UDP for anything else. */
enum sip_proto sipmsg_via_proto(const osip_via_t *via);

/* sipmsg_via_set_proto: change the sent-protocol of the topmost Via. */
void sipmsg_via_set_proto(osip_message_t *msg, enum sip_proto proto);

/* sipmsg_via_mark_connection: for a request received over a connection:
 * rport= and received= of the topmost Via name the connection's peer src
 * whether or not the client asked (RFC 3261 18.2.2: the response goes back
 * over that connection, which is found by its peer address). */
void sipmsg_via_mark_connection(osip_message_t *msg, const struct sockaddr_in *src);

/* sipmsg_uri_set_param: set (or add) URI parameter name=value (copied). */
void sipmsg_uri_set_param(osip_uri_t *uri, const char *name, const char *value);

/* sipmsg_via_pop: remove and free the topmost Via. */
void sipmsg_via_pop(osip_message_t *msg);

/* sipmsg_record_route_push: insert "Record-Route: <sip:host:port;lr>" on top. */
int sipmsg_record_route_push(osip_message_t *msg, struct in_addr host, unsigned short port);

/* sipmsg_max_forwards: the Max-Forwards value, or -1 when absent/invalid. */
int sipmsg_max_forwards(osip_message_t *msg);

/* sipmsg_set_max_forwards: replace (or add) Max-Forwards with value. */
void sipmsg_set_max_forwards(osip_message_t *msg, int value);

/* sipmsg_expires: the Expires header value in seconds, or -1 when absent. */
int sipmsg_expires(osip_message_t *msg);

/* sipmsg_set_expires: replace (or add) the Expires header. */
void sipmsg_set_expires(osip_message_t *msg, unsigned seconds);

/* sipmsg_contact_expires: the expires= parameter of a Contact, -1 if absent. */
int sipmsg_contact_expires(const osip_contact_t *c);

/* sipmsg_sdp_body: the message's SDP body, or NULL when there is no body or
 * its Content-Type is not application/sdp (never guess the type). */
osip_body_t *sipmsg_sdp_body(osip_message_t *msg);

/* sipmsg_replace_body: replace all bodies with one body of len bytes
 * (copied); Content-Length follows on serialisation. Returns 0 or -ENOMEM. */
int sipmsg_replace_body(osip_message_t *msg, const char *body, size_t len);

/* sipmsg_call_id: "number@host" of the Call-ID into buf (size n). */
const char *sipmsg_call_id(const osip_message_t *msg, char *buf, size_t n);

/* sipmsg_uri_str: URI as a string into buf (size n); "" on failure. */
const char *sipmsg_uri_str(const osip_uri_t *uri, char *buf, size_t n);

/* sipmsg_trace_init: route libosip2's own trace (which otherwise prints a
 * line per parse error to stdout, unlimited) to log_debug(DBCLASS_SIP); with
 * that class off, its levels are disabled. Call after parser_init() and
 * after log_debug_mask is set. */
void sipmsg_trace_init(void);

/* sipmsg_make_response: a response to request req with status `code`
 * (RFC 3261 8.2.6: Via, From, To, Call-ID and CSeq copied; a To tag added to
 * final responses that lack one; Content-Length 0). retry_after_s > 0 adds
 * Retry-After (RFC 3261 20.33). *out is freed with osip_message_free.
 * Returns 0 or -ENOMEM. (sip_reply.c) */
int sipmsg_make_response(const osip_message_t *req, int code, unsigned retry_after_s,
                         osip_message_t **out);

/* sipmsg_to_tag_is_ours: msg's To tag is one sipmasq gave a response of
 * its own: the ACK of such a non-2xx final response ends a transaction
 * sipmasq was the UAS of and goes no further (RFC 3261 17.2.1). */
bool sipmsg_to_tag_is_ours(const osip_message_t *msg);

#endif
