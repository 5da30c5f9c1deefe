/* URI helpers of the proxy: AORs and in-place URI replacement. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>

#include "daemon/proxy/proxy_uri.h"

/* "scheme:user@host[:port]": the AOR of a To/From URI without parameters. */
void proxy_aor_of(const osip_uri_t *uri, char *buf, size_t n)
{
	snprintf(buf, n, "%s:%s%s%s%s%s", uri->scheme ? uri->scheme : "sip",
		 uri->username ? uri->username : "", uri->username ? "@" : "",
		 uri->host ? uri->host : "", uri->port ? ":" : "", uri->port ? uri->port : "");
}

/* Replace a URI in place by a parsed copy of `text`. */
int proxy_uri_replace(osip_uri_t **uri, const char *text)
{
	osip_uri_t *u;

	if (osip_uri_init(&u) != 0)
		return -ENOMEM;
	if (osip_uri_parse(u, text) != 0) {
		osip_uri_free(u);
		return -EINVAL;
	}
	osip_uri_free(*uri);
	*uri = u;
	return 0;
}
