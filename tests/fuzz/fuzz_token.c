/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for crdt-node's session tokens (tools/node/token.h):
 * every input is a token as a client sends it, decoded with ntoken_decode.
 * Replayed in `make check` by replay.c over tests/fuzz/corpus/token
 * (written by token_corpus.c).
 *
 * Oracle, for each input:
 *   - the destination, prefilled with a known token, either takes the
 *     input (CRDT_OK) or fails with CRDT_ERR_DECODE, _VERSION or _LIMIT
 *     and still encodes to the prefilled bytes;
 *   - a fresh empty token gives the same result;
 *   - what is accepted is canonical: it re-encodes to the input byte for
 *     byte (into a fixed buffer of exactly that size too), holds at most
 *     NTOKEN_MAX_KEYS keys, strictly ascending, none empty;
 *   - merging it into the prefilled token succeeds (or is over the key
 *     limit, changing nothing) and the result covers both;
 *   - the decoder allocates at most 64 bytes per input byte (plus 1 KiB)
 *     beyond what the destination held; nothing leaks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>

#define FUZZ_DECLARATIONS_ONLY
#include "fuzz_common.h"
#include "../../tools/node/token.h"

const char fuzz_type_name[] = "token";

static void ft_fail(const char *what)
{
    fprintf(stderr, "ORACLE FAILURE (token): %s\n", what);
    abort();
}

static bool ft_same(const ntoken *t, const crdt_buf *want)
{
    crdt_buf b;
    bool same;

    crdt_buf_init(&b, NULL);
    if (ntoken_encode(t, &b))
        ft_fail("encode");
    same = b.len == want->len &&
           (b.len == 0 || memcmp(b.data, want->data, b.len) == 0);
    crdt_buf_clear(&b);
    return same;
}

/* The prefilled token: three keys with small contexts. */
static ntoken *ft_prefilled(const crdt_mem *mem)
{
    static const char *const keys[] = {"alpha", "b", "zz"};
    ntoken *t;
    crdt_dotctx *c = crdt_dotctx_new(NULL);
    size_t i;

    if (!c || ntoken_new(&t, mem))
        ft_fail("new");
    for (i = 0; i < 3; i++) {
        crdt_dot d = {7 + i, 1}, e = {9, 4 + i};

        if (crdt_dotctx_add(c, d) || crdt_dotctx_add(c, e) ||
            ntoken_observe(t, (const uint8_t *)keys[i], strlen(keys[i]), c))
            ft_fail("prefill");
    }
    crdt_dotctx_free(c);
    return t;
}

static void ft_check_accepted(const ntoken *u, const uint8_t *in, size_t len)
{
    crdt_buf f;
    uint8_t *fixed;
    size_t i;

    if (!ft_same(u, &(crdt_buf){.data = (uint8_t *)in, .len = len}))
        ft_fail("an accepted token does not re-encode to the input");
    fixed = malloc(len ? len : 1);
    if (!fixed)
        ft_fail("out of memory");
    crdt_buf_init_fixed(&f, fixed, len);
    if (ntoken_encode(u, &f) || f.len != len)
        ft_fail("encode into a fixed buffer of the exact size");
    if (len) {
        crdt_buf_init_fixed(&f, fixed, len - 1);
        if (ntoken_encode(u, &f) != CRDT_ERR_BUFFER || f.len != 0)
            ft_fail("encode into a fixed buffer one byte short");
    }
    free(fixed);
    if (ntoken_count(u) > NTOKEN_MAX_KEYS)
        ft_fail("over NTOKEN_MAX_KEYS keys");
    for (i = 0; i < ntoken_count(u); i++) {
        const uint8_t *k, *pk;
        size_t kl, pkl;
        const crdt_dotctx *c;
        int cmp;

        if (ntoken_at(u, i, &k, &kl, &c) || kl == 0 || !c ||
            ntoken_find(u, k, kl) != c)
            ft_fail("ntoken_at / ntoken_find");
        if (i == 0)
            continue;
        if (ntoken_at(u, i - 1, &pk, &pkl, NULL))
            ft_fail("ntoken_at");
        cmp = memcmp(pk, k, pkl < kl ? pkl : kl);
        if (cmp > 0 || (cmp == 0 && pkl >= kl))
            ft_fail("keys not strictly ascending");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_mem fm;
    crdt_mem mem = {fz_malloc, fz_realloc, fz_free, &fm};
    ntoken *t, *u;
    crdt_buf ref;
    uint8_t *in;
    size_t base, i;
    int rv, urv;

    memset(&fm, 0, sizeof fm);
    /* exactly size bytes, so ASan sees any over-read */
    in = malloc(size ? size : 1);
    if (!in)
        ft_fail("out of memory");
    if (size)
        memcpy(in, data, size);

    t = ft_prefilled(&mem);
    crdt_buf_init(&ref, NULL);
    if (ntoken_encode(t, &ref))
        ft_fail("encode of the prefilled token");
    base = fm.live;
    fm.peak = base;
    rv = ntoken_decode(t, in, size);
    if (fm.peak > base + 64 * size + 1024)
        ft_fail("decode allocated beyond 64 bytes per input byte");
    if (rv != CRDT_OK && rv != CRDT_ERR_DECODE && rv != CRDT_ERR_VERSION &&
        rv != CRDT_ERR_LIMIT)
        ft_fail("an undocumented error");
    if (rv != CRDT_OK && !ft_same(t, &ref))
        ft_fail("a rejected token changed the destination");

    if (ntoken_new(&u, &mem))
        ft_fail("new");
    urv = ntoken_decode(u, in, size);
    if (urv != rv)
        ft_fail("a fresh destination gives another result");
    if (rv == CRDT_OK) {
        ntoken *p = ft_prefilled(&mem);
        int mrv;

        ft_check_accepted(t, in, size);
        ft_check_accepted(u, in, size);
        mrv = ntoken_merge(p, u);
        if (mrv == CRDT_OK) {
            for (i = 0; i < ntoken_count(u); i++) {
                const uint8_t *k;
                size_t kl;
                const crdt_dotctx *c;

                if (ntoken_at(u, i, &k, &kl, &c) ||
                    !ntoken_ctx_covers(ntoken_find(p, k, kl), c))
                    ft_fail("the merge does not cover the decoded token");
            }
            ntoken *q = ft_prefilled(&mem);

            for (i = 0; i < ntoken_count(q); i++) {
                const uint8_t *k;
                size_t kl;
                const crdt_dotctx *c;

                if (ntoken_at(q, i, &k, &kl, &c) ||
                    !ntoken_ctx_covers(ntoken_find(p, k, kl), c))
                    ft_fail("the merge lost a key of its destination");
            }
            ntoken_free(q);
        } else if (mrv != CRDT_ERR_LIMIT || !ft_same(p, &ref)) {
            ft_fail("merge failed or changed its destination");
        }
        ntoken_free(p);
    }
    ntoken_free(u);
    ntoken_free(t);
    crdt_buf_clear(&ref);
    free(in);
    if (fm.blocks != 0 || fm.live != 0)
        ft_fail("memory leaked");
    return 0;
}
