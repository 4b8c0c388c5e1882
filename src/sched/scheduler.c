/*
 * scheduler: cycle planning and dispatch.  Threads and ownership: see
 * include/scheduler.h (DESIGN).  Everything below marked "scheduler thread"
 * runs only on the scheduler's own loop; "worker thread" code runs on the
 * session's worker; the two meet only through wk_submit().
 */
#include "scheduler.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cron.h"
#include "log.h"
#include "ntptime.h"
#include "rcuptr.h"
#include "record.h"
#include "session.h"
#include "tsock.h"
#include "worker.h"

#define RESOLVERS 2
#define KEY_BUCKETS 4096

struct scheduler;
struct cycle;

struct wslot {
	struct scheduler *sc;
	struct worker *wk;
	int idx;
	uint32_t active;          /* scheduler thread: sessions handed to this worker */
	struct job *jobs;         /* worker thread: its running sessions */
};

struct plan_entry {
	const struct config_target *t;
	int64_t due;              /* CLOCK_MONOTONIC */
};

struct cycle {
	struct cycle *next;
	uint64_t id;
	int64_t start;            /* wall clock (the probe record's timestamp) */
	int64_t start_mono;       /* CLOCK_MONOTONIC, for the duration */
	struct tset *ts;          /* reference held until the cycle ends */
	struct plan_entry *plan;
	uint32_t nplan, cursor;
	uint32_t ok, failed, skipped, outstanding;
	int64_t last_done;        /* CLOCK_MONOTONIC */
};

struct job {
	struct job *wnext, *wprev;    /* worker thread list */
	struct job *rnext;            /* resolver queue */
	struct scheduler *sc;
	struct cycle *cy;
	struct wslot *ws;
	const struct config_target *t;
	char *key;
	uint64_t hash;
	int64_t planned;
	struct session_params params;
	struct session *s;
	bool resolved;
	int dns_error;                /* getaddrinfo error, 0 = none */
	struct sockaddr_storage addr;
	/* results, written by the worker before the job comes back */
	bool ran;
	struct session_info info;
	struct stats_summary sum;
	bool have_sum;
	struct stream_result *more;   /* the target's further DSCPs (test sessions 2..n) */
	unsigned nmore;
};

/* A further test session of a job: one record of its own. */
struct stream_result {
	struct session_info info;
	struct stats_summary sum;
	bool have_sum;
	int dscp;
};

struct keynode {                  /* running set and DNS cache entries */
	struct keynode *next;
	char *key;
	uint64_t cycle;               /* DNS: cycle of the lookup */
	int error;
	struct sockaddr_storage addr;
};

struct scheduler {
	struct sched_opts o;
	struct worker *wk;            /* the scheduler's own loop */
	struct wslot *ws;
	struct wk_timer cycle_timer, start_timer;
	/*
	 * The cron schedule follows the wall clock, its timer CLOCK_MONOTONIC:
	 * next_wall is the planned match, the cycle timer's deadline is
	 * next_wall - (wall - monotonic), re-computed each second by the watch
	 * timer (so NTP's slewing is followed too), which also notices a step
	 * (ntptime_stepped between two ticks) and re-plans from the new wall
	 * time (cron_replan).  A tick each second rather than a timerfd with
	 * TFD_TIMER_CANCEL_ON_SET: it needs no descriptor, notices a step as
	 * well within one second (cron's unit is a minute), and sees the steps
	 * libfaketime makes in the tests, which the kernel never hears of.
	 */
	struct wk_timer watch_timer;
	struct cron cron;             /* the schedule of the next cycle; have_cron */
	int64_t next_wall;            /* wall time of the next cycle, 0: none planned */
	int64_t watch_mono, watch_off;  /* the last tick: monotonic, wall - monotonic */
	int64_t last_match;           /* wall time the last cycle was planned for, INT64_MIN: none */
	uint64_t next_cycle_id;
	struct cycle *cycles;         /* live cycles, newest first */
	struct cycle *cur;            /* the one whose plan is being started */
	double tokens, rate;
	int64_t tokens_at;
	struct keynode *running_set[KEY_BUCKETS];
	struct keynode *dns[KEY_BUCKETS];

	/* read by other threads */
	_Atomic uint64_t st_cycles, st_started, st_ok, st_failed, st_skipped;
	pthread_mutex_t done_lock;
	pthread_cond_t done_cond;

	/* resolver pool */
	pthread_t resolvers[RESOLVERS];
	pthread_mutex_t rlock;
	pthread_cond_t rcond;
	struct job *rhead, **rtail;

	/* the small ones together (no padding between them) */
	int nws;
	uint32_t running;
	uint32_t max_concurrent;
	_Atomic uint32_t st_running;  /* read by other threads */
	bool have_cron;
	bool stopping;
	bool once_done;               /* under done_lock */
	bool rstop;                   /* under rlock */
};

/* ---- target sets ------------------------------------------------------- */

struct tset *tset_new(struct config *cfg, uint64_t generation)
{
	struct tset *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cfg = cfg;
	t->generation = generation;
	atomic_init(&t->refs, 1);
	return t;
}

void tset_get(struct tset *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void tset_put(struct tset *t)
{
	if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
		config_free(t->cfg);
		free(t);
	}
}

