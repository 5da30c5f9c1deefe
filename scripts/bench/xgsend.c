/* The user-space side shared by the benchmark's load generators: see
 * xgsend.h. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xgsend.h"

uint64_t xg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint16_t ip_csum(const void *hdr, size_t len)
{
	const uint8_t *p = hdr;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static int if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (rc == 0)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return rc;
}

/* Reads the ports of spec into out[0..max), network byte order. Returns
 * how many, or -1 on a bad list, too many or an unreadable file. */
static int ports_read(const char *spec, uint16_t *out, int max)
{
	FILE *f = NULL;
	char buf[16];
	const char *p = spec;
	int n = 0;

	if (spec[0] == '@' && !(f = fopen(spec + 1, "r")))
		return -1;
	for (;;) {
		long v;
		char *end;

		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				break;
			v = strtol(buf, &end, 10);
		} else {
			v = strtol(p, &end, 10);
			if (end == p)
				break;
			p = *end == ',' ? end + 1 : end;
		}
		if (v <= 0 || v > 65535 || n >= max) {
			n = 0;
			break;
		}
		out[n++] = htons((uint16_t)v);
	}
	if (f)
		fclose(f);
	return n ? n : -1;
}

static void build_frame(uint8_t *fr, const uint8_t dmac[6], const uint8_t smac[6],
			struct in_addr src, uint16_t sport, struct in_addr dst)
{
	struct iphdr *ip = (struct iphdr *)(fr + 14);
	struct udphdr *udp = (struct udphdr *)(fr + 34);

	memset(fr, 0, XG_FRAME_LEN);
	memcpy(fr, dmac, 6);
	memcpy(fr + 6, smac, 6);
	fr[12] = 0x08;   /* ETH_P_IP */
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(XG_FRAME_LEN - 14);
	ip->frag_off = htons(0x4000);   /* DF */
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = src.s_addr;
	ip->daddr = dst.s_addr;
	ip->check = ip_csum(ip, sizeof(*ip));
	udp->source = htons(sport);
	udp->len = htons(XG_FRAME_LEN - 34);
	udp->check = 0;   /* none: every frame gets its own port and payload */
	fr[42] = 0x80;    /* RTP V=2 */
	fr[43] = 8;       /* PT 8, PCMA */
	memcpy(fr + 50, "\x5a\x5a\x5a\x5a", 4);   /* SSRC */
}

int xg_netns_enter(const char *prog, const char *path)
{
	int self, fd;

	if (!path)
		return -2;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "%s: network namespace %s: %s\n", prog, path, strerror(errno));
		if (self >= 0)
			close(self);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return self;
}

void xg_netns_leave(const char *prog, int prev)
{
	if (prev >= 0) {
		if (setns(prev, CLONE_NEWNET))
			fprintf(stderr, "%s: back to the network namespace: %s\n", prog,
				strerror(errno));
		close(prev);
	}
}

/* Parses IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS (argv[0..4]) into d and
 * builds its template frame, resolving IFNAME in d->netns; the ports go
 * to port[0..max). 0, or 2 on bad arguments, 1 on a system error. */
static int parse_dir(const char *prog, char **argv, struct xg_dir *d, uint16_t *port, int max)
{
	uint8_t dmac[6], smac[6];
	struct in_addr src, dst;
	char host[64];
	const char *colon = strrchr(argv[2], ':');
	int prev, rc = 0;

	if (parse_mac(argv[1], dmac) || !colon || (size_t)(colon - argv[2]) >= sizeof(host) ||
	    inet_pton(AF_INET, argv[3], &dst) != 1)
		return 2;
	memcpy(host, argv[2], (size_t)(colon - argv[2]));
	host[colon - argv[2]] = '\0';
	if (inet_pton(AF_INET, host, &src) != 1)
		return 2;
	d->ifname = argv[0];
	d->port = port;
	d->nports = ports_read(argv[4], port, max);
	if (d->nports <= 0) {
		fprintf(stderr, "%s: bad PORTS '%s'\n", prog, argv[4]);
		return 2;
	}
	prev = xg_netns_enter(prog, d->netns);
	if (prev == -1)
		return 1;
	d->ifindex = if_nametoindex(d->ifname);
	if (!d->ifindex || if_mac(d->ifname, smac)) {
		fprintf(stderr, "%s: %s: %s\n", prog, d->ifname, strerror(errno));
		rc = 1;
	}
	xg_netns_leave(prog, prev);
	build_frame(d->frame, dmac, smac, src, (uint16_t)atoi(colon + 1), dst);
	return rc;
}

