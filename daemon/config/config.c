/* Configuration reader: siproxd.conf syntax, driven by one table of directives.
 *
 * A line is "key = value", optionally followed by a '#' comment; blank lines
 * and '#' lines are skipped. Values are taken verbatim up to the end of the
 * line (siproxd >= 0.8.1 allows blanks inside strings); a value wrapped in
 * double quotes loses its quotes, and "" is how a string is set empty.
 * Every problem is reported as "FILE:LINE: ..." and reading goes on, so one
 * run of the daemon shows every mistake in the file at once. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/base/addr.h"
#include "daemon/config/config.h"
#include "kmod-free-fallback/media.h"
#include "daemon/base/log.h"

/* Makefile.am defines SYSCONFDIR; the fallback only serves ad-hoc builds. */
#ifndef SYSCONFDIR
#define SYSCONFDIR "/usr/local/etc"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* How a directive's value is parsed and where it is stored. */
enum dir_type {
	DT_IFNAME,      /* interface name: char[IF_NAMESIZE], no blanks or '/' */
	DT_HOST,        /* host name or address: char[], no blanks */
	DT_SERVERS,     /* char[]: comma-separated a.b.c.d[:port], no blanks */
	DT_PATH,        /* file path: char[], blanks allowed */
	DT_PORT,        /* uint16_t within min..max */
	DT_UINT,        /* unsigned within min..max */
	DT_INT,         /* int within min..max (min is >= 0) */
	DT_BOOL,        /* bool: 0/1, yes/no, true/false, on/off */
	DT_MASK,        /* uint32_t: decimal, 0x hex, or -1 for all bits */
	DT_AUTOSAVE,    /* unsigned: siproxd's save interval in s; yes/no = 0 */
	DT_PLUGIN,      /* load_plugin: plugin_logcall turns on log_calls */
	DT_ENGINE,      /* int enum rtp_engine: auto, xdp, tc, userspace, xdp-generic, conntrack */
	DT_TRANSPORT,   /* int enum sip_proto: udp, tcp */
	DT_ACL,         /* struct acl: comma-separated a.b.c.d[/nn] or host names */
	DT_LIST_HOST,   /* struct config_list: repeatable, one host per line */
	DT_LIST_PORT,   /* struct config_list: repeatable, one port 1..65535 per line */
	DT_AUTH_ALGS,   /* proxy_auth_alg[]/_n_alg: comma-separated SHA-256, MD5 */
	DT_UNSUPPORTED, /* a siproxd directive sipmasq does not implement yet */
};

/* One entry of the directive table. For strings, size bounds the value
 * (including its NUL); min and max only apply to the numeric types. */
struct directive {
	const char *name;
	enum dir_type type;
	size_t offset;          /* of the field in struct sipmasq_config */
	size_t size;            /* of that field, in bytes */
	unsigned long min, max;
};

#define FIELD(f) offsetof(struct sipmasq_config, f), \
	sizeof(((struct sipmasq_config *)0)->f)
/* libosip2's osip_const.h names two SIP headers SUPPORTED and UNSUPPORTED;
 * this file only needs its size limit, not those. */
#undef SUPPORTED
#undef UNSUPPORTED
#define SUPPORTED(name, type, field, min, max) \
	{ name, type, FIELD(field), min, max }
#define UNSUPPORTED(name) { name, DT_UNSUPPORTED, 0, 0, 0, 0 }

/* Upper bounds for times: generous, but small enough that adding them to a
 * millisecond clock can never overflow. */
#define MAX_TIMEOUT_S  86400u
#define MAX_EXPIRES_S  86400u

