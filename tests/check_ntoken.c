/* SPDX-License-Identifier: MIT */
/*
 * Tests of crdt-node's session tokens (tools/node/token.{h,c}) and the
 * MessagePack reader/writer they use (tools/node/mp.h): the operations
 * against a reference model of plain dot contexts, the canonical encoding
 * and its round trip, everything the decoder must reject (each leaving the
 * target token exactly as it was), random mutations of valid encodings,
 * and every allocation failure of every call that allocates.
 *
 * CRDT_SEED=<seed> reproduces a run; CRDT_CASES scales the random tests.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>

#include "../tools/node/mp.h"
#include "../tools/node/token.h"
#include "testutil.h"

#define SUITE "ntoken"

/* --------------------------------------------------------------- helpers */

/* Appends t's encoding to a fresh buffer (malloc). */
static crdt_buf enc_of(const ntoken *t)
{
    crdt_buf b;

    crdt_buf_init(&b, NULL);
    tu_must(ntoken_encode(t, &b), "ntoken_encode");
    return b;
}

static bool buf_eq(const crdt_buf *a, const uint8_t *p, size_t n)
{
    return a->len == n && (n == 0 || memcmp(a->data, p, n) == 0);
}

/* Asserts that t still encodes to the bytes of snap. */
static void expect_same(const ntoken *t, const crdt_buf *snap,
                        const char *what)
{
    crdt_buf b = enc_of(t);

    if (!buf_eq(&b, snap->data, snap->len))
        ck_abort_msg("%s: the token changed", what);
    crdt_buf_clear(&b);
}

/* A random compact context: up to 10 dots of actors 1..5, counters 1..12
 * (so both vector entries and cloud dots). */
static crdt_dotctx *rand_ctx(tu_rng *r, const crdt_mem *mem)
{
    crdt_dotctx *c = crdt_dotctx_new(mem);
    uint64_t i, n = tu_below(r, 11);

    ck_assert_ptr_nonnull(c);
    for (i = 0; i < n; i++) {
        crdt_dot d = {1 + tu_below(r, 5), 1 + tu_below(r, 12)};

        tu_must(crdt_dotctx_add(c, d), "crdt_dotctx_add");
    }
    return c;
}

/* Keys from a pool of 24 of 1..3 bytes over {0, 'a', 0xff}: prefixes of
 * each other, and bytes that sort differently signed and unsigned. */
static size_t rand_key(tu_rng *r, uint8_t key[3])
{
    static const uint8_t alpha[3] = {0x00, 'a', 0xff};
    uint64_t k = tu_below(r, 24);
    size_t n = 1 + k % 3, i;

    k /= 3;
    for (i = 0; i < n; i++) {
        key[i] = alpha[k % 3];
        k /= 3;
    }
    return n;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);

    return c ? c : al < bl ? -1 : al > bl;
}

/* The reference model: keys (unordered) and the join of what was
 * observed for each. */
typedef struct ref {
    struct {
        uint8_t key[3];
        size_t klen;
        crdt_dotctx *ctx;
    } e[64];
    size_t n;
} ref;

static void ref_observe(ref *m, const uint8_t *key, size_t klen,
                        const crdt_dotctx *ctx)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        if (key_cmp(m->e[i].key, m->e[i].klen, key, klen) == 0)
            break;
    if (i == m->n) {
        ck_assert_uint_lt(m->n, 64);
        memcpy(m->e[i].key, key, klen);
        m->e[i].klen = klen;
        m->e[i].ctx = crdt_dotctx_new(NULL);
        ck_assert_ptr_nonnull(m->e[i].ctx);
        m->n++;
    }
    tu_must(crdt_dotctx_join(m->e[i].ctx, ctx), "reference join");
}

static void ref_free(ref *m)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        crdt_dotctx_free(m->e[i].ctx);
    m->n = 0;
}

/* Asserts that t holds exactly the model: the same keys, ascending, each
 * with an equal context, through ntoken_at and ntoken_find. */
static void expect_model(const ntoken *t, const ref *m, long k)
{
    size_t i;
    uint8_t absent[4] = {'z', 'z', 'z', 'z'};

    tu_expect_k(ntoken_count(t) == m->n, "count equals the model's", k);
    for (i = 0; i < ntoken_count(t); i++) {
        const uint8_t *key, *pkey;
        size_t klen, pklen;
        const crdt_dotctx *c;

        tu_must_k(ntoken_at(t, i, &key, &klen, &c), "ntoken_at", k);
        tu_expect_k(klen > 0, "key not empty", k);
        if (i > 0) {
            tu_must_k(ntoken_at(t, i - 1, &pkey, &pklen, NULL), "ntoken_at",
                      k);
            tu_expect_k(key_cmp(pkey, pklen, key, klen) < 0,
                        "keys strictly ascending", k);
        }
        tu_expect_k(ntoken_find(t, key, klen) == c, "find agrees with at",
                    k);
    }
    tu_expect_k(ntoken_at(t, ntoken_count(t), NULL, NULL, NULL) ==
                    CRDT_ERR_NOT_FOUND,
                "at past the end", k);
    for (i = 0; i < m->n; i++) {
        const crdt_dotctx *c = ntoken_find(t, m->e[i].key, m->e[i].klen);

        tu_expect_k(c != NULL, "a key of the model is in the token", k);
        tu_expect_k(crdt_dotctx_equal(c, m->e[i].ctx),
                    "context equals the join of what was observed", k);
    }
    tu_expect_k(ntoken_find(t, absent, sizeof absent) == NULL,
                "absent key not found", k);
}

/* Decodes t's encoding into a fresh token and asserts that it holds the
 * same and re-encodes to the same bytes. */
