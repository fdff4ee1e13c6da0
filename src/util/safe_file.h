/*
 * safe_file.h - creating and replacing files without races or torn writes.
 *
 * safe_replace() writes data to a temporary file beside path, fsyncs it,
 * renames it over path and fsyncs the directory: a reader sees the old
 * file or the new one, never a partial one, and a crash leaves one of the
 * two. safe_create_temp() makes a uniquely named file (O_EXCL, no
 * symlink following) in a directory. All return -1 with errno set on
 * failure and never exit.
 */
#ifndef HK_UTIL_SAFE_FILE_H
#define HK_UTIL_SAFE_FILE_H

#include <stddef.h>
#include <sys/types.h>

int safe_replace(const char *path, const void *data, size_t len, mode_t mode);
/* Create "<dir>/<prefix>.XXXXXX"-style temp file; name receives the path. */
int safe_create_temp(const char *path_like, char *name, size_t name_size, mode_t mode);
int safe_commit_temp(int fd, const char *tmpname, const char *path); /* fsync, close, rename, fsync dir */
int fsync_parent_dir(const char *path);
int write_full(int fd, const void *data, size_t len);
/* Read a whole (small) file; returns malloc'd NUL-terminated buffer or NULL. */
char *read_file(const char *path, size_t max_len, size_t *len_out);

#endif
