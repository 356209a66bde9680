/* SPDX-License-Identifier: MIT */
/*
 * Grow-only sets: an elemset (elemset_internal.h) without dots.  Every
 * mutation reserves first and then commits steps that cannot fail, so a
 * failed call changes nothing.
 */
#include "config.h"

#include <crdt/gset.h>

#include "codec_internal.h"
#include "elemset_internal.h"
#include "mem_internal.h"

struct crdt_gset {
    elemset es;
    crdt_mem mem;
};

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

crdt_gset *crdt_gset_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_gset *s;

    crdtp_mem_set(&m, mem);
    s = crdtp_malloc(&m, sizeof *s);
    if (!s)
        return NULL;
    if (crdtp_es_init(&s->es, false) != CRDT_OK) {
        crdtp_free(&m, s);
        return NULL;
    }
    s->mem = m;
    return s;
}

void crdt_gset_free(crdt_gset *s)
{
    crdt_mem m;

    if (!s)
        return;
    m = s->mem;
    crdtp_es_clear(&s->es, &m);
    crdtp_free(&m, s);
}

crdt_gset *crdt_gset_clone(const crdt_gset *src)
{
    crdt_gset *s;

    if (!src)
        return NULL;
    s = crdt_gset_new(&src->mem);
    if (s && crdtp_es_copy(&s->es, &s->mem, &src->es) != CRDT_OK) {
        crdt_gset_free(s);
        return NULL;
    }
    return s;
}

int crdt_gset_copy(crdt_gset *dst, const crdt_gset *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_es_copy(&dst->es, &dst->mem, &src->es);
}

/* ======================================================================
 * Queries
 * ====================================================================== */

size_t crdt_gset_size(const crdt_gset *s)
{
    return s ? s->es.n : 0;
}

bool crdt_gset_contains(const crdt_gset *s, const void *elem, size_t len)
{
    if (!s || (!elem && len) || s->es.n == 0)
        return false;
    return crdtp_es_find(&s->es, elem, len,
                         crdtp_shorthash(&s->es, elem, len)) != ES_NONE;
}

int crdt_gset_elem(const crdt_gset *s, size_t i, const uint8_t **elem,
                   size_t *len)
{
    if (!s)
        return CRDT_ERR_INVALID_ARG;
    if (i >= s->es.n)
        return CRDT_ERR_NOT_FOUND;
    if (elem)
        *elem = crdtp_es_bytes(&s->es, i);
    if (len)
        *len = crdtp_es_len(&s->es, i);
    return CRDT_OK;
}

/* ======================================================================
 * Mutators and merge
 * ====================================================================== */

int crdt_gset_add(crdt_gset *s, const void *elem, size_t len,
                  crdt_gset *delta)
{
    uint32_t h, dh = 0;
    bool have, dhave = true, keyed, dkeyed = false;
    int rv;

    if (!s || (!elem && len) || len > ES_MAX_LEN || delta == s)
        return CRDT_ERR_INVALID_ARG;
    h = crdtp_shorthash(&s->es, elem, len);
    have = crdtp_es_find(&s->es, elem, len, h) != ES_NONE;
    keyed = s->es.keyed;
    if (delta) {
        dkeyed = delta->es.keyed;
        dh = crdtp_shorthash(&delta->es, elem, len);
        dhave = crdtp_es_find(&delta->es, elem, len, dh) != ES_NONE;
        if (!dhave && (rv = crdtp_es_reserve(&delta->es, &delta->mem, 1,
                                             len)))
            return rv;
    }
    if (!have && (rv = crdtp_es_reserve(&s->es, &s->mem, 1, len)))
        return rv;
    /* a reserve may have rekeyed (a failure above leaves the delta
     * rekeyed at most: same elements) */
    if (!have)
        crdtp_es_push(&s->es, elem, len,
                      crdtp_es_rehash(&s->es, keyed, elem, len, h));
    if (!dhave)
        crdtp_es_push(&delta->es, elem, len,
                      crdtp_es_rehash(&delta->es, dkeyed, elem, len, dh));
    return CRDT_OK;
}

int crdt_gset_merge(crdt_gset *dst, const crdt_gset *src)
{
    const elemset *b;
    elemset *a;
    size_t i, k = 0, bytes = 0;
    bool same;
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (dst == src || src->es.n == 0)
        return CRDT_OK;
    a = &dst->es;
    b = &src->es;
    same = crdtp_es_same_key(a, b);
    /* count what is missing, reserve, then insert: cannot fail */
    for (i = 0; i < b->n; i++) {
        const uint8_t *p = crdtp_es_bytes(b, i);
        size_t n = crdtp_es_len(b, i);
        uint32_t h = same ? b->ents[i].hash : crdtp_shorthash(a, p, n);

        if (crdtp_es_find(a, p, n, h) == ES_NONE)
            k++, bytes += crdtp_es_abytes(n);
    }
    if (k == 0)
        return CRDT_OK;
    if ((rv = crdtp_es_reserve(a, &dst->mem, k, bytes)))
        return rv;
    same = crdtp_es_same_key(a, b); /* the reserve may have rekeyed a */
    for (i = 0; i < b->n; i++) {
        const uint8_t *p = crdtp_es_bytes(b, i);
        size_t n = crdtp_es_len(b, i);
        uint32_t h = same ? b->ents[i].hash : crdtp_shorthash(a, p, n);

        if (crdtp_es_find(a, p, n, h) == ES_NONE)
            crdtp_es_push(a, p, n, h);
    }
    return CRDT_OK;
}

