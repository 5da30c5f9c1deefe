/* epoll-based dispatch. Handlers are indexed by fd; a handler removed while
 * its event waits in the current batch is marked dead and skipped, so freeing
 * the callback's object right after evloop_del() is safe. */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "daemon/base/evloop.h"

struct handler {
	evloop_cb cb;
	void *arg;
	uint32_t gen;   /* bumped on every add/del so stale batch entries are detected */
	int live;
};

static int epfd = -1;
static struct handler *handlers;
static int nhandlers;

int evloop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -errno : 0;
}

void evloop_fini(void)
{
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
	free(handlers);
	handlers = NULL;
	nhandlers = 0;
}

static int handlers_reserve(int fd)
{
	if (fd < nhandlers)
		return 0;
	int n = nhandlers ? nhandlers : 64;
	while (n <= fd)
		n *= 2;
	struct handler *h = realloc(handlers, (size_t)n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(h + nhandlers, 0, (size_t)(n - nhandlers) * sizeof(*h));
	handlers = h;
	nhandlers = n;
	return 0;
}

int evloop_add(int fd, uint32_t events, evloop_cb cb, void *arg)
{
	int rc = handlers_reserve(fd);
	if (rc)
		return rc;
	struct handler *h = &handlers[fd];
	h->gen++;
	struct epoll_event ev = {
		.events = events,
		.data.u64 = ((uint64_t)h->gen << 32) | (uint32_t)fd,
	};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	h->cb = cb;
	h->arg = arg;
	h->live = 1;
	return 0;
}

void evloop_del(int fd)
{
	if (fd < 0 || fd >= nhandlers || !handlers[fd].live)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	handlers[fd].live = 0;
	handlers[fd].gen++;
}

int evloop_run_once(int timeout_ms)
{
	struct epoll_event evs[64];
	int n = epoll_wait(epfd, evs, 64, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		if (fd >= nhandlers)
			continue;
		struct handler *h = &handlers[fd];
		if (!h->live || h->gen != gen)
			continue;
		h->cb(fd, evs[i].events, h->arg);
	}
	return n;
}

uint64_t evloop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
