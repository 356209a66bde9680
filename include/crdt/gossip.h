/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/gossip.h
 * The anti-entropy gossip engine (libcrdt-gossip): a keyed store of CRDTs
 * kept converged across peers, sans-IO.
 *
 * The engine does no I/O of its own.  The application feeds it the time
 * and the datagrams it receives, and sends the datagrams it hands back:
 *
 *     crdt_gossip_tick(g, now_ms)                      timers: rounds, repair,
 *                                                      membership
 *     crdt_gossip_receive(g, now_ms, addr, n, buf, len) a datagram from a peer
 *     crdt_gossip_next_deadline(g)                     when to tick next
 *
 * Datagrams leave through the send callback, which is called only from
 * inside tick and receive and never re-entered, or, without a callback,
 * queue up for crdt_gossip_poll.  The engine never reads a clock, opens a
 * socket or starts a thread; all randomness comes from a generator seeded
 * by the settings, and peers and keys are visited in a stable order, so a
 * run replays exactly (the simulator in <crdt/sim.h> relies on it).
 *
 * Identity.  A node is named by its node id (a crdt_actor chosen by the
 * application, stable across restarts).  Each start of a node is a new
 * incarnation (a random 64-bit number, or the settings' own), and the
 * node writes with the actor XXH3-64(node id || incarnation), both
 * big-endian (crdt_gossip_actor).  A node that restarts, with or without
 * its state, therefore never reuses a dot or a counter of an earlier
 * incarnation: its old writes stay where they were merged, and its new
 * ones cannot be masked by a max-merge of the old counts.
 *
 * Store.  Byte-string keys (at most max_key_bytes) map to values of any
 * type of the settings' registry.  Each key's state is an OR-map
 * (crdt/ormap.h) holding one entry under the empty key, so a key has the
 * OR-map's semantics: crdt_gossip_update mutates the value through a
 * callback and records the delta; crdt_gossip_delete is an observed
 * remove (a concurrent update elsewhere survives, add-wins, with what it
 * brought; a key deleted and written again starts from an empty value);
 * the deleted key's causal context stays in the store as its tombstone,
 * so no delayed delta or stale state can bring a deleted key back.  Only
 * a new write does.  A key first written with different types on two
 * nodes concurrently shows the type of the larger wire tag (see
 * crdt/ormap.h).
 *
 * Fast path.  Every local update is logged as a delta with an id (the
 * write actor and a sequence number); every delta received from a peer
 * that inflates the store is logged once under its original id, and one
 * that does not inflate it is dropped.  Each round (round_ms) a node
 * starts an exchange with @c fanout random peers: it pushes the deltas it
 * wrote since its last round, then sends a summary of the delta ids it
 * has seen (per origin: the highest contiguous sequence number and a
 * 64-bit window beyond it).  The peer answers with the logged deltas the
 * summary does not cover and its own summary, and the node sends the
 * deltas that one does not cover: push-pull, as in Scuttlebutt (van
 * Renesse et al. 2008), where a summary acknowledges everything it
 * covers, so no delta is sent to a peer that has acknowledged it or
 * echoed back to the peer it came from.  Logged deltas are freed after
 * log_rounds rounds, or earlier, oldest first, when the log exceeds
 * log_max_bytes; a peer whose summary shows it missed a freed delta is
 * served by the repair path.
 *
 * Repair path.  Each key's state has a 64-bit hash (XXH3 of the key and
 * its canonical encoding), kept up to date on every change and summed
 * into a 16-ary tree by the XXH3 of the key.  Every repair_ms a node
 * exchanges tree levels with a random peer, descending only into the
 * subtrees whose sums differ, then the keys of the differing leaves, and
 * both sides send each other the states of the keys that differ.  Two
 * stores of 100,000 keys that differ in 10 keys cost a few kilobytes of
 * digests.  Repair heals lost datagrams, partitions, restarts and new
 * nodes, and it alone converges any two stores.
 *
 * Membership.  The application adds the peers it knows; every exchange
 * carries a few random peers (id and address) so that nodes learn of each
 * other.  A peer that does not answer the node's requests for
 * down_after_ms is marked down (on_peer callback); down peers are still
 * contacted, about once every down_probe_rounds rounds, and a peer is up
 * again as soon as any datagram from it arrives.  Peers are never
 * forgotten, except by crdt_gossip_remove_peer.
 *
 * Datagrams.  Every datagram is one MessagePack array
 *     [1, cluster_id, sender_id, incarnation, kind, body...]
 * at most max_datagram bytes long; README.md ("Gossip wire format")
 * documents every kind.  A state or delta too large for one datagram is
 * split into fragments and reassembled.  Every received datagram is
 * treated as hostile: malformed, truncated, oversized, unknown-version or
 * foreign-cluster datagrams are counted (crdt_gossip_metrics) and
 * dropped whole, without changing the store, and nothing a peer sends
 * makes the node allocate beyond the settings' budgets.  The datagrams
 * are plaintext: wrap them in authenticated encryption before they cross
 * an untrusted network (crdt-node does).
 *
 * Thread safety: a node is not synchronised; use it from one thread at a
 * time.  Callbacks run on the caller's thread, inside the call that
 * triggered them; from a callback, only the read functions (get, state,
 * metrics, peers, ...) may be called: tick, receive, update, delete,
 * restore and the peer mutators return CRDT_ERR_BUSY there.
 */