/* ---- small helpers ------------------------------------------------------ */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
	/* final mix so that nearby keys land far apart */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static const char *mode_name(enum session_mode m)
{
	return m == SESSION_LIGHT ? "light" : m == SESSION_STAMP ? "stamp" : "control";
}

static struct keynode **key_find(struct keynode **tab, const char *key, uint64_t h)
{
	struct keynode **pp = &tab[h % KEY_BUCKETS];

	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static int key_add(struct keynode **tab, const char *key, uint64_t h, struct keynode **out)
{
	struct keynode *n = calloc(1, sizeof(*n));

	if (!n || !(n->key = strdup(key))) {
		free(n);
		return -1;
	}
	n->next = tab[h % KEY_BUCKETS];
	tab[h % KEY_BUCKETS] = n;
	if (out)
		*out = n;
	return 0;
}

static void key_del(struct keynode **tab, const char *key, uint64_t h)
{
	struct keynode **pp = key_find(tab, key, h), *n = *pp;

	if (n) {
		*pp = n->next;
		free(n->key);
		free(n);
	}
}

static void key_clear(struct keynode **tab)
{
	for (int i = 0; i < KEY_BUCKETS; i++)
		while (tab[i]) {
			struct keynode *n = tab[i];

			tab[i] = n->next;
			free(n->key);
			free(n);
		}
}

/* ---- records ------------------------------------------------------------ */

static const char *short_reason(const struct job *j, const struct session_info *info)
{
	if (j->dns_error)
		return "dns";
	switch (info->status) {
	case SESSION_OK:
		return NULL;
	case SESSION_ERR_UNREACHABLE:
		return "unreachable";
	case SESSION_ERR_REFUSED:
		return "refused";
	case SESSION_ERR_TIMEOUT:
		return "timeout";
	case SESSION_ERR_MODE:
		return "mode";
	case SESSION_ERR_DENIED:
		return "denied";
	case SESSION_ERR_SESSION:
		return "session";
	case SESSION_ERR_PROTOCOL:
		return "protocol";
	case SESSION_ERR_CLOSED:
		return "closed";
	case SESSION_ERR_ABORTED:
		return "aborted";
	default:
		return "local";
	}
}

/* The record of a job's test session k (0: the first; k > 0: j->more[k - 1]). */
static struct record *job_record(struct scheduler *sc, const struct job *j, unsigned k)
{
	const struct config_target *t = j->t;
	const struct config *cfg = j->cy->ts->cfg;
	const struct session_info *info = k ? &j->more[k - 1].info : &j->info;
	const struct stats_summary *sum = k ? &j->more[k - 1].sum : &j->sum;
	bool have_sum = k ? j->more[k - 1].have_sum : j->have_sum;
	struct record *r = record_new(RECORD_TARGET);
	char a[INET6_ADDRSTRLEN];
	int e = 0;

