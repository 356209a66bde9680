/* SPDX-License-Identifier: MIT */
/* Session tokens of crdt-node (token.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "mp.h"

typedef struct tent {
    uint8_t *key;
    size_t klen;
    crdt_dotctx *ctx;
} tent;

struct ntoken {
    tent *v;
    size_t n, cap;
    crdt_mem mem;
};

static void *t_alloc(const crdt_mem *m, size_t n)
{
    return m->malloc(n ? n : 1, m->user_data);
}

static void t_free(const crdt_mem *m, void *p)
{
    if (p)
        m->free(p, m->user_data);
}

int ntoken_new(ntoken **out, const crdt_mem *mem)
{
    crdt_mem m = mem ? *mem : *crdt_mem_default();
    ntoken *t;

    if (!out)
        return CRDT_ERR_INVALID_ARG;
    t = t_alloc(&m, sizeof *t);
    if (!t)
        return CRDT_ERR_NOMEM;
    memset(t, 0, sizeof *t);
    t->mem = m;
    *out = t;
    return CRDT_OK;
}

static void ents_free(const crdt_mem *m, tent *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        t_free(m, v[i].key);
        crdt_dotctx_free(v[i].ctx);
    }
    t_free(m, v);
}

void ntoken_free(ntoken *t)
{
    crdt_mem m;

    if (!t)
        return;
    m = t->mem;
    ents_free(&m, t->v, t->n);
    t_free(&m, t);
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);

    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* Index of the key, or of where it would go (*found false). */
static size_t find(const ntoken *t, const uint8_t *key, size_t klen,
                   bool *found)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(t->v[mid].key, t->v[mid].klen, key, klen);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

size_t ntoken_count(const ntoken *t)
{
    return t ? t->n : 0;
}

int ntoken_at(const ntoken *t, size_t i, const uint8_t **key, size_t *klen,
              const crdt_dotctx **ctx)
{
    if (!t)
        return CRDT_ERR_INVALID_ARG;
    if (i >= t->n)
        return CRDT_ERR_NOT_FOUND;
    if (key)
        *key = t->v[i].key;
    if (klen)
        *klen = t->v[i].klen;
    if (ctx)
        *ctx = t->v[i].ctx;
    return CRDT_OK;
}

const crdt_dotctx *ntoken_find(const ntoken *t, const uint8_t *key,
                               size_t klen)
{
    bool found;
    size_t i;

    if (!t || !key)
        return NULL;
    i = find(t, key, klen, &found);
    return found ? t->v[i].ctx : NULL;
}

bool ntoken_ctx_covers(const crdt_dotctx *have, const crdt_dotctx *want)
{
    crdt_order o = crdt_dotctx_compare(want, have);

    return o == CRDT_EQUAL || o == CRDT_BEFORE;
}

int ntoken_observe(ntoken *t, const uint8_t *key, size_t klen,
                   const crdt_dotctx *ctx)
{
    bool found;
    size_t i;
    crdt_dotctx *c;
    uint8_t *k;
    int rv;

    if (!t || !key || !klen || !ctx)
        return CRDT_ERR_INVALID_ARG;
    i = find(t, key, klen, &found);
    if (found) {
        if (ntoken_ctx_covers(t->v[i].ctx, ctx))
            return CRDT_OK;
        c = crdt_dotctx_clone(t->v[i].ctx);
        if (!c)
            return CRDT_ERR_NOMEM;
        if ((rv = crdt_dotctx_join(c, ctx))) {
            crdt_dotctx_free(c);
            return rv;
        }
        crdt_dotctx_free(t->v[i].ctx);
        t->v[i].ctx = c;
        return CRDT_OK;
    }
    if (t->n >= NTOKEN_MAX_KEYS)
        return CRDT_ERR_LIMIT;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 4;
        tent *nv = t->mem.realloc(t->v, nc * sizeof *nv, t->mem.user_data);

        if (!nv)
            return CRDT_ERR_NOMEM;
        t->v = nv;
        t->cap = nc;
    }
    k = t_alloc(&t->mem, klen);
    if (!k)
        return CRDT_ERR_NOMEM;
    c = crdt_dotctx_new(&t->mem);
    if (!c) {
        t_free(&t->mem, k);
        return CRDT_ERR_NOMEM;
    }
    if ((rv = crdt_dotctx_join(c, ctx))) {
        crdt_dotctx_free(c);
        t_free(&t->mem, k);
        return rv;
    }
    memcpy(k, key, klen);
    memmove(t->v + i + 1, t->v + i, (t->n - i) * sizeof *t->v);
    t->v[i] = (tent){k, klen, c};
    t->n++;
    return CRDT_OK;
}

