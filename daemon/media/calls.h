/* Calls: the media streams of one SIP Call-ID and the call log. */
#ifndef SIPMASQ_CALLS_H
#define SIPMASQ_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/config/config.h"
#include "kmod-free-fallback/media.h"

#define CALL_MAX_STREAMS CONFIG_STREAMS_PER_CALL_MAX   /* m= lines relayed per call */

struct call {
	char *call_id;                         /* Call-ID header value */
	char *from, *to;                       /* URIs, for the log */
	enum media_side caller;                /* side that sent the initial INVITE */
	struct media_stream *stream[CALL_MAX_STREAMS]; /* by m= line index */
	bool established;                      /* a 2xx to the INVITE was seen */
	uint64_t start_ms, last_sip_ms;        /* evloop_now_ms() */
	struct call *next;
};

/* calls_find: the call with this Call-ID, or NULL. */
struct call *calls_find(const char *call_id);

/* calls_create: a new call (strings copied) and, when log_calls is on, the
 * "call start" line. Returns NULL when out of memory. */
struct call *calls_create(const char *call_id, const char *from, const char *to,
                          enum media_side caller);

/* calls_adopt: a call saved by a previous daemon (no "call start" line; a
 * "call adopted" line instead). Returns NULL when out of memory. */
struct call *calls_adopt(const char *call_id, const char *from, const char *to,
                         enum media_side caller, bool established);

/* calls_head: the first call of the table (walk with ->next), or NULL. */
struct call *calls_head(void);

/* calls_end: log "call end" with the reason ("bye", "cancel", "failure",
 * "timeout", "shutdown"), the packets/bytes relayed each way and how many of
 * those packets the kernel engine forwarded, close its streams and free it. */
void calls_end(struct call *c, const char *reason);

/* calls_expire: end calls whose media has been silent for rtp_timeout_s (or
 * that never got media nor an answer within max(rtp_timeout_s, 300 s)).
 * now_ms is evloop_now_ms(). */
void calls_expire(uint64_t now_ms, unsigned rtp_timeout_s);

/* calls_set_logging: log_calls directive. */
void calls_set_logging(bool on);

/* calls_fini: end every call with reason "shutdown"; with handover, free
 * the calls without ending them or closing their streams (media_fini closes
 * the sockets; the kernel entries and the call state file stay for the next
 * sipmasq). */
void calls_fini(bool handover);

/* calls_count: calls in the table. */
unsigned calls_count(void);

#endif
