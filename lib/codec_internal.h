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

/* Upper bound of the encoded size of an unsigned integer. */
#define CW_UINT_MAX 9u
/* Upper bound of an array, map or bin header of up to 2^32 - 1 items. */
#define CW_HDR_MAX 5u
/* Upper bound of an envelope header with up to 2^32 body fields. */
#define CW_HEADER_MAX (5u + 5u + 5u)

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
 * per-item callbacks never grow the buffer.  Only a hint: a fixed buffer
 * is left to the callbacks, since the encoding may fit though the bound
 * does not. */
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

/* Big-endian loads and stores of 2, 4 and 8 bytes (MessagePack's byte
 * order), one instruction each where the compiler has byte swaps. */
static inline void cw_store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void cw_store_be32(uint8_t *p, uint32_t v)
{
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
#else
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
#endif
}

static inline void cw_store_be64(uint8_t *p, uint64_t v)
{
    cw_store_be32(p, (uint32_t)(v >> 32));
    cw_store_be32(p + 4, (uint32_t)v);
}

static inline uint16_t cr_load_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t cr_load_be32(const uint8_t *p)
{
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t v;

    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
#else
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
#endif
}

static inline uint64_t cr_load_be64(const uint8_t *p)
{
    return (uint64_t)cr_load_be32(p) << 32 | cr_load_be32(p + 4);
}

/* Writes v in its shortest MessagePack form at p; returns the end.  The
 * same bytes as msgpack_pack_uint64 (tests/check_common.c checks it). */
static inline uint8_t *cw_put_uint(uint8_t *p, uint64_t v)
{
    if (v < 0x80) {
        *p = (uint8_t)v;
        return p + 1;
    }
    if (v <= 0xff) {
        p[0] = 0xcc, p[1] = (uint8_t)v;
        return p + 2;
    }
    if (v <= 0xffff) {
        p[0] = 0xcd;
        cw_store_be16(p + 1, (uint16_t)v);
        return p + 3;
    }
    if (v <= 0xffffffffu) {
        p[0] = 0xce;
        cw_store_be32(p + 1, (uint32_t)v);
        return p + 5;
    }
    p[0] = 0xcf;
    cw_store_be64(p + 1, v);
    return p + 9;
}

/* Writes an array header of n items at p (the same bytes as
 * msgpack_pack_array; at most CW_HDR_MAX); returns the end. */
static inline uint8_t *cw_put_array(uint8_t *p, size_t n)
{
    if (n < 16) {
        *p = (uint8_t)(0x90 | n);
        return p + 1;
    }
    if (n <= 0xffff) {
        p[0] = 0xdc;
        cw_store_be16(p + 1, (uint16_t)n);
        return p + 3;
    }
    p[0] = 0xdd;
    cw_store_be32(p + 1, (uint32_t)n);
    return p + 5;
}

/* Writes bin n and the n bytes at d at p (the same bytes as
 * msgpack_pack_bin plus msgpack_pack_bin_body: at most CW_HDR_MAX + n);
 * returns the end. */
static inline uint8_t *cw_put_bin(uint8_t *p, const void *d, size_t n)
{
    if (n <= 0xff) {
        p[0] = 0xc4, p[1] = (uint8_t)n;
        p += 2;
    } else if (n <= 0xffff) {
        p[0] = 0xc5;
        cw_store_be16(p + 1, (uint16_t)n);
        p += 3;
    } else {
        p[0] = 0xc6;
        cw_store_be32(p + 1, (uint32_t)n);
        p += 5;
    }
    if (n == 8)
        memcpy(p, d, 8); /* the common short element, one store */
    else if (n)
        memcpy(p, d, n);
    return p + n;
}

/* Direct access for hot loops: cw_span returns a pointer to at least n
 * writable bytes at the end of the output, and cw_commit(w, end) marks
 * everything up to end as written.  Writing through a local pointer keeps
 * the compiler from reloading the buffer's fields after every byte store.
 * n is an upper bound, so a fixed buffer that lacks room for it may still
 * hold the real encoding: cw_span then returns NULL without an error, and
 * the caller writes item by item (cw_uint, which checks every write).
 * NULL with w->err set means the output failed. */
