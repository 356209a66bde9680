/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/vclock.h
 * Version vectors: a counter per actor, ordered pointwise.
 *
 * A crdt_vclock maps actor ids to counters; an actor it has never seen
 * counts 0.  Merge takes the pointwise maximum (the join of the pointwise
 * order: commutative, associative, idempotent).  Compare tells whether one
 * vector happened before the other, after it, equals it, or neither.
 *
 * Representation: a sorted array of (actor, counter) pairs, so merge and
 * compare are single linear passes that allocate only when the result has
 * more actors than the destination has room for.
 *
 * Encoding body (type tag CRDT_TAG_VCLOCK): one MessagePack map
 * {actor: counter}, keys ascending, no zero counters:
 *     [1, 1, {actor: counter, ...}]
 */
#ifndef CRDT_VCLOCK_H
#define CRDT_VCLOCK_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/type.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque version vector. */
typedef struct crdt_vclock crdt_vclock;

/** The causal order between two clocks (or any two causal states). */
typedef enum crdt_order {
    CRDT_EQUAL = 0,     /**< identical */
    CRDT_AFTER = 1,     /**< a > b: a has seen all of b and more */
    CRDT_BEFORE = 2,    /**< a < b: b has seen all of a and more */
    CRDT_CONCURRENT = 3 /**< neither has seen all of the other */
} crdt_order;

/**
 * crdt_order_name returns "equal", "after", "before" or "concurrent"
 * (NULL for values outside the enum).
 */
CRDT_API const char *crdt_order_name(crdt_order o);

/**
 * crdt_vclock_new returns an empty clock (every counter 0).
 *
 * Ownership: the caller frees it with crdt_vclock_free.  @p mem (NULL =
 * malloc) is copied and used for every allocation of the clock.
 * Errors: NULL if allocation fails.
 */
CRDT_API crdt_vclock *crdt_vclock_new(const crdt_mem *mem);

/** crdt_vclock_free frees @p vc and its storage.  NULL is a no-op. */
CRDT_API void crdt_vclock_free(crdt_vclock *vc);

/**
 * crdt_vclock_clone returns a new clock equal to @p src, with the same
 * allocator.
 *
 * Errors: NULL if @p src is NULL or allocation fails.
 * Complexity: O(n).
 */
CRDT_API crdt_vclock *crdt_vclock_clone(const crdt_vclock *src);

/**
 * crdt_vclock_copy makes @p dst equal to @p src (assignment), reusing
 * @p dst's storage when it is large enough.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(n).
 */
CRDT_API int crdt_vclock_copy(crdt_vclock *dst,
                              const crdt_vclock *src) CRDT_WARN_UNUSED;

/**
 * crdt_vclock_get returns @p actor's counter, 0 if absent (or if @p vc is
 * NULL).  Complexity: O(log n).
 */
CRDT_API uint64_t crdt_vclock_get(const crdt_vclock *vc, crdt_actor actor);

/**
 * crdt_vclock_size returns the number of actors with a non-zero counter.
 */
CRDT_API size_t crdt_vclock_size(const crdt_vclock *vc);

/**
 * crdt_vclock_entry reads the @p i-th entry in ascending actor order, for
 * iteration: `for (i = 0; i < crdt_vclock_size(vc); i++)`.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL clock), CRDT_ERR_NOT_FOUND when
 * @p i >= size.  Out-parameters (either may be NULL) are written only on
 * success.  Complexity: O(1).
 */
CRDT_API int crdt_vclock_entry(const crdt_vclock *vc, size_t i,
                               crdt_actor *actor, uint64_t *counter);

/**
 * crdt_vclock_set sets @p actor's counter to @p counter (0 removes the
 * entry).  This is assignment, not a join: it can move the clock backwards;
 * replicas normally use crdt_vclock_increment and crdt_vclock_merge.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; unchanged on error.
 * Complexity: O(n) worst case (insertion), O(log n) to update.
 */
CRDT_API int crdt_vclock_set(crdt_vclock *vc, crdt_actor actor,
                             uint64_t counter) CRDT_WARN_UNUSED;

