/* SPDX-License-Identifier: MIT */
/*
 * Sorted actor vectors (see avec_internal.h for representation and
 * invariants).  Tuned for the workloads of replicated counters and clocks:
 * replicas mostly know the same actors, so merge and compare of two vectors
 * over one actor set are the common case and cost one memcmp plus one
 * branch-free pass; vectors of a few actors stay in a single small block.
 */
#include "config.h"

#include <string.h>

#include "avec_internal.h"
#include "mem_internal.h"

/* Below this many entries a linear scan beats binary search. */
#define LINEAR_MAX 16
/* Compare classifies counts in blocks of this many, stopping early once
 * the clocks are known to be concurrent. */
#define CMP_BLOCK 256

/* The two count loops of the same-actors fast path are compiled twice on
 * x86-64 with GCC: for AVX2 (4 counts per instruction; the unsigned
 * max/compare needs 64-bit lanes, which SSE2 lacks) and for the baseline;
 * the dynamic loader picks one (ifunc). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__ELF__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif

void crdtp_avec_init(avec *v)
{
    v->actors = NULL;
    v->counts = NULL;
    v->len = 0;
    v->cap = 0;
}

void crdtp_avec_clear(avec *v, const crdt_mem *mem)
{
    crdtp_free(mem, v->actors);
    crdtp_avec_init(v);
}

void crdtp_avec_swap(avec *a, avec *b)
{
    avec t = *a;

    *a = *b;
    *b = t;
}

/* Moves v into a new block of cap entries (cap >= v->len). */
static int realloc_block(avec *v, const crdt_mem *mem, size_t cap)
{
    crdt_actor *a;
    uint64_t *c;

    if (cap > SIZE_MAX / 2)
        return CRDT_ERR_NOMEM;
    a = crdtp_malloc_array(mem, cap * 2, sizeof(uint64_t));
    if (!a)
        return CRDT_ERR_NOMEM;
    c = a + cap;
    if (v->len) {
        memcpy(a, v->actors, v->len * sizeof *a);
        memcpy(c, v->counts, v->len * sizeof *c);
    }
    crdtp_free(mem, v->actors);
    v->actors = a;
    v->counts = c;
    v->cap = cap;
    return CRDT_OK;
}

int crdtp_avec_reserve(avec *v, const crdt_mem *mem, size_t n)
{
    if (n <= v->cap)
        return CRDT_OK;
    return realloc_block(v, mem, crdtp_grow_cap(v->cap, n));
}

size_t crdtp_avec_search(const avec *v, crdt_actor a, bool *found)
{
    size_t lo = 0, hi = v->len;

    if (hi <= LINEAR_MAX) {
        for (lo = 0; lo < hi && v->actors[lo] < a; lo++)
            ;
    } else {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;

            if (v->actors[mid] < a)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    *found = lo < v->len && v->actors[lo] == a;
    return lo;
}

uint64_t crdtp_avec_get(const avec *v, crdt_actor a)
{
    bool found;
    size_t i = crdtp_avec_search(v, a, &found);

    return found ? v->counts[i] : 0;
}

int crdtp_avec_set(avec *v, const crdt_mem *mem, crdt_actor a, uint64_t c)
{
    bool found;
    size_t i = crdtp_avec_search(v, a, &found);
    int rv;

    if (found) {
        if (c) {
            v->counts[i] = c;
        } else {
            memmove(v->actors + i, v->actors + i + 1,
                    (v->len - i - 1) * sizeof *v->actors);
            memmove(v->counts + i, v->counts + i + 1,
                    (v->len - i - 1) * sizeof *v->counts);
            v->len--;
        }
        return CRDT_OK;
    }
    if (!c)
        return CRDT_OK;
    if ((rv = crdtp_avec_reserve(v, mem, v->len + 1)))
        return rv;
    memmove(v->actors + i + 1, v->actors + i,
            (v->len - i) * sizeof *v->actors);
    memmove(v->counts + i + 1, v->counts + i,
            (v->len - i) * sizeof *v->counts);
    v->actors[i] = a;
    v->counts[i] = c;
    v->len++;
    return CRDT_OK;
}

static inline uint64_t max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* d[i] = max(d[i], s[i]) for i < n. */
static MULTIVERSION void max_into(uint64_t *restrict d,
                                  const uint64_t *restrict s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        d[i] = d[i] > s[i] ? d[i] : s[i];
}

/* d[i] = max(d[i], s[i]) for i < n; returns the sum of the new d, which
 * the caller has established cannot exceed UINT64_MAX. */
static MULTIVERSION uint64_t max_sum_into(uint64_t *restrict d,
                                          const uint64_t *restrict s,
                                          size_t n)
{
    uint64_t t = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        d[i] = d[i] > s[i] ? d[i] : s[i];
        t += d[i];
    }
    return t;
}

