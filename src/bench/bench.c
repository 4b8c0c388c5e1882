/*
 * bench: the load ramp.  Threads and ownership: see include/bench.h (DESIGN).
 * Code marked "worker thread" runs on a session's worker; everything else
 * runs on the thread that called bench_run().
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "ntptime.h"
#include "stats.h"
#include "worker.h"

/* At most this many packets in one step (16 octets of samples each). */
#define BENCH_MAX_STEP_PACKETS 50000000ULL

enum slot_state { SLOT_IDLE, SLOT_RUNNING, SLOT_DONE };

struct step_run;

struct slot {
	struct step_run *run;
	struct worker *wk;
	uint32_t idx;
	struct wk_timer start_timer;
	int64_t start_at;             /* CLOCK_MONOTONIC (a worker timer) */
	struct session *s;
	enum slot_state state;        /* worker thread until done */
	int64_t called;               /* session_start() time */
	/* results, written by the worker before the slot is counted done */
	enum session_status status;
	char error[256];
	uint32_t sent, received, dups, late, nsamples;
	int64_t setup;                /* ns, -1 unknown */
	int64_t first_send, last_send;
};

struct step_run {
	const struct bench_opts *o;
	struct session_params p;      /* template with count and interval */
	struct slot *slots;
	uint32_t n;
	int64_t *rtt, *proc;          /* n * p.count each; slot i owns [i*count, (i+1)*count) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint32_t done;                /* under lock */
	uint32_t freed;               /* under lock: workers that freed their sessions */
};

static volatile sig_atomic_t bench_signal;

static void bench_on_signal(int sig)
{
	bench_signal = sig;
}

void bench_opts_default(struct bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	session_params_default(&o->tmpl);
	o->tmpl.loss_timeout = NS_PER_SEC;
	o->sessions = 10;
	o->rate = 1000;
	o->hold = 5 * NS_PER_SEC;
	o->max_time = 300 * NS_PER_SEC;
	o->max_loss = 1.0;
	o->max_inflation = 10.0;
}

/* ---- worker thread --------------------------------------------------------- */

static void slot_done(struct slot *sl)
{
	struct step_run *run = sl->run;

	sl->state = SLOT_DONE;
	pthread_mutex_lock(&run->lock);
	run->done++;
	pthread_cond_signal(&run->cond);
	pthread_mutex_unlock(&run->lock);
}

static void slot_session_done(struct session *s, void *ctx)
{
	struct slot *sl = ctx;
	struct step_run *run = sl->run;
	const struct session_info *in = session_info(s);
	const struct stats *st = session_stats(s);
	size_t off = (size_t)sl->idx * run->p.count;

	sl->status = in->status;
	if (in->status != SESSION_OK)
		snprintf(sl->error, sizeof(sl->error), "%.250s", in->error);
	sl->sent = st->sent;
	sl->dups = st->dups_fwd + st->dups_bck;
	for (uint32_t i = 0; i < st->sent && st->pkt; i++)
		sl->late += st->pkt[i].late;
	if (st->pkt && st->npackets == run->p.count) {
		sl->nsamples = stats_samples(st, run->rtt + off, run->proc + off);
		sl->received = sl->nsamples;
		if (st->sent) {
			/* packets leave in sequence order */
			sl->first_send = st->pkt[0].t1;
			sl->last_send = st->pkt[st->sent - 1].t1;
		}
	}
	sl->setup = run->p.mode == SESSION_CONTROL && in->start_time ? in->start_time - sl->called : -1;
	slot_done(sl);
}

static void slot_start_cb(struct wk_timer *t)
{
	struct slot *sl = (struct slot *)((char *)t - offsetof(struct slot, start_timer));
	struct step_run *run = sl->run;
	struct session_params p = run->p;

	p.server = run->o->target[sl->idx % (uint32_t)run->o->ntargets];
	p.seed = run->p.seed + sl->idx;
	if (p.mode == SESSION_STAMP)
		p.ssid = (uint16_t)(1 + sl->idx % 65535);
	p.on_done = slot_session_done;
	p.ctx = sl;
	sl->state = SLOT_RUNNING;
	sl->called = ntptime_now();
	sl->s = session_start(sl->wk, &p);
	if (!sl->s) {
		sl->status = SESSION_ERR_LOCAL;
		snprintf(sl->error, sizeof(sl->error), "out of memory");
		slot_done(sl);
	}
}

