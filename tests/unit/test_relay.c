/* Unit test of the userspace RTP relay (kmod-free-fallback/relay_user.c),
 * over loopback only: a "phone" on the private side and a "provider" on the
 * public side are plain UDP sockets of this process; the relay runs in the
 * real event loop, pumped a bounded number of times. */
#include "autoconfig.h"   /* autoconf; <> so that daemon/config/config.h is never picked */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/base/addr.h"
#include "daemon/base/evloop.h"
#include "daemon/base/log.h"
#include "kmod-free-fallback/media.h"
#include "kmod-free-fallback/latch.h"
#include "kmod-free-fallback/media_dest.h"
#include "tests/unit/unit.h"

#define RANGE_LOW  41000
#define RANGE_HIGH 41019   /* 10 pairs */

static struct sockaddr_in lo_ep(uint16_t port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	return a;
}

/* A blocking UDP socket on ip:port (host order, port 0 = any); -1 on failure. */
static int udp_sock_at(uint32_t ip, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = lo_ep(port);

	a.sin_addr.s_addr = htonl(ip);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A blocking UDP socket on 127.0.0.1:port (0 = any port); -1 on failure. */
static int udp_sock(uint16_t port)
{
	return udp_sock_at(INADDR_LOOPBACK, port);
}

static uint16_t sock_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	getsockname(fd, (struct sockaddr *)&a, &len);
	return ntohs(a.sin_port);
}

/* An RTP/RTCP socket pair (even, even+1) outside the relay range. */
static bool udp_pair(int fd[2])
{
	for (uint16_t p = 42000; p < 43000; p += 2) {
		fd[0] = udp_sock(p);
		if (fd[0] < 0)
			continue;
		fd[1] = udp_sock((uint16_t)(p + 1));
		if (fd[1] >= 0)
			return true;
		close(fd[0]);
	}
	return false;
}

/* Send len bytes of `fill` from fd to 127.0.0.1:port. */
static void send_to(int fd, uint16_t port, unsigned char fill, size_t len)
{
	static unsigned char buf[4096];
	struct sockaddr_in a = lo_ep(port);

	memset(buf, fill, len);
	CHECK_INT(sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a)), (long long)len);
}

/* Run the loop until it is idle (bounded). Loopback delivery is synchronous,
 * so what was sent before the call is queued by then. */
static void pump(void)
{
	for (int i = 0; i < 100; i++)
		if (evloop_run_once(20) <= 0)
			break;
}

/* Receive one datagram on fd, waiting at most 200 ms. Returns its length
 * (checking its fill byte) or -1; *src_port gets the sender's port. */
static int recv_one(int fd, unsigned char fill, uint16_t *src_port)
{
	unsigned char buf[4096];
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, 200) != 1)
		return -1;
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&a, &alen);
	if (n < 0)
		return -1;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] != fill) {
			CHECK(!"payload mismatch");
			break;
		}
	if (src_port)
		*src_port = ntohs(a.sin_port);
	return (int)n;
}

