/* Interface changes as they happen: rtnetlink notifications of links and
 * IPv4 addresses (RTMGRP_LINK, RTMGRP_IPV4_IFADDR), so that a PPP
 * reconnect (the interface gone and back with a new index, maybe a new
 * address) is followed at once instead of at the next periodic look. */
#ifndef SIPMASQ_IFACE_WATCH_H
#define SIPMASQ_IFACE_WATCH_H

/* Called once per batch of notifications (any link or IPv4 address change
 * on the host or namespace; the callee re-reads what it cares about). */
typedef void (*iface_watch_cb)(void *arg);

/* iface_watch_open: subscribe and register with the evloop; cb(arg) runs
 * from the loop after each batch. Returns 0 or -errno (the caller then
 * relies on its periodic look alone). */
int iface_watch_open(iface_watch_cb cb, void *arg);

/* iface_watch_close: unsubscribe (nothing when not open). */
void iface_watch_close(void);

#endif
