/* Unit tests of the configuration reader (daemon/config/config.c).
 *
 * Each case writes a configuration file into a private temporary directory,
 * loads it with stderr captured, and checks the resulting values, the return
 * code and the "FILE:LINE: ..." messages. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/base/acl.h"
#include "daemon/media/calls.h"
#include "daemon/config/config.h"
#include "daemon/proxy/host_mask.h"
#include "daemon/base/log.h"
#include "daemon/proxy/via_stash.h"
#include "tests/unit/unit.h"

static char tmpdir[1024];     /* short enough for "%s/name" to fit PATH_MAX */
static char logpath[PATH_MAX];
static char logbuf[16384];
static int saved_stderr = -1;

/* Everything the code under test logs goes to a file while captured. */
static void capture_begin(void)
{
	int fd;

	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (saved_stderr < 0 || fd < 0) {
		perror("capture_begin");
		exit(99);
	}
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Restore stderr; returns what was logged (also echoed, indented, for the
 * test log). */
static const char *capture_end(void)
{
	FILE *f;
	size_t n = 0;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	f = fopen(logpath, "r");
	if (f) {
		n = fread(logbuf, 1, sizeof(logbuf) - 1, f);
		fclose(f);
	}
	logbuf[n] = '\0';
	for (char *line = logbuf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl) {
			fprintf(stderr, "    | %s\n", line);
			break;
		}
		fprintf(stderr, "    | %.*s\n", (int)(nl - line), line);
	}
	return logbuf;
}

/* Path of `name` inside the temporary directory. */
static const char *tmp_path(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(99);
	}
}

/* Result of loading one file. */
struct loaded {
	struct sipmasq_config cfg;
	char path[PATH_MAX];
	int ret;
	const char *log;
};

/* Write text to `name`, fill defaults and config_load it, capturing the log. */
static void load(struct loaded *l, const char *name, const char *text)
{
	snprintf(l->path, sizeof(l->path), "%s", tmp_path(name));
	write_file(l->path, text);
	config_defaults(&l->cfg);
	fprintf(stderr, "  load %s\n", name);
	capture_begin();
	l->ret = config_load(l->path, &l->cfg);
	l->log = capture_end();
}

/* config_check with the log captured. */
static int check(const struct sipmasq_config *cfg, const char **log)
{
	int ret;

	capture_begin();
	ret = config_check(cfg);
	*log = capture_end();
	return ret;
}

/* Does the log contain "PATH:LINE: " followed (anywhere later) by `what`? */
static int logged_at(const char *log, const char *path, unsigned line,
		     const char *what)
{
	char loc[PATH_MAX + 32];
	const char *p;

	snprintf(loc, sizeof(loc), "%s:%u: ", path, line);
	p = strstr(log, loc);
	return p && strstr(p, what) != NULL;
}

