/* Address access lists (siproxd's hosts_allow_reg, hosts_allow_sip,
 * hosts_deny_sip): parsing at start-up and matching per request. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/base/acl.h"

/* Longest entry accepted: a host name is at most 253 characters. */
#define ENTRY_MAX 256

static uint32_t prefix_mask(unsigned bits)
{
	return bits ? 0xffffffffu << (32 - bits) : 0;
}

static int add(struct acl *acl, uint32_t net, uint32_t mask, char *why, size_t why_len)
{
	if (acl->n >= ACL_MAX) {
		snprintf(why, why_len, "more than %d entries", ACL_MAX);
		return -EINVAL;
	}
	acl->e[acl->n].net = net & mask;
	acl->e[acl->n].mask = mask;
	acl->n++;
	return 0;
}

/* A host name (checked for its characters only), matched once resolved. */
static int add_name(struct acl *acl, const char *name, uint32_t mask, char *why,
		    size_t why_len)
{
	for (const char *p = name; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.') {
			snprintf(why, why_len, "'%.64s' is neither a.b.c.d[/nn] nor a host name",
				 name);
			return -EINVAL;
		}
	}
	if (strlen(name) >= ACL_NAME_LEN) {
		snprintf(why, why_len, "host name too long");
		return -EINVAL;
	}
	if (acl->n_names >= ACL_NAMES_MAX) {
		snprintf(why, why_len, "more than %d host names", ACL_NAMES_MAX);
		return -EINVAL;
	}
	struct acl_name *n = &acl->names[acl->n_names++];

	memset(n, 0, sizeof(*n));
	strcpy(n->name, name);
	n->mask = mask;
	return 0;
}

/* One trimmed, non-empty entry. */
static int add_entry(struct acl *acl, char *entry, char *why, size_t why_len)
{
	char *slash = strchr(entry, '/');
	unsigned bits = 32;
	struct in_addr a;

	if (slash) {
		char *end;
		unsigned long n;

		*slash = '\0';
		errno = 0;
		n = strtoul(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || errno || n > 32) {
			snprintf(why, why_len, "'%.64s/%.8s': the prefix length must be 0..32",
				 entry, slash + 1);
			return -EINVAL;
		}
		bits = (unsigned)n;
	}
	if (inet_pton(AF_INET, entry, &a) == 1)
		return add(acl, ntohl(a.s_addr), prefix_mask(bits), why, why_len);
	if (strspn(entry, "0123456789.") == strlen(entry)) {
		/* "10.0.0/8" or "300.1.1.1": a typo, not a name to look up. */
		if (slash)
			*slash = '/';
		snprintf(why, why_len, "'%.64s' is not an IPv4 address (a.b.c.d)", entry);
		return -EINVAL;
	}
	return add_name(acl, entry, prefix_mask(bits), why, why_len);
}

int acl_parse(const char *text, struct acl *acl, char *why, size_t why_len)
{
	struct acl *out = calloc(1, sizeof(*out));
	const char *p = text;
	int rc = 0;

	if (!out) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	while (*p && !rc) {
		size_t len = strcspn(p, ",");
		char entry[ENTRY_MAX], *s, *e;

		if (len >= sizeof(entry)) {
			snprintf(why, why_len, "entry too long");
			rc = -EINVAL;
			break;
		}
		memcpy(entry, p, len);
		entry[len] = '\0';
		for (s = entry; isspace((unsigned char)*s); s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (!*s) {
			snprintf(why, why_len, "empty entry in the list");
			rc = -EINVAL;
			break;
		}
		rc = add_entry(out, s, why, why_len);
		p += len;
		if (*p == ',')
			p++;
	}
	if (!rc)
		*acl = *out;
	free(out);
	return rc;
}

bool acl_match(const struct acl *acl, struct in_addr ip)
{
	uint32_t h = ntohl(ip.s_addr);

	for (unsigned i = 0; i < acl->n; i++)
		if ((h & acl->e[i].mask) == acl->e[i].net)
			return true;
	for (unsigned i = 0; i < acl->n_names; i++) {
		const struct acl_name *n = &acl->names[i];

		if (n->resolved && (h & n->mask) == (n->ip & n->mask))
			return true;
	}
	return false;
}

bool acl_is_empty(const struct acl *acl)
{
	return !acl->n && !acl->n_names;
}

bool acl_permits(const struct acl *allow_reg, const struct acl *allow_sip,
		 const struct acl *deny, struct in_addr ip, bool is_register)
{
	if (acl_match(deny, ip))
		return false;
	if (is_register)
		return acl_is_empty(allow_reg) || acl_match(allow_reg, ip);
	return acl_is_empty(allow_sip) || acl_match(allow_sip, ip) || acl_match(allow_reg, ip);
}
