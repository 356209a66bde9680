/* SPDX-License-Identifier: MIT */
/*
 * Element store of the sets (see elemset_internal.h for the
 * representation, invariants and costs).
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "elemset_internal.h"
#include "mem_internal.h"

#define MIN_SLOTS 8u

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

int crdtp_es_init(elemset *s, bool with_dots)
{
    /* the zero key, unkeyed: the random key is drawn by crdtp_es_grow
     * when the set is to hold more than ES_KEY_AT elements */
    memset(s, 0, sizeof *s);
    s->with_dots = with_dots;
    return CRDT_OK;
}

static void free_lists(elemset *s, const crdt_mem *mem)
{
    size_t i;

    if (!s->dots)
        return;
    for (i = 0; i < s->n; i++)
        if (s->dots[i].counter == 0 && s->dots[i].actor != 0)
            crdtp_free(mem, (void *)(uintptr_t)s->dots[i].actor);
}

void crdtp_es_clear(elemset *s, const crdt_mem *mem)
{
    free_lists(s, mem);
    crdtp_free(mem, s->arena);
    crdtp_free(mem, s->ents);
    crdtp_free(mem, s->dots);
    crdtp_free(mem, s->slots);
    s->arena = NULL;
    s->ents = NULL;
    s->dots = NULL;
    s->slots = NULL;
    s->alen = s->acap = s->garbage = s->n = s->cap = s->nslots = 0;
}

void crdtp_es_swap(elemset *a, elemset *b)
{
    elemset t = *a;

    *a = *b;
    *b = t;
}

es_dotlist *crdtp_es_dotlist_new(const crdt_mem *mem, size_t n)
{
    if (n > (SIZE_MAX - sizeof(es_dotlist)) / sizeof(crdt_dot))
        return NULL;
    return crdtp_malloc(mem, sizeof(es_dotlist) + n * sizeof(crdt_dot));
}

int crdtp_es_copy(elemset *dst, const crdt_mem *mem, const elemset *src)
{
    elemset t;
    size_t i, k;

    if (dst == src)
        return CRDT_OK;
    t = *src;
    t.arena = NULL;
    t.ents = NULL;
    t.dots = NULL;
    t.slots = NULL;
    t.acap = src->alen;
    t.cap = src->n;
    t.garbage = 0;
    /* the copy keeps garbage out: it is rebuilt compactly when src has
     * garbage, else copied with memcpy */
    if ((src->alen && !(t.arena = crdtp_malloc(mem, src->alen))) ||
        (src->n && !(t.ents = crdtp_malloc_array(mem, src->n,
                                                 sizeof *t.ents))) ||
        (src->n && src->dots &&
         !(t.dots = crdtp_malloc_array(mem, src->n, sizeof *t.dots))) ||
        (src->nslots && !(t.slots = crdtp_malloc_array(
                              mem, src->nslots, sizeof *t.slots))))
        goto fail;
    if (src->n)
        memcpy(t.ents, src->ents, src->n * sizeof *t.ents);
    if (src->nslots)
        memcpy(t.slots, src->slots, src->nslots * sizeof *t.slots);
    if (src->garbage == 0) {
        if (src->alen)
            memcpy(t.arena, src->arena, src->alen);
    } else {
        size_t off = 0;

        for (i = 0; i < src->n; i++) {
            size_t len = crdtp_es_len(src, i);

            if (len <= ES_INLINE)
                continue;
            memcpy(t.arena + off, crdtp_es_bytes(src, i), len);
            t.ents[i].ref = off;
            off += len;
        }
        t.alen = off;
    }
    if (src->dots && src->n) {
        memcpy(t.dots, src->dots, src->n * sizeof *t.dots);
        for (i = 0; i < src->n; i++) {
            const es_dotlist *l;
            es_dotlist *c;

            if (t.dots[i].counter || !t.dots[i].actor)
                continue;
            l = (const es_dotlist *)(uintptr_t)src->dots[i].actor;
            if (!(c = crdtp_es_dotlist_new(mem, l->n))) {
                for (k = 0; k < i; k++) /* undo the lists copied so far */
                    if (!t.dots[k].counter && t.dots[k].actor)
                        crdtp_free(mem, (void *)(uintptr_t)t.dots[k].actor);
                t.n = 0;
                goto fail;
            }
            memcpy(c, l, sizeof *l + l->n * sizeof(crdt_dot));
            t.dots[i].actor = (uint64_t)(uintptr_t)c;
        }
    }
    crdtp_es_clear(dst, mem);
    *dst = t;
    return CRDT_OK;
fail:
    crdtp_free(mem, t.arena);
    crdtp_free(mem, t.ents);
    crdtp_free(mem, t.dots);
    crdtp_free(mem, t.slots);
    return CRDT_ERR_NOMEM;
}

