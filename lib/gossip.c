/* SPDX-License-Identifier: MIT */
/*
 * The gossip engine: node lifecycle, the clock and timers, the peer table
 * and membership, sending (callback or queue, fragmentation), receiving
 * (checks, reassembly, dispatch), the store's public verbs, snapshots and
 * metrics.  The fast path's protocol is in gossip_fast.c, the repair
 * path's in gossip_repair.c (see gossip_internal.h for the map).
 *
 * Peers: a sorted array of ids (8 bytes each, searched by interpolation)
 * with a parallel array of 4-byte slots naming each peer's state (24
 * bytes) in a pool, for the peers the node has dealt with only; so a node
 * of a formed 10,000-node cluster starts with 120 KB of peers, and a
 * simulation of 10,000 such nodes builds without touching 3 GB.
 * Addresses live in one arena.  Down detection looks only at requests
 * that have come due (the wait queue, in request order), never at the
 * whole table.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <crdt/gossip.h>

#include "gossip_fast.h"
#include "gossip_repair.h"
#include "gossip_wire.h"
#include "mem_internal.h"

/* ======================================================================
 * Settings and identity
 * ====================================================================== */

size_t crdt_gossip_min_datagram(void)
{
    return CRDT_GOSSIP_MIN_DATAGRAM;
}

size_t crdt_gossip_max_datagram(void)
{
    return CRDT_GOSSIP_MAX_DATAGRAM;
}

void crdt_gossip_settings_default(crdt_gossip_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->version = CRDT_GOSSIP_SETTINGS_VERSION;
    s->round_ms = 100;
    s->fanout = 1;
    s->repair_ms = 5000;
    s->max_datagram = CRDT_GOSSIP_DEFAULT_DATAGRAM;
    s->down_after_ms = 5000;
    s->down_probe_rounds = 10;
    s->log_rounds = 0;
    s->log_max_bytes = (size_t)4 << 20;
    s->sample_size = 3;
    s->max_peers = 1000000;
    s->max_keys = 10000000;
    s->max_key_bytes = 1024;
    s->reassembly_max_bytes = (size_t)4 << 20;
    s->reassembly_ms = 10000;
    s->queue_max_bytes = (size_t)4 << 20;
    crdt_limits_default(&s->limits);
    s->limits.max_value_bytes = (size_t)1 << 20;
}

crdt_actor crdt_gossip_actor_of(uint64_t node_id, uint64_t incarnation)
{
    uint8_t b[16];

    cw_store_be64(b, node_id);
    cw_store_be64(b + 8, incarnation);
    return XXH3_64bits(b, sizeof b);
}

uint64_t crdt_gossip_node_id(const crdt_gossip *g)
{
    return g ? g->node_id : 0;
}

uint64_t crdt_gossip_incarnation(const crdt_gossip *g)
{
    return g ? g->incarnation : 0;
}

crdt_actor crdt_gossip_actor(const crdt_gossip *g)
{
    return g ? g->actor : 0;
}

static uint64_t hlc_wall(void *ud)
{
    return ((const crdt_gossip *)ud)->now;
}

static int check_settings(const crdt_gossip_settings *s)
{
    if (!s || s->version != CRDT_GOSSIP_SETTINGS_VERSION || !s->node_id ||
        !s->round_ms || !s->repair_ms || !s->fanout || s->fanout > 64 ||
        s->max_datagram < CRDT_GOSSIP_MIN_DATAGRAM ||
        s->max_datagram > CRDT_GOSSIP_MAX_DATAGRAM || !s->max_key_bytes ||
        s->max_key_bytes > 65535 || !s->down_after_ms ||
        s->limits.version != CRDT_LIMITS_VERSION)
        return CRDT_ERR_INVALID_ARG;
    return CRDT_OK;
}

int crdt_gossip_new(crdt_gossip **out, const crdt_gossip_settings *settings,
                    const crdt_mem *mem)
{
    crdt_gossip *g;
    crdt_mem m;
    crdt_hlc_settings hs;
    int rv;

    if (!out || (rv = check_settings(settings)))
        return CRDT_ERR_INVALID_ARG;
    if (settings->registry &&
        !crdt_registry_find(settings->registry, CRDT_TAG_ORMAP))
        return CRDT_ERR_INVALID_ARG;
    crdtp_mem_set(&m, mem);
    g = crdtp_malloc(&m, sizeof *g);
    if (!g)
        return CRDT_ERR_NOMEM;
    memset(g, 0, sizeof *g);
    g->set = *settings;
    g->max_datagram = settings->max_datagram;
    g->sample_size = settings->sample_size;
    g->node_id = settings->node_id;
    g->cluster_id = settings->cluster_id;
    g->send = settings->callbacks.send;
    g->on_change = settings->callbacks.on_change;
    g->on_peer = settings->callbacks.on_peer;
    g->user_data = settings->callbacks.user_data;
    g->lim = settings->limits;
    g->mem = m;
    crdtp_rng_seed(&g->rng, settings->seed ^ 0x676f73736970u);
    g->incarnation = settings->incarnation;
    while (!g->incarnation)
        g->incarnation = crdtp_rng_next(&g->rng);
    g->actor = crdt_gossip_actor_of(settings->node_id, g->incarnation);
    g->envlen = (uint32_t)gp_envelope_init(g);
    crdt_buf_init(&g->out, &g->mem);
    crdt_buf_init(&g->tmp, &g->mem);
    gp_log_init(&g->log, &g->mem);
    gp_tree_init(&g->tree, &g->mem);
    g->reg = settings->registry;
    if (!g->reg) {
        g->own_reg = crdt_registry_new(&g->mem);
        if (!g->own_reg || crdt_registry_add_builtins(g->own_reg)) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
        g->reg = g->own_reg;
    }
    g->ormap_type = crdt_registry_find(g->reg, CRDT_TAG_ORMAP);
    gp_store_init(&g->store, g->reg, &g->lim, &g->mem, &g->rng);
    crdt_hlc_settings_default(&hs);
    hs.wall_ms = hlc_wall;
    hs.user_data = g;
    g->hlc = crdt_hlc_new(&hs, &g->mem);
    if (!g->hlc || (rv = gp_tree_rebuild(&g->tree, 1, &g->store))) {
        rv = CRDT_ERR_NOMEM;
        goto fail;
    }
    *out = g;
    return CRDT_OK;
fail:
    crdt_gossip_free(g);
    return rv;
}

static void queue_clear(crdt_gossip *g);

void crdt_gossip_free(crdt_gossip *g)
{
    size_t i;

    if (!g)
        return;
    gp_store_clear(&g->store);
    gp_tree_clear(&g->tree);
    gp_log_clear(&g->log);
    crdt_hlc_free(g->hlc);
    crdt_registry_free(g->own_reg);
    crdt_buf_clear(&g->out);
    crdt_buf_clear(&g->tmp);
    crdtp_free(&g->mem, g->pid);
    crdtp_free(&g->mem, g->pslot);
    crdtp_free(&g->mem, g->pst);
    crdtp_free(&g->mem, g->arena);
    crdtp_free(&g->mem, g->waitq);
    crdtp_free(&g->mem, g->repq);
    queue_clear(g);
    crdtp_free(&g->mem, g->polled);
    for (i = 0; i < g->nreasm; i++) {
        crdtp_free(&g->mem, g->reasm[i].have);
        crdtp_free(&g->mem, g->reasm[i].data);
    }
    crdtp_free(&g->mem, g->reasm);
    for (i = 0; i < GP_SCRATCH_LISTS; i++)
        crdtp_free(&g->mem, g->scr[i]);
    crdtp_free(&g->mem, g);
}

/* ======================================================================
 * Callbacks
 * ====================================================================== */

void gp_call_on_change(crdt_gossip *g, const uint8_t *key, size_t klen)
{
    if (!g->on_change)
        return;
    g->busy = true;
    g->on_change(g->user_data, key, klen);
    g->busy = false;
}

static void call_on_peer(crdt_gossip *g, uint64_t id, bool up)
{
    if (!g->on_peer)
        return;
    g->busy = true;
    g->on_peer(g->user_data, id, up);
    g->busy = false;
}

/* ======================================================================
 * Clock
 * ====================================================================== */

static void advance(crdt_gossip *g, uint64_t now)
{
    if (!g->started) {
        g->started = true;
        g->origin_ms = now;
        g->now = now;
        g->next_round = now + crdtp_rng_below(&g->rng, g->set.round_ms);
        g->next_repair = now + crdtp_rng_below(&g->rng, g->set.repair_ms);
        return;
    }
    if (now > g->now)
        g->now = now;
}