static const struct directive directives[] = {
	SUPPORTED("if_inbound",        DT_IFNAME, if_inbound, 0, 0),
	SUPPORTED("if_outbound",       DT_IFNAME, if_outbound, 0, 0),
	SUPPORTED("host_outbound",     DT_HOST,   host_outbound, 0, 0),
	SUPPORTED("sip_listen_port",   DT_PORT,   sip_listen_port, 1, 65535),
	SUPPORTED("rtp_proxy_enable",  DT_BOOL,   rtp_proxy_enable, 0, 0),
	SUPPORTED("rtp_port_low",      DT_PORT,   rtp_port_low, 1, 65535),
	SUPPORTED("rtp_port_high",     DT_PORT,   rtp_port_high, 1, 65535),
	SUPPORTED("rtp_timeout",       DT_UINT,   rtp_timeout, 0, MAX_TIMEOUT_S),
	SUPPORTED("default_expires",   DT_UINT,   default_expires, 1, MAX_EXPIRES_S),
	SUPPORTED("daemonize",         DT_BOOL,   daemonize, 0, 0),
	SUPPORTED("silence_log",       DT_INT,    silence_log, 0, 4),
	SUPPORTED("log_calls",         DT_BOOL,   log_calls, 0, 0),
	SUPPORTED("debug_level",       DT_MASK,   debug_level, 0, 0xffffffffu),
	SUPPORTED("registration_file", DT_PATH,   registration_file, 0, 0),
	SUPPORTED("pid_file",          DT_PATH,   pid_file, 0, 0),
	SUPPORTED("user",              DT_HOST,   user, 0, 0),
	SUPPORTED("autosave_registrations", DT_AUTOSAVE, autosave_registrations,
		  0, 0xffffffffu),
	SUPPORTED("hosts_allow_reg",   DT_ACL,    hosts_allow_reg, 0, 0),
	SUPPORTED("hosts_allow_sip",   DT_ACL,    hosts_allow_sip, 0, 0),
	SUPPORTED("hosts_deny_sip",    DT_ACL,    hosts_deny_sip, 0, 0),
	SUPPORTED("outbound_proxy_host", DT_HOST, outbound_proxy_host, 0, 0),
	SUPPORTED("outbound_proxy_port", DT_PORT, outbound_proxy_port, 1, 65535),
	SUPPORTED("outbound_domain_name", DT_LIST_HOST, outbound_domain_name, 0, 0),
	SUPPORTED("outbound_domain_host", DT_LIST_HOST, outbound_domain_host, 0, 0),
	SUPPORTED("outbound_domain_port", DT_LIST_PORT, outbound_domain_port, 1, 65535),
	SUPPORTED("proxy_auth_realm",  DT_PATH,   proxy_auth_realm, 0, 0),   /* blanks allowed */
	SUPPORTED("proxy_auth_passwd", DT_PATH,   proxy_auth_passwd, 0, 0),
	SUPPORTED("proxy_auth_pwfile", DT_PATH,   proxy_auth_pwfile, 0, 0),
	SUPPORTED("tcp_timeout",       DT_UINT,   tcp_timeout, 0, MAX_TIMEOUT_S),
	SUPPORTED("tcp_connect_timeout", DT_UINT, tcp_connect_timeout, 1, 60000),
	SUPPORTED("tcp_keepalive",     DT_UINT,   tcp_keepalive, 0, MAX_TIMEOUT_S),
	SUPPORTED("mask_host",         DT_LIST_HOST, mask_host, 0, 0),
	SUPPORTED("masked_host",       DT_LIST_HOST, masked_host, 0, 0),
	SUPPORTED("use_rport",         DT_UINT,   use_rport, 0, 3),
	SUPPORTED("obscure_loops",     DT_BOOL,   obscure_loops, 0, 0),
	/* sipmasq's own */
	SUPPORTED("rtp_engine",        DT_ENGINE, rtp_engine, 0, 0),
	SUPPORTED("rtp_engine_bpf",    DT_BOOL,   rtp_engine_bpf, 0, 0),
	SUPPORTED("rtp_conntrack_mark", DT_MASK,  rtp_conntrack_mark, 1, 0xffffffffu),
	SUPPORTED("rtp_latch_window",  DT_UINT,   rtp_latch_window, 1, MAX_TIMEOUT_S),
	SUPPORTED("rtp_xdp_veth",      DT_BOOL,   rtp_xdp_veth, 0, 0),
	SUPPORTED("rtp_dscp",          DT_UINT,   rtp_dscp, 0, 63),
	SUPPORTED("sip_dscp",          DT_UINT,   sip_dscp, 0, 63),
	SUPPORTED("bpf_pin_dir",       DT_PATH,   bpf_pin_dir, 0, 0),
	SUPPORTED("call_state_file",   DT_PATH,   call_state_file, 0, 0),
	SUPPORTED("control_socket",    DT_PATH,   control_socket, 0, 0),
	SUPPORTED("ua_string",         DT_PATH,   ua_string, 0, 0),   /* blanks allowed */
	SUPPORTED("proxy_auth_algorithms", DT_AUTH_ALGS, proxy_auth_alg, 0, 0),
	SUPPORTED("proxy_auth_nonce_lifetime", DT_UINT, proxy_auth_nonce_lifetime, 1, 3600),
	SUPPORTED("proxy_auth_forwarded", DT_BOOL, proxy_auth_forwarded, 0, 0),
	SUPPORTED("sip_max_message_size", DT_UINT, sip_max_message_size, 512, CONFIG_SIP_MESSAGE_MAX),
	SUPPORTED("sip_max_headers",   DT_UINT,   sip_max_headers, 8, 10000),
	SUPPORTED("sip_max_vias",      DT_UINT,   sip_max_vias, 2, 1000),
	SUPPORTED("max_registrations", DT_UINT,   max_registrations, 1, 1000000),
	SUPPORTED("max_registrations_per_aor", DT_UINT, max_registrations_per_aor, 1, 1000),
	SUPPORTED("max_calls",         DT_UINT,   max_calls, 1, 1000000),
	SUPPORTED("max_streams_per_call", DT_UINT, max_streams_per_call, 1, CONFIG_STREAMS_PER_CALL_MAX),
	SUPPORTED("via_stash_size",    DT_UINT,   via_stash_size, 16, 4000000),
	SUPPORTED("sip_rate_limit",    DT_UINT,   sip_rate_limit, 0, 1000000),
	SUPPORTED("sip_rate_burst",    DT_UINT,   sip_rate_burst, 1, 1000000),
	SUPPORTED("sip_rate_limit_registered", DT_UINT, sip_rate_limit_registered, 0, 1000000),
	SUPPORTED("sip_rate_burst_registered", DT_UINT, sip_rate_burst_registered, 1, 1000000),
	SUPPORTED("sip_rate_sources",  DT_UINT,   sip_rate_sources, 16, 1000000),
	SUPPORTED("dns_server",        DT_SERVERS, dns_server, 0, 0),
	SUPPORTED("host_outbound_refresh", DT_UINT, host_outbound_refresh, 1, MAX_TIMEOUT_S),
	SUPPORTED("outbound_proxy_transport", DT_TRANSPORT, outbound_proxy_transport, 0, 0),

	/* siproxd 0.8.x directives that are recognised but not implemented:
	 * a siproxd.conf that uses them still loads, with a warning. */
	UNSUPPORTED("chrootjail"),
	UNSUPPORTED("rtp_input_dejitter"),
	UNSUPPORTED("rtp_output_dejitter"),
	UNSUPPORTED("debug_port"),
	UNSUPPORTED("thread_stack_size"),
	UNSUPPORTED("plugindir"),
	SUPPORTED("load_plugin",       DT_PLUGIN, log_calls, 0, 0),
	/* plugin_* keys (plugin configuration) are matched by prefix below. */
};

