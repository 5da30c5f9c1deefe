/* SIP over TCP: listening socket, connection table, stream framing, CRLF
 * keep-alives and connection timers. Connections are found by their peer
 * address, so a response goes back over the connection its request came
 * on (RFC 3261 18.2.2) and requests to a peer reuse an open connection.
 *
 * A connection is never freed while a callback may hold it: errors mark it
 * dead, and dead connections are freed at the end of each event handler
 * and in sip_tcp_tick. */
#include "autoconfig.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon/base/addr.h"
#include "daemon/base/evloop.h"
#include "daemon/base/iface.h"
#include "daemon/base/log.h"
#include "daemon/sip/sip_framing.h"
#include "daemon/sip/sip_msg.h"
#include "daemon/transport/sip_tcp.h"

#define RX_CHUNK 4096

struct tcp_conn {
	int fd;
	int timer_fd;             /* connect timeout while connecting, else -1 */
	struct sockaddr_in peer;
	int ifindex;              /* interface of the local address (accepted), else 0 */
	bool connecting;          /* non-blocking connect in progress */
	bool closing;             /* close once tx is drained (after a 400) */
	bool dead;                /* to be freed by conns_reap */
	bool watch_out;           /* EPOLLOUT is registered */
	uint64_t last_msg_ms;     /* last SIP message in or out, or ping from the
	                           * peer (tcp_timeout; our pings and their
	                           * pongs do not count) */
	uint64_t last_ping_ms;    /* last keep-alive ping sent (tcp_keepalive) */
	char *rx;                 /* received, not yet framed; rx_cap > rx_len */
	size_t rx_len, rx_cap;
	char *tx;                 /* queued, not yet written */
	size_t tx_len, tx_cap;
	bool wrote;               /* some byte was written: tx may start mid-message */
};

static int listen_fd = -1;
static sip_rx_cb rx_cb;
static sip_tcp_undeliverable_cb undeliverable_cb;
static struct sip_tcp_params prm;
static struct tcp_conn *conns[SIP_TCP_MAX_CONNS];

static void conn_event(int fd, uint32_t events, void *arg);

static struct tcp_conn *conn_find(const struct sockaddr_in *peer)
{
	for (int i = 0; i < SIP_TCP_MAX_CONNS; i++) {
		struct tcp_conn *c = conns[i];

		if (c && !c->dead && c->peer.sin_addr.s_addr == peer->sin_addr.s_addr &&
		    c->peer.sin_port == peer->sin_port)
			return c;
	}
	return NULL;
}

/* Whole messages still queued on a connection that died: nothing of them
 * was written (a connection that fails to connect never wrote a byte), so
 * each goes back to the sender's failure path. Bytes after a partial write
 * cannot be split into messages safely and are only dropped. */
static void conn_return_unsent(struct tcp_conn *c)
{
	size_t off = 0, size;

	if (!undeliverable_cb || c->wrote)
		return;
	while (off < c->tx_len && sip_frame_next(c->tx + off, c->tx_len - off, SIP_TCP_MAX_MSG,
						 &size) == SIP_FRAME_MESSAGE) {
		undeliverable_cb(&c->peer, c->tx + off, size);
		off += size;
	}
}

static void conn_free(struct tcp_conn *c)
{
	evloop_del(c->fd);
	close(c->fd);
	if (c->timer_fd >= 0) {
		evloop_del(c->timer_fd);
		close(c->timer_fd);
	}
	free(c->rx);
	free(c->tx);
	free(c);
}

static void conns_reap(void)
{
	for (int i = 0; i < SIP_TCP_MAX_CONNS; i++) {
		struct tcp_conn *c = conns[i];

		if (c && c->dead) {
			conns[i] = NULL;   /* out of the table before anyone is called back */
			conn_return_unsent(c);
			conn_free(c);
		}
	}
}

/* A new connection on fd with peer; takes fd (closed on failure). */
static struct tcp_conn *conn_new(int fd, const struct sockaddr_in *peer, bool connecting)
{
	int one = 1, slot = -1;
	struct tcp_conn *c;

