/* The masquerading SIP proxy: classify, rewrite and forward (RFC 3261 16). */
#ifndef SIPMASQ_SIP_PROXY_H
#define SIPMASQ_SIP_PROXY_H

#include <stdbool.h>

#include "daemon/config.h"

/* proxy_init: read both interfaces' addresses, open the SIP socket. cfg must
 * outlive the proxy. Returns 0; -ENODEV naming the missing interface (a
 * configuration error: exit 2); other -errno (runtime failure). */
int proxy_init(const struct sipmasq_config *cfg);

/* proxy_tick: once a second: expire registrations and calls, and re-read
 * interface addresses every few seconds (dynamic ppp0/DHCP addresses). */
void proxy_tick(void);

/* proxy_fini: end calls (or, for a handover to the next sipmasq, forget
 * them silently: their streams stay open until media_fini), close the
 * socket. Registrations stay saved. */
void proxy_fini(bool handover);

#endif
