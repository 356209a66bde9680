/* SPDX-License-Identifier: MIT */
/*
 * The type table (see typetab.h): one row per type with a codec.  The
 * generators and JSON models below are the only type-specific code the
 * fuzz targets, the replay driver and the interop helper need; the rest
 * goes through each type's descriptor.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/dotctx.h>
#include <crdt/flag.h>
#include <crdt/gcounter.h>
#include <crdt/gset.h>
#include <crdt/hlc.h>
#include <crdt/lww.h>
#include <crdt/mvreg.h>
#include <crdt/ormap.h>
#include <crdt/orset.h>
#include <crdt/pncounter.h>
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
        return 1 + tu_below(rng, (uint64_t)1 << (tu_below(rng, 5) * 8));
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
 * Documented decode errors
 * ====================================================================== */

static const int errs_basic[] = {CRDT_ERR_DECODE, CRDT_ERR_VERSION,
                                 CRDT_ERR_TYPE, 0};
static const int errs_limit[] = {CRDT_ERR_DECODE, CRDT_ERR_VERSION,
                                 CRDT_ERR_TYPE, CRDT_ERR_LIMIT, 0};
static const int errs_counter[] = {CRDT_ERR_DECODE, CRDT_ERR_VERSION,
                                   CRDT_ERR_TYPE,   CRDT_ERR_LIMIT,
                                   CRDT_ERR_OVERFLOW, 0};

/* ======================================================================
 * JSON helpers
 * ====================================================================== */

static void json_u64(FILE *out, uint64_t v)
{
    fprintf(out, "%" PRIu64, v);
}

/* Bytes as a JSON string of lower-case hex digits. */
static void json_hex(FILE *out, const uint8_t *p, size_t n)
{
    size_t i;

    fputc('"', out);
    for (i = 0; i < n; i++)
        fprintf(out, "%02x", p[i]);
    fputc('"', out);
}

/* ======================================================================
 * vclock
 * ====================================================================== */

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
    .ops = crdt_vclock_type,
    .registered = true,
    .decode_errors = errs_limit,
    .gen = vclock_gen,
    .model = vclock_model,
};

/* ======================================================================
 * Actor maps, shared by the counters' generators and models
 * ====================================================================== */

typedef int (*add_fn)(void *obj, crdt_actor a, uint64_t by);

/* Adds random (actor, amount) pairs through add; amounts that would
 * overflow a sum are skipped (the state stays valid). */
static int gen_adds(void *obj, tu_rng *rng, tt_shape shape, add_fn add)
{
    size_t n, i;
    int rv;

    n = tt_rand_size(rng, shape);
    for (i = 0; i < n; i++) {
        rv = add(obj, tt_rand_actor(rng, shape), tt_rand_count(rng, shape));
        if (rv && rv != CRDT_ERR_OVERFLOW)
            return rv;
    }
    return CRDT_OK;
}

typedef int (*entry_fn)(const void *obj, size_t i, crdt_actor *a,
                        uint64_t *c);

/* [[actor, count], ...] through entry(obj, i) until it fails. */
static void json_entries(FILE *out, const void *obj, entry_fn entry)
{
    crdt_actor a;
    uint64_t c;
    size_t i;

    fputc('[', out);
    for (i = 0; entry(obj, i, &a, &c) == CRDT_OK; i++) {
        fputs(i ? ",[" : "[", out);
        json_u64(out, a);
        fputc(',', out);
        json_u64(out, c);
        fputc(']', out);
    }
    fputc(']', out);
}

/* ======================================================================
 * gcounter: body {actor: count}
 * ====================================================================== */

static int gcounter_add(void *obj, crdt_actor a, uint64_t by)
{
    return crdt_gcounter_increment(obj, a, by, NULL);
}

static int gcounter_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    return gen_adds(obj, rng, tt_pick_shape(rng, shape), gcounter_add);
}

static int gcounter_entry(const void *obj, size_t i, crdt_actor *a,
                          uint64_t *c)
{
    return crdt_gcounter_entry(obj, i, a, c);
}

/* {"entries": [[actor, count], ...], "value": sum} */
static void gcounter_model(const void *obj, FILE *out)
{
    fputs("{\"entries\":", out);
    json_entries(out, obj, gcounter_entry);
    fputs(",\"value\":", out);
    json_u64(out, crdt_gcounter_value(obj));
    fputc('}', out);
}

static const tt_type tt_gcounter = {
    .ops = crdt_gcounter_type,
    .registered = true,
    .decode_errors = errs_counter,
    .gen = gcounter_gen,
    .model = gcounter_model,
};

/* ======================================================================
 * pncounter: body {P actor: count}, {N actor: count}
 * ====================================================================== */

static int pncounter_inc(void *obj, crdt_actor a, uint64_t by)
{
    return crdt_pncounter_increment(obj, a, by, NULL);
}

static int pncounter_dec(void *obj, crdt_actor a, uint64_t by)
{
    return crdt_pncounter_decrement(obj, a, by, NULL);
}

static int pncounter_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    int rv;

    shape = tt_pick_shape(rng, shape);
    if ((rv = gen_adds(obj, rng, shape, pncounter_inc)))
        return rv;
    /* Some states have no decrements, some no increments. */
    if (shape == TT_EMPTY || tu_below(rng, 4) == 0)
        return CRDT_OK;
    if (tu_below(rng, 8) == 0) {
        crdt_pncounter *fresh = crdt_pncounter_new(NULL);

        if (!fresh)
            return CRDT_ERR_NOMEM;
        rv = crdt_pncounter_copy(obj, fresh);
        crdt_pncounter_free(fresh);
        if (rv)
            return rv;
    }
    return gen_adds(obj, rng, shape, pncounter_dec);
}

static int pncounter_entry_p(const void *obj, size_t i, crdt_actor *a,
                             uint64_t *c)
{
    return crdt_pncounter_entry(obj, CRDT_PNCOUNTER_POS, i, a, c);
}

