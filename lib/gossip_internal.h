/* SPDX-License-Identifier: MIT */
/*
 * Internals of the gossip engine (libcrdt-gossip), shared by its files:
 *
 *   gossip.c         node lifecycle, settings, tick/receive dispatch,
 *                    rounds, membership, metrics
 *   gossip_store.c   the keyed store: key -> one-entry OR-map, state
 *                    hashes, the sorted-by-position view for repair
 *   gossip_digest.c  the 16-ary tree of state-hash sums
 *   gossip_log.c     the delta log and the per-origin summaries
 *   gossip_wire.c    datagram building (packing into max_datagram,
 *                    fragmentation) and the checked parse of every kind
 *   gossip_repair.c  the digest exchange (TREE, KEYS, WANT, STATES)
 *
 * Everything here is hidden (-fvisibility=hidden); names are gp_*.
 */
#ifndef CRDT_GOSSIP_INTERNAL_H
#define CRDT_GOSSIP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <crdt/gossip.h>
#include <crdt/hlc.h>
#include <crdt/ormap.h>

#include "codec_internal.h"
#include "rng_internal.h"

/* XXH3-64 (seed 0) of data. */
uint64_t gp_hash(const void *data, size_t len);

/* ====================================================================
 * Store
 * ==================================================================== */

/* One key.  Keys are never removed from the store (a deleted key keeps
 * its tombstone: the OR-map's context), so a key's index is stable and
 * the log and the digest refer to keys by index. */
typedef struct gp_key {
    uint8_t *key;       /* klen bytes, owned */
    uint32_t klen;
    bool present;       /* the map has a present entry */
    crdt_ormap *map;    /* the state: entries under the empty key only */
    uint64_t pos;       /* gp_hash(key): position in the digest tree */
    uint64_t h;         /* state hash: gp_hash of bin(key) ++ encoding */
    size_t enc_len;     /* bytes of the state's encoding */
    bool dirty;         /* h is out of date: in the store's dirty list */
} gp_key;

typedef struct gp_store {
    size_t ndirty;      /* (first: checked after every datagram) */
    uint32_t *dirtyq;   /* indexes of the dirty keys; room for cap */
    gp_key *keys;       /* in order of first storage */
    size_t len, cap;
    uint32_t *slots;    /* open addressing: key index + 1, 0 = empty */
    size_t nslots;      /* power of two, > 2 * len */
    uint8_t sipkey[16]; /* crypto_shorthash key, from the node's rng */
    uint32_t *bypos;    /* key indexes sorted by (pos, index) */
    size_t nsorted;     /* bypos[0..nsorted) is sorted; the rest unsorted */
    size_t npresent;
    const crdt_registry *reg;
    crdt_limits lim;
    crdt_mem mem;
    crdt_buf scratch;   /* encodings for hashing */
} gp_store;

void gp_store_init(gp_store *s, const crdt_registry *reg,
                   const crdt_limits *lim, const crdt_mem *mem,
                   crdtp_rng *rng);
void gp_store_clear(gp_store *s);
/* Index of the key, or -1. */
long gp_store_find(const gp_store *s, const uint8_t *key, size_t klen);
/* Makes room for one more key (so that gp_store_insert cannot fail). */
int gp_store_reserve(gp_store *s);
/* Inserts a new key holding map (taken); needs gp_store_reserve first.
 * Sets pos, h = 0; returns the index. */
size_t gp_store_insert(gp_store *s, uint8_t *key, size_t klen,
                       crdt_ormap *map);
/* Marks key i's state hash out of date (cannot fail). */
void gp_store_dirty(gp_store *s, size_t i);
/* Computes the state hash of map for key into *h and *enc_len. */
int gp_store_hash(gp_store *s, const uint8_t *key, size_t klen,
                  const crdt_ormap *map, uint64_t *h, size_t *enc_len);
/* The sorted-by-position view, brought up to date. */
int gp_store_sort(gp_store *s);
/* [*lo, *hi) of bypos whose pos has the top 4 * level bits == index. */
void gp_store_range(const gp_store *s, unsigned level, uint64_t index,
                    size_t *lo, size_t *hi);

/* ====================================================================
 * Digest tree: levels 0..depth of sums of state hashes, node i of level
 * l summing the keys whose pos has top 4l bits i.  Deeper levels are
 * computed from the store's sorted view on demand.
 * ==================================================================== */

#define GP_TREE_FANOUT 16u
#define GP_TREE_MAX_LEVEL 16u  /* 64 bits of pos, 4 per level */
#define GP_TREE_MAX_DEPTH 5u   /* stored levels: 16^5 leaves at most */

