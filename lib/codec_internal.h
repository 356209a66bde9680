/* SPDX-License-Identifier: MIT */
/*
 * Codec internals shared by every type's encoder and decoder.
 *
 * Writing goes through msgpack-c's packer (msgpack_pack_*), whose write
 * callback appends to a crdt_buf.  The packer and callback are inline and
 * the packer lives on the encoder's stack, so the compiler sees the
 * callback's target and the hot path is a bounds check and a small copy.
 * msgpack-c always picks the shortest form of an integer, array or bin
 * header, which is what makes our encodings canonical.
 *
 * Reading does NOT use msgpack-c's unpacker: msgpack_unpack() builds an
 * object tree in a zone and allocates each container's element array from
 * the count the input declares, before the elements exist (an array header
 * of 5 bytes can ask for 2^32 * 24 bytes).  Hostile input must not buy
 * allocations, so decoders walk the bytes with the pull reader below: it
 * never allocates, checks every declared count against the bytes that
 * remain (each element needs at least one), and accepts only the shortest
 * (canonical) form of each header and integer, so a byte string decodes
 * only if re-encoding it gives the same bytes.
 *
 * Errors inside the reader are sticky: the first failure records its code
 * and byte offset; later calls fail with the same code.
 */
#ifndef CRDT_CODEC_INTERNAL_H
#define CRDT_CODEC_INTERNAL_H

#include <string.h>

#include <msgpack.h>

#include <crdt/codec.h>

/* --- writer ------------------------------------------------------------- */

typedef struct cw {
    msgpack_packer pk;
    crdt_buf *buf;
    size_t start; /* buf->len at cw_begin, restored on failure */
    int err;
} cw;

static inline int cw_write_cb(void *data, const char *p, size_t n)
{
    cw *w = (cw *)data;
    crdt_buf *b = w->buf;

    if (w->err)
        return -1;
    if (b->cap - b->len < n) {
        int rv = crdt_buf_reserve(b, n);

        if (rv) {
            w->err = rv;
            return -1;
        }
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Starts an encoding: [CRDT_FORMAT_VERSION, tag, <nbody fields>]. */
static inline void cw_begin(cw *w, crdt_buf *buf, uint32_t tag,
                            uint32_t nbody)
{
    w->buf = buf;
    w->start = buf->len;
    w->err = 0;
    msgpack_packer_init(&w->pk, w, cw_write_cb);
    msgpack_pack_array(&w->pk, 2 + (size_t)nbody);
    msgpack_pack_uint32(&w->pk, CRDT_FORMAT_VERSION);
    msgpack_pack_uint32(&w->pk, tag);
}

/* Reserves room for n more bytes up front (an upper bound), so that the
 * per-item callbacks never grow the buffer.  Only for growable buffers: a
 * fixed buffer need only hold the actual encoding, which may be shorter
 * than the bound; the write callback checks it byte-exactly. */
static inline void cw_reserve(cw *w, size_t n)
{
    if (!w->err && !w->buf->fixed && w->buf->cap - w->buf->len < n) {
        int rv = crdt_buf_reserve(w->buf, n);

        if (rv)
            w->err = rv;
    }
}

static inline void cw_array(cw *w, size_t n)
{
    msgpack_pack_array(&w->pk, n);
}

static inline void cw_map(cw *w, size_t n)
{
    msgpack_pack_map(&w->pk, n);
}

static inline void cw_uint(cw *w, uint64_t v)
{
    msgpack_pack_uint64(&w->pk, v);
}

static inline void cw_bool(cw *w, bool v)
{
    if (v)
        msgpack_pack_true(&w->pk);
    else
        msgpack_pack_false(&w->pk);
}

static inline void cw_nil(cw *w)
{
    msgpack_pack_nil(&w->pk);
}

static inline void cw_bin(cw *w, const void *p, size_t n)
{
    msgpack_pack_bin(&w->pk, n);
    if (n)
        msgpack_pack_bin_body(&w->pk, p, n);
}

/* Finishes an encoding: on error, rolls the buffer back to where it was. */
static inline int cw_end(cw *w)
{
    if (w->err) {
        w->buf->len = w->start;
        return w->err;
    }
    return CRDT_OK;
}

/* Upper bound of the encoded size of an unsigned integer. */
#define CW_UINT_MAX 9u
/* Upper bound of an envelope header with up to 2^32 body fields. */
#define CW_HEADER_MAX (5u + 5u + 5u)

/* --- reader ------------------------------------------------------------- */

typedef struct cr {
    const uint8_t *base; /* start of input, for offsets */
    const uint8_t *p;    /* next byte */
    const uint8_t *end;  /* one past the last byte */
    int err;             /* first error, sticky */
    size_t err_off;      /* its offset */
    crdt_limits lim;     /* resolved limits (defaults when NULL given) */
} cr;

void crdtp_cr_init(cr *r, const uint8_t *data, size_t len,
                   const crdt_limits *lim);

/* Records the first error at the current position (or at off) and
 * returns the (sticky) code. */
int crdtp_cr_fail(cr *r, int code);
int crdtp_cr_fail_at(cr *r, const uint8_t *at, int code);

static inline size_t cr_left(const cr *r)
{
    return (size_t)(r->end - r->p);
}

/* Reads an array header of n elements; n is checked against the bytes
 * left (every element takes at least one byte). */
int crdtp_cr_array(cr *r, uint32_t *n);
/* Reads a map header of n pairs; 2n is checked against the bytes left. */
int crdtp_cr_map(cr *r, uint32_t *n);
/* Reads a non-negative integer in its shortest unsigned form. */
int crdtp_cr_uint(cr *r, uint64_t *v);
/* Reads bin 8/16/32 in its shortest form; *p points into the input. */
int crdtp_cr_bin(cr *r, const uint8_t **p, size_t *n);
int crdtp_cr_bool(cr *r, bool *v);
int crdtp_cr_nil(cr *r);
/* Reads the envelope [version, tag, ...]: version must be ours and the
 * tag @p tag (CRDT_ERR_TYPE otherwise); *nbody gets the body field count. */
int crdtp_cr_envelope(cr *r, uint32_t tag, uint32_t *nbody);
/* Fails with CRDT_ERR_DECODE unless every byte was consumed. */
int crdtp_cr_finish(cr *r);
/* Copies the error position out (info may be NULL). */
void crdtp_cr_info(const cr *r, crdt_decode_info *info);

/* Fast inline read of an unsigned integer (the hot loop of counter and
 * clock decoders); falls back to crdtp_cr_uint for the rare forms. */
static inline int cr_uint(cr *r, uint64_t *v)
{
    if (r->p < r->end && *r->p < 0x80) {
        *v = *r->p++;
        return CRDT_OK;
    }
    if (r->end - r->p >= 9 && *r->p == 0xcf) {
        const uint8_t *q = r->p + 1;
        uint64_t x = ((uint64_t)q[0] << 56) | ((uint64_t)q[1] << 48) |
                     ((uint64_t)q[2] << 40) | ((uint64_t)q[3] << 32) |
                     ((uint64_t)q[4] << 24) | ((uint64_t)q[5] << 16) |
                     ((uint64_t)q[6] << 8) | (uint64_t)q[7];

        if (x > 0xffffffffu) {
            *v = x;
            r->p += 9;
            return CRDT_OK;
        }
    }
    return crdtp_cr_uint(r, v);
}

#endif /* CRDT_CODEC_INTERNAL_H */
