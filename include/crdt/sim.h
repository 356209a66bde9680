/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/sim.h
 * A deterministic network simulator for the gossip engine (libcrdt-gossip):
 * N engine nodes (crdt/gossip.h) on a simulated clock, connected by a
 * network that delays, loses, duplicates and reorders datagrams, can be
 * partitioned (both ways or one way) and healed, and whose nodes crash and
 * restart with or without their durable state.  Applications use it to
 * test their own use of the engine; libcrdt's tests, bench and `crdt sim`
 * use it to measure convergence in rounds and bytes.
 *
 * Determinism: everything random (latencies, losses, the nodes' seeds and
 * incarnations) comes from the simulation's seed, and events at the same
 * simulated time run in the order they were scheduled, so the same seed
 * and the same calls give the same run, datagram for datagram.
 * crdt_sim_trace_hash() hashes every delivery and drop (time, endpoints,
 * bytes, fate) to check that.
 *
 * Time: the simulation's clock starts at 0 and advances only in
 * crdt_sim_run_until / crdt_sim_run_until_converged, from event to event.
 * Node i sees the time now + its clock offset (crdt_sim_set_clock_offset).
 * Calls that act on a node between runs (writes, crash, restart) happen at
 * the current simulated time.
 *
 * Nodes: node i (0 <= i < nodes) has node id i + 1.  Every node is created
 * from settings.gossip with its node id, cluster id 1, a seed drawn from
 * the simulation's generator and the simulator's own send callback (the
 * template's send is ignored; its on_change and on_peer are replaced by
 * the simulation's, which add the node index).  max_datagram is the
 * network's mtu.  Unless join_seed is set, every node starts knowing every
 * other; with join_seed, node i > 0 knows only node 0.
 */
#ifndef CRDT_SIM_H
#define CRDT_SIM_H

#include <crdt/common.h>
#include <crdt/gossip.h>
#include <crdt/type.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRDT_SIM_SETTINGS_VERSION 1u
/** Group of a node cut off from every other by crdt_sim_partition. */
#define CRDT_SIM_ISOLATED SIZE_MAX

/** Simulation settings (crdt_sim_settings_default, then adjust). */
typedef struct crdt_sim_settings {
    uint32_t version;       /**< CRDT_SIM_SETTINGS_VERSION */
    size_t nodes;           /**< number of nodes (>= 1) */
    uint64_t seed;          /**< seeds everything random */
    uint32_t latency_min_ms; /**< one-way delay, uniform in [min, max] */
    uint32_t latency_max_ms;
    double loss;            /**< probability a datagram is lost */
    double dup;             /**< probability a datagram is delivered twice
                             *   (the copy after its own random delay) */
    double reorder;         /**< probability a datagram is held back by an
                             *   extra delay of up to 4 * latency_max_ms */
    uint32_t mtu;           /**< largest datagram the network carries; it is
                             *   also every node's max_datagram */
    bool join_seed;         /**< nodes start knowing only node 0 */
    /** Template for every node's settings (see the top of this header). */
    crdt_gossip_settings gossip;
    /** Called when a merge from a peer changed node @p node's key (the
     * engine's on_change, with the node index and the simulated time).
     * Like the tap, on_change and on_peer may read the nodes but must not
     * call the simulation's other functions. */
    void (*on_change)(void *user_data, size_t node, uint64_t now_ms,
                      const uint8_t *key, size_t klen);
    /** The engine's on_peer, with the node index. */
    void (*on_peer)(void *user_data, size_t node, uint64_t peer, bool up);
    void *user_data;
} crdt_sim_settings;

/**
 * crdt_sim_settings_default fills @p s: 3 nodes, seed 1, latency 1..20 ms,
 * no loss, duplication or reordering, mtu CRDT_GOSSIP_DEFAULT_DATAGRAM,
 * a formed cluster, and the engine's defaults for the nodes.
 */
CRDT_API void crdt_sim_settings_default(crdt_sim_settings *s);

/** An opaque simulation. */
typedef struct crdt_sim crdt_sim;

/**
 * crdt_sim_new creates a simulation at time 0 with every node up.
 *
 * Ownership: free with crdt_sim_free; @p s is copied (its gossip
 * registry is borrowed); @p mem (NULL = malloc) serves the simulation and
 * its nodes.
 * Errors: CRDT_ERR_INVALID_ARG (NULL, version, 0 nodes or more than
 * 2^32 - 2, latency_min > latency_max, a probability outside [0, 1] or
 * NaN, mtu out of the engine's range, invalid node settings),
 * CRDT_ERR_NOMEM.  *@p out is written only on success.
 * Complexity: O(nodes^2) without join_seed (every node's peer table).
 */
CRDT_API int crdt_sim_new(crdt_sim **out, const crdt_sim_settings *s,
                          const crdt_mem *mem) CRDT_WARN_UNUSED;

/** crdt_sim_free frees the simulation and its nodes.  NULL: no-op. */
CRDT_API void crdt_sim_free(crdt_sim *sim);

/** crdt_sim_nodes returns the number of nodes (up or crashed). */
CRDT_API size_t crdt_sim_nodes(const crdt_sim *sim);

/**
 * crdt_sim_node returns node @p i's engine, or NULL if it is crashed or
 * @p i is out of range.  Use it to read the node's store, peers and
 * metrics; to write, use crdt_sim_update / crdt_sim_delete (they first
 * bring the node's clock to the simulated time).
 * Ownership: borrowed; valid until the node crashes or the simulation is
 * freed.
 */
CRDT_API crdt_gossip *crdt_sim_node(const crdt_sim *sim, size_t i);

/** crdt_sim_node_id returns node @p i's id (i + 1), 0 if @p i is out of
 * range. */
CRDT_API uint64_t crdt_sim_node_id(const crdt_sim *sim, size_t i);

/** crdt_sim_is_up: true iff node @p i exists and is not crashed. */
CRDT_API bool crdt_sim_is_up(const crdt_sim *sim, size_t i);

/** crdt_sim_now returns the simulated time in milliseconds. */
CRDT_API uint64_t crdt_sim_now(const crdt_sim *sim);

/* ---------------------------------------------------------------- writes */

/**
 * crdt_sim_update runs crdt_gossip_update on node @p i at the current
 * simulated time (the node's clock is brought there first, by a
 * crdt_gossip_tick that also runs whatever timer of the node is due).
 * Errors: CRDT_ERR_INVALID_ARG (no such node, or it is crashed), and
 * crdt_gossip_update's.
 */
CRDT_API int crdt_sim_update(crdt_sim *sim, size_t i, const void *key,
                             size_t klen, const crdt_type *type,
                             crdt_gossip_update_fn fn,
                             void *user_data) CRDT_WARN_UNUSED;

/** crdt_sim_delete runs crdt_gossip_delete on node @p i (as
 * crdt_sim_update). */
CRDT_API int crdt_sim_delete(crdt_sim *sim, size_t i, const void *key,
                             size_t klen) CRDT_WARN_UNUSED;

/* ---------------------------------------------------------------- faults */

/**
 * crdt_sim_set_network changes the network for datagrams sent from now
 * on: latency range, loss, duplication and reordering (as in the
 * settings).
 * Errors: CRDT_ERR_INVALID_ARG (out of range); unchanged on error.
 */
CRDT_API int crdt_sim_set_network(crdt_sim *sim, uint32_t latency_min_ms,
                                  uint32_t latency_max_ms, double loss,
                                  double dup, double reorder);

/**
 * crdt_sim_partition splits the network: @p group[i] is node i's group
 * (any number; CRDT_SIM_ISOLATED cuts node i off from every other).
 * Datagrams between nodes of different groups, sent from now on or still
 * in flight, are dropped.  Replaces any earlier partition and blocked
 * links.  @p group has crdt_sim_nodes() entries.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; unchanged on error.
 */
CRDT_API int crdt_sim_partition(crdt_sim *sim, const size_t *group);

/**
 * crdt_sim_block blocks (@p blocked true) or unblocks the one-way link
 * from node @p from to node @p to: a one-way partition.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM.
 */
CRDT_API int crdt_sim_block(crdt_sim *sim, size_t from, size_t to,
                            bool blocked);

/** crdt_sim_heal removes every partition and blocked link. */
CRDT_API void crdt_sim_heal(crdt_sim *sim);

/**
 * crdt_sim_crash stops node @p i: its engine is freed after a snapshot
 * of its durable state is taken (crdt_gossip_snapshot), and datagrams to
 * it are dropped until it restarts.
 * Errors: CRDT_ERR_INVALID_ARG (no such node, or already crashed),
 * CRDT_ERR_NOMEM (the node stays up).
 */
CRDT_API int crdt_sim_crash(crdt_sim *sim, size_t i);

/**
 * crdt_sim_restart starts crashed node @p i again with a new incarnation:
 * with the snapshot taken at its crash if @p keep_state, else with an
 * empty store.  Its peer table starts as at creation (every node, or
 * node 0 with join_seed).
 * Errors: CRDT_ERR_INVALID_ARG (no such node, or not crashed),
 * CRDT_ERR_NOMEM (the node stays crashed).
 */
CRDT_API int crdt_sim_restart(crdt_sim *sim, size_t i,
                              bool keep_state) CRDT_WARN_UNUSED;

/**
 * crdt_sim_restart_as restarts crashed node @p i as crdt_sim_restart
 * does, but with the incarnation @p incarnation (0: draw one, as
 * crdt_sim_restart does).  Giving the incarnation of an earlier start
 * reproduces a misconfigured restart: the node writes with its old actor
 * and counters again (see crdt/gossip.h), which tests use to make two
 * starts of a node write different payloads under the same dots.
 * Errors: as crdt_sim_restart.
 */
CRDT_API int crdt_sim_restart_as(crdt_sim *sim, size_t i, bool keep_state,
                                 uint64_t incarnation) CRDT_WARN_UNUSED;

/**
 * crdt_sim_set_clock_offset makes node @p i see the simulated time plus
 * @p offset_ms (which may be negative; the node's time never goes below 0
 * nor backwards).
 * Errors: CRDT_ERR_INVALID_ARG.
 */
CRDT_API int crdt_sim_set_clock_offset(crdt_sim *sim, size_t i,
                                       int64_t offset_ms);

/* ------------------------------------------------------------ datagrams */

/**
 * A tap sees every datagram a node sends (or crdt_sim_send injects), at
 * send time and before the network decides its fate: sender and receiver
 * node indexes (@p to is SIZE_MAX if the destination id is no node's),
 * the simulated time and the bytes (borrowed for the call).  It must not
 * call the simulation or the nodes.
 */
typedef void (*crdt_sim_tap_fn)(void *user_data, size_t from, size_t to,
                                uint64_t now_ms, const uint8_t *data,
                                size_t len);

/**
 * crdt_sim_set_tap installs @p tap (NULL: none) for the datagrams sent
 * from now on; @p user_data is passed to it.  For tests that capture
 * datagrams (to replay them with crdt_sim_send) or check their sizes.
 */
CRDT_API void crdt_sim_set_tap(crdt_sim *sim, crdt_sim_tap_fn tap,
                               void *user_data);

/**
 * crdt_sim_send sends the @p len bytes at @p data from node @p from to
 * node @p to through the network at the current simulated time, as if
 * node @p from had sent them: they are counted, traced, tapped, and
 * delayed, lost, duplicated, reordered or partitioned like any datagram.
 * Neither node needs to be up.  For replaying captured datagrams and
 * injecting forged ones.
 *
 * Ownership: the bytes are copied.
 * Errors: CRDT_ERR_INVALID_ARG (no such node, NULL data with a length),
 * CRDT_ERR_NOMEM (nothing was sent or counted).
 */
CRDT_API int crdt_sim_send(crdt_sim *sim, size_t from, size_t to,
                           const uint8_t *data, size_t len);

/* --------------------------------------------------------------- running */

/**
 * crdt_sim_run_until processes every event (deliveries, node timers) up
 * to and including simulated time @p t_ms, then sets the clock to
 * @p t_ms (if it is later).  Events at one time run in the order they
 * were scheduled.
 * Errors: CRDT_ERR_INVALID_ARG (NULL), CRDT_ERR_NOMEM: an engine ran out
 * of memory in a tick or a receive (it stays consistent, see
 * crdt/gossip.h), or the simulator could not store a datagram a node
 * sent (it is dropped and counted as lost); the run stops after that
 * event, the clock stays at its time, and the simulation may be
 * continued.
 * Complexity: O(log(datagrams in flight) + log(nodes)) per event, plus
 * the engine's work.
 */
CRDT_API int crdt_sim_run_until(crdt_sim *sim, uint64_t t_ms);

/**
 * crdt_sim_converged: true iff every node that is up holds the same store
 * (equal crdt_gossip_digest values).  Complexity: O(1).
 */
CRDT_API bool crdt_sim_converged(const crdt_sim *sim);

/**
 * crdt_sim_run_until_converged runs until every node that is up holds the
 * same store, or until simulated time @p max_ms.  On success
 * *@p converged_ms is the simulated time at which the nodes became equal
 * (the current time if they already were), or CRDT_GOSSIP_NEVER if they
 * did not by @p max_ms.  The clock stops at that event (or at @p max_ms).
 * Errors: as crdt_sim_run_until.
 */
CRDT_API int crdt_sim_run_until_converged(crdt_sim *sim, uint64_t max_ms,
                                          uint64_t *converged_ms);

/** crdt_sim_stores_equal: true iff every node that is up holds a store
 * byte-for-byte equal to the first such node's (every key's state
 * compared, not only digests); also false if memory runs short.
 * Complexity: O(nodes * store size). */
CRDT_API bool crdt_sim_stores_equal(const crdt_sim *sim);

/* ------------------------------------------------------------- counters */

/** Network counters since the simulation started.  Every datagram and
 * copy has one fate: sent + duplicated = delivered + lost + partitioned +
 * to_crashed + oversize + the copies still in flight. */
typedef struct crdt_sim_stats {
    uint64_t sent;          /**< datagrams the nodes sent */
    uint64_t sent_bytes;
    uint64_t delivered;     /**< datagrams handed to a node (copies too) */
    uint64_t delivered_bytes;
    uint64_t lost;          /**< dropped by the loss probability */
    uint64_t duplicated;    /**< extra copies made */
    uint64_t partitioned;   /**< dropped by a partition or blocked link */
    uint64_t to_crashed;    /**< dropped: the receiver was down */
    uint64_t oversize;      /**< dropped: longer than the mtu */
    uint64_t events;        /**< events processed */
} crdt_sim_stats;

/** crdt_sim_stats_get copies the counters into @p st. */
CRDT_API void crdt_sim_stats_get(const crdt_sim *sim, crdt_sim_stats *st);

/**
 * crdt_sim_trace_hash returns a hash (XXH3-64) of everything the network
 * did so far: every datagram's send time, delivery or drop time and fate,
 * endpoints and bytes.  Two runs with the same seed and calls give the
 * same hash.
 */
CRDT_API uint64_t crdt_sim_trace_hash(const crdt_sim *sim);

/* ------------------------------------------------------------ scenarios */

#define CRDT_SIM_SCENARIO_VERSION 1u

/** Options of crdt_sim_run_scenario (crdt_sim_scenario_options_default). */
typedef struct crdt_sim_scenario_options {
    uint32_t version; /**< CRDT_SIM_SCENARIO_VERSION */
    /** After the last event, run until converged or this many more
     * simulated milliseconds (default 3,600,000: one hour). */
    uint64_t max_ms;
    /** Add every node's values to the result ("nodes"). */
    bool dump;
} crdt_sim_scenario_options;

/** crdt_sim_scenario_options_default fills @p o: one hour, no dump. */
CRDT_API void crdt_sim_scenario_options_default(crdt_sim_scenario_options *o);

/**
 * crdt_sim_run_scenario runs a scenario: @p len bytes of JSON Lines at
 * @p text, whose first line configures a cluster and every later line is
 * an event at a simulated time (README.md, "Scenarios", is the
 * reference).  The whole text is checked before anything runs.  After the
 * last event the simulation continues until every node that is up holds
 * the same store, or for @p opt->max_ms more.  The result, one line of
 * JSON, is appended to @p out:
 *     {"converged":B,"converged_ms":T,"rounds":R,"messages":M,
 *      "bytes":N,"trace_hash":"16 hex digits"[,"nodes":[...]]}
 * converged_ms is the simulated time (from 0) at which the nodes became
 * equal, rounds the rounds from the last event to then (both null when
 * not converged); with @p opt->dump, "nodes" lists each node's id, whether
 * it is up, and its present keys' values as `crdt value` prints them in
 * JSON.  *@p converged tells whether the nodes converged.
 *
 * Ownership: borrows @p text; appends to @p out; @p mem (NULL = malloc)
 * serves the run.  @p err gets a message (at most @p errlen bytes with
 * the terminating NUL) when the call fails.
 * Errors: CRDT_ERR_INVALID_ARG (NULL arguments, options version),
 * CRDT_ERR_DECODE (a bad scenario: @p err is "line N: what is wrong"; also
 * an event that cannot apply when its time comes, such as an op on a
 * crashed node or a key written with another type), CRDT_ERR_NOMEM.
 * @p out is unchanged on error.
 * Complexity: the simulation's.
 */
CRDT_API int crdt_sim_run_scenario(const char *text, size_t len,
                                   const crdt_sim_scenario_options *opt,
                                   const crdt_mem *mem, crdt_buf *out,
                                   bool *converged, char *err,
                                   size_t errlen) CRDT_WARN_UNUSED;

#ifdef __cplusplus
}
#endif
#endif /* CRDT_SIM_H */
