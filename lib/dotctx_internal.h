/* SPDX-License-Identifier: MIT */
/*
 * dotctx: the causal context of a dot store, as a value that the
 * observed-remove types (OR-set, MV-register, OR-map, flags) embed in
 * their own structs and drive with their own allocator, like avec.
 *
 * Representation:
 *   vv      an avec (avec_internal.h): actor -> n, all of (actor, 1..n).
 *   cloud   one block of cap dots: [0, ncloud) the cloud, sorted strictly
 *           by (actor, counter); then [ncloud, ncloud + npend) the
 *           pending dots of add_unfolded, in arrival order; the rest is
 *           spare (and the scratch of compaction).
 *
 * Invariants:
 *   clean (dirty == false): npend == 0 and the context is compact: every
 *     cloud dot (a, c) has c > vv[a] + 1.  Equal clean contexts have
 *     equal arrays, so equal, encode and hashing are byte comparisons.
 *   dirty (after add_unfolded): the cloud is still sorted and unique but
 *     may hold dots with c <= vv[a] + 1 (the vector moved past them);
 *     pending dots are arbitrary valid dots; cap >= ncloud + 2 * npend.
 *   always: every dot (a, c) in the cloud or pending list whose actor a
 *     has no vector entry has c >= 2.  So folding only raises existing
 *     entries and compaction never allocates.
 *
 * Users read the fields directly to iterate a clean context: the vector
 * through vv.actors/vv.counts[0, vv.len), the cloud through
 * cloud[0, ncloud).  Mutate only through the functions below.
 *
 * Costs: contains is inline and decides most dots from the vector with a
 * short scan (<= 16 actors) or a binary search; the cloud is searched
 * only for dots beyond vv[a] + 1.  Join is a linear merge, or per-entry
 * binary searches when the source is a small delta.
 */
#ifndef CRDT_DOTCTX_INTERNAL_H
#define CRDT_DOTCTX_INTERNAL_H

#include <crdt/dotctx.h>

#include "avec_internal.h"
#include "codec_internal.h"

typedef struct dotctx {
    avec vv;         /* compact version vector */
    crdt_dot *cloud; /* sorted cloud, then pending dots */
    size_t ncloud;   /* dots in the sorted cloud */
    size_t npend;    /* pending dots after it (dirty only) */
    size_t cap;      /* dots allocated at cloud */
    bool dirty;      /* add_unfolded since the last compaction */
} dotctx;

/* --- lifecycle ---------------------------------------------------------- */

void crdtp_dotctx_init(dotctx *c);
/* Frees the storage and leaves c empty. */
void crdtp_dotctx_clear(dotctx *c, const crdt_mem *mem);
void crdtp_dotctx_swap(dotctx *a, dotctx *b);
/* dst becomes a copy of src (dirty or not); dst unchanged on error. */
int crdtp_dotctx_copy(dotctx *dst, const crdt_mem *mem, const dotctx *src);
/* Copies @p src into the public context @p dst (crdt_ormap_context_copy). */
int crdtp_dotctx_assign(crdt_dotctx *dst, const dotctx *src);

/* --- queries ------------------------------------------------------------ */

/* vv[a], 0 if absent (crdtp_avec_find: no data-dependent branches for
 * the usual handful of replicas). */
static inline uint64_t crdtp_dotctx_vv_get(const dotctx *c, crdt_actor a)
{
    bool found;
    size_t i = crdtp_avec_find(&c->vv, a, &found);

    return found ? c->vv.counts[i] : 0;
}

/* Whether (a, n) is in the cloud or the pending list (ignores vv). */
bool crdtp_dotctx_in_cloud(const dotctx *c, crdt_actor a, uint64_t n);

/* A dot and an input offset, for decoders' checks that no dot is stored
 * twice (under two keys, two elements): sort with crdtp_dot_at_cmp (by
 * dot, then offset) and look for equal neighbours. */
typedef struct crdtp_dot_at {
    crdt_dot d;
    size_t off;
} crdtp_dot_at;
/* qsort comparator of crdtp_dot_at: actor, counter, then offset. */
int crdtp_dot_at_cmp(const void *a, const void *b);
/* Appends (d, off) to the growable array *v of *n entries and room for
 * *cap; unchanged on error (CRDT_ERR_NOMEM). */
int crdtp_dot_at_push(crdtp_dot_at **v, size_t *n, size_t *cap,
                      const crdt_mem *mem, crdt_dot d, size_t off);

/* Whether the dot (a, n) is in c; exact on dirty contexts too. */
static inline bool crdtp_dotctx_contains(const dotctx *c, crdt_actor a,
                                         uint64_t n)
{
    uint64_t v;

    if (n == 0)
        return false;
    v = crdtp_dotctx_vv_get(c, a);
    if (n <= v)
        return true;
    if (c->ncloud == 0 && c->npend == 0)
        return false;
    if (!c->dirty && n == v + 1)
        return false; /* compact: vv[a] + 1 is never in the cloud */
    return crdtp_dotctx_in_cloud(c, a, n);
}

