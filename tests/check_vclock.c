/* SPDX-License-Identifier: MIT */
/*
 * Version vector suite: operations, the four orders, the causal delivery
 * rule, codec (canonical bytes, hostile input), join-law properties against
 * a reference model, and allocation-failure injection.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/vclock.h>

#include "testutil.h"

static crdt_vclock *mk(const crdt_mem *mem, size_t n, const uint64_t *pairs)
{
    crdt_vclock *vc = crdt_vclock_new(mem);
    size_t i;

    ck_assert_ptr_nonnull(vc);
    for (i = 0; i < n; i++)
        ck_assert_int_eq(crdt_vclock_set(vc, pairs[2 * i], pairs[2 * i + 1]),
                         CRDT_OK);
    return vc;
}

static void encode(const crdt_vclock *vc, crdt_buf *b)
{
    crdt_buf_init(b, NULL);
    ck_assert_int_eq(crdt_vclock_encode(vc, b), CRDT_OK);
}

/* ---------------------------------------------------------------- basic */

START_TEST(test_vclock_basic_get_set)
{
    crdt_vclock *vc = crdt_vclock_new(NULL);
    crdt_actor a;
    uint64_t c;

    ck_assert_uint_eq(crdt_vclock_size(vc), 0);
    ck_assert_uint_eq(crdt_vclock_get(vc, 7), 0);
    ck_assert_int_eq(crdt_vclock_set(vc, 7, 3), CRDT_OK);
    ck_assert_int_eq(crdt_vclock_set(vc, 2, 5), CRDT_OK);
    ck_assert_int_eq(crdt_vclock_set(vc, 9, 1), CRDT_OK);
    ck_assert_uint_eq(crdt_vclock_size(vc), 3);
    ck_assert_uint_eq(crdt_vclock_get(vc, 7), 3);
    ck_assert_uint_eq(crdt_vclock_get(vc, 2), 5);
    ck_assert_uint_eq(crdt_vclock_get(vc, 8), 0);
    /* iteration is in ascending actor order */
    ck_assert_int_eq(crdt_vclock_entry(vc, 0, &a, &c), CRDT_OK);
    ck_assert_uint_eq(a, 2);
    ck_assert_uint_eq(c, 5);
    ck_assert_int_eq(crdt_vclock_entry(vc, 2, &a, &c), CRDT_OK);
    ck_assert_uint_eq(a, 9);
    ck_assert_int_eq(crdt_vclock_entry(vc, 3, &a, &c), CRDT_ERR_NOT_FOUND);
    /* setting 0 removes the entry */
    ck_assert_int_eq(crdt_vclock_set(vc, 7, 0), CRDT_OK);
    ck_assert_uint_eq(crdt_vclock_size(vc), 2);
    ck_assert_uint_eq(crdt_vclock_get(vc, 7), 0);
    ck_assert_int_eq(crdt_vclock_set(NULL, 1, 1), CRDT_ERR_INVALID_ARG);
    crdt_vclock_free(vc);
}
END_TEST

START_TEST(test_vclock_basic_increment)
{
    crdt_vclock *vc = crdt_vclock_new(NULL);
    uint64_t c = 0;

    ck_assert_int_eq(crdt_vclock_increment(vc, 42, &c), CRDT_OK);
    ck_assert_uint_eq(c, 1);
    ck_assert_int_eq(crdt_vclock_increment(vc, 42, &c), CRDT_OK);
    ck_assert_uint_eq(c, 2);
    ck_assert_int_eq(crdt_vclock_set(vc, 5, UINT64_MAX), CRDT_OK);
    c = 77;
    ck_assert_int_eq(crdt_vclock_increment(vc, 5, &c), CRDT_ERR_OVERFLOW);
    ck_assert_uint_eq(c, 77);
    ck_assert_uint_eq(crdt_vclock_get(vc, 5), UINT64_MAX);
    crdt_vclock_free(vc);
}
END_TEST

START_TEST(test_vclock_basic_copy_clone)
{
    const uint64_t p[] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6};
    crdt_vclock *a = mk(NULL, 6, p), *b = crdt_vclock_new(NULL), *c;

    ck_assert_int_eq(crdt_vclock_copy(b, a), CRDT_OK);
    ck_assert(crdt_vclock_equal(a, b));
    c = crdt_vclock_clone(a);
    ck_assert_ptr_nonnull(c);
    ck_assert(crdt_vclock_equal(a, c));
    ck_assert_int_eq(crdt_vclock_set(c, 1, 9), CRDT_OK);
    ck_assert_uint_eq(crdt_vclock_get(a, 1), 1); /* deep copy */
    ck_assert_int_eq(crdt_vclock_copy(a, a), CRDT_OK);
    crdt_vclock_free(a);
    crdt_vclock_free(b);
    crdt_vclock_free(c);
}
END_TEST

