/* SPDX-License-Identifier: MIT */
/*
 * The deterministic network simulator (crdt/sim.h): a discrete-event
 * simulation of N gossip engines on one simulated clock.  It is just
 * another caller of the engine's public API (crdt/gossip.h).
 *
 * Workload: millions of small datagrams, each sent, delayed, delivered
 * once or twice and freed, between node timers; the engine's receive is
 * the real work, so the simulator's own cost per event must stay a small
 * constant: no allocation, no scan of the nodes.
 *
 * Events.  Deliveries and node timers, ordered by (time, sequence
 * number), the sequence number counting every scheduling, so that events
 * at one time run in the order they were scheduled (determinism).  They
 * sit in one pool of entries: entry i is node i's timer (at most one per
 * node, so scheduling a timer never allocates and a node can never lose
 * its timer to NOMEM), the rest are deliveries, one per copy in flight.
 * Nearly every event falls within a few hundred ms of now (latencies,
 * round_ms), so they go to a calendar: a ring of CAL_SIZE one-ms
 * buckets, each a list in scheduling order, which is (time, seq) order
 * since the bucket of time t holds only events at t while t is within
 * CAL_SIZE ms of now; adding, moving and taking an event are O(1), with
 * no sift through a heap (at 10,000 nodes, a heap's levels were cache
 * misses).  Events further ahead go to a binary heap (`far`); the next
 * event is the smaller of the calendar's first and the heap's top.
 *
 * Datagrams.  A datagram's header and bytes share one block from a pool
 * of power-of-two size classes (64 B .. 128 KiB) carved from 64 KiB
 * slabs; freed blocks go to their class's free list and slabs are kept
 * until the simulation is freed.  A duplicated datagram is one block
 * with two references.  Sending costs a free-list pop, a memcpy and a
 * heap push.
 *
 * Convergence.  A small open-addressing table maps each store digest
 * (crdt_gossip_digest, O(1)) held by an up node to the number of up
 * nodes holding it, and `distinct` counts its entries; it is updated
 * after every engine call on a node whose digest changed.  The up nodes
 * are converged iff distinct <= 1.  The table has 2 * nodes slots or
 * more from the start, so it never grows.
 *
 * Faults are decided at send time (mtu, partition, loss, duplication,
 * delay, reordering) and looked at again at delivery (the receiver is
 * down, or a partition or blocked link now separates the two nodes).
 *
 * Memory.  Per node: the engine plus about 150 bytes here (its record,
 * timer entry, id and digest-table slots) and a crashed node's snapshot.
 * The formed cluster's peer list (the n ids) is kept for restarts.  Memory the simulator cannot get while a node sends drops
 * that datagram (counted as lost) and makes the run report
 * CRDT_ERR_NOMEM; the simulation stays usable.
 *
 * Counters: sent + duplicated = delivered + lost + partitioned +
 * to_crashed + oversize + copies still in flight.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t, to allocate it ourselves */
#include <xxhash.h>

#include <crdt/sim.h>

#include "mem_internal.h"
#include "rng_internal.h"

/* ======================================================================
 * Constants
 * ====================================================================== */

#define POOL_MIN_SHIFT 6u   /* smallest block: 64 bytes */
#define POOL_CLASSES 12u    /* 64 B .. 128 KiB */
#define POOL_SLAB 65536u    /* bytes carved at a time (or one block) */
#define NIL UINT32_MAX      /* no event entry */
#define CAL_SIZE 4096u      /* calendar buckets (ms), a power of two */
#define EV_NONE 0u          /* sim_ev.where: not scheduled */
#define EV_CAL UINT32_MAX   /* sim_ev.where: in the calendar */
#define MAX_NODES (UINT32_MAX - 1u)

/* Fates of the trace records. */
enum {
    FATE_SEND = 1,
    FATE_DELIVER,
    FATE_LOST,
    FATE_DUP,
    FATE_PARTITIONED,
    FATE_TO_CRASHED,
    FATE_OVERSIZE,
    FATE_NOMEM
};

/* ======================================================================
 * Types
 * ====================================================================== */

/* The simulator's own generator (rng_internal.h), apart from every
 * node's. */
typedef crdtp_rng sim_rng;

/* A datagram in flight.  The bytes follow the header in the same pool
 * block; while the block is free, its first word links the free list. */
typedef struct dgram {
    uint64_t id;         /* send number (trace) */
    uint32_t from, to;   /* node indexes */
    uint32_t len;        /* bytes */
    uint8_t refs;        /* copies in flight */
    uint8_t cls;         /* pool class */
    uint8_t bytes[];
} dgram;

/* An event: a delivery (d) or node `node`'s timer (d NULL).  40 bytes. */
typedef struct sim_ev {
    uint64_t at, seq;
    dgram *d;
    uint32_t node;
    uint32_t prev, next; /* calendar bucket links; free chain (next) */
    uint32_t where;      /* EV_NONE, EV_CAL, or 1 + position in far */
} sim_ev;

typedef struct sim_node {
    crdt_gossip *g;      /* NULL while crashed */
    crdt_sim *sim;       /* for the engine's callbacks */
    uint64_t digest;     /* counted in the digest table while up */
    uint64_t clock;      /* the node's latest time (never goes back) */
    int64_t offset;      /* node time = sim time + offset */
    uint64_t incarnation; /* of the current (or last) start */
    uint8_t *snap;       /* snapshot taken at the crash (crashed only) */
    size_t snaplen;
} sim_node;

/* A digest table slot; count 0 = empty. */
typedef struct dslot {
    uint64_t digest;
    size_t count;
} dslot;

struct crdt_sim {
    crdt_sim_settings set;   /* copy (network fields kept current) */
    crdt_mem mem;
    sim_rng rng;
    uint64_t now;
    uint64_t seq;            /* events scheduled so far */
    uint64_t next_id;        /* datagrams sent so far */
    size_t n, up;
    sim_node *nodes;
    uint64_t *ids;           /* node ids 1..n: the formed cluster */

