/*
 * daemon: `twamp-client run`.
 *
 * DESIGN
 * Two threads of the daemon live here.
 *   - The main thread takes the signals (blocked in every thread, taken with
 *     sigtimedwait(), so no handler ever runs inside a worker) and shuts
 *     everything down in order.
 *   - The config thread is the only publisher of the target set: it loads
 *     DIR's files and publishes the immutable set through the RCU pointer
 *     `current` (struct tset); it downloads the files from ConfigSource
 *     (src/io/fetch.c) at start, on Probe.ConfigSchedule and on SIGHUP, and
 *     reloads when a file changes on disk.  Downloads block only this thread:
 *     measurements go on with the last good set meanwhile.
 * A bad file never replaces a good set: its problems are logged (file, key,
 * reason), counted in the twamp_probe record, and the last good set keeps
 * running.  The old set is released after a grace period (rcuptr_wait);
 * sessions still using it hold their own reference through their cycle.
 */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "cron.h"
#include "fetch.h"
#include "fsutil.h"
#include "log.h"
#include "ntptime.h"
#include "rcuptr.h"
#include "scheduler.h"
#include "sender.h"
#include "tsock.h"
#include "worker.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: twamp-client run [--data-dir DIR] [--once] [-v]\n"
		"\n"
		"The probe daemon: measures every target of DIR's target list each cycle\n"
		"(Probe.Schedule, default every 5 minutes), concurrently, and delivers one\n"
		"record per target to the configured destinations (stdout as JSON lines when\n"
		"there is none).  Reads the seed files (twamp_global_config.json,\n"
		"twamp_targets_list.json) or the later ones (global_config.json,\n"
		"targets_list.json, local_config.json); see config_example/README.md.\n"
		"A DIR holding only the global config with a ConfigSource (a probe's first\n"
		"day) is completed from there: downloads are retried, 1 s to 60 s apart,\n"
		"until a valid pair is installed.\n"
		"\n"
		"  --data-dir DIR   configuration directory (default ./data); undelivered\n"
		"                   records are spooled in DIR/spool\n"
		"  --once           run one cycle now, as fast as MaxConcurrentSessions and\n"
		"                   ConnectRate allow, deliver what can be delivered; exit 0\n"
		"                   when every record (earlier runs' spool included) was\n"
		"                   delivered, else 3 with the count on stderr\n"
		"  --grace SECONDS  on SIGTERM, how long running sessions may finish (default 5)\n"
		"  -v               debug logging\n"
		"  -h, --help       this text\n"
		"\n"
		"Signals: SIGHUP reloads the configuration; SIGTERM/SIGINT stop starting\n"
		"sessions, let running ones finish (then abort them), deliver or spool every\n"
		"record and exit 0.  The probe name is $PROBE_SOURCE, else local_config.json\n"
		"SourceName, else Probe.SourceName, else the hostname.\n");
}

struct watched {
	char path[4096];
	struct timespec mtime;
	off_t size;
	bool exists;
};

#define NWATCH 5
static const char *const watch_names[NWATCH] = {
	"twamp_global_config.json", "twamp_targets_list.json", "global_config.json",
	"targets_list.json", "local_config.json",
};

/* true when any watched file changed since the last call */
static bool files_changed(const char *dir, struct watched *w)
{
	bool changed = false;

	for (int i = 0; i < NWATCH; i++) {
		struct stat st;
		bool exists;

		snprintf(w[i].path, sizeof(w[i].path), "%s/%s", dir, watch_names[i]);
		exists = stat(w[i].path, &st) == 0;
		if (exists != w[i].exists ||
		    (exists && (st.st_mtim.tv_sec != w[i].mtime.tv_sec ||
				st.st_mtim.tv_nsec != w[i].mtime.tv_nsec || st.st_size != w[i].size)))
			changed = true;
		w[i].exists = exists;
		if (exists) {
			w[i].mtime = st.st_mtim;
			w[i].size = st.st_size;
		}
	}
	return changed;
}

