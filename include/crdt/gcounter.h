/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/gcounter.h
 * Grow-only counters (G-counters): a count per actor; the value is their
 * sum.
 *
 * Each replica increments only its own actor's count.  Merge takes the
 * pointwise maximum (the join of the pointwise order: commutative,
 * associative, idempotent), so replicas that have seen the same increments
 * hold equal states, whatever the order and repetition of merges.  The
 * value, the sum of all counts, grows monotonically.
 *
 * Every mutator can also hand back its delta (Almeida et al., delta-state
 * CRDTs): a small G-counter whose merge into any replica that has seen the
 * pre-mutation state has the mutation's effect.  Deltas of several
 * mutations can be joined into one delta group and shipped together.
 *
 * Overflow is an error, never a wrap: no count and no value exceeds
 * UINT64_MAX.  An increment, merge or decode that would take the value
 * past UINT64_MAX fails with CRDT_ERR_OVERFLOW and changes nothing.
 *
 * Representation: a sorted array of (actor, count) pairs plus the cached
 * exact sum, so value is O(1), merge is one linear pass (allocating only
 * when the result has more actors than the destination has room for) and
 * an increment is a search plus an update.
 *
 * Encoding body (type tag CRDT_TAG_GCOUNTER): one MessagePack map
 * {actor: count}, actors (uint64) strictly ascending, every count (uint64)
 * non-zero, every integer in its shortest form; the same body as a vclock:
 *     [1, 3, {actor: count, ...}]
 * e.g. the counter {5: 1, 300: 70000} is the 14 bytes
 *     93 01 03 82 05 01 cd 01 2c ce 00 01 11 70
 * A decoder also rejects a map whose counts sum past UINT64_MAX.
 */
#ifndef CRDT_GCOUNTER_H
#define CRDT_GCOUNTER_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/type.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque grow-only counter. */
typedef struct crdt_gcounter crdt_gcounter;

/**
 * crdt_gcounter_new returns an empty counter (value 0, every count 0).
 *
 * Ownership: the caller frees it with crdt_gcounter_free.  @p mem (NULL =
 * malloc) is copied and used for every allocation of the counter.
 * Errors: NULL if allocation fails.
 * Complexity: O(1); allocates only the handle.
 */
CRDT_API crdt_gcounter *crdt_gcounter_new(const crdt_mem *mem);

/** crdt_gcounter_free frees @p g and its storage.  NULL is a no-op. */
CRDT_API void crdt_gcounter_free(crdt_gcounter *g);

/**
 * crdt_gcounter_clone returns a new counter equal to @p src, with the same
 * allocator.
 *
 * Ownership: the caller frees the result with crdt_gcounter_free.
 * Errors: NULL if @p src is NULL or allocation fails.
 * Complexity: O(n) for n actors.
 */
CRDT_API crdt_gcounter *crdt_gcounter_clone(const crdt_gcounter *src);

/**
 * crdt_gcounter_copy makes @p dst equal to @p src (assignment, not a join),
 * reusing @p dst's storage when it is large enough.
 *
 * Ownership: borrows both; @p dst keeps its allocator; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG (NULL), CRDT_ERR_NOMEM; @p dst unchanged on
 * error.
 * Complexity: O(n); allocates only if @p dst lacks capacity.
 */
CRDT_API int crdt_gcounter_copy(crdt_gcounter *dst,
                                const crdt_gcounter *src) CRDT_WARN_UNUSED;

/**
 * crdt_gcounter_value returns the counter's value: the sum of every
 * actor's count, exact (never more than UINT64_MAX, see above).  NULL
 * counts as the empty counter (0).
 *
 * Complexity: O(1) (the sum is kept up to date by every mutation).
 */
CRDT_API uint64_t crdt_gcounter_value(const crdt_gcounter *g);

/**
 * crdt_gcounter_get returns @p actor's count, 0 if absent (or if @p g is
 * NULL).
 *
 * Complexity: O(log n).
 */
CRDT_API uint64_t crdt_gcounter_get(const crdt_gcounter *g, crdt_actor actor);

/**
 * crdt_gcounter_size returns the number of actors with a non-zero count
 * (0 for NULL).
 */
CRDT_API size_t crdt_gcounter_size(const crdt_gcounter *g);

/**
 * crdt_gcounter_entry reads the @p i-th (actor, count) entry in ascending
 * actor order, for iteration: `for (i = 0; i < crdt_gcounter_size(g);
 * i++)`.  Counts are never 0.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL counter), CRDT_ERR_NOT_FOUND when
 * @p i >= size.  Out-parameters (either may be NULL) are written only on
 * success.
 * Complexity: O(1).
 */
