/* The conntrack tier of offload: latched streams forwarded by netfilter
 * conntrack entries with NAT (kmod-free-fallback/conntrack.h), for
 * gateways where the eBPF tiers cannot serve. daemon/media/offload.c
 * chooses the tier and calls these; each mirrors the offload_* function of
 * the same name (offload.h) for the conntrack engine.
 *
 * A stream gets one entry for RTP and one for RTCP, each carrying both
 * directions, once the party on each side is latched (the relay's rules:
 * kmod-free-fallback/latch.h). Orientation: the private side is the
 * entry's original direction, the public side its reply. Counters come
 * from conntrack accounting once a second; an entry the kernel expired or
 * somebody deleted while its stream lives is created again. */
#ifndef SIPMASQ_OFFLOAD_CT_H
#define SIPMASQ_OFFLOAD_CT_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config/config.h"
#include "kmod-free-fallback/media.h"

/* offload_ct_init: open ctnetlink and check the kernel (one log line per
 * missing piece). Returns 0 when the tier is ready (the caller then hooks
 * offload_ct_event into the relay), or -errno with the reason in why. */
int offload_ct_init(const struct sipmasq_config *cfg, char *why, size_t why_len);

/* offload_ct_event: the relay's media hook for this tier. */
void offload_ct_event(struct media_stream *s, enum media_event ev);

/* offload_ct_stream_sync / offload_ct_sync: fold the kernel's counters of
 * one stream / all offloaded streams into their legs. */
void offload_ct_stream_sync(struct media_stream *s);
void offload_ct_sync(void);

/* offload_ct_purge_stale: delete our entries that no open stream owns. */
void offload_ct_purge_stale(void);

/* offload_ct_purge_leftovers: another engine runs: delete every entry
 * with rtp_conntrack_mark (left by an earlier daemon on this engine).
 * Quiet when ctnetlink is unavailable. */
void offload_ct_purge_leftovers(const struct sipmasq_config *cfg);

/* offload_ct_fini: handover = true leaves the entries for the next daemon;
 * false deletes them. */
void offload_ct_fini(bool handover);

/* offload_ct_active: the tier is in use. */
bool offload_ct_active(void);

/* offload_ct_stream_in_kernel: s has a conntrack entry installed (RTP or
 * RTCP); an entry carries both directions. False when the conntrack
 * engine does not run or s is not its. */
bool offload_ct_stream_in_kernel(const struct media_stream *s);

#endif
