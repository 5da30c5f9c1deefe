/* Logging: syslog (daemon) or stderr (foreground), with siproxd's debug classes. */
#ifndef SIPMASQ_LOG_H
#define SIPMASQ_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

/* Debug classes, bit-compatible with siproxd's DBCLASS_* so that an existing
 * `debug_level` value or `-d PATTERN` selects the same areas. */
#define DBCLASS_BABBLE  0x00000001u /* function-level chatter */
#define DBCLASS_NET     0x00000002u /* sockets, interfaces */
#define DBCLASS_SIP     0x00000004u /* SIP rewriting */
#define DBCLASS_REG     0x00000008u /* registrations */
#define DBCLASS_NOSPEC  0x00000010u /* unclassified */
#define DBCLASS_PROXY   0x00000020u /* request/response routing */
#define DBCLASS_DNS     0x00000040u /* name resolution */
#define DBCLASS_NETTRAF 0x00000080u /* every datagram in and out */
#define DBCLASS_CONFIG  0x00000100u /* configuration */
#define DBCLASS_RTP     0x00000200u /* media relay control */
#define DBCLASS_ACCESS  0x00000400u /* access lists */
#define DBCLASS_AUTH    0x00000800u /* authentication */
#define DBCLASS_PLUGIN  0x00001000u /* plugins (unused) */
#define DBCLASS_RTPBABL 0x00002000u /* per-packet media chatter */
#define DBCLASS_ALL     0xffffffffu

/* Debug classes currently enabled (bit set of DBCLASS_*). */
extern uint32_t log_debug_mask;

/* log_open: to_syslog sends messages to syslog(3) too (ident "sipmasq",
 * LOG_DAEMON); stderr goes on until log_set_stderr(false). silence is
 * siproxd's silence_log: syslog drops DEBUG at >= 1, INFO at >= 2,
 * WARNING at >= 3, ERR at >= 4 (stderr shows everything). */
void log_open(bool to_syslog, int silence);

/* log_set_stderr: write messages to stderr too (default on; off once
 * daemonized, where stderr is /dev/null). */
void log_set_stderr(bool on);

/* log_close: close syslog (if open); later lines go to stderr only. */
void log_close(void);

/* log_msg: printf-style message at a syslog priority (LOG_ERR ... LOG_DEBUG). */
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_ratelimited: like log_msg but at most one line per `key` every
 * interval_s seconds; suppressed lines are counted and reported with the next
 * line that passes. `key` is a static string naming the condition. */
void log_ratelimited(const char *key, unsigned interval_s, int prio,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_err(...)     log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)    log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
/* Debug lines cost one branch when their class is off. */
#define log_debug(cls, ...) \
	do { if (log_debug_mask & (cls)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