typedef struct gp_tree {
    uint64_t root;                           /* level[0][0], kept here */
    unsigned depth;                          /* stored levels 0..depth */
    uint64_t *level[GP_TREE_MAX_DEPTH + 1];  /* 16^l sums each */
    crdt_mem mem;
} gp_tree;

void gp_tree_init(gp_tree *t, const crdt_mem *mem);
void gp_tree_clear(gp_tree *t);
/* Adds delta (mod 2^64) at pos on every stored level. */
void gp_tree_add(gp_tree *t, uint64_t pos, uint64_t delta);
/* Root sum. */
uint64_t gp_tree_root(const gp_tree *t);
/* The depth that suits n keys; when it differs from t->depth the tree
 * is rebuilt from the store (gp_tree_rebuild). */
unsigned gp_tree_depth_for(size_t nkeys);
int gp_tree_rebuild(gp_tree *t, unsigned depth, const gp_store *s);
/* The 16 child sums of node (level, index) into out[16]; uses the
 * stored levels when level + 1 <= depth, else the store's sorted view
 * (which must be up to date). */
void gp_tree_children(const gp_tree *t, const gp_store *s, unsigned level,
                      uint64_t index, uint64_t out[GP_TREE_FANOUT]);

/* ====================================================================
 * Delta log and summaries
 * ==================================================================== */

/* A logged delta.  bytes: the one-entry OR-map delta's encoding. */
typedef struct gp_entry {
    uint64_t origin, seq;   /* the delta's id */
    uint64_t round;         /* the local round it was logged in */
    uint64_t from;          /* the peer it came from (0: written here);
                             * never pushed back to it */
    uint32_t key;           /* store index */
    uint32_t len;           /* bytes */
    uint8_t age;            /* rounds since its origin wrote it, when
                             * logged (saturates at 255) */
    uint8_t bytes[];        /* the encoding */
} gp_entry;

/* What the node has seen of one origin's deltas: every seq <= prefix,
 * and prefix + 1 + b for every bit b set in bits; plus the logged deltas
 * of the origin, ascending by seq. */
typedef struct gp_origin {
    uint64_t origin;
    uint64_t prefix;
    uint64_t bits;
    uint64_t last_round;    /* the last round it saw a new delta */
    gp_entry **ents;        /* logged: ents[off .. off + nents), by seq */
    uint32_t off, nents, cap;
} gp_origin;

typedef struct gp_log {
    gp_entry **fifo;        /* ring of entries in logging order */
    size_t head, count, cap;
    size_t bytes;           /* sum of entry sizes */
    gp_origin *origins;     /* ascending by origin */
    size_t norigins, ocap;
    size_t memo;            /* index of the origin last looked up */
    crdt_mem mem;
} gp_log;

void gp_log_init(gp_log *l, const crdt_mem *mem);
void gp_log_clear(gp_log *l);
/* The origin's record, or NULL. */
gp_origin *gp_log_origin(gp_log *l, uint64_t origin);
/* True iff (origin, seq) is covered by what the node has seen. */
bool gp_log_seen(gp_log *l, uint64_t origin, uint64_t seq);
bool gp_origin_covers(uint64_t prefix, uint64_t bits, uint64_t seq);
/* Records (origin, seq) as seen (creating the origin's record). */
int gp_log_mark_seen(gp_log *l, uint64_t origin, uint64_t seq,
                     uint64_t round);
/* Makes room so that gp_log_mark_seen of origin and gp_log_append of an
 * entry of origin cannot fail. */
int gp_log_reserve(gp_log *l, uint64_t origin);
/* Appends e (taken; allocated with the log's allocator); needs
 * gp_log_reserve(l, e->origin) first.  Marks it seen. */
void gp_log_append(gp_log *l, gp_entry *e);
/* Allocates an entry of len bytes (copied from data), or NULL. */
gp_entry *gp_entry_new(const crdt_mem *mem, uint64_t origin, uint64_t seq,
                       uint32_t key, uint64_t round, unsigned age,
                       uint64_t from, const uint8_t *data, size_t len);
/* The age of e now, at round `round`, saturated at 255. */
unsigned gp_entry_age(const gp_entry *e, uint64_t round);
/* Frees the oldest entries while the log holds more than max_bytes;
 * returns how many. */
size_t gp_log_trim(gp_log *l, size_t max_bytes);
/* Frees the entries logged before round min_round, and the oldest ones
 * while the log holds more than max_bytes; returns how many were freed,
 * *evicted those freed by the budget.  Forgets origins not seen since
 * forget_before (and with no entries). */
size_t gp_log_expire(gp_log *l, uint64_t min_round, size_t max_bytes,
                     uint64_t forget_before, size_t *evicted);

