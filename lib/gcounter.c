/* SPDX-License-Identifier: MIT */
/*
 * Grow-only counters.  The state is a gctr (gcounter_internal.h): an avec
 * (avec_internal.h: sorted actors, non-zero counts, the merge hot paths)
 * plus the exact sum of its counts, so that value() is O(1).
 *
 * Invariant: total == sum of the counts <= UINT64_MAX.  Every mutation
 * first checks for overflow and reserves the storage it needs (in the
 * counter and in the delta), then commits with steps that cannot fail, so
 * a failed call changes nothing.  Merge is crdtp_avec_merge_prepare/commit_sum:
 * when the actor sets are equal, one memcmp and one vectorized max-and-sum
 * pass (plus an overflow-checked pass only if the two totals together
 * could overflow), no allocation; a source of a few actors the counter
 * knows (a delta), a lookup each; else a two-pointer merge sized up
 * front.
 *
 * The gctr helpers are shared with the PN-counter, which is two of them.
 */
#include "config.h"

#include <crdt/gcounter.h>

#include "avec_internal.h"
#include "codec_internal.h"
#include "gcounter_internal.h"
#include "mem_internal.h"

struct crdt_gcounter {
    gctr c;       /* counts and their sum */
    crdt_mem mem; /* allocator of the handle and of c */
};

static const gctr empty_gctr;

static const gctr *ctr_of(const crdt_gcounter *g)
{
    return g ? &g->c : &empty_gctr;
}

/* ======================================================================
 * gctr: counts plus their exact sum (also used by pncounter.c)
 * ====================================================================== */

void crdtp_gctr_init(gctr *g)
{
    crdtp_avec_init(&g->v);
    g->total = 0;
}

void crdtp_gctr_clear(gctr *g, const crdt_mem *mem)
{
    crdtp_avec_clear(&g->v, mem);
    g->total = 0;
}

void crdtp_gctr_swap(gctr *a, gctr *b)
{
    gctr t = *a;

    *a = *b;
    *b = t;
}

/* Writes count c for actor a at index i found by crdtp_avec_search; the
 * caller has reserved room for an insertion, so this cannot fail. */
static void put(avec *v, const crdt_mem *mem, size_t i, bool found,
                crdt_actor a, uint64_t c)
{
    if (found)
        v->counts[i] = c;
    else
        (void)crdtp_avec_set(v, mem, a, c); /* capacity reserved */
}

int crdtp_gctr_add(gctr *g, const crdt_mem *mem, crdt_actor a, uint64_t by,
                   gctr *d, const crdt_mem *dmem)
{
    bool found, dfound = false;
    size_t i, di = 0;
    uint64_t nc, dc = 0;
    int rv;

    if (by == 0)
        return CRDT_OK;
    /* count <= total, so a total that fits implies a count that fits */
    if (by > UINT64_MAX - g->total)
        return CRDT_ERR_OVERFLOW;
    i = crdtp_avec_search(&g->v, a, &found);
    nc = (found ? g->v.counts[i] : 0) + by;
    if (d) {
        di = crdtp_avec_search(&d->v, a, &dfound);
        dc = dfound ? d->v.counts[di] : 0;
        if (nc > dc && nc - dc > UINT64_MAX - d->total)
            return CRDT_ERR_OVERFLOW;
        if (!dfound &&
            (rv = crdtp_avec_reserve(&d->v, dmem, d->v.len + 1)))
            return rv;
    }
    if (!found && (rv = crdtp_avec_reserve(&g->v, mem, g->v.len + 1)))
        return rv;
    /* commit: nothing below can fail */
    put(&g->v, mem, i, found, a, nc);
    g->total += by;
    if (d && nc > dc) {
        put(&d->v, dmem, di, dfound, a, nc);
        d->total += nc - dc;
    }
    return CRDT_OK;
}

int crdtp_gctr_copy(gctr *d, const crdt_mem *mem, const gctr *s)
{
    int rv;

    if ((rv = crdtp_avec_copy(&d->v, mem, &s->v)))
        return rv;
    d->total = s->total;
    return CRDT_OK;
}

/* Sources of at most FEW actors merge by lookups (merge_few). */
#define FEW 4

/* Merges s (at most FEW actors) into d when d knows all of s's actors:
 * each one looked up and raised in place, the total raised by the
 * difference; O(FEW log n) where the general merge makes four passes over
 * d (a delta of one actor into a counter of many: an OR-map's value
 * joined with one new slot).  Sets *done = false, changing nothing, when
 * an actor is new to d. */
