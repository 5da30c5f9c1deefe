/* sipmasqctl: ask a running sipmasq over its control socket and print the
 * answer as a table (default) or as the daemon's JSON (--json).
 *
 *   sipmasqctl [-s SOCKET] [--json] COMMAND [ARGUMENT]
 *     status                 version, engine, counts, kernel pass reasons
 *     registrations          bindings: AOR, contact, source, expiry
 *     calls                  calls: Call-ID, direction, state, duration
 *     streams                one row per stream and direction: engine,
 *                            latched source, relay ports, counters
 *     hangup CALL-ID         end a call's media relay (no BYE is sent)
 *     unregister AOR         expire an AOR's bindings in sipmasq
 *     stats | version        the daemon's answers as they are
 *
 * Who may ask is the socket's mode: srw-rw---- (its owner and group).
 * Exit status: 0, 1 when the daemon cannot be reached or answers an error,
 * 2 on a usage error. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon/sipmasqctl/table.h"

#ifndef SIPMASQ_CONTROL_SOCKET
#define SIPMASQ_CONTROL_SOCKET "/run/sipmasq/sipmasq.sock"
#endif

static const char *sock_path = SIPMASQ_CONTROL_SOCKET;

static int usage(FILE *f)
{
	fprintf(f, "usage: sipmasqctl [-s SOCKET] [-j|--json] COMMAND [ARGUMENT]\n"
		"commands: status, registrations, calls, streams, hangup CALL-ID,\n"
		"          unregister AOR, stats, version\n"
		"  -s SOCKET   control socket of the daemon (default %s)\n"
		"  -j, --json  print the daemon's JSON instead of a table\n",
		SIPMASQ_CONTROL_SOCKET);
	return 2;
}

/* ask: send one command line, return the parsed answer (NULL: said why). */
static json_t *ask(const char *line)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *answer = NULL;
	size_t len = 0, cap = 0;
	json_error_t jerr;
	json_t *doc;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "sipmasqctl: %s: %s%s\n", sock_path, strerror(errno),
			errno == EACCES ? " (the socket's owner and group only)"
					: " (is sipmasq running?)");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	dprintf(fd, "%s\n", line);
	for (;;) {
		if (len + 4096 > cap) {
			char *p = realloc(answer, cap = cap ? 2 * cap : 65536);
			if (!p) {
				fprintf(stderr, "sipmasqctl: out of memory\n");
				free(answer);
				close(fd);
				return NULL;
			}
			answer = p;
		}
		ssize_t n = read(fd, answer + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!answer || !len) {
		fprintf(stderr, "sipmasqctl: no answer from %s\n", sock_path);
		free(answer);
		return NULL;
	}
	answer[len] = '\0';
	doc = json_loads(answer, 0, &jerr);
	free(answer);
	if (!doc)
		fprintf(stderr, "sipmasqctl: bad answer: %s\n", jerr.text);
	return doc;
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* fmt: v in decimal with a unit suffix ("" or "s"), into buf. */
static const char *fmt(char *buf, size_t len, const char *suffix, json_int_t v)
{
	snprintf(buf, len, "%lld%s", (long long)v, suffix);
	return buf;
}

static int show_status(const json_t *stats, const json_t *ver)
{
	const json_t *reasons = json_object_get(stats, "kernel_reasons");
	const char *name;
	json_t *v;
	char a[32], b[32], c[32], d[32];

	printf("sipmasq %s\n", str(ver, "version") ? str(ver, "version") : "?");
	struct table *t = table_new(2, (const char *[]){ "ITEM", "VALUE" });
	table_add(t, (const char *[]){ "engine", str(stats, "engine") });
	table_add(t, (const char *[]){ "calls", fmt(a, sizeof(a), "", num(stats, "calls")) });
	table_add(t, (const char *[]){ "registrations",
				       fmt(b, sizeof(b), "", num(stats, "registrations")) });
	table_add(t, (const char *[]){ "free_port_pairs",
				       fmt(c, sizeof(c), "", num(stats, "free_port_pairs")) });
	table_add(t, (const char *[]){ "rtp_foreign_dropped",
				       fmt(d, sizeof(d), "", num(stats, "rtp_foreign_dropped")) });
	json_object_foreach((json_t *)reasons, name, v) {
		char key[64], val[32];

		snprintf(key, sizeof(key), "kernel.%s", name);
		table_add(t, (const char *[]){ key,
			fmt(val, sizeof(val), "", json_integer_value(v)) });
	}
	table_print(t, stdout);
	return 0;
}

static int show_registrations(const json_t *doc)
{
	struct table *t = table_new(5, (const char *[]){ "AOR", "CONTACT", "SOURCE",
							 "EXPIRES", "SMQID" });
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(doc, "registrations"), i, r) {
		char exp[32];

		table_add(t, (const char *[]){ str(r, "aor"), str(r, "contact"), str(r, "source"),
			fmt(exp, sizeof(exp), "s", num(r, "expires_in")), str(r, "smqid") });
	}
	table_print(t, stdout);
	return 0;
}