/* A walk over every dot of a clean context: the vector's, actor by
 * actor in counter order, then the cloud's.
 *   crdtp_dotwalk w = crdtp_dotwalk_start(c);
 *   while (crdtp_dotwalk_next(&w, &d)) ... */
typedef struct crdtp_dotwalk {
    const dotctx *c;
    size_t k;   /* vector entry, then vv.len + cloud position */
    uint64_t n; /* the last counter given of vector entry k */
} crdtp_dotwalk;

static inline crdtp_dotwalk crdtp_dotwalk_start(const dotctx *c)
{
    crdtp_dotwalk w = {c, 0, 0};

    return w;
}

static inline bool crdtp_dotwalk_next(crdtp_dotwalk *w, crdt_dot *d)
{
    const dotctx *c = w->c;

    for (; w->k < c->vv.len; w->k++, w->n = 0) {
        if (w->n < c->vv.counts[w->k]) {
            d->actor = c->vv.actors[w->k];
            d->counter = ++w->n;
            return true;
        }
    }
    if (w->k - c->vv.len >= c->ncloud)
        return false;
    *d = c->cloud[w->k++ - c->vv.len];
    return true;
}

/* Largest n with (a, 1..n) all in c; exact on dirty contexts too. */
uint64_t crdtp_dotctx_max(const dotctx *c, crdt_actor a);
/* Same dot sets; exact on dirty contexts too. */
bool crdtp_dotctx_equal(const dotctx *a, const dotctx *b);
/* Set inclusion as AVEC_* bits: AVEC_GT = a has a dot b lacks,
 * AVEC_LT = b has a dot a lacks (the values of crdt_order). */
int crdtp_dotctx_compare(const dotctx *a, const dotctx *b);

/* The dot crdtp_dotctx_next_dot would give actor a, without adding it;
 * exact on dirty contexts too.  CRDT_ERR_OVERFLOW if a's counter is at
 * its maximum. */
int crdtp_dotctx_peek_dot(const dotctx *c, crdt_actor a, crdt_dot *out);

/* --- mutators (each compacts a dirty c first) ---------------------------- */

/* Adds d and folds; c unchanged on error (CRDT_ERR_NOMEM or
 * CRDT_ERR_INVALID_ARG for a zero counter). */
int crdtp_dotctx_add(dotctx *c, const crdt_mem *mem, crdt_dot d);
/* Bulk add without folding (see crdt_dotctx_add_unfolded); c unchanged on
 * error.  Call crdtp_dotctx_compact before encoding or joining c. */
int crdtp_dotctx_add_unfolded(dotctx *c, const crdt_mem *mem, crdt_dot d);
/* Sorts and folds the pending dots; never allocates, cannot fail. */
void crdtp_dotctx_compact(dotctx *c);
/* The next dot of actor a, added to c (see crdt_dotctx_next_dot). */
int crdtp_dotctx_next_dot(dotctx *c, const crdt_mem *mem, crdt_actor a,
                          crdt_dot *out);

/* Join in two steps, for types that must commit several things at once:
 * prepare compacts dst and reserves room for the union with a clean src
 * (CRDT_ERR_NOMEM, or CRDT_ERR_INVALID_ARG for a dirty src, leave dst's
 * dots unchanged); apply, with dst and src unchanged since, joins without
 * allocating and cannot fail.  mem is dst's allocator in both.  src ==
 * dst is fine (dirty or not). */
int crdtp_dotctx_join_prepare(dotctx *dst, const crdt_mem *mem,
                              const dotctx *src);
void crdtp_dotctx_join_apply(dotctx *dst, const crdt_mem *mem,
                             const dotctx *src);
/* prepare + apply: dst gets src's dots; src must be clean. */
int crdtp_dotctx_join(dotctx *dst, const crdt_mem *mem, const dotctx *src);

/* --- codec -------------------------------------------------------------- */

/* Writes the body's two fields (vector map, cloud array) of a clean c. */
void crdtp_dotctx_encode_body(cw *w, const dotctx *c);
/* Upper bound of the bytes crdtp_dotctx_encode_body writes. */
size_t crdtp_dotctx_encoded_max(const dotctx *c);
/* Reads the body's two fields into an empty *out (allocated with mem);
 * rejects everything crdt_dotctx_decode documents.  On error *out is left
 * empty and the error is recorded in r. */
int crdtp_dotctx_decode_body(cr *r, dotctx *out, const crdt_mem *mem);

#endif /* CRDT_DOTCTX_INTERNAL_H */
