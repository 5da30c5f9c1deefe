/* sipmasqctl: ask a running sipmasq over its control socket and print the
 * answer as indented JSON.
 *
 *   sipmasqctl [-s SOCKET] calls|registrations|stats|version
 *
 * Exit status: 0, 1 when the daemon cannot be reached or answers an error,
 * 2 on a usage error. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#ifndef SIPMASQ_CONTROL_SOCKET
#define SIPMASQ_CONTROL_SOCKET "/run/sipmasq.sock"
#endif

static int usage(void)
{
	fprintf(stderr, "usage: sipmasqctl [-s SOCKET] calls|registrations|stats|version\n"
		"  -s SOCKET  control socket of the daemon (default %s)\n",
		SIPMASQ_CONTROL_SOCKET);
	return 2;
}

int main(int argc, char **argv)
{
	const char *path = SIPMASQ_CONTROL_SOCKET;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *answer = NULL;
	size_t len = 0, cap = 0;
	json_error_t jerr;
	json_t *doc;
	int opt, fd;

	while ((opt = getopt(argc, argv, "s:h")) != -1) {
		if (opt == 's')
			path = optarg;
		else
			return usage();
	}
	if (optind != argc - 1 || strlen(path) >= sizeof(sa.sun_path))
		return usage();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "sipmasqctl: %s: %s (is sipmasq running?)\n", path, strerror(errno));
		return 1;
	}
	dprintf(fd, "%s\n", argv[optind]);
	for (;;) {
		if (len + 4096 > cap) {
			char *p = realloc(answer, cap = cap ? 2 * cap : 65536);
			if (!p) {
				fprintf(stderr, "sipmasqctl: out of memory\n");
				return 1;
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
		fprintf(stderr, "sipmasqctl: no answer from %s\n", path);
		return 1;
	}
	answer[len] = '\0';
	doc = json_loads(answer, 0, &jerr);
	if (!doc) {
		fprintf(stderr, "sipmasqctl: bad answer: %s\n", jerr.text);
		return 1;
	}
	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
	int rc = json_object_get(doc, "error") ? 1 : 0;
	json_decref(doc);
	free(answer);
	return rc;
}
