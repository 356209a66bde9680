/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/causal.h
 * Causal delivery queue: holds messages stamped with version vectors until
 * their causal past has been delivered, then hands them out in causal
 * order (the causal broadcast of Birman, Schiper and Stephenson, 1991).
 *
 * Stamps.  A message is stamped with its sender's full version vector at
 * the time it was sent, the sender's own entry counting the message
 * itself: the sender's n-th message has stamp[sender] == n, and
 * stamp[k] is the number of k's messages the sender had delivered before
 * sending it.  crdt_causal_queue_stamp() makes such stamps.  The queue
 * keeps the delivered clock D of the local node, and a message m from j
 * is deliverable exactly when crdt_vclock_can_deliver(D, stamp, j):
 *     stamp[j] == D[j] + 1  and  stamp[k] <= D[k] for every k != j.
 * Delivering it sets D[j] = stamp[j].  So every message is delivered
 * after every message that happened before it (whose stamp it
 * dominates), and messages from one sender in the order they were sent.
 *
 * Use.  The application pushes each message it receives, in whatever
 * order the network brings them and as often as it brings them, then pops
 * the deliverable ones:
 *
 *     crdt_causal_queue_push(q, sender, stamp, data, len, NULL);
 *     while (crdt_causal_queue_pop(q, &m) == CRDT_OK)
 *         apply(m.sender, m.data, m.len);
 *
 * A message already delivered or already held is a duplicate: it is
 * dropped, counted and reported (CRDT_CAUSAL_DUPLICATE), never held or
 * delivered twice.  The first copy of a dot (sender, stamp[sender]) wins;
 * a later copy with another stamp or payload is dropped as a duplicate
 * too (it can only come from a sender that reused an actor id).
 *
 * Memory.  The queue copies payloads and stamps.  Its bounds (max_messages
 * and max_bytes in crdt_causal_settings; a message counts its payload
 * bytes plus CRDT_CAUSAL_ENTRY_BYTES per stamp entry) apply to what it
 * holds.  A message that must wait is refused with CRDT_ERR_LIMIT when
 * the queue would then exceed a bound.  A message that is deliverable on
 * arrival is refused only when the messages ready to pop would by
 * themselves exceed a bound: waiting messages may depend on it, so
 * refusing it could stall a full queue for good.  A queue therefore
 * never holds more than twice its bounds, and holds more than its bounds
 * only while the application does not pop.  Nothing is ever evicted.
 *
 * Lost messages.  A sender whose earlier messages never arrive (lost for
 * good, or a sender that crashed before they left) leaves its later
 * messages, and every message that depends on the missing ones, waiting:
 * they use memory up to the bounds and are never delivered.  The queue
 * does not guess; it reports what it waits for
 * (crdt_causal_queue_waiting_for: the missing dots, as ranges), so the
 * application can ask the sender or a peer to send them again, and gives
 * it two ways out: crdt_causal_queue_drop discards a sender's waiting
 * messages, and crdt_causal_queue_advance marks messages as delivered
 * without their payloads (their effects came another way, e.g. in a
 * state snapshot from a peer, or the application gives up on them),
 * which releases what waited for them.
 *
 * Representation: each held message is one allocation (header and
 * payload) plus its stamp (a crdt_vclock).  An open-addressing table
 * keyed by dot (actor, counter), hashed with SipHash-2-4 under a random
 * per-queue key (so hostile stamps cannot force collisions), finds the
 * held message of a dot and the list of messages waiting for a dot to be
 * delivered.  A waiting message waits for one dot at a time: the first
 * unmet entry of its stamp; when that dot is delivered it resumes
 * checking where it stopped, so each message's stamp is read once over
 * its whole stay, and a delivery wakes only the messages that wait for
 * it: nothing rescans the queue.  Deliverable messages wait in a FIFO in
 * the order they became deliverable, which is what pop yields: the order
 * never depends on hash values, so a given sequence of calls always gives
 * the same deliveries.
 *
 * No global state, no I/O, no clock.  A queue is not synchronised: use it
 * from one thread at a time.
 */
#ifndef CRDT_CAUSAL_H
#define CRDT_CAUSAL_H

#include <crdt/common.h>
#include <crdt/vclock.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of crdt_causal_settings this header describes. */
#define CRDT_CAUSAL_SETTINGS_VERSION 1u
/** Default max_messages. */
#define CRDT_CAUSAL_DEFAULT_MAX_MESSAGES ((size_t)65536)
/** Default max_bytes: 64 MiB. */
#define CRDT_CAUSAL_DEFAULT_MAX_BYTES ((size_t)64 << 20)
/** Bytes a message counts against max_bytes per entry of its stamp. */
#define CRDT_CAUSAL_ENTRY_BYTES 16u

/**
 * Queue settings.  Fill with crdt_causal_settings_default() and adjust.
 * Copied by crdt_causal_queue_new().
 */
