/* SIP transport protocols (RFC 3261 section 18): what a hop, a Via and a
 * connection are carried over. A header of its own so that message helpers
 * and hops can both name it without depending on each other. */
#ifndef SIPMASQ_SIP_PROTO_H
#define SIPMASQ_SIP_PROTO_H

/* Transport protocol of a hop or a Via. */
enum sip_proto { SIP_PROTO_UDP = 0, SIP_PROTO_TCP = 1 };

/* sip_proto_name: "UDP" or "TCP", as in a Via's sent-protocol. */
static inline const char *sip_proto_name(enum sip_proto proto)
{
	return proto == SIP_PROTO_TCP ? "TCP" : "UDP";
}

#endif
