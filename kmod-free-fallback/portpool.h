/* Relay port pool: hands out UDP port PAIRS (even RTP port, RTCP = port+1)
 * from a configured range, at random positions. Random draws make relay
 * ports hard to guess, which is the cheap half of the defence against RTP
 * injection/hijack (the other half is strict source latching in the relay).
 *
 * Not thread-safe: the daemon is single-threaded. */
#ifndef SIPMASQ_PORTPOOL_H
#define SIPMASQ_PORTPOOL_H

#include <stdbool.h>
#include <stdint.h>

/* A pool of npairs pairs: pair i is (base + 2*i, base + 2*i + 1), host byte
 * order. `used` is a bitmap (bit i set = pair i handed out), owned by the
 * pool. Treat the fields as private; a zeroed struct is an empty pool. */
struct portpool {
	uint16_t base;      /* even RTP port of pair 0 */
	unsigned npairs;    /* pairs in the range */
	unsigned nfree;     /* pairs not handed out */
	uint64_t *used;     /* ceil(npairs / 64) words */
};

/* portpool_init: build a pool over [low, high] (host byte order). low is
 * rounded up to even (and port 0, "any port" to bind(), is skipped), high is
 * rounded down so that the last pair fits entirely. Returns 0, -EINVAL when
 * no whole pair fits, or -ENOMEM. */
int portpool_init(struct portpool *p, uint16_t low, uint16_t high);

/* portpool_fini: free the bitmap; p becomes an empty pool. Idempotent. */
void portpool_fini(struct portpool *p);

/* portpool_get: take a free pair, starting the search at a random index
 * (getrandom()) and scanning forward with wrap-around. *port receives the
 * even (RTP) port, host byte order. Returns 0 or -ENOSPC. */
int portpool_get(struct portpool *p, uint16_t *port);

/* portpool_put: give back the pair whose even port is `port` (host byte
 * order). Returns 0, or -EINVAL if port is not the start of a pair of this
 * pool or the pair is not handed out (a double free is caught, not applied). */
int portpool_put(struct portpool *p, uint16_t port);

/* portpool_take: hand out the specific pair starting at even `port` (host
 * order), e.g. to re-adopt a stream after a restart. Returns 0, -EINVAL if
 * port does not start a pair of this pool, -EBUSY if it is handed out. */
int portpool_take(struct portpool *p, uint16_t port);

/* portpool_in_use: port (host order; RTP or RTCP) belongs to a pair that
 * is handed out. */
bool portpool_in_use(const struct portpool *p, uint16_t port);

/* portpool_free_count: pairs currently free. */
unsigned portpool_free_count(const struct portpool *p);

/* portpool_size: pairs in the pool (free or not). */
unsigned portpool_size(const struct portpool *p);

#endif