#ifndef CRDT_GOSSIP_H
#define CRDT_GOSSIP_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/hlc.h>
#include <crdt/type.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Format version of gossip datagrams (their first element). */
#define CRDT_GOSSIP_WIRE_VERSION 1u
/** Smallest and largest max_datagram. */
#define CRDT_GOSSIP_MIN_DATAGRAM 512u
#define CRDT_GOSSIP_MAX_DATAGRAM 65536u
/** Default max_datagram: fits the IPv6 minimum MTU (1,280 bytes: 1,232 of
 * UDP payload).  Sealed (crdt/seal.h: 45 bytes more) it is 1,245 bytes;
 * on paths that carry no more than the minimum, give the sealer
 * max_sealed = 1232 and the node crdt_sealer_max_plaintext() = 1,187. */
#define CRDT_GOSSIP_DEFAULT_DATAGRAM 1200u
/** No deadline (crdt_gossip_next_deadline of a node with nothing to do). */
#define CRDT_GOSSIP_NEVER UINT64_MAX

/** crdt_gossip_min_datagram returns CRDT_GOSSIP_MIN_DATAGRAM. */
CRDT_API size_t crdt_gossip_min_datagram(void);
/** crdt_gossip_max_datagram returns CRDT_GOSSIP_MAX_DATAGRAM. */
CRDT_API size_t crdt_gossip_max_datagram(void);

/** An opaque gossip node. */
typedef struct crdt_gossip crdt_gossip;

/**
 * Callbacks.  Any may be NULL.  They are called only from inside
 * crdt_gossip_tick and crdt_gossip_receive (on_change and on_peer also
 * from crdt_gossip_restore and the peer functions), never re-entered.
 */
typedef struct crdt_gossip_callbacks {
    /**
     * Sends the @p len bytes at @p data to peer @p to, whose address is
     * the @p addrlen bytes at @p addr (the blob given to
     * crdt_gossip_add_peer or learned; may be empty).  The bytes are
     * borrowed for the call.  Return 0; a non-zero return counts the
     * datagram as a send failure in the metrics (the engine carries on:
     * datagrams may be lost anyway).  NULL: datagrams queue up for
     * crdt_gossip_poll.
     */
    int (*send)(void *user_data, uint64_t to, const uint8_t *addr,
                size_t addrlen, const uint8_t *data, size_t len);
    /**
     * A merge from a peer (fast path, repair or restore) changed the state
     * of the key of @p klen bytes at @p key (borrowed for the call).  Not
     * called for local updates and deletes, nor for received states and
     * deltas that were already known.
     */
    void (*on_change)(void *user_data, const uint8_t *key, size_t klen);
    /** Peer @p peer went up (@p up true: added, learned, or heard again
     * after being down) or down. */
    void (*on_peer)(void *user_data, uint64_t peer, bool up);
    void *user_data; /**< passed to every callback */
} crdt_gossip_callbacks;

#define CRDT_GOSSIP_SETTINGS_VERSION 1u

/**
 * Node settings.  Fill with crdt_gossip_settings_default(), then set at
 * least node_id; every other field has a working default.  Durations are
 * milliseconds of the clock the application passes in.
 */
