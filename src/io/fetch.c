/*
 * fetch: configuration download, validation and atomic install (see
 * include/fetch.h for the contract).
 *
 * Layout of one run (fetch_run):
 *
 *   source ──get──> items in memory ──equal to DIR?──> UNCHANGED
 *                         │ no
 *                         v
 *            DIR/.incoming/<files> (fsync) ──config_load()──> FAILED (1 line)
 *                         │ ok
 *                         v
 *   DIR/<files> ──copy──> DIR/config.old/<files> (temp, fsync, rename)
 *   DIR/.incoming/<file> ──rename──> DIR/<file>, targets first, global last
 *   fsync(DIR) ──> UPDATED
 *
 * Memory per instance ("memo"): for each file of the generation, what was
 * last installed (hash and size) and, for web, the URL and the validators
 * (ETag, Last-Modified) it came with; for git, the source key (URL, ref,
 * path) and commit.  The memo is only written after an install or an
 * UNCHANGED result, so a failed run is retried in full next time.
 *
 * Errors: every failure path writes one line into the caller's err buffer
 * and returns FETCH_FAILED; the line never carries a password (URLs are
 * redacted, and the final line is scrubbed of both the URL's and
 * ConfigPassword's secrets, in case a library quotes them).
 *
 * libgit2 1.5 has no network timeouts: a GIT_STREAM_STANDARD registration
 * (tstream_*) supplies them, reading its limits from thread-local storage
 * that fetch_run() sets around the git operations, so concurrent instances
 * on other threads keep their own limits and other libgit2 users in the
 * process (none today) get plain blocking sockets.
 */
#include "fetch.h"
#include "fsutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dynlib.h"
#include "log.h"
#include "ntptime.h"
#include "url.h"

#define INCOMING ".incoming"
#define OLD_DIR "config.old"
#define REPO_DIR "repo"
#define MAX_FILES 3
#define VALIDATOR_MAX 512   /* longest ETag / Last-Modified kept */

/* Index 0: global, 1: targets, 2: local (generation 2, optional). */
static const char *const gen1_files[] = { "twamp_global_config.json", "twamp_targets_list.json" };
static const char *const gen2_files[] = { "global_config.json", "targets_list.json",
					  "local_config.json" };
/* Install order: targets, local, global (the global file last: it may move the source). */
static const int install_order[] = { 1, 2, 0 };

/* ------------------------------------------------------------ state */

struct memo_file {
	bool installed;        /* hash/size describe DIR/<name> as installed by us */
	uint64_t hash;
	size_t size;
	char *url;             /* web: where it came from */
	char *etag, *lastmod;  /* web: validators of that content */
};

struct fetch {
	char *dir, *incoming, *old, *repo;
	int timeout_ms, connect_ms;
	int memo_gen;
	struct memo_file memo[MAX_FILES];
	char *git_key;         /* url \n ref \n path of the last install */
	git_oid git_commit;
	char *warned_url;      /* the ConfigInsecure warning was given for this URL */
	bool curl_up, git_up;  /* this instance took a reference on the library (lib_up) */
};

enum item_state { ITEM_NONE, ITEM_DATA, ITEM_ABSENT };

struct item {                  /* one file of the generation during a run */
	const char *name;
	bool optional;
	enum item_state state;
	char *data;
	size_t len;
	char *url;             /* web: full URL */
	char *etag, *lastmod;  /* web: validators of data */
	bool staged;           /* DIR/.incoming/<name> holds data (to install) */
};

/* ------------------------------------------------------ small helpers */