/* Number of occurrences of s in log. */
static unsigned count(const char *log, const char *s)
{
	unsigned n = 0;

	for (const char *p = log; (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

static void test_defaults(void)
{
	struct sipmasq_config cfg;

	memset(&cfg, 0xa5, sizeof(cfg));
	config_defaults(&cfg);
	CHECK_STR(cfg.if_inbound, "");
	CHECK_STR(cfg.if_outbound, "");
	CHECK_STR(cfg.host_outbound, "");
	CHECK_INT(cfg.sip_listen_port, 5060);
	CHECK(cfg.rtp_proxy_enable);
	CHECK_INT(cfg.rtp_port_low, 7070);
	CHECK_INT(cfg.rtp_port_high, 7089);
	CHECK_INT(cfg.rtp_timeout, 300);
	CHECK_INT(cfg.default_expires, 3600);   /* siproxd's default */
	CHECK(!cfg.daemonize);
	CHECK_INT(cfg.silence_log, 1);
	CHECK(!cfg.log_calls);
	CHECK_INT(cfg.debug_level, 0);
	CHECK_INT(cfg.autosave_registrations, 0);
	CHECK(!cfg.proxy_auth_forwarded);
	CHECK_INT(cfg.proxy_auth_n_alg, 2);
	CHECK_INT(cfg.proxy_auth_alg[0], AUTH_ALG_MD5);   /* what MD5-only clients read */
	CHECK_INT(cfg.proxy_auth_alg[1], AUTH_ALG_SHA256);
	CHECK_STR(cfg.registration_file, "");
	CHECK_STR(cfg.pid_file, "");
	CHECK_STR(cfg.config_file, "");
}

static void test_good_file(void)
{
	struct loaded l;
	const char *log;

	load(&l, "good.conf",
	     "# every implemented directive, none at its default\n"
	     "if_inbound = eth0\n"
	     "if_outbound = ppp0\n"
	     "host_outbound = gw.example.test\n"
	     "sip_listen_port = 5070\n"
	     "rtp_proxy_enable = 1\n"
	     "rtp_port_low = 10000\n"
	     "rtp_port_high = 10099\n"
	     "rtp_timeout = 120\n"
	     "default_expires = 3600\n"
	     "daemonize = 1\n"
	     "silence_log = 3\n"
	     "log_calls = 1\n"
	     "debug_level = 0x00000204\n"
	     "registration_file = /var/lib/sipmasq/registrations\n"
	     "pid_file = /run/sipmasq.pid\n"
	     "autosave_registrations = 300\n");
	CHECK_INT(l.ret, 0);
	CHECK_STR(l.cfg.if_inbound, "eth0");
	CHECK_STR(l.cfg.if_outbound, "ppp0");
	CHECK_STR(l.cfg.host_outbound, "gw.example.test");
	CHECK_INT(l.cfg.sip_listen_port, 5070);
	CHECK(l.cfg.rtp_proxy_enable);
	CHECK_INT(l.cfg.rtp_port_low, 10000);
	CHECK_INT(l.cfg.rtp_port_high, 10099);
	CHECK_INT(l.cfg.rtp_timeout, 120);
	CHECK_INT(l.cfg.default_expires, 3600);
	CHECK(l.cfg.daemonize);
	CHECK_INT(l.cfg.silence_log, 3);
	CHECK(l.cfg.log_calls);
	CHECK_INT(l.cfg.debug_level, 0x204);
	CHECK_STR(l.cfg.registration_file, "/var/lib/sipmasq/registrations");
	CHECK_STR(l.cfg.pid_file, "/run/sipmasq.pid");
	CHECK_INT(l.cfg.autosave_registrations, 300);
	CHECK_STR(l.cfg.config_file, l.path);
	CHECK(!strstr(l.log, "WARNING") && !strstr(l.log, "ERROR"));
	CHECK_INT(check(&l.cfg, &log), 0);
	CHECK(!strstr(log, "ERROR"));
}

/* A file with only the required directives leaves every default in place. */
static void test_minimal_file_keeps_defaults(void)
{
	struct loaded l;
	struct sipmasq_config d;
	const char *log;

	load(&l, "minimal.conf", "if_inbound = eth0\nif_outbound = ppp0\n");
	CHECK_INT(l.ret, 0);
	config_defaults(&d);
	CHECK_INT(l.cfg.sip_listen_port, d.sip_listen_port);
	CHECK_INT(l.cfg.rtp_proxy_enable, d.rtp_proxy_enable);
	CHECK_INT(l.cfg.rtp_port_low, d.rtp_port_low);
	CHECK_INT(l.cfg.rtp_port_high, d.rtp_port_high);
	CHECK_INT(l.cfg.rtp_timeout, d.rtp_timeout);
	CHECK_INT(l.cfg.default_expires, d.default_expires);
	CHECK_INT(l.cfg.daemonize, d.daemonize);
	CHECK_INT(l.cfg.silence_log, d.silence_log);
	CHECK_INT(l.cfg.log_calls, d.log_calls);
	CHECK_INT(l.cfg.debug_level, d.debug_level);
	CHECK_INT(l.cfg.autosave_registrations, d.autosave_registrations);
	CHECK_STR(l.cfg.host_outbound, "");
	CHECK_STR(l.cfg.registration_file, "");
	CHECK_STR(l.cfg.pid_file, "");
	CHECK_INT(check(&l.cfg, &log), 0);

	/* An empty file (and one with only comments) is valid to read. */
	load(&l, "empty.conf", "");
	CHECK_INT(l.ret, 0);
	load(&l, "comments.conf", "# nothing\n\n   # here\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.sip_listen_port, 5060);
}

static void test_comments_and_whitespace(void)
{
	struct loaded l;

	load(&l, "ws.conf",
	     "\n"
	     "# whole-line comment\n"
	     "   # indented comment\n"
	     "\t\n"
	     "  if_inbound\t=\teth1   # trailing comment\n"
	     "if_outbound=ppp0#no blanks at all\n"
	     "sip_listen_port   =   5080\r\n"
	     "pid_file = /run/with blanks/sipmasq.pid  \n"
	     "registration_file = \"/var/lib/a#b\" # '#' inside quotes is kept\n"
	     "host_outbound = \"\"\n"
	     "rtp_timeout = 60");   /* no newline at the end of the file */
	CHECK_INT(l.ret, 0);
	CHECK_STR(l.cfg.if_inbound, "eth1");
	CHECK_STR(l.cfg.if_outbound, "ppp0");
	CHECK_INT(l.cfg.sip_listen_port, 5080);
	CHECK_STR(l.cfg.pid_file, "/run/with blanks/sipmasq.pid");
	CHECK_STR(l.cfg.registration_file, "/var/lib/a#b");
	CHECK_STR(l.cfg.host_outbound, "");
	CHECK_INT(l.cfg.rtp_timeout, 60);
	CHECK(!strstr(l.log, "WARNING") && !strstr(l.log, "ERROR"));
}

static void test_booleans(void)
{
	static const struct {
		const char *text;
		int value;
	} cases[] = {
		{ "0", 0 }, { "1", 1 }, { "yes", 1 }, { "no", 0 },
		{ "true", 1 }, { "false", 0 }, { "YES", 1 }, { "False", 0 },
		{ "on", 1 }, { "off", 0 },
	};
	char text[128];
	struct loaded l;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int v = cases[i].value;

		snprintf(text, sizeof(text),
			 "daemonize = %s\nlog_calls = %s\nrtp_proxy_enable = %s\n",
			 cases[i].text, cases[i].text, cases[i].text);
		load(&l, "bool.conf", text);
		CHECK_INT(l.ret, 0);
		CHECK_INT(l.cfg.daemonize, v);
		CHECK_INT(l.cfg.log_calls, v);
		CHECK_INT(l.cfg.rtp_proxy_enable, v);
	}

	/* siproxd's autosave_registrations is a save interval in seconds. */
	load(&l, "autosave.conf", "autosave_registrations = 0\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.autosave_registrations, 0);
	load(&l, "autosave.conf", "autosave_registrations = 600\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.autosave_registrations, 600);
	load(&l, "autosave.conf", "autosave_registrations = yes\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.autosave_registrations, 0);
	load(&l, "autosave.conf", "autosave_registrations = often\n");
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, 1, "invalid value 'often' for autosave_registrations"));
}

static void test_debug_level(void)
{
	struct loaded l;

	load(&l, "dbg.conf", "debug_level = 516\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.debug_level, 516);
	load(&l, "dbg.conf", "debug_level = 0X0000FFFF\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.debug_level, 0xffff);
	load(&l, "dbg.conf", "debug_level = 0xffffffff\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.debug_level, 0xffffffffu);
	load(&l, "dbg.conf", "debug_level = -1\n");     /* siproxd: everything */
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.debug_level, 0xffffffffu);
	/* A leading zero is decimal, not octal. */
	load(&l, "dbg.conf", "debug_level = 010\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.debug_level, 10);

	load(&l, "dbg.conf", "debug_level = 0x100000000\n");
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, 1, "invalid value '0x100000000' for debug_level"));
	load(&l, "dbg.conf", "debug_level = 0x\n");
	CHECK_INT(l.ret, -EINVAL);
	load(&l, "dbg.conf", "debug_level = 12abc\n");
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, 1, "invalid value '12abc' for debug_level"));
	CHECK_INT(l.cfg.debug_level, 0);
}

/* One bad line: config_load returns -EINVAL and logs "FILE:LINE: invalid
 * value 'V' for KEY" (or `expect` when given). */
static void expect_invalid(const char *key, const char *value, const char *expect)
{
	char text[1024], want[1024];
	struct loaded l;

	snprintf(text, sizeof(text), "# line 1\n%s = %s\n", key, value);
	if (expect)
		snprintf(want, sizeof(want), "%s", expect);
	else
		snprintf(want, sizeof(want), "invalid value '%s' for %s", value, key);
	load(&l, "bad.conf", text);
	if (!CHECK_INT(l.ret, -EINVAL) || !CHECK(logged_at(l.log, l.path, 2, want)))
		fprintf(stderr, "  ^ for '%s = %s'\n", key, value);
	CHECK(strstr(l.log, "ERROR") != NULL);
}

static void test_invalid_values(void)
{
	char longname[64], longpath[400];

	expect_invalid("sip_listen_port", "0", NULL);
	expect_invalid("sip_listen_port", "65536", NULL);
	expect_invalid("sip_listen_port", "99999999999999999999999", NULL);
	expect_invalid("sip_listen_port", "abc", NULL);
	expect_invalid("sip_listen_port", "-1", NULL);
	expect_invalid("sip_listen_port", "+5060", NULL);
	expect_invalid("sip_listen_port", "5060x", NULL);
	expect_invalid("sip_listen_port", "50 60", NULL);
	expect_invalid("sip_listen_port", "0x13c4", NULL);
	expect_invalid("rtp_port_low", "70000", NULL);
	expect_invalid("rtp_port_high", "0", NULL);
	expect_invalid("rtp_timeout", "abc", NULL);
	expect_invalid("rtp_timeout", "1.5", NULL);
	expect_invalid("default_expires", "0", NULL);
	expect_invalid("default_expires", "4294967296", NULL);
	expect_invalid("silence_log", "5", NULL);
	expect_invalid("daemonize", "maybe", NULL);
	expect_invalid("rtp_proxy_enable", "2", NULL);  /* siproxd's old ipchains mode */
	expect_invalid("log_calls", "\"\"", "invalid value '' for log_calls");
	expect_invalid("if_inbound", "eth0 eth1", NULL);
	expect_invalid("if_inbound", "a/b", NULL);
	expect_invalid("if_outbound", "\"\"", "invalid value '' for if_outbound");
	expect_invalid("host_outbound", "gw example", NULL);

	/* IF_NAMESIZE - 1 characters fit; one more does not. */
	memset(longname, 'x', IF_NAMESIZE - 1);
	longname[IF_NAMESIZE - 1] = '\0';
	{
		struct loaded l;
		char text[128];

		snprintf(text, sizeof(text), "if_inbound = %s\n", longname);
		load(&l, "ifname.conf", text);
		CHECK_INT(l.ret, 0);
		CHECK_STR(l.cfg.if_inbound, longname);
	}
	strcat(longname, "y");
	expect_invalid("if_inbound", longname, NULL);

	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	expect_invalid("pid_file", longpath, "for pid_file: too long");
	expect_invalid("registration_file", longpath, "for registration_file: too long");
}

/* The media engine directives of the conntrack tier. */
static void test_conntrack_directives(void)
{
	struct loaded l;

	load(&l, "ct.conf", "# defaults\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.rtp_engine, RTP_ENGINE_AUTO);
	CHECK(l.cfg.rtp_engine_bpf);
	CHECK_INT(l.cfg.rtp_conntrack_mark, CONFIG_CONNTRACK_MARK_DEFAULT);
	load(&l, "ct.conf", "rtp_engine = conntrack\nrtp_engine_bpf = no\n"
	     "rtp_conntrack_mark = 0x10\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.rtp_engine, RTP_ENGINE_CONNTRACK);
	CHECK(!l.cfg.rtp_engine_bpf);
	CHECK_INT(l.cfg.rtp_conntrack_mark, 0x10);
	load(&l, "ct.conf", "rtp_engine = Userspace\n");
	CHECK_INT(l.cfg.rtp_engine, RTP_ENGINE_USERSPACE);
	/* Mark 0 would make every unmarked entry sipmasq's (and purge it). */
	expect_invalid("rtp_conntrack_mark", "0", "for rtp_conntrack_mark: must not be 0");
	expect_invalid("rtp_engine", "netfilter",
		       "for rtp_engine: expected auto, xdp, tc, conntrack, userspace or xdp-generic");
}

/* The limit directives (sip_validate.c, sip_flood.c, registrations.c,
 * calls): their defaults, a file that sets them all, and their bounds. */
static void test_limits(void)
{
	struct sipmasq_config cfg;
	struct loaded l;

	config_defaults(&cfg);
	CHECK_INT(cfg.sip_max_message_size, 16384);
	CHECK_INT(cfg.sip_max_headers, 100);
	CHECK_INT(cfg.sip_max_vias, 32);
	CHECK_INT(cfg.max_registrations, 1024);
	CHECK_INT(cfg.max_registrations_per_aor, 10);
	CHECK_INT(cfg.max_calls, 256);
	CHECK_INT(cfg.max_streams_per_call, CALL_MAX_STREAMS);
	CHECK_INT(cfg.via_stash_size, VIA_STASH_MAX);
	CHECK_INT(cfg.sip_rate_limit, 50);
	CHECK_INT(cfg.sip_rate_burst, 100);
	CHECK_INT(cfg.sip_rate_limit_registered, 500);
	CHECK_INT(cfg.sip_rate_burst_registered, 1000);
	CHECK_INT(cfg.sip_rate_sources, 4096);

	load(&l, "limits.conf",
	     "sip_max_message_size = 4096\n"
	     "sip_max_headers = 40\n"
	     "sip_max_vias = 5\n"
	     "max_registrations = 7\n"
	     "max_registrations_per_aor = 2\n"
	     "max_calls = 3\n"
	     "max_streams_per_call = 2\n"
	     "via_stash_size = 1000\n"
	     "sip_rate_limit = 0\n"
	     "sip_rate_burst = 9\n"
	     "sip_rate_limit_registered = 11\n"
	     "sip_rate_burst_registered = 22\n"
	     "sip_rate_sources = 64\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.sip_max_message_size, 4096);
	CHECK_INT(l.cfg.sip_max_headers, 40);
	CHECK_INT(l.cfg.sip_max_vias, 5);
	CHECK_INT(l.cfg.max_registrations, 7);
	CHECK_INT(l.cfg.max_registrations_per_aor, 2);
	CHECK_INT(l.cfg.max_calls, 3);
	CHECK_INT(l.cfg.max_streams_per_call, 2);
	CHECK_INT(l.cfg.via_stash_size, 1000);
	CHECK_INT(l.cfg.sip_rate_limit, 0);
	CHECK_INT(l.cfg.sip_rate_burst, 9);
	CHECK_INT(l.cfg.sip_rate_limit_registered, 11);
	CHECK_INT(l.cfg.sip_rate_burst_registered, 22);
	CHECK_INT(l.cfg.sip_rate_sources, 64);
	CHECK(!strstr(l.log, "WARNING") && !strstr(l.log, "ERROR"));

	/* A datagram cannot exceed 65535 bytes; the fixed stream array bounds
	 * max_streams_per_call; zero would refuse everything. */
	expect_invalid("sip_max_message_size", "65536", NULL);
	expect_invalid("sip_max_message_size", "100", NULL);
	expect_invalid("sip_max_headers", "0", NULL);
	expect_invalid("sip_max_vias", "1", NULL);
	expect_invalid("max_registrations", "0", NULL);
	expect_invalid("max_registrations_per_aor", "0", NULL);
	expect_invalid("max_calls", "0", NULL);
	expect_invalid("max_calls", "-1", NULL);
	expect_invalid("max_streams_per_call", "0", NULL);
	expect_invalid("max_streams_per_call", "9", NULL);
	expect_invalid("via_stash_size", "0", NULL);
	expect_invalid("sip_rate_burst", "0", NULL);
	expect_invalid("sip_rate_limit", "fast", NULL);
	expect_invalid("sip_rate_sources", "1", NULL);
}

/* Syntax errors, and that a bad line does not stop the rest of the file. */
static void test_syntax_errors(void)
{
	struct loaded l;

	load(&l, "syntax.conf",
	     "if_inbound = eth0\n"           /* 1 */
	     "this line has no equals sign\n"/* 2 */
	     "rtp_timeout =\n"               /* 3: empty value */
	     "rtp_timeout =   # comment\n"   /* 4: empty after the comment */
	     "= 5\n"                         /* 5: no key */
	     "sip_listen_port = 0\n"         /* 6: invalid value */
	     "if_outbound = ppp0\n"          /* 7: still applied */
	     "rtp_timeout = 90\n");          /* 8: still applied */
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, 2, "this line has no equals sign"));
	CHECK(logged_at(l.log, l.path, 3, "rtp_timeout"));
	CHECK(logged_at(l.log, l.path, 4, "rtp_timeout"));
	CHECK(logged_at(l.log, l.path, 5, "ERROR") || logged_at(l.log, l.path, 5, "name"));
	CHECK(logged_at(l.log, l.path, 6, "invalid value '0' for sip_listen_port"));
	CHECK_INT(count(l.log, "ERROR"), 5);
	CHECK_STR(l.cfg.if_inbound, "eth0");
	CHECK_STR(l.cfg.if_outbound, "ppp0");
	CHECK_INT(l.cfg.rtp_timeout, 90);
	/* The invalid value left the default in place. */
	CHECK_INT(l.cfg.sip_listen_port, 5060);
}

static void test_unknown_and_unsupported(void)
{
	struct loaded l;
	const char *log;

	load(&l, "siproxd.conf",
	     "if_inbound = eth0\n"                   /* 1 */
	     "if_outbound = ppp0\n"                  /* 2 */
	     "no_such_thing = 1\n"                   /* 3 */
	     "chrootjail = /var/empty\n"             /* 4 */
	     "rtp_dscp = 46\n"                       /* 5 */
	     "load_plugin = plugin_logcall.la\n"     /* 6 */
	     "load_plugin = plugin_stun.la\n"        /* 7: not there, a warning */
	     "plugin_stun_server = stun.example.test\n" /* 8 */
	     "plugin_stun_port = 3478\n"             /* 9 */
	     "plugin_stun_server = other.example.test\n" /* 10: no second warning */
	     "sip_dscp = 46\n"                       /* 11 */
	     "debug_port = 1\n"                      /* 12 */
	     "thread_stack_size = 1\n"               /* 13 */
	     "sip_listen_port = 5062\n");            /* 14 */
	CHECK_INT(l.ret, 0);
	CHECK(logged_at(l.log, l.path, 3, "unknown directive 'no_such_thing', ignored"));
	CHECK(logged_at(l.log, l.path, 4, "siproxd directive 'chrootjail' is not supported yet, ignored"));
	CHECK(!strstr(l.log, "'rtp_dscp'"));   /* supported: 5 */
	CHECK_INT(l.cfg.rtp_dscp, 46);
	/* siproxd's call logger is built in: load_plugin turns it on. */
	CHECK(!logged_at(l.log, l.path, 6, "WARNING"));
	CHECK(l.cfg.log_calls);
	CHECK(logged_at(l.log, l.path, 7, "siproxd plugin 'plugin_stun.la' is not supported yet"));
	CHECK(logged_at(l.log, l.path, 8, "siproxd directive 'plugin_stun_server' is not supported yet"));
	CHECK(logged_at(l.log, l.path, 9, "siproxd directive 'plugin_stun_port' is not supported yet"));
	CHECK_INT(count(l.log, "'plugin_stun_server'"), 1);
	CHECK(!strstr(l.log, "'sip_dscp'"));   /* supported: 11 */
	CHECK_INT(l.cfg.sip_dscp, 46);
	CHECK(logged_at(l.log, l.path, 12, "'debug_port'"));
	CHECK(logged_at(l.log, l.path, 13, "'thread_stack_size'"));
	CHECK(!strstr(l.log, "ERROR"));
	CHECK_INT(count(l.log, "WARNING"), 7);
	CHECK_INT(l.cfg.sip_listen_port, 5062);
	CHECK_INT(check(&l.cfg, &log), 0);

	/* Every other siproxd 0.8 directive is recognised too. */
	static const char *const others[] = {
		"chrootjail", "rtp_input_dejitter", "rtp_output_dejitter",
		"debug_port", "plugindir",
		"thread_stack_size",
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		char text[128], want[128];

		snprintf(text, sizeof(text), "%s = 1\n", others[i]);
		snprintf(want, sizeof(want),
			 "siproxd directive '%s' is not supported yet, ignored", others[i]);
		load(&l, "other.conf", text);
		CHECK_INT(l.ret, 0);
		if (!CHECK(logged_at(l.log, l.path, 1, want)))
			fprintf(stderr, "  ^ for %s\n", others[i]);
	}

	/* Directive names are case sensitive, as in siproxd. */
	load(&l, "case.conf", "IF_INBOUND = eth0\n");
	CHECK_INT(l.ret, 0);
	CHECK(logged_at(l.log, l.path, 1, "unknown directive 'IF_INBOUND'"));
	CHECK_STR(l.cfg.if_inbound, "");
}

/* Lines siproxd loads that sipmasq refused once (issue 11, 2.5/2.6). */
static void test_siproxd_loads(void)
{
	struct loaded l;

	load(&l, "siproxd-ok.conf",
	     "rtp_timeout = 0\n"                     /* 1: siproxd's 10 s sweep */
	     "registration_file =\n"                 /* 2: empty: do not save */
	     "pid_file =   # none\n"                 /* 3 */
	     "hosts_deny_sip =\n"                    /* 4: empty list */
	     "autosave_registrations = 300\n"        /* 5 */
	     "load_plugin = /usr/lib/siproxd/plugin_logcall.so\n"); /* 6 */
	CHECK_INT(l.ret, 0);
	CHECK(!strstr(l.log, "ERROR") && !strstr(l.log, "WARNING"));
	CHECK_INT(l.cfg.rtp_timeout, 0);
	CHECK_STR(l.cfg.registration_file, "");
	CHECK_STR(l.cfg.pid_file, "");
	CHECK_INT(l.cfg.hosts_deny_sip.n, 0);
	CHECK_INT(l.cfg.autosave_registrations, 300);
	CHECK(l.cfg.log_calls);
	/* A number without value stays an error (siproxd would read 0). */
	load(&l, "empty-num.conf", "# 1\ndefault_expires =\n");
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, 2, "no value for default_expires"));
}

/* SIP over TCP: siproxd's timers and sipmasq's outbound_proxy_transport. */
static void test_tcp_directives(void)
{
	struct loaded l;

	load(&l, "tcp.conf", "");
	CHECK_INT(l.cfg.tcp_timeout, 600);
	CHECK_INT(l.cfg.tcp_connect_timeout, 500);
	CHECK_INT(l.cfg.tcp_keepalive, 0);
	CHECK_INT(l.cfg.outbound_proxy_transport, 0);

	load(&l, "tcp.conf", "tcp_timeout = 120\ntcp_connect_timeout = 2000\n"
	     "tcp_keepalive = 20\noutbound_proxy_transport = TCP\n");
	CHECK_INT(l.ret, 0);
	CHECK(!strstr(l.log, "WARNING"));
	CHECK_INT(l.cfg.tcp_timeout, 120);
	CHECK_INT(l.cfg.tcp_connect_timeout, 2000);
	CHECK_INT(l.cfg.tcp_keepalive, 20);
	CHECK_INT(l.cfg.outbound_proxy_transport, 1);

	load(&l, "tcp.conf", "tcp_connect_timeout = 0\ntcp_keepalive = -1\n"
	     "outbound_proxy_transport = tls\n");
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, 1, "invalid value '0' for tcp_connect_timeout"));
	CHECK(logged_at(l.log, l.path, 2, "invalid value '-1' for tcp_keepalive"));
	CHECK(logged_at(l.log, l.path, 3, "invalid value 'tls' for outbound_proxy_transport"));
}

