/* Unit tests of the hostile-input checks (daemon/sip/sip_validate.c) and the
 * per-source token buckets (daemon/transport/sip_flood.c). */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "daemon/config/config.h"
#include "daemon/base/log.h"
#include "daemon/transport/sip_flood.h"
#include "daemon/sip/sip_msg.h"
#include "daemon/sip/sip_validate.h"
#include "tests/unit/unit.h"

#define HEADERS "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n" \
	"From: <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:b@192.0.2.2>\r\nCall-ID: c1\r\n"

static osip_message_t *parse(const char *text)
{
	osip_message_t *msg = NULL;

	CHECK_INT(sipmsg_parse(text, strlen(text), &msg), 0);
	return msg;
}

static void test_header_count(void)
{
	const char *m = "OPTIONS sip:b@192.0.2.2 SIP/2.0\r\n" HEADERS
			"Subject: folded\r\n  continuation\r\n\tmore\r\nCSeq: 1 OPTIONS\r\n\r\n"
			"X-Not-A-Header: body\r\n";

	CHECK_INT(sipval_header_count(m, strlen(m)), 6);
	CHECK_INT(sipval_header_count("INVITE x SIP/2.0\nA: 1\nB: 2", 27), 2);
	CHECK_INT(sipval_header_count("", 0), 0);
}

static void test_limits(void)
{
	struct sipmasq_config cfg;
	struct sipval_verdict v;
	char big[600];
	osip_message_t *msg = parse("OPTIONS sip:b@192.0.2.2 SIP/2.0\r\n" HEADERS
				    "Via: SIP/2.0/UDP 192.0.2.3;branch=z9hG4bK2\r\n"
				    "CSeq: 1 OPTIONS\r\n\r\n");

	config_defaults(&cfg);
	CHECK_INT(sipval_limits(&cfg, "x", 1, msg, &v), 0);
	cfg.sip_max_vias = 1;
	CHECK_INT(sipval_limits(&cfg, "x", 1, msg, &v), 513);
	CHECK_STR(v.limit, "sip_max_vias");
	CHECK_INT(v.value, 1);
	memset(big, 'x', sizeof(big));
	cfg.sip_max_message_size = 512;
	CHECK_INT(sipval_limits(&cfg, big, sizeof(big), msg, &v), 513);
	CHECK_STR(v.limit, "sip_max_message_size");
	osip_message_free(msg);
}

static void test_request_checks(void)
{
	struct sipval_verdict v;
	osip_message_t *msg;

	msg = parse("OPTIONS sip:b@192.0.2.2 SIP/2.0\r\n" HEADERS
		    "Proxy-Require: foo, bar\r\nproxy-require: baz\r\nCSeq: 1 OPTIONS\r\n\r\n");
	CHECK_INT(sipval_request(msg, &v), 420);
	CHECK_STR(v.unsupported, "foo, bar, baz");
	osip_message_free(msg);

	for (int i = 0; i < 5; i++) {
		static const char *const cl[] = { "-999", "abc", "99999999999999999999", "65536",
						   "0000000000000000000000012" };
		char text[512];

		snprintf(text, sizeof(text), "OPTIONS sip:b@192.0.2.2 SIP/2.0\r\n" HEADERS
			 "CSeq: 1 OPTIONS\r\nContent-Length: %s\r\n\r\n%s", cl[i],
			 i == 4 ? "twelve bytes" : "");
		msg = parse(text);
		CHECK_INT(sipval_request(msg, &v), i == 4 ? 0 : 400);
		CHECK(sipval_content_length_ok(msg) == (i == 4));
		osip_message_free(msg);
	}

	msg = parse("OPTIONS sips:b@192.0.2.2 SIP/2.0\r\n" HEADERS "CSeq: 1 OPTIONS\r\n\r\n");
	CHECK_INT(sipval_request(msg, &v), 416);
	osip_message_free(msg);

	msg = parse("NEWMETHOD sip:192.0.2.2 SIP/2.0\r\n" HEADERS "CSeq: 1 NEWMETHOD\r\n\r\n");
	CHECK_INT(sipval_request(msg, &v), 0);
	CHECK_INT(sipval_local_status(msg), 501);
	osip_message_free(msg);
	msg = parse("INVITE sip:192.0.2.2 SIP/2.0\r\n" HEADERS "CSeq: 1 INVITE\r\n\r\n");
	CHECK_INT(sipval_local_status(msg), 404);
	osip_message_free(msg);
}

