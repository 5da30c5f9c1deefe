/* SIP over UDP (RFC 3261 section 18): one socket on the listen port; and
 * sip_transport_deliver, which picks UDP or TCP (sip_tcp.h). */
#ifndef SIPMASQ_SIP_TRANSPORT_H
#define SIPMASQ_SIP_TRANSPORT_H

#include <netinet/in.h>
#include <stddef.h>

#include "daemon/config/config.h"
#include "daemon/sip/sip_hop.h"

/* Largest datagram accepted; RFC 3261 18.1.1 sizes UDP well below this. */
#define SIP_MAX_DATAGRAM CONFIG_SIP_MESSAGE_MAX

/* Called for each datagram or stream message: buf (len bytes, NUL-terminated
 * after len for convenience), its source, the index of the interface it
 * arrived on (0 = unknown) and the transport it came over. */
typedef void (*sip_rx_cb)(const char *buf, size_t len, const struct sockaddr_in *src,
                          int ifindex, enum sip_proto proto);

/* sip_transport_open: bind UDP 0.0.0.0:port (host order) with IP_PKTINFO and
 * register it with the evloop. Returns 0 or -errno. */
int sip_transport_open(unsigned short port, sip_rx_cb cb);

/* sip_transport_send: send one datagram; errors are logged (rate-limited)
 * and returned as -errno, never fatal; -EBADF (not logged) when the socket
 * is not open. */
int sip_transport_send(const struct sockaddr_in *dst, const char *buf, size_t len);

/* sip_transport_deliver: send one message over proto to dst: a datagram, or on the TCP
 * connection with dst (sip_tcp_send). Returns 0 or -errno as those do. */
int sip_transport_deliver(enum sip_proto proto, const struct sockaddr_in *dst, const char *buf, size_t len);

/* sip_transport_close: unregister and close the socket. */
void sip_transport_close(void);

#endif
