/* Binding table and its registration_file. A list, with hash indexes for
 * the lookups every REGISTER and every response makes (by token, contact
 * and AOR): with linear scans, thousands of bindings capped registrations
 * at ~2000/s (docs/benchmarks.md). The rarer lookups (user, source) still
 * walk the list. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "daemon/base/addr.h"
#include "daemon/base/log.h"
#include "daemon/proxy/registrations.h"
#include "daemon/base/statefile.h"

/* Unregistered bindings linger this long so late responses still map. */
#define REG_GRACE_S 32

static struct binding *bindings;
static char reg_path[256];
static unsigned live_registered;
/* autosave_registrations: at most one write per autosave_s (0 = every
 * change); a change inside the period is written when it ends (reg_tick)
 * or at exit (reg_flush). */
static unsigned autosave_s;
static time_t last_write;
static bool dirty;
static unsigned limit_total = ~0u, limit_per_aor = ~0u;   /* reg_set_limits */

#define REG_HASH_BUCKETS 16384u   /* power of two */
static struct binding *by_token[REG_HASH_BUCKETS];
static struct binding *by_contact[REG_HASH_BUCKETS];
static struct binding *by_aor[REG_HASH_BUCKETS];   /* case-insensitive */
static unsigned nbindings;

/* FNV-1a, reduced to a bucket index; fold: lower-case first (AORs compare
 * with strcasecmp). */
static unsigned str_bucket_fold(const char *s, bool fold)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)(fold ? tolower((unsigned char)*s) : *s)) * 16777619u;
	return h & (REG_HASH_BUCKETS - 1);
}

static unsigned str_bucket(const char *s)
{
	return str_bucket_fold(s, false);
}

static void index_add(struct binding *b)
{
	unsigned t = str_bucket(b->token), c = str_bucket(b->contact);
	unsigned a = str_bucket_fold(b->aor, true);

	b->next_token = by_token[t];
	by_token[t] = b;
	b->next_contact = by_contact[c];
	by_contact[c] = b;
	if (b->aor[0]) {   /* dialog bindings have none: one long chain else */
		b->next_aor = by_aor[a];
		by_aor[a] = b;
	}
	nbindings++;
}

static void index_del(struct binding *b)
{
	struct binding **pp;

	nbindings--;
	for (pp = &by_aor[str_bucket_fold(b->aor, true)]; b->aor[0] && *pp; pp = &(*pp)->next_aor)
		if (*pp == b) {
			*pp = b->next_aor;
			break;
		}

	for (pp = &by_token[str_bucket(b->token)]; *pp; pp = &(*pp)->next_token)
		if (*pp == b) {
			*pp = b->next_token;
			break;
		}
	for (pp = &by_contact[str_bucket(b->contact)]; *pp; pp = &(*pp)->next_contact)
		if (*pp == b) {
			*pp = b->next_contact;
			break;
		}
}

static void binding_free(struct binding *b)
{
	free(b->aor);
	free(b->contact);
	free(b->user);
	free(b->legacy);
	free(b);
}

static bool token_used(const char *token)
{
	return reg_find_token(token) != NULL;
}

static void token_new(char *out)
{
	unsigned char rnd[REG_TOKEN_LEN / 2];

	do {
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			/* getrandom(2) only fails before the pool is ready. */
			for (size_t i = 0; i < sizeof(rnd); i++)
				rnd[i] = (unsigned char)random();
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	} while (token_used(out));
}

static struct binding *binding_new(const char *token, const char *aor,
				   const char *contact, const char *user)
{
	struct binding *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->aor = strdup(aor ? aor : "");
	b->contact = strdup(contact);
	b->user = strdup(user ? user : "");
	if (!b->aor || !b->contact || !b->user) {
		binding_free(b);
		return NULL;
	}
	if (token)
		snprintf(b->token, sizeof(b->token), "%s", token);
	else
		token_new(b->token);
	b->next = bindings;
	bindings = b;
	index_add(b);
	return b;
}

static bool live(const struct binding *b, time_t now)
{
	return b->expires > now;
}

struct binding *reg_find_token(const char *token)
{
	for (struct binding *b = by_token[str_bucket(token)]; b; b = b->next_token)
		if (!strcmp(b->token, token))
			return b;
	return NULL;
}

struct binding *reg_find_user(const char *user)
{
	time_t now = time(NULL);

	if (!user || !*user)
		return NULL;
	for (struct binding *b = bindings; b; b = b->next)
		if (b->registered && live(b, now) && !strcmp(b->user, user))
			return b;
	return NULL;
}

