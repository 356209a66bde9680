/* SPDX-License-Identifier: MIT */
/*
 * OR-map suite: update in place (counters, LWW), observed remove against
 * concurrent updates, remove then re-add (resumes the retained value),
 * nested maps, type mismatch; the codec (bytes of the header's examples,
 * removed keys, hostile input, depth limits); add-wins against a
 * concurrent key remove for every value type; properties on maps of
 * every value type, nested maps up to depth 3 included (join laws and
 * delta = mutation on every case, removes, re-adds and type conflicts
 * included; round trip, canonical bytes); randomized replica tests
 * against reference models (present iff some update is not covered;
 * a counter is the join of every increment to its key), one over
 * counters, one over every value type with deltas, delta groups and
 * states exchanged (values are the join of every mutation of their key,
 * key removes notwithstanding); allocation-failure injection.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crdt/flag.h>
#include <crdt/gcounter.h>
#include <crdt/gset.h>
#include <crdt/lww.h>
#include <crdt/mvreg.h>
#include <crdt/ormap.h>
#include <crdt/orset.h>
#include <crdt/pncounter.h>
#include <crdt/type.h>

#include "testutil.h"

/* ------------------------------------------------------------ mutations */

typedef struct inc_arg {
    crdt_actor actor;
    uint64_t by;
} inc_arg;

static int inc_fn(void *value, void *value_delta, void *ud)
{
    const inc_arg *a = ud;

    return crdt_gcounter_increment(value, a->actor, a->by, value_delta);
}

static int inc(crdt_ormap *m, crdt_actor actor, const char *key, uint64_t by,
               crdt_ormap *delta)
{
    inc_arg a;

    a.actor = actor;
    a.by = by;
    return crdt_ormap_update(m, actor, key, strlen(key), crdt_gcounter_type(),
                             inc_fn, &a, delta);
}

typedef struct lww_arg {
    uint64_t ts;
    crdt_actor actor;
    const char *val;
} lww_arg;

static int lww_fn(void *value, void *value_delta, void *ud)
{
    const lww_arg *a = ud;

    return crdt_lww_set(value, a->ts, a->actor, a->val, strlen(a->val),
                        value_delta);
}

static int set_lww(crdt_ormap *m, crdt_actor actor, const char *key,
                   uint64_t ts, const char *val, crdt_ormap *delta)
{
    lww_arg a;

    a.ts = ts;
    a.actor = actor;
    a.val = val;
    return crdt_ormap_update(m, actor, key, strlen(key), crdt_lww_type(),
                             lww_fn, &a, delta);
}

static int fail_fn(void *value, void *value_delta, void *ud)
{
    (void)ud;
    if (crdt_gcounter_increment(value, 1, 5, value_delta) != CRDT_OK)
        return CRDT_ERR_INVALID_ARG;
    return CRDT_ERR_OVERFLOW;
}

/* nested: update inner[key2] of outer[key1] by inc */
typedef struct nest_arg {
    crdt_actor actor;
    const char *key;
    uint64_t by;
} nest_arg;

static int nest_fn(void *value, void *value_delta, void *ud)
{
    const nest_arg *a = ud;

    return inc(value, a->actor, a->key, a->by, value_delta);
}

static int nest_inc(crdt_ormap *m, crdt_actor actor, const char *k1,
                    const char *k2, uint64_t by, crdt_ormap *delta)
{
    nest_arg a;

    a.actor = actor;
    a.key = k2;
    a.by = by;
    return crdt_ormap_update(m, actor, k1, strlen(k1), crdt_ormap_type(),
                             nest_fn, &a, delta);
}

static uint64_t count(const crdt_ormap *m, const char *key)
{
    const crdt_type *t;
    const void *v;

    if (crdt_ormap_get(m, key, strlen(key), &t, &v) != CRDT_OK)
        return UINT64_MAX;
    ck_assert_ptr_eq(t, crdt_gcounter_type());
    return crdt_gcounter_value(v);
}

static void encode(const crdt_ormap *m, crdt_buf *b)
{
    crdt_buf_init(b, NULL);
    tu_must(crdt_ormap_encode(m, b), "encode");
}

static bool same_bytes(const crdt_ormap *a, const crdt_ormap *b)
{
    crdt_buf x, y;
    bool eq;

    encode(a, &x);
    encode(b, &y);
    eq = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    crdt_buf_clear(&x);
    crdt_buf_clear(&y);
    return eq;
}

static crdt_ormap *merged(const crdt_ormap *a, const crdt_ormap *b)
{
    crdt_ormap *r = crdt_ormap_clone(a);

    tu_expect(r != NULL, "clone");
    tu_must(crdt_ormap_merge(r, b), "merge");
    return r;
}

/* ------------------------------------------------- values of every type */

/* The embedded value types the tests below put in maps. */
enum {
    VT_GCOUNTER,
    VT_PNCOUNTER,
    VT_LWW,
    VT_MVREG,
    VT_ORSET,
    VT_EWFLAG,
    VT_DWFLAG,
    VT_GSET,
    VT_ORMAP,
    VT_COUNT
};

static const char *const vt_names[VT_COUNT] = {
    "gcounter", "pncounter", "lww",  "mvreg", "orset",
    "ewflag",   "dwflag",    "gset", "ormap",
};

static const crdt_type *vt_type(int vt)
{
    switch (vt) {
    case VT_GCOUNTER:
        return crdt_gcounter_type();
    case VT_PNCOUNTER:
        return crdt_pncounter_type();
    case VT_LWW:
        return crdt_lww_type();
    case VT_MVREG:
        return crdt_mvreg_type();
    case VT_ORSET:
        return crdt_orset_type();
    case VT_EWFLAG:
        return crdt_ewflag_type();
    case VT_DWFLAG:
        return crdt_dwflag_type();
    case VT_GSET:
        return crdt_gset_type();
    default:
        return crdt_ormap_type();
    }
}

/* A mutation of a value, run by vop_fn inside crdt_ormap_update. */
enum {
    VO_NOOP,    /* nothing: reveals a removed key's retained value */
    VO_INC,     /* gcounter, pncounter: + n */
    VO_DEC,     /* pncounter: - n */
    VO_SET,     /* lww: write s at timestamp n */
    VO_WRITE,   /* mvreg: write s */
    VO_CLEAR,   /* mvreg, orset: clear */
    VO_ADD,     /* orset, gset: add s */
    VO_RM,      /* orset: remove s */
    VO_ENABLE,  /* ewflag, dwflag */
    VO_DISABLE, /* ewflag, dwflag */
    VO_NESTED   /* ormap: inner (an update of ikey) or remove ikey */
};

typedef struct vop {
    int vt;                 /* VT_*: the value's type */
    int kind;               /* VO_* */
    crdt_actor actor;       /* the updating actor, at every level */
    uint64_t n;             /* amount, or lww timestamp */
    const char *s;          /* value or element */
    const char *ikey;       /* VO_NESTED: the inner key */
    const struct vop *inner; /* VO_NESTED: its update; NULL = remove */
    long *tally;            /* if set: tally[vt]++ for each run */
} vop;

static int vop_apply(crdt_ormap *m, const char *key, const vop *op,
                     crdt_ormap *delta);

static int vop_fn(void *v, void *vd, void *ud)
{
    const vop *op = ud;
    size_t len = op->s ? strlen(op->s) : 0;

    if (op->tally)
        op->tally[op->vt]++;
    switch (op->kind) {
    case VO_NOOP:
        return CRDT_OK;
    case VO_INC:
        if (op->vt == VT_GCOUNTER)
            return crdt_gcounter_increment(v, op->actor, op->n, vd);
        return crdt_pncounter_increment(v, op->actor, op->n, vd);
    case VO_DEC:
        return crdt_pncounter_decrement(v, op->actor, op->n, vd);
    case VO_SET:
        return crdt_lww_set(v, op->n, op->actor, op->s, len, vd);
    case VO_WRITE:
        return crdt_mvreg_write(v, op->actor, op->s, len, vd);
    case VO_CLEAR:
        if (op->vt == VT_MVREG)
            return crdt_mvreg_clear(v, vd);
        return crdt_orset_clear(v, vd);
    case VO_ADD:
        if (op->vt == VT_ORSET)
            return crdt_orset_add(v, op->actor, op->s, len, vd);
        return crdt_gset_add(v, op->s, len, vd);
    case VO_RM:
        return crdt_orset_remove(v, op->s, len, vd);
    case VO_ENABLE:
        if (op->vt == VT_EWFLAG)
            return crdt_ewflag_enable(v, op->actor, vd);
        return crdt_dwflag_enable(v, vd);
    case VO_DISABLE:
        if (op->vt == VT_EWFLAG)
            return crdt_ewflag_disable(v, vd);
        return crdt_dwflag_disable(v, op->actor, vd);
    case VO_NESTED:
        if (op->inner)
            return vop_apply(v, op->ikey, op->inner, vd);
        return crdt_ormap_remove(v, op->ikey, strlen(op->ikey), vd);
    }
    return CRDT_ERR_INVALID_ARG;
}

/* Updates key of m by op (the key's type is op->vt). */
static int vop_apply(crdt_ormap *m, const char *key, const vop *op,
                     crdt_ormap *delta)
{
    return crdt_ormap_update(m, op->actor, key, strlen(key), vt_type(op->vt),
                             vop_fn, (void *)(uintptr_t)op, delta);
}

/* A vop with only the common fields set. */
static vop mkop(int vt, int kind, crdt_actor actor, uint64_t n,
                const char *s)
{
    vop op;

    memset(&op, 0, sizeof op);
    op.vt = vt;
    op.kind = kind;
    op.actor = actor;
    op.n = n;
    op.s = s;
    return op;
}

/* ---------------------------------------------------------------- basic */

