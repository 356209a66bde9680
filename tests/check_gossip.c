/* SPDX-License-Identifier: MIT */
/*
 * The gossip engine (crdt/gossip.h) through its public API, on a small
 * in-test network: nodes in poll mode whose queued datagrams the test
 * delivers itself, so that it can drop, duplicate, replay, truncate or
 * corrupt any of them.  Larger clusters and the fault models are the
 * simulator's (check_sim.c).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>

#include "testutil.h"

/* ======================================================================
 * A network of nodes in poll mode
 * ====================================================================== */

#define NET_MAX 16
#define DG_MAX 65536

typedef struct dgram {
    size_t from, to;
    uint8_t *b;
    size_t len;
} dgram;

typedef struct net {
    crdt_gossip *g[NET_MAX];
    size_t n;
    uint64_t now;
    double loss;          /* probability a datagram is dropped */
    tu_rng rng;
    bool capture;         /* keep a copy of every datagram in log */
    dgram *log;
    size_t nlog, cap;
    size_t max_len;       /* longest datagram seen */
    size_t delivered;
    bool cut[NET_MAX][NET_MAX]; /* link from -> to is cut */
    crdt_gossip_settings set; /* template */
} net;

static void net_init(net *nt, size_t n, uint64_t seed,
                     void (*adjust)(crdt_gossip_settings *, size_t))
{
    size_t i, j;

    memset(nt, 0, sizeof *nt);
    nt->n = n;
    tu_rng_init(&nt->rng, seed);
    for (i = 0; i < n; i++) {
        crdt_gossip_settings s;

        crdt_gossip_settings_default(&s);
        s.node_id = i + 1;
        s.seed = seed * 131 + i;
        s.cluster_id = 7;
        if (adjust)
            adjust(&s, i);
        tu_must(crdt_gossip_new(&nt->g[i], &s, NULL), "gossip_new");
        for (j = 0; j < n; j++)
            if (j != i)
                tu_must(crdt_gossip_add_peer(nt->g[i], j + 1, NULL, 0),
                        "add_peer");
    }
}

static void net_free(net *nt)
{
    size_t i;

    for (i = 0; i < nt->n; i++)
        crdt_gossip_free(nt->g[i]);
    for (i = 0; i < nt->nlog; i++)
        free(nt->log[i].b);
    free(nt->log);
}

static void net_keep(net *nt, size_t from, size_t to, const uint8_t *b,
                     size_t len)
{
    dgram *d;

    if (nt->nlog == nt->cap) {
        nt->cap = nt->cap ? 2 * nt->cap : 64;
        nt->log = realloc(nt->log, nt->cap * sizeof *nt->log);
        ck_assert_ptr_nonnull(nt->log);
    }
    d = &nt->log[nt->nlog++];
    d->from = from;
    d->to = to;
    d->len = len;
    d->b = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(d->b);
    memcpy(d->b, b, len);
}

/* Delivers everything queued, and what that makes, until quiet. */
static void net_pump(net *nt)
{
    static uint8_t buf[DG_MAX];
    bool moved = true;
    size_t i;

    while (moved) {
        moved = false;
        for (i = 0; i < nt->n; i++) {
            crdt_gossip_datagram dg;

            while (nt->g[i] &&
                   crdt_gossip_poll(nt->g[i], &dg, buf, sizeof buf) == 0) {
                size_t to = (size_t)dg.to - 1;

                moved = true;
                if (dg.len > nt->max_len)
                    nt->max_len = dg.len;
                if (nt->capture)
                    net_keep(nt, i, to, buf, dg.len);
                if (to >= nt->n || !nt->g[to] || nt->cut[i][to])
                    continue;
                if (nt->loss > 0 &&
                    (double)tu_below(&nt->rng, 1000000) < nt->loss * 1e6)
                    continue;
                nt->delivered++;
                tu_must(crdt_gossip_receive(nt->g[to], nt->now, NULL, 0, buf,
                                            dg.len),
                        "receive");
            }
        }
    }
}

/* Advances time by ms in steps of 10 ms, ticking and pumping. */
static void net_run(net *nt, uint64_t ms)
{
    uint64_t end = nt->now + ms;
    size_t i;

    while (nt->now < end) {
        nt->now += 10;
        for (i = 0; i < nt->n; i++)
            if (nt->g[i])
                tu_must(crdt_gossip_tick(nt->g[i], nt->now), "tick");
        net_pump(nt);
    }
}

static bool net_converged(const net *nt)
{
    size_t i;

    for (i = 1; i < nt->n; i++)
        if (crdt_gossip_digest(nt->g[i]) != crdt_gossip_digest(nt->g[0]))
            return false;
    return true;
}

/* Runs until every node holds the same store; returns the time it took
 * (ms), or fails after limit ms. */
static uint64_t net_converge(net *nt, uint64_t limit)
{
    uint64_t start = nt->now;

    while (!net_converged(nt)) {
        if (nt->now - start > limit)
            ck_abort_msg("no convergence in %llu ms",
                         (unsigned long long)limit);
        net_run(nt, 10);
    }
    return nt->now - start;
}

/* ======================================================================
 * Mutations
 * ====================================================================== */

static int inc_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_gcounter_increment(v, w->actor, *(const uint64_t *)u, d);
}

static int add_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    const char *e = u;

    return crdt_orset_add(v, w->actor, e, strlen(e), d);
}

static int lww_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    const char *s = u;

    return crdt_lww_set_now(v, w->hlc, w->actor, s, strlen(s), d);
}

static int fail_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    (void)v, (void)d, (void)w, (void)u;
    return CRDT_ERR_OVERFLOW;
}

static void inc(crdt_gossip *g, const char *key, uint64_t by)
{
    tu_must(crdt_gossip_update(g, key, strlen(key), crdt_gcounter_type(),
                               inc_fn, &by),
            "update inc");
}

static uint64_t counter(const crdt_gossip *g, const char *key)
{
    const crdt_type *t;
    const void *v;

    if (crdt_gossip_get(g, key, strlen(key), &t, &v))
        return UINT64_MAX;
    ck_assert_uint_eq(t->tag, CRDT_TAG_GCOUNTER);
    return crdt_gcounter_value(v);
}

/* ======================================================================
 * Settings and identity
 * ====================================================================== */

