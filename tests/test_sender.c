/*
 * Tests for sender.c against a real local HTTP sink: a small HTTP/1.1
 * server written here (one thread, a listening socket on 127.0.0.1 port 0,
 * keep-alive, Content-Length bodies) that records every request's headers
 * and body and can be told to answer 4xx/5xx, to hang, or to be down (its
 * listener and connections closed, so connections are refused).
 *
 * Every record carries a unique to_host "t<N>", so a test counts what each
 * destination received and checks "every record exactly once" and order.
 *
 * tests/tsan_sender.c reuses the sink and the helpers (everything above the
 * SINK_ONLY guard) without Criterion, which cannot start under
 * ThreadSanitizer on this machine.
 */
#ifndef SINK_ONLY
#include <criterion/criterion.h>
#endif

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "ntptime.h"
#include "record.h"
#include "sender.h"
#include "url.h"
#include "fetch.h"

/* Shared with tsan_sender.c, which does not use all of them. */
#define SHARED __attribute__((unused))

/* ---- the sink --------------------------------------------------------------- */

#define SINK_MAX_CONNS 32
#define SINK_SCRIPT_MAX 64

struct sink_req {
	char *head;        /* request line and headers */
	char *body;
	size_t body_len;
	int status;        /* what the sink answered (0: nothing, hung) */
};

/* How a truncating sink answers (then it closes the connection). */
enum { TRUNC_NONE, TRUNC_BODY, TRUNC_RESET, TRUNC_204 };

struct sink_conn {
	int fd;
	char *buf;
	size_t len, cap;
	bool continued;    /* 100 Continue sent for the request in buf */
};

struct sink {
	pthread_t thr;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wake[2];
	uint16_t port;

	/* control, under lock */
	bool want_down, is_down, quit;
	bool hang;
	int script[SINK_SCRIPT_MAX];   /* statuses for the next requests, then 204 */
	int nscript, script_pos;
	int retry_after;               /* sent with 429 when >= 0 */
	const char *retry_after_raw;   /* sent verbatim with 429 instead, when set */
	int truncate;                  /* answer 2xx cut short (TRUNC_*), then close */

	/* what arrived, under lock */
	struct sink_req *reqs;
	size_t nreqs, cap;

	/* sink thread only */
	int lfd;
	struct sink_conn conns[SINK_MAX_CONNS];
	int nconns;
};

static SHARED int sink_listen(uint16_t port, uint16_t *bound)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t al = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		close(fd);
		return -1;
	}
	if (bound)
		*bound = ntohs(a.sin_port);
	return fd;
}

static SHARED void sink_close_conn(struct sink *k, int i)
{
	close(k->conns[i].fd);
	free(k->conns[i].buf);
	k->conns[i] = k->conns[--k->nconns];
}

static SHARED void sink_close_all(struct sink *k)
{
	while (k->nconns)
		sink_close_conn(k, 0);
	if (k->lfd >= 0)
		close(k->lfd);
	k->lfd = -1;
}

static SHARED void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Handle every complete request in c's buffer.  -1: close the connection. */
static SHARED int sink_serve(struct sink *k, struct sink_conn *c)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *p;
		size_t head_len, cl = 0, total;
		struct sink_req rq = { 0 };
		char resp[512];
		const char *ra_raw;
		int status, n, trunc;
		bool hang;

		if (!end)
			return 0;
		head_len = (size_t)(end - c->buf) + 4;
		/* Content-Length, case-insensitive, at a line start */
		for (p = c->buf; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
			if (*p == '\n')
				p++;
			if (strncasecmp(p, "Content-Length:", 15) == 0)
				cl = strtoul(p + 15, NULL, 10);
			if (strncasecmp(p, "Transfer-Encoding:", 18) == 0)
				return -1;   /* not used by the sender; unsupported here */
		}
		total = head_len + cl;
		if (c->len < total) {
			if (!c->continued && memmem(c->buf, head_len, "100-continue", 12)) {
				send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
				c->continued = true;
			}
			return 0;
		}
		rq.head = strndup(c->buf, head_len);
		rq.body = malloc(cl + 1);
		memcpy(rq.body, c->buf + head_len, cl);
		rq.body[cl] = '\0';
		rq.body_len = cl;
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
		c->continued = false;

		pthread_mutex_lock(&k->lock);
		hang = k->hang;
		status = k->script_pos < k->nscript ? k->script[k->script_pos++] : 204;
		rq.status = hang ? 0 : status;
		if (k->nreqs == k->cap) {
			k->cap = k->cap ? k->cap * 2 : 64;
			k->reqs = realloc(k->reqs, k->cap * sizeof(*k->reqs));
		}
		k->reqs[k->nreqs++] = rq;
		n = k->retry_after;
		ra_raw = k->retry_after_raw;
		trunc = k->truncate;
		pthread_cond_broadcast(&k->cond);
		pthread_mutex_unlock(&k->lock);
		if (hang)
			continue;
		if (trunc != TRUNC_NONE) {
			static const char *const cut[] = {
				[TRUNC_BODY] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
					       "Content-Length: 1000\r\n\r\npartial",
				[TRUNC_RESET] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial",
				[TRUNC_204] = "HTTP/1.1 204 No Content\r\nContent-Length: 1000\r\n\r\n",
			};

			send_all(c->fd, cut[trunc], strlen(cut[trunc]));
			if (trunc == TRUNC_RESET) {
				struct linger lg = { .l_onoff = 1, .l_linger = 0 };
				struct timespec ts = { 0, 100 * 1000000L };

				/* let the head arrive first, then close with a RST (ECONNRESET) */
				nanosleep(&ts, NULL);
				setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			}
			return -1;
		}
		if (status == 204) {
			send_all(c->fd, "HTTP/1.1 204 No Content\r\n\r\n", 27);
		} else {
			char body[64], ra[64] = "";
			int bl = snprintf(body, sizeof(body), "sink says %d\n", status);

			if (status == 429 && ra_raw)
				snprintf(ra, sizeof(ra), "Retry-After: %s\r\n", ra_raw);
			else if (status == 429 && n >= 0)
				snprintf(ra, sizeof(ra), "Retry-After: %d\r\n", n);
			n = snprintf(resp, sizeof(resp),
				     "HTTP/1.1 %d Test\r\nContent-Type: text/plain\r\n%sContent-Length: %d\r\n\r\n%s",
				     status, ra, bl, body);
			send_all(c->fd, resp, (size_t)n);
		}
	}
}

