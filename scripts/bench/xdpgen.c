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
 * IFNAME in NETNS, and answers lines on stdin, over both: "arm START_NS
 * END_NS" zeroes the counters and arms a step (frames sent before START_NS,
 * CLOCK_MONOTONIC, are a previous step's; frames arriving after END_NS are
 * late; "reset": from now, no end); "snap" prints the step's counters
 * {"received", "prev_step", "after_end", "overflow", "duplicates",
 * "reordered", "too_old", "p50_us", "p99_us", "p999_us", "max_us"} (-1: past
 * the histogram); "streams N" prints the first N streams' frames received
 * without duplicates {"unique": [...]}. Detaches at EOF.
 * The environment of `send` (XG_START_NS, XG_JITTER_NS, XG_DROP, XG_DUP):
 * xgsend.h.
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
#include <sys/mman.h>
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
	uint64_t start, end, late;
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
	skel->bss->xg_pace.jitter_ns = a.jitter_ns;
	skel->data->xg_drop_at = a.drop_at;
	skel->data->xg_dup_at = a.dup_at;
	late = xg_wait_start(&a);
	start = a.start_ns;
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
	xg_print_sent(skel->bss->xg_next, start, skel->rodata->xg_nstreams, late);
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

/* A histogram bucket's delay, us: its lower bound (xdpgen.h). */
static unsigned bucket_us(uint32_t b)
{
	return b < XG_HIST_FINE ? b : XG_HIST_FINE + (b - XG_HIST_FINE) * 1000u;
}

/* Prints the armed step's counters (xdpgen.h: XG_CNT_*) and delay
 * percentiles. The percentiles are of the frames delivered; a percentile
 * that falls among the overflow (past the histogram) is printed as -1. */
static void snap(struct xdpgen *skel, int ncpu)
{
	static uint64_t hist[XG_HIST_BUCKETS];
	int hfd = bpf_map__fd(skel->maps.xg_hist), cfd = bpf_map__fd(skel->maps.xg_cnt);
	uint64_t total = 0, acc = 0, cnt[XG_CNT_MAX];
	const double q[3] = { 0.5, 0.99, 0.999 };
	long pct[3] = { -1, -1, -1 };
	unsigned max_us = 0;
	int qi = 0;

	for (uint32_t k = 0; k < XG_CNT_MAX; k++)
		cnt[k] = percpu_sum(cfd, k, ncpu);
	for (uint32_t b = 0; b < XG_HIST_BUCKETS; b++) {
		hist[b] = percpu_sum(hfd, b, ncpu);
		if (hist[b])
			max_us = bucket_us(b);
	}
	/* Over every frame delivered, the overflow included (above all). */
	total = cnt[XG_CNT_FRAMES];
	for (uint32_t b = 0; b < XG_HIST_BUCKETS && qi < 3; b++) {
		acc += hist[b];
		while (qi < 3 && total && (double)acc >= q[qi] * (double)total)
			pct[qi++] = bucket_us(b);
	}
	printf("{\"received\": %llu, \"prev_step\": %llu, \"after_end\": %llu, "
	       "\"overflow\": %llu, \"duplicates\": %llu, \"reordered\": %llu, "
	       "\"too_old\": %llu, \"p50_us\": %ld, \"p99_us\": %ld, \"p999_us\": %ld, "
	       "\"max_us\": %ld}\n",
	       (unsigned long long)cnt[XG_CNT_FRAMES], (unsigned long long)cnt[XG_CNT_PREV],
	       (unsigned long long)cnt[XG_CNT_AFTER], (unsigned long long)cnt[XG_CNT_OVERFLOW],
	       (unsigned long long)cnt[XG_CNT_DUP], (unsigned long long)cnt[XG_CNT_REORDER],
	       (unsigned long long)cnt[XG_CNT_OLD], pct[0], pct[1], pct[2],
	       cnt[XG_CNT_OVERFLOW] ? -1L : (long)max_us);
	fflush(stdout);
}

/* Prints the first n streams' frames delivered without duplicates:
 * {"unique": [N0, N1, ...]} (stream index order). */
static void snap_streams(const struct xg_stream *st, unsigned long n)
{
	if (n > XG_MAX_STREAMS)
		n = XG_MAX_STREAMS;
	printf("{\"unique\": [");
	for (unsigned long i = 0; i < n; i++)
		printf("%s%llu", i ? "," : "",
		       (unsigned long long)(st[i].received - st[i].dup));
	printf("]}\n");
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
	struct xg_stream *streams;
	size_t streams_len = (sizeof(struct xg_stream) * XG_MAX_STREAMS + 4095) & ~(size_t)4095;
	char line[96];
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
	streams = mmap(NULL, streams_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       bpf_map__fd(skel->maps.xg_streams), 0);
	if (streams == MAP_FAILED) {
		fprintf(stderr, "xdpgen: mmap of the streams map: %s\n", strerror(errno));
		streams = NULL;
		goto detach;
	}
	printf("{\"ready\": true}\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long long a0 = 0, a1 = ~0ull;
		unsigned long n = 0;

		if (!strncmp(line, "arm", 3) || !strncmp(line, "reset", 5)) {
			/* "arm START_NS END_NS" (CLOCK_MONOTONIC); "reset": from
			 * now, no end. Frames sent before START are a previous
			 * step's; frames arriving after END are late. */
			if (line[0] == 'a' && sscanf(line + 3, "%llu %llu", &a0, &a1) != 2)
				continue;
			if (line[0] == 'r')
				a0 = xg_now_ns();
			skel->bss->xg_arm_start_ns = a0;
			skel->data->xg_arm_end_ns = ~0ull;
			percpu_zero(bpf_map__fd(skel->maps.xg_hist), XG_HIST_BUCKETS, ncpu);
			percpu_zero(bpf_map__fd(skel->maps.xg_cnt), XG_CNT_MAX, ncpu);
			memset(streams, 0, streams_len);
			skel->data->xg_arm_end_ns = a1;
			printf("{\"armed\": true}\n");
			fflush(stdout);
		} else if (!strncmp(line, "snap", 4)) {
			snap(skel, ncpu);
		} else if (sscanf(line, "streams %lu", &n) == 1) {
			snap_streams(streams, n);
		}
	}
	munmap(streams, streams_len);
detach:
	sink_hook(NULL, argv[2], -1);
	if (if2)
		sink_hook(netns2, if2, -1);
	rc = streams ? 0 : 1;
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
