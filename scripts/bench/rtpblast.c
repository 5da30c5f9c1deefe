/* rtpblast: RTP-shaped UDP load for the relay benchmarks.
 *
 *   rtpblast send SRC_IP:PORT DST_IP:PORT RATE_PPS SECONDS [SIZE]
 *   rtpblast recv BIND_IP:PORT SECONDS
 *
 * send: paced sendmmsg batches from one bound socket; each datagram is an
 * RTP header (V=2, PT 8, sequence, timestamp, SSRC) followed by the send time
 * (CLOCK_MONOTONIC ns) and padding to SIZE bytes (default 172: 12-byte header
 * + 160 bytes of G.711). Prints {"sent": N, "seconds": S, "rate": R}.
 * recv: recvmmsg until SECONDS passed with no traffic for 0.5 s after the
 * first packet, or SECONDS in all. Prints received count, sequence gaps
 * (lost), reordered, and one-way delay percentiles in microseconds (sender
 * and receiver share the host's monotonic clock: network namespaces do).
 * Exit status 0, or 1 on a socket error, 2 on bad arguments. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_SIZE 1400
#define LAT_SAMPLES (1u << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_ep(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int udp_socket(const struct sockaddr_in *bind_to)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 8 << 20;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	if (bind(fd, (const struct sockaddr *)bind_to, sizeof(*bind_to)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int do_send(int argc, char **argv)
{
	static unsigned char buf[BATCH][MAX_SIZE];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in src, dst;
	double rate, secs;
	size_t size = 172;
	uint64_t sent = 0, start, end;
	int fd;

	if (argc < 6 || parse_ep(argv[2], &src) || parse_ep(argv[3], &dst))
		return 2;
	rate = atof(argv[4]);
	secs = atof(argv[5]);
	if (argc > 6)
		size = (size_t)atoi(argv[6]);
	if (rate <= 0 || secs <= 0 || size < 24 || size > MAX_SIZE)
		return 2;
	fd = udp_socket(&src);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("rtpblast send");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		buf[i][0] = 0x80;
		buf[i][1] = 8;
		memcpy(&buf[i][8], "\x5a\x5a\x5a\x5a", 4);   /* SSRC */
	}
	start = now_ns();
	end = start + (uint64_t)(secs * 1e9);
	for (;;) {
		uint64_t t = now_ns();
		uint64_t due = (uint64_t)((double)(t - start) * rate / 1e9);
		unsigned n;

		if (t >= end)
			break;
		if (due <= sent) {
			/* Ahead of schedule: yield briefly, never busy-spin a core. */
			struct timespec ts = { 0, 20000 };
			nanosleep(&ts, NULL);
			continue;
		}
		n = due - sent > BATCH ? BATCH : (unsigned)(due - sent);
		for (unsigned i = 0; i < n; i++) {
			uint32_t seq = (uint32_t)(sent + i);
			uint16_t s16 = htons((uint16_t)seq);
			uint32_t ts32 = htonl(seq * 160u);

			memcpy(&buf[i][2], &s16, 2);
			memcpy(&buf[i][4], &ts32, 4);
			memcpy(&buf[i][12], &seq, 4);   /* full 32-bit sequence */
			memcpy(&buf[i][16], &t, 8);
		}
		int r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN)
				continue;
			perror("rtpblast sendmmsg");
			return 1;
		}
		sent += (unsigned)r;
	}
	double el = (double)(now_ns() - start) / 1e9;
	printf("{\"sent\": %llu, \"seconds\": %.3f, \"rate\": %.0f}\n",
	       (unsigned long long)sent, el, (double)sent / el);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int do_recv(int argc, char **argv)
{
	static unsigned char buf[BATCH][MAX_SIZE];
	static uint32_t lat_us[LAT_SAMPLES];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in bind_to;
	uint64_t received = 0, reordered = 0, nlat = 0, start, first = 0, last = 0;
	int64_t max_seq = -1;
	double secs;
	int fd;

	if (argc < 4 || parse_ep(argv[2], &bind_to))
		return 2;
	secs = atof(argv[3]);
	fd = udp_socket(&bind_to);
	if (fd < 0) {
		perror("rtpblast recv");
		return 1;
	}
	struct timeval tv = { 0, 100000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = MAX_SIZE;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	start = now_ns();
	for (;;) {
		uint64_t t = now_ns();

		if (t - start > (uint64_t)(secs * 1e9))
			break;
		if (first && t - last > 500000000u)
			break;   /* the sender has finished */
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		t = now_ns();
		if (!first)
			first = t;
		last = t;
		for (int i = 0; i < n; i++) {
			uint32_t seq;
			uint64_t sent_ns;

			if (msgs[i].msg_len < 24)
				continue;
			memcpy(&seq, &buf[i][12], 4);
			memcpy(&sent_ns, &buf[i][16], 8);
			received++;
			if ((int64_t)seq < max_seq)
				reordered++;
			else
				max_seq = seq;
			if (nlat < LAT_SAMPLES && t > sent_ns)
				lat_us[nlat++] = (uint32_t)((t - sent_ns) / 1000u);
		}
	}
	qsort(lat_us, nlat, sizeof(lat_us[0]), cmp_u32);
	uint64_t expected = max_seq < 0 ? 0 : (uint64_t)max_seq + 1;
	printf("{\"received\": %llu, \"expected\": %llu, \"lost\": %llu, \"reordered\": %llu, "
	       "\"p50_us\": %u, \"p99_us\": %u, \"p999_us\": %u, \"active_seconds\": %.3f}\n",
	       (unsigned long long)received, (unsigned long long)expected,
	       (unsigned long long)(expected > received ? expected - received : 0),
	       (unsigned long long)reordered,
	       nlat ? lat_us[nlat / 2] : 0, nlat ? lat_us[nlat * 99 / 100] : 0,
	       nlat ? lat_us[nlat * 999 / 1000] : 0,
	       first ? (double)(last - first) / 1e9 : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;

	if (argc > 1 && !strcmp(argv[1], "send"))
		rc = do_send(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "recv"))
		rc = do_recv(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: rtpblast send SRC_IP:PORT DST_IP:PORT RATE_PPS SECONDS [SIZE]\n"
			"       rtpblast recv BIND_IP:PORT SECONDS\n");
	return rc;
}
