/* SPDX-License-Identifier: MIT */
/*
 * LWW register suite: every operation and tie-break, deltas, set_now with a
 * hybrid logical clock, merge (including aliasing and allocation-free small
 * values), codec (exact bytes, hostile input), join-law and convergence
 * properties against a reference model of the documented total order, and
 * allocation-failure injection.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/lww.h>

#include "testutil.h"

static crdt_lww *mk(const crdt_mem *mem, uint64_t ts, crdt_actor actor,
                    const char *val)
{
    crdt_lww *r = crdt_lww_new(mem);

    ck_assert_ptr_nonnull(r);
    if (val)
        ck_assert_int_eq(crdt_lww_set(r, ts, actor, val, strlen(val), NULL),
                         CRDT_OK);
    return r;
}

/* Asserts that r holds (ts, actor, the n bytes at v). */
static void expect_val(const crdt_lww *r, uint64_t ts, crdt_actor actor,
                       const void *v, size_t n)
{
    const uint8_t *p = NULL;
    size_t len = 99;

    ck_assert(crdt_lww_has_value(r));
    ck_assert_int_eq(crdt_lww_value(r, &p, &len), CRDT_OK);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, n);
    if (n)
        ck_assert_mem_eq(p, v, n);
    ck_assert_uint_eq(crdt_lww_timestamp(r), ts);
    ck_assert_uint_eq(crdt_lww_actor(r), actor);
}

static void expect_str(const crdt_lww *r, uint64_t ts, crdt_actor actor,
                       const char *s)
{
    expect_val(r, ts, actor, s, strlen(s));
}

static void expect_empty(const crdt_lww *r)
{
    const uint8_t *p = NULL;
    size_t len = 99;

    ck_assert(!crdt_lww_has_value(r));
    ck_assert_int_eq(crdt_lww_value(r, &p, &len), CRDT_ERR_NOT_FOUND);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(len, 99);
    ck_assert_uint_eq(crdt_lww_timestamp(r), 0);
    ck_assert_uint_eq(crdt_lww_actor(r), 0);
}

static void encode(const crdt_lww *r, crdt_buf *b)
{
    crdt_buf_init(b, NULL);
    ck_assert_int_eq(crdt_lww_encode(r, b), CRDT_OK);
}

static const char long_a[] = "a value longer than sixteen bytes, stored apart";
static const char long_b[] = "b value longer than sixteen bytes";

/* A wall clock the test moves by hand. */
typedef struct fake_wall {
    uint64_t ms;
} fake_wall;

static uint64_t fake_ms(void *ud)
{
    return ((fake_wall *)ud)->ms;
}

static crdt_hlc *mk_hlc(fake_wall *w, uint64_t drift, const crdt_mem *mem)
{
    crdt_hlc_settings s;
    crdt_hlc *h;

    crdt_hlc_settings_default(&s);
    s.wall_ms = fake_ms;
    s.user_data = w;
    s.max_drift_ms = drift;
    h = crdt_hlc_new(&s, mem);
    ck_assert_ptr_nonnull(h);
    return h;
}

/* ---------------------------------------------------------------- basic */