/* An unsigned decimal from the environment variable name, or dflt. */
static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 10) : dflt;
}

int xg_send_args_parse(const char *prog, int argc, char **argv, struct xg_send_args *a)
{
	uint16_t *ports;
	unsigned long long burst;
	int rc;

	memset(a, 0, sizeof(*a));
	a->start_ns = env_u64("XG_START_NS", 0);
	a->jitter_ns = env_u64("XG_JITTER_NS", 0);
	a->drop_at = env_u64("XG_DROP", UINT64_MAX);
	a->dup_at = env_u64("XG_DUP", UINT64_MAX);
	if (argc != 10 && argc != 16)
		return 2;
	a->rate_pps = atof(argv[2]);
	a->seconds = atof(argv[3]);
	burst = strtoull(argv[4], NULL, 10);
	if (a->rate_pps < 0 || a->seconds <= 0 || burst < 1 || burst > XG_LAG_MAX)
		return 2;
	a->burst = (unsigned)burst;
	a->ndir = argc == 16 ? 2 : 1;
	/* One table for both directions: the streams are numbered across them. */
	ports = calloc(XG_MAX_STREAMS, sizeof(*ports));
	if (!ports)
		return 1;
	if ((rc = parse_dir(prog, argv + 5, &a->dir[0], ports, XG_MAX_STREAMS))) {
		free(ports);
		a->dir[0].port = NULL;
		return rc;
	}
	if (a->ndir == 2) {
		a->dir[1].netns = argv[10];
		rc = parse_dir(prog, argv + 11, &a->dir[1], ports + a->dir[0].nports,
			       XG_MAX_STREAMS - a->dir[0].nports);
	}
	return rc;
}

void xg_send_args_free(struct xg_send_args *a)
{
	free(a->dir[0].port);   /* the table of both directions */
	a->dir[0].port = a->dir[1].port = NULL;
}

/* One SIOCETHTOOL of an ethtool_value on ifname. 0 or -errno. */
static int ethtool_value(const char *ifname, struct ethtool_value *ev)
{
	struct ifreq ifr;
	int fd, rc = 0;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)ev;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

int xg_ethtool_set(const char *prog, const char *ifname, uint32_t cmd, uint32_t on)
{
	struct ethtool_value ev = { .cmd = cmd, .data = on };
	int rc = ethtool_value(ifname, &ev);

	if (rc)
		fprintf(stderr, "%s: ethtool 0x%x on %s: %s\n", prog, cmd, ifname, strerror(-rc));
	return rc;
}

int xg_ethtool_get(const char *ifname, uint32_t cmd)
{
	struct ethtool_value ev = { .cmd = cmd };
	int rc = ethtool_value(ifname, &ev);

	return rc ? rc : ev.data != 0;
}

uint64_t xg_wait_start(struct xg_send_args *a)
{
	uint64_t now = xg_now_ns();

	if (a->start_ns <= now) {
		uint64_t late = a->start_ns ? now - a->start_ns : 0;

		a->start_ns = now;
		return late;
	}
	if (a->start_ns - now > 2000000u) {
		uint64_t ns = a->start_ns - now - 2000000u;
		struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

		nanosleep(&ts, NULL);
	}
	while (xg_now_ns() < a->start_ns)
		;
	return 0;
}

void xg_print_sent(uint64_t sent, uint64_t start_ns, unsigned streams, uint64_t late_ns)
{
	uint64_t end = xg_now_ns();
	double el = (double)(end - start_ns) / 1e9;

	printf("{\"sent\": %llu, \"seconds\": %.3f, \"rate\": %.0f, \"streams\": %u, "
	       "\"start_ns\": %llu, \"end_ns\": %llu, \"late_start_ns\": %llu}\n",
	       (unsigned long long)sent, el, (double)sent / el, streams,
	       (unsigned long long)start_ns, (unsigned long long)end, (unsigned long long)late_ns);
	fflush(stdout);
}
