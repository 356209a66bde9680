/* SPDX-License-Identifier: MIT */
/*
 * crdt-node's node-to-node message codec (tools/node/msg.h) and the
 * MessagePack reader/writer under it (tools/node/mp.h): round trips of
 * every kind with random fields, the chunking arithmetic as node.c's
 * node_send_state splits a state, every documented rejection, truncation
 * at every offset, random mutations (never a crash; whatever decodes is
 * canonical), and mp.h's edge values and non-shortest forms.  Random
 * cases print their seed (CRDT_SEED reproduces, CRDT_CASES scales).
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/codec.h>
#include <crdt/common.h>

#include "mp.h"
#include "msg.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

static const uint64_t edges_u[] = {0,          1,
                                   127,        128,
                                   255,        256,
                                   65535,      65536,
                                   0xffffffffu, 0x100000000ull,
                                   UINT64_MAX - 1, UINT64_MAX};

/* A random uint64 of a random magnitude, or an edge value. */
static uint64_t rand_u(tu_rng *r)
{
    unsigned bits;

    if (tu_below(r, 4) == 0)
        return edges_u[tu_below(r, sizeof edges_u / sizeof *edges_u)];
    bits = (unsigned)tu_below(r, 65);
    return bits ? tu_rand(r) >> (64 - bits) : 0;
}

static int64_t rand_i(tu_rng *r)
{
    static const int64_t edges[] = {0,         -1,        -32,
                                    -33,       -128,      -129,
                                    INT16_MIN, INT16_MIN - 1, INT32_MIN,
                                    (int64_t)INT32_MIN - 1, INT64_MIN,
                                    INT64_MAX, 127,       128};
    uint64_t u;

    if (tu_below(r, 3) == 0)
        return edges[tu_below(r, sizeof edges / sizeof *edges)];
    u = rand_u(r);
    return tu_below(r, 2) ? (int64_t)(u >> 1) : -(int64_t)(u >> 1) - 1;
}

static bool has_key(int kind)
{
    return kind == NMSG_READ || kind == NMSG_REPL || kind == NMSG_STATE;
}

static bool has_part(int kind)
{
    return kind == NMSG_REPL || kind == NMSG_STATE;
}

#define BIG 70000
static uint8_t keybuf[NMSG_MAX_KEY];
static uint8_t statebuf[BIG];

static void fill(tu_rng *r, uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)tu_rand(r);
}

/* A random valid message of @p kind, borrowing keybuf and statebuf. */
static nmsg rand_msg(tu_rng *r, int kind)
{
    static const size_t klens[] = {1, 2, 255, 256, 1023, NMSG_MAX_KEY};
    nmsg m;
    uint64_t parts;

    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.cluster = rand_u(r);
    m.from = rand_u(r);
    m.req = rand_u(r);
    if (kind == NMSG_ACK)
        m.status = rand_i(r);
    if (has_key(kind)) {
        m.klen = tu_below(r, 2) ? klens[tu_below(r, 6)]
                                : 1 + tu_below(r, 40);
        fill(r, keybuf, m.klen);
        m.key = keybuf;
    }
    if (has_part(kind)) {
        switch (tu_below(r, 4)) {
        case 0: m.total = 0; break;
        case 1: m.total = tu_below(r, 300); break;
        case 2: m.total = tu_below(r, BIG) + 1; break;
        default: m.total = NMSG_MAX_STATE - tu_below(r, 2); break;
        }
        switch (tu_below(r, 4)) {
        case 0: m.chunk = 1 + tu_below(r, 8); break;
        case 1: m.chunk = m.total ? m.total : 1; break;
        case 2: m.chunk = NMSG_MAX_STATE - tu_below(r, 2); break;
        default: m.chunk = 1 + tu_below(r, 1400); break;
        }
        parts = nmsg_parts(m.total, m.chunk);
        /* keep the part within statebuf */
        for (;;) {
            m.index = tu_below(r, 2) ? parts - 1 : tu_below(r, parts);
            m.blen = m.index + 1 < parts ? m.chunk
                                         : m.total - m.index * m.chunk;
            if (m.blen <= BIG)
                break;
            m.chunk = 1 + tu_below(r, BIG);
            parts = nmsg_parts(m.total, m.chunk);
        }
        fill(r, statebuf, m.blen);
        m.bytes = statebuf;
    }
    return m;
}

static bool inside(const uint8_t *p, size_t n, const uint8_t *d, size_t len)
{
    if (!p)
        return n == 0;
    return p >= d && n <= len && (size_t)(p - d) <= len - n;
}

