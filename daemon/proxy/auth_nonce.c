/* Nonce table of Digest authentication: a ring of the last AUTH_NONCE_MAX
 * nonces issued, so its memory is fixed whatever strangers send; the slot
 * overwritten next is always the oldest nonce. Lookups are linear: a
 * REGISTER rate never makes 1024 short compares matter. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

#include "daemon/proxy/auth_nonce.h"

struct nonce_slot {
	char nonce[AUTH_NONCE_LEN + 1];   /* "" = free slot */
	uint64_t issued_ms;
	uint32_t last_nc;                 /* 0 = not used yet */
	uint64_t used_ms;                 /* when last_nc was accepted */
	char branch[AUTH_BRANCH_MAX];     /* Via branch of that request, "" if too long */
};

static struct nonce_slot ring[AUTH_NONCE_MAX];
static unsigned ring_next;
static uint64_t lifetime_ms = AUTH_NONCE_LIFETIME_MS;

static struct nonce_slot *slot_find(const char *nonce)
{
	if (!nonce || strlen(nonce) != AUTH_NONCE_LEN)
		return NULL;
	for (unsigned i = 0; i < AUTH_NONCE_MAX; i++)
		if (ring[i].nonce[0] && !memcmp(ring[i].nonce, nonce, AUTH_NONCE_LEN))
			return &ring[i];
	return NULL;
}

int auth_nonce_new(uint64_t now_ms, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[AUTH_NONCE_LEN / 2];
	struct nonce_slot *s = &ring[ring_next];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return errno ? -errno : -EIO;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		s->nonce[2 * i] = hex[rnd[i] >> 4];
		s->nonce[2 * i + 1] = hex[rnd[i] & 15];
	}
	s->nonce[AUTH_NONCE_LEN] = '\0';
	s->issued_ms = now_ms;
	s->last_nc = 0;
	s->branch[0] = '\0';
	ring_next = (ring_next + 1) % AUTH_NONCE_MAX;
	memcpy(out, s->nonce, AUTH_NONCE_LEN + 1);
	return 0;
}

enum auth_nonce_state auth_nonce_check(const char *nonce, uint32_t nc, const char *branch,
				       uint64_t now_ms)
{
	const struct nonce_slot *s = slot_find(nonce);

	if (!s)
		return AUTH_NONCE_UNKNOWN;
	if (nc == s->last_nc && branch && s->branch[0] && !strcmp(branch, s->branch) &&
	    now_ms - s->used_ms < AUTH_NONCE_RETRANS_MS)
		return AUTH_NONCE_RETRANS;
	if (nc <= s->last_nc)
		return AUTH_NONCE_REPLAY;
	if (now_ms - s->issued_ms >= lifetime_ms)
		return AUTH_NONCE_STALE;
	return AUTH_NONCE_FRESH;
}

void auth_nonce_use(const char *nonce, uint32_t nc, const char *branch, uint64_t now_ms)
{
	struct nonce_slot *s = slot_find(nonce);

	if (!s || nc <= s->last_nc)
		return;
	s->last_nc = nc;
	s->used_ms = now_ms;
	if (branch && strlen(branch) < sizeof(s->branch))
		strcpy(s->branch, branch);
	else
		s->branch[0] = '\0';
}

void auth_nonce_set_lifetime(uint64_t ms)
{
	lifetime_ms = ms ? ms : AUTH_NONCE_LIFETIME_MS;
}

void auth_nonce_reset(void)
{
	memset(ring, 0, sizeof(ring));
	ring_next = 0;
}