uint32_t gp_stamp(const crdt_gossip *g)
{
    uint64_t t = g->now - g->origin_ms + 1;

    return t >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)t;
}

/* ======================================================================
 * Peers
 * ====================================================================== */

/* What a peer without a state reads as (read-only). */
static const gp_peer no_state;

/* Grows by half (the state pool: with the id arrays doubling, a peer
 * costs at most (8 + 4) x 2 + 24 x 1.5 = 60 bytes). */
static size_t grow_half(size_t cur, size_t need)
{
    size_t cap = cur < 8 ? 8 : cur;

    while (cap < need) {
        if (cap > SIZE_MAX / 3)
            return need;
        cap += cap / 2;
    }
    return cap;
}

static unsigned bits64(uint64_t v)
{
#if defined(__GNUC__)
    return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
#else
    unsigned n = 0;

    while (v) {
        v >>= 1;
        n++;
    }
    return n;
#endif
}

/*
 * The first index whose id is >= id.  Peer ids are random 64-bit numbers
 * (hashes of names, random draws) or a run of small integers (the
 * simulator's), so interpolating finds the place in one or two probes
 * where halving takes log2 n, each probe a cache miss in a large table.
 * Each step interpolates between the two nearest ids known to bracket
 * id (at first the table's ends, kept in the node), so it reads only its
 * own probe.  After four steps the search goes on by halves, so ids
 * chosen to defeat interpolation cost at most a binary search more.
 */
static size_t peer_lb(const crdt_gossip *g, uint64_t id)
{
    const uint64_t *v = g->pid;
    size_t n = g->npeers, la, hb, step;
    uint64_t va, vb;

    if (n <= 8 || id <= g->id_lo) {
        la = 0, hb = n; /* halving from the start (n <= 8: a line) */
        if (n && id <= g->id_lo)
            return 0;
        goto halve;
    }
    if (id > g->id_hi)
        return n;
    /* v[la] = va < id <= vb = v[hb], la < hb */
    la = 0, va = g->id_lo;
    hb = n - 1, vb = g->id_hi;
    for (step = 0; step < 4 && hb - la > 1; step++) {
        uint64_t x = id - va, y = vb - va;
        unsigned sh = bits64(y) > 32 ? bits64(y) - 32 : 0;
        size_t m;

        /* x <= y: the span cut to 32 bits keeps x (hb - la) in 64 */
        m = la + (size_t)((x >> sh) * (uint64_t)(hb - la) / (y >> sh));
        if (m <= la)
            m = la + 1;
        else if (m >= hb)
            m = hb - 1;
        /* the probe and its neighbour (mostly one line) settle an
         * estimate one off */
        if (v[m] < id) {
            if (v[m + 1] >= id)
                return m + 1;
            la = m + 1, va = v[m + 1];
        } else {
            if (v[m - 1] < id)
                return m;
            hb = m - 1, vb = v[m - 1];
        }
    }
    if (hb - la <= 1)
        return hb;
    la++; /* the answer is in [la, hb] */
halve:
    while (la < hb) {
        size_t m = la + (hb - la) / 2;

        if (v[m] < id)
            la = m + 1;
        else
            hb = m;
    }
    return la;
}

static long peer_cfind(const crdt_gossip *g, uint64_t id)
{
    size_t i = peer_lb(g, id);

    return i < g->npeers && g->pid[i] == id ? (long)i : -1;
}

/* The last peer found is remembered: a datagram's sender is looked up
 * again to answer it, a round's target to send it each datagram. */
long gp_peer_find(crdt_gossip *g, uint64_t id)
{
    long i;

    if (g->memo_id == id && g->memo < g->npeers && g->pid[g->memo] == id)
        return (long)g->memo;
    i = peer_cfind(g, id);
    if (i >= 0) {
        g->memo = (size_t)i;
        g->memo_id = id;
    }
    return i;
}

/* The state of the peer at index i, read-only: all zeros if none. */
static const gp_peer *peer_view(const crdt_gossip *g, size_t i)
{
    uint32_t s = g->pslot[i];

    return s ? &g->pst[s - 1] : &no_state;
}

/* The state of the peer at index i, or NULL if it has none. */
static gp_peer *peer_state(crdt_gossip *g, size_t i)
{
    uint32_t s = g->pslot[i];

    return s ? &g->pst[s - 1] : NULL;
}

/* Makes room for one more state, so that peer_touch cannot fail. */
static int states_reserve(crdt_gossip *g)
{
    size_t cap;
    gp_peer *p;

    if (g->stfree || g->nst < g->stcap)
        return CRDT_OK;
    if (g->nst >= UINT32_MAX - 1)
        return CRDT_ERR_LIMIT;
    cap = grow_half(g->stcap, g->nst + 1);
    if (cap > UINT32_MAX - 1)
        cap = UINT32_MAX - 1;
    p = crdtp_realloc_array(&g->mem, g->pst, cap, sizeof *p);
    if (!p)
        return CRDT_ERR_NOMEM;
    g->pst = p;
    g->stcap = cap;
    return CRDT_OK;
}

/* The state of the peer at index i, made (all zeros) if it has none;
 * NULL if memory is short.  Moves the other states (pointers to them are
 * stale) only when it makes one. */
static gp_peer *peer_touch(crdt_gossip *g, size_t i)
{
    size_t s = g->pslot[i];
    gp_peer *p;

    if (s)
        return &g->pst[s - 1];
    if (states_reserve(g))
        return NULL;
    if (g->stfree) {
        s = g->stfree;
        g->stfree = (size_t)g->pst[s - 1].incarnation;
    } else {
        s = ++g->nst;
    }
    p = &g->pst[s - 1];
    memset(p, 0, sizeof *p);
    g->pslot[i] = (uint32_t)s;
    return p;
}

/* Frees the state of the peer at index i (if any): it joins the free
 * chain, with no address. */
static void state_free(crdt_gossip *g, size_t i)
{
    uint32_t s = g->pslot[i];
    gp_peer *p;

    if (!s)
        return;
    p = &g->pst[s - 1];
    memset(p, 0, sizeof *p);
    p->incarnation = g->stfree;
    g->stfree = s;
    g->pslot[i] = 0;
}

static void state_addr(const crdt_gossip *g, const gp_peer *p,
                       const uint8_t **addr, size_t *len)
{
    if (!p->addr) {
        *addr = NULL;
        *len = 0;
        return;
    }
    *addr = g->arena + p->addr; /* past the length byte */
    *len = g->arena[p->addr - 1];
}

void gp_peer_addr(const crdt_gossip *g, size_t i, const uint8_t **addr,
                  size_t *len)
{
    /* no address stored at all (the simulator's peers): no look */
    state_addr(g, g->arena_len ? peer_view(g, i) : &no_state, addr, len);
}

/* Stores an address in the arena; returns its offset + 1 (0 for none)
 * through *off.  Compacts the arena when half of it is dead (rewriting
 * the states' offsets). */
static int arena_put(crdt_gossip *g, const uint8_t *addr, size_t len,
                     uint32_t *off)
{
    size_t need;

    if (!len) {
        *off = 0;
        return CRDT_OK;
    }
    if (g->arena_dead > 4096 && g->arena_dead * 2 > g->arena_len) {
        /* compact: rewrite every live address (free states have none) */
        uint8_t *a = crdtp_malloc(&g->mem, g->arena_len - g->arena_dead + 1);
        size_t i, n = 0;

        if (!a)
            return CRDT_ERR_NOMEM;
        for (i = 0; i < g->nst; i++) {
            gp_peer *p = &g->pst[i];
            size_t l;

            if (!p->addr)
                continue;
            l = g->arena[p->addr - 1];
            memcpy(a + n, g->arena + p->addr - 1, l + 1);
            p->addr = (uint32_t)(n + 1);
            n += l + 1;
        }
        crdtp_free(&g->mem, g->arena);
        g->arena = a;
        g->arena_cap = g->arena_len - g->arena_dead + 1;
        g->arena_len = n;
        g->arena_dead = 0;
    }
    need = g->arena_len + len + 1;
    if (need >= UINT32_MAX)
        return CRDT_ERR_LIMIT;
    if (need > g->arena_cap) {
        size_t cap = crdtp_grow_cap(g->arena_cap, need);
        uint8_t *a = crdtp_realloc_array(&g->mem, g->arena, cap, 1);

        if (!a)
            return CRDT_ERR_NOMEM;
        g->arena = a;
        g->arena_cap = cap;
    }
    g->arena[g->arena_len] = (uint8_t)len;
    memcpy(g->arena + g->arena_len + 1, addr, len);
    *off = (uint32_t)(g->arena_len + 1);
    g->arena_len += len + 1;
    return CRDT_OK;
}

