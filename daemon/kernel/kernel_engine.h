/* Kernel engine: loads the sipmasq RTP fast path (bpf/smq_fwd.bpf.c) and
 * programs it. It loads the XDP and tc programs from the embedded skeleton,
 * pins the maps under a bpffs directory (reused by the next daemon, so
 * streams survive a restart), attaches the programs to relay interfaces in
 * XDP native, XDP generic or tc mode, and manages the per-stream entries
 * and counters. When to add and remove entries is the caller's business.
 *
 * Byte order: every address and port inside struct smq_flow_key and struct
 * smq_flow_action is network order (include/sipmasq_abi.h); counters and
 * ifindexes are host order. Functions return 0 or a negative errno, and
 * log why they failed. Not thread-safe: one thread (the event loop) owns an
 * engine. The layouts are in include/sipmasq_abi.h. */
#ifndef SIPMASQ_KERNEL_ENGINE_H
#define SIPMASQ_KERNEL_ENGINE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sipmasq_abi.h"

/* Where the maps and attachments are pinned by default (on bpffs; bpffs is
 * mounted on /sys/fs/bpf when nothing is). */
#define KERNEL_ENGINE_PIN_DIR "/sys/fs/bpf/sipmasq"
/* smq_streams size when the caller gives none: 1024 streams. */
#define KERNEL_ENGINE_DEFAULT_ENTRIES 4096u
/* Interfaces one engine attaches to at most. */
#define KERNEL_ENGINE_MAX_IFACES 16
/* The tc filter of the fast path on clsact ingress: `tc filter show dev IF
 * ingress` lists it as "pref 21329 ... handle 0x5351". A high preference
 * number: filters of other tools run first, and a clash is unlikely. */
#define KE_TC_PRIO   0x5351u
#define KE_TC_HANDLE 0x5351u

/* How the fast path hooks into an interface. */
enum kernel_engine_mode {
	KE_MODE_NONE = 0,     /* not attached */
	KE_MODE_XDP_NATIVE,   /* XDP in the driver (XDP_FLAGS_DRV_MODE): fastest */
	KE_MODE_XDP_GENERIC,  /* XDP on the skb (XDP_FLAGS_SKB_MODE): any driver */
	KE_MODE_TC,           /* tc clsact ingress (cls_bpf, direct action) */
	KE_MODE_AUTO,         /* attach only: native, else generic, else tc */
};

/* Settings of kernel_engine_open(). Zeroed fields take the defaults. */
struct kernel_engine_opts {
	const char *pin_dir;   /* bpffs directory for the pins; NULL = KERNEL_ENGINE_PIN_DIR.
	                        * Its parent must be on bpffs (or be /sys/fs/bpf, mounted on demand). */
	uint32_t max_entries;  /* smq_streams entries (4 per media stream); 0 = default.
	                        * A pinned map keeps its size until a clean stop removes it. */
	bool maps_only;        /* control tools: open the pinned maps, load and attach
	                        * nothing; fails with -ENOENT when nothing is pinned */
};

/* A loaded fast path. Opaque; created by kernel_engine_open(), freed by
 * kernel_engine_close(). */
struct kernel_engine;

/* kernel_engine_open: load the fast path. Mounts bpffs on /sys/fs/bpf if
 * needed, creates the pin directory (mode 0700), reuses the maps already
 * pinned there when they are compatible (a restart: their entries and
 * counters carry on) and pins new ones, then loads both programs. On success
 * *out owns everything. On failure, why (if not NULL, why_len bytes) says in
 * a sentence what went wrong ("no CAP_BPF/CAP_NET_ADMIN", "kernel too old or
 * verifier rejected the program: ..."). Returns 0, -EPERM, -ENOENT
 * (maps_only and nothing pinned), -EPROTO (pinned maps of another layout in
 * maps_only mode), or another -errno from the kernel. */
int kernel_engine_open(const struct kernel_engine_opts *opts, struct kernel_engine **out,
		       char *why, size_t why_len);

