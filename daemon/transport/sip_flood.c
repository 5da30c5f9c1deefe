/* Per-source token buckets (see sip_flood.h). Tokens are kept in
 * thousandths so that a rate of a few requests per second refills
 * smoothly with a millisecond clock. */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>

#include "daemon/transport/sip_flood.h"

#define WAYS 4u          /* entries per set: LRU within the set */
#define MILLI 1000u

struct bucket {
	uint32_t ip;          /* network order; 0 = free */
	uint64_t tokens;      /* thousandths of a request */
	uint64_t last_ms;     /* last refill, also the LRU age */
};

static struct bucket *table;
static unsigned n_sets;
static uint64_t dropped;

int flood_init(unsigned sources)
{
	flood_fini();
	n_sets = (sources + WAYS - 1) / WAYS;
	if (!n_sets)
		n_sets = 1;
	table = calloc((size_t)n_sets * WAYS, sizeof(*table));
	if (!table) {
		n_sets = 0;
		return -ENOMEM;
	}
	dropped = 0;
	return 0;
}

/* ip's bucket: found in its set, else the set's least recently used one,
 * reset to a full bucket. */
static struct bucket *bucket_of(uint32_t ip, uint64_t full, uint64_t now_ms)
{
	struct bucket *set = &table[(size_t)((ip * 2654435761u) % n_sets) * WAYS], *lru = set;

	for (unsigned i = 0; i < WAYS; i++) {
		if (set[i].ip == ip)
			return &set[i];
		if (set[i].last_ms < lru->last_ms)
			lru = &set[i];
	}
	lru->ip = ip;
	lru->tokens = full;
	lru->last_ms = now_ms;
	return lru;
}

bool flood_allow(struct in_addr ip, unsigned rate, unsigned burst, uint64_t now_ms)
{
	uint64_t full = (uint64_t)burst * MILLI;
	struct bucket *b;

	if (!rate || !table)
		return true;
	b = bucket_of(ip.s_addr ? ip.s_addr : 1u, full, now_ms);
	if (now_ms > b->last_ms) {
		b->tokens += (now_ms - b->last_ms) * rate;   /* rate/s = rate/1000 per ms */
		b->last_ms = now_ms;
	}
	if (b->tokens > full)
		b->tokens = full;
	if (b->tokens < MILLI) {
		dropped++;
		return false;
	}
	b->tokens -= MILLI;
	return true;
}

#define PEERS 32u
#define PEER_TTL_MS (3600u * 1000u)

static struct {
	uint32_t ip;          /* network order; 0 = free */
	uint64_t seen_ms;
} peers[PEERS];

void flood_note_peer(struct in_addr ip, uint64_t now_ms)
{
	unsigned oldest = 0;

	for (unsigned i = 0; i < PEERS; i++) {
		if (peers[i].ip == ip.s_addr) {
			oldest = i;
			break;
		}
		if (peers[i].seen_ms < peers[oldest].seen_ms)
			oldest = i;
	}
	peers[oldest].ip = ip.s_addr;
	peers[oldest].seen_ms = now_ms;
}

bool flood_is_peer(struct in_addr ip, uint64_t now_ms)
{
	for (unsigned i = 0; i < PEERS; i++)
		if (peers[i].ip && peers[i].ip == ip.s_addr)
			return now_ms - peers[i].seen_ms < PEER_TTL_MS;
	return false;
}

uint64_t flood_dropped(void)
{
	return dropped;
}

void flood_fini(void)
{
	free(table);
	table = NULL;
	n_sets = 0;
}