    sim_ev *evs;             /* [0, n): the nodes' timers; deliveries */
    size_t nevs, evcap;      /* entries made, allocated */
    uint32_t evfree;         /* free delivery entries (chain), or NIL */
    size_t nfree;
    uint32_t *chead, *ctail; /* calendar buckets (CAL_SIZE), or NIL */
    size_t ncal;             /* events in the calendar */
    uint64_t cursor;         /* no calendar event before this time */
    uint32_t *far;           /* heap of the other events (evcap slots) */
    size_t nfar;

    uint8_t *freel[POOL_CLASSES]; /* free blocks of each class */
    void *slabs;             /* slab list, linked through the first word */

    dslot *dt;               /* digest -> up nodes holding it */
    size_t dmask;            /* slots - 1 */
    size_t distinct;         /* digests with a non-zero count */

    size_t *group;           /* partition groups (n), when parted */
    bool parted;
    uint64_t *blocks;        /* blocked links from << 32 | to, sorted */
    size_t nblocks, bcap;

    crdt_sim_tap_fn tap;
    void *tap_data;

    void *trace_mem;         /* the block trace lives in */
    XXH3_state_t *trace;     /* 64-byte aligned inside trace_mem */
    size_t tlen;             /* bytes staged in tbuf */
    uint8_t tbuf[1024];      /* trace bytes not yet hashed */
    crdt_sim_stats st;
    bool nomem;              /* a datagram was dropped for memory */
};

/* ======================================================================
 * Random numbers
 * ====================================================================== */

/* A non-zero incarnation other than `not`. */
static uint64_t draw_incarnation(sim_rng *r, uint64_t not)
{
    uint64_t v;

    do
        v = crdtp_rng_next(r);
    while (!v || v == not);
    return v;
}

/* ======================================================================
 * Trace
 * ====================================================================== */

/* v in little-endian byte order, so that the hash is the same on every
 * platform. */
static uint64_t le64(uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}

static void trace_flush(crdt_sim *sim)
{
    XXH3_64bits_update(sim->trace, sim->tbuf, sim->tlen);
    sim->tlen = 0;
}

static void trace_put(crdt_sim *sim, const uint64_t *w, size_t n)
{
    if (sim->tlen + 8 * n > sizeof sim->tbuf)
        trace_flush(sim);
    memcpy(sim->tbuf + sim->tlen, w, 8 * n);
    sim->tlen += 8 * n;
}

/*
 * The trace is a stream of 64-bit little-endian words, hashed a kilobyte
 * at a time (one XXH3 call per record would cost more than the record):
 *   a send:  FATE_SEND, time, datagram id, from, to id, length,
 *            XXH3-64 of the bytes
 *   a fate:  fate, time, datagram id (the send names the endpoints)
 */
static void trace_send(crdt_sim *sim, uint64_t id, uint64_t from,
                       uint64_t to, const uint8_t *data, size_t len)
{
    uint64_t w[7];

    w[0] = le64(FATE_SEND);
    w[1] = le64(sim->now);
    w[2] = le64(id);
    w[3] = le64(from);
    w[4] = le64(to);
    w[5] = le64(len);
    w[6] = le64(XXH3_64bits(data, len));
    trace_put(sim, w, 7);
}

static void trace(crdt_sim *sim, int fate, uint64_t id)
{
    uint64_t w[3];

    w[0] = le64((uint64_t)fate);
    w[1] = le64(sim->now);
    w[2] = le64(id);
    trace_put(sim, w, 3);
}

/* ======================================================================
 * Datagram pool
 * ====================================================================== */

static unsigned pool_class(size_t need)
{
    unsigned c = 0;

    while (((size_t)1 << (c + POOL_MIN_SHIFT)) < need)
        c++;
    return c;
}

/* A block for a datagram of len bytes (len <= CRDT_GOSSIP_MAX_DATAGRAM),
 * or NULL. */
static dgram *pool_get(crdt_sim *sim, size_t len)
{
    unsigned c = pool_class(offsetof(dgram, bytes) + len);
    size_t bsize = (size_t)1 << (c + POOL_MIN_SHIFT);
    uint8_t *b = sim->freel[c];
    dgram *d;

    if (!b) {
        /* carve a slab: a 16-byte link header, then the blocks */
        size_t span = bsize > POOL_SLAB ? bsize : POOL_SLAB, k;
        uint8_t *slab = crdtp_malloc(&sim->mem, 16 + span);

        if (!slab)
            return NULL;
        memcpy(slab, &sim->slabs, sizeof sim->slabs);
        sim->slabs = slab;
        for (k = span / bsize; k-- > 0;) {
            uint8_t *blk = slab + 16 + k * bsize;

            memcpy(blk, &sim->freel[c], sizeof(uint8_t *));
            sim->freel[c] = blk;
        }
        b = sim->freel[c];
    }
    memcpy(&sim->freel[c], b, sizeof(uint8_t *));
    d = (dgram *)(void *)b;
    d->cls = (uint8_t)c;
    return d;
}

static void pool_put(crdt_sim *sim, dgram *d)
{
    uint8_t *b = (uint8_t *)d;
    unsigned c = d->cls;

    memcpy(b, &sim->freel[c], sizeof(uint8_t *));
    sim->freel[c] = b;
}

static void pool_free_all(crdt_sim *sim)
{
    void *s = sim->slabs;

    while (s) {
        void *next;

        memcpy(&next, s, sizeof next);
        crdtp_free(&sim->mem, s);
        s = next;
    }
    sim->slabs = NULL;
    memset(sim->freel, 0, sizeof sim->freel);
}

/* ======================================================================
 * Events
 * ====================================================================== */