	if (!r)
		return NULL;
	r->reachable = j->ran && info->status == SESSION_OK;
	r->timestamp = j->ran && info->start_time ? info->start_time : j->planned;
	e |= record_set(&r->from_host, sc->o.probe_name);
	if (j->ran && info->local_test.ss_family != AF_UNSPEC)
		e |= record_set(&r->from_addr, tsock_addr_str(&info->local_test, a, sizeof(a)));
	e |= record_set(&r->to_host, t->ip);
	if (j->resolved)
		e |= record_set(&r->to_addr, tsock_addr_str(&j->addr, a, sizeof(a)));
	r->to_port = t->port;
	r->dscp = k ? j->more[k - 1].dscp : t->dscp;
	r->mode = mode_name(t->mode);
	r->security = j->ran ? session_security_name(info, t->mode) : NULL;
	e |= record_set(&r->error, short_reason(j, info));
	e |= record_set(&r->custom_comment, t->custom_comment);
	e |= record_set(&r->custom_id, t->custom_id);
	e |= record_set(&r->description, t->description);
	e |= record_set(&r->tags, t->tags);
	r->has_geo = t->has_geo;
	r->latitude = t->latitude;
	r->longitude = t->longitude;
	e |= record_set(&r->probe_description, cfg->local.description);
	e |= record_set(&r->probe_tags, cfg->local.tags);
	if (r->reachable && have_sum) {
		r->sum = *sum;
		r->clock_sync = sum->sync;
		r->has_late = sum->sent > 0;
		r->send_late_p99 = info->late_p99;
		r->foreign_pkt = info->foreign;
	}
	/* where T1 and T4 came from: both kernel, one of them, or neither */
	r->timestamp_source = info->kernel_rx && info->kernel_tx ? "kernel"
			      : info->kernel_rx ? "rx-kernel"
			      : info->kernel_tx ? "tx-kernel"
						: "user";
	if (e) {
		record_free(r);
		return NULL;
	}
	return r;
}

static void submit_record(struct scheduler *sc, struct record *r)
{
	if (!r) {
		LOG_RL(LOGL_ERR, 10, "out of memory: a record was lost");
		return;
	}
	sender_submit(sc->o.sender, r);
}

/* ---- cycles (scheduler thread) ---------------------------------------- */

static void pump(struct scheduler *sc);

/*
 * The health file: one line "<cycle end, Unix s> <cycle> <period, s>", written
 * to a temporary name and renamed, read by `twamp-client health` (the
 * container's HEALTHCHECK).
 */
static void write_health(struct scheduler *sc, const struct cycle *cy)
{
	char tmp[4200];
	struct cron cr;
	char err[128];
	int64_t period = 0, now = ntptime_now();
	FILE *f;

	if (!sc->o.health_path)
		return;
	if (cron_parse(cy->ts->cfg->probe.schedule, &cr, err, sizeof(err)) == 0)
		period = cron_period(&cr, now);
	snprintf(tmp, sizeof(tmp), "%s.tmp", sc->o.health_path);
	f = fopen(tmp, "w");
	if (!f) {
		LOG_RL(LOGL_WARN, 3600, "cannot write %s: %m", tmp);
		return;
	}
	fprintf(f, "%.3f %llu %.0f\n", ntptime_to_sec(now), (unsigned long long)cy->id,
		ntptime_to_sec(period));
	if (fclose(f) != 0 || rename(tmp, sc->o.health_path) != 0)
		LOG_RL(LOGL_WARN, 3600, "cannot write %s: %m", sc->o.health_path);
}

static void cycle_maybe_end(struct scheduler *sc, struct cycle *cy)
{
	struct record *r;
	struct sender_stats ss;
	struct cycle **pp;

	if (cy->outstanding || cy->cursor < cy->nplan)
		return;
	sender_get_stats(sc->o.sender, &ss);
	r = record_new(RECORD_PROBE);
	if (r) {
		r->timestamp = cy->start;
		record_set(&r->from_host, sc->o.probe_name);
		record_set(&r->probe_description, cy->ts->cfg->local.description);
		record_set(&r->probe_tags, cy->ts->cfg->local.tags);
		r->reachable = true;
		r->probe.cycle = cy->id;
		r->probe.targets = cy->nplan;
		r->probe.ok = cy->ok;
		r->probe.failed = cy->failed;
		r->probe.skipped = cy->skipped;
		r->probe.duration = (cy->last_done ? cy->last_done : ntptime_mono()) - cy->start_mono;
		r->probe.queue_depth = ss.queued;
		r->probe.spool_bytes = ss.spool_bytes;
		r->probe.dropped = ss.dropped;
		r->probe.config_errors = sc->o.config_errors ? atomic_load(sc->o.config_errors) : 0;
	}
	log_info("cycle %llu: %u target%s, %u ok, %u failed, %u skipped, %.1f s, %llu record%s queued, "
		 "%llu byte%s spooled",
		 (unsigned long long)cy->id, cy->nplan, log_s(cy->nplan), cy->ok, cy->failed, cy->skipped,
		 ntptime_to_sec((cy->last_done ? cy->last_done : ntptime_mono()) - cy->start_mono),
		 (unsigned long long)ss.queued, log_s(ss.queued), (unsigned long long)ss.spool_bytes,
		 log_s(ss.spool_bytes));
	submit_record(sc, r);
	write_health(sc, cy);
	for (pp = &sc->cycles; *pp; pp = &(*pp)->next)
		if (*pp == cy) {
			*pp = cy->next;
			break;
		}
	if (sc->cur == cy)
		sc->cur = NULL;
	tset_put(cy->ts);
	free(cy->plan);
	free(cy);
	if (sc->o.once) {
		pthread_mutex_lock(&sc->done_lock);
		sc->once_done = true;
		pthread_cond_broadcast(&sc->done_cond);
		pthread_mutex_unlock(&sc->done_lock);
	}
}

/*
 * Stop starting what is left of a cycle's plan: the rest is skipped.  Only
 * when the next cycle came first is that a sign of too little room
 * (MaxConcurrentSessions, ConnectRate); a shutdown mid-cycle is not.
 */
static void cycle_truncate(struct scheduler *sc, struct cycle *cy, bool shutdown)
{
	uint32_t left = cy->nplan - cy->cursor;

	if (left) {
		if (shutdown)
			log_info("cycle %llu: shutting down: %u target%s not started", (unsigned long long)cy->id,
				 left, log_s(left));
		else
			log_warn("cycle %llu: %u target%s not started before the next cycle; raise "
				 "MaxConcurrentSessions or ConnectRate", (unsigned long long)cy->id, left,
				 log_s(left));
		cy->skipped += left;
		atomic_fetch_add(&sc->st_skipped, left);
		cy->cursor = cy->nplan;
	}
	cycle_maybe_end(sc, cy);
}

static int cmp_plan(const void *a, const void *b)
{
	const struct plan_entry *x = a, *y = b;

	return (x->due > y->due) - (x->due < y->due);
}

/* What siblings share: entries measuring one IP, port and mode (another DSCP...). */
static uint64_t path_hash(const struct config_target *t)
{
	char path[512];

	snprintf(path, sizeof(path), "%s|%u|%s", t->ip, t->port, mode_name(t->mode));
	return fnv1a(path);
}

struct sib {
	uint64_t h;
	uint32_t i;
};

static int cmp_sib(const void *a, const void *b)
{
	const struct sib *x = a, *y = b;

	if (x->h != y->h)
		return (x->h > y->h) - (x->h < y->h);
	return (x->i > y->i) - (x->i < y->i);
}

/*
 * The k-th of n siblings (entries for the same IP, port and mode, e.g. one
 * per DSCP) is placed k*w/n after the first, wrapping, so that siblings are
 * spread evenly instead of starting at the same instant.  Out of memory,
 * siblings fall back to the path hash alone (they start together).
 */
void sched_plan_offsets(const struct config *cfg, int64_t w, int64_t *off)
{
	size_t n = cfg->ntargets;
	struct sib *sb;

	for (size_t i = 0; i < n; i++)
		off[i] = 0;
	if (w <= 0 || !n)
		return;
	sb = calloc(n, sizeof(*sb));
	for (size_t i = 0; i < n; i++) {
		uint64_t h = path_hash(&cfg->targets[i]);

		off[i] = (int64_t)(h % (uint64_t)w);
		if (sb) {
			sb[i].h = h;
			sb[i].i = (uint32_t)i;
		}
	}
	if (!sb)
		return;
	qsort(sb, n, sizeof(*sb), cmp_sib);
	for (size_t a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && sb[b].h == sb[a].h; b++)
			;
		for (size_t k = 1; k < b - a; k++) {
			uint64_t o = (sb[a].h % (uint64_t)w + (uint64_t)w / (b - a) * k) % (uint64_t)w;

			off[sb[a + k].i] = (int64_t)o;
		}
	}
	free(sb);
}

