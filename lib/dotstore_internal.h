/* SPDX-License-Identifier: MIT */
/*
 * The causal types as dot stores, for the OR-map (ormap.c), which runs
 * the values it embeds on its own causal context: each causal type
 * (orset, mvreg, ewflag, dwflag, ormap) lends the map its object's
 * context, to replace before a mutation or a join and to rebuild from the
 * object's dots after, and lists those dots.
 */
#ifndef CRDT_DOTSTORE_INTERNAL_H
#define CRDT_DOTSTORE_INTERNAL_H

#include <crdt/type.h>

#include "dotctx_internal.h"
#include "mem_internal.h"

/* A growable array of dots. */
typedef struct crdtp_dotbuf {
    crdt_dot *d;
    size_t n, cap;
} crdtp_dotbuf;

static inline int crdtp_dotbuf_push(crdtp_dotbuf *b, const crdt_mem *mem,
                                    crdt_dot d)
{
    if (b->n == b->cap) {
        size_t cap = crdtp_grow_cap(b->cap, b->n + 1);
        crdt_dot *p = crdtp_realloc_array(mem, b->d, cap, sizeof *p);

        if (!p)
            return CRDT_ERR_NOMEM;
        b->d = p;
        b->cap = cap;
    }
    b->d[b->n++] = d;
    return CRDT_OK;
}

typedef struct crdtp_dotstore {
    /* The object's causal context. */
    dotctx *(*ctx)(void *obj);
    /* Appends every dot of the object's store (not its context) to b. */
    int (*dots)(const void *obj, crdtp_dotbuf *b, const crdt_mem *mem);
} crdtp_dotstore;

extern const crdtp_dotstore crdtp_orset_dotstore;
extern const crdtp_dotstore crdtp_mvreg_dotstore;
/* ewflag and dwflag: both structs hold only their dflag. */
extern const crdtp_dotstore crdtp_dflag_dotstore;

#endif /* CRDT_DOTSTORE_INTERNAL_H */
