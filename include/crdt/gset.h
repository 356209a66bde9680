/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/gset.h
 * Grow-only sets (G-sets) of byte strings.
 *
 * Elements are byte strings (any bytes, length 0 to 2^31 - 1), compared
 * by their bytes.  add inserts; nothing is ever removed.  Merge is set
 * union: commutative, associative, idempotent.  The delta of an add is
 * the G-set {elem}; deltas join into delta groups by merge.
 *
 * Representation: the element store of lib/elemset_internal.h: 16-byte
 * entries holding elements of up to 8 bytes in place, longer ones back to
 * back in one arena, and an open-addressing index keyed with SipHash-2-4
 * (libsodium's crypto_shorthash).  A set hashes under the zero key while
 * it holds at most 32 elements (collisions cannot make a table that small
 * slow) and draws a random key of its own (libsodium's randombytes_buf)
 * when it first grows past 32, so hostile elements cannot force
 * collisions in a big set and a small one (a delta) costs no system
 * call.  The call that makes a set grow past 32 may therefore also fail
 * with CRDT_ERR_RANDOM (libsodium cannot initialize), the set unchanged.
 * add/contains O(1) expected; merge O(m) for m source elements.
 *
 * Iteration (crdt_gset_elem) is in storage order: insertion order, with
 * the new elements of a merge appended in the source's storage order.
 * The encoding sorts.
 *
 * Encoding body (type tag CRDT_TAG_GSET): one array of the elements as
 * MessagePack bin, strictly ascending by bytes (memcmp over the common
 * length, then the shorter first), so no duplicates:
 *     [1, 11, [bin, ...]]
 * e.g. the set {"b", "a", ""} is
 *     [1, 11, [b"", b"a", b"b"]]
 *     = 93 01 0b 93 c4 00 c4 01 61 c4 01 62
 */
#ifndef CRDT_GSET_H
#define CRDT_GSET_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/type.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque grow-only set. */
typedef struct crdt_gset crdt_gset;

/**
 * crdt_gset_new returns an empty set (its hash key is drawn when it grows
 * past 32 elements; see the top of this header).
 *
 * Ownership: the caller frees it with crdt_gset_free; @p mem (NULL =
 * malloc) is copied and used for every allocation of the set.
 * Errors: NULL if allocation fails.
 * Complexity: O(1).
 */
CRDT_API crdt_gset *crdt_gset_new(const crdt_mem *mem);

/** crdt_gset_free frees @p s and its storage.  NULL is a no-op. */
CRDT_API void crdt_gset_free(crdt_gset *s);

/**
 * crdt_gset_clone returns a new set equal to @p src (same allocator and
 * hash key).
 *
 * Errors: NULL if @p src is NULL or allocation fails.  Complexity: O(n).
 */
CRDT_API crdt_gset *crdt_gset_clone(const crdt_gset *src);

/**
 * crdt_gset_copy makes @p dst equal to @p src (assignment, not a join).
 *
 * Ownership: borrows both; @p dst keeps its allocator and takes
 * @p src's hash key; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(n + bytes).
 */
CRDT_API int crdt_gset_copy(crdt_gset *dst,
                            const crdt_gset *src) CRDT_WARN_UNUSED;

/** crdt_gset_size returns the number of elements (0 for NULL).  O(1). */
CRDT_API size_t crdt_gset_size(const crdt_gset *s);

/**
 * crdt_gset_contains: true iff the @p len bytes at @p elem are an
 * element (false for NULL @p s).  @p elem may be NULL when @p len is 0.
 *
 * Complexity: O(len) hash plus O(1) expected probes.
 */
CRDT_API bool crdt_gset_contains(const crdt_gset *s, const void *elem,
                                 size_t len);

/**
 * crdt_gset_elem reads the @p i-th element in storage order (see the top
 * of this header): `for (i = 0; i < crdt_gset_size(s); i++)`.
 *
 * Ownership: *@p elem points into @p s and is valid until @p s is next
 * modified or freed.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p s), CRDT_ERR_NOT_FOUND (i >=
 * size).  Out-parameters (may be NULL) are written only on success.
 * Complexity: O(1).
 */
CRDT_API int crdt_gset_elem(const crdt_gset *s, size_t i,
                            const uint8_t **elem, size_t *len);

/**
 * crdt_gset_add inserts the @p len bytes at @p elem (a no-op if present).
 * If @p delta is not NULL, the delta {elem} is joined into it (also when
 * the element was present): merging the delta into any replica that has
 * seen @p s's prior state gives the join with @p s's new state.
 *
 * Ownership: copies the bytes; @p delta must not be @p s.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p s, NULL @p elem with @p len > 0,
 * @p len > 2^31 - 1, @p delta == @p s), CRDT_ERR_NOMEM.  On error neither
 * @p s nor @p delta changes.
 * Complexity: O(len) expected, amortized (growth doubles).
 */
CRDT_API int crdt_gset_add(crdt_gset *s, const void *elem, size_t len,
                           crdt_gset *delta) CRDT_WARN_UNUSED;

/**
 * crdt_gset_merge joins @p src into @p dst: set union.  Commutative,
 * associative, idempotent.
 *
 * Ownership: borrows both; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(m) expected for m elements of @p src (one hash and probe
 * each, none when both share a hash key, as clones do).
 */
CRDT_API int crdt_gset_merge(crdt_gset *dst,
                             const crdt_gset *src) CRDT_WARN_UNUSED;

/**
 * crdt_gset_equal: true iff @p a and @p b hold the same elements (NULL is
 * the empty set).  Equal sets have identical encodings.
 * Complexity: O(n) expected.
 */
CRDT_API bool crdt_gset_equal(const crdt_gset *a, const crdt_gset *b);

/**
 * crdt_gset_encode appends the canonical encoding of @p s (see the top of
 * this header) to @p out.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER; on error
 * @p out's length is unchanged.
 * Complexity: O(n + bytes) (a radix sort of 8-byte prefixes); allocates
 * 20 bytes per element of scratch.
 */
CRDT_API int crdt_gset_encode(const crdt_gset *s,
                              crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_gset_decode replaces @p dst with the set encoded in @p data.  The
 * input must be exactly one canonical encoding: bin elements (shortest
 * headers) strictly ascending, no trailing bytes.
 *
 * Ownership: borrows @p data; @p dst keeps its allocator and key.  @p lim
 * NULL means the defaults; @p info (may be NULL) gets the error and its
 * offset on failure.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE (malformed, unsorted or
 * duplicate), CRDT_ERR_VERSION, CRDT_ERR_TYPE, CRDT_ERR_LIMIT (more than
 * lim->max_elements elements or an element over lim->max_value_bytes),
 * CRDT_ERR_NOMEM.  On error @p dst is unchanged.
 * Complexity: O(len); allocates O(len).
 */
CRDT_API int crdt_gset_decode(crdt_gset *dst, const uint8_t *data, size_t len,
                              const crdt_limits *lim,
                              crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_gset_type returns the descriptor of G-sets (tag CRDT_TAG_GSET).
 * Ownership: a static constant.
 */
CRDT_API const crdt_type *crdt_gset_type(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_GSET_H */
