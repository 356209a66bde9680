/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "testutil.h"

void tu_must(int rv, const char *what)
{
    if (rv != CRDT_OK)
        ck_abort_msg("%s: %s", what, crdt_strerror(rv));
}

void tu_expect(bool ok, const char *what)
{
    if (!ok)
        ck_abort_msg("%s", what);
}

void tu_must_k(int rv, const char *what, long k)
{
    if (rv != CRDT_OK)
        ck_abort_msg("case %ld: %s: %s", k, what, crdt_strerror(rv));
}

void tu_expect_k(bool ok, const char *what, long k)
{
    if (!ok)
        ck_abort_msg("case %ld: %s", k, what);
}

static int should_fail(tu_mem *tm)
{
    tm->calls++;
    if (tm->countdown < 0)
        return 0;
    if (tm->countdown-- == 0) {
        tm->failed++;
        return 1;
    }
    return 0;
}

static void *tm_malloc(size_t size, void *ud)
{
    tu_mem *tm = ud;
    void *p;

    if (should_fail(tm))
        return NULL;
    p = malloc(size);
    if (p)
        tm->live++;
    return p;
}

static void *tm_realloc(void *ptr, size_t size, void *ud)
{
    tu_mem *tm = ud;
    void *p;

    if (should_fail(tm))
        return NULL;
    p = realloc(ptr, size);
    if (p && !ptr)
        tm->live++;
    return p;
}

static void tm_free(void *ptr, void *ud)
{
    tu_mem *tm = ud;

    if (ptr) {
        tm->live--;
        free(ptr);
    }
}

void tu_mem_init(tu_mem *tm)
{
    tm->mem.malloc = tm_malloc;
    tm->mem.realloc = tm_realloc;
    tm->mem.free = tm_free;
    tm->mem.user_data = tm;
    tm->countdown = -1;
    tm->live = 0;
    tm->calls = 0;
    tm->failed = 0;
}

void tu_mem_fail_at(tu_mem *tm, long n)
{
    tm->countdown = n;
}

void tu_mem_off(tu_mem *tm)
{
    tm->countdown = -1;
}

uint64_t tu_splitmix(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15u;

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

uint64_t tu_seed(const char *suite)
{
    static uint64_t seed;
    static int have;
    const char *e;

    if (!have) {
        e = getenv("CRDT_SEED");
        if (e && *e)
            seed = strtoull(e, NULL, 0);
        else
            seed = tu_splitmix((uint64_t)time(NULL) ^
                               ((uint64_t)clock() << 32));
        have = 1;
        printf("%s: seed %llu (CRDT_SEED=%llu reproduces)\n", suite,
               (unsigned long long)seed, (unsigned long long)seed);
        fflush(stdout);
    }
    return seed;
}

long tu_cases(long dflt)
{
    const char *e = getenv("CRDT_CASES");
    long n;

    if (!e || !*e)
        return dflt;
    n = strtol(e, NULL, 10);
    return n > 0 ? n : dflt;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void tu_rng_init(tu_rng *r, uint64_t seed)
{
    int i;

    for (i = 0; i < 4; i++)
        r->s[i] = tu_splitmix(seed + (uint64_t)i * 0x9E3779B97F4A7C15u);
}

uint64_t tu_rand(tu_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

uint64_t tu_below(tu_rng *r, uint64_t n)
{
    return tu_rand(r) % n;
}
