/* sipmasq: command line, start-up, main loop and clean stop. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <osipparser2/osip_parser.h>

#include "daemon/proxy/auth.h"
#include "daemon/media/call_state.h"
#include "daemon/media/calls.h"
#include "daemon/config/config.h"
#include "daemon/main/control.h"
#include "daemon/main/drop_root.h"
#include "daemon/base/evloop.h"
#include "daemon/base/iface.h"
#include "daemon/base/log.h"
#include "daemon/dns/acl_names.h"
#include "daemon/base/pidfile.h"
#include "daemon/base/service.h"
#include "kmod-free-fallback/media.h"
#include "daemon/media/offload.h"
#include "daemon/proxy/registrations.h"
#include "daemon/proxy/registrations_siproxd.h"
#include "daemon/sip/sip_msg.h"
#include "daemon/proxy/sip_proxy.h"

#define EXIT_RUNTIME 1
#define EXIT_CONFIG 2

static volatile sig_atomic_t stop_signal, hup_signal, usr1_signal, handover;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup_signal = 1;
	else if (sig == SIGUSR1)
		usr1_signal = 1;
	else
		stop_signal = sig;
	if (sig == SIGUSR2)
		handover = 1;   /* stop, leaving calls to the next sipmasq */
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sipmasq [OPTIONS]\n"
		"Masquerading SIP proxy with an RTP relay (siproxd.conf compatible).\n\n"
		"  -h, --help             show this help and exit\n"
		"  -c, --config FILE      configuration file (default: %s/sipmasq.conf,\n"
		"                         then /etc/siproxd.conf)\n"
		"  -d, --debug PATTERN    debug class bit pattern (siproxd DBCLASS_*, e.g. 0x24)\n"
		"  -p, --pid-file FILE    write the process id to FILE\n"
		"  -v, --version          print the version and exit\n"
		"      --foreground       do not daemonize; log to stderr\n"
		"      --export-registrations=siproxd\n"
		"                         rewrite registration_file in siproxd's format (to\n"
		"                         go back to siproxd; stop sipmasq first) and exit\n",
		SYSCONFDIR);
}

struct options {
	const char *config;
	const char *pid_file;
	bool debug_set;
	uint32_t debug;
	bool foreground;
	bool export_siproxd;   /* --export-registrations=siproxd */
};

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "config", required_argument, NULL, 'c' },
		{ "debug", required_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "version", no_argument, NULL, 'v' },
		{ "foreground", no_argument, NULL, 'F' },
		{ "export-registrations", required_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "hc:d:p:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'c':
			o->config = optarg;
			break;
		case 'd': {
			/* As debug_level: decimal, 0x hex, or siproxd's -1 (all). */
			bool hex = optarg[0] == '0' && (optarg[1] == 'x' || optarg[1] == 'X');
			char *end;
			unsigned long v = 0xffffffffUL;
			errno = 0;
			if (strcmp(optarg, "-1"))
				v = strtoul(optarg, &end, hex ? 16 : 10);
			else
				end = optarg + 2;
			if (errno || *end || (optarg[0] == '-' && v != 0xffffffffUL) ||
			    v > 0xffffffffUL) {
				fprintf(stderr, "sipmasq: invalid debug pattern '%s'\n", optarg);
				return EXIT_CONFIG;
			}
			o->debug = (uint32_t)v;
			o->debug_set = true;
			break;
		}
		case 'p':
			o->pid_file = optarg;
			break;
		case 'v':
			printf("sipmasq %s\n", PACKAGE_VERSION);
			return 0;
		case 'F':
			o->foreground = true;
			break;
		case 'E':
			if (strcmp(optarg, "siproxd")) {
				fprintf(stderr, "sipmasq: --export-registrations: only 'siproxd' "
					"is known, not '%s'\n", optarg);
				return EXIT_CONFIG;
			}
			o->export_siproxd = true;
			break;
		default:
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sipmasq: unexpected argument '%s'\n", argv[optind]);
		return EXIT_CONFIG;
	}
	return -1;
}

/* registration_file into the binding table: sipmasq's format, else
 * siproxd's (a gateway moving from siproxd keeps its phones reachable).
 * Returns the number of bindings or -errno. */
static int registrations_load(const char *path)
{
	int n = reg_init(path);

	if (n == -EPROTO) {
		n = reg_siproxd_import(path);
		if (n >= 0)
			log_notice("%s is siproxd's registration file: %d registration(s) imported; "
				   "it is saved back in sipmasq's format (docs/siproxd-migration.md)",
				   path, n);
	}
	return n;
}