#define N_DIRECTIVES ARRAY_SIZE(directives)
#define PLUGIN_PREFIX "plugin_"

/* Where each directive was last set by the latest config_load (0 = never,
 * i.e. the default is in force), so that config_check can point at the
 * line to fix. Valid only for the file named in set_file. */
static unsigned set_line[N_DIRECTIVES];
static char set_file[SIPMASQ_PATH_MAX];

/* Distinct plugin_* keys remembered to warn once per key; beyond this many
 * every further line warns, which is noisy but still correct. */
#define PLUGIN_SEEN_MAX 32
#define PLUGIN_KEY_MAX  64

/* State of one config_load run. */
struct load_ctx {
	const char *path;
	unsigned line;
	struct sipmasq_config *cfg;
	bool warned[N_DIRECTIVES];      /* unsupported directive already reported */
	char plugin_seen[PLUGIN_SEEN_MAX][PLUGIN_KEY_MAX];
	unsigned n_plugin_seen;
	int err;                        /* 0 or -EINVAL once anything was wrong */
};

void config_defaults(struct sipmasq_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sip_listen_port = 5060;
	cfg->rtp_proxy_enable = true;
	cfg->rtp_port_low = 7070;
	cfg->rtp_port_high = 7089;
	cfg->rtp_timeout = 300;
	cfg->default_expires = 3600;   /* siproxd's DEFAULT_EXPIRES */
	cfg->daemonize = false;
	cfg->silence_log = 1;
	cfg->log_calls = false;
	cfg->debug_level = 0;
	cfg->autosave_registrations = 0;
	cfg->outbound_proxy_port = 5060;
	cfg->tcp_timeout = 600;
	cfg->tcp_connect_timeout = 500;
	cfg->tcp_keepalive = 0;
	cfg->use_rport = 3;
	cfg->rtp_engine = RTP_ENGINE_AUTO;
	cfg->rtp_engine_bpf = true;
	cfg->rtp_conntrack_mark = CONFIG_CONNTRACK_MARK_DEFAULT;
	/* MD5 first: many phones (and sipp) answer only the first challenge
	 * and know only MD5, and siproxd offers only MD5; SHA-256 stays
	 * offered for clients that pick the best they know (RFC 7616 3.7). */
	cfg->proxy_auth_alg[0] = AUTH_ALG_MD5;
	cfg->proxy_auth_alg[1] = AUTH_ALG_SHA256;
	cfg->proxy_auth_n_alg = 2;
	cfg->proxy_auth_nonce_lifetime = 300;
	cfg->rtp_latch_window = MEDIA_LATCH_WINDOW_DEFAULT_S;
	snprintf(cfg->bpf_pin_dir, sizeof(cfg->bpf_pin_dir), "/sys/fs/bpf/sipmasq");
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), "/run/sipmasq/sipmasq.sock");
	cfg->sip_max_message_size = 16384;
	cfg->sip_max_headers = 100;
	cfg->sip_max_vias = 32;
	cfg->max_registrations = 1024;
	cfg->max_registrations_per_aor = 10;
	cfg->max_calls = 256;
	cfg->max_streams_per_call = CONFIG_STREAMS_PER_CALL_MAX;
	cfg->via_stash_size = 65536;   /* VIA_STASH_MAX of via_stash.h */
	cfg->sip_rate_limit = 50;
	cfg->sip_rate_burst = 100;
	cfg->sip_rate_limit_registered = 500;
	cfg->sip_rate_burst_registered = 1000;
	cfg->sip_rate_sources = 4096;
	cfg->host_outbound_refresh = 60;
}

