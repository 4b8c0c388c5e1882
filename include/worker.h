/*
 * worker: one thread, one epoll loop, one timer heap.
 *
 * DESIGN
 * A worker owns everything registered with it: I/O handles, timers, and the
 * sessions that created them.  Only the worker's own thread touches them.
 * Other threads talk to a worker through two thread-safe calls only:
 * wk_submit() (a job run on the worker thread, woken through an eventfd) and
 * wk_stop().  The daemon runs several workers, each pinned to a CPU; `ping`
 * runs one worker in the calling thread (wk_run), so the one-shot tool and the
 * daemon measure with the same engine.
 *
 * Work that would stall a loop (PBKDF2 with a server's large Count: 0.35 s
 * at 2^20) goes to wk_offload(): one helper thread per process, started on
 * first use, runs such tasks one after the other and hands each result back
 * to its worker through the worker's own job queue and eventfd, so the
 * result is used on the worker thread like any wk_submit() job.
 *
 * Timers run on CLOCK_MONOTONIC; timestamps (T1..T4) are CLOCK_REALTIME and
 * are never compared with a timer's deadline.
 * Timers are kept in a binary min-heap of pointers to caller-owned struct
 * wk_timer; re-arming an armed timer moves it in place, so the per-packet
 * path does not allocate.  The loop sleeps in epoll_pwait2() with a
 * nanosecond timeout, and the thread's timer slack is set to 1 ns, so
 * deadlines are met to within the scheduler's wake-up latency.
 */
#ifndef WORKER_H
#define WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker;

struct wk_io {
	int fd;
	void (*cb)(struct wk_io *io, uint32_t events);
};

struct wk_timer {
	int64_t when;                       /* ns, CLOCK_MONOTONIC (ntptime_mono) */
	void (*cb)(struct wk_timer *t);
	uint32_t heap_idx;                  /* WK_TIMER_IDLE when not armed */
};
#define WK_TIMER_IDLE UINT32_MAX

static inline void wk_timer_init(struct wk_timer *t, void (*cb)(struct wk_timer *))
{
	t->when = 0;
	t->cb = cb;
	t->heap_idx = WK_TIMER_IDLE;
}

static inline bool wk_timer_armed(const struct wk_timer *t)
{
	return t->heap_idx != WK_TIMER_IDLE;
}

/* cpu < 0: no pinning.  timer_hint: expected number of concurrent timers. */
struct worker *wk_create(int id, int cpu, size_t timer_hint);
void wk_destroy(struct worker *wk);
int wk_id(const struct worker *wk);

int wk_add_io(struct worker *wk, struct wk_io *io, uint32_t events);
int wk_mod_io(struct worker *wk, struct wk_io *io, uint32_t events);
void wk_del_io(struct worker *wk, struct wk_io *io);

/*
 * Arm (or move) a timer to fire at `when`, a CLOCK_MONOTONIC instant
 * (ntptime_mono() + delay): a step of the wall clock never stalls nor bursts
 * timers.  Returns -1 only when the heap cannot grow.
 */
int wk_timer_arm(struct worker *wk, struct wk_timer *t, int64_t when);
void wk_timer_cancel(struct worker *wk, struct wk_timer *t);

/*
 * Precision sending: wake `ns` before each timer and poll the remaining time
 * instead of sleeping, so the kernel's wake-up latency (tens of microseconds
 * on a VM) does not make packets late.  Costs up to `ns` of CPU per deadline;
 * 0 (the default) never spins.
 */
void wk_set_spin(struct worker *wk, int64_t ns);

/* Run the loop in the calling thread until wk_stop(). */
int wk_run(struct worker *wk);
/* Start a thread (pinned when cpu >= 0) that runs the loop. */
int wk_start(struct worker *wk);
/* Thread-safe: ask the loop to return; then wk_join() a started worker. */
void wk_stop(struct worker *wk);
void wk_join(struct worker *wk);

/* Thread-safe: run fn(wk, arg) on the worker thread.  0 or -1. */
int wk_submit(struct worker *wk, void (*fn)(struct worker *wk, void *arg), void *arg);

/*
 * Run work(arg) on the helper thread, then done(wk, arg) on wk's thread, then
 * release(arg) there.  Called on wk's thread; returns a handle, or NULL (and
 * nothing runs) when it cannot allocate.  work() must touch only arg.
 *
 * wk_offload_cancel(), on wk's thread, while done() has not yet run: done()
 * never runs, and release(arg) runs on whichever thread holds the task then
 * (the helper's, or wk's when the result was already queued; also from
 * wk_destroy()), so it must be thread-safe on its own (wipe and free).  The
 * handle is invalid after done() or the cancel.  A task must be done or
 * cancelled before its worker is destroyed.
 */
struct wk_task;
struct wk_task *wk_offload(struct worker *wk, void (*work)(void *arg),
			   void (*done)(struct worker *wk, void *arg), void (*release)(void *arg),
			   void *arg);
void wk_offload_cancel(struct wk_task *t);

/* Number of online CPUs (at least 1). */
int wk_ncpus(void);

#endif
