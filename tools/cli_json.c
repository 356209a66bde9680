/* SPDX-License-Identifier: MIT */
/*
 * The output buffer and the JSON the crdt tool prints (cli.h): user bytes
 * as {"hex":...,"text":...}, a set's elements or a register's siblings in
 * byte order, and the causal context and dots of a dot store, read from
 * its canonical encoding with a small MessagePack reader.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/type.h>

#include "cli.h"

/* ======================================================================
 * Output buffer: a crdt_buf with a sticky error, so that formatting code
 * can append freely and check once.
 * ====================================================================== */

void out_init(out *o)
{
    crdt_buf_init(&o->b, NULL);
    o->err = CRDT_OK;
    o->depth = 0;
}

void out_clear(out *o)
{
    crdt_buf_clear(&o->b);
}

void out_bytes(out *o, const void *p, size_t n)
{
    if (!o->err && n)
        o->err = crdt_buf_append(&o->b, p, n);
}

void out_str(out *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

void out_u64(out *o, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);

    out_bytes(o, tmp, (size_t)n);
}

/* Appends @p n bytes as lower-case hex. */
static void out_hex(out *o, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char pair[2];
    size_t i;

    for (i = 0; i < n && !o->err; i++) {
        pair[0] = digits[p[i] >> 4];
        pair[1] = digits[p[i] & 15];
        out_bytes(o, pair, 2);
    }
}

/* True iff the @p n bytes at @p p are well-formed UTF-8 (no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static bool utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0, k, len;
    uint32_t c, min;

    while (i < n) {
        c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* Appends a JSON string literal of the UTF-8 text at @p p (must be
 * valid UTF-8): quotes, backslashes and control characters escaped. */
static void out_json_text(out *o, const uint8_t *p, size_t n)
{
    char esc[8];
    size_t i, run = 0;

    out_bytes(o, "\"", 1);
    for (i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
            continue;
        out_bytes(o, p + run, i - run);
        switch (p[i]) {
        case '"': out_str(o, "\\\""); break;
        case '\\': out_str(o, "\\\\"); break;
        case '\n': out_str(o, "\\n"); break;
        case '\r': out_str(o, "\\r"); break;
        case '\t': out_str(o, "\\t"); break;
        case '\b': out_str(o, "\\b"); break;
        case '\f': out_str(o, "\\f"); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", p[i]);
            out_str(o, esc);
        }
        run = i + 1;
    }
    out_bytes(o, p + run, n - run);
    out_bytes(o, "\"", 1);
}

/* Appends user bytes as JSON: {"hex":"...","text":"..."} where "text" is
 * the bytes as a JSON string if they are valid UTF-8, else null. */
void out_json_bytes(out *o, const uint8_t *p, size_t n)
{
    out_str(o, "{\"hex\":\"");
    out_hex(o, p, n);
    out_str(o, "\",\"text\":");
    if (utf8_valid(p, n))
        out_json_text(o, p, n);
    else
        out_str(o, "null");
    out_str(o, "}");
}

/* Appends {"actor":A,"NAME":N}, after a comma if @p comma: an entry of a
 * JSON array of counts or dots. */
void out_entry_json(out *o, bool comma, uint64_t actor, const char *name,
                    uint64_t n)
{
    out_str(o, comma ? ",{\"actor\":" : "{\"actor\":");
    out_u64(o, actor);
    out_str(o, ",\"");
    out_str(o, name);
    out_str(o, "\":");
    out_u64(o, n);
    out_str(o, "}");
}

/* ======================================================================
 * Byte strings in byte order, and what dot stores' encodings hold
 * ====================================================================== */

/* Byte order: memcmp over the common length, then the shorter first (the
 * order of the encodings). */
int view_cmp(const void *a, const void *b)
{
    const view *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n ? 1 : 0;
}

/* Writes the @p n byte strings of @p obj in byte order: one per line
 * (the bytes as they are, then a newline) when @p json is false, else as
 * a JSON array of BYTES. */
int out_views(const void *obj, size_t n, view_fn get, bool json,
                     out *o)
{
    view *v = calloc(n ? n : 1, sizeof *v);
    size_t i;
    int rv = CRDT_OK;

    if (!v)
        return CRDT_ERR_NOMEM;
    for (i = 0; i < n && !rv; i++)
        rv = get(obj, i, &v[i]);
    if (!rv) {
        qsort(v, n, sizeof *v, view_cmp);
        out_str(o, json ? "[" : "");
        for (i = 0; i < n; i++) {
            if (json) {
                out_str(o, i ? "," : "");
                out_json_bytes(o, v[i].p, v[i].n);
            } else {
                out_bytes(o, v[i].p, v[i].n);
                out_str(o, "\n");
            }
        }
        out_str(o, json ? "]" : "");
        rv = o->err;
    }
    free(v);
    return rv;
}

static bool rd_be(rd *r, size_t k, uint64_t *v)
{
    size_t j;

    if (r->n - r->i < k)
        return false;
    for (*v = 0, j = 0; j < k; j++)
        *v = *v << 8 | r->p[r->i++];
    return true;
}

bool rd_uint(rd *r, uint64_t *v)
{
    uint8_t b;

    if (r->i >= r->n)
        return false;
    b = r->p[r->i++];
    if (b < 0x80) {
        *v = b;
        return true;
    }
    switch (b) {
    case 0xcc: return rd_be(r, 1, v);
    case 0xcd: return rd_be(r, 2, v);
    case 0xce: return rd_be(r, 4, v);
    case 0xcf: return rd_be(r, 8, v);
    default: return false;
    }
}

