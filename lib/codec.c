/* SPDX-License-Identifier: MIT */
/*
 * Byte buffers, type names and the envelope check.  The MessagePack pull
 * reader every decoder uses is in mpread.c.
 */
#include "config.h"

#include <string.h>

#include "codec_internal.h"
#include "mem_internal.h"

/* ======================================================================
 * Buffers
 * ====================================================================== */

void crdt_buf_init(crdt_buf *buf, const crdt_mem *mem)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->fixed = false;
    crdtp_mem_set(&buf->mem, mem);
}

void crdt_buf_init_fixed(crdt_buf *buf, uint8_t *data, size_t cap)
{
    buf->data = data;
    buf->len = 0;
    buf->cap = data ? cap : 0;
    buf->fixed = true;
    crdtp_mem_set(&buf->mem, NULL);
}

void crdt_buf_clear(crdt_buf *buf)
{
    if (!buf)
        return;
    if (!buf->fixed) {
        crdtp_free(&buf->mem, buf->data);
        buf->data = NULL;
        buf->cap = 0;
    }
    buf->len = 0;
}

void crdt_buf_reset(crdt_buf *buf)
{
    if (buf)
        buf->len = 0;
}

int crdt_buf_reserve(crdt_buf *buf, size_t extra)
{
    size_t need, cap;
    uint8_t *p;

    if (!buf)
        return CRDT_ERR_INVALID_ARG;
    if (buf->cap - buf->len >= extra)
        return CRDT_OK;
    if (buf->fixed)
        return CRDT_ERR_BUFFER;
    if (extra > SIZE_MAX - buf->len)
        return CRDT_ERR_NOMEM;
    need = buf->len + extra;
    cap = crdtp_grow_cap(buf->cap < 64 ? 64 : buf->cap, need);
    p = crdtp_realloc_array(&buf->mem, buf->data, cap, 1);
    if (!p)
        return CRDT_ERR_NOMEM;
    buf->data = p;
    buf->cap = cap;
    return CRDT_OK;
}

int crdt_buf_append(crdt_buf *buf, const void *p, size_t n)
{
    int rv;

    if (!buf || (!p && n))
        return CRDT_ERR_INVALID_ARG;
    rv = crdt_buf_reserve(buf, n);
    if (rv)
        return rv;
    if (n)
        memcpy(buf->data + buf->len, p, n);
    buf->len += n;
    return CRDT_OK;
}

/* ======================================================================
 * Type names
 * ====================================================================== */

static const char *const type_names[] = {
    [CRDT_TAG_VCLOCK] = "vclock",       [CRDT_TAG_DOTCTX] = "dotctx",
    [CRDT_TAG_GCOUNTER] = "gcounter",   [CRDT_TAG_PNCOUNTER] = "pncounter",
    [CRDT_TAG_LWW] = "lww",             [CRDT_TAG_HLC] = "hlc",
    [CRDT_TAG_MVREG] = "mvreg",         [CRDT_TAG_ORSET] = "orset",
    [CRDT_TAG_EWFLAG] = "ewflag",       [CRDT_TAG_DWFLAG] = "dwflag",
    [CRDT_TAG_GSET] = "gset",           [CRDT_TAG_ORMAP] = "ormap",
};

#define N_TYPE_NAMES (sizeof type_names / sizeof type_names[0])

const char *crdt_type_name(uint32_t tag)
{
    return tag < N_TYPE_NAMES ? type_names[tag] : NULL;
}

int crdt_type_from_name(const char *name, uint32_t *tag)
{
    uint32_t i;

    if (!name || !tag)
        return CRDT_ERR_INVALID_ARG;
    for (i = 0; i < N_TYPE_NAMES; i++) {
        if (type_names[i] && strcmp(type_names[i], name) == 0) {
            *tag = i;
            return CRDT_OK;
        }
    }
    return CRDT_ERR_TYPE;
}

int crdt_decode_header(const uint8_t *data, size_t len, uint32_t *tag)
{
    if (!data || !tag)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_decode_header(data, len, tag, NULL);
}
