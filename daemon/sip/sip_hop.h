/* The next hop of a SIP message as a URI names it (RFC 3263 section 4),
 * before any address lookup: host, port and transport. */
#ifndef SIPMASQ_SIP_HOP_H
#define SIPMASQ_SIP_HOP_H

#include <netinet/in.h>
#include <osipparser2/osip_parser.h>
#include <stdint.h>

#include "daemon/sip/sip_proto.h"


/* Where to send: filled from a URI (sip_hop_from_uri) or from the
 * configuration (sip_hop_set). */
struct sip_hop {
	char host[256];       /* maddr if the URI has one, else its host: name or dotted quad */
	uint16_t port;        /* host order; 0 when none is given (RFC 3263 4.2: SRV, then 5060) */
	enum sip_proto proto; /* the URI's ;transport= (RFC 3263 4.1), UDP by default */
};

/* sip_hop_from_uri: the hop a request-URI or Route URI names. Returns 0,
 * -EINVAL when the URI has no host or a bad port, -ENAMETOOLONG for a
 * host longer than struct sip_hop holds, -EPROTONOSUPPORT for a
 * ;transport= other than udp or tcp. */
int sip_hop_from_uri(const osip_uri_t *uri, struct sip_hop *hop);

/* sip_hop_set: a UDP hop to host:port (port host order, 0 = default).
 * Returns 0 or -ENAMETOOLONG. */
int sip_hop_set(struct sip_hop *hop, const char *host, uint16_t port);

/* sip_hop_from_addr: a UDP hop to a known address (network byte order),
 * e.g. the source of a request. */
void sip_hop_from_addr(struct sip_hop *hop, const struct sockaddr_in *addr);

/* sip_hop_from_via: where a response for this Via goes (RFC 3261
 * 18.2.2, RFC 3581 section 4): received/rport when present, else sent-by
 * (a name without port is looked up as RFC 3263 section 5 says, by
 * sip_send). Returns 0, or -EINVAL for a bad port or no host. */
int sip_hop_from_via(const osip_via_t *via, struct sip_hop *hop);

#endif
