/* Masqueraded contacts ("bindings"): what sipmasq registered on behalf of a
 * UA, and the Contact it gave the public side for it.
 *
 * A binding maps a token (the smqid= URI parameter of the masqueraded
 * Contact, e.g. <sip:alice@203.0.113.1:5060;smqid=1a2b3c4d>) back to the
 * UA's real contact and the address its requests came from. Registered
 * bindings come from REGISTER (RFC 3261 section 10) and are saved to
 * registration_file; dialog bindings are made for the Contact of a UA that
 * calls without being registered, and only live in memory. */
#ifndef SIPMASQ_REGISTRATIONS_H
#define SIPMASQ_REGISTRATIONS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <time.h>

#define REG_TOKEN_LEN 8

/* One binding: a private UA's Contact known to sipmasq, from a REGISTER
 * (registered) or from a dialog; owned by registrations.c (strings
 * malloc'd, freed with the binding). */
struct binding {
	char token[REG_TOKEN_LEN + 1]; /* hex, unique, the smqid= value */
	char *aor;                     /* To URI of the REGISTER, "" for dialog bindings */
	char *contact;                 /* the UA's real Contact URI (serialised by libosip2) */
	char *user;                    /* user part for the masqueraded Contact, may be "" */
	struct sockaddr_in src;        /* where the UA's requests come from (NAT-aware target) */
	time_t expires;                /* wall clock (s) when the binding ends */
	bool registered;               /* from REGISTER (saved) vs dialog-only */
	char *legacy;                  /* siproxd's masqueraded Contact of an imported
	                                * binding, still at the registrar until the
	                                * next REGISTER removes it; NULL if none */
	struct binding *next;
	struct binding *next_token;    /* registrations.c's hash chains: by token, */
	struct binding *next_contact;  /* by contact, */
	struct binding *next_aor;      /* by AOR */
};

/* reg_init: set the registration_file path ("" = no persistence) and load it.
 * Bindings already expired in the file are skipped. Returns the number loaded
 * or -errno (a missing file is not an error: 0); -EPROTO when the file is
 * siproxd's (its first byte is '*': reg_siproxd_import reads it). Bad lines
 * are logged with file:line and skipped. The file is always written back
 * in sipmasq's format. */
int reg_init(const char *path);

/* reg_restore: add a registered binding read back from a file. token:
 * its smqid (NULL or "" = draw a new one); legacy: see struct binding
 * (NULL = none); expires: absolute wall-clock time (s). Strings are
 * copied. Returns 1, 0 when skipped (already expired at `now`, or the
 * token is taken), or -ENOMEM. */
int reg_restore(const char *token, const char *aor, const char *contact, const char *user,
		const char *legacy, const struct sockaddr_in *src, time_t expires, time_t now);

/* reg_legacy_done: the registrar no longer holds b's legacy Contact:
 * forget it (saved with the next reg_save). */
void reg_legacy_done(struct binding *b);

/* reg_fini: free every binding (the file is left as last saved). */
void reg_fini(void);

/* reg_bind: find the binding for (aor, contact) or make one, and record the
 * source address. aor may be NULL for a dialog binding (then the lookup is by
 * contact alone, preferring a registered binding). Strings are copied.
 * expires_s: seconds from now. Returns the binding, or NULL with errno
 * ENOSPC (max_registrations) or EDQUOT (max_registrations_per_aor) when a
 * new binding would pass reg_set_limits, ENOMEM when out of memory. */
struct binding *reg_bind(const char *aor, const char *contact, const char *user,
                         const struct sockaddr_in *src, unsigned expires_s,
                         bool registered);

/* reg_set_limits: max_registrations (bindings in total, registered and
 * dialog, including those in their grace period) and
 * max_registrations_per_aor (live registered bindings of one AOR). Only
 * new bindings are refused; reg_init loads a file whatever its size. */
void reg_set_limits(unsigned total, unsigned per_aor);

/* reg_find_token: the binding with this smqid token, or NULL. */
struct binding *reg_find_token(const char *token);

/* reg_find_user: a live registered binding whose user part or AOR user is
 * `user` (first registered wins), or NULL. */
struct binding *reg_find_user(const char *user);

/* reg_find_aor: a live registered binding of this AOR URI string, or NULL. */
struct binding *reg_find_aor(const char *aor);

/* reg_known_source: true if a live registered binding has this source IP. */
bool reg_known_source(struct in_addr ip);

/* reg_unbind: expire a binding now (expires=0 or Contact: *). It stays
 * findable for a short grace period so the registrar's 200 OK can still be
 * mapped back, then reg_expire drops it. */
void reg_unbind(struct binding *b);

/* reg_unbind_aor: reg_unbind every binding of an AOR (Contact: *). */
void reg_unbind_aor(const char *aor);

/* reg_set_expires: the registrar's answer (seconds from now; 0 = gone). */
void reg_set_expires(struct binding *b, unsigned seconds);

/* reg_expire: drop bindings past their expiry (plus grace) at `now`; saves
 * the file if registered bindings went away. Returns how many were dropped. */
int reg_expire(time_t now);

/* reg_save: the bindings changed: write registration_file atomically
 * (temp file, fsync, rename), at once unless autosave_registrations asks
 * for at most one write per period and one was made less than a period
 * ago (then reg_tick writes it when the period ends). Returns 0 or -errno
 * (logged). A no-op without a path. */
int reg_save(void);

/* reg_set_autosave: autosave_registrations, s between writes (0 = every
 * change). */
void reg_set_autosave(unsigned seconds);

/* reg_tick: write a change held back by autosave_registrations once its
 * period is over (call about once a second; now = time(NULL)). */
void reg_tick(time_t now);

/* reg_flush: write registration_file now, whatever the period (exit). */
int reg_flush(void);

/* reg_head: the first binding (walk with ->next; includes dialog and
 * expired-in-grace bindings), or NULL. */
const struct binding *reg_head(void);

/* reg_count: live registered bindings. */
unsigned reg_count(void);

#endif
