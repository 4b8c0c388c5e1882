/*
 * fsutil: opening the files an operator hands us (configuration files,
 * SecretFile, the responder's --keys, ping -k) without ever blocking.
 *
 * A FIFO (or a device) in place of such a file blocks a plain open() until
 * some writer appears, before any type check can run: the daemon then hangs
 * at start or, on a reload, in its config thread for good.  Every reader of
 * such a file goes through fsutil_open_regular(), which opens without
 * blocking and refuses anything but a regular file, naming the path and what
 * it is.  Symbolic links are followed on purpose: configuration directories
 * legitimately use them (Kubernetes ConfigMaps mount each file as a link).
 */
#ifndef FSUTIL_H
#define FSUTIL_H

#include <stddef.h>
#include <sys/stat.h>

/*
 * Open path read-only (O_CLOEXEC) without blocking, and check with fstat()
 * that it is a regular file.  Returns the descriptor (blocking mode
 * restored), with *st filled when st is not NULL; or -1 with errno set
 * (ENOENT, EACCES... from open(); EINVAL when it is not a regular file) and
 * err holding "cannot open PATH: reason" or "PATH is a FIFO, not a regular
 * file" (directory, character device, block device, socket...).
 */
int fsutil_open_regular(const char *path, struct stat *st, char *err, size_t errlen);

/* What a file of this st_mode is, for messages: "a FIFO", "a directory"... */
const char *fsutil_type_name(mode_t mode);

#endif
