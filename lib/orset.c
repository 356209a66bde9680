/* SPDX-License-Identifier: MIT */
/*
 * Add-wins OR-sets without tombstones: an elemset with dots
 * (elemset_internal.h) over one causal context (dotctx_internal.h).
 *
 * Invariants: the context is clean (compact); every element has >= 1
 * dot, its dots sorted and all in the context; the element's one dot is
 * inline, several go to a dotlist.
 *
 * Merge (the join of dot stores) runs in two phases so that it is
 * atomic: prepare looks every source element up in dst (one hash, or
 * none when both share a key, and a probe), records the result in a
 * scratch map, allocates the dot lists of results with several dots,
 * reserves element storage and the context join; commit then applies
 * without allocating: source elements (survivors of D2 \ c1 appended,
 * common ones set to (D1 & D2) | (D1 \ c2) | (D2 \ c1)), then dst-only
 * elements filtered by D1 \ c2, then the dead removed in one pass, then
 * the contexts joined.  A dot the two sides hold under different
 * elements (an actor id reused) is, for each element, a dot the other
 * side has seen and does not hold: both drop it, in either order, with
 * no extra test (see crdt/orset.h).  Mutators build their delta as a
 * small set, merge it into the caller's delta with the same
 * prepare/commit, and commit their own change only once nothing can
 * fail.
 *
 * Without a delta, add and remove take a short path (the delta paths are
 * out of line, so it keeps a small frame): add is a hash, a probe, then
 * reserve and the next dot (the only failure points) before the push or
 * the dot update; remove is a hash and crdtp_es_remove_key, which cannot
 * fail.  Measured on the peer's orswot workload (100,000 elements, 8
 * actors; callgrind): remove 423 -> 327 instructions, add 539 -> 453.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <crdt/orset.h>

#include "codec_internal.h"
#include "dotstore_internal.h"
#include "dotctx_internal.h"
#include "elemset_internal.h"
#include "mem_internal.h"

typedef struct oset {
    elemset es;
    dotctx ctx;
} oset;

struct crdt_orset {
    oset s;
    crdt_mem mem;
};

/* The scratch of a merge: per source element its hash under dst's key
 * and the index + 1 of the same element in dst (0: absent); the dot
 * lists of results with several dots, made in prepare. */
typedef struct plan {
    uint64_t *map;
    es_dotlist **lists; /* per source element, allocated on demand */
    size_t n;
} plan;

/* ======================================================================
 * Helpers
 * ====================================================================== */

static void oset_init_like(oset *t, const elemset *keysrc)
{
    memset(t, 0, sizeof *t);
    t->es.with_dots = true;
    memcpy(t->es.key, keysrc->key, ES_KEYBYTES);
    t->es.keyed = keysrc->keyed;
    crdtp_dotctx_init(&t->ctx);
}

static void oset_clear(oset *t, const crdt_mem *mem)
{
    crdtp_es_clear(&t->es, mem);
    crdtp_dotctx_clear(&t->ctx, mem);
}

static inline bool ctx_has(const dotctx *c, crdt_dot d)
{
    return crdtp_dotctx_contains(c, d.actor, d.counter);
}

static inline bool dot_lt(crdt_dot x, crdt_dot y)
{
    return x.actor < y.actor || (x.actor == y.actor && x.counter < y.counter);
}

static inline bool dot_eq(crdt_dot x, crdt_dot y)
{
    return x.actor == y.actor && x.counter == y.counter;
}

/* The join of one element's dots: a (with context ca) and b (cb); a dot
 * in both stays, a dot in one stays unless the other's context has it.
 * Writes the sorted result to out (NULL: count only); returns the count. */
static size_t join_dots(const crdt_dot *a, size_t na, const dotctx *ca,
                        const crdt_dot *b, size_t nb, const dotctx *cb,
                        crdt_dot *out)
{
    size_t i = 0, j = 0, k = 0;

    while (i < na || j < nb) {
        crdt_dot d;
        bool keep;

        if (j == nb || (i < na && dot_lt(a[i], b[j]))) {
            d = a[i++];
            keep = !ctx_has(cb, d);
        } else if (i == na || dot_lt(b[j], a[i])) {
            d = b[j++];
            keep = !ctx_has(ca, d);
        } else {
            d = a[i++];
            j++;
            keep = true;
        }
        if (keep) {
            if (out)
                out[k] = d;
            k++;
        }
    }
    return k;
}

