/* SPDX-License-Identifier: MIT */
/*
 * The gossip engine's keyed store.
 *
 * Representation: a dense array of keys in order of first storage (keys
 * are never removed: a deleted key keeps its OR-map, whose context is the
 * tombstone), so an index names a key for its lifetime and iteration
 * order is stable.  Lookups go through an open-addressing table of
 * indexes keyed by SipHash-2-4 (libsodium's crypto_shorthash) under a key
 * drawn from the node's generator: keys come from peers, so the hash must
 * not be predictable, and the generator is seeded, so runs replay.
 *
 * For repair, the keys are also kept sorted by position (the unkeyed
 * XXH3 of the key, which every node computes alike) in `bypos`: new keys
 * are appended unsorted and folded in (sort the tail, merge) when a
 * repair needs the view, so a burst of inserts costs one sort.
 *
 * Each key's state hash is XXH3-64 of bin(key) followed by the state's
 * canonical encoding; it changes iff the state does.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <xxhash.h>

#include "gossip_internal.h"
#include "mem_internal.h"

/* ======================================================================
 * Hashing
 * ====================================================================== */

uint64_t gp_hash(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

void gp_store_init(gp_store *s, const crdt_registry *reg,
                   const crdt_limits *lim, const crdt_mem *mem,
                   crdtp_rng *rng)
{
    uint64_t a = crdtp_rng_next(rng), b = crdtp_rng_next(rng);

    memset(s, 0, sizeof *s);
    memcpy(s->sipkey, &a, 8);
    memcpy(s->sipkey + 8, &b, 8);
    s->reg = reg;
    s->lim = *lim;
    crdtp_mem_set(&s->mem, mem);
    crdt_buf_init(&s->scratch, &s->mem);
}

void gp_store_clear(gp_store *s)
{
    size_t i;

    for (i = 0; i < s->len; i++) {
        crdtp_free(&s->mem, s->keys[i].key);
        crdt_ormap_free(s->keys[i].map);
    }
    crdtp_free(&s->mem, s->keys);
    crdtp_free(&s->mem, s->slots);
    crdtp_free(&s->mem, s->bypos);
    crdtp_free(&s->mem, s->dirtyq);
    crdt_buf_clear(&s->scratch);
    memset(s, 0, sizeof *s);
}

/* ======================================================================
 * Lookup
 * ====================================================================== */

static uint64_t keyhash(const gp_store *s, const uint8_t *key, size_t klen)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;

    crypto_shorthash(out, key, klen, s->sipkey);
    memcpy(&h, out, sizeof h);
    return h;
}

long gp_store_find(const gp_store *s, const uint8_t *key, size_t klen)
{
    size_t mask, i;

    if (!s->nslots)
        return -1;
    mask = s->nslots - 1;
    for (i = keyhash(s, key, klen) & mask;; i = (i + 1) & mask) {
        uint32_t v = s->slots[i];
        const gp_key *k;

        if (!v)
            return -1;
        k = &s->keys[v - 1];
        if (k->klen == klen && memcmp(k->key, key, klen) == 0)
            return (long)(v - 1);
    }
}

static void slot_put(uint32_t *slots, size_t nslots, uint64_t h,
                     uint32_t v)
{
    size_t mask = nslots - 1, i;

    for (i = h & mask; slots[i]; i = (i + 1) & mask)
        ;
    slots[i] = v;
}

int gp_store_reserve(gp_store *s)
{
    size_t need = s->len + 1;

    if (s->len >= UINT32_MAX - 1)
        return CRDT_ERR_LIMIT;
    if (need > s->cap) {
        size_t cap = crdtp_grow_cap(s->cap, need);
        gp_key *k = crdtp_realloc_array(&s->mem, s->keys, cap, sizeof *k);
        uint32_t *bp;

        if (!k)
            return CRDT_ERR_NOMEM;
        s->keys = k;
        bp = crdtp_realloc_array(&s->mem, s->bypos, cap, sizeof *bp);
        if (!bp)
            return CRDT_ERR_NOMEM; /* keys grew: harmless */
        s->bypos = bp;
        bp = crdtp_realloc_array(&s->mem, s->dirtyq, cap, sizeof *bp);
        if (!bp)
            return CRDT_ERR_NOMEM;
        s->dirtyq = bp;
        s->cap = cap;
    }
    if (2 * need >= s->nslots) {
        size_t n = s->nslots ? 2 * s->nslots : 16, i;
        uint32_t *slots;

        while (2 * need >= n)
            n *= 2;
        slots = crdtp_malloc_array(&s->mem, n, sizeof *slots);
        if (!slots)
            return CRDT_ERR_NOMEM;
        memset(slots, 0, n * sizeof *slots);
        for (i = 0; i < s->len; i++)
            slot_put(slots, n,
                     keyhash(s, s->keys[i].key, s->keys[i].klen),
                     (uint32_t)(i + 1));
        crdtp_free(&s->mem, s->slots);
        s->slots = slots;
        s->nslots = n;
    }
    return CRDT_OK;
}

