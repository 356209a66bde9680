/* SPDX-License-Identifier: MIT */
/*
 * Enable-wins flag (see crdt/flag.h): a dot set of enable dots over a
 * causal context, on the kernel in dotflag.c.  Enabled iff an enable dot
 * is present; enable adds a dot, disable removes the observed ones, so an
 * enable concurrent with a disable survives it.
 */
#include "config.h"

#include <crdt/flag.h>

#include "dotflag_internal.h"
#include "mem_internal.h"

struct crdt_ewflag {
    dflag f; /* the enable dots and the context */
};

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

crdt_ewflag *crdt_ewflag_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_ewflag *flag;

    crdtp_mem_set(&m, mem);
    flag = crdtp_malloc(&m, sizeof *flag);
    if (!flag)
        return NULL;
    crdtp_dflag_init(&flag->f, &m);
    return flag;
}

void crdt_ewflag_free(crdt_ewflag *flag)
{
    crdt_mem m;

    if (!flag)
        return;
    m = flag->f.mem;
    crdtp_dflag_clear(&flag->f);
    crdtp_free(&m, flag);
}

crdt_ewflag *crdt_ewflag_clone(const crdt_ewflag *src)
{
    crdt_ewflag *flag;

    if (!src)
        return NULL;
    flag = crdt_ewflag_new(&src->f.mem);
    if (flag && crdtp_dflag_copy(&flag->f, &src->f) != CRDT_OK) {
        crdt_ewflag_free(flag);
        return NULL;
    }
    return flag;
}

int crdt_ewflag_copy(crdt_ewflag *dst, const crdt_ewflag *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_copy(&dst->f, &src->f);
}

bool crdt_ewflag_equal(const crdt_ewflag *a, const crdt_ewflag *b)
{
    static const dflag empty;

    return crdtp_dflag_equal(a ? &a->f : &empty, b ? &b->f : &empty);
}

/* ======================================================================
 * Queries and mutators
 * ====================================================================== */

bool crdt_ewflag_value(const crdt_ewflag *flag)
{
    return flag && flag->f.n > 0;
}

int crdt_ewflag_enable(crdt_ewflag *flag, crdt_actor actor,
                       crdt_ewflag *delta)
{
    if (!flag || delta == flag)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_add(&flag->f, actor, delta ? &delta->f : NULL);
}

int crdt_ewflag_disable(crdt_ewflag *flag, crdt_ewflag *delta)
{
    if (!flag || delta == flag)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_rmv(&flag->f, delta ? &delta->f : NULL);
}

/* ======================================================================
 * Merge and codec
 * ====================================================================== */

int crdt_ewflag_merge(crdt_ewflag *dst, const crdt_ewflag *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_merge(&dst->f, &src->f);
}

int crdt_ewflag_encode(const crdt_ewflag *flag, crdt_buf *out)
{
    if (!flag || !out)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_encode(&flag->f, CRDT_TAG_EWFLAG, out);
}

int crdt_ewflag_decode(crdt_ewflag *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    if (!dst || (!data && len))
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_decode(&dst->f, CRDT_TAG_EWFLAG, data, len, lim, info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_ewflag_new(mem);
}

static void vt_destroy(void *obj)
{
    crdt_ewflag_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_ewflag_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_ewflag_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_ewflag_merge(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_ewflag_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_ewflag_decode(dst, data, len, lim, info);
}

static const crdt_type ewflag_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_EWFLAG, "ewflag", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_ewflag_type(void)
{
    return &ewflag_type;
}
