/* SPDX-License-Identifier: MIT */
/*
 * The canonical MessagePack pull reader (see codec_internal.h for why
 * decoding does not use msgpack-c's unpacker).  Compiled into libcrdt and,
 * as its own copy, into libcrdt-gossip, whose datagram decoders use it
 * too; the functions are hidden in both shared libraries, and a static
 * link takes one copy.
 *
 * Reader invariants: base <= p <= end; a count is accepted only if it is
 * at most the number of bytes left; a header or integer is accepted only in
 * its shortest form.
 */
#include "config.h"

#include <string.h>

#include "codec_internal.h"

/* ======================================================================
 * Reader
 * ====================================================================== */

void crdtp_cr_init(cr *r, const uint8_t *data, size_t len,
                   const crdt_limits *lim)
{
    r->base = data;
    r->p = data;
    r->end = data ? data + len : data;
    r->err = CRDT_OK;
    r->err_off = 0;
    if (lim && lim->version == CRDT_LIMITS_VERSION)
        r->lim = *lim;
    else
        crdt_limits_default(&r->lim);
}

int crdtp_cr_fail_at(cr *r, const uint8_t *at, int code)
{
    if (r->err == CRDT_OK) {
        r->err = code;
        r->err_off = (size_t)(at - r->base);
    }
    return r->err;
}

int crdtp_cr_fail(cr *r, int code)
{
    return crdtp_cr_fail_at(r, r->p, code);
}

void crdtp_cr_info(const cr *r, crdt_decode_info *info)
{
    if (info) {
        info->offset = r->err_off;
        info->code = r->err;
    }
}

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads a big-endian length or value of n bytes following the marker at
 * r->p; on success advances past marker and payload. */
static int take(cr *r, unsigned n, uint64_t *v)
{
    if (cr_left(r) < 1u + n)
        return crdtp_cr_fail_at(r, r->end, CRDT_ERR_DECODE);
    *v = be(r->p + 1, n);
    r->p += 1 + n;
    return CRDT_OK;
}

/* Reads a container header: fix forms fix_tag | n (n < 16), then 16- and
 * 32-bit forms, each only in its shortest form; n * per_item must not
 * exceed the bytes left (every element takes at least one byte). */
static int container(cr *r, uint8_t fix_tag, uint8_t tag16, uint8_t tag32,
                     size_t per_item, uint32_t *n)
{
    const uint8_t *at = r->p;
    uint64_t v;
    int rv;

    if (r->err)
        return r->err;
    if (r->p >= r->end)
        return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    if ((*r->p & 0xf0) == fix_tag) {
        v = *r->p++ & 0x0f;
    } else if (*r->p == tag16) {
        if ((rv = take(r, 2, &v)))
            return rv;
        if (v < 16)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
    } else if (*r->p == tag32) {
        if ((rv = take(r, 4, &v)))
            return rv;
        if (v <= 0xffff)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
    } else {
        return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    }
    if (v > cr_left(r) / per_item)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
    *n = (uint32_t)v;
    return CRDT_OK;
}

int crdtp_cr_array(cr *r, uint32_t *n)
{
    return container(r, 0x90, 0xdc, 0xdd, 1, n);
}

int crdtp_cr_map(cr *r, uint32_t *n)
{
    return container(r, 0x80, 0xde, 0xdf, 2, n);
}

int crdtp_cr_uint(cr *r, uint64_t *out)
{
    const uint8_t *at = r->p;
    uint64_t v, min;
    unsigned n;
    int rv;

    if (r->err)
        return r->err;
    if (r->p >= r->end)
        return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    switch (*r->p) {
    case 0xcc:
        n = 1, min = 0x80;
        break;
    case 0xcd:
        n = 2, min = 0x100;
        break;
    case 0xce:
        n = 4, min = 0x10000;
        break;
    case 0xcf:
        n = 8, min = 0x100000000u;
        break;
    default:
        if (*r->p < 0x80) {
            *out = *r->p++;
            return CRDT_OK;
        }
        return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    }
    if ((rv = take(r, n, &v)))
        return rv;
    if (v < min)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
    *out = v;
    return CRDT_OK;
}

