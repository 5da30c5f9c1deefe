/* afpgen: RTP load generator for the relay benchmarks on AF_PACKET sockets,
 * for machines whose kernel refuses xdpgen's BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES. Same command line, frames, pacing and result
 * line as `xdpgen send`, so xdpgen's sinks and the harness's loss and delay
 * arithmetic do not change:
 *
 *   afpgen send RATE_PPS SECONDS BURST IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS
 *               [NETNS IFNAME DST_MAC SRC_IP:PORT DST_IP PORTS]
 *
 * One raw AF_PACKET socket per direction, bound to its IFNAME (the second
 * one opened inside NETNS), with PACKET_QDISC_BYPASS: frames go straight
 * to the driver's transmit, as XDP_TX does, without a qdisc. The frames of
 * a burst (BURST when paced, AFP_BATCH unpaced) are stamped (xg_stamp: port,
 * RTP sequence number and timestamp, payload with the per-stream sequence
 * number and the CLOCK_MONOTONIC send time) and leave in one sendmmsg per
 * direction; pacing is xdpgen's (xg_pace_due), spinning on the clock, so
 * the sender takes one CPU whatever the rate (pin it: taskset). TSO is
 * switched off on the IFNAMEs: a veth hands a socket's frames to its peer's
 * NAPI (threaded on the gateway, as with XDP_TX) only when its own TSO is
 * off; otherwise they go through the sender CPU's backlog
 * (veth_skb_is_eligible_for_gro), and the gateway's work would be done, and
 * counted, on the generator's CPU. (The kernel switches it off itself while
 * the peer has an XDP program.)
 *
 * A frame the veth drops because the gateway's ring is full counts as sent
 * (ENOBUFS): it was offered, and its loss is the gateway's, as with XDP_TX.
 * Prints {"sent": N, "seconds": S, "rate": R, "streams": N}.
 * Exit status 0, 1 on a system error, 2 on bad arguments, 3
 * (XG_EXIT_REFUSED) when the kernel refuses the socket, PACKET_QDISC_BYPASS
 * or the sends (EPERM, EACCES, EAFNOSUPPORT, ENOPROTOOPT), named on stderr. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xgsend.h"

/* Frames per sendmmsg when unpaced (the ceiling run). */
#define AFP_BATCH 64
#define AFP_SNDBUF (8 << 20)

/* A direction's socket and the frames of its current batch. */
struct afp_out {
	int fd;
	struct sockaddr_ll to;
	unsigned n;   /* frames waiting in frame[] */
	uint8_t frame[AFP_BATCH][XG_FRAME_LEN];
	struct mmsghdr msg[AFP_BATCH];
	struct iovec iov[AFP_BATCH];
};

static int refused(int err)
{
	return err == EPERM || err == EACCES || err == EAFNOSUPPORT || err == ENOPROTOOPT ||
	       err == EOPNOTSUPP;
}

