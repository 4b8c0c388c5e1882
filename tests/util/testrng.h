/* Seeded random inputs for tests: failures reproduce. */
#ifndef TESTRNG_H
#define TESTRNG_H

#include "rng.h"

struct rng {
	uint64_t s;
};

static inline uint64_t rnd(struct rng *r)
{
	return rng_next(&r->s);
}

static inline void rnd_bytes(struct rng *r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd(r);
}

#endif