static int pncounter_entry_n(const void *obj, size_t i, crdt_actor *a,
                             uint64_t *c)
{
    return crdt_pncounter_entry(obj, CRDT_PNCOUNTER_NEG, i, a, c);
}

/* {"p": [[actor, count], ...], "n": [...], "value": sum(P) - sum(N)},
 * the value exact (it may not fit int64). */
static void pncounter_model(const void *obj, FILE *out)
{
    uint64_t pos, neg;

    crdt_pncounter_totals(obj, &pos, &neg);
    fputs("{\"p\":", out);
    json_entries(out, obj, pncounter_entry_p);
    fputs(",\"n\":", out);
    json_entries(out, obj, pncounter_entry_n);
    fputs(",\"value\":", out);
    if (pos >= neg) {
        json_u64(out, pos - neg);
    } else {
        fputc('-', out);
        json_u64(out, neg - pos);
    }
    fputc('}', out);
}

static const tt_type tt_pncounter = {
    .ops = crdt_pncounter_type,
    .registered = true,
    .decode_errors = errs_counter,
    .gen = pncounter_gen,
    .model = pncounter_model,
};

/* ======================================================================
 * dotctx: body {actor: n}, [[actor, counter], ...]
 * ====================================================================== */

/* Vector entries around the MessagePack width boundaries that a loop of
 * crdt_dotctx_next_dot reaches quickly. */
static const uint64_t dotctx_edge_vv[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x100};

static int dotctx_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    size_t n, i, k, dots;
    uint64_t vv, j;
    crdt_actor a;
    int rv;

    shape = tt_pick_shape(rng, shape);
    n = tt_rand_size(rng, shape);
    for (i = 0; i < n; i++) {
        a = tt_rand_actor(rng, shape);
        /* The vector entry: that many next_dot calls. */
        if (shape == TT_EDGE)
            vv = dotctx_edge_vv[tu_below(rng, 7)];
        else
            vv = tu_below(rng, shape == TT_SMALL ? 6 : 4);
        if (shape == TT_EDGE && tu_below(rng, 64) == 0)
            vv = 0x10000; /* crosses 0xffff */
        for (j = 0; j < vv; j++) {
            rv = crdt_dotctx_next_dot(obj, a, NULL);
            if (rv == CRDT_ERR_OVERFLOW) /* a repeated actor at 2^64 - 1 */
                break;
            if (rv)
                return rv;
        }
        /* Cloud dots beyond the vector (add folds any that extend it). */
        dots = (size_t)tu_below(rng, shape == TT_MANY ? 3 : 5);
        for (k = 0; k < dots; k++) {
            crdt_dot d;

            d.actor = a;
            if (shape == TT_SMALL)
                d.counter = vv + 2 + tu_below(rng, 20);
            else
                d.counter = tt_rand_count(rng, shape);
            if (d.counter == 0)
                continue;
            if ((rv = crdt_dotctx_add(obj, d)))
                return rv;
        }
    }
    return CRDT_OK;
}

static int dotctx_vv_entry(const void *obj, size_t i, crdt_actor *a,
                           uint64_t *c)
{
    return crdt_dotctx_vv_entry(obj, i, a, c);
}

static int dotctx_cloud_entry(const void *obj, size_t i, crdt_actor *a,
                              uint64_t *c)
{
    crdt_dot d;
    int rv = crdt_dotctx_cloud_dot(obj, i, &d);

    if (rv == CRDT_OK) {
        *a = d.actor;
        *c = d.counter;
    }
    return rv;
}

/* {"vv": [[actor, n], ...], "cloud": [[actor, counter], ...]} */
static void dotctx_model(const void *obj, FILE *out)
{
    fputs("{\"vv\":", out);
    json_entries(out, obj, dotctx_vv_entry);
    fputs(",\"cloud\":", out);
    json_entries(out, obj, dotctx_cloud_entry);
    fputc('}', out);
}

static const tt_type tt_dotctx = {
    .ops = crdt_dotctx_type,
    .registered = true,
    .decode_errors = errs_limit,
    .gen = dotctx_gen,
    .model = dotctx_model,
};

/* ======================================================================
 * Byte-string elements, shared by the sets
 * ====================================================================== */

/* Element lengths around the bin 8/16 boundary. */
static const size_t elem_edge_lens[] = {0, 1, 2, 8, 9, 255, 256};

/* A random element of shape into buf (room for 300 bytes); its length. */
static size_t rand_elem(tu_rng *rng, tt_shape shape, uint8_t *buf)
{
    size_t n, i;

    switch (shape) {
    case TT_EDGE:
        n = elem_edge_lens[tu_below(rng, 7)];
        break;
    case TT_BIG:
        n = (size_t)tu_below(rng, 300);
        break;
    case TT_SMALL:
        /* Few distinct values, so adds repeat and prefixes collide. */
        n = (size_t)tu_below(rng, 4);
        for (i = 0; i < n; i++)
            buf[i] = (uint8_t)('a' + tu_below(rng, 3));
        return n;
    default:
        n = 1 + (size_t)tu_below(rng, 8);
        break;
    }
    for (i = 0; i < n; i++)
        buf[i] = (uint8_t)tu_rand(rng);
    return n;
}

typedef struct elem_ref {
    const uint8_t *p;
    size_t n;
    size_t i; /* storage index */
} elem_ref;

/* The canonical element order: memcmp over the common length, then the
 * shorter first. */
static int elem_cmp(const void *a, const void *b)
{
    const elem_ref *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = n ? memcmp(x->p, y->p, n) : 0;

    if (c)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

typedef int (*elem_fn)(const void *obj, size_t i, const uint8_t **p,
                       size_t *n);

/* The n elements of obj, sorted; NULL if out of memory (or n == 0). */
static elem_ref *sorted_elems(const void *obj, size_t n, elem_fn elem)
{
    elem_ref *e = n ? malloc(n * sizeof *e) : NULL;
    size_t i;

    if (!e)
        return NULL;
    for (i = 0; i < n; i++) {
        e[i].i = i;
        if (elem(obj, i, &e[i].p, &e[i].n)) {
            free(e);
            return NULL;
        }
    }
    qsort(e, n, sizeof *e, elem_cmp);
    return e;
}

/* ======================================================================
 * gset: body [bin, ...]
 * ====================================================================== */

static int gset_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    uint8_t buf[300];
    size_t n, i, len;
    int rv;

    shape = tt_pick_shape(rng, shape);
    n = tt_rand_size(rng, shape);
    for (i = 0; i < n; i++) {
        len = rand_elem(rng, shape, buf);
        if ((rv = crdt_gset_add(obj, buf, len, NULL)))
            return rv;
    }
    return CRDT_OK;
}

