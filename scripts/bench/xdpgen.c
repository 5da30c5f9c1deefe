/* xdpgen: RTP load generator and sink for the relay benchmarks, in XDP.
 *
 *   xdpgen send RATE_PPS SECONDS BURST IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS
 *               [NETNS IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS]
 *   xdpgen sink IFNAME [NETNS IFNAME]
 *   xdpgen gro IFNAME
 *
 * send: builds a 214-byte template frame per direction (Ethernet, IPv4, UDP,
 * 12-byte RTP header + 160-byte payload: 172 bytes of UDP payload, as
 * G.711/20 ms) and runs xdpgen_tx with BPF_PROG_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES: every run sends one frame, round robin over
 * the destination PORTS of both directions (comma-separated, or @FILE with
 * one port a line), each stream with its own sequence numbers. The first
 * direction leaves IFNAME with XDP_TX; the optional second one is redirected
 * to IFNAME of the network namespace at path NETNS (/run/netns/NAME). One
 * run lasts SECONDS (ended by SIGALRM); the program paces itself
 * (xdpgen.bpf.c), so the sender spins one CPU whatever the rate. RATE_PPS 0
 * means unpaced, to measure the generator's own ceiling. Paced frames leave
 * in bursts of BURST (1..XG_LAG_MAX) back to back, like the batches a NIC's
 * interrupt moderation hands to its driver. Prints
 * {"sent": N, "seconds": S, "rate": R, "streams": N}.
 * sink: attaches xdpgen_rx to IFNAME (native XDP), and to the second
 * IFNAME in NETNS, and answers lines on stdin: "reset" zeroes the counters,
 * "snap" prints {"received": N, "p50_us", "p99_us", "p999_us"} since the
 * last reset, over both. Detaches at EOF.
 * gro: switches GRO on (ETHTOOL_SGRO), which gives a veth its NAPI context
 * without an XDP program: frames sent to its peer with XDP_TX are dropped
 * otherwise, and NAPI can then be threaded (/sys/class/net/IF/threaded).
 * Run inside the first interface's network namespace (nsenter --net).
 * Exit status 0, 1 on a system error, 2 on bad arguments. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdpgen.h"
#include "scripts/bench/xdpgen.skel.h"

#define FRAME_LEN (14 + 20 + 8 + 12 + 160)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_alarm(int sig)
{
	(void)sig;
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

/* The destination ports, network byte order, into the generator's map from
 * index first on. Returns how many, or -1 on a bad list. */
static int load_ports(const char *spec, int map_fd, uint32_t first)
{
	FILE *f = NULL;
	char buf[16];
	const char *p = spec;
	uint32_t n = 0;

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
		uint32_t key = first + n;
		if (v <= 0 || v > 65535 || key >= XG_MAX_STREAMS) {
			n = 0;
			break;
		}
		uint16_t port = htons((uint16_t)v);
		if (bpf_map_update_elem(map_fd, &key, &port, BPF_ANY))
			break;
		n++;
	}
	if (f)
		fclose(f);
	return n ? (int)n : -1;
}

static void build_frame(uint8_t *fr, const uint8_t dmac[6], const uint8_t smac[6],
			struct in_addr src, uint16_t sport, struct in_addr dst)
{
	struct iphdr *ip = (struct iphdr *)(fr + 14);
	struct udphdr *udp = (struct udphdr *)(fr + 34);

	memset(fr, 0, FRAME_LEN);
	memcpy(fr, dmac, 6);
	memcpy(fr + 6, smac, 6);
	fr[12] = 0x08;   /* ETH_P_IP */
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(FRAME_LEN - 14);
	ip->frag_off = htons(0x4000);   /* DF */
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = src.s_addr;
	ip->daddr = dst.s_addr;
	ip->check = ip_csum(ip, sizeof(*ip));
	udp->source = htons(sport);
	udp->len = htons(FRAME_LEN - 34);
	udp->check = 0;   /* none: the program rewrites the payload per frame */
	fr[42] = 0x80;    /* RTP V=2 */
	fr[43] = 8;       /* PT 8, PCMA */
	memcpy(fr + 50, "\x5a\x5a\x5a\x5a", 4);   /* SSRC */
}

