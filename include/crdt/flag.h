/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/flag.h
 * Enable-wins and disable-wins flags: booleans that replicas toggle
 * concurrently, with a rule for concurrent enable and disable.
 *
 * Both are dot sets over a causal context (Almeida, Shoker, Baquero,
 * "Delta state replicated data types", 2018; the ewflag and dwflag of
 * their reference implementation): the dots record the operations that
 * decide the value, and an operation that clears the dots removes only
 * those it has observed.
 *
 * crdt_ewflag, enable-wins: the dots are enables.
 *  - A new flag is disabled (false).
 *  - enable adds a new dot of the actor, superseding every observed dot;
 *    disable removes every observed dot.
 *  - value = true iff some enable dot is present.  An enable concurrent
 *    with a disable survives it: concurrent enable and disable => true.
 *
 * crdt_dwflag, disable-wins, the dual: the dots are disables.
 *  - A new flag is ENABLED (true), as in the literature: it reads false
 *    only while some disable survives.
 *  - disable adds a new dot of the actor, superseding every observed dot;
 *    enable removes every observed dot.
 *  - value = true iff no disable dot is present.  A disable concurrent
 *    with an enable survives it: concurrent enable and disable => false.
 *
 * Merge (both) is the dot-store join: a dot survives iff it is in both
 * flags, or in one and not in the other's context; the contexts are
 * united.  Commutative, associative, idempotent; the new flag is the
 * identity.  Mutators can join their delta (a flag of the same type)
 * into a caller-owned flag used as a delta group; merging deltas in any
 * order, with duplicates, gives what merging the states gives.
 *
 * A dot carries no payload here, so two flags that hold one dot agree on
 * what it names, even when an actor id was reused (replicas that add as
 * one actor from one state make the same dot): unlike an MV-register's
 * or an OR-set's, a flag's merge has no conflicting payloads to resolve,
 * and stays a join on every decodable state.
 *
 * Cost: a flag holds one dot after a local add, a few after concurrent
 * ones; merge is a pass over both dot arrays plus the context join, and
 * allocates only when the destination lacks room.  Each flag type is its
 * own module; both share an internal dot-set kernel.
 *
 * Encoding body (type tag CRDT_TAG_EWFLAG = 9 or CRDT_TAG_DWFLAG = 10):
 * the context as in crdt/dotctx.h, then the dots as an array of
 * [actor, counter] pairs, strictly ascending, each in the context; every
 * integer and header in its shortest form:
 *     [1, tag, {actor: counter, ...}, [[actor, counter], ...],
 *      [[actor, counter], ...]]
 * Example: an ewflag enabled by actor 1 is [1, 9, {1: 1}, [], [[1, 1]]] =
 *     95 01 09 81 01 01 90 91 92 01 01
 * then disabled: [1, 9, {1: 1}, [], []] = 95 01 09 81 01 01 90 90; a new
 * dwflag is [1, 10, {}, [], []] = 95 01 0a 80 90 90.
 */
#ifndef CRDT_FLAG_H
#define CRDT_FLAG_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/dotctx.h>
#include <crdt/type.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================ ewflag */

/** An opaque enable-wins flag. */
typedef struct crdt_ewflag crdt_ewflag;

/**
 * crdt_ewflag_new returns a new, disabled flag.
 *
 * Ownership: free with crdt_ewflag_free.  @p mem (NULL = malloc) is
 * copied and used for every allocation of the flag.
 * Errors: NULL if allocation fails.  Complexity: O(1), one allocation.
 */
CRDT_API crdt_ewflag *crdt_ewflag_new(const crdt_mem *mem);

/** crdt_ewflag_free frees @p flag.  NULL is a no-op. */
CRDT_API void crdt_ewflag_free(crdt_ewflag *flag);

/**
 * crdt_ewflag_clone returns a new flag equal to @p src, with the same
 * allocator.  Errors: NULL if @p src is NULL or allocation fails.
 * Complexity: O(n) in dots and context entries.
 */
CRDT_API crdt_ewflag *crdt_ewflag_clone(const crdt_ewflag *src);

/**
 * crdt_ewflag_copy makes @p dst equal to @p src (assignment, not a join),
 * reusing @p dst's storage when it is large enough.
 *
 * Ownership: borrows both; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(n).
 */
