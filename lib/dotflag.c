/* SPDX-License-Identifier: MIT */
/*
 * The dot-set kernel of the flags (see dotflag_internal.h for the
 * representation).  Merge is the dot-store join: a dot survives iff it is
 * in both sets, or in one and not in the other's context; it writes the
 * result into the spare tail of dst's array and moves it to the front, so
 * a merge allocates only when dst lacks room.  Mutators with a delta
 * prepare the delta's merge and reserve the flag's own change before they
 * commit either, so a failed call changes nothing.
 */
#include "config.h"

#include <string.h>

#include "dotflag_internal.h"
#include "dotstore_internal.h"
#include "mem_internal.h"

/* Smallest encoded dot: 0x92, actor, counter. */
#define DOT_MIN_BYTES 3u
#define DOT_MAX_BYTES (1u + 2u * CW_UINT_MAX)

static inline bool dot_lt(crdt_dot x, crdt_dot y)
{
    return x.actor < y.actor || (x.actor == y.actor && x.counter < y.counter);
}

static int dots_reserve(dflag *f, size_t n)
{
    crdt_dot *p;
    size_t cap;

    if (n <= f->cap)
        return CRDT_OK;
    cap = crdtp_grow_cap(f->cap, n);
    p = crdtp_realloc_array(&f->mem, f->dots, cap, sizeof *p);
    if (!p)
        return CRDT_ERR_NOMEM;
    f->dots = p;
    f->cap = cap;
    return CRDT_OK;
}

void crdtp_dflag_init(dflag *f, const crdt_mem *mem)
{
    f->dots = NULL;
    f->n = 0;
    f->cap = 0;
    crdtp_dotctx_init(&f->ctx);
    crdtp_mem_set(&f->mem, mem);
}

void crdtp_dflag_clear(dflag *f)
{
    crdtp_free(&f->mem, f->dots);
    f->dots = NULL;
    f->n = 0;
    f->cap = 0;
    crdtp_dotctx_clear(&f->ctx, &f->mem);
}

int crdtp_dflag_copy(dflag *dst, const dflag *src)
{
    int rv;

    if (dst == src)
        return CRDT_OK;
    if ((rv = dots_reserve(dst, src->n)))
        return rv;
    if ((rv = crdtp_dotctx_copy(&dst->ctx, &dst->mem, &src->ctx)))
        return rv;
    if (src->n)
        memcpy(dst->dots, src->dots, src->n * sizeof *src->dots);
    dst->n = src->n;
    return CRDT_OK;
}

bool crdtp_dflag_equal(const dflag *a, const dflag *b)
{
    if (a == b)
        return true;
    return a->n == b->n &&
           (a->n == 0 ||
            memcmp(a->dots, b->dots, a->n * sizeof *a->dots) == 0) &&
           crdtp_dotctx_equal(&a->ctx, &b->ctx);
}

/* ======================================================================
 * Merge in two steps
 * ====================================================================== */

/* Reserves everything and writes the result to dst->dots[n, n + *out). */
static int merge_prepare(dflag *dst, const dflag *src, size_t *out)
{
    const crdt_dot *a, *b = src->dots;
    size_t na = dst->n, nb = src->n, i = 0, j = 0, k = 0;
    crdt_dot *o;
    int rv;

    if (na > (SIZE_MAX / sizeof(crdt_dot) - nb) / 2)
        return CRDT_ERR_NOMEM;
    if ((rv = dots_reserve(dst, 2 * na + nb)))
        return rv;
    if ((rv = crdtp_dotctx_join_prepare(&dst->ctx, &dst->mem, &src->ctx)))
        return rv;
    a = dst->dots;
    o = dst->dots + na;
    while (i < na || j < nb) {
        if (j == nb || (i < na && dot_lt(a[i], b[j]))) {
            if (!crdtp_dotctx_contains(&src->ctx, a[i].actor, a[i].counter))
                o[k++] = a[i];
            i++;
        } else if (i == na || dot_lt(b[j], a[i])) {
            if (!crdtp_dotctx_contains(&dst->ctx, b[j].actor, b[j].counter))
                o[k++] = b[j];
            j++;
        } else {
            o[k++] = a[i];
            i++;
            j++;
        }
    }
    *out = k;
    return CRDT_OK;
}

static void merge_commit(dflag *dst, const dflag *src, size_t k)
{
    if (k)
        memmove(dst->dots, dst->dots + dst->n, k * sizeof *dst->dots);
    dst->n = k;
    crdtp_dotctx_join_apply(&dst->ctx, &dst->mem, &src->ctx);
}