/* Arm the cycle timer for next_wall at the present wall - monotonic offset. */
static void arm_cycle(struct scheduler *sc)
{
	int64_t off = ntptime_wall_offset();

	if (!sc->next_wall || sc->next_wall == INT64_MAX)
		return;
	wk_timer_arm(sc->wk, &sc->cycle_timer, sc->next_wall - off);
}

/* Plan the next cycle after wall time `after` (see cron_replan). */
static void plan_next(struct scheduler *sc, int64_t after)
{
	if (!sc->have_cron)
		return;
	sc->next_wall = cron_replan(&sc->cron, after, sc->last_match);
	arm_cycle(sc);
}

static void watch_timer_cb(struct wk_timer *t)
{
	struct scheduler *sc = (struct scheduler *)((char *)t - offsetof(struct scheduler, watch_timer));
	int64_t mono = ntptime_mono(), off = ntptime_wall_offset();

	if (sc->stopping)
		return;
	if (ntptime_stepped(sc->watch_off, off, mono - sc->watch_mono)) {
		/* plan from the last tick before the step, in the new clock's terms: a
		 * match between it and now is due at once, not skipped */
		int64_t after = sc->watch_mono + off;
		char when[40];

		plan_next(sc, after);
		ntptime_format_iso(sc->next_wall, when, sizeof(when));
		log_warn("the wall clock stepped by %+.3f s: next cycle planned from the new time, at %sZ",
			 ntptime_to_sec(off - sc->watch_off), when);
	} else {
		arm_cycle(sc); /* follow the slewing */
	}
	sc->watch_mono = mono;
	sc->watch_off = off;
	wk_timer_arm(sc->wk, t, mono + NS_PER_SEC);
}

static void cycle_begin(struct scheduler *sc)
{
	struct tset *ts;
	struct cycle *cy;
	const struct config *cfg;
	struct cron cr;
	char err[128];
	int64_t now = ntptime_now(), mono = ntptime_mono(), window = 0;

	if (sc->cur)
		cycle_truncate(sc, sc->cur, false);
	rcuptr_read_begin();
	ts = rcuptr_read((void **)sc->o.current);
	if (ts)
		tset_get(ts);
	rcuptr_read_end();
	if (!ts)
		return;
	cfg = ts->cfg;
	cy = calloc(1, sizeof(*cy));
	if (!cy || (cfg->ntargets && !(cy->plan = calloc(cfg->ntargets, sizeof(*cy->plan))))) {
		log_err("out of memory planning a cycle of %zu targets", cfg->ntargets);
		free(cy);
		tset_put(ts);
		return;
	}
	cy->id = ++sc->next_cycle_id;
	cy->start = now;
	cy->start_mono = mono;
	cy->ts = ts;
	cy->nplan = (uint32_t)cfg->ntargets;
	sc->max_concurrent = cfg->probe.max_concurrent ? cfg->probe.max_concurrent : 1000;
	sc->rate = cfg->probe.connect_rate ? cfg->probe.connect_rate : 2000;
	if (cron_parse(cfg->probe.schedule, &cr, err, sizeof(err)) < 0) {
		log_err("Probe.Schedule: %s", err); /* validated at load: cannot happen */
		cr.minutes = 0;
	}
	if (!sc->o.once) {
		/* spread starts over the cycle, leaving room for the longest session */
		int64_t period = cron_period(&cr, now);
		int64_t longest = 0;

		for (size_t i = 0; i < cfg->ntargets; i++) {
			const struct config_target *t = &cfg->targets[i];
			int64_t d = (int64_t)t->packet_count * t->interval + cfg->probe.loss_timeout;

			longest = d > longest ? d : longest;
		}
		window = period - longest - 15 * NS_PER_SEC;
		if (window < 0)
			window = 0;
	}
	/* offsets from now; out of memory for them, everything starts now */
	{
		int64_t *off = cfg->ntargets ? calloc(cfg->ntargets, sizeof(*off)) : NULL;

		if (off)
			sched_plan_offsets(cfg, window, off);
		for (size_t i = 0; i < cfg->ntargets; i++) {
			cy->plan[i].t = &cfg->targets[i];
			cy->plan[i].due = mono + (off ? off[i] : 0);
		}
		free(off);
	}
	if (window && cy->nplan) /* without targets plan is NULL, which qsort may not get */
		qsort(cy->plan, cy->nplan, sizeof(*cy->plan), cmp_plan);
	cy->next = sc->cycles;
	sc->cycles = cy;
	sc->cur = cy;
	atomic_fetch_add(&sc->st_cycles, 1);
	log_info("cycle %llu: %u target%s, starts spread over %.0f s", (unsigned long long)cy->id,
		 cy->nplan, log_s(cy->nplan), ntptime_to_sec(window));
	if (!sc->o.once) {
		/* from the match just run: the timer may fire a slewed few ms early */
		sc->cron = cr;
		sc->have_cron = true;
		sc->last_match = sc->next_wall ? sc->next_wall : now;
		plan_next(sc, now > sc->next_wall ? now : sc->next_wall);
	}
	cycle_maybe_end(sc, cy); /* an empty target list ends at once */
	pump(sc);
}

