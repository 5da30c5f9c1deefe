/* The next hop of a SIP message as a URI names it (RFC 3263 section 4),
 * before any address lookup: host, port and transport. */
#ifndef SIPMASQ_SIP_HOP_H
#define SIPMASQ_SIP_HOP_H

#include <netinet/in.h>
#include <osipparser2/osip_parser.h>
#include <stdint.h>

/* Transport protocol of a hop (RFC 3261 section 18). */
enum sip_proto { SIP_PROTO_UDP = 0, SIP_PROTO_TCP = 1 };

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

/* sip_hop_proto_name: "UDP" or "TCP", as in a Via's sent-protocol. */
const char *sip_hop_proto_name(enum sip_proto proto);

/* sip_hop_from_addr: a UDP hop to a known address (network byte order),
 * e.g. the source of a request. */
void sip_hop_from_addr(struct sip_hop *hop, const struct sockaddr_in *addr);

/* sip_hop_resolve: the address of hop when known without a query: a
 * numeric host (port 0 becomes 5060) or a name in the resolver's cache.
 * Never blocks. Returns 0; -EAGAIN when a DNS lookup is needed (sip_send
 * does it); a cached failure (-ENOENT, -ETIMEDOUT, -EHOSTUNREACH). */
int sip_hop_resolve(const struct sip_hop *hop, struct sockaddr_in *dst);

#endif
