/* SPDX-License-Identifier: MIT */
/*
 * OR-map suite, on the causal map of crdt/ormap.h (values share the
 * map's context): update in place (counters, LWW), observed remove
 * against concurrent updates (a plain value keeps the updating actor's
 * whole slot, a causal value only the updater's new dots), remove resets
 * (a re-added key starts empty, may take another type), no tombstones,
 * nested maps, type mismatch; the codec (bytes of the header's examples,
 * slots, causal values and hidden entries, hostile input, depth limits);
 * add-wins against a concurrent key remove for every value type; the
 * map's invariants (typetab's hook) on the states the tests make;
 * properties on maps of every value type, nested maps up to depth 3
 * included (join laws and delta = mutation on every case, removes,
 * re-adds and type conflicts included; round trip, canonical bytes,
 * remove resets, nothing left after removing every key); randomized
 * replica tests against reference models, one over counters (per-actor
 * slots), one over every value type with deltas, delta groups and states
 * exchanged (causal values restricted to the dots no remove observed,
 * plain values per-actor slots); merges of small sources into maps of
 * 20-40 keys (the path through the dot index) against the full pass on a
 * copy, state, bytes and iteration; one dot with two payloads (replicas
 * reusing actor ids: a dot under two keys, two types, a key and a value,
 * two MV-register or slot values, nested), targeted and as properties
 * against a per-dot model read off the encodings, on both merge paths;
 * one-slot deltas, removes and re-adds of up to 70 writers into one key
 * of counter slots (the gossip engine's workload) against a model, the
 * full pass and the value recomputed from the slots;
 * allocation-failure injection, the small merge, an update of a map with
 * a dot index, merges of such conflicting states, and merges that edit
 * a key's slots and update or recompute its value included (the lent
 * values compared too).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crdt/dotctx.h>
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
#include "typetab.h"

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

/* The invariants of crdt/ormap.h (typetab's hook, which reads them off
 * the encoding): every dot in the context, no dot in two places, causal
 * values' context exactly their dots, a plain entry one value per dot,
 * no tombstones. */
