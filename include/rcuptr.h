/*
 * rcuptr: the one place that touches liburcu.
 *
 * DESIGN
 * The daemon publishes its immutable target set through one RCU-protected
 * pointer: the config thread swaps it (rcuptr_publish) and frees the old one
 * after a grace period (rcuptr_wait); the scheduler reads it without ever
 * blocking (rcuptr_read_begin / rcuptr_read / rcuptr_read_end).
 *
 * liburcu 0.13 synchronizes with barriers ThreadSanitizer cannot see, so in
 * TSan builds this module annotates the happens-before edges it creates:
 * release before publishing, acquire after dereferencing, release at
 * read-unlock, acquire after the grace period before reclaiming.  Reports
 * whose frames lie inside liburcu.so itself are suppressed
 * (tests/tsan.supp); nothing else is.
 */
#ifndef RCUPTR_H
#define RCUPTR_H

/* Every thread that reads must register first (and unregister before exit). */
void rcuptr_thread_online(void);
void rcuptr_thread_offline(void);

void rcuptr_read_begin(void);
void rcuptr_read_end(void);
/* Inside a read section: the current value of *pp. */
void *rcuptr_read(void **pp);

/* Publish newp at *pp; returns the old pointer (reclaim it after rcuptr_wait()). */
void *rcuptr_publish(void **pp, void *newp);
/* Wait for every reader that may still see an old pointer (synchronize_rcu). */
void rcuptr_wait(void);

#endif
