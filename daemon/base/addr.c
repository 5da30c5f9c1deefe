/* IPv4 socket address helpers. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/addr.h"

char *addr_str(const struct sockaddr_in *sa, char *buf)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
	snprintf(buf, ADDR_STRLEN, "%s:%u", ip, ntohs(sa->sin_port));
	return buf;
}

struct sockaddr_in addr_make(struct in_addr ip, uint16_t port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr = ip;
	sa.sin_port = htons(port);
	return sa;
}

bool addr_equal(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

bool addr_is_numeric(const char *host, struct in_addr *ip)
{
	struct in_addr tmp;

	if (!host || inet_pton(AF_INET, host, &tmp) != 1)
		return false;
	if (ip)
		*ip = tmp;
	return true;
}

int addr_resolve(const char *host, uint16_t port, struct sockaddr_in *out)
{
	struct in_addr ip;

	if (!host || !*host)
		return -EINVAL;
	if (!addr_is_numeric(host, &ip)) {
		struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
		struct addrinfo *res = NULL;

		if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
			return -EHOSTUNREACH;
		ip = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
		freeaddrinfo(res);
	}
	*out = addr_make(ip, port);
	return 0;
}

uint16_t addr_parse_port(const char *s, uint16_t dflt)
{
	char *end;
	unsigned long v;

	if (!s || !*s)
		return dflt;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return 0;
	return (uint16_t)v;
}

int addr_set_dscp(int fd, unsigned dscp)
{
	int tos = (int)((dscp & 0x3f) << 2);

	if (!dscp)
		return 0;
	return setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) < 0 ? -errno : 0;
}

bool addr_is_endpoint(const struct sockaddr_in *a)
{
	return a->sin_port != 0 && a->sin_addr.s_addr != htonl(INADDR_ANY);
}

struct sockaddr_in addr_port_plus(const struct sockaddr_in *a, unsigned add)
{
	struct sockaddr_in r = *a;

	r.sin_port = htons((uint16_t)(ntohs(a->sin_port) + add));
	return r;
}
