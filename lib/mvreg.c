/* SPDX-License-Identifier: MIT */
/*
 * Multi-value register (see crdt/mvreg.h for the semantics and the wire
 * format): a dot store of (dot, value) siblings over a causal context.
 *
 * Tuned for merge of small registers: a register holds one sibling most
 * of the time and a handful after concurrent writes, and replicas merge
 * far more often than they write.  So the siblings are one sorted array
 * of fixed-size entries with values of up to CRDT_MVREG_INLINE_BYTES
 * inside the entry, and merge is one two-pointer pass that builds the
 * result on the stack (up to 8 siblings; a larger one in the spare tail
 * of dst's array), then moves it in: no allocation when dst has room and
 * the incoming values are inline.  The usual case, both contexts bare
 * vectors of a few actors and dst with room, takes merge_small instead,
 * which merges siblings and vectors in place, each entry moved at most
 * once; with one sibling a side, merge_one, which is that without loops.
 *
 * Representation and invariants:
 *  - sibs[0, n): strictly ascending by (actor, counter); every dot is in
 *    ctx; a value of len <= INLINE bytes is in v.inl, zero-padded (so
 *    that two inline values compare as two words), a longer one in its
 *    own heap block v.heap of exactly len bytes, owned by the sibling;
 *  - sibs[n, cap): spare (the scratch of a merge of more than 8);
 *  - ctx: clean (compact) between calls.
 *
 * One dot, two values: a dot names one write, but two states may hold it
 * with different bytes (an actor id reused, e.g. by a replica restarted
 * from a stale snapshot).  The merge keeps the greater value (cmp_bytes:
 * memcmp, then the longer), so that it stays a join on every state: per
 * dot, unseen < each value, in byte order < seen and absent.  Only
 * merge_prepare decides such a case; the fast paths compare the values of
 * a dot both sides hold (one length test and two words when inline) and
 * leave any difference to it.
 *
 * Atomicity: merge has a prepare step, which reserves the arrays and the
 * context's union and builds the result (copying long values from src
 * into fresh blocks), and a commit step that cannot fail.  The fast
 * paths, merge_small and merge_one, decide everything (and fall back to
 * that general path) before their first store, and then cannot fail.
 * Write and clear prepare the merge of their delta into the caller's
 * delta group first, then the register's own change, and commit both
 * only when nothing can fail any more.
 */
#include "config.h"

#include <string.h>

#include <crdt/mvreg.h>

#include "codec_internal.h"
#include "dotstore_internal.h"
#include "dotctx_internal.h"
#include "mem_internal.h"

#define INLINE CRDT_MVREG_INLINE_BYTES
/* Smallest encoded sibling: 0x93, actor, counter, c4 00. */
#define SIB_MIN_BYTES 5u
/* merge_small takes vectors of at most this many actors (scanned, not
 * searched) and at most this many siblings a side (one bit each in an
 * unsigned): 15, so that one shift tests both vectors' sizes. */
#define SMALL_MAX 15

/* The merge's fast paths: helpers forced in line, cold paths out of line
 * (see merge_one). */
#if defined(__GNUC__)
#define MVREG_INLINE inline __attribute__((always_inline))
#define MVREG_NOINLINE __attribute__((noinline))
#else
#define MVREG_INLINE inline
#define MVREG_NOINLINE
#endif

typedef struct sib {
    crdt_dot dot; /* the write's dot */
    size_t len;   /* value bytes */
    union {
        uint8_t inl[INLINE]; /* len <= INLINE */
        uint8_t *heap;       /* len > INLINE: owned block of len bytes */
    } v;
} sib;

struct crdt_mvreg {
    sib *sibs;    /* siblings, then spare */
    size_t n;     /* siblings */
    size_t cap;   /* entries allocated */
    dotctx ctx;   /* causal context */
    crdt_mem mem; /* allocator of everything */
};

/* ======================================================================
 * Helpers
 * ====================================================================== */

static inline const uint8_t *sib_val(const sib *s)
{
    return s->len <= INLINE ? s->v.inl : s->v.heap;
}

static inline bool dot_lt(crdt_dot x, crdt_dot y)
{
    return x.actor < y.actor || (x.actor == y.actor && x.counter < y.counter);
}

static inline bool dot_eq(crdt_dot x, crdt_dot y)
{
    return x.actor == y.actor && x.counter == y.counter;
}

static void sib_free(const crdt_mem *mem, sib *s)
{
    if (s->len > INLINE)
        crdtp_free(mem, s->v.heap);
}

/* Fills *s with (d, p[0..len)), allocating a block for a long value. */
static int sib_set(const crdt_mem *mem, sib *s, crdt_dot d, const uint8_t *p,
                   size_t len)
{
    s->dot = d;
    s->len = len;
    if (len <= INLINE) {
        memset(s->v.inl, 0, INLINE);
        if (len)
            memcpy(s->v.inl, p, len);
        return CRDT_OK;
    }
    s->v.heap = crdtp_malloc(mem, len);
    if (!s->v.heap)
        return CRDT_ERR_NOMEM;
    memcpy(s->v.heap, p, len);
    return CRDT_OK;
}