	for (int i = 0; i < SIP_TCP_MAX_CONNS && slot < 0; i++)
		if (!conns[i])
			slot = i;
	c = slot >= 0 ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		char a[ADDR_STRLEN];
		log_ratelimited("tcp-full", 10, LOG_WARNING,
				"SIP over TCP: %d connections open, connection with %s refused",
				SIP_TCP_MAX_CONNS, addr_str(peer, a));
		close(fd);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	addr_set_dscp(fd, prm.dscp);   /* best effort: the listener said so once */
	c->fd = fd;
	c->timer_fd = -1;
	c->peer = *peer;
	c->connecting = connecting;
	c->watch_out = connecting;
	c->last_msg_ms = c->last_ping_ms = evloop_now_ms();
	if (evloop_add(fd, EPOLLIN | (connecting ? EPOLLOUT : 0), conn_event, c) != 0) {
		close(fd);
		free(c);
		return NULL;
	}
	conns[slot] = c;
	return c;
}

/* Register EPOLLOUT exactly while there is something to write. */
static void conn_watch(struct tcp_conn *c)
{
	bool want = c->connecting || c->tx_len > 0;

	if (want == c->watch_out || c->dead)
		return;
	evloop_del(c->fd);
	if (evloop_add(c->fd, EPOLLIN | (want ? EPOLLOUT : 0), conn_event, c) != 0)
		c->dead = true;
	c->watch_out = want;
}

static void conn_fail(struct tcp_conn *c, const char *what, int err)
{
	char a[ADDR_STRLEN];

	log_ratelimited("tcp-error", 10, LOG_WARNING, "SIP over TCP with %s: %s: %s",
			addr_str(&c->peer, a), what, strerror(err));
	c->dead = true;
}

/* Write what is queued; errors mark the connection dead. */
static void conn_flush(struct tcp_conn *c)
{
	size_t off = 0;

	while (off < c->tx_len && !c->connecting) {
		ssize_t n = send(c->fd, c->tx + off, c->tx_len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			conn_fail(c, "send", errno);
			return;
		}
		off += (size_t)n;
		c->wrote = true;
	}
	if (off) {
		memmove(c->tx, c->tx + off, c->tx_len - off);
		c->tx_len -= off;
	}
	if (c->closing && c->tx_len == 0)
		c->dead = true;
	conn_watch(c);
}

static int conn_queue(struct tcp_conn *c, const char *buf, size_t len)
{
	if (c->tx_len + len > SIP_TCP_MAX_TXBUF) {
		char a[ADDR_STRLEN];
		log_ratelimited("tcp-txbuf", 10, LOG_WARNING,
				"SIP over TCP to %s: peer not reading, %zu bytes queued: closed",
				addr_str(&c->peer, a), c->tx_len);
		c->dead = true;
		return -ENOBUFS;
	}
	if (c->tx_len + len > c->tx_cap) {
		size_t cap = c->tx_len + len + RX_CHUNK;
		char *p = realloc(c->tx, cap);

		if (!p) {
			c->dead = true;
			return -ENOMEM;
		}
		c->tx = p;
		c->tx_cap = cap;
	}
	memcpy(c->tx + c->tx_len, buf, len);
	c->tx_len += len;
	conn_flush(c);
	return c->dead ? -EPIPE : 0;
}

/* RFC 3261 18.3: a message without a usable Content-Length on a stream is
 * answered 400 (when it is a request one can answer) and the connection is
 * closed, since where the next message starts is unknown. */
static void conn_bad_length(struct tcp_conn *c, const char *hdr, size_t len, bool missing)
{
	osip_message_t *msg = NULL, *resp = NULL;
	char a[ADDR_STRLEN], *out = NULL;
	size_t out_len;

	log_ratelimited("tcp-length", 10, LOG_INFO,
			"SIP over TCP from %s: %s Content-Length (RFC 3261 18.3): 400, closed",
			addr_str(&c->peer, a), missing ? "no" : "invalid");
	sipmsg_parse(hdr, len, &msg);
	if (msg && MSG_IS_REQUEST(msg) && osip_list_size(&msg->vias) > 0 &&
	    sipmsg_make_response(msg, 400, 0, &resp) == 0 &&
	    sipmsg_serialize(resp, &out, &out_len) == 0)
		conn_queue(c, out, out_len);
	osip_free(out);
	if (resp)
		osip_message_free(resp);
	if (msg)
		osip_message_free(msg);
	c->closing = true;
	if (c->tx_len == 0)
		c->dead = true;
}

