/* mask_host / masked_host (siproxd): UAs that register with the proxy's
 * inbound address as their domain (e.g. sip:alice@10.0.0.1) and cannot be
 * told otherwise are masqueraded as user@masked_host. */
#ifndef SIPMASQ_HOST_MASK_H
#define SIPMASQ_HOST_MASK_H

#include "daemon/config/config.h"

/* host_mask_of: the masked_host paired with the mask_host entry equal to
 * `host` (case-insensitive, RFC 3261 19.1.4), or NULL when no entry
 * matches or host is NULL. The lists are parallel (config_check). The
 * result points into cfg. */
const char *host_mask_of(const struct sipmasq_config *cfg, const char *host);

/* host_mask_masked_aor: the masked_host value that is the host of `aor`
 * ("scheme:user@host[:port]", as bindings store it), or NULL: a binding
 * made under a mask shows this host in its masqueraded Contact. */
const char *host_mask_masked_aor(const struct sipmasq_config *cfg, const char *aor);

#endif
