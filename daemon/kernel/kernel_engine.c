/* Kernel engine life cycle: bpffs and the pin directory, loading the
 * skeleton with pinned maps reused (a restarted daemon keeps the streams of
 * the previous one), closing with or without the pins, libbpf's logging,
 * and the names of modes and reasons. Attaching is in kernel_engine_attach.c,
 * map contents in kernel_engine_maps.c. */
#include "autoconfig.h"

#include <dirent.h>
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
/* Lines of a verifier log worth logging: its end says what failed. */
#define KE_VLOG_TAIL 24

/* Set around calls whose failure is expected (probing for something that
 * may not be there): libbpf's kernel error messages then go to debug. */
static bool ke_quiet;

void ke_libbpf_quiet(bool quiet)
{
	ke_quiet = quiet;
}

/* The last line of the last verifier log that says what went wrong, for the
 * reason string of a failed load (libbpf only reports it through its print
 * callback). */
static char ke_verifier_err[200];

void ke_why(char *why, size_t why_len, int prio, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(prio, "kernel engine: %s", buf);
	if (why && why_len)
		snprintf(why, why_len, "%s", buf);
}

const char *ke_errno_text(int err)
{
	switch (err < 0 ? -err : err) {
	case EOPNOTSUPP:
		return "driver without native XDP";
	case EPERM:
	case EACCES:
		return "no CAP_BPF/CAP_NET_ADMIN";
	case EBUSY:
		return "another XDP program is attached in this mode";
	case EEXIST:
		return "an XDP program is attached in the other mode";
	case ENODEV:
		return "no such interface";
	case EINVAL:
		return "refused by the kernel or driver (MTU too large for XDP?)";
	case ENOMEM:
		return "out of memory";
	default:
		return "kernel error";
	}
}

int ke_pin_path(const struct kernel_engine *ke, const char *prefix, const char *name, char *buf)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s%s", ke->pin_dir, prefix, name);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* ke_log_verifier: log the head line and the tail of a verifier log (it
 * can be thousands of lines; the end says what failed) and remember its
 * last meaningful line. msg is modified. */
static void ke_log_verifier(char *msg)
{
	char *lines[KE_VLOG_TAIL];
	unsigned int n = 0, skipped = 0, i;
	char *save = NULL, *line;

	for (line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (n == 0) {
			log_notice("%s", line);
			n++;
			continue;
		}
		if (n - 1 >= KE_VLOG_TAIL)
			skipped++;
		lines[(n - 1) % KE_VLOG_TAIL] = line;
		n++;
		/* The verdict precedes the statistics and the END marker. */
		if (strncmp(line, "processed ", 10) && strncmp(line, "-- END", 6) &&
		    strncmp(line, "verification time", 17) && strncmp(line, "stack depth", 11) &&
		    line[0] != ';')
			snprintf(ke_verifier_err, sizeof(ke_verifier_err), "%s", line);
	}
	if (skipped)
		log_notice("libbpf: ... (%u verifier log lines skipped)", skipped);
	for (i = skipped; n > 1 && i < n - 1; i++)
		log_notice("libbpf:   %s", lines[i % KE_VLOG_TAIL]);
}

/* ke_libbpf_print: libbpf's messages into our log, one level quieter than
 * libbpf rates them: its warnings are often expected (a probe failing) and
 * the engine logs its own conclusion at warning level. */
__attribute__((format(printf, 2, 0)))
static int ke_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *msg = NULL, *nl;

	if (level == LIBBPF_DEBUG && !(log_debug_mask & DBCLASS_BABBLE))
		return 0;
	if (level == LIBBPF_INFO && !(log_debug_mask & DBCLASS_NET))
		return 0;
	if (vasprintf(&msg, fmt, ap) < 0)
		return 0;
	if (level == LIBBPF_WARN && strstr(msg, "-- BEGIN PROG LOAD LOG --")) {
		ke_log_verifier(msg);
	} else {
		nl = strrchr(msg, '\n');
		if (nl && nl[1] == '\0')
			*nl = '\0';
		/* libbpf prefixes its messages with "libbpf: " itself. */
		if (level == LIBBPF_WARN && !ke_quiet)
			log_notice("%s", msg);
		else if (level != LIBBPF_WARN || (log_debug_mask & DBCLASS_NET))
			log_msg(LOG_DEBUG, "%s", msg);
	}
	free(msg);
	return 0;
}

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

	ke_verifier_err[0] = '\0';
	err = smq_fwd__load(ke->skel);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			ke_why(why, why_len, LOG_WARNING, "cannot load the BPF programs: %s (%s)",
			       ke_errno_text(err), strerror(-err));
		else
			ke_why(why, why_len, LOG_WARNING,
			       "cannot load the BPF programs (kernel too old or verifier): %s",
			       ke_verifier_err[0] ? ke_verifier_err : strerror(-err));
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