static int show_calls(const json_t *doc)
{
	struct table *t = table_new(7, (const char *[]){ "CALL-ID", "DIRECTION", "STATE",
		"DURATION", "STREAMS", "FROM", "TO" });
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(doc, "calls"), i, c) {
		char dur[32], ns[32];

		table_add(t, (const char *[]){ str(c, "call_id"), str(c, "direction"),
			json_is_true(json_object_get(c, "established")) ? "established" : "setup",
			fmt(dur, sizeof(dur), "s", num(c, "duration_s")),
			fmt(ns, sizeof(ns), "",
			    (json_int_t)json_array_size(json_object_get(c, "streams"))),
			str(c, "from"), str(c, "to") });
	}
	table_print(t, stdout);
	return 0;
}

/* One direction of a stream: what arrives on `in` goes out through `out`. */
static json_t *direction_json(const json_t *call, const json_t *st, const char *in,
			      const char *out)
{
	const json_t *li = json_object_get(st, in), *lo = json_object_get(st, out);
	char dir[32];

	snprintf(dir, sizeof(dir), "%s->%s", in, out);
	return json_pack("{s:s?, s:I, s:s?, s:s, s:s?, s:b, s:s?, s:s?, s:s?, s:b,"
			 " s:I, s:I, s:I, s:I, s:I, s:I}",
		"call_id", str(call, "call_id"), "m_line", num(st, "m_line"),
		"engine", str(st, "engine"), "direction", dir,
		"source", str(li, "peer"), "latched", json_is_true(json_object_get(li, "latched")),
		"relay_in", str(li, "relay"), "relay_out", str(lo, "relay"),
		"destination", str(lo, "peer"),
		"in_kernel", json_is_true(json_object_get(li, "in_kernel")),
		"packets", num(li, "forwarded_packets"), "bytes", num(li, "forwarded_bytes"),
		"kernel_packets", num(li, "kernel_packets"), "dropped", num(li, "dropped"),
		"foreign", num(li, "foreign"), "idle_ms", num(li, "idle_ms"));
}

/* streams: the calls answer flattened to one row per stream direction. */
static json_t *streams_of(const json_t *calls)
{
	json_t *arr = json_array();
	size_t i, k;
	json_t *c, *st;

	json_array_foreach(json_object_get(calls, "calls"), i, c)
		json_array_foreach(json_object_get(c, "streams"), k, st) {
			json_array_append_new(arr, direction_json(c, st, "private", "public"));
			json_array_append_new(arr, direction_json(c, st, "public", "private"));
		}
	return json_pack("{s:o}", "streams", arr);
}

