/* pid_file lock (pidfile.h). */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "daemon/base/pidfile.h"

int pidfile_lock(const char *path, pid_t *holder)
{
	char buf[32] = "";
	ssize_t n;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	*holder = 0;
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	int err = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		*holder = (pid_t)strtol(buf, NULL, 10);
	}
	close(fd);
	return err;
}

int pidfile_write(int fd)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len)
		return -errno;
	return 0;
}

void pidfile_release(int fd, const char *path)
{
	if (fd < 0)
		return;
	/* Unlink while still holding the lock: a sipmasq starting now either
	 * waits for no one (new file) or sees this one still locked. */
	if (unlink(path) < 0 && errno != ENOENT && ftruncate(fd, 0) < 0) {
		/* Neither: the next start reads a stale pid, and takes the file over. */
	}
	close(fd);
}
