/* IPv4 socket address helpers. All sockaddr_in values are network byte order. */
#ifndef SIPMASQ_ADDR_H
#define SIPMASQ_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* Big enough for "255.255.255.255:65535". */
#define ADDR_STRLEN 24

/* addr_str: "a.b.c.d:port" into buf (ADDR_STRLEN bytes); returns buf. */
char *addr_str(const struct sockaddr_in *sa, char *buf);

/* addr_make: build a sockaddr_in from an address and a host-order port. */
struct sockaddr_in addr_make(struct in_addr ip, uint16_t port);

/* addr_equal: same address and port. */
bool addr_equal(const struct sockaddr_in *a, const struct sockaddr_in *b);

/* addr_resolve: host (dotted quad or name, resolved with getaddrinfo, IPv4
 * only) and a host-order port into *out. Returns 0 or -EHOSTUNREACH when the
 * name does not resolve. Names block in getaddrinfo: start-up only; the SIP
 * loop resolves through daemon/dns/resolver.h, which never blocks. */
int addr_resolve(const char *host, uint16_t port, struct sockaddr_in *out);

/* addr_parse_port: a decimal port string (NULL or "" gives dflt) in host
 * order; returns 0 if the string is not a valid port. */
uint16_t addr_parse_port(const char *s, uint16_t dflt);

/* addr_is_numeric: host is an IPv4 dotted quad; stores it into *ip if so. */
bool addr_is_numeric(const char *host, struct in_addr *ip);

/* addr_is_endpoint: a (network byte order) names a place to send to: a
 * port and an address other than 0.0.0.0 (an SDP on hold, an unknown peer). */
bool addr_is_endpoint(const struct sockaddr_in *a);

/* addr_port_plus: a with its port raised by add (RTCP is RTP's port + 1,
 * RFC 3550 11); network byte order in and out. */
struct sockaddr_in addr_port_plus(const struct sockaddr_in *a, unsigned add);

/* addr_set_dscp: mark what socket fd sends with DSCP dscp (0..63, RFC
 * 2474: the upper six bits of the IPv4 TOS byte; siproxd's rtp_dscp and
 * sip_dscp). dscp 0 leaves the socket as it is. Returns 0 or -errno. */
int addr_set_dscp(int fd, unsigned dscp);

#endif
