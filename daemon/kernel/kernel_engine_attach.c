/* Kernel engine: hooking the fast path into interfaces.
 *
 * XDP uses bpf_links (created with the mode flag), pinned as
 * <pin_dir>/xdp_link_<ifname>: a link outlives the daemon through its pin,
 * and the next daemon swaps the program inside it with bpf_link_update(),
 * which is atomic (no packet sees no program). tc uses a cls_bpf filter on
 * clsact ingress (libbpf 1.1 has no tcx links); the filter outlives the
 * daemon by itself and BPF_TC_F_REPLACE swaps its program atomically. Its
 * program is also pinned, as <pin_dir>/tc_prog_<ifname>, so that the pin
 * directory alone lists everything attached (bpftool shows it, and a clean
 * stop can undo it). */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon/kernel/kernel_engine_priv.h"
#include "daemon/base/log.h"

/* ke_slot: this engine's record of ifname, or a free one when `create`.
 * NULL when there is none. */
static struct ke_iface *ke_slot(struct kernel_engine *ke, const char *ifname, bool create)
{
	struct ke_iface *free_slot = NULL;
	unsigned int i;

	for (i = 0; i < KERNEL_ENGINE_MAX_IFACES; i++) {
		struct ke_iface *s = &ke->ifaces[i];

		if (s->mode != KE_MODE_NONE && !strcmp(s->name, ifname))
			return s;
		if (s->mode == KE_MODE_NONE && !free_slot)
			free_slot = s;
	}
	return create ? free_slot : NULL;
}

/* ke_xdp_link_current: the pinned link fd is an XDP link on ifindex whose
 * program is the one running there in `mode` (i.e. not a link left on a
 * vanished interface, nor one of the other mode). */
static bool ke_xdp_link_current(int fd, int ifindex, enum kernel_engine_mode mode)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_LINK_TYPE_XDP ||
	    (int)info.xdp.ifindex != ifindex)
		return false;
	if (bpf_xdp_query(ifindex, 0, &q))
		return false;
	return info.prog_id == (mode == KE_MODE_XDP_NATIVE ? q.drv_prog_id : q.skb_prog_id);
}

/* ke_xdp_unpin: detach and unpin our XDP link on ifname. Returns 0 or
 * -ENOENT when there was none. */
static int ke_xdp_unpin(struct kernel_engine *ke, const char *ifname)
{
	char path[PATH_MAX];
	int fd;

	if (ke_pin_path(ke, KE_PIN_XDP_LINK, ifname, path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return fd;
	/* Detach explicitly: another process may still hold the link. */
	bpf_link_detach(fd);
	close(fd);
	unlink(path);
	return 0;
}

/* ke_tc_unpin: remove our tc filter from ifname (by handle and priority)
 * and its program pin. Returns 0 or -ENOENT when it was not pinned. */
static int ke_tc_unpin(struct kernel_engine *ke, const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, topts, .handle = KE_TC_HANDLE, .priority = KE_TC_PRIO);
	char path[PATH_MAX];

	/* The pin marks our filter: without it there is nothing of ours to
	 * remove (and no need to ask the kernel and log its complaint). */
	if (ke_pin_path(ke, KE_PIN_TC_PROG, ifname, path) || unlink(path) < 0)
		return -ENOENT;
	hook.ifindex = (int)if_nametoindex(ifname);
	if (hook.ifindex) {
		ke_libbpf_quiet(true);
		bpf_tc_detach(&hook, &topts);   /* already gone is fine */
		ke_libbpf_quiet(false);
	}
	return 0;
}

/* ke_xdp_attach: XDP in native or generic mode, replacing our pinned link's
 * program in place when it is current. */
static int ke_xdp_attach(struct kernel_engine *ke, const char *ifname, int ifindex,
			 enum kernel_engine_mode mode, char *why, size_t why_len)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	int prog = mode == KE_MODE_XDP_NATIVE ? ke->xdp_prog_fd : ke->xdp_generic_prog_fd;
	char path[PATH_MAX];
	int fd, err;

	err = ke_pin_path(ke, KE_PIN_XDP_LINK, ifname, path);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (ke_xdp_link_current(fd, ifindex, mode)) {
			err = bpf_link_update(fd, prog, NULL);
			close(fd);
			if (!err) {
				log_info("kernel engine: %s: XDP program replaced in place (%s)",
					 ifname, kernel_engine_mode_name(mode));
				return 0;
			}
			log_warn("kernel engine: %s: cannot update the pinned XDP link (%s), "
				 "attaching anew", ifname, strerror(-err));
		} else {
			close(fd);
		}
		/* Stale (interface recreated) or the other mode, which cannot
		 * coexist with the new one: remove it first. */
		ke_xdp_unpin(ke, ifname);
	}

	lopts.flags = mode == KE_MODE_XDP_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	fd = bpf_link_create(prog, ifindex, BPF_XDP, &lopts);
	if (fd < 0) {
		ke_why(why, why_len, LOG_INFO, "%s on %s: %s (%s)", kernel_engine_mode_name(mode),
		       ifname, ke_errno_text(fd), strerror(-fd));
		return fd;
	}
	err = bpf_obj_pin(fd, path);
	/* Our descriptor was the link's only other reference: on failure the
	 * link goes with it. */
	close(fd);
	if (err) {
		ke_why(why, why_len, LOG_WARNING, "%s on %s: cannot pin %s: %s",
		       kernel_engine_mode_name(mode), ifname, path, strerror(-err));
		return err;
	}
	return 0;
}