struct wjob {
	struct step_run *run;
	uint32_t w, nw;
};

/* Arm the start timers of this worker's slots. */
static void arm_job(struct worker *wk, void *arg)
{
	struct wjob *j = arg;

	for (uint32_t i = j->w; i < j->run->n; i += j->nw) {
		struct slot *sl = &j->run->slots[i];

		if (wk_timer_arm(wk, &sl->start_timer, sl->start_at) < 0) {
			sl->status = SESSION_ERR_LOCAL;
			snprintf(sl->error, sizeof(sl->error), "cannot arm a timer");
			slot_done(sl);
		}
	}
}

/* End this worker's slots now: cancel the ones not started, abort the others. */
static void abort_job(struct worker *wk, void *arg)
{
	struct wjob *j = arg;

	for (uint32_t i = j->w; i < j->run->n; i += j->nw) {
		struct slot *sl = &j->run->slots[i];

		if (sl->state == SLOT_IDLE) {
			wk_timer_cancel(wk, &sl->start_timer);
			sl->status = SESSION_ERR_ABORTED;
			snprintf(sl->error, sizeof(sl->error), "not started: the run is ending");
			slot_done(sl);
		} else if (sl->state == SLOT_RUNNING && sl->s) {
			session_abort(sl->s);
		}
	}
}

static void free_job(struct worker *wk, void *arg)
{
	struct wjob *j = arg;

	(void)wk;
	for (uint32_t i = j->w; i < j->run->n; i += j->nw) {
		session_free(j->run->slots[i].s);
		j->run->slots[i].s = NULL;
	}
	pthread_mutex_lock(&j->run->lock);
	j->run->freed++;
	pthread_cond_signal(&j->run->cond);
	pthread_mutex_unlock(&j->run->lock);
}

/* ---- ramp thread -------------------------------------------------------------- */

struct bench {
	const struct bench_opts *o;
	struct worker **wk;
	int nw;
	/*
	 * One job per worker and per phase (arm, abort, free), reused by every
	 * step: a worker may still be reading its arm or abort job when the
	 * next phase starts, never when the next step does (its free job, which
	 * the ramp waits for, is queued behind them).
	 */
	struct wjob *jobs;
	int64_t *rtt, *proc;          /* sample arrays, grown per step when needed */
	size_t cap;
	bool progress;
	int64_t t_begin;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	return wk_ncpus();
}

static double cpu_seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

enum phase { PHASE_ARM, PHASE_ABORT, PHASE_FREE };

/* Submit fn to every worker with this step's per-worker arguments. */
static int for_workers(struct bench *b, struct step_run *run, enum phase ph,
		       void (*fn)(struct worker *, void *))
{
	for (int w = 0; w < b->nw; w++) {
		struct wjob *j = &b->jobs[ph * b->nw + w];

		*j = (struct wjob){ .run = run, .w = (uint32_t)w, .nw = (uint32_t)b->nw };
		if (wk_submit(b->wk[w], fn, j) < 0)
			return -1;
	}
	return 0;
}

/* now, start: CLOCK_MONOTONIC (the step's start, b->t_begin too) */
static void progress_line(struct bench *b, const struct bench_step *st, uint32_t done, int64_t now,
			  int64_t start)
{
	double el = now > start ? ntptime_to_sec(now - start) : 0;

	fprintf(stderr, "\r\033[Kstep %u: %u session%s, %.0f packets/s offered, %.1f of %.1f s, %u/%u sessions done, "
		"%.0f s in all", st->index, st->sessions, log_s(st->sessions), st->offered_pps, el, ntptime_to_sec(b->o->hold),
		done, st->sessions, ntptime_to_sec(now - b->t_begin));
	(void)fflush(stderr);
}