struct binding *reg_find_aor(const char *aor)
{
	time_t now = time(NULL);

	for (struct binding *b = by_aor[str_bucket_fold(aor, true)]; b; b = b->next_aor)
		if (b->registered && live(b, now) && !strcasecmp(b->aor, aor))
			return b;
	return NULL;
}

bool reg_known_source(struct in_addr ip)
{
	time_t now = time(NULL);

	for (struct binding *b = bindings; b; b = b->next)
		if (b->registered && live(b, now) && b->src.sin_addr.s_addr == ip.s_addr)
			return true;
	return false;
}

void reg_set_limits(unsigned total, unsigned per_aor)
{
	limit_total = total;
	limit_per_aor = per_aor;
}

/* 0 when one more binding (of `aor` when registered) passes
 * reg_set_limits, else -ENOSPC (total) or -EDQUOT (per AOR). Bindings in
 * their grace period count in the total: they still hold memory. */
static int room_for(const char *aor, bool registered, time_t now)
{
	unsigned of_aor = 0;

	if (nbindings >= limit_total)
		return -ENOSPC;
	for (const struct binding *b = by_aor[str_bucket_fold(aor, true)]; registered && b;
	     b = b->next_aor)
		of_aor += b->registered && live(b, now) && !strcasecmp(b->aor, aor);
	return of_aor >= limit_per_aor ? -EDQUOT : 0;
}

struct binding *reg_bind(const char *aor, const char *contact, const char *user,
                         const struct sockaddr_in *src, unsigned expires_s,
                         bool registered)
{
	struct binding *b, *found = NULL;
	time_t now = time(NULL);

	for (b = by_contact[str_bucket(contact)]; b; b = b->next_contact) {
		if (strcmp(b->contact, contact))
			continue;
		if (aor ? !strcasecmp(b->aor, aor) : true) {
			/* For dialogs prefer the registered binding of this contact. */
			if (!found || (b->registered && !found->registered))
				found = b;
		}
	}
	b = found;
	if (!b) {
		int rc = room_for(aor ? aor : "", registered && aor, now);

		if (rc) {
			errno = -rc;
			return NULL;
		}
		b = binding_new(NULL, aor, contact, user);
		if (!b) {
			errno = ENOMEM;
			return NULL;
		}
		log_debug(DBCLASS_REG, "binding %s: new for %s -> %s", b->token,
			  aor ? aor : "(dialog)", contact);
	}
	b->src = *src;
	if (registered) {
		b->registered = true;
		b->expires = now + expires_s;
	} else if (!b->registered || !live(b, now)) {
		/* A dialog binding lives as long as it keeps being used. */
		if (b->expires < now + (time_t)expires_s)
			b->expires = now + expires_s;
	}
	return b;
}

void reg_unbind(struct binding *b)
{
	b->expires = time(NULL);
}

void reg_unbind_aor(const char *aor)
{
	for (struct binding *b = bindings; b; b = b->next)
		if (b->registered && !strcasecmp(b->aor, aor))
			reg_unbind(b);
}

void reg_set_expires(struct binding *b, unsigned seconds)
{
	b->expires = time(NULL) + seconds;
}

void reg_legacy_done(struct binding *b)
{
	free(b->legacy);
	b->legacy = NULL;
}

const struct binding *reg_head(void)
{
	return bindings;
}

unsigned reg_count(void)
{
	time_t now = time(NULL);
	unsigned n = 0;

	for (struct binding *b = bindings; b; b = b->next)
		n += b->registered && live(b, now);
	return n;
}

int reg_expire(time_t now)
{
	struct binding **pp = &bindings;
	int dropped = 0;
	bool save = false;

	while (*pp) {
		struct binding *b = *pp;

		if (b->expires + REG_GRACE_S <= now) {
			*pp = b->next;
			index_del(b);
			if (b->registered) {
				log_info("registration of %s (%s) expired", b->aor, b->contact);
				save = true;
			}
			binding_free(b);
			dropped++;
		} else {
			pp = &b->next;
		}
	}
	/* Also persist when the number of live registrations changed. */
	unsigned n = reg_count();
	if (save || n != live_registered)
		reg_save();
	return dropped;
}

