/* SPDX-License-Identifier: MIT */
/*
 * The crdt-node client protocol (crdt/client.h): names, the request and
 * reply codec (round trips of every op and field, every decode error,
 * liberal integers, unknown keys, random mutations of valid messages),
 * framing, and the blocking client against a small server thread on a
 * Unix socket in a mkdtemp directory.  Every wait is bounded.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <crdt/client.h>
#include <crdt/codec.h>

#include "testutil.h"

/* ---------------------------------------------- a test-side msgpack writer */

/* Writes MessagePack in whatever form a test asks for (widths included),
 * so that decode is fed encodings our encoder never makes. */
typedef struct mb {
    uint8_t b[4096];
    size_t n;
} mb;

static void mb_raw(mb *m, const void *p, size_t n)
{
    ck_assert_uint_le(m->n + n, sizeof m->b);
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void mb_byte(mb *m, uint8_t b)
{
    mb_raw(m, &b, 1);
}

static void mb_be(mb *m, uint64_t v, int w)
{
    int i;

    for (i = w - 1; i >= 0; i--)
        mb_byte(m, (uint8_t)(v >> (8 * i)));
}

static void mb_map(mb *m, unsigned n)
{
    mb_byte(m, (uint8_t)(0x80 | n));
}

static void mb_str(mb *m, const char *s)
{
    size_t n = strlen(s);

    ck_assert_uint_lt(n, 32);
    mb_byte(m, (uint8_t)(0xa0 | n));
    mb_raw(m, s, n);
}

static void mb_bin(mb *m, const void *p, size_t n)
{
    ck_assert_uint_le(n, 255);
    mb_byte(m, 0xc4);
    mb_byte(m, (uint8_t)n);
    mb_raw(m, p, n);
}

/* An unsigned integer in the form tag (0: positive fixint). */
static void mb_uint_as(mb *m, uint64_t v, uint8_t tag)
{
    static const int w[] = {1, 2, 4, 8, 1, 2, 4, 8};

    if (tag == 0) {
        mb_byte(m, (uint8_t)v);
        return;
    }
    mb_byte(m, tag);
    mb_be(m, v, w[tag - 0xcc]);
}

static void mb_uint(mb *m, uint64_t v)
{
    mb_uint_as(m, v, v < 128 ? 0 : 0xcf);
}

/* "v":1, "id":id, "op":op as the first three entries of a map of n. */
static void mb_req_head(mb *m, unsigned n, uint64_t id, const char *op)
{
    m->n = 0;
    mb_map(m, n);
    mb_str(m, "v");
    mb_uint(m, 1);
    mb_str(m, "id");
    mb_uint(m, id);
    mb_str(m, "op");
    mb_str(m, op);
}

static void mb_rep_head(mb *m, unsigned n, uint64_t id, bool ok)
{
    m->n = 0;
    mb_map(m, n);
    mb_str(m, "v");
    mb_uint(m, 1);
    mb_str(m, "id");
    mb_uint(m, id);
    mb_str(m, "ok");
    mb_byte(m, ok ? 0xc3 : 0xc2);
}

/* ----------------------------------------------------------- comparisons */

static bool view_eq(const void *a, size_t al, const void *b, size_t bl)
{
    if (!a || !b)
        return a == b && al == 0 && bl == 0;
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static bool req_eq(const crdt_client_request *a, const crdt_client_request *b)
{
    return a->id == b->id && a->op == b->op && a->by == b->by &&
           a->level == b->level && a->timeout_ms == b->timeout_ms &&
           view_eq(a->key, a->klen, b->key, b->klen) &&
           view_eq(a->type, a->typelen, b->type, b->typelen) &&
           view_eq(a->value, a->vlen, b->value, b->vlen) &&
           view_eq(a->token, a->tlen, b->token, b->tlen);
}

static bool rep_eq(const crdt_client_reply *a, const crdt_client_reply *b)
{
    return a->id == b->id && a->ok == b->ok && a->err == b->err &&
           a->deleted == b->deleted && a->acks == b->acks &&
           view_eq(a->msg, a->msglen, b->msg, b->msglen) &&
           view_eq(a->type, a->typelen, b->type, b->typelen) &&
           view_eq(a->state, a->slen, b->state, b->slen) &&
           view_eq(a->token, a->tlen, b->token, b->tlen) &&
           view_eq(a->status, a->statuslen, b->status, b->statuslen);
}

/* A request or reply full of garbage, to see that failures leave it. */
static void fill(void *p, size_t n)
{
    memset(p, 0x5a, n);
}

static void expect_req_error(const uint8_t *d, size_t n, int code,
                             const char *what)
{
    crdt_client_request rq, before;

    fill(&rq, sizeof rq);
    before = rq;
    ck_assert_msg(crdt_client_request_decode(&rq, d, n) == code,
                  "%s: got %d, want %d", what,
                  crdt_client_request_decode(&rq, d, n), code);
    ck_assert_msg(memcmp(&rq, &before, sizeof rq) == 0, "%s: written", what);
}

static void expect_rep_error(const uint8_t *d, size_t n, int code,
                             const char *what)
{
    crdt_client_reply rp, before;

    fill(&rp, sizeof rp);
    before = rp;
    ck_assert_msg(crdt_client_reply_decode(&rp, d, n) == code,
                  "%s: got %d, want %d", what,
                  crdt_client_reply_decode(&rp, d, n), code);
    ck_assert_msg(memcmp(&rp, &before, sizeof rp) == 0, "%s: written", what);
}

/* ================================================================ names */

START_TEST(test_client_names_roundtrip)
{
    int i;

    for (i = CRDT_OP_INC; i <= CRDT_OP_STATUS; i++) {
        const char *s = crdt_client_op_name(i);

        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(crdt_client_op_parse(s, strlen(s)), i);
    }
    for (i = CRDT_LEVEL_LOCAL; i <= CRDT_LEVEL_ALL; i++) {
        const char *s = crdt_level_name(i);

        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(crdt_level_parse(s, strlen(s)), i);
    }
    ck_assert_str_eq(crdt_client_op_name(CRDT_OP_REMOVE), "remove");
    ck_assert_str_eq(crdt_level_name(CRDT_LEVEL_QUORUM), "quorum");
    ck_assert_ptr_null(crdt_client_op_name(0));
    ck_assert_ptr_null(crdt_client_op_name(11));
    ck_assert_ptr_null(crdt_client_op_name(-1));
    ck_assert_ptr_null(crdt_level_name(0));
    ck_assert_ptr_null(crdt_level_name(5));
    ck_assert_int_eq(crdt_client_op_parse("Inc", 3), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_op_parse("incx", 4), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_op_parse("in", 2), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_op_parse("", 0), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_op_parse(NULL, 0), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_op_parse(NULL, 3), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_level_parse("one", 2), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_level_parse("ALL", 3), CRDT_ERR_INVALID_ARG);
}
END_TEST

/* ========================================================== round trips */

static uint8_t big[70000];

static void fill_big(void)
{
    size_t i;

    for (i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + 3);
}

static void roundtrip_req(const crdt_client_request *rq)
{
    crdt_client_request back, again;
    crdt_buf b, b2;

    crdt_buf_init(&b, NULL);
    crdt_buf_init(&b2, NULL);
    tu_must(crdt_client_request_encode(rq, &b), "request_encode");
    fill(&back, sizeof back);
    tu_must(crdt_client_request_decode(&back, b.data, b.len),
            "request_decode");
    ck_assert_msg(req_eq(rq, &back), "op %d: fields differ", rq->op);
    /* canonical: re-encoding gives the same bytes */
    tu_must(crdt_client_request_encode(&back, &b2), "re-encode");
    ck_assert_uint_eq(b.len, b2.len);
    ck_assert(memcmp(b.data, b2.data, b.len) == 0);
    /* views point into the input */
    if (back.key)
        ck_assert(back.key > b.data && back.key < b.data + b.len);
    fill(&again, sizeof again);
    crdt_buf_clear(&b);
    crdt_buf_clear(&b2);
}

START_TEST(test_client_codec_request_every_op)
{
    static const char *const types[] = {"gcounter", "pncounter", "lww",
                                        "mvreg",    "orset",     "gset",
                                        "ewflag",   "dwflag"};
    static const uint64_t ids[] = {0, 1, 127, 128, 255, 256, 65535, 65536,
                                   UINT32_MAX, (uint64_t)UINT32_MAX + 1,
                                   UINT64_MAX};
    static const uint32_t timeouts[] = {0, 1, 5000, 65536,
                                        CRDT_CLIENT_MAX_TIMEOUT_MS};
    static const size_t lens[] = {1, 31, 32, 255, 256, 1024};
    crdt_client_request rq;
    int op, lvl;
    size_t i;

    fill_big();
    for (op = CRDT_OP_INC; op <= CRDT_OP_STATUS; op++) {
        for (lvl = CRDT_LEVEL_LOCAL; lvl <= CRDT_LEVEL_ALL; lvl++) {
            for (i = 0; i < sizeof ids / sizeof *ids; i++) {
                crdt_client_request_init(&rq, op);
                rq.id = ids[i];
                rq.level = lvl;
                rq.timeout_ms = timeouts[i % 5];
                rq.by = ids[(i + 3) % 11];
                if (op != CRDT_OP_INC && op != CRDT_OP_DEC)
                    rq.by = 1; /* only inc/dec carry "by" */
                rq.key = big + i;
                rq.klen = lens[i % 6];
                if (op == CRDT_OP_STATUS && i % 2)
                    rq.key = NULL, rq.klen = 0;
                if (i % 3) {
                    rq.type = types[i % 8];
                    rq.typelen = strlen(rq.type);
                }
                if (op == CRDT_OP_SET || op == CRDT_OP_ADD ||
                    op == CRDT_OP_REMOVE) {
                    static const size_t vl[] = {0, 1, 300, 70000};

                    rq.value = big;
                    rq.vlen = vl[i % 4];
                }
                if (i % 2 == 0) {
                    rq.token = big + 100;
                    rq.tlen = i * 5;
                }
                roundtrip_req(&rq);
            }
        }
    }
    /* an empty type string is kept (present, not NULL) */
    crdt_client_request_init(&rq, CRDT_OP_GET);
    rq.key = (const uint8_t *)"k";
    rq.klen = 1;
    rq.type = "";
    roundtrip_req(&rq);
}
END_TEST

START_TEST(test_client_codec_request_encode_errors)
{
    crdt_client_request rq;
    crdt_buf b;
    uint8_t fixed[8];

    crdt_buf_init(&b, NULL);
#define BAD(code)                                                          \
    do {                                                                   \
        ck_assert_int_eq(crdt_client_request_encode(&rq, &b), code);       \
        ck_assert_uint_eq(b.len, 0);                                       \
    } while (0)
    crdt_client_request_init(&rq, CRDT_OP_GET);
    BAD(CRDT_ERR_INVALID_ARG); /* no key */
    rq.key = (const uint8_t *)"k";
    rq.klen = 0;
    BAD(CRDT_ERR_INVALID_ARG);
    rq.klen = CRDT_CLIENT_MAX_KEY + 1;
    BAD(CRDT_ERR_INVALID_ARG);
    rq.klen = 1;
    rq.op = 0;
    BAD(CRDT_ERR_INVALID_ARG);
    rq.op = 11;
    BAD(CRDT_ERR_INVALID_ARG);
    rq.op = CRDT_OP_GET;
    rq.level = 0;
    BAD(CRDT_ERR_INVALID_ARG);
    rq.level = CRDT_LEVEL_ALL;
    rq.timeout_ms = CRDT_CLIENT_MAX_TIMEOUT_MS + 1;
    BAD(CRDT_ERR_INVALID_ARG);
    rq.timeout_ms = 1;
    rq.tlen = 3; /* NULL token with a length */
    BAD(CRDT_ERR_INVALID_ARG);
    rq.tlen = 0;
    rq.typelen = 2;
    BAD(CRDT_ERR_INVALID_ARG);
    rq.typelen = 0;
    rq.op = CRDT_OP_SET; /* no value */
    BAD(CRDT_ERR_INVALID_ARG);
    rq.op = CRDT_OP_ADD;
    BAD(CRDT_ERR_INVALID_ARG);
    rq.value = (const uint8_t *)"";
    tu_must(crdt_client_request_encode(&rq, &b), "encode");
    ck_assert_int_eq(crdt_client_request_encode(NULL, &b),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_request_encode(&rq, NULL),
                     CRDT_ERR_INVALID_ARG);
    crdt_buf_clear(&b);
    /* a fixed buffer too small: BUFFER, nothing written */
    crdt_buf_init_fixed(&b, fixed, sizeof fixed);
    ck_assert_int_eq(crdt_client_request_encode(&rq, &b), CRDT_ERR_BUFFER);
    ck_assert_uint_eq(b.len, 0);
    /* a value too big for one message */
    {
        static uint8_t huge[CRDT_CLIENT_MAX_MESSAGE];

        crdt_buf_init(&b, NULL);
        rq.value = huge;
        rq.vlen = sizeof huge;
        ck_assert_int_eq(crdt_client_request_encode(&rq, &b),
                         CRDT_ERR_LIMIT);
        ck_assert_uint_eq(b.len, 0);
        crdt_buf_clear(&b);
    }
#undef BAD
}
END_TEST

static void roundtrip_rep(const crdt_client_reply *rp)
{
    crdt_client_reply back;
    crdt_buf b, b2;

    crdt_buf_init(&b, NULL);
    crdt_buf_init(&b2, NULL);
    tu_must(crdt_client_reply_encode(rp, &b), "reply_encode");
    fill(&back, sizeof back);
    tu_must(crdt_client_reply_decode(&back, b.data, b.len), "reply_decode");
    ck_assert(rep_eq(rp, &back));
    tu_must(crdt_client_reply_encode(&back, &b2), "re-encode");
    ck_assert_uint_eq(b.len, b2.len);
    ck_assert(memcmp(b.data, b2.data, b.len) == 0);
    crdt_buf_clear(&b);
    crdt_buf_clear(&b2);
}

START_TEST(test_client_codec_reply_every_field)
{
    static const int errs[] = {-1, -15, -32, -33, -128, -129, -32768,
                               -32769, -99999, INT32_MIN};
    static const uint32_t acks[] = {0, 1, 200, 70000, UINT32_MAX};
    crdt_client_reply rp;
    int i;

    fill_big();
    for (i = 0; i < 40; i++) {
        crdt_client_reply_init(&rp);
        rp.id = (uint64_t)i * 0x0123456789abcdefULL;
        rp.ok = i % 3 != 0;
        if (!rp.ok) {
            rp.err = errs[i % 10];
            if (i % 2) {
                rp.msg = "no such key: it was never written";
                rp.msglen = strlen(rp.msg);
            }
        }
        if (i % 4 != 1) {
            rp.type = "orset";
            rp.typelen = 5;
        }
        if (i % 5 != 2) {
            rp.state = big;
            rp.slen = (size_t)(i * 1777) % sizeof big;
        }
        rp.deleted = i % 7 == 3;
        rp.acks = acks[i % 5];
        if (i % 2 == 0) {
            rp.token = big + 5;
            rp.tlen = (size_t)i;
        }
        if (i % 6 == 5) {
            rp.status = "{\"node\":\"a\",\"peers\":[]}";
            rp.statuslen = strlen(rp.status);
        }
        roundtrip_rep(&rp);
    }
    /* an empty state, token and status are kept present */
    crdt_client_reply_init(&rp);
    rp.state = big;
    rp.token = big;
    rp.status = "";
    roundtrip_rep(&rp);
}
END_TEST

START_TEST(test_client_codec_reply_encode_errors)
{
    crdt_client_reply rp;
    crdt_buf b;

    crdt_buf_init(&b, NULL);
    crdt_client_reply_init(&rp);
    rp.ok = false; /* err must be negative */
    ck_assert_int_eq(crdt_client_reply_encode(&rp, &b), CRDT_ERR_INVALID_ARG);
    rp.err = 3;
    ck_assert_int_eq(crdt_client_reply_encode(&rp, &b), CRDT_ERR_INVALID_ARG);
    rp.err = CRDT_ERR_NOT_FOUND;
    rp.msglen = 4;
    ck_assert_int_eq(crdt_client_reply_encode(&rp, &b), CRDT_ERR_INVALID_ARG);
    rp.msglen = 0;
    rp.slen = 1;
    ck_assert_int_eq(crdt_client_reply_encode(&rp, &b), CRDT_ERR_INVALID_ARG);
    rp.slen = 0;
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(crdt_client_reply_encode(NULL, &b), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_reply_encode(&rp, NULL), CRDT_ERR_INVALID_ARG);
    tu_must(crdt_client_reply_encode(&rp, &b), "encode");
    crdt_buf_clear(&b);
}
END_TEST

/* ====================================================== liberal decoding */

START_TEST(test_client_decode_any_int_width)
{
    static const uint8_t utags[] = {0, 0xcc, 0xcd, 0xce, 0xcf,
                                    0xd0, 0xd1, 0xd2, 0xd3};
    crdt_client_request rq;
    crdt_client_reply rp;
    size_t i;
    mb m;

    for (i = 0; i < sizeof utags; i++) {
        /* v, id, by, timeout_ms each in the width utags[i] */
        m.n = 0;
        mb_map(&m, 6);
        mb_str(&m, "timeout_ms");
        mb_uint_as(&m, 77, utags[i]);
        mb_str(&m, "by");
        mb_uint_as(&m, 9, utags[i]);
        mb_str(&m, "key");
        mb_str(&m, "k"); /* a str key is fine too */
        mb_str(&m, "op");
        mb_str(&m, "inc");
        mb_str(&m, "id");
        mb_uint_as(&m, 42, utags[i]);
        mb_str(&m, "v");
        mb_uint_as(&m, 1, utags[i]);
        fill(&rq, sizeof rq);
        tu_must(crdt_client_request_decode(&rq, m.b, m.n), "decode");
        ck_assert_uint_eq(rq.id, 42);
        ck_assert_uint_eq(rq.by, 9);
        ck_assert_uint_eq(rq.timeout_ms, 77);
        ck_assert_int_eq(rq.op, CRDT_OP_INC);
        ck_assert_int_eq(rq.level, CRDT_LEVEL_ONE);
        ck_assert(view_eq(rq.key, rq.klen, "k", 1));
        ck_assert_ptr_null(rq.type);
        ck_assert_ptr_null(rq.token);
        ck_assert_ptr_null(rq.value);

        /* a reply's err as every signed width, acks every width */
        mb_rep_head(&m, 6, 7, false);
        mb_str(&m, "acks");
        mb_uint_as(&m, 3, utags[i]);
        mb_str(&m, "err");
        if (utags[i] < 0xd0) {
            mb_byte(&m, 0xf1); /* -15 as negative fixint */
        } else {
            static const int w[] = {1, 2, 4, 8};

            mb_byte(&m, utags[i]);
            mb_be(&m, (uint64_t)(int64_t)-15, w[utags[i] - 0xd0]);
        }
        mb_str(&m, "msg");
        mb_str(&m, "late");
        fill(&rp, sizeof rp);
        tu_must(crdt_client_reply_decode(&rp, m.b, m.n), "reply decode");
        ck_assert_int_eq(rp.err, CRDT_ERR_TIMEOUT);
        ck_assert_uint_eq(rp.acks, 3);
        ck_assert(!rp.ok);
        ck_assert(view_eq(rp.msg, rp.msglen, "late", 4));
    }
    /* the largest values of each field */
    mb_req_head(&m, 5, UINT64_MAX, "dec");
    mb_str(&m, "key");
    mb_bin(&m, "x", 1);
    mb_str(&m, "by");
    mb_uint_as(&m, UINT64_MAX, 0xcf);
    ck_assert_int_eq(crdt_client_request_decode(&rq, m.b, m.n), CRDT_OK);
    ck_assert_uint_eq(rq.id, UINT64_MAX);
    ck_assert_uint_eq(rq.by, UINT64_MAX);
}
END_TEST

START_TEST(test_client_decode_unknown_keys)
{
    crdt_client_request rq;
    crdt_client_reply rp;
    unsigned d;
    mb m;

    /* unknown keys of every kind of value, before and after known ones */
    mb_req_head(&m, 9, 5, "get");
    mb_str(&m, "zzz");
    mb_byte(&m, 0xc0); /* nil */
    mb_str(&m, "key");
    mb_bin(&m, "abc", 3);
    mb_str(&m, "f64");
    mb_byte(&m, 0xcb);
    mb_be(&m, 0x400921fb54442d18ULL, 8);
    mb_str(&m, "ext");
    mb_byte(&m, 0xd6);
    mb_be(&m, 0x01020304, 4);
    mb_byte(&m, 0x05);
    mb_str(&m, "nested");
    mb_byte(&m, 0x92); /* [ {"a": [1, "x"]}, bin ] */
    mb_map(&m, 1);
    mb_str(&m, "a");
    mb_byte(&m, 0x92);
    mb_byte(&m, 0x01);
    mb_str(&m, "x");
    mb_bin(&m, "yy", 2);
    mb_str(&m, "ok"); /* a reply's key in a request: unknown here */
    mb_byte(&m, 0xc3);
    fill(&rq, sizeof rq);
    tu_must(crdt_client_request_decode(&rq, m.b, m.n), "decode");
    ck_assert_int_eq(rq.op, CRDT_OP_GET);
    ck_assert(view_eq(rq.key, rq.klen, "abc", 3));
    ck_assert_uint_eq(rq.id, 5);

    /* "value" on a get and "elem" on a set are ignored (and not
     * type-checked beyond bin/str) */
    mb_req_head(&m, 6, 5, "set");
    mb_str(&m, "key");
    mb_bin(&m, "k", 1);
    mb_str(&m, "value");
    mb_str(&m, "V");
    mb_str(&m, "elem");
    mb_str(&m, "E");
    tu_must(crdt_client_request_decode(&rq, m.b, m.n), "decode set");
    ck_assert(view_eq(rq.value, rq.vlen, "V", 1));
    /* "value" -> "valux" (its last letter is 2 + 5 + 2 + 1 bytes from the
     * end): the value is missing */
    ck_assert_int_eq(m.b[m.n - 10], 'e');
    m.b[m.n - 10] = 'x';
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "set without value");

    /* "by" on an op other than inc/dec is read (type-checked) but
     * ignored, so the request re-encodes to the same fields (found by
     * fuzz_client: tests/fuzz/regress/client/by-on-add) */
    mb_req_head(&m, 6, 5, "add");
    mb_str(&m, "by");
    mb_uint_as(&m, 57601, 0xcd);
    mb_str(&m, "key");
    mb_bin(&m, "k", 1);
    mb_str(&m, "elem");
    mb_bin(&m, "e", 1);
    tu_must(crdt_client_request_decode(&rq, m.b, m.n), "by on add");
    ck_assert_uint_eq(rq.by, 1);
    /* ... but a "by" of the wrong type is still an error */
    mb_req_head(&m, 4, 5, "get");
    mb_str(&m, "by");
    mb_str(&m, "1");
    mb_str(&m, "key");
    mb_bin(&m, "k", 1);
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "str by on get");

    /* nesting: CRDT_CLIENT_MAX_DEPTH arrays deep is skipped, one more is
     * a LIMIT */
    for (d = CRDT_CLIENT_MAX_DEPTH; d <= CRDT_CLIENT_MAX_DEPTH + 1; d++) {
        unsigned j;

        mb_rep_head(&m, 4, 1, true);
        mb_str(&m, "deep");
        for (j = 0; j < d; j++)
            mb_byte(&m, 0x91);
        mb_byte(&m, 0x00);
        fill(&rp, sizeof rp);
        if (d == CRDT_CLIENT_MAX_DEPTH) {
            tu_must(crdt_client_reply_decode(&rp, m.b, m.n), "deep ok");
            ck_assert(rp.ok && rp.id == 1 && rp.err == 0);
        } else {
            expect_rep_error(m.b, m.n, CRDT_ERR_LIMIT, "too deep");
        }
    }
    /* big counts in skipped values: array16/32, map16/32, str16, bin16 */
    {
        static const uint8_t vals[][8] = {
            {0xdc, 0x00, 0x01, 0x01},       {0xdd, 0, 0, 0, 1, 0x01},
            {0xde, 0x00, 0x01, 0x01, 0x02}, {0xdf, 0, 0, 0, 1, 0x01, 0x02},
            {0xda, 0x00, 0x01, 'a'},        {0xc5, 0x00, 0x01, 'a'},
            {0xc7, 0x01, 0x05, 'a'},        {0xd4, 0x05, 'a'}};
        static const size_t lens[] = {4, 6, 5, 7, 4, 4, 4, 3};
        size_t i;

        for (i = 0; i < 8; i++) {
            mb_rep_head(&m, 4, 1, true);
            mb_str(&m, "u");
            mb_raw(&m, vals[i], lens[i]);
            tu_must(crdt_client_reply_decode(&rp, m.b, m.n), "skip");
            /* one byte short: DECODE */
            expect_rep_error(m.b, m.n - 1, CRDT_ERR_DECODE, "skip short");
        }
    }
}
END_TEST

