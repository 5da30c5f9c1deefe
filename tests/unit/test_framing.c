/* Unit tests of sip_frame_next (SIP over TCP framing, RFC 3261 18.3 and
 * RFC 5626 3.5.1 keep-alives). */
#include "autoconfig.h"

#include <string.h>

#include "daemon/sip/sip_framing.h"
#include "tests/unit/unit.h"

#define MAX 65535

static enum sip_frame frame(const char *s, size_t *size)
{
	*size = 0;
	return sip_frame_next(s, strlen(s), MAX, size);
}

static void test_messages(void)
{
	static const char two[] = "OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabc"
				  "SIP/2.0 200 OK\r\nl:0\r\n\r\n";
	size_t n, first = strlen("OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabc");

	CHECK_INT(frame(two, &n), SIP_FRAME_MESSAGE);
	CHECK_INT(n, first);
	CHECK_INT(frame(two + first, &n), SIP_FRAME_MESSAGE);
	CHECK_INT(n, strlen(two) - first);
	/* Any case, blanks before the colon, compact form (RFC 3261 7.3.1). */
	CHECK_INT(frame("X sip:a SIP/2.0\r\ncontent-LENGTH \t: 1 \r\n\r\nz", &n), SIP_FRAME_MESSAGE);
	CHECK_INT(n, strlen("X sip:a SIP/2.0\r\ncontent-LENGTH \t: 1 \r\n\r\nz"));
	/* Incomplete headers, then an incomplete body. */
	CHECK_INT(frame("OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n", &n), SIP_FRAME_MORE);
	CHECK_INT(frame("OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nab", &n), SIP_FRAME_MORE);
	/* Location: is not l: */
	CHECK_INT(frame("X sip:a SIP/2.0\r\nLocation: 5\r\n\r\n", &n), SIP_FRAME_NO_LENGTH);
}

static void test_keepalives(void)
{
	size_t n;

	CHECK_INT(frame("\r\n\r\n", &n), SIP_FRAME_PING);
	CHECK_INT(n, 4);
	CHECK_INT(frame("\r\n", &n), SIP_FRAME_MORE);     /* pong or half a ping */
	CHECK_INT(frame("\r\n\r", &n), SIP_FRAME_MORE);
	CHECK_INT(frame("\r\nINVITE", &n), SIP_FRAME_SKIP);
	CHECK_INT(n, 2);
	CHECK_INT(frame("", &n), SIP_FRAME_MORE);
}

static void test_errors(void)
{
	char big[MAX + 100];
	size_t n;

	CHECK_INT(frame("OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n", &n), SIP_FRAME_NO_LENGTH);
	CHECK_INT(n, strlen("OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n"));
	CHECK_INT(frame("O s S\r\nContent-Length: 1x\r\n\r\n", &n), SIP_FRAME_BAD_LENGTH);
	CHECK_INT(frame("O s S\r\nContent-Length:\r\n\r\n", &n), SIP_FRAME_BAD_LENGTH);
	CHECK_INT(frame("O s S\r\nContent-Length: -1\r\n\r\n", &n), SIP_FRAME_BAD_LENGTH);
	CHECK_INT(frame("O s S\r\nl: 1\r\nContent-Length: 2\r\n\r\nab", &n), SIP_FRAME_BAD_LENGTH);
	CHECK_INT(frame("O s S\r\nl: 2\r\nContent-Length: 2\r\n\r\nab", &n), SIP_FRAME_MESSAGE);
	CHECK_INT(frame("O s S\r\nContent-Length: 65536\r\n\r\n", &n), SIP_FRAME_TOO_LARGE);
	CHECK_INT(frame("O s S\r\nContent-Length: 99999999999999999999999\r\n\r\n", &n),
		  SIP_FRAME_TOO_LARGE);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(frame(big, &n), SIP_FRAME_TOO_LARGE);   /* no end of headers in MAX */
	CHECK_INT(sip_frame_next(big, MAX - 1, MAX, &n), SIP_FRAME_MORE);
}

int main(void)
{
	test_messages();
	test_keepalives();
	test_errors();
	return unit_summary();
}
