/* SPDX-License-Identifier: MIT */
/*
 * Version vectors: a thin public face over avec (avec_internal.h), which
 * holds the representation, invariants and the merge/compare hot paths.
 */
#include "config.h"

#include <crdt/vclock.h>

#include "avec_internal.h"
#include "codec_internal.h"
#include "mem_internal.h"

struct crdt_vclock {
    avec v;
    crdt_mem mem;
};

static const avec empty_avec;

static const avec *vec_of(const crdt_vclock *vc)
{
    return vc ? &vc->v : &empty_avec;
}

const char *crdt_order_name(crdt_order o)
{
    switch (o) {
    case CRDT_EQUAL:
        return "equal";
    case CRDT_AFTER:
        return "after";
    case CRDT_BEFORE:
        return "before";
    case CRDT_CONCURRENT:
        return "concurrent";
    }
    return NULL;
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

crdt_vclock *crdt_vclock_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_vclock *vc;

    crdtp_mem_set(&m, mem);
    vc = crdtp_malloc(&m, sizeof *vc);
    if (!vc)
        return NULL;
    crdtp_avec_init(&vc->v);
    vc->mem = m;
    return vc;
}

void crdt_vclock_free(crdt_vclock *vc)
{
    crdt_mem m;

    if (!vc)
        return;
    m = vc->mem;
    crdtp_avec_clear(&vc->v, &m);
    crdtp_free(&m, vc);
}

crdt_vclock *crdt_vclock_clone(const crdt_vclock *src)
{
    crdt_vclock *vc;

    if (!src)
        return NULL;
    vc = crdt_vclock_new(&src->mem);
    if (vc && crdtp_avec_copy(&vc->v, &vc->mem, &src->v) != CRDT_OK) {
        crdt_vclock_free(vc);
        return NULL;
    }
    return vc;
}

int crdt_vclock_copy(crdt_vclock *dst, const crdt_vclock *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_avec_copy(&dst->v, &dst->mem, &src->v);
}

/* ======================================================================
 * Queries
 * ====================================================================== */

uint64_t crdt_vclock_get(const crdt_vclock *vc, crdt_actor actor)
{
    return crdtp_avec_get(vec_of(vc), actor);
}

size_t crdt_vclock_size(const crdt_vclock *vc)
{
    return vec_of(vc)->len;
}

int crdt_vclock_entry(const crdt_vclock *vc, size_t i, crdt_actor *actor,
                      uint64_t *counter)
{
    if (!vc)
        return CRDT_ERR_INVALID_ARG;
    if (i >= vc->v.len)
        return CRDT_ERR_NOT_FOUND;
    if (actor)
        *actor = vc->v.actors[i];
    if (counter)
        *counter = vc->v.counts[i];
    return CRDT_OK;
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

int crdt_vclock_set(crdt_vclock *vc, crdt_actor actor, uint64_t counter)
{
    if (!vc)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_avec_set(&vc->v, &vc->mem, actor, counter);
}

int crdt_vclock_increment(crdt_vclock *vc, crdt_actor actor, uint64_t *out)
{
    uint64_t c;
    int rv;

    if (!vc)
        return CRDT_ERR_INVALID_ARG;
    c = crdtp_avec_get(&vc->v, actor);
    if (c == UINT64_MAX)
        return CRDT_ERR_OVERFLOW;
    if ((rv = crdtp_avec_set(&vc->v, &vc->mem, actor, c + 1)))
        return rv;
    if (out)
        *out = c + 1;
    return CRDT_OK;
}

/* ======================================================================
 * Merge and order
 * ====================================================================== */

int crdt_vclock_merge(crdt_vclock *dst, const crdt_vclock *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_avec_merge(&dst->v, &dst->mem, &src->v);
}

crdt_order crdt_vclock_compare(const crdt_vclock *a, const crdt_vclock *b)
{
    /* AVEC_GT/AVEC_LT are the bits of CRDT_AFTER/CRDT_BEFORE. */
    return (crdt_order)crdtp_avec_compare(vec_of(a), vec_of(b));
}

bool crdt_vclock_equal(const crdt_vclock *a, const crdt_vclock *b)
{
    return crdtp_avec_equal(vec_of(a), vec_of(b));
}

bool crdt_vclock_dominates(const crdt_vclock *a, const crdt_vclock *b)
{
    return (crdtp_avec_compare(vec_of(a), vec_of(b)) & AVEC_LT) == 0;
}

bool crdt_vclock_concurrent(const crdt_vclock *a, const crdt_vclock *b)
{
    return crdtp_avec_compare(vec_of(a), vec_of(b)) == AVEC_CONC;
}

bool crdt_vclock_can_deliver(const crdt_vclock *local, const crdt_vclock *msg,
                             crdt_actor sender)
{
    const avec *l = vec_of(local), *m = vec_of(msg);
    size_t i = 0, j;
    bool seen_sender = false;

    for (j = 0; j < m->len; j++) {
        crdt_actor a = m->actors[j];
        uint64_t have;

        while (i < l->len && l->actors[i] < a)
            i++;
        have = (i < l->len && l->actors[i] == a) ? l->counts[i] : 0;
        if (a == sender) {
            if (have == UINT64_MAX || m->counts[j] != have + 1)
                return false;
            seen_sender = true;
        } else if (m->counts[j] > have) {
            return false;
        }
    }
    return seen_sender; /* msg[sender] == 0 can never be "next" */
}

/* ======================================================================
 * Codec
 * ====================================================================== */

int crdt_vclock_encode(const crdt_vclock *vc, crdt_buf *out)
{
    cw w;

    if (!vc || !out)
        return CRDT_ERR_INVALID_ARG;
    cw_begin(&w, out, CRDT_TAG_VCLOCK, 1);
    crdtp_avec_encode(&w, &vc->v);
    return cw_end(&w);
}

static inline void dec_init(void *tmp, const void *dst)
{
    (void)dst;
    crdtp_avec_init(tmp);
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    (void)nbody;
    return crdtp_avec_decode(r, tmp, &((const crdt_vclock *)dst)->mem);
}

static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    (void)r;
    crdtp_avec_swap(&((crdt_vclock *)dst)->v, tmp);
    return CRDT_OK;
}

static inline void dec_clear(void *tmp, const void *dst)
{
    crdtp_avec_clear(tmp, &((const crdt_vclock *)dst)->mem);
}

static const crdtp_decoder vclock_decoder = {
    .tag = CRDT_TAG_VCLOCK, .nbody = CRDTP_NBODY(1), .init = dec_init,
    .body = dec_body, .commit = dec_commit, .clear = dec_clear,
};

int crdt_vclock_decode(crdt_vclock *dst, const uint8_t *data, size_t len,
                       const crdt_limits *lim, crdt_decode_info *info)
{
    avec tmp;

    return crdtp_decode(&vclock_decoder, dst, &tmp, data, len, lim, 0, info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_vclock_new(mem);
}

static void vt_destroy(void *obj)
{
    crdt_vclock_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_vclock_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_vclock_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_vclock_merge(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_vclock_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_vclock_decode(dst, data, len, lim, info);
}

static const crdt_type vclock_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_VCLOCK, "vclock", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_vclock_type(void)
{
    return &vclock_type;
}