/* ======================================================================
 * Hashing and lookup
 * ====================================================================== */

/* The inline form of n <= ES_INLINE bytes: as stored in es_ent.ref. */
static inline uint64_t inline_word(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t w = 0;
    uint8_t *o = (uint8_t *)&w;
    size_t k = 0;

    if (n == 8) {
        memcpy(&w, b, 8);
        return w;
    }
    if (n & 4) {
        memcpy(o, b, 4);
        k = 4;
    }
    if (n & 2) {
        memcpy(o + k, b + k, 2);
        k += 2;
    }
    if (n & 1)
        o[k] = b[k];
    return w;
}

static ES_INLINE_ALWAYS size_t probe(const elemset *s, const void *p,
                                     size_t n, uint32_t h, size_t *slot)
{
    size_t mask, i;
    uint64_t v;

    if (s->n == 0) {
        *slot = ES_NONE;
        return ES_NONE;
    }
    mask = s->nslots - 1;
    if (n <= ES_INLINE) {
        uint64_t w = inline_word(p, n);

        for (i = h & mask; (v = s->slots[i]) != 0; i = (i + 1) & mask) {
            if ((uint32_t)(v >> 32) == h) {
                size_t k = (size_t)(uint32_t)v - 1;
                const es_ent *e = &s->ents[k];

                if (e->ref == w && (e->len & ~ES_MARK) == n) {
                    *slot = i;
                    return k;
                }
            }
        }
        *slot = i;
        return ES_NONE;
    }
    for (i = h & mask; (v = s->slots[i]) != 0; i = (i + 1) & mask) {
        if ((uint32_t)(v >> 32) == h) {
            size_t k = (size_t)(uint32_t)v - 1;
            const es_ent *e = &s->ents[k];

            if ((e->len & ~ES_MARK) == n &&
                memcmp(s->arena + e->ref, p, n) == 0) {
                *slot = i;
                return k;
            }
        }
    }
    *slot = i;
    return ES_NONE;
}

size_t crdtp_es_find(const elemset *s, const void *p, size_t n, uint32_t h)
{
    size_t slot;

    return probe(s, p, n, h, &slot);
}

size_t crdtp_es_find_slot(const elemset *s, const void *p, size_t n,
                          uint32_t h, size_t *slot)
{
    return probe(s, p, n, h, slot);
}

static void slot_insert(uint64_t *slots, size_t mask, uint32_t h, size_t k)
{
    size_t i = h & mask;

    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = (uint64_t)h << 32 | (uint64_t)(k + 1);
}

/* Position of the slot that holds entry k. */
static ES_INLINE_ALWAYS size_t slot_of(const elemset *s, size_t k)
{
    size_t mask = s->nslots - 1, i = s->ents[k].hash & mask;

    while ((uint32_t)s->slots[i] != (uint32_t)(k + 1))
        i = (i + 1) & mask;
    return i;
}

/* Backward-shift deletion of slot i: each later slot of the run moves
 * back into the hole unless its home lies cyclically in (hole, slot],
 * i.e. unless it is nearer its home than the hole is. */
static ES_INLINE_ALWAYS void slot_delete(elemset *s, size_t i)
{
    size_t mask = s->nslots - 1, j = i;
    uint64_t v;

    for (;;) {
        j = (j + 1) & mask;
        if (!(v = s->slots[j]))
            break;
        if (((j - (uint32_t)(v >> 32)) & mask) < ((j - i) & mask))
            continue;
        s->slots[i] = v;
        i = j;
    }
    s->slots[i] = 0;
}

/* ======================================================================
 * Growth
 * ====================================================================== */

/* Draws the random key and rehashes every entry; the caller rebuilds
 * the index.  sodium_init has succeeded. */