/* ======================================================= decode errors */

START_TEST(test_client_decode_request_errors)
{
    static const uint8_t key1025[CRDT_CLIENT_MAX_KEY + 1];
    crdt_client_request rq;
    mb m;

    /* a valid base first */
    mb_req_head(&m, 4, 1, "get");
    mb_str(&m, "key");
    mb_bin(&m, "k", 1);
    tu_must(crdt_client_request_decode(&rq, m.b, m.n), "base");

    /* NULL arguments */
    ck_assert_int_eq(crdt_client_request_decode(NULL, m.b, m.n),
                     CRDT_ERR_INVALID_ARG);
    expect_req_error(NULL, 3, CRDT_ERR_INVALID_ARG, "NULL data");
    /* every truncation of the base */
    {
        size_t cut;

        for (cut = 0; cut < m.n; cut++)
            expect_req_error(m.b, cut, CRDT_ERR_DECODE, "truncated");
    }
    /* trailing bytes */
    mb_byte(&m, 0xc0);
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "trailing byte");
    /* not a map */
    expect_req_error((const uint8_t *)"\x91\x01", 2, CRDT_ERR_DECODE,
                     "array");
    expect_req_error((const uint8_t *)"\xc1", 1, CRDT_ERR_DECODE, "0xc1");
    /* a map count beyond the bytes */
    expect_req_error((const uint8_t *)"\xdf\xff\xff\xff\xff\xa1v\x01", 8,
                     CRDT_ERR_DECODE, "map32 count");
    expect_req_error((const uint8_t *)"\xde\x00\x05\xa1v\x01", 6,
                     CRDT_ERR_DECODE, "map16 count");
    /* a non-string key */
    mb_req_head(&m, 4, 1, "get");
    mb_byte(&m, 0x01);
    mb_bin(&m, "k", 1);
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "int key");
    mb_req_head(&m, 4, 1, "get");
    mb_bin(&m, "key", 3);
    mb_bin(&m, "k", 1);
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "bin key");
    /* missing v, id, op, key */
    m.n = 0;
    mb_map(&m, 3);
    mb_str(&m, "id");
    mb_uint(&m, 1);
    mb_str(&m, "op");
    mb_str(&m, "status");
    mb_str(&m, "x");
    mb_uint(&m, 1);
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "no v");
    m.n = 0;
    mb_map(&m, 2);
    mb_str(&m, "v");
    mb_uint(&m, 1);
    mb_str(&m, "op");
    mb_str(&m, "status");
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "no id");
    m.n = 0;
    mb_map(&m, 2);
    mb_str(&m, "v");
    mb_uint(&m, 1);
    mb_str(&m, "id");
    mb_uint(&m, 1);
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "no op");
    mb_req_head(&m, 3, 1, "get");
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "get without key");
    mb_req_head(&m, 3, 1, "status");
    tu_must(crdt_client_request_decode(&rq, m.b, m.n), "status, no key");
    ck_assert_ptr_null(rq.key);
    mb_req_head(&m, 4, 1, "add");
    mb_str(&m, "key");
    mb_bin(&m, "k", 1);
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "add without elem");
    mb_req_head(&m, 5, 1, "remove");
    mb_str(&m, "key");
    mb_bin(&m, "k", 1);
    mb_str(&m, "value");
    mb_bin(&m, "e", 1);
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "remove with value only");
    /* version */
    m.n = 0;
    mb_map(&m, 3);
    mb_str(&m, "v");
    mb_uint(&m, 2);
    mb_str(&m, "id");
    mb_uint(&m, 1);
    mb_str(&m, "op");
    mb_str(&m, "status");
    expect_req_error(m.b, m.n, CRDT_ERR_VERSION, "v 2");
    m.b[3] = 0x00;
    expect_req_error(m.b, m.n, CRDT_ERR_VERSION, "v 0");
    /* duplicate keys */
    mb_req_head(&m, 4, 1, "status");
    mb_str(&m, "id");
    mb_uint(&m, 1);
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "id twice");
    mb_req_head(&m, 6, 1, "set");
    mb_str(&m, "key");
    mb_bin(&m, "k", 1);
    mb_str(&m, "value");
    mb_bin(&m, "a", 1);
    mb_str(&m, "value");
    mb_bin(&m, "a", 1);
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "value twice");
    /* wrong types of every listed key */
    {
        static const char *const keys[] = {"v",     "id",   "op",
                                           "key",   "type", "by",
                                           "value", "elem", "level",
                                           "timeout_ms", "token"};
        size_t i;

        for (i = 0; i < sizeof keys / sizeof *keys; i++) {
            /* nil, a negative int, a bool, an array, a float: wrong for
             * everything; a str for uints and the token, an int for
             * strings */
            static const uint8_t wrong[][3] = {{0xc0}, {0xff}, {0xc3},
                                               {0x90}, {0xca, 0, 0}};
            size_t j;

            for (j = 0; j < 5; j++) {
                m.n = 0;
                mb_map(&m, 1);
                mb_str(&m, keys[i]);
                mb_raw(&m, wrong[j], j == 4 ? 1 : 1);
                if (j == 4) {
                    m.n--; /* a whole float32 */
                    mb_raw(&m, "\xca\x3f\x80\x00\x00", 5);
                }
                expect_req_error(m.b, m.n, CRDT_ERR_DECODE, keys[i]);
            }
            m.n = 0;
            mb_map(&m, 1);
            mb_str(&m, keys[i]);
            if (i < 3 || i == 5 || i == 9 || i == 10) {
                if (i == 2)
                    mb_uint(&m, 1); /* op as an int */
                else
                    mb_str(&m, "1");
            } else if (i == 4 || i == 8) {
                mb_bin(&m, "one", 3); /* type, level: str only */
            } else {
                mb_uint(&m, 1); /* key, value, elem: bin or str */
            }
            expect_req_error(m.b, m.n, CRDT_ERR_DECODE, keys[i]);
        }
    }
    /* names, lengths, ranges */
    mb_req_head(&m, 3, 1, "frobnicate");
    expect_req_error(m.b, m.n, CRDT_ERR_INVALID_ARG, "unknown op");
    mb_req_head(&m, 4, 1, "status");
    mb_str(&m, "level");
    mb_str(&m, "most");
    expect_req_error(m.b, m.n, CRDT_ERR_INVALID_ARG, "unknown level");
    mb_req_head(&m, 4, 1, "get");
    mb_str(&m, "key");
    mb_bin(&m, "", 0);
    expect_req_error(m.b, m.n, CRDT_ERR_INVALID_ARG, "empty key");
    mb_req_head(&m, 4, 1, "get");
    mb_str(&m, "key");
    mb_byte(&m, 0xc5);
    mb_be(&m, sizeof key1025, 2);
    mb_raw(&m, key1025, sizeof key1025);
    expect_req_error(m.b, m.n, CRDT_ERR_LIMIT, "key 1025");
    m.b[m.n - sizeof key1025 - 1] = 0x00; /* 1024 bytes: fine */
    tu_must(crdt_client_request_decode(&rq, m.b, m.n - 1), "key 1024");
    ck_assert_uint_eq(rq.klen, CRDT_CLIENT_MAX_KEY);
    mb_req_head(&m, 4, 1, "status");
    mb_str(&m, "timeout_ms");
    mb_uint_as(&m, CRDT_CLIENT_MAX_TIMEOUT_MS + 1, 0xce);
    expect_req_error(m.b, m.n, CRDT_ERR_LIMIT, "timeout");
    mb_req_head(&m, 4, 1, "status");
    mb_str(&m, "timeout_ms");
    mb_uint_as(&m, UINT64_MAX, 0xcf);
    expect_req_error(m.b, m.n, CRDT_ERR_LIMIT, "timeout 2^64-1");
    /* an over-long message */
    {
        static uint8_t huge[CRDT_CLIENT_MAX_MESSAGE + 1];

        expect_req_error(huge, sizeof huge, CRDT_ERR_LIMIT, "16 MiB + 1");
    }
    /* a string that claims more bytes than there are */
    mb_req_head(&m, 4, 1, "get");
    mb_str(&m, "key");
    mb_byte(&m, 0xc6);
    mb_be(&m, 0xffffffffu, 4);
    mb_byte(&m, 'k');
    expect_req_error(m.b, m.n, CRDT_ERR_DECODE, "bin32 overrun");
}
END_TEST

