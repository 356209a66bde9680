/* SPDX-License-Identifier: MIT */
/*
 * Causal delivery queue suite: delivery order and duplicates by hand,
 * bounds, waiting_for, drop, advance and stamp; a property test that
 * replays random causal-broadcast histories, reordered and duplicated,
 * against a reference (every delivery comes after its whole causal past,
 * exactly once, and everything is delivered once everything arrived);
 * and allocation-failure injection at every allocation of every call.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/causal.h>

#include "testutil.h"

/* A clock from n (actor, counter) pairs. */
static crdt_vclock *mk(size_t n, const uint64_t *pairs)
{
    crdt_vclock *vc = crdt_vclock_new(NULL);
    size_t i;

    ck_assert_ptr_nonnull(vc);
    for (i = 0; i < n; i++)
        tu_must(crdt_vclock_set(vc, pairs[2 * i], pairs[2 * i + 1]), "set");
    return vc;
}

static crdt_causal_queue *mkq(size_t max_messages, size_t max_bytes,
                              const crdt_mem *mem)
{
    crdt_causal_settings s;
    crdt_causal_queue *q = NULL;

    crdt_causal_settings_default(&s);
    if (max_messages)
        s.max_messages = max_messages;
    if (max_bytes)
        s.max_bytes = max_bytes;
    tu_must(crdt_causal_queue_new(&q, &s, mem), "new");
    return q;
}

/* Pushes a message whose payload is its name; returns the status. */
static crdt_causal_status push(crdt_causal_queue *q, crdt_actor sender,
                               size_t n, const uint64_t *pairs,
                               const char *name)
{
    crdt_vclock *vc = mk(n, pairs);
    crdt_causal_status st = (crdt_causal_status)-1;

    tu_must(crdt_causal_queue_push(q, sender, vc, name, strlen(name), &st),
            name);
    crdt_vclock_free(vc);
    return st;
}

/* Pops one message and checks its payload; NULL: expects nothing. */
static void expect_pop(crdt_causal_queue *q, const char *name)
{
    crdt_causal_msg m;
    int rv = crdt_causal_queue_pop(q, &m);

    if (!name) {
        ck_assert_int_eq(rv, CRDT_ERR_NOT_FOUND);
        return;
    }
    ck_assert_int_eq(rv, CRDT_OK);
    ck_assert_uint_eq(m.len, strlen(name));
    ck_assert_mem_eq(m.data, name, m.len);
    ck_assert_uint_eq(m.seq, crdt_vclock_get(m.stamp, m.sender));
}

static crdt_causal_stats stats(const crdt_causal_queue *q)
{
    crdt_causal_stats st;

    crdt_causal_queue_stats(q, &st);
    return st;
}

/* ---------------------------------------------------------------- basic */

START_TEST(test_causal_basic_in_order)
{
    crdt_causal_queue *q = mkq(0, 0, NULL);
    const uint64_t a1[] = {1, 1}, a2[] = {1, 2}, b1[] = {1, 2, 2, 1};
    crdt_causal_stats st;

    /* b1 depends on a1 and a2; a2 on a1 (its own sender) */
    ck_assert_int_eq(push(q, 2, 2, b1, "b1"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 1, 1, a2, "a2"), CRDT_CAUSAL_WAITING);
    expect_pop(q, NULL);
    st = stats(q);
    ck_assert_uint_eq(st.held, 2);
    ck_assert_uint_eq(st.ready, 0);
    ck_assert_uint_eq(st.bytes, 2 + 16 * 2 + 2 + 16);
    ck_assert_int_eq(push(q, 1, 1, a1, "a1"), CRDT_CAUSAL_READY);
    ck_assert_uint_eq(stats(q).ready, 1);
    expect_pop(q, "a1");
    expect_pop(q, "a2");
    expect_pop(q, "b1");
    expect_pop(q, NULL);
    ck_assert_uint_eq(crdt_causal_queue_delivered(q, 1), 2);
    ck_assert_uint_eq(crdt_causal_queue_delivered(q, 2), 1);
    ck_assert_uint_eq(crdt_causal_queue_delivered(q, 3), 0);
    st = stats(q);
    ck_assert_uint_eq(st.held, 0);
    ck_assert_uint_eq(st.bytes, 0);
    ck_assert_uint_eq(st.accepted, 3);
    ck_assert_uint_eq(st.delivered, 3);
    ck_assert_uint_eq(st.duplicates, 0);
    crdt_causal_queue_free(q);
}
END_TEST

START_TEST(test_causal_basic_concurrent_fifo)
{
    crdt_causal_queue *q = mkq(0, 0, NULL);
    const uint64_t a1[] = {1, 1}, b1[] = {1, 1, 2, 1}, c1[] = {1, 1, 3, 1};
    const uint64_t d1[] = {1, 1, 4, 1};

    /* three concurrent messages wait for a1: they become deliverable
     * together, in the order they arrived */
    ck_assert_int_eq(push(q, 3, 2, c1, "c1"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 2, 2, b1, "b1"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 4, 2, d1, "d1"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 1, 1, a1, "a1"), CRDT_CAUSAL_READY);
    expect_pop(q, "a1");
    ck_assert_uint_eq(stats(q).ready, 3);
    expect_pop(q, "c1");
    expect_pop(q, "b1");
    expect_pop(q, "d1");
    expect_pop(q, NULL);
    crdt_causal_queue_free(q);
}
END_TEST

START_TEST(test_causal_basic_duplicates)
{
    crdt_causal_queue *q = mkq(0, 0, NULL);
    const uint64_t a1[] = {1, 1}, a2[] = {1, 2}, a2x[] = {1, 2, 9, 9};
    crdt_causal_stats st;

    ck_assert_int_eq(push(q, 1, 1, a2, "a2"), CRDT_CAUSAL_WAITING);
    /* held: the same dot again, even with another stamp and payload */
    ck_assert_int_eq(push(q, 1, 1, a2, "a2"), CRDT_CAUSAL_DUPLICATE);
    ck_assert_int_eq(push(q, 1, 2, a2x, "zz"), CRDT_CAUSAL_DUPLICATE);
    ck_assert_int_eq(push(q, 1, 1, a1, "a1"), CRDT_CAUSAL_READY);
    ck_assert_int_eq(push(q, 1, 1, a1, "a1"), CRDT_CAUSAL_DUPLICATE);
    expect_pop(q, "a1");
    /* delivered */
    ck_assert_int_eq(push(q, 1, 1, a1, "a1"), CRDT_CAUSAL_DUPLICATE);
    expect_pop(q, "a2");
    ck_assert_int_eq(push(q, 1, 1, a2, "a2"), CRDT_CAUSAL_DUPLICATE);
    expect_pop(q, NULL);
    st = stats(q);
    ck_assert_uint_eq(st.duplicates, 5);
    ck_assert_uint_eq(st.accepted, 2);
    ck_assert_uint_eq(st.delivered, 2);
    ck_assert_uint_eq(st.held, 0);
    /* status may be NULL */
    {
        crdt_vclock *vc = mk(1, a1);

        ck_assert_int_eq(crdt_causal_queue_push(q, 1, vc, "x", 1, NULL),
                         CRDT_OK);
        crdt_vclock_free(vc);
    }
    ck_assert_uint_eq(stats(q).duplicates, 6);
    crdt_causal_queue_free(q);
}
END_TEST

