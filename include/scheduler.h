/*
 * scheduler: plans each measurement cycle and fans sessions out to a fixed
 * pool of pinned workers.
 *
 * DESIGN
 * Threads:
 *   - the scheduler thread runs its own event loop (a struct worker, not
 *     pinned).  It alone owns the plan, the set of running targets (no
 *     target overlaps itself), the DNS cache, the cycle counters and the
 *     concurrency and connection-rate limits.
 *   - N session workers, each pinned to a CPU, each running many sessions.
 *     A session belongs to one worker from start to end.
 *   - a small resolver pool runs getaddrinfo() so that slow or failing DNS
 *     never stalls a worker or the scheduler.
 * They exchange jobs only through wk_submit() (a queue plus an eventfd).
 *
 * The target set is read through the RCU pointer the caller passes
 * (struct tset **): the scheduler reads it at each cycle start, takes a
 * reference, and releases it when the cycle's last session is done, so a
 * swap never drops a session in flight and applies from the next cycle.
 *
 * Each cycle starts at the next match of Probe.Schedule; a target starts at
 * a deterministic offset inside the cycle (a hash of IP, port and mode), so
 * starts are spread and stable from cycle to cycle; entries sharing IP, port
 * and mode (one per DSCP, say) are spread evenly from there.  A target is
 * one entry of the list (config_target.key: every field): it is skipped only
 * while the same entry's previous session runs, never for a sibling.  --once starts every
 * target at once, limited only by MaxConcurrentSessions and ConnectRate.
 * Finished sessions become records handed to the sender; each cycle ends
 * with one twamp_probe record and one log line.
 */
#ifndef SCHEDULER_H
#define SCHEDULER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "sender.h"

/* The published, immutable target set: a config plus a reference count. */
struct tset {
	struct config *cfg;
	atomic_int refs;
	uint64_t generation;
};

struct tset *tset_new(struct config *cfg, uint64_t generation);  /* refs = 1 */
void tset_get(struct tset *t);
void tset_put(struct tset *t);  /* frees at zero */

struct sched_opts {
	struct tset **current;     /* RCU pointer to the target set */
	struct sender *sender;
	const char *probe_name;
	int nworkers;              /* >= 1 */
	const int *cpus;           /* pin list, may be NULL */
	int ncpus;
	bool once;                 /* one cycle now, then sched_wait_once() returns */
	_Atomic uint64_t *config_errors;   /* cumulative rejected config loads, for the probe record */
	const char *health_path;   /* written at each cycle end (see daemon_health), may be NULL */
};

struct sched_stats {
	uint64_t cycles;
	uint64_t started, ok, failed, skipped;
	uint32_t running;
};

struct scheduler;

struct scheduler *sched_start(const struct sched_opts *o);
/* --once: block until the cycle's last record was handed to the sender. */
void sched_wait_once(struct scheduler *sc);
bool sched_once_done(struct scheduler *sc);
/*
 * Stop starting sessions, give running ones `grace` ns to finish, abort the
 * rest (each still yields a record), then stop every thread and free.
 */
void sched_stop(struct scheduler *sc, int64_t grace);
void sched_get_stats(struct scheduler *sc, struct sched_stats *out);

/*
 * Start offsets in a cycle window of w ns (0..w-1), one per cfg->targets[i],
 * into off[]: a hash of the entry's IP, port and mode, siblings (same IP,
 * port and mode) evenly spaced from the first.  w <= 0: all 0 (--once).
 */
void sched_plan_offsets(const struct config *cfg, int64_t w, int64_t *off);

#endif