START_TEST(test_lww_basic_empty)
{
    crdt_lww *r = crdt_lww_new(NULL), *s = crdt_lww_new(NULL);
    const uint8_t *p;
    size_t n;

    expect_empty(r);
    ck_assert(crdt_lww_equal(r, s));
    ck_assert(crdt_lww_equal(r, NULL));
    ck_assert(crdt_lww_equal(NULL, NULL));
    ck_assert_int_eq(crdt_lww_compare(r, s), 0);
    ck_assert(crdt_lww_supersedes(r, 0, 0, NULL, 0));
    ck_assert_int_eq(crdt_lww_value(NULL, &p, &n), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_value(r, NULL, &n), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_value(r, &p, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert(!crdt_lww_has_value(NULL));
    ck_assert_uint_eq(crdt_lww_timestamp(NULL), 0);
    ck_assert_uint_eq(crdt_lww_actor(NULL), 0);
    ck_assert(!crdt_lww_supersedes(NULL, 1, 1, "x", 1));
    ck_assert_uint_eq(crdt_lww_max_value_bytes(), CRDT_LWW_MAX_VALUE_BYTES);
    ck_assert_uint_eq(CRDT_LWW_MAX_VALUE_BYTES, 0xffffffffu);
    crdt_lww_free(r);
    crdt_lww_free(s);
    crdt_lww_free(NULL);
}
END_TEST

START_TEST(test_lww_basic_set)
{
    tu_mem tm;
    crdt_lww *r;
    long calls;
    char big[100];

    tu_mem_init(&tm);
    r = crdt_lww_new(&tm.mem);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(crdt_lww_set(r, 10, 1, "hello", 5, NULL), CRDT_OK);
    expect_str(r, 10, 1, "hello");
    /* an older write is a no-op, and says so beforehand */
    ck_assert(!crdt_lww_supersedes(r, 9, 7, "zzz", 3));
    ck_assert_int_eq(crdt_lww_set(r, 9, 7, "zzz", 3, NULL), CRDT_OK);
    expect_str(r, 10, 1, "hello");
    /* so is the same write again */
    ck_assert(!crdt_lww_supersedes(r, 10, 1, "hello", 5));
    ck_assert_int_eq(crdt_lww_set(r, 10, 1, "hello", 5, NULL), CRDT_OK);
    expect_str(r, 10, 1, "hello");
    /* a later one takes effect */
    ck_assert(crdt_lww_supersedes(r, 11, 0, "a", 1));
    ck_assert_int_eq(crdt_lww_set(r, 11, 0, "a", 1, NULL), CRDT_OK);
    expect_str(r, 11, 0, "a");
    /* exactly 16 bytes stays inline: no allocation */
    calls = tm.calls;
    ck_assert_int_eq(crdt_lww_set(r, 12, 0, "0123456789abcdef", 16, NULL),
                     CRDT_OK);
    expect_str(r, 12, 0, "0123456789abcdef");
    ck_assert_int_eq(tm.calls, calls);
    /* 17 bytes goes to the heap */
    ck_assert_int_eq(crdt_lww_set(r, 13, 0, "0123456789abcdefg", 17, NULL),
                     CRDT_OK);
    expect_str(r, 13, 0, "0123456789abcdefg");
    ck_assert_int_eq(tm.calls, calls + 1);
    /* a larger value needs a larger block; smaller ones reuse it */
    memset(big, 'x', sizeof big);
    ck_assert_int_eq(crdt_lww_set(r, 14, 0, big, sizeof big, NULL), CRDT_OK);
    ck_assert_int_eq(tm.calls, calls + 2);
    ck_assert_int_eq(tm.live, 2);
    expect_val(r, 14, 0, big, sizeof big);
    ck_assert_int_eq(crdt_lww_set(r, 15, 0, big, 50, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_lww_set(r, 16, 0, "s", 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_lww_set(r, 17, 0, big, 99, NULL), CRDT_OK);
    expect_val(r, 17, 0, big, 99);
    ck_assert_int_eq(tm.calls, calls + 2);
    /* an empty value is a value */
    ck_assert_int_eq(crdt_lww_set(r, 18, 0, NULL, 0, NULL), CRDT_OK);
    expect_val(r, 18, 0, "", 0);
    ck_assert_int_eq(crdt_lww_set(r, 19, 0, "", 0, NULL), CRDT_OK);
    expect_val(r, 19, 0, "", 0);
    /* bad arguments change nothing */
    ck_assert_int_eq(crdt_lww_set(NULL, 20, 0, "x", 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_set(r, 20, 0, NULL, 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_set(r, 20, 0, "x", 1, r),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_set(r, 20, 0, big,
                                  CRDT_LWW_MAX_VALUE_BYTES + (size_t)1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert(!crdt_lww_supersedes(r, 20, 0, NULL, 1));
    expect_val(r, 19, 0, "", 0);
    crdt_lww_free(r);
    ck_assert_int_eq(tm.live, 0);
}
END_TEST

START_TEST(test_lww_basic_tiebreak)
{
    /* each pair: first orders before second */
    static const struct {
        uint64_t ts1;
        crdt_actor a1;
        const char *v1;
        size_t n1;
        uint64_t ts2;
        crdt_actor a2;
        const char *v2;
        size_t n2;
    } c[] = {
        /* timestamp decides first, whatever actor and bytes say */
        {1, 9, "zz", 2, 2, 0, "", 0},
        {0, UINT64_MAX, "\xff", 1, 1, 0, "", 0},
        /* same ts: the larger actor */
        {5, 1, "zz", 2, 5, 2, "a", 1},
        {5, 0x7fffffffffffffffu, "z", 1, 5, 0x8000000000000000u, "a", 1},
        /* same ts and actor: bytes, unsigned */
        {5, 1, "a", 1, 5, 1, "b", 1},
        {5, 1, "\x7f", 1, 5, 1, "\x80", 1},
        {5, 1, "abc", 3, 5, 1, "abd", 3},
        /* a prefix orders first; then the shorter */
        {5, 1, "ab", 2, 5, 1, "abc", 3},
        {5, 1, "abc", 3, 5, 1, "b", 1},
        {5, 1, "", 0, 5, 1, "\0", 1},
        {5, 1, "0123456789abcdef", 16, 5, 1, "0123456789abcdef\0", 17},
        {5, 1, "0123456789abcdeg", 16, 5, 1, "0123456789abcdfa\0", 17},
        {5, 1, long_a, 40, 5, 1, long_a, 41},
    };
    size_t i;

    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        crdt_lww *x = crdt_lww_new(NULL), *y = crdt_lww_new(NULL);
        crdt_lww *xy, *yx;

        ck_assert_int_eq(crdt_lww_set(x, c[i].ts1, c[i].a1, c[i].v1,
                                      c[i].n1, NULL), CRDT_OK);
        ck_assert_int_eq(crdt_lww_set(y, c[i].ts2, c[i].a2, c[i].v2,
                                      c[i].n2, NULL), CRDT_OK);
        ck_assert_msg(crdt_lww_compare(x, y) < 0, "pair %zu", i);
        ck_assert_msg(crdt_lww_compare(y, x) > 0, "pair %zu", i);
        ck_assert(!crdt_lww_equal(x, y));
        ck_assert(crdt_lww_supersedes(x, c[i].ts2, c[i].a2, c[i].v2,
                                      c[i].n2));
        ck_assert(!crdt_lww_supersedes(y, c[i].ts1, c[i].a1, c[i].v1,
                                       c[i].n1));
        /* merge keeps the later in both directions */
        xy = crdt_lww_clone(x);
        yx = crdt_lww_clone(y);
        ck_assert_int_eq(crdt_lww_merge(xy, y), CRDT_OK);
        ck_assert_int_eq(crdt_lww_merge(yx, x), CRDT_OK);
        ck_assert(crdt_lww_equal(xy, y));
        ck_assert(crdt_lww_equal(yx, y));
        /* set: the later write wins whichever comes first */
        ck_assert_int_eq(crdt_lww_set(x, c[i].ts2, c[i].a2, c[i].v2,
                                      c[i].n2, NULL), CRDT_OK);
        ck_assert_int_eq(crdt_lww_set(y, c[i].ts1, c[i].a1, c[i].v1,
                                      c[i].n1, NULL), CRDT_OK);
        ck_assert(crdt_lww_equal(x, y));
        expect_val(y, c[i].ts2, c[i].a2, c[i].v2, c[i].n2);
        crdt_lww_free(x);
        crdt_lww_free(y);
        crdt_lww_free(xy);
        crdt_lww_free(yx);
    }
}
END_TEST

START_TEST(test_lww_basic_no_value_vs_empty_value)
{
    crdt_lww *none = crdt_lww_new(NULL), *empty = crdt_lww_new(NULL);
    crdt_lww *m = crdt_lww_new(NULL);

    /* the write (0, 0, "") is a value and beats no value */
    ck_assert(crdt_lww_supersedes(none, 0, 0, NULL, 0));
    ck_assert_int_eq(crdt_lww_set(empty, 0, 0, NULL, 0, NULL), CRDT_OK);
    expect_val(empty, 0, 0, "", 0);
    ck_assert(!crdt_lww_equal(none, empty));
    ck_assert_int_lt(crdt_lww_compare(none, empty), 0);
    ck_assert_int_gt(crdt_lww_compare(empty, NULL), 0);
    ck_assert_int_eq(crdt_lww_merge(m, none), CRDT_OK);
    expect_empty(m);
    ck_assert_int_eq(crdt_lww_merge(m, empty), CRDT_OK);
    expect_val(m, 0, 0, "", 0);
    ck_assert_int_eq(crdt_lww_merge(m, none), CRDT_OK);
    expect_val(m, 0, 0, "", 0);
    crdt_lww_free(none);
    crdt_lww_free(empty);
    crdt_lww_free(m);
}
END_TEST

START_TEST(test_lww_basic_delta)
{
    crdt_lww *r = crdt_lww_new(NULL), *d = crdt_lww_new(NULL);
    crdt_lww *other = mk(NULL, 1, 3, "old"), *r0 = crdt_lww_clone(other);

    ck_assert_int_eq(crdt_lww_merge(r, other), CRDT_OK);
    /* the delta is the write */
    ck_assert_int_eq(crdt_lww_set(r, 5, 1, "x", 1, d), CRDT_OK);
    expect_str(d, 5, 1, "x");
    /* later writes join into it: a delta group */
    ck_assert_int_eq(crdt_lww_set(r, 6, 1, long_a, sizeof long_a, d),
                     CRDT_OK);
    expect_val(d, 6, 1, long_a, sizeof long_a);
    ck_assert(crdt_lww_equal(r, d));
    /* merging the group into a replica that missed both writes */
    ck_assert_int_eq(crdt_lww_merge(other, d), CRDT_OK);
    ck_assert(crdt_lww_equal(other, r));
    /* a no-op write leaves the delta unchanged */
    ck_assert_int_eq(crdt_lww_set(r, 4, 9, "stale", 5, d), CRDT_OK);
    expect_val(d, 6, 1, long_a, sizeof long_a);
    /* a delta that already holds a later write keeps it */
    ck_assert_int_eq(crdt_lww_set(d, 100, 1, "later", 5, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_lww_set(r, 7, 1, "y", 1, d), CRDT_OK);
    expect_str(r, 7, 1, "y");
    expect_str(d, 100, 1, "later");
    ck_assert(!crdt_lww_equal(r0, other));
    crdt_lww_free(r);
    crdt_lww_free(d);
    crdt_lww_free(other);
    crdt_lww_free(r0);
}
END_TEST

START_TEST(test_lww_basic_alias)
{
    crdt_lww *r = crdt_lww_new(NULL), *d = crdt_lww_new(NULL);
    const uint8_t *p;
    size_t n;
    char want[sizeof long_a];

    /* rewriting the register's own (inline) value, or a part of it */
    ck_assert_int_eq(crdt_lww_set(r, 1, 1, "abcdef", 6, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_lww_value(r, &p, &n), CRDT_OK);
    ck_assert_int_eq(crdt_lww_set(r, 2, 1, p + 2, 3, d), CRDT_OK);
    expect_str(r, 2, 1, "cde");
    expect_str(d, 2, 1, "cde");
    /* a long value, partly, into a block that is reused */
    ck_assert_int_eq(crdt_lww_set(r, 3, 1, long_a, sizeof long_a, NULL),
                     CRDT_OK);
    ck_assert_int_eq(crdt_lww_value(r, &p, &n), CRDT_OK);
    ck_assert_int_eq(crdt_lww_set(r, 4, 1, p + 2, 20, d), CRDT_OK);
    expect_val(r, 4, 1, long_a + 2, 20);
    expect_val(d, 4, 1, long_a + 2, 20);
    /* from a long value to a short one taken from it */
    ck_assert_int_eq(crdt_lww_value(r, &p, &n), CRDT_OK);
    ck_assert_int_eq(crdt_lww_set(r, 5, 1, p + 1, 4, d), CRDT_OK);
    expect_val(r, 5, 1, long_a + 3, 4);
    expect_val(d, 5, 1, long_a + 3, 4);
    /* the delta's own value, growing the register's block */
    memcpy(want, long_a, sizeof want);
    ck_assert_int_eq(crdt_lww_set(d, 6, 1, want, sizeof want, NULL),
                     CRDT_OK);
    ck_assert_int_eq(crdt_lww_value(d, &p, &n), CRDT_OK);
    ck_assert_int_eq(crdt_lww_set(r, 7, 1, p, n, d), CRDT_OK);
    expect_val(r, 7, 1, want, sizeof want);
    expect_val(d, 7, 1, want, sizeof want);
    /* copy and merge with themselves */
    ck_assert_int_eq(crdt_lww_copy(r, r), CRDT_OK);
    ck_assert_int_eq(crdt_lww_merge(r, r), CRDT_OK);
    expect_val(r, 7, 1, want, sizeof want);
    crdt_lww_free(r);
    crdt_lww_free(d);
}
END_TEST

START_TEST(test_lww_basic_copy_clone)
{
    crdt_lww *a = mk(NULL, 3, 4, "short"), *b = crdt_lww_new(NULL), *c;
    crdt_lww *e = crdt_lww_new(NULL);

    ck_assert_int_eq(crdt_lww_copy(b, a), CRDT_OK);
    ck_assert(crdt_lww_equal(a, b));
    c = crdt_lww_clone(a);
    ck_assert_ptr_nonnull(c);
    ck_assert(crdt_lww_equal(a, c));
    /* deep: changing the copy leaves the original */
    ck_assert_int_eq(crdt_lww_set(c, 9, 9, "other", 5, NULL), CRDT_OK);
    expect_str(a, 3, 4, "short");
    crdt_lww_free(c);
    /* long values */
    ck_assert_int_eq(crdt_lww_set(a, 4, 4, long_a, sizeof long_a, NULL),
                     CRDT_OK);
    c = crdt_lww_clone(a);
    ck_assert(crdt_lww_equal(a, c));
    ck_assert_int_eq(crdt_lww_copy(b, a), CRDT_OK);
    ck_assert(crdt_lww_equal(a, b));
    /* copy is assignment: it can move a register backwards, and to empty */
    ck_assert_int_eq(crdt_lww_copy(a, e), CRDT_OK);
    expect_empty(a);
    ck_assert_int_eq(crdt_lww_copy(b, e), CRDT_OK);
    expect_empty(b);
    ck_assert_int_eq(crdt_lww_copy(NULL, e), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_copy(e, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(crdt_lww_clone(NULL));
    crdt_lww_free(a);
    crdt_lww_free(b);
    crdt_lww_free(c);
    crdt_lww_free(e);
}
END_TEST

START_TEST(test_lww_basic_set_now)
{
    fake_wall w = {1000};
    crdt_hlc *h = mk_hlc(&w, 5000, NULL);
    crdt_lww *r = crdt_lww_new(NULL), *d = crdt_lww_new(NULL), *r0, *d0;
    uint64_t last;

    ck_assert_int_eq(crdt_lww_set_now(r, h, 7, "one", 3, d), CRDT_OK);
    expect_str(r, crdt_hlc_pack(1000, 0), 7, "one");
    ck_assert(crdt_lww_equal(r, d));
    ck_assert_uint_eq(crdt_hlc_last(h), crdt_hlc_pack(1000, 0));
    ck_assert_int_eq(crdt_lww_set_now(r, h, 7, "two", 3, NULL), CRDT_OK);
    expect_str(r, crdt_hlc_pack(1000, 1), 7, "two");
    /* a replica whose clock runs ahead wrote the value we hold: our write
     * is stamped after it, so it still takes effect */
    ck_assert_int_eq(crdt_lww_set(r, crdt_hlc_pack(4000, 3), 9, "ahead", 5,
                                  NULL), CRDT_OK);
    ck_assert_int_eq(crdt_lww_set_now(r, h, 7, "three", 5, d), CRDT_OK);
    expect_str(r, crdt_hlc_pack(4000, 4), 7, "three");
    expect_str(d, crdt_hlc_pack(4000, 4), 7, "three");
    ck_assert_uint_eq(crdt_hlc_last(h), crdt_hlc_pack(4000, 4));
    /* a value from beyond the drift bound: error, nothing changes */
    ck_assert_int_eq(crdt_lww_set(r, crdt_hlc_pack(6001, 0), 9, "far", 3,
                                  NULL), CRDT_OK);
    r0 = crdt_lww_clone(r);
    d0 = crdt_lww_clone(d);
    last = crdt_hlc_last(h);
    ck_assert_int_eq(crdt_lww_set_now(r, h, 7, "four", 4, d),
                     CRDT_ERR_CLOCK_DRIFT);
    ck_assert(crdt_lww_equal(r, r0));
    ck_assert(crdt_lww_equal(d, d0));
    ck_assert_uint_eq(crdt_hlc_last(h), last);
    /* once the wall clock catches up it works */
    w.ms = 1001;
    ck_assert_int_eq(crdt_lww_set_now(r, h, 7, "four", 4, d), CRDT_OK);
    expect_str(r, crdt_hlc_pack(6001, 1), 7, "four");
    /* bad arguments */
    ck_assert_int_eq(crdt_lww_set_now(r, NULL, 7, "x", 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_set_now(NULL, h, 7, "x", 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_set_now(r, h, 7, NULL, 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_set_now(r, h, 7, "x", 1, r),
                     CRDT_ERR_INVALID_ARG);
    expect_str(r, crdt_hlc_pack(6001, 1), 7, "four");
    ck_assert_uint_eq(crdt_hlc_last(h), crdt_hlc_pack(6001, 1));
    crdt_lww_free(r);
    crdt_lww_free(d);
    crdt_lww_free(r0);
    crdt_lww_free(d0);
    crdt_hlc_free(h);
}
END_TEST

/* ---------------------------------------------------------------- merge */

START_TEST(test_lww_merge_cases)
{
    crdt_lww *a = mk(NULL, 5, 1, "a5"), *b = mk(NULL, 7, 0, "b7");
    crdt_lww *e = crdt_lww_new(NULL), *l = crdt_lww_new(NULL);

    /* the empty register is the identity, on both sides */
    ck_assert_int_eq(crdt_lww_merge(a, e), CRDT_OK);
    expect_str(a, 5, 1, "a5");
    ck_assert_int_eq(crdt_lww_merge(e, a), CRDT_OK);
    expect_str(e, 5, 1, "a5");
    /* later wins, earlier is ignored */
    ck_assert_int_eq(crdt_lww_merge(a, b), CRDT_OK);
    expect_str(a, 7, 0, "b7");
    ck_assert_int_eq(crdt_lww_merge(b, e), CRDT_OK);
    expect_str(b, 7, 0, "b7");
    /* long values: in, over a long value, over a short one, out */
    ck_assert_int_eq(crdt_lww_set(l, 8, 0, long_a, sizeof long_a, NULL),
                     CRDT_OK);
    ck_assert_int_eq(crdt_lww_merge(a, l), CRDT_OK);
    expect_val(a, 8, 0, long_a, sizeof long_a);
    ck_assert_int_eq(crdt_lww_set(l, 9, 0, long_b, sizeof long_b, NULL),
                     CRDT_OK);
    ck_assert_int_eq(crdt_lww_merge(a, l), CRDT_OK);
    expect_val(a, 9, 0, long_b, sizeof long_b);
    ck_assert_int_eq(crdt_lww_set(b, 10, 0, "s", 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_lww_merge(a, b), CRDT_OK);
    expect_str(a, 10, 0, "s");
    ck_assert_int_eq(crdt_lww_set(l, 11, 0, long_a, sizeof long_a, NULL),
                     CRDT_OK);
    ck_assert_int_eq(crdt_lww_merge(a, l), CRDT_OK);
    expect_val(a, 11, 0, long_a, sizeof long_a);
    ck_assert_int_eq(crdt_lww_merge(a, a), CRDT_OK);
    expect_val(a, 11, 0, long_a, sizeof long_a);
    ck_assert_int_eq(crdt_lww_merge(NULL, a), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_merge(a, NULL), CRDT_ERR_INVALID_ARG);
    crdt_lww_free(a);
    crdt_lww_free(b);
    crdt_lww_free(e);
    crdt_lww_free(l);
}
END_TEST

START_TEST(test_lww_merge_no_alloc)
{
    tu_mem tm;
    crdt_lww *dst, *src;
    long calls, i;
    char v[64];

    tu_mem_init(&tm);
    dst = crdt_lww_new(&tm.mem);
    src = crdt_lww_new(&tm.mem);
    calls = tm.calls;
    /* small values never allocate, however they alternate */
    for (i = 0; i < 1000; i++) {
        size_t n = (size_t)i % 17;

        memset(v, 'a' + (int)(i % 26), n);
        if (crdt_lww_set(src, (uint64_t)i, (crdt_actor)i, v, n, NULL) ||
            crdt_lww_merge(dst, src) || !crdt_lww_equal(dst, src))
            ck_abort_msg("small merge %ld", i);
    }
    ck_assert_int_eq(tm.calls, calls);
    /* a long value allocates once, then later ones that fit reuse it */
    memset(v, 'L', sizeof v);
    ck_assert_int_eq(crdt_lww_set(src, 2000, 0, v, 64, NULL), CRDT_OK);
    calls = tm.calls;
    ck_assert_int_eq(crdt_lww_merge(dst, src), CRDT_OK);
    ck_assert_int_eq(tm.calls, calls + 1);
    ck_assert_int_eq(crdt_lww_set(src, 2001, 0, v, 3, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_lww_merge(dst, src), CRDT_OK);
    ck_assert_int_eq(crdt_lww_set(src, 2002, 0, v, 40, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_lww_merge(dst, src), CRDT_OK);
    ck_assert_int_eq(tm.calls, calls + 1);
    ck_assert(crdt_lww_equal(dst, src));
    crdt_lww_free(dst);
    crdt_lww_free(src);
    ck_assert_int_eq(tm.live, 0);
}
END_TEST

/* ---------------------------------------------------------------- codec */

START_TEST(test_lww_codec_bytes)
{
    const uint8_t empty[] = {0x92, 0x01, 0x05};
    const uint8_t hi[] = {0x95, 0x01, 0x05, 0x01, 0x02, 0xc4, 0x02, 0x68,
                          0x69};
    const uint8_t zero[] = {0x95, 0x01, 0x05, 0x00, 0x00, 0xc4, 0x00};
    /* ts 2^64 - 1, actor 300, 300 bytes of 0xab */
    const uint8_t bighead[] = {0x95, 0x01, 0x05, 0xcf, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0xcd, 0x01,
                               0x2c, 0xc5, 0x01, 0x2c};
    crdt_lww *r = crdt_lww_new(NULL), *d = mk(NULL, 1, 1, "prior");
    crdt_buf b, fb;
    uint8_t val[300], small[8], exact[sizeof hi];

    encode(r, &b);
    ck_assert_uint_eq(b.len, sizeof empty);
    ck_assert_mem_eq(b.data, empty, sizeof empty);
    ck_assert_int_eq(crdt_lww_decode(d, b.data, b.len, NULL, NULL), CRDT_OK);
    expect_empty(d);
    crdt_buf_clear(&b);

    ck_assert_int_eq(crdt_lww_set(r, 1, 2, "hi", 2, NULL), CRDT_OK);
    encode(r, &b);
    ck_assert_uint_eq(b.len, sizeof hi);
    ck_assert_mem_eq(b.data, hi, sizeof hi);
    ck_assert_int_eq(crdt_lww_decode(d, b.data, b.len, NULL, NULL), CRDT_OK);
    expect_str(d, 1, 2, "hi");
    /* a fixed buffer one byte short: error, nothing written */
    crdt_buf_init_fixed(&fb, small, sizeof small);
    ck_assert_int_eq(crdt_lww_encode(r, &fb), CRDT_ERR_BUFFER);
    ck_assert_uint_eq(fb.len, 0);
    /* one of exactly the encoded size is enough (the encoder's upper
     * bound is larger than the buffer) */
    crdt_buf_init_fixed(&fb, exact, sizeof hi);
    ck_assert_int_eq(crdt_lww_encode(r, &fb), CRDT_OK);
    ck_assert_uint_eq(fb.len, sizeof hi);
    ck_assert_mem_eq(exact, hi, sizeof hi);
    crdt_buf_clear(&b);

    crdt_lww_free(r);
    r = crdt_lww_new(NULL);
    ck_assert_int_eq(crdt_lww_set(r, 0, 0, NULL, 0, NULL), CRDT_OK);
    encode(r, &b);
    ck_assert_uint_eq(b.len, sizeof zero);
    ck_assert_mem_eq(b.data, zero, sizeof zero);
    ck_assert_int_eq(crdt_lww_decode(d, b.data, b.len, NULL, NULL), CRDT_OK);
    expect_val(d, 0, 0, "", 0);
    crdt_buf_clear(&b);

    memset(val, 0xab, sizeof val);
    ck_assert_int_eq(crdt_lww_set(r, UINT64_MAX, 300, val, sizeof val, NULL),
                     CRDT_OK);
    encode(r, &b);
    ck_assert_uint_eq(b.len, sizeof bighead + sizeof val);
    ck_assert_uint_le(b.len, 26 + sizeof val);
    ck_assert_mem_eq(b.data, bighead, sizeof bighead);
    ck_assert_mem_eq(b.data + sizeof bighead, val, sizeof val);
    ck_assert_int_eq(crdt_lww_decode(d, b.data, b.len, NULL, NULL), CRDT_OK);
    expect_val(d, UINT64_MAX, 300, val, sizeof val);
    ck_assert(crdt_lww_equal(d, r));
    /* decoding the small one into a register with a long value */
    ck_assert_int_eq(crdt_lww_decode(d, hi, sizeof hi, NULL, NULL), CRDT_OK);
    expect_str(d, 1, 2, "hi");
    ck_assert_int_eq(crdt_lww_encode(NULL, &b), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_encode(r, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_decode(NULL, hi, sizeof hi, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_lww_decode(d, NULL, 3, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    crdt_buf_clear(&b);
    crdt_lww_free(r);
    crdt_lww_free(d);
}
END_TEST

/* Decodes in into a register holding a long value; expects code at
 * offset and the register unchanged. */
static void expect_reject_lim(const uint8_t *in, size_t len,
                              const crdt_limits *lim, int code, size_t offset)
{
    crdt_lww *d = crdt_lww_new(NULL);

    ck_assert_int_eq(crdt_lww_set(d, 1, 1, long_a, sizeof long_a, NULL),
                     CRDT_OK);
    tu_expect_reject(crdt_lww_type(), d, in, len, lim, code, offset);
    expect_val(d, 1, 1, long_a, sizeof long_a); /* untouched */
    crdt_lww_free(d);
}

static void expect_reject(const uint8_t *in, size_t len, int code,
                          size_t offset)
{
    expect_reject_lim(in, len, NULL, code, offset);
}

START_TEST(test_lww_codec_reject)
{
#define HDR 0x95, 0x01, 0x05
    const uint8_t str[] = {HDR, 0x01, 0x02, 0xa2, 0x68, 0x69};
    const uint8_t nil[] = {HDR, 0x01, 0x02, 0xc0};
    const uint8_t intv[] = {HDR, 0x01, 0x02, 0x05};
    const uint8_t arrv[] = {HDR, 0x01, 0x02, 0x91, 0xc4, 0x00};
    const uint8_t longts[] = {HDR, 0xcc, 0x01, 0x02, 0xc4, 0x00};
    const uint8_t longactor[] = {HDR, 0x01, 0xcd, 0x00, 0xff, 0xc4, 0x00};
    const uint8_t longbin[] = {HDR, 0x01, 0x02, 0xc5, 0x00, 0x01, 0x61};
    const uint8_t negts[] = {HDR, 0xd0, 0xff, 0x02, 0xc4, 0x00};
    const uint8_t badver[] = {0x95, 0x02, 0x05, 0x01, 0x02, 0xc4, 0x00};
    const uint8_t badtag[] = {0x95, 0x01, 0x06, 0x01, 0x02, 0xc4, 0x00};
    const uint8_t trailing[] = {HDR, 0x01, 0x02, 0xc4, 0x00, 0x00};
    const uint8_t trailing0[] = {0x92, 0x01, 0x05, 0xc0};
    const uint8_t three[] = {0x93, 0x01, 0x05, 0x01};
    const uint8_t four[] = {0x94, 0x01, 0x05, 0x01, 0x02};
    const uint8_t six[] = {0x96, 0x01, 0x05, 0x01, 0x02, 0xc4, 0x00, 0x00};
    const uint8_t one[] = {0x91, 0x01};
    const uint8_t binlong[] = {HDR, 0x01, 0x02, 0xc4, 0x05, 0x61};
    const uint8_t hugebin[] = {HDR, 0x01, 0x02, 0xc6, 0xff, 0xff, 0xff, 0xff};
    const uint8_t two[] = {HDR, 0x01, 0x02, 0xc4, 0x02, 0x61, 0x62};
    crdt_limits lim;
#undef HDR

    expect_reject(str, sizeof str, CRDT_ERR_DECODE, 5);
    expect_reject(nil, sizeof nil, CRDT_ERR_DECODE, 5);
    expect_reject(intv, sizeof intv, CRDT_ERR_DECODE, 5);
    expect_reject(arrv, sizeof arrv, CRDT_ERR_DECODE, 5);
    expect_reject(longts, sizeof longts, CRDT_ERR_DECODE, 3);
    expect_reject(longactor, sizeof longactor, CRDT_ERR_DECODE, 4);
    expect_reject(longbin, sizeof longbin, CRDT_ERR_DECODE, 5);
    expect_reject(negts, sizeof negts, CRDT_ERR_DECODE, 3);
    expect_reject(badver, sizeof badver, CRDT_ERR_VERSION, 1);
    expect_reject(badtag, sizeof badtag, CRDT_ERR_TYPE, 2);
    expect_reject(trailing, sizeof trailing, CRDT_ERR_DECODE, 7);
    expect_reject(trailing0, sizeof trailing0, CRDT_ERR_DECODE, 3);
    expect_reject(three, sizeof three, CRDT_ERR_DECODE, 0);
    expect_reject(four, sizeof four, CRDT_ERR_DECODE, 0);
    expect_reject(six, sizeof six, CRDT_ERR_DECODE, 0);
    expect_reject(one, sizeof one, CRDT_ERR_DECODE, 0);
    expect_reject(binlong, sizeof binlong, CRDT_ERR_DECODE, 8);
    expect_reject(hugebin, sizeof hugebin, CRDT_ERR_LIMIT, 5);
    expect_reject(NULL, 0, CRDT_ERR_DECODE, 0);
    /* the value limit: at it accepted, above it rejected */
    crdt_limits_default(&lim);
    lim.max_value_bytes = 1;
    expect_reject_lim(two, sizeof two, &lim, CRDT_ERR_LIMIT, 5);
    lim.max_value_bytes = 2;
    {
        crdt_lww *d = crdt_lww_new(NULL);

        ck_assert_int_eq(crdt_lww_decode(d, two, sizeof two, &lim, NULL),
                         CRDT_OK);
        expect_str(d, 1, 2, "ab");
        crdt_lww_free(d);
    }
}
END_TEST

START_TEST(test_lww_codec_truncated)
{
    tu_rng rng;
    crdt_lww *r = crdt_lww_new(NULL), *d = crdt_lww_new(NULL);
    crdt_buf b;
    size_t i, cut;
    uint8_t val[40];

    tu_rng_init(&rng, tu_seed("lww"));
    for (i = 0; i < sizeof val; i++)
        val[i] = (uint8_t)tu_rand(&rng);
    ck_assert_int_eq(crdt_lww_set(r, tu_rand(&rng), tu_rand(&rng), val,
                                  sizeof val, NULL), CRDT_OK);
    encode(r, &b);
    ck_assert_int_eq(crdt_lww_set(d, 1, 1, "keep", 4, NULL), CRDT_OK);
    for (cut = 0; cut < b.len; cut++) {
        crdt_decode_info info;

        ck_assert_int_eq(crdt_lww_decode(d, b.data, cut, NULL, &info),
                         CRDT_ERR_DECODE);
        ck_assert_uint_le(info.offset, cut);
        expect_str(d, 1, 1, "keep");
    }
    /* every single-bit corruption is rejected or decodes to a state whose
     * canonical encoding is exactly the corrupted input */
    for (i = 0; i < b.len; i++) {
        unsigned bit;

        for (bit = 0; bit < 8; bit++) {
            uint8_t *c = malloc(b.len);
            crdt_buf b2;

            memcpy(c, b.data, b.len);
            c[i] ^= (uint8_t)(1u << bit);
            if (crdt_lww_decode(d, c, b.len, NULL, NULL) == CRDT_OK) {
                encode(d, &b2);
                ck_assert_uint_eq(b2.len, b.len);
                ck_assert_mem_eq(b2.data, c, b.len);
                crdt_buf_clear(&b2);
            }
            free(c);
        }
    }
    crdt_buf_clear(&b);
    crdt_lww_free(r);
    crdt_lww_free(d);
}
END_TEST

/* ------------------------------------------------------------- property */

#define MAXV 40

/* Reference model: a write, and the documented order written out. */
typedef struct mw {
    bool has;
    uint64_t ts;
    crdt_actor actor;
    size_t len;
    uint8_t b[MAXV];
} mw;

static int mw_cmp(const mw *a, const mw *b)
{
    size_t i;

    if (a->has != b->has)
        return a->has ? 1 : -1;
    if (!a->has)
        return 0;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->actor != b->actor)
        return a->actor < b->actor ? -1 : 1;
    for (i = 0; i < a->len && i < b->len; i++)
        if (a->b[i] != b->b[i])
            return a->b[i] < b->b[i] ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return 0;
}

static const mw *mw_max(const mw *a, const mw *b)
{
    return mw_cmp(a, b) >= 0 ? a : b;
}

static bool matches(const crdt_lww *r, const mw *m)
{
    const uint8_t *p;
    size_t n;

    if (!m->has)
        return !crdt_lww_has_value(r) && crdt_lww_timestamp(r) == 0 &&
               crdt_lww_actor(r) == 0;
    return crdt_lww_value(r, &p, &n) == CRDT_OK && n == m->len &&
           (n == 0 || memcmp(p, m->b, n) == 0) &&
           crdt_lww_timestamp(r) == m->ts && crdt_lww_actor(r) == m->actor;
}

/* A random write from a small space, so that ties at every level of the
 * order (timestamp, actor, bytes, prefixes, length) are common. */
static void random_write(tu_rng *r, mw *w)
{
    static const crdt_actor actors[] = {0, 1, 2, UINT64_MAX};
    static const size_t lens[] = {0, 1, 2, 3, 15, 16, 17, MAXV};
    static const uint8_t bytes[] = {0x00, 0x61, 0x62, 0x80, 0xff};
    size_t i;

    w->has = true;
    w->ts = tu_below(r, 4);
    if (tu_below(r, 16) == 0)
        w->ts = UINT64_MAX - tu_below(r, 2);
    w->actor = actors[tu_below(r, 4)];
    w->len = lens[tu_below(r, 8)];
    for (i = 0; i < w->len; i++)
        w->b[i] = tu_below(r, 4) ? bytes[0] + (uint8_t)(i & 1)
                                 : bytes[tu_below(r, 5)];
}

static int set_w(crdt_lww *r, const mw *w, crdt_lww *delta)
{
    return crdt_lww_set(r, w->ts, w->actor, w->b, w->len, delta);
}

/* A register after 0..3 random writes; its model is the largest. */
static crdt_lww *random_reg(tu_rng *r, mw *m, long k)
{
    crdt_lww *reg = crdt_lww_new(NULL);
    uint64_t i, n = tu_below(r, 4);

    tu_expect_k(reg != NULL, "new failed", k);
    memset(m, 0, sizeof *m);
    for (i = 0; i < n; i++) {
        mw w;

        random_write(r, &w);
        tu_expect_k(set_w(reg, &w, NULL) == CRDT_OK, "set failed", k);
        *m = *mw_max(m, &w);
    }
    return reg;
}

static crdt_lww *merged(const crdt_lww *a, const crdt_lww *b, long k)
{
    crdt_lww *r = crdt_lww_clone(a);

    tu_expect_k(r != NULL, "clone failed", k);
    tu_expect_k(crdt_lww_merge(r, b) == CRDT_OK, "merge failed", k);
    return r;
}

static bool same_bytes(const crdt_buf *x, const crdt_buf *y)
{
    return x->len == y->len && memcmp(x->data, y->data, x->len) == 0;
}

START_TEST(test_lww_property_join_laws)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("lww") ^ 0x1);
    for (k = 0; k < n; k++) {
        mw ma, mb, mc;
        crdt_lww *a = random_reg(&rng, &ma, k);
        crdt_lww *b = random_reg(&rng, &mb, k);
        crdt_lww *c = random_reg(&rng, &mc, k);
        crdt_lww *ab = merged(a, b, k), *ba = merged(b, a, k);
        crdt_lww *ab_c = merged(ab, c, k), *bc = merged(b, c, k);
        crdt_lww *a_bc = merged(a, bc, k), *aa = merged(a, a, k);
        crdt_lww *d = crdt_lww_new(NULL);
        crdt_buf e1, e2;
        int cmp;

        tu_expect_k(matches(a, &ma) && matches(b, &mb), "set != model", k);
        tu_expect_k(matches(ab, mw_max(&ma, &mb)), "merge != model max", k);
        tu_expect_k(crdt_lww_equal(ab, ba), "not commutative", k);
        tu_expect_k(crdt_lww_equal(ab_c, a_bc), "not associative", k);
        tu_expect_k(crdt_lww_equal(aa, a), "not idempotent", k);
        cmp = crdt_lww_compare(a, b);
        tu_expect_k((cmp > 0) - (cmp < 0) == mw_cmp(&ma, &mb), "compare != model",
             k);
        tu_expect_k(crdt_lww_equal(a, b) == (mw_cmp(&ma, &mb) == 0),
             "equal != model", k);
        /* canonical bytes and round trip */
        crdt_buf_init(&e1, NULL);
        crdt_buf_init(&e2, NULL);
        tu_expect_k(crdt_lww_encode(ab, &e1) == CRDT_OK &&
                 crdt_lww_encode(ba, &e2) == CRDT_OK,
             "encode failed", k);
        tu_expect_k(same_bytes(&e1, &e2), "equal states, different bytes", k);
        tu_expect_k(crdt_lww_decode(d, e1.data, e1.len, NULL, NULL) == CRDT_OK,
             "decode failed", k);
        tu_expect_k(crdt_lww_equal(d, ab), "round trip", k);
        crdt_buf_reset(&e2);
        tu_expect_k(crdt_lww_encode(d, &e2) == CRDT_OK && same_bytes(&e1, &e2),
             "re-encoding differs", k);
        crdt_buf_clear(&e1);
        crdt_buf_clear(&e2);
        crdt_lww_free(a);
        crdt_lww_free(b);
        crdt_lww_free(c);
        crdt_lww_free(ab);
        crdt_lww_free(ba);
        crdt_lww_free(ab_c);
        crdt_lww_free(bc);
        crdt_lww_free(a_bc);
        crdt_lww_free(aa);
        crdt_lww_free(d);
    }
}
END_TEST

START_TEST(test_lww_property_delta)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("lww") ^ 0x2);
    for (k = 0; k < n; k++) {
        mw ma, mo, w, group;
        crdt_lww *a = random_reg(&rng, &ma, k);
        crdt_lww *other = random_reg(&rng, &mo, k);
        crdt_lww *a2 = crdt_lww_clone(a), *a0 = crdt_lww_new(NULL);
        crdt_lww *d = NULL, *g = crdt_lww_new(NULL);
        bool would;
        int i, nw = 1 + (int)tu_below(&rng, 3);

        memset(&group, 0, sizeof group);
        for (i = 0; i < nw; i++) {
            random_write(&rng, &w);
            crdt_lww_free(d);
            d = crdt_lww_new(NULL);
            tu_expect_k(crdt_lww_copy(a0, a) == CRDT_OK, "copy failed", k);
            would = crdt_lww_supersedes(a, w.ts, w.actor, w.b, w.len);
            tu_expect_k(would == (mw_cmp(&w, &ma) > 0), "supersedes != model", k);
            /* a with a fresh delta per write, a2 with one delta group */
            tu_expect_k(set_w(a, &w, d) == CRDT_OK, "set failed", k);
            tu_expect_k(set_w(a2, &w, g) == CRDT_OK, "set failed", k);
            tu_expect_k(crdt_lww_equal(a, a2), "delta changed the set", k);
            tu_expect_k(would ? matches(d, &w) : !crdt_lww_has_value(d),
                 "delta is not the write", k);
            /* merging the delta into the pre-state equals the set */
            tu_expect_k(crdt_lww_merge(a0, d) == CRDT_OK, "merge failed", k);
            tu_expect_k(crdt_lww_equal(a0, a), "merge(delta) != set", k);
            ma = *mw_max(&ma, &w);
            tu_expect_k(matches(a, &ma), "set != model", k);
            if (would)
                group = *mw_max(&group, &w);
        }
        /* the delta group joins into any replica like the writes do */
        tu_expect_k(matches(g, &group), "delta group != model", k);
        tu_expect_k(crdt_lww_merge(other, g) == CRDT_OK, "merge failed", k);
        tu_expect_k(matches(other, mw_max(&mo, &group)), "group merge != model",
             k);
        crdt_lww_free(a);
        crdt_lww_free(a2);
        crdt_lww_free(other);
        crdt_lww_free(a0);
        crdt_lww_free(d);
        crdt_lww_free(g);
    }
}
END_TEST

#define NREP 3
#define NDELTA 6

START_TEST(test_lww_property_converge)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("lww") ^ 0x3);
    for (k = 0; k < n; k++) {
        crdt_lww *rep[NREP], *delta[NDELTA], *sink[2];
        mw model, w;
        int i, j, s;

        memset(&model, 0, sizeof model);
        for (i = 0; i < NREP; i++)
            rep[i] = crdt_lww_new(NULL);
        /* writes at random replicas, each handing back a delta */
        for (i = 0; i < NDELTA; i++) {
            delta[i] = crdt_lww_new(NULL);
            random_write(&rng, &w);
            j = (int)tu_below(&rng, NREP);
            tu_expect_k(set_w(rep[j], &w, delta[i]) == CRDT_OK, "set failed", k);
            model = *mw_max(&model, &w);
        }
        /* two sinks receive the deltas in random orders, with duplicates,
         * and one also receives whole replica states */
        for (s = 0; s < 2; s++) {
            bool got[NDELTA] = {false};
            int left = NDELTA;

            sink[s] = crdt_lww_new(NULL);
            while (left > 0) {
                i = (int)tu_below(&rng, NDELTA);
                tu_expect_k(crdt_lww_merge(sink[s], delta[i]) == CRDT_OK,
                     "merge failed", k);
                if (!got[i])
                    got[i] = true, left--;
                if (s == 1 && tu_below(&rng, 4) == 0)
                    tu_expect_k(crdt_lww_merge(sink[s],
                                        rep[tu_below(&rng, NREP)]) ==
                             CRDT_OK,
                         "merge failed", k);
            }
        }
        tu_expect_k(crdt_lww_equal(sink[0], sink[1]), "did not converge", k);
        tu_expect_k(matches(sink[0], &model), "converged != model max", k);
        for (i = 0; i < NREP; i++)
            crdt_lww_free(rep[i]);
        for (i = 0; i < NDELTA; i++)
            crdt_lww_free(delta[i]);
        crdt_lww_free(sink[0]);
        crdt_lww_free(sink[1]);
    }
}
END_TEST

/* ---------------------------------------------------------------- nomem */

enum {
    OP_SET_SMALL,
    OP_SET_SMALL_DELTA,
    OP_SET_LARGE,
    OP_SET_LARGE_DELTA,
    OP_SET_LARGE_DELTA_FULL, /* delta's block already fits */
    OP_SET_NOW_LARGE_DELTA,
    OP_MERGE_LARGE,
    OP_MERGE_SMALL,
    OP_COPY_LARGE,
    OP_CLONE_SMALL,
    OP_CLONE_LARGE,
    OP_ENCODE,
    OP_DECODE_LARGE,
    OP_DECODE_SMALL,
    OP_NEW,
    OP_HLC_NEW,
    N_OPS
};

static char nomem_big[200]; /* 'B's */

/* The clock for set_now and the one OP_HLC_NEW makes. */
typedef struct nomem_clock {
    fake_wall w;
    crdt_hlc *h, *hout;
    uint64_t hlast;
} nomem_clock;

static void nomem_setup(tu_nomem *c)
{
    nomem_clock *k = calloc(1, sizeof *k);
    crdt_lww *d;

    ck_assert_ptr_nonnull(k);
    k->w.ms = 5000;
    k->h = mk_hlc(&k->w, 0, &c->tm->mem);
    k->hlast = crdt_hlc_last(k->h);
    c->user = k;
    c->a = mk(&c->tm->mem, 10, 1, "0123456789abcdefXYZ");
    c->d = d = mk(&c->tm->mem, 3, 3, "delta");
    c->src = crdt_lww_new(&c->tm->mem);
    ck_assert_int_eq(crdt_lww_set(c->src, 20, 2, nomem_big, sizeof nomem_big,
                                  NULL),
                     CRDT_OK);
    if (c->op == OP_SET_LARGE_DELTA_FULL)
        ck_assert_int_eq(crdt_lww_set(d, 4, 3, nomem_big, sizeof nomem_big,
                                      NULL),
                         CRDT_OK);
    if (c->op == OP_MERGE_SMALL)
        ck_assert_int_eq(crdt_lww_set(d, 50, 3, "newer", 5, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_lww_encode(c->op == OP_DECODE_SMALL ? d : c->src,
                                     &c->enc),
                     CRDT_OK);
}

static int nomem_call(tu_nomem *c)
{
    nomem_clock *k = c->user;
    crdt_lww *a = c->a, *d = c->d;
    const char *big = nomem_big;

    switch (c->op) {
    case OP_SET_SMALL:
        return crdt_lww_set(a, 11, 1, "small", 5, NULL);
    case OP_SET_SMALL_DELTA:
        return crdt_lww_set(a, 11, 1, "small", 5, d);
    case OP_SET_LARGE:
        return crdt_lww_set(a, 11, 1, big, sizeof nomem_big, NULL);
    case OP_SET_LARGE_DELTA:
    case OP_SET_LARGE_DELTA_FULL:
        return crdt_lww_set(a, 11, 1, big, sizeof nomem_big, d);
    case OP_SET_NOW_LARGE_DELTA:
        return crdt_lww_set_now(a, k->h, 1, big, sizeof nomem_big, d);
    case OP_MERGE_LARGE:
        return crdt_lww_merge(a, c->src);
    case OP_MERGE_SMALL:
        return crdt_lww_merge(a, d);
    case OP_COPY_LARGE:
        return crdt_lww_copy(a, c->src);
    case OP_CLONE_SMALL:
        return tu_nomem_made(c, crdt_lww_clone(d));
    case OP_CLONE_LARGE:
        return tu_nomem_made(c, crdt_lww_clone(c->src));
    case OP_ENCODE:
        return crdt_lww_encode(c->src, &c->out);
    case OP_DECODE_LARGE:
    case OP_DECODE_SMALL:
        return crdt_lww_decode(a, c->enc.data, c->enc.len, NULL, NULL);
    case OP_NEW:
        return tu_nomem_made(c, crdt_lww_new(&c->tm->mem));
    case OP_HLC_NEW:
        k->hout = crdt_hlc_new(NULL, &c->tm->mem);
        return k->hout ? CRDT_OK : CRDT_ERR_NOMEM;
    }
    return CRDT_ERR_INVALID_ARG;
}

static void nomem_failed(tu_nomem *c)
{
    const nomem_clock *k = c->user;

    ck_assert_uint_eq(crdt_hlc_last(k->h), k->hlast);
    /* nothing leaked (a growable buffer may keep storage) */
    if (c->op != OP_ENCODE)
        ck_assert_msg(c->tm->live == c->live, "op %d n %ld", c->op, c->n);
}

/* check the success path did what it should */
static void nomem_succeeded(tu_nomem *c)
{
    crdt_lww *a = c->a, *d = c->d;

    switch (c->op) {
    case OP_SET_LARGE_DELTA:
    case OP_SET_LARGE_DELTA_FULL:
        expect_val(d, 11, 1, nomem_big, sizeof nomem_big);
        /* fall through */
    case OP_SET_LARGE:
        expect_val(a, 11, 1, nomem_big, sizeof nomem_big);
        break;
    case OP_SET_NOW_LARGE_DELTA:
        expect_val(a, crdt_hlc_pack(5000, 0), 1, nomem_big,
                   sizeof nomem_big);
        ck_assert(crdt_lww_equal(a, d));
        break;
    case OP_MERGE_LARGE:
    case OP_COPY_LARGE:
    case OP_DECODE_LARGE:
        ck_assert(crdt_lww_equal(a, c->src));
        break;
    case OP_MERGE_SMALL:
    case OP_DECODE_SMALL:
        ck_assert(crdt_lww_equal(a, d));
        break;
    case OP_CLONE_SMALL:
        ck_assert(crdt_lww_equal(c->made, d));
        break;
    case OP_CLONE_LARGE:
        ck_assert(crdt_lww_equal(c->made, c->src));
        break;
    case OP_ENCODE:
        ck_assert_uint_eq(c->out.len, c->enc.len);
        ck_assert_mem_eq(c->out.data, c->enc.data, c->enc.len);
        break;
    default:
        break;
    }
}

static void nomem_teardown(tu_nomem *c)
{
    nomem_clock *k = c->user;

    crdt_hlc_free(k->h);
    crdt_hlc_free(k->hout);
    free(k);
}

/* ops that must allocate were made to fail at least once; those
 * documented not to allocate never failed */
static int nomem_allocs(int op)
{
    switch (op) {
    case OP_SET_SMALL:
    case OP_SET_SMALL_DELTA:
    case OP_MERGE_SMALL:
    case OP_DECODE_SMALL:
        return TU_ALLOC_NEVER;
    default:
        return TU_ALLOC_MUST;
    }
}

START_TEST(test_lww_nomem_all)
{
    const tu_nomem_ops ops = {
        .type = crdt_lww_type(),
        .nops = N_OPS,
        .setup = nomem_setup,
        .call = nomem_call,
        .failed = nomem_failed,
        .succeeded = nomem_succeeded,
        .teardown = nomem_teardown,
        .allocs = nomem_allocs,
    };

    memset(nomem_big, 'B', sizeof nomem_big);
    tu_nomem_run(&ops);
}
END_TEST

static Suite *lww_suite(void)
{
    Suite *s = suite_create("lww");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_lww_basic_empty);
    tcase_add_test(tc, test_lww_basic_set);
    tcase_add_test(tc, test_lww_basic_tiebreak);
    tcase_add_test(tc, test_lww_basic_no_value_vs_empty_value);
    tcase_add_test(tc, test_lww_basic_delta);
    tcase_add_test(tc, test_lww_basic_alias);
    tcase_add_test(tc, test_lww_basic_copy_clone);
    tcase_add_test(tc, test_lww_basic_set_now);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_test(tc, test_lww_merge_cases);
    tcase_add_test(tc, test_lww_merge_no_alloc);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_lww_codec_bytes);
    tcase_add_test(tc, test_lww_codec_reject);
    tcase_add_test(tc, test_lww_codec_truncated);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_lww_property_join_laws);
    tcase_add_test(tc, test_lww_property_delta);
    tcase_add_test(tc, test_lww_property_converge);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_add_test(tc, test_lww_nomem_all);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lww_suite());
    int failed;

    tu_seed("lww"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