typedef struct crdt_gossip_settings {
    uint32_t version;        /**< CRDT_GOSSIP_SETTINGS_VERSION */
    uint64_t node_id;        /**< this node's id, non-zero (required) */
    uint64_t cluster_id;     /**< datagrams of other clusters are dropped */
    uint64_t seed;           /**< seeds the node's random generator */
    /** This start's incarnation; 0 (the default) draws one from the
     * generator.  Give two starts of a node distinct values: reusing one
     * reuses the node's write actor and its counters. */
    uint64_t incarnation;
    uint32_t round_ms;       /**< delta round period (100) */
    uint32_t fanout;         /**< peers contacted per round (1) */
    uint32_t repair_ms;      /**< digest repair period (5000) */
    uint32_t max_datagram;   /**< bytes per datagram, sent and accepted
                              *   (CRDT_GOSSIP_DEFAULT_DATAGRAM) */
    uint32_t down_after_ms;  /**< unanswered requests for this long mark a
                              *   peer down (5000) */
    uint32_t down_probe_rounds; /**< contact one down peer about every
                                 *   this many rounds (10) */
    /** Rounds a logged delta stays in the log; 0 (the default) picks
     * 4 * ceil(log2(peers + 2)) + 8. */
    uint32_t log_rounds;
    size_t log_max_bytes;    /**< delta log budget (4 MiB) */
    /** A delta younger than this many rounds (since its origin wrote it)
     * is pushed unasked to the next round's peers by every node it
     * reaches (but to the peer it came from), besides the summary
     * exchange; 0 (the default) picks
     * floor(log3(peers + 1)) - 1, at least 1: while few nodes hold it. */
    uint32_t push_rounds;
    uint32_t sample_size;    /**< peers sampled into each exchange (3) */
    size_t max_peers;        /**< peer table size limit (1,000,000) */
    size_t max_keys;         /**< keys the store accepts from peers
                              *   (10,000,000; local writes are not
                              *   limited) */
    size_t max_key_bytes;    /**< longest key (1024) */
    size_t reassembly_max_bytes; /**< memory for fragments being
                                  *   reassembled (4 MiB) */
    uint32_t reassembly_ms;  /**< a partial message that gets no new
                              *   fragment for this long is dropped
                              *   (10000); a full budget drops the least
                              *   recently extended first */
    size_t queue_max_bytes;  /**< crdt_gossip_poll queue (4 MiB) */
    /** Limits applied when decoding states from peers.  The defaults of
     * crdt_limits_default, except max_value_bytes (1 MiB). */
    crdt_limits limits;
    /** Types the store may hold; NULL: the built-in types.  Borrowed; it
     * must outlive the node. */
    const crdt_registry *registry;
    crdt_gossip_callbacks callbacks;
} crdt_gossip_settings;

/**
 * crdt_gossip_settings_default fills @p s with the defaults given with
 * each field (node_id 0, cluster_id 0, seed 0, no callbacks).  NULL: no-op.
 */
CRDT_API void crdt_gossip_settings_default(crdt_gossip_settings *s);

/* ----------------------------------------------------------- lifecycle */

/**
 * crdt_gossip_new creates a node with an empty store and no peers.
 *
 * Ownership: on success *@p out is a new node the caller frees with
 * crdt_gossip_free.  @p settings is copied; its registry and callbacks'
 * user_data are borrowed.  @p mem (NULL = malloc) is copied and used for
 * every allocation of the node.
 * Errors: CRDT_ERR_INVALID_ARG (NULL, wrong settings version, node_id 0,
 * round_ms, repair_ms, fanout or max_datagram out of range, a registry
 * without the OR-map type when one is given), CRDT_ERR_NOMEM.  *@p out is
 * written only on success.
 * Complexity: O(1).
 */
CRDT_API int crdt_gossip_new(crdt_gossip **out,
                             const crdt_gossip_settings *settings,
                             const crdt_mem *mem) CRDT_WARN_UNUSED;

/** crdt_gossip_free frees @p g, its store, log and peers.  NULL: no-op. */
CRDT_API void crdt_gossip_free(crdt_gossip *g);

