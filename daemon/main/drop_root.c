/* Which capabilities the configuration keeps after dropping root (drop_root.h). */
#include "autoconfig.h"

#include <sys/capability.h>

#include "daemon/main/drop_root.h"
#include "daemon/media/offload.h"

int drop_root(const struct sipmasq_config *cfg, const struct privs_user *u)
{
	int keep[3];
	unsigned n = 0;
	int rc = privs_give(u, cfg->control_socket, false);

	if (!rc && offload_active()) {
		/* Map updates and reads (bpf() needs CAP_BPF on kernels that
		 * refuse unprivileged bpf), and the detach at stop (netlink,
		 * CAP_NET_ADMIN). The pins must be u's to be removed then. Before
		 * CAP_BPF (Linux 5.8) bpf() wanted CAP_SYS_ADMIN. */
		keep[n++] = CAP_IS_SUPPORTED(CAP_BPF) ? CAP_BPF : CAP_SYS_ADMIN;
		keep[n++] = CAP_NET_ADMIN;
		rc = privs_give(u, cfg->bpf_pin_dir, true);
	}
	/* Relay ports are bound per call, long after the drop. */
	if (cfg->rtp_proxy_enable && cfg->rtp_port_low < 1024)
		keep[n++] = CAP_NET_BIND_SERVICE;
	return rc ? rc : privs_drop(u, keep, n);
}
