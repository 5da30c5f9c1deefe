/* Via stash: a hash table of branch -> saved Via list, with a FIFO for
 * expiry (entries are inserted in time order, so the oldest is at the head). */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/proxy/via_stash.h"

#define BUCKETS 4096u   /* power of two */

struct stash_entry {
	char *branch;
	osip_list_t vias;
	uint64_t saved_ms;
	struct stash_entry *hnext;          /* bucket chain */
	struct stash_entry *older, *newer;  /* FIFO */
};

static struct stash_entry *buckets[BUCKETS];
static struct stash_entry *oldest, *newest;
static unsigned count;
static unsigned max_entries = VIA_STASH_MAX;

static unsigned bucket_of(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h & (BUCKETS - 1);
}

static struct stash_entry **find_slot(const char *branch)
{
	struct stash_entry **pp = &buckets[bucket_of(branch)];

	while (*pp && strcmp((*pp)->branch, branch))
		pp = &(*pp)->hnext;
	return pp;
}

static void entry_drop(struct stash_entry *e)
{
	struct stash_entry **pp = find_slot(e->branch);

	if (*pp == e)
		*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		newest = e->older;
	osip_list_special_free(&e->vias, (void (*)(void *))osip_via_free);
	free(e->branch);
	free(e);
	count--;
}

int via_stash_save(const char *branch, osip_message_t *msg, uint64_t now_ms)
{
	struct stash_entry **pp = find_slot(branch), *e;

	if (*pp)
		entry_drop(*pp);
	while (count >= max_entries && oldest)
		entry_drop(oldest);
	e = calloc(1, sizeof(*e));
	if (!e || !(e->branch = strdup(branch))) {
		free(e);
		return -ENOMEM;
	}
	/* Move the list: the message keeps an empty one. */
	e->vias = msg->vias;
	osip_list_init(&msg->vias);
	e->saved_ms = now_ms;
	pp = find_slot(branch);
	*pp = e;
	e->older = newest;
	if (newest)
		newest->newer = e;
	else
		oldest = e;
	newest = e;
	count++;
	return 0;
}

int via_stash_restore(const char *branch, osip_message_t *msg)
{
	struct stash_entry *e = *find_slot(branch);

	if (!e)
		return -ENOENT;
	for (int i = 0; i < osip_list_size(&e->vias); i++) {
		osip_via_t *copy;

		if (osip_via_clone(osip_list_get(&e->vias, i), &copy) != 0)
			return -ENOMEM;
		osip_list_add(&msg->vias, copy, -1);
	}
	return 0;
}

void via_stash_expire(uint64_t now_ms)
{
	while (oldest && now_ms - oldest->saved_ms > VIA_STASH_TTL_MS)
		entry_drop(oldest);
}

void via_stash_fini(void)
{
	while (oldest)
		entry_drop(oldest);
}

void via_stash_set_max(unsigned max)
{
	max_entries = max ? max : 1;
}

unsigned via_stash_count(void)
{
	return count;
}
