/* Userspace RTP/RTCP relay: the media plane of media.h with plain UDP sockets.
 *
 * Each stream owns four non-blocking sockets: RTP and RTCP on the private
 * side, RTP and RTCP on the public side, each pair drawn at random from the
 * port pool. A datagram received on side i is sent from the same kind of
 * socket on side 1-i to that side's peer. Peers are learnt by symmetric RTP
 * latching: the first datagram received on a socket fixes its source as the
 * peer of that side, and from then on datagrams from any other source are
 * dropped and counted as foreign (strict source, as rtpengine does) until a
 * new SDP address for the side (re-INVITE) resets the latch. Which source
 * may latch, and when, is latch.c's policy: shortly after signalling, and
 * only what the SDP allows. Until a destination is known nothing is sent. Everything runs in the daemon's event loop thread; datagrams move in
 * batches through static buffers (recvmmsg/sendmmsg), with no per-packet
 * allocation or logging. */
#include "autoconfig.h"   /* autoconf; <> so that daemon/config/config.h is never picked */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/base/addr.h"
#include "daemon/base/evloop.h"
#include "daemon/base/log.h"
#include "kmod-free-fallback/media.h"
#include "kmod-free-fallback/latch.h"
#include "kmod-free-fallback/media_dest.h"
#include "kmod-free-fallback/portpool.h"

#define RELAY_BATCH     32    /* datagrams per recvmmsg/sendmmsg */
#define RELAY_MAX_DGRAM 2048  /* larger datagrams are truncated, hence dropped */
/* Batches per readiness callback: enough to drain a burst, few enough that
 * one busy stream cannot starve SIP and the other streams (epoll is level
 * triggered, so what is left is picked up on the next round). */
#define RELAY_BATCHES_PER_WAKEUP 4
/* Pairs set aside while looking for a bindable pair (taken by some other
 * process); more than this means the port range is badly chosen. */
#define RELAY_BUSY_MAX  64
#define RELAY_LOG_INTERVAL_S 10

struct relay_stream;

/* Callback argument of one socket: the stream, the side the socket is on and
 * whether it carries RTCP. Embedded in the stream, freed with it. */
struct relay_sock {
	struct relay_stream *rs;
	uint8_t side;        /* enum media_side */
	uint8_t rtcp;        /* 0 = RTP socket, 1 = RTCP socket */
};

/* A stream as the engine sees it: the public part handed to the daemon plus
 * private bookkeeping. */
struct relay_stream {
	struct media_stream pub;
	struct relay_sock sock[2][2];    /* [side][rtcp] */
	struct latch latch[2];           /* [side]: who may latch, until when */
	bool hairpin[2];                 /* [side]: the SDP names another stream's relay
	                                  * port on this gateway (a call hair-pinned
	                                  * through the provider): trusted as strict */
	struct relay_stream *prev, *next;/* list of open streams, for media_fini() */
};

#define relay_of(s) \
	((struct relay_stream *)(void *)((char *)(s) - offsetof(struct relay_stream, pub)))

/* Linux gives the loopback device index 1 in every network namespace. */
#define RELAY_LOOPBACK_IFINDEX 1

static struct portpool pool;
static bool pool_ready;
static int side_ifindex[2];      /* see media_set_ifindex(); 0 = not checked */
static uint64_t wrong_ingress_total;
static media_hook_fn hook;
static uint64_t latch_window_ms = MEDIA_LATCH_WINDOW_DEFAULT_S * 1000u;
/* rtp_dscp: DSCP of the relay sockets (0: unmarked). */
static unsigned relay_dscp;
static uint64_t foreign_total;   /* foreign datagrams of all streams, also closed ones */
static unsigned generation;      /* see media_generation() */

unsigned media_generation(void)
{
	return generation;
}

void media_set_dscp(unsigned dscp)
{
	relay_dscp = dscp;
}

void media_set_ifindex(int ifindex_private, int ifindex_public)
{
	side_ifindex[MEDIA_PRIVATE] = ifindex_private > 0 ? ifindex_private : 0;
	side_ifindex[MEDIA_PUBLIC] = ifindex_public > 0 ? ifindex_public : 0;
}

