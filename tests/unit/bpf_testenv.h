/* Test environment for the kernel engine's C tests (header-only, tests
 * only): a private network namespace and mount namespace per test process,
 * so that interfaces, routes, neighbours and bpffs pins made by the test
 * vanish with it, even when it crashes; bpf_fib_lookup() under
 * BPF_PROG_RUN looks routes up in the caller's namespace.
 *
 *	testenv_enter()      unshare; 0, TESTENV_SKIP when not permitted,
 *	                     TESTENV_ERROR when the environment is broken
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

/* Exit statuses that automake's test driver reports as SKIP and as ERROR
 * (a hard error: fails the run, unlike a test failure it is not a wrong
 * answer of the code under test but a setup that could not be made). */
#define TESTENV_SKIP 77
#define TESTENV_ERROR 99

/* testenv_cannot_run: the machine does not let this test run (why is
 * printed). A skip, except under CI=true: CI runs as root on a kernel with
 * namespaces and eBPF, so there a test that cannot run is a broken CI
 * machine, which must not pass as a quiet skip. Returns the exit status. */
static inline int testenv_cannot_run(const char *why)
{
	const char *ci = getenv("CI");

	if (ci && !strcmp(ci, "true")) {
		fprintf(stderr, "ERROR (CI=true, no skip allowed): %s\n", why);
		return TESTENV_ERROR;
	}
	fprintf(stderr, "SKIP: %s\n", why);
	return TESTENV_SKIP;
}

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
 * new namespace has only "lo", brought up here. Returns 0, TESTENV_SKIP
 * (not root, or namespaces not permitted or not built in; TESTENV_ERROR
 * instead under CI=true), or TESTENV_ERROR (anything else went wrong). */
static inline int testenv_enter(void)
{
	char why[160];
	struct statfs st;

	if (geteuid() != 0)
		return testenv_cannot_run("needs root (CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN)");
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
		int err = errno;

		snprintf(why, sizeof(why), "unshare(CLONE_NEWNET | CLONE_NEWNS): %s", strerror(err));
		/* Not permitted (a container, a seccomp policy) or not built
		 * into the kernel: the machine's limit. Anything else (ENOMEM,
		 * ENOSPC: too many namespaces) is a failure to report. */
		if (err == EPERM || err == EINVAL)
			return testenv_cannot_run(why);
		fprintf(stderr, "ERROR: %s\n", why);
		return TESTENV_ERROR;
	}
	/* From here on we are root in our own namespaces: a failure is no
	 * limit of the machine but a broken setup, and must not pass as a
	 * skip. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {   /* keep our mounts ours */
		fprintf(stderr, "ERROR: cannot make mounts private: %s\n", strerror(errno));
		return TESTENV_ERROR;
	}
	/* sysfs shows the network namespace of whoever mounted it. */
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) < 0) {
		fprintf(stderr, "ERROR: cannot mount sysfs: %s\n", strerror(errno));
		return TESTENV_ERROR;
	}
	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC) {
		fprintf(stderr, "ERROR: /sys/fs/bpf is still a bpffs\n");
		return TESTENV_ERROR;
	}
	if (testenv_sh("ip link set lo up")) {
		fprintf(stderr, "ERROR: cannot bring lo up in the test namespace\n");
		return TESTENV_ERROR;
	}
	return 0;
}

/* testenv_pin_dir: "/sys/fs/bpf/smqtest-<pid>" (static buffer). */
static inline const char *testenv_pin_dir(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/sys/fs/bpf/smqtest-%d", (int)getpid());
	return dir;
}

#endif
