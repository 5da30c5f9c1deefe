/* Data layouts shared between the sipmasq daemon and its (future) BPF
 * programs. Rules for everything in this file, so that the same bytes mean
 * the same thing on both sides of a BPF map:
 *   - fixed-width kernel types only (__u64, __u32, ...), no pointers, no enums
 *     as field types, no bool;
 *   - fields ordered largest first, any hole filled by an explicit `pad`
 *     field that writers zero;
 *   - every struct's size is pinned by a _Static_assert below;
 *   - a layout change bumps SMQ_ABI_VERSION. */
#ifndef SIPMASQ_ABI_H
#define SIPMASQ_ABI_H

/* BPF objects built against vmlinux.h already have the __uNN types, and
 * <linux/types.h> would redefine them. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Version of the layouts below; the daemon refuses BPF objects built with
 * another one. */
#define SMQ_ABI_VERSION 1

/* Traffic counters of one direction of a relayed flow. Written by the data
 * path, read (never reset) by the daemon. Host byte order. */
struct smq_counters {
	__u64 packets;        /* datagrams seen */
	__u64 bytes;          /* UDP payload bytes of those datagrams */
	__u64 last_seen_ns;   /* CLOCK_MONOTONIC ns of the last one (bpf_ktime_get_ns()), 0 = never */
};

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct smq_counters) == 24, "smq_counters layout changed");
_Static_assert(__builtin_offsetof(struct smq_counters, last_seen_ns) == 16,
	       "smq_counters layout changed");
#endif

#endif