CRDT_API int crdt_ewflag_copy(crdt_ewflag *dst,
                              const crdt_ewflag *src) CRDT_WARN_UNUSED;

/**
 * crdt_ewflag_equal: true iff both hold the same dots and the same
 * context (NULL is the new flag).  Complexity: O(n); no allocation.
 */
CRDT_API bool crdt_ewflag_equal(const crdt_ewflag *a, const crdt_ewflag *b);

/**
 * crdt_ewflag_value: true iff enabled (some enable dot is present);
 * false for NULL.  Complexity: O(1).
 */
CRDT_API bool crdt_ewflag_value(const crdt_ewflag *flag);

/**
 * crdt_ewflag_enable enables the flag by @p actor: a new dot of @p actor
 * (crdt_dotctx_next_dot) replaces every observed enable dot.  If @p delta
 * is non-NULL the delta (the new dot; context: it and the superseded
 * dots) is joined into it.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p flag, @p delta == @p flag),
 * CRDT_ERR_OVERFLOW (@p actor's counter is UINT64_MAX), CRDT_ERR_NOMEM.
 * Atomic: on error neither @p flag nor @p delta changes.
 * Complexity: O(n + log a); allocates only for a first dot, a new actor
 * in the context, or a delta that lacks room.
 */
CRDT_API int crdt_ewflag_enable(crdt_ewflag *flag, crdt_actor actor,
                                crdt_ewflag *delta) CRDT_WARN_UNUSED;

/**
 * crdt_ewflag_disable removes every observed enable dot (a no-op on a
 * disabled flag).  An enable concurrent with it survives the merge.  If
 * @p delta is non-NULL the delta (no dots; context: the removed ones) is
 * joined into it.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p flag, @p delta == @p flag),
 * CRDT_ERR_NOMEM (delta only).  Atomic: on error nothing changes.
 * Complexity: O(n); allocates only for the delta.
 */
CRDT_API int crdt_ewflag_disable(crdt_ewflag *flag,
                                 crdt_ewflag *delta) CRDT_WARN_UNUSED;

/**
 * crdt_ewflag_merge joins @p src (a state or a delta) into @p dst: a dot
 * survives iff it is in both, or in one and not in the other's context.
 * Commutative, associative, idempotent.
 *
 * Ownership: borrows both; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(n + m) lookups plus the context join; allocation-free
 * when @p dst has room for 2n + m dots and the contexts' union.
 */
CRDT_API int crdt_ewflag_merge(crdt_ewflag *dst,
                               const crdt_ewflag *src) CRDT_WARN_UNUSED;

/**
 * crdt_ewflag_encode appends the canonical encoding (top of this header,
 * tag 9) of @p flag to @p out.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER; on error
 * @p out's length is unchanged.  Complexity: O(n).
 */
