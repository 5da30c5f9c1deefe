/* Access-list host names followed through the asynchronous resolver. */
#include "autoconfig.h"

#include "daemon/dns/acl_names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/base/addr.h"
#include "daemon/base/log.h"
#include "daemon/dns/resolver.h"

/* A name as a hop with a port: plain address lookup, no SRV. */
static void name_hop(const struct acl_name *n, struct sip_hop *hop)
{
	memset(hop, 0, sizeof(*hop));
	snprintf(hop->host, sizeof(hop->host), "%s", n->name);
	hop->port = 5060;
	hop->proto = SIP_PROTO_UDP;
}

static void set_addr(struct acl_name *n, const struct sockaddr_in *sa)
{
	uint32_t ip = ntohl(sa->sin_addr.s_addr);

	if (!n->resolved || n->ip != ip) {
		char a[INET_ADDRSTRLEN];

		log_info("access list: %s is %s", n->name,
			 inet_ntop(AF_INET, &sa->sin_addr, a, sizeof(a)));
	}
	n->ip = ip;
	n->resolved = true;
}

static void on_resolved(void *arg, const struct sip_hop *hop, int err,
			const struct sockaddr_in *addr)
{
	struct acl_name *n = arg;

	(void)hop;
	if (!err)
		set_addr(n, addr);
	else if (err != -ECANCELED)
		log_ratelimited("acl-name", 60, LOG_NOTICE, "access list: %s does not resolve (%s)",
				n->name, strerror(-err));
}

void acl_names_refresh(struct acl *acl)
{
	for (unsigned i = 0; i < acl->n_names; i++) {
		struct acl_name *n = &acl->names[i];
		struct sip_hop hop;
		struct sockaddr_in sa;
		int rc;

		name_hop(n, &hop);
		rc = resolver_cached(&hop, &sa);
		if (rc == 0)
			set_addr(n, &sa);
		else if (rc == -EAGAIN)
			resolver_start(&hop, on_resolved, n);   /* -EBUSY: next second */
	}
}

void acl_names_start(struct acl *acl, const char *what)
{
	acl_names_refresh(acl);   /* hosts-file names resolve right here */
	for (unsigned i = 0; i < acl->n_names; i++)
		if (!acl->names[i].resolved)
			log_notice("%s: host name '%s' not resolved yet: it matches nothing until "
				   "it does", what, acl->names[i].name);
}