static const struct directive *directive_find(const char *name)
{
	for (size_t i = 0; i < N_DIRECTIVES; i++)
		if (!strcmp(directives[i].name, name))
			return &directives[i];
	return NULL;
}

/* Line where `name` was set by the last config_load of cfg's file; 0 when
 * it holds its default or the line numbers belong to another file. */
static unsigned line_of(const struct sipmasq_config *cfg, const char *name)
{
	const struct directive *d = directive_find(name);

	if (!d || strcmp(set_file, cfg->config_file))
		return 0;
	return set_line[d - directives];
}

/* Unsigned number: digits only (no sign, no blanks), or 0x-prefixed hex when
 * hex_ok. strtoull alone would accept " -5" and wrap it around. */
static int parse_number(const char *s, bool hex_ok, unsigned long long *out)
{
	int base = 10;

	if (hex_ok && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (base == 10 ? !isdigit((unsigned char)*p)
			       : !isxdigit((unsigned char)*p))
			return -EINVAL;
	errno = 0;
	*out = strtoull(s, NULL, base);
	if (errno == ERANGE)
		return -ERANGE;
	return 0;
}

/* Returns 1 or 0 for a boolean word, -1 for anything else. */
static int parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i]))
			return 1;
		if (!strcasecmp(s, no[i]))
			return 0;
	}
	return -1;
}

static bool has_blank(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s))
			return true;
	return false;
}

/* dns_server: "a.b.c.d[:port]" items separated by commas (what
 * ares_set_servers_ports_csv takes; IPv4 like the rest of sipmasq). */
static bool servers_valid(const char *val)
{
	char buf[CONFIG_ITEM_MAX], *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", val) >= (int)sizeof(buf))
		return false;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');
		struct in_addr ip;

		if (colon)
			*colon = '\0';
		if (inet_pton(AF_INET, item, &ip) != 1 || (colon && !addr_parse_port(colon + 1, 0)))
			return false;
	}
	return val[0] && val[strlen(val) - 1] != ',' && !strstr(val, ",,") && val[0] != ',';
}

/* Copy a string value into its field; "" (quoted) empties a host or path. */
static int store_string(const struct directive *d, const char *val,
			char *field, char *why, size_t why_len)
{
	size_t len = strlen(val);

	if (len >= d->size) {
		snprintf(why, why_len, "too long (at most %zu characters)",
			 d->size - 1);
		return -EINVAL;
	}
	switch (d->type) {
	case DT_IFNAME:
		if (!len) {
			snprintf(why, why_len, "empty interface name");
			return -EINVAL;
		}
		if (has_blank(val) || strchr(val, '/') ||
		    !strcmp(val, ".") || !strcmp(val, "..")) {
			snprintf(why, why_len, "not a valid interface name");
			return -EINVAL;
		}
		break;
	case DT_HOST:
		if (has_blank(val)) {
			snprintf(why, why_len, "a host name has no blanks");
			return -EINVAL;
		}
		break;
	case DT_SERVERS:
		if (len && !servers_valid(val)) {
			snprintf(why, why_len, "not a comma-separated list of a.b.c.d[:port]");
			return -EINVAL;
		}
		break;
	default:
		break;
	}
	memcpy(field, val, len + 1);
	return 0;
}

/* Append one value of a repeatable directive, set at `line`. */
static int store_list(const struct directive *d, const char *val, unsigned line,
		      struct config_list *list, char *why, size_t why_len)
{
	unsigned long long n;

	if (!*val || has_blank(val)) {
		snprintf(why, why_len, "%s", *val ? "a host name has no blanks" : "empty");
		return -EINVAL;
	}
	if (strlen(val) >= sizeof(list->item[0])) {
		snprintf(why, why_len, "too long (at most %zu characters)",
			 sizeof(list->item[0]) - 1);
		return -EINVAL;
	}
	if (d->type == DT_LIST_PORT &&
	    (parse_number(val, false, &n) || n < d->min || n > d->max)) {
		snprintf(why, why_len, "not a port number (%lu..%lu)", d->min, d->max);
		return -EINVAL;
	}
	if (list->n >= CONFIG_LIST_MAX) {
		snprintf(why, why_len, "more than %d %s lines", CONFIG_LIST_MAX, d->name);
		return -EINVAL;
	}
	strcpy(list->item[list->n], val);
	list->line[list->n++] = line;
	return 0;
}