/* -------------------------------------------------------------- compare */

START_TEST(test_vclock_compare_cases)
{
    const uint64_t pa[] = {1, 2, 2, 1};
    const uint64_t pb[] = {1, 2, 2, 2};       /* b > a */
    const uint64_t pc[] = {1, 3, 2, 1};       /* c || b */
    const uint64_t pd[] = {1, 2, 2, 1, 3, 1}; /* d > a (extra actor) */
    const uint64_t pe[] = {2, 1, 3, 1};       /* e || a (missing actor) */
    crdt_vclock *a = mk(NULL, 2, pa), *b = mk(NULL, 2, pb);
    crdt_vclock *c = mk(NULL, 2, pc), *d = mk(NULL, 3, pd);
    crdt_vclock *e = mk(NULL, 2, pe), *z = crdt_vclock_new(NULL);
    crdt_vclock *a2 = mk(NULL, 2, pa);

    ck_assert_int_eq(crdt_vclock_compare(a, a2), CRDT_EQUAL);
    ck_assert_int_eq(crdt_vclock_compare(a, b), CRDT_BEFORE);
    ck_assert_int_eq(crdt_vclock_compare(b, a), CRDT_AFTER);
    ck_assert_int_eq(crdt_vclock_compare(b, c), CRDT_CONCURRENT);
    ck_assert_int_eq(crdt_vclock_compare(c, b), CRDT_CONCURRENT);
    ck_assert_int_eq(crdt_vclock_compare(d, a), CRDT_AFTER);
    ck_assert_int_eq(crdt_vclock_compare(a, d), CRDT_BEFORE);
    ck_assert_int_eq(crdt_vclock_compare(a, e), CRDT_CONCURRENT);
    ck_assert_int_eq(crdt_vclock_compare(z, a), CRDT_BEFORE);
    ck_assert_int_eq(crdt_vclock_compare(a, z), CRDT_AFTER);
    ck_assert_int_eq(crdt_vclock_compare(z, NULL), CRDT_EQUAL);
    ck_assert(crdt_vclock_dominates(b, a));
    ck_assert(crdt_vclock_dominates(a, a2));
    ck_assert(!crdt_vclock_dominates(a, b));
    ck_assert(crdt_vclock_concurrent(b, c));
    ck_assert(!crdt_vclock_concurrent(a, b));
    ck_assert(crdt_vclock_equal(a, a2));
    ck_assert(!crdt_vclock_equal(a, d));
    ck_assert_str_eq(crdt_order_name(CRDT_CONCURRENT), "concurrent");
    crdt_vclock_free(a);
    crdt_vclock_free(a2);
    crdt_vclock_free(b);
    crdt_vclock_free(c);
    crdt_vclock_free(d);
    crdt_vclock_free(e);
    crdt_vclock_free(z);
}
END_TEST

START_TEST(test_vclock_compare_can_deliver)
{
    const uint64_t pl[] = {1, 3, 2, 5};
    crdt_vclock *local = mk(NULL, 2, pl);
    crdt_vclock *m = crdt_vclock_new(NULL);

    /* sender 1's next message, depending on nothing new: deliverable */
    ck_assert_int_eq(crdt_vclock_set(m, 1, 4), CRDT_OK);
    ck_assert_int_eq(crdt_vclock_set(m, 2, 5), CRDT_OK);
    ck_assert(crdt_vclock_can_deliver(local, m, 1));
    /* a gap from the sender: not yet */
    ck_assert_int_eq(crdt_vclock_set(m, 1, 5), CRDT_OK);
    ck_assert(!crdt_vclock_can_deliver(local, m, 1));
    /* a duplicate (already delivered) */
    ck_assert_int_eq(crdt_vclock_set(m, 1, 3), CRDT_OK);
    ck_assert(!crdt_vclock_can_deliver(local, m, 1));
    /* depends on an event of actor 2 not delivered here yet */
    ck_assert_int_eq(crdt_vclock_set(m, 1, 4), CRDT_OK);
    ck_assert_int_eq(crdt_vclock_set(m, 2, 6), CRDT_OK);
    ck_assert(!crdt_vclock_can_deliver(local, m, 1));
    /* depends on an unknown actor 3 */
    ck_assert_int_eq(crdt_vclock_set(m, 2, 5), CRDT_OK);
    ck_assert_int_eq(crdt_vclock_set(m, 3, 1), CRDT_OK);
    ck_assert(!crdt_vclock_can_deliver(local, m, 1));
    /* first message of a new sender 3 */
    ck_assert_int_eq(crdt_vclock_set(m, 1, 3), CRDT_OK);
    ck_assert(crdt_vclock_can_deliver(local, m, 3));
    /* a message that does not count its own sender is never next */
    ck_assert(!crdt_vclock_can_deliver(local, m, 9));
    crdt_vclock_free(local);
    crdt_vclock_free(m);
}
END_TEST

