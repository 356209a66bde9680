/* SPDX-License-Identifier: MIT */
/*
 * The crdt-node client protocol (crdt/client.h): names, the request and
 * reply codec, framing, and a blocking client on a Unix stream socket.
 *
 * Decoding uses its own small reader (rd_*), not lib/mpread.c: that one
 * accepts only canonical encodings (shortest integers), while clients in
 * other languages may write any width.  The reader is bounds-checked on
 * every byte, never allocates, and a message is decoded into a local
 * struct that is copied out only once everything checked, so a failed
 * decode leaves the caller's struct untouched.  Unknown keys' values are
 * skipped recursively, at most CRDT_CLIENT_MAX_DEPTH deep; every element
 * takes at least one byte, so a declared count larger than the bytes left
 * is rejected at once and a skip costs O(len).
 *
 * Encoding writes the shortest forms with a tiny writer (wr_*) into a
 * crdt_buf; the body length is known in advance, so the buffer is
 * reserved once and the writes cannot fail halfway.
 *
 * The client keeps one growable receive buffer: rbuf[0 .. rlen) holds
 * bytes read, of which the first `used` belong to the frame the last
 * reply's views point into; they are dropped at the start of the next
 * call.  The socket is non-blocking; waits use poll() against a
 * CLOCK_MONOTONIC deadline.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <crdt/client.h>

/* ================================================================ names */

static const char *const op_names[] = {
    NULL,     "inc",    "dec",     "set", "add",   "remove",
    "enable", "disable", "get",    "watch", "status"};
#define N_OPS ((int)(sizeof op_names / sizeof *op_names))

static const char *const level_names[] = {NULL, "local", "one", "quorum",
                                          "all"};
#define N_LEVELS ((int)(sizeof level_names / sizeof *level_names))