static SHARED void *sink_main(void *arg)
{
	struct sink *k = arg;

	for (;;) {
		struct pollfd pfd[SINK_MAX_CONNS + 2];
		int n = 0, i, base;

		pfd[n++] = (struct pollfd){ .fd = k->wake[0], .events = POLLIN };
		if (k->lfd >= 0)
			pfd[n++] = (struct pollfd){ .fd = k->lfd, .events = POLLIN };
		base = n;
		for (i = 0; i < k->nconns; i++)
			pfd[n++] = (struct pollfd){ .fd = k->conns[i].fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR)
			break;

		if (pfd[0].revents) {
			char b[64];
			bool quit;

			if (read(k->wake[0], b, sizeof(b)) < 0)
				break;
			pthread_mutex_lock(&k->lock);
			if (k->want_down && !k->is_down) {
				sink_close_all(k);
				k->is_down = true;
			} else if (!k->want_down && k->is_down) {
				k->lfd = sink_listen(k->port, NULL);
				k->is_down = k->lfd < 0;
			}
			quit = k->quit;
			pthread_cond_broadcast(&k->cond);
			pthread_mutex_unlock(&k->lock);
			if (quit)
				break;
			continue;   /* the descriptor set changed */
		}
		if (k->lfd >= 0 && pfd[1].revents) {
			int fd = accept4(k->lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0 && k->nconns < SINK_MAX_CONNS)
				k->conns[k->nconns++] = (struct sink_conn){ .fd = fd };
			else if (fd >= 0)
				close(fd);
		}
		for (i = n - 1; i >= base; i--) {
			struct sink_conn *c = &k->conns[i - base];
			ssize_t r;

			if (!pfd[i].revents)
				continue;
			if (c->cap - c->len < 65536) {
				c->cap = c->cap ? c->cap * 2 : 131072;
				c->buf = realloc(c->buf, c->cap);
			}
			r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
			if (r <= 0) {
				sink_close_conn(k, i - base);
				continue;
			}
			c->len += (size_t)r;
			if (sink_serve(k, c) < 0)
				sink_close_conn(k, i - base);
		}
	}
	sink_close_all(k);
	return NULL;
}

static SHARED int sink_start(struct sink *k)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	k->retry_after = -1;
	if (pipe2(k->wake, O_CLOEXEC) < 0)
		return -1;
	k->lfd = sink_listen(0, &k->port);
	if (k->lfd < 0)
		return -1;
	return pthread_create(&k->thr, NULL, sink_main, k) ? -1 : 0;
}

static SHARED void sink_poke(struct sink *k)
{
	if (write(k->wake[1], "x", 1) != 1)
		abort();
}

/* Down: listener and connections closed (connection refused).  Returns when done. */
static SHARED void sink_set_down(struct sink *k, bool down)
{
	pthread_mutex_lock(&k->lock);
	k->want_down = down;
	sink_poke(k);
	while (k->is_down != down)
		pthread_cond_wait(&k->cond, &k->lock);
	pthread_mutex_unlock(&k->lock);
}

static SHARED void sink_script(struct sink *k, const int *statuses, int n, int retry_after)
{
	pthread_mutex_lock(&k->lock);
	memcpy(k->script, statuses, (size_t)n * sizeof(int));
	k->nscript = n;
	k->script_pos = 0;
	k->retry_after = retry_after;
	pthread_mutex_unlock(&k->lock);
}

static SHARED void sink_set_hang(struct sink *k, bool hang)
{
	pthread_mutex_lock(&k->lock);
	k->hang = hang;
	pthread_mutex_unlock(&k->lock);
}

static SHARED size_t sink_nreqs(struct sink *k)
{
	size_t n;

	pthread_mutex_lock(&k->lock);
	n = k->nreqs;
	pthread_mutex_unlock(&k->lock);
	return n;
}

static SHARED void sink_stop(struct sink *k)
{
	size_t i;

	pthread_mutex_lock(&k->lock);
	k->quit = true;
	pthread_mutex_unlock(&k->lock);
	sink_poke(k);
	pthread_join(k->thr, NULL);
	for (i = 0; i < k->nreqs; i++) {
		free(k->reqs[i].head);
		free(k->reqs[i].body);
	}
	free(k->reqs);
	close(k->wake[0]);
	close(k->wake[1]);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->cond);
}

/* ---- records and what the sink got ------------------------------------------------ */

#define MAXREC 4096

static SHARED struct record *make_rec(int i)
{
	struct record *r = record_new(RECORD_TARGET);
	char host[32];

	if (!r)
		abort();
	snprintf(host, sizeof(host), "t%d", i);
	r->timestamp = ntptime_now();
	record_set(&r->from_host, "probe-test");
	record_set(&r->to_host, host);
	r->mode = "control";
	r->dscp = i % 64;
	record_set(&r->custom_comment, i % 2 ? "odd \"one\"" : NULL);
	r->sum.ttl_fwd_min = r->sum.ttl_fwd_max = -1;
	r->sum.ttl_bck_min = r->sum.ttl_bck_max = -1;
	r->sum.maxerr = r->sum.maxerr_fwd = r->sum.maxerr_bck = -1;
	if (i % 7 == 6) {
		r->reachable = false;
		record_set(&r->error, "timeout");
		return r;
	}
	r->reachable = true;
	record_set(&r->from_addr, "127.0.0.1");
	record_set(&r->to_addr, "127.0.0.2");
	r->sum.sent = 100;
	r->sum.lost = (uint32_t)(i % 3);
	r->sum.rtt.valid = r->sum.fwd.valid = r->sum.bck.valid = true;
	r->sum.rtt.min = 100000 + i;
	r->sum.rtt.median = 200000;
	r->sum.rtt.max = 900000;
	r->sum.fwd.min = r->sum.bck.min = 50000;
	r->sum.ttl_fwd_min = 250;
	r->sum.ttl_fwd_max = 255;
	r->sum.ttl_bck_min = r->sum.ttl_bck_max = 64;
	r->sum.maxerr = 0.0001;
	r->sum.maxerr_fwd = r->sum.maxerr_bck = 0.00005;
	r->timestamp_source = "user";
	return r;
}

/* What a sink received: per record index, how often; and the arrival order. */
struct tally {
	int count[MAXREC];
	int order[MAXREC * 2];
	int norder;
	int bad;            /* bodies that did not parse */
	size_t requests;
};

static SHARED int host_index(const char *h)
{
	char *end;
	long v;

	if (!h || h[0] != 't')
		return -1;
	v = strtol(h + 1, &end, 10);
	return (*end || v < 0 || v >= MAXREC) ? -1 : (int)v;
}

static SHARED void tally_index(struct tally *t, int i)
{
	if (i < 0) {
		t->bad++;
		return;
	}
	t->count[i]++;
	if (t->norder < MAXREC * 2)
		t->order[t->norder++] = i;
}

static SHARED void tally_body(struct tally *t, const char *body)
{
	if (body[0] == '[') {
		json_object *a = json_tokener_parse(body), *o, *h;
		size_t i;

		if (!a || json_object_get_type(a) != json_type_array) {
			t->bad++;
			json_object_put(a);
			return;
		}
		for (i = 0; i < json_object_array_length(a); i++) {
			o = json_object_array_get_idx(a, i);
			tally_index(t, json_object_object_get_ex(o, "to_host", &h) ?
					       host_index(json_object_get_string(h)) : -1);
		}
		json_object_put(a);
	} else {
		const char *p = body;

		while (*p) {
			const char *nl = strchr(p, '\n'), *h = strstr(p, ",to_host=t");

			if (!nl) {
				t->bad++;
				break;
			}
			tally_index(t, h && h < nl ? atoi(h + 10) : -1);
			p = nl + 1;
		}
	}
}

