/* Call state file: one "call" line per call, one "stream" line per relayed
 * m= line, whitespace-separated (Call-IDs and URIs contain no blanks).
 *
 *   call <caller 0|1> <established 0|1> <started, unix s> <Call-ID> <from> <to>
 *   stream <m-index> <leg private> <leg public>
 *   leg = local sdp peer peer_rtcp latched rtcp_latched rx_pkts rx_bytes
 *         fwd_pkts fwd_bytes kernel_pkts kernel_bytes drops
 *         seen_rtp_pkts seen_rtp_bytes seen_rtcp_pkts seen_rtcp_bytes
 */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/base/addr.h"
#include "daemon/media/call_state.h"
#include "daemon/media/calls.h"
#include "daemon/base/evloop.h"
#include "daemon/base/log.h"
#include "daemon/media/offload.h"
#include "daemon/base/statefile.h"

#define LEG_FIELDS 17

static char state_path[256];
static uint64_t saved_sig;

void call_state_init(const char *path)
{
	snprintf(state_path, sizeof(state_path), "%s", path ? path : "");
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL;
}

/* A fingerprint of what adoption needs; counters are left out on purpose
 * (they change with every packet and are re-read from the kernel anyway). */
static uint64_t state_signature(void)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (struct call *c = calls_head(); c; c = c->next) {
		h = mix(h, (uintptr_t)c);
		h = mix(h, c->established);
		for (int i = 0; i < CALL_MAX_STREAMS; i++) {
			const struct media_stream *s = c->stream[i];

			for (int side = 0; s && side < 2; side++) {
				const struct media_leg *l = &s->leg[side];
				h = mix(h, l->local.sin_port);
				h = mix(h, l->peer.sin_addr.s_addr ^ l->peer.sin_port);
				h = mix(h, l->peer_rtcp.sin_addr.s_addr ^ l->peer_rtcp.sin_port);
				h = mix(h, l->sdp.sin_addr.s_addr ^ l->sdp.sin_port);
				h = mix(h, (uint64_t)l->latched << 1 | l->rtcp_latched);
			}
		}
	}
	return h;
}

static void emit_leg(FILE *f, const struct media_leg *l)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN], c[ADDR_STRLEN], d[ADDR_STRLEN];

	fprintf(f, " %s %s %s %s %d %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
		" %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
		" %" PRIu64, addr_str(&l->local, a), addr_str(&l->sdp, b),
		addr_str(&l->peer, c), addr_str(&l->peer_rtcp, d), l->latched,
		l->rtcp_latched, l->rx_packets, l->rx_bytes, l->fwd_packets, l->fwd_bytes,
		l->kernel_packets, l->kernel_bytes, l->drops, l->kernel_seen[0][0],
		l->kernel_seen[0][1], l->kernel_seen[1][0], l->kernel_seen[1][1]);
}

static int calls_emit(FILE *f, void *arg)
{
	(void)arg;
	fprintf(f, "# sipmasq calls v1\n");
	for (struct call *c = calls_head(); c; c = c->next) {
		long long started = (long long)time(NULL) -
				    (long long)((evloop_now_ms() - c->start_ms) / 1000u);

		fprintf(f, "call %d %d %lld %s %s %s\n", (int)c->caller, c->established, started,
			c->call_id, c->from[0] ? c->from : "-", c->to[0] ? c->to : "-");
		for (int i = 0; i < CALL_MAX_STREAMS; i++) {
			struct media_stream *s = c->stream[i];

			if (!s)
				continue;
			offload_stream_sync(s);   /* counters and kernel_seen agree */
			fprintf(f, "stream %d", i);
			emit_leg(f, &s->leg[MEDIA_PRIVATE]);
			emit_leg(f, &s->leg[MEDIA_PUBLIC]);
			fputc('\n', f);
		}
	}
	return ferror(f) ? -EIO : 0;
}

int call_state_save(void)
{
	if (!state_path[0])
		return 0;
	saved_sig = state_signature();
	return statefile_write(state_path, calls_emit, NULL);
}

int call_state_poll(uint64_t now_ms)
{
	static unsigned seen_gen;
	static uint64_t last_ms;
	unsigned gen = media_generation();

	if (!state_path[0] || gen == seen_gen)
		return -1;
	if (last_ms && now_ms - last_ms < CALL_STATE_COALESCE_MS)
		return (int)(CALL_STATE_COALESCE_MS - (now_ms - last_ms));
	seen_gen = gen;
	last_ms = now_ms;
	call_state_tick();
	return -1;
}

