/* SPDX-License-Identifier: MIT */
/*
 * A table of every type that has a codec, so that the fuzz targets, their
 * replay driver and the interop helper are written once and serve every
 * type: a row holds the type's descriptor (<crdt/type.h>: name, tag,
 * lifecycle, equality, codec behind void pointers), the decode errors its
 * header documents, and two test-side functions:
 * a generator of random states in a few shapes (the seed corpus and the
 * interop states come from it) and a printer of the state's logical
 * content as JSON (the "model" the Python interop test compares with).
 *
 * Adding a type: write its row in typetab.c and list it in tt_types.
 */
#ifndef CRDT_TYPETAB_H
#define CRDT_TYPETAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/type.h>

#include "testutil.h"

/* Shapes of generated states.  The corpus has a few of each; random
 * generation (TT_ANY) picks one at random. */
typedef enum tt_shape {
    TT_EMPTY = 0, /* the empty state */
    TT_SMALL,     /* a few entries, small numbers */
    TT_BIG,       /* counters near UINT64_MAX (sums stay in range) */
    TT_MANY,      /* hundreds of entries (map16 headers) */
    TT_EDGE,      /* integers at every MessagePack width boundary */
    TT_ANY,       /* one of the above, at random */
    TT_NSHAPES = TT_ANY
} tt_shape;

typedef struct tt_type {
    /* The type's descriptor (name, tag, create, destroy, equal, encode,
     * decode, ...): the library's own, crdt_<type>_type(), for the
     * replicated types; a test-local one for hlc, which has none. */
    const crdt_type *(*ops)(void);
    /* True iff crdt_registry_add_builtins registers the type. */
    bool registered;
    /* The errors the decoder's header documents for bad input (not
     * INVALID_ARG or NOMEM), 0-terminated. */
    const int *decode_errors;
    /* Fills the empty @p obj with a random state of @p shape.  Returns
     * CRDT_OK or the error of the mutator that failed. */
    int (*gen)(void *obj, tu_rng *rng, tt_shape shape);
    /* Prints the logical content as one line of JSON (no newline). */
    void (*model)(const void *obj, FILE *out);
    /* Optional (NULL: none): the invariants of a state beyond its bytes
     * being canonical, checked on every state a decoder accepts.  NULL if
     * they hold, else what is wrong. */
    const char *(*invalid)(const void *obj);
} tt_type;

/* Every type, NULL-terminated. */
extern const tt_type *const tt_types[];

/* The row named @p name, or NULL. */
const tt_type *tt_find(const char *name);

/* Random numbers for generators: a counter (never 0) or an actor, spread
 * according to @p shape (TT_EDGE: MessagePack width boundaries, ...). */
uint64_t tt_rand_count(tu_rng *rng, tt_shape shape);
uint64_t tt_rand_actor(tu_rng *rng, tt_shape shape);
/* The number of entries of a generated state. */
size_t tt_rand_size(tu_rng *rng, tt_shape shape);
/* TT_ANY resolved to a concrete shape. */
tt_shape tt_pick_shape(tu_rng *rng, tt_shape shape);

#endif