/* True if fd has nothing queued. */
static bool quiet(int fd)
{
	unsigned char buf[16];

	return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static uint16_t lport(const struct media_stream *s, int side)
{
	return ntohs(s->leg[side].local.sin_port);
}

static void test_forwarding(void)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct media_stream *s;
	int phone[2], prov[2];
	int phone_nat = udp_sock(0), attacker = udp_sock(0);
	uint16_t src;

	if (!CHECK(udp_pair(phone) && udp_pair(prov) && phone_nat >= 0 && attacker >= 0))
		return;
	if (!CHECK_INT(media_stream_open(lo, lo, &s), 0))
		return;
	CHECK_INT(media_ports_free(), 8);
	for (int side = 0; side < 2; side++) {
		CHECK(lport(s, side) >= RANGE_LOW && lport(s, side) <= RANGE_HIGH - 1);
		CHECK(lport(s, side) % 2 == 0);
		CHECK(s->leg[side].local.sin_addr.s_addr == lo.s_addr);
		CHECK(!s->leg[side].latched && s->leg[side].last_rx_ms == 0);
	}
	CHECK(lport(s, 0) != lport(s, 1));

	struct sockaddr_in sdp_phone = lo_ep(sock_port(phone[0]));
	struct sockaddr_in sdp_prov = lo_ep(sock_port(prov[0]));
	media_stream_set_peer(s, MEDIA_PRIVATE, &sdp_phone, lo);
	media_stream_set_peer(s, MEDIA_PUBLIC, &sdp_prov, lo);
	CHECK_INT(ntohs(s->leg[MEDIA_PRIVATE].peer_rtcp.sin_port), sock_port(phone[1]));

	/* Provider -> phone: sent to the phone's SDP address from the private
	 * relay port; the public side latches the provider. */
	send_to(prov[0], lport(s, 1), 0xa1, 160);
	pump();
	CHECK_INT(recv_one(phone[0], 0xa1, &src), 160);
	CHECK_INT(src, lport(s, 0));
	CHECK(s->leg[1].latched);
	CHECK_INT(ntohs(s->leg[1].peer.sin_port), sock_port(prov[0]));

	/* Phone behind NAT sends from another port than its SDP one: latched,
	 * forwarded to the provider from the public relay port... */
	send_to(phone_nat, lport(s, 0), 0xb2, 172);
	pump();
	CHECK_INT(recv_one(prov[0], 0xb2, &src), 172);
	CHECK_INT(src, lport(s, 1));
	CHECK(s->leg[0].latched);
	CHECK_INT(ntohs(s->leg[0].peer.sin_port), sock_port(phone_nat));
	/* ...and the provider's next packet goes there, not to the SDP port. */
	send_to(prov[0], lport(s, 1), 0xa3, 160);
	pump();
	CHECK_INT(recv_one(phone_nat, 0xa3, NULL), 160);
	CHECK(quiet(phone[0]));

	/* Strict source: a third party is dropped on either side. */
	uint64_t drops0 = s->leg[0].drops, drops1 = s->leg[1].drops;
	send_to(attacker, lport(s, 0), 0xee, 100);
	send_to(attacker, lport(s, 1), 0xee, 100);
	pump();
	CHECK(quiet(prov[0]) && quiet(phone_nat) && quiet(phone[0]));
	CHECK_INT(s->leg[0].drops, drops0 + 1);
	CHECK_INT(s->leg[1].drops, drops1 + 1);

	/* RTCP on port+1, to the SDP port+1, then latched back. */
	send_to(prov[1], lport(s, 1) + 1, 0xc1, 80);
	pump();
	CHECK_INT(recv_one(phone[1], 0xc1, &src), 80);
	CHECK_INT(src, lport(s, 0) + 1);
	CHECK(s->leg[1].rtcp_latched);
	send_to(phone[1], lport(s, 0) + 1, 0xc2, 84);
	pump();
	CHECK_INT(recv_one(prov[1], 0xc2, &src), 84);
	CHECK_INT(src, lport(s, 1) + 1);
	CHECK(quiet(prov[0]));

	/* Counters: private rx = phone_nat RTP + attacker + phone RTCP. */
	CHECK_INT(s->leg[0].rx_packets, 3);
	CHECK_INT(s->leg[0].rx_bytes, 172 + 100 + 84);
	CHECK_INT(s->leg[0].fwd_packets, 2);
	CHECK_INT(s->leg[0].fwd_bytes, 172 + 84);
	CHECK_INT(s->leg[0].drops, 1);
	CHECK_INT(s->leg[1].rx_packets, 4);
	CHECK_INT(s->leg[1].fwd_packets, 3);
	CHECK_INT(s->leg[1].fwd_bytes, 160 + 160 + 80);
	CHECK(s->leg[0].last_rx_ms >= s->opened_ms && s->leg[1].last_rx_ms != 0);

	/* Oversized datagrams (> 2048) are truncated on receipt: dropped. */
	send_to(prov[0], lport(s, 1), 0xdd, 3000);
	pump();
	CHECK(quiet(phone_nat));
	CHECK_INT(s->leg[1].drops, drops1 + 2);

	/* A burst larger than one batch arrives whole and in order. */
	for (int i = 0; i < 100; i++)
		send_to(prov[0], lport(s, 1), 0xa4, 200);
	pump();
	int got = 0;
	while (recv_one(phone_nat, 0xa4, NULL) == 200)
		got++;
	CHECK_INT(got, 100);

	/* Same SDP again (refresh) keeps the latch; a new one resets it. */
	media_stream_set_peer(s, MEDIA_PRIVATE, &sdp_phone, lo);
	CHECK(s->leg[0].latched && s->leg[0].rtcp_latched);
	CHECK_INT(ntohs(s->leg[0].peer.sin_port), sock_port(phone_nat));
	struct sockaddr_in sdp_new = lo_ep(sock_port(attacker));
	media_stream_set_peer(s, MEDIA_PRIVATE, &sdp_new, lo);
	CHECK(!s->leg[0].latched);
	CHECK_INT(ntohs(s->leg[0].peer.sin_port), sock_port(attacker));
	send_to(prov[0], lport(s, 1), 0xa5, 50);
	pump();
	CHECK_INT(recv_one(attacker, 0xa5, NULL), 50);
	/* The new party is then latched like the first. */
	send_to(attacker, lport(s, 0), 0xb5, 60);
	pump();
	CHECK_INT(recv_one(prov[0], 0xb5, NULL), 60);
	CHECK(s->leg[0].latched);

	/* An SDP pointing at the relay itself must not create a loop. */
	struct sockaddr_in self = s->leg[1].local;
	media_stream_set_peer(s, MEDIA_PRIVATE, &self, lo);
	CHECK_INT(s->leg[0].peer.sin_port, 0);

	media_stream_close(s);
	CHECK_INT(media_ports_free(), 10);
	close(phone[0]); close(phone[1]);
	close(prov[0]); close(prov[1]);
	close(phone_nat); close(attacker);
}

