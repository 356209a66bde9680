/* SPDX-License-Identifier: MIT */
/*
 * Simulator suite: the network simulator's mechanics (determinism, loss,
 * duplication, partitions, crashes, clocks, arguments, allocation
 * failures), and the gossip engine driven through it: clusters of 3 to
 * 10,000 nodes under loss, duplication, reordering, partitions and
 * crashes must converge to the value a central reference computes from
 * the same writes.
 *
 * CRDT_SEED reproduces a run (the seed is printed); CRDT_SIM_MAX_NODES
 * caps the cluster sizes (the sanitizer pass sets 1000).
 */
#include <check.h>
#include <math.h>
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
#include <crdt/sim.h>

#include "testutil.h"

#define SEC 1000u
#define MIN (60u * SEC)
/* Every scenario must converge within this long after its writes. */
#define CONVERGE_BOUND (5u * MIN)

static double wall_s(void)
{
    struct timespec t;

    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* n, or CRDT_SIM_MAX_NODES if that is set and smaller. */
static size_t cap_nodes(size_t n)
{
    const char *e = getenv("CRDT_SIM_MAX_NODES");
    long m;

    if (!e || !*e)
        return n;
    m = strtol(e, NULL, 10);
    return m > 0 && (size_t)m < n ? (size_t)m : n;
}

static crdt_sim *mk_sim(size_t nodes, uint64_t seed)
{
    crdt_sim_settings s;
    crdt_sim *sim;

    crdt_sim_settings_default(&s);
    s.nodes = nodes;
    s.seed = seed;
    tu_must(crdt_sim_new(&sim, &s, NULL), "crdt_sim_new");
    return sim;
}

static void run_until(crdt_sim *sim, uint64_t t)
{
    tu_must(crdt_sim_run_until(sim, t), "crdt_sim_run_until");
}

/* Runs until converged (at most CONVERGE_BOUND more); asserts it. */
static uint64_t converge(crdt_sim *sim)
{
    uint64_t at;

    tu_must(crdt_sim_run_until_converged(sim, crdt_sim_now(sim) +
                                                  CONVERGE_BOUND,
                                         &at),
            "crdt_sim_run_until_converged");
    ck_assert_msg(at != CRDT_GOSSIP_NEVER, "no convergence by %llu ms",
                  (unsigned long long)crdt_sim_now(sim));
    ck_assert(crdt_sim_converged(sim));
    ck_assert(crdt_sim_stores_equal(sim));
    return at;
}

/* ---------------------------------------------------------- mutations */

static int inc_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_gcounter_increment(v, w->actor, u ? *(uint64_t *)u : 1, d);
}

static int gset_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    (void)w;
    return crdt_gset_add(v, u, strlen(u), d);
}

static int mv_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_mvreg_write(v, w->actor, u, strlen(u), d);
}

static int orset_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_orset_add(v, w->actor, u, strlen(u), d);
}

static int lww_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_lww_set_now(v, w->hlc, w->actor, u, strlen(u), d);
}

/* Records the write's time. */
static int time_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    *(uint64_t *)u = w->now_ms;
    return crdt_gcounter_increment(v, w->actor, 1, d);
}

static void inc(crdt_sim *sim, size_t node, const char *key, uint64_t by)
{
    tu_must(crdt_sim_update(sim, node, key, strlen(key), crdt_gcounter_type(),
                            inc_fn, &by),
            "gcounter write");
}

static bool has_key(crdt_sim *sim, size_t node, const char *key)
{
    return crdt_gossip_get(crdt_sim_node(sim, node), key, strlen(key), NULL,
                           NULL) == CRDT_OK;
}

static uint64_t gcount(crdt_sim *sim, size_t node, const char *key)
{
    const void *v;

    if (crdt_gossip_get(crdt_sim_node(sim, node), key, strlen(key), NULL,
                        &v))
        return 0;
    return crdt_gcounter_value(v);
}

/* The encoding of the key's state on the node into b (reset first). */
static int state_of(crdt_sim *sim, size_t node, const void *key,
                    size_t klen, crdt_buf *b)
{
    crdt_buf_reset(b);
    return crdt_gossip_state(crdt_sim_node(sim, node), key, klen, b);
}

/* ================================================================
 * The reference model
 *
 * Each key has one type (by its index) and, if it is "deletable", may
 * also be deleted.  For every write (update or delete) the test records
 * the key's state on the writing node just after the write
 * (crdt_gossip_state): a state that includes the write, and nothing but
 * writes made so far.  The reference state of a key is the join
 * (crdt_ormap_merge) of all those states.  Since every state a node
 * ever holds is a join of such post-write states (and of nothing else),
 * and a converged cluster holds every write (crashes without state
 * happen only once the cluster has converged), the converged state of
 * every key must equal its reference state: byte for byte (encodings
 * are canonical), so its value too (checked through the value's own
 * accessors: presence, type, counters, registers, sets, flags).  This
 * asserts that no write is lost, none is invented and none is applied
 * twice; for OR-sets, MV-registers, flags and deletes, whose outcome
 * depends on what the writing node had observed, it is the only
 * faithful reference.
 *
 * Independently of the engine's states, keys that are never deleted
 * and whose value does not depend on observation (G-counter,
 * PN-counter, LWW register, G-set) also get a central replica of their
 * type to which each write is applied the same way (the same actor and,
 * for LWW, the timestamp the write used): the converged value must
 * equal that replica's value (the sum of the increments, the write with
 * the largest (timestamp, actor), the union of the adds).
 * ================================================================ */

enum {
    T_GCOUNTER,
    T_PNCOUNTER,
    T_LWW,
    T_MVREG,
    T_ORSET,
    T_GSET,
    T_EWFLAG,
    T_DWFLAG,
    T_COUNT
};

static const crdt_type *type_of(int t)
{
    switch (t) {
    case T_GCOUNTER:
        return crdt_gcounter_type();
    case T_PNCOUNTER:
        return crdt_pncounter_type();
    case T_LWW:
        return crdt_lww_type();
    case T_MVREG:
        return crdt_mvreg_type();
    case T_ORSET:
        return crdt_orset_type();
    case T_GSET:
        return crdt_gset_type();
    case T_EWFLAG:
        return crdt_ewflag_type();
    default:
        return crdt_dwflag_type();
    }
}

static bool independent(int t)
{
    return t == T_GCOUNTER || t == T_PNCOUNTER || t == T_LWW || t == T_GSET;
}

/* One write's parameters, and what it used (actor, LWW timestamp). */
typedef struct wctx {
    int t;
    int op;             /* 0 or 1: inc/dec, add/remove, enable/disable */
    uint64_t by;
    char val[24];
    crdt_actor actor;   /* out */
    uint64_t ts;        /* out: LWW timestamp */
} wctx;

static int write_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    wctx *c = u;
    size_t len = strlen(c->val);
    int rv;

    c->actor = w->actor;
    switch (c->t) {
    case T_GCOUNTER:
        return crdt_gcounter_increment(v, w->actor, c->by, d);
    case T_PNCOUNTER:
        return c->op ? crdt_pncounter_decrement(v, w->actor, c->by, d)
                     : crdt_pncounter_increment(v, w->actor, c->by, d);
    case T_LWW:
        rv = crdt_lww_set_now(v, w->hlc, w->actor, c->val, len, d);
        if (!rv)
            c->ts = crdt_lww_timestamp(v);
        return rv;
    case T_MVREG:
        return crdt_mvreg_write(v, w->actor, c->val, len, d);
    case T_ORSET:
        return c->op ? crdt_orset_remove(v, c->val, len, d)
                     : crdt_orset_add(v, w->actor, c->val, len, d);
    case T_GSET:
        return crdt_gset_add(v, c->val, len, d);
    case T_EWFLAG:
        return c->op ? crdt_ewflag_disable(v, d)
                     : crdt_ewflag_enable(v, w->actor, d);
    default:
        return c->op ? crdt_dwflag_disable(v, w->actor, d)
                     : crdt_dwflag_enable(v, d);
    }
}

/* The same write on the central replica. */
static void central_apply(void *obj, const wctx *c)
{
    size_t len = strlen(c->val);

    switch (c->t) {
    case T_GCOUNTER:
        tu_must(crdt_gcounter_increment(obj, c->actor, c->by, NULL),
                "central gcounter");
        break;
    case T_PNCOUNTER:
        tu_must(c->op ? crdt_pncounter_decrement(obj, c->actor, c->by, NULL)
                      : crdt_pncounter_increment(obj, c->actor, c->by, NULL),
                "central pncounter");
        break;
    case T_LWW:
        tu_must(crdt_lww_set(obj, c->ts, c->actor, c->val, len, NULL),
                "central lww");
        break;
    default:
        tu_must(crdt_gset_add(obj, c->val, len, NULL), "central gset");
        break;
    }
}

typedef struct refkey {
    int t;
    bool deletable;
    bool written;       /* some node holds a state for it */
    crdt_ormap *merged; /* join of the post-write states */
    void *central;      /* central replica (independent, never deleted) */
} refkey;

typedef struct world {
    crdt_sim *sim;
    tu_rng rng;
    size_t nkeys;
    refkey *keys;
    crdt_buf buf, buf2;
    crdt_limits lim;
    unsigned long updates, deletes;
} world;

static void key_name(size_t k, char *out, size_t cap)
{
    snprintf(out, cap, "k%zu", k);
}

