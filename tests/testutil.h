/* SPDX-License-Identifier: MIT */
/*
 * Test helpers shared by the Check suites: a counting allocator that can
 * fail the n-th allocation and reports leaks, a seeded PRNG whose seed is
 * printed so that CRDT_SEED=<seed> reproduces a run, and the workload id
 * generator shared with the peer benchmark.
 */
#ifndef CRDT_TESTUTIL_H
#define CRDT_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <crdt/common.h>

/* Counting allocator.  Pass &tm->mem to libcrdt.  After tu_mem_fail_at(tm,
 * n), the n-th allocation from then on (0 = the next one) returns NULL
 * (realloc too); only that one fails. */
typedef struct tu_mem {
    crdt_mem mem;
    long countdown; /* allocations left before the failing one; -1 = off */
    long live;      /* blocks allocated and not yet freed */
    long calls;     /* allocation calls (malloc + realloc) */
    long failed;    /* allocations refused */
} tu_mem;

void tu_mem_init(tu_mem *tm);
void tu_mem_fail_at(tu_mem *tm, long n);
void tu_mem_off(tu_mem *tm);

/* Seed of this process: CRDT_SEED from the environment, else drawn from
 * the clock; printed once to stderr as "<suite>: seed N". */
uint64_t tu_seed(const char *suite);
/* Number of random cases: CRDT_CASES from the environment, else dflt. */
long tu_cases(long dflt);

typedef struct tu_rng {
    uint64_t s[4];
} tu_rng;

void tu_rng_init(tu_rng *r, uint64_t seed);
uint64_t tu_rand(tu_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t tu_below(tu_rng *r, uint64_t n);

/* Quiet assertions for hot loops.  Check's ck_assert_* reports every
 * passing check to the parent process (a pipe write each), which dominates
 * a property test of millions of checks; these call into Check only on
 * failure.  The _k forms name the random case k in the message. */
void tu_must(int rv, const char *what);
void tu_expect(bool ok, const char *what);
void tu_must_k(int rv, const char *what, long k);
void tu_expect_k(bool ok, const char *what, long k);

/* splitmix64 as in the peer harness: actor(k) = tu_splitmix(k),
 * elem(i) = tu_splitmix(2^32 + i). */
uint64_t tu_splitmix(uint64_t x);

#endif
