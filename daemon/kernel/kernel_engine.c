/* Kernel engine life cycle: bpffs and the pin directory, loading the
 * skeleton with pinned maps reused (a restarted daemon keeps the streams of
 * the previous one), closing with or without the pins.
 * Attaching is in kernel_engine_attach.c, names and logging in kernel_engine_util.c,
 * map contents in kernel_engine_maps.c. */
#include "autoconfig.h"

#include <errno.h>
#include <libgen.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/smq_fwd.skel.h"
#include "daemon/kernel/kernel_engine_priv.h"
#include "daemon/base/log.h"

#define KE_BPFFS_ROOT "/sys/fs/bpf"

/* ke_is_bpffs: path exists on a bpf filesystem. */
static bool ke_is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/* ke_prepare_pin_dir: make sure the pin directory exists on bpffs. Only
 * /sys/fs/bpf is ever mounted (the conventional place, e.g. in a container
 * or a minimal system without systemd); any other parent is the operator's
 * choice and must already be a bpffs. */
static int ke_prepare_pin_dir(struct kernel_engine *ke, char *why, size_t why_len)
{
	char parent[PATH_MAX];
	int err;

	if (!ke_is_bpffs(ke->pin_dir)) {
		snprintf(parent, sizeof(parent), "%s", ke->pin_dir);
		dirname(parent);
		if (!ke_is_bpffs(parent)) {
			if (strcmp(parent, KE_BPFFS_ROOT)) {
				ke_why(why, why_len, LOG_WARNING,
				       "pin directory %s: %s is not on a bpf filesystem",
				       ke->pin_dir, parent);
				return -ENOTDIR;
			}
			if (mount("bpf", KE_BPFFS_ROOT, "bpf", 0, NULL) < 0) {
				err = -errno;
				ke_why(why, why_len, LOG_WARNING, "cannot mount bpffs on %s: %s",
				       KE_BPFFS_ROOT, strerror(-err));
				return err;
			}
			log_notice("kernel engine: mounted bpffs on %s", KE_BPFFS_ROOT);
		}
		if (mkdir(ke->pin_dir, 0700) < 0 && errno != EEXIST) {
			err = -errno;
			ke_why(why, why_len, LOG_WARNING, "cannot create %s: %s", ke->pin_dir,
			       strerror(-err));
			return err;
		}
	}
	return 0;
}

/* ke_reuse_map: if `map` is pinned already, make the skeleton use the pinned
 * map instead of creating one (its contents carry on). A pinned map of
 * another shape (an older layout) is unpinned and replaced. The stream map
 * keeps its pinned size (adopt_size): resizing would mean dropping every
 * stream; the configured size applies after a clean stop.
 * Returns 1 if reused, 0 if a new map will be created, or -errno. */
static int ke_reuse_map(struct kernel_engine *ke, struct bpf_map *map, bool adopt_size)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	err = ke_pin_path(ke, "", bpf_map__name(map), path);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0) {
		log_warn("kernel engine: cannot open pinned %s: %s", path, strerror(-fd));
		return fd;
	}
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err) {
		close(fd);
		return err;
	}
	/* Device maps are made read-only for programs by the kernel itself. */
	if (info.type == BPF_MAP_TYPE_DEVMAP || info.type == BPF_MAP_TYPE_DEVMAP_HASH)
		info.map_flags &= ~(__u32)BPF_F_RDONLY_PROG;
	if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
	    info.value_size != bpf_map__value_size(map) ||
	    info.map_flags != bpf_map__map_flags(map) ||
	    (!adopt_size && info.max_entries != bpf_map__max_entries(map))) {
		log_warn("kernel engine: pinned %s has another layout (older sipmasq?): "
			 "replacing it, its entries are lost", path);
		close(fd);
		if (unlink(path) < 0)
			return -errno;
		return 0;
	}
	if (info.max_entries != bpf_map__max_entries(map))
		log_notice("kernel engine: %s keeps its %u entries (configured: %u, applies "
			   "after a clean stop)", path, info.max_entries, bpf_map__max_entries(map));
	err = bpf_map__reuse_fd(map, fd);
	close(fd);
	if (err) {
		log_warn("kernel engine: cannot reuse %s: %s", path, strerror(-err));
		return err;
	}
	log_debug(DBCLASS_NET, "kernel engine: reusing pinned %s", path);
	return 1;
}