static int gset_elem(const void *obj, size_t i, const uint8_t **p,
                     size_t *n)
{
    return crdt_gset_elem(obj, i, p, n);
}

/* {"elems": ["<hex>", ...]} in the canonical (encoding) order. */
static void gset_model(const void *obj, FILE *out)
{
    size_t i, n = crdt_gset_size(obj);
    elem_ref *e = sorted_elems(obj, n, gset_elem);

    fputs("{\"elems\":[", out);
    for (i = 0; e && i < n; i++) {
        if (i)
            fputc(',', out);
        json_hex(out, e[i].p, e[i].n);
    }
    fputs("]}", out);
    free(e);
}

static const tt_type tt_gset = {
    .ops = crdt_gset_type,
    .registered = true,
    .decode_errors = errs_limit,
    .gen = gset_gen,
    .model = gset_model,
};

/* ======================================================================
 * orset: body {vv}, [cloud dots], [[bin, [dots]], ...]
 * ====================================================================== */

static int orset_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    uint8_t buf[300];
    crdt_actor actors[4];
    size_t n, i, len;
    int rv;

    shape = tt_pick_shape(rng, shape);
    for (i = 0; i < 4; i++)
        actors[i] = tt_rand_actor(rng, shape);
    n = tt_rand_size(rng, shape) * 2;
    if (shape == TT_EMPTY)
        n = 0;
    for (i = 0; i < n; i++) {
        crdt_actor a = actors[tu_below(rng, shape == TT_MANY ? 4 : 2)];

        len = rand_elem(rng, shape, buf);
        switch (tu_below(rng, 8)) {
        case 0:
        case 1:
            rv = crdt_orset_remove(obj, buf, len, NULL);
            break;
        case 2:
            /* A concurrent replica's add, merged in: elements with
             * several dots and contexts with gaps. */
            {
                crdt_orset *other = crdt_orset_clone(obj);
                crdt_orset *side = crdt_orset_new(NULL);

                rv = other && side ? CRDT_OK : CRDT_ERR_NOMEM;
                if (!rv)
                    rv = crdt_orset_add(side, actors[3], buf, len, NULL);
                if (!rv)
                    rv = crdt_orset_add(other, actors[2], buf, len, NULL);
                if (!rv)
                    rv = crdt_orset_merge(obj, other);
                if (!rv && tu_below(rng, 2))
                    rv = crdt_orset_merge(obj, side);
                crdt_orset_free(other);
                crdt_orset_free(side);
            }
            break;
        default:
            rv = crdt_orset_add(obj, a, buf, len, NULL);
            break;
        }
        if (rv)
            return rv;
    }
    if (n && tu_below(rng, 16) == 0)
        return crdt_orset_clear(obj, NULL);
    return CRDT_OK;
}

static int orset_elem(const void *obj, size_t i, const uint8_t **p,
                      size_t *n)
{
    return crdt_orset_elem(obj, i, p, n, NULL);
}

/* {"elems": [["<hex>", [[actor, counter], ...]], ...]} in the canonical
 * order.  The context has no iterator in the API; the interop test
 * checks it from the bytes. */
static void orset_model(const void *obj, FILE *out)
{
    size_t i, k, nd, n = crdt_orset_size(obj);
    elem_ref *e = sorted_elems(obj, n, orset_elem);
    crdt_dot d;

    fputs("{\"elems\":[", out);
    for (i = 0; e && i < n; i++) {
        fputs(i ? ",[" : "[", out);
        json_hex(out, e[i].p, e[i].n);
        fputs(",[", out);
        if (crdt_orset_elem(obj, e[i].i, NULL, NULL, &nd))
            nd = 0;
        for (k = 0; k < nd; k++) {
            if (crdt_orset_elem_dot(obj, e[i].i, k, &d))
                break;
            fputs(k ? ",[" : "[", out);
            json_u64(out, d.actor);
            fputc(',', out);
            json_u64(out, d.counter);
            fputc(']', out);
        }
        fputs("]]", out);
    }
    fputs("]}", out);
    free(e);
}

static int dot_cmp_qsort(const void *a, const void *b)
{
    const crdt_dot *x = a, *y = b;

    if (x->actor != y->actor)
        return x->actor < y->actor ? -1 : 1;
    return (x->counter > y->counter) - (x->counter < y->counter);
}

/* Every dot in the context and under one element only (else a remove
 * of one element would take another's add with it). */
static const char *orset_invalid(const void *obj)
{
    size_t i, k, nd, n = crdt_orset_size(obj), all = 0, cap = 16;
    crdt_dot *d = malloc(cap * sizeof *d), *p;
    const char *why = d ? NULL : "out of memory";

    for (i = 0; !why && i < n; i++) {
        if (crdt_orset_elem(obj, i, NULL, NULL, &nd))
            why = "crdt_orset_elem failed";
        for (k = 0; !why && k < nd; k++, all++) {
            if (all == cap) {
                if (!(p = realloc(d, 2 * cap * sizeof *d))) {
                    why = "out of memory";
                    break;
                }
                d = p;
                cap *= 2;
            }
            if (crdt_orset_elem_dot(obj, i, k, &d[all]))
                why = "crdt_orset_elem_dot failed";
            else if (!crdt_orset_context_contains(obj, d[all]))
                why = "a dot not in the context";
        }
    }
    if (!why) {
        qsort(d, all, sizeof *d, dot_cmp_qsort);
        for (i = 1; i < all && !why; i++)
            if (dot_cmp_qsort(&d[i - 1], &d[i]) == 0)
                why = "a dot under two elements";
    }
    free(d);
    return why;
}

