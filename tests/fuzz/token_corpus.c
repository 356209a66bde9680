/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpus of the session-token fuzz target (fuzz_token.c):
 * the empty token, tokens of one to a few keys with contexts of vector
 * entries and cloud dots, keys of every length form (bin8, bin16), a
 * token whose keys' array needs array16, large counters and actors, and
 * a few near misses (the version 2, [1, []], a trailing byte).
 *
 *   token_corpus OUT_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>

#include "../../tools/node/token.h"

static const char *out_dir;

static void put(const char *name, const uint8_t *b, size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    f = fopen(path, "wb");
    if (!f || (n && fwrite(b, 1, n, f) != n) || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void must(int rv, const char *what)
{
    if (rv) {
        fprintf(stderr, "token_corpus: %s: %s\n", what, crdt_strerror(rv));
        exit(1);
    }
}

static void put_token(const char *name, const ntoken *t)
{
    crdt_buf b;

    crdt_buf_init(&b, NULL);
    must(ntoken_encode(t, &b), "encode");
    put(name, b.data, b.len);
    crdt_buf_clear(&b);
}

/* A context of n dots: actors a0.., counters spread so that some fold
 * into the vector and some stay in the cloud. */
static crdt_dotctx *ctx_of(uint64_t a0, unsigned n, uint64_t scale)
{
    crdt_dotctx *c = crdt_dotctx_new(NULL);
    unsigned i;

    if (!c)
        must(CRDT_ERR_NOMEM, "dotctx_new");
    for (i = 0; i < n; i++) {
        crdt_dot d = {a0 + i % 3, 1 + (uint64_t)(i / 3) * (i % 2 ? scale : 1)};

        must(crdt_dotctx_add(c, d), "add");
    }
    return c;
}

static void observe(ntoken *t, const void *key, size_t klen,
                    const crdt_dotctx *c)
{
    must(ntoken_observe(t, key, klen, c), "observe");
}

int main(int argc, char **argv)
{
    ntoken *t;
    crdt_dotctx *c;
    crdt_buf b;
    uint8_t key[300];
    unsigned i;

    if (argc != 2) {
        fprintf(stderr, "usage: token_corpus OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];

    must(ntoken_new(&t, NULL), "new");
    put_token("empty", t);

    c = ctx_of(1, 1, 1);
    observe(t, "k", 1, c);
    put_token("one-key", t);
    crdt_dotctx_free(c);

    c = ctx_of(5, 9, 7);
    observe(t, "cart:alice", 10, c);
    observe(t, "\x00", 1, c);
    observe(t, "\xff\xff", 2, c);
    put_token("three-keys", t);
    crdt_dotctx_free(c);

    c = crdt_dotctx_new(NULL);
    observe(t, "empty-ctx", 9, c);
    put_token("empty-context", t);
    must(crdt_dotctx_add(c, (crdt_dot){UINT64_MAX, UINT64_MAX}), "add");
    must(crdt_dotctx_add(c, (crdt_dot){0x123456789, 0x10000}), "add");
    must(crdt_dotctx_add(c, (crdt_dot){300, 1}), "add");
    observe(t, "big", 3, c);
    put_token("big-numbers", t);
    crdt_dotctx_free(c);
    ntoken_free(t);

    must(ntoken_new(&t, NULL), "new");
    c = ctx_of(2, 4, 3);
    memset(key, 'q', sizeof key);
    observe(t, key, 255, c);
    observe(t, key, 256, c);
    observe(t, key, 300, c);
    put_token("long-keys", t);
    ntoken_free(t);

    must(ntoken_new(&t, NULL), "new");
    for (i = 0; i < 20; i++) {
        key[0] = 'a' + (uint8_t)i;
        observe(t, key, 1 + i % 3, c);
    }
    put_token("twenty-keys", t);
    crdt_dotctx_free(c);

    /* near misses: the first bytes of a valid token, changed */
    crdt_buf_init(&b, NULL);
    must(ntoken_encode(t, &b), "encode");
    b.data[1] = 0x02;
    put("version-2", b.data, b.len);
    b.data[1] = 0x01;
    must(crdt_buf_append(&b, "", 1), "append");
    put("trailing-byte", b.data, b.len);
    put("one-two", (const uint8_t *)"\x92\x01\x90", 3);
    crdt_buf_clear(&b);
    ntoken_free(t);
    return 0;
}
