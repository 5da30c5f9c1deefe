/* Internals of the kernel engine, shared by daemon/kernel/kernel_engine*.c only. */
#ifndef SIPMASQ_KERNEL_ENGINE_PRIV_H
#define SIPMASQ_KERNEL_ENGINE_PRIV_H

#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <bpf/libbpf.h>

#include "daemon/kernel/kernel_engine.h"

struct smq_fwd;   /* the skeleton, bpf/smq_fwd.skel.h */

/* Pin names under the pin directory, besides the maps (SMQ_MAP_*). */
#define KE_PIN_XDP_LINK "xdp_link_"   /* + ifname: the XDP bpf_link */
#define KE_PIN_TC_PROG  "tc_prog_"    /* + ifname: the program of our tc filter */

/* One interface this engine attached to. */
struct ke_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	enum kernel_engine_mode mode;   /* KE_MODE_NONE: free slot */
};

struct kernel_engine {
	char pin_dir[PATH_MAX - 32];    /* room left for "/" + a pin name */
	struct smq_fwd *skel;           /* NULL in maps_only mode */
	int streams_fd, stats_fd, tx_ports_fd;   /* borrowed from skel, or owned (maps_only) */
	int xdp_prog_fd;                /* native XDP program: borrowed from skel, -1 in maps_only mode */
	int xdp_generic_prog_fd;        /* generic XDP program: same */
	int tc_prog_fd;                 /* tc program: same */
	unsigned int ncpus;             /* possible CPUs: per-CPU value count */
	struct ke_iface ifaces[KERNEL_ENGINE_MAX_IFACES];
};

/* ke_why: format a reason into why (may be NULL) and log it at `prio`. */
void ke_why(char *why, size_t why_len, int prio, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ke_errno_text: a short operator-facing explanation of a kernel error in
 * the context of attaching or loading ("no CAP_BPF/CAP_NET_ADMIN", ...). */
const char *ke_errno_text(int err);

/* ke_libbpf_quiet: while on, libbpf's warnings (e.g. the kernel's
 * "Exclusivity flag on" for a clsact qdisc that exists) are logged at debug
 * level only: for calls whose failure is expected and handled. */
void ke_libbpf_quiet(bool quiet);

/* ke_pin_path: "<pin_dir>/<prefix><name>" into buf (PATH_MAX bytes).
 * Returns 0 or -ENAMETOOLONG. */
int ke_pin_path(const struct kernel_engine *ke, const char *prefix, const char *name,
		char *buf);

/* ke_libbpf_print: libbpf's print callback (libbpf_set_print): warnings
 * to the daemon's log (debug while ke_libbpf_quiet is on), verifier logs
 * shortened to their head and tail. Returns what vfprintf would. */
int ke_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap);

/* ke_verifier_last: the last meaningful line of the last verifier log
 * ("" when none since ke_verifier_reset). */
const char *ke_verifier_last(void);

/* ke_verifier_reset: forget the last verifier line (before a load). */
void ke_verifier_reset(void);

/* ke_detach_pinned_all: clean stop: detach and unpin every attachment
 * pinned in the pin directory. */
void ke_detach_pinned_all(struct kernel_engine *ke);

#endif