/* A copy of *src into *dst that owns its own value block. */
static int sib_dup(const crdt_mem *mem, sib *dst, const sib *src)
{
    if (src->len <= INLINE) {
        *dst = *src;
        return CRDT_OK;
    }
    return sib_set(mem, dst, src->dot, src->v.heap, src->len);
}

static int sibs_reserve(crdt_mvreg *r, size_t n)
{
    sib *p;
    size_t cap;

    if (n <= r->cap)
        return CRDT_OK;
    cap = crdtp_grow_cap(r->cap, n);
    p = crdtp_realloc_array(&r->mem, r->sibs, cap, sizeof *p);
    if (!p)
        return CRDT_ERR_NOMEM;
    r->sibs = p;
    r->cap = cap;
    return CRDT_OK;
}

static void drop_sibs(crdt_mvreg *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        sib_free(&r->mem, &r->sibs[i]);
    r->n = 0;
}

/* Index of the sibling with dot d in s[0, n), or n. */
static size_t find_dot(const sib *s, size_t n, crdt_dot d)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (dot_lt(s[mid].dot, d))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && dot_eq(s[lo].dot, d) ? lo : n;
}

static int cmp_bytes(const uint8_t *a, size_t la, const uint8_t *b,
                     size_t lb)
{
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(a, b, n) : 0;

    if (c)
        return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

/* Whether two siblings hold the same inline value: the whole zero-padded
 * arrays compared (two words, no call). */
static inline bool same_inline(const sib *x, const sib *y)
{
    return x->len == y->len && x->len <= INLINE &&
           memcmp(x->v.inl, y->v.inl, INLINE) == 0;
}

/* Whether two siblings hold the same value bytes.  The call for long
 * values is out of line, so that the fast paths' frames stay small. */
static MVREG_NOINLINE bool same_long(const sib *x, const sib *y)
{
    return x->len == y->len && x->len > INLINE &&
           memcmp(x->v.heap, y->v.heap, x->len) == 0;
}

static inline bool same_val(const sib *x, const sib *y)
{
    return same_inline(x, y) || same_long(x, y);
}

/* Whether the value of s is one of dst's own blocks (a shallow copy made
 * by a merge), not a copy of src's: dst has a sibling with its dot that
 * points at the same block. */
static bool own_block(const crdt_mvreg *dst, const sib *s)
{
    size_t i = find_dot(dst->sibs, dst->n, s->dot);

    return i < dst->n && dst->sibs[i].len > INLINE &&
           dst->sibs[i].v.heap == s->v.heap;
}

/* ======================================================================
 * Merge in two steps
 * ====================================================================== */

/* Whether both contexts are bare version vectors (no cloud), the usual
 * case: their join is then a pointwise max of the vectors, which
 * merge_prepare performs itself as its last fallible step. */
static inline bool vv_only(const crdt_mvreg *dst, const crdt_mvreg *src)
{
    return dst->ctx.ncloud == 0 && src->ctx.ncloud == 0 && !dst->ctx.dirty &&
           !src->ctx.dirty;
}

/* Results of up to this many siblings are built on the stack. */
#define STACK_SIBS 8

/* Where merge_prepare builds the result: o[0, k), which is either the
 * stack array or the spare tail of dst's array. */
typedef struct merge_out {
    sib *o;
    size_t k;
    sib stack[STACK_SIBS];
} merge_out;

/*
 * Prepares the join of src into dst: reserves the context's union and
 * room for the result, and builds the result in m->o[0, m->k): dst's
 * surviving entries as shallow copies (their blocks stay owned by the
 * originals until commit), src's as deep copies.  A result of at most
 * STACK_SIBS siblings is built on the stack, so dst needs room only for
 * the result itself; a larger one in the spare tail of dst's array.
 * Nothing observable changes.  Undo with merge_abort, or finish with
 * merge_commit (nothing may change dst or src in between).  With fast
 * (only when merge_commit follows at once, and both contexts are bare
 * vectors), the vectors are joined here as the last step, which is
 * atomic, instead of by join_prepare/join_apply.
 */
static int merge_prepare(crdt_mvreg *dst, const crdt_mvreg *src,
                         merge_out *m, bool fast)
{
    const sib *a, *b = src->sibs;
    size_t na = dst->n, nb = src->n, i = 0, j = 0, k = 0;
    sib *o;
    int rv;

    m->k = 0;
    m->o = m->stack;
    if (na > (SIZE_MAX / sizeof(sib) - nb) / 2)
        return CRDT_ERR_NOMEM;
    if (na + nb <= STACK_SIBS) {
        if ((rv = sibs_reserve(dst, na + nb)))
            return rv;
    } else {
        if ((rv = sibs_reserve(dst, 2 * na + nb)))
            return rv;
        m->o = dst->sibs + na;
    }
    fast = fast && vv_only(dst, src);
    if (!fast &&
        (rv = crdtp_dotctx_join_prepare(&dst->ctx, &dst->mem, &src->ctx)))
        return rv;
    a = dst->sibs;
    o = m->o;
    while (i < na || j < nb) {
        if (j == nb || (i < na && dot_lt(a[i].dot, b[j].dot))) {
            if (!crdtp_dotctx_contains(&src->ctx, a[i].dot.actor,
                                       a[i].dot.counter))
                o[k++] = a[i];
            i++;
        } else if (i == na || dot_lt(b[j].dot, a[i].dot)) {
            if (!crdtp_dotctx_contains(&dst->ctx, b[j].dot.actor,
                                       b[j].dot.counter)) {
                if ((rv = sib_dup(&dst->mem, &o[k], &b[j]))) {
                    m->k = k;
                    return rv;
                }
                k++;
            }
            j++;
        } else if (same_val(&a[i], &b[j]) ||
                   cmp_bytes(sib_val(&a[i]), a[i].len, sib_val(&b[j]),
                             b[j].len) > 0) {
            o[k++] = a[i];
            i++;
            j++;
        } else {
            /* one dot, two values (an actor id reused): the greater
             * value, src's here, holds the dot */
            if ((rv = sib_dup(&dst->mem, &o[k], &b[j]))) {
                m->k = k;
                return rv;
            }
            k++;
            i++;
            j++;
        }
    }
    m->k = k;
    /* the vectors' join last: atomic, and nothing can fail after it */
    if (fast &&
        (rv = crdtp_avec_merge(&dst->ctx.vv, &dst->mem, &src->ctx.vv)))
        return rv;
    return CRDT_OK;
}

/* Frees the value blocks that o[0, k), a result being built, copied from
 * src (entries of dst's own are shallow copies and stay with the
 * originals; a copy may have the dot of one of dst's, whose value it
 * replaces, so blocks are told apart by address). */
static void free_copies(crdt_mvreg *dst, const sib *o, size_t k)
{
    size_t i;

    for (i = 0; i < k; i++) {
        if (o[i].len > INLINE && !own_block(dst, &o[i]))
            crdtp_free(&dst->mem, o[i].v.heap);
    }
}

/* Frees the value blocks of dst's siblings that are not in the result
 * o[0, k) (sorted), before the result replaces them: dropped, or
 * replaced by src's value under the same dot. */
static inline void free_dropped(crdt_mvreg *dst, const sib *o, size_t k)
{
    const sib *a = dst->sibs;
    size_t i, j = 0;

    for (i = 0; i < dst->n; i++) {
        if (a[i].len <= INLINE)
            continue;
        while (j < k && dot_lt(o[j].dot, a[i].dot))
            j++;
        if (!(j < k && dot_eq(o[j].dot, a[i].dot) && o[j].len > INLINE &&
              o[j].v.heap == a[i].v.heap))
            crdtp_free(&dst->mem, a[i].v.heap);
    }
}

/* Undoes merge_prepare. */
static void merge_abort(crdt_mvreg *dst, const merge_out *m)
{
    free_copies(dst, m->o, m->k);
}

static void merge_commit(crdt_mvreg *dst, const crdt_mvreg *src,
                         const merge_out *m, bool fast)
{
    sib *a = dst->sibs;
    const sib *o = m->o;
    size_t i;

    free_dropped(dst, o, m->k);
    /* move the result in (from the stack, or down from the tail, where
     * o > a makes a forward copy safe); a loop of struct copies beats a
     * memmove call for the usual handful */
    for (i = 0; i < m->k; i++)
        a[i] = o[i];
    dst->n = m->k;
    if (!fast)
        crdtp_dotctx_join_apply(&dst->ctx, &dst->mem, &src->ctx);
}

static inline uint64_t max64(uint64_t x, uint64_t y)
{
    return x > y ? x : y;
}

/* v[a] for a vector of n <= SMALL_MAX actors: the position is the number
 * of smaller actors, found without branching on the data. */
static inline uint64_t small_get(const crdt_actor *actors,
                                 const uint64_t *counts, size_t n,
                                 crdt_actor a)
{
    size_t i = 0, k;

    for (k = 0; k < n; k++)
        i += actors[k] < a;
    return i < n && actors[i] == a ? counts[i] : 0;
}

/* The sibling of s[0, n) with dot d, or NULL. */
static inline const sib *small_find(const sib *s, size_t n, crdt_dot d)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (dot_eq(s[i].dot, d))
            return &s[i];
    }
    return NULL;
}