START_TEST(test_ormap_basic_update)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL), *d = crdt_ormap_new(NULL, NULL);
    const uint8_t *k, *p;
    const crdt_type *t;
    const void *v;
    size_t kl, n;

    ck_assert_int_eq(inc(m, 1, "b", 2, d), CRDT_OK);
    ck_assert_int_eq(inc(m, 1, "b", 3, d), CRDT_OK);
    ck_assert_int_eq(inc(m, 2, "a", 1, NULL), CRDT_OK);
    ck_assert_int_eq(set_lww(m, 1, "ab", 7, "hi", d), CRDT_OK);
    ck_assert_int_eq(set_lww(m, 1, "ab", 9, "yo", d), CRDT_OK);
    ck_assert_uint_eq(crdt_ormap_size(m), 3);
    ck_assert_uint_eq(count(m, "b"), 5);
    ck_assert_uint_eq(count(m, "a"), 1);
    ck_assert(crdt_ormap_contains(m, "ab", 2));
    ck_assert(!crdt_ormap_contains(m, "c", 1));
    ck_assert_int_eq(crdt_ormap_get(m, "c", 1, &t, &v), CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(crdt_ormap_get(m, "ab", 2, &t, &v), CRDT_OK);
    ck_assert_ptr_eq(t, crdt_lww_type());
    ck_assert_int_eq(crdt_lww_value(v, &p, &n), CRDT_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert(memcmp(p, "yo", 2) == 0);
    /* key order: "a" < "ab" < "b" */
    ck_assert_int_eq(crdt_ormap_entry(m, 0, &k, &kl, NULL, NULL), CRDT_OK);
    ck_assert(kl == 1 && k[0] == 'a');
    ck_assert_int_eq(crdt_ormap_entry(m, 1, &k, &kl, NULL, NULL), CRDT_OK);
    ck_assert(kl == 2 && memcmp(k, "ab", 2) == 0);
    ck_assert_int_eq(crdt_ormap_entry(m, 3, &k, &kl, NULL, NULL),
                     CRDT_ERR_NOT_FOUND);
    /* the delta group holds b and ab, not a */
    ck_assert_uint_eq(crdt_ormap_size(d), 2);
    ck_assert_uint_eq(count(d, "b"), 5);
    /* a failing fn changes nothing */
    {
        crdt_ormap *m0 = crdt_ormap_clone(m), *d0 = crdt_ormap_clone(d);

        ck_assert_int_eq(crdt_ormap_update(m, 1, "b", 1, crdt_gcounter_type(),
                                           fail_fn, NULL, d),
                         CRDT_ERR_OVERFLOW);
        ck_assert_int_eq(crdt_ormap_update(m, 1, "z", 1, crdt_gcounter_type(),
                                           fail_fn, NULL, d),
                         CRDT_ERR_OVERFLOW);
        ck_assert(crdt_ormap_equal(m, m0));
        ck_assert(crdt_ormap_equal(d, d0));
        /* type mismatch */
        ck_assert_int_eq(set_lww(m, 1, "b", 1, "x", d), CRDT_ERR_TYPE);
        ck_assert(crdt_ormap_equal(m, m0));
        ck_assert(crdt_ormap_equal(d, d0));
        ck_assert_int_eq(inc(m, 1, "b", 1, m), CRDT_ERR_INVALID_ARG);
        ck_assert_int_eq(crdt_ormap_update(m, 1, NULL, 1, crdt_gcounter_type(),
                                           inc_fn, NULL, NULL),
                         CRDT_ERR_INVALID_ARG);
        crdt_ormap_free(m0);
        crdt_ormap_free(d0);
    }
    /* the empty key is a key */
    ck_assert_int_eq(inc(m, 1, "", 4, NULL), CRDT_OK);
    ck_assert_uint_eq(count(m, ""), 4);
    ck_assert_int_eq(crdt_ormap_entry(m, 0, &k, &kl, NULL, NULL), CRDT_OK);
    ck_assert_uint_eq(kl, 0);
    crdt_ormap_free(m);
    crdt_ormap_free(d);
}
END_TEST

START_TEST(test_ormap_basic_remove_concurrent)
{
    crdt_ormap *a = crdt_ormap_new(NULL, NULL), *b, *da, *db, *x, *y;

    ck_assert_int_eq(inc(a, 1, "k", 3, NULL), CRDT_OK);
    ck_assert_int_eq(inc(a, 1, "j", 1, NULL), CRDT_OK);
    b = crdt_ormap_clone(a);
    da = crdt_ormap_new(NULL, NULL);
    db = crdt_ormap_new(NULL, NULL);
    /* a removes k while b increments it */
    ck_assert_int_eq(crdt_ormap_remove(a, "k", 1, da), CRDT_OK);
    ck_assert(!crdt_ormap_contains(a, "k", 1));
    ck_assert_int_eq(crdt_ormap_remove(a, "k", 1, da), CRDT_OK); /* no-op */
    ck_assert_int_eq(inc(b, 2, "k", 10, db), CRDT_OK);
    /* a remove of j everybody sees */
    ck_assert_int_eq(crdt_ormap_remove(a, "j", 1, da), CRDT_OK);
    x = merged(a, b);
    y = merged(b, a);
    ck_assert(crdt_ormap_equal(x, y));
    ck_assert(same_bytes(x, y));
    /* the update wins, with the updater's value (3 + 10: not reset) */
    ck_assert_uint_eq(count(x, "k"), 13);
    ck_assert(!crdt_ormap_contains(x, "j", 1));
    /* deltas give the same */
    crdt_ormap_free(y);
    y = crdt_ormap_clone(b);
    ck_assert_int_eq(crdt_ormap_merge(y, da), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_merge(a, db), CRDT_OK);
    ck_assert(crdt_ormap_equal(a, x));
    ck_assert(crdt_ormap_equal(y, x));
    /* remove: hidden, but the value is retained */
    ck_assert_int_eq(crdt_ormap_remove(a, "k", 1, da), CRDT_OK);
    ck_assert(!crdt_ormap_contains(a, "k", 1));
    ck_assert_int_eq(crdt_ormap_get(a, "k", 1, NULL, NULL), CRDT_ERR_NOT_FOUND);
    ck_assert_uint_eq(crdt_ormap_size(a), 0);
    ck_assert_int_eq(crdt_ormap_entry(a, 0, NULL, NULL, NULL, NULL),
                     CRDT_ERR_NOT_FOUND);
    /* then re-add: resumes from the retained value (3 + 10 + 1) */
    ck_assert_int_eq(inc(a, 1, "k", 1, da), CRDT_OK);
    ck_assert_uint_eq(count(a, "k"), 14);
    ck_assert_uint_eq(crdt_ormap_size(a), 1);
    /* the same on a replica that missed the remove, in either order, and
     * from the deltas alone */
    crdt_ormap_free(y);
    y = merged(x, a);
    ck_assert_uint_eq(count(y, "k"), 14);
    ck_assert(crdt_ormap_equal(y, a));
    crdt_ormap_free(y);
    y = merged(a, x);
    ck_assert(crdt_ormap_equal(y, a));
    crdt_ormap_free(y);
    y = merged(b, da);
    ck_assert(crdt_ormap_equal(y, a));
    ck_assert_int_eq(crdt_ormap_merge(x, a), CRDT_OK);
    ck_assert(crdt_ormap_equal(x, a));
    ck_assert_int_eq(crdt_ormap_remove(NULL, "k", 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(da);
    crdt_ormap_free(db);
    crdt_ormap_free(x);
    crdt_ormap_free(y);
}
END_TEST

START_TEST(test_ormap_basic_nested)
{
    crdt_ormap *a = crdt_ormap_new(NULL, NULL), *b, *d = crdt_ormap_new(NULL, NULL);
    crdt_ormap *c = crdt_ormap_new(NULL, NULL), *r;
    const crdt_type *t;
    const void *in;
    crdt_buf e;

    ck_assert_int_eq(nest_inc(a, 1, "x", "y", 2, d), CRDT_OK);
    b = crdt_ormap_clone(a);
    ck_assert_int_eq(nest_inc(a, 1, "x", "y", 3, d), CRDT_OK);
    ck_assert_int_eq(nest_inc(b, 2, "x", "z", 7, NULL), CRDT_OK);
    ck_assert_int_eq(nest_inc(b, 2, "x", "y", 1, NULL), CRDT_OK);
    r = merged(a, b);
    ck_assert_int_eq(crdt_ormap_get(r, "x", 1, &t, &in), CRDT_OK);
    ck_assert_ptr_eq(t, crdt_ormap_type());
    ck_assert_uint_eq(count(in, "y"), 6);
    ck_assert_uint_eq(count(in, "z"), 7);
    /* two levels below: round trip */
    encode(r, &e);
    ck_assert_int_eq(crdt_ormap_decode(c, e.data, e.len, NULL, NULL), CRDT_OK);
    ck_assert(crdt_ormap_equal(c, r));
    /* the delta group applies both updates of a */
    crdt_ormap_free(c);
    c = crdt_ormap_new(NULL, NULL);
    ck_assert_int_eq(crdt_ormap_merge(c, d), CRDT_OK);
    ck_assert(crdt_ormap_equal(c, a));
    /* a nested type mismatch */
    ck_assert_int_eq(inc(r, 1, "x", 1, NULL), CRDT_ERR_TYPE);
    crdt_buf_clear(&e);
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(c);
    crdt_ormap_free(d);
    crdt_ormap_free(r);
}
END_TEST

/* Nesting deeper than CRDT_ORMAP_MAX_DEPTH through update fails. */
typedef struct deep_arg {
    int levels;
} deep_arg;

static int deep_fn(void *value, void *value_delta, void *ud)
{
    deep_arg *a = ud;

    if (a->levels == 0)
        return inc(value, 1, "leaf", 1, value_delta);
    a->levels--;
    return crdt_ormap_update(value, 1, "n", 1, crdt_ormap_type(), deep_fn, a,
                             value_delta);
}

START_TEST(test_ormap_basic_depth)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL);
    deep_arg a;
    crdt_buf e;

    a.levels = (int)CRDT_ORMAP_MAX_DEPTH - 2; /* m + 15 maps */
    ck_assert_int_eq(crdt_ormap_update(m, 1, "n", 1, crdt_ormap_type(),
                                       deep_fn, &a, NULL),
                     CRDT_OK);
    encode(m, &e);
    {
        crdt_ormap *c = crdt_ormap_new(NULL, NULL);

        ck_assert_int_eq(crdt_ormap_decode(c, e.data, e.len, NULL, NULL),
                         CRDT_OK);
        ck_assert(crdt_ormap_equal(c, m));
        crdt_ormap_free(c);
    }
    crdt_buf_clear(&e);
    crdt_ormap_free(m);
    m = crdt_ormap_new(NULL, NULL);
    a.levels = (int)CRDT_ORMAP_MAX_DEPTH - 1;
    ck_assert_int_eq(crdt_ormap_update(m, 1, "n", 1, crdt_ormap_type(),
                                       deep_fn, &a, NULL),
                     CRDT_ERR_LIMIT);
    ck_assert_uint_eq(crdt_ormap_size(m), 0);
    crdt_ormap_free(m);
}
END_TEST

/* ---------------------------------------------------------------- codec */

static const uint8_t example[] = {0x95, 0x01, 0x0c, 0x81, 0x01, 0x01, 0x90,
                                  0x91, 0x93, 0xc4, 0x01, 0x61, 0x91, 0x92,
                                  0x01, 0x01, 0x93, 0x01, 0x03, 0x81, 0x01,
                                  0x02};

/* The example after removing "a": the entry stays, with no dots. */
static const uint8_t removed_example[] = {
    0x95, 0x01, 0x0c, 0x81, 0x01, 0x01, 0x90, 0x91, 0x93, 0xc4,
    0x01, 0x61, 0x90, 0x93, 0x01, 0x03, 0x81, 0x01, 0x02};

START_TEST(test_ormap_codec_removed)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL), *c = crdt_ormap_new(NULL, NULL);
    crdt_buf e;

    ck_assert_int_eq(inc(m, 1, "a", 2, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(m, "a", 1, NULL), CRDT_OK);
    encode(m, &e);
    ck_assert_uint_eq(e.len, sizeof removed_example);
    ck_assert(memcmp(e.data, removed_example, e.len) == 0);
    crdt_buf_clear(&e);
    ck_assert_int_eq(crdt_ormap_decode(c, removed_example,
                                       sizeof removed_example, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_ormap_equal(c, m));
    ck_assert_uint_eq(crdt_ormap_size(c), 0);
    ck_assert(!crdt_ormap_contains(c, "a", 1));
    /* a re-add on the decoded copy resumes from {1: 2} */
    ck_assert_int_eq(inc(c, 1, "a", 1, NULL), CRDT_OK);
    ck_assert_uint_eq(count(c, "a"), 3);
    crdt_ormap_free(m);
    crdt_ormap_free(c);
}
END_TEST

static int mv_write_fn(void *v, void *d, void *ud)
{
    return crdt_mvreg_write(v, 1, ud, strlen(ud), d);
}

static int ew_enable_fn(void *v, void *d, void *ud)
{
    (void)ud;
    return crdt_ewflag_enable(v, 1, d);
}

static int dw_disable_fn(void *v, void *d, void *ud)
{
    (void)ud;
    return crdt_dwflag_disable(v, 2, d);
}

/* A map without a registry decodes every built-in type it can hold,
 * the MV-register and the flags included. */
START_TEST(test_ormap_codec_builtins)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL), *c = crdt_ormap_new(NULL, NULL);
    crdt_buf e;

    ck_assert_int_eq(crdt_ormap_update(m, 1, "r", 1, crdt_mvreg_type(),
                                       mv_write_fn, "v", NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_update(m, 1, "e", 1, crdt_ewflag_type(),
                                       ew_enable_fn, NULL, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_update(m, 2, "d", 1, crdt_dwflag_type(),
                                       dw_disable_fn, NULL, NULL), CRDT_OK);
    encode(m, &e);
    ck_assert_int_eq(crdt_ormap_decode(c, e.data, e.len, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_ormap_equal(c, m));
    crdt_buf_clear(&e);
    crdt_ormap_free(m);
    crdt_ormap_free(c);
}
END_TEST

START_TEST(test_ormap_codec_bytes)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL), *c = crdt_ormap_new(NULL, NULL);
    crdt_buf e;

    ck_assert_int_eq(inc(m, 1, "a", 2, NULL), CRDT_OK);
    encode(m, &e);
    ck_assert_uint_eq(e.len, sizeof example);
    ck_assert(memcmp(e.data, example, e.len) == 0);
    ck_assert_int_eq(crdt_ormap_decode(c, example, sizeof example, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_ormap_equal(c, m));
    crdt_buf_clear(&e);
    /* the generic path: registry decode of a map */
    {
        crdt_registry *reg = crdt_registry_new(NULL);
        const crdt_type *t;
        void *o;

        ck_assert_int_eq(crdt_registry_add_builtins(reg), CRDT_OK);
        ck_assert_int_eq(crdt_registry_decode(reg, example, sizeof example,
                                              NULL, NULL, &t, &o, NULL),
                         CRDT_OK);
        ck_assert_ptr_eq(t, crdt_ormap_type());
        ck_assert(t->equal(o, m));
        t->destroy(o);
        crdt_registry_free(reg);
    }
    crdt_ormap_free(m);
    crdt_ormap_free(c);
}
END_TEST

/* dst keeps its state when decoding fails */
static void reject(const uint8_t *in, size_t len, const crdt_limits *lim,
                   int code)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL);

    tu_must(inc(m, 9, "keep", 1, NULL), "inc");
    tu_expect_reject(crdt_ormap_type(), m, in, len, lim, code, TU_ANY_OFFSET);
    crdt_ormap_free(m);
}