static void expect_roundtrip(const ntoken *t, long k)
{
    crdt_buf a = enc_of(t), b;
    ntoken *u;
    size_t i;

    tu_must_k(ntoken_new(&u, NULL), "ntoken_new", k);
    tu_must_k(ntoken_decode(u, a.data, a.len), "decode of an encoding", k);
    tu_expect_k(ntoken_count(u) == ntoken_count(t), "round trip: count", k);
    for (i = 0; i < ntoken_count(t); i++) {
        const uint8_t *ka, *kb;
        size_t la, lb;
        const crdt_dotctx *ca, *cb;

        tu_must_k(ntoken_at(t, i, &ka, &la, &ca), "at", k);
        tu_must_k(ntoken_at(u, i, &kb, &lb, &cb), "at", k);
        tu_expect_k(key_cmp(ka, la, kb, lb) == 0, "round trip: key", k);
        tu_expect_k(crdt_dotctx_equal(ca, cb), "round trip: context", k);
    }
    b = enc_of(u);
    tu_expect_k(buf_eq(&b, a.data, a.len), "re-encoding is identical", k);
    crdt_buf_clear(&a);
    crdt_buf_clear(&b);
    ntoken_free(u);
}

/* A token of a few random keys, on mem. */
static ntoken *rand_token(tu_rng *r, const crdt_mem *mem, size_t keys)
{
    ntoken *t;
    size_t i;

    tu_must(ntoken_new(&t, mem), "ntoken_new");
    for (i = 0; i < keys; i++) {
        uint8_t key[3];
        size_t kl = rand_key(r, key);
        crdt_dotctx *c = rand_ctx(r, NULL);

        tu_must(ntoken_observe(t, key, kl, c), "observe");
        crdt_dotctx_free(c);
    }
    return t;
}

/* ------------------------------------------------------------ empty token */