static void cycle_timer_cb(struct wk_timer *t)
{
	struct scheduler *sc = (struct scheduler *)((char *)t - offsetof(struct scheduler, cycle_timer));

	if (!sc->stopping)
		cycle_begin(sc);
}

/* ---- dispatch (scheduler thread) ---------------------------------------- */

static void job_complete(struct worker *wk, void *arg);

static void finish_job(struct scheduler *sc, struct job *j)
{
	struct cycle *cy = j->cy;
	bool any_ok = j->ran && j->info.status == SESSION_OK;

	submit_record(sc, job_record(sc, j, 0));
	for (unsigned k = 1; k <= j->nmore; k++) {
		submit_record(sc, job_record(sc, j, k));
		/* a target with several DSCPs is measured when one of them was (each record says which) */
		any_ok |= j->ran && j->more[k - 1].info.status == SESSION_OK;
	}
	if (any_ok) {
		cy->ok++;
		atomic_fetch_add(&sc->st_ok, 1);
	} else {
		cy->failed++;
		atomic_fetch_add(&sc->st_failed, 1);
	}
	cy->last_done = ntptime_mono();
	key_del(sc->running_set, j->key, j->hash);
	sc->running--;
	atomic_store(&sc->st_running, sc->running);
	if (j->ws)
		j->ws->active--;
	cy->outstanding--;
	free(j->key);
	free(j->more);
	free(j);
	cycle_maybe_end(sc, cy);
}

static void worker_start_job(struct worker *wk, void *arg);

static void to_worker(struct scheduler *sc, struct job *j)
{
	struct wslot *best = &sc->ws[0];

	for (int i = 1; i < sc->nws; i++)
		if (sc->ws[i].active < best->active)
			best = &sc->ws[i];
	j->ws = best;
	best->active++;
	j->params.server = j->addr;
	tsock_addr_set_port(&j->params.server, j->t->port);
	if (wk_submit(best->wk, worker_start_job, j) < 0) {
		j->info.status = SESSION_ERR_LOCAL;
		finish_job(sc, j);
	}
}

static void resolver_enqueue(struct scheduler *sc, struct job *j)
{
	pthread_mutex_lock(&sc->rlock);
	j->rnext = NULL;
	*sc->rtail = j;
	sc->rtail = &j->rnext;
	pthread_cond_signal(&sc->rcond);
	pthread_mutex_unlock(&sc->rlock);
}