int ntoken_merge(ntoken *dst, const ntoken *src)
{
    ntoken *tmp;
    size_t i;
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (src->n == 0)
        return CRDT_OK;
    /* on a copy, so that dst is unchanged on error */
    if ((rv = ntoken_new(&tmp, &dst->mem)))
        return rv;
    for (i = 0; i < dst->n && !rv; i++)
        rv = ntoken_observe(tmp, dst->v[i].key, dst->v[i].klen,
                            dst->v[i].ctx);
    for (i = 0; i < src->n && !rv; i++)
        rv = ntoken_observe(tmp, src->v[i].key, src->v[i].klen,
                            src->v[i].ctx);
    if (rv) {
        ntoken_free(tmp);
        return rv;
    }
    ents_free(&dst->mem, dst->v, dst->n);
    dst->v = tmp->v;
    dst->n = tmp->n;
    dst->cap = tmp->cap;
    t_free(&dst->mem, tmp);
    return CRDT_OK;
}

int ntoken_encode(const ntoken *t, crdt_buf *out)
{
    crdt_buf ctx;
    size_t len0, i;
    int rv = CRDT_OK;

    if (!t || !out)
        return CRDT_ERR_INVALID_ARG;
    if (t->n == 0) /* the empty token is the empty byte string */
        return CRDT_OK;
    len0 = out->len;
    crdt_buf_init(&ctx, &t->mem);
    rv = mpw_array(out, 2);
    if (!rv)
        rv = mpw_uint(out, 1);
    if (!rv)
        rv = mpw_array(out, t->n);
    for (i = 0; i < t->n && !rv; i++) {
        crdt_buf_reset(&ctx);
        rv = crdt_dotctx_encode(t->v[i].ctx, &ctx);
        if (!rv)
            rv = mpw_array(out, 2);
        if (!rv)
            rv = mpw_bin(out, t->v[i].key, t->v[i].klen);
        if (!rv)
            rv = mpw_bin(out, ctx.data, ctx.len);
    }
    crdt_buf_clear(&ctx);
    /* what ntoken_decode would refuse is not handed out */
    if (!rv && out->len - len0 > NTOKEN_MAX_BYTES)
        rv = CRDT_ERR_LIMIT;
    if (rv)
        out->len = len0;
    return rv;
}

int ntoken_decode(ntoken *t, const uint8_t *data, size_t len)
{
    ntoken *tmp;
    mpr r;
    uint64_t n = 0, ver = 0, i;
    int rv;

    if (!t || (!data && len))
        return CRDT_ERR_INVALID_ARG;
    if (len > NTOKEN_MAX_BYTES)
        return CRDT_ERR_LIMIT;
    if ((rv = ntoken_new(&tmp, &t->mem)))
        return rv;
    if (len == 0)
        goto done;
    mpr_init(&r, data, len);
    if (!mpr_array(&r, &n) || n != 2 || !mpr_uint(&r, &ver)) {
        rv = CRDT_ERR_DECODE;
        goto fail;
    }
    if (ver != 1) {
        rv = CRDT_ERR_VERSION;
        goto fail;
    }
    if (!mpr_array(&r, &n)) {
        rv = CRDT_ERR_DECODE;
        goto fail;
    }
    if (n == 0) { /* [1, []]: a second encoding of the empty token */
        rv = CRDT_ERR_DECODE;
        goto fail;
    }
    if (n > NTOKEN_MAX_KEYS) {
        rv = CRDT_ERR_LIMIT;
        goto fail;
    }
    for (i = 0; i < n; i++) {
        const uint8_t *k, *c;
        size_t kl, cl;
        uint64_t two;
        crdt_dotctx *ctx;

        if (!mpr_array(&r, &two) || two != 2 || !mpr_bin(&r, &k, &kl) ||
            !mpr_bin(&r, &c, &cl) || kl == 0 ||
            (tmp->n && key_cmp(tmp->v[tmp->n - 1].key,
                               tmp->v[tmp->n - 1].klen, k, kl) >= 0)) {
            rv = CRDT_ERR_DECODE;
            goto fail;
        }
        ctx = crdt_dotctx_new(&t->mem);
        if (!ctx) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
        rv = crdt_dotctx_decode(ctx, c, cl, NULL, NULL);
        /* a context of another type or format version is a malformed
         * token (not CRDT_ERR_TYPE, nor the token's own VERSION) */
        if (rv && rv != CRDT_ERR_NOMEM && rv != CRDT_ERR_LIMIT)
            rv = CRDT_ERR_DECODE;
        if (!rv)
            rv = ntoken_observe(tmp, k, kl, ctx);
        crdt_dotctx_free(ctx);
        if (rv)
            goto fail;
    }
    if (r.p != r.end) {
        rv = CRDT_ERR_DECODE;
        goto fail;
    }
done:
    ents_free(&t->mem, t->v, t->n);
    t->v = tmp->v;
    t->n = tmp->n;
    t->cap = tmp->cap;
    t_free(&t->mem, tmp);
    return CRDT_OK;
fail:
    ntoken_free(tmp);
    return rv;
}