START_TEST(test_empty)
{
    static const uint8_t one_two[3] = {0x92, 0x01, 0x90}; /* [1, []] */
    ntoken *t, *u;
    crdt_buf b, snap;
    crdt_dotctx *c = crdt_dotctx_new(NULL);
    const uint8_t *key = (const uint8_t *)"k";

    ck_assert_ptr_nonnull(c);
    tu_must(ntoken_new(&t, NULL), "new");
    ck_assert_uint_eq(ntoken_count(t), 0);
    ck_assert_uint_eq(ntoken_count(NULL), 0);
    ck_assert_int_eq(ntoken_at(t, 0, NULL, NULL, NULL), CRDT_ERR_NOT_FOUND);
    ck_assert_ptr_null(ntoken_find(t, key, 1));

    /* The empty token's encoding is the empty byte string. */
    b = enc_of(t);
    ck_assert_uint_eq(b.len, 0);
    crdt_buf_clear(&b);
    tu_must(ntoken_decode(t, NULL, 0), "decode of nothing");
    ck_assert_uint_eq(ntoken_count(t), 0);

    /* len 0 empties a token that held keys */
    tu_must(crdt_dotctx_add(c, (crdt_dot){7, 1}), "add");
    tu_must(ntoken_observe(t, key, 1, c), "observe");
    ck_assert_uint_eq(ntoken_count(t), 1);
    tu_must(ntoken_decode(t, (const uint8_t *)"", 0), "decode of nothing");
    ck_assert_uint_eq(ntoken_count(t), 0);

    /* [1, []] would be a second encoding of the empty token */
    tu_must(ntoken_observe(t, key, 1, c), "observe");
    snap = enc_of(t);
    ck_assert_int_eq(ntoken_decode(t, one_two, sizeof one_two),
                     CRDT_ERR_DECODE);
    expect_same(t, &snap, "[1, []]");
    crdt_buf_clear(&snap);

    /* an empty context makes a key too, and round-trips */
    tu_must(ntoken_new(&u, NULL), "new");
    crdt_dotctx_free(c);
    c = crdt_dotctx_new(NULL);
    tu_must(ntoken_observe(u, key, 1, c), "observe of an empty context");
    ck_assert_uint_eq(ntoken_count(u), 1);
    ck_assert(crdt_dotctx_equal(ntoken_find(u, key, 1), c));
    expect_roundtrip(u, 0);

    /* argument errors */
    ck_assert_int_eq(ntoken_new(NULL, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_observe(u, key, 0, c), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_observe(u, NULL, 1, c), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_observe(u, key, 1, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_observe(NULL, key, 1, c), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_merge(u, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_merge(NULL, u), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_decode(u, NULL, 3), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_decode(NULL, one_two, 3), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_encode(NULL, &b), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_encode(u, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(ntoken_at(NULL, 0, NULL, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(ntoken_find(NULL, key, 1));
    ck_assert_ptr_null(ntoken_find(u, NULL, 1));
    ck_assert_uint_eq(ntoken_count(u), 1);

    crdt_dotctx_free(c);
    ntoken_free(t);
    ntoken_free(u);
    ntoken_free(NULL);
}
END_TEST

/* The byte layout of the header's format. */
START_TEST(test_encoding_layout)
{
    /* key "b" {(5,1..3)}, key "a" {(9,2)}: sorted a, b */
    static const uint8_t want_head[] = {0x92, 0x01, 0x92};
    ntoken *t;
    crdt_dotctx *c1 = crdt_dotctx_new(NULL), *c2 = crdt_dotctx_new(NULL);
    crdt_buf b, e1, e2, w;

    tu_must(crdt_dotctx_add(c1, (crdt_dot){5, 1}), "add");
    tu_must(crdt_dotctx_add(c1, (crdt_dot){5, 2}), "add");
    tu_must(crdt_dotctx_add(c1, (crdt_dot){5, 3}), "add");
    tu_must(crdt_dotctx_add(c2, (crdt_dot){9, 2}), "add");
    tu_must(ntoken_new(&t, NULL), "new");
    tu_must(ntoken_observe(t, (const uint8_t *)"b", 1, c1), "observe");
    tu_must(ntoken_observe(t, (const uint8_t *)"a", 1, c2), "observe");
    b = enc_of(t);

    crdt_buf_init(&e1, NULL);
    crdt_buf_init(&e2, NULL);
    crdt_buf_init(&w, NULL);
    tu_must(crdt_dotctx_encode(c1, &e1), "encode");
    tu_must(crdt_dotctx_encode(c2, &e2), "encode");
    tu_must(crdt_buf_append(&w, want_head, sizeof want_head), "append");
    tu_must(mpw_array(&w, 2), "w");
    tu_must(mpw_bin(&w, "a", 1), "w");
    tu_must(mpw_bin(&w, e2.data, e2.len), "w");
    tu_must(mpw_array(&w, 2), "w");
    tu_must(mpw_bin(&w, "b", 1), "w");
    tu_must(mpw_bin(&w, e1.data, e1.len), "w");
    ck_assert(buf_eq(&b, w.data, w.len));

    /* a fixed buffer one byte short: CRDT_ERR_BUFFER, nothing written */
    {
        uint8_t fixed[256];
        crdt_buf f;

        memset(fixed, 0xa5, sizeof fixed);
        ck_assert_uint_lt(b.len, sizeof fixed);
        crdt_buf_init_fixed(&f, fixed, b.len - 1);
        ck_assert_int_eq(ntoken_encode(t, &f), CRDT_ERR_BUFFER);
        ck_assert_uint_eq(f.len, 0);
        crdt_buf_init_fixed(&f, fixed, b.len);
        tu_must(ntoken_encode(t, &f), "encode into a fixed buffer");
        ck_assert(buf_eq(&f, b.data, b.len));
    }

    crdt_buf_clear(&b);
    crdt_buf_clear(&e1);
    crdt_buf_clear(&e2);
    crdt_buf_clear(&w);
    crdt_dotctx_free(c1);
    crdt_dotctx_free(c2);
    ntoken_free(t);
}
END_TEST

/* ----------------------------------------------- operations vs the model */

START_TEST(test_model)
{
    tu_rng rng;
    long n = tu_cases(400), k;

    tu_rng_init(&rng, tu_seed(SUITE) ^ 0x1);
    for (k = 0; k < n; k++) {
        ntoken *t, *s;
        ref m = {.n = 0}, ms = {.n = 0};
        long step, steps = 1 + (long)tu_below(&rng, 40);

        tu_must_k(ntoken_new(&t, NULL), "new", k);
        tu_must_k(ntoken_new(&s, NULL), "new", k);
        for (step = 0; step < steps; step++) {
            uint64_t what = tu_below(&rng, 10);

            if (what < 5) { /* observe into t */
                uint8_t key[3];
                size_t kl = rand_key(&rng, key);
                crdt_dotctx *c = rand_ctx(&rng, NULL);

                tu_must_k(ntoken_observe(t, key, kl, c), "observe", k);
                ref_observe(&m, key, kl, c);
                crdt_dotctx_free(c);
            } else if (what < 8) { /* observe into s */
                uint8_t key[3];
                size_t kl = rand_key(&rng, key);
                crdt_dotctx *c = rand_ctx(&rng, NULL);

                tu_must_k(ntoken_observe(s, key, kl, c), "observe", k);
                ref_observe(&ms, key, kl, c);
                crdt_dotctx_free(c);
            } else if (what < 9) { /* merge s into t */
                size_t i;

                tu_must_k(ntoken_merge(t, s), "merge", k);
                for (i = 0; i < ms.n; i++)
                    ref_observe(&m, ms.e[i].key, ms.e[i].klen, ms.e[i].ctx);
                expect_model(s, &ms, k); /* the source is unchanged */
            } else { /* merge t into itself: idempotent */
                tu_must_k(ntoken_merge(t, t), "merge with itself", k);
            }
            expect_model(t, &m, k);
        }
        expect_roundtrip(t, k);
        expect_roundtrip(s, k);

        /* decode of s's encoding into t makes t equal to s's model */
        {
            crdt_buf b = enc_of(s);

            tu_must_k(ntoken_decode(t, b.data, b.len), "decode", k);
            expect_model(t, &ms, k);
            crdt_buf_clear(&b);
        }
        ref_free(&m);
        ref_free(&ms);
        ntoken_free(t);
        ntoken_free(s);
    }
}
END_TEST

/* ------------------------------------------------------- ctx_covers */

/* Brute force over the dots of the small universe rand_ctx draws from
 * (actors 1..5, counters 1..12) and a few outside it. */
static bool covers_brute(const crdt_dotctx *have, const crdt_dotctx *want)
{
    uint64_t a, c;

    for (a = 0; a <= 6; a++)
        for (c = 1; c <= 14; c++) {
            crdt_dot d = {a, c};

            if (crdt_dotctx_contains(want, d) &&
                !crdt_dotctx_contains(have, d))
                return false;
        }
    return true;
}

START_TEST(test_covers)
{
    tu_rng rng;
    long n = tu_cases(5000), k, yes = 0;

    tu_rng_init(&rng, tu_seed(SUITE) ^ 0x2);
    for (k = 0; k < n; k++) {
        crdt_dotctx *a = rand_ctx(&rng, NULL), *b = rand_ctx(&rng, NULL);
        bool want;

        /* often make one a superset of the other */
        if (tu_below(&rng, 2))
            tu_must_k(crdt_dotctx_join(a, b), "join", k);
        want = covers_brute(a, b);
        yes += want;
        tu_expect_k(ntoken_ctx_covers(a, b) == want, "covers(a, b)", k);
        tu_expect_k(ntoken_ctx_covers(b, a) == covers_brute(b, a),
                    "covers(b, a)", k);
        tu_expect_k(ntoken_ctx_covers(a, a), "covers itself", k);
        tu_expect_k(ntoken_ctx_covers(NULL, b) ==
                        (crdt_dotctx_cloud_size(b) == 0 &&
                         crdt_dotctx_vv_size(b) == 0),
                    "NULL covers only the empty context", k);
        tu_expect_k(ntoken_ctx_covers(a, NULL), "covers NULL", k);
        crdt_dotctx_free(a);
        crdt_dotctx_free(b);
    }
    /* both outcomes were exercised */
    ck_assert_int_gt(yes, 0);
    ck_assert_int_lt(yes, n);
}
END_TEST

/* ------------------------------------------------------------ key limit */

static size_t key_of(unsigned i, uint8_t key[8])
{
    return (size_t)snprintf((char *)key, 8, "k%04u", i);
}

START_TEST(test_limit)
{
    ntoken *t, *s;
    crdt_dotctx *c = crdt_dotctx_new(NULL);
    crdt_buf snap, b;
    uint8_t key[8];
    size_t kl;
    unsigned i;

    tu_must(crdt_dotctx_add(c, (crdt_dot){3, 1}), "add");
    tu_must(ntoken_new(&t, NULL), "new");
    for (i = 0; i < NTOKEN_MAX_KEYS; i++) {
        kl = key_of(i, key);
        tu_must(ntoken_observe(t, key, kl, c), "observe");
    }
    ck_assert_uint_eq(ntoken_count(t), NTOKEN_MAX_KEYS);
    snap = enc_of(t);

    /* key 1025: LIMIT, unchanged */
    kl = key_of(NTOKEN_MAX_KEYS, key);
    ck_assert_int_eq(ntoken_observe(t, key, kl, c), CRDT_ERR_LIMIT);
    expect_same(t, &snap, "observe of key 1025");
    ck_assert_ptr_null(ntoken_find(t, key, kl));

    /* a merge bringing one new key: LIMIT, unchanged */
    tu_must(ntoken_new(&s, NULL), "new");
    tu_must(ntoken_observe(s, key, kl, c), "observe");
    ck_assert_int_eq(ntoken_merge(t, s), CRDT_ERR_LIMIT);
    expect_same(t, &snap, "merge to 1025 keys");

    /* existing keys still take new events */
    tu_must(crdt_dotctx_add(c, (crdt_dot){3, 2}), "add");
    kl = key_of(17, key);
    tu_must(ntoken_observe(t, key, kl, c), "observe of a present key");
    ck_assert(crdt_dotctx_equal(ntoken_find(t, key, kl), c));
    ck_assert_uint_eq(ntoken_count(t), NTOKEN_MAX_KEYS);

    /* 1024 keys decode; 1025 do not (LIMIT), target unchanged */
    expect_roundtrip(t, 0);
    crdt_buf_clear(&snap);
    snap = enc_of(s);
    {
        crdt_buf e;

        crdt_buf_init(&e, NULL);
        tu_must(crdt_dotctx_encode(c, &e), "encode");
        crdt_buf_init(&b, NULL);
        tu_must(mpw_array(&b, 2), "w");
        tu_must(mpw_uint(&b, 1), "w");
        tu_must(mpw_array(&b, NTOKEN_MAX_KEYS + 1), "w");
        for (i = 0; i <= NTOKEN_MAX_KEYS; i++) {
            kl = key_of(i, key);
            tu_must(mpw_array(&b, 2), "w");
            tu_must(mpw_bin(&b, key, kl), "w");
            tu_must(mpw_bin(&b, e.data, e.len), "w");
        }
        ck_assert_int_eq(ntoken_decode(s, b.data, b.len), CRDT_ERR_LIMIT);
        expect_same(s, &snap, "decode of 1025 keys");
        crdt_buf_clear(&e);
        crdt_buf_clear(&b);
    }

    crdt_buf_clear(&snap);
    crdt_dotctx_free(c);
    ntoken_free(t);
    ntoken_free(s);
}
END_TEST

/* 1024 keys of 1024 bytes (what the client protocol allows) pass
 * NTOKEN_MAX_BYTES: encode says LIMIT rather than hand out a token that
 * decode refuses; one key fewer of them fits and round-trips. */
START_TEST(test_limit_bytes)
{
    ntoken *t;
    crdt_dotctx *c = crdt_dotctx_new(NULL);
    uint8_t key[1024], fixed[8];
    crdt_buf b, f;
    unsigned i;
    size_t fits = 0;

    tu_must(crdt_dotctx_add(c, (crdt_dot){3, 1}), "add");
    tu_must(ntoken_new(&t, NULL), "new");
    memset(key, 'x', sizeof key);
    crdt_buf_init(&b, NULL);
    for (i = 0; i < NTOKEN_MAX_KEYS; i++) {
        key[0] = (uint8_t)(i >> 8);
        key[1] = (uint8_t)i;
        tu_must(ntoken_observe(t, key, sizeof key, c), "observe");
        if (i < 960) /* about 1037 bytes a key: these fit */
            continue;
        crdt_buf_reset(&b);
        tu_must(crdt_buf_append(&b, "ab", 2), "append");
        if (ntoken_encode(t, &b) == CRDT_OK) {
            fits = i + 1;
        } else {
            ck_assert_uint_eq(b.len, 2); /* out unchanged */
            break;
        }
    }
    ck_assert_uint_lt(fits, NTOKEN_MAX_KEYS);
    ck_assert_uint_gt(fits, 960);
    ck_assert_int_eq(ntoken_encode(t, &b), CRDT_ERR_LIMIT);
    crdt_buf_init_fixed(&f, fixed, sizeof fixed);
    ck_assert_int_ne(ntoken_encode(t, &f), CRDT_OK);
    ck_assert_uint_eq(f.len, 0);
    crdt_buf_clear(&b);
    crdt_dotctx_free(c);
    ntoken_free(t);
}
END_TEST

/* -------------------------------------------------------------- rejects */

/* A prefilled target: three keys. */
static ntoken *prefilled(void)
{
    tu_rng r;
    ntoken *t;

    tu_rng_init(&r, 4242);
    t = rand_token(&r, NULL, 3);
    ck_assert_uint_gt(ntoken_count(t), 0);
    return t;
}

/* Decoding in must fail with code and leave t as it was. */
static void expect_reject(ntoken *t, const uint8_t *in, size_t len, int code,
                          const char *what)
{
    crdt_buf snap = enc_of(t);
    uint8_t *copy = malloc(len ? len : 1); /* exactly len bytes */
    int rv;

    ck_assert_ptr_nonnull(copy);
    if (len)
        memcpy(copy, in, len);
    rv = ntoken_decode(t, copy, len);
    if (rv != code)
        ck_abort_msg("%s: decode gives %d (%s), expected %d", what, rv,
                     crdt_strerror(rv), code);
    expect_same(t, &snap, what);
    free(copy);
    crdt_buf_clear(&snap);
}

/* Writes [1, [[k, ctx]...]] of the n given keys with the context c. */
static void build(crdt_buf *b, uint64_t ver, const char *const *keys,
                  size_t n, const crdt_buf *c)
{
    size_t i;

    crdt_buf_reset(b);
    tu_must(mpw_array(b, 2), "w");
    tu_must(mpw_uint(b, ver), "w");
    tu_must(mpw_array(b, n), "w");
    for (i = 0; i < n; i++) {
        tu_must(mpw_array(b, 2), "w");
        tu_must(mpw_bin(b, keys[i], strlen(keys[i])), "w");
        tu_must(mpw_bin(b, c->data, c->len), "w");
    }
}

START_TEST(test_reject)
{
    static const char *const ab[] = {"a", "b"}, *const ba[] = {"b", "a"},
                             *const aa[] = {"a", "a"},
                             *const pre[] = {"ab", "a"},
                             *const empty[] = {"", "a"}, *const one[] = {"a"};
    ntoken *t = prefilled(), *u;
    crdt_dotctx *c = crdt_dotctx_new(NULL);
    crdt_buf ce, b, good;
    size_t cut;

    tu_must(crdt_dotctx_add(c, (crdt_dot){2, 1}), "add");
    tu_must(crdt_dotctx_add(c, (crdt_dot){4, 3}), "add");
    crdt_buf_init(&ce, NULL);
    crdt_buf_init(&b, NULL);
    crdt_buf_init(&good, NULL);
    tu_must(crdt_dotctx_encode(c, &ce), "encode");

    /* the well-formed one decodes (and is what the encoder writes) */
    build(&good, 1, ab, 2, &ce);
    tu_must(ntoken_new(&u, NULL), "new");
    tu_must(ntoken_decode(u, good.data, good.len), "decode of [1,[a,b]]");
    ck_assert_uint_eq(ntoken_count(u), 2);
    {
        crdt_buf e = enc_of(u);

        ck_assert(buf_eq(&e, good.data, good.len));
        crdt_buf_clear(&e);
    }

    /* wrong version */
    build(&b, 2, ab, 2, &ce);
    expect_reject(t, b.data, b.len, CRDT_ERR_VERSION, "version 2");
    build(&b, 0, ab, 2, &ce);
    expect_reject(t, b.data, b.len, CRDT_ERR_VERSION, "version 0");
    build(&b, 300, ab, 2, &ce);
    expect_reject(t, b.data, b.len, CRDT_ERR_VERSION, "version 300");

    /* unsorted, duplicate, prefix-after-longer, empty keys */
    build(&b, 1, ba, 2, &ce);
    expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "unsorted keys");
    build(&b, 1, aa, 2, &ce);
    expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "duplicate keys");
    build(&b, 1, pre, 2, &ce);
    expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "ab before a");
    build(&b, 1, empty, 2, &ce);
    expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "empty key");
    build(&b, 1, empty, 1, &ce);
    expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "only an empty key");

    /* [1, []]: the empty token is the empty string */
    build(&b, 1, ab, 0, &ce);
    expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "[1, []]");

    /* non-shortest integers and headers */
    {
        static const uint8_t ver8[] = {0x92, 0xcc, 0x01, 0x91};
        static const uint8_t arr16[] = {0xdc, 0x00, 0x02, 0x01};
        static const uint8_t arr32[] = {0xdd, 0x00, 0x00, 0x00, 0x02, 0x01};
        static const uint8_t ver16[] = {0x92, 0xcd, 0x00, 0x01};
        static const uint8_t ver64[] = {0x92, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1};
        uint8_t x[64];

        /* the rest of `good` after its header bytes, spliced in */
        memcpy(x, ver8, sizeof ver8 - 1);
        memcpy(x + 3, good.data + 2, good.len - 2);
        expect_reject(t, x, good.len + 1, CRDT_ERR_DECODE, "version 0xcc 01");
        memcpy(x, ver16, sizeof ver16);
        memcpy(x + 4, good.data + 2, good.len - 2);
        expect_reject(t, x, good.len + 2, CRDT_ERR_DECODE, "version 0xcd");
        memcpy(x, ver64, sizeof ver64);
        memcpy(x + 10, good.data + 2, good.len - 2);
        expect_reject(t, x, good.len + 8, CRDT_ERR_DECODE, "version 0xcf");
        memcpy(x, arr16, sizeof arr16);
        memcpy(x + 4, good.data + 2, good.len - 2);
        expect_reject(t, x, good.len + 2, CRDT_ERR_DECODE, "array16 of 2");
        memcpy(x, arr32, sizeof arr32);
        memcpy(x + 6, good.data + 2, good.len - 2);
        expect_reject(t, x, good.len + 4, CRDT_ERR_DECODE, "array32 of 2");

        /* the keys' array as array16 */
        memcpy(x, good.data, 2);
        x[2] = 0xdc, x[3] = 0, x[4] = 2;
        memcpy(x + 5, good.data + 3, good.len - 3);
        expect_reject(t, x, good.len + 2, CRDT_ERR_DECODE, "keys array16");
        /* the first entry's array as array16 */
        memcpy(x, good.data, 3);
        x[3] = 0xdc, x[4] = 0, x[5] = 2;
        memcpy(x + 6, good.data + 4, good.len - 4);
        expect_reject(t, x, good.len + 2, CRDT_ERR_DECODE, "entry array16");
        /* the first key as bin16 */
        memcpy(x, good.data, 4);
        x[4] = 0xc5, x[5] = 0, x[6] = 1;
        memcpy(x + 7, good.data + 6, good.len - 6);
        expect_reject(t, x, good.len + 1, CRDT_ERR_DECODE, "key bin16");
        /* the first key as bin32 */
        memcpy(x, good.data, 4);
        x[4] = 0xc6, x[5] = 0, x[6] = 0, x[7] = 0, x[8] = 1;
        memcpy(x + 9, good.data + 6, good.len - 6);
        expect_reject(t, x, good.len + 3, CRDT_ERR_DECODE, "key bin32");
        /* the first key as str8 / fixstr */
        memcpy(x, good.data, good.len);
        x[4] = 0xd9;
        expect_reject(t, x, good.len, CRDT_ERR_DECODE, "key str8");
        memcpy(x, good.data, 4);
        x[4] = 0xa1;
        memcpy(x + 5, good.data + 6, good.len - 6);
        expect_reject(t, x, good.len - 1, CRDT_ERR_DECODE, "key fixstr");
        /* an entry of 3 elements, a top array of 3 */
        memcpy(x, good.data, good.len);
        x[3] = 0x93;
        expect_reject(t, x, good.len, CRDT_ERR_DECODE, "entry of 3");
        memcpy(x, good.data, good.len);
        x[0] = 0x93;
        expect_reject(t, x, good.len, CRDT_ERR_DECODE, "top array of 3");
        x[0] = 0x91;
        expect_reject(t, x, good.len, CRDT_ERR_DECODE, "top array of 1");
        /* a map instead of the top array */
        memcpy(x, good.data, good.len);
        x[0] = 0x82;
        expect_reject(t, x, good.len, CRDT_ERR_DECODE, "top map");
        /* a negative version */
        memcpy(x, good.data, good.len);
        x[1] = 0xff;
        expect_reject(t, x, good.len, CRDT_ERR_DECODE, "version -1");
        /* more keys declared than present */
        memcpy(x, good.data, good.len);
        x[2] = 0x93;
        expect_reject(t, x, good.len, CRDT_ERR_DECODE, "3 keys declared");
        /* fewer keys declared: trailing bytes */
        x[2] = 0x91;
        expect_reject(t, x, good.len, CRDT_ERR_DECODE, "1 key declared");
    }

    /* a context that is not a dotctx encoding; a non-canonical one */
    {
        crdt_buf bad;
        static const uint8_t junk[] = {0x01, 0x02, 0x03};

        crdt_buf_init(&bad, NULL);
        tu_must(crdt_buf_append(&bad, junk, sizeof junk), "append");
        build(&b, 1, one, 1, &bad);
        expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "junk context");
        crdt_buf_reset(&bad);
        tu_must(crdt_buf_append(&bad, ce.data, ce.len - 1), "append");
        build(&b, 1, one, 1, &bad);
        expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "short context");
        crdt_buf_reset(&bad);
        tu_must(crdt_buf_append(&bad, ce.data, ce.len), "append");
        tu_must(crdt_buf_append(&bad, "", 1), "append");
        build(&b, 1, one, 1, &bad);
        expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "context + 1 byte");
        /* a context of another format version or type: the token is
         * malformed (neither the token's VERSION nor TYPE) */
        ck_assert_uint_eq(ce.data[1], 0x01);
        ck_assert_uint_eq(ce.data[2], CRDT_TAG_DOTCTX);
        crdt_buf_reset(&bad);
        tu_must(crdt_buf_append(&bad, ce.data, ce.len), "append");
        bad.data[1] = 0x02;
        build(&b, 1, one, 1, &bad);
        expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "context version 2");
        bad.data[1] = 0x01;
        bad.data[2] = CRDT_TAG_VCLOCK;
        build(&b, 1, one, 1, &bad);
        expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "context of a vclock");
        crdt_buf_clear(&bad);
    }

    /* trailing bytes */
    crdt_buf_reset(&b);
    tu_must(crdt_buf_append(&b, good.data, good.len), "append");
    tu_must(crdt_buf_append(&b, "", 1), "append");
    expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "a trailing byte");
    tu_must(crdt_buf_append(&b, good.data, good.len), "append");
    expect_reject(t, b.data, b.len, CRDT_ERR_DECODE, "two tokens");

    /* truncation at every offset (but 0, the empty token) */
    for (cut = 1; cut < good.len; cut++) {
        char what[48];

        snprintf(what, sizeof what, "truncated to %zu", cut);
        expect_reject(t, good.data, cut, CRDT_ERR_DECODE, what);
    }

    /* over-long: LIMIT before anything is read */
    {
        size_t big = NTOKEN_MAX_BYTES + 1;
        uint8_t *p = calloc(1, big);

        ck_assert_ptr_nonnull(p);
        memcpy(p, good.data, good.len);
        expect_reject(t, p, big, CRDT_ERR_LIMIT, "over NTOKEN_MAX_BYTES");
        free(p);
    }

    crdt_buf_clear(&ce);
    crdt_buf_clear(&b);
    crdt_buf_clear(&good);
    crdt_dotctx_free(c);
    ntoken_free(t);
    ntoken_free(u);
}
END_TEST

