/* SPDX-License-Identifier: MIT */
/*
 * Gossip datagrams: building (envelope, packing items into datagrams of
 * at most max_datagram bytes) and the checked parse of each kind.
 *
 * Every datagram:  [1, cluster_id, sender_id, incarnation, kind, body...]
 *   PUSH    [deltas]          deltas: [[origin, seq, age, key, state], ...]
 *   SYN     [lo, hi, summary, members]
 *   ACK     [lo, hi, summary, members]
 *           summary: [[origin, prefix, bits], ...] ascending, in [lo, hi]
 *           members: [[id, addr], ...]
 *   TREE    [salt, blocks]           blocks: [[level, index, sums], ...]
 *           sums: bin of 16 big-endian uint32, the children's sums as
 *           gp_sum32(sum, salt)
 *   KEYS    [leaves]                 leaves: [[level, index, keys], ...]
 *           keys: [[pos, hash], ...] ascending by pos
 *   STATES  [more, states]           states: [[key, state], ...]
 *   WANT    [positions]              positions: [pos, ...]
 *   FRAG    [fid, index, count, total, bytes]
 * key and addr are bin; state is an inline OR-map encoding whose entries
 * are all under the empty key.
 */
#ifndef CRDT_GOSSIP_WIRE_H
#define CRDT_GOSSIP_WIRE_H

#include "gossip_internal.h"

/* Largest envelope: array header, version, 3 uint64, kind. */
#define GP_ENVELOPE_MAX 30u
/* Room a FRAG datagram needs besides its bytes. */
#define GP_FRAG_OVERHEAD (GP_ENVELOPE_MAX + 5u * 9u + 5u)

/* ---- building ---- */

/* Fills g->env with the fixed part of the node's envelope (version,
 * cluster, sender, incarnation); returns its length. */
size_t gp_envelope_init(crdt_gossip *g);
/* Starts g->out as a datagram of `kind` with nbody body fields. */
void gp_begin(crdt_gossip *g, int kind, unsigned nbody, cw *w);

/* Packs items of one list into as many datagrams as needed.  The caller
 * encodes each item with gp_pack_item_begin / cw_* / gp_pack_item_end;
 * datagrams are sent as they fill (at most `budget` of them; then items
 * are refused and `full` is set). */
typedef struct gp_packer {
    crdt_gossip *g;
    uint64_t to;
    int kind;
    crdt_buf items;     /* encoded items of the current datagram */
    uint32_t n;         /* items in it */
    size_t mark;        /* items.len before the item being written */
    unsigned budget;    /* datagrams it may still send */
    unsigned sent;
    bool more;          /* STATES: sets the 'more' field of the last */
    uint64_t salt;      /* TREE: the exchange's salt, in every datagram */
    bool full;          /* the budget ran out */
    int err;
} gp_packer;

void gp_pack_init(gp_packer *p, crdt_gossip *g, uint64_t to, int kind,
                  unsigned budget);
/* Returns a writer appending to the items buffer; false if full. */
bool gp_pack_item_begin(gp_packer *p, cw *w);
void gp_pack_item_end(gp_packer *p, cw *w);
/* Sends what is left; returns the first error. */
int gp_pack_finish(gp_packer *p);
void gp_pack_clear(gp_packer *p);

/* ---- parsing ---- */

/* Items, summary entries and members a message holds without the
 * node's arrays. */
#define GP_MSG_SMALL 4u

typedef struct gp_item {       /* PUSH delta or STATES state */
    uint64_t origin, seq;      /* PUSH only */
    unsigned age;              /* PUSH only: rounds since written */
    const uint8_t *key;
    size_t klen;
    const uint8_t *raw;        /* the state's encoding */
    size_t rawlen;
    crdt_ormap *map;           /* decoded */
} gp_item;

typedef struct gp_sum {        /* summary entry */
    uint64_t origin, prefix, bits;
} gp_sum;