/* ---------------------------------------------------------------- merge */

START_TEST(test_vclock_merge_cases)
{
    const uint64_t pa[] = {1, 5, 3, 1, 7, 2};
    const uint64_t pb[] = {0, 9, 3, 4, 8, 1};
    crdt_vclock *a = mk(NULL, 3, pa), *b = mk(NULL, 3, pb);

    ck_assert_int_eq(crdt_vclock_merge(a, b), CRDT_OK);
    ck_assert_uint_eq(crdt_vclock_size(a), 5);
    ck_assert_uint_eq(crdt_vclock_get(a, 0), 9);
    ck_assert_uint_eq(crdt_vclock_get(a, 1), 5);
    ck_assert_uint_eq(crdt_vclock_get(a, 3), 4);
    ck_assert_uint_eq(crdt_vclock_get(a, 7), 2);
    ck_assert_uint_eq(crdt_vclock_get(a, 8), 1);
    ck_assert_int_eq(crdt_vclock_merge(a, a), CRDT_OK);
    ck_assert_uint_eq(crdt_vclock_size(a), 5);
    ck_assert_int_eq(crdt_vclock_merge(a, NULL), CRDT_ERR_INVALID_ARG);
    crdt_vclock_free(a);
    crdt_vclock_free(b);
}
END_TEST

/* ---------------------------------------------------------------- codec */

START_TEST(test_vclock_codec_bytes)
{
    /* [1, 1, {5: 1, 300: 70000}] */
    const uint8_t want[] = {0x93, 0x01, 0x01, 0x82, 0x05, 0x01, 0xcd,
                            0x01, 0x2c, 0xce, 0x00, 0x01, 0x11, 0x70};
    const uint64_t p[] = {300, 70000, 5, 1};
    crdt_vclock *vc = mk(NULL, 2, p), *d = crdt_vclock_new(NULL);
    crdt_buf b;
    uint8_t small[4];
    crdt_buf fb;

    encode(vc, &b);
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert_mem_eq(b.data, want, sizeof want);
    ck_assert_int_eq(crdt_vclock_decode(d, b.data, b.len, NULL, NULL),
                     CRDT_OK);
    ck_assert(crdt_vclock_equal(vc, d));
    /* a fixed buffer that is too small: error, nothing written */
    crdt_buf_init_fixed(&fb, small, sizeof small);
    ck_assert_int_eq(crdt_vclock_encode(vc, &fb), CRDT_ERR_BUFFER);
    ck_assert_uint_eq(fb.len, 0);
    /* a fixed buffer of exactly the encoded size suffices (the encoder's
     * upper bound, 15 + 18 n, does not) */
    {
        uint8_t exact[sizeof want];

        crdt_buf_init_fixed(&fb, exact, sizeof exact);
        ck_assert_int_eq(crdt_vclock_encode(vc, &fb), CRDT_OK);
        ck_assert_uint_eq(fb.len, sizeof want);
        ck_assert_mem_eq(exact, want, sizeof want);
        crdt_buf_init_fixed(&fb, exact, sizeof exact - 1);
        ck_assert_int_eq(crdt_vclock_encode(vc, &fb), CRDT_ERR_BUFFER);
        ck_assert_uint_eq(fb.len, 0);
    }
    crdt_buf_clear(&b);
    crdt_vclock_free(vc);
    crdt_vclock_free(d);
}
END_TEST

