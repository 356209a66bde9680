/* SPDX-License-Identifier: MIT */
/*
 * G-set suite: add/contains/iteration, deltas, merge, codec (canonical
 * bytes, hostile input), join-law and delta properties against a
 * reference model (a bitmap over a small universe), allocation failures.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/gset.h>

#include "testutil.h"

static crdt_gset *mk(const crdt_mem *mem)
{
    crdt_gset *s = crdt_gset_new(mem);

    ck_assert_ptr_nonnull(s);
    return s;
}

/* Universe element k: k+1 bytes of 'a' + k % 4, so prefixes collide. */
static size_t elem(unsigned k, uint8_t *e)
{
    memset(e, 'a' + (int)(k % 4), k / 4 + 1);
    return k / 4 + 1;
}

START_TEST(test_gset_basic_ops)
{
    crdt_gset *s = mk(NULL), *d = mk(NULL);
    const uint8_t *p;
    size_t len;

    ck_assert_uint_eq(crdt_gset_size(s), 0);
    tu_must(crdt_gset_add(s, "b", 1, NULL), "add");
    tu_must(crdt_gset_add(s, "a", 1, d), "add");
    tu_must(crdt_gset_add(s, "", 0, d), "add");
    tu_must(crdt_gset_add(s, "a", 1, d), "add");
    ck_assert_uint_eq(crdt_gset_size(s), 3);
    ck_assert_uint_eq(crdt_gset_size(d), 2);
    ck_assert(crdt_gset_contains(s, "", 0));
    ck_assert(!crdt_gset_contains(s, "c", 1));
    ck_assert_int_eq(crdt_gset_elem(s, 0, &p, &len), CRDT_OK);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(p[0], 'b'); /* insertion order */
    ck_assert_int_eq(crdt_gset_elem(s, 3, &p, &len), CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(crdt_gset_add(s, "a", 1, s), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gset_add(NULL, "a", 1, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert(!crdt_gset_contains(NULL, "a", 1));
    crdt_gset_free(s);
    crdt_gset_free(d);
    crdt_gset_free(NULL);
}
END_TEST

START_TEST(test_gset_codec_bytes)
{
    const uint8_t want[] = {0x93, 0x01, 0x0b, 0x93, 0xc4, 0x00,
                            0xc4, 0x01, 0x61, 0xc4, 0x01, 0x62};
    const uint8_t unsorted[] = {0x93, 0x01, 0x0b, 0x92, 0xc4, 0x01,
                                0x62, 0xc4, 0x01, 0x61};
    const uint8_t dup[] = {0x93, 0x01, 0x0b, 0x92, 0xc4, 0x01,
                           0x61, 0xc4, 0x01, 0x61};
    crdt_gset *s = mk(NULL), *t = mk(NULL);
    crdt_decode_info info;
    crdt_limits lim;
    crdt_buf b;
    size_t n;

    tu_must(crdt_gset_add(s, "b", 1, NULL), "add");
    tu_must(crdt_gset_add(s, "a", 1, NULL), "add");
    tu_must(crdt_gset_add(s, "", 0, NULL), "add");
    crdt_buf_init(&b, NULL);
    tu_must(crdt_gset_encode(s, &b), "encode");
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert_mem_eq(b.data, want, sizeof want);
    tu_must(crdt_gset_decode(t, b.data, b.len, NULL, NULL), "decode");
    ck_assert(crdt_gset_equal(s, t));
    ck_assert_int_eq(crdt_gset_decode(t, unsorted, sizeof unsorted, NULL,
                                      &info), CRDT_ERR_DECODE);
    ck_assert_uint_eq(info.offset, 7);
    ck_assert_int_eq(crdt_gset_decode(t, dup, sizeof dup, NULL, NULL),
                     CRDT_ERR_DECODE);
    for (n = 0; n < b.len; n++)
        ck_assert_int_eq(crdt_gset_decode(t, b.data, n, NULL, NULL),
                         CRDT_ERR_DECODE);
    crdt_limits_default(&lim);
    lim.max_elements = 2;
    ck_assert_int_eq(crdt_gset_decode(t, b.data, b.len, &lim, NULL),
                     CRDT_ERR_LIMIT);
    crdt_limits_default(&lim);
    lim.max_value_bytes = 0;
    ck_assert_int_eq(crdt_gset_decode(t, b.data, b.len, &lim, NULL),
                     CRDT_ERR_LIMIT);
    ck_assert(crdt_gset_equal(s, t)); /* untouched */
    crdt_buf_clear(&b);
    crdt_gset_free(s);
    crdt_gset_free(t);
}
END_TEST

/* Hostile and non-canonical inputs: each rejected with its code at the
 * offending byte, the destination untouched. */
START_TEST(test_gset_codec_reject)
{
    static const struct {
        const char *what;
        uint8_t in[16];
        size_t len;
        int code;
        size_t off;
    } bad[] = {
        {"str element", {0x93, 0x01, 0x0b, 0x91, 0xa1, 0x61}, 6,
         CRDT_ERR_DECODE, 4},
        {"bin16 header for 1 byte", {0x93, 0x01, 0x0b, 0x91, 0xc5, 0x00,
         0x01, 0x61}, 8, CRDT_ERR_DECODE, 4},
        {"array16 header for 1 element", {0x93, 0x01, 0x0b, 0xdc, 0x00,
         0x01, 0xc4, 0x01, 0x61}, 9, CRDT_ERR_DECODE, 3},
        {"map body", {0x93, 0x01, 0x0b, 0x80}, 4, CRDT_ERR_DECODE, 3},
        {"integer element", {0x93, 0x01, 0x0b, 0x91, 0x01}, 5,
         CRDT_ERR_DECODE, 4},
        {"orset tag", {0x93, 0x01, 0x08, 0x90}, 4, CRDT_ERR_TYPE, 2},
        {"version 2", {0x93, 0x02, 0x0b, 0x90}, 4, CRDT_ERR_VERSION, 1},
        {"two body fields", {0x94, 0x01, 0x0b, 0x90, 0x90}, 5,
         CRDT_ERR_DECODE, 0},
        {"trailing byte", {0x93, 0x01, 0x0b, 0x90, 0xc0}, 5,
         CRDT_ERR_DECODE, 4},
        {"count past the input", {0x93, 0x01, 0x0b, 0xdd, 0x7f, 0xff, 0xff,
         0xff}, 8, CRDT_ERR_DECODE, TU_ANY_OFFSET},
        {"bin length past the input", {0x93, 0x01, 0x0b, 0x91, 0xc5, 0x01,
         0x00, 0x61}, 8, CRDT_ERR_DECODE, TU_ANY_OFFSET},
        {"bin of 2^31 bytes", {0x93, 0x01, 0x0b, 0x91, 0xc6, 0x7f, 0xff,
         0xff, 0xff}, 9, CRDT_ERR_LIMIT, 4},
    };
    crdt_gset *d = mk(NULL);
    size_t i;

    tu_must(crdt_gset_add(d, "keep", 4, NULL), "add");
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fprintf(stderr, "gset reject: %s\n", bad[i].what); /* in the log */
        tu_expect_reject(crdt_gset_type(), d, bad[i].in, bad[i].len, NULL,
                         bad[i].code, bad[i].off);
    }
    crdt_gset_free(d);
}
END_TEST

/* A random set over the universe 0..63 and its bitmap. */
static crdt_gset *rand_set(tu_rng *r, uint64_t *bits)
{
    crdt_gset *s = mk(NULL);
    uint64_t n = tu_below(r, 12), i;
    uint8_t e[32];

    *bits = 0;
    for (i = 0; i < n; i++) {
        unsigned k = (unsigned)tu_below(r, 64);

        tu_must(crdt_gset_add(s, e, elem(k, e), NULL), "add");
        *bits |= (uint64_t)1 << k;
    }
    return s;
}

static void check_model(const crdt_gset *s, uint64_t bits)
{
    unsigned k;
    uint8_t e[32];

    tu_expect(crdt_gset_size(s) == (size_t)__builtin_popcountll(bits), "size");
    for (k = 0; k < 64; k++)
        tu_expect(crdt_gset_contains(s, e, elem(k, e)) == (bits >> k & 1),
               "model");
}

START_TEST(test_gset_property_laws)
{
    tu_rng r;
    long i, n = tu_cases(10000);

    tu_rng_init(&r, tu_seed("gset"));
    for (i = 0; i < n; i++) {
        uint64_t ba, bb, bc;
        crdt_gset *a = rand_set(&r, &ba), *b = rand_set(&r, &bb);
        crdt_gset *c = rand_set(&r, &bc), *x = crdt_gset_clone(a);
        crdt_gset *y = crdt_gset_clone(b), *pre = crdt_gset_clone(c);
        crdt_gset *d = mk(NULL), *t = mk(NULL);
        crdt_buf e1, e2;
        uint8_t e[32];
        unsigned k = (unsigned)tu_below(&r, 64);

        tu_must(crdt_gset_merge(x, b), "merge");
        tu_must(crdt_gset_merge(y, a), "merge");
        tu_must(crdt_gset_merge(x, c), "merge");
        tu_must(crdt_gset_merge(y, c), "merge");
        tu_must(crdt_gset_merge(x, x), "merge");
        tu_expect(crdt_gset_equal(x, y), "commutative/associative");
        check_model(x, ba | bb | bc);
        crdt_buf_init(&e1, NULL);
        crdt_buf_init(&e2, NULL);
        tu_must(crdt_gset_encode(x, &e1), "enc");
        tu_must(crdt_gset_encode(y, &e2), "enc");
        tu_expect(e1.len == e2.len && !memcmp(e1.data, e2.data, e1.len),
               "canonical");
        tu_must(crdt_gset_decode(t, e1.data, e1.len, NULL, NULL), "dec");
        tu_expect(crdt_gset_equal(t, x), "roundtrip");
        /* delta == mutation */
        tu_must(crdt_gset_add(c, e, elem(k, e), d), "add");
        tu_must(crdt_gset_merge(pre, d), "merge");
        tu_expect(crdt_gset_equal(pre, c), "delta");
        crdt_buf_clear(&e1);
        crdt_buf_clear(&e2);
        crdt_gset_free(a);
        crdt_gset_free(b);
        crdt_gset_free(c);
        crdt_gset_free(x);
        crdt_gset_free(y);
        crdt_gset_free(pre);
        crdt_gset_free(d);
        crdt_gset_free(t);
    }
}
END_TEST

/*
 * Replicas: 3-5 replicas add random elements (keeping each add's delta),
 * merge random deltas (duplicates and any order) and each other's states;
 * every replica always holds exactly the adds it has seen (the model: a
 * bitmap per replica), and after every delta reaches everyone, all
 * converge to the union of all adds.
 */
#define GS_REP_MAX 5
#define GS_OPS_MAX 120

START_TEST(test_gset_replica_converge)
{
    tu_rng r;
    long run, runs = tu_cases(10000) / 20 + 1;

    tu_rng_init(&r, tu_seed("gset replicas"));
    for (run = 0; run < runs; run++) {
        int nrep = 3 + (int)tu_below(&r, 3), nops = 0, i, step, t;
        int nsteps = 20 + (int)tu_below(&r, 100);
        crdt_gset *rep[GS_REP_MAX], *delta[GS_OPS_MAX];
        uint64_t seen[GS_REP_MAX], added[GS_OPS_MAX], all = 0;
        uint8_t e[32];

        for (i = 0; i < nrep; i++) {
            rep[i] = mk(NULL);
            seen[i] = 0;
        }
        for (step = 0; step < nsteps; step++) {
            uint64_t k = tu_below(&r, 10);

            i = (int)tu_below(&r, (uint64_t)nrep);
            if (k < 4 && nops < GS_OPS_MAX) {
                unsigned el = (unsigned)tu_below(&r, 64);

                delta[nops] = mk(NULL);
                tu_must(crdt_gset_add(rep[i], e, elem(el, e), delta[nops]),
                        "add");
                added[nops] = (uint64_t)1 << el;
                seen[i] |= added[nops];
                all |= added[nops];
                nops++;
            } else if (k < 8 && nops > 0) {
                int o = (int)tu_below(&r, (uint64_t)nops);

                tu_must(crdt_gset_merge(rep[i], delta[o]), "merge delta");
                seen[i] |= added[o];
            } else {
                int j = (int)tu_below(&r, (uint64_t)nrep);

                tu_must(crdt_gset_merge(rep[i], rep[j]), "merge state");
                seen[i] |= seen[j];
            }
            check_model(rep[i], seen[i]);
        }
        /* deliver every delta everywhere, in random order, twice */
        for (i = 0; i < nrep; i++) {
            for (t = 0; nops && t < 2 * nops; t++)
                tu_must(crdt_gset_merge(rep[i],
                                        delta[tu_below(&r, (uint64_t)nops)]),
                        "merge delta");
            for (t = 0; t < nops; t++)
                tu_must(crdt_gset_merge(rep[i], delta[t]), "merge delta");
        }
        for (i = 0; i < nrep; i++) {
            tu_expect(crdt_gset_equal(rep[0], rep[i]), "converged");
            check_model(rep[i], all);
        }
        for (i = 0; i < nrep; i++)
            crdt_gset_free(rep[i]);
        for (i = 0; i < nops; i++)
            crdt_gset_free(delta[i]);
    }
}
END_TEST
static void nomem_setup(tu_nomem *c)
{
    crdt_gset *a = mk(&c->tm->mem), *src = mk(NULL);
    uint8_t x[32];
    unsigned k;

    c->a = a;
    c->d = mk(&c->tm->mem);
    c->src = src;
    for (k = 0; k < 20; k++) {
        tu_must(crdt_gset_add(a, x, elem(k, x), NULL), "add");
        tu_must(crdt_gset_add(src, x, elem(k + 10, x), NULL), "add");
    }
    tu_must(crdt_gset_encode(a, &c->enc), "enc");
}

static int nomem_call(tu_nomem *c)
{
    uint8_t x[32];

    switch (c->op) {
    case 0:
        return crdt_gset_add(c->a, x, elem(40, x), c->d);
    case 1:
        return crdt_gset_merge(c->a, c->src);
    case 2:
        return crdt_gset_copy(c->d, c->src);
    case 3:
        return tu_nomem_made(c, crdt_gset_clone(c->a));
    case 4:
        return crdt_gset_encode(c->a, &c->out);
    case 5:
        return crdt_gset_decode(c->d, c->enc.data, c->enc.len, NULL, NULL);
    }
    return CRDT_ERR_INVALID_ARG;
}

START_TEST(test_gset_nomem_all)
{
    const tu_nomem_ops ops = {
        .type = crdt_gset_type(),
        .nops = 6,
        .setup = nomem_setup,
        .call = nomem_call,
    };

    tu_nomem_run(&ops);
}
END_TEST

/* ------------------------------------------------------------- keying */

/* Sets hash under the zero key up to 32 elements (ES_KEY_AT) and draw a
 * random key when they grow past it: through add (with and without a
 * delta), merge (unkeyed into unkeyed, unkeyed into keyed and keyed into
 * unkeyed) and decode.  Every element must stay findable and the
 * encoding canonical across the change. */
static void keying_check(const crdt_gset *s, unsigned lo, unsigned hi)
{
    crdt_gset *t = mk(NULL);
    crdt_buf b, b2;
    uint8_t x[128];
    unsigned k;

    ck_assert_uint_eq(crdt_gset_size(s), hi - lo);
    for (k = lo; k < hi; k++)
        ck_assert(crdt_gset_contains(s, x, elem(k, x)));
    ck_assert(!crdt_gset_contains(s, x, elem(hi, x)));
    crdt_buf_init(&b, NULL);
    crdt_buf_init(&b2, NULL);
    tu_must(crdt_gset_encode(s, &b), "encode");
    tu_must(crdt_gset_decode(t, b.data, b.len, NULL, NULL), "decode");
    ck_assert(crdt_gset_equal(s, t));
    for (k = lo; k < hi; k++)
        ck_assert(crdt_gset_contains(t, x, elem(k, x)));
    tu_must(crdt_gset_encode(t, &b2), "encode");
    ck_assert_uint_eq(b.len, b2.len);
    ck_assert(memcmp(b.data, b2.data, b.len) == 0);
    crdt_buf_clear(&b);
    crdt_buf_clear(&b2);
    crdt_gset_free(t);
}

static crdt_gset *range(unsigned lo, unsigned hi)
{
    crdt_gset *s = mk(NULL);
    uint8_t x[128];
    unsigned k;

    for (k = lo; k < hi; k++)
        tu_must(crdt_gset_add(s, x, elem(k, x), NULL), "add");
    return s;
}

START_TEST(test_gset_keying)
{
    static const unsigned sizes[] = {31, 32, 33, 34, 64, 65, 200};
    uint8_t x[128];
    size_t i, j;
    unsigned k;

    for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned n = sizes[i];
        crdt_gset *s = mk(NULL), *d = mk(NULL), *r = mk(NULL), *big;

        /* adds, the delta growing with the set; r gets each delta */
        for (k = 0; k < n; k++) {
            crdt_gset *d1 = mk(NULL);

            tu_must(crdt_gset_add(s, x, elem(k, x), d), "add");
            tu_must(crdt_gset_add(s, x, elem(k, x), d1), "add again");
            ck_assert_uint_eq(crdt_gset_size(d1), 1);
            crdt_gset_free(d1);
            d1 = mk(NULL);
            tu_must(crdt_gset_add(r, x, elem(k, x), d1), "add r");
            tu_must(crdt_gset_merge(s, d1), "merge own delta");
            crdt_gset_free(d1);
            ck_assert(crdt_gset_contains(s, x, elem(k, x)));
        }
        keying_check(s, 0, n);
        keying_check(d, 0, n);
        keying_check(r, 0, n);
        /* merges across the threshold, every key combination */
        for (j = 0; j < sizeof sizes / sizeof *sizes; j++) {
            unsigned m = sizes[j];
            crdt_gset *a = range(0, n), *b = range(n / 2, n / 2 + m);
            crdt_gset *c = range(n / 2, n / 2 + m), *e = range(0, n);
            unsigned hi = n / 2 + m > n ? n / 2 + m : n;

            tu_must(crdt_gset_merge(a, b), "merge a b");
            keying_check(a, 0, hi);
            tu_must(crdt_gset_merge(c, e), "merge b a");
            keying_check(c, 0, hi);
            ck_assert(crdt_gset_equal(a, c));
            crdt_gset_free(a);
            crdt_gset_free(b);
            crdt_gset_free(c);
            crdt_gset_free(e);
        }
        /* a small unkeyed set into a keyed big one and back */
        big = range(0, 200);
        {
            crdt_gset *sm = range(190, 210), *sm2 = range(190, 210);

            tu_must(crdt_gset_merge(big, sm), "big <- small");
            keying_check(big, 0, 210);
            tu_must(crdt_gset_merge(sm2, big), "small <- big");
            keying_check(sm2, 0, 210);
            crdt_gset_free(sm);
            crdt_gset_free(sm2);
        }
        /* decode into an unkeyed and into a keyed set */
        {
            crdt_buf b;
            crdt_gset *t = mk(NULL);

            crdt_buf_init(&b, NULL);
            tu_must(crdt_gset_encode(s, &b), "encode");
            tu_must(crdt_gset_decode(t, b.data, b.len, NULL, NULL), "dec");
            keying_check(t, 0, n);
            tu_must(crdt_gset_decode(big, b.data, b.len, NULL, NULL),
                    "dec keyed");
            keying_check(big, 0, n);
            tu_must(crdt_gset_add(t, x, elem(n, x), NULL), "add after");
            keying_check(t, 0, n + 1);
            crdt_buf_clear(&b);
            crdt_gset_free(t);
        }
        crdt_gset_free(big);
        crdt_gset_free(s);
        crdt_gset_free(d);
        crdt_gset_free(r);
    }
}
END_TEST

/* Allocation failures across the rekeying insertion: a and d hold
 * exactly 32 elements (unkeyed), each call takes them past it. */
static void nomem_key_setup(tu_nomem *c)
{
    crdt_gset *a = mk(&c->tm->mem), *d = mk(&c->tm->mem);
    crdt_gset *src = mk(NULL), *big = mk(NULL);
    uint8_t x[128];
    unsigned k;

    c->a = a;
    c->d = d;
    c->src = src;
    for (k = 0; k < 32; k++) {
        tu_must(crdt_gset_add(a, x, elem(k, x), NULL), "add");
        tu_must(crdt_gset_add(d, x, elem(k + 100, x), NULL), "add");
        tu_must(crdt_gset_add(src, x, elem(k + 16, x), NULL), "add");
    }
    for (k = 0; k < 40; k++)
        tu_must(crdt_gset_add(big, x, elem(k + 50, x), NULL), "add");
    tu_must(crdt_gset_encode(big, &c->enc), "enc");
    crdt_gset_free(big);
}

static int nomem_key_call(tu_nomem *c)
{
    uint8_t x[128];

    switch (c->op) {
    case 0: /* both a and the delta cross */
        return crdt_gset_add(c->a, x, elem(40, x), c->d);
    case 1: /* unkeyed into unkeyed, 16 new */
        return crdt_gset_merge(c->a, c->src);
    case 2: /* decode of 40 into an unkeyed set */
        return crdt_gset_decode(c->d, c->enc.data, c->enc.len, NULL, NULL);
    case 3: /* without a delta */
        return crdt_gset_add(c->a, x, elem(41, x), NULL);
    }
    return CRDT_ERR_INVALID_ARG;
}

static void nomem_key_succeeded(tu_nomem *c)
{
    uint8_t x[128];
    unsigned k;

    switch (c->op) {
    case 0:
        for (k = 0; k < 32; k++)
            ck_assert(crdt_gset_contains(c->a, x, elem(k, x)));
        ck_assert(crdt_gset_contains(c->a, x, elem(40, x)));
        ck_assert(crdt_gset_contains(c->d, x, elem(40, x)));
        ck_assert_uint_eq(crdt_gset_size(c->a), 33);
        ck_assert_uint_eq(crdt_gset_size(c->d), 33);
        break;
    case 1:
        keying_check(c->a, 0, 48);
        break;
    case 2:
        keying_check(c->d, 50, 90);
        break;
    case 3:
        ck_assert(crdt_gset_contains(c->a, x, elem(41, x)));
        ck_assert_uint_eq(crdt_gset_size(c->a), 33);
        break;
    }
}

START_TEST(test_gset_nomem_keying)
{
    const tu_nomem_ops ops = {
        .type = crdt_gset_type(),
        .nops = 4,
        .setup = nomem_key_setup,
        .call = nomem_key_call,
        .succeeded = nomem_key_succeeded,
    };

    tu_nomem_run(&ops);
}
END_TEST

static Suite *gset_suite(void)
{
    Suite *s = suite_create("gset");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_gset_basic_ops);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_gset_codec_bytes);
    tcase_add_test(tc, test_gset_codec_reject);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gset_property_laws);
    tcase_add_test(tc, test_gset_replica_converge);
    suite_add_tcase(s, tc);
    tc = tcase_create("keying");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gset_keying);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_add_test(tc, test_gset_nomem_all);
    tcase_add_test(tc, test_gset_nomem_keying);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gset_suite());
    int failed;

    tu_seed("gset");
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