static void check_invariants(const crdt_ormap *m)
{
    const char *why = tt_find("ormap")->invalid(m);

    if (why)
        ck_abort_msg("ormap invariant broken: %s", why);
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
    /* a removed key may come back with another type, which it keeps */
    ck_assert_int_eq(crdt_ormap_remove(m, "b", 1, d), CRDT_OK);
    ck_assert_int_eq(set_lww(m, 1, "b", 1, "x", d), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_get(m, "b", 1, &t, &v), CRDT_OK);
    ck_assert_ptr_eq(t, crdt_lww_type());
    ck_assert_int_eq(inc(m, 1, "b", 1, d), CRDT_ERR_TYPE);
    ck_assert_int_eq(crdt_ormap_get(d, "b", 1, &t, &v), CRDT_OK);
    ck_assert_ptr_eq(t, crdt_lww_type());
    check_invariants(m);
    check_invariants(d);
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
    const void *v;

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
    check_invariants(x);
    /* the update wins with what it brought: actor 2's slot (10); actor
     * 1's slot, which the remove saw, is gone */
    ck_assert_uint_eq(count(x, "k"), 10);
    ck_assert_int_eq(crdt_ormap_get(x, "k", 1, NULL, &v), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_get(v, 1), 0);
    ck_assert_uint_eq(crdt_gcounter_get(v, 2), 10);
    ck_assert(!crdt_ormap_contains(x, "j", 1));
    /* deltas give the same */
    crdt_ormap_free(y);
    y = crdt_ormap_clone(b);
    ck_assert_int_eq(crdt_ormap_merge(y, da), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_merge(a, db), CRDT_OK);
    ck_assert(crdt_ormap_equal(a, x));
    ck_assert(crdt_ormap_equal(y, x));
    /* remove: gone */
    ck_assert_int_eq(crdt_ormap_remove(a, "k", 1, da), CRDT_OK);
    ck_assert(!crdt_ormap_contains(a, "k", 1));
    ck_assert_int_eq(crdt_ormap_get(a, "k", 1, NULL, NULL), CRDT_ERR_NOT_FOUND);
    ck_assert_uint_eq(crdt_ormap_size(a), 0);
    ck_assert_int_eq(crdt_ormap_entry(a, 0, NULL, NULL, NULL, NULL),
                     CRDT_ERR_NOT_FOUND);
    /* then re-add: starts from 0 (remove resets) */
    ck_assert_int_eq(inc(a, 1, "k", 1, da), CRDT_OK);
    ck_assert_uint_eq(count(a, "k"), 1);
    ck_assert_uint_eq(crdt_ormap_size(a), 1);
    check_invariants(a);
    /* the same on a replica that missed the remove, in either order, and
     * from the deltas alone */
    crdt_ormap_free(y);
    y = merged(x, a);
    ck_assert_uint_eq(count(y, "k"), 1);
    ck_assert(crdt_ormap_equal(y, a));
    crdt_ormap_free(y);
    y = merged(a, x);
    ck_assert(crdt_ormap_equal(y, a));
    crdt_ormap_free(y);
    y = merged(b, da);
    ck_assert(crdt_ormap_equal(y, a));
    ck_assert(same_bytes(y, a));
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

static int os_add_fn(void *v, void *d, void *ud)
{
    const vop *op = ud;

    return crdt_orset_add(v, op->actor, op->s, strlen(op->s), d);
}

static int os_add(crdt_ormap *m, crdt_actor actor, const char *key,
                  const char *elem, crdt_ormap *delta)
{
    vop op = mkop(VT_ORSET, VO_ADD, actor, 0, elem);

    return crdt_ormap_update(m, actor, key, strlen(key), crdt_orset_type(),
                             os_add_fn, &op, delta);
}

/* What survives a concurrent remove: a plain value keeps the updating
 * actor's whole slot (every update of that actor since its slot was last
 * removed), a causal value only the updater's new dots. */
START_TEST(test_ormap_basic_slots)
{
    crdt_ormap *a = crdt_ormap_new(NULL, NULL), *b, *x, *d;
    const void *v;

    /* a counter: actor 2 adds 5, everyone sees it; then adds 7 while a
     * removes the key: the key keeps 12, actor 2's whole count */
    ck_assert_int_eq(inc(a, 2, "k", 5, NULL), CRDT_OK);
    ck_assert_int_eq(inc(a, 1, "k", 100, NULL), CRDT_OK);
    b = crdt_ormap_clone(a);
    ck_assert_int_eq(inc(b, 2, "k", 7, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(a, "k", 1, NULL), CRDT_OK);
    x = merged(a, b);
    check_invariants(x);
    ck_assert_int_eq(crdt_ormap_get(x, "k", 1, NULL, &v), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_get(v, 2), 12);
    ck_assert_uint_eq(crdt_gcounter_get(v, 1), 0);
    ck_assert_uint_eq(count(x, "k"), 12);
    /* the delta of actor 2's second update is its whole slot (12) */
    crdt_ormap_free(x);
    crdt_ormap_free(b);
    crdt_ormap_free(a);
    a = crdt_ormap_new(NULL, NULL);
    d = crdt_ormap_new(NULL, NULL);
    ck_assert_int_eq(inc(a, 2, "k", 5, NULL), CRDT_OK);
    ck_assert_int_eq(inc(a, 2, "k", 7, d), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_get(d, "k", 1, NULL, &v), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_get(v, 2), 12);
    crdt_ormap_free(a);
    crdt_ormap_free(d);
    /* an OR-set {x} (and w, by actor 2) removed while actor 2 adds y:
     * {y} (a causal value keeps only the new dots) */
    a = crdt_ormap_new(NULL, NULL);
    ck_assert_int_eq(os_add(a, 1, "s", "x", NULL), CRDT_OK);
    ck_assert_int_eq(os_add(a, 2, "s", "w", NULL), CRDT_OK);
    b = crdt_ormap_clone(a);
    ck_assert_int_eq(os_add(b, 2, "s", "y", NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(a, "s", 1, NULL), CRDT_OK);
    x = merged(a, b);
    check_invariants(x);
    ck_assert_int_eq(crdt_ormap_get(x, "s", 1, NULL, &v), CRDT_OK);
    ck_assert_uint_eq(crdt_orset_size(v), 1);
    ck_assert(crdt_orset_contains(v, "y", 1));
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(x);
}
END_TEST

/* Removed keys leave nothing but their dots: maps with the same context
 * and present keys are equal whatever their histories. */
START_TEST(test_ormap_basic_no_tombstones)
{
    static const uint8_t ctx_only[] = {0x95, 0x01, 0x0c, 0x81, 0x01,
                                       0x04, 0x90, 0x90};
    crdt_ormap *m1 = crdt_ormap_new(NULL, NULL);
    crdt_ormap *m2 = crdt_ormap_new(NULL, NULL);
    crdt_ormap *m3 = crdt_ormap_new(NULL, NULL), *c;
    crdt_buf e;
    int i;

    for (i = 0; i < 4; i++) /* dots (1, 1..4) on one key */
        ck_assert_int_eq(inc(m1, 1, "k", 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(m1, "k", 1, NULL), CRDT_OK);
    /* four keys, one dot each, removed in another order */
    ck_assert_int_eq(inc(m2, 1, "a", 1, NULL), CRDT_OK);
    ck_assert_int_eq(set_lww(m2, 1, "b", 1, "v", NULL), CRDT_OK);
    ck_assert_int_eq(inc(m2, 1, "c", 1, NULL), CRDT_OK);
    ck_assert_int_eq(inc(m2, 1, "d", 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(m2, "c", 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(m2, "a", 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(m2, "d", 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(m2, "b", 1, NULL), CRDT_OK);
    /* two or-set adds: a value dot and a presence dot each */
    ck_assert_int_eq(os_add(m3, 1, "s", "x", NULL), CRDT_OK);
    ck_assert_int_eq(os_add(m3, 1, "s", "y", NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(m3, "s", 1, NULL), CRDT_OK);
    encode(m1, &e);
    ck_assert_uint_eq(e.len, sizeof ctx_only);
    ck_assert(memcmp(e.data, ctx_only, e.len) == 0);
    crdt_buf_clear(&e);
    ck_assert(crdt_ormap_equal(m1, m2));
    ck_assert(crdt_ormap_equal(m1, m3));
    ck_assert(same_bytes(m1, m2));
    ck_assert(same_bytes(m1, m3));
    c = merged(m2, m3);
    ck_assert(crdt_ormap_equal(c, m1));
    crdt_ormap_free(c);
    crdt_ormap_free(m1);
    crdt_ormap_free(m2);
    crdt_ormap_free(m3);
}
END_TEST

START_TEST(test_ormap_basic_context_contains)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL), *d = crdt_ormap_new(NULL, NULL);
    crdt_dot d11 = {1, 1}, d12 = {1, 2}, d13 = {1, 3}, d21 = {2, 1};

    ck_assert(!crdt_ormap_context_contains(m, d11));
    ck_assert(!crdt_ormap_context_contains(NULL, d11));
    ck_assert_int_eq(inc(m, 1, "a", 1, NULL), CRDT_OK);
    ck_assert_int_eq(inc(m, 1, "b", 1, NULL), CRDT_OK);
    ck_assert(crdt_ormap_context_contains(m, d11));
    ck_assert(crdt_ormap_context_contains(m, d12));
    ck_assert(!crdt_ormap_context_contains(m, d13));
    ck_assert(!crdt_ormap_context_contains(m, d21));
    /* a remove keeps its dots in the context */
    ck_assert_int_eq(crdt_ormap_remove(m, "a", 1, NULL), CRDT_OK);
    ck_assert(crdt_ormap_context_contains(m, d11));
    /* a dot beyond a gap: the cloud */
    ck_assert_int_eq(inc(d, 2, "x", 1, NULL), CRDT_OK);
    ck_assert_int_eq(inc(d, 2, "x", 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_merge(m, d), CRDT_OK);
    ck_assert(crdt_ormap_context_contains(m, d21));
    ck_assert(crdt_ormap_context_contains(m, (crdt_dot){2, 2}));
    ck_assert(!crdt_ormap_context_contains(m, (crdt_dot){2, 3}));
    ck_assert(!crdt_ormap_context_contains(m, (crdt_dot){2, 0}));
    {
        /* the copied context holds exactly the dots the map has seen */
        crdt_dotctx *c = crdt_dotctx_new(NULL);
        crdt_dot probe[] = {{1, 1}, {1, 2}, {1, 3}, {2, 1}, {2, 2},
                            {2, 3}, {3, 1}};
        size_t i;

        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(crdt_dotctx_add(c, (crdt_dot){9, 9}), CRDT_OK);
        ck_assert_int_eq(crdt_ormap_context_copy(m, c), CRDT_OK);
        for (i = 0; i < sizeof probe / sizeof probe[0]; i++)
            ck_assert(crdt_dotctx_contains(c, probe[i]) ==
                      crdt_ormap_context_contains(m, probe[i]));
        ck_assert(!crdt_dotctx_contains(c, (crdt_dot){9, 9}));
        ck_assert_int_eq(crdt_ormap_context_copy(NULL, c),
                         CRDT_ERR_INVALID_ARG);
        ck_assert_int_eq(crdt_ormap_context_copy(m, NULL),
                         CRDT_ERR_INVALID_ARG);
        crdt_dotctx_free(c);
    }
    crdt_ormap_free(m);
    crdt_ormap_free(d);
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
    check_invariants(r);
    /* a removed inner map starts over empty: its inner keys' dots were
     * removed with it */
    ck_assert_int_eq(crdt_ormap_remove(r, "x", 1, NULL), CRDT_OK);
    ck_assert_int_eq(nest_inc(r, 3, "x", "y", 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_get(r, "x", 1, &t, &in), CRDT_OK);
    ck_assert_uint_eq(count(in, "y"), 1);
    ck_assert(!crdt_ormap_contains(in, "z", 1));
    ck_assert_uint_eq(crdt_ormap_size(in), 1);
    check_invariants(r);
    /* and a replica that missed the remove agrees after merging */
    ck_assert_int_eq(crdt_ormap_merge(b, r), CRDT_OK);
    ck_assert(crdt_ormap_equal(b, r));
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

/* The header's example: "a" holding a gcounter {1: 2}, updated once by
 * actor 1: [1, 12, {1: 1}, [], [[h'61', 3, [[1, 1]], [[1, 3, {1: 2}]]]]] */
static const uint8_t example[] = {
    0x95, 0x01, 0x0c, 0x81, 0x01, 0x01, 0x90, 0x91, 0x94, 0xc4, 0x01, 0x61,
    0x03, 0x91, 0x92, 0x01, 0x01, 0x91, 0x93, 0x01, 0x03, 0x81, 0x01, 0x02};

/* The example after removing "a": nothing is left but the dot. */
static const uint8_t removed_example[] = {0x95, 0x01, 0x0c, 0x81,
                                          0x01, 0x01, 0x90, 0x90};

/* Two slots: "a" incremented by actor 1 (2) and actor 2 (3):
 * [1, 12, {1: 1, 2: 1}, [], [[h'61', 3, [[1, 1], [2, 1]],
 *                             [[1, 3, {1: 2}], [1, 3, {2: 3}]]]]] */
static const uint8_t slots_example[] = {
    0x95, 0x01, 0x0c, 0x82, 0x01, 0x01, 0x02, 0x01, 0x90, 0x91, 0x94, 0xc4,
    0x01, 0x61, 0x03, 0x92, 0x92, 0x01, 0x01, 0x92, 0x02, 0x01, 0x92, 0x93,
    0x01, 0x03, 0x81, 0x01, 0x02, 0x93, 0x01, 0x03, 0x81, 0x02, 0x03};

/* A causal value: "s" an or-set to which actor 1 added "x": the add's
 * dot (1, 1) is the map's, drawn before the presence dot (1, 2); the
 * set's own context is its dot:
 * [1, 12, {1: 2}, [], [[h'73', 8, [[1, 2]],
 *                       [[1, 8, {1: 1}, [], [[h'78', [[1, 1]]]]]]]]] */
static const uint8_t causal_example[] = {
    0x95, 0x01, 0x0c, 0x81, 0x01, 0x02, 0x90, 0x91, 0x94, 0xc4, 0x01, 0x73,
    0x08, 0x91, 0x92, 0x01, 0x02, 0x91, 0x95, 0x01, 0x08, 0x81, 0x01, 0x01,
    0x90, 0x91, 0x92, 0xc4, 0x01, 0x78, 0x91, 0x92, 0x01, 0x01};

/* The same or-set value with no presence dot (a remove that saw the
 * key's presence but not the add): hidden, kept, valid. */
static const uint8_t hidden_example[] = {
    0x95, 0x01, 0x0c, 0x81, 0x01, 0x02, 0x90, 0x91, 0x94, 0xc4, 0x01, 0x73,
    0x08, 0x90, 0x91, 0x95, 0x01, 0x08, 0x81, 0x01, 0x01, 0x90, 0x91, 0x92,
    0xc4, 0x01, 0x78, 0x91, 0x92, 0x01, 0x01};

static void expect_bytes(const crdt_ormap *m, const uint8_t *want,
                         size_t len)
{
    crdt_buf e;

    encode(m, &e);
    ck_assert_uint_eq(e.len, len);
    ck_assert(memcmp(e.data, want, len) == 0);
    crdt_buf_clear(&e);
}

START_TEST(test_ormap_codec_removed)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL), *c = crdt_ormap_new(NULL, NULL);

    ck_assert_int_eq(inc(m, 1, "a", 2, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(m, "a", 1, NULL), CRDT_OK);
    expect_bytes(m, removed_example, sizeof removed_example);
    ck_assert_int_eq(crdt_ormap_decode(c, removed_example,
                                       sizeof removed_example, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_ormap_equal(c, m));
    ck_assert_uint_eq(crdt_ormap_size(c), 0);
    ck_assert(!crdt_ormap_contains(c, "a", 1));
    /* a re-add on the decoded copy starts from 0 */
    ck_assert_int_eq(inc(c, 1, "a", 1, NULL), CRDT_OK);
    ck_assert_uint_eq(count(c, "a"), 1);
    /* and may use another type */
    ck_assert_int_eq(crdt_ormap_remove(c, "a", 1, NULL), CRDT_OK);
    ck_assert_int_eq(set_lww(c, 1, "a", 1, "v", NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_get(c, "a", 1, NULL, NULL), CRDT_OK);
    check_invariants(c);
    crdt_ormap_free(m);
    crdt_ormap_free(c);
}
END_TEST

START_TEST(test_ormap_codec_slots)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL), *c = crdt_ormap_new(NULL, NULL);
    const void *v;

    ck_assert_int_eq(inc(m, 1, "a", 2, NULL), CRDT_OK);
    ck_assert_int_eq(inc(m, 2, "a", 3, NULL), CRDT_OK);
    expect_bytes(m, slots_example, sizeof slots_example);
    ck_assert_int_eq(crdt_ormap_decode(c, slots_example,
                                       sizeof slots_example, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_ormap_equal(c, m));
    /* the value is the join of the slots */
    ck_assert_uint_eq(count(c, "a"), 5);
    crdt_ormap_free(m);
    /* causal: the value's dot is the map's */
    m = crdt_ormap_new(NULL, NULL);
    ck_assert_int_eq(os_add(m, 1, "s", "x", NULL), CRDT_OK);
    expect_bytes(m, causal_example, sizeof causal_example);
    ck_assert_int_eq(crdt_ormap_decode(c, causal_example,
                                       sizeof causal_example, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_ormap_equal(c, m));
    ck_assert_int_eq(crdt_ormap_get(c, "s", 1, NULL, &v), CRDT_OK);
    ck_assert(crdt_orset_contains(v, "x", 1));
    /* a hidden entry decodes, is not present, and is what an update of
     * the key continues from */
    ck_assert_int_eq(crdt_ormap_decode(c, hidden_example,
                                       sizeof hidden_example, NULL, NULL),
                     CRDT_OK);
    ck_assert_uint_eq(crdt_ormap_size(c), 0);
    ck_assert(!crdt_ormap_contains(c, "s", 1));
    expect_bytes(c, hidden_example, sizeof hidden_example);
    ck_assert_int_eq(os_add(c, 2, "s", "y", NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_get(c, "s", 1, NULL, &v), CRDT_OK);
    ck_assert_uint_eq(crdt_orset_size(v), 2);
    ck_assert(crdt_orset_contains(v, "x", 1));
    check_invariants(c);
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
    uint8_t in[80];
    size_t i;
    crdt_limits lim;
    /* two entries, ctx {1: 2}: ["b", 3, [[1, 1]], [gc{}]],
     * ["a", 3, [[1, 2]], [gc{}]] (unsorted) */
    const uint8_t two[] = {0x95, 0x01, 0x0c, 0x81, 0x01, 0x02, 0x90, 0x92,
                           0x94, 0xc4, 0x01, 0x62, 0x03, 0x91, 0x92, 0x01,
                           0x01, 0x91, 0x93, 0x01, 0x03, 0x80, 0x94, 0xc4,
                           0x01, 0x61, 0x03, 0x91, 0x92, 0x01, 0x02, 0x91,
                           0x93, 0x01, 0x03, 0x80};
    /* ["a", 3, [], []]: the old tombstone, a plain entry without dots */
    const uint8_t tomb[] = {0x95, 0x01, 0x0c, 0x81, 0x01, 0x01, 0x90,
                            0x91, 0x94, 0xc4, 0x01, 0x61, 0x03, 0x90, 0x90};

    /* every proper prefix */
    for (i = 0; i < sizeof example; i++)
        reject(example, i, NULL, CRDT_ERR_DECODE);
    for (i = 0; i < sizeof causal_example; i++)
        reject(causal_example, i, NULL, CRDT_ERR_DECODE);
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
    in[16] = 0x02;
    reject(in, sizeof example, NULL, CRDT_ERR_DECODE);
    /* a dot under two keys (sorted keys "`" and "a", both [1, 1]),
     * reported in the second entry */
    memcpy(in, two, sizeof two);
    in[11] = 0x60;
    in[30] = 0x01;
    reject(in, sizeof two, NULL, CRDT_ERR_DECODE);
    {
        crdt_ormap *m = crdt_ormap_new(NULL, NULL);
        crdt_decode_info info = {0, 0};

        ck_assert_int_eq(crdt_ormap_decode(m, in, sizeof two, NULL, &info),
                         CRDT_ERR_DECODE);
        ck_assert_uint_ge(info.offset, 22);
        ck_assert_uint_le(info.offset, 30);
        crdt_ormap_free(m);
    }
    /* plain entries: no dots (with or without a value), a value short
     * or one too many */
    reject(tomb, sizeof tomb, NULL, CRDT_ERR_DECODE);
    memcpy(in, tomb, sizeof tomb - 1);
    memcpy(in + sizeof tomb - 1, example + 17, sizeof example - 17);
    reject(in, sizeof tomb - 1 + sizeof example - 17, NULL, CRDT_ERR_DECODE);
    memcpy(in, example, 17);
    in[17] = 0x90;
    reject(in, 18, NULL, CRDT_ERR_DECODE);
    memcpy(in, example, sizeof example);
    in[17] = 0x92;
    memcpy(in + sizeof example, example + 18, sizeof example - 18);
    reject(in, 2 * sizeof example - 18, NULL, CRDT_ERR_DECODE);
    /* a value of another tag than its entry (pncounter {} {}) */
    memcpy(in, example, 18);
    memcpy(in + 18, "\x94\x01\x04\x80\x80", 5);
    reject(in, 23, NULL, CRDT_ERR_DECODE);
    /* causal entries: no dot left anywhere (an empty set, no presence
     * dot), two values, a value whose context is not its dots, a value
     * dot that is also a presence dot, a value dot not in the map's
     * context */
    {
        static const uint8_t empty_set[] = {
            0x95, 0x01, 0x0c, 0x81, 0x01, 0x02, 0x90, 0x91, 0x94, 0xc4,
            0x01, 0x73, 0x08, 0x90, 0x91, 0x95, 0x01, 0x08, 0x80, 0x90,
            0x90};

        reject(empty_set, sizeof empty_set, NULL, CRDT_ERR_DECODE);
    }
    memcpy(in, causal_example, sizeof causal_example);
    in[17] = 0x92;
    memcpy(in + sizeof causal_example, causal_example + 18,
           sizeof causal_example - 18);
    reject(in, 2 * sizeof causal_example - 18, NULL, CRDT_ERR_DECODE);
    memcpy(in, causal_example, sizeof causal_example);
    in[23] = 0x02; /* the set's context {1: 2}, its dot (1, 1) */
    reject(in, sizeof causal_example, NULL, CRDT_ERR_DECODE);
    memcpy(in, causal_example, sizeof causal_example);
    in[33] = 0x02; /* the set's dot (1, 2), its context {1: 1} */
    reject(in, sizeof causal_example, NULL, CRDT_ERR_DECODE);
    memcpy(in, causal_example, sizeof causal_example);
    in[23] = 0x02; /* set {1: 2} holding (1, 2): the presence dot too */
    in[33] = 0x02;
    reject(in, sizeof causal_example, NULL, CRDT_ERR_DECODE);
    memcpy(in, causal_example, sizeof causal_example);
    in[22] = 0x02; /* set {2: 1} holding (2, 1), not in {1: 2} */
    in[32] = 0x02;
    reject(in, sizeof causal_example, NULL, CRDT_ERR_DECODE);
    /* unknown tag 13, in the entry and its value */
    memcpy(in, example, sizeof example);
    in[12] = 0x0d;
    in[20] = 0x0d;
    reject(in, sizeof example, NULL, CRDT_ERR_TYPE);
    /* the nested value's own error, at its offset */
    memcpy(in, example, sizeof example);
    in[23] = 0x00; /* gcounter count 0 */
    reject(in, sizeof example, NULL, CRDT_ERR_DECODE);
    /* an entry of three fields (the old format) */
    memcpy(in, example, sizeof example);
    in[8] = 0x93;
    reject(in, sizeof example, NULL, CRDT_ERR_DECODE);
    /* trailing byte */
    memcpy(in, example, sizeof example);
    in[sizeof example] = 0xc0;
    reject(in, sizeof example + 1, NULL, CRDT_ERR_DECODE);
    /* limits */
    crdt_limits_default(&lim);
    lim.max_elements = 1;
    memcpy(in, two, sizeof two);
    in[11] = 0x60;
    reject(in, sizeof two, &lim, CRDT_ERR_LIMIT);
    crdt_limits_default(&lim);
    lim.max_value_bytes = 0;
    reject(example, sizeof example, &lim, CRDT_ERR_LIMIT);
}
END_TEST

/* levels maps nested under key "" (the innermost holding "" a gcounter
 * slot), each valid: level j of n has context {1: n - j}, its key the dot
 * (1, n - j) and its value level j + 1, whose context is its dots. */
static uint8_t *nested_bytes(size_t levels, size_t *len)
{
    uint8_t *p = malloc(levels * 24 + 16), *q = p;
    size_t j;

    ck_assert_ptr_nonnull(p);
    for (j = 0; j < levels; j++) {
        uint64_t c = (uint64_t)(levels - j);
        uint8_t u[3];
        size_t ul = 1;

        if (c < 0x80) {
            u[0] = (uint8_t)c;
        } else if (c < 0x100) {
            u[0] = 0xcc;
            u[1] = (uint8_t)c;
            ul = 2;
        } else {
            u[0] = 0xcd;
            u[1] = (uint8_t)(c >> 8);
            u[2] = (uint8_t)c;
            ul = 3;
        }
        memcpy(q, "\x95\x01\x0c\x81\x01", 5);
        q += 5;
        memcpy(q, u, ul);
        q += ul;
        memcpy(q, "\x90\x91\x94\xc4\x00", 5);
        q += 5;
        *q++ = j + 1 < levels ? 0x0c : 0x03;
        memcpy(q, "\x91\x92\x01", 3);
        q += 3;
        memcpy(q, u, ul);
        q += ul;
        *q++ = 0x91;
    }
    memcpy(q, "\x93\x01\x03\x80", 4); /* the slot: a gcounter {} */
    q += 4;
    *len = (size_t)(q - p);
    return p;
}

START_TEST(test_ormap_codec_depth)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL);
    crdt_limits lim;
    size_t len, i;
    uint8_t *p;
    clock_t t0;

    /* 16 levels decode with the defaults (and re-encode to the input),
     * 17 do not */
    p = nested_bytes(16, &len);
    ck_assert_int_eq(crdt_ormap_decode(m, p, len, NULL, NULL), CRDT_OK);
    expect_bytes(m, p, len);
    check_invariants(m);
    free(p);
    p = nested_bytes(17, &len);
    reject(p, len, NULL, CRDT_ERR_LIMIT);
    crdt_limits_default(&lim);
    lim.max_depth = 1;
    free(p);
    p = nested_bytes(2, &len);
    reject(p, len, &lim, CRDT_ERR_LIMIT);
    lim.max_depth = 2;
    ck_assert_int_eq(crdt_ormap_decode(m, p, len, &lim, NULL), CRDT_OK);
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
    memcpy(p, example, 18);
    for (i = 0; i < 1000; i++)
        p[18 + i] = 0x91;
    p[1018] = 0xc0;
    reject(p, 1019, NULL, CRDT_ERR_LIMIT);
    free(p);
    ck_assert((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
    crdt_ormap_free(m);
}
END_TEST

/* ---------------------------------------------------------------- merge */

/* Add-wins, for each value type: replicas a and b share a key's first
 * update op1; then a updates the key again (opa, actor 1) and removes
 * it, while b, which saw only op1, updates it concurrently (opb, actor
 * 2).  Every merge keeps the key (b's update was not observed by the
 * remove) with exactly what b's update brought: a causal value only
 * opb's new dots, a plain value actor 2's slot.  Variant 0 runs op1 as
 * actor 1, variant 1 as actor 2, so that actor 2's slot holds op1 too
 * (plain values keep it; causal values lose op1's dots, which the remove
 * saw). */
static const vop aw_inner_i1 = {VT_GCOUNTER, VO_INC, 1, 1, NULL, NULL, NULL,
                                NULL};
static const vop aw_inner_i2 = {VT_GCOUNTER, VO_INC, 2, 1, NULL, NULL, NULL,
                                NULL};
static const vop aw_inner_j = {VT_GCOUNTER, VO_INC, 2, 1, NULL, NULL, NULL,
                               NULL};

typedef struct aw_case {
    vop op1, opa, opb;
    /* the merged value; variant 1: op1 was actor 2's */
    void (*check)(const void *v, int variant);
} aw_case;

static void aw_check_mvreg(const void *v, int variant)
{
    const uint8_t *p;
    size_t len;
    crdt_dot d;

    /* only b's write "b": op1's "1" and a's "a" were removed */
    (void)variant;
    ck_assert_uint_eq(crdt_mvreg_count(v), 1);
    ck_assert_int_eq(crdt_mvreg_get(v, 0, &d, &p, &len), CRDT_OK);
    ck_assert(d.actor == 2 && len == 1 && p[0] == 'b');
}

static void aw_check_ew_off(const void *v, int variant)
{
    /* b's disable brought no dot; op1's and a's enables were removed */
    (void)variant;
    ck_assert(!crdt_ewflag_value(v));
}

static void aw_check_ew_on(const void *v, int variant)
{
    (void)variant;
    ck_assert(crdt_ewflag_value(v));
}

static void aw_check_dw_on(const void *v, int variant)
{
    /* b's enable brought no dot; the disables were removed */
    (void)variant;
    ck_assert(crdt_dwflag_value(v));
}

static void aw_check_dw_off(const void *v, int variant)
{
    (void)variant;
    ck_assert(!crdt_dwflag_value(v));
}

static void aw_check_orset_empty(const void *v, int variant)
{
    /* b removed x; a's z was removed with the key */
    (void)variant;
    ck_assert_uint_eq(crdt_orset_size(v), 0);
}

static void aw_check_orset_y(const void *v, int variant)
{
    size_t nd;
    crdt_dot d;

    /* the header's example: {x} removed while y is added: {y} */
    (void)variant;
    ck_assert_uint_eq(crdt_orset_size(v), 1);
    ck_assert(crdt_orset_contains(v, "y", 1));
    ck_assert_int_eq(crdt_orset_elem(v, 0, NULL, NULL, &nd), CRDT_OK);
    ck_assert_uint_eq(nd, 1);
    ck_assert_int_eq(crdt_orset_elem_dot(v, 0, 0, &d), CRDT_OK);
    ck_assert_uint_eq(d.actor, 2);
}

static void aw_check_gset(const void *v, int variant)
{
    /* actor 2's slot: y, and x if op1 was actor 2's */
    ck_assert_uint_eq(crdt_gset_size(v), (variant ? 2 : 1));
    ck_assert(crdt_gset_contains(v, "y", 1));
    ck_assert(crdt_gset_contains(v, "x", 1) == (variant == 1));
    ck_assert(!crdt_gset_contains(v, "z", 1));
}

static void aw_check_gcounter(const void *v, int variant)
{
    ck_assert_uint_eq(crdt_gcounter_value(v), (variant ? 11 : 10));
    ck_assert_uint_eq(crdt_gcounter_get(v, 1), 0);
}

static void aw_check_pncounter(const void *v, int variant)
{
    int64_t x;

    ck_assert_int_eq(crdt_pncounter_value(v, &x), CRDT_OK);
    ck_assert_int_eq(x, (variant ? 15 : 10));
}

static void aw_check_lww(const void *v, int variant)
{
    const uint8_t *p;
    size_t len;

    /* b's write (timestamp 2) beats op1's; a's (3) was removed */
    (void)variant;
    ck_assert_int_eq(crdt_lww_value(v, &p, &len), CRDT_OK);
    ck_assert(len == 1 && p[0] == 'b');
    ck_assert_uint_eq(crdt_lww_timestamp(v), 2);
}

static void aw_check_lww_old(const void *v, int variant)
{
    const uint8_t *p;
    size_t len;

    /* b's write (timestamp 0) lost to op1's at b: its slot holds op1's
     * write if op1 was actor 2's, else nothing */
    if (!variant) {
        ck_assert(!crdt_lww_has_value(v));
        return;
    }
    ck_assert_int_eq(crdt_lww_value(v, &p, &len), CRDT_OK);
    ck_assert(len == 1 && p[0] == '1');
    ck_assert_uint_eq(crdt_lww_timestamp(v), 1);
}

static void aw_check_ormap_j(const void *v, int variant)
{
    /* the inner map is causal: op1's i was removed with the key */
    (void)variant;
    ck_assert(!crdt_ormap_contains(v, "i", 1));
    ck_assert_uint_eq(count(v, "j"), 1);
    ck_assert_uint_eq(crdt_ormap_size(v), 1);
}

static void aw_check_ormap_i(const void *v, int variant)
{
    /* b updated inner i: its inner slot of actor 2 (with op1's 1 if op1
     * was actor 2's) under a new dot; actor 1's slot was removed */
    ck_assert_uint_eq(count(v, "i"), (variant ? 2 : 1));
    ck_assert_uint_eq(crdt_ormap_size(v), 1);
}

#define AWOP(vt, kind, actor, n, s) {vt, kind, actor, n, s, NULL, NULL, NULL}

static const aw_case aw_cases[] = {
    {AWOP(VT_MVREG, VO_WRITE, 1, 0, "1"), AWOP(VT_MVREG, VO_WRITE, 1, 0, "a"),
     AWOP(VT_MVREG, VO_WRITE, 2, 0, "b"), aw_check_mvreg},
    {AWOP(VT_EWFLAG, VO_ENABLE, 1, 0, NULL),
     AWOP(VT_EWFLAG, VO_ENABLE, 1, 0, NULL),
     AWOP(VT_EWFLAG, VO_DISABLE, 2, 0, NULL), aw_check_ew_off},
    {AWOP(VT_EWFLAG, VO_DISABLE, 1, 0, NULL),
     AWOP(VT_EWFLAG, VO_DISABLE, 1, 0, NULL),
     AWOP(VT_EWFLAG, VO_ENABLE, 2, 0, NULL), aw_check_ew_on},
    {AWOP(VT_DWFLAG, VO_DISABLE, 1, 0, NULL),
     AWOP(VT_DWFLAG, VO_DISABLE, 1, 0, NULL),
     AWOP(VT_DWFLAG, VO_ENABLE, 2, 0, NULL), aw_check_dw_on},
    {AWOP(VT_DWFLAG, VO_ENABLE, 1, 0, NULL),
     AWOP(VT_DWFLAG, VO_ENABLE, 1, 0, NULL),
     AWOP(VT_DWFLAG, VO_DISABLE, 2, 0, NULL), aw_check_dw_off},
    {AWOP(VT_ORSET, VO_ADD, 1, 0, "x"), AWOP(VT_ORSET, VO_ADD, 1, 0, "z"),
     AWOP(VT_ORSET, VO_RM, 2, 0, "x"), aw_check_orset_empty},
    {AWOP(VT_ORSET, VO_ADD, 1, 0, "x"), AWOP(VT_ORSET, VO_ADD, 1, 0, "z"),
     AWOP(VT_ORSET, VO_ADD, 2, 0, "y"), aw_check_orset_y},
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
    {AWOP(VT_LWW, VO_SET, 1, 1, "1"), AWOP(VT_LWW, VO_SET, 1, 3, "a"),
     AWOP(VT_LWW, VO_SET, 2, 0, "b"), aw_check_lww_old},
    {{VT_ORMAP, VO_NESTED, 1, 0, NULL, "i", &aw_inner_i1, NULL},
     {VT_ORMAP, VO_NESTED, 1, 0, NULL, "i", NULL, NULL},
     {VT_ORMAP, VO_NESTED, 2, 0, NULL, "j", &aw_inner_j, NULL},
     aw_check_ormap_j},
    {{VT_ORMAP, VO_NESTED, 1, 0, NULL, "i", &aw_inner_i1, NULL},
     {VT_ORMAP, VO_NESTED, 1, 0, NULL, "i", NULL, NULL},
     {VT_ORMAP, VO_NESTED, 2, 0, NULL, "i", &aw_inner_i2, NULL},
     aw_check_ormap_i},
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
    const aw_case *c = &aw_cases[_i / 2];
    int variant = _i % 2, i;
    const crdt_type *t = vt_type(c->op1.vt);
    crdt_ormap *a = crdt_ormap_new(NULL, NULL), *b, *da, *db, *r[4], *z;
    vop op1 = c->op1;
    void *fresh;

    if (variant) {
        op1.actor = 2;
        if (op1.inner)
            op1.inner = &aw_inner_i2;
    }
    ck_assert_int_eq(vop_apply(a, "k", &op1, NULL), CRDT_OK);
    b = crdt_ormap_clone(a);
    da = crdt_ormap_new(NULL, NULL);
    db = crdt_ormap_new(NULL, NULL);
    ck_assert_int_eq(vop_apply(a, "k", &c->opa, da), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_remove(a, "k", 1, da), CRDT_OK);
    ck_assert(!crdt_ormap_contains(a, "k", 1));
    ck_assert_int_eq(vop_apply(b, "k", &c->opb, db), CRDT_OK);
    /* states both ways, and each side's delta group into the other */
    r[0] = merged(a, b);
    r[1] = merged(b, a);
    r[2] = merged(a, db);
    r[3] = merged(b, da);
    for (i = 0; i < 4; i++) {
        ck_assert_msg(crdt_ormap_contains(r[i], "k", 1),
                      "%s: merge %d lost the key", t->name, i);
        ck_assert_uint_eq(crdt_ormap_size(r[i]), 1);
        c->check(kval(r[i], t), variant);
        check_invariants(r[i]);
        ck_assert(crdt_ormap_equal(r[i], r[0]));
        ck_assert(same_bytes(r[i], r[0]));
    }
    /* control: a remove that observed b's update does remove the key,
     * everywhere; then the key starts over from an empty value */
    z = crdt_ormap_new(NULL, NULL);
    ck_assert_int_eq(crdt_ormap_remove(r[0], "k", 1, z), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_merge(r[1], z), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_merge(r[1], b), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_merge(r[1], a), CRDT_OK);
    ck_assert(!crdt_ormap_contains(r[0], "k", 1));
    ck_assert(!crdt_ormap_contains(r[1], "k", 1));
    ck_assert(crdt_ormap_equal(r[0], r[1]));
    check_invariants(r[1]);
    {
        vop noop = mkop(c->op1.vt, VO_NOOP, 3, 0, NULL);

        ck_assert_int_eq(vop_apply(r[1], "k", &noop, NULL), CRDT_OK);
        fresh = t->create(NULL);
        ck_assert_msg(t->equal(kval(r[1], t), fresh),
                      "%s: not reset by the remove", t->name);
        t->destroy(fresh);
        check_invariants(r[1]);
        /* a replica that saw only b's update agrees */
        ck_assert_int_eq(crdt_ormap_merge(b, r[1]), CRDT_OK);
        ck_assert(crdt_ormap_equal(b, r[1]));
    }
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

/* The VT_* of a type. */
static int vt_of(const crdt_type *t)
{
    int vt;

    for (vt = 0; vt < VT_COUNT; vt++)
        if (vt_type(vt) == t)
            return vt;
    ck_abort_msg("not a value type: %s", t->name);
    return -1;
}

/* On a copy of m: each present key is removed, then re-created by a
 * no-op update (a new actor), which must give the type's empty value
 * (remove resets; a nested map resets at every level); then every key is
 * removed, which must leave nothing but the context: the encoding is the
 * context's body and an empty entry array.  Returns the keys reset. */
static long check_removes(pctx *p, const crdt_ormap *m)
{
    crdt_ormap *r = crdt_ormap_clone(m);
    long resets = 0;
    int i;

    for (i = 0; i < p->sch.n[0]; i++) {
        const crdt_type *t;
        const void *v;
        void *fresh;
        vop op;

        if (crdt_ormap_get(r, pkeys[i], 1, &t, NULL) != CRDT_OK)
            continue;
        tu_must(crdt_ormap_remove(r, pkeys[i], 1, NULL), "remove");
        op = mkop(vt_of(t), VO_NOOP, 5, 0, NULL);
        tu_must(vop_apply(r, pkeys[i], &op, NULL), "re-create");
        tu_must(crdt_ormap_get(r, pkeys[i], 1, NULL, &v), "get");
        fresh = t->create(NULL);
        tu_expect(fresh && t->equal(v, fresh), "remove resets the value");
        t->destroy(fresh);
        resets++;
    }
    check_invariants(r);
    for (i = 0; i < p->sch.n[0]; i++)
        tu_must(crdt_ormap_remove(r, pkeys[i], 1, NULL), "remove");
    TU_CHECK_EQ(crdt_ormap_size(r), 0);
    {
        crdt_dotctx *ctx = crdt_dotctx_new(NULL);
        crdt_buf e;
        uint8_t *b;

        encode(r, &e);
        b = malloc(e.len);
        tu_expect(ctx && b && e.len > 4 && e.data[e.len - 1] == 0x90,
                  "no entries after every key's remove");
        /* [1, 12, vv, cloud, []] -> [1, 2, vv, cloud] */
        memcpy(b, "\x94\x01\x02", 3);
        memcpy(b + 3, e.data + 3, e.len - 4);
        tu_expect(crdt_dotctx_decode(ctx, b, e.len - 1, NULL, NULL) ==
                      CRDT_OK,
                  "nothing but the context after every key's remove");
        free(b);
        crdt_buf_clear(&e);
        crdt_dotctx_free(ctx);
    }
    crdt_ormap_free(r);
    return resets;
}

START_TEST(test_ormap_property_laws)
{
    tu_rng rng;
    pctx p;
    long n = tu_cases(10000), c, with_removes = 0, delta_removes = 0;
    long resets = 0;
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
        for (i = 0; i < 3; i++)
            check_invariants(r[i]);
        check_invariants(ab);
        check_invariants(ab_c);
        resets += check_removes(&p, ab_c);
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
        check_invariants(x);
        check_invariants(d);
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
            "%ld with removes in the delta group, %ld type conflicts, "
            "%ld keys reset; value mutations:",
            n, with_removes, delta_removes, p.conflicts, resets);
    for (t = 0; t < VT_COUNT; t++) {
        fprintf(stderr, " %s %ld", vt_names[t], p.tally[t]);
        /* every type is the first key's in one case of VT_COUNT */
        if (n >= 100)
            tu_expect(p.tally[t] > 0, "every value type mutated");
    }
    fprintf(stderr, "\n");
    if (n >= 100)
        tu_expect(resets > n / 2, "keys reset in most cases");
}
END_TEST

/* ------------------------------------------------------------- replicas */

#define MR 5  /* replicas (actor i + 1) */
#define MK 4  /* keys "0".."3", gcounters */

/* The model of one key: its slots, as dots per actor.  A slot's count
 * is fixed when its dot is made (slotval, per run: dots are unique), so
 * a key's count for an actor is the largest of its live slots' (an
 * actor may have two live slots where deltas arrive out of order: the
 * older one goes when the delta that superseded it arrives). */
typedef struct mkey {
    uint64_t dots[MR]; /* bit c - 1: dot (actor, c) */
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
        }
        x->has = any;
    }
    for (a = 0; a < MR; a++)
        d->ctx[a] |= s->ctx[a];
}

/* The count of actor a's live slots in key mk. */
static uint64_t m_count(const mkey *mk, int a,
                        const uint64_t slotval[MR][64])
{
    uint64_t c = 0, v;
    int i;

    for (i = 0; i < 64; i++)
        if ((mk->dots[a] >> i & 1) && (v = slotval[a][i]) > c)
            c = v;
    return c;
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

static void check_rep(const crdt_ormap *m, const mrep *r,
                      const uint64_t slotval[MR][64])
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
            if (crdt_gcounter_get(v, (crdt_actor)a + 1) !=
                m_count(&r->k[k], a, slotval))
                ck_abort_msg("key %d actor %d: %llu, model %llu", k, a + 1,
                             (unsigned long long)crdt_gcounter_get(
                                 v, (crdt_actor)a + 1),
                             (unsigned long long)m_count(&r->k[k], a,
                                                         slotval));
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
        int npool = 0, ops = 0, rems[MK] = {0};
        uint64_t slotval[MR][64];

        memset(mr, 0, sizeof mr);
        memset(slotval, 0, sizeof slotval);
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
                        mk->dots[a] = 0; /* the slots go */
                    }
                    mk->has = false;
                    rems[k]++;
                } else {
                    int c = top_bit(m->ctx[x]) + 1;
                    uint64_t bit = (uint64_t)1 << (c - 1);

                    tu_must(inc(rep[x], (crdt_actor)x + 1, key, 1, pool[npool]),
                         "inc");
                    /* x's slot is replaced, counting on from it (0 if
                     * none); the others stay */
                    slotval[x][c - 1] = m_count(mk, x, slotval) + 1;
                    md->ctx[x] = mk->dots[x];
                    cov[k][x] |= mk->dots[x];
                    mk->has = true;
                    mk->dots[x] = bit;
                    m->ctx[x] |= bit;
                    md->ctx[x] |= bit;
                    /* the delta carries x's new slot */
                    md->k[k].has = true;
                    md->k[k].dots[x] = bit;
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
            check_rep(rep[x], &mr[x], slotval);
            check_invariants(rep[x]);
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
            check_rep(rep[i], &mr[i], slotval);
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
            /* a present key's counter counts at most every increment to
             * it, and exactly that if the key was never removed */
            if (live) {
                const void *v;

                tu_must(crdt_ormap_get(rep[0], key, 1, NULL, &v), "get");
                for (a = 0; a < MR; a++) {
                    uint64_t got = crdt_gcounter_get(v, (crdt_actor)a + 1);

                    tu_expect(got <= incs[k][a], "counter <= increments");
                    tu_expect(rems[k] || got == incs[k][a],
                              "counter = all increments, without removes");
                }
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
 * disable) or kills the slot's observed dots (orset remove and clear,
 * mvreg clear, ewflag disable, dwflag enable, and a key remove, which
 * kills the key's presence and every slot of its value: values share
 * the map's context), and it covers what was live in the slot at its
 * replica when it ran.  Then the live adds of slot s in a state with
 * set R are the adds in R that no operation in R covers: the dot-store
 * join, with "observed" read off the history rather than a context.  A
 * causal value (orset, mvreg, flags, the inner map) is its type's
 * semantics over its live adds, so a remove resets it and a concurrent
 * update keeps only its new dots.
 *
 * Plain values (pncounter, gcounter, gset, lww, the inner pncounter) are
 * per-actor slots: an update of a plain key covers only the live adds of
 * its own actor in the key's presence slot, and its slot holds its own
 * mutation and those of the slots it covered (slotops); the value of a
 * state with R is the join of the mutations in the slots of the live
 * adds.  So a counter's count per actor is the largest running total in
 * those slots (each delta carries the total, counted from the value the
 * actor's update saw), an lww register holds the greatest effective
 * write in them, a g-set every element added in them.
 *
 * Dots: causal values draw their dots from the map's context, before the
 * key's presence dot (and an inner map's value dots before the inner
 * presence dot), so the model numbers every dot an actor draws; or-set
 * and mvreg dots are checked exactly. */

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

/* counters */
enum { XC_PN, XC_GC, XC_IPN, XC_COUNT };

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
    uint64_t slotops[XOPS];            /* plain update: its slot's ops */
    uint64_t ndots[XR];                /* dots drawn per actor */
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

/* The mutations a plain value with presence slot s holds in a state
 * with R: those in the slots of its live adds. */
static uint64_t xvals(const xmodel *md, int s, uint64_t R)
{
    uint64_t live = xlive(md, s, R), ops = 0;
    int o;

    for (o = 0; o < md->nops; o++)
        if (live >> o & 1)
            ops |= md->slotops[o];
    return ops;
}

/* Update o (at a replica holding R) of the plain value with presence
 * slot s: replaces its actor's slot, keeping what that slot held. */
static void xslot(xmodel *md, int o, int s, uint64_t R)
{
    uint64_t live = xlive(md, s, R), mine = 0, ops = 0;
    int p;

    for (p = 0; p < md->nops; p++)
        if ((live >> p & 1) && md->op[p].rep == md->op[o].rep) {
            mine |= (uint64_t)1 << p;
            ops |= md->slotops[p];
        }
    md->cov[o][s] = mine;
    md->adds[s] |= (uint64_t)1 << o;
    md->slotops[o] = ops | (uint64_t)1 << o;
}

/* The slots removing inner key j (or its outer key) kills. */
static void x_kill_ikey(xmodel *md, int o, int j, uint64_t R)
{
    int e;

    xev(md, o, SL_IKEY + j, R, false);
    if (j == XI_ORSET)
        for (e = 0; e < 3; e++)
            xev(md, o, SL_IOSET + e, R, false);
    else if (j == XI_EWFLAG)
        xev(md, o, SL_IEW, R, false);
}

/* The slots removing top key k kills: its presence and its value's. */
static void x_kill_key(xmodel *md, int o, int k, uint64_t R)
{
    int e;

    xev(md, o, SL_KEY + k, R, false);
    switch (k) {
    case XK_ORSET:
        for (e = 0; e < 3; e++)
            xev(md, o, SL_OSET + e, R, false);
        break;
    case XK_MVREG:
        xev(md, o, SL_MV, R, false);
        break;
    case XK_EWFLAG:
        xev(md, o, SL_EW, R, false);
        break;
    case XK_DWFLAG:
        xev(md, o, SL_DW, R, false);
        break;
    case XK_MAP:
        for (e = 0; e < XI_COUNT; e++)
            x_kill_ikey(md, o, e, R);
        break;
    }
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

/* The lww write a value holding the mutations S holds: the greatest
 * effective write in S, or -1. */
static int x_lww_best(const xmodel *md, uint64_t S)
{
    int o, best = -1;

    for (o = 0; o < md->nops; o++)
        if ((S >> o & 1) && md->op[o].key == XK_LWW && !md->op[o].rm &&
            md->op[o].eff && (best < 0 || x_lww_cmp(md, o, best) > 0))
            best = o;
    return best;
}

/* A counter half per actor in a value holding the mutations S: the
 * largest total. */
static uint64_t x_count(const xmodel *md, int ctr, bool neg, int rep,
                        uint64_t S)
{
    uint64_t c = 0;
    int o;

    for (o = 0; o < md->nops; o++) {
        const xop *op = &md->op[o];

        if ((S >> o & 1) && op->ctr == ctr && op->neg == neg &&
            op->rep == rep && op->cum > c)
            c = op->cum;
    }
    return c;
}

static void x_orset(tu_rng *rng, xmodel *md, int o, int slot0, uint64_t R,
                    vop *v)
{
    xop *op = &md->op[o];
    int w = (int)tu_below(rng, 8), e;

    op->elem = (int)tu_below(rng, 3);
    *v = mkop(VT_ORSET, VO_ADD, (crdt_actor)op->rep + 1, 0,
              pelems[op->elem]);
    if (w < 5) {
        xev(md, o, slot0 + op->elem, R, true);
        op->vctr = ++md->ndots[op->rep];
    } else if (w < 7) {
        v->kind = VO_RM;
        xev(md, o, slot0 + op->elem, R, false);
    } else {
        v->kind = VO_CLEAR;
        for (e = 0; e < 3; e++)
            xev(md, o, slot0 + e, R, false);
    }
}

/* A counter mutation of the plain value with presence slot s. */
static void x_counter(tu_rng *rng, xmodel *md, int o, int ctr, bool pn,
                      int s, uint64_t R, vop *v)
{
    xop *op = &md->op[o];

    op->ctr = ctr;
    op->neg = pn && tu_below(rng, 2);
    op->by = 1 + tu_below(rng, 5);
    *v = mkop(pn ? VT_PNCOUNTER : VT_GCOUNTER, op->neg ? VO_DEC : VO_INC,
              (crdt_actor)op->rep + 1, op->by, NULL);
    op->cum = x_count(md, ctr, op->neg, op->rep, xvals(md, s, R)) + op->by;
    xslot(md, o, s, R);
}

static void x_ewflag(tu_rng *rng, xmodel *md, int o, int slot, uint64_t R,
                     vop *v)
{
    bool en = tu_below(rng, 2);

    *v = mkop(VT_EWFLAG, en ? VO_ENABLE : VO_DISABLE,
              (crdt_actor)md->op[o].rep + 1, 0, NULL);
    xev(md, o, slot, R, en);
    if (en)
        md->ndots[md->op[o].rep]++;
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
        x_kill_key(md, o, op->key, R);
        return op;
    }
    switch (op->key) {
    case XK_ORSET:
        x_orset(rng, md, o, SL_OSET, R, &op->v[0]);
        break;
    case XK_MVREG:
        b = tu_below(rng, 4) != 0;
        op->v[0] = mkop(VT_MVREG, b ? VO_WRITE : VO_CLEAR, actor, 0, op->val);
        xev(md, o, SL_MV, R, b);
        if (b)
            op->vctr = ++md->ndots[x];
        break;
    case XK_EWFLAG:
        x_ewflag(rng, md, o, SL_EW, R, &op->v[0]);
        break;
    case XK_DWFLAG:
        b = tu_below(rng, 2) != 0; /* disable: a new dot */
        op->v[0] = mkop(VT_DWFLAG, b ? VO_DISABLE : VO_ENABLE, actor, 0, NULL);
        xev(md, o, SL_DW, R, b);
        if (b)
            md->ndots[x]++;
        break;
    case XK_PN:
        x_counter(rng, md, o, XC_PN, true, SL_KEY + XK_PN, R, &op->v[0]);
        break;
    case XK_GC:
        x_counter(rng, md, o, XC_GC, false, SL_KEY + XK_GC, R, &op->v[0]);
        break;
    case XK_GSET:
        op->elem = (int)tu_below(rng, 3);
        op->v[0] = mkop(VT_GSET, VO_ADD, actor, 0, pelems[op->elem]);
        xslot(md, o, SL_KEY + XK_GSET, R);
        break;
    case XK_LWW: {
        int was = x_lww_best(md, xvals(md, SL_KEY + XK_LWW, R));

        op->v[0] = mkop(VT_LWW, VO_SET, actor, 1 + tu_below(rng, 6), op->val);
        op->eff = was < 0 || x_lww_cmp(md, o, was) > 0;
        xslot(md, o, SL_KEY + XK_LWW, R);
        break;
    }
    case XK_MAP:
        op->ikey = (int)tu_below(rng, XI_COUNT);
        op->v[0] = mkop(VT_ORMAP, VO_NESTED, actor, 0, NULL);
        op->v[0].ikey = xikeys[op->ikey];
        if (tu_below(rng, 4) == 0) { /* inner remove */
            x_kill_ikey(md, o, op->ikey, R);
            break;
        }
        op->v[0].inner = &op->v[1];
        if (op->ikey == XI_ORSET) {
            x_orset(rng, md, o, SL_IOSET, R, &op->v[1]);
            xev(md, o, SL_IKEY + op->ikey, R, true);
        } else if (op->ikey == XI_PN) {
            x_counter(rng, md, o, XC_IPN, true, SL_IKEY + XI_PN, R,
                      &op->v[1]);
        } else {
            x_ewflag(rng, md, o, SL_IEW, R, &op->v[1]);
            xev(md, o, SL_IKEY + op->ikey, R, true);
        }
        md->ndots[x]++; /* the inner key's presence dot */
        break;
    }
    /* the key's presence dot, after the value's: a causal key's update
     * supersedes every presence dot it saw, a plain key's only its
     * actor's slot (xslot above) */
    if (op->key != XK_PN && op->key != XK_GC && op->key != XK_GSET &&
        op->key != XK_LWW)
        xev(md, o, SL_KEY + op->key, R, true);
    md->ndots[x]++;
    return op;
}

/* ----- checks of a state against the model */

/* An or-set value: members, and each member's dots exactly those of its
 * live adds, (actor, the add's dot counter in the map). */
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

static void x_check_pn(const xmodel *md, const void *v, int ctr, uint64_t S)
{
    uint64_t p, n;
    int a;

    for (a = 0; a < XR; a++) {
        crdt_pncounter_get(v, (crdt_actor)a + 1, &p, &n);
        TU_CHECK_EQ(p, x_count(md, ctr, false, a, S));
        TU_CHECK_EQ(n, x_count(md, ctr, true, a, S));
    }
}

static void x_check_value(const xmodel *md, int key, const void *v,
                          uint64_t R, bool reveal);

/* m against the model with R; reveal: every key was re-added by a no-op
 * update (of a new actor), exposing hidden causal values. */
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
    uint64_t live, S;
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
        x_check_pn(md, v, XC_PN, xvals(md, SL_KEY + XK_PN, R));
        break;
    case XK_GC:
        S = xvals(md, SL_KEY + XK_GC, R);
        for (j = 0; j < XR; j++)
            TU_CHECK_EQ(crdt_gcounter_get(v, (crdt_actor)j + 1),
                        x_count(md, XC_GC, false, j, S));
        break;
    case XK_GSET:
        S = xvals(md, SL_KEY + XK_GSET, R);
        n = 0;
        for (e = 0; e < 3; e++) {
            bool in = false;

            for (o = 0; o < md->nops; o++)
                in |= (S >> o & 1) && md->op[o].key == XK_GSET &&
                      !md->op[o].rm && md->op[o].elem == e;
            tu_expect(crdt_gset_contains(v, pelems[e], 1) == in,
                      "gset: the elements of the live slots");
            n += in;
        }
        TU_CHECK_EQ(crdt_gset_size(v), n);
        break;
    case XK_LWW:
        best = x_lww_best(md, xvals(md, SL_KEY + XK_LWW, R));
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
                x_check_pn(md, iv, XC_IPN, xvals(md, SL_IKEY + XI_PN, R));
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
 * the history, then its hidden values revealed by no-op updates. */
static void x_check_converged(const xmodel *md, const crdt_ormap *m,
                              long *survived)
{
    uint64_t all = md->nops == 64 ? ~(uint64_t)0
                                  : ((uint64_t)1 << md->nops) - 1;
    crdt_ormap *r = crdt_ormap_clone(m);
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
    /* reveal: a no-op update of every key (and inner key) by a new actor
     * shows the value it continues from, which is the model's */
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
    check_invariants(r);
    x_check(md, r, all, true);
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
            check_invariants(rep[x]);
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
        check_invariants(rep[0]);
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

/* ---------------------------------------------------------- small merges */

/* Keys of the small-merge test: enough of them that the maps are past the
 * size where a merge of a small source takes the path through the dot
 * index (see ormap.c). */
#define SM_KEYS 40
#define SM_POOL 48

static const char *sm_key(int k)
{
    static const char *const names[SM_KEYS] = {
        "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9",
        "b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9",
        "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9",
        "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9",
    };

    return names[k];
}

/* A random op of replica x over the SM_KEYS keys (types vts[], nested
 * maps by p's schema), its delta into d. */
static void sm_op(pctx *p, const int *vts, int nk, crdt_ormap *m,
                  crdt_actor actor, crdt_ormap *d)
{
    int k = (int)tu_below(p->rng, (uint64_t)nk), rv, vt;
    vop chain[3];

    if (tu_below(p->rng, 6) == 0) {
        tu_must(crdt_ormap_remove(m, sm_key(k), strlen(sm_key(k)), d),
                "remove");
        return;
    }
    vt = vts[k];
    if (tu_below(p->rng, 16) == 0) /* a type conflict, as random_op */
        vt = vt == VT_GCOUNTER ? VT_LWW : VT_GCOUNTER;
    random_vop(p, 0, vt, actor, chain);
    rv = vop_apply(m, sm_key(k), chain, d);
    if (rv != CRDT_ERR_TYPE)
        tu_must(rv, "update");
}

/* Merges src into m and checks the result against the full pass: a
 * clone has no dot index and has seen no small merge, so its merge
 * always takes the full pass, while m (which has seen many) takes the
 * small one whenever src is small.  Equal states and equal bytes. */
static void sm_merge_check(crdt_ormap *m, const crdt_ormap *src, long c)
{
    crdt_ormap *ref = merged(m, src);
    size_t i, n = crdt_ormap_size(ref);

    tu_must_k(crdt_ormap_merge(m, src), "small merge", c);
    tu_expect_k(crdt_ormap_equal(m, ref), "small merge == full merge", c);
    tu_expect_k(same_bytes(m, ref), "small merge bytes", c);
    /* the present-key index too, which equal and encode do not read */
    tu_expect_k(crdt_ormap_size(m) == n, "small merge size", c);
    for (i = 0; i < n; i++) {
        const uint8_t *k1, *k2;
        const crdt_type *t1, *t2;
        const void *v1, *v2;
        size_t l1, l2;

        tu_must_k(crdt_ormap_entry(m, i, &k1, &l1, &t1, &v1), "entry", c);
        tu_must_k(crdt_ormap_entry(ref, i, &k2, &l2, &t2, &v2), "entry", c);
        tu_expect_k(l1 == l2 && memcmp(k1, k2, l1) == 0 && t1 == t2 &&
                        t1->equal(v1, v2),
                    "small merge entry", c);
    }
    crdt_ormap_free(ref);
}

/* A small merge that hides a key's lone causal entry (a remove that saw
 * its presence dot but not its value's, as hidden_example) and one that
 * shows it again: the present-key index changes at that entry only. */
START_TEST(test_ormap_merge_small_hidden)
{
    /* [1, 12, {}, [[1, 2]], []]: a remove that saw only the dot (1, 2) */
    static const uint8_t rm_presence[] = {0x95, 0x01, 0x0c, 0x80, 0x91,
                                          0x92, 0x01, 0x02, 0x90};
    crdt_ormap *m = crdt_ormap_new(NULL, NULL), *none, *rm, *r, *d;
    int i;

    tu_must(os_add(m, 1, "s", "x", NULL), "add"); /* (1, 1), then (1, 2) */
    for (i = 0; i < 20; i++)
        tu_must(inc(m, 3, sm_key(i), 1, NULL), "inc");
    none = crdt_ormap_new(NULL, NULL);
    rm = crdt_ormap_new(NULL, NULL);
    d = crdt_ormap_new(NULL, NULL);
    tu_must(crdt_ormap_decode(rm, rm_presence, sizeof rm_presence, NULL,
                              NULL),
            "decode");
    sm_merge_check(m, none, 0);
    sm_merge_check(m, none, 0); /* the index is built */
    ck_assert_uint_eq(crdt_ormap_size(m), 21);
    sm_merge_check(m, rm, 0);
    ck_assert_uint_eq(crdt_ormap_size(m), 20);
    ck_assert(!crdt_ormap_contains(m, "s", 1));
    r = crdt_ormap_clone(m);
    tu_must(os_add(r, 2, "s", "y", d), "add");
    sm_merge_check(m, d, 0);
    ck_assert_uint_eq(crdt_ormap_size(m), 21);
    ck_assert(crdt_ormap_equal(m, r));
    check_invariants(m);
    crdt_ormap_free(m);
    crdt_ormap_free(none);
    crdt_ormap_free(rm);
    crdt_ormap_free(r);
    crdt_ormap_free(d);
}
END_TEST

START_TEST(test_ormap_property_small_merge)
{
    tu_rng rng;
    long cases = tu_cases(10000) / 50, c, nmerge = 0;
    pctx p;

    memset(&p, 0, sizeof p);
    p.rng = &rng;
    tu_rng_init(&rng, tu_seed("ormap") ^ 0x4);
    for (c = 0; c < cases; c++) {
        crdt_ormap *r[3], *pool[SM_POOL], *grp = crdt_ormap_new(NULL, NULL);
        int vts[SM_KEYS], nk = 20 + (int)tu_below(&rng, SM_KEYS - 19);
        int i, step, npool = 0;

        random_schema(&p, c);
        for (i = 0; i < nk; i++)
            vts[i] = (int)tu_below(&rng, VT_COUNT);
        for (i = 0; i < 3; i++)
            r[i] = crdt_ormap_new(NULL, NULL);
        /* large states: every key touched, exchanged in full */
        for (i = 0; i < 3 * nk; i++)
            sm_op(&p, vts, nk, r[i % 3], (crdt_actor)(i % 3) + 1, NULL);
        for (i = 0; i < 3; i++)
            tu_must(crdt_ormap_merge(r[i], r[(i + 1) % 3]), "exchange");
        /* a stream of deltas and delta groups, delivered out of order
         * and again, with local ops and now and then a full state in
         * between (which drops the index) */
        for (step = 0; step < 120; step++) {
            int x = (int)tu_below(&rng, 3), w = (int)tu_below(&rng, 12);

            if (w < 5 && npool < SM_POOL) {
                crdt_ormap *d = crdt_ormap_new(NULL, NULL);

                sm_op(&p, vts, nk, r[x], (crdt_actor)x + 1, d);
                tu_must(crdt_ormap_merge(grp, d), "group");
                pool[npool++] = d;
                if (tu_below(&rng, 4) == 0 && npool < SM_POOL) {
                    pool[npool++] = grp; /* a delta group */
                    grp = crdt_ormap_new(NULL, NULL);
                }
            } else if (w < 11 && npool) {
                sm_merge_check(r[x], pool[tu_below(&rng, (uint64_t)npool)],
                               c);
                nmerge++;
            } else {
                sm_merge_check(r[x], r[tu_below(&rng, 3)], c);
            }
            check_invariants(r[x]);
        }
        /* everything everywhere: the replicas converge */
        for (i = 0; i < 3; i++) {
            int j;

            for (j = 0; j < npool; j++)
                sm_merge_check(r[i], pool[j], c);
        }
        for (i = 0; i < 3; i++) {
            sm_merge_check(r[i], r[(i + 1) % 3], c);
            sm_merge_check(r[i], r[(i + 2) % 3], c);
        }
        tu_expect_k(crdt_ormap_equal(r[0], r[1]) &&
                        crdt_ormap_equal(r[1], r[2]),
                    "converged", c);
        for (i = 0; i < 3; i++)
            crdt_ormap_free(r[i]);
        for (i = 0; i < npool; i++)
            crdt_ormap_free(pool[i]);
        crdt_ormap_free(grp);
    }
    fprintf(stderr, "ormap: %ld small-merge cases, %ld delta merges\n",
            cases, nmerge);
}
END_TEST

/* ------------------------------------------------------------- conflict */

/*
 * One dot, two payloads: replicas that share actor ids update from the
 * same states, so one dot names different things on different replicas:
 * two keys, a key's presence and a value's element, two types of one key,
 * two values of an MV-register, two slot values, at any level of nesting.
 * The rule (crdt/ormap.h): a dot both sides hold at one place stays there
 * (an MV-register value: the greater bytes; a plain slot: the join of the
 * two values); at two different places it goes from both (each side has
 * seen it and does not hold it where the other does); a dot one side
 * holds stays unless the other side has seen it.
 *
 * The model reads every dot's place off the canonical encoding: the path
 * of keys and tags down to it and what it is there (a key's presence, a
 * plain slot, an MV-register value, an OR-set element, a flag's dot) and,
 * apart, its payload (a slot's or an MV-register's value bytes).
 */
static int om_dot_cmp(const void *x, const void *y)
{
    const crdt_dot *a = x, *b = y;

    if (a->actor != b->actor)
        return a->actor < b->actor ? -1 : 1;
    return (a->counter > b->counter) - (a->counter < b->counter);
}

typedef struct mrd {
    const uint8_t *p, *end;
} mrd;

static uint64_t mrd_be(mrd *r, size_t n)
{
    uint64_t v = 0;

    tu_expect((size_t)(r->end - r->p) >= n, "model: truncated");
    while (n--)
        v = v << 8 | *r->p++;
    return v;
}

/* A header of kind 0 uint, 1 array, 2 map, 3 bin: its value. */
static uint64_t mrd_get(mrd *r, int kind)
{
    uint8_t b;

    tu_expect(r->p < r->end, "model: truncated");
    b = *r->p++;
    if (kind == 0 && b < 0x80)
        return b;
    if (kind == 0 && b >= 0xcc && b <= 0xcf)
        return mrd_be(r, (size_t)1 << (b - 0xcc));
    if (kind == 1 && (b & 0xf0) == 0x90)
        return b & 0x0f;
    if (kind == 1 && (b == 0xdc || b == 0xdd))
        return mrd_be(r, b == 0xdc ? 2 : 4);
    if (kind == 2 && (b & 0xf0) == 0x80)
        return b & 0x0f;
    if (kind == 2 && (b == 0xde || b == 0xdf))
        return mrd_be(r, b == 0xde ? 2 : 4);
    if (kind == 3 && b >= 0xc4 && b <= 0xc6)
        return mrd_be(r, (size_t)1 << (b - 0xc4));
    ck_abort_msg("model: unexpected MessagePack byte %02x", b);
    return 0;
}

static const uint8_t *mrd_bin(mrd *r, size_t *n)
{
    const uint8_t *p;

    *n = (size_t)mrd_get(r, 3);
    tu_expect((size_t)(r->end - r->p) >= *n, "model: truncated bin");
    p = r->p;
    r->p += *n;
    return p;
}

/* Skips one object of the encodings plain values use. */
static void mrd_skip(mrd *r)
{
    uint8_t b;
    uint64_t n, i;

    tu_expect(r->p < r->end, "model: truncated");
    b = *r->p;
    if (b < 0x80 || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        r->p++;
    } else if (b >= 0xcc && b <= 0xcf) {
        mrd_get(r, 0);
    } else if (b >= 0xc4 && b <= 0xc6) {
        mrd_bin(r, &n);
    } else if ((b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd) {
        for (n = mrd_get(r, 1), i = 0; i < n; i++)
            mrd_skip(r);
    } else if ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf) {
        for (n = mrd_get(r, 2), i = 0; i < 2 * n; i++)
            mrd_skip(r);
    } else {
        ck_abort_msg("model: unexpected MessagePack byte %02x", b);
    }
}

/* A dot, where it is (path bytes) and its payload (NULL: none). */
typedef struct mplace {
    crdt_dot d;
    uint8_t where[256];
    size_t nwhere;
    const uint8_t *pay;
    size_t npay;
    char kind; /* 'D' key, 'S' slot, 'V' mvreg value, 'E' orset, 'F' flag */
} mplace;

typedef struct mstate_om {
    mplace *v;
    size_t n, cap;
    crdt_dot *vv;   /* the map's context: its vector (actor, max) */
    size_t nvv;
    crdt_dot *cloud;
    size_t ncloud;
    crdt_buf enc;   /* the encoding the places point into */
} mstate_om;

static void mplace_add(mstate_om *s, crdt_dot d, const uint8_t *where,
                       size_t nwhere, char kind, const uint8_t *pay,
                       size_t npay)
{
    mplace *m;

    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        tu_expect(s->v != NULL, "model: realloc");
    }
    m = &s->v[s->n++];
    m->d = d;
    tu_expect(nwhere + 1 <= sizeof m->where, "model: path too long");
    memcpy(m->where, where, nwhere);
    m->where[nwhere] = (uint8_t)kind;
    m->nwhere = nwhere + 1;
    m->kind = kind;
    m->pay = pay;
    m->npay = npay;
}

static crdt_dot mrd_dot(mrd *r)
{
    crdt_dot d;

    tu_expect(mrd_get(r, 1) == 2, "model: a dot of two fields");
    d.actor = mrd_get(r, 0);
    d.counter = mrd_get(r, 0);
    return d;
}

/* Skips a context (vector map, cloud array); with s, keeps it. */
static void mrd_ctx(mrd *r, mstate_om *s)
{
    uint64_t n, i;

    n = mrd_get(r, 2);
    if (s) {
        s->vv = malloc((n + 1) * sizeof *s->vv);
        s->nvv = (size_t)n;
        tu_expect(s->vv != NULL, "model: malloc");
    }
    for (i = 0; i < n; i++) {
        crdt_dot d;

        d.actor = mrd_get(r, 0);
        d.counter = mrd_get(r, 0);
        if (s)
            s->vv[i] = d;
    }
    n = mrd_get(r, 1);
    if (s) {
        s->cloud = malloc((n + 1) * sizeof *s->cloud);
        s->ncloud = (size_t)n;
        tu_expect(s->cloud != NULL, "model: malloc");
    }
    for (i = 0; i < n; i++) {
        crdt_dot d = mrd_dot(r);

        if (s)
            s->cloud[i] = d;
    }
}

static bool causal_tag_om(uint64_t tag)
{
    return tag == CRDT_TAG_MVREG || tag == CRDT_TAG_ORSET ||
           tag == CRDT_TAG_EWFLAG || tag == CRDT_TAG_DWFLAG ||
           tag == CRDT_TAG_ORMAP;
}

/* The entries of a map body (after its context) at path w[0, nw). */
static void mrd_entries(mrd *r, mstate_om *s, uint8_t *w, size_t nw)
{
    uint64_t n, e, k, nd, nv, tag, m, j, nd2;
    size_t klen, at, elen, vlen;
    const uint8_t *key, *el, *val;
    crdt_dot dots[64], d;

    n = mrd_get(r, 1);
    for (e = 0; e < n; e++) {
        tu_expect(mrd_get(r, 1) == 4, "model: an entry of four fields");
        key = mrd_bin(r, &klen);
        tag = mrd_get(r, 0);
        /* the place: path, then key length, key, tag */
        at = nw;
        tu_expect(at + 2 + klen + 2 < 200, "model: path too long");
        w[at++] = (uint8_t)(klen >> 8);
        w[at++] = (uint8_t)klen;
        memcpy(w + at, key, klen);
        at += klen;
        w[at++] = (uint8_t)(tag >> 8);
        w[at++] = (uint8_t)tag;
        nd = mrd_get(r, 1);
        tu_expect(nd <= 64, "model: at most 64 dots a key");
        for (k = 0; k < nd; k++)
            dots[k] = mrd_dot(r);
        nv = mrd_get(r, 1);
        if (!causal_tag_om(tag)) {
            tu_expect(nv == nd, "model: a slot per dot");
            for (k = 0; k < nv; k++) {
                val = r->p;
                mrd_skip(r);
                mplace_add(s, dots[k], w, at, 'S', val,
                           (size_t)(r->p - val));
            }
            continue;
        }
        for (k = 0; k < nd; k++)
            mplace_add(s, dots[k], w, at, 'D', NULL, 0);
        tu_expect(nv == 1, "model: one causal value");
        tu_expect(mrd_get(r, 1) == 5, "model: a causal value");
        tu_expect(mrd_get(r, 0) == 1 && mrd_get(r, 0) == tag,
                  "model: the value's tag");
        mrd_ctx(r, NULL);
        if (tag == CRDT_TAG_ORMAP) {
            w[at++] = 'M';
            mrd_entries(r, s, w, at);
            continue;
        }
        m = mrd_get(r, 1);
        for (j = 0; j < m; j++) {
            if (tag == CRDT_TAG_MVREG) {
                tu_expect(mrd_get(r, 1) == 3, "model: a sibling");
                d.actor = mrd_get(r, 0);
                d.counter = mrd_get(r, 0);
                val = mrd_bin(r, &vlen);
                mplace_add(s, d, w, at, 'V', val, vlen);
            } else if (tag == CRDT_TAG_ORSET) {
                tu_expect(mrd_get(r, 1) == 2, "model: an element");
                el = mrd_bin(r, &elen);
                tu_expect(at + 2 + elen < 250, "model: path too long");
                w[at] = 'E';
                w[at + 1] = (uint8_t)elen;
                memcpy(w + at + 2, el, elen);
                for (nd2 = mrd_get(r, 1), k = 0; k < nd2; k++)
                    mplace_add(s, mrd_dot(r), w, at + 2 + elen, 'E', NULL,
                               0);
            } else {
                mplace_add(s, mrd_dot(r), w, at, 'F', NULL, 0);
            }
        }
    }
}

static int mplace_cmp(const void *x, const void *y)
{
    return om_dot_cmp(&((const mplace *)x)->d, &((const mplace *)y)->d);
}

static void mstate_read(mstate_om *s, const crdt_ormap *m)
{
    uint8_t w[256];
    mrd r;

    memset(s, 0, sizeof *s);
    encode(m, &s->enc);
    r.p = s->enc.data;
    r.end = s->enc.data + s->enc.len;
    tu_expect(mrd_get(&r, 1) == 5 && mrd_get(&r, 0) == 1 &&
                  mrd_get(&r, 0) == CRDT_TAG_ORMAP,
              "model: an ormap");
    mrd_ctx(&r, s);
    mrd_entries(&r, s, w, 0);
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, mplace_cmp);
}

static void mstate_free(mstate_om *s)
{
    free(s->v);
    free(s->vv);
    free(s->cloud);
    crdt_buf_clear(&s->enc);
}

static const mplace *mstate_find(const mstate_om *s, crdt_dot d)
{
    mplace key;

    key.d = d;
    return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, mplace_cmp)
                : NULL;
}

static bool mstate_seen(const mstate_om *s, crdt_dot d)
{
    size_t i;

    for (i = 0; i < s->nvv; i++)
        if (s->vv[i].actor == d.actor)
            return d.counter <= s->vv[i].counter ||
                   bsearch(&d, s->cloud, s->ncloud, sizeof d, om_dot_cmp);
    return s->ncloud && bsearch(&d, s->cloud, s->ncloud, sizeof d, om_dot_cmp);
}

static bool same_where(const mplace *x, const mplace *y)
{
    return x->nwhere == y->nwhere &&
           memcmp(x->where, y->where, x->nwhere) == 0;
}

static bool same_pay(const mplace *x, const uint8_t *p, size_t n)
{
    return x->npay == n && (n == 0 || memcmp(x->pay, p, n) == 0);
}

/* ab = a + b against the rule, dot by dot; returns the dots a and b hold
 * at different places (*payloads: at one place with different
 * payloads). */
static int om_pair_model(const crdt_ormap *a, const crdt_ormap *b,
                         const crdt_ormap *ab, int *payloads, long c)
{
    mstate_om st[3];
    size_t i, want = 0;
    int s, places = 0;

    mstate_read(&st[0], a);
    mstate_read(&st[1], b);
    mstate_read(&st[2], ab);
    for (s = 0; s < 2; s++) {
        for (i = 0; i < st[s].n; i++) {
            const mplace *x = &st[s].v[i];
            const mplace *y = mstate_find(&st[1 - s], x->d);
            const mplace *z = mstate_find(&st[2], x->d);

            tu_expect_k(mstate_seen(&st[2], x->d), "context lost a dot", c);
            if (y && s == 1)
                continue; /* judged from a's side */
            if (y && !same_where(x, y)) {
                places++;
                tu_expect_k(!z, "a dot at two places kept", c);
                continue;
            }
            if (!y && mstate_seen(&st[1 - s], x->d)) {
                tu_expect_k(!z, "a dot the other side removed kept", c);
                continue;
            }
            want++;
            tu_expect_k(z && same_where(x, z), "a dot lost or moved", c);
            if (!z)
                continue;
            if (!y || same_pay(x, y->pay, y->npay)) {
                tu_expect_k(same_pay(z, x->pay, x->npay),
                            "a payload changed", c);
                continue;
            }
            ++*payloads;
            if (x->kind == 'V') { /* the greater bytes */
                size_t nmin = x->npay < y->npay ? x->npay : y->npay;
                int cmp = nmin ? memcmp(x->pay, y->pay, nmin) : 0;
                const mplace *g = cmp > 0 || (cmp == 0 && x->npay > y->npay)
                                      ? x
                                      : y;

                tu_expect_k(same_pay(z, g->pay, g->npay),
                            "not the greater MV-register value", c);
            }
        }
    }
    tu_expect_k(st[2].n == want, "dots the model does not have", c);
    for (s = 0; s < 3; s++)
        mstate_free(&st[s]);
    return places;
}

/* a + b and b + a: equal, the same bytes, valid, decodable; returns
 * a + b.  Also checks the rule (om_pair_model) and returns the dots at
 * two places in *places. */
static crdt_ormap *om_both_ways(const crdt_ormap *a, const crdt_ormap *b,
                                int *places)
{
    crdt_ormap *ab = merged(a, b), *ba = merged(b, a);
    crdt_ormap *y = crdt_ormap_new(NULL, NULL);
    int pay = 0;
    crdt_buf e;

    ck_assert(crdt_ormap_equal(ab, ba));
    ck_assert(same_bytes(ab, ba));
    check_invariants(ab);
    encode(ab, &e);
    ck_assert_int_eq(crdt_ormap_decode(y, e.data, e.len, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_ormap_equal(y, ab));
    crdt_buf_clear(&e);
    *places = om_pair_model(a, b, ab, &pay, 0);
    crdt_ormap_free(ba);
    crdt_ormap_free(y);
    return ab;
}

static int om_mv_fn(void *v, void *d, void *ud)
{
    return crdt_mvreg_write(v, 1, ud, strlen(ud), d);
}

/* key of m <- an MV-register write of s by actor 1 */
static void om_mv(crdt_ormap *m, const char *key, const char *s)
{
    tu_must(crdt_ormap_update(m, 1, key, strlen(key), crdt_mvreg_type(),
                              om_mv_fn, (void *)(uintptr_t)s, NULL),
            "mvreg write");
}

static int om_rm_fn(void *v, void *d, void *ud)
{
    return crdt_orset_remove(v, ud, strlen(ud), d);
}

/* A value of m's key of type t (present), or fails. */
static const void *om_val(const crdt_ormap *m, const char *key,
                          const crdt_type *t)
{
    const crdt_type *got;
    const void *v;

    ck_assert_int_eq(crdt_ormap_get(m, key, strlen(key), &got, &v), CRDT_OK);
    ck_assert_ptr_eq(got, t);
    return v;
}

/* The same dot under two keys, as their presence (a slot) or inside a
 * value (an element, a nested key): it leaves both; a key left with no
 * dot goes. */
START_TEST(test_ormap_conflict_keys)
{
    crdt_ormap *s = crdt_ormap_new(NULL, NULL), *a, *b, *ab;
    int places;

    tu_must(inc(s, 2, "base", 1, NULL), "inc"); /* (2, 1) */
    /* slots of two keys: (1, 1) */
    a = crdt_ormap_clone(s);
    b = crdt_ormap_clone(s);
    tu_must(inc(a, 1, "x", 5, NULL), "inc");
    tu_must(inc(b, 1, "y", 7, NULL), "inc");
    ab = om_both_ways(a, b, &places);
    ck_assert_int_eq(places, 1);
    ck_assert_uint_eq(crdt_ormap_size(ab), 1);
    ck_assert(!crdt_ormap_contains(ab, "x", 1));
    ck_assert(!crdt_ormap_contains(ab, "y", 1));
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(ab);
    /* an element's dot (1, 1) and a slot (1, 1); the set's presence
     * (1, 2) and a second slot (1, 2) */
    a = crdt_ormap_clone(s);
    b = crdt_ormap_clone(s);
    tu_must(os_add(a, 1, "set", "e", NULL), "add");
    tu_must(inc(b, 1, "c", 1, NULL), "inc");
    tu_must(inc(b, 1, "d", 1, NULL), "inc");
    ab = om_both_ways(a, b, &places);
    ck_assert_int_eq(places, 2);
    ck_assert_uint_eq(crdt_ormap_size(ab), 1);
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(ab);
    /* nested: inner keys "i" and "j" both (1, 1); the outer key's
     * presence (1, 2) on both sides stays, its map now empty */
    a = crdt_ormap_clone(s);
    b = crdt_ormap_clone(s);
    tu_must(nest_inc(a, 1, "n", "i", 1, NULL), "nest");
    tu_must(nest_inc(b, 1, "n", "j", 2, NULL), "nest");
    ab = om_both_ways(a, b, &places);
    ck_assert_int_eq(places, 1);
    ck_assert_uint_eq(
        crdt_ormap_size(om_val(ab, "n", crdt_ormap_type())), 0);
    crdt_ormap_free(ab);
    /* nested against top level: (1, 1) inner slot vs a key's slot, (1, 2)
     * the outer key vs another key */
    crdt_ormap_free(b);
    b = crdt_ormap_clone(s);
    tu_must(inc(b, 1, "x", 1, NULL), "inc");
    tu_must(inc(b, 1, "y", 1, NULL), "inc");
    ab = om_both_ways(a, b, &places);
    ck_assert_int_eq(places, 2);
    ck_assert_uint_eq(crdt_ormap_size(ab), 1);
    ck_assert(crdt_ormap_contains(ab, "base", 4));
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(ab);
    crdt_ormap_free(s);
}
END_TEST

/* One key: the dot as the key's presence on one side and inside its
 * value on the other; two types of the key; two MV-register values; two
 * slot values (joined by the type's merge). */
START_TEST(test_ormap_conflict_one_key)
{
    crdt_ormap *s = crdt_ormap_new(NULL, NULL), *a, *b, *ab;
    const crdt_lww *r;
    const uint8_t *p;
    size_t len;
    int places;

    /* presence vs value: a adds "e" to "k" (value (1, 1), presence
     * (1, 2)); b removes an absent element, which makes no value dot
     * (presence (1, 1)); (1, 2) stays, the set is left empty */
    a = crdt_ormap_clone(s);
    b = crdt_ormap_clone(s);
    tu_must(os_add(a, 1, "k", "e", NULL), "add");
    tu_must(crdt_ormap_update(b, 1, "k", 1, crdt_orset_type(), om_rm_fn,
                              (void *)(uintptr_t)"none", NULL),
            "remove");
    ab = om_both_ways(a, b, &places);
    ck_assert_int_eq(places, 1);
    ck_assert_uint_eq(crdt_orset_size(om_val(ab, "k", crdt_orset_type())),
                      0);
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(ab);
    /* two types: an OR-set's (1, 1) element and (1, 2) presence against
     * an MV-register's (1, 1) value and (1, 2) presence: all go */
    a = crdt_ormap_clone(s);
    b = crdt_ormap_clone(s);
    tu_must(os_add(a, 1, "k", "e", NULL), "add");
    om_mv(b, "k", "v");
    ab = om_both_ways(a, b, &places);
    ck_assert_int_eq(places, 2);
    ck_assert_uint_eq(crdt_ormap_size(ab), 0);
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(ab);
    /* two MV-register values under (1, 1): the greater bytes */
    a = crdt_ormap_clone(s);
    b = crdt_ormap_clone(s);
    om_mv(a, "k", "tea");
    om_mv(b, "k", "coffee");
    ab = om_both_ways(a, b, &places);
    ck_assert_int_eq(places, 0);
    ck_assert_uint_eq(crdt_mvreg_count(om_val(ab, "k", crdt_mvreg_type())),
                      1);
    ck_assert_int_eq(crdt_mvreg_get(om_val(ab, "k", crdt_mvreg_type()), 0,
                                    NULL, &p, &len),
                     CRDT_OK);
    ck_assert(len == 3 && memcmp(p, "tea", 3) == 0);
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(ab);
    /* two slot values under (1, 1): their join (a counter's max, an LWW
     * register's later write) */
    a = crdt_ormap_clone(s);
    b = crdt_ormap_clone(s);
    tu_must(inc(a, 1, "c", 5, NULL), "inc");
    tu_must(inc(b, 1, "c", 7, NULL), "inc");
    tu_must(set_lww(a, 1, "r", 3, "y", NULL), "lww");
    tu_must(set_lww(b, 1, "r", 3, "x", NULL), "lww");
    ab = om_both_ways(a, b, &places);
    ck_assert_int_eq(places, 0);
    ck_assert_uint_eq(count(ab, "c"), 7);
    r = om_val(ab, "r", crdt_lww_type());
    ck_assert_int_eq(crdt_lww_value(r, &p, &len), CRDT_OK);
    ck_assert(len == 1 && p[0] == 'y');
    crdt_ormap_free(a);
    crdt_ormap_free(b);
    crdt_ormap_free(ab);
    crdt_ormap_free(s);
}
END_TEST

/* The join laws on a, b, c with bytes, the invariants, round trips, and
 * the rule on a + b. */
static void om_conflict_laws(const crdt_ormap *a, const crdt_ormap *b,
                             const crdt_ormap *c, int *places,
                             int *payloads, long k)
{
    crdt_ormap *ab = merged(a, b), *ba = merged(b, a);
    crdt_ormap *ab_c = merged(ab, c), *bc = merged(b, c);
    crdt_ormap *a_bc = merged(a, bc), *aa = merged(a, a);
    crdt_ormap *abb = merged(ab, b), *y = crdt_ormap_new(NULL, NULL);
    crdt_buf e;

    tu_expect_k(crdt_ormap_equal(ab, ba), "not commutative", k);
    tu_expect_k(same_bytes(ab, ba), "commutative, but not the bytes", k);
    tu_expect_k(crdt_ormap_equal(ab_c, a_bc), "not associative", k);
    tu_expect_k(same_bytes(ab_c, a_bc), "associative, but not the bytes",
                k);
    tu_expect_k(crdt_ormap_equal(aa, a), "not idempotent", k);
    tu_expect_k(crdt_ormap_equal(abb, ab), "not absorbing", k);
    check_invariants(ab);
    check_invariants(ab_c);
    encode(ab_c, &e);
    tu_must_k(crdt_ormap_decode(y, e.data, e.len, NULL, NULL), "decode", k);
    tu_expect_k(crdt_ormap_equal(y, ab_c) && same_bytes(y, ab_c),
                "round trip", k);
    crdt_buf_clear(&e);
    *places += om_pair_model(a, b, ab, payloads, k);
    crdt_ormap_free(ab);
    crdt_ormap_free(ba);
    crdt_ormap_free(ab_c);
    crdt_ormap_free(bc);
    crdt_ormap_free(a_bc);
    crdt_ormap_free(aa);
    crdt_ormap_free(abb);
    crdt_ormap_free(y);
}

START_TEST(test_ormap_property_conflicts)
{
    tu_rng rng;
    pctx p;
    long n = tu_cases(10000), c, with_places = 0, with_payloads = 0;
    long nplaces = 0, npayloads = 0;

    tu_rng_init(&rng, tu_seed("ormap") ^ 0x5);
    memset(&p, 0, sizeof p);
    p.rng = &rng;
    for (c = 0; c < n; c++) {
        crdt_ormap *base = crdt_ormap_new(NULL, NULL), *rep[3], *log[12];
        int i, j, step, nlog = 0, places = 0, payloads = 0;
        bool removed = false;

        random_schema(&p, c);
        for (i = (int)tu_below(&rng, 6); i > 0; i--)
            random_op(&p, base, 1 + tu_below(&rng, 3), NULL, &removed);
        for (i = 0; i < 3; i++)
            rep[i] = crdt_ormap_clone(base);
        for (step = 6 + (int)tu_below(&rng, 20); step > 0; step--) {
            int op = (int)tu_below(&rng, 20);

            j = (int)tu_below(&rng, 3);
            if (op < 15) {
                /* an op by one of two actors every replica uses */
                crdt_ormap *d = nlog < 12 ? crdt_ormap_new(NULL, NULL)
                                          : NULL;

                random_op(&p, rep[j], 1 + tu_below(&rng, 2), d, &removed);
                if (d)
                    log[nlog++] = d;
            } else if (op < 17 || nlog == 0) {
                tu_must_k(crdt_ormap_merge(rep[j], rep[tu_below(&rng, 3)]),
                          "merge", c);
            } else {
                tu_must_k(crdt_ormap_merge(rep[j],
                                           log[tu_below(&rng,
                                                        (uint64_t)nlog)]),
                          "merge delta", c);
            }
        }
        om_conflict_laws(rep[0], rep[1], rep[2], &places, &payloads, c);
        om_conflict_laws(rep[2], base, rep[0], &places, &payloads, c);
        if (nlog >= 2)
            om_conflict_laws(log[0], log[nlog - 1], rep[1], &places,
                             &payloads, c);
        if (nlog >= 1)
            om_conflict_laws(rep[1], log[tu_below(&rng, (uint64_t)nlog)],
                             rep[2], &places, &payloads, c);
        with_places += places > 0;
        with_payloads += payloads > 0;
        nplaces += places;
        npayloads += payloads;
        for (i = 0; i < 3; i++)
            crdt_ormap_free(rep[i]);
        for (i = 0; i < nlog; i++)
            crdt_ormap_free(log[i]);
        crdt_ormap_free(base);
    }
    fprintf(stderr,
            "ormap: %ld conflict cases, %ld with a dot at two places (%ld "
            "dots), %ld with a dot of two payloads at one place (%ld)\n",
            n, with_places, nplaces, with_payloads, npayloads);
    if (n >= 100) {
        tu_expect(with_places > n / 4, "too few cases with two places");
        tu_expect(with_payloads > n / 20, "too few cases with two payloads");
    }
}
END_TEST

/* The same on maps of 20-40 keys and deltas of replicas that share actor
 * ids: each delta merged into a replica by the small merge (the path
 * through the dot index) equals the full pass and the merge the other way
 * round, byte for byte, and follows the rule. */
START_TEST(test_ormap_property_small_conflicts)
{
    tu_rng rng;
    long cases = tu_cases(10000) / 50, c, nmerge = 0;
    int places = 0, payloads = 0;
    pctx p;

    memset(&p, 0, sizeof p);
    p.rng = &rng;
    tu_rng_init(&rng, tu_seed("ormap") ^ 0x6);
    for (c = 0; c < cases; c++) {
        crdt_ormap *r[3], *pool[SM_POOL];
        int vts[SM_KEYS], nk = 20 + (int)tu_below(&rng, SM_KEYS - 19);
        int i, step, npool = 0;

        random_schema(&p, c);
        for (i = 0; i < nk; i++)
            vts[i] = (int)tu_below(&rng, VT_COUNT);
        for (i = 0; i < 3; i++)
            r[i] = crdt_ormap_new(NULL, NULL);
        for (i = 0; i < 3 * nk; i++)
            sm_op(&p, vts, nk, r[i % 3], (crdt_actor)(i % 3) + 1, NULL);
        for (i = 0; i < 3; i++)
            tu_must(crdt_ormap_merge(r[i], r[(i + 1) % 3]), "exchange");
        /* ops by two actors every replica uses, their deltas merged into
         * other replicas out of order */
        for (step = 0; step < 60; step++) {
            int x = (int)tu_below(&rng, 3);

            if (tu_below(&rng, 2) && npool < SM_POOL) {
                crdt_ormap *d = crdt_ormap_new(NULL, NULL);

                sm_op(&p, vts, nk, r[x], 1 + tu_below(&rng, 2), d);
                pool[npool++] = d;
            } else if (npool) {
                const crdt_ormap *d = pool[tu_below(&rng, (uint64_t)npool)];
                crdt_ormap *pre = crdt_ormap_clone(r[x]);
                crdt_ormap *rev = merged(d, r[x]);

                sm_merge_check(r[x], d, c);
                tu_expect_k(crdt_ormap_equal(r[x], rev) && same_bytes(r[x], rev),
                            "small merge != the other way round", c);
                places += om_pair_model(pre, d, r[x], &payloads, c);
                check_invariants(r[x]);
                crdt_ormap_free(pre);
                crdt_ormap_free(rev);
                nmerge++;
            }
        }
        for (i = 0; i < 3; i++)
            crdt_ormap_free(r[i]);
        for (i = 0; i < npool; i++)
            crdt_ormap_free(pool[i]);
    }
    fprintf(stderr,
            "ormap: %ld small-merge conflict cases, %ld delta merges, %d "
            "dots at two places, %d of two payloads at one place\n",
            cases, nmerge, places, payloads);
    /* about 0.1 dots of two payloads a case: from 100 cases, none would
     * say the generator no longer makes them (at 60 cases, 0.3% of seeds
     * saw none) */
    if (cases >= 100)
        tu_expect(places > 0 && payloads > 0, "too few conflicts");
}
END_TEST

/* ---------------------------------------------------------------- slots */

/*
 * Small deltas into one key of many plain slots, the gossip engine's
 * workload (each of its keys is a one-entry map of a counter): W writers
 * (actors 1..W, W up to PS_W) update the key on their own replicas,
 * remove it (the remove drops every slot the writer has seen, and the
 * writer's next update re-adds the key from empty: a slot that does not
 * contain the one of the same actor it supersedes), reset it (a remove
 * and a re-add in one delta) and take in the hub's state or another
 * writer's.  A few writers are busy, the others hold a slot each.  Their
 * deltas, alone or as groups of one writer's consecutive deltas, reach
 * the hub mostly in order, out of order and again.  Every merge into the
 * hub (a small source into a small map: merged in place) is checked
 * against a model (each actor's count is the largest of its live
 * slots'), against the full pass (the same delta joined with PS_PAD
 * other keys, which makes it too large for the small path),
 * against the merge the other way round, and the value the hub lends
 * against the join of its slots recomputed by a decode.
 */
#define PS_W 70     /* writers at most: actors 1..PS_W */
#define PS_C 60     /* dots per writer at most (bits of the model) */
#define PS_POOL 48  /* deltas kept for (re)delivery */
#define PS_PAD 9    /* keys joined to a delta to force the full pass */

typedef struct psm {
    uint64_t ctx[PS_W + 1];  /* bit c - 1: the dot (a, c) is seen */
    uint64_t live[PS_W + 1]; /* bit c - 1: the slot (a, c) is held */
} psm;

typedef struct psd { /* a delta of the pool: the map and its model */
    crdt_ormap *m;
    psm md;
    int writer;
    long seq;     /* the order deltas were made in */
    bool removes; /* a remove's */
    bool sent;    /* delivered once */
} psd;

/* v[a][c]: the count in actor a's slot of dot (a, c) (dots are unique). */
typedef struct ps_cnt {
    uint64_t v[PS_W + 1][PS_C + 1];
} ps_cnt;

static void ps_merge(psm *d, const psm *s)
{
    int a;

    for (a = 1; a <= PS_W; a++) {
        uint64_t A = d->live[a], B = s->live[a];

        d->live[a] = (A & B) | (A & ~s->ctx[a]) | (B & ~d->ctx[a]);
        d->ctx[a] |= s->ctx[a];
    }
}

/* Actor a's count in model r: the largest of its live slots'. */
static uint64_t ps_count(const psm *r, const ps_cnt *cnt, int a)
{
    uint64_t c = 0;
    int i;

    for (i = 0; i < PS_C; i++)
        if ((r->live[a] >> i & 1) && cnt->v[a][i + 1] > c)
            c = cnt->v[a][i + 1];
    return c;
}

static size_t ps_slots(const psm *r)
{
    size_t n = 0;
    int a;

    for (a = 1; a <= PS_W; a++)
        n += (size_t)popcount64(r->live[a]);
    return n;
}

/* m holds what model r says: presence and every actor's count. */
static void ps_check(const crdt_ormap *m, const psm *r, const ps_cnt *cnt,
                     int w, long c)
{
    const void *v;
    uint64_t total = 0, x;
    int a;

    if (ps_slots(r) == 0) {
        tu_expect_k(!crdt_ormap_contains(m, "", 0), "absent as in model", c);
        return;
    }
    tu_must_k(crdt_ormap_get(m, "", 0, NULL, &v), "present as in model", c);
    for (a = 1; a <= w; a++) {
        x = ps_count(r, cnt, a);
        total += x;
        if (crdt_gcounter_get(v, (crdt_actor)a) != x)
            ck_abort_msg("case %ld actor %d: %llu, model %llu", c, a,
                         (unsigned long long)crdt_gcounter_get(
                             v, (crdt_actor)a),
                         (unsigned long long)x);
    }
    tu_expect_k(crdt_gcounter_value(v) == total, "total as in model", c);
}

/* The value m lends for key k equals the one of n (either absent). */
static bool same_value(const crdt_ormap *m, const crdt_ormap *n,
                       const char *k)
{
    const crdt_type *t1, *t2;
    const void *v1, *v2;
    int r1 = crdt_ormap_get(m, k, strlen(k), &t1, &v1);
    int r2 = crdt_ormap_get(n, k, strlen(k), &t2, &v2);

    if (r1 != r2)
        return false;
    return r1 != CRDT_OK || (t1 == t2 && t1->equal(v1, v2));
}

/* Merges d into the hub with every check of the header comment. */
static void ps_deliver(crdt_ormap *hub, psm *mh, const crdt_ormap *d,
                       const psm *md, const crdt_ormap *pad, const ps_cnt *cnt,
                       int w, long c)
{
    crdt_ormap *pre = crdt_ormap_clone(hub), *dp = crdt_ormap_clone(d);
    crdt_ormap *dec = crdt_ormap_new(NULL, NULL), *rev;
    crdt_buf e;

    tu_expect_k(pre && dp && dec, "clone", c);
    tu_must_k(crdt_ormap_merge(hub, d), "merge", c);
    ps_merge(mh, md);
    ps_check(hub, mh, cnt, w, c);
    check_invariants(hub);
    /* the value the hub lends: the join of its slots, as a decode makes
     * it from them */
    encode(hub, &e);
    tu_must_k(crdt_ormap_decode(dec, e.data, e.len, NULL, NULL), "decode",
              c);
    crdt_buf_clear(&e);
    tu_expect_k(crdt_ormap_equal(dec, hub) && same_value(dec, hub, ""),
                "lent value == join of the slots", c);
    /* the full pass: the delta with PS_PAD more keys, into the state
     * before; the hub joined with the same keys */
    tu_must_k(crdt_ormap_merge(dp, pad), "pad", c);
    tu_must_k(crdt_ormap_merge(pre, dp), "full merge", c);
    tu_must_k(crdt_ormap_merge(dec, pad), "pad", c);
    tu_expect_k(crdt_ormap_equal(pre, dec) && same_bytes(pre, dec) &&
                    same_value(pre, hub, ""),
                "small merge == full merge", c);
    /* the other way round */
    rev = merged(d, hub);
    tu_expect_k(crdt_ormap_equal(rev, hub) && same_bytes(rev, hub) &&
                    same_value(rev, hub, ""),
                "commutative", c);
    crdt_ormap_free(rev);
    crdt_ormap_free(pre);
    crdt_ormap_free(dp);
    crdt_ormap_free(dec);
}

START_TEST(test_ormap_property_slots)
{
    tu_rng rng;
    long cases = tu_cases(10000) / 50, c, ndel = 0, ngroup = 0, nrm = 0;
    long nreadd = 0, nshrink = 0, nmany = 0;
    ps_cnt *cnt = malloc(sizeof *cnt);
    psm *mw = malloc((PS_W + 1) * sizeof *mw), *mh = malloc(sizeof *mh);
    crdt_ormap *pad = crdt_ormap_new(NULL, NULL);
    int i;

    tu_rng_init(&rng, tu_seed("ormap") ^ 0x7);
    tu_expect(cnt && mw && mh && pad, "alloc");
    for (i = 0; i < PS_PAD; i++) {
        char k[3] = {'p', (char)('0' + i), 0};

        tu_must(inc(pad, 1000, k, 1, NULL), "pad");
    }
    for (c = 0; c < cases; c++) {
        int w = 1 + (int)tu_below(&rng, PS_W), a, step, npool = 0;
        int steps = 100 + (int)tu_below(&rng, 300);
        crdt_ormap *wr[PS_W + 1], *hub = crdt_ormap_new(NULL, NULL);
        psd pool[PS_POOL];
        bool removed[PS_W + 1];

        memset(cnt, 0, sizeof *cnt);
        memset(mh, 0, sizeof *mh);
        for (a = 1; a <= w; a++) {
            wr[a] = crdt_ormap_new(NULL, NULL);
            memset(&mw[a], 0, sizeof mw[a]);
            removed[a] = false;
        }
        for (step = 0; step < steps; step++) {
            int x = (int)tu_below(&rng, 100), by;
            psd *p;

            /* a few busy writers, among many that hold a slot */
            a = 1 + (int)tu_below(&rng, tu_below(&rng, 3)
                                            ? (uint64_t)(w < 4 ? w : 4)
                                            : (uint64_t)w);
            if (x < 35 && npool) { /* deliver a delta, or a group */
                psd *q = &pool[tu_below(&rng, (uint64_t)npool)];
                crdt_ormap *g = NULL;
                psm mg;
                int j, more = 0;

                if (tu_below(&rng, 2)) /* in order, half the time */
                    for (j = 0; j < npool; j++)
                        if (!pool[j].sent &&
                            (q->sent || pool[j].seq < q->seq))
                            q = &pool[j];
                q->sent = true;

                if (tu_below(&rng, 3) == 0) { /* q, its writer's next */
                    long after;

                    for (j = 0; j < npool && tu_below(&rng, 2); j++)
                        if (pool[j].removes) { /* a remove and what follows */
                            q = &pool[j];
                            break;
                        }
                    after = q->seq;

                    g = crdt_ormap_clone(q->m);
                    mg = q->md;
                    while (more < 2) {
                        const psd *nx = NULL;

                        for (j = 0; j < npool; j++)
                            if (pool[j].writer == q->writer &&
                                pool[j].seq > after &&
                                (!nx || pool[j].seq < nx->seq))
                                nx = &pool[j];
                        if (!nx)
                            break;
                        tu_must_k(crdt_ormap_merge(g, nx->m), "group", c);
                        ps_merge(&mg, &nx->md);
                        after = nx->seq;
                        more++;
                    }
                    ngroup += more > 0;
                }
                {
                    psm before = *mh;

                    ps_deliver(hub, mh, g ? g : q->m, g ? &mg : &q->md,
                               pad, cnt, w,
                               c);
                    /* a slot superseded by a smaller one of its actor */
                    for (j = 1; j <= w; j++)
                        if ((before.live[j] & ~mh->live[j]) &&
                            (mh->live[j] & ~before.live[j]) &&
                            ps_count(mh, cnt, j) < ps_count(&before, cnt, j))
                            nshrink++;
                }
                nmany += ps_slots(mh) >= 16;
                ndel++;
                crdt_ormap_free(g);
                continue;
            }
            if (x < 40) { /* the writer takes in the hub or another */
                int b = 1 + (int)tu_below(&rng, (uint64_t)w);
                bool h = tu_below(&rng, 2);

                tu_must_k(crdt_ormap_merge(wr[a], h ? hub : wr[b]),
                          "take in", c);
                ps_merge(&mw[a], h ? mh : &mw[b]);
                continue;
            }
            if (npool == PS_POOL) { /* room: drop a delivered delta */
                int j = (int)tu_below(&rng, PS_POOL), k;

                for (k = 0; k < PS_POOL && !pool[j].sent; k++)
                    j = (j + 1) % PS_POOL;

                crdt_ormap_free(pool[j].m);
                pool[j] = pool[--npool];
            }
            p = &pool[npool];
            memset(&p->md, 0, sizeof p->md);
            p->writer = a;
            p->seq = step;
            p->sent = false;
            p->m = crdt_ormap_new(NULL, NULL);
            p->removes = x < 52;
            if (p->removes) { /* remove: every slot the writer holds */
                int b;

                tu_must_k(crdt_ormap_remove(wr[a], "", 0, p->m), "rm", c);
                for (b = 1; b <= PS_W; b++) {
                    p->md.ctx[b] = mw[a].live[b];
                    mw[a].live[b] = 0;
                }
                removed[a] = true;
                nrm++;
            }
            if (!p->removes || x >= 46) { /* increment (after: a reset) */
                uint64_t old = mw[a].live[a];
                uint64_t cur = ps_count(&mw[a], cnt, a);
                int top = top_bit(mw[a].ctx[a]);

                if (top >= PS_C && !p->removes) { /* this writer is done */
                    crdt_ormap_free(p->m);
                    continue;
                }
                if (top < PS_C) {
                    by = removed[a] ? 1 : 1 + (int)tu_below(&rng, 3);
                    tu_must_k(inc(wr[a], (crdt_actor)a, "", (uint64_t)by,
                                  p->m),
                              "inc", c);
                    cnt->v[a][top + 1] = cur + (uint64_t)by;
                    p->md.ctx[a] |= old | 1ull << top;
                    p->md.live[a] = 1ull << top;
                    mw[a].ctx[a] |= 1ull << top;
                    mw[a].live[a] = 1ull << top;
                    nreadd += removed[a];
                    removed[a] = false;
                }
            }
            npool++;
        }
        /* everything to the hub, then every writer's state */
        for (i = 0; i < npool; i++)
            ps_deliver(hub, mh, pool[i].m, &pool[i].md, pad,
                       cnt, w, c);
        for (a = 1; a <= w; a++)
            ps_deliver(hub, mh, wr[a], &mw[a], pad,
                       cnt, w, c);
        for (i = 0; i < npool; i++)
            crdt_ormap_free(pool[i].m);
        for (a = 1; a <= w; a++)
            crdt_ormap_free(wr[a]);
        crdt_ormap_free(hub);
    }
    fprintf(stderr,
            "ormap: %ld slot cases, %ld deliveries (%ld of groups, %ld "
            "into 16 slots or more), %ld removes, %ld re-adds, %ld slots "
            "replaced by smaller ones\n",
            cases, ndel, ngroup, nmany, nrm, nreadd, nshrink);
    if (cases >= 20)
        tu_expect(ngroup > 0 && nmany > 0 && nreadd > 0 && nshrink > 0,
                  "the workload reaches every case");
    crdt_ormap_free(pad);
    free(cnt);
    free(mw);
    free(mh);
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
    OP_MERGE_CLASH,      /* a map reusing base's dots elsewhere, into base */
    OP_SMALL_MERGE,      /* a delta group into big, its dot index built */
    OP_SMALL_MERGE_FIRST, /* the same, the index built by the call */
    OP_SMALL_UPDATE,     /* an update of big, its dot index built */
    OP_SMALL_MERGE_CLASH, /* deltas reusing big's dots, into big */
    OP_DECODE_BIG,       /* big decoded: causal values with many dots */
    /* deltas into slots (keys of many counter slots), which edit the
     * slots in place and update the value by a join, or recompute it */
    OP_SLOTS_REPLACE,    /* a slot superseded by its actor's next */
    OP_SLOTS_ADD,        /* a new actor's slot: the value grows */
    OP_SLOTS_RESET,      /* removed and re-added: the value recomputed */
    OP_SLOTS_GROUP,      /* three actors' slots at once */
    OP_SLOTS_TWO,        /* two keys' slots at once */
    OP_SLOTS_FULL,       /* the same through the full pass */
    OP_SLOTS_CLASH,      /* one dot, two payloads: the slot joined */
    OP_COUNT
};

/* Whether op runs on the fixture's big map (the small-merge path). */
static bool nomem_big(int op)
{
    return op >= OP_SMALL_MERGE && op <= OP_DECODE_BIG;
}

/* Whether op merges into the fixture's slots map. */
static bool nomem_slots(int op)
{
    return op >= OP_SLOTS_REPLACE;
}

/* Whether the values a and b lend are equal, key by key. */
static bool same_values(const crdt_ormap *a, const crdt_ormap *b)
{
    size_t i, n = crdt_ormap_size(a);

    if (crdt_ormap_size(b) != n)
        return false;
    for (i = 0; i < n; i++) {
        const uint8_t *k1, *k2;
        const crdt_type *t1, *t2;
        const void *v1, *v2;
        size_t l1, l2;

        if (crdt_ormap_entry(a, i, &k1, &l1, &t1, &v1) != CRDT_OK ||
            crdt_ormap_entry(b, i, &k2, &l2, &t2, &v2) != CRDT_OK ||
            l1 != l2 || memcmp(k1, k2, l1) != 0 || t1 != t2 ||
            !t1->equal(v1, v2))
            return false;
    }
    return true;
}

/* The states every run of test_ormap_nomem_all starts from. */
typedef struct nomem_fixture {
    crdt_ormap *base;  /* counters, an LWW, a nested map */
    crdt_ormap *other; /* base with a key removed, others updated, added */
    crdt_buf enc;      /* base encoded */
    crdt_ormap *big;   /* 24 keys: merges of small sources into it take
                        * the path through the dot index */
    crdt_ormap *group; /* a delta group of updates and removes on big */
    crdt_buf bigenc;   /* big encoded */
    crdt_ormap *clash; /* actor 1's dots of base at other places */
    crdt_ormap *clashgroup; /* deltas with dots of big's elsewhere */
    crdt_ormap *slots; /* "" of 16 counter slots, "b" of 4 */
    crdt_buf slotsenc; /* slots encoded */
    crdt_ormap *sd[OP_COUNT - OP_SLOTS_REPLACE]; /* the deltas */
} nomem_fixture;

static void nomem_setup(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;

    c->a = crdt_ormap_new(NULL, &c->tm->mem);
    c->d = crdt_ormap_new(NULL, &c->tm->mem);
    if (nomem_slots(c->op)) {
        tu_must(crdt_ormap_decode(c->a, f->slotsenc.data, f->slotsenc.len,
                                  NULL, NULL),
                "decode");
        return;
    }
    if (nomem_big(c->op)) {
        crdt_ormap *none = crdt_ormap_new(NULL, NULL);
        int i, primes = c->op == OP_SMALL_MERGE_FIRST ? 1 : 2;

        tu_must(crdt_ormap_decode(c->a, f->bigenc.data, f->bigenc.len, NULL,
                                  NULL),
                "decode");
        /* small merges: the second into a map builds its index */
        for (i = 0; i < primes; i++)
            tu_must(crdt_ormap_merge(c->a, none), "prime");
        crdt_ormap_free(none);
        return;
    }
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
    case OP_SMALL_MERGE:
    case OP_SMALL_MERGE_FIRST:
        return crdt_ormap_merge(a, f->group);
    case OP_SMALL_UPDATE:
        return os_add(a, 4, "sa7", "new", d);
    case OP_MERGE_CLASH:
        return crdt_ormap_merge(a, f->clash);
    case OP_SMALL_MERGE_CLASH:
        return crdt_ormap_merge(a, f->clashgroup);
    case OP_DECODE_BIG:
        return crdt_ormap_decode(d, f->bigenc.data, f->bigenc.len, NULL,
                                 NULL);
    default:
        if (nomem_slots(c->op))
            return crdt_ormap_merge(a, f->sd[c->op - OP_SLOTS_REPLACE]);
    }
    return CRDT_ERR_INVALID_ARG;
}

static void nomem_failed(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;
    const crdt_ormap *was = nomem_slots(c->op) ? f->slots
                            : nomem_big(c->op) ? f->big
                                               : f->base;

    ck_assert(crdt_ormap_equal(c->a, was));
    ck_assert(same_values(c->a, was)); /* which equal does not read */
}

static void nomem_succeeded(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;

    if (c->op == OP_MERGE) {
        crdt_ormap *want = merged(f->base, f->other);

        ck_assert(crdt_ormap_equal(c->a, want));
        crdt_ormap_free(want);
    } else if (c->op == OP_SMALL_MERGE || c->op == OP_SMALL_MERGE_FIRST) {
        crdt_ormap *want = merged(f->big, f->group); /* the full pass */

        ck_assert(crdt_ormap_equal(c->a, want));
        ck_assert(same_bytes(c->a, want));
        ck_assert_uint_eq(crdt_ormap_size(c->a), crdt_ormap_size(want));
        crdt_ormap_free(want);
    } else if (c->op == OP_MERGE_CLASH ||
               c->op == OP_SMALL_MERGE_CLASH) {
        bool big = c->op == OP_SMALL_MERGE_CLASH;
        int pay = 0;
        crdt_ormap *want = merged(big ? f->big : f->base,
                                  big ? f->clashgroup : f->clash);
        crdt_ormap *rev = merged(big ? f->clashgroup : f->clash,
                                 big ? f->big : f->base);

        ck_assert(crdt_ormap_equal(c->a, want));
        ck_assert(same_bytes(c->a, rev));
        check_invariants(c->a);
        /* the fixture does reuse dots at other places */
        ck_assert_int_gt(om_pair_model(big ? f->big : f->base,
                                       big ? f->clashgroup : f->clash, c->a,
                                       &pay, 0),
                         0);
        crdt_ormap_free(want);
        crdt_ormap_free(rev);
    } else if (c->op == OP_COPY || c->op == OP_DECODE) {
        ck_assert(crdt_ormap_equal(c->d, f->base));
    } else if (c->op == OP_DECODE_BIG) {
        ck_assert(crdt_ormap_equal(c->d, f->big));
    } else if (nomem_slots(c->op)) {
        const crdt_ormap *sd = f->sd[c->op - OP_SLOTS_REPLACE];
        crdt_ormap *want = merged(sd, f->slots); /* the other way round */
        crdt_ormap *dec = crdt_ormap_new(NULL, NULL);
        crdt_buf e;

        ck_assert(crdt_ormap_equal(c->a, want));
        ck_assert(same_bytes(c->a, want));
        ck_assert(same_values(c->a, want));
        /* the lent values: the join of the slots, as a decode makes it */
        encode(c->a, &e);
        tu_must(crdt_ormap_decode(dec, e.data, e.len, NULL, NULL), "decode");
        ck_assert(same_values(c->a, dec));
        crdt_buf_clear(&e);
        crdt_ormap_free(dec);
        crdt_ormap_free(want);
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
    f.big = crdt_ormap_new(NULL, NULL);
    f.group = crdt_ormap_new(NULL, NULL);
    for (i = 0; i < 24; i++) {
        char k[4] = {'s', (char)('a' + i / 10), (char)('0' + i % 10), 0};

        if (i % 3 == 0)
            tu_must(nest_inc(f.big, 1, k, "in", 1, NULL), "nest");
        else if (i % 3 == 1)
            tu_must(os_add(f.big, 2, k, "x", NULL), "orset");
        else
            tu_must(inc(f.big, 3, k, 1, NULL), "inc");
    }
    for (i = 0; i < 40; i++) { /* an update of sa7 then grows the index */
        char e[4] = {'e', (char)('0' + i / 10), (char)('0' + i % 10), 0};

        tu_must(os_add(f.big, 2, "sa7", e, NULL), "orset");
    }
    {
        crdt_ormap *r = crdt_ormap_clone(f.big);

        /* an update, a nested update, removes of each kind, a new key */
        tu_must(inc(r, 4, "sa2", 5, f.group), "group inc");
        tu_must(nest_inc(r, 4, "sa3", "in", 1, f.group), "group nest");
        tu_must(crdt_ormap_remove(r, "sa4", 3, f.group), "group rm");
        tu_must(crdt_ormap_remove(r, "sb5", 3, f.group), "group rm");
        tu_must(crdt_ormap_remove(r, "sa6", 3, f.group), "group rm");
        tu_must(inc(r, 4, "new", 1, f.group), "group new");
        crdt_ormap_free(r);
    }
    encode(f.big, &f.bigenc);
    f.other = crdt_ormap_clone(f.base);
    tu_must(crdt_ormap_remove(f.other, "k1", 2, NULL), "remove");
    tu_must(inc(f.other, 2, "k2", 9, NULL), "inc");
    tu_must(inc(f.other, 2, "new", 9, NULL), "inc");
    tu_must(nest_inc(f.other, 2, "nest", "in2", 3, NULL), "nest");
    /* actor 1 again from nothing: base's dots (1, 1), (1, 2), ... under
     * other keys and in values; actors 2 and 3 again on big: its dots at
     * other places (an element of sa1, a key's slot) and at the same */
    f.clash = crdt_ormap_new(NULL, NULL);
    tu_must(os_add(f.clash, 1, "k3", "a value longer than sixteen", NULL),
            "clash");
    tu_must(nest_inc(f.clash, 1, "k0", "in", 7, NULL), "clash");
    tu_must(inc(f.clash, 1, "lww", 2, NULL), "clash");
    f.clashgroup = crdt_ormap_new(NULL, NULL);
    {
        crdt_ormap *r = crdt_ormap_new(NULL, NULL);

        tu_must(os_add(r, 2, "sa1", "zz", f.clashgroup), "clash");
        tu_must(inc(r, 3, "new2", 1, f.clashgroup), "clash");
        tu_must(nest_inc(r, 3, "sa0", "in", 2, f.clashgroup), "clash");
        crdt_ormap_free(r);
    }
    /* slots: "" counted by actors 1..16 (2 each), then actor 3 again (its
     * slot (3, 2) holds 3); "b" by actors 1..4 */
    f.slots = crdt_ormap_new(NULL, NULL);
    for (i = 1; i <= 16; i++)
        tu_must(inc(f.slots, (crdt_actor)i, "", 2, NULL), "slots");
    for (i = 1; i <= 4; i++)
        tu_must(inc(f.slots, (crdt_actor)i, "b", 1, NULL), "slots");
    {
        crdt_ormap *pre = crdt_ormap_clone(f.slots), *r;

        tu_must(inc(f.slots, 3, "", 1, NULL), "slots");
        for (i = 0; i < OP_COUNT - OP_SLOTS_REPLACE; i++)
            f.sd[i] = crdt_ormap_new(NULL, NULL);
        r = crdt_ormap_clone(f.slots);
        tu_must(inc(r, 5, "", 1, f.sd[OP_SLOTS_REPLACE - OP_SLOTS_REPLACE]),
                "replace");
        tu_must(inc(r, 17, "", 1, f.sd[OP_SLOTS_ADD - OP_SLOTS_REPLACE]),
                "add");
        crdt_ormap_free(r);
        r = crdt_ormap_new(NULL, NULL); /* saw actor 7's slot only */
        tu_must(inc(r, 7, "", 2, NULL), "reset");
        tu_must(crdt_ormap_remove(r, "", 0,
                                  f.sd[OP_SLOTS_RESET - OP_SLOTS_REPLACE]),
                "reset");
        tu_must(inc(r, 7, "", 1, f.sd[OP_SLOTS_RESET - OP_SLOTS_REPLACE]),
                "reset");
        crdt_ormap_free(r);
        r = crdt_ormap_clone(f.slots);
        for (i = 2; i <= 9; i += 3)
            tu_must(inc(r, (crdt_actor)i, "", 1,
                        f.sd[OP_SLOTS_GROUP - OP_SLOTS_REPLACE]),
                    "group");
        tu_must(inc(r, 1, "", 1, f.sd[OP_SLOTS_TWO - OP_SLOTS_REPLACE]),
                "two");
        tu_must(inc(r, 2, "b", 1, f.sd[OP_SLOTS_TWO - OP_SLOTS_REPLACE]),
                "two");
        tu_must(crdt_ormap_merge(f.sd[OP_SLOTS_FULL - OP_SLOTS_REPLACE],
                                 f.sd[OP_SLOTS_TWO - OP_SLOTS_REPLACE]),
                "full");
        for (i = 0; i < 9; i++) { /* too many keys for the small path */
            char k[3] = {'p', (char)('0' + i), 0};

            tu_must(inc(r, 99, k, 1, f.sd[OP_SLOTS_FULL - OP_SLOTS_REPLACE]),
                    "full");
        }
        crdt_ormap_free(r);
        /* actor 3 again from before its second update: (3, 2) holds 7 */
        tu_must(inc(pre, 3, "", 5, f.sd[OP_SLOTS_CLASH - OP_SLOTS_REPLACE]),
                "clash");
        crdt_ormap_free(pre);
    }
    encode(f.slots, &f.slotsenc);
    encode(f.base, &f.enc);
    tu_nomem_run(&ops);
    for (i = 0; i < OP_COUNT - OP_SLOTS_REPLACE; i++)
        crdt_ormap_free(f.sd[i]);
    crdt_ormap_free(f.slots);
    crdt_buf_clear(&f.slotsenc);
    crdt_ormap_free(f.clash);
    crdt_ormap_free(f.clashgroup);
    crdt_buf_clear(&f.enc);
    crdt_buf_clear(&f.bigenc);
    crdt_ormap_free(f.big);
    crdt_ormap_free(f.group);
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
    tcase_add_test(tc, test_ormap_basic_slots);
    tcase_add_test(tc, test_ormap_basic_no_tombstones);
    tcase_add_test(tc, test_ormap_basic_context_contains);
    tcase_add_test(tc, test_ormap_basic_nested);
    tcase_add_test(tc, test_ormap_basic_depth);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_ormap_codec_bytes);
    tcase_add_test(tc, test_ormap_codec_removed);
    tcase_add_test(tc, test_ormap_codec_slots);
    tcase_add_test(tc, test_ormap_codec_builtins);
    tcase_add_test(tc, test_ormap_codec_reject);
    tcase_add_test(tc, test_ormap_codec_depth);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_loop_test(tc, test_ormap_merge_add_wins, 0, 2 * N_AW);
    tcase_add_test(tc, test_ormap_merge_small_hidden);
    tcase_add_test(tc, test_ormap_conflict_keys);
    tcase_add_test(tc, test_ormap_conflict_one_key);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_ormap_property_laws);
    tcase_add_test(tc, test_ormap_replicas_converge);
    tcase_add_test(tc, test_ormap_replicas_all_types);
    tcase_add_test(tc, test_ormap_property_small_merge);
    tcase_add_test(tc, test_ormap_property_conflicts);
    tcase_add_test(tc, test_ormap_property_small_conflicts);
    tcase_add_test(tc, test_ormap_property_slots);
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
