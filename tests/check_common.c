/* SPDX-License-Identifier: MIT */
/*
 * Common suite: error strings, actor ids (XXH3-64 known answers), random
 * actors, limits, versions, type names, byte buffers, envelope header.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/codec.h>
#include <crdt/common.h>

#include "codec_internal.h" /* cw_put_uint vs msgpack-c */
#include "testutil.h"

START_TEST(test_common_errors_strerror)
{
    int e;

    for (e = 0; e >= CRDT_ERR_TIMEOUT; e--) {
        ck_assert_ptr_nonnull(crdt_strerror(e));
        ck_assert_str_ne(crdt_strerror(e), "unknown error");
    }
    ck_assert_str_eq(crdt_strerror(-1000), "unknown error");
    ck_assert_str_eq(crdt_strerror(5), "unknown error");
    ck_assert_str_eq(crdt_strerror(CRDT_ERR_NOMEM), "out of memory");
}
END_TEST

START_TEST(test_common_actor_from_name)
{
    /* Known answers of XXH3_64bits (seed 0), as computed by the xxhsum
     * tool (xxh3 mode) and Python's xxhash.xxh3_64_intdigest. */
    ck_assert_uint_eq(crdt_actor_from_name("", 0), 0x2d06800538d394c2u);
    ck_assert_uint_eq(crdt_actor_from_name("a", 1), 0xe6c632b61e964e1fu);
    ck_assert_uint_eq(crdt_actor_from_name(NULL, 0),
                      crdt_actor_from_name("", 0));
    ck_assert_uint_ne(crdt_actor_from_name("alice", 5),
                      crdt_actor_from_name("bob", 3));
}
END_TEST