static bool bytes_eq(const uint8_t *a, size_t al, const uint8_t *b,
                     size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static bool msg_eq(const nmsg *a, const nmsg *b)
{
    return a->kind == b->kind && a->cluster == b->cluster &&
           a->from == b->from && a->req == b->req &&
           a->status == b->status && a->total == b->total &&
           a->chunk == b->chunk && a->index == b->index &&
           bytes_eq(a->key, a->klen, b->key, b->klen) &&
           bytes_eq(a->bytes, a->blen, b->bytes, b->blen);
}

/* Decodes @p len bytes from an exact-size copy (so that valgrind sees an
 * over-read). */
static int decode_copy(nmsg *m, const uint8_t *d, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    int rv;

    ck_assert_ptr_nonnull(p);
    if (len)
        memcpy(p, d, len);
    rv = nmsg_decode(m, p, len);
    if (rv == CRDT_OK)
        tu_expect(inside(m->key, m->klen, p, len) &&
                      inside(m->bytes, m->blen, p, len),
                  "a borrowed pointer outside the input");
    free(p);
    return rv;
}

static void expect_bad(const uint8_t *d, size_t len, const char *what)
{
    nmsg m;

    ck_assert_msg(nmsg_decode(&m, d, len) == CRDT_ERR_DECODE,
                  "accepted: %s", what);
}

static void expect_good(const uint8_t *d, size_t len, const char *what)
{
    nmsg m;

    ck_assert_msg(nmsg_decode(&m, d, len) == CRDT_OK, "rejected: %s",
                  what);
}

/* ------------------------------------------------ hand-made messages */

/* How each field is written, for the rejection tests. */
enum { W_SHORT = 0, W_WIDE = 1 };

/* A uint in the form one size wider than the shortest (or 0xcf). */
static void put_wide_u(crdt_buf *b, uint64_t v)
{
    if (v <= 0xff)
        tu_must(mpw_tagged(b, 0xcd, v, 2), "put");
    else if (v <= 0xffff)
        tu_must(mpw_tagged(b, 0xce, v, 4), "put");
    else
        tu_must(mpw_tagged(b, 0xcf, v, 8), "put");
}

/* Fields of a hand-made message: what to write, and which field (0 =
 * none) is written in a non-shortest form. */
typedef struct raw {
    uint64_t items, mark, cluster, from, kind, req;
    int64_t status;
    const uint8_t *key;
    size_t klen;
    uint64_t total, chunk, index;
    const uint8_t *bytes;
    size_t blen;
    int wide;     /* field number 1..10 (mark..bytes) written wide */
    int shape;    /* NMSG_* whose fields follow req (0: the kind's) */
} raw;

static raw raw_of(const nmsg *m)
{
    static const uint64_t items[] = {0, 5, 5, 10, 6, 6, 10};
    raw w;

    memset(&w, 0, sizeof w);
    w.items = items[m->kind];
    w.mark = NMSG_MARK;
    w.cluster = m->cluster;
    w.from = m->from;
    w.kind = (uint64_t)m->kind;
    w.req = m->req;
    w.status = m->status;
    w.key = m->key;
    w.klen = m->klen;
    w.total = m->total;
    w.chunk = m->chunk;
    w.index = m->index;
    w.bytes = m->bytes;
    w.blen = m->blen;
    return w;
}

static void put_u(crdt_buf *b, uint64_t v, bool wide)
{
    if (wide)
        put_wide_u(b, v);
    else
        tu_must(mpw_uint(b, v), "put");
}

static void put_bin(crdt_buf *b, const uint8_t *p, size_t n, bool wide)
{
    if (!wide) {
        tu_must(mpw_bin(b, p, n), "put");
        return;
    }
    if (n <= 0xff)
        tu_must(mpw_tagged(b, 0xc5, n, 2), "put");
    else
        tu_must(mpw_tagged(b, 0xc6, n, 4), "put");
    if (n)
        tu_must(mpw_raw(b, p, n), "put");
}

static void put_raw(crdt_buf *b, const raw *w)
{
    int shape = w->shape ? w->shape : (int)w->kind;

    b->len = 0;
    if (w->wide == 11)
        tu_must(mpw_tagged(b, 0xdc, w->items, 2), "put");
    else
        tu_must(mpw_array(b, w->items), "put");
    put_u(b, w->mark, w->wide == 1);
    put_u(b, w->cluster, w->wide == 2);
    put_u(b, w->from, w->wide == 3);
    put_u(b, w->kind, w->wide == 4);
    put_u(b, w->req, w->wide == 5);
    if (shape == NMSG_ACK) {
        if (w->wide == 6) {
            /* one size wider than shortest, signed */
            if (w->status >= -32 && w->status <= 127)
                tu_must(mpw_tagged(b, 0xd0,
                                   (uint8_t)(int8_t)w->status, 1),
                        "put");
            else if (w->status >= INT8_MIN && w->status <= INT8_MAX)
                tu_must(mpw_tagged(b, 0xd1,
                                   (uint16_t)(int16_t)w->status, 2),
                        "put");
            else
                tu_must(mpw_tagged(b, 0xd3, (uint64_t)w->status, 8),
                        "put");
        } else
            tu_must(mpw_int(b, w->status), "put");
    }
    if (shape == NMSG_READ || shape == NMSG_REPL || shape == NMSG_STATE)
        put_bin(b, w->key, w->klen, w->wide == 6);
    if (shape == NMSG_REPL || shape == NMSG_STATE) {
        put_u(b, w->total, w->wide == 7);
        put_u(b, w->chunk, w->wide == 8);
        put_u(b, w->index, w->wide == 9);
        put_bin(b, w->bytes, w->blen, w->wide == 10);
    }
}

/* ----------------------------------------------------------- the tests */

START_TEST(test_nmsg_roundtrip)
{
    uint64_t seed = tu_seed("nmsg");
    long cases = tu_cases(3000), k;
    tu_rng r;
    crdt_buf b1, b2;
    size_t cut;

    tu_rng_init(&r, seed);
    crdt_buf_init(&b1, NULL);
    crdt_buf_init(&b2, NULL);
    for (k = 0; k < cases; k++) {
        int kind = (int)(k % (NMSG_KINDS - 1)) + 1;
        nmsg m = rand_msg(&r, kind), d;

        b1.len = b2.len = 0;
        tu_must_k(nmsg_encode(&m, &b1), "encode", k);
        tu_expect_k(nmsg_is_node(b1.data, b1.len), "is_node", k);
        tu_must_k(decode_copy(&d, b1.data, b1.len), "decode", k);
        tu_must_k(nmsg_decode(&d, b1.data, b1.len), "decode", k);
        tu_expect_k(msg_eq(&m, &d), "decode(encode(m)) == m", k);
        tu_expect_k(inside(d.key, d.klen, b1.data, b1.len) &&
                        inside(d.bytes, d.blen, b1.data, b1.len),
                    "borrowed pointers inside", k);
        if (!has_key(kind))
            tu_expect_k(d.key == NULL && d.klen == 0, "no key", k);
        if (!has_part(kind))
            tu_expect_k(d.bytes == NULL && d.blen == 0 && d.total == 0 &&
                            d.chunk == 0 && d.index == 0,
                        "no part", k);
        if (kind != NMSG_ACK)
            tu_expect_k(d.status == 0, "no status", k);
        tu_must_k(nmsg_encode(&d, &b2), "re-encode", k);
        tu_expect_k(bytes_eq(b1.data, b1.len, b2.data, b2.len),
                    "re-encoding gives the same bytes", k);
        /* every proper prefix, and one byte more, is rejected */
        for (cut = 0; cut < b1.len; cut++) {
            if (b1.len > 2048 && cut >= 80 && cut + 80 < b1.len)
                continue; /* a large part: its ends only */
            tu_expect_k(decode_copy(&d, b1.data, cut) == CRDT_ERR_DECODE,
                        "a truncation decodes", k);
        }
        tu_must_k(crdt_buf_append(&b1, "\0", 1), "append", k);
        tu_expect_k(decode_copy(&d, b1.data, b1.len) == CRDT_ERR_DECODE,
                    "trailing byte accepted", k);
    }
    crdt_buf_clear(&b1);
    crdt_buf_clear(&b2);
}
END_TEST

/* The largest fields: the biggest message node_send_state can make fits
 * chunk + 96 + klen bytes, as its comment says. */
START_TEST(test_nmsg_largest)
{
    nmsg m, d;
    crdt_buf b;
    uint8_t *state = malloc(1u << 20);
    int kind;

    ck_assert_ptr_nonnull(state);
    memset(state, 0xab, 1u << 20);
    memset(keybuf, 'k', sizeof keybuf);
    crdt_buf_init(&b, NULL);
    for (kind = NMSG_REPL; kind <= NMSG_STATE; kind += NMSG_STATE - NMSG_REPL) {
        memset(&m, 0, sizeof m);
        m.kind = kind;
        m.cluster = m.from = m.req = UINT64_MAX;
        m.key = keybuf;
        m.klen = NMSG_MAX_KEY;
        m.total = NMSG_MAX_STATE;
        m.chunk = 1u << 20;
        m.index = 15;
        m.bytes = state;
        m.blen = 1u << 20;
        b.len = 0;
        tu_must(nmsg_encode(&m, &b), "encode");
        ck_assert_uint_le(b.len, m.chunk + 96 + m.klen);
        tu_must(nmsg_decode(&d, b.data, b.len), "decode");
        ck_assert(msg_eq(&m, &d));
        /* a whole 16 MiB state in one part is not needed: total past the
         * limit with a small last part is refused */
        m.total = NMSG_MAX_STATE + 1;
        m.index = 16;
        m.blen = 1;
        b.len = 0;
        tu_must(nmsg_encode(&m, &b), "encode");
        expect_bad(b.data, b.len, "total over NMSG_MAX_STATE");
    }
    crdt_buf_clear(&b);
    free(state);
}
END_TEST

START_TEST(test_nmsg_parts)
{
    ck_assert_uint_eq(nmsg_parts(0, 1), 1);
    ck_assert_uint_eq(nmsg_parts(0, 1000), 1);
    ck_assert_uint_eq(nmsg_parts(1, 1), 1);
    ck_assert_uint_eq(nmsg_parts(2, 1), 2);
    ck_assert_uint_eq(nmsg_parts(999, 1000), 1);
    ck_assert_uint_eq(nmsg_parts(1000, 1000), 1);
    ck_assert_uint_eq(nmsg_parts(1001, 1000), 2);
    ck_assert_uint_eq(nmsg_parts(2000, 1000), 2);
    ck_assert_uint_eq(nmsg_parts(2001, 1000), 3);
    ck_assert_uint_eq(nmsg_parts(5, 0), 0);
    ck_assert_uint_eq(nmsg_parts(0, 0), 0);
    ck_assert_uint_eq(nmsg_parts(UINT64_MAX, 1), UINT64_MAX);
    ck_assert_uint_eq(nmsg_parts(UINT64_MAX, UINT64_MAX), 1);
    ck_assert_uint_eq(nmsg_parts(UINT64_MAX - 1, UINT64_MAX), 1);
    ck_assert_uint_eq(nmsg_parts(NMSG_MAX_STATE, 1), NMSG_MAX_STATE);
}
END_TEST

/* Splits @p slen bytes into parts of @p chunk as node_send_state does;
 * every part encodes, decodes and lands where its index says; the parts
 * reassemble to the state. */
static void split_join(const uint8_t *state, size_t slen, uint64_t chunk,
                       int kind)
{
    nmsg m, d;
    uint64_t i, parts = nmsg_parts(slen, chunk), seen = 0;
    uint8_t *back = malloc(slen ? slen : 1);
    crdt_buf b;

    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(parts, slen ? (slen + chunk - 1) / chunk : 1);
    memset(back, 0, slen ? slen : 1);
    crdt_buf_init(&b, NULL);
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.cluster = 7;
    m.from = 3;
    m.req = 99;
    m.key = (const uint8_t *)"key";
    m.klen = 3;
    m.total = slen;
    m.chunk = chunk;
    for (i = 0; i < parts; i++) {
        m.index = i;
        m.bytes = state + (slen ? i * m.chunk : 0);
        m.blen = i + 1 < parts ? m.chunk : slen - i * m.chunk;
        b.len = 0;
        tu_must(nmsg_encode(&m, &b), "encode part");
        tu_must(decode_copy(&d, b.data, b.len), "decode part");
        tu_must(nmsg_decode(&d, b.data, b.len), "decode part");
        TU_CHECK(d.total == slen && d.chunk == chunk && d.index == i);
        TU_CHECK(d.index * d.chunk + d.blen <= d.total);
        TU_CHECK(i + 1 == parts || d.blen == chunk);
        if (d.blen)
            memcpy(back + d.index * d.chunk, d.bytes, d.blen);
        seen += d.blen;
        /* the same part claiming another index does not decode (its
         * length gives it away), unless every part has this length */
        if (parts > 1) {
            m.index = (i + 1) % parts;
            b.len = 0;
            tu_must(nmsg_encode(&m, &b), "encode");
            if (m.blen != (m.index + 1 < parts ? chunk
                                               : slen - m.index * chunk))
                expect_bad(b.data, b.len, "a part with a wrong index");
            else
                expect_good(b.data, b.len, "a part of the right length");
            m.index = i;
        }
    }
    TU_CHECK_EQ(seen, slen);
    TU_CHECK(slen == 0 || memcmp(back, state, slen) == 0);
    /* one index past the end */
    m.index = parts;
    m.blen = 0;
    b.len = 0;
    tu_must(nmsg_encode(&m, &b), "encode");
    expect_bad(b.data, b.len, "index == parts");
    crdt_buf_clear(&b);
    free(back);
}

START_TEST(test_nmsg_chunking)
{
    uint64_t seed = tu_seed("nmsg");
    tu_rng r;
    long k, cases = tu_cases(3000) / 10;
    static const uint64_t chunks[] = {1, 2, 3, 7, 100, 1000, 1304};

    tu_rng_init(&r, seed ^ 0xc4c4);
    fill(&r, statebuf, sizeof statebuf);
    for (k = 0; k < (long)(sizeof chunks / sizeof *chunks); k++) {
        uint64_t c = chunks[k];

        split_join(statebuf, 0, c, NMSG_REPL);            /* empty */
        split_join(statebuf, 1, c, NMSG_STATE);
        split_join(statebuf, (size_t)c, c, NMSG_REPL);    /* one full part */
        split_join(statebuf, (size_t)(c * 3), c, NMSG_STATE); /* multiple */
        split_join(statebuf, (size_t)(c * 3 + 1), c, NMSG_REPL);
        split_join(statebuf, (size_t)(c * 3 - 1), c, NMSG_STATE);
    }
    for (k = 0; k < cases; k++) {
        uint64_t c = 1 + tu_below(&r, 2000);
        size_t slen = (size_t)tu_below(&r, 9000);

        if (k % 3 == 0)
            slen = (size_t)(c * tu_below(&r, 5)); /* an exact multiple */
        split_join(statebuf, slen, c, k % 2 ? NMSG_REPL : NMSG_STATE);
    }
}
END_TEST

START_TEST(test_nmsg_is_node)
{
    static const uint8_t gossip[] = {0x96, 0x01, 0x02, 0x03, 0x04, 0x05,
                                     0x06};
    uint8_t d[4];
    unsigned i;

    ck_assert(!nmsg_is_node(NULL, 5));
    ck_assert(!nmsg_is_node(gossip, 0));
    ck_assert(!nmsg_is_node(gossip, 1));
    ck_assert(!nmsg_is_node(gossip, sizeof gossip));
    expect_bad(gossip, sizeof gossip, "a gossip datagram");
    for (i = 0; i < 16; i++) {
        d[0] = (uint8_t)(0x90 | i);
        d[1] = 0x01;
        ck_assert(!nmsg_is_node(d, 2)); /* every gossip start */
        d[1] = NMSG_MARK;
        ck_assert(nmsg_is_node(d, 2));
        ck_assert(!nmsg_is_node(d, 1));
        d[1] = NMSG_MARK - 1;
        ck_assert(!nmsg_is_node(d, 2));
        d[1] = NMSG_MARK + 1;
        ck_assert(!nmsg_is_node(d, 2));
    }
    /* a map, an array16, the mark non-shortest */
    d[0] = 0x85;
    d[1] = NMSG_MARK;
    ck_assert(!nmsg_is_node(d, 2));
    d[0] = 0xdc;
    ck_assert(!nmsg_is_node(d, 2));
    d[0] = 0x95;
    d[1] = 0xcc;
    d[2] = NMSG_MARK;
    ck_assert(!nmsg_is_node(d, 3));
}
END_TEST

START_TEST(test_nmsg_rejects)
{
    uint64_t seed = tu_seed("nmsg");
    tu_rng r;
    crdt_buf b;
    raw w, w0;
    nmsg m;
    int kind, f;
    uint8_t bigkey[NMSG_MAX_KEY + 1];
    static const uint64_t bad_kinds[] = {0, 7, 8, 15, 127, 128, 255,
                                         UINT64_MAX};
    size_t i;

    tu_rng_init(&r, seed ^ 0x7e7e);
    memset(bigkey, 'x', sizeof bigkey);
    crdt_buf_init(&b, NULL);
    for (kind = NMSG_HELLO; kind < NMSG_KINDS; kind++) {
        m = rand_msg(&r, kind);
        /* small fields, so every one has a wider form */
        m.cluster = 5;
        m.from = 300;
        m.req = 70000;
        if (has_part(kind)) {
            m.total = 10;
            m.chunk = 4;
            m.index = 1;
            m.blen = 4;
        }
        if (kind == NMSG_ACK)
            m.status = -5;
        w0 = raw_of(&m);
        put_raw(&b, &w0);
        expect_good(b.data, b.len, "the base message");

        /* wrong mark (shortest form, so that is_node is what rejects) */
        w = w0;
        w.mark = NMSG_MARK + 1;
        put_raw(&b, &w);
        expect_bad(b.data, b.len, "wrong mark");
        w.mark = 1;
        put_raw(&b, &w);
        expect_bad(b.data, b.len, "mark 1 (gossip)");

        /* unknown kinds, with this kind's shape and items */
        for (i = 0; i < sizeof bad_kinds / sizeof *bad_kinds; i++) {
            w = w0;
            w.kind = bad_kinds[i];
            w.shape = kind;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "unknown kind");
        }

        /* wrong item counts: the header off by one, and this kind's
         * fields under another kind's count */
        w = w0;
        w.items = w0.items + 1;
        put_raw(&b, &w);
        expect_bad(b.data, b.len, "items + 1");
        w.items = w0.items - 1;
        put_raw(&b, &w);
        expect_bad(b.data, b.len, "items - 1");
        for (f = NMSG_HELLO; f < NMSG_KINDS; f++) {
            raw o = raw_of(&(nmsg){.kind = f});

            if (o.items == w0.items)
                continue;
            w = w0;
            w.items = o.items;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "another kind's count");
            /* another kind's fields under this kind */
            w = w0;
            w.shape = f;
            w.items = o.items;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "another kind's fields");
        }

        /* every field non-shortest, and the array as array16 */
        for (f = 1; f <= 11; f++) {
            if (f == 6 && !has_key(kind) && kind != NMSG_ACK)
                continue;
            if (f >= 7 && f <= 10 && !has_part(kind))
                continue;
            w = w0;
            w.wide = f;
            put_raw(&b, &w);
            ck_assert_msg(nmsg_decode(&m, b.data, b.len) == CRDT_ERR_DECODE,
                          "kind %d: field %d non-shortest accepted", kind,
                          f);
        }

        if (has_key(kind)) {
            w = w0;
            w.key = bigkey;
            w.klen = 0;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "empty key");
            w.klen = NMSG_MAX_KEY + 1;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "key over NMSG_MAX_KEY");
            w.klen = NMSG_MAX_KEY;
            put_raw(&b, &w);
            expect_good(b.data, b.len, "key of NMSG_MAX_KEY");
            w.klen = 1;
            put_raw(&b, &w);
            expect_good(b.data, b.len, "key of 1 byte");
        }

        if (has_part(kind)) {
            static const uint8_t z[8];

            w = w0;
            w.bytes = z;
            /* chunk 0 (and an empty state) */
            w.total = 0;
            w.chunk = 0;
            w.index = 0;
            w.blen = 0;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "chunk 0");
            w.chunk = 1;
            put_raw(&b, &w);
            expect_good(b.data, b.len, "an empty state");
            w.blen = 1;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "an empty state with a byte");
            w.blen = 0;
            w.index = 1;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "an empty state, index 1");
            /* total 10 in parts of 4: 4, 4, 2 */
            w.total = 10;
            w.chunk = 4;
            for (w.index = 0; w.index < 3; w.index++)
                for (w.blen = 0; w.blen <= 8; w.blen++) {
                    bool ok = w.blen == (w.index < 2 ? 4u : 2u);

                    put_raw(&b, &w);
                    ck_assert_msg(nmsg_decode(&m, b.data, b.len) ==
                                      (ok ? CRDT_OK : CRDT_ERR_DECODE),
                                  "index %d, %zu bytes", (int)w.index,
                                  w.blen);
                }
            w.blen = 2;
            w.index = 3;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "index == parts");
            w.index = UINT64_MAX;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "index UINT64_MAX");
            w.index = (UINT64_MAX / 4) + 1; /* index * chunk wraps to 0 */
            w.blen = 4;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "index * chunk wraps");
            /* total over the limit, as one part */
            w.total = NMSG_MAX_STATE + 1;
            w.chunk = NMSG_MAX_STATE + 1;
            w.index = 0;
            w.blen = 0;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "total over NMSG_MAX_STATE");
            w.total = UINT64_MAX;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "total UINT64_MAX");
            /* a chunk past the largest state */
            w.total = 5;
            w.chunk = NMSG_MAX_STATE + 1;
            w.blen = 5;
            put_raw(&b, &w);
            expect_bad(b.data, b.len, "chunk over NMSG_MAX_STATE");
            w.chunk = NMSG_MAX_STATE;
            put_raw(&b, &w);
            expect_good(b.data, b.len, "chunk of NMSG_MAX_STATE");
        }

        /* trailing bytes */
        put_raw(&b, &w0);
        tu_must(crdt_buf_append(&b, "\x00", 1), "append");
        expect_bad(b.data, b.len, "a trailing byte");
        tu_must(crdt_buf_append(&b, "\xc0\xc0", 2), "append");
        expect_bad(b.data, b.len, "trailing bytes");
    }
    /* not even an array; NULL */
    expect_bad((const uint8_t *)"", 0, "empty");
    expect_bad(NULL, 0, "NULL");
    ck_assert_int_eq(nmsg_decode(NULL, (const uint8_t *)"\x95\x4e", 2),
                     CRDT_ERR_DECODE);
    crdt_buf_clear(&b);
}
END_TEST

