/* SPDX-License-Identifier: MIT */
/* The fast path: rounds, pushes and summaries (gossip_fast.c). */
#ifndef CRDT_GOSSIP_FAST_H
#define CRDT_GOSSIP_FAST_H

#include "gossip_wire.h"

/* Datagrams one summary (SYN or ACK) may take; origins beyond them wait
 * for the next round (the summary's start rotates). */
#define GP_SUMMARY_DATAGRAMS 4u
/* Datagrams of deltas one answer may take. */
#define GP_PUSH_DATAGRAMS 64u

/* One round's exchanges: fresh local deltas and summaries to fanout
 * peers (and now and then a down one). */
void gp_fast_round(crdt_gossip *g);
/* A PUSH: merges its deltas, logging those that inflate the store. */
int gp_fast_push(crdt_gossip *g, const gp_msg *m);
/* A SYN (answered with deltas and an ACK) or an ACK (answered with
 * deltas). */
int gp_fast_summary(crdt_gossip *g, const gp_msg *m);

#endif