START_TEST(test_ormap_codec_reject)
{
    uint8_t in[64];
    size_t i;
    crdt_limits lim;
    /* two entries, ctx {1: 2}: [k1, [[1,1]], gc{}], [k2, [[1,2]], gc{}] */
    const uint8_t two[] = {0x95, 0x01, 0x0c, 0x81, 0x01, 0x02, 0x90, 0x92,
                           0x93, 0xc4, 0x01, 0x62, 0x91, 0x92, 0x01, 0x01,
                           0x93, 0x01, 0x03, 0x80, 0x93, 0xc4, 0x01, 0x61,
                           0x91, 0x92, 0x01, 0x02, 0x93, 0x01, 0x03, 0x80};

    /* every proper prefix */
    for (i = 0; i < sizeof example; i++)
        reject(example, i, NULL, CRDT_ERR_DECODE);
    /* unsorted keys ("b" then "a"), then duplicates */
    reject(two, sizeof two, NULL, CRDT_ERR_DECODE);
    memcpy(in, two, sizeof two);
    in[11] = 0x61;
    reject(in, sizeof two, NULL, CRDT_ERR_DECODE);
    in[11] = 0x60; /* sorted: fine */
    {
        crdt_ormap *m = crdt_ormap_new(NULL, NULL);

        ck_assert_int_eq(crdt_ormap_decode(m, in, sizeof two, NULL, NULL),
                         CRDT_OK);
        ck_assert_uint_eq(crdt_ormap_size(m), 2);
        crdt_ormap_free(m);
    }
    /* a dot not in the context */
    memcpy(in, example, sizeof example);
    in[15] = 0x02;
    reject(in, sizeof example, NULL, CRDT_ERR_DECODE);
    /* a dot under two keys (sorted keys "`" and "a", both [1, 1]),
     * reported at the second entry */
    memcpy(in, two, sizeof two);
    in[11] = 0x60;
    in[27] = 0x01;
    reject(in, sizeof two, NULL, CRDT_ERR_DECODE);
    {
        crdt_ormap *m = crdt_ormap_new(NULL, NULL);
        crdt_decode_info info = {0, 0};

        ck_assert_int_eq(crdt_ormap_decode(m, in, sizeof two, NULL, &info),
                         CRDT_ERR_DECODE);
        ck_assert_uint_eq(info.offset, 20);
        crdt_ormap_free(m);
    }
    /* a removed key's entry with a dot not in the context */
    memcpy(in, removed_example, sizeof removed_example);
    in[12] = 0x91; /* [[1, 2]] in place of [] */
    memcpy(in + 13, "\x92\x01\x02", 3);
    memcpy(in + 16, removed_example + 13, sizeof removed_example - 13);
    reject(in, sizeof removed_example + 3, NULL, CRDT_ERR_DECODE);
    /* unknown nested tag 13, and a user tag */
    memcpy(in, example, sizeof example);
    in[18] = 0x0d;
    reject(in, sizeof example, NULL, CRDT_ERR_TYPE);
    /* the nested value's own error, at its offset */
    memcpy(in, example, sizeof example);
    in[21] = 0x00; /* gcounter count 0 */
    reject(in, sizeof example, NULL, CRDT_ERR_DECODE);
    /* trailing byte */
    memcpy(in, example, sizeof example);
    in[sizeof example] = 0xc0;
    reject(in, sizeof example + 1, NULL, CRDT_ERR_DECODE);
    /* limits */
    crdt_limits_default(&lim);
    lim.max_elements = 1;
    reject(two, sizeof two, &lim, CRDT_ERR_LIMIT);
    crdt_limits_default(&lim);
    lim.max_value_bytes = 0;
    reject(example, sizeof example, &lim, CRDT_ERR_LIMIT);
}
END_TEST

/* One level: [1, 12, {1: 1}, [], [["", [[1, 1]], <inner>]]] */
static const uint8_t level[] = {0x95, 0x01, 0x0c, 0x81, 0x01, 0x01, 0x90,
                                0x91, 0x93, 0xc4, 0x00, 0x91, 0x92, 0x01,
                                0x01};
static const uint8_t leaf[] = {0x93, 0x01, 0x03, 0x80};

static uint8_t *nested_bytes(size_t levels, size_t *len)
{
    uint8_t *p = malloc(levels * sizeof level + sizeof leaf);
    size_t i;

    ck_assert_ptr_nonnull(p);
    for (i = 0; i < levels; i++)
        memcpy(p + i * sizeof level, level, sizeof level);
    memcpy(p + levels * sizeof level, leaf, sizeof leaf);
    *len = levels * sizeof level + sizeof leaf;
    return p;
}

