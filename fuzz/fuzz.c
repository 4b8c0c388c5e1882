/*
 * fuzz: helpers shared by the fuzz targets; see fuzz.h.
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"

const uint8_t *fz_take(struct fz *f, size_t len)
{
	const uint8_t *p;

	if (f->n < len)
		return NULL;
	p = f->p;
	f->p += len;
	f->n -= len;
	return p;
}

uint8_t fz_u8(struct fz *f, uint8_t def)
{
	const uint8_t *p = fz_take(f, 1);

	return p ? p[0] : def;
}

uint16_t fz_u16(struct fz *f, uint16_t def)
{
	const uint8_t *p = fz_take(f, 2);

	return p ? (uint16_t)(p[0] << 8 | p[1]) : def;
}

const uint8_t *fz_chunk(struct fz *f, size_t *len)
{
	size_t want;
	const uint8_t *p;

	if (f->n < 2)
		return NULL;
	want = fz_u16(f, 0);
	if (want > f->n)
		want = f->n;
	p = fz_take(f, want);
	*len = want;
	return p;
}

void fz_quiet(void)
{
	log_set_level(LOGL_ERR);
}

/* ---- files ------------------------------------------------------------ */

static char tmpdir[256];

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fz_rmtree(const char *path)
{
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void tmpdir_cleanup(void)
{
	if (tmpdir[0])
		fz_rmtree(tmpdir);
}

const char *fz_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/twamp-fuzz.XXXXXX", base && *base ? base : "/tmp");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			abort();
		}
		atexit(tmpdir_cleanup);
	}
	return tmpdir;
}

int fz_write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	int fd;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (len && write(fd, data, len) != (ssize_t)len)
		rc = -1;
	close(fd);
	return rc;
}

/* ---- sockets ---------------------------------------------------------- */

void fz_loopback(struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int bound(int type, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(struct sockaddr_in);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	fz_loopback(&ss, 0);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int fz_tcp_listen(uint16_t *port)
{
	return bound(SOCK_STREAM, port);
}

int fz_udp_bind(uint16_t *port)
{
	return bound(SOCK_DGRAM, port);
}

void fz_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int fz_read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

int fz_write_full(int fd, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

bool fz_wait_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) > 0;
}

/* ---- HTTP answering machine ------------------------------------------- */

static struct {
	pthread_mutex_t lock;
	int fd;
	uint16_t port;
	uint8_t *resp;
	size_t len;
	unsigned served;
} http = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

/* Read one request: headers, then a Content-Length body.  0, or -1. */
static int http_read_request(int fd)
{
	char buf[16384];
	size_t len = 0;
	char *end = NULL;
	size_t body = 0, have;

	while (!end) {
		ssize_t n;

		if (len + 1 >= sizeof(buf))
			return -1;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = 0;
		end = strstr(buf, "\r\n\r\n");
	}
	for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n"))
		if (!strncasecmp(line + 2, "Content-Length:", 15))
			body = strtoul(line + 17, NULL, 10);
	have = len - (size_t)(end + 4 - buf);
	while (have < body) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return 0;
}

static void *http_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept4(http.fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		fz_timeouts(c, 2000);
		if (http_read_request(c) == 0) {
			uint8_t *copy;
			size_t len;

			pthread_mutex_lock(&http.lock);
			len = http.len;
			copy = malloc(len ? len : 1);
			if (copy && len)
				memcpy(copy, http.resp, len);
			pthread_mutex_unlock(&http.lock);
			if (copy)
				fz_write_full(c, copy, len);
			free(copy);
			shutdown(c, SHUT_WR);
			pthread_mutex_lock(&http.lock);
			http.served++;
			pthread_mutex_unlock(&http.lock);
		}
		close(c);
	}
	return NULL;
}

uint16_t fz_http_start(void)
{
	pthread_t t;

	if (http.fd >= 0)
		return http.port;
	http.fd = fz_tcp_listen(&http.port);
	if (http.fd < 0 || pthread_create(&t, NULL, http_thread, NULL) != 0) {
		perror("fz_http_start");
		abort();
	}
	pthread_detach(t);
	return http.port;
}

void fz_http_set(const uint8_t *resp, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		abort();
	if (len)
		memcpy(copy, resp, len);
	pthread_mutex_lock(&http.lock);
	free(http.resp);
	http.resp = copy;
	http.len = len;
	http.served = 0;
	pthread_mutex_unlock(&http.lock);
}

unsigned fz_http_served(void)
{
	unsigned n;

	pthread_mutex_lock(&http.lock);
	n = http.served;
	pthread_mutex_unlock(&http.lock);
	return n;
}
