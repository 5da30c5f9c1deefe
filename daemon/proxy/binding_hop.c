/* Where a request for a binding goes (binding_hop.h). siproxd, measured as
 * a black box, always sends to the Contact; sipmasq keeps the phone's live
 * connection first and the source address where only it can work. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <string.h>

#include "daemon/base/addr.h"
#include "daemon/base/log.h"
#include "daemon/proxy/binding_hop.h"
#include "daemon/sip/sip_msg.h"
#include "daemon/transport/sip_tcp.h"

/* A NAT between the UA and sipmasq: its Contact names an address, and
 * that address is not the one its requests come from. */
static bool nat_between(const struct binding *b, const struct sip_hop *contact)
{
	struct in_addr ip;

	return b->src.sin_addr.s_addr && addr_is_numeric(contact->host, &ip) &&
	       ip.s_addr != b->src.sin_addr.s_addr;
}

int binding_hop(const struct binding *b, const osip_uri_t *contact, struct sip_hop *hop)
{
	char a[ADDR_STRLEN];
	struct in_addr ip;
	int rc;

	if (b->src.sin_addr.s_addr && sip_tcp_connected(&b->src)) {
		sip_hop_from_addr(hop, &b->src);
		hop->proto = SIP_PROTO_TCP;
		log_debug(DBCLASS_PROXY, "binding %s: over its connection with %s", b->token,
			  addr_str(&b->src, a));
		return 0;
	}
	rc = sip_hop_from_uri(contact, hop);
	if (rc)
		return rc;
	if ((sipmsg_uri_param(contact, "ob") && b->src.sin_addr.s_addr) || nat_between(b, hop)) {
		enum sip_proto proto = hop->proto;

		sip_hop_from_addr(hop, &b->src);
		hop->proto = proto;
		log_debug(DBCLASS_PROXY, "binding %s: to its source %s (%s)", b->token,
			  addr_str(&b->src, a), sipmsg_uri_param(contact, "ob") ? "ob" : "NAT");
		return 0;
	}
	if (b->src.sin_addr.s_addr && !addr_is_numeric(hop->host, &ip)) {
		/* A name in a private UA's Contact: the gateway's DNS rarely knows
		 * it, and the UA is where its requests come from; its port and
		 * transport still count. */
		inet_ntop(AF_INET, &b->src.sin_addr, hop->host, sizeof(hop->host));
	}
	log_debug(DBCLASS_PROXY, "binding %s: to its Contact at %s:%u", b->token, hop->host,
		  hop->port ? hop->port : 5060);
	return 0;
}
