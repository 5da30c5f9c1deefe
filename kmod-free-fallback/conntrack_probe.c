/* What the conntrack engine needs from the kernel, checked at start; see
 * ct_engine_check() in conntrack.h.
 *
 * Found by experiment (tests/test_e2e_conntrack.py shows each one):
 *   - an entry forwards only while NAT hooks are registered in the network
 *     namespace, i.e. while some nat table or chain exists (iptables-nft
 *     creates the chains its rules use; one IPv4 nat chain at any hook
 *     registers the NAT hooks of all four), and only while conntrack
 *     tracks packets there at all (some rule uses conntrack: a
 *     MASQUERADE/SNAT/DNAT rule, a ct match). Otherwise packets to a relay
 *     port go to the relay's socket as if there were no entry;
 *   - the entry is created with NAT bindings (CTA_NAT_SRC/DST) and the
 *     inverted original as its reply tuple: the kernel computes the real
 *     reply tuple and sets the SRC_NAT/DST_NAT status bits that the NAT
 *     hooks rewrite by. Given the final reply tuple instead, the bindings
 *     change nothing, the bits stay off, and the entry matches but
 *     rewrites nothing;
 *   - a rewritten packet is routed: with forwarding off on its way in, it
 *     is dropped (neither the socket nor the far end sees it);
 *   - counters need net.netfilter.nf_conntrack_acct = 1 when the entry is
 *     created. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "kmod-free-fallback/conntrack_priv.h"

/* The first character of a /proc/sys file, or 0 when unreadable. */
static char sysctl_char(const char *path)
{
	char v = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (fread(&v, 1, 1, f) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* A UDP socket on 127.0.0.1, any port; *addr gets its address. */
static int lo_socket(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) < 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* Which of fds[0..1] receives within timeout_ms: 0, 1, or -1 (none). */
static int who_receives(const int fds[2], int timeout_ms)
{
	struct pollfd p[2] = { { .fd = fds[0], .events = POLLIN }, { .fd = fds[1], .events = POLLIN } };
	char buf[16];

	if (poll(p, 2, timeout_ms) <= 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (p[i].revents & POLLIN) {
			while (recv(fds[i], buf, sizeof(buf), 0) > 0)
				;
			return i;
		}
	}
	return -1;
}

int ct_engine_probe_nat(struct ct_engine *ce, char *why, size_t why_len)
{
	/* Four sockets on loopback. A sends to RELAY_A; the entry rewrites
	 * that to RELAY_B -> B. RELAY_B is bound only to keep its port ours: a
	 * SNAT to the packet's own source would change nothing, and the kernel
	 * would not mark the entry SRC_NAT. */
	enum { A, RELAY_A, B, RELAY_B, N };
	struct sockaddr_in sa[N];
	struct ct_flow f;
	int fd[N], rc = -ENOTSUP, tracked, got;

	for (int i = 0; i < N; i++)
		fd[i] = lo_socket(&sa[i]);
	for (int i = 0; i < N; i++) {
		if (fd[i] < 0) {
			snprintf(why, why_len, "cannot open probe sockets on 127.0.0.1 (%s)",
				 strerror(-fd[i]));
			goto out;
		}
	}
	/* 1. Does conntrack track packets here? A datagram on loopback
	 *    leaves an automatic entry only if it does. */
	ct_tuple_delete(ce, &sa[A], &sa[RELAY_A]);
	if (sendto(fd[A], "p", 1, 0, (struct sockaddr *)&sa[RELAY_A], sizeof(sa[0])) != 1) {
		snprintf(why, why_len, "cannot send the probe on 127.0.0.1 (%s)", strerror(errno));
		goto out;
	}
	tracked = ct_tuple_exists(ce, &sa[A], &sa[RELAY_A]);
	(void)who_receives((int[2]){ fd[RELAY_A], fd[B] }, 200);
	ct_tuple_delete(ce, &sa[A], &sa[RELAY_A]);
	if (tracked < 0) {
		snprintf(why, why_len, "ctnetlink does not answer (%s)", strerror(-tracked));
		goto out;
	}
	if (!tracked) {
		snprintf(why, why_len, "conntrack does not track packets in this network "
			 "namespace (no rule uses it: no nat table with a MASQUERADE, SNAT or "
			 "DNAT rule, no ct match)");
		goto out;
	}
	/* 2. Does an entry of ours win over the listening socket? */
	f = (struct ct_flow){ .a = sa[A], .relay_a = sa[RELAY_A], .b = sa[B],
			      .relay_b = sa[RELAY_B] };
	rc = ct_engine_put(ce, &f, 10);
	if (rc < 0) {
		snprintf(why, why_len, "cannot create a conntrack entry with NAT (%s)",
			 strerror(-rc));
		rc = -ENOTSUP;
		goto out;
	}
	rc = -ENOTSUP;
	if (sendto(fd[A], "p", 1, 0, (struct sockaddr *)&sa[RELAY_A], sizeof(sa[0])) != 1) {
		snprintf(why, why_len, "cannot send the probe on 127.0.0.1 (%s)", strerror(errno));
		goto out_del;
	}
	got = who_receives((int[2]){ fd[RELAY_A], fd[B] }, 500);
	if (got == 1)
		rc = 0;
	else
		snprintf(why, why_len, got == 0 ?
			 "netfilter NAT is not active in this network namespace (no nat table "
			 "or chain): a conntrack entry's rewrite is skipped and packets reach the "
			 "relay's socket" :
			 "a probe datagram rewritten by a conntrack entry was lost");
out_del:
	ct_engine_del(ce, &f);
out:
	for (int i = 0; i < N; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return rc;
}

int ct_engine_check(struct ct_engine *ce, const char *const *ifnames, unsigned n,
		    char *why, size_t why_len)
{
	char path[128], probe[256] = "";
	int missing = 0;
	char acct = sysctl_char("/proc/sys/net/netfilter/nf_conntrack_acct");

	why[0] = 0;
	for (unsigned i = 0; i < n; i++) {
		if (i && !strcmp(ifnames[i], ifnames[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", ifnames[i]);
		if (sysctl_char(path) != '0')
			continue;
		log_warn("conntrack engine: IPv4 forwarding is off on %s (net.ipv4.conf.%s."
			 "forwarding = 0): packets an entry rewrites would be dropped there; "
			 "set it (or net.ipv4.ip_forward) to 1", ifnames[i], ifnames[i]);
		if (!missing++)
			snprintf(why, why_len, "IPv4 forwarding is off on %s", ifnames[i]);
	}
	if (!acct) {
		log_warn("conntrack engine: the kernel has no connection tracking here "
			 "(net.netfilter.nf_conntrack_acct missing: nf_conntrack not loaded?)");
		if (!missing++)
			snprintf(why, why_len, "no nf_conntrack");
	} else if (acct == '0') {
		log_warn("conntrack engine: conntrack accounting is off "
			 "(net.netfilter.nf_conntrack_acct = 0): no packet counters for the "
			 "call log, sipmasqctl and rtp_timeout; set it to 1");
		if (!missing++)
			snprintf(why, why_len, "net.netfilter.nf_conntrack_acct = 0");
	}
	if (ct_engine_probe_nat(ce, probe, sizeof(probe)) != 0) {
		log_warn("conntrack engine: %s", probe);
		if (!missing++)
			snprintf(why, why_len, "%s", probe);
	}
	return missing ? -ENOTSUP : 0;
}
