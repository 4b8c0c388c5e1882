/*
 * LD_PRELOAD shim for tests/tsprobe.sh (not a Criterion test): changes what
 * setsockopt(SOL_SOCKET, SO_TIMESTAMPING) does, and logs when it was called
 * and when that socket was closed, so that the script measures the
 * timestamp probe of tsock.c from outside.
 *
 *   TS_SHIM=refuse    the kernel refuses: -1, errno EPERM (as a seccomp filter
 *                     or a kernel without the option would)
 *   TS_SHIM=swallow   the call "succeeds" but nothing is enabled: the stamps
 *                     are accepted and never come
 *   TS_SHIM_LOG=FILE  one line per event: "ts FD NS" at the setsockopt,
 *                     "close FD NS" at the close of such a socket
 *                     (NS: CLOCK_MONOTONIC in nanoseconds)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_TIMESTAMPING
#define SO_TIMESTAMPING 37
#endif

#define MAXFD 4096
static volatile char marked[MAXFD];

static int real_close(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "close");
	return real(fd);
}

static void note(const char *what, int fd)
{
	const char *path = getenv("TS_SHIM_LOG");
	struct timespec t;
	char line[96];
	int n, lfd;

	if (!path)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	n = snprintf(line, sizeof(line), "%s %d %" PRId64 "\n", what, fd,
		     (int64_t)t.tv_sec * 1000000000 + t.tv_nsec);
	lfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return;
	if (write(lfd, line, (size_t)n) < 0) {
		/* nothing to do: the script sees the line missing */
	}
	real_close(lfd);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*real)(int, int, int, const void *, socklen_t);
	const char *mode = getenv("TS_SHIM");

	if (!real)
		real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	if (level == SOL_SOCKET && name == SO_TIMESTAMPING && mode) {
		if (fd >= 0 && fd < MAXFD)
			marked[fd] = 1;
		note("ts", fd);
		if (!strcmp(mode, "refuse")) {
			errno = EPERM;
			return -1;
		}
		if (!strcmp(mode, "swallow"))
			return 0;
	}
	return real(fd, level, name, val, len);
}

int close(int fd)
{
	if (fd >= 0 && fd < MAXFD && marked[fd]) {
		marked[fd] = 0;
		note("close", fd);
	}
	return real_close(fd);
}
