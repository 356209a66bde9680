/* SPDX-License-Identifier: MIT */
/*
 * PN-counter suite: operations, the value's int64 range and the overflow
 * rules of both halves, deltas, all-or-nothing merge, codec (canonical
 * bytes, hostile input), join-law and delta properties against a
 * reference model, and allocation-failure injection.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/pncounter.h>

#include "testutil.h"

#define POS CRDT_PNCOUNTER_POS
#define NEG CRDT_PNCOUNTER_NEG
#define BIG (UINT64_MAX / 3) /* three of them sum to UINT64_MAX exactly */
#define I64_MIN_MAG ((uint64_t)INT64_MAX + 1) /* |INT64_MIN| */

/* A counter with the (side, actor, by) mutations in t applied in order. */
static crdt_pncounter *mk(const crdt_mem *mem, size_t n, const uint64_t *t)
{
    crdt_pncounter *pn = crdt_pncounter_new(mem);
    size_t i;

    ck_assert_ptr_nonnull(pn);
    for (i = 0; i < n; i++) {
        const uint64_t *m = t + 3 * i;

        if (m[0] == POS)
            ck_assert_int_eq(crdt_pncounter_increment(pn, m[1], m[2], NULL),
                             CRDT_OK);
        else
            ck_assert_int_eq(crdt_pncounter_decrement(pn, m[1], m[2], NULL),
                             CRDT_OK);
    }
    return pn;
}

static crdt_pncounter *clone(const crdt_pncounter *pn)
{
    crdt_pncounter *c = crdt_pncounter_clone(pn);

    ck_assert_ptr_nonnull(c);
    return c;
}

static void encode(const crdt_pncounter *pn, crdt_buf *b)
{
    crdt_buf_init(b, NULL);
    ck_assert_int_eq(crdt_pncounter_encode(pn, b), CRDT_OK);
}

static int64_t value(const crdt_pncounter *pn)
{
    int64_t v = 0;

    ck_assert_int_eq(crdt_pncounter_value(pn, &v), CRDT_OK);
    return v;
}

static uint64_t get(const crdt_pncounter *pn, crdt_actor a, int side)
{
    uint64_t p = 1, n = 1;

    crdt_pncounter_get(pn, a, &p, &n);
    return side == POS ? p : n;
}

/* ---------------------------------------------------------------- basic */

