/*
 * Tests for worker.c: an io removed by a callback is not dispatched later in
 * the same batch of events (fuzz_reflector found the reflector freeing a
 * test socket's io while its event was still pending); wk_offload() runs
 * work on another thread and its result on the worker's, and a cancelled
 * task's result is never used but always released.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "worker.h"

struct pair_io {
	struct wk_io io;
	struct worker *wk;
	struct pair_io *other;
	int calls;
	bool removed;
};

static void cb(struct wk_io *io, uint32_t events)
{
	struct pair_io *p = (struct pair_io *)io;

	(void)events;
	cr_assert_not(p->removed, "callback of an io removed earlier in the same batch");
	p->calls++;
	/* the first one to run removes the other, as conn_close() removes its test sockets */
	if (!p->other->removed) {
		wk_del_io(p->wk, &p->other->io);
		p->other->removed = true;
	}
	wk_stop(p->wk);
}

Test(worker, removed_io_not_dispatched_in_same_batch)
{
	struct worker *wk = wk_create(0, -1, 4);
	struct pair_io a = { .io = { .cb = cb } }, b = { .io = { .cb = cb } };
	uint64_t one = 1;

	cr_assert_not_null(wk);
	a.wk = b.wk = wk;
	a.other = &b;
	b.other = &a;
	a.io.fd = eventfd(0, EFD_NONBLOCK);
	b.io.fd = eventfd(0, EFD_NONBLOCK);
	cr_assert(a.io.fd >= 0 && b.io.fd >= 0);
	cr_assert_eq(wk_add_io(wk, &a.io, EPOLLIN), 0);
	cr_assert_eq(wk_add_io(wk, &b.io, EPOLLIN), 0);
	/* both readable before the loop waits: one epoll batch holds both */
	cr_assert_eq(write(a.io.fd, &one, sizeof(one)), sizeof(one));
	cr_assert_eq(write(b.io.fd, &one, sizeof(one)), sizeof(one));
	wk_run(wk);
	cr_assert_eq(a.calls + b.calls, 1);
	close(a.io.fd);
	close(b.io.fd);
	wk_destroy(wk);
}

struct task {
	struct worker *wk;
	pthread_t work_thread;
	int64_t sleep_us;
	bool stop_loop;
	atomic_int done, released;
};

static pthread_t loop_thread;

static void t_work(void *arg)
{
	struct task *t = arg;

	t->work_thread = pthread_self();
	if (t->sleep_us)
		usleep((useconds_t)t->sleep_us);
}

static void t_done(struct worker *wk, void *arg)
{
	struct task *t = arg;

	cr_assert(pthread_equal(pthread_self(), loop_thread), "done() off the worker's thread");
	cr_assert_not(pthread_equal(t->work_thread, loop_thread), "work() on the worker's thread");
	atomic_fetch_add(&t->done, 1);
	if (t->stop_loop)
		wk_stop(wk);
}

static void t_release(void *arg)
{
	atomic_fetch_add(&((struct task *)arg)->released, 1);
}

static void stop_job(struct worker *wk, void *arg)
{
	(void)arg;
	wk_stop(wk);
}

static void wait_released(struct task *t)
{
	for (int i = 0; i < 500 && !atomic_load(&t->released); i++)
		usleep(10000);
}

Test(worker, offload_runs_off_the_loop)
{
	struct worker *wk = wk_create(0, -1, 4);
	struct task t = { .stop_loop = true };

	loop_thread = pthread_self();
	cr_assert_not_null(wk);
	cr_assert_not_null(wk_offload(wk, t_work, t_done, t_release, &t));
	wk_run(wk);
	cr_assert_eq(atomic_load(&t.done), 1);
	cr_assert_eq(atomic_load(&t.released), 1);
	wk_destroy(wk);
}

/* Cancelled while queued behind a slow task: released by the helper, done() never runs. */
Test(worker, offload_cancel_before_run)
{
	struct worker *wk = wk_create(0, -1, 4);
	struct task slow = { .sleep_us = 200000, .stop_loop = true }, t = { 0 };
	struct wk_task *h;

	loop_thread = pthread_self();
	cr_assert_not_null(wk_offload(wk, t_work, t_done, t_release, &slow));
	h = wk_offload(wk, t_work, t_done, t_release, &t);
	cr_assert_not_null(h);
	wk_offload_cancel(h);
	wk_run(wk);
	wait_released(&t);
	cr_assert_eq(atomic_load(&slow.done), 1);
	cr_assert_eq(atomic_load(&t.done), 0);
	cr_assert_eq(atomic_load(&t.released), 1);
	wk_destroy(wk);
}

/* Cancelled after its result was queued to the worker: released there, done() never runs. */
Test(worker, offload_cancel_after_result_queued)
{
	struct worker *wk = wk_create(0, -1, 4);
	struct task t = { 0 };
	struct wk_task *h;

	loop_thread = pthread_self();
	h = wk_offload(wk, t_work, t_done, t_release, &t);
	cr_assert_not_null(h);
	usleep(200000); /* the helper finishes and queues the result; the loop is not running */
	wk_offload_cancel(h);
	cr_assert_eq(atomic_load(&t.released), 0, "released before the worker ran its queue");
	wk_submit(wk, stop_job, NULL);
	wk_run(wk);
	cr_assert_eq(atomic_load(&t.done), 0);
	cr_assert_eq(atomic_load(&t.released), 1);
	wk_destroy(wk);
}
