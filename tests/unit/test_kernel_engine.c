/* Tests of the kernel engine's loader (daemon/kernel/kernel_engine*.c), in a
 * private network and mount namespace (bpf_testenv.h): bpffs mounted on
 * demand, pins, entries and counters, map reuse across a restart, in-place
 * program replacement, attach modes and the auto fallback with its reasons,
 * and the clean stop that leaves nothing behind. Needs root; exits 77
 * (skip) otherwise. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/smq_fwd.skel.h"
#include "bpf/xdp_pass.skel.h"
#include "daemon/kernel/kernel_engine.h"
#include "daemon/kernel/kernel_engine_priv.h"
#include "daemon/base/log.h"
#include "tests/unit/bpf_testenv.h"
#include "tests/unit/unit.h"

static char path[PATH_MAX];

/* pinned: <pin dir>/name exists. */
static bool pinned(const char *name)
{
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", testenv_pin_dir(), name);
	return stat(path, &st) == 0;
}

static struct kernel_engine *open_ke(uint32_t max_entries, bool maps_only, int *err)
{
	struct kernel_engine_opts opts = {
		.pin_dir = testenv_pin_dir(), .max_entries = max_entries, .maps_only = maps_only,
	};
	struct kernel_engine *ke = NULL;
	char why[256] = "";

	*err = kernel_engine_open(&opts, &ke, why, sizeof(why));
	if (*err)
		fprintf(stderr, "open: %d %s\n", *err, why);
	return ke;
}

static void make_key(struct smq_flow_key *k, uint16_t port)
{
	struct sockaddr_in relay = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(5004) };

	inet_pton(AF_INET, "10.1.0.1", &relay.sin_addr);
	inet_pton(AF_INET, "10.1.0.2", &peer.sin_addr);
	kernel_engine_key_ipv4(k, &relay, &peer);
}

static void make_act(struct smq_flow_action *a, uint64_t cookie)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(40002) };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(6004) };

	inet_pton(AF_INET, "10.2.0.1", &src.sin_addr);
	inet_pton(AF_INET, "10.2.0.2", &dst.sin_addr);
	kernel_engine_action_ipv4(a, &src, &dst, 0, 0, SMQ_FLOW_F_RTCP, cookie);
}

static int count_cb(const struct smq_flow_key *k, const struct smq_flow_action *a, void *arg)
{
	unsigned int *n = arg;

	(void)k;
	*n += a->cookie == 7 || a->cookie == 8;
	return 0;
}

/* Names, parsing, ABI helpers: no kernel needed. */
static void test_names(void)
{
	enum kernel_engine_mode m;
	unsigned int r;

	CHECK_STR(kernel_engine_reason_name(SMQ_REASON_FORWARDED), "forwarded");
	CHECK_STR(kernel_engine_reason_name(SMQ_REASON_FIB_NO_NEIGH), "fib_no_neigh");
	CHECK_STR(kernel_engine_reason_name(SMQ_REASON__COUNT), "unknown");
	for (r = 0; r < SMQ_REASON__COUNT; r++)
		CHECK(kernel_engine_reason_name(r) != NULL);
	CHECK_INT(kernel_engine_mode_parse("xdp", &m), 0);
	CHECK_INT(m, KE_MODE_XDP_NATIVE);
	CHECK_INT(kernel_engine_mode_parse("xdp-generic", &m), 0);
	CHECK_INT(m, KE_MODE_XDP_GENERIC);
	CHECK_INT(kernel_engine_mode_parse("tc", &m), 0);
	CHECK_INT(m, KE_MODE_TC);
	CHECK_INT(kernel_engine_mode_parse("auto", &m), 0);
	CHECK_INT(m, KE_MODE_AUTO);
	CHECK_INT(kernel_engine_mode_parse("bogus", &m), -EINVAL);
	CHECK_STR(kernel_engine_mode_name(KE_MODE_XDP_GENERIC), "xdp-generic");
}

