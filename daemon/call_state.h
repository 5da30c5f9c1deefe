/* Active calls saved to a file, so a restarted sipmasq re-adopts them: the
 * same relay ports, SDP and latched peers, counters, and (with a kernel
 * engine) the kernel entries that kept forwarding while it was away. */
#ifndef SIPMASQ_CALL_STATE_H
#define SIPMASQ_CALL_STATE_H

/* call_state_init: the file ("" = calls are not saved). */
void call_state_init(const char *path);

/* call_state_load: re-adopt the calls saved in the file. Streams whose ports
 * can't be bound again are dropped with a log line; unreadable lines are
 * logged with file:line and skipped. Returns the number of calls adopted or
 * -errno (a missing file is 0). */
int call_state_load(void);

/* call_state_tick: save the calls if anything that matters for adoption
 * (calls, streams, peers, latches) changed since the last save. Once a
 * second is enough: a change younger than that is re-learnt (latching). */
void call_state_tick(void);

/* call_state_save: save now. Returns 0 or -errno. */
int call_state_save(void);

#endif