uint64_t media_wrong_ingress_drops(void)
{
	return wrong_ingress_total;
}

void media_set_latch_window(unsigned seconds)
{
	latch_window_ms = (uint64_t)seconds * 1000u;
}

uint64_t media_foreign_drops(void)
{
	return foreign_total;
}

/* Every signalling event of a stream reopens latching on both sides: the
 * offer opens the stream, but the caller usually starts sending only once
 * the answer is there. */
static void latch_window_open(struct relay_stream *rs)
{
	for (int side = 0; side < 2; side++)
		latch_open(&rs->latch[side], evloop_now_ms(), latch_window_ms);
}

void media_set_hook(media_hook_fn fn)
{
	hook = fn;
}

static void notify(struct media_stream *s, enum media_event ev)
{
	if (hook)
		hook(s, ev);
}
static struct relay_stream *streams;

/* Batch I/O state, shared by all sockets: the loop is single-threaded and a
 * batch is fully sent before the callback returns. */
static struct {
	struct mmsghdr rx[RELAY_BATCH], tx[RELAY_BATCH];
	struct iovec rx_iov[RELAY_BATCH], tx_iov[RELAY_BATCH];
	struct sockaddr_in src[RELAY_BATCH];
	struct sockaddr_in dst;          /* one destination per batch */
	union {                          /* IP_PKTINFO of each received datagram */
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctrl[RELAY_BATCH];
	unsigned char buf[RELAY_BATCH][RELAY_MAX_DGRAM];
} io;

static void io_setup(void)
{
	for (unsigned k = 0; k < RELAY_BATCH; k++) {
		io.rx_iov[k].iov_base = io.buf[k];
		io.rx_iov[k].iov_len = sizeof(io.buf[k]);
		io.rx[k].msg_hdr.msg_iov = &io.rx_iov[k];
		io.rx[k].msg_hdr.msg_iovlen = 1;
		io.rx[k].msg_hdr.msg_name = &io.src[k];
		io.tx[k].msg_hdr.msg_iov = &io.tx_iov[k];
		io.tx[k].msg_hdr.msg_iovlen = 1;
		io.tx[k].msg_hdr.msg_name = &io.dst;
		io.tx[k].msg_hdr.msg_namelen = sizeof(io.dst);
	}
}

static bool same_ep(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* A destination we may send to. 0.0.0.0 is excluded because Linux delivers
 * it to the local host (and SDP uses it for "hold"), port 0 means unknown or
 * a disabled stream. */
bool media_leg_may_send(const struct media_stream *s, enum media_side side, bool rtcp)
{
	const struct media_leg *leg = &s->leg[side];
	const struct relay_stream *rs = relay_of((struct media_stream *)s);

	if (!addr_is_endpoint(rtcp ? &leg->peer_rtcp : &leg->peer))
		return false;
	/* Strict: the SDP address is where the party's SIP came from; or it
	 * is our own relay (hair-pin: nobody could prove itself first, each
	 * leg waiting for the other). NAT (or unknown, e.g. adopted): only a
	 * source that proved itself. */
	return rs->latch[side].strict || rs->hairpin[side] ||
	       (rtcp ? leg->rtcp_latched : leg->latched);
}

/* Send io.tx[0..n) from fd; datagrams sent are credited to `in`'s forward
 * counters, the others to its drops. Send errors (no route, full buffer,
 * ICMP feedback) are the network's business: they cost a datagram, never the
 * stream. */
static void relay_send(int fd, unsigned n, struct media_leg *in)
{
	unsigned done = 0;

	while (done < n) {
		int r = sendmmsg(fd, io.tx + done, n - done, MSG_DONTWAIT);
		if (r > 0) {
			for (unsigned k = done; k < done + (unsigned)r; k++) {
				in->fwd_packets++;
				in->fwd_bytes += io.tx[k].msg_len;
			}
			done += (unsigned)r;
			continue;
		}
		int err = r < 0 ? errno : EIO;
		char ep[ADDR_STRLEN];
		log_ratelimited("relay send", RELAY_LOG_INTERVAL_S, LOG_WARNING,
				"rtp relay: send to %s failed: %s",
				addr_str(&io.dst, ep), strerror(err));
		if (err == EAGAIN || err == EWOULDBLOCK) {
			/* socket buffer full: the rest of the batch would fail too */
			in->drops += n - done;
			return;
		}
		in->drops++;          /* skip the datagram that failed, try the rest */
		done++;
	}
}

/* Receive one batch on fd into io.rx. Returns the count, 0 when nothing is
 * queued or on error. */
static unsigned relay_recv(int fd)
{
	for (unsigned k = 0; k < RELAY_BATCH; k++) {
		io.rx[k].msg_hdr.msg_namelen = sizeof(io.src[k]);
		io.rx[k].msg_hdr.msg_flags = 0;
		io.rx[k].msg_hdr.msg_control = io.ctrl[k].buf;
		io.rx[k].msg_hdr.msg_controllen = sizeof(io.ctrl[k].buf);
	}
	int n = recvmmsg(fd, io.rx, RELAY_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_ratelimited("relay recv", RELAY_LOG_INTERVAL_S, LOG_WARNING,
					"rtp relay: receive failed: %s", strerror(errno));
		return 0;
	}
	return (unsigned)n;
}

/* Whether datagram h arrived on another interface than its leg's (side):
 * its source then belongs to the other side of the gateway and is spoofed,
 * whatever it says (the kernel fast path makes the same check, and sockets
 * see what rp_filter would have dropped when it is off). Local senders
 * (loopback) are the host itself. No IP_PKTINFO: not checked. */
static bool wrong_ingress(const struct msghdr *h, int side)
{
	int want = side_ifindex[side];

	if (!want)
		return false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)h); c;
	     c = CMSG_NXTHDR((struct msghdr *)h, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			return pi.ipi_ifindex != want && pi.ipi_ifindex != RELAY_LOOPBACK_IFINDEX;
		}
	}
	return false;
}