/* One direction of the load: where its frames leave and what they carry. */
struct xg_dir {
	const char *netns;   /* NULL: the current network namespace */
	const char *ifname;
	unsigned ifindex;
	uint8_t frame[FRAME_LEN];
	const char *ports;
	int nports;
};

/* Enters the network namespace at path (NULL: stays); returns a descriptor
 * of the previous one for netns_leave, -1 on error, -2 when it stayed. */
static int netns_enter(const char *path)
{
	int self, fd;

	if (!path)
		return -2;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "xdpgen: network namespace %s: %s\n", path, strerror(errno));
		if (self >= 0)
			close(self);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return self;
}

static void netns_leave(int prev)
{
	if (prev >= 0) {
		if (setns(prev, CLONE_NEWNET))
			fprintf(stderr, "xdpgen: back to the network namespace: %s\n", strerror(errno));
		close(prev);
	}
}

static int count_ports(const char *spec)
{
	int n = 1;

	if (spec[0] == '@') {
		FILE *f = fopen(spec + 1, "r");
		int c;

		n = 0;
		while (f && (c = fgetc(f)) != EOF)
			n += c == '\n';
		if (f)
			fclose(f);
		return n;
	}
	for (const char *p = spec; *p; p++)
		n += *p == ',';
	return n;
}

/* Parses IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS (argv[0..4]) and builds the
 * template frame, resolving IFNAME in d->netns. 0, or 2 on bad arguments, 1
 * on a system error. */
static int parse_dir(char **argv, struct xg_dir *d)
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
	d->ports = argv[4];
	d->nports = count_ports(argv[4]);
	if (d->nports <= 0)
		return 2;
	prev = netns_enter(d->netns);
	if (prev == -1)
		return 1;
	d->ifindex = if_nametoindex(d->ifname);
	if (!d->ifindex || if_mac(d->ifname, smac)) {
		fprintf(stderr, "xdpgen: %s: %s\n", d->ifname, strerror(errno));
		rc = 1;
	}
	netns_leave(prev);
	build_frame(d->frame, dmac, smac, src, (uint16_t)atoi(colon + 1), dst);
	return rc;
}

/* The second direction's egress into xg_tx, from inside its namespace (a
 * devmap resolves the ifindex in the updater's namespace). */
static int set_tx_port(struct xdpgen *skel, const struct xg_dir *d)
{
	uint32_t key = 0, ifindex = d->ifindex;
	int prev = netns_enter(d->netns), rc;

	if (prev == -1)
		return -1;
	rc = bpf_map_update_elem(bpf_map__fd(skel->maps.xg_tx), &key, &ifindex, BPF_ANY);
	if (rc)
		fprintf(stderr, "xdpgen: redirect to %s: %s\n", d->ifname, strerror(errno));
	netns_leave(prev);
	return rc;
}

