/* Active calls saved to a file, so a restarted sipmasq re-adopts them: the
 * same relay ports, SDP and latched peers, counters, and (with a kernel
 * engine) the kernel entries that kept forwarding while it was away. */
#ifndef SIPMASQ_CALL_STATE_H
#define SIPMASQ_CALL_STATE_H

#include <stdint.h>

/* call_state_init: the file ("" = calls are not saved). */
void call_state_init(const char *path);

/* call_state_load: re-adopt the calls saved in the file. Streams whose ports
 * can't be bound again are dropped with a log line; unreadable lines are
 * logged with file:line and skipped. Returns the number of calls adopted or
 * -errno (a missing file is 0). */
int call_state_load(void);

/* call_state_tick: save the calls if anything that matters for adoption
 * (calls, streams, peers, latches) changed since the last save. Called once
 * a second, and by call_state_poll() when the media plane changed. */
void call_state_tick(void);

/* Shortest time between two saves prompted by call_state_poll(), ms. */
#define CALL_STATE_COALESCE_MS 200u

/* call_state_poll: to be called on every event loop round: when the media
 * plane changed (media_generation()), save at once, or, if the last save
 * is younger than CALL_STATE_COALESCE_MS, as soon as it is older. Returns
 * the ms until a pending save is due (the loop must wake up by then), or
 * -1 when nothing is pending. So a kill -9 loses at most the changes of the
 * last CALL_STATE_COALESCE_MS: a call set up just before is adopted too. */
int call_state_poll(uint64_t now_ms);

/* call_state_save: save now. Returns 0 or -errno. */
int call_state_save(void);

#endif
