/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/lww.h
 * Last-writer-wins register: holds the value of the latest write.
 *
 * A crdt_lww is either empty (never written: no value) or holds one write:
 * a value (caller bytes, copied; zero bytes is a value, unlike "no value"),
 * a timestamp and the actor that wrote it.  Writes are totally ordered by
 * the triple (timestamp, actor, value bytes), compared lexicographically:
 *   1. the larger timestamp wins;
 *   2. on equal timestamps, the larger actor id wins;
 *   3. on equal (timestamp, actor), the larger value wins, comparing the
 *      bytes as unsigned (memcmp) over the common length, and if those are
 *      equal the longer value wins (so "ab" < "abc" < "b").
 * Any write beats the empty register.  Writes that agree on all three are
 * the same write.  Because the order is total, merge (keep the later of
 * two writes) is the join of a total order: commutative, associative and
 * idempotent, even when two replicas misuse one actor id at one timestamp.
 *
 * Timestamps are caller-supplied uint64_t values; crdt_lww_set_now() takes
 * them from a hybrid logical clock (<crdt/hlc.h>), the documented default
 * source.  Use distinct actor ids per replica so that rule 3 never decides
 * between two genuinely different writes.
 *
 * Deltas: crdt_lww_set() and crdt_lww_set_now() can join the write into a
 * caller-owned register used as a delta (group): merging that delta into
 * any replica has the same effect as performing the write there.
 *
 * Representation and cost: values of up to CRDT_LWW_INLINE_BYTES (16)
 * bytes live inside the register, so writing or merging them never
 * allocates; larger values live in one heap block that is kept and reused
 * by later values that fit in it (it is released by crdt_lww_free).
 * Merge is a compare of (timestamp, actor) and, for the winner, a fixed
 * 16-byte copy for inline values or a memcpy for larger ones.
 *
 * Values are at most CRDT_LWW_MAX_VALUE_BYTES (2^32 - 1, the largest
 * MessagePack bin) bytes.  Decoders further reject values longer than
 * crdt_limits.max_value_bytes (default 16 MiB), so a peer only accepts
 * values within the limits it was given.
 *
 * Encoding body (type tag CRDT_TAG_LWW), every integer and bin header in
 * its shortest MessagePack form:
 *     [1, 5]                                   the empty register
 *     [1, 5, timestamp, actor, value]          a written register
 * where timestamp and actor are unsigned integers (uint 64 at most) and
 * value is a MessagePack bin (bin 8/16/32, possibly of length 0; a str is
 * rejected).  Example: timestamp 1, actor 2, value "hi" encodes as
 *     95 01 05 01 02 c4 02 68 69
 */
#ifndef CRDT_LWW_H
#define CRDT_LWW_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/type.h>
#include <crdt/hlc.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Values up to this many bytes are stored inside the register. */
#define CRDT_LWW_INLINE_BYTES 16u
/** Largest value crdt_lww_set accepts: 2^32 - 1 bytes. */
#define CRDT_LWW_MAX_VALUE_BYTES ((size_t)0xffffffffu)

/** crdt_lww_max_value_bytes returns CRDT_LWW_MAX_VALUE_BYTES. */
CRDT_API size_t crdt_lww_max_value_bytes(void);

/** An opaque last-writer-wins register. */
typedef struct crdt_lww crdt_lww;

/**
 * crdt_lww_new returns an empty register (no value).
 *
 * Ownership: the caller frees it with crdt_lww_free.  @p mem (NULL =
 * malloc) is copied and used for every allocation of the register.
 * Errors: NULL if allocation fails.
 * Complexity: O(1), one allocation.
 */
CRDT_API crdt_lww *crdt_lww_new(const crdt_mem *mem);

/** crdt_lww_free frees @p reg and its value.  NULL is a no-op. */
CRDT_API void crdt_lww_free(crdt_lww *reg);

/**
 * crdt_lww_clone returns a new register equal to @p src, with the same
 * allocator.
 *
 * Errors: NULL if @p src is NULL or allocation fails.
 * Complexity: O(value length); one allocation for inline values, two for
 * larger ones.
 */
