/* Call table keyed by Call-ID, with call-start/end logging (log_calls). */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/media/calls.h"
#include "daemon/base/evloop.h"
#include "daemon/base/log.h"
#include "daemon/media/offload.h"

static struct call *calls;
static bool log_calls;

void calls_set_logging(bool on)
{
	log_calls = on;
}

struct call *calls_find(const char *call_id)
{
	for (struct call *c = calls; c; c = c->next)
		if (!strcmp(c->call_id, call_id))
			return c;
	return NULL;
}

unsigned calls_count(void)
{
	unsigned n = 0;

	for (struct call *c = calls; c; c = c->next)
		n++;
	return n;
}

/* Free a call's memory (its streams are the caller's business). */
static void call_free(struct call *c)
{
	free(c->call_id);
	free(c->from);
	free(c->to);
	free(c);
}

static struct call *call_new(const char *call_id, const char *from, const char *to,
			     enum media_side caller)
{
	struct call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->call_id = strdup(call_id);
	c->from = strdup(from ? from : "");
	c->to = strdup(to ? to : "");
	if (!c->call_id || !c->from || !c->to) {
		call_free(c);
		return NULL;
	}
	c->caller = caller;
	c->start_ms = c->last_sip_ms = evloop_now_ms();
	c->next = calls;
	calls = c;
	return c;
}

struct call *calls_create(const char *call_id, const char *from, const char *to,
                          enum media_side caller)
{
	struct call *c = call_new(call_id, from, to, caller);

	if (c && log_calls)
		log_notice("call start: Call-ID=%s from=%s to=%s direction=%s", c->call_id,
			   c->from, c->to, caller == MEDIA_PRIVATE ? "outgoing" : "incoming");
	return c;
}

struct call *calls_adopt(const char *call_id, const char *from, const char *to,
                         enum media_side caller, bool established)
{
	struct call *c = call_new(call_id, from, to, caller);

	if (!c)
		return NULL;
	c->established = established;
	if (log_calls)
		log_notice("call adopted: Call-ID=%s from=%s to=%s direction=%s", c->call_id,
			   c->from, c->to, caller == MEDIA_PRIVATE ? "outgoing" : "incoming");
	return c;
}

struct call *calls_head(void)
{
	return calls;
}

void calls_end(struct call *c, const char *reason)
{
	uint64_t pkts[2] = { 0, 0 }, bytes[2] = { 0, 0 }, kpkts[2] = { 0, 0 }, drops[2] = { 0, 0 };

	for (struct call **pp = &calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	for (int i = 0; i < CALL_MAX_STREAMS; i++) {
		struct media_stream *s = c->stream[i];

		if (!s)
			continue;
		offload_stream_sync(s);   /* what the kernel forwarded since the last tick */
		for (int side = 0; side < 2; side++) {
			pkts[side] += s->leg[side].fwd_packets;
			bytes[side] += s->leg[side].fwd_bytes;
			kpkts[side] += s->leg[side].kernel_packets;
			drops[side] += s->leg[side].drops;
		}
		media_stream_close(s);
	}
	if (log_calls)
		log_notice("call end: Call-ID=%s reason=%s duration=%" PRIu64 "s "
			   "private->public=%" PRIu64 "pkts/%" PRIu64 "B "
			   "public->private=%" PRIu64 "pkts/%" PRIu64 "B "
			   "kernel=%" PRIu64 "/%" PRIu64 "pkts dropped=%" PRIu64 "/%" PRIu64
			   "pkts engine=%s",
			   c->call_id, reason, (evloop_now_ms() - c->start_ms) / 1000,
			   pkts[MEDIA_PRIVATE], bytes[MEDIA_PRIVATE],
			   pkts[MEDIA_PUBLIC], bytes[MEDIA_PUBLIC],
			   kpkts[MEDIA_PRIVATE], kpkts[MEDIA_PUBLIC], drops[MEDIA_PRIVATE],
			   drops[MEDIA_PUBLIC], offload_engine_name());
	call_free(c);
}

/* Last sign of life of a call: SIP or a packet on any of its legs. */
static uint64_t call_last_activity(const struct call *c, bool *had_media)
{
	uint64_t last = c->last_sip_ms;

	*had_media = false;
	for (int i = 0; i < CALL_MAX_STREAMS; i++) {
		const struct media_stream *s = c->stream[i];

		for (int side = 0; s && side < 2; side++) {
			if (s->leg[side].last_rx_ms) {
				*had_media = true;
				if (s->leg[side].last_rx_ms > last)
					last = s->leg[side].last_rx_ms;
			}
		}
	}
	return last;
}

void calls_expire(uint64_t now_ms, unsigned rtp_timeout_s)
{
	struct call *c = calls, *next;

	for (; c; c = next) {
		bool had_media;
		uint64_t last = call_last_activity(c, &had_media);
		uint64_t limit = (uint64_t)(rtp_timeout_s ? rtp_timeout_s : CALLS_RTP_TIMEOUT_ZERO_S) *
				 1000;

		next = c->next;
		/* Ringing calls and calls without media get at least 5 minutes. */
		if ((!c->established || !had_media) && limit < 300000)
			limit = 300000;
		if (now_ms - last > limit)
			calls_end(c, "timeout");
	}
}

void calls_fini(bool handover)
{
	while (calls) {
		struct call *c = calls;

		if (!handover) {
			calls_end(c, "shutdown");
			continue;
		}
		calls = c->next;
		call_free(c);
	}
}
