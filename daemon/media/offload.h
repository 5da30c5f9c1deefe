/* Offload of latched media streams to a kernel engine: XDP or tc
 * (daemon/kernel/), or netfilter conntrack entries (offload_ct.h).
 *
 * Every stream starts in the userspace relay, which reserves the ports and
 * latches the peers. As soon as a direction's source is latched and its
 * destination known, the offload layer installs a kernel entry for it (RTP
 * and RTCP separately), keeps the entries in step when peers change, folds
 * the kernel's counters into the stream's legs once a second, and removes the
 * entries when the stream closes. Without a kernel engine (rtp_engine =
 * userspace, a kernel that can't, or a build without eBPF) every call goes
 * through the userspace relay and these functions do nothing. */
#ifndef SIPMASQ_OFFLOAD_H
#define SIPMASQ_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/config/config.h"
#include "kmod-free-fallback/media.h"

/* offload_init: choose the engine per interface as rtp_engine asks (auto:
 * XDP native, XDP generic, tc, conntrack, userspace; rtp_engine_bpf = no
 * skips XDP and tc), logging each step down and why,
 * open or re-adopt the pinned maps, attach, and hook into the relay.
 * ifindex_priv/pub: the interfaces (may be equal). Never fails: on any error
 * the engine is userspace and the reason is logged. */
void offload_init(const struct sipmasq_config *cfg, int ifindex_priv, int ifindex_pub);

/* offload_iface_changed: the interface of `side` now has index ifindex (0:
 * gone): a PPP link that came up or reconnected. The kernel engine is
 * attached to the new interface (in the mode rtp_engine asks) and every
 * offloaded stream's entries are rewritten to forward to it. */
void offload_iface_changed(enum media_side side, int ifindex);

/* offload_sync: fold the kernel counters of every offloaded stream into its
 * legs (fwd/rx/kernel counters, last_rx_ms) so call logs and rtp_timeout see
 * kernel-forwarded packets. Cheap: one map lookup per entry. */
void offload_sync(void);

/* offload_stream_sync: the same for one stream (before its call ends). */
void offload_stream_sync(struct media_stream *s);

/* offload_stream_adopted: a stream re-adopted from saved call state (after a
 * restart): install or take over its kernel entries. Entries that a previous
 * daemon left keep their counters; leg->kernel_seen says what was counted. */
void offload_stream_adopted(struct media_stream *s);

/* offload_purge_stale: delete kernel entries that no open stream owns (left
 * by a previous daemon whose call state was lost). Call after re-adopting
 * saved calls. */
void offload_purge_stale(void);

/* offload_fini: handover = true leaves programs attached and entries in
 * place for the next daemon (hitless restart); false detaches, deletes the
 * entries and removes the pins. Call before media_fini(). */
void offload_fini(bool handover);

/* offload_engine_name: "xdp-native", "xdp-generic", "tc", "conntrack", "userspace" or
 * "mixed" (interfaces attached differently), for logs. */
const char *offload_engine_name(void);

/* offload_reasons: the kernel fast path's per-reason packet counters
 * (smq_stats, summed over CPUs): up to max names (static strings) and
 * counts. Returns how many were filled; 0 without a kernel engine. */
unsigned offload_reasons(const char **names, uint64_t *counts, unsigned max);

/* offload_stream_in_kernel: packets of s arriving on side `from` (RTP or
 * RTCP) are forwarded by a kernel entry right now (sipmasqctl streams). */
bool offload_stream_in_kernel(const struct media_stream *s, enum media_side from);
/* offload_active: a kernel engine is attached somewhere. */
bool offload_active(void);

#endif