size_t gp_store_insert(gp_store *s, uint8_t *key, size_t klen,
                       crdt_ormap *map)
{
    size_t i = s->len++;
    gp_key *k = &s->keys[i];

    k->key = key;
    k->klen = (uint32_t)klen;
    k->map = map;
    k->present = false;
    k->dirty = false;
    k->pos = gp_hash(key, klen);
    k->h = 0;
    k->enc_len = 0;
    slot_put(s->slots, s->nslots, keyhash(s, key, klen), (uint32_t)(i + 1));
    s->bypos[i] = (uint32_t)i; /* unsorted tail */
    return i;
}

/* ======================================================================
 * State hashes
 * ====================================================================== */

void gp_store_dirty(gp_store *s, size_t i)
{
    if (s->keys[i].dirty)
        return;
    s->keys[i].dirty = true;
    s->dirtyq[s->ndirty++] = (uint32_t)i;
}

int gp_store_hash(gp_store *s, const uint8_t *key, size_t klen,
                  const crdt_ormap *map, uint64_t *h, size_t *enc_len)
{
    uint8_t hdr[CW_HDR_MAX];
    size_t hlen;
    int rv;

    /* bin header of klen bytes */
    if (klen <= 0xff) {
        hdr[0] = 0xc4, hdr[1] = (uint8_t)klen, hlen = 2;
    } else if (klen <= 0xffff) {
        hdr[0] = 0xc5, cw_store_be16(hdr + 1, (uint16_t)klen), hlen = 3;
    } else {
        hdr[0] = 0xc6, cw_store_be32(hdr + 1, (uint32_t)klen), hlen = 5;
    }

    crdt_buf_reset(&s->scratch);
    rv = crdt_buf_append(&s->scratch, hdr, hlen);
    if (!rv && klen)
        rv = crdt_buf_append(&s->scratch, key, klen);
    if (!rv)
        rv = crdt_ormap_encode(map, &s->scratch);
    if (rv)
        return rv;
    *h = XXH3_64bits(s->scratch.data, s->scratch.len);
    *enc_len = s->scratch.len - hlen - klen;
    return CRDT_OK;
}

/* ======================================================================
 * The sorted-by-position view
 * ====================================================================== */

static int bypos_less(const gp_store *s, uint32_t a, uint32_t b)
{
    uint64_t pa = s->keys[a].pos, pb = s->keys[b].pos;

    return pa < pb || (pa == pb && a < b);
}

/* Heapsort of v[0..n) by (pos, index): no allocation, no global state. */
static void sift(const gp_store *s, uint32_t *v, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        uint32_t t;

        if (c >= n)
            return;
        if (c + 1 < n && bypos_less(s, v[c], v[c + 1]))
            c++;
        if (!bypos_less(s, v[i], v[c]))
            return;
        t = v[i], v[i] = v[c], v[c] = t;
        i = c;
    }
}

static void heapsort_pos(const gp_store *s, uint32_t *v, size_t n)
{
    size_t i;

    for (i = n / 2; i-- > 0;)
        sift(s, v, i, n);
    for (i = n; i-- > 1;) {
        uint32_t t = v[0];

        v[0] = v[i], v[i] = t;
        sift(s, v, 0, i);
    }
}

int gp_store_sort(gp_store *s)
{
    size_t tail = s->len - s->nsorted, i, j, k;
    uint32_t *tmp;

    if (!tail)
        return CRDT_OK;
    heapsort_pos(s, s->bypos + s->nsorted, tail);
    if (s->nsorted) {
        /* merge the sorted head and the newly sorted tail */
        tmp = crdtp_malloc_array(&s->mem, s->len, sizeof *tmp);
        if (!tmp)
            return CRDT_ERR_NOMEM;
        for (i = 0, j = s->nsorted, k = 0; k < s->len; k++) {
            if (j >= s->len ||
                (i < s->nsorted && bypos_less(s, s->bypos[i], s->bypos[j])))
                tmp[k] = s->bypos[i++];
            else
                tmp[k] = s->bypos[j++];
        }
        memcpy(s->bypos, tmp, s->len * sizeof *tmp);
        crdtp_free(&s->mem, tmp);
    }
    s->nsorted = s->len;
    return CRDT_OK;
}

void gp_store_range(const gp_store *s, unsigned level, uint64_t index,
                    size_t *lo, size_t *hi)
{
    uint64_t first, last;
    size_t a, b;

    if (level == 0) {
        first = 0, last = UINT64_MAX;
    } else {
        unsigned shift = 64 - 4 * level;

        first = index << shift;
        last = first | (shift ? (((uint64_t)1 << shift) - 1) : 0);
    }
    /* lower bound of first */
    a = 0, b = s->nsorted;
    while (a < b) {
        size_t mid = a + (b - a) / 2;

        if (s->keys[s->bypos[mid]].pos < first)
            a = mid + 1;
        else
            b = mid;
    }
    *lo = a;
    b = s->nsorted;
    while (a < b) {
        size_t mid = a + (b - a) / 2;

        if (s->keys[s->bypos[mid]].pos <= last)
            a = mid + 1;
        else
            b = mid;
    }
    *hi = a;
}