static ES_NOINLINE void rekey(elemset *s)
{
    size_t i;

    randombytes_buf(s->key, sizeof s->key);
    s->keyed = true;
    for (i = 0; i < s->n; i++)
        s->ents[i].hash = crdtp_shorthash(s, crdtp_es_bytes(s, i),
                                          crdtp_es_len(s, i));
}

int crdtp_es_grow(elemset *s, const crdt_mem *mem, size_t k, size_t bytes)
{
    size_t need, ns;
    bool key;

    if (k > SIZE_MAX - s->n || bytes > SIZE_MAX - s->alen)
        return CRDT_ERR_NOMEM;
    need = s->n + k;
    if (need > UINT32_MAX - 1)
        return CRDT_ERR_NOMEM; /* indices are 32-bit in the slots */
    /* past ES_KEY_AT elements the set needs its secret key: the only
     * failure of the rekeying is checked first, the key drawn last (after
     * the allocations, which cannot then undo it) */
    key = !s->keyed && need > ES_KEY_AT;
    if (key && sodium_init() < 0)
        return CRDT_ERR_RANDOM;
    if (need > s->cap) {
        size_t cap = crdtp_grow_cap(s->cap, need);
        es_ent *e;

        if (cap > UINT32_MAX - 1)
            cap = need;
        e = crdtp_realloc_array(mem, s->ents, cap, sizeof *e);
        if (!e)
            return CRDT_ERR_NOMEM;
        s->ents = e;
        if (s->with_dots) {
            crdt_dot *d = crdtp_realloc_array(mem, s->dots, cap, sizeof *d);

            if (!d)
                return CRDT_ERR_NOMEM; /* ents grew: capacity only */
            s->dots = d;
        }
        s->cap = cap;
    }
    if (s->alen + bytes > s->acap) {
        size_t cap = crdtp_grow_cap(s->acap < 64 ? 64 : s->acap,
                                    s->alen + bytes);
        uint8_t *a = crdtp_realloc_array(mem, s->arena, cap, 1);

        if (!a)
            return CRDT_ERR_NOMEM;
        s->arena = a;
        s->acap = cap;
    }
    /* load factor <= 3/4 */
    ns = s->nslots ? s->nslots : MIN_SLOTS;
    while (need > ns / 4 * 3) {
        if (ns > SIZE_MAX / 2 / sizeof(uint64_t))
            return CRDT_ERR_NOMEM;
        ns *= 2;
    }
    if (ns != s->nslots) {
        uint64_t *t = crdtp_malloc_array(mem, ns, sizeof *t);
        size_t i;

        if (!t)
            return CRDT_ERR_NOMEM;
        if (key)
            rekey(s);
        memset(t, 0, ns * sizeof *t);
        for (i = 0; i < s->n; i++)
            slot_insert(t, ns - 1, s->ents[i].hash, i);
        crdtp_free(mem, s->slots);
        s->slots = t;
        s->nslots = ns;
    } else if (key) {
        size_t i;

        /* same table: rebuilt in place under the new hashes */
        rekey(s);
        memset(s->slots, 0, s->nslots * sizeof *s->slots);
        for (i = 0; i < s->n; i++)
            slot_insert(s->slots, s->nslots - 1, s->ents[i].hash, i);
    }
    return CRDT_OK;
}

size_t crdtp_es_push_at(elemset *s, const void *p, size_t n, uint32_t h,
                        size_t slot)
{
    size_t k = s->n++;
    es_ent *e = &s->ents[k];

    if (n <= ES_INLINE) {
        e->ref = inline_word(p, n);
    } else {
        e->ref = s->alen;
        memcpy(s->arena + s->alen, p, n);
        s->alen += n;
    }
    e->len = (uint32_t)n;
    e->hash = h;
    if (s->dots) {
        s->dots[k].actor = 0;
        s->dots[k].counter = 0;
    }
    if (slot == ES_NONE)
        slot_insert(s->slots, s->nslots - 1, h, k);
    else
        s->slots[slot] = (uint64_t)h << 32 | (uint64_t)(k + 1);
    return k;
}

size_t crdtp_es_push(elemset *s, const void *p, size_t n, uint32_t h)
{
    return crdtp_es_push_at(s, p, n, h, ES_NONE);
}

