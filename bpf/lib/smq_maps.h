/* Maps of the sipmasq fast path. BTF-defined so that `bpftool map dump`
 * prints named fields; the loader (daemon/kernel/kernel_engine.c) pins them under
 * its pin directory by these names and reuses the pins across restarts.
 * Sizes given here are defaults: the loader sets smq_streams' max_entries
 * from the configuration before loading. */
#ifndef SMQ_MAPS_H
#define SMQ_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sipmasq_abi.h"

#ifndef SMQ_STREAMS_DEFAULT_MAX
#define SMQ_STREAMS_DEFAULT_MAX 4096
#endif
#ifndef SMQ_TX_PORTS_MAX
#define SMQ_TX_PORTS_MAX 64   /* interfaces a packet may be redirected to */
#endif

/* One entry per relayed packet direction (4 per media stream: RTP and RTCP,
 * both ways). Preallocated (the default): lookups never allocate and
 * updates from the daemon cannot fail for lack of memory at packet time. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMQ_STREAMS_DEFAULT_MAX);
	__type(key, struct smq_flow_key);
	__type(value, struct smq_flow_action);
} smq_streams SEC(".maps");

/* Packets per reason (enum smq_reason). Per-CPU so that counting every
 * packet costs no atomic operation; the daemon sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SMQ_REASON__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} smq_stats SEC(".maps");

/* Native XDP redirect targets, keyed by ifindex (value: the same ifindex):
 * interfaces whose driver takes XDP frames (ndo_xdp_xmit). The loader adds
 * every interface it attaches in native mode (a driver with native XDP has
 * XDP transmit too, as a rule); others are added by
 * kernel_engine_tx_port_add(). DEVMAP_HASH rather than DEVMAP: ifindexes
 * are sparse. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, SMQ_TX_PORTS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} smq_tx_ports SEC(".maps");

#endif
