/* Message boundaries in a SIP byte stream (RFC 3261 section 18.3) and the
 * CRLF keep-alives of RFC 5626 section 3.5.1. Pure: no I/O, no state. */
#ifndef SIPMASQ_SIP_FRAMING_H
#define SIPMASQ_SIP_FRAMING_H

#include <stddef.h>

/* What sip_frame_next found at the start of the buffer. */
enum sip_frame {
	SIP_FRAME_MORE,       /* incomplete: read more bytes */
	SIP_FRAME_MESSAGE,    /* one whole message (headers and body) of *size bytes */
	SIP_FRAME_PING,       /* CRLFCRLF keep-alive ping, *size = 4: answer CRLF */
	SIP_FRAME_SKIP,       /* *size bytes of CRLF (a pong, or CRLF before a start line) */
	SIP_FRAME_NO_LENGTH,  /* headers (*size bytes) without Content-Length: 400, close */
	SIP_FRAME_BAD_LENGTH, /* headers (*size bytes) with an invalid or conflicting one */
	SIP_FRAME_TOO_LARGE,  /* the message would exceed max bytes: close */
};

/* sip_frame_next: look at the len bytes at buf (no NUL needed) and say
 * what the stream holds first. max bounds a message (headers plus body) in
 * bytes. Content-Length and its compact form "l" are matched case-
 * insensitively (RFC 3261 7.3.3, 20.14); a value folded onto another line
 * counts as invalid. *size is set for every result but MORE and TOO_LARGE. */
enum sip_frame sip_frame_next(const char *buf, size_t len, size_t max, size_t *size);

#endif