/* --export-registrations=siproxd: rewrite registration_file in siproxd's
 * format, for a move back to siproxd (docs/siproxd-migration.md), and
 * exit. The masqueraded URL names host_outbound, else if_outbound's
 * address, as siproxd's own would. */
static int export_registrations(const struct sipmasq_config *cfg)
{
	struct iface_side side;
	char host[256];
	unsigned skipped = 0;
	int n;

	if (!cfg->registration_file[0]) {
		log_err("%s: no registration_file to export", cfg->config_file);
		return EXIT_CONFIG;
	}
	if (cfg->host_outbound[0]) {
		snprintf(host, sizeof(host), "%s", cfg->host_outbound);
	} else if (iface_lookup(cfg->if_outbound, &side) == 0 && side.addr.s_addr) {
		inet_ntop(AF_INET, &side.addr, host, sizeof(host));
	} else {
		log_err("if_outbound %s has no address: set host_outbound to the public "
			"address siproxd is to announce", cfg->if_outbound);
		return EXIT_RUNTIME;
	}
	n = registrations_load(cfg->registration_file);
	if (n >= 0)
		n = reg_siproxd_export(cfg->registration_file, host, cfg->sip_listen_port,
				       &skipped);
	reg_fini();
	if (n < 0) {
		log_err("registration_file %s: %s", cfg->registration_file, strerror(-n));
		return EXIT_RUNTIME;
	}
	log_notice("%s: %d registration(s) written in siproxd's format", cfg->registration_file,
		   n);
	if (skipped)
		log_warn("%u of them siproxd cannot read (over %d slots, or a URI over 127 "
			 "characters): those phones must register again", skipped, SIPROXD_SLOTS);
	return 0;
}

static int daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -errno;
	pid = fork();   /* never reacquire a controlling terminal */
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -errno;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);   /* its default action kills: ignored, logged */
	signal(SIGPIPE, SIG_IGN);
}

static void main_loop(struct sipmasq_config *cfg)
{
	uint64_t next_tick = evloop_now_ms() + 1000;

	while (!stop_signal) {
		uint64_t now = evloop_now_ms();
		int timeout = now >= next_tick ? 0 : (int)(next_tick - now);
		int save_in = call_state_poll(now);

		if (save_in >= 0 && save_in < timeout)
			timeout = save_in;

		evloop_run_once(timeout);
		if (hup_signal) {
			hup_signal = 0;
			log_notice("SIGHUP received: configuration reload is not supported, ignored");
		}
		if (usr1_signal) {
			usr1_signal = 0;
			log_notice("SIGUSR1 received: ignored");
		}
		now = evloop_now_ms();
		if (now >= next_tick) {
			offload_sync();
			proxy_tick();
			call_state_tick();
			control_tick();
			acl_names_refresh(&cfg->hosts_allow_reg);
			acl_names_refresh(&cfg->hosts_allow_sip);
			acl_names_refresh(&cfg->hosts_deny_sip);
			reg_tick(time(NULL));
			next_tick = now + 1000;
		}
	}
	log_notice("signal %d received, stopping", (int)stop_signal);
}

