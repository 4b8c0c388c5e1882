/*
 * rng: splitmix64, the one small seedable generator of the project (send
 * spacing, padding, impairments, and the tests' random inputs).  Not for
 * secrets (crypto_random()) nor for what must differ between runs and
 * threads, such as the SIDs' random octets (getrandom()).
 */
#ifndef RNG_H
#define RNG_H

#include <stddef.h>
#include <stdint.h>

/* SplitMix64's finalizer: a bijective mix of 64 bits (also a hash's last step) */
static inline uint64_t rng_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rng_next(uint64_t *s)
{
	return rng_mix(*s += 0x9e3779b97f4a7c15ULL);
}

#endif
