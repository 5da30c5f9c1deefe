/* Privilege drop (privs.h) with libcap. */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/base/privs.h"

int privs_lookup(const char *name, struct privs_user *u)
{
	struct passwd *pw;
	char *end;

	if (strlen(name) >= sizeof(u->name))
		return -ENAMETOOLONG;
	pw = getpwnam(name);
	if (!pw && *name) {
		unsigned long id = strtoul(name, &end, 10);

		if (!*end && id < (uid_t)-1)
			pw = getpwuid((uid_t)id);
	}
	if (!pw)   /* errno is no guide: glibc sets various ones for "not there" */
		return -ENOENT;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

static int give_one(const struct privs_user *u, int dirfd, const char *path)
{
	if (fchownat(dirfd, path, u->uid, u->gid, AT_SYMLINK_NOFOLLOW) == 0 || errno == ENOENT)
		return 0;
	int err = -errno;

	log_err("user %s: cannot hand %s over: %s", u->name, path, strerror(-err));
	return err;
}

int privs_give(const struct privs_user *u, const char *path, bool tree)
{
	int rc = 0;

	if (!path || !*path)
		return 0;
	if (tree) {
		DIR *d = opendir(path);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !rc)
				rc = give_one(u, dirfd(d), e->d_name);
		}
		if (d)
			closedir(d);
	}
	return rc ? rc : give_one(u, AT_FDCWD, path);
}

static bool kept(cap_value_t c, const int *keep, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (keep[i] == c)
			return true;
	return false;
}

/* Permitted and effective sets = keep[], inheritable and ambient empty. */
static int caps_trim(const int *keep, unsigned n)
{
	cap_t caps = cap_init();   /* all sets clear */
	int rc = 0;

	if (!caps)
		return -errno;
	for (unsigned i = 0; i < n && !rc; i++) {
		cap_value_t c = keep[i];

		if (cap_set_flag(caps, CAP_PERMITTED, 1, &c, CAP_SET) ||
		    cap_set_flag(caps, CAP_EFFECTIVE, 1, &c, CAP_SET))
			rc = -errno;
	}
	if (!rc && cap_set_proc(caps) < 0)
		rc = -errno;
	cap_free(caps);
	if (!rc && cap_reset_ambient() < 0)
		rc = -errno;
	return rc;
}

int privs_drop(const struct privs_user *u, const int *keep, unsigned n)
{
	bool become = getuid() != u->uid || geteuid() != u->uid || getgid() != u->gid;
	int rc = 0;

	/* The bounding set first, while CAP_SETPCAP is still effective. */
	/* Every capability this kernel knows, newer than our headers too. EPERM:
	 * not ours to drop (started without CAP_SETPCAP, e.g. by systemd with
	 * its own CapabilityBoundingSet=, which then is the limit). */
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits() && !rc; c++)
		if (!kept(c, keep, n) && cap_drop_bound(c) < 0 && errno != EINVAL &&
		    errno != EPERM)
			rc = -errno;
	if (!rc && become) {
		/* Keep the permitted set across setuid; trimmed right after. */
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(1, &u->gid) < 0 ||
		    setgid(u->gid) < 0 || setuid(u->uid) < 0)
			rc = -errno;
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	if (!rc)
		rc = caps_trim(keep, n);
	if (!rc && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		rc = -errno;
	/* Root must be gone for good, not just from the effective ids. */
	if (!rc && become && u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		rc = -EPERM;
	if (rc) {
		log_err("user %s: cannot drop privileges: %s", u->name, strerror(-rc));
		return rc;
	}
	cap_t now = cap_get_proc();
	char *text = now ? cap_to_text(now, NULL) : NULL;

	log_notice("running as %s (uid %ld, gid %ld), capabilities: %s", u->name,
		   (long)u->uid, (long)u->gid, text && strcmp(text, "=") ? text : "none");
	cap_free(text);
	cap_free(now);
	return 0;
}