static int show_streams(const json_t *doc)
{
	struct table *t = table_new(12, (const char *[]){ "CALL-ID", "M", "DIRECTION",
		"ENGINE", "SOURCE", "RELAY-IN", "RELAY-OUT", "DESTINATION", "PACKETS",
		"BYTES", "KERNEL", "DROPPED" });
	size_t i;
	json_t *s;

	json_array_foreach(json_object_get(doc, "streams"), i, s) {
		char m[16], src[64], pk[32], by[32], kp[32], dr[32];
		bool kern = json_is_true(json_object_get(s, "in_kernel"));

		/* An unlatched source is where SDP said: marked with '?'. */
		snprintf(src, sizeof(src), "%s%s", str(s, "source") ? str(s, "source") : "-",
			 json_is_true(json_object_get(s, "latched")) ? "" : "?");
		table_add(t, (const char *[]){ str(s, "call_id"),
			fmt(m, sizeof(m), "", num(s, "m_line")), str(s, "direction"),
			kern ? str(s, "engine") : "userspace", src, str(s, "relay_in"),
			str(s, "relay_out"), str(s, "destination"),
			fmt(pk, sizeof(pk), "", num(s, "packets")),
			fmt(by, sizeof(by), "", num(s, "bytes")),
			fmt(kp, sizeof(kp), "", num(s, "kernel_packets")),
			fmt(dr, sizeof(dr), "", num(s, "dropped")) });
	}
	table_print(t, stdout);
	return 0;
}

static void print_json(const json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
}

static bool failed(const json_t *doc)
{
	const char *err = doc ? str(doc, "error") : NULL;

	if (err)
		fprintf(stderr, "sipmasqctl: %s\n", err);
	return !doc || err;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	json_t *doc = NULL, *extra = NULL, *view = NULL;
	const char *cmd;
	char line[512];
	int opt, rc = 1;

	/* A daemon that drops the connection (busy) is an error message, not
	 * a silent death by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		if (opt == 's')
			sock_path = optarg;
		else if (opt == 'j')
			json = true;
		else if (opt == 'h')
			return usage(stdout), 0;
		else
			return usage(stderr);
	}
	if (optind >= argc || strlen(sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return usage(stderr);
	cmd = argv[optind];
	bool takes_arg = !strcmp(cmd, "hangup") || !strcmp(cmd, "unregister");

	if (argc - optind != (takes_arg ? 2 : 1))
		return usage(stderr);
	if (takes_arg &&
	    (strpbrk(argv[optind + 1], "\r\n") || !argv[optind + 1][0] ||
	     (size_t)snprintf(line, sizeof(line), "%s %s", cmd, argv[optind + 1]) >= 256)) {
		fprintf(stderr, "sipmasqctl: %s: argument empty, too long or with a line break\n", cmd);
		return 2;
	}

	if (!strcmp(cmd, "status")) {
		doc = ask("stats");
		extra = failed(doc) ? NULL : ask("version");
		if (!failed(doc) && !failed(extra)) {
			if (json) {
				json_object_set(doc, "version", json_object_get(extra, "version"));
				print_json(doc);
			} else {
				show_status(doc, extra);
			}
			rc = 0;
		}
	} else if (!strcmp(cmd, "streams")) {
		doc = ask("calls");
		if (!failed(doc)) {
			view = streams_of(doc);
			rc = json ? (print_json(view), 0) : show_streams(view);
		}
	} else if (!strcmp(cmd, "registrations") || !strcmp(cmd, "calls") ||
		   !strcmp(cmd, "stats") || !strcmp(cmd, "version") || takes_arg) {
		doc = ask(takes_arg ? line : cmd);
		if (!failed(doc)) {
			if (json || !strcmp(cmd, "stats"))
				print_json(doc);
			else if (!strcmp(cmd, "registrations"))
				show_registrations(doc);
			else if (!strcmp(cmd, "calls"))
				show_calls(doc);
			else if (!strcmp(cmd, "version"))
				printf("sipmasq %s\n", str(doc, "version"));
			else if (!strcmp(cmd, "hangup"))
				printf("call %s: media relay ended\n", str(doc, "hangup"));
			else
				printf("%s: %lld binding(s) unregistered\n", str(doc, "unregistered"),
				       (long long)num(doc, "bindings"));
			rc = 0;
		}
	} else {
		/* Unknown here: the daemon may know it (a newer sipmasq). */
		doc = ask(cmd);
		if (!failed(doc)) {
			print_json(doc);
			rc = 0;
		}
	}
	json_decref(doc);
	json_decref(extra);
	json_decref(view);
	return rc;
}
