/* SPDX-License-Identifier: MIT */
/*
 * Last-writer-wins register (see crdt/lww.h for the order of writes and
 * the wire format).
 *
 * Tuned for merge: replicas exchange registers far more often than they
 * write, and most values are small (ids, flags, short strings).  So the
 * fields merge compares come first, values of up to CRDT_LWW_INLINE_BYTES
 * live inside the struct, and merging an inline value is three word stores
 * and one fixed-size 16-byte copy, with no allocation and no branch on the
 * value length beyond one compare.
 *
 * Representation and invariants:
 *  - has == false: empty register; then ts == 0, actor == 0, len == 0.
 *  - the value is inl[0..len) when len <= CRDT_LWW_INLINE_BYTES, else
 *    heap[0..len) with len <= heap_cap;
 *  - inl is always fully initialised, so it may be copied whole;
 *  - heap (heap_cap bytes, or NULL) outlives values that no longer use it
 *    and is reused by the next long value that fits; crdt_lww_free
 *    releases it.
 *
 * Atomicity: every mutation first obtains whatever block it needs (the
 * only step that can fail), then commits with stores that cannot fail,
 * and frees a replaced block last, so a value may even be written from a
 * pointer into the register's own storage.
 */
#include "config.h"

#include <string.h>

#include <crdt/lww.h>

#include "codec_internal.h"
#include "hlc_internal.h"
#include "mem_internal.h"

#define INLINE CRDT_LWW_INLINE_BYTES

struct crdt_lww {
    uint64_t ts;       /* timestamp of the write held; 0 when empty */
    crdt_actor actor;  /* its actor; 0 when empty */
    size_t len;        /* value bytes; 0 when empty */
    bool has;          /* holds a write */
    uint8_t inl[INLINE]; /* the value when len <= INLINE */
    uint8_t *heap;     /* block for longer values, kept for reuse; or NULL */
    size_t heap_cap;   /* bytes at heap */
    crdt_mem mem;      /* allocator of the struct and heap */
};

/* ======================================================================
 * Helpers
 * ====================================================================== */

static const uint8_t *val_of(const crdt_lww *r)
{
    return r->len <= INLINE ? r->inl : r->heap;
}

static void make_empty(crdt_lww *r)
{
    r->ts = 0;
    r->actor = 0;
    r->len = 0;
    r->has = false;
}

