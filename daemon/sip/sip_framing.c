/* Stream framing for SIP over TCP: where a message ends, from its
 * Content-Length (RFC 3261 18.3), and CRLF keep-alives (RFC 5626 3.5.1). */
#include "autoconfig.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "daemon/sip/sip_framing.h"

/* If the header line [p, end) is `name` (case-insensitive, blanks allowed
 * before the colon), return its value's first byte, else NULL. */
static const char *header_value(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);

	if ((size_t)(end - p) < n || strncasecmp(p, name, n))
		return NULL;
	for (p += n; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	return p < end && *p == ':' ? p + 1 : NULL;
}

/* Decimal value in [p, end) with optional blanks around it; false when
 * anything else is there. Values above max saturate at max + 1. */
static bool parse_length(const char *p, const char *end, size_t max, size_t *out)
{
	size_t v = 0;
	bool digits = false;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		digits = true;
		v = v > max ? max + 1 : v * 10 + (size_t)(*p - '0');
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*out = v > max ? max + 1 : v;
	return digits && p == end;
}

/* Leading CRLFs: a ping (CRLFCRLF), a pong or stray CRLF (RFC 3261 7.5
 * lets a receiver ignore CRLFs before a start line), or not enough bytes
 * yet to tell the two apart. Returns MESSAGE when the buffer starts with
 * something else. */
static enum sip_frame leading_crlf(const char *buf, size_t len, size_t *size)
{
	static const char ping[] = "\r\n\r\n";
	size_t n = len < 4 ? len : 4;

	if (len == 0)
		return SIP_FRAME_MORE;
	if (buf[0] != '\r')
		return SIP_FRAME_MESSAGE;
	if (!memcmp(buf, ping, n)) {
		if (n < 4)
			return SIP_FRAME_MORE;
		*size = 4;
		return SIP_FRAME_PING;
	}
	if (len >= 2 && buf[1] == '\n') {
		*size = 2;
		return SIP_FRAME_SKIP;
	}
	return SIP_FRAME_MESSAGE;   /* a lone CR: the parser will refuse it */
}

enum sip_frame sip_frame_next(const char *buf, size_t len, size_t max, size_t *size)
{
	const char *hend, *line, *end;
	size_t hlen, clen = 0, v;
	bool have = false, bad = false;
	enum sip_frame f = leading_crlf(buf, len, size);

	if (f != SIP_FRAME_MESSAGE)
		return f;
	hend = memmem(buf, len < max ? len : max, "\r\n\r\n", 4);
	if (!hend)
		return len >= max ? SIP_FRAME_TOO_LARGE : SIP_FRAME_MORE;
	hlen = (size_t)(hend - buf) + 4;
	*size = hlen;
	/* Header lines: after the start line, up to the blank line. */
	line = memchr(buf, '\n', hlen);
	for (line = line ? line + 1 : hend; line < hend + 2; line = end + 2) {
		const char *val;

		end = memmem(line, (size_t)(hend + 2 - line), "\r\n", 2);
		if (!end)
			break;
		val = header_value(line, end, "content-length");
		if (!val)
			val = header_value(line, end, "l");
		if (!val)
			continue;
		if (!parse_length(val, end, max, &v) || (have && v != clen))
			bad = true;
		clen = v;
		have = true;
	}
	if (bad)
		return SIP_FRAME_BAD_LENGTH;
	if (!have)
		return SIP_FRAME_NO_LENGTH;
	if (clen > max - hlen)
		return SIP_FRAME_TOO_LARGE;
	if (len < hlen + clen)
		return SIP_FRAME_MORE;
	*size = hlen + clen;
	return SIP_FRAME_MESSAGE;
}