/* Load, pins, entries; a restart keeps entries and counters. */
static void test_pins_entries_restart(void)
{
	struct smq_flow_key k, k2;
	struct smq_flow_action a, got;
	struct kernel_engine *ke;
	struct statfs st;
	unsigned int n = 0;
	int err;

	ke = open_ke(0, true, &err);
	CHECK_INT(err, -ENOENT);   /* nothing pinned yet */

	ke = open_ke(128, false, &err);
	if (!CHECK_INT(err, 0))
		return;
	CHECK(statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC);
	CHECK(pinned(SMQ_MAP_STREAMS));
	CHECK(pinned(SMQ_MAP_STATS));
	CHECK(pinned(SMQ_MAP_TX_PORTS));

	make_key(&k, 40000);
	make_act(&a, 7);
	CHECK_INT(kernel_engine_stream_put(ke, &k, &a), 0);
	CHECK_INT(kernel_engine_stream_get(ke, &k, &got), 0);
	CHECK_INT(got.cookie, 7);
	CHECK_INT(got.new_dst_port, htons(6004));
	CHECK_INT(got.flags, SMQ_FLOW_F_RTCP);
	CHECK_INT(got.counters.packets, 0);

	/* Counters belong to the kernel: put keeps them, whatever act says. */
	got.counters.packets = 42;
	CHECK_INT(bpf_map_update_elem(ke->streams_fd, &k, &got, BPF_EXIST), 0);
	a.counters.packets = 1000;
	a.cookie = 8;
	CHECK_INT(kernel_engine_stream_put(ke, &k, &a), 0);
	CHECK_INT(kernel_engine_stream_get(ke, &k, &got), 0);
	CHECK_INT(got.counters.packets, 42);
	CHECK_INT(got.cookie, 8);

	/* What the fast path cannot carry is refused. */
	k2 = k;
	k2.pad[1] = 1;
	CHECK_INT(kernel_engine_stream_put(ke, &k2, &a), -EINVAL);
	k2 = k;
	k2.family = SMQ_AF_INET6;
	CHECK_INT(kernel_engine_stream_put(ke, &k2, &a), -EINVAL);
	got = a;
	got.flags = 0x80;
	CHECK_INT(kernel_engine_stream_put(ke, &k, &got), -EINVAL);
	got = a;
	got.new_dst_addr[0] = 0x20;   /* an IPv6 destination for an IPv4 key */
	CHECK_INT(kernel_engine_stream_put(ke, &k, &got), -EINVAL);

	make_key(&k2, 40010);
	make_act(&a, 7);
	CHECK_INT(kernel_engine_stream_put(ke, &k2, &a), 0);
	CHECK_INT(kernel_engine_stream_foreach(ke, count_cb, &n), 0);
	CHECK_INT(n, 2);

	/* Restart with another size: the pinned map (and entries) stay. */
	kernel_engine_close(ke, true);
	CHECK(pinned(SMQ_MAP_STREAMS));
	ke = open_ke(256, false, &err);
	if (!CHECK_INT(err, 0))
		return;
	CHECK_INT(bpf_map__max_entries(ke->skel->maps.smq_streams), 128);
	CHECK_INT(kernel_engine_stream_get(ke, &k, &got), 0);
	CHECK_INT(got.counters.packets, 42);
	CHECK_INT(kernel_engine_stream_del(ke, &k2), 0);
	CHECK_INT(kernel_engine_stream_del(ke, &k2), -ENOENT);
	CHECK_INT(kernel_engine_stream_get(ke, &k2, &got), -ENOENT);

	/* A control tool sees the same maps without loading anything. */
	{
		struct kernel_engine *ro = open_ke(0, true, &err);
		uint64_t c[SMQ_REASON__COUNT];

		if (CHECK_INT(err, 0)) {
			CHECK_INT(kernel_engine_stream_get(ro, &k, &got), 0);
			CHECK_INT(got.cookie, 8);
			CHECK_INT(kernel_engine_stats(ro, c), 0);
			CHECK_INT(kernel_engine_attach(ro, "lo", KE_MODE_TC, NULL, 0), -EINVAL);
			kernel_engine_close(ro, true);
		}
	}
	kernel_engine_close(ke, true);
}

/* xdp_link_id: the id of the XDP link pinned for ifname, 0 if none. */
static __u32 xdp_link_id(const char *ifname)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	int fd;

	snprintf(path, sizeof(path), "%s/" KE_PIN_XDP_LINK "%s", testenv_pin_dir(), ifname);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

static __u32 prog_id(int fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* xdp_ids: the XDP programs running on ifname, per mode. */
static void xdp_ids(const char *ifname, __u32 *drv, __u32 *skb)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	*drv = *skb = 0;
	if (!bpf_xdp_query((int)if_nametoindex(ifname), 0, &q)) {
		*drv = q.drv_prog_id;
		*skb = q.skb_prog_id;
	}
}

/* tc_prog: the program id of our tc filter on ifname, 0 if none. */
static __u32 tc_prog(const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = KE_TC_HANDLE, .priority = KE_TC_PRIO);

	hook.ifindex = (int)if_nametoindex(ifname);
	return bpf_tc_query(&hook, &o) ? 0 : o.prog_id;
}

