/* SPDX-License-Identifier: MIT */
/*
 * The oracle shared by every decoder's fuzz target (fuzz_<type>.c).  Each
 * target is one line calling fuzz_one() with its type's name; the checks
 * live here, once.  The same code runs under libFuzzer (clang,
 * --enable-fuzzing) and under the replay driver (replay.c) in every
 * `make check`.
 *
 * For each input, with the default limits and with tight ones:
 *   - the destination is prefilled with a known non-empty state;
 *   - on success, re-encoding must reproduce the input byte for byte (the
 *     decoders accept only canonical encodings), the encoding must fit a
 *     fixed buffer of exactly that size and fail with CRDT_ERR_BUFFER in
 *     one byte less, leaving it empty; and the state must satisfy the
 *     type's invariants (tt_type.invalid, where the table has them);
 *   - on failure, the code must be one the type's header documents for
 *     bad input (tt_type.decode_errors: CRDT_ERR_DECODE, _VERSION, _TYPE,
 *     and where documented _LIMIT, _OVERFLOW), crdt_decode_info must
 *     carry the same code and an offset <= len, and the destination must
 *     still hold the prefilled state (equal, and encoding to the same
 *     bytes);
 *   - the decoder may allocate at most FZ_ALLOC_PER_BYTE bytes per input
 *     byte (plus FZ_ALLOC_SLACK) beyond what the destination held at
 *     any one time;
 *   - the result must not depend on what the destination held (a fresh
 *     empty object gives the same code and offset);
 *   - crdt_decode_header must agree with the decoder about the envelope;
 *   - for the built-in replicated types, crdt_registry_decode must give
 *     the same code, offset and bytes for an encoding of the type's tag
 *     (and whatever another type's decoder accepts must re-encode to the
 *     input too);
 *   - whatever decodes under the tight limits decodes under the defaults.
 * Any violation prints what went wrong and aborts, which libFuzzer (and
 * the replay driver's exit status) report as a crash.
 */
#ifndef CRDT_FUZZ_COMMON_H
#define CRDT_FUZZ_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../typetab.h"

/* libFuzzer's entry point, defined by each fuzz_<type>.c. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* The type a target fuzzes, defined by each fuzz_<type>.c (the replay
 * driver uses it to find the target's corpus). */
extern const char fuzz_type_name[];

/* ----------------------------------------------------------------------
 * A byte-counting allocator: live bytes, their peak, live blocks and
 * calls (for every target, the gossip ones included, which include this
 * file with FUZZ_DECLARATIONS_ONLY: hence inline).
 * ---------------------------------------------------------------------- */

typedef struct fz_mem {
    crdt_mem mem;
    size_t live; /* bytes allocated and not freed */
    size_t peak; /* highest live since last reset */
    size_t blocks; /* blocks allocated and not freed */
    unsigned long calls; /* malloc and realloc calls */
} fz_mem;

/* Each block is prefixed with its size, in a max-aligned header. */
#define FZ_HDR 16u

static inline void *fz_malloc(size_t size, void *ud)
{
    fz_mem *m = ud;
    unsigned char *p;

    m->calls++;
    if (size > SIZE_MAX - FZ_HDR)
        return NULL;
    p = malloc(size + FZ_HDR);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    m->live += size;
    m->blocks++;
    if (m->live > m->peak)
        m->peak = m->live;
    return p + FZ_HDR;
}

static inline void fz_free(void *ptr, void *ud)
{
    fz_mem *m = ud;
    unsigned char *p = ptr;
    size_t old;

    if (!p)
        return;
    p -= FZ_HDR;
    memcpy(&old, p, sizeof old);
    m->live -= old;
    m->blocks--;
    free(p);
}