/* ke_load: open the skeleton, reuse or create and pin the maps, load the
 * programs. */
static int ke_load(struct kernel_engine *ke, uint32_t max_entries, char *why, size_t why_len)
{
	struct bpf_map *maps[3];
	bool reused[3];
	char path[PATH_MAX];
	unsigned int i;
	int err;

	ke->skel = smq_fwd__open();
	if (!ke->skel) {
		err = -errno;
		ke_why(why, why_len, LOG_WARNING, "cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	if (ke->skel->rodata->smq_abi_version != SMQ_ABI_VERSION) {
		ke_why(why, why_len, LOG_ERR, "BPF object built for ABI %u, daemon for %u",
		       ke->skel->rodata->smq_abi_version, SMQ_ABI_VERSION);
		return -EPROTO;
	}
	err = bpf_map__set_max_entries(ke->skel->maps.smq_streams, max_entries);
	if (err)
		return err;

	maps[0] = ke->skel->maps.smq_streams;
	maps[1] = ke->skel->maps.smq_stats;
	maps[2] = ke->skel->maps.smq_tx_ports;
	for (i = 0; i < 3; i++) {
		err = ke_reuse_map(ke, maps[i], i == 0);
		if (err < 0) {
			ke_why(why, why_len, LOG_WARNING, "cannot reuse pinned %s: %s",
			       bpf_map__name(maps[i]), strerror(-err));
			return err;
		}
		reused[i] = err == 1;
	}

	ke_verifier_reset();
	err = smq_fwd__load(ke->skel);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			ke_why(why, why_len, LOG_WARNING, "cannot load the BPF programs: %s (%s)",
			       ke_errno_text(err), strerror(-err));
		else
			ke_why(why, why_len, LOG_WARNING,
			       "cannot load the BPF programs (kernel too old or verifier): %s",
			       ke_verifier_last()[0] ? ke_verifier_last() : strerror(-err));
		return err;
	}

	for (i = 0; i < 3; i++) {
		if (reused[i])
			continue;
		err = ke_pin_path(ke, "", bpf_map__name(maps[i]), path);
		if (!err)
			err = bpf_map__pin(maps[i], path);
		if (err) {
			ke_why(why, why_len, LOG_WARNING, "cannot pin %s: %s", path, strerror(-err));
			return err;
		}
	}
	ke->streams_fd = bpf_map__fd(ke->skel->maps.smq_streams);
	ke->stats_fd = bpf_map__fd(ke->skel->maps.smq_stats);
	ke->tx_ports_fd = bpf_map__fd(ke->skel->maps.smq_tx_ports);
	ke->xdp_prog_fd = bpf_program__fd(ke->skel->progs.smq_xdp);
	ke->xdp_generic_prog_fd = bpf_program__fd(ke->skel->progs.smq_xdp_generic);
	ke->tc_prog_fd = bpf_program__fd(ke->skel->progs.smq_tc);
	log_info("kernel engine: loaded (maps %s in %s, smq_streams: %u entries)",
		 reused[0] ? "reused" : "created", ke->pin_dir,
		 bpf_map__max_entries(ke->skel->maps.smq_streams));
	return 0;
}

/* ke_open_pinned: maps_only mode: open the three pinned maps and check
 * that their shapes are the ones this daemon knows. */