/* ke_tc_attach: cls_bpf filter on clsact ingress, created or replaced. */
static int ke_tc_attach(struct kernel_engine *ke, const char *ifname, int ifindex,
			char *why, size_t why_len)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, topts, .handle = KE_TC_HANDLE, .priority = KE_TC_PRIO,
		    .flags = BPF_TC_F_REPLACE);
	char path[PATH_MAX];
	int err;

	hook.ifindex = ifindex;
	topts.prog_fd = ke->tc_prog_fd;
	err = ke_pin_path(ke, KE_PIN_TC_PROG, ifname, path);
	if (err)
		return err;
	/* The clsact qdisc may be there already (ours from before, or shared
	 * with other tools): it stays when we leave. */
	ke_libbpf_quiet(true);
	err = bpf_tc_hook_create(&hook);
	ke_libbpf_quiet(false);
	if (err && err != -EEXIST) {
		ke_why(why, why_len, LOG_INFO, "tc on %s: cannot add the clsact qdisc: %s (%s)",
		       ifname, ke_errno_text(err), strerror(-err));
		return err;
	}
	err = bpf_tc_attach(&hook, &topts);
	if (err) {
		ke_why(why, why_len, LOG_INFO, "tc on %s: %s (%s)", ifname, ke_errno_text(err),
		       strerror(-err));
		return err;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("kernel engine: cannot remove %s: %s", path, strerror(errno));
	err = bpf_obj_pin(ke->tc_prog_fd, path);
	if (err) {
		LIBBPF_OPTS(bpf_tc_opts, dopts, .handle = KE_TC_HANDLE, .priority = KE_TC_PRIO);

		bpf_tc_detach(&hook, &dopts);
		ke_why(why, why_len, LOG_WARNING, "tc on %s: cannot pin %s: %s", ifname, path,
		       strerror(-err));
		return err;
	}
	return 0;
}

int kernel_engine_attach(struct kernel_engine *ke, const char *ifname,
			 enum kernel_engine_mode mode, char *why, size_t why_len)
{
	struct ke_iface *slot;
	int ifindex, err;

	if (why && why_len)
		why[0] = '\0';
	if (mode == KE_MODE_AUTO)
		return kernel_engine_attach_auto(ke, ifname, NULL, why, why_len);
	if (!ke->skel || mode == KE_MODE_NONE || mode > KE_MODE_AUTO ||
	    strlen(ifname) >= IF_NAMESIZE) {
		ke_why(why, why_len, LOG_ERR, "cannot attach to '%s' in mode %s", ifname,
		       kernel_engine_mode_name(mode));
		return -EINVAL;
	}
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		ke_why(why, why_len, LOG_WARNING, "%s on %s: no such interface",
		       kernel_engine_mode_name(mode), ifname);
		return -ENODEV;
	}
	slot = ke_slot(ke, ifname, true);
	if (!slot) {
		ke_why(why, why_len, LOG_WARNING, "%s: more than %d interfaces", ifname,
		       KERNEL_ENGINE_MAX_IFACES);
		return -ENOSPC;
	}

	/* The new attachment goes in first, the other mode's goes after:
	 * while both exist XDP forwards and tc only sees what XDP passed. */
	if (mode == KE_MODE_TC) {
		err = ke_tc_attach(ke, ifname, ifindex, why, why_len);
		if (!err)
			ke_xdp_unpin(ke, ifname);
	} else {
		err = ke_xdp_attach(ke, ifname, ifindex, mode, why, why_len);
		if (!err)
			ke_tc_unpin(ke, ifname);
	}
	if (err)
		return err;

	snprintf(slot->name, sizeof(slot->name), "%s", ifname);
	slot->ifindex = ifindex;
	slot->mode = mode;
	/* A driver with native XDP takes XDP frames too (as a rule: a veth
	 * only when its peer runs XDP). Interfaces in the other modes may not
	 * (a bridge cannot), and native XDP passes packets for them to the
	 * stack; generic XDP and tc reach every interface without the map. */
	if (mode == KE_MODE_XDP_NATIVE)
		err = kernel_engine_tx_port_add(ke, ifindex);
	else
		err = kernel_engine_tx_port_del(ke, ifindex);
	if (err && err != -ENOENT)
		log_warn("kernel engine: %s: cannot update %s: %s", ifname, SMQ_MAP_TX_PORTS,
			 strerror(-err));
	log_info("kernel engine: fast path attached to %s (%s)", ifname,
		 kernel_engine_mode_name(mode));
	return 0;
}

