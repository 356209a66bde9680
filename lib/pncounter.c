/* SPDX-License-Identifier: MIT */
/*
 * Positive-negative counters: two gctrs (gcounter_internal.h), P for the
 * increments and N for the decrements, each an avec plus the exact sum of
 * its counts, so the value is O(1).
 *
 * Invariants: each gctr's own (total == sum <= UINT64_MAX).  A mutation
 * touches one half of the counter and the same half of the delta, through
 * crdtp_gctr_add, which checks and reserves before it commits.  Operations
 * on both halves do everything fallible for both first: merge prepares N
 * (overflow check, reservation), merges P (fails without change), then
 * commits N, which cannot fail; copy reserves both halves, then copies.
 * So every failed call leaves the counter unchanged.
 *
 * Merge cost per half is that of the G-counter: one memcmp and two passes
 * over the counts when the actor sets are equal (no allocation); N pays
 * one more memcmp for the prepare/commit split.  N is skipped entirely
 * when the source has no decrements.
 */
#include "config.h"

#include <crdt/pncounter.h>

#include "avec_internal.h"
#include "codec_internal.h"
#include "gcounter_internal.h"
#include "mem_internal.h"

struct crdt_pncounter {
    gctr p;       /* increments per actor, and their sum */
    gctr n;       /* decrements per actor, and their sum */
    crdt_mem mem; /* allocator of the handle and of both halves */
};

static const gctr empty_gctr;

static const gctr *half_of(const crdt_pncounter *pn, crdt_pncounter_side s)
{
    if (!pn)
        return &empty_gctr;
    switch (s) {
    case CRDT_PNCOUNTER_POS:
        return &pn->p;
    case CRDT_PNCOUNTER_NEG:
        return &pn->n;
    }
    return NULL;
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

crdt_pncounter *crdt_pncounter_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_pncounter *pn;

    crdtp_mem_set(&m, mem);
    pn = crdtp_malloc(&m, sizeof *pn);
    if (!pn)
        return NULL;
    crdtp_gctr_init(&pn->p);
    crdtp_gctr_init(&pn->n);
    pn->mem = m;
    return pn;
}

void crdt_pncounter_free(crdt_pncounter *pn)
{
    crdt_mem m;

    if (!pn)
        return;
    m = pn->mem;
    crdtp_gctr_clear(&pn->p, &m);
    crdtp_gctr_clear(&pn->n, &m);
    crdtp_free(&m, pn);
}

crdt_pncounter *crdt_pncounter_clone(const crdt_pncounter *src)
{
    crdt_pncounter *pn;

    if (!src)
        return NULL;
    pn = crdt_pncounter_new(&src->mem);
    if (pn && crdt_pncounter_copy(pn, src) != CRDT_OK) {
        crdt_pncounter_free(pn);
        return NULL;
    }
    return pn;
}

int crdt_pncounter_copy(crdt_pncounter *dst, const crdt_pncounter *src)
{
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (dst == src)
        return CRDT_OK;
    if ((rv = crdtp_avec_reserve(&dst->p.v, &dst->mem, src->p.v.len)) ||
        (rv = crdtp_avec_reserve(&dst->n.v, &dst->mem, src->n.v.len)))
        return rv;
    /* reserved: neither copy allocates, so neither can fail */
    (void)crdtp_gctr_copy(&dst->p, &dst->mem, &src->p);
    (void)crdtp_gctr_copy(&dst->n, &dst->mem, &src->n);
    return CRDT_OK;
}

/* ======================================================================
 * Queries
 * ====================================================================== */

int crdt_pncounter_value(const crdt_pncounter *pn, int64_t *out)
{
    uint64_t p, n, d;

    if (!pn || !out)
        return CRDT_ERR_INVALID_ARG;
    p = pn->p.total;
    n = pn->n.total;
    if (p >= n) {
        d = p - n;
        if (d > (uint64_t)INT64_MAX)
            return CRDT_ERR_OVERFLOW;
        *out = (int64_t)d;
    } else {
        d = n - p;
        if (d > (uint64_t)INT64_MAX + 1)
            return CRDT_ERR_OVERFLOW;
        /* -(d - 1) - 1: no signed overflow when d == 2^63 */
        *out = -(int64_t)(d - 1) - 1;
    }
    return CRDT_OK;
}

void crdt_pncounter_totals(const crdt_pncounter *pn, uint64_t *pos,
                           uint64_t *neg)
{
    if (pos)
        *pos = pn ? pn->p.total : 0;
    if (neg)
        *neg = pn ? pn->n.total : 0;
}

void crdt_pncounter_get(const crdt_pncounter *pn, crdt_actor actor,
                        uint64_t *pos, uint64_t *neg)
{
    if (pos)
        *pos = pn ? crdtp_avec_get(&pn->p.v, actor) : 0;
    if (neg)
        *neg = pn ? crdtp_avec_get(&pn->n.v, actor) : 0;
}

size_t crdt_pncounter_size(const crdt_pncounter *pn, crdt_pncounter_side side)
{
    const gctr *h = half_of(pn, side);

    return h ? h->v.len : 0;
}

