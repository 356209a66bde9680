/* SPDX-License-Identifier: MIT */
/*
 * Causal context suite: next dots, gaps and folding, membership, the
 * bulk (unfolded) path, join and inclusion order, codec (canonical bytes,
 * hostile input), properties against a reference model (a bitmap of
 * counters 1..64 per actor), and allocation-failure injection.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/dotctx.h>

#include "testutil.h"

static crdt_dot D(crdt_actor a, uint64_t c)
{
    crdt_dot d;

    d.actor = a;
    d.counter = c;
    return d;
}

/* A context holding the n dots (pairs[2i], pairs[2i+1]), added in order. */
static crdt_dotctx *mk(const crdt_mem *mem, size_t n, const uint64_t *pairs)
{
    crdt_dotctx *c = crdt_dotctx_new(mem);
    size_t i;

    ck_assert_ptr_nonnull(c);
    for (i = 0; i < n; i++)
        ck_assert_int_eq(crdt_dotctx_add(c, D(pairs[2 * i], pairs[2 * i + 1])),
                         CRDT_OK);
    return c;
}

static void encode(const crdt_dotctx *c, crdt_buf *b)
{
    crdt_buf_init(b, NULL);
    tu_must(crdt_dotctx_encode(c, b), "encode");
}

/* A copy of c through the codec, allocated with mem: its storage is
 * exactly full, so the next growth must allocate. */
static crdt_dotctx *exact(const crdt_mem *mem, const crdt_dotctx *c)
{
    crdt_dotctx *d = crdt_dotctx_new(mem);
    crdt_buf b;

    tu_expect(d != NULL, "new");
    encode(c, &b);
    tu_must(crdt_dotctx_decode(d, b.data, b.len, NULL, NULL), "decode");
    crdt_buf_clear(&b);
    return d;
}

/* The representation is canonical: vector sorted with non-zero counters,
 * cloud sorted strictly, every cloud dot beyond vv[actor] + 1. */
static void check_compact(const crdt_dotctx *c)
{
    size_t i;
    crdt_actor a, pa = 0;
    uint64_t n;
    crdt_dot d, pd = D(0, 0);

    tu_expect(crdt_dotctx_is_compact(c), "is_compact");
    for (i = 0; i < crdt_dotctx_vv_size(c); i++) {
        tu_must(crdt_dotctx_vv_entry(c, i, &a, &n), "vv_entry");
        tu_expect(n != 0, "vector entry 0");
        tu_expect(i == 0 || a > pa, "vector actors ascending");
        tu_expect(crdt_dotctx_max(c, a) == n, "max = vector entry");
        pa = a;
    }
    tu_expect(crdt_dotctx_vv_entry(c, i, &a, &n) == CRDT_ERR_NOT_FOUND,
           "vv_entry past the end");
    for (i = 0; i < crdt_dotctx_cloud_size(c); i++) {
        tu_must(crdt_dotctx_cloud_dot(c, i, &d), "cloud_dot");
        tu_expect(i == 0 || d.actor > pd.actor ||
                   (d.actor == pd.actor && d.counter > pd.counter),
               "cloud ascending");
        if (d.counter <= crdt_dotctx_max(c, d.actor) + 1)
            ck_abort_msg("not compact: cloud dot (%llu, %llu), vv %llu",
                         (unsigned long long)d.actor,
                         (unsigned long long)d.counter,
                         (unsigned long long)crdt_dotctx_max(c, d.actor));
        tu_expect(crdt_dotctx_contains(c, d), "contains a cloud dot");
        pd = d;
    }
    tu_expect(crdt_dotctx_cloud_dot(c, i, &d) == CRDT_ERR_NOT_FOUND,
           "cloud_dot past the end");
}

static void expect_cloud(const crdt_dotctx *c, size_t n, const uint64_t *p)
{
    size_t i;
    crdt_dot d;

    ck_assert_uint_eq(crdt_dotctx_cloud_size(c), n);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(crdt_dotctx_cloud_dot(c, i, &d), CRDT_OK);
        ck_assert_uint_eq(d.actor, p[2 * i]);
        ck_assert_uint_eq(d.counter, p[2 * i + 1]);
    }
}

/* ---------------------------------------------------------------- basic */

START_TEST(test_dotctx_basic_next_dot)
{
    crdt_dotctx *c = crdt_dotctx_new(NULL);
    crdt_dot d = D(0, 0);
    const uint64_t cl1[] = {7, 5, 7, 6};
    const uint64_t cl2[] = {3, UINT64_MAX};

    ck_assert_int_eq(crdt_dotctx_next_dot(c, 7, &d), CRDT_OK);
    ck_assert_uint_eq(d.actor, 7);
    ck_assert_uint_eq(d.counter, 1);
    ck_assert_int_eq(crdt_dotctx_next_dot(c, 7, &d), CRDT_OK);
    ck_assert_uint_eq(d.counter, 2);
    ck_assert_int_eq(crdt_dotctx_next_dot(c, 9, &d), CRDT_OK);
    ck_assert_uint_eq(d.actor, 9);
    ck_assert_uint_eq(d.counter, 1);
    ck_assert_int_eq(crdt_dotctx_next_dot(c, 9, NULL), CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_max(c, 7), 2);
    ck_assert_uint_eq(crdt_dotctx_max(c, 9), 2);
    ck_assert_uint_eq(crdt_dotctx_vv_size(c), 2);
    ck_assert_uint_eq(crdt_dotctx_cloud_size(c), 0);
    /* a dot seen beyond a gap: the next dot follows it, the gap stays */
    ck_assert_int_eq(crdt_dotctx_add(c, D(7, 5)), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_next_dot(c, 7, &d), CRDT_OK);
    ck_assert_uint_eq(d.counter, 6);
    ck_assert_uint_eq(crdt_dotctx_max(c, 7), 2);
    expect_cloud(c, 2, cl1);
    ck_assert(!crdt_dotctx_contains(c, D(7, 3)));
    check_compact(c);
    /* filling the gap folds the whole run */
    ck_assert_int_eq(crdt_dotctx_add(c, D(7, 4)), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_add(c, D(7, 3)), CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_max(c, 7), 6);
    ck_assert_uint_eq(crdt_dotctx_cloud_size(c), 0);
    ck_assert_int_eq(crdt_dotctx_next_dot(c, 7, &d), CRDT_OK);
    ck_assert_uint_eq(d.counter, 7);
    check_compact(c);
    /* overflow: the largest dot of actor 3 is UINT64_MAX */
    ck_assert_int_eq(crdt_dotctx_add(c, D(3, UINT64_MAX)), CRDT_OK);
    d = D(1, 1);
    ck_assert_int_eq(crdt_dotctx_next_dot(c, 3, &d), CRDT_ERR_OVERFLOW);
    ck_assert_uint_eq(d.actor, 1); /* unwritten */
    ck_assert_uint_eq(d.counter, 1);
    ck_assert_uint_eq(crdt_dotctx_cloud_size(c), 1);
    ck_assert_int_eq(crdt_dotctx_cloud_dot(c, 0, &d), CRDT_OK);
    ck_assert_uint_eq(d.actor, 3);
    ck_assert_uint_eq(d.counter, UINT64_MAX);
    ck_assert_int_eq(crdt_dotctx_next_dot(NULL, 3, &d), CRDT_ERR_INVALID_ARG);
    crdt_dotctx_free(c);
    c = crdt_dotctx_new(NULL);
    ck_assert_int_eq(crdt_dotctx_add(c, D(3, UINT64_MAX)), CRDT_OK);
    expect_cloud(c, 1, cl2);
    crdt_dotctx_free(c);
}
END_TEST