START_TEST(test_client_decode_reply_errors)
{
    crdt_client_reply rp;
    mb m;

    mb_rep_head(&m, 3, 9, true);
    tu_must(crdt_client_reply_decode(&rp, m.b, m.n), "base");
    ck_assert(rp.ok && rp.id == 9 && !rp.state && !rp.token && !rp.deleted);
    {
        size_t cut;

        for (cut = 0; cut < m.n; cut++)
            expect_rep_error(m.b, cut, CRDT_ERR_DECODE, "truncated");
    }
    ck_assert_int_eq(crdt_client_reply_decode(NULL, m.b, m.n),
                     CRDT_ERR_INVALID_ARG);
    expect_rep_error(NULL, 1, CRDT_ERR_INVALID_ARG, "NULL data");
    mb_byte(&m, 0x00);
    expect_rep_error(m.b, m.n, CRDT_ERR_DECODE, "trailing");
    /* !ok without err, with err >= 0, err beyond int */
    mb_rep_head(&m, 3, 9, false);
    expect_rep_error(m.b, m.n, CRDT_ERR_DECODE, "no err");
    mb_rep_head(&m, 4, 9, false);
    mb_str(&m, "err");
    mb_uint(&m, 0);
    expect_rep_error(m.b, m.n, CRDT_ERR_DECODE, "err 0");
    mb_rep_head(&m, 4, 9, false);
    mb_str(&m, "err");
    mb_byte(&m, 0xd3);
    mb_be(&m, (uint64_t)INT64_MIN, 8);
    expect_rep_error(m.b, m.n, CRDT_ERR_DECODE, "err INT64_MIN");
    mb_rep_head(&m, 4, 9, true); /* ok with a huge err: still checked */
    mb_str(&m, "err");
    mb_uint_as(&m, UINT64_MAX, 0xcf);
    expect_rep_error(m.b, m.n, CRDT_ERR_DECODE, "err 2^64-1");
    /* ok: true ignores err and msg */
    mb_rep_head(&m, 5, 9, true);
    mb_str(&m, "err");
    mb_byte(&m, 0xff);
    mb_str(&m, "msg");
    mb_str(&m, "x");
    tu_must(crdt_client_reply_decode(&rp, m.b, m.n), "ok with err");
    ck_assert(rp.ok && rp.err == 0 && !rp.msg);
    /* acks over 32 bits */
    mb_rep_head(&m, 4, 9, true);
    mb_str(&m, "acks");
    mb_uint_as(&m, (uint64_t)UINT32_MAX + 1, 0xcf);
    expect_rep_error(m.b, m.n, CRDT_ERR_DECODE, "acks 2^32");
    /* version */
    mb_rep_head(&m, 3, 9, true);
    m.b[3] = 0x02;
    expect_rep_error(m.b, m.n, CRDT_ERR_VERSION, "v 2");
    /* missing v / id / ok */
    expect_rep_error((const uint8_t *)"\x82\xa1v\x01\xa2id\x01", 8,
                     CRDT_ERR_DECODE, "no ok");
    expect_rep_error((const uint8_t *)"\x82\xa1v\x01\xa2ok\xc3", 8,
                     CRDT_ERR_DECODE, "no id");
    expect_rep_error((const uint8_t *)"\x82\xa2id\x01\xa2ok\xc3", 8,
                     CRDT_ERR_DECODE, "no v");
    /* duplicates and wrong types */
    mb_rep_head(&m, 4, 9, true);
    mb_str(&m, "ok");
    mb_byte(&m, 0xc3);
    expect_rep_error(m.b, m.n, CRDT_ERR_DECODE, "ok twice");
    {
        static const char *const keys[] = {"v",     "id",      "ok",
                                           "err",   "msg",     "type",
                                           "state", "deleted", "acks",
                                           "token", "status"};
        /* a value of a wrong type for each key */
        static const uint8_t wrong[] = {0xc2, 0xa0, 0x01, 0xa0, 0xc4,
                                        0xc4, 0xa0, 0x01, 0xff, 0xa0,
                                        0xc4};
        size_t i;

        for (i = 0; i < sizeof keys / sizeof *keys; i++) {
            m.n = 0;
            mb_map(&m, 1);
            mb_str(&m, keys[i]);
            mb_byte(&m, wrong[i]);
            if (wrong[i] == 0xc4)
                mb_byte(&m, 0x00); /* an empty bin */
            expect_rep_error(m.b, m.n, CRDT_ERR_DECODE, keys[i]);
            m.n = 0;
            mb_map(&m, 1);
            mb_str(&m, keys[i]);
            mb_byte(&m, 0xc0); /* nil */
            expect_rep_error(m.b, m.n, CRDT_ERR_DECODE, keys[i]);
        }
    }
}
END_TEST

