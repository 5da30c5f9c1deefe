/* libFuzzer target: sip_frame_next(), the SIP over TCP stream framing
 * (RFC 3261 18.3 Content-Length, RFC 5626 3.5.1 CRLF keep-alives).
 *
 * Input: byte 0 picks the message size bound (bit 7 set: 1024 bytes, so
 * that small inputs reach TOO_LARGE; else SIP_TCP_MAX_MSG) and, in bits
 * 0-6, the chunk size in which the rest arrives (1..128 bytes). The rest is
 * the stream. The stream is framed twice, whole and chunk by chunk as a
 * connection receives it; both must give the same frames, every frame must
 * lie inside what was read and make progress, and a message must end with
 * its body where its headers say. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/sip/sip_framing.h"
#include "daemon/transport/sip_tcp.h"
#include "tests/fuzz/fuzz.h"

#define MAX_FRAMES 4096

struct frame {
	enum sip_frame kind;
	size_t size;
};

/* Frame data[0..len) as a connection would with `avail` bytes read so far,
 * growing by chunk whenever the framing asks for more. Returns the number
 * of frames (the last one MORE, an error kind or the end). */
static size_t frame_stream(const char *data, size_t len, size_t max, size_t chunk,
			   struct frame *out)
{
	size_t off = 0, avail = chunk < len ? chunk : len, n = 0;

	while (n < MAX_FRAMES) {
		size_t size = 0;
		enum sip_frame f = sip_frame_next(data + off, avail - off, max, &size);

		if (f == SIP_FRAME_MORE && avail < len) {
			avail = avail + chunk < len ? avail + chunk : len;
			continue;
		}
		out[n].kind = f;
		out[n].size = f == SIP_FRAME_MORE || f == SIP_FRAME_TOO_LARGE ? 0 : size;
		n++;
		if (f != SIP_FRAME_MESSAGE && f != SIP_FRAME_PING && f != SIP_FRAME_SKIP)
			break;   /* MORE at the end, or the connection would close */
		if (size == 0 || size > avail - off)
			abort();   /* no progress, or a frame beyond what was read */
		if (f == SIP_FRAME_MESSAGE && size > max)
			abort();
		off += size;
	}
	return n;
}

static struct frame whole[MAX_FRAMES], chunked[MAX_FRAMES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_log_setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max, chunk, nw, nc;
	const char *s = (const char *)data + 1;

	if (size < 1)
		return 0;
	max = (data[0] & 0x80) ? 1024 : SIP_TCP_MAX_MSG;
	chunk = (size_t)(data[0] & 0x7f) + 1;
	size--;
	nw = frame_stream(s, size, max, size ? size : 1, whole);
	nc = frame_stream(s, size, max, chunk, chunked);
	if (nw != nc || memcmp(whole, chunked, nw * sizeof(whole[0])))
		abort();   /* framing depends on how the bytes arrived */
	return 0;
}
