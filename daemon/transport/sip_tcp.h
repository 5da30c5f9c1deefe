/* SIP over TCP (RFC 3261 section 18): a listening socket on the SIP port,
 * and a bounded table of connections, one per remote address, reused in
 * both directions (connection reuse, RFC 3261 18.2.2 / 18.1.1). */
#ifndef SIPMASQ_SIP_TCP_H
#define SIPMASQ_SIP_TCP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/transport/sip_transport.h"

/* Most connections open at once (accepted and initiated together). */
#define SIP_TCP_MAX_CONNS 256
/* Largest message accepted on a connection, headers and body. */
#define SIP_TCP_MAX_MSG SIP_MAX_DATAGRAM
/* Most bytes waiting to be sent on one connection before it is dropped. */
#define SIP_TCP_MAX_TXBUF (4 * SIP_TCP_MAX_MSG)

/* Connection timers (siproxd directives of the same names). */
struct sip_tcp_params {
	unsigned connect_timeout_ms; /* tcp_connect_timeout: give up a connect after this */
	unsigned idle_timeout_s;     /* tcp_timeout: close after this long without a message
	                              * or a ping from the peer; 0 = never */
	unsigned keepalive_s;        /* tcp_keepalive: CRLFCRLF ping when idle this long; 0 = off */
	unsigned dscp;               /* sip_dscp: DSCP of every connection, 0 = unmarked */
};

/* sip_tcp_open: listen on TCP 0.0.0.0:port (host order) and register with
 * the evloop. Every whole message received on any connection is passed to
 * cb with SIP_PROTO_TCP and, as ifindex, the interface holding the local
 * address of an accepted connection (0 for connections sipmasq opened)
 * (buf NUL-terminated after len, valid during the call only). params is
 * copied. Returns 0 or -errno. */
int sip_tcp_open(unsigned short port, sip_rx_cb cb, const struct sip_tcp_params *params);

/* sip_tcp_send: queue one message to dst (port and address in network byte
 * order, as in sockaddr_in) on the connection with that peer, opening one
 * (non-blocking connect) when there is none. Returns 0 when queued or
 * sent; -EBADF when TCP is not open; -EMFILE when the table is full;
 * -ENOBUFS when the connection's send buffer is full (the connection is
 * then closed); other -errno from socket/connect/send. Errors are logged
 * (rate-limited). Never closes a connection synchronously: callers may be
 * inside the receive callback of any connection. */
int sip_tcp_send(const struct sockaddr_in *dst, const char *buf, size_t len);

/* Called with each whole message that was queued on a connection that
 * closed before writing any of it (connect refused or timed out, reset):
 * dst is the peer (network byte order), buf/len the message, valid during
 * the call only. Called while connections are reaped: it may queue new
 * messages (sip_tcp_send) but must not expect the dead connection. */
typedef void (*sip_tcp_undeliverable_cb)(const struct sockaddr_in *dst, const char *buf,
					 size_t len);

/* sip_tcp_set_undeliverable: install cb (NULL: unsent messages are only
 * logged, as the connection's failure). */
void sip_tcp_set_undeliverable(sip_tcp_undeliverable_cb cb);

/* sip_tcp_connected: true if a usable connection with peer exists (one it
 * opened to sipmasq, or one sipmasq opened or is opening to it). */
bool sip_tcp_connected(const struct sockaddr_in *peer);

/* sip_tcp_tick: once a second: idle close (tcp_timeout), keep-alive pings
 * (tcp_keepalive), and freeing of closed connections. now_ms: evloop_now_ms(). */
void sip_tcp_tick(uint64_t now_ms);

/* sip_tcp_close: close every connection and the listening socket. */
void sip_tcp_close(void);

#endif