CRDT_API int crdt_gcounter_entry(const crdt_gcounter *g, size_t i,
                                 crdt_actor *actor, uint64_t *count);

/**
 * crdt_gcounter_increment adds @p by to @p actor's count (a replica
 * increments its own actor only).  @p by == 0 is a successful no-op.
 *
 * If @p delta is not NULL, the mutation's delta, the G-counter
 * {actor: new count}, is joined (merged) into @p *delta.  Pass a fresh
 * empty counter to get just this mutation's delta, or keep passing the
 * same one to accumulate a delta group of several mutations.  Merging the
 * delta into any replica that has seen @p g's state before the call has
 * the same effect as the call: it gives the join of that replica and
 * @p g's new state.
 *
 * Ownership: borrows @p g and @p delta; @p delta (its own allocator) may
 * grow.  @p delta must not be @p g.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p g, @p delta == @p g),
 * CRDT_ERR_OVERFLOW (the count, the value, or @p delta's value would
 * exceed UINT64_MAX), CRDT_ERR_NOMEM.  On error neither @p g nor
 * @p delta is changed.
 * Complexity: O(log n) to update an actor already present; O(n) (and an
 * allocation, when full) to add a new actor.  The same again for @p delta.
 */
CRDT_API int crdt_gcounter_increment(crdt_gcounter *g, crdt_actor actor,
                                     uint64_t by,
                                     crdt_gcounter *delta) CRDT_WARN_UNUSED;

/**
 * crdt_gcounter_merge joins @p src into @p dst: each actor's count becomes
 * the larger of the two.  Commutative, associative, idempotent.  Use it to
 * apply a received state or delta.
 *
 * Ownership: borrows both; @p dst may grow its storage; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG (NULL), CRDT_ERR_NOMEM, CRDT_ERR_OVERFLOW
 * (the merged value would exceed UINT64_MAX); on error @p dst is
 * unchanged.
 * Complexity: O(n + m), with a fast path when both have the same actors;
 * allocates only if @p dst lacks capacity for the union of the actor
 * sets (never when they are equal).
 */
CRDT_API int crdt_gcounter_merge(crdt_gcounter *dst,
                                 const crdt_gcounter *src) CRDT_WARN_UNUSED;

/**
 * crdt_gcounter_equal: true iff every actor's count is the same in @p a
 * and @p b (NULL counts as the empty counter).  Equal counters have
 * identical encodings.
 *
 * Complexity: O(1) when the values differ, else O(n).
 */
CRDT_API bool crdt_gcounter_equal(const crdt_gcounter *a,
                                  const crdt_gcounter *b);

/**
 * crdt_gcounter_encode appends the canonical encoding of @p g (see the top
 * of this header) to @p out.
 *
 * Ownership: borrows both; a growable @p out may grow.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER (fixed
 * buffer too small); on error @p out's length is unchanged.
 * Complexity: O(n); at most 8 + 18 n bytes.
 */
CRDT_API int crdt_gcounter_encode(const crdt_gcounter *g,
                                  crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_gcounter_decode replaces @p dst with the counter encoded in the
 * @p len bytes at @p data.  The input must be exactly one canonical
 * encoding: actors strictly ascending, no zero count, shortest integer
 * forms, no trailing bytes, and counts summing to at most UINT64_MAX.
 *
 * Ownership: borrows @p data; @p dst keeps its allocator.  @p lim NULL
 * means crdt_limits_default(); @p info (may be NULL) receives the error
 * and its byte offset on failure.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION,
 * CRDT_ERR_TYPE, CRDT_ERR_LIMIT (more than max_actors entries),
 * CRDT_ERR_OVERFLOW (the counts sum past UINT64_MAX; the offset is that
 * of the count that takes the sum past it), CRDT_ERR_NOMEM.  On error
 * @p dst is unchanged.
 * Complexity: O(len); allocates at most 16 bytes per entry, and never more
 * entries than @p len / 2.
 */
CRDT_API int crdt_gcounter_decode(crdt_gcounter *dst, const uint8_t *data,
                                  size_t len, const crdt_limits *lim,
                                  crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_gcounter_type returns the type descriptor of G-counters (tag CRDT_TAG_GCOUNTER), through
 * which generic code creates, merges, encodes and decodes them
 * (<crdt/type.h>).  Ownership: a static constant.
 */
CRDT_API const crdt_type *crdt_gcounter_type(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_GCOUNTER_H */
