/* Via stash: topology hiding for requests sent to the public side.
 *
 * The Via headers of a private UA (e.g. "SIP/2.0/UDP 10.0.0.2:5060;
 * received=10.0.0.2") would show private addresses to the provider. sipmasq
 * moves them out of the request into this table, keyed by the branch of its
 * own Via, and puts them back when a response to that branch arrives
 * (RFC 3261 16.7 step 3 lets a proxy route a response by state instead of
 * the Via stack). Entries live for the longest transaction (an INVITE that
 * rings for minutes), so provisional responses, retransmissions and the
 * CANCEL/ACK that share the INVITE's branch find them too. */
#ifndef SIPMASQ_VIA_STASH_H
#define SIPMASQ_VIA_STASH_H

#include <stdint.h>

#include <osipparser2/osip_parser.h>

/* How long an entry is kept, ms: an INVITE transaction can ring this long. */
#define VIA_STASH_TTL_MS (300u * 1000u)
/* Entries at most by default (via_stash_size): the oldest goes first when
 * full. */
#define VIA_STASH_MAX 65536u

/* via_stash_save: move every Via of msg into the stash under `branch`
 * (replacing an older entry of that branch: a retransmission), leaving msg
 * without Via. now_ms is evloop_now_ms(). Returns 0 or -ENOMEM (msg is then
 * unchanged). */
int via_stash_save(const char *branch, osip_message_t *msg, uint64_t now_ms);

/* via_stash_restore: append copies of the Vias saved under `branch` to msg
 * (below whatever Vias it has). Returns 0, -ENOENT when nothing is saved
 * under branch (expired, or sipmasq restarted), or -ENOMEM. */
int via_stash_restore(const char *branch, osip_message_t *msg);

/* via_stash_expire: drop entries older than VIA_STASH_TTL_MS. */
void via_stash_expire(uint64_t now_ms);

/* via_stash_fini: drop everything. */
void via_stash_fini(void);

/* via_stash_set_max: the via_stash_size directive (entries, >= 1); a
 * smaller value than the entries held takes effect at the next save. */
void via_stash_set_max(unsigned max);

/* via_stash_count: entries held. */
unsigned via_stash_count(void);

#endif
