/* Kernel engine: the contents of the maps (stream entries and their
 * counters, per-reason statistics, redirect targets). Works the same on a
 * loaded engine and on a maps_only one. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "daemon/kernel/kernel_engine_priv.h"
#include "daemon/base/log.h"

void kernel_engine_key_ipv4(struct smq_flow_key *key, const struct sockaddr_in *relay,
			    const struct sockaddr_in *peer)
{
	memset(key, 0, sizeof(*key));
	key->family = SMQ_AF_INET;
	smq_ip_set_v4(key->dst_addr, relay->sin_addr.s_addr);
	smq_ip_set_v4(key->src_addr, peer->sin_addr.s_addr);
	key->dst_port = relay->sin_port;
	key->src_port = peer->sin_port;
}

void kernel_engine_action_ipv4(struct smq_flow_action *act, const struct sockaddr_in *relay_out,
			       const struct sockaddr_in *peer_out, int ingress_ifindex,
			       int egress_ifindex, uint32_t flags, uint64_t cookie)
{
	memset(act, 0, sizeof(*act));
	smq_ip_set_v4(act->new_src_addr, relay_out->sin_addr.s_addr);
	smq_ip_set_v4(act->new_dst_addr, peer_out->sin_addr.s_addr);
	act->new_src_port = relay_out->sin_port;
	act->new_dst_port = peer_out->sin_port;
	act->ingress_ifindex = ingress_ifindex > 0 ? (__u32)ingress_ifindex : 0;
	act->egress_ifindex = egress_ifindex > 0 ? (__u32)egress_ifindex : 0;
	act->flags = flags;
	act->cookie = cookie;
}

/* ke_entry_valid: what the fast path can carry: IPv4 only for now, the
 * same family on both sides, zeroed padding (hash keys compare it). */
static bool ke_entry_valid(const struct smq_flow_key *key, const struct smq_flow_action *act)
{
	return key->family == SMQ_AF_INET && !key->pad[0] && !key->pad[1] && !key->pad[2] &&
	       smq_ip_is_v4(key->dst_addr) && smq_ip_is_v4(key->src_addr) &&
	       smq_ip_is_v4(act->new_src_addr) && smq_ip_is_v4(act->new_dst_addr) &&
	       !(act->flags & ~SMQ_FLOW_F_RTCP) && !act->pad;
}

/* ke_key_str: "dst:port <- src:port" of an IPv4 key, for logs. */
static const char *ke_key_str(const struct smq_flow_key *key, char *buf, size_t len)
{
	char d[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN];
	__be32 da = smq_ip_get_v4(key->dst_addr), sa = smq_ip_get_v4(key->src_addr);

	inet_ntop(AF_INET, &da, d, sizeof(d));
	inet_ntop(AF_INET, &sa, s, sizeof(s));
	snprintf(buf, len, "%s:%u <- %s:%u", d, ntohs(key->dst_port), s, ntohs(key->src_port));
	return buf;
}

int kernel_engine_stream_put(struct kernel_engine *ke, const struct smq_flow_key *key,
			     const struct smq_flow_action *act)
{
	struct smq_flow_action val = *act, old;
	struct timespec ts;
	uint64_t now_ns;
	char kb[64];
	int err;

	if (!ke_entry_valid(key, act))
		return -EINVAL;
	/* Counters belong to the kernel: carry the current ones over. A put
	 * renews the entry's idle time (bpf_ktime_get_ns() is CLOCK_MONOTONIC). */
	if (bpf_map_lookup_elem(ke->streams_fd, key, &old) == 0)
		val.counters = old.counters;
	else
		memset(&val.counters, 0, sizeof(val.counters));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (val.counters.last_seen_ns < now_ns)
		val.counters.last_seen_ns = now_ns;
	err = bpf_map_update_elem(ke->streams_fd, key, &val, BPF_ANY);
	if (err) {
		log_ratelimited("ke_stream_put", 10, LOG_WARNING,
				"kernel engine: cannot add stream entry %s: %s",
				ke_key_str(key, kb, sizeof(kb)), strerror(-err));
		return err;
	}
	log_debug(DBCLASS_RTP, "kernel engine: stream entry %s set",
		  ke_key_str(key, kb, sizeof(kb)));
	return 0;
}

int kernel_engine_stream_del(struct kernel_engine *ke, const struct smq_flow_key *key)
{
	char kb[64];
	int err = bpf_map_delete_elem(ke->streams_fd, key);

	if (!err)
		log_debug(DBCLASS_RTP, "kernel engine: stream entry %s removed",
			  ke_key_str(key, kb, sizeof(kb)));
	return err;
}

int kernel_engine_stream_get(struct kernel_engine *ke, const struct smq_flow_key *key,
			     struct smq_flow_action *act)
{
	return bpf_map_lookup_elem(ke->streams_fd, key, act);
}

int kernel_engine_stream_foreach(struct kernel_engine *ke, kernel_engine_stream_cb cb, void *arg)
{
	struct smq_flow_key key, next;
	struct smq_flow_action val;
	void *prev = NULL;
	int err, rc;

	for (;;) {
		err = bpf_map_get_next_key(ke->streams_fd, prev, &next);
		if (err == -ENOENT)
			return 0;
		if (err)
			return err;
		key = next;
		prev = &key;
		/* Deleted between the two calls: skip it. */
		if (bpf_map_lookup_elem(ke->streams_fd, &key, &val))
			continue;
		rc = cb(&key, &val, arg);
		if (rc)
			return rc;
	}
}

int kernel_engine_stats(struct kernel_engine *ke, uint64_t counts[SMQ_REASON__COUNT])
{
	__u64 *percpu = calloc(ke->ncpus, sizeof(*percpu));
	unsigned int cpu;
	__u32 r;
	int err = 0;

	if (!percpu)
		return -ENOMEM;
	for (r = 0; r < SMQ_REASON__COUNT; r++) {
		counts[r] = 0;
		err = bpf_map_lookup_elem(ke->stats_fd, &r, percpu);
		if (err)
			break;
		for (cpu = 0; cpu < ke->ncpus; cpu++)
			counts[r] += percpu[cpu];
	}
	free(percpu);
	return err;
}

int kernel_engine_tx_port_add(struct kernel_engine *ke, int ifindex)
{
	char name[IF_NAMESIZE];
	__u32 k = (__u32)ifindex, v = (__u32)ifindex;

	/* The kernel says EINVAL for an unknown ifindex: say ENODEV. */
	if (ifindex <= 0 || !if_indextoname((unsigned int)ifindex, name))
		return -ENODEV;
	return bpf_map_update_elem(ke->tx_ports_fd, &k, &v, BPF_ANY);
}

int kernel_engine_tx_port_del(struct kernel_engine *ke, int ifindex)
{
	__u32 k = (__u32)ifindex;

	return bpf_map_delete_elem(ke->tx_ports_fd, &k);
}
