/* Logging backend: syslog and/or stderr, with a simple per-key rate limit.
 * As siproxd: in the foreground both (syslog filtered by silence_log),
 * daemonized syslog only. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon/base/log.h"

uint32_t log_debug_mask;
static bool use_syslog;
static bool use_stderr = true;
static int silence_level;

void log_open(bool to_syslog, int silence)
{
	if (to_syslog && !use_syslog)
		openlog("sipmasq", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = to_syslog;
	silence_level = silence;
}

void log_set_stderr(bool on)
{
	use_stderr = on;
}

void log_close(void)
{
	if (use_syslog)
		closelog();
	use_syslog = false;
	use_stderr = true;
}

/* silence_log semantics from siproxd: higher values mute more of syslog. */
static bool syslog_muted(int prio)
{
	switch (prio) {
	case LOG_DEBUG:   return silence_level >= 1;
	case LOG_INFO:
	case LOG_NOTICE:  return silence_level >= 2;
	case LOG_WARNING: return silence_level >= 3;
	default:          return silence_level >= 4;
	}
}

__attribute__((format(printf, 2, 0)))
static void log_vmsg(int prio, const char *fmt, va_list ap)
{
	static const char *const names[] = {
		"EMERG", "ALERT", "CRIT", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"
	};

	if (use_syslog && !syslog_muted(prio)) {
		va_list copy;

		va_copy(copy, ap);
		vsyslog(prio, fmt, copy);
		va_end(copy);
	}
	if (!use_stderr)
		return;
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld sipmasq %s: ", stamp, ts.tv_nsec / 1000000,
		names[prio & 7]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

/* A handful of distinct keys is expected; the table is small and linear. */
#define RL_SLOTS 32
static struct {
	const char *key;
	time_t last;
	unsigned suppressed;
} rl_table[RL_SLOTS];

void log_ratelimited(const char *key, unsigned interval_s, int prio,
                     const char *fmt, ...)
{
	time_t now = time(NULL);
	int slot = -1;

	for (int i = 0; i < RL_SLOTS; i++) {
		if (rl_table[i].key == key || (rl_table[i].key && !strcmp(rl_table[i].key, key))) {
			slot = i;
			break;
		}
		if (!rl_table[i].key && slot < 0)
			slot = i;
	}
	if (slot >= 0 && rl_table[slot].key &&
	    now - rl_table[slot].last < (time_t)interval_s) {
		rl_table[slot].suppressed++;
		return;
	}
	if (slot >= 0 && rl_table[slot].suppressed)
		log_msg(prio, "(%u similar messages suppressed)", rl_table[slot].suppressed);
	if (slot >= 0) {
		rl_table[slot].key = key;
		rl_table[slot].last = now;
		rl_table[slot].suppressed = 0;
	}
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}