/* An RTP datagram of len bytes (>= 12) with the given SSRC, sent from fd to
 * 127.0.0.1:port. */
static void send_rtp(int fd, uint16_t port, uint32_t ssrc, size_t len)
{
	unsigned char buf[512] = { 0x80, 0 };
	struct sockaddr_in a = lo_ep(port);
	uint32_t n = htonl(ssrc);

	memcpy(buf + 8, &n, 4);
	CHECK_INT(sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a)), (long long)len);
}

/* Length of one datagram queued on fd within 200 ms, or -1. */
static int recv_len(int fd)
{
	unsigned char buf[4096];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, 200) != 1)
		return -1;
	return (int)recv(fd, buf, sizeof(buf), 0);
}

/* A side without SDP yet latches nobody: what it gets is foreign. (An
 * INVITE opens the stream and announces the answerer's relay port before
 * the answerer has said anything: the first prey of RTP Bleed.) */
static void test_no_peer(void)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct media_stream *s;
	int prov = udp_sock(0);

	if (!CHECK_INT(media_stream_open(lo, lo, &s), 0))
		return;
	for (int i = 0; i < LATCH_SSRC_PACKETS; i++)
		send_rtp(prov, lport(s, 1), 0x1234, 40);
	send_to(prov, lport(s, 1) + 1, 0x12, 40);
	pump();
	CHECK_INT(s->leg[1].rx_packets, LATCH_SSRC_PACKETS + 1);
	CHECK_INT(s->leg[1].drops, LATCH_SSRC_PACKETS + 1);
	CHECK_INT(s->leg[1].foreign, LATCH_SSRC_PACKETS + 1);
	CHECK_INT(s->leg[1].fwd_packets, 0);
	CHECK(!s->leg[1].latched && !s->leg[1].rtcp_latched);
	media_stream_close(s);
	media_stream_close(NULL);
	close(prov);
}

/* Strict mode (SDP address = signalling source): before and after
 * latching, a third host never gets through and is counted as foreign. */
static void test_strict_latch(void)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct media_stream *s;
	int phone = udp_sock(0), prov = udp_sock(0);
	int attacker = udp_sock_at(INADDR_LOOPBACK + 1, 0);   /* 127.0.0.2 */
	uint64_t foreign0 = media_foreign_drops();

	if (!CHECK(phone >= 0 && prov >= 0 && attacker >= 0) ||
	    !CHECK_INT(media_stream_open(lo, lo, &s), 0))
		return;
	struct sockaddr_in sdp_phone = lo_ep(sock_port(phone));
	struct sockaddr_in sdp_prov = lo_ep(sock_port(prov));
	media_stream_set_peer(s, MEDIA_PRIVATE, &sdp_phone, lo);
	media_stream_set_peer(s, MEDIA_PUBLIC, &sdp_prov, lo);
	/* Spray before latching, on both sides and both ports. */
	for (int side = 0; side < 2; side++) {
		send_rtp(attacker, lport(s, side), 0xbad, 50);
		send_rtp(attacker, lport(s, side) + 1, 0xbad, 50);
	}
	pump();
	CHECK(quiet(phone) && quiet(prov));
	CHECK(!s->leg[0].latched && !s->leg[1].latched);
	CHECK(!s->leg[0].rtcp_latched && !s->leg[1].rtcp_latched);
	CHECK_INT(s->leg[0].foreign, 2);
	CHECK_INT(s->leg[1].foreign, 2);
	/* Foreign packets are no sign of life (rtp_timeout). */
	CHECK(s->leg[0].last_rx_ms == 0 && s->leg[1].last_rx_ms == 0);
	/* The phone latches at its first packet (no SSRC wait in strict mode). */
	send_rtp(phone, lport(s, 0), 1, 60);
	pump();
	CHECK_INT(recv_len(prov), 60);
	CHECK(s->leg[0].latched);
	/* After latching: still nothing through, more foreign drops. */
	send_rtp(attacker, lport(s, 0), 1, 50);
	pump();
	CHECK(quiet(prov));
	CHECK_INT(s->leg[0].foreign, 3);
	CHECK_INT(media_foreign_drops(), foreign0 + 5);
	media_stream_close(s);
	close(phone); close(prov); close(attacker);
}