/* kernel_engine_close: release ke (NULL is fine).
 *   keep = true:  restart. Programs stay attached, maps and attachments stay
 *                 pinned; the next kernel_engine_open() + attach takes them
 *                 over without dropping a packet.
 *   keep = false: clean stop. Detaches every attachment pinned in the pin
 *                 directory (this engine's and earlier ones'), removes the
 *                 pins and the directory if it is then empty. */
void kernel_engine_close(struct kernel_engine *ke, bool keep);

/* kernel_engine_purge: remove what an earlier sipmasq left in pin_dir
 * (NULL = KERNEL_ENGINE_PIN_DIR) when this one will not run the kernel
 * engine (rtp_engine = userspace, or the engine cannot load): detach its
 * XDP links and tc filters, unpin its maps (their entries would go on
 * forwarding old calls' tuples to old parties, ahead of the userspace
 * relay), remove the directory. Loads nothing. Returns 1 when something
 * was removed, 0 when nothing was there, -EPERM when something is left
 * (why, if not NULL, names it), or another -errno. */
int kernel_engine_purge(const char *pin_dir, char *why, size_t why_len);

/* kernel_engine_attach: hook the fast path into interface ifname in `mode`.
 * In native XDP mode the interface also becomes a redirect target of native
 * XDP (kernel_engine_tx_port_add); in the other modes it stops being one
 * (its driver may not take XDP frames: native XDP passes packets for it to
 * the stack, counted as no_tx_port). If this
 * or an earlier engine already attached there in the same mode, the program
 * is replaced atomically (no packet is missed); an attachment of ours in
 * another mode is removed once the new one is in place. XDP attachments are
 * bpf_links pinned as <pin_dir>/xdp_link_<ifname>; tc ones are cls_bpf
 * filters (handle/priority KE_TC_HANDLE/KE_TC_PRIO) whose program is pinned
 * as <pin_dir>/tc_prog_<ifname>. KE_MODE_AUTO behaves as
 * kernel_engine_attach_auto(). Fails in maps_only mode (-EINVAL).
 * Returns 0, -ENODEV (no such interface), -EOPNOTSUPP (driver without
 * native XDP), -EBUSY/-EEXIST (another XDP program is attached), -EPERM,
 * -ENOSPC (too many interfaces), or another -errno; why as above. */
int kernel_engine_attach(struct kernel_engine *ke, const char *ifname,
			 enum kernel_engine_mode mode, char *why, size_t why_len);

/* kernel_engine_attach_auto: try XDP native, then XDP generic, then tc on
 * ifname, stopping at the first that works; *chosen (if not NULL) gets it,
 * or KE_MODE_NONE. why gets one clause per step taken down and why, e.g.
 * "xdp-native: driver without native XDP (Operation not supported);
 * xdp-generic: ...", or is empty when native XDP worked. Each step down is
 * also logged. Returns 0 or the last step's -errno. */
int kernel_engine_attach_auto(struct kernel_engine *ke, const char *ifname,
			      enum kernel_engine_mode *chosen, char *why, size_t why_len);

/* kernel_engine_detach: remove this engine's (or an earlier one's pinned)
 * attachment from ifname and its redirect target entry. Returns 0 or
 * -ENOENT when nothing of ours was attached there. */
int kernel_engine_detach(struct kernel_engine *ke, const char *ifname);

/* kernel_engine_iface_mode: how this engine attached ifname (KE_MODE_NONE
 * when it did not). */
enum kernel_engine_mode kernel_engine_iface_mode(const struct kernel_engine *ke,
						 const char *ifname);

/* kernel_engine_tx_port_add: let native XDP redirect packets out of
 * interface ifindex (an entry in smq_tx_ports). Interfaces attached in
 * native mode are added by kernel_engine_attach(); an egress-only interface
 * needs this, and only if its driver takes XDP frames (ndo_xdp_xmit; a veth
 * only when its peer runs an XDP program): frames redirected to one that
 * does not are dropped by the kernel. Generic XDP and tc need no entry.
 * Returns 0 or -errno (-ENODEV: no such interface in this network
 * namespace). */
int kernel_engine_tx_port_add(struct kernel_engine *ke, int ifindex);