static const tt_type tt_orset = {
    .ops = crdt_orset_type,
    .registered = true,
    .decode_errors = errs_limit,
    .gen = orset_gen,
    .model = orset_model,
    .invalid = orset_invalid,
};

/* ======================================================================
 * Dot stores over a context (flags, mvreg, ormap): operations by a few
 * actors, some on a concurrent copy merged back, so that states have
 * several dots and contexts with gaps.
 * ====================================================================== */

/* One random operation on obj; the op functions below pick what. */
typedef int (*op_fn)(void *obj, tu_rng *rng, tt_shape shape,
                     const crdt_actor *actors);

/* n operations, each either on obj itself or, one time in four, on a
 * clone (with another actor) that is then merged into obj while obj has
 * done one more operation of its own. */
static int gen_ops(const crdt_type *type, void *obj, tu_rng *rng,
                   tt_shape shape, op_fn op)
{
    crdt_actor actors[4];
    size_t n, i;
    int rv = CRDT_OK;

    for (i = 0; i < 4; i++)
        actors[i] = tt_rand_actor(rng, shape);
    n = shape == TT_EMPTY ? 0 : 1 + tt_rand_size(rng, shape);
    for (i = 0; i < n && rv == CRDT_OK; i++) {
        if (tu_below(rng, 4) == 0) {
            void *other = type->create(NULL);

            rv = other ? type->copy(other, obj) : CRDT_ERR_NOMEM;
            if (!rv)
                rv = op(other, rng, shape, actors + 2);
            if (!rv)
                rv = op(obj, rng, shape, actors);
            if (!rv)
                rv = type->merge(obj, other);
            type->destroy(other);
        } else {
            rv = op(obj, rng, shape, actors);
        }
    }
    return rv;
}

/* ewflag: enables (a new dot) and disables (drop the observed dots). */
static int ewflag_op(void *obj, tu_rng *rng, tt_shape shape,
                     const crdt_actor *actors)
{
    (void)shape;
    if (tu_below(rng, 3) == 0)
        return crdt_ewflag_disable(obj, NULL);
    return crdt_ewflag_enable(obj, actors[tu_below(rng, 2)], NULL);
}

static int ewflag_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    return gen_ops(crdt_ewflag_type(), obj, rng, tt_pick_shape(rng, shape),
                   ewflag_op);
}

/* {"value": true|false} (the API has no dot iterator; the interop test
 * checks the dots from the bytes). */
static void ewflag_model(const void *obj, FILE *out)
{
    fputs(crdt_ewflag_value(obj) ? "{\"value\":true}" : "{\"value\":false}",
          out);
}

static const tt_type tt_ewflag = {
    .ops = crdt_ewflag_type,
    .registered = true,
    .decode_errors = errs_limit,
    .gen = ewflag_gen,
    .model = ewflag_model,
};

/* dwflag: disables (a new dot) and enables (drop the observed dots). */
static int dwflag_op(void *obj, tu_rng *rng, tt_shape shape,
                     const crdt_actor *actors)
{
    (void)shape;
    if (tu_below(rng, 3) == 0)
        return crdt_dwflag_enable(obj, NULL);
    return crdt_dwflag_disable(obj, actors[tu_below(rng, 2)], NULL);
}

static int dwflag_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    return gen_ops(crdt_dwflag_type(), obj, rng, tt_pick_shape(rng, shape),
                   dwflag_op);
}

static void dwflag_model(const void *obj, FILE *out)
{
    fputs(crdt_dwflag_value(obj) ? "{\"value\":true}" : "{\"value\":false}",
          out);
}

static const tt_type tt_dwflag = {
    .ops = crdt_dwflag_type,
    .registered = true,
    .decode_errors = errs_limit,
    .gen = dwflag_gen,
    .model = dwflag_model,
};

/* mvreg: writes of random values and clears. */
static int mvreg_op(void *obj, tu_rng *rng, tt_shape shape,
                    const crdt_actor *actors)
{
    uint8_t buf[300];
    size_t len;

    if (tu_below(rng, 6) == 0)
        return crdt_mvreg_clear(obj, NULL);
    len = rand_elem(rng, shape, buf);
    return crdt_mvreg_write(obj, actors[tu_below(rng, 2)], buf, len, NULL);
}

static int mvreg_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    return gen_ops(crdt_mvreg_type(), obj, rng, tt_pick_shape(rng, shape),
                   mvreg_op);
}

/* {"siblings": [[actor, counter, "<hex value>"], ...]} in dot order. */
static void mvreg_model(const void *obj, FILE *out)
{
    const uint8_t *p;
    size_t i, n;
    crdt_dot d;

    fputs("{\"siblings\":[", out);
    for (i = 0; crdt_mvreg_get(obj, i, &d, &p, &n) == CRDT_OK; i++) {
        fputs(i ? ",[" : "[", out);
        json_u64(out, d.actor);
        fputc(',', out);
        json_u64(out, d.counter);
        fputc(',', out);
        json_hex(out, p, n);
        fputc(']', out);
    }
    fputs("]}", out);
}

static const tt_type tt_mvreg = {
    .ops = crdt_mvreg_type,
    .registered = true,
    .decode_errors = errs_limit,
    .gen = mvreg_gen,
    .model = mvreg_model,
};

/* ormap: updates of values of every built-in type under random keys (a
 * nested map holds counters and or-sets), and removes.  A key's type
 * follows from its bytes, except one update in eight, which picks any
 * type: it fails with CRDT_ERR_TYPE on a present key of another type
 * (skipped), re-creates a removed key with another type, or, on a
 * concurrent copy, makes a type conflict (an entry per type, the key
 * showing the larger tag). */
typedef struct ormap_arg {
    crdt_actor actor;
    uint64_t n;
    int vt; /* 0..8: see ormap_fn */
} ormap_arg;