/* Hand every whole message in rx to the callback; keep the rest. */
static void conn_frames(struct tcp_conn *c)
{
	size_t off = 0, n = 0;
	char a[ADDR_STRLEN];

	while (!c->dead && !c->closing) {
		enum sip_frame f = sip_frame_next(c->rx + off, c->rx_len - off, SIP_TCP_MAX_MSG, &n);

		if (f == SIP_FRAME_MORE)
			break;
		if (f == SIP_FRAME_TOO_LARGE) {
			log_ratelimited("tcp-large", 10, LOG_WARNING,
					"SIP over TCP from %s: message larger than %d bytes, closed",
					addr_str(&c->peer, a), SIP_TCP_MAX_MSG);
			c->dead = true;
			break;
		}
		if (f == SIP_FRAME_NO_LENGTH || f == SIP_FRAME_BAD_LENGTH) {
			conn_bad_length(c, c->rx + off, n, f == SIP_FRAME_NO_LENGTH);
			break;
		}
		if (f == SIP_FRAME_PING) {
			log_debug(DBCLASS_NETTRAF, "CRLF keep-alive from %s", addr_str(&c->peer, a));
			c->last_msg_ms = evloop_now_ms();   /* the peer wants it open */
			conn_queue(c, "\r\n", 2);   /* pong, RFC 5626 3.5.1 */
		} else if (f == SIP_FRAME_MESSAGE) {
			char saved = c->rx[off + n];

			c->rx[off + n] = '\0';
			c->last_msg_ms = evloop_now_ms();
			rx_cb(c->rx + off, n, &c->peer, c->ifindex, SIP_PROTO_TCP);
			c->rx[off + n] = saved;
		}
		off += n;
	}
	if (off) {
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
	}
}

static void conn_read(struct tcp_conn *c)
{
	/* Bounded, so one busy peer cannot starve the others. */
	for (int i = 0; i < 16 && !c->dead && !c->closing; i++) {
		ssize_t n;

		if (c->rx_cap - c->rx_len < RX_CHUNK + 1) {
			size_t cap = c->rx_cap ? c->rx_cap * 2 : 2 * RX_CHUNK;
			char *p;

			if (cap > SIP_TCP_MAX_MSG + 2 * RX_CHUNK)
				cap = SIP_TCP_MAX_MSG + 2 * RX_CHUNK;
			if (cap - c->rx_len < RX_CHUNK + 1)
				break;   /* full: framing said TOO_LARGE or will */
			p = realloc(c->rx, cap);
			if (!p) {
				c->dead = true;
				return;
			}
			c->rx = p;
			c->rx_cap = cap;
		}
		n = recv(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len - 1, MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				conn_fail(c, "recv", errno);
			return;
		}
		if (n == 0) {   /* orderly close by the peer */
			conn_frames(c);
			c->dead = true;
			return;
		}
		c->rx_len += (size_t)n;
		conn_frames(c);
	}
}

static void conn_connected(struct tcp_conn *c)
{
	int err = 0;
	socklen_t el = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err) {
		conn_fail(c, "connect", err);
		return;
	}
	c->connecting = false;
	if (c->timer_fd >= 0) {
		evloop_del(c->timer_fd);
		close(c->timer_fd);
		c->timer_fd = -1;
	}
}

static void conn_event(int fd, uint32_t events, void *arg)
{
	struct tcp_conn *c = arg;

	(void)fd;
	if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		conn_connected(c);
	if (!c->dead && !c->connecting && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		conn_read(c);
	if (!c->dead && !c->connecting)
		conn_flush(c);
	conns_reap();
}

static void conn_timeout(int fd, uint32_t events, void *arg)
{
	struct tcp_conn *c = arg;
	char a[ADDR_STRLEN];

	(void)fd;
	(void)events;
	log_ratelimited("tcp-connect", 10, LOG_WARNING,
			"SIP over TCP: connect to %s timed out after %u ms (tcp_connect_timeout)",
			addr_str(&c->peer, a), prm.connect_timeout_ms);
	c->dead = true;
	conns_reap();
}

/* Start a non-blocking connect to dst, bounded by tcp_connect_timeout. */
static struct tcp_conn *conn_open(const struct sockaddr_in *dst, int *err)
{
	struct itimerspec its = { 0 };
	struct tcp_conn *c;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 && errno != EINPROGRESS) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	c = conn_new(fd, dst, true);
	if (!c) {
		*err = -EMFILE;
		return NULL;
	}
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	its.it_value.tv_sec = prm.connect_timeout_ms / 1000;
	its.it_value.tv_nsec = (long)(prm.connect_timeout_ms % 1000) * 1000000L;
	if (c->timer_fd < 0 || timerfd_settime(c->timer_fd, 0, &its, NULL) < 0 ||
	    evloop_add(c->timer_fd, EPOLLIN, conn_timeout, c) != 0) {
		*err = -ENOMEM;
		c->dead = true;   /* freed with the timer fd by the next reap */
		return NULL;
	}
	return c;
}