/* Whether a datagram from src may go on to the other side: from the latched
 * peer, or latching it now (*latched_now set), possibly replacing a worse
 * latched RTP source inside the window (latch.h's tiers). Others are counted
 * as drops, and as foreign when the policy rejects their source. */
static bool source_ok(struct relay_sock *sk, const struct sockaddr_in *src,
		      const unsigned char *pkt, unsigned len, bool *latched_now)
{
	struct media_leg *in = &sk->rs->pub.leg[sk->side];
	struct latch *l = &sk->rs->latch[sk->side];
	struct sockaddr_in *src_peer = sk->rtcp ? &in->peer_rtcp : &in->peer;
	bool *latched = sk->rtcp ? &in->rtcp_latched : &in->latched;
	enum latch_verdict v = LATCH_REJECT;
	bool relatch = false;

	if (*latched && same_ep(src, src_peer))
		return true;
	if (sk->rtcp)
		v = *latched ? LATCH_REJECT :
		    latch_rtcp(l, in->latched ? &in->peer : NULL, src, evloop_now_ms());
	else
		v = latch_rtp(l, src, pkt, len, evloop_now_ms());
	if (v != LATCH_ACCEPT) {
		in->drops++;
		if (v == LATCH_REJECT) {
			in->foreign++;
			foreign_total++;
		}
		return false;
	}
	relatch = *latched;
	/* Symmetric RTP: the party receives where it sends from, whatever its
	 * SDP said (NAT in front of it). */
	*src_peer = *src;
	src_peer->sin_family = AF_INET;
	memset(src_peer->sin_zero, 0, sizeof(src_peer->sin_zero));
	*latched = true;
	*latched_now = true;
	if (!sk->rtcp && relatch && in->peer_rtcp.sin_addr.s_addr != src->sin_addr.s_addr) {
		/* A better source replaced the RTP peer: RTCP follows it. */
		uint16_t port = ntohs(src->sin_port);

		in->rtcp_latched = false;
		in->peer_rtcp = *src_peer;
		in->peer_rtcp.sin_port = port < 65535 ? htons((uint16_t)(port + 1)) : 0;
	}
	generation++;
	if ((log_debug_mask & DBCLASS_RTP) || relatch) {
		char ep[ADDR_STRLEN];
		log_info("rtp relay: %s %s side %slatched to %s (tier %u, %s)",
			 sk->rtcp ? "rtcp" : "rtp",
			 sk->side == MEDIA_PRIVATE ? "private" : "public",
			 relatch ? "re-" : "", addr_str(src, ep), (unsigned)l->tier,
			 l->strict ? "strict" : "NAT");
	}
	return true;
}