/* The value type of ormap_fn's vt (8 and above: a nested map). */
static const crdt_type *ormap_vt(int vt)
{
    static const crdt_type *(*const types[])(void) = {
        crdt_gcounter_type,  crdt_lww_type,    crdt_orset_type,
        crdt_mvreg_type,     crdt_ewflag_type, crdt_dwflag_type,
        crdt_pncounter_type, crdt_gset_type,   crdt_ormap_type};

    return types[vt < 8 ? vt : 8]();
}

static int ormap_fn(void *value, void *value_delta, void *user_data)
{
    const ormap_arg *a = user_data;
    uint8_t v[8];
    size_t i, len = (size_t)(a->n % 9);
    ormap_arg in;

    for (i = 0; i < sizeof v; i++)
        v[i] = (uint8_t)(a->n >> (8 * i));
    switch (a->vt) {
    case 0:
        return crdt_gcounter_increment(value, a->actor, a->n, value_delta);
    case 1:
        return crdt_lww_set(value, a->n, a->actor, v, len, value_delta);
    case 2:
        if (a->n % 4 == 0)
            return crdt_orset_remove(value, v, len % 3, value_delta);
        return crdt_orset_add(value, a->actor, v, len % 3, value_delta);
    case 3:
        if (a->n % 5 == 0)
            return crdt_mvreg_clear(value, value_delta);
        return crdt_mvreg_write(value, a->actor, v, len, value_delta);
    case 4:
        if (a->n % 3 == 0)
            return crdt_ewflag_disable(value, value_delta);
        return crdt_ewflag_enable(value, a->actor, value_delta);
    case 5:
        if (a->n % 3 == 0)
            return crdt_dwflag_enable(value, value_delta);
        return crdt_dwflag_disable(value, a->actor, value_delta);
    case 6:
        if (a->n % 2)
            return crdt_pncounter_decrement(value, a->actor, a->n,
                                            value_delta);
        return crdt_pncounter_increment(value, a->actor, a->n, value_delta);
    case 7:
        return crdt_gset_add(value, v, len % 3, value_delta);
    default:
        /* an inner key "0".."2" of a counter or an or-set, or its
         * remove */
        in = *a;
        in.vt = (int)(a->n % 3 == 2 ? 2 : 0);
        v[0] = (uint8_t)('0' + a->n % 3);
        if (a->n % 7 == 0)
            return crdt_ormap_remove(value, v, 1, value_delta);
        return crdt_ormap_update(value, a->actor, v, 1, ormap_vt(in.vt),
                                 ormap_fn, &in, value_delta);
    }
}

static int ormap_op(void *obj, tu_rng *rng, tt_shape shape,
                    const crdt_actor *actors)
{
    uint8_t key[300];
    size_t klen = rand_elem(rng, shape == TT_BIG ? TT_SMALL : shape, key);
    ormap_arg arg;
    int rv;

    if (tu_below(rng, 5) == 0)
        return crdt_ormap_remove(obj, key, klen, NULL);
    arg.actor = actors[tu_below(rng, 2)];
    arg.n = tt_rand_count(rng, shape == TT_SMALL ? TT_SMALL : TT_BIG);
    if (tu_below(rng, 8) == 0)
        arg.n = 0; /* a counter value that stays empty */
    arg.vt = (int)((klen + (klen ? key[0] : 0)) % 9);
    if (tu_below(rng, 8) == 0)
        arg.vt = (int)tu_below(rng, 9);
    rv = crdt_ormap_update(obj, arg.actor, key, klen, ormap_vt(arg.vt),
                           ormap_fn, &arg, NULL);
    return rv == CRDT_ERR_OVERFLOW || rv == CRDT_ERR_TYPE ? CRDT_OK : rv;
}

static int ormap_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    return gen_ops(crdt_ormap_type(), obj, rng, tt_pick_shape(rng, shape),
                   ormap_op);
}

/* {"entries": [["<hex key>", "<type>", <the value's model>], ...]}: the
 * present keys in key order (a plain value as the join of its slots;
 * hidden entries are not readable through the API; the interop test
 * checks the slots and dots from the bytes). */
static void ormap_model(const void *obj, FILE *out)
{
    const crdt_type *type;
    const uint8_t *key;
    const void *value;
    const tt_type *vt;
    size_t i, klen;

    fputs("{\"entries\":[", out);
    for (i = 0; crdt_ormap_entry(obj, i, &key, &klen, &type, &value) ==
                CRDT_OK;
         i++) {
        fputs(i ? ",[" : "[", out);
        json_hex(out, key, klen);
        fprintf(out, ",\"%s\",", type->name);
        vt = tt_find(type->name);
        if (vt)
            vt->model(value, out);
        else
            fputs("null", out);
        fputc(']', out);
    }
    fputs("]}", out);
}

/* ormap invariants (crdt/ormap.h), read off the canonical encoding (the
 * API shows neither the key's dots nor a causal value's context): every
 * dot in the map's context; no dot in two places (two keys, a key's dots
 * and its value, two levels); a causal value's own context exactly its
 * dots; a plain entry has dots and one value per dot; a causal entry
 * without dots has a value with a dot (else it should be gone). */
typedef struct mp_rd {
    const uint8_t *p, *end;
    const char *why;
} mp_rd;

typedef struct dot_vec {
    crdt_dot *d;
    size_t n, cap;
} dot_vec;

static uint64_t mp_be(mp_rd *r, size_t n)
{
    uint64_t v = 0;

    if ((size_t)(r->end - r->p) < n) {
        r->why = r->why ? r->why : "truncated encoding";
        return 0;
    }
    while (n--)
        v = v << 8 | *r->p++;
    return v;
}

/* A header of the kind (0: uint, 1: array, 2: map, 3: bin); its value
 * (the integer, the count, the length). */