/* The reader of mp.h takes only shortest forms; the writer writes them. */
START_TEST(test_mp_shortest)
{
    static const uint64_t u[] = {0, 1, 127, 128, 255, 256, 65535, 65536,
                                 0xffffffffu, 0x100000000u, UINT64_MAX};
    static const int64_t s[] = {-1, -32, -33, -128, -129, -32768, -32769,
                                INT32_MIN, (int64_t)INT32_MIN - 1,
                                INT64_MIN, 0, 5, INT64_MAX};
    static const size_t lens[] = {0, 15, 16, 255, 256, 65535, 65536};
    crdt_buf b;
    size_t i, want;
    mpr r;

    crdt_buf_init(&b, NULL);
    for (i = 0; i < sizeof u / sizeof *u; i++) {
        uint64_t v = 7, x = u[i];

        crdt_buf_reset(&b);
        tu_must(mpw_uint(&b, x), "mpw_uint");
        want = x < 128 ? 1 : x <= 0xff ? 2 : x <= 0xffff ? 3
               : x <= 0xffffffffu ? 5 : 9;
        ck_assert_uint_eq(b.len, want);
        mpr_init(&r, b.data, b.len);
        ck_assert(mpr_uint(&r, &v) && v == x && r.p == r.end);
        /* the same value one width wider is rejected */
        if (want < 9) {
            uint8_t w[9];
            unsigned bytes = want == 1 ? 1 : (unsigned)(want - 1) * 2, k;
            static const uint8_t tag[9] = {0, 0xcc, 0xcd, 0, 0xce,
                                           0, 0, 0, 0xcf};

            w[0] = tag[bytes];
            for (k = 0; k < bytes; k++)
                w[1 + k] = (uint8_t)(x >> (8 * (bytes - 1 - k)));
            mpr_init(&r, w, 1 + bytes);
            ck_assert_msg(!mpr_uint(&r, &v), "wide form of %llu accepted",
                          (unsigned long long)x);
        }
        /* every truncation is rejected */
        for (want = 0; want < b.len; want++) {
            mpr_init(&r, b.data, want);
            ck_assert(!mpr_uint(&r, &v));
        }
    }
    for (i = 0; i < sizeof s / sizeof *s; i++) {
        int64_t v = 7, x = s[i];

        crdt_buf_reset(&b);
        tu_must(mpw_int(&b, x), "mpw_int");
        mpr_init(&r, b.data, b.len);
        ck_assert(mpr_int(&r, &v) && v == x && r.p == r.end);
        for (want = 0; want < b.len; want++) {
            mpr_init(&r, b.data, want);
            ck_assert(!mpr_int(&r, &v));
        }
    }
    {
        /* wide forms of negative ints: int16 -1, int8 5 */
        static const uint8_t w1[] = {0xd1, 0xff, 0xff}, w2[] = {0xd0, 0x05};
        int64_t v;

        mpr_init(&r, w1, sizeof w1);
        ck_assert(!mpr_int(&r, &v));
        mpr_init(&r, w2, sizeof w2);
        ck_assert(!mpr_int(&r, &v));
    }
    for (i = 0; i < sizeof lens / sizeof *lens; i++) {
        uint8_t *p = calloc(1, lens[i] + 1);
        const uint8_t *q;
        size_t n;
        uint64_t an;

        ck_assert_ptr_nonnull(p);
        crdt_buf_reset(&b);
        tu_must(mpw_bin(&b, p, lens[i]), "mpw_bin");
        mpr_init(&r, b.data, b.len);
        ck_assert(mpr_bin(&r, &q, &n) && n == lens[i] && r.p == r.end);
        mpr_init(&r, b.data, b.len - 1);
        ck_assert(!mpr_bin(&r, &q, &n));
        /* an array header of lens[i] elements, then that many bytes */
        crdt_buf_reset(&b);
        tu_must(mpw_array(&b, lens[i]), "mpw_array");
        want = lens[i] < 16 ? 1 : lens[i] <= 0xffff ? 3 : 5;
        ck_assert_uint_eq(b.len, want);
        tu_must(crdt_buf_append(&b, p, lens[i]), "append");
        mpr_init(&r, b.data, b.len);
        ck_assert(mpr_array(&r, &an) && an == lens[i]);
        if (lens[i] > 0) { /* more elements than bytes left */
            mpr_init(&r, b.data, b.len - 1);
            ck_assert(!mpr_array(&r, &an));
        }
        free(p);
    }
    crdt_buf_clear(&b);
}
END_TEST

