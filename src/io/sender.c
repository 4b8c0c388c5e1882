/*
 * sender: batching, HTTP delivery, retry, spool and replay (see
 * include/sender.h for the contract).
 *
 * Threads.  sender_submit(), sender_set_destinations() and
 * sender_get_stats() run on any thread and touch only the intake (a mutex,
 * a singly linked list through record->next, the pending destination list,
 * the stop request) and the atomic counters.  Everything else -- the curl
 * multi and easy handles, the batches, the spools -- belongs to the sender
 * thread alone.
 *
 * Why a mutex-protected list rather than liburcu's wfcqueue: there is one
 * consumer and at most a few thousand records per cycle (one per session),
 * so the lock is taken a few thousand times per cycle and never contended
 * for long; the same lock also carries the stop request and new
 * destinations, so one wake-up mechanism covers all three; and plain mutexes
 * are fully understood by ThreadSanitizer (liburcu's barriers are not).  An
 * eventfd in curl_multi_poll()'s extra descriptors wakes the thread; a flag
 * under the lock makes it one write per burst, not one per record.
 *
 * Per destination.  Each record is encoded for every destination as soon as
 * it arrives, into that destination's open batch ("fill", in memory) and
 * appended, the same bytes, to the spool's journal (on disk); the record
 * itself is then freed.  A full or old enough fill is sealed: its journal
 * becomes the newest spooled batch (spool_journal_seal, fsync'ed) and the
 * fill's memory is reused.  One request at a time per destination (one easy
 * handle, so the connection is reused), always for the oldest spooled batch.
 *
 * Memory holds batches ("pending", oldest first) only when the disk failed
 * them (or there is no spool).  Order of delivery stays
 *
 *   memory (older) -> spool -> fill      when the disk failed before, else
 *   spool (oldest first) -> fill
 *
 * because nothing is spooled while a batch is pending or an in-memory batch
 * is in flight (mem_first: it might still fail and must stay in front);
 * dest_flush_pending retries writing the pending ones at each step.
 *
 * Failures.  A network error, 5xx, 408 or 429 leaves the batch in the spool
 * (or spools it, when it came from memory) and backs the destination off:
 * 1 s doubling to 60 s, at least Retry-After (capped at 10 min), plus up to
 * 10 % jitter so that many probes do not return in step.  A spooled batch
 * leaves the spool only after a 2xx (spool_pop; a 2xx status line counts even
 * when the response is then cut short) or a 4xx (spool_reject), so
 * each is delivered once unless the process dies between the request and the
 * unlink.  A spooled batch that cannot be read SENDER_PEEK_TRIES times in a
 * row is moved to the reject folder rather than block everything behind it.
 * When the spool cannot be written, batches stay in memory (at most
 * SENDER_MEM_BATCHES per destination; older ones are dropped and counted).
 *
 * libcurl is loaded (dynlib) when the first destination is set up, not
 * before: with no destination the thread waits on the eventfd alone.  When it
 * cannot be loaded, every destination keeps encoding and spooling, and each
 * delivery attempt counts as a failure (logged with dynlib's line, backed off).
 *
 * Content-Type is chosen per batch from its first byte ('[' is JSON), so a
 * spool written in one format is replayed correctly after a change of
 * DestinationFormat.
 *
 * Stop.  sender_stop() sets the stop flag and the deadline.  The thread then
 * seals every fill and delivers the spools to healthy destinations until they
 * are empty or the deadline; a destination backing off is not waited for.
 * At the deadline the requests in flight are aborted (their batches stay
 * spooled), and what memory still holds is spooled.
 */
#include "sender.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dynlib.h"
#include "encode.h"
#include "log.h"
#include "ntptime.h"
#include "spool.h"
#include "url.h"

#define SENDER_BACKOFF_MIN (1 * NS_PER_SEC)
#define SENDER_BACKOFF_FACTOR 60                 /* maximum = 60 x minimum */
#define SENDER_RETRY_AFTER_MAX (600 * NS_PER_SEC)
#define SENDER_CONNECT_TIMEOUT_MS 10000L
#define SENDER_TIMEOUT_MS 30000L
#define SENDER_MEM_BATCHES 4                     /* sealed batches kept in memory while the spool is busy or broken */
#define SENDER_POLL_MAX (1 * NS_PER_SEC)
#define SENDER_RESP_MAX 512                      /* response body kept for the log */
#define SENDER_PEEK_TRIES 3                      /* unreadable spooled batch: attempts before setting it aside */

struct batch {
	struct batch *next;
	struct ebuf body;
	uint32_t n;
};

enum batch_src { SRC_MEM, SRC_SPOOL };

/* Test hook TWAMP_SENDER_TIMEOUT_MS (see sender.h): set by sender_start(), read-only after. */
static long request_timeout_ms = SENDER_TIMEOUT_MS;

struct dest {
	struct config_destination cfg;
	char id[17];                  /* spool subdirectory: FNV-1a 64 of the URL */
	char *label;                  /* the URL without credentials, for logs */
	struct spool *spool;          /* NULL when it could not be opened */
	uint64_t spool_dropped_seen;  /* spool_dropped_records() already counted */

	CURL *easy;
	struct curl_slist *hdr_json, *hdr_influx;
	bool reconfigure;             /* cfg changed: apply before the next request */
	char errbuf[CURL_ERROR_SIZE];
	char resp[SENDER_RESP_MAX];
	size_t resp_len;

	struct ebuf fill;             /* open batch */
	uint32_t fill_n;
	int64_t fill_t0;              /* monotonic ns of its first record */
	enum config_format fill_fmt;
	bool jok;                     /* the spool's journal holds exactly the fill */

	struct batch *pend, **pend_tail;   /* sealed, oldest first */
	size_t npend;

	struct batch *fly;            /* in flight (busy) */
	enum batch_src fly_src;
	bool busy;

	int peek_errors;              /* consecutive failures to read the oldest spooled batch */
	int64_t next_try;             /* monotonic ns; backing off until then */
	int64_t backoff;
	uint64_t fail_streak;
	long last_fail;               /* kind of the last failure logged: HTTP status, or -CURLcode */
};

