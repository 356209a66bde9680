/* SPDX-License-Identifier: MIT */
/*
 * Seeded random numbers shared by the gossip engine and the simulator:
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64.  Each user
 * owns its generator, so a run replays exactly from its seed.  Internal.
 */
#ifndef CRDT_RNG_INTERNAL_H
#define CRDT_RNG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct crdtp_rng {
    uint64_t s[4];
} crdtp_rng;

/* One step of splitmix64: advances *x and returns a well-mixed word. */
static inline uint64_t crdtp_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static inline void crdtp_rng_seed(crdtp_rng *r, uint64_t seed)
{
    int i;

    for (i = 0; i < 4; i++)
        r->s[i] = crdtp_splitmix(&seed);
}

static inline uint64_t crdtp_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t crdtp_rng_next(crdtp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = crdtp_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = crdtp_rotl(s[3], 45);
    return out;
}

/* Uniform in [0, n); n > 0: Lemire's multiply-shift with rejection. */
static inline uint64_t crdtp_rng_below(crdtp_rng *r, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)crdtp_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;

    if (lo < n) {
        uint64_t t = -n % n;

        while (lo < t) {
            m = (unsigned __int128)crdtp_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* True with probability p; draws nothing when p is 0 or 1. */
static inline bool crdtp_rng_chance(crdtp_rng *r, double p)
{
    if (p <= 0.0)
        return false;
    if (p >= 1.0)
        return true;
    return (double)(crdtp_rng_next(r) >> 11) * 0x1p-53 < p;
}

#endif
