/* Server nonces of Digest authentication (RFC 7616 3.3, 5.4): random,
 * single-owner, expiring, with a nonce count that must strictly increase so
 * a captured Proxy-Authorization cannot be replayed. */
#ifndef SIPMASQ_AUTH_NONCE_H
#define SIPMASQ_AUTH_NONCE_H

#include <stdint.h>

#define AUTH_NONCE_LEN 32            /* hex characters: 128 random bits */
#define AUTH_NONCE_LIFETIME_MS 300000u /* default lifetime of a nonce after it was issued */
#define AUTH_NONCE_MAX 1024          /* table size; the oldest nonce is evicted first */
#define AUTH_NONCE_RETRANS_MS 32000u /* Timer F (64*T1, RFC 3261 17.1.2.2): how long a
                                     * retransmission of an accepted request is one */
#define AUTH_BRANCH_MAX 64           /* longest Via branch remembered, with its NUL */

/* What auth_nonce_check found. */
enum auth_nonce_state {
	AUTH_NONCE_FRESH,     /* ours, within its lifetime, nc above every nc seen */
	AUTH_NONCE_STALE,     /* ours but expired: challenge again with stale=true */
	AUTH_NONCE_UNKNOWN,   /* never issued, or evicted (or sipmasq restarted) */
	AUTH_NONCE_REPLAY,    /* ours, but nc is not above the last accepted one */
	AUTH_NONCE_RETRANS,   /* the last accepted nc again, same Via branch, within
	                       * AUTH_NONCE_RETRANS_MS: a UDP retransmission */
};

/* auth_nonce_new: issue a nonce at now_ms (any monotonic ms clock; tests
 * inject theirs) from getrandom() into out (AUTH_NONCE_LEN + 1 bytes, hex,
 * NUL-terminated). A full table evicts its oldest nonce. Returns 0, or
 * -errno when the kernel has no randomness to give (nothing issued). */
int auth_nonce_new(uint64_t now_ms, char *out);

/* auth_nonce_check: the state of nonce with nonce count nc (1..) at now_ms,
 * for a request whose topmost Via branch is `branch` (may be NULL): the
 * same nc is a replay unless it is a retransmission of the request that
 * used it (stateless proxy over UDP, RFC 3261 16.11). Changes nothing:
 * call auth_nonce_use once the response digest is proven right, so that a
 * stranger's bad guesses cannot burn nonce counts. */
enum auth_nonce_state auth_nonce_check(const char *nonce, uint32_t nc, const char *branch,
				       uint64_t now_ms);

/* auth_nonce_use: record nc as the last accepted count of nonce, used at
 * now_ms by the request with Via branch `branch` (after a FRESH check and
 * a right response). Unknown nonces are ignored. */
void auth_nonce_use(const char *nonce, uint32_t nc, const char *branch, uint64_t now_ms);

/* auth_nonce_set_lifetime: how long (ms, > 0) a nonce is good after it
 * was issued; AUTH_NONCE_LIFETIME_MS until set. */
void auth_nonce_set_lifetime(uint64_t ms);

/* auth_nonce_reset: forget every nonce (tests, shutdown). */
void auth_nonce_reset(void);

#endif
