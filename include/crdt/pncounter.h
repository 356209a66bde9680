/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/pncounter.h
 * Positive-negative counters (PN-counters): counters that can be
 * incremented and decremented.
 *
 * A PN-counter is two grow-only counters, P (the increments) and N (the
 * decrements), each a count per actor; its value is sum(P) - sum(N).  Each
 * replica mutates only its own actor's counts.  Merge takes the pointwise
 * maximum of P and of N (the join of the pointwise order: commutative,
 * associative, idempotent), so replicas that have seen the same mutations
 * hold equal states, whatever the order and repetition of merges.
 *
 * Every mutator can also hand back its delta (Almeida et al., delta-state
 * CRDTs): a small PN-counter whose merge into any replica that has seen
 * the pre-mutation state has the mutation's effect.  Deltas of several
 * mutations can be joined into one delta group and shipped together.
 *
 * Overflow is an error, never a wrap: sum(P) and sum(N) each fit in
 * uint64, which every increment, decrement, merge and decode enforces with
 * CRDT_ERR_OVERFLOW (changing nothing).  The value P - N therefore lies in
 * (-2^64, 2^64): crdt_pncounter_value reports it as an int64_t and fails
 * with CRDT_ERR_OVERFLOW when it is outside the int64 range;
 * crdt_pncounter_totals gives the exact value as the two sums.
 *
 * Representation: P and N are sorted arrays of (actor, count) pairs, each
 * with its cached exact sum, so value is O(1), merge is one linear pass per
 * half (allocating only when the result has more actors than the
 * destination has room for) and a mutation is a search plus an update.
 *
 * Encoding body (type tag CRDT_TAG_PNCOUNTER): two MessagePack maps, P
 * then N, each {actor: count} exactly as a G-counter's body (actors
 * (uint64) strictly ascending, every count (uint64) non-zero, every
 * integer in its shortest form, counts summing to at most UINT64_MAX):
 *     [1, 4, {P actor: count, ...}, {N actor: count, ...}]
 * An actor that never decremented is absent from N (and vice versa).
 * E.g. P {5: 3}, N {7: 1} (value 2) is the 9 bytes
 *     94 01 04 81 05 03 81 07 01
 */
#ifndef CRDT_PNCOUNTER_H
#define CRDT_PNCOUNTER_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/type.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque positive-negative counter. */
typedef struct crdt_pncounter crdt_pncounter;

/** Selects one half of a PN-counter for iteration. */
typedef enum crdt_pncounter_side {
    CRDT_PNCOUNTER_POS = 0, /**< P: the increments */
    CRDT_PNCOUNTER_NEG = 1  /**< N: the decrements */
} crdt_pncounter_side;

/**
 * crdt_pncounter_new returns an empty counter (value 0, every count 0).
 *
 * Ownership: the caller frees it with crdt_pncounter_free.  @p mem (NULL =
 * malloc) is copied and used for every allocation of the counter.
 * Errors: NULL if allocation fails.
 * Complexity: O(1); allocates only the handle.
 */
CRDT_API crdt_pncounter *crdt_pncounter_new(const crdt_mem *mem);

/** crdt_pncounter_free frees @p pn and its storage.  NULL is a no-op. */
CRDT_API void crdt_pncounter_free(crdt_pncounter *pn);

/**
 * crdt_pncounter_clone returns a new counter equal to @p src, with the
 * same allocator.
 *
 * Ownership: the caller frees the result with crdt_pncounter_free.
 * Errors: NULL if @p src is NULL or allocation fails.
 * Complexity: O(p + n) for p and n actors in P and N.
 */
CRDT_API crdt_pncounter *crdt_pncounter_clone(const crdt_pncounter *src);

/**
 * crdt_pncounter_copy makes @p dst equal to @p src (assignment, not a
 * join), reusing @p dst's storage when it is large enough.
 *
 * Ownership: borrows both; @p dst keeps its allocator; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG (NULL), CRDT_ERR_NOMEM; @p dst unchanged on
 * error.
 * Complexity: O(p + n); allocates only if @p dst lacks capacity.
 */