CRDT_API crdt_lww *crdt_lww_clone(const crdt_lww *src);

/**
 * crdt_lww_copy makes @p dst equal to @p src (assignment, not a join: it
 * may move @p dst backwards), reusing @p dst's value block when it is
 * large enough.
 *
 * Ownership: borrows both; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * Complexity: O(value length); allocates only for a value longer than
 * CRDT_LWW_INLINE_BYTES that does not fit @p dst's block.
 */
CRDT_API int crdt_lww_copy(crdt_lww *dst,
                           const crdt_lww *src) CRDT_WARN_UNUSED;

/**
 * crdt_lww_equal: true iff both are empty, or both hold the same write
 * (timestamp, actor and value bytes).  NULL is treated as the empty
 * register.  Complexity: O(value length).
 */
CRDT_API bool crdt_lww_equal(const crdt_lww *a, const crdt_lww *b);

/**
 * crdt_lww_compare orders the writes held by @p a and @p b in the total
 * order documented above: negative if @p a's write orders first, 0 if they
 * are the same write (or both empty), positive if @p a's orders after.
 * The empty register (or NULL) orders before every write.
 * Complexity: O(1) unless timestamps and actors tie, then O(value length).
 */
CRDT_API int crdt_lww_compare(const crdt_lww *a, const crdt_lww *b);

/* ---------------------------------------------------------- queries */

/** crdt_lww_has_value: true iff @p reg holds a write (false for NULL). */
CRDT_API bool crdt_lww_has_value(const crdt_lww *reg);

/**
 * crdt_lww_value points @p p at the value bytes and writes their count to
 * @p len.
 *
 * Ownership: the bytes are borrowed from @p reg and stay valid until its
 * next mutation (set, merge, copy, decode) or free.  A zero-length value
 * gives a non-NULL @p p and @p len 0.
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument); CRDT_ERR_NOT_FOUND if the
 * register is empty.  Out-parameters are written only on success.
 * Complexity: O(1).
 */
CRDT_API int crdt_lww_value(const crdt_lww *reg, const uint8_t **p,
                            size_t *len);

/** crdt_lww_timestamp returns the timestamp of the write held (0 if the
 * register is empty or NULL). */
CRDT_API uint64_t crdt_lww_timestamp(const crdt_lww *reg);

/** crdt_lww_actor returns the actor of the write held (0 if the register
 * is empty or NULL). */
CRDT_API crdt_actor crdt_lww_actor(const crdt_lww *reg);

/**
 * crdt_lww_supersedes: true iff a write (@p ts, @p actor, the @p len bytes
 * at @p val) orders after the write @p reg holds, i.e. iff crdt_lww_set
 * with these arguments would take effect.  False for a NULL @p reg, or
 * @p val NULL with @p len > 0.  Complexity: as crdt_lww_compare.
 */
CRDT_API bool crdt_lww_supersedes(const crdt_lww *reg, uint64_t ts,
                                  crdt_actor actor, const void *val,
                                  size_t len);

/* ---------------------------------------------------------- mutators */

/**
 * crdt_lww_set writes the @p len bytes at @p val with timestamp @p ts by
 * @p actor.  The write takes effect iff it orders after the write @p reg
 * holds (crdt_lww_supersedes); otherwise the call is a no-op that returns
 * CRDT_OK (the register already holds a later write, which would win any
 * merge anyway).  So set is itself a join with a one-write register:
 * idempotent, and the result does not depend on the order of writes.
 *
 * If @p delta is non-NULL and the write took effect in @p reg, the write
 * is also joined into @p delta (crdt_lww_merge semantics), so a register
 * used as a delta accumulates a delta group; merging @p delta into any
 * replica has the same effect as this write.  A no-op leaves @p delta
 * unchanged too.
 *
 * Ownership: copies the value; borrows everything.  @p val may be NULL if
 * @p len is 0 (an empty value, which is still a value).
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p reg, NULL @p val with @p len > 0,
 * @p delta == @p reg, @p len > CRDT_LWW_MAX_VALUE_BYTES), CRDT_ERR_NOMEM.
 * The call is atomic: on error neither @p reg nor @p delta changes.
 * Complexity: O(len); allocates only for a value longer than
 * CRDT_LWW_INLINE_BYTES that does not fit the target's value block.
 */