static void pct3(int64_t *v, uint64_t n, int64_t *p50, int64_t *p99, int64_t *p999)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	*p50 = stats_rank_permille(v, n, 500);
	*p99 = stats_rank_permille(v, n, 990);
	*p999 = stats_rank_permille(v, n, 999);
}

/*
 * Run one step: sessions and rate as planned in st.  Returns 0 when it ran
 * (complete or aborted), -1 on a local failure before anything started.
 */
static int run_step(struct bench *b, struct bench_step *st, int64_t deadline)
{
	const struct bench_opts *o = b->o;
	struct step_run run = { .o = o, .n = st->sessions };
	size_t need = (size_t)st->sessions * st->count;
	struct rusage ru0, ru1;
	int64_t *setups = NULL, t0, m0;
	uint64_t nrtt = 0;
	uint32_t nset = 0;
	bool aborted = false, abort_now = false;
	int rc = -1;

	if (need > b->cap) {
		int64_t *r = realloc(b->rtt, need * sizeof(*r)), *p;

		if (r)
			b->rtt = r;
		p = realloc(b->proc, need * sizeof(*p));
		if (p)
			b->proc = p;
		if (!r || !p) {
			log_err("bench: cannot allocate the samples of %zu packets", need);
			return -1;
		}
		b->cap = need;
	}
	run.p = o->tmpl;
	run.p.count = st->count;
	run.p.interval = st->interval;
	run.rtt = b->rtt;
	run.proc = b->proc;
	run.slots = calloc(st->sessions, sizeof(*run.slots));
	setups = calloc(st->sessions, sizeof(*setups));
	if (!run.slots || !setups) {
		log_err("bench: out of memory for %u sessions", st->sessions);
		goto out;
	}
	pthread_mutex_init(&run.lock, NULL);
	{
		/* the waits below are monotonic: a wall-clock step never stalls a step */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&run.cond, &ca);
		pthread_condattr_destroy(&ca);
	}

	getrusage(RUSAGE_SELF, &ru0);
	/* a little ahead, so that every worker has armed its timers in time */
	m0 = ntptime_mono() + 20 * NS_PER_MS;
	t0 = ntptime_now() + 20 * NS_PER_MS;
	st->t_start = t0;
	for (uint32_t i = 0; i < st->sessions; i++) {
		struct slot *sl = &run.slots[i];

		sl->run = &run;
		sl->idx = i;
		sl->wk = b->wk[i % (uint32_t)b->nw];
		sl->setup = -1;
		wk_timer_init(&sl->start_timer, slot_start_cb);
		sl->start_at = m0 + (int64_t)((double)st->interval * i / st->sessions);
	}
	if (for_workers(b, &run, PHASE_ARM, arm_job) < 0) {
		/* only a job allocation can fail: end what was handed over */
		log_err("bench: cannot hand the step to the workers");
		abort_now = true;
	}

	pthread_mutex_lock(&run.lock);
	while (run.done < run.n) {
		int64_t now = ntptime_mono(); /* the deadline's clock: a wall-clock step neither ends nor lengthens the step */
		struct timespec ts = ntptime_to_timespec(now + 250 * NS_PER_MS);

		if (!aborted && (abort_now || bench_signal || now >= deadline)) {
			aborted = true;
			pthread_mutex_unlock(&run.lock);
			if (for_workers(b, &run, PHASE_ABORT, abort_job) < 0)
				log_err("bench: cannot abort the step");
			pthread_mutex_lock(&run.lock);
			continue;
		}
		if (b->progress) {
			uint32_t d = run.done;

			pthread_mutex_unlock(&run.lock);
			progress_line(b, st, d, now, m0);
			pthread_mutex_lock(&run.lock);
			if (run.done >= run.n)
				break;
		}
		/* CLOCK_MONOTONIC: the condition's clock (above) */
		pthread_cond_timedwait(&run.cond, &run.lock, &ts);
	}
	pthread_mutex_unlock(&run.lock);
	st->t_end = ntptime_now();
	getrusage(RUSAGE_SELF, &ru1);
	if (b->progress)
		fprintf(stderr, "\r\033[K");

	/* every slot is done: read them */
	{
		int64_t first = 0, last = 0;
		bool any = false;

		for (uint32_t i = 0; i < st->sessions; i++) {
			struct slot *sl = &run.slots[i];

			st->sent += sl->sent;
			st->received += sl->received;
			st->dups += sl->dups;
			st->late += sl->late;
			if (sl->status == SESSION_OK) {
				st->ok++;
			} else {
				if (sl->status == SESSION_ERR_SESSION || sl->status == SESSION_ERR_DENIED ||
				    sl->status == SESSION_ERR_REFUSED)
					st->refused++;
				else
					st->failed++;
				if (!st->first_error[0])
					snprintf(st->first_error, sizeof(st->first_error), "%.20s: %.250s",
						 session_status_name(sl->status), sl->error);
			}
			if (sl->setup >= 0)
				setups[nset++] = sl->setup;
			if (sl->sent) {
				if (!any || sl->first_send < first)
					first = sl->first_send;
				if (!any || sl->last_send > last)
					last = sl->last_send;
				any = true;
			}
			/* pack the samples to the front */
			if (sl->nsamples && b->rtt && b->proc) {
				size_t off = (size_t)i * st->count;

				memmove(b->rtt + nrtt, b->rtt + off, sl->nsamples * sizeof(int64_t));
				memmove(b->proc + nrtt, b->proc + off, sl->nsamples * sizeof(int64_t));
				nrtt += sl->nsamples;
			}
		}
		st->lost = st->sent - st->received;
		st->loss_pct = st->sent ? 100.0 * (double)st->lost / (double)st->sent : 0;
		if (any) {
			double window = ntptime_to_sec(last - first + st->interval);

			st->sent_pps = (double)st->sent / window;
			st->achieved_pps = (double)st->received / window;
		}
	}
	if (nrtt) {
		st->rtt_valid = st->proc_valid = true;
		pct3(b->rtt, nrtt, &st->rtt_p50, &st->rtt_p99, &st->rtt_p999);
		st->rtt_max = b->rtt[nrtt - 1];
		pct3(b->proc, nrtt, &st->proc_p50, &st->proc_p99, &st->proc_p999);
	}
	if (nset) {
		st->setup_valid = true;
		qsort(setups, nset, sizeof(*setups), cmp_i64);
		st->setup_p50 = stats_rank_permille(setups, nset, 500);
		st->setup_p99 = stats_rank_permille(setups, nset, 990);
		st->setup_max = setups[nset - 1];
	}
	st->cpu_user = cpu_seconds(&ru1.ru_utime) - cpu_seconds(&ru0.ru_utime);
	st->cpu_sys = cpu_seconds(&ru1.ru_stime) - cpu_seconds(&ru0.ru_stime);
	st->cpu_pct = 100.0 * (st->cpu_user + st->cpu_sys) / ntptime_to_sec(st->t_end - st->t_start);
	st->complete = !aborted;

	/* free the sessions on their own workers, and wait for it */
	if (for_workers(b, &run, PHASE_FREE, free_job) == 0) {
		pthread_mutex_lock(&run.lock);
		while (run.freed < (uint32_t)b->nw)
			pthread_cond_wait(&run.cond, &run.lock);
		pthread_mutex_unlock(&run.lock);
	} else {
		log_err("bench: cannot free the step's sessions; leaking them");
	}
	pthread_cond_destroy(&run.cond);
	pthread_mutex_destroy(&run.lock);
	rc = 0;