static void expect_reject(const uint8_t *in, size_t len, int code,
                          size_t offset)
{
    const uint64_t p[] = {1, 1};
    crdt_vclock *d = mk(NULL, 1, p);

    tu_expect_reject(crdt_vclock_type(), d, in, len, NULL, code, offset);
    ck_assert_uint_eq(crdt_vclock_size(d), 1); /* untouched */
    ck_assert_uint_eq(crdt_vclock_get(d, 1), 1);
    crdt_vclock_free(d);
}

START_TEST(test_vclock_codec_reject)
{
    const uint8_t unsorted[] = {0x93, 0x01, 0x01, 0x82, 0x05, 0x01, 0x03, 0x01};
    const uint8_t dup[] = {0x93, 0x01, 0x01, 0x82, 0x05, 0x01, 0x05, 0x02};
    const uint8_t zero[] = {0x93, 0x01, 0x01, 0x81, 0x05, 0x00};
    const uint8_t longint[] = {0x93, 0x01, 0x01, 0x81, 0xcc, 0x05, 0x01};
    const uint8_t badver[] = {0x93, 0x02, 0x01, 0x80};
    const uint8_t badtag[] = {0x93, 0x01, 0x03, 0x80};
    const uint8_t trailing[] = {0x93, 0x01, 0x01, 0x80, 0x00};
    const uint8_t huge[] = {0x93, 0x01, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff};
    const uint8_t extra[] = {0x94, 0x01, 0x01, 0x80, 0x80};

    expect_reject(unsorted, sizeof unsorted, CRDT_ERR_DECODE, 6);
    expect_reject(dup, sizeof dup, CRDT_ERR_DECODE, 6);
    expect_reject(zero, sizeof zero, CRDT_ERR_DECODE, 5);
    expect_reject(longint, sizeof longint, CRDT_ERR_DECODE, 4);
    expect_reject(badver, sizeof badver, CRDT_ERR_VERSION, 1);
    expect_reject(badtag, sizeof badtag, CRDT_ERR_TYPE, 2);
    expect_reject(trailing, sizeof trailing, CRDT_ERR_DECODE, 4);
    expect_reject(huge, sizeof huge, CRDT_ERR_DECODE, 3);
    expect_reject(extra, sizeof extra, CRDT_ERR_DECODE, 0);
    expect_reject(NULL, 0, CRDT_ERR_DECODE, 0);
}
END_TEST

START_TEST(test_vclock_codec_limit)
{
    const uint64_t p[] = {1, 1, 2, 2, 3, 3};
    crdt_vclock *vc = mk(NULL, 3, p), *d = crdt_vclock_new(NULL);
    crdt_limits lim;
    crdt_buf b;

    encode(vc, &b);
    crdt_limits_default(&lim);
    lim.max_actors = 2;
    ck_assert_int_eq(crdt_vclock_decode(d, b.data, b.len, &lim, NULL),
                     CRDT_ERR_LIMIT);
    ck_assert_uint_eq(crdt_vclock_size(d), 0);
    lim.max_actors = 3;
    ck_assert_int_eq(crdt_vclock_decode(d, b.data, b.len, &lim, NULL),
                     CRDT_OK);
    crdt_buf_clear(&b);
    crdt_vclock_free(vc);
    crdt_vclock_free(d);
}
END_TEST

START_TEST(test_vclock_codec_truncated)
{
    tu_rng rng;
    crdt_vclock *vc = crdt_vclock_new(NULL), *d;
    crdt_buf b;
    size_t i, cut;

    tu_rng_init(&rng, tu_seed("vclock"));
    for (i = 0; i < 40; i++)
        ck_assert_int_eq(crdt_vclock_set(vc, tu_rand(&rng),
                                         1 + tu_below(&rng, 1u << 20)),
                         CRDT_OK);
    encode(vc, &b);
    d = crdt_vclock_new(NULL);
    for (cut = 0; cut < b.len; cut++) {
        crdt_decode_info info;

        ck_assert_int_eq(crdt_vclock_decode(d, b.data, cut, NULL, &info),
                         CRDT_ERR_DECODE);
        ck_assert_uint_le(info.offset, cut);
        ck_assert_uint_eq(crdt_vclock_size(d), 0);
    }
    /* every single-byte corruption is rejected or decodes to a state
     * whose canonical encoding is exactly the corrupted input */
    for (i = 0; i < b.len; i++) {
        uint8_t *c = malloc(b.len);
        crdt_buf b2;

        memcpy(c, b.data, b.len);
        c[i] ^= (uint8_t)(1u << tu_below(&rng, 8));
        if (crdt_vclock_decode(d, c, b.len, NULL, NULL) == CRDT_OK) {
            encode(d, &b2);
            ck_assert_uint_eq(b2.len, b.len);
            ck_assert_mem_eq(b2.data, c, b.len);
            crdt_buf_clear(&b2);
        }
        free(c);
    }
    crdt_buf_clear(&b);
    crdt_vclock_free(vc);
    crdt_vclock_free(d);
}
END_TEST

