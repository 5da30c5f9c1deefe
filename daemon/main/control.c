/* Control socket server, served from the event loop. A client connection
 * lives until its command line has arrived and the answer is written; at
 * most CTL_CONNS are open at once, and one that sends no line within
 * CTL_IDLE_MS is dropped (control_tick). JSON is built with jansson. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon/base/addr.h"
#include "daemon/media/calls.h"
#include "daemon/main/control.h"
#include "daemon/base/evloop.h"
#include "daemon/base/log.h"
#include "kmod-free-fallback/media.h"
#include "daemon/media/offload.h"
#include "daemon/proxy/registrations.h"

#define CTL_LINE_MAX 256
#define CTL_CONNS 16
#define CTL_IDLE_MS 5000u

struct ctl_conn {
	int fd;
	uint64_t opened_ms;
	size_t len;
	char buf[CTL_LINE_MAX];
};

static struct ctl_conn *conns[CTL_CONNS];

static int listen_fd = -1;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static json_t *ep_json(const struct sockaddr_in *a)
{
	char s[ADDR_STRLEN];

	return json_string(addr_str(a, s));
}

static json_t *leg_json(const struct media_stream *s, enum media_side side)
{
	const struct media_leg *l = &s->leg[side];

	return json_pack("{s:o, s:o, s:o, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "relay", ep_json(&l->local), "sdp", ep_json(&l->sdp),
			 "peer", ep_json(&l->peer), "latched", l->latched,
			 "in_kernel", offload_stream_in_kernel(s, side),
			 "rx_packets", (json_int_t)l->rx_packets,
			 "rx_bytes", (json_int_t)l->rx_bytes,
			 "forwarded_packets", (json_int_t)l->fwd_packets,
			 "forwarded_bytes", (json_int_t)l->fwd_bytes,
			 "kernel_packets", (json_int_t)l->kernel_packets,
			 "dropped", (json_int_t)l->drops,
			 "foreign", (json_int_t)l->foreign,
			 "idle_ms", l->last_rx_ms ? (json_int_t)(evloop_now_ms() - l->last_rx_ms) : (json_int_t)-1);
}

static json_t *cmd_calls(void)
{
	json_t *arr = json_array();

	for (struct call *c = calls_head(); c; c = c->next) {
		json_t *streams = json_array();

		for (int i = 0; i < CALL_MAX_STREAMS; i++) {
			struct media_stream *s = c->stream[i];

			if (!s)
				continue;
			offload_stream_sync(s);
			/* The engine that moves this stream's packets now: the
			 * kernel one once an entry is installed either way. */
			bool kern = offload_stream_in_kernel(s, MEDIA_PRIVATE) ||
				    offload_stream_in_kernel(s, MEDIA_PUBLIC);
			json_array_append_new(streams, json_pack("{s:i, s:s, s:o, s:o}", "m_line", i,
				"engine", kern ? offload_engine_name() : "userspace",
				"private", leg_json(s, MEDIA_PRIVATE),
				"public", leg_json(s, MEDIA_PUBLIC)));
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:o}",
			"call_id", c->call_id, "from", c->from, "to", c->to,
			"direction", c->caller == MEDIA_PRIVATE ? "outgoing" : "incoming",
			"established", c->established,
			"duration_s", (json_int_t)((evloop_now_ms() - c->start_ms) / 1000u),
			"streams", streams));
	}
	return json_pack("{s:o}", "calls", arr);
}

static json_t *cmd_registrations(void)
{
	json_t *arr = json_array();
	time_t now = time(NULL);

	for (const struct binding *b = reg_head(); b; b = b->next) {
		if (!b->registered || b->expires <= now)
			continue;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o, s:I}",
			"aor", b->aor, "contact", b->contact, "smqid", b->token,
			"source", ep_json(&b->src), "expires_in", (json_int_t)(b->expires - now)));
	}
	return json_pack("{s:o}", "registrations", arr);
}

static json_t *cmd_stats(void)
{
	const char *names[32];
	uint64_t counts[32];
	unsigned n = offload_reasons(names, counts, 32);
	json_t *kernel = json_object();

	for (unsigned i = 0; i < n; i++)
		json_object_set_new(kernel, names[i], json_integer((json_int_t)counts[i]));
	return json_pack("{s:s, s:i, s:i, s:i, s:I, s:o}", "engine", offload_engine_name(),
			 "calls", (int)calls_count(), "registrations", (int)reg_count(),
			 "free_port_pairs", (int)media_ports_free(),
			 "rtp_foreign_dropped", (json_int_t)media_foreign_drops(),
			 "kernel_reasons", kernel);
}

/* hangup CALL-ID: end the call's media relay now (ports and kernel entries
 * released, "call end ... reason=hangup" logged). sipmasq keeps no dialog
 * state (CSeq, tags, route set), so it sends no BYE: this clears a call
 * whose BYE never came without waiting for rtp_timeout. */
static json_t *cmd_hangup(const char *call_id)
{
	struct call *c = *call_id ? calls_find(call_id) : NULL;

	if (!c)
		return json_pack("{s:s}", "error", "no call with this Call-ID");
	log_notice("control: hangup of Call-ID=%s", call_id);
	calls_end(c, "hangup");
	return json_pack("{s:s}", "hangup", call_id);
}