START_TEST(test_nmsg_encode_errors)
{
    nmsg m;
    crdt_buf b;
    uint8_t small[8];
    static const int bad[] = {0, -1, NMSG_KINDS, NMSG_KINDS + 1, 1000};
    size_t i;

    memset(&m, 0, sizeof m);
    crdt_buf_init(&b, NULL);
    tu_must(crdt_buf_append(&b, "xy", 2), "append");
    for (i = 0; i < sizeof bad / sizeof *bad; i++) {
        m.kind = bad[i];
        ck_assert_int_eq(nmsg_encode(&m, &b), CRDT_ERR_INVALID_ARG);
        ck_assert_uint_eq(b.len, 2);
    }
    m.kind = NMSG_HELLO;
    ck_assert_int_eq(nmsg_encode(NULL, &b), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nmsg_encode(&m, NULL), CRDT_ERR_INVALID_ARG);
    /* appends after what the buffer holds */
    m.cluster = 1;
    tu_must(nmsg_encode(&m, &b), "encode");
    ck_assert_uint_eq(b.len, 2 + 6);
    ck_assert_int_eq(memcmp(b.data, "xy\x95\x4e\x01\x00\x01\x00", 8), 0);
    crdt_buf_clear(&b);
    /* a fixed buffer too small: CRDT_ERR_BUFFER, length unchanged, at
     * every field boundary */
    m.kind = NMSG_STATE;
    m.cluster = m.from = m.req = UINT64_MAX;
    m.key = (const uint8_t *)"kk";
    m.klen = 2;
    m.total = 3;
    m.chunk = 3;
    m.bytes = (const uint8_t *)"abc";
    m.blen = 3;
    for (i = 0; i < sizeof small; i++) {
        crdt_buf_init_fixed(&b, small, i);
        ck_assert_int_eq(nmsg_encode(&m, &b), CRDT_ERR_BUFFER);
        ck_assert_uint_eq(b.len, 0);
    }
    {
        uint8_t big[64], exact[64];
        size_t n;

        crdt_buf_init_fixed(&b, big, sizeof big);
        tu_must(nmsg_encode(&m, &b), "encode");
        n = b.len;
        for (i = 8; i < n; i++) {
            crdt_buf_init_fixed(&b, exact, i);
            ck_assert_int_eq(nmsg_encode(&m, &b), CRDT_ERR_BUFFER);
            ck_assert_uint_eq(b.len, 0);
        }
        crdt_buf_init_fixed(&b, exact, n);
        tu_must(nmsg_encode(&m, &b), "encode, exact size");
        ck_assert_int_eq(memcmp(exact, big, n), 0);
    }
}
END_TEST

