/* The user-space side shared by the benchmark's load generators (xdpgen,
 * afpgen): their common `send` command line, the template frame of each
 * direction, the destination port lists, network namespaces and the
 * result line. Frame layout, stamping and pacing: xdpgen.h. */
#ifndef XGSEND_H
#define XGSEND_H

#include <stdint.h>

#include "xdpgen.h"

/* One direction of the load: where its frames leave and what they carry. */
struct xg_dir {
	const char *netns;     /* path of its network namespace; NULL: the current one */
	const char *ifname;    /* the interface the frames leave, in netns */
	unsigned ifindex;      /* of ifname, in netns */
	uint8_t frame[XG_FRAME_LEN];   /* template: headers set, UDP destination port 0 */
	uint16_t *port;        /* destination ports, network byte order (owned) */
	int nports;            /* how many: the direction's streams */
};

/* `send RATE_PPS SECONDS BURST IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS
 * [NETNS IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS]`, parsed. */
struct xg_send_args {
	double rate_pps;   /* 0: unpaced */
	double seconds;
	unsigned burst;    /* 1..XG_LAG_MAX */
	int ndir;          /* 1 or 2 */
	struct xg_dir dir[2];
	/* From the environment (all optional, decimal):
	 * XG_START_NS: CLOCK_MONOTONIC ns at which the first frame is due (the
	 *   harness arms the sink's step from it); default: at once;
	 * XG_JITTER_NS: the phones shape: bursts of 1, frame i due up to this
	 *   much after its slot (xg_jitter); 0: none;
	 * XG_DROP, XG_DUP: frame number (over all streams, from 0) to count as
	 *   sent but not send, and to send twice (counted once): faults for the
	 *   harness's test of its loss accounting; default none. */
	uint64_t start_ns;
	uint64_t jitter_ns;
	uint64_t drop_at;
	uint64_t dup_at;
};

#define XG_SEND_USAGE \
	"send RATE_PPS SECONDS BURST IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS\n" \
	"                  [NETNS IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS]\n"

/* CLOCK_MONOTONIC in ns: the clock of the payload's send time, which the
 * sink's bpf_ktime_get_ns() reads too. */
uint64_t xg_now_ns(void);

/* Parses argv[2..] of `send` (argc counts argv[0] and "send") into a,
 * building each direction's template frame (its interface's MAC as
 * source) from inside the direction's namespace. PORTS is "P1,P2,..." or
 * "@FILE" with one port a line; both directions together name at most
 * XG_MAX_STREAMS. 0, 2 on bad arguments, 1 on a system error (printed,
 * prefixed with prog). */
int xg_send_args_parse(const char *prog, int argc, char **argv, struct xg_send_args *a);

/* Frees what xg_send_args_parse allocated (also after it failed). */
void xg_send_args_free(struct xg_send_args *a);

/* Enters the network namespace at path (NULL: stays). Returns a descriptor
 * of the previous one for xg_netns_leave, -1 on error (printed), -2 when it
 * stayed. */
int xg_netns_enter(const char *prog, const char *path);

/* Back to the namespace xg_netns_enter returned (>= 0; others: nothing). */
void xg_netns_leave(const char *prog, int prev);

/* Sets an ethtool feature of ifname (ETHTOOL_SGRO, ETHTOOL_STSO, ...) to
 * on (1) or off (0) in the current namespace. 0 or -errno (printed). */
int xg_ethtool_set(const char *prog, const char *ifname, uint32_t cmd, uint32_t on);

/* An ethtool feature of ifname (ETHTOOL_GTSO, ...) in the current
 * namespace: 1 on, 0 off, or -errno. */
int xg_ethtool_get(const char *ifname, uint32_t cmd);

/* Waits (sleeping, then spinning the last 2 ms) until a->start_ns if it is
 * in the future; sets it to now otherwise. Returns how late the start was,
 * ns (0: on time). */
uint64_t xg_wait_start(struct xg_send_args *a);

/* Prints the result line of a send, the harness reads it:
 * {"sent": N, "seconds": S, "rate": R, "streams": N, "start_ns": T0,
 *  "end_ns": T1, "late_start_ns": L}: sent counts every frame handed to
 * the kernel (an injected XG_DUP copy excepted, an injected XG_DROP
 * included); T0, T1 CLOCK_MONOTONIC ns of the first due frame and of the
 * end of sending. */
void xg_print_sent(uint64_t sent, uint64_t start_ns, unsigned streams, uint64_t late_ns);

#endif
