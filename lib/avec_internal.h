/* SPDX-License-Identifier: MIT */
/*
 * avec: a sorted actor -> uint64 vector, the representation under version
 * vectors, G/PN-counters and the compact part of causal contexts.
 *
 * Representation: struct of arrays in one allocation of cap * 16 bytes,
 * actors[0..cap) then counts[0..cap).  Invariants: actors strictly
 * increasing; every count non-zero (an absent actor means 0), so equal
 * vectors have equal arrays and canonical encodings.
 *
 * Hot paths: merge and compare first test whether both sides have the same
 * actors (one memcmp); then they are one branch-free pass over the counts.
 * Otherwise a two-pointer pass; merge sizes the union first so that it can
 * reserve before writing and leave dst untouched on NOMEM, then merges
 * backwards in place.
 */
#ifndef CRDT_AVEC_INTERNAL_H
#define CRDT_AVEC_INTERNAL_H

#include <crdt/common.h>

#include "codec_internal.h"

typedef struct avec {
    crdt_actor *actors; /* sorted ascending, unique */
    uint64_t *counts;   /* counts[i] of actors[i], never 0 */
    size_t len;         /* entries in use */
    size_t cap;         /* entries allocated */
} avec;

/* Comparison results, as bits: AVEC_GT = some entry of a is greater,
 * AVEC_LT = some entry of b is greater. */
enum { AVEC_EQ = 0, AVEC_GT = 1, AVEC_LT = 2, AVEC_CONC = 3 };

void crdtp_avec_init(avec *v);
void crdtp_avec_clear(avec *v, const crdt_mem *mem);
void crdtp_avec_swap(avec *a, avec *b);
int crdtp_avec_reserve(avec *v, const crdt_mem *mem, size_t n);
/* Index of actor, or the insertion point with *found = false. */
size_t crdtp_avec_search(const avec *v, crdt_actor a, bool *found);
/* crdtp_avec_search for hot lookups of random actors: a vector of up to
 * 16 actors (the usual handful of replicas) is scanned without branching
 * on the data, the position being the number of smaller actors, so that
 * random actors cost no mispredictions; a longer one is searched. */
static inline size_t crdtp_avec_find(const avec *v, crdt_actor a,
                                     bool *found)
{
    size_t i = 0, k;

    if (v->len > 16)
        return crdtp_avec_search(v, a, found);
    for (k = 0; k < v->len; k++)
        i += v->actors[k] < a;
    *found = i < v->len && v->actors[i] == a;
    return i;
}
uint64_t crdtp_avec_get(const avec *v, crdt_actor a);
/* Sets a's count (0 removes it). */
int crdtp_avec_set(avec *v, const crdt_mem *mem, crdt_actor a, uint64_t c);
/* Pointwise max; dst unchanged on error.  src == dst is fine. */
int crdtp_avec_merge(avec *dst, const crdt_mem *mem, const avec *src);
/* Merge in two steps for counters, which keep an exact total and merge
 * several vectors atomically.  prepare does everything that can fail and
 * changes no entry of dst: with check_sum, it fails CRDT_ERR_OVERFLOW if
 * the merged counts would sum past UINT64_MAX (callers whose totals
 * already bound the sum skip that pass); it reserves room for the union.
 * commit_sum then merges (it cannot fail; nothing may change dst or src in
 * between) and returns the merged sum, in one vectorized pass when both
 * have the same actors. */
int crdtp_avec_merge_prepare(avec *dst, const crdt_mem *mem, const avec *src,
                             bool check_sum);
uint64_t crdtp_avec_merge_commit_sum(avec *dst, const crdt_mem *mem,
                                     const avec *src);
/* Whether a and b have the same actors (so merge is in place). */
bool crdtp_avec_same_actors(const avec *a, const avec *b);
/* For same_actors(d, s) whose merged sum cannot overflow: pointwise max
 * into d, returning the new sum.  Cannot fail. */
uint64_t crdtp_avec_max_sum_same(avec *d, const avec *s);
int crdtp_avec_compare(const avec *a, const avec *b);
bool crdtp_avec_equal(const avec *a, const avec *b);
/* dst becomes a copy of src; dst unchanged on error. */
int crdtp_avec_copy(avec *dst, const crdt_mem *mem, const avec *src);
/* Sum of counts into *sum; CRDT_ERR_OVERFLOW if it exceeds UINT64_MAX. */
int crdtp_avec_sum(const avec *v, uint64_t *sum);

/* Codec: a MessagePack map {actor: count} with keys ascending. */
void crdtp_avec_encode(cw *w, const avec *v);
/* Upper bound of the bytes crdtp_avec_encode writes. */
size_t crdtp_avec_encoded_max(const avec *v);
/* Reads the map into an empty *out (allocated with mem); rejects
 * unsorted or duplicate actors, zero counts, more than lim.max_actors
 * entries.  On error *out is left empty. */
int crdtp_avec_decode(cr *r, avec *out, const crdt_mem *mem);

#endif /* CRDT_AVEC_INTERNAL_H */
