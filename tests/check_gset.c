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
    tc = tcase_create("nomem");
    tcase_add_test(tc, test_gset_nomem_all);
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
