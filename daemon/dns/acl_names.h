/* Host names in access lists (hosts_allow_reg, hosts_allow_sip,
 * hosts_deny_sip), resolved through the resolver (hosts file, then DNS)
 * without blocking the SIP loop: a name that does not resolve at start is
 * not a configuration error, as in siproxd; it matches nothing until it
 * resolves, and is looked up again when its cached answer runs out. */
#ifndef SIPMASQ_ACL_NAMES_H
#define SIPMASQ_ACL_NAMES_H

#include "daemon/base/acl.h"

/* acl_names_start: start resolving every name entry of acl (resolver_init
 * first). Names in the hosts file resolve at once; the others when DNS
 * answers (never waited for: the SIP loop runs meanwhile). Each name
 * still unresolved is logged naming `what` (e.g. "hosts_allow_reg"). acl
 * must outlive the resolver (callbacks update its entries). */
void acl_names_start(struct acl *acl, const char *what);

/* acl_names_refresh: follow the names of acl: take cached answers, start a
 * lookup for names whose answer expired (the entry keeps its last address
 * meanwhile; a name that stops resolving keeps it until the lookup
 * fails). Call about once a second. Never blocks. */
void acl_names_refresh(struct acl *acl);

#endif