/* Random mutations of valid encodings: never a crash (valgrind / ASan
 * see any over-read: each input is an exact-size copy), and whatever
 * decodes re-encodes to exactly itself. */
START_TEST(test_nmsg_mutations)
{
    uint64_t seed = tu_seed("nmsg");
    long cases = tu_cases(3000) * 2, k, accepted = 0;
    tu_rng r;
    crdt_buf b, e;
    static const uint8_t interesting[] = {0x00, 0x01, 0x04, 0x05, 0x06,
                                          0x07, 0x0a, 0x4e, 0x7f, 0x80,
                                          0x90, 0x95, 0x96, 0x9a, 0xc4,
                                          0xc5, 0xc6, 0xcc, 0xcd, 0xce,
                                          0xcf, 0xd0, 0xd3, 0xdc, 0xe0,
                                          0xff};

    tu_rng_init(&r, seed ^ 0x3a3a);
    crdt_buf_init(&b, NULL);
    crdt_buf_init(&e, NULL);
    for (k = 0; k < cases; k++) {
        int kind = (int)tu_below(&r, NMSG_KINDS - 1) + 1;
        nmsg m = rand_msg(&r, kind), d;
        unsigned n, j;

        if (has_part(kind) && m.blen > 64) {
            /* small states: mutations land on the fields more often */
            m.total = tu_below(&r, 64);
            m.chunk = 1 + tu_below(&r, 16);
            m.index = tu_below(&r, nmsg_parts(m.total, m.chunk));
            m.blen = m.index + 1 < nmsg_parts(m.total, m.chunk)
                         ? m.chunk
                         : m.total - m.index * m.chunk;
        }
        if (has_key(kind) && m.klen > 40 && tu_below(&r, 4))
            m.klen = 1 + tu_below(&r, 8);
        b.len = 0;
        tu_must_k(nmsg_encode(&m, &b), "encode", k);
        n = 1 + (unsigned)tu_below(&r, 4);
        for (j = 0; j < n; j++) {
            size_t at = b.len ? (size_t)tu_below(&r, b.len) : 0;
            uint8_t v = tu_below(&r, 2)
                            ? interesting[tu_below(&r, sizeof interesting)]
                            : (uint8_t)tu_rand(&r);

            switch (tu_below(&r, 6)) {
            case 0: /* flip a bit */
                if (b.len)
                    b.data[at] ^= (uint8_t)(1u << tu_below(&r, 8));
                break;
            case 1:
            case 2: /* set a byte */
                if (b.len)
                    b.data[at] = v;
                break;
            case 3: /* insert a byte */
                tu_must_k(crdt_buf_append(&b, "", 1), "append", k);
                memmove(b.data + at + 1, b.data + at, b.len - 1 - at);
                b.data[at] = v;
                break;
            case 4: /* delete a byte */
                if (b.len) {
                    memmove(b.data + at, b.data + at + 1, b.len - at - 1);
                    b.len--;
                }
                break;
            default: /* truncate */
                b.len = at;
                break;
            }
        }
        if (decode_copy(&d, b.data, b.len) != CRDT_OK)
            continue;
        accepted++;
        tu_must_k(nmsg_decode(&d, b.data, b.len), "decode", k);
        tu_expect_k(d.kind >= NMSG_HELLO && d.kind < NMSG_KINDS, "kind", k);
        if (has_key(d.kind))
            tu_expect_k(d.klen >= 1 && d.klen <= NMSG_MAX_KEY, "klen", k);
        if (has_part(d.kind))
            tu_expect_k(d.total <= NMSG_MAX_STATE && d.chunk >= 1 &&
                            d.index < nmsg_parts(d.total, d.chunk) &&
                            d.index * d.chunk + d.blen <= d.total,
                        "part in range", k);
        e.len = 0;
        tu_must_k(nmsg_encode(&d, &e), "re-encode", k);
        tu_expect_k(bytes_eq(b.data, b.len, e.data, e.len),
                    "an accepted mutation is not canonical", k);
    }
    /* some mutations survive (a changed field value): the check above
     * ran */
    ck_assert_int_gt(accepted, 0);
    crdt_buf_clear(&b);
    crdt_buf_clear(&e);
}
END_TEST