/* Attach modes, in-place replacement across a restart, mode switches. */
static void test_attach_restart(void)
{
	struct kernel_engine *ke;
	__u32 drv, skb, link, old_prog;
	char why[256];
	int err, key;

	ke = open_ke(0, false, &err);
	if (!CHECK_INT(err, 0))
		return;
	CHECK_INT(kernel_engine_attach(ke, "nosuchif0", KE_MODE_TC, why, sizeof(why)), -ENODEV);
	CHECK(strstr(why, "no such interface") != NULL);

	/* Native XDP on a veth, then generic on the other. */
	CHECK_INT(kernel_engine_attach(ke, "smqa", KE_MODE_XDP_NATIVE, why, sizeof(why)), 0);
	CHECK_INT(kernel_engine_attach(ke, "smqb", KE_MODE_XDP_GENERIC, why, sizeof(why)), 0);
	CHECK_INT(kernel_engine_iface_mode(ke, "smqa"), KE_MODE_XDP_NATIVE);
	CHECK_INT(kernel_engine_iface_mode(ke, "smqb"), KE_MODE_XDP_GENERIC);
	CHECK_INT(kernel_engine_iface_mode(ke, "lo"), KE_MODE_NONE);
	xdp_ids("smqa", &drv, &skb);
	CHECK_INT(drv, prog_id(ke->xdp_prog_fd));
	xdp_ids("smqb", &drv, &skb);
	CHECK_INT(skb, prog_id(ke->xdp_generic_prog_fd));
	CHECK(pinned(KE_PIN_XDP_LINK "smqa"));
	key = (int)if_nametoindex("smqa");
	{
		__u32 v = 0;
		int kb = (int)if_nametoindex("smqb");

		/* Native interfaces are redirect targets of native XDP, the
		 * others are not. */
		CHECK_INT(bpf_map_lookup_elem(ke->tx_ports_fd, &key, &v), 0);
		CHECK_INT(v, key);
		CHECK_INT(bpf_map_lookup_elem(ke->tx_ports_fd, &kb, &v), -ENOENT);
	}
	link = xdp_link_id("smqa");
	old_prog = prog_id(ke->xdp_prog_fd);
	CHECK(link != 0);

	/* Restart: the programs stay attached while no daemon runs ... */
	kernel_engine_close(ke, true);
	xdp_ids("smqa", &drv, &skb);
	CHECK_INT(drv, old_prog);
	/* ... and the next daemon swaps its program into the same link. */
	ke = open_ke(0, false, &err);
	if (!CHECK_INT(err, 0))
		return;
	{
		__u32 v = 0;   /* the redirect targets survived too */

		CHECK_INT(bpf_map_lookup_elem(ke->tx_ports_fd, &key, &v), 0);
		CHECK_INT(v, key);
	}
	CHECK(prog_id(ke->xdp_prog_fd) != old_prog);
	CHECK_INT(kernel_engine_attach(ke, "smqa", KE_MODE_XDP_NATIVE, why, sizeof(why)), 0);
	CHECK_INT(xdp_link_id("smqa"), link);
	xdp_ids("smqa", &drv, &skb);
	CHECK_INT(drv, prog_id(ke->xdp_prog_fd));

	/* Mode change on restart: native -> generic makes a new link. */
	CHECK_INT(kernel_engine_attach(ke, "smqa", KE_MODE_XDP_GENERIC, why, sizeof(why)), 0);
	xdp_ids("smqa", &drv, &skb);
	CHECK_INT(drv, 0);
	CHECK_INT(skb, prog_id(ke->xdp_generic_prog_fd));
	{
		__u32 v;

		CHECK_INT(bpf_map_lookup_elem(ke->tx_ports_fd, &key, &v), -ENOENT);
	}

	/* XDP -> tc: the filter goes in, the link goes away. */
	CHECK_INT(kernel_engine_attach(ke, "smqa", KE_MODE_TC, why, sizeof(why)), 0);
	xdp_ids("smqa", &drv, &skb);
	CHECK_INT(drv + skb, 0);
	CHECK(!pinned(KE_PIN_XDP_LINK "smqa"));
	CHECK(pinned(KE_PIN_TC_PROG "smqa"));
	CHECK_INT(tc_prog("smqa"), prog_id(ke->tc_prog_fd));
	/* tc again after a restart: replaced in place. */
	kernel_engine_close(ke, true);
	CHECK(tc_prog("smqa") != 0);
	ke = open_ke(0, false, &err);
	if (!CHECK_INT(err, 0))
		return;
	CHECK_INT(kernel_engine_attach(ke, "smqa", KE_MODE_TC, why, sizeof(why)), 0);
	CHECK_INT(tc_prog("smqa"), prog_id(ke->tc_prog_fd));
	/* tc -> XDP. */
	CHECK_INT(kernel_engine_attach(ke, "smqa", KE_MODE_XDP_NATIVE, why, sizeof(why)), 0);
	CHECK_INT(tc_prog("smqa"), 0);
	CHECK(!pinned(KE_PIN_TC_PROG "smqa"));

	/* detach */
	CHECK_INT(kernel_engine_detach(ke, "smqb"), 0);
	xdp_ids("smqb", &drv, &skb);
	CHECK_INT(skb, 0);
	CHECK_INT(kernel_engine_detach(ke, "smqb"), -ENOENT);
	kernel_engine_close(ke, true);
}