bool crdt_gset_equal(const crdt_gset *a, const crdt_gset *b)
{
    size_t i;

    if (crdt_gset_size(a) != crdt_gset_size(b))
        return false;
    if (crdt_gset_size(a) == 0 || a == b)
        return true;
    for (i = 0; i < a->es.n; i++)
        if (!crdt_gset_contains(b, crdtp_es_bytes(&a->es, i),
                                crdtp_es_len(&a->es, i)))
            return false;
    return true;
}

/* ======================================================================
 * Codec
 * ====================================================================== */

int crdt_gset_encode(const crdt_gset *s, crdt_buf *out)
{
    uint32_t *perm;
    size_t i;
    cw w;
    int rv;

    if (!s || !out)
        return CRDT_ERR_INVALID_ARG;
    if ((rv = crdtp_es_sorted(&s->es, &s->mem, &perm)))
        return rv;
    cw_begin(&w, out, CRDT_TAG_GSET, 1);
    cw_reserve(&w, 5 + 5 * s->es.n + s->es.alen);
    cw_array(&w, s->es.n);
    for (i = 0; i < s->es.n; i++) {
        const uint8_t *e = crdtp_es_bytes(&s->es, perm[i]);
        size_t len = crdtp_es_len(&s->es, perm[i]);
        uint8_t *p = cw_span(&w, CW_HDR_MAX + len);

        if (p)
            cw_commit(&w, cw_put_bin(p, e, len));
        else
            cw_bin(&w, e, len);
    }
    crdtp_free(&s->mem, perm);
    return cw_end(&w);
}

static inline void dec_init(void *tmp, const void *dst)
{
    elemset *es = tmp;

    *es = ((const crdt_gset *)dst)->es; /* same key and keyed flag */
    es->arena = NULL, es->ents = NULL, es->dots = NULL, es->slots = NULL;
    es->alen = es->acap = es->garbage = es->n = es->cap = es->nslots = 0;
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    const crdt_mem *mem = &((const crdt_gset *)dst)->mem;
    elemset *es = tmp;
    const uint8_t *prev = NULL, *p, *at = r->p;
    size_t prevn = 0, pn;
    uint32_t n, i;
    int rv;

    (void)nbody;
    if ((rv = crdtp_cr_array(r, &n)))
        return rv;
    if (n > r->lim.max_elements)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
    /* crdtp_cr_array checked n against the bytes left (at least one per
     * item; an element takes two), so this reservation is bounded by the
     * input's length */
    if (n && (rv = crdtp_es_reserve(es, mem, n, 0)))
        return crdtp_cr_fail(r, rv);
    for (i = 0; i < n; i++) {
        at = r->p;
        if ((rv = crdtp_cr_bin(r, &p, &pn)))
            return rv;
        if (pn > r->lim.max_value_bytes || pn > ES_MAX_LEN)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
        if (prev && crdtp_es_cmp(prev, prevn, p, pn) >= 0)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
        if ((rv = crdtp_es_reserve(es, mem, 1, pn)))
            return crdtp_cr_fail(r, rv);
        crdtp_es_push(es, p, pn, crdtp_shorthash(es, p, pn));
        prev = p;
        prevn = pn;
    }
    return CRDT_OK;
}

static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    (void)r;
    crdtp_es_swap(&((crdt_gset *)dst)->es, tmp);
    return CRDT_OK;
}

static inline void dec_clear(void *tmp, const void *dst)
{
    crdtp_es_clear(tmp, &((const crdt_gset *)dst)->mem);
}

static const crdtp_decoder gset_decoder = {
    .tag = CRDT_TAG_GSET, .nbody = CRDTP_NBODY(1), .init = dec_init,
    .body = dec_body, .commit = dec_commit, .clear = dec_clear,
};

int crdt_gset_decode(crdt_gset *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    elemset tmp;

    return crdtp_decode(&gset_decoder, dst, &tmp, data, len, lim, 0, info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_gset_new(mem);
}

static void vt_destroy(void *obj)
{
    crdt_gset_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_gset_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_gset_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_gset_merge(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_gset_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_gset_decode(dst, data, len, lim, info);
}

static const crdt_type gset_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_GSET, "gset", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_gset_type(void)
{
    return &gset_type;
}