START_TEST(test_pncounter_basic_inc_dec)
{
    crdt_pncounter *pn = crdt_pncounter_new(NULL);
    crdt_actor a;
    uint64_t c, p, n;
    int64_t v = 99;

    ck_assert_int_eq(value(pn), 0);
    ck_assert_uint_eq(crdt_pncounter_size(pn, POS), 0);
    ck_assert_uint_eq(crdt_pncounter_size(pn, NEG), 0);
    ck_assert_int_eq(crdt_pncounter_increment(pn, 7, 5, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 7, 8, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 2, 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_increment(pn, 9, 2, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_increment(pn, 7, 1, NULL), CRDT_OK);
    ck_assert_int_eq(value(pn), 5 - 8 - 1 + 2 + 1);
    crdt_pncounter_totals(pn, &p, &n);
    ck_assert_uint_eq(p, 8);
    ck_assert_uint_eq(n, 9);
    crdt_pncounter_totals(pn, NULL, NULL);
    crdt_pncounter_get(pn, 7, &p, &n);
    ck_assert_uint_eq(p, 6);
    ck_assert_uint_eq(n, 8);
    crdt_pncounter_get(pn, 7, NULL, NULL);
    ck_assert_uint_eq(get(pn, 2, POS), 0);
    ck_assert_uint_eq(get(pn, 2, NEG), 1);
    ck_assert_uint_eq(get(pn, 3, POS), 0);
    ck_assert_uint_eq(get(pn, 3, NEG), 0);
    /* iteration per half, ascending */
    ck_assert_uint_eq(crdt_pncounter_size(pn, POS), 2);
    ck_assert_uint_eq(crdt_pncounter_size(pn, NEG), 2);
    ck_assert_int_eq(crdt_pncounter_entry(pn, POS, 0, &a, &c), CRDT_OK);
    ck_assert_uint_eq(a, 7);
    ck_assert_uint_eq(c, 6);
    ck_assert_int_eq(crdt_pncounter_entry(pn, POS, 1, &a, NULL), CRDT_OK);
    ck_assert_uint_eq(a, 9);
    ck_assert_int_eq(crdt_pncounter_entry(pn, NEG, 0, &a, &c), CRDT_OK);
    ck_assert_uint_eq(a, 2);
    ck_assert_uint_eq(c, 1);
    ck_assert_int_eq(crdt_pncounter_entry(pn, NEG, 1, NULL, &c), CRDT_OK);
    ck_assert_uint_eq(c, 8);
    a = 77;
    ck_assert_int_eq(crdt_pncounter_entry(pn, NEG, 2, &a, &c),
                     CRDT_ERR_NOT_FOUND);
    ck_assert_uint_eq(a, 77);
    ck_assert_int_eq(crdt_pncounter_entry(pn, (crdt_pncounter_side)2, 0, &a,
                                          &c),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(crdt_pncounter_size(pn, (crdt_pncounter_side)2), 0);
    ck_assert_int_eq(crdt_pncounter_entry(NULL, POS, 0, &a, &c),
                     CRDT_ERR_INVALID_ARG);
    /* by == 0 is a no-op */
    ck_assert_int_eq(crdt_pncounter_increment(pn, 100, 0, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 100, 0, NULL), CRDT_OK);
    ck_assert_uint_eq(crdt_pncounter_size(pn, POS), 2);
    ck_assert_uint_eq(crdt_pncounter_size(pn, NEG), 2);
    /* NULL: empty for queries, an error for mutators and value */
    ck_assert_uint_eq(crdt_pncounter_size(NULL, POS), 0);
    ck_assert_uint_eq(get(NULL, 7, POS), 0);
    ck_assert_uint_eq(get(NULL, 7, NEG), 0);
    crdt_pncounter_totals(NULL, &p, &n);
    ck_assert_uint_eq(p + n, 0);
    ck_assert_int_eq(crdt_pncounter_value(NULL, &v), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_pncounter_value(pn, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(v, 99);
    ck_assert_int_eq(crdt_pncounter_increment(NULL, 1, 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_pncounter_decrement(NULL, 1, 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_pncounter_increment(pn, 1, 1, pn),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 1, 1, pn),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(value(pn), -1);
    crdt_pncounter_free(pn);
    crdt_pncounter_free(NULL);
}
END_TEST

START_TEST(test_pncounter_basic_value_range)
{
    const uint64_t tmax[] = {POS, 1, INT64_MAX};
    const uint64_t tmin[] = {NEG, 1, I64_MIN_MAG};
    const uint64_t tfull[] = {POS, 1, UINT64_MAX, NEG, 2, UINT64_MAX};
    crdt_pncounter *a = mk(NULL, 1, tmax), *b = mk(NULL, 1, tmin);
    crdt_pncounter *c = mk(NULL, 2, tfull);
    uint64_t p, n;
    int64_t v = 5;

    ck_assert_int_eq(value(a), INT64_MAX);
    ck_assert_int_eq(crdt_pncounter_increment(a, 2, 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_value(a, &v), CRDT_ERR_OVERFLOW);
    ck_assert_int_eq(v, 5); /* untouched */
    crdt_pncounter_totals(a, &p, &n);
    ck_assert_uint_eq(p, I64_MIN_MAG);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(crdt_pncounter_decrement(a, 2, 1, NULL), CRDT_OK);
    ck_assert_int_eq(value(a), INT64_MAX);

    ck_assert_int_eq(value(b), INT64_MIN);
    ck_assert_int_eq(crdt_pncounter_decrement(b, 1, 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_value(b, &v), CRDT_ERR_OVERFLOW);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(crdt_pncounter_increment(b, 3, 2, NULL), CRDT_OK);
    ck_assert_int_eq(value(b), INT64_MIN + 1);

    /* both sums at the top: value 0 */
    ck_assert_int_eq(value(c), 0);
    crdt_pncounter_totals(c, &p, &n);
    ck_assert_uint_eq(p, UINT64_MAX);
    ck_assert_uint_eq(n, UINT64_MAX);
    crdt_pncounter_free(a);
    crdt_pncounter_free(b);
    crdt_pncounter_free(c);
}
END_TEST

START_TEST(test_pncounter_basic_overflow)
{
    const uint64_t t[] = {POS, 1, UINT64_MAX - 1, NEG, 1, UINT64_MAX - 5,
                          NEG, 2, 3};
    crdt_pncounter *pn = mk(NULL, 3, t), *pn0 = clone(pn);
    crdt_pncounter *d = crdt_pncounter_new(NULL);

    /* a P count */
    ck_assert_int_eq(crdt_pncounter_increment(pn, 1, 2, d),
                     CRDT_ERR_OVERFLOW);
    /* the P sum, with a new actor */
    ck_assert_int_eq(crdt_pncounter_increment(pn, 3, 2, d),
                     CRDT_ERR_OVERFLOW);
    /* the N sum: whatever the value (here it would be 3 - 2 = 1) */
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 2, 3, d),
                     CRDT_ERR_OVERFLOW);
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 1, 6, d),
                     CRDT_ERR_OVERFLOW);
    ck_assert(crdt_pncounter_equal(pn, pn0));
    ck_assert_uint_eq(crdt_pncounter_size(d, POS), 0);
    ck_assert_uint_eq(crdt_pncounter_size(d, NEG), 0);
    /* right up to the limits is fine */
    ck_assert_int_eq(crdt_pncounter_increment(pn, 1, 1, d), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 2, 2, d), CRDT_OK);
    ck_assert_int_eq(value(pn), 0);
    ck_assert_uint_eq(get(d, 1, POS), UINT64_MAX);
    ck_assert_uint_eq(get(d, 2, NEG), 5);
    crdt_pncounter_free(pn);
    crdt_pncounter_free(pn0);
    crdt_pncounter_free(d);
}
END_TEST

START_TEST(test_pncounter_basic_delta)
{
    const uint64_t t[] = {POS, 1, 10, NEG, 1, 4, NEG, 2, 20};
    crdt_pncounter *pn = mk(NULL, 3, t), *pre = clone(pn), *x;
    crdt_pncounter *d = crdt_pncounter_new(NULL);
    crdt_pncounter *e = crdt_pncounter_new(NULL);
    crdt_pncounter *grp = crdt_pncounter_new(NULL);
    crdt_actor a;
    uint64_t c;

    /* an increment's delta: P {actor: new count}, empty N */
    ck_assert_int_eq(crdt_pncounter_increment(pn, 1, 5, d), CRDT_OK);
    ck_assert_uint_eq(crdt_pncounter_size(d, POS), 1);
    ck_assert_uint_eq(crdt_pncounter_size(d, NEG), 0);
    ck_assert_int_eq(crdt_pncounter_entry(d, POS, 0, &a, &c), CRDT_OK);
    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(c, 15);
    x = clone(pre);
    ck_assert_int_eq(crdt_pncounter_merge(x, d), CRDT_OK);
    ck_assert(crdt_pncounter_equal(x, pn));
    crdt_pncounter_free(x);
    /* a decrement's delta: empty P, N {actor: new count} */
    crdt_pncounter_free(pre);
    pre = clone(pn);
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 2, 2, e), CRDT_OK);
    ck_assert_uint_eq(crdt_pncounter_size(e, POS), 0);
    ck_assert_uint_eq(crdt_pncounter_size(e, NEG), 1);
    ck_assert_uint_eq(get(e, 2, NEG), 22);
    x = clone(pre);
    ck_assert_int_eq(crdt_pncounter_merge(x, e), CRDT_OK);
    ck_assert(crdt_pncounter_equal(x, pn));
    crdt_pncounter_free(x);
    /* a delta group of both kinds */
    crdt_pncounter_free(pre);
    pre = clone(pn);
    ck_assert_int_eq(crdt_pncounter_increment(pn, 1, 1, grp), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 1, 1, grp), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 3, 7, grp), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_increment(pn, 1, 2, grp), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_increment(pn, 4, 0, grp), CRDT_OK);
    ck_assert_uint_eq(crdt_pncounter_size(grp, POS), 1);
    ck_assert_uint_eq(crdt_pncounter_size(grp, NEG), 2);
    ck_assert_uint_eq(get(grp, 1, POS), 18);
    ck_assert_uint_eq(get(grp, 1, NEG), 5);
    ck_assert_uint_eq(get(grp, 3, NEG), 7);
    ck_assert_int_eq(value(grp), 18 - 12);
    x = clone(pre);
    ck_assert_int_eq(crdt_pncounter_merge(x, grp), CRDT_OK);
    ck_assert(crdt_pncounter_equal(x, pn));
    crdt_pncounter_free(x);
    ck_assert_int_eq(value(pn), 18 - 5 - 22 - 7);
    crdt_pncounter_free(pn);
    crdt_pncounter_free(pre);
    crdt_pncounter_free(d);
    crdt_pncounter_free(e);
    crdt_pncounter_free(grp);
}
END_TEST

START_TEST(test_pncounter_basic_delta_overflow)
{
    /* the delta's own N sum would overflow: nothing changes */
    const uint64_t tp[] = {NEG, 1, 5};
    const uint64_t td[] = {NEG, 2, UINT64_MAX - 3};
    crdt_pncounter *pn = mk(NULL, 1, tp), *d = mk(NULL, 1, td);
    crdt_pncounter *pn0 = clone(pn), *d0 = clone(d);

    ck_assert_int_eq(crdt_pncounter_decrement(pn, 1, 1, d),
                     CRDT_ERR_OVERFLOW);
    ck_assert(crdt_pncounter_equal(pn, pn0));
    ck_assert(crdt_pncounter_equal(d, d0));
    /* the other half of the delta is independent */
    ck_assert_int_eq(crdt_pncounter_increment(pn, 1, 9, d), CRDT_OK);
    ck_assert_uint_eq(get(d, 1, POS), 9);
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 3, 3, d), CRDT_OK);
    ck_assert_uint_eq(get(d, 3, NEG), 3);
    crdt_pncounter_free(pn);
    crdt_pncounter_free(d);
    crdt_pncounter_free(pn0);
    crdt_pncounter_free(d0);
}
END_TEST

