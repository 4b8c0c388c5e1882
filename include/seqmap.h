/*
 * seqmap: the reflector's Sequence Numbers in stateful mode (RFC 8762
 * section 4.3): one counter per sender, keyed by (peer address, peer port,
 * SSID), starting at 0.
 *
 * A fixed table allocated once: looking up or adding a sender never
 * allocates.  An entry idle for longer than `idle` starts again from 0 (the
 * sender is taken for a new one).  When every entry is in use, the longest
 * idle one is evicted (an LRU list, so finding it costs nothing) and the
 * eviction is counted, unless that entry was idle past `idle` anyway (then it
 * was aged out, counted apart).  The hash is keyed with a random value given
 * at creation, so that chosen addresses cannot pile up in one chain.
 *
 * Pure: no clock, no threads, no I/O; the caller gives the time (any
 * monotonic nanosecond count) and owns the table from one thread.
 */
#ifndef SEQMAP_H
#define SEQMAP_H

#include <stdint.h>

struct seqmap;

struct seqmap_stats {
	unsigned used;        /* entries holding a sender */
	unsigned cap;
	uint64_t evicted;     /* a sender pushed out while still active (table full) */
	uint64_t aged;        /* a sender that had been idle past `idle`, restarted or replaced */
};

/* cap >= 1 entries; NULL when out of memory or cap is 0 or too large. */
struct seqmap *seqmap_new(unsigned cap, int64_t idle, uint64_t hash_key);
void seqmap_free(struct seqmap *m);

/*
 * The Sequence Number of this sender's next reflection: 0 for a sender not
 * in the table (or idle past `idle`), then 1, 2, ... (wrapping at 2^32).
 * addr: 16 octets (IPv4 as ::ffff:a.b.c.d); port and ssid in host order.
 */
uint32_t seqmap_next(struct seqmap *m, const uint8_t addr[16], uint16_t port, uint16_t ssid, int64_t now);

void seqmap_stats(const struct seqmap *m, struct seqmap_stats *out);

#endif