/* ==================================================== random mutations */

/* A few valid messages to mutate: requests then replies. */
static size_t sample(int k, crdt_buf *b, bool *is_req)
{
    crdt_client_request rq;
    crdt_client_reply rp;

    crdt_buf_reset(b);
    *is_req = k < 6;
    if (*is_req) {
        crdt_client_request_init(&rq, 1 + k * 3 % 10);
        if (k == 5)
            rq.op = CRDT_OP_SET;
        rq.id = 1000u * (unsigned)k + 7;
        rq.key = (const uint8_t *)"some key";
        rq.klen = 8;
        rq.type = "orset";
        rq.typelen = 5;
        rq.value = (const uint8_t *)"element";
        rq.vlen = 7;
        rq.by = 300;
        if (k % 2) {
            rq.token = (const uint8_t *)"\x01\x02\x03\x04\x05\x06";
            rq.tlen = 6;
        }
        rq.level = 1 + k % 4;
        tu_must(crdt_client_request_encode(&rq, b), "sample request");
    } else {
        crdt_client_reply_init(&rp);
        rp.id = (uint64_t)k << 40;
        rp.ok = k % 2;
        rp.err = rp.ok ? 0 : CRDT_ERR_TIMEOUT;
        rp.msg = "quorum not reached";
        rp.msglen = 18;
        rp.type = "gcounter";
        rp.typelen = 8;
        rp.state = (const uint8_t *)"\x93\x01\x03\x81\x01\x05";
        rp.slen = 6;
        rp.acks = 3;
        rp.deleted = k == 8;
        rp.token = (const uint8_t *)"tok";
        rp.tlen = 3;
        if (k == 9) {
            rp.status = "{\"a\":1}";
            rp.statuslen = 7;
        }
        tu_must(crdt_client_reply_encode(&rp, b), "sample reply");
    }
    return b->len;
}

