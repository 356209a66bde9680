/* SPDX-License-Identifier: MIT */
/*
 * MV-register suite: sibling creation and resolution, writes after merges,
 * clear, deltas, codec (exact bytes, hostile input), properties against a
 * reference model (a write is present iff seen and not causally covered
 * by a later write or clear), and allocation-failure injection.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/mvreg.h>
#include <crdt/type.h>

#include "testutil.h"

static crdt_dot D(crdt_actor a, uint64_t c)
{
    crdt_dot d;

    d.actor = a;
    d.counter = c;
    return d;
}

static void wr(crdt_mvreg *r, crdt_actor a, const char *s, crdt_mvreg *delta)
{
    ck_assert_int_eq(crdt_mvreg_write(r, a, s, strlen(s), delta), CRDT_OK);
}

/* Asserts the siblings of r: n (actor, counter, string) triples. */
static void expect_sibs(const crdt_mvreg *r, size_t n, const crdt_dot *dots,
                        const char *const *vals)
{
    size_t i, len;
    const uint8_t *p;
    crdt_dot d;

    ck_assert_uint_eq(crdt_mvreg_count(r), n);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(crdt_mvreg_get(r, i, &d, &p, &len), CRDT_OK);
        ck_assert_uint_eq(d.actor, dots[i].actor);
        ck_assert_uint_eq(d.counter, dots[i].counter);
        ck_assert_uint_eq(len, strlen(vals[i]));
        ck_assert_ptr_nonnull(p);
        if (len)
            ck_assert_mem_eq(p, vals[i], len);
    }
    ck_assert_int_eq(crdt_mvreg_get(r, n, &d, &p, &len), CRDT_ERR_NOT_FOUND);
}

static void merge_ok(crdt_mvreg *dst, const crdt_mvreg *src)
{
    ck_assert_int_eq(crdt_mvreg_merge(dst, src), CRDT_OK);
}

static const char long_a[] = "a value longer than sixteen bytes, stored apart";
static const char long_b[] = "b value longer than sixteen bytes";

/* ---------------------------------------------------------------- basic */

