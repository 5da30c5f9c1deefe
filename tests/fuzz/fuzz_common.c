/* What every fuzz target links: quiet logging (sipmasq's and libosip2's), and a resolver that never
 * leaves the process.
 *
 * Fuzzed SIP, SDP and configuration text names hosts that addr_resolve()
 * and the access lists pass to getaddrinfo(). A real lookup would send a
 * DNS query per input: slow, nondeterministic, and traffic toward an
 * address we do not own. The executable's definitions take precedence over
 * libc's (and over the sanitizer runtime's weak interceptors), so every
 * lookup in the fuzz binaries ends here: dotted numbers (inet_aton forms)
 * and "localhost" resolve, any other name does not. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <osipparser2/osip_port.h>

#include <osipparser2/osip_parser.h>

#include "daemon/base/evloop.h"
#include "daemon/base/log.h"
#include "kmod-free-fallback/media.h"
#include "tests/fuzz/fuzz.h"

/* One allocation holds the addrinfo and its address (freeaddrinfo below). */
struct fake_ai {
	struct addrinfo ai;
	struct sockaddr_in sin;
};

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	struct in_addr ip;
	struct fake_ai *f;

	(void)service;
	*res = NULL;
	if (hints && hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET)
		return EAI_FAMILY;
	if (!node)
		return EAI_NONAME;
	if (!strcasecmp(node, "localhost"))
		ip.s_addr = htonl(INADDR_LOOPBACK);
	else if (!inet_aton(node, &ip))
		return EAI_NONAME;
	f = calloc(1, sizeof(*f));
	if (!f)
		return EAI_MEMORY;
	f->sin.sin_family = AF_INET;
	f->sin.sin_addr = ip;
	f->ai.ai_family = AF_INET;
	f->ai.ai_socktype = hints && hints->ai_socktype ? hints->ai_socktype : SOCK_DGRAM;
	f->ai.ai_addrlen = sizeof(f->sin);
	f->ai.ai_addr = (struct sockaddr *)&f->sin;
	*res = &f->ai;
	return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
	while (res) {
		struct addrinfo *next = res->ai_next;

		free(res);   /* ai is the first member of struct fake_ai */
		res = next;
	}
}

static void osip_quiet(const char *fi, int li, osip_trace_level_t level, const char *chfr,
		       va_list ap)
{
	(void)fi;
	(void)li;
	(void)level;
	(void)chfr;
	(void)ap;
}

void fuzz_log_setup(void)
{
	const char *v = getenv("FUZZ_LOG");

	if (v && !strcmp(v, "1")) {
		log_open(false, 0);
		log_debug_mask = DBCLASS_ALL;
		return;
	}
	/* syslog with silence_log 4 mutes every priority: nothing is formatted
	 * nor written (openlog alone sends nothing). */
	log_open(true, 4);
	log_debug_mask = 0;
	/* libosip2's own trace prints a line per parse error to stdout until
	 * a trace function is installed; then every level is switched off. */
	osip_trace_initialize_func(TRACE_LEVEL0, osip_quiet);
	for (int l = 0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
}

void fuzz_media_setup(uint16_t low, uint16_t high)
{
	fuzz_log_setup();
	parser_init();
	if (evloop_init() != 0 || media_init(low, high) != 0)
		abort();
}
