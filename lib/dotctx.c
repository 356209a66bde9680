/* SPDX-License-Identifier: MIT */
/*
 * Causal contexts: a compact version vector plus a sorted dot cloud (see
 * dotctx_internal.h for the representation and invariants).
 *
 * Tuned for the workloads of observed-remove types:
 *   - contains() is the inner loop of a dot-store merge, so it decides
 *     from the vector alone whenever it can (inline, in the header);
 *   - a replica's own next dot extends its vector entry: O(log a);
 *   - joins of a full state are one backward merge of the clouds plus one
 *     forward folding pass; joins of a small delta into a large context
 *     go entry by entry with binary searches and touch only what changes;
 *   - building a context from many dots in any order (remove and clear
 *     deltas) appends them unsorted and sorts and folds them once.
 * Every fallible step reserves before it writes, so a failed call leaves
 * the set of dots unchanged (a dirty context may have been compacted,
 * which does not change its dots).
 */
#include "config.h"

#include <string.h>

#include <crdt/dotctx.h>

#include "avec_internal.h"
#include "codec_internal.h"
#include "dotctx_internal.h"
#include "mem_internal.h"

/* A join goes entry by entry when src has at most 1/SMALL_JOIN_RATIO of
 * dst's entries and at most SMALL_JOIN_CLOUD cloud dots (each cloud dot
 * that lands inside dst's cloud costs a memmove of its tail). */
#define SMALL_JOIN_RATIO 16
#define SMALL_JOIN_CLOUD 32
/* Below this many dots, sort by insertion. */
#define SORT_RUN 16

struct crdt_dotctx {
    dotctx c;
    crdt_mem mem;
};

static const dotctx empty_dotctx;

static const dotctx *ctx_of(const crdt_dotctx *ctx)
{
    return ctx ? &ctx->c : &empty_dotctx;
}

/* ======================================================================
 * Dot arrays
 * ====================================================================== */

static inline bool dot_lt(crdt_actor a1, uint64_t c1, crdt_actor a2,
                          uint64_t c2)
{
    return a1 < a2 || (a1 == a2 && c1 < c2);
}

static inline bool dot_eq(const crdt_dot *x, const crdt_dot *y)
{
    return x->actor == y->actor && x->counter == y->counter;
}

/* First index in d[0, n) whose dot is >= (a, c). */
static size_t lower_bound(const crdt_dot *d, size_t n, crdt_actor a,
                          uint64_t c)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (dot_lt(d[mid].actor, d[mid].counter, a, c))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First index in d[0, n) whose actor is > a. */