/**
 * crdt_vclock_increment adds one to @p actor's counter and writes the new
 * value to @p out (which may be NULL): the clock of a new local event.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_OVERFLOW (counter
 * at UINT64_MAX); unchanged on error.
 */
CRDT_API int crdt_vclock_increment(crdt_vclock *vc, crdt_actor actor,
                                   uint64_t *out) CRDT_WARN_UNUSED;

/**
 * crdt_vclock_merge joins @p src into @p dst: each actor's counter becomes
 * the larger of the two.  Commutative, associative, idempotent.
 *
 * Ownership: borrows both; @p dst may grow its storage; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; on error @p dst is
 * unchanged.
 * Complexity: O(n + m); allocates only if @p dst lacks capacity for the
 * union of the actor sets.
 */
CRDT_API int crdt_vclock_merge(crdt_vclock *dst,
                               const crdt_vclock *src) CRDT_WARN_UNUSED;

/**
 * crdt_vclock_compare orders @p a against @p b: CRDT_EQUAL, CRDT_AFTER
 * (a dominates b strictly), CRDT_BEFORE, or CRDT_CONCURRENT.  NULL is
 * treated as the empty clock.  Complexity: O(n + m), no allocation.
 */
CRDT_API crdt_order crdt_vclock_compare(const crdt_vclock *a,
                                        const crdt_vclock *b);

/** crdt_vclock_equal: true iff every counter is the same. */
CRDT_API bool crdt_vclock_equal(const crdt_vclock *a, const crdt_vclock *b);

/**
 * crdt_vclock_dominates: true iff every counter of @p a is >= the
 * corresponding counter of @p b (a is after or equal to b: a has seen
 * everything b has).
 */
CRDT_API bool crdt_vclock_dominates(const crdt_vclock *a,
                                    const crdt_vclock *b);

/** crdt_vclock_concurrent: true iff neither dominates the other. */
CRDT_API bool crdt_vclock_concurrent(const crdt_vclock *a,
                                     const crdt_vclock *b);

/**
 * crdt_vclock_can_deliver implements the causal delivery rule for a
 * message stamped @p msg sent by @p sender, at a replica that has
 * delivered @p local: true iff msg[sender] == local[sender] + 1 (it is the
 * sender's next message) and msg[k] <= local[k] for every other actor k
 * (everything it depends on has been delivered).  After delivering, merge
 * @p msg into @p local.  Complexity: O(n + m).
 */
CRDT_API bool crdt_vclock_can_deliver(const crdt_vclock *local,
                                      const crdt_vclock *msg,
                                      crdt_actor sender);

/**
 * crdt_vclock_encode appends the canonical encoding of @p vc to @p out.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER (fixed
 * buffer too small); on error @p out's length is unchanged.
 * Complexity: O(n); at most 15 + 18 n bytes.
 */
CRDT_API int crdt_vclock_encode(const crdt_vclock *vc,
                                crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_vclock_decode replaces @p dst with the clock encoded in the @p len
 * bytes at @p data.  The input must be exactly one canonical encoding:
 * actors strictly ascending, no zero counter, shortest integer forms, no
 * trailing bytes.
 *
 * Ownership: borrows @p data; @p dst keeps its allocator.  @p lim NULL
 * means crdt_limits_default(); @p info (may be NULL) receives the error
 * offset on failure.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION,
 * CRDT_ERR_TYPE, CRDT_ERR_LIMIT (more than max_actors entries),
 * CRDT_ERR_NOMEM.  On error @p dst is unchanged.
 * Complexity: O(len); allocates at most 16 bytes per entry, and never more
 * entries than @p len / 2.
 */
CRDT_API int crdt_vclock_decode(crdt_vclock *dst, const uint8_t *data,
                                size_t len, const crdt_limits *lim,
                                crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_vclock_type returns the type descriptor of version vectors (tag CRDT_TAG_VCLOCK), through
 * which generic code creates, merges, encodes and decodes them
 * (<crdt/type.h>).  Ownership: a static constant.
 */
CRDT_API const crdt_type *crdt_vclock_type(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_VCLOCK_H */
