/* mask_host / masked_host lookups, see host_mask.h. */
#include "autoconfig.h"

#include <string.h>
#include <strings.h>

#include "daemon/proxy/host_mask.h"

const char *host_mask_of(const struct sipmasq_config *cfg, const char *host)
{
	unsigned n = cfg->mask_host.n < cfg->masked_host.n ? cfg->mask_host.n : cfg->masked_host.n;

	for (unsigned i = 0; host && i < n; i++)
		if (!strcasecmp(host, cfg->mask_host.item[i]))
			return cfg->masked_host.item[i];
	return NULL;
}

const char *host_mask_masked_aor(const struct sipmasq_config *cfg, const char *aor)
{
	const char *at = aor ? strrchr(aor, '@') : NULL;
	size_t len;

	if (!at)
		return NULL;
	at++;
	len = strcspn(at, ":;");
	for (unsigned i = 0; i < cfg->masked_host.n; i++) {
		const char *m = cfg->masked_host.item[i];
		if (strlen(m) == len && !strncasecmp(at, m, len))
			return m;
	}
	return NULL;
}
