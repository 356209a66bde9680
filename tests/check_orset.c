/* SPDX-License-Identifier: MIT */
/*
 * OR-set suite: add-wins semantics, deltas, merge, codec (canonical
 * bytes, hostile input), join-law and delta properties, a randomized
 * replica test against a reference model of causal coverage, and
 * allocation-failure injection.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/orset.h>
#include <crdt/type.h>

#include "testutil.h"

static crdt_orset *mk(const crdt_mem *mem)
{
    crdt_orset *s = crdt_orset_new(mem);

    ck_assert_ptr_nonnull(s);
    return s;
}

static crdt_orset *clone(const crdt_orset *s)
{
    crdt_orset *c = crdt_orset_clone(s);

    tu_expect(c != NULL, "clone");
    return c;
}

static bool has(const crdt_orset *s, const char *e)
{
    return crdt_orset_contains(s, e, strlen(e));
}

static void add(crdt_orset *s, crdt_actor a, const char *e, crdt_orset *d)
{
    tu_must(crdt_orset_add(s, a, e, strlen(e), d), "add");
}

static void rm(crdt_orset *s, const char *e, crdt_orset *d)
{
    tu_must(crdt_orset_remove(s, e, strlen(e), d), "remove");
}

static void enc(const crdt_orset *s, crdt_buf *b)
{
    crdt_buf_init(b, NULL);
    tu_must(crdt_orset_encode(s, b), "encode");
}

/* ---------------------------------------------------------------- basic */

