/* sipmasq configuration: siproxd.conf syntax and directive names. */
#ifndef SIPMASQ_CONFIG_H
#define SIPMASQ_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/acl.h"

#ifndef SIPMASQ_PATH_MAX
#define SIPMASQ_PATH_MAX 256
#endif

/* rtp_engine: which engine forwards latched media (sipmasq directive). */
enum rtp_engine {
	RTP_ENGINE_AUTO = 0,   /* XDP native, else XDP generic, else tc, else userspace */
	RTP_ENGINE_XDP,        /* XDP (native, else generic), else userspace */
	RTP_ENGINE_TC,         /* tc clsact ingress, else userspace */
	RTP_ENGINE_USERSPACE,  /* the userspace relay only: any kernel */
};

/* Repeatable directives (outbound_domain_*): each occurrence appends. */
#define CONFIG_LIST_MAX 32      /* entries per list */
#define CONFIG_ITEM_MAX 256     /* bytes per entry, with its NUL */

/* The values of one repeatable directive, in file order. line[i] is the
 * line of config_file that gave item[i] (for error messages). */
struct config_list {
	unsigned n;
	unsigned line[CONFIG_LIST_MAX];
	char item[CONFIG_LIST_MAX][CONFIG_ITEM_MAX];
};

/* Everything read from the configuration file and the command line.
 * Strings are NUL-terminated and empty when unset. Times are in seconds. */
struct sipmasq_config {
	char if_inbound[IF_NAMESIZE];    /* private-side interface (required) */
	char if_outbound[IF_NAMESIZE];   /* public-side interface (required) */
	char host_outbound[256];         /* public address/hostname override, or "" */
	uint16_t sip_listen_port;        /* UDP port for SIP, default 5060 */
	bool rtp_proxy_enable;           /* relay media (default 1); 0 = SIP only */
	uint16_t rtp_port_low;           /* relay port range, default 7070..7089 */
	uint16_t rtp_port_high;
	unsigned rtp_timeout;            /* s without packets before a stream dies, default 300 */
	unsigned default_expires;        /* s, REGISTER without Expires, default 600 */
	bool daemonize;                  /* fork to background (default 0) */
	int silence_log;                 /* siproxd silence_log, 0..4, default 1 */
	bool log_calls;                  /* one line per call start/end (default 0) */
	uint32_t debug_level;            /* DBCLASS_* mask, default 0 */
	bool autosave_registrations;     /* informational; sipmasq saves on every change */
	char registration_file[SIPMASQ_PATH_MAX]; /* "" = registrations not persisted */
	char pid_file[SIPMASQ_PATH_MAX];          /* "" = no pid file */
	char config_file[SIPMASQ_PATH_MAX];       /* the file that was read */
	/* Access lists (siproxd semantics, see acl_permits). Empty = allow all
	 * (deny: nothing denied). */
	struct acl hosts_allow_reg;
	struct acl hosts_allow_sip;
	struct acl hosts_deny_sip;
	/* Next hop of requests from the private side without a Route of their
	 * own: the first outbound_domain_name (case-insensitive) equal to the
	 * From-URI host selects the same entry of outbound_domain_host/_port
	 * (the three lists have the same length after config_check; ports are
	 * validated decimal 1..65535); else outbound_proxy_host:_port when set;
	 * else the Request-URI. */
	char outbound_proxy_host[256];   /* "" = no outbound proxy */
	uint16_t outbound_proxy_port;    /* default 5060 */
	struct config_list outbound_domain_name;
	struct config_list outbound_domain_host;
	struct config_list outbound_domain_port;
	/* sipmasq's own directives (not in siproxd) */
	int rtp_engine;                  /* enum rtp_engine, default auto */
	unsigned rtp_latch_window;       /* s after SDP during which media may latch, default 10 */
	char bpf_pin_dir[SIPMASQ_PATH_MAX];       /* bpffs dir for maps, default /sys/fs/bpf/sipmasq */
	char ua_string[128];             /* User-Agent/Server shown to the public side, "" = as is */
	char control_socket[SIPMASQ_PATH_MAX];    /* sipmasqctl's UNIX socket, "" = none,
	                                           * default /run/sipmasq.sock */
	char call_state_file[SIPMASQ_PATH_MAX];   /* active calls, for a hitless restart;
	                                           * "" = <registration_file>.calls */
};

/* config_defaults: fill cfg with siproxd's defaults. */
void config_defaults(struct sipmasq_config *cfg);

/* config_load: read `path` (siproxd.conf syntax: "key = value", '#' comments)
 * into cfg, which must hold defaults already. Unknown directives and siproxd
 * directives not implemented yet give a warning naming file:line. Returns 0;
 * -EINVAL on an invalid value (logged as "file:line: ...", the caller exits 2);
 * -errno when the file can't be read. */
int config_load(const char *path, struct sipmasq_config *cfg);

/* config_find: the configuration file to use when -c is not given: the first
 * readable of <sysconfdir>/sipmasq.conf and /etc/siproxd.conf; NULL if none. */
const char *config_find(void);

/* config_check: cross-field validation after loading (required interfaces
 * present, rtp_port_low <= rtp_port_high, outbound_domain_name/_host/_port
 * of the same length; errors name FILE:LINE of the directive to fix). Logs what is wrong, returns 0 or
 * -EINVAL. */
int config_check(const struct sipmasq_config *cfg);

#endif