static void log_errors(const struct config_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		log_err("%s", e->lines[i]);
}

static void log_warnings(const struct config *c)
{
	for (size_t i = 0; i < c->warnings.n; i++)
		log_warn("%s", c->warnings.lines[i]);
}

static struct tset *current;
static _Atomic uint64_t config_errors;

struct cfgthread {
	const char *dir;
	struct sender *sender;
	uint64_t generation;
	struct watched watch[NWATCH];
	struct fetch *fetch;
	char probe_name[256];
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool hup;                 /* SIGHUP: download (if configured) and reload now */
	bool stop;
	bool first_done;          /* the start-up download is over (or there is none) */
	bool exited;              /* config_main returns: it can be joined at once */
};

static int reload(struct cfgthread *ct)
{
	const char *dir = ct->dir;
	uint64_t *generation = &ct->generation;
	struct config *cfg;
	struct config_errors errs = { 0 };
	struct tset *ts, *old;

	if (config_load(dir, &cfg, &errs) < 0) {
		log_errors(&errs);
		log_err("configuration in %s rejected (%zu problem%s): the previous one keeps running",
			dir, errs.n, log_s(errs.n));
		config_errors_clear(&errs);
		atomic_fetch_add(&config_errors, 1);
		return -1;
	}
	config_errors_clear(&errs);
	log_warnings(cfg);
	ts = tset_new(cfg, ++*generation);
	if (!ts) {
		config_free(cfg);
		return -1;
	}
	old = rcuptr_publish((void **)&current, ts);
	if (old) {
		if (old->cfg->probe.workers != cfg->probe.workers || old->cfg->probe.ncpus != cfg->probe.ncpus)
			log_warn("Probe.Workers/CPUs changed: applies at the next restart");
		rcuptr_wait();
		tset_put(old);
	}
	pthread_mutex_lock(&ct->lock);
	if (!ct->stop) /* the sender is stopped after this thread is told to stop */
		sender_set_destinations(ct->sender, cfg->dests, cfg->ndests);
	pthread_mutex_unlock(&ct->lock);
	log_info("configuration %llu loaded from %s: %zu target%s, %zu destination%s",
		 (unsigned long long)ts->generation, dir, cfg->ntargets, log_s(cfg->ntargets), cfg->ndests,
		 log_s(cfg->ndests));
	return 0;
}


/* The set this thread published last (it is the only publisher). */
static const struct config *published(void)
{
	return current->cfg;
}

static bool has_source(const struct config *c)
{
	return c->source.method && c->source.url;
}

static void download(struct cfgthread *ct)
{
	char err[1024];
	enum fetch_result r;
	const struct config *c = published();

	r = fetch_run(ct->fetch, &c->source, c->generation, ct->probe_name, err, sizeof(err));
	switch (r) {
	case FETCH_UPDATED:
		log_info("configuration downloaded from %s source: installed in %s", c->source.method,
			 ct->dir);
		files_changed(ct->dir, ct->watch);
		reload(ct);
		break;
	case FETCH_UNCHANGED:
		log_info("configuration download: unchanged");
		break;
	case FETCH_FAILED:
		log_err("configuration download failed: %s; the previous configuration keeps running",
			err);
		atomic_fetch_add(&config_errors, 1);
		break;
	case FETCH_NONE:
		break;
	}
}

static int64_t next_download(const struct config *c, int64_t now)
{
	struct cron cr;
	char err[128];

	if (!has_source(c) || cron_parse(c->probe.config_schedule, &cr, err, sizeof(err)) < 0)
		return INT64_MAX;
	return cron_next(&cr, now);
}