static void test_repeated_directive(void)
{
	struct loaded l;

	load(&l, "repeat.conf", "rtp_timeout = 10\nrtp_timeout = 20\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.rtp_timeout, 20);
	CHECK(logged_at(l.log, l.path, 2, "already set at line 1"));
}

static void test_unreadable(void)
{
	struct sipmasq_config cfg;
	char longpath[SIPMASQ_PATH_MAX + 10];
	const char *log;
	int ret;

	config_defaults(&cfg);
	capture_begin();
	ret = config_load(tmp_path("does-not-exist.conf"), &cfg);
	log = capture_end();
	CHECK_INT(ret, -ENOENT);
	CHECK(strstr(log, "does-not-exist.conf") != NULL);
	CHECK(strstr(log, strerror(ENOENT)) != NULL);

	/* A directory opens but cannot be read. */
	capture_begin();
	ret = config_load(tmpdir, &cfg);
	log = capture_end();
	CHECK_INT(ret, -EISDIR);
	CHECK(strstr(log, strerror(EISDIR)) != NULL);

	/* root reads anything: permissions can only be tested as a user. */
	if (geteuid() != 0) {
		const char *p = tmp_path("noperm.conf");

		write_file(p, "rtp_timeout = 5\n");
		chmod(p, 0);
		capture_begin();
		ret = config_load(p, &cfg);
		capture_end();
		CHECK_INT(ret, -EACCES);
	}

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	capture_begin();
	ret = config_load(longpath, &cfg);
	capture_end();
	CHECK_INT(ret, -ENAMETOOLONG);
}

static void test_check_interfaces(void)
{
	struct loaded l;
	const char *log;

	load(&l, "noif.conf", "sip_listen_port = 5060\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(strstr(log, "if_inbound is not set") != NULL);
	CHECK(strstr(log, "if_outbound is not set") != NULL);
	CHECK(strstr(log, l.path) != NULL);

	load(&l, "noin.conf", "if_outbound = ppp0\n");
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(strstr(log, "if_inbound is not set") != NULL);
	CHECK(!strstr(log, "if_outbound is not set"));

	load(&l, "noout.conf", "if_inbound = eth0\n");
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(strstr(log, "if_outbound is not set") != NULL);
	CHECK(!strstr(log, "if_inbound is not set"));

	/* Without any file (defaults plus command line) it still works. */
	struct sipmasq_config cfg;

	config_defaults(&cfg);
	CHECK_INT(check(&cfg, &log), -EINVAL);
	CHECK(strstr(log, "if_inbound is not set") != NULL);
	strcpy(cfg.if_inbound, "eth0");
	strcpy(cfg.if_outbound, "eth0");
	CHECK_INT(check(&cfg, &log), 0);
}

static void test_check_rtp_range(void)
{
	struct loaded l;
	const char *log;

	/* high below low: blamed on the later line, the other one is named. */
	load(&l, "range1.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\n"
	     "rtp_port_low = 8000\n"        /* 3 */
	     "rtp_port_high = 7000\n");     /* 4 */
	CHECK_INT(l.ret, 0);
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 4, "invalid value '7000' for rtp_port_high"));
	CHECK(strstr(log, "8000") && strstr(log, "line 3"));

	load(&l, "range2.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\n"
	     "rtp_port_high = 7000\n"       /* 3 */
	     "rtp_port_low = 8000\n");      /* 4 */
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 4, "invalid value '8000' for rtp_port_low"));

	/* Only low set, above the default high. */
	load(&l, "range3.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\nrtp_port_low = 9000\n");
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 3, "invalid value '9000' for rtp_port_low"));
	CHECK(strstr(log, "default") != NULL);

	/* Fewer than two even/odd pairs. */
	load(&l, "range4.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\n"
	     "rtp_port_low = 7070\nrtp_port_high = 7072\n");
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 4, "7070..7072"));
	load(&l, "range5.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\n"
	     "rtp_port_low = 7071\nrtp_port_high = 7074\n");
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	load(&l, "range6.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\n"
	     "rtp_port_low = 7070\nrtp_port_high = 7070\n");
	CHECK_INT(check(&l.cfg, &log), -EINVAL);

	/* Exactly two pairs is enough, also from an odd start. */
	load(&l, "range7.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\n"
	     "rtp_port_low = 7070\nrtp_port_high = 7073\n");
	CHECK_INT(check(&l.cfg, &log), 0);
	load(&l, "range8.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\n"
	     "rtp_port_low = 7069\nrtp_port_high = 7073\n");
	CHECK_INT(check(&l.cfg, &log), 0);
	load(&l, "range9.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\n"
	     "rtp_port_low = 65532\nrtp_port_high = 65535\n");
	CHECK_INT(check(&l.cfg, &log), 0);

	/* Without the RTP proxy the range is irrelevant. */
	load(&l, "range10.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\nrtp_proxy_enable = 0\n"
	     "rtp_port_low = 8000\nrtp_port_high = 7000\n");
	CHECK_INT(check(&l.cfg, &log), 0);

	/* The SIP port inside the range is worth a warning, not an error. */
	load(&l, "range11.conf",
	     "if_inbound = eth0\nif_outbound = ppp0\n"
	     "rtp_port_low = 5000\nrtp_port_high = 5999\n");
	CHECK_INT(check(&l.cfg, &log), 0);
	CHECK(strstr(log, "sip_listen_port 5060") != NULL);
}

