/* SPDX-License-Identifier: MIT */
/*
 * G-counter suite: operations and their overflow rules, deltas, merge,
 * codec (canonical bytes, hostile input), join-law and delta properties
 * against a reference model, and allocation-failure injection.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/gcounter.h>

#include "testutil.h"

#define BIG (UINT64_MAX / 3) /* three of them sum to UINT64_MAX exactly */

/* A counter with the (actor, by) increments in pairs applied in order. */
static crdt_gcounter *mk(const crdt_mem *mem, size_t n, const uint64_t *pairs)
{
    crdt_gcounter *g = crdt_gcounter_new(mem);
    size_t i;

    ck_assert_ptr_nonnull(g);
    for (i = 0; i < n; i++)
        ck_assert_int_eq(
            crdt_gcounter_increment(g, pairs[2 * i], pairs[2 * i + 1], NULL),
            CRDT_OK);
    return g;
}

static crdt_gcounter *clone(const crdt_gcounter *g)
{
    crdt_gcounter *c = crdt_gcounter_clone(g);

    ck_assert_ptr_nonnull(c);
    return c;
}

static void encode(const crdt_gcounter *g, crdt_buf *b)
{
    crdt_buf_init(b, NULL);
    ck_assert_int_eq(crdt_gcounter_encode(g, b), CRDT_OK);
}

/* ---------------------------------------------------------------- basic */