static void *config_main(void *arg)
{
	struct cfgthread *ct = arg;
	/* next: wall time (the config schedule follows the wall clock) */
	int64_t next = has_source(published()) ? ntptime_now() : INT64_MAX;
	int64_t last_mono = ntptime_mono(), last_off = ntptime_wall_offset();

	pthread_setname_np(pthread_self(), "config");
	for (;;) {
		/* the wait on CLOCK_MONOTONIC (ct->cond's clock), at most 2 s */
		int64_t now = ntptime_now(), mono = ntptime_mono(), wake = mono + 2 * NS_PER_SEC;
		struct timespec ts;
		bool hup;

		if (next != INT64_MAX && next - now < wake - mono)
			wake = mono + (next > now ? next - now : 0);
		ts = ntptime_to_timespec(wake);
		pthread_mutex_lock(&ct->lock);
		while (!ct->stop && !ct->hup && ntptime_mono() < wake)
			if (pthread_cond_timedwait(&ct->cond, &ct->lock, &ts) != 0)
				break;
		hup = ct->hup;
		ct->hup = false;
		if (ct->stop) {
			pthread_mutex_unlock(&ct->lock);
			break;
		}
		pthread_mutex_unlock(&ct->lock);

		now = ntptime_now();
		mono = ntptime_mono();
		if (ntptime_stepped(last_off, now - mono, mono - last_mono) && next != INT64_MAX &&
		    has_source(published())) {
			/* the wall clock stepped: the next download from the new wall time */
			log_info("the wall clock stepped: the next configuration download is planned anew");
			next = next_download(published(), now);
		}
		last_mono = mono;
		last_off = now - mono;
		if ((hup || now >= next) && has_source(published())) {
			download(ct);
			next = next_download(published(), ntptime_now());
		} else if (hup || files_changed(ct->dir, ct->watch)) {
			log_info("%s: reloading %s", hup ? "SIGHUP" : "configuration files changed", ct->dir);
			files_changed(ct->dir, ct->watch);
			reload(ct);
			next = next_download(published(), now);
		}
		if (!ct->first_done) {
			pthread_mutex_lock(&ct->lock);
			ct->first_done = true;
			pthread_cond_broadcast(&ct->cond);
			pthread_mutex_unlock(&ct->lock);
		}
	}
	pthread_mutex_lock(&ct->lock);
	ct->exited = true;
	pthread_cond_broadcast(&ct->cond);
	pthread_mutex_unlock(&ct->lock);
	return NULL;
}

static void cfgthread_signal(struct cfgthread *ct, bool stop)
{
	pthread_mutex_lock(&ct->lock);
	if (stop)
		ct->stop = true;
	else
		ct->hup = true;
	pthread_cond_broadcast(&ct->cond);
	pthread_mutex_unlock(&ct->lock);
}

/*
 * Wait for the start-up download, at most `limit` ns: a slow one must not hold
 * back measuring.  Signals are taken meanwhile: SIGTERM/SIGINT end the wait
 * and are returned (a hanging download must not delay a stop by `limit`),
 * SIGHUP is passed on; 0 otherwise.
 */
static int cfgthread_wait_first(struct cfgthread *ct, int64_t limit, const sigset_t *set)
{
	int64_t end = ntptime_mono() + limit;

	for (;;) {
		struct timespec tmo = { .tv_sec = 0, .tv_nsec = 100L * 1000 * 1000 };
		bool done;
		int sig;

		pthread_mutex_lock(&ct->lock);
		done = ct->first_done;
		pthread_mutex_unlock(&ct->lock);
		if (done)
			return 0;
		if (ntptime_mono() >= end) {
			log_warn("the configuration download is slow: measuring with the local configuration meanwhile");
			return 0;
		}
		sig = sigtimedwait(set, NULL, &tmo);
		if (sig == SIGINT || sig == SIGTERM)
			return sig;
		if (sig == SIGHUP)
			cfgthread_signal(ct, false);
	}
}


#define FIRST_BACKOFF_MIN NS_PER_SEC
#define FIRST_BACKOFF_MAX (60 * NS_PER_SEC)
#define FIRST_REASONS 16   /* distinct failure reasons remembered (each is logged once) */