/* proxy_auth_algorithms: e.g. "MD5, SHA-256", in the order to offer them. */
static int store_auth_algs(const char *val, struct sipmasq_config *cfg, char *why,
			   size_t why_len)
{
	static const char *const names[AUTH_ALG_COUNT] = { "SHA-256", "MD5" };
	uint8_t alg[AUTH_ALG_COUNT];
	unsigned n = 0;
	char buf[64], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", val);
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		unsigned a = 0, i;

		while (a < AUTH_ALG_COUNT && strcasecmp(t, names[a]))
			a++;
		for (i = 0; i < n && alg[i] != a; i++)
			;
		if (a == AUTH_ALG_COUNT || i < n) {
			snprintf(why, why_len, "expected SHA-256 and/or MD5, each once");
			return -EINVAL;
		}
		alg[n++] = (uint8_t)a;
	}
	if (!n) {
		snprintf(why, why_len, "expected SHA-256 and/or MD5");
		return -EINVAL;
	}
	memcpy(cfg->proxy_auth_alg, alg, n);
	cfg->proxy_auth_n_alg = n;
	return 0;
}

/* Parse val (from `line`) according to d and store it into cfg. On failure,
 * returns -EINVAL with the reason in why and leaves cfg untouched; returns
 * 1 for a load_plugin naming a plugin sipmasq does not have (a warning). */
static int store(const struct directive *d, const char *val, unsigned line,
		 struct sipmasq_config *cfg, char *why, size_t why_len)
{
	char *field = (char *)cfg + d->offset;
	unsigned long long n;
	int b;

	switch (d->type) {
	case DT_IFNAME:
	case DT_HOST:
	case DT_SERVERS:
	case DT_PATH:
		return store_string(d, val, field, why, why_len);
	case DT_BOOL:
		b = parse_bool(val);
		if (b < 0) {
			snprintf(why, why_len,
				 "expected 0, 1, yes, no, true or false");
			return -EINVAL;
		}
		*(bool *)field = b;
		return 0;
	case DT_AUTOSAVE:
		/* siproxd's save interval in seconds (0: sipmasq saves on every
		 * change); older sipmasq files say yes/no, which mean 0 too. */
		if (parse_number(val, false, &n) == 0 && n <= d->max) {
			*(unsigned *)field = (unsigned)n;
			return 0;
		}
		if (parse_bool(val) < 0) {
			snprintf(why, why_len, "expected a save interval in seconds (0 = on every change)");
			return -EINVAL;
		}
		*(unsigned *)field = 0;
		return 0;
	case DT_PLUGIN: {
		/* siproxd's plugins are shared objects; sipmasq has the call
		 * logger built in (log_calls) and none of the others. */
		const char *base = strrchr(val, '/') ? strrchr(val, '/') + 1 : val;
		size_t len = strcspn(base, ".");

		if (len == strlen("plugin_logcall") && !strncmp(base, "plugin_logcall", len)) {
			*(bool *)field = true;
			return 0;
		}
		return 1;   /* loads, with a warning (parse_line) */
	}
	case DT_ENGINE: {
		/* In the order of enum rtp_engine. */
		static const char *const names[] = { "auto", "xdp", "tc", "userspace",
						     "xdp-generic", "conntrack" };

		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			if (!strcasecmp(val, names[i])) {
				*(int *)field = (int)i;
				return 0;
			}
		}
		snprintf(why, why_len, "expected auto, xdp, tc, conntrack, userspace or xdp-generic");
		return -EINVAL;
	}
	case DT_TRANSPORT:
		if (!strcasecmp(val, "udp") || !strcasecmp(val, "tcp")) {
			*(int *)field = strcasecmp(val, "udp") ? 1 : 0;   /* enum sip_proto */
			return 0;
		}
		snprintf(why, why_len, "expected udp or tcp");
		return -EINVAL;
	case DT_MASK:
		/* siproxd documents -1 as "enable everything". */
		if (!strcmp(val, "-1")) {
			*(uint32_t *)field = 0xffffffffu;
			return 0;
		}
		if (parse_number(val, true, &n)) {
			snprintf(why, why_len,
				 "not a decimal or 0x hexadecimal number");
			return -EINVAL;
		}
		if (n > d->max) {
			snprintf(why, why_len, "more than 32 bits");
			return -EINVAL;
		}
		if (n < d->min) {
			snprintf(why, why_len, "must not be 0");
			return -EINVAL;
		}
		*(uint32_t *)field = (uint32_t)n;
		return 0;
	case DT_PORT:
	case DT_UINT:
	case DT_INT:
		if (parse_number(val, false, &n) == -EINVAL) {
			snprintf(why, why_len, "not a number");
			return -EINVAL;
		}
		/* -ERANGE leaves n at ULLONG_MAX: reported as out of range. */
		if (n < d->min || n > d->max) {
			snprintf(why, why_len, "out of range (%lu..%lu)",
				 d->min, d->max);
			return -EINVAL;
		}
		if (d->type == DT_PORT)
			*(uint16_t *)field = (uint16_t)n;
		else if (d->type == DT_UINT)
			*(unsigned *)field = (unsigned)n;
		else
			*(int *)field = (int)n;
		return 0;
	case DT_ACL:
		return acl_parse(val, (struct acl *)field, why, why_len) ? -EINVAL : 0;
	case DT_LIST_HOST:
	case DT_LIST_PORT:
		return store_list(d, val, line, (struct config_list *)field, why, why_len);
	case DT_AUTH_ALGS:
		return store_auth_algs(val, cfg, why, why_len);
	case DT_UNSUPPORTED:
		break;
	}
	return 0;
}

