/* Crash-safe state files: write a temporary file, fsync, rename. A kill -9
 * at any moment leaves either the old or the new file, never a torn one. */
#ifndef SIPMASQ_STATEFILE_H
#define SIPMASQ_STATEFILE_H

#include <stdio.h>

/* Writes the file's content to f; returns 0 or -errno. */
typedef int (*statefile_emit_fn)(FILE *f, void *arg);

/* statefile_write: atomically replace `path` with what emit writes
 * (path.tmp, fsync, rename, fsync of the directory). Errors are logged naming the file. Returns 0 or
 * -errno. */
int statefile_write(const char *path, statefile_emit_fn emit, void *arg);

#endif
