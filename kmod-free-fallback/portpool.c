/* Relay port pool: a bitmap of pairs, searched from a random start. */
#include "autoconfig.h"   /* autoconf; <> so that daemon/config/config.h is never picked */

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "kmod-free-fallback/portpool.h"

#define WORD_BITS 64u

static unsigned nwords(unsigned npairs)
{
	return (npairs + WORD_BITS - 1) / WORD_BITS;
}

int portpool_init(struct portpool *p, uint16_t low, uint16_t high)
{
	/* int arithmetic: high - 1 must not wrap for high < 2. */
	int first = low + (low & 1);
	int last = (high & 1) ? high - 1 : high - 2;   /* last even port whose +1 fits */

	p->base = 0;
	p->npairs = p->nfree = 0;
	p->used = NULL;
	if (first == 0)
		first = 2;              /* bind() to port 0 means "any port" */
	if (last < first)
		return -EINVAL;
	unsigned n = (unsigned)(last - first) / 2 + 1;
	p->used = calloc(nwords(n), sizeof(*p->used));
	if (!p->used)
		return -ENOMEM;
	p->base = (uint16_t)first;
	p->npairs = p->nfree = n;
	return 0;
}

void portpool_fini(struct portpool *p)
{
	free(p->used);
	p->used = NULL;
	p->base = 0;
	p->npairs = p->nfree = 0;
}

/* A uniformly random 32-bit value. getrandom() does not block once the
 * kernel pool is initialised, which is long done when a call needs ports;
 * the fallback only matters in odd sandboxes without the syscall. */
static uint32_t random_u32(void)
{
	static int seeded;
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	if (!seeded) {
		srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 16));
		seeded = 1;
	}
	return ((uint32_t)random() << 16) ^ (uint32_t)random();
}

/* Free pairs in word w as a bit mask, ignoring bits past npairs. */
static uint64_t word_free(const struct portpool *p, unsigned w)
{
	uint64_t f = ~p->used[w];
	unsigned tail = p->npairs - w * WORD_BITS;

	if (tail < WORD_BITS)
		f &= (UINT64_C(1) << tail) - 1;
	return f;
}

static void take(struct portpool *p, unsigned idx, uint16_t *port)
{
	p->used[idx / WORD_BITS] |= UINT64_C(1) << (idx % WORD_BITS);
	p->nfree--;
	*port = (uint16_t)(p->base + 2 * idx);
}

int portpool_get(struct portpool *p, uint16_t *port)
{
	if (p->nfree == 0)
		return -ENOSPC;

	unsigned start = random_u32() % p->npairs;
	unsigned nw = nwords(p->npairs);
	unsigned w = start / WORD_BITS;
	/* First the bits at or after `start` in its word, then whole words with
	 * wrap-around; the start word comes round again last (its low bits). */
	uint64_t f = word_free(p, w) & (~UINT64_C(0) << (start % WORD_BITS));

	for (unsigned i = 0; i <= nw; i++) {
		if (f) {
			take(p, w * WORD_BITS + (unsigned)__builtin_ctzll(f), port);
			return 0;
		}
		w = (w + 1) % nw;
		f = word_free(p, w);
	}
	return -ENOSPC;   /* unreachable while nfree is consistent */
}

/* Index of the pair starting at port, or -EINVAL if it is none of ours. */
static int pair_index(const struct portpool *p, uint16_t port)
{
	if (port < p->base || ((port - p->base) & 1))
		return -EINVAL;
	unsigned idx = (unsigned)(port - p->base) / 2;
	return idx < p->npairs ? (int)idx : -EINVAL;
}

bool portpool_in_use(const struct portpool *p, uint16_t port)
{
	int idx = pair_index(p, port & (uint16_t)~1u);

	return idx >= 0 && (p->used[idx / WORD_BITS] & (UINT64_C(1) << (idx % WORD_BITS)));
}

int portpool_take(struct portpool *p, uint16_t port)
{
	int idx = pair_index(p, port);
	uint16_t got;

	if (idx < 0)
		return idx;
	if (p->used[idx / WORD_BITS] & (UINT64_C(1) << (idx % WORD_BITS)))
		return -EBUSY;
	take(p, (unsigned)idx, &got);
	return 0;
}

int portpool_put(struct portpool *p, uint16_t port)
{
	int i = pair_index(p, port);
	if (i < 0)
		return i;
	unsigned idx = (unsigned)i;
	uint64_t bit = UINT64_C(1) << (idx % WORD_BITS);
	if (!(p->used[idx / WORD_BITS] & bit))
		return -EINVAL;
	p->used[idx / WORD_BITS] &= ~bit;
	p->nfree++;
	return 0;
}

unsigned portpool_free_count(const struct portpool *p)
{
	return p->nfree;
}

unsigned portpool_size(const struct portpool *p)
{
	return p->npairs;
}
