/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/mvreg.h
 * Multi-value register: keeps every concurrent write, lets the app resolve.
 *
 * A crdt_mvreg is a dot store over a causal context (Almeida, Shoker,
 * Baquero, "Delta state replicated data types", 2018): a set of siblings
 * (dot, value) plus the context of every write the replica has seen.
 * Values are caller bytes, copied (zero bytes is a value).
 *
 *  - crdt_mvreg_write(reg, actor, v) makes a new dot d of @p actor and
 *    replaces every sibling by (d, v): the write supersedes each value it
 *    has observed.
 *  - Writes made concurrently on different replicas (neither saw the
 *    other) are all kept after a merge, as siblings.  Reading returns
 *    every sibling with its dot, in ascending (actor, counter) order; the
 *    caller may pick one or combine them (crdt_mvreg_resolve helps) and
 *    write the result, which supersedes them all.
 *  - crdt_mvreg_clear removes every observed sibling (an observed reset);
 *    a concurrent write survives it.
 *
 * Merge is the dot-store join: a sibling survives iff its dot is in both
 * registers, or in one and not in the other's context (the other has not
 * seen that write, so it cannot have superseded it); the contexts are
 * united.  Commutative, associative and idempotent; the empty register
 * is the identity.
 *
 * One dot, two values: a dot names one write, but two registers can hold
 * the same dot with different bytes when an actor id was reused (a
 * replica restarted from a stale snapshot, or a faulty one).  The merge
 * then keeps the sibling whose value is greater in byte order (memcmp
 * over the common length, then the longer one; the order LWW registers
 * break ties with), whichever side it comes from, so merge stays a join
 * on every decodable state and replicas agree on the bytes: per dot, the
 * states order as unseen < each value (in byte order) < seen and
 * superseded.  The other value is lost, as with any tie-break; the cure
 * is not to reuse actor ids.
 *
 * Deltas: write and clear can join their delta into a caller-owned
 * register (a delta group): the delta of a write is the one sibling
 * (d, v) with the context {d} plus the superseded dots, so merging it into
 * any replica has the same effect as the write there, in any order and
 * with duplicates.
 *
 * Representation and cost: siblings are one sorted array; values of up
 * to CRDT_MVREG_INLINE_BYTES (16) bytes are stored inside their sibling,
 * larger ones in a heap block each.  Merge is one two-pointer pass over
 * both sibling arrays with a context lookup per sibling, plus the join of
 * the contexts; when the destination's storage is large enough (e.g. it
 * has merged a register of that size before) and the values are inline,
 * merge never allocates.
 *
 * Encoding body (type tag CRDT_TAG_MVREG): the context as in
 * crdt/dotctx.h (vector map, cloud array), then the siblings as an array
 * of [actor, counter, value] triples, strictly ascending by (actor,
 * counter), each dot in the context, value a MessagePack bin (str is
 * rejected).  Every integer and header is in its shortest form:
 *     [1, 7, {actor: counter, ...}, [[actor, counter], ...],
 *      [[actor, counter, value], ...]]
 * Example: the concurrent writes "a" by actor 1 and "b" by actor 2, both
 * merged, are [1, 7, {1: 1, 2: 1}, [], [[1, 1, "a"], [2, 1, "b"]]] =
 *     95 01 07 82 01 01 02 01 90 92 93 01 01 c4 01 61 93 02 01 c4 01 62
 * and the empty register is 95 01 07 80 90 90.
 */
#ifndef CRDT_MVREG_H
#define CRDT_MVREG_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/dotctx.h>
#include <crdt/type.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Values up to this many bytes are stored inside their sibling. */
#define CRDT_MVREG_INLINE_BYTES 16u
/** Largest value crdt_mvreg_write accepts: 2^32 - 1 bytes. */
#define CRDT_MVREG_MAX_VALUE_BYTES ((size_t)0xffffffffu)

/** crdt_mvreg_max_value_bytes returns CRDT_MVREG_MAX_VALUE_BYTES. */
CRDT_API size_t crdt_mvreg_max_value_bytes(void);

/** An opaque multi-value register. */
typedef struct crdt_mvreg crdt_mvreg;

/**
 * A caller's order of values for crdt_mvreg_resolve: negative if the
 * @p alen bytes at @p a order before the @p blen bytes at @p b, 0 if they
 * tie, positive if after.  Must be a consistent (total pre-)order.
 */
typedef int (*crdt_mvreg_cmp)(const uint8_t *a, size_t alen,
                              const uint8_t *b, size_t blen,
                              void *user_data);

