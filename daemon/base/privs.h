/* Dropping root: the `user` directive (siproxd's), done for real.
 *
 * sipmasq starts as root, binds its sockets, loads and attaches the BPF
 * programs and opens their pinned maps; then it becomes `user` for good
 * (supplementary groups, gid, uid: setgroups, setgid, setuid) keeping only
 * the capabilities that what is in use still needs: the kernel engine
 * updates its maps and detaches at stop through file descriptors it already
 * holds (CAP_BPF for the bpf() calls, CAP_NET_ADMIN to detach), a relay
 * port range below 1024 needs CAP_NET_BIND_SERVICE. Everything else goes,
 * from the bounding set too, and no exec can gain privileges again. */
#ifndef SIPMASQ_PRIVS_H
#define SIPMASQ_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

/* The account to become, from the passwd database. */
struct privs_user {
	char name[64];
	uid_t uid;
	gid_t gid;   /* its primary group: the only group kept */
};

/* privs_lookup: resolve a user name (or a numeric uid) into *u.
 * Returns 0, -ENOENT when there is no such user (or the passwd database
 * cannot be read), or -ENAMETOOLONG. */
int privs_lookup(const char *name, struct privs_user *u);

/* privs_give: chown path to u (and, with tree, the entries directly in it:
 * a pin directory), so that u can still remove them at stop. A missing
 * path is not an error. Returns 0 or the first -errno (logged). */
int privs_give(const struct privs_user *u, const char *path, bool tree);

/* privs_drop: become u (groups = its primary group only) and keep only the
 * n capabilities of keep[] (CAP_* values of <linux/capability.h>) in the
 * permitted and effective sets; the bounding, inheritable and ambient sets
 * lose everything else and no_new_privs is set. Checks the result (the
 * uid/gid cannot be regained). Must run as root, or as u already (then
 * only the capabilities are trimmed). Returns 0 or -errno (logged). */
int privs_drop(const struct privs_user *u, const int *keep, unsigned n);

#endif