/* An array header (@p map false) or map header, its count to *@p count. */
bool rd_header(rd *r, bool map, uint64_t *count)
{
    uint8_t b, fix = map ? 0x80 : 0x90;

    if (r->i >= r->n)
        return false;
    b = r->p[r->i++];
    if ((b & 0xf0) == fix) {
        *count = b & 0x0f;
        return true;
    }
    if (b == (map ? 0xde : 0xdc))
        return rd_be(r, 2, count);
    if (b == (map ? 0xdf : 0xdd))
        return rd_be(r, 4, count);
    return false;
}

/* Skips one MessagePack object of any kind, nested ones included, with
 * a count of the objects still to skip instead of recursion. */
bool rd_skip(rd *r)
{
    uint64_t left = 1, n;
    uint8_t b;

    while (left > 0) {
        left--;
        if (r->i >= r->n)
            return false;
        b = r->p[r->i++];
        if (b < 0x80 || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            continue; /* fixint, nil, bool */
        if ((b & 0xf0) == 0x80) {
            left += 2u * (b & 0x0f);
            continue;
        }
        if ((b & 0xf0) == 0x90) {
            left += b & 0x0f;
            continue;
        }
        if ((b & 0xe0) == 0xa0) { /* fixstr */
            n = b & 0x1f;
        } else if (b >= 0xc4 && b <= 0xc9) { /* bin, ext: 8, 16, 32 */
            if (!rd_be(r, (size_t)1 << ((b - 0xc4) % 3), &n))
                return false;
            n += b >= 0xc7; /* ext's type byte */
        } else if (b >= 0xca && b <= 0xd3) { /* float, uint, int */
            static const uint8_t width[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8};

            n = width[b - 0xca];
        } else if (b >= 0xd4 && b <= 0xd8) { /* fixext 1..16, type byte */
            n = 1 + ((uint64_t)1 << (b - 0xd4));
        } else if (b >= 0xd9 && b <= 0xdb) { /* str 8, 16, 32 */
            if (!rd_be(r, (size_t)1 << (b - 0xd9), &n))
                return false;
        } else if (b >= 0xdc) { /* array, map: 16, 32 */
            if (!rd_be(r, b & 1 ? 4 : 2, &n))
                return false;
            left += b >= 0xde ? 2 * n : n;
            continue;
        } else {
            return false; /* 0xc1 */
        }
        if (r->n - r->i < n)
            return false;
        r->i += (size_t)n;
    }
    return true;
}

/* A bin's bytes, borrowed from @p r. */
bool rd_bin(rd *r, view *v)
{
    uint64_t n;
    uint8_t b;

    if (r->i >= r->n)
        return false;
    b = r->p[r->i++];
    if (b < 0xc4 || b > 0xc6 || !rd_be(r, (size_t)1 << (b - 0xc4), &n) ||
        r->n - r->i < n)
        return false;
    v->p = r->p + r->i;
    v->n = (size_t)n;
    r->i += (size_t)n;
    return true;
}

/* Writes a list of dots [[actor, counter], ...] read from @p r as
 * [{"actor":A,"counter":C},...]. */
bool rd_dots_json(rd *r, out *o)
{
    uint64_t n, two, actor, counter, i;

    if (!rd_header(r, false, &n))
        return false;
    out_str(o, "[");
    for (i = 0; i < n; i++) {
        if (!rd_header(r, false, &two) || two != 2 || !rd_uint(r, &actor) ||
            !rd_uint(r, &counter))
            return false;
        out_entry_json(o, i > 0, actor, "counter", counter);
    }
    out_str(o, "]");
    return true;
}

/*
 * The causal context of a dot-store state (orset, mvreg, flags, ormap),
 * as dotctx's inspect prints it: ,"vv":[...],"cloud":[...].  These types
 * have no accessor for their context, but their encoding starts with its
 * two fields, [1, tag, {actor: counter, ...}, [[actor, counter], ...],
 * ...], so they are read from there.  With @p dots (the flags), the dots
 * that follow the context are written too, as ,"dots":[...].
 */
int dotstore_json(const crdt_type *t, const void *obj, bool dots,
                         out *o)
{
    uint64_t n, i, v, actor, counter;
    crdt_buf b;
    rd r;
    bool okay;
    int rv;

    crdt_buf_init(&b, NULL);
    if ((rv = t->encode(obj, &b))) {
        crdt_buf_clear(&b);
        return rv;
    }
    r.p = b.data;
    r.n = b.len;
    r.i = 0;
    okay = rd_header(&r, false, &n) && n >= 4 && rd_uint(&r, &v) &&
           rd_uint(&r, &v) && rd_header(&r, true, &n);
    out_str(o, ",\"vv\":[");
    for (i = 0; okay && i < n; i++) {
        if (!(okay = rd_uint(&r, &actor) && rd_uint(&r, &counter)))
            break;
        out_entry_json(o, i > 0, actor, "counter", counter);
    }
    out_str(o, "],\"cloud\":");
    okay = okay && rd_dots_json(&r, o);
    if (dots) {
        out_str(o, ",\"dots\":");
        okay = okay && rd_dots_json(&r, o);
    }
    crdt_buf_clear(&b);
    return okay ? o->err : CRDT_ERR_DECODE;
}