out:
	free(setups);
	free(run.slots);
	return rc;
}

/* Plan step k (0-based): sessions, packets per session, interval, offered rate. */
static void plan_step(const struct bench_opts *o, uint32_t k, struct bench_step *st)
{
	double s, r, hold = ntptime_to_sec(o->hold);
	uint64_t count;

	if (o->growth > 1) {
		s = o->sessions * pow(o->growth, k);
		r = o->rate * pow(o->growth, k);
	} else {
		s = o->sessions + (double)k * (o->sessions_step ? o->sessions_step : o->sessions);
		r = o->rate + (double)k * (o->rate_step > 0 ? o->rate_step : o->rate);
	}
	if (o->max_sessions && s > o->max_sessions)
		s = o->max_sessions;
	if (o->max_rate > 0 && r > o->max_rate)
		r = o->max_rate;
	memset(st, 0, sizeof(*st));
	st->index = k + 1;
	st->sessions = (uint32_t)llround(s < 1 ? 1 : s);
	count = (uint64_t)llround(r * hold / st->sessions);
	if (count < 1)
		count = 1;
	if (count > 10000000)
		count = 10000000;
	st->count = (uint32_t)count;
	st->interval = o->hold / (int64_t)count;
	if (st->interval < 1)
		st->interval = 1;
	st->offered_pps = (double)st->sessions * (double)count / hold;
	st->planned = (uint64_t)st->sessions * count;
}

