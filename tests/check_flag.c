/* SPDX-License-Identifier: MIT */
/*
 * Flag suite (enable-wins and disable-wins): initial values, the wins
 * rules, deltas, codec (exact bytes, hostile input), properties against a
 * reference model, and allocation-failure injection.  Both flags run the
 * same property and nomem code through a small table of their functions:
 * "add" is the operation that adds a dot (EW enable, DW disable), "rmv"
 * the one that removes the observed dots.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/flag.h>

#include "testutil.h"

/* One flag type, generically. */
typedef struct ftype {
    const char *name;
    uint32_t tag;
    bool empty_value; /* value with no dots */
    void *(*create)(const crdt_mem *mem);
    void (*destroy)(void *f);
    void *(*clone)(const void *f);
    int (*copy)(void *dst, const void *src);
    bool (*equal)(const void *a, const void *b);
    bool (*value)(const void *f);
    int (*add)(void *f, crdt_actor a, void *delta);
    int (*rmv)(void *f, void *delta);
    int (*merge)(void *dst, const void *src);
    int (*encode)(const void *f, crdt_buf *out);
    int (*decode)(void *dst, const uint8_t *data, size_t len,
                  const crdt_limits *lim, crdt_decode_info *info);
    const crdt_type *(*type)(void);
} ftype;

static void *ew_create(const crdt_mem *m) { return crdt_ewflag_new(m); }
static void ew_destroy(void *f) { crdt_ewflag_free(f); }
static void *ew_clone(const void *f) { return crdt_ewflag_clone(f); }
static int ew_copy(void *d, const void *s) { return crdt_ewflag_copy(d, s); }
static bool ew_equal(const void *a, const void *b)
{
    return crdt_ewflag_equal(a, b);
}
static bool ew_value(const void *f) { return crdt_ewflag_value(f); }
static int ew_add(void *f, crdt_actor a, void *d)
{
    return crdt_ewflag_enable(f, a, d);
}
static int ew_rmv(void *f, void *d) { return crdt_ewflag_disable(f, d); }
static int ew_merge(void *d, const void *s) { return crdt_ewflag_merge(d, s); }
static int ew_encode(const void *f, crdt_buf *b)
{
    return crdt_ewflag_encode(f, b);
}
static int ew_decode(void *d, const uint8_t *p, size_t n,
                     const crdt_limits *l, crdt_decode_info *i)
{
    return crdt_ewflag_decode(d, p, n, l, i);
}

static void *dw_create(const crdt_mem *m) { return crdt_dwflag_new(m); }
static void dw_destroy(void *f) { crdt_dwflag_free(f); }
static void *dw_clone(const void *f) { return crdt_dwflag_clone(f); }
static int dw_copy(void *d, const void *s) { return crdt_dwflag_copy(d, s); }
static bool dw_equal(const void *a, const void *b)
{
    return crdt_dwflag_equal(a, b);
}
static bool dw_value(const void *f) { return crdt_dwflag_value(f); }
static int dw_add(void *f, crdt_actor a, void *d)
{
    return crdt_dwflag_disable(f, a, d);
}
static int dw_rmv(void *f, void *d) { return crdt_dwflag_enable(f, d); }
static int dw_merge(void *d, const void *s) { return crdt_dwflag_merge(d, s); }
static int dw_encode(const void *f, crdt_buf *b)
{
    return crdt_dwflag_encode(f, b);
}
static int dw_decode(void *d, const uint8_t *p, size_t n,
                     const crdt_limits *l, crdt_decode_info *i)
{
    return crdt_dwflag_decode(d, p, n, l, i);
}

static const ftype types[2] = {
    {"ewflag", CRDT_TAG_EWFLAG, false, ew_create, ew_destroy, ew_clone,
     ew_copy, ew_equal, ew_value, ew_add, ew_rmv, ew_merge, ew_encode,
     ew_decode, crdt_ewflag_type},
    {"dwflag", CRDT_TAG_DWFLAG, true, dw_create, dw_destroy, dw_clone,
     dw_copy, dw_equal, dw_value, dw_add, dw_rmv, dw_merge, dw_encode,
     dw_decode, crdt_dwflag_type},
};

/* ---------------------------------------------------------------- basic */