/* ---------------------------------------------------------------- mp.h */

/* npart: parts in any order, repeats ignored, whole exactly once. */
START_TEST(test_npart_reassembles)
{
    uint8_t state[1000], key[] = "k";
    nmsg m, other;
    npart p;
    size_t i, order[] = {3, 0, 3, 2, 1}, nparts;
    bool whole = false;

    for (i = 0; i < sizeof state; i++)
        state[i] = (uint8_t)(i * 7 + 1);
    memset(&m, 0, sizeof m);
    m.kind = NMSG_STATE;
    m.key = key;
    m.klen = 1;
    m.total = sizeof state;
    m.chunk = 300;
    nparts = (size_t)nmsg_parts(m.total, m.chunk);
    ck_assert_uint_eq(nparts, 4);
    ck_assert_uint_eq(npart_cost(&m), 1000 + 0 + 1 + 1);
    ck_assert_int_eq(npart_init(&p, &m), CRDT_OK);
    other = m;
    other.total = 999;
    ck_assert(!npart_matches(&p, &other));
    other = m;
    other.key = (const uint8_t *)"j";
    ck_assert(!npart_matches(&p, &other));
    for (i = 0; i < sizeof order / sizeof order[0]; i++) {
        m.index = order[i];
        m.bytes = state + m.index * m.chunk;
        m.blen = m.index + 1 < nparts ? m.chunk
                                      : m.total - m.index * m.chunk;
        ck_assert(npart_matches(&p, &m));
        ck_assert(!whole);
        whole = npart_add(&p, &m);
    }
    ck_assert(whole);
    ck_assert_uint_eq(p.got, 4);
    ck_assert_mem_eq(p.data, state, sizeof state);
    ck_assert(npart_add(&p, &m)); /* a repeat changes nothing */
    ck_assert_uint_eq(p.got, 4);
    npart_clear(&p);
    ck_assert_ptr_null(p.data);
}
END_TEST

