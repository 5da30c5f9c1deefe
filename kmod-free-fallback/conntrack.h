/* Conntrack engine: in-kernel media forwarding by netfilter conntrack
 * entries with NAT, programmed over ctnetlink (libnetfilter_conntrack on
 * libmnl). Needs no kernel module of sipmasq's and no eBPF: only the
 * kernel's own nf_conntrack, nf_nat and nf_conntrack_netlink.
 *
 * One entry carries one relayed flow both ways. For parties A (private
 * side) and B (public side) with relay ports rA and rB on this gateway:
 *
 *   original tuple  A:pa -> gw:rA    DNAT to B:pb, SNAT to gw:rB
 *   reply tuple     B:pb -> gw:rB    (computed by the kernel from the NAT)
 *
 * A packet from A to gw:rA matches the entry in PREROUTING, is rewritten
 * to B:pb before routing (so it never reaches the relay's socket on rA),
 * forwarded, and leaves from gw:rB; B's packets come back the reverse
 * way. The kernel only does so when NAT is active in the network
 * namespace and the interfaces forward: ct_engine_check() proves it.
 *
 * Entries carry the conntrack mark given to ct_engine_open(): a restarted
 * daemon finds its entries by it, and nothing else of the table is ever
 * touched except the automatic entries that clash with a new one (the
 * relay's own flows on the same tuples).
 *
 * Addresses and ports are network byte order (sockaddr_in); counters and
 * timeouts host order. Functions return 0 or a negative errno. Not
 * thread-safe: one thread (the event loop) owns an engine. */
#ifndef SIPMASQ_CONNTRACK_H
#define SIPMASQ_CONNTRACK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One relayed UDP flow (RTP or RTCP of a stream), IPv4. */
struct ct_flow {
	struct sockaddr_in a;        /* party A: its latched source address:port */
	struct sockaddr_in relay_a;  /* the relay address:port A sends to */
	struct sockaddr_in b;        /* party B: its latched source address:port */
	struct sockaddr_in relay_b;  /* the relay address:port B sends to */
};

/* What the kernel counted on an entry (nf_conntrack_acct), host order.
 * [0]: A -> B (the original direction), [1]: B -> A (the reply). */
struct ct_counters {
	uint64_t packets[2], bytes[2];
	uint32_t timeout_s;          /* seconds left before the kernel expires it */
};

/* An open ctnetlink socket. Opaque. */
struct ct_engine;

/* ct_engine_open: open a ctnetlink socket for entries marked `mark` (not
 * 0). On failure why (why_len bytes) says why in a sentence. Returns 0,
 * -EOPNOTSUPP (built without libnetfilter_conntrack), -EPERM (no
 * CAP_NET_ADMIN) or another -errno. */
int ct_engine_open(uint32_t mark, struct ct_engine **out, char *why, size_t why_len);

/* ct_engine_close: close ce (NULL is fine). Entries stay in the kernel. */
void ct_engine_close(struct ct_engine *ce);

/* ct_engine_check: check what the kernel needs for the entries to forward
 * in this network namespace, logging one line per missing piece:
 *   - every interface of ifnames[0..n) forwards IPv4 (conf.IF.forwarding;
 *     a rewritten packet is routed, and dropped where forwarding is off);
 *   - conntrack tracks packets here (some rule uses it, e.g. a nat table);
 *   - NAT hooks are registered (a nat table or chain exists), shown by a
 *     probe on loopback: a datagram sent to a listening socket, with an
 *     entry of ours that rewrites it to another port, must reach the other
 *     port and not the listening socket;
 *   - accounting is on (net.netfilter.nf_conntrack_acct = 1): counters
 *     for the call log, sipmasqctl and rtp_timeout.
 * Returns 0 when all are there, or -ENOTSUP (the first missing piece's
 * summary in why). */
int ct_engine_check(struct ct_engine *ce, const char *const *ifnames, unsigned n,
		    char *why, size_t why_len);

/* ct_engine_put: make the kernel forward flow f: an entry of ours with
 * that original tuple and NAT already there is kept as it is (adopted
 * after a restart, counters go on: returns 1); otherwise the entries that
 * hold either of its tuples (the relay's own automatic ones) are deleted
 * and the entry is created, marked, with status ASSURED|SEEN_REPLY and
 * timeout_s to live before its first packet (each packet then renews it
 * for the kernel's nf_conntrack_udp_timeout_stream). Returns 0 (created),
 * 1 (adopted), -EADDRINUSE (the kernel could not give it these ports) or
 * -errno. */
int ct_engine_put(struct ct_engine *ce, const struct ct_flow *f, uint32_t timeout_s);

/* ct_engine_get: the counters of our entry for f. Returns 0, -ENOENT (no
 * such entry, or it is not ours) or -errno. */
int ct_engine_get(struct ct_engine *ce, const struct ct_flow *f, struct ct_counters *c);

/* ct_engine_del: delete our entry of f. Returns 0 or -ENOENT. */
int ct_engine_del(struct ct_engine *ce, const struct ct_flow *f);

/* Callback of ct_engine_foreach: one entry of ours (valid during the call
 * only). Return 0 to go on, anything else to stop with that value. */
typedef int (*ct_engine_cb)(const struct ct_flow *f, const struct ct_counters *c, void *arg);

/* ct_engine_foreach: call cb for every IPv4 UDP entry with our mark.
 * Returns 0, cb's non-zero value, or -errno. */
int ct_engine_foreach(struct ct_engine *ce, ct_engine_cb cb, void *arg);

/* ct_engine_purge: delete every entry with our mark for which keep (may be
 * NULL) returns false. Returns how many were deleted, or -errno. */
int ct_engine_purge(struct ct_engine *ce, bool (*keep)(const struct ct_flow *f, void *arg),
		    void *arg);

/* ct_engine_probe_nat: the loopback probe of ct_engine_check, on its own
 * (conntrack_probe.c). Returns 0 when an entry of ours rewrote the probe
 * past the listening socket, -ENOTSUP with why otherwise. */
int ct_engine_probe_nat(struct ct_engine *ce, char *why, size_t why_len);

#endif
