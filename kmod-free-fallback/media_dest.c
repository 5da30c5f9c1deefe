/* Destinations the relay refuses; see media_dest.h. */
#include "autoconfig.h"   /* autoconf; <> so that daemon/config/config.h is never picked */

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdlib.h>

#include "kmod-free-fallback/media_dest.h"

#define MEDIA_DEST_MAX_ADDRS 64   /* addresses of this host looked at */

/* Whether a (host order) lies in the network of e on its side. */
static bool in_net(uint32_t a, const struct media_ifaddr *e)
{
	uint32_t m = ntohl(e->mask.s_addr);

	return m && (a & m) == (ntohl(e->addr.s_addr) & m);
}

const char *media_dest_verdict(enum media_side side, struct in_addr a,
			       const struct media_ifaddr *list, size_t n, const int ifindex[2])
{
	uint32_t h = ntohl(a.s_addr);
	int mine = ifindex[side], other = ifindex[!side];

	/* The private side may be this host itself (a PBX on the gateway,
	 * on loopback or one of its addresses, as siproxd allows); from the
	 * public side, this host is never a party. */
	bool host_ok = side == MEDIA_PRIVATE;

	if ((h >> 24) == 127)
		return host_ok ? NULL : "loopback";
	if ((h >> 28) == 0xe)
		return "multicast";
	if (h == 0xffffffffu)
		return "broadcast";
	if ((h >> 24) == 0 || (h >> 28) == 0xf)
		return "reserved";   /* 0.0.0.0/8 "this network", 240.0.0.0/4 */
	for (size_t i = 0; i < n; i++) {
		const struct media_ifaddr *e = &list[i];
		uint32_t m = ntohl(e->mask.s_addr);

		if (e->addr.s_addr == a.s_addr)
			return host_ok ? NULL : "this gateway";
		/* The directed broadcast of a connected network (a /31 or /32
		 * has none). */
		if (m && m < 0xfffffffeu && in_net(h, e) && (h | m) == 0xffffffffu)
			return "broadcast";
	}
	if (!other || other == mine)
		return NULL;
	/* A host on a network of the other side's interface, unless that
	 * network is also on this side's interface. */
	bool theirs = false, ours = false;
	for (size_t i = 0; i < n; i++) {
		if (!in_net(h, &list[i]))
			continue;
		if (list[i].ifindex == other)
			theirs = true;
		else if (list[i].ifindex == mine)
			ours = true;
	}
	return theirs && !ours ? "other side's network" : NULL;
}

const char *media_dest_check(enum media_side side, struct in_addr a, const int ifindex[2])
{
	struct media_ifaddr list[MEDIA_DEST_MAX_ADDRS];
	struct ifaddrs *ifa = NULL;
	size_t n = 0;

	/* A netlink dump per SDP: signalling rate, not packet rate. */
	if (getifaddrs(&ifa) == 0) {
		for (struct ifaddrs *p = ifa; p && n < MEDIA_DEST_MAX_ADDRS; p = p->ifa_next) {
			if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET)
				continue;
			list[n].addr = ((const struct sockaddr_in *)(const void *)p->ifa_addr)->sin_addr;
			list[n].mask.s_addr = p->ifa_netmask ?
				((const struct sockaddr_in *)(const void *)p->ifa_netmask)->sin_addr.s_addr : 0;
			list[n].ifindex = (int)if_nametoindex(p->ifa_name);
			n++;
		}
		freeifaddrs(ifa);
	}
	return media_dest_verdict(side, a, list, n, ifindex);
}