void crdtp_es_set_dots(elemset *s, const crdt_mem *mem, size_t i,
                       const crdt_dot *one, es_dotlist *l, size_t n)
{
    crdt_dot *d = &s->dots[i];
    crdt_dot o = {0, 0};

    if (n == 1)
        o = *one; /* one may point into the list freed below */
    if (d->counter == 0 && d->actor != 0 &&
        (void *)(uintptr_t)d->actor != (void *)l)
        crdtp_free(mem, (void *)(uintptr_t)d->actor);
    if (n == 0) {
        d->actor = 0;
        d->counter = 0;
    } else if (n == 1) {
        *d = o;
    } else {
        l->n = n;
        d->actor = (uint64_t)(uintptr_t)l;
        d->counter = 0;
    }
}

/* Rewrites the arena without garbage, in entry order; best effort (an
 * allocation failure leaves the garbage where it is). */
static void compact_arena(elemset *s, const crdt_mem *mem)
{
    size_t live = s->alen - s->garbage, off = 0, i, cap;
    uint8_t *a;

    cap = live < 64 ? 64 : live + live / 4;
    a = crdtp_malloc(mem, cap);
    if (!a)
        return;
    for (i = 0; i < s->n; i++) {
        size_t len = crdtp_es_len(s, i);

        if (len <= ES_INLINE)
            continue;
        memcpy(a + off, crdtp_es_bytes(s, i), len);
        s->ents[i].ref = off;
        off += len;
    }
    crdtp_free(mem, s->arena);
    s->arena = a;
    s->acap = cap;
    s->alen = off;
    s->garbage = 0;
}

/* Moves entry j (the last) to hole i, fixing its slot. */
static ES_INLINE_ALWAYS void move_entry(elemset *s, size_t j, size_t i)
{
    size_t sl = slot_of(s, j);

    s->slots[sl] = (uint64_t)s->ents[j].hash << 32 | (uint64_t)(i + 1);
    s->ents[i] = s->ents[j];
    if (s->dots)
        s->dots[i] = s->dots[j];
}

/* Accounts for the arena bytes of entry i, a long one, going away. */
static void drop_bytes(elemset *s, size_t i)
{
    size_t len = crdtp_es_len(s, i);

    if (s->ents[i].ref + len == s->alen)
        s->alen -= len;
    else
        s->garbage += len;
}

static ES_INLINE_ALWAYS void remove_slot(elemset *s, const crdt_mem *mem,
                                         size_t i, size_t slot)
{
    size_t last = s->n - 1;
    bool big = crdtp_es_len(s, i) > ES_INLINE;

    if (s->dots) {
        const crdt_dot *d = &s->dots[i];

        if (d->counter == 0 && d->actor != 0)
            crdtp_free(mem, (void *)(uintptr_t)d->actor);
    }
    slot_delete(s, slot);
    if (big)
        drop_bytes(s, i);
    if (i != last)
        move_entry(s, last, i);
    s->n = last;
    if (last == 0)
        s->alen = s->garbage = 0;
    else if (big && s->garbage > 4096 && s->garbage > s->alen / 2)
        compact_arena(s, mem);
}

void crdtp_es_remove_slot(elemset *s, const crdt_mem *mem, size_t i,
                          size_t slot)
{
    remove_slot(s, mem, i, slot);
}

bool crdtp_es_remove_key(elemset *s, const crdt_mem *mem, const void *p,
                         size_t n, uint32_t h)
{
    size_t slot, i = probe(s, p, n, h, &slot);

    if (i == ES_NONE)
        return false;
    remove_slot(s, mem, i, slot);
    return true;
}

void crdtp_es_remove_dead(elemset *s, const crdt_mem *mem)
{
    size_t i, j;

#define DEAD(k) (s->dots[k].counter == 0 && s->dots[k].actor == 0)
    /* unindex every dead entry first, then fill holes from the end */
    for (i = 0; i < s->n; i++)
        if (DEAD(i)) {
            slot_delete(s, slot_of(s, i));
            if (crdtp_es_len(s, i) > ES_INLINE)
                drop_bytes(s, i);
        }
    i = 0;
    j = s->n;
    for (;;) {
        while (i < j && !DEAD(i))
            i++;
        while (j > i && DEAD(j - 1))
            j--;
        if (i >= j)
            break;
        move_entry(s, j - 1, i);
        s->dots[j - 1].actor = 0;
        s->dots[j - 1].counter = 0;
        j--;
        i++;
    }
#undef DEAD
    s->n = j;
    if (s->n == 0)
        s->alen = s->garbage = 0;
    else if (s->garbage > 4096 && s->garbage > s->alen / 2)
        compact_arena(s, mem);
}