/* Tally the requests answered with a 2xx (only those count as delivered). */
static SHARED void tally_sink(struct sink *k, struct tally *t)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&k->lock);
	for (i = 0; i < k->nreqs; i++) {
		if (k->reqs[i].status < 200 || k->reqs[i].status > 299)
			continue;
		t->requests++;
		tally_body(t, k->reqs[i].body);
	}
	pthread_mutex_unlock(&k->lock);
}

/* Every record 0..n-1 exactly once, nothing else: 0, or the first problem printed into why. */
static SHARED int tally_exact(const struct tally *t, int n, char *why, size_t len)
{
	int i;

	if (t->bad) {
		snprintf(why, len, "%d unparsable records", t->bad);
		return -1;
	}
	for (i = 0; i < MAXREC; i++) {
		int want = i < n ? 1 : 0;

		if (t->count[i] != want) {
			snprintf(why, len, "record t%d received %d times, expected %d", i, t->count[i],
				 want);
			return -1;
		}
	}
	return 0;
}

static SHARED int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static SHARED void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait until the sink has delivered records 0..n-1 at least once each. */
static SHARED bool wait_all(struct sink *k, int n, int timeout_ms)
{
	static struct tally t;
	int64_t end = ms_now() + timeout_ms;
	int i;

	do {
		tally_sink(k, &t);
		for (i = 0; i < n && t.count[i]; i++)
			;
		if (i == n)
			return true;
		sleep_ms(5);
	} while (ms_now() < end);
	return false;
}

static SHARED struct config_destination dest_for(struct sink *k, const char *path, const char *password)
{
	static char urls[8][128];
	static int next;
	char *url = urls[next++ % 8];

	snprintf(url, 128, "http://127.0.0.1:%u%s", k->port, path);
	return (struct config_destination){
		.url = url,
		.password = (char *)password,
		.format = CONFIG_FMT_JSON,
		.batch_size = 10,
		.flush_interval = 50 * NS_PER_MS,
	};
}

static SHARED int count_spool_files(const char *spool_root, const char *suffix)
{
	char cmd[512];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "find '%s' -name '*%s' | wc -l", spool_root, suffix);
	p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

#ifndef SINK_ONLY

/* ---- the tests ------------------------------------------------------------------------- */

static struct sink sk, sk2;
static char tmpdir[64], spooldir[128];
static struct tally tl;
static char why[256];

static void rm_rf(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sender.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(spooldir, sizeof(spooldir), "%s/spool", tmpdir);
	setenv("TWAMP_SENDER_BACKOFF_MS", "10", 1);
	log_set_level(LOGL_ERR);
	cr_assert_eq(sink_start(&sk), 0);
	cr_assert_eq(sink_start(&sk2), 0);
}

static void teardown(void)
{
	sink_stop(&sk);
	sink_stop(&sk2);
	rm_rf(tmpdir);
}

static struct sender *start(const struct config_destination *d, size_t n)
{
	struct sender *s = sender_start(d, n, spooldir, 64 << 20, stdout);

	cr_assert_not_null(s);
	return s;
}

static void submit_range(struct sender *s, int from, int to)
{
	int i;

	for (i = from; i < to; i++)
		sender_submit(s, make_rec(i));
}

static uint64_t stop_now(struct sender *s, int ms)
{
	return sender_stop(s, ntptime_now() + (int64_t)ms * NS_PER_MS);
}

/* Read the statistics into st until cond holds or ms pass (the sender counts after the sink answered). */
#define WAIT_STATS(s, st, cond, ms)                                       \
	do {                                                              \
		int64_t end_ = ms_now() + (ms);                           \
		for (;;) {                                                \
			sender_get_stats((s), &(st));                     \
			if ((cond) || ms_now() > end_)                    \
				break;                                    \
			sleep_ms(5);                                      \
		}                                                         \
	} while (0)

static void expect_exact(struct sink *k, int n)
{
	tally_sink(k, &tl);
	cr_assert_eq(tally_exact(&tl, n, why, sizeof(why)), 0, "%s", why);
}

TestSuite(sender, .init = setup, .fini = teardown, .timeout = 30);

static const char *const seed_keys[] = {
	"measurement_name", "from_host", "from_addr", "to_host", "to_addr", "dscp_dec",
	"sent_pkt", "lost_pkt", "duplicates_fwd_pkt", "duplicates_bck_pkt",
	"min_rtt_seconds", "median_rtt_seconds", "max_rtt_seconds",
	"min_latency_fwd_seconds", "median_latency_fwd_seconds", "max_latency_fwd_seconds",
	"min_latency_bck_seconds", "median_latency_bck_seconds", "max_latency_bck_seconds",
	"jitter_rt_seconds", "jitter_fwd_seconds", "jitter_bck_seconds",
	"measurement_error_rtt_seconds", "measurement_error_fwd_seconds",
	"measurement_error_bck_seconds",
	"min_hops_fwd", "max_hops_fwd", "min_hops_bck", "max_hops_bck",
	"reachable_bool", "custom_comment", "custom_id", "geo_lon", "geo_lat",
};

Test(sender, delivers_json_arrays_with_the_original_headers)
{
	struct config_destination d = dest_for(&sk, "/telegraf", "dGVzdDpzZWNyZXQ=");
	struct sender *s = start(&d, 1);
	struct sender_stats st;
	size_t i, k;

	submit_range(s, 0, 25);
	cr_assert(wait_all(&sk, 25, 5000), "not everything arrived");
	cr_assert_eq(stop_now(s, 2000), 0);
	expect_exact(&sk, 25);

	pthread_mutex_lock(&sk.lock);
	cr_assert_geq(sk.nreqs, 3, "batches of 10: at least 3 requests");
	for (i = 0; i < sk.nreqs; i++) {
		struct sink_req *rq = &sk.reqs[i];
		json_object *a = json_tokener_parse(rq->body);

		cr_assert(strncmp(rq->head, "POST /telegraf HTTP/1.1\r\n", 25) == 0, "%s", rq->head);
		cr_assert_not_null(strstr(rq->head, "\r\nAuthorization: Basic dGVzdDpzZWNyZXQ=\r\n"),
				   "Basic header not verbatim: %s", rq->head);
		cr_assert_not_null(strstr(rq->head, "\r\nContent-Type: application/json\r\n"), "%s",
				   rq->head);
		cr_assert_null(strstr(rq->head, "Expect:"), "%s", rq->head);
		cr_assert_not_null(a);
		cr_assert_eq(json_object_get_type(a), json_type_array);
		cr_assert_leq(json_object_array_length(a), 10);
		for (k = 0; k < json_object_array_length(a); k++) {
			json_object *o = json_object_array_get_idx(a, k), *rb;
			int idx;

			cr_assert(json_object_object_get_ex(o, "to_host", &rb));
			idx = host_index(json_object_get_string(rb));
			cr_assert(json_object_object_get_ex(o, "reachable_bool", &rb));
			if (json_object_get_int(rb)) {
				for (size_t j = 0; j < sizeof(seed_keys) / sizeof(seed_keys[0]); j++)
					cr_assert(json_object_object_get_ex(o, seed_keys[j], NULL),
						  "t%d lacks %s", idx, seed_keys[j]);
			} else {
				cr_assert_eq(idx % 7, 6);
			}
		}
		json_object_put(a);
	}
	pthread_mutex_unlock(&sk.lock);
	(void)st;
}