int kernel_engine_attach_auto(struct kernel_engine *ke, const char *ifname,
			      enum kernel_engine_mode *chosen, char *why, size_t why_len)
{
	/* Generic XDP is never chosen for the user: it copies every
	 * non-linear skb, sees partial checksums it cannot complete, and
	 * leaves an Ethernet header on a redirect to an L3 device; tc does
	 * the same work on the skb without those traps. */
	static const enum kernel_engine_mode order[] = {
		KE_MODE_XDP_NATIVE, KE_MODE_TC,
	};
	char step[256], acc[768] = "";
	size_t used = 0;
	unsigned int i;
	int err = -EINVAL;

	if (chosen)
		*chosen = KE_MODE_NONE;
	if (why && why_len)
		why[0] = '\0';
	if (!ke->skel)
		return kernel_engine_attach(ke, ifname, KE_MODE_TC, why, why_len);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		err = kernel_engine_attach(ke, ifname, order[i], step, sizeof(step));
		if (!err) {
			if (chosen)
				*chosen = order[i];
			if (used)
				log_notice("kernel engine: %s: using %s: %s", ifname,
					   kernel_engine_mode_name(order[i]), acc);
			break;
		}
		if (used < sizeof(acc))
			used += (size_t)snprintf(acc + used, sizeof(acc) - used, "%s%s",
						 used ? "; " : "", step);
		/* Nothing below can do better. */
		if (err == -ENODEV || err == -EPERM || err == -EACCES || err == -ENOSPC)
			break;
	}
	if (err)
		log_warn("kernel engine: %s: no fast path: %s", ifname, acc);
	if (why && why_len)
		snprintf(why, why_len, "%s", acc);
	return err;
}

int kernel_engine_detach(struct kernel_engine *ke, const char *ifname)
{
	struct ke_iface *slot = ke_slot(ke, ifname, false);
	int ifindex = slot ? slot->ifindex : (int)if_nametoindex(ifname);
	int xdp = ke_xdp_unpin(ke, ifname);
	int tc = ke_tc_unpin(ke, ifname);

	if (ifindex)
		kernel_engine_tx_port_del(ke, ifindex);
	if (slot)
		slot->mode = KE_MODE_NONE;
	if (xdp && tc)
		return -ENOENT;
	log_info("kernel engine: fast path detached from %s", ifname);
	return 0;
}

enum kernel_engine_mode kernel_engine_iface_mode(const struct kernel_engine *ke,
						 const char *ifname)
{
	unsigned int i;

	for (i = 0; i < KERNEL_ENGINE_MAX_IFACES; i++)
		if (ke->ifaces[i].mode != KE_MODE_NONE && !strcmp(ke->ifaces[i].name, ifname))
			return ke->ifaces[i].mode;
	return KE_MODE_NONE;
}

void ke_detach_pinned_all(struct kernel_engine *ke)
{
	/* Names first, then the detaching: unlinking while readdir() walks
	 * the directory is allowed to skip entries. */
	char names[2 * KERNEL_ENGINE_MAX_IFACES + 8][NAME_MAX + 1];
	size_t xl = strlen(KE_PIN_XDP_LINK), tl = strlen(KE_PIN_TC_PROG);
	unsigned int n = 0, i;
	struct dirent *de;
	DIR *d = opendir(ke->pin_dir);

	if (!d)
		return;
	while ((de = readdir(d)) && n < sizeof(names) / sizeof(names[0]))
		if (!strncmp(de->d_name, KE_PIN_XDP_LINK, xl) ||
		    !strncmp(de->d_name, KE_PIN_TC_PROG, tl))
			snprintf(names[n++], sizeof(names[0]), "%s", de->d_name);
	closedir(d);
	for (i = 0; i < n; i++) {
		if (!strncmp(names[i], KE_PIN_XDP_LINK, xl))
			ke_xdp_unpin(ke, names[i] + xl);
		else
			ke_tc_unpin(ke, names[i] + tl);
	}
	memset(ke->ifaces, 0, sizeof(ke->ifaces));
}
