/*
 * seqmap: per-sender reflector Sequence Numbers (see include/seqmap.h).
 *
 * Entries live in one array, chained from a power-of-two bucket array by
 * index (NIL ends a chain), and threaded on a doubly linked LRU list whose
 * head is the most recently used and whose tail the longest idle.  Unused
 * entries sit on a free list (through hnext).
 */
#include "seqmap.h"
#include "rng.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define SEQMAP_MAX_CAP (1u << 24)

struct entry {
	uint8_t addr[16];
	uint16_t port, ssid;
	uint32_t seq;          /* the next one to hand out */
	int64_t last;          /* when it was last used */
	uint32_t hnext;        /* bucket chain, or the free list */
	uint32_t prev, next;   /* LRU list */
};

struct seqmap {
	struct entry *e;
	uint32_t *bucket;
	uint32_t mask;         /* buckets - 1 */
	uint32_t cap, used;
	uint32_t free_head;
	uint32_t head, tail;   /* LRU: most recent, longest idle */
	int64_t idle;
	uint64_t key;
	uint64_t evicted, aged;
};

static uint32_t hash(const struct seqmap *m, const uint8_t addr[16], uint16_t port, uint16_t ssid)
{
	uint64_t a, b;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return (uint32_t)rng_mix(rng_mix(rng_mix(m->key ^ a) ^ b) ^ ((uint64_t)port << 16 | ssid)) & m->mask;
}

struct seqmap *seqmap_new(unsigned cap, int64_t idle, uint64_t hash_key)
{
	struct seqmap *m;
	uint32_t nb = 1;

	if (!cap || cap > SEQMAP_MAX_CAP)
		return NULL;
	while (nb < 2 * cap)
		nb <<= 1;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->e = calloc(cap, sizeof(*m->e));
	m->bucket = malloc(nb * sizeof(*m->bucket));
	if (!m->e || !m->bucket) {
		seqmap_free(m);
		return NULL;
	}
	memset(m->bucket, 0xff, nb * sizeof(*m->bucket)); /* NIL */
	m->mask = nb - 1;
	m->cap = cap;
	m->idle = idle;
	m->key = hash_key;
	m->head = m->tail = NIL;
	for (uint32_t i = 0; i < cap; i++)
		m->e[i].hnext = i + 1 < cap ? i + 1 : NIL;
	m->free_head = 0;
	return m;
}

void seqmap_free(struct seqmap *m)
{
	if (!m)
		return;
	free(m->e);
	free(m->bucket);
	free(m);
}

static void lru_unlink(struct seqmap *m, uint32_t i)
{
	struct entry *x = &m->e[i];

	if (x->prev != NIL)
		m->e[x->prev].next = x->next;
	else
		m->head = x->next;
	if (x->next != NIL)
		m->e[x->next].prev = x->prev;
	else
		m->tail = x->prev;
}

static void lru_push(struct seqmap *m, uint32_t i)
{
	struct entry *x = &m->e[i];

	x->prev = NIL;
	x->next = m->head;
	if (m->head != NIL)
		m->e[m->head].prev = i;
	m->head = i;
	if (m->tail == NIL)
		m->tail = i;
}

/* Take entry i out of its bucket chain (it is in one). */
static void chain_unlink(struct seqmap *m, uint32_t i)
{
	const struct entry *x = &m->e[i];
	uint32_t *pp = &m->bucket[hash(m, x->addr, x->port, x->ssid)];

	while (*pp != i)
		pp = &m->e[*pp].hnext;
	*pp = x->hnext;
}

static bool idle_past(const struct seqmap *m, const struct entry *x, int64_t now)
{
	return now - x->last > m->idle;
}

uint32_t seqmap_next(struct seqmap *m, const uint8_t addr[16], uint16_t port, uint16_t ssid, int64_t now)
{
	uint32_t h = hash(m, addr, port, ssid), i;
	struct entry *x;

	for (i = m->bucket[h]; i != NIL; i = m->e[i].hnext) {
		x = &m->e[i];
		if (x->port == port && x->ssid == ssid && !memcmp(x->addr, addr, 16)) {
			if (idle_past(m, x, now)) {
				m->aged++;
				x->seq = 0;
			}
			x->last = now;
			if (m->head != i) {
				lru_unlink(m, i);
				lru_push(m, i);
			}
			return x->seq++;
		}
	}
	if (m->free_head != NIL) {
		i = m->free_head;
		m->free_head = m->e[i].hnext;
		m->used++;
	} else {
		/* full: the longest idle sender makes room */
		i = m->tail;
		if (idle_past(m, &m->e[i], now))
			m->aged++;
		else
			m->evicted++;
		chain_unlink(m, i);
		lru_unlink(m, i);
	}
	x = &m->e[i];
	memcpy(x->addr, addr, 16);
	x->port = port;
	x->ssid = ssid;
	x->seq = 1;
	x->last = now;
	x->hnext = m->bucket[h];
	m->bucket[h] = i;
	lru_push(m, i);
	return 0;
}

void seqmap_stats(const struct seqmap *m, struct seqmap_stats *out)
{
	out->used = m->used;
	out->cap = m->cap;
	out->evicted = m->evicted;
	out->aged = m->aged;
}