START_TEST(test_gossip_settings_defaults)
{
    crdt_gossip_settings s;
    crdt_gossip *g = NULL;

    crdt_gossip_settings_default(&s);
    ck_assert_uint_eq(s.version, CRDT_GOSSIP_SETTINGS_VERSION);
    ck_assert_uint_eq(s.round_ms, 100);
    ck_assert_uint_eq(s.fanout, 1);
    ck_assert_uint_eq(s.max_datagram, CRDT_GOSSIP_DEFAULT_DATAGRAM);
    ck_assert_uint_eq(s.node_id, 0);
    /* node_id is required */
    ck_assert_int_eq(crdt_gossip_new(&g, &s, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(g);
    s.node_id = 9;
    s.max_datagram = CRDT_GOSSIP_MIN_DATAGRAM - 1;
    ck_assert_int_eq(crdt_gossip_new(&g, &s, NULL), CRDT_ERR_INVALID_ARG);
    s.max_datagram = CRDT_GOSSIP_MAX_DATAGRAM + 1;
    ck_assert_int_eq(crdt_gossip_new(&g, &s, NULL), CRDT_ERR_INVALID_ARG);
    s.max_datagram = CRDT_GOSSIP_MAX_DATAGRAM;
    s.round_ms = 0;
    ck_assert_int_eq(crdt_gossip_new(&g, &s, NULL), CRDT_ERR_INVALID_ARG);
    s.round_ms = 100;
    s.version = 99;
    ck_assert_int_eq(crdt_gossip_new(&g, &s, NULL), CRDT_ERR_INVALID_ARG);
    s.version = CRDT_GOSSIP_SETTINGS_VERSION;
    ck_assert_int_eq(crdt_gossip_new(NULL, &s, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gossip_new(&g, NULL, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gossip_new(&g, &s, NULL), CRDT_OK);
    ck_assert_uint_eq(crdt_gossip_node_id(g), 9);
    ck_assert_uint_eq(crdt_gossip_next_deadline(g), 0);
    crdt_gossip_free(g);
    crdt_gossip_free(NULL);
    ck_assert_uint_eq(crdt_gossip_min_datagram(), 512);
    ck_assert_uint_eq(crdt_gossip_max_datagram(), 65536);
}
END_TEST

START_TEST(test_gossip_identity_actor)
{
    crdt_gossip_settings s;
    crdt_gossip *a, *b, *c;

    /* XXH3-64 of the two big-endian ids (Python: xxhash.xxh3_64_intdigest(
     * struct.pack('>QQ', 1, 2))) */
    ck_assert_uint_eq(crdt_gossip_actor_of(1, 2), 0xc4846c74c4b320adu);
    ck_assert_uint_eq(crdt_gossip_actor_of(0x1234, 0xdeadbeefcafeu),
                      0x840fe968ef340bf7u);
    crdt_gossip_settings_default(&s);
    s.node_id = 1;
    s.incarnation = 2;
    tu_must(crdt_gossip_new(&a, &s, NULL), "new");
    ck_assert_uint_eq(crdt_gossip_incarnation(a), 2);
    ck_assert_uint_eq(crdt_gossip_actor(a), 0xc4846c74c4b320adu);
    /* a drawn incarnation: from the seed, so the same seed gives the same */
    s.incarnation = 0;
    s.seed = 5;
    tu_must(crdt_gossip_new(&b, &s, NULL), "new");
    tu_must(crdt_gossip_new(&c, &s, NULL), "new");
    ck_assert_uint_ne(crdt_gossip_incarnation(b), 0);
    ck_assert_uint_eq(crdt_gossip_incarnation(b), crdt_gossip_incarnation(c));
    ck_assert_uint_eq(crdt_gossip_actor(b),
                      crdt_gossip_actor_of(1, crdt_gossip_incarnation(b)));
    ck_assert_uint_ne(crdt_gossip_actor(a), crdt_gossip_actor(b));
    crdt_gossip_free(a);
    crdt_gossip_free(b);
    crdt_gossip_free(c);
}
END_TEST

/* ======================================================================
 * The store
 * ====================================================================== */

static crdt_gossip *one_node(uint64_t id)
{
    crdt_gossip_settings s;
    crdt_gossip *g;

    crdt_gossip_settings_default(&s);
    s.node_id = id;
    s.seed = id;
    tu_must(crdt_gossip_new(&g, &s, NULL), "new");
    return g;
}

START_TEST(test_gossip_store_update_get)
{
    crdt_gossip *g = one_node(1);
    const crdt_type *t;
    const void *v;
    crdt_buf b;
    crdt_ormap *m;
    uint64_t d0 = crdt_gossip_digest(g), by = 3;

    ck_assert_int_eq(crdt_gossip_get(g, "a", 1, &t, &v), CRDT_ERR_NOT_FOUND);
    inc(g, "a", 2);
    inc(g, "a", 5);
    ck_assert_uint_eq(counter(g, "a"), 7);
    ck_assert_uint_ne(crdt_gossip_digest(g), d0);
    ck_assert_uint_eq(crdt_gossip_key_count(g), 1);
    /* another type under a present key */
    ck_assert_int_eq(crdt_gossip_update(g, "a", 1, crdt_orset_type(), add_fn,
                                        "x"),
                     CRDT_ERR_TYPE);
    ck_assert_uint_eq(counter(g, "a"), 7);
    /* the callback's error, unchanged */
    d0 = crdt_gossip_digest(g);
    ck_assert_int_eq(crdt_gossip_update(g, "a", 1, crdt_gcounter_type(),
                                        fail_fn, NULL),
                     CRDT_ERR_OVERFLOW);
    ck_assert_uint_eq(crdt_gossip_digest(g), d0);
    /* bad arguments */
    ck_assert_int_eq(crdt_gossip_update(g, "", 0, crdt_gcounter_type(),
                                        inc_fn, &by),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gossip_update(g, "a", 1, NULL, inc_fn, &by),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gossip_update(g, "a", 1, crdt_gcounter_type(),
                                        NULL, &by),
                     CRDT_ERR_INVALID_ARG);
    {
        char big[1025];

        memset(big, 'k', sizeof big);
        ck_assert_int_eq(crdt_gossip_update(g, big, sizeof big,
                                            crdt_gcounter_type(), inc_fn,
                                            &by),
                         CRDT_ERR_INVALID_ARG);
    }
    /* the state is a one-entry OR-map under the empty key */
    crdt_buf_init(&b, NULL);
    tu_must(crdt_gossip_state(g, "a", 1, &b), "state");
    m = crdt_ormap_new(NULL, NULL);
    tu_must(crdt_ormap_decode(m, b.data, b.len, NULL, NULL), "decode");
    ck_assert_uint_eq(crdt_ormap_size(m), 1);
    ck_assert_int_eq(crdt_ormap_get(m, "", 0, &t, &v), CRDT_OK);
    ck_assert_uint_eq(crdt_gcounter_value(v), 7);
    crdt_ormap_free(m);
    crdt_buf_clear(&b);
    ck_assert_int_eq(crdt_gossip_state(g, "b", 1, &b), CRDT_ERR_NOT_FOUND);
    crdt_gossip_free(g);
}
END_TEST

START_TEST(test_gossip_store_delete)
{
    crdt_gossip *g = one_node(1);
    const uint8_t *k;
    size_t klen;
    bool present;
    uint64_t d0;

    /* deleting what was never written: nothing */
    d0 = crdt_gossip_digest(g);
    tu_must(crdt_gossip_delete(g, "a", 1), "delete");
    ck_assert_uint_eq(crdt_gossip_key_count(g), 0);
    ck_assert_uint_eq(crdt_gossip_digest(g), d0);
    inc(g, "a", 4);
    tu_must(crdt_gossip_delete(g, "a", 1), "delete");
    ck_assert_uint_eq(counter(g, "a"), UINT64_MAX); /* not found */
    /* the tombstone stays */
    ck_assert_uint_eq(crdt_gossip_key_count(g), 1);
    tu_must(crdt_gossip_key_at(g, 0, &k, &klen, &present), "key_at");
    ck_assert_uint_eq(klen, 1);
    ck_assert(!present);
    ck_assert_int_eq(crdt_gossip_key_at(g, 1, &k, &klen, &present),
                     CRDT_ERR_NOT_FOUND);
    /* a deleted key starts again from empty, even with another type */
    inc(g, "a", 1);
    ck_assert_uint_eq(counter(g, "a"), 1);
    tu_must(crdt_gossip_delete(g, "a", 1), "delete");
    tu_must(crdt_gossip_update(g, "a", 1, crdt_orset_type(), add_fn, "x"),
            "orset after delete");
    tu_must(crdt_gossip_key_at(g, 0, &k, &klen, &present), "key_at");
    ck_assert(present);
    crdt_gossip_free(g);
}
END_TEST

static void on_change_busy(void *ud, const uint8_t *key, size_t klen)
{
    crdt_gossip *g = *(crdt_gossip **)ud;
    uint64_t by = 1;

    (void)key;
    (void)klen;
    ck_assert_int_eq(crdt_gossip_update(g, "z", 1, crdt_gcounter_type(),
                                        inc_fn, &by),
                     CRDT_ERR_BUSY);
    ck_assert_int_eq(crdt_gossip_tick(g, 0), CRDT_ERR_BUSY);
    ck_assert_int_eq(crdt_gossip_delete(g, "z", 1), CRDT_ERR_BUSY);
    ck_assert_int_eq(crdt_gossip_add_peer(g, 99, NULL, 0), CRDT_ERR_BUSY);
    /* reads are allowed */
    ck_assert_int_eq(crdt_gossip_get(g, key, klen, NULL, NULL), CRDT_OK);
    ((crdt_gossip **)ud)[1] = g; /* mark: called */
}

static crdt_gossip *busy_slot[2];

static void adjust_busy(crdt_gossip_settings *s, size_t i)
{
    if (i == 1) {
        s->callbacks.on_change = on_change_busy;
        s->callbacks.user_data = busy_slot;
    }
}

START_TEST(test_gossip_store_busy_in_callback)
{
    net nt;

    net_init(&nt, 2, 3, adjust_busy);
    busy_slot[0] = nt.g[1];
    busy_slot[1] = NULL;
    inc(nt.g[0], "a", 1);
    net_converge(&nt, 5000);
    ck_assert_ptr_eq(busy_slot[1], nt.g[1]);
    net_free(&nt);
}
END_TEST

/* ======================================================================
 * Exchanges
 * ====================================================================== */

typedef struct changes {
    size_t n;
    char last[64];
} changes;

static changes change_log[NET_MAX];

static void on_change_count(void *ud, const uint8_t *key, size_t klen)
{
    changes *c = ud;

    c->n++;
    snprintf(c->last, sizeof c->last, "%.*s", (int)klen, (const char *)key);
}

static void adjust_count(crdt_gossip_settings *s, size_t i)
{
    memset(&change_log[i], 0, sizeof change_log[i]);
    s->callbacks.on_change = on_change_count;
    s->callbacks.user_data = &change_log[i];
}

START_TEST(test_gossip_exchange_converges)
{
    net nt;
    size_t i;
    uint64_t ms;

    net_init(&nt, 5, 11, adjust_count);
    for (i = 0; i < 5; i++)
        inc(nt.g[i], i % 2 ? "odd" : "even", i + 1);
    ms = net_converge(&nt, 10000);
    for (i = 0; i < 5; i++) {
        ck_assert_uint_eq(counter(nt.g[i], "even"), 1 + 3 + 5);
        ck_assert_uint_eq(counter(nt.g[i], "odd"), 2 + 4);
    }
    /* the fast path did it, within a few rounds */
    ck_assert_uint_le(ms, 1000);
    net_free(&nt);
}
END_TEST

START_TEST(test_gossip_exchange_on_change_not_on_duplicates)
{
    net nt;
    size_t i, before;

    net_init(&nt, 2, 12, adjust_count);
    nt.capture = true;
    inc(nt.g[0], "k", 1);
    net_converge(&nt, 5000);
    ck_assert_uint_eq(change_log[1].n, 1);
    ck_assert_str_eq(change_log[1].last, "k");
    /* local writes do not call on_change */
    ck_assert_uint_eq(change_log[0].n, 0);
    /* every datagram again: nothing changes, no callback */
    before = change_log[1].n;
    for (i = 0; i < nt.nlog; i++)
        tu_must(crdt_gossip_receive(nt.g[nt.log[i].to], nt.now, NULL, 0,
                                    nt.log[i].b, nt.log[i].len),
                "replay");
    ck_assert_uint_eq(change_log[1].n, before);
    ck_assert_uint_eq(change_log[0].n, 0);
    net_free(&nt);
}
END_TEST

static void adjust_eager(crdt_gossip_settings *s, size_t i)
{
    (void)i;
    s->push_rounds = 8; /* every delta is young for 8 rounds */
}

/* A delta is never pushed back to the peer it came from: with two nodes,
 * the receiver's only target is the sender, so the receiver, which wrote
 * nothing, sends no PUSH at all, though every delta it holds stays young
 * (pushed unasked) for 8 rounds. */
START_TEST(test_gossip_exchange_no_echo)
{
    net nt;
    crdt_gossip_metrics m;
    size_t i;

    net_init(&nt, 2, 21, adjust_eager);
    for (i = 0; i < 5; i++) {
        inc(nt.g[0], "k", 1);
        net_run(&nt, 100);
    }
    net_converge(&nt, 5000);
    net_run(&nt, 1000);
    ck_assert_uint_eq(counter(nt.g[1], "k"), 5);
    crdt_gossip_metrics_get(nt.g[1], &m);
    ck_assert_uint_gt(m.received[CRDT_GOSSIP_PUSH], 0);
    ck_assert_uint_eq(m.sent[CRDT_GOSSIP_PUSH], 0);
    net_free(&nt);
}
END_TEST

START_TEST(test_gossip_exchange_deleted_key_stays_deleted)
{
    net nt;
    size_t i, nold;
    crdt_gossip_metrics m;

    net_init(&nt, 3, 13, NULL);
    nt.capture = true;
    inc(nt.g[0], "k", 5);
    inc(nt.g[1], "k", 2);
    net_converge(&nt, 5000);
    ck_assert_uint_eq(counter(nt.g[2], "k"), 7);
    nold = nt.nlog;
    tu_must(crdt_gossip_delete(nt.g[2], "k", 1), "delete");
    net_converge(&nt, 5000);
    for (i = 0; i < 3; i++)
        ck_assert_uint_eq(counter(nt.g[i], "k"), UINT64_MAX);
    /* replay everything sent before the delete, to every node */
    for (i = 0; i < nold; i++) {
        size_t to;

        for (to = 0; to < 3; to++)
            if (to != nt.log[i].from)
                tu_must(crdt_gossip_receive(nt.g[to], nt.now, NULL, 0,
                                            nt.log[i].b, nt.log[i].len),
                        "replay");
    }
    net_run(&nt, 3000);
    for (i = 0; i < 3; i++)
        ck_assert_uint_eq(counter(nt.g[i], "k"), UINT64_MAX);
    /* a new write brings it back, from empty */
    inc(nt.g[1], "k", 1);
    net_converge(&nt, 5000);
    for (i = 0; i < 3; i++)
        ck_assert_uint_eq(counter(nt.g[i], "k"), 1);
    crdt_gossip_metrics_get(nt.g[0], &m);
    ck_assert_uint_gt(m.deltas_redundant, 0);
    net_free(&nt);
}
END_TEST

START_TEST(test_gossip_exchange_concurrent_delete_add_wins)
{
    net nt;
    size_t i;

    net_init(&nt, 2, 14, NULL);
    inc(nt.g[0], "k", 5);
    net_converge(&nt, 5000);
    /* cut both ways: a delete on one side, an update on the other */
    nt.cut[0][1] = nt.cut[1][0] = true;
    tu_must(crdt_gossip_delete(nt.g[0], "k", 1), "delete");
    inc(nt.g[1], "k", 2);
    net_run(&nt, 500);
    nt.cut[0][1] = nt.cut[1][0] = false;
    net_converge(&nt, 10000);
    /* the update survives with what it brought: node 1's slot, which holds
     * all of node 1's increments of the key since its slot was removed */
    for (i = 0; i < 2; i++)
        ck_assert_uint_eq(counter(nt.g[i], "k"), 2);
    net_free(&nt);
}
END_TEST

static void adjust_big(crdt_gossip_settings *s, size_t i)
{
    (void)i;
    s->max_datagram = 512;
}

START_TEST(test_gossip_exchange_fragments)
{
    net nt;
    char e[64], big[3000];
    size_t i;
    const crdt_type *t;
    const void *v;
    crdt_gossip_metrics m;

    net_init(&nt, 3, 15, adjust_big);
    /* a delta far larger than a datagram travels in fragments */
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    tu_must(crdt_gossip_update(nt.g[0], "big", 3, crdt_lww_type(), lww_fn,
                               big),
            "lww");
    /* and a key whose state is far larger than a datagram */
    for (i = 0; i < 200; i++) {
        snprintf(e, sizeof e, "element-%03zu-with-some-padding", i);
        tu_must(crdt_gossip_update(nt.g[0], "set", 3, crdt_orset_type(),
                                   add_fn, e),
                "add");
    }
    net_converge(&nt, 20000);
    ck_assert_uint_le(nt.max_len, 512);
    tu_must(crdt_gossip_get(nt.g[2], "set", 3, &t, &v), "get");
    ck_assert_uint_eq(crdt_orset_size(v), 200);
    crdt_gossip_metrics_get(nt.g[2], &m);
    ck_assert_uint_gt(m.received[CRDT_GOSSIP_FRAG], 0);
    /* a node that restarts empty once the logs have moved on gets the
     * states by repair, in fragments */
    net_run(&nt, 5000);
    crdt_gossip_metrics_get(nt.g[0], &m);
    ck_assert_uint_eq(m.log_entries, 0);
    crdt_gossip_free(nt.g[2]);
    {
        crdt_gossip_settings s;

        crdt_gossip_settings_default(&s);
        s.node_id = 3;
        s.seed = 99;
        s.cluster_id = 7;
        s.max_datagram = 512;
        tu_must(crdt_gossip_new(&nt.g[2], &s, NULL), "new");
        tu_must(crdt_gossip_add_peer(nt.g[2], 1, NULL, 0), "peer");
        tu_must(crdt_gossip_add_peer(nt.g[2], 2, NULL, 0), "peer");
    }
    net_converge(&nt, 30000);
    ck_assert_uint_le(nt.max_len, 512);
    crdt_gossip_metrics_get(nt.g[2], &m);
    ck_assert_uint_gt(m.received[CRDT_GOSSIP_FRAG], 0);
    ck_assert_uint_ge(m.keys_repaired, 2);
    net_free(&nt);
}
END_TEST

START_TEST(test_gossip_exchange_lww_and_orset)
{
    net nt;
    size_t i;
    const crdt_type *t;
    const void *v;
    const uint8_t *val;
    size_t len;

    net_init(&nt, 3, 16, NULL);
    tu_must(crdt_gossip_update(nt.g[0], "name", 4, crdt_lww_type(), lww_fn,
                               "ada"),
            "lww");
    net_run(&nt, 50);
    tu_must(crdt_gossip_update(nt.g[1], "name", 4, crdt_lww_type(), lww_fn,
                               "grace"),
            "lww");
    tu_must(crdt_gossip_update(nt.g[2], "tags", 4, crdt_orset_type(), add_fn,
                               "red"),
            "orset");
    net_converge(&nt, 5000);
    for (i = 0; i < 3; i++) {
        tu_must(crdt_gossip_get(nt.g[i], "name", 4, &t, &v), "get");
        ck_assert_int_eq(crdt_lww_value(v, &val, &len), CRDT_OK);
        ck_assert_uint_eq(len, 5);
        ck_assert_mem_eq(val, "grace", 5);
        tu_must(crdt_gossip_get(nt.g[i], "tags", 4, &t, &v), "get");
        ck_assert(crdt_orset_contains(v, "red", 3));
    }
    net_free(&nt);
}
END_TEST

/* ======================================================================
 * Hostile input
 * ====================================================================== */

/* Captures a few datagrams of every kind from a small run. */
static void capture_run(net *nt)
{
    size_t i;
    char e[32];

    net_init(nt, 3, 21, adjust_big);
    nt->capture = true;
    for (i = 0; i < 40; i++) {
        snprintf(e, sizeof e, "e%zu", i);
        inc(nt->g[i % 3], i % 2 ? "a" : "b", i + 1);
        tu_must(crdt_gossip_update(nt->g[i % 2], "s", 1, crdt_orset_type(),
                                   add_fn, e),
                "add");
    }
    net_converge(nt, 20000);
    tu_must(crdt_gossip_delete(nt->g[0], "a", 1), "delete");
    net_converge(nt, 20000);
}

START_TEST(test_gossip_hostile_truncated_and_corrupt)
{
    net nt;
    crdt_gossip *g;
    size_t i, cut, drops = 0;
    uint64_t d0;
    crdt_gossip_metrics m;
    tu_rng r;
    uint8_t *b;

    capture_run(&nt);
    ck_assert_uint_gt(nt.nlog, 10);
    /* a fresh node of the cluster receives every prefix of every datagram:
     * only complete ones may change it */
    g = one_node(50);
    {
        crdt_gossip_settings s;

        crdt_gossip_free(g);
        crdt_gossip_settings_default(&s);
        s.node_id = 50;
        s.cluster_id = 7;
        s.max_datagram = 512;
        tu_must(crdt_gossip_new(&g, &s, NULL), "new");
    }
    d0 = crdt_gossip_digest(g);
    for (i = 0; i < nt.nlog; i++)
        for (cut = 0; cut < nt.log[i].len; cut++) {
            b = malloc(cut ? cut : 1);
            memcpy(b, nt.log[i].b, cut);
            tu_must(crdt_gossip_receive(g, nt.now, NULL, 0, b, cut), "recv");
            free(b);
            drops++;
        }
    ck_assert_uint_eq(crdt_gossip_digest(g), d0);
    ck_assert_uint_eq(crdt_gossip_key_count(g), 0);
    crdt_gossip_metrics_get(g, &m);
    ck_assert_uint_eq(m.dropped[CRDT_GOSSIP_DROP_MALFORMED] +
                          m.dropped[CRDT_GOSSIP_DROP_VERSION],
                      drops);
    /* random corruption: never a crash; whatever is accepted is valid */
    tu_rng_init(&r, tu_seed("gossip_hostile"));
    for (i = 0; i < 20000; i++) {
        const dgram *d = &nt.log[tu_below(&r, nt.nlog)];
        size_t k, flips = 1 + tu_below(&r, 4);

        b = malloc(d->len);
        memcpy(b, d->b, d->len);
        for (k = 0; k < flips; k++)
            b[tu_below(&r, d->len)] ^= (uint8_t)(1 + tu_below(&r, 255));
        tu_must(crdt_gossip_receive(g, nt.now, NULL, 0, b, d->len), "recv");
        free(b);
    }
    crdt_gossip_free(g);
    net_free(&nt);
}
END_TEST

START_TEST(test_gossip_hostile_envelope)
{
    net nt;
    crdt_gossip *g;
    crdt_gossip_metrics m;
    uint8_t b[1400];
    /* [1, 7, 2, 5, 2, 0, 0, [], []]: a SYN of cluster 7 from node 2 */
    static const uint8_t syn[] = {0x99, 0x01, 0x07, 0x02, 0x05, 0x02,
                                  0x00, 0x00, 0x90, 0x90};
    uint64_t d0;

    net_init(&nt, 2, 22, NULL);
    g = nt.g[0];
    inc(g, "k", 1);
    d0 = crdt_gossip_digest(g);
    /* the valid one is answered */
    tu_must(crdt_gossip_receive(g, 0, NULL, 0, syn, sizeof syn), "recv");
    crdt_gossip_metrics_get(g, &m);
    ck_assert_uint_eq(m.received[CRDT_GOSSIP_SYN], 1);
    ck_assert_uint_ge(m.sent[CRDT_GOSSIP_ACK], 1);
    /* another wire version */
    memcpy(b, syn, sizeof syn);
    b[1] = 0x02;
    tu_must(crdt_gossip_receive(g, 0, NULL, 0, b, sizeof syn), "recv");
    /* another cluster */
    memcpy(b, syn, sizeof syn);
    b[2] = 0x08;
    tu_must(crdt_gossip_receive(g, 0, NULL, 0, b, sizeof syn), "recv");
    /* from itself */
    memcpy(b, syn, sizeof syn);
    b[3] = 0x01;
    tu_must(crdt_gossip_receive(g, 0, NULL, 0, b, sizeof syn), "recv");
    /* an unknown kind */
    memcpy(b, syn, sizeof syn);
    b[5] = 0x09;
    tu_must(crdt_gossip_receive(g, 0, NULL, 0, b, sizeof syn), "recv");
    /* longer than max_datagram */
    memset(b, 0, sizeof b);
    memcpy(b, syn, sizeof syn);
    tu_must(crdt_gossip_receive(g, 0, NULL, 0, b, 1201), "recv");
    /* trailing bytes */
    tu_must(crdt_gossip_receive(g, 0, NULL, 0, b, sizeof syn + 1), "recv");
    crdt_gossip_metrics_get(g, &m);
    ck_assert_uint_eq(m.dropped[CRDT_GOSSIP_DROP_VERSION], 1);
    ck_assert_uint_eq(m.dropped[CRDT_GOSSIP_DROP_CLUSTER], 1);
    ck_assert_uint_eq(m.dropped[CRDT_GOSSIP_DROP_SELF], 1);
    ck_assert_uint_eq(m.dropped[CRDT_GOSSIP_DROP_OVERSIZE], 1);
    ck_assert_uint_eq(m.dropped[CRDT_GOSSIP_DROP_MALFORMED], 2);
    ck_assert_uint_eq(crdt_gossip_digest(g), d0);
    /* argument checks */
    ck_assert_int_eq(crdt_gossip_receive(g, 0, NULL, 0, NULL, 3),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gossip_receive(NULL, 0, NULL, 0, syn, 3),
                     CRDT_ERR_INVALID_ARG);
    net_free(&nt);
}
END_TEST

START_TEST(test_gossip_hostile_partly_bad_push_applies_nothing)
{
    net nt;
    size_t i;
    crdt_gossip *g;
    const dgram *push = NULL;
    uint64_t d0;

    capture_run(&nt);
    for (i = 0; i < nt.nlog && !push; i++) {
        /* a PUSH with two or more deltas: [1, 7, id, inc, 1, [...]]; the
         * ids are fixints here (cluster 7, nodes 1..3) and the incarnation
         * a uint64 (0xcf and 8 bytes), so the kind is byte 13 and the
         * deltas' array header byte 14 */
        const dgram *d = &nt.log[i];

        if (d->len > 16 && d->b[0] == 0x96 && d->b[4] == 0xcf &&
            d->b[13] == 0x01 && (d->b[14] & 0xf0) == 0x90 &&
            (d->b[14] & 0x0f) >= 2)
            push = d;
    }
    ck_assert_ptr_nonnull(push);
    {
        crdt_gossip_settings s;

        crdt_gossip_settings_default(&s);
        s.node_id = 60;
        s.cluster_id = 7;
        s.max_datagram = 512;
        tu_must(crdt_gossip_new(&g, &s, NULL), "new");
    }
    d0 = crdt_gossip_digest(g);
    {
        /* corrupt the last byte: the last delta is bad, the first good */
        uint8_t *b = malloc(push->len);

        memcpy(b, push->b, push->len);
        b[push->len - 1] = 0xc1; /* never a valid MessagePack byte */
        tu_must(crdt_gossip_receive(g, 0, NULL, 0, b, push->len), "recv");
        ck_assert_uint_eq(crdt_gossip_digest(g), d0);
        ck_assert_uint_eq(crdt_gossip_key_count(g), 0);
        /* the intact datagram is applied */
        tu_must(crdt_gossip_receive(g, 0, NULL, 0, push->b, push->len),
                "recv");
        ck_assert_uint_gt(crdt_gossip_key_count(g), 0);
        free(b);
    }
    crdt_gossip_free(g);
    net_free(&nt);
}
END_TEST

/* ======================================================================
 * Properties
 * ====================================================================== */

/* A random write on node g: counters, a set, deletes. */
static void random_write(crdt_gossip *g, tu_rng *r)
{
    char key[8], e[8];
    uint64_t by = 1 + tu_below(r, 5);

    snprintf(key, sizeof key, "k%u", (unsigned)tu_below(r, 6));
    switch (tu_below(r, 4)) {
    case 0:
    case 1:
        if (crdt_gossip_update(g, key, strlen(key), crdt_gcounter_type(),
                               inc_fn, &by) == CRDT_ERR_TYPE)
            tu_must(crdt_gossip_delete(g, key, strlen(key)), "delete");
        break;
    case 2:
        snprintf(e, sizeof e, "e%u", (unsigned)tu_below(r, 4));
        if (crdt_gossip_update(g, key, strlen(key), crdt_orset_type(),
                               add_fn, e) == CRDT_ERR_TYPE)
            tu_must(crdt_gossip_delete(g, key, strlen(key)), "delete");
        break;
    default:
        tu_must(crdt_gossip_delete(g, key, strlen(key)), "delete");
    }
}

static void adjust_repair_only(crdt_gossip_settings *s, size_t i)
{
    (void)i;
    s->log_max_bytes = 0; /* no fast path: every delta is evicted */
    s->max_datagram = 512;
}

START_TEST(test_gossip_property_repair_alone_converges)
{
    long cases = tu_cases(3000), k;
    tu_rng r;

    tu_rng_init(&r, tu_seed("gossip_repair_alone"));
    for (k = 0; k < cases; k++) {
        net nt;
        size_t w, nw = tu_below(&r, 30);

        net_init(&nt, 2, tu_rand(&r), adjust_repair_only);
        for (w = 0; w < nw; w++)
            random_write(nt.g[tu_below(&r, 2)], &r);
        net_converge(&nt, 60000);
        {
            crdt_gossip_metrics m;

            crdt_gossip_metrics_get(nt.g[0], &m);
            tu_expect_k(m.sent[CRDT_GOSSIP_PUSH] == 0,
                        "repair only: no deltas pushed", k);
        }
        /* byte-equal key by key */
        {
            size_t i;
            crdt_buf a, b;

            tu_expect_k(crdt_gossip_key_count(nt.g[0]) ==
                            crdt_gossip_key_count(nt.g[1]),
                        "key counts", k);
            crdt_buf_init(&a, NULL);
            crdt_buf_init(&b, NULL);
            for (i = 0; i < crdt_gossip_key_count(nt.g[0]); i++) {
                const uint8_t *key;
                size_t klen;

                tu_must(crdt_gossip_key_at(nt.g[0], i, &key, &klen, NULL),
                        "key_at");
                crdt_buf_reset(&a);
                crdt_buf_reset(&b);
                tu_must(crdt_gossip_state(nt.g[0], key, klen, &a), "state");
                tu_must(crdt_gossip_state(nt.g[1], key, klen, &b), "state");
                tu_expect_k(a.len == b.len && !memcmp(a.data, b.data, a.len),
                            "equal states", k);
            }
            crdt_buf_clear(&a);
            crdt_buf_clear(&b);
        }
        tu_expect_k(nt.max_len <= 512, "datagrams within max_datagram", k);
        net_free(&nt);
    }
}
END_TEST

START_TEST(test_gossip_property_duplicates_change_nothing)
{
    long cases = tu_cases(2000), k;
    tu_rng r;

    tu_rng_init(&r, tu_seed("gossip_duplicates"));
    for (k = 0; k < cases; k++) {
        net nt;
        size_t w, nw = 1 + tu_below(&r, 20), i, n = 2 + tu_below(&r, 3);
        uint64_t d[NET_MAX];

        net_init(&nt, n, tu_rand(&r), NULL);
        nt.capture = true;
        for (w = 0; w < nw; w++) {
            random_write(nt.g[tu_below(&r, n)], &r);
            net_run(&nt, tu_below(&r, 3) * 50);
        }
        net_converge(&nt, 60000);
        for (i = 0; i < n; i++)
            d[i] = crdt_gossip_digest(nt.g[i]);
        /* every captured datagram again, in random order, some twice */
        for (i = 0; i < 2 * nt.nlog; i++) {
            const dgram *x = &nt.log[tu_below(&r, nt.nlog)];

            tu_must(crdt_gossip_receive(nt.g[x->to], nt.now, NULL, 0, x->b,
                                        x->len),
                    "replay");
        }
        for (i = 0; i < n; i++)
            tu_expect_k(crdt_gossip_digest(nt.g[i]) == d[i],
                        "replay changed a store", k);
        tu_expect_k(nt.max_len <= CRDT_GOSSIP_DEFAULT_DATAGRAM,
                    "datagrams within max_datagram", k);
        net_free(&nt);
    }
}
END_TEST

START_TEST(test_gossip_property_lossy_converges)
{
    long cases = tu_cases(1000), k;
    tu_rng r;

    tu_rng_init(&r, tu_seed("gossip_lossy"));
    for (k = 0; k < cases; k++) {
        net nt;
        size_t w, nw = 1 + tu_below(&r, 40), n = 2 + tu_below(&r, 8);

        net_init(&nt, n, tu_rand(&r), adjust_big);
        nt.loss = 0.3;
        for (w = 0; w < nw; w++) {
            random_write(nt.g[tu_below(&r, n)], &r);
            net_run(&nt, tu_below(&r, 4) * 30);
        }
        net_converge(&nt, 120000);
        tu_expect_k(nt.max_len <= 512, "datagrams within max_datagram", k);
        net_free(&nt);
    }
}
END_TEST

/* ======================================================================
 * Membership
 * ====================================================================== */

typedef struct peers_seen {
    int up, down;
    uint64_t last;
    bool last_up;
} peers_seen;

static peers_seen peer_log[NET_MAX];

static void on_peer_count(void *ud, uint64_t id, bool up)
{
    peers_seen *p = ud;

    if (up)
        p->up++;
    else
        p->down++;
    p->last = id;
    p->last_up = up;
}

static void adjust_seed_only(crdt_gossip_settings *s, size_t i)
{
    memset(&peer_log[i], 0, sizeof peer_log[i]);
    s->callbacks.on_peer = on_peer_count;
    s->callbacks.user_data = &peer_log[i];
}

START_TEST(test_gossip_membership_learns_peers)
{
    net nt;
    size_t i, n = 12;

    /* every node knows only node 1, which knows nobody */
    memset(&nt, 0, sizeof nt);
    nt.n = n;
    tu_rng_init(&nt.rng, 31);
    for (i = 0; i < n; i++) {
        crdt_gossip_settings s;

        crdt_gossip_settings_default(&s);
        s.node_id = i + 1;
        s.seed = 31 + i;
        s.cluster_id = 7;
        adjust_seed_only(&s, i);
        tu_must(crdt_gossip_new(&nt.g[i], &s, NULL), "new");
        if (i)
            tu_must(crdt_gossip_add_peer(nt.g[i], 1, (const uint8_t *)"n1",
                                         2),
                    "seed");
    }
    inc(nt.g[n - 1], "k", 3);
    net_converge(&nt, 30000);
    net_run(&nt, 20000);
    for (i = 0; i < n; i++) {
        ck_assert_uint_eq(crdt_gossip_peer_count(nt.g[i]), n - 1);
        ck_assert_uint_eq(counter(nt.g[i], "k"), 3);
    }
    /* addresses travel with the samples */
    {
        crdt_gossip_peer p;

        tu_must(crdt_gossip_peer_find(nt.g[5], 1, &p), "find");
        ck_assert_uint_eq(p.addrlen, 2);
        ck_assert_mem_eq(p.addr, "n1", 2);
        ck_assert(p.up);
        ck_assert_uint_gt(p.last_heard_ms, 0);
    }
    net_free(&nt);
}
END_TEST

START_TEST(test_gossip_membership_down_and_back)
{
    net nt;
    crdt_gossip_peer p;
    crdt_gossip_metrics m;
    uint64_t sent_before;

    net_init(&nt, 3, 32, adjust_seed_only);
    net_run(&nt, 1000);
    ck_assert_uint_eq(crdt_gossip_peers_up(nt.g[0]), 2);
    /* node 3 goes silent: cut everything to and from it */
    nt.cut[0][2] = nt.cut[1][2] = nt.cut[2][0] = nt.cut[2][1] = true;
    net_run(&nt, 8000);
    ck_assert_uint_eq(crdt_gossip_peers_up(nt.g[0]), 1);
    tu_must(crdt_gossip_peer_find(nt.g[0], 3, &p), "find");
    ck_assert(!p.up);
    ck_assert_int_ge(peer_log[0].down, 1);
    /* contacted rarely, not never */
    crdt_gossip_metrics_get(nt.g[0], &m);
    sent_before = m.sent[CRDT_GOSSIP_SYN];
    net_run(&nt, 10000);
    crdt_gossip_metrics_get(nt.g[0], &m);
    ck_assert_uint_gt(m.sent[CRDT_GOSSIP_SYN], sent_before);
    ck_assert_uint_eq(m.peers_down, 1);
    /* heard again: up */
    nt.cut[0][2] = nt.cut[1][2] = nt.cut[2][0] = nt.cut[2][1] = false;
    inc(nt.g[2], "back", 1);
    net_run(&nt, 10000);
    ck_assert_uint_eq(crdt_gossip_peers_up(nt.g[0]), 2);
    ck_assert(peer_log[0].last_up);
    ck_assert_uint_eq(counter(nt.g[0], "back"), 1);
    /* the peer was not forgotten */
    ck_assert_uint_eq(crdt_gossip_peer_count(nt.g[0]), 2);
    net_free(&nt);
}
END_TEST

START_TEST(test_gossip_membership_peer_api)
{
    crdt_gossip *g = one_node(1);
    crdt_gossip_peer p;
    uint64_t ids[] = {9, 3, 3, 1, 7};
    char addr[300];

    ck_assert_int_eq(crdt_gossip_add_peer(g, 0, NULL, 0),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gossip_add_peer(g, 1, NULL, 0),
                     CRDT_ERR_INVALID_ARG);
    memset(addr, 'a', sizeof addr);
    ck_assert_int_eq(crdt_gossip_add_peer(g, 2, (uint8_t *)addr, 256),
                     CRDT_ERR_INVALID_ARG);
    tu_must(crdt_gossip_add_peer(g, 2, (uint8_t *)"x:1", 3), "add");
    tu_must(crdt_gossip_add_peer(g, 2, (uint8_t *)"y:22", 4), "readdress");
    tu_must(crdt_gossip_add_peers(g, ids, 5), "bulk");
    ck_assert_uint_eq(crdt_gossip_peer_count(g), 4); /* 2, 3, 7, 9 */
    tu_must(crdt_gossip_peer_at(g, 0, &p), "at");
    ck_assert_uint_eq(p.id, 2);
    ck_assert_uint_eq(p.addrlen, 4);
    ck_assert_mem_eq(p.addr, "y:22", 4);
    tu_must(crdt_gossip_peer_at(g, 3, &p), "at");
    ck_assert_uint_eq(p.id, 9);
    ck_assert_int_eq(crdt_gossip_peer_at(g, 4, &p), CRDT_ERR_NOT_FOUND);
    tu_must(crdt_gossip_remove_peer(g, 3), "remove");
    ck_assert_int_eq(crdt_gossip_remove_peer(g, 3), CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(crdt_gossip_peer_find(g, 3, &p), CRDT_ERR_NOT_FOUND);
    ck_assert_uint_eq(crdt_gossip_peer_count(g), 3);
    ck_assert_uint_eq(crdt_gossip_peers_up(g), 3);
    {
        uint64_t zero[] = {4, 0};

        ck_assert_int_eq(crdt_gossip_add_peers(g, zero, 2),
                         CRDT_ERR_INVALID_ARG);
        ck_assert_uint_eq(crdt_gossip_peer_count(g), 3);
    }
    crdt_gossip_free(g);
}
END_TEST

/* ======================================================================
 * Restarts
 * ====================================================================== */

START_TEST(test_gossip_restart_snapshot_roundtrip)
{
    net nt;
    crdt_buf snap;
    crdt_gossip *r;
    crdt_gossip_settings s;
    crdt_decode_info info;
    size_t i;

    net_init(&nt, 3, 41, NULL);
    for (i = 0; i < 30; i++)
        inc(nt.g[i % 3], i % 4 ? "a" : "b", i);
    tu_must(crdt_gossip_update(nt.g[0], "s", 1, crdt_orset_type(), add_fn,
                               "x"),
            "add");
    tu_must(crdt_gossip_delete(nt.g[1], "b", 1), "delete");
    net_converge(&nt, 10000);
    crdt_buf_init(&snap, NULL);
    tu_must(crdt_gossip_snapshot(nt.g[0], &snap), "snapshot");
    crdt_gossip_settings_default(&s);
    s.node_id = 1;
    s.seed = 1000;
    tu_must(crdt_gossip_new(&r, &s, NULL), "new");
    tu_must(crdt_gossip_restore(r, snap.data, snap.len, &info), "restore");
    ck_assert_uint_eq(crdt_gossip_digest(r), crdt_gossip_digest(nt.g[0]));
    ck_assert_uint_eq(crdt_gossip_key_count(r), 3);
    ck_assert_uint_ne(crdt_gossip_actor(r), crdt_gossip_actor(nt.g[0]));
    /* every prefix of the snapshot is refused, leaving the store alone */
    {
        crdt_gossip *e = one_node(2);
        uint64_t d0 = crdt_gossip_digest(e);
        size_t cut;

        for (cut = 0; cut < snap.len; cut++) {
            uint8_t *b = malloc(cut ? cut : 1);
            int rv;

            memcpy(b, snap.data, cut);
            rv = crdt_gossip_restore(e, b, cut, &info);
            free(b);
            tu_expect(rv != CRDT_OK, "a truncated snapshot restored");
            tu_expect(info.offset <= cut, "offset within the input");
            tu_expect(crdt_gossip_digest(e) == d0, "store changed");
        }
        crdt_gossip_free(e);
    }
    crdt_buf_clear(&snap);
    crdt_gossip_free(r);
    net_free(&nt);
}
END_TEST

START_TEST(test_gossip_restart_without_state_not_masked)
{
    net nt;
    crdt_gossip_settings s;
    size_t i;

    net_init(&nt, 3, 42, NULL);
    inc(nt.g[0], "c", 5);
    inc(nt.g[0], "c", 5);
    net_converge(&nt, 5000);
    /* node 1 restarts with nothing */
    crdt_gossip_free(nt.g[0]);
    crdt_gossip_settings_default(&s);
    s.node_id = 1;
    s.seed = 4242;
    s.cluster_id = 7;
    tu_must(crdt_gossip_new(&nt.g[0], &s, NULL), "new");
    tu_must(crdt_gossip_add_peer(nt.g[0], 2, NULL, 0), "peer");
    tu_must(crdt_gossip_add_peer(nt.g[0], 3, NULL, 0), "peer");
    /* its new writes count from zero under a new actor: 10 + 1 */
    inc(nt.g[0], "c", 1);
    net_converge(&nt, 20000);
    for (i = 0; i < 3; i++)
        ck_assert_uint_eq(counter(nt.g[i], "c"), 11);
    net_free(&nt);
}
END_TEST

/* ======================================================================
 * Poll mode
 * ====================================================================== */

START_TEST(test_gossip_poll_queue)
{
    crdt_gossip *g = one_node(1);
    crdt_gossip_datagram dg;
    uint8_t buf[2000];
    int n = 0;

    tu_must(crdt_gossip_add_peer(g, 2, (const uint8_t *)"h:2", 3), "peer");
    ck_assert_int_eq(crdt_gossip_poll(g, &dg, buf, sizeof buf),
                     CRDT_ERR_NOT_FOUND);
    inc(g, "k", 1);
    tu_must(crdt_gossip_tick(g, 0), "tick");
    tu_must(crdt_gossip_tick(g, crdt_gossip_next_deadline(g)), "tick");
    ck_assert_int_eq(crdt_gossip_poll(g, &dg, buf, 3), CRDT_ERR_BUFFER);
    while (crdt_gossip_poll(g, &dg, buf, sizeof buf) == CRDT_OK) {
        ck_assert_uint_eq(dg.to, 2);
        ck_assert_uint_eq(dg.addrlen, 3);
        ck_assert_mem_eq(dg.addr, "h:2", 3);
        ck_assert_uint_le(dg.len, CRDT_GOSSIP_DEFAULT_DATAGRAM);
        n++;
    }
    ck_assert_int_ge(n, 2); /* the fresh delta and a summary */
    ck_assert_int_eq(crdt_gossip_poll(g, NULL, buf, 1), CRDT_ERR_INVALID_ARG);
    crdt_gossip_free(g);
}
END_TEST

START_TEST(test_gossip_metrics_names)
{
    int k;

    for (k = 1; k < CRDT_GOSSIP_KINDS; k++)
        ck_assert_ptr_nonnull(crdt_gossip_kind_name(k));
    ck_assert_ptr_null(crdt_gossip_kind_name(0));
    ck_assert_ptr_null(crdt_gossip_kind_name(CRDT_GOSSIP_KINDS));
    ck_assert_str_eq(crdt_gossip_kind_name(CRDT_GOSSIP_SYN), "syn");
    for (k = 0; k < CRDT_GOSSIP_DROP_REASONS; k++)
        ck_assert_ptr_nonnull(crdt_gossip_drop_name(k));
    ck_assert_ptr_null(crdt_gossip_drop_name(-1));
    ck_assert_str_eq(crdt_gossip_drop_name(CRDT_GOSSIP_DROP_CLUSTER),
                     "cluster");
}
END_TEST

/* ======================================================================
 * Allocation failures
 * ====================================================================== */

/* A node on tm with a few keys and peers. */
static crdt_gossip *nomem_node(tu_mem *tm)
{
    crdt_gossip_settings s;
    crdt_gossip *g;
    uint64_t by = 2;

    crdt_gossip_settings_default(&s);
    s.node_id = 1;
    s.seed = 77;
    s.cluster_id = 7;
    tu_must(crdt_gossip_new(&g, &s, &tm->mem), "new");
    tu_must(crdt_gossip_add_peer(g, 2, (const uint8_t *)"a", 1), "peer");
    tu_must(crdt_gossip_add_peer(g, 3, NULL, 0), "peer");
    tu_must(crdt_gossip_update(g, "a", 1, crdt_gcounter_type(), inc_fn, &by),
            "update");
    tu_must(crdt_gossip_update(g, "s", 1, crdt_orset_type(), add_fn, "x"),
            "update");
    return g;
}

enum { OP_NEW, OP_UPDATE, OP_UPDATE_NEW, OP_DELETE, OP_ADD_PEER, OP_ADD_PEERS,
       OP_SNAPSHOT, OP_RESTORE, OP_TICK, OP_RECEIVE, OP_COUNT };

static const char *const op_names[OP_COUNT] = {
    "new", "update", "update (new key)", "delete", "add_peer", "add_peers",
    "snapshot", "restore", "tick", "receive"};

START_TEST(test_gossip_nomem_every_call)
{
    int op = _i;
    long n;
    net src;
    crdt_buf snap;
    const dgram *dgs;
    size_t ndg;

    /* inputs: a snapshot and the datagrams of a run of another cluster
     * (same cluster id), for restore and receive */
    capture_run(&src);
    crdt_buf_init(&snap, NULL);
    tu_must(crdt_gossip_snapshot(src.g[1], &snap), "snapshot");
    dgs = src.log;
    ndg = src.nlog < 40 ? src.nlog : 40;
    for (n = 0;; n++) {
        tu_mem tm;
        crdt_gossip *g = NULL;
        uint64_t d0 = 0, by = 1;
        size_t keys0 = 0, peers0 = 0, i;
        crdt_buf out;
        int rv = CRDT_OK;

        tu_mem_init(&tm);
        crdt_buf_init(&out, &tm.mem);
        if (op != OP_NEW) {
            g = nomem_node(&tm);
            tu_must(crdt_gossip_tick(g, 1000), "tick");
            d0 = crdt_gossip_digest(g);
            keys0 = crdt_gossip_key_count(g);
            peers0 = crdt_gossip_peer_count(g);
        }
        tu_mem_fail_at(&tm, n);
        switch (op) {
        case OP_NEW: {
            crdt_gossip_settings s;

            crdt_gossip_settings_default(&s);
            s.node_id = 5;
            rv = crdt_gossip_new(&g, &s, &tm.mem);
            if (rv)
                tu_expect(g == NULL, "new: out-param written on failure");
            break;
        }
        case OP_UPDATE:
            rv = crdt_gossip_update(g, "a", 1, crdt_gcounter_type(), inc_fn,
                                    &by);
            break;
        case OP_UPDATE_NEW:
            rv = crdt_gossip_update(g, "new", 3, crdt_orset_type(), add_fn,
                                    "y");
            break;
        case OP_DELETE:
            rv = crdt_gossip_delete(g, "s", 1);
            break;
        case OP_ADD_PEER:
            rv = crdt_gossip_add_peer(g, 40, (const uint8_t *)"addr", 4);
            break;
        case OP_ADD_PEERS: {
            uint64_t ids[] = {50, 51, 52, 2};

            rv = crdt_gossip_add_peers(g, ids, 4);
            break;
        }
        case OP_SNAPSHOT:
            rv = crdt_gossip_snapshot(g, &out);
            if (rv)
                tu_expect(out.len == 0, "snapshot wrote on failure");
            break;
        case OP_RESTORE:
            rv = crdt_gossip_restore(g, snap.data, snap.len, NULL);
            break;
        case OP_TICK:
            rv = crdt_gossip_tick(g, 5000);
            break;
        default:
            for (i = 0; i < ndg && !rv; i++)
                rv = crdt_gossip_receive(g, 2000, NULL, 0, dgs[i].b,
                                         dgs[i].len);
            break;
        }
        tu_mem_off(&tm);
        if (rv != CRDT_OK) {
            if (rv != CRDT_ERR_NOMEM)
                ck_abort_msg("%s: n=%ld: %s", op_names[op], n,
                             crdt_strerror(rv));
            /* atomic calls left everything as it was */
            if (op == OP_UPDATE || op == OP_UPDATE_NEW || op == OP_DELETE ||
                op == OP_ADD_PEER || op == OP_ADD_PEERS || op == OP_SNAPSHOT) {
                tu_expect(crdt_gossip_digest(g) == d0, "digest changed");
                tu_expect(crdt_gossip_key_count(g) == keys0, "keys changed");
                tu_expect(crdt_gossip_peer_count(g) == peers0,
                          "peers changed");
            }
            /* the node still works: the same call succeeds now */
            if (op == OP_RECEIVE)
                for (i = 0; i < ndg; i++)
                    tu_must(crdt_gossip_receive(g, 2000, NULL, 0, dgs[i].b,
                                                dgs[i].len),
                            "receive after nomem");
        }
        crdt_buf_clear(&out);
        crdt_gossip_free(g);
        if (tm.live != 0)
            ck_abort_msg("%s: n=%ld: %ld blocks leaked", op_names[op], n,
                         tm.live);
        if (rv == CRDT_OK && tm.failed == 0)
            break; /* the call allocated fewer than n times: all covered */
        if (n > 20000)
            ck_abort_msg("%s: still failing at n=%ld", op_names[op], n);
    }
    crdt_buf_clear(&snap);
    net_free(&src);
}
END_TEST

/* ======================================================================
 * Suite
 * ====================================================================== */

static Suite *gossip_suite(void)
{
    Suite *s = suite_create("gossip");
    TCase *tc;

    tc = tcase_create("settings");
    tcase_add_test(tc, test_gossip_settings_defaults);
    tcase_add_test(tc, test_gossip_identity_actor);
    tcase_add_test(tc, test_gossip_metrics_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("store");
    tcase_add_test(tc, test_gossip_store_update_get);
    tcase_add_test(tc, test_gossip_store_delete);
    tcase_add_test(tc, test_gossip_store_busy_in_callback);
    suite_add_tcase(s, tc);

    tc = tcase_create("exchange");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gossip_exchange_converges);
    tcase_add_test(tc, test_gossip_exchange_on_change_not_on_duplicates);
    tcase_add_test(tc, test_gossip_exchange_no_echo);
    tcase_add_test(tc, test_gossip_exchange_deleted_key_stays_deleted);
    tcase_add_test(tc, test_gossip_exchange_concurrent_delete_add_wins);
    tcase_add_test(tc, test_gossip_exchange_fragments);
    tcase_add_test(tc, test_gossip_exchange_lww_and_orset);
    tcase_add_test(tc, test_gossip_poll_queue);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gossip_hostile_truncated_and_corrupt);
    tcase_add_test(tc, test_gossip_hostile_envelope);
    tcase_add_test(tc, test_gossip_hostile_partly_bad_push_applies_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("property");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gossip_property_repair_alone_converges);
    tcase_add_test(tc, test_gossip_property_duplicates_change_nothing);
    tcase_add_test(tc, test_gossip_property_lossy_converges);
    suite_add_tcase(s, tc);

    tc = tcase_create("membership");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gossip_membership_learns_peers);
    tcase_add_test(tc, test_gossip_membership_down_and_back);
    tcase_add_test(tc, test_gossip_membership_peer_api);
    suite_add_tcase(s, tc);

    tc = tcase_create("restart");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gossip_restart_snapshot_roundtrip);
    tcase_add_test(tc, test_gossip_restart_without_state_not_masked);
    suite_add_tcase(s, tc);

    tc = tcase_create("nomem");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_gossip_nomem_every_call, 0, OP_COUNT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gossip_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