static int64_t mono_ms(void)
{
	return ntptime_mono() / NS_PER_MS;
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Make err one line: control characters become spaces, trailing blanks go. */
static void one_line(char *err)
{
	size_t n;

	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	n = strlen(err);
	while (n && err[n - 1] == ' ')
		err[--n] = '\0';
}

/*
 * Replace every occurrence of secret in s (capacity cap) with "***", so that
 * no error line carries a password even if a library quoted it.  Secrets
 * shorter than 4 characters are left alone (they would mangle the line).
 */
static void scrub(char *s, size_t cap, const char *secret)
{
	size_t sl, o = 0;
	char *out;

	if (!s || !cap || !secret || (sl = strlen(secret)) < 4 || !strstr(s, secret))
		return;
	out = malloc(cap);
	if (!out) {
		s[0] = '\0'; /* better no line than a password */
		return;
	}
	for (const char *p = s; *p && o + 1 < cap;) {
		if (strncmp(p, secret, sl) == 0) {
			for (const char *r = "***"; *r && o + 1 < cap; r++)
				out[o++] = *r;
			p += sl;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	memcpy(s, out, o + 1);
	free(out);
}

static char *join_path(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * Read path into a malloc'ed buffer (NUL-terminated for convenience).
 * 0 ok, 1 no such file, 2 larger than max, -1 other error (errno set).
 */
static int read_small(const char *path, size_t max, char **out, size_t *outlen)
{
	size_t len = 0, cap = 4096;
	char *buf, ebuf[160];
	int fd, saved;

	*out = NULL;
	*outlen = 0;
	/* never blocks on a FIFO planted in DIR; anything but a regular file is an error */
	fd = fsutil_open_regular(path, NULL, ebuf, sizeof(ebuf));
	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *nb;

			if (cap > max) {
				free(buf);
				close(fd);
				return 2;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return -1;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			free(buf);
			close(fd);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (len > max) {
		free(buf);
		return 2;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

/* Create path (must not exist) with data, fsynced.  0 or -1 (errno set). */
static int write_new(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	size_t off = 0;
	int saved;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(path);
	errno = saved;
	return -1;
}

static int rmtree_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf path (no symlink is followed).  0, or -1 with errno. */
static int rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	return nftw(path, rmtree_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------- pure helpers */

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

char *fetch_expand(const char *tmpl, const char *probe, bool url, char *err, size_t errlen)
{
	static const char tag[] = "{probe}";
	const size_t tlen = sizeof(tag) - 1;
	char *enc = NULL, *out, *o;
	const char *p, *q;
	size_t n = 0, count = 0, elen;

	if (!tmpl) {
		seterr(err, errlen, "no template");
		return NULL;
	}
	for (p = tmpl; (q = strstr(p, tag)); p = q + tlen)
		count++;
	if (count == 0)
		return strdup(tmpl);
	if (!probe || !*probe) {
		seterr(err, errlen, "uses {probe} but the probe has no name");
		return NULL;
	}
	if (url) {
		enc = malloc(strlen(probe) * 3 + 1);
		if (!enc)
			goto oom;
		for (p = probe; *p; p++) {
			unsigned char c = (unsigned char)*p;

			if (unreserved(c)) {
				enc[n++] = (char)c;
			} else {
				snprintf(enc + n, 4, "%%%02X", c);
				n += 3;
			}
		}
		enc[n] = '\0';
	} else {
		for (p = probe; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/') {
				seterr(err, errlen,
				       "probe name unusable in a path (a '/' or a control character)");
				return NULL;
			}
		if (strcmp(probe, ".") == 0 || strcmp(probe, "..") == 0) {
			seterr(err, errlen, "probe name '%s' unusable in a path", probe);
			return NULL;
		}
		enc = strdup(probe);
		if (!enc)
			goto oom;
	}
	elen = strlen(enc);
	out = malloc(strlen(tmpl) + count * elen + 1);
	if (!out)
		goto oom;
	o = out;
	for (p = tmpl; (q = strstr(p, tag)); p = q + tlen) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, enc, elen);
		o += elen;
	}
	memcpy(o, p, strlen(p) + 1); /* the tail and its NUL: out was sized for them */
	free(enc);
	return out;
oom:
	free(enc);
	seterr(err, errlen, "out of memory");
	return NULL;
}

char *fetch_url_join(const char *base, const char *name)
{
	size_t cut = strcspn(base, "?#"), end = cut;
	char *out;

	while (end > 0 && base[end - 1] == '/')
		end--;
	while (*name == '/')
		name++;
	if (asprintf(&out, "%.*s/%s%s", (int)end, base, name, base + cut) < 0)
		return NULL;
	return out;
}

/* The one redactor (src/io/url.c); this name stays for the callers in this file. */
char *fetch_url_redact(const char *url)
{
	return url_redact(url);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int h, l;

		if (s[i] == '%' && i + 2 < n &&
		    (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0) {
			*o++ = (char)(h * 16 + l);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

int fetch_url_userinfo(const char *url, char **user, char **password)
{
	size_t us, ue;
	const char *colon;

	*user = *password = NULL;
	if (!url || !url_userinfo(url, &us, &ue))
		return 0;
	colon = memchr(url + us, ':', ue - us);
	*user = pct_decode(url + us, (colon ? (size_t)(colon - url) : ue) - us);
	if (!*user)
		return -1;
	if (colon) {
		*password = pct_decode(colon + 1, ue - (size_t)(colon + 1 - url));
		if (!*password) {
			free(*user);
			*user = NULL;
			return -1;
		}
	}
	return 0;
}

const char *fetch_result_name(enum fetch_result r)
{
	switch (r) {
	case FETCH_UPDATED:
		return "UPDATED";
	case FETCH_UNCHANGED:
		return "UNCHANGED";
	case FETCH_FAILED:
		return "FAILED";
	case FETCH_NONE:
		return "NONE";
	}
	return "?";
}

/* ------------------------------------------- libgit2 socket stream */

/*
 * Limits of the git operations running on this thread (tl.on only inside
 * fetch_run).  Each read or write waits at most idle_ms, and never past the
 * deadline of the whole run.
 */
static _Thread_local struct {
	bool on;
	int connect_ms, idle_ms;
	int64_t deadline;      /* mono_ms */
	char timeout[160];     /* the last timeout, for the error line (TLS overwrites git's) */
} tl;

/* Starts like libgit2 1.5's git_socket_stream: its ssh transport reads ->s. */
struct tstream {
	git_stream parent;
	char *host;
	char *port;
	int s;
};

/* How long the next wait may last: -1 forever, else >= 0 ms; *why: "idle"/"deadline". */
static int tl_wait_ms(int base_ms, const char **why)
{
	int64_t rem;

	*why = "idle";
	if (!tl.on)
		return -1;
	rem = tl.deadline - mono_ms();
	if (rem < base_ms) {
		*why = "deadline";
		return rem > 0 ? (int)rem : 0;
	}
	return base_ms;
}

static int tstream_connect(git_stream *stream)
{
	struct tstream *st = (struct tstream *)stream;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	struct addrinfo *res = NULL, *ai;
	bool timed_out = false;
	int gai, last = 0, wait = 0;
	const char *why;

	gai = getaddrinfo(st->host, st->port, &hints, &res);
	if (gai != 0) {
		dl_git.error_set(GIT_ERROR_NET, "cannot resolve %s: %s", st->host, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			       ai->ai_protocol);
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (s < 0) {
			last = errno;
			continue;
		}
		if (connect(s, ai->ai_addr, ai->ai_addrlen) < 0) {
			struct pollfd pfd = { .fd = s, .events = POLLOUT };
			int pr;

			if (errno != EINPROGRESS) {
				last = errno;
				close(s);
				continue;
			}
			wait = tl_wait_ms(tl.connect_ms, &why);
			do
				pr = poll(&pfd, 1, wait);
			while (pr < 0 && errno == EINTR);
			if (pr == 0) {
				timed_out = true;
				close(s);
				continue;
			}
			if (pr < 0 || getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
				soerr = errno;
			if (soerr) {
				last = soerr;
				close(s);
				continue;
			}
		}
		/* blocking from now on, with the idle timeout for whoever reads the fd directly (ssh) */
		if (fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK) < 0) {
			last = errno;
			close(s);
			continue;
		}
		if (tl.on) {
			struct timeval tv = { .tv_sec = tl.idle_ms / 1000,
					      .tv_usec = (tl.idle_ms % 1000) * 1000L };

			setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		st->s = s;
		freeaddrinfo(res);
		return 0;
	}
	freeaddrinfo(res);
	if (timed_out && !last)
		dl_git.error_set(GIT_ERROR_NET, "cannot connect to %s port %s: timed out after %d ms",
			      st->host, st->port, wait);
	else
		dl_git.error_set(GIT_ERROR_NET, "cannot connect to %s port %s: %s", st->host, st->port,
			      strerror(last ? last : ETIMEDOUT));
	return -1;
}

/* Wait for events on the socket within the limits; 0 ready, -1 (git error set). */
static int tstream_wait(struct tstream *st, short events)
{
	struct pollfd pfd = { .fd = st->s, .events = events };
	const char *why;
	int wait = tl_wait_ms(tl.idle_ms, &why), pr;

	if (wait < 0)
		return 0;
	do
		pr = poll(&pfd, 1, wait);
	while (pr < 0 && errno == EINTR);
	if (pr == 0) {
		if (strcmp(why, "idle") == 0)
			snprintf(tl.timeout, sizeof(tl.timeout),
				 "timed out: no data from %s port %s for %d ms", st->host, st->port,
				 wait);
		else
			snprintf(tl.timeout, sizeof(tl.timeout),
				 "timed out: %s port %s: the download took longer than %d ms",
				 st->host, st->port, tl.idle_ms * FETCH_GIT_DEADLINE_FACTOR);
		dl_git.error_set_str(GIT_ERROR_NET, tl.timeout);
		return -1;
	}
	if (pr < 0) {
		dl_git.error_set(GIT_ERROR_NET, "poll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static ssize_t tstream_read(git_stream *stream, void *data, size_t len)
{
	struct tstream *st = (struct tstream *)stream;
	ssize_t r;

	if (tstream_wait(st, POLLIN) < 0)
		return -1;
	do
		r = recv(st->s, data, len, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		dl_git.error_set(GIT_ERROR_NET, "receiving from %s port %s: %s", st->host, st->port,
			      errno == EAGAIN ? "timed out" : strerror(errno));
		return -1;
	}
	return r;
}

static ssize_t tstream_write(git_stream *stream, const char *data, size_t len, int flags)
{
	struct tstream *st = (struct tstream *)stream;
	ssize_t w;

	if (tstream_wait(st, POLLOUT) < 0)
		return -1;
	do
		w = send(st->s, data, len, flags | MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		dl_git.error_set(GIT_ERROR_NET, "sending to %s port %s: %s", st->host, st->port,
			      errno == EAGAIN ? "timed out" : strerror(errno));
		return -1;
	}
	return w;
}

static int tstream_close(git_stream *stream)
{
	struct tstream *st = (struct tstream *)stream;
	int rc = 0;

	if (st->s >= 0)
		rc = close(st->s);
	st->s = -1;
	return rc;
}

static void tstream_free(git_stream *stream)
{
	struct tstream *st = (struct tstream *)stream;

	if (st->s >= 0)
		close(st->s);
	free(st->host);
	free(st->port);
	free(st);
}

static int tstream_new(git_stream **out, const char *host, const char *port)
{
	struct tstream *st = calloc(1, sizeof(*st));

	if (!st || !(st->host = strdup(host)) || !(st->port = strdup(port ? port : ""))) {
		if (st)
			free(st->host);
		free(st);
		dl_git.error_set_oom();
		return -1;
	}
	st->s = -1;
	st->parent.version = GIT_STREAM_VERSION;
	st->parent.connect = tstream_connect;
	st->parent.read = tstream_read;
	st->parent.write = tstream_write;
	st->parent.close = tstream_close;
	st->parent.free = tstream_free;
	*out = &st->parent;
	return 0;
}

/* ------------------------------------------------- global init (refcount) */

/*
 * Each library is loaded (dynlib) and initialised when a run first needs it
 * (web: libcurl, git: libgit2), once per instance, reference-counted across
 * instances; fetch_free() releases what its instance took.  A library that
 * cannot be loaded fails that run, with dynlib's line.
 */
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static int git_users;

static int curl_up(char *err, size_t errlen)
{
	const char *why;

	if (dynlib_curl_up(&why) < 0) {
		seterr(err, errlen, "%s", why);
		return -1;
	}
	return 0;
}

static int git_up(char *err, size_t errlen)
{
	const char *why;
	int rc = 0;

	if (dynlib_load(DYNLIB_GIT2, &why) < 0) {
		seterr(err, errlen, "%s", why);
		return -1;
	}
	pthread_mutex_lock(&global_lock);
	if (git_users == 0) {
		git_stream_registration reg = { .version = GIT_STREAM_VERSION, .init = tstream_new };

		if (dl_git.libgit2_init() < 0) {
			seterr(err, errlen, "git_libgit2_init failed");
			rc = -1;
		} else if (dl_git.stream_register(GIT_STREAM_STANDARD, &reg) < 0) {
			seterr(err, errlen, "cannot register the git socket stream");
			dl_git.libgit2_shutdown();
			rc = -1;
		}
	}
	if (rc == 0)
		git_users++;
	pthread_mutex_unlock(&global_lock);
	return rc;
}

/* The library a run of this method needs, loaded and initialised for f. */
static int lib_up(struct fetch *f, bool git, char *err, size_t errlen)
{
	if (git ? f->git_up : f->curl_up)
		return 0;
	if ((git ? git_up : curl_up)(err, errlen) < 0)
		return -1;
	if (git)
		f->git_up = true;
	else
		f->curl_up = true;
	return 0;
}

static void global_fini(struct fetch *f)
{
	pthread_mutex_lock(&global_lock);
	if (f->git_up && --git_users == 0)
		dl_git.libgit2_shutdown();   /* also drops the stream registration */
	pthread_mutex_unlock(&global_lock);
	if (f->curl_up)
		dynlib_curl_down();
}

/* ------------------------------------------------------------ instance */

struct fetch *fetch_new(const char *dir)
{
	struct fetch *f;
	const char *env = getenv("TWAMP_FETCH_TIMEOUT_MS");

	if (!dir || !*dir) {
		log_err("fetch: no data directory");
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		log_err("fetch: out of memory");
		return NULL;
	}
	f->dir = strdup(dir);
	f->incoming = join_path(dir, INCOMING);
	f->old = join_path(dir, OLD_DIR);
	f->repo = join_path(dir, REPO_DIR);
	if (!f->dir || !f->incoming || !f->old || !f->repo) {
		log_err("fetch: out of memory");
		goto fail;
	}
	f->timeout_ms = FETCH_TIMEOUT_MS;
	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);

		if (*end || v < 1 || v > 3600000)
			log_warn("fetch: ignoring TWAMP_FETCH_TIMEOUT_MS='%s' (1..3600000)", env);
		else
			f->timeout_ms = (int)v;
	}
	f->connect_ms = f->timeout_ms < FETCH_CONNECT_TIMEOUT_MS ? f->timeout_ms
								 : FETCH_CONNECT_TIMEOUT_MS;
	return f;
fail:
	free(f->dir);
	free(f->incoming);
	free(f->old);
	free(f->repo);
	free(f);
	return NULL;
}

static void memo_clear(struct memo_file *m)
{
	free(m->url);
	free(m->etag);
	free(m->lastmod);
	memset(m, 0, sizeof(*m));
}

void fetch_free(struct fetch *f)
{
	if (!f)
		return;
	for (int i = 0; i < MAX_FILES; i++)
		memo_clear(&f->memo[i]);
	free(f->git_key);
	free(f->warned_url);
	free(f->dir);
	free(f->incoming);
	free(f->old);
	free(f->repo);
	global_fini(f);
	free(f);
}

static void item_clear(struct item *it)
{
	free(it->data);
	free(it->url);
	free(it->etag);
	free(it->lastmod);
	it->data = it->url = it->etag = it->lastmod = NULL;
}

/* The live file DIR/<name> still holds what we installed (per the memo)? */
static bool live_matches_memo(struct fetch *f, int i, const char *name, char **data, size_t *len)
{
	struct memo_file *m = &f->memo[i];
	char *path = join_path(f->dir, name), *buf = NULL;
	size_t n = 0;
	bool ok;

	*data = NULL;
	*len = 0;
	if (!path || !m->installed) {
		free(path);
		return false;
	}
	ok = read_small(path, FETCH_MAX_FILE, &buf, &n) == 0 && n == m->size &&
	     fnv1a(buf, n) == m->hash;
	free(path);
	if (ok) {
		*data = buf;
		*len = n;
	} else {
		free(buf);
	}
	return ok;
}

/* ----------------------------------------------------------------- web */

struct body {
	char *data;
	size_t len, cap;
	bool too_big;
};

struct hdrs {
	char etag[VALIDATOR_MAX], lastmod[VALIDATOR_MAX], reason[96];
};

static size_t web_body_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;

	if (n > FETCH_MAX_FILE - b->len) {
		b->too_big = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 16384;
		char *nd;

		while (ncap < b->len + n + 1)
			ncap *= 2;
		nd = realloc(b->data, ncap);
		if (!nd)
			return 0;
		b->data = nd;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Copy a header value (trimmed) into dst when the line is "name: value". */
static void header_value(const char *line, size_t n, const char *name, char *dst, size_t cap)
{
	size_t nl = strlen(name);

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	line += nl + 1;
	n -= nl + 1;
	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' ' ||
		     line[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = 0; /* too long to be sent back: do without it */
	memcpy(dst, line, n);
	dst[n] = '\0';
}

static size_t web_header_cb(char *line, size_t size, size_t nmemb, void *ud)
{
	struct hdrs *h = ud;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (after a redirect or a 100): forget the previous one */
		const char *sp = memchr(line, ' ', n), *sp2;
		size_t rl;

		h->etag[0] = h->lastmod[0] = h->reason[0] = '\0';
		if (sp && (sp2 = memchr(sp + 1, ' ', n - (size_t)(sp + 1 - line)))) {
			sp2++;
			rl = n - (size_t)(sp2 - line);
			while (rl && (sp2[rl - 1] == '\r' || sp2[rl - 1] == '\n'))
				rl--;
			if (rl >= sizeof(h->reason))
				rl = sizeof(h->reason) - 1;
			memcpy(h->reason, sp2, rl);
			h->reason[rl] = '\0';
		}
		return n;
	}
	header_value(line, n, "ETag", h->etag, sizeof(h->etag));
	header_value(line, n, "Last-Modified", h->lastmod, sizeof(h->lastmod));
	return n;
}

static void web_setup(struct fetch *f, CURL *h, const struct config_source *src, char *errbuf)
{
	dl_curl_setopt(h, CURLOPT_NOSIGNAL, 1L);
	dl_curl_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	dl_curl_setopt(h, CURLOPT_USERAGENT, "twamp-client");
	dl_curl_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	dl_curl_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	dl_curl_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	dl_curl_setopt(h, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRS);
	dl_curl_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)f->connect_ms);
	dl_curl_setopt(h, CURLOPT_TIMEOUT_MS, (long)f->timeout_ms);
	dl_curl_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)FETCH_MAX_FILE);
	dl_curl_setopt(h, CURLOPT_WRITEFUNCTION, web_body_cb);
	dl_curl_setopt(h, CURLOPT_HEADERFUNCTION, web_header_cb);
	dl_curl_setopt(h, CURLOPT_SSL_VERIFYPEER, src->insecure ? 0L : 1L);
	dl_curl_setopt(h, CURLOPT_SSL_VERIFYHOST, src->insecure ? 0L : 2L);
	if (src->ca_file && *src->ca_file)
		dl_curl_setopt(h, CURLOPT_CAINFO, src->ca_file);
	if (src->user && *src->user) {
		dl_curl_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		dl_curl_setopt(h, CURLOPT_USERNAME, src->user);
		dl_curl_setopt(h, CURLOPT_PASSWORD, src->password ? src->password : "");
	}
}

/*
 * GET one file into it.  cached: the installed copy, whose validators are
 * m's (conditional GET), or NULL.  0, or -1 with err set.
 */
static int web_get(CURL *h, struct item *it, const struct memo_file *m, char *cached,
		   size_t cachedlen, char *errbuf, char *err, size_t errlen)
{
	struct body b = { 0 };
	struct hdrs hd = { 0 };
	struct curl_slist *hl = NULL;
	char *red = fetch_url_redact(it->url), *line = NULL;
	long code = 0;
	CURLcode rc;
	int ret = -1;

	if (!red) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	errbuf[0] = '\0';
	dl_curl_setopt(h, CURLOPT_URL, it->url);
	dl_curl_setopt(h, CURLOPT_WRITEDATA, &b);
	dl_curl_setopt(h, CURLOPT_HEADERDATA, &hd);
	if (cached && m->etag && asprintf(&line, "If-None-Match: %s", m->etag) >= 0) {
		hl = dl_curl.slist_append(hl, line);
		free(line);
	}
	if (cached && m->lastmod && asprintf(&line, "If-Modified-Since: %s", m->lastmod) >= 0) {
		struct curl_slist *nl = dl_curl.slist_append(hl, line);

		if (nl)
			hl = nl;
		free(line);
	}
	dl_curl_setopt(h, CURLOPT_HTTPHEADER, hl);
	rc = dl_curl.easy_perform(h);
	dl_curl_setopt(h, CURLOPT_HTTPHEADER, NULL);
	dl_curl.slist_free_all(hl);
	dl_curl_getinfo(h, CURLINFO_RESPONSE_CODE, &code);

	if (rc != CURLE_OK) {
		if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
			curl_off_t cl = -1;

			dl_curl_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
			if (cl > 0)
				seterr(err, errlen, "%s: larger than the %u MiB limit (%lld bytes)",
				       red, FETCH_MAX_FILE >> 20, (long long)cl);
			else
				seterr(err, errlen, "%s: larger than the %u MiB limit", red,
				       FETCH_MAX_FILE >> 20);
		} else if (rc == CURLE_TOO_MANY_REDIRECTS) {
			seterr(err, errlen, "%s: more than %d redirects", red, FETCH_MAX_REDIRS);
		} else {
			seterr(err, errlen, "%s: %s", red,
			       errbuf[0] ? errbuf : dl_curl.easy_strerror(rc));
		}
		goto out;
	}
	if (code == 304 && cached) {
		it->state = ITEM_DATA;
		it->data = cached;
		it->len = cachedlen;
		cached = NULL;
		/* a 304 may refresh the validators */
		it->etag = strdup(hd.etag[0] ? hd.etag : (m->etag ? m->etag : ""));
		it->lastmod = strdup(hd.lastmod[0] ? hd.lastmod : (m->lastmod ? m->lastmod : ""));
		log_debug("fetch: %s: 304 not modified", red);
		ret = 0;
	} else if (code == 200) {
		it->state = ITEM_DATA;
		it->data = b.data ? b.data : strdup("");
		it->len = b.len;
		b.data = NULL;
		it->etag = strdup(hd.etag);
		it->lastmod = strdup(hd.lastmod);
		log_debug("fetch: %s: 200, %zu bytes", red, it->len);
		ret = it->data ? 0 : -1;
		if (ret)
			seterr(err, errlen, "out of memory");
	} else if (code == 404 && it->optional) {
		it->state = ITEM_ABSENT;
		log_debug("fetch: %s: 404 (optional file)", red);
		ret = 0;
	} else if (code >= 400) {
		seterr(err, errlen, "%s: HTTP %ld%s%s", red, code, hd.reason[0] ? " " : "",
		       hd.reason);
	} else {
		seterr(err, errlen, "%s: unexpected HTTP status %ld%s%s", red, code,
		       hd.reason[0] ? " " : "", hd.reason);
	}
out:
	free(cached);
	free(b.data);
	free(red);
	return ret;
}

static int web_run(struct fetch *f, const struct config_source *src, const char *base,
		   struct item *items, int n, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = dl_curl.easy_init();
	int rc = 0;

	if (!h) {
		seterr(err, errlen, "curl_easy_init failed");
		return -1;
	}
	web_setup(f, h, src, errbuf);
	for (int i = 0; i < n && rc == 0; i++) {
		struct item *it = &items[i];
		struct memo_file *m = &f->memo[i];
		char *cached = NULL;
		size_t cachedlen = 0;

		it->url = fetch_url_join(base, it->name);
		if (!it->url) {
			seterr(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		/* conditional only while the live file is what those validators describe */
		if (m->url && strcmp(m->url, it->url) == 0 && (m->etag || m->lastmod) &&
		    !live_matches_memo(f, i, it->name, &cached, &cachedlen))
			cached = NULL;
		rc = web_get(h, it, m, cached, cachedlen, errbuf, err, errlen);
	}
	dl_curl.easy_cleanup(h);
	return rc;
}

/* ----------------------------------------------------------------- git */

struct git_ctx {
	const struct config_source *src;
	char *url_user, *url_password;
	int cred_attempts;
	bool cred_gave_up, cred_none, too_big;
	char cert_reason[256];
};

static int git_cred_cb(git_credential **out, const char *url, const char *user_from_url,
		       unsigned int allowed, void *payload)
{
	struct git_ctx *c = payload;
	const char *user = c->src->user && *c->src->user ? c->src->user : c->url_user;
	const char *pass = c->src->password && *c->src->password ? c->src->password
								 : c->url_password;

	(void)url;
	if (++c->cred_attempts > FETCH_CRED_ATTEMPTS) {
		c->cred_gave_up = true;
		dl_git.error_set_str(GIT_ERROR_NET, "authentication failed");
		return -1;
	}
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && user)
		return dl_git.credential_userpass_plaintext_new(out, user, pass ? pass : "");
	if ((allowed & GIT_CREDENTIAL_USERNAME) && (user || user_from_url))
		return dl_git.credential_username_new(out, user ? user : user_from_url);
	c->cred_none = true;
	dl_git.error_set_str(GIT_ERROR_NET, "credentials needed");
	return -1;
}

/*
 * With ConfigCAFile: verify the server's certificate ourselves against that
 * file (any certificate in it is a trust anchor) and the host name.
 * Otherwise libgit2's verdict (system CAs) stands; ConfigInsecure accepts all.
 */
static int git_cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct git_ctx *c = payload;
	const git_cert_x509 *x = (const git_cert_x509 *)cert;
	const unsigned char *p;
	X509 *leaf = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *vp;
	unsigned char ipbuf[16];
	int rc = -1;

	if (c->src->insecure)
		return 0;
	if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) { /* not reached: ssh is refused */
		snprintf(c->cert_reason, sizeof(c->cert_reason),
			 "the ssh host key of %s cannot be verified", host);
		return -1;
	}
	if (!c->src->ca_file || !*c->src->ca_file)
		return valid ? 0 : GIT_PASSTHROUGH;
	if (cert->cert_type != GIT_CERT_X509) {
		snprintf(c->cert_reason, sizeof(c->cert_reason), "no X.509 certificate to verify");
		return -1;
	}
	p = x->data;
	leaf = d2i_X509(NULL, &p, (long)x->len);
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (!leaf || !store || !ctx) {
		snprintf(c->cert_reason, sizeof(c->cert_reason), "cannot decode the certificate");
		goto out;
	}
	if (X509_STORE_load_file(store, c->src->ca_file) != 1) {
		snprintf(c->cert_reason, sizeof(c->cert_reason),
			 "cannot read ConfigCAFile %s", c->src->ca_file);
		goto out;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	vp = X509_STORE_get0_param(store);
	X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
	if (inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1)
		X509_VERIFY_PARAM_set1_ip_asc(vp, host);
	else
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
	if (X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1) {
		snprintf(c->cert_reason, sizeof(c->cert_reason), "cannot verify the certificate");
		goto out;
	}
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
	} else {
		snprintf(c->cert_reason, sizeof(c->cert_reason),
			 "certificate verify failed with ConfigCAFile %s: %s", c->src->ca_file,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(leaf);
	return rc;
}

static int git_progress_cb(const git_indexer_progress *st, void *payload)
{
	struct git_ctx *c = payload;

	if (st->received_bytes > FETCH_MAX_GIT_TRANSFER) {
		c->too_big = true;
		return -1;
	}
	return 0;
}

/* The last libgit2 error as text, or what our callbacks recorded. */
static const char *git_reason(struct git_ctx *c)
{
	const git_error *e = dl_git.error_last();

	if (c && c->cred_gave_up)
		return "authentication failed: credentials rejected " "3 times";
	if (c && c->cred_none)
		return "the server asks for credentials and none are configured "
		       "(ConfigUser/ConfigPassword, or user:password@ in ConfigURL)";
	if (c && c->cert_reason[0])
		return c->cert_reason;
	if (c && c->too_big)
		return "transfer larger than the 256 MiB limit";
	if (c && tl.timeout[0])
		return tl.timeout;
	return e && e->message ? e->message : "unknown error";
}

/*
 * DIR/repo is a bare repository: the commit's files are read as blobs and
 * nothing of its tree is ever written to disk, so no symlink, directory or
 * file count in a repository can reach outside DIR or fill it.  A clone
 * with a work tree (made by versions that hard-reset one) is removed and
 * replaced; rmtree() does not follow the symlinks its work tree may hold.
 */
static int open_repo(struct fetch *f, git_repository **repo, char *err, size_t errlen,
		     const char *what)
{
	struct stat st;

	if (lstat(f->repo, &st) == 0) {
		if (dl_git.repository_open_ext(repo, f->repo, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) ==
		    0) {
			if (dl_git.repository_is_bare(*repo))
				return 0;
			log_info("fetch: %s is a clone with a work tree (older version): replacing it "
				 "with a bare repository", f->repo);
			dl_git.repository_free(*repo);
			*repo = NULL;
		} else {
			log_warn("fetch: %s is not a usable git repository (%s): cloning again",
				 f->repo, git_reason(NULL));
		}
		if (rmtree(f->repo) < 0) {
			seterr(err, errlen, "%s: cannot remove %s: %s", what, f->repo,
			       strerror(errno));
			return -1;
		}
	}
	if (dl_git.repository_init(repo, f->repo, 1) < 0) {
		seterr(err, errlen, "%s: cannot create %s: %s", what, f->repo, git_reason(NULL));
		return -1;
	}
	/* no reflog: it would grow by an entry per download for the life of the probe */
	{
		git_config *cfg;

		if (dl_git.repository_config(&cfg, *repo) == 0) {
			dl_git.config_set_bool(cfg, "core.logAllRefUpdates", 0);
			dl_git.config_free(cfg);
		}
	}
	return 0;
}

/*
 * ssh URLs: ssh://, git+ssh://, ssh+git:// and the scp form [user@]host:path.
 * They are refused: ConfigSource has no key file, libgit2 1.5 checks no
 * known_hosts, and libssh2 waits on its socket with no timeout, so one
 * silent server would stop configuration updates for good.
 */
static bool is_ssh_url(const char *url)
{
	const char *scheme = strstr(url, "://"), *colon;

	if (scheme)
		return strncasecmp(url, "ssh://", 6) == 0 || strncasecmp(url, "git+ssh://", 10) == 0 ||
		       strncasecmp(url, "ssh+git://", 10) == 0;
	colon = strchr(url, ':');
	return colon && colon > url && !memchr(url, '/', (size_t)(colon - url));
}

/* "a/b" from ConfigPath " /a/b/ ", "./a" -> "a"; "" for the root. */
static char *norm_path(const char *p)
{
	size_t n;

	if (!p)
		return strdup("");
	while (*p == '/' || (p[0] == '.' && p[1] == '/'))
		p += *p == '/' ? 1 : 2;
	if (strcmp(p, ".") == 0)
		p = "";
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	return strndup(p, n);
}

/* Size and type of an object without inflating it (headers only).  0 or -1 (git error). */
static int git_object_size(git_odb *odb, const git_oid *id, size_t *size, git_object_t *type)
{
	return dl_git.odb_read_header(size, type, odb, id);
}

/*
 * Look a tree up after checking its size: a tree object of millions of
 * entries (small when packed) would otherwise be parsed whole into memory.
 */
static int git_tree_capped(git_tree **out, git_repository *repo, git_odb *odb, const git_oid *id,
			   const char *shown, const char *what, char *err, size_t errlen)
{
	size_t size = 0;
	git_object_t type = GIT_OBJECT_INVALID;

	if (git_object_size(odb, id, &size, &type) < 0) {
		seterr(err, errlen, "%s: %s: %s", what, shown, git_reason(NULL));
		return -1;
	}
	if (type != GIT_OBJECT_TREE) {
		seterr(err, errlen, "%s: %s: not a tree object", what, shown);
		return -1;
	}
	if (size > FETCH_MAX_TREE) {
		seterr(err, errlen, "%s: %s: a directory listing larger than the %u MiB limit "
		       "(%zu bytes)", what, shown, FETCH_MAX_TREE >> 20, size);
		return -1;
	}
	if (dl_git.tree_lookup(out, repo, id) < 0) {
		seterr(err, errlen, "%s: %s: %s", what, shown, git_reason(NULL));
		return -1;
	}
	return 0;
}

static const char *git_mode_name(git_filemode_t mode)
{
	switch (mode) {
	case GIT_FILEMODE_LINK:
		return "a symbolic link";
	case GIT_FILEMODE_COMMIT:
		return "a submodule";
	case GIT_FILEMODE_TREE:
		return "a directory";
	default:
		return "not a file";
	}
}

/*
 * The entry at path ("a/b/name") of the commit's tree, walked one component
 * at a time through size-checked trees.  *tree_out: the tree holding the
 * entry (the caller frees it; the entry belongs to it).  0, 1 not found (err
 * set), -1 error (err set).
 */
static int git_find_entry(git_repository *repo, git_odb *odb, const git_oid *root,
			  const char *path, git_tree **tree_out, const git_tree_entry **entry,
			  const char *what, char *err, size_t errlen)
{
	git_tree *tree = NULL;
	const char *p = path;

	*tree_out = NULL;
	*entry = NULL;
	if (git_tree_capped(&tree, repo, odb, root, "the root directory", what, err, errlen) < 0)
		return -1;
	for (;;) {
		const git_tree_entry *e;
		size_t len;
		git_tree *next = NULL;
		char *comp, *upto;
		int rc;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		comp = strndup(p, len);
		upto = strndup(path, (size_t)(p - path) + len); /* for messages */
		p += len;
		while (*p == '/')
			p++;
		if (!comp || !upto) {
			seterr(err, errlen, "out of memory");
			rc = -1;
		} else if (!(e = dl_git.tree_entry_byname(tree, comp))) {
			seterr(err, errlen, "%s: %s: not in the repository", what, path);
			rc = 1;
		} else if (!*p) {
			*tree_out = tree;
			*entry = e;
			tree = NULL;
			rc = 0;
		} else if (dl_git.tree_entry_filemode(e) != GIT_FILEMODE_TREE) {
			seterr(err, errlen, "%s: %s: not in the repository (%s is %s)", what, path,
			       upto, git_mode_name(dl_git.tree_entry_filemode(e)));
			rc = 1;
		} else if (git_tree_capped(&next, repo, odb, dl_git.tree_entry_id(e), upto, what, err,
					   errlen) < 0) {
			rc = -1;
		} else {
			rc = 2; /* descend */
		}
		free(comp);
		free(upto);
		dl_git.tree_free(tree);
		tree = next;
		if (rc != 2)
			return rc;
	}
}

/*
 * Read items from the commit's tree (path: "" or "a/b") as blobs: each must
 * be a regular file (not a symlink, submodule or directory) of at most
 * FETCH_MAX_FILE bytes, checked from the object header before the blob is
 * inflated.  Nothing is written to disk.  0, or -1 with err.
 */
static int git_read_files(git_commit *commit, const char *path, struct item *items, int n,
			  const char *what, char *err, size_t errlen)
{
	git_repository *repo = dl_git.commit_owner(commit);
	git_odb *odb = NULL;
	int rc = -1;

	if (dl_git.repository_odb(&odb, repo) < 0) {
		seterr(err, errlen, "%s: %s", what, git_reason(NULL));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct item *it = &items[i];
		const git_tree_entry *e = NULL;
		git_tree *holder = NULL;
		git_blob *blob = NULL;
		git_filemode_t mode;
		git_object_t type = GIT_OBJECT_INVALID;
		size_t size = 0;
		char *full;
		int r;

		if (asprintf(&full, "%s%s%s", path, *path ? "/" : "", it->name) < 0) {
			seterr(err, errlen, "out of memory");
			goto out;
		}
		r = git_find_entry(repo, odb, dl_git.commit_tree_id(commit), full, &holder, &e, what,
				   err, errlen);
		if (r == 1 && it->optional) {
			if (err && errlen)
				err[0] = '\0';
			it->state = ITEM_ABSENT;
			free(full);
			continue;
		}
		if (r != 0) {
			free(full);
			goto out;
		}
		mode = dl_git.tree_entry_filemode(e);
		if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) {
			seterr(err, errlen, "%s: %s: not a regular file (%s)", what, full,
			       git_mode_name(mode));
			goto next_fail;
		}
		if (git_object_size(odb, dl_git.tree_entry_id(e), &size, &type) < 0) {
			seterr(err, errlen, "%s: %s: %s", what, full, git_reason(NULL));
			goto next_fail;
		}
		if (type != GIT_OBJECT_BLOB) {
			seterr(err, errlen, "%s: %s: not a file object", what, full);
			goto next_fail;
		}
		if (size > FETCH_MAX_FILE) {
			seterr(err, errlen, "%s: %s: larger than the %u MiB limit (%zu bytes)", what,
			       full, FETCH_MAX_FILE >> 20, size);
			goto next_fail;
		}
		if (dl_git.blob_lookup(&blob, repo, dl_git.tree_entry_id(e)) < 0) {
			seterr(err, errlen, "%s: %s: %s", what, full, git_reason(NULL));
			goto next_fail;
		}
		it->len = (size_t)dl_git.blob_rawsize(blob); /* == size, <= FETCH_MAX_FILE */
		it->data = malloc(it->len + 1);
		if (!it->data) {
			seterr(err, errlen, "out of memory");
			dl_git.blob_free(blob);
			goto next_fail;
		}
		memcpy(it->data, dl_git.blob_rawcontent(blob), it->len);
		it->data[it->len] = '\0';
		it->state = ITEM_DATA;
		dl_git.blob_free(blob);
		dl_git.tree_free(holder);
		free(full);
		continue;
next_fail:
		dl_git.tree_free(holder);
		free(full);
		goto out;
	}
	rc = 0;
out:
	dl_git.odb_free(odb);
	return rc;
}

/*
 * Get the generation's files from the repository into items.  *key and
 * *oid: the source and commit (for the memo).  Returns 0 (items filled),
 * 1 (unchanged: same commit as last installed and live files intact), or -1
 * with err.  what: the redacted "URL (branch X)" for messages, updated here
 * once the commit is known.
 */
static int git_run(struct fetch *f, const struct config_source *src, const char *url,
		   const char *path, struct item *items, int n, char **key, git_oid *oid,
		   char *what, size_t whatlen, char *err, size_t errlen)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_commit *commit = NULL;
	git_reference *ref = NULL;
	git_buf defbranch = { 0 };
	const git_remote_head **heads;
	git_remote_callbacks cbs;
	git_fetch_options fo;
	git_remote_create_options ropts;
	struct git_ctx ctx = { .src = src };
	char *refname = NULL, *spec = NULL, *track = NULL, *red = fetch_url_redact(url);
	const char *shortname;
	size_t nheads;
	bool found = false, local_failed = false;
	int rc = -1;

	*key = NULL;
	dl_git.remote_init_callbacks(&cbs, GIT_REMOTE_CALLBACKS_VERSION);
	dl_git.fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	dl_git.remote_create_options_init(&ropts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	if (!red || fetch_url_userinfo(url, &ctx.url_user, &ctx.url_password) < 0) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	snprintf(what, whatlen, "%s", red);
	if (is_ssh_url(url)) {
		seterr(err, errlen, "%s: ssh is not supported (no key file option, no host key "
		       "check, no timeouts in libgit2 1.5): use https, http, git:// or file://",
		       what);
		goto out;
	}
	if (open_repo(f, &repo, err, errlen, what) < 0)
		goto out;
	/*
	 * Anonymous (nothing written to DIR/repo/config) and without url.*.insteadOf
	 * rewriting: the daemon fetches exactly ConfigURL, and libgit2 1.5 leaks
	 * a pcre2 match block per config key while matching insteadOf rules.
	 */
	ropts.repository = repo;
	ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	if (dl_git.remote_create_with_opts(&remote, url, &ropts) < 0) {
		seterr(err, errlen, "%s: %s", what, git_reason(NULL));
		goto out;
	}
	cbs.credentials = git_cred_cb;
	cbs.certificate_check = git_cert_cb;
	cbs.transfer_progress = git_progress_cb;
	cbs.payload = &ctx;
	if (dl_git.remote_connect(remote, GIT_DIRECTION_FETCH, &cbs, NULL, NULL) < 0 ||
	    dl_git.remote_ls(&heads, &nheads, remote) < 0) {
		seterr(err, errlen, "%s: %s", what, git_reason(&ctx));
		goto out;
	}
	if (src->branch && *src->branch) {
		if (asprintf(&refname, "refs/heads/%s", src->branch) < 0)
			refname = NULL;
	} else if (dl_git.remote_default_branch(&defbranch, remote) == 0) {
		refname = strdup(defbranch.ptr);
	} else {
		seterr(err, errlen, "%s: %s", what,
		       nheads == 0 ? "the repository is empty"
				   : "the remote has no default branch (HEAD); set ConfigBranch");
		goto out;
	}
	if (!refname) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	shortname = strncmp(refname, "refs/heads/", 11) == 0 ? refname + 11 : refname;
	snprintf(what, whatlen, "%s (branch %s)", red, shortname);
	for (size_t i = 0; i < nheads; i++)
		if (strcmp(heads[i]->name, refname) == 0) {
			dl_git.oid_cpy(oid, &heads[i]->oid);
			found = true;
			break;
		}
	if (!found) {
		seterr(err, errlen, "%s: branch '%s' not found on the remote (deleted?)", red,
		       shortname);
		goto out;
	}
	if (asprintf(key, "%s\n%s\n%s", url, refname, path) < 0) {
		*key = NULL;
		seterr(err, errlen, "out of memory");
		goto out;
	}
	{
		char hex[GIT_OID_HEXSZ + 1];

		dl_git.oid_tostr(hex, sizeof(hex), oid);
		snprintf(what, whatlen, "%s (branch %s, commit %.7s)", red, shortname, hex);
	}
	/* the commit we installed last, and our files untouched: nothing to download */
	if (f->git_key && strcmp(f->git_key, *key) == 0 && dl_git.oid_equal(&f->git_commit, oid)) {
		bool intact = true;

		for (int i = 0; i < n && intact; i++) {
			char *d = NULL;
			size_t l;

			if (f->memo[i].installed)
				intact = live_matches_memo(f, i, items[i].name, &d, &l);
			else if (!items[i].optional)
				intact = false;
			free(d);
		}
		if (intact) {
			dl_git.remote_disconnect(remote);
			rc = 1;
			goto out;
		}
	}
	if (asprintf(&track, "refs/remotes/origin/%s", shortname) < 0 ||
	    asprintf(&spec, "+%s:%s", refname, track) < 0) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	{
		git_strarray specs = { .strings = &spec, .count = 1 };

		fo.callbacks = cbs;
		fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
		if (dl_git.remote_download(remote, &specs, &fo) < 0) {
			seterr(err, errlen, "%s: %s", what, git_reason(&ctx));
			goto out;
		}
	}
	dl_git.remote_disconnect(remote);
	/* from here on only the local repository is involved */
	local_failed = true;
	if (dl_git.commit_lookup(&commit, repo, oid) < 0 ||
	    dl_git.reference_create(&ref, repo, track, oid, 1, "twamp-client fetch") < 0 ||
	    dl_git.repository_set_head_detached(repo, oid) < 0) {
		seterr(err, errlen, "%s: %s", what, git_reason(NULL));
		goto out;
	}
	/* no checkout: the files are read from the commit's tree as blobs */
	local_failed = false;
	rc = git_read_files(commit, path, items, n, what, err, errlen);
out:
	if (local_failed) {
		/* a damaged clone must not fail every later run: start afresh next time */
		log_warn("fetch: removing %s after a local git error", f->repo);
		dl_git.repository_free(repo);
		repo = NULL;
		rmtree(f->repo);
	}
	if (rc < 0) {
		free(*key);
		*key = NULL;
	}
	dl_git.buf_dispose(&defbranch);
	dl_git.reference_free(ref);
	dl_git.commit_free(commit);
	dl_git.remote_free(remote);
	dl_git.repository_free(repo);
	free(refname);
	free(spec);
	free(track);
	free(red);
	free(ctx.url_user);
	free(ctx.url_password);
	return rc;
}

/* ------------------------------------------------------------ install */

/* Copy src to dst through dst's directory's temp name, fsynced.  0 or -1 (errno). */
static int copy_atomic(const char *src, const char *dstdir, const char *name)
{
	char *data = NULL, *tmp = NULL, *dst = NULL;
	size_t len;
	struct stat st;
	int rc = -1, saved = 0;

	switch (read_small(src, CONFIG_MAX_FILE_SIZE, &data, &len)) {
	case 0:
		break;
	case 1:
		errno = ENOENT;
		return -1;
	case 2:
		errno = EFBIG;
		return -1;
	default:
		return -1;
	}
	if (stat(src, &st) < 0)
		st.st_mode = 0600;
	if (asprintf(&tmp, "%s/.%s.tmp", dstdir, name) < 0 ||
	    asprintf(&dst, "%s/%s", dstdir, name) < 0) {
		errno = ENOMEM;
		goto out;
	}
	unlink(tmp);
	if (write_new(tmp, data, len, st.st_mode & 07777) < 0)
		goto out;
	if (rename(tmp, dst) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	free(data);
	free(tmp);
	free(dst);
	errno = saved;
	return rc;
}

/* Stage items into DIR/.incoming.  0, or -1 with err. */
static int stage(struct fetch *f, struct item *items, int n, char *err, size_t errlen)
{
	if (rmtree(f->incoming) < 0 || mkdir(f->incoming, 0700) < 0) {
		seterr(err, errlen, "cannot create %s: %s", f->incoming, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct item *it = &items[i];
		char *live = join_path(f->dir, it->name), *path = join_path(f->incoming, it->name);
		struct stat st;
		mode_t mode = 0600;
		int rc = 0;

		if (!live || !path) {
			free(live);
			free(path);
			seterr(err, errlen, "out of memory");
			return -1;
		}
		if (stat(live, &st) == 0)
			mode = st.st_mode & 0777;
		if (it->state == ITEM_DATA) {
			rc = write_new(path, it->data, it->len, mode);
			it->staged = rc == 0;
		} else if (it->state == ITEM_ABSENT && access(live, F_OK) == 0) {
			/* the source has no local_config.json: the installed one stays, validate with it */
			rc = copy_atomic(live, f->incoming, it->name);
		}
		if (rc < 0)
			seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
		free(live);
		free(path);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int install(struct fetch *f, struct item *items, int n, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(f->old, 0700) < 0 && errno != EEXIST) {
		seterr(err, errlen, "cannot create %s: %s", f->old, strerror(errno));
		return -1;
	}
	/* the previous set, whole, into config.old/ (the live files are not touched) */
	for (int i = 0; i < n; i++) {
		char *live = join_path(f->dir, items[i].name);

		if (!live) {
			seterr(err, errlen, "out of memory");
			return -1;
		}
		if (stat(live, &st) == 0 && S_ISREG(st.st_mode) &&
		    copy_atomic(live, f->old, items[i].name) < 0) {
			seterr(err, errlen, "cannot keep %s in %s: %s", items[i].name, f->old,
			       strerror(errno));
			free(live);
			return -1;
		}
		free(live);
	}
	if (fsync_dir(f->old) < 0) {
		seterr(err, errlen, "fsync %s: %s", f->old, strerror(errno));
		return -1;
	}
	for (size_t k = 0; k < sizeof(install_order) / sizeof(install_order[0]); k++) {
		int i = install_order[k];
		char *from, *to;
		int rc;

		if (i >= n || !items[i].staged)
			continue;
		from = join_path(f->incoming, items[i].name);
		to = join_path(f->dir, items[i].name);
		rc = from && to ? rename(from, to) : (errno = ENOMEM, -1);
		if (rc < 0)
			seterr(err, errlen, "cannot install %s: %s", to ? to : items[i].name,
			       strerror(errno));
		free(from);
		free(to);
		if (rc < 0)
			return -1;
		items[i].staged = false;
	}
	if (fsync_dir(f->dir) < 0) {
		seterr(err, errlen, "fsync %s: %s", f->dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Every file obtained equals the live one (absent optional files count as equal). */
static bool all_unchanged(struct fetch *f, struct item *items, int n)
{
	for (int i = 0; i < n; i++) {
		char *path, *data = NULL;
		size_t len;
		bool same;

		if (items[i].state == ITEM_ABSENT)
			continue;
		path = join_path(f->dir, items[i].name);
		same = path && read_small(path, FETCH_MAX_FILE, &data, &len) == 0 &&
		       len == items[i].len && memcmp(data, items[i].data, len) == 0;
		free(path);
		free(data);
		if (!same)
			return false;
	}
	return true;
}

static char *dup_nonempty(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* After UPDATED or UNCHANGED: remember what DIR now holds and where it came from. */
static void memo_update(struct fetch *f, struct item *items, int n)
{
	for (int i = 0; i < n; i++) {
		struct memo_file *m = &f->memo[i];
		struct item *it = &items[i];

		memo_clear(m);
		if (it->state != ITEM_DATA)
			continue;
		m->installed = true;
		m->hash = fnv1a(it->data, it->len);
		m->size = it->len;
		m->url = it->url ? strdup(it->url) : NULL;
		m->etag = dup_nonempty(it->etag);
		m->lastmod = dup_nonempty(it->lastmod);
	}
}

/* Remove temp files a killed run may have left (DIR/.incoming, config.old/.NAME.tmp). */
static void clean_leftovers(struct fetch *f, const char *const *names, int n)
{
	rmtree(f->incoming);
	for (int i = 0; i < n; i++) {
		char *tmp;

		if (asprintf(&tmp, "%s/.%s.tmp", f->old, names[i]) >= 0) {
			unlink(tmp);
			free(tmp);
		}
	}
}

/* ---------------------------------------------------------------- run */

enum fetch_result fetch_run(struct fetch *f, const struct config_source *src, int generation,
			    const char *probe_name, char *err, size_t errlen)
{
	const char *const *names = generation == 2 ? gen2_files : gen1_files;
	int n = generation == 2 ? 3 : 2;
	struct item items[MAX_FILES] = { 0 };
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	char *url = NULL, *path = NULL, *key = NULL, *red = NULL, *url_user = NULL,
	     *url_pass = NULL;
	char what[512] = "", xerr[256];
	enum fetch_result res = FETCH_FAILED;
	bool git;
	git_oid oid;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!f || !src || !src->method || !*src->method || !src->url || !*src->url)
		return FETCH_NONE;
	if (generation != 1 && generation != 2) {
		seterr(err, errlen, "fetch: unknown configuration generation %d", generation);
		return FETCH_FAILED;
	}
	if (strcasecmp(src->method, "web") == 0) {
		git = false;
	} else if (strcasecmp(src->method, "git") == 0) {
		git = true;
	} else {
		seterr(err, errlen, "ConfigSource.ConfigMethod: '%s' is not web or git", src->method);
		return FETCH_FAILED;
	}
	if (f->memo_gen != generation) {
		for (int i = 0; i < MAX_FILES; i++)
			memo_clear(&f->memo[i]);
		free(f->git_key);
		f->git_key = NULL;
		f->memo_gen = generation;
	}
	for (int i = 0; i < n; i++) {
		items[i].name = names[i];
		items[i].optional = i == 2;
	}

	url = fetch_expand(src->url, probe_name, true, xerr, sizeof(xerr));
	if (!url) {
		seterr(err, errlen, "ConfigSource.ConfigURL: %s", xerr);
		goto out;
	}
	red = fetch_url_redact(url);
	if (!red || fetch_url_userinfo(url, &url_user, &url_pass) < 0) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	if (src->path && *src->path) {
		char *raw = fetch_expand(src->path, probe_name, false, xerr, sizeof(xerr));

		if (!raw) {
			seterr(err, errlen, "ConfigSource.ConfigPath: %s", xerr);
			goto out;
		}
		path = norm_path(raw);
		free(raw);
	} else {
		path = strdup("");
	}
	if (!path) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	if (src->insecure && (!f->warned_url || strcmp(f->warned_url, url) != 0)) {
		log_warn("config source %s: ConfigInsecure is set: the server's TLS certificate "
			 "is not verified", red);
		free(f->warned_url);
		f->warned_url = strdup(url);
	}
	clean_leftovers(f, names, n);
	if (lib_up(f, git, err, errlen) < 0)
		goto out;

	if (git) {
		int64_t now = mono_ms();

		tl.on = true;
		tl.timeout[0] = '\0';
		tl.connect_ms = f->connect_ms;
		tl.idle_ms = f->timeout_ms;
		tl.deadline = now + (int64_t)f->timeout_ms * FETCH_GIT_DEADLINE_FACTOR;
		rc = git_run(f, src, url, path, items, n, &key, &oid, what, sizeof(what), err,
			     errlen);
		tl.on = false;
		if (rc == 1) {
			res = FETCH_UNCHANGED;
			goto out;
		}
	} else {
		snprintf(what, sizeof(what), "%s", red);
		rc = web_run(f, src, url, items, n, err, errlen);
	}
	if (rc < 0)
		goto out;

	if (all_unchanged(f, items, n)) {
		memo_update(f, items, n);
		res = FETCH_UNCHANGED;
		goto remember_git;
	}
	if (stage(f, items, n, err, errlen) < 0)
		goto out;
	if (config_load(f->incoming, &cfg, &errs) < 0) {
		seterr(err, errlen, "%s: %s (%zu problem%s)", what,
		       errs.n ? errs.lines[0] : "invalid configuration", errs.n ? errs.n : 1,
		       errs.n == 1 ? "" : "s");
		goto out;
	}
	config_free(cfg);
	if (install(f, items, n, err, errlen) < 0)
		goto out;
	memo_update(f, items, n);
	res = FETCH_UPDATED;
	log_debug("fetch: installed a new configuration from %s", what);
remember_git:
	/* the memo now describes this source's files: a git shortcut needs this key */
	free(f->git_key);
	f->git_key = NULL;
	if (git && key) {
		f->git_key = key;
		key = NULL;
		dl_git.oid_cpy(&f->git_commit, &oid);
	}
out:
	if (res == FETCH_FAILED && err && errlen) {
		if (!err[0])
			seterr(err, errlen, "%s: failed", what[0] ? what : "config download");
		one_line(err);
		scrub(err, errlen, url_pass);
		scrub(err, errlen, src->password);
	}
	rmtree(f->incoming);
	config_errors_clear(&errs);
	for (int i = 0; i < n; i++)
		item_clear(&items[i]);
	free(url);
	free(path);
	free(key);
	free(red);
	free(url_user);
	free(url_pass);
	return res;
}