static int merge_few(gctr *d, const gctr *s, bool *done)
{
    size_t i, at[FEW];
    uint64_t up = 0, c;
    bool found;

    *done = false;
    for (i = 0; i < s->v.len; i++) {
        at[i] = crdtp_avec_find(&d->v, s->v.actors[i], &found);
        if (!found)
            return CRDT_OK;
        c = d->v.counts[at[i]];
        if (s->v.counts[i] > c) {
            if (s->v.counts[i] - c > UINT64_MAX - up)
                return CRDT_ERR_OVERFLOW;
            up += s->v.counts[i] - c;
        }
    }
    if (up > UINT64_MAX - d->total)
        return CRDT_ERR_OVERFLOW;
    for (i = 0; i < s->v.len; i++)
        if (s->v.counts[i] > d->v.counts[at[i]])
            d->v.counts[at[i]] = s->v.counts[i];
    d->total += up;
    *done = true;
    return CRDT_OK;
}

int crdtp_gctr_merge(gctr *d, const crdt_mem *mem, const gctr *s)
{
    bool done;
    int rv;

    if (d == s || s->v.len == 0)
        return CRDT_OK;
    if (d->v.len == 0) /* e.g. a delta into a fresh replica */
        return crdtp_gctr_copy(d, mem, s);
    if (crdtp_gctr_merge_is_trivial(d, s)) { /* the common case: one pass */
        d->total = crdtp_avec_max_sum_same(&d->v, &s->v);
        return CRDT_OK;
    }
    /* (an actor past either end of d's, as when joining slots in actor
     * order, is new to d: no lookups) */
    if (s->v.len <= FEW && s->v.actors[0] >= d->v.actors[0] &&
        s->v.actors[s->v.len - 1] <= d->v.actors[d->v.len - 1] &&
        ((rv = merge_few(d, s, &done)) || done))
        return rv;
    if ((rv = crdtp_gctr_merge_prepare(d, mem, s)))
        return rv;
    crdtp_gctr_merge_commit(d, mem, s);
    return CRDT_OK;
}

bool crdtp_gctr_merge_is_trivial(const gctr *d, const gctr *s)
{
    return d != s && d->total <= UINT64_MAX - s->total &&
           crdtp_avec_same_actors(&d->v, &s->v);
}

int crdtp_gctr_merge_prepare(gctr *d, const crdt_mem *mem, const gctr *s)
{
    /* Each merged count is at most the sum of the two, so when the totals
     * add up without overflow the merged total cannot overflow either. */
    bool check = d->total > UINT64_MAX - s->total;

    return crdtp_avec_merge_prepare(&d->v, mem, &s->v, check);
}

void crdtp_gctr_merge_commit(gctr *d, const crdt_mem *mem, const gctr *s)
{
    if (d == s || s->v.len == 0)
        return;
    d->total = crdtp_avec_merge_commit_sum(&d->v, mem, &s->v);
}

bool crdtp_gctr_equal(const gctr *a, const gctr *b)
{
    return a->total == b->total && crdtp_avec_equal(&a->v, &b->v);
}

/* Where the count that takes v's sum past UINT64_MAX was read: re-reads
 * the map at `map` (already validated, so every read succeeds) up to it.
 * Cold path: only hostile or corrupt input gets here. */
static const uint8_t *overflow_at(const cr *r, const uint8_t *map,
                                  const avec *v)
{
    cr q;
    uint32_t n;
    uint64_t t = 0, x;
    size_t i, k;

    for (k = 0; k < v->len && v->counts[k] <= UINT64_MAX - t; k++)
        t += v->counts[k];
    crdtp_cr_init(&q, map, (size_t)(r->end - map), &r->lim);
    (void)crdtp_cr_map(&q, &n);
    for (i = 0; i < k; i++) {
        (void)cr_uint(&q, &x);
        (void)cr_uint(&q, &x);
    }
    (void)cr_uint(&q, &x); /* actor k; q.p is now at its count */
    return q.p;
}

int crdtp_gctr_decode(cr *r, gctr *out, const crdt_mem *mem)
{
    const uint8_t *map = r->p;
    int rv;

    if ((rv = crdtp_avec_decode(r, &out->v, mem)))
        return rv;
    if (crdtp_avec_sum(&out->v, &out->total) != CRDT_OK) {
        rv = crdtp_cr_fail_at(r, overflow_at(r, map, &out->v),
                              CRDT_ERR_OVERFLOW);
        crdtp_gctr_clear(out, mem);
        return rv;
    }
    return CRDT_OK;
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

crdt_gcounter *crdt_gcounter_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_gcounter *g;

    crdtp_mem_set(&m, mem);
    g = crdtp_malloc(&m, sizeof *g);
    if (!g)
        return NULL;
    crdtp_gctr_init(&g->c);
    g->mem = m;
    return g;
}

