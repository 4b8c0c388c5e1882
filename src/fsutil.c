/*
 * fsutil: see include/fsutil.h.
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *fsutil_type_name(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO (named pipe)";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "not a regular file";
}

int fsutil_open_regular(const char *path, struct stat *st, char *err, size_t errlen)
{
	struct stat sb;
	char ebuf[128];
	int fd, fl, e;

	/* O_NONBLOCK: opening a FIFO without a writer (or a tty, a device)
	 * returns at once instead of blocking; it means nothing for a regular file */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror_r(e, ebuf, sizeof(ebuf)));
		errno = e;
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror_r(e, ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		e = EINVAL;
		snprintf(err, errlen, "%s is %s, not a regular file", path, fsutil_type_name(sb.st_mode));
		goto fail;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror_r(e, ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (st)
		*st = sb;
	return fd;
fail:
	(void)close(fd); /* opened read-only: nothing to lose */
	errno = e;
	return -1;
}