Test(sender, stats_account_for_every_record)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s = start(&d, 1);
	struct sender_stats st;
	int64_t end = ms_now() + 5000;

	submit_range(s, 0, 30);
	do {
		sender_get_stats(s, &st);
		if (st.delivered == 30)
			break;
		sleep_ms(5);
	} while (ms_now() < end);
	cr_assert_eq(st.submitted, 30);
	cr_assert_eq(st.delivered, 30);
	cr_assert_eq(st.queued, 0);
	cr_assert_eq(st.spool_bytes, 0);
	cr_assert_eq(st.dropped, 0);
	cr_assert_eq(st.failures, 0);
	cr_assert_eq(stop_now(s, 1000), 0);
	pthread_mutex_lock(&sk.lock);
	cr_assert_null(strstr(sk.reqs[0].head, "Authorization"), "%s", sk.reqs[0].head);
	pthread_mutex_unlock(&sk.lock);
}

Test(sender, user_password_and_token_headers)
{
	struct config_destination d[2] = { dest_for(&sk, "/u", "pw"), dest_for(&sk2, "/t", "ignored") };
	struct sender *s;

	d[0].user = "probe";
	d[1].token = "tok-123";
	s = start(d, 2);
	submit_range(s, 0, 3);
	cr_assert(wait_all(&sk, 3, 5000));
	cr_assert(wait_all(&sk2, 3, 5000));
	cr_assert_eq(stop_now(s, 1000), 0);
	/* base64("probe:pw") */
	cr_assert_not_null(strstr(sk.reqs[0].head, "\r\nAuthorization: Basic cHJvYmU6cHc=\r\n"), "%s",
			   sk.reqs[0].head);
	cr_assert_not_null(strstr(sk2.reqs[0].head, "\r\nAuthorization: Token tok-123\r\n"), "%s",
			   sk2.reqs[0].head);
	cr_assert_null(strstr(sk2.reqs[0].head, "Basic"), "%s", sk2.reqs[0].head);
}

Test(sender, influx_format)
{
	struct config_destination d = dest_for(&sk, "/write?db=x", NULL);
	struct sender *s;

	d.format = CONFIG_FMT_INFLUX;
	d.batch_size = 7;
	s = start(&d, 1);
	submit_range(s, 0, 20);
	cr_assert(wait_all(&sk, 20, 5000));
	cr_assert_eq(stop_now(s, 1000), 0);
	expect_exact(&sk, 20);
	cr_assert_not_null(strstr(sk.reqs[0].head, "\r\nContent-Type: text/plain; charset=utf-8\r\n"),
			   "%s", sk.reqs[0].head);
	cr_assert_eq(strncmp(sk.reqs[0].body, "twamp,", 6), 0, "%s", sk.reqs[0].body);
}

Test(sender, server_errors_are_retried_until_delivered_exactly_once)
{
	static const int script[] = { 500, 503, 429, 500, 502, 429 };
	struct config_destination d = dest_for(&sk, "/", "x");
	struct sender *s;
	struct sender_stats st;

	sink_script(&sk, script, 6, 0);
	s = start(&d, 1);
	for (int i = 0; i < 100; i += 10) {
		submit_range(s, i, i + 10);
		sleep_ms(15);
	}
	cr_assert(wait_all(&sk, 100, 10000), "not everything arrived");
	WAIT_STATS(s, st, st.delivered == 100, 2000);
	cr_assert_eq(st.failures, 6);
	cr_assert_eq(stop_now(s, 1000), 0);
	expect_exact(&sk, 100);
	cr_assert_eq(st.delivered, 100);
	for (int i = 0; i < tl.norder; i++)
		cr_assert_eq(tl.order[i], i, "arrival %d was t%d: out of order", i, tl.order[i]);
	cr_assert_eq(count_spool_files(spooldir, ".batch"), 0, "spool not emptied");
	/* every failed attempt was answered: 6 errors plus the successful ones */
	cr_assert_eq(sk.nreqs, 6 + tl.requests);
}

Test(sender, sink_down_spools_then_replays_in_order)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	struct sender_stats st;
	int i;

	sink_set_down(&sk, true);
	s = start(&d, 1);
	for (i = 0; i < 60; i += 10) {
		submit_range(s, i, i + 10);
		sleep_ms(20);
	}
	WAIT_STATS(s, st, st.spool_bytes > 0, 2000);
	cr_assert_gt(st.spool_bytes, 0, "nothing spooled while the sink is down");
	cr_assert_gt(st.failures, 0);
	cr_assert_gt(count_spool_files(spooldir, ".batch"), 0);
	sink_set_down(&sk, false);
	submit_range(s, 60, 70);   /* newer data: after the spool */
	cr_assert(wait_all(&sk, 70, 8000), "not replayed");
	cr_assert_eq(stop_now(s, 1000), 0);
	expect_exact(&sk, 70);
	for (i = 0; i < tl.norder; i++)
		cr_assert_eq(tl.order[i], i, "arrival %d was t%d: out of order", i, tl.order[i]);
	cr_assert_eq(count_spool_files(spooldir, ".batch"), 0);
}

Test(sender, bad_request_moves_the_batch_to_the_reject_folder)
{
	static const int script[] = { 400 };
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	struct sender_stats st;
	char cmd[512];
	FILE *p;
	char buf[8192] = "";
	size_t n;

	d.batch_size = 5;
	sink_script(&sk, script, 1, -1);
	s = start(&d, 1);
	submit_range(s, 0, 5);
	while (sink_nreqs(&sk) < 1)
		sleep_ms(5);
	submit_range(s, 5, 10);
	for (int64_t end = ms_now() + 5000; ms_now() < end; sleep_ms(5)) {
		tally_sink(&sk, &tl);
		if (tl.count[9])
			break;
	}
	WAIT_STATS(s, st, st.delivered == 5, 2000);
	cr_assert_eq(stop_now(s, 1000), 0);
	cr_assert_eq(st.rejected, 5);
	cr_assert_eq(st.delivered, 5);
	tally_sink(&sk, &tl);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(tl.count[i], i < 5 ? 0 : 1, "t%d", i);
	cr_assert_eq(count_spool_files(spooldir, ".batch"), 1);
	/* the rejected batch is kept verbatim: the five first records */
	snprintf(cmd, sizeof(cmd), "cat %s/*/reject/*.batch", spooldir);
	p = popen(cmd, "r");
	n = fread(buf, 1, sizeof(buf) - 1, p);
	pclose(p);
	buf[n] = '\0';
	memset(&tl, 0, sizeof(tl));
	tally_body(&tl, buf);
	cr_assert_eq(tally_exact(&tl, 5, why, sizeof(why)), 0, "%s: %s", why, buf);
}

