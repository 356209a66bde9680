/* SPDX-License-Identifier: MIT */
/*
 * dotflag: the dot-set kernel shared by the enable-wins and disable-wins
 * flags (ewflag.c, dwflag.c): a set of dots over a causal context.  The
 * two flags differ only in which operation adds a dot and how the value
 * reads (EW: enabled iff a dot is present; DW: enabled iff none is).
 *
 * Representation and invariants:
 *   dots[0, n): strictly ascending by (actor, counter), each in ctx;
 *   dots[n, cap): spare, the scratch of merge;
 *   ctx: clean (compact) between calls.
 * In practice n is 0 or 1 (an add supersedes every observed dot), and a
 * few after concurrent adds.
 */
#ifndef CRDT_DOTFLAG_INTERNAL_H
#define CRDT_DOTFLAG_INTERNAL_H

#include <crdt/dotctx.h>

#include "codec_internal.h"
#include "dotctx_internal.h"

typedef struct dflag {
    crdt_dot *dots; /* the dot set, then spare */
    size_t n;       /* dots in the set */
    size_t cap;     /* dots allocated */
    dotctx ctx;     /* causal context */
    crdt_mem mem;   /* allocator of everything */
} dflag;

void crdtp_dflag_init(dflag *f, const crdt_mem *mem);
/* Frees the storage and leaves f empty. */
void crdtp_dflag_clear(dflag *f);
/* dst becomes a copy of src; unchanged on error. */
int crdtp_dflag_copy(dflag *dst, const dflag *src);
bool crdtp_dflag_equal(const dflag *a, const dflag *b);
/* Adds a new dot of actor a that supersedes every dot of f; joins the
 * delta ({d}, context {d} + superseded dots) into delta if non-NULL.
 * Atomic: f and delta unchanged on error. */
int crdtp_dflag_add(dflag *f, crdt_actor a, dflag *delta);
/* Removes every dot of f (a no-op when there is none); joins the delta
 * (no dots, context of the removed ones) into delta if non-NULL.
 * Atomic. */
int crdtp_dflag_rmv(dflag *f, dflag *delta);
/* Dot-set join of src into dst; dst unchanged on error. */
int crdtp_dflag_merge(dflag *dst, const dflag *src);
int crdtp_dflag_encode(const dflag *f, uint32_t tag, crdt_buf *out);
/* Replaces dst by the decoded flag of type tag; dst unchanged on error. */
int crdtp_dflag_decode(dflag *dst, uint32_t tag, const uint8_t *data,
                       size_t len, const crdt_limits *lim,
                       crdt_decode_info *info);

#endif /* CRDT_DOTFLAG_INTERNAL_H */
