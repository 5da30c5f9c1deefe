/* The masquerading SIP proxy: classify, rewrite and forward (RFC 3261 16). */
#ifndef SIPMASQ_SIP_PROXY_H
#define SIPMASQ_SIP_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/config/config.h"
#include "daemon/base/iface.h"

/* proxy_init: read both interfaces' addresses, open the SIP socket. cfg must
 * outlive the proxy. Returns 0; -ENODEV naming the missing interface (a
 * configuration error: exit 2); other -errno (runtime failure). */
int proxy_init(const struct sipmasq_config *cfg);

/* proxy_init_offline: for tests and fuzzing: set up the proxy state with
 * the given interfaces (by enum media_side; copied) instead of reading real
 * ones, and open no socket: proxy_input() then feeds datagrams and every
 * send fails harmlessly (sip_transport_send returns -EBADF). Interfaces are
 * never re-read; host_outbound is used only when numeric. cfg must outlive
 * the proxy. Returns 0. */
int proxy_init_offline(const struct sipmasq_config *cfg, const struct iface_side side[2]);

/* proxy_input: handle one SIP datagram as if received from src on interface
 * ifindex (0 = unknown): the transport's receive callback. buf holds len
 * bytes and buf[len] must be readable and '\0', as the transport provides. */
void proxy_input(const char *buf, size_t len, const struct sockaddr_in *src, int ifindex);

/* proxy_tick: once a second: expire registrations and calls, and re-read
 * interface addresses every few seconds (dynamic ppp0/DHCP addresses). */
void proxy_tick(void);

/* proxy_fini: end calls (or, for a handover to the next sipmasq, forget
 * them silently: their streams stay open until media_fini), close the
 * socket. Registrations stay saved. */
void proxy_fini(bool handover);

#endif