/* auto: native where the driver can, tc where it cannot or where XDP is
 * taken by another program (never generic: only when asked); every step
 * down has its reason. */
static void test_auto(void)
{
	enum kernel_engine_mode m;
	struct kernel_engine *ke;
	struct xdp_pass *other;
	char why[768];
	int err;

	ke = open_ke(0, false, &err);
	if (!CHECK_INT(err, 0))
		return;
	CHECK_INT(kernel_engine_attach_auto(ke, "smqb", &m, why, sizeof(why)), 0);
	CHECK_INT(m, KE_MODE_XDP_NATIVE);
	CHECK_STR(why, "");

	/* A bridge has no native XDP (and this kernel has no dummy driver). */
	CHECK_INT(kernel_engine_attach_auto(ke, "smqd", &m, why, sizeof(why)), 0);
	CHECK_INT(m, KE_MODE_TC);
	CHECK(strstr(why, "xdp-native on smqd: driver without native XDP") != NULL);
	fprintf(stderr, "auto on a bridge: %s\n", why);

	/* Somebody else's native XDP program on smqc. */
	other = xdp_pass__open_and_load();
	if (CHECK(other != NULL)) {
		CHECK_INT(bpf_xdp_attach((int)if_nametoindex("smqc"),
					 bpf_program__fd(other->progs.smq_xdp_pass),
					 XDP_FLAGS_DRV_MODE, NULL), 0);
		CHECK_INT(kernel_engine_attach_auto(ke, "smqc", &m, why, sizeof(why)), 0);
		CHECK_INT(m, KE_MODE_TC);
		CHECK(strstr(why, "xdp-native on smqc: another XDP program") != NULL);
		CHECK(strstr(why, "xdp-generic") == NULL);
		fprintf(stderr, "auto next to a foreign XDP program: %s\n", why);
		CHECK_INT(tc_prog("smqc"), prog_id(ke->tc_prog_fd));
		xdp_pass__destroy(other);
	}
	CHECK_INT(kernel_engine_attach_auto(ke, "nosuchif0", &m, why, sizeof(why)), -ENODEV);
	CHECK_INT(m, KE_MODE_NONE);

	/* A clean stop undoes everything, the pin directory included; the
	 * other program on smqc is left alone. */
	kernel_engine_close(ke, false);
	{
		__u32 drv, skb;
		struct stat st;

		CHECK(stat(testenv_pin_dir(), &st) < 0 && errno == ENOENT);
		xdp_ids("smqb", &drv, &skb);
		CHECK_INT(drv + skb, 0);
		xdp_ids("smqd", &drv, &skb);
		CHECK_INT(drv + skb, 0);
		xdp_ids("smqc", &drv, &skb);
		CHECK(drv != 0);
		CHECK_INT(tc_prog("smqc"), 0);
		CHECK_INT(tc_prog("smqa"), 0);
		xdp_ids("smqa", &drv, &skb);
		CHECK_INT(drv + skb, 0);
	}
	ke = open_ke(0, true, &err);
	CHECK_INT(err, -ENOENT);
}

/* A pin directory whose parent is not bpffs is refused, not created. */
static void test_bad_pin_dir(void)
{
	struct kernel_engine_opts opts = { .pin_dir = "/tmp/smq-not-bpffs/x" };
	struct kernel_engine *ke;
	char why[256];

	CHECK_INT(kernel_engine_open(&opts, &ke, why, sizeof(why)), -ENOTDIR);
	CHECK(strstr(why, "not on a bpf filesystem") != NULL);
	opts.pin_dir = "relative";
	CHECK_INT(kernel_engine_open(&opts, &ke, why, sizeof(why)), -EINVAL);
}

int main(void)
{
	int rc = testenv_enter(), err = 0;

	if (rc)
		return rc;
	log_open(false, 0);
	err |= testenv_sh("ip link add smqa type veth peer name smqa_p");
	err |= testenv_sh("ip link add smqb type veth peer name smqb_p");
	err |= testenv_sh("ip link add smqc type veth peer name smqc_p");
	err |= testenv_sh("ip link add smqd type bridge");
	err |= testenv_sh("for i in smqa smqa_p smqb smqb_p smqc smqc_p smqd; do ip link set $i up; done");
	if (!CHECK_INT(err, 0))
		return unit_summary();

	test_names();
	test_bad_pin_dir();
	test_pins_entries_restart();
	test_attach_restart();
	test_auto();
	return unit_summary();
}