static int parse_name(const char *const *names, int n, const char *s,
                      size_t len)
{
    int i;

    if (!s && len > 0)
        return CRDT_ERR_INVALID_ARG;
    for (i = 1; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    return CRDT_ERR_INVALID_ARG;
}

const char *crdt_client_op_name(int op)
{
    return op >= 1 && op < N_OPS ? op_names[op] : NULL;
}

int crdt_client_op_parse(const char *s, size_t n)
{
    return parse_name(op_names, N_OPS, s, n);
}

const char *crdt_level_name(int level)
{
    return level >= 1 && level < N_LEVELS ? level_names[level] : NULL;
}

int crdt_level_parse(const char *s, size_t n)
{
    return parse_name(level_names, N_LEVELS, s, n);
}

/* ================================================================ reader */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Takes n bytes; NULL if fewer are left. */
static const uint8_t *rd_take(rd *r, size_t n)
{
    const uint8_t *p = r->p;

    if ((size_t)(r->end - r->p) < n)
        return NULL;
    r->p += n;
    return p;
}

static int rd_byte(rd *r, uint8_t *b)
{
    const uint8_t *p = rd_take(r, 1);

    if (!p)
        return CRDT_ERR_DECODE;
    *b = *p;
    return CRDT_OK;
}

/* Reads an integer of any width.  *neg is set for negative values, whose
 * value is then in *v as a two's-complement int64. */
static int rd_int(rd *r, uint64_t *v, bool *neg)
{
    static const uint8_t width[8] = {1, 2, 4, 8, 1, 2, 4, 8};
    const uint8_t *q;
    uint8_t b;
    int rv;

    if ((rv = rd_byte(r, &b)))
        return rv;
    if (b <= 0x7f) {
        *v = b;
        *neg = false;
        return CRDT_OK;
    }
    if (b >= 0xe0) {
        *v = (uint64_t)(int64_t)(int8_t)b;
        *neg = true;
        return CRDT_OK;
    }
    if (b < 0xcc || b > 0xd3)
        return CRDT_ERR_DECODE;
    if (!(q = rd_take(r, width[b - 0xcc])))
        return CRDT_ERR_DECODE;
    *v = be(q, width[b - 0xcc]);
    *neg = false;
    if (b >= 0xd0) { /* int8..int64: sign-extend */
        unsigned bits = 8u * width[b - 0xcc];

        if (bits < 64 && (*v >> (bits - 1)) & 1)
            *v |= ~(uint64_t)0 << bits;
        *neg = (*v >> 63) != 0;
    }
    return CRDT_OK;
}

static int rd_uint(rd *r, uint64_t *v)
{
    bool neg;
    int rv = rd_int(r, v, &neg);

    if (rv == CRDT_OK && neg)
        return CRDT_ERR_DECODE;
    return rv;
}

static int rd_bool(rd *r, bool *v)
{
    uint8_t b;
    int rv;

    if ((rv = rd_byte(r, &b)))
        return rv;
    if (b != 0xc2 && b != 0xc3)
        return CRDT_ERR_DECODE;
    *v = b == 0xc3;
    return CRDT_OK;
}

/* Reads a str (allow_str), or a bin (allow_bin). */
static int rd_bytes(rd *r, bool allow_str, bool allow_bin,
                    const uint8_t **out, size_t *len)
{
    const uint8_t *q;
    uint64_t n;
    size_t w;
    uint8_t b;
    int rv;

    if ((rv = rd_byte(r, &b)))
        return rv;
    if (allow_str && b >= 0xa0 && b <= 0xbf) {
        n = b & 0x1f;
        w = 0;
    } else if (allow_str && b >= 0xd9 && b <= 0xdb) {
        w = (size_t)1 << (b - 0xd9);
    } else if (allow_bin && b >= 0xc4 && b <= 0xc6) {
        w = (size_t)1 << (b - 0xc4);
    } else {
        return CRDT_ERR_DECODE;
    }
    if (w) {
        if (!(q = rd_take(r, w)))
            return CRDT_ERR_DECODE;
        n = be(q, w);
    }
    if (n > (uint64_t)(r->end - r->p))
        return CRDT_ERR_DECODE;
    *out = r->p;
    *len = (size_t)n;
    r->p += n;
    return CRDT_OK;
}

/* Skips one value of any type, nested at most `depth` more levels. */
static int rd_skip(rd *r, unsigned depth)
{
    const uint8_t *q;
    uint64_t n = 0, i;
    size_t w;
    uint8_t b;
    bool map = false;
    int rv;

    if ((rv = rd_byte(r, &b)))
        return rv;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return CRDT_OK;
    if (b >= 0x80 && b <= 0x8f) {
        n = b & 0x0f;
        map = true;
    } else if (b >= 0x90 && b <= 0x9f) {
        n = b & 0x0f;
    } else if (b >= 0xa0 && b <= 0xbf) {
        return rd_take(r, b & 0x1f) ? CRDT_OK : CRDT_ERR_DECODE;
    } else if (b == 0xdc || b == 0xdd || b == 0xde || b == 0xdf) {
        w = b == 0xdc || b == 0xde ? 2 : 4;
        if (!(q = rd_take(r, w)))
            return CRDT_ERR_DECODE;
        n = be(q, w);
        map = b >= 0xde;
    } else {
        /* scalars and byte strings: (prefix width, payload) */
        switch (b) {
        case 0xc4: case 0xd9: w = 1; break;        /* bin8, str8 */
        case 0xc5: case 0xda: w = 2; break;        /* bin16, str16 */
        case 0xc6: case 0xdb: w = 4; break;        /* bin32, str32 */
        case 0xc7: w = 1; break;                   /* ext8 */
        case 0xc8: w = 2; break;                   /* ext16 */
        case 0xc9: w = 4; break;                   /* ext32 */
        case 0xca: return rd_take(r, 4) ? CRDT_OK : CRDT_ERR_DECODE;
        case 0xcb: return rd_take(r, 8) ? CRDT_OK : CRDT_ERR_DECODE;
        case 0xcc: case 0xd0: return rd_take(r, 1) ? CRDT_OK : CRDT_ERR_DECODE;
        case 0xcd: case 0xd1: return rd_take(r, 2) ? CRDT_OK : CRDT_ERR_DECODE;
        case 0xce: case 0xd2: return rd_take(r, 4) ? CRDT_OK : CRDT_ERR_DECODE;
        case 0xcf: case 0xd3: return rd_take(r, 8) ? CRDT_OK : CRDT_ERR_DECODE;
        case 0xd4: return rd_take(r, 2) ? CRDT_OK : CRDT_ERR_DECODE;
        case 0xd5: return rd_take(r, 3) ? CRDT_OK : CRDT_ERR_DECODE;
        case 0xd6: return rd_take(r, 5) ? CRDT_OK : CRDT_ERR_DECODE;
        case 0xd7: return rd_take(r, 9) ? CRDT_OK : CRDT_ERR_DECODE;
        case 0xd8: return rd_take(r, 17) ? CRDT_OK : CRDT_ERR_DECODE;
        default: return CRDT_ERR_DECODE;           /* 0xc1 */
        }
        if (!(q = rd_take(r, w)))
            return CRDT_ERR_DECODE;
        n = be(q, w);
        if (b >= 0xc7 && b <= 0xc9)
            n += 1; /* the ext type byte */
        return rd_take(r, (size_t)n) ? CRDT_OK : CRDT_ERR_DECODE;
    }
    /* array or map of n elements (2n values for a map) */
    if (depth == 0)
        return CRDT_ERR_LIMIT;
    if (map && n > (uint64_t)(r->end - r->p) / 2)
        return CRDT_ERR_DECODE;
    if (!map && n > (uint64_t)(r->end - r->p))
        return CRDT_ERR_DECODE;
    if (map)
        n *= 2;
    for (i = 0; i < n; i++)
        if ((rv = rd_skip(r, depth - 1)))
            return rv;
    return CRDT_OK;
}

/* Reads the map header of a message: the entry count. */
static int rd_map(rd *r, uint64_t *n)
{
    const uint8_t *q;
    uint8_t b;
    int rv;

    if ((rv = rd_byte(r, &b)))
        return rv;
    if (b >= 0x80 && b <= 0x8f) {
        *n = b & 0x0f;
    } else if (b == 0xde || b == 0xdf) {
        if (!(q = rd_take(r, b == 0xde ? 2 : 4)))
            return CRDT_ERR_DECODE;
        *n = be(q, b == 0xde ? 2 : 4);
    } else {
        return CRDT_ERR_DECODE;
    }
    if (*n > (uint64_t)(r->end - r->p) / 2)
        return CRDT_ERR_DECODE;
    return CRDT_OK;
}

/* The keys the codec knows; a bit each, to catch duplicates. */
enum {
    K_V, K_ID, K_OP, K_KEY, K_TYPE, K_BY, K_VALUE, K_ELEM, K_LEVEL,
    K_TIMEOUT, K_TOKEN, K_OK, K_ERR, K_MSG, K_STATE, K_DELETED, K_ACKS,
    K_STATUS, K_UNKNOWN
};

static const char *const key_names[K_UNKNOWN] = {
    "v",     "id",    "op",  "key", "type",  "by",      "value",
    "elem",  "level", "timeout_ms", "token", "ok", "err", "msg",
    "state", "deleted", "acks", "status"};

static int key_of(const uint8_t *s, size_t n)
{
    int i;

    for (i = 0; i < K_UNKNOWN; i++)
        if (strlen(key_names[i]) == n && memcmp(key_names[i], s, n) == 0)
            return i;
    return K_UNKNOWN;
}

/* Reads the next key; *k is its K_* (K_UNKNOWN: not ours).  A key seen
 * twice is an error. */
static int rd_key(rd *r, uint32_t *seen, int *k)
{
    const uint8_t *s;
    size_t n;
    int rv;

    if ((rv = rd_bytes(r, true, false, &s, &n)))
        return rv;
    *k = key_of(s, n);
    if (*k != K_UNKNOWN) {
        if (*seen & (UINT32_C(1) << *k))
            return CRDT_ERR_DECODE;
        *seen |= UINT32_C(1) << *k;
    }
    return CRDT_OK;
}

static int check_version(rd *r)
{
    uint64_t v;
    int rv = rd_uint(r, &v);

    if (rv == CRDT_OK && v != CRDT_CLIENT_VERSION)
        return CRDT_ERR_VERSION;
    return rv;
}

#define SEEN(k) ((seen >> (k)) & 1u)

/* ================================================================ writer */

/* Sizes of the shortest forms. */
static size_t sz_uint(uint64_t v)
{
    return v < 128 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3
           : v <= 0xffffffffu ? 5 : 9;
}

static size_t sz_int(int64_t v)
{
    if (v >= 0)
        return sz_uint((uint64_t)v);
    return v >= -32 ? 1 : v >= INT8_MIN ? 2 : v >= INT16_MIN ? 3
           : v >= INT32_MIN ? 5 : 9;
}

static size_t sz_str(size_t n)
{
    return n + (n < 32 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 5);
}

static size_t sz_bin(size_t n)
{
    return n + (n <= 0xff ? 2 : n <= 0xffff ? 3 : 5);
}

/* The writer appends into reserved room: nothing here fails. */
typedef struct wr {
    uint8_t *p;
} wr;

static void wr_be(wr *w, uint64_t v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        w->p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    w->p += n;
}

static void wr_byte(wr *w, uint8_t b)
{
    *w->p++ = b;
}

static void wr_uint(wr *w, uint64_t v)
{
    if (v < 128) {
        wr_byte(w, (uint8_t)v);
    } else if (v <= 0xff) {
        wr_byte(w, 0xcc);
        wr_be(w, v, 1);
    } else if (v <= 0xffff) {
        wr_byte(w, 0xcd);
        wr_be(w, v, 2);
    } else if (v <= 0xffffffffu) {
        wr_byte(w, 0xce);
        wr_be(w, v, 4);
    } else {
        wr_byte(w, 0xcf);
        wr_be(w, v, 8);
    }
}

static void wr_int(wr *w, int64_t v)
{
    if (v >= 0) {
        wr_uint(w, (uint64_t)v);
    } else if (v >= -32) {
        wr_byte(w, (uint8_t)(int8_t)v);
    } else if (v >= INT8_MIN) {
        wr_byte(w, 0xd0);
        wr_be(w, (uint64_t)v, 1);
    } else if (v >= INT16_MIN) {
        wr_byte(w, 0xd1);
        wr_be(w, (uint64_t)v, 2);
    } else if (v >= INT32_MIN) {
        wr_byte(w, 0xd2);
        wr_be(w, (uint64_t)v, 4);
    } else {
        wr_byte(w, 0xd3);
        wr_be(w, (uint64_t)v, 8);
    }
}

static void wr_raw(wr *w, const void *p, size_t n)
{
    if (n)
        memcpy(w->p, p, n);
    w->p += n;
}

static void wr_str(wr *w, const void *s, size_t n)
{
    if (n < 32) {
        wr_byte(w, (uint8_t)(0xa0 | n));
    } else if (n <= 0xff) {
        wr_byte(w, 0xd9);
        wr_be(w, n, 1);
    } else if (n <= 0xffff) {
        wr_byte(w, 0xda);
        wr_be(w, n, 2);
    } else {
        wr_byte(w, 0xdb);
        wr_be(w, n, 4);
    }
    wr_raw(w, s, n);
}

static void wr_bin(wr *w, const void *s, size_t n)
{
    if (n <= 0xff) {
        wr_byte(w, 0xc4);
        wr_be(w, n, 1);
    } else if (n <= 0xffff) {
        wr_byte(w, 0xc5);
        wr_be(w, n, 2);
    } else {
        wr_byte(w, 0xc6);
        wr_be(w, n, 4);
    }
    wr_raw(w, s, n);
}

static void wr_key(wr *w, int k)
{
    wr_str(w, key_names[k], strlen(key_names[k]));
}

static size_t sz_key(int k)
{
    return sz_str(strlen(key_names[k]));
}

static size_t sz_map(size_t n)
{
    return n < 16 ? 1 : 3;
}

static void wr_map(wr *w, size_t n)
{
    if (n < 16) {
        wr_byte(w, (uint8_t)(0x80 | n));
    } else {
        wr_byte(w, 0xde);
        wr_be(w, n, 2);
    }
}

/* A view with a NULL pointer must have length 0. */
static bool view_ok(const void *p, size_t n)
{
    return p || n == 0;
}

/* Reserves `size` bytes at the end of out (size checked against the
 * message limit); *w writes there.  Commits nothing. */
static int wr_begin(crdt_buf *out, size_t size, wr *w)
{
    int rv;

    if (size > CRDT_CLIENT_MAX_MESSAGE)
        return CRDT_ERR_LIMIT;
    if ((rv = crdt_buf_reserve(out, size)))
        return rv;
    w->p = out->data + out->len;
    return CRDT_OK;
}

/* ============================================================== requests */

void crdt_client_request_init(crdt_client_request *rq, int op)
{
    if (!rq)
        return;
    memset(rq, 0, sizeof *rq);
    rq->op = op;
    rq->by = 1;
    rq->level = CRDT_LEVEL_ONE;
    rq->timeout_ms = CRDT_CLIENT_DEFAULT_TIMEOUT_MS;
}

/* Which of "value" (set) and "elem" (add, remove) an op carries. */
static int value_key(int op)
{
    return op == CRDT_OP_SET                             ? K_VALUE
           : op == CRDT_OP_ADD || op == CRDT_OP_REMOVE ? K_ELEM
                                                       : -1;
}

int crdt_client_request_encode(const crdt_client_request *rq, crdt_buf *out)
{
    const char *opn, *lvn;
    size_t n = 5, size;
    int vk, rv;
    wr w;

    if (!rq || !out)
        return CRDT_ERR_INVALID_ARG;
    opn = crdt_client_op_name(rq->op);
    lvn = crdt_level_name(rq->level);
    vk = value_key(rq->op);
    if (!opn || !lvn || rq->timeout_ms > CRDT_CLIENT_MAX_TIMEOUT_MS ||
        !view_ok(rq->key, rq->klen) || !view_ok(rq->type, rq->typelen) ||
        !view_ok(rq->value, rq->vlen) || !view_ok(rq->token, rq->tlen))
        return CRDT_ERR_INVALID_ARG;
    if ((rq->op != CRDT_OP_STATUS || rq->key) &&
        (!rq->key || rq->klen == 0 || rq->klen > CRDT_CLIENT_MAX_KEY))
        return CRDT_ERR_INVALID_ARG;
    if (vk >= 0 && !rq->value)
        return CRDT_ERR_INVALID_ARG;
    /* v, id, op, level, timeout_ms; then the optional ones */
    size = sz_key(K_V) + 1 + sz_key(K_ID) + sz_uint(rq->id) + sz_key(K_OP) +
           sz_str(strlen(opn)) + sz_key(K_LEVEL) + sz_str(strlen(lvn)) +
           sz_key(K_TIMEOUT) + sz_uint(rq->timeout_ms);
    if (rq->key) {
        n++;
        size += sz_key(K_KEY) + sz_bin(rq->klen);
    }
    if (rq->type) {
        if (rq->typelen > CRDT_CLIENT_MAX_MESSAGE)
            return CRDT_ERR_LIMIT;
        n++;
        size += sz_key(K_TYPE) + sz_str(rq->typelen);
    }
    if (rq->op == CRDT_OP_INC || rq->op == CRDT_OP_DEC) {
        n++;
        size += sz_key(K_BY) + sz_uint(rq->by);
    }
    if (vk >= 0) {
        if (rq->vlen > CRDT_CLIENT_MAX_MESSAGE)
            return CRDT_ERR_LIMIT;
        n++;
        size += sz_key(vk) + sz_bin(rq->vlen);
    }
    if (rq->token) {
        if (rq->tlen > CRDT_CLIENT_MAX_MESSAGE)
            return CRDT_ERR_LIMIT;
        n++;
        size += sz_key(K_TOKEN) + sz_bin(rq->tlen);
    }
    size += sz_map(n);
    if ((rv = wr_begin(out, size, &w)))
        return rv;
    wr_map(&w, n);
    wr_key(&w, K_V);
    wr_uint(&w, CRDT_CLIENT_VERSION);
    wr_key(&w, K_ID);
    wr_uint(&w, rq->id);
    wr_key(&w, K_OP);
    wr_str(&w, opn, strlen(opn));
    if (rq->key) {
        wr_key(&w, K_KEY);
        wr_bin(&w, rq->key, rq->klen);
    }
    if (rq->type) {
        wr_key(&w, K_TYPE);
        wr_str(&w, rq->type, rq->typelen);
    }
    if (rq->op == CRDT_OP_INC || rq->op == CRDT_OP_DEC) {
        wr_key(&w, K_BY);
        wr_uint(&w, rq->by);
    }
    if (vk >= 0) {
        wr_key(&w, vk);
        wr_bin(&w, rq->value, rq->vlen);
    }
    wr_key(&w, K_LEVEL);
    wr_str(&w, lvn, strlen(lvn));
    wr_key(&w, K_TIMEOUT);
    wr_uint(&w, rq->timeout_ms);
    if (rq->token) {
        wr_key(&w, K_TOKEN);
        wr_bin(&w, rq->token, rq->tlen);
    }
    out->len += size; /* == w.p - (out->data + out->len) */
    return CRDT_OK;
}

int crdt_client_request_decode(crdt_client_request *rq, const uint8_t *data,
                               size_t len)
{
    crdt_client_request t;
    const uint8_t *s, *vals[2] = {NULL, NULL};
    size_t sl, vlens[2] = {0, 0};
    uint64_t n, i, u;
    uint32_t seen = 0;
    int k, rv, vk;
    rd r;

    if (!rq || !data)
        return CRDT_ERR_INVALID_ARG;
    if (len > CRDT_CLIENT_MAX_MESSAGE)
        return CRDT_ERR_LIMIT;
    crdt_client_request_init(&t, 0);
    r.p = data;
    r.end = data + len;
    if ((rv = rd_map(&r, &n)))
        return rv;
    for (i = 0; i < n; i++) {
        if ((rv = rd_key(&r, &seen, &k)))
            return rv;
        switch (k) {
        case K_V:
            rv = check_version(&r);
            break;
        case K_ID:
            rv = rd_uint(&r, &t.id);
            break;
        case K_OP:
            if ((rv = rd_bytes(&r, true, false, &s, &sl)))
                break;
            if ((t.op = crdt_client_op_parse((const char *)s, sl)) < 0)
                rv = t.op;
            break;
        case K_KEY:
            if ((rv = rd_bytes(&r, true, true, &t.key, &t.klen)))
                break;
            if (t.klen == 0)
                rv = CRDT_ERR_INVALID_ARG;
            else if (t.klen > CRDT_CLIENT_MAX_KEY)
                rv = CRDT_ERR_LIMIT;
            break;
        case K_TYPE:
            rv = rd_bytes(&r, true, false, &s, &t.typelen);
            t.type = (const char *)s;
            break;
        case K_BY:
            rv = rd_uint(&r, &t.by);
            break;
        case K_VALUE:
        case K_ELEM:
            rv = rd_bytes(&r, true, true, &vals[k == K_ELEM],
                          &vlens[k == K_ELEM]);
            break;
        case K_LEVEL:
            if ((rv = rd_bytes(&r, true, false, &s, &sl)))
                break;
            if ((t.level = crdt_level_parse((const char *)s, sl)) < 0)
                rv = t.level;
            break;
        case K_TIMEOUT:
            if ((rv = rd_uint(&r, &u)))
                break;
            if (u > CRDT_CLIENT_MAX_TIMEOUT_MS)
                rv = CRDT_ERR_LIMIT;
            t.timeout_ms = (uint32_t)u;
            break;
        case K_TOKEN:
            rv = rd_bytes(&r, false, true, &t.token, &t.tlen);
            break;
        default: /* a reply's key or an unknown one: skipped */
            rv = rd_skip(&r, CRDT_CLIENT_MAX_DEPTH);
            break;
        }
        if (rv)
            return rv;
    }
    if (r.p != r.end)
        return CRDT_ERR_DECODE;
    if (!SEEN(K_V) || !SEEN(K_ID) || !SEEN(K_OP))
        return CRDT_ERR_DECODE;
    if (t.op != CRDT_OP_STATUS && !t.key)
        return CRDT_ERR_DECODE;
    if (t.op != CRDT_OP_INC && t.op != CRDT_OP_DEC)
        t.by = 1; /* only inc and dec carry an amount */
    vk = value_key(t.op);
    if (vk >= 0) {
        if (!vals[vk == K_ELEM])
            return CRDT_ERR_DECODE;
        t.value = vals[vk == K_ELEM];
        t.vlen = vlens[vk == K_ELEM];
    }
    *rq = t;
    return CRDT_OK;
}

/* =============================================================== replies */

void crdt_client_reply_init(crdt_client_reply *rp)
{
    if (!rp)
        return;
    memset(rp, 0, sizeof *rp);
    rp->ok = true;
}

int crdt_client_reply_encode(const crdt_client_reply *rp, crdt_buf *out)
{
    size_t n = 3, size;
    int rv;
    wr w;

    if (!rp || !out)
        return CRDT_ERR_INVALID_ARG;
    if ((!rp->ok && rp->err >= 0) || !view_ok(rp->msg, rp->msglen) ||
        !view_ok(rp->type, rp->typelen) || !view_ok(rp->state, rp->slen) ||
        !view_ok(rp->token, rp->tlen) || !view_ok(rp->status, rp->statuslen))
        return CRDT_ERR_INVALID_ARG;
    if (rp->msglen > CRDT_CLIENT_MAX_MESSAGE ||
        rp->typelen > CRDT_CLIENT_MAX_MESSAGE ||
        rp->slen > CRDT_CLIENT_MAX_MESSAGE ||
        rp->tlen > CRDT_CLIENT_MAX_MESSAGE ||
        rp->statuslen > CRDT_CLIENT_MAX_MESSAGE)
        return CRDT_ERR_LIMIT;
    size = sz_key(K_V) + 1 + sz_key(K_ID) + sz_uint(rp->id) + sz_key(K_OK) +
           1;
    if (!rp->ok) {
        n++;
        size += sz_key(K_ERR) + sz_int(rp->err);
        if (rp->msg) {
            n++;
            size += sz_key(K_MSG) + sz_str(rp->msglen);
        }
    }
    if (rp->type) {
        n++;
        size += sz_key(K_TYPE) + sz_str(rp->typelen);
    }
    if (rp->state) {
        n++;
        size += sz_key(K_STATE) + sz_bin(rp->slen);
    }
    if (rp->deleted) {
        n++;
        size += sz_key(K_DELETED) + 1;
    }
    if (rp->acks) {
        n++;
        size += sz_key(K_ACKS) + sz_uint(rp->acks);
    }
    if (rp->token) {
        n++;
        size += sz_key(K_TOKEN) + sz_bin(rp->tlen);
    }
    if (rp->status) {
        n++;
        size += sz_key(K_STATUS) + sz_str(rp->statuslen);
    }
    size += sz_map(n);
    if ((rv = wr_begin(out, size, &w)))
        return rv;
    wr_map(&w, n);
    wr_key(&w, K_V);
    wr_uint(&w, CRDT_CLIENT_VERSION);
    wr_key(&w, K_ID);
    wr_uint(&w, rp->id);
    wr_key(&w, K_OK);
    wr_byte(&w, rp->ok ? 0xc3 : 0xc2);
    if (!rp->ok) {
        wr_key(&w, K_ERR);
        wr_int(&w, rp->err);
        if (rp->msg) {
            wr_key(&w, K_MSG);
            wr_str(&w, rp->msg, rp->msglen);
        }
    }
    if (rp->type) {
        wr_key(&w, K_TYPE);
        wr_str(&w, rp->type, rp->typelen);
    }
    if (rp->state) {
        wr_key(&w, K_STATE);
        wr_bin(&w, rp->state, rp->slen);
    }
    if (rp->deleted) {
        wr_key(&w, K_DELETED);
        wr_byte(&w, 0xc3);
    }
    if (rp->acks) {
        wr_key(&w, K_ACKS);
        wr_uint(&w, rp->acks);
    }
    if (rp->token) {
        wr_key(&w, K_TOKEN);
        wr_bin(&w, rp->token, rp->tlen);
    }
    if (rp->status) {
        wr_key(&w, K_STATUS);
        wr_str(&w, rp->status, rp->statuslen);
    }
    out->len += size;
    return CRDT_OK;
}

int crdt_client_reply_decode(crdt_client_reply *rp, const uint8_t *data,
                             size_t len)
{
    crdt_client_reply t;
    const uint8_t *s;
    uint64_t n, i, u;
    uint32_t seen = 0;
    bool neg;
    int64_t err = 0;
    int k, rv;
    rd r;

    if (!rp || !data)
        return CRDT_ERR_INVALID_ARG;
    if (len > CRDT_CLIENT_MAX_MESSAGE)
        return CRDT_ERR_LIMIT;
    crdt_client_reply_init(&t);
    r.p = data;
    r.end = data + len;
    if ((rv = rd_map(&r, &n)))
        return rv;
    for (i = 0; i < n; i++) {
        if ((rv = rd_key(&r, &seen, &k)))
            return rv;
        switch (k) {
        case K_V:
            rv = check_version(&r);
            break;
        case K_ID:
            rv = rd_uint(&r, &t.id);
            break;
        case K_OK:
            rv = rd_bool(&r, &t.ok);
            break;
        case K_ERR:
            if ((rv = rd_int(&r, &u, &neg)))
                break;
            err = (int64_t)u;
            if (!neg && u > INT_MAX)
                rv = CRDT_ERR_DECODE;
            else if (neg && err < INT_MIN)
                rv = CRDT_ERR_DECODE;
            break;
        case K_MSG:
            rv = rd_bytes(&r, true, false, &s, &t.msglen);
            t.msg = (const char *)s;
            break;
        case K_TYPE:
            rv = rd_bytes(&r, true, false, &s, &t.typelen);
            t.type = (const char *)s;
            break;
        case K_STATE:
            rv = rd_bytes(&r, false, true, &t.state, &t.slen);
            break;
        case K_DELETED:
            rv = rd_bool(&r, &t.deleted);
            break;
        case K_ACKS:
            if ((rv = rd_uint(&r, &u)))
                break;
            if (u > UINT32_MAX)
                rv = CRDT_ERR_DECODE;
            t.acks = (uint32_t)u;
            break;
        case K_TOKEN:
            rv = rd_bytes(&r, false, true, &t.token, &t.tlen);
            break;
        case K_STATUS:
            rv = rd_bytes(&r, true, false, &s, &t.statuslen);
            t.status = (const char *)s;
            break;
        default: /* a request's key or an unknown one: skipped */
            rv = rd_skip(&r, CRDT_CLIENT_MAX_DEPTH);
            break;
        }
        if (rv)
            return rv;
    }
    if (r.p != r.end)
        return CRDT_ERR_DECODE;
    if (!SEEN(K_V) || !SEEN(K_ID) || !SEEN(K_OK))
        return CRDT_ERR_DECODE;
    if (t.ok) {
        t.err = 0;
        t.msg = NULL; /* a failure's explanation only */
        t.msglen = 0;
    } else {
        if (!SEEN(K_ERR) || err >= 0)
            return CRDT_ERR_DECODE;
        t.err = (int)err;
    }
    *rp = t;
    return CRDT_OK;
}

/* =============================================================== framing */

long long crdt_client_frame(const uint8_t *buf, size_t len)
{
    uint64_t n;

    if (!buf && len > 0)
        return CRDT_ERR_INVALID_ARG;
    if (len < 4)
        return 0;
    n = be(buf, 4);
    if (n == 0 || n > CRDT_CLIENT_MAX_MESSAGE)
        return CRDT_ERR_LIMIT;
    return len - 4 < n ? 0 : (long long)(n + 4);
}

int crdt_client_frame_put(uint8_t prefix[4], size_t n)
{
    wr w;

    if (!prefix)
        return CRDT_ERR_INVALID_ARG;
    if (n == 0 || n > CRDT_CLIENT_MAX_MESSAGE)
        return CRDT_ERR_LIMIT;
    w.p = prefix;
    wr_be(&w, n, 4);
    return CRDT_OK;
}

/* ================================================================ client */

/* Bytes asked of recv() at a time (the buffer grows to whole frames). */
#define RECV_CHUNK 65536u

struct crdt_client {
    int fd;            /* the socket, non-blocking */
    bool broken;       /* a failure left the stream out of step */
    uint64_t next_id;  /* id of the next request */
    uint8_t *rbuf;     /* received bytes */
    size_t rlen;       /* bytes in rbuf */
    size_t rcap;       /* rbuf's size */
    size_t used;       /* leading bytes of the last frame returned */
    crdt_buf wbuf;     /* the request being sent */
};

int crdt_client_connect(crdt_client **out, const char *path)
{
    struct sockaddr_un sa;
    crdt_client *c;
    size_t n;
    int fd, e;

    if (!out || !path)
        return CRDT_ERR_INVALID_ARG;
    n = strlen(path);
    if (n == 0 || n >= sizeof sa.sun_path)
        return CRDT_ERR_INVALID_ARG;
    c = calloc(1, sizeof *c);
    if (!c)
        return CRDT_ERR_NOMEM;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        e = errno;
        if (fd >= 0)
            close(fd);
        free(c);
        errno = e;
        return CRDT_ERR_IO;
    }
    c->fd = fd;
    c->next_id = 1;
    crdt_buf_init(&c->wbuf, NULL);
    *out = c;
    return CRDT_OK;
}

