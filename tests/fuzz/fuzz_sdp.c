/* libFuzzer target: sdp_rewrite() alone on arbitrary bodies.
 *
 * Input: byte 0 picks the sending side (bit 0); the rest is the SDP body
 * (not NUL-terminated, as SIP framing hands it over). A successful rewrite
 * is rewritten once more from the other side with the same call, as an
 * answer or re-INVITE would be, which also checks that our own output parses.
 * Relay streams are real sockets on 127.0.0.1/127.0.0.2, closed after each
 * input. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>

#include "daemon/media/calls.h"
#include "daemon/base/evloop.h"
#include "kmod-free-fallback/media.h"
#include "daemon/media/sdp_rewrite.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_RTP_LOW 47200
#define FUZZ_RTP_HIGH 47399

static struct sdp_addrs addrs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_media_setup(FUZZ_RTP_LOW, FUZZ_RTP_HIGH);
	inet_pton(AF_INET, "127.0.0.1", &addrs.bind[MEDIA_PRIVATE]);
	inet_pton(AF_INET, "127.0.0.2", &addrs.bind[MEDIA_PUBLIC]);
	inet_pton(AF_INET, "127.0.0.1", &addrs.announce[MEDIA_PRIVATE]);
	inet_pton(AF_INET, "203.0.113.1", &addrs.announce[MEDIA_PUBLIC]);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum media_side from;
	struct call *c;
	char *out = NULL, *out2 = NULL;
	size_t out_len = 0, out2_len = 0;
	int rc;

	if (size < 1)
		return 0;
	from = (data[0] & 1) ? MEDIA_PUBLIC : MEDIA_PRIVATE;
	c = calls_create("fuzz@sdp", "sip:a@127.0.0.1", "sip:b@203.0.113.9", from);
	if (!c)
		return 0;
	rc = sdp_rewrite(c, from, &addrs, (const char *)data + 1, size - 1, &out, &out_len);
	if (rc == 0) {
		if (!out || strlen(out) != out_len)
			abort();   /* contract: a NUL-terminated body of out_len bytes */
		rc = sdp_rewrite(c, (enum media_side)!from, &addrs, out, out_len, &out2,
				 &out2_len);
		if (rc == 0 && (!out2 || strlen(out2) != out2_len))
			abort();
	} else if (rc > 0) {
		abort();   /* contract: 0 or -errno */
	}
	free(out);
	free(out2);
	calls_end(c, "bye");
	return 0;
}