/* NAT mode (SDP address differs from the signalling source) and the party
 * sends from neither: a stranger with a consistent SSRC latches, but only
 * after the grace period and when it is the only proven one; a sprayer
 * changing its SSRC does not count. */
static void test_nat_latch(void)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct media_stream *s;
	int phone = udp_sock(0), prov = udp_sock(0);
	int attacker = udp_sock_at(INADDR_LOOPBACK + 1, 0);

	if (!CHECK(phone >= 0 && prov >= 0 && attacker >= 0) ||
	    !CHECK_INT(media_stream_open(lo, lo, &s), 0))
		return;
	struct sockaddr_in sdp_phone = lo_ep(4000);
	sdp_phone.sin_addr.s_addr = htonl(0x0a000009);   /* 10.0.0.9, via a NAT */
	struct sockaddr_in sdp_prov = lo_ep(sock_port(prov));
	/* SIP came from 192.0.2.1: media from elsewhere (another NAT pool). */
	media_stream_set_peer(s, MEDIA_PRIVATE, &sdp_phone, (struct in_addr){ htonl(0xc0000201) });
	media_stream_set_peer(s, MEDIA_PUBLIC, &sdp_prov, lo);
	/* Proven before the grace period ends: waits. */
	for (int i = 0; i < LATCH_SSRC_PACKETS; i++)
		send_rtp(phone, lport(s, 0), 7, 60);
	pump();
	CHECK(!s->leg[0].latched && quiet(prov));
	usleep((LATCH_GRACE_MS + 100) * 1000);
	for (uint32_t i = 0; i < 2 * LATCH_SSRC_PACKETS; i++)
		send_rtp(attacker, lport(s, 0), 100 + i, 50);
	send_to(attacker, lport(s, 0), 0x00, 8);   /* not RTP */
	pump();
	CHECK(!s->leg[0].latched && quiet(prov));
	send_rtp(phone, lport(s, 0), 7, 60);
	pump();
	CHECK(s->leg[0].latched);
	CHECK_INT(ntohs(s->leg[0].peer.sin_port), sock_port(phone));
	CHECK_INT(recv_len(prov), 60);   /* the proving packet goes through */
	CHECK(quiet(prov));
	CHECK_INT(s->leg[0].foreign, 0);   /* unproven sources only wait */
	for (int i = 0; i < LATCH_SSRC_PACKETS; i++)
		send_rtp(attacker, lport(s, 0), 9, 50);
	/* RTCP latches only from the IP address RTP latched to. */
	send_to(attacker, lport(s, 0) + 1, 0x81, 40);
	pump();
	CHECK(quiet(prov) && !s->leg[0].rtcp_latched);
	CHECK_INT(s->leg[0].foreign, LATCH_SSRC_PACKETS + 1);
	media_stream_close(s);
	close(phone); close(prov); close(attacker);
}

/* The hijack of issue 13: the provider's media address differs from its
 * SIP address (NAT mode); a sprayer rotating 4 source ports with one SSRC,
 * plus 3-packet bursts, starts before the provider sends. The provider's
 * exact SDP address latches at its first packet, the sprayer never does,
 * and the phone's audio never reaches the sprayer. If a stranger did win
 * (the party silent past the grace period), the party's own address takes
 * the leg back inside the window. */
