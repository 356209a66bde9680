/* SPDX-License-Identifier: MIT */
/*
 * The few MessagePack forms crdt-node's own messages use (tokens and
 * node-to-node datagrams): arrays, unsigned and signed integers, bins.
 * The writer writes the shortest form; the reader accepts only the
 * shortest form (so what it reads is canonical) and checks every length
 * against the bytes left before using it.
 */
#ifndef CRDT_NODE_MP_H
#define CRDT_NODE_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <crdt/codec.h>

static inline int mpw_raw(crdt_buf *b, const void *p, size_t n)
{
    return crdt_buf_append(b, p, n);
}

static inline int mpw_tagged(crdt_buf *b, uint8_t tag, uint64_t v,
                             unsigned bytes)
{
    uint8_t h[9];
    unsigned i;

    h[0] = tag;
    for (i = 0; i < bytes; i++)
        h[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    return mpw_raw(b, h, 1 + bytes);
}

static inline int mpw_uint(crdt_buf *b, uint64_t v)
{
    uint8_t c;

    if (v < 128) {
        c = (uint8_t)v;
        return mpw_raw(b, &c, 1);
    }
    if (v <= 0xff)
        return mpw_tagged(b, 0xcc, v, 1);
    if (v <= 0xffff)
        return mpw_tagged(b, 0xcd, v, 2);
    if (v <= 0xffffffffu)
        return mpw_tagged(b, 0xce, v, 4);
    return mpw_tagged(b, 0xcf, v, 8);
}

/* A negative integer (v < 0) in the shortest form, or v >= 0 as mpw_uint. */
static inline int mpw_int(crdt_buf *b, int64_t v)
{
    uint8_t c;

    if (v >= 0)
        return mpw_uint(b, (uint64_t)v);
    if (v >= -32) {
        c = (uint8_t)(int8_t)v;
        return mpw_raw(b, &c, 1);
    }
    if (v >= INT8_MIN)
        return mpw_tagged(b, 0xd0, (uint64_t)(uint8_t)(int8_t)v, 1);
    if (v >= INT16_MIN)
        return mpw_tagged(b, 0xd1, (uint64_t)(uint16_t)(int16_t)v, 2);
    if (v >= INT32_MIN)
        return mpw_tagged(b, 0xd2, (uint64_t)(uint32_t)(int32_t)v, 4);
    return mpw_tagged(b, 0xd3, (uint64_t)v, 8);
}

static inline int mpw_array(crdt_buf *b, size_t n)
{
    uint8_t c;

    if (n < 16) {
        c = (uint8_t)(0x90 | n);
        return mpw_raw(b, &c, 1);
    }
    if (n <= 0xffff)
        return mpw_tagged(b, 0xdc, n, 2);
    return mpw_tagged(b, 0xdd, n, 4);
}

static inline int mpw_bin(crdt_buf *b, const void *p, size_t n)
{
    int rv;

    if (n <= 0xff)
        rv = mpw_tagged(b, 0xc4, n, 1);
    else if (n <= 0xffff)
        rv = mpw_tagged(b, 0xc5, n, 2);
    else
        rv = mpw_tagged(b, 0xc6, n, 4);
    return rv ? rv : n ? mpw_raw(b, p, n) : 0;
}

typedef struct mpr {
    const uint8_t *p, *end;
} mpr;

static inline void mpr_init(mpr *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->end = p + n;
}

static inline bool mpr_be(mpr *r, unsigned bytes, uint64_t *v)
{
    unsigned i;

    *v = 0;
    if ((size_t)(r->end - r->p) < bytes)
        return false;
    for (i = 0; i < bytes; i++)
        *v = (*v << 8) | r->p[i];
    r->p += bytes;
    return true;
}

static inline bool mpr_uint(mpr *r, uint64_t *v)
{
    uint8_t c;

    if (r->p >= r->end)
        return false;
    c = *r->p++;
    if (c < 0x80) {
        *v = c;
        return true;
    }
    switch (c) {
    case 0xcc: return mpr_be(r, 1, v) && *v >= 0x80;
    case 0xcd: return mpr_be(r, 2, v) && *v > 0xff;
    case 0xce: return mpr_be(r, 4, v) && *v > 0xffff;
    case 0xcf: return mpr_be(r, 8, v) && *v > 0xffffffffu;
    default: return false;
    }
}

static inline bool mpr_int(mpr *r, int64_t *v)
{
    uint8_t c;
    uint64_t u;

    if (r->p >= r->end)
        return false;
    c = *r->p;
    if (c >= 0xe0) {
        r->p++;
        *v = (int8_t)c;
        return true;
    }
    switch (c) {
    case 0xd0: r->p++; if (!mpr_be(r, 1, &u)) return false;
        *v = (int8_t)(uint8_t)u; return *v < -32;
    case 0xd1: r->p++; if (!mpr_be(r, 2, &u)) return false;
        *v = (int16_t)(uint16_t)u; return *v < INT8_MIN;
    case 0xd2: r->p++; if (!mpr_be(r, 4, &u)) return false;
        *v = (int32_t)(uint32_t)u; return *v < INT16_MIN;
    case 0xd3: r->p++; if (!mpr_be(r, 8, &u)) return false;
        *v = (int64_t)u; return *v < INT32_MIN;
    default:
        if (!mpr_uint(r, &u) || u > INT64_MAX)
            return false;
        *v = (int64_t)u;
        return true;
    }
}

static inline bool mpr_array(mpr *r, uint64_t *n)
{
    uint8_t c;

    if (r->p >= r->end)
        return false;
    c = *r->p++;
    if ((c & 0xf0) == 0x90)
        *n = c & 0x0f;
    else if (c == 0xdc) {
        if (!mpr_be(r, 2, n) || *n < 16)
            return false;
    } else if (c == 0xdd) {
        if (!mpr_be(r, 4, n) || *n <= 0xffff)
            return false;
    } else
        return false;
    return *n <= (uint64_t)(r->end - r->p); /* each element >= 1 byte */
}

static inline bool mpr_bin(mpr *r, const uint8_t **p, size_t *n)
{
    uint8_t c;
    uint64_t l;

    if (r->p >= r->end)
        return false;
    c = *r->p++;
    if (c == 0xc4) {
        if (!mpr_be(r, 1, &l))
            return false;
    } else if (c == 0xc5) {
        if (!mpr_be(r, 2, &l) || l <= 0xff)
            return false;
    } else if (c == 0xc6) {
        if (!mpr_be(r, 4, &l) || l <= 0xffff)
            return false;
    } else
        return false;
    if (l > (uint64_t)(r->end - r->p))
        return false;
    *p = r->p;
    *n = (size_t)l;
    r->p += l;
    return true;
}

#endif