/* Readiness callback of every relay socket. */
static void relay_rx(int fd, uint32_t events, void *arg)
{
	struct relay_sock *sk = arg;
	struct media_stream *s = &sk->rs->pub;
	struct media_leg *in = &s->leg[sk->side];
	struct media_leg *out = &s->leg[1 - sk->side];
	const struct sockaddr_in *dst = sk->rtcp ? &out->peer_rtcp : &out->peer;
	int out_fd = sk->rtcp ? out->fd_rtcp : out->fd_rtp;

	(void)events;   /* EPOLLERR is reported (and cleared) by recvmmsg itself */
	bool latched_now = false;
	for (int b = 0; b < RELAY_BATCHES_PER_WAKEUP; b++) {
		unsigned n = relay_recv(fd);
		if (n == 0)
			return;

		unsigned ntx = 0;
		bool from_party = false;
		io.dst = *dst;
		bool can_send = media_leg_may_send(s, (enum media_side)(1 - sk->side), sk->rtcp) &&
				!in->no_relay_tx[sk->rtcp];
		for (unsigned k = 0; k < n; k++) {
			const struct msghdr *h = &io.rx[k].msg_hdr;
			const struct sockaddr_in *src = &io.src[k];
			unsigned len = io.rx[k].msg_len;

			in->rx_packets++;
			in->rx_bytes += len;
			if ((h->msg_flags & MSG_TRUNC) || h->msg_namelen != sizeof(*src) ||
			    src->sin_family != AF_INET) {
				in->drops++;
				continue;
			}
			if (wrong_ingress(h, sk->side)) {
				in->drops++;
				in->foreign++;
				foreign_total++;
				wrong_ingress_total++;
				continue;
			}
			if (!source_ok(sk, src, io.buf[k], len, &latched_now))
				continue;
			from_party = true;
			if (!can_send) {
				in->drops++;   /* other side's receive address not known yet,
				                * or a conntrack entry owns this direction */
				continue;
			}
			io.tx_iov[ntx].iov_base = io.buf[k];
			io.tx_iov[ntx].iov_len = len;
			ntx++;
		}
		/* Only the party keeps the stream alive (rtp_timeout): a sprayer
		 * must not hold relay ports forever. */
		if (from_party)
			in->last_rx_ms = evloop_now_ms();
		if (ntx)
			relay_send(out_fd, ntx, in);
		if (latched_now) {
			latched_now = false;
			notify(s, MEDIA_EV_PEERS);
		}
		log_debug(DBCLASS_RTPBABL, "rtp relay: port %u: %u in, %u to forward",
			  ntohs(in->local.sin_port) + sk->rtcp, n, ntx);
		if (n < RELAY_BATCH)
			return;        /* queue drained */
	}
}

/* A non-blocking UDP socket bound to addr:port (host byte order port). No
 * SO_REUSEADDR: a port somebody else holds must fail with EADDRINUSE. */
static int udp_bind(struct in_addr addr, uint16_t port, int *fd)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr = addr,
	};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int on = 1;

	if (s < 0)
		return -errno;
	if (addr_set_dscp(s, relay_dscp) != 0)
		log_ratelimited("rtp-dscp", 60, LOG_WARNING, "rtp_dscp %u: %s", relay_dscp,
				strerror(errno));
	/* The arrival interface of each datagram, for wrong_ingress(). */
	if (setsockopt(s, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) < 0 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int err = errno;
		close(s);
		return -err;
	}
	*fd = s;
	return 0;
}

