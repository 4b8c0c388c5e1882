/*
 * worker: the event loop every measurement runs on.  See include/worker.h for
 * the ownership rules (DESIGN).
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "ntptime.h"

struct wk_job {
	struct wk_job *next;
	void (*fn)(struct worker *wk, void *arg);
	void *arg;
};

struct worker {
	int id;
	int cpu;
	int epfd;
	struct wk_io wake;          /* eventfd: jobs and stop requests */
	atomic_bool stop;
	pthread_t thread;
	bool started;

	pthread_mutex_t jobs_lock;
	struct wk_job *jobs_head, **jobs_tail;

	struct wk_timer **heap;
	size_t heap_len, heap_cap;
	int64_t spin;
	bool no_pwait2;             /* fall back to epoll_wait's milliseconds */
	/*
	 * The events epoll returned that the loop has not yet dispatched: a
	 * callback may remove (and free) another io whose event is still among
	 * them, so wk_del_io() clears its entries (found by fuzz_reflector: a
	 * control connection closed with its test socket's event pending).
	 */
	struct epoll_event *batch;
	int batch_n;
};

void wk_set_spin(struct worker *wk, int64_t ns)
{
	wk->spin = ns > 0 ? ns : 0;
}

static void heap_swap(struct worker *wk, size_t a, size_t b)
{
	struct wk_timer *t = wk->heap[a];

	wk->heap[a] = wk->heap[b];
	wk->heap[b] = t;
	wk->heap[a]->heap_idx = (uint32_t)a;
	wk->heap[b]->heap_idx = (uint32_t)b;
}

static void heap_up(struct worker *wk, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (wk->heap[p]->when <= wk->heap[i]->when)
			break;
		heap_swap(wk, p, i);
		i = p;
	}
}

static void heap_down(struct worker *wk, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < wk->heap_len && wk->heap[l]->when < wk->heap[m]->when)
			m = l;
		if (r < wk->heap_len && wk->heap[r]->when < wk->heap[m]->when)
			m = r;
		if (m == i)
			break;
		heap_swap(wk, i, m);
		i = m;
	}
}

int wk_timer_arm(struct worker *wk, struct wk_timer *t, int64_t when)
{
	if (wk_timer_armed(t)) {
		int64_t old = t->when;

		t->when = when;
		if (when < old)
			heap_up(wk, t->heap_idx);
		else
			heap_down(wk, t->heap_idx);
		return 0;
	}
	if (wk->heap_len == wk->heap_cap) {
		size_t cap = wk->heap_cap ? wk->heap_cap * 2 : 64;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		struct wk_timer **h = realloc(wk->heap, cap * sizeof(*h));

		if (!h) {
			log_err("worker %d: cannot grow the timer heap to %zu", wk->id, cap);
			return -1;
		}
		wk->heap = h;
		wk->heap_cap = cap;
	}
	t->when = when;
	t->heap_idx = (uint32_t)wk->heap_len;
	wk->heap[wk->heap_len++] = t;
	heap_up(wk, t->heap_idx);
	return 0;
}

void wk_timer_cancel(struct worker *wk, struct wk_timer *t)
{
	size_t i = t->heap_idx;

	if (!wk_timer_armed(t))
		return;
	t->heap_idx = WK_TIMER_IDLE;
	wk->heap_len--;
	if (i == wk->heap_len)
		return;
	wk->heap[i] = wk->heap[wk->heap_len];
	wk->heap[i]->heap_idx = (uint32_t)i;
	heap_up(wk, i);
	heap_down(wk, wk->heap[i]->heap_idx);
}

static void run_jobs(struct worker *wk)
{
	struct wk_job *j;

	pthread_mutex_lock(&wk->jobs_lock);
	j = wk->jobs_head;
	wk->jobs_head = NULL;
	wk->jobs_tail = &wk->jobs_head;
	pthread_mutex_unlock(&wk->jobs_lock);
	while (j) {
		struct wk_job *next = j->next;

		j->fn(wk, j->arg);
		free(j);
		j = next;
	}
}

