/* Sending from the proxy: messages toward a hop or an address over the
 * right transport, and sipmasq's own answers (RFC 3261 8.2.6, 16.7). */
#ifndef SIPMASQ_PROXY_SEND_H
#define SIPMASQ_PROXY_SEND_H

#include <netinet/in.h>
#include <osipparser2/osip_parser.h>
#include <stdbool.h>

#include "daemon/proxy/proxy_addresses.h"
#include "daemon/sip/sip_hop.h"

/* Retry-After of sipmasq's own 503 answers, s. */
#define RETRY_AFTER_S 10
/* RFC 3261 18.1.1: a larger request goes over TCP (path MTU unknown). */
#define UDP_REQUEST_MAX 1300

/* proxy_proto_to: the transport toward peer (network byte order): the
 * connection it has with sipmasq when there is one (RFC 3261 18.2.2),
 * else UDP. */
enum sip_proto proxy_proto_to(const struct sockaddr_in *peer);

/* proxy_send_hop: serialise msg and hand it to sip_send (at once when the
 * hop's address is known, else once its DNS lookup answers) over the hop's
 * transport. upgrade: a request that RFC 3261 18.1.1 moves from UDP to TCP
 * when larger than UDP_REQUEST_MAX (its topmost Via, pushed by sipmasq,
 * then says TCP). Own Contacts and Record-Routes leaving over TCP get
 * ;transport=tcp. msg stays the caller's; a serialisation failure is
 * logged and the message dropped. */
void proxy_send_hop(const struct proxy_addrs *pa, osip_message_t *msg,
		    const struct sip_hop *hop, bool upgrade);

/* proxy_send_to: serialise msg and send it to dst (network byte order)
 * over the connection dst has with sipmasq, else UDP (RFC 3261 18.2.2).
 * msg stays the caller's. */
void proxy_send_to(const struct proxy_addrs *pa, osip_message_t *msg,
		   const struct sockaddr_in *dst);

/* proxy_reply_with: answer req with code (and Retry-After when retry_after
 * is not 0, s; and header hname: hvalue when hname is not NULL) to where it
 * came from (RFC 3581 symmetric response); never an ACK. */
void proxy_reply_with(const struct proxy_addrs *pa, const osip_message_t *req,
		      const struct sockaddr_in *src, int code, unsigned retry_after,
		      const char *hname, const char *hvalue);

/* proxy_reply: proxy_reply_with without an extra header. */
void proxy_reply(const struct proxy_addrs *pa, const osip_message_t *req,
		 const struct sockaddr_in *src, int code, unsigned retry_after);

#endif