static void test_spray_hijack(void)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct media_stream *s;
	int phone = udp_sock(0), prov = udp_sock(0), spray[4];
	unsigned char buf[512];

	for (int i = 0; i < 4; i++)
		spray[i] = udp_sock_at(INADDR_LOOPBACK + 2, 0);   /* 127.0.0.3 */
	if (!CHECK(phone >= 0 && prov >= 0 && spray[3] >= 0) ||
	    !CHECK_INT(media_stream_open(lo, lo, &s), 0))
		return;
	struct sockaddr_in sdp_phone = lo_ep(sock_port(phone));
	struct sockaddr_in sdp_prov = lo_ep(sock_port(prov));
	media_stream_set_peer(s, MEDIA_PRIVATE, &sdp_phone, lo);
	/* The provider's SIP comes from 192.0.2.7, its media from 127.0.0.1. */
	media_stream_set_peer(s, MEDIA_PUBLIC, &sdp_prov, (struct in_addr){ htonl(0xc0000207) });
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 4; i++)
			send_rtp(spray[i], lport(s, 1), 0x5eed, 50);
		for (int i = 0; i < LATCH_SSRC_PACKETS; i++)
			send_rtp(spray[0], lport(s, 1), 0x5eed, 50);
		pump();
	}
	CHECK(!s->leg[1].latched);
	send_rtp(prov, lport(s, 1), 0x77, 60);
	pump();
	CHECK(s->leg[1].latched);
	CHECK_INT(ntohs(s->leg[1].peer.sin_port), sock_port(prov));
	CHECK_INT(recv_len(phone), 60);
	usleep((LATCH_GRACE_MS + 100) * 1000);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < LATCH_SSRC_PACKETS; k++)
			send_rtp(spray[i], lport(s, 1), 0x5eed, 50);
	send_rtp(phone, lport(s, 0), 1, 70);   /* the phone talks */
	pump();
	CHECK_INT(ntohs(s->leg[1].peer.sin_port), sock_port(prov));
	CHECK(quiet(phone));
	CHECK_INT(recv_len(prov), 70);
	for (int i = 0; i < 4; i++)
		CHECK(recv(spray[i], buf, sizeof(buf), MSG_DONTWAIT) < 0);

	/* A silent party: after the grace period the only proven stranger
	 * latches; the party's exact address then takes it back. */
	media_stream_close(s);
	if (!CHECK_INT(media_stream_open(lo, lo, &s), 0))
		return;
	sdp_phone = lo_ep(sock_port(phone));
	media_stream_set_peer(s, MEDIA_PRIVATE, &sdp_phone, lo);
	media_stream_set_peer(s, MEDIA_PUBLIC, &sdp_prov, (struct in_addr){ htonl(0xc0000207) });
	usleep((LATCH_GRACE_MS + 100) * 1000);
	for (int k = 0; k < LATCH_SSRC_PACKETS; k++)
		send_rtp(spray[1], lport(s, 1), 0x5eed, 50);
	pump();
	CHECK(s->leg[1].latched);
	CHECK_INT(ntohs(s->leg[1].peer.sin_port), sock_port(spray[1]));
	while (recv(phone, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	send_rtp(prov, lport(s, 1), 0x77, 60);
	pump();
	CHECK_INT(ntohs(s->leg[1].peer.sin_port), sock_port(prov));
	CHECK_INT(recv_len(phone), 60);
	send_rtp(phone, lport(s, 0), 1, 70);
	pump();
	CHECK_INT(recv_len(prov), 70);
	CHECK(recv(spray[1], buf, sizeof(buf), MSG_DONTWAIT) < 0);
	media_stream_close(s);
	close(phone); close(prov);
	for (int i = 0; i < 4; i++)
		close(spray[i]);
}

/* After the window a party that never sent is not latched any more; any
 * signalling of the call (here without new SDP) reopens it. */
static void test_window(void)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct media_stream *s;
	int phone = udp_sock(0), prov = udp_sock(0);

	media_set_latch_window(1);
	if (!CHECK(phone >= 0 && prov >= 0) || !CHECK_INT(media_stream_open(lo, lo, &s), 0))
		return;
	struct sockaddr_in sdp_phone = lo_ep(sock_port(phone));
	struct sockaddr_in sdp_prov = lo_ep(sock_port(prov));
	media_stream_set_peer(s, MEDIA_PRIVATE, &sdp_phone, lo);
	media_stream_set_peer(s, MEDIA_PUBLIC, &sdp_prov, lo);
	usleep(1100 * 1000);   /* the window is 1 s: no tight timing either way */
	send_rtp(phone, lport(s, 0), 1, 60);
	pump();
	CHECK(!s->leg[0].latched && quiet(prov));
	CHECK_INT(s->leg[0].foreign, 1);
	media_stream_signal(s);
	media_stream_signal(NULL);
	send_rtp(phone, lport(s, 0), 1, 60);
	pump();
	CHECK(s->leg[0].latched);
	CHECK_INT(recv_len(prov), 60);
	media_stream_close(s);
	media_set_latch_window(MEDIA_LATCH_WINDOW_DEFAULT_S);
	close(phone); close(prov);
}

