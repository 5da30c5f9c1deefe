/* Helpers shared by the kernel engine's files: its log lines and reasons,
 * the names of modes and drop/pass reasons,
 * libbpf's messages routed into the daemon's log one level quieter, the
 * verifier's verdict, and pin paths. The bottom of the engine: it calls
 * none of the other kernel_engine*.c files. */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "daemon/base/log.h"
#include "daemon/kernel/kernel_engine_priv.h"

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
		/* EACCES at load: the verifier refused pointer arithmetic that
		 * needs CAP_PERFMON (allow_ptr_leaks). */
		return "no CAP_BPF/CAP_NET_ADMIN/CAP_PERFMON";
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
int ke_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
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

const char *ke_verifier_last(void)
{
	return ke_verifier_err;
}

void ke_verifier_reset(void)
{
	ke_verifier_err[0] = '\0';
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