/* ------------------------------------------------------------- property */

#define MODEL_ACTORS 12

typedef struct model {
    uint64_t c[MODEL_ACTORS];
} model;

static const crdt_actor model_actor[MODEL_ACTORS] = {
    0, 1, 2, 3, 1000, 1001, 0x7fffffffffffffffu, 0x8000000000000000u,
    0xfffffffffffffffeu, 0xffffffffffffffffu, 123456789, 42};

static crdt_vclock *random_clock(tu_rng *r, model *m)
{
    crdt_vclock *vc = crdt_vclock_new(NULL);
    size_t i;

    for (i = 0; i < MODEL_ACTORS; i++) {
        /* sparse: about half the actors absent; small counters collide */
        m->c[i] = tu_below(r, 2) ? 0 : tu_below(r, 5);
        if (tu_below(r, 16) == 0)
            m->c[i] = UINT64_MAX - tu_below(r, 2);
        ck_assert_int_eq(crdt_vclock_set(vc, model_actor[i], m->c[i]),
                         CRDT_OK);
    }
    return vc;
}

static void check_model(const crdt_vclock *vc, const model *m)
{
    size_t i, n = 0;

    for (i = 0; i < MODEL_ACTORS; i++) {
        ck_assert_uint_eq(crdt_vclock_get(vc, model_actor[i]), m->c[i]);
        n += m->c[i] != 0;
    }
    ck_assert_uint_eq(crdt_vclock_size(vc), n);
}

static crdt_order model_cmp(const model *a, const model *b)
{
    int gt = 0, lt = 0;
    size_t i;

    for (i = 0; i < MODEL_ACTORS; i++) {
        gt |= a->c[i] > b->c[i];
        lt |= a->c[i] < b->c[i];
    }
    return (crdt_order)(gt | lt << 1);
}

static crdt_vclock *merged(const crdt_vclock *a, const crdt_vclock *b)
{
    crdt_vclock *r = crdt_vclock_clone(a);

    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(crdt_vclock_merge(r, b), CRDT_OK);
    return r;
}

START_TEST(test_vclock_property_join_laws)
{
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("vclock") ^ 0x1);
    for (k = 0; k < n; k++) {
        model ma, mb, mc, mj;
        crdt_vclock *a = random_clock(&rng, &ma);
        crdt_vclock *b = random_clock(&rng, &mb);
        crdt_vclock *c = random_clock(&rng, &mc);
        crdt_vclock *ab = merged(a, b), *ba = merged(b, a);
        crdt_vclock *ab_c = merged(ab, c), *bc = merged(b, c);
        crdt_vclock *a_bc = merged(a, bc), *aa = merged(a, a);
        crdt_buf e1, e2;
        size_t i;

        for (i = 0; i < MODEL_ACTORS; i++)
            mj.c[i] = ma.c[i] > mb.c[i] ? ma.c[i] : mb.c[i];
        check_model(ab, &mj);
        ck_assert(crdt_vclock_equal(ab, ba));     /* commutative */
        ck_assert(crdt_vclock_equal(ab_c, a_bc)); /* associative */
        ck_assert(crdt_vclock_equal(aa, a));      /* idempotent */
        ck_assert_int_eq(crdt_vclock_compare(a, b), model_cmp(&ma, &mb));
        ck_assert(crdt_vclock_dominates(ab, a));
        ck_assert(crdt_vclock_dominates(ab, b));
        /* canonical: equal states, identical bytes; round trip */
        encode(ab, &e1);
        encode(ba, &e2);
        ck_assert_uint_eq(e1.len, e2.len);
        ck_assert_mem_eq(e1.data, e2.data, e1.len);
        ck_assert_int_eq(crdt_vclock_decode(c, e1.data, e1.len, NULL, NULL),
                         CRDT_OK);
        ck_assert(crdt_vclock_equal(c, ab));
        crdt_buf_clear(&e1);
        crdt_buf_clear(&e2);
        crdt_vclock_free(a);
        crdt_vclock_free(b);
        crdt_vclock_free(c);
        crdt_vclock_free(ab);
        crdt_vclock_free(ba);
        crdt_vclock_free(ab_c);
        crdt_vclock_free(bc);
        crdt_vclock_free(a_bc);
        crdt_vclock_free(aa);
    }
}
END_TEST