/* The policy alone, on a fake clock: window, modes, tiers, candidates. */
static void test_latch_policy(void)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) }, none = { 0 };
	struct in_addr priv = { htonl(0xc0a80105) }, cgn = { htonl(0x64400001) };
	struct in_addr pub = { htonl(0xc6336402) };   /* 198.51.100.2 */
	struct sockaddr_in a = lo_ep(5000), b = lo_ep(5002);
	unsigned char rtp[12] = { 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct latch l;

	CHECK(!latch_behind_nat(MEDIA_PUBLIC, pub, pub));
	CHECK(latch_behind_nat(MEDIA_PUBLIC, pub, lo));
	CHECK(latch_behind_nat(MEDIA_PUBLIC, pub, none));
	CHECK(latch_behind_nat(MEDIA_PUBLIC, priv, priv));
	CHECK(latch_behind_nat(MEDIA_PUBLIC, cgn, cgn));
	CHECK(!latch_behind_nat(MEDIA_PRIVATE, priv, priv));
	CHECK(latch_behind_nat(MEDIA_PRIVATE, priv, lo));

	memset(&l, 0, sizeof(l));   /* window closed */
	CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 1), LATCH_REJECT);
	CHECK_INT(latch_rtcp(&l, NULL, &a, 1), LATCH_REJECT);
	latch_open(&l, 1000, 10000);   /* open, but no SDP */
	CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 1000), LATCH_REJECT);
	CHECK_INT(latch_rtcp(&l, NULL, &a, 1000), LATCH_REJECT);
	/* Strict: the SDP address, any port, at once; strangers never. */
	latch_set_sdp(&l, MEDIA_PRIVATE, &b, lo);
	CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 11000), LATCH_ACCEPT);
	CHECK_INT(l.tier, LATCH_TIER_SDP_IP);
	CHECK_INT(latch_rtp(&l, &b, rtp, sizeof(rtp), 11001), LATCH_REJECT);   /* closed */
	CHECK_INT(latch_rtp(&l, &b, rtp, sizeof(rtp), 11000), LATCH_ACCEPT);   /* better */
	CHECK_INT(l.tier, LATCH_TIER_EXACT);
	CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 11000), LATCH_REJECT);   /* worse */
	CHECK_INT(latch_rtcp(&l, NULL, &b, 11000), LATCH_ACCEPT);
	CHECK_INT(latch_rtcp(&l, &a, &b, 99999), LATCH_ACCEPT);   /* RTP proved it */
	struct sockaddr_in stranger = a;
	stranger.sin_addr = pub;
	latch_set_sdp(&l, MEDIA_PRIVATE, &b, lo);
	for (int i = 0; i < 5; i++)
		CHECK_INT(latch_rtp(&l, &stranger, rtp, sizeof(rtp), 9000), LATCH_REJECT);

	/* NAT (private SDP on the public side): strangers wait for the grace
	 * period and LATCH_SSRC_PACKETS of one SSRC. */
	struct sockaddr_in sdp_priv = addr_make(priv, 4000);
	latch_open(&l, 2000, 10000);
	latch_set_sdp(&l, MEDIA_PUBLIC, &sdp_priv, priv);
	CHECK_INT(l.tier, LATCH_TIER_NONE);
	CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 2000), LATCH_WAIT);
	CHECK_INT(latch_rtcp(&l, NULL, &a, 2000), LATCH_WAIT);
	rtp[11] = 2;   /* a changes SSRC: starts over */
	CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 2000), LATCH_WAIT);
	CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 2000), LATCH_WAIT);
	CHECK_INT(latch_rtp(&l, &a, rtp, 11, 2000), LATCH_WAIT);   /* too short */
	CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 2000), LATCH_WAIT);   /* proven, grace */
	CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 2000 + LATCH_GRACE_MS), LATCH_ACCEPT);
	CHECK_INT(l.tier, LATCH_TIER_STRANGER);
	CHECK_INT(latch_rtp(&l, &b, rtp, sizeof(rtp), 3500), LATCH_REJECT);   /* no swap */
	CHECK_INT(latch_rtp(&l, &sdp_priv, rtp, 4, 3500), LATCH_ACCEPT);      /* better */
	CHECK_INT(l.tier, LATCH_TIER_EXACT);
	latch_open(&l, 20000, 10000);
	CHECK_INT(latch_rtp(&l, &b, rtp, sizeof(rtp), 30001), LATCH_REJECT);

	/* Two proven strangers: ambiguous, nobody latches. */
	latch_set_sdp(&l, MEDIA_PUBLIC, &sdp_priv, priv);
	latch_open(&l, 40000, 10000);
	for (int i = 0; i < LATCH_SSRC_PACKETS; i++) {
		CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 40000), LATCH_WAIT);
		CHECK_INT(latch_rtp(&l, &b, rtp, sizeof(rtp), 40000), LATCH_WAIT);
	}
	CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 42000), LATCH_WAIT);
	CHECK_INT(latch_rtp(&l, &b, rtp, sizeof(rtp), 42000), LATCH_WAIT);
	/* Candidate cap: 2 more new sources are followed, the 5th is not. */
	for (uint16_t p = 6000; p < 6006; p += 2) {
		struct sockaddr_in c = lo_ep(p);
		CHECK_INT(latch_rtp(&l, &c, rtp, sizeof(rtp), 42000),
			  p < 6004 ? LATCH_WAIT : LATCH_REJECT);
	}
	/* A new signalling event forgets the strangers of the last window. */
	latch_open(&l, 50000, 10000);
	for (int i = 0; i < LATCH_SSRC_PACKETS; i++)
		CHECK_INT(latch_rtp(&l, &a, rtp, sizeof(rtp), 50000 + LATCH_GRACE_MS),
			  i + 1 < LATCH_SSRC_PACKETS ? LATCH_WAIT : LATCH_ACCEPT);

	/* NAT, but from the signalling source's address: at once, and only a
	 * better tier replaces it. */
	struct sockaddr_in nat = lo_ep(40000);
	latch_set_sdp(&l, MEDIA_PRIVATE, &sdp_priv, lo);
	latch_open(&l, 25000, 10000);
	nat.sin_addr = pub;
	CHECK_INT(latch_rtp(&l, &nat, rtp, sizeof(rtp), 25000), LATCH_WAIT);
	nat.sin_addr = lo;
	CHECK_INT(latch_rtp(&l, &nat, rtp, 4, 25000), LATCH_ACCEPT);
	CHECK_INT(l.tier, LATCH_TIER_SIGNAL_IP);
	nat.sin_addr = pub;
	for (int i = 0; i < LATCH_SSRC_PACKETS; i++)
		CHECK_INT(latch_rtp(&l, &nat, rtp, sizeof(rtp), 29000), LATCH_REJECT);

	/* Adopted after a restart: the saved peer's tier holds. */
	latch_set_sdp(&l, MEDIA_PUBLIC, &sdp_priv, none);
	latch_adopted(&l, &a);
	CHECK_INT(l.tier, LATCH_TIER_STRANGER);
	latch_open(&l, 60000, 10000);
	CHECK_INT(latch_rtp(&l, &b, rtp, sizeof(rtp), 62000), LATCH_REJECT);
	latch_unlatched(&l);
	CHECK_INT(l.tier, LATCH_TIER_NONE);
}