/* memcmp over the common length, then the shorter orders first. */
static int cmp_bytes(const uint8_t *a, size_t la, const uint8_t *b,
                     size_t lb)
{
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(a, b, n) : 0;

    if (c)
        return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

/* Orders the write held by r (empty = bottom) against the write
 * (ts, actor, p[0..len)). */
static int cmp_write(const crdt_lww *r, uint64_t ts, crdt_actor actor,
                     const uint8_t *p, size_t len)
{
    if (!r->has)
        return -1;
    if (r->ts != ts)
        return r->ts < ts ? -1 : 1;
    if (r->actor != actor)
        return r->actor < actor ? -1 : 1;
    return cmp_bytes(val_of(r), r->len, p, len);
}

/* True iff p points into r's value storage (inl or heap). */
static bool within(const void *p, const crdt_lww *r)
{
    uintptr_t x = (uintptr_t)p, i = (uintptr_t)r->inl;
    uintptr_t h = (uintptr_t)r->heap;

    if (!p)
        return false;
    return (x >= i && x - i < INLINE) ||
           (r->heap && x >= h && x - h < r->heap_cap);
}

/* Obtains storage for a value of len bytes in r: *blk stays NULL when r
 * can hold it already (inline, or in its current block), else is a new
 * block of len bytes for assign() (or for the caller to free). */
static int prepare(const crdt_lww *r, size_t len, uint8_t **blk)
{
    *blk = NULL;
    if (len <= INLINE || len <= r->heap_cap)
        return CRDT_OK;
    *blk = crdtp_malloc(&r->mem, len);
    return *blk ? CRDT_OK : CRDT_ERR_NOMEM;
}

/* Commits a write into r, using blk from prepare(); cannot fail.  Returns
 * the block blk replaced, for the caller to free once p is no longer
 * needed (p may point into r's or another register's storage). */
static uint8_t *assign(crdt_lww *r, uint8_t *blk, uint64_t ts,
                       crdt_actor actor, const uint8_t *p, size_t len)
{
    uint8_t *old = NULL;

    if (blk) {
        memcpy(blk, p, len); /* a fresh block overlaps nothing */
        old = r->heap;
        r->heap = blk;
        r->heap_cap = len;
    } else if (len) {
        memmove(len <= INLINE ? r->inl : r->heap, p, len);
    }
    r->ts = ts;
    r->actor = actor;
    r->len = len;
    r->has = true;
    return old;
}

/* Writes (ts, actor, p[0..len)) into reg, which it supersedes, and joins
 * it into delta (if any); atomic. */
static int apply(crdt_lww *reg, crdt_lww *delta, uint64_t ts,
                 crdt_actor actor, const uint8_t *p, size_t len)
{
    uint8_t *rb, *db = NULL, *old_r, *old_d = NULL;
    bool to_delta = delta && cmp_write(delta, ts, actor, p, len) < 0;
    int rv;

    if ((rv = prepare(reg, len, &rb)))
        return rv;
    if (to_delta && (rv = prepare(delta, len, &db))) {
        crdtp_free(&reg->mem, rb);
        return rv;
    }
    /* If p lies in reg's storage, copy it to delta before overwriting. */
    if (within(p, reg)) {
        if (to_delta)
            old_d = assign(delta, db, ts, actor, p, len);
        old_r = assign(reg, rb, ts, actor, p, len);
    } else {
        old_r = assign(reg, rb, ts, actor, p, len);
        if (to_delta)
            old_d = assign(delta, db, ts, actor, p, len);
    }
    crdtp_free(&reg->mem, old_r);
    if (delta)
        crdtp_free(&delta->mem, old_d);
    return CRDT_OK;
}

static bool bad_write_args(const crdt_lww *reg, const void *val, size_t len,
                           const crdt_lww *delta)
{
    return !reg || (!val && len) || delta == reg ||
           (uint64_t)len > CRDT_LWW_MAX_VALUE_BYTES;
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

size_t crdt_lww_max_value_bytes(void)
{
    return CRDT_LWW_MAX_VALUE_BYTES;
}

crdt_lww *crdt_lww_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_lww *r;

    crdtp_mem_set(&m, mem);
    r = crdtp_malloc(&m, sizeof *r);
    if (!r)
        return NULL;
    make_empty(r);
    memset(r->inl, 0, sizeof r->inl);
    r->heap = NULL;
    r->heap_cap = 0;
    r->mem = m;
    return r;
}

void crdt_lww_free(crdt_lww *reg)
{
    crdt_mem m;

    if (!reg)
        return;
    m = reg->mem;
    crdtp_free(&m, reg->heap);
    crdtp_free(&m, reg);
}

crdt_lww *crdt_lww_clone(const crdt_lww *src)
{
    crdt_lww *r;

    if (!src)
        return NULL;
    r = crdt_lww_new(&src->mem);
    if (r && crdt_lww_copy(r, src) != CRDT_OK) {
        crdt_lww_free(r);
        return NULL;
    }
    return r;
}

int crdt_lww_copy(crdt_lww *dst, const crdt_lww *src)
{
    uint8_t *blk;
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (dst == src)
        return CRDT_OK;
    if (!src->has) {
        make_empty(dst);
        return CRDT_OK;
    }
    if ((rv = prepare(dst, src->len, &blk)))
        return rv;
    crdtp_free(&dst->mem,
               assign(dst, blk, src->ts, src->actor, val_of(src), src->len));
    return CRDT_OK;
}

bool crdt_lww_equal(const crdt_lww *a, const crdt_lww *b)
{
    return crdt_lww_compare(a, b) == 0;
}

int crdt_lww_compare(const crdt_lww *a, const crdt_lww *b)
{
    bool ha = a && a->has, hb = b && b->has;

    if (!ha || !hb)
        return (ha > hb) - (ha < hb);
    return cmp_write(a, b->ts, b->actor, val_of(b), b->len);
}

/* ======================================================================
 * Queries
 * ====================================================================== */

bool crdt_lww_has_value(const crdt_lww *reg)
{
    return reg && reg->has;
}

int crdt_lww_value(const crdt_lww *reg, const uint8_t **p, size_t *len)
{
    if (!reg || !p || !len)
        return CRDT_ERR_INVALID_ARG;
    if (!reg->has)
        return CRDT_ERR_NOT_FOUND;
    *p = val_of(reg);
    *len = reg->len;
    return CRDT_OK;
}

uint64_t crdt_lww_timestamp(const crdt_lww *reg)
{
    return reg ? reg->ts : 0;
}

crdt_actor crdt_lww_actor(const crdt_lww *reg)
{
    return reg ? reg->actor : 0;
}

bool crdt_lww_supersedes(const crdt_lww *reg, uint64_t ts, crdt_actor actor,
                         const void *val, size_t len)
{
    if (!reg || (!val && len))
        return false;
    return cmp_write(reg, ts, actor, val, len) < 0;
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

int crdt_lww_set(crdt_lww *reg, uint64_t ts, crdt_actor actor,
                 const void *val, size_t len, crdt_lww *delta)
{
    if (bad_write_args(reg, val, len, delta))
        return CRDT_ERR_INVALID_ARG;
    if (cmp_write(reg, ts, actor, val, len) >= 0)
        return CRDT_OK; /* reg already holds this write or a later one */
    if (!delta && len <= INLINE) {
        /* fast path: cannot fail, touches only reg (val may alias it) */
        if (len)
            memmove(reg->inl, val, len);
        reg->ts = ts;
        reg->actor = actor;
        reg->len = len;
        reg->has = true;
        return CRDT_OK;
    }
    return apply(reg, delta, ts, actor, val, len);
}

int crdt_lww_set_now(crdt_lww *reg, crdt_hlc *hlc, crdt_actor actor,
                     const void *val, size_t len, crdt_lww *delta)
{
    uint64_t ts;
    int rv;

    if (bad_write_args(reg, val, len, delta) || !hlc)
        return CRDT_ERR_INVALID_ARG;
    /* ts > reg->ts, so the write supersedes reg's. */
    if ((rv = crdtp_hlc_next(hlc, reg->has, reg->ts, &ts)))
        return rv;
    if ((rv = apply(reg, delta, ts, actor, val, len)))
        return rv;
    crdtp_hlc_commit(hlc, ts);
    return CRDT_OK;
}

/* ======================================================================
 * Merge
 * ====================================================================== */

int crdt_lww_merge(crdt_lww *dst, const crdt_lww *src)
{
    uint8_t *blk;
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (!src->has)
        return CRDT_OK;
    if (dst->has) {
        if (src->ts != dst->ts) {
            if (src->ts < dst->ts)
                return CRDT_OK;
        } else if (src->actor != dst->actor) {
            if (src->actor < dst->actor)
                return CRDT_OK;
        } else if (cmp_bytes(val_of(src), src->len, val_of(dst),
                             dst->len) <= 0) {
            return CRDT_OK; /* also src == dst */
        }
    }
    if (src->len <= INLINE) {
        dst->ts = src->ts;
        dst->actor = src->actor;
        dst->len = src->len;
        dst->has = true;
        memcpy(dst->inl, src->inl, INLINE);
        return CRDT_OK;
    }
    if ((rv = prepare(dst, src->len, &blk)))
        return rv;
    crdtp_free(&dst->mem,
               assign(dst, blk, src->ts, src->actor, src->heap, src->len));
    return CRDT_OK;
}

/* ======================================================================
 * Codec
 * ====================================================================== */

int crdt_lww_encode(const crdt_lww *reg, crdt_buf *out)
{
    cw w;

    if (!reg || !out)
        return CRDT_ERR_INVALID_ARG;
    cw_begin(&w, out, CRDT_TAG_LWW, reg->has ? 3 : 0);
    if (reg->has) {
        if (reg->len <= SIZE_MAX - (2 * CW_UINT_MAX + 5))
            cw_reserve(&w, 2 * CW_UINT_MAX + 5 + reg->len);
        cw_uint(&w, reg->ts);
        cw_uint(&w, reg->actor);
        cw_bin(&w, val_of(reg), reg->len);
    }
    return cw_end(&w);
}

/* The decoder's temporary: the write read, if the body has one. */
typedef struct lww_tmp {
    uint64_t ts, actor;
    const uint8_t *val; /* the value's bytes, in the input */
    const uint8_t *at;  /* where its bin starts */
    size_t len;
    bool has;
} lww_tmp;

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    lww_tmp *t = tmp;
    int rv;

    (void)dst;
    t->has = nbody == 3;
    if (!t->has)
        return CRDT_OK;
    if ((rv = crdtp_cr_uint(r, &t->ts)) || (rv = crdtp_cr_uint(r, &t->actor)))
        return rv;
    t->at = r->p;
    return crdtp_cr_bin(r, &t->val, &t->len);
}

static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    crdt_lww *reg = dst;
    const lww_tmp *t = tmp;
    uint8_t *blk;
    int rv;

    if (!t->has) {
        make_empty(reg);
        return CRDT_OK;
    }
    if ((rv = prepare(reg, t->len, &blk)))
        return crdtp_cr_fail_at(r, t->at, rv);
    crdtp_free(&reg->mem, assign(reg, blk, t->ts, t->actor, t->val, t->len));
    return CRDT_OK;
}

static const crdtp_decoder lww_decoder = {
    .tag = CRDT_TAG_LWW, .nbody = CRDTP_NBODY(0) | CRDTP_NBODY(3),
    .body = dec_body, .commit = dec_commit,
};

int crdt_lww_decode(crdt_lww *dst, const uint8_t *data, size_t len,
                    const crdt_limits *lim, crdt_decode_info *info)
{
    lww_tmp tmp;

    return crdtp_decode(&lww_decoder, dst, &tmp, data, len, lim, 0, info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_lww_new(mem);
}

static void vt_destroy(void *obj)
{
    crdt_lww_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_lww_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_lww_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_lww_merge(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_lww_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_lww_decode(dst, data, len, lim, info);
}

static const crdt_type lww_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_LWW, "lww", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_lww_type(void)
{
    return &lww_type;
}
