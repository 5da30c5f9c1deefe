/* The proxy's own addresses: what sipmasq shows toward each side and how
 * it recognises itself. The state is owned by the proxy (sip_proxy.c) and
 * passed to every function that needs it: no global. */
#ifndef SIPMASQ_PROXY_ADDRESSES_H
#define SIPMASQ_PROXY_ADDRESSES_H

#include <netinet/in.h>
#include <osipparser2/osip_parser.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/config/config.h"
#include "daemon/base/iface.h"
#include "kmod-free-fallback/media.h"

/* The proxy's addresses, set by proxy_init / proxy_init_offline and kept
 * current by proxy_addrs_refresh and proxy_host_outbound_lookup. */
struct proxy_addrs {
	const struct sipmasq_config *cfg; /* outlives the proxy; not owned */
	struct iface_side side[2];       /* by enum media_side */
	struct in_addr announce_pub;     /* host_outbound, else if_outbound's address */
	unsigned short port;             /* sip_listen_port, host order */
	uint64_t last_iface_ms;          /* evloop_now_ms() of the last interface read */
	struct in_addr host_outbound_ip; /* last address of host_outbound, 0 = none yet */
	uint64_t last_dns_ms;            /* last lookup of host_outbound, ms */
	bool offline;                    /* proxy_init_offline: interfaces are fixed */
};

/* proxy_side_name: "private" or "public", for log lines. */
const char *proxy_side_name(enum media_side s);

/* proxy_face: the address sipmasq shows toward side s (Via, Record-Route,
 * Contact, SDP). */
struct in_addr proxy_face(const struct proxy_addrs *pa, enum media_side s);

/* proxy_ip_is_ours: ip is one of sipmasq's addresses (either side, or
 * host_outbound's). */
bool proxy_ip_is_ours(const struct proxy_addrs *pa, struct in_addr ip);

/* proxy_uri_is_ours: uri names sipmasq itself (numeric host of ours and
 * the listen port). */
bool proxy_uri_is_ours(const struct proxy_addrs *pa, const osip_uri_t *uri);

/* proxy_refresh_interfaces: re-read both interfaces' addresses into pa
 * and log changes. Returns 0, or iface_lookup's error (-ENODEV) for the
 * side that failed first. */
int proxy_refresh_interfaces(struct proxy_addrs *pa);

/* proxy_host_outbound_lookup: look host_outbound up when it is a name:
 * at_start waits up to 5 s (before the loop runs), later lookups use the
 * cache or run in the background; pa->announce_pub follows the answer, the
 * last address stays while the DNS fails. pa must outlive the lookup (the
 * resolver calls back with it). */
void proxy_host_outbound_lookup(struct proxy_addrs *pa, bool at_start);

#endif