typedef struct crdt_causal_settings {
    uint32_t version;    /**< CRDT_CAUSAL_SETTINGS_VERSION */
    /** Messages held, waiting or ready (CRDT_CAUSAL_DEFAULT_MAX_MESSAGES);
     * at least 1.  See "Memory" above. */
    size_t max_messages;
    /** Bytes held: payloads plus CRDT_CAUSAL_ENTRY_BYTES per stamp entry
     * (CRDT_CAUSAL_DEFAULT_MAX_BYTES); at least 1.  A message larger
     * than this is never accepted. */
    size_t max_bytes;
} crdt_causal_settings;

/**
 * crdt_causal_settings_default fills @p s with the defaults given with
 * each field.  NULL: no-op.
 */
CRDT_API void crdt_causal_settings_default(crdt_causal_settings *s);

/** An opaque causal delivery queue. */
typedef struct crdt_causal_queue crdt_causal_queue;

/** What crdt_causal_queue_push did with a message it accepted. */
typedef enum crdt_causal_status {
    CRDT_CAUSAL_READY = 0,     /**< held, deliverable now: pop it */
    CRDT_CAUSAL_WAITING = 1,   /**< held until its causal past is
                                *   delivered */
    CRDT_CAUSAL_DUPLICATE = 2  /**< dropped: already delivered or held */
} crdt_causal_status;

/** A message handed out by crdt_causal_queue_pop. */
typedef struct crdt_causal_msg {
    crdt_actor sender;
    uint64_t seq;              /**< stamp[sender]: its number at the
                                *   sender, from 1 */
    const crdt_vclock *stamp;  /**< the stamp it was pushed with */
    const uint8_t *data;       /**< the payload (NULL when len is 0) */
    size_t len;
} crdt_causal_msg;

/**
 * Missing messages: actor's messages first..last (inclusive) have not
 * been delivered or pushed, and some held message depends on them.
 */
typedef struct crdt_causal_gap {
    crdt_actor actor;
    uint64_t first;
    uint64_t last;
} crdt_causal_gap;

/** Counters of a queue (crdt_causal_queue_stats). */
typedef struct crdt_causal_stats {
    uint64_t held;        /**< now: messages held, waiting or ready */
    uint64_t ready;       /**< now: of those, deliverable */
    uint64_t bytes;       /**< now: bytes held, as counted for max_bytes */
    uint64_t accepted;    /**< pushes held (READY or WAITING) */
    uint64_t delivered;   /**< messages popped */
    uint64_t duplicates;  /**< pushes dropped as DUPLICATE */
    uint64_t rejected;    /**< pushes refused by a bound (CRDT_ERR_LIMIT) */
    uint64_t dropped;     /**< held messages discarded by drop, advance
                           *   or stamp */
} crdt_causal_stats;

/* ----------------------------------------------------------- lifecycle */

/**
 * crdt_causal_queue_new creates an empty queue whose delivered clock is
 * empty (set it with crdt_causal_queue_advance for a node that starts
 * from a state that already has messages in it).
 *
 * Ownership: on success *@p out is a new queue the caller frees with
 * crdt_causal_queue_free.  @p settings (NULL = defaults) and @p mem
 * (NULL = malloc) are copied; every allocation of the queue goes through
 * @p mem.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p out, wrong settings version, a
 * bound of 0), CRDT_ERR_NOMEM, CRDT_ERR_RANDOM (libsodium could not
 * initialise to draw the hash key).  *@p out is written only on success.
 * Complexity: O(1).
 */
CRDT_API int crdt_causal_queue_new(crdt_causal_queue **out,
                                   const crdt_causal_settings *settings,
                                   const crdt_mem *mem) CRDT_WARN_UNUSED;

/** crdt_causal_queue_free frees @p q and every message it holds.  NULL
 * is a no-op. */
CRDT_API void crdt_causal_queue_free(crdt_causal_queue *q);

/* -------------------------------------------------------------- queries */

/**
 * crdt_causal_queue_delivered returns the delivered clock's entry of
 * @p actor: how many of its messages the queue has delivered (popped,
 * stamped locally or advanced past).  0 for a NULL @p q.
 * Complexity: O(log senders).
 */
CRDT_API uint64_t crdt_causal_queue_delivered(const crdt_causal_queue *q,
                                              crdt_actor actor);

/**
 * crdt_causal_queue_clock makes @p out equal to the delivered clock.
 *
 * Ownership: borrows both; @p out keeps its allocator.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p out unchanged on
 * error.  Complexity: O(senders).
 */
CRDT_API int crdt_causal_queue_clock(const crdt_causal_queue *q,
                                     crdt_vclock *out) CRDT_WARN_UNUSED;

/** crdt_causal_queue_stats copies @p q's counters into @p out.  Either
 * NULL: no-op. */
CRDT_API void crdt_causal_queue_stats(const crdt_causal_queue *q,
                                      crdt_causal_stats *out);

