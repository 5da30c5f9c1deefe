/* sipmasq configuration: siproxd.conf syntax and directive names. */
#ifndef SIPMASQ_CONFIG_H
#define SIPMASQ_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/base/acl.h"

#ifndef SIPMASQ_PATH_MAX
#define SIPMASQ_PATH_MAX 256
#endif

/* rtp_engine: which engine forwards latched media (sipmasq directive). */
enum rtp_engine {
	RTP_ENGINE_AUTO = 0,   /* XDP native (not on veth/tun, Ethernet only), else tc,
	                        * else userspace */
	RTP_ENGINE_XDP,        /* XDP native, else tc (logged), else userspace */
	RTP_ENGINE_TC,         /* tc clsact ingress, else userspace */
	RTP_ENGINE_USERSPACE,  /* the userspace relay only: any kernel */
	RTP_ENGINE_XDP_GENERIC,/* generic (skb) XDP, only when asked: it copies non-linear
	                        * skbs and cannot complete partial checksums */
	RTP_ENGINE_CONNTRACK,  /* netfilter conntrack entries with NAT, else userspace */
};

/* Default rtp_conntrack_mark: "SM" 0x0001, the conntrack mark of the
 * conntrack engine's entries. */
#define CONFIG_CONNTRACK_MARK_DEFAULT 0x534d0001u

/* Digest algorithms of proxy authentication (RFC 7616 3.3). */
enum auth_alg {
	AUTH_ALG_SHA256,
	AUTH_ALG_MD5,
	AUTH_ALG_COUNT
};

/* Repeatable directives (outbound_domain_*): each occurrence appends. */
#define CONFIG_LIST_MAX 32      /* entries per list */
#define CONFIG_ITEM_MAX 256     /* bytes per entry, with its NUL */

/* Bounds the directives are checked against. The layers above take their
 * own limits from here (config is below them: it may not include them). */