START_TEST(test_orset_basic_ops)
{
    crdt_orset *s = mk(NULL);
    const uint8_t *p;
    size_t len, nd;
    crdt_dot d;

    ck_assert_uint_eq(crdt_orset_size(s), 0);
    ck_assert(!has(s, "a"));
    add(s, 1, "a", NULL);
    add(s, 1, "b", NULL);
    add(s, 2, "", NULL);
    ck_assert_uint_eq(crdt_orset_size(s), 3);
    ck_assert(has(s, "a") && has(s, "b") && has(s, ""));
    add(s, 1, "a", NULL); /* re-add supersedes: still one dot */
    ck_assert_uint_eq(crdt_orset_size(s), 3);
    ck_assert_int_eq(crdt_orset_elem(s, 0, &p, &len, &nd), CRDT_OK);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(p[0], 'a');
    ck_assert_uint_eq(nd, 1);
    ck_assert_int_eq(crdt_orset_elem_dot(s, 0, 0, &d), CRDT_OK);
    ck_assert_uint_eq(d.actor, 1);
    ck_assert_uint_eq(d.counter, 3);
    ck_assert_int_eq(crdt_orset_elem_dot(s, 0, 1, &d), CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(crdt_orset_elem(s, 3, &p, &len, &nd),
                     CRDT_ERR_NOT_FOUND);
    ck_assert(crdt_orset_context_contains(s, (crdt_dot){1, 1}));
    rm(s, "a", NULL);
    ck_assert(!has(s, "a"));
    ck_assert(crdt_orset_context_contains(s, (crdt_dot){1, 3}));
    rm(s, "zz", NULL); /* absent: no-op */
    ck_assert_uint_eq(crdt_orset_size(s), 2);
    add(s, 3, "a", NULL); /* remove then re-add */
    ck_assert(has(s, "a"));
    ck_assert_int_eq(crdt_orset_clear(s, NULL), CRDT_OK);
    ck_assert_uint_eq(crdt_orset_size(s), 0);
    ck_assert(crdt_orset_context_contains(s, (crdt_dot){3, 1}));
    ck_assert_int_eq(crdt_orset_add(NULL, 1, "a", 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_orset_add(s, 1, NULL, 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_orset_add(s, 1, "a", 1, s), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_orset_remove(s, "a", 1, s), CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(crdt_orset_size(NULL), 0);
    ck_assert(!crdt_orset_contains(NULL, "a", 1));
    crdt_orset_free(s);
    crdt_orset_free(NULL);
}
END_TEST

START_TEST(test_orset_basic_add_wins)
{
    crdt_orset *a = mk(NULL), *b, *c;

    add(a, 1, "x", NULL);
    b = clone(a);
    /* concurrent: a removes x, b re-adds x */
    rm(a, "x", NULL);
    add(b, 2, "x", NULL);
    c = clone(a);
    tu_must(crdt_orset_merge(a, b), "merge");
    tu_must(crdt_orset_merge(b, c), "merge");
    ck_assert(has(a, "x") && has(b, "x"));
    ck_assert(crdt_orset_equal(a, b));
    /* remove of unobserved adds: a removes without having seen c's add */
    crdt_orset_free(c);
    c = mk(NULL);
    add(c, 3, "y", NULL);
    rm(a, "y", NULL); /* a has no y: nothing observed */
    tu_must(crdt_orset_merge(a, c), "merge");
    ck_assert(has(a, "y"));
    /* a remove that observed the add wins over the state that had it */
    rm(a, "y", NULL);
    tu_must(crdt_orset_merge(c, a), "merge");
    ck_assert(!has(c, "y"));
    /* two concurrent adds keep both dots */
    crdt_orset_free(b);
    b = mk(NULL);
    add(b, 7, "z", NULL);
    add(c, 8, "z", NULL);
    tu_must(crdt_orset_merge(b, c), "merge");
    {
        size_t i, len, nd = 0;
        const uint8_t *p;

        for (i = 0; i < crdt_orset_size(b); i++) {
            tu_must(crdt_orset_elem(b, i, &p, &len, &nd), "elem");
            if (len == 1 && p[0] == 'z')
                break;
        }
        ck_assert_uint_eq(nd, 2);
    }
    crdt_orset_free(a);
    crdt_orset_free(b);
    crdt_orset_free(c);
}
END_TEST

START_TEST(test_orset_basic_delta)
{
    crdt_orset *s = mk(NULL), *pre, *d = mk(NULL), *g = mk(NULL), *x;

    add(s, 1, "a", NULL);
    add(s, 1, "b", NULL);
    pre = clone(s);
    add(s, 2, "a", d);
    ck_assert_uint_eq(crdt_orset_size(d), 1);
    ck_assert(crdt_orset_context_contains(d, (crdt_dot){1, 1}));
    ck_assert(crdt_orset_context_contains(d, (crdt_dot){2, 1}));
    ck_assert(!crdt_orset_context_contains(d, (crdt_dot){1, 2}));
    x = clone(pre);
    tu_must(crdt_orset_merge(x, d), "merge");
    ck_assert(crdt_orset_equal(x, s));
    crdt_orset_free(x);
    /* a delta group of add, remove, add */
    add(s, 1, "c", g);
    rm(s, "b", g);
    add(s, 3, "d", g);
    rm(s, "c", g);
    x = clone(pre);
    tu_must(crdt_orset_merge(x, d), "merge");
    tu_must(crdt_orset_merge(x, g), "merge");
    ck_assert(crdt_orset_equal(x, s));
    crdt_orset_free(x);
    crdt_orset_free(g);
    g = mk(NULL);
    ck_assert_int_eq(crdt_orset_clear(s, g), CRDT_OK);
    x = clone(pre);
    tu_must(crdt_orset_merge(x, d), "merge");
    tu_must(crdt_orset_merge(x, g), "merge");
    ck_assert_uint_eq(crdt_orset_size(x), 1); /* "d" was not observed */
    crdt_orset_free(x);
    crdt_orset_free(s);
    crdt_orset_free(pre);
    crdt_orset_free(d);
    crdt_orset_free(g);
}
END_TEST

START_TEST(test_orset_basic_copy_big)
{
    crdt_orset *a = mk(NULL), *b = mk(NULL), *c;
    uint64_t i, e;

    for (i = 0; i < 5000; i++) {
        e = tu_splitmix(i);
        tu_must(crdt_orset_add(a, i % 8, &e, 8, NULL), "add");
    }
    for (i = 0; i < 5000; i += 2) {
        e = tu_splitmix(i);
        tu_must(crdt_orset_remove(a, &e, 8, NULL), "rm");
    }
    ck_assert_uint_eq(crdt_orset_size(a), 2500);
    for (i = 0; i < 5000; i++) {
        e = tu_splitmix(i);
        tu_expect(crdt_orset_contains(a, &e, 8) == (i % 2 == 1), "contains");
    }
    ck_assert_int_eq(crdt_orset_copy(b, a), CRDT_OK);
    ck_assert(crdt_orset_equal(a, b));
    c = clone(a);
    ck_assert(crdt_orset_equal(c, b));
    ck_assert_int_eq(crdt_orset_copy(a, a), CRDT_OK);
    ck_assert_int_eq(crdt_orset_copy(a, NULL), CRDT_ERR_INVALID_ARG);
    crdt_orset_free(a);
    crdt_orset_free(b);
    crdt_orset_free(c);
}
END_TEST

/* The dots of element e, or 0 if absent. */
static size_t ndots_of(const crdt_orset *s, const char *e)
{
    size_t i, len, nd;
    const uint8_t *p;

    for (i = 0; i < crdt_orset_size(s); i++) {
        tu_must(crdt_orset_elem(s, i, &p, &len, &nd), "elem");
        if (len == strlen(e) && memcmp(p, e, len) == 0)
            return nd;
    }
    return 0;
}

/* Removes of elements with several dots (concurrent adds merged), short
 * and long, with and without a delta, from the middle of the storage
 * (the last element moves into the hole with its dot list) and at its
 * end. */
START_TEST(test_orset_basic_remove_multidot)
{
    static const char *const es[] = {"k", "longer than eight", "m",
                                     "another long one", "z"};
    crdt_orset *a = mk(NULL), *b = mk(NULL), *pre, *d = mk(NULL), *x;
    size_t i;

    for (i = 0; i < 5; i++) {
        add(a, 1, es[i], NULL);
        add(b, 2, es[i], NULL);
    }
    tu_must(crdt_orset_merge(a, b), "merge");
    for (i = 0; i < 5; i++)
        ck_assert_uint_eq(ndots_of(a, es[i]), 2);
    pre = clone(a);
    /* the first element stored: the last one moves into its place */
    rm(a, "k", d);
    ck_assert(!has(a, "k"));
    ck_assert_uint_eq(crdt_orset_size(d), 0);
    ck_assert(crdt_orset_context_contains(d, (crdt_dot){1, 1}));
    ck_assert(crdt_orset_context_contains(d, (crdt_dot){2, 1}));
    ck_assert(!crdt_orset_context_contains(d, (crdt_dot){1, 2}));
    for (i = 1; i < 5; i++)
        ck_assert_uint_eq(ndots_of(a, es[i]), 2);
    x = clone(pre);
    tu_must(crdt_orset_merge(x, d), "merge");
    ck_assert(crdt_orset_equal(x, a));
    crdt_orset_free(x);
    /* a long multi-dot element, into the same delta group */
    rm(a, "longer than eight", d);
    x = clone(pre);
    tu_must(crdt_orset_merge(x, d), "merge");
    ck_assert(crdt_orset_equal(x, a));
    crdt_orset_free(x);
    /* the delta removes b's copy (its dot was observed) but not a
     * concurrent re-add on b */
    add(b, 2, "k", NULL);
    tu_must(crdt_orset_merge(b, d), "merge");
    ck_assert(has(b, "k") && !has(b, "longer than eight"));
    ck_assert_uint_eq(ndots_of(b, "k"), 1);
    /* without a delta: the last stored element, then the rest */
    i = crdt_orset_size(a);
    {
        const uint8_t *p;
        size_t len;
        char last[32];

        tu_must(crdt_orset_elem(a, i - 1, &p, &len, NULL), "elem");
        memcpy(last, p, len);
        last[len] = 0;
        rm(a, last, NULL);
        ck_assert(!has(a, last));
    }
    ck_assert_uint_eq(crdt_orset_size(a), i - 1);
    for (i = 0; i < 5; i++)
        rm(a, es[i], NULL);
    ck_assert_uint_eq(crdt_orset_size(a), 0);
    ck_assert(crdt_orset_context_contains(a, (crdt_dot){2, 5}));
    /* a remove that observed both dots wins over both adds */
    tu_must(crdt_orset_merge(pre, a), "merge");
    ck_assert_uint_eq(crdt_orset_size(pre), 0);
    crdt_orset_free(a);
    crdt_orset_free(b);
    crdt_orset_free(pre);
    crdt_orset_free(d);
}
END_TEST

/* ---------------------------------------------------------------- merge */

START_TEST(test_orset_merge_cases)
{
    crdt_orset *a = mk(NULL), *b = mk(NULL), *e = mk(NULL);

    add(a, 1, "a", NULL);
    add(a, 1, "b", NULL);
    add(b, 2, "c", NULL);
    tu_must(crdt_orset_merge(b, a), "merge");
    rm(b, "a", NULL);
    add(a, 1, "d", NULL);
    tu_must(crdt_orset_merge(a, b), "merge");
    ck_assert(!has(a, "a") && has(a, "b") && has(a, "c") && has(a, "d"));
    tu_must(crdt_orset_merge(a, a), "self");
    tu_must(crdt_orset_merge(a, e), "empty");
    tu_must(crdt_orset_merge(e, a), "into empty");
    ck_assert(crdt_orset_equal(a, e));
    ck_assert(!crdt_orset_equal(a, b));
    ck_assert(crdt_orset_equal(NULL, NULL));
    ck_assert_int_eq(crdt_orset_merge(a, NULL), CRDT_ERR_INVALID_ARG);
    crdt_orset_free(a);
    crdt_orset_free(b);
    crdt_orset_free(e);
}
END_TEST

/* ---------------------------------------------------------------- codec */

START_TEST(test_orset_codec_bytes)
{
    const uint8_t want[] = {0x95, 0x01, 0x08, 0x81, 0x05, 0x02, 0x90, 0x92,
                            0x92, 0xc4, 0x01, 0x61, 0x91, 0x92, 0x05, 0x01,
                            0x92, 0xc4, 0x01, 0x62, 0x91, 0x92, 0x05, 0x02};
    crdt_orset *s = mk(NULL), *t = mk(NULL), *u = mk(NULL);
    crdt_buf b, b2;

    add(t, 5, "b", NULL); /* different storage order, same state */
    add(s, 5, "a", NULL);
    add(s, 5, "b", NULL);
    enc(s, &b);
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert_mem_eq(b.data, want, sizeof want);
    tu_must(crdt_orset_decode(t, b.data, b.len, NULL, NULL), "decode");
    ck_assert(crdt_orset_equal(s, t));
    enc(t, &b2);
    ck_assert_mem_eq(b2.data, want, sizeof want);
    crdt_buf_clear(&b2);
    /* generic decode through the registry */
    {
        crdt_registry *reg = crdt_registry_new(NULL);
        const crdt_type *ty;
        void *obj;

        tu_must(crdt_registry_add_builtins(reg), "builtins");
        tu_must(crdt_registry_decode(reg, b.data, b.len, NULL, NULL, &ty, &obj,
                                  NULL), "registry");
        ck_assert_ptr_eq(ty, crdt_orset_type());
        ck_assert(crdt_orset_equal(obj, s));
        ty->destroy(obj);
        crdt_registry_free(reg);
    }
    crdt_buf_clear(&b);
    crdt_orset_free(s);
    crdt_orset_free(t);
    crdt_orset_free(u);
}
END_TEST

static void expect_reject(const uint8_t *in, size_t len, int code,
                          const crdt_limits *lim)
{
    crdt_orset *d = mk(NULL);

    add(d, 9, "keep", NULL);
    tu_expect_reject(crdt_orset_type(), d, in, len, lim, code, TU_ANY_OFFSET);
    crdt_orset_free(d);
}

/* A dot under two elements is rejected at the later one, on each path of
 * the decoder's check: a counter within the vector (bitmap), a cloud dot,
 * and an actor whose vector entry is too large for a bitmap (sort). */
START_TEST(test_orset_codec_shared_dot)
{
    /* [1, 8, {5: 1}, [], [["a", [[5,1]]], ["b", [[5,1]]]]] */
    const uint8_t vv[] = {0x95, 0x01, 0x08, 0x81, 0x05, 0x01, 0x90, 0x92,
                          0x92, 0xc4, 0x01, 0x61, 0x91, 0x92, 0x05, 0x01,
                          0x92, 0xc4, 0x01, 0x62, 0x91, 0x92, 0x05, 0x01};
    /* [1, 8, {}, [[5,3]], [["a", [[5,3]]], ["b", [[5,3]]]]] */
    const uint8_t cloud[] = {0x95, 0x01, 0x08, 0x80, 0x91, 0x92, 0x05,
                             0x03, 0x92, 0x92, 0xc4, 0x01, 0x61, 0x91,
                             0x92, 0x05, 0x03, 0x92, 0xc4, 0x01, 0x62,
                             0x91, 0x92, 0x05, 0x03};
    /* [1, 8, {5: 2^40}, [], [["a", [[5,7]]], ["b", [[5,9]]],
     *  ["c", [[5,7]]]]] */
    const uint8_t big[] = {0x95, 0x01, 0x08, 0x81, 0x05, 0xcf, 0x00, 0x00,
                           0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x90, 0x93,
                           0x92, 0xc4, 0x01, 0x61, 0x91, 0x92, 0x05, 0x07,
                           0x92, 0xc4, 0x01, 0x62, 0x91, 0x92, 0x05, 0x09,
                           0x92, 0xc4, 0x01, 0x63, 0x91, 0x92, 0x05, 0x07};
    /* [1, 8, {5: 3, 6: 2}, [], [["a", [[5,1],[6,2]]],
     *  ["b", [[5,3],[6,2]]]]] */
    const uint8_t multi[] = {0x95, 0x01, 0x08, 0x82, 0x05, 0x03, 0x06, 0x02,
                             0x90, 0x92, 0x92, 0xc4, 0x01, 0x61, 0x92, 0x92,
                             0x05, 0x01, 0x92, 0x06, 0x02, 0x92, 0xc4, 0x01,
                             0x62, 0x92, 0x92, 0x05, 0x03, 0x92, 0x06, 0x02};
    /* the same counters under other actors, every path, no dot shared:
     * [1, 8, {5: 2, 6: 1, 7: 2^40}, [[8,5]], [["a", [[5,1],[6,1]]],
     *  ["b", [[5,2],[7,7],[8,5]]], ["c", [[7,9]]]]] */
    const uint8_t ok[] = {0x95, 0x01, 0x08, 0x83, 0x05, 0x02, 0x06, 0x01,
                          0x07, 0xcf, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                          0x00, 0x00, 0x91, 0x92, 0x08, 0x05, 0x93, 0x92,
                          0xc4, 0x01, 0x61, 0x92, 0x92, 0x05, 0x01, 0x92,
                          0x06, 0x01, 0x92, 0xc4, 0x01, 0x62, 0x93, 0x92,
                          0x05, 0x02, 0x92, 0x07, 0x07, 0x92, 0x08, 0x05,
                          0x92, 0xc4, 0x01, 0x63, 0x91, 0x92, 0x07, 0x09};
    crdt_orset *d = mk(NULL), *s = mk(NULL);
    crdt_buf b;

    add(d, 9, "keep", NULL);
    tu_expect_reject(crdt_orset_type(), d, vv, sizeof vv, NULL,
                     CRDT_ERR_DECODE, 21);
    tu_expect_reject(crdt_orset_type(), d, cloud, sizeof cloud, NULL,
                     CRDT_ERR_DECODE, 22);
    tu_expect_reject(crdt_orset_type(), d, big, sizeof big, NULL,
                     CRDT_ERR_DECODE, 37);
    tu_expect_reject(crdt_orset_type(), d, multi, sizeof multi, NULL,
                     CRDT_ERR_DECODE, 29);
    ck_assert_int_eq(crdt_orset_decode(s, ok, sizeof ok, NULL, NULL),
                     CRDT_OK);
    ck_assert_uint_eq(crdt_orset_size(s), 3);
    enc(s, &b);
    ck_assert_uint_eq(b.len, sizeof ok);
    ck_assert_mem_eq(b.data, ok, sizeof ok);
    crdt_buf_clear(&b);
    crdt_orset_free(s);
    crdt_orset_free(d);
}
END_TEST

START_TEST(test_orset_codec_reject)
{
    /* [1, 8, {5: 2}, [], [["b", [[5,1]]], ["a", [[5,2]]]]]: unsorted */
    const uint8_t unsorted[] = {0x95, 0x01, 0x08, 0x81, 0x05, 0x02, 0x90,
                                0x92, 0x92, 0xc4, 0x01, 0x62, 0x91, 0x92,
                                0x05, 0x01, 0x92, 0xc4, 0x01, 0x61, 0x91,
                                0x92, 0x05, 0x02};
    const uint8_t dup[] = {0x95, 0x01, 0x08, 0x81, 0x05, 0x02, 0x90,
                           0x92, 0x92, 0xc4, 0x01, 0x61, 0x91, 0x92,
                           0x05, 0x01, 0x92, 0xc4, 0x01, 0x61, 0x91,
                           0x92, 0x05, 0x02};
    /* dot (5, 3) not in the context */
    const uint8_t notctx[] = {0x95, 0x01, 0x08, 0x81, 0x05, 0x02, 0x90,
                              0x91, 0x92, 0xc4, 0x01, 0x61, 0x91, 0x92,
                              0x05, 0x03};
    /* no dots */
    const uint8_t nodots[] = {0x95, 0x01, 0x08, 0x81, 0x05, 0x02, 0x90,
                              0x91, 0x92, 0xc4, 0x01, 0x61, 0x90};
    /* dots unsorted: [[5,2],[5,1]] */
    const uint8_t dotsort[] = {0x95, 0x01, 0x08, 0x81, 0x05, 0x02, 0x90,
                               0x91, 0x92, 0xc4, 0x01, 0x61, 0x92, 0x92,
                               0x05, 0x02, 0x92, 0x05, 0x01};
    const uint8_t gset[] = {0x93, 0x01, 0x0b, 0x90};
    const uint8_t fewbody[] = {0x94, 0x01, 0x08, 0x80, 0x90};
    const uint8_t ok2[] = {0x95, 0x01, 0x08, 0x81, 0x05, 0x02, 0x90,
                           0x91, 0x92, 0xc4, 0x01, 0x61, 0x92, 0x92,
                           0x05, 0x01, 0x92, 0x05, 0x02};
    crdt_limits lim;
    crdt_orset *s = mk(NULL);
    crdt_buf b;
    size_t n;

    expect_reject(unsorted, sizeof unsorted, CRDT_ERR_DECODE, NULL);
    expect_reject(dup, sizeof dup, CRDT_ERR_DECODE, NULL);
    expect_reject(notctx, sizeof notctx, CRDT_ERR_DECODE, NULL);
    expect_reject(nodots, sizeof nodots, CRDT_ERR_DECODE, NULL);
    expect_reject(dotsort, sizeof dotsort, CRDT_ERR_DECODE, NULL);
    expect_reject(gset, sizeof gset, CRDT_ERR_TYPE, NULL);
    expect_reject(fewbody, sizeof fewbody, CRDT_ERR_DECODE, NULL);
    ck_assert_int_eq(crdt_orset_decode(s, ok2, sizeof ok2, NULL, NULL),
                     CRDT_OK);
    ck_assert(has(s, "a"));
    /* limits */
    add(s, 7, "bb", NULL);
    enc(s, &b);
    crdt_limits_default(&lim);
    lim.max_elements = 1;
    expect_reject(b.data, b.len, CRDT_ERR_LIMIT, &lim);
    crdt_limits_default(&lim);
    lim.max_value_bytes = 1;
    expect_reject(b.data, b.len, CRDT_ERR_LIMIT, &lim);
    /* every truncation, and trailing bytes */
    for (n = 0; n < b.len; n++)
        expect_reject(b.data, n, CRDT_ERR_DECODE, NULL);
    tu_must(crdt_buf_append(&b, "", 1), "append");
    expect_reject(b.data, b.len, CRDT_ERR_DECODE, NULL);
    crdt_buf_clear(&b);
    crdt_orset_free(s);
}
END_TEST

/* ------------------------------------------------------------- property */

#define NELEM 6

static void rand_elem(tu_rng *r, uint8_t *e, size_t *len)
{
    uint64_t k = tu_below(r, NELEM);

    *len = (size_t)(k % 3); /* "", "x", "xx" style, distinct by k */
    memset(e, 'a' + (int)(k / 3), 3);
    *len = 1 + (size_t)(k % 3);
}

/* A random op on s (actor a), its delta joined into d (may be NULL). */
static void rand_op(tu_rng *r, crdt_orset *s, crdt_actor a, crdt_orset *d)
{
    uint8_t e[4];
    size_t len;
    uint64_t k = tu_below(r, 10);

    rand_elem(r, e, &len);
    if (k < 6)
        tu_must(crdt_orset_add(s, a, e, len, d), "add");
    else if (k < 9)
        tu_must(crdt_orset_remove(s, e, len, d), "remove");
    else
        tu_must(crdt_orset_clear(s, d), "clear");
}

/* A random state: a few replicas' random ops, partly merged. */
static crdt_orset *rand_set(tu_rng *r)
{
    crdt_orset *s = mk(NULL), *o = mk(NULL);
    uint64_t n = tu_below(r, 8), i;

    for (i = 0; i < n; i++) {
        if (tu_below(r, 4) == 0)
            tu_must(crdt_orset_merge(s, o), "merge");
        rand_op(r, tu_below(r, 2) ? s : o, 1 + tu_below(r, 3), NULL);
    }
    if (tu_below(r, 2))
        tu_must(crdt_orset_merge(s, o), "merge");
    crdt_orset_free(o);
    return s;
}

static crdt_orset *join(const crdt_orset *a, const crdt_orset *b)
{
    crdt_orset *x = clone(a);

    tu_must(crdt_orset_merge(x, b), "merge");
    return x;
}

static void check_roundtrip(const crdt_orset *a)
{
    crdt_orset *t = mk(NULL);
    crdt_buf b, b2;

    enc(a, &b);
    tu_must(crdt_orset_decode(t, b.data, b.len, NULL, NULL), "decode");
    tu_expect(crdt_orset_equal(a, t), "roundtrip equal");
    enc(t, &b2);
    tu_expect(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0,
           "roundtrip bytes");
    crdt_buf_clear(&b);
    crdt_buf_clear(&b2);
    crdt_orset_free(t);
}

START_TEST(test_orset_property_join_laws)
{
    tu_rng r;
    long i, n = tu_cases(10000);

    tu_rng_init(&r, tu_seed("orset"));
    for (i = 0; i < n; i++) {
        crdt_orset *a = rand_set(&r), *b = rand_set(&r), *c = rand_set(&r);
        crdt_orset *ab = join(a, b), *ba = join(b, a);
        crdt_orset *ab_c = join(ab, c), *bc = join(b, c);
        crdt_orset *a_bc = join(a, bc), *aa = join(a, a);
        crdt_buf x, y;

        tu_expect(crdt_orset_equal(ab, ba), "commutative");
        tu_expect(crdt_orset_equal(ab_c, a_bc), "associative");
        tu_expect(crdt_orset_equal(aa, a), "idempotent");
        enc(ab, &x);
        enc(ba, &y);
        tu_expect(x.len == y.len && memcmp(x.data, y.data, x.len) == 0,
               "canonical");
        crdt_buf_clear(&x);
        crdt_buf_clear(&y);
        check_roundtrip(ab_c);
        crdt_orset_free(a);
        crdt_orset_free(b);
        crdt_orset_free(c);
        crdt_orset_free(ab);
        crdt_orset_free(ba);
        crdt_orset_free(ab_c);
        crdt_orset_free(bc);
        crdt_orset_free(a_bc);
        crdt_orset_free(aa);
    }
}
END_TEST

START_TEST(test_orset_property_delta)
{
    tu_rng r;
    long i, n = tu_cases(10000);

    tu_rng_init(&r, tu_seed("orset"));
    for (i = 0; i < n; i++) {
        crdt_orset *s = rand_set(&r), *pre = clone(s), *d = mk(NULL);
        crdt_orset *other = rand_set(&r), *x;
        uint64_t k, m = 1 + tu_below(&r, 4);

        for (k = 0; k < m; k++)
            rand_op(&r, s, 1 + tu_below(&r, 3), d);
        /* delta == mutation, on pre and on any replica that saw pre */
        x = join(pre, d);
        tu_expect(crdt_orset_equal(x, s), "delta == mutation");
        crdt_orset_free(x);
        x = join(other, pre);
        tu_must(crdt_orset_merge(x, d), "merge");
        {
            crdt_orset *y = join(other, s);

            tu_expect(crdt_orset_equal(x, y), "delta on a later replica");
            crdt_orset_free(y);
        }
        check_roundtrip(d);
        crdt_orset_free(x);
        crdt_orset_free(s);
        crdt_orset_free(pre);
        crdt_orset_free(d);
        crdt_orset_free(other);
    }
}
END_TEST

/*
 * Conflicting elements: replicas that share actor ids add from the same
 * states, so that one dot names different elements on different
 * replicas, then exchange states and deltas.  On triples of the states
 * and deltas: the join laws with identical bytes both ways, results that
 * decode (no dot under two elements), and each pair's merge against a
 * model, dot by dot: a dot both sides hold under one element stays; under
 * two elements it goes; a dot one side holds stays unless the other side
 * has seen it.
 */
typedef struct delem {
    crdt_dot d;
    const uint8_t *p;
    size_t n;
} delem;

static int delem_cmp(const void *x, const void *y)
{
    const crdt_dot *a = &((const delem *)x)->d, *b = &((const delem *)y)->d;

    if (a->actor != b->actor)
        return a->actor < b->actor ? -1 : 1;
    return (a->counter > b->counter) - (a->counter < b->counter);
}

/* Every (dot, element) of s, sorted by dot, in *out (malloc'd). */
static size_t dot_elems(const crdt_orset *s, delem **out)
{
    size_t i, k, nd, n = 0, cap = 16;
    delem *v = malloc(cap * sizeof *v);
    const uint8_t *p;
    size_t len;

    tu_expect(v != NULL, "malloc");
    for (i = 0; crdt_orset_elem(s, i, &p, &len, &nd) == CRDT_OK; i++) {
        for (k = 0; k < nd; k++) {
            if (n == cap) {
                cap *= 2;
                v = realloc(v, cap * sizeof *v);
                tu_expect(v != NULL, "realloc");
            }
            tu_must(crdt_orset_elem_dot(s, i, k, &v[n].d), "elem_dot");
            v[n].p = p;
            v[n++].n = len;
        }
    }
    qsort(v, n, sizeof *v, delem_cmp);
    *out = v;
    return n;
}

static const delem *delem_find(const delem *v, size_t n, crdt_dot d)
{
    delem key;

    key.d = d;
    return n ? bsearch(&key, v, n, sizeof *v, delem_cmp) : NULL;
}

static bool delem_same(const delem *x, const delem *y)
{
    return x->n == y->n && (x->n == 0 || memcmp(x->p, y->p, x->n) == 0);
}

/* ab = a + b against the model; returns the dots a and b hold under
 * different elements. */
static int os_pair_model(const crdt_orset *a, const crdt_orset *b,
                         const crdt_orset *ab, long k)
{
    const crdt_orset *side[2] = {a, b};
    delem *v[3];
    size_t n[3], i, want = 0;
    int s, conflicts = 0;

    n[0] = dot_elems(a, &v[0]);
    n[1] = dot_elems(b, &v[1]);
    n[2] = dot_elems(ab, &v[2]);
    for (s = 0; s < 2; s++) {
        for (i = 0; i < n[s]; i++) {
            const delem *x = &v[s][i], *y = delem_find(v[1 - s], n[1 - s],
                                                       x->d);
            const delem *z = delem_find(v[2], n[2], x->d);
            bool stays;

            tu_expect_k(crdt_orset_context_contains(ab, x->d),
                        "context lost a dot", k);
            if (y && s == 1)
                continue; /* judged from a's side */
            if (y) {
                stays = delem_same(x, y);
                conflicts += !stays;
            } else {
                stays = !crdt_orset_context_contains(side[1 - s], x->d);
            }
            if (stays) {
                want++;
                tu_expect_k(z && delem_same(x, z), "a dot lost or moved",
                            k);
            } else {
                tu_expect_k(!z, "a dot the model drops", k);
            }
        }
    }
    tu_expect_k(n[2] == want, "dots the model does not have", k);
    for (s = 0; s < 3; s++)
        free(v[s]);
    return conflicts;
}

static void same_enc(const crdt_orset *a, const crdt_orset *b, long k)
{
    crdt_buf x, y;

    enc(a, &x);
    enc(b, &y);
    tu_expect_k(x.len == y.len && memcmp(x.data, y.data, x.len) == 0,
                "equal states, different bytes", k);
    crdt_buf_clear(&x);
    crdt_buf_clear(&y);
}

/* The join laws on a, b, c with bytes, round trips, the pair model. */
static int os_conflict_laws(const crdt_orset *a, const crdt_orset *b,
                            const crdt_orset *c, long k)
{
    crdt_orset *ab = join(a, b), *ba = join(b, a);
    crdt_orset *ab_c = join(ab, c), *bc = join(b, c);
    crdt_orset *a_bc = join(a, bc), *aa = join(a, a), *abb = join(ab, b);
    int conflicts;

    tu_expect_k(crdt_orset_equal(ab, ba), "not commutative", k);
    same_enc(ab, ba, k);
    tu_expect_k(crdt_orset_equal(ab_c, a_bc), "not associative", k);
    same_enc(ab_c, a_bc, k);
    tu_expect_k(crdt_orset_equal(aa, a), "not idempotent", k);
    tu_expect_k(crdt_orset_equal(abb, ab), "not absorbing", k);
    check_roundtrip(ab);
    check_roundtrip(ab_c);
    conflicts = os_pair_model(a, b, ab, k);
    crdt_orset_free(ab);
    crdt_orset_free(ba);
    crdt_orset_free(ab_c);
    crdt_orset_free(bc);
    crdt_orset_free(a_bc);
    crdt_orset_free(aa);
    crdt_orset_free(abb);
    return conflicts;
}

START_TEST(test_orset_property_conflicts)
{
    tu_rng r;
    long n = tu_cases(10000), k, with_conflicts = 0, conflicts = 0;

    tu_rng_init(&r, tu_seed("orset") ^ 0x5);
    for (k = 0; k < n; k++) {
        crdt_orset *base = rand_set(&r), *rep[5], *log[16];
        int nrep = 3 + (int)tu_below(&r, 3), nlog = 0, i, j, step;
        int nops = 4 + (int)tu_below(&r, 20), c = 0;

        for (i = 0; i < nrep; i++)
            rep[i] = clone(base);
        for (step = 0; step < nops; step++) {
            uint64_t op = tu_below(&r, 10);

            j = (int)tu_below(&r, (uint64_t)nrep);
            if (op < 6) {
                /* an op by one of two actors every replica uses */
                crdt_orset *d = nlog < 16 ? mk(NULL) : NULL;

                rand_op(&r, rep[j], 1 + tu_below(&r, 2), d);
                if (d)
                    log[nlog++] = d;
            } else if (op < 8 || nlog == 0) {
                i = (int)tu_below(&r, (uint64_t)nrep);
                tu_must_k(crdt_orset_merge(rep[j], rep[i]), "merge", k);
            } else {
                i = (int)tu_below(&r, (uint64_t)nlog);
                tu_must_k(crdt_orset_merge(rep[j], log[i]), "merge delta",
                          k);
            }
        }
        c += os_conflict_laws(rep[0], rep[1], rep[2], k);
        c += os_conflict_laws(rep[nrep - 1], rep[0], base, k);
        if (nlog >= 2)
            c += os_conflict_laws(log[0], log[nlog - 1], rep[1], k);
        if (nlog >= 1)
            c += os_conflict_laws(rep[2], log[tu_below(&r, (uint64_t)nlog)],
                                  rep[0], k);
        conflicts += c;
        with_conflicts += c > 0;
        for (i = 0; i < nrep; i++)
            crdt_orset_free(rep[i]);
        for (i = 0; i < nlog; i++)
            crdt_orset_free(log[i]);
        crdt_orset_free(base);
    }
    fprintf(stderr,
            "orset: %ld conflict cases, %ld with a dot under two elements "
            "(%ld such dots)\n",
            n, with_conflicts, conflicts);
    if (n >= 100)
        tu_expect(with_conflicts > n / 4, "too few conflicting cases");
}
END_TEST

/* ------------------------------------------------------------- conflict */

/*
 * One dot, two elements: replicas that add with the same actor from the
 * same state (an actor id reused) give one dot to different elements.
 * Each side has seen the dot (it is in its context) and does not hold it
 * under the other's element, so the join treats each add as removed by
 * the other side: the dot goes from both elements (an element left
 * without a dot disappears) and stays in the context.  The same bytes in
 * both orders, and a state that decodes: no dot under two elements.
 */

/* a + b and b + a: equal, the same bytes, decodable; returns a + b. */
static crdt_orset *join_both_ways(const crdt_orset *a, const crdt_orset *b)
{
    crdt_orset *ab = clone(a), *ba = clone(b);
    crdt_buf x, y;

    tu_must(crdt_orset_merge(ab, b), "merge");
    tu_must(crdt_orset_merge(ba, a), "merge");
    ck_assert(crdt_orset_equal(ab, ba));
    enc(ab, &x);
    enc(ba, &y);
    ck_assert_uint_eq(x.len, y.len);
    ck_assert_mem_eq(x.data, y.data, x.len);
    crdt_buf_clear(&x);
    crdt_buf_clear(&y);
    check_roundtrip(ab);
    crdt_orset_free(ba);
    return ab;
}

static const char long_p[] = "p, an element longer than eight bytes";
static const char long_q[] = "q, an element longer than eight bytes";

START_TEST(test_orset_conflict_elements)
{
    static const char *const pairs[][2] = {
        {"p", "q"}, {"", "q"}, {long_p, "q"}, {long_p, long_q}};
    size_t i;

    for (i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        crdt_orset *s = mk(NULL), *a, *b, *c, *ab, *cb;
        const crdt_dot d = {1, 2};

        add(s, 1, "x", NULL); /* (1, 1) */
        a = clone(s);
        b = clone(s);
        add(a, 1, pairs[i][0], NULL); /* both (1, 2) */
        add(b, 1, pairs[i][1], NULL);
        ab = join_both_ways(a, b);
        ck_assert_uint_eq(crdt_orset_size(ab), 1);
        ck_assert(has(ab, "x"));
        ck_assert(crdt_orset_context_contains(ab, d));
        /* the dropped dot stays dropped: merging either side again
         * changes nothing */
        tu_must(crdt_orset_merge(ab, a), "merge");
        tu_must(crdt_orset_merge(ab, b), "merge");
        ck_assert_uint_eq(crdt_orset_size(ab), 1);
        /* an element with another dot keeps that one: a's element also
         * added concurrently by actor 2 */
        c = clone(s);
        add(c, 2, pairs[i][0], NULL); /* (2, 1) */
        tu_must(crdt_orset_merge(c, a), "merge"); /* (1, 2) and (2, 1) */
        ck_assert_uint_eq(ndots_of(c, pairs[i][0]), 2);
        cb = join_both_ways(c, b);
        ck_assert_uint_eq(ndots_of(cb, pairs[i][0]), 1);
        ck_assert(!has(cb, pairs[i][1]));
        ck_assert_uint_eq(crdt_orset_size(cb), 2);
        crdt_orset_free(s);
        crdt_orset_free(a);
        crdt_orset_free(b);
        crdt_orset_free(c);
        crdt_orset_free(ab);
        crdt_orset_free(cb);
    }
}
END_TEST

/* Three elements under one dot, in every order; and the deltas of two
 * conflicting adds, each into the other replica. */
START_TEST(test_orset_conflict_three)
{
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    static const char *const elems[3] = {"p", "q", "r"};
    crdt_orset *r[3], *first = NULL, *da = mk(NULL), *db = mk(NULL);
    crdt_orset *a, *b;
    crdt_buf x, y;
    int o, k;

    for (k = 0; k < 3; k++) {
        r[k] = mk(NULL);
        add(r[k], 7, elems[k], NULL);
    }
    for (o = 0; o < 6; o++) {
        crdt_orset *acc = join(r[orders[o][0]], r[orders[o][1]]);
        crdt_orset *bc = join(r[orders[o][1]], r[orders[o][2]]);
        crdt_orset *right = join(r[orders[o][0]], bc);

        tu_must(crdt_orset_merge(acc, r[orders[o][2]]), "merge");
        ck_assert(crdt_orset_equal(acc, right));
        ck_assert_uint_eq(crdt_orset_size(acc), 0);
        ck_assert(crdt_orset_context_contains(acc, (crdt_dot){7, 1}));
        if (!first) {
            first = acc;
        } else {
            enc(acc, &x);
            enc(first, &y);
            ck_assert_uint_eq(x.len, y.len);
            ck_assert_mem_eq(x.data, y.data, x.len);
            crdt_buf_clear(&x);
            crdt_buf_clear(&y);
            crdt_orset_free(acc);
        }
        crdt_orset_free(bc);
        crdt_orset_free(right);
    }
    a = mk(NULL);
    b = mk(NULL);
    add(a, 1, "p", da);
    add(b, 1, "q", db);
    tu_must(crdt_orset_merge(a, db), "merge");
    tu_must(crdt_orset_merge(b, da), "merge");
    ck_assert(crdt_orset_equal(a, b));
    ck_assert_uint_eq(crdt_orset_size(a), 0);
    for (k = 0; k < 3; k++)
        crdt_orset_free(r[k]);
    crdt_orset_free(first);
    crdt_orset_free(a);
    crdt_orset_free(b);
    crdt_orset_free(da);
    crdt_orset_free(db);
}
END_TEST

/* -------------------------------------------------------------- replica */

/* Reference model: ops are numbered; each has a causal past (a bitset of
 * ops).  Replica knowledge grows with its own ops, with full states
 * (union) and with deltas (the op and the ops on the same element in its
 * past).  An add survives iff no op on its element has it in its past. */
#define MAXOPS 128
#define NREP_MAX 5

typedef struct mop {
    int elem; /* 0..NELEM-1 */
    bool is_add;
    uint64_t past[MAXOPS / 64];
} mop;

static void bs_or(uint64_t *a, const uint64_t *b)
{
    int k;

    for (k = 0; k < MAXOPS / 64; k++)
        a[k] |= b[k];
}

static bool bs_has(const uint64_t *a, int i)
{
    return a[i / 64] >> (i % 64) & 1;
}

START_TEST(test_orset_replica_converge)
{
    tu_rng r;
    long run, runs = tu_cases(10000) / 20 + 1;

    tu_rng_init(&r, tu_seed("orset"));
    for (run = 0; run < runs; run++) {
        int nrep = 3 + (int)tu_below(&r, 3), nops = 0, i, j, e, step;
        crdt_orset *rep[NREP_MAX], *delta[MAXOPS];
        uint64_t know[NREP_MAX][MAXOPS / 64];
        mop ops[MAXOPS];
        int nsteps = 20 + (int)tu_below(&r, 80);

        memset(know, 0, sizeof know);
        for (i = 0; i < nrep; i++)
            rep[i] = mk(NULL);
        for (step = 0; step < nsteps; step++) {
            uint64_t k = tu_below(&r, 10);

            i = (int)tu_below(&r, (uint64_t)nrep);
            if (k < 5 && nops < MAXOPS) {
                uint8_t eb[4];
                size_t len;
                bool is_add = tu_below(&r, 3) != 0;
                mop *o = &ops[nops];

                e = (int)tu_below(&r, NELEM);
                memset(eb, 'a' + e, sizeof eb);
                len = 1 + (size_t)e % 3;
                delta[nops] = mk(NULL);
                if (is_add)
                    tu_must(crdt_orset_add(rep[i], (crdt_actor)(i + 1), eb, len,
                                        delta[nops]), "add");
                else
                    tu_must(crdt_orset_remove(rep[i], eb, len, delta[nops]),
                         "rm");
                o->elem = e;
                o->is_add = is_add;
                memcpy(o->past, know[i], sizeof o->past);
                know[i][nops / 64] |= (uint64_t)1 << (nops % 64);
                nops++;
            } else if (k < 8 && nops > 0) {
                int o = (int)tu_below(&r, (uint64_t)nops), q;

                tu_must(crdt_orset_merge(rep[i], delta[o]), "merge delta");
                know[i][o / 64] |= (uint64_t)1 << (o % 64);
                for (q = 0; q < o; q++)
                    if (ops[q].elem == ops[o].elem && bs_has(ops[o].past, q))
                        know[i][q / 64] |= (uint64_t)1 << (q % 64);
            } else {
                j = (int)tu_below(&r, (uint64_t)nrep);
                tu_must(crdt_orset_merge(rep[i], rep[j]), "merge state");
                bs_or(know[i], know[j]);
            }
        }
        /* deliver every delta everywhere, in random order, twice */
        for (i = 0; i < nrep; i++) {
            int t;

            for (t = 0; t < 2 * nops; t++)
                tu_must(crdt_orset_merge(rep[i],
                                      delta[tu_below(&r, (uint64_t)nops)]),
                     "merge delta");
            for (t = 0; t < nops; t++)
                tu_must(crdt_orset_merge(rep[i], delta[t]), "merge delta");
        }
        for (i = 1; i < nrep; i++)
            tu_expect(crdt_orset_equal(rep[0], rep[i]), "converged");
        for (e = 0; e < NELEM; e++) {
            uint8_t eb[4];
            bool present = false;
            int a, q;

            memset(eb, 'a' + e, sizeof eb);
            for (a = 0; a < nops && !present; a++) {
                bool covered = false;

                if (!ops[a].is_add || ops[a].elem != e)
                    continue;
                for (q = 0; q < nops && !covered; q++)
                    covered = ops[q].elem == e && bs_has(ops[q].past, a);
                present = !covered;
            }
            tu_expect(crdt_orset_contains(rep[0], eb, 1 + (size_t)e % 3) ==
                       present,
                   "model");
        }
        for (i = 0; i < nrep; i++)
            crdt_orset_free(rep[i]);
        for (i = 0; i < nops; i++)
            crdt_orset_free(delta[i]);
    }
}
END_TEST

/* ---------------------------------------------------------------- store */

/* Candidate elements of the store tests: lengths around the inline limit
 * of the element store (8 bytes) and long ones in the arena.  Variants v
 * even are v followed by zero bytes, so "v", "v\0", "v\0\0"... differ
 * only by their length (the inline form is zero-padded). */
static const size_t cand_lens[] = {0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 33, 900};
#define NLENS (sizeof cand_lens / sizeof cand_lens[0])
#define NCAND ((int)NLENS * 8)

static void cand(int k, uint8_t *e, size_t *len)
{
    int v = k / (int)NLENS;
    size_t j;

    *len = cand_lens[k % (int)NLENS];
    for (j = 0; j < *len; j++)
        e[j] = v % 2 == 0 ? (j == 0 ? (uint8_t)v : 0) : (uint8_t)(v * 7 + j);
}

/* The empty element has one candidate, 0. */
static int rand_cand(tu_rng *r)
{
    int k = (int)tu_below(r, NCAND);

    return k % (int)NLENS == 0 ? 0 : k;
}

static void check_model(const crdt_orset *s, const bool *in, long step)
{
    uint8_t e[900];
    size_t len, n = 0, i, nd;
    const uint8_t *p;
    int k;

    for (k = 0; k < NCAND; k++) {
        if (k % (int)NLENS == 0 && k != 0)
            continue;
        cand(k, e, &len);
        tu_expect_k(crdt_orset_contains(s, e, len) == in[k], "contains",
                    step);
        n += in[k];
    }
    tu_expect_k(crdt_orset_size(s) == n, "size", step);
    for (i = 0; i < crdt_orset_size(s); i++) {
        tu_must_k(crdt_orset_elem(s, i, &p, &len, &nd), "elem", step);
        tu_expect_k(nd >= 1 && crdt_orset_contains(s, p, len), "elem",
                    step);
    }
}

/* One random add or remove on s (by one of actors a0..a0+3) and its
 * model; with a delta (checked against a clone of the state before)
 * every few ops. */
static void store_op(tu_rng *r, crdt_orset *s, crdt_actor a0, bool *in,
                     bool *touched, long step)
{
    uint8_t e[900];
    size_t len;
    int k = rand_cand(r);
    bool is_add = tu_below(r, 2) == 0;
    crdt_orset *pre = NULL, *d = NULL;

    cand(k, e, &len);
    if (tu_below(r, 8) == 0) {
        pre = clone(s);
        d = mk(NULL);
    }
    if (is_add)
        tu_must_k(crdt_orset_add(s, a0 + tu_below(r, 4), e, len, d), "add",
                  step);
    else
        tu_must_k(crdt_orset_remove(s, e, len, d), "remove", step);
    in[k] = is_add;
    if (touched)
        touched[k] = true;
    if (d) {
        tu_must_k(crdt_orset_merge(pre, d), "merge delta", step);
        tu_expect_k(crdt_orset_equal(pre, s), "delta == mutation", step);
        crdt_orset_free(pre);
        crdt_orset_free(d);
    }
}

/* Random adds and removes of short (inline) and long elements, forks
 * merged back (concurrent adds give elements several dots), copies and
 * codec round trips, against a model of which elements are present. */
START_TEST(test_orset_store_model)
{
    tu_rng r;
    long step, n = tu_cases(10000);
    bool in[NCAND] = {false};
    crdt_orset *s = mk(NULL);

    tu_rng_init(&r, tu_seed("orset"));
    for (step = 0; step < n; step++) {
        uint64_t k = tu_below(&r, 100);

        if (k < 90) {
            store_op(&r, s, 1, in, NULL, step);
        } else if (k < 97) {
            /* fork, ops on both sides, merge: an element touched on a
             * side ends as that side left it (a remove drops what the
             * other side had at the fork, an add's new dot survives) */
            crdt_orset *c = clone(s), *c2;
            bool ins[NCAND], inc[NCAND], ts[NCAND] = {false},
                 tc[NCAND] = {false};
            uint64_t m = tu_below(&r, 12), j;
            int q;

            memcpy(ins, in, sizeof in);
            memcpy(inc, in, sizeof in);
            for (j = 0; j < m; j++) {
                if (tu_below(&r, 2))
                    store_op(&r, s, 1, ins, ts, step);
                else
                    store_op(&r, c, 5, inc, tc, step); /* own actors */
            }
            c2 = clone(c);
            tu_must_k(crdt_orset_merge(c2, s), "merge", step);
            tu_must_k(crdt_orset_merge(s, c), "merge", step);
            tu_expect_k(crdt_orset_equal(s, c2), "commutative", step);
            for (q = 0; q < NCAND; q++)
                if (ts[q] || tc[q])
                    in[q] = (ts[q] && ins[q]) || (tc[q] && inc[q]);
            crdt_orset_free(c);
            crdt_orset_free(c2);
        } else if (k < 98) {
            crdt_orset *c = mk(NULL);

            tu_must_k(crdt_orset_copy(c, s), "copy", step);
            tu_expect_k(crdt_orset_equal(c, s), "copy", step);
            crdt_orset_free(s);
            s = c;
        } else if (k < 99) {
            crdt_orset *c = mk(NULL);
            crdt_buf b;

            enc(s, &b);
            tu_must_k(crdt_orset_decode(c, b.data, b.len, NULL, NULL),
                      "decode", step);
            tu_expect_k(crdt_orset_equal(c, s), "roundtrip", step);
            crdt_buf_clear(&b);
            crdt_orset_free(s);
            s = c;
        } else if (tu_below(&r, 4) == 0) {
            tu_must_k(crdt_orset_clear(s, NULL), "clear", step);
            memset(in, 0, sizeof in);
        }
        check_model(s, in, step);
    }
    crdt_orset_free(s);
}
END_TEST

/* ---------------------------------------------------------------- nomem */

enum {
    OP_ADD,
    OP_ADD_NEW_DELTA,
    OP_ADD_GROUP,
    OP_REMOVE_DELTA,
    OP_REMOVE_MULTI_DELTA,
    OP_REMOVE_MULTI,
    OP_CLEAR_DELTA,
    OP_MERGE,
    OP_MERGE_INTO_NEW,
    OP_COPY,
    OP_CLONE,
    OP_ENCODE,
    OP_DECODE,
    N_OPS
};

static void nomem_setup(tu_nomem *c)
{
    crdt_orset *a = mk(&c->tm->mem), *src = mk(NULL);
    uint64_t i, x;

    c->a = a;
    c->d = mk(&c->tm->mem);
    c->src = src;
    for (i = 0; i < 20; i++) {
        x = i;
        tu_must(crdt_orset_add(a, 1 + i % 3, &x, 8, NULL), "add");
        x = i + 10;
        tu_must(crdt_orset_add(src, 4 + i % 2, &x, 8, NULL), "add");
    }
    x = 3;
    tu_must(crdt_orset_add(src, 9, &x, 8, NULL), "add"); /* 2 dots */
    if (c->op == OP_ADD_GROUP) {
        x = 5;
        tu_must(crdt_orset_add(a, 7, &x, 8, c->d), "add");
    }
    if (c->op == OP_REMOVE_MULTI_DELTA || c->op == OP_REMOVE_MULTI)
        tu_must(crdt_orset_merge(a, src), "merge"); /* 3: 2 dots */
    enc(a, &c->enc);
}

static int nomem_call(tu_nomem *c)
{
    crdt_orset *a = c->a, *d = c->d;
    uint64_t x = 1000;

    switch (c->op) {
    case OP_ADD:
        return crdt_orset_add(a, 2, &x, 8, NULL);
    case OP_ADD_NEW_DELTA:
        return crdt_orset_add(a, 12, &x, 8, d);
    case OP_ADD_GROUP:
        x = 5;
        return crdt_orset_add(a, 2, &x, 8, d);
    case OP_REMOVE_DELTA:
        x = 4;
        return crdt_orset_remove(a, &x, 8, d);
    case OP_REMOVE_MULTI_DELTA:
        x = 3;
        return crdt_orset_remove(a, &x, 8, d);
    case OP_REMOVE_MULTI:
        x = 3;
        return crdt_orset_remove(a, &x, 8, NULL);
    case OP_CLEAR_DELTA:
        return crdt_orset_clear(a, d);
    case OP_MERGE:
        return crdt_orset_merge(a, c->src);
    case OP_MERGE_INTO_NEW:
        return crdt_orset_merge(d, c->src);
    case OP_COPY:
        return crdt_orset_copy(d, c->src);
    case OP_CLONE:
        return tu_nomem_made(c, crdt_orset_clone(a));
    case OP_ENCODE:
        return crdt_orset_encode(a, &c->out);
    case OP_DECODE:
        return crdt_orset_decode(d, c->enc.data, c->enc.len, NULL, NULL);
    }
    return CRDT_ERR_INVALID_ARG;
}

static void nomem_succeeded(tu_nomem *c)
{
    if (c->op == OP_DECODE)
        ck_assert(crdt_orset_equal(c->d, c->a0));
}

START_TEST(test_orset_nomem_all)
{
    const tu_nomem_ops ops = {
        .type = crdt_orset_type(),
        .nops = N_OPS,
        .max_n = 10000,
        .setup = nomem_setup,
        .call = nomem_call,
        .succeeded = nomem_succeeded,
    };

    tu_nomem_run(&ops);
}
END_TEST

/* ------------------------------------------------------------- keying */

/* Sets hash under the zero key up to 32 elements (ES_KEY_AT) and draw a
 * random key past it: through add (with and without a delta), merge
 * (every key combination), remove afterwards and decode.  Elements: a
 * third inline (<= 8 bytes), the rest in the arena. */
static size_t oel(unsigned k, char *b)
{
    return (size_t)(k % 3 == 0 ? snprintf(b, 32, "k%u", k)
                               : snprintf(b, 32, "a-long-element-%u", k));
}

static void okeying_check(const crdt_orset *s, unsigned lo, unsigned hi,
                          unsigned step)
{
    crdt_orset *t = mk(NULL);
    crdt_buf b, b2;
    char x[32];
    unsigned k, n = 0;

    for (k = lo; k < hi; k++) {
        bool in = (k - lo) % step == 0;

        ck_assert(crdt_orset_contains(s, x, oel(k, x)) == in);
        n += in;
    }
    ck_assert_uint_eq(crdt_orset_size(s), n);
    ck_assert(!crdt_orset_contains(s, x, oel(hi, x)));
    enc(s, &b);
    tu_must(crdt_orset_decode(t, b.data, b.len, NULL, NULL), "decode");
    ck_assert(crdt_orset_equal(s, t));
    for (k = lo; k < hi; k += step)
        ck_assert(crdt_orset_contains(t, x, oel(k, x)));
    enc(t, &b2);
    ck_assert_uint_eq(b.len, b2.len);
    ck_assert(memcmp(b.data, b2.data, b.len) == 0);
    crdt_buf_clear(&b);
    crdt_buf_clear(&b2);
    crdt_orset_free(t);
}

static crdt_orset *orange(crdt_actor a, unsigned lo, unsigned hi)
{
    crdt_orset *s = mk(NULL);
    char x[32];
    unsigned k;

    for (k = lo; k < hi; k++)
        tu_must(crdt_orset_add(s, a, x, oel(k, x), NULL), "add");
    return s;
}

START_TEST(test_orset_keying)
{
    static const unsigned sizes[] = {31, 32, 33, 34, 64, 65, 200};
    char x[32];
    size_t i, j;
    unsigned k;

    for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned n = sizes[i];
        crdt_orset *s = mk(NULL), *d = mk(NULL), *r = mk(NULL);
        crdt_orset *u = mk(NULL), *big;

        for (k = 0; k < n; k++) {
            crdt_orset *d1 = mk(NULL);

            /* s: one delta growing past the threshold; u: no delta */
            tu_must(crdt_orset_add(s, 1, x, oel(k, x), d), "add");
            tu_must(crdt_orset_add(u, 2, x, oel(k, x), NULL), "add");
            tu_must(crdt_orset_add(s, 1, x, oel(k, x), d1), "re-add");
            tu_must(crdt_orset_merge(r, d1), "merge delta");
            crdt_orset_free(d1);
            ck_assert(crdt_orset_contains(s, x, oel(k, x)));
            ck_assert(crdt_orset_contains(u, x, oel(k, x)));
        }
        okeying_check(s, 0, n, 1);
        okeying_check(d, 0, n, 1);
        okeying_check(r, 0, n, 1);
        okeying_check(u, 0, n, 1);
        tu_must(crdt_orset_merge(r, d), "merge big delta");
        ck_assert(crdt_orset_equal(r, s));
        /* removes after the rekey, with and without a delta */
        for (k = 1; k < n; k += 2) {
            crdt_orset *d1 = mk(NULL);

            tu_must(crdt_orset_remove(s, x, oel(k, x), d1), "rm");
            tu_must(crdt_orset_remove(u, x, oel(k, x), NULL), "rm");
            tu_must(crdt_orset_merge(r, d1), "merge rm delta");
            crdt_orset_free(d1);
        }
        okeying_check(s, 0, n, 2);
        okeying_check(u, 0, n, 2);
        okeying_check(r, 0, n, 2);
        /* merges across the threshold, every key combination */
        for (j = 0; j < sizeof sizes / sizeof *sizes; j++) {
            unsigned m = sizes[j];
            crdt_orset *a = orange(3, 0, n), *b = orange(4, n / 2, n / 2 + m);
            crdt_orset *c = orange(4, n / 2, n / 2 + m), *e = orange(3, 0, n);
            unsigned hi = n / 2 + m > n ? n / 2 + m : n;

            tu_must(crdt_orset_merge(a, b), "merge a b");
            okeying_check(a, 0, hi, 1);
            tu_must(crdt_orset_merge(c, e), "merge b a");
            okeying_check(c, 0, hi, 1);
            ck_assert(crdt_orset_equal(a, c));
            crdt_orset_free(a);
            crdt_orset_free(b);
            crdt_orset_free(c);
            crdt_orset_free(e);
        }
        /* a small unkeyed set into a keyed big one and back */
        big = orange(5, 0, 200);
        {
            crdt_orset *sm = orange(6, 190, 210), *sm2 = orange(6, 190, 210);

            tu_must(crdt_orset_merge(big, sm), "big <- small");
            okeying_check(big, 0, 210, 1);
            tu_must(crdt_orset_merge(sm2, big), "small <- big");
            okeying_check(sm2, 0, 210, 1);
            ck_assert(crdt_orset_equal(big, sm2));
            crdt_orset_free(sm);
            crdt_orset_free(sm2);
        }
        /* decode into an unkeyed and into a keyed set */
        {
            crdt_buf b;
            crdt_orset *t = mk(NULL), *t2 = orange(7, 0, n);

            enc(t2, &b);
            tu_must(crdt_orset_decode(t, b.data, b.len, NULL, NULL), "dec");
            okeying_check(t, 0, n, 1);
            tu_must(crdt_orset_decode(big, b.data, b.len, NULL, NULL),
                    "dec keyed");
            okeying_check(big, 0, n, 1);
            tu_must(crdt_orset_add(t, 7, x, oel(n, x), NULL), "add after");
            okeying_check(t, 0, n + 1, 1);
            crdt_buf_clear(&b);
            crdt_orset_free(t);
            crdt_orset_free(t2);
        }
        crdt_orset_free(big);
        crdt_orset_free(s);
        crdt_orset_free(d);
        crdt_orset_free(r);
        crdt_orset_free(u);
    }
}
END_TEST

/* Allocation failures across the rekeying insertion: a and d hold
 * exactly 32 elements (unkeyed), each call takes one past it. */
static void nomem_key_setup(tu_nomem *c)
{
    crdt_orset *a = mk(&c->tm->mem), *d = mk(&c->tm->mem);
    crdt_orset *src = orange(2, 16, 48), *big = orange(3, 50, 90);
    char x[32];
    unsigned k;

    c->a = a;
    c->d = d;
    c->src = src;
    for (k = 0; k < 32; k++) {
        tu_must(crdt_orset_add(a, 1, x, oel(k, x), NULL), "add");
        tu_must(crdt_orset_add(d, 1, x, oel(k + 100, x), NULL), "add");
    }
    enc(big, &c->enc);
    crdt_orset_free(big);
}

static int nomem_key_call(tu_nomem *c)
{
    char x[32];

    switch (c->op) {
    case 0: /* both a and the delta cross */
        return crdt_orset_add(c->a, 1, x, oel(40, x), c->d);
    case 1: /* without a delta */
        return crdt_orset_add(c->a, 1, x, oel(41, x), NULL);
    case 2: /* unkeyed into unkeyed, 16 new */
        return crdt_orset_merge(c->a, c->src);
    case 3: /* decode of 40 into an unkeyed set */
        return crdt_orset_decode(c->d, c->enc.data, c->enc.len, NULL, NULL);
    }
    return CRDT_ERR_INVALID_ARG;
}

static void nomem_key_succeeded(tu_nomem *c)
{
    char x[32];
    unsigned k;

    switch (c->op) {
    case 0:
    case 1:
        for (k = 0; k < 32; k++)
            ck_assert(crdt_orset_contains(c->a, x, oel(k, x)));
        ck_assert(crdt_orset_contains(c->a, x, oel(40 + c->op, x)));
        ck_assert_uint_eq(crdt_orset_size(c->a), 33);
        if (c->op == 0) {
            ck_assert(crdt_orset_contains(c->d, x, oel(40, x)));
            ck_assert_uint_eq(crdt_orset_size(c->d), 33);
        }
        break;
    case 2:
        okeying_check(c->a, 0, 48, 1);
        break;
    case 3:
        okeying_check(c->d, 50, 90, 1);
        break;
    }
}

START_TEST(test_orset_nomem_keying)
{
    const tu_nomem_ops ops = {
        .type = crdt_orset_type(),
        .nops = 4,
        .max_n = 10000,
        .setup = nomem_key_setup,
        .call = nomem_key_call,
        .succeeded = nomem_key_succeeded,
    };

    tu_nomem_run(&ops);
}
END_TEST

static Suite *orset_suite(void)
{
    Suite *s = suite_create("orset");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_orset_basic_ops);
    tcase_add_test(tc, test_orset_basic_add_wins);
    tcase_add_test(tc, test_orset_basic_delta);
    tcase_add_test(tc, test_orset_basic_copy_big);
    tcase_add_test(tc, test_orset_basic_remove_multidot);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_test(tc, test_orset_merge_cases);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_orset_codec_bytes);
    tcase_add_test(tc, test_orset_codec_reject);
    tcase_add_test(tc, test_orset_codec_shared_dot);
    suite_add_tcase(s, tc);
    tc = tcase_create("keying");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_orset_keying);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_orset_property_join_laws);
    tcase_add_test(tc, test_orset_property_delta);
    tcase_add_test(tc, test_orset_property_conflicts);
    suite_add_tcase(s, tc);
    tc = tcase_create("conflict");
    tcase_add_test(tc, test_orset_conflict_elements);
    tcase_add_test(tc, test_orset_conflict_three);
    suite_add_tcase(s, tc);
    tc = tcase_create("replica");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_orset_replica_converge);
    suite_add_tcase(s, tc);
    tc = tcase_create("store");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_orset_store_model);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_add_test(tc, test_orset_nomem_all);
    tcase_add_test(tc, test_orset_nomem_keying);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(orset_suite());
    int failed;

    tu_seed("orset"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