static bool addr_equal(const crdt_gossip *g, const gp_peer *p,
                       const uint8_t *addr, size_t len)
{
    const uint8_t *a;
    size_t l;

    state_addr(g, p, &a, &l);
    return l == len && (!len || memcmp(a, addr, len) == 0);
}

/* Sets the address of the peer at index i; unchanged on error. */
static int set_addr(crdt_gossip *g, size_t i, const uint8_t *addr,
                    size_t len)
{
    uint32_t off, old = peer_view(g, i)->addr;
    gp_peer *p;
    int rv;

    if (addr_equal(g, peer_view(g, i), addr, len))
        return CRDT_OK;
    if ((rv = states_reserve(g)) || (rv = arena_put(g, addr, len, &off)))
        return rv;
    p = peer_touch(g, i); /* reserved: cannot fail */
    if (old && p->addr == old) /* (compaction may have moved it) */
        g->arena_dead += (size_t)g->arena[old - 1] + 1;
    p->addr = off;
    return CRDT_OK;
}

/* Reallocates the table to cap peers (>= npeers). */
static int peers_grow(crdt_gossip *g, size_t cap)
{
    uint64_t *id;
    uint32_t *sl;

    id = crdtp_realloc_array(&g->mem, g->pid, cap, sizeof *id);
    if (!id)
        return CRDT_ERR_NOMEM;
    g->pid = id;
    sl = crdtp_realloc_array(&g->mem, g->pslot, cap, sizeof *sl);
    if (!sl)
        return CRDT_ERR_NOMEM; /* pid grew: harmless */
    g->pslot = sl;
    g->pcap = cap;
    return CRDT_OK;
}

/* Checks the limits for extra more peers. */
static int peers_limit(const crdt_gossip *g, size_t extra)
{
    size_t need = g->npeers + extra;

    return need > g->set.max_peers || need >= UINT32_MAX ? CRDT_ERR_LIMIT
                                                          : CRDT_OK;
}

/* Makes room for extra more peers in the table. */
static int peers_reserve(crdt_gossip *g, size_t extra)
{
    size_t need = g->npeers + extra;
    int rv = peers_limit(g, extra);

    if (rv || need <= g->pcap)
        return rv;
    return peers_grow(g, crdtp_grow_cap(g->pcap, need));
}

/* Keeps id_lo and id_hi after a change of the table. */
static void peers_ends(crdt_gossip *g)
{
    g->id_lo = g->npeers ? g->pid[0] : 0;
    g->id_hi = g->npeers ? g->pid[g->npeers - 1] : 0;
}

/* Inserts a new peer without a state (reserved); returns its index. */
static size_t peer_insert(crdt_gossip *g, uint64_t id)
{
    size_t i = peer_lb(g, id);

    memmove(&g->pid[i + 1], &g->pid[i], (g->npeers - i) * sizeof *g->pid);
    memmove(&g->pslot[i + 1], &g->pslot[i],
            (g->npeers - i) * sizeof *g->pslot);
    g->pid[i] = id;
    g->pslot[i] = 0;
    g->npeers++;
    g->memo = i;
    g->memo_id = id;
    peers_ends(g);
    return i;
}

/* A peer learned from a datagram or a sample: its index; -1 if it is the
 * node itself, the table is full or memory is short (the datagram is
 * processed anyway).  Known peers keep their address. */
static long learn_peer(crdt_gossip *g, uint64_t id, const uint8_t *addr,
                       size_t addrlen)
{
    long i = gp_peer_find(g, id);

    if (i >= 0)
        return i;
    if (id == g->node_id || peers_reserve(g, 1))
        return -1;
    i = (long)peer_insert(g, id);
    if (addrlen && set_addr(g, (size_t)i, addr, addrlen)) {
        /* keep the peer without an address */
    }
    /* the callback cannot change the table (busy): i stays valid */
    call_on_peer(g, id, true);
    return i;
}