static int ke_open_pinned(struct kernel_engine *ke, char *why, size_t why_len)
{
	static const struct {
		const char *name;
		__u32 key_size, value_size;
	} want[3] = {
		{ SMQ_MAP_STREAMS, sizeof(struct smq_flow_key), sizeof(struct smq_flow_action) },
		{ SMQ_MAP_STATS, sizeof(__u32), sizeof(__u64) },
		{ SMQ_MAP_TX_PORTS, sizeof(__u32), sizeof(__u32) },
	};
	int *fds[3] = { &ke->streams_fd, &ke->stats_fd, &ke->tx_ports_fd };
	struct bpf_map_info info;
	char path[PATH_MAX];
	unsigned int i;
	__u32 len;
	int err;

	for (i = 0; i < 3; i++) {
		err = ke_pin_path(ke, "", want[i].name, path);
		if (err)
			return err;
		*fds[i] = bpf_obj_get(path);
		if (*fds[i] < 0) {
			err = *fds[i];
			ke_why(why, why_len, err == -ENOENT ? LOG_INFO : LOG_WARNING,
			       "cannot open %s: %s", path, strerror(-err));
			return err;
		}
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		err = bpf_obj_get_info_by_fd(*fds[i], &info, &len);
		if (err)
			return err;
		if (info.key_size != want[i].key_size || info.value_size != want[i].value_size ||
		    (i == 1 && info.max_entries != SMQ_REASON__COUNT)) {
			ke_why(why, why_len, LOG_WARNING,
			       "%s has another layout than this sipmasq's (ABI %u)", path,
			       SMQ_ABI_VERSION);
			return -EPROTO;
		}
	}
	return 0;
}

int kernel_engine_open(const struct kernel_engine_opts *opts, struct kernel_engine **out,
		       char *why, size_t why_len)
{
	static const struct kernel_engine_opts defaults;
	struct kernel_engine *ke;
	const char *dir;
	int ncpus, err;

	*out = NULL;
	if (why && why_len)
		why[0] = '\0';
	if (!opts)
		opts = &defaults;
	dir = opts->pin_dir ? opts->pin_dir : KERNEL_ENGINE_PIN_DIR;
	ke = calloc(1, sizeof(*ke));
	if (!ke)
		return -ENOMEM;
	ke->streams_fd = ke->stats_fd = ke->tx_ports_fd = -1;
	ke->xdp_prog_fd = ke->xdp_generic_prog_fd = ke->tc_prog_fd = -1;
	if (dir[0] != '/' || strlen(dir) >= sizeof(ke->pin_dir)) {
		ke_why(why, why_len, LOG_ERR, "bad pin directory '%s'", dir);
		free(ke);
		return -EINVAL;
	}
	snprintf(ke->pin_dir, sizeof(ke->pin_dir), "%s", dir);
	libbpf_set_print(ke_libbpf_print);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		err = ncpus < 0 ? ncpus : -EINVAL;
		goto fail;
	}
	ke->ncpus = (unsigned int)ncpus;

	if (opts->maps_only) {
		err = ke_open_pinned(ke, why, why_len);
	} else {
		err = ke_prepare_pin_dir(ke, why, why_len);
		if (!err)
			err = ke_load(ke, opts->max_entries ? opts->max_entries
							    : KERNEL_ENGINE_DEFAULT_ENTRIES,
				      why, why_len);
	}
	if (err)
		goto fail;
	*out = ke;
	return 0;
fail:
	/* Nothing is attached yet; pins made before the failure stay, as after
	 * a restart. */
	kernel_engine_close(ke, true);
	return err;
}

void kernel_engine_close(struct kernel_engine *ke, bool keep)
{
	static const char *const names[] = { SMQ_MAP_STREAMS, SMQ_MAP_STATS, SMQ_MAP_TX_PORTS };
	char path[PATH_MAX];
	unsigned int i;

	if (!ke)
		return;
	if (!keep) {
		ke_detach_pinned_all(ke);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!ke_pin_path(ke, "", names[i], path) && unlink(path) < 0 &&
			    errno != ENOENT)
				log_warn("kernel engine: cannot remove %s: %s", path, strerror(errno));
		/* Not ours any more if something else lives there. */
		if (rmdir(ke->pin_dir) < 0 && errno != ENOENT && errno != ENOTEMPTY)
			log_warn("kernel engine: cannot remove %s: %s", ke->pin_dir,
				 strerror(errno));
		log_info("kernel engine: stopped, fast path detached and unpinned");
	}
	if (ke->skel) {
		/* Closes our descriptors only: what is attached or pinned stays. */
		smq_fwd__destroy(ke->skel);
	} else {
		if (ke->streams_fd >= 0)
			close(ke->streams_fd);
		if (ke->stats_fd >= 0)
			close(ke->stats_fd);
		if (ke->tx_ports_fd >= 0)
			close(ke->tx_ports_fd);
	}
	free(ke);
}

const char *kernel_engine_pin_dir(const struct kernel_engine *ke)
{
	return ke->pin_dir;
}