static size_t actor_end(const crdt_dot *d, size_t n, crdt_actor a)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (d[mid].actor <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void insertion_sort(crdt_dot *d, size_t n)
{
    size_t i, j;

    for (i = 1; i < n; i++) {
        crdt_dot x = d[i];

        for (j = i; j > 0 && dot_lt(x.actor, x.counter, d[j - 1].actor,
                                    d[j - 1].counter);
             j--)
            d[j] = d[j - 1];
        d[j] = x;
    }
}

/* Merges the sorted runs a[0, na) and b[0, nb) into out.  The loop is
 * branch-free (on random input a branch per dot mispredicts half the
 * time, which costs more than the rest of the sort). */
static void merge_runs(const crdt_dot *a, size_t na, const crdt_dot *b,
                       size_t nb, crdt_dot *out)
{
    size_t i = 0, j = 0, k = 0;

    while (i < na && j < nb) {
        const crdt_dot *x = &a[i], *y = &b[j];
        size_t take_b = (size_t)((y->actor < x->actor) |
                                 ((y->actor == x->actor) &
                                  (y->counter < x->counter)));

        out[k++] = *(take_b ? y : x);
        j += take_b;
        i += 1 - take_b;
    }
    while (i < na)
        out[k++] = a[i++];
    while (j < nb)
        out[k++] = b[j++];
}

/* Sorts d[0, n) using tmp[0, n) as scratch (bottom-up merge sort);
 * returns whichever of the two holds the result. */
static crdt_dot *sort_dots(crdt_dot *d, crdt_dot *tmp, size_t n)
{
    size_t w, i;
    crdt_dot *src = d, *dst = tmp, *t;

    for (i = 0; i < n; i += SORT_RUN)
        insertion_sort(d + i, n - i < SORT_RUN ? n - i : SORT_RUN);
    for (w = SORT_RUN; w < n; w *= 2) {
        for (i = 0; i < n; i += 2 * w) {
            size_t na = n - i < w ? n - i : w;
            size_t nb = n - i - na < w ? n - i - na : w;

            merge_runs(src + i, na, src + i + na, nb, dst + i);
        }
        t = src, src = dst, dst = t;
    }
    return src;
}

/* Merges the sorted d[0, n) with the sorted s[0, m) (s outside d[0, n+m))
 * into d[0, n + m), backwards, keeping duplicates. */
static void merge_back(crdt_dot *d, size_t n, const crdt_dot *s, size_t m)
{
    size_t i = n, j = m, k = n + m;

    while (j > 0) {
        if (i > 0 && dot_lt(s[j - 1].actor, s[j - 1].counter,
                            d[i - 1].actor, d[i - 1].counter))
            d[--k] = d[--i];
        else
            d[--k] = s[--j];
    }
}

/* The folding pass.  d[0, n) is sorted (duplicates allowed) and no dot
 * (a, 1) of an actor missing from vv occurs in it.  Drops the dots vv
 * covers and the duplicates, raises vv over every run of dots that
 * extends it, and keeps the rest in place; returns how many remain.  The
 * result is compact with respect to vv.  O(n + vv->len). */
static size_t fold_pass(avec *vv, crdt_dot *d, size_t n)
{
    size_t i = 0, r, w = 0;

    for (r = 0; r < n; r++) {
        crdt_dot x = d[r];

        while (i < vv->len && vv->actors[i] < x.actor)
            i++;
        if (i < vv->len && vv->actors[i] == x.actor) {
            uint64_t v = vv->counts[i];

            if (x.counter <= v)
                continue;
            if (x.counter - v == 1) {
                vv->counts[i] = x.counter;
                continue;
            }
        }
        if (w > 0 && dot_eq(&d[w - 1], &x))
            continue;
        d[w++] = x;
    }
    return w;
}

/* Makes room for n dots at c->cloud, keeping the contents. */
static int cloud_reserve(dotctx *c, const crdt_mem *mem, size_t n)
{
    crdt_dot *p;
    size_t cap;

    if (n <= c->cap)
        return CRDT_OK;
    cap = crdtp_grow_cap(c->cap, n);
    p = crdtp_realloc_array(mem, c->cloud, cap, sizeof *p);
    if (!p)
        return CRDT_ERR_NOMEM;
    c->cloud = p;
    c->cap = cap;
    return CRDT_OK;
}

/* Inserts (a, n) at vv index i; the capacity must be there. */
static void vv_insert_at(avec *v, size_t i, crdt_actor a, uint64_t n)
{
    memmove(v->actors + i + 1, v->actors + i,
            (v->len - i) * sizeof *v->actors);
    memmove(v->counts + i + 1, v->counts + i,
            (v->len - i) * sizeof *v->counts);
    v->actors[i] = a;
    v->counts[i] = n;
    v->len++;
}

/* After vv entry i was raised: drops the cloud dots of its actor that it
 * now covers and folds the run that extends it.  c must be clean apart
 * from this actor.  O(log c) plus a memmove when dots go. */
static void fold_actor(dotctx *c, size_t i)
{
    crdt_actor a = c->vv.actors[i];
    uint64_t v = c->vv.counts[i];
    size_t lo, j;

    if (c->ncloud == 0)
        return;
    lo = lower_bound(c->cloud, c->ncloud, a, 0);
    j = lo;
    while (j < c->ncloud && c->cloud[j].actor == a &&
           c->cloud[j].counter <= v)
        j++;
    while (j < c->ncloud && c->cloud[j].actor == a &&
           c->cloud[j].counter - v == 1) {
        v++;
        j++;
    }
    c->vv.counts[i] = v;
    if (j > lo) {
        memmove(c->cloud + lo, c->cloud + j,
                (c->ncloud - j) * sizeof *c->cloud);
        c->ncloud -= j - lo;
    }
}

/* Adds d to a clean c that has room: one more vv entry if d's actor is
 * missing, one more cloud dot. */
static void add_reserved(dotctx *c, crdt_dot d)
{
    bool found;
    size_t i = crdtp_avec_search(&c->vv, d.actor, &found), k;
    uint64_t v = found ? c->vv.counts[i] : 0;

    if (d.counter <= v)
        return;
    if (d.counter - v == 1) {
        if (found)
            c->vv.counts[i] = d.counter;
        else
            vv_insert_at(&c->vv, i, d.actor, d.counter);
        fold_actor(c, i);
        return;
    }
    k = lower_bound(c->cloud, c->ncloud, d.actor, d.counter);
    if (k < c->ncloud && dot_eq(&c->cloud[k], &d))
        return;
    memmove(c->cloud + k + 1, c->cloud + k,
            (c->ncloud - k) * sizeof *c->cloud);
    c->cloud[k] = d;
    c->ncloud++;
}

/* ======================================================================
 * Internal API: lifecycle
 * ====================================================================== */

void crdtp_dotctx_init(dotctx *c)
{
    crdtp_avec_init(&c->vv);
    c->cloud = NULL;
    c->ncloud = 0;
    c->npend = 0;
    c->cap = 0;
    c->dirty = false;
}

void crdtp_dotctx_clear(dotctx *c, const crdt_mem *mem)
{
    crdtp_avec_clear(&c->vv, mem);
    crdtp_free(mem, c->cloud);
    crdtp_dotctx_init(c);
}

void crdtp_dotctx_swap(dotctx *a, dotctx *b)
{
    dotctx t = *a;

    *a = *b;
    *b = t;
}

/* Vector capacity a copy of a small context gets (entries). */
#define VV_COPY_MIN 8

int crdtp_dotctx_copy(dotctx *dst, const crdt_mem *mem, const dotctx *src)
{
    size_t n, need;
    crdt_dot *p = NULL;
    int rv;

    if (dst == src)
        return CRDT_OK;
    n = src->ncloud + src->npend;
    need = src->ncloud + 2 * src->npend; /* keeps cap >= ncloud + 2 npend */
    if (need > dst->cap) {
        p = crdtp_malloc_array(mem, need, sizeof *p);
        if (!p)
            return CRDT_ERR_NOMEM;
    }
    /* room for a few more actors: a copied context is usually joined
     * with another replica's next, whose vector adds an actor or two */
    if (src->vv.len && src->vv.len <= VV_COPY_MIN &&
        (rv = crdtp_avec_reserve(&dst->vv, mem, VV_COPY_MIN))) {
        crdtp_free(mem, p);
        return rv;
    }
    if ((rv = crdtp_avec_copy(&dst->vv, mem, &src->vv))) {
        crdtp_free(mem, p);
        return rv;
    }
    if (p) {
        crdtp_free(mem, dst->cloud);
        dst->cloud = p;
        dst->cap = need;
    }
    if (n)
        memcpy(dst->cloud, src->cloud, n * sizeof *src->cloud);
    dst->ncloud = src->ncloud;
    dst->npend = src->npend;
    dst->dirty = src->dirty;
    return CRDT_OK;
}

/* ======================================================================
 * Internal API: queries
 * ====================================================================== */

bool crdtp_dotctx_in_cloud(const dotctx *c, crdt_actor a, uint64_t n)
{
    size_t k = lower_bound(c->cloud, c->ncloud, a, n), e;

    if (k < c->ncloud && c->cloud[k].actor == a && c->cloud[k].counter == n)
        return true;
    e = c->ncloud + c->npend;
    for (k = c->ncloud; k < e; k++) {
        if (c->cloud[k].actor == a && c->cloud[k].counter == n)
            return true;
    }
    return false;
}

/* The largest n <= limit with (a, 1..n) all in c, starting from vv[a]. */
static uint64_t reach(const dotctx *c, crdt_actor a, uint64_t limit)
{
    uint64_t v = crdtp_dotctx_vv_get(c, a);

    if (!c->dirty)
        return v; /* compact: vv[a] + 1 is never in the cloud */
    while (v < limit && crdtp_dotctx_in_cloud(c, a, v + 1))
        v++;
    return v;
}

uint64_t crdtp_dotctx_max(const dotctx *c, crdt_actor a)
{
    return reach(c, a, UINT64_MAX);
}

/* Whether every dot of a is in b. */
static bool subset(const dotctx *a, const dotctx *b)
{
    size_t i, n;

    if (!a->dirty && !b->dirty) {
        /* b compact: (x, vv_b[x] + 1) is not in b, so need vv_a <= vv_b */
        if (crdtp_avec_compare(&a->vv, &b->vv) & AVEC_GT)
            return false;
    } else {
        for (i = 0; i < a->vv.len; i++) {
            if (reach(b, a->vv.actors[i], a->vv.counts[i]) <
                a->vv.counts[i])
                return false;
        }
    }
    n = a->ncloud + a->npend;
    for (i = 0; i < n; i++) {
        if (!crdtp_dotctx_contains(b, a->cloud[i].actor, a->cloud[i].counter))
            return false;
    }
    return true;
}

int crdtp_dot_at_cmp(const void *a, const void *b)
{
    const crdtp_dot_at *x = a, *y = b;

    if (x->d.actor != y->d.actor)
        return x->d.actor < y->d.actor ? -1 : 1;
    if (x->d.counter != y->d.counter)
        return x->d.counter < y->d.counter ? -1 : 1;
    return (x->off > y->off) - (x->off < y->off);
}

int crdtp_dot_at_push(crdtp_dot_at **v, size_t *n, size_t *cap,
                      const crdt_mem *mem, crdt_dot d, size_t off)
{
    if (*n == *cap) {
        size_t c = crdtp_grow_cap(*cap, *n + 1);
        crdtp_dot_at *p = crdtp_realloc_array(mem, *v, c, sizeof *p);

        if (!p)
            return CRDT_ERR_NOMEM;
        *v = p;
        *cap = c;
    }
    (*v)[*n].d = d;
    (*v)[(*n)++].off = off;
    return CRDT_OK;
}

bool crdtp_dotctx_equal(const dotctx *a, const dotctx *b)
{
    if (a == b)
        return true;
    if (!a->dirty && !b->dirty)
        return a->ncloud == b->ncloud && crdtp_avec_equal(&a->vv, &b->vv) &&
               (a->ncloud == 0 ||
                memcmp(a->cloud, b->cloud, a->ncloud * sizeof *a->cloud) ==
                    0);
    return subset(a, b) && subset(b, a);
}

int crdtp_dotctx_compare(const dotctx *a, const dotctx *b)
{
    int r = AVEC_EQ;

    if (a == b)
        return r;
    if (!subset(a, b))
        r |= AVEC_GT;
    if (!subset(b, a))
        r |= AVEC_LT;
    return r;
}

/* ======================================================================
 * Internal API: mutators
 * ====================================================================== */

void crdtp_dotctx_compact(dotctx *c)
{
    size_t n = c->ncloud, k = c->npend;

    if (!c->dirty)
        return;
    if (k) {
        /* pending at [n, n+k), scratch at [n+k, n+2k): cap >= n + 2k */
        crdt_dot *s = sort_dots(c->cloud + n, c->cloud + n + k, k);

        if (s != c->cloud + n + k)
            memcpy(c->cloud + n + k, s, k * sizeof *s);
        merge_back(c->cloud, n, c->cloud + n + k, k);
    }
    c->ncloud = fold_pass(&c->vv, c->cloud, n + k);
    c->npend = 0;
    c->dirty = false;
}

int crdtp_dotctx_add(dotctx *c, const crdt_mem *mem, crdt_dot d)
{
    bool found;
    size_t i;
    uint64_t v;
    int rv;

    if (d.counter == 0)
        return CRDT_ERR_INVALID_ARG;
    crdtp_dotctx_compact(c);
    i = crdtp_avec_search(&c->vv, d.actor, &found);
    v = found ? c->vv.counts[i] : 0;
    if (d.counter <= v)
        return CRDT_OK;
    if (d.counter - v == 1) {
        if (!found && (rv = crdtp_avec_reserve(&c->vv, mem, c->vv.len + 1)))
            return rv;
    } else {
        if (crdtp_dotctx_in_cloud(c, d.actor, d.counter))
            return CRDT_OK;
        if ((rv = cloud_reserve(c, mem, c->ncloud + 1)))
            return rv;
    }
    add_reserved(c, d);
    return CRDT_OK;
}

int crdtp_dotctx_add_unfolded(dotctx *c, const crdt_mem *mem, crdt_dot d)
{
    uint64_t v;
    size_t need;
    int rv;

    if (d.counter == 0)
        return CRDT_ERR_INVALID_ARG;
    v = crdtp_dotctx_vv_get(c, d.actor);
    if (d.counter <= v)
        return CRDT_OK;
    if (d.counter - v == 1) {
        /* raise the vector now, so that compaction never adds an entry */
        if ((rv = crdtp_avec_set(&c->vv, mem, d.actor, d.counter)))
            return rv;
        if (!c->dirty && d.counter < UINT64_MAX &&
            crdtp_dotctx_in_cloud(c, d.actor, d.counter + 1))
            c->dirty = true; /* the cloud's run after it must fold */
        return CRDT_OK;
    }
    if (c->npend >= (SIZE_MAX - c->ncloud) / 2)
        return CRDT_ERR_NOMEM;
    need = c->ncloud + 2 * (c->npend + 1);
    if ((rv = cloud_reserve(c, mem, need)))
        return rv;
    c->cloud[c->ncloud + c->npend++] = d;
    c->dirty = true;
    return CRDT_OK;
}

int crdtp_dotctx_peek_dot(const dotctx *c, crdt_actor a, crdt_dot *out)
{
    uint64_t m = crdtp_dotctx_vv_get(c, a);
    size_t e = c->ncloud ? actor_end(c->cloud, c->ncloud, a) : 0, i;

    if (e > 0 && c->cloud[e - 1].actor == a && c->cloud[e - 1].counter > m)
        m = c->cloud[e - 1].counter;
    for (i = c->ncloud; i < c->ncloud + c->npend; i++) { /* dirty only */
        if (c->cloud[i].actor == a && c->cloud[i].counter > m)
            m = c->cloud[i].counter;
    }
    if (m == UINT64_MAX)
        return CRDT_ERR_OVERFLOW;
    out->actor = a;
    out->counter = m + 1;
    return CRDT_OK;
}

int crdtp_dotctx_next_dot(dotctx *c, const crdt_mem *mem, crdt_actor a,
                          crdt_dot *out)
{
    bool found;
    size_t i, e;
    uint64_t v, m;
    crdt_dot d;
    int rv;

    crdtp_dotctx_compact(c);
    i = crdtp_avec_search(&c->vv, a, &found);
    v = m = found ? c->vv.counts[i] : 0;
    e = c->ncloud ? actor_end(c->cloud, c->ncloud, a) : 0;
    if (e > 0 && c->cloud[e - 1].actor == a)
        m = c->cloud[e - 1].counter; /* > v + 1 (compact) */
    if (m == UINT64_MAX)
        return CRDT_ERR_OVERFLOW;
    d.actor = a;
    d.counter = m + 1;
    if (m == v) {
        /* no cloud dots of a: extend the vector */
        if (found) {
            c->vv.counts[i] = d.counter;
        } else {
            if ((rv = crdtp_avec_reserve(&c->vv, mem, c->vv.len + 1)))
                return rv;
            vv_insert_at(&c->vv, i, a, d.counter);
        }
    } else {
        /* after a's last cloud dot, leaving the gap below it open */
        if ((rv = cloud_reserve(c, mem, c->ncloud + 1)))
            return rv;
        memmove(c->cloud + e + 1, c->cloud + e,
                (c->ncloud - e) * sizeof *c->cloud);
        c->cloud[e] = d;
        c->ncloud++;
    }
    if (out)
        *out = d;
    return CRDT_OK;
}

/* Whether to join src into dst entry by entry (see SMALL_JOIN_RATIO). */
static bool small_join(const dotctx *dst, const dotctx *src)
{
    size_t m = src->vv.len + src->ncloud, n = dst->vv.len + dst->ncloud;

    return src->ncloud <= SMALL_JOIN_CLOUD && m <= n / SMALL_JOIN_RATIO;
}

/* Number of actors of the union of the vectors. */
static size_t vv_union_size(const dotctx *dst, const dotctx *src,
                            bool small)
{
    const avec *d = &dst->vv, *s = &src->vv;
    size_t i = 0, j = 0, u = 0;
    bool found;

    if (d->len == s->len &&
        (d->len == 0 ||
         memcmp(d->actors, s->actors, d->len * sizeof *d->actors) == 0))
        return d->len; /* replicas usually know the same actors */
    if (small) {
        u = d->len;
        for (j = 0; j < s->len; j++) {
            (void)crdtp_avec_search(d, s->actors[j], &found);
            u += !found;
        }
        return u;
    }
    while (i < d->len && j < s->len) {
        crdt_actor x = d->actors[i], y = s->actors[j];

        i += x <= y;
        j += y <= x;
        u++;
    }
    return u + (d->len - i) + (s->len - j);
}

int crdtp_dotctx_join_prepare(dotctx *dst, const crdt_mem *mem,
                              const dotctx *src)
{
    size_t u;
    int rv;

    crdtp_dotctx_compact(dst);
    if (dst == src)
        return CRDT_OK;
    if (src->dirty)
        return CRDT_ERR_INVALID_ARG;
    if (src->ncloud > SIZE_MAX - dst->ncloud)
        return CRDT_ERR_NOMEM;
    /* The cloud first: if the vector's reservation then fails, only the
     * cloud's capacity has changed. */
    if ((rv = cloud_reserve(dst, mem, dst->ncloud + src->ncloud)))
        return rv;
    u = vv_union_size(dst, src, small_join(dst, src));
    return crdtp_avec_reserve(&dst->vv, mem, u);
}

void crdtp_dotctx_join_apply(dotctx *dst, const crdt_mem *mem,
                             const dotctx *src)
{
    size_t i, n, m;

    if (dst == src)
        return;
    crdtp_dotctx_compact(dst); /* a no-op after prepare */
    if (small_join(dst, src)) {
        const avec *s = &src->vv;

        for (i = 0; i < s->len; i++) {
            bool found;
            size_t k = crdtp_avec_search(&dst->vv, s->actors[i], &found);

            if (found && s->counts[i] <= dst->vv.counts[k])
                continue;
            if (found)
                dst->vv.counts[k] = s->counts[i];
            else
                vv_insert_at(&dst->vv, k, s->actors[i], s->counts[i]);
            fold_actor(dst, k);
        }
        for (i = 0; i < src->ncloud; i++)
            add_reserved(dst, src->cloud[i]);
        return;
    }
    /* converged replicas exchange equal states: nothing to do */
    if (crdtp_dotctx_equal(dst, src))
        return;
    /* cannot fail: prepare reserved the union */
    (void)crdtp_avec_merge(&dst->vv, mem, &src->vv);
    n = dst->ncloud;
    m = src->ncloud;
    if (m)
        merge_back(dst->cloud, n, src->cloud, m);
    if (n + m)
        dst->ncloud = fold_pass(&dst->vv, dst->cloud, n + m);
}

int crdtp_dotctx_join(dotctx *dst, const crdt_mem *mem, const dotctx *src)
{
    int rv = crdtp_dotctx_join_prepare(dst, mem, src);

    if (rv == CRDT_OK)
        crdtp_dotctx_join_apply(dst, mem, src);
    return rv;
}

/* ======================================================================
 * Internal API: codec
 * ====================================================================== */

/* A cloud dot takes at least 3 bytes: 0x92, actor, counter. */
#define DOT_MIN_BYTES 3u
#define DOT_MAX_BYTES (1u + 2u * CW_UINT_MAX)

size_t crdtp_dotctx_encoded_max(const dotctx *c)
{
    return crdtp_avec_encoded_max(&c->vv) + 5 + c->ncloud * DOT_MAX_BYTES;
}

void crdtp_dotctx_encode_body(cw *w, const dotctx *c)
{
    size_t i;

    crdtp_avec_encode(w, &c->vv);
    cw_reserve(w, 5 + c->ncloud * DOT_MAX_BYTES);
    cw_array(w, c->ncloud);
    for (i = 0; i < c->ncloud; i++) {
        cw_array(w, 2);
        cw_uint(w, c->cloud[i].actor);
        cw_uint(w, c->cloud[i].counter);
    }
}

int crdtp_dotctx_decode_body(cr *r, dotctx *out, const crdt_mem *mem)
{
    const uint8_t *at;
    uint32_t n, k, i;
    size_t vi = 0;
    crdt_dot d;
    int rv;

    if ((rv = crdtp_avec_decode(r, &out->vv, mem)))
        return rv;
    at = r->p;
    if ((rv = crdtp_cr_array(r, &n)))
        goto fail;
    if (n > r->lim.max_elements) {
        rv = crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
        goto fail;
    }
    if (n > cr_left(r) / DOT_MIN_BYTES) {
        rv = crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
        goto fail;
    }
    if (n) {
        out->cloud = crdtp_malloc_array(mem, n, sizeof *out->cloud);
        if (!out->cloud) {
            rv = crdtp_cr_fail_at(r, at, CRDT_ERR_NOMEM);
            goto fail;
        }
        out->cap = n;
    }
    for (i = 0; i < n; i++) {
        const uint8_t *dat = r->p, *cat;
        uint64_t v;

        if (r->p < r->end && *r->p == 0x92) {
            r->p++; /* the usual fixarray of two, inline */
            k = 2;
        } else if ((rv = crdtp_cr_array(r, &k))) {
            goto fail;
        }
        if (k != 2) {
            rv = crdtp_cr_fail_at(r, dat, CRDT_ERR_DECODE);
            goto fail;
        }
        if ((rv = cr_uint(r, &d.actor)))
            goto fail;
        cat = r->p;
        if ((rv = cr_uint(r, &d.counter)))
            goto fail;
        if (d.counter == 0) {
            rv = crdtp_cr_fail_at(r, cat, CRDT_ERR_DECODE);
            goto fail;
        }
        if (i > 0 && !dot_lt(out->cloud[i - 1].actor,
                             out->cloud[i - 1].counter, d.actor, d.counter)) {
            rv = crdtp_cr_fail_at(r, dat, CRDT_ERR_DECODE);
            goto fail;
        }
        while (vi < out->vv.len && out->vv.actors[vi] < d.actor)
            vi++;
        v = (vi < out->vv.len && out->vv.actors[vi] == d.actor)
                ? out->vv.counts[vi]
                : 0;
        if (d.counter <= v || d.counter - v == 1) {
            /* covered by the vector, or should have been folded into it */
            rv = crdtp_cr_fail_at(r, cat, CRDT_ERR_DECODE);
            goto fail;
        }
        out->cloud[i] = d;
        out->ncloud = i + 1;
    }
    return CRDT_OK;
fail:
    if (!r->err)
        rv = crdtp_cr_fail(r, rv);
    crdtp_dotctx_clear(out, mem);
    return rv;
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

crdt_dotctx *crdt_dotctx_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_dotctx *ctx;

    crdtp_mem_set(&m, mem);
    ctx = crdtp_malloc(&m, sizeof *ctx);
    if (!ctx)
        return NULL;
    crdtp_dotctx_init(&ctx->c);
    ctx->mem = m;
    return ctx;
}

void crdt_dotctx_free(crdt_dotctx *ctx)
{
    crdt_mem m;

    if (!ctx)
        return;
    m = ctx->mem;
    crdtp_dotctx_clear(&ctx->c, &m);
    crdtp_free(&m, ctx);
}

crdt_dotctx *crdt_dotctx_clone(const crdt_dotctx *src)
{
    crdt_dotctx *ctx;

    if (!src)
        return NULL;
    ctx = crdt_dotctx_new(&src->mem);
    if (ctx && crdtp_dotctx_copy(&ctx->c, &ctx->mem, &src->c) != CRDT_OK) {
        crdt_dotctx_free(ctx);
        return NULL;
    }
    return ctx;
}

int crdt_dotctx_copy(crdt_dotctx *dst, const crdt_dotctx *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dotctx_copy(&dst->c, &dst->mem, &src->c);
}

int crdtp_dotctx_assign(crdt_dotctx *dst, const dotctx *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dotctx_copy(&dst->c, &dst->mem, src);
}

/* ======================================================================
 * Queries
 * ====================================================================== */

bool crdt_dotctx_contains(const crdt_dotctx *ctx, crdt_dot dot)
{
    return crdtp_dotctx_contains(ctx_of(ctx), dot.actor, dot.counter);
}

uint64_t crdt_dotctx_max(const crdt_dotctx *ctx, crdt_actor actor)
{
    return crdtp_dotctx_max(ctx_of(ctx), actor);
}

size_t crdt_dotctx_vv_size(const crdt_dotctx *ctx)
{
    return ctx_of(ctx)->vv.len;
}

int crdt_dotctx_vv_entry(const crdt_dotctx *ctx, size_t i, crdt_actor *actor,
                         uint64_t *counter)
{
    if (!ctx || ctx->c.dirty)
        return CRDT_ERR_INVALID_ARG;
    if (i >= ctx->c.vv.len)
        return CRDT_ERR_NOT_FOUND;
    if (actor)
        *actor = ctx->c.vv.actors[i];
    if (counter)
        *counter = ctx->c.vv.counts[i];
    return CRDT_OK;
}

size_t crdt_dotctx_cloud_size(const crdt_dotctx *ctx)
{
    const dotctx *c = ctx_of(ctx);

    return c->ncloud + c->npend;
}

int crdt_dotctx_cloud_dot(const crdt_dotctx *ctx, size_t i, crdt_dot *out)
{
    if (!ctx || ctx->c.dirty)
        return CRDT_ERR_INVALID_ARG;
    if (i >= ctx->c.ncloud)
        return CRDT_ERR_NOT_FOUND;
    if (out)
        *out = ctx->c.cloud[i];
    return CRDT_OK;
}

bool crdt_dotctx_is_compact(const crdt_dotctx *ctx)
{
    return !ctx_of(ctx)->dirty;
}

bool crdt_dotctx_equal(const crdt_dotctx *a, const crdt_dotctx *b)
{
    return crdtp_dotctx_equal(ctx_of(a), ctx_of(b));
}

crdt_order crdt_dotctx_compare(const crdt_dotctx *a, const crdt_dotctx *b)
{
    /* AVEC_GT/AVEC_LT are the bits of CRDT_AFTER/CRDT_BEFORE. */
    return (crdt_order)crdtp_dotctx_compare(ctx_of(a), ctx_of(b));
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

int crdt_dotctx_next_dot(crdt_dotctx *ctx, crdt_actor actor, crdt_dot *out)
{
    if (!ctx)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dotctx_next_dot(&ctx->c, &ctx->mem, actor, out);
}

int crdt_dotctx_add(crdt_dotctx *ctx, crdt_dot dot)
{
    if (!ctx)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dotctx_add(&ctx->c, &ctx->mem, dot);
}

int crdt_dotctx_add_unfolded(crdt_dotctx *ctx, crdt_dot dot)
{
    if (!ctx)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dotctx_add_unfolded(&ctx->c, &ctx->mem, dot);
}

void crdt_dotctx_compact(crdt_dotctx *ctx)
{
    if (ctx)
        crdtp_dotctx_compact(&ctx->c);
}

int crdt_dotctx_join(crdt_dotctx *dst, const crdt_dotctx *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dotctx_join(&dst->c, &dst->mem, &src->c);
}

/* ======================================================================
 * Codec
 * ====================================================================== */

int crdt_dotctx_encode(const crdt_dotctx *ctx, crdt_buf *out)
{
    cw w;

    if (!ctx || !out || ctx->c.dirty)
        return CRDT_ERR_INVALID_ARG;
    cw_begin(&w, out, CRDT_TAG_DOTCTX, 2);
    crdtp_dotctx_encode_body(&w, &ctx->c);
    return cw_end(&w);
}

static inline void dec_init(void *tmp, const void *dst)
{
    (void)dst;
    crdtp_dotctx_init(tmp);
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    (void)nbody;
    return crdtp_dotctx_decode_body(r, tmp,
                                    &((const crdt_dotctx *)dst)->mem);
}

static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    (void)r;
    crdtp_dotctx_swap(&((crdt_dotctx *)dst)->c, tmp);
    return CRDT_OK;
}

static inline void dec_clear(void *tmp, const void *dst)
{
    crdtp_dotctx_clear(tmp, &((const crdt_dotctx *)dst)->mem);
}

static const crdtp_decoder dotctx_decoder = {
    .tag = CRDT_TAG_DOTCTX, .nbody = CRDTP_NBODY(2), .init = dec_init,
    .body = dec_body, .commit = dec_commit, .clear = dec_clear,
};

int crdt_dotctx_decode(crdt_dotctx *dst, const uint8_t *data, size_t len,
                       const crdt_limits *lim, crdt_decode_info *info)
{
    dotctx tmp;

    return crdtp_decode(&dotctx_decoder, dst, &tmp, data, len, lim, 0, info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_dotctx_new(mem);
}

static void vt_destroy(void *obj)
{
    crdt_dotctx_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_dotctx_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_dotctx_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_dotctx_join(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_dotctx_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_dotctx_decode(dst, data, len, lim, info);
}

static const crdt_type dotctx_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_DOTCTX, "dotctx", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_dotctx_type(void)
{
    return &dotctx_type;
}