static uint64_t mp_get(mp_rd *r, int kind)
{
    uint8_t b;

    if (r->why || r->p >= r->end) {
        r->why = r->why ? r->why : "truncated encoding";
        return 0;
    }
    b = *r->p++;
    if (kind == 0 && b < 0x80)
        return b;
    if (kind == 0 && b >= 0xcc && b <= 0xcf)
        return mp_be(r, (size_t)1 << (b - 0xcc));
    if (kind == 1 && (b & 0xf0) == 0x90)
        return b & 0x0f;
    if (kind == 1 && (b == 0xdc || b == 0xdd))
        return mp_be(r, b == 0xdc ? 2 : 4);
    if (kind == 2 && (b & 0xf0) == 0x80)
        return b & 0x0f;
    if (kind == 2 && (b == 0xde || b == 0xdf))
        return mp_be(r, b == 0xde ? 2 : 4);
    if (kind == 3 && b >= 0xc4 && b <= 0xc6)
        return mp_be(r, (size_t)1 << (b - 0xc4));
    r->why = "unexpected MessagePack header";
    return 0;
}

static void mp_skip_bin(mp_rd *r)
{
    uint64_t n = mp_get(r, 3);

    if (!r->why && n > (uint64_t)(r->end - r->p))
        r->why = "truncated bin";
    else if (!r->why)
        r->p += n;
}

static void dot_push(mp_rd *r, dot_vec *v, crdt_dot d)
{
    crdt_dot *p;

    if (v->n == v->cap) {
        p = realloc(v->d, (v->cap ? 2 * v->cap : 16) * sizeof *p);
        if (!p) {
            r->why = "out of memory";
            return;
        }
        v->d = p;
        v->cap = v->cap ? 2 * v->cap : 16;
    }
    v->d[v->n++] = d;
}

/* An [actor, counter] pair (or the first two of a longer array). */
static crdt_dot mp_dot(mp_rd *r, uint64_t *extra)
{
    crdt_dot d;
    uint64_t n = mp_get(r, 1);

    d.actor = mp_get(r, 0);
    d.counter = mp_get(r, 0);
    if (!r->why && n < 2)
        r->why = "a dot of fewer than two fields";
    *extra = n < 2 ? 0 : n - 2;
    return d;
}

/* A context (vector map, cloud array) as a dotctx, *ctx (NULL if the
 * encoding is bad). */
static crdt_dotctx *mp_ctx(mp_rd *r)
{
    const uint8_t *start = r->p;
    uint64_t n, i, extra;
    uint8_t *buf;
    crdt_dotctx *c;

    n = mp_get(r, 2);
    for (i = 0; i < n && !r->why; i++) {
        mp_get(r, 0);
        mp_get(r, 0);
    }
    n = mp_get(r, 1);
    for (i = 0; i < n && !r->why; i++)
        mp_dot(r, &extra);
    if (r->why)
        return NULL;
    buf = malloc((size_t)(r->p - start) + 3);
    c = crdt_dotctx_new(NULL);
    if (!buf || !c) {
        free(buf);
        crdt_dotctx_free(c);
        r->why = "out of memory";
        return NULL;
    }
    buf[0] = 0x94;
    buf[1] = 0x01;
    buf[2] = CRDT_TAG_DOTCTX;
    memcpy(buf + 3, start, (size_t)(r->p - start));
    if (crdt_dotctx_decode(c, buf, (size_t)(r->p - start) + 3, NULL,
                           NULL) != CRDT_OK) {
        crdt_dotctx_free(c);
        c = NULL;
        r->why = "a context that does not decode";
    }
    free(buf);
    return c;
}

static bool causal_tag(uint64_t tag)
{
    return tag == CRDT_TAG_MVREG || tag == CRDT_TAG_ORSET ||
           tag == CRDT_TAG_EWFLAG || tag == CRDT_TAG_DWFLAG ||
           tag == CRDT_TAG_ORMAP;
}

static uint64_t mp_value(mp_rd *r, dot_vec *all);

/* Skips any MessagePack object (plain values only need skipping). */
static void mp_skip(mp_rd *r, int depth)
{
    uint8_t b;
    uint64_t n, i;

    if (r->why || r->p >= r->end || depth > 64) {
        r->why = r->why ? r->why : "truncated encoding";
        return;
    }
    b = *r->p;
    if (b < 0x80 || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        r->p++;
    } else if (b >= 0xcc && b <= 0xcf) {
        mp_get(r, 0);
    } else if (b >= 0xd0 && b <= 0xd3) {
        r->p++;
        mp_be(r, (size_t)1 << (b - 0xd0));
    } else if (b >= 0xc4 && b <= 0xc6) {
        mp_skip_bin(r);
    } else if ((b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb)) {
        r->p++;
        n = (b & 0xe0) == 0xa0 ? (uint64_t)(b & 0x1f)
                               : mp_be(r, (size_t)1 << (b - 0xd9));
        if (!r->why && n > (uint64_t)(r->end - r->p))
            r->why = "truncated str";
        else if (!r->why)
            r->p += n;
    } else if ((b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd) {
        n = mp_get(r, 1);
        for (i = 0; i < n && !r->why; i++)
            mp_skip(r, depth + 1);
    } else if ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf) {
        n = mp_get(r, 2);
        for (i = 0; i < 2 * n && !r->why; i++)
            mp_skip(r, depth + 1);
    } else {
        r->why = "unexpected MessagePack type";
    }
}

/* The body of a map (context, entries) at r: every dot of every level
 * goes to all; the map's own dots (its keys', its values') are all[from
 * ..] when it returns, and must make up exactly its context when own. */