/* ---------------------------------------------------------------- nomem */

/* merge: a union that needs an allocation */
static void merge_setup(tu_nomem *c)
{
    const uint64_t pa[] = {1, 5, 3, 1};
    const uint64_t pb[] = {0, 9, 2, 4, 3, 7, 8, 1, 9, 1, 10, 1};

    c->a = mk(&c->tm->mem, 2, pa);
    c->src = mk(&c->tm->mem, 6, pb);
}

static int merge_call(tu_nomem *c)
{
    return crdt_vclock_merge(c->a, c->src);
}

static void merge_succeeded(tu_nomem *c)
{
    ck_assert_uint_eq(crdt_vclock_size(c->a), 7);
}

START_TEST(test_vclock_nomem_merge)
{
    const tu_nomem_ops ops = {
        .type = crdt_vclock_type(),
        .nops = 1,
        .setup = merge_setup,
        .call = merge_call,
        .succeeded = merge_succeeded,
        .allocs = tu_alloc_must, /* the union needs an allocation */
    };

    tu_nomem_run(&ops);
}
END_TEST

/* every fallible call: set, increment, copy, clone, encode, decode */
static void all_setup(tu_nomem *c)
{
    const uint64_t pa[] = {1, 5, 3, 1, 4, 4, 5, 5, 6, 6};

    c->a = mk(&c->tm->mem, 5, pa);
    c->d = crdt_vclock_new(&c->tm->mem);
    ck_assert_ptr_nonnull(c->d);
    ck_assert_int_eq(crdt_vclock_encode(c->a, &c->enc), CRDT_OK);
}

static int all_call(tu_nomem *c)
{
    switch (c->op) {
    case 0:
        return crdt_vclock_set(c->a, 100, 1);
    case 1:
        return crdt_vclock_increment(c->a, 2, NULL);
    case 2:
        return crdt_vclock_copy(c->d, c->a);
    case 3:
        return tu_nomem_made(c, crdt_vclock_clone(c->a));
    case 4:
        return crdt_vclock_encode(c->a, &c->out);
    case 5:
        return crdt_vclock_decode(c->d, c->enc.data, c->enc.len, NULL, NULL);
    }
    return CRDT_ERR_INVALID_ARG;
}

static void all_failed(tu_nomem *c)
{
    ck_assert_uint_eq(crdt_vclock_size(c->d), 0);
}

static void all_succeeded(tu_nomem *c)
{
    const crdt_vclock *res = c->op == 2 || c->op == 5 ? c->d : c->a;

    ck_assert_uint_ge(crdt_vclock_size(res), 5);
}

START_TEST(test_vclock_nomem_all)
{
    const tu_nomem_ops ops = {
        .type = crdt_vclock_type(),
        .nops = 6,
        .setup = all_setup,
        .call = all_call,
        .failed = all_failed,
        .succeeded = all_succeeded,
    };

    tu_nomem_run(&ops);
}
END_TEST

static Suite *vclock_suite(void)
{
    Suite *s = suite_create("vclock");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_vclock_basic_get_set);
    tcase_add_test(tc, test_vclock_basic_increment);
    tcase_add_test(tc, test_vclock_basic_copy_clone);
    suite_add_tcase(s, tc);
    tc = tcase_create("compare");
    tcase_add_test(tc, test_vclock_compare_cases);
    tcase_add_test(tc, test_vclock_compare_can_deliver);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_add_test(tc, test_vclock_merge_cases);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_vclock_codec_bytes);
    tcase_add_test(tc, test_vclock_codec_reject);
    tcase_add_test(tc, test_vclock_codec_limit);
    tcase_add_test(tc, test_vclock_codec_truncated);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vclock_property_join_laws);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_add_test(tc, test_vclock_nomem_merge);
    tcase_add_test(tc, test_vclock_nomem_all);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(vclock_suite());
    int failed;

    tu_seed("vclock"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
