/* rtnetlink link and address notifications, see iface_watch.h. */
#include "autoconfig.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/base/evloop.h"
#include "daemon/base/iface_watch.h"

static int watch_fd = -1;
static iface_watch_cb watch_cb;
static void *watch_arg;

/* Drain the socket (the content does not matter: any change makes the
 * callee re-read both interfaces), then call back once. A full socket
 * buffer (ENOBUFS: notifications lost) counts as a change too. */
static void watch_readable(int fd, uint32_t events, void *arg)
{
	char buf[8192];
	bool changed = false;

	(void)events;
	(void)arg;
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0 || (n < 0 && errno == ENOBUFS)) {
			changed = true;
			continue;
		}
		break;
	}
	if (changed && watch_cb)
		watch_cb(watch_arg);
}

int iface_watch_open(iface_watch_cb cb, void *arg)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR,
	};
	int rc;

	iface_watch_close();
	watch_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (watch_fd < 0)
		return -errno;
	if (bind(watch_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(watch_fd);
		watch_fd = -1;
		return rc;
	}
	rc = evloop_add(watch_fd, EPOLLIN, watch_readable, NULL);
	if (rc) {
		close(watch_fd);
		watch_fd = -1;
		return rc;
	}
	watch_cb = cb;
	watch_arg = arg;
	return 0;
}

void iface_watch_close(void)
{
	if (watch_fd < 0)
		return;
	evloop_del(watch_fd);
	close(watch_fd);
	watch_fd = -1;
	watch_cb = NULL;
}