void crdt_gcounter_free(crdt_gcounter *g)
{
    crdt_mem m;

    if (!g)
        return;
    m = g->mem;
    crdtp_gctr_clear(&g->c, &m);
    crdtp_free(&m, g);
}

crdt_gcounter *crdt_gcounter_clone(const crdt_gcounter *src)
{
    crdt_gcounter *g;

    if (!src)
        return NULL;
    g = crdt_gcounter_new(&src->mem);
    if (g && crdtp_gctr_copy(&g->c, &g->mem, &src->c) != CRDT_OK) {
        crdt_gcounter_free(g);
        return NULL;
    }
    return g;
}

int crdt_gcounter_copy(crdt_gcounter *dst, const crdt_gcounter *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_gctr_copy(&dst->c, &dst->mem, &src->c);
}

/* ======================================================================
 * Queries
 * ====================================================================== */

uint64_t crdt_gcounter_value(const crdt_gcounter *g)
{
    return ctr_of(g)->total;
}

uint64_t crdt_gcounter_get(const crdt_gcounter *g, crdt_actor actor)
{
    return crdtp_avec_get(&ctr_of(g)->v, actor);
}

size_t crdt_gcounter_size(const crdt_gcounter *g)
{
    return ctr_of(g)->v.len;
}

int crdt_gcounter_entry(const crdt_gcounter *g, size_t i, crdt_actor *actor,
                        uint64_t *count)
{
    if (!g)
        return CRDT_ERR_INVALID_ARG;
    if (i >= g->c.v.len)
        return CRDT_ERR_NOT_FOUND;
    if (actor)
        *actor = g->c.v.actors[i];
    if (count)
        *count = g->c.v.counts[i];
    return CRDT_OK;
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

int crdt_gcounter_increment(crdt_gcounter *g, crdt_actor actor, uint64_t by,
                            crdt_gcounter *delta)
{
    if (!g || delta == g)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_gctr_add(&g->c, &g->mem, actor, by,
                          delta ? &delta->c : NULL,
                          delta ? &delta->mem : NULL);
}

/* ======================================================================
 * Merge and equality
 * ====================================================================== */

int crdt_gcounter_merge(crdt_gcounter *dst, const crdt_gcounter *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_gctr_merge(&dst->c, &dst->mem, &src->c);
}

bool crdt_gcounter_equal(const crdt_gcounter *a, const crdt_gcounter *b)
{
    return crdtp_gctr_equal(ctr_of(a), ctr_of(b));
}

/* ======================================================================
 * Codec
 * ====================================================================== */

int crdt_gcounter_encode(const crdt_gcounter *g, crdt_buf *out)
{
    cw w;

    if (!g || !out)
        return CRDT_ERR_INVALID_ARG;
    cw_begin(&w, out, CRDT_TAG_GCOUNTER, 1);
    crdtp_avec_encode(&w, &g->c.v);
    return cw_end(&w);
}

static inline void dec_init(void *tmp, const void *dst)
{
    (void)dst;
    crdtp_gctr_init(tmp);
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    (void)nbody;
    return crdtp_gctr_decode(r, tmp, &((const crdt_gcounter *)dst)->mem);
}

static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    (void)r;
    crdtp_gctr_swap(&((crdt_gcounter *)dst)->c, tmp);
    return CRDT_OK;
}

static inline void dec_clear(void *tmp, const void *dst)
{
    crdtp_gctr_clear(tmp, &((const crdt_gcounter *)dst)->mem);
}

static const crdtp_decoder gcounter_decoder = {
    .tag = CRDT_TAG_GCOUNTER, .nbody = CRDTP_NBODY(1), .init = dec_init,
    .body = dec_body, .commit = dec_commit, .clear = dec_clear,
};

int crdt_gcounter_decode(crdt_gcounter *dst, const uint8_t *data, size_t len,
                         const crdt_limits *lim, crdt_decode_info *info)
{
    gctr tmp;

    return crdtp_decode(&gcounter_decoder, dst, &tmp, data, len, lim, 0,
                        info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_gcounter_new(mem);
}

static void vt_destroy(void *obj)
{
    crdt_gcounter_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_gcounter_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_gcounter_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_gcounter_merge(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_gcounter_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_gcounter_decode(dst, data, len, lim, info);
}

static const crdt_type gcounter_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_GCOUNTER, "gcounter", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_gcounter_type(void)
{
    return &gcounter_type;
}