/* Path of a file in the source tree: from $top_srcdir (set by make check),
 * else relative to this source file's own path. */
static const char *src_path(const char *rel)
{
	static char path[PATH_MAX];
	const char *top = getenv("top_srcdir");

	if (top && *top) {
		snprintf(path, sizeof(path), "%s/%s", top, rel);
	} else {
		const char *file = __FILE__;
		const char *cut = strstr(file, "tests/unit/test_config.c");
		int len = cut ? (int)(cut - file) : 0;

		snprintf(path, sizeof(path), "%.*s%s", len, file, rel);
	}
	return path;
}

/* Load a file of the source tree with the log captured. */
static int load_src(const char *rel, struct sipmasq_config *cfg, const char **log)
{
	const char *path = src_path(rel);
	int ret;

	config_defaults(cfg);
	fprintf(stderr, "  load %s\n", path);
	capture_begin();
	ret = config_load(path, cfg);
	*log = capture_end();
	return ret;
}

/* The example shipped in etc/ must load cleanly and pass config_check. */
static void test_shipped_example(void)
{
	struct sipmasq_config cfg;
	const char *log;

	CHECK_INT(load_src("etc/sipmasq.conf", &cfg, &log), 0);
	CHECK(!strstr(log, "WARNING") && !strstr(log, "ERROR"));
	CHECK_STR(cfg.if_inbound, "eth0");
	CHECK_STR(cfg.if_outbound, "ppp0");
	CHECK_INT(cfg.rtp_port_low, 7070);
	CHECK_INT(cfg.rtp_port_high, 7089);
	CHECK_STR(cfg.registration_file, "/var/lib/sipmasq/registrations");
	CHECK_STR(cfg.pid_file, "/run/sipmasq.pid");
	CHECK_INT(check(&cfg, &log), 0);
}