START_TEST(test_mp_uint)
{
    static const struct {
        uint64_t v;
        size_t len;
    } t[] = {{0, 1},          {1, 1},           {127, 1},
             {128, 2},        {255, 2},         {256, 3},
             {65535, 3},      {65536, 5},       {0xffffffffu, 5},
             {0x100000000ull, 9}, {UINT64_MAX, 9}};
    crdt_buf b;
    mpr r;
    uint64_t v;
    int64_t s;
    size_t i;

    crdt_buf_init(&b, NULL);
    for (i = 0; i < sizeof t / sizeof *t; i++) {
        b.len = 0;
        tu_must(mpw_uint(&b, t[i].v), "mpw_uint");
        ck_assert_uint_eq(b.len, t[i].len);
        mpr_init(&r, b.data, b.len);
        ck_assert(mpr_uint(&r, &v));
        ck_assert_uint_eq(v, t[i].v);
        ck_assert(r.p == r.end);
        /* as a signed integer: the same, up to INT64_MAX */
        mpr_init(&r, b.data, b.len);
        if (t[i].v <= INT64_MAX) {
            ck_assert(mpr_int(&r, &s));
            ck_assert_uint_eq((uint64_t)s, t[i].v);
            ck_assert(r.p == r.end);
        } else
            ck_assert(!mpr_int(&r, &s));
        /* mpw_int writes non-negatives as mpw_uint */
        if (t[i].v <= INT64_MAX) {
            crdt_buf c;

            crdt_buf_init(&c, NULL);
            tu_must(mpw_int(&c, (int64_t)t[i].v), "mpw_int");
            ck_assert(bytes_eq(b.data, b.len, c.data, c.len));
            crdt_buf_clear(&c);
        }
        /* every truncation fails */
        mpr_init(&r, b.data, b.len - 1);
        ck_assert(!mpr_uint(&r, &v));
    }
    /* INT64_MAX as a signed read; 2^63 is not */
    b.len = 0;
    tu_must(mpw_uint(&b, (uint64_t)INT64_MAX + 1), "mpw_uint");
    mpr_init(&r, b.data, b.len);
    ck_assert(!mpr_int(&r, &s));
    b.len = 0;
    tu_must(mpw_int(&b, INT64_MAX), "mpw_int");
    mpr_init(&r, b.data, b.len);
    ck_assert(mpr_int(&r, &s));
    ck_assert(s == INT64_MAX);
    crdt_buf_clear(&b);
}
END_TEST