/* Largest counter of actor a in a clean context (vector or cloud). */
static uint64_t ctx_top(const dotctx *c, crdt_actor a)
{
    uint64_t m = crdtp_dotctx_vv_get(c, a);
    size_t lo = 0, hi = c->ncloud;

    while (lo < hi) { /* first cloud dot with actor > a */
        size_t mid = lo + (hi - lo) / 2;

        if (c->cloud[mid].actor <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && c->cloud[lo - 1].actor == a)
        m = c->cloud[lo - 1].counter;
    return m;
}

/* ======================================================================
 * Merge in two phases
 * ====================================================================== */

static void plan_free(plan *p, const crdt_mem *mem)
{
    size_t j;

    if (p->lists) {
        for (j = 0; j < p->n; j++)
            crdtp_free(mem, p->lists[j]);
        crdtp_free(mem, p->lists);
    }
    crdtp_free(mem, p->map);
    p->map = NULL;
    p->lists = NULL;
}

static int plan_list(plan *p, const crdt_mem *mem, size_t j, size_t k)
{
    if (!p->lists) {
        p->lists = crdtp_malloc_array(mem, p->n, sizeof *p->lists);
        if (!p->lists)
            return CRDT_ERR_NOMEM;
        memset(p->lists, 0, p->n * sizeof *p->lists);
    }
    p->lists[j] = crdtp_es_dotlist_new(mem, k);
    return p->lists[j] ? CRDT_OK : CRDT_ERR_NOMEM;
}

static int merge_prepare(oset *d, const crdt_mem *mem, const oset *s,
                         plan *p)
{
    const elemset *b = &s->es;
    elemset *a = &d->es;
    bool same = crdtp_es_same_key(a, b), keyed = a->keyed;
    size_t j, add = 0, bytes = 0;
    int rv;

    p->n = b->n;
    p->map = NULL;
    p->lists = NULL;
    if (b->n) {
        p->map = crdtp_malloc_array(mem, b->n, sizeof *p->map);
        if (!p->map)
            return CRDT_ERR_NOMEM;
    }
    for (j = 0; j < b->n; j++) {
        const uint8_t *e = crdtp_es_bytes(b, j);
        size_t len = crdtp_es_len(b, j), nb, na, k, i;
        uint32_t h = same ? b->ents[j].hash : crdtp_shorthash(a, e, len);
        const crdt_dot *db = crdtp_es_dots(b, j, &nb), *da;

        i = crdtp_es_find(a, e, len, h);
        p->map[j] = (uint64_t)h << 32 | (i == ES_NONE ? 0 : i + 1);
        if (i == ES_NONE) {
            k = join_dots(NULL, 0, &d->ctx, db, nb, &s->ctx, NULL);
            if (k)
                add++, bytes += crdtp_es_abytes(len);
        } else {
            da = crdtp_es_dots(a, i, &na);
            if (na == 1 && nb == 1 && da->actor == db->actor &&
                da->counter == db->counter)
                continue; /* the common case: the same dot */
            k = join_dots(da, na, &d->ctx, db, nb, &s->ctx, NULL);
        }
        if (k >= 2 && (rv = plan_list(p, mem, j, k)))
            goto fail;
    }
    if (add && (rv = crdtp_es_reserve(a, mem, add, bytes)))
        goto fail;
    if (a->keyed != keyed) /* the reserve rekeyed a: hash what is pushed */
        for (j = 0; j < b->n; j++)
            if ((uint32_t)p->map[j] == 0)
                p->map[j] = (uint64_t)crdtp_shorthash(
                                a, crdtp_es_bytes(b, j), crdtp_es_len(b, j))
                            << 32;
    if ((rv = crdtp_dotctx_join_prepare(&d->ctx, mem, &s->ctx)))
        goto fail;
    return CRDT_OK;
fail:
    plan_free(p, mem);
    return rv;
}

/* Gives element i of es the k dots of the result (in buf when k <= 2,
 * else already in list l). */
static void put_dots(elemset *es, const crdt_mem *mem, size_t i,
                     const crdt_dot *one, es_dotlist *l, size_t k)
{
    crdtp_es_set_dots(es, mem, i, k == 1 ? one : NULL, k >= 2 ? l : NULL, k);
}

static void merge_commit(oset *d, const crdt_mem *mem, const oset *s,
                         plan *p)
{
    const elemset *b = &s->es;
    elemset *a = &d->es;
    size_t j, i, n0 = a->n, dead = 0;

    for (j = 0; j < b->n; j++) {
        uint64_t m = p->map[j];
        size_t nb, na, k;
        const crdt_dot *db = crdtp_es_dots(b, j, &nb), *da;
        es_dotlist *l = p->lists ? p->lists[j] : NULL;
        crdt_dot one[1];

        if ((uint32_t)m == 0) {
            k = join_dots(NULL, 0, &d->ctx, db, nb, &s->ctx,
                          l ? l->d : one);
            if (k == 0)
                continue;
            i = crdtp_es_push(a, crdtp_es_bytes(b, j), crdtp_es_len(b, j),
                              (uint32_t)(m >> 32));
        } else {
            i = (uint32_t)m - 1;
            da = crdtp_es_dots(a, i, &na);
            if (na == 1 && nb == 1 && da->actor == db->actor &&
                da->counter == db->counter) {
                a->ents[i].len |= ES_MARK; /* the common case: same dot */
                continue;
            }
            if (l) {
                k = join_dots(da, na, &d->ctx, db, nb, &s->ctx, l->d);
            } else {
                k = join_dots(da, na, &d->ctx, db, nb, &s->ctx, NULL);
                if (k == 1)
                    join_dots(da, na, &d->ctx, db, nb, &s->ctx, one);
            }
            a->ents[i].len |= ES_MARK;
            if (k == 0)
                dead++;
        }
        put_dots(a, mem, i, one, l, k);
        if (l)
            p->lists[j] = NULL; /* taken */
    }
    for (i = 0; i < n0; i++) {
        crdt_dot *x = &a->dots[i];

        if (a->ents[i].len & ES_MARK) {
            a->ents[i].len &= ~ES_MARK;
            continue;
        }
        if (x->counter) {
            if (ctx_has(&s->ctx, *x)) {
                x->actor = x->counter = 0;
                dead++;
            }
        } else if (x->actor) {
            es_dotlist *l = (es_dotlist *)(uintptr_t)x->actor;
            size_t k = 0, t;

            for (t = 0; t < l->n; t++)
                if (!ctx_has(&s->ctx, l->d[t]))
                    l->d[k++] = l->d[t];
            if (k == 0)
                dead++;
            if (k >= 2)
                l->n = k;
            else
                crdtp_es_set_dots(a, mem, i, k ? &l->d[0] : NULL, NULL, k);
        }
    }
    if (dead)
        crdtp_es_remove_dead(a, mem);
    crdtp_dotctx_join_apply(&d->ctx, mem, &s->ctx);
    plan_free(p, mem);
}

static int oset_merge(oset *d, const crdt_mem *mem, const oset *s)
{
    plan p;
    int rv;

    if (d == s)
        return CRDT_OK;
    if ((rv = merge_prepare(d, mem, s, &p)))
        return rv;
    merge_commit(d, mem, s, &p);
    return CRDT_OK;
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

crdt_orset *crdt_orset_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_orset *s;

    crdtp_mem_set(&m, mem);
    s = crdtp_malloc(&m, sizeof *s);
    if (!s)
        return NULL;
    if (crdtp_es_init(&s->s.es, true) != CRDT_OK) {
        crdtp_free(&m, s);
        return NULL;
    }
    crdtp_dotctx_init(&s->s.ctx);
    s->mem = m;
    return s;
}

void crdt_orset_free(crdt_orset *s)
{
    crdt_mem m;

    if (!s)
        return;
    m = s->mem;
    oset_clear(&s->s, &m);
    crdtp_free(&m, s);
}

int crdt_orset_copy(crdt_orset *dst, const crdt_orset *src)
{
    dotctx c;
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (dst == src)
        return CRDT_OK;
    crdtp_dotctx_init(&c);
    if ((rv = crdtp_dotctx_copy(&c, &dst->mem, &src->s.ctx)))
        return rv;
    if ((rv = crdtp_es_copy(&dst->s.es, &dst->mem, &src->s.es))) {
        crdtp_dotctx_clear(&c, &dst->mem);
        return rv;
    }
    crdtp_dotctx_swap(&dst->s.ctx, &c);
    crdtp_dotctx_clear(&c, &dst->mem);
    return CRDT_OK;
}

crdt_orset *crdt_orset_clone(const crdt_orset *src)
{
    crdt_orset *s;

    if (!src)
        return NULL;
    s = crdt_orset_new(&src->mem);
    if (s && crdt_orset_copy(s, src) != CRDT_OK) {
        crdt_orset_free(s);
        return NULL;
    }
    return s;
}

/* ======================================================================
 * Queries
 * ====================================================================== */

size_t crdt_orset_size(const crdt_orset *s)
{
    return s ? s->s.es.n : 0;
}

static size_t find(const crdt_orset *s, const void *elem, size_t len)
{
    if (s->s.es.n == 0)
        return ES_NONE;
    return crdtp_es_find(&s->s.es, elem, len,
                         crdtp_shorthash(&s->s.es, elem, len));
}

bool crdt_orset_contains(const crdt_orset *s, const void *elem, size_t len)
{
    if (!s || (!elem && len))
        return false;
    return find(s, elem, len) != ES_NONE;
}

int crdt_orset_elem(const crdt_orset *s, size_t i, const uint8_t **elem,
                    size_t *len, size_t *ndots)
{
    size_t k;

    if (!s)
        return CRDT_ERR_INVALID_ARG;
    if (i >= s->s.es.n)
        return CRDT_ERR_NOT_FOUND;
    if (elem)
        *elem = crdtp_es_bytes(&s->s.es, i);
    if (len)
        *len = crdtp_es_len(&s->s.es, i);
    (void)crdtp_es_dots(&s->s.es, i, &k);
    if (ndots)
        *ndots = k;
    return CRDT_OK;
}

int crdt_orset_elem_dot(const crdt_orset *s, size_t i, size_t k,
                        crdt_dot *out)
{
    const crdt_dot *d;
    size_t n;

    if (!s)
        return CRDT_ERR_INVALID_ARG;
    if (i >= s->s.es.n)
        return CRDT_ERR_NOT_FOUND;
    d = crdtp_es_dots(&s->s.es, i, &n);
    if (k >= n)
        return CRDT_ERR_NOT_FOUND;
    if (out)
        *out = d[k];
    return CRDT_OK;
}

bool crdt_orset_context_contains(const crdt_orset *s, crdt_dot dot)
{
    return s && ctx_has(&s->s.ctx, dot);
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

/* Merges the small set t into delta and then runs commit_self (which
 * cannot fail); t is freed.  Nothing changes on error. */
static int with_delta(crdt_orset *delta, oset *t, const crdt_mem *tmem,
                      plan *p)
{
    int rv = merge_prepare(&delta->s, &delta->mem, t, p);

    if (rv)
        oset_clear(t, tmem);
    return rv;
}

/* add with a delta: {elem: {nd}}, context {nd} + the superseded dots;
 * i is the element's index in s or ES_NONE, h its hash. */
static ES_NOINLINE int add_delta(crdt_orset *s, crdt_actor actor,
                                 const void *elem, size_t len, uint32_t h,
                                 size_t i, crdt_orset *delta)
{
    size_t nold = 0, k;
    const crdt_dot *old = NULL;
    crdt_dot nd;
    uint64_t top;
    bool keyed;
    oset t;
    plan p;
    int rv;

    crdtp_dotctx_compact(&s->s.ctx);
    top = ctx_top(&s->s.ctx, actor);
    if (top == UINT64_MAX)
        return CRDT_ERR_OVERFLOW;
    nd.actor = actor;
    nd.counter = top + 1;
    if (i != ES_NONE)
        old = crdtp_es_dots(&s->s.es, i, &nold);
    keyed = s->s.es.keyed;
    oset_init_like(&t, &delta->s.es);
    if ((rv = crdtp_es_reserve(&t.es, &s->mem, 1, crdtp_es_abytes(len))) ||
        (rv = crdtp_dotctx_add(&t.ctx, &s->mem, nd)))
        goto fail;
    for (k = 0; k < nold; k++)
        if ((rv = crdtp_dotctx_add(&t.ctx, &s->mem, old[k])))
            goto fail;
    k = crdtp_es_push(&t.es, elem, len,
                      crdtp_shorthash(&t.es, elem, len));
    crdtp_es_set_dots(&t.es, &s->mem, k, &nd, NULL, 1);
    if ((rv = with_delta(delta, &t, &s->mem, &p)))
        return rv;
    if ((i == ES_NONE &&
         (rv = crdtp_es_reserve(&s->s.es, &s->mem, 1,
                                crdtp_es_abytes(len)))) ||
        (rv = crdtp_dotctx_join_prepare(&s->s.ctx, &s->mem, &t.ctx))) {
        plan_free(&p, &delta->mem);
        goto fail;
    }
    /* commit: nothing below can fail */
    merge_commit(&delta->s, &delta->mem, &t, &p);
    crdtp_dotctx_join_apply(&s->s.ctx, &s->mem, &t.ctx);
    if (i == ES_NONE) /* under s's key: the reserve may have rekeyed */
        i = crdtp_es_push(&s->s.es, elem, len,
                          crdtp_es_rehash(&s->s.es, keyed, elem, len, h));
    crdtp_es_set_dots(&s->s.es, &s->mem, i, &nd, NULL, 1);
    rv = CRDT_OK;
fail:
    oset_clear(&t, &s->mem);
    return rv;
}

int crdt_orset_add(crdt_orset *s, crdt_actor actor, const void *elem,
                   size_t len, crdt_orset *delta)
{
    elemset *es;
    uint32_t h;
    size_t i, slot, ns;
    crdt_dot nd;
    bool keyed;
    int rv;

    if (!s || (!elem && len) || len > ES_MAX_LEN || delta == s)
        return CRDT_ERR_INVALID_ARG;
    es = &s->s.es;
    h = crdtp_shorthash(es, elem, len);
    i = crdtp_es_find_slot(es, elem, len, h, &slot);
    if (delta)
        return add_delta(s, actor, elem, len, h, i, delta);
    if (i != ES_NONE) {
        if ((rv = crdtp_dotctx_next_dot(&s->s.ctx, &s->mem, actor, &nd)))
            return rv;
        crdtp_es_set_dots(es, &s->mem, i, &nd, NULL, 1);
        return CRDT_OK;
    }
    /* a new element: reserve, draw the dot, then push into the empty
     * slot the lookup ended on (unless reserve resized the index or
     * rekeyed: then rehash and probe) */
    ns = es->nslots;
    keyed = es->keyed;
    if ((rv = crdtp_es_reserve(es, &s->mem, 1, crdtp_es_abytes(len))) ||
        (rv = crdtp_dotctx_next_dot(&s->s.ctx, &s->mem, actor, &nd)))
        return rv;
    if (es->keyed != keyed) {
        h = crdtp_shorthash(es, elem, len);
        slot = ES_NONE;
    }
    i = crdtp_es_push_at(es, elem, len, h, es->nslots == ns ? slot : ES_NONE);
    es->dots[i] = nd;
    return CRDT_OK;
}

/* remove with a delta (no element, context = the element's dots). */
static ES_NOINLINE int remove_delta(crdt_orset *s, const void *elem,
                                    size_t len, crdt_orset *delta)
{
    size_t i, n, k, slot;
    const crdt_dot *d;
    oset t;
    plan p;
    int rv;

    if (s->s.es.n == 0)
        return CRDT_OK;
    i = crdtp_es_find_slot(&s->s.es, elem, len,
                           crdtp_shorthash(&s->s.es, elem, len), &slot);
    if (i == ES_NONE)
        return CRDT_OK;
    d = crdtp_es_dots(&s->s.es, i, &n);
    oset_init_like(&t, &delta->s.es);
    for (k = 0; k < n; k++)
        if ((rv = crdtp_dotctx_add(&t.ctx, &s->mem, d[k]))) {
            oset_clear(&t, &s->mem);
            return rv;
        }
    if ((rv = with_delta(delta, &t, &s->mem, &p)))
        return rv;
    merge_commit(&delta->s, &delta->mem, &t, &p);
    oset_clear(&t, &s->mem);
    crdtp_es_remove_slot(&s->s.es, &s->mem, i, slot);
    return CRDT_OK;
}

int crdt_orset_remove(crdt_orset *s, const void *elem, size_t len,
                      crdt_orset *delta)
{
    if (!s || (!elem && len) || len > ES_MAX_LEN || delta == s)
        return CRDT_ERR_INVALID_ARG;
    if (delta)
        return remove_delta(s, elem, len, delta);
    /* without a delta: one hash, one probe, no allocation */
    if (s->s.es.n) {
        ES_PREFETCH(crdtp_es_last_slot(&s->s.es));
        crdtp_es_remove_key(&s->s.es, &s->mem, elem, len,
                            crdtp_shorthash(&s->s.es, elem, len));
    }
    return CRDT_OK;
}

int crdt_orset_clear(crdt_orset *s, crdt_orset *delta)
{
    size_t i, n, k;
    oset t;
    plan p;
    int rv;

    if (!s || delta == s)
        return CRDT_ERR_INVALID_ARG;
    if (s->s.es.n == 0)
        return CRDT_OK;
    if (delta) {
        oset_init_like(&t, &delta->s.es);
        for (i = 0; i < s->s.es.n; i++) {
            const crdt_dot *d = crdtp_es_dots(&s->s.es, i, &n);

            for (k = 0; k < n; k++)
                if ((rv = crdtp_dotctx_add_unfolded(&t.ctx, &s->mem,
                                                    d[k]))) {
                    oset_clear(&t, &s->mem);
                    return rv;
                }
        }
        crdtp_dotctx_compact(&t.ctx);
        if ((rv = with_delta(delta, &t, &s->mem, &p)))
            return rv;
        merge_commit(&delta->s, &delta->mem, &t, &p);
        oset_clear(&t, &s->mem);
    }
    crdtp_es_clear(&s->s.es, &s->mem);
    return CRDT_OK;
}

/* ======================================================================
 * Merge and equality
 * ====================================================================== */

int crdt_orset_merge(crdt_orset *dst, const crdt_orset *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return oset_merge(&dst->s, &dst->mem, &src->s);
}

bool crdt_orset_equal(const crdt_orset *a, const crdt_orset *b)
{
    static const dotctx empty;
    size_t i, na, nb;

    if (a == b)
        return true;
    if (crdt_orset_size(a) != crdt_orset_size(b))
        return false;
    if (!crdtp_dotctx_equal(a ? &a->s.ctx : &empty, b ? &b->s.ctx : &empty))
        return false;
    for (i = 0; i < crdt_orset_size(a); i++) {
        const crdt_dot *da = crdtp_es_dots(&a->s.es, i, &na), *db;
        size_t j = find(b, crdtp_es_bytes(&a->s.es, i),
                        crdtp_es_len(&a->s.es, i));

        if (j == ES_NONE)
            return false;
        db = crdtp_es_dots(&b->s.es, j, &nb);
        if (na != nb || memcmp(da, db, na * sizeof *da) != 0)
            return false;
    }
    return true;
}

/* ======================================================================
 * Codec
 * ====================================================================== */

/* [actor, counter] in at most 1 + 9 + 9 bytes. */
#define DOT_BYTES 19u

int crdt_orset_encode(const crdt_orset *s, crdt_buf *out)
{
    const elemset *es;
    uint32_t *perm;
    size_t i, k, n, ndots = 0;
    cw w;
    int rv;

    if (!s || !out)
        return CRDT_ERR_INVALID_ARG;
    es = &s->s.es;
    if ((rv = crdtp_es_sorted(es, &s->mem, &perm)))
        return rv;
    for (i = 0; i < es->n; i++) {
        (void)crdtp_es_dots(es, i, &n);
        ndots += n;
    }
    cw_begin(&w, out, CRDT_TAG_ORSET, 3);
    cw_reserve(&w, crdtp_dotctx_encoded_max(&s->s.ctx) + 5 + 11 * es->n +
                       es->alen + DOT_BYTES * ndots);
    crdtp_dotctx_encode_body(&w, &s->s.ctx);
    cw_array(&w, es->n);
    for (i = 0; i < es->n; i++) {
        const crdt_dot *d = crdtp_es_dots(es, perm[i], &n);
        size_t len = crdtp_es_len(es, perm[i]);
        uint8_t *p = cw_span(&w, 1 + 2 * CW_HDR_MAX + len + n * DOT_BYTES);

        if (p) { /* room for the most this entry can take: write it */
            p = cw_put_array(p, 2);
            p = cw_put_bin(p, crdtp_es_bytes(es, perm[i]), len);
            p = cw_put_array(p, n);
            for (k = 0; k < n; k++) {
                p = cw_put_array(p, 2);
                p = cw_put_uint(p, d[k].actor);
                p = cw_put_uint(p, d[k].counter);
            }
            cw_commit(&w, p);
            continue;
        }
        cw_array(&w, 2);
        cw_bin(&w, crdtp_es_bytes(es, perm[i]), len);
        cw_array(&w, n);
        for (k = 0; k < n; k++) {
            cw_array(&w, 2);
            cw_uint(&w, d[k].actor);
            cw_uint(&w, d[k].counter);
        }
    }
    crdtp_free(&s->mem, perm);
    return cw_end(&w);
}

/*
 * The decoder's check that no dot is under two elements (a state where
 * one is would break the join: a later add or remove of one element
 * would silently drop the other).  A dot (a, c) with c <= vv[a] is
 * marked in a bitmap of vv[a] bits per actor, when the bitmaps of all
 * actors so far fit in a budget of 8 bits per remaining input byte (the
 * memory is then at most the input's size); any other dot (cloud dots,
 * and actors past the budget) is kept with its offset and checked by a
 * sort at the end: O(D log D) in the worst case, O(D) for states whose
 * counters are dense.
 */
typedef struct dotseen {
    size_t *first; /* per vv entry: its first word in bits, or SIZE_MAX */
    uint64_t *bits;
    crdtp_dot_at *rest; /* dots not marked, with their offsets */
    size_t nrest, caprest;
} dotseen;

static int dotseen_init(dotseen *ds, const avec *vv, size_t budget_bits,
                        const crdt_mem *mem)
{
    size_t i, words = 0;

    ds->first = NULL;
    ds->bits = NULL;
    ds->rest = NULL;
    ds->nrest = ds->caprest = 0;
    if (vv->len == 0)
        return CRDT_OK;
    if (!(ds->first = crdtp_malloc_array(mem, vv->len, sizeof *ds->first)))
        return CRDT_ERR_NOMEM;
    for (i = 0; i < vv->len; i++) {
        uint64_t c = vv->counts[i];

        if (c <= budget_bits) {
            budget_bits -= (size_t)c;
            ds->first[i] = words;
            words += (size_t)(c / 64 + 1);
        } else {
            ds->first[i] = SIZE_MAX;
        }
    }
    if (words) {
        if (!(ds->bits = crdtp_malloc_array(mem, words, sizeof *ds->bits)))
            return CRDT_ERR_NOMEM;
        memset(ds->bits, 0, words * sizeof *ds->bits);
    }
    return CRDT_OK;
}

static void dotseen_clear(dotseen *ds, const crdt_mem *mem)
{
    crdtp_free(mem, ds->first);
    crdtp_free(mem, ds->bits);
    crdtp_free(mem, ds->rest);
}

/* Notes dot d of the input at at: CRDT_ERR_DECODE if d is not in ctx
 * (whose vector dotseen_init was given), or is a marked dot seen before;
 * CRDT_ERR_NOMEM. */
static int dotseen_add(dotseen *ds, const dotctx *ctx, crdt_dot d,
                       size_t at, const crdt_mem *mem)
{
    const avec *vv = &ctx->vv;
    bool found;
    size_t i = crdtp_avec_find(vv, d.actor, &found);

    if (found && d.counter <= vv->counts[i] && ds->first[i] != SIZE_MAX) {
        uint64_t *w = &ds->bits[ds->first[i] + d.counter / 64];
        uint64_t m = (uint64_t)1 << (d.counter % 64);

        if (d.counter == 0 || (*w & m))
            return CRDT_ERR_DECODE;
        *w |= m;
        return CRDT_OK;
    }
    if (!ctx_has(ctx, d))
        return CRDT_ERR_DECODE;
    return crdtp_dot_at_push(&ds->rest, &ds->nrest, &ds->caprest, mem, d,
                             at);
}

/* The unmarked dots: fails at the later of two equal ones. */
static int dotseen_finish(dotseen *ds, cr *r)
{
    size_t i;

    if (ds->nrest < 2)
        return CRDT_OK;
    qsort(ds->rest, ds->nrest, sizeof *ds->rest, crdtp_dot_at_cmp);
    for (i = 1; i < ds->nrest; i++)
        if (dot_eq(ds->rest[i - 1].d, ds->rest[i].d))
            return crdtp_cr_fail_at(r, r->base + ds->rest[i].off,
                                    CRDT_ERR_DECODE);
    return CRDT_OK;
}

static int decode_elems(cr *r, oset *t, dotseen *ds, const crdt_mem *mem)
{
    const uint8_t *prev = NULL, *p, *at;
    size_t prevn = 0, pn, k;
    uint32_t n, i, nd, m;
    crdt_dot one = {0, 0}, dd;
    int rv;

    at = r->p;
    if ((rv = crdtp_cr_array(r, &n)))
        return rv;
    if (n > r->lim.max_elements)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
    for (i = 0; i < n; i++) {
        es_dotlist *l = NULL;
        size_t idx;

        at = r->p;
        if ((rv = crdtp_cr_array(r, &m)))
            return rv;
        if (m != 2)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
        at = r->p;
        if ((rv = crdtp_cr_bin(r, &p, &pn)))
            return rv;
        if (pn > r->lim.max_value_bytes || pn > ES_MAX_LEN)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
        if (prev && crdtp_es_cmp(prev, prevn, p, pn) >= 0)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
        prev = p;
        prevn = pn;
        at = r->p;
        if ((rv = crdtp_cr_array(r, &nd)))
            return rv;
        if (nd == 0)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
        if (nd > r->lim.max_elements)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
        if (nd >= 2 && !(l = crdtp_es_dotlist_new(mem, nd)))
            return crdtp_cr_fail(r, CRDT_ERR_NOMEM);
        for (k = 0; k < nd; k++) {
            at = r->p;
            if ((rv = crdtp_cr_array(r, &m)) ||
                (m != 2 && (rv = crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE))) ||
                (rv = cr_uint(r, &dd.actor)) ||
                (rv = cr_uint(r, &dd.counter)))
                goto bad;
            if (k > 0 && !dot_lt(l ? l->d[k - 1] : one, dd)) {
                rv = crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
                goto bad;
            }
            /* in the context, and under no other element */
            if ((rv = dotseen_add(ds, &t->ctx, dd, (size_t)(at - r->base),
                                  mem))) {
                rv = crdtp_cr_fail_at(r, at, rv);
                goto bad;
            }
            if (l)
                l->d[k] = dd;
            else
                one = dd;
        }
        if ((rv = crdtp_es_reserve(&t->es, mem, 1, pn))) {
            rv = crdtp_cr_fail(r, rv);
            goto bad;
        }
        idx = crdtp_es_push(&t->es, p, pn, crdtp_shorthash(&t->es, p, pn));
        crdtp_es_set_dots(&t->es, mem, idx, &one, l, nd);
        continue;
bad:
        crdtp_free(mem, l);
        return rv;
    }
    return dotseen_finish(ds, r);
}

static int decode_body(cr *r, oset *t, const crdt_mem *mem)
{
    size_t left;
    dotseen ds;
    int rv;

    if ((rv = crdtp_dotctx_decode_body(r, &t->ctx, mem)))
        return rv;
    /* 8 bits of bitmap per input byte left: memory <= the input's size */
    left = (size_t)(r->end - r->p);
    if ((rv = dotseen_init(&ds, &t->ctx.vv,
                           left > SIZE_MAX / 8 ? SIZE_MAX : 8 * left, mem)))
        rv = crdtp_cr_fail(r, rv);
    else
        rv = decode_elems(r, t, &ds, mem);
    dotseen_clear(&ds, mem);
    return rv;
}

static inline void dec_init(void *tmp, const void *dst)
{
    oset_init_like(tmp, &((const crdt_orset *)dst)->s.es);
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    (void)nbody;
    return decode_body(r, tmp, &((const crdt_orset *)dst)->mem);
}

static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    crdt_orset *s = dst;

    (void)r;
    oset_clear(&s->s, &s->mem);
    s->s = *(oset *)tmp;
    oset_init_like(tmp, &s->s.es);
    return CRDT_OK;
}