/* A siproxd 0.8 configuration is a drop-in: values taken, the rest warned. */
static void test_siproxd_conf(void)
{
	static const unsigned unsupported_lines[] = {
		22, 34, 35, 48,   /* 21: user; 32, 33: rtp_dscp, sip_dscp are supported */
		64, 66, 67, 68,   /* 65: plugin_logcall is built in */
	};
	const char *path = src_path("tests/unit/data/siproxd.conf");
	struct sipmasq_config cfg;
	const char *log;

	CHECK_INT(load_src("tests/unit/data/siproxd.conf", &cfg, &log), 0);
	CHECK(!strstr(log, "ERROR"));
	for (size_t i = 0; i < sizeof(unsupported_lines) / sizeof(unsupported_lines[0]); i++)
		if (!CHECK(logged_at(log, path, unsupported_lines[i], "is not supported yet")))
			fprintf(stderr, "  ^ line %u\n", unsupported_lines[i]);
	CHECK_INT(count(log, "WARNING"),
		  sizeof(unsupported_lines) / sizeof(unsupported_lines[0]));
	CHECK_STR(cfg.user, "nobody");   /* line 21 */
	CHECK_STR(cfg.ua_string, "Siproxd-UA");
	CHECK_INT(cfg.tcp_timeout, 600);
	CHECK_INT(cfg.tcp_connect_timeout, 500);
	CHECK_INT(cfg.tcp_keepalive, 20);
	CHECK_INT(cfg.rtp_dscp, 46);
	CHECK_INT(cfg.sip_dscp, 0);
	CHECK_STR(cfg.if_inbound, "eth0");
	CHECK_STR(cfg.if_outbound, "ppp0");
	CHECK_STR(cfg.host_outbound, "gw.example.test");
	CHECK(cfg.daemonize);
	CHECK_INT(cfg.silence_log, 2);
	CHECK(cfg.log_calls);
	CHECK_STR(cfg.registration_file, "/var/lib/siproxd/siproxd_registrations");
	CHECK(cfg.autosave_registrations);
	CHECK_STR(cfg.pid_file, "/var/run/siproxd/siproxd.pid");
	CHECK_INT(cfg.rtp_port_high, 7079);
	CHECK_INT(cfg.hosts_allow_reg.n, 1);
	CHECK_INT(cfg.hosts_allow_sip.n, 2);
	CHECK_INT(cfg.hosts_deny_sip.n, 1);
	CHECK_INT(cfg.outbound_domain_name.n, 1);
	CHECK_STR(cfg.outbound_domain_host.item[0], "proxy.provider.example.test");
	CHECK_INT(cfg.outbound_domain_port.line[0], 58);
	CHECK_INT(cfg.use_rport, 0);
	CHECK(cfg.obscure_loops);
	CHECK_INT(check(&cfg, &log), 0);
}