static void world_init(world *w, crdt_sim *sim, uint64_t seed, size_t nkeys,
                       bool deletes)
{
    size_t k;

    memset(w, 0, sizeof *w);
    w->sim = sim;
    tu_rng_init(&w->rng, seed);
    w->nkeys = nkeys;
    w->keys = calloc(nkeys, sizeof *w->keys);
    ck_assert_ptr_nonnull(w->keys);
    for (k = 0; k < nkeys; k++) {
        refkey *rk = &w->keys[k];

        rk->t = (int)(k % T_COUNT);
        rk->deletable = deletes && (k / T_COUNT) % 2 == 1;
        rk->merged = crdt_ormap_new(NULL, NULL);
        ck_assert_ptr_nonnull(rk->merged);
        if (!rk->deletable && independent(rk->t)) {
            rk->central = type_of(rk->t)->create(NULL);
            ck_assert_ptr_nonnull(rk->central);
        }
    }
    crdt_buf_init(&w->buf, NULL);
    crdt_buf_init(&w->buf2, NULL);
    crdt_limits_default(&w->lim);
}

static void world_clear(world *w)
{
    size_t k;

    for (k = 0; k < w->nkeys; k++) {
        crdt_ormap_free(w->keys[k].merged);
        if (w->keys[k].central)
            type_of(w->keys[k].t)->destroy(w->keys[k].central);
    }
    free(w->keys);
    crdt_buf_clear(&w->buf);
    crdt_buf_clear(&w->buf2);
    crdt_sim_free(w->sim);
}

/* Joins node's state of key k into the key's reference. */
static void record(world *w, size_t node, size_t k)
{
    char name[24];
    crdt_ormap *m;
    int rv;

    key_name(k, name, sizeof name);
    rv = state_of(w->sim, node, name, strlen(name), &w->buf);
    if (rv == CRDT_ERR_NOT_FOUND)
        return; /* a delete of a key the node never stored: a no-op */
    tu_must(rv, "crdt_gossip_state after a write");
    m = crdt_ormap_new(NULL, NULL);
    ck_assert_ptr_nonnull(m);
    tu_must(crdt_ormap_decode(m, w->buf.data, w->buf.len, &w->lim, NULL),
            "decode a post-write state");
    tu_must(crdt_ormap_merge(w->keys[k].merged, m), "reference merge");
    crdt_ormap_free(m);
    w->keys[k].written = true;
}

/* A random up node. */
static size_t random_up(world *w)
{
    size_t n = crdt_sim_nodes(w->sim), i;

    do
        i = (size_t)tu_below(&w->rng, n);
    while (!crdt_sim_is_up(w->sim, i));
    return i;
}

/* One random write (update or delete) of key k on node. */
static void write_key(world *w, size_t node, size_t k)
{
    refkey *rk = &w->keys[k];
    char name[24];
    wctx c;

    key_name(k, name, sizeof name);
    if (rk->deletable && tu_below(&w->rng, 6) == 0) {
        tu_must(crdt_sim_delete(w->sim, node, name, strlen(name)),
                "crdt_sim_delete");
        w->deletes++;
        record(w, node, k);
        return;
    }
    memset(&c, 0, sizeof c);
    c.t = rk->t;
    c.op = (int)tu_below(&w->rng, 2);
    c.by = 1 + tu_below(&w->rng, 5);
    switch (rk->t) {
    case T_ORSET:
        snprintf(c.val, sizeof c.val, "e%u", (unsigned)tu_below(&w->rng, 6));
        break;
    case T_GSET:
        snprintf(c.val, sizeof c.val, "g%u", (unsigned)tu_below(&w->rng, 12));
        break;
    default:
        snprintf(c.val, sizeof c.val, "v%llu",
                 (unsigned long long)tu_below(&w->rng, 1000000));
        break;
    }
    tu_must(crdt_sim_update(w->sim, node, name, strlen(name), type_of(rk->t),
                            write_fn, &c),
            "crdt_sim_update");
    w->updates++;
    record(w, node, k);
    if (rk->central)
        central_apply(rk->central, &c);
}

/* ---- value comparison through each type's accessors ---- */

typedef struct sitem {
    const uint8_t *p;
    size_t len;
} sitem;

static int cmp_sitem(const void *a, const void *b)
{
    const sitem *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);

    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The elements of a set-like value, sorted. */
static size_t elems(int t, const void *v, sitem *out, size_t cap)
{
    size_t n = 0, i;

    if (t == T_ORSET) {
        n = crdt_orset_size(v);
        ck_assert_uint_le(n, cap);
        for (i = 0; i < n; i++)
            tu_must(crdt_orset_elem(v, i, &out[i].p, &out[i].len, NULL),
                    "orset elem");
    } else if (t == T_GSET) {
        n = crdt_gset_size(v);
        ck_assert_uint_le(n, cap);
        for (i = 0; i < n; i++)
            tu_must(crdt_gset_elem(v, i, &out[i].p, &out[i].len),
                    "gset elem");
    } else {
        n = crdt_mvreg_count(v);
        ck_assert_uint_le(n, cap);
        for (i = 0; i < n; i++)
            tu_must(crdt_mvreg_get(v, i, NULL, &out[i].p, &out[i].len),
                    "mvreg get");
    }
    qsort(out, n, sizeof *out, cmp_sitem);
    return n;
}

/* True iff the two values of type t are equal as values. */
static bool value_equal(int t, const void *a, const void *b)
{
    switch (t) {
    case T_GCOUNTER:
        return crdt_gcounter_value(a) == crdt_gcounter_value(b);
    case T_PNCOUNTER: {
        uint64_t ap, an, bp, bn;

        crdt_pncounter_totals(a, &ap, &an);
        crdt_pncounter_totals(b, &bp, &bn);
        return ap - an == bp - bn;
    }
    case T_LWW: {
        const uint8_t *ap, *bp;
        size_t al, bl;

        if (crdt_lww_has_value(a) != crdt_lww_has_value(b))
            return false;
        if (!crdt_lww_has_value(a))
            return true;
        tu_must(crdt_lww_value(a, &ap, &al), "lww value");
        tu_must(crdt_lww_value(b, &bp, &bl), "lww value");
        return al == bl && memcmp(ap, bp, al) == 0 &&
               crdt_lww_timestamp(a) == crdt_lww_timestamp(b) &&
               crdt_lww_actor(a) == crdt_lww_actor(b);
    }
    case T_MVREG:
    case T_ORSET:
    case T_GSET: {
        sitem x[64], y[64];
        size_t nx = elems(t, a, x, 64), ny = elems(t, b, y, 64), i;

        if (nx != ny)
            return false;
        for (i = 0; i < nx; i++)
            if (cmp_sitem(&x[i], &y[i]))
                return false;
        return true;
    }
    case T_EWFLAG:
        return crdt_ewflag_value(a) == crdt_ewflag_value(b);
    default:
        return crdt_dwflag_value(a) == crdt_dwflag_value(b);
    }
}

/* Every key on node equals its reference: state bytes, presence, value;
 * and the central replica's value where there is one. */
static void check_reference(world *w, size_t node)
{
    crdt_gossip *g = crdt_sim_node(w->sim, node);
    size_t k, nwritten = 0;

    ck_assert_ptr_nonnull(g);
    for (k = 0; k < w->nkeys; k++) {
        refkey *rk = &w->keys[k];
        const crdt_type *et = NULL, *rt = NULL;
        const void *ev = NULL, *rv = NULL;
        char name[24];
        int egot, rgot;

        if (!rk->written)
            continue;
        nwritten++;
        key_name(k, name, sizeof name);
        tu_must(state_of(w->sim, node, name, strlen(name), &w->buf),
                "state of a written key");
        crdt_buf_reset(&w->buf2);
        tu_must(crdt_ormap_encode(rk->merged, &w->buf2), "encode reference");
        ck_assert_msg(w->buf.len == w->buf2.len &&
                          memcmp(w->buf.data, w->buf2.data, w->buf.len) == 0,
                      "key %s (%s): state differs from the join of its "
                      "writes' states",
                      name, type_of(rk->t)->name);
        egot = crdt_gossip_get(g, name, strlen(name), &et, &ev);
        rgot = crdt_ormap_get(rk->merged, "", 0, &rt, &rv);
        ck_assert_int_eq(egot, rgot);
        if (egot == CRDT_OK) {
            ck_assert_ptr_eq(et, type_of(rk->t));
            ck_assert_msg(value_equal(rk->t, ev, rv),
                          "key %s (%s): value differs from the reference",
                          name, type_of(rk->t)->name);
        }
        if (rk->central) {
            ck_assert_int_eq(egot, CRDT_OK);
            ck_assert_msg(value_equal(rk->t, ev, rk->central),
                          "key %s (%s): value differs from the central "
                          "replica",
                          name, type_of(rk->t)->name);
        }
    }
    ck_assert_uint_eq(crdt_gossip_key_count(g), nwritten);
}

/* ================================================================
 * Scenarios
 * ================================================================ */

typedef struct scen {
    size_t nodes;
    unsigned writes;    /* random writes, spread over span_ms */
    size_t keys;
    uint64_t span_ms;
    double loss, dup, reorder;
    bool partition;     /* a partition for the middle half, then healed */
    unsigned crashes;   /* crash/restart with state during the writes */
    bool wipe;          /* then a crash/restart without state, and more
                         * writes on the restarted node */
    bool deletes;
    bool join_seed;
} scen;

enum { A_WRITE, A_PART, A_HEAL, A_CRASH, A_RESTART };

typedef struct action {
    uint64_t at;
    int kind;
    size_t node;
} action;

static int cmp_action(const void *a, const void *b)
{
    const action *x = a, *y = b;

    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->kind - y->kind;
}

static void partition_random(world *w)
{
    size_t n = crdt_sim_nodes(w->sim), i;
    size_t *g = calloc(n, sizeof *g);

    ck_assert_ptr_nonnull(g);
    for (i = 0; i < n; i++)
        g[i] = (size_t)tu_below(&w->rng, 2);
    g[0] = 0;
    if (n > 1)
        g[n - 1] = 1;
    if (n > 4)
        g[n / 2] = CRDT_SIM_ISOLATED;
    tu_must(crdt_sim_partition(w->sim, g), "crdt_sim_partition");
    free(g);
}