static MULTIVERSION uint64_t sum_counts(const uint64_t *c, size_t n)
{
    uint64_t t = 0;
    size_t i;

    for (i = 0; i < n; i++)
        t += c[i];
    return t;
}

/* AVEC_GT if some a[i] > b[i], | AVEC_LT if some a[i] < b[i]. */
static MULTIVERSION int cmp_block(const uint64_t *restrict a,
                                  const uint64_t *restrict b, size_t n)
{
    uint64_t gt = 0, lt = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        gt |= a[i] > b[i];
        lt |= a[i] < b[i];
    }
    return (gt ? AVEC_GT : 0) | (lt ? AVEC_LT : 0);
}

/* Below this many entries the count loops run inline: a call through the
 * ifunc and to memcmp would cost more than the loop. */
#define SMALL_MAX 8

static bool same_actors(const avec *a, const avec *b)
{
    size_t i;

    if (a->len != b->len)
        return false;
    if (a->len == 0 || a->actors == b->actors)
        return true;
    if (a->len <= SMALL_MAX) {
        for (i = 0; i < a->len; i++)
            if (a->actors[i] != b->actors[i])
                return false;
        return true;
    }
    return memcmp(a->actors, b->actors, a->len * sizeof *a->actors) == 0;
}

bool crdtp_avec_same_actors(const avec *a, const avec *b)
{
    return same_actors(a, b);
}

uint64_t crdtp_avec_max_sum_same(avec *d, const avec *s)
{
    uint64_t t = 0;
    size_t i;

    if (d->len > SMALL_MAX)
        return max_sum_into(d->counts, s->counts, d->len);
    for (i = 0; i < d->len; i++) {
        d->counts[i] = max64(d->counts[i], s->counts[i]);
        t += d->counts[i];
    }
    return t;
}

/* Size of the union of the actor sets of a and b. */
static size_t union_size(const avec *a, const avec *b)
{
    size_t i = 0, j = 0, u = 0;

    while (i < a->len && j < b->len) {
        crdt_actor x = a->actors[i], y = b->actors[j];

        i += x <= y;
        j += y <= x;
        u++;
    }
    return u + (a->len - i) + (b->len - j);
}

/* The merged sum, or CRDT_ERR_OVERFLOW; read-only. */
static int merged_sum(const avec *d, const avec *s, uint64_t *sum)
{
    size_t i = 0, j = 0;
    uint64_t t = 0, c;

    while (i < d->len || j < s->len) {
        if (j == s->len || (i < d->len && d->actors[i] < s->actors[j])) {
            c = d->counts[i++];
        } else if (i == d->len || s->actors[j] < d->actors[i]) {
            c = s->counts[j++];
        } else {
            c = max64(d->counts[i++], s->counts[j++]);
        }
        if (c > UINT64_MAX - t)
            return CRDT_ERR_OVERFLOW;
        t += c;
    }
    *sum = t;
    return CRDT_OK;
}

