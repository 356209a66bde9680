/* SPDX-License-Identifier: MIT */
/*
 * gctr: a grow-only counter's state without its allocator, i.e. an avec
 * plus the exact sum of its counts.  crdt_gcounter is one gctr; a
 * crdt_pncounter is two (P and N).  The helpers keep the invariant
 * total == sum(v.counts) <= UINT64_MAX, and each one either succeeds or
 * changes nothing observable (it may leave extra capacity behind).
 */
#ifndef CRDT_GCOUNTER_INTERNAL_H
#define CRDT_GCOUNTER_INTERNAL_H

#include <crdt/common.h>

#include "avec_internal.h"
#include "codec_internal.h"

typedef struct gctr {
    avec v;         /* actor -> count, the avec invariants */
    uint64_t total; /* sum of v.counts, exact: never wrapped */
} gctr;

void crdtp_gctr_init(gctr *g);
void crdtp_gctr_clear(gctr *g, const crdt_mem *mem);
void crdtp_gctr_swap(gctr *a, gctr *b);

/* Adds by to actor a's count.  If d is not NULL, joins the mutation's
 * delta {a: new count} into d (allocated with dmem).  by == 0 does
 * nothing.  CRDT_ERR_OVERFLOW if g's total (hence a's count) or d's total
 * would exceed UINT64_MAX, CRDT_ERR_NOMEM; neither g nor d changes then.
 * d must not be g. */
int crdtp_gctr_add(gctr *g, const crdt_mem *mem, crdt_actor a, uint64_t by,
                   gctr *d, const crdt_mem *dmem);

/* Pointwise max of s into d, keeping the total exact; d unchanged on
 * CRDT_ERR_NOMEM or CRDT_ERR_OVERFLOW.  s == d is fine. */
int crdtp_gctr_merge(gctr *d, const crdt_mem *mem, const gctr *s);

/* crdtp_gctr_merge in two steps, for states made of several gctrs that
 * must merge atomically: prepare does everything that can fail (overflow
 * check, reservation) and changes no count of d; commit then cannot fail.
 * Nothing may change d or s in between. */
int crdtp_gctr_merge_prepare(gctr *d, const crdt_mem *mem, const gctr *s);
void crdtp_gctr_merge_commit(gctr *d, const crdt_mem *mem, const gctr *s);

/* d becomes a copy of s; d unchanged on CRDT_ERR_NOMEM. */
int crdtp_gctr_copy(gctr *d, const crdt_mem *mem, const gctr *s);

bool crdtp_gctr_equal(const gctr *a, const gctr *b);

/* Reads one {actor: count} map into an empty *out, as crdtp_avec_decode,
 * and rejects it with CRDT_ERR_OVERFLOW, at the offset of the count that
 * takes the sum past UINT64_MAX, if its total does not fit.  On error
 * *out is left empty. */
int crdtp_gctr_decode(cr *r, gctr *out, const crdt_mem *mem);

#endif /* CRDT_GCOUNTER_INTERNAL_H */