void crdt_client_close(crdt_client *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->rbuf);
    crdt_buf_clear(&c->wbuf);
    free(c);
}

int crdt_client_fd(const crdt_client *c)
{
    return c ? c->fd : -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline (-1: none)
 * passes.  CRDT_ERR_TIMEOUT, CRDT_ERR_IO or CRDT_OK. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd pf;
    int64_t left;
    int rv;

    for (;;) {
        left = -1;
        if (deadline >= 0) {
            left = deadline - now_ms();
            if (left < 0)
                left = 0;
            if (left > INT_MAX)
                left = INT_MAX;
        }
        pf.fd = fd;
        pf.events = events;
        pf.revents = 0;
        rv = poll(&pf, 1, (int)left);
        if (rv > 0)
            return CRDT_OK; /* ready, or an error/hang-up the call sees */
        if (rv == 0)
            return CRDT_ERR_TIMEOUT;
        if (errno != EINTR)
            return CRDT_ERR_IO;
    }
}

/* Encodes rq with the next id into wbuf, with its length prefix. */
static int frame_request(crdt_client *c, const crdt_client_request *rq)
{
    crdt_client_request t = *rq;
    static const uint8_t zero[4] = {0, 0, 0, 0};
    int rv;

    t.id = c->next_id;
    crdt_buf_reset(&c->wbuf);
    if ((rv = crdt_buf_append(&c->wbuf, zero, 4)) ||
        (rv = crdt_client_request_encode(&t, &c->wbuf)) ||
        (rv = crdt_client_frame_put(c->wbuf.data, c->wbuf.len - 4)))
        return rv;
    return CRDT_OK;
}