/* NAT mode (the provider's SIP source is not its SDP address): nothing is
 * sent to the announced address before a packet from it proves it (an SDP
 * cannot aim the phone's audio at a third host); once it has, both ways. */
static void test_nat_no_send(void)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct media_stream *s;
	int phone = udp_sock(0), prov = udp_sock(0);

	if (!CHECK(phone >= 0 && prov >= 0) || !CHECK_INT(media_stream_open(lo, lo, &s), 0))
		return;
	struct sockaddr_in sdp_phone = lo_ep(sock_port(phone));
	struct sockaddr_in sdp_prov = lo_ep(sock_port(prov));
	media_stream_set_peer(s, MEDIA_PRIVATE, &sdp_phone, lo);
	media_stream_set_peer(s, MEDIA_PUBLIC, &sdp_prov, (struct in_addr){ htonl(0xc0000207) });
	CHECK(media_leg_may_send(s, MEDIA_PRIVATE, false));
	CHECK(!media_leg_may_send(s, MEDIA_PUBLIC, false));
	send_rtp(phone, lport(s, 0), 1, 60);
	pump();
	CHECK(s->leg[0].latched);
	CHECK(quiet(prov));
	CHECK_INT(s->leg[0].drops, 1);
	send_rtp(prov, lport(s, 1), 2, 50);
	pump();
	CHECK_INT(recv_len(phone), 50);
	CHECK(media_leg_may_send(s, MEDIA_PUBLIC, false));
	CHECK(!media_leg_may_send(s, MEDIA_PUBLIC, true));   /* RTCP not proven */
	send_rtp(phone, lport(s, 0), 1, 60);
	pump();
	CHECK_INT(recv_len(prov), 60);
	media_stream_close(s);
	close(phone); close(prov);
}

/* Refused SDP destinations, on a made-up host: eth0 (ifindex 2) private
 * 10.0.0.1/24, eth1 (3) public 198.51.100.1/24. */
