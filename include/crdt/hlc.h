/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/hlc.h
 * Hybrid logical clocks (Kulkarni, Demirbas et al., "Logical Physical
 * Clocks", OPODIS 2014): 64-bit timestamps that stay close to wall-clock
 * time, never go backwards, and respect causality across replicas.
 *
 * A timestamp packs two fields into one uint64_t, so that comparing two
 * timestamps as integers compares them as (l, c) pairs:
 *
 *     bits 63..16  l  physical time, milliseconds since the Unix epoch
 *                     (48 bits: good until the year 10889)
 *     bits 15..0   c  logical counter, orders events within one l
 *
 * A clock keeps the last timestamp it issued.  crdt_hlc_now() stamps a
 * local or send event, crdt_hlc_update() a receive event.  Every timestamp
 * a clock issues is strictly greater than the one before it (even when the
 * wall clock stalls or steps backwards), and greater than every remote
 * timestamp the clock has received, so if event e happened before event f
 * (Lamport), ts(e) < ts(f).  The physical part l is never behind the wall
 * clock reading at the event, and runs ahead of it by at most the largest
 * skew between the clocks of the replicas that talk to each other (itself
 * capped by the drift bound below), plus one millisecond for every 65536
 * timestamps issued within one millisecond.
 *
 * Physical time comes from a callback (default: the system's real-time
 * clock), so tests and simulators can inject their own.  A remote timestamp
 * whose physical part is more than max_drift_ms ahead of the local wall
 * clock is rejected (CRDT_ERR_CLOCK_DRIFT) rather than allowed to drag the
 * clock far into the future.
 *
 * The clock is the documented default timestamp source of the LWW register
 * (crdt_lww_set_now() in <crdt/lww.h>).
 *
 * A clock is not thread-safe: serialise calls on one clock.
 *
 * Encoding body (type tag CRDT_TAG_HLC): the last issued timestamp, so a
 * node can persist its clock and never reissue a timestamp after restart:
 *     [1, 6, last_ts]
 * last_ts is an unsigned integer in its shortest MessagePack form (0 for a
 * clock that has issued nothing).
 */
#ifndef CRDT_HLC_H
#define CRDT_HLC_H

#include <crdt/codec.h>
#include <crdt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bits of the logical counter (the low bits of a timestamp). */
#define CRDT_HLC_LOGICAL_BITS 16u
/** Largest logical counter, 0xffff. */
#define CRDT_HLC_LOGICAL_MAX ((uint64_t)0xffffu)
/** Largest physical time in milliseconds, 2^48 - 1. */
#define CRDT_HLC_MS_MAX (((uint64_t)1 << 48) - 1u)
/** Default bound on how far a remote clock may be ahead: one minute. */
#define CRDT_HLC_DEFAULT_MAX_DRIFT_MS ((uint64_t)60000u)
/** Version of crdt_hlc_settings this header describes. */
#define CRDT_HLC_SETTINGS_VERSION 1u

/**
 * crdt_hlc_pack builds a timestamp from physical milliseconds @p ms and a
 * logical counter @p logical: (ms << 16) | logical.
 *
 * @p ms must be at most CRDT_HLC_MS_MAX; bits above the 48th are
 * discarded (the clock itself never issues such a timestamp; it fails with
 * CRDT_ERR_OVERFLOW instead).
 */
CRDT_API uint64_t crdt_hlc_pack(uint64_t ms, uint16_t logical);

/** crdt_hlc_ms returns the physical part of @p ts (its high 48 bits). */
CRDT_API uint64_t crdt_hlc_ms(uint64_t ts);

/** crdt_hlc_logical returns the logical counter of @p ts (low 16 bits). */
CRDT_API uint16_t crdt_hlc_logical(uint64_t ts);

/**
 * Clock settings.  Fill with crdt_hlc_settings_default() and adjust.
 * The struct is copied by crdt_hlc_new(); @c user_data must outlive the
 * clock.
 */
typedef struct crdt_hlc_settings {
    uint32_t version; /**< CRDT_HLC_SETTINGS_VERSION */
    /**
     * Physical time in milliseconds since the Unix epoch.  Called once per
     * crdt_hlc_now() or crdt_hlc_update().  It may stall or step backwards;
     * the clock stays monotonic regardless.  NULL means the default, the
     * system's CLOCK_REALTIME (0 if that clock cannot be read).
     */
    uint64_t (*wall_ms)(void *user_data);
    void *user_data; /**< passed to @c wall_ms */
    /**
     * Largest amount, in ms, by which a remote timestamp's physical part
     * may be ahead of the local wall clock in crdt_hlc_update().  0 means
     * unbounded.  Default CRDT_HLC_DEFAULT_MAX_DRIFT_MS.
     */
    uint64_t max_drift_ms;
} crdt_hlc_settings;

/**
 * crdt_hlc_settings_default fills @p s with the defaults: version
 * CRDT_HLC_SETTINGS_VERSION, the system real-time clock
 * (clock_gettime(CLOCK_REALTIME), truncated to milliseconds), no
 * user_data, max_drift_ms CRDT_HLC_DEFAULT_MAX_DRIFT_MS.  Does nothing if
 * @p s is NULL.
 */
CRDT_API void crdt_hlc_settings_default(crdt_hlc_settings *s);

/** An opaque hybrid logical clock. */
typedef struct crdt_hlc crdt_hlc;

/**
 * crdt_hlc_new returns a clock that has issued nothing yet
 * (crdt_hlc_last() is 0).
 *
 * Ownership: the caller frees it with crdt_hlc_free.  @p settings (NULL =
 * crdt_hlc_settings_default()) and @p mem (NULL = malloc) are copied.
 * Errors: NULL if allocation fails or @p settings->version is not
 * CRDT_HLC_SETTINGS_VERSION.
 * Complexity: O(1), one allocation.
 */
CRDT_API crdt_hlc *crdt_hlc_new(const crdt_hlc_settings *settings,
                                const crdt_mem *mem);

/** crdt_hlc_free frees @p hlc.  NULL is a no-op. */
CRDT_API void crdt_hlc_free(crdt_hlc *hlc);

/**
 * crdt_hlc_last returns the last timestamp @p hlc issued (or restored with
 * crdt_hlc_decode); 0 if none or if @p hlc is NULL.  A clock never issues
 * 0.  Complexity: O(1).
 */
CRDT_API uint64_t crdt_hlc_last(const crdt_hlc *hlc);

/**
 * crdt_hlc_now issues the timestamp of a local or send event and writes it
 * to @p ts.  With pt the wall clock and (l, c) the last timestamp:
 * l' = max(l, pt); c' = c + 1 if l' == l, else 0.  When c + 1 would exceed
 * CRDT_HLC_LOGICAL_MAX (more than 65536 events in one millisecond, or a
 * wall clock stalled behind l), l' advances by one millisecond and c'
 * is 0, so the result is always strictly greater than the last timestamp
 * (in integer terms the result is max(pack(pt, 0), last + 1)).
 *
 * Ownership: borrows @p hlc; calls the wall clock once.
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument); CRDT_ERR_OVERFLOW if the
 * wall clock reads more than CRDT_HLC_MS_MAX, or if the last timestamp is
 * UINT64_MAX.  On error the clock is unchanged and @p ts is not written.
 * Complexity: O(1), no allocation.
 */
CRDT_API int crdt_hlc_now(crdt_hlc *hlc, uint64_t *ts) CRDT_WARN_UNUSED;

/**
 * crdt_hlc_update issues the timestamp of the event of receiving a message
 * stamped @p remote, and writes it to @p ts.  As in the paper, with pt the
 * wall clock, (l, c) the last timestamp and (lm, cm) the remote one:
 * l' = max(l, lm, pt); c' = max(c, cm) + 1 if l' == l == lm, c + 1 if
 * l' == l only, cm + 1 if l' == lm only, else 0; a counter past
 * CRDT_HLC_LOGICAL_MAX carries into l' as in crdt_hlc_now.  The result is
 * strictly greater than both the last timestamp and @p remote (in integer
 * terms, max(pack(pt, 0), last + 1, remote + 1)).
 *
 * Ownership: borrows @p hlc; calls the wall clock once.
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument); CRDT_ERR_CLOCK_DRIFT if the
 * bound max_drift_ms is non-zero and lm > pt + max_drift_ms (the remote
 * timestamp is too far in the future); CRDT_ERR_OVERFLOW if the wall clock
 * reads more than CRDT_HLC_MS_MAX or the result would exceed UINT64_MAX.
 * On error the clock is unchanged and @p ts is not written.
 * Complexity: O(1), no allocation.
 */
CRDT_API int crdt_hlc_update(crdt_hlc *hlc, uint64_t remote,
                             uint64_t *ts) CRDT_WARN_UNUSED;

/**
 * crdt_hlc_encode appends the canonical encoding of @p hlc's state (its
 * last timestamp) to @p out.  Persist it before handing out timestamps
 * (or periodically, with a margin) and restore it with crdt_hlc_decode
 * after a restart, so the clock never issues a timestamp twice even if the
 * wall clock went backwards meanwhile.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER (fixed
 * buffer too small); on error @p out's length is unchanged.
 * Complexity: O(1); at most 12 bytes.
 */
CRDT_API int crdt_hlc_encode(const crdt_hlc *hlc,
                             crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_hlc_decode sets @p dst's last timestamp to the one encoded in the
 * @p len bytes at @p data.  This is assignment, not a join: it can move the
 * clock backwards, so decode into a clock that has not issued timestamps
 * yet (a freshly started node).  The settings of @p dst are kept.  The
 * input must be exactly one canonical encoding: shortest integer forms, no
 * trailing bytes.
 *
 * Ownership: borrows @p data.  @p lim NULL means crdt_limits_default();
 * @p info (may be NULL) receives the error offset on failure.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION,
 * CRDT_ERR_TYPE.  On error @p dst is unchanged.
 * Complexity: O(1), no allocation.
 */
CRDT_API int crdt_hlc_decode(crdt_hlc *dst, const uint8_t *data, size_t len,
                             const crdt_limits *lim,
                             crdt_decode_info *info) CRDT_WARN_UNUSED;

#ifdef __cplusplus
}
#endif
#endif /* CRDT_HLC_H */