/*
 * d becomes the pointwise max of d and s, whose union fits d's slots
 * [0, top), top <= d->cap being at least the union's size: avec.c's
 * merge_into, in place from the back so that no entry is overwritten
 * before it is read, then the part above the gap (one slot per actor
 * both have, less the union's size subtracted from top) moved down.
 * With top = d->len + s->len, where grown capacities have room (after a
 * merge that grew d by an actor, the next fits), no pass to size the
 * union first: the move costs about what that pass did.  Cannot fail.
 * Kept here, in line (calling a shared inline copy of merge_into
 * measured 10 more instructions and 6% more time per V=2 merge).
 */
static MVREG_INLINE int small_vv_commit(avec *d, const avec *s, size_t top)
{
    crdt_actor *da = d->actors;
    uint64_t *dc = d->counts;
    const crdt_actor *sa = s->actors;
    const uint64_t *sc = s->counts;
    size_t i = d->len, j = s->len, k = top;

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
    /* the union: [0, i) and [k, top) */
    if (k > i) {
        for (; k < top; k++, i++) {
            da[i] = da[k];
            dc[i] = dc[k];
        }
        top = i;
    }
    d->len = top;
    return CRDT_OK;
}

/* Whether dst's sibling s survives the join with src: src has it too, or
 * its dot is beyond src's vector. */
