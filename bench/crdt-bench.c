/* SPDX-License-Identifier: MIT */
/*
 * crdt-bench: throughput of libcrdt's merges, comparisons and codecs,
 * measured by the method of the peer harness for Rust crdts 7.2.0
 * (../shared/peers/rust-crdts-bench), on the same workloads, so that the
 * numbers of the two compare like for like.  bench/README.md describes the
 * cases, the knobs and the output formats.
 *
 * Method.  A case has one or more measurements (msgpack cases: encode and
 * decode); a measurement is a run_batch function that performs n
 * operations, prepares their inputs outside its own timer, and returns the
 * nanoseconds the n operations took.  One repetition of a measurement runs
 * batches untimed for rep/10 (warm-up), then until at least rep of timed
 * work has accumulated, and records timed ns / operations.  After a spin of
 * BENCH_SPINUP_MS, repetitions are interleaved across cases (repetition 1
 * of every case, then repetition 2, ...), so that a slow spell of a shared
 * machine costs one repetition of many cases, and the median drops it.
 * A case reports the sum of its measurements' medians and the largest
 * (max - min) / median.
 *
 * Batch sizes.  Our merges join src into dst in place, so each operation
 * needs a fresh dst: a batch copies n of them untimed and then times the n
 * merges.  Such cases report the heap bytes of one input pair (measured
 * with glibc's mallinfo2, as the peer does); a batch holds BATCH_BYTES of
 * pairs, so it works from inputs just written and still in the L2 cache.
 * Cases that loop over one state grow the batch until it takes
 * LOOP_BATCH_NS.
 *
 * Every result is consumed (checked, and passed through an empty asm
 * statement), and every libcrdt return code is checked: a failure prints
 * the case and the error and exits 1.
 *
 * Adding a case: a data type's merge needs only a merge_type (its workload
 * pair, its expected result, and one-line wrappers of new/copy/equal/free
 * and the merge loop) and one row per size in the case table.  Any other
 * measurement is a setup/run_batch/teardown triple over a context struct.
 */
#define _POSIX_C_SOURCE 200809L

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GLIBC__) &&                                                    \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HAVE_MALLINFO2 1
#endif

#include <crdt/crdt.h>

#include "gossip_bench.h"

/* ======================================================================
 * Constants and types of the harness
 * ====================================================================== */

/* A run_batch or setup found a wrong result (libcrdt errors are < 0). */
#define BENCH_WRONG 1

/* Heap bytes of fresh inputs per batch: a quarter of the 1 MiB L2 cache of
 * the reference machine, as in the peer harness. */
#define BATCH_BYTES ((size_t)256 * 1024)
/* Timed length of one batch of a loop over one state. */
#define LOOP_BATCH_NS ((uint64_t)2000000)
/* Timed length of a batch when heap accounting is unavailable. */
#define SIZED_BATCH_NS ((uint64_t)100000)
/* op_bytes of a case whose inputs' heap size could not be measured. */
#define OP_BYTES_UNKNOWN SIZE_MAX
/* Default cap on a batch: sized cases, then loops. */
#define MAX_BATCH_SIZED ((size_t)4096)
#define MAX_BATCH_LOOP ((size_t)1 << 24)

/* Measurements per case. */
#define MAX_MEAS 2

/*
 * run_batch performs @p n operations on @p ctx, doing any preparation of
 * inputs and checking of results outside its timer, and writes the
 * nanoseconds the n operations took to @p ns.  Returns 0, a libcrdt error
 * code, or BENCH_WRONG.
 */
typedef int (*run_batch_fn)(void *ctx, size_t n, uint64_t *ns);

/* What a case's setup tells the harness. */
typedef struct case_info {
    /* Per measurement: heap bytes of the fresh inputs of one operation
     * (the batch is BATCH_BYTES / op_bytes), or 0 for a loop over one
     * state (the batch doubles until it takes LOOP_BATCH_NS). */
    size_t op_bytes[MAX_MEAS];
    size_t max_batch; /* cap on the batch; 0 = the default of its kind */
    long long bytes;  /* encoded size reported as bytes=, or -1 */
} case_info;

/* One row of the case table. */
typedef struct bench_case {
    const char *name;   /* case=NAME; BENCH_FILTER matches substrings */
    const char *params; /* "actors=64": printed after the name */
    size_t arg;         /* the size parameter setup builds for */
    const void *spec;   /* case-specific description (e.g. merge_type) */
    /* Builds the workload into a new *ctx and checks its result once;
     * returns 0, a libcrdt error or BENCH_WRONG. */
    int (*setup)(void **ctx, const struct bench_case *bc, case_info *info);
    /* One run_batch per measurement (NULL-terminated); ns_per_op is the
     * sum of their medians. */
    run_batch_fn run[MAX_MEAS];
    /* With several measurements, the field each one reports as. */
    const char *label[MAX_MEAS];
    void (*teardown)(void *ctx);
} bench_case;

/* ======================================================================
 * Small helpers
 * ====================================================================== */