static void wake_cb(struct wk_io *io, uint32_t events)
{
	struct worker *wk = (struct worker *)((char *)io - offsetof(struct worker, wake));
	uint64_t v;

	(void)events;
	if (read(io->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("worker %d: eventfd read: %m", wk->id);
	run_jobs(wk);
}

struct worker *wk_create(int id, int cpu, size_t timer_hint)
{
	struct worker *wk = calloc(1, sizeof(*wk));

	if (!wk)
		return NULL;
	wk->id = id;
	wk->cpu = cpu;
	wk->epfd = -1;
	wk->wake.fd = -1;
	wk->jobs_tail = &wk->jobs_head;
	pthread_mutex_init(&wk->jobs_lock, NULL);
	wk->heap_cap = timer_hint ? timer_hint : 64;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	wk->heap = calloc(wk->heap_cap, sizeof(*wk->heap));
	wk->epfd = epoll_create1(EPOLL_CLOEXEC);
	wk->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	wk->wake.cb = wake_cb;
	if (!wk->heap || wk->epfd < 0 || wk->wake.fd < 0 || wk_add_io(wk, &wk->wake, EPOLLIN) < 0) {
		log_err("worker %d: cannot create its event loop: %m", id);
		wk_destroy(wk);
		return NULL;
	}
	return wk;
}

void wk_destroy(struct worker *wk)
{
	if (!wk)
		return;
	run_jobs(wk); /* jobs own their argument: let them clean up */
	if (wk->epfd >= 0)
		close(wk->epfd);
	if (wk->wake.fd >= 0)
		close(wk->wake.fd);
	pthread_mutex_destroy(&wk->jobs_lock);
	free(wk->heap);
	free(wk);
}

int wk_id(const struct worker *wk)
{
	return wk->id;
}

int wk_add_io(struct worker *wk, struct wk_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (epoll_ctl(wk->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0) {
		log_err("worker %d: epoll add fd %d: %m", wk->id, io->fd);
		return -1;
	}
	return 0;
}

int wk_mod_io(struct worker *wk, struct wk_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (epoll_ctl(wk->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0) {
		log_err("worker %d: epoll mod fd %d: %m", wk->id, io->fd);
		return -1;
	}
	return 0;
}

void wk_del_io(struct worker *wk, struct wk_io *io)
{
	if (io->fd >= 0)
		epoll_ctl(wk->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	for (int i = 0; i < wk->batch_n; i++)
		if (wk->batch[i].data.ptr == io)
			wk->batch[i].data.ptr = NULL;
}

static void run_timers(struct worker *wk)
{
	int64_t now = ntptime_mono();

	while (wk->heap_len > 0 && wk->heap[0]->when <= now) {
		struct wk_timer *t = wk->heap[0];

		wk_timer_cancel(wk, t);
		t->cb(t);
		if (atomic_load_explicit(&wk->stop, memory_order_relaxed))
			return;
		if (wk->heap_len > 0 && wk->heap[0]->when > now)
			now = ntptime_mono();
	}
}

int wk_run(struct worker *wk)
{
	struct epoll_event evs[64];

	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	while (!atomic_load_explicit(&wk->stop, memory_order_acquire)) {
		struct timespec tmo, *tp = NULL;
		int n;

		if (wk->heap_len > 0) {
			int64_t d = wk->heap[0]->when - ntptime_mono();

			/* within the spin window: poll without sleeping */
			d = d <= wk->spin ? 0 : d - wk->spin;
			tmo = ntptime_to_timespec(d);
			tp = &tmo;
		}
		if (!wk->no_pwait2) {
			n = epoll_pwait2(wk->epfd, evs, 64, tp, NULL);
			if (n < 0 && errno == ENOSYS) {
				/* kernels before 5.11, some seccomp profiles, qemu-user */
				log_warn("worker %d: epoll_pwait2 unavailable: millisecond timers", wk->id);
				wk->no_pwait2 = true;
				continue;
			}
		} else {
			n = epoll_wait(wk->epfd, evs, 64,
				       tp ? (int)((ntptime_from_timespec(tp) + NS_PER_MS - 1) / NS_PER_MS) : -1);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("worker %d: epoll_pwait2: %m", wk->id);
			return -1;
		}
		wk->batch = evs;
		wk->batch_n = n;
		for (int i = 0; i < n; i++) {
			struct wk_io *io = evs[i].data.ptr;

			if (io) /* NULL: removed by an earlier callback of this batch */
				io->cb(io, evs[i].events);
		}
		wk->batch_n = 0;
		run_timers(wk);
	}
	return 0;
}

static void *wk_thread(void *arg)
{
	struct worker *wk = arg;
	char name[16];

	if (wk->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(wk->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			log_warn("worker %d: cannot pin to CPU %d; running unpinned", wk->id, wk->cpu);
	}
	snprintf(name, sizeof(name), "worker-%d", wk->id);
	pthread_setname_np(pthread_self(), name);
	wk_run(wk);
	return NULL;
}

int wk_start(struct worker *wk)
{
	int rc = pthread_create(&wk->thread, NULL, wk_thread, wk);

	if (rc != 0) {
		log_err("worker %d: pthread_create: %s", wk->id, strerror(rc));
		return -1;
	}
	wk->started = true;
	return 0;
}

void wk_stop(struct worker *wk)
{
	uint64_t one = 1;

	atomic_store_explicit(&wk->stop, true, memory_order_release);
	if (write(wk->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("worker %d: eventfd write: %m", wk->id);
}

void wk_join(struct worker *wk)
{
	if (wk->started) {
		pthread_join(wk->thread, NULL);
		wk->started = false;
	}
}

/* Queue j (allocated by the caller, freed by run_jobs) and wake the loop. */
static int enqueue(struct worker *wk, struct wk_job *j)
{
	uint64_t one = 1;

	j->next = NULL;
	pthread_mutex_lock(&wk->jobs_lock);
	*wk->jobs_tail = j;
	wk->jobs_tail = &j->next;
	pthread_mutex_unlock(&wk->jobs_lock);
	if (write(wk->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		log_err("worker %d: eventfd write: %m", wk->id);
		return -1;
	}
	return 0;
}

int wk_submit(struct worker *wk, void (*fn)(struct worker *wk, void *arg), void *arg)
{
	struct wk_job *j = malloc(sizeof(*j));

	if (!j)
		return -1;
	j->fn = fn;
	j->arg = arg;
	return enqueue(wk, j);
}

/* ---- offloaded work: one helper thread per process --------------------- */

struct wk_task {
	struct wk_task *next;
	struct worker *wk;
	void (*work)(void *arg);
	void (*done)(struct worker *wk, void *arg);
	void (*release)(void *arg);
	void *arg;
	struct wk_job *job;         /* allocated up front: handing back cannot fail */
	bool cancelled;             /* under helper.lock */
};

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct wk_task *head, **tail;
	bool running;
} helper = { .once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER,
	     .cond = PTHREAD_COND_INITIALIZER };

static void task_free(struct wk_task *t)
{
	t->release(t->arg);
	free(t->job);
	free(t);
}

/* On the task's worker: the result, unless the owner cancelled meanwhile. */
static void task_deliver(struct worker *wk, void *arg)
{
	struct wk_task *t = arg;
	bool cancelled;

	pthread_mutex_lock(&helper.lock);
	cancelled = t->cancelled;
	pthread_mutex_unlock(&helper.lock);
	if (!cancelled)
		t->done(wk, t->arg);
	t->job = NULL; /* run_jobs frees it */
	task_free(t);
}

static void *helper_thread(void *unused)
{
	(void)unused;
	pthread_setname_np(pthread_self(), "wk-offload");
	pthread_mutex_lock(&helper.lock);
	for (;;) {
		struct wk_task *t;

		while (!helper.head)
			pthread_cond_wait(&helper.cond, &helper.lock);
		t = helper.head;
		helper.head = t->next;
		if (!helper.head)
			helper.tail = &helper.head;
		if (!t->cancelled) {
			pthread_mutex_unlock(&helper.lock);
			t->work(t->arg);
			pthread_mutex_lock(&helper.lock);
		}
		if (t->cancelled) {
			pthread_mutex_unlock(&helper.lock);
			task_free(t);
			pthread_mutex_lock(&helper.lock);
			continue;
		}
		/* under the lock: a cancel either came before (above) or finds it queued */
		t->job->fn = task_deliver;
		t->job->arg = t;
		enqueue(t->wk, t->job);
	}
	return NULL;
}

static void helper_start(void)
{
	pthread_t th;
	pthread_attr_t a;

	helper.tail = &helper.head;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &a, helper_thread, NULL) != 0)
		log_err("cannot start the offload thread: %m");
	else
		helper.running = true;
	pthread_attr_destroy(&a);
}

struct wk_task *wk_offload(struct worker *wk, void (*work)(void *arg),
			   void (*done)(struct worker *wk, void *arg), void (*release)(void *arg),
			   void *arg)
{
	struct wk_task *t;

	pthread_once(&helper.once, helper_start);
	if (!helper.running)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->job = malloc(sizeof(*t->job)))) {
		free(t);
		return NULL;
	}
	t->wk = wk;
	t->work = work;
	t->done = done;
	t->release = release;
	t->arg = arg;
	pthread_mutex_lock(&helper.lock);
	*helper.tail = t;
	helper.tail = &t->next;
	pthread_cond_signal(&helper.cond);
	pthread_mutex_unlock(&helper.lock);
	return t;
}

void wk_offload_cancel(struct wk_task *t)
{
	pthread_mutex_lock(&helper.lock);
	t->cancelled = true;
	pthread_mutex_unlock(&helper.lock);
}

int wk_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}