START_TEST(test_mp_int)
{
    static const struct {
        int64_t v;
        size_t len;
    } t[] = {{-1, 1},
             {-32, 1},
             {-33, 2},
             {-128, 2},
             {-129, 3},
             {INT16_MIN, 3},
             {INT16_MIN - 1, 5},
             {INT32_MIN, 5},
             {(int64_t)INT32_MIN - 1, 9},
             {INT64_MIN + 1, 9},
             {INT64_MIN, 9}};
    crdt_buf b;
    mpr r;
    int64_t v;
    uint64_t u;
    size_t i;

    crdt_buf_init(&b, NULL);
    for (i = 0; i < sizeof t / sizeof *t; i++) {
        b.len = 0;
        tu_must(mpw_int(&b, t[i].v), "mpw_int");
        ck_assert_uint_eq(b.len, t[i].len);
        mpr_init(&r, b.data, b.len);
        ck_assert(mpr_int(&r, &v));
        ck_assert_msg(v == t[i].v, "read %lld for %lld", (long long)v,
                      (long long)t[i].v);
        ck_assert(r.p == r.end);
        /* not an unsigned integer */
        mpr_init(&r, b.data, b.len);
        ck_assert(!mpr_uint(&r, &u));
        mpr_init(&r, b.data, b.len - 1);
        ck_assert(!mpr_int(&r, &v));
    }
    crdt_buf_clear(&b);
}
END_TEST

/* One reader call over hand-written bytes. */
enum { R_UINT, R_INT, R_ARRAY, R_BIN };

static bool read1(int what, const uint8_t *d, size_t len)
{
    mpr r;
    uint64_t u;
    int64_t s;
    const uint8_t *p;
    size_t n;
    bool ok;

    mpr_init(&r, d, len);
    switch (what) {
    case R_UINT: ok = mpr_uint(&r, &u); break;
    case R_INT: ok = mpr_int(&r, &s); break;
    case R_ARRAY: ok = mpr_array(&r, &u); break;
    default:
        ok = mpr_bin(&r, &p, &n);
        if (ok)
            ok = r.p == r.end && p + n == r.end;
        return ok;
    }
    return ok;
}