static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("crdt-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * consume() and consume_mem() make a value, or all memory, observable, so
 * the compiler cannot drop the work that produced it; opaque() hides where
 * a pointer points, so loop-invariant work on it cannot be hoisted.  They
 * cost no instruction.
 */
#if defined(__GNUC__)
static inline void consume(uint64_t x)
{
    __asm__ volatile("" : : "r"(x));
}

static inline void consume_mem(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

static inline const void *opaque(const void *p)
{
    __asm__("" : "+r"(p));
    return p;
}
#else
static volatile uint64_t sink_u64;
static const void *volatile sink_ptr;

static inline void consume(uint64_t x)
{
    sink_u64 = x;
}

static inline void consume_mem(const void *p)
{
    sink_ptr = p;
}

static inline const void *opaque(const void *p)
{
    sink_ptr = p;
    return sink_ptr;
}
#endif

/* The peer's ids: actor(k) = splitmix64(k), elem(i) = splitmix64(2^32+i);
 * random-looking 64-bit integers, distinct (splitmix64 is a bijection). */
static uint64_t splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15u;

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static crdt_actor actor(size_t k)
{
    return splitmix64((uint64_t)k);
}

/* Grows the array of @p *n pointers at @p *pool to at least @p want by
 * calling @p create for each new slot; NOMEM on failure. */
static int grow_pool(void ***pool, size_t *n, size_t want,
                     void *(*create)(const void *arg), const void *arg)
{
    void **p;

    if (want <= *n)
        return CRDT_OK;
    p = realloc(*pool, want * sizeof *p);
    if (!p)
        return CRDT_ERR_NOMEM;
    *pool = p;
    for (; *n < want; (*n)++) {
        if (!(p[*n] = create(arg)))
            return CRDT_ERR_NOMEM;
    }
    return CRDT_OK;
}

/* Heap bytes in use (glibc), false where unknown. */
static bool heap_in_use(size_t *bytes)
{
#ifdef HAVE_MALLINFO2
    struct mallinfo2 mi = mallinfo2();

    *bytes = mi.uordblks + mi.hblkhd;
    return true;
#else
    (void)bytes;
    return false;
#endif
}

/* ======================================================================
 * Merge cases, generic over a data type
 * ====================================================================== */

/* A data type as the merge cases drive it. */
typedef struct merge_type {
    /* Builds the peer's workload pair (a, b) of size n. */
    int (*make_pair)(size_t n, void **a, void **b);
    /* Checks that @p m is a merged with b; 0 or BENCH_WRONG. */
    int (*check_merged)(const void *m, size_t n);
    void *(*create)(void); /* an empty state; NULL on NOMEM */
    int (*copy)(void *dst, const void *src);
    bool (*equal)(const void *x, const void *y);
    void (*destroy)(void *obj);
    /* The timed loop: merges src into each of dst[0..n); direct calls, so
     * that no indirection is timed per operation. */
    int (*merge_all)(void *const *dst, size_t n, const void *src);
} merge_type;

typedef struct merge_ctx {
    const merge_type *t;
    void *a, *b; /* the workload pair: one op = merge(copy of a, b) */
    void *want;  /* a merged with b, checked once */
    void **dst;  /* fresh copies of a, one per operation of a batch */
    size_t ndst;
} merge_ctx;

/* A new state equal to @p src, or NULL. */
static void *merge_clone(const merge_type *t, const void *src)
{
    void *o = t->create();

    if (o && t->copy(o, src) != CRDT_OK) {
        t->destroy(o);
        o = NULL;
    }
    return o;
}

/*
 * Heap bytes of one fresh (a, b) pair, as the peer measures them: over 64
 * pairs when one is small, since glibc counts chunks parked in its
 * per-thread cache as in use.
 */
static int pair_footprint(const merge_type *t, const void *a, const void *b,
                          size_t *out)
{
    enum { COPIES = 64 };
    void *objs[2 * COPIES];
    size_t before, after, k, copies = 1;
    int rv = CRDT_OK;

    *out = OP_BYTES_UNKNOWN;
    if (!heap_in_use(&before))
        return CRDT_OK;
    for (;;) {
        for (k = 0; k < 2 * copies; k++)
            objs[k] = merge_clone(t, k % 2 ? b : a);
        heap_in_use(&after);
        for (k = 0; k < 2 * copies; k++) {
            if (!objs[k])
                rv = CRDT_ERR_NOMEM;
            else
                t->destroy(objs[k]);
        }
        if (rv != CRDT_OK)
            return rv;
        after = after > before ? after - before : 0;
        if (copies == COPIES || after >= 64 * 1024) {
            *out = after / copies ? after / copies : 1;
            return CRDT_OK;
        }
        copies = COPIES;
        heap_in_use(&before);
    }
}

static int merge_setup(void **ctx, const bench_case *bc, case_info *info)
{
    const merge_type *t = bc->spec;
    merge_ctx *mc;
    int rv;

    if (!(mc = calloc(1, sizeof *mc)))
        return CRDT_ERR_NOMEM;
    *ctx = mc;
    mc->t = t;
    if ((rv = t->make_pair(bc->arg, &mc->a, &mc->b)))
        return rv;
    if (!(mc->want = merge_clone(t, mc->a)))
        return CRDT_ERR_NOMEM;
    if ((rv = t->merge_all(&mc->want, 1, mc->b)))
        return rv;
    if ((rv = t->check_merged(mc->want, bc->arg)))
        return rv;
    info->max_batch = MAX_BATCH_SIZED;
    return pair_footprint(t, mc->a, mc->b, &info->op_bytes[0]);
}

static void *merge_create(const void *arg)
{
    const merge_type *t = arg;

    return t->create();
}

static int merge_run(void *ctx, size_t n, uint64_t *ns)
{
    merge_ctx *mc = ctx;
    const merge_type *t = mc->t;
    uint64_t t0;
    size_t i;
    int rv;

    if ((rv = grow_pool(&mc->dst, &mc->ndst, n, merge_create, t)))
        return rv;
    for (i = 0; i < n; i++) {
        if ((rv = t->copy(mc->dst[i], mc->a)))
            return rv;
    }
    consume_mem(mc->dst);
    t0 = now_ns();
    rv = t->merge_all(mc->dst, n, mc->b);
    *ns = now_ns() - t0;
    consume_mem(mc->dst);
    if (rv)
        return rv;
    for (i = 0; i < n; i++) {
        if (!t->equal(mc->dst[i], mc->want))
            return BENCH_WRONG;
    }
    return CRDT_OK;
}

static void merge_teardown(void *ctx)
{
    merge_ctx *mc = ctx;
    size_t i;

    for (i = 0; i < mc->ndst; i++)
        mc->t->destroy(mc->dst[i]);
    free(mc->dst);
    mc->t->destroy(mc->a);
    mc->t->destroy(mc->b);
    mc->t->destroy(mc->want);
    free(mc);
}

/* ======================================================================
 * vclock
 * ====================================================================== */

/*
 * The peer's clock pair: a and b over the same n actors; actor k counts
 * 1000 + k, plus one in a for even k and in b for odd k, so that a merge
 * raises half the entries.
 */
static int vclock_make_pair(size_t n, void **pa, void **pb)
{
    crdt_vclock *a = crdt_vclock_new(NULL), *b = crdt_vclock_new(NULL);
    size_t k;
    int rv = CRDT_OK;

    *pa = a;
    *pb = b;
    if (!a || !b)
        return CRDT_ERR_NOMEM;
    for (k = 0; k < n && rv == CRDT_OK; k++) {
        uint64_t base = 1000 + (uint64_t)k;

        rv = crdt_vclock_set(a, actor(k), base + (k % 2 == 0));
        if (rv == CRDT_OK)
            rv = crdt_vclock_set(b, actor(k), base + (k % 2 == 1));
    }
    return rv;
}

static int vclock_check_merged(const void *m, size_t n)
{
    size_t k;

    if (crdt_vclock_size(m) != n)
        return BENCH_WRONG;
    for (k = 0; k < n; k++) {
        if (crdt_vclock_get(m, actor(k)) != 1001 + (uint64_t)k)
            return BENCH_WRONG;
    }
    return CRDT_OK;
}

static void *vclock_create(void)
{
    return crdt_vclock_new(NULL);
}

static int vclock_copy(void *dst, const void *src)
{
    return crdt_vclock_copy(dst, src);
}

static bool vclock_equal(const void *x, const void *y)
{
    return crdt_vclock_equal(x, y);
}

static void vclock_destroy(void *obj)
{
    crdt_vclock_free(obj);
}

static int vclock_merge_all(void *const *dst, size_t n, const void *src)
{
    size_t i;
    int rv;

    for (i = 0; i < n; i++) {
        if ((rv = crdt_vclock_merge(dst[i], src)))
            return rv;
    }
    return CRDT_OK;
}

static const merge_type vclock_type = {
    vclock_make_pair, vclock_check_merged, vclock_create, vclock_copy,
    vclock_equal,     vclock_destroy,      vclock_merge_all,
};

/* --- gcounter_merge: the same counts as the vclock pair ---------------- */

static int gcounter_make_pair(size_t n, void **pa, void **pb)
{
    crdt_gcounter *a = crdt_gcounter_new(NULL), *b = crdt_gcounter_new(NULL);
    size_t k;
    int rv = (a && b) ? CRDT_OK : CRDT_ERR_NOMEM;

    for (k = 0; k < n && !rv; k++) {
        uint64_t base = 1000 + (uint64_t)k;

        rv = crdt_gcounter_increment(a, actor(k), base + (k % 2 == 0), NULL);
        if (!rv)
            rv = crdt_gcounter_increment(b, actor(k), base + (k % 2 == 1),
                                         NULL);
    }
    *pa = a;
    *pb = b;
    return rv;
}

static int gcounter_check_merged(const void *m, size_t n)
{
    size_t k;
    uint64_t want = 0;

    for (k = 0; k < n; k++) {
        if (crdt_gcounter_get(m, actor(k)) != 1001 + (uint64_t)k)
            return BENCH_WRONG;
        want += 1001 + (uint64_t)k;
    }
    return crdt_gcounter_value(m) == want ? CRDT_OK : BENCH_WRONG;
}

static void *gcounter_create(void)
{
    return crdt_gcounter_new(NULL);
}

static int gcounter_copy(void *dst, const void *src)
{
    return crdt_gcounter_copy(dst, src);
}

static bool gcounter_equal(const void *x, const void *y)
{
    return crdt_gcounter_equal(x, y);
}

static void gcounter_destroy(void *obj)
{
    crdt_gcounter_free(obj);
}

static int gcounter_merge_all(void *const *dst, size_t n, const void *src)
{
    size_t i;
    int rv;

    for (i = 0; i < n; i++)
        if ((rv = crdt_gcounter_merge(dst[i], src)))
            return rv;
    return CRDT_OK;
}

static const merge_type gcounter_type = {
    gcounter_make_pair, gcounter_check_merged, gcounter_create, gcounter_copy,
    gcounter_equal,     gcounter_destroy,      gcounter_merge_all,
};

/* --- pncounter_merge: P as the gcounter pair; N 500+k, +1 in a for odd k,
 * +1 in b for even k; the merged value is 500 per actor ------------------ */

static int pncounter_make_pair(size_t n, void **pa, void **pb)
{
    crdt_pncounter *a = crdt_pncounter_new(NULL);
    crdt_pncounter *b = crdt_pncounter_new(NULL);
    size_t k;
    int rv = (a && b) ? CRDT_OK : CRDT_ERR_NOMEM;

    for (k = 0; k < n && !rv; k++) {
        uint64_t p = 1000 + (uint64_t)k, q = 500 + (uint64_t)k;

        rv = crdt_pncounter_increment(a, actor(k), p + (k % 2 == 0), NULL);
        if (!rv)
            rv = crdt_pncounter_increment(b, actor(k), p + (k % 2 == 1),
                                          NULL);
        if (!rv)
            rv = crdt_pncounter_decrement(a, actor(k), q + (k % 2 == 1),
                                          NULL);
        if (!rv)
            rv = crdt_pncounter_decrement(b, actor(k), q + (k % 2 == 0),
                                          NULL);
    }
    *pa = a;
    *pb = b;
    return rv;
}

static int pncounter_check_merged(const void *m, size_t n)
{
    int64_t v;

    if (crdt_pncounter_value(m, &v) != CRDT_OK)
        return BENCH_WRONG;
    return v == 500 * (int64_t)n ? CRDT_OK : BENCH_WRONG;
}

static void *pncounter_create(void)
{
    return crdt_pncounter_new(NULL);
}

static int pncounter_copy(void *dst, const void *src)
{
    return crdt_pncounter_copy(dst, src);
}

static bool pncounter_equal(const void *x, const void *y)
{
    return crdt_pncounter_equal(x, y);
}

static void pncounter_destroy(void *obj)
{
    crdt_pncounter_free(obj);
}

static int pncounter_merge_all(void *const *dst, size_t n, const void *src)
{
    size_t i;
    int rv;

    for (i = 0; i < n; i++)
        if ((rv = crdt_pncounter_merge(dst[i], src)))
            return rv;
    return CRDT_OK;
}

static const merge_type pncounter_type = {
    pncounter_make_pair, pncounter_check_merged, pncounter_create,
    pncounter_copy,      pncounter_equal,        pncounter_destroy,
    pncounter_merge_all,
};

/* --- gcounter_inc_read: increment an actor by one (rotating over the
 * counter's actors), then read the value --------------------------------- */

typedef struct incread_ctx {
    crdt_gcounter *g;
    size_t n, i;
} incread_ctx;

static int gcounter_inc_read_setup(void **ctx, const bench_case *bc,
                                   case_info *info)
{
    incread_ctx *ic;
    void *a, *b;
    int rv;

    (void)info;
    if (!(ic = calloc(1, sizeof *ic)))
        return CRDT_ERR_NOMEM;
    *ctx = ic;
    rv = gcounter_make_pair(bc->arg, &a, &b);
    ic->g = a;
    crdt_gcounter_free(b);
    ic->n = bc->arg;
    return rv;
}

static int gcounter_inc_read_run(void *ctx, size_t n, uint64_t *ns)
{
    incread_ctx *ic = ctx;
    uint64_t t0 = now_ns(), before = crdt_gcounter_value(ic->g);
    size_t k;
    int rv;

    for (k = 0; k < n; k++) {
        if ((rv = crdt_gcounter_increment(ic->g, actor(ic->i++ % ic->n), 1,
                                          NULL)))
            return rv;
        consume(crdt_gcounter_value(opaque(ic->g)));
    }
    *ns = now_ns() - t0;
    return crdt_gcounter_value(ic->g) == before + n ? CRDT_OK : BENCH_WRONG;
}

static void gcounter_inc_read_teardown(void *ctx)
{
    incread_ctx *ic = ctx;

    crdt_gcounter_free(ic->g);
    free(ic);
}

/* --- lwwreg_merge: each merge brings a strictly newer write of an 8-byte
 * value, so every merge updates.  A batch writes its n incoming registers
 * untimed (markers m+1..m+n), then times the n merges. ------------------- */

#define LWW_MAX_BATCH ((size_t)1 << 16)

typedef struct lww_ctx {
    crdt_lww *r;
    crdt_lww **in; /* LWW_MAX_BATCH incoming registers */
    uint64_t m;
} lww_ctx;

static int lwwreg_setup(void **ctx, const bench_case *bc, case_info *info)
{
    lww_ctx *lc;
    size_t i;

    (void)bc;
    if (!(lc = calloc(1, sizeof *lc)))
        return CRDT_ERR_NOMEM;
    *ctx = lc;
    info->max_batch = LWW_MAX_BATCH;
    if (!(lc->r = crdt_lww_new(NULL)) ||
        !(lc->in = calloc(LWW_MAX_BATCH, sizeof *lc->in)))
        return CRDT_ERR_NOMEM;
    for (i = 0; i < LWW_MAX_BATCH; i++)
        if (!(lc->in[i] = crdt_lww_new(NULL)))
            return CRDT_ERR_NOMEM;
    return CRDT_OK;
}

static int lwwreg_run(void *ctx, size_t n, uint64_t *ns)
{
    lww_ctx *lc = ctx;
    uint64_t t0, v;
    size_t k;
    int rv;

    if (n > LWW_MAX_BATCH)
        n = LWW_MAX_BATCH;
    for (k = 0; k < n; k++) {
        v = (lc->m + 1 + k) ^ 0x5555;
        if ((rv = crdt_lww_set(lc->in[k], lc->m + 1 + k, 1, &v, sizeof v,
                               NULL)))
            return rv;
    }
    t0 = now_ns();
    for (k = 0; k < n; k++)
        if ((rv = crdt_lww_merge(lc->r, opaque(lc->in[k]))))
            return rv;
    *ns = now_ns() - t0;
    lc->m += n;
    return crdt_lww_timestamp(lc->r) == lc->m ? CRDT_OK : BENCH_WRONG;
}

static void lwwreg_teardown(void *ctx)
{
    lww_ctx *lc = ctx;
    size_t i;

    crdt_lww_free(lc->r);
    for (i = 0; lc->in && i < LWW_MAX_BATCH; i++)
        crdt_lww_free(lc->in[i]);
    free(lc->in);
    free(lc);
}

/* --- msgpack_<type>: encode into a reused buffer and decode into a reused
 * object through the type's descriptor, timed separately ----------------- */

typedef struct dcodec_ctx {
    const crdt_type *t;
    void *a, *out;
    crdt_buf buf;
    uint8_t *enc;
    size_t len;
} dcodec_ctx;

static int msgpack_gcounter_setup(void **ctx, const bench_case *bc,
                                  case_info *info)
{
    dcodec_ctx *cc;
    void *b;
    int rv;

    if (!(cc = calloc(1, sizeof *cc)))
        return CRDT_ERR_NOMEM;
    *ctx = cc;
    cc->t = crdt_gcounter_type();
    crdt_buf_init(&cc->buf, NULL);
    rv = gcounter_make_pair(bc->arg, &cc->a, &b);
    crdt_gcounter_free(b);
    if (rv)
        return rv;
    if (!(cc->out = cc->t->create(NULL)))
        return CRDT_ERR_NOMEM;
    if ((rv = cc->t->encode(cc->a, &cc->buf)))
        return rv;
    cc->len = cc->buf.len;
    if (!(cc->enc = malloc(cc->len)))
        return CRDT_ERR_NOMEM;
    memcpy(cc->enc, cc->buf.data, cc->len);
    if ((rv = cc->t->decode(cc->out, cc->enc, cc->len, NULL, NULL)))
        return rv;
    if (!cc->t->equal(cc->out, cc->a))
        return BENCH_WRONG;
    info->bytes = (long long)cc->len;
    info->max_batch = (size_t)1 << 20;
    return CRDT_OK;
}

static int msgpack_gcounter_enc(void *ctx, size_t n, uint64_t *ns)
{
    dcodec_ctx *cc = ctx;
    uint64_t t0 = now_ns();
    size_t i;
    int rv;

    for (i = 0; i < n; i++) {
        crdt_buf_reset(&cc->buf);
        if ((rv = crdt_gcounter_encode(opaque(cc->a), &cc->buf)))
            return rv;
        consume_mem(cc->buf.data);
    }
    *ns = now_ns() - t0;
    if (cc->buf.len != cc->len || memcmp(cc->buf.data, cc->enc, cc->len))
        return BENCH_WRONG;
    return CRDT_OK;
}

static int msgpack_gcounter_dec(void *ctx, size_t n, uint64_t *ns)
{
    dcodec_ctx *cc = ctx;
    uint64_t t0 = now_ns();
    size_t i;
    int rv;

    for (i = 0; i < n; i++) {
        if ((rv = crdt_gcounter_decode(cc->out, opaque(cc->enc), cc->len,
                                       NULL, NULL)))
            return rv;
        consume_mem(cc->out);
    }
    *ns = now_ns() - t0;
    return cc->t->equal(cc->out, cc->a) ? CRDT_OK : BENCH_WRONG;
}

static void msgpack_gcounter_teardown(void *ctx)
{
    dcodec_ctx *cc = ctx;

    cc->t->destroy(cc->a);
    cc->t->destroy(cc->out);
    crdt_buf_clear(&cc->buf);
    free(cc->enc);
    free(cc);
}

/* --- vclock_cmp: a against c = a with its greatest actor one ahead ------ */

typedef struct cmp_ctx {
    crdt_vclock *a, *c;
} cmp_ctx;

static int vclock_cmp_setup(void **ctx, const bench_case *bc,
                            case_info *info)
{
    cmp_ctx *cc;
    void *a, *b;
    crdt_actor last;
    uint64_t cnt;
    int rv;

    (void)info;
    if (!(cc = calloc(1, sizeof *cc)))
        return CRDT_ERR_NOMEM;
    *ctx = cc;
    rv = vclock_make_pair(bc->arg, &a, &b);
    cc->a = a;
    crdt_vclock_free(b);
    if (rv)
        return rv;
    if (!(cc->c = crdt_vclock_clone(cc->a)))
        return CRDT_ERR_NOMEM;
    /* Entries are in ascending actor order: the last is the greatest. */
    if ((rv = crdt_vclock_entry(cc->a, crdt_vclock_size(cc->a) - 1, &last,
                                &cnt)))
        return rv;
    if ((rv = crdt_vclock_set(cc->c, last, cnt + 1)))
        return rv;
    return crdt_vclock_compare(cc->a, cc->c) == CRDT_BEFORE ? CRDT_OK
                                                             : BENCH_WRONG;
}

static int vclock_cmp_run(void *ctx, size_t n, uint64_t *ns)
{
    cmp_ctx *cc = ctx;
    unsigned wrong = 0;
    uint64_t t0 = now_ns();
    size_t i;

    for (i = 0; i < n; i++) {
        crdt_order o = crdt_vclock_compare(opaque(cc->a), opaque(cc->c));

        consume((uint64_t)o);
        wrong |= o != CRDT_BEFORE;
    }
    *ns = now_ns() - t0;
    return wrong ? BENCH_WRONG : CRDT_OK;
}

static void vclock_cmp_teardown(void *ctx)
{
    cmp_ctx *cc = ctx;

    crdt_vclock_free(cc->a);
    crdt_vclock_free(cc->c);
    free(cc);
}

/* --- msgpack_vclock: encode into a reused buffer, decode into a reused
 * clock, timed separately ------------------------------------------------ */

typedef struct codec_ctx {
    crdt_vclock *a;   /* the state encoded */
    crdt_vclock *out; /* decode target, reused */
    crdt_buf buf;     /* encode target, reused */
    uint8_t *enc;     /* a's encoding, the decode input */
    size_t len;
} codec_ctx;

static int msgpack_vclock_setup(void **ctx, const bench_case *bc,
                                case_info *info)
{
    codec_ctx *cc;
    void *a, *b;
    int rv;

    if (!(cc = calloc(1, sizeof *cc)))
        return CRDT_ERR_NOMEM;
    *ctx = cc;
    crdt_buf_init(&cc->buf, NULL);
    rv = vclock_make_pair(bc->arg, &a, &b);
    cc->a = a;
    crdt_vclock_free(b);
    if (rv)
        return rv;
    if (!(cc->out = crdt_vclock_new(NULL)))
        return CRDT_ERR_NOMEM;
    if ((rv = crdt_vclock_encode(cc->a, &cc->buf)))
        return rv;
    cc->len = cc->buf.len;
    if (!(cc->enc = malloc(cc->len)))
        return CRDT_ERR_NOMEM;
    memcpy(cc->enc, cc->buf.data, cc->len);
    if ((rv = crdt_vclock_decode(cc->out, cc->enc, cc->len, NULL, NULL)))
        return rv;
    if (!crdt_vclock_equal(cc->out, cc->a))
        return BENCH_WRONG;
    info->bytes = (long long)cc->len;
    info->max_batch = (size_t)1 << 20;
    return CRDT_OK;
}

static int msgpack_vclock_enc(void *ctx, size_t n, uint64_t *ns)
{
    codec_ctx *cc = ctx;
    uint64_t t0 = now_ns();
    size_t i;
    int rv;

    for (i = 0; i < n; i++) {
        crdt_buf_reset(&cc->buf);
        if ((rv = crdt_vclock_encode(opaque(cc->a), &cc->buf)))
            return rv;
        consume_mem(cc->buf.data);
    }
    *ns = now_ns() - t0;
    if (cc->buf.len != cc->len || memcmp(cc->buf.data, cc->enc, cc->len))
        return BENCH_WRONG;
    return CRDT_OK;
}

static int msgpack_vclock_dec(void *ctx, size_t n, uint64_t *ns)
{
    codec_ctx *cc = ctx;
    uint64_t t0 = now_ns();
    size_t i;
    int rv;

    for (i = 0; i < n; i++) {
        if ((rv = crdt_vclock_decode(cc->out, opaque(cc->enc), cc->len,
                                     NULL, NULL)))
            return rv;
        consume_mem(cc->out);
    }
    *ns = now_ns() - t0;
    return crdt_vclock_equal(cc->out, cc->a) ? CRDT_OK : BENCH_WRONG;
}

static void msgpack_vclock_teardown(void *ctx)
{
    codec_ctx *cc = ctx;

    crdt_vclock_free(cc->a);
    crdt_vclock_free(cc->out);
    crdt_buf_clear(&cc->buf);
    free(cc->enc);
    free(cc);
}

/* ======================================================================
 * memcpy of a state's bytes: the floor a merge of that size is held to
 * ====================================================================== */

/* Same shape as a merge: a batch writes n destinations untimed, then
 * times memcpy(dst[i], src, arg bytes) for each. */
typedef struct memcpy_ctx {
    size_t len;
    unsigned char *src;
    void **dst;
    size_t ndst;
} memcpy_ctx;

static int memcpy_setup(void **ctx, const bench_case *bc, case_info *info)
{
    memcpy_ctx *mc;
    size_t i;

    if (!(mc = calloc(1, sizeof *mc)))
        return CRDT_ERR_NOMEM;
    *ctx = mc;
    mc->len = bc->arg;
    if (!(mc->src = malloc(mc->len)))
        return CRDT_ERR_NOMEM;
    for (i = 0; i < mc->len; i++)
        mc->src[i] = (unsigned char)splitmix64(i);
    info->op_bytes[0] = 2 * mc->len; /* src and one dst, as a merge pair */
    info->max_batch = MAX_BATCH_SIZED;
    return CRDT_OK;
}

static void *memcpy_create(const void *arg)
{
    return malloc(*(const size_t *)arg);
}

static int memcpy_run(void *ctx, size_t n, uint64_t *ns)
{
    memcpy_ctx *mc = ctx;
    uint64_t t0;
    size_t i;
    int rv;

    if ((rv = grow_pool(&mc->dst, &mc->ndst, n, memcpy_create, &mc->len)))
        return rv;
    for (i = 0; i < n; i++)
        memset(mc->dst[i], (int)i, mc->len);
    consume_mem(mc->dst);
    t0 = now_ns();
    for (i = 0; i < n; i++)
        memcpy(mc->dst[i], opaque(mc->src), mc->len);
    *ns = now_ns() - t0;
    consume_mem(mc->dst);
    for (i = 0; i < n; i++) {
        if (memcmp(mc->dst[i], mc->src, mc->len))
            return BENCH_WRONG;
    }
    return CRDT_OK;
}

static void memcpy_teardown(void *ctx)
{
    memcpy_ctx *mc = ctx;
    size_t i;

    for (i = 0; i < mc->ndst; i++)
        free(mc->dst[i]);
    free(mc->dst);
    free(mc->src);
    free(mc);
}


/* ======================================================================
 * orswot: add-wins OR-set of 8-byte little-endian elem(i)
 * ====================================================================== */

static void elem_bytes(uint64_t i, uint8_t out[8])
{
    uint64_t v = splitmix64(((uint64_t)1 << 32) + i);
    int k;

    for (k = 0; k < 8; k++)
        out[k] = (uint8_t)(v >> (8 * k));
}

static int orset_add_elem(crdt_orset *s, crdt_actor a, uint64_t i)
{
    uint8_t e[8];

    elem_bytes(i, e);
    return crdt_orset_add(s, a, e, 8, NULL);
}

static int orset_rm_elem(crdt_orset *s, uint64_t i)
{
    uint8_t e[8];

    elem_bytes(i, e);
    return crdt_orset_remove(s, e, 8, NULL);
}

/* The peer's base: elem(i), i < n, added by actor(i mod 8). */
static int orset_base(size_t n, crdt_orset **out)
{
    crdt_orset *s = crdt_orset_new(NULL);
    size_t i;
    int rv = CRDT_OK;

    *out = s;
    if (!s)
        return CRDT_ERR_NOMEM;
    for (i = 0; i < n && rv == CRDT_OK; i++)
        rv = orset_add_elem(s, actor(i % 8), i);
    return rv;
}

static int orset_make_pair(size_t n, void **pa, void **pb)
{
    crdt_orset *a, *b;
    size_t j;
    int rv = orset_base(n, &a);

    *pa = a;
    *pb = b = a ? crdt_orset_clone(a) : NULL;
    if (rv || !b)
        return rv ? rv : CRDT_ERR_NOMEM;
    for (j = 0; j < n / 100 && rv == CRDT_OK; j++) {
        rv = orset_add_elem(a, actor(j % 4), n + j);
        if (!rv)
            rv = orset_rm_elem(a, 100 * j);
        if (!rv)
            rv = orset_add_elem(b, actor(4 + j % 4), 2 * n + j);
        if (!rv)
            rv = orset_rm_elem(b, 100 * j + 50);
    }
    return rv;
}

static int orset_check_merged(const void *m, size_t n)
{
    uint8_t e[8];

    elem_bytes(2 * n, e);
    if (crdt_orset_size(m) != n || !crdt_orset_contains(m, e, 8))
        return BENCH_WRONG;
    elem_bytes(50, e);
    return crdt_orset_contains(m, e, 8) ? BENCH_WRONG : CRDT_OK;
}

static void *orset_create(void)
{
    return crdt_orset_new(NULL);
}

static int orset_copy(void *dst, const void *src)
{
    return crdt_orset_copy(dst, src);
}

static bool orset_equal(const void *x, const void *y)
{
    return crdt_orset_equal(x, y);
}

static void orset_destroy(void *obj)
{
    crdt_orset_free(obj);
}

static int orset_merge_all(void *const *dst, size_t n, const void *src)
{
    size_t i;
    int rv;

    for (i = 0; i < n; i++) {
        if ((rv = crdt_orset_merge(dst[i], src)))
            return rv;
    }
    return CRDT_OK;
}

static const merge_type orset_type = {
    orset_make_pair, orset_check_merged, orset_create, orset_copy,
    orset_equal,     orset_destroy,      orset_merge_all,
};

/* --- orswot_add / orswot_rm: one add or observed remove on a set of n -- */

typedef struct oadd_ctx {
    crdt_orset *s;
    uint64_t next; /* next fresh element index */
    size_t n;
} oadd_ctx;

static int orset_loop_setup(void **ctx, const bench_case *bc,
                            case_info *info)
{
    oadd_ctx *oc;
    int rv;

    (void)info;
    if (!(oc = calloc(1, sizeof *oc)))
        return CRDT_ERR_NOMEM;
    *ctx = oc;
    oc->n = bc->arg;
    oc->next = 4 * (uint64_t)bc->arg;
    rv = orset_base(bc->arg, &oc->s);
    return rv ? rv : (crdt_orset_size(oc->s) == bc->arg ? 0 : BENCH_WRONG);
}

static int orswot_add_run(void *ctx, size_t n, uint64_t *ns)
{
    oadd_ctx *oc = ctx;
    uint64_t base = oc->next, t0;
    size_t i;
    int rv = 0;

    t0 = now_ns();
    for (i = 0; i < n; i++)
        rv |= orset_add_elem((crdt_orset *)opaque(oc->s), actor(i % 8),
                             base + i);
    *ns = now_ns() - t0;
    if (rv || crdt_orset_size(oc->s) != oc->n + n)
        return rv ? rv : BENCH_WRONG;
    for (i = 0; i < n; i++)
        if ((rv = orset_rm_elem(oc->s, base + i)))
            return rv;
    oc->next += n;
    return CRDT_OK;
}

static int orswot_rm_run(void *ctx, size_t n, uint64_t *ns)
{
    oadd_ctx *oc = ctx;
    uint64_t base = oc->next, t0;
    size_t i;
    int rv = 0;

    for (i = 0; i < n; i++)
        if ((rv = orset_add_elem(oc->s, actor(i % 8), base + i)))
            return rv;
    t0 = now_ns();
    for (i = 0; i < n; i++)
        rv |= orset_rm_elem((crdt_orset *)opaque(oc->s), base + i);
    *ns = now_ns() - t0;
    oc->next += n;
    if (rv || crdt_orset_size(oc->s) != oc->n)
        return rv ? rv : BENCH_WRONG;
    return CRDT_OK;
}

static void orset_loop_teardown(void *ctx)
{
    oadd_ctx *oc = ctx;

    crdt_orset_free(oc->s);
    free(oc);
}

/* --- msgpack_orswot ------------------------------------------------------ */

typedef struct ocodec_ctx {
    crdt_orset *a, *out;
    crdt_buf buf;
    uint8_t *enc;
    size_t len;
} ocodec_ctx;

static int msgpack_orswot_setup(void **ctx, const bench_case *bc,
                                case_info *info)
{
    ocodec_ctx *cc;
    int rv;

    if (!(cc = calloc(1, sizeof *cc)))
        return CRDT_ERR_NOMEM;
    *ctx = cc;
    crdt_buf_init(&cc->buf, NULL);
    if ((rv = orset_base(bc->arg, &cc->a)))
        return rv;
    if (!(cc->out = crdt_orset_new(NULL)))
        return CRDT_ERR_NOMEM;
    if ((rv = crdt_orset_encode(cc->a, &cc->buf)))
        return rv;
    cc->len = cc->buf.len;
    if (!(cc->enc = malloc(cc->len)))
        return CRDT_ERR_NOMEM;
    memcpy(cc->enc, cc->buf.data, cc->len);
    if ((rv = crdt_orset_decode(cc->out, cc->enc, cc->len, NULL, NULL)))
        return rv;
    info->bytes = (long long)cc->len;
    return crdt_orset_equal(cc->a, cc->out) ? CRDT_OK : BENCH_WRONG;
}

static int msgpack_orswot_enc(void *ctx, size_t n, uint64_t *ns)
{
    ocodec_ctx *cc = ctx;
    uint64_t t0 = now_ns();
    size_t i;
    int rv = 0;

    for (i = 0; i < n; i++) {
        crdt_buf_reset(&cc->buf);
        rv |= crdt_orset_encode(opaque(cc->a), &cc->buf);
        consume(cc->buf.len);
    }
    *ns = now_ns() - t0;
    return rv ? rv : (cc->buf.len == cc->len ? CRDT_OK : BENCH_WRONG);
}

static int msgpack_orswot_dec(void *ctx, size_t n, uint64_t *ns)
{
    ocodec_ctx *cc = ctx;
    uint64_t t0 = now_ns();
    size_t i;
    int rv = 0;

    for (i = 0; i < n; i++) {
        rv |= crdt_orset_decode((crdt_orset *)opaque(cc->out), cc->enc, cc->len, NULL,
                                NULL);
        consume(crdt_orset_size(cc->out));
    }
    *ns = now_ns() - t0;
    return rv;
}

static void msgpack_orswot_teardown(void *ctx)
{
    ocodec_ctx *cc = ctx;

    crdt_orset_free(cc->a);
    crdt_orset_free(cc->out);
    crdt_buf_clear(&cc->buf);
    free(cc->enc);
    free(cc);
}

/* --mem N: live heap bytes per element of the peer's base set of N
 * elements (mallinfo2), and VmRSS growth per element, like the peer's
 * orswot_mem line. */
static long vmrss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int mem_case(size_t n)
{
    size_t h0 = 0, h1 = 0;
    long r0 = vmrss_kb(), r1;
    crdt_orset *s;
    uint64_t t0 = now_ns();
    int rv;

    (void)heap_in_use(&h0);
    if ((rv = orset_base(n, &s)))
        die("orswot_mem: %s", crdt_strerror(rv));
    r1 = vmrss_kb();
    (void)heap_in_use(&h1);
    printf("case=orswot_mem elems=%zu actors=8 live_heap_bytes_per_elem=%.1f "
           "live_bytes_per_elem=%.1f build_ms=%.0f\n",
           n, n ? (double)(h1 - h0) / (double)n : 0.0,
           n ? (double)(r1 - r0) * 1024.0 / (double)n : 0.0,
           (double)(now_ns() - t0) / 1e6);
    crdt_orset_free(s);
    return 0;
}

/* ======================================================================
 * mvreg
 * ====================================================================== */

/*
 * The peer's MV-register pair: a base write by actor(0); then v/2
 * concurrent writes on each side (a: actors 1..v/2, b: the next v/2),
 * each made from the base state, so that the merge holds v siblings.
 * Values are 8-byte integers (the peer's u64).
 */
static int mvreg_side(const crdt_mvreg *base, size_t first, size_t n,
                      crdt_mvreg *out)
{
    size_t k;
    int rv = CRDT_OK;

    for (k = first; k < first + n && rv == CRDT_OK; k++) {
        crdt_mvreg *w = crdt_mvreg_clone(base);
        uint64_t val = 1000 + (uint64_t)k;

        if (!w)
            return CRDT_ERR_NOMEM;
        rv = crdt_mvreg_write(w, actor(k), &val, sizeof val, NULL);
        if (rv == CRDT_OK)
            rv = crdt_mvreg_merge(out, w);
        crdt_mvreg_free(w);
    }
    return rv;
}

static int mvreg_make_pair(size_t v, void **pa, void **pb)
{
    crdt_mvreg *base = crdt_mvreg_new(NULL);
    crdt_mvreg *a = crdt_mvreg_new(NULL), *b = crdt_mvreg_new(NULL);
    uint64_t val = 1;
    int rv;

    *pa = a;
    *pb = b;
    if (!base || !a || !b) {
        crdt_mvreg_free(base);
        return CRDT_ERR_NOMEM;
    }
    rv = crdt_mvreg_write(base, actor(0), &val, sizeof val, NULL);
    if (rv == CRDT_OK)
        rv = crdt_mvreg_merge(a, base);
    if (rv == CRDT_OK)
        rv = crdt_mvreg_merge(b, base);
    if (rv == CRDT_OK)
        rv = mvreg_side(base, 1, v / 2, a);
    if (rv == CRDT_OK)
        rv = mvreg_side(base, 1 + v / 2, v / 2, b);
    crdt_mvreg_free(base);
    return rv;
}

/* v siblings, one per actor 1..v, each with its value. */
static int mvreg_check_merged(const void *m, size_t v)
{
    size_t i, k, len;
    const uint8_t *p;
    crdt_dot d;
    uint64_t val;

    if (crdt_mvreg_count(m) != v)
        return BENCH_WRONG;
    for (i = 0; i < v; i++) {
        if (crdt_mvreg_get(m, i, &d, &p, &len) != CRDT_OK ||
            len != sizeof val || d.counter != 1)
            return BENCH_WRONG;
        memcpy(&val, p, sizeof val);
        for (k = 1; k <= v && actor(k) != d.actor; k++)
            ;
        if (k > v || val != 1000 + (uint64_t)k)
            return BENCH_WRONG;
    }
    return CRDT_OK;
}

static void *mvreg_create(void)
{
    return crdt_mvreg_new(NULL);
}

static int mvreg_copy(void *dst, const void *src)
{
    return crdt_mvreg_copy(dst, src);
}

static bool mvreg_equal(const void *x, const void *y)
{
    return crdt_mvreg_equal(x, y);
}

static void mvreg_destroy(void *obj)
{
    crdt_mvreg_free(obj);
}

static int mvreg_merge_all(void *const *dst, size_t n, const void *src)
{
    size_t i;
    int rv;

    for (i = 0; i < n; i++) {
        if ((rv = crdt_mvreg_merge(dst[i], src)))
            return rv;
    }
    return CRDT_OK;
}

static const merge_type mvreg_type = {
    mvreg_make_pair, mvreg_check_merged, mvreg_create, mvreg_copy,
    mvreg_equal,     mvreg_destroy,      mvreg_merge_all,
};

/* ======================================================================
 * The case table (output order; names and params as the peer's)
 * ====================================================================== */

static const bench_case cases[] = {
    {"vclock_merge", "actors=4", 4, &vclock_type, merge_setup, {merge_run},
     {NULL}, merge_teardown},
    {"vclock_merge", "actors=64", 64, &vclock_type, merge_setup, {merge_run},
     {NULL}, merge_teardown},
    {"vclock_merge", "actors=1024", 1024, &vclock_type, merge_setup,
     {merge_run}, {NULL}, merge_teardown},

    {"gcounter_merge", "actors=4", 4, &gcounter_type, merge_setup,
     {merge_run}, {NULL}, merge_teardown},
    {"gcounter_merge", "actors=64", 64, &gcounter_type, merge_setup,
     {merge_run}, {NULL}, merge_teardown},
    {"gcounter_merge", "actors=1024", 1024, &gcounter_type, merge_setup,
     {merge_run}, {NULL}, merge_teardown},
    {"gcounter_inc_read", "actors=4", 4, NULL, gcounter_inc_read_setup,
     {gcounter_inc_read_run}, {NULL}, gcounter_inc_read_teardown},
    {"gcounter_inc_read", "actors=64", 64, NULL, gcounter_inc_read_setup,
     {gcounter_inc_read_run}, {NULL}, gcounter_inc_read_teardown},
    {"gcounter_inc_read", "actors=1024", 1024, NULL, gcounter_inc_read_setup,
     {gcounter_inc_read_run}, {NULL}, gcounter_inc_read_teardown},
    {"pncounter_merge", "actors=4", 4, &pncounter_type, merge_setup,
     {merge_run}, {NULL}, merge_teardown},
    {"pncounter_merge", "actors=64", 64, &pncounter_type, merge_setup,
     {merge_run}, {NULL}, merge_teardown},
    {"pncounter_merge", "actors=1024", 1024, &pncounter_type, merge_setup,
     {merge_run}, {NULL}, merge_teardown},
    {"lwwreg_merge", "marker=u64", 0, NULL, lwwreg_setup, {lwwreg_run},
     {NULL}, lwwreg_teardown},

    {"vclock_cmp", "actors=4", 4, NULL, vclock_cmp_setup, {vclock_cmp_run},
     {NULL}, vclock_cmp_teardown},
    {"vclock_cmp", "actors=64", 64, NULL, vclock_cmp_setup, {vclock_cmp_run},
     {NULL}, vclock_cmp_teardown},
    {"vclock_cmp", "actors=1024", 1024, NULL, vclock_cmp_setup,
     {vclock_cmp_run}, {NULL}, vclock_cmp_teardown},

    /* 16 bytes per actor: the state of a 4/64/1024-actor clock. */
    {"memcpy", "bytes=64", 64, NULL, memcpy_setup, {memcpy_run}, {NULL},
     memcpy_teardown},
    {"memcpy", "bytes=1024", 1024, NULL, memcpy_setup, {memcpy_run}, {NULL},
     memcpy_teardown},
    {"memcpy", "bytes=16384", 16384, NULL, memcpy_setup, {memcpy_run},
     {NULL}, memcpy_teardown},

    {"mvreg_merge", "values=2", 2, &mvreg_type, merge_setup, {merge_run},
     {NULL}, merge_teardown},
    {"mvreg_merge", "values=4", 4, &mvreg_type, merge_setup, {merge_run},
     {NULL}, merge_teardown},

    {"msgpack_vclock", "actors=1024", 1024, NULL, msgpack_vclock_setup,
     {msgpack_vclock_enc, msgpack_vclock_dec}, {"enc_ns", "dec_ns"},
     msgpack_vclock_teardown},
    {"msgpack_gcounter", "actors=1024", 1024, NULL, msgpack_gcounter_setup,
     {msgpack_gcounter_enc, msgpack_gcounter_dec}, {"enc_ns", "dec_ns"},
     msgpack_gcounter_teardown},
    {"orswot_merge", "elems=1000 actors=8", 1000, &orset_type, merge_setup,
     {merge_run}, {NULL}, merge_teardown},
    {"orswot_merge", "elems=100000 actors=8", 100000, &orset_type,
     merge_setup, {merge_run}, {NULL}, merge_teardown},
    {"orswot_add", "elems=100000 actors=8", 100000, NULL, orset_loop_setup,
     {orswot_add_run}, {NULL}, orset_loop_teardown},
    {"orswot_rm", "elems=100000 actors=8", 100000, NULL, orset_loop_setup,
     {orswot_rm_run}, {NULL}, orset_loop_teardown},
    {"msgpack_orswot", "elems=10000 actors=8", 10000, NULL,
     msgpack_orswot_setup, {msgpack_orswot_enc, msgpack_orswot_dec},
     {"enc_ns", "dec_ns"}, msgpack_orswot_teardown},
};

#define NCASES (sizeof cases / sizeof cases[0])

/* ======================================================================
 * Measurement
 * ====================================================================== */

typedef struct config {
    uint64_t rep_ns;    /* BENCH_REP_MS: timed ns per repetition */
    size_t reps;        /* BENCH_REPS */
    uint64_t spinup_ns; /* BENCH_SPINUP_MS */
    const char *filter; /* BENCH_FILTER, NULL = every case */
    bool debug;         /* BENCH_DEBUG=1 */
} config;

typedef struct meas {
    run_batch_fn run;
    const char *label; /* NULL for a case's only measurement */
    size_t batch;
    double *samples; /* ns per op, one per repetition */
    size_t nsamples;
    double median, spread_pct;
} meas;

typedef struct running {
    const bench_case *bc;
    void *ctx;
    case_info info;
    meas m[MAX_MEAS];
    size_t nmeas;
    double ns_per_op, spread_pct; /* sum of medians, largest spread */
} running;

/* Exits with a message naming the case unless @p rv is 0. */
static void check_case(const bench_case *bc, const char *stage, int rv)
{
    if (rv == CRDT_OK)
        return;
    die("%s %s: %s: %s", bc->name, bc->params, stage,
        rv == BENCH_WRONG ? "wrong result" : crdt_strerror(rv));
}

static uint64_t run_once(running *r, meas *m, size_t n)
{
    uint64_t ns = 0;

    check_case(r->bc, "run", m->run(r->ctx, n, &ns));
    return ns;
}

/* Doubles the batch until one takes @p min_ns or reaches @p max. */
static size_t grow_batch(running *r, meas *m, uint64_t min_ns, size_t max)
{
    size_t batch = 1;

    for (;;) {
        uint64_t d = run_once(r, m, batch);

        if (d >= min_ns || batch >= max)
            return batch;
        batch = batch > max / 2 ? max : 2 * batch;
    }
}

static void size_batches(running *r)
{
    size_t i;

    for (i = 0; i < r->nmeas; i++) {
        meas *m = &r->m[i];
        size_t ob = r->info.op_bytes[i];
        size_t max = r->info.max_batch;

        if (!max)
            max = ob ? MAX_BATCH_SIZED : MAX_BATCH_LOOP;
        if (ob == 0) {
            m->batch = grow_batch(r, m, LOOP_BATCH_NS, max);
        } else if (ob == OP_BYTES_UNKNOWN) {
            m->batch = grow_batch(r, m, SIZED_BATCH_NS, max);
        } else {
            m->batch = BATCH_BYTES / ob;
            if (m->batch < 1)
                m->batch = 1;
            if (m->batch > max)
                m->batch = max;
        }
    }
}

/* One repetition: rep/10 untimed warm-up, then >= rep of timed work. */
static void repetition(running *r, meas *m, uint64_t rep_ns)
{
    uint64_t warm = 0, t = 0, ops = 0;

    while (warm < rep_ns / 10)
        warm += run_once(r, m, m->batch);
    while (t < rep_ns) {
        t += run_once(r, m, m->batch);
        ops += m->batch;
    }
    m->samples[m->nsamples++] = (double)t / (double)ops;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;

    return (a > b) - (a < b);
}

/* Median (the upper one for an even count, as the peer) and spread. */
static void summarize(meas *m)
{
    double *v = malloc(m->nsamples * sizeof *v);

    if (!v)
        die("out of memory");
    memcpy(v, m->samples, m->nsamples * sizeof *v);
    qsort(v, m->nsamples, sizeof *v, cmp_double);
    m->median = v[m->nsamples / 2];
    m->spread_pct = (v[m->nsamples - 1] - v[0]) / m->median * 100.0;
    free(v);
}

/* Busy work for spinup_ns, so that the CPU is at speed when timing starts. */
static void spin(uint64_t spinup_ns)
{
    uint64_t t0 = now_ns(), x = 0, i;

    while (now_ns() - t0 < spinup_ns) {
        for (i = 0; i < 10000; i++) {
            x = x * 6364136223846793005u + i;
            consume(x);
        }
    }
}

/* ======================================================================
 * Configuration
 * ====================================================================== */

/* Reads a decimal environment knob in [min, max]; dflt when unset. */
static uint64_t env_u64(const char *name, uint64_t dflt, uint64_t min,
                        uint64_t max)
{
    const char *s = getenv(name);
    char *end;
    unsigned long long v;

    if (!s || !*s)
        return dflt;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-' || v < min || v > max) {
        fprintf(stderr,
                "crdt-bench: %s=%s: expected an integer from %" PRIu64
                " to %" PRIu64 "\n",
                name, s, min, max);
        exit(2);
    }
    return v;
}

static void config_from_env(config *cfg)
{
    const char *f = getenv("BENCH_FILTER"), *d = getenv("BENCH_DEBUG");

    cfg->rep_ns = env_u64("BENCH_REP_MS", 150, 1, 3600000) * 1000000u;
    cfg->reps = (size_t)env_u64("BENCH_REPS", 5, 1, 1000);
    cfg->spinup_ns = env_u64("BENCH_SPINUP_MS", 1000, 0, 3600000) * 1000000u;
    cfg->filter = f && *f ? f : NULL;
    cfg->debug = d && strcmp(d, "1") == 0;
}

/* True if @p name contains one of the comma-separated non-empty parts of
 * the filter (or there is no filter). */
static bool wanted(const config *cfg, const char *name)
{
    const char *p = cfg->filter;

    if (!p)
        return true;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *h;

        if (n) {
            for (h = name; strlen(h) >= n; h++) {
                if (strncmp(h, p, n) == 0)
                    return true;
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* ======================================================================
 * Output
 * ====================================================================== */

typedef enum format { FMT_TABLE, FMT_JSON, FMT_LINES } format;

/* ns the way the peer prints them: 2 decimals below 10, 1 below 1000. */
static const char *fmt_ns(char *buf, size_t size, double ns)
{
    if (ns < 10.0)
        snprintf(buf, size, "%.2f", ns);
    else if (ns < 1000.0)
        snprintf(buf, size, "%.1f", ns);
    else
        snprintf(buf, size, "%.0f", ns);
    return buf;
}

/* The peer's line: case=NAME params ns_per_op= ops_per_s= [bytes=]
 * [label=ns...] spread_pct= */
static void print_line(const running *r)
{
    char b[32];
    size_t i;

    printf("case=%s", r->bc->name);
    if (*r->bc->params)
        printf(" %s", r->bc->params);
    printf(" ns_per_op=%s ops_per_s=%.0f", fmt_ns(b, sizeof b, r->ns_per_op),
           1e9 / r->ns_per_op);
    if (r->info.bytes >= 0)
        printf(" bytes=%lld", r->info.bytes);
    for (i = 0; i < r->nmeas; i++) {
        if (r->m[i].label)
            printf(" %s=%s", r->m[i].label,
                   fmt_ns(b, sizeof b, r->m[i].median));
    }
    printf(" spread_pct=%.1f\n", r->spread_pct);
}

/* Writes @p s as the body of a JSON string (our names need no escapes
 * beyond these). */
static void json_str(const char *s, size_t n)
{
    size_t i;

    putchar('"');
    for (i = 0; i < n && s[i]; i++) {
        if (s[i] == '"' || s[i] == '\\')
            putchar('\\');
        putchar(s[i]);
    }
    putchar('"');
}

/* "k=v k2=v2" as JSON members: numbers stay numbers. */
static void json_params(const char *p)
{
    bool first = true;

    putchar('{');
    while (*p) {
        size_t n = strcspn(p, " "), k = strcspn(p, "=");

        if (n && k < n) {
            const char *v = p + k + 1;
            size_t vn = n - k - 1, digits = strspn(v, "0123456789");

            printf("%s", first ? "" : ", ");
            json_str(p, k);
            fputs(": ", stdout);
            if (vn && digits >= vn && v[0] != '0')
                fwrite(v, 1, vn, stdout);
            else
                json_str(v, vn);
            first = false;
        }
        p += n;
        p += strspn(p, " ");
    }
    putchar('}');
}

static void print_json(const running *rs, size_t n)
{
    char b[32];
    size_t i, j, k;

    printf("[\n");
    for (i = 0; i < n; i++) {
        const running *r = &rs[i];

        printf("  {\"case\": ");
        json_str(r->bc->name, SIZE_MAX);
        printf(", \"params\": ");
        json_params(r->bc->params);
        printf(", \"ns_per_op\": %s, \"ops_per_s\": %.0f",
               fmt_ns(b, sizeof b, r->ns_per_op), 1e9 / r->ns_per_op);
        if (r->info.bytes >= 0)
            printf(", \"bytes\": %lld", r->info.bytes);
        for (j = 0; j < r->nmeas; j++) {
            if (r->m[j].label)
                printf(", \"%s\": %s", r->m[j].label,
                       fmt_ns(b, sizeof b, r->m[j].median));
        }
        printf(", \"spread_pct\": %.1f, \"measurements\": [", r->spread_pct);
        for (j = 0; j < r->nmeas; j++) {
            const meas *m = &r->m[j];

            printf("%s{\"label\": ", j ? ", " : "");
            json_str(m->label ? m->label : "ns_per_op", SIZE_MAX);
            printf(", \"batch\": %zu, \"samples_ns\": [", m->batch);
            for (k = 0; k < m->nsamples; k++)
                printf("%s%s", k ? ", " : "",
                       fmt_ns(b, sizeof b, m->samples[k]));
            printf("]}");
        }
        printf("]}%s\n", i + 1 < n ? "," : "");
    }
    printf("]\n");
}

/* ops/s with an SI prefix: "26.3 M". */
static const char *fmt_rate(char *buf, size_t size, double ops)
{
    static const char *const unit[] = {"", "k", "M", "G"};
    size_t u = 0;

    while (ops >= 1000.0 && u < 3) {
        ops /= 1000.0;
        u++;
    }
    snprintf(buf, size, "%.*f %s", ops < 100.0 ? 1 : 0, ops, unit[u]);
    return buf;
}

static void print_table(const running *rs, size_t n)
{
    size_t i, j, wname = 4, wparams = 6;
    char b[32], rate[32], bytes[32];

    for (i = 0; i < n; i++) {
        if (strlen(rs[i].bc->name) > wname)
            wname = strlen(rs[i].bc->name);
        if (strlen(rs[i].bc->params) > wparams)
            wparams = strlen(rs[i].bc->params);
    }
    printf("%-*s  %-*s  %10s  %10s  %7s  %7s  %s\n", (int)wname, "case",
           (int)wparams, "params", "ns/op", "ops/s", "spread", "bytes",
           "detail");
    for (i = 0; i < n; i++) {
        const running *r = &rs[i];
        int detail = 0;

        if (r->info.bytes >= 0)
            snprintf(bytes, sizeof bytes, "%lld", r->info.bytes);
        else
            snprintf(bytes, sizeof bytes, "-");
        printf("%-*s  %-*s  %10s  %10s  %6.1f%%  %7s", (int)wname,
               r->bc->name, (int)wparams, r->bc->params,
               fmt_ns(b, sizeof b, r->ns_per_op),
               fmt_rate(rate, sizeof rate, 1e9 / r->ns_per_op),
               r->spread_pct, bytes);
        for (j = 0; j < r->nmeas; j++) {
            if (r->m[j].label)
                printf("%s%s=%s", detail++ ? " " : "  ", r->m[j].label,
                       fmt_ns(b, sizeof b, r->m[j].median));
        }
        putchar('\n');
    }
}

/* ======================================================================
 * main
 * ====================================================================== */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: crdt-bench [--table | --json | --lines] [--list]\n"
            "       crdt-bench --gossip [--json] [--quick] [--curve FILE]\n"
            "\n"
            "Measures libcrdt's merges, comparisons and codecs on the "
            "workloads of the\n"
            "Rust crdts peer harness (see bench/README.md).\n"
            "\n"
            "  --table   aligned table for people (default)\n"
            "  --json    one JSON array of objects, one per case\n"
            "  --lines   one 'case=... ns_per_op=... ops_per_s=... "
            "spread_pct=...' line\n"
            "            per case, the peer harness's format\n"
            "  --list    print the cases (after BENCH_FILTER) and exit\n"
            "  --help    this text\n"
            "  --gossip  the gossip engine's section instead: spread "
            "rounds, bytes,\n"
            "            repair, merge rate, memory (GOSSIP_RUNS, "
            "GOSSIP_NODES,\n"
            "            GOSSIP_SEED; --quick: a small smoke run; --curve: "
            "the\n"
            "            spread curve of N=1000 for gnuplot)\n"
            "\n"
            "Environment: BENCH_REP_MS (150) timed ms per repetition, "
            "BENCH_REPS (5)\n"
            "repetitions, BENCH_FILTER comma-separated substrings of case "
            "names,\n"
            "BENCH_SPINUP_MS (1000) spin before measuring, BENCH_DEBUG=1 "
            "samples and\n"
            "batch sizes on stderr.\n");
}

int main(int argc, char **argv)
{
    config cfg;
    format fmt = FMT_TABLE;
    bool list = false;
    running *rs;
    char b[32];
    size_t i, j, n = 0;
    int a;

    if (argc > 1 && strcmp(argv[1], "--gossip") == 0)
        return gossip_bench_main(argc - 2, argv + 2);
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--mem") == 0 && a + 1 < argc) {
            return mem_case((size_t)strtoull(argv[a + 1], NULL, 10));
        } else if (strcmp(argv[a], "--json") == 0) {
            fmt = FMT_JSON;
        } else if (strcmp(argv[a], "--lines") == 0) {
            fmt = FMT_LINES;
        } else if (strcmp(argv[a], "--table") == 0) {
            fmt = FMT_TABLE;
        } else if (strcmp(argv[a], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[a], "--help") == 0 ||
                   strcmp(argv[a], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "crdt-bench: unknown argument '%s'\n", argv[a]);
            usage(stderr);
            return 2;
        }
    }
    config_from_env(&cfg);
    if (list) {
        for (i = 0; i < NCASES; i++) {
            if (wanted(&cfg, cases[i].name))
                printf("%s %s\n", cases[i].name, cases[i].params);
        }
        return 0;
    }
    if (!(rs = calloc(NCASES, sizeof *rs)))
        die("out of memory");

    fprintf(stderr,
            "# libcrdt %s bench: %zu interleaved reps x >= %" PRIu64
            " ms timed per case, median reported\n",
            crdt_version_string(), cfg.reps, cfg.rep_ns / 1000000u);
    for (i = 0; i < NCASES; i++) {
        running *r = &rs[n];

        if (!wanted(&cfg, cases[i].name))
            continue;
        r->bc = &cases[i];
        r->info.bytes = -1;
        check_case(r->bc, "setup", r->bc->setup(&r->ctx, r->bc, &r->info));
        for (j = 0; j < MAX_MEAS && r->bc->run[j]; j++) {
            r->m[j].run = r->bc->run[j];
            r->m[j].label = r->bc->label[j];
            if (!(r->m[j].samples = calloc(cfg.reps, sizeof(double))))
                die("out of memory");
        }
        r->nmeas = j;
        size_batches(r);
        n++;
    }
    if (n == 0)
        die("BENCH_FILTER=%s matches no case (see --list)", cfg.filter);

    spin(cfg.spinup_ns);
    for (i = 0; i < cfg.reps; i++) {
        uint64_t t0 = now_ns();

        for (j = 0; j < n; j++) {
            size_t k;

            for (k = 0; k < rs[j].nmeas; k++)
                repetition(&rs[j], &rs[j].m[k], cfg.rep_ns);
        }
        fprintf(stderr, "# rep %zu/%zu done in %.1f s\n", i + 1, cfg.reps,
                (double)(now_ns() - t0) / 1e9);
    }

    for (i = 0; i < n; i++) {
        running *r = &rs[i];

        r->ns_per_op = 0;
        r->spread_pct = 0;
        for (j = 0; j < r->nmeas; j++) {
            meas *m = &r->m[j];

            summarize(m);
            r->ns_per_op += m->median;
            if (m->spread_pct > r->spread_pct)
                r->spread_pct = m->spread_pct;
            if (cfg.debug) {
                size_t k;

                fprintf(stderr, "#   %s %s %s batch=%zu samples_ns=[",
                        r->bc->name, r->bc->params,
                        m->label ? m->label : "", m->batch);
                for (k = 0; k < m->nsamples; k++)
                    fprintf(stderr, "%s%s", k ? "," : "",
                            fmt_ns(b, sizeof b, m->samples[k]));
                fprintf(stderr, "]\n");
            }
        }
    }
    if (fmt == FMT_JSON) {
        print_json(rs, n);
    } else if (fmt == FMT_LINES) {
        for (i = 0; i < n; i++)
            print_line(&rs[i]);
    } else {
        print_table(rs, n);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        die("writing the output failed");

    for (i = 0; i < n; i++) {
        rs[i].bc->teardown(rs[i].ctx);
        for (j = 0; j < rs[i].nmeas; j++)
            free(rs[i].m[j].samples);
    }
    free(rs);
    return 0;
}
