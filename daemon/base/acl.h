/* Address access lists: siproxd's hosts_allow_reg / hosts_allow_sip /
 * hosts_deny_sip, "a.b.c.d/nn" entries separated by commas. */
#ifndef SIPMASQ_ACL_H
#define SIPMASQ_ACL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most entries one list holds (after host names are expanded). */
#define ACL_MAX 64

/* One IPv4 network. Both fields are in host byte order; net has no bits
 * outside mask. */
struct acl_entry {
	uint32_t net;
	uint32_t mask;
};

/* An access list; n == 0 is an empty list. */
struct acl {
	unsigned n;
	struct acl_entry e[ACL_MAX];
};

/* acl_parse: replace *acl by the comma-separated list in text. Entries are
 * "a.b.c.d/nn" (nn 0..32), "a.b.c.d" (a /32), or a host name, resolved
 * here, once, into a /32 for each of its IPv4 addresses (this blocks on
 * DNS; it is meant for start-up). Blanks around entries are ignored; an
 * empty text gives an empty list. Returns 0; -EINVAL with the reason in why
 * (acl untouched) on a malformed entry, a name that does not resolve, or
 * more than ACL_MAX entries. */
int acl_parse(const char *text, struct acl *acl, char *why, size_t why_len);

/* acl_match: does ip (network byte order) lie in one of acl's networks?
 * False for an empty list. */
bool acl_match(const struct acl *acl, struct in_addr ip);

/* acl_permits: siproxd's access rule for a request from ip. deny wins; an
 * empty allow list allows everything; allow_reg governs REGISTER
 * (is_register), allow_sip every other request, and an address allowed to
 * register may also send other requests. */
bool acl_permits(const struct acl *allow_reg, const struct acl *allow_sip,
		 const struct acl *deny, struct in_addr ip, bool is_register);

#endif