typedef struct gp_member {
    uint64_t id;
    const uint8_t *addr;
    size_t addrlen;
} gp_member;

typedef struct gp_block {      /* TREE block */
    uint32_t level;
    uint64_t index;
    uint32_t sums[GP_TREE_FANOUT]; /* gp_sum32 of the children's sums */
} gp_block;

/* A digest-tree sum as a TREE datagram carries it: 32 bits of a mix of
 * the sum and the exchange's salt.  Two different sums give equal values
 * with probability about 2^-32, and a new salt each exchange makes such a
 * miss independent of the last one. */
uint32_t gp_sum32(uint64_t sum, uint64_t salt);

typedef struct gp_kh {         /* KEYS key */
    uint64_t pos, h;
} gp_kh;

typedef struct gp_leaf {       /* KEYS leaf */
    uint32_t level;
    uint64_t index;
    gp_kh *keys;               /* into gp_msg.khs */
    uint32_t nkeys;
} gp_leaf;

typedef struct gp_msg {
    uint64_t cluster, sender, incarnation;
    int kind;
    uint32_t nfields;          /* the datagram's top-level array */
    /* PUSH, STATES */
    gp_item *items;
    uint32_t nitems;
    bool more;
    /* SYN, ACK */
    uint64_t lo, hi;
    gp_sum *sums;
    uint32_t nsums;
    gp_member *members;
    uint32_t nmembers;
    /* TREE */
    uint64_t salt;
    gp_block *blocks;
    uint32_t nblocks;
    /* KEYS */
    gp_leaf *leaves;
    uint32_t nleaves;
    gp_kh *khs;
    uint32_t nkhs;
    /* WANT */
    uint64_t *wants;
    uint32_t nwants;
    /* FRAG */
    uint64_t fid;
    uint32_t findex, fcount, ftotal;
    const uint8_t *fbytes;
    size_t flen;
    /* the lists of the usual summary or push, on the caller's stack
     * rather than in the node's arrays (GP_MSG_BUFS: not cleared) */
    gp_item item_buf[GP_MSG_SMALL];
    gp_sum sum_buf[GP_MSG_SMALL];
    gp_member member_buf[GP_MSG_SMALL];
} gp_msg;

/* The part of gp_msg that parsing clears. */
#define GP_MSG_BUFS offsetof(gp_msg, item_buf)

/* Parses the envelope of the datagram at r (a reader over the whole
 * datagram, with the node's limits) into m: cluster, sender, incarnation,
 * kind, field count; leaves r at the body.  CRDT_ERR_VERSION for another
 * wire version, CRDT_ERR_DECODE otherwise. */
int gp_parse_envelope(cr *r, gp_msg *m);

/* Parses and checks the rest of the datagram (decoding every state), so
 * that nothing is applied from a datagram with a bad part.  The lists of
 * m live in m itself when short, else in the node's parse arrays, valid
 * until gp_msg_clear (m must not be copied meanwhile); one message at a
 * time has lists in the node's arrays (a FRAG has none, so the message
 * reassembled from it may be parsed while it is live).  On error *m
 * holds nothing to free. */
int gp_parse_body(crdt_gossip *g, cr *r, gp_msg *m);
/* Frees what m holds (its decoded maps); m is not to be used after. */
void gp_msg_clear(crdt_gossip *g, gp_msg *m);

/* True if the context of the OR-map encoded in raw holds a dot that
 * map's context lacks: merging it certainly changes map.  (False says
 * nothing.)  raw has been decoded already, so it is well formed. */
bool gp_has_new_dot(const crdt_ormap *map, const uint8_t *raw, size_t len);

/* Checks that raw (an OR-map encoding) has entries under the empty key
 * only, and decodes it into a new map.  For PUSH, STATES, snapshots. */
int gp_decode_state(crdt_gossip *g, const uint8_t *raw, size_t len,
                    crdt_ormap **out, crdt_decode_info *info);

#endif