static void test_foreign_scheme(void)
{
	const char *m = "OPTIONS soap.beep://192.0.2.100:3002 SIP/2.0\r\n" HEADERS
			"CSeq: 1 OPTIONS\r\n\r\n";
	const char *sip = "OPTIONS sip:b@192.0.2.2 SIP/2.0\r\n" HEADERS "CSeq: 1 OPTIONS\r\n\r\n";
	osip_message_t *msg = NULL;

	CHECK_INT(sipval_parse_foreign_scheme(m, strlen(m), &msg), 0);
	CHECK(msg && msg->call_id && !strcmp(msg->call_id->number, "c1"));
	osip_message_free(msg);
	CHECK_INT(sipval_parse_foreign_scheme(sip, strlen(sip), &msg), -EINVAL);
	CHECK(msg == NULL);
	CHECK_INT(sipval_parse_foreign_scheme("garbage", 7, &msg), -EINVAL);
	CHECK_INT(sipval_parse_foreign_scheme(":x y\n", 5, &msg), -EINVAL);
}

static void test_sdp_streams(void)
{
	const char *sdp = "v=0\r\nm=audio 5 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\nm=video 7 RTP/AVP 96\r\n"
			  "a=x:m=audio\r\nm=";

	CHECK_INT(sipval_sdp_streams(sdp, strlen(sdp)), 3);
	CHECK_INT(sipval_sdp_streams(sdp, 4), 0);   /* framed by length, not NUL */
	CHECK_INT(sipval_sdp_streams("m", 1), 0);
}

static void test_flood(void)
{
	struct in_addr a, b;
	unsigned passed = 0;

	inet_pton(AF_INET, "198.51.100.7", &a);
	inet_pton(AF_INET, "198.51.100.8", &b);
	CHECK_INT(flood_init(16), 0);
	/* burst 5 at once, then 10/s: 100 ms later one more. */
	for (int i = 0; i < 20; i++)
		passed += flood_allow(a, 10, 5, 1000);
	CHECK_INT(passed, 5);
	CHECK(flood_allow(b, 10, 5, 1000));           /* another source: its own bucket */
	CHECK(!flood_allow(a, 10, 5, 1050));
	CHECK(flood_allow(a, 10, 5, 1100));
	CHECK(!flood_allow(a, 10, 5, 1100));
	CHECK(flood_allow(a, 0, 5, 1100));             /* rate 0: unlimited */
	CHECK_INT(flood_dropped(), 17);
	/* Many spoofed sources: the table stays at its size, sources are evicted. */
	for (uint32_t i = 0; i < 100000; i++) {
		struct in_addr s = { htonl(0x0a000000u + i) };
		flood_allow(s, 10, 5, 2000 + i / 1000);
	}
	passed = 0;
	for (int i = 0; i < 20; i++)
		passed += flood_allow(a, 10, 5, 200000);
	CHECK_INT(passed, 5);
	flood_fini();
	CHECK(flood_allow(a, 10, 5, 300000));          /* no table: nothing refused */
}

/* Peers that answered sipmasq's requests: remembered for an hour, the
 * table keeps the most recent 32. */
static void test_flood_peers(void)
{
	struct in_addr p, q;

	inet_pton(AF_INET, "198.51.100.2", &p);
	inet_pton(AF_INET, "198.51.100.3", &q);
	CHECK(!flood_is_peer(p, 1000));
	flood_note_peer(p, 1000);
	CHECK(flood_is_peer(p, 1000 + 3599999));
	CHECK(!flood_is_peer(p, 1000 + 3600000));
	CHECK(!flood_is_peer(q, 2000));
	flood_note_peer(p, 5000);                     /* an answer renews it */
	for (uint32_t i = 0; i < 31; i++)
		flood_note_peer((struct in_addr){ htonl(0xc6336400u + 10 + i) }, 6000 + i);
	CHECK(flood_is_peer(p, 7000));                /* 32 entries: still there */
	flood_note_peer(q, 8000);                     /* the 33rd replaces the oldest */
	CHECK(!flood_is_peer(p, 8000));
	CHECK(flood_is_peer(q, 8000));
}

int main(void)
{
	log_open(false, 4);
	parser_init();
	test_header_count();
	test_limits();
	test_request_checks();
	test_foreign_scheme();
	test_sdp_streams();
	test_flood();
	test_flood_peers();
	return unit_summary();
}