/** crdt_gossip_node_id returns the node id of @p g. */
CRDT_API uint64_t crdt_gossip_node_id(const crdt_gossip *g);
/** crdt_gossip_incarnation returns this start's incarnation. */
CRDT_API uint64_t crdt_gossip_incarnation(const crdt_gossip *g);
/**
 * crdt_gossip_actor returns the actor the node writes with:
 * crdt_gossip_actor_of(node id, incarnation).
 */
CRDT_API crdt_actor crdt_gossip_actor(const crdt_gossip *g);
/**
 * crdt_gossip_actor_of returns XXH3-64 (seed 0) of the 16 bytes
 * @p node_id, @p incarnation, each big-endian: the write actor of that
 * incarnation of that node.
 */
CRDT_API crdt_actor crdt_gossip_actor_of(uint64_t node_id,
                                         uint64_t incarnation);

/* -------------------------------------------------------------- driving */

/**
 * crdt_gossip_tick runs the timers due at @p now_ms: the delta round
 * (pushes and summaries to fanout peers), digest repair, down-peer
 * detection, log and fragment expiry.  Call it at
 * crdt_gossip_next_deadline() or later; calling it earlier does no harm.
 * The first call also fixes the node's clock origin; @p now_ms must not
 * go backwards (a smaller value is taken as the last one).
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_BUSY (from a callback),
 * CRDT_ERR_NOMEM (the round is cut short; the node stays consistent and
 * retries at the next round).
 * Complexity: O(fanout * log size + keys whose state changed since the
 * last digest, amortised).
 */
CRDT_API int crdt_gossip_tick(crdt_gossip *g, uint64_t now_ms);

/**
 * crdt_gossip_receive processes one datagram of @p len bytes at @p data
 * that arrived at @p now_ms from address @p addr (@p addrlen bytes, the
 * application's form, e.g. "192.0.2.1:7946"; may be empty).  A sender
 * not yet known is added as a peer with that address.
 *
 * The datagram is checked whole before anything is applied: a datagram
 * that is malformed, longer than max_datagram, of another wire version or
 * cluster, or from this node itself, is dropped and counted, and changes
 * nothing.  A valid one may merge deltas and states into the store,
 * answer the sender, and call on_change and on_peer.
 *
 * Ownership: borrows @p data and @p addr.
 * Errors: CRDT_OK for every datagram, dropped or not (the metrics say
 * which); CRDT_ERR_INVALID_ARG (NULL with a length), CRDT_ERR_BUSY,
 * CRDT_ERR_NOMEM (the datagram is dropped part-way: each key it carried
 * is either merged, with its delta logged, or unchanged).
 * Complexity: O(len) to check, plus a merge per delta or state.
 */
CRDT_API int crdt_gossip_receive(crdt_gossip *g, uint64_t now_ms,
                                 const uint8_t *addr, size_t addrlen,
                                 const uint8_t *data, size_t len);

/**
 * crdt_gossip_next_deadline returns the time (in the clock of tick and
 * receive) at which crdt_gossip_tick should next be called, or
 * CRDT_GOSSIP_NEVER.  Before the first tick it is 0.
 */
CRDT_API uint64_t crdt_gossip_next_deadline(const crdt_gossip *g);

/** A datagram taken from the queue by crdt_gossip_poll. */
typedef struct crdt_gossip_datagram {
    uint64_t to;          /**< destination peer */
    const uint8_t *addr;  /**< its address (borrowed from the node; valid
                           *   until the next call on the node) */
    size_t addrlen;       /**< bytes at addr */
    size_t len;           /**< bytes written to the caller's buffer */
} crdt_gossip_datagram;

/**
 * crdt_gossip_poll moves the oldest queued datagram (only nodes without a
 * send callback queue) into the caller's @p cap bytes at @p buf.
 *
 * Errors: CRDT_ERR_NOT_FOUND (queue empty), CRDT_ERR_BUFFER (@p cap too
 * small: the datagram stays queued; max_datagram always suffices),
 * CRDT_ERR_INVALID_ARG.  @p dg is written only on success.
 */
CRDT_API int crdt_gossip_poll(crdt_gossip *g, crdt_gossip_datagram *dg,
                              uint8_t *buf, size_t cap);

/* ---------------------------------------------------------------- store */

/**
 * What a mutation callback gets besides the value: the node's write
 * actor, the time of the last tick or receive, and the node's hybrid
 * logical clock (whose wall clock is that time), for timestamps such as
 * crdt_lww_set_now's.
 */