static inline bool small_keeps(const sib *s, const crdt_mvreg *src)
{
    const avec *v = &src->ctx.vv;

    return s->dot.counter >
               small_get(v->actors, v->counts, v->len, s->dot.actor) ||
           small_find(src->sibs, src->n, s->dot) != NULL;
}

/* The number of actors of the union of x[0, nx) and y[0, ny), sorted. */
static inline size_t small_union_len(const crdt_actor *x, size_t nx,
                                     const crdt_actor *y, size_t ny)
{
    size_t i = 0, j = 0, u = 0;

    while (i < nx && j < ny) {
        crdt_actor p = x[i], q = y[j];

        i += p <= q;
        j += q <= p;
        u++;
    }
    return u + (nx - i) + (ny - j);
}

/* Whether both contexts are bare vectors of at most SMALL_MAX actors. */
static inline bool small_ctx(const crdt_mvreg *dst, const crdt_mvreg *src)
{
    /* one branch for the six tests */
    return (dst->ctx.ncloud | src->ctx.ncloud |
            (dst->ctx.vv.len | src->ctx.vv.len) >> 4 |
            (size_t)(dst->ctx.dirty | src->ctx.dirty)) == 0;
}

static int merge_general(crdt_mvreg *dst, const crdt_mvreg *src);

/*
 * The usual merge, in place and without allocating: a register between
 * writes has a bare vector of a few actors and a sibling or two, and dst
 * has room from the merges before.  Leaves the merge to merge_general,
 * before changing anything, unless small_ctx, both have at most
 * SMALL_MAX siblings, dst has room for the result (siblings and vectors'
 * union), and every sibling to take from src or to drop from dst has an
 * inline value (so that nothing is allocated or freed).
 *
 * A sibling of dst survives when small_keeps says so; one of src joins
 * when its dot is beyond dst's vector (then dst lacks it, as dst's
 * siblings' dots are in dst's context).  The survivors stay where they
 * are (closing the gaps of dropped ones), and src's joins are merged in
 * from the back, so that each sibling is copied at most once (building
 * the result on the stack and copying it back cost 2 copies a sibling).
 * The first loop finds a dot of both sides itself, where small_keeps
 * would, to compare its values: long or different ones go to
 * merge_general.
 */
