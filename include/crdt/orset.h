/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/orset.h
 * Add-wins observed-remove sets (OR-sets, "ORSWOT": no tombstones) of
 * byte strings.
 *
 * The state is a dot store over one causal context (crdt/dotctx.h): each
 * element present carries the dots of the adds that made it present, and
 * the context holds every dot the replica has seen.  add makes a new dot
 * of the adding actor and gives the element exactly that dot (the add
 * supersedes the element's dots it observed); remove drops the element
 * and keeps its dots in the context only.  Merge is the join of dot
 * stores: an element survives iff one of its dots is in both sides, or in
 * one side and not in the other's context; contexts are joined.  The join
 * is commutative, associative and idempotent.  Consequences:
 *   - add-wins: an add concurrent with a remove of the same element keeps
 *     the element (the remove did not observe the add's dot);
 *   - remove removes only what it observed;
 *   - a removed element leaves no tombstone, only context dots, which a
 *     replica's version vector absorbs.
 *
 * One dot, two elements: a dot names one add, but two sets can hold the
 * same dot under different elements when an actor id was reused (a
 * replica restarted from a stale snapshot, or a faulty one); each set
 * alone is valid.  Each side has seen the dot (it is in its context) and
 * does not hold it under the other's element, so the join does what it
 * does for any dot one side has seen and does not hold: it treats both
 * adds as removed.  The dot leaves both elements (an element left with no
 * dot disappears; one with other dots keeps those) and stays in the
 * context.  Per dot the states order as unseen < under one element <
 * seen and absent, two different elements joining to the last, so merge
 * stays a join on every decodable state, gives the same bytes in either
 * order and never puts a dot under two elements.  (Letting one element
 * keep the dot, say the greater bytes, would make every merge that drops
 * a dot the other side has seen look up where the other side holds it,
 * which the set does not index.)  The cure is not to reuse actor ids.
 *
 * Deltas: every mutator joins its delta (a small OR-set) into the
 * caller's delta object, which thereby accumulates a delta group: add's
 * delta holds the element with the new dot and a context of the new dot
 * plus the superseded dots; remove's and clear's hold no element and a
 * context of the removed dots.  Merging a delta into any replica that has
 * seen the pre-mutation state has the mutation's effect.
 *
 * Iteration (crdt_orset_elem) is in storage order: unspecified and not
 * stable across mutations (a remove moves the last element into the
 * hole).  The encoding sorts.
 *
 * Representation: lib/elemset_internal.h (16-byte entries holding
 * elements of up to 8 bytes in place, longer ones in contiguous storage,
 * one inline dot per element, extra dots spilled to a list, an
 * open-addressing index keyed by SipHash-2-4: the zero key up to 32
 * elements, then a random key per object, drawn when the set first grows
 * past 32, as for the G-set: see crdt/gset.h, which also says why the
 * call that grows it may fail with CRDT_ERR_RANDOM) plus the context.  About 50 bytes per 8-byte element at 10^6
 * elements.
 *
 * Encoding body (type tag CRDT_TAG_ORSET): the context's two fields
 * exactly as crdt/dotctx.h, then the elements as an array of
 * [bin, [[actor, counter], ...]] pairs, strictly ascending by bytes
 * (memcmp, then the shorter first); each element's dots non-empty,
 * strictly ascending by (actor, counter), each in the context, and no
 * dot under two elements (one write adds one element):
 *     [1, 8, {vv}, [[actor, counter], ...], [[elem, [[a, c], ...]], ...]]
 * e.g. actor 5 adding "a" then "b" gives
 *     [1, 8, {5: 2}, [], [[b"a", [[5, 1]]], [b"b", [[5, 2]]]]]
 *     = 95 01 08 81 05 02 90 92 92 c4 01 61 91 92 05 01
 *       92 c4 01 62 91 92 05 02
 */
#ifndef CRDT_ORSET_H
#define CRDT_ORSET_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/dotctx.h>
#include <crdt/type.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque add-wins OR-set. */
typedef struct crdt_orset crdt_orset;

/**
 * crdt_orset_new returns an empty set (no elements, empty context); its
 * hash key is drawn when it grows past 32 elements.
 *
 * Ownership: free with crdt_orset_free; @p mem (NULL = malloc) is copied
 * and used for every allocation of the set.
 * Errors: NULL if allocation fails.
 * Complexity: O(1).
 */
CRDT_API crdt_orset *crdt_orset_new(const crdt_mem *mem);

/** crdt_orset_free frees @p s and its storage.  NULL is a no-op. */
CRDT_API void crdt_orset_free(crdt_orset *s);

/**
 * crdt_orset_clone returns a new set equal to @p src (same allocator and
 * hash key).
 *
 * Errors: NULL if @p src is NULL or allocation fails.  Complexity: O(n).
 */
CRDT_API crdt_orset *crdt_orset_clone(const crdt_orset *src);

/**
 * crdt_orset_copy makes @p dst equal to @p src (assignment, not a join).
 *
 * Ownership: borrows both; @p dst keeps its allocator and takes @p src's
 * hash key; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(n + bytes + context).
 */
CRDT_API int crdt_orset_copy(crdt_orset *dst,
                             const crdt_orset *src) CRDT_WARN_UNUSED;

/** crdt_orset_size returns the number of elements (0 for NULL).  O(1). */
CRDT_API size_t crdt_orset_size(const crdt_orset *s);

/**
 * crdt_orset_contains: true iff the @p len bytes at @p elem are an
 * element (false for NULL @p s).
 * Complexity: O(len) hash plus O(1) expected probes.
 */
CRDT_API bool crdt_orset_contains(const crdt_orset *s, const void *elem,
                                  size_t len);

/**
 * crdt_orset_elem reads the @p i-th element in storage order (see the top
 * of this header) and the number of its dots (>= 1).
 *
 * Ownership: *@p elem points into @p s until it is next modified or freed.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p s), CRDT_ERR_NOT_FOUND (i >=
 * size).  Out-parameters (may be NULL) are written only on success.
 * Complexity: O(1).
 */
CRDT_API int crdt_orset_elem(const crdt_orset *s, size_t i,
                             const uint8_t **elem, size_t *len,
                             size_t *ndots);

/**
 * crdt_orset_elem_dot reads the @p k-th dot (ascending (actor, counter))
 * of the @p i-th element.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL), CRDT_ERR_NOT_FOUND (out of range).
 * @p out is written only on success.  Complexity: O(1).
 */
CRDT_API int crdt_orset_elem_dot(const crdt_orset *s, size_t i, size_t k,
                                 crdt_dot *out);

/**
 * crdt_orset_context_contains: true iff @p dot is in the set's causal
 * context (the events it has seen).  Complexity: as
 * crdt_dotctx_contains.
 */
CRDT_API bool crdt_orset_context_contains(const crdt_orset *s, crdt_dot dot);

/**
 * crdt_orset_add adds the @p len bytes at @p elem as @p actor's next
 * event: a new dot (actor, m + 1), m the largest counter of @p actor in
 * the context, becomes the element's only dot (superseding the dots it
 * had) and joins the context.  The delta ({elem: {new dot}}, context {new
 * dot} plus the superseded dots) is joined into @p delta if not NULL.
 *
 * Ownership: copies the bytes; @p delta must not be @p s.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p s, NULL @p elem with @p len > 0,
 * @p len > 2^31 - 1, @p delta == @p s), CRDT_ERR_OVERFLOW (@p actor's
 * counter is UINT64_MAX), CRDT_ERR_NOMEM.  On error neither @p s nor
 * @p delta changes.
 * Complexity: O(len + log a) expected, amortized; with a delta, plus the
 * join into it (O(1) expected for the element, the context join as
 * crdt_dotctx_join).
 */
CRDT_API int crdt_orset_add(crdt_orset *s, crdt_actor actor, const void *elem,
                            size_t len, crdt_orset *delta) CRDT_WARN_UNUSED;

/**
 * crdt_orset_remove removes the element if present (a successful no-op
 * otherwise), removing what this replica has observed: its dots stay in
 * the context, so a concurrent add elsewhere (a dot not observed here)
 * survives a merge.  The delta (no element, context = the element's dots)
 * is joined into @p delta if not NULL.
 *
 * Errors: CRDT_ERR_INVALID_ARG (as add), CRDT_ERR_NOMEM (only with a
 * delta).  On error neither @p s nor @p delta changes.
 * Complexity: O(len) expected; without a delta one hash, one probe and
 * no allocation (a dot list is freed if the element had several dots);
 * with one, plus the delta join.
 */
CRDT_API int crdt_orset_remove(crdt_orset *s, const void *elem, size_t len,
                               crdt_orset *delta) CRDT_WARN_UNUSED;

/**
 * crdt_orset_clear removes every element (what this replica observed);
 * the delta (no element, context = every removed dot) is joined into
 * @p delta if not NULL.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM (only with a delta).  On
 * error neither changes.
 * Complexity: O(n) (plus O(n log n) to sort the delta's context).
 */
CRDT_API int crdt_orset_clear(crdt_orset *s,
                              crdt_orset *delta) CRDT_WARN_UNUSED;

/**
 * crdt_orset_merge joins @p src (a state or a delta) into @p dst (see
 * the top of this header; a dot the two hold under different elements
 * leaves both).  Commutative, associative, idempotent.
 *
 * Ownership: borrows both; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(n + m) expected: one hash and probe per element of
 * @p src (no hash when the two share a key, as clones do), one context
 * test per dot; allocates a scratch of 8 bytes per element of @p src.
 */
CRDT_API int crdt_orset_merge(crdt_orset *dst,
                              const crdt_orset *src) CRDT_WARN_UNUSED;

/**
 * crdt_orset_equal: true iff same context and same elements with the
 * same dots (NULL is the empty set).  Equal sets have identical
 * encodings.  Complexity: O(n) expected.
 */
CRDT_API bool crdt_orset_equal(const crdt_orset *a, const crdt_orset *b);

/**
 * crdt_orset_encode appends the canonical encoding (see the top of this
 * header) to @p out.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER; on error
 * @p out's length is unchanged.
 * Complexity: O(n + bytes + context); 20 bytes of scratch per element.
 */
CRDT_API int crdt_orset_encode(const crdt_orset *s,
                               crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_orset_decode replaces @p dst with the set encoded in @p data.  The
 * input must be exactly one canonical encoding: a context as
 * crdt_dotctx_decode accepts, elements strictly ascending, each with at
 * least one dot, dots strictly ascending, every dot in the context and
 * under one element only.
 *
 * Ownership: borrows @p data; @p dst keeps its allocator and key.  @p lim
 * NULL means the defaults; @p info (may be NULL) gets the error and its
 * offset on failure.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION,
 * CRDT_ERR_TYPE, CRDT_ERR_LIMIT (more than lim->max_elements elements or
 * dots of one element, an element over lim->max_value_bytes, the
 * context's limits), CRDT_ERR_NOMEM.  On error @p dst is unchanged.
 * Complexity: O(len) when the context's vector counters sum to at most 8
 * times the input's length in bytes (a bitmap of one bit per counter marks
 * the dots seen), else O(len log len) for the dots past that budget;
 * allocates O(len).
 */
CRDT_API int crdt_orset_decode(crdt_orset *dst, const uint8_t *data,
                               size_t len, const crdt_limits *lim,
                               crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_orset_type returns the descriptor of OR-sets (tag CRDT_TAG_ORSET).
 * Ownership: a static constant.
 */
CRDT_API const crdt_type *crdt_orset_type(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_ORSET_H */