START_TEST(test_mp_shortest)
{
    static const struct {
        int what;
        const char *bytes;
        size_t len;
        bool ok;
    } t[] = {
        /* unsigned: each form just below and at its range */
        {R_UINT, "\xcc\x00", 2, false},
        {R_UINT, "\xcc\x7f", 2, false},
        {R_UINT, "\xcc\x80", 2, true},
        {R_UINT, "\xcd\x00\xff", 3, false},
        {R_UINT, "\xcd\x01\x00", 3, true},
        {R_UINT, "\xce\x00\x00\xff\xff", 5, false},
        {R_UINT, "\xce\x00\x01\x00\x00", 5, true},
        {R_UINT, "\xcf\x00\x00\x00\x00\xff\xff\xff\xff", 9, false},
        {R_UINT, "\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 9, true},
        {R_UINT, "\xcf\x00\x00\x00\x00\x00\x00\x00\x00", 9, false},
        {R_UINT, "\xd0\x01", 2, false},
        {R_UINT, "\xff", 1, false},
        {R_UINT, "\xc0", 1, false},
        {R_UINT, "", 0, false},
        /* signed */
        {R_INT, "\xd0\xe0", 2, false}, /* -32 */
        {R_INT, "\xd0\xdf", 2, true},  /* -33 */
        {R_INT, "\xd0\x00", 2, false}, /* 0 */
        {R_INT, "\xd0\x7f", 2, false}, /* 127 */
        {R_INT, "\xd1\xff\x80", 3, false}, /* -128 */
        {R_INT, "\xd1\xff\x7f", 3, true},  /* -129 */
        {R_INT, "\xd1\x01\x00", 3, false}, /* 256 */
        {R_INT, "\xd2\xff\xff\x80\x00", 5, false}, /* INT16_MIN */
        {R_INT, "\xd2\xff\xff\x7f\xff", 5, true},  /* INT16_MIN - 1 */
        {R_INT, "\xd2\x00\x01\x00\x00", 5, false}, /* 65536 */
        {R_INT, "\xd3\xff\xff\xff\xff\x80\x00\x00\x00", 9, false},
        {R_INT, "\xd3\xff\xff\xff\xff\x7f\xff\xff\xff", 9, true},
        {R_INT, "\xd3\x00\x00\x00\x00\x00\x00\x00\x01", 9, false},
        {R_INT, "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9, true},
        {R_INT, "\xcc\x7f", 2, false},
        {R_INT, "\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 9, false},
        {R_INT, "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9, true},
        {R_INT, "\xd1\xff", 2, false},
        {R_INT, "", 0, false},
        /* arrays (the count must fit the bytes left) */
        {R_ARRAY, "\x90", 1, true},
        {R_ARRAY, "\x91", 1, false},
        {R_ARRAY, "\x91\x00", 2, true},
        {R_ARRAY, "\xdc\x00\x00", 3, false},
        {R_ARRAY, "\xdc\x00\x0f" "0123456789abcde", 18, false},
        {R_ARRAY, "\xdc\x00\x10" "0123456789abcdef", 19, true},
        {R_ARRAY, "\xdc\x00\x10" "0123456789abcde", 18, false},
        {R_ARRAY, "\xdd\x00\x00\xff\xff", 5, false},
        {R_ARRAY, "\xdd\x00\x01\x00\x00", 5, false}, /* count > bytes */
        {R_ARRAY, "\xdd\xff\xff\xff\xff", 5, false},
        {R_ARRAY, "\x80", 1, false},
        {R_ARRAY, "\xdc\x00", 2, false},
        /* bins */
        {R_BIN, "\xc4\x00", 2, true},
        {R_BIN, "\xc4\x01", 2, false},
        {R_BIN, "\xc4\x02xy", 4, true},
        {R_BIN, "\xc5\x00\x02xy", 5, false},
        {R_BIN, "\xc5\x00\xff", 3, false},
        {R_BIN, "\xc6\x00\x00\x00\x02xy", 7, false},
        {R_BIN, "\xc6\xff\xff\xff\xff", 5, false},
        {R_BIN, "\xa2xy", 3, false}, /* a str is not a bin */
        {R_BIN, "\xc4", 1, false},
    };
    size_t i;

    for (i = 0; i < sizeof t / sizeof *t; i++)
        ck_assert_msg(read1(t[i].what, (const uint8_t *)t[i].bytes,
                            t[i].len) == t[i].ok,
                      "case %zu: %s", i, t[i].ok ? "rejected" : "accepted");
}
END_TEST

START_TEST(test_mp_lengths)
{
    static const size_t lens[] = {0, 1, 15, 16, 255, 256, 65535, 65536,
                                  70000};
    static const size_t hdr_bin[] = {2, 2, 2, 2, 2, 3, 3, 5, 5};
    static const size_t hdr_arr[] = {1, 1, 1, 3, 3, 3, 3, 5, 5};
    uint8_t *data = calloc(70000, 1);
    crdt_buf b;
    mpr r;
    const uint8_t *p;
    size_t i, n;
    uint64_t u;

    ck_assert_ptr_nonnull(data);
    crdt_buf_init(&b, NULL);
    for (i = 0; i < sizeof lens / sizeof *lens; i++) {
        b.len = 0;
        tu_must(mpw_bin(&b, data, lens[i]), "mpw_bin");
        ck_assert_uint_eq(b.len, hdr_bin[i] + lens[i]);
        mpr_init(&r, b.data, b.len);
        ck_assert(mpr_bin(&r, &p, &n));
        ck_assert_uint_eq(n, lens[i]);
        ck_assert(p == b.data + hdr_bin[i] && r.p == r.end);
        mpr_init(&r, b.data, b.len - 1);
        ck_assert(!mpr_bin(&r, &p, &n));

        /* an array header, followed by that many 1-byte elements */
        b.len = 0;
        tu_must(mpw_array(&b, lens[i]), "mpw_array");
        ck_assert_uint_eq(b.len, hdr_arr[i]);
        tu_must(crdt_buf_append(&b, data, lens[i]), "append");
        mpr_init(&r, b.data, b.len);
        ck_assert(mpr_array(&r, &u));
        ck_assert_uint_eq(u, lens[i]);
        if (lens[i]) {
            mpr_init(&r, b.data, b.len - 1);
            ck_assert(!mpr_array(&r, &u));
        }
    }
    crdt_buf_clear(&b);
    free(data);
}
END_TEST

static Suite *nmsg_suite(void)
{
    Suite *s = suite_create("nmsg");
    TCase *tc = tcase_create("nmsg");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_nmsg_roundtrip);
    tcase_add_test(tc, test_nmsg_largest);
    tcase_add_test(tc, test_nmsg_parts);
    tcase_add_test(tc, test_nmsg_chunking);
    tcase_add_test(tc, test_nmsg_is_node);
    tcase_add_test(tc, test_nmsg_rejects);
    tcase_add_test(tc, test_nmsg_encode_errors);
    tcase_add_test(tc, test_nmsg_mutations);
    tcase_add_test(tc, test_npart_reassembles);
    tcase_add_test(tc, test_mp_uint);
    tcase_add_test(tc, test_mp_int);
    tcase_add_test(tc, test_mp_shortest);
    tcase_add_test(tc, test_mp_lengths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(nmsg_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