static bool ev_less(const crdt_sim *sim, uint32_t a, uint32_t b)
{
    const sim_ev *x = &sim->evs[a], *y = &sim->evs[b];

    return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

static void far_place(crdt_sim *sim, size_t pos, uint32_t e)
{
    sim->far[pos] = e;
    sim->evs[e].where = (uint32_t)pos + 1;
}

static void far_up(crdt_sim *sim, size_t pos)
{
    uint32_t e = sim->far[pos];

    while (pos) {
        size_t p = (pos - 1) / 2;

        if (!ev_less(sim, e, sim->far[p]))
            break;
        far_place(sim, pos, sim->far[p]);
        pos = p;
    }
    far_place(sim, pos, e);
}

static void far_down(crdt_sim *sim, size_t pos)
{
    uint32_t e = sim->far[pos];
    size_t n = sim->nfar;

    for (;;) {
        size_t c = 2 * pos + 1;

        if (c >= n)
            break;
        if (c + 1 < n && ev_less(sim, sim->far[c + 1], sim->far[c]))
            c++;
        if (!ev_less(sim, sim->far[c], e))
            break;
        far_place(sim, pos, sim->far[c]);
        pos = c;
    }
    far_place(sim, pos, e);
}

/* Schedules entry e (at and seq set): the calendar if its time is within
 * CAL_SIZE ms of now, else the heap (which has room for every entry). */
static void ev_insert(crdt_sim *sim, uint32_t e)
{
    sim_ev *x = &sim->evs[e];

    if (x->at - sim->now < CAL_SIZE) {
        uint32_t b = (uint32_t)(x->at & (CAL_SIZE - 1));

        x->prev = sim->ctail[b];
        x->next = NIL;
        if (x->prev != NIL)
            sim->evs[x->prev].next = e;
        else
            sim->chead[b] = e;
        sim->ctail[b] = e;
        x->where = EV_CAL;
        sim->ncal++;
        if (x->at < sim->cursor)
            sim->cursor = x->at;
        return;
    }
    sim->far[sim->nfar] = e;
    sim->evs[e].where = (uint32_t)++sim->nfar;
    far_up(sim, sim->nfar - 1);
}

/* Unschedules entry e. */
static void ev_take(crdt_sim *sim, uint32_t e)
{
    sim_ev *x = &sim->evs[e];

    if (x->where == EV_CAL) {
        uint32_t b = (uint32_t)(x->at & (CAL_SIZE - 1));

        if (x->prev != NIL)
            sim->evs[x->prev].next = x->next;
        else
            sim->chead[b] = x->next;
        if (x->next != NIL)
            sim->evs[x->next].prev = x->prev;
        else
            sim->ctail[b] = x->prev;
        sim->ncal--;
    } else if (x->where != EV_NONE) {
        size_t pos = x->where - 1;
        uint32_t last = sim->far[--sim->nfar];

        if (pos < sim->nfar) {
            far_place(sim, pos, last);
            far_up(sim, pos);
            far_down(sim, sim->evs[last].where - 1);
        }
    }
    x->where = EV_NONE;
}

/* The next event (not taken), or NIL.  Every calendar event lies in
 * [now, now + CAL_SIZE), so the first non-empty bucket from now (or the
 * cursor, past which there is none) holds the earliest. */
static uint32_t ev_next(crdt_sim *sim)
{
    uint32_t best = NIL;

    if (sim->ncal) {
        uint64_t t = sim->cursor > sim->now ? sim->cursor : sim->now;

        while (sim->chead[t & (CAL_SIZE - 1)] == NIL)
            t++;
        sim->cursor = t;
        best = sim->chead[t & (CAL_SIZE - 1)];
    }
    if (sim->nfar && (best == NIL || ev_less(sim, sim->far[0], best)))
        best = sim->far[0];
    return best;
}

/* Makes room for `extra` more deliveries, so that ev_push cannot fail.
 * The heap grows with the entries: it can hold all of them. */
static int ev_reserve(crdt_sim *sim, size_t extra)
{
    size_t cap, i;
    sim_ev *e;
    uint32_t *f;

    if (sim->nfree >= extra)
        return CRDT_OK;
    cap = crdtp_grow_cap(sim->evcap, sim->nevs + extra - sim->nfree);
    if (cap >= NIL)
        return CRDT_ERR_NOMEM;
    e = crdtp_realloc_array(&sim->mem, sim->evs, cap, sizeof *e);
    if (!e)
        return CRDT_ERR_NOMEM;
    sim->evs = e;
    f = crdtp_realloc_array(&sim->mem, sim->far, cap, sizeof *f);
    if (!f)
        return CRDT_ERR_NOMEM; /* evs grew: harmless */
    sim->far = f;
    sim->evcap = cap;
    for (i = cap; i-- > sim->nevs;) {
        e[i].where = EV_NONE;
        e[i].next = sim->evfree;
        sim->evfree = (uint32_t)i;
        sim->nfree++;
    }
    sim->nevs = cap;
    return CRDT_OK;
}

/* Schedules a delivery (room reserved). */
static void ev_push(crdt_sim *sim, uint64_t at, dgram *d)
{
    uint32_t e = sim->evfree;
    sim_ev *x = &sim->evs[e];

    sim->evfree = x->next;
    sim->nfree--;
    x->at = at;
    x->seq = ++sim->seq;
    x->d = d;
    ev_insert(sim, e);
}

/* Unschedules a delivery and frees its entry. */
static void ev_free(crdt_sim *sim, uint32_t e)
{
    ev_take(sim, e);
    sim->evs[e].next = sim->evfree;
    sim->evfree = e;
    sim->nfree++;
}

static void timer_remove(crdt_sim *sim, size_t i)
{
    if (sim->evs[i].where == EV_NONE)
        return;
    ev_take(sim, (uint32_t)i);
}

/* Sets node i's timer to sim time at; an unchanged timer keeps its
 * place in the order. */
static void timer_set(crdt_sim *sim, size_t i, uint64_t at)
{
    sim_ev *x = &sim->evs[i];

    if (x->where != EV_NONE) {
        if (x->at == at)
            return;
        ev_take(sim, (uint32_t)i);
    }
    x->at = at;
    x->seq = ++sim->seq;
    ev_insert(sim, (uint32_t)i);
}

/* ======================================================================
 * Node clocks
 * ====================================================================== */

/* now + offset, clamped to [0, UINT64_MAX]. */
static uint64_t shifted(uint64_t now, int64_t off)
{
    uint64_t mag;

    if (off >= 0)
        return now > UINT64_MAX - (uint64_t)off ? UINT64_MAX
                                                : now + (uint64_t)off;
    mag = (uint64_t)(-(off + 1)) + 1;
    return now > mag ? now - mag : 0;
}

/* t - off, clamped: the sim time at which a node of offset off sees t. */
static uint64_t unshifted(uint64_t t, int64_t off)
{
    uint64_t mag;

    if (off >= 0)
        return t > (uint64_t)off ? t - (uint64_t)off : 0;
    mag = (uint64_t)(-(off + 1)) + 1;
    return t > UINT64_MAX - mag ? UINT64_MAX : t + mag;
}

/* The node's time now (brought forward, never back). */
static uint64_t node_time(crdt_sim *sim, sim_node *nd)
{
    uint64_t t = shifted(sim->now, nd->offset);

    if (t > nd->clock)
        nd->clock = t;
    return nd->clock;
}

/* Schedules node i's timer from its engine's deadline.  After a tick, a
 * deadline the node's clock has already reached is taken one ms later,
 * so that an engine which does not move its deadline cannot stall the
 * simulation at one instant. */
static void schedule(crdt_sim *sim, size_t i, bool ticked)
{
    sim_node *nd = &sim->nodes[i];
    uint64_t d = crdt_gossip_next_deadline(nd->g), at;

    if (d == CRDT_GOSSIP_NEVER) {
        timer_remove(sim, i);
        return;
    }
    if (d <= nd->clock) {
        at = sim->now;
        if (ticked)
            at = sim->now == UINT64_MAX ? UINT64_MAX : sim->now + 1;
    } else {
        at = unshifted(d, nd->offset);
        if (at < sim->now)
            at = sim->now;
    }
    timer_set(sim, i, at);
}

/* ======================================================================
 * Digest table
 * ====================================================================== */

static size_t dslot_of(const crdt_sim *sim, uint64_t digest)
{
    return (size_t)((digest * 0x9E3779B97F4A7C15u) >> 17) & sim->dmask;
}

static void digest_add(crdt_sim *sim, uint64_t digest)
{
    size_t i = dslot_of(sim, digest);

    while (sim->dt[i].count && sim->dt[i].digest != digest)
        i = (i + 1) & sim->dmask;
    if (!sim->dt[i].count++) {
        sim->dt[i].digest = digest;
        sim->distinct++;
    }
}

static void digest_remove(crdt_sim *sim, uint64_t digest)
{
    size_t i = dslot_of(sim, digest), j;

    while (sim->dt[i].digest != digest || !sim->dt[i].count)
        i = (i + 1) & sim->dmask;
    if (--sim->dt[i].count)
        return;
    sim->distinct--;
    /* backward-shift deletion keeps every probe run unbroken */
    for (j = (i + 1) & sim->dmask; sim->dt[j].count;
         j = (j + 1) & sim->dmask) {
        size_t home = dslot_of(sim, sim->dt[j].digest);

        /* move j to i unless its home lies cyclically in (i, j] */
        if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
            sim->dt[i] = sim->dt[j];
            sim->dt[j].count = 0;
            i = j;
        }
    }
}