int crdtp_cr_bin(cr *r, const uint8_t **p, size_t *n)
{
    const uint8_t *at = r->p;
    uint64_t v;
    int rv;

    if (r->err)
        return r->err;
    if (r->p >= r->end)
        return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    switch (*r->p) {
    case 0xc4:
        rv = take(r, 1, &v);
        break;
    case 0xc5:
        rv = take(r, 2, &v);
        if (!rv && v <= 0xff)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
        break;
    case 0xc6:
        rv = take(r, 4, &v);
        if (!rv && v <= 0xffff)
            return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
        break;
    default:
        return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    }
    if (rv)
        return rv;
    if (v > r->lim.max_value_bytes)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
    if (v > cr_left(r))
        return crdtp_cr_fail_at(r, r->end, CRDT_ERR_DECODE);
    *p = r->p;
    *n = (size_t)v;
    r->p += v;
    return CRDT_OK;
}

int crdtp_cr_bool(cr *r, bool *v)
{
    if (r->err)
        return r->err;
    if (r->p < r->end && (*r->p == 0xc2 || *r->p == 0xc3)) {
        *v = *r->p++ == 0xc3;
        return CRDT_OK;
    }
    return crdtp_cr_fail(r, CRDT_ERR_DECODE);
}

int crdtp_cr_nil(cr *r)
{
    if (r->err)
        return r->err;
    if (r->p < r->end && *r->p == 0xc0) {
        r->p++;
        return CRDT_OK;
    }
    return crdtp_cr_fail(r, CRDT_ERR_DECODE);
}

/* Reads an envelope's header up to its tag: [version, tag, nbody more];
 * the version must be ours (CRDT_ERR_VERSION at it); *at is where the tag
 * starts.  Inline: it is on every decode's path. */
static inline int header(cr *r, uint64_t *tag, const uint8_t **at,
                         uint32_t *nbody)
{
    const uint8_t *vat;
    uint32_t n;
    uint64_t v;
    int rv;

    if ((rv = crdtp_cr_array(r, &n)))
        return rv;
    if (n < 2)
        return crdtp_cr_fail_at(r, r->base, CRDT_ERR_DECODE);
    vat = r->p;
    if ((rv = crdtp_cr_uint(r, &v)))
        return rv;
    if (v != CRDT_FORMAT_VERSION)
        return crdtp_cr_fail_at(r, vat, CRDT_ERR_VERSION);
    *at = r->p;
    if ((rv = crdtp_cr_uint(r, tag)))
        return rv;
    *nbody = n - 2;
    return CRDT_OK;
}

int crdtp_cr_envelope(cr *r, uint32_t tag, uint32_t *nbody)
{
    const uint8_t *at = NULL;
    uint32_t n = 0;
    uint64_t v;
    int rv;

    if ((rv = header(r, &v, &at, &n)))
        return rv;
    if (v != tag)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_TYPE);
    *nbody = n;
    return CRDT_OK;
}

int crdtp_cr_finish(cr *r)
{
    if (r->err)
        return r->err;
    if (r->p != r->end)
        return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    return CRDT_OK;
}

int crdtp_decode_header(const uint8_t *data, size_t len, uint32_t *tag,
                        crdt_decode_info *info)
{
    const uint8_t *at = NULL;
    cr r;
    uint32_t n = 0;
    uint64_t v;
    int rv;

    crdtp_cr_init(&r, data, len, NULL);
    if ((rv = header(&r, &v, &at, &n)) == CRDT_OK) {
        if (v > UINT32_MAX)
            rv = crdtp_cr_fail_at(&r, at, CRDT_ERR_TYPE);
        else
            *tag = (uint32_t)v;
    }
    crdtp_cr_info(&r, info);
    return rv;
}

size_t crdtp_tag_offset(const uint8_t *data)
{
    /* array header (1-5 bytes) then the version, a fixint: the tag follows */
    size_t hdr = (*data & 0xf0) == 0x90 ? 1 : *data == 0xdc ? 3 : 5;

    return hdr + 1;
}