static inline void dec_clear(void *tmp, const void *dst)
{
    oset_clear(tmp, &((const crdt_orset *)dst)->mem);
}

static const crdtp_decoder orset_decoder = {
    .tag = CRDT_TAG_ORSET, .nbody = CRDTP_NBODY(3), .init = dec_init,
    .body = dec_body, .commit = dec_commit, .clear = dec_clear,
};

int crdt_orset_decode(crdt_orset *dst, const uint8_t *data, size_t len,
                      const crdt_limits *lim, crdt_decode_info *info)
{
    oset tmp;

    return crdtp_decode(&orset_decoder, dst, &tmp, data, len, lim, 0, info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_orset_new(mem);
}

static void vt_destroy(void *obj)
{
    crdt_orset_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_orset_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_orset_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_orset_merge(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_orset_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_orset_decode(dst, data, len, lim, info);
}

static const crdt_type orset_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_ORSET, "orset", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_orset_type(void)
{
    return &orset_type;
}

/* ======================================================================
 * Dot store (for OR-maps)
 * ====================================================================== */

static dotctx *ds_ctx(void *obj)
{
    return &((crdt_orset *)obj)->s.ctx;
}

static int ds_dots(const void *obj, crdtp_dotbuf *b, const crdt_mem *mem)
{
    const elemset *es = &((const crdt_orset *)obj)->s.es;
    size_t i, k, n;
    int rv;

    for (i = 0; i < es->n; i++) {
        const crdt_dot *d = crdtp_es_dots(es, i, &n);

        for (k = 0; k < n; k++)
            if ((rv = crdtp_dotbuf_push(b, mem, d[k])))
                return rv;
    }
    return CRDT_OK;
}

const crdtp_dotstore crdtp_orset_dotstore = {ds_ctx, ds_dots};