/* After any engine call on up node i: its digest and its timer. */
static void after_node(crdt_sim *sim, size_t i, bool ticked)
{
    sim_node *nd = &sim->nodes[i];
    uint64_t d = crdt_gossip_digest(nd->g);

    if (d != nd->digest) {
        digest_remove(sim, nd->digest);
        digest_add(sim, d);
        nd->digest = d;
    }
    schedule(sim, i, ticked);
}

/* ======================================================================
 * The network
 * ====================================================================== */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* True iff a partition or a blocked link keeps from's datagrams from
 * reaching to. */
static bool cut(const crdt_sim *sim, size_t from, size_t to)
{
    if (sim->parted) {
        size_t a = sim->group[from], b = sim->group[to];

        if (a == CRDT_SIM_ISOLATED || b == CRDT_SIM_ISOLATED || a != b)
            return true;
    }
    if (sim->nblocks) {
        uint64_t k = (uint64_t)from << 32 | to;

        return bsearch(&k, sim->blocks, sim->nblocks, sizeof k, cmp_u64) !=
               NULL;
    }
    return false;
}

/* A one-way delay: latency, plus the reordering hold-back. */
static uint64_t delay(crdt_sim *sim)
{
    uint64_t lo = sim->set.latency_min_ms, hi = sim->set.latency_max_ms;
    uint64_t d = lo + (hi > lo ? crdtp_rng_below(&sim->rng, hi - lo + 1) : 0);

    if (crdtp_rng_chance(&sim->rng, sim->set.reorder))
        d += crdtp_rng_below(&sim->rng, 4 * hi + 1);
    return d;
}

/*
 * Sends len bytes from node `from` to node id `to_id` at the current
 * time.  With `strict`, NOMEM is returned before anything is counted
 * (crdt_sim_send); else the datagram is counted as lost and the run
 * reports NOMEM later (a node's send).
 */