/* ----------------------------------------------------------- lifecycle */

/**
 * crdt_mvreg_new returns an empty register (no sibling, empty context).
 *
 * Ownership: the caller frees it with crdt_mvreg_free.  @p mem (NULL =
 * malloc) is copied and used for every allocation of the register.
 * Errors: NULL if allocation fails.
 * Complexity: O(1), one allocation.
 */
CRDT_API crdt_mvreg *crdt_mvreg_new(const crdt_mem *mem);

/** crdt_mvreg_free frees @p reg and its storage.  NULL is a no-op. */
CRDT_API void crdt_mvreg_free(crdt_mvreg *reg);

/**
 * crdt_mvreg_clone returns a new register equal to @p src, with the same
 * allocator.
 *
 * Errors: NULL if @p src is NULL or allocation fails.
 * Complexity: O(n + bytes) for n siblings and context entries.
 */
CRDT_API crdt_mvreg *crdt_mvreg_clone(const crdt_mvreg *src);

/**
 * crdt_mvreg_copy makes @p dst equal to @p src (assignment, not a join),
 * reusing @p dst's storage when it is large enough.
 *
 * Ownership: borrows both; @p dst keeps its allocator; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(n + bytes); allocates only for values longer than
 * CRDT_MVREG_INLINE_BYTES, or when @p dst's arrays are too small.
 */
CRDT_API int crdt_mvreg_copy(crdt_mvreg *dst,
                             const crdt_mvreg *src) CRDT_WARN_UNUSED;

/**
 * crdt_mvreg_equal: true iff both hold the same siblings (dots and value
 * bytes) and the same context.  NULL is the empty register.
 * Complexity: O(n + bytes).  No allocation.
 */
CRDT_API bool crdt_mvreg_equal(const crdt_mvreg *a, const crdt_mvreg *b);

/* ------------------------------------------------------------- queries */

/** crdt_mvreg_count returns the number of siblings (0 for NULL). */
CRDT_API size_t crdt_mvreg_count(const crdt_mvreg *reg);

/**
 * crdt_mvreg_get reads the @p i-th sibling in ascending (actor, counter)
 * order of its dot, for iteration up to crdt_mvreg_count: its dot to
 * @p dot and its value to @p p / @p len (each may be NULL).
 *
 * Ownership: the bytes are borrowed from @p reg and stay valid until its
 * next mutation (write, clear, merge, copy, decode) or free; they may be
 * passed back to crdt_mvreg_write.  A zero-length value gives a non-NULL
 * @p p.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p reg), CRDT_ERR_NOT_FOUND when
 * @p i >= count.  Out-parameters are written only on success.
 * Complexity: O(1).
 */
CRDT_API int crdt_mvreg_get(const crdt_mvreg *reg, size_t i, crdt_dot *dot,
                            const uint8_t **p, size_t *len);

/**
 * crdt_mvreg_resolve picks one sibling: the greatest by @p cmp (NULL: byte
 * order, memcmp over the common length, then the shorter first); among
 * siblings that tie, the first in dot order.  Every replica holding the
 * same state picks the same sibling.  Write the result back
 * (crdt_mvreg_write) to supersede all the siblings.
 *
 * Ownership: as crdt_mvreg_get; @p cmp is called with @p user_data.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p reg, @p p or @p len),
 * CRDT_ERR_NOT_FOUND (no sibling).  Out-parameters written only on
 * success.
 * Complexity: n - 1 calls of @p cmp.
 */
CRDT_API int crdt_mvreg_resolve(const crdt_mvreg *reg, crdt_mvreg_cmp cmp,
                                void *user_data, const uint8_t **p,
                                size_t *len);

/**
 * crdt_mvreg_observed: true iff the write named @p dot is in @p reg's
 * context (it was seen: it is a sibling or has been superseded).  False
 * for NULL.  Complexity: as crdt_dotctx_contains.
 */
CRDT_API bool crdt_mvreg_observed(const crdt_mvreg *reg, crdt_dot dot);

/* ------------------------------------------------------------ mutators */