struct sender {
	pthread_t thread;
	int efd;

	/* intake, under lock */
	pthread_mutex_t lock;
	struct record *qhead, **qtail;
	uint64_t qlen;
	uint64_t run_id;              /* random per start: record ids "<run_id>-<seq>" */
	uint64_t seq;                 /* the last record id's counter */
	bool wake_pending;
	bool stop;
	int64_t stop_deadline;        /* monotonic ns */
	struct config_destination *new_dests;
	size_t new_ndests;
	bool new_dests_set;

	/* sender thread only (and sender_start before it starts) */
	CURLM *multi;                 /* made when a destination first needs libcurl */
	bool curl_up;                 /* curl_global_init done */
	struct dest **dests;
	size_t ndests;
	char *spool_dir;
	uint64_t spool_max;
	FILE *out;
	int64_t backoff_min, backoff_max;
	uint64_t rnd;
	bool stopping;
	int64_t deadline;
	struct ebuf line;

	_Atomic uint64_t submitted, delivered, mem_records, spool_bytes, spool_records, dropped, rejected,
		failures;
};

/* ---- small helpers -------------------------------------------------------- */

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void uncount(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_sub_explicit(c, n, memory_order_relaxed);
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static char *dupstr(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

static void cfg_free(struct config_destination *c)
{
	free(c->url);
	free(c->password);
	free(c->user);
	free(c->token);
	free(c->ca_file);
	memset(c, 0, sizeof(*c));
}

static int cfg_copy(struct config_destination *dst, const struct config_destination *src)
{
	bool fail = false;

	*dst = *src;
	dst->url = dupstr(src->url, &fail);
	dst->password = dupstr(src->password, &fail);
	dst->user = dupstr(src->user, &fail);
	dst->token = dupstr(src->token, &fail);
	dst->ca_file = dupstr(src->ca_file, &fail);
	if (fail || !dst->url) {
		cfg_free(dst);
		return -1;
	}
	return 0;
}

static void cfg_array_free(struct config_destination *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cfg_free(&a[i]);
	free(a);
}

static struct config_destination *cfg_array_copy(const struct config_destination *a, size_t n)
{
	struct config_destination *c = calloc(n ? n : 1, sizeof(*c));
	size_t i;

	if (!c)
		return NULL;
	for (i = 0; i < n; i++)
		if (cfg_copy(&c[i], &a[i]) < 0) {
			cfg_array_free(c, i);
			return NULL;
		}
	return c;
}

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	ebuf_free(&b->body);
	free(b);
}

/* ---- destinations ------------------------------------------------------------ */

#define FAIL_FMT "destination %s: %s; %u record%s %s, next attempt in %.1f s"

static void dest_done(struct sender *s, struct dest *d, CURLcode res, int64_t now);
static void dest_backoff(struct sender *s, struct dest *d, int64_t now, int64_t retry_after);

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct dest *d = userdata;
	size_t n = size * nmemb, room = sizeof(d->resp) - 1 - d->resp_len;

	if (n < room)
		room = n;
	memcpy(d->resp + d->resp_len, ptr, room);
	d->resp_len += room;
	d->resp[d->resp_len] = '\0';
	return n;
}

/* A header value must not be able to add headers of its own. */
static bool header_safe(const char *v)
{
	return strpbrk(v, "\r\n") == NULL;
}

static struct curl_slist *hdr_add(struct curl_slist *l, bool *fail, const char *fmt, const char *v)
{
	struct curl_slist *n;
	char *line;

	if (*fail)
		return l;
	if (asprintf(&line, fmt, v) < 0) {
		*fail = true;
		return l;
	}
	n = dl_curl.slist_append(l, line);
	free(line);
	if (!n) {
		*fail = true;
		return l;
	}
	return n;
}