START_TEST(test_common_actor_random)
{
    crdt_actor a = 0, b = 0;

    ck_assert_int_eq(crdt_actor_random(&a), CRDT_OK);
    ck_assert_int_eq(crdt_actor_random(&b), CRDT_OK);
    ck_assert_uint_ne(a, 0);
    ck_assert_uint_ne(a, b);
    ck_assert_int_eq(crdt_actor_random(NULL), CRDT_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_common_limits_version)
{
    crdt_limits lim;

    memset(&lim, 0, sizeof lim);
    crdt_limits_default(&lim);
    ck_assert_uint_eq(lim.version, CRDT_LIMITS_VERSION);
    ck_assert_uint_eq(lim.max_actors, CRDT_DEFAULT_MAX_ACTORS);
    ck_assert_uint_eq(lim.max_depth, CRDT_DEFAULT_MAX_DEPTH);
    crdt_limits_default(NULL);
    ck_assert_str_eq(crdt_version_string(), CRDT_VERSION_STRING);
    ck_assert_int_eq(crdt_version_number(), CRDT_VERSION_NUMBER);
    ck_assert_ptr_nonnull(crdt_mem_default()->malloc);
}
END_TEST

START_TEST(test_common_type_names)
{
    uint32_t tag = 99;

    ck_assert_str_eq(crdt_type_name(CRDT_TAG_VCLOCK), "vclock");
    ck_assert_str_eq(crdt_type_name(CRDT_TAG_PNCOUNTER), "pncounter");
    ck_assert_ptr_null(crdt_type_name(0));
    ck_assert_ptr_null(crdt_type_name(100000));
    ck_assert_int_eq(crdt_type_from_name("lww", &tag), CRDT_OK);
    ck_assert_uint_eq(tag, CRDT_TAG_LWW);
    tag = 99;
    ck_assert_int_eq(crdt_type_from_name("nope", &tag), CRDT_ERR_TYPE);
    ck_assert_uint_eq(tag, 99);
}
END_TEST

START_TEST(test_common_buf_growable)
{
    tu_mem tm;
    crdt_buf b;
    char big[1000];
    long n;

    memset(big, 'x', sizeof big);
    tu_mem_init(&tm);
    crdt_buf_init(&b, &tm.mem);
    ck_assert_int_eq(crdt_buf_append(&b, "abc", 3), CRDT_OK);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_mem_eq(b.data, "abc", 3);
    for (n = 0; n < 3; n++) {
        tu_mem_fail_at(&tm, 0);
        ck_assert_int_eq(crdt_buf_append(&b, big, sizeof big), CRDT_ERR_NOMEM);
        tu_mem_off(&tm);
        ck_assert_uint_eq(b.len, 3);
        ck_assert_mem_eq(b.data, "abc", 3);
    }
    ck_assert_int_eq(crdt_buf_append(&b, big, sizeof big), CRDT_OK);
    ck_assert_uint_eq(b.len, 1003);
    crdt_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    crdt_buf_clear(&b);
    ck_assert_int_eq(tm.live, 0);
    ck_assert_int_eq(crdt_buf_append(NULL, "a", 1), CRDT_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_common_buf_fixed)
{
    uint8_t store[4];
    crdt_buf b;

    crdt_buf_init_fixed(&b, store, sizeof store);
    ck_assert_int_eq(crdt_buf_append(&b, "ab", 2), CRDT_OK);
    ck_assert_int_eq(crdt_buf_append(&b, "cde", 3), CRDT_ERR_BUFFER);
    ck_assert_uint_eq(b.len, 2);
    ck_assert_int_eq(crdt_buf_append(&b, "cd", 2), CRDT_OK);
    ck_assert_mem_eq(store, "abcd", 4);
    crdt_buf_clear(&b); /* does not free caller storage */
    ck_assert_ptr_eq(b.data, store);
}
END_TEST

START_TEST(test_common_decode_header)
{
    const uint8_t ok[] = {0x93, 0x01, 0x04, 0xc0};
    const uint8_t ver[] = {0x92, 0x02, 0x04};
    const uint8_t shortarr[] = {0x91, 0x01};
    const uint8_t notarr[] = {0x01};
    uint32_t tag = 0;

    ck_assert_int_eq(crdt_decode_header(ok, sizeof ok, &tag), CRDT_OK);
    ck_assert_uint_eq(tag, CRDT_TAG_PNCOUNTER);
    ck_assert_int_eq(crdt_decode_header(ver, sizeof ver, &tag),
                     CRDT_ERR_VERSION);
    ck_assert_int_eq(crdt_decode_header(shortarr, sizeof shortarr, &tag),
                     CRDT_ERR_DECODE);
    ck_assert_int_eq(crdt_decode_header(notarr, sizeof notarr, &tag),
                     CRDT_ERR_DECODE);
    ck_assert_int_eq(crdt_decode_header(ok, 2, &tag), CRDT_ERR_DECODE);
    ck_assert_int_eq(crdt_decode_header(NULL, 0, &tag), CRDT_ERR_INVALID_ARG);
}
END_TEST

static int sbuf_write(void *data, const char *p, size_t n)
{
    return crdt_buf_append(data, p, n);
}

/* The writer's in-place integer path must produce exactly the bytes of
 * msgpack-c's msgpack_pack_uint64 (the canonical shortest form). */
START_TEST(test_common_codec_uint_matches_msgpack)
{
    static const uint64_t edge[] = {
        0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffffu,
        0x100000000u, 0xffffffffffffffffu, 0x8000000000000000u};
    tu_rng rng;
    long k, n = tu_cases(10000);

    tu_rng_init(&rng, tu_seed("common"));
    for (k = 0; k < n; k++) {
        uint64_t v = (size_t)k < sizeof edge / sizeof edge[0]
                         ? edge[k]
                         : tu_rand(&rng) >> tu_below(&rng, 64);
        uint8_t mine[CW_UINT_MAX];
        size_t len = (size_t)(cw_put_uint(mine, v) - mine);
        crdt_buf ref;
        msgpack_packer pk;

        crdt_buf_init(&ref, NULL);
        msgpack_packer_init(&pk, &ref, sbuf_write);
        ck_assert_int_eq(msgpack_pack_uint64(&pk, v), 0);
        ck_assert_uint_eq(len, ref.len);
        ck_assert_mem_eq(mine, ref.data, len);
        crdt_buf_clear(&ref);
    }
}
END_TEST

/* Likewise the in-place array and bin headers (cw_put_array, cw_put_bin)
 * against msgpack_pack_array and msgpack_pack_bin + bin_body, at every
 * size class boundary and at random sizes. */
START_TEST(test_common_codec_headers_match_msgpack)
{
    static const size_t edge[] = {0,   1,      8,      15,      16,
                                  255, 256,    0xffff, 0x10000, 0x12345,
                                  7,   0xfffe, 17,     9,       300};
    tu_rng rng;
    long k, n = tu_cases(2000);
    uint8_t *body = malloc(0x12345), *mine = malloc(0x12345 + CW_HDR_MAX);
    size_t i;

    ck_assert(body && mine);
    tu_rng_init(&rng, tu_seed("common headers"));
    for (i = 0; i < 0x12345; i++)
        body[i] = (uint8_t)tu_rand(&rng);
    for (k = 0; k < n; k++) {
        size_t m = (size_t)k < sizeof edge / sizeof edge[0]
                       ? edge[k]
                       : (size_t)tu_below(&rng, (uint64_t)1 << tu_below(&rng, 17));
        size_t off = (size_t)tu_below(&rng, 0x12345 - m + 1);
        crdt_buf ref;
        msgpack_packer pk;
        size_t len;

        crdt_buf_init(&ref, NULL);
        msgpack_packer_init(&pk, &ref, sbuf_write);
        ck_assert_int_eq(msgpack_pack_array(&pk, m), 0);
        len = (size_t)(cw_put_array(mine, m) - mine);
        ck_assert_uint_le(len, CW_HDR_MAX);
        ck_assert_uint_eq(len, ref.len);
        ck_assert_mem_eq(mine, ref.data, len);
        crdt_buf_reset(&ref);
        ck_assert_int_eq(msgpack_pack_bin(&pk, m), 0);
        if (m)
            ck_assert_int_eq(msgpack_pack_bin_body(&pk, body + off, m), 0);
        len = (size_t)(cw_put_bin(mine, body + off, m) - mine);
        ck_assert_uint_le(len, CW_HDR_MAX + m);
        ck_assert_uint_eq(len, ref.len);
        ck_assert(memcmp(mine, ref.data, len) == 0);
        crdt_buf_clear(&ref);
    }
    free(body);
    free(mine);
}
END_TEST

static Suite *common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *tc;

    tc = tcase_create("errors");
    tcase_add_test(tc, test_common_errors_strerror);
    suite_add_tcase(s, tc);
    tc = tcase_create("actor");
    tcase_add_test(tc, test_common_actor_from_name);
    tcase_add_test(tc, test_common_actor_random);
    suite_add_tcase(s, tc);
    tc = tcase_create("misc");
    tcase_add_test(tc, test_common_limits_version);
    tcase_add_test(tc, test_common_type_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("buf");
    tcase_add_test(tc, test_common_buf_growable);
    tcase_add_test(tc, test_common_buf_fixed);
    tcase_add_test(tc, test_common_decode_header);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_common_codec_uint_matches_msgpack);
    tcase_add_test(tc, test_common_codec_headers_match_msgpack);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(common_suite());
    int failed;

    tu_seed("common");
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