Test(sender, a_down_destination_does_not_hold_back_another)
{
	struct config_destination d[2] = { dest_for(&sk, "/a", NULL), dest_for(&sk2, "/b", NULL) };
	struct sender *s;
	int64_t t0;

	sink_set_down(&sk2, true);
	s = start(d, 2);
	t0 = ms_now();
	submit_range(s, 0, 40);
	cr_assert(wait_all(&sk, 40, 3000), "the healthy destination waited");
	cr_assert_lt(ms_now() - t0, 1500);
	expect_exact(&sk, 40);
	sleep_ms(100);
	cr_assert_gt(count_spool_files(spooldir, ".batch"), 0, "the down one did not spool");
	sink_set_down(&sk2, false);
	cr_assert(wait_all(&sk2, 40, 8000), "the recovered destination did not catch up");
	cr_assert_eq(stop_now(s, 1000), 0);
	expect_exact(&sk, 40);
	expect_exact(&sk2, 40);
}

Test(sender, an_unreadable_spooled_batch_is_set_aside)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	struct sender_stats st;
	char cmd[512];

	/* slow retries, so that the batch can be replaced between two attempts */
	setenv("TWAMP_SENDER_BACKOFF_MS", "100", 1);
	sink_set_down(&sk, true);
	s = start(&d, 1);
	submit_range(s, 0, 10);
	WAIT_STATS(s, st, st.spool_bytes > 0, 2000);
	/* the spooled batch becomes a directory of the same name: open works, read fails */
	snprintf(cmd, sizeof(cmd),
		 "f=$(ls %s/*/*.batch) && rm \"$f\" && mkdir \"$f\"", spooldir);
	cr_assert_eq(system(cmd), 0);
	submit_range(s, 10, 20);
	sink_set_down(&sk, false);
	for (int64_t end = ms_now() + 5000; ms_now() < end; sleep_ms(5)) {
		tally_sink(&sk, &tl);
		if (tl.count[19])
			break;
	}
	cr_assert_eq(stop_now(s, 1000), 0);
	tally_sink(&sk, &tl);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(tl.count[i], i < 10 ? 0 : 1, "t%d", i);
	snprintf(cmd, sizeof(cmd), "test -d %s/*/reject/*.batch", spooldir);
	cr_assert_eq(system(cmd), 0, "not moved to the reject folder");
}

Test(sender, stop_drains_to_a_healthy_destination)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;

	d.flush_interval = 10 * NS_PER_SEC;   /* only the stop flushes */
	s = start(&d, 1);
	submit_range(s, 0, 35);
	cr_assert_eq(stop_now(s, 3000), 0);
	expect_exact(&sk, 35);
	cr_assert_eq(count_spool_files(spooldir, ".batch"), 0, "spooled instead of delivered");
}

Test(sender, stop_with_the_sink_down_spools_everything_and_a_restart_delivers_it)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	struct sender_stats st;
	int64_t t0;

	sink_set_down(&sk, true);
	s = start(&d, 1);
	submit_range(s, 0, 45);
	t0 = ms_now();
	sender_get_stats(s, &st);
	cr_assert_eq(st.submitted, 45);
	cr_assert_eq(stop_now(s, 3000), 0, "records lost");
	cr_assert_lt(ms_now() - t0, 1500, "stop waited for a dead destination");
	cr_assert_gt(count_spool_files(spooldir, ".batch"), 0);

	sink_set_down(&sk, false);
	s = start(&d, 1);
	cr_assert(wait_all(&sk, 45, 5000), "spool not replayed after the restart");
	cr_assert_eq(stop_now(s, 1000), 0);
	expect_exact(&sk, 45);
	cr_assert_eq(count_spool_files(spooldir, ".batch"), 0);
}

Test(sender, stop_deadline_aborts_a_hung_request_and_spools_it)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	int64_t t0;
	int i;

	sink_set_hang(&sk, true);
	s = start(&d, 1);
	submit_range(s, 0, 10);
	while (sink_nreqs(&sk) < 1)
		sleep_ms(5);
	submit_range(s, 10, 25);
	t0 = ms_now();
	cr_assert_eq(stop_now(s, 300), 0);
	cr_assert_lt(ms_now() - t0, 1000);
	cr_assert_geq(ms_now() - t0, 250);

	sink_set_hang(&sk, false);
	s = start(&d, 1);
	cr_assert(wait_all(&sk, 25, 5000));
	cr_assert_eq(stop_now(s, 1000), 0);
	tally_sink(&sk, &tl);
	for (i = 0; i < 25; i++)
		cr_assert_eq(tl.count[i], 1, "t%d", i);   /* the hung attempt was never answered */
}

Test(sender, no_destination_writes_json_lines)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct sender *s = sender_start(NULL, 0, spooldir, 0, f);
	char *line, *save = NULL;
	int n = 0;

	cr_assert_not_null(s);
	submit_range(s, 0, 12);
	cr_assert_eq(sender_stop(s, ntptime_now() + NS_PER_SEC), 0);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line), *h;

		cr_assert_not_null(o, "%s", line);
		cr_assert(json_object_object_get_ex(o, "to_host", &h));
		cr_assert_eq(host_index(json_object_get_string(h)), n);
		json_object_put(o);
		n++;
	}
	cr_assert_eq(n, 12);
	free(buf);
}

Test(sender, changing_destinations)
{
	struct config_destination a = dest_for(&sk, "/a", NULL), b = dest_for(&sk2, "/b", NULL);
	struct sender *s = start(&a, 1);

	submit_range(s, 0, 10);
	cr_assert(wait_all(&sk, 10, 5000));
	sender_set_destinations(s, &b, 1);
	sleep_ms(20);
	submit_range(s, 10, 20);
	for (int64_t end = ms_now() + 5000; ms_now() < end; sleep_ms(5)) {
		tally_sink(&sk2, &tl);
		if (tl.count[19])
			break;
	}
	/* back to a, with another batch size */
	a.batch_size = 3;
	sender_set_destinations(s, &a, 1);
	sleep_ms(20);
	submit_range(s, 20, 30);
	for (int64_t end = ms_now() + 5000; ms_now() < end; sleep_ms(5)) {
		tally_sink(&sk, &tl);
		if (tl.count[29])
			break;
	}
	cr_assert_eq(stop_now(s, 1000), 0);
	tally_sink(&sk, &tl);
	for (int i = 0; i < 30; i++)
		cr_assert_eq(tl.count[i], i < 10 || i >= 20 ? 1 : 0, "a: t%d", i);
	tally_sink(&sk2, &tl);
	for (int i = 0; i < 30; i++)
		cr_assert_eq(tl.count[i], i >= 10 && i < 20 ? 1 : 0, "b: t%d", i);
}

