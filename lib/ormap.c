/* SPDX-License-Identifier: MIT */
/*
 * Observed-remove maps of embedded CRDTs (see crdt/ormap.h for the
 * semantics and the wire format).
 *
 * Representation: one causal context (dotctx_internal.h) and a sorted
 * array of entries (key order: memcmp over the common length, then the
 * shorter first), binary-searched.  An entry owns a copy of its key, its
 * presence dots (none for a removed key, the usual single dot inline, two
 * or more in one block, sorted) and its value, an object of its type
 * descriptor created with the map's allocator (nested maps inherit the
 * map's registry).  A removed key keeps its entry and value with no dots
 * (hidden); `live` lists the positions of the present entries, in key
 * order, so size and iteration by index stay O(1).
 *
 * Invariants: keys strictly ascending; every entry has a value; its dots
 * (possibly none) are all in the context and no dot is under two keys;
 * live[0..nlive) are exactly the indexes of the entries with dots and
 * live has room for cap positions; the context is always compact (this
 * module never adds unfolded dots).
 *
 * Atomicity: every mutation builds what it needs next to the map (a new
 * entry array for merge and copy, a copied value for update), reserves
 * the context's room with join_prepare, and commits with steps that
 * cannot fail; the old pieces are freed last.
 *
 * Costs: lookups O(log n), n the keys ever used (removed keys keep their
 * entries: values are joined whether or not a key is present, which is
 * what makes merge a join); merge is one two-pointer pass over both entry
 * arrays plus, per common key with unequal values, a copy and a merge of
 * the value (the price of atomic merges of opaque values); a delta of one
 * key costs O(n) in the pass (the new entry array), which is small next
 * to the value work for the small maps this type is built for.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <crdt/dotctx.h>
#include <crdt/flag.h>
#include <crdt/gcounter.h>
#include <crdt/gset.h>
#include <crdt/lww.h>
#include <crdt/mvreg.h>
#include <crdt/ormap.h>
#include <crdt/orset.h>
#include <crdt/pncounter.h>
#include <crdt/vclock.h>

#include "codec_internal.h"
#include "dotctx_internal.h"
#include "mem_internal.h"

typedef struct entry {
    uint8_t *key;          /* klen bytes, owned; NULL when klen == 0 */
    size_t klen;           /* key length */
    crdt_dot one;          /* the dot when ndots == 1 */
    crdt_dot *many;        /* ndots sorted dots when ndots >= 2, else NULL */
    size_t ndots;          /* 0 (key removed: hidden) or more */
    const crdt_type *type; /* the value's descriptor (borrowed) */
    void *val;             /* the value, owned */
    /* merge bookkeeping: which parts of out[j] are borrowed from dst */
    size_t from;           /* dst index, or SIZE_MAX */
    bool key_alias;        /* key belongs to dst[from] */
    bool val_alias;        /* val belongs to dst[from] */
} entry;

struct crdt_ormap {
    entry *ents;               /* sorted by key */
    size_t len, cap;           /* entries used, allocated */
    size_t *live;              /* indexes of present entries; room for cap */
    size_t nlive;              /* present entries (the map's size) */
    dotctx ctx;                /* causal context, compact */
    const crdt_registry *reg;  /* decodable types; NULL = built-ins */
    crdt_mem mem;              /* allocator of everything above */
};

/* ======================================================================
 * Helpers
 * ====================================================================== */

static const crdt_dot *dots_of(const entry *e)
{
    return e->ndots <= 1 ? &e->one : e->many;
}

/* Rebuilds m->live from the entries (it has room for m->cap >= m->len). */
static void reindex(crdt_ormap *m)
{
    size_t i, n = 0;

    for (i = 0; i < m->len; i++)
        if (m->ents[i].ndots)
            m->live[n++] = i;
    m->nlive = n;
}

/* A live index with room for cap positions (NULL when cap is 0). */
static int alloc_live(const crdt_mem *mem, size_t cap, size_t **out)
{
    *out = NULL;
    if (cap && !(*out = crdtp_malloc_array(mem, cap, sizeof **out)))
        return CRDT_ERR_NOMEM;
    return CRDT_OK;
}

static bool is_ormap_type(const crdt_type *t)
{
    return t == crdt_ormap_type();
}

