/* URI helpers of the proxy. */
#ifndef SIPMASQ_PROXY_URI_H
#define SIPMASQ_PROXY_URI_H

#include <osipparser2/osip_parser.h>
#include <stddef.h>

/* proxy_aor_of: "scheme:user@host[:port]", the AOR of a To/From URI
 * without parameters (RFC 3261 10.3 step 5), into buf (n bytes, truncated). */
void proxy_aor_of(const osip_uri_t *uri, char *buf, size_t n);

/* proxy_uri_replace: replace *uri in place by a parsed copy of text.
 * Returns 0, -ENOMEM or -EINVAL (text does not parse; *uri unchanged). */
int proxy_uri_replace(osip_uri_t **uri, const char *text);

#endif