static MVREG_NOINLINE int merge_small(crdt_mvreg *dst, const crdt_mvreg *src)
{
    avec *dv = &dst->ctx.vv;
    const avec *sv = &src->ctx.vv;
    sib *a = dst->sibs;
    const sib *b = src->sibs;
    size_t na = dst->n, nb = src->n, ka = 0, k, i, j, top;
    unsigned add = 0; /* bit j: b[j] joins */

    if (!small_ctx(dst, src) || (na | nb) > SMALL_MAX)
        return merge_general(dst, src);
    for (i = 0; i < na; i++) {
        const sib *t;

        if (a[i].dot.counter >
            small_get(sv->actors, sv->counts, sv->len, a[i].dot.actor)) {
            ka++;
        } else if ((t = small_find(b, nb, a[i].dot))) {
            if (!same_inline(&a[i], t))
                return merge_general(dst, src); /* long, or two values */
            ka++;
        } else if (a[i].len > INLINE) {
            return merge_general(dst, src); /* which frees its block */
        }
    }
    k = ka;
    for (j = 0; j < nb; j++) {
        if (b[j].dot.counter >
            small_get(dv->actors, dv->counts, dv->len, b[j].dot.actor)) {
            if (b[j].len > INLINE)
                return merge_general(dst, src); /* copying may fail */
            add |= 1u << j;
            k++;
        }
    }
    if (k > dst->cap)
        return merge_general(dst, src);
    /* where the vectors' union is merged down from (small_vv_commit):
     * dl + sl if dst has room, else the union's size, counted */
    top = dv->len + sv->len;
    if (top > dv->cap) {
        top = small_union_len(dv->actors, dv->len, sv->actors, sv->len);
        if (top > dv->cap)
            return merge_general(dst, src);
    }

    /* commit: the survivors down over the dropped ones (still deciding
     * by small_keeps: neither src nor dst's vector has changed), then
     * src's joins in from the back, each moving the survivors above it
     * up (the slot is then free: k - i joins are still to come) */
    if (ka < na) {
        for (i = 0, j = 0; i < na; i++) {
            if (small_keeps(&a[i], src))
                a[j++] = a[i];
        }
    }
    dst->n = k;
    i = ka;
    for (j = nb; k > i;) {
        j--;
        if (!(add >> j & 1))
            continue;
        while (i > 0 && dot_lt(b[j].dot, a[i - 1].dot))
            a[--k] = a[--i];
        a[--k] = b[j];
    }
    return small_vv_commit(dv, sv, top);
}

/* merge_one for one dot on both sides whose values are not the same
 * inline bytes: the same long ones (replicas in sync) join the vectors
 * only; two values go to merge_general.  Out of line, reached by a
 * jump, so that merge_one makes no call. */
static MVREG_NOINLINE int merge_one_same(crdt_mvreg *dst,
                                        const crdt_mvreg *src, size_t top)
{
    if (!same_long(dst->sibs, src->sibs))
        return merge_general(dst, src);
    return small_vv_commit(&dst->ctx.vv, &src->ctx.vv, top);
}

/*
 * merge_small for one sibling a side, the commonest case (two concurrent
 * writes, or replicas in sync), without its loops, and with dst's room
 * for dl + sl actors; leaves everything else, unchanged, to merge_small.
 * The general path and merge_small are out of line (reached by a jump),
 * so that this one's frame is small: all in one function, saving and
 * restoring registers and spilling cost 30 of 280 instructions a V=2
 * merge (callgrind).  Replicas in sync (the same dot on both sides) stop
 * once the values compare equal: only the vectors join (callgrind, the
 * bench's base register merged with itself: 167 -> 146 instructions);
 * long values and two values under the dot go to merge_one_same.
 */
static MVREG_INLINE int merge_one(crdt_mvreg *dst, const crdt_mvreg *src)
{
    avec *dv = &dst->ctx.vv;
    const avec *sv = &src->ctx.vv;
    sib *a = dst->sibs;
    const sib *b = src->sibs;
    size_t top = dv->len + sv->len;
    bool keep, join;

    if (!small_ctx(dst, src) || top > dv->cap)
        return merge_small(dst, src);
    keep = a->dot.counter >
           small_get(sv->actors, sv->counts, sv->len, a->dot.actor);
    if (keep) {
        join = b->dot.counter >
               small_get(dv->actors, dv->counts, dv->len, b->dot.actor);
        if (join) {
            if (b->len > INLINE || dst->cap < 2)
                return merge_small(dst, src); /* copies b's long value */
            if (dot_lt(b->dot, a->dot))
                a[1] = a[0], a[0] = b[0];
            else
                a[1] = b[0];
        }
    } else if (dot_eq(a->dot, b->dot)) {
        /* replicas in sync: a stays, b (in dst's context) does not
         * join; unless the values are long or differ */
        if (!same_inline(a, b))
            return merge_one_same(dst, src, top);
        return small_vv_commit(dv, sv, top);
    } else {
        /* a goes: merge_small frees its long value */
        if (a->len > INLINE)
            return merge_small(dst, src);
        join = b->dot.counter >
               small_get(dv->actors, dv->counts, dv->len, b->dot.actor);
        if (join) {
            if (b->len > INLINE)
                return merge_small(dst, src); /* copies b's long value */
            a[0] = b[0];
        }
    }
    dst->n = (size_t)keep + join;
    return small_vv_commit(dv, sv, top);
}

static void reg_init(crdt_mvreg *r, const crdt_mem *mem)
{
    r->sibs = NULL;
    r->n = 0;
    r->cap = 0;
    crdtp_dotctx_init(&r->ctx);
    r->mem = *mem;
}

static void reg_clear(crdt_mvreg *r)
{
    drop_sibs(r);
    crdtp_free(&r->mem, r->sibs);
    r->sibs = NULL;
    r->cap = 0;
    crdtp_dotctx_clear(&r->ctx, &r->mem);
}

/*
 * Builds in *t (initialised, allocator of reg) the delta that removes
 * every sibling of reg: no siblings, the context of their dots, plus
 * the sibling (d, p[0..len)) with d in the context when with_write.
 */