/* Bind a leg's RTP and RTCP sockets to addr:port and addr:port+1 (host
 * order port, already taken from the pool). Returns 0 or -errno. */
static int leg_bind(struct media_leg *leg, struct in_addr addr, uint16_t port)
{
	int fd_rtp = -1, fd_rtcp = -1;
	int rc = udp_bind(addr, port, &fd_rtp);

	if (!rc) {
		rc = udp_bind(addr, (uint16_t)(port + 1), &fd_rtcp);
		if (rc)
			close(fd_rtp);
	}
	if (rc)
		return rc;
	leg->fd_rtp = fd_rtp;
	leg->fd_rtcp = fd_rtcp;
	leg->local.sin_family = AF_INET;
	leg->local.sin_addr = addr;
	leg->local.sin_port = htons(port);
	return 0;
}

/* Reserve a pair for one leg and bind its RTP and RTCP sockets to addr.
 * Pairs that fail with EADDRINUSE are held aside (so the next draw is a
 * different pair) and returned to the pool at the end. Returns 0, -ENOSPC,
 * -EADDRINUSE (too many busy pairs) or -errno; on error the leg is untouched. */
static int leg_open(struct media_leg *leg, struct in_addr addr)
{
	uint16_t busy[RELAY_BUSY_MAX];
	unsigned nbusy = 0;
	int rc;

	for (;;) {
		uint16_t port;

		rc = portpool_get(&pool, &port);
		if (rc)
			break;
		rc = leg_bind(leg, addr, port);
		if (!rc)
			break;
		if (rc != -EADDRINUSE || nbusy == RELAY_BUSY_MAX) {
			portpool_put(&pool, port);
			break;
		}
		busy[nbusy++] = port;
	}
	if (nbusy)
		log_ratelimited("relay port busy", RELAY_LOG_INTERVAL_S, LOG_WARNING,
				"rtp relay: %u port pair(s) of the relay range are "
				"used by another program", nbusy);
	while (nbusy)
		portpool_put(&pool, busy[--nbusy]);
	return rc;
}

/* Unregister and close what the stream holds, return its ports, free it.
 * Works on a partly opened stream (fds -1, ports 0). */
static void stream_release(struct relay_stream *rs)
{
	for (int side = 0; side < 2; side++) {
		struct media_leg *leg = &rs->pub.leg[side];
		int *fds[2] = { &leg->fd_rtp, &leg->fd_rtcp };

		for (int c = 0; c < 2; c++) {
			if (*fds[c] >= 0) {
				evloop_del(*fds[c]);
				close(*fds[c]);
				*fds[c] = -1;
			}
		}
		if (leg->local.sin_port)
			portpool_put(&pool, ntohs(leg->local.sin_port));
	}
	free(rs);
}

int media_init(uint16_t port_low, uint16_t port_high)
{
	if (streams)
		return -EBUSY;
	portpool_fini(&pool);
	pool_ready = false;
	int rc = portpool_init(&pool, port_low, port_high);
	if (rc) {
		log_err("rtp relay: no usable port pair in %u-%u", port_low, port_high);
		return rc;
	}
	io_setup();
	pool_ready = true;
	log_debug(DBCLASS_RTP, "rtp relay: %u port pairs from %u", portpool_size(&pool),
		  pool.base);
	return 0;
}

void media_fini(void)
{
	while (streams)
		media_stream_close(&streams->pub);
	portpool_fini(&pool);
	pool_ready = false;
}

/* A new stream with no sockets yet. Returns 0, -EINVAL before media_init()
 * or -ENOMEM; *out is NULL on failure. */
static int stream_alloc(struct media_stream **out, struct relay_stream **rsp)
{
	struct relay_stream *rs;

	*out = NULL;
	if (!pool_ready)
		return -EINVAL;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	for (int side = 0; side < 2; side++) {
		rs->pub.leg[side].fd_rtp = -1;
		rs->pub.leg[side].fd_rtcp = -1;
	}
	*rsp = rs;
	return 0;
}