static struct in_addr ip4(const char *s)
{
	struct in_addr a = { 0 };

	inet_pton(AF_INET, s, &a);
	return a;
}

/* hosts_allow_reg / hosts_allow_sip / hosts_deny_sip: parsing, errors with
 * FILE:LINE, and siproxd's rule (deny wins, empty allows all, reg implies
 * sip). */
static void test_access_lists(void)
{
	struct loaded l;
	const struct acl *reg, *sip, *deny;

	load(&l, "acl.conf",
	     "hosts_allow_reg = 10.0.0.2/32\n"
	     "hosts_allow_sip = 192.168.1.0/24 , 203.0.113.7,localhost\n"
	     "hosts_deny_sip = 192.168.1.128/25\n");
	CHECK_INT(l.ret, 0);
	CHECK(!strstr(l.log, "WARNING") && !strstr(l.log, "ERROR"));
	reg = &l.cfg.hosts_allow_reg;
	sip = &l.cfg.hosts_allow_sip;
	deny = &l.cfg.hosts_deny_sip;
	CHECK_INT(reg->n, 1);
	CHECK_INT(reg->e[0].mask, 0xffffffffu);
	CHECK_INT(sip->n, 2);
	CHECK_INT(sip->e[0].net, 0xc0a80100u);
	CHECK_INT(sip->e[0].mask, 0xffffff00u);
	CHECK_INT(sip->e[1].net, 0xcb007107u);   /* no /nn: a /32 */
	/* A name is kept as a name, resolved later without blocking
	 * (daemon/dns/acl_names.c): until then it matches nothing. */
	CHECK_INT(sip->n_names, 1);
	CHECK_STR(sip->names[0].name, "localhost");
	CHECK_INT(sip->names[0].mask, 0xffffffffu);
	CHECK(!sip->names[0].resolved);
	CHECK(acl_match(sip, ip4("192.168.1.99")));
	CHECK(!acl_match(sip, ip4("192.168.2.1")));
	CHECK(!acl_match(sip, ip4("127.0.0.1")));
	l.cfg.hosts_allow_sip.names[0].resolved = true;
	l.cfg.hosts_allow_sip.names[0].ip = 0x7f000001u;
	CHECK(acl_match(sip, ip4("127.0.0.1")));

	/* siproxd's form for a name, "name/nn", and a name that does not
	 * resolve (anywhere, ever): both load. */
	load(&l, "aclname.conf",
	     "hosts_allow_reg = gw.example.test/32, nowhere.invalid, pbx.example.test/24\n");
	CHECK_INT(l.ret, 0);
	CHECK(!strstr(l.log, "ERROR"));
	CHECK_INT(l.cfg.hosts_allow_reg.n, 0);
	CHECK_INT(l.cfg.hosts_allow_reg.n_names, 3);
	CHECK_STR(l.cfg.hosts_allow_reg.names[0].name, "gw.example.test");
	CHECK_INT(l.cfg.hosts_allow_reg.names[2].mask, 0xffffff00u);
	CHECK(!acl_is_empty(&l.cfg.hosts_allow_reg));
	/* Unresolved, the list allows nobody (it is not an empty list). */
	CHECK(!acl_permits(&l.cfg.hosts_allow_reg, &l.cfg.hosts_allow_sip,
			   &l.cfg.hosts_deny_sip, ip4("10.0.0.2"), true));
	load(&l, "acl.conf",
	     "hosts_allow_reg = 10.0.0.2/32\n"
	     "hosts_allow_sip = 192.168.1.0/24 , 203.0.113.7,localhost\n"
	     "hosts_deny_sip = 192.168.1.128/25\n");

	/* REGISTER: only allow_reg; other requests: allow_sip or allow_reg. */
	CHECK(acl_permits(reg, sip, deny, ip4("10.0.0.2"), true));
	CHECK(!acl_permits(reg, sip, deny, ip4("10.0.0.3"), true));
	CHECK(!acl_permits(reg, sip, deny, ip4("192.168.1.5"), true));
	CHECK(acl_permits(reg, sip, deny, ip4("192.168.1.5"), false));
	CHECK(acl_permits(reg, sip, deny, ip4("10.0.0.2"), false));
	CHECK(!acl_permits(reg, sip, deny, ip4("10.0.0.3"), false));
	/* deny wins over allow_sip */
	CHECK(!acl_permits(reg, sip, deny, ip4("192.168.1.200"), false));

	/* Empty allow lists allow everything; deny alone refuses. */
	struct acl none = { 0 };

	CHECK(acl_permits(&none, &none, &none, ip4("198.51.100.9"), true));
	CHECK(acl_permits(&none, &none, &none, ip4("198.51.100.9"), false));
	CHECK(!acl_permits(&none, &none, reg, ip4("10.0.0.2"), true));
	CHECK(!acl_permits(&none, &none, reg, ip4("10.0.0.2"), false));
	/* allow_reg set, allow_sip empty: other requests from anyone pass. */
	CHECK(acl_permits(reg, &none, &none, ip4("10.0.0.3"), false));
	CHECK(!acl_permits(reg, &none, &none, ip4("10.0.0.3"), true));

	/* /0 matches everything; the net is masked. */
	load(&l, "acl0.conf", "hosts_deny_sip = 1.2.3.4/0\nhosts_allow_sip = 10.1.2.3/8\n");
	CHECK_INT(l.ret, 0);
	CHECK(acl_match(&l.cfg.hosts_deny_sip, ip4("8.8.8.8")));
	CHECK_INT(l.cfg.hosts_allow_sip.e[0].net, 0x0a000000u);

	/* Errors name FILE:LINE and the entry; the list keeps its value. */
	load(&l, "aclbad.conf",
	     "hosts_allow_sip = 10.0.0.0/8\n"              /* 1 */
	     "hosts_allow_sip = 10.0.0.0/33\n"             /* 2 */
	     "hosts_allow_reg = 10.0.0/8\n"                /* 3 */
	     "hosts_deny_sip = 300.1.2.3\n"                /* 4 */
	     "hosts_deny_sip = 10.0.0.1,,10.0.0.2\n"       /* 5 */
	     "hosts_deny_sip = 10.0.0.1/x\n"               /* 6 */
	     "hosts_deny_sip = bad_name!\n");              /* 7 */
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, 2, "'10.0.0.0/33'"));
	CHECK(logged_at(l.log, l.path, 2, "prefix length must be 0..32"));
	CHECK(logged_at(l.log, l.path, 3, "'10.0.0/8' is not an IPv4 address"));
	CHECK(logged_at(l.log, l.path, 4, "'300.1.2.3' is not an IPv4 address"));
	CHECK(logged_at(l.log, l.path, 5, "empty entry"));
	CHECK(logged_at(l.log, l.path, 6, "prefix length"));
	CHECK(logged_at(l.log, l.path, 7, "neither a.b.c.d[/nn] nor a host name"));
	CHECK_INT(l.cfg.hosts_allow_sip.n, 1);
	CHECK_INT(l.cfg.hosts_allow_sip.e[0].mask, 0xff000000u);
	CHECK_INT(l.cfg.hosts_deny_sip.n, 0);

	/* More than ACL_MAX entries. */
	char text[ACL_MAX * 16 + 64];
	size_t used = (size_t)snprintf(text, sizeof(text), "hosts_deny_sip = ");

	for (int i = 0; i <= ACL_MAX; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s10.0.%d.1",
					 i ? "," : "", i);
	snprintf(text + used, sizeof(text) - used, "\n");
	load(&l, "aclmany.conf", text);
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, 1, "more than"));
}

