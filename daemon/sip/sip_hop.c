/* Next hop of a SIP message from a URI (RFC 3263 section 4). */
#include "autoconfig.h"

#include "daemon/sip/sip_hop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "daemon/base/addr.h"
#include "daemon/sip/sip_msg.h"

int sip_hop_set(struct sip_hop *hop, const char *host, uint16_t port)
{
	if ((size_t)snprintf(hop->host, sizeof(hop->host), "%s", host) >= sizeof(hop->host))
		return -ENAMETOOLONG;
	hop->port = port;
	hop->proto = SIP_PROTO_UDP;
	return 0;
}

int sip_hop_from_uri(const osip_uri_t *uri, struct sip_hop *hop)
{
	const char *maddr = sipmsg_uri_param(uri, "maddr");
	const char *transport = sipmsg_uri_param(uri, "transport");
	const char *host = maddr && *maddr ? maddr : uri ? uri->host : NULL;
	uint16_t port = 0;
	int rc;

	if (!host || !*host)
		return -EINVAL;
	if (uri->port && *uri->port && !(port = addr_parse_port(uri->port, 0)))
		return -EINVAL;
	rc = sip_hop_set(hop, host, port);
	if (rc)
		return rc;
	if (transport && !strcasecmp(transport, "tcp"))
		hop->proto = SIP_PROTO_TCP;
	else if (transport && *transport && strcasecmp(transport, "udp"))
		return -EPROTONOSUPPORT;
	return 0;
}

void sip_hop_from_addr(struct sip_hop *hop, const struct sockaddr_in *addr)
{
	inet_ntop(AF_INET, &addr->sin_addr, hop->host, sizeof(hop->host));
	hop->port = ntohs(addr->sin_port);
	hop->proto = SIP_PROTO_UDP;
}

int sip_hop_from_via(const osip_via_t *via, struct sip_hop *hop)
{
	const char *host = sipmsg_via_param(via, "received");
	const char *rport = sipmsg_via_param(via, "rport");
	uint16_t port = addr_parse_port(via->port, 0);

	if (!host || !*host)
		host = via->host;
	if (rport && *rport)
		port = addr_parse_port(rport, port);
	if ((via->port && *via->port && !port) || (rport && *rport && !port) || !host || !*host)
		return -EINVAL;
	return sip_hop_set(hop, host, port);
}