CRDT_API int crdt_pncounter_copy(crdt_pncounter *dst,
                                 const crdt_pncounter *src) CRDT_WARN_UNUSED;

/**
 * crdt_pncounter_value writes the counter's value, sum(P) - sum(N), to
 * @p out.  The value always exists (it lies in (-2^64, 2^64)) but may not
 * fit in int64_t; use crdt_pncounter_totals for the exact value then.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument), CRDT_ERR_OVERFLOW (the
 * value is below INT64_MIN or above INT64_MAX).  @p out is written only on
 * success.
 * Complexity: O(1).
 */
CRDT_API int crdt_pncounter_value(const crdt_pncounter *pn,
                                  int64_t *out) CRDT_WARN_UNUSED;

/**
 * crdt_pncounter_totals writes sum(P) to @p pos and sum(N) to @p neg
 * (either may be NULL): the exact value is *pos - *neg.  NULL @p pn counts
 * as the empty counter (0, 0).
 *
 * Complexity: O(1).
 */
CRDT_API void crdt_pncounter_totals(const crdt_pncounter *pn, uint64_t *pos,
                                    uint64_t *neg);

/**
 * crdt_pncounter_get writes @p actor's increments (its P count) to @p pos
 * and its decrements (N count) to @p neg; either pointer may be NULL.
 * Absent actors, and a NULL @p pn, give 0.
 *
 * Complexity: O(log p + log n).
 */
CRDT_API void crdt_pncounter_get(const crdt_pncounter *pn, crdt_actor actor,
                                 uint64_t *pos, uint64_t *neg);

/**
 * crdt_pncounter_size returns the number of actors with a non-zero count
 * in one half, P or N (0 for NULL or an unknown @p side).
 */
CRDT_API size_t crdt_pncounter_size(const crdt_pncounter *pn,
                                    crdt_pncounter_side side);

/**
 * crdt_pncounter_entry reads the @p i-th (actor, count) entry of one half,
 * P or N, in ascending actor order, for iteration:
 * `for (i = 0; i < crdt_pncounter_size(pn, side); i++)`.  Counts are
 * never 0.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL counter, unknown @p side),
 * CRDT_ERR_NOT_FOUND when @p i >= size.  Out-parameters (either may be
 * NULL) are written only on success.
 * Complexity: O(1).
 */
CRDT_API int crdt_pncounter_entry(const crdt_pncounter *pn,
                                  crdt_pncounter_side side, size_t i,
                                  crdt_actor *actor, uint64_t *count);

/**
 * crdt_pncounter_increment adds @p by to @p actor's P count, raising the
 * value by @p by (a replica mutates its own actor only).  @p by == 0 is a
 * successful no-op.
 *
 * If @p delta is not NULL, the mutation's delta, the PN-counter with
 * P {actor: new count} and an empty N, is joined (merged) into @p *delta.
 * Pass a fresh empty counter to get just this mutation's delta, or keep
 * passing the same one to accumulate a delta group of several mutations
 * (increments and decrements).  Merging the delta into any replica that
 * has seen @p pn's state before the call has the same effect as the call:
 * it gives the join of that replica and @p pn's new state.
 *
 * Ownership: borrows @p pn and @p delta; @p delta (its own allocator) may
 * grow.  @p delta must not be @p pn.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p pn, @p delta == @p pn),
 * CRDT_ERR_OVERFLOW (sum(P), hence the count, or @p delta's sum(P) would
 * exceed UINT64_MAX), CRDT_ERR_NOMEM.  On error neither @p pn nor
 * @p delta is changed.
 * Complexity: O(log p) to update an actor already in P; O(p) (and an
 * allocation, when full) to add one.  The same again for @p delta.
 */