#define CONFIG_SIP_MESSAGE_MAX 65535   /* bytes: the largest UDP datagram */
#define CONFIG_STREAMS_PER_CALL_MAX 8  /* m= lines relayed per call */

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
	unsigned rtp_timeout;            /* s without packets before a call ends, default 300;
	                                  * 0 = CALLS_RTP_TIMEOUT_ZERO_S (siproxd's sweep) */
	unsigned default_expires;        /* s, REGISTER without Expires, default 3600 */
	bool daemonize;                  /* fork to background (default 0) */
	int silence_log;                 /* siproxd silence_log, 0..4, default 1 */
	bool log_calls;                  /* one line per call start/end (default 0);
	                                  * also load_plugin = plugin_logcall.la */
	uint32_t debug_level;            /* DBCLASS_* mask, default 0 */
	unsigned autosave_registrations; /* s: registration_file written at most once
	                                  * per period (and at exit); 0 = on every
	                                  * change (default) */
	char registration_file[SIPMASQ_PATH_MAX]; /* "" = registrations not persisted */
	char pid_file[SIPMASQ_PATH_MAX];          /* "" = no pid file */
	char user[64];                   /* account to run as after start-up, "" = stay */
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
	/* Digest authentication of REGISTER from the private side (auth.c):
	 * required when proxy_auth_realm is set; passwords from
	 * proxy_auth_pwfile when set, else proxy_auth_passwd for every user. */
	char proxy_auth_realm[128];      /* "" = no authentication */
	char proxy_auth_passwd[128];
	char proxy_auth_pwfile[SIPMASQ_PATH_MAX];
	/* proxy_auth_algorithms (sipmasq's own): the algorithms offered, one
	 * Proxy-Authenticate each in this order, and the only ones accepted.
	 * Default MD5 then SHA-256. */
	uint8_t proxy_auth_alg[AUTH_ALG_COUNT];   /* enum auth_alg */
	unsigned proxy_auth_n_alg;
	unsigned proxy_auth_nonce_lifetime;       /* s a nonce is good (own), default 300 */
	/* proxy_auth_forwarded (own): also challenge REGISTERs that sipmasq
	 * forwards to a registrar. Default off: as siproxd, only REGISTERs for
	 * which sipmasq is the registrar are challenged. */
	bool proxy_auth_forwarded;
	/* SIP over TCP (siproxd's directives). */
	unsigned tcp_timeout;            /* s without a SIP message before a connection
	                                  * is closed, default 600; 0 = never */
	unsigned tcp_connect_timeout;    /* ms a connect may take, default 500 */
	unsigned tcp_keepalive;          /* s idle before a CRLFCRLF ping, default 0 = off */
	/* mask_host / masked_host (siproxd): a REGISTER whose To-URI host
	 * equals mask_host entry i (case-insensitive) binds the AOR with host
	 * masked_host entry i and masquerades its Contacts with that host.
	 * Parallel lists, same length after config_check. */
	struct config_list mask_host;
	struct config_list masked_host;
	/* use_rport (siproxd): bit 0 = ask for rport (RFC 3581) in sipmasq's
	 * Via toward the private side, bit 1 = toward the public side.
	 * Default 3 (both). */
	unsigned use_rport;
	/* obscure_loops (siproxd): mark the Call-ID of requests from the
	 * private side so that a call hair-pinned back through the provider is
	 * a call of its own (see daemon/sip/callid_mark.h). Default off. */
	bool obscure_loops;
	/* sipmasq's own directives (not in siproxd) */
	int rtp_engine;                  /* enum rtp_engine, default auto */
	bool rtp_engine_bpf;             /* auto may try XDP and tc, default yes; no: auto
	                                  * goes straight to conntrack, then userspace */
	uint32_t rtp_conntrack_mark;     /* conntrack mark of the conntrack engine's entries,
	                                  * default CONFIG_CONNTRACK_MARK_DEFAULT */
	unsigned rtp_latch_window;       /* s after SDP during which media may latch, default 10 */
	unsigned rtp_dscp;               /* DSCP of relayed RTP/RTCP (RFC 2474), 0 = unmarked */
	unsigned sip_dscp;               /* DSCP of SIP sent by sipmasq, 0 = unmarked */
	bool rtp_xdp_veth;               /* rtp_xdp_veth: the operator vouches that veth peers run
	                                  * XDP or GRO and send full checksums: rtp_engine = xdp
	                                  * may then use native XDP on veths (default off) */
	char bpf_pin_dir[SIPMASQ_PATH_MAX];       /* bpffs dir for maps, default /sys/fs/bpf/sipmasq */
	int outbound_proxy_transport;    /* enum sip_proto toward outbound_proxy_host:
	                                  * udp (default) or tcp */
	char ua_string[128];             /* User-Agent/Server shown to the public side, "" = as is */
	char control_socket[SIPMASQ_PATH_MAX];    /* sipmasqctl's UNIX socket, "" = none,
	                                           * default /run/sipmasq/sipmasq.sock */
	char call_state_file[SIPMASQ_PATH_MAX];   /* active calls, for a hitless restart;
	                                           * "" = <registration_file>.calls */
	/* Limits against hostile or broken input (sipmasq's own; see
	 * daemon/sip/sip_validate.h and daemon/transport/sip_flood.h). Counts, except where
	 * a unit is given. */
	unsigned sip_max_message_size;   /* bytes of one SIP datagram, default 16384 */
	unsigned sip_max_headers;        /* header lines of one message, default 100 */
	unsigned sip_max_vias;           /* Via entries of one request, default 32 */
	unsigned max_registrations;      /* bindings in total (registered and dialog),
	                                  * default 1024 */
	unsigned max_registrations_per_aor; /* live registered bindings of one AOR,
	                                     * default 10 */
	unsigned max_calls;              /* calls in the table, default 256 */
	unsigned max_streams_per_call;   /* m= lines of one SDP, 1..CALL_MAX_STREAMS,
	                                  * default CALL_MAX_STREAMS */
	unsigned via_stash_size;         /* Via stash entries, default VIA_STASH_MAX */
	/* Per-source token bucket on requests; rate in requests/s, 0 = off. */
	unsigned sip_rate_limit;         /* any public source, default 50 */
	unsigned sip_rate_burst;         /* default 100 */
	unsigned sip_rate_limit_registered; /* private side and registered UAs, default 500 */
	unsigned sip_rate_burst_registered; /* default 1000 */
	unsigned sip_rate_sources;       /* sources tracked (LRU), default 4096 */
	char dns_server[CONFIG_ITEM_MAX];         /* "a.b.c.d[:port],..." for c-ares;
	                                           * "" = /etc/resolv.conf */
	unsigned host_outbound_refresh;  /* s between lookups of a host_outbound name, default 60 */
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
 * of the same length, proxy_auth_realm with a password source; errors name
 * FILE:LINE of the directive to fix). Logs what is wrong, returns 0 or
 * -EINVAL. */
int config_check(const struct sipmasq_config *cfg);

#endif
