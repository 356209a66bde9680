/* SPDX-License-Identifier: MIT */
/*
 * crdt-node's node-to-node messages (see node.h for what each does), as a
 * pure codec so that the decoder can be fuzzed alone.  Each message is one
 * MessagePack array, integers and bins in their shortest form:
 *   [78, cluster_id, sender_id, kind, req]                    HELLO, WELCOME
 *   [78, cluster_id, sender_id, ACK, req, status (int)]
 *   [78, cluster_id, sender_id, READ, req, key (bin)]
 *   [78, cluster_id, sender_id, REPL or STATE, req, key, total, chunk,
 *    index, bytes (bin)]
 * The 78 in place of the gossip wire version (1) tells them apart from
 * the engine's datagrams on the shared socket.
 */
#ifndef CRDT_NODE_MSG_H
#define CRDT_NODE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <crdt/codec.h>

#define NMSG_MARK 78
#define NMSG_MAX_KEY 1024u
#define NMSG_MAX_STATE (16u << 20)

enum { NMSG_HELLO = 1, NMSG_WELCOME, NMSG_REPL, NMSG_ACK, NMSG_READ,
       NMSG_STATE, NMSG_KINDS };

typedef struct nmsg {
    int kind;
    uint64_t cluster, from, req;
    const uint8_t *key;     /* READ, REPL, STATE (borrowed) */
    size_t klen;
    uint64_t total, chunk, index; /* REPL, STATE: a part of the state */
    const uint8_t *bytes;   /* its bytes (borrowed) */
    size_t blen;
    int64_t status;         /* ACK */
} nmsg;

/* Whether @p len bytes at @p data start like a node message (an array
 * whose first element is 78), not a gossip datagram. */
bool nmsg_is_node(const uint8_t *data, size_t len);

/* Decodes a node message; every pointer in @p m borrows from @p data.
 * Checks the shape of each kind, key length 1..NMSG_MAX_KEY, total at
 * most NMSG_MAX_STATE, chunk 1..NMSG_MAX_STATE, index < parts, and that
 * the part has exactly the length its index implies.  Returns 0, or CRDT_ERR_DECODE
 * (@p m unspecified).  Never allocates. */
int nmsg_decode(nmsg *m, const uint8_t *data, size_t len);

/* Appends the encoding of @p m (its kind's fields) to @p out.  Errors:
 * CRDT_ERR_INVALID_ARG (unknown kind), CRDT_ERR_NOMEM / CRDT_ERR_BUFFER
 * (@p out's length unchanged). */
int nmsg_encode(const nmsg *m, crdt_buf *out);

/* The number of parts a state of @p total bytes in parts of @p chunk
 * bytes has (1 for an empty state). */
uint64_t nmsg_parts(uint64_t total, uint64_t chunk);

/* A key's state being received in parts (REPL or STATE): the one
 * reassembler both uses.  Unlike the codec above, it allocates. */
typedef struct npart {
    uint8_t *key;
    size_t klen;
    uint64_t total, chunk, parts, got;
    uint8_t *bits;  /* parts received */
    uint8_t *data;  /* total bytes */
} npart;

/* Bytes an npart for a message like @p m holds (for memory budgets). */
size_t npart_cost(const nmsg *m);
/* Makes @p p ready for the parts of @p m's key and state.  Errors:
 * CRDT_ERR_NOMEM (@p p empty). */
int npart_init(npart *p, const nmsg *m);
/* Whether @p m is a part of the state @p p is gathering (same key, total
 * and chunk). */
bool npart_matches(const npart *p, const nmsg *m);
/* Stores @p m's part (a repeated part is ignored); true once every part
 * is in (the state is then p->data, p->total bytes).  @p m must match. */
bool npart_add(npart *p, const nmsg *m);
/* Frees what @p p holds. */
void npart_clear(npart *p);

#endif