CRDT_API int crdt_lww_set(crdt_lww *reg, uint64_t ts, crdt_actor actor,
                          const void *val, size_t len,
                          crdt_lww *delta) CRDT_WARN_UNUSED;

/**
 * crdt_lww_set_now writes a value as crdt_lww_set does, timestamped by
 * @p hlc: the timestamp is crdt_hlc_update(@p hlc, timestamp of @p reg)
 * if @p reg holds a write, else crdt_hlc_now(@p hlc).  Observing the
 * register's timestamp first (a receive event of the hybrid logical clock)
 * makes the new timestamp later than the write it replaces, so the write
 * always takes effect, and the register's new timestamp is the clock's new
 * crdt_hlc_last().
 *
 * Ownership: as crdt_lww_set; advances @p hlc only on success.
 * Errors: as crdt_lww_set (also CRDT_ERR_INVALID_ARG for a NULL @p hlc),
 * plus those of crdt_hlc_now / crdt_hlc_update: CRDT_ERR_CLOCK_DRIFT if
 * the register's timestamp is further ahead of the wall clock than the
 * clock's drift bound, CRDT_ERR_OVERFLOW.  On error @p reg, @p delta and
 * @p hlc are unchanged.
 * Complexity: as crdt_lww_set, plus one wall-clock read.
 */
CRDT_API int crdt_lww_set_now(crdt_lww *reg, crdt_hlc *hlc, crdt_actor actor,
                              const void *val, size_t len,
                              crdt_lww *delta) CRDT_WARN_UNUSED;

/**
 * crdt_lww_merge joins @p src into @p dst: @p dst keeps the later of the
 * two writes in the documented total order.  Commutative, associative,
 * idempotent; the empty register is the identity.
 *
 * Ownership: borrows both; src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; on error @p dst is
 * unchanged.
 * Complexity: O(1) when @p dst wins or the value is inline (never
 * allocates then); O(value length) to copy a larger winning value, which
 * allocates only if it does not fit @p dst's value block.
 */
CRDT_API int crdt_lww_merge(crdt_lww *dst,
                            const crdt_lww *src) CRDT_WARN_UNUSED;

/* ---------------------------------------------------------- codec */

/**
 * crdt_lww_encode appends the canonical encoding of @p reg (see the top of
 * this header) to @p out.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER (fixed
 * buffer too small); on error @p out's length is unchanged.
 * Complexity: O(value length); at most 26 + value length bytes.
 */
CRDT_API int crdt_lww_encode(const crdt_lww *reg,
                             crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_lww_decode replaces @p dst with the register encoded in the @p len
 * bytes at @p data.  The input must be exactly one canonical encoding:
 * two or five elements, shortest integer and bin forms, no trailing bytes.
 *
 * Ownership: borrows @p data (the value is copied); @p dst keeps its
 * allocator.  @p lim NULL means crdt_limits_default(); @p info (may be
 * NULL) receives the error offset on failure.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION,
 * CRDT_ERR_TYPE, CRDT_ERR_LIMIT (value longer than lim->max_value_bytes),
 * CRDT_ERR_NOMEM.  On error @p dst is unchanged.
 * Complexity: O(len); allocates at most the value's length, and only if
 * it exceeds CRDT_LWW_INLINE_BYTES and does not fit @p dst's block.
 */
CRDT_API int crdt_lww_decode(crdt_lww *dst, const uint8_t *data, size_t len,
                             const crdt_limits *lim,
                             crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_lww_type returns the type descriptor of LWW registers (tag CRDT_TAG_LWW), through
 * which generic code creates, merges, encodes and decodes them
 * (<crdt/type.h>).  Ownership: a static constant.
 */
CRDT_API const crdt_type *crdt_lww_type(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_LWW_H */