static inline void *fz_realloc(void *ptr, size_t size, void *ud)
{
    fz_mem *m = ud;
    unsigned char *p = ptr, *q;
    size_t old;

    if (!p)
        return fz_malloc(size, ud);
    m->calls++;
    if (size > SIZE_MAX - FZ_HDR)
        return NULL;
    p -= FZ_HDR;
    memcpy(&old, p, sizeof old);
    q = realloc(p, size + FZ_HDR);
    if (!q)
        return NULL;
    memcpy(q, &size, sizeof size);
    m->live = m->live - old + size;
    if (m->live > m->peak)
        m->peak = m->live;
    return q + FZ_HDR;
}

/* The replay driver needs only the two declarations above. */
#ifndef FUZZ_DECLARATIONS_ONLY

/* "A small constant times the input length" (crdt/common.h), made
 * concrete.  The largest seen: gset reserves 32 bytes per declared element
 * (the count is checked at one byte per element, though a bin takes two)
 * and rounds its index up to a power of two: up to ~40 bytes per byte. */
#define FZ_ALLOC_PER_BYTE 64u
#define FZ_ALLOC_SLACK 1024u

/* ----------------------------------------------------------------------
 * Per-process state: built on the first input, kept for the others.
 * ---------------------------------------------------------------------- */

typedef struct fz_state {
    const tt_type *t;
    const crdt_type *ops; /* t's descriptor */
    crdt_registry *reg;   /* the built-in types, when t is one of them */
    fz_mem mem;        /* the destination's allocator */
    void *dst;         /* decoded into; holds the prefilled state between */
    void *ref;         /* the prefilled state, never decoded into */
    crdt_buf ref_enc;  /* its encoding */
    crdt_buf out;      /* scratch for re-encodings */
    crdt_limits tight; /* small limits */
} fz_state;

static fz_state fz;

static void fz_fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fuzz %s: ORACLE FAILURE: ", fz.ops ? fz.ops->name : "?");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static void fz_setup(const char *type)
{
    tu_rng rng;
    int rv;

    fz.t = tt_find(type);
    if (!fz.t)
        fz_fail("no type %s in the type table", type);
    fz.ops = fz.t->ops();
    if (fz.t->registered) {
        fz.reg = crdt_registry_new(NULL);
        if (!fz.reg || crdt_registry_add_builtins(fz.reg))
            fz_fail("cannot make the registry of built-in types");
    }
    fz.mem.mem.malloc = fz_malloc;
    fz.mem.mem.realloc = fz_realloc;
    fz.mem.mem.free = fz_free;
    fz.mem.mem.user_data = &fz.mem;
    fz.dst = fz.ops->create(&fz.mem.mem);
    fz.ref = fz.ops->create(NULL);
    if (!fz.dst || !fz.ref)
        fz_fail("new failed");
    tu_rng_init(&rng, 20240601);
    if ((rv = fz.t->gen(fz.dst, &rng, TT_SMALL)))
        fz_fail("gen: %s", crdt_strerror(rv));
    crdt_buf_init(&fz.ref_enc, NULL);
    crdt_buf_init(&fz.out, NULL);
    if ((rv = fz.ops->encode(fz.dst, &fz.ref_enc)))
        fz_fail("encode of the prefilled state: %s", crdt_strerror(rv));
    if ((rv = fz.ops->decode(fz.ref, fz.ref_enc.data, fz.ref_enc.len, NULL,
                           NULL)))
        fz_fail("decode of the prefilled state: %s", crdt_strerror(rv));
    if (!fz.ops->equal(fz.dst, fz.ref))
        fz_fail("prefilled state does not survive encode/decode");

    crdt_limits_default(&fz.tight);
    fz.tight.max_actors = 3;
    fz.tight.max_value_bytes = 8;
    fz.tight.max_elements = 3;
    fz.tight.max_depth = 1;
}

/* rv is one of the errors the type's decoder documents for bad input. */
static bool fz_documented(int rv)
{
    const int *e;

    for (e = fz.t->decode_errors; *e; e++)
        if (*e == rv)
            return true;
    return false;
}