int sip_tcp_send(const struct sockaddr_in *dst, const char *buf, size_t len)
{
	struct tcp_conn *c;
	char a[ADDR_STRLEN];
	int err = 0;

	if (listen_fd < 0)
		return -EBADF;   /* not open (proxy_init_offline) */
	c = conn_find(dst);
	if (!c && !(c = conn_open(dst, &err))) {
		log_ratelimited("tcp-connect", 10, LOG_WARNING, "SIP over TCP: connect to %s: %s",
				addr_str(dst, a), strerror(-err));
		return err;
	}
	c->last_msg_ms = evloop_now_ms();
	log_debug(DBCLASS_NETTRAF, "TCP: %zu bytes to %s", len, addr_str(dst, a));
	return conn_queue(c, buf, len);
}

void sip_tcp_set_undeliverable(sip_tcp_undeliverable_cb cb)
{
	undeliverable_cb = cb;
}

bool sip_tcp_connected(const struct sockaddr_in *peer)
{
	return listen_fd >= 0 && conn_find(peer) != NULL;
}

static void listen_event(int fd, uint32_t events, void *arg)
{
	(void)events;
	(void)arg;
	for (int i = 0; i < 16; i++) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		int cfd = accept4(fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct sockaddr_in local;
		socklen_t ll = sizeof(local);
		struct tcp_conn *old, *c;

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_ratelimited("tcp-accept", 10, LOG_WARNING, "SIP over TCP: accept: %s",
						strerror(errno));
			break;
		}
		/* A peer reconnecting from the same address replaces its old one. */
		if ((old = conn_find(&peer)))
			old->dead = true;
		c = conn_new(cfd, &peer, false);
		/* The interface of the address the peer connected to (after a
		 * REDIRECT: the one it came in on), the first clue to its side. */
		if (c && getsockname(cfd, (struct sockaddr *)&local, &ll) == 0)
			c->ifindex = iface_index_of_addr(local.sin_addr);
	}
	conns_reap();
}

int sip_tcp_open(unsigned short port, sip_rx_cb cb, const struct sip_tcp_params *params)
{
	struct sockaddr_in sa = addr_make((struct in_addr){ htonl(INADDR_ANY) }, port);
	int one = 1, rc;

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(listen_fd, 64) < 0) {
		rc = -errno;
		close(listen_fd);
		listen_fd = -1;
		return rc;
	}
	rc = evloop_add(listen_fd, EPOLLIN, listen_event, NULL);
	if (rc) {
		close(listen_fd);
		listen_fd = -1;
		return rc;
	}
	rx_cb = cb;
	prm = *params;
	return 0;
}

void sip_tcp_tick(uint64_t now_ms)
{
	static const char ping[] = "\r\n\r\n";

	for (int i = 0; i < SIP_TCP_MAX_CONNS; i++) {
		struct tcp_conn *c = conns[i];
		char a[ADDR_STRLEN];

		if (!c || c->dead || c->connecting)
			continue;
		if (prm.idle_timeout_s && now_ms - c->last_msg_ms >= prm.idle_timeout_s * 1000ull) {
			log_debug(DBCLASS_NETTRAF, "TCP connection with %s idle for %u s, closed",
				  addr_str(&c->peer, a), prm.idle_timeout_s);
			c->dead = true;
		} else if (prm.keepalive_s && now_ms - c->last_msg_ms >= prm.keepalive_s * 1000ull &&
			   now_ms - c->last_ping_ms >= prm.keepalive_s * 1000ull) {
			c->last_ping_ms = now_ms;
			conn_queue(c, ping, 4);   /* RFC 5626 3.5.1 ping */
		}
	}
	conns_reap();
}

void sip_tcp_close(void)
{
	for (int i = 0; i < SIP_TCP_MAX_CONNS; i++) {
		if (conns[i]) {
			conn_free(conns[i]);
			conns[i] = NULL;
		}
	}
	if (listen_fd >= 0) {
		evloop_del(listen_fd);
		close(listen_fd);
		listen_fd = -1;
	}
}