int crdt_pncounter_entry(const crdt_pncounter *pn, crdt_pncounter_side side,
                         size_t i, crdt_actor *actor, uint64_t *count)
{
    const gctr *h = pn ? half_of(pn, side) : NULL;

    if (!h)
        return CRDT_ERR_INVALID_ARG;
    if (i >= h->v.len)
        return CRDT_ERR_NOT_FOUND;
    if (actor)
        *actor = h->v.actors[i];
    if (count)
        *count = h->v.counts[i];
    return CRDT_OK;
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

int crdt_pncounter_increment(crdt_pncounter *pn, crdt_actor actor,
                             uint64_t by, crdt_pncounter *delta)
{
    if (!pn || delta == pn)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_gctr_add(&pn->p, &pn->mem, actor, by,
                          delta ? &delta->p : NULL,
                          delta ? &delta->mem : NULL);
}

int crdt_pncounter_decrement(crdt_pncounter *pn, crdt_actor actor,
                             uint64_t by, crdt_pncounter *delta)
{
    if (!pn || delta == pn)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_gctr_add(&pn->n, &pn->mem, actor, by,
                          delta ? &delta->n : NULL,
                          delta ? &delta->mem : NULL);
}

/* ======================================================================
 * Merge and equality
 * ====================================================================== */

int crdt_pncounter_merge(crdt_pncounter *dst, const crdt_pncounter *src)
{
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (dst == src)
        return CRDT_OK;
    /* common case: both halves merge in place and cannot fail */
    if (crdtp_gctr_merge_is_trivial(&dst->p, &src->p) &&
        crdtp_gctr_merge_is_trivial(&dst->n, &src->n)) {
        dst->p.total = crdtp_avec_max_sum_same(&dst->p.v, &src->p.v);
        dst->n.total = crdtp_avec_max_sum_same(&dst->n.v, &src->n.v);
        return CRDT_OK;
    }
    /* every failure mode of both halves first, then the infallible rest */
    if ((rv = crdtp_gctr_merge_prepare(&dst->p, &dst->mem, &src->p)) ||
        (rv = crdtp_gctr_merge_prepare(&dst->n, &dst->mem, &src->n)))
        return rv;
    crdtp_gctr_merge_commit(&dst->p, &dst->mem, &src->p);
    crdtp_gctr_merge_commit(&dst->n, &dst->mem, &src->n);
    return CRDT_OK;
}

bool crdt_pncounter_equal(const crdt_pncounter *a, const crdt_pncounter *b)
{
    const gctr *ap = half_of(a, CRDT_PNCOUNTER_POS);
    const gctr *an = half_of(a, CRDT_PNCOUNTER_NEG);
    const gctr *bp = half_of(b, CRDT_PNCOUNTER_POS);
    const gctr *bn = half_of(b, CRDT_PNCOUNTER_NEG);

    return ap->total == bp->total && an->total == bn->total &&
           crdtp_gctr_equal(ap, bp) && crdtp_gctr_equal(an, bn);
}

/* ======================================================================
 * Codec
 * ====================================================================== */

int crdt_pncounter_encode(const crdt_pncounter *pn, crdt_buf *out)
{
    cw w;

    if (!pn || !out)
        return CRDT_ERR_INVALID_ARG;
    cw_begin(&w, out, CRDT_TAG_PNCOUNTER, 2);
    crdtp_avec_encode(&w, &pn->p.v);
    crdtp_avec_encode(&w, &pn->n.v);
    return cw_end(&w);
}

/* The decoder's temporary: both halves, committed together. */
typedef struct pn_tmp {
    gctr p, n;
} pn_tmp;

static inline void dec_init(void *tmp, const void *dst)
{
    pn_tmp *t = tmp;

    (void)dst;
    crdtp_gctr_init(&t->p);
    crdtp_gctr_init(&t->n);
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    const crdt_mem *mem = &((const crdt_pncounter *)dst)->mem;
    pn_tmp *t = tmp;
    int rv;

    (void)nbody;
    if ((rv = crdtp_gctr_decode(r, &t->p, mem)))
        return rv;
    return crdtp_gctr_decode(r, &t->n, mem);
}

static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    crdt_pncounter *pn = dst;
    pn_tmp *t = tmp;

    (void)r;
    crdtp_gctr_swap(&pn->p, &t->p);
    crdtp_gctr_swap(&pn->n, &t->n);
    return CRDT_OK;
}

static inline void dec_clear(void *tmp, const void *dst)
{
    const crdt_mem *mem = &((const crdt_pncounter *)dst)->mem;
    pn_tmp *t = tmp;

    crdtp_gctr_clear(&t->p, mem);
    crdtp_gctr_clear(&t->n, mem);
}

static const crdtp_decoder pncounter_decoder = {
    .tag = CRDT_TAG_PNCOUNTER, .nbody = CRDTP_NBODY(2), .init = dec_init,
    .body = dec_body, .commit = dec_commit, .clear = dec_clear,
};

int crdt_pncounter_decode(crdt_pncounter *dst, const uint8_t *data,
                          size_t len, const crdt_limits *lim,
                          crdt_decode_info *info)
{
    pn_tmp tmp;

    return crdtp_decode(&pncounter_decoder, dst, &tmp, data, len, lim, 0,
                        info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_pncounter_new(mem);
}

static void vt_destroy(void *obj)
{
    crdt_pncounter_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_pncounter_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_pncounter_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_pncounter_merge(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_pncounter_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_pncounter_decode(dst, data, len, lim, info);
}

static const crdt_type pncounter_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_PNCOUNTER, "pncounter", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_pncounter_type(void)
{
    return &pncounter_type;
}