/* ------------------------------------------------------------ mutations */

START_TEST(test_mutations)
{
    tu_rng rng;
    long n = tu_cases(4000), k, accepted = 0, rejected = 0;
    ntoken *t = prefilled();
    crdt_buf snap = enc_of(t);

    tu_rng_init(&rng, tu_seed(SUITE) ^ 0x3);
    for (k = 0; k < n; k++) {
        ntoken *src = rand_token(&rng, NULL, 1 + tu_below(&rng, 6));
        crdt_buf e = enc_of(src);
        uint8_t *m;
        size_t len = e.len, i, muts = 1 + tu_below(&rng, 3), j;
        int rv;

        m = malloc(len + 8);
        ck_assert_ptr_nonnull(m);
        memcpy(m, e.data, len);
        for (j = 0; j < muts; j++) {
            switch (tu_below(&rng, 5)) {
            case 0: /* bit flip */
            case 1:
                if (len) {
                    i = tu_below(&rng, len);
                    m[i] ^= (uint8_t)(1u << tu_below(&rng, 8));
                }
                break;
            case 2: /* byte insert */
                if (len < e.len + 8) {
                    i = tu_below(&rng, len + 1);
                    memmove(m + i + 1, m + i, len - i);
                    m[i] = (uint8_t)tu_rand(&rng);
                    len++;
                }
                break;
            case 3: /* byte delete */
                if (len) {
                    i = tu_below(&rng, len);
                    memmove(m + i, m + i + 1, len - i - 1);
                    len--;
                }
                break;
            default: /* truncation */
                len = tu_below(&rng, len + 1);
                break;
            }
        }
        {
            /* exactly len bytes, so valgrind / ASan see any over-read */
            uint8_t *copy = malloc(len ? len : 1);

            ck_assert_ptr_nonnull(copy);
            memcpy(copy, m, len);
            rv = ntoken_decode(t, copy, len);
            if (rv == CRDT_OK) {
                crdt_buf re = enc_of(t);

                accepted++;
                tu_expect_k(buf_eq(&re, copy, len),
                            "an accepted mutation re-encodes to itself", k);
                crdt_buf_clear(&re);
                /* back to the prefilled state */
                tu_must_k(ntoken_decode(t, snap.data, snap.len), "decode",
                          k);
            } else {
                rejected++;
                if (rv != CRDT_ERR_DECODE && rv != CRDT_ERR_VERSION &&
                    rv != CRDT_ERR_LIMIT)
                    ck_abort_msg("case %ld: decode of a mutation gives %d "
                                 "(%s), not a documented error",
                                 k, rv, crdt_strerror(rv));
                expect_same(t, &snap, "rejected mutation");
            }
            free(copy);
        }
        free(m);
        crdt_buf_clear(&e);
        ntoken_free(src);
    }
    ck_assert_int_gt(rejected, 0);
    printf(SUITE ": %ld mutations, %ld accepted, %ld rejected\n", n,
           accepted, rejected);
    crdt_buf_clear(&snap);
    ntoken_free(t);
}
END_TEST