static void test_dest_verdict(void)
{
	struct media_ifaddr host[3];
	const int sides[2] = { 2, 3 }, one_if[2] = { 2, 2 };
	struct in_addr a;

	memset(host, 0, sizeof(host));
	inet_pton(AF_INET, "10.0.0.1", &host[0].addr);
	inet_pton(AF_INET, "255.255.255.0", &host[0].mask);
	host[0].ifindex = 2;
	inet_pton(AF_INET, "198.51.100.1", &host[1].addr);
	inet_pton(AF_INET, "255.255.255.0", &host[1].mask);
	host[1].ifindex = 3;
	inet_pton(AF_INET, "127.0.0.1", &host[2].addr);
	inet_pton(AF_INET, "255.0.0.0", &host[2].mask);
	host[2].ifindex = 1;
#define VERDICT(side, ip, ifs) \
	(inet_pton(AF_INET, ip, &a), media_dest_verdict(side, a, host, 3, ifs))
	CHECK(!VERDICT(MEDIA_PUBLIC, "203.0.113.7", sides));
	CHECK(!VERDICT(MEDIA_PUBLIC, "198.51.100.2", sides));
	CHECK(!VERDICT(MEDIA_PUBLIC, "192.168.1.5", sides));   /* NAT: latching decides */
	CHECK(!VERDICT(MEDIA_PRIVATE, "10.0.0.2", sides));
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "127.0.0.1", sides), "loopback");
	CHECK(!VERDICT(MEDIA_PRIVATE, "127.5.0.1", sides));   /* a PBX on the gateway */
	CHECK(!VERDICT(MEDIA_PRIVATE, "10.0.0.1", sides));
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "224.0.0.1", sides), "multicast");
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "239.255.255.250", sides), "multicast");
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "255.255.255.255", sides), "broadcast");
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "198.51.100.255", sides), "broadcast");
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "10.0.0.255", sides), "broadcast");
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "0.1.2.3", sides), "reserved");
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "240.0.0.1", sides), "reserved");
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "198.51.100.1", sides), "this gateway");
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "10.0.0.1", sides), "this gateway");
	CHECK(!VERDICT(MEDIA_PRIVATE, "198.51.100.1", sides));
	CHECK_STR(VERDICT(MEDIA_PUBLIC, "10.0.0.3", sides), "other side's network");
	CHECK_STR(VERDICT(MEDIA_PRIVATE, "198.51.100.9", sides), "other side's network");
	/* One interface for both sides (behind a NAT router): no "other side". */
	CHECK(!VERDICT(MEDIA_PUBLIC, "10.0.0.3", one_if));
	/* Interfaces unknown: only the address rules. */
	CHECK(!VERDICT(MEDIA_PUBLIC, "10.0.0.3", ((const int[2]){ 0, 0 })));
#undef VERDICT
}

/* Exhaustion, ports held by someone else, and release on close. */
static void test_exhaustion(void)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct media_stream *s[6];
	int busy[5];

	for (int i = 0; i < 5; i++)
		CHECK_INT(media_stream_open(lo, lo, &s[i]), 0);
	CHECK_INT(media_ports_free(), 0);
	CHECK_INT(media_stream_open(lo, lo, &s[5]), -ENOSPC);
	CHECK(s[5] == NULL);
	CHECK_INT(media_ports_free(), 0);
	media_stream_close(s[2]);
	CHECK_INT(media_ports_free(), 2);
	CHECK_INT(media_stream_open(lo, lo, &s[2]), 0);
	for (int i = 0; i < 5; i++)
		media_stream_close(s[i]);
	CHECK_INT(media_ports_free(), 10);

	/* Another program holds the RTP port of 5 of the 10 pairs: those are
	 * skipped, and the pool is not leaking them afterwards. */
	for (int i = 0; i < 5; i++)
		busy[i] = udp_sock((uint16_t)(RANGE_LOW + 4 * i));
	for (int i = 0; i < 2; i++) {
		CHECK_INT(media_stream_open(lo, lo, &s[i]), 0);
		for (int side = 0; side < 2; side++)
			CHECK((lport(s[i], side) - RANGE_LOW) % 4 == 2);
	}
	CHECK_INT(media_ports_free(), 6);
	/* One usable pair left: the private leg gets it, the public leg finds
	 * none, and the half-open stream gives it back. */
	CHECK_INT(media_stream_open(lo, lo, &s[2]), -ENOSPC);
	CHECK_INT(media_ports_free(), 6);
	media_stream_close(s[0]);
	CHECK_INT(media_ports_free(), 8);
	for (int i = 0; i < 5; i++)
		close(busy[i]);
	/* s[1] stays open: media_fini() must close it. */
}

int main(void)
{
	log_open(false, 0);
	log_debug_mask = 0;
	if (!CHECK_INT(evloop_init(), 0))
		return unit_summary();
	CHECK_INT(media_stream_open((struct in_addr){ 0 }, (struct in_addr){ 0 },
				    &(struct media_stream *){ NULL }), -EINVAL);
	CHECK_INT(media_init(7071, 7071), -EINVAL);
	CHECK_INT(media_init(RANGE_LOW, RANGE_HIGH), 0);
	CHECK_INT(media_ports_free(), 10);

	test_forwarding();
	test_no_peer();
	test_strict_latch();
	test_nat_latch();
	test_spray_hijack();
	test_nat_no_send();
	test_dest_verdict();
	test_latch_policy();
	test_window();
	test_exhaustion();

	media_fini();
	CHECK_INT(media_ports_free(), 0);
	CHECK_INT(media_init(RANGE_LOW, RANGE_HIGH), 0);   /* re-init after fini */
	CHECK_INT(media_ports_free(), 10);
	media_fini();
	evloop_fini();
	log_close();
	return unit_summary();
}