static void mp_ormap_body(mp_rd *r, dot_vec *all, bool own)
{
    size_t from = all->n, i;
    crdt_dotctx *ctx = mp_ctx(r), *mine = NULL;
    uint64_t n, e, k, nd, nv, tag, extra;

    n = mp_get(r, 1);
    for (e = 0; e < n && !r->why; e++) {
        size_t before;

        if (mp_get(r, 1) != 4 && !r->why)
            r->why = "an entry of other than four fields";
        mp_skip_bin(r);
        tag = mp_get(r, 0);
        nd = mp_get(r, 1);
        for (k = 0; k < nd && !r->why; k++) {
            dot_push(r, all, mp_dot(r, &extra));
            if (extra && !r->why)
                r->why = "a key's dot of more than two fields";
        }
        nv = mp_get(r, 1);
        if (r->why)
            break;
        if (!causal_tag(tag) && (nd == 0 || nv != nd)) {
            r->why = nd ? "a plain entry without one value per dot"
                        : "a plain entry without dots (a tombstone)";
            break;
        }
        if (causal_tag(tag) && nv != 1) {
            r->why = "a causal entry without exactly one value";
            break;
        }
        before = all->n;
        for (k = 0; k < nv && !r->why; k++) {
            if (mp_value(r, all) != tag && !r->why)
                r->why = "a value of another tag than its entry";
        }
        if (!r->why && causal_tag(tag) && nd == 0 && all->n == before)
            r->why = "a causal entry with no dot left (a tombstone)";
    }
    for (i = from; !r->why && ctx && i < all->n; i++)
        if (!crdt_dotctx_contains(ctx, all->d[i]))
            r->why = "a dot not in the map's context";
    if (!r->why && own) {
        mine = crdt_dotctx_new(NULL);
        for (i = from; mine && !r->why && i < all->n; i++)
            if (crdt_dotctx_add(mine, all->d[i]) != CRDT_OK)
                r->why = "out of memory";
        if (!mine)
            r->why = "out of memory";
        else if (!r->why && ctx && !crdt_dotctx_equal(mine, ctx))
            r->why = "a nested map's context is not exactly its dots";
    }
    crdt_dotctx_free(mine);
    crdt_dotctx_free(ctx);
}

/* One value encoding [1, tag, body...] at r: a causal value's dots go to
 * all (a nested map's at every level), checked against its context.
 * Returns the value's tag. */
static uint64_t mp_value(mp_rd *r, dot_vec *all)
{
    uint64_t n = mp_get(r, 1), tag, k, m, extra;
    size_t from = all->n, i;
    crdt_dotctx *ctx, *mine;

    mp_get(r, 0);
    tag = mp_get(r, 0);
    if (r->why)
        return tag;
    if (!causal_tag(tag)) {
        for (k = 2; k < n && !r->why; k++)
            mp_skip(r, 0);
        return tag;
    }
    if (n != 5) {
        r->why = "a causal value of other than five fields";
        return tag;
    }
    if (tag == CRDT_TAG_ORMAP) {
        mp_ormap_body(r, all, true);
        return tag;
    }
    ctx = mp_ctx(r);
    m = mp_get(r, 1);
    for (k = 0; k < m && !r->why; k++) {
        if (tag == CRDT_TAG_ORSET) {
            uint64_t j, nd;

            mp_get(r, 1);
            mp_skip_bin(r);
            nd = mp_get(r, 1);
            for (j = 0; j < nd && !r->why; j++)
                dot_push(r, all, mp_dot(r, &extra));
        } else {
            dot_push(r, all, mp_dot(r, &extra));
            if (tag == CRDT_TAG_MVREG && extra == 1)
                mp_skip_bin(r);
        }
    }
    if (r->why || !ctx) {
        crdt_dotctx_free(ctx);
        return tag;
    }
    mine = crdt_dotctx_new(NULL);
    for (i = from; mine && !r->why && i < all->n; i++)
        if (crdt_dotctx_add(mine, all->d[i]) != CRDT_OK)
            r->why = "out of memory";
    if (!mine)
        r->why = "out of memory";
    else if (!r->why && !crdt_dotctx_equal(mine, ctx))
        r->why = "a causal value's context is not exactly its dots";
    crdt_dotctx_free(mine);
    crdt_dotctx_free(ctx);
    return tag;
}

static const char *ormap_invalid(const void *obj)
{
    crdt_buf b;
    mp_rd r;
    dot_vec all = {NULL, 0, 0};
    size_t i;

    crdt_buf_init(&b, NULL);
    if (crdt_ormap_encode(obj, &b) != CRDT_OK) {
        crdt_buf_clear(&b);
        return "encode failed";
    }
    r.p = b.data;
    r.end = b.data + b.len;
    r.why = NULL;
    if (mp_get(&r, 1) != 5 || mp_get(&r, 0) != 1 ||
        mp_get(&r, 0) != CRDT_TAG_ORMAP)
        r.why = r.why ? r.why : "not an ormap encoding";
    if (!r.why)
        mp_ormap_body(&r, &all, false);
    if (!r.why && r.p != r.end)
        r.why = "trailing bytes";
    if (!r.why && all.n) {
        qsort(all.d, all.n, sizeof *all.d, dot_cmp_qsort);
        for (i = 1; i < all.n && !r.why; i++)
            if (dot_cmp_qsort(&all.d[i - 1], &all.d[i]) == 0)
                r.why = "a dot in two places";
    }
    free(all.d);
    crdt_buf_clear(&b);
    return r.why;
}

static const tt_type tt_ormap = {
    .ops = crdt_ormap_type,
    .registered = true,
    /* "embedded decoders' errors" too: a counter value's OVERFLOW. */
    .decode_errors = errs_counter,
    .gen = ormap_gen,
    .model = ormap_model,
    .invalid = ormap_invalid,
};

/* ======================================================================
 * lww: body [] (empty) or [timestamp, actor, value]
 * ====================================================================== */

/* Value lengths around the inline size and the bin 8/16/32 boundaries. */
static const size_t lww_edge_lens[] = {0,   1,   15,  16,    17,
                                       255, 256, 257, 65535, 65536};