/* kernel_engine_tx_port_del: undo kernel_engine_tx_port_add. Returns 0 or
 * -ENOENT. */
int kernel_engine_tx_port_del(struct kernel_engine *ke, int ifindex);

/* kernel_engine_key_ipv4: fill *key (zeroing it first) for packets sent to
 * the relay address `relay` by the latched peer `peer` (sockaddr_in, network
 * order). */
void kernel_engine_key_ipv4(struct smq_flow_key *key, const struct sockaddr_in *relay,
			    const struct sockaddr_in *peer);

/* kernel_engine_action_ipv4: fill *act (zeroing it first, counters
 * included): rewrite the source to `relay_out` (this gateway's relay
 * address and port on the other side) and the destination to `peer_out`
 * (the other side's latched peer), for packets that arrived on
 * ingress_ifindex (the interface of the key's relay address; others are
 * passed to the stack; 0 = any, for tests), leave by egress_ifindex (0 = as
 * routed), with SMQ_FLOW_F_* flags and the daemon's opaque cookie. */
void kernel_engine_action_ipv4(struct smq_flow_action *act, const struct sockaddr_in *relay_out,
			       const struct sockaddr_in *peer_out, int ingress_ifindex,
			       int egress_ifindex, uint32_t flags, uint64_t cookie);

/* kernel_engine_stream_put: add the entry key -> act, or update it. The
 * counters in act are ignored: a new entry starts at zero, an updated one
 * keeps its counters (a few packets counted during the update may be lost);
 * either way counters.last_seen_ns becomes at least now, which renews the
 * entry's idle time (act->idle_timeout_s).
 * Returns 0, -EINVAL (not IPv4, non-zero padding, unknown flags), -E2BIG
 * (map full), or -errno. */
int kernel_engine_stream_put(struct kernel_engine *ke, const struct smq_flow_key *key,
			     const struct smq_flow_action *act);

/* kernel_engine_stream_del: remove an entry. Returns 0 or -ENOENT. */
int kernel_engine_stream_del(struct kernel_engine *ke, const struct smq_flow_key *key);

/* kernel_engine_stream_get: copy the entry of key, counters included, into
 * *act. Returns 0 or -ENOENT. */
int kernel_engine_stream_get(struct kernel_engine *ke, const struct smq_flow_key *key,
			     struct smq_flow_action *act);

/* Callback of kernel_engine_stream_foreach: one entry (valid during the
 * call only). Return 0 to go on, anything else to stop with that value. */
typedef int (*kernel_engine_stream_cb)(const struct smq_flow_key *key,
				       const struct smq_flow_action *act, void *arg);

/* kernel_engine_stream_foreach: call cb for every entry, e.g. to re-adopt
 * streams after a restart (by cookie) or to list them. Entries added or
 * removed meanwhile may be missed or seen twice. Returns 0, cb's non-zero
 * value, or -errno. */
int kernel_engine_stream_foreach(struct kernel_engine *ke, kernel_engine_stream_cb cb, void *arg);

/* kernel_engine_stats: packets per reason (enum smq_reason), summed over
 * the CPUs, since the maps were created. Returns 0 or -errno. */
int kernel_engine_stats(struct kernel_engine *ke, uint64_t counts[SMQ_REASON__COUNT]);

/* kernel_engine_reason_name: "forwarded", "miss", ... (static string), or
 * "unknown". */
const char *kernel_engine_reason_name(unsigned int reason);

/* kernel_engine_mode_name: "xdp-native", "xdp-generic", "tc", "auto",
 * "none" (static string). */
const char *kernel_engine_mode_name(enum kernel_engine_mode mode);

/* kernel_engine_mode_parse: the inverse of kernel_engine_mode_name, also
 * accepting "xdp" and "native" (native) and "generic". Returns 0 or
 * -EINVAL. */
int kernel_engine_mode_parse(const char *s, enum kernel_engine_mode *mode);

/* kernel_engine_pin_dir: the engine's pin directory (owned by ke). */
const char *kernel_engine_pin_dir(const struct kernel_engine *ke);

#endif