typedef struct crdt_gossip_write {
    crdt_actor actor;
    uint64_t now_ms;
    crdt_hlc *hlc;
} crdt_gossip_write;

/**
 * The mutation run by crdt_gossip_update: mutate @p value (an object of
 * the type given to update) with @p w->actor and join the mutation's
 * delta into @p delta (a fresh empty object of the same type), as the
 * types' own mutators do, e.g.
 * `return crdt_gcounter_increment(value, w->actor, 1, delta);`.
 * Return CRDT_OK or a negative error, leaving @p value unchanged then.
 * Both objects belong to the node; do not keep them or call the node.
 */
typedef int (*crdt_gossip_update_fn)(void *value, void *delta,
                                     const crdt_gossip_write *w,
                                     void *user_data);

/**
 * crdt_gossip_update mutates the value of the key of @p klen bytes at
 * @p key: @p fn runs on the key's value of @p type (an empty one if the
 * key is new or deleted), and the resulting delta is logged for the fast
 * path.  The write is the node's (crdt_gossip_actor).
 *
 * Ownership: copies the key; borrows @p type (registered or not, it must
 * outlive the node; peers can decode only registered types).
 * Errors: CRDT_ERR_INVALID_ARG (NULL arguments, klen 0 or over
 * max_key_bytes, invalid descriptor), CRDT_ERR_BUSY, CRDT_ERR_TYPE (the
 * key holds a value of another type), CRDT_ERR_OVERFLOW, CRDT_ERR_LIMIT,
 * CRDT_ERR_NOMEM, or @p fn's error.  Atomic: on error the store and the
 * log are unchanged.
 * Complexity: O(size of the key's state): the state is copied, mutated,
 * encoded and hashed.
 */
CRDT_API int crdt_gossip_update(crdt_gossip *g, const void *key, size_t klen,
                                const crdt_type *type,
                                crdt_gossip_update_fn fn,
                                void *user_data) CRDT_WARN_UNUSED;

/**
 * crdt_gossip_delete deletes the key (observed remove, see the top of
 * this header) and logs the delta.  Deleting an absent key is a no-op.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_BUSY, CRDT_ERR_NOMEM; atomic.
 * Complexity: as crdt_gossip_update.
 */
CRDT_API int crdt_gossip_delete(crdt_gossip *g, const void *key,
                                size_t klen) CRDT_WARN_UNUSED;

/**
 * crdt_gossip_get looks up the key's value: its type and the value
 * object, read-only (as crdt_ormap_get lends it: read it through the
 * type's functions).
 *
 * Ownership: *@p value is borrowed from the node and valid until the
 * node's next update, delete, tick, receive, restore or free.  Either
 * out-parameter may be NULL.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOT_FOUND (never written, or
 * deleted).  Out-parameters are written only on success.
 * Complexity: O(1) expected.
 */
CRDT_API int crdt_gossip_get(const crdt_gossip *g, const void *key,
                             size_t klen, const crdt_type **type,
                             const void **value);

/**
 * crdt_gossip_state appends the canonical encoding of the key's state
 * (the one-entry OR-map, or a deleted key's tombstone) to @p out: what
 * the repair path sends, and what `crdt inspect` reads.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOT_FOUND (the store has no
 * state for the key), CRDT_ERR_NOMEM / CRDT_ERR_BUFFER (@p out
 * unchanged).
 */
CRDT_API int crdt_gossip_state(const crdt_gossip *g, const void *key,
                               size_t klen, crdt_buf *out) CRDT_WARN_UNUSED;

/** crdt_gossip_key_count returns the number of keys the store holds
 * states for, deleted keys' tombstones included. */
CRDT_API size_t crdt_gossip_key_count(const crdt_gossip *g);

/**
 * crdt_gossip_key_at reads the @p i-th key of the store (0 <= i <
 * crdt_gossip_key_count) in a stable order: the order keys were first
 * stored.  Sets *@p present to whether it has a value (is not deleted).
 *
 * Ownership: *@p key is borrowed, valid until the next mutation.  Any
 * out-parameter may be NULL.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOT_FOUND (i out of range).
 */
CRDT_API int crdt_gossip_key_at(const crdt_gossip *g, size_t i,
                                const uint8_t **key, size_t *klen,
                                bool *present);