int crdt_gossip_add_peer(crdt_gossip *g, uint64_t id, const uint8_t *addr,
                         size_t addrlen)
{
    uint32_t off;
    long i;
    int rv;

    if (!g || !id || id == (g ? g->node_id : 0) || addrlen > 255 ||
        (!addr && addrlen))
        return CRDT_ERR_INVALID_ARG;
    if (g->busy)
        return CRDT_ERR_BUSY;
    i = gp_peer_find(g, id);
    if (i >= 0)
        return set_addr(g, (size_t)i, addr, addrlen);
    if ((rv = peers_reserve(g, 1)) || (addrlen && (rv = states_reserve(g))))
        return rv;
    /* the address first, so that a failure leaves no peer */
    if ((rv = arena_put(g, addr, addrlen, &off)))
        return rv;
    i = (long)peer_insert(g, id);
    if (off)
        peer_touch(g, (size_t)i)->addr = off; /* reserved */
    call_on_peer(g, id, true);
    return CRDT_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* True if v[i] is to be added: the first of a run of equal ids, not the
 * node's own. */
static bool add_candidate(const crdt_gossip *g, const uint64_t *v, size_t i)
{
    return (i == 0 || v[i - 1] != v[i]) && v[i] != g->node_id;
}

/*
 * Adds the ids of a list in two merge passes over the table and the list
 * (sorted first unless it already is): the first counts the new ids, the
 * second, after the table has grown, merges from the back in place.  A
 * list in ascending order (a formed cluster's) costs no copy, no sort and
 * no search: O(n + m), and 12 bytes written per new peer.
 */
int crdt_gossip_add_peers(crdt_gossip *g, const uint64_t *ids, size_t n)
{
    const uint64_t *v = ids;
    uint64_t *sorted = NULL;
    size_t i, j, k, add = 0;
    bool ascending = true;
    int rv = CRDT_OK;

    if (!g || (!ids && n))
        return CRDT_ERR_INVALID_ARG;
    if (g->busy)
        return CRDT_ERR_BUSY;
    for (i = 0; i < n; i++) {
        if (!ids[i])
            return CRDT_ERR_INVALID_ARG;
        if (i && ids[i] < ids[i - 1])
            ascending = false;
    }
    if (!n)
        return CRDT_OK;
    if (!ascending) {
        sorted = crdtp_malloc_array(&g->mem, n, sizeof *sorted);
        if (!sorted)
            return CRDT_ERR_NOMEM;
        memcpy(sorted, ids, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_u64);
        v = sorted;
    }
    /* count the ids neither known nor repeated nor the node's own */
    for (i = j = 0; j < n; j++) {
        if (!add_candidate(g, v, j))
            continue;
        while (i < g->npeers && g->pid[i] < v[j])
            i++;
        if (i == g->npeers || g->pid[i] != v[j])
            add++;
    }
    if (!add)
        goto out;
    if ((rv = peers_limit(g, add)))
        goto out;
    /* exactly the size: a formed cluster's list comes whole */
    if (g->npeers + add > g->pcap && (rv = peers_grow(g, g->npeers + add)))
        goto out;
    /* merge from the back: k is the next slot to fill, i the table's
     * next peer to move; peers below i stay in place */
    i = g->npeers;
    k = g->npeers + add;
    for (j = n; j-- > 0;) {
        if (!add_candidate(g, v, j))
            continue;
        while (i > 0 && g->pid[i - 1] > v[j]) {
            k--, i--;
            g->pid[k] = g->pid[i];
            g->pslot[k] = g->pslot[i];
        }
        if (i > 0 && g->pid[i - 1] == v[j])
            continue;
        k--;
        g->pid[k] = v[j];
        g->pslot[k] = 0;
    }
    g->npeers += add;
    peers_ends(g);
out:
    crdtp_free(&g->mem, sorted);
    return rv;
}

int crdt_gossip_remove_peer(crdt_gossip *g, uint64_t id)
{
    const gp_peer *p;
    long i;

    if (!g)
        return CRDT_ERR_INVALID_ARG;
    if (g->busy)
        return CRDT_ERR_BUSY;
    i = peer_cfind(g, id);
    if (i < 0)
        return CRDT_ERR_NOT_FOUND;
    p = peer_view(g, (size_t)i);
    if (p->addr)
        g->arena_dead += (size_t)g->arena[p->addr - 1] + 1;
    if (p->down)
        g->ndown--;
    state_free(g, (size_t)i);
    memmove(&g->pid[i], &g->pid[i + 1],
            (g->npeers - (size_t)i - 1) * sizeof *g->pid);
    memmove(&g->pslot[i], &g->pslot[i + 1],
            (g->npeers - (size_t)i - 1) * sizeof *g->pslot);
    g->npeers--;
    peers_ends(g);
    return CRDT_OK;
}

size_t crdt_gossip_peer_count(const crdt_gossip *g)
{
    return g ? g->npeers : 0;
}

size_t crdt_gossip_peers_up(const crdt_gossip *g)
{
    return g ? g->npeers - g->ndown : 0;
}

static void peer_info(const crdt_gossip *g, size_t i, crdt_gossip_peer *out)
{
    const gp_peer *p = peer_view(g, i);

    out->id = g->pid[i];
    out->up = !p->down;
    out->last_heard_ms = p->heard ? g->origin_ms + p->heard - 1 : 0;
    state_addr(g, p, &out->addr, &out->addrlen);
}

int crdt_gossip_peer_at(const crdt_gossip *g, size_t i,
                        crdt_gossip_peer *out)
{
    if (!g || !out)
        return CRDT_ERR_INVALID_ARG;
    if (i >= g->npeers)
        return CRDT_ERR_NOT_FOUND;
    peer_info(g, i, out);
    return CRDT_OK;
}

int crdt_gossip_peer_find(const crdt_gossip *g, uint64_t id,
                          crdt_gossip_peer *out)
{
    long i;

    if (!g || !out)
        return CRDT_ERR_INVALID_ARG;
    i = peer_cfind(g, id);
    if (i < 0)
        return CRDT_ERR_NOT_FOUND;
    peer_info(g, (size_t)i, out);
    return CRDT_OK;
}

/* True if the peer at index j may be picked: up, and not in ex. */
static bool pickable(const crdt_gossip *g, size_t j, const uint64_t *ex,
                     size_t nex)
{
    uint64_t id = g->pid[j];
    size_t k;

    if (g->ndown && peer_view(g, j)->down)
        return false;
    for (k = 0; k < nex; k++)
        if (ex[k] == id)
            return false;
    return true;
}

uint64_t gp_pick_up(crdt_gossip *g, const uint64_t *ex, size_t nex,
                    size_t *idx)
{
    size_t up = g->npeers - g->ndown, tries, i, j, start;

    if (up <= nex)
        return 0;
    for (tries = 0; tries < 16; tries++) {
        j = (size_t)crdtp_rng_below(&g->rng, g->npeers);
        if (pickable(g, j, ex, nex))
            goto found;
    }
    start = (size_t)crdtp_rng_below(&g->rng, g->npeers);
    for (i = 0; i < g->npeers; i++) {
        j = (start + i) % g->npeers;
        if (pickable(g, j, ex, nex))
            goto found;
    }
    return 0;
found:
    if (idx)
        *idx = j;
    return g->pid[j];
}

uint64_t gp_pick_down(crdt_gossip *g, size_t *idx)
{
    size_t start, i, k;

    if (!g->ndown)
        return 0;
    /* the k-th down peer from a random start */
    k = (size_t)crdtp_rng_below(&g->rng, g->ndown);
    start = (size_t)crdtp_rng_below(&g->rng, g->npeers);
    for (i = 0; i < g->npeers; i++) {
        size_t j = (start + i) % g->npeers;

        if (peer_view(g, j)->down && k-- == 0) {
            if (idx)
                *idx = j;
            return g->pid[j];
        }
    }
    return 0;
}

/* True if the request q still awaits its answer. */
static bool wait_live(crdt_gossip *g, const gp_wait *q)
{
    long i = gp_peer_find(g, q->id);

    return i >= 0 && peer_view(g, (size_t)i)->waiting == q->stamp;
}

/* Requests the wait queue holds before it drops the answered ones: it
 * holds about down_after_ms / round_ms of them (each leaves when due,
 * after one look at its peer), so this matters only with a long
 * down_after_ms. */
#define WAIT_COMPACT 1024u

/* Makes room for one more request in the wait queue: moves the pending
 * part to the front when that frees half the array, first dropping the
 * requests answered since when the queue is long; else grows. */
static int wait_reserve(crdt_gossip *g)
{
    size_t i, j = 0, cap;
    gp_wait *w;

    if (g->whead + g->nwait < g->wcap)
        return CRDT_OK;
    if (g->nwait >= WAIT_COMPACT) {
        for (i = g->whead; i < g->whead + g->nwait; i++)
            if (wait_live(g, &g->waitq[i]))
                g->waitq[j++] = g->waitq[i];
        g->whead = 0;
        g->nwait = j;
    } else if (g->whead) {
        memmove(g->waitq, g->waitq + g->whead, g->nwait * sizeof *g->waitq);
        g->whead = 0;
    }
    if (g->nwait < g->wcap / 2)
        return CRDT_OK;
    cap = crdtp_grow_cap(g->wcap, g->nwait + 1);
    w = crdtp_realloc_array(&g->mem, g->waitq, cap, sizeof *w);
    if (!w)
        return CRDT_ERR_NOMEM;
    g->waitq = w;
    g->wcap = cap;
    return CRDT_OK;
}

void gp_expect_answer_at(crdt_gossip *g, size_t i)
{
    gp_peer *p;

    if (peer_view(g, i)->waiting)
        return;
    /* on NOMEM: no down detection for this request */
    if (wait_reserve(g) || !(p = peer_touch(g, i)))
        return;
    p->waiting = gp_stamp(g);
    g->waitq[g->whead + g->nwait].id = g->pid[i];
    g->waitq[g->whead + g->nwait].stamp = p->waiting;
    g->nwait++;
}

void gp_expect_answer(crdt_gossip *g, uint64_t to)
{
    long i = gp_peer_find(g, to);

    if (i >= 0)
        gp_expect_answer_at(g, (size_t)i);
}

void gp_want_repair(crdt_gossip *g, uint64_t id)
{
    long i = gp_peer_find(g, id);
    gp_peer *p;

    if (i < 0 || peer_view(g, (size_t)i)->repair)
        return;
    if (g->nrep == g->repcap) {
        size_t cap = crdtp_grow_cap(g->repcap, g->nrep + 1);
        uint64_t *q = crdtp_realloc_array(&g->mem, g->repq, cap, sizeof *q);

        if (!q)
            return; /* the periodic repair will come */
        g->repq = q;
        g->repcap = cap;
    }
    if (!(p = peer_touch(g, (size_t)i)))
        return;
    p->repair = 1;
    g->repq[g->nrep++] = id;
}

/* Marks down the peers whose oldest unanswered request is down_after_ms
 * old.  The queue is in request order, so only the requests that have
 * come due are looked at: those answered since leave, the others mark
 * their peer down. */
static void check_down(crdt_gossip *g)
{
    uint32_t now = gp_stamp(g);

    while (g->nwait) {
        gp_wait q = g->waitq[g->whead];
        gp_peer *p;
        long i;

        if (now - q.stamp < g->set.down_after_ms)
            break;
        g->whead++;
        g->nwait--;
        i = gp_peer_find(g, q.id);
        if (i < 0 || !(p = peer_state(g, (size_t)i)) ||
            p->waiting != q.stamp)
            continue; /* removed, answered, or asked again since */
        p->waiting = 0;
        if (!p->down) {
            p->down = 1;
            g->ndown++;
            call_on_peer(g, q.id, false);
        }
    }
    if (!g->nwait)
        g->whead = 0;
}

/* A valid datagram from peer `from` (incarnation inc) arrived. */
static void heard(crdt_gossip *g, uint64_t from, uint64_t inc,
                  const uint8_t *addr, size_t addrlen)
{
    long i = learn_peer(g, from, addr, addrlen);
    gp_peer *p;

    if (i < 0)
        return;
    if (addrlen && !peer_view(g, (size_t)i)->addr)
        set_addr(g, (size_t)i, addr, addrlen);
    p = peer_touch(g, (size_t)i);
    if (!p)
        return; /* memory is short: heard next time */
    if (p->incarnation != inc) {
        bool restarted = p->incarnation != 0;

        p->incarnation = inc;
        if (restarted)
            gp_want_repair(g, from); /* p has a state: it stays put */
    }
    p->heard = gp_stamp(g);
    p->waiting = 0;
    if (p->down) {
        p->down = 0;
        g->ndown--;
        call_on_peer(g, from, true);
    }
}

/* Peers named in a SYN or ACK. */
void gp_learn_members(crdt_gossip *g, const struct gp_member *mb, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (mb[i].id != g->node_id)
            learn_peer(g, mb[i].id, mb[i].addr, mb[i].addrlen);
}

/* ======================================================================
 * Sending
 * ====================================================================== */

static void queue_clear(crdt_gossip *g)
{
    size_t i;

    for (i = 0; i < g->qcount; i++)
        crdtp_free(&g->mem, g->queue[(g->qhead + i) % g->qcap].data);
    crdtp_free(&g->mem, g->queue);
    g->queue = NULL;
    g->qcount = g->qcap = g->qhead = g->qbytes = 0;
}

static void deliver(crdt_gossip *g, uint64_t to, int kind,
                    const uint8_t *data, size_t len)
{
    const uint8_t *addr = NULL;
    size_t addrlen = 0;

    if (g->arena_len) { /* some peer has an address */
        long i = gp_peer_find(g, to);

        if (i >= 0)
            gp_peer_addr(g, (size_t)i, &addr, &addrlen);
    }
    g->kc[kind].sent++;
    g->kc[kind].sent_bytes += len;
    g->bytes_sent += len;
    if (g->send) {
        int rv;

        g->busy = true;
        rv = g->send(g->user_data, to, addr,
                                   addrlen, data, len);
        g->busy = false;
        if (rv)
            g->m.send_failures++;
        return;
    }
    if (g->qbytes + len > g->set.queue_max_bytes) {
        g->m.send_failures++;
        return;
    }
    if (g->qcount == g->qcap) {
        size_t cap = crdtp_grow_cap(g->qcap, g->qcount + 1), i;
        gp_qdgram *q = crdtp_malloc_array(&g->mem, cap, sizeof *q);

        if (!q) {
            g->m.send_failures++;
            return;
        }
        for (i = 0; i < g->qcount; i++)
            q[i] = g->queue[(g->qhead + i) % g->qcap];
        crdtp_free(&g->mem, g->queue);
        g->queue = q;
        g->qhead = 0;
        g->qcap = cap;
    }
    {
        gp_qdgram *q = &g->queue[(g->qhead + g->qcount) % g->qcap];

        q->data = crdtp_malloc(&g->mem, addrlen + len);
        if (!q->data) {
            g->m.send_failures++;
            return;
        }
        if (addrlen)
            memcpy(q->data, addr, addrlen);
        memcpy(q->data + addrlen, data, len);
        q->to = to;
        q->addrlen = (uint32_t)addrlen;
        q->len = (uint32_t)len;
        g->qcount++;
        g->qbytes += len;
    }
}

int gp_send(crdt_gossip *g, uint64_t to, int kind)
{
    size_t len = g->out.len, chunk, count, i;
    crdt_buf whole;
    uint64_t fid;

    if (len <= g->max_datagram) {
        deliver(g, to, kind, g->out.data, len);
        return CRDT_OK;
    }
    /* too long: send it as fragments of a message the peer reassembles */
    chunk = g->max_datagram - GP_FRAG_OVERHEAD;
    count = (len + chunk - 1) / chunk;
    chunk = (len + count - 1) / count; /* as the receiver computes it */
    if (len > g->set.reassembly_max_bytes || len > UINT32_MAX) {
        g->m.send_failures++;
        return CRDT_OK;
    }
    whole = g->out;
    g->out = g->tmp;
    g->tmp = whole;
    /* the id is the content's hash: a peer that missed fragments of a
     * message fills them in from its next copy (a delta or state sent
     * again after a loss is the same bytes) */
    fid = XXH3_64bits(g->tmp.data, len);
    for (i = 0; i < count; i++) {
        size_t off = i * chunk, n = len - off < chunk ? len - off : chunk;
        cw w;
        int rv;

        gp_begin(g, CRDT_GOSSIP_FRAG, 5, &w);
        cw_uint(&w, fid);
        cw_uint(&w, i);
        cw_uint(&w, count);
        cw_uint(&w, len);
        cw_bin(&w, g->tmp.data + off, n);
        if ((rv = cw_end(&w)))
            return rv;
        deliver(g, to, CRDT_GOSSIP_FRAG, g->out.data, g->out.len);
    }
    return CRDT_OK;
}

int crdt_gossip_poll(crdt_gossip *g, crdt_gossip_datagram *dg, uint8_t *buf,
                     size_t cap)
{
    gp_qdgram *q;

    if (!g || !dg || (!buf && cap))
        return CRDT_ERR_INVALID_ARG;
    if (!g->qcount)
        return CRDT_ERR_NOT_FOUND;
    q = &g->queue[g->qhead];
    if (cap < q->len)
        return CRDT_ERR_BUFFER;
    memcpy(buf, q->data + q->addrlen, q->len);
    crdtp_free(&g->mem, g->polled);
    g->polled = q->data;
    dg->to = q->to;
    dg->addr = q->addrlen ? q->data : NULL;
    dg->addrlen = q->addrlen;
    dg->len = q->len;
    g->qbytes -= q->len;
    g->qhead = (g->qhead + 1) % g->qcap;
    g->qcount--;
    return CRDT_OK;
}

/* ======================================================================
 * Timers
 * ====================================================================== */

uint64_t crdt_gossip_next_deadline(const crdt_gossip *g)
{
    uint64_t d;

    if (!g)
        return CRDT_GOSSIP_NEVER;
    if (!g->started)
        return 0;
    d = g->next_round < g->next_repair ? g->next_round : g->next_repair;
    return d;
}

unsigned gp_push_rounds(const crdt_gossip *g)
{
    uint64_t n = g->npeers + 1, p = 1;
    unsigned k = 0;

    if (g->set.push_rounds)
        return g->set.push_rounds;
    while (p * 3 <= n) {
        p *= 3;
        k++;
    }
    return k > 2 ? k - 1 : 1;
}

/* Log window in rounds: the setting, or 4 ceil(log2(peers + 2)) + 8. */
uint64_t gp_log_rounds(const crdt_gossip *g)
{
    uint64_t n = g->npeers + 2, l = 0;

    if (g->set.log_rounds)
        return g->set.log_rounds;
    while (((uint64_t)1 << l) < n)
        l++;
    return 4 * l + 8;
}

static void expire_reassembly(crdt_gossip *g)
{
    size_t i, j;

    for (i = j = 0; i < g->nreasm; i++) {
        gp_reasm *r = &g->reasm[i];

        if (g->now - r->touched >= g->set.reassembly_ms) {
            g->rbytes -= r->total;
            crdtp_free(&g->mem, r->have);
            crdtp_free(&g->mem, r->data);
            g->m.dropped[CRDT_GOSSIP_DROP_STALE]++;
            continue;
        }
        if (i != j)
            g->reasm[j] = *r;
        j++;
    }
    g->nreasm = j;
}

/* Keeps the digest tree's depth suited to the store and every key's
 * hash current. */
static int maintain_store(crdt_gossip *g)
{
    unsigned d = gp_tree_depth_for(g->store.len);
    int rv = gp_flush(g);

    if (!rv && d > g->tree.depth)
        rv = gp_tree_rebuild(&g->tree, d, &g->store);
    return rv;
}

static void run_round(crdt_gossip *g)
{
    uint64_t lr = gp_log_rounds(g);
    size_t evicted = 0;

    g->round++;
    g->m.rounds++;
    g->m.deltas_freed += gp_log_expire(
        &g->log, g->round > lr ? g->round - lr : 0, g->set.log_max_bytes,
        g->round > 2 * lr ? g->round - 2 * lr : 0, &evicted);
    g->m.deltas_evicted += evicted;
    gp_fast_round(g);
}

int crdt_gossip_tick(crdt_gossip *g, uint64_t now_ms)
{
    int rv = CRDT_OK;

    if (!g)
        return CRDT_ERR_INVALID_ARG;
    if (g->busy)
        return CRDT_ERR_BUSY;
    advance(g, now_ms);
    check_down(g);
    expire_reassembly(g);
    if (g->now >= g->next_round) {
        rv = maintain_store(g);
        run_round(g);
        g->next_round += g->set.round_ms;
        if (g->next_round <= g->now)
            g->next_round = g->now + g->set.round_ms;
    }
    if (g->now >= g->next_repair) {
        uint64_t to = 0;

        while (g->nrep && !to) {
            uint64_t id = g->repq[0];
            long i = gp_peer_find(g, id);

            memmove(g->repq, g->repq + 1, (g->nrep - 1) * sizeof *g->repq);
            g->nrep--;
            if (i >= 0) {
                gp_peer *p = peer_state(g, (size_t)i);

                if (p)
                    p->repair = 0;
                to = id;
            }
        }
        if (!to)
            to = gp_pick_up(g, NULL, 0, NULL);
        if (to) {
            int r2 = gp_repair_start(g, to);

            if (!rv)
                rv = r2;
        }
        g->next_repair += g->set.repair_ms;
        if (g->next_repair <= g->now)
            g->next_repair = g->now + g->set.repair_ms;
        /* a due repair comes sooner than the period */
        if (g->nrep && g->next_repair > g->now + g->set.round_ms)
            g->next_repair = g->now + g->set.round_ms;
    }
    return rv;
}

/* ======================================================================
 * Receiving
 * ====================================================================== */

static int process(crdt_gossip *g, const uint8_t *addr, size_t addrlen,
                   const uint8_t *data, size_t len, uint64_t outer);

static void drop(crdt_gossip *g, int reason)
{
    g->m.dropped[reason]++;
}

static int reassemble(crdt_gossip *g, const gp_msg *m, const uint8_t *addr,
                      size_t addrlen)
{
    size_t i, chunk, expect;
    gp_reasm *r = NULL;

    for (i = 0; i < g->nreasm; i++)
        if (g->reasm[i].from == m->sender && g->reasm[i].fid == m->fid) {
            r = &g->reasm[i];
            break;
        }
    chunk = ((size_t)m->ftotal + m->fcount - 1) / m->fcount;
    if (!r) {
        if (m->ftotal > g->set.reassembly_max_bytes ||
            chunk > g->max_datagram) {
            drop(g, CRDT_GOSSIP_DROP_BUDGET);
            return CRDT_OK;
        }
        /* make room: the partial messages least recently added to go */
        while (g->rbytes + m->ftotal > g->set.reassembly_max_bytes) {
            size_t old = 0, k;

            for (k = 1; k < g->nreasm; k++)
                if (g->reasm[k].touched < g->reasm[old].touched)
                    old = k;
            g->rbytes -= g->reasm[old].total;
            crdtp_free(&g->mem, g->reasm[old].have);
            crdtp_free(&g->mem, g->reasm[old].data);
            g->reasm[old] = g->reasm[--g->nreasm];
            drop(g, CRDT_GOSSIP_DROP_BUDGET);
        }
        if (g->nreasm == g->rcap) {
            size_t cap = crdtp_grow_cap(g->rcap, g->nreasm + 1);
            gp_reasm *n = crdtp_realloc_array(&g->mem, g->reasm, cap,
                                              sizeof *n);

            if (!n) {
                drop(g, CRDT_GOSSIP_DROP_NOMEM);
                return CRDT_ERR_NOMEM;
            }
            g->reasm = n;
            g->rcap = cap;
        }
        r = &g->reasm[g->nreasm];
        memset(r, 0, sizeof *r);
        r->have = crdtp_malloc(&g->mem, m->fcount);
        r->data = crdtp_malloc(&g->mem, m->ftotal);
        if (!r->have || !r->data) {
            crdtp_free(&g->mem, r->have);
            crdtp_free(&g->mem, r->data);
            drop(g, CRDT_GOSSIP_DROP_NOMEM);
            return CRDT_ERR_NOMEM;
        }
        memset(r->have, 0, m->fcount);
        r->from = m->sender;
        r->fid = m->fid;
        r->started = g->now;
        r->touched = g->now;
        r->count = m->fcount;
        r->total = m->ftotal;
        r->chunk = (uint32_t)chunk;
        g->nreasm++;
        g->rbytes += m->ftotal;
    }
    if (r->count != m->fcount || r->total != m->ftotal) {
        drop(g, CRDT_GOSSIP_DROP_MALFORMED);
        return CRDT_OK;
    }
    expect = m->findex + 1 < r->count
                 ? r->chunk
                 : r->total - (size_t)r->chunk * (r->count - 1);
    if (m->flen != expect || r->total <= (size_t)r->chunk * (r->count - 1)) {
        drop(g, CRDT_GOSSIP_DROP_MALFORMED);
        return CRDT_OK;
    }
    if (r->have[m->findex]) {
        drop(g, CRDT_GOSSIP_DROP_STALE);
        return CRDT_OK;
    }
    r->have[m->findex] = 1;
    r->touched = g->now;
    memcpy(r->data + (size_t)m->findex * r->chunk, m->fbytes, m->flen);
    if (++r->got < r->count)
        return CRDT_OK;
    {
        /* complete: take it out of the table, then process it */
        gp_reasm done = *r;
        int rv;

        *r = g->reasm[--g->nreasm];
        g->rbytes -= done.total;
        rv = process(g, addr, addrlen, done.data, done.total, done.from);
        crdtp_free(&g->mem, done.have);
        crdtp_free(&g->mem, done.data);
        return rv;
    }
}

/* Checks and applies one datagram; outer is the sender of the fragments
 * it was reassembled from (0 for a datagram as received). */
static int process(crdt_gossip *g, const uint8_t *addr, size_t addrlen,
                   const uint8_t *data, size_t len, uint64_t outer)
{
    gp_msg m;
    cr r;
    int rv;

    crdtp_cr_init(&r, data, len, &g->lim);
    rv = gp_parse_envelope(&r, &m);
    if (rv) {
        drop(g, rv == CRDT_ERR_VERSION ? CRDT_GOSSIP_DROP_VERSION
                                       : CRDT_GOSSIP_DROP_MALFORMED);
        return CRDT_OK;
    }
    if (m.cluster != g->cluster_id) {
        drop(g, CRDT_GOSSIP_DROP_CLUSTER);
        return CRDT_OK;
    }
    if (m.sender == g->node_id) {
        drop(g, CRDT_GOSSIP_DROP_SELF);
        return CRDT_OK;
    }
    if (m.sender == 0 ||
        (outer && (m.kind == CRDT_GOSSIP_FRAG || m.sender != outer))) {
        drop(g, CRDT_GOSSIP_DROP_MALFORMED);
        return CRDT_OK;
    }
    rv = gp_parse_body(g, &r, &m);
    if (rv) {
        drop(g, rv == CRDT_ERR_NOMEM ? CRDT_GOSSIP_DROP_NOMEM
                                     : CRDT_GOSSIP_DROP_MALFORMED);
        return rv == CRDT_ERR_NOMEM ? rv : CRDT_OK;
    }
    g->kc[m.kind].received++;
    g->kc[m.kind].received_bytes += len;
    heard(g, m.sender, m.incarnation, addr, addrlen);
    switch (m.kind) {
    case CRDT_GOSSIP_PUSH:
        rv = gp_fast_push(g, &m);
        break;
    case CRDT_GOSSIP_SYN:
    case CRDT_GOSSIP_ACK:
        rv = gp_fast_summary(g, &m);
        break;
    case CRDT_GOSSIP_FRAG:
        rv = reassemble(g, &m, addr, addrlen);
        break;
    default:
        rv = gp_repair_receive(g, &m);
        break;
    }
    gp_msg_clear(g, &m);
    return rv;
}

int crdt_gossip_receive(crdt_gossip *g, uint64_t now_ms, const uint8_t *addr,
                        size_t addrlen, const uint8_t *data, size_t len)
{
    if (!g || (!data && len) || (!addr && addrlen) || addrlen > 255)
        return CRDT_ERR_INVALID_ARG;
    if (g->busy)
        return CRDT_ERR_BUSY;
    advance(g, now_ms);
    g->bytes_received += len;
    if (len > g->max_datagram) {
        drop(g, CRDT_GOSSIP_DROP_OVERSIZE);
        return CRDT_OK;
    }
    return process(g, addr, addrlen, data, len, 0);
}

/* ======================================================================
 * Store
 * ====================================================================== */

static size_t uint_bytes(uint64_t v)
{
    return v < 0x80 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3
           : v <= 0xffffffffu ? 5 : 9;
}

/* Bytes of a PUSH item [origin, seq, key, delta]. */
static size_t push_item_bytes(uint64_t origin, uint64_t seq, size_t klen,
                              size_t dlen)
{
    return 1 + uint_bytes(origin) + uint_bytes(seq) +
           (klen <= 0xff ? 2 : klen <= 0xffff ? 3 : 5) + klen + dlen;
}

/* Logs a delta and keeps the log within its budget. */
static void log_append(crdt_gossip *g, gp_entry *e)
{
    size_t n;

    gp_log_append(&g->log, e);
    g->m.deltas_logged++;
    n = gp_log_trim(&g->log, g->set.log_max_bytes);
    g->m.deltas_freed += n;
    g->m.deltas_evicted += n;
}

/* Updates key i's presence from its map. */
static void set_present(gp_store *s, size_t i)
{
    gp_key *k = &s->keys[i];
    bool p = crdt_ormap_size(k->map) > 0;

    if (p != k->present) {
        k->present = p;
        if (p)
            s->npresent++;
        else
            s->npresent--;
    }
}

/* Installs key i's state hash h in the tree. */
static void set_hash(crdt_gossip *g, size_t i, uint64_t h, size_t enc)
{
    gp_key *k = &g->store.keys[i];

    gp_tree_add(&g->tree, k->pos, h - k->h);
    k->h = h;
    k->enc_len = enc;
}

/* Brings every dirty key's hash (and so the tree) up to date.  On
 * CRDT_ERR_NOMEM the keys not yet hashed stay dirty. */
int gp_flush(crdt_gossip *g)
{
    gp_store *s = &g->store;
    size_t done;
    int rv = CRDT_OK;

    for (done = 0; done < s->ndirty; done++) {
        size_t i = s->dirtyq[done];
        gp_key *k = &s->keys[i];
        uint64_t h;
        size_t enc;

        if ((rv = gp_store_hash(s, k->key, k->klen, k->map, &h, &enc)))
            break;
        set_hash(g, i, h, enc);
        k->dirty = false;
    }
    if (done) {
        memmove(s->dirtyq, s->dirtyq + done,
                (s->ndirty - done) * sizeof *s->dirtyq);
        s->ndirty -= done;
    }
    return rv;
}

/* Applies a decoded state or delta to a key (see gossip_internal.h).
 * The key's hash is brought up to date lazily (gp_flush), except when
 * only the hash can tell whether the merge changed the state. */
int gp_apply(crdt_gossip *g, const uint8_t *key, size_t klen,
             const crdt_ormap *m, uint64_t log_origin, uint64_t log_seq,
             unsigned log_age, uint64_t from, const uint8_t *raw,
             size_t rawlen, bool *changed)
{
    gp_store *s = &g->store;
    long idx = gp_store_find(s, key, klen);
    crdt_ormap *fresh = NULL;
    gp_entry *e = NULL;
    uint8_t *kcopy = NULL;
    bool exact = false;
    int rv;

    *changed = false;
    if (idx < 0) {
        if (crdt_ormap_equal(m, NULL))
            return CRDT_OK; /* nothing to store */
        if (s->len >= g->set.max_keys) {
            drop(g, CRDT_GOSSIP_DROP_BUDGET);
            return CRDT_OK;
        }
        if ((rv = gp_store_reserve(s)))
            return rv;
        kcopy = crdtp_malloc(&g->mem, klen);
        fresh = crdt_ormap_new(g->reg, &g->mem);
        if (!kcopy || !fresh) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
        memcpy(kcopy, key, klen);
    } else if (!gp_has_new_dot(s->keys[idx].map, raw, rawlen)) {
        /* no new event: only the hashes can tell; room to hash the
         * merged state without growing */
        exact = true;
        if ((s->keys[idx].dirty && (rv = gp_flush(g))) ||
            (rv = crdt_buf_reserve(&s->scratch,
                                   2 * (s->keys[idx].enc_len + rawlen) +
                                       klen + 64)))
            return rv;
    }
    if (log_origin) {
        if ((rv = gp_log_reserve(&g->log, log_origin)))
            goto fail;
        e = gp_entry_new(&g->mem, log_origin, log_seq, 0, g->round,
                         log_age, from, raw, rawlen);
        if (!e) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
    }
    if ((rv = crdt_ormap_merge(fresh ? fresh : s->keys[idx].map, m)))
        goto fail;
    if (fresh) {
        idx = (long)gp_store_insert(s, kcopy, klen, fresh);
        kcopy = NULL;
        fresh = NULL;
        *changed = true;
        gp_store_dirty(s, (size_t)idx);
    } else if (exact) {
        gp_key *k = &s->keys[idx];
        uint64_t h;
        size_t enc;

        if (gp_store_hash(s, key, klen, k->map, &h, &enc)) {
            /* merged, but not hashed (rare: the buffer was reserved):
             * count it as a change and hash it later */
            *changed = true;
            gp_store_dirty(s, (size_t)idx);
        } else if (h != k->h) {
            set_hash(g, (size_t)idx, h, enc);
            *changed = true;
        }
    } else {
        *changed = true;
        gp_store_dirty(s, (size_t)idx);
    }
    if (*changed)
        set_present(s, (size_t)idx);
    if (e && *changed) {
        e->key = (uint32_t)idx;
        log_append(g, e);
        e = NULL;
    } else if (log_origin) {
        gp_log_mark_seen(&g->log, log_origin, log_seq, g->round);
    }
    crdtp_free(&g->mem, e);
    if (*changed)
        gp_call_on_change(g, key, klen);
    return CRDT_OK;
fail:
    crdtp_free(&g->mem, e);
    crdtp_free(&g->mem, kcopy);
    crdt_ormap_free(fresh);
    return rv;
}

typedef struct update_ctx {
    crdt_gossip_update_fn fn;
    void *user;
    crdt_gossip_write w;
} update_ctx;

static int update_tramp(void *value, void *delta, void *ud)
{
    update_ctx *c = ud;

    return c->fn(value, delta, &c->w, c->user);
}

/* A local mutation: apply it to a copy of the key's state, then commit
 * the copy, the delta's log entry and the hash together. */
static int local_write(crdt_gossip *g, const uint8_t *key, size_t klen,
                       const crdt_type *type, crdt_gossip_update_fn fn,
                       void *user)
{
    gp_store *s = &g->store;
    long idx = gp_store_find(s, key, klen);
    crdt_ormap *copy, *delta;
    gp_entry *e = NULL;
    uint8_t *kcopy = NULL;
    int rv;

    if (!fn && idx < 0)
        return CRDT_OK; /* delete of a key never stored */
    copy = idx >= 0 ? crdt_ormap_clone(s->keys[idx].map)
                    : crdt_ormap_new(g->reg, &g->mem);
    delta = crdt_ormap_new(g->reg, &g->mem);
    if (!copy || !delta) {
        rv = CRDT_ERR_NOMEM;
        goto out;
    }
    if (fn) {
        update_ctx c = {fn, user, {g->actor, g->now, g->hlc}};

        rv = crdt_ormap_update(copy, g->actor, "", 0, type, update_tramp, &c,
                               delta);
    } else {
        rv = crdt_ormap_remove(copy, "", 0, delta);
    }
    if (rv)
        goto out;
    if (crdt_ormap_equal(delta, NULL))
        goto out; /* a delete that removed nothing */
    crdt_buf_reset(&g->tmp);
    if ((rv = crdt_ormap_encode(delta, &g->tmp)) ||
        (rv = gp_log_reserve(&g->log, g->actor)))
        goto out;
    if (idx < 0) {
        if ((rv = gp_store_reserve(s)))
            goto out;
        kcopy = crdtp_malloc(&g->mem, klen);
        if (!kcopy) {
            rv = CRDT_ERR_NOMEM;
            goto out;
        }
        memcpy(kcopy, key, klen);
    }
    e = gp_entry_new(&g->mem, g->actor, g->seq + 1, 0, g->round, 0, 0,
                     g->tmp.data, g->tmp.len);
    if (!e) {
        rv = CRDT_ERR_NOMEM;
        goto out;
    }
    /* commit: nothing below can fail */
    if (idx < 0) {
        idx = (long)gp_store_insert(s, kcopy, klen, copy);
        kcopy = NULL;
        copy = NULL;
    } else {
        crdt_ormap *old = s->keys[idx].map;

        s->keys[idx].map = copy;
        copy = old;
    }
    gp_store_dirty(s, (size_t)idx);
    set_present(s, (size_t)idx);
    e->key = (uint32_t)idx;
    g->seq++;
    g->m.deltas_written++;
    g->m.delta_bytes_written += push_item_bytes(g->actor, g->seq, klen,
                                                e->len);
    log_append(g, e);
out:
    crdt_ormap_free(copy); /* the unused copy, or the replaced state */
    crdt_ormap_free(delta);
    crdtp_free(&g->mem, kcopy);
    return rv;
}

static int check_key(const crdt_gossip *g, const void *key, size_t klen)
{
    if (!g || !key || !klen || klen > g->set.max_key_bytes)
        return CRDT_ERR_INVALID_ARG;
    return g->busy ? CRDT_ERR_BUSY : CRDT_OK;
}

int crdt_gossip_update(crdt_gossip *g, const void *key, size_t klen,
                       const crdt_type *type, crdt_gossip_update_fn fn,
                       void *user_data)
{
    int rv = check_key(g, key, klen);

    if (rv)
        return rv;
    if (!fn || crdt_type_check(type))
        return CRDT_ERR_INVALID_ARG;
    return local_write(g, key, klen, type, fn, user_data);
}

int crdt_gossip_delete(crdt_gossip *g, const void *key, size_t klen)
{
    int rv = check_key(g, key, klen);

    return rv ? rv : local_write(g, key, klen, NULL, NULL, NULL);
}

int crdt_gossip_get(const crdt_gossip *g, const void *key, size_t klen,
                    const crdt_type **type, const void **value)
{
    long idx;

    if (!g || (!key && klen))
        return CRDT_ERR_INVALID_ARG;
    idx = gp_store_find(&g->store, key, klen);
    if (idx < 0)
        return CRDT_ERR_NOT_FOUND;
    return crdt_ormap_get(g->store.keys[idx].map, "", 0, type, value);
}

int crdt_gossip_state(const crdt_gossip *g, const void *key, size_t klen,
                      crdt_buf *out)
{
    long idx;

    if (!g || !out || (!key && klen))
        return CRDT_ERR_INVALID_ARG;
    idx = gp_store_find(&g->store, key, klen);
    if (idx < 0)
        return CRDT_ERR_NOT_FOUND;
    return crdt_ormap_encode(g->store.keys[idx].map, out);
}

size_t crdt_gossip_key_count(const crdt_gossip *g)
{
    return g ? g->store.len : 0;
}

int crdt_gossip_key_at(const crdt_gossip *g, size_t i, const uint8_t **key,
                       size_t *klen, bool *present)
{
    const gp_key *k;

    if (!g)
        return CRDT_ERR_INVALID_ARG;
    if (i >= g->store.len)
        return CRDT_ERR_NOT_FOUND;
    k = &g->store.keys[i];
    if (key)
        *key = k->key;
    if (klen)
        *klen = k->klen;
    if (present)
        *present = k->present;
    return CRDT_OK;
}

uint64_t crdt_gossip_digest(const crdt_gossip *g)
{
    if (!g)
        return 0;
    /* the hashes are brought up to date lazily: logically const */
    gp_flush((crdt_gossip *)g);
    return gp_tree_root(&g->tree);
}

/* ======================================================================
 * Snapshots
 * ====================================================================== */

static int cmp_keyp(const void *a, const void *b)
{
    const gp_key *x = *(const gp_key *const *)a;
    const gp_key *y = *(const gp_key *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);

    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

int crdt_gossip_snapshot(const crdt_gossip *g, crdt_buf *out)
{
    const gp_key **v;
    size_t i, start;
    cw w;
    int rv;

    if (!g || !out)
        return CRDT_ERR_INVALID_ARG;
    v = crdtp_malloc_array(&((crdt_gossip *)g)->mem,
                           g->store.len ? g->store.len : 1, sizeof *v);
    if (!v)
        return CRDT_ERR_NOMEM;
    for (i = 0; i < g->store.len; i++)
        v[i] = &g->store.keys[i];
    qsort(v, g->store.len, sizeof *v, cmp_keyp);
    start = out->len;
    w.buf = out;
    w.start = start;
    w.err = 0;
    msgpack_packer_init(&w.pk, &w, cw_write_cb);
    cw_array(&w, 3);
    cw_uint(&w, 1);
    cw_uint(&w, g->node_id);
    cw_array(&w, g->store.len);
    for (i = 0; i < g->store.len && !w.err; i++) {
        cw_array(&w, 2);
        cw_bin(&w, v[i]->key, v[i]->klen);
        if (!w.err && (rv = crdt_ormap_encode(v[i]->map, out)))
            w.err = rv;
    }
    crdtp_free(&((crdt_gossip *)g)->mem, v);
    return cw_end(&w);
}

/* Walks a snapshot: with apply false only checks it (decoding every
 * state), with apply true merges each state. */
static int walk_snapshot(crdt_gossip *g, const uint8_t *data, size_t len,
                         bool apply, crdt_decode_info *info)
{
    cr r;
    uint32_t n, i;
    uint64_t v;
    int rv;

    crdtp_cr_init(&r, data, len, &g->lim);
    if (!(rv = crdtp_cr_array(&r, &n)) && n != 3)
        rv = crdtp_cr_fail_at(&r, data, CRDT_ERR_DECODE);
    if (!rv && !(rv = crdtp_cr_uint(&r, &v)) && v != 1)
        rv = crdtp_cr_fail(&r, CRDT_ERR_VERSION);
    if (!rv && !(rv = crdtp_cr_uint(&r, &v)))
        rv = crdtp_cr_array(&r, &n);
    for (i = 0; !rv && i < n; i++) {
        const uint8_t *key, *raw = NULL;
        size_t klen, rawlen = 0;
        crdt_ormap *m = NULL;
        crdt_decode_info sub;
        uint32_t two;

        if ((rv = crdtp_cr_array(&r, &two)))
            break;
        if (two != 2) {
            rv = crdtp_cr_fail(&r, CRDT_ERR_DECODE);
            break;
        }
        if ((rv = crdtp_cr_bin(&r, &key, &klen)))
            break;
        if (!klen || klen > g->set.max_key_bytes) {
            rv = crdtp_cr_fail(&r, CRDT_ERR_DECODE);
            break;
        }
        raw = r.p;
        if ((rv = crdtp_cr_skip(&r, r.lim.max_depth + 4)))
            break;
        rawlen = (size_t)(r.p - raw);
        rv = gp_decode_state(g, raw, rawlen, &m, &sub);
        if (rv) {
            if (rv != CRDT_ERR_NOMEM)
                crdtp_cr_fail_at(&r, raw + sub.offset, rv);
            break;
        }
        if (apply) {
            bool changed;

            rv = gp_apply(g, key, klen, m, 0, 0, 0, 0, raw, rawlen,
                          &changed);
        }
        crdt_ormap_free(m);
    }
    if (!rv)
        rv = crdtp_cr_finish(&r);
    crdtp_cr_info(&r, info);
    return rv;
}

int crdt_gossip_restore(crdt_gossip *g, const uint8_t *data, size_t len,
                        crdt_decode_info *info)
{
    int rv;

    if (!g || (!data && len))
        return CRDT_ERR_INVALID_ARG;
    if (g->busy)
        return CRDT_ERR_BUSY;
    rv = walk_snapshot(g, data, len, false, info);
    if (!rv)
        rv = walk_snapshot(g, data, len, true, info);
    if (!rv)
        rv = maintain_store(g);
    return rv;
}

/* ======================================================================
 * Metrics
 * ====================================================================== */

void crdt_gossip_metrics_get(const crdt_gossip *g, crdt_gossip_metrics *m)
{
    size_t k;

    if (!m)
        return;
    if (!g) {
        memset(m, 0, sizeof *m);
        return;
    }
    *m = g->m;
    m->bytes_sent = g->bytes_sent;
    m->bytes_received = g->bytes_received;
    for (k = 0; k < CRDT_GOSSIP_KINDS; k++) {
        m->sent[k] = g->kc[k].sent;
        m->sent_bytes[k] = g->kc[k].sent_bytes;
        m->received[k] = g->kc[k].received;
        m->received_bytes[k] = g->kc[k].received_bytes;
    }
    m->log_bytes = g->log.bytes;
    m->log_entries = g->log.count;
    m->peers_up = g->npeers - g->ndown;
    m->peers_down = g->ndown;
}

const char *crdt_gossip_kind_name(int kind)
{
    static const char *const names[CRDT_GOSSIP_KINDS] = {
        NULL, "push", "syn", "ack", "tree", "keys", "states", "want", "frag",
    };

    return kind > 0 && kind < CRDT_GOSSIP_KINDS ? names[kind] : NULL;
}

const char *crdt_gossip_drop_name(int reason)
{
    static const char *const names[CRDT_GOSSIP_DROP_REASONS] = {
        "malformed", "version", "cluster", "oversize",
        "self",      "budget",  "stale",   "nomem",
    };

    return reason >= 0 && reason < CRDT_GOSSIP_DROP_REASONS ? names[reason]
                                                             : NULL;
}