/* true the first time this reason is seen (FNV-1a of the text; a full table forgets the oldest) */
static bool new_reason(uint64_t *seen, unsigned *n, const char *text)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = text; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (unsigned i = 0; i < *n && i < FIRST_REASONS; i++)
		if (seen[i] == h)
			return false;
	seen[*n % FIRST_REASONS] = h;
	(*n)++;
	return true;
}

/*
 * The first start of a probe set up the original's documented way: DIR holds
 * the global config with its ConfigSource (the config site's URL and
 * credentials) and nothing else yet.  Download until a valid pair is
 * installed, waiting 1 s, 2 s, 4 s ... at most 60 s (CLOCK_MONOTONIC) between
 * attempts; each distinct reason is logged once (later attempts failing the
 * same way only at debug level).  Every attempt first re-reads DIR, so a pair
 * put there by hand, or a corrected ConfigSource, is taken too.
 * 0: *out loaded; a signal number (SIGTERM/SIGINT: stop; SIGHUP retries at
 * once); -1: DIR names no usable ConfigSource (the caller reports errs).
 */
static int first_config(struct cfgthread *ct, const sigset_t *set, struct config **out,
			struct config_errors *errs)
{
	uint64_t seen[FIRST_REASONS];
	unsigned nseen = 0, attempt = 0;
	int64_t delay = FIRST_BACKOFF_MIN;

	for (;;) {
		struct config *g = NULL;
		char err[1024], name[256];
		enum fetch_result r;
		int64_t until;

		if (config_load(ct->dir, out, errs) == 0)
			return 0;
		if (config_load_global(ct->dir, &g, NULL) < 0 || !has_source(g)) {
			config_free(g);
			return -1; /* (or no longer): the caller reports errs */
		}
		if (attempt++ == 0) {
			log_errors(errs);
			log_warn("no valid configuration in %s yet (%zu problem%s): downloading it from the %s "
				 "ConfigSource, retrying until a valid one is installed", ct->dir, errs->n,
				 log_s(errs->n), g->source.method);
		}
		config_probe_name(g, name, sizeof(name));
		r = fetch_run(ct->fetch, &g->source, g->generation, name, err, sizeof(err));
		if (r == FETCH_UPDATED || r == FETCH_UNCHANGED) {
			if (config_load(ct->dir, out, errs) == 0) {
				log_info("configuration downloaded from %s source: installed in %s",
					 g->source.method, ct->dir);
				config_free(g);
				return 0;
			}
			/* unchanged: the source has the files DIR already holds, and they do not load */
			snprintf(err, sizeof(err), "%s (the source has the installed files)",
				 errs->n ? errs->lines[0] : "invalid configuration");
		}
		config_free(g);
		if (new_reason(seen, &nseen, err))
			log_err("configuration download failed: %s; retrying (backoff up to %.0f s)", err,
				ntptime_to_sec(FIRST_BACKOFF_MAX));
		else
			log_debug("configuration download failed again (attempt %u): %s", attempt, err);

		until = ntptime_mono() + delay;
		delay = delay * 2 > FIRST_BACKOFF_MAX ? FIRST_BACKOFF_MAX : delay * 2;
		for (int64_t left; (left = until - ntptime_mono()) > 0;) {
			struct timespec tmo = ntptime_to_timespec(left);
			int sig = sigtimedwait(set, NULL, &tmo);

			if (sig == SIGINT || sig == SIGTERM)
				return sig;
			if (sig == SIGHUP)
				break;
		}
	}
}