/* Was this plugin_* key seen before in this file? Remembers it if not. */
static bool plugin_key_seen(struct load_ctx *ctx, const char *key)
{
	for (unsigned i = 0; i < ctx->n_plugin_seen; i++)
		if (!strcmp(ctx->plugin_seen[i], key))
			return true;
	if (ctx->n_plugin_seen < PLUGIN_SEEN_MAX && strlen(key) < PLUGIN_KEY_MAX)
		strcpy(ctx->plugin_seen[ctx->n_plugin_seen++], key);
	return false;
}

static void warn_unsupported(const struct load_ctx *ctx, const char *key)
{
	log_warn("%s:%u: siproxd directive '%s' is not supported yet, ignored",
		 ctx->path, ctx->line, key);
}

/* Cut a trailing comment: the first '#' outside double quotes. */
static void strip_comment(char *s)
{
	bool in_quotes = false;

	for (; *s; s++) {
		if (*s == '"')
			in_quotes = !in_quotes;
		else if (*s == '#' && !in_quotes) {
			*s = '\0';
			return;
		}
	}
}

/* Trim leading and trailing white space (also the CR of CRLF files) in place;
 * returns the start of the trimmed string. */
static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* Handle one line of the file (modified in place): store a value, warn about
 * a directive that is ignored, or log an error and set ctx->err. */
static void parse_line(struct load_ctx *ctx, char *line)
{
	char why[96];
	char *key, *val, *eq;
	const struct directive *d;

	strip_comment(line);
	line = trim(line);
	if (!*line)
		return;

	eq = strchr(line, '=');
	if (!eq) {
		log_err("%s:%u: expected 'key = value', got '%.80s'",
			ctx->path, ctx->line, line);
		ctx->err = -EINVAL;
		return;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if (!*key) {
		log_err("%s:%u: missing directive name before '='",
			ctx->path, ctx->line);
		ctx->err = -EINVAL;
		return;
	}
	d = directive_find(key);
	/* siproxd reads "key =" as an empty string: no registration_file
	 * (nothing saved), no pid file, an empty access list. A number or a
	 * switch without value stays an error (siproxd would read 0). */
	if (!*val && !(d && (d->type == DT_PATH || d->type == DT_HOST || d->type == DT_ACL ||
			     d->type == DT_SERVERS))) {
		log_err("%s:%u: no value for %.80s", ctx->path, ctx->line, key);
		ctx->err = -EINVAL;
		return;
	}
	size_t vlen = strlen(val);
	if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
		val[vlen - 1] = '\0';
		val++;
	}

	if (!d) {
		if (!strncmp(key, PLUGIN_PREFIX, strlen(PLUGIN_PREFIX))) {
			if (!plugin_key_seen(ctx, key))
				warn_unsupported(ctx, key);
		} else {
			log_warn("%s:%u: unknown directive '%.80s', ignored",
				 ctx->path, ctx->line, key);
		}
		return;
	}

	size_t idx = (size_t)(d - directives);
	if (d->type == DT_UNSUPPORTED) {
		/* Once per directive: mask_host or load_plugin may legitimately
		 * repeat many times in a siproxd.conf. */
		if (!ctx->warned[idx])
			warn_unsupported(ctx, key);
		ctx->warned[idx] = true;
		return;
	}

	int rc = store(d, val, ctx->line, ctx->cfg, why, sizeof(why));

	if (rc > 0) {   /* load_plugin of a plugin sipmasq does not have */
		log_warn("%s:%u: siproxd plugin '%.80s' is not supported yet, ignored",
			 ctx->path, ctx->line, val);
		return;
	}
	if (rc) {
		log_err("%s:%u: invalid value '%.80s' for %s: %s",
			ctx->path, ctx->line, val, key, why);
		ctx->err = -EINVAL;
		return;
	}
	/* A repeatable directive appends: repeating it is its purpose. */
	if (set_line[idx] && d->type != DT_LIST_HOST && d->type != DT_LIST_PORT &&
	    d->type != DT_PLUGIN)
		log_warn("%s:%u: %s was already set at line %u; this value wins",
			 ctx->path, ctx->line, key, set_line[idx]);
	set_line[idx] = ctx->line;
	log_debug(DBCLASS_CONFIG, "%s:%u: %s = %s", ctx->path, ctx->line, key, val);
}

