/* smq_kern_tool: drive the kernel engine from the command line, for the
 * real-traffic test (tests/test_bpf_datapath.py) and for poking at a
 * gateway by hand. Every command is one short-lived process, like a
 * restarted daemon: what it attaches or adds stays (pinned) after it exits.
 *
 *   smq_kern_tool [-p PIN_DIR] [-n MAX_ENTRIES] COMMAND ...
 *     attach IF MODE        load, attach (xdp-native|xdp-generic|tc|auto)
 *     detach IF             remove our attachment from IF
 *     put RELAY PEER NEWSRC NEWDST [EGRESS_IF]
 *                           add/update an entry (addresses as a.b.c.d:port)
 *     del RELAY PEER        remove an entry
 *     get RELAY PEER        print the entry's counters (JSON)
 *     list                  print every entry (JSON)
 *     stats                 print the per-reason counters (JSON)
 *     stop                  clean stop: detach everything, remove the pins
 *     xdp-pass IF           attach a do-nothing XDP program (native mode)
 *     xdp-pass-off IF       detach it
 *     tx-csum IF on|off     switch transmit checksum offload (ethtool -K tx)
 *
 * Output is JSON on stdout; errors go to stderr with exit status 1 (2 for
 * usage errors). */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf/xdp_pass.skel.h"
#include "daemon/kernel/kernel_engine.h"
#include "daemon/base/log.h"

static const char *pin_dir = KERNEL_ENGINE_PIN_DIR;
static unsigned long max_entries;

static void usage(void)
{
	fprintf(stderr, "usage: smq_kern_tool [-p PIN_DIR] [-n MAX_ENTRIES] "
		"attach IF MODE | detach IF | put RELAY PEER NEWSRC NEWDST [EGRESS_IF] | "
		"del RELAY PEER | get RELAY PEER | list | stats | stop | xdp-pass IF | "
		"xdp-pass-off IF | tx-csum IF on|off\n");
	exit(2);
}

/* parse_ep: "a.b.c.d:port" into *sa. */
static int parse_ep(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtoul(colon + 1, &end, 10);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (*end || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

/* open_engine: load (full) or just open the pinned maps. Exits on failure. */
static struct kernel_engine *open_engine(bool maps_only)
{
	struct kernel_engine_opts opts = {
		.pin_dir = pin_dir, .max_entries = (uint32_t)max_entries, .maps_only = maps_only,
	};
	struct kernel_engine *ke;
	char why[256];
	int err = kernel_engine_open(&opts, &ke, why, sizeof(why));

	if (err) {
		fprintf(stderr, "smq_kern_tool: %s\n", why[0] ? why : strerror(-err));
		exit(1);
	}
	return ke;
}

static int key_from_args(char **argv, struct smq_flow_key *key)
{
	struct sockaddr_in relay, peer;

	if (parse_ep(argv[0], &relay) || parse_ep(argv[1], &peer))
		return -EINVAL;
	kernel_engine_key_ipv4(key, &relay, &peer);
	return 0;
}

static void print_ip(const __u8 a[16])
{
	char buf[INET_ADDRSTRLEN];
	__be32 v4 = smq_ip_get_v4(a);

	printf("\"%s\"", inet_ntop(AF_INET, &v4, buf, sizeof(buf)));
}

static void print_counters(const struct smq_counters *c)
{
	printf("{\"packets\": %llu, \"bytes\": %llu, \"last_seen_ns\": %llu}",
	       (unsigned long long)c->packets, (unsigned long long)c->bytes,
	       (unsigned long long)c->last_seen_ns);
}

static int print_entry(const struct smq_flow_key *k, const struct smq_flow_action *a, void *arg)
{
	int *first = arg;

	printf("%s\n  {\"dst\": ", *first ? "" : ",");
	*first = 0;
	print_ip(k->dst_addr);
	printf(", \"dst_port\": %u, \"src\": ", ntohs(k->dst_port));
	print_ip(k->src_addr);
	printf(", \"src_port\": %u, \"new_src\": ", ntohs(k->src_port));
	print_ip(a->new_src_addr);
	printf(", \"new_src_port\": %u, \"new_dst\": ", ntohs(a->new_src_port));
	print_ip(a->new_dst_addr);
	printf(", \"new_dst_port\": %u, \"ingress_ifindex\": %u, \"egress_ifindex\": %u, "
	       "\"cookie\": %llu, \"counters\": ",
	       ntohs(a->new_dst_port), a->ingress_ifindex, a->egress_ifindex,
	       (unsigned long long)a->cookie);
	print_counters(&a->counters);
	printf("}");
	return 0;
}

static int cmd_attach(const char *ifname, const char *mode_s)
{
	struct kernel_engine *ke;
	enum kernel_engine_mode mode, chosen;
	char why[768];
	int err;

	if (kernel_engine_mode_parse(mode_s, &mode) || mode == KE_MODE_NONE)
		usage();
	ke = open_engine(false);
	if (mode == KE_MODE_AUTO) {
		err = kernel_engine_attach_auto(ke, ifname, &chosen, why, sizeof(why));
	} else {
		err = kernel_engine_attach(ke, ifname, mode, why, sizeof(why));
		chosen = err ? KE_MODE_NONE : mode;
	}
	printf("{\"ifname\": \"%s\", \"mode\": \"%s\", \"error\": %d, \"why\": \"", ifname,
	       kernel_engine_mode_name(chosen), err);
	for (const char *c = why; *c; c++)
		printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
	printf("\"}\n");
	kernel_engine_close(ke, true);
	return err ? 1 : 0;
}

static int cmd_put(int argc, char **argv)
{
	struct sockaddr_in src, dst;
	struct smq_flow_key key;
	struct smq_flow_action act;
	struct kernel_engine *ke;
	int egress = 0, err;

	if (argc < 4 || argc > 5 || key_from_args(argv, &key) || parse_ep(argv[2], &src) ||
	    parse_ep(argv[3], &dst))
		usage();
	if (argc == 5 && !(egress = (int)if_nametoindex(argv[4]))) {
		fprintf(stderr, "smq_kern_tool: no interface %s\n", argv[4]);
		return 1;
	}
	kernel_engine_action_ipv4(&act, &src, &dst, 0, egress, 0, 0);
	ke = open_engine(true);
	err = kernel_engine_stream_put(ke, &key, &act);
	kernel_engine_close(ke, true);
	if (err)
		fprintf(stderr, "smq_kern_tool: put: %s\n", strerror(-err));
	return err ? 1 : 0;
}

static int cmd_key(const char *cmd, int argc, char **argv)
{
	struct smq_flow_key key;
	struct smq_flow_action act;
	struct kernel_engine *ke;
	int err;

	if (argc != 2 || key_from_args(argv, &key))
		usage();
	ke = open_engine(true);
	if (!strcmp(cmd, "del")) {
		err = kernel_engine_stream_del(ke, &key);
	} else {
		err = kernel_engine_stream_get(ke, &key, &act);
		if (!err) {
			print_counters(&act.counters);
			printf("\n");
		}
	}
	kernel_engine_close(ke, true);
	if (err)
		fprintf(stderr, "smq_kern_tool: %s: %s\n", cmd, strerror(-err));
	return err ? 1 : 0;
}

static int cmd_list(void)
{
	struct kernel_engine *ke = open_engine(true);
	int first = 1, err;

	printf("[");
	err = kernel_engine_stream_foreach(ke, print_entry, &first);
	printf("\n]\n");
	kernel_engine_close(ke, true);
	return err ? 1 : 0;
}

static int cmd_stats(void)
{
	struct kernel_engine *ke = open_engine(true);
	uint64_t c[SMQ_REASON__COUNT];
	unsigned int r;
	int err = kernel_engine_stats(ke, c);

	if (!err) {
		printf("{");
		for (r = 0; r < SMQ_REASON__COUNT; r++)
			printf("%s\"%s\": %llu", r ? ", " : "", kernel_engine_reason_name(r),
			       (unsigned long long)c[r]);
		printf("}\n");
	}
	kernel_engine_close(ke, true);
	return err ? 1 : 0;
}

static int cmd_xdp_pass(const char *ifname, bool on)
{
	int ifindex = (int)if_nametoindex(ifname), err;
	struct xdp_pass *skel;

	if (!ifindex) {
		fprintf(stderr, "smq_kern_tool: no interface %s\n", ifname);
		return 1;
	}
	if (!on) {
		err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
		return err ? 1 : 0;
	}
	skel = xdp_pass__open_and_load();
	if (!skel) {
		fprintf(stderr, "smq_kern_tool: cannot load xdp_pass: %s\n", strerror(errno));
		return 1;
	}
	/* Netlink attachment: it stays after this process exits. */
	err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.smq_xdp_pass),
			     XDP_FLAGS_DRV_MODE, NULL);
	xdp_pass__destroy(skel);
	if (err)
		fprintf(stderr, "smq_kern_tool: xdp-pass on %s: %s\n", ifname, strerror(-err));
	return err ? 1 : 0;
}