/* Encodes obj of type into fz.out (reset first). */
static void fz_encode_as(const crdt_type *type, const void *obj,
                         const char *what)
{
    int rv;

    crdt_buf_reset(&fz.out);
    if ((rv = type->encode(obj, &fz.out)))
        fz_fail("encode of %s: %s", what, crdt_strerror(rv));
}

static void fz_encode(const void *obj, const char *what)
{
    fz_encode_as(fz.ops, obj, what);
}

static void fz_encode_with(const crdt_type *type, const void *obj)
{
    fz_encode_as(type, obj, "a registry-decoded object");
}

static bool fz_out_is(const uint8_t *data, size_t len)
{
    return fz.out.len == len && (len == 0 || memcmp(fz.out.data, data, len) == 0);
}

/* The destination holds the prefilled state again. */
static void fz_check_prefilled(const char *when)
{
    if (!fz.ops->equal(fz.dst, fz.ref))
        fz_fail("%s: destination changed", when);
    fz_encode(fz.dst, "the destination");
    if (!fz_out_is(fz.ref_enc.data, fz.ref_enc.len))
        fz_fail("%s: destination encodes differently", when);
}

/* On success: re-encoding is the input, also through fixed buffers. */
static void fz_check_canonical(const uint8_t *data, size_t len)
{
    crdt_buf fixed;
    uint8_t *tmp;
    int rv;

    fz_encode(fz.dst, "the decoded state");
    if (!fz_out_is(data, len))
        fz_fail("decoded %zu bytes, but re-encoding gives %zu different "
                "bytes (non-canonical input accepted)",
                len, fz.out.len);
    tmp = malloc(len ? len : 1);
    if (!tmp)
        fz_fail("out of memory");
    crdt_buf_init_fixed(&fixed, tmp, len);
    if ((rv = fz.ops->encode(fz.dst, &fixed)) || fixed.len != len)
        fz_fail("encode into a fixed buffer of exactly %zu bytes: %s", len,
                crdt_strerror(rv));
    if (len > 0) {
        crdt_buf_init_fixed(&fixed, tmp, len - 1);
        rv = fz.ops->encode(fz.dst, &fixed);
        if (rv != CRDT_ERR_BUFFER || fixed.len != 0)
            fz_fail("encode into a fixed buffer one byte short: %d, len %zu",
                    rv, fixed.len);
    }
    free(tmp);
}

/* Decodes into the prefilled destination and checks the result; returns
 * the decoder's code and its info. */
static int fz_decode(const uint8_t *data, size_t len, const crdt_limits *lim,
                     crdt_decode_info *info, const char *lname)
{
    size_t base = fz.mem.live;
    int rv;

    info->offset = SIZE_MAX;
    info->code = 1;
    fz.mem.peak = base;
    rv = fz.ops->decode(fz.dst, data, len, lim, info);
    if (fz.mem.peak - base > FZ_ALLOC_PER_BYTE * len + FZ_ALLOC_SLACK)
        fz_fail("%s limits: decoding %zu bytes allocated %zu bytes", lname,
                len, fz.mem.peak - base);
    if (rv == CRDT_OK) {
        const char *why = fz.t->invalid ? fz.t->invalid(fz.dst) : NULL;

        if (why)
            fz_fail("%s limits: decoded a state that breaks the type's "
                    "invariants: %s", lname, why);
        fz_check_canonical(data, len);
        /* Put the prefilled state back for the next decode. */
        if (fz.ops->decode(fz.dst, fz.ref_enc.data, fz.ref_enc.len, NULL,
                         NULL))
            fz_fail("cannot restore the prefilled state");
        fz_check_prefilled("after restoring");
        return rv;
    }
    if (!fz_documented(rv))
        fz_fail("%s limits: undocumented error %d (%s)", lname, rv,
                crdt_strerror(rv));
    if (info->code != rv)
        fz_fail("%s limits: returned %d but info.code is %d", lname, rv,
                info->code);
    if (info->offset > len)
        fz_fail("%s limits: info.offset %zu beyond the input (%zu bytes)",
                lname, info->offset, len);
    fz_check_prefilled(lim ? "failed decode (tight limits)"
                           : "failed decode (default limits)");
    return rv;
}