int daemon_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "once", no_argument, NULL, 'o' },
		{ "grace", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dir = "./data";
	bool once = false;
	int64_t grace = 5 * NS_PER_SEC;
	struct config *cfg;
	struct config_errors errs = { 0 };
	static struct cfgthread ct;
	struct sched_opts so = { 0 };
	struct scheduler *sc;
	struct sender *sender;
	sigset_t set;
	uint64_t lost;
	struct sender_stats fin;
	char spool[4096];
	static char health[4200];
	const char *name = ct.probe_name;
	bool ct_joined = false, first_source;
	int opt, sig = 0;

	opterr = 0; /* ':' and '?' are worded by cli_getopt_problem() */
	while ((opt = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 'g': {
			char *end;
			double v = strtod(optarg, &end);

			if (end == optarg || *end || v < 0 || v > 3600) {
				cli_usage_error("run", "invalid value '%s' for --grace", optarg);
				return 2;
			}
			grace = (int64_t)(v * 1e9);
			break;
		}
		case 'v':
			log_set_level(LOGL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default: {
			char why[160];

			cli_getopt_problem(why, sizeof(why), opt, argv, longopts);
			cli_usage_error("run", "%s", why);
			return 2;
		}
		}
	}
	if (optind != argc) {
		cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
		return 2;
	}

	/* signals: blocked everywhere, taken by this thread only */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}

	ct.dir = dir;
	pthread_mutex_init(&ct.lock, NULL);
	{
		/* config_main's waits are monotonic: a wall-clock step never stalls them */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&ct.cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	files_changed(dir, ct.watch);
	ct.fetch = fetch_new(dir);
	if (!ct.fetch)
		return 1;
	if (config_load(dir, &cfg, &errs) < 0 && (sig = first_config(&ct, &set, &cfg, &errs)) != 0) {
		if (sig > 0) {
			log_info("signal %d: stopping before the first configuration was installed", sig);
			fetch_free(ct.fetch);
			config_errors_clear(&errs);
			return 0;
		}
		log_errors(&errs);
		fprintf(stderr, "twamp-client run: no valid configuration in %s (%zu problem%s, listed above)\n",
			dir, errs.n, log_s(errs.n));
		config_errors_clear(&errs);
		fetch_free(ct.fetch);
		return 1;
	}
	config_errors_clear(&errs);
	log_warnings(cfg);
	current = tset_new(cfg, ++ct.generation);
	config_probe_name(cfg, ct.probe_name, sizeof(ct.probe_name));
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	sender = sender_start(cfg->dests, cfg->ndests, spool, cfg->probe.spool_max_bytes, stdout);
	if (!sender)
		return 1;
	log_info("probe %s: %zu target%s, %zu destination%s%s", name, cfg->ntargets, log_s(cfg->ntargets),
		 cfg->ndests, log_s(cfg->ndests),
		 cfg->ndests ? "" : " (records go to stdout)");

	/*
	 * What start-up needs from the first configuration is copied now: once the
	 * config thread runs, a download may replace (and free) it at any moment.
	 */
	{
		static int cpus[CONFIG_MAX_CPUS];

		memcpy(cpus, cfg->probe.cpus, sizeof(cpus));
		so.cpus = cpus;
		so.ncpus = cfg->probe.ncpus;
		so.nworkers = cfg->probe.workers > 0 ? cfg->probe.workers : wk_ncpus();
		first_source = has_source(cfg);
		cfg = NULL;
	}

	/* the config thread: downloads first (if configured), then watches */
	ct.sender = sender;
	files_changed(dir, ct.watch); /* a first download installed files meanwhile */
	if (pthread_create(&ct.tid, NULL, config_main, &ct) != 0) {
		log_err("cannot start the configuration thread");
		return 1;
	}
	if (first_source)
		sig = cfgthread_wait_first(&ct, 10 * NS_PER_SEC, &set);

	tsock_probe(true);
	so.current = &current;
	so.sender = sender;
	so.probe_name = name;
	so.once = once;
	so.config_errors = &config_errors;
	snprintf(health, sizeof(health), "%s/health", dir);
	so.health_path = health;
	sc = sched_start(&so);

	for (;;) {
		struct timespec tmo = { .tv_sec = 0, .tv_nsec = 100 * NS_PER_MS };

		if (sig == SIGINT || sig == SIGTERM) /* taken while waiting for the first download */
			break;
		sig = sigtimedwait(&set, NULL, &tmo);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		if (once && sched_once_done(sc)) {
			sig = 0;
			break;
		}
		if (sig == SIGHUP)
			cfgthread_signal(&ct, false);
	}
	if (sig)
		log_info("signal %d: stopping (running sessions get %.0f s)", sig, ntptime_to_sec(grace));
	/* a download in progress may block for its timeouts: do not wait for it long */
	cfgthread_signal(&ct, true);
	{
		/* ct.cond is monotonic (a step cannot stretch this wait); not
		 * pthread_clockjoin_np, which ThreadSanitizer does not know */
		int64_t until = ntptime_mono() + 2 * NS_PER_SEC;
		struct timespec ts = ntptime_to_timespec(until);

		pthread_mutex_lock(&ct.lock);
		while (!ct.exited && ntptime_mono() < until)
			if (pthread_cond_timedwait(&ct.cond, &ct.lock, &ts) == ETIMEDOUT)
				break;
		ct_joined = ct.exited;
		pthread_mutex_unlock(&ct.lock);
		if (ct_joined)
			pthread_join(ct.tid, NULL);
		if (!ct_joined)
			log_warn("a configuration download is still running: abandoned (files are "
				 "installed by rename only, so nothing is left half-written)");
	}
	sched_stop(sc, grace);
	lost = sender_stop_final(sender, ntptime_now() + 10 * NS_PER_SEC, &fin);
	if (lost)
		log_err("%llu record%s could be neither delivered nor spooled", (unsigned long long)lost,
			log_s(lost));
	if (ct_joined) {
		fetch_free(ct.fetch);
		tset_put(rcuptr_publish((void **)&current, NULL));
	}
	/* --once is a promise about delivery: a record still spooled (or lost) is a failure */
	if (once && (fin.spooled || lost || fin.rejected)) {
		fprintf(stderr,
			"twamp-client run --once: not every record was delivered: %llu spooled in %s "
			"(delivered by the next run), %llu rejected, %llu lost\n",
			(unsigned long long)fin.spooled, spool, (unsigned long long)fin.rejected,
			(unsigned long long)lost);
		return 3;
	}
	return 0;
}

int daemon_health(int argc, char **argv)
{
	const char *dir = "./data";
	char path[4200], ebuf[4400];
	double end = 0, period = 0, age;
	unsigned long long cycle = 0;
	FILE *f;
	int fd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--data-dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: twamp-client health [--data-dir DIR]\n\n"
			       "Exit 0 when the daemon using DIR completed a cycle within twice its\n"
			       "schedule period (or 10 minutes, whichever is longer), else 1.  For the\n"
			       "container's HEALTHCHECK.\n");
			return 0;
		} else {
			cli_usage_error("health", "%s '%s'", argv[i][0] == '-' ? "unknown option" :
					"unexpected argument", argv[i]);
			return 2;
		}
	}
	snprintf(path, sizeof(path), "%s/health", dir);
	/* a FIFO or a directory there must not hang the container's health check */
	fd = fsutil_open_regular(path, NULL, ebuf, sizeof(ebuf));
	if (fd < 0 && errno == ENOENT) {
		printf("unhealthy: no cycle completed yet (%s: %s)\n", path, strerror(errno));
		return 1;
	}
	if (fd < 0 || !(f = fdopen(fd, "r"))) {
		printf("unhealthy: %s\n", fd < 0 ? ebuf : strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	/* The scheduler's own "%.3f %llu %.0f" line (write_health): the count
	 * catches a truncated file and no value written there is out of range.
	 * NOLINTNEXTLINE(cert-err34-c) */
	if (fscanf(f, "%lf %llu %lf", &end, &cycle, &period) != 3) {
		(void)fclose(f);
		printf("unhealthy: %s is malformed\n", path);
		return 1;
	}
	(void)fclose(f);
	age = ntptime_to_sec(ntptime_now()) - end;
	if (age > 2 * (period > 300 ? period : 300)) {
		printf("unhealthy: the last cycle (%llu) ended %.0f s ago; the schedule period is %.0f s\n",
		       cycle, age, period);
		return 1;
	}
	printf("healthy: cycle %llu ended %.0f s ago\n", cycle, age);
	return 0;
}