START_TEST(test_gcounter_basic_increment_value)
{
    crdt_gcounter *g = crdt_gcounter_new(NULL);
    crdt_actor a;
    uint64_t c;

    ck_assert_uint_eq(crdt_gcounter_value(g), 0);
    ck_assert_uint_eq(crdt_gcounter_size(g), 0);
    ck_assert_uint_eq(crdt_gcounter_get(g, 7), 0);
    ck_assert_int_eq(crdt_gcounter_increment(g, 7, 5, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(g, 2, 3, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(g, 9, 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(g, 7, 10, NULL), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_value(g), 19);
    ck_assert_uint_eq(crdt_gcounter_size(g), 3);
    ck_assert_uint_eq(crdt_gcounter_get(g, 7), 15);
    ck_assert_uint_eq(crdt_gcounter_get(g, 2), 3);
    ck_assert_uint_eq(crdt_gcounter_get(g, 8), 0);
    /* by == 0 is a no-op, even for a new actor */
    ck_assert_int_eq(crdt_gcounter_increment(g, 100, 0, NULL), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_size(g), 3);
    ck_assert_uint_eq(crdt_gcounter_value(g), 19);
    /* iteration is in ascending actor order */
    ck_assert_int_eq(crdt_gcounter_entry(g, 0, &a, &c), CRDT_OK);
    ck_assert_uint_eq(a, 2);
    ck_assert_uint_eq(c, 3);
    ck_assert_int_eq(crdt_gcounter_entry(g, 2, &a, NULL), CRDT_OK);
    ck_assert_uint_eq(a, 9);
    a = 77;
    ck_assert_int_eq(crdt_gcounter_entry(g, 3, &a, &c), CRDT_ERR_NOT_FOUND);
    ck_assert_uint_eq(a, 77);
    ck_assert_int_eq(crdt_gcounter_entry(NULL, 0, &a, &c),
                     CRDT_ERR_INVALID_ARG);
    /* NULL is the empty counter for queries, an error for mutators */
    ck_assert_uint_eq(crdt_gcounter_value(NULL), 0);
    ck_assert_uint_eq(crdt_gcounter_size(NULL), 0);
    ck_assert_uint_eq(crdt_gcounter_get(NULL, 7), 0);
    ck_assert_int_eq(crdt_gcounter_increment(NULL, 1, 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gcounter_increment(g, 1, 1, g),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(crdt_gcounter_value(g), 19);
    crdt_gcounter_free(g);
    crdt_gcounter_free(NULL);
}
END_TEST

START_TEST(test_gcounter_basic_many_actors)
{
    /* past the linear-search threshold, inserted out of order */
    crdt_gcounter *g = crdt_gcounter_new(NULL);
    uint64_t i, sum = 0;
    crdt_actor a, prev = 0;

    for (i = 0; i < 300; i++) {
        ck_assert_int_eq(
            crdt_gcounter_increment(g, tu_splitmix(i), i + 1, NULL),
            CRDT_OK);
        sum += i + 1;
    }
    for (i = 0; i < 300; i++) {
        ck_assert_int_eq(crdt_gcounter_increment(g, tu_splitmix(i), 1, NULL),
                         CRDT_OK);
        ck_assert_uint_eq(crdt_gcounter_get(g, tu_splitmix(i)), i + 2);
    }
    ck_assert_uint_eq(crdt_gcounter_value(g), sum + 300);
    ck_assert_uint_eq(crdt_gcounter_size(g), 300);
    for (i = 0; i < 300; i++) {
        ck_assert_int_eq(crdt_gcounter_entry(g, i, &a, NULL), CRDT_OK);
        ck_assert(i == 0 || a > prev);
        prev = a;
    }
    crdt_gcounter_free(g);
}
END_TEST

START_TEST(test_gcounter_basic_overflow_count)
{
    const uint64_t p[] = {1, UINT64_MAX - 1};
    crdt_gcounter *g = mk(NULL, 1, p), *d = crdt_gcounter_new(NULL);

    ck_assert_int_eq(crdt_gcounter_increment(g, 1, 2, d), CRDT_ERR_OVERFLOW);
    ck_assert_uint_eq(crdt_gcounter_get(g, 1), UINT64_MAX - 1);
    ck_assert_uint_eq(crdt_gcounter_value(g), UINT64_MAX - 1);
    ck_assert_uint_eq(crdt_gcounter_size(d), 0);
    ck_assert_int_eq(crdt_gcounter_increment(g, 1, 1, d), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_get(g, 1), UINT64_MAX);
    ck_assert_uint_eq(crdt_gcounter_value(g), UINT64_MAX);
    ck_assert_uint_eq(crdt_gcounter_get(d, 1), UINT64_MAX);
    ck_assert_int_eq(crdt_gcounter_increment(g, 1, 1, d), CRDT_ERR_OVERFLOW);
    ck_assert_int_eq(crdt_gcounter_increment(g, 1, UINT64_MAX, NULL),
                     CRDT_ERR_OVERFLOW);
    ck_assert_uint_eq(crdt_gcounter_get(g, 1), UINT64_MAX);
    ck_assert_uint_eq(crdt_gcounter_value(d), UINT64_MAX);
    crdt_gcounter_free(g);
    crdt_gcounter_free(d);
}
END_TEST

START_TEST(test_gcounter_basic_overflow_total)
{
    /* each count fits; the sum would not */
    const uint64_t p[] = {1, UINT64_MAX - 5, 2, 3};
    crdt_gcounter *g = mk(NULL, 2, p), *g0 = mk(NULL, 2, p);
    crdt_gcounter *d = crdt_gcounter_new(NULL);

    ck_assert_int_eq(crdt_gcounter_increment(g, 2, 3, d), CRDT_ERR_OVERFLOW);
    ck_assert_int_eq(crdt_gcounter_increment(g, 3, 3, d), CRDT_ERR_OVERFLOW);
    ck_assert(crdt_gcounter_equal(g, g0));
    ck_assert_uint_eq(crdt_gcounter_size(d), 0);
    ck_assert_int_eq(crdt_gcounter_increment(g, 3, 2, d), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_value(g), UINT64_MAX);
    ck_assert_int_eq(crdt_gcounter_increment(g, 4, 1, d), CRDT_ERR_OVERFLOW);
    ck_assert_uint_eq(crdt_gcounter_size(g), 3);
    ck_assert_uint_eq(crdt_gcounter_size(d), 1);
    crdt_gcounter_free(g);
    crdt_gcounter_free(g0);
    crdt_gcounter_free(d);
}
END_TEST

START_TEST(test_gcounter_basic_delta)
{
    const uint64_t p[] = {1, 10, 2, 20};
    crdt_gcounter *g = mk(NULL, 2, p), *pre = clone(g);
    crdt_gcounter *d = crdt_gcounter_new(NULL);
    crdt_gcounter *grp = crdt_gcounter_new(NULL), *x;
    crdt_actor a;
    uint64_t c;

    /* a fresh delta holds just {actor: new count} */
    ck_assert_int_eq(crdt_gcounter_increment(g, 2, 5, d), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_size(d), 1);
    ck_assert_int_eq(crdt_gcounter_entry(d, 0, &a, &c), CRDT_OK);
    ck_assert_uint_eq(a, 2);
    ck_assert_uint_eq(c, 25);
    ck_assert_uint_eq(crdt_gcounter_value(d), 25);
    x = clone(pre);
    ck_assert_int_eq(crdt_gcounter_merge(x, d), CRDT_OK);
    ck_assert(crdt_gcounter_equal(x, g));
    crdt_gcounter_free(x);
    /* by == 0 leaves the delta alone */
    ck_assert_int_eq(crdt_gcounter_increment(g, 3, 0, d), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_size(d), 1);
    /* a delta group accumulates a batch of mutations */
    ck_assert_int_eq(crdt_gcounter_increment(g, 1, 1, grp), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(g, 3, 4, grp), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(g, 1, 2, grp), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_size(grp), 2);
    ck_assert_uint_eq(crdt_gcounter_get(grp, 1), 13);
    ck_assert_uint_eq(crdt_gcounter_get(grp, 3), 4);
    ck_assert_uint_eq(crdt_gcounter_value(grp), 17);
    x = clone(pre);
    ck_assert_int_eq(crdt_gcounter_merge(x, d), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_merge(x, grp), CRDT_OK);
    ck_assert(crdt_gcounter_equal(x, g));
    crdt_gcounter_free(x);
    /* joining keeps a larger count already in the delta */
    ck_assert_int_eq(crdt_gcounter_increment(d, 9, 100, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(d, 2, 100, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(g, 2, 1, d), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_get(d, 2), 125);
    ck_assert_uint_eq(crdt_gcounter_value(d), 225);
    crdt_gcounter_free(g);
    crdt_gcounter_free(pre);
    crdt_gcounter_free(d);
    crdt_gcounter_free(grp);
}
END_TEST

START_TEST(test_gcounter_basic_delta_overflow)
{
    /* the delta's own value would overflow: nothing changes */
    const uint64_t pg[] = {1, 5};
    const uint64_t pd[] = {2, UINT64_MAX - 3};
    crdt_gcounter *g = mk(NULL, 1, pg), *d = mk(NULL, 1, pd);
    crdt_gcounter *g0 = clone(g), *d0 = clone(d);

    ck_assert_int_eq(crdt_gcounter_increment(g, 1, 1, d), CRDT_ERR_OVERFLOW);
    ck_assert(crdt_gcounter_equal(g, g0));
    ck_assert(crdt_gcounter_equal(d, d0));
    ck_assert_int_eq(crdt_gcounter_increment(g, 3, 3, d), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_value(d), UINT64_MAX);
    crdt_gcounter_free(g);
    crdt_gcounter_free(d);
    crdt_gcounter_free(g0);
    crdt_gcounter_free(d0);
}
END_TEST

START_TEST(test_gcounter_basic_copy_clone)
{
    const uint64_t p[] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6};
    crdt_gcounter *a = mk(NULL, 6, p), *b = crdt_gcounter_new(NULL), *c;
    crdt_gcounter *e = crdt_gcounter_new(NULL);

    ck_assert_int_eq(crdt_gcounter_copy(b, a), CRDT_OK);
    ck_assert(crdt_gcounter_equal(a, b));
    ck_assert_uint_eq(crdt_gcounter_value(b), 21);
    c = clone(a);
    ck_assert(crdt_gcounter_equal(a, c));
    ck_assert_int_eq(crdt_gcounter_increment(c, 1, 9, NULL), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_get(a, 1), 1); /* deep copy */
    ck_assert(!crdt_gcounter_equal(a, c));
    ck_assert_int_eq(crdt_gcounter_copy(a, a), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_value(a), 21);
    ck_assert_int_eq(crdt_gcounter_copy(a, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gcounter_copy(NULL, a), CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(crdt_gcounter_clone(NULL));
    /* assigning the empty counter keeps the storage, compares equal */
    ck_assert_int_eq(crdt_gcounter_copy(b, e), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_size(b), 0);
    ck_assert_uint_eq(crdt_gcounter_value(b), 0);
    ck_assert(crdt_gcounter_equal(b, e));
    ck_assert(crdt_gcounter_equal(e, b));
    ck_assert(crdt_gcounter_equal(b, NULL));
    crdt_gcounter_free(a);
    crdt_gcounter_free(b);
    crdt_gcounter_free(c);
    crdt_gcounter_free(e);
}
END_TEST

/* ---------------------------------------------------------------- merge */

START_TEST(test_gcounter_merge_cases)
{
    const uint64_t pa[] = {1, 5, 3, 1, 7, 2};
    const uint64_t pb[] = {0, 9, 3, 4, 8, 1};
    crdt_gcounter *a = mk(NULL, 3, pa), *b = mk(NULL, 3, pb);
    crdt_gcounter *e = crdt_gcounter_new(NULL), *a2 = clone(a);

    ck_assert_int_eq(crdt_gcounter_merge(a, b), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_size(a), 5);
    ck_assert_uint_eq(crdt_gcounter_get(a, 0), 9);
    ck_assert_uint_eq(crdt_gcounter_get(a, 1), 5);
    ck_assert_uint_eq(crdt_gcounter_get(a, 3), 4);
    ck_assert_uint_eq(crdt_gcounter_get(a, 7), 2);
    ck_assert_uint_eq(crdt_gcounter_get(a, 8), 1);
    ck_assert_uint_eq(crdt_gcounter_value(a), 21);
    /* same actors: the in-place path */
    ck_assert_int_eq(crdt_gcounter_increment(b, 1, 7, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(b, 7, 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_merge(a, b), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_get(a, 1), 7);
    ck_assert_uint_eq(crdt_gcounter_value(a), 23);
    /* idempotent, self, empty both ways, NULL */
    ck_assert_int_eq(crdt_gcounter_merge(a, b), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_value(a), 23);
    ck_assert_int_eq(crdt_gcounter_merge(a, a), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_value(a), 23);
    ck_assert_int_eq(crdt_gcounter_merge(a, e), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_value(a), 23);
    ck_assert_int_eq(crdt_gcounter_merge(e, a), CRDT_OK);
    ck_assert(crdt_gcounter_equal(e, a));
    ck_assert_int_eq(crdt_gcounter_merge(a, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gcounter_merge(NULL, a), CRDT_ERR_INVALID_ARG);
    /* a subset merges in place */
    ck_assert_int_eq(crdt_gcounter_merge(a, a2), CRDT_OK);
    ck_assert(crdt_gcounter_equal(e, a));
    crdt_gcounter_free(a);
    crdt_gcounter_free(a2);
    crdt_gcounter_free(b);
    crdt_gcounter_free(e);
}
END_TEST

START_TEST(test_gcounter_merge_overflow)
{
    /* different actors: the merged sum passes UINT64_MAX */
    const uint64_t pa[] = {1, UINT64_MAX - 10};
    const uint64_t pb[] = {2, 11};
    /* same actors (in-place path): max(a, b) per actor overflows */
    const uint64_t pc[] = {1, UINT64_MAX - 10, 2, 1};
    const uint64_t pd[] = {1, 1, 2, 11};
    /* exactly UINT64_MAX is fine */
    const uint64_t pe[] = {2, 10};
    crdt_gcounter *a = mk(NULL, 1, pa), *b = mk(NULL, 1, pb);
    crdt_gcounter *c = mk(NULL, 2, pc), *d = mk(NULL, 2, pd);
    crdt_gcounter *e = mk(NULL, 1, pe);
    crdt_gcounter *a0 = clone(a), *b0 = clone(b), *c0 = clone(c);

    ck_assert_int_eq(crdt_gcounter_merge(a, b), CRDT_ERR_OVERFLOW);
    ck_assert(crdt_gcounter_equal(a, a0));
    ck_assert_int_eq(crdt_gcounter_merge(b, a), CRDT_ERR_OVERFLOW);
    ck_assert(crdt_gcounter_equal(b, b0));
    ck_assert_int_eq(crdt_gcounter_merge(c, d), CRDT_ERR_OVERFLOW);
    ck_assert(crdt_gcounter_equal(c, c0));
    ck_assert_int_eq(crdt_gcounter_merge(a, e), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_value(a), UINT64_MAX);
    crdt_gcounter_free(a);
    crdt_gcounter_free(b);
    crdt_gcounter_free(c);
    crdt_gcounter_free(d);
    crdt_gcounter_free(e);
    crdt_gcounter_free(a0);
    crdt_gcounter_free(b0);
    crdt_gcounter_free(c0);
}
END_TEST

/* Sources of a few actors (deltas) into counters of many, which merge
 * by lookups when every actor is known (a counter of 6 actors is
 * scanned, one of 40 searched), and by the general merge otherwise:
 * each result checked actor by actor against the pointwise max, and the
 * total; overflows leave the counter unchanged. */
START_TEST(test_gcounter_merge_few)
{
    static const size_t sizes[] = {6, 40};
    size_t z, i, k, n;

    for (z = 0; z < 2; z++) {
        crdt_gcounter *big = crdt_gcounter_new(NULL), *a, *d, *a0;

        n = sizes[z];
        for (i = 0; i < n; i++) /* actors 10, 20, ... count 5 + i */
            ck_assert_int_eq(crdt_gcounter_increment(big, 10 * (i + 1),
                                                     5 + i, NULL),
                             CRDT_OK);
        for (k = 1; k <= 5; k++) { /* k actors; the fifth one is new */
            uint64_t want = crdt_gcounter_value(big);

            a = clone(big);
            d = crdt_gcounter_new(NULL);
            for (i = 0; i < k; i++) {
                crdt_actor who = i == 4 ? 15 : 10 * (i + 1);
                uint64_t was = crdt_gcounter_get(big, who);
                uint64_t c = i % 2 ? was + 3 : (was ? was - 1 : 2);

                ck_assert_int_eq(crdt_gcounter_increment(d, who, c, NULL),
                                 CRDT_OK);
                want += c > was ? c - was : 0;
            }
            ck_assert_int_eq(crdt_gcounter_merge(a, d), CRDT_OK);
            ck_assert_uint_eq(crdt_gcounter_value(a), want);
            ck_assert_uint_eq(crdt_gcounter_size(a), n + (k == 5));
            for (i = 0; i < crdt_gcounter_size(a); i++) {
                crdt_actor who;
                uint64_t c, x, y;

                ck_assert_int_eq(crdt_gcounter_entry(a, i, &who, &c),
                                 CRDT_OK);
                x = crdt_gcounter_get(big, who);
                y = crdt_gcounter_get(d, who);
                ck_assert_uint_eq(c, x > y ? x : y);
            }
            crdt_gcounter_free(a);
            crdt_gcounter_free(d);
        }
        /* a raise that takes the total past UINT64_MAX, alone or after
         * one that fits */
        a = clone(big);
        d = crdt_gcounter_new(NULL);
        ck_assert_int_eq(crdt_gcounter_increment(d, 10, 6, NULL), CRDT_OK);
        ck_assert_int_eq(crdt_gcounter_increment(
                             d, 20, UINT64_MAX - crdt_gcounter_value(big) + 6,
                             NULL),
                         CRDT_OK); /* the total one past UINT64_MAX */
        a0 = clone(a);
        ck_assert_int_eq(crdt_gcounter_merge(a, d), CRDT_ERR_OVERFLOW);
        ck_assert(crdt_gcounter_equal(a, a0));
        ck_assert_uint_eq(crdt_gcounter_value(a), crdt_gcounter_value(a0));
        crdt_gcounter_free(a);
        crdt_gcounter_free(a0);
        crdt_gcounter_free(d);
        crdt_gcounter_free(big);
    }
}
END_TEST

START_TEST(test_gcounter_merge_equal)
{
    const uint64_t pa[] = {1, 2, 2, 1};
    const uint64_t pb[] = {1, 1, 2, 2}; /* same value, different state */
    const uint64_t pc[] = {2, 1, 1, 2}; /* same state, other order */
    crdt_gcounter *a = mk(NULL, 2, pa), *b = mk(NULL, 2, pb);
    crdt_gcounter *c = mk(NULL, 2, pc);

    ck_assert_uint_eq(crdt_gcounter_value(a), crdt_gcounter_value(b));
    ck_assert(!crdt_gcounter_equal(a, b));
    ck_assert(crdt_gcounter_equal(a, c));
    ck_assert(crdt_gcounter_equal(a, a));
    ck_assert(!crdt_gcounter_equal(a, NULL));
    ck_assert(crdt_gcounter_equal(NULL, NULL));
    crdt_gcounter_free(a);
    crdt_gcounter_free(b);
    crdt_gcounter_free(c);
}
END_TEST

/* ---------------------------------------------------------------- codec */

START_TEST(test_gcounter_codec_bytes)
{
    /* [1, 3, {5: 1, 300: 70000}] */
    const uint8_t want[] = {0x93, 0x01, 0x03, 0x82, 0x05, 0x01, 0xcd,
                            0x01, 0x2c, 0xce, 0x00, 0x01, 0x11, 0x70};
    /* [1, 3, {}] */
    const uint8_t empty[] = {0x93, 0x01, 0x03, 0x80};
    /* [1, 3, {2^64-1: 2^64-1}] */
    const uint8_t big[] = {0x93, 0x01, 0x03, 0x81, 0xcf, 0xff, 0xff,
                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xcf,
                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const uint64_t p[] = {300, 69999, 5, 1, 300, 1};
    const uint64_t pm[] = {UINT64_MAX, UINT64_MAX};
    crdt_gcounter *g = mk(NULL, 3, p), *d = crdt_gcounter_new(NULL);
    crdt_gcounter *m = mk(NULL, 1, pm);
    crdt_buf b, fb;
    uint8_t small[4], exact[sizeof want];

    encode(g, &b);
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert_mem_eq(b.data, want, sizeof want);
    ck_assert_int_eq(crdt_gcounter_decode(d, b.data, b.len, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_gcounter_equal(g, d));
    ck_assert_uint_eq(crdt_gcounter_value(d), 70001);
    /* appends after existing bytes */
    ck_assert_int_eq(crdt_gcounter_encode(g, &b), CRDT_OK);
    ck_assert_uint_eq(b.len, 2 * sizeof want);
    ck_assert_mem_eq(b.data + sizeof want, want, sizeof want);
    crdt_buf_clear(&b);
    crdt_gcounter_free(d);
    d = crdt_gcounter_new(NULL);
    encode(d, &b);
    ck_assert_uint_eq(b.len, sizeof empty);
    ck_assert_mem_eq(b.data, empty, sizeof empty);
    crdt_buf_clear(&b);
    encode(m, &b);
    ck_assert_uint_eq(b.len, sizeof big);
    ck_assert_mem_eq(b.data, big, sizeof big);
    ck_assert_int_eq(crdt_gcounter_decode(d, big, sizeof big, NULL, NULL),
                     CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_value(d), UINT64_MAX);
    /* a fixed buffer: too small fails and writes nothing; exact fits */
    crdt_buf_init_fixed(&fb, small, sizeof small);
    ck_assert_int_eq(crdt_gcounter_encode(g, &fb), CRDT_ERR_BUFFER);
    ck_assert_uint_eq(fb.len, 0);
    crdt_buf_init_fixed(&fb, exact, sizeof exact);
    ck_assert_int_eq(crdt_gcounter_encode(g, &fb), CRDT_OK);
    ck_assert_mem_eq(exact, want, sizeof want);
    ck_assert_int_eq(crdt_gcounter_encode(NULL, &fb), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gcounter_encode(g, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gcounter_decode(NULL, want, sizeof want, NULL,
                                          NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gcounter_decode(d, NULL, 3, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    crdt_buf_clear(&b);
    crdt_gcounter_free(g);
    crdt_gcounter_free(d);
    crdt_gcounter_free(m);
}
END_TEST

static void expect_reject(const uint8_t *in, size_t len, int code,
                          size_t offset)
{
    const uint64_t p[] = {1, 1};
    crdt_gcounter *d = mk(NULL, 1, p);

    tu_expect_reject(crdt_gcounter_type(), d, in, len, NULL, code, offset);
    ck_assert_uint_eq(crdt_gcounter_size(d), 1); /* untouched */
    ck_assert_uint_eq(crdt_gcounter_get(d, 1), 1);
    ck_assert_uint_eq(crdt_gcounter_value(d), 1);
    crdt_gcounter_free(d);
}

START_TEST(test_gcounter_codec_reject)
{
    const uint8_t unsorted[] = {0x93, 0x01, 0x03, 0x82,
                                0x05, 0x01, 0x03, 0x01};
    const uint8_t dup[] = {0x93, 0x01, 0x03, 0x82, 0x05, 0x01, 0x05, 0x02};
    const uint8_t zero[] = {0x93, 0x01, 0x03, 0x81, 0x05, 0x00};
    const uint8_t longint[] = {0x93, 0x01, 0x03, 0x81, 0xcc, 0x05, 0x01};
    const uint8_t negint[] = {0x93, 0x01, 0x03, 0x81, 0x05, 0xff};
    const uint8_t badver[] = {0x93, 0x02, 0x03, 0x80};
    const uint8_t vclock[] = {0x93, 0x01, 0x01, 0x80};
    const uint8_t pncounter[] = {0x94, 0x01, 0x04, 0x80, 0x80};
    const uint8_t trailing[] = {0x93, 0x01, 0x03, 0x80, 0x00};
    const uint8_t huge[] = {0x93, 0x01, 0x03, 0xdf, 0xff, 0xff, 0xff, 0xff};
    const uint8_t extra[] = {0x94, 0x01, 0x03, 0x80, 0x80};
    const uint8_t nobody[] = {0x92, 0x01, 0x03};
    const uint8_t notmap[] = {0x93, 0x01, 0x03, 0x90};
    const uint8_t notarr[] = {0x83, 0x01, 0x03, 0x80};
    /* {1: 2^64-1, 2: 1}: the second count overflows the sum */
    const uint8_t ovf2[] = {0x93, 0x01, 0x03, 0x82, 0x01, 0xcf, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01};
    /* {1: 2^63, 2: 2^62, 3: 2^63}: the third one does */
    const uint8_t ovf3[] = {0x93, 0x01, 0x03, 0x83, 0x01, 0xcf, 0x80,
                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                            0x02, 0xcf, 0x40, 0x00, 0x00, 0x00, 0x00,
                            0x00, 0x00, 0x00, 0x03, 0xcf, 0x80, 0x00,
                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    /* the first problem in byte order wins: the overflow at 15 before
     * the trailing byte at 16 ... */
    const uint8_t ovf_trail[] = {0x93, 0x01, 0x03, 0x82, 0x01, 0xcf,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0x02, 0x01, 0x00};
    /* ... but a map must be well-formed before its sum is checked */
    const uint8_t ovf_zero[] = {0x93, 0x01, 0x03, 0x83, 0x01, 0xcf,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0x02, 0x01, 0x03, 0x00};

    expect_reject(unsorted, sizeof unsorted, CRDT_ERR_DECODE, 6);
    expect_reject(dup, sizeof dup, CRDT_ERR_DECODE, 6);
    expect_reject(zero, sizeof zero, CRDT_ERR_DECODE, 5);
    expect_reject(longint, sizeof longint, CRDT_ERR_DECODE, 4);
    expect_reject(negint, sizeof negint, CRDT_ERR_DECODE, 5);
    expect_reject(badver, sizeof badver, CRDT_ERR_VERSION, 1);
    expect_reject(vclock, sizeof vclock, CRDT_ERR_TYPE, 2);
    expect_reject(pncounter, sizeof pncounter, CRDT_ERR_TYPE, 2);
    expect_reject(trailing, sizeof trailing, CRDT_ERR_DECODE, 4);
    expect_reject(huge, sizeof huge, CRDT_ERR_DECODE, 3);
    expect_reject(extra, sizeof extra, CRDT_ERR_DECODE, 0);
    expect_reject(nobody, sizeof nobody, CRDT_ERR_DECODE, 0);
    expect_reject(notmap, sizeof notmap, CRDT_ERR_DECODE, 3);
    expect_reject(notarr, sizeof notarr, CRDT_ERR_DECODE, 0);
    expect_reject(ovf2, sizeof ovf2, CRDT_ERR_OVERFLOW, 15);
    expect_reject(ovf3, sizeof ovf3, CRDT_ERR_OVERFLOW, 25);
    expect_reject(ovf_trail, sizeof ovf_trail, CRDT_ERR_OVERFLOW, 15);
    expect_reject(ovf_zero, sizeof ovf_zero, CRDT_ERR_DECODE, 17);
    expect_reject(NULL, 0, CRDT_ERR_DECODE, 0);
}
END_TEST

START_TEST(test_gcounter_codec_limit)
{
    const uint64_t p[] = {1, 1, 2, 2, 3, 3};
    crdt_gcounter *g = mk(NULL, 3, p), *d = crdt_gcounter_new(NULL);
    crdt_limits lim;
    crdt_decode_info info;
    crdt_buf b;

    encode(g, &b);
    crdt_limits_default(&lim);
    lim.max_actors = 2;
    ck_assert_int_eq(crdt_gcounter_decode(d, b.data, b.len, &lim, &info),
                     CRDT_ERR_LIMIT);
    ck_assert_uint_eq(info.offset, 3);
    ck_assert_uint_eq(crdt_gcounter_size(d), 0);
    lim.max_actors = 3;
    ck_assert_int_eq(crdt_gcounter_decode(d, b.data, b.len, &lim, &info),
                     CRDT_OK);
    ck_assert(crdt_gcounter_equal(g, d));
    crdt_buf_clear(&b);
    crdt_gcounter_free(g);
    crdt_gcounter_free(d);
}
END_TEST

START_TEST(test_gcounter_codec_truncated)
{
    tu_rng rng;
    crdt_gcounter *g = crdt_gcounter_new(NULL), *d, *d0;
    crdt_buf b;
    size_t i, cut;

    tu_rng_init(&rng, tu_seed("gcounter") ^ 0x7);
    for (i = 0; i < 40; i++)
        ck_assert_int_eq(crdt_gcounter_increment(g, tu_rand(&rng),
                                                 1 + tu_below(&rng, 1u << 20),
                                                 NULL),
                         CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(g, 1, UINT64_MAX / 2, NULL),
                     CRDT_OK);
    encode(g, &b);
    d = crdt_gcounter_new(NULL);
    ck_assert_int_eq(crdt_gcounter_increment(d, 7, 7, NULL), CRDT_OK);
    d0 = clone(d);
    for (cut = 0; cut < b.len; cut++) {
        crdt_decode_info info;

        ck_assert_int_eq(crdt_gcounter_decode(d, b.data, cut, NULL, &info),
                         CRDT_ERR_DECODE);
        ck_assert_int_eq(info.code, CRDT_ERR_DECODE);
        ck_assert_uint_le(info.offset, cut);
        ck_assert(crdt_gcounter_equal(d, d0));
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
        if (crdt_gcounter_decode(d, c, b.len, NULL, &info) == CRDT_OK) {
            encode(d, &b2);
            ck_assert_uint_eq(b2.len, b.len);
            ck_assert_mem_eq(b2.data, c, b.len);
            crdt_buf_clear(&b2);
            ck_assert_int_eq(crdt_gcounter_copy(d, d0), CRDT_OK);
        } else {
            ck_assert_uint_le(info.offset, b.len);
            ck_assert(crdt_gcounter_equal(d, d0));
        }
        free(c);
    }
    crdt_buf_clear(&b);
    crdt_gcounter_free(g);
    crdt_gcounter_free(d);
    crdt_gcounter_free(d0);
}
END_TEST

/* ------------------------------------------------------------- property */

#define MODEL_ACTORS 12

typedef struct model {
    uint64_t c[MODEL_ACTORS];
} model;

static const crdt_actor model_actor[MODEL_ACTORS] = {
    0, 1, 2, 3, 1000, 1001, 0x7fffffffffffffffu, 0x8000000000000000u,
    0xfffffffffffffffeu, 0xffffffffffffffffu, 123456789, 42};

/* The model's value, or false if it does not fit in uint64. */
static bool model_sum(const model *m, uint64_t *sum)
{
    uint64_t t = 0;
    size_t i;

    for (i = 0; i < MODEL_ACTORS; i++) {
        if (m->c[i] > UINT64_MAX - t)
            return false;
        t += m->c[i];
    }
    *sum = t;
    return true;
}

static void model_join(model *out, const model *a, const model *b)
{
    size_t i;

    for (i = 0; i < MODEL_ACTORS; i++)
        out->c[i] = a->c[i] > b->c[i] ? a->c[i] : b->c[i];
}

static void check_model(const crdt_gcounter *g, const model *m)
{
    size_t i, n = 0;
    uint64_t sum = 0;

    for (i = 0; i < MODEL_ACTORS; i++) {
        TU_CHECK_EQ(crdt_gcounter_get(g, model_actor[i]), m->c[i]);
        n += m->c[i] != 0;
    }
    TU_CHECK_EQ(crdt_gcounter_size(g), n);
    TU_CHECK(model_sum(m, &sum));
    TU_CHECK_EQ(crdt_gcounter_value(g), sum);
}

/* A random increment amount: mostly small, sometimes 0, sometimes a third
 * of the range, so that sums reach and pass UINT64_MAX now and then. */
static uint64_t random_by(tu_rng *r)
{
    uint64_t k = tu_below(r, 32);

    if (k == 0)
        return 0;
    if (k <= 2)
        return BIG + tu_below(r, 2);
    return 1 + tu_below(r, 4);
}

/* Applies inc(actor i, by) to g and its model, checking the result
 * against the model (success, or overflow and nothing changed). */
static int model_increment(crdt_gcounter *g, model *m, size_t i, uint64_t by,
                           crdt_gcounter *delta)
{
    model next = *m;
    uint64_t sum;
    bool fits = m->c[i] <= UINT64_MAX - by;
    int rv;

    if (fits) {
        next.c[i] += by;
        fits = model_sum(&next, &sum);
    }
    rv = crdt_gcounter_increment(g, model_actor[i], by, delta);
    TU_CHECK_EQ(rv, fits ? CRDT_OK : CRDT_ERR_OVERFLOW);
    if (fits)
        *m = next;
    check_model(g, m);
    return rv;
}

static crdt_gcounter *random_counter(tu_rng *r, model *m)
{
    crdt_gcounter *g = crdt_gcounter_new(NULL);
    size_t i;

    TU_CHECK(g != NULL);
    memset(m, 0, sizeof *m);
    for (i = 0; i < MODEL_ACTORS; i++) {
        /* sparse: about half the actors absent; small counts collide */
        if (tu_below(r, 2))
            continue;
        (void)model_increment(g, m, i, random_by(r), NULL);
    }
    return g;
}

/* a joined with b, or NULL after checking that the merge overflows and
 * leaves a unchanged; the model says which. */
static crdt_gcounter *merged(const crdt_gcounter *a, const model *ma,
                             const crdt_gcounter *b, const model *mb)
{
    crdt_gcounter *r = clone(a);
    model mj;
    uint64_t sum;
    int rv = crdt_gcounter_merge(r, b);

    model_join(&mj, ma, mb);
    if (!model_sum(&mj, &sum)) {
        TU_CHECK_EQ(rv, CRDT_ERR_OVERFLOW);
        TU_CHECK(crdt_gcounter_equal(r, a));
        crdt_gcounter_free(r);
        return NULL;
    }
    TU_CHECK_EQ(rv, CRDT_OK);
    check_model(r, &mj);
    return r;
}

static void check_canonical(const crdt_gcounter *a, const crdt_gcounter *b)
{
    crdt_gcounter *d = crdt_gcounter_new(NULL);
    crdt_buf e1, e2;

    encode(a, &e1);
    encode(b, &e2);
    TU_CHECK_EQ(e1.len, e2.len);
    TU_CHECK(memcmp(e1.data, e2.data, e1.len) == 0);
    TU_CHECK_EQ(crdt_gcounter_increment(d, 5, 5, NULL), CRDT_OK);
    TU_CHECK_EQ(crdt_gcounter_decode(d, e1.data, e1.len, NULL, NULL),
                CRDT_OK);
    TU_CHECK(crdt_gcounter_equal(d, a));
    TU_CHECK_EQ(crdt_gcounter_value(d), crdt_gcounter_value(a));
    crdt_buf_clear(&e1);
    crdt_buf_clear(&e2);
    crdt_gcounter_free(d);
}

START_TEST(test_gcounter_property_join_laws)
{
    tu_rng rng;
    long n = tu_cases(10000), k, overflows = 0;

    tu_rng_init(&rng, tu_seed("gcounter") ^ 0x1);
    for (k = 0; k < n; k++) {
        model ma, mb, mc, mab, mbc;
        crdt_gcounter *a = random_counter(&rng, &ma);
        crdt_gcounter *b = random_counter(&rng, &mb);
        crdt_gcounter *c = random_counter(&rng, &mc);
        crdt_gcounter *ab = merged(a, &ma, b, &mb);
        crdt_gcounter *ba = merged(b, &mb, a, &ma);
        crdt_gcounter *bc = merged(b, &mb, c, &mc);
        crdt_gcounter *aa = merged(a, &ma, a, &ma);
        crdt_gcounter *ab_c = NULL, *a_bc = NULL;

        model_join(&mab, &ma, &mb);
        model_join(&mbc, &mb, &mc);
        TU_CHECK(aa != NULL);
        TU_CHECK(crdt_gcounter_equal(aa, a)); /* idempotent */
        TU_CHECK((ab == NULL) == (ba == NULL));
        if (ab) {
            TU_CHECK(crdt_gcounter_equal(ab, ba)); /* commutative */
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
                TU_CHECK(crdt_gcounter_equal(ab_c, a_bc));
        }
        check_canonical(c, c);
        crdt_gcounter_free(a);
        crdt_gcounter_free(b);
        crdt_gcounter_free(c);
        crdt_gcounter_free(ab);
        crdt_gcounter_free(ba);
        crdt_gcounter_free(bc);
        crdt_gcounter_free(aa);
        crdt_gcounter_free(ab_c);
        crdt_gcounter_free(a_bc);
    }
    /* the generator does reach the overflow path, but not all the time */
    if (n >= 2000) {
        ck_assert_int_gt(overflows, 0);
        ck_assert_int_lt(overflows, n / 4);
    }
}
END_TEST

#define MAX_STEPS 8

START_TEST(test_gcounter_property_delta)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("gcounter") ^ 0x2);
    for (k = 0; k < n; k++) {
        model m0, m, mpre, my, mr2;
        crdt_gcounter *s0 = random_counter(&rng, &m0);
        crdt_gcounter *r = clone(s0), *r2 = clone(s0);
        crdt_gcounter *grp = crdt_gcounter_new(NULL), *t;
        crdt_gcounter *deltas[MAX_STEPS];
        size_t steps = 1 + tu_below(&rng, MAX_STEPS), s, i, j;
        size_t order[2 * MAX_STEPS];

        m = m0;
        mr2 = m0;
        for (s = 0; s < steps; s++) {
            size_t ai = tu_below(&rng, MODEL_ACTORS);
            uint64_t by = random_by(&rng);
            crdt_gcounter *pre = clone(r), *grp0 = clone(grp);
            crdt_gcounter *y, *x, *xr;
            model mx;
            int rv;

            mpre = m;
            deltas[s] = crdt_gcounter_new(NULL);
            rv = model_increment(r, &m, ai, by, deltas[s]);
            /* the same mutation on a twin, accumulating a delta group */
            TU_CHECK_EQ(model_increment(r2, &mr2, ai, by, grp), rv);
            TU_CHECK(crdt_gcounter_equal(r, r2));
            if (rv != CRDT_OK || by == 0) {
                TU_CHECK_EQ(crdt_gcounter_size(deltas[s]), 0);
                TU_CHECK(crdt_gcounter_equal(grp, grp0));
            } else {
                TU_CHECK_EQ(crdt_gcounter_size(deltas[s]), 1);
                TU_CHECK_EQ(crdt_gcounter_get(deltas[s], model_actor[ai]),
                            m.c[ai]);
                TU_CHECK_EQ(crdt_gcounter_get(grp, model_actor[ai]),
                            m.c[ai]);
            }
            /* pre-state + delta == post-state */
            x = clone(pre);
            TU_CHECK_EQ(crdt_gcounter_merge(x, deltas[s]), CRDT_OK);
            TU_CHECK(crdt_gcounter_equal(x, r));
            crdt_gcounter_free(x);
            /* any replica x that has seen the pre-state:
             * x + delta == x + post-state (both overflow, or neither) */
            y = random_counter(&rng, &my);
            x = merged(pre, &mpre, y, &my);
            if (x) {
                model_join(&mx, &mpre, &my);
                xr = merged(x, &mx, r, &m);
                rv = crdt_gcounter_merge(x, deltas[s]);
                if (xr) {
                    TU_CHECK_EQ(rv, CRDT_OK);
                    TU_CHECK(crdt_gcounter_equal(x, xr));
                } else {
                    TU_CHECK_EQ(rv, CRDT_ERR_OVERFLOW);
                }
                crdt_gcounter_free(xr);
            }
            crdt_gcounter_free(x);
            crdt_gcounter_free(y);
            crdt_gcounter_free(pre);
            crdt_gcounter_free(grp0);
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
        t = clone(s0);
        for (i = 0; i < 2 * steps; i++)
            TU_CHECK_EQ(crdt_gcounter_merge(t, deltas[order[i]]),
                        CRDT_OK);
        TU_CHECK(crdt_gcounter_equal(t, r));
        check_model(t, &m);
        /* the delta group alone */
        TU_CHECK_EQ(crdt_gcounter_copy(t, s0), CRDT_OK);
        TU_CHECK_EQ(crdt_gcounter_merge(t, grp), CRDT_OK);
        TU_CHECK(crdt_gcounter_equal(t, r));
        for (s = 0; s < steps; s++)
            crdt_gcounter_free(deltas[s]);
        crdt_gcounter_free(t);
        crdt_gcounter_free(s0);
        crdt_gcounter_free(r);
        crdt_gcounter_free(r2);
        crdt_gcounter_free(grp);
    }
}
END_TEST

/* ---------------------------------------------------------------- nomem */

enum {
    OP_INC,       /* new actor into a full counter */
    OP_INC_DELTA, /* new actor, fresh delta: both allocate */
    OP_INC_GROUP, /* existing actor, full delta group */
    OP_MERGE,     /* union larger than the capacity */
    OP_MERGE_NEW, /* into an empty counter */
    OP_COPY,
    OP_CLONE,
    OP_ENCODE,
    OP_DECODE,
    N_OPS
};

static const uint64_t nomem_pa[] = {1, 5, 3, 1, 4, 4, 6, 6}; /* a full block */
static const uint64_t nomem_pd[] = {2, 1, 5, 1, 7, 1, 8, 1};

static void nomem_setup(tu_nomem *c)
{
    c->a = mk(&c->tm->mem, 4, nomem_pa);
    c->d = c->op == OP_INC_GROUP ? mk(&c->tm->mem, 4, nomem_pd)
                                 : crdt_gcounter_new(&c->tm->mem);
    c->src = mk(NULL, 4, nomem_pd);
    ck_assert_int_eq(crdt_gcounter_encode(c->a, &c->enc), CRDT_OK);
}

static int nomem_call(tu_nomem *c)
{
    crdt_gcounter *a = c->a, *d = c->d;

    switch (c->op) {
    case OP_INC:
        return crdt_gcounter_increment(a, 100, 1, NULL);
    case OP_INC_DELTA:
        return crdt_gcounter_increment(a, 100, 1, d);
    case OP_INC_GROUP:
        return crdt_gcounter_increment(a, 1, 1, d);
    case OP_MERGE:
        return crdt_gcounter_merge(a, c->src);
    case OP_MERGE_NEW:
        return crdt_gcounter_merge(d, a);
    case OP_COPY:
        return crdt_gcounter_copy(d, a);
    case OP_CLONE:
        return tu_nomem_made(c, crdt_gcounter_clone(a));
    case OP_ENCODE:
        return crdt_gcounter_encode(a, &c->out);
    case OP_DECODE:
        return crdt_gcounter_decode(d, c->enc.data, c->enc.len, NULL, NULL);
    }
    return CRDT_ERR_INVALID_ARG;
}

static void nomem_failed(tu_nomem *c)
{
    ck_assert_uint_eq(crdt_gcounter_value(c->a), 16);
}

static void nomem_succeeded(tu_nomem *c)
{
    crdt_gcounter *a = c->a, *d = c->d;

    switch (c->op) {
    case OP_INC:
        ck_assert_uint_eq(crdt_gcounter_value(a), 17);
        break;
    case OP_INC_DELTA:
        ck_assert_uint_eq(crdt_gcounter_value(a), 17);
        ck_assert_uint_eq(crdt_gcounter_get(d, 100), 1);
        break;
    case OP_INC_GROUP:
        ck_assert_uint_eq(crdt_gcounter_get(d, 1), 6);
        break;
    case OP_MERGE:
        ck_assert_uint_eq(crdt_gcounter_size(a), 8);
        ck_assert_uint_eq(crdt_gcounter_value(a), 20);
        break;
    case OP_MERGE_NEW:
    case OP_COPY:
    case OP_DECODE:
        ck_assert(crdt_gcounter_equal(d, c->a0));
        break;
    case OP_CLONE:
        ck_assert(crdt_gcounter_equal(c->made, c->a0));
        break;
    case OP_ENCODE:
        ck_assert_uint_eq(c->out.len, c->enc.len);
        break;
    }
}

START_TEST(test_gcounter_nomem_all)
{
    const tu_nomem_ops ops = {
        .type = crdt_gcounter_type(),
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

START_TEST(test_gcounter_nomem_no_alloc)
{
    /* steady state: updates and merges over known actors never allocate */
    const uint64_t pa[] = {1, 5, 3, 1, 4, 4};
    const uint64_t pb[] = {1, 7, 3, 1, 4, 2};
    tu_mem tm;
    crdt_gcounter *a, *b, *d;
    long calls;

    tu_mem_init(&tm);
    a = mk(&tm.mem, 3, pa);
    b = mk(&tm.mem, 3, pb);
    d = mk(&tm.mem, 1, pa);
    calls = tm.calls;
    ck_assert_int_eq(crdt_gcounter_merge(a, b), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(a, 3, 9, d), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(a, 1, 1, d), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_merge(b, a), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_copy(a, b), CRDT_OK);
    ck_assert_int_eq(tm.calls, calls);
    ck_assert_uint_eq(crdt_gcounter_value(b), 8 + 10 + 4);
    crdt_gcounter_free(a);
    crdt_gcounter_free(b);
    crdt_gcounter_free(d);
    ck_assert_int_eq(tm.live, 0);
}
END_TEST

static Suite *gcounter_suite(void)
{
    Suite *s = suite_create("gcounter");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_gcounter_basic_increment_value);
    tcase_add_test(tc, test_gcounter_basic_many_actors);
    tcase_add_test(tc, test_gcounter_basic_overflow_count);
    tcase_add_test(tc, test_gcounter_basic_overflow_total);
    tcase_add_test(tc, test_gcounter_basic_delta);
    tcase_add_test(tc, test_gcounter_basic_delta_overflow);
    tcase_add_test(tc, test_gcounter_basic_copy_clone);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_test(tc, test_gcounter_merge_cases);
    tcase_add_test(tc, test_gcounter_merge_overflow);
    tcase_add_test(tc, test_gcounter_merge_few);
    tcase_add_test(tc, test_gcounter_merge_equal);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_gcounter_codec_bytes);
    tcase_add_test(tc, test_gcounter_codec_reject);
    tcase_add_test(tc, test_gcounter_codec_limit);
    tcase_add_test(tc, test_gcounter_codec_truncated);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gcounter_property_join_laws);
    tcase_add_test(tc, test_gcounter_property_delta);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_add_test(tc, test_gcounter_nomem_all);
    tcase_add_test(tc, test_gcounter_nomem_no_alloc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gcounter_suite());
    int failed;

    tu_seed("gcounter"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