/* Register the bound sockets of rs with the evloop and list it; on failure
 * rs is released. Returns 0 or -errno. */
static int stream_start(struct relay_stream *rs, struct media_stream **out)
{
	int rc = 0;

	for (int side = 0; side < 2 && !rc; side++) {
		struct media_leg *leg = &rs->pub.leg[side];
		for (int c = 0; c < 2 && !rc; c++) {
			struct relay_sock *sk = &rs->sock[side][c];
			sk->rs = rs;
			sk->side = (uint8_t)side;
			sk->rtcp = (uint8_t)c;
			rc = evloop_add(c ? leg->fd_rtcp : leg->fd_rtp, EPOLLIN, relay_rx, sk);
		}
	}
	if (rc) {
		log_err("rtp relay: cannot watch stream sockets: %s", strerror(-rc));
		stream_release(rs);
		return rc;
	}
	rs->pub.opened_ms = evloop_now_ms();
	latch_window_open(rs);
	generation++;
	rs->next = streams;
	if (streams)
		streams->prev = rs;
	streams = rs;
	log_debug(DBCLASS_RTP, "rtp relay: stream open, ports %u (private) %u (public)",
		  ntohs(rs->pub.leg[0].local.sin_port), ntohs(rs->pub.leg[1].local.sin_port));
	*out = &rs->pub;
	return 0;
}

int media_stream_open(struct in_addr private_addr, struct in_addr public_addr,
		      struct media_stream **out)
{
	const struct in_addr addr[2] = { private_addr, public_addr };
	struct relay_stream *rs;
	int rc = stream_alloc(out, &rs);

	if (rc)
		return rc;
	for (int side = 0; side < 2 && !rc; side++)
		rc = leg_open(&rs->pub.leg[side], addr[side]);
	if (rc) {
		if (rc != -ENOSPC)
			log_err("rtp relay: cannot open stream: %s", strerror(-rc));
		stream_release(rs);
		return rc;
	}
	return stream_start(rs, out);
}

int media_stream_adopt(const struct media_leg legs[2], struct media_stream **out)
{
	struct relay_stream *rs;
	int rc = stream_alloc(out, &rs);

	if (rc)
		return rc;
	for (int side = 0; side < 2 && !rc; side++) {
		struct media_leg *leg = &rs->pub.leg[side];
		uint16_t port = ntohs(legs[side].local.sin_port);

		rc = portpool_take(&pool, port);
		if (rc)
			break;
		/* Ports, peers, latches and counters as saved; fresh sockets.
		 * Where the signalling came from is not saved: NAT rules. */
		*leg = legs[side];
		if (leg->sdp.sin_port) {
			latch_set_sdp(&rs->latch[side], (enum media_side)side,
				      &leg->sdp, (struct in_addr){ 0 });
			if (leg->latched)   /* only a better source may replace it */
				latch_adopted(&rs->latch[side], &leg->peer);
		}
		leg->fd_rtp = leg->fd_rtcp = -1;
		leg->local.sin_port = htons(port);   /* owned: stream_release returns it */
		rc = leg_bind(leg, legs[side].local.sin_addr, port);
		if (rc) {
			portpool_put(&pool, port);
			leg->local.sin_port = 0;
		}
	}
	if (rc) {
		stream_release(rs);
		return rc;
	}
	return stream_start(rs, out);
}

/* True if a is one of the stream's own relay sockets: sending there would
 * loop datagrams through the relay forever. */
static bool is_own_socket(const struct media_stream *s, const struct sockaddr_in *a)
{
	for (int side = 0; side < 2; side++) {
		const struct sockaddr_in *l = &s->leg[side].local;
		uint16_t p = ntohs(a->sin_port), lp = ntohs(l->sin_port);

		if ((p == lp || p == lp + 1) &&
		    (a->sin_addr.s_addr == l->sin_addr.s_addr ||
		     l->sin_addr.s_addr == htonl(INADDR_ANY)))
			return true;
	}
	return false;
}