static int net_send(crdt_sim *sim, size_t from, uint64_t to_id,
                    const uint8_t *data, size_t len, bool strict)
{
    size_t to = to_id >= 1 && to_id <= sim->n ? (size_t)(to_id - 1)
                                               : SIZE_MAX;
    bool fits = len <= sim->set.mtu;
    dgram *d = NULL;
    uint64_t id;
    int copies;

    if (fits) {
        if (ev_reserve(sim, 2) || !(d = pool_get(sim, len))) {
            if (strict)
                return CRDT_ERR_NOMEM;
        }
    }
    id = ++sim->next_id;
    sim->st.sent++;
    sim->st.sent_bytes += len;
    if (sim->tap)
        sim->tap(sim->tap_data, from, to, sim->now, data, len);
    trace_send(sim, id, from, to_id, data, len);
    if (!fits) {
        sim->st.oversize++;
        trace(sim, FATE_OVERSIZE, id);
        return CRDT_OK;
    }
    if (!d) {
        sim->st.lost++;
        sim->nomem = true;
        trace(sim, FATE_NOMEM, id);
        return CRDT_ERR_NOMEM;
    }
    if (to == SIZE_MAX) {
        /* no such node: like a datagram to an address nobody holds */
        sim->st.lost++;
        trace(sim, FATE_LOST, id);
        pool_put(sim, d);
        return CRDT_OK;
    }
    if (cut(sim, from, to)) {
        sim->st.partitioned++;
        trace(sim, FATE_PARTITIONED, id);
        pool_put(sim, d);
        return CRDT_OK;
    }
    if (crdtp_rng_chance(&sim->rng, sim->set.loss)) {
        sim->st.lost++;
        trace(sim, FATE_LOST, id);
        pool_put(sim, d);
        return CRDT_OK;
    }
    copies = 1 + crdtp_rng_chance(&sim->rng, sim->set.dup);
    d->id = id;
    d->from = (uint32_t)from;
    d->to = (uint32_t)to;
    d->len = (uint32_t)len;
    d->refs = (uint8_t)copies;
    if (len)
        memcpy(d->bytes, data, len);
    ev_push(sim, sim->now + delay(sim), d);
    if (copies == 2) {
        sim->st.duplicated++;
        trace(sim, FATE_DUP, id);
        ev_push(sim, sim->now + delay(sim), d);
    }
    return CRDT_OK;
}

/* ======================================================================
 * Engine callbacks (user_data: the node)
 * ====================================================================== */

static int cb_send(void *ud, uint64_t to, const uint8_t *addr,
                   size_t addrlen, const uint8_t *data, size_t len)
{
    sim_node *nd = ud;
    crdt_sim *sim = nd->sim;

    (void)addr;
    (void)addrlen;
    return net_send(sim, (size_t)(nd - sim->nodes), to, data, len, false)
               ? -1
               : 0;
}

static void cb_change(void *ud, const uint8_t *key, size_t klen)
{
    sim_node *nd = ud;
    crdt_sim *sim = nd->sim;

    sim->set.on_change(sim->set.user_data, (size_t)(nd - sim->nodes),
                       sim->now, key, klen);
}

static void cb_peer(void *ud, uint64_t peer, bool up)
{
    sim_node *nd = ud;
    crdt_sim *sim = nd->sim;

    sim->set.on_peer(sim->set.user_data, (size_t)(nd - sim->nodes), peer,
                     up);
}

/* ======================================================================
 * Nodes
 * ====================================================================== */

/* Creates node i's engine (not yet installed) with its peers. */
static int node_start(crdt_sim *sim, size_t i, uint64_t seed, uint64_t inc,
                      crdt_gossip **out)
{
    sim_node *nd = &sim->nodes[i];
    crdt_gossip_settings gs = sim->set.gossip;
    crdt_gossip *g;
    int rv;

    gs.node_id = (uint64_t)i + 1;
    gs.cluster_id = 1;
    gs.seed = seed;
    gs.incarnation = inc;
    gs.max_datagram = sim->set.mtu;
    gs.callbacks.send = cb_send;
    gs.callbacks.on_change = sim->set.on_change ? cb_change : NULL;
    gs.callbacks.on_peer = sim->set.on_peer ? cb_peer : NULL;
    gs.callbacks.user_data = nd;
    if ((rv = crdt_gossip_new(&g, &gs, &sim->mem)))
        return rv;
    if (!sim->set.join_seed)
        rv = crdt_gossip_add_peers(g, sim->ids, sim->n);
    else if (i > 0)
        rv = crdt_gossip_add_peers(g, sim->ids, 1);
    if (rv) {
        crdt_gossip_free(g);
        return rv;
    }
    *out = g;
    return CRDT_OK;
}

/* Installs a started engine as node i: counted up, timer armed. */
static void node_up(crdt_sim *sim, size_t i, crdt_gossip *g)
{
    sim_node *nd = &sim->nodes[i];

    nd->g = g;
    nd->incarnation = crdt_gossip_incarnation(g);
    nd->digest = crdt_gossip_digest(g);
    digest_add(sim, nd->digest);
    sim->up++;
    schedule(sim, i, false);
}