START_TEST(test_pncounter_basic_copy_clone)
{
    const uint64_t t[] = {POS, 1, 1, POS, 2, 2, POS, 3, 3, NEG, 4, 4,
                          NEG, 5, 5, NEG, 1, 6, POS, 7, 7};
    crdt_pncounter *a = mk(NULL, 7, t), *b = crdt_pncounter_new(NULL), *c;
    crdt_pncounter *e = crdt_pncounter_new(NULL);

    ck_assert_int_eq(crdt_pncounter_copy(b, a), CRDT_OK);
    ck_assert(crdt_pncounter_equal(a, b));
    ck_assert_int_eq(value(b), 13 - 15);
    c = clone(a);
    ck_assert(crdt_pncounter_equal(a, c));
    ck_assert_int_eq(crdt_pncounter_decrement(c, 1, 9, NULL), CRDT_OK);
    ck_assert_uint_eq(get(a, 1, NEG), 6); /* deep copy */
    ck_assert(!crdt_pncounter_equal(a, c));
    ck_assert_int_eq(crdt_pncounter_copy(c, a), CRDT_OK);
    ck_assert(crdt_pncounter_equal(a, c));
    ck_assert_int_eq(crdt_pncounter_copy(a, a), CRDT_OK);
    ck_assert_int_eq(value(a), -2);
    ck_assert_int_eq(crdt_pncounter_copy(a, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_pncounter_copy(NULL, a), CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(crdt_pncounter_clone(NULL));
    /* assigning the empty counter keeps the storage, compares equal */
    ck_assert_int_eq(crdt_pncounter_copy(b, e), CRDT_OK);
    ck_assert_uint_eq(crdt_pncounter_size(b, POS), 0);
    ck_assert_uint_eq(crdt_pncounter_size(b, NEG), 0);
    ck_assert_int_eq(value(b), 0);
    ck_assert(crdt_pncounter_equal(b, e));
    ck_assert(crdt_pncounter_equal(e, b));
    ck_assert(crdt_pncounter_equal(b, NULL));
    crdt_pncounter_free(a);
    crdt_pncounter_free(b);
    crdt_pncounter_free(c);
    crdt_pncounter_free(e);
}
END_TEST

/* ---------------------------------------------------------------- merge */

START_TEST(test_pncounter_merge_cases)
{
    const uint64_t ta[] = {POS, 1, 5, POS, 3, 1, NEG, 7, 2, NEG, 3, 1};
    const uint64_t tb[] = {POS, 0, 9, POS, 3, 4, NEG, 8, 1, NEG, 3, 2};
    crdt_pncounter *a = mk(NULL, 4, ta), *b = mk(NULL, 4, tb);
    crdt_pncounter *e = crdt_pncounter_new(NULL), *a2 = clone(a);
    uint64_t p, n;

    ck_assert_int_eq(crdt_pncounter_merge(a, b), CRDT_OK);
    ck_assert_uint_eq(crdt_pncounter_size(a, POS), 3);
    ck_assert_uint_eq(crdt_pncounter_size(a, NEG), 3);
    ck_assert_uint_eq(get(a, 0, POS), 9);
    ck_assert_uint_eq(get(a, 1, POS), 5);
    ck_assert_uint_eq(get(a, 3, POS), 4);
    ck_assert_uint_eq(get(a, 3, NEG), 2);
    ck_assert_uint_eq(get(a, 7, NEG), 2);
    ck_assert_uint_eq(get(a, 8, NEG), 1);
    crdt_pncounter_totals(a, &p, &n);
    ck_assert_uint_eq(p, 18);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(value(a), 13);
    /* same actors in both halves: the in-place path */
    ck_assert_int_eq(crdt_pncounter_merge(b, a), CRDT_OK);
    ck_assert(crdt_pncounter_equal(a, b));
    ck_assert_int_eq(crdt_pncounter_decrement(b, 8, 10, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_increment(b, 0, 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_merge(a, b), CRDT_OK);
    ck_assert(crdt_pncounter_equal(a, b));
    ck_assert_int_eq(value(a), 4);
    /* idempotent, self, empty both ways, subset, NULL */
    ck_assert_int_eq(crdt_pncounter_merge(a, b), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_merge(a, a), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_merge(a, e), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_merge(a, a2), CRDT_OK);
    ck_assert(crdt_pncounter_equal(a, b));
    ck_assert_int_eq(crdt_pncounter_merge(e, a), CRDT_OK);
    ck_assert(crdt_pncounter_equal(e, a));
    ck_assert_int_eq(crdt_pncounter_merge(a, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_pncounter_merge(NULL, a), CRDT_ERR_INVALID_ARG);
    crdt_pncounter_free(a);
    crdt_pncounter_free(a2);
    crdt_pncounter_free(b);
    crdt_pncounter_free(e);
}
END_TEST

START_TEST(test_pncounter_merge_overflow)
{
    /* P would merge fine; N's merged sum overflows: all or nothing */
    const uint64_t ta[] = {POS, 1, 1, NEG, 1, UINT64_MAX - 10};
    const uint64_t tb[] = {POS, 2, 5, NEG, 2, 11};
    /* P overflows (same actors), N would merge fine */
    const uint64_t tc[] = {POS, 1, UINT64_MAX - 10, POS, 2, 1, NEG, 3, 1};
    const uint64_t td[] = {POS, 1, 1, POS, 2, 11, NEG, 4, 1};
    /* exactly UINT64_MAX in both is fine */
    const uint64_t te[] = {POS, 2, 10, NEG, 2, 10, POS, 1, UINT64_MAX - 10};
    crdt_pncounter *a = mk(NULL, 2, ta), *b = mk(NULL, 2, tb);
    crdt_pncounter *c = mk(NULL, 3, tc), *d = mk(NULL, 3, td);
    crdt_pncounter *e = mk(NULL, 3, te);
    crdt_pncounter *a0 = clone(a), *b0 = clone(b), *c0 = clone(c);
    crdt_pncounter *d0 = clone(d);
    uint64_t p, n;

    ck_assert_int_eq(crdt_pncounter_merge(a, b), CRDT_ERR_OVERFLOW);
    ck_assert(crdt_pncounter_equal(a, a0));
    ck_assert_int_eq(crdt_pncounter_merge(b, a), CRDT_ERR_OVERFLOW);
    ck_assert(crdt_pncounter_equal(b, b0));
    ck_assert_int_eq(crdt_pncounter_merge(c, d), CRDT_ERR_OVERFLOW);
    ck_assert(crdt_pncounter_equal(c, c0));
    ck_assert_int_eq(crdt_pncounter_merge(d, c), CRDT_ERR_OVERFLOW);
    ck_assert(crdt_pncounter_equal(d, d0));
    ck_assert_int_eq(crdt_pncounter_merge(a, e), CRDT_OK);
    crdt_pncounter_totals(a, &p, &n);
    ck_assert_uint_eq(p, UINT64_MAX);
    ck_assert_uint_eq(n, UINT64_MAX);
    ck_assert_int_eq(value(a), 0);
    crdt_pncounter_free(a);
    crdt_pncounter_free(b);
    crdt_pncounter_free(c);
    crdt_pncounter_free(d);
    crdt_pncounter_free(e);
    crdt_pncounter_free(a0);
    crdt_pncounter_free(b0);
    crdt_pncounter_free(c0);
    crdt_pncounter_free(d0);
}
END_TEST

START_TEST(test_pncounter_merge_equal)
{
    const uint64_t ta[] = {POS, 1, 2, NEG, 2, 1};
    const uint64_t tb[] = {POS, 1, 3, NEG, 2, 2}; /* same value */
    const uint64_t tc[] = {NEG, 1, 2, POS, 2, 1}; /* halves swapped */
    const uint64_t td[] = {NEG, 2, 1, POS, 1, 1, POS, 1, 1};
    crdt_pncounter *a = mk(NULL, 2, ta), *b = mk(NULL, 2, tb);
    crdt_pncounter *c = mk(NULL, 2, tc), *d = mk(NULL, 3, td);

    ck_assert_int_eq(value(a), value(b));
    ck_assert(!crdt_pncounter_equal(a, b));
    ck_assert(!crdt_pncounter_equal(a, c));
    ck_assert(crdt_pncounter_equal(a, d));
    ck_assert(crdt_pncounter_equal(a, a));
    ck_assert(!crdt_pncounter_equal(a, NULL));
    ck_assert(crdt_pncounter_equal(NULL, NULL));
    crdt_pncounter_free(a);
    crdt_pncounter_free(b);
    crdt_pncounter_free(c);
    crdt_pncounter_free(d);
}
END_TEST

/* ---------------------------------------------------------------- codec */

START_TEST(test_pncounter_codec_bytes)
{
    /* [1, 4, {5: 3}, {7: 1}] */
    const uint8_t want[] = {0x94, 0x01, 0x04, 0x81, 0x05,
                            0x03, 0x81, 0x07, 0x01};
    /* [1, 4, {}, {}] */
    const uint8_t empty[] = {0x94, 0x01, 0x04, 0x80, 0x80};
    /* [1, 4, {}, {300: 70000, 2^64-1: 1}] */
    const uint8_t negonly[] = {0x94, 0x01, 0x04, 0x80, 0x82, 0xcd, 0x01,
                               0x2c, 0xce, 0x00, 0x01, 0x11, 0x70, 0xcf,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0x01};
    const uint64_t t[] = {POS, 5, 2, NEG, 7, 1, POS, 5, 1};
    const uint64_t tn[] = {NEG, UINT64_MAX, 1, NEG, 300, 70000};
    crdt_pncounter *pn = mk(NULL, 3, t), *d = crdt_pncounter_new(NULL);
    crdt_pncounter *ng = mk(NULL, 2, tn);
    crdt_buf b, fb;
    uint8_t small[8], exact[sizeof want];

    encode(pn, &b);
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert_mem_eq(b.data, want, sizeof want);
    ck_assert_int_eq(crdt_pncounter_decode(d, b.data, b.len, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_pncounter_equal(pn, d));
    ck_assert_int_eq(value(d), 2);
    crdt_buf_clear(&b);
    encode(ng, &b);
    ck_assert_uint_eq(b.len, sizeof negonly);
    ck_assert_mem_eq(b.data, negonly, sizeof negonly);
    ck_assert_int_eq(crdt_pncounter_decode(d, negonly, sizeof negonly, NULL,
                                           NULL),
                     CRDT_OK);
    ck_assert(crdt_pncounter_equal(ng, d));
    ck_assert_int_eq(value(d), -70001);
    crdt_buf_clear(&b);
    crdt_pncounter_free(d);
    d = crdt_pncounter_new(NULL);
    encode(d, &b);
    ck_assert_uint_eq(b.len, sizeof empty);
    ck_assert_mem_eq(b.data, empty, sizeof empty);
    /* a fixed buffer: too small fails and writes nothing; exact fits */
    crdt_buf_init_fixed(&fb, small, sizeof small);
    ck_assert_int_eq(crdt_pncounter_encode(pn, &fb), CRDT_ERR_BUFFER);
    ck_assert_uint_eq(fb.len, 0);
    crdt_buf_init_fixed(&fb, exact, sizeof exact);
    ck_assert_int_eq(crdt_pncounter_encode(pn, &fb), CRDT_OK);
    ck_assert_mem_eq(exact, want, sizeof want);
    ck_assert_int_eq(crdt_pncounter_encode(NULL, &fb), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_pncounter_encode(pn, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_pncounter_decode(NULL, want, sizeof want, NULL,
                                           NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_pncounter_decode(d, NULL, 3, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    crdt_buf_clear(&b);
    crdt_pncounter_free(pn);
    crdt_pncounter_free(d);
    crdt_pncounter_free(ng);
}
END_TEST

static void expect_reject(const uint8_t *in, size_t len, int code,
                          size_t offset)
{
    const uint64_t t[] = {POS, 1, 1, NEG, 2, 2};
    crdt_pncounter *d = mk(NULL, 2, t), *d0 = mk(NULL, 2, t);

    tu_expect_reject(crdt_pncounter_type(), d, in, len, NULL, code, offset);
    ck_assert(crdt_pncounter_equal(d, d0)); /* untouched */
    ck_assert_int_eq(value(d), -1);
    crdt_pncounter_free(d);
    crdt_pncounter_free(d0);
}

START_TEST(test_pncounter_codec_reject)
{
    const uint8_t unsorted_p[] = {0x94, 0x01, 0x04, 0x82, 0x05,
                                  0x01, 0x03, 0x01, 0x80};
    const uint8_t unsorted_n[] = {0x94, 0x01, 0x04, 0x80, 0x82,
                                  0x05, 0x01, 0x03, 0x01};
    const uint8_t dup_n[] = {0x94, 0x01, 0x04, 0x81, 0x01, 0x01,
                             0x82, 0x05, 0x01, 0x05, 0x02};
    const uint8_t zero_p[] = {0x94, 0x01, 0x04, 0x81, 0x05, 0x00, 0x80};
    const uint8_t zero_n[] = {0x94, 0x01, 0x04, 0x80, 0x81, 0x05, 0x00};
    const uint8_t longint[] = {0x94, 0x01, 0x04, 0x80, 0x81, 0x05, 0xcc,
                               0x01};
    const uint8_t badver[] = {0x94, 0x00, 0x04, 0x80, 0x80};
    const uint8_t gcounter[] = {0x93, 0x01, 0x03, 0x80};
    const uint8_t lww[] = {0x94, 0x01, 0x05, 0x80, 0x80};
    const uint8_t one_map[] = {0x93, 0x01, 0x04, 0x80};
    const uint8_t three_maps[] = {0x95, 0x01, 0x04, 0x80, 0x80, 0x80};
    const uint8_t trailing[] = {0x94, 0x01, 0x04, 0x80, 0x80, 0xc0};
    const uint8_t n_missing[] = {0x94, 0x01, 0x04, 0x80};
    const uint8_t n_not_map[] = {0x94, 0x01, 0x04, 0x80, 0x90};
    const uint8_t huge_n[] = {0x94, 0x01, 0x04, 0x80, 0xdf, 0xff, 0xff,
                              0xff, 0xff};
    /* P = {1: 2^64-1, 2: 1}: overflow at P's second count */
    const uint8_t ovf_p[] = {0x94, 0x01, 0x04, 0x82, 0x01, 0xcf, 0xff,
                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                             0x02, 0x01, 0x80};
    /* P fine; N = {1: 2^63, 2: 2^63}: overflow at N's second count */
    const uint8_t ovf_n[] = {0x94, 0x01, 0x04, 0x81, 0x01, 0x01, 0x82,
                             0x01, 0xcf, 0x80, 0x00, 0x00, 0x00, 0x00,
                             0x00, 0x00, 0x00, 0x02, 0xcf, 0x80, 0x00,
                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    /* P overflows, then N = {1: 0} is malformed */
    const uint8_t ovf_p_bad_n[] = {0x94, 0x01, 0x04, 0x82, 0x01, 0xcf,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0x02, 0x01, 0x81, 0x01,
                                   0x00};

    expect_reject(unsorted_p, sizeof unsorted_p, CRDT_ERR_DECODE, 6);
    expect_reject(unsorted_n, sizeof unsorted_n, CRDT_ERR_DECODE, 7);
    expect_reject(dup_n, sizeof dup_n, CRDT_ERR_DECODE, 9);
    expect_reject(zero_p, sizeof zero_p, CRDT_ERR_DECODE, 5);
    expect_reject(zero_n, sizeof zero_n, CRDT_ERR_DECODE, 6);
    expect_reject(longint, sizeof longint, CRDT_ERR_DECODE, 6);
    expect_reject(badver, sizeof badver, CRDT_ERR_VERSION, 1);
    expect_reject(gcounter, sizeof gcounter, CRDT_ERR_TYPE, 2);
    expect_reject(lww, sizeof lww, CRDT_ERR_TYPE, 2);
    expect_reject(one_map, sizeof one_map, CRDT_ERR_DECODE, 0);
    expect_reject(three_maps, sizeof three_maps, CRDT_ERR_DECODE, 0);
    expect_reject(trailing, sizeof trailing, CRDT_ERR_DECODE, 5);
    expect_reject(n_missing, sizeof n_missing, CRDT_ERR_DECODE, 0);
    expect_reject(n_not_map, sizeof n_not_map, CRDT_ERR_DECODE, 4);
    expect_reject(huge_n, sizeof huge_n, CRDT_ERR_DECODE, 4);
    expect_reject(ovf_p, sizeof ovf_p, CRDT_ERR_OVERFLOW, 15);
    expect_reject(ovf_n, sizeof ovf_n, CRDT_ERR_OVERFLOW, 18);
    /* the first problem in byte order: P's overflow before N's zero */
    expect_reject(ovf_p_bad_n, sizeof ovf_p_bad_n, CRDT_ERR_OVERFLOW, 15);
    expect_reject(NULL, 0, CRDT_ERR_DECODE, 0);
}
END_TEST

START_TEST(test_pncounter_codec_limit)
{
    const uint64_t t3p[] = {POS, 1, 1, POS, 2, 2, POS, 3, 3, NEG, 1, 1};
    const uint64_t t3n[] = {NEG, 1, 1, NEG, 2, 2, NEG, 3, 3, POS, 1, 1};
    crdt_pncounter *a = mk(NULL, 4, t3p), *b = mk(NULL, 4, t3n);
    crdt_pncounter *d = crdt_pncounter_new(NULL);
    crdt_limits lim;
    crdt_decode_info info;
    crdt_buf ea, eb;

    encode(a, &ea);
    encode(b, &eb);
    crdt_limits_default(&lim);
    lim.max_actors = 2; /* per map */
    ck_assert_int_eq(crdt_pncounter_decode(d, ea.data, ea.len, &lim, &info),
                     CRDT_ERR_LIMIT);
    ck_assert_uint_eq(info.offset, 3);
    ck_assert_int_eq(crdt_pncounter_decode(d, eb.data, eb.len, &lim, &info),
                     CRDT_ERR_LIMIT);
    ck_assert_uint_eq(info.offset, 6); /* N's map header after P {1: 1} */
    ck_assert_uint_eq(crdt_pncounter_size(d, POS), 0);
    lim.max_actors = 3;
    ck_assert_int_eq(crdt_pncounter_decode(d, ea.data, ea.len, &lim, &info),
                     CRDT_OK);
    ck_assert(crdt_pncounter_equal(a, d));
    ck_assert_int_eq(crdt_pncounter_decode(d, eb.data, eb.len, &lim, &info),
                     CRDT_OK);
    ck_assert(crdt_pncounter_equal(b, d));
    crdt_buf_clear(&ea);
    crdt_buf_clear(&eb);
    crdt_pncounter_free(a);
    crdt_pncounter_free(b);
    crdt_pncounter_free(d);
}
END_TEST

START_TEST(test_pncounter_codec_truncated)
{
    tu_rng rng;
    crdt_pncounter *pn = crdt_pncounter_new(NULL), *d, *d0;
    crdt_buf b;
    size_t i, cut;

    tu_rng_init(&rng, tu_seed("pncounter") ^ 0x7);
    for (i = 0; i < 30; i++) {
        ck_assert_int_eq(crdt_pncounter_increment(
                             pn, tu_rand(&rng), 1 + tu_below(&rng, 1u << 20),
                             NULL),
                         CRDT_OK);
        ck_assert_int_eq(crdt_pncounter_decrement(
                             pn, tu_rand(&rng), 1 + tu_below(&rng, 1u << 20),
                             NULL),
                         CRDT_OK);
    }
    ck_assert_int_eq(crdt_pncounter_decrement(pn, 1, UINT64_MAX / 2, NULL),
                     CRDT_OK);
    encode(pn, &b);
    d = crdt_pncounter_new(NULL);
    ck_assert_int_eq(crdt_pncounter_decrement(d, 7, 7, NULL), CRDT_OK);
    d0 = clone(d);
    for (cut = 0; cut < b.len; cut++) {
        crdt_decode_info info;

        ck_assert_int_eq(crdt_pncounter_decode(d, b.data, cut, NULL, &info),
                         CRDT_ERR_DECODE);
        ck_assert_int_eq(info.code, CRDT_ERR_DECODE);
        ck_assert_uint_le(info.offset, cut);
        ck_assert(crdt_pncounter_equal(d, d0));
    }
    /* every single-byte corruption is rejected (destination untouched) or
     * decodes to a state whose canonical encoding is exactly that input */
    for (i = 0; i < b.len; i++) {
        uint8_t *c = malloc(b.len);
        crdt_buf b2;
        crdt_decode_info info;

        ck_assert_ptr_nonnull(c);
        memcpy(c, b.data, b.len);
        c[i] ^= (uint8_t)(1u << tu_below(&rng, 8));
        if (crdt_pncounter_decode(d, c, b.len, NULL, &info) == CRDT_OK) {
            encode(d, &b2);
            ck_assert_uint_eq(b2.len, b.len);
            ck_assert_mem_eq(b2.data, c, b.len);
            crdt_buf_clear(&b2);
            ck_assert_int_eq(crdt_pncounter_copy(d, d0), CRDT_OK);
        } else {
            ck_assert_uint_le(info.offset, b.len);
            ck_assert(crdt_pncounter_equal(d, d0));
        }
        free(c);
    }
    crdt_buf_clear(&b);
    crdt_pncounter_free(pn);
    crdt_pncounter_free(d);
    crdt_pncounter_free(d0);
}
END_TEST

/* ------------------------------------------------------------- property */

#define MODEL_ACTORS 12

/* c[POS] and c[NEG]: each actor's increments and decrements. */
typedef struct model {
    uint64_t c[2][MODEL_ACTORS];
} model;

static const crdt_actor model_actor[MODEL_ACTORS] = {
    0, 1, 2, 3, 1000, 1001, 0x7fffffffffffffffu, 0x8000000000000000u,
    0xfffffffffffffffeu, 0xffffffffffffffffu, 123456789, 42};

/* One half's sum, or false if it does not fit in uint64. */
static bool model_sum(const model *m, int side, uint64_t *sum)
{
    uint64_t t = 0;
    size_t i;

    for (i = 0; i < MODEL_ACTORS; i++) {
        if (m->c[side][i] > UINT64_MAX - t)
            return false;
        t += m->c[side][i];
    }
    *sum = t;
    return true;
}

static bool model_fits(const model *m)
{
    uint64_t s;

    return model_sum(m, POS, &s) && model_sum(m, NEG, &s);
}

static void model_join(model *out, const model *a, const model *b)
{
    size_t s, i;

    for (s = 0; s < 2; s++)
        for (i = 0; i < MODEL_ACTORS; i++)
            out->c[s][i] =
                a->c[s][i] > b->c[s][i] ? a->c[s][i] : b->c[s][i];
}

static void check_model(const crdt_pncounter *pn, const model *m)
{
    size_t i, np = 0, nn = 0;
    uint64_t sp = 0, sn = 0, p, n;
    __int128 want;
    int64_t v = 0;
    int rv;

    for (i = 0; i < MODEL_ACTORS; i++) {
        crdt_pncounter_get(pn, model_actor[i], &p, &n);
        TU_CHECK_EQ(p, m->c[POS][i]);
        TU_CHECK_EQ(n, m->c[NEG][i]);
        np += m->c[POS][i] != 0;
        nn += m->c[NEG][i] != 0;
    }
    TU_CHECK_EQ(crdt_pncounter_size(pn, POS), np);
    TU_CHECK_EQ(crdt_pncounter_size(pn, NEG), nn);
    TU_CHECK(model_sum(m, POS, &sp) && model_sum(m, NEG, &sn));
    crdt_pncounter_totals(pn, &p, &n);
    TU_CHECK_EQ(p, sp);
    TU_CHECK_EQ(n, sn);
    /* the value against 128-bit arithmetic */
    want = (__int128)sp - (__int128)sn;
    rv = crdt_pncounter_value(pn, &v);
    if (want < INT64_MIN || want > INT64_MAX) {
        TU_CHECK_EQ(rv, CRDT_ERR_OVERFLOW);
    } else {
        TU_CHECK_EQ(rv, CRDT_OK);
        TU_CHECK(v == (int64_t)want);
    }
}

/* A random amount: mostly small, sometimes 0, sometimes a third of the
 * range, so that sums reach and pass UINT64_MAX and the value leaves the
 * int64 range now and then. */
static uint64_t random_by(tu_rng *r)
{
    uint64_t k = tu_below(r, 32);

    if (k == 0)
        return 0;
    if (k <= 2)
        return BIG + tu_below(r, 2);
    return 1 + tu_below(r, 4);
}

/* Increments (side POS) or decrements (NEG) actor i by `by`, checking the
 * result against the model (success, or overflow and nothing changed). */
static int model_mutate(crdt_pncounter *pn, model *m, int side, size_t i,
                        uint64_t by, crdt_pncounter *delta)
{
    model next = *m;
    bool fits = m->c[side][i] <= UINT64_MAX - by;
    int rv;

    if (fits) {
        next.c[side][i] += by;
        fits = model_fits(&next);
    }
    if (side == POS)
        rv = crdt_pncounter_increment(pn, model_actor[i], by, delta);
    else
        rv = crdt_pncounter_decrement(pn, model_actor[i], by, delta);
    TU_CHECK_EQ(rv, fits ? CRDT_OK : CRDT_ERR_OVERFLOW);
    if (fits)
        *m = next;
    check_model(pn, m);
    return rv;
}

static crdt_pncounter *random_counter(tu_rng *r, model *m)
{
    crdt_pncounter *pn = crdt_pncounter_new(NULL);
    size_t i;
    int side;

    TU_CHECK(pn != NULL);
    memset(m, 0, sizeof *m);
    for (side = 0; side < 2; side++) {
        for (i = 0; i < MODEL_ACTORS; i++) {
            if (tu_below(r, 2)) /* sparse: about half absent */
                continue;
            (void)model_mutate(pn, m, side, i, random_by(r), NULL);
        }
    }
    return pn;
}

static crdt_pncounter *pclone(const crdt_pncounter *pn)
{
    crdt_pncounter *c = crdt_pncounter_clone(pn);

    TU_CHECK(c != NULL);
    return c;
}

/* a joined with b, or NULL after checking that the merge overflows and
 * leaves a unchanged; the model says which. */
static crdt_pncounter *merged(const crdt_pncounter *a, const model *ma,
                              const crdt_pncounter *b, const model *mb)
{
    crdt_pncounter *r = pclone(a);
    model mj;
    int rv = crdt_pncounter_merge(r, b);

    model_join(&mj, ma, mb);
    if (!model_fits(&mj)) {
        TU_CHECK_EQ(rv, CRDT_ERR_OVERFLOW);
        TU_CHECK(crdt_pncounter_equal(r, a));
        crdt_pncounter_free(r);
        return NULL;
    }
    TU_CHECK_EQ(rv, CRDT_OK);
    check_model(r, &mj);
    return r;
}

static void check_canonical(const crdt_pncounter *a, const crdt_pncounter *b)
{
    crdt_pncounter *d = crdt_pncounter_new(NULL);
    crdt_buf e1, e2;

    crdt_buf_init(&e1, NULL);
    crdt_buf_init(&e2, NULL);
    TU_CHECK_EQ(crdt_pncounter_encode(a, &e1), CRDT_OK);
    TU_CHECK_EQ(crdt_pncounter_encode(b, &e2), CRDT_OK);
    TU_CHECK_EQ(e1.len, e2.len);
    TU_CHECK(memcmp(e1.data, e2.data, e1.len) == 0);
    TU_CHECK_EQ(crdt_pncounter_decrement(d, 5, 5, NULL), CRDT_OK);
    TU_CHECK_EQ(crdt_pncounter_decode(d, e1.data, e1.len, NULL, NULL),
                CRDT_OK);
    TU_CHECK(crdt_pncounter_equal(d, a));
    crdt_buf_clear(&e1);
    crdt_buf_clear(&e2);
    crdt_pncounter_free(d);
}

START_TEST(test_pncounter_property_join_laws)
{
    tu_rng rng;
    long n = tu_cases(10000), k, overflows = 0;

    tu_rng_init(&rng, tu_seed("pncounter") ^ 0x1);
    for (k = 0; k < n; k++) {
        model ma, mb, mc, mab, mbc;
        crdt_pncounter *a = random_counter(&rng, &ma);
        crdt_pncounter *b = random_counter(&rng, &mb);
        crdt_pncounter *c = random_counter(&rng, &mc);
        crdt_pncounter *ab = merged(a, &ma, b, &mb);
        crdt_pncounter *ba = merged(b, &mb, a, &ma);
        crdt_pncounter *bc = merged(b, &mb, c, &mc);
        crdt_pncounter *aa = merged(a, &ma, a, &ma);
        crdt_pncounter *ab_c = NULL, *a_bc = NULL;

        model_join(&mab, &ma, &mb);
        model_join(&mbc, &mb, &mc);
        TU_CHECK(aa != NULL);
        TU_CHECK(crdt_pncounter_equal(aa, a)); /* idempotent */
        TU_CHECK((ab == NULL) == (ba == NULL));
        if (ab) {
            TU_CHECK(crdt_pncounter_equal(ab, ba)); /* commutative */
            check_canonical(ab, ba);
            ab_c = merged(ab, &mab, c, &mc);
        } else {
            overflows++;
        }
        if (bc)
            a_bc = merged(a, &ma, bc, &mbc);
        if (ab && bc) {
            TU_CHECK((ab_c == NULL) == (a_bc == NULL));
            if (ab_c) /* associative */
                TU_CHECK(crdt_pncounter_equal(ab_c, a_bc));
        }
        check_canonical(c, c);
        crdt_pncounter_free(a);
        crdt_pncounter_free(b);
        crdt_pncounter_free(c);
        crdt_pncounter_free(ab);
        crdt_pncounter_free(ba);
        crdt_pncounter_free(bc);
        crdt_pncounter_free(aa);
        crdt_pncounter_free(ab_c);
        crdt_pncounter_free(a_bc);
    }
    /* the generator does reach the overflow path, but not all the time */
    if (n >= 2000) {
        ck_assert_int_gt(overflows, 0);
        ck_assert_int_lt(overflows, n / 4);
    }
}
END_TEST

#define MAX_STEPS 8

START_TEST(test_pncounter_property_delta)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("pncounter") ^ 0x2);
    for (k = 0; k < n; k++) {
        model m0, m, mpre, my, mr2;
        crdt_pncounter *s0 = random_counter(&rng, &m0);
        crdt_pncounter *r = pclone(s0), *r2 = pclone(s0);
        crdt_pncounter *grp = crdt_pncounter_new(NULL), *t;
        crdt_pncounter *deltas[MAX_STEPS];
        size_t steps = 1 + tu_below(&rng, MAX_STEPS), s, i, j;
        size_t order[2 * MAX_STEPS];

        m = m0;
        mr2 = m0;
        for (s = 0; s < steps; s++) {
            size_t ai = tu_below(&rng, MODEL_ACTORS);
            int side = (int)tu_below(&rng, 2);
            uint64_t by = random_by(&rng);
            crdt_pncounter *pre = pclone(r), *grp0 = pclone(grp);
            crdt_pncounter *y, *x, *xr;
            model mx;
            int rv;

            mpre = m;
            deltas[s] = crdt_pncounter_new(NULL);
            rv = model_mutate(r, &m, side, ai, by, deltas[s]);
            /* the same mutation on a twin, accumulating a delta group */
            TU_CHECK_EQ(model_mutate(r2, &mr2, side, ai, by, grp), rv);
            TU_CHECK(crdt_pncounter_equal(r, r2));
            if (rv != CRDT_OK || by == 0) {
                TU_CHECK_EQ(crdt_pncounter_size(deltas[s], POS), 0);
                TU_CHECK_EQ(crdt_pncounter_size(deltas[s], NEG), 0);
                TU_CHECK(crdt_pncounter_equal(grp, grp0));
            } else {
                TU_CHECK_EQ(crdt_pncounter_size(deltas[s], side), 1);
                TU_CHECK_EQ(crdt_pncounter_size(deltas[s], 1 - side), 0);
                TU_CHECK_EQ(get(deltas[s], model_actor[ai], side),
                            m.c[side][ai]);
                TU_CHECK_EQ(get(grp, model_actor[ai], side), m.c[side][ai]);
            }
            /* pre-state + delta == post-state */
            x = pclone(pre);
            TU_CHECK_EQ(crdt_pncounter_merge(x, deltas[s]), CRDT_OK);
            TU_CHECK(crdt_pncounter_equal(x, r));
            crdt_pncounter_free(x);
            /* any replica x that has seen the pre-state:
             * x + delta == x + post-state (both overflow, or neither) */
            y = random_counter(&rng, &my);
            x = merged(pre, &mpre, y, &my);
            if (x) {
                model_join(&mx, &mpre, &my);
                xr = merged(x, &mx, r, &m);
                rv = crdt_pncounter_merge(x, deltas[s]);
                if (xr) {
                    TU_CHECK_EQ(rv, CRDT_OK);
                    TU_CHECK(crdt_pncounter_equal(x, xr));
                } else {
                    TU_CHECK_EQ(rv, CRDT_ERR_OVERFLOW);
                }
                crdt_pncounter_free(xr);
            }
            crdt_pncounter_free(x);
            crdt_pncounter_free(y);
            crdt_pncounter_free(pre);
            crdt_pncounter_free(grp0);
        }
        /* every delta at least once, some twice, in a random order */
        for (i = 0; i < 2 * steps; i++)
            order[i] = i < steps ? i : tu_below(&rng, steps);
        for (i = 2 * steps - 1; i > 0; i--) {
            size_t tmp = order[i];

            j = tu_below(&rng, i + 1);
            order[i] = order[j];
            order[j] = tmp;
        }
        t = pclone(s0);
        for (i = 0; i < 2 * steps; i++)
            TU_CHECK_EQ(crdt_pncounter_merge(t, deltas[order[i]]), CRDT_OK);
        TU_CHECK(crdt_pncounter_equal(t, r));
        check_model(t, &m);
        /* the delta group alone */
        TU_CHECK_EQ(crdt_pncounter_copy(t, s0), CRDT_OK);
        TU_CHECK_EQ(crdt_pncounter_merge(t, grp), CRDT_OK);
        TU_CHECK(crdt_pncounter_equal(t, r));
        for (s = 0; s < steps; s++)
            crdt_pncounter_free(deltas[s]);
        crdt_pncounter_free(t);
        crdt_pncounter_free(s0);
        crdt_pncounter_free(r);
        crdt_pncounter_free(r2);
        crdt_pncounter_free(grp);
    }
}
END_TEST

/* ---------------------------------------------------------------- nomem */

enum {
    OP_INC,       /* new actor into a full P */
    OP_DEC,       /* new actor into a full N */
    OP_INC_DELTA, /* new actor, fresh delta: both allocate */
    OP_DEC_GROUP, /* existing actor, full N of a delta group */
    OP_MERGE,     /* both halves need room: all or nothing */
    OP_MERGE_NEW, /* into an empty counter */
    OP_COPY,      /* both halves allocate */
    OP_CLONE,
    OP_ENCODE,
    OP_DECODE,
    N_OPS
};

/* 4 actors per half = one full block each */
static const uint64_t nomem_ta[] = {POS, 1, 5, POS, 3, 1, POS, 4, 4,
                                    POS, 6, 6, NEG, 1, 1, NEG, 2, 2,
                                    NEG, 4, 1, NEG, 9, 1};
static const uint64_t nomem_td[] = {POS, 2, 1, POS, 5, 1, POS, 7, 1,
                                    POS, 8, 1, NEG, 3, 1, NEG, 5, 1,
                                    NEG, 7, 1, NEG, 8, 1};

static void nomem_setup(tu_nomem *c)
{
    c->a = mk(&c->tm->mem, 8, nomem_ta);
    c->d = c->op == OP_DEC_GROUP ? mk(&c->tm->mem, 8, nomem_td)
                                 : crdt_pncounter_new(&c->tm->mem);
    c->src = mk(NULL, 8, nomem_td);
    ck_assert_int_eq(crdt_pncounter_encode(c->a, &c->enc), CRDT_OK);
}

static int nomem_call(tu_nomem *c)
{
    crdt_pncounter *a = c->a, *d = c->d;

    switch (c->op) {
    case OP_INC:
        return crdt_pncounter_increment(a, 100, 1, NULL);
    case OP_DEC:
        return crdt_pncounter_decrement(a, 100, 1, NULL);
    case OP_INC_DELTA:
        return crdt_pncounter_increment(a, 100, 1, d);
    case OP_DEC_GROUP:
        return crdt_pncounter_decrement(a, 1, 1, d);
    case OP_MERGE:
        return crdt_pncounter_merge(a, c->src);
    case OP_MERGE_NEW:
        return crdt_pncounter_merge(d, a);
    case OP_COPY:
        return crdt_pncounter_copy(d, a);
    case OP_CLONE:
        return tu_nomem_made(c, crdt_pncounter_clone(a));
    case OP_ENCODE:
        return crdt_pncounter_encode(a, &c->out);
    case OP_DECODE:
        return crdt_pncounter_decode(d, c->enc.data, c->enc.len, NULL, NULL);
    }
    return CRDT_ERR_INVALID_ARG;
}

static void nomem_failed(tu_nomem *c)
{
    ck_assert_int_eq(value(c->a), 16 - 5);
}

static void nomem_succeeded(tu_nomem *c)
{
    crdt_pncounter *a = c->a, *d = c->d;

    switch (c->op) {
    case OP_INC:
        ck_assert_int_eq(value(a), 12);
        break;
    case OP_DEC:
        ck_assert_int_eq(value(a), 10);
        break;
    case OP_INC_DELTA:
        ck_assert_int_eq(value(a), 12);
        ck_assert_uint_eq(get(d, 100, POS), 1);
        break;
    case OP_DEC_GROUP:
        ck_assert_uint_eq(get(d, 1, NEG), 2);
        break;
    case OP_MERGE:
        ck_assert_uint_eq(crdt_pncounter_size(a, POS), 8);
        ck_assert_uint_eq(crdt_pncounter_size(a, NEG), 8);
        ck_assert_int_eq(value(a), 20 - 9);
        break;
    case OP_MERGE_NEW:
    case OP_COPY:
    case OP_DECODE:
        ck_assert(crdt_pncounter_equal(d, c->a0));
        break;
    case OP_CLONE:
        ck_assert(crdt_pncounter_equal(c->made, c->a0));
        break;
    case OP_ENCODE:
        ck_assert_uint_eq(c->out.len, c->enc.len);
        break;
    }
}

START_TEST(test_pncounter_nomem_all)
{
    const tu_nomem_ops ops = {
        .type = crdt_pncounter_type(),
        .nops = N_OPS,
        .setup = nomem_setup,
        .call = nomem_call,
        .failed = nomem_failed,
        .succeeded = nomem_succeeded,
        .allocs = tu_alloc_must, /* every op allocates at least once */
    };

    tu_nomem_run(&ops);
}
END_TEST

START_TEST(test_pncounter_nomem_no_alloc)
{
    /* steady state: mutations and merges over known actors never
     * allocate */
    const uint64_t ta[] = {POS, 1, 5, POS, 3, 1, NEG, 1, 2, NEG, 4, 4};
    const uint64_t tb[] = {POS, 1, 7, POS, 3, 1, NEG, 1, 1, NEG, 4, 9};
    tu_mem tm;
    crdt_pncounter *a, *b, *d;
    long calls;

    tu_mem_init(&tm);
    a = mk(&tm.mem, 4, ta);
    b = mk(&tm.mem, 4, tb);
    d = mk(&tm.mem, 4, ta); /* a delta group that knows both actors */
    calls = tm.calls;
    ck_assert_int_eq(crdt_pncounter_merge(a, b), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_increment(a, 3, 9, d), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_decrement(a, 4, 1, d), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_merge(b, a), CRDT_OK);
    ck_assert_int_eq(crdt_pncounter_copy(a, b), CRDT_OK);
    ck_assert_int_eq(tm.calls, calls);
    ck_assert_int_eq(value(b), 7 + 10 - 2 - 10);
    crdt_pncounter_free(a);
    crdt_pncounter_free(b);
    crdt_pncounter_free(d);
    ck_assert_int_eq(tm.live, 0);
}
END_TEST

static Suite *pncounter_suite(void)
{
    Suite *s = suite_create("pncounter");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_pncounter_basic_inc_dec);
    tcase_add_test(tc, test_pncounter_basic_value_range);
    tcase_add_test(tc, test_pncounter_basic_overflow);
    tcase_add_test(tc, test_pncounter_basic_delta);
    tcase_add_test(tc, test_pncounter_basic_delta_overflow);
    tcase_add_test(tc, test_pncounter_basic_copy_clone);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_test(tc, test_pncounter_merge_cases);
    tcase_add_test(tc, test_pncounter_merge_overflow);
    tcase_add_test(tc, test_pncounter_merge_equal);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_pncounter_codec_bytes);
    tcase_add_test(tc, test_pncounter_codec_reject);
    tcase_add_test(tc, test_pncounter_codec_limit);
    tcase_add_test(tc, test_pncounter_codec_truncated);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pncounter_property_join_laws);
    tcase_add_test(tc, test_pncounter_property_delta);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_add_test(tc, test_pncounter_nomem_all);
    tcase_add_test(tc, test_pncounter_nomem_no_alloc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pncounter_suite());
    int failed;

    tu_seed("pncounter"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