/* Opens d's socket inside its namespace. 0, XG_EXIT_REFUSED or 1 (printed). */
static int afp_open(const struct xg_dir *d, struct afp_out *o)
{
	int one = 1, sndbuf = AFP_SNDBUF, prev, rc = 1;
	const char *what = "socket(AF_PACKET, SOCK_RAW)";

	prev = xg_netns_enter("afpgen", d->netns);
	if (prev == -1)
		return 1;
	memset(&o->to, 0, sizeof(o->to));
	o->to.sll_family = AF_PACKET;
	o->to.sll_protocol = htons(ETH_P_IP);
	o->to.sll_ifindex = (int)d->ifindex;
	o->to.sll_halen = ETH_ALEN;
	memcpy(o->to.sll_addr, d->frame, ETH_ALEN);
	/* Protocol 0: the socket receives nothing, it only sends. */
	o->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (o->fd >= 0) {
		what = "setsockopt(PACKET_QDISC_BYPASS)";
		if (!setsockopt(o->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
			rc = 0;
	}
	if (!rc) {
		/* Frames are charged to the socket until the far end frees them. */
		if (setsockopt(o->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
			setsockopt(o->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		/* Already off (and fixed) while the peer has an XDP program. */
		if (xg_ethtool_get(d->ifname, ETHTOOL_GTSO) != 0 &&
		    xg_ethtool_set("afpgen", d->ifname, ETHTOOL_STSO, 0))
			rc = 1;
	} else {
		fprintf(stderr, "afpgen: %s: %s\n", what, strerror(errno));
		rc = refused(errno) ? XG_EXIT_REFUSED : 1;
	}
	xg_netns_leave("afpgen", prev);
	for (unsigned i = 0; i < AFP_BATCH; i++) {
		memcpy(o->frame[i], d->frame, XG_FRAME_LEN);
		o->iov[i] = (struct iovec){ .iov_base = o->frame[i], .iov_len = XG_FRAME_LEN };
		o->msg[i].msg_hdr = (struct msghdr){ .msg_name = &o->to, .msg_namelen = sizeof(o->to),
						     .msg_iov = &o->iov[i], .msg_iovlen = 1 };
	}
	o->n = 0;
	return rc;
}

/* Sends the batch of o. Returns the frames sent, or -errno when the kernel
 * took none because of something other than a full ring. */
static int afp_flush(struct afp_out *o)
{
	unsigned off = 0;

	while (off < o->n) {
		int r = sendmmsg(o->fd, o->msg + off, o->n - off, MSG_DONTWAIT);

		if (r > 0) {
			off += (unsigned)r;
		} else if (errno == ENOBUFS) {
			off++;   /* dropped by the veth: the gateway's ring is full */
		} else if (errno != EINTR && errno != EAGAIN) {   /* EAGAIN: send buffer full */
			o->n = 0;
			return -errno;
		}
	}
	o->n = 0;
	return (int)off;
}

static int do_send(int argc, char **argv)
{
	static struct afp_out out[2];
	struct xg_send_args a;
	struct xg_pace pace;
	uint64_t sent = 0, next = 0, start, end, late;
	uint32_t nstreams, nstreams0;
	int rc;

	out[0].fd = out[1].fd = -1;
	if ((rc = xg_send_args_parse("afpgen", argc, argv, &a)))
		goto out;
	for (int i = 0; i < a.ndir; i++)
		if ((rc = afp_open(&a.dir[i], &out[i])))
			goto out;
	nstreams0 = (uint32_t)a.dir[0].nports;
	nstreams = nstreams0 + (a.ndir == 2 ? (uint32_t)a.dir[1].nports : 0);
	pace = (struct xg_pace){ .rate_pps = (uint64_t)a.rate_pps, .burst = a.burst,
				 .jitter_ns = a.jitter_ns };
	late = xg_wait_start(&a);
	start = a.start_ns;
	pace.start_ns = start;
	end = start + (uint64_t)(a.seconds * 1e9);
	for (uint64_t now = xg_now_ns(); now < end; now = xg_now_ns()) {
		/* Streams are numbered over both directions, as in xdpgen.bpf.c:
		 * the first direction's, then the second's (one port table). */
		uint32_t stream = (uint32_t)(next % nstreams);
		struct afp_out *o = &out[stream < nstreams0 ? 0 : 1];

		if (!xg_pace_due(&pace, next, now))
			continue;
		if (next == a.drop_at) {   /* injected loss: counted as sent */
			next++;
			sent++;
			continue;
		}
		xg_stamp((struct xg_frame *)o->frame[o->n], a.dir[0].port[stream], stream,
			 (uint32_t)(next / nstreams), now);
		o->n++;
		if (next == a.dup_at && o->n < AFP_BATCH) {   /* injected duplicate */
			memcpy(o->frame[o->n], o->frame[o->n - 1], XG_FRAME_LEN);
			o->n++;
			sent--;   /* the copy is not a frame sent */
		}
		next++;
		/* Paced: a burst leaves at once when its last frame is stamped
		 * (both directions' parts). Phones: the frames due by now leave
		 * together (one sendmmsg), the next one when it is due.
		 * Unpaced: a batch at a time. */
		if (out[0].n < AFP_BATCH && out[1].n < AFP_BATCH &&
		    (pace.jitter_ns ? xg_pace_next_due(&pace, next) <= now
		     : pace.rate_pps ? pace.burst_left > 0 : 1))
			continue;
		for (int i = 0; i < a.ndir; i++) {
			int r = afp_flush(&out[i]);

			if (r < 0) {
				fprintf(stderr, "afpgen: sendmmsg on %s: %s\n", a.dir[i].ifname,
					strerror(-r));
				rc = refused(-r) ? XG_EXIT_REFUSED : 1;
				goto out;
			}
			sent += (uint64_t)r;
		}
	}
	for (int i = 0; i < a.ndir; i++) {
		int r = afp_flush(&out[i]);

		sent += r > 0 ? (uint64_t)r : 0;
	}
	xg_print_sent(sent, start, nstreams, late);
	rc = 0;
out:
	for (int i = 0; i < 2; i++)
		if (out[i].fd >= 0)
			close(out[i].fd);
	xg_send_args_free(&a);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 2;

	if (argc > 1 && !strcmp(argv[1], "send"))
		rc = do_send(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: afpgen " XG_SEND_USAGE);
	return rc;
}