/**
 * crdt_gossip_digest returns the store's root digest: the sum of its
 * keys' state hashes.  Equal stores have equal digests; different stores
 * have different ones but with probability 2^-64.  Complexity: O(1).
 */
CRDT_API uint64_t crdt_gossip_digest(const crdt_gossip *g);

/* ------------------------------------------------------------- restarts */

/**
 * crdt_gossip_snapshot appends the node's durable state to @p out: every
 * key's state, in key order.  The snapshot needs nothing else to restart
 * correctly: a restarted node takes a new incarnation, so it never reuses
 * a dot (see the top of this header).  Format: MessagePack
 * [1, node_id, [[key, state], ...]], keys ascending (bytes).
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER (@p out
 * unchanged).  Complexity: O(store size + keys log keys).
 */
CRDT_API int crdt_gossip_snapshot(const crdt_gossip *g,
                                  crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_gossip_restore merges a snapshot (of any node of the cluster) into
 * the store, as if its states had arrived from a peer (on_change for the
 * keys that change).
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_BUSY, CRDT_ERR_DECODE and the
 * state decoders' errors (@p info says where; the store is unchanged),
 * CRDT_ERR_NOMEM (each key merged or unchanged).
 * Complexity: O(snapshot size).
 */
CRDT_API int crdt_gossip_restore(crdt_gossip *g, const uint8_t *data,
                                 size_t len,
                                 crdt_decode_info *info) CRDT_WARN_UNUSED;

/* ---------------------------------------------------------------- peers */

/**
 * crdt_gossip_add_peer adds peer @p id with an address blob (@p addrlen
 * bytes at @p addr, at most 255; may be empty), or replaces the address of
 * a known peer.  A new peer starts up (on_peer is called).
 *
 * Errors: CRDT_ERR_INVALID_ARG (id 0 or the node's own, address too
 * long), CRDT_ERR_BUSY, CRDT_ERR_LIMIT (max_peers), CRDT_ERR_NOMEM.
 * Unchanged on error.  Complexity: O(log n), O(n) for a new peer.
 */
CRDT_API int crdt_gossip_add_peer(crdt_gossip *g, uint64_t id,
                                  const uint8_t *addr,
                                  size_t addrlen) CRDT_WARN_UNUSED;

/**
 * crdt_gossip_add_peers adds @p n peers without addresses at once (known
 * ones and the node's own id are skipped), for clusters formed from a
 * list; on_peer is not called for them.
 *
 * Errors: CRDT_ERR_INVALID_ARG (an id 0), CRDT_ERR_BUSY, CRDT_ERR_LIMIT,
 * CRDT_ERR_NOMEM; unchanged on error.
 * Complexity: O(n + m) for @p n ids in ascending order and m known
 * peers, without allocating beyond the table's growth; O(n log n + m)
 * otherwise.
 */
CRDT_API int crdt_gossip_add_peers(crdt_gossip *g, const uint64_t *ids,
                                   size_t n) CRDT_WARN_UNUSED;

/**
 * crdt_gossip_remove_peer forgets peer @p id.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_BUSY, CRDT_ERR_NOT_FOUND.
 */
CRDT_API int crdt_gossip_remove_peer(crdt_gossip *g, uint64_t id);

/** What the node knows of a peer. */
typedef struct crdt_gossip_peer {
    uint64_t id;
    bool up;
    uint64_t last_heard_ms; /**< last datagram from it; 0 = never */
    const uint8_t *addr;    /**< borrowed, valid until the next mutation */
    size_t addrlen;
} crdt_gossip_peer;

/** crdt_gossip_peer_count returns the number of known peers. */
CRDT_API size_t crdt_gossip_peer_count(const crdt_gossip *g);
/** crdt_gossip_peers_up returns the number of peers that are up. */
CRDT_API size_t crdt_gossip_peers_up(const crdt_gossip *g);

/**
 * crdt_gossip_peer_at reads the @p i-th peer in ascending id order.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOT_FOUND (i out of range).
 */
CRDT_API int crdt_gossip_peer_at(const crdt_gossip *g, size_t i,
                                 crdt_gossip_peer *out);

/**
 * crdt_gossip_peer_find reads peer @p id.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOT_FOUND.
 */
CRDT_API int crdt_gossip_peer_find(const crdt_gossip *g, uint64_t id,
                                   crdt_gossip_peer *out);

/* -------------------------------------------------------------- metrics */

/** Message kinds, for the per-kind metrics (also the wire's kind field). */
typedef enum crdt_gossip_kind {
    CRDT_GOSSIP_PUSH = 1,  /**< deltas */
    CRDT_GOSSIP_SYN = 2,   /**< a delta summary that asks for an answer */
    CRDT_GOSSIP_ACK = 3,   /**< the answering summary */
    CRDT_GOSSIP_TREE = 4,  /**< digest tree levels */
    CRDT_GOSSIP_KEYS = 5,  /**< the keys of digest leaves */
    CRDT_GOSSIP_STATES = 6, /**< whole key states (repair) */
    CRDT_GOSSIP_WANT = 7,  /**< a request for key states */
    CRDT_GOSSIP_FRAG = 8,  /**< a fragment of a larger datagram */
    CRDT_GOSSIP_KINDS = 9  /**< number of slots in the per-kind arrays */
} crdt_gossip_kind;

/** Why received datagrams were dropped. */
typedef enum crdt_gossip_drop {
    CRDT_GOSSIP_DROP_MALFORMED = 0, /**< not a valid datagram */
    CRDT_GOSSIP_DROP_VERSION,       /**< other wire version */
    CRDT_GOSSIP_DROP_CLUSTER,       /**< other cluster id */
    CRDT_GOSSIP_DROP_OVERSIZE,      /**< longer than max_datagram */
    CRDT_GOSSIP_DROP_SELF,          /**< sent by this node id */
    CRDT_GOSSIP_DROP_BUDGET,        /**< would exceed a memory budget */
    CRDT_GOSSIP_DROP_STALE,         /**< from an earlier incarnation or a
                                     *   repeated exchange */
    CRDT_GOSSIP_DROP_NOMEM,         /**< allocation failed */
    CRDT_GOSSIP_DROP_REASONS
} crdt_gossip_drop;

/** Counters since the node was created (crdt_gossip_metrics_get). */
typedef struct crdt_gossip_metrics {
    uint64_t rounds;                  /**< delta rounds run */
    uint64_t repairs;                 /**< repair exchanges started */
    uint64_t sent[CRDT_GOSSIP_KINDS]; /**< datagrams sent, by kind */
    uint64_t sent_bytes[CRDT_GOSSIP_KINDS];
    uint64_t received[CRDT_GOSSIP_KINDS]; /**< valid datagrams, by kind */
    uint64_t received_bytes[CRDT_GOSSIP_KINDS];
    uint64_t send_failures;           /**< send callback errors, queue
                                       *   overflows */
    uint64_t dropped[CRDT_GOSSIP_DROP_REASONS];
    uint64_t deltas_logged;           /**< local and inflating received */
    uint64_t deltas_written;          /**< local updates and deletes */
    uint64_t delta_bytes_written;     /**< their size as PUSH items:
                                       *   [origin, seq, key, delta] */
    uint64_t deltas_freed;            /**< aged or evicted from the log */
    uint64_t deltas_evicted;          /**< of those, evicted by the budget */
    uint64_t deltas_received;         /**< deltas in valid datagrams */
    uint64_t deltas_redundant;        /**< of those, already known */
    uint64_t keys_repaired;           /**< repair states that changed a key */
    uint64_t log_bytes;               /**< now: bytes held by the log */
    uint64_t log_entries;             /**< now: deltas in the log */
    uint64_t peers_up;                /**< now */
    uint64_t peers_down;              /**< now */
    uint64_t bytes_sent;              /**< all datagrams */
    uint64_t bytes_received;          /**< all datagrams, dropped ones too */
} crdt_gossip_metrics;

/** crdt_gossip_metrics_get copies the node's counters into @p m. */
CRDT_API void crdt_gossip_metrics_get(const crdt_gossip *g,
                                      crdt_gossip_metrics *m);

/** crdt_gossip_kind_name: "push", "syn", ...; NULL for an unknown kind. */
CRDT_API const char *crdt_gossip_kind_name(int kind);
/** crdt_gossip_drop_name: "malformed", "version", ...; NULL if unknown. */
CRDT_API const char *crdt_gossip_drop_name(int reason);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_GOSSIP_H */