/* Writes wbuf whole by the deadline.  A failure after the first byte
 * breaks the connection. */
static int send_all(crdt_client *c, int64_t deadline)
{
    size_t off = 0;
    ssize_t n;
    int rv;

    while (off < c->wbuf.len) {
        n = send(c->fd, c->wbuf.data + off, c->wbuf.len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if ((rv = wait_fd(c->fd, POLLOUT, deadline)) == CRDT_OK)
                continue;
        } else {
            rv = CRDT_ERR_IO;
        }
        /* half a frame sent, or a dead socket: out of step for good */
        if (off > 0 || rv == CRDT_ERR_IO)
            c->broken = true;
        return rv;
    }
    c->next_id++;
    return CRDT_OK;
}

/* Reads until a whole frame is at the start of rbuf; its length in *flen.
 * Drops the frame returned last time first. */
static int read_frame(crdt_client *c, int64_t deadline, size_t *flen)
{
    long long f;
    ssize_t n;
    int rv;

    if (c->used) {
        memmove(c->rbuf, c->rbuf + c->used, c->rlen - c->used);
        c->rlen -= c->used;
        c->used = 0;
    }
    for (;;) {
        f = crdt_client_frame(c->rbuf, c->rlen);
        if (f < 0) {
            c->broken = true;
            return (int)f;
        }
        if (f > 0) {
            *flen = (size_t)f;
            return CRDT_OK;
        }
        if (c->rcap - c->rlen < RECV_CHUNK) {
            size_t cap = c->rcap + RECV_CHUNK;
            uint8_t *p = realloc(c->rbuf, cap);

            if (!p)
                return CRDT_ERR_NOMEM;
            c->rbuf = p;
            c->rcap = cap;
        }
        n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            continue;
        }
        if (n == 0) {
            c->broken = true;
            errno = ECONNRESET;
            return CRDT_ERR_IO;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if ((rv = wait_fd(c->fd, POLLIN, deadline)))
                return rv;
            continue;
        }
        c->broken = true;
        return CRDT_ERR_IO;
    }
}