static int build_delta(crdt_mvreg *t, const crdt_mvreg *reg, bool with_write,
                       crdt_dot d, const uint8_t *p, size_t len)
{
    size_t i;
    int rv;

    for (i = 0; i < reg->n; i++) {
        if ((rv = crdtp_dotctx_add_unfolded(&t->ctx, &t->mem,
                                            reg->sibs[i].dot)))
            return rv;
    }
    if (with_write) {
        if ((rv = crdtp_dotctx_add_unfolded(&t->ctx, &t->mem, d)))
            return rv;
        if ((rv = sibs_reserve(t, 1)))
            return rv;
        if ((rv = sib_set(&t->mem, &t->sibs[0], d, p, len)))
            return rv;
        t->n = 1;
    }
    crdtp_dotctx_compact(&t->ctx);
    return CRDT_OK;
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

size_t crdt_mvreg_max_value_bytes(void)
{
    return CRDT_MVREG_MAX_VALUE_BYTES;
}

crdt_mvreg *crdt_mvreg_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_mvreg *r;

    crdtp_mem_set(&m, mem);
    r = crdtp_malloc(&m, sizeof *r);
    if (!r)
        return NULL;
    reg_init(r, &m);
    return r;
}

void crdt_mvreg_free(crdt_mvreg *reg)
{
    crdt_mem m;

    if (!reg)
        return;
    m = reg->mem;
    reg_clear(reg);
    crdtp_free(&m, reg);
}

crdt_mvreg *crdt_mvreg_clone(const crdt_mvreg *src)
{
    crdt_mvreg *r;

    if (!src)
        return NULL;
    r = crdt_mvreg_new(&src->mem);
    if (r && crdt_mvreg_copy(r, src) != CRDT_OK) {
        crdt_mvreg_free(r);
        return NULL;
    }
    return r;
}

int crdt_mvreg_copy(crdt_mvreg *dst, const crdt_mvreg *src)
{
    sib *o;
    size_t i;
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (dst == src)
        return CRDT_OK;
    if (src->n > SIZE_MAX - dst->n)
        return CRDT_ERR_NOMEM;
    /* build the copies after dst's siblings, then swap them in */
    if ((rv = sibs_reserve(dst, dst->n + src->n)))
        return rv;
    o = dst->sibs ? dst->sibs + dst->n : NULL; /* NULL + 0 is undefined */
    for (i = 0; i < src->n; i++) {
        if ((rv = sib_dup(&dst->mem, &o[i], &src->sibs[i]))) {
            while (i-- > 0)
                sib_free(&dst->mem, &o[i]);
            return rv;
        }
    }
    if ((rv = crdtp_dotctx_copy(&dst->ctx, &dst->mem, &src->ctx))) {
        for (i = 0; i < src->n; i++)
            sib_free(&dst->mem, &o[i]);
        return rv;
    }
    drop_sibs(dst);
    if (src->n)
        memmove(dst->sibs, o, src->n * sizeof *o);
    dst->n = src->n;
    return CRDT_OK;
}

static const crdt_mvreg empty_reg;

bool crdt_mvreg_equal(const crdt_mvreg *a, const crdt_mvreg *b)
{
    size_t i;

    if (!a)
        a = &empty_reg;
    if (!b)
        b = &empty_reg;
    if (a == b)
        return true;
    if (a->n != b->n)
        return false;
    for (i = 0; i < a->n; i++) {
        const sib *x = &a->sibs[i], *y = &b->sibs[i];

        if (!dot_eq(x->dot, y->dot) || x->len != y->len ||
            (x->len && memcmp(sib_val(x), sib_val(y), x->len) != 0))
            return false;
    }
    return crdtp_dotctx_equal(&a->ctx, &b->ctx);
}

/* ======================================================================
 * Queries
 * ====================================================================== */

size_t crdt_mvreg_count(const crdt_mvreg *reg)
{
    return reg ? reg->n : 0;
}

int crdt_mvreg_get(const crdt_mvreg *reg, size_t i, crdt_dot *dot,
                   const uint8_t **p, size_t *len)
{
    if (!reg)
        return CRDT_ERR_INVALID_ARG;
    if (i >= reg->n)
        return CRDT_ERR_NOT_FOUND;
    if (dot)
        *dot = reg->sibs[i].dot;
    if (p)
        *p = sib_val(&reg->sibs[i]);
    if (len)
        *len = reg->sibs[i].len;
    return CRDT_OK;
}