/* ke_pins_left: names of ours still in dir ("a, b, ..." into buf, at most
 * len bytes); returns how many. */
static unsigned int ke_pins_left(const char *dir, char *buf, size_t len)
{
	unsigned int n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	buf[0] = '\0';
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t used = strlen(buf);

		if (strncmp(de->d_name, "smq_", 4) &&
		    strncmp(de->d_name, KE_PIN_XDP_LINK, strlen(KE_PIN_XDP_LINK)) &&
		    strncmp(de->d_name, KE_PIN_TC_PROG, strlen(KE_PIN_TC_PROG)))
			continue;
		if (used + 2 + strlen(de->d_name) < len) {
			if (n)
				strcat(buf, ", ");
			strcat(buf, de->d_name);
		}
		n++;
	}
	closedir(d);
	return n;
}

int kernel_engine_purge(const char *pin_dir, char *why, size_t why_len)
{
	const char *dir = pin_dir ? pin_dir : KERNEL_ENGINE_PIN_DIR;
	struct kernel_engine *ke;
	char left[256];
	struct stat st;

	if (why && why_len)
		why[0] = '\0';
	if (stat(dir, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!ke_pins_left(dir, left, sizeof(left))) {
		rmdir(dir);   /* an empty directory of ours: tidy, not a leftover */
		return 0;
	}
	ke = calloc(1, sizeof(*ke));
	if (!ke || strlen(dir) >= sizeof(ke->pin_dir)) {
		free(ke);
		return -ENOMEM;
	}
	ke->streams_fd = ke->stats_fd = ke->tx_ports_fd = -1;
	ke->xdp_prog_fd = ke->xdp_generic_prog_fd = ke->tc_prog_fd = -1;
	snprintf(ke->pin_dir, sizeof(ke->pin_dir), "%s", dir);
	libbpf_set_print(ke_libbpf_print);
	/* A clean stop of an engine that loaded nothing: detaches what the
	 * pins name, removes the pins and the directory. */
	kernel_engine_close(ke, false);
	if (ke_pins_left(dir, left, sizeof(left))) {
		ke_why(why, why_len, LOG_DEBUG, "still pinned in %s: %s", dir, left);
		return -EPERM;
	}
	return 1;
}

const char *kernel_engine_pin_dir(const struct kernel_engine *ke)
{
	return ke->pin_dir;
}

const char *kernel_engine_reason_name(unsigned int reason)
{
	static const char *const names[SMQ_REASON__COUNT] = {
#define KE_REASON_NAME_(name, str) [SMQ_REASON_##name] = str,
		SMQ_REASONS(KE_REASON_NAME_)
#undef KE_REASON_NAME_
	};

	return reason < SMQ_REASON__COUNT ? names[reason] : "unknown";
}

static const char *const ke_mode_names[] = {
	[KE_MODE_NONE] = "none",
	[KE_MODE_XDP_NATIVE] = "xdp-native",
	[KE_MODE_XDP_GENERIC] = "xdp-generic",
	[KE_MODE_TC] = "tc",
	[KE_MODE_AUTO] = "auto",
};

const char *kernel_engine_mode_name(enum kernel_engine_mode mode)
{
	return (unsigned int)mode < sizeof(ke_mode_names) / sizeof(ke_mode_names[0])
		       ? ke_mode_names[mode] : "unknown";
}

int kernel_engine_mode_parse(const char *s, enum kernel_engine_mode *mode)
{
	unsigned int i;

	if (!strcmp(s, "xdp") || !strcmp(s, "native")) {
		*mode = KE_MODE_XDP_NATIVE;
		return 0;
	}
	if (!strcmp(s, "generic")) {
		*mode = KE_MODE_XDP_GENERIC;
		return 0;
	}
	for (i = 0; i < sizeof(ke_mode_names) / sizeof(ke_mode_names[0]); i++) {
		if (!strcmp(s, ke_mode_names[i])) {
			*mode = (enum kernel_engine_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}