/* ======================================================================
 * Canonical order
 * ====================================================================== */

int crdtp_es_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t m = na < nb ? na : nb;
    int c = m ? memcmp(a, b, m) : 0;

    if (c)
        return c;
    return na < nb ? -1 : na > nb;
}

/* Sort key: the first 8 bytes big-endian, zero-padded. */
static uint64_t prefix(const elemset *s, size_t i)
{
    const uint8_t *p = crdtp_es_bytes(s, i);
    size_t n = crdtp_es_len(s, i);
    uint8_t b[8] = {0};

    if (n >= 8)
        memcpy(b, p, 8);
    else
        while (n--)
            b[n] = p[n];
    /* one byte-swapped load with gcc and clang */
    return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 |
           (uint64_t)b[2] << 40 | (uint64_t)b[3] << 32 |
           (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
           (uint64_t)b[6] << 8 | b[7];
}

typedef struct srec {
    uint64_t key;
    uint64_t idx;
} srec;

/* Sorts entry indices into canonical order: an LSD radix sort of
 * (8-byte prefix, index) records on bytes (the 8 digit histograms are
 * counted in one pass over the keys, and a pass whose digit is the same
 * in every key is skipped), then an insertion sort of each run of equal
 * prefixes by the full comparison.  On success *perm (n uint32, from
 * mem) is the caller's. */
int crdtp_es_sorted(const elemset *s, const crdt_mem *mem, uint32_t **perm)
{
    size_t n = s->n, i, pass;
    srec *a, *b, *t;
    uint32_t *p, (*cnt)[256];

    *perm = NULL;
    if (n == 0)
        return CRDT_OK;
    a = crdtp_malloc_array(mem, n, 2 * sizeof *a);
    p = crdtp_malloc_array(mem, n, sizeof *p);
    cnt = crdtp_malloc(mem, 8 * sizeof *cnt);
    if (!a || !p || !cnt) {
        crdtp_free(mem, a);
        crdtp_free(mem, p);
        crdtp_free(mem, cnt);
        return CRDT_ERR_NOMEM;
    }
    memset(cnt, 0, 8 * sizeof *cnt);
    b = a + n;
    for (i = 0; i < n; i++) {
        uint64_t k = prefix(s, i);

        a[i].key = k;
        a[i].idx = i;
        cnt[0][k & 0xff]++;
        cnt[1][(k >> 8) & 0xff]++;
        cnt[2][(k >> 16) & 0xff]++;
        cnt[3][(k >> 24) & 0xff]++;
        cnt[4][(k >> 32) & 0xff]++;
        cnt[5][(k >> 40) & 0xff]++;
        cnt[6][(k >> 48) & 0xff]++;
        cnt[7][k >> 56]++;
    }
    for (pass = 0; pass < 8; pass++) {
        uint32_t *c = cnt[pass], sum = 0, x;
        unsigned sh = (unsigned)pass * 8;
        size_t d;

        if (c[(a[0].key >> sh) & 0xff] == n)
            continue;
        for (d = 0; d < 256; d++) {
            x = c[d];
            c[d] = sum;
            sum += x;
        }
        for (i = 0; i < n; i++)
            b[c[(a[i].key >> sh) & 0xff]++] = a[i];
        t = a, a = b, b = t;
    }
    crdtp_free(mem, cnt);
    for (i = 0; i < n; i++)
        p[i] = (uint32_t)a[i].idx;
    /* equal prefixes: full comparison (elements longer than 8 bytes or
     * with trailing zero bytes) */
    for (i = 1; i < n; i++) {
        size_t j = i;

        while (j > 0 && a[j - 1].key == a[i].key) {
            uint32_t x = p[j - 1], y = p[j];

            if (crdtp_es_cmp(crdtp_es_bytes(s, x), crdtp_es_len(s, x),
                             crdtp_es_bytes(s, y), crdtp_es_len(s, y)) <= 0)
                break;
            p[j - 1] = y;
            p[j] = x;
            j--;
        }
    }
    crdtp_free(mem, a < b ? a : b);
    *perm = p;
    return CRDT_OK;
}