START_TEST(test_ormap_codec_depth)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL);
    crdt_limits lim;
    size_t len, i;
    uint8_t *p;
    clock_t t0;

    /* 16 levels decode with the defaults, 17 do not */
    p = nested_bytes(16, &len);
    ck_assert_int_eq(crdt_ormap_decode(m, p, len, NULL, NULL), CRDT_OK);
    free(p);
    p = nested_bytes(17, &len);
    reject(p, len, NULL, CRDT_ERR_LIMIT);
    crdt_limits_default(&lim);
    lim.max_depth = 1;
    free(p);
    p = nested_bytes(2, &len);
    reject(p, len, &lim, CRDT_ERR_LIMIT);
    free(p);
    /* 1000 levels: rejected fast, without deep recursion */
    t0 = clock();
    p = nested_bytes(1000, &len);
    reject(p, len, NULL, CRDT_ERR_LIMIT);
    lim.max_depth = (size_t)1 << 40;
    reject(p, len, &lim, CRDT_ERR_LIMIT);
    free(p);
    /* raw nested arrays in a value slot */
    p = malloc(sizeof example + 1000);
    ck_assert_ptr_nonnull(p);
    memcpy(p, example, 16);
    for (i = 0; i < 1000; i++)
        p[16 + i] = 0x91;
    p[1016] = 0xc0;
    reject(p, 1017, NULL, CRDT_ERR_LIMIT);
    free(p);
    ck_assert((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
    crdt_ormap_free(m);
}
END_TEST

/* ---------------------------------------------------------------- merge */

/* Add-wins, for each value type: replicas a and b share a key's first
 * update op1 (actor 1); then a updates the key again (opa, actor 1) and
 * removes it, while b, which saw only op1, updates it concurrently (opb,
 * actor 2).  Every merge keeps the key (b's update was not observed by
 * the remove) with the join of every value it has had, a's hidden opa
 * included (values are never reset). */
static const vop aw_inner_i = {VT_GCOUNTER, VO_INC, 1, 1, NULL, NULL, NULL,
                               NULL};
static const vop aw_inner_j = {VT_GCOUNTER, VO_INC, 2, 1, NULL, NULL, NULL,
                               NULL};

typedef struct aw_case {
    vop op1, opa, opb;
    void (*check)(const void *v); /* the merged value, beyond the join */
} aw_case;

static void aw_check_mvreg(const void *v)
{
    const uint8_t *p;
    size_t len;
    crdt_dot d;

    /* a's write "a" (1, 2) and b's write "b" (2, 1) are concurrent */
    ck_assert_uint_eq(crdt_mvreg_count(v), 2);
    ck_assert_int_eq(crdt_mvreg_get(v, 0, &d, &p, &len), CRDT_OK);
    ck_assert(d.actor == 1 && d.counter == 2 && len == 1 && p[0] == 'a');
    ck_assert_int_eq(crdt_mvreg_get(v, 1, &d, &p, &len), CRDT_OK);
    ck_assert(d.actor == 2 && d.counter == 1 && len == 1 && p[0] == 'b');
}

static void aw_check_ewflag(const void *v)
{
    /* b's disable saw only op1's enable; a's hidden re-enable wins */
    ck_assert(crdt_ewflag_value(v));
}

static void aw_check_dwflag(const void *v)
{
    /* b's enable saw only op1's disable; a's hidden re-disable wins */
    ck_assert(!crdt_dwflag_value(v));
}

static void aw_check_orset(const void *v)
{
    /* b removed x (op1's add, observed); a's hidden add of z survives */
    ck_assert_uint_eq(crdt_orset_size(v), 1);
    ck_assert(crdt_orset_contains(v, "z", 1));
}

static void aw_check_gset(const void *v)
{
    ck_assert_uint_eq(crdt_gset_size(v), 3);
    ck_assert(crdt_gset_contains(v, "x", 1));
    ck_assert(crdt_gset_contains(v, "y", 1));
    ck_assert(crdt_gset_contains(v, "z", 1));
}

static void aw_check_gcounter(const void *v)
{
    ck_assert_uint_eq(crdt_gcounter_value(v), 13);
}

static void aw_check_pncounter(const void *v)
{
    int64_t x;

    ck_assert_int_eq(crdt_pncounter_value(v, &x), CRDT_OK);
    ck_assert_int_eq(x, 13);
}

static void aw_check_lww(const void *v)
{
    const uint8_t *p;
    size_t len;

    /* a's hidden write has the larger timestamp: it stays the value */
    ck_assert_int_eq(crdt_lww_value(v, &p, &len), CRDT_OK);
    ck_assert(len == 1 && p[0] == 'a');
    ck_assert_uint_eq(crdt_lww_timestamp(v), 3);
}

static void aw_check_ormap(const void *v)
{
    /* a's hidden inner remove of i observed op1; b's j is new */
    ck_assert(!crdt_ormap_contains(v, "i", 1));
    ck_assert_uint_eq(count(v, "j"), 1);
    ck_assert_uint_eq(crdt_ormap_size(v), 1);
}

#define AWOP(vt, kind, actor, n, s) {vt, kind, actor, n, s, NULL, NULL, NULL}

static const aw_case aw_cases[] = {
    {AWOP(VT_MVREG, VO_WRITE, 1, 0, "1"), AWOP(VT_MVREG, VO_WRITE, 1, 0, "a"),
     AWOP(VT_MVREG, VO_WRITE, 2, 0, "b"), aw_check_mvreg},
    {AWOP(VT_EWFLAG, VO_ENABLE, 1, 0, NULL),
     AWOP(VT_EWFLAG, VO_ENABLE, 1, 0, NULL),
     AWOP(VT_EWFLAG, VO_DISABLE, 2, 0, NULL), aw_check_ewflag},
    {AWOP(VT_DWFLAG, VO_DISABLE, 1, 0, NULL),
     AWOP(VT_DWFLAG, VO_DISABLE, 1, 0, NULL),
     AWOP(VT_DWFLAG, VO_ENABLE, 2, 0, NULL), aw_check_dwflag},
    {AWOP(VT_ORSET, VO_ADD, 1, 0, "x"), AWOP(VT_ORSET, VO_ADD, 1, 0, "z"),
     AWOP(VT_ORSET, VO_RM, 2, 0, "x"), aw_check_orset},
    {AWOP(VT_GSET, VO_ADD, 1, 0, "x"), AWOP(VT_GSET, VO_ADD, 1, 0, "z"),
     AWOP(VT_GSET, VO_ADD, 2, 0, "y"), aw_check_gset},
    {AWOP(VT_GCOUNTER, VO_INC, 1, 1, NULL),
     AWOP(VT_GCOUNTER, VO_INC, 1, 2, NULL),
     AWOP(VT_GCOUNTER, VO_INC, 2, 10, NULL), aw_check_gcounter},
    {AWOP(VT_PNCOUNTER, VO_INC, 1, 5, NULL),
     AWOP(VT_PNCOUNTER, VO_DEC, 1, 2, NULL),
     AWOP(VT_PNCOUNTER, VO_INC, 2, 10, NULL), aw_check_pncounter},
    {AWOP(VT_LWW, VO_SET, 1, 1, "1"), AWOP(VT_LWW, VO_SET, 1, 3, "a"),
     AWOP(VT_LWW, VO_SET, 2, 2, "b"), aw_check_lww},
    {{VT_ORMAP, VO_NESTED, 1, 0, NULL, "i", &aw_inner_i, NULL},
     {VT_ORMAP, VO_NESTED, 1, 0, NULL, "i", NULL, NULL},
     {VT_ORMAP, VO_NESTED, 2, 0, NULL, "j", &aw_inner_j, NULL},
     aw_check_ormap},
};
#define N_AW ((int)(sizeof aw_cases / sizeof aw_cases[0]))

/* The value of key "k" in m (present). */
static const void *kval(const crdt_ormap *m, const crdt_type *want)
{
    const crdt_type *t;
    const void *v;

    ck_assert_int_eq(crdt_ormap_get(m, "k", 1, &t, &v), CRDT_OK);
    ck_assert_ptr_eq(t, want);
    return v;
}

START_TEST(test_ormap_merge_add_wins)
{
    const aw_case *c = &aw_cases[_i];
    const crdt_type *t = vt_type(c->op1.vt);
    crdt_ormap *a = crdt_ormap_new(NULL, NULL), *b, *da, *db, *r[4], *z;
    void *want;
    int i;

    ck_assert_int_eq(vop_apply(a, "k", &c->op1, NULL), CRDT_OK);
    b = crdt_ormap_clone(a);
    da = crdt_ormap_new(NULL, NULL);
    db = crdt_ormap_new(NULL, NULL);
    ck_assert_int_eq(vop_apply(a, "k", &c->opa, da), CRDT_OK);
    /* the join the merged key must hold: a's value (hidden by the
     * remove below) and b's */
    want = t->create(NULL);
    ck_assert_int_eq(t->copy(want, kval(a, t)), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(a, "k", 1, da), CRDT_OK);
    ck_assert(!crdt_ormap_contains(a, "k", 1));
    ck_assert_int_eq(vop_apply(b, "k", &c->opb, db), CRDT_OK);
    ck_assert_int_eq(t->merge(want, kval(b, t)), CRDT_OK);
    /* states both ways, and each side's delta group into the other */
    r[0] = merged(a, b);
    r[1] = merged(b, a);
    r[2] = merged(a, db);
    r[3] = merged(b, da);
    for (i = 0; i < 4; i++) {
        ck_assert_msg(crdt_ormap_contains(r[i], "k", 1),
                      "%s: merge %d lost the key", t->name, i);
        ck_assert_uint_eq(crdt_ormap_size(r[i]), 1);
        ck_assert_msg(t->equal(kval(r[i], t), want),
                      "%s: merge %d: value is not the join", t->name, i);
        c->check(kval(r[i], t));
        ck_assert(crdt_ormap_equal(r[i], r[0]));
        ck_assert(same_bytes(r[i], r[0]));
    }
    /* control: a remove that observed b's update does remove the key,
     * everywhere, and the value stays retained */
    z = crdt_ormap_new(NULL, NULL);
    ck_assert_int_eq(crdt_ormap_remove(r[0], "k", 1, z), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_merge(r[1], z), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_merge(r[1], b), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_merge(r[1], a), CRDT_OK);
    ck_assert(!crdt_ormap_contains(r[0], "k", 1));
    ck_assert(!crdt_ormap_contains(r[1], "k", 1));
    ck_assert(crdt_ormap_equal(r[0], r[1]));
    t->destroy(want);
    crdt_ormap_free(z);
    for (i = 0; i < 4; i++)
        crdt_ormap_free(r[i]);
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(da);
    crdt_ormap_free(db);
}
END_TEST

/* ------------------------------------------------------------- property */

/* The keys of one property case: a schema of up to three levels of maps.
 * Level 0 is the map under test, level 1 the maps its map-typed keys
 * hold, level 2 the maps theirs hold (no maps: depth 3 at most).  Each
 * level has keys "0", "1", "2" (n of them) with a fixed type each, so
 * that replicas agree on the types, except for the deliberate conflicts
 * of random_op. */
typedef struct schema {
    int n[3];
    int vt[3][3];
} schema;

static const char *const pkeys[] = {"0", "1", "2"};
static const char *const pelems[] = {"x", "y", "z"};

typedef struct pctx {
    tu_rng *rng;
    schema sch;
    long tally[VT_COUNT]; /* value mutations run, per type, any level */
    long conflicts;       /* updates refused with CRDT_ERR_TYPE */
} pctx;

/* Case c's schema: its first key takes every type in turn, the rest are
 * random. */
static void random_schema(pctx *p, long c)
{
    int l, i;

    for (l = 0; l < 3; l++) {
        p->sch.n[l] = 2 + (int)tu_below(p->rng, 2);
        for (i = 0; i < p->sch.n[l]; i++)
            p->sch.vt[l][i] =
                (int)tu_below(p->rng, l == 2 ? VT_ORMAP : VT_COUNT);
    }
    p->sch.vt[0][0] = (int)(c % VT_COUNT);
}

/* A random mutation of a value of type vt at schema level l, by actor,
 * into chain[0] (nested ones use chain[1..]). */
static void random_vop(pctx *p, int l, int vt, crdt_actor actor, vop *chain)
{
    tu_rng *rng = p->rng;
    vop *op = &chain[0];
    int w;

    *op = mkop(vt, VO_INC, actor, 1 + tu_below(rng, 3),
               pelems[tu_below(rng, 3)]);
    op->tally = p->tally;
    switch (vt) {
    case VT_PNCOUNTER:
        op->kind = tu_below(rng, 2) ? VO_INC : VO_DEC;
        break;
    case VT_LWW:
        op->kind = VO_SET;
        op->n = tu_below(rng, 4);
        break;
    case VT_MVREG:
        op->kind = tu_below(rng, 4) ? VO_WRITE : VO_CLEAR;
        break;
    case VT_ORSET:
        w = (int)tu_below(rng, 8);
        op->kind = w < 5 ? VO_ADD : w < 7 ? VO_RM : VO_CLEAR;
        break;
    case VT_EWFLAG:
    case VT_DWFLAG:
        op->kind = tu_below(rng, 2) ? VO_ENABLE : VO_DISABLE;
        break;
    case VT_GSET:
        op->kind = VO_ADD;
        break;
    case VT_ORMAP: {
        int k = (int)tu_below(rng, (uint64_t)p->sch.n[l + 1]);

        op->kind = VO_NESTED;
        op->ikey = pkeys[k];
        if (tu_below(rng, 5)) {
            op->inner = &chain[1];
            random_vop(p, l + 1, p->sch.vt[l + 1][k], actor, chain + 1);
        }
        break;
    }
    }
}

/* A random op on m by actor: a key remove (*removed set if the key was
 * present) or an update of a random key with a random mutation of its
 * value (nested maps: of a random inner key, or its remove).  Now and
 * then an update uses another type than the schema's (gcounter, or lww
 * for a gcounter key): replicas that create a key concurrently with
 * different types exercise the larger-tag rule (a replica that already
 * holds the key with the other type refuses with CRDT_ERR_TYPE and
 * changes nothing). */
static void random_op(pctx *p, crdt_ormap *m, crdt_actor actor,
                      crdt_ormap *delta, bool *removed)
{
    int k = (int)tu_below(p->rng, (uint64_t)p->sch.n[0]);
    int vt = p->sch.vt[0][k], rv;
    vop chain[3];

    if (tu_below(p->rng, 5) == 0) {
        *removed |= crdt_ormap_contains(m, pkeys[k], 1);
        tu_must(crdt_ormap_remove(m, pkeys[k], 1, delta), "remove");
        return;
    }
    if (tu_below(p->rng, 16) == 0)
        vt = vt == VT_GCOUNTER ? VT_LWW : VT_GCOUNTER;
    random_vop(p, 0, vt, actor, chain);
    rv = vop_apply(m, pkeys[k], chain, delta);
    if (rv == CRDT_ERR_TYPE)
        p->conflicts++;
    else
        tu_must(rv, "update");
}

/* Three replicas after random ops (replica i as actor i + 1) and
 * exchanges. */
static void random_states(pctx *p, crdt_ormap *r[3], bool *removed)
{
    int i, n = 4 + (int)tu_below(p->rng, 24);

    for (i = 0; i < 3; i++)
        r[i] = crdt_ormap_new(NULL, NULL);
    for (i = 0; i < n; i++) {
        int x = (int)tu_below(p->rng, 3);

        if (tu_below(p->rng, 3) == 0)
            tu_must(crdt_ormap_merge(r[x],
                                     r[(x + 1 + tu_below(p->rng, 2)) % 3]),
                    "exchange");
        else
            random_op(p, r[x], (crdt_actor)x + 1, NULL, removed);
    }
}

START_TEST(test_ormap_property_laws)
{
    tu_rng rng;
    pctx p;
    long n = tu_cases(10000), c, with_removes = 0, delta_removes = 0;
    int t;

    tu_rng_init(&rng, tu_seed("ormap") ^ 0x1);
    memset(&p, 0, sizeof p);
    p.rng = &rng;
    for (c = 0; c < n; c++) {
        crdt_ormap *r[3], *ab, *ba, *ab_c, *bc, *a_bc, *aa, *x, *d, *y, *z;
        crdt_ormap *w, *again;
        bool removed = false;
        crdt_buf e;
        int i, ops;

        random_schema(&p, c);
        random_states(&p, r, &removed);
        with_removes += removed;
        ab = merged(r[0], r[1]);
        ba = merged(r[1], r[0]);
        ab_c = merged(ab, r[2]);
        bc = merged(r[1], r[2]);
        a_bc = merged(r[0], bc);
        aa = merged(r[0], r[0]);
        /* the join laws on every case, removes and re-adds included */
        tu_expect(crdt_ormap_equal(ab, ba), "commutative");
        tu_expect(same_bytes(ab, ba), "canonical bytes");
        tu_expect(crdt_ormap_equal(aa, r[0]), "idempotent");
        again = merged(ab, r[1]);
        tu_expect(crdt_ormap_equal(again, ab), "idempotent (a+b)+b");
        crdt_ormap_free(again);
        tu_expect(crdt_ormap_equal(ab_c, a_bc), "associative");
        tu_expect(same_bytes(ab_c, a_bc), "canonical bytes (assoc)");
        /* round trip */
        encode(ab_c, &e);
        y = crdt_ormap_new(NULL, NULL);
        tu_must(crdt_ormap_decode(y, e.data, e.len, NULL, NULL), "decode");
        tu_expect(crdt_ormap_equal(y, ab_c), "round trip");
        crdt_buf_clear(&e);
        /* delta == mutation, for a delta group of 1-3 ops, by actors
         * whose every event ab has seen (1 and 2) or a new one (4); not
         * by 3, whose next dots (at every level) ab may not know are
         * taken, which only a replica misusing actor 3 would do */
        x = crdt_ormap_clone(ab);
        d = crdt_ormap_new(NULL, NULL);
        ops = 1 + (int)tu_below(&rng, 3);
        removed = false;
        for (i = 0; i < ops; i++) {
            crdt_actor actor = (crdt_actor)(1 + tu_below(&rng, 3));

            random_op(&p, x, actor == 3 ? 4 : actor, d, &removed);
        }
        delta_removes += removed;
        z = merged(ab, d);
        tu_expect(crdt_ormap_equal(z, x), "delta == mutation");
        tu_expect(same_bytes(z, x), "delta == mutation (bytes)");
        crdt_ormap_free(z);
        /* and on a replica that has seen more */
        z = merged(ab_c, d);
        w = merged(ab_c, x);
        tu_expect(crdt_ormap_equal(z, w), "delta == state");
        crdt_ormap_free(w);
        crdt_ormap_free(z);
        for (i = 0; i < 3; i++)
            crdt_ormap_free(r[i]);
        crdt_ormap_free(ab);
        crdt_ormap_free(ba);
        crdt_ormap_free(ab_c);
        crdt_ormap_free(bc);
        crdt_ormap_free(a_bc);
        crdt_ormap_free(aa);
        crdt_ormap_free(x);
        crdt_ormap_free(d);
        crdt_ormap_free(y);
    }
    fprintf(stderr,
            "ormap: %ld property cases, %ld with removes in the states, "
            "%ld with removes in the delta group, %ld type conflicts; "
            "value mutations:",
            n, with_removes, delta_removes, p.conflicts);
    for (t = 0; t < VT_COUNT; t++) {
        fprintf(stderr, " %s %ld", vt_names[t], p.tally[t]);
        /* every type is the first key's in one case of VT_COUNT */
        if (n >= 100)
            tu_expect(p.tally[t] > 0, "every value type mutated");
    }
    fprintf(stderr, "\n");
}
END_TEST

/* ------------------------------------------------------------- replicas */

#define MR 5  /* replicas (actor i + 1) */
#define MK 4  /* keys "0".."3", gcounters */

/* The model of one key: presence dots, and the counter, which is kept
 * (and joined) whether or not the key is present. */
typedef struct mkey {
    uint64_t dots[MR]; /* bit c - 1: dot (actor, c) */
    uint64_t cnt[MR];  /* per actor; never reset */
    bool has;          /* some dot: present */
} mkey;

typedef struct mrep {
    uint64_t ctx[MR];
    mkey k[MK];
} mrep;

static void m_merge(mrep *d, const mrep *s)
{
    int k, a;

    for (k = 0; k < MK; k++) {
        mkey *x = &d->k[k];
        const mkey *y = &s->k[k];
        bool any = false;

        for (a = 0; a < MR; a++) {
            uint64_t A = x->dots[a], B = y->dots[a];

            x->dots[a] = (A & B) | (A & ~s->ctx[a]) | (B & ~d->ctx[a]);
            any |= x->dots[a] != 0;
            if (y->cnt[a] > x->cnt[a])
                x->cnt[a] = y->cnt[a];
        }
        x->has = any;
    }
    for (a = 0; a < MR; a++)
        d->ctx[a] |= s->ctx[a];
}

static int top_bit(uint64_t v)
{
    int n = 0;

    while (v) {
        n++;
        v >>= 1;
    }
    return n;
}

static void check_rep(const crdt_ormap *m, const mrep *r)
{
    int k, a;
    size_t present = 0;

    for (k = 0; k < MK; k++) {
        char key[2] = {(char)('0' + k), 0};
        const void *v;

        if (!r->k[k].has) {
            tu_expect(!crdt_ormap_contains(m, key, 1), "absent as in model");
            continue;
        }
        present++;
        tu_must(crdt_ormap_get(m, key, 1, NULL, &v), "present as in model");
        for (a = 0; a < MR; a++)
            if (crdt_gcounter_get(v, (crdt_actor)a + 1) != r->k[k].cnt[a])
                ck_abort_msg("key %d actor %d: %llu, model %llu", k, a + 1,
                             (unsigned long long)crdt_gcounter_get(
                                 v, (crdt_actor)a + 1),
                             (unsigned long long)r->k[k].cnt[a]);
    }
    tu_expect(crdt_ormap_size(m) == present, "size as in model");
}

#define POOL 400

START_TEST(test_ormap_replicas_converge)
{
    tu_rng rng;
    long runs = tu_cases(10000) / 20, run;

    tu_rng_init(&rng, tu_seed("ormap") ^ 0x2);
    for (run = 0; run < runs; run++) {
        int nr = 3 + (int)tu_below(&rng, 3), i, j, k, a, step, round;
        crdt_ormap *rep[MR], *pool[POOL];
        mrep mr[MR], mpool[POOL];
        uint64_t upd[MK][MR], cov[MK][MR], incs[MK][MR];
        int npool = 0, ops = 0;

        memset(mr, 0, sizeof mr);
        memset(upd, 0, sizeof upd);
        memset(cov, 0, sizeof cov);
        memset(incs, 0, sizeof incs);
        for (i = 0; i < nr; i++)
            rep[i] = crdt_ormap_new(NULL, NULL);
        for (step = 0; step < 120 && npool < POOL; step++) {
            int x = (int)tu_below(&rng, (uint64_t)nr);
            int what = (int)tu_below(&rng, 10);

            if (what < 5 && ops < 60) {
                /* an op, with its delta kept in the pool */
                char key[2];
                mrep *m = &mr[x], *md = &mpool[npool];
                mkey *mk;
                bool rem = what == 0;

                k = (int)tu_below(&rng, MK);
                key[0] = (char)('0' + k);
                key[1] = 0;
                mk = &m->k[k];
                pool[npool] = crdt_ormap_new(NULL, NULL);
                memset(md, 0, sizeof *md);
                ops++;
                if (rem) {
                    tu_must(crdt_ormap_remove(rep[x], key, 1, pool[npool]),
                         "remove");
                    for (a = 0; a < MR; a++) {
                        md->ctx[a] = mk->dots[a];
                        cov[k][a] |= mk->dots[a];
                        mk->dots[a] = 0;
                    }
                    mk->has = false; /* the counter is kept */
                } else {
                    int c = top_bit(m->ctx[x]) + 1;
                    uint64_t bit = (uint64_t)1 << (c - 1);

                    tu_must(inc(rep[x], (crdt_actor)x + 1, key, 1, pool[npool]),
                         "inc");
                    for (a = 0; a < MR; a++) {
                        md->ctx[a] = mk->dots[a];
                        cov[k][a] |= md->ctx[a];
                        mk->dots[a] = 0;
                    }
                    mk->has = true;
                    mk->dots[x] = bit;
                    mk->cnt[x]++; /* from the retained count */
                    m->ctx[x] |= bit;
                    md->ctx[x] |= bit;
                    /* the delta carries the value delta: x's count only */
                    md->k[k].has = true;
                    md->k[k].dots[x] = bit;
                    md->k[k].cnt[x] = mk->cnt[x];
                    upd[k][x] |= bit;
                    incs[k][x]++;
                }
                npool++;
            } else if (what < 8 && npool) {
                /* a random delta from the pool, maybe a duplicate */
                int p = (int)tu_below(&rng, (uint64_t)npool);

                tu_must(crdt_ormap_merge(rep[x], pool[p]), "merge delta");
                m_merge(&mr[x], &mpool[p]);
            } else {
                int y = (int)tu_below(&rng, (uint64_t)nr);

                tu_must(crdt_ormap_merge(rep[x], rep[y]), "merge state");
                m_merge(&mr[x], &mr[y]);
            }
            check_rep(rep[x], &mr[x]);
        }
        /* every delta reaches everyone, in a random order, then states
         * are exchanged until nothing changes */
        for (i = 0; i < nr; i++)
            for (j = 0; j < npool; j++) {
                int p = (int)tu_below(&rng, (uint64_t)npool);

                tu_must(crdt_ormap_merge(rep[i], pool[p]), "merge delta");
                m_merge(&mr[i], &mpool[p]);
                tu_must(crdt_ormap_merge(rep[i], pool[j]), "merge delta");
                m_merge(&mr[i], &mpool[j]);
            }
        for (round = 0; round < 4; round++)
            for (i = 0; i < nr; i++)
                for (j = 0; j < nr; j++) {
                    tu_must(crdt_ormap_merge(rep[i], rep[j]), "merge state");
                    m_merge(&mr[i], &mr[j]);
                }
        for (i = 0; i < nr; i++) {
            check_rep(rep[i], &mr[i]);
            tu_expect(crdt_ormap_equal(rep[i], rep[0]), "converged");
            tu_expect(same_bytes(rep[i], rep[0]), "converged bytes");
        }
        /* present iff some update is not covered by a later op */
        for (k = 0; k < MK; k++) {
            bool live = false;
            char key[2] = {(char)('0' + k), 0};

            for (a = 0; a < MR; a++)
                live |= (upd[k][a] & ~cov[k][a]) != 0;
            tu_expect(crdt_ormap_contains(rep[0], key, 1) == live,
                   "presence = some update not covered");
            /* a present key's counter is the join of every increment ever
             * made to it, removes notwithstanding */
            if (live) {
                const void *v;

                tu_must(crdt_ormap_get(rep[0], key, 1, NULL, &v), "get");
                for (a = 0; a < MR; a++)
                    tu_expect(crdt_gcounter_get(v, (crdt_actor)a + 1) ==
                               incs[k][a],
                           "counter = all increments to the key");
            }
        }
        for (i = 0; i < nr; i++)
            crdt_ormap_free(rep[i]);
        for (i = 0; i < npool; i++)
            crdt_ormap_free(pool[i]);
    }
}
END_TEST

/* ------------------------------------------------- replicas, every type */

/* Replicas update keys of every type, remove keys, and exchange deltas,
 * delta groups and states; a reference model predicts each replica's
 * state after every step from the set of operations that reached it.
 *
 * The model.  Operations get one bit each (XOPS at most), and every
 * state, delta and delta group is paired with the set R of operations
 * whose effects it holds: an operation adds its bit at its replica, a
 * merge unites the sets (a delta carries just its operation, a group its
 * operations).  Each dot store of the map is a "slot": a key's presence,
 * an element of an or-set, the siblings of the mv register, the dots of
 * a flag, an inner key's presence and its value's slots.  An operation
 * either adds to a slot (a new dot, superseding the dots it observed:
 * update of a key, orset add, mvreg write, ewflag enable, dwflag
 * disable) or kills the slot's observed dots (key remove, orset remove
 * and clear, mvreg clear, ewflag disable, dwflag enable), and it covers
 * what was live in the slot at its replica when it ran.  Then the live
 * adds of slot s in a state with set R are the adds in R that no
 * operation in R covers: the dot-store join, with "observed" read off
 * the history rather than a context.  Values are never reset (the
 * header): a value is the join of every value mutation in R to its key,
 * removes of the key notwithstanding, so the slots of a value ignore key
 * removes; a counter's count per actor is the largest running total
 * among that actor's operations in R (each delta carries the total); an
 * lww register holds the greatest write in R; a g-set every element
 * added in R.  After convergence R is every operation: a key is present
 * iff some update of it is covered by no remove or later update, an
 * orset value holds exactly the elements with an add covered by no orset
 * remove or clear of that key, whatever the key removes, a pncounter
 * value is the sum of every increment minus every decrement. */

#define XR 5     /* replicas at most: replica i is actor i + 1 */
#define XOPS 64  /* operations per run at most: a bit each */
#define XPOOL 160

enum { XK_ORSET, XK_MVREG, XK_EWFLAG, XK_PN, XK_MAP, XK_DWFLAG, XK_GSET,
       XK_LWW, XK_GC, XK_COUNT };
static const char *const xkeys[XK_COUNT] = {"o", "m", "e", "p", "n",
                                            "d", "s", "l", "g"};
static const int xk_vt[XK_COUNT] = {VT_ORSET,  VT_MVREG, VT_EWFLAG,
                                    VT_PNCOUNTER, VT_ORMAP, VT_DWFLAG,
                                    VT_GSET,   VT_LWW,   VT_GCOUNTER};
/* the keys of the map under "n" */
enum { XI_ORSET, XI_PN, XI_EWFLAG, XI_COUNT };
static const char *const xikeys[XI_COUNT] = {"o", "p", "e"};
static const int xi_vt[XI_COUNT] = {VT_ORSET, VT_PNCOUNTER, VT_EWFLAG};

enum {
    SL_KEY = 0,                   /* + top key: its presence */
    SL_OSET = SL_KEY + XK_COUNT,  /* + element: o's */
    SL_MV = SL_OSET + 3,          /* m's siblings */
    SL_EW,                        /* e's enables */
    SL_DW,                        /* d's disables */
    SL_IKEY,                      /* + inner key: its presence in n */
    SL_IOSET = SL_IKEY + XI_COUNT, /* + element: n.o's */
    SL_IEW = SL_IOSET + 3,        /* n.e's enables */
    SL_COUNT
};

/* counters, and value dots the model names (dot counters per actor) */
enum { XC_PN, XC_GC, XC_IPN, XC_COUNT };
enum { XD_OSET, XD_MV, XD_IOSET, XD_COUNT };

typedef struct xop {
    int rep;       /* its replica */
    int key;       /* XK_* */
    bool rm;       /* a key remove; else an update with v[0] */
    vop v[2];      /* the value mutation; v[1]: n's inner one */
    int ikey;      /* XI_* of n's inner mutation or remove, else -1 */
    int ctr;       /* XC_* of a counter mutation, else -1 */
    bool neg;      /* a decrement */
    uint64_t by;   /* its amount */
    uint64_t cum;  /* the actor's total of that counter half after it */
    uint64_t vctr; /* orset add or mvreg write: its dot's counter */
    int elem;      /* orset, gset: the element, 0..2 */
    bool eff;      /* lww: the write took effect at its replica (else
                    * lww_set was a no-op and its delta holds no write) */
    char val[12];  /* mvreg, lww: the value written, unique per run */
} xop;

typedef struct xmodel {
    int nops;
    xop op[XOPS];
    uint64_t adds[SL_COUNT];           /* operations adding to a slot */
    uint64_t cov[XOPS][SL_COUNT];      /* what each one covered */
    uint64_t tot[XR][XC_COUNT][2];     /* running counter totals */
    uint64_t vdots[XR][XD_COUNT];      /* value dots made per actor */
} xmodel;

static int popcount64(uint64_t v)
{
    int n = 0;

    for (; v; v &= v - 1)
        n++;
    return n;
}

/* The live adds of slot s in a state holding the operations R. */
static uint64_t xlive(const xmodel *md, int s, uint64_t R)
{
    uint64_t killed = 0;
    int o;

    for (o = 0; o < md->nops; o++)
        if (R >> o & 1)
            killed |= md->cov[o][s];
    return md->adds[s] & R & ~killed;
}

/* Operation o (at a replica holding R) adds to slot s or kills it. */
static void xev(xmodel *md, int o, int s, uint64_t R, bool add)
{
    md->cov[o][s] = xlive(md, s, R);
    if (add)
        md->adds[s] |= (uint64_t)1 << o;
}

/* Orders lww writes o and p (> 0: o is later): timestamp, actor, then
 * value bytes (the values are decimal strings, none a prefix of another
 * with a larger byte after it, so strcmp is memcmp-then-length). */
static int x_lww_cmp(const xmodel *md, int o, int p)
{
    const xop *a = &md->op[o], *b = &md->op[p];

    if (a->v[0].n != b->v[0].n)
        return a->v[0].n > b->v[0].n ? 1 : -1;
    if (a->rep != b->rep)
        return a->rep > b->rep ? 1 : -1;
    return strcmp(a->val, b->val);
}

/* The lww write a state holding R holds: the greatest effective write in
 * R (the register joins the deltas of those), or -1. */
static int x_lww_best(const xmodel *md, uint64_t R)
{
    int o, best = -1;

    for (o = 0; o < md->nops; o++)
        if ((R >> o & 1) && md->op[o].key == XK_LWW && md->op[o].eff &&
            (best < 0 || x_lww_cmp(md, o, best) > 0))
            best = o;
    return best;
}

static void x_orset(tu_rng *rng, xmodel *md, int o, int slot0, int xd,
                    uint64_t R, vop *v)
{
    xop *op = &md->op[o];
    int w = (int)tu_below(rng, 8), e;

    op->elem = (int)tu_below(rng, 3);
    *v = mkop(VT_ORSET, VO_ADD, (crdt_actor)op->rep + 1, 0,
              pelems[op->elem]);
    if (w < 5) {
        xev(md, o, slot0 + op->elem, R, true);
        op->vctr = ++md->vdots[op->rep][xd];
    } else if (w < 7) {
        v->kind = VO_RM;
        xev(md, o, slot0 + op->elem, R, false);
    } else {
        v->kind = VO_CLEAR;
        for (e = 0; e < 3; e++)
            xev(md, o, slot0 + e, R, false);
    }
}

static void x_counter(tu_rng *rng, xmodel *md, int o, int ctr, bool pn,
                      vop *v)
{
    xop *op = &md->op[o];

    op->ctr = ctr;
    op->neg = pn && tu_below(rng, 2);
    op->by = 1 + tu_below(rng, 5);
    *v = mkop(pn ? VT_PNCOUNTER : VT_GCOUNTER, op->neg ? VO_DEC : VO_INC,
              (crdt_actor)op->rep + 1, op->by, NULL);
    op->cum = md->tot[op->rep][ctr][op->neg] += op->by;
}

static void x_ewflag(tu_rng *rng, xmodel *md, int o, int slot, uint64_t R,
                     vop *v)
{
    bool en = tu_below(rng, 2);

    *v = mkop(VT_EWFLAG, en ? VO_ENABLE : VO_DISABLE,
              (crdt_actor)md->op[o].rep + 1, 0, NULL);
    xev(md, o, slot, R, en);
}

/* A random operation by replica x (holding R) on one of the keys in
 * active: recorded in the model, returned for the caller to run. */
static xop *x_random_op(tu_rng *rng, xmodel *md, int x, uint64_t R,
                        const int *active, int nactive)
{
    int o = md->nops++;
    xop *op = &md->op[o];
    crdt_actor actor = (crdt_actor)x + 1;
    bool b;

    memset(op, 0, sizeof *op);
    op->rep = x;
    op->key = active[tu_below(rng, (uint64_t)nactive)];
    op->ikey = -1;
    op->ctr = -1;
    snprintf(op->val, sizeof op->val, "%d", o);
    if (tu_below(rng, 4) == 0) {
        op->rm = true;
        xev(md, o, SL_KEY + op->key, R, false);
        return op;
    }
    xev(md, o, SL_KEY + op->key, R, true);
    switch (op->key) {
    case XK_ORSET:
        x_orset(rng, md, o, SL_OSET, XD_OSET, R, &op->v[0]);
        break;
    case XK_MVREG:
        b = tu_below(rng, 4) != 0;
        op->v[0] = mkop(VT_MVREG, b ? VO_WRITE : VO_CLEAR, actor, 0, op->val);
        xev(md, o, SL_MV, R, b);
        if (b)
            op->vctr = ++md->vdots[x][XD_MV];
        break;
    case XK_EWFLAG:
        x_ewflag(rng, md, o, SL_EW, R, &op->v[0]);
        break;
    case XK_DWFLAG:
        b = tu_below(rng, 2) != 0; /* disable: a new dot */
        op->v[0] = mkop(VT_DWFLAG, b ? VO_DISABLE : VO_ENABLE, actor, 0, NULL);
        xev(md, o, SL_DW, R, b);
        break;
    case XK_PN:
        x_counter(rng, md, o, XC_PN, true, &op->v[0]);
        break;
    case XK_GC:
        x_counter(rng, md, o, XC_GC, false, &op->v[0]);
        break;
    case XK_GSET:
        op->elem = (int)tu_below(rng, 3);
        op->v[0] = mkop(VT_GSET, VO_ADD, actor, 0, pelems[op->elem]);
        break;
    case XK_LWW: {
        int was = x_lww_best(md, R);

        op->v[0] = mkop(VT_LWW, VO_SET, actor, 1 + tu_below(rng, 6), op->val);
        op->eff = was < 0 || x_lww_cmp(md, o, was) > 0;
        break;
    }
    case XK_MAP:
        op->ikey = (int)tu_below(rng, XI_COUNT);
        op->v[0] = mkop(VT_ORMAP, VO_NESTED, actor, 0, NULL);
        op->v[0].ikey = xikeys[op->ikey];
        if (tu_below(rng, 4) == 0) { /* inner remove */
            xev(md, o, SL_IKEY + op->ikey, R, false);
            break;
        }
        xev(md, o, SL_IKEY + op->ikey, R, true);
        op->v[0].inner = &op->v[1];
        if (op->ikey == XI_ORSET)
            x_orset(rng, md, o, SL_IOSET, XD_IOSET, R, &op->v[1]);
        else if (op->ikey == XI_PN)
            x_counter(rng, md, o, XC_IPN, true, &op->v[1]);
        else
            x_ewflag(rng, md, o, SL_IEW, R, &op->v[1]);
        break;
    }
    return op;
}

/* ----- checks of a state against the model */

/* An or-set value: members, and each member's dots exactly those of its
 * live adds, (actor, the actor's n-th add to that set). */
static void x_check_orset(const xmodel *md, const void *s, int slot0,
                          uint64_t R)
{
    uint64_t live[3];
    size_t n = 0, i, k, nd, len;
    const uint8_t *p;
    crdt_dot d;
    int e, o;

    for (e = 0; e < 3; e++) {
        live[e] = xlive(md, slot0 + e, R);
        tu_expect(crdt_orset_contains(s, pelems[e], 1) == (live[e] != 0),
                  "orset: members as in the model");
        n += live[e] != 0;
    }
    TU_CHECK_EQ(crdt_orset_size(s), n);
    for (i = 0; i < n; i++) {
        tu_must(crdt_orset_elem(s, i, &p, &len, &nd), "orset elem");
        tu_expect(len == 1 && p[0] >= 'x' && p[0] <= 'z', "orset element");
        e = p[0] - 'x';
        TU_CHECK_EQ(nd, popcount64(live[e]));
        for (k = 0; k < nd; k++) {
            bool found = false;

            tu_must(crdt_orset_elem_dot(s, i, k, &d), "orset dot");
            for (o = 0; o < md->nops; o++)
                found |= (live[e] >> o & 1) &&
                         d.actor == (crdt_actor)md->op[o].rep + 1 &&
                         d.counter == md->op[o].vctr;
            tu_expect(found, "orset: each dot is a live add's");
        }
    }
}

/* A counter half per actor: the largest total in R. */
static uint64_t x_count(const xmodel *md, int ctr, bool neg, int rep,
                        uint64_t R)
{
    uint64_t c = 0;
    int o;

    for (o = 0; o < md->nops; o++) {
        const xop *op = &md->op[o];

        if ((R >> o & 1) && op->ctr == ctr && op->neg == neg &&
            op->rep == rep && op->cum > c)
            c = op->cum;
    }
    return c;
}

static void x_check_pn(const xmodel *md, const void *v, int ctr, uint64_t R)
{
    uint64_t p, n;
    int a;

    for (a = 0; a < XR; a++) {
        crdt_pncounter_get(v, (crdt_actor)a + 1, &p, &n);
        TU_CHECK_EQ(p, x_count(md, ctr, false, a, R));
        TU_CHECK_EQ(n, x_count(md, ctr, true, a, R));
    }
}

static void x_check_value(const xmodel *md, int key, const void *v,
                          uint64_t R, bool reveal);

/* m against the model with R; reveal: every key was re-added by a no-op
 * update, exposing the retained values. */
static void x_check(const xmodel *md, const crdt_ormap *m, uint64_t R,
                    bool reveal)
{
    size_t present = 0;
    int k;

    for (k = 0; k < XK_COUNT; k++) {
        bool live = reveal || xlive(md, SL_KEY + k, R) != 0;
        const crdt_type *t;
        const void *v;

        tu_expect(crdt_ormap_contains(m, xkeys[k], 1) == live,
                  "key present iff an update is live");
        if (!live)
            continue;
        present++;
        tu_must(crdt_ormap_get(m, xkeys[k], 1, &t, &v), "get");
        tu_expect(t == vt_type(xk_vt[k]), "value type");
        x_check_value(md, k, v, R, reveal);
    }
    TU_CHECK_EQ(crdt_ormap_size(m), present);
}

static void x_check_value(const xmodel *md, int key, const void *v,
                          uint64_t R, bool reveal)
{
    const uint8_t *p;
    size_t len, i, n;
    uint64_t live;
    crdt_dot d;
    int o, best = -1, e, j;

    switch (key) {
    case XK_ORSET:
        x_check_orset(md, v, SL_OSET, R);
        break;
    case XK_MVREG:
        live = xlive(md, SL_MV, R);
        n = crdt_mvreg_count(v);
        TU_CHECK_EQ(n, popcount64(live));
        for (i = 0; i < n; i++) {
            bool found = false;

            tu_must(crdt_mvreg_get(v, i, &d, &p, &len), "mvreg get");
            for (o = 0; o < md->nops; o++)
                found |= (live >> o & 1) &&
                         d.actor == (crdt_actor)md->op[o].rep + 1 &&
                         d.counter == md->op[o].vctr &&
                         len == strlen(md->op[o].val) &&
                         memcmp(p, md->op[o].val, len) == 0;
            tu_expect(found, "mvreg: siblings are the live writes");
        }
        break;
    case XK_EWFLAG:
        tu_expect(crdt_ewflag_value(v) == (xlive(md, SL_EW, R) != 0),
                  "ewflag: enabled iff an enable is live");
        break;
    case XK_DWFLAG:
        tu_expect(crdt_dwflag_value(v) == (xlive(md, SL_DW, R) == 0),
                  "dwflag: enabled iff no disable is live");
        break;
    case XK_PN:
        x_check_pn(md, v, XC_PN, R);
        break;
    case XK_GC:
        for (j = 0; j < XR; j++)
            TU_CHECK_EQ(crdt_gcounter_get(v, (crdt_actor)j + 1),
                        x_count(md, XC_GC, false, j, R));
        break;
    case XK_GSET:
        n = 0;
        for (e = 0; e < 3; e++) {
            bool in = false;

            for (o = 0; o < md->nops; o++)
                in |= (R >> o & 1) && md->op[o].key == XK_GSET &&
                      !md->op[o].rm && md->op[o].elem == e;
            tu_expect(crdt_gset_contains(v, pelems[e], 1) == in,
                      "gset: every element added");
            n += in;
        }
        TU_CHECK_EQ(crdt_gset_size(v), n);
        break;
    case XK_LWW:
        best = x_lww_best(md, R);
        tu_expect(crdt_lww_has_value(v) == (best >= 0), "lww: written");
        if (best >= 0) {
            tu_must(crdt_lww_value(v, &p, &len), "lww value");
            tu_expect(len == strlen(md->op[best].val) &&
                          memcmp(p, md->op[best].val, len) == 0,
                      "lww: the greatest write's value");
            TU_CHECK_EQ(crdt_lww_timestamp(v), md->op[best].v[0].n);
            TU_CHECK_EQ(crdt_lww_actor(v), md->op[best].rep + 1);
        }
        break;
    case XK_MAP:
        n = 0;
        for (j = 0; j < XI_COUNT; j++) {
            bool ilive = reveal || xlive(md, SL_IKEY + j, R) != 0;
            const crdt_type *t;
            const void *iv;

            tu_expect(crdt_ormap_contains(v, xikeys[j], 1) == ilive,
                      "inner key present iff an inner update is live");
            if (!ilive)
                continue;
            n++;
            tu_must(crdt_ormap_get(v, xikeys[j], 1, &t, &iv), "inner get");
            tu_expect(t == vt_type(xi_vt[j]), "inner value type");
            if (j == XI_ORSET)
                x_check_orset(md, iv, SL_IOSET, R);
            else if (j == XI_PN)
                x_check_pn(md, iv, XC_IPN, R);
            else
                tu_expect(crdt_ewflag_value(iv) ==
                              (xlive(md, SL_IEW, R) != 0),
                          "inner ewflag: enabled iff an enable is live");
        }
        TU_CHECK_EQ(crdt_ormap_size(v), n);
        break;
    }
}

/* The converged state (every operation merged), stated directly from
 * the history, then its retained values revealed by no-op updates. */
static void x_check_converged(const xmodel *md, const crdt_ormap *m,
                              long *survived)
{
    uint64_t all = md->nops == 64 ? ~(uint64_t)0
                                  : ((uint64_t)1 << md->nops) - 1;
    crdt_ormap *r = crdt_ormap_clone(m);
    int64_t want = 0, got;
    int k, j, u, o;

    for (k = 0; k < XK_COUNT; k++) {
        bool present = false, removed = false;

        /* present iff some update is covered by no other operation on
         * the key (a remove, or an update that superseded it) */
        for (u = 0; u < md->nops; u++) {
            bool covered = false;

            removed |= md->op[u].key == k && md->op[u].rm;
            if (md->op[u].key != k || md->op[u].rm)
                continue;
            for (o = 0; o < md->nops; o++)
                covered |= (md->cov[o][SL_KEY + k] >> u & 1) != 0;
            present |= !covered;
        }
        tu_expect(crdt_ormap_contains(m, xkeys[k], 1) == present,
                  "converged: present iff an update is not covered");
        *survived += present && removed;
    }
    /* reveal: a no-op update of every key (and inner key) shows its
     * retained value, which must be the join of all its mutations */
    for (k = 0; k < XK_COUNT; k++) {
        vop op = mkop(xk_vt[k], VO_NOOP, 99, 0, NULL), in;

        if (k != XK_MAP) {
            tu_must(vop_apply(r, xkeys[k], &op, NULL), "reveal");
            continue;
        }
        for (j = 0; j < XI_COUNT; j++) {
            in = mkop(xi_vt[j], VO_NOOP, 99, 0, NULL);
            op.kind = VO_NESTED;
            op.ikey = xikeys[j];
            op.inner = &in;
            tu_must(vop_apply(r, xkeys[k], &op, NULL), "reveal inner");
        }
    }
    x_check(md, r, all, true);
    {
        const void *v;

        tu_must(crdt_ormap_get(r, "p", 1, NULL, &v), "get p");
        for (o = 0; o < md->nops; o++)
            if (md->op[o].ctr == XC_PN)
                want += md->op[o].neg ? -(int64_t)md->op[o].by
                                      : (int64_t)md->op[o].by;
        tu_must(crdt_pncounter_value(v, &got), "pn value");
        tu_expect(got == want, "pncounter: the sum of every change");
    }
    crdt_ormap_free(r);
}

START_TEST(test_ormap_replicas_all_types)
{
    tu_rng rng;
    long runs = tu_cases(10000) / 10, run, survived = 0, nops = 0;
    long ndelta = 0, ngroup = 0, nstate = 0;
    xmodel *md = malloc(sizeof *md);

    ck_assert_ptr_nonnull(md);
    tu_rng_init(&rng, tu_seed("ormap") ^ 0x3);
    for (run = 0; run < runs; run++) {
        int nr = 3 + (int)tu_below(&rng, 3), i, j, step, npool = 0;
        int active[XK_COUNT], nactive = 0, perm[XPOOL];
        crdt_ormap *rep[XR], *grp[XR], *pool[XPOOL];
        uint64_t R[XR], RG[XR], PR[XPOOL], all;

        memset(md, 0, sizeof *md);
        /* 3-5 keys, so that operations meet on them */
        for (i = 0; i < XK_COUNT; i++)
            active[i] = i;
        for (i = 0; i < XK_COUNT; i++) {
            int t = active[i], r = i + (int)tu_below(&rng,
                                                     (uint64_t)(XK_COUNT - i));

            active[i] = active[r];
            active[r] = t;
        }
        nactive = 3 + (int)tu_below(&rng, 3);
        for (i = 0; i < nr; i++) {
            rep[i] = crdt_ormap_new(NULL, NULL);
            grp[i] = crdt_ormap_new(NULL, NULL);
            R[i] = RG[i] = 0;
        }
        for (step = 0; step < 160 && npool < XPOOL; step++) {
            int x = (int)tu_below(&rng, (uint64_t)nr);
            int w = (int)tu_below(&rng, 10);

            if (w < 4 && md->nops < XOPS) {
                /* an operation; its delta goes to the pool and to x's
                 * delta group */
                uint64_t bit = (uint64_t)1 << md->nops;
                xop *op = x_random_op(&rng, md, x, R[x], active, nactive);
                crdt_ormap *d = crdt_ormap_new(NULL, NULL);

                if (op->rm)
                    tu_must(crdt_ormap_remove(rep[x], xkeys[op->key], 1, d),
                            "remove");
                else
                    tu_must(vop_apply(rep[x], xkeys[op->key], &op->v[0], d),
                            "update");
                R[x] |= bit;
                pool[npool] = d;
                PR[npool++] = bit;
                tu_must(crdt_ormap_merge(grp[x], d), "group");
                RG[x] |= bit;
            } else if (w == 4) {
                /* x ships its delta group */
                if (!RG[x])
                    continue;
                pool[npool] = grp[x];
                PR[npool++] = RG[x];
                grp[x] = crdt_ormap_new(NULL, NULL);
                RG[x] = 0;
            } else if (w < 8 && npool) {
                /* a delta or group from the pool, maybe again */
                int p = (int)tu_below(&rng, (uint64_t)npool);

                tu_must(crdt_ormap_merge(rep[x], pool[p]), "merge delta");
                R[x] |= PR[p];
                ndelta++;
            } else {
                int y = (int)tu_below(&rng, (uint64_t)nr);

                tu_must(crdt_ormap_merge(rep[x], rep[y]), "merge state");
                R[x] |= R[y];
                nstate++;
            }
            x_check(md, rep[x], R[x], false);
        }
        nops += md->nops;
        all = md->nops == 64 ? ~(uint64_t)0 : ((uint64_t)1 << md->nops) - 1;
        /* every replica gets the whole pool (each operation's own delta
         * is there) in a random order, with duplicates: deltas alone
         * converge */
        for (i = 0; i < nr; i++) {
            for (j = 0; j < npool; j++)
                perm[j] = j;
            for (j = 0; j < npool; j++) {
                int r = j + (int)tu_below(&rng, (uint64_t)(npool - j));
                int t = perm[j];

                perm[j] = perm[r];
                perm[r] = t;
                tu_must(crdt_ormap_merge(rep[i], pool[perm[j]]),
                        "merge delta");
                R[i] |= PR[perm[j]];
                if (tu_below(&rng, 4) == 0) {
                    int p = (int)tu_below(&rng, (uint64_t)npool);

                    tu_must(crdt_ormap_merge(rep[i], pool[p]), "again");
                    R[i] |= PR[p];
                }
            }
            ngroup += npool;
            TU_CHECK_EQ(R[i], all);
            x_check(md, rep[i], all, false);
        }
        for (i = 0; i < nr; i++) {
            tu_expect(crdt_ormap_equal(rep[i], rep[0]), "converged");
            tu_expect(same_bytes(rep[i], rep[0]), "converged bytes");
        }
        /* full states on top change nothing */
        for (j = 0; j < 2 * nr; j++) {
            int x = (int)tu_below(&rng, (uint64_t)nr);
            int y = (int)tu_below(&rng, (uint64_t)nr);

            tu_must(crdt_ormap_merge(rep[x], rep[y]), "merge state");
            tu_expect(crdt_ormap_equal(rep[x], rep[0]), "still converged");
        }
        x_check_converged(md, rep[0], &survived);
        for (i = 0; i < nr; i++) {
            crdt_ormap_free(rep[i]);
            crdt_ormap_free(grp[i]);
        }
        for (i = 0; i < npool; i++)
            crdt_ormap_free(pool[i]);
    }
    free(md);
    fprintf(stderr,
            "ormap: %ld replica runs, %ld operations, %ld pool merges "
            "(+%ld at the end), %ld state merges, %ld keys present after "
            "a remove\n",
            runs, nops, ndelta, ngroup, nstate, survived);
}
END_TEST

/* ---------------------------------------------------------------- nomem */

enum {
    OP_UPDATE_NEW,
    OP_UPDATE_OLD,
    OP_UPDATE_NESTED,
    OP_REMOVE,
    OP_MERGE,
    OP_COPY,
    OP_CLONE,
    OP_ENCODE,
    OP_DECODE,
    OP_COUNT
};

/* The states every run of test_ormap_nomem_all starts from. */
typedef struct nomem_fixture {
    crdt_ormap *base;  /* counters, an LWW, a nested map */
    crdt_ormap *other; /* base with a key removed, others updated, added */
    crdt_buf enc;      /* base encoded */
} nomem_fixture;

static void nomem_setup(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;

    c->a = crdt_ormap_new(NULL, &c->tm->mem);
    c->d = crdt_ormap_new(NULL, &c->tm->mem);
    ck_assert_int_eq(crdt_ormap_decode(c->a, f->enc.data, f->enc.len, NULL,
                                       NULL),
                     CRDT_OK);
    tu_must(inc(c->d, 3, "k0", 1, NULL), "delta");
}

static int nomem_call(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;
    crdt_ormap *a = c->a, *d = c->d;

    switch (c->op) {
    case OP_UPDATE_NEW:
        return inc(a, 1, "fresh", 1, d);
    case OP_UPDATE_OLD:
        return inc(a, 1, "k3", 1, d);
    case OP_UPDATE_NESTED:
        return nest_inc(a, 1, "nest", "deep", 1, d);
    case OP_REMOVE:
        return crdt_ormap_remove(a, "k4", 2, d);
    case OP_MERGE:
        return crdt_ormap_merge(a, f->other);
    case OP_COPY:
        return crdt_ormap_copy(d, a);
    case OP_CLONE:
        return tu_nomem_made(c, crdt_ormap_clone(a));
    case OP_ENCODE:
        return crdt_ormap_encode(a, &c->out);
    case OP_DECODE:
        return crdt_ormap_decode(d, f->enc.data, f->enc.len, NULL, NULL);
    }
    return CRDT_ERR_INVALID_ARG;
}

static void nomem_failed(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;

    ck_assert(crdt_ormap_equal(c->a, f->base));
}

static void nomem_succeeded(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;

    if (c->op == OP_MERGE) {
        crdt_ormap *want = merged(f->base, f->other);

        ck_assert(crdt_ormap_equal(c->a, want));
        crdt_ormap_free(want);
    } else if (c->op == OP_COPY || c->op == OP_DECODE) {
        ck_assert(crdt_ormap_equal(c->d, f->base));
    }
}

START_TEST(test_ormap_nomem_all)
{
    nomem_fixture f;
    const tu_nomem_ops ops = {
        .type = crdt_ormap_type(),
        .nops = OP_COUNT,
        .fixture = &f,
        .setup = nomem_setup,
        .call = nomem_call,
        .failed = nomem_failed,
        .succeeded = nomem_succeeded,
    };
    int i;

    f.base = crdt_ormap_new(NULL, NULL);
    for (i = 0; i < 6; i++) {
        char k[3] = {'k', (char)('0' + i), 0};

        tu_must(inc(f.base, 1, k, 1 + (uint64_t)i, NULL), "inc");
    }
    tu_must(set_lww(f.base, 1, "lww", 5, "a value longer than sixteen",
                    NULL),
            "lww");
    tu_must(nest_inc(f.base, 1, "nest", "in", 3, NULL), "nest");
    f.other = crdt_ormap_clone(f.base);
    tu_must(crdt_ormap_remove(f.other, "k1", 2, NULL), "remove");
    tu_must(inc(f.other, 2, "k2", 9, NULL), "inc");
    tu_must(inc(f.other, 2, "new", 9, NULL), "inc");
    tu_must(nest_inc(f.other, 2, "nest", "in2", 3, NULL), "nest");
    encode(f.base, &f.enc);
    tu_nomem_run(&ops);
    crdt_buf_clear(&f.enc);
    crdt_ormap_free(f.base);
    crdt_ormap_free(f.other);
}
END_TEST

static Suite *ormap_suite(void)
{
    Suite *s = suite_create("ormap");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_ormap_basic_update);
    tcase_add_test(tc, test_ormap_basic_remove_concurrent);
    tcase_add_test(tc, test_ormap_basic_nested);
    tcase_add_test(tc, test_ormap_basic_depth);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_ormap_codec_bytes);
    tcase_add_test(tc, test_ormap_codec_removed);
    tcase_add_test(tc, test_ormap_codec_builtins);
    tcase_add_test(tc, test_ormap_codec_reject);
    tcase_add_test(tc, test_ormap_codec_depth);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_loop_test(tc, test_ormap_merge_add_wins, 0, N_AW);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_ormap_property_laws);
    tcase_add_test(tc, test_ormap_replicas_converge);
    tcase_add_test(tc, test_ormap_replicas_all_types);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ormap_nomem_all);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ormap_suite());
    int failed;

    tu_seed("ormap"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