void call_state_tick(void)
{
	if (state_path[0] && state_signature() != saved_sig)
		call_state_save();
}

static int parse_ep(const char *s, struct sockaddr_in *out)
{
	char host[INET_ADDRSTRLEN + 8];
	const char *colon = strrchr(s, ':');
	struct in_addr ip;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (!addr_is_numeric(host, &ip))
		return -EINVAL;
	*out = addr_make(ip, 0);
	out->sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	return 0;
}

/* Parse LEG_FIELDS tokens into a leg. */
static int parse_leg(char **tok, struct media_leg *l)
{
	uint64_t *nums[] = {
		&l->rx_packets, &l->rx_bytes, &l->fwd_packets, &l->fwd_bytes,
		&l->kernel_packets, &l->kernel_bytes, &l->drops,
		&l->kernel_seen[0][0], &l->kernel_seen[0][1],
		&l->kernel_seen[1][0], &l->kernel_seen[1][1],
	};

	memset(l, 0, sizeof(*l));
	if (parse_ep(tok[0], &l->local) || parse_ep(tok[1], &l->sdp) ||
	    parse_ep(tok[2], &l->peer) || parse_ep(tok[3], &l->peer_rtcp))
		return -EINVAL;
	l->latched = !strcmp(tok[4], "1");
	l->rtcp_latched = !strcmp(tok[5], "1");
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		*nums[i] = strtoull(tok[6 + i], NULL, 10);
	return 0;
}

static int adopt_stream(struct call *c, char **tok, int ntok)
{
	struct media_leg legs[2];
	struct media_stream *s;
	int idx, rc;

	if (ntok != 2 + 2 * LEG_FIELDS)
		return -EINVAL;
	idx = atoi(tok[1]);
	if (idx < 0 || idx >= CALL_MAX_STREAMS || c->stream[idx] ||
	    parse_leg(tok + 2, &legs[0]) || parse_leg(tok + 2 + LEG_FIELDS, &legs[1]))
		return -EINVAL;
	rc = media_stream_adopt(legs, &s);
	if (rc) {
		log_warn("Call-ID %s: cannot adopt relay ports %u/%u: %s", c->call_id,
			 ntohs(legs[0].local.sin_port), ntohs(legs[1].local.sin_port),
			 strerror(-rc));
		return 0;
	}
	c->stream[idx] = s;
	offload_stream_adopted(s);
	return 0;
}

int call_state_load(void)
{
	char line[2048], *tok[2 + 2 * LEG_FIELDS + 1];
	struct call *cur = NULL;
	int lineno = 0, ncalls = 0;
	FILE *f;

	if (!state_path[0])
		return 0;
	f = fopen(state_path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		int ntok = 0;

		lineno++;
		if (line[0] == '#')
			continue;
		for (char *t = strtok(line, " \t\n"); t && ntok < (int)(sizeof(tok) / sizeof(tok[0]));
		     t = strtok(NULL, " \t\n"))
			tok[ntok++] = t;
		if (ntok == 7 && !strcmp(tok[0], "call")) {
			long long age = (long long)time(NULL) - strtoll(tok[3], NULL, 10);

			cur = calls_adopt(tok[4], strcmp(tok[5], "-") ? tok[5] : "",
					  strcmp(tok[6], "-") ? tok[6] : "",
					  atoi(tok[1]) ? MEDIA_PUBLIC : MEDIA_PRIVATE,
					  !strcmp(tok[2], "1"));
			/* Durations in the call log count from the real start. */
			if (cur && age > 0 && (uint64_t)age * 1000u < cur->start_ms)
				cur->start_ms -= (uint64_t)age * 1000u;
			ncalls += cur != NULL;
		} else if (ntok > 0 && !strcmp(tok[0], "stream") && cur) {
			if (adopt_stream(cur, tok, ntok) != 0)
				log_warn("%s:%d: unreadable stream line, skipped", state_path, lineno);
		} else if (ntok > 0) {
			log_warn("%s:%d: unreadable line, skipped", state_path, lineno);
		}
	}
	fclose(f);
	saved_sig = state_signature();
	return ncalls;
}