static int literal_addr(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

static void launch(struct scheduler *sc, struct cycle *cy, const struct config_target *t)
{
	const struct config *cfg = cy->ts->cfg;
	const char *key = t->key;  /* the whole entry: a sibling (another DSCP...) is not itself */
	uint64_t h;
	struct job *j;
	struct keynode *dn;

	h = fnv1a(key);
	if (*key_find(sc->running_set, key, h)) {
		/* its previous session still runs: never overlap an entry with itself */
		cy->skipped++;
		atomic_fetch_add(&sc->st_skipped, 1);
		LOG_RL(LOGL_WARN, 60, "target %s port %u %s DSCP %d skipped in cycle %llu: its previous "
		       "session still runs", t->ip, t->port, mode_name(t->mode), t->dscp,
		       (unsigned long long)cy->id);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j || key_add(sc->running_set, key, h, NULL) < 0 || !(j->key = strdup(key))) {
		if (j)
			key_del(sc->running_set, key, h);
		free(j);
		cy->failed++;
		LOG_RL(LOGL_ERR, 10, "out of memory starting a session to %s", t->ip);
		return;
	}
	j->sc = sc;
	j->cy = cy;
	j->t = t;
	j->hash = h;
	j->planned = ntptime_now();
	session_params_default(&j->params);
	j->params.mode = t->mode;
	j->params.count = t->packet_count;
	j->params.interval = t->interval;
	j->params.padding = t->padding == CONFIG_PADDING_DEFAULT ? SESSION_PADDING_DEFAULT : t->padding;
	j->params.dscp = t->dscp;
	j->params.nstreams = t->dscps.n ? t->dscps.n : 1;
	for (unsigned k = 0; k < j->params.nstreams && k < SESSION_MAX_STREAMS; k++)
		j->params.stream_dscp[k] = t->dscps.v[k];
	j->params.allowed_modes = t->allowed_modes ? t->allowed_modes : WIRE_MODE_OPEN;
	if (t->secret_len) {
		snprintf(j->params.keyid, sizeof(j->params.keyid), "%s", t->keyid);
		j->params.secret = t->secret;  /* the target set outlives its sessions */
		j->params.secret_len = t->secret_len;
	}
	j->params.loss_timeout = cfg->probe.loss_timeout;
	j->params.kdf_count_max = cfg->probe.kdf_count_max;
	j->params.seed = h ^ cy->id;
	j->params.ssid = (uint16_t)(h | 1);
	/* as the original ran twping -Z: probes often sit behind NAT (Docker's bridge) */
	j->params.zero_addr = true;
	sc->running++;
	atomic_store(&sc->st_running, sc->running);
	atomic_fetch_add(&sc->st_started, 1);
	cy->outstanding++;

	if (literal_addr(t->ip, &j->addr) == 0) {
		j->resolved = true;
		to_worker(sc, j);
		return;
	}
	dn = *key_find(sc->dns, t->ip, fnv1a(t->ip));
	if (dn && dn->cycle == cy->id) {
		if (dn->error) {
			j->dns_error = dn->error;
			finish_job(sc, j);
		} else {
			j->addr = dn->addr;
			j->resolved = true;
			to_worker(sc, j);
		}
		return;
	}
	resolver_enqueue(sc, j);
}

static void pump(struct scheduler *sc)
{
	struct cycle *cy = sc->cur;
	int64_t now = ntptime_mono();

	if (sc->stopping || !cy)
		return;
	while (cy->cursor < cy->nplan) {
		struct plan_entry *e = &cy->plan[cy->cursor];

		if (e->due > now) {
			wk_timer_arm(sc->wk, &sc->start_timer, e->due);
			return;
		}
		if (sc->running >= sc->max_concurrent)
			return; /* a completion pumps again */
		sc->tokens += ntptime_to_sec(now - sc->tokens_at) * sc->rate;
		sc->tokens_at = now;
		if (sc->tokens > sc->rate / 10 + 1)
			sc->tokens = sc->rate / 10 + 1;  /* bursts of at most 100 ms worth */
		if (sc->tokens < 1) {
			wk_timer_arm(sc->wk, &sc->start_timer,
				     now + (int64_t)((1 - sc->tokens) / sc->rate * 1e9) + 1);
			return;
		}
		sc->tokens -= 1;
		cy->cursor++;
		launch(sc, cy, e->t);
		if (sc->cur != cy)
			return; /* the cycle ended inside launch */
		now = ntptime_mono();
	}
	cycle_maybe_end(sc, cy);
}

static void start_timer_cb(struct wk_timer *t)
{
	pump((struct scheduler *)((char *)t - offsetof(struct scheduler, start_timer)));
}

/* A job back from a worker or a resolver. */
static void job_complete(struct worker *wk, void *arg)
{
	struct job *j = arg;
	struct scheduler *sc = j->sc;

	(void)wk;
	finish_job(sc, j);
	pump(sc);
}

static void job_resolved(struct worker *wk, void *arg)
{
	struct job *j = arg;
	struct scheduler *sc = j->sc;
	uint64_t h = fnv1a(j->t->ip);
	struct keynode **pp = key_find(sc->dns, j->t->ip, h), *dn = *pp;

	(void)wk;
	if (!dn && key_add(sc->dns, j->t->ip, h, &dn) < 0)
		dn = NULL;
	if (dn) {
		dn->cycle = j->cy->id;
		dn->error = j->dns_error;
		dn->addr = j->addr;
	}
	if (j->dns_error || sc->stopping) {
		if (j->dns_error)
			LOG_RL(LOGL_WARN, 60, "target %s: cannot resolve: %s", j->t->ip,
			       gai_strerror(j->dns_error));
		finish_job(sc, j);
		pump(sc);
		return;
	}
	to_worker(sc, j);
}

static void *resolver_main(void *arg)
{
	struct scheduler *sc = arg;

	for (;;) {
		struct job *j;
		struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
		int rc;

		pthread_mutex_lock(&sc->rlock);
		while (!sc->rhead && !sc->rstop)
			pthread_cond_wait(&sc->rcond, &sc->rlock);
		if (sc->rstop) {
			pthread_mutex_unlock(&sc->rlock);
			return NULL;
		}
		j = sc->rhead;
		sc->rhead = j->rnext;
		if (!sc->rhead)
			sc->rtail = &sc->rhead;
		pthread_mutex_unlock(&sc->rlock);

		rc = getaddrinfo(j->t->ip, NULL, &hints, &res);
		if (rc == 0) {
			memset(&j->addr, 0, sizeof(j->addr));
			memcpy(&j->addr, res->ai_addr, res->ai_addrlen);
			j->resolved = true;
			freeaddrinfo(res);
		} else {
			j->dns_error = rc;
		}
		wk_submit(sc->wk, job_resolved, j);
	}
}

/* ---- worker side -------------------------------------------------------- */

static void free_session_job(struct worker *wk, void *arg)
{
	(void)wk;
	session_free(arg);
}

static void on_session_done(struct session *s, void *ctx)
{
	struct job *j = ctx;
	struct wslot *ws = j->ws;

	j->ran = true;
	j->info = *session_info(s);
	j->have_sum = j->info.status == SESSION_OK && session_summarize(s, &j->sum) == 0;
	if (session_nstreams(s) > 1) {
		/* once per session, not per packet */
		j->more = calloc(session_nstreams(s) - 1, sizeof(*j->more));
		if (!j->more)
			LOG_RL(LOGL_ERR, 10, "out of memory: the records of %u test session%s are lost",
			       session_nstreams(s) - 1, log_s(session_nstreams(s) - 1));
		for (unsigned k = 1; j->more && k < session_nstreams(s); k++) {
			const struct session *st = session_stream(s, k);
			struct stream_result *m = &j->more[k - 1];

			m->info = *session_info(st);
			m->dscp = session_params(st)->dscp;
			m->have_sum = m->info.status == SESSION_OK &&
				      session_summarize(st, &m->sum) == 0;
			j->nmore = k;
		}
	}
	if (j->wprev)
		j->wprev->wnext = j->wnext;
	else
		ws->jobs = j->wnext;
	if (j->wnext)
		j->wnext->wprev = j->wprev;
	j->s = NULL;
	/* on_done must not free its session: do it from the next loop turn */
	wk_submit(ws->wk, free_session_job, s);
	wk_submit(j->sc->wk, job_complete, j);
}

static void worker_start_job(struct worker *wk, void *arg)
{
	struct job *j = arg;

	j->params.on_done = on_session_done;
	j->params.ctx = j;
	j->s = session_start(wk, &j->params);
	if (!j->s) {
		j->info.status = SESSION_ERR_LOCAL;
		wk_submit(j->sc->wk, job_complete, j);
		return;
	}
	j->wprev = NULL;
	j->wnext = j->ws->jobs;
	if (j->wnext)
		j->wnext->wprev = j;
	j->ws->jobs = j;
}

static void worker_abort_all(struct worker *wk, void *arg)
{
	struct wslot *ws = arg;

	(void)wk;
	for (struct job *j = ws->jobs; j; j = j->wnext)
		if (j->s)
			session_abort(j->s);
}

/* ---- start / stop --------------------------------------------------------- */

static void sched_first_cycle(struct worker *wk, void *arg)
{
	struct scheduler *sc = arg;
	struct tset *ts;
	struct cron cr;
	char err[128];

	(void)wk;
	sc->tokens_at = ntptime_mono();
	sc->tokens = 1;
	if (sc->o.once) {
		cycle_begin(sc);
		return;
	}
	rcuptr_read_begin();
	ts = rcuptr_read((void **)sc->o.current);
	if (ts && cron_parse(ts->cfg->probe.schedule, &cr, err, sizeof(err)) == 0) {
		rcuptr_read_end();
		sc->cron = cr;
		sc->have_cron = true;
		sc->watch_mono = ntptime_mono();
		sc->watch_off = ntptime_wall_offset();
		wk_timer_arm(sc->wk, &sc->watch_timer, sc->watch_mono + NS_PER_SEC);
		plan_next(sc, ntptime_now());
		log_info("first cycle at the next match of the schedule, in %.0f s",
			 ntptime_to_sec(sc->next_wall - ntptime_now()));
		return;
	}
	rcuptr_read_end();
}

static void *sched_thread(void *arg)
{
	struct scheduler *sc = arg;

	pthread_setname_np(pthread_self(), "scheduler");
	rcuptr_thread_online();
	wk_run(sc->wk);
	rcuptr_thread_offline();
	return NULL;
}

static pthread_t sched_tid;

struct scheduler *sched_start(const struct sched_opts *o)
{
	struct scheduler *sc = calloc(1, sizeof(*sc));
	int ncpu = wk_ncpus();

	if (!sc)
		return NULL;
	sc->o = *o;
	pthread_mutex_init(&sc->done_lock, NULL);
	pthread_cond_init(&sc->done_cond, NULL);
	pthread_mutex_init(&sc->rlock, NULL);
	pthread_cond_init(&sc->rcond, NULL);
	sc->rtail = &sc->rhead;
	sc->max_concurrent = 1000;
	sc->rate = 2000;
	wk_timer_init(&sc->cycle_timer, cycle_timer_cb);
	wk_timer_init(&sc->start_timer, start_timer_cb);
	wk_timer_init(&sc->watch_timer, watch_timer_cb);
	sc->last_match = INT64_MIN;
	sc->wk = wk_create(-1, -1, 64);
	sc->nws = o->nworkers > 0 ? o->nworkers : 1;
	sc->ws = calloc((size_t)sc->nws, sizeof(*sc->ws));
	if (!sc->wk || !sc->ws)
		goto fail;
	for (int i = 0; i < sc->nws; i++) {
		int cpu = o->ncpus > 0 ? o->cpus[i % o->ncpus] : i % ncpu;

		sc->ws[i].sc = sc;
		sc->ws[i].idx = i;
		sc->ws[i].wk = wk_create(i, cpu, 4096);
		if (!sc->ws[i].wk || wk_start(sc->ws[i].wk) < 0)
			goto fail;
	}
	for (int i = 0; i < RESOLVERS; i++)
		pthread_create(&sc->resolvers[i], NULL, resolver_main, sc);
	wk_submit(sc->wk, sched_first_cycle, sc);
	if (pthread_create(&sched_tid, NULL, sched_thread, sc) != 0)
		goto fail;
	log_info("scheduler: %d worker%s%s", sc->nws, log_s((uint64_t)sc->nws),
		 o->once ? ", one cycle (--once)" : "");
	return sc;
fail:
	log_err("cannot start the scheduler and its workers");
	exit(1);
}

void sched_wait_once(struct scheduler *sc)
{
	pthread_mutex_lock(&sc->done_lock);
	while (!sc->once_done)
		pthread_cond_wait(&sc->done_cond, &sc->done_lock);
	pthread_mutex_unlock(&sc->done_lock);
}

bool sched_once_done(struct scheduler *sc)
{
	bool d;

	pthread_mutex_lock(&sc->done_lock);
	d = sc->once_done;
	pthread_mutex_unlock(&sc->done_lock);
	return d;
}

static void sched_stop_job(struct worker *wk, void *arg)
{
	struct scheduler *sc = arg;

	(void)wk;
	sc->stopping = true;
	wk_timer_cancel(sc->wk, &sc->cycle_timer);
	wk_timer_cancel(sc->wk, &sc->start_timer);
	wk_timer_cancel(sc->wk, &sc->watch_timer);
	if (sc->cur)
		cycle_truncate(sc, sc->cur, true);
}

static void wait_running(struct scheduler *sc, int64_t until)
{
	const struct timespec step = { .tv_nsec = 20 * NS_PER_MS };

	while (atomic_load(&sc->st_running) > 0 && ntptime_mono() < until)
		nanosleep(&step, NULL); /* not usleep(): obsolescent, gone from POSIX.1-2008 */
}

void sched_stop(struct scheduler *sc, int64_t grace)
{
	wk_submit(sc->wk, sched_stop_job, sc);
	wait_running(sc, ntptime_mono() + grace);
	if (atomic_load(&sc->st_running) > 0) {
		log_info("aborting %u running session%s", atomic_load(&sc->st_running),
			 log_s(atomic_load(&sc->st_running)));
		for (int i = 0; i < sc->nws; i++)
			wk_submit(sc->ws[i].wk, worker_abort_all, &sc->ws[i]);
		wait_running(sc, ntptime_mono() + 3 * NS_PER_SEC);
	}
	/* jobs still with the resolvers come back as "dns" or are dropped below */
	pthread_mutex_lock(&sc->rlock);
	sc->rstop = true;
	pthread_cond_broadcast(&sc->rcond);
	pthread_mutex_unlock(&sc->rlock);
	for (int i = 0; i < RESOLVERS; i++)
		pthread_join(sc->resolvers[i], NULL);
	for (int i = 0; i < sc->nws; i++) {
		wk_stop(sc->ws[i].wk);
		wk_join(sc->ws[i].wk);
	}
	wk_stop(sc->wk);
	pthread_join(sched_tid, NULL);
	if (atomic_load(&sc->st_running) > 0)
		log_warn("%u session%s did not end in time: their records are lost",
			 atomic_load(&sc->st_running), log_s(atomic_load(&sc->st_running)));
	for (int i = 0; i < sc->nws; i++) {
		for (struct job *j = sc->ws[i].jobs; j;) {
			struct job *n = j->wnext;

			session_free(j->s);
			free(j->key);
			free(j);
			j = n;
		}
		wk_destroy(sc->ws[i].wk);
	}
	while (sc->rhead) {
		struct job *j = sc->rhead;

		sc->rhead = j->rnext;
		free(j->key);
		free(j);
	}
	wk_destroy(sc->wk);
	while (sc->cycles) {
		struct cycle *cy = sc->cycles;

		sc->cycles = cy->next;
		tset_put(cy->ts);
		free(cy->plan);
		free(cy);
	}
	key_clear(sc->running_set);
	key_clear(sc->dns);
	pthread_mutex_destroy(&sc->done_lock);
	pthread_cond_destroy(&sc->done_cond);
	pthread_mutex_destroy(&sc->rlock);
	pthread_cond_destroy(&sc->rcond);
	free(sc->ws);
	free(sc);
}

void sched_get_stats(struct scheduler *sc, struct sched_stats *o)
{
	o->cycles = atomic_load(&sc->st_cycles);
	o->started = atomic_load(&sc->st_started);
	o->ok = atomic_load(&sc->st_ok);
	o->failed = atomic_load(&sc->st_failed);
	o->skipped = atomic_load(&sc->st_skipped);
	o->running = atomic_load(&sc->st_running);
}