int crdt_mvreg_resolve(const crdt_mvreg *reg, crdt_mvreg_cmp cmp,
                       void *user_data, const uint8_t **p, size_t *len)
{
    size_t i, best = 0;

    if (!reg || !p || !len)
        return CRDT_ERR_INVALID_ARG;
    if (reg->n == 0)
        return CRDT_ERR_NOT_FOUND;
    for (i = 1; i < reg->n; i++) {
        const sib *x = &reg->sibs[i], *y = &reg->sibs[best];
        int c = cmp ? cmp(sib_val(x), x->len, sib_val(y), y->len, user_data)
                    : cmp_bytes(sib_val(x), x->len, sib_val(y), y->len);

        if (c > 0)
            best = i;
    }
    *p = sib_val(&reg->sibs[best]);
    *len = reg->sibs[best].len;
    return CRDT_OK;
}

bool crdt_mvreg_observed(const crdt_mvreg *reg, crdt_dot dot)
{
    return reg && crdtp_dotctx_contains(&reg->ctx, dot.actor, dot.counter);
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

/* Write (with_write) or clear, atomically, with an optional delta. */
static int mutate(crdt_mvreg *reg, bool with_write, crdt_actor actor,
                  const uint8_t *val, size_t len, crdt_mvreg *delta)
{
    crdt_mvreg t;
    sib s;
    crdt_dot d = {0, 0};
    merge_out m;
    bool have_s = false;
    int rv;

    if (with_write && (rv = crdtp_dotctx_peek_dot(&reg->ctx, actor, &d)))
        return rv;
    if (!with_write && reg->n == 0)
        return CRDT_OK;
    memset(&s, 0, sizeof s);
    reg_init(&t, &reg->mem);
    /* copy the value first: val may point into reg or delta, whose
     * arrays the steps below may move */
    if (with_write) {
        if ((rv = sib_set(&reg->mem, &s, d, val, len)))
            goto out;
        have_s = true;
    }
    if (delta) {
        if ((rv = build_delta(&t, reg, with_write, d, sib_val(&s), len)))
            goto abort_s;
        if ((rv = merge_prepare(delta, &t, &m, false)))
            goto abort;
    }
    if (with_write) {
        if (reg->cap == 0 && (rv = sibs_reserve(reg, 1)))
            goto abort;
        if ((rv = crdtp_dotctx_add(&reg->ctx, &reg->mem, d)))
            goto abort;
    }
    /* commit: nothing fails from here */
    drop_sibs(reg);
    if (with_write) {
        reg->sibs[0] = s;
        reg->n = 1;
    }
    if (delta)
        merge_commit(delta, &t, &m, false);
    goto out;
abort:
    if (delta)
        merge_abort(delta, &m);
abort_s:
    if (have_s)
        sib_free(&reg->mem, &s);
out:
    reg_clear(&t);
    return rv;
}

int crdt_mvreg_write(crdt_mvreg *reg, crdt_actor actor, const void *val,
                     size_t len, crdt_mvreg *delta)
{
    if (!reg || (!val && len) || delta == reg ||
        (uint64_t)len > CRDT_MVREG_MAX_VALUE_BYTES)
        return CRDT_ERR_INVALID_ARG;
    return mutate(reg, true, actor, val, len, delta);
}

int crdt_mvreg_clear(crdt_mvreg *reg, crdt_mvreg *delta)
{
    if (!reg || delta == reg)
        return CRDT_ERR_INVALID_ARG;
    return mutate(reg, false, 0, NULL, 0, delta);
}

/* ======================================================================
 * Merge
 * ====================================================================== */

/* Every merge that merge_small declines: prepare, then commit.  Out of
 * line so that the fast paths keep their small frames. */
static MVREG_NOINLINE int merge_general(crdt_mvreg *dst,
                                        const crdt_mvreg *src)
{
    merge_out m;
    bool fast = vv_only(dst, src);
    int rv;

    if ((rv = merge_prepare(dst, src, &m, fast))) {
        merge_abort(dst, &m);
        return rv;
    }
    merge_commit(dst, src, &m, fast);
    return CRDT_OK;
}

int crdt_mvreg_merge(crdt_mvreg *dst, const crdt_mvreg *src)
{
    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (dst == src)
        return CRDT_OK;
    if ((dst->n ^ 1) | (src->n ^ 1)) /* one test for both counts */
        return merge_small(dst, src);
    return merge_one(dst, src);
}

/* ======================================================================
 * Codec
 * ====================================================================== */

int crdt_mvreg_encode(const crdt_mvreg *reg, crdt_buf *out)
{
    cw w;
    size_t i, need;

    if (!reg || !out || reg->ctx.dirty)
        return CRDT_ERR_INVALID_ARG;
    cw_begin(&w, out, CRDT_TAG_MVREG, 3);
    crdtp_dotctx_encode_body(&w, &reg->ctx);
    need = 5;
    for (i = 0; i < reg->n; i++) {
        size_t one = 1 + 2 * CW_UINT_MAX + 5 + reg->sibs[i].len;

        need = need <= SIZE_MAX - one ? need + one : SIZE_MAX;
    }
    if (need < SIZE_MAX)
        cw_reserve(&w, need);
    cw_array(&w, reg->n);
    for (i = 0; i < reg->n; i++) {
        const sib *s = &reg->sibs[i];

        cw_array(&w, 3);
        cw_uint(&w, s->dot.actor);
        cw_uint(&w, s->dot.counter);
        cw_bin(&w, sib_val(s), s->len);
    }
    return cw_end(&w);
}

/* Reads the sibling array into the empty t, whose context is decoded. */
static int decode_sibs(cr *r, crdt_mvreg *t)
{
    const uint8_t *at = r->p;
    uint32_t n, k, i;
    int rv;

    if ((rv = crdtp_cr_array(r, &n)))
        return rv;
    if (n > r->lim.max_elements)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
    if (n > cr_left(r) / SIB_MIN_BYTES)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
    if (n && (rv = sibs_reserve(t, n)))
        return crdtp_cr_fail_at(r, at, rv);
    for (i = 0; i < n; i++) {
        const uint8_t *sat = r->p, *cat, *vat, *p;
        crdt_dot d;
        size_t len;

        if ((rv = crdtp_cr_array(r, &k)))
            return rv;
        if (k != 3)
            return crdtp_cr_fail_at(r, sat, CRDT_ERR_DECODE);
        if ((rv = cr_uint(r, &d.actor)))
            return rv;
        cat = r->p;
        if ((rv = cr_uint(r, &d.counter)))
            return rv;
        if (d.counter == 0)
            return crdtp_cr_fail_at(r, cat, CRDT_ERR_DECODE);
        if (i > 0 && !dot_lt(t->sibs[i - 1].dot, d))
            return crdtp_cr_fail_at(r, sat, CRDT_ERR_DECODE);
        if (!crdtp_dotctx_contains(&t->ctx, d.actor, d.counter))
            return crdtp_cr_fail_at(r, sat, CRDT_ERR_DECODE);
        vat = r->p;
        if ((rv = crdtp_cr_bin(r, &p, &len)))
            return rv;
        if (len > r->lim.max_value_bytes)
            return crdtp_cr_fail_at(r, vat, CRDT_ERR_LIMIT);
        if ((rv = sib_set(&t->mem, &t->sibs[i], d, p, len)))
            return crdtp_cr_fail_at(r, vat, rv);
        t->n = i + 1;
    }
    return CRDT_OK;
}

static inline void dec_init(void *tmp, const void *dst)
{
    reg_init(tmp, &((const crdt_mvreg *)dst)->mem);
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    crdt_mvreg *t = tmp;
    int rv;

    (void)dst, (void)nbody;
    if ((rv = crdtp_dotctx_decode_body(r, &t->ctx, &t->mem)))
        return rv;
    return decode_sibs(r, t);
}

/* Swaps t into dst; t takes dst's old state to free. */
static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    crdt_mvreg old = *(crdt_mvreg *)dst;

    (void)r;
    *(crdt_mvreg *)dst = *(crdt_mvreg *)tmp;
    *(crdt_mvreg *)tmp = old;
    return CRDT_OK;
}