/* --------------------------------------------------- allocation failures */

enum { OP_OBSERVE_NEW1, OP_OBSERVE_NEW_GROW, OP_OBSERVE_OLD, OP_MERGE,
       OP_DECODE, OP_ENCODE, OP_NEW, NOPS };

static const char *const op_names[NOPS] = {
    "observe (new key)", "observe (new key, array grows)",
    "observe (present key)", "merge", "decode", "encode", "new"};

START_TEST(test_nomem)
{
    int op = _i;
    long nfail;
    tu_rng rng;

    for (nfail = 0;; nfail++) {
        tu_mem tm;
        ntoken *t = NULL, *src = NULL, *made = NULL;
        crdt_dotctx *c;
        crdt_buf snap, in, out;
        long live;
        int rv = CRDT_OK;
        uint8_t key[8];
        size_t kl = 0;

        ck_assert_msg(nfail < 1000, "%s: no success in 1000 failures",
                      op_names[op]);
        tu_mem_init(&tm);
        tu_rng_init(&rng, 99);
        c = crdt_dotctx_new(NULL);
        tu_must(crdt_dotctx_add(c, (crdt_dot){11, 1}), "add");
        tu_must(crdt_dotctx_add(c, (crdt_dot){11, 5}), "add");
        tu_must(crdt_dotctx_add(c, (crdt_dot){12, 9}), "add");
        tu_must(ntoken_new(&t, &tm.mem), "new");
        tu_must(ntoken_new(&src, &tm.mem), "new");
        /* t: "k0000".."k000(n-1)"; src: "k0001", "k0100" */
        {
            unsigned i, nk = op == OP_OBSERVE_NEW1 ? 1
                             : op == OP_OBSERVE_NEW_GROW ? 4 : 3;
            crdt_dotctx *c0 = rand_ctx(&rng, NULL);

            for (i = 0; i < nk; i++) {
                kl = key_of(i, key);
                tu_must(ntoken_observe(t, key, kl, c0), "observe");
            }
            kl = key_of(1, key);
            tu_must(ntoken_observe(src, key, kl, c), "observe");
            kl = key_of(100, key);
            tu_must(ntoken_observe(src, key, kl, c0), "observe");
            crdt_dotctx_free(c0);
        }
        crdt_buf_init(&in, NULL);
        crdt_buf_init(&out, &tm.mem);
        tu_must(ntoken_encode(src, &in), "encode");
        snap = enc_of(t);
        kl = key_of(op == OP_OBSERVE_OLD ? 1 : 500, key);

        live = tm.live;
        tu_mem_fail_at(&tm, nfail);
        switch (op) {
        case OP_OBSERVE_NEW1:
        case OP_OBSERVE_NEW_GROW:
        case OP_OBSERVE_OLD:
            rv = ntoken_observe(t, key, kl, c);
            break;
        case OP_MERGE:
            rv = ntoken_merge(t, src);
            break;
        case OP_DECODE:
            rv = ntoken_decode(t, in.data, in.len);
            break;
        case OP_ENCODE:
            rv = ntoken_encode(t, &out);
            break;
        default:
            rv = ntoken_new(&made, &tm.mem);
            break;
        }
        tu_mem_off(&tm);
        if (rv != CRDT_OK) {
            if (rv != CRDT_ERR_NOMEM)
                ck_abort_msg("%s, allocation %ld fails: %s", op_names[op],
                             nfail, crdt_strerror(rv));
            expect_same(t, &snap, op_names[op]);
            ck_assert_uint_eq(out.len, 0);
            /* out may keep the storage it grew (its length is what is
             * unchanged): count only what is not out's */
            crdt_buf_clear(&out);
            if (tm.live != live)
                ck_abort_msg("%s, allocation %ld fails: %ld blocks leaked",
                             op_names[op], nfail, tm.live - live);
        } else {
            /* success: the result is the expected one */
            const crdt_dotctx *got;

            switch (op) {
            case OP_OBSERVE_OLD:
            case OP_OBSERVE_NEW1:
            case OP_OBSERVE_NEW_GROW:
                got = ntoken_find(t, key, kl);
                ck_assert_ptr_nonnull(got);
                ck_assert(ntoken_ctx_covers(got, c));
                break;
            case OP_MERGE: {
                size_t i;

                for (i = 0; i < ntoken_count(src); i++) {
                    const uint8_t *sk;
                    size_t skl;
                    const crdt_dotctx *sc;

                    tu_must(ntoken_at(src, i, &sk, &skl, &sc), "at");
                    got = ntoken_find(t, sk, skl);
                    ck_assert_ptr_nonnull(got);
                    ck_assert(ntoken_ctx_covers(got, sc));
                }
                break;
            }
            case OP_DECODE: {
                crdt_buf e = enc_of(t);

                ck_assert(buf_eq(&e, in.data, in.len));
                crdt_buf_clear(&e);
                break;
            }
            case OP_ENCODE:
                ck_assert(buf_eq(&out, snap.data, snap.len));
                break;
            default:
                ck_assert_ptr_nonnull(made);
                break;
            }
        }
        crdt_buf_clear(&out);
        crdt_buf_clear(&in);
        crdt_buf_clear(&snap);
        crdt_dotctx_free(c);
        ntoken_free(t);
        ntoken_free(src);
        ntoken_free(made);
        if (tm.live != 0)
            ck_abort_msg("%s: %ld blocks live after freeing everything",
                         op_names[op], tm.live);
        if (rv == CRDT_OK) {
            /* every one of these allocates */
            ck_assert_msg(nfail > 0, "%s never allocated", op_names[op]);
            break;
        }
    }
}
END_TEST

static Suite *ntoken_suite(void)
{
    Suite *s = suite_create(SUITE);
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_encoding_layout);
    tcase_add_test(tc, test_model);
    tcase_add_test(tc, test_covers);
    tcase_add_test(tc, test_limit);
    tcase_add_test(tc, test_limit_bytes);
    tcase_add_test(tc, test_reject);
    tcase_add_test(tc, test_mp_shortest);
    tcase_add_test(tc, test_mutations);
    tcase_add_loop_test(tc, test_nomem, 0, NOPS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ntoken_suite());
    int failed;

    tu_seed(SUITE); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
