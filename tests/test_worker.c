/*
 * Tests for worker.c: an io removed by a callback is not dispatched later in
 * the same batch of events (fuzz_reflector found the reflector freeing a
 * test socket's io while its event was still pending).
 */
#include <criterion/criterion.h>
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