/**
 * crdt_mvreg_write writes the @p len bytes at @p val as @p actor's next
 * event: a new dot d (crdt_dotctx_next_dot of the register's context),
 * and the siblings become just (d, value): every observed sibling is
 * superseded.
 *
 * If @p delta is non-NULL, the write's delta (the sibling (d, value), the
 * context {d} plus the superseded dots) is joined into it
 * (crdt_mvreg_merge), so a register used as a delta accumulates a delta
 * group.  Merging @p delta into any replica has the effect of the write.
 *
 * Ownership: copies the value; borrows everything.  @p val may point into
 * @p reg (e.g. a value from crdt_mvreg_resolve); it may be NULL if @p len
 * is 0.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p reg, NULL @p val with @p len > 0,
 * @p delta == @p reg, @p len > CRDT_MVREG_MAX_VALUE_BYTES),
 * CRDT_ERR_OVERFLOW (@p actor's counter is UINT64_MAX), CRDT_ERR_NOMEM.
 * Atomic: on error neither @p reg nor @p delta changes.
 * Complexity: O(n) for n siblings, plus O(log a) for the dot; allocates
 * only for a value longer than CRDT_MVREG_INLINE_BYTES, a first sibling,
 * a new actor in the context, or a delta that lacks room.
 */
CRDT_API int crdt_mvreg_write(crdt_mvreg *reg, crdt_actor actor,
                              const void *val, size_t len,
                              crdt_mvreg *delta) CRDT_WARN_UNUSED;

/**
 * crdt_mvreg_clear removes every sibling (an observed reset: the context
 * keeps their dots, so a write concurrent with the clear survives it).
 * If @p delta is non-NULL, the clear's delta (no sibling; the context of
 * the removed dots) is joined into it.  Clearing an empty register is a
 * no-op.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p reg, @p delta == @p reg),
 * CRDT_ERR_NOMEM; atomic: on error neither @p reg nor @p delta changes.
 * Complexity: O(n); allocates only for the delta.
 */
CRDT_API int crdt_mvreg_clear(crdt_mvreg *reg,
                              crdt_mvreg *delta) CRDT_WARN_UNUSED;

/**
 * crdt_mvreg_merge joins @p src (a state or a delta) into @p dst: a
 * sibling survives iff its dot is in both, or in one and not in the
 * other's context; the contexts are united.  A dot both hold with
 * different values keeps the greater value in byte order (see the top of
 * this header).  Commutative, associative, idempotent; the empty
 * register is the identity.
 *
 * Ownership: borrows both; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; on error @p dst is
 * unchanged.
 * Complexity: O(n + m) lookups for n and m siblings, plus the context
 * join (crdt_dotctx_join).  Allocation-free when @p dst has room for
 * n + (n + m) siblings and the contexts' union and every value @p src
 * contributes is inline; otherwise one allocation per array that grows
 * and per long value copied from @p src (a long value of @p src that
 * replaces one of @p dst's under the same dot included).
 */
CRDT_API int crdt_mvreg_merge(crdt_mvreg *dst,
                              const crdt_mvreg *src) CRDT_WARN_UNUSED;

/* --------------------------------------------------------------- codec */

/**
 * crdt_mvreg_encode appends the canonical encoding of @p reg (see the top
 * of this header) to @p out.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER (fixed
 * buffer too small); on error @p out's length is unchanged.
 * Complexity: O(n + bytes).
 */
CRDT_API int crdt_mvreg_encode(const crdt_mvreg *reg,
                               crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_mvreg_decode replaces @p dst with the register encoded in the
 * @p len bytes at @p data.  The input must be exactly one canonical
 * encoding: besides everything crdt_dotctx_decode rejects in the context,
 * it rejects siblings that are not [uint, uint, bin] triples, zero
 * counters, siblings out of order or duplicated, and sibling dots that
 * are not in the context.
 *
 * Ownership: borrows @p data (values are copied); @p dst keeps its
 * allocator.  @p lim NULL means crdt_limits_default(); @p info (may be
 * NULL) receives the error code and the offset of the offending byte (a
 * sibling's first byte when it is out of order or outside the context;
 * for an input cut short, as crdt_decode_info says).
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION,
 * CRDT_ERR_TYPE, CRDT_ERR_LIMIT (more than lim->max_elements siblings,
 * a value longer than lim->max_value_bytes, or the context's limits),
 * CRDT_ERR_NOMEM.  On error @p dst is unchanged.
 * Complexity: O(len); allocates at most 40 bytes per sibling (never more
 * than @p len / 5 siblings) plus the long values' bytes.
 */
CRDT_API int crdt_mvreg_decode(crdt_mvreg *dst, const uint8_t *data,
                               size_t len, const crdt_limits *lim,
                               crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_mvreg_type returns the type descriptor of multi-value registers
 * (tag CRDT_TAG_MVREG), through which generic code creates, merges,
 * encodes and decodes them (<crdt/type.h>).  Ownership: a static
 * constant.
 */
CRDT_API const crdt_type *crdt_mvreg_type(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_MVREG_H */