static void restart_all(world *w)
{
    size_t i;

    for (i = 0; i < crdt_sim_nodes(w->sim); i++)
        if (!crdt_sim_is_up(w->sim, i))
            tu_must(crdt_sim_restart(w->sim, i, true), "crdt_sim_restart");
}

/* The wipe phase: crash a node, restart it without state, write on it
 * and elsewhere; its new writes must count in full. */
static void wipe_phase(world *w)
{
    crdt_sim *sim = w->sim;
    size_t n = crdt_sim_nodes(sim), victim = (size_t)tu_below(&w->rng, n);
    uint64_t before = gcount(sim, 0, "k0"), added = 0;
    unsigned i;

    tu_must(crdt_sim_crash(sim, victim), "crash (wipe)");
    run_until(sim, crdt_sim_now(sim) + 2 * SEC);
    tu_must(crdt_sim_restart(sim, victim, false), "restart without state");
    ck_assert_uint_eq(crdt_gossip_key_count(crdt_sim_node(sim, victim)), 0);
    /* k0 is a never-deleted G-counter (index 0) */
    for (i = 0; i < 5; i++) {
        uint64_t by = 1 + tu_below(&w->rng, 9);
        wctx c;

        memset(&c, 0, sizeof c);
        c.t = T_GCOUNTER;
        c.by = by;
        strcpy(c.val, "");
        tu_must(crdt_sim_update(sim, victim, "k0", 2, crdt_gcounter_type(),
                                write_fn, &c),
                "write on the wiped node");
        record(w, victim, 0);
        central_apply(w->keys[0].central, &c);
        added += by;
        if (i == 2)
            run_until(sim, crdt_sim_now(sim) + 300);
    }
    for (i = 0; i < 20; i++) {
        run_until(sim, crdt_sim_now(sim) + tu_below(&w->rng, 200));
        write_key(w, random_up(w), (size_t)tu_below(&w->rng, w->nkeys));
    }
    converge(sim);
    ck_assert_uint_ge(gcount(sim, 0, "k0"), before + added);
    check_reference(w, victim);
    check_reference(w, (victim + 1) % n);
}

static void run_scenario(const char *name, const scen *sc, uint64_t seed)
{
    crdt_sim_settings s;
    crdt_sim *sim;
    crdt_sim_stats st;
    world w;
    action *acts;
    size_t nacts = 0, cap, i;
    uint64_t start = 1 * SEC, t0, conv;
    double w0 = wall_s();

    crdt_sim_settings_default(&s);
    s.nodes = sc->nodes;
    s.seed = seed;
    s.loss = sc->loss;
    s.dup = sc->dup;
    s.reorder = sc->reorder;
    s.join_seed = sc->join_seed;
    tu_must(crdt_sim_new(&sim, &s, NULL), "crdt_sim_new");
    world_init(&w, sim, seed ^ 0x5157u, sc->keys, sc->deletes);

    cap = sc->writes + 2 + 2 * sc->crashes;
    acts = calloc(cap, sizeof *acts);
    ck_assert_ptr_nonnull(acts);
    for (i = 0; i < sc->writes; i++) {
        acts[nacts].at = start + tu_below(&w.rng, sc->span_ms);
        acts[nacts++].kind = A_WRITE;
    }
    if (sc->partition) {
        acts[nacts].at = start + sc->span_ms / 4;
        acts[nacts++].kind = A_PART;
        acts[nacts].at = start + 3 * sc->span_ms / 4;
        acts[nacts++].kind = A_HEAL;
    }
    for (i = 0; i < sc->crashes; i++) {
        uint64_t at = start + tu_below(&w.rng, sc->span_ms);

        acts[nacts].at = at;
        acts[nacts].kind = A_CRASH;
        acts[nacts++].node = (size_t)tu_below(&w.rng, sc->nodes);
        acts[nacts].at = at + 1 + tu_below(&w.rng, sc->span_ms / 4 + 1);
        acts[nacts].kind = A_RESTART;
        acts[nacts].node = acts[nacts - 1].node;
        nacts++;
    }
    qsort(acts, nacts, sizeof *acts, cmp_action);
    for (i = 0; i < nacts; i++) {
        const action *a = &acts[i];

        run_until(sim, a->at);
        switch (a->kind) {
        case A_WRITE:
            write_key(&w, random_up(&w), (size_t)tu_below(&w.rng, w.nkeys));
            break;
        case A_PART:
            partition_random(&w);
            break;
        case A_HEAL:
            crdt_sim_heal(sim);
            break;
        case A_CRASH:
            if (crdt_sim_is_up(sim, a->node) && crdt_sim_nodes(sim) > 1)
                tu_must(crdt_sim_crash(sim, a->node), "crdt_sim_crash");
            break;
        default:
            if (!crdt_sim_is_up(sim, a->node))
                tu_must(crdt_sim_restart(sim, a->node, true),
                        "crdt_sim_restart");
            break;
        }
    }
    free(acts);
    crdt_sim_heal(sim);
    restart_all(&w);
    t0 = crdt_sim_now(sim);
    conv = converge(sim);
    check_reference(&w, 0);
    check_reference(&w, sc->nodes - 1);
    if (sc->wipe)
        wipe_phase(&w);
    crdt_sim_stats_get(sim, &st);
    ck_assert_uint_eq(st.oversize, 0);
    printf("sim %s: %zu nodes, %lu updates, %lu deletes, converged %llu ms "
           "after the last write, %llu delivered, %.2f s\n",
           name, sc->nodes, w.updates, w.deletes,
           (unsigned long long)(conv - t0), (unsigned long long)st.delivered,
           wall_s() - w0);
    fflush(stdout);
    world_clear(&w);
}

/* The scenario families of a cluster size: lossless, lossy (30% loss
 * plus duplication and reordering), partitioned, crashing, all at once
 * with a wipe. */
static scen base(size_t nodes, unsigned writes)
{
    scen sc;

    memset(&sc, 0, sizeof sc);
    sc.nodes = cap_nodes(nodes);
    sc.writes = writes;
    sc.keys = 3 * T_COUNT;
    sc.span_ms = 20 * SEC;
    sc.deletes = true;
    return sc;
}

static void lossy(scen *sc)
{
    sc->loss = 0.3;
    sc->dup = 0.1;
    sc->reorder = 0.2;
}

static uint64_t case_seed(int k)
{
    return tu_splitmix(tu_seed("sim") + (uint64_t)k);
}

static void family(const char *tag, size_t nodes, unsigned writes, int id)
{
    scen sc = base(nodes, writes);
    char name[64];

    snprintf(name, sizeof name, "%s/lossless", tag);
    run_scenario(name, &sc, case_seed(id));
    lossy(&sc);
    snprintf(name, sizeof name, "%s/lossy", tag);
    run_scenario(name, &sc, case_seed(id + 1));
    sc = base(nodes, writes);
    sc.partition = true;
    snprintf(name, sizeof name, "%s/partition", tag);
    run_scenario(name, &sc, case_seed(id + 2));
    sc = base(nodes, writes);
    sc.crashes = 2 + (unsigned)(nodes / 20);
    snprintf(name, sizeof name, "%s/crash", tag);
    run_scenario(name, &sc, case_seed(id + 3));
    lossy(&sc);
    sc.partition = true;
    sc.wipe = true;
    snprintf(name, sizeof name, "%s/everything", tag);
    run_scenario(name, &sc, case_seed(id + 4));
}

START_TEST(test_sim_converge_3)
{
    family("n3", 3, 120, 100);
}
END_TEST

START_TEST(test_sim_converge_10)
{
    family("n10", 10, 200, 200);
}
END_TEST

START_TEST(test_sim_converge_50)
{
    family("n50", 50, 200, 300);
}
END_TEST

START_TEST(test_sim_converge_200)
{
    scen sc = base(200, 150);
    char name[64];

    lossy(&sc);
    sc.partition = true;
    sc.crashes = 6;
    sc.wipe = true;
    snprintf(name, sizeof name, "n200/everything");
    run_scenario(name, &sc, case_seed(400));
    sc = base(200, 150);
    sc.join_seed = true;
    run_scenario("n200/join_seed", &sc, case_seed(401));
}
END_TEST

START_TEST(test_sim_converge_1000)
{
    scen sc = base(1000, 60);

    run_scenario("n1000/lossless", &sc, case_seed(500));
    lossy(&sc);
    sc.partition = true;
    sc.crashes = 10;
    run_scenario("n1000/lossy", &sc, case_seed(501));
}
END_TEST

/* 10,000 nodes that start knowing only node 0 (a formed cluster of
 * 10,000 is 10^8 peer records, 3.2 GB, and 25 s to build): the seed
 * spreads membership and three writes. */
START_TEST(test_sim_converge_10000)
{
    scen sc = base(10000, 3);

    sc.span_ms = 2 * SEC;
    sc.deletes = false;
    sc.join_seed = true;
    run_scenario("n10000/join_seed", &sc, case_seed(600));
}
END_TEST

/* ================================================================
 * Mechanics
 * ================================================================ */