START_TEST(test_client_mutate_random)
{
    uint64_t seed = tu_seed("client");
    long cases = tu_cases(4000), k, ok = 0, bad = 0;
    uint8_t buf[512];
    crdt_buf s, re;
    tu_rng r;

    tu_rng_init(&r, seed);
    crdt_buf_init(&s, NULL);
    crdt_buf_init(&re, NULL);
    for (k = 0; k < cases; k++) {
        bool is_req;
        size_t n = sample((int)tu_below(&r, 10), &s, &is_req), i, muts;
        uint8_t *in;

        ck_assert_uint_le(n, sizeof buf - 16);
        memcpy(buf, s.data, n);
        muts = 1 + tu_below(&r, 4);
        for (i = 0; i < muts; i++) {
            size_t at = n ? tu_below(&r, n) : 0;

            switch (tu_below(&r, 6)) {
            case 0: /* flip a bit */
                if (n)
                    buf[at] ^= (uint8_t)(1u << tu_below(&r, 8));
                break;
            case 1: /* a random byte */
                if (n)
                    buf[at] = (uint8_t)tu_rand(&r);
                break;
            case 2: /* an interesting byte */
            {
                static const uint8_t b[] = {0x00, 0x7f, 0x80, 0x8f, 0x90,
                                            0xc0, 0xc1, 0xc3, 0xc4, 0xc6,
                                            0xcf, 0xd3, 0xdd, 0xdf, 0xff};
                if (n)
                    buf[at] = b[tu_below(&r, sizeof b)];
                break;
            }
            case 3: /* insert a byte */
                if (n < sizeof buf - 16) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = (uint8_t)tu_rand(&r);
                    n++;
                }
                break;
            case 4: /* delete a byte */
                if (n) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
                break;
            default: /* truncate */
                n = at;
                break;
            }
        }
        /* an exact-size copy, so an over-read is caught by valgrind or
         * ASan */
        in = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(in);
        memcpy(in, buf, n);
        if (is_req) {
            crdt_client_request rq, before, back;
            int rv;

            fill(&rq, sizeof rq);
            before = rq;
            rv = crdt_client_request_decode(&rq, in, n);
            if (rv != CRDT_OK) {
                tu_expect_k(memcmp(&rq, &before, sizeof rq) == 0,
                            "request written on error", k);
                tu_expect_k(rv == CRDT_ERR_DECODE || rv == CRDT_ERR_VERSION ||
                                rv == CRDT_ERR_LIMIT ||
                                rv == CRDT_ERR_INVALID_ARG,
                            "undocumented request error", k);
                bad++;
            } else {
                crdt_buf_reset(&re);
                tu_must_k(crdt_client_request_encode(&rq, &re),
                          "re-encode request", k);
                tu_must_k(crdt_client_request_decode(&back, re.data, re.len),
                          "decode re-encoded request", k);
                tu_expect_k(req_eq(&rq, &back), "request fields differ", k);
                ok++;
            }
        } else {
            crdt_client_reply rp, before, back;
            int rv;

            fill(&rp, sizeof rp);
            before = rp;
            rv = crdt_client_reply_decode(&rp, in, n);
            if (rv != CRDT_OK) {
                tu_expect_k(memcmp(&rp, &before, sizeof rp) == 0,
                            "reply written on error", k);
                tu_expect_k(rv == CRDT_ERR_DECODE || rv == CRDT_ERR_VERSION ||
                                rv == CRDT_ERR_LIMIT,
                            "undocumented reply error", k);
                bad++;
            } else {
                crdt_buf_reset(&re);
                tu_must_k(crdt_client_reply_encode(&rp, &re),
                          "re-encode reply", k);
                tu_must_k(crdt_client_reply_decode(&back, re.data, re.len),
                          "decode re-encoded reply", k);
                tu_expect_k(rep_eq(&rp, &back), "reply fields differ", k);
                ok++;
            }
        }
        free(in);
    }
    printf("client: %ld mutations, %ld decoded, %ld rejected\n", cases, ok,
           bad);
    ck_assert_int_gt(bad, 0);
    crdt_buf_clear(&s);
    crdt_buf_clear(&re);
}
END_TEST