/* Merge once sizes are known to fit: u = union size, dst->cap >= u. */
static void merge_into(avec *d, const avec *s, size_t u)
{
    crdt_actor *da = d->actors;
    uint64_t *dc = d->counts;
    const crdt_actor *sa = s->actors;
    const uint64_t *sc = s->counts;
    size_t i, j, k;

    if (u == d->len) {
        /* src's actors are a subset of dst's: update in place. */
        for (i = 0, j = 0; j < s->len; i++) {
            if (da[i] == sa[j]) {
                dc[i] = max64(dc[i], sc[j]);
                j++;
            }
        }
        return;
    }
    /* Backwards, so that writes never overtake unread dst entries. */
    i = d->len;
    j = s->len;
    k = u;
    while (j > 0) {
        if (i > 0 && da[i - 1] > sa[j - 1]) {
            k--, i--;
            da[k] = da[i];
            dc[k] = dc[i];
        } else if (i > 0 && da[i - 1] == sa[j - 1]) {
            k--, i--, j--;
            da[k] = da[i];
            dc[k] = max64(dc[i], sc[j]);
        } else {
            k--, j--;
            da[k] = sa[j];
            dc[k] = sc[j];
        }
    }
    d->len = u;
}

int crdtp_avec_merge(avec *d, const crdt_mem *mem, const avec *s)
{
    size_t u;
    int rv;

    if (d == s || s->len == 0)
        return CRDT_OK;
    if (same_actors(d, s)) {
        if (d->len <= SMALL_MAX) {
            size_t i;

            for (i = 0; i < d->len; i++)
                d->counts[i] = max64(d->counts[i], s->counts[i]);
        } else {
            max_into(d->counts, s->counts, d->len);
        }
        return CRDT_OK;
    }
    u = union_size(d, s);
    if ((rv = crdtp_avec_reserve(d, mem, u)))
        return rv;
    merge_into(d, s, u);
    return CRDT_OK;
}

int crdtp_avec_merge_prepare(avec *d, const crdt_mem *mem, const avec *s,
                             bool check_sum)
{
    uint64_t sum;
    int rv;

    if (d == s || s->len == 0)
        return CRDT_OK;
    if (same_actors(d, s)) {
        const uint64_t *dc = d->counts, *sc = s->counts;
        uint64_t t = 0, c;
        size_t i;

        for (i = 0; check_sum && i < d->len; i++) {
            c = max64(dc[i], sc[i]);
            if (c > UINT64_MAX - t)
                return CRDT_ERR_OVERFLOW;
            t += c;
        }
        return CRDT_OK; /* the merge writes in place */
    }
    if (check_sum && (rv = merged_sum(d, s, &sum)))
        return rv;
    return crdtp_avec_reserve(d, mem, union_size(d, s));
}

uint64_t crdtp_avec_merge_commit_sum(avec *d, const crdt_mem *mem,
                                     const avec *s)
{
    if (d != s && s->len != 0) {
        if (same_actors(d, s))
            return crdtp_avec_max_sum_same(d, s);
        (void)crdtp_avec_merge(d, mem, s); /* prepared: cannot fail */
    }
    return sum_counts(d->counts, d->len);
}

int crdtp_avec_compare(const avec *a, const avec *b)
{
    size_t i = 0, j = 0;
    int r = AVEC_EQ;

    if (same_actors(a, b)) {
        size_t n = a->len, k;

        if (a == b)
            return AVEC_EQ;
        for (i = 0; i < n && r != AVEC_CONC; i += k) {
            k = n - i < CMP_BLOCK ? n - i : CMP_BLOCK;
            r |= cmp_block(a->counts + i, b->counts + i, k);
        }
        return r;
    }
    while (i < a->len && j < b->len && r != AVEC_CONC) {
        crdt_actor x = a->actors[i], y = b->actors[j];

        if (x < y) {
            r |= AVEC_GT; /* counts are never 0 */
            i++;
        } else if (y < x) {
            r |= AVEC_LT;
            j++;
        } else {
            if (a->counts[i] > b->counts[j])
                r |= AVEC_GT;
            else if (a->counts[i] < b->counts[j])
                r |= AVEC_LT;
            i++, j++;
        }
    }
    if (i < a->len)
        r |= AVEC_GT;
    if (j < b->len)
        r |= AVEC_LT;
    return r;
}

bool crdtp_avec_equal(const avec *a, const avec *b)
{
    return same_actors(a, b) &&
           (a->len == 0 ||
            memcmp(a->counts, b->counts, a->len * sizeof *a->counts) == 0);
}