Test(sender, without_a_spool_undeliverable_records_are_counted_not_hidden)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	struct sender_stats st;

	/* a spool directory that cannot exist: delivery still works... */
	s = sender_start(&d, 1, "/dev/null/spool", 1 << 20, stdout);
	cr_assert_not_null(s);
	submit_range(s, 0, 10);
	cr_assert(wait_all(&sk, 10, 5000));
	cr_assert_eq(stop_now(s, 1000), 0);

	/* ...and what cannot be delivered nor spooled is reported by sender_stop */
	sink_set_down(&sk, true);
	s = sender_start(&d, 1, "/dev/null/spool", 1 << 20, stdout);
	cr_assert_not_null(s);
	submit_range(s, 10, 30);
	WAIT_STATS(s, st, st.failures > 0, 2000);
	sleep_ms(20);
	sender_get_stats(s, &st);
	cr_assert_eq(st.queued, 20, "kept in memory while the destination is down");
	cr_assert_eq(stop_now(s, 200), 20);
}

Test(sender, a_full_spool_drops_the_oldest_and_counts_them)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	struct sender_stats st;
	uint64_t lost;
	int i, got = 0, first = -1;

	sink_set_down(&sk, true);
	/*
	 * Every batch is spooled first and the oldest sent at once; the batch in
	 * flight is exempt from drop-oldest.  A long back-off after the first
	 * failure keeps anything from being in flight while the spool overflows.
	 */
	setenv("TWAMP_SENDER_BACKOFF_MS", "10000", 1);
	/* room for about three batches of ten records */
	s = sender_start(&d, 1, spooldir, 30000, stdout);
	cr_assert_not_null(s);
	for (i = 0; i < 100; i += 10) {
		submit_range(s, i, i + 10);
		sleep_ms(10);
	}
	lost = stop_now(s, 1000);
	cr_assert_gt(lost, 0, "nothing dropped");
	cr_assert_eq(lost % 10, 0, "whole batches are dropped");

	setenv("TWAMP_SENDER_BACKOFF_MS", "10", 1);
	sink_set_down(&sk, false);
	s = sender_start(&d, 1, spooldir, 30000, stdout);
	for (int64_t end = ms_now() + 5000; ms_now() < end; sleep_ms(5)) {
		sender_get_stats(s, &st);
		if (st.delivered + lost == 100)
			break;
	}
	cr_assert_eq(stop_now(s, 1000), 0);
	tally_sink(&sk, &tl);
	for (i = 0; i < 100; i++) {
		cr_assert_leq(tl.count[i], 1, "t%d twice", i);
		got += tl.count[i];
		if (tl.count[i] && first < 0)
			first = i;
		if (first >= 0)
			cr_assert_eq(tl.count[i], 1, "t%d missing among the newest", i);
	}
	cr_assert_eq((uint64_t)got + lost, 100, "delivered %d + dropped %llu", got,
		     (unsigned long long)lost);
	cr_assert_eq(first, (int)lost, "the oldest are the ones dropped");
}

struct submitter {
	struct sender *s;
	int from, to;
};

static void *submitter_main(void *arg)
{
	struct submitter *a = arg;
	int i;

	for (i = a->from; i < a->to; i++) {
		sender_submit(a->s, make_rec(i));
		if (i % 50 == 0)
			sleep_ms(1);
	}
	return NULL;
}