/* ============================================================== framing */

START_TEST(test_client_frame_edges)
{
    uint8_t f[16] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0};
    uint8_t p[4] = {9, 9, 9, 9};

    ck_assert_int_eq(crdt_client_frame(NULL, 0), 0);
    ck_assert_int_eq(crdt_client_frame(NULL, 1), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_frame(f, 0), 0);
    ck_assert_int_eq(crdt_client_frame(f, 3), 0);
    ck_assert_int_eq(crdt_client_frame(f, 4), 0);
    ck_assert_int_eq(crdt_client_frame(f, 6), 0);
    ck_assert_int_eq(crdt_client_frame(f, 7), 7);
    ck_assert_int_eq(crdt_client_frame(f, 16), 7); /* the next frame after */
    memcpy(f, "\0\0\0\0", 4);
    ck_assert_int_eq(crdt_client_frame(f, 4), CRDT_ERR_LIMIT);
    ck_assert_int_eq(crdt_client_frame(f, 3), 0); /* not known yet */
    memcpy(f, "\x01\x00\x00\x00", 4); /* exactly 16 MiB: fine */
    ck_assert_int_eq(crdt_client_frame(f, 16), 0);
    memcpy(f, "\x01\x00\x00\x01", 4);
    ck_assert_int_eq(crdt_client_frame(f, 4), CRDT_ERR_LIMIT);
    memcpy(f, "\xff\xff\xff\xff", 4);
    ck_assert_int_eq(crdt_client_frame(f, 16), CRDT_ERR_LIMIT);
    {
        static uint8_t whole[CRDT_CLIENT_MAX_MESSAGE + 4];

        tu_must(crdt_client_frame_put(whole, CRDT_CLIENT_MAX_MESSAGE), "put");
        ck_assert_int_eq(crdt_client_frame(whole, sizeof whole),
                         (long long)sizeof whole);
        ck_assert_int_eq(crdt_client_frame(whole, sizeof whole - 1), 0);
    }
    ck_assert_int_eq(crdt_client_frame_put(p, 0), CRDT_ERR_LIMIT);
    ck_assert_int_eq(crdt_client_frame_put(p, CRDT_CLIENT_MAX_MESSAGE + 1),
                     CRDT_ERR_LIMIT);
    ck_assert(p[0] == 9 && p[3] == 9);
    ck_assert_int_eq(crdt_client_frame_put(NULL, 1), CRDT_ERR_INVALID_ARG);
    tu_must(crdt_client_frame_put(p, 0x010203), "put");
    ck_assert(p[0] == 0 && p[1] == 1 && p[2] == 2 && p[3] == 3);
}
END_TEST

/* ============================================== the client, on a socket */

/* A one-connection server thread: it accepts, then runs `script`. */
typedef struct srv {
    char dir[64], path[128];
    int lfd, cfd;
    pthread_t th;
    void (*script)(struct srv *);
    int requests;          /* requests it read */
    uint64_t last_id;      /* the id of the last one */
} srv;

static void srv_write(srv *s, const crdt_client_reply *rp)
{
    crdt_buf b;
    uint8_t pre[4];
    size_t off = 0;

    crdt_buf_init(&b, NULL);
    tu_must(crdt_buf_append(&b, "\0\0\0\0", 4), "append");
    tu_must(crdt_client_reply_encode(rp, &b), "server encode");
    tu_must(crdt_client_frame_put(pre, b.len - 4), "frame_put");
    memcpy(b.data, pre, 4);
    while (off < b.len) {
        ssize_t n = send(s->cfd, b.data + off, b.len - off, MSG_NOSIGNAL);

        if (n <= 0)
            break;
        off += (size_t)n;
    }
    crdt_buf_clear(&b);
}

/* Reads exactly n bytes; false on EOF or error. */
static bool srv_read_n(srv *s, uint8_t *buf, size_t n)
{
    size_t have = 0;

    while (have < n) {
        ssize_t k = recv(s->cfd, buf + have, n - have, 0);

        if (k <= 0)
            return false;
        have += (size_t)k;
    }
    return true;
}

