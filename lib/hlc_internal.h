/* SPDX-License-Identifier: MIT */
/*
 * Hybrid logical clock internals for other modules (the LWW register's
 * set_now): compute the next timestamp without issuing it, so that a caller
 * whose own work may still fail can commit the clock only on success.
 */
#ifndef CRDT_HLC_INTERNAL_H
#define CRDT_HLC_INTERNAL_H

#include <crdt/hlc.h>

/* Computes the timestamp crdt_hlc_update(hlc, remote) would issue (or
 * crdt_hlc_now(hlc) when has_remote is false) into *ts, reading the wall
 * clock once, without changing hlc.  Same errors as those functions. */
int crdtp_hlc_next(const crdt_hlc *hlc, bool has_remote, uint64_t remote,
                   uint64_t *ts);

/* Issues ts, which must come from crdtp_hlc_next on this clock with no
 * other call on it in between. */
void crdtp_hlc_commit(crdt_hlc *hlc, uint64_t ts);

#endif /* CRDT_HLC_INTERNAL_H */