int crdtp_avec_copy(avec *dst, const crdt_mem *mem, const avec *src)
{
    int rv;

    if (dst == src)
        return CRDT_OK;
    if (src->len > dst->cap) {
        avec t;

        crdtp_avec_init(&t);
        if ((rv = realloc_block(&t, mem, src->len)))
            return rv;
        crdtp_avec_swap(dst, &t);
        crdtp_avec_clear(&t, mem);
    }
    if (src->len) {
        memcpy(dst->actors, src->actors, src->len * sizeof *src->actors);
        memcpy(dst->counts, src->counts, src->len * sizeof *src->counts);
    }
    dst->len = src->len;
    return CRDT_OK;
}

int crdtp_avec_sum(const avec *v, uint64_t *sum)
{
    uint64_t t = 0;
    size_t i;

    for (i = 0; i < v->len; i++) {
        if (v->counts[i] > UINT64_MAX - t)
            return CRDT_ERR_OVERFLOW;
        t += v->counts[i];
    }
    *sum = t;
    return CRDT_OK;
}

/* ======================================================================
 * Codec
 * ====================================================================== */

size_t crdtp_avec_encoded_max(const avec *v)
{
    return 5 + v->len * (2 * CW_UINT_MAX);
}

void crdtp_avec_encode(cw *w, const avec *v)
{
    const crdt_actor *a = v->actors;
    const uint64_t *c = v->counts;
    size_t i, n = v->len;
    uint8_t *p;

    cw_map(w, n);
    p = cw_span(w, n * (2 * CW_UINT_MAX));
    if (!p) {
        for (i = 0; i < n && !w->err; i++) { /* fixed buffer near full */
            cw_uint(w, a[i]);
            cw_uint(w, c[i]);
        }
        return;
    }
    for (i = 0; i < n; i++) {
        p = cw_put_uint(p, a[i]);
        p = cw_put_uint(p, c[i]);
    }
    cw_commit(w, p);
}

/* The bulk of a decode: entries while at least 18 bytes remain, on a local
 * cursor, stopping at the first entry that needs a closer look (non-
 * shortest, out of order, zero); returns how many entries it took. */
static uint32_t decode_fast(cr *r, avec *out, uint32_t n)
{
    const uint8_t *p = r->p, *stop, *q;
    crdt_actor *as = out->actors, prev = 0;
    uint64_t *cs = out->counts, a, c;
    uint32_t i;

    if (r->end - r->p < (ptrdiff_t)(2 * CW_UINT_MAX))
        return 0;
    stop = r->end - 2 * CW_UINT_MAX; /* only now known to be in bounds */
    for (i = 0; i < n && p <= stop; i++) {
        q = cr_fast_uint(p, &a);
        if (!q || (i > 0 && a <= prev))
            break;
        q = cr_fast_uint(q, &c);
        if (!q || c == 0)
            break;
        as[i] = prev = a;
        cs[i] = c;
        p = q;
    }
    r->p = p;
    return i;
}

int crdtp_avec_decode(cr *r, avec *out, const crdt_mem *mem)
{
    const uint8_t *at = r->p;
    uint32_t n, i;
    uint64_t a, c;
    int rv;

    if ((rv = crdtp_cr_map(r, &n)))
        return rv;
    if (n > r->lim.max_actors)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
    if (n && (rv = realloc_block(out, mem, n)))
        return crdtp_cr_fail_at(r, at, rv);
    i = n ? decode_fast(r, out, n) : 0;
    out->len = i;
    for (; i < n; i++) {
        at = r->p;
        if ((rv = cr_uint(r, &a)))
            goto fail;
        if (i > 0 && a <= out->actors[i - 1]) {
            rv = crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
            goto fail;
        }
        at = r->p;
        if ((rv = cr_uint(r, &c)))
            goto fail;
        if (c == 0) {
            rv = crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
            goto fail;
        }
        out->actors[i] = a;
        out->counts[i] = c;
        out->len = i + 1;
    }
    return CRDT_OK;
fail:
    if (!r->err)
        rv = crdtp_cr_fail(r, rv);
    crdtp_avec_clear(out, mem);
    return rv;
}