int main(int argc, char **argv)
{
	static struct sipmasq_config cfg;
	struct options opt = { 0 };
	struct privs_user run_as;
	int rc, status = 0, nreg, pid_fd = -1;

	rc = parse_args(argc, argv, &opt);
	if (rc >= 0)
		return rc;
	log_open(false, 0);
	config_defaults(&cfg);
	if (!opt.config && !(opt.config = config_find())) {
		log_err("no configuration file: tried %s/sipmasq.conf and /etc/siproxd.conf "
			"(use -c FILE)", SYSCONFDIR);
		return EXIT_CONFIG;
	}
	rc = config_load(opt.config, &cfg);
	if (rc && rc != -EINVAL)
		return EXIT_CONFIG;   /* unreadable: config_load said why */
	/* Check even after a bad value, so one run reports every mistake. */
	if (config_check(&cfg) != 0 || rc)
		return EXIT_CONFIG;
	if (auth_init(&cfg) != 0)
		return EXIT_CONFIG;   /* proxy_auth_pwfile: FILE:LINE said why */
	if (opt.debug_set)
		cfg.debug_level = opt.debug;
	if (opt.pid_file)
		snprintf(cfg.pid_file, sizeof(cfg.pid_file), "%s", opt.pid_file);
	if (opt.foreground)
		cfg.daemonize = false;
	log_debug_mask = cfg.debug_level;
	/* As siproxd: syslog (filtered by silence_log) in the foreground too. */
	log_open(true, cfg.silence_log);
	if (cfg.user[0] && (rc = privs_lookup(cfg.user, &run_as)) != 0) {
		log_err("%s: user %s: %s", cfg.config_file, cfg.user,
			rc == -ENOENT ? "no such user" : strerror(-rc));
		return EXIT_CONFIG;
	}
	if (cfg.pid_file[0]) {
		pid_t holder;

		pid_fd = pidfile_lock(cfg.pid_file, &holder);
		if (pid_fd == -EWOULDBLOCK) {
			log_err("pid_file %s is locked by a running sipmasq (pid %ld): "
				"not starting a second one", cfg.pid_file, (long)holder);
			return EXIT_RUNTIME;
		}
		if (pid_fd < 0)
			log_warn("pid_file %s: %s", cfg.pid_file, strerror(-pid_fd));
	}

	parser_init();
	if (opt.export_siproxd)
		return export_registrations(&cfg);
	sipmsg_trace_init();
	if (evloop_init() != 0) {
		log_err("epoll: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	rc = proxy_init(&cfg);
	if (rc == -ENODEV)
		return EXIT_CONFIG;
	if (rc)
		return EXIT_RUNTIME;
	if (cfg.rtp_proxy_enable && media_init(cfg.rtp_port_low, cfg.rtp_port_high) != 0) {
		log_err("%s: rtp_port_low..rtp_port_high (%u..%u) holds no relay port pair",
			cfg.config_file, cfg.rtp_port_low, cfg.rtp_port_high);
		return EXIT_CONFIG;
	}
	media_set_latch_window(cfg.rtp_latch_window);
	media_set_dscp(cfg.rtp_dscp);
	acl_names_start(&cfg.hosts_allow_reg, "hosts_allow_reg");
	acl_names_start(&cfg.hosts_allow_sip, "hosts_allow_sip");
	acl_names_start(&cfg.hosts_deny_sip, "hosts_deny_sip");
	offload_init(&cfg, (int)if_nametoindex(cfg.if_inbound),
		     (int)if_nametoindex(cfg.if_outbound));
	if (!cfg.call_state_file[0] && cfg.registration_file[0])
		snprintf(cfg.call_state_file, sizeof(cfg.call_state_file), "%.*s.calls",
			 (int)sizeof(cfg.call_state_file) - 7, cfg.registration_file);
	call_state_init(cfg.call_state_file);
	rc = call_state_load();
	if (rc < 0)
		log_warn("call state %s: %s", cfg.call_state_file, strerror(-rc));
	else if (rc > 0)
		log_notice("%d call(s) adopted from %s", rc, cfg.call_state_file);
	offload_purge_stale();
	reg_set_autosave(cfg.autosave_registrations);
	nreg = registrations_load(cfg.registration_file);
	if (nreg < 0)
		log_warn("registration_file %s: %s", cfg.registration_file, strerror(-nreg));
	else if (cfg.registration_file[0])
		log_info("%d registration(s) restored from %s", nreg, cfg.registration_file);

	if (cfg.daemonize) {
		if (daemonize() != 0) {
			log_err("cannot daemonize: %s", strerror(errno));
			return EXIT_RUNTIME;
		}
		log_set_stderr(false);
	}
	if (pid_fd >= 0 && (rc = pidfile_write(pid_fd)) != 0)
		log_warn("pid_file %s: %s", cfg.pid_file, strerror(-rc));
	control_open(cfg.control_socket);   /* logged; sipmasq runs without it */
	if (cfg.user[0] && drop_root(&cfg, &run_as) != 0)
		stop_signal = SIGTERM, status = EXIT_RUNTIME;   /* never run as root by mistake */
	install_signals();
	log_notice("sipmasq %s ready: SIP on UDP port %u, RTP relay %s %u-%u",
		   PACKAGE_VERSION, cfg.sip_listen_port,
		   cfg.rtp_proxy_enable ? "ports" : "disabled,", cfg.rtp_port_low,
		   cfg.rtp_port_high);
	service_ready(offload_active() ? "serving; media in the kernel engine"
				       : "serving; media in userspace");

	main_loop(&cfg);
	service_stopping();

	if (handover)
		call_state_save();     /* the next sipmasq adopts these calls */
	control_close();
	proxy_fini(handover);
	if (!handover)
		call_state_save();     /* no calls left */
	offload_fini(handover);
	media_fini();
	reg_flush();   /* whatever autosave_registrations held back */
	reg_fini();
	auth_fini();
	evloop_fini();
	pidfile_release(pid_fd, cfg.pid_file);
	log_close();
	return status;
}
