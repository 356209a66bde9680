/* SPDX-License-Identifier: MIT */
/*
 * The type table (see typetab.h): one row per type with a codec.  The
 * void-pointer wrappers below are the only type-specific code the fuzz
 * targets, the replay driver and the interop helper need.
 */
#include <inttypes.h>
#include <string.h>

#include <crdt/vclock.h>

#include "typetab.h"

/* ======================================================================
 * Random numbers
 * ====================================================================== */

/* Every boundary of the MessagePack unsigned forms, and its neighbours. */
static const uint64_t edges[] = {
    1,           2,           0x7e,        0x7f,        0x80,
    0x81,        0xfe,        0xff,        0x100,       0x101,
    0xfffe,      0xffff,      0x10000,     0x10001,     0xfffffffeu,
    0xffffffffu, 0x100000000u, 0x100000001u, UINT64_MAX - 1, UINT64_MAX,
};
#define N_EDGES (sizeof edges / sizeof edges[0])

tt_shape tt_pick_shape(tu_rng *rng, tt_shape shape)
{
    if (shape != TT_ANY)
        return shape;
    /* Mostly small and edge states; big and many less often; empty rarely. */
    switch (tu_below(rng, 16)) {
    case 0:
        return TT_EMPTY;
    case 1:
    case 2:
        return TT_MANY;
    case 3:
    case 4:
    case 5:
        return TT_BIG;
    case 6:
    case 7:
    case 8:
    case 9:
        return TT_EDGE;
    default:
        return TT_SMALL;
    }
}

uint64_t tt_rand_count(tu_rng *rng, tt_shape shape)
{
    switch (shape) {
    case TT_BIG:
        return UINT64_MAX / 8 - tu_below(rng, 1000);
    case TT_EDGE:
        return edges[tu_below(rng, N_EDGES)];
    case TT_MANY:
        return 1 + tu_below(rng, 1u << (tu_below(rng, 5) * 8));
    default:
        return 1 + tu_below(rng, 200);
    }
}

uint64_t tt_rand_actor(tu_rng *rng, tt_shape shape)
{
    switch (shape) {
    case TT_EDGE:
        /* 0 is a valid actor id too. */
        return tu_below(rng, N_EDGES + 1) == 0 ? 0
                                               : edges[tu_below(rng, N_EDGES)];
    case TT_SMALL:
        return tu_below(rng, 2) ? tu_below(rng, 300) : tu_rand(rng);
    default:
        return tu_rand(rng) >> (tu_below(rng, 8) * 8);
    }
}

size_t tt_rand_size(tu_rng *rng, tt_shape shape)
{
    switch (shape) {
    case TT_EMPTY:
        return 0;
    case TT_MANY:
        return 16 + (size_t)tu_below(rng, 300);
    case TT_EDGE:
        return 1 + (size_t)tu_below(rng, 12);
    default:
        return 1 + (size_t)tu_below(rng, 6);
    }
}

/* ======================================================================
 * JSON helpers
 * ====================================================================== */

static void json_u64(FILE *out, uint64_t v)
{
    fprintf(out, "%" PRIu64, v);
}

/* ======================================================================
 * vclock
 * ====================================================================== */

static void *vclock_new(const crdt_mem *mem)
{
    return crdt_vclock_new(mem);
}

static void vclock_free(void *obj)
{
    crdt_vclock_free(obj);
}

static bool vclock_equal(const void *a, const void *b)
{
    return crdt_vclock_equal(a, b);
}

static int vclock_encode(const void *obj, crdt_buf *out)
{
    return crdt_vclock_encode(obj, out);
}

static int vclock_decode(void *dst, const uint8_t *data, size_t len,
                         const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_vclock_decode(dst, data, len, lim, info);
}

static int vclock_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    size_t n, i;
    int rv;

    shape = tt_pick_shape(rng, shape);
    n = tt_rand_size(rng, shape);
    for (i = 0; i < n; i++) {
        rv = crdt_vclock_set(obj, tt_rand_actor(rng, shape),
                             tt_rand_count(rng, shape));
        if (rv)
            return rv;
    }
    return CRDT_OK;
}

/* {"entries": [[actor, counter], ...]} in ascending actor order. */
static void vclock_model(const void *obj, FILE *out)
{
    size_t i, n = crdt_vclock_size(obj);
    crdt_actor a;
    uint64_t c;

    fputs("{\"entries\":[", out);
    for (i = 0; i < n; i++) {
        if (crdt_vclock_entry(obj, i, &a, &c))
            break;
        fputs(i ? ",[" : "[", out);
        json_u64(out, a);
        fputc(',', out);
        json_u64(out, c);
        fputc(']', out);
    }
    fputs("]}", out);
}

static const tt_type tt_vclock = {
    "vclock",      CRDT_TAG_VCLOCK, vclock_new,  vclock_free,  vclock_equal,
    vclock_encode, vclock_decode,   vclock_gen,  vclock_model,
};

/* ======================================================================
 * The table
 * ====================================================================== */

const tt_type *const tt_types[] = {
    &tt_vclock,
    NULL,
};

const tt_type *tt_find(const char *name)
{
    size_t i;

    for (i = 0; tt_types[i]; i++)
        if (strcmp(tt_types[i]->name, name) == 0)
            return tt_types[i];
    return NULL;
}