CRDT_API int crdt_pncounter_increment(crdt_pncounter *pn, crdt_actor actor,
                                      uint64_t by,
                                      crdt_pncounter *delta) CRDT_WARN_UNUSED;

/**
 * crdt_pncounter_decrement adds @p by to @p actor's N count, lowering the
 * value by @p by.  Everything else is as crdt_pncounter_increment, with N
 * in place of P: the delta is the PN-counter with an empty P and
 * N {actor: new count}; CRDT_ERR_OVERFLOW when sum(N) would exceed
 * UINT64_MAX (whatever the value).
 */
CRDT_API int crdt_pncounter_decrement(crdt_pncounter *pn, crdt_actor actor,
                                      uint64_t by,
                                      crdt_pncounter *delta) CRDT_WARN_UNUSED;

/**
 * crdt_pncounter_merge joins @p src into @p dst: each actor's P count and
 * N count become the larger of the two.  Commutative, associative,
 * idempotent.  Use it to apply a received state or delta.
 *
 * Ownership: borrows both; @p dst may grow its storage; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG (NULL), CRDT_ERR_NOMEM, CRDT_ERR_OVERFLOW
 * (the merged sum(P) or sum(N) would exceed UINT64_MAX); on error @p dst
 * is unchanged (both halves: the merge is all or nothing).
 * Complexity: O(p + p' + n + n'), with a fast path per half when both
 * sides have the same actors; allocates only if @p dst lacks capacity for
 * the union of the actor sets of a half (never when they are equal).
 */
CRDT_API int crdt_pncounter_merge(crdt_pncounter *dst,
                                  const crdt_pncounter *src) CRDT_WARN_UNUSED;

/**
 * crdt_pncounter_equal: true iff P and N are each the same in @p a and
 * @p b (NULL counts as the empty counter).  Equal counters have identical
 * encodings.  Counters with equal values need not be equal.
 *
 * Complexity: O(1) when the sums differ, else O(p + n).
 */
CRDT_API bool crdt_pncounter_equal(const crdt_pncounter *a,
                                   const crdt_pncounter *b);

/**
 * crdt_pncounter_encode appends the canonical encoding of @p pn (see the
 * top of this header) to @p out.
 *
 * Ownership: borrows both; a growable @p out may grow.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER (fixed
 * buffer too small); on error @p out's length is unchanged.
 * Complexity: O(p + n); at most 13 + 18 (p + n) bytes.
 */
CRDT_API int crdt_pncounter_encode(const crdt_pncounter *pn,
                                   crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_pncounter_decode replaces @p dst with the counter encoded in the
 * @p len bytes at @p data.  The input must be exactly one canonical
 * encoding: in each map actors strictly ascending, no zero count,
 * shortest integer forms, counts summing to at most UINT64_MAX; no
 * trailing bytes.
 *
 * Ownership: borrows @p data; @p dst keeps its allocator.  @p lim NULL
 * means crdt_limits_default() (max_actors applies to each map); @p info
 * (may be NULL) receives the error and its byte offset on failure.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION,
 * CRDT_ERR_TYPE, CRDT_ERR_LIMIT (a map with more than max_actors entries),
 * CRDT_ERR_OVERFLOW (a map's counts sum past UINT64_MAX; the offset is
 * that of the count that takes the sum past it), CRDT_ERR_NOMEM.  On
 * error @p dst is unchanged.
 * Complexity: O(len); allocates at most 16 bytes per entry, and never more
 * entries than @p len / 2.
 */
CRDT_API int crdt_pncounter_decode(crdt_pncounter *dst, const uint8_t *data,
                                   size_t len, const crdt_limits *lim,
                                   crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_pncounter_type returns the type descriptor of PN-counters (tag CRDT_TAG_PNCOUNTER), through
 * which generic code creates, merges, encodes and decodes them
 * (<crdt/type.h>).  Ownership: a static constant.
 */
CRDT_API const crdt_type *crdt_pncounter_type(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_PNCOUNTER_H */