START_TEST(test_mvreg_basic_empty)
{
    crdt_mvreg *r = crdt_mvreg_new(NULL);
    const uint8_t *p;
    size_t n;
    crdt_dot d;

    ck_assert_uint_eq(crdt_mvreg_count(r), 0);
    ck_assert_uint_eq(crdt_mvreg_count(NULL), 0);
    ck_assert(crdt_mvreg_equal(r, NULL));
    ck_assert(crdt_mvreg_equal(NULL, NULL));
    ck_assert_int_eq(crdt_mvreg_get(r, 0, &d, &p, &n), CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(crdt_mvreg_get(NULL, 0, &d, &p, &n),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_mvreg_resolve(r, NULL, NULL, &p, &n),
                     CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(crdt_mvreg_resolve(r, NULL, NULL, NULL, &n),
                     CRDT_ERR_INVALID_ARG);
    ck_assert(!crdt_mvreg_observed(r, D(1, 1)));
    ck_assert(!crdt_mvreg_observed(NULL, D(1, 1)));
    ck_assert_int_eq(crdt_mvreg_write(NULL, 1, "x", 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_mvreg_write(r, 1, NULL, 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_mvreg_write(r, 1, "x", 1, r), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_mvreg_write(r, 1, "x",
                                      CRDT_MVREG_MAX_VALUE_BYTES + (size_t)1,
                                      NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_mvreg_clear(NULL, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_mvreg_clear(r, r), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_mvreg_clear(r, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_mvreg_merge(r, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_mvreg_merge(NULL, r), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_mvreg_copy(r, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(crdt_mvreg_clone(NULL));
    ck_assert_uint_eq(crdt_mvreg_max_value_bytes(), 0xffffffffu);
    ck_assert_uint_eq(crdt_mvreg_count(r), 0);
    /* an empty value is a value */
    ck_assert_int_eq(crdt_mvreg_write(r, 1, NULL, 0, NULL), CRDT_OK);
    ck_assert_uint_eq(crdt_mvreg_count(r), 1);
    ck_assert_int_eq(crdt_mvreg_get(r, 0, NULL, &p, &n), CRDT_OK);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(n, 0);
    crdt_mvreg_free(r);
    crdt_mvreg_free(NULL);
}
END_TEST

START_TEST(test_mvreg_basic_siblings)
{
    crdt_mvreg *a = crdt_mvreg_new(NULL), *b = crdt_mvreg_new(NULL);
    crdt_mvreg *c;
    const crdt_dot d1[] = {D(1, 1)}, d2[] = {D(1, 1), D(2, 1)};
    const crdt_dot d3[] = {D(1, 2)}, d4[] = {D(2, 2)};
    const char *v1[] = {"x"}, *v2[] = {"x", "y"}, *v3[] = {"z"};
    const char *v4[] = {"y"};

    wr(a, 1, "x", NULL);
    expect_sibs(a, 1, d1, v1);
    ck_assert(crdt_mvreg_observed(a, D(1, 1)));
    /* concurrent writes are kept as siblings, in dot order */
    wr(b, 2, "y", NULL);
    c = crdt_mvreg_clone(a);
    merge_ok(c, b);
    expect_sibs(c, 2, d2, v2);
    merge_ok(b, a);
    ck_assert(crdt_mvreg_equal(b, c));
    /* a write after the merge supersedes both */
    wr(c, 1, "z", NULL);
    expect_sibs(c, 1, d3, v3);
    merge_ok(b, c);
    expect_sibs(b, 1, d3, v3);
    merge_ok(a, b);
    ck_assert(crdt_mvreg_equal(a, b));
    /* a superseded write stays superseded after any merge order */
    merge_ok(c, a);
    ck_assert(crdt_mvreg_equal(a, c));
    /* a write by a replica that saw the merge beats the merge */
    wr(b, 2, "y", NULL);
    expect_sibs(b, 1, d4, v4);
    merge_ok(a, b);
    ck_assert(crdt_mvreg_equal(a, b));
    crdt_mvreg_free(a);
    crdt_mvreg_free(b);
    crdt_mvreg_free(c);
}
END_TEST

/* Orders values by length: a caller's comparator. */
static int by_len(const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen, void *ud)
{
    (void)a;
    (void)b;
    ++*(int *)ud;
    return (alen > blen) - (alen < blen);
}

START_TEST(test_mvreg_basic_resolve)
{
    crdt_mvreg *r[3], *m = crdt_mvreg_new(NULL);
    const char *vals[] = {"bb", long_a, "c"};
    const crdt_dot one[] = {D(3, 2)};
    const char *won[] = {long_a};
    const uint8_t *p;
    size_t n, i;
    int calls = 0;

    for (i = 0; i < 3; i++) {
        r[i] = crdt_mvreg_new(NULL);
        wr(r[i], i + 1, vals[i], NULL);
        merge_ok(m, r[i]);
    }
    ck_assert_uint_eq(crdt_mvreg_count(m), 3);
    /* byte order: "c" is greatest */
    ck_assert_int_eq(crdt_mvreg_resolve(m, NULL, NULL, &p, &n), CRDT_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_mem_eq(p, "c", 1);
    /* by length: long_a; the comparator is called n - 1 times */
    ck_assert_int_eq(crdt_mvreg_resolve(m, by_len, &calls, &p, &n), CRDT_OK);
    ck_assert_int_eq(calls, 2);
    ck_assert_uint_eq(n, strlen(long_a));
    /* writing the resolved value (a pointer into m) supersedes all */
    ck_assert_int_eq(crdt_mvreg_write(m, 3, p, n, NULL), CRDT_OK);
    expect_sibs(m, 1, one, won);
    for (i = 0; i < 3; i++) {
        merge_ok(r[i], m);
        ck_assert(crdt_mvreg_equal(r[i], m));
        crdt_mvreg_free(r[i]);
    }
    crdt_mvreg_free(m);
}
END_TEST

START_TEST(test_mvreg_basic_clear_delta)
{
    crdt_mvreg *a = crdt_mvreg_new(NULL), *b = crdt_mvreg_new(NULL);
    crdt_mvreg *d = crdt_mvreg_new(NULL), *g = crdt_mvreg_new(NULL);
    crdt_mvreg *a0;
    const crdt_dot dd[] = {D(2, 1)}, da[] = {D(1, 2)};
    const char *vd[] = {"b"}, *va[] = {long_b};

    wr(a, 1, "a", g);
    merge_ok(b, a);
    /* concurrently: b writes, a clears; the write survives the clear */
    wr(b, 2, "b", g);
    ck_assert_int_eq(crdt_mvreg_clear(a, d), CRDT_OK);
    ck_assert_uint_eq(crdt_mvreg_count(a), 0);
    ck_assert_uint_eq(crdt_mvreg_count(d), 0);
    ck_assert(crdt_mvreg_observed(d, D(1, 1)));
    a0 = crdt_mvreg_clone(a);
    merge_ok(a, b);
    merge_ok(b, d);
    ck_assert(crdt_mvreg_equal(a, b));
    expect_sibs(a, 1, dd, vd);
    /* clearing a cleared register is a no-op, delta too */
    ck_assert_int_eq(crdt_mvreg_clear(a0, d), CRDT_OK);
    /* the delta group of both writes joins like the writes */
    merge_ok(a0, g);
    ck_assert(crdt_mvreg_equal(a0, a));
    /* a long value's delta */
    crdt_mvreg_free(d);
    d = crdt_mvreg_new(NULL);
    wr(a, 1, long_b, d);
    expect_sibs(d, 1, da, va);
    ck_assert(crdt_mvreg_observed(d, D(2, 1)));
    merge_ok(b, d);
    ck_assert(crdt_mvreg_equal(a, b));
    crdt_mvreg_free(a);
    crdt_mvreg_free(b);
    crdt_mvreg_free(d);
    crdt_mvreg_free(g);
    crdt_mvreg_free(a0);
}
END_TEST

START_TEST(test_mvreg_basic_copy_alias)
{
    crdt_mvreg *a = crdt_mvreg_new(NULL), *b = crdt_mvreg_new(NULL);
    crdt_mvreg *d = crdt_mvreg_new(NULL);
    const uint8_t *p;
    size_t n;

    wr(a, 1, long_a, NULL);
    wr(b, 2, "short", NULL);
    merge_ok(a, b);
    ck_assert_int_eq(crdt_mvreg_copy(b, a), CRDT_OK);
    ck_assert(crdt_mvreg_equal(a, b));
    ck_assert_int_eq(crdt_mvreg_copy(b, b), CRDT_OK);
    merge_ok(a, a);
    ck_assert(crdt_mvreg_equal(a, b));
    /* a value from the delta's own storage, written into reg + delta */
    wr(d, 9, long_b, NULL);
    ck_assert_int_eq(crdt_mvreg_get(d, 0, NULL, &p, &n), CRDT_OK);
    ck_assert_int_eq(crdt_mvreg_write(a, 1, p + 1, n - 1, d), CRDT_OK);
    ck_assert_int_eq(crdt_mvreg_get(a, 0, NULL, &p, &n), CRDT_OK);
    ck_assert_uint_eq(n, strlen(long_b) - 1);
    ck_assert_mem_eq(p, long_b + 1, n);
    ck_assert_uint_eq(crdt_mvreg_count(d), 2);
    /* copy to an empty register and back */
    crdt_mvreg_free(b);
    b = crdt_mvreg_new(NULL);
    ck_assert_int_eq(crdt_mvreg_copy(a, b), CRDT_OK);
    ck_assert(crdt_mvreg_equal(a, NULL));
    crdt_mvreg_free(a);
    crdt_mvreg_free(b);
    crdt_mvreg_free(d);
}
END_TEST

START_TEST(test_mvreg_basic_descriptor)
{
    const crdt_type *t = crdt_mvreg_type();
    crdt_registry *reg = crdt_registry_new(NULL);
    void *a = t->create(NULL), *obj = NULL;
    const crdt_type *got = NULL;
    crdt_buf b;

    ck_assert_int_eq(crdt_type_check(t), CRDT_OK);
    ck_assert_uint_eq(t->tag, CRDT_TAG_MVREG);
    ck_assert_str_eq(t->name, "mvreg");
    ck_assert_int_eq(crdt_registry_add_builtins(reg), CRDT_OK);
    ck_assert_ptr_eq(crdt_registry_find(reg, CRDT_TAG_MVREG), t);
    wr(a, 5, "v", NULL);
    crdt_buf_init(&b, NULL);
    ck_assert_int_eq(t->encode(a, &b), CRDT_OK);
    ck_assert_int_eq(crdt_registry_decode(reg, b.data, b.len, NULL, NULL,
                                          &got, &obj, NULL),
                     CRDT_OK);
    ck_assert_ptr_eq(got, t);
    ck_assert(t->equal(obj, a));
    ck_assert_int_eq(t->merge(obj, a), CRDT_OK);
    ck_assert_int_eq(t->copy(obj, a), CRDT_OK);
    t->destroy(obj);
    t->destroy(a);
    crdt_buf_clear(&b);
    crdt_registry_free(reg);
}
END_TEST

/* ---------------------------------------------------------------- merge */

START_TEST(test_mvreg_merge_no_alloc)
{
    tu_mem tm;
    crdt_mvreg *base, *a, *b, *x;
    long calls;
    int i;

    tu_mem_init(&tm);
    base = crdt_mvreg_new(&tm.mem);
    wr(base, 100, "base", NULL);
    a = crdt_mvreg_clone(base);
    b = crdt_mvreg_clone(base);
    x = crdt_mvreg_new(&tm.mem);
    for (i = 0; i < 2; i++) {
        crdt_mvreg *w = crdt_mvreg_clone(base);

        wr(w, 1 + (crdt_actor)i, "aaaaaaaa", NULL);
        merge_ok(a, w);
        crdt_mvreg_free(w);
        w = crdt_mvreg_clone(base);
        wr(w, 3 + (crdt_actor)i, "bbbbbbbb", NULL);
        merge_ok(b, w);
        crdt_mvreg_free(w);
    }
    ck_assert_uint_eq(crdt_mvreg_count(a), 2);
    /* the first rounds grow x (copy builds its copies after x's current
     * siblings); the next ones reuse its storage */
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(crdt_mvreg_copy(x, a), CRDT_OK);
        merge_ok(x, b);
        ck_assert_uint_eq(crdt_mvreg_count(x), 4);
    }
    calls = tm.calls;
    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(crdt_mvreg_copy(x, a), CRDT_OK);
        merge_ok(x, b);
    }
    ck_assert_int_eq(tm.calls, calls);
    ck_assert_uint_eq(crdt_mvreg_count(x), 4);
    crdt_mvreg_free(base);
    crdt_mvreg_free(a);
    crdt_mvreg_free(b);
    crdt_mvreg_free(x);
    ck_assert_int_eq(tm.live, 0);
}
END_TEST

/* A register whose one long sibling a newer write superseded: the merge
 * that brings the write (one sibling a side) frees the long value. */
START_TEST(test_mvreg_merge_stale_long)
{
    tu_mem tm;
    crdt_mvreg *a, *b;

    tu_mem_init(&tm);
    a = crdt_mvreg_new(&tm.mem);
    wr(a, 1, long_a, NULL);
    b = crdt_mvreg_clone(a);
    wr(b, 1, "s", NULL);
    merge_ok(a, b);
    ck_assert(crdt_mvreg_equal(a, b));
    wr(b, 2, long_b, NULL);
    merge_ok(a, b); /* a short one superseded by a long one */
    ck_assert(crdt_mvreg_equal(a, b));
    crdt_mvreg_free(a);
    crdt_mvreg_free(b);
    ck_assert_int_eq(tm.live, 0);
}
END_TEST

/* Merges of registers past the small path's limits (more than 8
 * siblings in all, more than 8 actors in a vector) agree with the small
 * path's results and with the semantics, in any order. */
START_TEST(test_mvreg_merge_large)
{
    static const size_t counts[] = {2, 8, 9, 17};
    size_t c, w, i;

    for (c = 0; c < sizeof counts / sizeof *counts; c++) {
        size_t n = counts[c];
        crdt_mvreg *acc = crdt_mvreg_new(NULL), *rev = crdt_mvreg_new(NULL);
        crdt_mvreg *one[17], *x, *y;

        ck_assert_ptr_nonnull(acc);
        ck_assert_ptr_nonnull(rev);
        for (w = 0; w < n; w++) {
            one[w] = crdt_mvreg_new(NULL);
            ck_assert_ptr_nonnull(one[w]);
            wr(one[w], 100 + (crdt_actor)w, w % 2 ? long_a : "short",
               NULL);
        }
        for (w = 0; w < n; w++) {
            merge_ok(acc, one[w]);
            merge_ok(rev, one[n - 1 - w]);
            ck_assert_uint_eq(crdt_mvreg_count(acc), w + 1);
        }
        ck_assert(crdt_mvreg_equal(acc, rev));
        for (i = 0; i < n; i++) {
            const uint8_t *p;
            size_t len;
            crdt_dot d;
            const char *want = i % 2 ? long_a : "short";

            ck_assert_int_eq(crdt_mvreg_get(acc, i, &d, &p, &len), CRDT_OK);
            ck_assert_uint_eq(d.actor, 100 + i);
            ck_assert_uint_eq(d.counter, 1);
            ck_assert_uint_eq(len, strlen(want));
            ck_assert(memcmp(p, want, len) == 0);
        }
        /* a write over all n siblings supersedes them everywhere */
        x = crdt_mvreg_clone(acc);
        ck_assert_ptr_nonnull(x);
        wr(x, 100, long_b, NULL);
        ck_assert_uint_eq(crdt_mvreg_count(x), 1);
        merge_ok(rev, x);
        ck_assert(crdt_mvreg_equal(rev, x));
        /* a concurrent write on a small register survives the merge with
         * the large one, and the large one's write survives too */
        y = crdt_mvreg_new(NULL);
        ck_assert_ptr_nonnull(y);
        wr(y, 7, "concurrent", NULL);
        merge_ok(y, x);
        ck_assert_uint_eq(crdt_mvreg_count(y), 2);
        merge_ok(x, y);
        ck_assert(crdt_mvreg_equal(x, y));
        for (w = 0; w < n; w++)
            crdt_mvreg_free(one[w]);
        crdt_mvreg_free(acc);
        crdt_mvreg_free(rev);
        crdt_mvreg_free(x);
        crdt_mvreg_free(y);
    }
}
END_TEST

/* ---------------------------------------------------------------- codec */

static void encode(const crdt_mvreg *r, crdt_buf *b)
{
    crdt_buf_init(b, NULL);
    ck_assert_int_eq(crdt_mvreg_encode(r, b), CRDT_OK);
}

static void expect_bytes(const crdt_mvreg *r, const uint8_t *want, size_t n)
{
    crdt_buf b;
    crdt_mvreg *d = crdt_mvreg_new(NULL);

    encode(r, &b);
    ck_assert_uint_eq(b.len, n);
    ck_assert_mem_eq(b.data, want, n);
    ck_assert_int_eq(crdt_mvreg_decode(d, want, n, NULL, NULL), CRDT_OK);
    ck_assert(crdt_mvreg_equal(d, r));
    crdt_buf_clear(&b);
    crdt_mvreg_free(d);
}

START_TEST(test_mvreg_codec_bytes)
{
    static const uint8_t empty[] = {0x95, 0x01, 0x07, 0x80, 0x90, 0x90};
    static const uint8_t two[] = {0x95, 0x01, 0x07, 0x82, 0x01, 0x01, 0x02,
                                  0x01, 0x90, 0x92, 0x93, 0x01, 0x01, 0xc4,
                                  0x01, 0x61, 0x93, 0x02, 0x01, 0xc4, 0x01,
                                  0x62};
    /* {1: 1}, cloud [(1, 3)], sibling (1, 3, "") after a gap */
    static const uint8_t gap[] = {0x95, 0x01, 0x07, 0x81, 0x01, 0x01, 0x91,
                                  0x92, 0x01, 0x03, 0x91, 0x93, 0x01, 0x03,
                                  0xc4, 0x00};
    crdt_mvreg *r = crdt_mvreg_new(NULL), *s = crdt_mvreg_new(NULL);
    crdt_mvreg *g = crdt_mvreg_new(NULL);
    const crdt_dot gd[] = {D(1, 3)};
    const char *gv[] = {""};

    expect_bytes(r, empty, sizeof empty);
    wr(r, 1, "a", NULL);
    wr(s, 2, "b", NULL);
    merge_ok(r, s);
    expect_bytes(r, two, sizeof two);
    ck_assert_int_eq(crdt_mvreg_decode(g, gap, sizeof gap, NULL, NULL),
                     CRDT_OK);
    expect_sibs(g, 1, gd, gv);
    ck_assert(!crdt_mvreg_observed(g, D(1, 2)));
    expect_bytes(g, gap, sizeof gap);
    crdt_mvreg_free(r);
    crdt_mvreg_free(s);
    crdt_mvreg_free(g);
}
END_TEST

/* Decoding in must fail with code at offset off; dst stays as it was. */
static void expect_reject_lim(const uint8_t *in, size_t len, int code,
                              size_t off, const crdt_limits *lim)
{
    crdt_mvreg *dst = crdt_mvreg_new(NULL);

    wr(dst, 42, "keep me", NULL);
    tu_expect_reject(crdt_mvreg_type(), dst, in, len, lim, code, off);
    crdt_mvreg_free(dst);
}

static void expect_reject(const uint8_t *in, size_t len, int code,
                          size_t off)
{
    expect_reject_lim(in, len, code, off, NULL);
}

START_TEST(test_mvreg_codec_reject)
{
    /* unsorted siblings */
    static const uint8_t unsorted[] = {0x95, 0x01, 0x07, 0x82, 0x01, 0x01,
                                       0x02, 0x01, 0x90, 0x92, 0x93, 0x02,
                                       0x01, 0xc4, 0x00, 0x93, 0x01, 0x01,
                                       0xc4, 0x00};
    /* the same sibling twice */
    static const uint8_t dup[] = {0x95, 0x01, 0x07, 0x81, 0x01, 0x01, 0x90,
                                  0x92, 0x93, 0x01, 0x01, 0xc4, 0x00, 0x93,
                                  0x01, 0x01, 0xc4, 0x00};
    /* a sibling dot outside the context */
    static const uint8_t outside[] = {0x95, 0x01, 0x07, 0x81, 0x01, 0x01,
                                      0x90, 0x91, 0x93, 0x01, 0x02, 0xc4,
                                      0x00};
    /* a zero counter */
    static const uint8_t zero[] = {0x95, 0x01, 0x07, 0x81, 0x01, 0x01, 0x90,
                                   0x91, 0x93, 0x01, 0x00, 0xc4, 0x00};
    /* a str value */
    static const uint8_t str[] = {0x95, 0x01, 0x07, 0x81, 0x01, 0x01, 0x90,
                                  0x91, 0x93, 0x01, 0x01, 0xa1, 0x61};
    /* a pair instead of a triple */
    static const uint8_t pair[] = {0x95, 0x01, 0x07, 0x81, 0x01, 0x01, 0x90,
                                   0x91, 0x92, 0x01, 0x01};
    /* trailing byte */
    static const uint8_t trail[] = {0x95, 0x01, 0x07, 0x80, 0x90, 0x90, 0x00};
    /* four body fields: no sibling array */
    static const uint8_t short4[] = {0x94, 0x01, 0x07, 0x80, 0x90};
    /* other tag, other version */
    static const uint8_t tag[] = {0x95, 0x01, 0x09, 0x80, 0x90, 0x90};
    static const uint8_t ver[] = {0x95, 0x02, 0x07, 0x80, 0x90, 0x90};
    /* an array header claiming more siblings than bytes */
    static const uint8_t many[] = {0x95, 0x01, 0x07, 0x80, 0x90, 0xdd, 0x7f,
                                   0xff, 0xff, 0xff, 0x90};
    /* two one-byte-valued siblings (for the limits) */
    static const uint8_t two[] = {0x95, 0x01, 0x07, 0x82, 0x01, 0x01, 0x02,
                                  0x01, 0x90, 0x92, 0x93, 0x01, 0x01, 0xc4,
                                  0x01, 0x61, 0x93, 0x02, 0x01, 0xc4, 0x01,
                                  0x62};
    crdt_limits lim;

    expect_reject(unsorted, sizeof unsorted, CRDT_ERR_DECODE, 15);
    expect_reject(dup, sizeof dup, CRDT_ERR_DECODE, 13);
    expect_reject(outside, sizeof outside, CRDT_ERR_DECODE, 8);
    expect_reject(zero, sizeof zero, CRDT_ERR_DECODE, 10);
    expect_reject(str, sizeof str, CRDT_ERR_DECODE, 11);
    /* too short for a sibling: rejected at the array header */
    expect_reject(pair, sizeof pair, CRDT_ERR_DECODE, 7);
    expect_reject(trail, sizeof trail, CRDT_ERR_DECODE, 6);
    expect_reject(short4, sizeof short4, CRDT_ERR_DECODE, 0);
    expect_reject(tag, sizeof tag, CRDT_ERR_TYPE, 2);
    expect_reject(ver, sizeof ver, CRDT_ERR_VERSION, 1);
    expect_reject(many, sizeof many, CRDT_ERR_DECODE, 5);
    crdt_limits_default(&lim);
    lim.max_elements = 1;
    expect_reject_lim(two, sizeof two, CRDT_ERR_LIMIT, 9, &lim);
    crdt_limits_default(&lim);
    lim.max_value_bytes = 0;
    expect_reject_lim(two, sizeof two, CRDT_ERR_LIMIT, 13, &lim);
    lim.max_actors = 1;
    expect_reject_lim(two, sizeof two, CRDT_ERR_LIMIT, 3, &lim);
    ck_assert_int_eq(crdt_mvreg_decode(NULL, two, sizeof two, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_mvreg_codec_truncated)
{
    crdt_mvreg *r = crdt_mvreg_new(NULL), *s = crdt_mvreg_new(NULL);
    crdt_mvreg *dst = crdt_mvreg_new(NULL), *dst0;
    crdt_buf b;
    size_t n;

    wr(r, 1, long_a, NULL);
    wr(s, 300, "b", NULL);
    wr(s, 300, "c", NULL);
    ck_assert_int_eq(crdt_mvreg_clear(s, NULL), CRDT_OK);
    wr(s, 70000, "d", NULL);
    merge_ok(r, s);
    encode(r, &b);
    wr(dst, 5, "old", NULL);
    dst0 = crdt_mvreg_clone(dst);
    for (n = 0; n < b.len; n++) {
        crdt_decode_info info = {99999, 0};
        int rv = crdt_mvreg_decode(dst, b.data, n, NULL, &info);

        ck_assert_msg(rv == CRDT_ERR_DECODE, "prefix %zu: %d", n, rv);
        ck_assert_int_eq(info.code, rv);
        ck_assert_uint_le(info.offset, n);
        ck_assert(crdt_mvreg_equal(dst, dst0));
    }
    ck_assert_int_eq(crdt_mvreg_decode(dst, b.data, b.len, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_mvreg_equal(dst, r));
    crdt_buf_clear(&b);
    crdt_mvreg_free(r);
    crdt_mvreg_free(s);
    crdt_mvreg_free(dst);
    crdt_mvreg_free(dst0);
}
END_TEST

/* ------------------------------------------------------------- conflict */

/*
 * One dot, two values: replicas that write with the same actor from the
 * same state (an actor id reused) make one dot with different bytes.  The
 * merge keeps the value greater in byte order (memcmp, then the longer),
 * from whichever side, so that both orders give the same bytes.
 */

/* The sibling of r with dot d holds s. */
static void expect_at(const crdt_mvreg *r, crdt_dot d, const char *s)
{
    size_t i, len;
    const uint8_t *p;
    crdt_dot e;

    for (i = 0; crdt_mvreg_get(r, i, &e, &p, &len) == CRDT_OK; i++) {
        if (e.actor != d.actor || e.counter != d.counter)
            continue;
        ck_assert_uint_eq(len, strlen(s));
        if (len)
            ck_assert_mem_eq(p, s, len);
        return;
    }
    ck_abort_msg("no sibling (%llu, %llu)", (unsigned long long)d.actor,
                 (unsigned long long)d.counter);
}

/* a + b and b + a: equal, the same bytes, and decodable; returns a + b. */
static crdt_mvreg *merge_both_ways(const crdt_mvreg *a, const crdt_mvreg *b)
{
    crdt_mvreg *ab = crdt_mvreg_clone(a), *ba = crdt_mvreg_clone(b);
    crdt_mvreg *dec = crdt_mvreg_new(NULL);
    crdt_buf x, y;

    ck_assert_ptr_nonnull(ab);
    ck_assert_ptr_nonnull(ba);
    merge_ok(ab, b);
    merge_ok(ba, a);
    ck_assert(crdt_mvreg_equal(ab, ba));
    encode(ab, &x);
    encode(ba, &y);
    ck_assert_uint_eq(x.len, y.len);
    ck_assert_mem_eq(x.data, y.data, x.len);
    ck_assert_int_eq(crdt_mvreg_decode(dec, x.data, x.len, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_mvreg_equal(dec, ab));
    crdt_buf_clear(&x);
    crdt_buf_clear(&y);
    crdt_mvreg_free(ba);
    crdt_mvreg_free(dec);
    return ab;
}

/* [1, 7, {}, [[1, 2]], [[1, 2, s]]]: the dot (1, 2) alone, in the cloud
 * (merges of such registers take the general path). */
static crdt_mvreg *cloud_reg(const char *s)
{
    uint8_t buf[128];
    size_t n = strlen(s), len = 0;
    crdt_mvreg *r = crdt_mvreg_new(NULL);
    static const uint8_t head[] = {0x95, 0x01, 0x07, 0x80, 0x91, 0x92,
                                   0x01, 0x02, 0x91, 0x93, 0x01, 0x02,
                                   0xc4};

    ck_assert_ptr_nonnull(r);
    ck_assert_uint_lt(n, sizeof buf - sizeof head - 1);
    memcpy(buf, head, sizeof head);
    len = sizeof head;
    buf[len++] = (uint8_t)n;
    memcpy(buf + len, s, n);
    len += n;
    ck_assert_int_eq(crdt_mvreg_decode(r, buf, len, NULL, NULL), CRDT_OK);
    return r;
}

static const char v16a[] = "0123456789abcdef";  /* 16 bytes: inline */
static const char v16b[] = "0123456789abcdeg";
static const char v17[] = "0123456789abcdef!"; /* 17: out of line */
static const char long_a2[] =
    "a value longer than sixteen bytes, stored apart!";

/* Pairs of values and the one that keeps the dot. */
static const struct {
    const char *x, *y, *win;
} conflict_pairs[] = {
    {"tea", "coffee", "tea"},       /* memcmp decides */
    {"ab", "abc", "abc"},           /* a prefix: the longer */
    {"", "a", "a"},                 /* zero bytes: the least value */
    {v16a, v16b, v16b},             /* inline, every byte compared */
    {v16a, v17, v17},               /* inline vs out of line, a prefix */
    {long_a, long_b, long_b},       /* both out of line */
    {long_a, long_a2, long_a2},     /* out of line, a prefix */
    {"zz", long_a, "zz"},           /* short beats long by its bytes */
};

/* Each pair in three shapes: one sibling a side (merge_one), with a
 * sibling both share (merge_small), with the dot in the context's cloud
 * (the general path). */
START_TEST(test_mvreg_conflict_pairs)
{
    size_t i;
    int shape;

    for (i = 0; i < sizeof conflict_pairs / sizeof *conflict_pairs; i++) {
        for (shape = 0; shape < 3; shape++) {
            const char *x = conflict_pairs[i].x, *y = conflict_pairs[i].y;
            crdt_mvreg *a, *b, *ab, *shared = NULL;
            crdt_dot d = D(1, shape == 2 ? 2 : 1);

            if (shape == 2) {
                a = cloud_reg(x);
                b = cloud_reg(y);
            } else {
                a = crdt_mvreg_new(NULL);
                b = crdt_mvreg_new(NULL);
                wr(a, 1, x, NULL);
                wr(b, 1, y, NULL);
                if (shape == 1) {
                    shared = crdt_mvreg_new(NULL);
                    wr(shared, 2, "shared", NULL);
                    merge_ok(a, shared);
                    merge_ok(b, shared);
                }
            }
            ab = merge_both_ways(a, b);
            ck_assert_uint_eq(crdt_mvreg_count(ab), shape == 1 ? 2 : 1);
            expect_at(ab, d, conflict_pairs[i].win);
            if (shape == 1)
                expect_at(ab, D(2, 1), "shared");
            /* idempotent and absorbing */
            merge_ok(ab, a);
            merge_ok(ab, b);
            merge_ok(ab, ab);
            expect_at(ab, d, conflict_pairs[i].win);
            crdt_mvreg_free(a);
            crdt_mvreg_free(b);
            crdt_mvreg_free(ab);
            crdt_mvreg_free(shared);
        }
    }
}
END_TEST

/* Three values under one dot: every order of merges gives the greatest;
 * a write that saw one of them supersedes the dot everywhere, whatever
 * value the other replicas held under it. */
START_TEST(test_mvreg_conflict_three)
{
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    static const char *const vals[3] = {"x", "z", "y"};
    crdt_mvreg *r[3], *first = NULL, *w;
    int o, k;

    for (k = 0; k < 3; k++) {
        r[k] = crdt_mvreg_new(NULL);
        wr(r[k], 1, vals[k], NULL);
    }
    for (o = 0; o < 6; o++) {
        crdt_mvreg *acc = crdt_mvreg_clone(r[orders[o][0]]);
        crdt_mvreg *right = crdt_mvreg_clone(r[orders[o][1]]);

        /* (x + y) + z and x + (y + z) */
        merge_ok(acc, r[orders[o][1]]);
        merge_ok(acc, r[orders[o][2]]);
        merge_ok(right, r[orders[o][2]]);
        merge_ok(right, r[orders[o][0]]);
        ck_assert(crdt_mvreg_equal(acc, right));
        expect_sibs(acc, 1, (const crdt_dot[]){D(1, 1)},
                    (const char *const[]){"z"});
        if (!first)
            first = acc;
        else {
            ck_assert(crdt_mvreg_equal(acc, first));
            crdt_mvreg_free(acc);
        }
        crdt_mvreg_free(right);
    }
    /* r[0] writes again (its "x" superseded): (1, 2) wins everywhere */
    w = crdt_mvreg_clone(r[0]);
    wr(w, 1, "w", NULL);
    merge_ok(first, w);
    merge_ok(w, r[1]);
    merge_ok(w, r[2]);
    ck_assert(crdt_mvreg_equal(first, w));
    expect_sibs(w, 1, (const crdt_dot[]){D(1, 2)},
                (const char *const[]){"w"});
    crdt_mvreg_free(w);
    crdt_mvreg_free(first);
    for (k = 0; k < 3; k++)
        crdt_mvreg_free(r[k]);
}
END_TEST

/* The deltas of two conflicting writes: each into the other replica, and
 * both into one delta group, give the same state. */
START_TEST(test_mvreg_conflict_deltas)
{
    crdt_mvreg *base = crdt_mvreg_new(NULL), *a, *b, *da, *db, *grp;

    wr(base, 1, "old", NULL);
    wr(base, 2, long_a, NULL);
    a = crdt_mvreg_clone(base);
    b = crdt_mvreg_clone(base);
    da = crdt_mvreg_new(NULL);
    db = crdt_mvreg_new(NULL);
    grp = crdt_mvreg_new(NULL);
    wr(a, 1, long_b, da);
    wr(b, 1, "short", db);
    merge_ok(grp, da);
    merge_ok(grp, db);
    merge_ok(a, db);
    merge_ok(b, da);
    ck_assert(crdt_mvreg_equal(a, b));
    expect_sibs(a, 1, (const crdt_dot[]){D(1, 2)},
                (const char *const[]){"short"});
    merge_ok(base, grp);
    ck_assert(crdt_mvreg_equal(base, a));
    crdt_mvreg_free(base);
    crdt_mvreg_free(a);
    crdt_mvreg_free(b);
    crdt_mvreg_free(da);
    crdt_mvreg_free(db);
    crdt_mvreg_free(grp);
}
END_TEST

/* ------------------------------------------------------------- property */

/*
 * Reference model.  Writes get ids 0..63; a state is (S, K): the writes
 * seen and the writes known to be covered (superseded by a later write or
 * removed by a clear that saw them), as bitmasks.  The register holds
 * exactly the writes in S \ K.  Merge unites both sets; a write by a
 * replica covers everything it holds; a clear covers everything it holds.
 */
#define MAXW 64
#define MAXREP 5
#define MAXLOG 32

typedef struct mstate {
    uint64_t s, k;
} mstate;

typedef struct world {
    crdt_dot dot[MAXW]; /* dot of each write */
    int nw;
} world;

/* The value bytes of write w: w % 41 bytes (inline and heap). */
static size_t val_of(int w, uint8_t *out)
{
    size_t n = (size_t)(w % 41), i;

    for (i = 0; i < n; i++)
        out[i] = (uint8_t)(w * 7 + (int)i);
    return n;
}

static int id_of(const world *wd, crdt_dot d)
{
    int i;

    for (i = 0; i < wd->nw; i++) {
        if (wd->dot[i].actor == d.actor && wd->dot[i].counter == d.counter)
            return i;
    }
    return -1;
}

/* r holds exactly the writes of m (S \ K), with their values. */
static void check_model(const crdt_mvreg *r, const world *wd,
                        const mstate *m, long k)
{
    uint64_t live = m->s & ~m->k, got = 0;
    size_t i, len;
    const uint8_t *p;
    uint8_t want[64];
    crdt_dot d;

    for (i = 0; i < crdt_mvreg_count(r); i++) {
        int w;

        tu_must_k(crdt_mvreg_get(r, i, &d, &p, &len), "get", k);
        w = id_of(wd, d);
        tu_expect_k(w >= 0, "sibling of an unknown write", k);
        tu_expect_k(len == val_of(w, want) && (len == 0 ||
                                          memcmp(p, want, len) == 0),
               "sibling value", k);
        got |= (uint64_t)1 << w;
    }
    if (got != live)
        ck_abort_msg("case %ld: siblings %llx, model %llx", k,
                     (unsigned long long)got, (unsigned long long)live);
}

static crdt_mvreg *merged(const crdt_mvreg *a, const crdt_mvreg *b, long k)
{
    crdt_mvreg *r = crdt_mvreg_clone(a);

    tu_expect_k(r != NULL, "clone", k);
    tu_must_k(crdt_mvreg_merge(r, b), "merge", k);
    return r;
}

static void same_bytes(const crdt_mvreg *a, const crdt_mvreg *b, long k)
{
    crdt_buf x, y;

    crdt_buf_init(&x, NULL);
    crdt_buf_init(&y, NULL);
    tu_must_k(crdt_mvreg_encode(a, &x), "encode", k);
    tu_must_k(crdt_mvreg_encode(b, &y), "encode", k);
    tu_expect_k(x.len == y.len && memcmp(x.data, y.data, x.len) == 0,
           "equal states, different bytes", k);
    crdt_buf_clear(&x);
    crdt_buf_clear(&y);
}

static void round_trip(const crdt_mvreg *a, long k)
{
    crdt_buf x;
    crdt_mvreg *d = crdt_mvreg_new(NULL);

    crdt_buf_init(&x, NULL);
    tu_must_k(crdt_mvreg_encode(a, &x), "encode", k);
    tu_must_k(crdt_mvreg_decode(d, x.data, x.len, NULL, NULL), "decode", k);
    tu_expect_k(crdt_mvreg_equal(a, d), "round trip", k);
    same_bytes(a, d, k);
    crdt_buf_clear(&x);
    crdt_mvreg_free(d);
}

static void join_laws(const crdt_mvreg *a, const crdt_mvreg *b,
                      const crdt_mvreg *c, long k)
{
    crdt_mvreg *ab = merged(a, b, k), *ba = merged(b, a, k);
    crdt_mvreg *ab_c = merged(ab, c, k), *bc = merged(b, c, k);
    crdt_mvreg *a_bc = merged(a, bc, k), *aa = merged(a, a, k);
    crdt_mvreg *aba = merged(ab, a, k);

    tu_expect_k(crdt_mvreg_equal(ab, ba), "not commutative", k);
    same_bytes(ab, ba, k);
    tu_expect_k(crdt_mvreg_equal(ab_c, a_bc), "not associative", k);
    tu_expect_k(crdt_mvreg_equal(aa, a), "not idempotent", k);
    tu_expect_k(crdt_mvreg_equal(aba, ab), "not absorbing", k);
    round_trip(ab_c, k);
    crdt_mvreg_free(ab);
    crdt_mvreg_free(ba);
    crdt_mvreg_free(ab_c);
    crdt_mvreg_free(bc);
    crdt_mvreg_free(a_bc);
    crdt_mvreg_free(aa);
    crdt_mvreg_free(aba);
}

/*
 * One case: NREP replicas apply random writes, clears and merges of
 * states and of logged deltas; each mutation's delta, merged into the
 * pre-state, must equal the mutation; the model is checked after every
 * step; join laws on the replicas' states; finally every replica gets
 * every delta in random order with duplicates (and some states), and all
 * converge to the model's union.
 */
static void one_case(tu_rng *rng, long k)
{
    crdt_mvreg *rep[MAXREP], *log[MAXLOG];
    mstate mr[MAXREP], ml[MAXLOG], all = {0, 0};
    world wd;
    int nrep = 3 + (int)tu_below(rng, 3), nlog = 0, nops, i, j, step;
    uint8_t v[64];

    wd.nw = 0;
    for (i = 0; i < nrep; i++) {
        rep[i] = crdt_mvreg_new(NULL);
        mr[i].s = mr[i].k = 0;
    }
    nops = 4 + (int)tu_below(rng, 16);
    for (step = 0; step < nops; step++) {
        int op = (int)tu_below(rng, 10);
        crdt_mvreg *pre, *d;

        j = (int)tu_below(rng, (uint64_t)nrep);
        if (op < 4 && wd.nw < MAXW && nlog < MAXLOG) {
            /* write, with a delta */
            int w = wd.nw++;
            size_t n = val_of(w, v);
            uint64_t live = mr[j].s & ~mr[j].k;

            pre = crdt_mvreg_clone(rep[j]);
            d = crdt_mvreg_new(NULL);
            tu_must_k(crdt_mvreg_write(rep[j], tu_splitmix((uint64_t)j), v, n,
                                  tu_below(rng, 8) ? d : NULL),
                 "write", k);
            tu_must_k(crdt_mvreg_get(rep[j], 0, &wd.dot[w], NULL, NULL), "get",
                 k);
            if (crdt_mvreg_count(d) == 0) {
                /* written without a delta: make it again from pre */
                crdt_mvreg *again = crdt_mvreg_clone(pre);

                tu_must_k(crdt_mvreg_write(again, tu_splitmix((uint64_t)j), v, n,
                                      d),
                     "write", k);
                tu_expect_k(crdt_mvreg_equal(again, rep[j]), "write again", k);
                crdt_mvreg_free(again);
            }
            mr[j].k |= mr[j].s;
            mr[j].s |= (uint64_t)1 << w;
            ml[nlog].s = live | ((uint64_t)1 << w);
            ml[nlog].k = live;
            tu_must_k(crdt_mvreg_merge(pre, d), "merge delta", k);
            tu_expect_k(crdt_mvreg_equal(pre, rep[j]), "delta != write", k);
            log[nlog++] = d;
            crdt_mvreg_free(pre);
        } else if (op < 5 && nlog < MAXLOG) {
            /* clear, with a delta */
            uint64_t live = mr[j].s & ~mr[j].k;

            pre = crdt_mvreg_clone(rep[j]);
            d = crdt_mvreg_new(NULL);
            tu_must_k(crdt_mvreg_clear(rep[j], d), "clear", k);
            tu_expect_k(crdt_mvreg_count(rep[j]) == 0, "clear left siblings", k);
            mr[j].k |= mr[j].s;
            ml[nlog].s = live;
            ml[nlog].k = live;
            tu_must_k(crdt_mvreg_merge(pre, d), "merge delta", k);
            tu_expect_k(crdt_mvreg_equal(pre, rep[j]), "delta != clear", k);
            log[nlog++] = d;
            crdt_mvreg_free(pre);
        } else if (op < 8) {
            /* merge a replica's state */
            i = (int)tu_below(rng, (uint64_t)nrep);
            tu_must_k(crdt_mvreg_merge(rep[j], rep[i]), "merge", k);
            mr[j].s |= mr[i].s;
            mr[j].k |= mr[i].k;
        } else if (nlog > 0) {
            /* merge a logged delta (maybe again) */
            i = (int)tu_below(rng, (uint64_t)nlog);
            tu_must_k(crdt_mvreg_merge(rep[j], log[i]), "merge delta", k);
            mr[j].s |= ml[i].s;
            mr[j].k |= ml[i].k;
        }
        check_model(rep[j], &wd, &mr[j], k);
    }
    join_laws(rep[0], rep[1], rep[2], k);
    /* deltas are states too */
    if (nlog >= 2)
        join_laws(log[0], log[nlog - 1], rep[1], k);
    for (i = 0; i < nlog; i++) {
        all.s |= ml[i].s;
        all.k |= ml[i].k;
    }
    /* deliver every delta to every replica, in random order, with
     * duplicates, and a few whole states on the way */
    for (j = 0; j < nrep; j++) {
        bool got[MAXLOG] = {false};
        int left = nlog;

        while (left > 0) {
            i = (int)tu_below(rng, (uint64_t)nlog);
            tu_must_k(crdt_mvreg_merge(rep[j], log[i]), "merge delta", k);
            if (!got[i])
                got[i] = true, left--;
            if (tu_below(rng, 6) == 0)
                tu_must_k(crdt_mvreg_merge(rep[j],
                                      rep[tu_below(rng, (uint64_t)nrep)]),
                     "merge", k);
        }
    }
    for (j = 0; j < nrep; j++) {
        check_model(rep[j], &wd, &all, k);
        tu_expect_k(crdt_mvreg_equal(rep[j], rep[0]), "did not converge", k);
    }
    same_bytes(rep[0], rep[nrep - 1], k);
    round_trip(rep[0], k);
    for (i = 0; i < nrep; i++)
        crdt_mvreg_free(rep[i]);
    for (i = 0; i < nlog; i++)
        crdt_mvreg_free(log[i]);
}

START_TEST(test_mvreg_property_replicas)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("mvreg") ^ 0x1);
    for (k = 0; k < n; k++)
        one_case(&rng, k);
}
END_TEST

/*
 * Conflicting payloads: replicas that share actor ids write from the same
 * states, so that one dot holds different values on different replicas
 * (an actor id reused), then exchange states and deltas.  On triples of
 * the resulting states and deltas: the join laws with identical bytes
 * both ways, a decodable result, and each pair's merge against a model:
 * a sibling survives iff on both sides or on one side and unseen by the
 * other, holding the greatest of the values the two sides give its dot.
 */
static size_t conflict_val(tu_rng *rng, uint8_t *out)
{
    static const char *const vals[] = {"",   "a",  "ab",   "b",
                                       v16a, v16b, v17,    long_a,
                                       long_a2, long_b, "zz"};
    const char *v = vals[tu_below(rng, sizeof vals / sizeof *vals)];
    size_t n = strlen(v);

    memcpy(out, v, n);
    return n;
}

/* The value of the sibling of r with dot d: true and *p, *n if any. */
static bool value_at(const crdt_mvreg *r, crdt_dot d, const uint8_t **p,
                     size_t *n)
{
    size_t i;
    crdt_dot e;

    for (i = 0; crdt_mvreg_get(r, i, &e, p, n) == CRDT_OK; i++)
        if (e.actor == d.actor && e.counter == d.counter)
            return true;
    return false;
}

static int val_cmp(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
    size_t m = la < lb ? la : lb;
    int c = m ? memcmp(a, b, m) : 0;

    if (c)
        return c;
    return (la > lb) - (la < lb);
}

/* ab = a + b against the model; returns the number of dots a and b hold
 * with different values. */
static int check_pair_model(const crdt_mvreg *a, const crdt_mvreg *b,
                            const crdt_mvreg *ab, long k)
{
    const crdt_mvreg *side[2] = {a, b};
    size_t i, want = 0;
    const uint8_t *p, *q, *r;
    size_t pn, qn, rn;
    int s, conflicts = 0;
    crdt_dot d;

    for (s = 0; s < 2; s++) {
        const crdt_mvreg *x = side[s], *y = side[1 - s];

        for (i = 0; crdt_mvreg_get(x, i, &d, &p, &pn) == CRDT_OK; i++) {
            bool in_y = value_at(y, d, &q, &qn);

            tu_expect_k(crdt_mvreg_observed(ab, d), "context lost a dot",
                        k);
            if (!in_y && crdt_mvreg_observed(y, d)) {
                tu_expect_k(!value_at(ab, d, &r, &rn),
                            "a sibling the other side saw removed", k);
                continue;
            }
            if (in_y && s == 1)
                continue; /* counted from a's side */
            want++;
            if (in_y && val_cmp(p, pn, q, qn) != 0) {
                conflicts++;
                if (val_cmp(p, pn, q, qn) < 0)
                    p = q, pn = qn;
            }
            tu_expect_k(value_at(ab, d, &r, &rn), "a sibling lost", k);
            tu_expect_k(rn == pn && (pn == 0 || memcmp(r, p, pn) == 0),
                        "not the greater value", k);
        }
    }
    tu_expect_k(crdt_mvreg_count(ab) == want,
                "siblings the model does not have", k);
    return conflicts;
}

/* The join laws on a, b, c, with bytes, and the pair model on a + b. */
static int conflict_laws(const crdt_mvreg *a, const crdt_mvreg *b,
                         const crdt_mvreg *c, long k)
{
    crdt_mvreg *ab = merged(a, b, k), *ab_c = merged(ab, c, k);
    crdt_mvreg *bc = merged(b, c, k), *a_bc = merged(a, bc, k);
    int conflicts;

    join_laws(a, b, c, k);
    same_bytes(ab_c, a_bc, k);
    round_trip(ab, k);
    conflicts = check_pair_model(a, b, ab, k);
    crdt_mvreg_free(ab);
    crdt_mvreg_free(ab_c);
    crdt_mvreg_free(bc);
    crdt_mvreg_free(a_bc);
    return conflicts;
}

START_TEST(test_mvreg_property_conflicts)
{
    tu_rng rng;
    long n = tu_cases(10000), k, with_conflicts = 0, conflicts = 0;

    tu_rng_init(&rng, tu_seed("mvreg") ^ 0x2);
    for (k = 0; k < n; k++) {
        crdt_mvreg *rep[5], *log[16], *base = crdt_mvreg_new(NULL);
        int nrep = 3 + (int)tu_below(&rng, 3), nlog = 0, i, j, step;
        int nops = 4 + (int)tu_below(&rng, 16), c = 0;
        uint8_t v[64];

        /* a common past: a few writes, maybe concurrent ones */
        for (i = (int)tu_below(&rng, 4); i > 0; i--) {
            crdt_mvreg *w = crdt_mvreg_clone(base);

            tu_must_k(crdt_mvreg_write(w, 1 + tu_below(&rng, 3), v,
                                       conflict_val(&rng, v), NULL),
                      "write", k);
            if (tu_below(&rng, 2))
                tu_must_k(crdt_mvreg_write(base, 4, "c", 1, NULL), "write",
                          k);
            tu_must_k(crdt_mvreg_merge(base, w), "merge", k);
            crdt_mvreg_free(w);
        }
        for (i = 0; i < nrep; i++)
            rep[i] = crdt_mvreg_clone(base);
        for (step = 0; step < nops; step++) {
            int op = (int)tu_below(&rng, 10);

            j = (int)tu_below(&rng, (uint64_t)nrep);
            if (op < 5) {
                /* a write by one of two actors every replica uses */
                crdt_mvreg *d = nlog < 16 ? crdt_mvreg_new(NULL) : NULL;

                tu_must_k(crdt_mvreg_write(rep[j], 1 + tu_below(&rng, 2), v,
                                           conflict_val(&rng, v), d),
                          "write", k);
                if (d)
                    log[nlog++] = d;
            } else if (op < 6) {
                tu_must_k(crdt_mvreg_clear(rep[j], NULL), "clear", k);
            } else if (op < 8 || nlog == 0) {
                i = (int)tu_below(&rng, (uint64_t)nrep);
                tu_must_k(crdt_mvreg_merge(rep[j], rep[i]), "merge", k);
            } else {
                i = (int)tu_below(&rng, (uint64_t)nlog);
                tu_must_k(crdt_mvreg_merge(rep[j], log[i]), "merge delta",
                          k);
            }
        }
        c += conflict_laws(rep[0], rep[1], rep[2], k);
        c += conflict_laws(rep[nrep - 1], rep[0], base, k);
        if (nlog >= 2)
            c += conflict_laws(log[0], log[nlog - 1], rep[1], k);
        if (nlog >= 1)
            c += conflict_laws(rep[2], log[tu_below(&rng, (uint64_t)nlog)],
                               rep[0], k);
        conflicts += c;
        with_conflicts += c > 0;
        for (i = 0; i < nrep; i++)
            crdt_mvreg_free(rep[i]);
        for (i = 0; i < nlog; i++)
            crdt_mvreg_free(log[i]);
        crdt_mvreg_free(base);
    }
    fprintf(stderr,
            "mvreg: %ld conflict cases, %ld with a dot of two values "
            "(%ld such dots)\n",
            n, with_conflicts, conflicts);
    if (n >= 100)
        tu_expect(with_conflicts > n / 4, "too few conflicting cases");
}
END_TEST

/* ---------------------------------------------------------------- nomem */

enum {
    OP_NEW,
    OP_CLONE,
    OP_COPY,
    OP_WRITE_SMALL,
    OP_WRITE_LARGE,
    OP_WRITE_SMALL_DELTA,
    OP_WRITE_LARGE_DELTA,
    OP_CLEAR_DELTA,
    OP_MERGE,
    OP_MERGE_CONFLICT, /* src's greater long values replace a's */
    OP_ENCODE,
    OP_DECODE,
    N_OPS
};

/* A register with two long and one short sibling: the long values are
 * v1 and v2 (dots (base + 1, 1) and (base + 2, 2)). */
static crdt_mvreg *nomem_reg_of(const crdt_mem *mem, crdt_actor base,
                                const char *v1, const char *v2)
{
    crdt_mvreg *r = crdt_mvreg_new(mem), *s = crdt_mvreg_new(mem);

    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(s);
    wr(r, base + 1, v1, NULL);
    wr(s, base + 2, "x", NULL);
    wr(s, base + 2, v2, NULL);
    merge_ok(r, s);
    crdt_mvreg_free(s);
    s = crdt_mvreg_new(mem);
    ck_assert_ptr_nonnull(s);
    wr(s, base + 3, "short", NULL);
    merge_ok(r, s);
    crdt_mvreg_free(s);
    return r;
}

static crdt_mvreg *nomem_reg(const crdt_mem *mem, crdt_actor base)
{
    return nomem_reg_of(mem, base, long_a, long_b);
}

static void nomem_setup(tu_nomem *c)
{
    c->a = nomem_reg(&c->tm->mem, 0);
    c->d = nomem_reg(&c->tm->mem, 10);
    c->src = c->op == OP_MERGE_CONFLICT
                 ? nomem_reg_of(&c->tm->mem, 0, long_a2,
                                "c value longer than sixteen bytes")
                 : nomem_reg(&c->tm->mem, 20);
    ck_assert_int_eq(crdt_mvreg_encode(c->src, &c->enc), CRDT_OK);
}

static int nomem_call(tu_nomem *c)
{
    crdt_mvreg *a = c->a, *d = c->d;

    switch (c->op) {
    case OP_NEW:
        return tu_nomem_made(c, crdt_mvreg_new(&c->tm->mem));
    case OP_CLONE:
        return tu_nomem_made(c, crdt_mvreg_clone(c->src));
    case OP_COPY:
        return crdt_mvreg_copy(a, c->src);
    case OP_WRITE_SMALL:
        return crdt_mvreg_write(a, 77, "s", 1, NULL);
    case OP_WRITE_LARGE:
        return crdt_mvreg_write(a, 77, long_b, sizeof long_b, NULL);
    case OP_WRITE_SMALL_DELTA:
        return crdt_mvreg_write(a, 77, "s", 1, d);
    case OP_WRITE_LARGE_DELTA:
        return crdt_mvreg_write(a, 77, long_b, sizeof long_b, d);
    case OP_CLEAR_DELTA:
        return crdt_mvreg_clear(a, d);
    case OP_MERGE:
    case OP_MERGE_CONFLICT:
        return crdt_mvreg_merge(a, c->src);
    case OP_ENCODE:
        return crdt_mvreg_encode(c->src, &c->out);
    case OP_DECODE:
        return crdt_mvreg_decode(a, c->enc.data, c->enc.len, NULL, NULL);
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
    switch (c->op) {
    case OP_COPY:
    case OP_DECODE:
        ck_assert(crdt_mvreg_equal(c->a, c->src));
        break;
    case OP_CLONE:
        ck_assert(crdt_mvreg_equal(c->made, c->src));
        break;
    case OP_WRITE_SMALL_DELTA:
    case OP_WRITE_LARGE_DELTA:
    case OP_CLEAR_DELTA:
        /* a0 + (d0 + delta) == (a0 + delta) + d0 */
        ck_assert_int_eq(crdt_mvreg_merge(c->a0, c->d), CRDT_OK);
        ck_assert_int_eq(crdt_mvreg_merge(c->d0, c->a), CRDT_OK);
        ck_assert(crdt_mvreg_equal(c->a0, c->d0));
        break;
    case OP_MERGE:
        ck_assert_uint_eq(crdt_mvreg_count(c->a), 6);
        break;
    case OP_MERGE_CONFLICT:
        ck_assert(crdt_mvreg_equal(c->a, c->src));
        break;
    default:
        break;
    }
}

/* a small write may fit the storage it has (no allocation) */
static int nomem_allocs(int op)
{
    return op == OP_WRITE_SMALL ? TU_ALLOC_MAY : TU_ALLOC_MUST;
}

START_TEST(test_mvreg_nomem_all)
{
    const tu_nomem_ops ops = {
        .type = crdt_mvreg_type(),
        .nops = N_OPS,
        .setup = nomem_setup,
        .call = nomem_call,
        .failed = nomem_failed,
        .succeeded = nomem_succeeded,
        .allocs = nomem_allocs,
    };

    tu_nomem_run(&ops);
}
END_TEST

static Suite *mvreg_suite(void)
{
    Suite *s = suite_create("mvreg");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_mvreg_basic_empty);
    tcase_add_test(tc, test_mvreg_basic_siblings);
    tcase_add_test(tc, test_mvreg_basic_resolve);
    tcase_add_test(tc, test_mvreg_basic_clear_delta);
    tcase_add_test(tc, test_mvreg_basic_copy_alias);
    tcase_add_test(tc, test_mvreg_basic_descriptor);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_test(tc, test_mvreg_merge_no_alloc);
    tcase_add_test(tc, test_mvreg_merge_large);
    tcase_add_test(tc, test_mvreg_merge_stale_long);
    suite_add_tcase(s, tc);
    tc = tcase_create("conflict");
    tcase_add_test(tc, test_mvreg_conflict_pairs);
    tcase_add_test(tc, test_mvreg_conflict_three);
    tcase_add_test(tc, test_mvreg_conflict_deltas);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_mvreg_codec_bytes);
    tcase_add_test(tc, test_mvreg_codec_reject);
    tcase_add_test(tc, test_mvreg_codec_truncated);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_mvreg_property_replicas);
    tcase_add_test(tc, test_mvreg_property_conflicts);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_add_test(tc, test_mvreg_nomem_all);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mvreg_suite());
    int failed;

    tu_seed("mvreg"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