static int cmp_key(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(a, b, n) : 0;

    if (c)
        return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

static int dot_cmp(crdt_dot a, crdt_dot b)
{
    if (a.actor != b.actor)
        return a.actor < b.actor ? -1 : 1;
    return (a.counter > b.counter) - (a.counter < b.counter);
}

/* Index of key, or its insertion point with *found = false. */
static size_t search(const crdt_ormap *m, const uint8_t *key, size_t klen,
                     bool *found)
{
    size_t lo = 0, hi = m->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(m->ents[mid].key, m->ents[mid].klen, key, klen);

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

static void entry_clear(const crdt_mem *mem, entry *e)
{
    crdtp_free(mem, e->key);
    crdtp_free(mem, e->many);
    if (e->val)
        e->type->destroy(e->val);
    e->key = NULL;
    e->many = NULL;
    e->val = NULL;
}

static void entry_init(entry *e)
{
    memset(e, 0, sizeof *e);
    e->from = SIZE_MAX;
}

/* A new empty value of type t for map m (nested maps get m's registry). */
static void *new_value(const crdt_ormap *m, const crdt_type *t)
{
    if (is_ormap_type(t))
        return crdt_ormap_new(m->reg, &m->mem);
    return t->create(&m->mem);
}

/* A new value equal to src. */
static void *clone_value(const crdt_ormap *m, const crdt_type *t,
                         const void *src)
{
    void *v = new_value(m, t);

    if (v && t->copy(v, src) != CRDT_OK) {
        t->destroy(v);
        return NULL;
    }
    return v;
}

/* Gives e the n sorted dots at d (copied). */
static int set_dots(const crdt_mem *mem, entry *e, const crdt_dot *d,
                    size_t n)
{
    e->ndots = n;
    e->many = NULL;
    if (n == 0)
        return CRDT_OK;
    if (n == 1) {
        e->one = d[0];
        return CRDT_OK;
    }
    e->many = crdtp_malloc_array(mem, n, sizeof *d);
    if (!e->many)
        return CRDT_ERR_NOMEM;
    memcpy(e->many, d, n * sizeof *d);
    return CRDT_OK;
}

static int copy_key(const crdt_mem *mem, const uint8_t *k, size_t n,
                    uint8_t **out)
{
    *out = NULL;
    if (n == 0)
        return CRDT_OK;
    *out = crdtp_malloc(mem, n);
    if (!*out)
        return CRDT_ERR_NOMEM;
    memcpy(*out, k, n);
    return CRDT_OK;
}

static void free_entries(const crdt_mem *mem, entry *ents, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        entry_clear(mem, &ents[i]);
    crdtp_free(mem, ents);
}

/* Levels of maps in m (1 for a map of no maps), counted up to limit + 1. */
static size_t height(const crdt_ormap *m, size_t limit)
{
    size_t i, h = 1;

    if (limit == 0)
        return 1;
    for (i = 0; i < m->len; i++) {
        if (is_ormap_type(m->ents[i].type)) {
            size_t c = 1 + height(m->ents[i].val, limit - 1);

            if (c > h)
                h = c;
            if (h > limit)
                break;
        }
    }
    return h;
}

/* The next dot of actor a in c (compact), without adding it. */
static int peek_next_dot(const dotctx *c, crdt_actor a, crdt_dot *out)
{
    uint64_t m = crdtp_dotctx_vv_get(c, a);
    size_t lo = 0, hi = c->ncloud;

    while (lo < hi) { /* first cloud dot of an actor > a */
        size_t mid = lo + (hi - lo) / 2;

        if (c->cloud[mid].actor <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && c->cloud[lo - 1].actor == a)
        m = c->cloud[lo - 1].counter;
    if (m == UINT64_MAX)
        return CRDT_ERR_OVERFLOW;
    out->actor = a;
    out->counter = m + 1;
    return CRDT_OK;
}

static void map_init(crdt_ormap *m, const crdt_registry *reg,
                     const crdt_mem *mem)
{
    m->ents = NULL;
    m->len = m->cap = 0;
    m->live = NULL;
    m->nlive = 0;
    crdtp_dotctx_init(&m->ctx);
    m->reg = reg;
    m->mem = *mem;
}

/* Frees m's contents (not m). */
static void map_clear(crdt_ormap *m)
{
    free_entries(&m->mem, m->ents, m->len);
    crdtp_free(&m->mem, m->live);
    m->ents = NULL;
    m->live = NULL;
    m->len = m->cap = m->nlive = 0;
    crdtp_dotctx_clear(&m->ctx, &m->mem);
}

/* Installs (ents, len, live, ctx) in m and frees what m held; live has
 * room for cap positions and is filled here. */
static void map_install(crdt_ormap *m, entry *ents, size_t len, size_t cap,
                        size_t *live, dotctx *ctx)
{
    size_t i;

    for (i = 0; i < len; i++)
        ents[i].from = SIZE_MAX, ents[i].key_alias = ents[i].val_alias = 0;
    map_clear(m);
    m->ents = ents;
    m->len = len;
    m->cap = cap;
    m->live = live;
    reindex(m);
    crdtp_dotctx_swap(&m->ctx, ctx);
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

size_t crdt_ormap_max_depth(void)
{
    return CRDT_ORMAP_MAX_DEPTH;
}

crdt_ormap *crdt_ormap_new(const crdt_registry *reg, const crdt_mem *mem)
{
    crdt_mem mm;
    crdt_ormap *m;

    crdtp_mem_set(&mm, mem);
    m = crdtp_malloc(&mm, sizeof *m);
    if (!m)
        return NULL;
    map_init(m, reg, &mm);
    return m;
}

void crdt_ormap_free(crdt_ormap *m)
{
    crdt_mem mm;

    if (!m)
        return;
    mm = m->mem;
    map_clear(m);
    crdtp_free(&mm, m);
}

/* A deep copy of src's entries and context, allocated for dst. */
static int copy_state(const crdt_ormap *dst, const crdt_ormap *src,
                      entry **out, dotctx *ctx)
{
    entry *ents = NULL;
    size_t i, n = 0;
    int rv;

    crdtp_dotctx_init(ctx);
    if ((rv = crdtp_dotctx_copy(ctx, &dst->mem, &src->ctx)))
        return rv;
    if (src->len) {
        ents = crdtp_malloc_array(&dst->mem, src->len, sizeof *ents);
        if (!ents) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
    }
    for (n = 0; n < src->len; n++) {
        const entry *s = &src->ents[n];
        entry *e = &ents[n];

        entry_init(e);
        e->klen = s->klen;
        e->type = s->type;
        if ((rv = copy_key(&dst->mem, s->key, s->klen, &e->key)) ||
            (rv = set_dots(&dst->mem, e, dots_of(s), s->ndots)))
            goto fail_n;
        e->val = clone_value(dst, s->type, s->val);
        if (!e->val) {
            rv = CRDT_ERR_NOMEM;
            goto fail_n;
        }
    }
    *out = ents;
    return CRDT_OK;
fail_n:
    n++; /* the partial entry is cleared too */
fail:
    for (i = 0; i < n; i++)
        entry_clear(&dst->mem, &ents[i]);
    crdtp_free(&dst->mem, ents);
    crdtp_dotctx_clear(ctx, &dst->mem);
    return rv;
}

int crdt_ormap_copy(crdt_ormap *dst, const crdt_ormap *src)
{
    entry *ents = NULL;
    size_t *live;
    dotctx ctx;
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (dst == src)
        return CRDT_OK;
    if ((rv = alloc_live(&dst->mem, src->len, &live)))
        return rv;
    if ((rv = copy_state(dst, src, &ents, &ctx))) {
        crdtp_free(&dst->mem, live);
        return rv;
    }
    map_install(dst, ents, src->len, src->len, live, &ctx);
    crdtp_dotctx_clear(&ctx, &dst->mem);
    return CRDT_OK;
}

crdt_ormap *crdt_ormap_clone(const crdt_ormap *src)
{
    crdt_ormap *m;

    if (!src)
        return NULL;
    m = crdt_ormap_new(src->reg, &src->mem);
    if (m && crdt_ormap_copy(m, src) != CRDT_OK) {
        crdt_ormap_free(m);
        return NULL;
    }
    return m;
}

/* ======================================================================
 * Queries
 * ====================================================================== */

size_t crdt_ormap_size(const crdt_ormap *m)
{
    return m ? m->nlive : 0;
}

bool crdt_ormap_contains(const crdt_ormap *m, const void *key, size_t klen)
{
    bool found = false;
    size_t i;

    if (!m || (!key && klen))
        return false;
    i = search(m, key, klen, &found);
    return found && m->ents[i].ndots > 0;
}

int crdt_ormap_get(const crdt_ormap *m, const void *key, size_t klen,
                   const crdt_type **type, const void **value)
{
    bool found;
    size_t i;

    if (!m || (!key && klen))
        return CRDT_ERR_INVALID_ARG;
    i = search(m, key, klen, &found);
    if (!found || m->ents[i].ndots == 0) /* absent, or removed: hidden */
        return CRDT_ERR_NOT_FOUND;
    if (type)
        *type = m->ents[i].type;
    if (value)
        *value = m->ents[i].val;
    return CRDT_OK;
}

int crdt_ormap_entry(const crdt_ormap *m, size_t i, const uint8_t **key,
                     size_t *klen, const crdt_type **type,
                     const void **value)
{
    static const uint8_t nothing[1];
    const entry *e;

    if (!m)
        return CRDT_ERR_INVALID_ARG;
    if (i >= m->nlive)
        return CRDT_ERR_NOT_FOUND;
    e = &m->ents[m->live[i]];
    if (key)
        *key = e->key ? e->key : nothing;
    if (klen)
        *klen = e->klen;
    if (type)
        *type = e->type;
    if (value)
        *value = e->val;
    return CRDT_OK;
}

bool crdt_ormap_equal(const crdt_ormap *a, const crdt_ormap *b)
{
    size_t i;
    dotctx empty;

    crdtp_dotctx_init(&empty);
    if (a == b)
        return true;
    if (!a || !b) {
        const crdt_ormap *m = a ? a : b;

        return m->len == 0 && crdtp_dotctx_equal(&m->ctx, &empty);
    }
    if (a->len != b->len || !crdtp_dotctx_equal(&a->ctx, &b->ctx))
        return false;
    for (i = 0; i < a->len; i++) {
        const entry *x = &a->ents[i], *y = &b->ents[i];

        if (cmp_key(x->key, x->klen, y->key, y->klen) != 0 ||
            x->ndots != y->ndots ||
            memcmp(dots_of(x), dots_of(y), x->ndots * sizeof(crdt_dot)) ||
            x->type->tag != y->type->tag || !x->type->equal(x->val, y->val))
            return false;
    }
    return true;
}

/* ======================================================================
 * Merge
 * ====================================================================== */

/* The surviving dots of a key held with dots A (by the side with context
 * ca) and B (context cb): A ∩ B, A \ cb, B \ ca, sorted, into out (room
 * for na + nb).  Either side may be absent (n = 0). */
static size_t survivors(const crdt_dot *a, size_t na, const dotctx *ca,
                        const crdt_dot *b, size_t nb, const dotctx *cb,
                        crdt_dot *out)
{
    size_t i = 0, j = 0, n = 0;

    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : dot_cmp(a[i], b[j]);

        if (c == 0) {
            out[n++] = a[i];
            i++, j++;
        } else if (c < 0) {
            if (!crdtp_dotctx_contains(cb, a[i].actor, a[i].counter))
                out[n++] = a[i];
            i++;
        } else {
            if (!crdtp_dotctx_contains(ca, b[j].actor, b[j].counter))
                out[n++] = b[j];
            j++;
        }
    }
    return n;
}

/* Builds out[*n] for the key of x (dst side, may be NULL, index xi) and
 * y (src side, may be NULL): the surviving dots (possibly none: the key
 * is then hidden, but kept) and the join of the values, which does not
 * depend on the dots.  Values of different types: the larger tag wins
 * (max over tags, then the join within a tag: associative). */
static int merge_entry(crdt_ormap *dst, const crdt_ormap *src,
                       const entry *x, size_t xi, const entry *y,
                       entry *out, size_t *n)
{
    crdt_dot stack[8], *buf = stack;
    size_t na = x ? x->ndots : 0, nb = y ? y->ndots : 0, k;
    entry *e = &out[*n];
    int rv = CRDT_OK;

    if (na + nb > sizeof stack / sizeof stack[0]) {
        buf = crdtp_malloc_array(&dst->mem, na + nb, sizeof *buf);
        if (!buf)
            return CRDT_ERR_NOMEM;
    }
    k = survivors(x ? dots_of(x) : NULL, na, &dst->ctx,
                  y ? dots_of(y) : NULL, nb, &src->ctx, buf);
    entry_init(e);
    if ((rv = set_dots(&dst->mem, e, buf, k)))
        goto out;
    if (x) {
        e->from = xi;
        e->key = x->key;
        e->klen = x->klen;
        e->key_alias = true;
    } else {
        e->klen = y->klen;
        if ((rv = copy_key(&dst->mem, y->key, y->klen, &e->key)))
            goto fail;
    }
    if (x && (!y || x->type->tag > y->type->tag ||
              (x->type->tag == y->type->tag &&
               x->type->equal(x->val, y->val)))) {
        e->type = x->type;
        e->val = x->val;
        e->val_alias = true;
    } else if (!x || y->type->tag > x->type->tag) {
        e->type = y->type;
        if (!(e->val = clone_value(dst, y->type, y->val))) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
    } else {
        e->type = x->type;
        if (!(e->val = clone_value(dst, x->type, x->val))) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
        if ((rv = x->type->merge(e->val, y->val)))
            goto fail;
    }
    (*n)++;
    goto out;
fail:
    if (e->key_alias)
        e->key = NULL;
    if (e->val_alias)
        e->val = NULL;
    entry_clear(&dst->mem, e);
out:
    if (buf != stack)
        crdtp_free(&dst->mem, buf);
    return rv;
}

int crdt_ormap_merge(crdt_ormap *dst, const crdt_ormap *src)
{
    entry *out = NULL;
    size_t i = 0, j = 0, n = 0, cap, k, *live = NULL;
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (dst == src)
        return CRDT_OK;
    if (src->len > SIZE_MAX / sizeof(entry) - dst->len)
        return CRDT_ERR_NOMEM;
    cap = dst->len + src->len;
    if (cap && !(out = crdtp_malloc_array(&dst->mem, cap, sizeof *out)))
        return CRDT_ERR_NOMEM;
    if ((rv = alloc_live(&dst->mem, cap, &live)))
        goto fail;
    while (i < dst->len || j < src->len) {
        const entry *x = i < dst->len ? &dst->ents[i] : NULL;
        const entry *y = j < src->len ? &src->ents[j] : NULL;
        int c = !x ? 1 : !y ? -1 : cmp_key(x->key, x->klen, y->key, y->klen);

        rv = merge_entry(dst, src, c <= 0 ? x : NULL, i, c >= 0 ? y : NULL,
                         out, &n);
        if (rv)
            goto fail;
        i += c <= 0;
        j += c >= 0;
    }
    /* the context last: prepare reserves, apply cannot fail */
    if ((rv = crdtp_dotctx_join_prepare(&dst->ctx, &dst->mem, &src->ctx)))
        goto fail;
    crdtp_dotctx_join_apply(&dst->ctx, &dst->mem, &src->ctx);
    /* commit: detach what out borrows from dst, free the rest */
    for (k = 0; k < n; k++) {
        entry *e = &out[k];

        if (e->key_alias)
            dst->ents[e->from].key = NULL;
        if (e->val_alias)
            dst->ents[e->from].val = NULL;
        e->from = SIZE_MAX;
        e->key_alias = e->val_alias = false;
    }
    free_entries(&dst->mem, dst->ents, dst->len);
    crdtp_free(&dst->mem, dst->live);
    dst->ents = out;
    dst->len = n;
    dst->cap = cap;
    dst->live = live;
    reindex(dst);
    return CRDT_OK;
fail:
    for (k = 0; k < n; k++) {
        if (out[k].key_alias)
            out[k].key = NULL;
        if (out[k].val_alias)
            out[k].val = NULL;
        entry_clear(&dst->mem, &out[k]);
    }
    crdtp_free(&dst->mem, out);
    crdtp_free(&dst->mem, live);
    return rv;
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

/* A stack map over borrowed pieces, used as the delta of one mutation. */
static void delta_init(crdt_ormap *d, const crdt_ormap *m, entry *e)
{
    map_init(d, m->reg, &m->mem);
    d->ents = e;
    d->len = d->cap = e ? 1 : 0;
}

int crdt_ormap_update(crdt_ormap *m, crdt_actor actor, const void *key,
                      size_t klen, const crdt_type *type,
                      crdt_ormap_update_fn fn, void *user_data,
                      crdt_ormap *delta)
{
    void *cp = NULL, *vd = NULL;
    uint8_t *kc = NULL;
    entry *e = NULL, de;
    crdt_ormap dm;
    dotctx nd;
    crdt_dot d;
    bool found, shown;
    size_t i, k;
    int rv;

    if (!m || !type || !fn || (!key && klen) || delta == m ||
        (uint64_t)klen > CRDT_ORMAP_MAX_KEY_BYTES ||
        crdt_type_check(type) != CRDT_OK)
        return CRDT_ERR_INVALID_ARG;
    i = search(m, key, klen, &found);
    if (found) { /* present, or removed: its retained value continues */
        e = &m->ents[i];
        if (e->type->tag != type->tag)
            return CRDT_ERR_TYPE;
    }
    shown = found && e->ndots > 0;
    if ((rv = peek_next_dot(&m->ctx, actor, &d)))
        return rv;
    crdtp_dotctx_init(&nd);
    delta_init(&dm, m, NULL);
    cp = found ? clone_value(m, type, e->val) : new_value(m, type);
    vd = new_value(m, type);
    if (!cp || !vd) {
        rv = CRDT_ERR_NOMEM;
        goto out;
    }
    if ((rv = fn(cp, vd, user_data)))
        goto out;
    if (is_ormap_type(type) &&
        height(cp, CRDT_ORMAP_MAX_DEPTH) + 1 > CRDT_ORMAP_MAX_DEPTH) {
        rv = CRDT_ERR_LIMIT;
        goto out;
    }
    /* everything that can fail, before anything changes */
    if (!found) {
        if ((rv = copy_key(&m->mem, key, klen, &kc)))
            goto out;
        if (m->len == m->cap) {
            size_t cap = crdtp_grow_cap(m->cap, m->len + 1);
            size_t *l = crdtp_realloc_array(&m->mem, m->live, cap, sizeof *l);
            entry *p;

            if (!l) {
                rv = CRDT_ERR_NOMEM;
                goto out;
            }
            m->live = l; /* more room, same contents: not a change */
            p = crdtp_realloc_array(&m->mem, m->ents, cap, sizeof *p);
            if (!p) {
                rv = CRDT_ERR_NOMEM;
                goto out;
            }
            m->ents = p; /* likewise */
            m->cap = cap;
        }
    }
    if ((rv = crdtp_dotctx_add(&nd, &m->mem, d)) ||
        (rv = crdtp_dotctx_join_prepare(&m->ctx, &m->mem, &nd)))
        goto out;
    if (delta) {
        entry_init(&de);
        de.key = (uint8_t *)(uintptr_t)key;
        de.klen = klen;
        de.one = d;
        de.ndots = 1;
        de.type = type;
        de.val = vd; /* every replica holding the key holds its value */
        delta_init(&dm, m, &de);
        if ((rv = crdtp_dotctx_add(&dm.ctx, &m->mem, d)))
            goto out;
        for (k = 0; found && k < e->ndots; k++)
            if ((rv = crdtp_dotctx_add(&dm.ctx, &m->mem, dots_of(e)[k])))
                goto out;
        if ((rv = crdt_ormap_merge(delta, &dm)))
            goto out;
    }
    /* commit */
    crdtp_dotctx_join_apply(&m->ctx, &m->mem, &nd);
    if (found) {
        type->destroy(e->val);
        crdtp_free(&m->mem, e->many);
        e->many = NULL;
    } else {
        memmove(m->ents + i + 1, m->ents + i,
                (m->len - i) * sizeof *m->ents);
        e = &m->ents[i];
        entry_init(e);
        e->key = kc;
        e->klen = klen;
        e->type = type;
        kc = NULL;
        m->len++;
    }
    e->val = cp;
    e->one = d;
    e->ndots = 1;
    cp = NULL;
    if (!shown)
        reindex(m); /* a new or re-added key: room reserved above */
out:
    crdtp_dotctx_clear(&dm.ctx, &m->mem);
    crdtp_dotctx_clear(&nd, &m->mem);
    crdtp_free(&m->mem, kc);
    if (cp)
        type->destroy(cp);
    if (vd)
        type->destroy(vd);
    return rv;
}

int crdt_ormap_remove(crdt_ormap *m, const void *key, size_t klen,
                      crdt_ormap *delta)
{
    crdt_ormap dm;
    entry *e;
    bool found;
    size_t i, k;
    int rv = CRDT_OK;

    if (!m || (!key && klen) || delta == m)
        return CRDT_ERR_INVALID_ARG;
    i = search(m, key, klen, &found);
    if (!found || m->ents[i].ndots == 0)
        return CRDT_OK;
    e = &m->ents[i];
    if (delta) {
        delta_init(&dm, m, NULL);
        for (k = 0; k < e->ndots && !rv; k++)
            rv = crdtp_dotctx_add(&dm.ctx, &m->mem, dots_of(e)[k]);
        if (!rv)
            rv = crdt_ormap_merge(delta, &dm);
        crdtp_dotctx_clear(&dm.ctx, &m->mem);
        if (rv)
            return rv;
    }
    /* the key and its value stay (hidden): merge joins values whatever
     * the dots, so a retained value is what keeps that a join */
    crdtp_free(&m->mem, e->many);
    e->many = NULL;
    e->ndots = 0;
    reindex(m);
    return CRDT_OK;
}

/* ======================================================================
 * Codec
 * ====================================================================== */

#define DOT_MAX_BYTES (1u + 2u * CW_UINT_MAX)

static int encode_map(const crdt_ormap *m, crdt_buf *out)
{
    size_t i, k;
    cw w;
    int rv;

    cw_begin(&w, out, CRDT_TAG_ORMAP, 3);
    cw_reserve(&w, crdtp_dotctx_encoded_max(&m->ctx) + 5);
    crdtp_dotctx_encode_body(&w, &m->ctx);
    cw_array(&w, m->len);
    for (i = 0; i < m->len && !w.err; i++) {
        const entry *e = &m->ents[i];
        const crdt_dot *d = dots_of(e);

        cw_array(&w, 3);
        cw_bin(&w, e->key, e->klen);
        if (e->ndots < (SIZE_MAX - 5) / DOT_MAX_BYTES)
            cw_reserve(&w, 5 + e->ndots * DOT_MAX_BYTES);
        cw_array(&w, e->ndots);
        for (k = 0; k < e->ndots; k++) {
            cw_array(&w, 2);
            cw_uint(&w, d[k].actor);
            cw_uint(&w, d[k].counter);
        }
        if (!w.err && (rv = e->type->encode(e->val, out)))
            w.err = rv;
    }
    return cw_end(&w);
}

int crdt_ormap_encode(const crdt_ormap *m, crdt_buf *out)
{
    if (!m || !out)
        return CRDT_ERR_INVALID_ARG;
    return encode_map(m, out);
}

/* The descriptor for an embedded tag: nested maps always, else m's
 * registry or the built-ins. */
static const crdt_type *type_for(const crdt_ormap *m, uint32_t tag)
{
    if (tag == CRDT_TAG_ORMAP)
        return crdt_ormap_type();
    if (m->reg)
        return crdt_registry_find(m->reg, tag);
    switch (tag) {
    case CRDT_TAG_VCLOCK:
        return crdt_vclock_type();
    case CRDT_TAG_DOTCTX:
        return crdt_dotctx_type();
    case CRDT_TAG_GCOUNTER:
        return crdt_gcounter_type();
    case CRDT_TAG_PNCOUNTER:
        return crdt_pncounter_type();
    case CRDT_TAG_LWW:
        return crdt_lww_type();
    case CRDT_TAG_ORSET:
        return crdt_orset_type();
    case CRDT_TAG_GSET:
        return crdt_gset_type();
    case CRDT_TAG_MVREG:
        return crdt_mvreg_type();
    case CRDT_TAG_EWFLAG:
        return crdt_ewflag_type();
    case CRDT_TAG_DWFLAG:
        return crdt_dwflag_type();
    default:
        return NULL;
    }
}

/* An entry takes at least 7 bytes: 0x93, c4 00, 90 (a removed key has no
 * dots), 92 01 t (the shortest value, an empty lww register). */
#define ENTRY_MIN_BYTES 7u
#define DOT_MIN_BYTES 3u
/* MessagePack levels of one map level: envelope, entries, entry. */
#define LEVELS_PER_MAP 3u

static int decode_at(crdt_ormap *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, size_t depth,
                     crdt_decode_info *info);

/* Reads the value field of an entry into e (type and val). */
static int decode_value(const crdt_ormap *tmp, cr *r, size_t depth,
                        entry *e)
{
    const uint8_t *v = r->p;
    const crdt_type *t;
    crdt_decode_info vi;
    size_t vlen, levels;
    uint32_t tag;
    int rv;

    levels = r->lim.max_depth > depth
                 ? LEVELS_PER_MAP * (r->lim.max_depth - depth) + 3
                 : 3;
    if ((rv = crdtp_cr_skip(r, levels)))
        return rv;
    vlen = (size_t)(r->p - v);
    vi.offset = 0;
    if ((rv = crdtp_decode_header(v, vlen, &tag, &vi)))
        return crdtp_cr_fail_at(r, v + vi.offset, rv);
    if (!(t = type_for(tmp, tag)))
        return crdtp_cr_fail_at(r, v + crdtp_tag_offset(v), CRDT_ERR_TYPE);
    if (!(e->val = new_value(tmp, t)))
        return crdtp_cr_fail_at(r, v, CRDT_ERR_NOMEM);
    e->type = t;
    vi.offset = 0;
    vi.code = CRDT_ERR_DECODE;
    rv = is_ormap_type(t) ? decode_at(e->val, v, vlen, &r->lim, depth + 1, &vi)
                          : t->decode(e->val, v, vlen, &r->lim, &vi);
    if (rv)
        return crdtp_cr_fail_at(r, v + (vi.offset <= vlen ? vi.offset : 0),
                                rv);
    return CRDT_OK;
}

static int decode_dots(const crdt_ormap *tmp, cr *r, entry *e)
{
    const uint8_t *at = r->p;
    crdt_dot *d = NULL, one;
    uint32_t n, i, k;
    int rv;

    if ((rv = crdtp_cr_array(r, &n)))
        return rv;
    if (n > r->lim.max_elements) /* n == 0: a removed key, kept */
        return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
    if (n > cr_left(r) / DOT_MIN_BYTES)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
    if (n > 1 && !(d = crdtp_malloc_array(&tmp->mem, n, sizeof *d)))
        return crdtp_cr_fail_at(r, at, CRDT_ERR_NOMEM);
    e->many = d;
    e->ndots = n;
    for (i = 0; i < n; i++) {
        const uint8_t *dat = r->p;

        if ((rv = crdtp_cr_array(r, &k)))
            return rv;
        if (k != 2)
            return crdtp_cr_fail_at(r, dat, CRDT_ERR_DECODE);
        if ((rv = cr_uint(r, &one.actor)) || (rv = cr_uint(r, &one.counter)))
            return rv;
        if (i > 0 && dot_cmp(dots_of(e)[i - 1], one) >= 0)
            return crdtp_cr_fail_at(r, dat, CRDT_ERR_DECODE);
        if (!crdtp_dotctx_contains(&tmp->ctx, one.actor, one.counter))
            return crdtp_cr_fail_at(r, dat, CRDT_ERR_DECODE);
        if (n == 1)
            e->one = one;
        else
            d[i] = one;
    }
    return CRDT_OK;
}

/* Fails (at the later entry) if a dot is under two keys of tmp, whose
 * entries start at the offsets in offs: O(D log D) for D dots, one
 * allocation of D crdtp_dot_at (with their entries' offsets), D bounded
 * by the input length. */
static int check_dots_unique(const crdt_ormap *tmp, const size_t *offs,
                             cr *r, const uint8_t *data)
{
    crdtp_dot_at *all;
    size_t i, k, n = 0;

    for (i = 0; i < tmp->len; i++)
        n += tmp->ents[i].ndots;
    if (n < 2)
        return CRDT_OK;
    if (!(all = crdtp_malloc_array(&tmp->mem, n, sizeof *all)))
        return crdtp_cr_fail_at(r, data, CRDT_ERR_NOMEM);
    n = 0;
    for (i = 0; i < tmp->len; i++)
        for (k = 0; k < tmp->ents[i].ndots; k++) {
            all[n].d = dots_of(&tmp->ents[i])[k];
            all[n++].off = offs[i];
        }
    qsort(all, n, sizeof *all, crdtp_dot_at_cmp);
    for (i = 1; i < n; i++)
        if (dot_cmp(all[i - 1].d, all[i].d) == 0) {
            size_t off = all[i].off;

            crdtp_free(&tmp->mem, all);
            return crdtp_cr_fail_at(r, data + off, CRDT_ERR_DECODE);
        }
    crdtp_free(&tmp->mem, all);
    return CRDT_OK;
}

/* The decoder's temporary: the map being read, where each entry starts
 * in the input (for check_dots_unique), and the level the map nests at. */
typedef struct map_tmp {
    crdt_ormap m;
    size_t *offs;
    size_t depth; /* set by decode_at */
} map_tmp;

static inline void dec_init(void *tmp, const void *dst)
{
    map_tmp *t = tmp;

    map_init(&t->m, ((const crdt_ormap *)dst)->reg,
             &((const crdt_ormap *)dst)->mem);
    t->offs = NULL;
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    map_tmp *t = tmp;
    crdt_ormap *m = &t->m;
    const uint8_t *at, *key;
    uint32_t n, i, k;
    size_t klen;
    int rv;

    (void)dst, (void)nbody;
    if ((rv = crdtp_dotctx_decode_body(r, &m->ctx, &m->mem)))
        return rv;
    at = r->p;
    if ((rv = crdtp_cr_array(r, &n)))
        return rv;
    if (n > r->lim.max_elements)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_LIMIT);
    if (n > cr_left(r) / ENTRY_MIN_BYTES)
        return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
    if (n && (!(m->ents = crdtp_malloc_array(&m->mem, n, sizeof *m->ents)) ||
              !(m->live = crdtp_malloc_array(&m->mem, n, sizeof *m->live)) ||
              !(t->offs = crdtp_malloc_array(&m->mem, n, sizeof *t->offs))))
        return crdtp_cr_fail_at(r, at, CRDT_ERR_NOMEM);
    m->cap = n;
    for (i = 0; i < n; i++) {
        entry *e = &m->ents[i];
        const uint8_t *eat = r->p, *kat;

        entry_init(e);
        m->len = i + 1; /* cleared on failure */
        t->offs[i] = (size_t)(eat - r->base);
        if ((rv = crdtp_cr_array(r, &k)))
            return rv;
        if (k != 3)
            return crdtp_cr_fail_at(r, eat, CRDT_ERR_DECODE);
        kat = r->p;
        if ((rv = crdtp_cr_bin(r, &key, &klen)))
            return rv;
        if (i > 0 &&
            cmp_key(m->ents[i - 1].key, m->ents[i - 1].klen, key, klen) >= 0)
            return crdtp_cr_fail_at(r, kat, CRDT_ERR_DECODE);
        if ((rv = copy_key(&m->mem, key, klen, &e->key)))
            return crdtp_cr_fail_at(r, kat, rv);
        e->klen = klen;
        if ((rv = decode_dots(m, r, e)) ||
            (rv = decode_value(m, r, t->depth, e)))
            return rv;
    }
    return CRDT_OK;
}

/* Checks, once the whole input was read, that no dot is under two keys;
 * then installs the map in dst. */
static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    map_tmp *t = tmp;
    int rv;

    if ((rv = check_dots_unique(&t->m, t->offs, r, r->base)))
        return rv;
    map_install(dst, t->m.ents, t->m.len, t->m.cap, t->m.live, &t->m.ctx);
    t->m.ents = NULL;
    t->m.live = NULL;
    t->m.len = 0;
    return CRDT_OK;
}

static inline void dec_clear(void *tmp, const void *dst)
{
    map_tmp *t = tmp;

    (void)dst;
    crdtp_free(&t->m.mem, t->offs);
    map_clear(&t->m);
}

static const crdtp_decoder ormap_decoder = {
    .tag = CRDT_TAG_ORMAP, .nbody = CRDTP_NBODY(3), .init = dec_init,
    .body = dec_body, .commit = dec_commit, .clear = dec_clear,
};

/* Decodes a map that nests at level depth (1 at the top). */
static int decode_at(crdt_ormap *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, size_t depth,
                     crdt_decode_info *info)
{
    map_tmp tmp;

    tmp.depth = depth;
    return crdtp_decode(&ormap_decoder, dst, &tmp, data, len, lim, depth,
                        info);
}

int crdt_ormap_decode(crdt_ormap *dst, const uint8_t *data, size_t len,
                      const crdt_limits *lim, crdt_decode_info *info)
{
    return decode_at(dst, data, len, lim, 1, info);
}

/* ======================================================================
 * Type descriptor
 * ====================================================================== */

static void *vt_create(const crdt_mem *mem)
{
    return crdt_ormap_new(NULL, mem);
}

static void vt_destroy(void *obj)
{
    crdt_ormap_free(obj);
}

static int vt_copy(void *dst, const void *src)
{
    return crdt_ormap_copy(dst, src);
}

static bool vt_equal(const void *a, const void *b)
{
    return crdt_ormap_equal(a, b);
}

static int vt_merge(void *dst, const void *src)
{
    return crdt_ormap_merge(dst, src);
}

static int vt_encode(const void *obj, crdt_buf *out)
{
    return crdt_ormap_encode(obj, out);
}

static int vt_decode(void *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_ormap_decode(dst, data, len, lim, info);
}

static const crdt_type ormap_type = {
    CRDT_TYPE_VERSION, CRDT_TAG_ORMAP, "ormap", vt_create, vt_destroy,
    vt_copy, vt_equal, vt_merge, vt_encode, vt_decode,
};

const crdt_type *crdt_ormap_type(void)
{
    return &ormap_type;
}