static int do_send(int argc, char **argv)
{
	struct xg_dir dir[2] = { { .netns = NULL }, { .netns = NULL } };
	double rate, secs;
	uint64_t sent, start, end, burst;
	struct xdpgen *skel;
	int ndir, fd, rc;

	if (argc != 10 && argc != 16)
		return 2;
	rate = atof(argv[2]);
	secs = atof(argv[3]);
	burst = strtoull(argv[4], NULL, 10);
	if (rate < 0 || secs <= 0 || burst < 1 || burst > XG_LAG_MAX)
		return 2;
	ndir = argc == 16 ? 2 : 1;
	if ((rc = parse_dir(argv + 5, &dir[0])))
		return rc;
	if (ndir == 2) {
		dir[1].netns = argv[10];
		if ((rc = parse_dir(argv + 11, &dir[1])))
			return rc;
	}

	skel = xdpgen__open();
	if (!skel)
		return 1;
	/* Stream counts are read-only data of the program, set before load. */
	skel->rodata->xg_nstreams0 = (uint32_t)dir[0].nports;
	skel->rodata->xg_nstreams = (uint32_t)(dir[0].nports + (ndir == 2 ? dir[1].nports : 0));
	for (int i = 0; i < ndir; i++)
		memcpy(&skel->bss->xg_tmpl[i], dir[i].frame, sizeof(skel->bss->xg_tmpl[i]));
	rc = 1;
	if (xdpgen__load(skel)) {
		fprintf(stderr, "xdpgen: load failed\n");
		goto out;
	}
	for (int i = 0, first = 0; i < ndir; first += dir[i].nports, i++) {
		if (load_ports(dir[i].ports, bpf_map__fd(skel->maps.xg_ports), (uint32_t)first) !=
		    dir[i].nports) {
			fprintf(stderr, "xdpgen: bad PORTS '%s'\n", dir[i].ports);
			rc = 2;
			goto out;
		}
	}
	if (ndir == 2 && set_tx_port(skel, &dir[1]))
		goto out;
	fd = bpf_program__fd(skel->progs.xdpgen_tx);

	struct xdp_md ctx_in = { .data_end = FRAME_LEN, .ingress_ifindex = dir[0].ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = dir[0].frame, .data_size_in = FRAME_LEN,
		    .ctx_in = &ctx_in, .ctx_size_in = sizeof(ctx_in),
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	struct sigaction sa = { .sa_handler = on_alarm };   /* no SA_RESTART */
	struct itimerval it = { .it_value = { (time_t)secs,
					      (suseconds_t)((secs - (double)(time_t)secs) * 1e6) } };

	sigaction(SIGALRM, &sa, NULL);
	opts.repeat = UINT32_MAX;
	skel->bss->xg_rate_pps = (uint64_t)rate;
	skel->data->xg_burst = burst;
	start = now_ns();
	skel->bss->xg_start_ns = start;
	end = start + (uint64_t)(secs * 1e9);
	setitimer(ITIMER_REAL, &it, NULL);
	/* The run ends when the timer's signal interrupts it (EINTR). */
	while (now_ns() < end) {
		if (bpf_prog_test_run_opts(fd, &opts) && errno != EINTR) {
			fprintf(stderr, "xdpgen: BPF_PROG_RUN: %s\n", strerror(errno));
			goto out;
		}
	}
	sent = skel->bss->xg_next;
	double el = (double)(now_ns() - start) / 1e9;
	printf("{\"sent\": %llu, \"seconds\": %.3f, \"rate\": %.0f, \"streams\": %u}\n",
	       (unsigned long long)sent, el, (double)sent / el, skel->rodata->xg_nstreams);
	rc = 0;
out:
	xdpgen__destroy(skel);
	return rc;
}

/* Sum of a per-CPU array slot over the possible CPUs. */
static uint64_t percpu_sum(int map_fd, uint32_t key, int ncpu)
{
	uint64_t vals[ncpu], sum = 0;

	if (bpf_map_lookup_elem(map_fd, &key, vals))
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

static void percpu_zero(int map_fd, uint32_t nkeys, int ncpu)
{
	uint64_t zero[ncpu];

	memset(zero, 0, sizeof(zero));
	for (uint32_t k = 0; k < nkeys; k++)
		bpf_map_update_elem(map_fd, &k, zero, BPF_ANY);
}

static void snap(struct xdpgen *skel, int ncpu)
{
	static uint64_t hist[XG_HIST_BUCKETS];
	int hfd = bpf_map__fd(skel->maps.xg_hist);
	uint64_t total = 0, acc = 0;
	const double q[3] = { 0.5, 0.99, 0.999 };
	unsigned pct[3] = { 0, 0, 0 };
	int qi = 0;

	for (uint32_t b = 0; b < XG_HIST_BUCKETS; b++) {
		hist[b] = percpu_sum(hfd, b, ncpu);
		total += hist[b];
	}
	for (uint32_t b = 0; b < XG_HIST_BUCKETS && qi < 3; b++) {
		acc += hist[b];
		while (qi < 3 && total && (double)acc >= q[qi] * (double)total)
			pct[qi++] = b;
	}
	printf("{\"received\": %llu, \"p50_us\": %u, \"p99_us\": %u, \"p999_us\": %u}\n",
	       (unsigned long long)percpu_sum(bpf_map__fd(skel->maps.xg_cnt), XG_CNT_FRAMES, ncpu),
	       pct[0], pct[1], pct[2]);
	fflush(stdout);
}

/* Attaches (prog_fd >= 0) or detaches the sink on ifname in netns. */
static int sink_hook(const char *netns, const char *ifname, int prog_fd)
{
	int prev = netns_enter(netns), rc = -1;
	unsigned ifindex = prev == -1 ? 0 : if_nametoindex(ifname);

	if (ifindex)
		rc = prog_fd >= 0 ? bpf_xdp_attach((int)ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL)
				  : bpf_xdp_detach((int)ifindex, XDP_FLAGS_DRV_MODE, NULL);
	if (rc && prog_fd >= 0)
		fprintf(stderr, "xdpgen: attach to %s: %s\n", ifname, strerror(errno));
	netns_leave(prev);
	return rc;
}

static int do_sink(int argc, char **argv)
{
	struct xdpgen *skel;
	char line[64];
	int ncpu = libbpf_num_possible_cpus(), rc = 1;
	const char *netns2 = argc == 5 ? argv[3] : NULL, *if2 = argc == 5 ? argv[4] : NULL;

	if (argc != 3 && argc != 5)
		return 2;
	if (ncpu <= 0)
		return 1;
	skel = xdpgen__open_and_load();
	if (!skel)
		return 1;
	if (sink_hook(NULL, argv[2], bpf_program__fd(skel->progs.xdpgen_rx)))
		goto out;
	if (if2 && sink_hook(netns2, if2, bpf_program__fd(skel->progs.xdpgen_rx))) {
		sink_hook(NULL, argv[2], -1);
		goto out;
	}
	printf("{\"ready\": true}\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "reset", 5)) {
			percpu_zero(bpf_map__fd(skel->maps.xg_hist), XG_HIST_BUCKETS, ncpu);
			percpu_zero(bpf_map__fd(skel->maps.xg_cnt), XG_CNT_MAX, ncpu);
			printf("{\"reset\": true}\n");
			fflush(stdout);
		} else if (!strncmp(line, "snap", 4)) {
			snap(skel, ncpu);
		}
	}
	sink_hook(NULL, argv[2], -1);
	if (if2)
		sink_hook(netns2, if2, -1);
	rc = 0;
out:
	xdpgen__destroy(skel);
	return rc;
}

static int do_gro(int argc, char **argv)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_SGRO, .data = 1 };
	struct ifreq ifr;
	int fd, rc;

	if (argc != 3)
		return 2;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[2]);
	ifr.ifr_data = (void *)&ev;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	rc = fd < 0 ? -1 : ioctl(fd, SIOCETHTOOL, &ifr);
	if (rc < 0)
		fprintf(stderr, "xdpgen: GRO on %s: %s\n", argv[2], strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	int rc = 2;

	if (argc > 1 && !strcmp(argv[1], "send"))
		rc = do_send(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "sink"))
		rc = do_sink(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "gro"))
		rc = do_gro(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: xdpgen send RATE_PPS SECONDS BURST IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS\n"
			"                   [NETNS IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS]\n"
			"       xdpgen sink IFNAME [NETNS IFNAME]\n       xdpgen gro IFNAME\n");
	return rc;
}
