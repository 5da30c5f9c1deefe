/* The `user` directive at start-up: which capabilities the running
 * configuration still needs once its sockets are bound and its BPF
 * programs attached, and what must change hands for the stop to work. */
#ifndef SIPMASQ_DROP_ROOT_H
#define SIPMASQ_DROP_ROOT_H

#include "daemon/base/privs.h"
#include "daemon/config/config.h"

/* drop_root: hand the control socket and the BPF pin directory (when a
 * kernel engine is attached) to u, then become u keeping CAP_BPF and
 * CAP_NET_ADMIN for the kernel engine and CAP_NET_BIND_SERVICE for relay
 * ports below 1024, each only when in use. Call after control_open and
 * offload_init. Returns 0 or -errno (logged): the daemon must not go on. */
int drop_root(const struct sipmasq_config *cfg, const struct privs_user *u);

#endif