/**
 * crdt_causal_queue_waiting_for reports the messages the queue waits for:
 * for each actor, the counters after its delivered entry, up to the
 * largest any waiting message depends on, that no held message has, as
 * maximal ranges, in ascending (actor, first) order.  It writes the first
 * min(count, @p cap) gaps to @p out and the count to *@p count; call it
 * with @p cap 0 to size @p out.  No gaps means that nothing is missing:
 * every waiting message becomes deliverable as the ready ones are popped.
 *
 * Ownership: borrows @p q; @p out may be NULL when @p cap is 0.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM (a temporary array); on
 * error nothing is written.
 * Complexity: O(e log e) for the e unmet stamp entries and held messages;
 * allocates one temporary array of e entries.
 */
CRDT_API int crdt_causal_queue_waiting_for(const crdt_causal_queue *q,
                                           crdt_causal_gap *out,
                                           size_t cap,
                                           size_t *count) CRDT_WARN_UNUSED;

/* ------------------------------------------------------------- mutators */

/**
 * crdt_causal_queue_push offers a received message: the @p len bytes at
 * @p data, sent by @p sender with stamp @p stamp (see the top of this
 * header).  A message already delivered (stamp[sender] <= delivered
 * entry) or already held (same sender and stamp[sender]) is dropped and
 * counted; else it is held, ready to pop if deliverable, waiting if not.
 * *@p status (may be NULL) says which.
 *
 * Ownership: copies @p stamp and the payload; borrows nothing after the
 * call.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p q or @p stamp, NULL @p data with
 * @p len > 0, stamp[sender] == 0), CRDT_ERR_LIMIT (refused by a bound,
 * see "Memory" above: pop, drop or advance, then offer it again),
 * CRDT_ERR_NOMEM.  On error the queue holds what it held before and
 * *@p status is not written; only the rejected counter changes.  A
 * duplicate is not an error.
 * Complexity: O(n log s) for a stamp of n entries and s known senders,
 * plus O(1) expected hash probes; three allocations (message, stamp
 * object and its entries) and, amortised, table growth.
 */
CRDT_API int crdt_causal_queue_push(crdt_causal_queue *q, crdt_actor sender,
                                    const crdt_vclock *stamp,
                                    const void *data, size_t len,
                                    crdt_causal_status *status)
    CRDT_WARN_UNUSED;

/**
 * crdt_causal_queue_pop delivers the next deliverable message: the one
 * that has been deliverable longest.  The delivered clock's entry of its
 * sender becomes its seq; messages that waited only for it become
 * deliverable.
 *
 * Ownership: *@p out borrows from the queue (the stamp and the payload
 * stay valid until the next call that changes the queue: push, pop,
 * stamp, drop, advance or free).
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOT_FOUND (nothing deliverable;
 * waiting messages may remain).  Never allocates, so never fails for
 * memory.  *@p out is written only on success.
 * Complexity: O(1), plus the resumed check of each message that waited
 * for this one (O(n log s) for n stamp entries, amortised over the
 * message's stay).
 */
CRDT_API int crdt_causal_queue_pop(crdt_causal_queue *q,
                                   crdt_causal_msg *out) CRDT_WARN_UNUSED;

/**
 * crdt_causal_queue_stamp records a message the local node broadcasts as
 * @p self: the delivered clock's entry of @p self goes up by one (a node
 * delivers its own message at once) and @p out becomes the new delivered
 * clock, the message's stamp.  Send the message with it.  A held copy of
 * that dot (from an earlier life of an actor id reused) is discarded.
 *
 * Ownership: borrows both; @p out keeps its allocator.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_OVERFLOW (entry at UINT64_MAX),
 * CRDT_ERR_NOMEM.  On error neither the queue nor @p out changes.
 * Complexity: O(senders); allocates only when @p self is new to the
 * queue or @p out lacks room.
 */
CRDT_API int crdt_causal_queue_stamp(crdt_causal_queue *q, crdt_actor self,
                                     crdt_vclock *out) CRDT_WARN_UNUSED;

/**
 * crdt_causal_queue_drop discards the waiting messages of @p sender
 * (not its ready ones), for a sender whose missing messages will never
 * come.  Messages of other senders that depend on the missing ones keep
 * waiting; drop them too, or advance past the gap instead.  Writes the
 * number discarded to *@p n (may be NULL).
 *
 * Errors: CRDT_ERR_INVALID_ARG.  Never allocates.
 * Complexity: O(held messages).
 */
CRDT_API int crdt_causal_queue_drop(crdt_causal_queue *q, crdt_actor sender,
                                    size_t *n);

/**
 * crdt_causal_queue_advance joins @p vc into the delivered clock: the
 * messages it covers count as delivered, without being handed out (their
 * effects arrived another way, such as a state snapshot from a peer, or
 * the application gives up on them).  Held messages it covers are
 * discarded (counted as dropped); waiting messages whose causal past it
 * completes become deliverable, in the order they were pushed.
 *
 * Ownership: borrows @p vc.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; on error the queue is
 * unchanged.
 * Complexity: O(s + n + held messages) for @p vc of n entries.
 */
CRDT_API int crdt_causal_queue_advance(crdt_causal_queue *q,
                                       const crdt_vclock *vc)
    CRDT_WARN_UNUSED;

#ifdef __cplusplus
}
#endif
#endif /* CRDT_CAUSAL_H */
