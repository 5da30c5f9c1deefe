/* SIP over UDP (RFC 3261 section 18): one socket on the listen port. */
#ifndef SIPMASQ_SIP_TRANSPORT_H
#define SIPMASQ_SIP_TRANSPORT_H

#include <netinet/in.h>
#include <stddef.h>

/* Largest datagram accepted; RFC 3261 18.1.1 sizes UDP well below this. */
#define SIP_MAX_DATAGRAM 65535

/* Called for each datagram: buf (len bytes, NUL-terminated after len for
 * convenience), its source, and the index of the interface it arrived on. */
typedef void (*sip_rx_cb)(const char *buf, size_t len, const struct sockaddr_in *src,
                          int ifindex);

/* sip_transport_open: bind UDP 0.0.0.0:port (host order) with IP_PKTINFO and
 * register it with the evloop. Returns 0 or -errno. */
int sip_transport_open(unsigned short port, sip_rx_cb cb);

/* sip_transport_send: send one datagram; errors are logged (rate-limited)
 * and returned as -errno, never fatal; -EBADF (not logged) when the socket
 * is not open. */
int sip_transport_send(const struct sockaddr_in *dst, const char *buf, size_t len);

/* sip_transport_close: unregister and close the socket. */
void sip_transport_close(void);

#endif