int crdtp_dflag_merge(dflag *dst, const dflag *src)
{
    size_t k;
    int rv;

    if (dst == src)
        return CRDT_OK;
    if ((rv = merge_prepare(dst, src, &k)))
        return rv;
    merge_commit(dst, src, k);
    return CRDT_OK;
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

/* Add (with_add: a new dot of actor a) or remove, atomically. */
static int mutate(dflag *f, bool with_add, crdt_actor a, dflag *delta)
{
    dflag t;
    crdt_dot d = {0, 0};
    size_t i, k = 0;
    uint64_t m;
    int rv = CRDT_OK;

    if (!with_add && f->n == 0)
        return CRDT_OK;
    if (with_add) {
        m = crdtp_dotctx_vv_get(&f->ctx, a);
        for (i = 0; i < f->ctx.ncloud; i++) {
            if (f->ctx.cloud[i].actor == a && f->ctx.cloud[i].counter > m)
                m = f->ctx.cloud[i].counter;
        }
        if (m == UINT64_MAX)
            return CRDT_ERR_OVERFLOW;
        d.actor = a;
        d.counter = m + 1;
    }
    crdtp_dflag_init(&t, &f->mem);
    if (delta) {
        /* the delta: {d}, context {d} + the superseded dots */
        for (i = 0; i < f->n && rv == CRDT_OK; i++)
            rv = crdtp_dotctx_add_unfolded(&t.ctx, &t.mem, f->dots[i]);
        if (rv == CRDT_OK && with_add) {
            rv = crdtp_dotctx_add_unfolded(&t.ctx, &t.mem, d);
            if (rv == CRDT_OK && (rv = dots_reserve(&t, 1)) == CRDT_OK)
                t.dots[t.n++] = d;
        }
        if (rv)
            goto out;
        crdtp_dotctx_compact(&t.ctx);
        if ((rv = merge_prepare(delta, &t, &k)))
            goto out;
    }
    if (with_add) {
        if ((rv = dots_reserve(f, 1)))
            goto out;
        if ((rv = crdtp_dotctx_add(&f->ctx, &f->mem, d)))
            goto out;
        f->dots[0] = d;
    }
    f->n = with_add ? 1 : 0;
    if (delta)
        merge_commit(delta, &t, k);
out:
    crdtp_dflag_clear(&t);
    return rv;
}

int crdtp_dflag_add(dflag *f, crdt_actor a, dflag *delta)
{
    return mutate(f, true, a, delta);
}

int crdtp_dflag_rmv(dflag *f, dflag *delta)
{
    return mutate(f, false, 0, delta);
}

/* ======================================================================
 * Codec
 * ====================================================================== */

int crdtp_dflag_encode(const dflag *f, uint32_t tag, crdt_buf *out)
{
    cw w;
    size_t i;

    if (f->ctx.dirty)
        return CRDT_ERR_INVALID_ARG;
    cw_begin(&w, out, tag, 3);
    crdtp_dotctx_encode_body(&w, &f->ctx);
    cw_reserve(&w, 5 + f->n * DOT_MAX_BYTES);
    cw_array(&w, f->n);
    for (i = 0; i < f->n; i++) {
        cw_array(&w, 2);
        cw_uint(&w, f->dots[i].actor);
        cw_uint(&w, f->dots[i].counter);
    }
    return cw_end(&w);
}

static int decode_dots(cr *r, dflag *t)
{
    const uint8_t *at = r->p;
    uint32_t n, k, i;
    int rv;

    if ((rv = crdtp_cr_array(r, &n)))
        return rv;
    if (n > r->lim.max_elements)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
    if (n > cr_left(r) / DOT_MIN_BYTES)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
    if (n && (rv = dots_reserve(t, n)))
        return crdtp_cr_fail_at(r, at, rv);
    for (i = 0; i < n; i++) {
        const uint8_t *dat = r->p, *cat;
        crdt_dot d;

        if ((rv = crdtp_cr_array(r, &k)))
            return rv;
        if (k != 2)
            return crdtp_cr_fail_at(r, dat, CRDT_ERR_DECODE);
        if ((rv = cr_uint(r, &d.actor)))
            return rv;
        cat = r->p;
        if ((rv = cr_uint(r, &d.counter)))
            return rv;
        if (d.counter == 0)
            return crdtp_cr_fail_at(r, cat, CRDT_ERR_DECODE);
        if (i > 0 && !dot_lt(t->dots[i - 1], d))
            return crdtp_cr_fail_at(r, dat, CRDT_ERR_DECODE);
        if (!crdtp_dotctx_contains(&t->ctx, d.actor, d.counter))
            return crdtp_cr_fail_at(r, dat, CRDT_ERR_DECODE);
        t->dots[i] = d;
        t->n = i + 1;
    }
    return CRDT_OK;
}

static inline void dec_init(void *tmp, const void *dst)
{
    crdtp_dflag_init(tmp, &((const dflag *)dst)->mem);
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    dflag *t = tmp;
    int rv;

    (void)dst, (void)nbody;
    if ((rv = crdtp_dotctx_decode_body(r, &t->ctx, &t->mem)))
        return rv;
    return decode_dots(r, t);
}

static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    dflag old = *(dflag *)dst;

    (void)r;
    *(dflag *)dst = *(dflag *)tmp;
    *(dflag *)tmp = old;
    return CRDT_OK;
}

static inline void dec_clear(void *tmp, const void *dst)
{
    (void)dst;
    crdtp_dflag_clear(tmp);
}

int crdtp_dflag_decode(dflag *dst, uint32_t tag, const uint8_t *data,
                       size_t len, const crdt_limits *lim,
                       crdt_decode_info *info)
{
    const crdtp_decoder d = {
        .tag = tag, .nbody = CRDTP_NBODY(3), .init = dec_init,
        .body = dec_body, .commit = dec_commit, .clear = dec_clear,
    };
    dflag tmp;

    return crdtp_decode(&d, dst, &tmp, data, len, lim, 0, info);
}

/* ======================================================================
 * Dot store (for OR-maps): both flag structs are a dflag and nothing
 * else, so a pointer to either is a pointer to its dflag.
 * ====================================================================== */

static dotctx *ds_ctx(void *obj)
{
    return &((dflag *)obj)->ctx;
}

static int ds_dots(const void *obj, crdtp_dotbuf *b, const crdt_mem *mem)
{
    const dflag *f = obj;
    size_t i;
    int rv;

    for (i = 0; i < f->n; i++)
        if ((rv = crdtp_dotbuf_push(b, mem, f->dots[i])))
            return rv;
    return CRDT_OK;
}

const crdtp_dotstore crdtp_dflag_dotstore = {ds_ctx, ds_dots};
