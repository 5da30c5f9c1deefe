/* Interface address lookup with getifaddrs(3); the daemon calls it at start
 * and periodically, so a dynamic address (ppp0, DHCP) is followed. */
#include "autoconfig.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/base/iface.h"

int iface_lookup(const char *name, struct iface_side *side)
{
	struct ifaddrs *ifa_list, *ifa;
	int rc = -EADDRNOTAVAIL;
	unsigned idx = if_nametoindex(name);

	memset(side, 0, sizeof(*side));
	strncpy(side->name, name, sizeof(side->name) - 1);
	if (!idx)
		return -ENODEV;
	side->ifindex = (int)idx;
	if (getifaddrs(&ifa_list) < 0)
		return -errno;
	for (ifa = ifa_list; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET ||
		    strcmp(ifa->ifa_name, name) != 0)
			continue;
		side->addr = ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
		if (ifa->ifa_netmask)
			side->netmask = ((struct sockaddr_in *)ifa->ifa_netmask)->sin_addr;
		rc = 0;
		break;
	}
	freeifaddrs(ifa_list);
	return rc;
}

int iface_index_of_addr(struct in_addr ip)
{
	struct ifaddrs *ifa_list, *ifa;
	int idx = 0;

	if (getifaddrs(&ifa_list) < 0)
		return 0;
	for (ifa = ifa_list; ifa && !idx; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr && ifa->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr == ip.s_addr)
			idx = (int)if_nametoindex(ifa->ifa_name);
	}
	freeifaddrs(ifa_list);
	return idx;
}

bool iface_in_subnet(const struct iface_side *side, struct in_addr ip)
{
	if (!side->addr.s_addr)
		return false;
	return (ip.s_addr & side->netmask.s_addr) ==
	       (side->addr.s_addr & side->netmask.s_addr);
}

int iface_driver(const char *name, char *buf, size_t n)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&info;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		rc = -errno;
	else
		snprintf(buf, n, "%s", info.driver);
	close(fd);
	return rc;
}