/* ======================================================================
 * Skipping one object
 * ====================================================================== */

/* Bytes of the payload that follows the header of the object at p (at
 * least 1 byte available), the header's own size, and the number of
 * child objects (containers); -1 for the unused marker 0xc1.  *len is
 * the payload length for str/bin/ext, else 0. */
static int skip_header(cr *r, unsigned *hdr, uint64_t *len, uint64_t *kids)
{
    uint8_t b = *r->p;
    unsigned n = 0;

    *len = 0;
    *kids = 0;
    *hdr = 1;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return CRDT_OK;
    if ((b & 0xf0) == 0x80) {
        *kids = 2u * (b & 0x0f);
        return CRDT_OK;
    }
    if ((b & 0xf0) == 0x90) {
        *kids = b & 0x0f;
        return CRDT_OK;
    }
    if ((b & 0xe0) == 0xa0) {
        *len = b & 0x1f;
        return CRDT_OK;
    }
    switch (b) {
    case 0xcc: case 0xd0: *len = 1; return CRDT_OK;
    case 0xcd: case 0xd1: *len = 2; return CRDT_OK;
    case 0xce: case 0xd2: case 0xca: *len = 4; return CRDT_OK;
    case 0xcf: case 0xd3: case 0xcb: *len = 8; return CRDT_OK;
    case 0xd4: *len = 2; return CRDT_OK; /* fixext: type byte + data */
    case 0xd5: *len = 3; return CRDT_OK;
    case 0xd6: *len = 5; return CRDT_OK;
    case 0xd7: *len = 9; return CRDT_OK;
    case 0xd8: *len = 17; return CRDT_OK;
    case 0xc4: case 0xd9: n = 1; break;
    case 0xc5: case 0xda: case 0xdc: case 0xde: n = 2; break;
    case 0xc6: case 0xdb: case 0xdd: case 0xdf: n = 4; break;
    case 0xc7: n = 1; break;
    case 0xc8: n = 2; break;
    case 0xc9: n = 4; break;
    default:
        return crdtp_cr_fail(r, CRDT_ERR_DECODE); /* 0xc1 */
    }
    if (cr_left(r) < 1u + n)
        return crdtp_cr_fail_at(r, r->end, CRDT_ERR_DECODE);
    *hdr = 1 + n;
    {
        uint64_t v = be(r->p + 1, n);

        if (b == 0xdc || b == 0xdd)
            *kids = v;
        else if (b == 0xde || b == 0xdf)
            *kids = 2 * v;
        else if (b >= 0xc7 && b <= 0xc9)
            *len = v + 1; /* ext: the type byte, then v bytes */
        else
            *len = v;
    }
    return CRDT_OK;
}

int crdtp_cr_skip(cr *r, size_t max_depth)
{
    /* left[d]: objects still to skip in the container open at depth d */
    uint64_t left[CR_SKIP_MAX_DEPTH + 1];
    size_t depth = 0;
    int rv;

    if (r->err)
        return r->err;
    if (max_depth > CR_SKIP_MAX_DEPTH)
        max_depth = CR_SKIP_MAX_DEPTH;
    left[0] = 1;
    for (;;) {
        const uint8_t *at = r->p;
        unsigned hdr;
        uint64_t len, kids;

        while (left[depth] == 0) {
            if (depth == 0)
                return CRDT_OK;
            depth--;
        }
        left[depth]--;
        if (r->p >= r->end)
            return crdtp_cr_fail(r, CRDT_ERR_DECODE);
        if ((rv = skip_header(r, &hdr, &len, &kids)))
            return rv;
        r->p += hdr;
        if (len > cr_left(r))
            return crdtp_cr_fail_at(r, r->end, CRDT_ERR_DECODE);
        r->p += len;
        if (kids) {
            if (kids > cr_left(r))
                return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
            if (depth + 1 > max_depth)
                return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
            left[++depth] = kids;
        }
    }
}
