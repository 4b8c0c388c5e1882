/*
 * rcuptr: liburcu (memb flavour) behind five calls, with ThreadSanitizer
 * annotations of the edges liburcu creates (see include/rcu.h).
 */
/* liburcu's documented switch to its inlined fast paths.
 * NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#define _LGPL_SOURCE 0
#include "rcuptr.h"

#include <urcu.h>

#if defined(__SANITIZE_THREAD__)
#define TC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TC_TSAN 1
#endif
#endif

#ifdef TC_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
/* one address stands for "the grace period": readers release it, reclaimers acquire it */
static char grace_token;
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#define TSAN_RELEASE(p) __tsan_release(p)
#else
#define TSAN_ACQUIRE(p) ((void)(p))
#define TSAN_RELEASE(p) ((void)(p))
#endif

void rcuptr_thread_online(void)
{
	rcu_register_thread();
}

void rcuptr_thread_offline(void)
{
	rcu_unregister_thread();
}

void rcuptr_read_begin(void)
{
	rcu_read_lock();
}

void rcuptr_read_end(void)
{
#ifdef TC_TSAN
	TSAN_RELEASE(&grace_token);
#endif
	rcu_read_unlock();
}

void *rcuptr_read(void **pp)
{
	void *p = rcu_dereference(*pp);

	if (p)
		TSAN_ACQUIRE(p);
	return p;
}

void *rcuptr_publish(void **pp, void *newp)
{
	if (newp)
		TSAN_RELEASE(newp);
	return rcu_xchg_pointer(pp, newp);
}

void rcuptr_wait(void)
{
	synchronize_rcu();
#ifdef TC_TSAN
	TSAN_ACQUIRE(&grace_token);
#endif
}