START_TEST(test_flag_basic_ewflag)
{
    crdt_ewflag *a = crdt_ewflag_new(NULL), *b = crdt_ewflag_new(NULL);
    crdt_ewflag *d = crdt_ewflag_new(NULL);

    ck_assert(!crdt_ewflag_value(a)); /* starts disabled */
    ck_assert(!crdt_ewflag_value(NULL));
    ck_assert_int_eq(crdt_ewflag_disable(a, NULL), CRDT_OK); /* no-op */
    ck_assert(crdt_ewflag_equal(a, NULL));
    ck_assert_int_eq(crdt_ewflag_enable(a, 1, NULL), CRDT_OK);
    ck_assert(crdt_ewflag_value(a));
    ck_assert_int_eq(crdt_ewflag_merge(b, a), CRDT_OK);
    ck_assert(crdt_ewflag_value(b));
    /* concurrently: a disables, b enables again: enable wins */
    ck_assert_int_eq(crdt_ewflag_disable(a, d), CRDT_OK);
    ck_assert(!crdt_ewflag_value(a));
    ck_assert(!crdt_ewflag_value(d));
    ck_assert_int_eq(crdt_ewflag_enable(b, 2, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ewflag_merge(a, b), CRDT_OK);
    ck_assert_int_eq(crdt_ewflag_merge(b, d), CRDT_OK);
    ck_assert(crdt_ewflag_value(a));
    ck_assert(crdt_ewflag_equal(a, b));
    /* a disable that saw the enable wins */
    ck_assert_int_eq(crdt_ewflag_disable(a, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ewflag_merge(b, a), CRDT_OK);
    ck_assert(!crdt_ewflag_value(b));
    /* but a disable concurrent with the original enable does not
     * remove it (the disable of d saw only (1, 1)) */
    ck_assert_int_eq(crdt_ewflag_enable(NULL, 1, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_ewflag_enable(a, 1, a), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_ewflag_disable(a, a), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_ewflag_merge(a, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_ewflag_copy(NULL, a), CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(crdt_ewflag_clone(NULL));
    crdt_ewflag_free(a);
    crdt_ewflag_free(b);
    crdt_ewflag_free(d);
    crdt_ewflag_free(NULL);
}
END_TEST

START_TEST(test_flag_basic_dwflag)
{
    crdt_dwflag *a = crdt_dwflag_new(NULL), *b = crdt_dwflag_new(NULL);
    crdt_dwflag *d = crdt_dwflag_new(NULL);

    ck_assert(crdt_dwflag_value(a)); /* starts enabled */
    ck_assert(crdt_dwflag_value(NULL));
    ck_assert_int_eq(crdt_dwflag_enable(a, NULL), CRDT_OK); /* no-op */
    ck_assert(crdt_dwflag_equal(a, NULL));
    ck_assert_int_eq(crdt_dwflag_disable(a, 1, NULL), CRDT_OK);
    ck_assert(!crdt_dwflag_value(a));
    ck_assert_int_eq(crdt_dwflag_merge(b, a), CRDT_OK);
    /* concurrently: a enables, b disables again: disable wins */
    ck_assert_int_eq(crdt_dwflag_enable(a, d), CRDT_OK);
    ck_assert(crdt_dwflag_value(a));
    ck_assert_int_eq(crdt_dwflag_disable(b, 2, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_dwflag_merge(a, b), CRDT_OK);
    ck_assert_int_eq(crdt_dwflag_merge(b, d), CRDT_OK);
    ck_assert(!crdt_dwflag_value(a));
    ck_assert(crdt_dwflag_equal(a, b));
    /* an enable that saw the disable wins */
    ck_assert_int_eq(crdt_dwflag_enable(a, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_dwflag_merge(b, a), CRDT_OK);
    ck_assert(crdt_dwflag_value(b));
    ck_assert_int_eq(crdt_dwflag_disable(NULL, 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_dwflag_enable(a, a), CRDT_ERR_INVALID_ARG);
    crdt_dwflag_free(a);
    crdt_dwflag_free(b);
    crdt_dwflag_free(d);
}
END_TEST

START_TEST(test_flag_basic_descriptor)
{
    int t;

    for (t = 0; t < 2; t++) {
        const crdt_type *ty = types[t].type();
        crdt_registry *reg = crdt_registry_new(NULL);
        void *f = ty->create(NULL), *obj = NULL;
        const crdt_type *got = NULL;
        crdt_buf b;

        ck_assert_int_eq(crdt_type_check(ty), CRDT_OK);
        ck_assert_uint_eq(ty->tag, types[t].tag);
        ck_assert_str_eq(ty->name, types[t].name);
        ck_assert_int_eq(crdt_registry_add_builtins(reg), CRDT_OK);
        ck_assert_ptr_eq(crdt_registry_find(reg, types[t].tag), ty);
        ck_assert_int_eq(types[t].add(f, 3, NULL), CRDT_OK);
        crdt_buf_init(&b, NULL);
        ck_assert_int_eq(ty->encode(f, &b), CRDT_OK);
        ck_assert_int_eq(crdt_registry_decode(reg, b.data, b.len, NULL, NULL,
                                              &got, &obj, NULL),
                         CRDT_OK);
        ck_assert_ptr_eq(got, ty);
        ck_assert(ty->equal(obj, f));
        ck_assert_int_eq(ty->merge(obj, f), CRDT_OK);
        ck_assert_int_eq(ty->copy(obj, f), CRDT_OK);
        ty->destroy(obj);
        ty->destroy(f);
        crdt_buf_clear(&b);
        crdt_registry_free(reg);
    }
}
END_TEST

/* ---------------------------------------------------------------- codec */

START_TEST(test_flag_codec_bytes)
{
    static const uint8_t on[] = {0x95, 0x01, 0x09, 0x81, 0x01, 0x01, 0x90,
                                 0x91, 0x92, 0x01, 0x01};
    static const uint8_t off[] = {0x95, 0x01, 0x09, 0x81, 0x01, 0x01, 0x90,
                                  0x90};
    static const uint8_t dw_new[] = {0x95, 0x01, 0x0a, 0x80, 0x90, 0x90};
    crdt_ewflag *e = crdt_ewflag_new(NULL), *e2 = crdt_ewflag_new(NULL);
    crdt_dwflag *w = crdt_dwflag_new(NULL);
    crdt_buf b;

    crdt_buf_init(&b, NULL);
    ck_assert_int_eq(crdt_ewflag_enable(e, 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ewflag_encode(e, &b), CRDT_OK);
    ck_assert_uint_eq(b.len, sizeof on);
    ck_assert_mem_eq(b.data, on, sizeof on);
    ck_assert_int_eq(crdt_ewflag_decode(e2, on, sizeof on, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_ewflag_equal(e, e2));
    ck_assert_int_eq(crdt_ewflag_disable(e, NULL), CRDT_OK);
    crdt_buf_reset(&b);
    ck_assert_int_eq(crdt_ewflag_encode(e, &b), CRDT_OK);
    ck_assert_uint_eq(b.len, sizeof off);
    ck_assert_mem_eq(b.data, off, sizeof off);
    crdt_buf_reset(&b);
    ck_assert_int_eq(crdt_dwflag_encode(w, &b), CRDT_OK);
    ck_assert_uint_eq(b.len, sizeof dw_new);
    ck_assert_mem_eq(b.data, dw_new, sizeof dw_new);
    /* the tags differ: one flag's bytes are not the other's */
    ck_assert_int_eq(crdt_dwflag_decode(w, on, sizeof on, NULL, NULL),
                     CRDT_ERR_TYPE);
    ck_assert_int_eq(crdt_ewflag_decode(e, dw_new, sizeof dw_new, NULL,
                                        NULL),
                     CRDT_ERR_TYPE);
    ck_assert_int_eq(crdt_ewflag_encode(NULL, &b), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_ewflag_decode(NULL, on, 1, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    crdt_buf_clear(&b);
    crdt_ewflag_free(e);
    crdt_ewflag_free(e2);
    crdt_dwflag_free(w);
}
END_TEST

static void expect_reject_lim(const ftype *t, const uint8_t *in, size_t len,
                              int code, size_t off, const crdt_limits *lim)
{
    void *dst = t->create(NULL);

    ck_assert_int_eq(t->add(dst, 42, NULL), CRDT_OK);
    tu_expect_reject(t->type(), dst, in, len, lim, code, off);
    t->destroy(dst);
}

START_TEST(test_flag_codec_reject)
{
    /* bytes for tag 9; byte 2 is patched to 10 for the dwflag */
    uint8_t unsorted[] = {0x95, 0x01, 0x09, 0x82, 0x01, 0x01, 0x02, 0x01,
                          0x90, 0x92, 0x92, 0x02, 0x01, 0x92, 0x01, 0x01};
    uint8_t dup[] = {0x95, 0x01, 0x09, 0x81, 0x01, 0x01, 0x90, 0x92, 0x92,
                     0x01, 0x01, 0x92, 0x01, 0x01};
    uint8_t outside[] = {0x95, 0x01, 0x09, 0x81, 0x01, 0x01, 0x90, 0x91,
                         0x92, 0x02, 0x01};
    uint8_t zero[] = {0x95, 0x01, 0x09, 0x81, 0x01, 0x01, 0x90, 0x91, 0x92,
                      0x01, 0x00};
    uint8_t triple[] = {0x95, 0x01, 0x09, 0x81, 0x01, 0x01, 0x90, 0x91,
                        0x93, 0x01, 0x01, 0x01};
    uint8_t trail[] = {0x95, 0x01, 0x09, 0x80, 0x90, 0x90, 0xc0};
    uint8_t many[] = {0x95, 0x01, 0x09, 0x80, 0x90, 0xdc, 0x00, 0x10};
    uint8_t two[] = {0x95, 0x01, 0x09, 0x82, 0x01, 0x01, 0x02, 0x01,
                     0x90, 0x92, 0x92, 0x01, 0x01, 0x92, 0x02, 0x01};
    crdt_limits lim;
    int t;

    for (t = 0; t < 2; t++) {
        const ftype *ft = &types[t];
        uint8_t tg = (uint8_t)ft->tag;
        size_t n;

        unsorted[2] = dup[2] = outside[2] = zero[2] = tg;
        triple[2] = trail[2] = many[2] = two[2] = tg;
        expect_reject_lim(ft, unsorted, sizeof unsorted, CRDT_ERR_DECODE, 13,
                          NULL);
        expect_reject_lim(ft, dup, sizeof dup, CRDT_ERR_DECODE, 11, NULL);
        expect_reject_lim(ft, outside, sizeof outside, CRDT_ERR_DECODE, 8,
                          NULL);
        expect_reject_lim(ft, zero, sizeof zero, CRDT_ERR_DECODE, 10, NULL);
        expect_reject_lim(ft, triple, sizeof triple, CRDT_ERR_DECODE, 8,
                          NULL);
        expect_reject_lim(ft, trail, sizeof trail, CRDT_ERR_DECODE, 6, NULL);
        expect_reject_lim(ft, many, sizeof many, CRDT_ERR_DECODE, 5, NULL);
        crdt_limits_default(&lim);
        lim.max_elements = 1;
        expect_reject_lim(ft, two, sizeof two, CRDT_ERR_LIMIT, 9, &lim);
        /* every proper prefix of a valid encoding */
        for (n = 0; n < sizeof two; n++) {
            void *dst = ft->create(NULL);
            crdt_decode_info info = {99999, 0};

            ck_assert_int_eq(ft->decode(dst, two, n, NULL, &info),
                             CRDT_ERR_DECODE);
            ck_assert_uint_le(info.offset, n);
            ck_assert(ft->equal(dst, NULL));
            ft->destroy(dst);
        }
    }
}
END_TEST

/* ------------------------------------------------------------- property */

/*
 * Reference model, as for the MV-register: adds get ids 0..63; a state is
 * (S, K) = (adds seen, adds covered by a later add or remove that saw
 * them).  The flag holds the dots of S \ K; the value is "some dot" for EW
 * and "no dot" for DW.
 */
#define MAXW 64
#define MAXREP 5
#define MAXLOG 32

typedef struct mstate {
    uint64_t s, k;
} mstate;

static void check_model(const ftype *t, const void *f, const mstate *m,
                        long k)
{
    bool some = (m->s & ~m->k) != 0;

    tu_expect_k(t->value(f) == (some != t->empty_value), "value != model", k);
}

static void *merged(const ftype *t, const void *a, const void *b, long k)
{
    void *r = t->clone(a);

    tu_expect_k(r != NULL, "clone", k);
    tu_must_k(t->merge(r, b), "merge", k);
    return r;
}

static void same_bytes(const ftype *t, const void *a, const void *b, long k)
{
    crdt_buf x, y;
    void *d = t->create(NULL);

    crdt_buf_init(&x, NULL);
    crdt_buf_init(&y, NULL);
    tu_must_k(t->encode(a, &x), "encode", k);
    tu_must_k(t->encode(b, &y), "encode", k);
    tu_expect_k(x.len == y.len && memcmp(x.data, y.data, x.len) == 0,
           "equal states, different bytes", k);
    tu_must_k(t->decode(d, x.data, x.len, NULL, NULL), "decode", k);
    tu_expect_k(t->equal(d, a), "round trip", k);
    crdt_buf_clear(&x);
    crdt_buf_clear(&y);
    t->destroy(d);
}

static void join_laws(const ftype *t, const void *a, const void *b,
                      const void *c, long k)
{
    void *ab = merged(t, a, b, k), *ba = merged(t, b, a, k);
    void *ab_c = merged(t, ab, c, k), *bc = merged(t, b, c, k);
    void *a_bc = merged(t, a, bc, k), *aa = merged(t, a, a, k);

    tu_expect_k(t->equal(ab, ba), "not commutative", k);
    same_bytes(t, ab, ba, k);
    tu_expect_k(t->equal(ab_c, a_bc), "not associative", k);
    tu_expect_k(t->equal(aa, a), "not idempotent", k);
    t->destroy(ab);
    t->destroy(ba);
    t->destroy(ab_c);
    t->destroy(bc);
    t->destroy(a_bc);
    t->destroy(aa);
}

static void one_case(const ftype *t, tu_rng *rng, long k)
{
    void *rep[MAXREP], *log[MAXLOG];
    mstate mr[MAXREP], ml[MAXLOG], all = {0, 0};
    int nrep = 3 + (int)tu_below(rng, 3), nlog = 0, nw = 0, nops, i, j;
    int step;

    for (i = 0; i < nrep; i++) {
        rep[i] = t->create(NULL);
        mr[i].s = mr[i].k = 0;
    }
    nops = 4 + (int)tu_below(rng, 16);
    for (step = 0; step < nops; step++) {
        int op = (int)tu_below(rng, 10);
        void *pre, *d;
        uint64_t live;

        j = (int)tu_below(rng, (uint64_t)nrep);
        live = mr[j].s & ~mr[j].k;
        if (op < 5 && nw < MAXW && nlog < MAXLOG) {
            int w = nw++;

            pre = t->clone(rep[j]);
            d = t->create(NULL);
            if (op < 3) {
                tu_must_k(t->add(rep[j], tu_splitmix((uint64_t)j), d), "add", k);
                mr[j].k |= mr[j].s;
                mr[j].s |= (uint64_t)1 << w;
                ml[nlog].s = live | ((uint64_t)1 << w);
                ml[nlog].k = live;
            } else {
                tu_must_k(t->rmv(rep[j], d), "rmv", k);
                mr[j].k |= mr[j].s;
                ml[nlog].s = live;
                ml[nlog].k = live;
            }
            tu_must_k(t->merge(pre, d), "merge delta", k);
            tu_expect_k(t->equal(pre, rep[j]), "delta != mutation", k);
            log[nlog++] = d;
            t->destroy(pre);
        } else if (op < 8) {
            i = (int)tu_below(rng, (uint64_t)nrep);
            tu_must_k(t->merge(rep[j], rep[i]), "merge", k);
            mr[j].s |= mr[i].s;
            mr[j].k |= mr[i].k;
        } else if (nlog > 0) {
            i = (int)tu_below(rng, (uint64_t)nlog);
            tu_must_k(t->merge(rep[j], log[i]), "merge delta", k);
            mr[j].s |= ml[i].s;
            mr[j].k |= ml[i].k;
        }
        check_model(t, rep[j], &mr[j], k);
    }
    join_laws(t, rep[0], rep[1], rep[2], k);
    for (i = 0; i < nlog; i++) {
        all.s |= ml[i].s;
        all.k |= ml[i].k;
    }
    for (j = 0; j < nrep; j++) {
        bool got[MAXLOG] = {false};
        int left = nlog;

        while (left > 0) {
            i = (int)tu_below(rng, (uint64_t)nlog);
            tu_must_k(t->merge(rep[j], log[i]), "merge delta", k);
            if (!got[i])
                got[i] = true, left--;
            if (tu_below(rng, 6) == 0)
                tu_must_k(t->merge(rep[j], rep[tu_below(rng, (uint64_t)nrep)]),
                     "merge", k);
        }
    }
    for (j = 0; j < nrep; j++) {
        check_model(t, rep[j], &all, k);
        tu_expect_k(t->equal(rep[j], rep[0]), "did not converge", k);
    }
    same_bytes(t, rep[0], rep[nrep - 1], k);
    for (i = 0; i < nrep; i++)
        t->destroy(rep[i]);
    for (i = 0; i < nlog; i++)
        t->destroy(log[i]);
}

START_TEST(test_flag_property_replicas)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("flag") ^ (uint64_t)(_i + 1));
    for (k = 0; k < n; k++)
        one_case(&types[_i], &rng, k);
}
END_TEST

/*
 * Shared actor ids: replicas that add with the same actor from the same
 * state make the same dot.  A flag's dot carries no payload, so the two
 * agree on what it names and there is nothing to resolve: the join laws
 * hold, with identical bytes, on such states too.
 */
START_TEST(test_flag_property_shared_actors)
{
    const ftype *t = &types[_i];
    tu_rng rng;
    long n = tu_cases(10000), k, shared = 0;

    tu_rng_init(&rng, tu_seed("flag") ^ (uint64_t)(_i + 0x10));
    for (k = 0; k < n; k++) {
        void *rep[MAXREP], *log[MAXLOG], *base = t->create(NULL);
        int nrep = 3 + (int)tu_below(&rng, 3), nlog = 0, i, j, step;
        unsigned by[2] = {0, 0}; /* replicas that added, per actor */

        for (i = (int)tu_below(&rng, 4); i > 0; i--)
            tu_must_k(t->add(base, 1 + tu_below(&rng, 3), NULL), "add", k);
        for (i = 0; i < nrep; i++)
            rep[i] = t->clone(base);
        for (step = 4 + (int)tu_below(&rng, 16); step > 0; step--) {
            int op = (int)tu_below(&rng, 10);
            void *d = NULL;

            j = (int)tu_below(&rng, (uint64_t)nrep);
            if (op < 6) {
                crdt_actor a = 1 + tu_below(&rng, 2);

                if (nlog < MAXLOG)
                    d = log[nlog++] = t->create(NULL);
                if (op < 4) {
                    tu_must_k(t->add(rep[j], a, d), "add", k);
                    by[a - 1] |= 1u << j;
                } else {
                    tu_must_k(t->rmv(rep[j], d), "rmv", k);
                }
            } else if (op < 8 || nlog == 0) {
                i = (int)tu_below(&rng, (uint64_t)nrep);
                tu_must_k(t->merge(rep[j], rep[i]), "merge", k);
            } else {
                i = (int)tu_below(&rng, (uint64_t)nlog);
                tu_must_k(t->merge(rep[j], log[i]), "merge delta", k);
            }
        }
        shared += (by[0] & (by[0] - 1)) || (by[1] & (by[1] - 1));
        join_laws(t, rep[0], rep[1], rep[2], k);
        join_laws(t, rep[nrep - 1], base, rep[0], k);
        if (nlog >= 2)
            join_laws(t, log[0], rep[1], log[nlog - 1], k);
        {
            void *ab = merged(t, rep[0], rep[1], k);
            void *ab_c = merged(t, ab, rep[2], k);
            void *bc = merged(t, rep[1], rep[2], k);
            void *a_bc = merged(t, rep[0], bc, k);
            void *abb = merged(t, ab, rep[1], k);

            same_bytes(t, ab_c, a_bc, k);
            tu_expect_k(t->equal(abb, ab), "not absorbing", k);
            t->destroy(ab);
            t->destroy(ab_c);
            t->destroy(bc);
            t->destroy(a_bc);
            t->destroy(abb);
        }
        for (i = 0; i < nrep; i++)
            t->destroy(rep[i]);
        for (i = 0; i < nlog; i++)
            t->destroy(log[i]);
        t->destroy(base);
    }
    fprintf(stderr, "%s: %ld shared-actor cases, %ld with one actor's adds "
            "on two replicas\n", t->name, n, shared);
}
END_TEST

/* ---------------------------------------------------------------- nomem */

enum {
    OP_NEW,
    OP_CLONE,
    OP_COPY,
    OP_ADD,
    OP_ADD_DELTA,
    OP_RMV_DELTA,
    OP_MERGE,
    OP_ENCODE,
    OP_DECODE,
    N_OPS
};

/* A flag with concurrent dots of actors base+1..base+3 and a gap. */
static void *nomem_flag(const ftype *t, const crdt_mem *mem, crdt_actor base)
{
    void *f = t->create(mem), *g = t->create(mem);
    int i;

    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(g);
    for (i = 1; i <= 3; i++) {
        void *h = t->create(mem);

        ck_assert_int_eq(t->add(h, base + (crdt_actor)i, NULL), CRDT_OK);
        ck_assert_int_eq(t->add(h, base + (crdt_actor)i, g), CRDT_OK);
        ck_assert_int_eq(t->merge(f, h), CRDT_OK);
        t->destroy(h);
    }
    t->destroy(g);
    return f;
}

static void nomem_setup(tu_nomem *c)
{
    const ftype *t = c->ops->fixture;

    c->a = nomem_flag(t, &c->tm->mem, 0);
    c->d = nomem_flag(t, &c->tm->mem, 10);
    c->src = nomem_flag(t, &c->tm->mem, 20);
    ck_assert_int_eq(t->encode(c->src, &c->enc), CRDT_OK);
}

static int nomem_call(tu_nomem *c)
{
    const ftype *t = c->ops->fixture;

    switch (c->op) {
    case OP_NEW:
        return tu_nomem_made(c, t->create(&c->tm->mem));
    case OP_CLONE:
        return tu_nomem_made(c, t->clone(c->src));
    case OP_COPY:
        return t->copy(c->a, c->src);
    case OP_ADD:
        return t->add(c->a, 77, NULL);
    case OP_ADD_DELTA:
        return t->add(c->a, 77, c->d);
    case OP_RMV_DELTA:
        return t->rmv(c->a, c->d);
    case OP_MERGE:
        return t->merge(c->a, c->src);
    case OP_ENCODE:
        return t->encode(c->src, &c->out);
    case OP_DECODE:
        return t->decode(c->a, c->enc.data, c->enc.len, NULL, NULL);
    }
    return CRDT_ERR_INVALID_ARG;
}

static void nomem_failed(tu_nomem *c)
{
    /* storage reserved before the failure may be kept (it is capacity,
     * not state); no more than two blocks, and live == 0 after the frees
     * proves that nothing leaked */
    ck_assert_msg(c->tm->live <= c->live + 2, "op %d n %ld", c->op, c->n);
}

static void nomem_succeeded(tu_nomem *c)
{
    const ftype *t = c->ops->fixture;

    if (c->op == OP_ADD_DELTA || c->op == OP_RMV_DELTA) {
        /* a0 + (d0 + delta) == (a0 + delta) + d0 */
        ck_assert_int_eq(t->merge(c->a0, c->d), CRDT_OK);
        ck_assert_int_eq(t->merge(c->d0, c->a), CRDT_OK);
        ck_assert(t->equal(c->a0, c->d0));
    } else if (c->op == OP_COPY || c->op == OP_DECODE) {
        ck_assert(t->equal(c->a, c->src));
    }
}

/* copy and add may fit a's storage (same shape): no allocation */
static int nomem_allocs(int op)
{
    return op == OP_COPY || op == OP_ADD ? TU_ALLOC_MAY : TU_ALLOC_MUST;
}

START_TEST(test_flag_nomem_all)
{
    const ftype *t = &types[_i];
    const tu_nomem_ops ops = {
        .type = t->type(),
        .nops = N_OPS,
        .fixture = t,
        .setup = nomem_setup,
        .call = nomem_call,
        .failed = nomem_failed,
        .succeeded = nomem_succeeded,
        .allocs = nomem_allocs,
    };

    tu_nomem_run(&ops);
}
END_TEST

static Suite *flag_suite(void)
{
    Suite *s = suite_create("flag");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_flag_basic_ewflag);
    tcase_add_test(tc, test_flag_basic_dwflag);
    tcase_add_test(tc, test_flag_basic_descriptor);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_flag_codec_bytes);
    tcase_add_test(tc, test_flag_codec_reject);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_flag_property_replicas, 0, 2);
    tcase_add_loop_test(tc, test_flag_property_shared_actors, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_add_loop_test(tc, test_flag_nomem_all, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(flag_suite());
    int failed;

    tu_seed("flag"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
