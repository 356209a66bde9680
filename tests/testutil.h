/* SPDX-License-Identifier: MIT */
/*
 * Test helpers shared by the Check suites: a counting allocator that can
 * fail the n-th allocation and reports leaks, a seeded PRNG whose seed is
 * printed so that CRDT_SEED=<seed> reproduces a run, the workload id
 * generator shared with the peer benchmark, quiet assertions, and two
 * drivers written once for every type through its crdt_type descriptor:
 * a rejected decode (tu_expect_reject) and the allocation-failure loop
 * (tu_nomem_run).
 */
#ifndef CRDT_TESTUTIL_H
#define CRDT_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/type.h>

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
/* Fails with "check failed: WHAT (a != b)" unless a == b. */
void tu_expect_eq(unsigned long long a, unsigned long long b,
                  const char *what);

/* The same, naming the expression: TU_CHECK(c) fails with "check failed:
 * c", TU_CHECK_EQ(a, b) compares both as unsigned long long and prints
 * them.  Each argument is evaluated once. */
#define TU_CHECK(c) tu_expect((c), "check failed: " #c)
#define TU_CHECK_EQ(a, b)                                                  \
    tu_expect_eq((unsigned long long)(a), (unsigned long long)(b),         \
                 #a " == " #b)

/* splitmix64 as in the peer harness: actor(k) = tu_splitmix(k),
 * elem(i) = tu_splitmix(2^32 + i). */
uint64_t tu_splitmix(uint64_t x);

/* ------------------------------------------------------ rejected decode */

/* For tu_expect_reject: the offset is not checked beyond offset <= len. */
#define TU_ANY_OFFSET ((size_t)-1)

/* tu_expect_reject decodes @p in into @p dst (an object of type @p t)
 * and asserts that the decode fails with @p code, that the
 * crdt_decode_info it fills says @p code at byte @p offset (or at most
 * @p len for TU_ANY_OFFSET), and that @p dst still equals a copy taken
 * before the call.  @p lim may be NULL.  The caller keeps @p dst and may
 * check more of it. */
void tu_expect_reject(const crdt_type *t, void *dst, const uint8_t *in,
                      size_t len, const crdt_limits *lim, int code,
                      size_t offset);

/* ------------------------------------------------- allocation failures */

/* What an operation of a nomem table does with the allocator. */
enum {
    TU_ALLOC_MAY = 0, /* may or may not allocate: nothing checked */
    TU_ALLOC_MUST,    /* allocates: some n made it fail */
    TU_ALLOC_NEVER    /* never allocates: no n made it fail */
};

/* One run of an operation under tu_nomem_run: the n-th allocation from
 * tm (0 = the first in the call) fails. */
typedef struct tu_nomem {
    const struct tu_nomem_ops *ops;
    tu_mem *tm;     /* the failing allocator */
    int op;         /* the operation, 0 .. ops->nops - 1 */
    long n;         /* the allocation that fails */
    void *a, *d;    /* setup: the targets (either may stay NULL), of
                     * ops->type; must be unchanged after a failure */
    void *src;      /* setup: an optional source of ops->type */
    crdt_buf enc;   /* setup: an optional encoding (NULL allocator) */
    void *a0, *d0;  /* copies of a and d made before the call */
    void *made;     /* call: an object of ops->type it created, or NULL */
    crdt_buf out;   /* an empty buffer on tm; must stay empty on failure */
    long live;      /* tm->live just before the call */
    void *user;     /* setup: the suite's own state, freed by teardown */
} tu_nomem;

/* A table of operations that must fail cleanly under NOMEM. */
typedef struct tu_nomem_ops {
    const crdt_type *type; /* the type of a, d, src, a0, d0 and made */
    int nops;              /* operations 0 .. nops - 1 */
    long max_n;            /* if > 0: a failure at n >= max_n fails */
    const void *fixture;   /* the suite's shared state, for its hooks */
    /* Builds a and d on &c->tm->mem (and src, enc, user) for c->op. */
    void (*setup)(tu_nomem *c);
    /* The call under test; returns its result (a constructor: through
     * tu_nomem_made). */
    int (*call)(tu_nomem *c);
    /* Optional: more checks after a failure / after the success. */
    void (*failed)(tu_nomem *c);
    void (*succeeded)(tu_nomem *c);
    /* Optional: frees what setup put in c->user. */
    void (*teardown)(tu_nomem *c);
    /* Optional: TU_ALLOC_* for an operation; NULL = TU_ALLOC_MAY. */
    int (*allocs)(int op);
} tu_nomem_ops;

/* tu_nomem_run runs each operation of @p ops with the n-th allocation
 * failing, for n = 0, 1, ... until the operation succeeds.  Each run gets
 * a fresh setup; after a failure it asserts that the call returned
 * CRDT_ERR_NOMEM, that a and d equal their copies from before the call
 * and that nothing was written to out; after every run, once everything
 * is freed, that no allocation from tm is live.  Then what ops->allocs
 * says of the operation. */
void tu_nomem_run(const tu_nomem_ops *ops);

/* For a call that creates an object: keeps @p obj in c->made and returns
 * CRDT_OK, or CRDT_ERR_NOMEM if it is NULL. */
int tu_nomem_made(tu_nomem *c, void *obj);
/* An allocs hook for tables whose every operation allocates. */
int tu_alloc_must(int op);

#endif
