/* Sending from the proxy: serialise a message and hand it to the send
 * step over the right transport, and the proxy's own answers. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "daemon/proxy/proxy_send.h"
#include "daemon/sip/sip_msg.h"
#include "daemon/transport/sip_send.h"
#include "daemon/transport/sip_tcp.h"

/* The transport toward a peer: the connection it has with sipmasq when
 * there is one (RFC 3261 18.2.2), else UDP. */
enum sip_proto proxy_proto_to(const struct sockaddr_in *peer)
{
	return sip_tcp_connected(peer) ? SIP_PROTO_TCP : SIP_PROTO_UDP;
}

/* sipmasq's own Record-Route entries and masqueraded Contacts in a message
 * that leaves over TCP say ;transport=tcp, so that the peer's requests in
 * the dialog (and to the binding) come back over TCP (RFC 3263 4.1). */
static void transport_mark(const struct proxy_addrs *pa, osip_message_t *msg,
			   enum sip_proto proto)
{
	if (proto != SIP_PROTO_TCP)
		return;
	for (int i = 0; i < osip_list_size(&msg->contacts); i++) {
		osip_contact_t *c = osip_list_get(&msg->contacts, i);

		if (c->url && sipmsg_uri_param(c->url, "smqid"))
			sipmsg_uri_set_param(c->url, "transport", "tcp");
	}
	for (int i = 0; i < osip_list_size(&msg->record_routes); i++) {
		osip_record_route_t *rr = osip_list_get(&msg->record_routes, i);

		if (rr->url && proxy_uri_is_ours(pa, rr->url))
			sipmsg_uri_set_param(rr->url, "transport", "tcp");
	}
}

/* Serialise msg and hand it to the send step (sip_send: at once when the
 * hop's address is known, else once its DNS lookup answers) over the
 * hop's transport. upgrade: a request that RFC 3261 18.1.1 moves from UDP
 * to TCP when larger than UDP_REQUEST_MAX (its Via, pushed by sipmasq,
 * then says TCP). */
void proxy_send_hop(const struct proxy_addrs *pa, osip_message_t *msg,
		    const struct sip_hop *hop_in, bool upgrade)
{
	struct sip_hop hop = *hop_in;
	char *buf = NULL;
	size_t len;
	int rc;

	transport_mark(pa, msg, hop.proto);
	rc = sipmsg_serialize(msg, &buf, &len);
	if (rc == 0 && upgrade && hop.proto == SIP_PROTO_UDP && len > UDP_REQUEST_MAX) {
		log_debug(DBCLASS_PROXY, "%zu-byte request to %s: TCP instead of UDP", len,
			  hop.host);
		osip_free(buf);
		buf = NULL;
		hop.proto = SIP_PROTO_TCP;
		sipmsg_via_set_proto(msg, hop.proto);
		transport_mark(pa, msg, hop.proto);
		rc = sipmsg_serialize(msg, &buf, &len);
	}
	if (rc != 0) {
		log_ratelimited("serialize", 10, LOG_ERR, "cannot serialise a SIP message, dropped");
		return;
	}
	sip_send(&hop, buf, len);
	osip_free(buf);
}

/* Send msg to dst over the connection dst has with sipmasq, else UDP. */
void proxy_send_to(const struct proxy_addrs *pa, osip_message_t *msg,
		   const struct sockaddr_in *dst)
{
	struct sip_hop hop;

	sip_hop_from_addr(&hop, dst);
	hop.proto = proxy_proto_to(dst);
	proxy_send_hop(pa, msg, &hop, false);
}

/* Answer req ourselves, to where it came from (RFC 3581 symmetric
 * response), with header hname: hvalue when hname is not NULL. */
void proxy_reply_with(const struct proxy_addrs *pa, const osip_message_t *req,
		      const struct sockaddr_in *src, int code, unsigned retry_after,
		      const char *hname, const char *hvalue)
{
	osip_message_t *resp;

	if (req->sip_method && !strcmp(req->sip_method, "ACK"))
		return;   /* ACK is never answered */
	if (sipmsg_make_response(req, code, retry_after, &resp) != 0)
		return;
	if (hname)
		osip_message_set_header(resp, hname, hvalue);
	proxy_send_to(pa, resp, src);
	osip_message_free(resp);
}

void proxy_reply(const struct proxy_addrs *pa, const osip_message_t *req,
		 const struct sockaddr_in *src, int code, unsigned retry_after)
{
	proxy_reply_with(pa, req, src, code, retry_after, NULL, NULL);
}
