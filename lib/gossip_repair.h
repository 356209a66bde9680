/* SPDX-License-Identifier: MIT */
/* The repair path: digest exchanges (gossip_repair.c). */
#ifndef CRDT_GOSSIP_REPAIR_H
#define CRDT_GOSSIP_REPAIR_H

#include "gossip_wire.h"

/* A differing subtree with at most this many keys (on the answering
 * side) is answered with its keys rather than its children's sums. */
#define GP_LEAF_KEYS 8u
/* Datagrams of TREE or KEYS one answer may take. */
#define GP_REPAIR_DATAGRAMS 16u
/* Datagrams of STATES one answer may take; more waits for the next
 * exchange (the STATES datagrams say so, and the peer repairs again
 * soon). */
#define GP_STATES_DATAGRAMS 48u

/* Starts a digest exchange with peer `to`: the root's children. */
int gp_repair_start(crdt_gossip *g, uint64_t to);
/* TREE, KEYS, WANT or STATES from a peer. */
int gp_repair_receive(crdt_gossip *g, const gp_msg *m);

#endif