/* The next reply by the deadline; a frame that does not decode is
 * dropped and its error returned. */
static int next_reply(crdt_client *c, crdt_client_reply *rp,
                      int64_t deadline)
{
    size_t flen = 0;
    int rv;

    if ((rv = read_frame(c, deadline, &flen)))
        return rv;
    c->used = flen;
    return crdt_client_reply_decode(rp, c->rbuf + 4, flen - 4);
}

static int64_t deadline_of(uint32_t wait_ms)
{
    return wait_ms ? now_ms() + wait_ms : -1;
}

int crdt_client_send(crdt_client *c, const crdt_client_request *rq)
{
    int rv;

    if (!c || !rq)
        return CRDT_ERR_INVALID_ARG;
    if (c->broken) {
        errno = EPIPE;
        return CRDT_ERR_IO;
    }
    if ((rv = frame_request(c, rq)))
        return rv;
    return send_all(c, -1);
}

int crdt_client_recv(crdt_client *c, crdt_client_reply *rp, uint32_t wait_ms)
{
    if (!c || !rp)
        return CRDT_ERR_INVALID_ARG;
    if (c->broken) {
        errno = EPIPE;
        return CRDT_ERR_IO;
    }
    return next_reply(c, rp, deadline_of(wait_ms));
}

int crdt_client_call(crdt_client *c, const crdt_client_request *rq,
                     crdt_client_reply *rp, uint32_t wait_ms)
{
    int64_t deadline = deadline_of(wait_ms);
    crdt_client_reply t;
    uint64_t id;
    int rv;

    if (!c || !rq || !rp)
        return CRDT_ERR_INVALID_ARG;
    if (c->broken) {
        errno = EPIPE;
        return CRDT_ERR_IO;
    }
    if ((rv = frame_request(c, rq)))
        return rv;
    id = c->next_id;
    if ((rv = send_all(c, deadline)))
        return rv;
    for (;;) {
        if ((rv = next_reply(c, &t, deadline)))
            return rv;
        if (t.id == id || t.id == 0) {
            *rp = t;
            return CRDT_OK;
        }
    }
}