/* cmd_tx_csum: what `ethtool -K IF tx on|off` does, without ethtool. With
 * it off, a local sender's datagrams leave with a complete checksum, as
 * they come from a real NIC (not CHECKSUM_PARTIAL). */
static int cmd_tx_csum(const char *ifname, const char *onoff)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = !strcmp(onoff, "on") };
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return 1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		err = errno;
		fprintf(stderr, "smq_kern_tool: tx-csum %s: %s\n", ifname, strerror(err));
	}
	close(fd);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int opt;

	while ((opt = getopt(argc, argv, "p:n:")) != -1) {
		if (opt == 'p')
			pin_dir = optarg;
		else if (opt == 'n')
			max_entries = strtoul(optarg, NULL, 10);
		else
			usage();
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	log_open(false, 0);
	cmd = argv[0];
	argc--;
	argv++;

	if (!strcmp(cmd, "attach") && argc == 2)
		return cmd_attach(argv[0], argv[1]);
	if (!strcmp(cmd, "detach") && argc == 1) {
		struct kernel_engine *ke = open_engine(true);
		int err = kernel_engine_detach(ke, argv[0]);

		kernel_engine_close(ke, true);
		return err ? 1 : 0;
	}
	if (!strcmp(cmd, "put"))
		return cmd_put(argc, argv);
	if (!strcmp(cmd, "del") || !strcmp(cmd, "get"))
		return cmd_key(cmd, argc, argv);
	if (!strcmp(cmd, "list") && argc == 0)
		return cmd_list();
	if (!strcmp(cmd, "stats") && argc == 0)
		return cmd_stats();
	if (!strcmp(cmd, "stop") && argc == 0) {
		kernel_engine_close(open_engine(true), false);
		return 0;
	}
	if (!strcmp(cmd, "xdp-pass") && argc == 1)
		return cmd_xdp_pass(argv[0], true);
	if (!strcmp(cmd, "xdp-pass-off") && argc == 1)
		return cmd_xdp_pass(argv[0], false);
	if (!strcmp(cmd, "tx-csum") && argc == 2)
		return cmd_tx_csum(argv[0], argv[1]);
	usage();
	return 2;
}