void media_stream_set_peer(struct media_stream *s, enum media_side side,
			   const struct sockaddr_in *sdp_addr, struct in_addr signal_src)
{
	if (!s || !sdp_addr || (side != MEDIA_PRIVATE && side != MEDIA_PUBLIC))
		return;
	struct relay_stream *rs = relay_of(s);
	struct media_leg *leg = &s->leg[side];
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = sdp_addr->sin_port,
		.sin_addr = sdp_addr->sin_addr,
	};
	char ep[ADDR_STRLEN];

	latch_window_open(rs);
	/* The same SDP again (e.g. a session refresh) keeps the latch: the
	 * learnt source is better than the announced address behind NAT. */
	if (same_ep(&leg->sdp, &a))
		return;
	leg->sdp = a;
	latch_set_sdp(&rs->latch[side], side, &a, signal_src);
	generation++;
	/* A relay bound to loopback (tests, a relay for local programs) talks
	 * to this host by design: only its own sockets are refused there. */
	bool local_relay = (ntohl(leg->local.sin_addr.s_addr) >> 24) == 127;
	const char *why = is_own_socket(s, &a) ? "the relay itself" :
			  a.sin_port && !local_relay ?
			  media_dest_check(side, a.sin_addr, side_ifindex) : NULL;
	if (a.sin_addr.s_addr == htonl(INADDR_ANY))
		why = NULL;   /* c=0.0.0.0: hold (RFC 3264 8.4), never sent to anyway */
	/* A call hair-pinned through the provider (two of our phones, the
	 * provider in between): each leg's public party is the other leg's
	 * relay port on this gateway. Allowed for a relay port in use, the
	 * rest of this gateway stays refused. */
	rs->hairpin[side] = why && side == MEDIA_PUBLIC && !strcmp(why, "this gateway") &&
			    pool_ready && portpool_in_use(&pool, ntohs(a.sin_port));
	if (rs->hairpin[side])
		why = NULL;
	if (why) {
		/* Never sent to; the party may still latch by sending first. */
		log_ratelimited("sdp dest", RELAY_LOG_INTERVAL_S, LOG_WARNING,
				"rtp relay: SDP points %s side at %s (%s): not sent to",
				side == MEDIA_PRIVATE ? "private" : "public",
				addr_str(&a, ep), why);
		a.sin_port = 0;
	}
	leg->peer = a;
	leg->peer_rtcp = a;
	uint16_t port = ntohs(a.sin_port);
	leg->peer_rtcp.sin_port = (port && port < 65535) ? htons((uint16_t)(port + 1)) : 0;
	leg->latched = false;
	leg->rtcp_latched = false;
	log_debug(DBCLASS_RTP, "rtp relay: %s side peer from SDP: %s",
		  side == MEDIA_PRIVATE ? "private" : "public",
		  addr_str(&a, ep));
	notify(s, MEDIA_EV_PEERS);
}

void media_stream_signal(struct media_stream *s)
{
	if (s)
		latch_window_open(relay_of(s));
}

void media_stream_close(struct media_stream *s)
{
	if (!s)
		return;
	struct relay_stream *rs = relay_of(s);

	notify(s, MEDIA_EV_CLOSING);
	generation++;
	if (rs->prev)
		rs->prev->next = rs->next;
	else
		streams = rs->next;
	if (rs->next)
		rs->next->prev = rs->prev;
	log_debug(DBCLASS_RTP, "rtp relay: stream close, ports %u/%u, "
		  "private rx %llu fwd %llu drop %llu, public rx %llu fwd %llu drop %llu",
		  ntohs(s->leg[0].local.sin_port), ntohs(s->leg[1].local.sin_port),
		  (unsigned long long)s->leg[0].rx_packets,
		  (unsigned long long)s->leg[0].fwd_packets,
		  (unsigned long long)s->leg[0].drops,
		  (unsigned long long)s->leg[1].rx_packets,
		  (unsigned long long)s->leg[1].fwd_packets,
		  (unsigned long long)s->leg[1].drops);
	stream_release(rs);
}

unsigned media_ports_free(void)
{
	return portpool_free_count(&pool);
}