START_TEST(test_causal_basic_args)
{
    crdt_causal_settings s;
    crdt_causal_queue *q = NULL;
    const uint64_t p[] = {1, 1, 2, 3};
    crdt_vclock *vc = mk(2, p), *out = crdt_vclock_new(NULL);
    crdt_causal_status st = CRDT_CAUSAL_READY;
    crdt_causal_msg m;
    size_t n = 7;

    crdt_causal_settings_default(&s);
    ck_assert_uint_eq(s.version, CRDT_CAUSAL_SETTINGS_VERSION);
    ck_assert_uint_eq(s.max_messages, CRDT_CAUSAL_DEFAULT_MAX_MESSAGES);
    ck_assert_uint_eq(s.max_bytes, CRDT_CAUSAL_DEFAULT_MAX_BYTES);
    crdt_causal_settings_default(NULL);
    ck_assert_int_eq(crdt_causal_queue_new(NULL, &s, NULL),
                     CRDT_ERR_INVALID_ARG);
    s.version = 99;
    ck_assert_int_eq(crdt_causal_queue_new(&q, &s, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(q);
    crdt_causal_settings_default(&s);
    s.max_messages = 0;
    ck_assert_int_eq(crdt_causal_queue_new(&q, &s, NULL),
                     CRDT_ERR_INVALID_ARG);
    crdt_causal_settings_default(&s);
    s.max_bytes = 0;
    ck_assert_int_eq(crdt_causal_queue_new(&q, &s, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_new(&q, NULL, NULL), CRDT_OK);

    ck_assert_int_eq(crdt_causal_queue_push(NULL, 1, vc, "", 0, &st),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_push(q, 1, NULL, "", 0, &st),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_push(q, 1, vc, NULL, 1, &st),
                     CRDT_ERR_INVALID_ARG);
    /* the sender must have an entry in its own stamp */
    ck_assert_int_eq(crdt_causal_queue_push(q, 3, vc, "", 0, &st),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(st, CRDT_CAUSAL_READY); /* not written */
    ck_assert_int_eq(crdt_causal_queue_push(q, 2, vc, NULL, 0, &st),
                     CRDT_OK);
    ck_assert_int_eq(st, CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(crdt_causal_queue_pop(NULL, &m), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_pop(q, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_stamp(NULL, 1, out),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_stamp(q, 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_clock(NULL, out),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_clock(q, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_advance(NULL, vc),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_advance(q, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_drop(NULL, 1, &n),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_waiting_for(NULL, NULL, 0, &n),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_waiting_for(q, NULL, 0, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_causal_queue_waiting_for(q, NULL, 1, &n),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(n, 7);
    ck_assert_uint_eq(crdt_causal_queue_delivered(NULL, 1), 0);
    crdt_causal_queue_stats(NULL, NULL);
    crdt_causal_queue_free(NULL);
    crdt_causal_queue_free(q); /* frees the held message */
    crdt_vclock_free(vc);
    crdt_vclock_free(out);
}
END_TEST

START_TEST(test_causal_basic_message_view)
{
    crdt_causal_queue *q = mkq(0, 0, NULL);
    const uint64_t a1[] = {1, 1, 7, 0}, b1[] = {1, 1, 2, 1};
    crdt_vclock *s1 = mk(1, a1), *s2 = mk(2, b1);
    uint8_t big[1000];
    crdt_causal_msg m;

    memset(big, 0xab, sizeof big);
    tu_must(crdt_causal_queue_push(q, 2, s2, big, sizeof big, NULL), "b1");
    tu_must(crdt_causal_queue_push(q, 1, s1, NULL, 0, NULL), "a1");
    crdt_vclock_free(s1); /* copied */
    ck_assert_int_eq(crdt_causal_queue_pop(q, &m), CRDT_OK);
    ck_assert_uint_eq(m.sender, 1);
    ck_assert_uint_eq(m.seq, 1);
    ck_assert_uint_eq(m.len, 0);
    ck_assert_ptr_null(m.data);
    ck_assert_uint_eq(crdt_vclock_size(m.stamp), 1);
    ck_assert_int_eq(crdt_causal_queue_pop(q, &m), CRDT_OK);
    ck_assert_uint_eq(m.sender, 2);
    ck_assert(crdt_vclock_equal(m.stamp, s2));
    ck_assert_uint_eq(m.len, sizeof big);
    ck_assert_mem_eq(m.data, big, sizeof big);
    crdt_vclock_free(s2);
    crdt_causal_queue_free(q); /* frees the popped message too */
}
END_TEST

/* --------------------------------------------------------------- bounds */

START_TEST(test_causal_bounds_messages)
{
    crdt_causal_queue *q = mkq(3, 0, NULL);
    const uint64_t a1[] = {1, 1}, a2[] = {1, 2}, a3[] = {1, 3}, a4[] = {1, 4};
    const uint64_t a5[] = {1, 5}, b1[] = {2, 1}, c1[] = {3, 1};
    const uint64_t d1[] = {4, 1}, e1[] = {5, 1};
    crdt_vclock *vc = mk(1, a5);
    crdt_causal_stats st;

    ck_assert_int_eq(push(q, 1, 1, a2, "a2"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 1, 1, a3, "a3"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 1, 1, a4, "a4"), CRDT_CAUSAL_WAITING);
    /* full: a waiting message is refused */
    ck_assert_int_eq(crdt_causal_queue_push(q, 1, vc, "a5", 2, NULL),
                     CRDT_ERR_LIMIT);
    st = stats(q);
    ck_assert_uint_eq(st.rejected, 1);
    ck_assert_uint_eq(st.held, 3);
    /* a duplicate is still recognised as one */
    ck_assert_int_eq(push(q, 1, 1, a3, "a3"), CRDT_CAUSAL_DUPLICATE);
    /* but a deliverable one is taken (what the others wait for), up to
     * max_messages ready ones */
    ck_assert_int_eq(push(q, 2, 1, b1, "b1"), CRDT_CAUSAL_READY);
    ck_assert_int_eq(push(q, 3, 1, c1, "c1"), CRDT_CAUSAL_READY);
    ck_assert_int_eq(push(q, 1, 1, a1, "a1"), CRDT_CAUSAL_READY);
    crdt_vclock_free(vc);
    vc = mk(1, d1);
    ck_assert_int_eq(crdt_causal_queue_push(q, 4, vc, "d1", 2, NULL),
                     CRDT_ERR_LIMIT);
    st = stats(q);
    ck_assert_uint_eq(st.held, 6); /* twice the bound at most */
    ck_assert_uint_eq(st.ready, 3);
    ck_assert_uint_eq(st.rejected, 2);
    expect_pop(q, "b1");
    ck_assert_int_eq(push(q, 5, 1, e1, "e1"), CRDT_CAUSAL_READY);
    expect_pop(q, "c1");
    expect_pop(q, "a1");
    expect_pop(q, "e1");
    expect_pop(q, "a2");
    expect_pop(q, "a3");
    expect_pop(q, "a4");
    expect_pop(q, NULL);
    ck_assert_int_eq(push(q, 1, 1, a5, "a5"), CRDT_CAUSAL_READY);
    crdt_vclock_free(vc);
    crdt_causal_queue_free(q);
}
END_TEST

START_TEST(test_causal_bounds_bytes)
{
    /* each message counts 10 payload bytes + 16 per stamp entry */
    crdt_causal_queue *q = mkq(0, 60, NULL);
    const uint64_t a2[] = {1, 2}, a3[] = {1, 3}, a1[] = {1, 1};
    const uint64_t b1[] = {1, 1, 2, 1}, c1[] = {3, 1};
    crdt_vclock *v3 = mk(1, a3), *vb = mk(2, b1), *vc1 = mk(1, c1);
    crdt_vclock *va1 = mk(1, a1);
    uint8_t pay[61] = {0};
    crdt_causal_status st;

    ck_assert_int_eq(push(q, 1, 1, a2, "0123456789"), CRDT_CAUSAL_WAITING);
    ck_assert_uint_eq(stats(q).bytes, 26);
    ck_assert_int_eq(push(q, 1, 1, a3, "0123456789"), CRDT_CAUSAL_WAITING);
    ck_assert_uint_eq(stats(q).bytes, 52);
    ck_assert_int_eq(crdt_causal_queue_push(q, 2, vb, pay, 10, &st),
                     CRDT_ERR_LIMIT); /* 52 + 42 > 60 */
    /* larger than max_bytes: never, even when deliverable */
    ck_assert_int_eq(crdt_causal_queue_push(q, 3, vc1, pay, 45, &st),
                     CRDT_ERR_LIMIT);
    ck_assert_int_eq(crdt_causal_queue_push(q, 3, vc1, pay, 44, &st),
                     CRDT_OK); /* 60: fits the ready budget */
    ck_assert_int_eq(st, CRDT_CAUSAL_READY);
    ck_assert_uint_eq(stats(q).bytes, 112);
    /* the ready budget is full now: a1 must wait for a pop */
    ck_assert_int_eq(crdt_causal_queue_push(q, 1, va1, "a1", 2, &st),
                     CRDT_ERR_LIMIT);
    ck_assert_uint_eq(stats(q).rejected, 3);
    {
        crdt_causal_msg m;

        ck_assert_int_eq(crdt_causal_queue_pop(q, &m), CRDT_OK);
        ck_assert_uint_eq(m.sender, 3);
    }
    ck_assert_int_eq(crdt_causal_queue_push(q, 1, va1, "a1", 2, &st),
                     CRDT_OK);
    ck_assert_int_eq(st, CRDT_CAUSAL_READY);
    expect_pop(q, "a1");
    expect_pop(q, "0123456789");
    expect_pop(q, "0123456789");
    expect_pop(q, NULL);
    ck_assert_uint_eq(stats(q).bytes, 0);
    crdt_causal_queue_free(q);
    crdt_vclock_free(v3);
    crdt_vclock_free(vb);
    crdt_vclock_free(vc1);
    crdt_vclock_free(va1);
}
END_TEST

/* ----------------------------------------------------------- waiting_for */

START_TEST(test_causal_waiting_for_gaps)
{
    crdt_causal_queue *q = mkq(0, 0, NULL);
    /* a5 held (needs a1..a4); a3 held; b2 needs a7 and c2 */
    const uint64_t a5[] = {1, 5}, a3[] = {1, 3};
    const uint64_t b2[] = {1, 7, 2, 2, 3, 2};
    crdt_causal_gap g[8];
    size_t n = 99;

    tu_must(crdt_causal_queue_waiting_for(q, g, 8, &n), "wf");
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(push(q, 1, 1, a5, "a5"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 1, 1, a3, "a3"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 2, 3, b2, "b2"), CRDT_CAUSAL_WAITING);
    tu_must(crdt_causal_queue_waiting_for(q, NULL, 0, &n), "wf");
    ck_assert_uint_eq(n, 5);
    tu_must(crdt_causal_queue_waiting_for(q, g, 2, &n), "wf");
    ck_assert_uint_eq(n, 5);
    tu_must(crdt_causal_queue_waiting_for(q, g, 8, &n), "wf");
    ck_assert_uint_eq(n, 5);
    /* a: 1..2, 4..4, 6..7 (5 held, 3 held); b: 1..1; c: 1..2 */
    ck_assert_uint_eq(g[0].actor, 1);
    ck_assert_uint_eq(g[0].first, 1);
    ck_assert_uint_eq(g[0].last, 2);
    ck_assert_uint_eq(g[1].first, 4);
    ck_assert_uint_eq(g[1].last, 4);
    ck_assert_uint_eq(g[2].first, 6);
    ck_assert_uint_eq(g[2].last, 7);
    ck_assert_uint_eq(g[3].actor, 2);
    ck_assert_uint_eq(g[3].first, 1);
    ck_assert_uint_eq(g[3].last, 1);
    ck_assert_uint_eq(g[4].actor, 3);
    ck_assert_uint_eq(g[4].first, 1);
    ck_assert_uint_eq(g[4].last, 2);
    crdt_causal_queue_free(q);
}
END_TEST

/* --------------------------------------------------- drop, advance, stamp */

START_TEST(test_causal_drop_sender)
{
    crdt_causal_queue *q = mkq(0, 0, NULL);
    const uint64_t a2[] = {1, 2}, a3[] = {1, 3}, b1[] = {1, 3, 2, 1};
    const uint64_t c1[] = {3, 1};
    size_t n = 0;
    crdt_causal_stats st;

    ck_assert_int_eq(push(q, 1, 1, a2, "a2"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 1, 1, a3, "a3"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 2, 2, b1, "b1"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 3, 1, c1, "c1"), CRDT_CAUSAL_READY);
    tu_must(crdt_causal_queue_drop(q, 1, &n), "drop");
    ck_assert_uint_eq(n, 2);
    tu_must(crdt_causal_queue_drop(q, 3, &n), "drop"); /* ready: kept */
    ck_assert_uint_eq(n, 0);
    tu_must(crdt_causal_queue_drop(q, 9, NULL), "drop");
    st = stats(q);
    ck_assert_uint_eq(st.held, 2);
    ck_assert_uint_eq(st.dropped, 2);
    ck_assert_uint_eq(st.bytes, 2 + 32 + 2 + 16);
    /* dropped dots can be pushed again */
    ck_assert_int_eq(push(q, 1, 1, a3, "a3"), CRDT_CAUSAL_WAITING);
    expect_pop(q, "c1");
    expect_pop(q, NULL);
    tu_must(crdt_causal_queue_drop(q, 2, &n), "drop");
    ck_assert_uint_eq(n, 1);
    crdt_causal_queue_free(q);
}
END_TEST

START_TEST(test_causal_advance)
{
    crdt_causal_queue *q = mkq(0, 0, NULL);
    const uint64_t a2[] = {1, 2}, a4[] = {1, 4}, b1[] = {1, 3, 2, 1};
    const uint64_t c1[] = {3, 1, 4, 2}, snap[] = {1, 3, 4, 5};
    crdt_vclock *vc = mk(2, snap), *clk = crdt_vclock_new(NULL);
    crdt_causal_stats st;

    ck_assert_int_eq(push(q, 1, 1, a2, "a2"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 1, 1, a4, "a4"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 2, 2, b1, "b1"), CRDT_CAUSAL_WAITING);
    ck_assert_int_eq(push(q, 3, 2, c1, "c1"), CRDT_CAUSAL_WAITING);
    /* a snapshot that has a1..a3 and d1..d5: a2 goes, a4, b1 and c1
     * become deliverable, oldest first */
    tu_must(crdt_causal_queue_advance(q, vc), "advance");
    st = stats(q);
    ck_assert_uint_eq(st.dropped, 1);
    ck_assert_uint_eq(st.held, 3);
    ck_assert_uint_eq(st.ready, 3);
    ck_assert_uint_eq(crdt_causal_queue_delivered(q, 1), 3);
    ck_assert_uint_eq(crdt_causal_queue_delivered(q, 4), 5);
    expect_pop(q, "a4");
    expect_pop(q, "b1");
    expect_pop(q, "c1");
    expect_pop(q, NULL);
    tu_must(crdt_causal_queue_clock(q, clk), "clock");
    {
        const uint64_t want[] = {1, 4, 2, 1, 3, 1, 4, 5};
        crdt_vclock *w = mk(4, want);

        ck_assert(crdt_vclock_equal(clk, w));
        crdt_vclock_free(w);
    }
    /* advancing backwards changes nothing */
    tu_must(crdt_causal_queue_advance(q, vc), "advance");
    ck_assert_uint_eq(crdt_causal_queue_delivered(q, 1), 4);
    crdt_vclock_free(vc);
    crdt_vclock_free(clk);
    crdt_causal_queue_free(q);
}
END_TEST

START_TEST(test_causal_stamp_local)
{
    crdt_causal_queue *p = mkq(0, 0, NULL), *r = mkq(0, 0, NULL);
    crdt_vclock *s1 = crdt_vclock_new(NULL), *s2 = crdt_vclock_new(NULL);
    crdt_vclock *s3 = crdt_vclock_new(NULL), *clk = crdt_vclock_new(NULL);
    const uint64_t x1[] = {5, 1};
    crdt_causal_status st;

    /* p sends m1, delivers x1 from 5, sends m2: m2 depends on x1 */
    tu_must(crdt_causal_queue_stamp(p, 1, s1), "stamp");
    ck_assert_uint_eq(crdt_vclock_get(s1, 1), 1);
    ck_assert_uint_eq(crdt_vclock_size(s1), 1);
    ck_assert_int_eq(push(p, 5, 1, x1, "x1"), CRDT_CAUSAL_READY);
    expect_pop(p, "x1");
    tu_must(crdt_causal_queue_stamp(p, 1, s2), "stamp");
    ck_assert_uint_eq(crdt_vclock_get(s2, 1), 2);
    ck_assert_uint_eq(crdt_vclock_get(s2, 5), 1);
    tu_must(crdt_causal_queue_clock(p, clk), "clock");
    ck_assert(crdt_vclock_equal(clk, s2));
    /* an echo of p's own message is a duplicate at p */
    tu_must(crdt_causal_queue_push(p, 1, s1, "m1", 2, &st), "echo");
    ck_assert_int_eq(st, CRDT_CAUSAL_DUPLICATE);

    /* r gets m2, then m1, then x1 */
    tu_must(crdt_causal_queue_push(r, 1, s2, "m2", 2, &st), "m2");
    ck_assert_int_eq(st, CRDT_CAUSAL_WAITING);
    tu_must(crdt_causal_queue_push(r, 1, s1, "m1", 2, &st), "m1");
    ck_assert_int_eq(st, CRDT_CAUSAL_READY);
    expect_pop(r, "m1");
    expect_pop(r, NULL);
    ck_assert_int_eq(push(r, 5, 1, x1, "x1"), CRDT_CAUSAL_READY);
    expect_pop(r, "x1");
    expect_pop(r, "m2");

    /* r stamping as 7 while 7's messages are held (an actor id reused)
     * releases what waited for the stamped dot */
    tu_must(crdt_causal_queue_stamp(r, 7, s3), "stamp");
    {
        const uint64_t y2[] = {7, 3}, z1[] = {7, 2, 8, 1};

        ck_assert_int_eq(push(r, 7, 1, y2, "y3"), CRDT_CAUSAL_WAITING);
        ck_assert_int_eq(push(r, 8, 2, z1, "z1"), CRDT_CAUSAL_WAITING);
        tu_must(crdt_causal_queue_stamp(r, 7, s3), "stamp");
        ck_assert_uint_eq(crdt_vclock_get(s3, 7), 2);
        expect_pop(r, "y3");
        expect_pop(r, "z1");
    }
    {
        /* a ready copy of the dot stamped next is discarded too */
        const uint64_t y4[] = {7, 4};

        ck_assert_int_eq(push(r, 7, 1, y4, "y4"), CRDT_CAUSAL_READY);
        ck_assert_uint_eq(stats(r).dropped, 0);
        tu_must(crdt_causal_queue_stamp(r, 7, s3), "stamp");
        ck_assert_uint_eq(crdt_vclock_get(s3, 7), 4);
        ck_assert_uint_eq(stats(r).ready, 0);
        ck_assert_uint_eq(stats(r).held, 0);
        ck_assert_uint_eq(stats(r).dropped, 1);
        expect_pop(r, NULL);
    }
    tu_must(crdt_vclock_set(clk, 9, UINT64_MAX), "set");
    tu_must(crdt_causal_queue_advance(r, clk), "advance");
    ck_assert_int_eq(crdt_causal_queue_stamp(r, 9, s3), CRDT_ERR_OVERFLOW);
    crdt_vclock_free(s1);
    crdt_vclock_free(s2);
    crdt_vclock_free(s3);
    crdt_vclock_free(clk);
    crdt_causal_queue_free(p);
    crdt_causal_queue_free(r);
}
END_TEST

/* ------------------------------------------------------------- property */

/*
 * A random causal-broadcast history: NP processes, each with a delivered
 * clock, take turns to send (stamp: its clock with its own entry + 1) or
 * to deliver a message of another process that is deliverable there.  The
 * queue under test is an outside observer that receives every message in
 * a random order, some several times, pops at random moments, and now and
 * then advances past a message (as after a snapshot).
 */
#define NP 5
#define MAXM 48

typedef struct hmsg {
    int from;            /* process index */
    uint64_t v[NP];      /* stamp */
    crdt_vclock *stamp;
    char pay[24];
    size_t len;
} hmsg;

typedef struct history {
    int np;
    int nm;
    crdt_actor actor[NP]; /* process -> actor id */
    hmsg m[MAXM];
} history;

static bool ref_can_deliver(const uint64_t *d, const hmsg *m, int np)
{
    int k;

    for (k = 0; k < np; k++) {
        if (k == m->from ? m->v[k] != d[k] + 1 : m->v[k] > d[k])
            return false;
    }
    return true;
}

/* m[i] happened before m[j]: v_i <= v_j pointwise and i != j. */
static bool hb(const history *h, int i, int j)
{
    int k;

    if (i == j)
        return false;
    for (k = 0; k < h->np; k++)
        if (h->m[i].v[k] > h->m[j].v[k])
            return false;
    return true;
}

static void gen_history(tu_rng *r, history *h)
{
    uint64_t d[NP][NP];
    bool got[NP][MAXM];
    int target, p, i, k;

    memset(h, 0, sizeof *h);
    memset(d, 0, sizeof d);
    memset(got, 0, sizeof got);
    h->np = 2 + (int)tu_below(r, NP - 1);
    target = 1 + (int)tu_below(r, MAXM);
    for (p = 0; p < h->np; p++) /* small ids sometimes: order matters */
        h->actor[p] = tu_below(r, 2) ? (crdt_actor)(p + 1) * 3
                                     : tu_splitmix(tu_rand(r));
    if (h->np > 1 && h->actor[0] == h->actor[1])
        h->actor[1]++;
    while (h->nm < target) {
        p = (int)tu_below(r, (uint64_t)h->np);
        if (tu_below(r, 3) == 0) {
            hmsg *m = &h->m[h->nm];

            d[p][p]++;
            got[p][h->nm] = true;
            m->from = p;
            memcpy(m->v, d[p], sizeof m->v);
            m->len = (size_t)snprintf(m->pay, sizeof m->pay, "m%d/%d",
                                      h->nm, (int)tu_below(r, 1000));
            if (tu_below(r, 8) == 0)
                m->len = 0;
            h->nm++;
        } else {
            /* deliver at p a random deliverable message */
            for (i = 0; i < h->nm; i++) {
                int j = (int)((tu_below(r, (uint64_t)h->nm) + (uint64_t)i) %
                              (uint64_t)h->nm);

                if (!got[p][j] && ref_can_deliver(d[p], &h->m[j], h->np)) {
                    d[p][h->m[j].from] = h->m[j].v[h->m[j].from];
                    got[p][j] = true;
                    break;
                }
            }
        }
    }
    for (i = 0; i < h->nm; i++) {
        h->m[i].stamp = crdt_vclock_new(NULL);
        for (k = 0; k < h->np; k++)
            if (h->m[i].v[k])
                tu_must(crdt_vclock_set(h->m[i].stamp, h->actor[k],
                                        h->m[i].v[k]),
                        "stamp");
    }
}

static void free_history(history *h)
{
    int i;

    for (i = 0; i < h->nm; i++)
        crdt_vclock_free(h->m[i].stamp);
}

/* What the reference knows of the queue. */
typedef struct ref {
    uint64_t d[NP];      /* delivered clock */
    bool held[MAXM];
    bool done[MAXM];     /* delivered or advanced past */
} ref;

static int proc_of(const history *h, crdt_actor a)
{
    int p;

    for (p = 0; p < h->np; p++)
        if (h->actor[p] == a)
            return p;
    return -1;
}

/* The reference gaps, by brute force over counters. */
static size_t ref_gaps(const history *h, const ref *rf, crdt_causal_gap *g,
                       size_t cap)
{
    size_t n = 0;
    int order[NP], p, i, k, t;

    /* processes in ascending actor order */
    for (p = 0; p < h->np; p++)
        order[p] = p;
    for (i = 1; i < h->np; i++)
        for (k = i; k > 0 && h->actor[order[k - 1]] > h->actor[order[k]];
             k--) {
            t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    for (t = 0; t < h->np; t++) {
        uint64_t maxneed = 0, c;
        bool in = false;

        p = order[t];
        for (i = 0; i < h->nm; i++) {
            const hmsg *m = &h->m[i];
            uint64_t need;

            if (!rf->held[i] || ref_can_deliver(rf->d, m, h->np))
                continue;
            need = m->from == p ? m->v[p] - 1 : m->v[p];
            if (need > maxneed)
                maxneed = need;
        }
        for (c = rf->d[p] + 1; c <= maxneed + 1; c++) {
            bool held = false, missing;

            for (i = 0; i < h->nm; i++)
                if (rf->held[i] && h->m[i].from == p && h->m[i].v[p] == c)
                    held = true;
            missing = c <= maxneed && !held;
            if (missing && !in) {
                if (n < cap) {
                    g[n].actor = h->actor[p];
                    g[n].first = c;
                }
                in = true;
            } else if (!missing && in) {
                if (n < cap)
                    g[n].last = c - 1;
                n++;
                in = false;
            }
        }
    }
    return n;
}

static void check_waiting_for(const crdt_causal_queue *q, const history *h,
                              const ref *rf, long k)
{
    crdt_causal_gap got[MAXM + NP], want[MAXM + NP];
    size_t n = 0, nw = ref_gaps(h, rf, want, MAXM + NP), i;

    tu_must_k(crdt_causal_queue_waiting_for(q, got, MAXM + NP, &n),
              "waiting_for", k);
    if (n != nw)
        ck_abort_msg("case %ld: waiting_for gives %zu gaps, want %zu", k, n,
                     nw);
    for (i = 0; i < n; i++)
        if (got[i].actor != want[i].actor || got[i].first != want[i].first ||
            got[i].last != want[i].last)
            ck_abort_msg("case %ld: gap %zu is (%llu, %llu..%llu), want "
                         "(%llu, %llu..%llu)",
                         k, i, (unsigned long long)got[i].actor,
                         (unsigned long long)got[i].first,
                         (unsigned long long)got[i].last,
                         (unsigned long long)want[i].actor,
                         (unsigned long long)want[i].first,
                         (unsigned long long)want[i].last);
}

/* Pops one message and checks it against the reference. */
static bool pop_check(crdt_causal_queue *q, const history *h, ref *rf,
                      long k)
{
    crdt_causal_msg m;
    int rv = crdt_causal_queue_pop(q, &m), p, i = -1, j;
    bool any = false;

    for (j = 0; j < h->nm; j++)
        if (rf->held[j] && ref_can_deliver(rf->d, &h->m[j], h->np))
            any = true;
    if (rv == CRDT_ERR_NOT_FOUND) {
        tu_expect_k(!any, "pop found nothing, but a message is deliverable",
                    k);
        return false;
    }
    tu_must_k(rv, "pop", k);
    p = proc_of(h, m.sender);
    tu_expect_k(p >= 0, "pop: unknown sender", k);
    for (j = 0; j < h->nm; j++)
        if (h->m[j].from == p && h->m[j].v[p] == m.seq)
            i = j;
    tu_expect_k(i >= 0, "pop: unknown message", k);
    tu_expect_k(rf->held[i] && !rf->done[i], "delivered twice or not held",
                k);
    tu_expect_k(m.len == h->m[i].len &&
                    (m.len == 0 || memcmp(m.data, h->m[i].pay, m.len) == 0),
                "payload", k);
    tu_expect_k(crdt_vclock_equal(m.stamp, h->m[i].stamp), "stamp", k);
    /* causal order: its whole causal past is delivered (or advanced
     * past) already */
    for (j = 0; j < h->nm; j++)
        if (hb(h, j, i) && !rf->done[j])
            ck_abort_msg("case %ld: m%d delivered before m%d, which "
                         "happened before it", k, i, j);
    tu_expect_k(ref_can_deliver(rf->d, &h->m[i], h->np), "can_deliver", k);
    rf->held[i] = false;
    rf->done[i] = true;
    rf->d[p] = m.seq;
    return true;
}

START_TEST(test_causal_property_reorder)
{
    tu_rng rng;
    long ncases = tu_cases(3000), k;
    crdt_vclock *probe = crdt_vclock_new(NULL);

    tu_rng_init(&rng, tu_seed("causal") ^ 0x11);
    for (k = 0; k < ncases; k++) {
        history h;
        ref rf;
        int order[4 * MAXM], n = 0, i, j, t;
        crdt_causal_queue *q = mkq(0, 0, NULL);
        crdt_causal_stats st;
        uint64_t dups = 0;

        gen_history(&rng, &h);
        memset(&rf, 0, sizeof rf);
        /* every message once, some up to three times, shuffled */
        for (i = 0; i < h.nm; i++) {
            int copies = 1 + (tu_below(&rng, 4) == 0) +
                         (tu_below(&rng, 8) == 0);

            for (j = 0; j < copies; j++)
                order[n++] = i;
        }
        for (i = n - 1; i > 0; i--) {
            j = (int)tu_below(&rng, (uint64_t)i + 1);
            t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (t = 0; t < n; t++) {
            const hmsg *m = &h.m[order[t]];
            crdt_causal_status s = (crdt_causal_status)-1;
            bool dup = rf.done[order[t]] || rf.held[order[t]];
            bool ready = !dup && ref_can_deliver(rf.d, m, h.np);

            tu_must_k(crdt_causal_queue_push(q, h.actor[m->from], m->stamp,
                                             m->pay, m->len, &s),
                      "push", k);
            if (dup) {
                tu_expect_k(s == CRDT_CAUSAL_DUPLICATE, "not a duplicate", k);
                dups++;
            } else {
                tu_expect_k(s == (ready ? CRDT_CAUSAL_READY
                                        : CRDT_CAUSAL_WAITING),
                            "push status", k);
                rf.held[order[t]] = true;
            }
            /* pop a few, or all */
            switch (tu_below(&rng, 4)) {
            case 0:
                break;
            case 1:
                (void)pop_check(q, &h, &rf, k);
                break;
            default:
                while (pop_check(q, &h, &rf, k))
                    ;
            }
            if (tu_below(&rng, 4) == 0)
                check_waiting_for(q, &h, &rf, k);
            /* now and then: a snapshot covering some message's past */
            if (tu_below(&rng, 40) == 0) {
                int x = (int)tu_below(&rng, (uint64_t)h.nm), p;

                tu_must_k(crdt_causal_queue_advance(q, h.m[x].stamp),
                          "advance", k);
                for (p = 0; p < h.np; p++)
                    if (h.m[x].v[p] > rf.d[p])
                        rf.d[p] = h.m[x].v[p];
                for (i = 0; i < h.nm; i++)
                    if (h.m[i].v[h.m[i].from] <= rf.d[h.m[i].from]) {
                        rf.held[i] = false;
                        rf.done[i] = true;
                    }
                check_waiting_for(q, &h, &rf, k);
            }
            crdt_causal_queue_stats(q, &st);
            {
                uint64_t nheld = 0, nready = 0;

                for (i = 0; i < h.nm; i++)
                    if (rf.held[i]) {
                        nheld++;
                        nready += ref_can_deliver(rf.d, &h.m[i], h.np);
                    }
                tu_expect_k(st.held == nheld, "stats.held", k);
                tu_expect_k(st.ready == nready, "stats.ready", k);
            }
        }
        /* everything arrived: everything is delivered */
        while (pop_check(q, &h, &rf, k))
            ;
        for (i = 0; i < h.nm; i++)
            tu_expect_k(rf.done[i], "a message was never delivered", k);
        crdt_causal_queue_stats(q, &st);
        tu_expect_k(st.held == 0 && st.bytes == 0 && st.ready == 0,
                    "queue not empty", k);
        tu_expect_k(st.duplicates == dups, "stats.duplicates", k);
        tu_expect_k(st.accepted == st.delivered + st.dropped,
                    "accepted == delivered + dropped", k);
        tu_must_k(crdt_causal_queue_clock(q, probe), "clock", k);
        for (i = 0; i < h.np; i++)
            tu_expect_k(crdt_vclock_get(probe, h.actor[i]) == rf.d[i],
                        "clock", k);
        crdt_causal_queue_free(q);
        free_history(&h);
    }
    crdt_vclock_free(probe);
}
END_TEST

/*
 * Many senders and long stamps through the hash table, with a bound: the
 * causally first missing message is always accepted, so feeding back what
 * was refused eventually delivers everything.
 */
START_TEST(test_causal_property_bounded)
{
    tu_rng rng;
    long ncases = tu_cases(3000) / 10 + 1, k;

    tu_rng_init(&rng, tu_seed("causal") ^ 0x22);
    for (k = 0; k < ncases; k++) {
        history h;
        ref rf;
        int pending[MAXM], np = 0, i, j, t, rounds = 0;
        crdt_causal_queue *q = mkq(1 + tu_below(&rng, 6), 0, NULL);

        gen_history(&rng, &h);
        memset(&rf, 0, sizeof rf);
        for (i = 0; i < h.nm; i++)
            pending[np++] = i;
        while (np > 0) {
            tu_expect_k(++rounds < 100000, "no progress", k);
            j = (int)tu_below(&rng, (uint64_t)np);
            i = pending[j];
            {
                crdt_causal_status s;
                int rv = crdt_causal_queue_push(q, h.actor[h.m[i].from],
                                                h.m[i].stamp, h.m[i].pay,
                                                h.m[i].len, &s);

                if (rv == CRDT_OK) {
                    if (s != CRDT_CAUSAL_DUPLICATE)
                        rf.held[i] = true;
                    pending[j] = pending[--np];
                } else {
                    tu_expect_k(rv == CRDT_ERR_LIMIT, "push", k);
                }
            }
            if (tu_below(&rng, 2))
                while (pop_check(q, &h, &rf, k))
                    ;
        }
        while (pop_check(q, &h, &rf, k))
            ;
        for (t = 0; t < h.nm; t++)
            tu_expect_k(rf.done[t], "never delivered", k);
        crdt_causal_queue_free(q);
        free_history(&h);
    }
}
END_TEST

/* ---------------------------------------------------------------- nomem */

/* What a caller can observe of a queue. */
typedef struct observed {
    crdt_causal_stats st;
    crdt_vclock *clock;
    crdt_causal_gap gaps[16];
    size_t ngaps;
} observed;

static void observe(const crdt_causal_queue *q, observed *o)
{
    o->clock = crdt_vclock_new(NULL);
    tu_must(crdt_causal_queue_clock(q, o->clock), "clock");
    crdt_causal_queue_stats(q, &o->st);
    tu_must(crdt_causal_queue_waiting_for(q, o->gaps, 16, &o->ngaps), "wf");
}

static void expect_same(const observed *a, const observed *b,
                        const char *what, long n)
{
    if (!crdt_vclock_equal(a->clock, b->clock) ||
        a->st.held != b->st.held || a->st.ready != b->st.ready ||
        a->st.bytes != b->st.bytes || a->st.accepted != b->st.accepted ||
        a->st.delivered != b->st.delivered ||
        a->st.duplicates != b->st.duplicates ||
        a->st.dropped != b->st.dropped || a->ngaps != b->ngaps ||
        memcmp(a->gaps, b->gaps,
               (a->ngaps < 16 ? a->ngaps : 16) * sizeof a->gaps[0]) != 0)
        ck_abort_msg("%s: n=%ld: queue changed by a failed call", what, n);
}

enum { NM_NEW, NM_PUSH_READY, NM_PUSH_WAIT, NM_PUSH_NEWSENDER, NM_STAMP,
       NM_STAMP_NEW, NM_CLOCK, NM_ADVANCE, NM_WAITING_FOR, NM_POP, NM_DROP,
       NM_COUNT };

static const char *const nm_names[NM_COUNT] = {
    "new", "push (ready)", "push (waiting)", "push (new sender)", "stamp",
    "stamp (new actor)", "clock", "advance", "waiting_for", "pop", "drop"};

/* A queue on tm holding @p held messages: a chain from actor 100 that
 * waits for its first message, and one ready message from actor 200. */
static crdt_causal_queue *nomem_queue(tu_mem *tm, int held)
{
    crdt_causal_queue *q = mkq(0, 0, &tm->mem);
    int i;

    for (i = 0; i < held; i++) {
        const uint64_t p[] = {50, 1, 100, (uint64_t)i + 2};

        ck_assert_int_eq(push(q, 100, 2, p, "chain"), CRDT_CAUSAL_WAITING);
    }
    {
        const uint64_t p[] = {200, 1};

        ck_assert_int_eq(push(q, 200, 1, p, "r"), CRDT_CAUSAL_READY);
    }
    return q;
}

/* Drains q, then feeds what the chain waits for and drains again. */
static void finish(crdt_causal_queue *q, int held)
{
    const uint64_t d50[] = {50, 1}, d100[] = {50, 1, 100, 1};
    crdt_causal_msg m;
    crdt_causal_stats st;

    while (crdt_causal_queue_pop(q, &m) == CRDT_OK)
        ;
    (void)push(q, 50, 1, d50, "d50");
    (void)push(q, 100, 2, d100, "d100");
    while (crdt_causal_queue_pop(q, &m) == CRDT_OK)
        ;
    crdt_causal_queue_stats(q, &st);
    tu_expect(st.held == 0, "finish: messages left");
    tu_expect(crdt_causal_queue_delivered(q, 100) >= (uint64_t)held + 1,
              "finish: chain not delivered");
}

START_TEST(test_causal_nomem_every_call)
{
    int op = _i, held;

    /* held messages from 0 to 12 cross the table's and the arrays'
     * growth points */
    for (held = 0; held <= 12; held++) {
        long n;

        for (n = 0;; n++) {
            tu_mem tm;
            crdt_causal_queue *q = NULL;
            crdt_vclock *arg = crdt_vclock_new(NULL);
            crdt_vclock *out = crdt_vclock_new(NULL);
            observed before, after;
            int rv = CRDT_OK;
            crdt_actor snd = 0;
            size_t cnt = 0;
            crdt_causal_gap g[4];
            crdt_causal_msg msg;
            crdt_causal_status s = CRDT_CAUSAL_DUPLICATE;

            tu_mem_init(&tm);
            memset(&before, 0, sizeof before);
            if (op != NM_NEW) {
                q = nomem_queue(&tm, held);
                observe(q, &before);
            }
            tu_must(crdt_vclock_set(out, 77, 7), "set"); /* not empty */
            switch (op) {
            case NM_PUSH_READY:
                snd = 300;
                tu_must(crdt_vclock_set(arg, snd, 1), "set");
                break;
            case NM_PUSH_WAIT:
                snd = 100;
                tu_must(crdt_vclock_set(arg, snd, (uint64_t)held + 2), "set");
                tu_must(crdt_vclock_set(arg, 50, 1), "set");
                break;
            case NM_PUSH_NEWSENDER:
                snd = 1000 + (uint64_t)held;
                tu_must(crdt_vclock_set(arg, snd, 1), "set");
                tu_must(crdt_vclock_set(arg, 50, 1), "set");
                break;
            case NM_ADVANCE:
                tu_must(crdt_vclock_set(arg, 100, 3), "set");
                tu_must(crdt_vclock_set(arg, 50, 1), "set");
                tu_must(crdt_vclock_set(arg, 400, 2), "set");
                tu_must(crdt_vclock_set(arg, 1, 2), "set");
                break;
            default:
                break;
            }
            tu_mem_fail_at(&tm, n);
            switch (op) {
            case NM_NEW:
                rv = crdt_causal_queue_new(&q, NULL, &tm.mem);
                if (rv)
                    tu_expect(q == NULL, "new: out written on failure");
                break;
            case NM_PUSH_READY:
            case NM_PUSH_WAIT:
            case NM_PUSH_NEWSENDER:
                rv = crdt_causal_queue_push(q, snd, arg, "payload", 7, &s);
                if (rv)
                    tu_expect(s == CRDT_CAUSAL_DUPLICATE,
                              "push: status written on failure");
                break;
            case NM_STAMP:
                rv = crdt_causal_queue_stamp(q, 200, out);
                break;
            case NM_STAMP_NEW:
                rv = crdt_causal_queue_stamp(q, 5000, out);
                break;
            case NM_CLOCK:
                rv = crdt_causal_queue_clock(q, out);
                break;
            case NM_ADVANCE:
                rv = crdt_causal_queue_advance(q, arg);
                break;
            case NM_WAITING_FOR:
                cnt = 99;
                rv = crdt_causal_queue_waiting_for(q, g, 4, &cnt);
                if (rv)
                    tu_expect(cnt == 99, "waiting_for: count written");
                break;
            case NM_POP:
                rv = crdt_causal_queue_pop(q, &msg);
                tu_expect(rv == CRDT_OK && tm.failed == 0,
                          "pop allocated");
                break;
            default:
                rv = crdt_causal_queue_drop(q, 100, &cnt);
                tu_expect(rv == CRDT_OK && tm.failed == 0,
                          "drop allocated");
                break;
            }
            tu_mem_off(&tm);
            if (rv != CRDT_OK) {
                if (rv != CRDT_ERR_NOMEM)
                    ck_abort_msg("%s: held=%d n=%ld: %s", nm_names[op], held,
                                 n, crdt_strerror(rv));
                tu_expect(crdt_vclock_size(out) == 1 &&
                              crdt_vclock_get(out, 77) == 7,
                          "out changed by a failed call");
                if (q) {
                    observe(q, &after);
                    expect_same(&before, &after, nm_names[op], n);
                    crdt_vclock_free(after.clock);
                }
            }
            if (q && op != NM_NEW)
                finish(q, op == NM_DROP ? 0 : held);
            crdt_causal_queue_free(q);
            crdt_vclock_free(before.clock);
            crdt_vclock_free(arg);
            crdt_vclock_free(out);
            if (tm.live != 0)
                ck_abort_msg("%s: held=%d n=%ld: %ld blocks leaked",
                             nm_names[op], held, n, tm.live);
            if (rv == CRDT_OK && tm.failed == 0)
                break; /* the call allocated fewer than n times */
            if (n > 1000)
                ck_abort_msg("%s: still failing at n=%ld", nm_names[op], n);
        }
    }
}
END_TEST

/* ---------------------------------------------------------------- suite */

static Suite *causal_suite(void)
{
    Suite *s = suite_create("causal");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_causal_basic_in_order);
    tcase_add_test(tc, test_causal_basic_concurrent_fifo);
    tcase_add_test(tc, test_causal_basic_duplicates);
    tcase_add_test(tc, test_causal_basic_args);
    tcase_add_test(tc, test_causal_basic_message_view);
    suite_add_tcase(s, tc);
    tc = tcase_create("bounds");
    tcase_add_test(tc, test_causal_bounds_messages);
    tcase_add_test(tc, test_causal_bounds_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("waiting_for");
    tcase_add_test(tc, test_causal_waiting_for_gaps);
    suite_add_tcase(s, tc);
    tc = tcase_create("recovery");
    tcase_add_test(tc, test_causal_drop_sender);
    tcase_add_test(tc, test_causal_advance);
    tcase_add_test(tc, test_causal_stamp_local);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_causal_property_reorder);
    tcase_add_test(tc, test_causal_property_bounded);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_causal_nomem_every_call, 0, NM_COUNT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(causal_suite());
    int failed;

    tu_seed("causal"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
