/* SIP flood protection: a token bucket per source address on requests.
 *
 * Each source IPv4 address gets `burst` requests at once and `rate` more
 * per second; requests beyond that are dropped before they are parsed.
 * The table of sources is fixed in size (sip_rate_sources, set-associative
 * with least-recently-used eviction), so a flood from spoofed addresses
 * cannot grow memory: an evicted source just starts again with a full
 * bucket. */
#ifndef SIPMASQ_SIP_FLOOD_H
#define SIPMASQ_SIP_FLOOD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* flood_init: a table of at least `sources` entries (rounded up to a whole
 * set). Frees a previous table. Returns 0 or -ENOMEM. */
int flood_init(unsigned sources);

/* flood_allow: take one token from ip's bucket (rate in requests/s, burst
 * in requests; rate 0 = unlimited) at now_ms (evloop_now_ms()). The
 * budget is the caller's per request, so a source that gets a larger one
 * (a phone that registers) has it at once. Returns false when the request
 * must be dropped. */
bool flood_allow(struct in_addr ip, unsigned rate, unsigned burst, uint64_t now_ms);

/* flood_note_peer: ip (a public host) answered a request sipmasq sent,
 * with a Via branch sipmasq knows: the provider's proxy, whose requests
 * are those of every incoming call. Kept in a small fixed table (oldest
 * replaced) for an hour after its last answer. */
void flood_note_peer(struct in_addr ip, uint64_t now_ms);

/* flood_is_peer: true while ip is a noted peer (flood_note_peer). */
bool flood_is_peer(struct in_addr ip, uint64_t now_ms);

/* flood_dropped: requests refused since flood_init. */
uint64_t flood_dropped(void);

/* flood_fini: free the table. */
void flood_fini(void);

#endif