START_TEST(test_dotctx_basic_vv_overflow)
{
    /* [1, 2, {3: UINT64_MAX}, []]: only a decoder can make this */
    const uint8_t in[] = {0x94, 0x01, 0x02, 0x81, 0x03, 0xcf, 0xff, 0xff,
                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x90};
    crdt_dotctx *c = crdt_dotctx_new(NULL);
    crdt_dot d = D(0, 0);

    ck_assert_int_eq(crdt_dotctx_decode(c, in, sizeof in, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_dotctx_contains(c, D(3, UINT64_MAX)));
    ck_assert(crdt_dotctx_contains(c, D(3, 1)));
    ck_assert_uint_eq(crdt_dotctx_max(c, 3), UINT64_MAX);
    ck_assert_int_eq(crdt_dotctx_next_dot(c, 3, &d), CRDT_ERR_OVERFLOW);
    ck_assert_uint_eq(d.counter, 0);
    ck_assert_int_eq(crdt_dotctx_add(c, D(3, UINT64_MAX)), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_add_unfolded(c, D(3, 5)), CRDT_OK);
    ck_assert(crdt_dotctx_is_compact(c));
    ck_assert_uint_eq(crdt_dotctx_cloud_size(c), 0);
    crdt_dotctx_free(c);
}
END_TEST

START_TEST(test_dotctx_basic_gaps_fold)
{
    const uint64_t cl1[] = {1, 2, 1, 3, 1, 5, 1, 7, 1, 9};
    const uint64_t cl2[] = {1, 5, 1, 7, 1, 9};
    const uint64_t cl3[] = {1, 7, 1, 8, 1, 9};
    const uint64_t order[] = {5, 3, 9, 2, 7};
    crdt_dotctx *c = crdt_dotctx_new(NULL);
    size_t i;

    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(crdt_dotctx_add(c, D(1, order[i])), CRDT_OK);
        check_compact(c);
    }
    ck_assert_uint_eq(crdt_dotctx_max(c, 1), 0);
    ck_assert_uint_eq(crdt_dotctx_vv_size(c), 0);
    expect_cloud(c, 5, cl1);
    /* a duplicate is a no-op */
    ck_assert_int_eq(crdt_dotctx_add(c, D(1, 5)), CRDT_OK);
    expect_cloud(c, 5, cl1);
    /* 1 folds 1, 2, 3 */
    ck_assert_int_eq(crdt_dotctx_add(c, D(1, 1)), CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_max(c, 1), 3);
    expect_cloud(c, 3, cl2);
    check_compact(c);
    /* a covered dot is a no-op */
    ck_assert_int_eq(crdt_dotctx_add(c, D(1, 2)), CRDT_OK);
    expect_cloud(c, 3, cl2);
    /* 4 folds 4, 5 */
    ck_assert_int_eq(crdt_dotctx_add(c, D(1, 4)), CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_max(c, 1), 5);
    ck_assert_int_eq(crdt_dotctx_add(c, D(1, 8)), CRDT_OK);
    expect_cloud(c, 3, cl3);
    check_compact(c);
    /* 6 folds the rest */
    ck_assert_int_eq(crdt_dotctx_add(c, D(1, 6)), CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_max(c, 1), 9);
    ck_assert_uint_eq(crdt_dotctx_cloud_size(c), 0);
    check_compact(c);
    ck_assert_int_eq(crdt_dotctx_add(c, D(1, 0)), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_dotctx_add(NULL, D(1, 1)), CRDT_ERR_INVALID_ARG);
    crdt_dotctx_free(c);
}
END_TEST

