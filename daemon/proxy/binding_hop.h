/* Where a request for a registered (or dialog) binding goes: the phone's
 * live connection, its Contact, or the address its requests come from. */
#ifndef SIPMASQ_BINDING_HOP_H
#define SIPMASQ_BINDING_HOP_H

#include <osipparser2/osip_parser.h>

#include "daemon/proxy/registrations.h"
#include "daemon/sip/sip_hop.h"

/* binding_hop: the next hop of a request for binding b whose Contact URI
 * (b->contact, parsed) is `contact`, in this order:
 *  1. the TCP connection b's requests came on, while it is open (the
 *     flow of RFC 5626 section 5.3; RFC 3261 18.2.2);
 *  2. the address b's requests come from (b->src, over the Contact's
 *     transport) when the UA asks for its flow (the ;ob URI parameter,
 *     RFC 5626 section 5.4) or when a NAT sits between it and sipmasq: the
 *     Contact's host is a numeric address other than the source's;
 *  3. else the Contact itself: host, port and ;transport= (RFC 3263), as
 *     siproxd does. A phone that sends from another port than it listens
 *     on, or whose TCP connection has closed, is reached there. A host
 *     name in the Contact stands for the source's address (the gateway's
 *     DNS rarely knows a LAN phone's name; siproxd would look it up).
 * Via rport does not count as asking for the flow: most UAs send it on
 * every request, and it concerns responses (RFC 3581). Returns 0, or
 * sip_hop_from_uri's error for a Contact that names no usable hop. */
int binding_hop(const struct binding *b, const osip_uri_t *contact, struct sip_hop *hop);

#endif
