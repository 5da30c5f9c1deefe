/* Address access lists: siproxd's hosts_allow_reg / hosts_allow_sip /
 * hosts_deny_sip, "a.b.c.d/nn" entries separated by commas. */
#ifndef SIPMASQ_ACL_H
#define SIPMASQ_ACL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most numeric entries one list holds. */
#define ACL_MAX 64
/* Most host-name entries one list holds. */
#define ACL_NAMES_MAX 8
#define ACL_NAME_LEN 254        /* a host name with its NUL */

/* One IPv4 network. Both fields are in host byte order; net has no bits
 * outside mask. */
struct acl_entry {
	uint32_t net;
	uint32_t mask;
};

/* A host-name entry, "name" or siproxd's "name/nn": matched against the
 * name's address once it resolves (daemon/dns/acl_names.c looks it up
 * without blocking and again when its TTL runs out); until then, or while
 * it does not resolve, it matches nothing. */
struct acl_name {
	char name[ACL_NAME_LEN];
	uint32_t mask;          /* host byte order, from nn (default /32) */
	bool resolved;          /* ip is valid */
	uint32_t ip;            /* host byte order */
};

/* An access list; n == 0 && n_names == 0 is an empty list. */
struct acl {
	unsigned n;
	struct acl_entry e[ACL_MAX];
	unsigned n_names;
	struct acl_name names[ACL_NAMES_MAX];
};

/* acl_parse: replace *acl by the comma-separated list in text. Entries are
 * "a.b.c.d/nn" (nn 0..32), "a.b.c.d" (a /32), or a host name, optionally
 * with "/nn" as siproxd writes it ("gw.example.test/32"), kept as a name
 * (struct acl_name; nothing is looked up here). Blanks around entries are
 * ignored; an empty text gives an empty list. Returns 0; -EINVAL with the
 * reason in why (acl untouched) on a malformed entry or more than ACL_MAX
 * addresses or ACL_NAMES_MAX names. */
int acl_parse(const char *text, struct acl *acl, char *why, size_t why_len);

/* acl_match: does ip (network byte order) lie in one of acl's networks,
 * or in the network of a resolved name entry? False for an empty list. */
bool acl_match(const struct acl *acl, struct in_addr ip);

/* acl_permits: siproxd's access rule for a request from ip. deny wins; an
 * empty allow list allows everything; allow_reg governs REGISTER
 * (is_register), allow_sip every other request, and an address allowed to
 * register may also send other requests. */
bool acl_permits(const struct acl *allow_reg, const struct acl *allow_sip,
		 const struct acl *deny, struct in_addr ip, bool is_register);

/* acl_is_empty: no entry at all (an empty allow list allows everything). */
bool acl_is_empty(const struct acl *acl);

#endif