CRDT_API int crdt_ewflag_encode(const crdt_ewflag *flag,
                                crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_ewflag_decode replaces @p dst with the flag encoded in the @p len
 * bytes at @p data: exactly one canonical encoding with tag 9.  Besides
 * what crdt_dotctx_decode rejects in the context, it rejects dots that
 * are not [uint, uint] pairs, zero counters, unsorted or duplicate dots
 * and dots outside the context.
 *
 * Ownership: borrows @p data; @p dst keeps its allocator.  @p lim NULL
 * means the defaults; @p info (may be NULL) gets the error and offset.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION,
 * CRDT_ERR_TYPE, CRDT_ERR_LIMIT (more than lim->max_elements dots, or
 * the context's limits), CRDT_ERR_NOMEM.  On error @p dst is unchanged.
 * Complexity: O(len); allocates at most 16 bytes per dot (never more than
 * @p len / 3 dots) plus the context.
 */
CRDT_API int crdt_ewflag_decode(crdt_ewflag *dst, const uint8_t *data,
                                size_t len, const crdt_limits *lim,
                                crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_ewflag_type returns the type descriptor of enable-wins flags (tag
 * CRDT_TAG_EWFLAG, name "ewflag").  Ownership: a static constant.
 */
CRDT_API const crdt_type *crdt_ewflag_type(void);

/* ============================================================ dwflag */

/** An opaque disable-wins flag. */
typedef struct crdt_dwflag crdt_dwflag;

/**
 * crdt_dwflag_new returns a new flag, which is ENABLED (no disable dot).
 *
 * Ownership: free with crdt_dwflag_free.  @p mem (NULL = malloc) is
 * copied and used for every allocation of the flag.
 * Errors: NULL if allocation fails.  Complexity: O(1), one allocation.
 */
CRDT_API crdt_dwflag *crdt_dwflag_new(const crdt_mem *mem);

/** crdt_dwflag_free frees @p flag.  NULL is a no-op. */
CRDT_API void crdt_dwflag_free(crdt_dwflag *flag);

/**
 * crdt_dwflag_clone returns a new flag equal to @p src, with the same
 * allocator.  Errors: NULL if @p src is NULL or allocation fails.
 * Complexity: O(n).
 */
CRDT_API crdt_dwflag *crdt_dwflag_clone(const crdt_dwflag *src);

/**
 * crdt_dwflag_copy makes @p dst equal to @p src (assignment).
 *
 * Ownership: borrows both; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(n).
 */
CRDT_API int crdt_dwflag_copy(crdt_dwflag *dst,
                              const crdt_dwflag *src) CRDT_WARN_UNUSED;

/**
 * crdt_dwflag_equal: true iff both hold the same dots and context (NULL
 * is the new flag).  Complexity: O(n); no allocation.
 */
CRDT_API bool crdt_dwflag_equal(const crdt_dwflag *a, const crdt_dwflag *b);

/**
 * crdt_dwflag_value: true iff enabled (no disable dot is present); true
 * for a new flag and for NULL.  Complexity: O(1).
 */
CRDT_API bool crdt_dwflag_value(const crdt_dwflag *flag);

/**
 * crdt_dwflag_enable removes every observed disable dot (a no-op on an
 * enabled flag).  A disable concurrent with it survives the merge.  If
 * @p delta is non-NULL the delta (no dots; context: the removed ones) is
 * joined into it.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p flag, @p delta == @p flag),
 * CRDT_ERR_NOMEM (delta only).  Atomic: on error nothing changes.
 * Complexity: O(n); allocates only for the delta.
 */
CRDT_API int crdt_dwflag_enable(crdt_dwflag *flag,
                                crdt_dwflag *delta) CRDT_WARN_UNUSED;

/**
 * crdt_dwflag_disable disables the flag by @p actor: a new dot of
 * @p actor replaces every observed disable dot.  If @p delta is non-NULL
 * the delta (the new dot; context: it and the superseded dots) is joined
 * into it.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p flag, @p delta == @p flag),
 * CRDT_ERR_OVERFLOW, CRDT_ERR_NOMEM.  Atomic: on error neither @p flag
 * nor @p delta changes.
 * Complexity: O(n + log a).
 */
CRDT_API int crdt_dwflag_disable(crdt_dwflag *flag, crdt_actor actor,
                                 crdt_dwflag *delta) CRDT_WARN_UNUSED;

/**
 * crdt_dwflag_merge joins @p src into @p dst (the dot-store join, as
 * crdt_ewflag_merge).  Commutative, associative, idempotent.
 *
 * Ownership: borrows both; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: as crdt_ewflag_merge.
 */
CRDT_API int crdt_dwflag_merge(crdt_dwflag *dst,
                               const crdt_dwflag *src) CRDT_WARN_UNUSED;

/**
 * crdt_dwflag_encode appends the canonical encoding (tag 10) of @p flag
 * to @p out.  Errors: as crdt_ewflag_encode.  Complexity: O(n).
 */
CRDT_API int crdt_dwflag_encode(const crdt_dwflag *flag,
                                crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_dwflag_decode replaces @p dst with the flag encoded in @p data
 * (tag 10); rejects what crdt_ewflag_decode rejects.
 * Errors: as crdt_ewflag_decode; on error @p dst is unchanged.
 * Complexity: O(len).
 */
CRDT_API int crdt_dwflag_decode(crdt_dwflag *dst, const uint8_t *data,
                                size_t len, const crdt_limits *lim,
                                crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_dwflag_type returns the type descriptor of disable-wins flags (tag
 * CRDT_TAG_DWFLAG, name "dwflag").  Ownership: a static constant.
 */
CRDT_API const crdt_type *crdt_dwflag_type(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_FLAG_H */