/* The registry decodes an encoding of our tag exactly as our decoder
 * does (code, offset, state); other tags go to other decoders, which must
 * still return only errors and re-encode what they accept. */
static void fz_check_registry(const uint8_t *data, size_t len, int rv,
                              const crdt_decode_info *info)
{
    const crdt_type *type = NULL;
    crdt_decode_info rinfo = {0, 0};
    void *obj = NULL;
    uint32_t tag;
    int rrv;

    rrv = crdt_registry_decode(fz.reg, data, len, NULL, NULL, &type, &obj,
                               &rinfo);
    if (rrv == CRDT_OK) {
        if (!type || !obj)
            fz_fail("registry decode succeeded without type or object");
        fz_encode_with(type, obj);
        if (!fz_out_is(data, len))
            fz_fail("registry decoded a %s that re-encodes differently",
                    type->name);
        type->destroy(obj);
    } else if (rrv > 0 || type || obj) {
        fz_fail("registry decode failed (%d) but wrote its out-parameters",
                rrv);
    }
    if (crdt_decode_header(data, len, &tag) != CRDT_OK || tag != fz.ops->tag)
        return;
    if (rrv != rv || (rv && rinfo.offset != info->offset))
        fz_fail("registry decode: %d at %zu, %s decode: %d at %zu", rrv,
                rinfo.offset, fz.ops->name, rv, info->offset);
    if (rrv == CRDT_OK && type != fz.ops)
        fz_fail("registry decoded tag %u as %s", (unsigned)tag, type->name);
}

static int fuzz_one(const char *type, const uint8_t *data, size_t len)
{
    crdt_decode_info info, tinfo, finfo;
    uint32_t tag = 0;
    int rv, trv, frv, hrv;
    void *fresh;

    if (!fz.t)
        fz_setup(type);

    rv = fz_decode(data, len, NULL, &info, "default");
    trv = fz_decode(data, len, &fz.tight, &tinfo, "tight");
    if (trv == CRDT_OK && rv != CRDT_OK)
        fz_fail("accepted under tight limits but not the defaults (%d)", rv);

    /* The outcome does not depend on what the destination held. */
    fresh = fz.ops->create(NULL);
    if (!fresh)
        fz_fail("out of memory");
    frv = fz.ops->decode(fresh, data, len, NULL, &finfo);
    if (frv != rv || (rv && finfo.offset != info.offset))
        fz_fail("empty destination: %d at %zu, prefilled: %d at %zu", frv,
                finfo.offset, rv, info.offset);
    fz.ops->destroy(fresh);

    /* crdt_registry_decode dispatches on the tag to the same decoder. */
    if (fz.reg)
        fz_check_registry(data, len, rv, &info);

    /* crdt_decode_header reads the same envelope. */
    hrv = crdt_decode_header(data, len, &tag);
    if (rv == CRDT_OK && (hrv != CRDT_OK || tag != fz.ops->tag))
        fz_fail("decoded, but crdt_decode_header gives %d, tag %u", hrv,
                (unsigned)tag);
    if (hrv != CRDT_OK && hrv != rv)
        fz_fail("crdt_decode_header gives %d, the decoder %d", hrv, rv);
    if (hrv == CRDT_OK && tag != fz.ops->tag && rv != CRDT_ERR_TYPE)
        fz_fail("envelope has tag %u, but the decoder gives %d", (unsigned)tag,
                rv);
    return 0;
}

#endif /* FUZZ_DECLARATIONS_ONLY */
#endif