/* unregister AOR: expire every registered binding of the AOR here (the
 * registrar keeps its copy until it expires or the UA registers again). */
static json_t *cmd_unregister(const char *aor)
{
	time_t now = time(NULL);
	int n = 0;

	for (const struct binding *b = reg_head(); b; b = b->next)
		n += b->registered && b->expires > now && !strcasecmp(b->aor, aor);
	if (!n)
		return json_pack("{s:s}", "error", "no registered binding of this AOR");
	reg_unbind_aor(aor);
	reg_save();
	log_notice("control: %d binding(s) of %s unregistered", n, aor);
	return json_pack("{s:s, s:i}", "unregistered", aor, "bindings", n);
}

/* One command line: a word, then for hangup/unregister its argument. */
static json_t *dispatch(char *line)
{
	char *arg = strchr(line, ' ');

	if (arg) {
		*arg++ = '\0';
		arg += strspn(arg, " ");
	}
	if (!strcmp(line, "hangup") && arg)
		return cmd_hangup(arg);
	if (!strcmp(line, "unregister") && arg && *arg)
		return cmd_unregister(arg);
	if (arg)
		return json_pack("{s:s}", "error", "unexpected argument");
	if (!strcmp(line, "calls"))
		return cmd_calls();
	if (!strcmp(line, "registrations"))
		return cmd_registrations();
	if (!strcmp(line, "stats"))
		return cmd_stats();
	if (!strcmp(line, "version"))
		return json_pack("{s:s}", "version", PACKAGE_VERSION);
	return json_pack("{s:s}", "error", "unknown command (calls, registrations, stats, version, "
			 "hangup CALL-ID, unregister AOR)");
}

static void conn_close(struct ctl_conn *c)
{
	for (int i = 0; i < CTL_CONNS; i++)
		if (conns[i] == c)
			conns[i] = NULL;
	evloop_del(c->fd);
	close(c->fd);
	free(c);
}

/* Send the whole answer: blocking with a 1 s timeout, so a large answer is
 * not cut short and a client that does not read cannot hold the loop long. */
static void conn_answer(int fd, const char *text)
{
	struct timeval tv = { 1, 0 };
	size_t len = strlen(text), done = 0;
	int flags = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n <= 0)
			return;
		done += (size_t)n;
	}
	if (write(fd, "\n", 1) < 0)
		log_debug(DBCLASS_NOSPEC, "control: client went away");
}

static void conn_readable(int fd, uint32_t events, void *arg)
{
	struct ctl_conn *c = arg;
	ssize_t n = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	char *nl, *text;
	json_t *answer;

	(void)events;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	nl = strpbrk(c->buf, "\r\n");
	if (!nl && c->len < sizeof(c->buf) - 1)
		return;   /* the line is not complete yet */
	if (nl)
		*nl = '\0';
	answer = dispatch(c->buf);
	text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
	if (text) {
		conn_answer(fd, text);
		free(text);
	}
	json_decref(answer);
	conn_close(c);
}

static void listen_readable(int fd, uint32_t events, void *arg)
{
	(void)events;
	(void)arg;
	for (int i = 0; i < 16; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_conn *c;

		if (cfd < 0)
			return;
		int slot = -1;

		for (int k = 0; k < CTL_CONNS && slot < 0; k++)
			if (!conns[k])
				slot = k;
		c = slot < 0 ? NULL : calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);   /* busy: the client retries */
			continue;
		}
		c->fd = cfd;
		c->opened_ms = evloop_now_ms();
		if (evloop_add(cfd, EPOLLIN, conn_readable, c) != 0) {
			close(cfd);
			free(c);
			continue;
		}
		conns[slot] = c;
	}
}

int control_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rc;

	if (!path || !*path)
		return 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("control socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	/* /run/sipmasq/ of the default path: made here when not run by systemd
	 * (whose RuntimeDirectory= makes it). */
	char dir[sizeof(sa.sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_warn("control socket directory %s: %s", dir, strerror(errno));
	}
	unlink(path);   /* a stale socket of a previous run */
	/* srw-rw----: the owner and the group (main.c hands both to `user`
	 * when it drops root) are who may use sipmasqctl; nobody else. */
	mode_t old = umask(0117);
	rc = bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (!rc && listen(listen_fd, 16) < 0)
		rc = -errno;
	if (!rc)
		rc = evloop_add(listen_fd, EPOLLIN, listen_readable, NULL);
	if (rc) {
		log_err("control socket %s: %s", path, strerror(-rc));
		close(listen_fd);
		listen_fd = -1;
		return rc;
	}
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	return 0;
}

void control_tick(void)
{
	uint64_t now = evloop_now_ms();

	for (int i = 0; i < CTL_CONNS; i++)
		if (conns[i] && now - conns[i]->opened_ms > CTL_IDLE_MS)
			conn_close(conns[i]);
}

void control_close(void)
{
	for (int i = 0; i < CTL_CONNS; i++)
		if (conns[i])
			conn_close(conns[i]);
	if (listen_fd < 0)
		return;
	evloop_del(listen_fd);
	close(listen_fd);
	listen_fd = -1;
	unlink(sock_path);
}