static int lww_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    uint8_t *val;
    size_t writes, w, n, i;
    int rv = CRDT_OK;

    shape = tt_pick_shape(rng, shape);
    if (shape == TT_EMPTY)
        return CRDT_OK;
    writes = 1 + (size_t)tu_below(rng, 3);
    for (w = 0; w < writes && rv == CRDT_OK; w++) {
        switch (shape) {
        case TT_EDGE:
            n = lww_edge_lens[tu_below(rng, 8 + 2 * (tu_below(rng, 8) == 0))];
            break;
        case TT_MANY:
            n = 17 + (size_t)tu_below(rng, 2000);
            break;
        case TT_BIG:
            n = (size_t)tu_below(rng, 300);
            break;
        default:
            n = (size_t)tu_below(rng, 20);
            break;
        }
        val = malloc(n ? n : 1);
        if (!val)
            return CRDT_ERR_NOMEM;
        for (i = 0; i < n; i++)
            val[i] = (uint8_t)(shape == TT_SMALL ? 'a' + tu_below(rng, 26)
                                                 : tu_rand(rng));
        rv = crdt_lww_set(obj,
                          shape == TT_SMALL ? tu_below(rng, 1000)
                          : shape == TT_EDGE && tu_below(rng, 8) == 0
                              ? 0
                              : tt_rand_count(rng, shape),
                          tt_rand_actor(rng, shape), val, n, NULL);
        free(val);
    }
    return rv;
}

/* {"value": null} when empty, else {"timestamp": T, "actor": A,
 * "value": "<hex bytes>"}. */
static void lww_model(const void *obj, FILE *out)
{
    const uint8_t *p;
    size_t n;

    if (crdt_lww_value(obj, &p, &n) != CRDT_OK) {
        fputs("{\"value\":null}", out);
        return;
    }
    fputs("{\"timestamp\":", out);
    json_u64(out, crdt_lww_timestamp(obj));
    fputs(",\"actor\":", out);
    json_u64(out, crdt_lww_actor(obj));
    fputs(",\"value\":", out);
    json_hex(out, p, n);
    fputc('}', out);
}

static const tt_type tt_lww = {
    .ops = crdt_lww_type,
    .registered = true,
    .decode_errors = errs_limit,
    .gen = lww_gen,
    .model = lww_model,
};

/* ======================================================================
 * hlc: body [last_ts].  The table's clocks read a wall clock stuck at 0
 * and have no drift bound, so crdt_hlc_update(remote) sets last to
 * remote + 1 and any timestamp can be generated.
 * ====================================================================== */

static uint64_t hlc_wall_zero(void *user_data)
{
    (void)user_data;
    return 0;
}

static void *hlc_new(const crdt_mem *mem)
{
    crdt_hlc_settings s;

    crdt_hlc_settings_default(&s);
    s.wall_ms = hlc_wall_zero;
    s.max_drift_ms = 0;
    return crdt_hlc_new(&s, mem);
}

static void hlc_free(void *obj)
{
    crdt_hlc_free(obj);
}

static bool hlc_equal(const void *a, const void *b)
{
    return crdt_hlc_last(a) == crdt_hlc_last(b);
}

static int hlc_encode(const void *obj, crdt_buf *out)
{
    return crdt_hlc_encode(obj, out);
}

static int hlc_decode(void *dst, const uint8_t *data, size_t len,
                      const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_hlc_decode(dst, data, len, lim, info);
}

/* hlc is a clock, not a replicated type: it has no copy or merge verb.
 * Those two are stand-ins the table never calls. */
static int hlc_copy(void *dst, const void *src)
{
    (void)dst;
    (void)src;
    return CRDT_ERR_INVALID_ARG;
}

static int hlc_merge(void *dst, const void *src)
{
    (void)dst;
    (void)src;
    return CRDT_ERR_INVALID_ARG;
}

static const crdt_type hlc_type = {
    .version = CRDT_TYPE_VERSION,
    .tag = CRDT_TAG_HLC,
    .name = "hlc",
    .create = hlc_new,
    .destroy = hlc_free,
    .copy = hlc_copy,
    .equal = hlc_equal,
    .merge = hlc_merge,
    .encode = hlc_encode,
    .decode = hlc_decode,
};

static const crdt_type *hlc_ops(void)
{
    return &hlc_type;
}

static int hlc_gen(void *obj, tu_rng *rng, tt_shape shape)
{
    uint64_t ts, target;
    size_t i, n;
    int rv;

    shape = tt_pick_shape(rng, shape);
    switch (shape) {
    case TT_EMPTY:
        return CRDT_OK;
    case TT_SMALL:
        /* A few local events. */
        n = 1 + (size_t)tu_below(rng, 5);
        for (i = 0; i < n; i++)
            if ((rv = crdt_hlc_now(obj, &ts)))
                return rv;
        return CRDT_OK;
    case TT_EDGE:
        target = tt_rand_count(rng, shape);
        break;
    case TT_BIG:
        target = UINT64_MAX - tu_below(rng, 1000);
        break;
    default:
        /* A realistic timestamp: milliseconds since the epoch, logical. */
        target = crdt_hlc_pack(1700000000000u + tu_below(rng, 1u << 30),
                               (uint16_t)tu_below(rng, 4));
        if (target == 0)
            target = 1;
        break;
    }
    /* A receive event of remote target - 1 issues exactly target. */
    return crdt_hlc_update(obj, target - 1, &ts);
}

/* {"value": last_ts} */
static void hlc_model(const void *obj, FILE *out)
{
    fputs("{\"value\":", out);
    json_u64(out, crdt_hlc_last(obj));
    fputc('}', out);
}

static const tt_type tt_hlc = {
    .ops = hlc_ops,
    .registered = false,
    .decode_errors = errs_basic,
    .gen = hlc_gen,
    .model = hlc_model,
};

/* ======================================================================
 * The table
 * ====================================================================== */

const tt_type *const tt_types[] = {
    &tt_vclock,
    &tt_dotctx,
    &tt_gset,
    &tt_orset,
    &tt_ewflag,
    &tt_dwflag,
    &tt_mvreg,
    &tt_ormap,
    &tt_gcounter,
    &tt_pncounter,
    &tt_lww,
    &tt_hlc,
    NULL,
};

const tt_type *tt_find(const char *name)
{
    size_t i;

    for (i = 0; tt_types[i]; i++)
        if (strcmp(tt_types[i]->ops()->name, name) == 0)
            return tt_types[i];
    return NULL;
}