static int reg_emit(FILE *f, void *arg)
{
	time_t now = time(NULL);

	(void)arg;
	fprintf(f, "# sipmasq registrations v1: token expires(unix s) src aor contact user "
		"[legacy]\n");
	for (struct binding *b = bindings; b; b = b->next) {
		char src[ADDR_STRLEN];

		if (!b->registered || !live(b, now))
			continue;
		fprintf(f, "%s %lld %s %s %s %s%s%s\n", b->token, (long long)b->expires,
			addr_str(&b->src, src), b->aor, b->contact,
			b->user[0] ? b->user : "-", b->legacy ? " " : "",
			b->legacy ? b->legacy : "");
	}
	return ferror(f) ? -EIO : 0;
}

/* Write the file now. */
static int reg_write(time_t now)
{
	/* Without a file there is nothing to keep in step: skip the count, a
	 * walk of every binding after each REGISTER. */
	if (!reg_path[0])
		return 0;
	live_registered = reg_count();
	dirty = false;
	last_write = now;
	return statefile_write(reg_path, reg_emit, NULL);
}

int reg_save(void)
{
	time_t now = time(NULL);

	/* The first change after a quiet period is written at once (a crash
	 * right after one REGISTER loses nothing); later ones within the
	 * period wait for its end. */
	if (autosave_s && last_write && now >= last_write && now - last_write < (time_t)autosave_s) {
		dirty = true;
		return 0;
	}
	return reg_write(now);
}

void reg_set_autosave(unsigned seconds)
{
	autosave_s = seconds;
}

void reg_tick(time_t now)
{
	if (dirty && (now < last_write || now - last_write >= (time_t)autosave_s))
		reg_write(now);
}

int reg_flush(void)
{
	return reg_write(time(NULL));
}

/* One line: token expires ip:port aor contact user. URIs never contain
 * spaces in libosip2's serialisation, so whitespace splits fields. */
int reg_restore(const char *token, const char *aor, const char *contact, const char *user,
		const char *legacy, const struct sockaddr_in *src, time_t expires, time_t now)
{
	struct binding *b;

	if (expires <= now || (token && token[0] && reg_find_token(token)))
		return 0;
	b = binding_new(token && token[0] ? token : NULL, aor, contact, user);
	if (!b)
		return -ENOMEM;
	if (legacy && !(b->legacy = strdup(legacy)))
		return -ENOMEM;   /* b stays, without its legacy Contact */
	b->src = *src;
	b->expires = expires;
	b->registered = true;
	return 1;
}

/* One line: token expires ip:port aor contact user [legacy]. URIs never
 * contain spaces in libosip2's serialisation, so whitespace splits fields. */
static int reg_parse_line(char *line, time_t now)
{
	char *tok = strtok(line, " \t\n"), *exp = strtok(NULL, " \t\n");
	char *src = strtok(NULL, " \t\n"), *aor = strtok(NULL, " \t\n");
	char *contact = strtok(NULL, " \t\n"), *user = strtok(NULL, " \t\n");
	char *legacy = strtok(NULL, " \t\n");
	char *colon, *end;
	long long expires;

	if (!tok || !exp || !src || !aor || !contact || !user ||
	    strlen(tok) != REG_TOKEN_LEN || !(colon = strrchr(src, ':')))
		return -EINVAL;
	expires = strtoll(exp, &end, 10);
	if (*end)
		return -EINVAL;
	*colon = '\0';
	struct sockaddr_in sa;
	uint16_t port = addr_parse_port(colon + 1, 0);
	if (!port || !addr_is_numeric(src, &sa.sin_addr))
		return -EINVAL;
	sa = addr_make(sa.sin_addr, port);
	return reg_restore(tok, aor, contact, strcmp(user, "-") ? user : "", legacy, &sa,
			   (time_t)expires, now);
}

/* sipmasq's own format, one binding a line (reg_emit). */
static int load_own(FILE *f, time_t now)
{
	char line[2048];
	int n = 0, lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		int rc = reg_parse_line(line, now);
		if (rc < 0)
			log_warn("%s:%d: unreadable registration line, skipped", reg_path, lineno);
		else
			n += rc;
	}
	return n;
}

int reg_init(const char *path)
{
	FILE *f;
	int n, c;
	time_t now = time(NULL);

	snprintf(reg_path, sizeof(reg_path), "%s", path ? path : "");
	if (!reg_path[0])
		return 0;
	f = fopen(reg_path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	/* siproxd's file starts with a slot line, "****:active:expires":
	 * registrations_siproxd.c reads it. */
	c = getc(f);
	n = c == '*' ? -EPROTO : (ungetc(c, f), load_own(f, now));
	fclose(f);
	live_registered = reg_count();
	return n;
}

void reg_fini(void)
{
	while (bindings) {
		struct binding *b = bindings;
		bindings = b->next;
		index_del(b);
		binding_free(b);
	}
}
