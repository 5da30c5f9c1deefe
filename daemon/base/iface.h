/* Addresses of the inbound (private) and outbound (public) interfaces. */
#ifndef SIPMASQ_IFACE_H
#define SIPMASQ_IFACE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* What sipmasq knows of one side of the gateway. */
struct iface_side {
	char name[16];            /* interface name from the config */
	int ifindex;              /* 0 when the interface is gone */
	struct in_addr addr;      /* its first IPv4 address; 0 when none */
	struct in_addr netmask;
};

/* iface_lookup: read the first IPv4 address, netmask and index of `name`
 * into *side. Returns 0, -ENODEV if there is no such interface, or
 * -EADDRNOTAVAIL if it has no IPv4 address (e.g. ppp0 not up yet). */
int iface_lookup(const char *name, struct iface_side *side);

/* iface_driver: the kernel driver name of interface `name` ("veth",
 * "virtio_net", "mlx5_core", ...) into buf (size n), via ETHTOOL_GDRVINFO.
 * Returns 0 or -errno (-EOPNOTSUPP for interfaces without ethtool support). */
int iface_driver(const char *name, char *buf, size_t n);

/* iface_index_of_addr: index of the interface that holds IPv4 address ip
 * (network byte order), 0 when none does or on error. */
int iface_index_of_addr(struct in_addr ip);

/* iface_in_subnet: ip lies in the side's subnet. */
bool iface_in_subnet(const struct iface_side *side, struct in_addr ip);

#endif