int config_load(const char *path, struct sipmasq_config *cfg)
{
	struct load_ctx ctx = { .path = path, .cfg = cfg };
	char *buf = NULL;
	size_t cap = 0;
	FILE *f;
	int ret;

	memset(set_line, 0, sizeof(set_line));
	set_file[0] = '\0';
	if (strlen(path) >= sizeof(cfg->config_file)) {
		log_err("%s: configuration file path too long (at most %zu characters)",
			path, sizeof(cfg->config_file) - 1);
		return -ENAMETOOLONG;
	}
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		log_err("%s: cannot read configuration: %s", path, strerror(errno));
		return ret;
	}
	strcpy(cfg->config_file, path);
	strcpy(set_file, path);

	errno = 0;
	while (getline(&buf, &cap, f) >= 0) {
		ctx.line++;
		parse_line(&ctx, buf);
		errno = 0;
	}
	/* getline returns -1 both at EOF and on error (EISDIR for a directory). */
	if (ferror(f)) {
		ret = errno ? -errno : -EIO;
		log_err("%s:%u: read error: %s", path, ctx.line + 1, strerror(-ret));
		ctx.err = ret;
	}
	free(buf);
	fclose(f);
	return ctx.err;
}

const char *config_find(void)
{
	static const char *const candidates[] = {
		SYSCONFDIR "/sipmasq.conf",
		"/etc/siproxd.conf",    /* drop-in for an existing siproxd setup */
	};

	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++)
		if (access(candidates[i], R_OK) == 0)
			return candidates[i];
	return NULL;
}

/* "FILE:LINE" when the directive was set in the file, else "FILE". */
static void where(char *buf, size_t len, const struct sipmasq_config *cfg,
		  unsigned line)
{
	const char *file = cfg->config_file[0] ? cfg->config_file
					       : "(no configuration file)";

	if (line)
		snprintf(buf, len, "%s:%u", file, line);
	else
		snprintf(buf, len, "%s", file);
}

/* "line N" or "default", to name where the other half of a pair came from. */
static void origin(char *buf, size_t len, unsigned line)
{
	if (line)
		snprintf(buf, len, "line %u", line);
	else
		snprintf(buf, len, "default");
}

/* Even/odd port pairs (RTP on the even port, RTCP on the next) in lo..hi. */
static unsigned rtp_pairs(unsigned lo, unsigned hi)
{
	unsigned even = lo + (lo & 1u);

	if (even + 1 > hi)
		return 0;
	return (hi - even + 1) / 2;
}

/* A required interface directive; example is shown as a hint. */
static int check_iface(const struct sipmasq_config *cfg, const char *name,
		       const char *value, const char *example)
{
	char loc[SIPMASQ_PATH_MAX + 16];

	if (value[0])
		return 0;
	where(loc, sizeof(loc), cfg, 0);
	log_err("%s: %s is not set (e.g. '%s = %s')", loc, name, name, example);
	return -EINVAL;
}

static int check_rtp_range(const struct sipmasq_config *cfg)
{
	unsigned l_lo = line_of(cfg, "rtp_port_low");
	unsigned l_hi = line_of(cfg, "rtp_port_high");
	unsigned lo = cfg->rtp_port_low, hi = cfg->rtp_port_high;
	char loc[SIPMASQ_PATH_MAX + 16], other[32];
	unsigned pairs;

	if (lo > hi) {
		/* Blame whichever of the two was written later in the file. */
		if (l_hi >= l_lo) {
			where(loc, sizeof(loc), cfg, l_hi);
			origin(other, sizeof(other), l_lo);
			log_err("%s: invalid value '%u' for rtp_port_high: below rtp_port_low %u (%s)",
				loc, hi, lo, other);
		} else {
			where(loc, sizeof(loc), cfg, l_lo);
			origin(other, sizeof(other), l_hi);
			log_err("%s: invalid value '%u' for rtp_port_low: above rtp_port_high %u (%s)",
				loc, lo, hi, other);
		}
		return -EINVAL;
	}
	pairs = rtp_pairs(lo, hi);
	if (pairs < 2) {
		where(loc, sizeof(loc), cfg, l_hi >= l_lo ? l_hi : l_lo);
		log_err("%s: RTP port range %u..%u holds %u even/odd port pair%s, "
			"at least 2 are needed (a relayed stream takes one pair on each side)",
			loc, lo, hi, pairs, pairs == 1 ? "" : "s");
		return -EINVAL;
	}
	if (cfg->sip_listen_port >= lo && cfg->sip_listen_port <= hi) {
		where(loc, sizeof(loc), cfg, line_of(cfg, "sip_listen_port"));
		log_warn("%s: sip_listen_port %u lies inside the RTP port range %u..%u; "
			 "that port pair will not be available for media",
			 loc, cfg->sip_listen_port, lo, hi);
	}
	return 0;
}