/* Judge a finished step against the thresholds; sets met and reason. */
static void judge(const struct bench_opts *o, struct bench_result *res, struct bench_step *st)
{
	double infl;

	st->met = false;
	if (!st->complete) {
		snprintf(st->reason, sizeof(st->reason), "%s", bench_signal ? "interrupted" : "--max-seconds reached");
		return;
	}
	if (st->refused || st->failed) {
		snprintf(st->reason, sizeof(st->reason), "%u session%s refused, %u failed (%.300s)", st->refused,
			 log_s(st->refused), st->failed, st->first_error);
		return;
	}
	if (st->sent && st->loss_pct > o->max_loss) {
		snprintf(st->reason, sizeof(st->reason), "loss %.3f%% > %g%% (%llu of %llu lost came back after the loss timeout)",
			 st->loss_pct, o->max_loss, (unsigned long long)st->late, (unsigned long long)st->lost);
		return;
	}
	if (st->sent == 0 || !st->rtt_valid) {
		snprintf(st->reason, sizeof(st->reason), "no reflection received");
		return;
	}
	if (o->max_p99 && st->rtt_p99 > o->max_p99) {
		snprintf(st->reason, sizeof(st->reason), "RTT p99 %.3f ms > %.3f ms", st->rtt_p99 / 1e6,
			 o->max_p99 / 1e6);
		return;
	}
	if (!res->baseline) {
		res->baseline = o->baseline_rtt ? o->baseline_rtt : st->rtt_p99;
		if (!o->baseline_rtt && res->baseline < BENCH_BASELINE_FLOOR)
			res->baseline = BENCH_BASELINE_FLOOR;
	}
	infl = (double)st->rtt_p99 / (double)res->baseline;
	if (o->max_inflation > 0 && infl > o->max_inflation) {
		snprintf(st->reason, sizeof(st->reason), "RTT p99 %.3f ms is %.1f x the baseline %.3f ms (> %g x)",
			 st->rtt_p99 / 1e6, infl, res->baseline / 1e6, o->max_inflation);
		return;
	}
	st->met = true;
}

static int start_workers(struct bench *b)
{
	b->nw = b->o->nworkers > 0 ? b->o->nworkers : usable_cpus();
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of worker pointers */
	b->wk = calloc((size_t)b->nw, sizeof(*b->wk));
	b->jobs = calloc(3 * (size_t)b->nw, sizeof(*b->jobs));
	if (!b->wk || !b->jobs)
		return -1;
	for (int i = 0; i < b->nw; i++) {
		b->wk[i] = wk_create(i, -1, 1024);
		if (!b->wk[i])
			return -1;
		wk_set_spin(b->wk[i], b->o->spin);
		if (wk_start(b->wk[i]) < 0) {
			wk_destroy(b->wk[i]);
			b->wk[i] = NULL;
			return -1;
		}
	}
	return 0;
}

static void stop_workers(struct bench *b)
{
	for (int i = 0; b->wk && i < b->nw; i++) {
		if (!b->wk[i])
			continue;
		wk_stop(b->wk[i]);
		wk_join(b->wk[i]);
		wk_destroy(b->wk[i]);
	}
	free(b->wk);
	free(b->jobs);
	b->wk = NULL;
	b->jobs = NULL;
}