static inline void dec_clear(void *tmp, const void *dst)
{
    (void)dst;
    reg_clear(tmp);
}

static const crdtp_decoder mvreg_decoder = {
    .tag = CRDT_TAG_MVREG, .nbody = CRDTP_NBODY(3), .init = dec_init,
    .body = dec_body, .commit = dec_commit, .clear = dec_clear,
};

int crdt_mvreg_decode(crdt_mvreg *dst, const uint8_t *data, size_t len,
                      const crdt_limits *lim, crdt_decode_info *info)
{
    crdt_mvreg tmp;

    return crdtp_decode(&mvreg_decoder, dst, &tmp, data, len, lim, 0, info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_mvreg_new(mem);
}

static void vt_destroy(void *obj)
{
    crdt_mvreg_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_mvreg_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_mvreg_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_mvreg_merge(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_mvreg_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_mvreg_decode(dst, data, len, lim, info);
}

static const crdt_type mvreg_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_MVREG, "mvreg", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_mvreg_type(void)
{
    return &mvreg_type;
}

/* ======================================================================
 * Dot store (for OR-maps)
 * ====================================================================== */

static dotctx *ds_ctx(void *obj)
{
    return &((crdt_mvreg *)obj)->ctx;
}

static int ds_dots(const void *obj, crdtp_dotbuf *b, const crdt_mem *mem)
{
    const crdt_mvreg *r = obj;
    size_t i;
    int rv;

    for (i = 0; i < r->n; i++)
        if ((rv = crdtp_dotbuf_push(b, mem, r->sibs[i].dot)))
            return rv;
    return CRDT_OK;
}

const crdtp_dotstore crdtp_mvreg_dotstore = {ds_ctx, ds_dots};