/* A small busy run: writes, loss, a partition, a crash. */
static crdt_sim *busy_run(uint64_t seed)
{
    crdt_sim_settings s;
    crdt_sim *sim;
    size_t g[5] = {0, 0, 1, 1, 1};
    int i;

    crdt_sim_settings_default(&s);
    s.nodes = 5;
    s.seed = seed;
    s.loss = 0.2;
    s.dup = 0.1;
    s.reorder = 0.3;
    tu_must(crdt_sim_new(&sim, &s, NULL), "crdt_sim_new");
    for (i = 0; i < 20; i++) {
        char key[24];

        snprintf(key, sizeof key, "c%d", i % 4);
        run_until(sim, crdt_sim_now(sim) + 150);
        inc(sim, crdt_sim_is_up(sim, (size_t)i % 5) ? (size_t)i % 5 : 0, key,
            1);
        if (i == 5)
            tu_must(crdt_sim_partition(sim, g), "partition");
        if (i == 10) {
            crdt_sim_heal(sim);
            tu_must(crdt_sim_crash(sim, 3), "crash");
        }
        if (i == 15)
            tu_must(crdt_sim_restart(sim, 3, i % 2), "restart");
    }
    converge(sim);
    run_until(sim, crdt_sim_now(sim) + 2 * SEC);
    return sim;
}