START_TEST(test_dotctx_basic_contains)
{
    const uint64_t p[] = {1, 1, 1, 2, 1, 3, 1, 6, 4, 2, 4, 4, 9, 1};
    crdt_dotctx *c = mk(NULL, 7, p);

    ck_assert(crdt_dotctx_contains(c, D(1, 1)));  /* vector */
    ck_assert(crdt_dotctx_contains(c, D(1, 3)));  /* vector, its end */
    ck_assert(!crdt_dotctx_contains(c, D(1, 4))); /* vv + 1 */
    ck_assert(!crdt_dotctx_contains(c, D(1, 5)));
    ck_assert(crdt_dotctx_contains(c, D(1, 6))); /* cloud */
    ck_assert(!crdt_dotctx_contains(c, D(1, 7)));
    ck_assert(!crdt_dotctx_contains(c, D(4, 1))); /* absent from vv */
    ck_assert(crdt_dotctx_contains(c, D(4, 2)));
    ck_assert(!crdt_dotctx_contains(c, D(4, 3)));
    ck_assert(crdt_dotctx_contains(c, D(4, 4)));
    ck_assert(crdt_dotctx_contains(c, D(9, 1)));
    ck_assert(!crdt_dotctx_contains(c, D(9, 0))); /* zero counter */
    ck_assert(!crdt_dotctx_contains(c, D(5, 1))); /* unknown actor */
    ck_assert(!crdt_dotctx_contains(NULL, D(1, 1)));
    ck_assert_uint_eq(crdt_dotctx_max(NULL, 1), 0);
    ck_assert_uint_eq(crdt_dotctx_max(c, 4), 0);
    ck_assert_uint_eq(crdt_dotctx_vv_size(c), 2);
    ck_assert_uint_eq(crdt_dotctx_vv_size(NULL), 0);
    ck_assert_uint_eq(crdt_dotctx_cloud_size(c), 3);
    ck_assert_uint_eq(crdt_dotctx_cloud_size(NULL), 0);
    ck_assert_int_eq(crdt_dotctx_vv_entry(NULL, 0, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_dotctx_cloud_dot(NULL, 0, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_dotctx_vv_entry(c, 0, NULL, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_cloud_dot(c, 0, NULL), CRDT_OK);
    check_compact(c);
    crdt_dotctx_free(c);
}
END_TEST

START_TEST(test_dotctx_basic_copy_clone)
{
    const uint64_t p[] = {1, 1, 1, 2, 1, 5, 2, 3, 3, 1};
    const uint64_t q[] = {8, 1, 8, 2, 8, 3, 8, 4, 8, 6, 8, 9, 8, 12};
    crdt_dotctx *a = mk(NULL, 5, p), *b = mk(NULL, 7, q), *c;

    ck_assert_int_eq(crdt_dotctx_copy(b, a), CRDT_OK);
    ck_assert(crdt_dotctx_equal(a, b));
    c = crdt_dotctx_clone(a);
    ck_assert_ptr_nonnull(c);
    ck_assert(crdt_dotctx_equal(a, c));
    ck_assert_int_eq(crdt_dotctx_add(c, D(1, 3)), CRDT_OK);
    ck_assert(!crdt_dotctx_contains(a, D(1, 3))); /* deep copy */
    ck_assert(!crdt_dotctx_equal(a, c));
    ck_assert_int_eq(crdt_dotctx_copy(a, a), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_copy(a, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_dotctx_copy(NULL, a), CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(crdt_dotctx_clone(NULL));
    /* copy into a larger context, then back into a small one */
    ck_assert_int_eq(crdt_dotctx_copy(c, b), CRDT_OK);
    ck_assert(crdt_dotctx_equal(c, a));
    crdt_dotctx_free(a);
    crdt_dotctx_free(b);
    crdt_dotctx_free(c);
}
END_TEST

START_TEST(test_dotctx_basic_unfolded)
{
    const uint64_t p[] = {1, 4, 2, 7, 1, 2, 2, 5, 1, 9, 1, 3, 3, 2, 2, 7,
                          1, 1, 1, 4, 2, 1};
    const size_t n = sizeof p / sizeof p[0] / 2;
    crdt_dotctx *ref = mk(NULL, n, p), *c = crdt_dotctx_new(NULL), *d;
    crdt_buf b;
    size_t i;

    crdt_buf_init(&b, NULL);
    for (i = 0; i < n; i++)
        ck_assert_int_eq(
            crdt_dotctx_add_unfolded(c, D(p[2 * i], p[2 * i + 1])), CRDT_OK);
    ck_assert(!crdt_dotctx_is_compact(c));
    /* exact while uncompacted */
    for (i = 0; i < n; i++)
        ck_assert(crdt_dotctx_contains(c, D(p[2 * i], p[2 * i + 1])));
    ck_assert(!crdt_dotctx_contains(c, D(1, 5)));
    ck_assert(!crdt_dotctx_contains(c, D(2, 2)));
    ck_assert_uint_eq(crdt_dotctx_max(c, 1), 4);
    ck_assert_uint_eq(crdt_dotctx_max(c, 2), 1);
    ck_assert_uint_eq(crdt_dotctx_max(c, 3), 0);
    ck_assert(crdt_dotctx_equal(c, ref));
    ck_assert(crdt_dotctx_equal(ref, c));
    ck_assert_int_eq(crdt_dotctx_compare(c, ref), CRDT_EQUAL);
    ck_assert_uint_ge(crdt_dotctx_cloud_size(c), crdt_dotctx_cloud_size(ref));
    /* readers that need a compact context refuse */
    ck_assert_int_eq(crdt_dotctx_encode(c, &b), CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(crdt_dotctx_vv_entry(c, 0, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_dotctx_cloud_dot(c, 0, NULL), CRDT_ERR_INVALID_ARG);
    d = crdt_dotctx_new(NULL);
    ck_assert_int_eq(crdt_dotctx_join(d, c), CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(crdt_dotctx_vv_size(d), 0);
    /* copies keep it uncompacted; joining into it compacts it */
    ck_assert_int_eq(crdt_dotctx_copy(d, c), CRDT_OK);
    ck_assert(!crdt_dotctx_is_compact(d));
    ck_assert(crdt_dotctx_equal(d, ref));
    ck_assert_int_eq(crdt_dotctx_join(d, ref), CRDT_OK);
    ck_assert(crdt_dotctx_equal(d, ref));
    check_compact(d);
    ck_assert_int_eq(crdt_dotctx_join(c, c), CRDT_OK); /* self: compacts */
    check_compact(c);
    ck_assert(crdt_dotctx_equal(c, ref));
    crdt_dotctx_free(c);
    /* compact() folds, and a second compact() changes nothing */
    c = crdt_dotctx_new(NULL);
    for (i = n; i-- > 0;)
        ck_assert_int_eq(
            crdt_dotctx_add_unfolded(c, D(p[2 * i], p[2 * i + 1])), CRDT_OK);
    crdt_dotctx_compact(c);
    check_compact(c);
    ck_assert(crdt_dotctx_equal(c, ref));
    crdt_dotctx_compact(c);
    ck_assert(crdt_dotctx_equal(c, ref));
    crdt_dotctx_compact(NULL);
    ck_assert(crdt_dotctx_is_compact(NULL));
    /* a vector-extending dot keeps a context compact unless a run follows */
    ck_assert_int_eq(crdt_dotctx_add_unfolded(c, D(3, 1)), CRDT_OK);
    ck_assert(!crdt_dotctx_is_compact(c)); /* (3, 2) must fold */
    ck_assert_uint_eq(crdt_dotctx_max(c, 3), 2);
    ck_assert_int_eq(crdt_dotctx_add_unfolded(c, D(1, 0)),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_dotctx_add_unfolded(NULL, D(1, 1)),
                     CRDT_ERR_INVALID_ARG);
    /* mutators compact first */
    ck_assert_int_eq(crdt_dotctx_add(c, D(9, 9)), CRDT_OK);
    check_compact(c);
    ck_assert_uint_eq(crdt_dotctx_max(c, 3), 2);
    ck_assert_int_eq(crdt_dotctx_add_unfolded(c, D(4, 1)), CRDT_OK);
    ck_assert(crdt_dotctx_is_compact(c));
    ck_assert_int_eq(crdt_dotctx_add_unfolded(c, D(4, 3)), CRDT_OK);
    ck_assert(!crdt_dotctx_is_compact(c));
    ck_assert_int_eq(crdt_dotctx_add_unfolded(c, D(4, 2)), CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_max(c, 4), 3);
    ck_assert_int_eq(crdt_dotctx_next_dot(c, 4, NULL), CRDT_OK);
    check_compact(c);
    ck_assert_uint_eq(crdt_dotctx_max(c, 4), 4);
    crdt_buf_clear(&b);
    crdt_dotctx_free(c);
    crdt_dotctx_free(d);
    crdt_dotctx_free(ref);
}
END_TEST

/* ----------------------------------------------------------------- join */

START_TEST(test_dotctx_join_gaps)
{
    /* a: vv {1: 3}, cloud {(1,5), (1,8), (2,4)} */
    const uint64_t pa[] = {1, 1, 1, 2, 1, 3, 1, 5, 1, 8, 2, 4};
    /* b: vv {1: 4, 2: 2}, cloud {(1,7), (2,5), (3,2)} */
    const uint64_t pb[] = {1, 1, 1, 2, 1, 3, 1, 4, 2, 1, 2, 2,
                           1, 7, 2, 5, 3, 2};
    const uint64_t want[] = {1, 7, 1, 8, 2, 4, 2, 5, 3, 2};
    const uint64_t want2[] = {1, 7, 1, 8, 3, 2};
    crdt_dotctx *a = mk(NULL, 6, pa), *b = mk(NULL, 9, pb);
    crdt_dotctx *ab = crdt_dotctx_clone(a), *ba = crdt_dotctx_clone(b);

    ck_assert_int_eq(crdt_dotctx_join(ab, b), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_join(ba, a), CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_max(ab, 1), 5); /* (1,5) folded */
    ck_assert_uint_eq(crdt_dotctx_max(ab, 2), 2);
    ck_assert_uint_eq(crdt_dotctx_max(ab, 3), 0);
    expect_cloud(ab, 5, want);
    check_compact(ab);
    ck_assert(crdt_dotctx_equal(ab, ba));
    ck_assert_int_eq(crdt_dotctx_compare(ab, a), CRDT_AFTER);
    ck_assert_int_eq(crdt_dotctx_compare(b, ab), CRDT_BEFORE);
    ck_assert_int_eq(crdt_dotctx_compare(a, b), CRDT_CONCURRENT);
    /* (2,3) fills b's gap: 3, 4, 5 fold */
    ck_assert_int_eq(crdt_dotctx_add(ab, D(2, 3)), CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_max(ab, 2), 5);
    expect_cloud(ab, 3, want2);
    check_compact(ab);
    ck_assert_int_eq(crdt_dotctx_join(ab, ab), CRDT_OK);
    expect_cloud(ab, 3, want2);
    ck_assert_int_eq(crdt_dotctx_join(ab, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_dotctx_join(NULL, ab), CRDT_ERR_INVALID_ARG);
    crdt_dotctx_free(a);
    crdt_dotctx_free(b);
    crdt_dotctx_free(ab);
    crdt_dotctx_free(ba);
}
END_TEST

/* Joins single-dot and small deltas into a large context (the entry by
 * entry path) and checks each against crdt_dotctx_add. */
START_TEST(test_dotctx_join_delta)
{
    crdt_dotctx *big = crdt_dotctx_new(NULL), *ref, *delta;
    uint64_t k;
    size_t i;
    const crdt_dot deltas[] = {
        {1, 11},  /* extends vv[1] = 10: folds with the run 12, 13 */
        {1, 20},  /* a new gap in the cloud */
        {1, 14},  /* already in the cloud */
        {1, 3},   /* covered */
        {50, 1},  /* a new actor */
        {50, 3},  /* a new actor's gap */
        {2, 101}, /* extends a long vector entry, no run */
        {0, 2},   /* before every actor of the cloud */
    };

    /* vv {1: 10, 2: 100}, cloud: (1, 12..14), (1, 16), (3, 2..80 even) */
    for (k = 1; k <= 10; k++)
        ck_assert_int_eq(crdt_dotctx_add(big, D(1, k)), CRDT_OK);
    for (k = 1; k <= 100; k++)
        ck_assert_int_eq(crdt_dotctx_add(big, D(2, k)), CRDT_OK);
    for (k = 12; k <= 14; k++)
        ck_assert_int_eq(crdt_dotctx_add(big, D(1, k)), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_add(big, D(1, 16)), CRDT_OK);
    for (k = 2; k <= 80; k += 2)
        ck_assert_int_eq(crdt_dotctx_add(big, D(3, k)), CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_cloud_size(big), 44);
    ref = crdt_dotctx_clone(big);
    for (i = 0; i < sizeof deltas / sizeof deltas[0]; i++) {
        delta = crdt_dotctx_new(NULL);
        ck_assert_int_eq(crdt_dotctx_add(delta, deltas[i]), CRDT_OK);
        ck_assert_int_eq(crdt_dotctx_join(big, delta), CRDT_OK);
        ck_assert_int_eq(crdt_dotctx_add(ref, deltas[i]), CRDT_OK);
        ck_assert(crdt_dotctx_equal(big, ref));
        ck_assert(crdt_dotctx_contains(big, deltas[i]));
        check_compact(big);
        crdt_dotctx_free(delta);
    }
    ck_assert_uint_eq(crdt_dotctx_max(big, 1), 14);
    ck_assert_uint_eq(crdt_dotctx_max(big, 50), 1);
    /* a delta with a vector entry that raises past part of a run */
    delta = crdt_dotctx_new(NULL);
    for (k = 1; k <= 17; k++)
        ck_assert_int_eq(crdt_dotctx_add(delta, D(1, k)), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_add(delta, D(3, 41)), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_join(big, delta), CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_max(big, 1), 17);
    ck_assert(crdt_dotctx_contains(big, D(1, 20)));
    ck_assert(crdt_dotctx_contains(big, D(3, 41)));
    ck_assert_int_eq(crdt_dotctx_compare(big, delta), CRDT_AFTER);
    check_compact(big);
    ck_assert_int_eq(crdt_dotctx_join(ref, delta), CRDT_OK);
    ck_assert(crdt_dotctx_equal(big, ref));
    crdt_dotctx_free(delta);
    crdt_dotctx_free(ref);
    crdt_dotctx_free(big);
}
END_TEST

START_TEST(test_dotctx_join_compare)
{
    const uint64_t pa[] = {1, 1, 1, 2, 2, 4};
    const uint64_t pb[] = {1, 1, 1, 2, 2, 4, 2, 6};
    const uint64_t pc[] = {1, 1, 1, 2, 1, 3};
    crdt_dotctx *a = mk(NULL, 3, pa), *a2 = mk(NULL, 3, pa);
    crdt_dotctx *b = mk(NULL, 4, pb), *c = mk(NULL, 3, pc);
    crdt_dotctx *z = crdt_dotctx_new(NULL);

    ck_assert_int_eq(crdt_dotctx_compare(a, a2), CRDT_EQUAL);
    ck_assert_int_eq(crdt_dotctx_compare(a, a), CRDT_EQUAL);
    ck_assert_int_eq(crdt_dotctx_compare(a, b), CRDT_BEFORE);
    ck_assert_int_eq(crdt_dotctx_compare(b, a), CRDT_AFTER);
    ck_assert_int_eq(crdt_dotctx_compare(b, c), CRDT_CONCURRENT);
    ck_assert_int_eq(crdt_dotctx_compare(a, c), CRDT_CONCURRENT);
    ck_assert_int_eq(crdt_dotctx_compare(z, a), CRDT_BEFORE);
    ck_assert_int_eq(crdt_dotctx_compare(a, NULL), CRDT_AFTER);
    ck_assert_int_eq(crdt_dotctx_compare(NULL, z), CRDT_EQUAL);
    ck_assert(crdt_dotctx_equal(NULL, z));
    ck_assert(!crdt_dotctx_equal(a, b));
    ck_assert(crdt_dotctx_equal(a, a2));
    ck_assert(crdt_dotctx_equal(a, a));
    crdt_dotctx_free(a);
    crdt_dotctx_free(a2);
    crdt_dotctx_free(b);
    crdt_dotctx_free(c);
    crdt_dotctx_free(z);
}
END_TEST

/* ---------------------------------------------------------------- codec */

START_TEST(test_dotctx_codec_bytes)
{
    /* [1, 2, {5: 3}, [[5, 7], [9, 2]]] */
    const uint8_t want[] = {0x94, 0x01, 0x02, 0x81, 0x05, 0x03, 0x92,
                            0x92, 0x05, 0x07, 0x92, 0x09, 0x02};
    /* [1, 2, {300: 70000}, [[300, 70002]]] */
    const uint8_t want2[] = {0x94, 0x01, 0x02, 0x81, 0xcd, 0x01, 0x2c,
                             0xce, 0x00, 0x01, 0x11, 0x70, 0x91, 0x92,
                             0xcd, 0x01, 0x2c, 0xce, 0x00, 0x01, 0x11,
                             0x72};
    /* [1, 2, {}, []] */
    const uint8_t want3[] = {0x94, 0x01, 0x02, 0x80, 0x90};
    const uint64_t p[] = {9, 2, 5, 7, 5, 1, 5, 3, 5, 2};
    crdt_dotctx *c = mk(NULL, 5, p), *d = crdt_dotctx_new(NULL);
    crdt_buf b, fb;
    uint8_t small[12];
    uint64_t k;
    uint32_t tag = 0;

    encode(c, &b);
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert_mem_eq(b.data, want, sizeof want);
    ck_assert_int_eq(crdt_decode_header(b.data, b.len, &tag), CRDT_OK);
    ck_assert_uint_eq(tag, CRDT_TAG_DOTCTX);
    ck_assert_str_eq(crdt_type_name(tag), "dotctx");
    ck_assert_int_eq(crdt_dotctx_decode(d, b.data, b.len, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_dotctx_equal(c, d));
    check_compact(d);
    /* a fixed buffer one byte too small: error, nothing written */
    crdt_buf_init_fixed(&fb, small, sizeof small);
    ck_assert_int_eq(crdt_dotctx_encode(c, &fb), CRDT_ERR_BUFFER);
    ck_assert_uint_eq(fb.len, 0);
    ck_assert_int_eq(crdt_dotctx_encode(NULL, &fb), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_dotctx_encode(c, NULL), CRDT_ERR_INVALID_ARG);
    crdt_buf_clear(&b);
    crdt_dotctx_free(c);
    /* wide integers */
    c = crdt_dotctx_new(NULL);
    ck_assert_int_eq(crdt_dotctx_add_unfolded(c, D(300, 70002)), CRDT_OK);
    for (k = 1; k <= 70000; k++)
        ck_assert_int_eq(crdt_dotctx_add_unfolded(c, D(300, k)), CRDT_OK);
    crdt_dotctx_compact(c);
    encode(c, &b);
    ck_assert_uint_eq(b.len, sizeof want2);
    ck_assert_mem_eq(b.data, want2, sizeof want2);
    crdt_buf_clear(&b);
    crdt_dotctx_free(c);
    c = crdt_dotctx_new(NULL);
    encode(c, &b);
    ck_assert_uint_eq(b.len, sizeof want3);
    ck_assert_mem_eq(b.data, want3, sizeof want3);
    ck_assert_int_eq(crdt_dotctx_decode(d, b.data, b.len, NULL, NULL),
                     CRDT_OK);
    ck_assert_uint_eq(crdt_dotctx_vv_size(d), 0);
    ck_assert_uint_eq(crdt_dotctx_cloud_size(d), 0);
    crdt_buf_clear(&b);
    crdt_dotctx_free(c);
    crdt_dotctx_free(d);
}
END_TEST

/* dst is {(1,1), (4,3)} before and must be after a failed decode. */
static void expect_reject_lim(const uint8_t *in, size_t len,
                              const crdt_limits *lim, int code,
                              size_t offset)
{
    const uint64_t p[] = {1, 1, 4, 3};
    crdt_dotctx *d = mk(NULL, 2, p), *d0 = mk(NULL, 2, p);

    tu_expect_reject(crdt_dotctx_type(), d, in, len, lim, code, offset);
    ck_assert(crdt_dotctx_equal(d, d0)); /* untouched */
    check_compact(d);
    crdt_dotctx_free(d);
    crdt_dotctx_free(d0);
}

static void expect_reject(const uint8_t *in, size_t len, int code,
                          size_t offset)
{
    expect_reject_lim(in, len, NULL, code, offset);
}

#define REJECT(arr, code, off) expect_reject(arr, sizeof arr, code, off)

START_TEST(test_dotctx_codec_reject)
{
    /* cloud dots the vector covers, or that extend it */
    const uint8_t covered[] = {0x94, 0x01, 0x02, 0x81, 0x05, 0x03,
                               0x91, 0x92, 0x05, 0x02};
    const uint8_t covered_top[] = {0x94, 0x01, 0x02, 0x81, 0x05, 0x03,
                                   0x91, 0x92, 0x05, 0x03};
    const uint8_t next[] = {0x94, 0x01, 0x02, 0x81, 0x05, 0x03,
                            0x91, 0x92, 0x05, 0x04};
    const uint8_t first[] = {0x94, 0x01, 0x02, 0x80, 0x91, 0x92, 0x09, 0x01};
    const uint8_t zero[] = {0x94, 0x01, 0x02, 0x80, 0x91, 0x92, 0x09, 0x00};
    /* order */
    const uint8_t unsorted[] = {0x94, 0x01, 0x02, 0x80, 0x92, 0x92, 0x09,
                                0x02, 0x92, 0x05, 0x03};
    const uint8_t unsorted_c[] = {0x94, 0x01, 0x02, 0x80, 0x92, 0x92, 0x09,
                                  0x05, 0x92, 0x09, 0x03};
    const uint8_t dup[] = {0x94, 0x01, 0x02, 0x80, 0x92, 0x92, 0x09,
                           0x05, 0x92, 0x09, 0x05};
    /* shapes */
    const uint8_t triple[] = {0x94, 0x01, 0x02, 0x80, 0x91, 0x93, 0x09,
                              0x05, 0x01};
    const uint8_t single[] = {0x94, 0x01, 0x02, 0x80, 0x91, 0x91, 0x09,
                              0x05, 0x05};
    const uint8_t mapdot[] = {0x94, 0x01, 0x02, 0x80, 0x91, 0x81, 0x09,
                              0x05};
    const uint8_t neg[] = {0x94, 0x01, 0x02, 0x80, 0x91, 0x92, 0x09, 0xff};
    const uint8_t longint[] = {0x94, 0x01, 0x02, 0x80, 0x91, 0x92, 0xcc,
                               0x09, 0x05};
    const uint8_t longarr[] = {0x94, 0x01, 0x02, 0x80, 0xdc, 0x00, 0x01,
                               0x92, 0x09, 0x05};
    const uint8_t huge[] = {0x94, 0x01, 0x02, 0x80, 0xdd, 0xff, 0xff,
                            0xff, 0xff};
    const uint8_t toomany[] = {0x94, 0x01, 0x02, 0x80, 0x93, 0x92, 0x09,
                               0x05, 0x00, 0x00};
    const uint8_t cloudmap[] = {0x94, 0x01, 0x02, 0x80, 0x80};
    /* envelope and vector */
    const uint8_t three[] = {0x93, 0x01, 0x02, 0x80};
    const uint8_t five[] = {0x95, 0x01, 0x02, 0x80, 0x90, 0x90};
    const uint8_t badtag[] = {0x94, 0x01, 0x01, 0x80, 0x90};
    const uint8_t badver[] = {0x94, 0x02, 0x02, 0x80, 0x90};
    const uint8_t trailing[] = {0x94, 0x01, 0x02, 0x80, 0x90, 0x00};
    const uint8_t vvzero[] = {0x94, 0x01, 0x02, 0x81, 0x05, 0x00, 0x90};
    const uint8_t vvunsorted[] = {0x94, 0x01, 0x02, 0x82, 0x05, 0x01,
                                  0x03, 0x01, 0x90};
    const uint8_t vvarray[] = {0x94, 0x01, 0x02, 0x90, 0x90};

    REJECT(covered, CRDT_ERR_DECODE, 9);
    REJECT(covered_top, CRDT_ERR_DECODE, 9);
    REJECT(next, CRDT_ERR_DECODE, 9);
    REJECT(first, CRDT_ERR_DECODE, 7);
    REJECT(zero, CRDT_ERR_DECODE, 7);
    REJECT(unsorted, CRDT_ERR_DECODE, 8);
    REJECT(unsorted_c, CRDT_ERR_DECODE, 8);
    REJECT(dup, CRDT_ERR_DECODE, 8);
    REJECT(triple, CRDT_ERR_DECODE, 5);
    REJECT(single, CRDT_ERR_DECODE, 5);
    REJECT(mapdot, CRDT_ERR_DECODE, 5);
    REJECT(neg, CRDT_ERR_DECODE, 7);
    REJECT(longint, CRDT_ERR_DECODE, 6);
    REJECT(longarr, CRDT_ERR_DECODE, 4);
    REJECT(huge, CRDT_ERR_DECODE, 4);
    REJECT(toomany, CRDT_ERR_DECODE, 4);
    REJECT(cloudmap, CRDT_ERR_DECODE, 4);
    REJECT(three, CRDT_ERR_DECODE, 0);
    REJECT(five, CRDT_ERR_DECODE, 0);
    REJECT(badtag, CRDT_ERR_TYPE, 2);
    REJECT(badver, CRDT_ERR_VERSION, 1);
    REJECT(trailing, CRDT_ERR_DECODE, 5);
    REJECT(vvzero, CRDT_ERR_DECODE, 5);
    REJECT(vvunsorted, CRDT_ERR_DECODE, 6);
    REJECT(vvarray, CRDT_ERR_DECODE, 3);
    expect_reject(NULL, 0, CRDT_ERR_DECODE, 0);
    ck_assert_int_eq(crdt_dotctx_decode(NULL, trailing, 5, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_dotctx_codec_limit)
{
    /* vv {1: 1, 2: 1, 3: 1}, cloud {(1, 3), (2, 3)} */
    const uint64_t p[] = {1, 1, 2, 1, 3, 1, 1, 3, 2, 3};
    crdt_dotctx *c = mk(NULL, 5, p), *d = crdt_dotctx_new(NULL);
    crdt_limits lim;
    crdt_buf b;

    encode(c, &b);
    crdt_limits_default(&lim);
    lim.max_elements = 1;
    /* 94 01 02 83 01 01 02 01 03 01 92 ...: the cloud's header at 10 */
    expect_reject_lim(b.data, b.len, &lim, CRDT_ERR_LIMIT, 10);
    lim.max_elements = 2;
    lim.max_actors = 2;
    expect_reject_lim(b.data, b.len, &lim, CRDT_ERR_LIMIT, 3);
    lim.max_actors = 3;
    ck_assert_int_eq(crdt_dotctx_decode(d, b.data, b.len, &lim, NULL),
                     CRDT_OK);
    ck_assert(crdt_dotctx_equal(c, d));
    crdt_buf_clear(&b);
    crdt_dotctx_free(c);
    crdt_dotctx_free(d);
}
END_TEST

START_TEST(test_dotctx_codec_truncated)
{
    tu_rng rng;
    crdt_dotctx *c = crdt_dotctx_new(NULL), *d, *d0;
    crdt_buf b;
    size_t i, cut;

    tu_rng_init(&rng, tu_seed("dotctx"));
    for (i = 0; i < 12; i++)
        ck_assert_int_eq(crdt_dotctx_add(c, D(i / 3, 1 + i % 3)), CRDT_OK);
    for (i = 0; i < 120; i++) {
        crdt_actor a = tu_below(&rng, 4) ? tu_below(&rng, 6) : tu_rand(&rng);
        uint64_t n = tu_below(&rng, 3) ? 1 + tu_below(&rng, 40)
                                       : 1 + tu_below(&rng, 1u << 20);

        ck_assert_int_eq(crdt_dotctx_add(c, D(a, n)), CRDT_OK);
    }
    ck_assert_uint_gt(crdt_dotctx_cloud_size(c), 10);
    ck_assert_uint_gt(crdt_dotctx_vv_size(c), 1);
    encode(c, &b);
    d0 = crdt_dotctx_new(NULL);
    ck_assert_int_eq(crdt_dotctx_add(d0, D(77, 1)), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_add(d0, D(77, 5)), CRDT_OK);
    d = crdt_dotctx_clone(d0);
    for (cut = 0; cut < b.len; cut++) {
        crdt_decode_info info;

        ck_assert_int_eq(crdt_dotctx_decode(d, b.data, cut, NULL, &info),
                         CRDT_ERR_DECODE);
        ck_assert_int_eq(info.code, CRDT_ERR_DECODE);
        ck_assert_uint_le(info.offset, cut);
        ck_assert(crdt_dotctx_equal(d, d0));
    }
    /* every single-byte corruption is rejected or decodes to a state
     * whose canonical encoding is exactly the corrupted input */
    for (i = 0; i < b.len; i++) {
        uint8_t *x = malloc(b.len);
        crdt_buf b2;

        memcpy(x, b.data, b.len);
        x[i] ^= (uint8_t)(1u << tu_below(&rng, 8));
        if (crdt_dotctx_decode(d, x, b.len, NULL, NULL) == CRDT_OK) {
            check_compact(d);
            encode(d, &b2);
            ck_assert_uint_eq(b2.len, b.len);
            ck_assert_mem_eq(b2.data, x, b.len);
            crdt_buf_clear(&b2);
        } else {
            ck_assert(crdt_dotctx_equal(d, d0));
        }
        free(x);
        ck_assert_int_eq(crdt_dotctx_copy(d, d0), CRDT_OK);
    }
    ck_assert_int_eq(crdt_dotctx_decode(d, b.data, b.len, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_dotctx_equal(d, c));
    crdt_buf_clear(&b);
    crdt_dotctx_free(c);
    crdt_dotctx_free(d);
    crdt_dotctx_free(d0);
}
END_TEST

/* ------------------------------------------------------------- property */

#define MODEL_ACTORS 5
#define MODEL_MAX 64 /* counters 1..64: bit c - 1 */

typedef struct model {
    uint64_t bits[MODEL_ACTORS];
} model;

static const crdt_actor model_actor[MODEL_ACTORS] = {
    0, 1, 42, 0x8000000000000000u, 0xffffffffffffffffu};

static bool model_has(const model *m, size_t i, uint64_t c)
{
    return c >= 1 && c <= MODEL_MAX && ((m->bits[i] >> (c - 1)) & 1u);
}

/* Length of the run of counters 1, 2, ... (the vector entry). */
static uint64_t model_run(const model *m, size_t i)
{
    uint64_t c = 0;

    while (c < MODEL_MAX && model_has(m, i, c + 1))
        c++;
    return c;
}

/* Highest counter present, 0 if none. */
static uint64_t model_top(const model *m, size_t i)
{
    uint64_t c = MODEL_MAX;

    while (c > 0 && !model_has(m, i, c))
        c--;
    return c;
}

static void random_model(tu_rng *r, model *m)
{
    size_t i;
    uint64_t c;

    for (i = 0; i < MODEL_ACTORS; i++) {
        unsigned prefix = (unsigned)tu_below(r, 24), dens;

        m->bits[i] = 0;
        if (tu_below(r, 4) == 0)
            continue; /* actor absent */
        dens = (unsigned)tu_below(r, 4); /* none, 1/8, 1/2, 7/8 above */
        if (tu_below(r, 3) == 0)
            prefix = 0;
        for (c = 1; c <= MODEL_MAX; c++) {
            bool on = c <= prefix;

            if (!on && dens == 1)
                on = tu_below(r, 8) == 0;
            else if (!on && dens == 2)
                on = tu_below(r, 2) == 0;
            else if (!on && dens == 3)
                on = tu_below(r, 8) != 0;
            if (on)
                m->bits[i] |= (uint64_t)1 << (c - 1);
        }
    }
}

/* Every dot of the model, shuffled. */
static size_t model_dots(const model *m, tu_rng *r, crdt_dot *out)
{
    size_t i, n = 0;
    uint64_t c;

    for (i = 0; i < MODEL_ACTORS; i++)
        for (c = 1; c <= MODEL_MAX; c++)
            if (model_has(m, i, c))
                out[n++] = D(model_actor[i], c);
    for (i = n; i > 1; i--) {
        size_t j = (size_t)tu_below(r, i);
        crdt_dot t = out[i - 1];

        out[i - 1] = out[j];
        out[j] = t;
    }
    return n;
}

enum { BUILD_ADD, BUILD_UNFOLDED, BUILD_DELTAS, BUILD_DIRTY, BUILD_MIX };

/* A context holding the model's dots, built one of several ways; every
 * way but BUILD_DIRTY (and sometimes BUILD_MIX) leaves it compact. */
static crdt_dotctx *build(const model *m, tu_rng *r, int how)
{
    crdt_dot dots[MODEL_ACTORS * MODEL_MAX];
    size_t n = model_dots(m, r, dots), i;
    crdt_dotctx *c = crdt_dotctx_new(NULL);

    tu_expect(c != NULL, "new");
    for (i = 0; i < n; i++) {
        int op = how == BUILD_MIX ? (int)tu_below(r, 3) : how;

        switch (op) {
        case BUILD_ADD:
            tu_must(crdt_dotctx_add(c, dots[i]), "add");
            break;
        case BUILD_UNFOLDED:
        case BUILD_DIRTY:
            tu_must(crdt_dotctx_add_unfolded(c, dots[i]), "add_unfolded");
            /* duplicates are fine */
            if (tu_below(r, 8) == 0)
                tu_must(crdt_dotctx_add_unfolded(c, dots[i]), "add_unfolded");
            break;
        case BUILD_DELTAS: {
            crdt_dotctx *d = crdt_dotctx_new(NULL);

            tu_must(crdt_dotctx_add(d, dots[i]), "add");
            tu_must(crdt_dotctx_join(c, d), "join");
            crdt_dotctx_free(d);
            break;
        }
        }
        /* the invariant holds after every compacting op (sampled: the
         * check is linear in the size) */
        if ((op == BUILD_ADD || op == BUILD_DELTAS) && tu_below(r, 32) == 0)
            check_compact(c);
    }
    if (how == BUILD_UNFOLDED)
        crdt_dotctx_compact(c);
    return c;
}

/* c holds exactly the model's dots; if compact, its representation is the
 * canonical one: vv[a] = run of a, cloud = the other dots in order. */
static void check_model(const crdt_dotctx *c, const model *m)
{
    size_t i, nvv = 0, ncl = 0, k = 0;
    uint64_t x;
    crdt_dot d;

    for (i = 0; i < MODEL_ACTORS; i++) {
        crdt_actor a = model_actor[i];
        uint64_t run = model_run(m, i);

        for (x = 0; x <= MODEL_MAX + 2; x++) {
            if (crdt_dotctx_contains(c, D(a, x)) != model_has(m, i, x))
                ck_abort_msg("contains(%llu, %llu) != model %d",
                             (unsigned long long)a, (unsigned long long)x,
                             (int)model_has(m, i, x));
        }
        if (crdt_dotctx_max(c, a) != run)
            ck_abort_msg("max(%llu) = %llu, model %llu",
                         (unsigned long long)a,
                         (unsigned long long)crdt_dotctx_max(c, a),
                         (unsigned long long)run);
        nvv += run != 0;
        for (x = run + 2; x <= MODEL_MAX; x++)
            ncl += model_has(m, i, x);
    }
    tu_expect(!crdt_dotctx_contains(c, D(7, 1)), "contains a foreign dot");
    tu_expect(crdt_dotctx_vv_size(c) == nvv, "vv_size = model");
    if (!crdt_dotctx_is_compact(c)) {
        tu_expect(crdt_dotctx_cloud_size(c) >= ncl, "cloud_size bound");
        return;
    }
    check_compact(c);
    tu_expect(crdt_dotctx_cloud_size(c) == ncl, "cloud_size = model");
    /* model actors are listed in ascending order */
    for (i = 0; i < MODEL_ACTORS; i++) {
        for (x = model_run(m, i) + 2; x <= MODEL_MAX; x++) {
            if (!model_has(m, i, x))
                continue;
            tu_must(crdt_dotctx_cloud_dot(c, k++, &d), "cloud_dot");
            tu_expect(d.actor == model_actor[i] && d.counter == x,
                   "cloud dot = model");
        }
    }
}

static void model_join(model *out, const model *a, const model *b)
{
    size_t i;

    for (i = 0; i < MODEL_ACTORS; i++)
        out->bits[i] = a->bits[i] | b->bits[i];
}

static crdt_order model_cmp(const model *a, const model *b)
{
    int gt = 0, lt = 0;
    size_t i;

    for (i = 0; i < MODEL_ACTORS; i++) {
        gt |= (a->bits[i] & ~b->bits[i]) != 0;
        lt |= (b->bits[i] & ~a->bits[i]) != 0;
    }
    return (crdt_order)(gt | lt << 1);
}

static crdt_dotctx *joined(const crdt_dotctx *a, const crdt_dotctx *b)
{
    crdt_dotctx *r = crdt_dotctx_clone(a);

    tu_expect(r != NULL, "clone");
    tu_must(crdt_dotctx_join(r, b), "join");
    tu_expect(crdt_dotctx_is_compact(r), "join result compact");
    return r;
}

static void same_bytes(const crdt_dotctx *a, const crdt_dotctx *b)
{
    crdt_buf e1, e2;

    encode(a, &e1);
    encode(b, &e2);
    tu_expect(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0,
           "equal states, identical bytes");
    crdt_buf_clear(&e1);
    crdt_buf_clear(&e2);
}

START_TEST(test_dotctx_property_join_laws)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("dotctx") ^ 0x1);
    for (k = 0; k < n; k++) {
        model ma, mb, mc, mab, mabc;
        int how = (int)tu_below(&rng, 3);
        crdt_dotctx *a = build((random_model(&rng, &ma), &ma), &rng, how);
        crdt_dotctx *b = build((random_model(&rng, &mb), &mb), &rng,
                               (int)tu_below(&rng, 3));
        crdt_dotctx *c = build((random_model(&rng, &mc), &mc), &rng,
                               (int)tu_below(&rng, 3));
        crdt_dotctx *ab = joined(a, b), *ba = joined(b, a);
        crdt_dotctx *ab_c = joined(ab, c), *bc = joined(b, c);
        crdt_dotctx *a_bc = joined(a, bc), *aa = joined(a, a);
        crdt_buf e;

        check_model(a, &ma);
        check_model(b, &mb);
        model_join(&mab, &ma, &mb);
        model_join(&mabc, &mab, &mc);
        check_model(ab, &mab);
        check_model(ab_c, &mabc);
        tu_expect(crdt_dotctx_equal(ab, ba), "commutative");
        tu_expect(crdt_dotctx_equal(ab_c, a_bc), "associative");
        tu_expect(crdt_dotctx_equal(aa, a), "idempotent");
        tu_expect(crdt_dotctx_compare(a, b) == model_cmp(&ma, &mb),
               "compare = model");
        tu_expect(crdt_dotctx_compare(ab, a) == model_cmp(&mab, &ma),
               "compare(a + b, a) = model");
        tu_expect(crdt_dotctx_equal(a, b) == (model_cmp(&ma, &mb) == 0),
               "equal = model");
        /* canonical: equal states, identical bytes; round trip */
        same_bytes(ab, ba);
        same_bytes(ab_c, a_bc);
        encode(ab, &e);
        tu_must(crdt_dotctx_decode(c, e.data, e.len, NULL, NULL), "decode");
        tu_expect(crdt_dotctx_equal(c, ab), "round trip");
        check_model(c, &mab);
        crdt_buf_clear(&e);
        crdt_dotctx_free(a);
        crdt_dotctx_free(b);
        crdt_dotctx_free(c);
        crdt_dotctx_free(ab);
        crdt_dotctx_free(ba);
        crdt_dotctx_free(ab_c);
        crdt_dotctx_free(bc);
        crdt_dotctx_free(a_bc);
        crdt_dotctx_free(aa);
    }
}
END_TEST

/* Uncompacted contexts: exact queries, and every way of building one
 * model state gives the same state and the same bytes. */
START_TEST(test_dotctx_property_unfolded)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("dotctx") ^ 0x2);
    for (k = 0; k < n; k++) {
        model ma, mb, mab;
        crdt_dotctx *a, *b, *dirty, *mix, *cl;

        random_model(&rng, &ma);
        random_model(&rng, &mb);
        a = build(&ma, &rng, BUILD_ADD);
        b = build(&mb, &rng, BUILD_UNFOLDED);
        dirty = build(&ma, &rng, BUILD_DIRTY);
        mix = build(&ma, &rng, BUILD_MIX);
        check_model(dirty, &ma);
        check_model(mix, &ma);
        tu_expect(crdt_dotctx_equal(dirty, a), "equal(uncompacted, compact)");
        tu_expect(crdt_dotctx_equal(a, mix), "equal(compact, mixed)");
        tu_expect(crdt_dotctx_compare(dirty, b) == model_cmp(&ma, &mb),
               "compare(uncompacted, b) = model");
        tu_expect(crdt_dotctx_compare(b, mix) == model_cmp(&mb, &ma),
               "compare(b, mixed) = model");
        cl = crdt_dotctx_clone(dirty);
        tu_expect(crdt_dotctx_equal(cl, mix), "equal(clone, mixed)");
        /* join into an uncompacted context compacts it */
        tu_must(crdt_dotctx_join(dirty, b), "join into uncompacted");
        model_join(&mab, &ma, &mb);
        check_model(dirty, &mab);
        crdt_dotctx_compact(mix);
        check_model(mix, &ma);
        same_bytes(mix, a);
        crdt_dotctx_compact(cl);
        same_bytes(cl, a);
        crdt_dotctx_free(a);
        crdt_dotctx_free(b);
        crdt_dotctx_free(dirty);
        crdt_dotctx_free(mix);
        crdt_dotctx_free(cl);
    }
}
END_TEST

/* next_dot and small deltas against the model. */
START_TEST(test_dotctx_property_next_dot_delta)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("dotctx") ^ 0x3);
    for (k = 0; k < n; k++) {
        model m;
        crdt_dotctx *c = build((random_model(&rng, &m), &m), &rng,
                               (int)tu_below(&rng, 3));
        int step;

        for (step = 0; step < 4; step++) {
            size_t i = (size_t)tu_below(&rng, MODEL_ACTORS);
            uint64_t top = model_top(&m, i);
            crdt_dot d;

            if (tu_below(&rng, 2) && top < MODEL_MAX) {
                tu_must(crdt_dotctx_next_dot(c, model_actor[i], &d), "next_dot");
                tu_expect(d.actor == model_actor[i] && d.counter == top + 1,
                       "next_dot = model top + 1");
                m.bits[i] |= (uint64_t)1 << top;
            } else {
                /* a delta of one to three dots */
                crdt_dotctx *delta = crdt_dotctx_new(NULL);
                model md = {{0}};
                int j, nd = 1 + (int)tu_below(&rng, 3);

                for (j = 0; j < nd; j++) {
                    size_t a = (size_t)tu_below(&rng, MODEL_ACTORS);
                    uint64_t x = 1 + tu_below(&rng, MODEL_MAX);

                    md.bits[a] |= (uint64_t)1 << (x - 1);
                    tu_must(crdt_dotctx_add(delta, D(model_actor[a], x)), "add");
                }
                check_model(delta, &md);
                tu_must(crdt_dotctx_join(c, delta), "join a delta");
                model_join(&m, &m, &md);
                crdt_dotctx_free(delta);
            }
            check_model(c, &m);
        }
        crdt_dotctx_free(c);
    }
}
END_TEST

/* ---------------------------------------------------------------- nomem */

enum {
    OP_ADD_CLOUD,
    OP_ADD_NEW_ACTOR,
    OP_ADD_UNFOLDED,
    OP_ADD_UNFOLDED_NEW_ACTOR,
    OP_NEXT_NEW_ACTOR,
    OP_NEXT_CLOUD,
    OP_JOIN_LINEAR,
    OP_JOIN_DELTA,
    OP_JOIN_DIRTY,
    OP_COPY,
    OP_CLONE,
    OP_NEW,
    OP_ENCODE,
    OP_DECODE,
    OP_COUNT
};

/* Base state: vv {1: 3, 2: 1}, cloud (1, 5), (3, 2..80 even): 42 dots,
 * enough for a one-dot delta to take the entry-by-entry path. */
static crdt_dotctx *nomem_base(void)
{
    crdt_dotctx *c = crdt_dotctx_new(NULL);
    uint64_t k;

    for (k = 1; k <= 3; k++)
        ck_assert_int_eq(crdt_dotctx_add(c, D(1, k)), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_add(c, D(2, 1)), CRDT_OK);
    ck_assert_int_eq(crdt_dotctx_add(c, D(1, 5)), CRDT_OK);
    for (k = 2; k <= 80; k += 2)
        ck_assert_int_eq(crdt_dotctx_add(c, D(3, k)), CRDT_OK);
    return c;
}

/* The states every run of test_dotctx_nomem_all starts from. */
typedef struct nomem_fixture {
    crdt_dotctx *base;  /* nomem_base() */
    crdt_dotctx *other; /* many actors and dots, so the join is linear */
    crdt_dotctx *delta; /* one dot */
    crdt_buf enc;       /* base encoded */
} nomem_fixture;

/* What a run of test_dotctx_nomem_all keeps besides a and d. */
typedef struct nomem_run {
    crdt_dotctx *a0; /* what a holds before the call (base, or a copy) */
    crdt_dot dot;    /* next_dot's result */
} nomem_run;

static void nomem_setup(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;
    nomem_run *r = calloc(1, sizeof *r);
    crdt_dotctx *a = exact(&c->tm->mem, f->base);

    ck_assert_ptr_nonnull(r);
    c->user = r;
    c->a = a;
    c->d = crdt_dotctx_new(&c->tm->mem);
    ck_assert_ptr_nonnull(c->d);
    r->a0 = f->base;
    r->dot = D(0, 0);
    if (c->op == OP_JOIN_DIRTY) {
        /* a pending dot that compaction folds: compaction itself must not
         * allocate */
        ck_assert_int_eq(crdt_dotctx_add_unfolded(a, D(1, 5)), CRDT_OK);
        ck_assert_int_eq(crdt_dotctx_add_unfolded(a, D(1, 4)), CRDT_OK);
        ck_assert(!crdt_dotctx_is_compact(a));
        r->a0 = crdt_dotctx_clone(f->base);
        ck_assert_int_eq(crdt_dotctx_add(r->a0, D(1, 4)), CRDT_OK);
    }
}

static int nomem_call(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;
    nomem_run *r = c->user;
    crdt_dotctx *a = c->a, *d = c->d;

    switch (c->op) {
    case OP_ADD_CLOUD:
        return crdt_dotctx_add(a, D(1, 9));
    case OP_ADD_NEW_ACTOR:
        return crdt_dotctx_add(a, D(9, 1));
    case OP_ADD_UNFOLDED:
        return crdt_dotctx_add_unfolded(a, D(1, 9));
    case OP_ADD_UNFOLDED_NEW_ACTOR:
        return crdt_dotctx_add_unfolded(a, D(9, 1));
    case OP_NEXT_NEW_ACTOR:
        return crdt_dotctx_next_dot(a, 9, &r->dot);
    case OP_NEXT_CLOUD:
        return crdt_dotctx_next_dot(a, 1, &r->dot);
    case OP_JOIN_LINEAR:
        return crdt_dotctx_join(a, f->other);
    case OP_JOIN_DELTA:
        return crdt_dotctx_join(a, f->delta);
    case OP_JOIN_DIRTY:
        return crdt_dotctx_join(a, f->other);
    case OP_COPY:
        return crdt_dotctx_copy(d, a);
    case OP_CLONE:
        return tu_nomem_made(c, crdt_dotctx_clone(a));
    case OP_NEW:
        return tu_nomem_made(c, crdt_dotctx_new(&c->tm->mem));
    case OP_ENCODE:
        return crdt_dotctx_encode(a, &c->out);
    case OP_DECODE:
        return crdt_dotctx_decode(d, f->enc.data, f->enc.len, NULL, NULL);
    }
    return CRDT_ERR_INVALID_ARG;
}

static void nomem_failed(tu_nomem *c)
{
    const nomem_run *r = c->user;

    ck_assert(crdt_dotctx_equal(c->a, r->a0));
    ck_assert_uint_eq(crdt_dotctx_vv_size(c->d), 0);
    ck_assert_uint_eq(crdt_dotctx_cloud_size(c->d), 0);
    ck_assert_uint_eq(r->dot.counter, 0);
}

static void nomem_succeeded(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;
    const nomem_run *r = c->user;
    const crdt_dotctx *res = c->a;

    if (c->op == OP_COPY || c->op == OP_DECODE)
        res = c->d;
    else if (c->op == OP_CLONE)
        res = c->made;
    if (c->op != OP_NEW)
        ck_assert(crdt_dotctx_compare(res, r->a0) != CRDT_BEFORE);
    if (c->op == OP_COPY || c->op == OP_CLONE || c->op == OP_DECODE)
        ck_assert(crdt_dotctx_equal(res, f->base));
    if (c->op == OP_NEXT_CLOUD)
        ck_assert_uint_eq(r->dot.counter, 6);
}

static void nomem_teardown(tu_nomem *c)
{
    const nomem_fixture *f = c->ops->fixture;
    nomem_run *r = c->user;

    if (r->a0 != f->base)
        crdt_dotctx_free(r->a0);
    free(r);
}

START_TEST(test_dotctx_nomem_all)
{
    nomem_fixture f;
    tu_nomem_ops ops = {
        .type = crdt_dotctx_type(),
        .nops = OP_COUNT,
        .fixture = &f,
        .setup = nomem_setup,
        .call = nomem_call,
        .failed = nomem_failed,
        .succeeded = nomem_succeeded,
        .teardown = nomem_teardown,
        .allocs = tu_alloc_must, /* every op allocates at least once */
    };
    uint64_t k;

    f.base = nomem_base();
    f.other = crdt_dotctx_new(NULL);
    f.delta = crdt_dotctx_new(NULL);
    for (k = 1; k <= 30; k++) {
        ck_assert_int_eq(crdt_dotctx_add(f.other, D(100 + k, 1 + k % 3)),
                         CRDT_OK);
        ck_assert_int_eq(crdt_dotctx_add(f.other, D(k, 1)), CRDT_OK);
    }
    ck_assert_int_eq(crdt_dotctx_add(f.delta, D(3, 99)), CRDT_OK);
    encode(f.base, &f.enc);
    tu_nomem_run(&ops);
    crdt_buf_clear(&f.enc);
    crdt_dotctx_free(f.base);
    crdt_dotctx_free(f.other);
    crdt_dotctx_free(f.delta);
}
END_TEST

/* A larger random join with every allocation failing in turn. */
typedef struct join_fixture {
    const crdt_dotctx *a0, *b;
    const model *ma, *mab;
} join_fixture;

static void join_setup(tu_nomem *c)
{
    const join_fixture *f = c->ops->fixture;

    c->a = exact(&c->tm->mem, f->a0);
}

static int join_call(tu_nomem *c)
{
    const join_fixture *f = c->ops->fixture;

    return crdt_dotctx_join(c->a, f->b);
}

static void join_failed(tu_nomem *c)
{
    const join_fixture *f = c->ops->fixture;

    check_model(c->a, f->ma);
}

static void join_succeeded(tu_nomem *c)
{
    const join_fixture *f = c->ops->fixture;

    check_model(c->a, f->mab);
}

START_TEST(test_dotctx_nomem_join_random)
{
    tu_rng rng;
    int round;

    tu_rng_init(&rng, tu_seed("dotctx") ^ 0x4);
    for (round = 0; round < 50; round++) {
        model ma, mb, mab;
        crdt_dotctx *a0 = build((random_model(&rng, &ma), &ma), &rng,
                                BUILD_ADD);
        crdt_dotctx *b = build((random_model(&rng, &mb), &mb), &rng,
                               BUILD_ADD);
        const join_fixture f = {a0, b, &ma, &mab};
        const tu_nomem_ops ops = {
            .type = crdt_dotctx_type(),
            .nops = 1,
            .fixture = &f,
            .setup = join_setup,
            .call = join_call,
            .failed = join_failed,
            .succeeded = join_succeeded,
        };

        model_join(&mab, &ma, &mb);
        tu_nomem_run(&ops);
        crdt_dotctx_free(a0);
        crdt_dotctx_free(b);
    }
}
END_TEST

static Suite *dotctx_suite(void)
{
    Suite *s = suite_create("dotctx");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_dotctx_basic_next_dot);
    tcase_add_test(tc, test_dotctx_basic_vv_overflow);
    tcase_add_test(tc, test_dotctx_basic_gaps_fold);
    tcase_add_test(tc, test_dotctx_basic_contains);
    tcase_add_test(tc, test_dotctx_basic_copy_clone);
    tcase_add_test(tc, test_dotctx_basic_unfolded);
    suite_add_tcase(s, tc);
    tc = tcase_create("join");
    tcase_add_test(tc, test_dotctx_join_gaps);
    tcase_add_test(tc, test_dotctx_join_delta);
    tcase_add_test(tc, test_dotctx_join_compare);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_dotctx_codec_bytes);
    tcase_add_test(tc, test_dotctx_codec_reject);
    tcase_add_test(tc, test_dotctx_codec_limit);
    tcase_add_test(tc, test_dotctx_codec_truncated);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_dotctx_property_join_laws);
    tcase_add_test(tc, test_dotctx_property_unfolded);
    tcase_add_test(tc, test_dotctx_property_next_dot_delta);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dotctx_nomem_all);
    tcase_add_test(tc, test_dotctx_nomem_join_random);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dotctx_suite());
    int failed;

    tu_seed("dotctx"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