static bool check_net(uint32_t lo, uint32_t hi, double loss, double dup,
                      double reorder)
{
    /* written so that NaN fails */
    return lo <= hi && loss >= 0.0 && loss <= 1.0 && dup >= 0.0 &&
           dup <= 1.0 && reorder >= 0.0 && reorder <= 1.0;
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

void crdt_sim_settings_default(crdt_sim_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->version = CRDT_SIM_SETTINGS_VERSION;
    s->nodes = 3;
    s->seed = 1;
    s->latency_min_ms = 1;
    s->latency_max_ms = 20;
    s->mtu = CRDT_GOSSIP_DEFAULT_DATAGRAM;
    crdt_gossip_settings_default(&s->gossip);
}

int crdt_sim_new(crdt_sim **out, const crdt_sim_settings *s,
                 const crdt_mem *mem)
{
    crdt_sim *sim;
    crdt_mem m;
    size_t i, slots;
    uintptr_t a;
    int rv = CRDT_ERR_NOMEM;

    if (!out || !s || s->version != CRDT_SIM_SETTINGS_VERSION ||
        !s->nodes || s->nodes > MAX_NODES ||
        !check_net(s->latency_min_ms, s->latency_max_ms, s->loss, s->dup,
                   s->reorder) ||
        s->mtu < CRDT_GOSSIP_MIN_DATAGRAM ||
        s->mtu > CRDT_GOSSIP_MAX_DATAGRAM)
        return CRDT_ERR_INVALID_ARG;
    crdtp_mem_set(&m, mem);
    sim = crdtp_malloc(&m, sizeof *sim);
    if (!sim)
        return CRDT_ERR_NOMEM;
    memset(sim, 0, sizeof *sim);
    sim->set = *s;
    sim->mem = m;
    sim->n = s->nodes;
    for (slots = 16; slots < 2 * sim->n + 2; slots *= 2)
        ;
    sim->dmask = slots - 1;
    sim->nodes = crdtp_malloc_array(&m, sim->n, sizeof *sim->nodes);
    if (!sim->nodes)
        goto fail;
    memset(sim->nodes, 0, sim->n * sizeof *sim->nodes);
    sim->ids = crdtp_malloc_array(&m, sim->n, sizeof *sim->ids);
    sim->evs = crdtp_malloc_array(&m, sim->n, sizeof *sim->evs);
    sim->far = crdtp_malloc_array(&m, sim->n, sizeof *sim->far);
    sim->chead = crdtp_malloc_array(&m, CAL_SIZE, sizeof *sim->chead);
    sim->ctail = crdtp_malloc_array(&m, CAL_SIZE, sizeof *sim->ctail);
    sim->dt = crdtp_malloc_array(&m, slots, sizeof *sim->dt);
    sim->trace_mem = crdtp_malloc(&m, sizeof(XXH3_state_t) + 64);
    if (!sim->ids || !sim->evs || !sim->far || !sim->chead || !sim->ctail ||
        !sim->dt || !sim->trace_mem)
        goto fail;
    sim->nevs = sim->evcap = sim->n;
    sim->evfree = NIL;
    for (i = 0; i < CAL_SIZE; i++)
        sim->chead[i] = sim->ctail[i] = NIL;
    memset(sim->dt, 0, slots * sizeof *sim->dt);
    a = ((uintptr_t)sim->trace_mem + 63) & ~(uintptr_t)63;
    sim->trace = (XXH3_state_t *)(void *)a;
    memset(sim->trace, 0, sizeof *sim->trace);
    XXH3_64bits_reset(sim->trace);
    for (i = 0; i < sim->n; i++) {
        sim->ids[i] = (uint64_t)i + 1;
        sim->nodes[i].sim = sim;
        memset(&sim->evs[i], 0, sizeof sim->evs[i]);
        sim->evs[i].node = (uint32_t)i; /* its timer; where = EV_NONE */
    }
    crdtp_rng_seed(&sim->rng, s->seed);
    for (i = 0; i < sim->n; i++) {
        uint64_t seed = crdtp_rng_next(&sim->rng);
        uint64_t inc = s->gossip.incarnation
                           ? s->gossip.incarnation
                           : draw_incarnation(&sim->rng, 0);
        crdt_gossip *g;

        if ((rv = node_start(sim, i, seed, inc, &g)))
            goto fail;
        node_up(sim, i, g);
    }
    *out = sim;
    return CRDT_OK;
fail:
    crdt_sim_free(sim);
    return rv;
}

void crdt_sim_free(crdt_sim *sim)
{
    size_t i;

    if (!sim)
        return;
    for (i = 0; sim->nodes && i < sim->n; i++) {
        crdt_gossip_free(sim->nodes[i].g);
        crdtp_free(&sim->mem, sim->nodes[i].snap);
    }
    pool_free_all(sim);
    crdtp_free(&sim->mem, sim->nodes);
    crdtp_free(&sim->mem, sim->ids);
    crdtp_free(&sim->mem, sim->evs);
    crdtp_free(&sim->mem, sim->far);
    crdtp_free(&sim->mem, sim->chead);
    crdtp_free(&sim->mem, sim->ctail);
    crdtp_free(&sim->mem, sim->dt);
    crdtp_free(&sim->mem, sim->group);
    crdtp_free(&sim->mem, sim->blocks);
    crdtp_free(&sim->mem, sim->trace_mem);
    crdtp_free(&sim->mem, sim);
}

size_t crdt_sim_nodes(const crdt_sim *sim)
{
    return sim ? sim->n : 0;
}

crdt_gossip *crdt_sim_node(const crdt_sim *sim, size_t i)
{
    return sim && i < sim->n ? sim->nodes[i].g : NULL;
}

uint64_t crdt_sim_node_id(const crdt_sim *sim, size_t i)
{
    return sim && i < sim->n ? (uint64_t)i + 1 : 0;
}

bool crdt_sim_is_up(const crdt_sim *sim, size_t i)
{
    return sim && i < sim->n && sim->nodes[i].g;
}

uint64_t crdt_sim_now(const crdt_sim *sim)
{
    return sim ? sim->now : 0;
}

/* ======================================================================
 * Writes
 * ====================================================================== */

/* Brings up node i's clock to the simulated time. */
static int bring_clock(crdt_sim *sim, size_t i)
{
    sim_node *nd = &sim->nodes[i];
    int rv = crdt_gossip_tick(nd->g, node_time(sim, nd));

    after_node(sim, i, true);
    return rv;
}

int crdt_sim_update(crdt_sim *sim, size_t i, const void *key, size_t klen,
                    const crdt_type *type, crdt_gossip_update_fn fn,
                    void *user_data)
{
    int rv;

    if (!crdt_sim_is_up(sim, i))
        return CRDT_ERR_INVALID_ARG;
    if ((rv = bring_clock(sim, i)))
        return rv;
    rv = crdt_gossip_update(sim->nodes[i].g, key, klen, type, fn, user_data);
    after_node(sim, i, false);
    return rv;
}

int crdt_sim_delete(crdt_sim *sim, size_t i, const void *key, size_t klen)
{
    int rv;

    if (!crdt_sim_is_up(sim, i))
        return CRDT_ERR_INVALID_ARG;
    if ((rv = bring_clock(sim, i)))
        return rv;
    rv = crdt_gossip_delete(sim->nodes[i].g, key, klen);
    after_node(sim, i, false);
    return rv;
}

/* ======================================================================
 * Faults
 * ====================================================================== */

int crdt_sim_set_network(crdt_sim *sim, uint32_t latency_min_ms,
                         uint32_t latency_max_ms, double loss, double dup,
                         double reorder)
{
    if (!sim || !check_net(latency_min_ms, latency_max_ms, loss, dup, reorder))
        return CRDT_ERR_INVALID_ARG;
    sim->set.latency_min_ms = latency_min_ms;
    sim->set.latency_max_ms = latency_max_ms;
    sim->set.loss = loss;
    sim->set.dup = dup;
    sim->set.reorder = reorder;
    return CRDT_OK;
}

int crdt_sim_partition(crdt_sim *sim, const size_t *group)
{
    if (!sim || !group)
        return CRDT_ERR_INVALID_ARG;
    if (!sim->group) {
        sim->group = crdtp_malloc_array(&sim->mem, sim->n, sizeof *group);
        if (!sim->group)
            return CRDT_ERR_NOMEM;
    }
    memcpy(sim->group, group, sim->n * sizeof *group);
    sim->parted = true;
    sim->nblocks = 0;
    return CRDT_OK;
}

int crdt_sim_block(crdt_sim *sim, size_t from, size_t to, bool blocked)
{
    uint64_t k;
    size_t lo = 0, hi;

    if (!sim || from >= sim->n || to >= sim->n || from == to)
        return CRDT_ERR_INVALID_ARG;
    k = (uint64_t)from << 32 | to;
    hi = sim->nblocks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (sim->blocks[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < sim->nblocks && sim->blocks[lo] == k) {
        if (!blocked) {
            memmove(&sim->blocks[lo], &sim->blocks[lo + 1],
                    (sim->nblocks - lo - 1) * sizeof k);
            sim->nblocks--;
        }
        return CRDT_OK;
    }
    if (!blocked)
        return CRDT_OK;
    if (sim->nblocks == sim->bcap) {
        size_t cap = crdtp_grow_cap(sim->bcap, sim->nblocks + 1);
        uint64_t *b = crdtp_realloc_array(&sim->mem, sim->blocks, cap,
                                          sizeof *b);

        if (!b)
            return CRDT_ERR_NOMEM;
        sim->blocks = b;
        sim->bcap = cap;
    }
    memmove(&sim->blocks[lo + 1], &sim->blocks[lo],
            (sim->nblocks - lo) * sizeof k);
    sim->blocks[lo] = k;
    sim->nblocks++;
    return CRDT_OK;
}

void crdt_sim_heal(crdt_sim *sim)
{
    if (!sim)
        return;
    sim->parted = false;
    sim->nblocks = 0;
}

int crdt_sim_crash(crdt_sim *sim, size_t i)
{
    sim_node *nd;
    crdt_buf b;
    int rv;

    if (!crdt_sim_is_up(sim, i))
        return CRDT_ERR_INVALID_ARG;
    nd = &sim->nodes[i];
    crdt_buf_init(&b, &sim->mem);
    if ((rv = crdt_gossip_snapshot(nd->g, &b))) {
        crdt_buf_clear(&b);
        return rv;
    }
    crdtp_free(&sim->mem, nd->snap);
    nd->snap = b.data; /* allocated from sim->mem: ours now */
    nd->snaplen = b.len;
    crdt_gossip_free(nd->g);
    nd->g = NULL;
    timer_remove(sim, i);
    digest_remove(sim, nd->digest);
    sim->up--;
    return CRDT_OK;
}

int crdt_sim_restart(crdt_sim *sim, size_t i, bool keep_state)
{
    return crdt_sim_restart_as(sim, i, keep_state, 0);
}

int crdt_sim_restart_as(crdt_sim *sim, size_t i, bool keep_state,
                        uint64_t incarnation)
{
    sim_node *nd;
    sim_rng saved;
    crdt_gossip *g;
    uint64_t seed, inc;
    int rv;

    if (!sim || i >= sim->n || sim->nodes[i].g)
        return CRDT_ERR_INVALID_ARG;
    nd = &sim->nodes[i];
    saved = sim->rng;
    seed = crdtp_rng_next(&sim->rng);
    inc = incarnation ? incarnation
                      : draw_incarnation(&sim->rng, nd->incarnation);
    if ((rv = node_start(sim, i, seed, inc, &g))) {
        sim->rng = saved;
        return rv;
    }
    if (keep_state && nd->snap) {
        nd->g = g; /* so that on_change sees the node */
        rv = crdt_gossip_restore(g, nd->snap, nd->snaplen, NULL);
        nd->g = NULL;
        if (rv) {
            crdt_gossip_free(g);
            sim->rng = saved;
            return rv;
        }
    }
    crdtp_free(&sim->mem, nd->snap);
    nd->snap = NULL;
    nd->snaplen = 0;
    node_up(sim, i, g);
    return CRDT_OK;
}

int crdt_sim_set_clock_offset(crdt_sim *sim, size_t i, int64_t offset_ms)
{
    if (!sim || i >= sim->n)
        return CRDT_ERR_INVALID_ARG;
    sim->nodes[i].offset = offset_ms;
    if (sim->nodes[i].g)
        schedule(sim, i, false);
    return CRDT_OK;
}

/* ======================================================================
 * Datagrams
 * ====================================================================== */

void crdt_sim_set_tap(crdt_sim *sim, crdt_sim_tap_fn tap, void *user_data)
{
    if (!sim)
        return;
    sim->tap = tap;
    sim->tap_data = user_data;
}

int crdt_sim_send(crdt_sim *sim, size_t from, size_t to, const uint8_t *data,
                  size_t len)
{
    if (!sim || from >= sim->n || to >= sim->n || (!data && len))
        return CRDT_ERR_INVALID_ARG;
    return net_send(sim, from, (uint64_t)to + 1, data, len, true);
}

/* ======================================================================
 * Running
 * ====================================================================== */

/* The time of the next event; false if there is none. */
static bool peek(crdt_sim *sim, uint64_t *at)
{
    uint32_t e = ev_next(sim);

    if (e == NIL)
        return false;
    *at = sim->evs[e].at;
    return true;
}

static int deliver(crdt_sim *sim, uint32_t e)
{
    dgram *d = sim->evs[e].d;
    sim_node *nd = &sim->nodes[d->to];
    int rv = CRDT_OK;

    sim->now = sim->evs[e].at;
    ev_free(sim, e); /* before the engine sends: entries may move */
    if (!nd->g) {
        sim->st.to_crashed++;
        trace(sim, FATE_TO_CRASHED, d->id);
    } else if (cut(sim, d->from, d->to)) {
        sim->st.partitioned++;
        trace(sim, FATE_PARTITIONED, d->id);
    } else {
        sim->st.delivered++;
        sim->st.delivered_bytes += d->len;
        trace(sim, FATE_DELIVER, d->id);
        rv = crdt_gossip_receive(nd->g, node_time(sim, nd), NULL, 0,
                                 d->bytes, d->len);
        after_node(sim, d->to, false);
    }
    if (--d->refs == 0)
        pool_put(sim, d);
    return rv;
}

static int fire(crdt_sim *sim, size_t i)
{
    sim_node *nd = &sim->nodes[i];
    int rv;

    /* the timer stays in place while the node ticks; rescheduling it
     * (always later) moves it */
    sim->now = sim->evs[i].at;
    rv = crdt_gossip_tick(nd->g, node_time(sim, nd));
    after_node(sim, i, true);
    return rv;
}

/* Runs the next event (there is one). */
static int step(crdt_sim *sim)
{
    uint32_t e = ev_next(sim);
    int rv;

    sim->st.events++;
    if (sim->evs[e].d)
        rv = deliver(sim, e);
    else
        rv = fire(sim, sim->evs[e].node);
    if (!rv && sim->nomem)
        rv = CRDT_ERR_NOMEM;
    sim->nomem = false;
    return rv;
}

int crdt_sim_run_until(crdt_sim *sim, uint64_t t_ms)
{
    uint64_t at;
    int rv;

    if (!sim)
        return CRDT_ERR_INVALID_ARG;
    while (peek(sim, &at) && at <= t_ms)
        if ((rv = step(sim)))
            return rv;
    if (t_ms > sim->now)
        sim->now = t_ms;
    return CRDT_OK;
}

bool crdt_sim_converged(const crdt_sim *sim)
{
    return sim && sim->distinct <= 1;
}

int crdt_sim_run_until_converged(crdt_sim *sim, uint64_t max_ms,
                                 uint64_t *converged_ms)
{
    uint64_t at;
    int rv;

    if (!sim || !converged_ms)
        return CRDT_ERR_INVALID_ARG;
    while (!crdt_sim_converged(sim)) {
        if (!peek(sim, &at) || at > max_ms) {
            if (max_ms > sim->now)
                sim->now = max_ms;
            *converged_ms = CRDT_GOSSIP_NEVER;
            return CRDT_OK;
        }
        if ((rv = step(sim)))
            return rv;
    }
    *converged_ms = sim->now;
    return CRDT_OK;
}

bool crdt_sim_stores_equal(const crdt_sim *sim)
{
    crdt_buf a, b;
    const crdt_gossip *first = NULL;
    size_t i, k, nkeys = 0;
    bool eq = true;

    if (!sim)
        return false;
    for (i = 0; i < sim->n; i++) {
        if (!sim->nodes[i].g)
            continue;
        if (!first) {
            first = sim->nodes[i].g;
            nkeys = crdt_gossip_key_count(first);
        } else if (crdt_gossip_key_count(sim->nodes[i].g) != nkeys) {
            return false;
        }
    }
    if (!first)
        return true;
    crdt_buf_init(&a, &sim->mem);
    crdt_buf_init(&b, &sim->mem);
    /* equal key counts and every key of the first found equal elsewhere:
     * equal key sets */
    for (k = 0; eq && k < nkeys; k++) {
        const uint8_t *key;
        size_t klen;

        crdt_buf_reset(&a);
        if (crdt_gossip_key_at(first, k, &key, &klen, NULL) ||
            crdt_gossip_state(first, key, klen, &a)) {
            eq = false;
            break;
        }
        for (i = 0; eq && i < sim->n; i++) {
            const crdt_gossip *g = sim->nodes[i].g;

            if (!g || g == first)
                continue;
            crdt_buf_reset(&b);
            eq = crdt_gossip_state(g, key, klen, &b) == CRDT_OK &&
                 a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
        }
    }
    crdt_buf_clear(&a);
    crdt_buf_clear(&b);
    return eq;
}

/* ======================================================================
 * Counters
 * ====================================================================== */

void crdt_sim_stats_get(const crdt_sim *sim, crdt_sim_stats *st)
{
    if (!st)
        return;
    if (!sim) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = sim->st;
}

uint64_t crdt_sim_trace_hash(const crdt_sim *sim)
{
    XXH3_state_t st;

    if (!sim)
        return 0;
    XXH3_copyState(&st, sim->trace);
    XXH3_64bits_update(&st, sim->tbuf, sim->tlen);
    return XXH3_64bits_digest(&st);
}