START_TEST(test_sim_mechanics_same_seed)
{
    uint64_t seed = case_seed(1);
    crdt_sim *a = busy_run(seed), *b = busy_run(seed);
    crdt_sim_stats sa, sb;
    crdt_buf x, y;
    size_t i, k;

    ck_assert_uint_eq(crdt_sim_trace_hash(a), crdt_sim_trace_hash(b));
    crdt_sim_stats_get(a, &sa);
    crdt_sim_stats_get(b, &sb);
    ck_assert(memcmp(&sa, &sb, sizeof sa) == 0);
    ck_assert_uint_eq(crdt_sim_now(a), crdt_sim_now(b));
    crdt_buf_init(&x, NULL);
    crdt_buf_init(&y, NULL);
    for (i = 0; i < 5; i++) {
        crdt_gossip *ga = crdt_sim_node(a, i), *gb = crdt_sim_node(b, i);

        ck_assert_uint_eq(crdt_gossip_digest(ga), crdt_gossip_digest(gb));
        ck_assert_uint_eq(crdt_gossip_incarnation(ga),
                          crdt_gossip_incarnation(gb));
        ck_assert_uint_eq(crdt_gossip_key_count(ga),
                          crdt_gossip_key_count(gb));
        for (k = 0; k < crdt_gossip_key_count(ga); k++) {
            const uint8_t *key;
            size_t klen;

            tu_must(crdt_gossip_key_at(ga, k, &key, &klen, NULL), "key_at");
            tu_must(state_of(a, i, key, klen, &x), "state a");
            tu_must(state_of(b, i, key, klen, &y), "state b");
            ck_assert(x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
        }
    }
    crdt_buf_clear(&x);
    crdt_buf_clear(&y);
    crdt_sim_free(a);
    crdt_sim_free(b);
}
END_TEST

START_TEST(test_sim_mechanics_other_seed)
{
    crdt_sim *a = busy_run(case_seed(2)), *b = busy_run(case_seed(3));

    ck_assert_uint_ne(crdt_sim_trace_hash(a), crdt_sim_trace_hash(b));
    /* different runs of the same writes: each converged */
    ck_assert_uint_eq(crdt_gossip_digest(crdt_sim_node(a, 0)),
                      crdt_gossip_digest(crdt_sim_node(a, 4)));
    crdt_sim_free(a);
    crdt_sim_free(b);
}
END_TEST

START_TEST(test_sim_mechanics_loss_all)
{
    crdt_sim_settings s;
    crdt_sim *sim;
    crdt_sim_stats st;
    uint64_t at;

    crdt_sim_settings_default(&s);
    s.seed = case_seed(4);
    s.loss = 1.0;
    tu_must(crdt_sim_new(&sim, &s, NULL), "crdt_sim_new");
    run_until(sim, SEC);
    inc(sim, 0, "a", 1);
    tu_must(crdt_sim_run_until_converged(sim, 20 * SEC, &at), "run");
    ck_assert_uint_eq(at, CRDT_GOSSIP_NEVER);
    ck_assert_uint_eq(crdt_sim_now(sim), 20 * SEC);
    ck_assert(!crdt_sim_converged(sim));
    ck_assert(!has_key(sim, 1, "a"));
    ck_assert(!has_key(sim, 2, "a"));
    crdt_sim_stats_get(sim, &st);
    ck_assert_uint_gt(st.sent, 100);
    ck_assert_uint_eq(st.lost, st.sent);
    ck_assert_uint_eq(st.delivered, 0);
    ck_assert_uint_eq(st.delivered_bytes, 0);
    ck_assert_uint_eq(st.duplicated, 0);
    /* heal the network: the write spreads */
    tu_must(crdt_sim_set_network(sim, 1, 20, 0, 0, 0), "set_network");
    converge(sim);
    ck_assert_uint_eq(gcount(sim, 2, "a"), 1);
    crdt_sim_free(sim);
}
END_TEST

/* Stops every node and lets the network drain: then every datagram and
 * copy has a fate. */
static void drain(crdt_sim *sim, crdt_sim_stats *st)
{
    size_t i;

    for (i = 0; i < crdt_sim_nodes(sim); i++)
        if (crdt_sim_is_up(sim, i))
            tu_must(crdt_sim_crash(sim, i), "crash to drain");
    run_until(sim, crdt_sim_now(sim) + 10 * SEC);
    crdt_sim_stats_get(sim, st);
    ck_assert_uint_eq(st->sent + st->duplicated,
                      st->delivered + st->lost + st->partitioned +
                          st->to_crashed + st->oversize);
}

START_TEST(test_sim_mechanics_dup_all)
{
    crdt_sim_settings s;
    crdt_sim *sim;
    crdt_sim_stats st;

    crdt_sim_settings_default(&s);
    s.seed = case_seed(5);
    s.nodes = 4;
    s.dup = 1.0;
    s.reorder = 0.5;
    tu_must(crdt_sim_new(&sim, &s, NULL), "crdt_sim_new");
    run_until(sim, SEC);
    inc(sim, 0, "a", 2);
    inc(sim, 1, "a", 3);
    converge(sim);
    ck_assert_uint_eq(gcount(sim, 3, "a"), 5);
    run_until(sim, crdt_sim_now(sim) + 3 * SEC);
    ck_assert_uint_eq(gcount(sim, 3, "a"), 5);
    drain(sim, &st);
    ck_assert_uint_gt(st.sent, 50);
    ck_assert_uint_eq(st.duplicated, st.sent);
    ck_assert_uint_eq(st.lost + st.partitioned + st.oversize, 0);
    ck_assert_uint_gt(st.to_crashed, 0);
    ck_assert_uint_eq(st.delivered + st.to_crashed, 2 * st.sent);
    crdt_sim_free(sim);
}
END_TEST

START_TEST(test_sim_mechanics_partition)
{
    crdt_sim *sim = mk_sim(3, case_seed(6));
    crdt_sim_stats st;
    size_t g[3] = {7, 9, 9};
    size_t iso[3] = {CRDT_SIM_ISOLATED, CRDT_SIM_ISOLATED, CRDT_SIM_ISOLATED};

    run_until(sim, SEC);
    tu_must(crdt_sim_partition(sim, g), "partition");
    inc(sim, 0, "a", 1);
    inc(sim, 1, "b", 1);
    run_until(sim, 15 * SEC);
    ck_assert(!has_key(sim, 0, "b"));
    ck_assert(!has_key(sim, 1, "a"));
    ck_assert(!has_key(sim, 2, "a"));
    ck_assert(has_key(sim, 2, "b")); /* same group */
    ck_assert(!crdt_sim_converged(sim));
    crdt_sim_stats_get(sim, &st);
    ck_assert_uint_gt(st.partitioned, 0);
    crdt_sim_heal(sim);
    converge(sim);
    ck_assert(has_key(sim, 0, "b") && has_key(sim, 2, "a"));
    /* isolated nodes reach nobody, not even each other */
    tu_must(crdt_sim_partition(sim, iso), "isolate");
    inc(sim, 2, "c", 1);
    run_until(sim, crdt_sim_now(sim) + 15 * SEC);
    ck_assert(!has_key(sim, 0, "c") && !has_key(sim, 1, "c"));
    crdt_sim_heal(sim);
    converge(sim);
    ck_assert(has_key(sim, 0, "c"));
    crdt_sim_free(sim);
}
END_TEST

START_TEST(test_sim_mechanics_block)
{
    crdt_sim *sim = mk_sim(3, case_seed(7));
    crdt_gossip_metrics m0, m1;

    run_until(sim, SEC);
    /* node 0 can hear but not speak */
    tu_must(crdt_sim_block(sim, 0, 1, true), "block");
    tu_must(crdt_sim_block(sim, 0, 2, true), "block");
    tu_must(crdt_sim_block(sim, 0, 2, true), "block twice");
    crdt_gossip_metrics_get(crdt_sim_node(sim, 0), &m0);
    inc(sim, 0, "a", 1);
    inc(sim, 1, "b", 1);
    run_until(sim, 15 * SEC);
    ck_assert(!has_key(sim, 1, "a"));
    ck_assert(!has_key(sim, 2, "a"));
    ck_assert(has_key(sim, 2, "b"));
    crdt_gossip_metrics_get(crdt_sim_node(sim, 0), &m1);
    ck_assert_uint_gt(m1.bytes_received, m0.bytes_received); /* it hears */
    /* open 0 -> 1 only: 2 learns of "a" through 1 */
    tu_must(crdt_sim_block(sim, 0, 1, false), "unblock");
    tu_must(crdt_sim_block(sim, 1, 2, false), "unblock a free link");
    converge(sim);
    ck_assert(has_key(sim, 2, "a"));
    crdt_sim_free(sim);
}
END_TEST

START_TEST(test_sim_mechanics_crash)
{
    crdt_sim *sim = mk_sim(3, case_seed(8));
    crdt_sim_stats st;

    run_until(sim, SEC);
    inc(sim, 0, "a", 1);
    converge(sim);
    tu_must(crdt_sim_crash(sim, 2), "crash");
    ck_assert(!crdt_sim_is_up(sim, 2));
    ck_assert_ptr_null(crdt_sim_node(sim, 2));
    ck_assert_uint_eq(crdt_sim_node_id(sim, 2), 3);
    ck_assert_int_eq(crdt_sim_crash(sim, 2), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_update(sim, 2, "a", 1, crdt_gcounter_type(),
                                     inc_fn, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_delete(sim, 2, "a", 1), CRDT_ERR_INVALID_ARG);
    inc(sim, 0, "b", 1);
    converge(sim); /* the two up nodes */
    run_until(sim, crdt_sim_now(sim) + 10 * SEC);
    crdt_sim_stats_get(sim, &st);
    ck_assert_uint_gt(st.to_crashed, 0);
    tu_must(crdt_sim_restart(sim, 2, false), "restart");
    ck_assert(crdt_sim_is_up(sim, 2));
    ck_assert_uint_eq(crdt_gossip_key_count(crdt_sim_node(sim, 2)), 0);
    ck_assert_int_eq(crdt_sim_restart(sim, 2, false), CRDT_ERR_INVALID_ARG);
    converge(sim);
    ck_assert_uint_eq(gcount(sim, 2, "b"), 1);
    crdt_sim_free(sim);
}
END_TEST

START_TEST(test_sim_mechanics_restart_state)
{
    crdt_sim *sim = mk_sim(3, case_seed(9));
    size_t iso[3] = {0, CRDT_SIM_ISOLATED, 0};
    uint64_t inc1, digest;

    run_until(sim, SEC);
    inc(sim, 0, "a", 4);
    inc(sim, 2, "b", 5);
    tu_must(crdt_sim_update(sim, 0, "s", 1, crdt_orset_type(), orset_fn,
                            "x"),
            "orset add");
    converge(sim);
    digest = crdt_gossip_digest(crdt_sim_node(sim, 1));
    inc1 = crdt_gossip_incarnation(crdt_sim_node(sim, 1));
    tu_must(crdt_sim_crash(sim, 1), "crash");
    tu_must(crdt_sim_partition(sim, iso), "isolate");
    run_until(sim, crdt_sim_now(sim) + 3 * SEC);
    tu_must(crdt_sim_restart(sim, 1, true), "restart with state");
    /* the snapshot alone: nothing could reach the isolated node */
    ck_assert_uint_eq(crdt_gossip_digest(crdt_sim_node(sim, 1)), digest);
    ck_assert_uint_eq(crdt_gossip_key_count(crdt_sim_node(sim, 1)), 3);
    ck_assert_uint_eq(gcount(sim, 1, "a"), 4);
    ck_assert_uint_eq(gcount(sim, 1, "b"), 5);
    ck_assert_uint_ne(crdt_gossip_incarnation(crdt_sim_node(sim, 1)), inc1);
    ck_assert(crdt_sim_converged(sim));
    run_until(sim, crdt_sim_now(sim) + 3 * SEC);
    ck_assert_uint_eq(crdt_gossip_digest(crdt_sim_node(sim, 1)), digest);
    /* and without state: empty */
    tu_must(crdt_sim_crash(sim, 1), "crash");
    tu_must(crdt_sim_restart(sim, 1, false), "restart without state");
    ck_assert_uint_eq(crdt_gossip_key_count(crdt_sim_node(sim, 1)), 0);
    ck_assert(!crdt_sim_converged(sim));
    crdt_sim_heal(sim);
    converge(sim);
    ck_assert_uint_eq(crdt_gossip_digest(crdt_sim_node(sim, 1)), digest);
    crdt_sim_free(sim);
}
END_TEST

START_TEST(test_sim_mechanics_clock_offset)
{
    crdt_sim *sim = mk_sim(3, case_seed(10));
    uint64_t t;

    tu_must(crdt_sim_set_clock_offset(sim, 1, 5000), "offset");
    tu_must(crdt_sim_set_clock_offset(sim, 2, -3000), "offset");
    run_until(sim, 1000);
    tu_must(crdt_sim_update(sim, 0, "t", 1, crdt_gcounter_type(), time_fn,
                            &t),
            "write");
    ck_assert_uint_eq(t, 1000);
    tu_must(crdt_sim_update(sim, 1, "t", 1, crdt_gcounter_type(), time_fn,
                            &t),
            "write");
    ck_assert_uint_eq(t, 6000);
    tu_must(crdt_sim_update(sim, 2, "t", 1, crdt_gcounter_type(), time_fn,
                            &t),
            "write");
    ck_assert_uint_eq(t, 0); /* 1000 - 3000, clamped */
    run_until(sim, 4500);
    tu_must(crdt_sim_update(sim, 2, "t", 1, crdt_gcounter_type(), time_fn,
                            &t),
            "write");
    ck_assert_uint_eq(t, 1500);
    /* a clock set back does not go backwards */
    tu_must(crdt_sim_set_clock_offset(sim, 1, -4000), "offset");
    tu_must(crdt_sim_update(sim, 1, "t", 1, crdt_gcounter_type(), time_fn,
                            &t),
            "write");
    ck_assert_uint_ge(t, 6000);
    run_until(sim, 20000);
    tu_must(crdt_sim_update(sim, 1, "t", 1, crdt_gcounter_type(), time_fn,
                            &t),
            "write");
    ck_assert_uint_eq(t, 16000);
    /* skewed nodes still gossip on their own clocks */
    tu_must(crdt_sim_set_clock_offset(sim, 0, 3600 * 1000), "offset");
    inc(sim, 0, "u", 1);
    converge(sim);
    ck_assert_uint_eq(gcount(sim, 2, "t"), 6);
    ck_assert_uint_eq(gcount(sim, 1, "u"), 1);
    crdt_sim_free(sim);
}
END_TEST

START_TEST(test_sim_mechanics_invalid)
{
    crdt_sim_settings s, bad;
    crdt_sim *sim = NULL;
    crdt_sim_stats st;
    size_t g[3] = {0, 0, 0};
    uint64_t at;

    ck_assert_int_eq(crdt_sim_new(&sim, NULL, NULL), CRDT_ERR_INVALID_ARG);
    crdt_sim_settings_default(&s);
    ck_assert_int_eq(crdt_sim_new(NULL, &s, NULL), CRDT_ERR_INVALID_ARG);
    bad = s;
    bad.version = 99;
    ck_assert_int_eq(crdt_sim_new(&sim, &bad, NULL), CRDT_ERR_INVALID_ARG);
    bad = s;
    bad.nodes = 0;
    ck_assert_int_eq(crdt_sim_new(&sim, &bad, NULL), CRDT_ERR_INVALID_ARG);
    bad = s;
    bad.latency_min_ms = 30;
    ck_assert_int_eq(crdt_sim_new(&sim, &bad, NULL), CRDT_ERR_INVALID_ARG);
    bad = s;
    bad.loss = -0.1;
    ck_assert_int_eq(crdt_sim_new(&sim, &bad, NULL), CRDT_ERR_INVALID_ARG);
    bad = s;
    bad.dup = 1.5;
    ck_assert_int_eq(crdt_sim_new(&sim, &bad, NULL), CRDT_ERR_INVALID_ARG);
    bad = s;
    bad.reorder = NAN;
    ck_assert_int_eq(crdt_sim_new(&sim, &bad, NULL), CRDT_ERR_INVALID_ARG);
    bad = s;
    bad.mtu = CRDT_GOSSIP_MIN_DATAGRAM - 1;
    ck_assert_int_eq(crdt_sim_new(&sim, &bad, NULL), CRDT_ERR_INVALID_ARG);
    bad = s;
    bad.mtu = CRDT_GOSSIP_MAX_DATAGRAM + 1;
    ck_assert_int_eq(crdt_sim_new(&sim, &bad, NULL), CRDT_ERR_INVALID_ARG);
    bad = s;
    bad.gossip.round_ms = 0; /* invalid node settings */
    ck_assert_int_eq(crdt_sim_new(&sim, &bad, NULL), CRDT_ERR_INVALID_ARG);
    bad = s;
    bad.gossip.version = 99;
    ck_assert_int_eq(crdt_sim_new(&sim, &bad, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(sim);

    tu_must(crdt_sim_new(&sim, &s, NULL), "crdt_sim_new");
    ck_assert_uint_eq(crdt_sim_nodes(sim), 3);
    ck_assert_uint_eq(crdt_sim_nodes(NULL), 0);
    ck_assert_ptr_null(crdt_sim_node(sim, 3));
    ck_assert_ptr_null(crdt_sim_node(NULL, 0));
    ck_assert_uint_eq(crdt_sim_node_id(sim, 0), 1);
    ck_assert_uint_eq(crdt_sim_node_id(sim, 3), 0);
    ck_assert(!crdt_sim_is_up(sim, 3));
    ck_assert(!crdt_sim_is_up(NULL, 0));
    ck_assert_int_eq(crdt_sim_set_network(sim, 5, 4, 0, 0, 0),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_set_network(sim, 1, 4, 2, 0, 0),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_set_network(NULL, 1, 4, 0, 0, 0),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_partition(sim, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_partition(NULL, g), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_block(sim, 0, 3, true), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_block(sim, 3, 0, true), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_block(sim, 1, 1, true), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_crash(sim, 3), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_crash(NULL, 0), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_restart(sim, 0, true), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_restart(sim, 3, true), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_restart(NULL, 0, true), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_set_clock_offset(sim, 3, 1),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_update(sim, 3, "a", 1, crdt_gcounter_type(),
                                     inc_fn, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_update(sim, 0, NULL, 1, crdt_gcounter_type(),
                                     inc_fn, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_update(sim, 0, "a", 1, crdt_gcounter_type(),
                                     NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_delete(sim, 3, "a", 1), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_send(sim, 0, 3, (const uint8_t *)"x", 1),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_send(sim, 0, 1, NULL, 1),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_run_until(NULL, 1), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_run_until_converged(sim, 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_sim_run_until_converged(NULL, 1, &at),
                     CRDT_ERR_INVALID_ARG);
    /* nothing above changed the simulation */
    crdt_sim_stats_get(sim, &st);
    ck_assert_uint_eq(st.events, 0);
    ck_assert_uint_eq(st.sent, 0);
    ck_assert_uint_eq(crdt_sim_now(sim), 0);
    ck_assert(crdt_sim_converged(sim));
    ck_assert(crdt_sim_stores_equal(sim));
    tu_must(crdt_sim_run_until_converged(sim, 10, &at), "converged run");
    ck_assert_uint_eq(at, 0); /* already converged */
    ck_assert(!crdt_sim_converged(NULL));
    ck_assert(!crdt_sim_stores_equal(NULL));
    ck_assert_uint_eq(crdt_sim_trace_hash(NULL), 0);
    crdt_sim_stats_get(NULL, &st);
    ck_assert_uint_eq(st.sent, 0);
    crdt_sim_heal(NULL);
    crdt_sim_set_tap(NULL, NULL, NULL);
    crdt_sim_free(NULL);
    crdt_sim_settings_default(NULL);
    crdt_sim_free(sim);
}
END_TEST

START_TEST(test_sim_mechanics_join_seed)
{
    crdt_sim_settings s;
    crdt_sim *sim;
    size_t i;

    crdt_sim_settings_default(&s);
    s.nodes = cap_nodes(40);
    s.seed = case_seed(11);
    s.join_seed = true;
    tu_must(crdt_sim_new(&sim, &s, NULL), "crdt_sim_new");
    ck_assert_uint_eq(crdt_gossip_peer_count(crdt_sim_node(sim, 0)), 0);
    ck_assert_uint_eq(crdt_gossip_peer_count(crdt_sim_node(sim, 5)), 1);
    run_until(sim, SEC);
    for (i = 0; i < 10; i++)
        inc(sim, 3 * i % s.nodes, "j", 1);
    converge(sim);
    ck_assert_uint_eq(gcount(sim, s.nodes - 1, "j"), 10);
    /* nodes learned of each other */
    run_until(sim, crdt_sim_now(sim) + 30 * SEC);
    ck_assert_uint_eq(crdt_gossip_peer_count(crdt_sim_node(sim, 0)),
                      s.nodes - 1);
    ck_assert_uint_gt(crdt_gossip_peer_count(crdt_sim_node(sim, 5)), 1);
    /* a restart starts from the seed again */
    tu_must(crdt_sim_crash(sim, 5), "crash");
    tu_must(crdt_sim_restart(sim, 5, false), "restart");
    ck_assert_uint_eq(crdt_gossip_peer_count(crdt_sim_node(sim, 5)), 1);
    converge(sim);
    crdt_sim_free(sim);
}
END_TEST

/* ---- allocation failures ---- */

START_TEST(test_sim_nomem_new)
{
    crdt_sim_settings s;
    tu_mem tm;
    long n;
    int join;

    for (join = 0; join < 2; join++) {
        crdt_sim_settings_default(&s);
        s.nodes = 4;
        s.join_seed = join;
        for (n = 0;; n++) {
            crdt_sim *sim = NULL;
            int rv;

            tu_mem_init(&tm);
            tu_mem_fail_at(&tm, n);
            rv = crdt_sim_new(&sim, &s, &tm.mem);
            tu_mem_off(&tm);
            if (rv == CRDT_OK) {
                ck_assert_uint_eq(tm.failed, 0);
                run_until(sim, 3 * SEC);
                inc(sim, 1, "a", 1);
                converge(sim);
                crdt_sim_free(sim);
                ck_assert_int_eq(tm.live, 0);
                break;
            }
            ck_assert_int_eq(rv, CRDT_ERR_NOMEM);
            ck_assert_ptr_null(sim);
            ck_assert_int_eq(tm.live, 0);
        }
        ck_assert_int_gt(n, 5);
    }
}
END_TEST

START_TEST(test_sim_nomem_crash_restart)
{
    crdt_sim_settings s;
    tu_mem tm;
    int op;

    crdt_sim_settings_default(&s);
    s.seed = case_seed(12);
    for (op = 0; op < 3; op++) {
        long n;

        for (n = 0;; n++) {
            crdt_sim *sim;
            uint64_t digest;
            int rv;

            tu_mem_init(&tm);
            tu_must(crdt_sim_new(&sim, &s, &tm.mem), "crdt_sim_new");
            run_until(sim, SEC);
            inc(sim, 0, "a", 2);
            tu_must(crdt_sim_update(sim, 1, "s", 1, crdt_orset_type(),
                                    orset_fn, "x"),
                    "orset add");
            converge(sim);
            digest = crdt_gossip_digest(crdt_sim_node(sim, 1));
            if (op > 0)
                tu_must(crdt_sim_crash(sim, 1), "crash");
            tu_mem_fail_at(&tm, n);
            rv = op == 0 ? crdt_sim_crash(sim, 1)
                         : crdt_sim_restart(sim, 1, op == 1);
            tu_mem_off(&tm);
            if (rv) {
                ck_assert_int_eq(rv, CRDT_ERR_NOMEM);
                /* unchanged: up for a crash, down for a restart */
                ck_assert(crdt_sim_is_up(sim, 1) == (op == 0));
                if (op > 0)
                    tu_must(crdt_sim_restart(sim, 1, op == 1), "restart");
            } else {
                ck_assert(crdt_sim_is_up(sim, 1) == (op > 0));
                if (op == 0)
                    tu_must(crdt_sim_restart(sim, 1, true), "restart");
            }
            if (op == 1 || (op == 0 && !rv)) {
                /* the state came back from the snapshot */
                ck_assert_uint_eq(crdt_gossip_digest(crdt_sim_node(sim, 1)),
                                  digest);
            }
            inc(sim, 1, "a", 1);
            converge(sim);
            ck_assert_uint_eq(gcount(sim, 2, "a"), 3);
            crdt_sim_free(sim);
            ck_assert_int_eq(tm.live, 0);
            if (!rv)
                break;
        }
        ck_assert_int_gt(n, 0);
    }
}
END_TEST

/* Allocation failures while the simulation runs (the simulator's pool and
 * heaps, and the engines): the run reports NOMEM or carries on, and the
 * simulation can be continued to convergence. */
START_TEST(test_sim_nomem_run)
{
    crdt_sim_settings s;
    tu_mem tm;
    long n, calls, step;
    int failures = 0;

    crdt_sim_settings_default(&s);
    s.nodes = 4;
    s.seed = case_seed(13);
    s.loss = 0.1;
    s.dup = 0.2;
    /* a dry run counts the allocations of the run */
    for (n = -1, calls = 0, step = 1; n < calls; n += step) {
        crdt_sim *sim;
        uint64_t base;
        int rv;

        tu_mem_init(&tm);
        tu_must(crdt_sim_new(&sim, &s, &tm.mem), "crdt_sim_new");
        run_until(sim, SEC);
        inc(sim, 0, "a", 1);
        inc(sim, 3, "b", 1);
        base = tm.calls;
        if (n >= 0)
            tu_mem_fail_at(&tm, n);
        rv = crdt_sim_run_until(sim, 4 * SEC);
        tu_mem_off(&tm);
        if (n < 0) {
            tu_must(rv, "dry run");
            calls = tm.calls - base;
            step = calls / 150 + 1;
        } else {
            ck_assert(rv == CRDT_OK || rv == CRDT_ERR_NOMEM);
            failures += rv == CRDT_ERR_NOMEM;
        }
        inc(sim, 1, "a", 1);
        converge(sim);
        ck_assert_uint_eq(gcount(sim, 2, "a"), 2);
        ck_assert_uint_eq(gcount(sim, 2, "b"), 1);
        crdt_sim_free(sim);
        ck_assert_int_eq(tm.live, 0);
        if (n < 0)
            n = 0 - step; /* start the failing runs at 0 */
    }
    ck_assert_int_gt(calls, 10);
    ck_assert_int_gt(failures, 0);
}
END_TEST

START_TEST(test_sim_nomem_faults)
{
    crdt_sim_settings s;
    tu_mem tm;
    size_t g[3] = {0, 1, 1};
    crdt_sim *sim;

    crdt_sim_settings_default(&s);
    tu_mem_init(&tm);
    tu_must(crdt_sim_new(&sim, &s, &tm.mem), "crdt_sim_new");
    tu_mem_fail_at(&tm, 0);
    ck_assert_int_eq(crdt_sim_partition(sim, g), CRDT_ERR_NOMEM);
    tu_mem_fail_at(&tm, 0);
    ck_assert_int_eq(crdt_sim_block(sim, 0, 1, true), CRDT_ERR_NOMEM);
    tu_mem_fail_at(&tm, 0);
    ck_assert_int_eq(crdt_sim_send(sim, 0, 1, (const uint8_t *)"x", 1),
                     CRDT_ERR_NOMEM);
    tu_mem_off(&tm);
    /* unchanged: no partition, no block, nothing sent */
    inc(sim, 0, "a", 1);
    converge(sim);
    {
        crdt_sim_stats st;

        crdt_sim_stats_get(sim, &st);
        ck_assert_uint_eq(st.partitioned, 0);
    }
    crdt_sim_free(sim);
    ck_assert_int_eq(tm.live, 0);
}
END_TEST

/* ================================================================
 * Conflicting payloads under one dot
 *
 * Node 0 writes, reaches node 1 only, crashes, and comes back without
 * its state but with its old incarnation (a misconfigured restart), so
 * it writes with its old actor from counter 1 again: the same dots now
 * name different payloads on node 1 and on nodes 0 and 2.  Once healed,
 * the cluster must still converge: the types' merge must pick the same
 * payload everywhere (the type fix made on another branch).
 * ================================================================ */

static void same_dot_conflict(const crdt_type *type, crdt_gossip_update_fn fn,
                              uint64_t seed)
{
    crdt_sim *sim = mk_sim(3, seed);
    size_t g01[3] = {0, 0, 1}, g02[3] = {0, 1, 0};
    crdt_actor actor;
    uint64_t inc0, at;
    crdt_buf a, b;

    crdt_buf_init(&a, NULL);
    crdt_buf_init(&b, NULL);
    run_until(sim, SEC);
    tu_must(crdt_sim_partition(sim, g01), "partition");
    inc0 = crdt_gossip_incarnation(crdt_sim_node(sim, 0));
    actor = crdt_gossip_actor(crdt_sim_node(sim, 0));
    tu_must(crdt_sim_update(sim, 0, "r", 1, type, fn, "first"), "write");
    run_until(sim, 6 * SEC);
    tu_must(state_of(sim, 1, "r", 1, &a), "node 1 has the write");
    tu_must(crdt_sim_crash(sim, 0), "crash");
    tu_must(crdt_sim_partition(sim, g02), "partition");
    tu_must(crdt_sim_restart_as(sim, 0, false, inc0), "restart as before");
    ck_assert_uint_eq(crdt_gossip_actor(crdt_sim_node(sim, 0)), actor);
    tu_must(crdt_sim_update(sim, 0, "r", 1, type, fn, "second"), "write");
    run_until(sim, 12 * SEC);
    tu_must(state_of(sim, 2, "r", 1, &b), "node 2 has the write");
    /* the same dot, different payloads */
    ck_assert(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
    crdt_sim_heal(sim);
    tu_must(crdt_sim_run_until_converged(sim, crdt_sim_now(sim) +
                                                  CONVERGE_BOUND,
                                         &at),
            "run");
    ck_assert_msg(at != CRDT_GOSSIP_NEVER,
                  "%s: two payloads under one dot did not converge in %u "
                  "s: the type's merge must choose between them the same "
                  "way on every replica",
                  type->name, CONVERGE_BOUND / SEC);
    ck_assert(crdt_sim_stores_equal(sim));
    crdt_buf_clear(&a);
    crdt_buf_clear(&b);
    crdt_sim_free(sim);
}

START_TEST(test_sim_conflict_mvreg_same_dot)
{
    same_dot_conflict(crdt_mvreg_type(), mv_fn, case_seed(20));
}
END_TEST

START_TEST(test_sim_conflict_orset_same_dot)
{
    same_dot_conflict(crdt_orset_type(), orset_fn, case_seed(21));
}
END_TEST

/* ================================================================
 * Gossip properties
 * ================================================================ */

typedef struct capture {
    size_t mtu;
    size_t n, cap;
    size_t max_len;
    struct {
        size_t from, to;
        uint8_t *data;
        size_t len;
    } * d;
} capture;

static void tap_fn(void *ud, size_t from, size_t to, uint64_t now,
                   const uint8_t *data, size_t len)
{
    capture *c = ud;

    (void)now;
    if (len > c->max_len)
        c->max_len = len;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->d = realloc(c->d, c->cap * sizeof *c->d);
        if (!c->d)
            abort();
    }
    c->d[c->n].from = from;
    c->d[c->n].to = to;
    c->d[c->n].len = len;
    c->d[c->n].data = malloc(len ? len : 1);
    if (!c->d[c->n].data)
        abort();
    memcpy(c->d[c->n].data, data, len);
    c->n++;
}

static void capture_free(capture *c)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        free(c->d[i].data);
    free(c->d);
}

START_TEST(test_sim_gossip_mtu)
{
    crdt_sim_settings s;
    crdt_sim *sim;
    crdt_sim_stats st;
    crdt_gossip_metrics m;
    capture cap;
    uint64_t frags = 0;
    size_t i;
    int k;

    crdt_sim_settings_default(&s);
    s.nodes = 4;
    s.mtu = CRDT_GOSSIP_MIN_DATAGRAM;
    s.seed = case_seed(30);
    s.loss = 0.1;
    tu_must(crdt_sim_new(&sim, &s, NULL), "crdt_sim_new");
    memset(&cap, 0, sizeof cap);
    crdt_sim_set_tap(sim, tap_fn, &cap);
    run_until(sim, SEC);
    /* a G-set far larger than a datagram, and many small keys */
    for (k = 0; k < 300; k++) {
        char e[32];

        snprintf(e, sizeof e, "element-%04d-abcdefgh", k);
        tu_must(crdt_sim_update(sim, (size_t)k % 2, "big", 3,
                                crdt_gset_type(), gset_fn, e),
                "gset add");
        if (k % 10 == 0) {
            char key[24];

            snprintf(key, sizeof key, "small%d", k);
            inc(sim, 3, key, 1);
        }
    }
    converge(sim);
    run_until(sim, crdt_sim_now(sim) + 5 * SEC);
    ck_assert_uint_gt(cap.n, 100);
    ck_assert_uint_le(cap.max_len, s.mtu);
    crdt_sim_stats_get(sim, &st);
    ck_assert_uint_eq(st.oversize, 0);
    ck_assert_uint_eq(st.sent, cap.n);
    for (i = 0; i < 4; i++) {
        const void *v;

        crdt_gossip_metrics_get(crdt_sim_node(sim, i), &m);
        frags += m.sent[CRDT_GOSSIP_FRAG];
        tu_must(crdt_gossip_get(crdt_sim_node(sim, i), "big", 3, NULL, &v),
                "get big");
        ck_assert_uint_eq(crdt_gset_size(v), 300);
    }
    ck_assert_uint_gt(frags, 0); /* the states went in fragments */
    /* a datagram over the mtu is dropped by the network and counted */
    {
        static const uint8_t junk[CRDT_GOSSIP_MIN_DATAGRAM + 1];

        tu_must(crdt_sim_send(sim, 0, 1, junk, sizeof junk), "send");
        crdt_sim_stats_get(sim, &st);
        ck_assert_uint_eq(st.oversize, 1);
    }
    crdt_sim_set_tap(sim, NULL, NULL);
    capture_free(&cap);
    crdt_sim_free(sim);
}
END_TEST

START_TEST(test_sim_gossip_replay)
{
    crdt_sim_settings s;
    crdt_sim *sim;
    capture cap;
    tu_rng rng;
    uint64_t digest[6];
    crdt_buf before, after;
    size_t i, k, r;

    crdt_sim_settings_default(&s);
    s.nodes = 6;
    s.seed = case_seed(31);
    tu_must(crdt_sim_new(&sim, &s, NULL), "crdt_sim_new");
    tu_rng_init(&rng, s.seed);
    memset(&cap, 0, sizeof cap);
    crdt_sim_set_tap(sim, tap_fn, &cap);
    run_until(sim, SEC);
    for (i = 0; i < 60; i++) {
        char key[24], val[24];

        snprintf(key, sizeof key, "r%d", (int)(i % 7));
        snprintf(val, sizeof val, "%d", (int)i);
        run_until(sim, crdt_sim_now(sim) + tu_below(&rng, 300));
        switch (i % 4) {
        case 0:
            inc(sim, i % 6, key, 1);
            break;
        case 1:
            key[0] = 'o';
            tu_must(crdt_sim_update(sim, i % 6, key, 2, crdt_orset_type(),
                                    orset_fn, val),
                    "orset add");
            break;
        case 2:
            key[0] = 'm';
            tu_must(crdt_sim_update(sim, i % 6, key, 2, crdt_mvreg_type(),
                                    mv_fn, val),
                    "mvreg write");
            break;
        default:
            key[0] = 'o';
            tu_must(crdt_sim_delete(sim, i % 6, key, 2), "delete");
            break;
        }
    }
    converge(sim);
    crdt_sim_set_tap(sim, NULL, NULL);
    ck_assert_uint_gt(cap.n, 200);
    crdt_buf_init(&before, NULL);
    crdt_buf_init(&after, NULL);
    for (i = 0; i < 6; i++) {
        crdt_gossip *g = crdt_sim_node(sim, i);

        digest[i] = crdt_gossip_digest(g);
        tu_must(crdt_gossip_snapshot(g, &before), "snapshot before");
    }
    /* every captured datagram again, twice, in a random order */
    for (r = 0; r < 2; r++)
        for (k = 0; k < cap.n; k++) {
            size_t j = (size_t)tu_below(&rng, cap.n);

            tu_must(crdt_sim_send(sim, cap.d[j].from, cap.d[j].to,
                                  cap.d[j].data, cap.d[j].len),
                    "replay");
            if (k % 64 == 0)
                run_until(sim, crdt_sim_now(sim) + 5);
        }
    run_until(sim, crdt_sim_now(sim) + 10 * SEC);
    for (i = 0; i < 6; i++) {
        crdt_gossip *g = crdt_sim_node(sim, i);

        ck_assert_uint_eq(crdt_gossip_digest(g), digest[i]);
        tu_must(crdt_gossip_snapshot(g, &after), "snapshot after");
    }
    ck_assert(before.len == after.len &&
              memcmp(before.data, after.data, before.len) == 0);
    ck_assert(crdt_sim_converged(sim) && crdt_sim_stores_equal(sim));
    crdt_buf_clear(&before);
    crdt_buf_clear(&after);
    capture_free(&cap);
    crdt_sim_free(sim);
}
END_TEST

/* A node restarted without its state writes with a new actor: its new
 * increments add to the old total instead of being masked by the max of
 * its old counts. */
START_TEST(test_sim_gossip_wipe_not_masked)
{
    crdt_sim *sim = mk_sim(5, case_seed(32));
    size_t i;
    uint64_t total;
    const void *v;

    run_until(sim, SEC);
    for (i = 0; i < 5; i++)
        inc(sim, i, "c", 10 + i);
    tu_must(crdt_sim_update(sim, 2, "s", 1, crdt_orset_type(), orset_fn,
                            "old"),
            "orset add");
    converge(sim);
    total = gcount(sim, 0, "c");
    ck_assert_uint_eq(total, 60);
    tu_must(crdt_sim_crash(sim, 2), "crash");
    tu_must(crdt_sim_restart(sim, 2, false), "restart without state");
    /* before any repair: the node's store is empty */
    inc(sim, 2, "c", 1);
    inc(sim, 2, "c", 2);
    tu_must(crdt_sim_update(sim, 2, "s", 1, crdt_orset_type(), orset_fn,
                            "new"),
            "orset add");
    converge(sim);
    for (i = 0; i < 5; i++) {
        ck_assert_uint_eq(gcount(sim, i, "c"), total + 3);
        tu_must(crdt_gossip_get(crdt_sim_node(sim, i), "s", 1, NULL, &v),
                "get s");
        ck_assert(crdt_orset_contains(v, "old", 3));
        ck_assert(crdt_orset_contains(v, "new", 3));
    }
    crdt_sim_free(sim);
}
END_TEST

/* An LWW register across skewed clocks: the write with the later HLC
 * timestamp wins everywhere. */
START_TEST(test_sim_gossip_lww)
{
    crdt_sim *sim = mk_sim(3, case_seed(33));
    const void *v;
    const uint8_t *p;
    size_t len, i;

    run_until(sim, SEC);
    tu_must(crdt_sim_update(sim, 0, "l", 1, crdt_lww_type(), lww_fn, "one"),
            "lww");
    run_until(sim, 2 * SEC);
    tu_must(crdt_sim_update(sim, 1, "l", 1, crdt_lww_type(), lww_fn, "two"),
            "lww");
    converge(sim);
    for (i = 0; i < 3; i++) {
        tu_must(crdt_gossip_get(crdt_sim_node(sim, i), "l", 1, NULL, &v),
                "get");
        tu_must(crdt_lww_value(v, &p, &len), "value");
        ck_assert(len == 3 && memcmp(p, "two", 3) == 0);
    }
    crdt_sim_free(sim);
}
END_TEST

/* ------------------------------------------------------------ scenarios */

static const char scenario_text[] =
    "{\"nodes\": 4, \"seed\": 9, \"loss\": 0.2, \"clock_skew_ms\": 50}\n"
    "{\"t\": 0, \"node\": 0, \"key\": \"c\", \"type\": \"gcounter\", "
    "\"op\": \"inc\", \"by\": 2}\n"
    "{\"t\": 5, \"node\": 1, \"key\": \"s\", \"type\": \"orset\", "
    "\"op\": \"add\", \"elem\": \"x\"}\n"
    "{\"t\": 10, \"partition\": [[0, 1], [2]]}\n"
    "{\"t\": 20, \"node\": 3, \"key\": \"l\", \"type\": \"lww\", "
    "\"op\": \"set\", \"value\": \"v\"}\n"
    "{\"t\": 300, \"heal\": true}\n"
    "{\"t\": 400, \"crash\": 2}\n"
    "{\"t\": 500, \"restart\": 2, \"state\": \"lost\"}\n";

START_TEST(test_sim_scenario_runs_and_replays)
{
    crdt_sim_scenario_options o;
    crdt_buf a, b;
    char err[128];
    bool conv = false;

    crdt_sim_scenario_options_default(&o);
    o.dump = true;
    crdt_buf_init(&a, NULL);
    crdt_buf_init(&b, NULL);
    tu_must(crdt_sim_run_scenario(scenario_text, sizeof scenario_text - 1,
                                  &o, NULL, &a, &conv, err, sizeof err),
            "scenario");
    ck_assert(conv);
    tu_must(crdt_sim_run_scenario(scenario_text, sizeof scenario_text - 1,
                                  &o, NULL, &b, &conv, err, sizeof err),
            "scenario again");
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(memcmp(a.data, b.data, a.len) == 0);
    ck_assert_ptr_nonnull(strstr((const char *)a.data,
                                 "\"values\":{\"c\":2,\"l\":\"v\","
                                 "\"s\":[\"x\"]}"));
    /* a bad line: the error names it, out is untouched */
    crdt_buf_reset(&b);
    ck_assert_int_eq(crdt_sim_run_scenario("{\"nodes\": 2}\n{\"t\": -1}\n",
                                           27, &o, NULL, &b, &conv, err,
                                           sizeof err),
                     CRDT_ERR_DECODE);
    ck_assert_str_eq(err, "line 2: 't' (non-negative milliseconds) is "
                          "required");
    ck_assert_uint_eq(b.len, 0);
    /* arguments */
    ck_assert_int_eq(crdt_sim_run_scenario(NULL, 0, &o, NULL, &b, &conv, err,
                                           sizeof err),
                     CRDT_ERR_INVALID_ARG);
    o.version = 99;
    ck_assert_int_eq(crdt_sim_run_scenario(scenario_text, 10, &o, NULL, &b,
                                           &conv, err, sizeof err),
                     CRDT_ERR_INVALID_ARG);
    crdt_buf_clear(&a);
    crdt_buf_clear(&b);
}
END_TEST

START_TEST(test_sim_scenario_nomem)
{
    crdt_sim_scenario_options o;
    crdt_buf want;
    char err[128];
    bool conv;
    long n, failures = 0;

    crdt_sim_scenario_options_default(&o);
    o.dump = true;
    crdt_buf_init(&want, NULL);
    tu_must(crdt_sim_run_scenario(scenario_text, sizeof scenario_text - 1,
                                  &o, NULL, &want, &conv, err, sizeof err),
            "scenario");
    /* every allocation of the run fails in turn (sampled past the first
     * thousand: the simulation allocates tens of thousands of times) */
    for (n = 0;; n += n < 1000 ? 1 : 1 + n / 50) {
        tu_mem tm;
        crdt_buf out;
        int rv;

        tu_mem_init(&tm);
        crdt_buf_init(&out, NULL);
        tu_mem_fail_at(&tm, n);
        rv = crdt_sim_run_scenario(scenario_text, sizeof scenario_text - 1,
                                   &o, &tm.mem, &out, &conv, err, sizeof err);
        if (rv == CRDT_OK) {
            /* an allocation the engine can do without (a sample, a wait
             * entry) changes the run's course, not where it ends: the
             * same values on every node */
            const char *a = strstr((const char *)out.data, "\"nodes\":");
            const char *b = strstr((const char *)want.data, "\"nodes\":");

            ck_assert(conv);
            ck_assert_ptr_nonnull(a);
            ck_assert_uint_eq(out.len - (size_t)(a - (const char *)out.data),
                              want.len -
                                  (size_t)(b - (const char *)want.data));
            ck_assert(memcmp(a, b,
                             out.len - (size_t)(a - (const char *)out.data)) ==
                      0);
        } else {
            ck_assert_int_eq(rv, CRDT_ERR_NOMEM);
            ck_assert_uint_eq(out.len, 0);
            ck_assert_str_eq(err, "out of memory");
            failures++;
        }
        ck_assert_int_eq(tm.live, 0);
        crdt_buf_clear(&out);
        if (tm.failed == 0)
            break; /* the run allocated fewer than n times */
    }
    ck_assert_int_gt(failures, 100);
    crdt_buf_clear(&want);
}
END_TEST

static Suite *sim_suite(void)
{
    Suite *s = suite_create("sim");
    TCase *tc;

    tc = tcase_create("mechanics");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sim_mechanics_same_seed);
    tcase_add_test(tc, test_sim_mechanics_other_seed);
    tcase_add_test(tc, test_sim_mechanics_loss_all);
    tcase_add_test(tc, test_sim_mechanics_dup_all);
    tcase_add_test(tc, test_sim_mechanics_partition);
    tcase_add_test(tc, test_sim_mechanics_block);
    tcase_add_test(tc, test_sim_mechanics_crash);
    tcase_add_test(tc, test_sim_mechanics_restart_state);
    tcase_add_test(tc, test_sim_mechanics_clock_offset);
    tcase_add_test(tc, test_sim_mechanics_invalid);
    tcase_add_test(tc, test_sim_mechanics_join_seed);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sim_nomem_new);
    tcase_add_test(tc, test_sim_nomem_crash_restart);
    tcase_add_test(tc, test_sim_nomem_run);
    tcase_add_test(tc, test_sim_nomem_faults);
    suite_add_tcase(s, tc);
    tc = tcase_create("converge");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_sim_converge_3);
    tcase_add_test(tc, test_sim_converge_10);
    tcase_add_test(tc, test_sim_converge_50);
    tcase_add_test(tc, test_sim_converge_200);
    tcase_add_test(tc, test_sim_converge_1000);
    tcase_add_test(tc, test_sim_converge_10000);
    suite_add_tcase(s, tc);
    tc = tcase_create("conflict");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sim_conflict_mvreg_same_dot);
    tcase_add_test(tc, test_sim_conflict_orset_same_dot);
    suite_add_tcase(s, tc);
    tc = tcase_create("gossip");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sim_gossip_mtu);
    tcase_add_test(tc, test_sim_gossip_replay);
    tcase_add_test(tc, test_sim_gossip_wipe_not_masked);
    tcase_add_test(tc, test_sim_gossip_lww);
    suite_add_tcase(s, tc);

    tc = tcase_create("scenario");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_sim_scenario_runs_and_replays);
    tcase_add_test(tc, test_sim_scenario_nomem);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sim_suite());
    int failed;

    tu_seed("sim"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
