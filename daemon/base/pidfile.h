/* pid_file: one live sipmasq per pid file.
 *
 * The file is locked with flock(LOCK_EX) for the daemon's whole life (the
 * lock follows the open file across the daemonizing forks), so a second
 * sipmasq given the same pid_file refuses to start while the first runs,
 * and a file left by a crashed one (no lock holder) is simply taken over. */
#ifndef SIPMASQ_PIDFILE_H
#define SIPMASQ_PIDFILE_H

#include <sys/types.h>

/* pidfile_lock: open path (created with mode 0644) and lock it without
 * waiting. Returns the open fd (close-on-exec), -EWOULDBLOCK when a live
 * process holds the lock (*holder = the pid written in the file, 0 when
 * unreadable), or -errno of open/flock. */
int pidfile_lock(const char *path, pid_t *holder);

/* pidfile_write: replace the file's content with getpid() and a newline
 * (after daemonizing: the pid of the process that stays). Returns 0 or -errno. */
int pidfile_write(int fd);

/* pidfile_release: unlink path, then close fd (dropping the lock). A path
 * the process may no longer unlink (root dropped) is left; the next start
 * takes it over. fd < 0 is a no-op. */
void pidfile_release(int fd, const char *path);

#endif
