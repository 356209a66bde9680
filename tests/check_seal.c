/* SPDX-License-Identifier: MIT */
/*
 * Sealed datagrams (crdt/seal.h): the format against libsodium directly,
 * round trips of random sizes, every bit flip and truncation rejected with
 * the output untouched, the keyring and rotation, key lines, the upgrade
 * policy, keys wiped from freed memory, allocation failures, and gossip
 * nodes that exchange only sealed datagrams while a node with another key
 * changes nothing.
 */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>
#include <crdt/seal.h>

#include "testutil.h"

#define MAXD (65535u + CRDT_SEAL_OVERHEAD)

static void rand_bytes(tu_rng *r, uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)tu_rand(r);
}

static void fixed_key(uint8_t *k, uint8_t seed)
{
    size_t i;

    for (i = 0; i < CRDT_SEAL_KEY_BYTES; i++)
        k[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

/* A keyring with keys 1..n (key i: fixed_key(i)), primary p. */
static crdt_keyring *ring(uint32_t n, uint32_t p)
{
    crdt_keyring *kr;
    uint8_t k[CRDT_SEAL_KEY_BYTES];
    uint32_t i;

    tu_must(crdt_keyring_new(&kr, NULL), "keyring_new");
    for (i = 1; i <= n; i++) {
        fixed_key(k, (uint8_t)i);
        tu_must(crdt_keyring_add(kr, i, k, i == p), "keyring_add");
    }
    return kr;
}

/* ======================================================================
 * Format
 * ====================================================================== */

START_TEST(test_seal_format_layout)
{
    crdt_keyring *kr = ring(3, 2);
    uint8_t pt[100], out[200], back[200], ad[13], k[CRDT_SEAL_KEY_BYTES];
    unsigned long long mlen;
    size_t n = 0, i;

    for (i = 0; i < sizeof pt; i++)
        pt[i] = (uint8_t)i;
    ck_assert_uint_le(CRDT_SEAL_OVERHEAD, 48);
    ck_assert_uint_eq(crdt_seal_overhead(), 45);
    ck_assert_uint_eq(crdt_seal_key_bytes(), 32);
    ck_assert_uint_eq(crdt_seal_max_plaintext(1245), 1200);
    ck_assert_uint_eq(crdt_seal_max_plaintext(44), 0);
    ck_assert_int_eq(crdt_seal(kr, 0x0102030405060708ull, pt, sizeof pt, out,
                               sizeof out, &n),
                     CRDT_OK);
    ck_assert_uint_eq(n, sizeof pt + CRDT_SEAL_OVERHEAD);
    ck_assert_uint_eq(out[0], 0xc1);
    ck_assert_uint_eq(out[1], 0);
    ck_assert_uint_eq(out[2], 0);
    ck_assert_uint_eq(out[3], 0);
    ck_assert_uint_eq(out[4], 2); /* the primary's id, big-endian */
    /* open it with libsodium directly, as the header documents */
    memcpy(ad, out, 5);
    for (i = 0; i < 8; i++)
        ad[5 + i] = (uint8_t)(i + 1);
    fixed_key(k, 2);
    ck_assert_int_eq(crypto_aead_xchacha20poly1305_ietf_decrypt(
                         back, &mlen, NULL, out + 29, n - 29, ad, sizeof ad,
                         out + 5, k),
                     0);
    ck_assert_uint_eq(mlen, sizeof pt);
    ck_assert_mem_eq(back, pt, sizeof pt);
    {
        uint32_t id = 0;

        ck_assert_int_eq(crdt_seal_key_id(out, n, &id), CRDT_OK);
        ck_assert_uint_eq(id, 2);
        ck_assert_int_eq(crdt_seal_key_id(out, 44, &id), CRDT_ERR_DECODE);
        ck_assert_int_eq(crdt_seal_key_id(pt, 50, &id), CRDT_ERR_VERSION);
        ck_assert_int_eq(crdt_seal_key_id(out, 0, &id), CRDT_ERR_DECODE);
    }
    /* the empty plaintext seals to 45 bytes and opens */
    ck_assert_int_eq(crdt_seal(kr, 9, NULL, 0, out, 45, &n), CRDT_OK);
    ck_assert_uint_eq(n, 45);
    ck_assert_int_eq(crdt_seal_open(kr, 9, out, n, back, 0, &n), CRDT_OK);
    ck_assert_uint_eq(n, 0);
    crdt_keyring_free(kr);
}
END_TEST

START_TEST(test_seal_format_plaintext_distinct)
{
    unsigned b;

    /* exactly the MessagePack array headers are plaintext; 0xc1 never */
    for (b = 0; b < 256; b++) {
        uint8_t d[1] = {(uint8_t)b};
        bool arr = (b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd;

        ck_assert_int_eq(crdt_seal_is_plaintext(d, 1), arr);
    }
    ck_assert(!crdt_seal_is_plaintext(NULL, 0));
    {
        uint8_t d[1] = {CRDT_SEAL_FORMAT_1};

        ck_assert(!crdt_seal_is_plaintext(d, 1));
    }
}
END_TEST

START_TEST(test_seal_format_nonce_fresh)
{
    crdt_keyring *kr = ring(1, 1);
    uint8_t pt[10] = {0}, a[64], b[64];
    size_t na, nb;

    tu_must(crdt_seal(kr, 1, pt, sizeof pt, a, sizeof a, &na), "seal");
    tu_must(crdt_seal(kr, 1, pt, sizeof pt, b, sizeof b, &nb), "seal");
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a + 5, b + 5, 24) != 0);
    ck_assert(memcmp(a + 29, b + 29, na - 29) != 0);
    crdt_keyring_free(kr);
}
END_TEST

START_TEST(test_seal_format_errors)
{
    crdt_keyring *kr = ring(2, 1), *empty;
    uint8_t pt[64] = {1, 2, 3}, out[200], back[200], save[200];
    size_t n = 0, m = 777;

    tu_must(crdt_keyring_new(&empty, NULL), "new");
    ck_assert_int_eq(crdt_seal(empty, 1, pt, 3, out, sizeof out, &n),
                     CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(crdt_seal(NULL, 1, pt, 3, out, sizeof out, &n),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_seal(kr, 1, NULL, 3, out, sizeof out, &n),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_seal(kr, 1, pt, 3, out, 47, &n), CRDT_ERR_BUFFER);
    ck_assert_int_eq(crdt_seal(kr, 1, pt, 3, out, 48, &n), CRDT_OK);
    memset(back, 0xaa, sizeof back);
    memcpy(save, back, sizeof back);
    ck_assert_int_eq(crdt_seal_open(kr, 1, out, n, back, 2, &m),
                     CRDT_ERR_BUFFER);
    ck_assert_int_eq(crdt_seal_open(kr, 2, out, n, back, sizeof back, &m),
                     CRDT_ERR_AUTH); /* another cluster */
    ck_assert_int_eq(crdt_seal_open(empty, 1, out, n, back, sizeof back, &m),
                     CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(crdt_seal_open(kr, 1, pt, sizeof pt, back, sizeof back,
                                    &m),
                     CRDT_ERR_VERSION);
    ck_assert_int_eq(crdt_seal_open(kr, 1, NULL, 0, back, sizeof back, &m),
                     CRDT_ERR_DECODE);
    ck_assert_int_eq(crdt_seal_open(kr, 1, NULL, 5, back, sizeof back, &m),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_mem_eq(back, save, sizeof back);
    ck_assert_uint_eq(m, 777);
    ck_assert_int_eq(crdt_seal_open(kr, 1, out, n, back, 3, &m), CRDT_OK);
    ck_assert_uint_eq(m, 3);
    ck_assert_mem_eq(back, pt, 3);
    crdt_keyring_free(empty);
    crdt_keyring_free(kr);
}
END_TEST

/* ======================================================================
 * Properties
 * ====================================================================== */

START_TEST(test_seal_property_roundtrip)
{
    long cases = tu_cases(5000), k;
    uint8_t *pt = malloc(65535), *sd = malloc(MAXD), *back = malloc(65535);
    tu_rng r;

    ck_assert(pt && sd && back);
    tu_rng_init(&r, tu_seed("seal_roundtrip"));
    for (k = 0; k < cases; k++) {
        uint32_t nkeys = 1 + (uint32_t)tu_below(&r, 5);
        crdt_keyring *kr = ring(nkeys, 1 + (uint32_t)tu_below(&r, nkeys));
        uint64_t cluster = tu_rand(&r);
        /* sizes over the whole range, small ones often */
        size_t len = (size_t)(k % 4 == 0 ? tu_below(&r, 65536)
                                         : tu_below(&r, 1500)),
               n, m;

        rand_bytes(&r, pt, len);
        tu_must_k(crdt_seal(kr, cluster, pt, len, sd, MAXD, &n), "seal", k);
        tu_expect_k(n == len + CRDT_SEAL_OVERHEAD, "sealed length", k);
        tu_expect_k(!crdt_seal_is_plaintext(sd, n), "not plaintext", k);
        tu_must_k(crdt_seal_open(kr, cluster, sd, n, back, len, &m), "open",
                  k);
        tu_expect_k(m == len && !memcmp(back, pt, len), "round trip", k);
        crdt_keyring_free(kr);
    }
    free(pt);
    free(sd);
    free(back);
}
END_TEST

START_TEST(test_seal_property_flips_and_truncations)
{
    long cases = tu_cases(1000), k;
    tu_rng r;
    crdt_keyring *kr = ring(3, 2);
    uint8_t pt[256], sd[256 + CRDT_SEAL_OVERHEAD + 1], out[300], ref[300];

    tu_rng_init(&r, tu_seed("seal_flips"));
    memset(ref, 0x5a, sizeof ref);
    for (k = 0; k < cases; k++) {
        uint64_t cluster = tu_rand(&r);
        size_t len = (size_t)tu_below(&r, 257), n, m, bit, cut;

        rand_bytes(&r, pt, len);
        tu_must_k(crdt_seal(kr, cluster, pt, len, sd, sizeof sd, &n), "seal",
                  k);
        /* every single-bit flip */
        for (bit = 0; bit < 8 * n; bit++) {
            int rv;

            sd[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            memcpy(out, ref, sizeof out);
            m = 12345;
            rv = crdt_seal_open(kr, cluster, sd, n, out, sizeof out, &m);
            sd[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            if (bit < 8)
                tu_expect_k(rv == CRDT_ERR_VERSION, "flip: format byte", k);
            else if (bit < 40)
                tu_expect_k(rv == CRDT_ERR_NOT_FOUND || rv == CRDT_ERR_AUTH,
                            "flip: key id", k);
            else
                tu_expect_k(rv == CRDT_ERR_AUTH, "flip: auth", k);
            tu_expect_k(m == 12345 && !memcmp(out, ref, sizeof out),
                        "flip: output untouched", k);
        }
        /* every truncation */
        for (cut = 0; cut < n; cut++) {
            int rv;

            memcpy(out, ref, sizeof out);
            m = 12345;
            rv = crdt_seal_open(kr, cluster, sd, cut, out, sizeof out, &m);
            tu_expect_k(rv == (cut < CRDT_SEAL_OVERHEAD ? CRDT_ERR_DECODE
                                                        : CRDT_ERR_AUTH),
                        "truncation rejected", k);
            tu_expect_k(m == 12345 && !memcmp(out, ref, sizeof out),
                        "truncation: output untouched", k);
        }
        /* one byte more, another cluster */
        sd[n] = (uint8_t)tu_rand(&r);
        tu_expect_k(crdt_seal_open(kr, cluster, sd, n + 1, out, sizeof out,
                                   &m) == CRDT_ERR_AUTH,
                    "extension rejected", k);
        tu_expect_k(crdt_seal_open(kr, cluster ^ (1ull << tu_below(&r, 64)),
                                   sd, n, out, sizeof out,
                                   &m) == CRDT_ERR_AUTH,
                    "other cluster rejected", k);
        tu_expect_k(!memcmp(out, ref, sizeof out), "output untouched", k);
        tu_must_k(crdt_seal_open(kr, cluster, sd, n, out, sizeof out, &m),
                  "the original still opens", k);
    }
    crdt_keyring_free(kr);
}
END_TEST

/* ======================================================================
 * Keyring and rotation
 * ====================================================================== */

START_TEST(test_seal_keyring_basics)
{
    crdt_keyring *kr;
    uint8_t k[CRDT_SEAL_KEY_BYTES];
    uint32_t id, i;

    tu_must(crdt_keyring_new(&kr, NULL), "new");
    ck_assert_uint_eq(crdt_keyring_count(kr), 0);
    ck_assert_uint_eq(crdt_keyring_primary(kr), 0);
    fixed_key(k, 1);
    ck_assert_int_eq(crdt_keyring_add(kr, 0, k, false), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_keyring_add(kr, 1, NULL, false),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_keyring_add(kr, 30, k, false), CRDT_OK);
    ck_assert_uint_eq(crdt_keyring_primary(kr), 30); /* the first key */
    ck_assert_int_eq(crdt_keyring_add(kr, 30, k, true), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_keyring_add(kr, 10, k, false), CRDT_OK);
    ck_assert_uint_eq(crdt_keyring_primary(kr), 30);
    ck_assert_int_eq(crdt_keyring_add(kr, 20, k, true), CRDT_OK);
    ck_assert_uint_eq(crdt_keyring_primary(kr), 20);
    ck_assert_uint_eq(crdt_keyring_count(kr), 3);
    for (i = 0; i < 3; i++) {
        tu_must(crdt_keyring_id_at(kr, i, &id), "id_at");
        ck_assert_uint_eq(id, 10 * (i + 1));
    }
    ck_assert_int_eq(crdt_keyring_id_at(kr, 3, &id), CRDT_ERR_NOT_FOUND);
    ck_assert(crdt_keyring_has(kr, 10));
    ck_assert(!crdt_keyring_has(kr, 11));
    ck_assert_int_eq(crdt_keyring_remove(kr, 20), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_keyring_remove(kr, 21), CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(crdt_keyring_set_primary(kr, 21), CRDT_ERR_NOT_FOUND);
    ck_assert_uint_eq(crdt_keyring_primary(kr), 20);
    ck_assert_int_eq(crdt_keyring_set_primary(kr, 10), CRDT_OK);
    ck_assert_int_eq(crdt_keyring_remove(kr, 20), CRDT_OK);
    ck_assert_uint_eq(crdt_keyring_count(kr), 2);
    ck_assert(!crdt_keyring_has(kr, 20));
    /* at most CRDT_SEAL_MAX_KEYS */
    for (i = 100; crdt_keyring_count(kr) < CRDT_SEAL_MAX_KEYS; i++)
        tu_must(crdt_keyring_add(kr, i, k, false), "add");
    ck_assert_int_eq(crdt_keyring_add(kr, 99, k, false), CRDT_ERR_LIMIT);
    ck_assert(!crdt_keyring_has(kr, 99));
    crdt_keyring_free(kr);
    crdt_keyring_free(NULL);
    ck_assert_uint_eq(crdt_keyring_count(NULL), 0);
}
END_TEST

START_TEST(test_seal_keyring_rotation)
{
    crdt_keyring *a = ring(1, 1), *b = ring(1, 1);
    uint8_t k2[CRDT_SEAL_KEY_BYTES], pt[40] = "rotate", d1[100], d2[100],
                                          out[100];
    size_t n1, n2, m;
    uint32_t id;

    fixed_key(k2, 2);
    tu_must(crdt_seal(a, 5, pt, sizeof pt, d1, sizeof d1, &n1), "seal old");
    /* step 1: every node adds the new key, not primary */
    tu_must(crdt_keyring_add(a, 2, k2, false), "add a");
    tu_must(crdt_keyring_add(b, 2, k2, false), "add b");
    tu_must(crdt_seal(a, 5, pt, sizeof pt, d2, sizeof d2, &n2), "seal");
    tu_must(crdt_seal_key_id(d2, n2, &id), "key_id");
    ck_assert_uint_eq(id, 1); /* still the old primary */
    /* step 2: a switches; b, not yet switched, opens both */
    tu_must(crdt_keyring_set_primary(a, 2), "set_primary");
    tu_must(crdt_seal(a, 5, pt, sizeof pt, d2, sizeof d2, &n2), "seal new");
    tu_must(crdt_seal_key_id(d2, n2, &id), "key_id");
    ck_assert_uint_eq(id, 2);
    tu_must(crdt_seal_open(b, 5, d1, n1, out, sizeof out, &m), "old opens");
    tu_must(crdt_seal_open(b, 5, d2, n2, out, sizeof out, &m), "new opens");
    tu_must(crdt_seal_open(a, 5, d1, n1, out, sizeof out, &m),
            "old opens on a");
    ck_assert_mem_eq(out, pt, sizeof pt);
    /* step 3: the old key leaves: its datagrams are unknown-key */
    tu_must(crdt_keyring_set_primary(b, 2), "set_primary b");
    tu_must(crdt_keyring_remove(a, 1), "remove a");
    tu_must(crdt_keyring_remove(b, 1), "remove b");
    ck_assert_int_eq(crdt_seal_open(b, 5, d1, n1, out, sizeof out, &m),
                     CRDT_ERR_NOT_FOUND);
    tu_must(crdt_seal_open(b, 5, d2, n2, out, sizeof out, &m), "new opens");
    crdt_keyring_free(a);
    crdt_keyring_free(b);
}
END_TEST

/* ======================================================================
 * Key lines
 * ====================================================================== */

START_TEST(test_seal_keyfile_roundtrip)
{
    long cases = tu_cases(2000), k;
    tu_rng r;

    tu_rng_init(&r, tu_seed("seal_keyfile"));
    for (k = 0; k < cases; k++) {
        uint8_t key[CRDT_SEAL_KEY_BYTES], back[CRDT_SEAL_KEY_BYTES];
        char line[CRDT_SEAL_KEY_TEXT_BYTES + 1], line2[sizeof line];
        uint32_t id = (uint32_t)tu_rand(&r) | 1, id2 = 0;
        crdt_decode_info info;
        size_t i;

        rand_bytes(&r, key, sizeof key);
        tu_must_k(crdt_seal_key_format(id, key, line, sizeof line), "format",
                  k);
        tu_expect_k(strlen(line) == CRDT_SEAL_KEY_TEXT_BYTES, "line length",
                    k);
        tu_expect_k(!strncmp(line, "crdt-key v1 ", 12) && line[85] == '\n',
                    "line shape", k);
        if (k % 2) /* either case reads */
            for (i = 0; line[i]; i++)
                if (line[i] >= 'a' && line[i] <= 'f' && i >= 12)
                    line[i] = (char)(line[i] - 'a' + 'A');
        tu_must_k(crdt_seal_key_parse(line, k % 3 ? 86 : 85, &id2, back,
                                      &info),
                  "parse", k);
        tu_expect_k(id2 == id && !memcmp(back, key, sizeof key),
                    "round trip", k);
        /* through a keyring */
        {
            crdt_keyring *kr;

            tu_must_k(crdt_keyring_new(&kr, NULL), "new", k);
            tu_must_k(crdt_keyring_add_text(kr, line, 86, false, NULL),
                      "add_text", k);
            tu_must_k(crdt_keyring_key_text(kr, id, line2, sizeof line2),
                      "key_text", k);
            tu_must_k(crdt_seal_key_format(id, key, line, sizeof line),
                      "format", k);
            tu_expect_k(!strcmp(line, line2), "key_text = format", k);
            crdt_keyring_free(kr);
        }
    }
}
END_TEST

START_TEST(test_seal_keyfile_crlf_and_generate)
{
    char line[CRDT_SEAL_KEY_TEXT_BYTES + 2], l2[CRDT_SEAL_KEY_TEXT_BYTES + 1];
    uint8_t key[CRDT_SEAL_KEY_BYTES], k2[CRDT_SEAL_KEY_BYTES],
        k3[CRDT_SEAL_KEY_BYTES];
    uint32_t id = 0, id2 = 0, id3 = 0;

    tu_must(crdt_seal_key_generate(&id, key, line, sizeof line), "generate");
    ck_assert_uint_ne(id, 0);
    tu_must(crdt_seal_key_parse(line, strlen(line), &id2, k2, NULL), "parse");
    ck_assert_uint_eq(id, id2);
    ck_assert_mem_eq(key, k2, sizeof key);
    line[85] = '\r';
    line[86] = '\n';
    tu_must(crdt_seal_key_parse(line, 87, &id2, k2, NULL), "CRLF");
    tu_must(crdt_seal_key_generate(&id3, k3, NULL, 0), "generate, no text");
    ck_assert(memcmp(k3, key, sizeof key) != 0);
    ck_assert_int_eq(crdt_seal_key_generate(&id3, k3, l2, sizeof l2 - 1),
                     CRDT_ERR_BUFFER);
    ck_assert_int_eq(crdt_seal_key_format(id, key, l2, sizeof l2 - 1),
                     CRDT_ERR_BUFFER);
    ck_assert_int_eq(crdt_seal_key_format(0, key, l2, sizeof l2),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_seal_key_generate(NULL, k3, NULL, 0),
                     CRDT_ERR_INVALID_ARG);
}
END_TEST

/* A malformed key line, the error and the offset it must give. */
typedef struct bad_line {
    const char *text;
    int code;
    size_t offset;
} bad_line;

#define K64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const bad_line bad_lines[] = {
    {"", CRDT_ERR_DECODE, 0},
    {"crdt", CRDT_ERR_DECODE, 4},
    {"crdt-kex v1 00000001 " K64, CRDT_ERR_DECODE, 7},
    {" crdt-key v1 00000001 " K64, CRDT_ERR_DECODE, 0},
    {"crdt-key v2 00000001 " K64, CRDT_ERR_VERSION, 10},
    {"crdt-key v10 00000001 " K64, CRDT_ERR_VERSION, 10},
    {"crdt-key v0", CRDT_ERR_VERSION, 10},
    {"crdt-key vx 00000001 " K64, CRDT_ERR_DECODE, 10},
    {"crdt-key v1", CRDT_ERR_DECODE, 11},
    {"crdt-key v1x00000001 " K64, CRDT_ERR_DECODE, 11},
    {"crdt-key v1  00000001 " K64, CRDT_ERR_DECODE, 12},
    {"crdt-key v1 0000001 " K64, CRDT_ERR_DECODE, 19},
    {"crdt-key v1 0000000g " K64, CRDT_ERR_DECODE, 19},
    {"crdt-key v1 00000000 " K64, CRDT_ERR_DECODE, 12},
    {"crdt-key v1 000000010 " K64, CRDT_ERR_DECODE, 20},
    {"crdt-key v1 00000001", CRDT_ERR_DECODE, 20},
    {"crdt-key v1 00000001 ", CRDT_ERR_DECODE, 21},
    {"crdt-key v1 00000001 " K64 "0", CRDT_ERR_DECODE, 85},
    {"crdt-key v1 00000001 " K64 "\n\n", CRDT_ERR_DECODE, 86},
    {"crdt-key v1 00000001 " K64 " ", CRDT_ERR_DECODE, 85},
    {"crdt-key v1 00000001 " K64 "\r", CRDT_ERR_DECODE, 85},
    {"crdt-key v1 00000001 0011223344556677889", CRDT_ERR_DECODE, 40},
    {"crdt-key v1 00000001 z0112233445566778899aabbccddeeff0011223344556677"
     "8899aabbccddeeff",
     CRDT_ERR_DECODE, 21},
    {"crdt-key v1 00000001 00112233445566778899aabbccddeeff0011223344556677889"
     "9aabbccddeef",
     CRDT_ERR_DECODE, 84},
};

START_TEST(test_seal_keyfile_malformed)
{
    size_t i;
    crdt_keyring *kr = ring(1, 1);
    crdt_decode_info info;

    /* the good one, for reference */
    tu_must(crdt_keyring_add_text(kr, "crdt-key v1 00000009 " K64 "\n", 86,
                                  false, &info),
            "good line");
    ck_assert(crdt_keyring_has(kr, 9));
    ck_assert_int_eq(crdt_keyring_add_text(kr, "crdt-key v1 00000009 " K64,
                                           85, false, &info),
                     CRDT_ERR_INVALID_ARG); /* the id is taken */
    ck_assert_int_eq(info.code, CRDT_ERR_INVALID_ARG);
    for (i = 0; i < sizeof bad_lines / sizeof *bad_lines; i++) {
        const bad_line *b = &bad_lines[i];
        uint8_t key[CRDT_SEAL_KEY_BYTES];
        uint32_t id = 77;
        int rv;

        memset(key, 0xee, sizeof key);
        info.code = 1;
        info.offset = 9999;
        rv = crdt_seal_key_parse(b->text, strlen(b->text), &id, key, &info);
        if (rv != b->code || info.code != b->code || info.offset != b->offset)
            ck_abort_msg("line %zu \"%s\": got %s at %zu, want %s at %zu", i,
                         b->text, crdt_strerror(rv), info.offset,
                         crdt_strerror(b->code), b->offset);
        ck_assert_uint_eq(id, 77);
        ck_assert_uint_eq(key[0], 0xee);
        ck_assert_int_eq(crdt_keyring_add_text(kr, b->text, strlen(b->text),
                                               true, NULL),
                         b->code);
        ck_assert_uint_eq(crdt_keyring_count(kr), 2);
        ck_assert_uint_eq(crdt_keyring_primary(kr), 1);
    }
    crdt_keyring_free(kr);
}
END_TEST

/* ======================================================================
 * The sealer's policy and counters
 * ====================================================================== */

static crdt_sealer *sealer(const crdt_keyring *kr, bool accept, bool send)
{
    crdt_sealer_settings s;
    crdt_sealer *sl;

    crdt_sealer_settings_default(&s);
    s.cluster_id = 7;
    s.accept_plaintext = accept;
    s.send_plaintext = send;
    tu_must(crdt_sealer_new(&sl, kr, &s, NULL), "sealer_new");
    return sl;
}

START_TEST(test_seal_sealer_settings)
{
    crdt_keyring *kr = ring(1, 1);
    crdt_sealer_settings s;
    crdt_sealer *sl = NULL;

    crdt_sealer_settings_default(&s);
    ck_assert_uint_eq(s.max_sealed, 1245);
    ck_assert(!s.accept_plaintext && !s.send_plaintext);
    s.send_plaintext = true;
    ck_assert_int_eq(crdt_sealer_new(&sl, kr, &s, NULL),
                     CRDT_ERR_INVALID_ARG);
    s.send_plaintext = false;
    s.max_sealed = 512 + 44;
    ck_assert_int_eq(crdt_sealer_new(&sl, kr, &s, NULL),
                     CRDT_ERR_INVALID_ARG);
    s.max_sealed = 65536 + 46;
    ck_assert_int_eq(crdt_sealer_new(&sl, kr, &s, NULL),
                     CRDT_ERR_INVALID_ARG);
    s.max_sealed = 1232;
    s.version = 2;
    ck_assert_int_eq(crdt_sealer_new(&sl, kr, &s, NULL),
                     CRDT_ERR_INVALID_ARG);
    s.version = CRDT_SEALER_SETTINGS_VERSION;
    ck_assert_int_eq(crdt_sealer_new(&sl, NULL, &s, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(sl);
    tu_must(crdt_sealer_new(&sl, kr, &s, NULL), "new");
    ck_assert_uint_eq(crdt_sealer_max_plaintext(sl), 1187);
    crdt_sealer_free(sl);
    crdt_sealer_free(NULL);
    ck_assert_str_eq(crdt_seal_reject_name(CRDT_SEAL_REJECT_AUTH), "auth");
    ck_assert_str_eq(crdt_seal_reject_name(CRDT_SEAL_REJECT_UNKNOWN_KEY),
                     "unknown_key");
    ck_assert_ptr_null(crdt_seal_reject_name(CRDT_SEAL_REJECT_REASONS));
    ck_assert_ptr_null(crdt_seal_reject_name(-1));
    crdt_keyring_free(kr);
}
END_TEST

START_TEST(test_seal_sealer_plaintext_mode)
{
    crdt_keyring *kr = ring(2, 1), *other = ring(3, 3);
    crdt_sealer *strict = sealer(kr, false, false),
                *upgrade = sealer(kr, true, false),
                *legacy = sealer(kr, true, true);
    const uint8_t plain[] = {0x95, 1, 7, 2, 3, 1};
    uint8_t sd[200], big[1300] = {0x95};
    const uint8_t *p;
    size_t n, m;
    crdt_sealer_stats st;
    int r;

    /* plaintext: rejected by default, accepted in upgrade mode */
    ck_assert_int_eq(crdt_sealer_open(strict, plain, sizeof plain, &p, &n),
                     CRDT_ERR_VERSION);
    tu_must(crdt_sealer_open(upgrade, plain, sizeof plain, &p, &n), "open");
    ck_assert_ptr_eq(p, plain);
    ck_assert_uint_eq(n, sizeof plain);
    /* legacy mode sends plaintext, which strict rejects */
    tu_must(crdt_sealer_seal(legacy, plain, sizeof plain, sd, sizeof sd, &n),
            "legacy seal");
    ck_assert_uint_eq(n, sizeof plain);
    ck_assert_mem_eq(sd, plain, n);
    /* a sealed one opens everywhere */
    tu_must(crdt_sealer_seal(upgrade, plain, sizeof plain, sd, sizeof sd, &n),
            "seal");
    ck_assert_uint_eq(n, sizeof plain + 45);
    tu_must(crdt_sealer_open(strict, sd, n, &p, &m), "open strict");
    ck_assert_uint_eq(m, sizeof plain);
    ck_assert_mem_eq(p, plain, m);
    tu_must(crdt_sealer_open(legacy, sd, n, &p, &m), "open legacy");
    /* each reason counted */
    ck_assert_int_eq(crdt_sealer_open(strict, sd, 0, &p, &m),
                     CRDT_ERR_DECODE);
    ck_assert_int_eq(crdt_sealer_open(strict, sd, 44, &p, &m),
                     CRDT_ERR_DECODE);
    sd[0] = 0x00;
    ck_assert_int_eq(crdt_sealer_open(strict, sd, n, &p, &m),
                     CRDT_ERR_VERSION);
    sd[0] = 0xc1;
    sd[n - 1] ^= 1;
    ck_assert_int_eq(crdt_sealer_open(strict, sd, n, &p, &m), CRDT_ERR_AUTH);
    ck_assert_int_eq(crdt_sealer_open(strict, big, sizeof big, &p, &m),
                     CRDT_ERR_LIMIT);
    tu_must(crdt_seal(other, 7, plain, sizeof plain, sd, sizeof sd, &n),
            "seal other");
    ck_assert_int_eq(crdt_sealer_open(strict, sd, n, &p, &m),
                     CRDT_ERR_NOT_FOUND);
    /* too long to seal */
    ck_assert_int_eq(crdt_sealer_seal(strict, big, 1201, sd, sizeof sd, &n),
                     CRDT_ERR_BUFFER);
    crdt_sealer_stats_get(strict, &st);
    ck_assert_uint_eq(st.opened, 1);
    ck_assert_uint_eq(st.accepted_plaintext, 0);
    for (r = 0; r < CRDT_SEAL_REJECT_REASONS; r++)
        ck_assert_uint_eq(st.rejected[r],
                          r == CRDT_SEAL_REJECT_MALFORMED ? 2 : 1);
    ck_assert_uint_eq(st.seal_failures, 1);
    ck_assert_uint_eq(st.rejected_bytes,
                      sizeof plain + 0 + 44 + 51 + 51 + sizeof big + n);
    crdt_sealer_stats_get(upgrade, &st);
    ck_assert_uint_eq(st.accepted_plaintext, 1);
    ck_assert_uint_eq(st.sealed, 1);
    crdt_sealer_stats_get(legacy, &st);
    ck_assert_uint_eq(st.sent_plaintext, 1);
    ck_assert_uint_eq(st.opened, 1);
    crdt_sealer_free(strict);
    crdt_sealer_free(upgrade);
    crdt_sealer_free(legacy);
    crdt_keyring_free(kr);
    crdt_keyring_free(other);
}
END_TEST

/* ======================================================================
 * Keys are wiped: an allocator that searches every freed block for the
 * keys the keyring was given
 * ====================================================================== */

#define WIPE_KEYS 100

typedef struct wipe_mem {
    uint8_t keys[WIPE_KEYS][CRDT_SEAL_KEY_BYTES];
    size_t nkeys;
    long frees, found;
    uint8_t *last;    /* the last block allocated */
    size_t last_size;
} wipe_mem;

/* Occurrences of 16 bytes of any of w's keys in the n bytes at p. */
static long wipe_scan(const wipe_mem *w, const uint8_t *p, size_t n)
{
    size_t i, off;
    long found = 0;

    for (i = 0; i < w->nkeys; i++)
        for (off = 0; off + 16 <= n; off++)
            if (!memcmp(p + off, w->keys[i], 16) ||
                !memcmp(p + off, w->keys[i] + 16, 16))
                found++;
    return found;
}

typedef struct wipe_hdr {
    size_t size;
    size_t pad;
} wipe_hdr;

static void *wm_malloc(size_t n, void *ud)
{
    wipe_mem *w = ud;
    wipe_hdr *h = malloc(sizeof *h + n);

    if (!h)
        return NULL;
    h->size = n;
    memset(h + 1, 0, n); /* the scans read unused capacity too */
    w->last = (uint8_t *)(h + 1);
    w->last_size = n;
    return h + 1;
}

static void *wm_realloc(void *p, size_t n, void *ud)
{
    wipe_hdr *h;

    (void)ud;
    if (!p)
        return wm_malloc(n, ud);
    /* a realloc would move key bytes behind the allocator's back: the
     * keyring must not use it */
    ck_abort_msg("keyring used realloc");
    h = realloc((wipe_hdr *)p - 1, sizeof *h + n);
    return h ? h + 1 : NULL;
}

static void wm_free(void *p, void *ud)
{
    wipe_mem *w = ud;
    wipe_hdr *h;

    if (!p)
        return;
    h = (wipe_hdr *)p - 1;
    w->frees++;
    /* any 16 bytes of any key left in the block */
    w->found += wipe_scan(w, p, h->size);
    if (w->last == p)
        w->last = NULL;
    free(h);
}

START_TEST(test_seal_wipe_freed_memory)
{
    wipe_mem w;
    crdt_mem mem = {wm_malloc, wm_realloc, wm_free, &w};
    crdt_keyring *kr;
    tu_rng r;
    uint32_t i;
    char line[CRDT_SEAL_KEY_TEXT_BYTES + 1];

    memset(&w, 0, sizeof w);
    tu_rng_init(&r, 42);
    tu_must(crdt_keyring_new(&kr, &mem), "new");
    for (i = 0; i < WIPE_KEYS; i++) {
        rand_bytes(&r, w.keys[i], CRDT_SEAL_KEY_BYTES);
        w.nkeys++;
        if (i % 2) {
            tu_must(crdt_keyring_add(kr, i + 1, w.keys[i], i % 3 == 0),
                    "add");
        } else {
            tu_must(crdt_seal_key_format(i + 1, w.keys[i], line, sizeof line),
                    "format");
            tu_must(crdt_keyring_add_text(kr, line, strlen(line), false,
                                          NULL),
                    "add_text");
        }
    }
    /* growth freed old arrays: none held a key */
    ck_assert_int_gt(w.frees, 3);
    ck_assert_int_eq(w.found, 0);
    for (i = 1; i <= WIPE_KEYS; i += 3)
        if (i != crdt_keyring_primary(kr))
            tu_must(crdt_keyring_remove(kr, i), "remove");
    crdt_keyring_free(kr);
    ck_assert_int_eq(w.found, 0);
    /* the check itself works: a block freed with a key in it is found */
    {
        uint8_t *p = wm_malloc(64, &w);

        ck_assert_ptr_nonnull(p);
        memcpy(p + 3, w.keys[5], CRDT_SEAL_KEY_BYTES);
        wm_free(p, &w);
        ck_assert_int_gt(w.found, 0);
    }
}
END_TEST

START_TEST(test_seal_wipe_removed_slot)
{
    /* a removed key's bytes are gone from the keyring's live storage at
     * once: its key array (the last block allocated) holds the kept key
     * and neither removed one */
    wipe_mem w;
    crdt_mem mem = {wm_malloc, wm_realloc, wm_free, &w};
    crdt_keyring *kr;
    uint8_t k[CRDT_SEAL_KEY_BYTES];
    uint32_t i;

    memset(&w, 0, sizeof w);
    tu_must(crdt_keyring_new(&kr, &mem), "new");
    for (i = 1; i <= 3; i++) {
        fixed_key(k, (uint8_t)(i + 100));
        tu_must(crdt_keyring_add(kr, i, k, i == 1), "add");
    }
    tu_must(crdt_keyring_remove(kr, 2), "remove middle");
    tu_must(crdt_keyring_remove(kr, 3), "remove last");
    ck_assert_ptr_nonnull(w.last);
    fixed_key(w.keys[0], 101);
    w.nkeys = 1;
    ck_assert_int_eq(wipe_scan(&w, w.last, w.last_size), 2); /* kept key */
    fixed_key(w.keys[0], 102);
    fixed_key(w.keys[1], 103);
    w.nkeys = 2;
    ck_assert_int_eq(wipe_scan(&w, w.last, w.last_size), 0);
    crdt_keyring_free(kr);
    ck_assert_int_eq(w.found, 0);
}
END_TEST

/* ======================================================================
 * Allocation failures, and what never allocates
 * ====================================================================== */

enum { NM_NEW, NM_ADD, NM_ADD_TEXT, NM_SEALER, NM_COUNT };

START_TEST(test_seal_nomem_every_call)
{
    int op = _i;
    long n;

    for (n = 0;; n++) {
        tu_mem tm;
        crdt_keyring *kr = NULL;
        crdt_sealer *sl = NULL;
        uint8_t k[CRDT_SEAL_KEY_BYTES];
        char line[CRDT_SEAL_KEY_TEXT_BYTES + 1];
        uint32_t i;
        int rv = CRDT_OK;

        tu_mem_init(&tm);
        fixed_key(k, 9);
        if (op != NM_NEW) {
            tu_must(crdt_keyring_new(&kr, &tm.mem), "new");
            for (i = 1; i <= 4; i++) /* full: the next add grows */
                tu_must(crdt_keyring_add(kr, i, k, i == 2), "add");
        }
        tu_must(crdt_seal_key_format(50, k, line, sizeof line), "format");
        tu_mem_fail_at(&tm, n);
        switch (op) {
        case NM_NEW:
            rv = crdt_keyring_new(&kr, &tm.mem);
            if (rv)
                tu_expect(kr == NULL, "new: out written on failure");
            break;
        case NM_ADD:
            rv = crdt_keyring_add(kr, 5, k, true);
            break;
        case NM_ADD_TEXT:
            rv = crdt_keyring_add_text(kr, line, strlen(line), true, NULL);
            break;
        default: {
            crdt_sealer_settings s;

            crdt_sealer_settings_default(&s);
            rv = crdt_sealer_new(&sl, kr, &s, &tm.mem);
            if (rv)
                tu_expect(sl == NULL, "sealer_new: out written on failure");
            break;
        }
        }
        tu_mem_off(&tm);
        if (rv != CRDT_OK) {
            ck_assert_int_eq(rv, CRDT_ERR_NOMEM);
            if (op == NM_ADD || op == NM_ADD_TEXT) {
                ck_assert_uint_eq(crdt_keyring_count(kr), 4);
                ck_assert_uint_eq(crdt_keyring_primary(kr), 2);
                ck_assert(!crdt_keyring_has(kr, 5) &&
                          !crdt_keyring_has(kr, 50));
            }
        }
        crdt_sealer_free(sl);
        crdt_keyring_free(kr);
        if (tm.live != 0)
            ck_abort_msg("op %d n=%ld: %ld blocks leaked", op, n, tm.live);
        if (rv == CRDT_OK && tm.failed == 0)
            break;
        ck_assert_int_lt(n, 10);
        /* every op allocates at least once: n = 0 failed */
        if (n == 0)
            ck_assert_int_eq(rv, CRDT_ERR_NOMEM);
    }
}
END_TEST

START_TEST(test_seal_nomem_never_allocates)
{
    tu_mem tm;
    crdt_keyring *kr;
    crdt_sealer *sl;
    crdt_sealer_settings s;
    uint8_t pt[300] = {0x95}, sd[400], out[400];
    const uint8_t *p;
    size_t n, m, i;
    long calls;

    tu_mem_init(&tm);
    tu_must(crdt_keyring_new(&kr, &tm.mem), "new");
    for (i = 1; i <= 3; i++) {
        uint8_t k[CRDT_SEAL_KEY_BYTES];

        fixed_key(k, (uint8_t)i);
        tu_must(crdt_keyring_add(kr, (uint32_t)i, k, false), "add");
    }
    crdt_sealer_settings_default(&s);
    tu_must(crdt_sealer_new(&sl, kr, &s, &tm.mem), "sealer");
    calls = tm.calls;
    tu_mem_fail_at(&tm, 0); /* any allocation would fail the calls below */
    tu_must(crdt_seal(kr, 0, pt, sizeof pt, sd, sizeof sd, &n), "seal");
    tu_must(crdt_seal_open(kr, 0, sd, n, out, sizeof out, &m), "open");
    tu_must(crdt_sealer_seal(sl, pt, sizeof pt, sd, sizeof sd, &n),
            "sealer_seal");
    tu_must(crdt_sealer_open(sl, sd, n, &p, &m), "sealer_open");
    for (i = 0; i < n; i++) { /* rejections too */
        sd[i] ^= 0x10;
        ck_assert_int_ne(crdt_sealer_open(sl, sd, n, &p, &m), CRDT_OK);
        ck_assert_int_ne(crdt_seal_open(kr, 0, sd, n, out, sizeof out, &m),
                         CRDT_OK);
        sd[i] ^= 0x10;
    }
    tu_mem_off(&tm);
    ck_assert_int_eq(tm.calls, calls);
    ck_assert_int_eq(tm.failed, 0);
    crdt_sealer_free(sl);
    crdt_keyring_free(kr);
    ck_assert_int_eq(tm.live, 0);
}
END_TEST

/* ======================================================================
 * Gossip nodes that exchange only sealed datagrams
 * ====================================================================== */

#define GN 3
#define QMAX 4096

typedef struct wire {
    size_t from, to;
    size_t len;
    uint8_t *b;
} wire;

typedef struct cluster {
    crdt_gossip *g[GN];
    crdt_sealer *s[GN];
    crdt_keyring *kr[GN];
    tu_mem tm[GN];
    struct endpoint {
        struct cluster *c;
        size_t i;
    } ep[GN];
    wire q[QMAX];
    size_t nq;
    uint64_t now;
    size_t longest;
    bool all_sealed;
    bool intruder; /* node GN - 1 is an intruder: it receives nothing */
} cluster;

static int wire_send(void *ud, uint64_t to, const uint8_t *addr,
                     size_t addrlen, const uint8_t *data, size_t len)
{
    struct endpoint *e = ud;
    cluster *c = e->c;
    wire *w;

    (void)addr, (void)addrlen;
    if (c->nq == QMAX)
        return -1; /* the network drops it */
    w = &c->q[c->nq++];
    w->from = e->i;
    w->to = (size_t)to - 1;
    w->len = len;
    w->b = malloc(len);
    ck_assert_ptr_nonnull(w->b);
    memcpy(w->b, data, len);
    if (len > c->longest)
        c->longest = len;
    if (!len || data[0] != CRDT_SEAL_FORMAT_1)
        c->all_sealed = false;
    return 0;
}

/* Node i of the cluster, with keyring kr (taken), max_sealed 700. */
static void cluster_node(cluster *c, size_t i, crdt_keyring *kr,
                         uint64_t seed)
{
    crdt_gossip_settings gs;
    crdt_sealer_settings ss;
    size_t j;

    c->ep[i].c = c;
    c->ep[i].i = i;
    c->kr[i] = kr;
    tu_mem_init(&c->tm[i]);
    crdt_sealer_settings_default(&ss);
    ss.cluster_id = 7;
    ss.max_sealed = 700;
    ss.send = wire_send;
    ss.user_data = &c->ep[i];
    tu_must(crdt_sealer_new(&c->s[i], kr, &ss, NULL), "sealer_new");
    crdt_gossip_settings_default(&gs);
    gs.node_id = i + 1;
    gs.cluster_id = 7;
    gs.seed = seed + i;
    gs.max_datagram = (uint32_t)crdt_sealer_max_plaintext(c->s[i]);
    gs.callbacks.send = crdt_sealer_send;
    gs.callbacks.user_data = c->s[i];
    tu_must(crdt_gossip_new(&c->g[i], &gs, &c->tm[i].mem), "gossip_new");
    for (j = 0; j < GN; j++)
        if (j != i)
            tu_must(crdt_gossip_add_peer(c->g[i], j + 1, NULL, 0),
                    "add_peer");
}

static void cluster_free(cluster *c)
{
    size_t i;

    for (i = 0; i < c->nq; i++)
        free(c->q[i].b);
    for (i = 0; i < GN; i++) {
        crdt_gossip_free(c->g[i]);
        crdt_sealer_free(c->s[i]);
        crdt_keyring_free(c->kr[i]);
    }
}

/* Delivers w to node t; for a datagram of the intruder, checks that the
 * node's store and allocations are unchanged. */
static void cluster_deliver(cluster *c, const wire *w, size_t t)
{
    crdt_gossip *g = c->g[t];
    uint64_t d0 = crdt_gossip_digest(g);
    long calls = c->tm[t].calls;

    tu_must(crdt_sealer_receive(c->s[t], g, c->now, NULL, 0, w->b, w->len),
            "sealer_receive");
    if (c->intruder && w->from == GN - 1) {
        tu_expect(crdt_gossip_digest(g) == d0,
                  "the intruder changed a store");
        tu_expect(c->tm[t].calls == calls,
                  "the intruder made a node allocate");
    }
}

/* Delivers the queue (and what it causes) until quiet.  With an
 * intruder (node GN - 1), it receives nothing, and each of its datagrams
 * goes to every other node, whichever it was addressed to (an attacker
 * sends what it likes to whom it likes). */
static void cluster_pump(cluster *c)
{
    size_t k = 0, t;

    while (k < c->nq) {
        wire w = c->q[k++];

        if (!c->intruder)
            cluster_deliver(c, &w, w.to);
        else if (w.from == GN - 1)
            for (t = 0; t < GN - 1; t++)
                cluster_deliver(c, &w, t);
        else if (w.to < GN - 1)
            cluster_deliver(c, &w, w.to);
        free(w.b);
        c->q[k - 1].b = NULL;
    }
    c->nq = 0;
}

static void cluster_run(cluster *c, uint64_t ms)
{
    uint64_t end = c->now + ms;
    size_t i;

    while (c->now < end) {
        c->now += 10;
        for (i = 0; i < GN; i++)
            tu_must(crdt_gossip_tick(c->g[i], c->now), "tick");
        cluster_pump(c);
    }
}

static int g_inc(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_gcounter_increment(v, w->actor, *(const uint64_t *)u, d);
}

static int g_add(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_orset_add(v, w->actor, u, strlen(u), d);
}

START_TEST(test_seal_gossip_intruder_changes_nothing)
{
    cluster *c = calloc(1, sizeof *c);
    uint64_t seed = tu_seed("seal_gossip"), one = 1, five = 5;
    crdt_sealer_stats st0, st1;
    crdt_keyring *bad;
    uint8_t k[CRDT_SEAL_KEY_BYTES];
    size_t i;
    char big[3000];

    ck_assert_ptr_nonnull(c);
    c->all_sealed = true;
    c->intruder = true;
    cluster_node(c, 0, ring(2, 1), seed);
    cluster_node(c, 1, ring(2, 1), seed);
    /* the intruder: same cluster id, same key id 1 with another key, and
     * key id 9 */
    tu_must(crdt_keyring_new(&bad, NULL), "new");
    fixed_key(k, 200);
    tu_must(crdt_keyring_add(bad, 1, k, true), "add");
    tu_must(crdt_keyring_add(bad, 9, k, false), "add");
    cluster_node(c, 2, bad, seed);
    tu_must(crdt_gossip_update(c->g[0], "hits", 4, crdt_gcounter_type(),
                               g_inc, &one),
            "update");
    tu_must(crdt_gossip_update(c->g[1], "hits", 4, crdt_gcounter_type(),
                               g_inc, &five),
            "update");
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    tu_must(crdt_gossip_update(c->g[1], "big", 3, crdt_orset_type(), g_add,
                               big),
            "update (fragmented)");
    tu_must(crdt_gossip_update(c->g[2], "evil", 4, crdt_gcounter_type(),
                               g_inc, &five),
            "intruder update");
    tu_must(crdt_gossip_update(c->g[2], "hits", 4, crdt_gcounter_type(),
                               g_inc, &five),
            "intruder update");
    for (i = 0; i < 600 && crdt_gossip_digest(c->g[0]) !=
                               crdt_gossip_digest(c->g[1]);
         i++)
        cluster_run(c, 10);
    ck_assert_uint_eq(crdt_gossip_digest(c->g[0]),
                      crdt_gossip_digest(c->g[1]));
    /* the intruder switches to key id 9: unknown to the others */
    cluster_run(c, 1000);
    tu_must(crdt_keyring_set_primary(bad, 9), "set_primary");
    cluster_run(c, 6000); /* past a repair period */
    for (i = 0; i < 2; i++) {
        const crdt_type *t;
        const void *v;

        tu_must(crdt_gossip_get(c->g[i], "hits", 4, &t, &v), "get");
        ck_assert_uint_eq(crdt_gcounter_value(v), 6);
        ck_assert_int_eq(crdt_gossip_get(c->g[i], "evil", 4, NULL, NULL),
                         CRDT_ERR_NOT_FOUND);
        ck_assert_uint_eq(crdt_gossip_key_count(c->g[i]), 2);
    }
    ck_assert(c->all_sealed);
    ck_assert_uint_le(c->longest, 700);
    crdt_sealer_stats_get(c->s[0], &st0);
    crdt_sealer_stats_get(c->s[1], &st1);
    ck_assert_uint_gt(st0.opened, 0);
    ck_assert_uint_gt(st0.rejected[CRDT_SEAL_REJECT_AUTH], 0);
    ck_assert_uint_gt(st0.rejected[CRDT_SEAL_REJECT_UNKNOWN_KEY], 0);
    ck_assert_uint_gt(st1.rejected[CRDT_SEAL_REJECT_AUTH], 0);
    ck_assert_uint_gt(st1.rejected[CRDT_SEAL_REJECT_UNKNOWN_KEY], 0);
    ck_assert_uint_eq(st0.rejected[CRDT_SEAL_REJECT_MALFORMED] +
                          st0.rejected[CRDT_SEAL_REJECT_VERSION] +
                          st0.rejected[CRDT_SEAL_REJECT_PLAINTEXT] +
                          st0.rejected[CRDT_SEAL_REJECT_OVERSIZE],
                      0);
    /* the node itself never saw them */
    {
        crdt_gossip_metrics m;
        int r;

        crdt_gossip_metrics_get(c->g[0], &m);
        for (r = 0; r < CRDT_GOSSIP_DROP_REASONS; r++)
            if (r != CRDT_GOSSIP_DROP_STALE)
                ck_assert_uint_eq(m.dropped[r], 0);
    }
    printf("seal_gossip: %llu opened, %llu + %llu rejected (auth, unknown "
           "key) at node 1\n",
           (unsigned long long)st0.opened,
           (unsigned long long)st0.rejected[CRDT_SEAL_REJECT_AUTH],
           (unsigned long long)st0.rejected[CRDT_SEAL_REJECT_UNKNOWN_KEY]);
    cluster_free(c);
    free(c);
}
END_TEST

START_TEST(test_seal_gossip_rotation_and_plaintext_peer)
{
    cluster *c = calloc(1, sizeof *c);
    uint64_t seed = tu_seed("seal_gossip_rotation"), one = 1;
    uint8_t k3[CRDT_SEAL_KEY_BYTES], plain[600];
    size_t i, n;
    crdt_sealer_stats st;

    ck_assert_ptr_nonnull(c);
    c->all_sealed = true;
    for (i = 0; i < GN; i++)
        cluster_node(c, i, ring(2, 1), seed);
    /* rotation under traffic: add key 3 everywhere, switch primaries one
     * by one, drop keys 1 and 2 */
    fixed_key(k3, 3);
    for (i = 0; i < GN; i++)
        tu_must(crdt_keyring_add(c->kr[i], 3, k3, false), "add 3");
    for (i = 0; i < GN; i++) {
        tu_must(crdt_gossip_update(c->g[i], "n", 1, crdt_gcounter_type(),
                                   g_inc, &one),
                "update");
        tu_must(crdt_keyring_set_primary(c->kr[i], 3), "set_primary");
        cluster_run(c, 300);
    }
    for (i = 0; i < GN; i++) {
        tu_must(crdt_keyring_remove(c->kr[i], 1), "remove 1");
        tu_must(crdt_keyring_remove(c->kr[i], 2), "remove 2");
        tu_must(crdt_gossip_update(c->g[i], "m", 1, crdt_gcounter_type(),
                                   g_inc, &one),
                "update");
    }
    cluster_run(c, 2000);
    for (i = 0; i < GN; i++) {
        const void *v;

        tu_must(crdt_gossip_get(c->g[i], "n", 1, NULL, &v), "get n");
        ck_assert_uint_eq(crdt_gcounter_value(v), GN);
        tu_must(crdt_gossip_get(c->g[i], "m", 1, NULL, &v), "get m");
        ck_assert_uint_eq(crdt_gcounter_value(v), GN);
        crdt_sealer_stats_get(c->s[i], &st);
        ck_assert_uint_eq(st.rejected[CRDT_SEAL_REJECT_UNKNOWN_KEY] +
                              st.rejected[CRDT_SEAL_REJECT_AUTH],
                          0);
    }
    /* a plaintext datagram from a node of the same cluster: rejected and
     * counted, the store unchanged */
    {
        crdt_gossip_settings gs;
        crdt_gossip *old;
        crdt_gossip_datagram dg;
        uint64_t d0 = crdt_gossip_digest(c->g[0]), t;

        crdt_gossip_settings_default(&gs);
        gs.node_id = 9;
        gs.cluster_id = 7;
        gs.max_datagram = 600;
        tu_must(crdt_gossip_new(&old, &gs, NULL), "new");
        tu_must(crdt_gossip_add_peer(old, 1, NULL, 0), "add_peer");
        tu_must(crdt_gossip_update(old, "old", 3, crdt_gcounter_type(),
                                   g_inc, &one),
                "update");
        n = 0;
        for (t = 0; t < 1000; t += 50) {
            tu_must(crdt_gossip_tick(old, t), "tick");
            while (crdt_gossip_poll(old, &dg, plain, sizeof plain) == 0) {
                ck_assert(crdt_seal_is_plaintext(plain, dg.len));
                tu_must(crdt_sealer_receive(c->s[0], c->g[0], c->now, NULL,
                                            0, plain, dg.len),
                        "receive");
                n++;
            }
        }
        ck_assert_uint_gt(n, 0);
        ck_assert_uint_eq(crdt_gossip_digest(c->g[0]), d0);
        crdt_sealer_stats_get(c->s[0], &st);
        ck_assert_uint_eq(st.rejected[CRDT_SEAL_REJECT_PLAINTEXT], n);
        crdt_gossip_free(old);
    }
    ck_assert(c->all_sealed);
    cluster_free(c);
    free(c);
}
END_TEST

START_TEST(test_seal_gossip_upgrade_from_plaintext)
{
    /* node 1 sends plaintext (an old node); node 2 is in upgrade mode:
     * it accepts plaintext and sends sealed, which node 1 (also in
     * upgrade mode, sending plaintext) opens: they converge */
    crdt_keyring *kr = ring(1, 1);
    crdt_sealer *s[2];
    crdt_gossip *g[2];
    uint8_t buf[2000], sd[2000];
    uint64_t one = 1, now = 0;
    size_t i, n;
    int round;
    crdt_sealer_stats st;

    s[0] = sealer(kr, true, true);
    s[1] = sealer(kr, true, false);
    for (i = 0; i < 2; i++) {
        crdt_gossip_settings gs;

        crdt_gossip_settings_default(&gs);
        gs.node_id = i + 1;
        gs.cluster_id = 7;
        gs.seed = i + 3;
        gs.max_datagram = (uint32_t)crdt_sealer_max_plaintext(s[i]);
        tu_must(crdt_gossip_new(&g[i], &gs, NULL), "new");
        tu_must(crdt_gossip_add_peer(g[i], 2 - i, NULL, 0), "add_peer");
        tu_must(crdt_gossip_update(g[i], "k", 1, crdt_gcounter_type(), g_inc,
                                   &one),
                "update");
    }
    for (round = 0; round < 500 && crdt_gossip_digest(g[0]) !=
                                       crdt_gossip_digest(g[1]);
         round++) {
        now += 10;
        for (i = 0; i < 2; i++) {
            crdt_gossip_datagram dg;

            tu_must(crdt_gossip_tick(g[i], now), "tick");
            while (crdt_gossip_poll(g[i], &dg, buf, sizeof buf) == 0) {
                tu_must(crdt_sealer_seal(s[i], buf, dg.len, sd, sizeof sd,
                                         &n),
                        "seal");
                ck_assert(crdt_seal_is_plaintext(sd, n) == (i == 0));
                tu_must(crdt_sealer_receive(s[1 - i], g[1 - i], now, NULL, 0,
                                            sd, n),
                        "receive");
            }
        }
    }
    ck_assert_uint_eq(crdt_gossip_digest(g[0]), crdt_gossip_digest(g[1]));
    crdt_sealer_stats_get(s[1], &st);
    ck_assert_uint_gt(st.accepted_plaintext, 0);
    crdt_sealer_stats_get(s[0], &st);
    ck_assert_uint_gt(st.opened, 0);
    ck_assert_uint_gt(st.sent_plaintext, 0);
    for (i = 0; i < 2; i++) {
        crdt_gossip_free(g[i]);
        crdt_sealer_free(s[i]);
    }
    crdt_keyring_free(kr);
}
END_TEST

/* ======================================================================
 * Suite
 * ====================================================================== */

static Suite *seal_suite(void)
{
    Suite *s = suite_create("seal");
    TCase *tc;

    tc = tcase_create("format");
    tcase_add_test(tc, test_seal_format_layout);
    tcase_add_test(tc, test_seal_format_plaintext_distinct);
    tcase_add_test(tc, test_seal_format_nonce_fresh);
    tcase_add_test(tc, test_seal_format_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("property");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_seal_property_roundtrip);
    tcase_add_test(tc, test_seal_property_flips_and_truncations);
    suite_add_tcase(s, tc);

    tc = tcase_create("keyring");
    tcase_add_test(tc, test_seal_keyring_basics);
    tcase_add_test(tc, test_seal_keyring_rotation);
    suite_add_tcase(s, tc);

    tc = tcase_create("keyfile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_seal_keyfile_roundtrip);
    tcase_add_test(tc, test_seal_keyfile_crlf_and_generate);
    tcase_add_test(tc, test_seal_keyfile_malformed);
    suite_add_tcase(s, tc);

    tc = tcase_create("sealer");
    tcase_add_test(tc, test_seal_sealer_settings);
    tcase_add_test(tc, test_seal_sealer_plaintext_mode);
    suite_add_tcase(s, tc);

    tc = tcase_create("wipe");
    tcase_add_test(tc, test_seal_wipe_freed_memory);
    tcase_add_test(tc, test_seal_wipe_removed_slot);
    suite_add_tcase(s, tc);

    tc = tcase_create("nomem");
    tcase_add_loop_test(tc, test_seal_nomem_every_call, 0, NM_COUNT);
    tcase_add_test(tc, test_seal_nomem_never_allocates);
    suite_add_tcase(s, tc);

    tc = tcase_create("gossip");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_seal_gossip_intruder_changes_nothing);
    tcase_add_test(tc, test_seal_gossip_rotation_and_plaintext_peer);
    tcase_add_test(tc, test_seal_gossip_upgrade_from_plaintext);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(seal_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
