/* The proxy's own addresses: the interfaces' addresses re-read (an
 * if_outbound whose address changes, e.g. ppp0), and host_outbound looked
 * up as a name (dynamic DNS) without blocking the loop. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "daemon/base/addr.h"
#include "daemon/base/evloop.h"
#include "daemon/base/log.h"
#include "daemon/proxy/proxy_addresses.h"
#include "daemon/sip/sip_msg.h"
#include "daemon/dns/resolver.h"
#include "daemon/sip/sip_hop.h"

const char *proxy_side_name(enum media_side s)
{
	return s == MEDIA_PRIVATE ? "private" : "public";
}

/* The address sipmasq shows toward a side (Via, Record-Route, Contact, SDP). */
struct in_addr proxy_face(const struct proxy_addrs *pa, enum media_side s)
{
	return s == MEDIA_PUBLIC ? pa->announce_pub : pa->side[MEDIA_PRIVATE].addr;
}

bool proxy_ip_is_ours(const struct proxy_addrs *pa, struct in_addr ip)
{
	return ip.s_addr == pa->side[0].addr.s_addr || ip.s_addr == pa->side[1].addr.s_addr ||
	       ip.s_addr == pa->announce_pub.s_addr;
}

bool proxy_uri_is_ours(const struct proxy_addrs *pa, const osip_uri_t *uri)
{
	unsigned short port;
	const char *host = sipmsg_uri_host_port(uri, &port);
	struct in_addr ip;

	return host && addr_is_numeric(host, &ip) && proxy_ip_is_ours(pa, ip) && port == pa->port;
}

/* Re-read interface addresses; logs changes. Returns iface_lookup's code for
 * the side that failed first. */
int proxy_refresh_interfaces(struct proxy_addrs *pa)
{
	const char *names[2] = { pa->cfg->if_inbound, pa->cfg->if_outbound };
	int rc = 0;

	for (int s = 0; s < 2; s++) {
		struct iface_side now;
		int r = iface_lookup(names[s], &now);

		if (r == -ENODEV && !rc)
			rc = r;
		if (now.addr.s_addr != pa->side[s].addr.s_addr) {
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &now.addr, ip, sizeof(ip));
			if (now.addr.s_addr)
				log_notice("%s interface %s: address %s",
					   proxy_side_name((enum media_side)s), names[s], ip);
			else
				log_warn("%s interface %s has no IPv4 address",
					 proxy_side_name((enum media_side)s), names[s]);
		}
		pa->side[s] = now;
	}
	pa->announce_pub = pa->host_outbound_ip.s_addr ? pa->host_outbound_ip :
			  pa->side[MEDIA_PUBLIC].addr;
	pa->last_iface_ms = evloop_now_ms();
	return rc;
}

static void on_host_outbound(void *arg, const struct sip_hop *hop, int err,
			     const struct sockaddr_in *addr)
{
	struct proxy_addrs *pa = arg;
	char ip[INET_ADDRSTRLEN];

	if (err) {
		if (err != -ECANCELED)
			log_ratelimited("host_outbound", 300, LOG_WARNING,
					"host_outbound %s does not resolve (%s)%s", hop->host,
					strerror(-err), pa->host_outbound_ip.s_addr ?
					": keeping the last address" : "");
		return;
	}
	if (addr->sin_addr.s_addr != pa->host_outbound_ip.s_addr) {
		inet_ntop(AF_INET, &addr->sin_addr, ip, sizeof(ip));
		log_notice("host_outbound %s: address %s", hop->host, ip);
	}
	pa->host_outbound_ip = addr->sin_addr;
	pa->announce_pub = addr->sin_addr;
}

/* host_outbound may be a name (dynamic DNS): looked up at start (waiting
 * for the answer: the loop is not running yet), then every
 * host_outbound_refresh s without blocking; the cache keeps an answer for
 * its TTL. Until a new answer arrives the last address stays in use. */
void proxy_host_outbound_lookup(struct proxy_addrs *pa, bool at_start)
{
	struct sip_hop hop;
	struct sockaddr_in sa;
	int rc;

	pa->last_dns_ms = evloop_now_ms();
	if (!pa->cfg->host_outbound[0] || sip_hop_set(&hop, pa->cfg->host_outbound, 5060) != 0)
		return;   /* a port: A only, no SRV */
	rc = at_start ? resolver_resolve_sync(&hop, &sa, 5000) : resolver_cached(&hop, &sa);
	if (rc == -EAGAIN)
		rc = resolver_start(&hop, on_host_outbound, pa);
	else
		on_host_outbound(pa, &hop, rc, &sa);
	if (rc == -EBUSY)
		log_ratelimited("host_outbound", 300, LOG_WARNING,
				"host_outbound %s: resolver busy, retrying later", hop.host);
}
