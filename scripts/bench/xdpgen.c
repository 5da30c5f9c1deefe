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
 * Exit status 0, 1 on a system error, 2 on bad arguments, 3
 * (XG_EXIT_REFUSED) when the kernel refuses BPF_PROG_LOAD, the live-frames
 * BPF_PROG_TEST_RUN or the XDP attach (EPERM, EACCES, EOPNOTSUPP): the
 * harness then falls back to afpgen (send) or gives up (sink).
 * Template frame, stamping and pacing are shared with afpgen (xdpgen.h,
 * xgsend.c). */
#include "autoconfig.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xgsend.h"
#include "scripts/bench/xdpgen.skel.h"

static void on_alarm(int sig)
{
	(void)sig;
}

/* Whether err (an errno of BPF_PROG_LOAD, BPF_PROG_RUN or an XDP attach) is
 * the kernel refusing the call (privilege, lockdown, an LSM, a container's
 * seccomp policy, no driver support) rather than a fault of ours. */
static int refused(int err)
{
	return err == EPERM || err == EACCES || err == EOPNOTSUPP || err == 524 /* ENOTSUPP */;
}

/* The second direction's egress into xg_tx, from inside its namespace (a
 * devmap resolves the ifindex in the updater's namespace). */
static int set_tx_port(struct xdpgen *skel, const struct xg_dir *d)
{
	uint32_t key = 0, ifindex = d->ifindex;
	int prev = xg_netns_enter("xdpgen", d->netns), rc;

	if (prev == -1)
		return -1;
	rc = bpf_map_update_elem(bpf_map__fd(skel->maps.xg_tx), &key, &ifindex, BPF_ANY);
	if (rc)
		fprintf(stderr, "xdpgen: redirect to %s: %s\n", d->ifname, strerror(errno));
	xg_netns_leave("xdpgen", prev);
	return rc;
}

static int do_send(int argc, char **argv)
{
	struct xg_send_args a;
	uint64_t start, end;
	struct xdpgen *skel = NULL;
	int fd, rc, map_fd;

	if ((rc = xg_send_args_parse("xdpgen", argc, argv, &a)))
		goto out;
	skel = xdpgen__open();
	rc = 1;
	if (!skel)
		goto out;
	/* Stream counts are read-only data of the program, set before load. */
	skel->rodata->xg_nstreams0 = (uint32_t)a.dir[0].nports;
	skel->rodata->xg_nstreams = (uint32_t)(a.dir[0].nports + (a.ndir == 2 ? a.dir[1].nports : 0));
	for (int i = 0; i < a.ndir; i++)
		memcpy(&skel->bss->xg_tmpl[i], a.dir[i].frame, sizeof(skel->bss->xg_tmpl[i]));
	if (xdpgen__load(skel)) {
		rc = refused(errno) ? XG_EXIT_REFUSED : 1;
		fprintf(stderr, "xdpgen: BPF_PROG_LOAD: %s\n", strerror(errno));
		goto out;
	}
	map_fd = bpf_map__fd(skel->maps.xg_ports);
	for (uint32_t k = 0; k < skel->rodata->xg_nstreams; k++) {
		if (bpf_map_update_elem(map_fd, &k, &a.dir[0].port[k], BPF_ANY)) {
			fprintf(stderr, "xdpgen: ports map: %s\n", strerror(errno));
			goto out;
		}
	}
	if (a.ndir == 2 && set_tx_port(skel, &a.dir[1]))
		goto out;
	fd = bpf_program__fd(skel->progs.xdpgen_tx);

	struct xdp_md ctx_in = { .data_end = XG_FRAME_LEN, .ingress_ifindex = a.dir[0].ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = a.dir[0].frame, .data_size_in = XG_FRAME_LEN,
		    .ctx_in = &ctx_in, .ctx_size_in = sizeof(ctx_in),
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	struct sigaction sa = { .sa_handler = on_alarm };   /* no SA_RESTART */
	struct itimerval it = { .it_value = { (time_t)a.seconds,
					      (suseconds_t)((a.seconds - (double)(time_t)a.seconds) * 1e6) } };

	sigaction(SIGALRM, &sa, NULL);
	opts.repeat = UINT32_MAX;
	skel->bss->xg_pace.rate_pps = (uint64_t)a.rate_pps;
	skel->bss->xg_pace.burst = a.burst;
	start = xg_now_ns();
	skel->bss->xg_pace.start_ns = start;
	end = start + (uint64_t)(a.seconds * 1e9);
	setitimer(ITIMER_REAL, &it, NULL);
	/* The run ends when the timer's signal interrupts it (EINTR). */
	while (xg_now_ns() < end) {
		if (bpf_prog_test_run_opts(fd, &opts) && errno != EINTR) {
			rc = refused(errno) ? XG_EXIT_REFUSED : 1;
			fprintf(stderr, "xdpgen: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES: %s\n",
				strerror(errno));
			goto out;
		}
	}
	xg_print_sent(skel->bss->xg_next, start, skel->rodata->xg_nstreams);
	rc = 0;
out:
	xdpgen__destroy(skel);
	xg_send_args_free(&a);
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

/* Attaches (prog_fd >= 0) or detaches the sink on ifname in netns. 0 or
 * -errno. */
static int sink_hook(const char *netns, const char *ifname, int prog_fd)
{
	int prev = xg_netns_enter("xdpgen", netns), rc = -ENODEV;
	unsigned ifindex = prev == -1 ? 0 : if_nametoindex(ifname);

	if (ifindex)
		rc = prog_fd >= 0 ? bpf_xdp_attach((int)ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL)
				  : bpf_xdp_detach((int)ifindex, XDP_FLAGS_DRV_MODE, NULL);
	if (rc && prog_fd >= 0)
		fprintf(stderr, "xdpgen: XDP attach (native) to %s: %s\n", ifname, strerror(-rc));
	xg_netns_leave("xdpgen", prev);
	return rc;
}

static int do_sink(int argc, char **argv)
{
	struct xdpgen *skel;
	char line[64];
	int ncpu = libbpf_num_possible_cpus(), rc = 1, err;
	const char *netns2 = argc == 5 ? argv[3] : NULL, *if2 = argc == 5 ? argv[4] : NULL;

	if (argc != 3 && argc != 5)
		return 2;
	if (ncpu <= 0)
		return 1;
	skel = xdpgen__open_and_load();
	if (!skel) {
		fprintf(stderr, "xdpgen: BPF_PROG_LOAD: %s\n", strerror(errno));
		return refused(errno) ? XG_EXIT_REFUSED : 1;
	}
	if ((err = sink_hook(NULL, argv[2], bpf_program__fd(skel->progs.xdpgen_rx))))
		goto out;
	if (if2 && (err = sink_hook(netns2, if2, bpf_program__fd(skel->progs.xdpgen_rx)))) {
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
	if (rc && refused(-err))
		rc = XG_EXIT_REFUSED;
	xdpgen__destroy(skel);
	return rc;
}

static int do_gro(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	return xg_ethtool_set("xdpgen", argv[2], ETHTOOL_SGRO, 1) ? 1 : 0;
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
		fprintf(stderr, "usage: xdpgen " XG_SEND_USAGE
			"       xdpgen sink IFNAME [NETNS IFNAME]\n       xdpgen gro IFNAME\n");
	return rc;
}