int bench_run(const struct bench_opts *o)
{
	struct bench b = { .o = o };
	struct bench_result res = { .sustained = -1 };
	struct sigaction sa = { .sa_handler = bench_on_signal }, old_int, old_term;
	sigset_t block, prev;
	int rc = 1;
	uint32_t cap_steps = 16;

	b.progress = !o->quiet && isatty(STDERR_FILENO);
	if (bench_check_outputs(o) < 0) /* not after minutes of ramp */
		return 1;
	res.steps = calloc(cap_steps, sizeof(*res.steps));
	if (!res.steps)
		return 1;
	/* the workers start with SIGINT/SIGTERM blocked: this thread takes them */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &prev);
	if (start_workers(&b) < 0) {
		log_err("bench: cannot start the workers");
		pthread_sigmask(SIG_SETMASK, &prev, NULL);
		goto out;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	pthread_sigmask(SIG_SETMASK, &prev, NULL);

	b.t_begin = ntptime_mono(); /* --max-seconds runs on CLOCK_MONOTONIC */
	bench_table_header(stdout);
	(void)fflush(stdout);
	for (uint32_t k = 0;; k++) {
		struct bench_step *st;
		int64_t now = ntptime_mono();

		if (bench_signal) {
			snprintf(res.stop_reason, sizeof(res.stop_reason), "interrupted");
			break;
		}
		if (o->max_steps && k >= o->max_steps) {
			snprintf(res.stop_reason, sizeof(res.stop_reason), "ramp complete: %u step%s (--steps)", k, log_s(k));
			break;
		}
		if (now + o->hold + o->tmpl.loss_timeout > b.t_begin + o->max_time) {
			snprintf(res.stop_reason, sizeof(res.stop_reason),
				 "--max-seconds %g reached (another step would not fit)", ntptime_to_sec(o->max_time));
			break;
		}
		if (res.nsteps == cap_steps) {
			struct bench_step *n = realloc(res.steps, (size_t)2 * cap_steps * sizeof(*n));

			if (!n)
				break;
			res.steps = n;
			cap_steps *= 2;
		}
		st = &res.steps[res.nsteps];
		plan_step(o, k, st);
		if (k > 0 && st->sessions == res.steps[k - 1].sessions &&
		    fabs(st->offered_pps - res.steps[k - 1].offered_pps) < 1e-9) {
			snprintf(res.stop_reason, sizeof(res.stop_reason),
				 "ramp complete: --max-sessions and --max-rate reached");
			break;
		}
		if (st->planned > BENCH_MAX_STEP_PACKETS) {
			snprintf(res.stop_reason, sizeof(res.stop_reason),
				 "step %u would send %llu packets, more than %llu", st->index,
				 (unsigned long long)st->planned, BENCH_MAX_STEP_PACKETS);
			break;
		}
		if (run_step(&b, st, b.t_begin + o->max_time) < 0) {
			snprintf(res.stop_reason, sizeof(res.stop_reason), "step %u could not start (see log)",
				 st->index);
			break;
		}
		res.nsteps++;
		judge(o, &res, st);
		bench_table_row(stdout, st);
		(void)fflush(stdout);
		if (!st->met) {
			snprintf(res.stop_reason, sizeof(res.stop_reason), "step %u: %s", st->index, st->reason);
			break;
		}
		res.sustained = (int)res.nsteps - 1;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	stop_workers(&b);

	bench_summary(stdout, &res);
	rc = 0;
	/* a run in which not one packet came back, even late, measured nothing */
	if (res.nsteps == 0 || (res.steps[0].received == 0 && res.steps[0].late == 0))
		rc = 1;
	if (o->csv && bench_write_csv(o->csv, &res) < 0)
		rc = 1;
	if (o->json && bench_write_json(o->json, o, &res) < 0)
		rc = 1;
	if (o->plot) {
		char written[4200];

		if (bench_plot(o->plot, o, &res, written, sizeof(written)) < 0)
			rc = 1;
		else if (strcmp(written, o->plot) != 0)
			fprintf(stderr, "twamp-client bench: gnuplot is not installed: the plot is %s\n", written);
	}
out:
	stop_workers(&b); /* also frees what a failed start left */
	free(b.rtt);
	free(b.proc);
	free(res.steps);
	return rc;
}