/* Reads one request frame into buf (exactly its bytes) and decodes it
 * into rq; false on EOF or a frame that does not fit or decode. */
static bool srv_read(srv *s, uint8_t *buf, size_t cap,
                     crdt_client_request *rq)
{
    size_t n;

    if (!srv_read_n(s, buf, 4))
        return false;
    n = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 |
        buf[3];
    if (n == 0 || n > cap || !srv_read_n(s, buf, n))
        return false;
    if (crdt_client_request_decode(rq, buf, n))
        return false;
    s->requests++;
    s->last_id = rq->id;
    return true;
}

static uint8_t srv_buf[4 << 20];

/* Echoes each request: type = the op's name, state = the key, token =
 * the request's token with one byte appended, acks = by. */
static void script_echo(srv *s)
{
    crdt_client_request rq;

    while (srv_read(s, srv_buf, sizeof srv_buf, &rq)) {
        crdt_client_reply rp;
        uint8_t tok[64];
        const char *name = crdt_client_op_name(rq.op);

        crdt_client_reply_init(&rp);
        rp.id = rq.id;
        rp.type = name;
        rp.typelen = strlen(name);
        rp.state = rq.key ? rq.key : (const uint8_t *)"";
        rp.slen = rq.klen;
        rp.acks = (uint32_t)rq.by;
        if (rq.tlen < sizeof tok) {
            if (rq.tlen)
                memcpy(tok, rq.token, rq.tlen);
            tok[rq.tlen] = (uint8_t)rq.level;
            rp.token = tok;
            rp.tlen = rq.tlen + 1;
        }
        if (rq.op == CRDT_OP_STATUS) {
            rp.status = "{\"ok\":true}";
            rp.statuslen = strlen(rp.status);
        }
        srv_write(s, &rp);
    }
}

/* Answers a stale id first, then the real one split in small writes. */
static void script_stale(srv *s)
{
    crdt_client_request rq;

    while (srv_read(s, srv_buf, sizeof srv_buf, &rq)) {
        crdt_client_reply rp;

        crdt_client_reply_init(&rp);
        rp.id = rq.id + 1000;
        srv_write(s, &rp);
        rp.id = rq.id;
        rp.acks = 2;
        srv_write(s, &rp);
    }
}

/* Reads requests and never answers, until the client goes away. */
static void script_silent(srv *s)
{
    crdt_client_request rq;

    while (srv_read(s, srv_buf, sizeof srv_buf, &rq))
        ;
}

/* Reads one request, then closes. */
static void script_close(srv *s)
{
    crdt_client_request rq;

    (void)srv_read(s, srv_buf, sizeof srv_buf, &rq);
}

/* A watch: three replies with the request's id, the last one deleted. */
static void script_watch(srv *s)
{
    crdt_client_request rq;
    int i;

    if (!srv_read(s, srv_buf, sizeof srv_buf, &rq))
        return;
    for (i = 0; i < 3; i++) {
        crdt_client_reply rp;
        uint8_t st[1] = {(uint8_t)i};

        crdt_client_reply_init(&rp);
        rp.id = rq.id;
        if (i == 1) {
            rp.state = st;
            rp.slen = 1;
        }
        rp.deleted = i == 2;
        srv_write(s, &rp);
    }
    script_silent(s);
}

/* Sends a length prefix over the maximum. */
static void script_oversize(srv *s)
{
    crdt_client_request rq;

    if (srv_read(s, srv_buf, sizeof srv_buf, &rq))
        (void)!send(s->cfd, "\x7f\x00\x00\x00", 4, MSG_NOSIGNAL);
    script_silent(s);
}

/* An error reply for an unreadable request (id 0), then junk that does
 * not decode, then a good reply. */
static void script_errors(srv *s)
{
    crdt_client_request rq;
    crdt_client_reply rp;

    if (!srv_read(s, srv_buf, sizeof srv_buf, &rq))
        return;
    crdt_client_reply_init(&rp);
    rp.ok = false;
    rp.err = CRDT_ERR_DECODE;
    rp.msg = "unreadable";
    rp.msglen = 10;
    srv_write(s, &rp);
    if (!srv_read(s, srv_buf, sizeof srv_buf, &rq))
        return;
    (void)!send(s->cfd, "\x00\x00\x00\x01\xc1", 5, MSG_NOSIGNAL);
    crdt_client_reply_init(&rp);
    rp.id = rq.id;
    srv_write(s, &rp);
    script_silent(s);
}

static void *srv_main(void *arg)
{
    srv *s = arg;

    s->cfd = accept(s->lfd, NULL, NULL);
    if (s->cfd >= 0) {
        s->script(s);
        close(s->cfd);
    }
    return NULL;
}