/* Options and headers from d->cfg.  Only while no request is in flight. */
static int dest_configure(struct dest *d)
{
	const struct config_destination *c = &d->cfg;
	struct curl_slist *common[2] = { NULL, NULL };
	bool fail = false;
	int i;

	if (!d->easy)
		return 0;   /* libcurl not loaded (yet): dest_attach configures it */
	dl_curl.slist_free_all(d->hdr_json);
	dl_curl.slist_free_all(d->hdr_influx);
	d->hdr_json = d->hdr_influx = NULL;

	for (i = 0; i < 2; i++) {
		/* no "Expect: 100-continue" round trip before larger bodies */
		common[i] = hdr_add(common[i], &fail, "Expect:%s", "");
		if (c->token) {
			if (header_safe(c->token))
				common[i] = hdr_add(common[i], &fail, "Authorization: Token %s", c->token);
			else if (i == 0)
				log_err("destination %s: DestinationToken contains a line break: not sent",
					d->label);
		} else if (!c->user && c->password) {
			/* the original probe's form: the configured value is the Basic token */
			if (header_safe(c->password))
				common[i] = hdr_add(common[i], &fail, "Authorization: Basic %s",
						    c->password);
			else if (i == 0)
				log_err("destination %s: DestinationPassword contains a line break: not sent",
					d->label);
		}
	}
	d->hdr_json = hdr_add(common[0], &fail, "Content-Type: %s", "application/json");
	d->hdr_influx = hdr_add(common[1], &fail, "Content-Type: %s", "text/plain; charset=utf-8");
	if (fail) {
		log_err("destination %s: out of memory", d->label);
		return -1;
	}

	/* from the defaults each time (a removed CA file must not linger); connections are kept */
	dl_curl.easy_reset(d->easy);
	dl_curl_setopt(d->easy, CURLOPT_URL, c->url);
	dl_curl_setopt(d->easy, CURLOPT_POST, 1L);
	dl_curl_setopt(d->easy, CURLOPT_NOSIGNAL, 1L);
	dl_curl_setopt(d->easy, CURLOPT_CONNECTTIMEOUT_MS, SENDER_CONNECT_TIMEOUT_MS);
	dl_curl_setopt(d->easy, CURLOPT_TIMEOUT_MS, request_timeout_ms);
	dl_curl_setopt(d->easy, CURLOPT_USERAGENT, "twamp-client");
	dl_curl_setopt(d->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	dl_curl_setopt(d->easy, CURLOPT_WRITEFUNCTION, on_body);
	dl_curl_setopt(d->easy, CURLOPT_WRITEDATA, d);
	dl_curl_setopt(d->easy, CURLOPT_ERRORBUFFER, d->errbuf);
	dl_curl_setopt(d->easy, CURLOPT_PRIVATE, d);
	dl_curl_setopt(d->easy, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
	dl_curl_setopt(d->easy, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
	if (c->ca_file)
		dl_curl_setopt(d->easy, CURLOPT_CAINFO, c->ca_file);
	if (c->user && !c->token) {
		dl_curl_setopt(d->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		dl_curl_setopt(d->easy, CURLOPT_USERNAME, c->user);
		dl_curl_setopt(d->easy, CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	d->reconfigure = false;
	return 0;
}

static void dest_free(struct dest *d)
{
	struct batch *b;

	if (!d)
		return;
	while ((b = d->pend)) {
		d->pend = b->next;
		batch_free(b);
	}
	batch_free(d->fly);
	ebuf_free(&d->fill);
	/* (lists exist only when libcurl is loaded) */
	if (d->easy)
		dl_curl.easy_cleanup(d->easy);
	if (d->hdr_json)
		dl_curl.slist_free_all(d->hdr_json);
	if (d->hdr_influx)
		dl_curl.slist_free_all(d->hdr_influx);
	spool_close(d->spool);
	cfg_free(&d->cfg);
	free(d->label);
	free(d);
}

/* libcurl loaded and the multi handle made, at the first need: NULL, or why not (one line). */
static const char *curl_ready(struct sender *s)
{
	const char *why;

	if (s->multi)
		return NULL;
	if (!s->curl_up) {
		if (dynlib_curl_up(&why) < 0)
			return why;
		s->curl_up = true;
	}
	s->multi = dl_curl.multi_init();
	return s->multi ? NULL : "curl_multi_init failed";
}

/*
 * d's easy handle, configured: 0, or -1 with *why saying why libcurl is not
 * there, or NULL when it is and memory ran out.
 */
static int dest_attach(struct sender *s, struct dest *d, const char **why)
{
	*why = curl_ready(s);
	if (*why)
		return -1;
	d->easy = dl_curl.easy_init();
	if (d->easy && dest_configure(d) == 0)
		return 0;
	if (d->easy)
		dl_curl.easy_cleanup(d->easy);
	d->easy = NULL;
	return -1;
}

/*
 * Before a request: a destination without an easy handle (libcurl could not
 * be loaded) tries again; when it still cannot, this counts as a failed
 * attempt: its batches stay where they are (spooled) and it backs off.
 * True when d cannot send now.
 */
static bool dest_unavailable(struct sender *s, struct dest *d, int64_t now)
{
	const char *why;
	uint64_t n = d->spool ? spool_records(d->spool) : 0;

	if (d->easy || dest_attach(s, d, &why) == 0)
		return false;
	count(&s->failures, 1);
	d->fail_streak++;
	dest_backoff(s, d, now, 0);
	if (d->fail_streak == 1)
		log_err("destination %s: %s: %" PRIu64 " record%s spooled, next attempt in %.1f s", d->label,
			why ? why : "cannot set up (out of memory)", n, log_s(n),
			ntptime_to_sec(d->next_try - now));
	else
		LOG_RL(LOGL_ERR, 60, "destination %s: %s: %" PRIu64 " record%s spooled, next attempt in %.1f s",
		       d->label, why ? why : "cannot set up (out of memory)", n, log_s(n),
		       ntptime_to_sec(d->next_try - now));
	return true;
}

static struct dest *dest_new(struct sender *s, const struct config_destination *cfg)
{
	struct dest *d = calloc(1, sizeof(*d));
	const char *why;
	char *path = NULL;

	if (!d)
		goto oom;
	d->pend_tail = &d->pend;
	if (cfg_copy(&d->cfg, cfg) < 0 || !(d->label = url_redact(cfg->url)))
		goto oom;
	snprintf(d->id, sizeof(d->id), "%016" PRIx64, fnv1a64(cfg->url));
	if (asprintf(&path, "%s/%s", s->spool_dir, d->id) < 0) {
		path = NULL;
		goto oom;
	}
	d->spool = spool_open(path, s->spool_max);
	/* drops at open (a smaller SpoolMaxBytes than last time) are counted like any other */
	if (!d->spool)
		log_err("destination %s: no spool: undelivered batches stay in memory (at most %d)",
			d->label, SENDER_MEM_BATCHES);
	if (dest_attach(s, d, &why) < 0) {
		if (!why)
			goto oom;
		/* kept: its records are spooled, and each delivery attempt tries again */
		log_err("destination %s: %s: its records are spooled until it can be loaded", d->label, why);
	}
	if (cfg->insecure)
		log_warn("destination %s: TLS certificate verification is OFF (DestinationInsecure)",
			 d->label);
	log_info("destination %s: %s, spool %s", d->label,
		 cfg->format == CONFIG_FMT_INFLUX ? "influx line protocol" : "JSON", path);
	free(path);
	return d;
oom:
	log_err("destination %s: cannot set up (out of memory)", d && d->label ? d->label : "(URL not shown)");
	free(path);
	dest_free(d);
	return NULL;
}

/* Records held in memory (fill, pending) that are lost: count them. */
static void drop_mem(struct sender *s, uint32_t n)
{
	uncount(&s->mem_records, n);
	count(&s->dropped, n);
}

static void dest_flush_pending(struct sender *s, struct dest *d);

/* An in-memory batch is older than anything spooled while it waits or flies: the spool must wait. */
static bool mem_first(const struct dest *d)
{
	return d->pend || (d->busy && d->fly_src == SRC_MEM);
}

/*
 * Close the open batch.  Normally its journal becomes the newest spooled
 * batch (fsync'ed) and the fill's memory is kept for the next one; only when
 * that fails, or older batches are still in memory, does it become an
 * in-memory batch (then spooled by dest_flush_pending when the disk allows).
 */
static void dest_seal(struct sender *s, struct dest *d)
{
	bool json = d->fill_fmt == CONFIG_FMT_JSON;
	struct batch *b;

	if (!d->fill_n)
		return;
	if (d->jok && !mem_first(d) &&
	    spool_journal_seal(d->spool, "]", json ? 1 : 0, d->fill_n) == 0) {
		uncount(&s->mem_records, d->fill_n);
		ebuf_reset(&d->fill);
		d->fill_n = 0;
		d->jok = false;
		return;
	}
	if (d->jok)
		spool_journal_discard(d->spool);   /* the batch goes on from memory */
	d->jok = false;
	if (json)
		ebuf_put(&d->fill, "]", 1);
	b = calloc(1, sizeof(*b));
	if (!b || d->fill.failed) {
		LOG_RL(LOGL_ERR, 10, "destination %s: out of memory: %u record%s lost", d->label,
		       d->fill_n, log_s(d->fill_n));
		free(b);
		drop_mem(s, d->fill_n);
		ebuf_reset(&d->fill);
		d->fill_n = 0;
		return;
	}
	b->body = d->fill;
	b->n = d->fill_n;
	memset(&d->fill, 0, sizeof(d->fill));
	d->fill_n = 0;
	*d->pend_tail = b;
	d->pend_tail = &b->next;
	d->npend++;
	dest_flush_pending(s, d);
}

static struct batch *pend_pop(struct dest *d)
{
	struct batch *b = d->pend;

	if (b) {
		d->pend = b->next;
		if (!d->pend)
			d->pend_tail = &d->pend;
		b->next = NULL;
		d->npend--;
	}
	return b;
}

static void pend_push_front(struct dest *d, struct batch *b)
{
	b->next = d->pend;
	d->pend = b;
	if (!b->next)
		d->pend_tail = &b->next;
	d->npend++;
}

/* At most SENDER_MEM_BATCHES sealed batches in memory: drop the oldest beyond. */
static void dest_bound_mem(struct sender *s, struct dest *d)
{
	while (d->npend > SENDER_MEM_BATCHES) {
		struct batch *b = pend_pop(d);

		LOG_RL(LOGL_ERR, 60, "destination %s: cannot spool and %d batches already in memory: "
		       "dropped %u record%s", d->label, SENDER_MEM_BATCHES, b->n, log_s(b->n));
		drop_mem(s, b->n);
		batch_free(b);
	}
}

/*
 * Spool the pending batches, oldest first.  What cannot be written stays,
 * within the memory bound.  Not while an in-memory batch is in flight: it may
 * fail and must then stay in front of them.
 */
static void dest_flush_pending(struct sender *s, struct dest *d)
{
	while (d->pend && d->spool && !(d->busy && d->fly_src == SRC_MEM) &&
	       spool_put(d->spool, d->pend->body.data, d->pend->body.len, d->pend->n) == 0) {
		struct batch *b = pend_pop(d);

		uncount(&s->mem_records, b->n);
		batch_free(b);
	}
	dest_bound_mem(s, d);
}

/* Encode r into d's open batch. */
static void dest_add(struct sender *s, struct dest *d, const struct record *r, int64_t now)
{
	size_t old = d->fill.len;

	if (d->fill_n && d->fill_fmt != d->cfg.format)
		dest_seal(s, d);
	if (!d->fill_n) {
		old = 0;
		ebuf_reset(&d->fill);
		d->fill_t0 = now;
		d->fill_fmt = d->cfg.format;
		d->jok = d->spool != NULL;
	}
	if (d->fill_fmt == CONFIG_FMT_JSON) {
		ebuf_put(&d->fill, d->fill_n ? "," : "[", 1);
		encode_json(&d->fill, r);
		ebuf_put(&d->fill, "\n", 1);   /* the journal's record separator (JSON whitespace) */
	} else {
		encode_influx(&d->fill, r);
	}
	count(&s->mem_records, 1);
	if (d->fill.failed) {
		/* realloc failure leaves the old block intact: cut back to before this record */
		d->fill.len = old;
		d->fill.failed = 0;
		if (d->fill.data)
			d->fill.data[old] = '\0';
		LOG_RL(LOGL_ERR, 10, "destination %s: out of memory encoding a record", d->label);
		drop_mem(s, 1);
		return;
	}
	/* on the disk (page cache) at once: a kill -9 from now on loses nothing of it */
	if (d->jok && spool_journal_append(d->spool, d->fill.data + old, d->fill.len - old) < 0)
		d->jok = false;
	d->fill_n++;
	/* also sealed at half of SpoolMaxBytes: a batch larger than the spool
	 * could never be sealed into it, and would wait in memory instead */
	if (d->fill_n >= (d->cfg.batch_size ? d->cfg.batch_size : 1) ||
	    (s->spool_max && d->fill.len >= s->spool_max / 2))
		dest_seal(s, d);
}

static void dest_start(struct sender *s, struct dest *d, struct batch *b, enum batch_src src)
{
	CURLMcode mc;

	d->fly = b;
	d->fly_src = src;
	d->resp_len = 0;
	d->resp[0] = '\0';
	d->errbuf[0] = '\0';
	if (d->reconfigure)
		dest_configure(d);
	dl_curl_setopt(d->easy, CURLOPT_HTTPHEADER,
		       b->body.len && b->body.data[0] == '[' ? d->hdr_json : d->hdr_influx);
	dl_curl_setopt(d->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->body.len);
	dl_curl_setopt(d->easy, CURLOPT_POSTFIELDS, b->body.data);
	mc = dl_curl.multi_add_handle(s->multi, d->easy);
	if (mc != CURLM_OK) {
		log_err("destination %s: %s", d->label, dl_curl.multi_strerror(mc));
		/* handled like a network error at the next completion check */
		snprintf(d->errbuf, sizeof(d->errbuf), "%s", dl_curl.multi_strerror(mc));
	}
	d->busy = true;
	if (mc != CURLM_OK)
		dest_done(s, d, CURLE_FAILED_INIT, ntptime_mono());
}

/* A printable copy of the response body for the log. */
static const char *resp_text(struct dest *d)
{
	size_t i;

	for (i = 0; i < d->resp_len; i++)
		if ((unsigned char)d->resp[i] < 0x20 || d->resp[i] == 0x7f)
			d->resp[i] = ' ';
	return d->resp_len ? d->resp : "(no body)";
}

static void dest_backoff(struct sender *s, struct dest *d, int64_t now, int64_t retry_after)
{
	int64_t delay;

	d->backoff = d->backoff ? d->backoff * 2 : s->backoff_min;
	if (d->backoff > s->backoff_max)
		d->backoff = s->backoff_max;
	delay = d->backoff;
	if (retry_after > delay)
		delay = retry_after < SENDER_RETRY_AFTER_MAX ? retry_after : SENDER_RETRY_AFTER_MAX;
	/* xorshift64: up to 10 % more, so that probes restarted together spread out */
	s->rnd ^= s->rnd << 13;
	s->rnd ^= s->rnd >> 7;
	s->rnd ^= s->rnd << 17;
	delay += (int64_t)(s->rnd % 1000) * (delay / 10000);
	d->next_try = now + delay;
}

int64_t sender_retry_after_ns(int64_t seconds)
{
	/* compare in seconds first: seconds * NS_PER_SEC overflows from about 292 years */
	if (seconds <= 0)
		return 0;
	if (seconds >= SENDER_RETRY_AFTER_MAX / NS_PER_SEC)
		return SENDER_RETRY_AFTER_MAX;
	return seconds * NS_PER_SEC;
}

static void dest_done(struct sender *s, struct dest *d, CURLcode res, int64_t now)
{
	struct batch *b = d->fly;
	long code = 0;
	curl_off_t ra = -1;
	char reason[CURL_ERROR_SIZE + SENDER_RESP_MAX + 64];
	const char *where;
	long kind;

	dl_curl_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
	dl_curl_getinfo(d->easy, CURLINFO_RETRY_AFTER, &ra);
	if (res == CURLE_FAILED_INIT) {
		/* never started (dest_start): the handle still holds the previous request's answer */
		code = 0;
		ra = -1;
	}
	dl_curl.multi_remove_handle(s->multi, d->easy);
	d->busy = false;
	d->fly = NULL;

	/*
	 * A 2xx status line is the destination's word that it took the batch,
	 * even when the rest of the response is cut short (CURLE_PARTIAL_FILE,
	 * CURLE_RECV_ERROR, a timeout in the body): sending it again would only
	 * duplicate it.  code stays 0 when no status line arrived.
	 */
	if (code >= 200 && code < 300) {
		if (res != CURLE_OK)
			LOG_RL(LOGL_WARN, 60,
			       "destination %s: HTTP %ld, then %s: %u record%s counted as delivered",
			       d->label, code, dl_curl.easy_strerror(res), b->n, log_s(b->n));
		if (d->fly_src == SRC_SPOOL)
			spool_pop(d->spool);
		else
			uncount(&s->mem_records, b->n);
		count(&s->delivered, b->n);
		if (d->fail_streak)
			log_info("destination %s: delivering again after %" PRIu64 " failed attempt%s",
				 d->label, d->fail_streak, log_s(d->fail_streak));
		d->fail_streak = 0;
		d->backoff = 0;
		d->next_try = 0;
		batch_free(b);
		return;
	}

	if (res == CURLE_OK && code >= 400 && code < 500 && code != 408 && code != 429) {
		/* the destination refuses this batch: retrying cannot help */
		LOG_RL(LOGL_ERR, 10, "destination %s: HTTP %ld: %u record%s rejected, %s: %s", d->label,
		       code, b->n, log_s(b->n), d->spool ? "kept in the spool's reject folder" : "lost (no spool)",
		       resp_text(d));
		if (d->fly_src == SRC_SPOOL) {
			spool_reject(d->spool);
			count(&s->rejected, b->n);
		} else {
			uncount(&s->mem_records, b->n);
			if (d->spool && spool_put_reject(d->spool, b->body.data, b->body.len, b->n) == 0)
				count(&s->rejected, b->n);
			else
				count(&s->dropped, b->n);
		}
		d->fail_streak = 0;
		d->backoff = 0;
		d->next_try = 0;
		batch_free(b);
		return;
	}

	count(&s->failures, 1);
	d->fail_streak++;
	if (res != CURLE_OK)
		snprintf(reason, sizeof(reason), "%s%s%s", dl_curl.easy_strerror(res),
			 d->errbuf[0] ? ": " : "", d->errbuf);
	else
		snprintf(reason, sizeof(reason), "HTTP %ld: %s", code, resp_text(d));
	dest_backoff(s, d, now, sender_retry_after_ns((int64_t)ra));
	/* rate-limited, except when the kind of failure changes (500, then timeouts...) */
	where = d->fly_src == SRC_SPOOL ? "stay spooled" : d->spool ? "spooled" : "kept in memory";
	kind = res != CURLE_OK ? -(long)res : code;
	if (d->fail_streak == 1 || d->last_fail != kind) {
		d->last_fail = kind;
		log_warn(FAIL_FMT, d->label, reason, b->n, log_s(b->n), where, ntptime_to_sec(d->next_try - now));
	} else {
		LOG_RL(LOGL_WARN, 30, FAIL_FMT, d->label, reason, b->n, log_s(b->n), where,
		       ntptime_to_sec(d->next_try - now));
	}
	if (d->fly_src == SRC_SPOOL) {
		spool_release(d->spool);
		batch_free(b);
	} else if (d->spool && spool_put(d->spool, b->body.data, b->body.len, b->n) == 0) {
		uncount(&s->mem_records, b->n);
		batch_free(b);
	} else {
		pend_push_front(d, b);   /* still the oldest: retried from memory */
		dest_bound_mem(s, d);
	}
}

/* Abort the request in flight (stop deadline, destination removed): its batch is spooled. */
static void dest_abort(struct sender *s, struct dest *d)
{
	struct batch *b = d->fly;

	if (!d->busy)
		return;
	dl_curl.multi_remove_handle(s->multi, d->easy);
	d->busy = false;
	d->fly = NULL;
	if (d->fly_src == SRC_SPOOL) {
		spool_release(d->spool);
		batch_free(b);
	} else {
		pend_push_front(d, b);
	}
}

/* Everything d holds in memory to the spool; what cannot be written is counted lost. */
static void dest_spool_all(struct sender *s, struct dest *d)
{
	struct batch *b;

	dest_abort(s, d);
	dest_seal(s, d);
	dest_flush_pending(s, d);
	while ((b = pend_pop(d))) {
		log_err("destination %s: %u record%s could be neither delivered nor spooled", d->label,
			b->n, log_s(b->n));
		drop_mem(s, b->n);
		batch_free(b);
	}
}

static bool fill_due(const struct sender *s, const struct dest *d, int64_t now)
{
	return d->fill_n && (s->stopping || d->fill_n >= d->cfg.batch_size ||
			     now - d->fill_t0 >= d->cfg.flush_interval);
}

/* Decide what d does next. */
static void dest_step(struct sender *s, struct dest *d, int64_t now)
{
	bool spooled;
	void *data;
	size_t len;
	uint32_t n;
	int rc;

	if (fill_due(s, d, now))
		dest_seal(s, d);
	if (d->busy)
		return;
	dest_flush_pending(s, d);   /* batches the disk refused before: try again */
	if (now < d->next_try)
		return;
	spooled = d->spool && spool_count(d->spool) > 0;
	if ((spooled || d->pend) && dest_unavailable(s, d, now))
		return;
	if (spooled) {
		rc = spool_peek(d->spool, &data, &len, &n);
		if (rc > 0) {
			struct batch *b = calloc(1, sizeof(*b));

			if (b) {
				b->body.data = data;
				b->body.len = len;
				b->body.cap = len + 1;
				b->n = n;
				d->peek_errors = 0;
				dest_start(s, d, b, SRC_SPOOL);
				return;
			}
			free(data);
			rc = -1;
		}
		if (rc < 0) {
			/* unreadable batch: try again later rather than spin; set it aside if it stays so */
			if (++d->peek_errors >= SENDER_PEEK_TRIES) {
				uint64_t before = spool_rejected_records(d->spool);

				log_err("destination %s: the oldest spooled batch cannot be read: moved "
					"to the reject folder", d->label);
				spool_reject(d->spool);
				count(&s->rejected, spool_rejected_records(d->spool) - before);
				d->peek_errors = 0;
				return;   /* the next batch at the next step */
			}
			dest_backoff(s, d, now, 0);
			return;
		}
	}
	if (d->pend)
		dest_start(s, d, pend_pop(d), SRC_MEM);
}

/*
 * Stopping: nothing more to do for d.  A destination backing off is not
 * waited for (what it holds in memory is spooled when the thread ends);
 * a healthy one delivers its spool, the batches of this run included.
 */
static bool dest_idle(const struct dest *d, int64_t now)
{
	if (d->busy || d->fill_n)
		return false;
	return now < d->next_try || (!d->pend && !(d->spool && spool_count(d->spool)));
}

/* Fold the spool figures of d into the sender's counters. */
static void dest_sync(struct sender *s, struct dest *d, uint64_t *bytes, uint64_t *records)
{
	uint64_t dr;

	if (!d->spool)
		return;
	dr = spool_dropped_records(d->spool);
	if (dr != d->spool_dropped_seen) {
		count(&s->dropped, dr - d->spool_dropped_seen);
		d->spool_dropped_seen = dr;
	}
	*bytes += spool_bytes(d->spool);
	*records += spool_records(d->spool);
}

static void sync_stats(struct sender *s)
{
	uint64_t bytes = 0, records = 0;
	size_t i;

	for (i = 0; i < s->ndests; i++)
		dest_sync(s, s->dests[i], &bytes, &records);
	atomic_store_explicit(&s->spool_bytes, bytes, memory_order_relaxed);
	atomic_store_explicit(&s->spool_records, records, memory_order_relaxed);
}

static void dest_retire(struct sender *s, struct dest *d)
{
	uint64_t bytes = 0, records = 0;

	log_info("destination %s removed%s", d->label,
		 d->spool && spool_count(d->spool) ? ": its spool is kept for when it returns" : "");
	dest_spool_all(s, d);
	dest_sync(s, d, &bytes, &records);
	dest_free(d);
}

/* ---- destination changes (sender thread) ------------------------------------- */

static bool same_transport(const struct config_destination *a, const struct config_destination *b)
{
#define SAME(f) ((!a->f && !b->f) || (a->f && b->f && strcmp(a->f, b->f) == 0))
	return SAME(password) && SAME(user) && SAME(token) && SAME(ca_file) &&
	       a->insecure == b->insecure;
#undef SAME
}

/* 0, or -1 when a destination could not be set up (it is left out). */
static int apply_dests(struct sender *s, struct config_destination *cfgs, size_t n)
{
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, of sizeof(*nd) each */
	struct dest **nd = calloc(n ? n : 1, sizeof(*nd));
	size_t i, j, k = 0;
	int rc = 0;

	if (!nd) {
		log_err("new destinations: out of memory: keeping the old ones");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct dest *d = NULL;

		for (j = 0; j < k; j++)
			if (strcmp(nd[j]->cfg.url, cfgs[i].url) == 0)
				break;
		if (j < k) {
			log_warn("destination %s listed twice: using the first", nd[j]->label);
			continue;
		}
		for (j = 0; j < s->ndests; j++)
			if (s->dests[j] && strcmp(s->dests[j]->cfg.url, cfgs[i].url) == 0) {
				d = s->dests[j];
				s->dests[j] = NULL;
				break;
			}
		if (d) {
			/* same URL, same spool: keep its state, take the new settings */
			if (d->cfg.format != cfgs[i].format)
				dest_seal(s, d);
			if (!same_transport(&d->cfg, &cfgs[i])) {
				d->reconfigure = true;
				if (cfgs[i].insecure && !d->cfg.insecure)
					log_warn("destination %s: TLS certificate verification is OFF "
						 "(DestinationInsecure)", d->label);
			}
			cfg_free(&d->cfg);
			d->cfg = cfgs[i];
			memset(&cfgs[i], 0, sizeof(cfgs[i]));   /* moved */
			if (d->reconfigure && !d->busy)
				dest_configure(d);
		} else {
			d = dest_new(s, &cfgs[i]);
			if (!d) {
				rc = -1;
				continue;
			}
		}
		nd[k++] = d;
	}
	for (j = 0; j < s->ndests; j++)
		if (s->dests[j])
			dest_retire(s, s->dests[j]);
	free(s->dests);
	s->dests = nd;
	s->ndests = k;
	return rc;
}

/* ---- the thread ---------------------------------------------------------------- */

static void write_out(struct sender *s, const struct record *r)
{
	ebuf_reset(&s->line);
	encode_json(&s->line, r);
	ebuf_put(&s->line, "\n", 1);
	if (s->line.failed || fwrite(s->line.data, 1, s->line.len, s->out) != s->line.len ||
	    fflush(s->out) != 0) {
		LOG_RL(LOGL_ERR, 60, "cannot write a record to the output: %m");
		count(&s->dropped, 1);
		return;
	}
	count(&s->delivered, 1);
}

static void dispatch(struct sender *s, struct record *list, int64_t now)
{
	struct record *r;
	size_t i;

	while ((r = list)) {
		list = r->next;
		r->next = NULL;
		if (!s->ndests)
			write_out(s, r);
		for (i = 0; i < s->ndests; i++)
			dest_add(s, s->dests[i], r, now);
		record_free(r);
	}
}

static int64_t next_wakeup(const struct sender *s, int64_t now)
{
	int64_t t = now + SENDER_POLL_MAX;
	size_t i;

	for (i = 0; i < s->ndests; i++) {
		const struct dest *d = s->dests[i];

		if (d->fill_n && d->fill_t0 + d->cfg.flush_interval < t)
			t = d->fill_t0 + d->cfg.flush_interval;
		if (!d->busy && (d->pend || (d->spool && spool_count(d->spool))) && d->next_try < t)
			t = d->next_try;
	}
	if (s->stopping && s->deadline < t)
		t = s->deadline;
	return t;
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	struct curl_waitfd wfd = { .fd = s->efd, .events = CURL_WAIT_POLLIN };
	bool progress; /* set on each turn of the loop */
	size_t i;

	for (;;) {
		struct record *list;
		struct config_destination *nd = NULL;
		size_t nnd = 0;
		bool nd_set;
		uint64_t ev;
		int64_t now, t;
		int running = 0, left, ms;
		CURLMsg *msg;

		if (read(s->efd, &ev, sizeof(ev)) < 0 && errno != EAGAIN)
			LOG_RL(LOGL_ERR, 60, "sender: eventfd read: %m");
		pthread_mutex_lock(&s->lock);
		list = s->qhead;
		s->qhead = NULL;
		s->qtail = &s->qhead;
		s->qlen = 0;
		s->wake_pending = false;
		nd_set = s->new_dests_set;
		if (nd_set) {
			nd = s->new_dests;
			nnd = s->new_ndests;
			s->new_dests = NULL;
			s->new_ndests = 0;
			s->new_dests_set = false;
		}
		if (s->stop && !s->stopping) {
			s->stopping = true;
			s->deadline = s->stop_deadline;
		}
		pthread_mutex_unlock(&s->lock);

		now = ntptime_mono();
		if (nd_set) {
			apply_dests(s, nd, nnd);
			cfg_array_free(nd, nnd);
		}
		dispatch(s, list, now);

		if (s->stopping && now >= s->deadline) {
			for (i = 0; i < s->ndests; i++)
				dest_spool_all(s, s->dests[i]);
			sync_stats(s);
			break;
		}
		for (i = 0; i < s->ndests; i++)
			dest_step(s, s->dests[i], now);
		if (s->multi)
			dl_curl.multi_perform(s->multi, &running);
		progress = false;
		while (s->multi && (msg = dl_curl.multi_info_read(s->multi, &left))) {
			struct dest *d;
			char *priv = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			dl_curl_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			d = (struct dest *)priv;
			if (d && d->busy) {
				dest_done(s, d, msg->data.result, ntptime_mono());
				progress = true;
			}
		}
		sync_stats(s);
		if (s->stopping) {
			bool idle = true;

			now = ntptime_mono();
			for (i = 0; i < s->ndests; i++)
				idle = idle && dest_idle(s->dests[i], now);
			if (idle) {
				for (i = 0; i < s->ndests; i++)
					dest_spool_all(s, s->dests[i]);
				sync_stats(s);
				break;
			}
		}
		if (progress)
			continue;
		t = next_wakeup(s, ntptime_mono());
		now = ntptime_mono();
		ms = t > now ? (int)((t - now + NS_PER_MS - 1) / NS_PER_MS) : 0;
		if (s->multi) {
			dl_curl.multi_poll(s->multi, &wfd, 1, ms, NULL);
		} else {
			/* no libcurl (no destination, or it cannot be loaded): the eventfd alone */
			struct pollfd pfd = { .fd = s->efd, .events = POLLIN };

			if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
				LOG_RL(LOGL_ERR, 60, "sender: poll: %m");
		}
	}

	for (i = 0; i < s->ndests; i++)
		dest_free(s->dests[i]);
	free(s->dests);
	s->dests = NULL;
	s->ndests = 0;
	return NULL;
}

/* ---- public API ------------------------------------------------------------------- */

/* Test hooks: milliseconds from the environment variable `name`, in 1..max_ms, else def_ms. */
static long env_ms(const char *name, long def_ms, long max_ms)
{
	const char *v = getenv(name);
	char *end;
	long ms;

	if (!v || !*v)
		return def_ms;
	ms = strtol(v, &end, 10);
	if (*end || ms < 1 || ms > max_ms) {
		log_warn("%s=%s ignored (1..%ld)", name, v, max_ms);
		return def_ms;
	}
	return ms;
}

struct sender *sender_start(const struct config_destination *dests, size_t ndests,
			    const char *spool_dir, uint64_t spool_max_bytes, FILE *out)
{
	struct sender *s = calloc(1, sizeof(*s));
	struct config_destination *copy = NULL;
	int rc;

	if (!s) {
		log_err("sender: out of memory");
		return NULL;
	}
	s->efd = -1;
	s->qtail = &s->qhead;
	s->out = out ? out : stdout;
	s->spool_max = spool_max_bytes;
	s->backoff_min = (int64_t)env_ms("TWAMP_SENDER_BACKOFF_MS", SENDER_BACKOFF_MIN / NS_PER_MS,
					  3600L * 1000) * NS_PER_MS;
	s->backoff_max = s->backoff_min * SENDER_BACKOFF_FACTOR;
	request_timeout_ms = env_ms("TWAMP_SENDER_TIMEOUT_MS", SENDER_TIMEOUT_MS, SENDER_TIMEOUT_MS);
	s->rnd = (uint64_t)ntptime_now() | 1;
	if (getrandom(&s->run_id, sizeof(s->run_id), 0) != (ssize_t)sizeof(s->run_id)) {
		log_warn("sender: getrandom: %m: record ids from the clock and the process id");
		s->run_id = (uint64_t)ntptime_now() ^ ((uint64_t)getpid() << 40);
	}
	pthread_mutex_init(&s->lock, NULL);
	if (!(s->spool_dir = strdup(spool_dir ? spool_dir : "spool"))) {
		log_err("sender: out of memory");
		goto fail;
	}
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0) {
		log_err("sender: eventfd: %m");
		goto fail;
	}
	copy = cfg_array_copy(dests, ndests);
	if (!copy) {
		log_err("sender: out of memory");
		goto fail;
	}
	rc = apply_dests(s, copy, ndests);
	cfg_array_free(copy, ndests);
	if (rc < 0)
		goto fail;
	rc = pthread_create(&s->thread, NULL, sender_main, s);
	if (rc) {
		log_err("sender: cannot start thread: %s", strerror(rc));
		goto fail;
	}
	return s;
fail:
	if (s->dests) {
		size_t i;

		for (i = 0; i < s->ndests; i++)
			dest_free(s->dests[i]);
		free(s->dests);
	}
	if (s->multi)
		dl_curl.multi_cleanup(s->multi);
	if (s->curl_up)
		dynlib_curl_down();
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->lock);
	free(s->spool_dir);
	free(s);
	return NULL;
}

static void wake(struct sender *s)
{
	uint64_t one = 1;

	if (write(s->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		LOG_RL(LOGL_ERR, 60, "sender: eventfd write: %m");
}

void sender_submit(struct sender *s, struct record *r)
{
	char id[sizeof(r->record_id)];
	bool need_wake;

	if (!r)
		return;
	r->next = NULL;
	count(&s->submitted, 1);
	pthread_mutex_lock(&s->lock);
	/* under the lock: one counter, no 64-bit atomics needed on 32-bit targets */
	snprintf(r->record_id, sizeof(r->record_id), "%016" PRIx64 "-%" PRIu64, s->run_id, ++s->seq);
	memcpy(id, r->record_id, sizeof(id));
	*s->qtail = r;
	s->qtail = &r->next;
	s->qlen++;
	need_wake = !s->wake_pending;
	s->wake_pending = true;
	pthread_mutex_unlock(&s->lock);
	/* r is the sender's now: only this copy of its id.  tests/killnine.sh counts these lines. */
	log_debug("record %s queued", id);
	if (need_wake)
		wake(s);
}

void sender_set_destinations(struct sender *s, const struct config_destination *dests, size_t ndests)
{
	struct config_destination *copy = cfg_array_copy(dests, ndests), *old;
	size_t nold;

	if (!copy) {
		log_err("sender: out of memory: destinations unchanged");
		return;
	}
	pthread_mutex_lock(&s->lock);
	old = s->new_dests;
	nold = s->new_ndests;
	s->new_dests = copy;
	s->new_ndests = ndests;
	s->new_dests_set = true;
	pthread_mutex_unlock(&s->lock);
	if (old)
		cfg_array_free(old, nold);
	wake(s);
}

void sender_get_stats(struct sender *s, struct sender_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	out->queued = s->qlen;
	pthread_mutex_unlock(&s->lock);
	out->submitted = atomic_load_explicit(&s->submitted, memory_order_relaxed);
	out->delivered = atomic_load_explicit(&s->delivered, memory_order_relaxed);
	out->queued += atomic_load_explicit(&s->mem_records, memory_order_relaxed);
	out->spool_bytes = atomic_load_explicit(&s->spool_bytes, memory_order_relaxed);
	out->spooled = atomic_load_explicit(&s->spool_records, memory_order_relaxed);
	out->dropped = atomic_load_explicit(&s->dropped, memory_order_relaxed);
	out->rejected = atomic_load_explicit(&s->rejected, memory_order_relaxed);
	out->failures = atomic_load_explicit(&s->failures, memory_order_relaxed);
}

uint64_t sender_stop(struct sender *s, int64_t deadline)
{
	return sender_stop_final(s, deadline, NULL);
}

uint64_t sender_stop_final(struct sender *s, int64_t deadline, struct sender_stats *final)
{
	struct record *r, *left;
	uint64_t lost;
	int64_t mono_deadline = ntptime_mono_deadline(deadline);

	pthread_mutex_lock(&s->lock);
	s->stop = true;
	s->stop_deadline = mono_deadline;
	pthread_mutex_unlock(&s->lock);
	wake(s);
	pthread_join(s->thread, NULL);

	/* submitted after the thread's last look: nowhere to go */
	left = s->qhead;
	while ((r = left)) {
		left = r->next;
		record_free(r);
		count(&s->dropped, 1);
	}
	if (s->new_dests)
		cfg_array_free(s->new_dests, s->new_ndests);
	lost = atomic_load_explicit(&s->dropped, memory_order_relaxed);
	if (final)
		sender_get_stats(s, final);
	if (s->multi)
		dl_curl.multi_cleanup(s->multi);
	if (s->curl_up)
		dynlib_curl_down();
	close(s->efd);
	ebuf_free(&s->line);
	pthread_mutex_destroy(&s->lock);
	free(s->spool_dir);
	free(s);
	return lost;
}