/* Lists that are read index by index together must have the same length.
 * On a mismatch the first entry without partners is blamed: with lists of
 * 2, 1 and 2 entries, that is the second entry of a longer list. */
static int check_parallel(const struct sipmasq_config *cfg, const char *const names[],
			  const struct config_list *const lists[], size_t n_lists)
{
	char loc[SIPMASQ_PATH_MAX + 16], counts[256];
	unsigned lo = lists[0]->n;
	size_t blame = n_lists, used = 0;

	for (size_t i = 1; i < n_lists; i++)
		if (lists[i]->n < lo)
			lo = lists[i]->n;
	for (size_t i = 0; i < n_lists; i++) {
		if (lists[i]->n > lo && blame == n_lists)
			blame = i;
		if (used < sizeof(counts))
			used += (size_t)snprintf(counts + used, sizeof(counts) - used,
						 "%s%u %s", i ? ", " : "", lists[i]->n,
						 names[i]);
	}
	if (blame == n_lists)
		return 0;   /* all the same length */
	where(loc, sizeof(loc), cfg, lists[blame]->line[lo]);
	log_err("%s: %s '%s' (entry %u) has no partner: these lists must have "
		"the same length (%s)",
		loc, names[blame], lists[blame]->item[lo], lo + 1, counts);
	return -EINVAL;
}

/* proxy_auth_*: a realm needs a password source (else nobody could ever
 * register); a password without a realm is ignored, as in siproxd. The
 * realm goes into a quoted-string of Proxy-Authenticate, so no '"' or '\\'. */
static int check_auth(const struct sipmasq_config *cfg)
{
	char loc[SIPMASQ_PATH_MAX + 16];
	const char *pw = cfg->proxy_auth_pwfile;

	if (!cfg->proxy_auth_realm[0]) {
		if (cfg->proxy_auth_passwd[0] || pw[0]) {
			where(loc, sizeof(loc), cfg, line_of(cfg, pw[0] ? "proxy_auth_pwfile" :
							     "proxy_auth_passwd"));
			log_warn("%s: %s without proxy_auth_realm: no authentication, ignored", loc,
				 pw[0] ? "proxy_auth_pwfile" : "proxy_auth_passwd");
		}
		return 0;
	}
	where(loc, sizeof(loc), cfg, line_of(cfg, "proxy_auth_realm"));
	if (strpbrk(cfg->proxy_auth_realm, "\"\\")) {
		log_err("%s: invalid value '%s' for proxy_auth_realm: no '\"' or '\\' allowed",
			loc, cfg->proxy_auth_realm);
		return -EINVAL;
	}
	if (!cfg->proxy_auth_passwd[0] && !pw[0]) {
		log_err("%s: proxy_auth_realm needs proxy_auth_passwd or proxy_auth_pwfile", loc);
		return -EINVAL;
	}
	if (pw[0] && access(pw, R_OK) != 0) {
		where(loc, sizeof(loc), cfg, line_of(cfg, "proxy_auth_pwfile"));
		log_err("%s: invalid value '%s' for proxy_auth_pwfile: %s", loc, pw,
			strerror(errno));
		return -EINVAL;
	}
	return 0;
}

int config_check(const struct sipmasq_config *cfg)
{
	static const char *const domain_names[] = {
		"outbound_domain_name", "outbound_domain_host", "outbound_domain_port",
	};
	const struct config_list *const domain_lists[] = {
		&cfg->outbound_domain_name, &cfg->outbound_domain_host,
		&cfg->outbound_domain_port,
	};
	static const char *const mask_names[] = { "mask_host", "masked_host" };
	const struct config_list *const mask_lists[] = { &cfg->mask_host, &cfg->masked_host };
	int err = 0;

	if (check_iface(cfg, "if_inbound", cfg->if_inbound, "eth0"))
		err = -EINVAL;
	if (check_iface(cfg, "if_outbound", cfg->if_outbound, "ppp0"))
		err = -EINVAL;
	if (cfg->rtp_proxy_enable && check_rtp_range(cfg))
		err = -EINVAL;
	if (check_parallel(cfg, domain_names, domain_lists, ARRAY_SIZE(domain_lists)))
		err = -EINVAL;
	if (check_auth(cfg))
		err = -EINVAL;
	if (check_parallel(cfg, mask_names, mask_lists, ARRAY_SIZE(mask_lists)))
		err = -EINVAL;
	return err;
}