/* outbound_proxy_host/_port and the outbound_domain_* triples. */
static void test_outbound_proxies(void)
{
	struct loaded l;
	const char *log;

	load(&l, "obp.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "outbound_proxy_host = proxy.example.test\n");
	CHECK_INT(l.ret, 0);
	CHECK_STR(l.cfg.outbound_proxy_host, "proxy.example.test");
	CHECK_INT(l.cfg.outbound_proxy_port, 5060);
	CHECK_INT(l.cfg.outbound_domain_name.n, 0);
	CHECK_INT(check(&l.cfg, &log), 0);

	load(&l, "obpport.conf", "outbound_proxy_port = 5080\noutbound_proxy_port = 0\n"
	     "outbound_proxy_host = a b\n");
	CHECK_INT(l.ret, -EINVAL);
	CHECK_INT(l.cfg.outbound_proxy_port, 5080);
	CHECK(logged_at(l.log, l.path, 2, "invalid value '0' for outbound_proxy_port"));
	CHECK(logged_at(l.log, l.path, 3, "outbound_proxy_host"));

	/* Repeatable: every line appends, no "already set" warning. */
	load(&l, "obd.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "outbound_domain_name = a.example.test\n"       /* 3 */
	     "outbound_domain_host = 192.0.2.1\n"            /* 4 */
	     "outbound_domain_port = 5060\n"                 /* 5 */
	     "outbound_domain_name = B.example.test\n"       /* 6 */
	     "outbound_domain_host = proxy.b.example.test\n" /* 7 */
	     "outbound_domain_port = 5070\n");               /* 8 */
	CHECK_INT(l.ret, 0);
	CHECK(!strstr(l.log, "WARNING") && !strstr(l.log, "ERROR"));
	CHECK_INT(l.cfg.outbound_domain_name.n, 2);
	CHECK_STR(l.cfg.outbound_domain_name.item[1], "B.example.test");
	CHECK_STR(l.cfg.outbound_domain_host.item[1], "proxy.b.example.test");
	CHECK_STR(l.cfg.outbound_domain_port.item[1], "5070");
	CHECK_INT(l.cfg.outbound_domain_name.line[1], 6);
	CHECK_INT(check(&l.cfg, &log), 0);

	/* Lists of different lengths: the first unmatched entry is named. */
	load(&l, "obdshort.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "outbound_domain_name = a.example.test\n"       /* 3 */
	     "outbound_domain_host = 192.0.2.1\n"            /* 4 */
	     "outbound_domain_port = 5060\n"                 /* 5 */
	     "outbound_domain_name = b.example.test\n"       /* 6 */
	     "outbound_domain_port = 5070\n");               /* 7 */
	CHECK_INT(l.ret, 0);
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 6, "outbound_domain_name 'b.example.test' (entry 2)"));
	CHECK(strstr(log, "2 outbound_domain_name, 1 outbound_domain_host, "
		     "2 outbound_domain_port") != NULL);

	load(&l, "obdport.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "outbound_domain_port = 5060\n");               /* 3 */
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 3, "outbound_domain_port '5060' (entry 1)"));

	/* Bad entries are load errors at their line and are not appended. */
	load(&l, "obdbad.conf",
	     "outbound_domain_port = 70000\n"                /* 1 */
	     "outbound_domain_port = x\n"                    /* 2 */
	     "outbound_domain_host = a b\n"                  /* 3 */
	     "outbound_domain_name = \"\"\n");               /* 4 */
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, 1, "not a port number"));
	CHECK(logged_at(l.log, l.path, 2, "not a port number"));
	CHECK(logged_at(l.log, l.path, 3, "no blanks"));
	CHECK(logged_at(l.log, l.path, 4, "empty"));
	CHECK_INT(l.cfg.outbound_domain_port.n, 0);
	CHECK_INT(l.cfg.outbound_domain_host.n, 0);

	/* At most CONFIG_LIST_MAX entries. */
	char text[CONFIG_LIST_MAX * 40 + 64];
	size_t used = 0;

	for (int i = 0; i <= CONFIG_LIST_MAX; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "outbound_domain_name = d%d.test\n", i);
	load(&l, "obdmany.conf", text);
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, CONFIG_LIST_MAX + 1, "more than"));
	CHECK_INT(l.cfg.outbound_domain_name.n, CONFIG_LIST_MAX);
}

/* dns_server (c-ares servers) and host_outbound_refresh. */
static void test_dns_directives(void)
{
	struct loaded l;

	load(&l, "dnsdef.conf", "if_inbound = eth0\nif_outbound = ppp0\n");
	CHECK_STR(l.cfg.dns_server, "");
	CHECK_INT(l.cfg.host_outbound_refresh, 60);

	load(&l, "dns.conf", "dns_server = 198.51.100.2:5353,192.0.2.53\n"
	     "host_outbound_refresh = 5\n");
	CHECK_INT(l.ret, 0);
	CHECK_STR(l.cfg.dns_server, "198.51.100.2:5353,192.0.2.53");
	CHECK_INT(l.cfg.host_outbound_refresh, 5);

	load(&l, "dnsbad.conf", "dns_server = ns.example.test\n"   /* 1: a name */
	     "dns_server = 192.0.2.1:0\n"                          /* 2: port 0 */
	     "dns_server = 192.0.2.1,,192.0.2.2\n"                 /* 3: empty item */
	     "dns_server = 192.0.2.1, 192.0.2.2\n"                 /* 4: blank */
	     "host_outbound_refresh = 0\n");                       /* 5 */
	CHECK_INT(l.ret, -EINVAL);
	for (unsigned line = 1; line <= 4; line++)
		CHECK(logged_at(l.log, l.path, line, "dns_server"));
	CHECK(logged_at(l.log, l.path, 5, "host_outbound_refresh"));
}

