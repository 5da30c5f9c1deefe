/* Single-threaded event loop over epoll, plus a monotonic clock. */
#ifndef SIPMASQ_EVLOOP_H
#define SIPMASQ_EVLOOP_H

#include <stdint.h>

/* Called with the fd and the epoll event bits (EPOLLIN, ...) that fired. */
typedef void (*evloop_cb)(int fd, uint32_t events, void *arg);

/* evloop_init: create the epoll instance. Returns 0 or -errno. */
int evloop_init(void);

/* evloop_fini: close the epoll instance and forget every handler. */
void evloop_fini(void);

/* evloop_add: watch fd for `events` (EPOLLIN...), calling cb(fd, ev, arg).
 * The loop does not own fd. Returns 0 or -errno (-ENOMEM, epoll_ctl's). */
int evloop_add(int fd, uint32_t events, evloop_cb cb, void *arg);

/* evloop_del: stop watching fd. Safe from inside any callback, also for an fd
 * whose event is still pending in the current batch (it is then skipped).
 * Call it before close(fd). */
void evloop_del(int fd);

/* evloop_run_once: wait at most timeout_ms for events and dispatch them.
 * Returns the number of events dispatched or -errno (EINTR is returned as 0). */
int evloop_run_once(int timeout_ms);

/* evloop_now_ms: CLOCK_MONOTONIC in milliseconds. */
uint64_t evloop_now_ms(void);

#endif
