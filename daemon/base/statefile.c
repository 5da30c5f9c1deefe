/* Atomic replacement of state files (registrations, calls). */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/base/statefile.h"

/* Make the rename itself durable (a power cut right after it could
 * otherwise bring the old file back). Best effort: some filesystems refuse
 * fsync on a directory, and the file's content is safe either way. */
static void dir_sync(const char *path)
{
	char dir[512];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

int statefile_write(const char *path, statefile_emit_fn emit, void *arg)
{
	char tmp[512];
	FILE *f;
	int fd, rc;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		log_err("%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	rc = emit(f, arg);
	if (!rc && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		rc = -errno;
	if (fclose(f) != 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) != 0)
		rc = -errno;
	if (!rc)
		dir_sync(path);
	if (rc) {
		log_err("%s: %s", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}