static void srv_start(srv *s, void (*script)(srv *))
{
    struct sockaddr_un sa;

    memset(s, 0, sizeof *s);
    strcpy(s->dir, "/tmp/crdt-client-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s->dir));
    snprintf(s->path, sizeof s->path, "%s/client.sock", s->dir);
    s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(s->lfd, 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, s->path);
    ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(s->lfd, 4), 0);
    s->script = script;
    ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(srv *s)
{
    pthread_join(s->th, NULL);
    close(s->lfd);
    unlink(s->path);
    rmdir(s->dir);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(test_client_call_echo)
{
    crdt_client_request rq;
    crdt_client_reply rp;
    crdt_client *c;
    srv s;
    int op;

    srv_start(&s, script_echo);
    tu_must(crdt_client_connect(&c, s.path), "connect");
    ck_assert_int_ge(crdt_client_fd(c), 0);
    for (op = CRDT_OP_INC; op <= CRDT_OP_STATUS; op++) {
        crdt_client_request_init(&rq, op);
        rq.id = 12345; /* ignored: the client numbers requests */
        rq.key = (const uint8_t *)"counter";
        rq.klen = 7;
        rq.value = (const uint8_t *)"v";
        rq.vlen = 1;
        rq.by = 40 + (uint64_t)op;
        rq.level = CRDT_LEVEL_QUORUM;
        rq.token = (const uint8_t *)"T";
        rq.tlen = 1;
        fill(&rp, sizeof rp);
        tu_must(crdt_client_call(c, &rq, &rp, 5000), "call");
        ck_assert_uint_eq(rp.id, (uint64_t)op);
        ck_assert_uint_eq(s.last_id, (uint64_t)op);
        ck_assert(rp.ok);
        ck_assert(view_eq(rp.type, rp.typelen, crdt_client_op_name(op),
                          strlen(crdt_client_op_name(op))));
        ck_assert(view_eq(rp.state, rp.slen, "counter", 7));
        ck_assert(view_eq(rp.token, rp.tlen, "T\x03", 2));
        ck_assert_uint_eq(rp.acks, op == CRDT_OP_INC || op == CRDT_OP_DEC
                                       ? 40u + (unsigned)op
                                       : 1u);
        if (op == CRDT_OP_STATUS)
            ck_assert(view_eq(rp.status, rp.statuslen, "{\"ok\":true}", 11));
    }
    /* a request that does not encode fails before anything is sent */
    crdt_client_request_init(&rq, CRDT_OP_GET);
    ck_assert_int_eq(crdt_client_call(c, &rq, &rp, 1000),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_call(NULL, &rq, &rp, 1000),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_call(c, NULL, &rp, 1000),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_call(c, &rq, NULL, 1000),
                     CRDT_ERR_INVALID_ARG);
    /* a big value, over several socket buffers each way */
    {
        static uint8_t v[3 << 20];
        size_t i;

        for (i = 0; i < sizeof v; i++)
            v[i] = (uint8_t)(i * 31);
        crdt_client_request_init(&rq, CRDT_OP_SET);
        rq.key = (const uint8_t *)"k";
        rq.klen = 1;
        rq.value = v;
        rq.vlen = sizeof v;
        tu_must(crdt_client_call(c, &rq, &rp, 10000), "big call");
        ck_assert(rp.ok);
    }
    crdt_client_close(c);
    srv_stop(&s);
    ck_assert_int_eq(s.requests, 11);
    crdt_client_close(NULL);
    ck_assert_int_eq(crdt_client_fd(NULL), -1);
}
END_TEST

START_TEST(test_client_call_skips_stale)
{
    crdt_client_request rq;
    crdt_client_reply rp;
    crdt_client *c;
    srv s;
    int i;

    srv_start(&s, script_stale);
    tu_must(crdt_client_connect(&c, s.path), "connect");
    crdt_client_request_init(&rq, CRDT_OP_STATUS);
    for (i = 1; i <= 3; i++) {
        tu_must(crdt_client_call(c, &rq, &rp, 5000), "call");
        ck_assert_uint_eq(rp.id, (uint64_t)i);
        ck_assert_uint_eq(rp.acks, 2);
    }
    crdt_client_close(c);
    srv_stop(&s);
}
END_TEST

START_TEST(test_client_call_timeout)
{
    crdt_client_request rq;
    crdt_client_reply rp, before;
    crdt_client *c;
    int64_t t0, dt;
    srv s;

    srv_start(&s, script_silent);
    tu_must(crdt_client_connect(&c, s.path), "connect");
    crdt_client_request_init(&rq, CRDT_OP_STATUS);
    fill(&rp, sizeof rp);
    before = rp;
    t0 = mono_ms();
    ck_assert_int_eq(crdt_client_call(c, &rq, &rp, 150), CRDT_ERR_TIMEOUT);
    dt = mono_ms() - t0;
    ck_assert_int_ge(dt, 140);
    ck_assert_int_lt(dt, 3000);
    ck_assert(memcmp(&rp, &before, sizeof rp) == 0);
    ck_assert_int_eq(crdt_client_recv(c, &rp, 50), CRDT_ERR_TIMEOUT);
    /* the connection is still usable: the request was sent whole */
    ck_assert_int_eq(crdt_client_call(c, &rq, &rp, 50), CRDT_ERR_TIMEOUT);
    crdt_client_close(c);
    srv_stop(&s);
    ck_assert_int_eq(s.requests, 2);
}
END_TEST

START_TEST(test_client_call_peer_close)
{
    crdt_client_request rq;
    crdt_client_reply rp;
    crdt_client *c;
    srv s;

    srv_start(&s, script_close);
    tu_must(crdt_client_connect(&c, s.path), "connect");
    crdt_client_request_init(&rq, CRDT_OP_STATUS);
    errno = 0;
    ck_assert_int_eq(crdt_client_call(c, &rq, &rp, 5000), CRDT_ERR_IO);
    ck_assert_int_eq(errno, ECONNRESET);
    /* broken for good */
    ck_assert_int_eq(crdt_client_call(c, &rq, &rp, 5000), CRDT_ERR_IO);
    ck_assert_int_eq(crdt_client_send(c, &rq), CRDT_ERR_IO);
    ck_assert_int_eq(crdt_client_recv(c, &rp, 10), CRDT_ERR_IO);
    crdt_client_close(c);
    srv_stop(&s);
}
END_TEST

START_TEST(test_client_watch)
{
    crdt_client_request rq;
    crdt_client_reply rp;
    crdt_client *c;
    srv s;

    srv_start(&s, script_watch);
    tu_must(crdt_client_connect(&c, s.path), "connect");
    crdt_client_request_init(&rq, CRDT_OP_WATCH);
    rq.key = (const uint8_t *)"w";
    rq.klen = 1;
    tu_must(crdt_client_send(c, &rq), "send");
    tu_must(crdt_client_recv(c, &rp, 5000), "recv 0");
    ck_assert(rp.id == 1 && rp.ok && !rp.state && !rp.deleted);
    tu_must(crdt_client_recv(c, &rp, 5000), "recv 1");
    ck_assert(rp.id == 1 && rp.state && rp.slen == 1 && rp.state[0] == 1);
    tu_must(crdt_client_recv(c, &rp, 5000), "recv 2");
    ck_assert(rp.id == 1 && rp.deleted);
    ck_assert_int_eq(crdt_client_recv(c, &rp, 100), CRDT_ERR_TIMEOUT);
    {
        struct pollfd pf = {crdt_client_fd(c), POLLIN, 0};

        ck_assert_int_eq(poll(&pf, 1, 0), 0);
    }
    ck_assert_int_eq(crdt_client_send(NULL, &rq), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_recv(c, NULL, 1), CRDT_ERR_INVALID_ARG);
    crdt_client_close(c);
    srv_stop(&s);
}
END_TEST

START_TEST(test_client_bad_replies)
{
    crdt_client_request rq;
    crdt_client_reply rp;
    crdt_client *c;
    srv s;

    /* an error reply with id 0 answers the call; junk is a DECODE and
     * dropped, and the next reply is read */
    srv_start(&s, script_errors);
    tu_must(crdt_client_connect(&c, s.path), "connect");
    crdt_client_request_init(&rq, CRDT_OP_STATUS);
    tu_must(crdt_client_call(c, &rq, &rp, 5000), "call");
    ck_assert(!rp.ok && rp.id == 0 && rp.err == CRDT_ERR_DECODE);
    ck_assert(view_eq(rp.msg, rp.msglen, "unreadable", 10));
    ck_assert_int_eq(crdt_client_call(c, &rq, &rp, 5000), CRDT_ERR_DECODE);
    tu_must(crdt_client_recv(c, &rp, 5000), "recv after junk");
    ck_assert(rp.ok && rp.id == 2);
    crdt_client_close(c);
    srv_stop(&s);

    /* an oversized frame: LIMIT, then the connection is broken */
    srv_start(&s, script_oversize);
    tu_must(crdt_client_connect(&c, s.path), "connect");
    ck_assert_int_eq(crdt_client_call(c, &rq, &rp, 5000), CRDT_ERR_LIMIT);
    ck_assert_int_eq(crdt_client_call(c, &rq, &rp, 5000), CRDT_ERR_IO);
    crdt_client_close(c);
    srv_stop(&s);
}
END_TEST

START_TEST(test_client_connect_errors)
{
    char dir[] = "/tmp/crdt-client-XXXXXX", path[200], longp[200];
    crdt_client *c = (crdt_client *)&c;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/none.sock", dir);
    errno = 0;
    ck_assert_int_eq(crdt_client_connect(&c, path), CRDT_ERR_IO);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_ptr_eq(c, (crdt_client *)&c); /* untouched */
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    ck_assert_int_eq(crdt_client_connect(&c, longp), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_connect(&c, ""), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_connect(&c, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_client_connect(NULL, path), CRDT_ERR_INVALID_ARG);
    /* a regular file is no socket */
    {
        FILE *f = fopen(path, "w");

        ck_assert_ptr_nonnull(f);
        fclose(f);
        ck_assert_int_eq(crdt_client_connect(&c, path), CRDT_ERR_IO);
        ck_assert_int_eq(errno, ECONNREFUSED);
        unlink(path);
    }
    rmdir(dir);
}
END_TEST

static Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc;

    tc = tcase_create("names");
    tcase_add_test(tc, test_client_names_roundtrip);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_client_codec_request_every_op);
    tcase_add_test(tc, test_client_codec_request_encode_errors);
    tcase_add_test(tc, test_client_codec_reply_every_field);
    tcase_add_test(tc, test_client_codec_reply_encode_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("decode");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_client_decode_any_int_width);
    tcase_add_test(tc, test_client_decode_unknown_keys);
    tcase_add_test(tc, test_client_decode_request_errors);
    tcase_add_test(tc, test_client_decode_reply_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("mutate");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_client_mutate_random);
    suite_add_tcase(s, tc);
    tc = tcase_create("frame");
    tcase_add_test(tc, test_client_frame_edges);
    suite_add_tcase(s, tc);
    tc = tcase_create("socket");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_client_call_echo);
    tcase_add_test(tc, test_client_call_skips_stale);
    tcase_add_test(tc, test_client_call_timeout);
    tcase_add_test(tc, test_client_call_peer_close);
    tcase_add_test(tc, test_client_watch);
    tcase_add_test(tc, test_client_bad_replies);
    tcase_add_test(tc, test_client_connect_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(client_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
