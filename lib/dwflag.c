/* SPDX-License-Identifier: MIT */
/*
 * Disable-wins flag (see crdt/flag.h): a dot set of disable dots over a
 * causal context, on the kernel in dotflag.c.  Enabled iff no disable dot
 * is present (so a new flag is enabled); disable adds a dot, enable
 * removes the observed ones, so a disable concurrent with an enable
 * survives it.
 */
#include "config.h"

#include <crdt/flag.h>

#include "dotflag_internal.h"
#include "mem_internal.h"

struct crdt_dwflag {
    dflag f; /* the disable dots and the context */
};

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

crdt_dwflag *crdt_dwflag_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_dwflag *flag;

    crdtp_mem_set(&m, mem);
    flag = crdtp_malloc(&m, sizeof *flag);
    if (!flag)
        return NULL;
    crdtp_dflag_init(&flag->f, &m);
    return flag;
}

void crdt_dwflag_free(crdt_dwflag *flag)
{
    crdt_mem m;

    if (!flag)
        return;
    m = flag->f.mem;
    crdtp_dflag_clear(&flag->f);
    crdtp_free(&m, flag);
}

crdt_dwflag *crdt_dwflag_clone(const crdt_dwflag *src)
{
    crdt_dwflag *flag;

    if (!src)
        return NULL;
    flag = crdt_dwflag_new(&src->f.mem);
    if (flag && crdtp_dflag_copy(&flag->f, &src->f) != CRDT_OK) {
        crdt_dwflag_free(flag);
        return NULL;
    }
    return flag;
}

int crdt_dwflag_copy(crdt_dwflag *dst, const crdt_dwflag *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_copy(&dst->f, &src->f);
}

bool crdt_dwflag_equal(const crdt_dwflag *a, const crdt_dwflag *b)
{
    static const dflag empty;

    return crdtp_dflag_equal(a ? &a->f : &empty, b ? &b->f : &empty);
}

/* ======================================================================
 * Queries and mutators
 * ====================================================================== */

bool crdt_dwflag_value(const crdt_dwflag *flag)
{
    return !flag || flag->f.n == 0;
}

int crdt_dwflag_disable(crdt_dwflag *flag, crdt_actor actor,
                        crdt_dwflag *delta)
{
    if (!flag || delta == flag)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_add(&flag->f, actor, delta ? &delta->f : NULL);
}

int crdt_dwflag_enable(crdt_dwflag *flag, crdt_dwflag *delta)
{
    if (!flag || delta == flag)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_rmv(&flag->f, delta ? &delta->f : NULL);
}

/* ======================================================================
 * Merge and codec
 * ====================================================================== */

int crdt_dwflag_merge(crdt_dwflag *dst, const crdt_dwflag *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_merge(&dst->f, &src->f);
}

int crdt_dwflag_encode(const crdt_dwflag *flag, crdt_buf *out)
{
    if (!flag || !out)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_encode(&flag->f, CRDT_TAG_DWFLAG, out);
}

int crdt_dwflag_decode(crdt_dwflag *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    if (!dst || (!data && len))
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dflag_decode(&dst->f, CRDT_TAG_DWFLAG, data, len, lim, info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_dwflag_new(mem);
}

static void vt_destroy(void *obj)
{
    crdt_dwflag_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_dwflag_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_dwflag_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_dwflag_merge(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_dwflag_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_dwflag_decode(dst, data, len, lim, info);
}

static const crdt_type dwflag_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_DWFLAG, "dwflag", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_dwflag_type(void)
{
    return &dwflag_type;
}
