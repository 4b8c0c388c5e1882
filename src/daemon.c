/*
 * daemon: `twamp-client run`.
 *
 * DESIGN
 * The main thread is the config thread: it loads DIR's files, publishes the
 * immutable target set through the RCU pointer `current` (struct tset), and
 * reloads on SIGHUP or when a file changes on disk.  A bad file never
 * replaces a good set: its problems are logged (file, key, reason), counted
 * in the twamp_probe record, and the last good set keeps running.  The old
 * set is released after a grace period (rcuptr_wait); sessions still using
 * it hold their own reference through their cycle.
 *
 * Signals are blocked in every thread and taken here with sigtimedwait(), so
 * no handler ever runs inside a worker.
 */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "ntptime.h"
#include "rcuptr.h"
#include "scheduler.h"
#include "sender.h"
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
		"\n"
		"  --data-dir DIR   configuration directory (default ./data); undelivered\n"
		"                   records are spooled in DIR/spool\n"
		"  --once           run one cycle now, as fast as MaxConcurrentSessions and\n"
		"                   ConnectRate allow, deliver every record, exit 0\n"
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

static struct tset *current;
static _Atomic uint64_t config_errors;

static int reload(const char *dir, uint64_t *generation, struct sender *sender)
{
	struct config *cfg;
	struct config_errors errs = { 0 };
	struct tset *ts, *old;

	if (config_load(dir, &cfg, &errs) < 0) {
		log_errors(&errs);
		log_err("configuration in %s rejected (%zu problems): the previous one keeps running",
			dir, errs.n);
		config_errors_clear(&errs);
		atomic_fetch_add(&config_errors, 1);
		return -1;
	}
	config_errors_clear(&errs);
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
	sender_set_destinations(sender, cfg->dests, cfg->ndests);
	log_info("configuration %llu loaded from %s: %zu targets, %zu destinations",
		 (unsigned long long)ts->generation, dir, cfg->ntargets, cfg->ndests);
	return 0;
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
	struct watched watch[NWATCH] = { 0 };
	struct sched_opts so = { 0 };
	struct scheduler *sc;
	struct sender *sender;
	sigset_t set;
	uint64_t generation = 0, lost;
	char name[256], spool[4096];
	int opt, sig = 0;

	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
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
				fprintf(stderr, "twamp-client run: invalid value '%s' for --grace\n", optarg);
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
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "twamp-client run: unexpected argument '%s'\n", argv[optind]);
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

	files_changed(dir, watch);
	if (config_load(dir, &cfg, &errs) < 0) {
		log_errors(&errs);
		fprintf(stderr, "twamp-client run: no valid configuration in %s (%zu problems, listed above)\n",
			dir, errs.n);
		config_errors_clear(&errs);
		return 1;
	}
	config_errors_clear(&errs);
	current = tset_new(cfg, ++generation);
	config_probe_name(cfg, name, sizeof(name));
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	sender = sender_start(cfg->dests, cfg->ndests, spool, cfg->probe.spool_max_bytes, stdout);
	if (!sender)
		return 1;
	log_info("probe %s: %zu targets, %zu destinations%s", name, cfg->ntargets, cfg->ndests,
		 cfg->ndests ? "" : " (records go to stdout)");

	so.current = &current;
	so.sender = sender;
	so.probe_name = name;
	so.nworkers = cfg->probe.workers > 0 ? cfg->probe.workers : wk_ncpus();
	so.cpus = cfg->probe.cpus;
	so.ncpus = cfg->probe.ncpus;
	so.once = once;
	so.config_errors = &config_errors;
	sc = sched_start(&so);

	for (;;) {
		struct timespec tmo = { .tv_sec = once ? 0 : 2, .tv_nsec = once ? 100 * 1000 * 1000 : 0 };

		sig = sigtimedwait(&set, NULL, &tmo);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		if (once && sched_once_done(sc)) {
			sig = 0;
			break;
		}
		if (sig == SIGHUP) {
			log_info("SIGHUP: reloading %s", dir);
			files_changed(dir, watch);
			reload(dir, &generation, sender);
		} else if (!once && files_changed(dir, watch)) {
			log_info("configuration files in %s changed: reloading", dir);
			reload(dir, &generation, sender);
		}
	}
	if (sig)
		log_info("signal %d: stopping (running sessions get %.0f s)", sig, ntptime_to_sec(grace));
	sched_stop(sc, grace);
	lost = sender_stop(sender, ntptime_now() + 10 * NS_PER_SEC);
	if (lost)
		log_err("%llu records could be neither delivered nor spooled", (unsigned long long)lost);
	tset_put(rcuptr_publish((void **)&current, NULL));
	return 0;
}