Test(sender, submit_from_many_threads)
{
	struct config_destination d[2] = { dest_for(&sk, "/", NULL), dest_for(&sk2, "/", NULL) };
	struct submitter args[4];
	pthread_t th[4];
	struct sender *s;
	struct sender_stats st;
	int i;

	d[0].batch_size = 50;
	d[1].format = CONFIG_FMT_INFLUX;
	s = start(d, 2);
	for (i = 0; i < 4; i++) {
		args[i] = (struct submitter){ s, i * 250, (i + 1) * 250 };
		cr_assert_eq(pthread_create(&th[i], NULL, submitter_main, &args[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	cr_assert(wait_all(&sk, 1000, 8000));
	cr_assert(wait_all(&sk2, 1000, 8000));
	WAIT_STATS(s, st, st.delivered == 2000, 2000);
	cr_assert_eq(st.submitted, 1000);
	cr_assert_eq(st.delivered, 2000, "summed over the two destinations");
	cr_assert_eq(stop_now(s, 1000), 0);
	expect_exact(&sk, 1000);
	expect_exact(&sk2, 1000);
}

/* ---- issue 13: redaction, 2xx cut short, Retry-After ------------------------------------------ */

/* stderr (where log_msg writes) into path until capture_end; returns the saved descriptor. */
static int capture_start(const char *path)
{
	int saved, fd;

	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(saved >= 0 && fd >= 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(dup2(fd, 2), 2);
	close(fd);
	return saved;
}

/* Restore stderr; what was logged, malloc'ed. */
static char *capture_end(int saved, const char *path)
{
	FILE *f;
	char *text;
	long n;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	cr_assert_not_null(text);
	cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

Test(sender, url_redact_hides_userinfo_passwords_and_secret_query_values)
{
	static const char *const cases[][2] = {
		{ "http://h:8086/write?db=x&u=user&p=SECRET", "http://h:8086/write?db=x&u=user&p=***" },
		{ "https://u:pw@h/x", "https://u:***@h/x" },
		{ "https://ghp_token@h/x", "https://***@h/x" },
		{ "https://u:p@ss@h:8443/r.git", "https://u:***@h:8443/r.git" },
		{ "http://u:pw@h/w?P=a&Password=b", "http://u:***@h/w?P=***&Password=***" },
		{ "http://h/api?Token=abc&db=x#frag", "http://h/api?Token=***&db=x#frag" },
		{ "http://h/?access_token=a;api_key=b&apikey=c&X-Api-Key=d&client_secret=e&sig=f&key=g",
		  "http://h/?access_token=***;api_key=***&apikey=***&X-Api-Key=***&client_secret=***"
		  "&sig=***&key=***" },
		{ "http://h/?%70=SECRET&%50%61ss=x", "http://h/?%70=***&%50%61ss=***" },
		{ "http://h/?p=&u=x&p&db=p", "http://h/?p=&u=x&p&db=p" },
		{ "http://h/?p=SECRET#p=frag", "http://h/?p=***#p=frag" },
		{ "http://h/?%zz=1&%7=2&%=3&=p", "http://h/?%zz=1&%7=2&%=3&=p" },
		{ "http://h/x@y", "http://h/x@y" },
		{ "git@github.example:r.git", "git@github.example:r.git" },
		{ "file:///srv/cfg.git", "file:///srv/cfg.git" },
		{ "", "" },
	};
	char *r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = url_redact(cases[i][0]);
		cr_assert_not_null(r);
		cr_assert_str_eq(r, cases[i][1], "url_redact(%s)", cases[i][0]);
		free(r);
		/* the configuration download prints URLs through the same redactor */
		r = fetch_url_redact(cases[i][0]);
		cr_assert_str_eq(r, cases[i][1], "fetch_url_redact(%s)", cases[i][0]);
		free(r);
	}
	r = url_redact(NULL);
	cr_assert_str_eq(r, "(none)");
	free(r);
}

Test(sender, destination_log_lines_do_not_show_the_password)
{
	static const int script[] = { 500, 400 };
	char url[160], log[256], want[200];
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	struct sender_stats st;
	char *text;
	int saved;

	/* InfluxDB 1.x takes its credentials in the query */
	snprintf(url, sizeof(url), "http://probe:PWSECRET@127.0.0.1:%u/write?db=x&u=user&p=QSECRET",
		 sk.port);
	snprintf(want, sizeof(want), "destination http://probe:***@127.0.0.1:%u/write?db=x&u=user&p=***",
		 sk.port);
	d.url = url;
	d.batch_size = 5;
	snprintf(log, sizeof(log), "%s/log", tmpdir);
	sink_script(&sk, script, 2, -1);
	log_set_level(LOGL_INFO);
	saved = capture_start(log);
	s = start(&d, 1);
	submit_range(s, 0, 10);
	WAIT_STATS(s, st, st.delivered + st.rejected == 10, 5000);
	stop_now(s, 1000);
	text = capture_end(saved, log);
	cr_assert_eq(st.failures, 1, "%s", text);
	cr_assert_not_null(strstr(text, want), "no redacted destination line:\n%s", text);
	cr_assert_not_null(strstr(text, "HTTP 500"), "no failure line:\n%s", text);
	cr_assert_not_null(strstr(text, "HTTP 400"), "no rejection line:\n%s", text);
	cr_assert_null(strstr(text, "QSECRET"), "the query password is logged:\n%s", text);
	cr_assert_null(strstr(text, "PWSECRET"), "the userinfo password is logged:\n%s", text);
	free(text);
}

static void truncated_2xx(int mode)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	struct sender_stats st;

	pthread_mutex_lock(&sk.lock);
	sk.truncate = mode;
	pthread_mutex_unlock(&sk.lock);
	s = start(&d, 1);
	submit_range(s, 0, 30);
	cr_assert(wait_all(&sk, 30, 5000), "not everything arrived");
	WAIT_STATS(s, st, st.delivered == 30, 2000);
	sleep_ms(300);   /* room for a wrong retry to show */
	sender_get_stats(s, &st);
	cr_assert_eq(stop_now(s, 1000), 0);
	cr_assert_eq(st.delivered, 30);
	cr_assert_eq(st.failures, 0, "a 2xx cut short counted as a failure");
	expect_exact(&sk, 30);
	cr_assert_eq(tl.requests, sk.nreqs, "%zu requests for %zu batches: retried", sk.nreqs,
		     tl.requests);
	cr_assert_eq(count_spool_files(spooldir, ".batch"), 0, "a delivered batch was spooled");
	cr_assert_eq(count_spool_files(spooldir, ".tmp"), 0);
}

/* Content-Length 1000, 7 octets of body, close: curl says CURLE_PARTIAL_FILE */
Test(sender, a_200_with_a_truncated_body_is_delivered_once)
{
	truncated_2xx(TRUNC_BODY);
}

/* the head and part of the body, then a RST: curl says CURLE_RECV_ERROR */
Test(sender, a_200_then_a_connection_reset_is_delivered_once)
{
	truncated_2xx(TRUNC_RESET);
}

Test(sender, a_204_with_a_content_length_then_close_is_delivered_once)
{
	truncated_2xx(TRUNC_204);
}

Test(sender, retry_after_seconds_are_clamped_without_overflow)
{
	static const struct {
		int64_t in, want;
	} cases[] = {
		{ INT64_MIN, 0 },
		{ -1445412480, 0 },          /* a date in the past */
		{ -1, 0 },
		{ 0, 0 },                    /* none, or garbage */
		{ 1, NS_PER_SEC },
		{ 599, 599 * NS_PER_SEC },
		{ 600, 600 * NS_PER_SEC },
		{ 601, 600 * NS_PER_SEC },
		{ 2147483647, 600 * NS_PER_SEC },
		{ 9223372036, 600 * NS_PER_SEC },   /* the first that overflows in ns */
		{ 99999999999, 600 * NS_PER_SEC },
		{ 577176624000, 600 * NS_PER_SEC }, /* Fri, 01 Jan 20260 */
		{ INT64_MAX, 600 * NS_PER_SEC },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(sender_retry_after_ns(cases[i].in), cases[i].want, "%lld",
			     (long long)cases[i].in);
}

/*
 * A real 429 with each Retry-After through libcurl's parser: a huge value
 * or a far date backs off 10 minutes (plus at most 10 % jitter), never
 * overflows (the UBSan build aborts on that); garbage, a negative number or
 * a past date are the ordinary 10 ms back-off of these tests.
 */
static void retry_after_case(const char *header, bool far)
{
	static const int script[] = { 429 };
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	struct sender_stats st;
	char log[256], *text, *p;
	double next;
	int saved;

	snprintf(log, sizeof(log), "%s/log", tmpdir);
	pthread_mutex_lock(&sk.lock);
	sk.retry_after_raw = header;
	pthread_mutex_unlock(&sk.lock);
	sink_script(&sk, script, 1, -1);
	log_set_level(LOGL_WARN);
	saved = capture_start(log);
	s = start(&d, 1);
	submit_range(s, 0, 10);
	WAIT_STATS(s, st, st.failures >= 1, 5000);
	if (!far)
		WAIT_STATS(s, st, st.delivered == 10, 5000);
	stop_now(s, 1000);
	text = capture_end(saved, log);
	cr_assert_eq(st.failures, 1, "Retry-After: %s\n%s", header, text);
	cr_assert_eq(st.delivered, far ? 0 : 10, "Retry-After: %s\n%s", header, text);
	p = strstr(text, "next attempt in ");
	cr_assert_not_null(p, "%s", text);
	next = strtod(p + 16, NULL);
	if (far)
		cr_assert(next >= 599.9 && next <= 660.1, "Retry-After: %s: next attempt in %.1f s",
			  header, next);
	else
		cr_assert(next < 1.0, "Retry-After: %s: next attempt in %.1f s", header, next);
	free(text);
}

Test(sender, retry_after_huge_or_far_future_is_clamped)
{
	retry_after_case("99999999999", true);
}

Test(sender, retry_after_in_year_20260_is_clamped)
{
	retry_after_case("Fri, 01 Jan 20260 00:00:00 GMT", true);
}

Test(sender, retry_after_garbage_is_ignored)
{
	retry_after_case("soon", false);
}

Test(sender, retry_after_negative_is_ignored)
{
	retry_after_case("-5", false);
}

Test(sender, retry_after_in_the_past_is_ignored)
{
	retry_after_case("Wed, 21 Oct 2015 07:28:00 GMT", false);
}


/*
 * kill -9 of a process whose sender is stuck on a hanging destination: a
 * child submits records in bursts (sealed batches of 4 pile up behind the
 * hung request; the last, unsealed batch is younger than FlushInterval) and
 * is killed with SIGKILL.  A sender started on the same spool must then
 * deliver every record: 0 lost.  The hung request was never answered, so
 * the sink counts each record exactly once.
 */
static void kill9_while_hanging(enum config_format fmt)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	int pfd[2], status;
	char c;
	pid_t pid;

	d.format = fmt;
	d.batch_size = 4;
	d.flush_interval = 60 * NS_PER_SEC;   /* the open batch stays open until the kill */
	sink_set_hang(&sk, true);
	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(pfd[0]);
		s = sender_start(&d, 1, spooldir, 64 << 20, stdout);
		if (!s)
			_exit(1);
		submit_range(s, 0, 4);
		sleep_ms(200);                    /* the first batch hangs in flight */
		submit_range(s, 4, 37);           /* 8 more sealed batches and one open with 1 record */
		sleep_ms(300);
		if (write(pfd[1], "k", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	{
		bool ready = read(pfd[0], &c, 1) == 1;
		size_t nreq = 0;

		close(pfd[0]);
		/* the hung request may reach the sink late on a loaded machine (CI ran
		 * this under ASan beside a second make check and it took over 5 s):
		 * wait up to 30 s for it, which costs nothing when it comes at once */
		for (int i = 0; ready && i < 3000 && (nreq = sink_nreqs(&sk)) == 0; i++)
			sleep_ms(10);
		/* the child goes before any assertion: left in pause() it would hold the
		 * runner's output pipe open and hang the whole suite */
		kill(pid, SIGKILL);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(ready, "the child did not get ready");
		cr_assert_eq(nreq, 1, "one request hanging (the sink saw %zu)", nreq);
	}
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	sink_set_hang(&sk, false);
	s = start(&d, 1);
	cr_assert(wait_all(&sk, 37, 5000), "records lost at kill -9");
	cr_assert_eq(stop_now(s, 1000), 0);
	expect_exact(&sk, 37);
	cr_assert_eq(count_spool_files(spooldir, ".batch"), 0);
	cr_assert_eq(count_spool_files(spooldir, ".journal"), 0);

	/*
	 * Had the sink taken the hung request (its answer lost), the only
	 * duplicate would be that batch: it is resent byte for byte, and it is
	 * the first one delivered after the restart.
	 */
	{
		size_t i, hung = 0, same = 0, first_ok = SIZE_MAX, hung_i = SIZE_MAX;

		pthread_mutex_lock(&sk.lock);
		for (i = 0; i < sk.nreqs; i++) {
			if (sk.reqs[i].status == 0) {
				hung++;
				hung_i = i;
			} else if (first_ok == SIZE_MAX) {
				first_ok = i;
			}
		}
		for (i = 0; hung == 1 && i < sk.nreqs; i++)
			if (i != hung_i && sk.reqs[i].body_len == sk.reqs[hung_i].body_len &&
			    memcmp(sk.reqs[i].body, sk.reqs[hung_i].body, sk.reqs[i].body_len) == 0)
				same++;
		same = same == 1 && first_ok != SIZE_MAX &&
		       sk.reqs[first_ok].body_len == sk.reqs[hung_i].body_len &&
		       memcmp(sk.reqs[first_ok].body, sk.reqs[hung_i].body, sk.reqs[hung_i].body_len) == 0;
		pthread_mutex_unlock(&sk.lock);
		cr_assert_eq(hung, 1);
		cr_assert(same, "the batch in flight at the kill is not resent as it was, first");
	}
}

Test(sender, kill_9_while_the_destination_hangs_loses_nothing_json)
{
	kill9_while_hanging(CONFIG_FMT_JSON);
}

Test(sender, kill_9_while_the_destination_hangs_loses_nothing_influx)
{
	kill9_while_hanging(CONFIG_FMT_INFLUX);
}

/* Every record gets an id, unique within a run and across runs (a new random run id each start). */
Test(sender, record_ids_are_unique_across_restarts)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	char ids[40][40];
	int n = 0, i, j;
	size_t k;

	for (i = 0; i < 2; i++) {
		s = start(&d, 1);
		submit_range(s, i * 20, i * 20 + 20);
		cr_assert(wait_all(&sk, (i + 1) * 20, 5000));
		cr_assert_eq(stop_now(s, 1000), 0);
	}
	/* no assertion under the sink's lock (teardown needs it) */
	pthread_mutex_lock(&sk.lock);
	for (k = 0; k < sk.nreqs; k++) {
		json_object *a = json_tokener_parse(sk.reqs[k].body), *id;
		size_t m;

		for (m = 0; a && m < json_object_array_length(a) && n < 40; m++)
			snprintf(ids[n++], sizeof(ids[0]), "%s",
				 json_object_object_get_ex(json_object_array_get_idx(a, m), "record_id", &id)
					 ? json_object_get_string(id) : "");
		json_object_put(a);
	}
	pthread_mutex_unlock(&sk.lock);
	cr_assert_eq(n, 40);
	for (i = 0; i < n; i++) {
		cr_assert_eq(strlen(ids[i]) > 17 && ids[i][16] == '-', 1, "%s", ids[i]);
		for (j = 0; j < i; j++)
			cr_assert_str_neq(ids[i], ids[j], "record id %s twice", ids[i]);
	}
}

/*
 * BatchSize far beyond what SpoolMaxBytes holds: the open batch is sealed at
 * half the spool bound, so records still reach the disk (a batch
 * larger than the spool could never be sealed and waited in memory, where
 * a kill -9 loses it).
 */
Test(sender, a_batch_is_sealed_before_it_outgrows_the_spool)
{
	struct config_destination d = dest_for(&sk, "/", NULL);
	struct sender *s;
	struct sender_stats st;

	sink_set_down(&sk, true);
	setenv("TWAMP_SENDER_BACKOFF_MS", "10000", 1);
	d.batch_size = 100000;
	d.flush_interval = 3600 * NS_PER_SEC;
	s = sender_start(&d, 1, spooldir, 64 << 10, stdout);
	cr_assert_not_null(s);
	/* about 1.3 kB each: 40 fit in the 64 KiB spool; sealed about 24 at a time */
	submit_range(s, 0, 40);
	WAIT_STATS(s, st, st.spooled >= 20, 5000);
	cr_assert_geq(st.spooled, 20, "%llu of 40 records spooled, %llu in memory",
		      (unsigned long long)st.spooled, (unsigned long long)st.queued);
	cr_assert_eq(st.dropped, 0);
	cr_assert_leq(st.spool_bytes, 64 << 10);
	cr_assert_geq(count_spool_files(spooldir, ".batch"), 1);
	stop_now(s, 200);
	unsetenv("TWAMP_SENDER_BACKOFF_MS");
}

#endif /* SINK_ONLY */