/* mask_host / masked_host pairs, use_rport, obscure_loops. */
static void test_masks_and_tweaks(void)
{
	struct loaded l;
	const char *log;

	load(&l, "mask.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "mask_host = 10.0.0.1\n"                    /* 3 */
	     "masked_host = voip.example.test\n"         /* 4 */
	     "mask_host = GW.lan\n"                      /* 5 */
	     "masked_host = 203.0.113.7\n");             /* 6 */
	CHECK_INT(l.ret, 0);
	CHECK(!strstr(l.log, "WARNING") && !strstr(l.log, "ERROR"));
	CHECK_INT(l.cfg.mask_host.n, 2);
	CHECK_INT(l.cfg.masked_host.line[1], 6);
	CHECK_INT(check(&l.cfg, &log), 0);
	CHECK_STR(host_mask_of(&l.cfg, "10.0.0.1"), "voip.example.test");
	CHECK_STR(host_mask_of(&l.cfg, "gw.LAN"), "203.0.113.7");
	CHECK(host_mask_of(&l.cfg, "10.0.0.2") == NULL);
	CHECK(host_mask_of(&l.cfg, NULL) == NULL);
	CHECK_STR(host_mask_masked_aor(&l.cfg, "sip:alice@VOIP.example.test"), "voip.example.test");
	CHECK_STR(host_mask_masked_aor(&l.cfg, "sip:bob@203.0.113.7:5060"), "203.0.113.7");
	CHECK(host_mask_masked_aor(&l.cfg, "sip:alice@voip.example.test.evil") == NULL);
	CHECK(host_mask_masked_aor(&l.cfg, "sip:alice@10.0.0.1") == NULL);
	CHECK(host_mask_masked_aor(&l.cfg, "") == NULL);

	/* A mask_host without its masked_host: config error at its line. */
	load(&l, "maskshort.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "mask_host = 10.0.0.1\n"                    /* 3 */
	     "masked_host = voip.example.test\n"         /* 4 */
	     "mask_host = 10.0.0.9\n");                  /* 5 */
	CHECK_INT(l.ret, 0);
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 5, "mask_host '10.0.0.9' (entry 2) has no partner"));
	load(&l, "maskedonly.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "masked_host = voip.example.test\n");       /* 3 */
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 3, "masked_host 'voip.example.test' (entry 1)"));

	/* use_rport: siproxd's bit mask 0..3; sipmasq's default is 3. */
	load(&l, "rport.conf", "use_rport = 2\nobscure_loops = 1\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.use_rport, 2);
	CHECK(l.cfg.obscure_loops);
	load(&l, "rportbad.conf", "use_rport = 4\nobscure_loops = maybe\n");
	CHECK_INT(l.ret, -EINVAL);
	CHECK(logged_at(l.log, l.path, 1, "invalid value '4' for use_rport"));
	CHECK(logged_at(l.log, l.path, 2, "invalid value 'maybe' for obscure_loops"));
	load(&l, "rportdef.conf", "if_inbound = eth0\n");
	CHECK_INT(l.cfg.use_rport, 3);
	CHECK(!l.cfg.obscure_loops);
}

/* config_find returns the first readable of its two candidates. */
/* rtp_latch_window: default, a value, and 0 refused (latching would never
 * be allowed). */
static void test_latch_window(void)
{
	struct sipmasq_config cfg;
	struct loaded l;

	config_defaults(&cfg);
	CHECK_INT(cfg.rtp_latch_window, 10);
	load(&l, "latch.conf", "rtp_latch_window = 4\n");
	CHECK_INT(l.ret, 0);
	CHECK_INT(l.cfg.rtp_latch_window, 4);
	load(&l, "latch0.conf", "rtp_latch_window = 0\n");
	CHECK(l.ret != 0);
	CHECK(strstr(l.log, "latch0.conf:1") != NULL);
}

static void test_find(void)
{
	const char *own = SYSCONFDIR "/sipmasq.conf";
	const char *found = config_find();
	const char *want = NULL;

	if (access(own, R_OK) == 0)
		want = own;
	else if (access("/etc/siproxd.conf", R_OK) == 0)
		want = "/etc/siproxd.conf";
	if (want)
		CHECK_STR(found, want);
	else
		CHECK(found == NULL);
}

/* Every file the tests write is a direct child of tmpdir. */
static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlink(tmp_path(e->d_name));
	closedir(d);
	if (rmdir(tmpdir))
		fprintf(stderr, "could not remove %s: %s\n", tmpdir, strerror(errno));
}

/* proxy_auth_*: a realm needs a password source; a password without a
 * realm warns; an unreadable proxy_auth_pwfile names its line. */
static void test_proxy_auth(void)
{
	struct loaded l;
	const char *log;
	char text[PATH_MAX + 128];

	load(&l, "auth.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "proxy_auth_realm = Home Gateway\n"     /* 3 */
	     "proxy_auth_passwd = \"s3cret #1\"\n");  /* 4 */
	CHECK_INT(l.ret, 0);
	CHECK_STR(l.cfg.proxy_auth_realm, "Home Gateway");
	CHECK_STR(l.cfg.proxy_auth_passwd, "s3cret #1");
	CHECK_INT(check(&l.cfg, &log), 0);

	CHECK_INT(l.cfg.proxy_auth_n_alg, 2);   /* default: MD5, SHA-256 */
	CHECK_INT(l.cfg.proxy_auth_alg[0], AUTH_ALG_MD5);
	CHECK_INT(l.cfg.proxy_auth_alg[1], AUTH_ALG_SHA256);
	CHECK_INT(l.cfg.proxy_auth_nonce_lifetime, 300);

	load(&l, "authalg.conf", "proxy_auth_algorithms = md5, SHA-256\n"
	     "proxy_auth_algorithms = MD5,MD5\nproxy_auth_algorithms = SHA-1\n");
	CHECK_INT(l.ret, -EINVAL);
	CHECK_INT(l.cfg.proxy_auth_n_alg, 2);
	CHECK_INT(l.cfg.proxy_auth_alg[0], AUTH_ALG_MD5);
	CHECK_INT(l.cfg.proxy_auth_alg[1], AUTH_ALG_SHA256);
	CHECK(logged_at(l.log, l.path, 2, "expected SHA-256 and/or MD5, each once"));
	CHECK(logged_at(l.log, l.path, 3, "invalid value 'SHA-1' for proxy_auth_algorithms"));

	load(&l, "authnopw.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "proxy_auth_realm = gw\n");
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 3,
			"proxy_auth_realm needs proxy_auth_passwd or proxy_auth_pwfile"));

	load(&l, "authquote.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "proxy_auth_passwd = x\nproxy_auth_realm = a\"b\n");
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 4, "for proxy_auth_realm"));

	load(&l, "authnorealm.conf", "if_inbound = eth0\nif_outbound = ppp0\n"
	     "proxy_auth_passwd = x\n");
	CHECK_INT(check(&l.cfg, &log), 0);
	CHECK(logged_at(log, l.path, 3, "proxy_auth_passwd without proxy_auth_realm"));

	snprintf(text, sizeof(text), "if_inbound = eth0\nif_outbound = ppp0\n"
		 "proxy_auth_realm = gw\nproxy_auth_pwfile = %s\n",
		 tmp_path("no-such-pwfile"));
	load(&l, "authpwfile.conf", text);
	CHECK_INT(l.ret, 0);
	CHECK_INT(check(&l.cfg, &log), -EINVAL);
	CHECK(logged_at(log, l.path, 4, "for proxy_auth_pwfile"));
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(logpath, sizeof(logpath), "%s/captured.log", tmpdir);
	log_open(false, 0);

	test_defaults();
	test_good_file();
	test_minimal_file_keeps_defaults();
	test_comments_and_whitespace();
	test_booleans();
	test_debug_level();
	test_invalid_values();
	test_conntrack_directives();
	test_limits();
	test_syntax_errors();
	test_unknown_and_unsupported();
	test_repeated_directive();
	test_tcp_directives();
	test_siproxd_loads();
	test_unreadable();
	test_check_interfaces();
	test_check_rtp_range();
	test_shipped_example();
	test_siproxd_conf();
	test_find();
	test_dns_directives();
	test_latch_window();
	test_access_lists();
	test_outbound_proxies();
	test_proxy_auth();
	test_masks_and_tweaks();

	remove_tmpdir();

	return unit_summary();
}
