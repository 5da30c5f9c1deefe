/* Test environment for the kernel engine's C tests (header-only, tests
 * only): a private network namespace and mount namespace per test process,
 * so that interfaces, routes, neighbours and bpffs pins made by the test
 * vanish with it, even when it crashes; bpf_fib_lookup() under
 * BPF_PROG_RUN looks routes up in the caller's namespace.
 *
 *	testenv_enter()      unshare; 0, or TESTENV_SKIP when not permitted
 *	testenv_sh(fmt, ...) run a shell command (printf-style); exit status
 *	testenv_pin_dir()    a pin directory unique to this run */
#ifndef SIPMASQ_TESTS_BPF_TESTENV_H
#define SIPMASQ_TESTS_BPF_TESTENV_H

#include <errno.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit status that automake's test driver reports as SKIP. */
#define TESTENV_SKIP 77

/* testenv_sh: run a shell command; returns its exit status (-1 when it
 * could not run). Output is not captured. */
__attribute__((format(printf, 1, 2)))
static inline int testenv_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	if (WEXITSTATUS(st))
		fprintf(stderr, "command failed (%d): %s\n", WEXITSTATUS(st), cmd);
	return WEXITSTATUS(st);
}

/* testenv_enter: move into new network and mount namespaces, with a sysfs
 * of the new network namespace on /sys. That sysfs has an empty
 * /sys/fs/bpf: the kernel engine mounts a bpffs there (part of what is
 * tested), private to the test, so no pin of the test is seen outside. The
 * new namespace has only "lo", brought up here. Returns 0 or TESTENV_SKIP
 * (not root, or namespaces not permitted). */
static inline int testenv_enter(void)
{
	struct statfs st;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root (CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN)\n");
		return TESTENV_SKIP;
	}
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
		fprintf(stderr, "SKIP: unshare: %s\n", strerror(errno));
		return TESTENV_SKIP;
	}
	/* Keep our mounts out of the parent's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "SKIP: cannot make mounts private: %s\n", strerror(errno));
		return TESTENV_SKIP;
	}
	/* sysfs shows the network namespace of whoever mounted it. */
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) < 0) {
		fprintf(stderr, "SKIP: cannot mount sysfs: %s\n", strerror(errno));
		return TESTENV_SKIP;
	}
	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC) {
		fprintf(stderr, "SKIP: /sys/fs/bpf is still a bpffs\n");
		return TESTENV_SKIP;
	}
	return testenv_sh("ip link set lo up") ? TESTENV_SKIP : 0;
}

/* testenv_pin_dir: "/sys/fs/bpf/smqtest-<pid>" (static buffer). */
static inline const char *testenv_pin_dir(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/sys/fs/bpf/smqtest-%d", (int)getpid());
	return dir;
}

#endif