/* ====================================================================
 * The node
 * ==================================================================== */

/*
 * Peers.  The table is two parallel arrays in ascending id order, pid
 * (the ids: 8 bytes) and pslot (4 bytes: 1 + the index of the peer's
 * state in the state pool, or 0), searched by id alone.  A peer's state
 * exists only once the node has dealt with it (heard from it, asked it
 * something, stored its address, wants a repair with it); until then it
 * is all zeros, so a node of a formed 10,000-node cluster writes 12
 * bytes per peer, and 36 per peer it has talked to (60 at most with the
 * arrays' room to grow).  Times are ms since
 * the node's clock origin (the first tick) + 1, saturating at
 * UINT32_MAX - 1; 0 is none.
 */
typedef struct gp_peer {
    uint64_t incarnation;   /* 0: not heard yet; free states: next free */
    uint32_t heard;         /* last datagram from it */
    uint32_t waiting;       /* first unanswered request */
    uint32_t addr;          /* offset + 1 into the address arena, 0 = none */
    uint8_t down;           /* marked down */
    uint8_t repair;         /* a repair with it is due */
    uint16_t pad;
} gp_peer;

/* A request awaiting an answer (down detection): the wait queue is in
 * request order, so in order of stamp. */
typedef struct gp_wait {
    uint64_t id;
    uint32_t stamp;         /* the request's time, as gp_peer.waiting */
} gp_wait;

/* Datagrams and bytes of one kind, sent and received. */
typedef struct gp_kind_counts {
    uint64_t sent, sent_bytes, received, received_bytes;
} gp_kind_counts;

/* A queued outgoing datagram (poll mode). */
typedef struct gp_qdgram {
    uint64_t to;
    uint8_t *data;          /* addr bytes then the datagram */
    uint32_t addrlen, len;
} gp_qdgram;

/* A message being reassembled from fragments. */
typedef struct gp_reasm {
    uint64_t from, fid;
    uint64_t started;       /* node time */
    uint64_t touched;       /* last new fragment */
    uint32_t count, got;
    uint32_t chunk;         /* bytes per fragment but the last */
    uint32_t total;         /* bytes of the whole */
    uint8_t *have;          /* count flags */
    uint8_t *data;          /* total bytes */
} gp_reasm;

/*
 * The node.  The fields every datagram and tick touch come first, packed
 * into a few cache lines, with copies of the settings they read (set
 * spreads them over four lines); in a simulation of 10,000 nodes each
 * event finds its node cold, and each line is a miss.
 */
struct crdt_gossip {
    /* ---- hot: clock, identity, counters of every datagram ---- */
    bool started;               /* first tick seen */
    bool busy;                  /* inside a callback */
    uint32_t max_datagram;      /* set.max_datagram */
    uint32_t sample_size;       /* set.sample_size */
    uint64_t node_id;           /* set.node_id */
    uint64_t cluster_id;        /* set.cluster_id */
    uint64_t origin_ms;         /* clock origin (first tick) */
    uint64_t now;               /* last time given, absolute */
    uint64_t next_round;        /* absolute ms */
    uint64_t next_repair;
    uint64_t bytes_sent, bytes_received; /* metrics, all datagrams */
    /* set.callbacks */
    int (*send)(void *, uint64_t, const uint8_t *, size_t, const uint8_t *,
                size_t);
    void (*on_change)(void *, const uint8_t *, size_t);
    void (*on_peer)(void *, uint64_t, bool);
    void *user_data;

    /* ---- hot: the peer table's header ---- */
    uint64_t *pid;              /* peer ids, ascending */
    uint32_t *pslot;            /* 1 + index into pst, 0 = no state */
    gp_peer *pst;               /* peer states; freed ones chained */
    size_t npeers, pcap;
    size_t ndown;
    size_t memo;                /* index of the peer last looked up */
    uint64_t memo_id;           /* its id (compared before pid[memo]) */
    uint64_t id_lo, id_hi;      /* pid[0], pid[npeers - 1] (0 if none) */
    size_t arena_len;           /* bytes used in arena (0: no address) */
    crdtp_rng rng;

    /* ---- hot: building and reading datagrams ---- */
    uint8_t env[4 * 9];         /* version, cluster, node id and
                                 * incarnation, encoded (gp_begin) */
    uint32_t envlen;
    crdt_buf out;               /* the datagram being built */
    crdt_limits lim;            /* set.limits (datagram readers) */
    /* per-kind counters side by side: a datagram's count and bytes in
     * one line (crdt_gossip_metrics_get spreads them out) */
    gp_kind_counts kc[CRDT_GOSSIP_KINDS];
    gp_tree tree;               /* (its root first) */
    gp_log log;
    gp_store store;             /* (its dirty count first) */

