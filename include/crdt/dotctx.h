/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/dotctx.h
 * Causal contexts (dot contexts): the set of events a replica has seen.
 *
 * A dot (actor, counter) names one event: the counter-th event of that
 * actor, counters starting at 1.  A crdt_dotctx is a set of dots.  Join is
 * set union (commutative, associative, idempotent); the order is set
 * inclusion.  Observed-remove types (OR-set, MV-register, OR-map, flags)
 * are dot stores paired with a causal context (Almeida, Shoker, Baquero,
 * "Delta state replicated data types", 2018): a dot in the context but
 * not in the store has been removed.
 *
 * Representation: a version vector vv (actor -> n: the dots (actor, 1..n)
 * are all present) plus a dot cloud: the dots beyond the vector, sorted
 * by (actor, counter).  A context is compact when no cloud dot
 * (a, c) has c <= vv[a] + 1: a dot the vector covers is not repeated, and
 * a dot that extends the vector has been folded into it.  A compact
 * context has exactly one representation, so equal contexts have equal
 * arrays and identical encodings.
 *
 * Every public call leaves a context compact, except
 * crdt_dotctx_add_unfolded, a bulk path that appends dots in any order in
 * O(1) amortized each and leaves the context uncompacted until
 * crdt_dotctx_compact (or any other call that modifies it) folds them all
 * in one pass.  crdt_dotctx_copy and crdt_dotctx_clone copy an
 * uncompacted context as it is.  Each function says how it treats an
 * uncompacted context; in short: contains, max, equal and compare are
 * exact on any context, while encode, iteration and the source of a join
 * require a compact one.
 *
 * Encoding body (type tag CRDT_TAG_DOTCTX): two fields, the vector as a
 * version vector's body, then the cloud as an array of [actor, counter]
 * pairs:
 *     [1, 2, {actor: counter, ...}, [[actor, counter], ...]]
 * The map's keys are strictly ascending and its values non-zero (exactly
 * as crdt/vclock.h).  The dots are strictly ascending by actor, then by
 * counter, and each satisfies counter > vv[actor] + 1 (an absent actor
 * counts 0, so a cloud dot's counter is at least 2).  Every integer is
 * a non-negative MessagePack integer in its shortest form; every array or
 * map header is in its shortest form; nothing follows the value.  Example:
 * vv {5: 3} with cloud {(5, 7), (9, 2)} is
 *     [1, 2, {5: 3}, [[5, 7], [9, 2]]]
 *     = 94 01 02 81 05 03 92 92 05 07 92 09 02
 */
#ifndef CRDT_DOTCTX_H
#define CRDT_DOTCTX_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/type.h>
#include <crdt/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A dot: the @c counter-th event of @c actor.  A plain value; valid dots
 * have counter >= 1.
 */
typedef struct crdt_dot {
    crdt_actor actor; /**< the replica that made the event */
    uint64_t counter; /**< its sequence number at that replica, from 1 */
} crdt_dot;

/** An opaque causal context (a set of dots). */
typedef struct crdt_dotctx crdt_dotctx;

/* ----------------------------------------------------------- lifecycle */

/**
 * crdt_dotctx_new returns an empty context.
 *
 * Ownership: the caller frees it with crdt_dotctx_free.  @p mem (NULL =
 * malloc) is copied and used for every allocation of the context.
 * Errors: NULL if allocation fails.
 */
CRDT_API crdt_dotctx *crdt_dotctx_new(const crdt_mem *mem);

/** crdt_dotctx_free frees @p ctx and its storage.  NULL is a no-op. */
CRDT_API void crdt_dotctx_free(crdt_dotctx *ctx);

/**
 * crdt_dotctx_clone returns a new context equal to @p src (compact or
 * not, as @p src is), with the same allocator.
 *
 * Errors: NULL if @p src is NULL or allocation fails.
 * Complexity: O(n), n = vector entries + cloud dots.
 */
CRDT_API crdt_dotctx *crdt_dotctx_clone(const crdt_dotctx *src);

/**
 * crdt_dotctx_copy makes @p dst equal to @p src (assignment, compact or
 * not, as @p src is), reusing @p dst's storage when it is large enough.
 *
 * Ownership: borrows both; @p dst keeps its allocator; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(n).
 */
CRDT_API int crdt_dotctx_copy(crdt_dotctx *dst,
                              const crdt_dotctx *src) CRDT_WARN_UNUSED;

/* ------------------------------------------------------------- queries */

/**
 * crdt_dotctx_contains: true iff @p dot is in @p ctx (counter <= vv[actor]
 * or the dot is in the cloud).  False for a zero counter or a NULL
 * context.  Exact on an uncompacted context too.
 *
 * Complexity: O(log a) for a dot the vector decides (a = actors), plus
 * O(log c) when the cloud (c dots) must be searched; plus a linear scan
 * of the dots added since the last compaction, if any.  No allocation.
 */
CRDT_API bool crdt_dotctx_contains(const crdt_dotctx *ctx, crdt_dot dot);

/**
 * crdt_dotctx_max returns @p actor's entry of the version vector: the
 * largest n such that every dot (actor, 1..n) is in @p ctx (0 if
 * (actor, 1) is not, or @p ctx is NULL).  Cloud dots beyond a gap do not
 * count.  Exact on an uncompacted context too.
 *
 * Complexity: O(log a) on a compact context.
 */
CRDT_API uint64_t crdt_dotctx_max(const crdt_dotctx *ctx, crdt_actor actor);

/**
 * crdt_dotctx_vv_size returns the number of actors with a non-zero
 * vector entry (0 for NULL).
 */
CRDT_API size_t crdt_dotctx_vv_size(const crdt_dotctx *ctx);

/**
 * crdt_dotctx_vv_entry reads the @p i-th vector entry in ascending actor
 * order, for iteration: `for (i = 0; i < crdt_dotctx_vv_size(ctx); i++)`.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL or uncompacted context),
 * CRDT_ERR_NOT_FOUND when @p i >= size.  Out-parameters (either may be
 * NULL) are written only on success.  Complexity: O(1).
 */
CRDT_API int crdt_dotctx_vv_entry(const crdt_dotctx *ctx, size_t i,
                                  crdt_actor *actor, uint64_t *counter);

/**
 * crdt_dotctx_cloud_size returns the number of dots in the cloud (0 for
 * NULL).  On an uncompacted context it also counts the dots added since
 * the last compaction, duplicates included: an upper bound of the size
 * after crdt_dotctx_compact.
 */
CRDT_API size_t crdt_dotctx_cloud_size(const crdt_dotctx *ctx);

/**
 * crdt_dotctx_cloud_dot reads the @p i-th cloud dot in ascending (actor,
 * counter) order, for iteration up to crdt_dotctx_cloud_size.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL or uncompacted context),
 * CRDT_ERR_NOT_FOUND when @p i >= size.  @p out (may be NULL) is written
 * only on success.  Complexity: O(1).
 */
CRDT_API int crdt_dotctx_cloud_dot(const crdt_dotctx *ctx, size_t i,
                                   crdt_dot *out);

/**
 * crdt_dotctx_is_compact: false iff dots were added with
 * crdt_dotctx_add_unfolded since the context was last compacted (true for
 * NULL).
 */
CRDT_API bool crdt_dotctx_is_compact(const crdt_dotctx *ctx);

/**
 * crdt_dotctx_equal: true iff @p a and @p b hold the same dots.  NULL is
 * the empty context.  Exact on uncompacted contexts too.
 *
 * Complexity: O(n), one comparison of the arrays, when both are compact;
 * otherwise a slower exact test by membership.  No allocation.
 */
CRDT_API bool crdt_dotctx_equal(const crdt_dotctx *a, const crdt_dotctx *b);

/**
 * crdt_dotctx_compare orders @p a against @p b by set inclusion:
 * CRDT_EQUAL (same dots), CRDT_AFTER (a holds every dot of b, and more),
 * CRDT_BEFORE (the reverse) or CRDT_CONCURRENT (each holds a dot the
 * other lacks).  NULL is the empty context.  Exact on uncompacted
 * contexts too.
 *
 * Complexity: O(a + c log c') for compact contexts (vectors in one pass,
 * each cloud dot searched in the other context).  No allocation.
 */
CRDT_API crdt_order crdt_dotctx_compare(const crdt_dotctx *a,
                                        const crdt_dotctx *b);

/* ------------------------------------------------------------ mutators */

/**
 * crdt_dotctx_next_dot makes @p actor's next event: the dot (actor, m + 1)
 * where m is the largest counter of any dot of @p actor in @p ctx (vector
 * or cloud), adds it to @p ctx and writes it to @p out (may be NULL).
 * The dot is new to @p ctx and, if @p actor is this replica, to every
 * replica.  Compacts an uncompacted @p ctx first.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p ctx), CRDT_ERR_OVERFLOW (m is
 * UINT64_MAX), CRDT_ERR_NOMEM; @p ctx unchanged (at most compacted) and
 * @p out unwritten on error.
 * Complexity: O(log n) when @p actor has no cloud dots (the usual case
 * for the local actor: its own events are contiguous), else O(log n) plus
 * moving the cloud's tail.
 */
CRDT_API int crdt_dotctx_next_dot(crdt_dotctx *ctx, crdt_actor actor,
                                  crdt_dot *out) CRDT_WARN_UNUSED;

/**
 * crdt_dotctx_add adds @p dot to @p ctx (a no-op if it is there) and
 * keeps the context compact: a dot that extends the vector is folded into
 * it, together with the run of cloud dots that then follows it.  Adding
 * {d} is a join with the context {d}.  Compacts an uncompacted @p ctx
 * first.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p ctx or zero counter),
 * CRDT_ERR_NOMEM; @p ctx unchanged (at most compacted) on error.
 * Complexity: O(log n) search; folding or inserting a cloud dot also
 * moves the cloud's tail (one memmove).
 */
CRDT_API int crdt_dotctx_add(crdt_dotctx *ctx,
                             crdt_dot dot) CRDT_WARN_UNUSED;

/**
 * crdt_dotctx_add_unfolded adds @p dot without keeping the context
 * compact: the bulk path for building a context from many dots in any
 * order (the context of a remove or clear delta, dots gathered from a dot
 * store).  A dot the vector covers is ignored, a dot that extends the
 * vector raises it, and any other dot is appended to a pending list;
 * @p ctx is uncompacted until crdt_dotctx_compact, or any other call that
 * modifies it, sorts the pending dots and folds them in one pass.  Until
 * then: contains, max, equal, compare, sizes, copy and clone work (see
 * each); encode, iteration and use as a join source fail with
 * CRDT_ERR_INVALID_ARG.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p ctx or zero counter),
 * CRDT_ERR_NOMEM; @p ctx unchanged on error.
 * Complexity: O(log a) plus amortized O(1); reserves room (32 bytes per
 * pending dot) so that the compaction cannot fail.
 */
CRDT_API int crdt_dotctx_add_unfolded(crdt_dotctx *ctx,
                                      crdt_dot dot) CRDT_WARN_UNUSED;

/**
 * crdt_dotctx_compact makes @p ctx compact: sorts the dots added by
 * crdt_dotctx_add_unfolded, merges them into the cloud, drops dots the
 * vector covers and duplicates, and folds into the vector every run of
 * dots that extends it, in one pass.  The set of dots does not change.
 * Does nothing on a compact context or NULL.
 *
 * Errors: none; it never allocates (crdt_dotctx_add_unfolded reserved
 * the room).
 * Complexity: O(c + k log k + a) for c cloud dots and k pending dots.
 */
CRDT_API void crdt_dotctx_compact(crdt_dotctx *ctx);

/**
 * crdt_dotctx_join adds every dot of @p src to @p dst (set union: the
 * vectors' pointwise maximum, the clouds' union, then compaction).
 * Commutative, associative, idempotent.  Compacts an uncompacted @p dst
 * first.
 *
 * Ownership: borrows both; @p dst may grow its storage; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG (NULL, or @p src uncompacted),
 * CRDT_ERR_NOMEM; on error @p dst is unchanged (at most compacted).
 * Complexity: O(n + m) in one backward merge and one folding pass, for
 * n and m entries (vector entries plus cloud dots) of dst and src.  When
 * @p src is small against @p dst (a delta: m * 16 <= n, at most 32 cloud
 * dots), each of its entries is applied by binary search instead:
 * O(m log n), plus one memmove of the cloud's tail for each dot that
 * opens a new gap in it or folds cloud dots into the vector.  Allocates
 * only when @p dst lacks room for the union.
 */
CRDT_API int crdt_dotctx_join(crdt_dotctx *dst,
                              const crdt_dotctx *src) CRDT_WARN_UNUSED;

/* --------------------------------------------------------------- codec */

/**
 * crdt_dotctx_encode appends the canonical encoding of @p ctx (see the
 * top of this header) to @p out.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL, or @p ctx uncompacted),
 * CRDT_ERR_NOMEM, CRDT_ERR_BUFFER (fixed buffer too small); on error
 * @p out's length is unchanged.
 * Complexity: O(n); at most 13 + 18 a + 19 c bytes for a vector entries
 * and c cloud dots.
 */
CRDT_API int crdt_dotctx_encode(const crdt_dotctx *ctx,
                                crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_dotctx_decode replaces @p dst with the context encoded in the
 * @p len bytes at @p data.  The input must be exactly one canonical
 * encoding (see the top of this header): besides everything
 * crdt_vclock_decode rejects in the vector, it rejects cloud dots that
 * are not [actor, counter] pairs, unsorted or duplicate dots, zero
 * counters, and dots the vector covers or that extend it (a non-compact
 * context).  The result is compact.
 *
 * Ownership: borrows @p data; @p dst keeps its allocator.  @p lim NULL
 * means crdt_limits_default(); @p info (may be NULL) receives the error
 * code and offset on failure: the offending byte (a dot's first byte when
 * it is out of order, its counter when the counter is invalid; for an
 * input cut short, as crdt_decode_info says).
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION,
 * CRDT_ERR_TYPE, CRDT_ERR_LIMIT (more than lim->max_actors vector entries
 * or lim->max_elements cloud dots), CRDT_ERR_NOMEM.  On error @p dst is
 * unchanged.
 * Complexity: O(len); allocates at most 16 bytes per vector entry (never
 * more than @p len / 2 entries) and 16 bytes per cloud dot (never more
 * than @p len / 3 dots).
 */
CRDT_API int crdt_dotctx_decode(crdt_dotctx *dst, const uint8_t *data,
                                size_t len, const crdt_limits *lim,
                                crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_dotctx_type returns the type descriptor of causal contexts (tag
 * CRDT_TAG_DOTCTX), through which generic code creates, joins, encodes
 * and decodes them (<crdt/type.h>).  Ownership: a static constant.
 */
CRDT_API const crdt_type *crdt_dotctx_type(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_DOTCTX_H */
