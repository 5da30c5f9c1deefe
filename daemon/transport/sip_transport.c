/* UDP SIP transport. IP_PKTINFO tells which interface a request came in on,
 * the first clue to its direction. */
#include "autoconfig.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/base/addr.h"
#include "daemon/base/evloop.h"
#include "daemon/base/log.h"
#include "daemon/transport/sip_tcp.h"
#include "daemon/transport/sip_transport.h"

static int sip_fd = -1;
static sip_rx_cb rx_cb;
static char rx_buf[SIP_MAX_DATAGRAM + 1];

static void sip_transport_readable(int fd, uint32_t events, void *arg)
{
	(void)events;
	(void)arg;
	/* Bounded so media and timers get their turn under a SIP flood. */
	for (int n = 0; n < 64; n++) {
		struct sockaddr_in src;
		char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct iovec iov = { rx_buf, SIP_MAX_DATAGRAM };
		struct msghdr mh = {
			.msg_name = &src, .msg_namelen = sizeof(src),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		int ifindex = 0;
		ssize_t len = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (len < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_ratelimited("sip-recv", 10, LOG_WARNING, "SIP recvmsg: %s",
						strerror(errno));
			return;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				ifindex = pi.ipi_ifindex;
			}
		}
		if (mh.msg_flags & MSG_TRUNC) {
			char a[ADDR_STRLEN];
			log_ratelimited("sip-trunc", 10, LOG_WARNING,
					"SIP datagram from %s too large, dropped", addr_str(&src, a));
			continue;
		}
		rx_buf[len] = '\0';
		rx_cb(rx_buf, (size_t)len, &src, ifindex, SIP_PROTO_UDP);
	}
}

int sip_transport_open(unsigned short port, unsigned dscp, sip_rx_cb cb)
{
	struct sockaddr_in sa;
	int one = 1, rc;

	sip_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sip_fd < 0)
		return -errno;
	setsockopt(sip_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(sip_fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	rc = addr_set_dscp(sip_fd, dscp);
	if (rc)
		log_warn("sip_dscp %u on the UDP socket: %s", dscp, strerror(-rc));
	sa = addr_make((struct in_addr){ htonl(INADDR_ANY) }, port);
	if (bind(sip_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(sip_fd);
		sip_fd = -1;
		return rc;
	}
	rx_cb = cb;
	rc = evloop_add(sip_fd, EPOLLIN, sip_transport_readable, NULL);
	if (rc) {
		close(sip_fd);
		sip_fd = -1;
	}
	return rc;
}

int sip_transport_send(const struct sockaddr_in *dst, const char *buf, size_t len)
{
	char a[ADDR_STRLEN];

	if (sip_fd < 0)
		return -EBADF;   /* not open (proxy_init_offline): nothing to send on */
	if (sendto(sip_fd, buf, len, 0, (const struct sockaddr *)dst, sizeof(*dst)) < 0) {
		int err = errno;
		log_ratelimited("sip-send", 10, LOG_WARNING, "SIP send to %s: %s",
				addr_str(dst, a), strerror(err));
		return -err;
	}
	log_debug(DBCLASS_NETTRAF, "sent %zu bytes to %s", len, addr_str(dst, a));
	return 0;
}

int sip_transport_deliver(enum sip_proto proto, const struct sockaddr_in *dst, const char *buf, size_t len)
{
	return proto == SIP_PROTO_TCP ? sip_tcp_send(dst, buf, len) :
	       sip_transport_send(dst, buf, len);
}

void sip_transport_close(void)
{
	if (sip_fd < 0)
		return;
	evloop_del(sip_fd);
	close(sip_fd);
	sip_fd = -1;
}