static inline uint8_t *cw_span(cw *w, size_t n)
{
    if (w->err)
        return NULL;
    if (w->buf->cap - w->buf->len < n) {
        int rv;

        if (w->buf->fixed)
            return NULL;
        rv = crdt_buf_reserve(w->buf, n);
        if (rv) {
            w->err = rv;
            return NULL;
        }
    }
    return w->buf->data + w->buf->len;
}

static inline void cw_commit(cw *w, uint8_t *end)
{
    w->buf->len = (size_t)(end - w->buf->data);
}

/* Integers are the bulk of every encoding: when the buffer already has
 * room (encoders reserve an upper bound first) they are written in place;
 * otherwise msgpack-c's packer writes them through the callback. */
static inline void cw_uint(cw *w, uint64_t v)
{
    crdt_buf *b = w->buf;

    if (!w->err && b->cap - b->len >= CW_UINT_MAX)
        b->len = (size_t)(cw_put_uint(b->data + b->len, v) - b->data);
    else
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
/* Skips one MessagePack object of any type (nested arrays and maps
 * included) without allocating and without recursion: at most max_depth
 * (capped at CR_SKIP_MAX_DEPTH) levels of containers, CRDT_ERR_LIMIT
 * beyond; every count is checked against the bytes left (CRDT_ERR_DECODE).
 * Does not check canonical forms: the skipped bytes are for a decoder that
 * does. */
#define CR_SKIP_MAX_DEPTH 128u
int crdtp_cr_skip(cr *r, size_t max_depth);
/* Fails with CRDT_ERR_DECODE unless every byte was consumed. */
int crdtp_cr_finish(cr *r);
/* crdt_decode_header with the error position in info (may be NULL). */
int crdtp_decode_header(const uint8_t *data, size_t len, uint32_t *tag,
                        crdt_decode_info *info);
/* Offset of the type tag in an encoding whose header decoded. */
size_t crdtp_tag_offset(const uint8_t *data);
/* Copies the error position out (info may be NULL). */
void crdtp_cr_info(const cr *r, crdt_decode_info *info);

/* Fast inline read of an unsigned integer in its shortest form (the hot
 * loop of counter and clock decoders).  Anything unusual (end of input,
 * another type, a non-shortest form) goes to crdtp_cr_uint, which records
 * the error. */
/* The fast path on a local cursor: needs 9 readable bytes at p; returns
 * the position after the integer, or NULL when the bytes are not a
 * shortest-form unsigned integer (the caller then lets crdtp_cr_uint
 * diagnose them). */
static inline const uint8_t *cr_fast_uint(const uint8_t *p, uint64_t *v)
{
    uint64_t x;

    switch (*p) {
    case 0xcc:
        x = p[1];
        if (x < 0x80)
            return NULL;
        *v = x;
        return p + 2;
    case 0xcd:
        x = cr_load_be16(p + 1);
        if (x <= 0xff)
            return NULL;
        *v = x;
        return p + 3;
    case 0xce:
        x = cr_load_be32(p + 1);
        if (x <= 0xffff)
            return NULL;
        *v = x;
        return p + 5;
    case 0xcf:
        x = cr_load_be64(p + 1);
        if (x <= 0xffffffffu)
            return NULL;
        *v = x;
        return p + 9;
    default:
        if (*p >= 0x80)
            return NULL;
        *v = *p;
        return p + 1;
    }
}

static inline int cr_uint(cr *r, uint64_t *v)
{
    const uint8_t *q;

    if (r->end - r->p >= 9 && (q = cr_fast_uint(r->p, v)) != NULL) {
        r->p = q;
        return CRDT_OK;
    }
    return crdtp_cr_uint(r, v);
}


/* --- envelope decoder --------------------------------------------------- */

/* The body field count n as a bit of crdtp_decoder.nbody (n < 32). */
#define CRDTP_NBODY(n) (UINT32_C(1) << (n))

/*
 * A type's part of its public decoder: its tag, the body sizes it
 * accepts, and callbacks over a temporary of its own (tmp, on the
 * decoder's stack).  crdtp_decode does the rest, the same for every type.
 * dst and tmp are the pointers given to crdtp_decode.
 */
typedef struct crdtp_decoder {
    uint32_t tag;   /* the type tag the envelope must carry */
    uint32_t nbody; /* accepted body field counts: CRDTP_NBODY(n) | ... */
    /* Makes tmp empty, with dst's allocator; cannot fail.  NULL: tmp
     * needs no setup. */
    void (*init)(void *tmp, const void *dst);
    /* Reads the nbody fields of the body at r into tmp, recording any
     * error in r (crdtp_cr_fail*); must not touch dst. */
    int (*body)(cr *r, void *tmp, const void *dst, uint32_t nbody);
    /* Runs once every byte was read: makes dst the decoded state, usually
     * by swapping tmp in, which leaves dst's old state in tmp for clear.
     * May fail (recorded in r) only before it changes dst. */
    int (*commit)(cr *r, void *dst, void *tmp);
    /* Frees tmp, whether it holds a partial decode or dst's old state.
     * NULL: nothing to free. */
    void (*clear)(void *tmp, const void *dst);
} crdtp_decoder;

/*
 * crdtp_decode is every type's public decoder: it checks the arguments
 * (CRDT_ERR_INVALID_ARG for a NULL dst, or NULL data with len > 0, before
 * anything else; info is then not written), resolves the limits, reads
 * the envelope [version, d->tag, body...] (CRDT_ERR_VERSION, _TYPE,
 * _DECODE), rejects a body field count not in d->nbody (CRDT_ERR_DECODE at
 * offset 0), lets d->body read the body into tmp, requires that the body
 * ends the input (CRDT_ERR_DECODE), and only then lets d->commit install
 * the result in dst; whatever happens, d->clear frees tmp and info (if
 * non-NULL) gets the first error's code and offset ({0, CRDT_OK} on
 * success).  So dst is untouched unless the call succeeds.
 *
 * depth is the level the value nests at inside maps (1 for a top-level
 * map; 0 for a type that does not nest): above lim->max_depth the decode
 * fails with CRDT_ERR_LIMIT at offset 0 before the envelope is read.
 *
 * Always inlined (each type calls it once), so that d's fields are
 * constants: the callbacks become direct calls, and inline as well when
 * declared static inline, as every decoder declares them.  For that d
 * must be a constant the compiler sees: a static const struct, or a local
 * one whose callbacks are constants.  The envelope then costs what a
 * hand-written decoder's did (callgrind: the same instructions for
 * gcounter, vclock, pncounter and mvreg).
 */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline int crdtp_decode(const crdtp_decoder *d, void *dst, void *tmp,
                               const uint8_t *data, size_t len,
                               const crdt_limits *lim, size_t depth,
                               crdt_decode_info *info)
{
    cr r;
    uint32_t nbody;
    int rv;

    if (!dst || (!data && len))
        return CRDT_ERR_INVALID_ARG;
    crdtp_cr_init(&r, data, len, lim);
    if (d->init)
        d->init(tmp, dst);
    if (depth > r.lim.max_depth) {
        rv = crdtp_cr_fail_at(&r, data, CRDT_ERR_LIMIT);
        goto out;
    }
    if ((rv = crdtp_cr_envelope(&r, d->tag, &nbody)))
        goto out;
    if (nbody >= 32 || !(d->nbody & CRDTP_NBODY(nbody))) {
        rv = crdtp_cr_fail_at(&r, data, CRDT_ERR_DECODE);
        goto out;
    }
    if ((rv = d->body(&r, tmp, dst, nbody)) || (rv = crdtp_cr_finish(&r)))
        goto out;
    rv = d->commit(&r, dst, tmp);
out:
    if (d->clear)
        d->clear(tmp, dst);
    crdtp_cr_info(&r, info);
    return rv;
}

#endif /* CRDT_CODEC_INTERNAL_H */
