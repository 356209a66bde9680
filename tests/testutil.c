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

void tu_expect_eq(unsigned long long a, unsigned long long b,
                  const char *what)
{
    if (a != b)
        ck_abort_msg("check failed: %s (%llu != %llu)", what, a, b);
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

/* ------------------------------------------------------ rejected decode */

/* A copy of @p obj of type @p t on the default allocator. */
static void *copy_of(const crdt_type *t, const void *obj)
{
    void *c;

    if (!obj)
        return NULL;
    c = t->create(NULL);
    if (!c)
        ck_abort_msg("%s: create failed", t->name);
    if (t->copy(c, obj) != CRDT_OK)
        ck_abort_msg("%s: copy failed", t->name);
    return c;
}

void tu_expect_reject(const crdt_type *t, void *dst, const uint8_t *in,
                      size_t len, const crdt_limits *lim, int code,
                      size_t offset)
{
    /* sentinels: a decoder that does not fill info fails below */
    crdt_decode_info info = {(size_t)-1 - 1, 12345};
    void *dst0 = copy_of(t, dst);
    int rv = t->decode(dst, in, len, lim, &info);

    if (rv != code)
        ck_abort_msg("%s decode: %s, want %s (offset %zu)", t->name,
                     crdt_strerror(rv), crdt_strerror(code), info.offset);
    if (info.code != code)
        ck_abort_msg("%s decode: info.code %d, want %d", t->name, info.code,
                     code);
    if (offset == TU_ANY_OFFSET ? info.offset > len : info.offset != offset)
        ck_abort_msg("%s decode: info.offset %zu, want %zu (len %zu)",
                     t->name, info.offset, offset, len);
    if (!t->equal(dst, dst0))
        ck_abort_msg("%s decode: the destination changed", t->name);
    t->destroy(dst0);
}

/* ------------------------------------------------- allocation failures */

static int nomem_once(const tu_nomem_ops *ops, tu_mem *tm, int op, long n)
{
    const crdt_type *t = ops->type;
    tu_nomem c = {0};
    int rv;

    c.ops = ops;
    c.tm = tm;
    c.op = op;
    c.n = n;
    crdt_buf_init(&c.enc, NULL);
    ops->setup(&c);
    c.a0 = copy_of(t, c.a);
    c.d0 = copy_of(t, c.d);
    crdt_buf_init(&c.out, &tm->mem);
    c.live = tm->live;
    tu_mem_fail_at(tm, n);
    rv = ops->call(&c);
    tu_mem_off(tm);
    if (rv != CRDT_OK) {
        if (rv != CRDT_ERR_NOMEM)
            ck_abort_msg("%s op %d n %ld: %s, want NOMEM", t->name, op, n,
                         crdt_strerror(rv));
        if (c.a && !t->equal(c.a, c.a0))
            ck_abort_msg("%s op %d n %ld: target changed", t->name, op, n);
        if (c.d && !t->equal(c.d, c.d0))
            ck_abort_msg("%s op %d n %ld: second target changed", t->name,
                         op, n);
        if (c.out.len != 0)
            ck_abort_msg("%s op %d n %ld: %zu bytes written", t->name, op, n,
                         c.out.len);
        if (ops->failed)
            ops->failed(&c);
    } else if (ops->succeeded) {
        ops->succeeded(&c);
    }
    crdt_buf_clear(&c.out);
    crdt_buf_clear(&c.enc);
    t->destroy(c.a);
    t->destroy(c.d);
    t->destroy(c.src);
    t->destroy(c.made);
    t->destroy(c.a0);
    t->destroy(c.d0);
    if (ops->teardown)
        ops->teardown(&c);
    if (tm->live != 0)
        ck_abort_msg("%s op %d n %ld: %ld allocations live", t->name, op, n,
                     tm->live);
    return rv;
}

void tu_nomem_run(const tu_nomem_ops *ops)
{
    tu_mem tm;
    long n;
    int op, want;

    tu_mem_init(&tm);
    for (op = 0; op < ops->nops; op++) {
        for (n = 0; nomem_once(ops, &tm, op, n) != CRDT_OK; n++)
            if (ops->max_n > 0 && n >= ops->max_n)
                ck_abort_msg("%s op %d: still failing at n = %ld",
                             ops->type->name, op, n);
        /* n failed runs came before the success */
        want = ops->allocs ? ops->allocs(op) : TU_ALLOC_MAY;
        if (want == TU_ALLOC_MUST && n == 0)
            ck_abort_msg("%s op %d never failed", ops->type->name, op);
        if (want == TU_ALLOC_NEVER && n > 0)
            ck_abort_msg("%s op %d allocated", ops->type->name, op);
    }
}

int tu_nomem_made(tu_nomem *c, void *obj)
{
    c->made = obj;
    return obj ? CRDT_OK : CRDT_ERR_NOMEM;
}

int tu_alloc_must(int op)
{
    (void)op;
    return TU_ALLOC_MUST;
}