    /* ---- warm: every tick ---- */
    crdt_mem mem;
    uint64_t round;             /* rounds run */
    uint64_t seq;               /* last local delta seq */
    size_t cursor;              /* summary rotation: next origin index */
    uint64_t last_behind;       /* last repair asked for a lagging peer */
    gp_wait *waitq;             /* pending requests: [whead, + nwait) */
    size_t whead, nwait, wcap;
    size_t nreasm;              /* (reasm below) */
    size_t nrep;                /* (repq below) */
    size_t nst, stcap;          /* states used (live or free), allocated */
    size_t stfree;              /* 1 + first free state, 0 = none */
    crdt_gossip_metrics m;      /* the other counters (rounds first) */

    /* ---- the rest ---- */
    crdt_gossip_settings set;
    uint64_t incarnation;
    crdt_actor actor;
    crdt_hlc *hlc;
    const crdt_registry *reg;   /* set.registry or builtins */
    crdt_registry *own_reg;     /* builtins, when set.registry is NULL */
    const crdt_type *ormap_type;

    uint8_t *arena;             /* addresses: [len][bytes] records */
    size_t arena_cap, arena_dead;
    uint64_t *repq;             /* ids of peers a repair is due with */
    size_t repcap;

    gp_qdgram *queue;           /* poll mode: ring */
    size_t qhead, qcount, qcap, qbytes;
    uint8_t *polled;            /* the last polled datagram's block */

    gp_reasm *reasm;
    size_t rcap, rbytes;

    /* the lists of the datagram being parsed (gossip_wire.c) */
#define GP_SCRATCH_LISTS 7
    void *scr[GP_SCRATCH_LISTS];
    size_t scrcap[GP_SCRATCH_LISTS]; /* bytes */
    bool scr_big;               /* a list is past its keep size */

    crdt_buf tmp;               /* scratch for fragmentation etc. */
};

/* ---- gossip.c helpers used by the other files ---- */

/* Node time (ms since the clock origin), saturated to 32 bits + 1 for
 * peer records. */
uint32_t gp_stamp(const crdt_gossip *g);
/* The table index of peer id, or -1. */
long gp_peer_find(crdt_gossip *g, uint64_t id);
/* The address of the peer at table index i (empty if none). */
void gp_peer_addr(const crdt_gossip *g, size_t i, const uint8_t **addr,
                  size_t *len);
/* Hands one finished datagram (g->out) to peer `to`: send callback or
 * queue; updates the metrics; fragments it first if it is too long. */
int gp_send(crdt_gossip *g, uint64_t to, int kind);
/* Marks that a request to `to` awaits an answer (down detection). */
void gp_expect_answer(crdt_gossip *g, uint64_t to);
/* The same for the peer at table index i. */
void gp_expect_answer_at(crdt_gossip *g, size_t i);

void gp_call_on_change(crdt_gossip *g, const uint8_t *key, size_t klen);
/* A random peer that is up and not in ex[0..nex) (gp_pick_up), or a
 * random down peer (gp_pick_down): its id, and its table index in *idx
 * (if not NULL); 0 if none. */
uint64_t gp_pick_up(crdt_gossip *g, const uint64_t *ex, size_t nex,
                    size_t *idx);
uint64_t gp_pick_down(crdt_gossip *g, size_t *idx);
/* Asks for a repair exchange with peer id soon. */
void gp_want_repair(crdt_gossip *g, uint64_t id);
/* Adds the peers of a membership sample. */
struct gp_member;
void gp_learn_members(crdt_gossip *g, const struct gp_member *mb, size_t n);
/* The log window in rounds. */
uint64_t gp_log_rounds(const crdt_gossip *g);

/* Brings the dirty keys' hashes and the digest tree up to date. */
int gp_flush(crdt_gossip *g);

/* Merges the decoded state or delta `m` into key (key, klen), creating
 * the key if needed.  *changed says whether the state changed.  When
 * log_origin != 0 and the state changed, logs the delta bytes
 * (raw, rawlen) under (log_origin, log_seq), aged log_age, received
 * from peer `from`.  Calls on_change. */
int gp_apply(crdt_gossip *g, const uint8_t *key, size_t klen,
             const crdt_ormap *m, uint64_t log_origin, uint64_t log_seq,
             unsigned log_age, uint64_t from, const uint8_t *raw,
             size_t rawlen, bool *changed);
/* Rounds during which a delta is pushed unasked: the setting, or
 * floor(log3(peers + 1)) - 1, at least 1. */
unsigned gp_push_rounds(const crdt_gossip *g);

#endif
