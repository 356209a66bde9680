/* SPDX-License-Identifier: MIT */
/*
 * Observed-remove maps of embedded CRDTs on one causal context (see
 * crdt/ormap.h for the semantics and the wire format).
 *
 * Representation: one causal context (dotctx_internal.h) and a sorted
 * array of entries (key order: memcmp over the common length, then the
 * shorter first), binary-searched.  An entry owns a copy of its key, its
 * dots D (the usual single dot inline, two or more in one block, sorted)
 * and its value:
 *  - causal (ds != NULL: orset, mvreg, flags, nested maps): one object
 *    whose own context is exactly its dots (so it is a valid object of
 *    its type, readable and encodable as is); the map puts its context
 *    in the object for the length of a mutation or a join
 *    (dotstore_internal.h) and rebuilds the object's own after;
 *  - plain: one object per dot of D (the slots), the one in val when D
 *    has one dot, else in slots[] with val the join of them all (what
 *    get lends).  The gossip engine keeps each key in a map of one such
 *    entry, a slot per writer, and merges one-slot deltas into it.
 * `live` lists the positions of the present entries (D non-empty), in key
 * order, so size and iteration by index stay O(1).  `dix`, a cache built
 * for merges of small sources (below), maps every dot of the entries
 * (their D and their causal values' dots, nested maps' included) to the
 * entry holding it, named by its key buffer and tag (entries move in the
 * array, their key buffers do not).
 *
 * Invariants: keys strictly ascending; D sorted, in the context; a plain
 * entry has D non-empty, and with two dots or more val == the join of
 * its slots; a causal entry has D or its value non-empty;
 * no dot is in two places; live[0..nlive) are exactly the present
 * entries, with room for cap positions; the context is compact; dix,
 * when built, holds exactly the entries' dots, each with its entry's key
 * buffer and tag: update, remove and the small merge keep it so, every
 * other change of the entries (the full merge, copy, decode) drops it.
 *
 * Atomicity: every mutation builds what it needs next to the map (a new
 * entry array for merge and copy, the touched keys' new entries for the
 * small merge, copied values for update), reserves the context's room
 * with join_prepare (and the entry array's and dix's, which grow without
 * changing what they hold), and commits with steps that cannot fail; the
 * old pieces are freed last.  A failed small merge that built dix drops
 * it again, so that a failed call leaves no allocation behind.  One step
 * that can fail changes the map in place: a merge that grows a plain
 * entry's value joins the new slots into it (settle_values) after
 * everything else that can fail, and a type's failed merge changes
 * nothing, so it is the commit point; any other value that grows in the
 * same merge is copied first.
 *
 * Plain entries in a merge (oent, below): src's slots are looked up in
 * the entry, the entry's slots src has seen are found through src's
 * context, and the changes become edits (a slot joined with src's, a
 * slot new to dst, a slot that goes).  The slots no edit touches are
 * neither copied nor moved: the entry is edited in place at commit (its
 * dot and slot arrays rewritten where an edit is, or replaced when they
 * must grow).  Its value (the join of the slots) is updated by a join
 * with the new slots when no slot's content is lost, and recomputed from
 * the slots otherwise.  A slot that goes loses its content unless
 * another slot holds it.  An update supersedes its actor's slots with
 * one that holds them joined with its delta, so a delta's new slot of an
 * actor normally holds the one it replaces; but after a remove the actor
 * saw, its next slot starts empty, and the dots cannot tell the two
 * apart.  So each slot that goes is joined into a new slot of its actor
 * from src, and the value is updated incrementally only if that left
 * every such slot equal to src's; else it is recomputed.
 *
 * One dot at two places (an actor id reused, see crdt/ormap.h): each
 * place's merge sees a dot the other side has seen and does not hold
 * there, and drops it, in either order and on both paths, with no extra
 * test; at one place the value types' merges decide (an MV-register keeps
 * the greater value, a slot joins its two).
 *
 * Costs: lookups O(log n), n the keys.  The full merge is one two-
 * pointer pass over both entry arrays; a key on one side only is checked
 * against the other side's context (its dots, and for a causal value its
 * own context, which lists its dots), and rebuilt only if that context
 * removes some; a key on both sides with unequal values costs copies and
 * a join of the values (the price of atomic merges of opaque values).
 * That pass costs O(dots of dst) even for a delta of one key (42 us on a
 * map of 1,000 keys), so a small source (at most SMALL_ENTS entries)
 * takes the small merge instead, which writes the result in place
 * rather than into a new array: into a map of fewer than SMALL_MIN_LEN
 * entries it visits every entry, as the full pass does; into a larger
 * one, when src has at most SMALL_DOTS dots in its context (a delta or a
 * few gathered), only dst's entries of src's keys and those holding a
 * dot of src's context can change, found by binary search and through
 * dix, merged by the same per-entry code and written back in place:
 * O(src (log n + hash lookups)) plus, when a key appears or goes, the
 * array's memmove and a shift of the live positions after it (O(n), a
 * few instructions an entry; a key with entries of several types takes
 * a full reindex).  A plain entry a delta touches costs O(the delta's
 * slots and context dots (log slots)), a copy of each new slot and a
 * join of it into the value; recomputing the value (a slot lost) costs
 * a join of every slot.  dix is built (O(dots))
 * at the second small merge into a map without one, so a one-off merge
 * into a fresh copy never pays for it; it costs 40 bytes a slot at a load
 * of at most 3/4 (some 55 bytes a dot), and update and remove on a map
 * that holds it pay a hash update per dot they add or drop.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>
/* inlined: the dot index hashes 16 bytes per probe sequence, where a call
 * into the library costs as much as the hash */
#define XXH_INLINE_ALL
#include <xxhash.h>

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
#include "dotstore_internal.h"
#include "mem_internal.h"

/* Forces in line the per-entry merge, which both merges call. */
#if defined(__GNUC__)
#define ORMAP_INLINE inline __attribute__((always_inline))
#else
#define ORMAP_INLINE inline
#endif

typedef struct entry {
    uint8_t *key;              /* klen bytes, owned; NULL when klen == 0 */
    size_t klen;               /* key length */
    crdt_dot one;              /* the dot when ndots == 1 */
    crdt_dot *many;            /* ndots sorted dots when ndots >= 2 */
    size_t ndots;              /* D: 0 (hidden causal value) or more */
    const crdt_type *type;     /* the value's descriptor (borrowed) */
    const crdtp_dotstore *ds;  /* causal: the type's dot store; else NULL */
    void *val;                 /* causal: the value; plain: the slot
                                * (ndots == 1) or the join of slots */
    void **slots;              /* plain with ndots >= 2: one per dot */
} entry;

/* A slot of the dot index: a dot and the entry holding it, named by its
 * key (the entry's own buffer, which stays put while the entry moves in
 * the array) and tag. */
typedef struct dix_slot {
    crdt_dot d;
    const uint8_t *key;        /* the entry's key buffer (NULL if empty) */
    uint32_t klen;             /* <= CRDT_ORMAP_MAX_KEY_BYTES */
    uint32_t tag;              /* the entry's tag; 0 = free slot */
    uint32_t h;                /* dix_hash of d */
} dix_slot;

/* Every dot of the entries (their D and their causal values' dots, nested
 * maps' included) to its entry: open addressing, linear probing, load at
 * most 3/4, seeded XXH3 (dots come from peers: a per-index random seed
 * keeps them from choosing collisions). */
typedef struct dotindex {
    dix_slot *s;               /* cap slots; NULL = not built */
    size_t cap;                /* a power of two */
    size_t n;                  /* dots held */
    uint64_t seed;
} dotindex;

struct crdt_ormap {
    entry *ents;               /* sorted by key */
    size_t len, cap;           /* entries used, allocated */
    size_t *live;              /* indexes of present entries; room for cap */
    size_t nlive;              /* present entries (the map's size) */
    dotctx ctx;                /* causal context, compact */
    dotindex dix;              /* dot -> entry, for small merges; a cache */
    unsigned small;            /* small merges seen without dix */
    const crdt_registry *reg;  /* decodable types; NULL = built-ins */
    crdt_mem mem;              /* allocator of everything above */
};

static const crdtp_dotstore ormap_dotstore;

/* ======================================================================
 * Helpers
 * ====================================================================== */

static const crdt_dot *dots_of(const entry *e)
{
    return e->ndots <= 1 ? &e->one : e->many;
}

/* The value of plain e's i-th slot. */
static void *slot_of(const entry *e, size_t i)
{
    return e->ndots == 1 ? e->val : e->slots[i];
}

/* The dot store of a causal type; NULL for a plain one. */
static const crdtp_dotstore *dotstore_of(const crdt_type *t)
{
    if (t == crdt_orset_type())
        return &crdtp_orset_dotstore;
    if (t == crdt_mvreg_type())
        return &crdtp_mvreg_dotstore;
    if (t == crdt_ewflag_type() || t == crdt_dwflag_type())
        return &crdtp_dflag_dotstore;
    if (t == crdt_ormap_type())
        return &ormap_dotstore;
    return NULL;
}

static int cmp_key(const uint8_t *a, size_t la, const uint8_t *b,
                   size_t lb);

/* Rebuilds m->live from the entries (it has room for m->cap >= m->len). */
static void reindex(crdt_ormap *m)
{
    size_t i, n = 0;

    /* a key's entries are adjacent, by tag: its last present one shows */
    for (i = 0; i < m->len; i++) {
        if (!m->ents[i].ndots)
            continue;
        if (n > 0 && cmp_key(m->ents[m->live[n - 1]].key,
                             m->ents[m->live[n - 1]].klen, m->ents[i].key,
                             m->ents[i].klen) == 0)
            n--; /* a larger tag of the same key */
        m->live[n++] = i;
    }
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

static int dot_qcmp(const void *a, const void *b)
{
    return dot_cmp(*(const crdt_dot *)a, *(const crdt_dot *)b);
}

/* Whether d is among the n sorted dots at a (may be NULL if n is 0);
 * *pos: its position, or the one it would take.  A lower bound, then one
 * comparison: merges of deltas run a few per slot they touch. */
static inline bool find_dot(const crdt_dot *a, size_t n, crdt_dot d,
                            size_t *pos)
{
    size_t lo = 0, len = n;

    while (len) {
        size_t half = len / 2;
        const crdt_dot *m = &a[lo + half];

        if (m->actor < d.actor ||
            (m->actor == d.actor && m->counter < d.counter)) {
            lo += half + 1;
            len -= half + 1;
        } else {
            len = half;
        }
    }
    *pos = lo;
    return lo < n && a[lo].actor == d.actor && a[lo].counter == d.counter;
}

/* Orders entries: by key, then by type tag. */
static int cmp_kt(const entry *e, const uint8_t *key, size_t klen,
                  uint32_t tag)
{
    int c = cmp_key(e->key, e->klen, key, klen);

    if (c)
        return c;
    return (e->type->tag > tag) - (e->type->tag < tag);
}

/* Index of (key, tag), or its insertion point with *found = false. */
static size_t search(const crdt_ormap *m, const uint8_t *key, size_t klen,
                     uint32_t tag, bool *found)
{
    size_t lo = 0, hi = m->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_kt(&m->ents[mid], key, klen, tag);

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

/* The entries of key: [*lo, return value). */
static size_t group(const crdt_ormap *m, const uint8_t *key, size_t klen,
                    size_t *lo)
{
    bool found;
    size_t hi;

    *lo = search(m, key, klen, 0, &found); /* tags start at 1 */
    for (hi = *lo; hi < m->len; hi++)
        if (cmp_key(m->ents[hi].key, m->ents[hi].klen, key, klen) != 0)
            break;
    return hi;
}

/* The entry key shows: of its present entries, the one of the largest
 * tag; NULL if none. */
static const entry *shown_entry(const crdt_ormap *m, const uint8_t *key,
                                size_t klen)
{
    size_t lo, hi = group(m, key, klen, &lo);

    while (hi > lo)
        if (m->ents[--hi].ndots)
            return &m->ents[hi];
    return NULL;
}

/* Frees e's value part: the value and the slots. */
static void entry_clear_value(const crdt_mem *mem, entry *e)
{
    size_t i;

    if (e->slots) {
        for (i = 0; i < e->ndots; i++)
            if (e->slots[i])
                e->type->destroy(e->slots[i]);
        crdtp_free(mem, e->slots);
    }
    if (e->val)
        e->type->destroy(e->val);
    e->slots = NULL;
    e->val = NULL;
}

static void entry_clear(const crdt_mem *mem, entry *e)
{
    entry_clear_value(mem, e);
    crdtp_free(mem, e->key);
    crdtp_free(mem, e->many);
    e->key = NULL;
    e->many = NULL;
}

static void entry_init(entry *e)
{
    memset(e, 0, sizeof *e);
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

/* ------------------------------------------------------------ dot index */

static size_t ctx_count(const dotctx *c);

/* The dot's hash: 32 bits, kept in its slot so that a remove's backward
 * shift and a rehash never hash again (tables past 2^32 slots just use
 * the first 2^32 as homes). */
static uint32_t dix_hash(const dotindex *x, crdt_dot d)
{
    return (uint32_t)XXH3_64bits_withSeed(&d, sizeof d, x->seed);
}

static const dix_slot *dix_find(const dotindex *x, crdt_dot d)
{
    uint32_t h = dix_hash(x, d);
    size_t i = h & (x->cap - 1);

    for (; x->s[i].tag; i = (i + 1) & (x->cap - 1))
        if (x->s[i].h == h && dot_cmp(x->s[i].d, d) == 0)
            return &x->s[i];
    return NULL;
}

/* Puts slot t in the free slot its probe run reaches. */
static void dix_place(dotindex *x, const dix_slot *t)
{
    size_t i = t->h & (x->cap - 1);

    while (x->s[i].tag)
        i = (i + 1) & (x->cap - 1);
    x->s[i] = *t;
    x->n++;
}

/* Adds d (not held) for e; the caller reserved the room. */
static void dix_put(dotindex *x, crdt_dot d, const entry *e)
{
    dix_slot t;

    t.d = d;
    t.key = e->key;
    t.klen = (uint32_t)e->klen;
    t.tag = e->type->tag;
    t.h = dix_hash(x, d);
    dix_place(x, &t);
}


/* Drops d if held, shifting back the slots of its probe run so that no
 * lookup meets a hole before its dot (no tombstones). */
static void dix_del(dotindex *x, crdt_dot d)
{
    uint32_t hd = dix_hash(x, d);
    size_t mask = x->cap - 1, i = hd & mask, j, h;

    for (; x->s[i].tag; i = (i + 1) & mask)
        if (x->s[i].h == hd && dot_cmp(x->s[i].d, d) == 0)
            break;
    if (!x->s[i].tag)
        return;
    for (j = (i + 1) & mask; x->s[j].tag; j = (j + 1) & mask) {
        h = x->s[j].h & mask;
        /* s[j] may fill the hole at i iff its home is not in (i, j] */
        if (((j - h) & mask) >= ((j - i) & mask)) {
            x->s[i] = x->s[j];
            i = j;
        }
    }
    x->s[i].tag = 0;
    x->n--;
}

/* The dots of an entry, old or about to be: D (sorted) and, for a causal
 * value, the value's own context (exactly its dots) or NULL. */
typedef struct dotset {
    const crdt_dot *d;
    size_t n;
    const dotctx *v;
} dotset;

static dotset dotset_of(const entry *e)
{
    dotset s;

    s.d = dots_of(e);
    s.n = e->ndots;
    s.v = e->ds ? e->ds->ctx(e->val) : NULL;
    return s;
}

static bool dotset_has(const dotset *s, crdt_dot d)
{
    size_t pos;

    return find_dot(s->d, s->n, d, &pos) ||
           (s->v && crdtp_dotctx_contains(s->v, d.actor, d.counter));
}

static void dix_one(dotindex *x, crdt_dot d, const dotset *except,
                    const entry *add)
{
    if (except && dotset_has(except, d))
        return;
    if (add)
        dix_put(x, d, add);
    else
        dix_del(x, d);
}

/* Adds (add: the entry they belong to, whose key buffer and tag the index
 * keeps) or drops (add NULL) the dots of s that are not in except (may be
 * NULL).  An entry that changes in place keeps its key buffer, so only
 * the dots it loses and gains need an index change: a counter update
 * touches one dot, not all of the key's. */
static void dix_set(dotindex *x, const dotset *s, const dotset *except,
                    const entry *add)
{
    size_t k;
    crdt_dot d;

    for (k = 0; k < s->n; k++)
        dix_one(x, s->d[k], except, add);
    if (s->v) {
        crdtp_dotwalk dw = crdtp_dotwalk_start(s->v);

        while (crdtp_dotwalk_next(&dw, &d))
            dix_one(x, d, except, add);
    }
}

/* Adds (add) or drops every dot of e to or from x. */
static void dix_entry(dotindex *x, const entry *e, bool add)
{
    dotset s = dotset_of(e);

    dix_set(x, &s, NULL, add ? e : NULL);
}

/* The number of dots dix_entry lists for e (SIZE_MAX if it overflows). */
static size_t entry_dot_count(const entry *e)
{
    size_t v;

    if (!e->ds)
        return e->ndots;
    v = ctx_count(e->ds->ctx(e->val));
    return v > SIZE_MAX - e->ndots ? SIZE_MAX : v + e->ndots;
}

/* Whether n dots fit in cap slots: a load of at most 3/4, where linear
 * probing still finds a dot in about 2.5 probes (a miss in about 8), at
 * 40 bytes a slot; n <= SIZE_MAX / 8. */
static bool dix_fits(size_t n, size_t cap)
{
    return 4 * n <= 3 * cap;
}

static void dix_free(const crdt_mem *mem, dotindex *x)
{
    crdtp_free(mem, x->s);
    memset(x, 0, sizeof *x);
}

/* Makes room in m's built index for extra more dots (rehashing into a
 * larger table); the index holds the same dots after, and on error. */
static int dix_reserve(crdt_ormap *m, size_t extra)
{
    dotindex t = m->dix;
    size_t i, need, cap = m->dix.cap;

    if (extra > SIZE_MAX / 8 - m->dix.n)
        return CRDT_ERR_NOMEM;
    need = m->dix.n + extra;
    if (dix_fits(need, cap))
        return CRDT_OK;
    while (!dix_fits(need, cap))
        cap *= 2;
    t.cap = cap;
    t.n = 0;
    if (!(t.s = crdtp_malloc_array(&m->mem, cap, sizeof *t.s)))
        return CRDT_ERR_NOMEM;
    memset(t.s, 0, cap * sizeof *t.s);
    for (i = 0; i < m->dix.cap; i++)
        if (m->dix.s[i].tag)
            dix_place(&t, &m->dix.s[i]);
    crdtp_free(&m->mem, m->dix.s);
    m->dix = t;
    return CRDT_OK;
}

/* Builds m's index of every dot of its entries. */
static int dix_build(crdt_ormap *m)
{
    dotindex x;
    size_t i, n = 0, c;

    for (i = 0; i < m->len; i++) {
        c = entry_dot_count(&m->ents[i]);
        if (c > SIZE_MAX / 8 - n)
            return CRDT_ERR_NOMEM;
        n += c;
    }
    for (x.cap = 16; !dix_fits(n, x.cap); x.cap *= 2)
        ;
    x.n = 0;
    if (sodium_init() < 0)
        return CRDT_ERR_RANDOM;
    randombytes_buf(&x.seed, sizeof x.seed);
    if (!(x.s = crdtp_malloc_array(&m->mem, x.cap, sizeof *x.s)))
        return CRDT_ERR_NOMEM;
    memset(x.s, 0, x.cap * sizeof *x.s);
    for (i = 0; i < m->len; i++)
        dix_entry(&x, &m->ents[i], true);
    m->dix = x;
    return CRDT_OK;
}

/* ----------------------------------------------- causal values' contexts */

/* Whether the clean contexts v and c share a dot. */
static bool ctx_meets(const dotctx *v, const dotctx *c)
{
    size_t i;

    for (i = 0; i < v->vv.len; i++) {
        crdt_actor a = v->vv.actors[i];
        uint64_t n = v->vv.counts[i];
        size_t lo = 0, hi = c->ncloud;

        if (n == 0)
            continue;
        if (crdtp_dotctx_vv_get(c, a) > 0)
            return true;
        while (lo < hi) { /* c's first cloud dot of actor >= a */
            size_t mid = lo + (hi - lo) / 2;

            if (c->cloud[mid].actor < a)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < c->ncloud && c->cloud[lo].actor == a &&
            c->cloud[lo].counter <= n)
            return true;
    }
    for (i = 0; i < v->ncloud; i++)
        if (crdtp_dotctx_contains(c, v->cloud[i].actor, v->cloud[i].counter))
            return true;
    return false;
}

/* Whether a normalized causal value has no dot. */
static bool ctx_empty(const dotctx *c)
{
    return c->vv.len == 0 && c->ncloud == 0;
}

/* Gives causal obj a copy of c as its context; obj unchanged on error. */
static int set_ctx(const crdt_ormap *m, const crdtp_dotstore *ds, void *obj,
                   const dotctx *c)
{
    dotctx t;
    int rv;

    crdtp_dotctx_init(&t);
    if ((rv = crdtp_dotctx_copy(&t, &m->mem, c)))
        return rv;
    crdtp_dotctx_swap(ds->ctx(obj), &t);
    crdtp_dotctx_clear(&t, &m->mem);
    return CRDT_OK;
}

/* The dots of causal obj into b (sorted when sort). */
static int dots_into(const crdt_ormap *m, const crdtp_dotstore *ds,
                     const void *obj, crdtp_dotbuf *b, bool sort)
{
    int rv = ds->dots(obj, b, &m->mem);

    if (!rv && sort && b->n > 1)
        qsort(b->d, b->n, sizeof *b->d, dot_qcmp);
    return rv;
}

/* Makes causal obj's context exactly its dots; unchanged on error. */
static int normalize(const crdt_ormap *m, const crdtp_dotstore *ds,
                     void *obj)
{
    crdtp_dotbuf b = {NULL, 0, 0};
    dotctx t;
    size_t i;
    int rv;

    crdtp_dotctx_init(&t);
    if ((rv = dots_into(m, ds, obj, &b, true)))
        goto out;
    for (i = 0; i < b.n; i++)
        if ((rv = crdtp_dotctx_add_unfolded(&t, &m->mem, b.d[i])))
            goto out;
    crdtp_dotctx_compact(&t);
    crdtp_dotctx_swap(ds->ctx(obj), &t);
out:
    crdtp_dotctx_clear(&t, &m->mem);
    crdtp_free(&m->mem, b.d);
    return rv;
}

/* The join of causal values x (of the side with context cx) and y (cy),
 * either may be NULL (an empty value), as a new normalized value. */
static int causal_join(const crdt_ormap *m, const crdt_type *t,
                       const crdtp_dotstore *ds, const void *x,
                       const dotctx *cx, const void *y, const dotctx *cy,
                       void **out)
{
    void *w = x ? clone_value(m, t, x) : new_value(m, t);
    void *v = y ? clone_value(m, t, y) : new_value(m, t);
    int rv = CRDT_ERR_NOMEM;

    *out = NULL;
    if (!w || !v)
        goto fail;
    if ((rv = set_ctx(m, ds, w, cx)) || (rv = set_ctx(m, ds, v, cy)) ||
        (rv = t->merge(w, v)) || (rv = normalize(m, ds, w)))
        goto fail;
    t->destroy(v);
    *out = w;
    return CRDT_OK;
fail:
    if (w)
        t->destroy(w);
    if (v)
        t->destroy(v);
    return rv;
}

/* The join of plain values a and b as a new value (a copy of a if b is
 * NULL). */
static int plain_join(const crdt_ormap *m, const crdt_type *t, const void *a,
                      const void *b, void **out)
{
    void *w = clone_value(m, t, a);
    int rv;

    *out = NULL;
    if (!w)
        return CRDT_ERR_NOMEM;
    if (b && (rv = t->merge(w, b))) {
        t->destroy(w);
        return rv;
    }
    *out = w;
    return CRDT_OK;
}

/* The join of the n >= 2 plain values at slots, as a new value. */
static int join_slots(const crdt_ormap *m, const crdt_type *t,
                      void *const *slots, size_t n, void **out)
{
    size_t i;
    int rv;

    if ((rv = plain_join(m, t, slots[0], slots[1], out)))
        return rv;
    for (i = 2; i < n; i++)
        if ((rv = t->merge(*out, slots[i])))
            return rv; /* *out is the caller's to free */
    return CRDT_OK;
}

/* Gives plain e (its dots set, slots[0..ndots) filled when ndots >= 2,
 * val the slot when ndots == 1) its value: the join of the slots. */
static int plain_view(const crdt_ormap *m, entry *e)
{
    if (e->ndots < 2)
        return CRDT_OK;
    return join_slots(m, e->type, e->slots, e->ndots, &e->val);
}

static void map_init(crdt_ormap *m, const crdt_registry *reg,
                     const crdt_mem *mem)
{
    m->ents = NULL;
    m->len = m->cap = 0;
    m->live = NULL;
    m->nlive = 0;
    crdtp_dotctx_init(&m->ctx);
    memset(&m->dix, 0, sizeof m->dix);
    m->small = 0;
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
    dix_free(&m->mem, &m->dix);
    m->small = 0;
}

/* Installs (ents, len, live, ctx) in m and frees what m held; live has
 * room for cap positions and is filled here. */
static void map_install(crdt_ormap *m, entry *ents, size_t len, size_t cap,
                        size_t *live, dotctx *ctx)
{
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

/* Gives e (type, ds, dots set) a copy of s's values, allocated for m. */
static int copy_values(const crdt_ormap *m, entry *e, const entry *s)
{
    size_t i;

    if (s->ds || s->ndots == 1) {
        e->val = clone_value(m, s->type, s->val);
        return e->val ? CRDT_OK : CRDT_ERR_NOMEM;
    }
    e->slots = crdtp_malloc_array(&m->mem, s->ndots, sizeof *e->slots);
    if (!e->slots)
        return CRDT_ERR_NOMEM;
    for (i = 0; i < s->ndots; i++)
        e->slots[i] = NULL;
    for (i = 0; i < s->ndots; i++)
        if (!(e->slots[i] = clone_value(m, s->type, s->slots[i])))
            return CRDT_ERR_NOMEM;
    e->val = clone_value(m, s->type, s->val);
    return e->val ? CRDT_OK : CRDT_ERR_NOMEM;
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
        e->ds = s->ds;
        if ((rv = copy_key(&dst->mem, s->key, s->klen, &e->key)) ||
            (rv = set_dots(&dst->mem, e, dots_of(s), s->ndots)) ||
            (rv = copy_values(dst, e, s)))
            goto fail_n;
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
    if (!m || (!key && klen))
        return false;
    return shown_entry(m, key, klen) != NULL;
}

int crdt_ormap_get(const crdt_ormap *m, const void *key, size_t klen,
                   const crdt_type **type, const void **value)
{
    const entry *e;

    if (!m || (!key && klen))
        return CRDT_ERR_INVALID_ARG;
    if (!(e = shown_entry(m, key, klen))) /* absent, or hidden */
        return CRDT_ERR_NOT_FOUND;
    if (type)
        *type = e->type;
    if (value)
        *value = e->val;
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

static bool entry_equal(const entry *x, const entry *y)
{
    size_t i;

    if (cmp_key(x->key, x->klen, y->key, y->klen) != 0 ||
        x->ndots != y->ndots ||
        memcmp(dots_of(x), dots_of(y), x->ndots * sizeof(crdt_dot)) ||
        x->type->tag != y->type->tag || !x->ds != !y->ds)
        return false;
    if (x->ds || x->ndots == 1)
        return x->type->equal(x->val, y->val);
    for (i = 0; i < x->ndots; i++)
        if (!x->type->equal(x->slots[i], y->slots[i]))
            return false;
    return true;
}

int crdt_ormap_context_copy(const crdt_ormap *m, crdt_dotctx *out)
{
    if (!m || !out)
        return CRDT_ERR_INVALID_ARG;
    return crdtp_dotctx_assign(out, &m->ctx);
}

bool crdt_ormap_context_contains(const crdt_ormap *m, crdt_dot d)
{
    return m && crdtp_dotctx_contains(&m->ctx, d.actor, d.counter);
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
    for (i = 0; i < a->len; i++)
        if (!entry_equal(&a->ents[i], &b->ents[i]))
            return false;
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

/* What a merge makes of a key and type: dst's entry as it is (KEEP_X),
 * nothing (DROP), a new entry built next to dst (BUILT), or dst's plain
 * entry with its slots edited in place at commit (PATCH). */
enum { KEEP_X, DROP, BUILT, PATCH };

/* An edit of a plain entry x's slots by a merge: a slot of src joined
 * into x's slot of the same dot (SET), a slot of src new to dst (ADD), or
 * x's slot src has seen and does not hold (DROP). */
enum { ED_ADD, ED_SET, ED_DROP };

typedef struct pedit {
    crdt_dot d;                /* the slot's dot */
    size_t at;                 /* SET, DROP: its position in x; ADD: the
                                * position in x it goes before */
    int kind;                  /* ED_* */
    bool grew;                 /* ADD: a dropped slot was joined into v */
    const void *y;             /* ADD, SET: src's slot */
    void *v;                   /* ADD, SET: the new slot (a copy of y, or
                                * x's slot joined with y), or NULL */
} pedit;

/* Edits an out entry holds in place; more take a block. */
#define OENT_EDITS 2u

/*
 * What a merge makes of one key and type, built next to dst and
 * committed by steps that cannot fail.  Ownership until the commit:
 *  - BUILT: e is a new entry that owns its parts, except its key when
 *    key_alias (x's key buffer, which moves to it at commit) and its
 *    causal value when val_alias (x's value, likewise).
 *  - PATCH (a plain x with two slots or more that keeps two or more):
 *    x stays where it is and keeps every slot the merge leaves alone,
 *    which is neither copied nor moved.  The out entry owns the edits'
 *    new slots (v), the edit block edh, the arrays many/slots when x's
 *    cannot be edited in place (filled in advance, x's unedited slots in
 *    them borrowed), a recomputed or copied value val, and z when
 *    z_owned.  At commit x's dropped and replaced slots are destroyed and
 *    the new ones move into x's arrays.
 * oent_clear frees what an out entry owns, and nothing it borrows.
 */
typedef struct oent {
    entry e;                   /* BUILT: the new entry; else its type */
    size_t from;               /* x's index in dst, or SIZE_MAX */
    int what;                  /* KEEP_X, DROP, BUILT or PATCH */
    bool key_alias;            /* BUILT: e.key is x's */
    bool val_alias;            /* BUILT, causal: e.val is x's */
    bool z_owned;              /* PATCH: z is a join of its own */
    size_t k;                  /* PATCH: x's slots after the edits */
    size_t ned;                /* PATCH: the edits, sorted by dot */
    pedit *edh;                /* PATCH: the edits if over OENT_EDITS */
    pedit edi[OENT_EDITS];     /* PATCH: else the edits */
    crdt_dot *many;            /* PATCH: x's k dots after, when not
                                * edited in place; else NULL */
    void **slots;              /* PATCH: likewise x's k slots after */
    void *val;                 /* PATCH: x's new value (the join of its
                                * slots recomputed, or x's value copied and
                                * joined with z), or NULL: z is joined into
                                * x's value in place (settle_values) */
    void *z;                   /* PATCH: the join of the new slots, by
                                * which x's value grows; NULL when the
                                * value is recomputed */
} oent;

static pedit *oent_edits(oent *o)
{
    return o->edh ? o->edh : o->edi;
}

/* Frees a PATCH's own pieces but the edits' new slots. */
static void patch_free(const crdt_ormap *dst, oent *o)
{
    const crdt_type *t = o->e.type;

    if (o->z_owned)
        t->destroy(o->z);
    if (o->val)
        t->destroy(o->val);
    if (o->edh)
        crdtp_free(&dst->mem, o->edh);
    if (o->many)
        crdtp_free(&dst->mem, o->many);
    if (o->slots)
        crdtp_free(&dst->mem, o->slots);
    o->z = o->val = NULL;
    o->z_owned = false;
    o->edh = NULL;
    o->many = NULL;
    o->slots = NULL;
}

/* Frees out entry o, leaving alone what it borrows from dst. */
static void oent_clear(const crdt_ormap *dst, oent *o)
{
    size_t i;

    if (o->what == BUILT) {
        if (o->key_alias)
            o->e.key = NULL;
        if (o->val_alias)
            o->e.val = NULL;
        entry_clear(&dst->mem, &o->e);
    } else if (o->what == PATCH) {
        pedit *ed = oent_edits(o);

        for (i = 0; i < o->ned; i++)
            if (ed[i].v)
                o->e.type->destroy(ed[i].v);
        patch_free(dst, o);
    }
    o->what = DROP;
}

/* x's slots as an array (one slot is x's value, not in an array). */
static void *const *slots_of(const entry *x)
{
    return x->ndots == 1 ? (void *const *)&x->val : x->slots;
}

/* Writes the n slots (dots od, values os) with the edits applied to nd
 * and ns and returns their number: one forward pass that moves the runs
 * between edits.  In place (nd == od, ns == os) when edits_in_place, so
 * that no write overtakes a slot still to be read.  Destroys nothing:
 * the slots the edits drop or replace are the caller's. */
static size_t apply_edits(const crdt_dot *od, void *const *os, size_t n,
                          const pedit *ed, size_t ned, crdt_dot *nd,
                          void **ns)
{
    size_t r = 0, w = 0, j, run, at;

    if (nd == od && ned == 2 && ed[0].kind == ED_DROP &&
        ed[1].kind == ED_ADD && ed[1].at == ed[0].at + 1) {
        /* a slot superseded by its actor's next, in its place */
        nd[ed[0].at] = ed[1].d;
        ns[ed[0].at] = ed[1].v;
        return n;
    }
    for (j = 0; j <= ned; j++) {
        at = j < ned ? ed[j].at : n;
        run = at - r;
        if (run && nd + w != od + r) {
            memmove(nd + w, od + r, run * sizeof *nd);
            memmove(ns + w, os + r, run * sizeof *ns);
        }
        w += run;
        r = at;
        if (j == ned)
            break;
        if (ed[j].kind != ED_DROP) {
            nd[w] = ed[j].d;
            ns[w++] = ed[j].v;
        }
        r += ed[j].kind != ED_ADD;
    }
    return w;
}

/* Whether apply_edits can work in place: each ADD comes after more DROPs
 * than ADDs (a slot superseded by a newer one of its actor: DROP (a, m),
 * then ADD (a, n) at the same place), so that writes stay behind reads;
 * then the slots do not outgrow x's arrays either. */
static bool edits_in_place(const pedit *ed, size_t ned)
{
    size_t j, slack = 0;

    for (j = 0; j < ned; j++) {
        if (ed[j].kind == ED_DROP) {
            slack++;
        } else if (ed[j].kind == ED_ADD) {
            if (!slack)
                return false;
            slack--;
        }
    }
    return true;
}

/* A growable list of edits, on the stack while it is short. */
#define EDL_STACK 16u

typedef struct edlist {
    pedit *p;
    size_t n, cap;
    size_t adds, drops;        /* the ADDs and DROPs among them */
    pedit stack[EDL_STACK];
} edlist;

/* Moves l to a larger block. */
static int edl_grow(const crdt_ormap *dst, edlist *l)
{
    size_t cap = crdtp_grow_cap(l->cap, l->n + 1);
    pedit *q = crdtp_malloc_array(&dst->mem, cap, sizeof *q);

    if (!q)
        return CRDT_ERR_NOMEM;
    memcpy(q, l->p, l->n * sizeof *q);
    if (l->p != l->stack)
        crdtp_free(&dst->mem, l->p);
    l->p = q;
    l->cap = cap;
    return CRDT_OK;
}

static int edit_cmp(const void *a, const void *b)
{
    return dot_cmp(((const pedit *)a)->d, ((const pedit *)b)->d);
}

/* Appends an edit of dot d at position at of kind to l (ys: src's slot). */
static inline int add_edit(const crdt_ormap *dst, edlist *l, crdt_dot d,
                           size_t at, int kind, const void *ys)
{
    pedit *e;

    if (l->n == l->cap && edl_grow(dst, l))
        return CRDT_ERR_NOMEM;
    e = &l->p[l->n++];
    e->d = d;
    e->at = at;
    e->kind = kind;
    e->grew = false;
    e->y = ys;
    e->v = NULL;
    l->adds += kind == ED_ADD;
    l->drops += kind == ED_DROP;
    return CRDT_OK;
}

/* Whether d is among the n dots at yd (a delta's few: a scan). */
static inline bool holds(const crdt_dot *yd, size_t n, crdt_dot d)
{
    size_t j;

    for (j = 0; j < n; j++)
        if (yd[j].actor == d.actor && yd[j].counter == d.counter)
            return true;
    return false;
}

/* The edits the merge makes to plain x (dst's side, may be NULL) given
 * src's entry y (may be NULL), sorted by dot; no slot is copied yet.
 * The cost follows the changes: for a src much smaller than x (a delta:
 * at most 8 slots, a quarter of x's, a context of fewer entries than x
 * has slots), its slots are looked up in x (binary search) and x's slots
 * src has seen are found through src's context, dot by dot; otherwise
 * both entries' dots are walked side by side, as the full pass walks
 * keys. */
static int plain_edits(const crdt_ormap *dst, const crdt_ormap *src,
                       const crdt_type *t, const entry *x, const entry *y,
                       edlist *l)
{
    const dotctx *cs = &src->ctx, *cd = &dst->ctx;
    size_t nx = x ? x->ndots : 0, ny = y ? y->ndots : 0;
    const crdt_dot *xd = x ? dots_of(x) : NULL, *yd = y ? dots_of(y) : NULL;
    size_t i = 0, j = 0, pos;
    bool sorted = true;
    int rv = CRDT_OK;

    if (ny * 4 >= nx || cs->vv.len + cs->ncloud >= nx || ny > 8 ||
        cs->dirty) {
        while ((i < nx || j < ny) && !rv) {
            int c = i == nx ? 1 : j == ny ? -1 : dot_cmp(xd[i], yd[j]);

            if (c == 0) {
                if (!t->equal(slot_of(x, i), slot_of(y, j)))
                    rv = add_edit(dst, l, xd[i], i, ED_SET, slot_of(y, j));
                i++, j++;
            } else if (c < 0) {
                if (crdtp_dotctx_contains(cs, xd[i].actor, xd[i].counter))
                    rv = add_edit(dst, l, xd[i], i, ED_DROP, NULL);
                i++;
            } else {
                if (!crdtp_dotctx_contains(cd, yd[j].actor, yd[j].counter))
                    rv = add_edit(dst, l, yd[j], i, ED_ADD, slot_of(y, j));
                j++;
            }
        }
        return rv;
    }
    /* x's slots src has seen and does not hold, through src's context
     * (first: a slot a delta supersedes comes before the new one) */
    for (i = 0; i < cs->vv.len; i++) {
        crdt_dot lo;

        lo.actor = cs->vv.actors[i];
        lo.counter = 1;
        (void)find_dot(xd, nx, lo, &pos);
        for (; pos < nx && xd[pos].actor == lo.actor &&
               xd[pos].counter <= cs->vv.counts[i];
             pos++)
            if (!holds(yd, ny, xd[pos]) &&
                (rv = add_edit(dst, l, xd[pos], pos, ED_DROP, NULL)))
                return rv;
    }
    for (i = 0; i < cs->ncloud; i++)
        if (!holds(yd, ny, cs->cloud[i]) &&
            find_dot(xd, nx, cs->cloud[i], &pos) &&
            (rv = add_edit(dst, l, xd[pos], pos, ED_DROP, NULL)))
            return rv;
    /* src's slots: joined into x's, or new to dst */
    for (j = 0; j < ny; j++) {
        crdt_dot d = yd[j];
        int kind = ED_ADD;

        if (find_dot(xd, nx, d, &pos)) {
            if (t->equal(slot_of(x, pos), slot_of(y, j)))
                continue;
            kind = ED_SET;
        } else if (crdtp_dotctx_contains(cd, d.actor, d.counter)) {
            continue; /* dst has seen it go */
        }
        if ((rv = add_edit(dst, l, d, pos, kind, slot_of(y, j))))
            return rv;
    }
    for (i = 1; i < l->n && sorted; i++)
        sorted = dot_cmp(l->p[i - 1].d, l->p[i].d) < 0;
    if (sorted)
        return CRDT_OK;
    if (l->n > 16) {
        qsort(l->p, l->n, sizeof *l->p, edit_cmp);
        return CRDT_OK;
    }
    for (i = 1; i < l->n; i++) { /* a few: insertion sort */
        pedit e = l->p[i];

        for (j = i; j > 0 && dot_cmp(l->p[j - 1].d, e.d) > 0; j--)
            l->p[j] = l->p[j - 1];
        l->p[j] = e;
    }
    return CRDT_OK;
}

/* A new entry of plain slots (x has at most one slot, or keeps at most
 * one): x's slot it keeps is copied, the edits' new slots move in (on
 * success only: on error they stay the edits'). */
static int plain_build(const crdt_ormap *dst, const entry *x, pedit *ed,
                       size_t ned, size_t k, oent *o)
{
    const crdt_type *t = o->e.type;
    entry *e = &o->e;
    size_t nx = x ? x->ndots : 0, i, j;
    crdt_dot d1;
    void *s1, *keep = NULL, **ns = &s1;
    crdt_dot *nd = &d1;
    int rv = CRDT_ERR_NOMEM;

    if (k >= 2 &&
        (!(nd = crdtp_malloc_array(&dst->mem, k, sizeof *nd)) ||
         !(ns = crdtp_malloc_array(&dst->mem, k, sizeof *ns))))
        goto fail;
    (void)apply_edits(x ? dots_of(x) : NULL, x ? slots_of(x) : NULL, nx,
                      ed, ned, nd, ns);
    /* the one slot of x's it may keep (x had one, or keeps one): a copy */
    for (i = 0; nx && i < k; i++) {
        bool mine = nx == 1 && ns[i] == x->val;

        for (j = 0; nx >= 2 && j < ned && ed[j].v != ns[i]; j++)
            ;
        if (mine || (nx >= 2 && j == ned)) {
            if (!(keep = clone_value(dst, t, ns[i])))
                goto fail;
            ns[i] = keep;
            break;
        }
    }
    if (k == 1) {
        e->one = d1;
        e->val = s1;
    } else {
        e->many = nd;
        e->slots = ns;
        if ((rv = join_slots(dst, t, ns, k, &e->val)))
            goto fail;
    }
    e->ndots = k;
    o->what = BUILT;
    return CRDT_OK;
fail:
    if (e->val)
        t->destroy(e->val);
    e->val = NULL;
    e->many = NULL;
    e->slots = NULL;
    if (keep)
        t->destroy(keep);
    if (nd != &d1)
        crdtp_free(&dst->mem, nd);
    if (ns != &s1)
        crdtp_free(&dst->mem, ns);
    return rv;
}

/* Whether each slot the edits drop is checked to be contained in a new
 * slot of its actor (so joining it into the value changes nothing).  An
 * update supersedes its actor's slots with one that holds them joined
 * with its delta, so a delta's new slot contains the slot it replaces;
 * but a slot the actor made after a remove it saw restarts empty, and the
 * dots cannot tell the two apart, so the content is compared: each
 * dropped slot is joined into an ADD of its actor, which must still equal
 * src's slot after.  An ADD that does not is restored and false returned
 * (or an error, with the ADDs' slots to be destroyed by the caller). */
static int drops_covered(const entry *x, pedit *ed, size_t ned,
                         bool *covered)
{
    const crdt_type *t = x->type;
    size_t i, j, c;
    int rv;

    *covered = false;
    for (i = 0; i < ned; i++) { /* an ADD of the actor of each DROP */
        if (ed[i].kind != ED_DROP)
            continue;
        for (c = i; c > 0 && ed[c - 1].d.actor == ed[i].d.actor; c--)
            ;
        for (j = c; j < ned && ed[j].d.actor == ed[i].d.actor; j++)
            if (ed[j].kind == ED_ADD)
                break;
        if (j == ned || ed[j].d.actor != ed[i].d.actor)
            return CRDT_OK;
    }
    for (i = 0; i < ned; i++) {
        if (ed[i].kind != ED_DROP)
            continue;
        for (c = i; c > 0 && ed[c - 1].d.actor == ed[i].d.actor; c--)
            ;
        for (j = c; ed[j].kind != ED_ADD; j++)
            ;
        if ((rv = t->merge(ed[j].v, x->slots[ed[i].at])))
            return rv;
        ed[j].grew = true;
    }
    *covered = true;
    for (j = 0; j < ned; j++) {
        if (!ed[j].grew)
            continue;
        ed[j].grew = false;
        if (!t->equal(ed[j].v, ed[j].y)) {
            *covered = false;
            if ((rv = t->copy(ed[j].v, ed[j].y)))
                return rv;
        }
    }
    return CRDT_OK;
}

/* A PATCH of plain x (two slots or more, keeping two or more): its
 * slots edited in place at commit, its value updated incrementally when
 * no slot's content is lost, else recomputed.  The invariant: x's value
 * is the join of its slots.  SET and ADD only add content, so the new
 * value is the old one joined with the new slots (z).  A DROP loses the
 * dropped slot's content unless another slot contains it: then the value
 * is recomputed from the slots, unless drops_covered shows each dropped
 * slot contained in a new slot of its actor.  The edits' new slots become
 * o's on success only. */
static int plain_patch(const crdt_ormap *dst, const entry *x, edlist *l,
                       size_t k, oent *o)
{
    const crdt_type *t = x->type;
    pedit *ed = l->p;
    size_t j, nv = 0, ned = l->n;
    bool covered = true;
    int rv = CRDT_OK;

    if (l->drops && (rv = drops_covered(x, ed, ned, &covered)))
        return rv;
    o->z = o->val = NULL;
    o->z_owned = false;
    o->edh = NULL;
    o->many = NULL;
    o->slots = NULL;
    if (!covered || l->adds > l->drops ||
        (l->adds && !edits_in_place(ed, ned))) {
        if (!(o->many = crdtp_malloc_array(&dst->mem, k, sizeof *o->many)) ||
            !(o->slots = crdtp_malloc_array(&dst->mem, k,
                                            sizeof *o->slots))) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
        (void)apply_edits(x->many, x->slots, x->ndots, ed, ned, o->many,
                          o->slots);
    }
    if (!covered) { /* a slot's content may be lost: recompute */
        if ((rv = join_slots(dst, t, o->slots, k, &o->val)))
            goto fail;
    } else { /* the value grows by the new slots */
        for (j = 0; j < ned; j++) {
            if (!ed[j].v)
                continue;
            if (nv == 1) {
                void *z = o->z;

                o->z = NULL;
                if ((rv = plain_join(dst, t, z, NULL, &o->z)))
                    goto fail;
                o->z_owned = true;
            }
            if (nv++ == 0)
                o->z = ed[j].v;
            else if ((rv = t->merge(o->z, ed[j].v)))
                goto fail;
        }
    }
    if (ned <= OENT_EDITS) {
        for (j = 0; j < ned; j++)
            o->edi[j] = ed[j];
    } else if (l->p != l->stack) { /* the list's block moves to o */
        o->edh = l->p;
        l->p = l->stack;
    } else {
        if (!(o->edh = crdtp_malloc_array(&dst->mem, ned, sizeof *o->edh))) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
        memcpy(o->edh, ed, ned * sizeof *ed);
    }
    o->ned = ned;
    o->k = k;
    o->what = PATCH;
    return CRDT_OK;
fail:
    patch_free(dst, o);
    return rv;
}

static int merge_plain(crdt_ormap *dst, const crdt_ormap *src,
                       const entry *x, const entry *y, oent *o)
{
    const crdt_type *t = o->e.type;
    size_t nx = x ? x->ndots : 0, k = nx, j;
    edlist l;
    int rv;

    l.p = l.stack;
    l.n = l.adds = l.drops = 0;
    l.cap = EDL_STACK;
    if ((rv = plain_edits(dst, src, t, x, y, &l)))
        goto out;
    if (l.n == 0) {
        o->what = x ? KEEP_X : DROP;
        goto out;
    }
    k = nx + l.adds - l.drops;
    if (k == 0) {
        o->what = DROP;
        goto out;
    }
    /* the new slots: src's copied, or joined with x's */
    for (j = 0; j < l.n && !rv; j++) {
        if (l.p[j].kind == ED_ADD) {
            if (!(l.p[j].v = clone_value(dst, t, l.p[j].y)))
                rv = CRDT_ERR_NOMEM;
        } else if (l.p[j].kind == ED_SET) {
            rv = plain_join(dst, t, slot_of(x, l.p[j].at), l.p[j].y,
                            &l.p[j].v);
        }
    }
    if (!rv)
        rv = nx >= 2 && k >= 2 ? plain_patch(dst, x, &l, k, o)
                               : plain_build(dst, x, l.p, l.n, k, o);
    if (rv)
        for (j = 0; j < l.n; j++)
            if (l.p[j].v)
                t->destroy(l.p[j].v);
out:
    if (l.p != l.stack)
        crdtp_free(&dst->mem, l.p);
    return rv;
}

static int merge_causal(crdt_ormap *dst, const crdt_ormap *src,
                        const entry *x, const entry *y, oent *o)
{
    const crdt_type *t = o->e.type;
    const crdtp_dotstore *ds = o->e.ds;
    entry *e = &o->e;
    size_t na = x ? x->ndots : 0, nb = y ? y->ndots : 0, k;
    crdt_dot stack[8], *buf = stack;
    void *v = NULL;
    bool alias = false;
    int rv = CRDT_OK;

    if (na + nb > sizeof stack / sizeof stack[0] &&
        !(buf = crdtp_malloc_array(&dst->mem, na + nb, sizeof *buf)))
        return CRDT_ERR_NOMEM;
    k = survivors(x ? dots_of(x) : NULL, na, &dst->ctx,
                  y ? dots_of(y) : NULL, nb, &src->ctx, buf);
    if (x && y && t->equal(x->val, y->val))
        alias = true;
    else if (x && y)
        rv = causal_join(dst, t, ds, x->val, &dst->ctx, y->val, &src->ctx, &v);
    else if (x && !ctx_meets(ds->ctx(x->val), &src->ctx))
        alias = true;
    else if (x)
        rv = causal_join(dst, t, ds, x->val, &dst->ctx, NULL, &src->ctx, &v);
    else if (!ctx_meets(ds->ctx(y->val), &dst->ctx)) {
        if (!(v = clone_value(dst, t, y->val)))
            rv = CRDT_ERR_NOMEM;
    } else
        rv = causal_join(dst, t, ds, NULL, &dst->ctx, y->val, &src->ctx, &v);
    if (rv)
        goto out;
    if (alias && k == na && !memcmp(buf, dots_of(x), k * sizeof *buf)) {
        o->what = KEEP_X;
        goto out;
    }
    if (k == 0 && ctx_empty(ds->ctx(alias ? x->val : v))) {
        o->what = DROP;
        goto out;
    }
    if ((rv = set_dots(&dst->mem, e, buf, k)))
        goto out;
    e->val = alias ? x->val : v;
    o->val_alias = alias;
    v = NULL;
    o->what = BUILT;
out:
    if (v)
        t->destroy(v);
    if (buf != stack)
        crdtp_free(&dst->mem, buf);
    return rv;
}

/* Fills out entry o with what the merge makes of the key of x (dst side,
 * may be NULL, index xi) and y (src side, may be NULL); on error o owns
 * nothing.  Inlined in both merges: called out of line, the full pass
 * over 1,000 keys took 3% more instructions. */
static ORMAP_INLINE int
merge_entry(crdt_ormap *dst, const crdt_ormap *src, const entry *x,
            size_t xi, const entry *y, oent *o)
{
    const entry *z = x ? x : y;
    int rv;

    entry_init(&o->e);
    o->e.type = z->type;
    o->e.ds = z->ds;
    o->from = x ? xi : SIZE_MAX;
    o->what = DROP;
    o->key_alias = o->val_alias = false;
    rv = z->ds ? merge_causal(dst, src, x, y, o)
               : merge_plain(dst, src, x, y, o);
    if (rv || o->what != BUILT)
        return rv;
    o->e.klen = z->klen;
    if (x) {
        o->e.key = x->key;
        o->key_alias = true;
    } else if ((rv = copy_key(&dst->mem, y->key, y->klen, &o->e.key))) {
        oent_clear(dst, o);
    }
    return rv;
}

/* Gives each PATCH whose value grows by z its new value: a copy of x's
 * joined with z, except for one, whose z is joined into x's value in
 * place, as the last step of the merge that can fail (a type's failed
 * merge changes nothing); so a delta's merge never copies the value.
 * Call after everything else that can fail. */
static int settle_values(crdt_ormap *dst, oent *out, size_t n)
{
    size_t i, last = SIZE_MAX;
    int rv;

    for (i = 0; i < n; i++)
        if (out[i].what == PATCH && out[i].z)
            last = i;
    for (i = 0; i < n; i++) {
        const entry *x;

        if (out[i].what != PATCH || !out[i].z || i == last)
            continue;
        x = &dst->ents[out[i].from];
        if ((rv = plain_join(dst, x->type, x->val, out[i].z, &out[i].val)))
            return rv;
    }
    if (last == SIZE_MAX)
        return CRDT_OK;
    return out[last].e.type->merge(dst->ents[out[last].from].val,
                                   out[last].z);
}

/* Commits PATCH o to x: x's dropped and replaced slots go, the new ones
 * move in, the value is replaced if o holds a new one.  Cannot fail. */
static void patch_commit(const crdt_ormap *dst, entry *x, oent *o)
{
    const crdt_type *t = x->type;
    pedit *ed = oent_edits(o);
    size_t j;

    for (j = 0; j < o->ned; j++)
        if (ed[j].kind != ED_ADD)
            t->destroy(x->slots[ed[j].at]);
    if (o->many) {
        crdtp_free(&dst->mem, x->many);
        crdtp_free(&dst->mem, x->slots);
        x->many = o->many;
        x->slots = o->slots;
        o->many = NULL;
        o->slots = NULL;
    } else {
        (void)apply_edits(x->many, x->slots, x->ndots, ed, o->ned, x->many,
                          x->slots);
    }
    for (j = 0; j < o->ned; j++)
        ed[j].v = NULL; /* x's now */
    x->ndots = o->k;
    if (o->val) {
        t->destroy(x->val);
        x->val = o->val;
        o->val = NULL;
    }
    patch_free(dst, o);
    o->ned = 0;
}

/* ----------------------------------------------------------- small merges */

/* Whether entry p is its key's only entry (one type), so that the live
 * index changes at p alone when it comes, goes or changes presence. */
static bool lone(const crdt_ormap *m, size_t p)
{
    const entry *e = &m->ents[p];

    return (p == 0 || cmp_key(m->ents[p - 1].key, m->ents[p - 1].klen,
                              e->key, e->klen) != 0) &&
           (p + 1 >= m->len || cmp_key(m->ents[p + 1].key,
                                       m->ents[p + 1].klen, e->key,
                                       e->klen) != 0);
}

/* The first position in live at or after entry p. */
static size_t live_at(const crdt_ormap *m, size_t p)
{
    size_t lo = 0, hi = m->nlive;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->live[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Lone entry p becomes present (shown) or stops being so. */
static void live_flip(crdt_ormap *m, size_t p, bool present)
{
    size_t li = live_at(m, p);

    if (present) {
        memmove(m->live + li + 1, m->live + li,
                (m->nlive - li) * sizeof *m->live);
        m->live[li] = p;
        m->nlive++;
    } else {
        memmove(m->live + li, m->live + li + 1,
                (m->nlive - li - 1) * sizeof *m->live);
        m->nlive--;
    }
}

/* Lone entry p (present or not) is about to leave the array. */
static void live_erase(crdt_ormap *m, size_t p, bool present)
{
    size_t li;

    if (present)
        live_flip(m, p, false);
    for (li = live_at(m, p); li < m->nlive; li++)
        m->live[li]--;
}

/* Lone entry p has just come into the array. */
static void live_insert(crdt_ormap *m, size_t p, bool present)
{
    size_t li;

    for (li = live_at(m, p); li < m->nlive; li++)
        m->live[li]++;
    if (present)
        live_flip(m, p, true);
}

/* A merge takes the small path when src has at most SMALL_ENTS entries
 * and either dst has fewer than SMALL_MIN_LEN (every entry is visited, as
 * in the full pass, but the result is written in place) or src has at
 * most SMALL_DOTS dots in its context (a delta, or a few gathered: the
 * entries they touch are found through the dot index).  The dot index is
 * built at the second such merge into a map that has none, so a one-off
 * merge into a fresh copy never pays it. */
#define SMALL_ENTS 8u
#define SMALL_DOTS 64u
#define SMALL_MIN_LEN 16u
/* Out entries of a small merge on the stack; more take a block. */
#define SMALL_OUT 4u

/* A dst entry the small merge touches, with src's entry of the same key
 * and tag, either absent (SIZE_MAX, NULL). */
typedef struct touch {
    size_t xi;
    const entry *y;
} touch;

/* Adds dst entry xi to w[0..*n) unless there. */
static void touch_x(touch *w, size_t *n, size_t xi)
{
    size_t i;

    for (i = 0; i < *n; i++)
        if (w[i].xi == xi)
            return;
    w[*n].xi = xi;
    w[(*n)++].y = NULL;
}

static const entry *touch_entry(const crdt_ormap *dst, const touch *t)
{
    return t->xi == SIZE_MAX ? t->y : &dst->ents[t->xi];
}

/* The entries of a small src and of a dst under SMALL_MIN_LEN entries,
 * in key order, into w (room for both). */
static size_t touch_all(const crdt_ormap *dst, const crdt_ormap *src,
                        touch *w)
{
    size_t i = 0, j = 0, n = 0;

    while (i < dst->len || j < src->len) {
        const entry *x = i < dst->len ? &dst->ents[i] : NULL;
        const entry *y = j < src->len ? &src->ents[j] : NULL;
        int c = !x ? 1 : !y ? -1 : cmp_kt(x, y->key, y->klen, y->type->tag);

        w[n].xi = c <= 0 ? i : SIZE_MAX;
        w[n++].y = c >= 0 ? y : NULL;
        i += c <= 0;
        j += c >= 0;
    }
    return n;
}

/* The dst entries that can change when a small src (few entries and
 * context dots) merges into a large dst, with src's entries, in key
 * order, into w: src's entries' keys (binary search) and those holding a
 * dot of src's context (the dot index); every other entry is on dst's
 * side only with no dot src's context covers, which the full pass keeps
 * as it is. */
static size_t touch_indexed(const crdt_ormap *dst, const crdt_ormap *src,
                            touch *w)
{
    crdtp_dotwalk dw = crdtp_dotwalk_start(&src->ctx);
    size_t i, k, nw = 0;
    bool found;
    crdt_dot d;

    for (i = 0; i < src->len; i++) {
        const entry *y = &src->ents[i];

        k = search(dst, y->key, y->klen, y->type->tag, &found);
        w[nw].xi = found ? k : SIZE_MAX;
        w[nw++].y = y;
    }
    while (crdtp_dotwalk_next(&dw, &d)) {
        const dix_slot *s;

        if (!crdtp_dotctx_contains(&dst->ctx, d.actor, d.counter) ||
            !(s = dix_find(&dst->dix, d)))
            continue;
        k = search(dst, s->key, s->klen, s->tag, &found);
        if (found) /* always: the index names dst's entries */
            touch_x(w, &nw, k);
    }
    /* key order, as the full pass (insertion sort: a few items) */
    for (i = 1; i < nw; i++) {
        touch t = w[i];
        const entry *e = touch_entry(dst, &t);

        for (k = i; k > 0; k--) {
            const entry *f = touch_entry(dst, &w[k - 1]);

            if (cmp_kt(f, e->key, e->klen, e->type->tag) <= 0)
                break;
            w[k] = w[k - 1];
        }
        w[k] = t;
    }
    return nw;
}

/* The merge of a small src into dst that only visits the entries that can
 * change (touch_all, touch_indexed), merges them by merge_entry as the
 * full pass does, and writes the result back in place.  Sets *done =
 * false, changing nothing, when the path does not apply. */
static int merge_small(crdt_ormap *dst, const crdt_ormap *src, bool *done)
{
    touch w[SMALL_ENTS + SMALL_DOTS];
    oent stack[SMALL_OUT], *out = stack;
    size_t i, j, k, nw = 0, nout = 0, grow = 0, ins = 0;
    bool found, built = false, relive = false;
    const dotctx *c = &src->ctx;
    int rv;

    *done = false;
    if (src->len > SMALL_ENTS || c->dirty)
        return CRDT_OK;
    if (dst->len < SMALL_MIN_LEN) {
        nw = touch_all(dst, src, w);
    } else {
        if (ctx_count(c) > SMALL_DOTS)
            return CRDT_OK;
        if (!dst->dix.s) {
            if (dst->small < 1) {
                dst->small++;
                return CRDT_OK;
            }
            if (dix_build(dst) != CRDT_OK)
                return CRDT_OK; /* the full pass may still succeed */
            built = true;
        }
        nw = touch_indexed(dst, src, w);
    }
    *done = true;
    if (nw > SMALL_OUT &&
        !(out = crdtp_malloc_array(&dst->mem, nw, sizeof *out))) {
        rv = CRDT_ERR_NOMEM;
        goto fail;
    }
    for (i = 0; i < nw; i++) {
        size_t xi = w[i].xi;
        const entry *x = xi == SIZE_MAX ? NULL : &dst->ents[xi];
        oent *o = &out[i];

        if ((rv = merge_entry(dst, src, x, xi, w[i].y, o)))
            goto fail;
        nout++;
        if (o->what == BUILT) {
            size_t dn = entry_dot_count(&o->e);

            if (dn > SIZE_MAX / 4 - grow) {
                rv = CRDT_ERR_NOMEM;
                goto fail;
            }
            grow += dn;
            ins += x == NULL;
        } else if (o->what == PATCH && dst->dix.s) {
            const pedit *ed = oent_edits(o);

            for (j = 0; j < o->ned; j++)
                grow += ed[j].kind == ED_ADD;
        }
    }
    /* everything that can fail, before anything changes; the values that
     * grow in place last */
    if ((rv = crdtp_dotctx_join_prepare(&dst->ctx, &dst->mem, c)) ||
        (dst->dix.s && (rv = dix_reserve(dst, grow))))
        goto fail;
    if (dst->len + ins > dst->cap) {
        size_t cap = crdtp_grow_cap(dst->cap, dst->len + ins);
        size_t *l = crdtp_realloc_array(&dst->mem, dst->live, cap,
                                        sizeof *l);
        entry *q;

        if (!l) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
        dst->live = l; /* more room, same contents: not a change */
        if (!(q = crdtp_realloc_array(&dst->mem, dst->ents, cap,
                                      sizeof *q))) {
            rv = CRDT_ERR_NOMEM;
            goto fail;
        }
        dst->ents = q; /* likewise */
        dst->cap = cap;
    }
    if ((rv = settle_values(dst, out, nw)))
        goto fail;
    /* commit: the context, then the old dots out of the index, then the
     * entries from the last (earlier positions stay valid) */
    crdtp_dotctx_join_apply(&dst->ctx, &dst->mem, c);
    for (i = 0; dst->dix.s && i < nw; i++) { /* the dots lost */
        const oent *o = &out[i];

        if (o->what == PATCH) {
            const pedit *ed = oent_edits(&out[i]);

            for (j = 0; j < o->ned; j++)
                if (ed[j].kind == ED_DROP)
                    dix_del(&dst->dix, ed[j].d);
        } else if (o->what != KEEP_X && w[i].xi != SIZE_MAX) {
            dotset xs = dotset_of(&dst->ents[w[i].xi]);
            dotset es = o->what == BUILT ? dotset_of(&o->e) : xs;

            dix_set(&dst->dix, &xs, o->what == BUILT ? &es : NULL, NULL);
        }
    }
    for (i = 0; dst->dix.s && i < nw; i++) { /* then those gained */
        const oent *o = &out[i];
        const entry *x = w[i].xi == SIZE_MAX ? NULL : &dst->ents[w[i].xi];

        if (o->what == PATCH) {
            const pedit *ed = oent_edits(&out[i]);

            for (j = 0; j < o->ned; j++)
                if (ed[j].kind == ED_ADD)
                    dix_put(&dst->dix, ed[j].d, x);
        } else if (o->what == BUILT) {
            dotset es = dotset_of(&o->e);
            dotset xs = x ? dotset_of(x) : es;

            /* the key buffers stay put when the entries move below */
            dix_set(&dst->dix, &es, x ? &xs : NULL, &o->e);
        }
    }
    for (i = nw; i-- > 0;) {
        size_t p = w[i].xi;
        entry *x = p == SIZE_MAX ? NULL : &dst->ents[p];
        oent *o = &out[i];
        bool was = x && x->ndots, alone = false;

        if (o->what == KEEP_X)
            continue;
        if (o->what == PATCH) { /* x keeps its place and presence */
            patch_commit(dst, x, o);
            continue;
        }
        if (x) {
            alone = lone(dst, p);
            if (o->what == BUILT && o->key_alias)
                x->key = NULL;
            if (o->what == BUILT && o->val_alias)
                x->val = NULL;
            entry_clear(&dst->mem, x);
        }
        if (o->what == DROP) {
            if (x) {
                if (alone)
                    live_erase(dst, p, was);
                else
                    relive = true;
                memmove(x, x + 1, (dst->len - p - 1) * sizeof *x);
                dst->len--;
            }
            continue;
        }
        k = p; /* the entry's position, found below for a new key */
        if (!x) {
            k = search(dst, o->e.key, o->e.klen, o->e.type->tag, &found);
            x = &dst->ents[k];
            memmove(x + 1, x, (dst->len - k) * sizeof *x);
            dst->len++;
        }
        *x = o->e;
        if (p == SIZE_MAX && lone(dst, k))
            live_insert(dst, k, x->ndots > 0);
        else if (p == SIZE_MAX || (was != (x->ndots > 0) && !alone))
            relive = true;
        else if (was != (x->ndots > 0))
            live_flip(dst, p, x->ndots > 0);
    }
    if (relive) /* a key with entries of several types: the slow way */
        reindex(dst);
    if (out != stack)
        crdtp_free(&dst->mem, out);
    return CRDT_OK;
fail:
    for (i = 0; i < nout; i++)
        oent_clear(dst, &out[i]);
    if (out != stack)
        crdtp_free(&dst->mem, out);
    if (built) /* a cache, but one the failed call made: leave none */
        dix_free(&dst->mem, &dst->dix);
    return rv;
}

int crdt_ormap_merge(crdt_ormap *dst, const crdt_ormap *src)
{
    oent *out = NULL;
    entry *ents = NULL;
    size_t i = 0, j = 0, n = 0, m = 0, cap, k, *live = NULL;
    bool done;
    int rv;

    if (!dst || !src)
        return CRDT_ERR_INVALID_ARG;
    if (dst == src)
        return CRDT_OK;
    rv = merge_small(dst, src, &done);
    if (done)
        return rv;
    if (src->len > SIZE_MAX / sizeof(oent) - dst->len)
        return CRDT_ERR_NOMEM;
    cap = dst->len + src->len;
    if (cap && (!(out = crdtp_malloc_array(&dst->mem, cap, sizeof *out)) ||
                !(ents = crdtp_malloc_array(&dst->mem, cap, sizeof *ents)))) {
        rv = CRDT_ERR_NOMEM;
        goto fail;
    }
    if ((rv = alloc_live(&dst->mem, cap, &live)))
        goto fail;
    while (i < dst->len || j < src->len) {
        const entry *x = i < dst->len ? &dst->ents[i] : NULL;
        const entry *y = j < src->len ? &src->ents[j] : NULL;
        int c = !x ? 1 : !y ? -1 : cmp_kt(x, y->key, y->klen, y->type->tag);

        rv = merge_entry(dst, src, c <= 0 ? x : NULL, i, c >= 0 ? y : NULL,
                         &out[n]);
        if (rv)
            goto fail;
        n++;
        i += c <= 0;
        j += c >= 0;
    }
    /* the context, then the values that grow in place: prepare reserves,
     * apply cannot fail */
    if ((rv = crdtp_dotctx_join_prepare(&dst->ctx, &dst->mem, &src->ctx)) ||
        (rv = settle_values(dst, out, n)))
        goto fail;
    crdtp_dotctx_join_apply(&dst->ctx, &dst->mem, &src->ctx);
    /* commit: move what out takes from dst, free the rest */
    for (k = 0; k < n; k++) {
        oent *o = &out[k];
        entry *x = o->from == SIZE_MAX ? NULL : &dst->ents[o->from];

        if (o->what == DROP)
            continue;
        if (o->what == BUILT) {
            ents[m++] = o->e;
            if (o->key_alias)
                x->key = NULL;
            if (o->val_alias)
                x->val = NULL;
            continue;
        }
        if (o->what == PATCH)
            patch_commit(dst, x, o);
        ents[m++] = *x; /* KEEP_X, PATCH: x moves */
        x->key = NULL, x->many = NULL, x->val = NULL, x->slots = NULL;
        x->ndots = 0;
    }
    free_entries(&dst->mem, dst->ents, dst->len);
    crdtp_free(&dst->mem, dst->live);
    crdtp_free(&dst->mem, out);
    dst->ents = ents;
    dst->len = m;
    dst->cap = cap;
    dst->live = live;
    reindex(dst);
    /* entries came and went: the index is rebuilt at the next small
     * merge (small, which counts those, stays) */
    dix_free(&dst->mem, &dst->dix);
    return CRDT_OK;
fail:
    for (k = 0; k < n; k++)
        oent_clear(dst, &out[k]);
    crdtp_free(&dst->mem, out);
    crdtp_free(&dst->mem, ents);
    crdtp_free(&dst->mem, live);
    return rv;
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

/* Adds the n dots at d to c. */
static int ctx_add_all(dotctx *c, const crdt_mem *mem, const crdt_dot *d,
                       size_t n)
{
    size_t i;
    int rv;

    for (i = 0; i < n; i++)
        if ((rv = crdtp_dotctx_add(c, mem, d[i])))
            return rv;
    return CRDT_OK;
}

/* Adds the dots of causal value v (its own context) to c. */
static int ctx_add_value(dotctx *c, const crdt_mem *mem,
                         const crdtp_dotstore *ds, const void *v)
{
    return crdtp_dotctx_join(c, mem, ds->ctx((void *)(uintptr_t)v));
}

/* What update puts in the key's entry: the dots, the value, the slots;
 * built next to the map, installed by update_commit. */
typedef struct upd {
    crdt_dot d;          /* the new dot */
    crdt_dot *dots;      /* ndots >= 2: the entry's new dots */
    size_t ndots;
    void **slots;        /* plain, ndots >= 2: the new slots */
    void *val;           /* the new value (causal) or slot / join (plain) */
    void *u;             /* plain: the updater's new slot */
    dotctx ctx;          /* the map's new context, or (plain) {d} */
    dotctx dctx;         /* the delta's context */
    void *vd;            /* the value delta */
} upd;

static void upd_clear(const crdt_ormap *m, const crdt_type *t, upd *p)
{
    crdtp_free(&m->mem, p->dots);
    crdtp_free(&m->mem, p->slots); /* the others' slots are borrowed */
    if (p->val && p->val != p->u)
        t->destroy(p->val);
    if (p->u)
        t->destroy(p->u);
    if (p->vd)
        t->destroy(p->vd);
    crdtp_dotctx_clear(&p->ctx, &m->mem);
    crdtp_dotctx_clear(&p->dctx, &m->mem);
}

/* Causal values: fn runs on the value (a copy) with the map's context,
 * then the key gets the new dot d, after every dot fn drew. */
static int update_causal(crdt_ormap *m, crdt_actor actor, const entry *e,
                         bool same, const crdt_type *type,
                         const crdtp_dotstore *ds, crdt_ormap_update_fn fn,
                         void *user_data, upd *p)
{
    int rv;

    p->val = same ? clone_value(m, type, e->val) : new_value(m, type);
    if (!p->val || !(p->vd = new_value(m, type)))
        return CRDT_ERR_NOMEM;
    if ((rv = set_ctx(m, ds, p->val, &m->ctx)) ||
        (rv = fn(p->val, p->vd, user_data)))
        return rv;
    if (is_ormap_type(type) &&
        height(p->val, CRDT_ORMAP_MAX_DEPTH) + 1 > CRDT_ORMAP_MAX_DEPTH)
        return CRDT_ERR_LIMIT;
    crdtp_dotctx_compact(ds->ctx(p->val));
    crdtp_dotctx_compact(ds->ctx(p->vd));
    if ((rv = crdtp_dotctx_peek_dot(ds->ctx(p->val), actor, &p->d)))
        return rv;
    /* the map's new context: the value's (C and fn's dots) and d */
    crdtp_dotctx_swap(&p->ctx, ds->ctx(p->val));
    if ((rv = crdtp_dotctx_join(&p->ctx, &m->mem, &m->ctx)) ||
        /* (fn may have replaced the value's context) */
        (rv = crdtp_dotctx_add(&p->ctx, &m->mem, p->d)) ||
        (rv = normalize(m, ds, p->val)))
        return rv;
    /* the delta's context: the value delta's, d, the superseded dots */
    crdtp_dotctx_swap(&p->dctx, ds->ctx(p->vd));
    if ((rv = normalize(m, ds, p->vd)) ||
        (rv = crdtp_dotctx_add(&p->dctx, &m->mem, p->d)))
        return rv;
    p->ndots = 1;
    return CRDT_OK;
}

/* Plain values: fn runs on a copy of the key's value; the actor's slots
 * are replaced by the slot d holding them joined with the value delta. */
static int update_plain(crdt_ormap *m, crdt_actor actor, const entry *e,
                        bool same, const crdt_type *type,
                        crdt_ormap_update_fn fn, void *user_data, upd *p)
{
    size_t i, k = 0, pos, n = same ? e->ndots : 0;
    void *w;
    int rv;

    w = same ? clone_value(m, type, e->val) : new_value(m, type);
    if (!w || !(p->vd = new_value(m, type)) ||
        !(p->u = new_value(m, type))) {
        if (w)
            type->destroy(w);
        return CRDT_ERR_NOMEM;
    }
    rv = fn(w, p->vd, user_data);
    type->destroy(w); /* the value is rebuilt from the slots */
    if (rv || (rv = crdtp_dotctx_peek_dot(&m->ctx, actor, &p->d)) ||
        (rv = crdtp_dotctx_add(&p->ctx, &m->mem, p->d)) ||
        (rv = crdtp_dotctx_join_prepare(&m->ctx, &m->mem, &p->ctx)) ||
        (rv = crdtp_dotctx_add(&p->dctx, &m->mem, p->d)))
        return rv;
    for (i = 0; i < n; i++) { /* the actor's slots: joined, superseded */
        crdt_dot x = dots_of(e)[i];

        if (x.actor != actor)
            continue;
        if ((rv = type->merge(p->u, slot_of(e, i))) ||
            (rv = crdtp_dotctx_add(&p->dctx, &m->mem, x)))
            return rv;
        k++;
    }
    if ((rv = type->merge(p->u, p->vd)))
        return rv;
    p->ndots = n - k + 1;
    if (p->ndots == 1) {
        p->val = p->u;
        return CRDT_OK;
    }
    p->dots = crdtp_malloc_array(&m->mem, p->ndots, sizeof *p->dots);
    p->slots = crdtp_malloc_array(&m->mem, p->ndots, sizeof *p->slots);
    if (!p->dots || !p->slots)
        return CRDT_ERR_NOMEM;
    for (i = 0, k = 0, pos = 0; i < n; i++) { /* the others, sorted */
        crdt_dot x = dots_of(e)[i];

        if (x.actor == actor)
            continue;
        if (dot_cmp(x, p->d) < 0)
            pos = k + 1;
        p->dots[k] = x;
        p->slots[k++] = slot_of(e, i);
    }
    memmove(p->dots + pos + 1, p->dots + pos, (k - pos) * sizeof *p->dots);
    memmove(p->slots + pos + 1, p->slots + pos, (k - pos) * sizeof *p->slots);
    p->dots[pos] = p->d;
    p->slots[pos] = p->u;
    /* the key's value: the join of the slots */
    return join_slots(m, type, p->slots, p->ndots, &p->val);
}

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
    const crdtp_dotstore *ds;
    uint8_t *kc = NULL;
    entry *e = NULL, de, ke;
    crdt_ormap dm;
    bool found, same, shown;
    size_t i, k;
    upd p;
    int rv;

    if (!m || !type || !fn || (!key && klen) || delta == m ||
        (uint64_t)klen > CRDT_ORMAP_MAX_KEY_BYTES ||
        crdt_type_check(type) != CRDT_OK)
        return CRDT_ERR_INVALID_ARG;
    if ((e = (entry *)shown_entry(m, key, klen)) &&
        e->type->tag != type->tag)
        return CRDT_ERR_TYPE;
    i = search(m, key, klen, type->tag, &found);
    e = found ? &m->ents[i] : NULL;
    shown = e && e->ndots > 0;
    same = found;
    ds = dotstore_of(type);
    memset(&p, 0, sizeof p);
    crdtp_dotctx_init(&p.ctx);
    crdtp_dotctx_init(&p.dctx);
    rv = ds ? update_causal(m, actor, e, same, type, ds, fn, user_data, &p)
            : update_plain(m, actor, e, same, type, fn, user_data, &p);
    if (rv)
        goto out;
    /* the superseded dots: the key's (causal: all of them; plain: the
     * actor's, added above) */
    if (ds && e && (rv = ctx_add_all(&p.dctx, &m->mem, dots_of(e),
                                     e->ndots)))
        goto out;
    /* everything that can fail, before anything changes */
    if (!found) {
        if ((rv = copy_key(&m->mem, key, klen, &kc)))
            goto out;
        if (m->len == m->cap) {
            size_t cap = crdtp_grow_cap(m->cap, m->len + 1);
            size_t *l = crdtp_realloc_array(&m->mem, m->live, cap, sizeof *l);
            entry *q;

            if (!l) {
                rv = CRDT_ERR_NOMEM;
                goto out;
            }
            m->live = l; /* more room, same contents: not a change */
            q = crdtp_realloc_array(&m->mem, m->ents, cap, sizeof *q);
            if (!q) {
                rv = CRDT_ERR_NOMEM;
                goto out;
            }
            m->ents = q; /* likewise */
            m->cap = cap;
        }
    }
    if (m->dix.s) { /* room for the entry's new dots */
        size_t nd = p.ndots;

        if (ds && (nd += ctx_count(ds->ctx(p.val))) < p.ndots)
            nd = SIZE_MAX;
        if ((rv = dix_reserve(m, nd)))
            goto out;
    }
    if (delta) {
        entry_init(&de);
        de.key = (uint8_t *)(uintptr_t)key;
        de.klen = klen;
        de.one = p.d;
        de.ndots = 1;
        de.type = type;
        de.ds = ds;
        de.val = ds ? p.vd : p.u;
        delta_init(&dm, m, &de);
        crdtp_dotctx_swap(&dm.ctx, &p.dctx);
        rv = crdt_ormap_merge(delta, &dm);
        crdtp_dotctx_swap(&dm.ctx, &p.dctx);
        if (rv)
            goto out;
    }
    /* commit; the index first, from the old entry and the new pieces */
    if (m->dix.s) {
        dotset o = {NULL, 0, NULL}, n;

        n.d = p.ndots == 1 ? &p.d : p.dots;
        n.n = p.ndots;
        n.v = ds ? ds->ctx(p.val) : NULL;
        if (found) {
            o = dotset_of(e);
            dix_set(&m->dix, &o, &n, NULL);
        }
        ke.key = found ? e->key : kc; /* the buffer the entry will own */
        ke.klen = klen;
        ke.type = type;
        dix_set(&m->dix, &n, found ? &o : NULL, &ke);
    }
    if (ds)
        crdtp_dotctx_swap(&m->ctx, &p.ctx);
    else /* room reserved by update_plain */
        crdtp_dotctx_join_apply(&m->ctx, &m->mem, &p.ctx);
    if (found) {
        if (!ds && same && e->ndots >= 2) {
            /* the others' slots moved to p.slots: destroy the rest */
            for (k = 0; k < e->ndots; k++)
                if (dots_of(e)[k].actor == actor)
                    e->type->destroy(e->slots[k]);
            crdtp_free(&m->mem, e->slots);
            e->slots = NULL;
        } else if (!ds && same && e->ndots == 1 &&
                   dots_of(e)[0].actor != actor) {
            e->val = NULL; /* the one other slot moved to p.slots */
        }
        entry_clear_value(&m->mem, e);
        crdtp_free(&m->mem, e->many);
        e->many = NULL;
    } else {
        memmove(m->ents + i + 1, m->ents + i,
                (m->len - i) * sizeof *m->ents);
        e = &m->ents[i];
        entry_init(e);
        e->key = kc;
        e->klen = klen;
        kc = NULL;
        m->len++;
    }
    e->type = type;
    e->ds = ds;
    e->ndots = p.ndots;
    if (p.ndots == 1)
        e->one = p.d;
    e->many = p.dots;
    e->slots = p.slots;
    e->val = p.val;
    p.dots = NULL;
    p.slots = NULL;
    p.val = NULL;
    p.u = NULL;
    if (!shown)
        reindex(m); /* a new or re-shown key: room reserved above */
out:
    crdtp_free(&m->mem, kc);
    upd_clear(m, type, &p);
    return rv;
}

int crdt_ormap_remove(crdt_ormap *m, const void *key, size_t klen,
                      crdt_ormap *delta)
{
    crdt_ormap dm;
    size_t i, lo, hi;
    int rv = CRDT_OK;

    if (!m || (!key && klen) || delta == m)
        return CRDT_ERR_INVALID_ARG;
    hi = group(m, key, klen, &lo);
    if (lo == hi)
        return CRDT_OK;
    if (delta) { /* the dots of the key's entries and of their values */
        delta_init(&dm, m, NULL);
        for (i = lo; i < hi && !rv; i++) {
            const entry *e = &m->ents[i];

            rv = ctx_add_all(&dm.ctx, &m->mem, dots_of(e), e->ndots);
            if (!rv && e->ds)
                rv = ctx_add_value(&dm.ctx, &m->mem, e->ds, e->val);
        }
        if (!rv)
            rv = crdt_ormap_merge(delta, &dm);
        crdtp_dotctx_clear(&dm.ctx, &m->mem);
        if (rv)
            return rv;
    }
    for (i = lo; i < hi; i++) {
        if (m->dix.s)
            dix_entry(&m->dix, &m->ents[i], false);
        entry_clear(&m->mem, &m->ents[i]);
    }
    memmove(m->ents + lo, m->ents + hi, (m->len - hi) * sizeof *m->ents);
    m->len -= hi - lo;
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
        size_t nv = e->ds ? 1 : e->ndots;

        cw_array(&w, 4);
        cw_bin(&w, e->key, e->klen);
        cw_uint(&w, e->type->tag);
        if (e->ndots < (SIZE_MAX - 10) / DOT_MAX_BYTES)
            cw_reserve(&w, 10 + e->ndots * DOT_MAX_BYTES);
        cw_array(&w, e->ndots);
        for (k = 0; k < e->ndots; k++) {
            cw_array(&w, 2);
            cw_uint(&w, d[k].actor);
            cw_uint(&w, d[k].counter);
        }
        cw_array(&w, nv);
        for (k = 0; k < nv && !w.err; k++)
            if ((rv = e->type->encode(e->ds ? e->val : slot_of(e, k), out)))
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

/* An entry takes at least 9 bytes: 0x94, c4 00, the tag, 90 or 91 and a
 * dot, 91, and a value of at least 3 bytes. */
#define ENTRY_MIN_BYTES 9u
#define DOT_MIN_BYTES 3u
/* MessagePack levels of one map level: envelope, entries, entry, values. */
#define LEVELS_PER_MAP 4u
/* Levels inside the deepest non-map value (orset: envelope, elements,
 * element, dots, dot). */
#define LEVELS_LEAF 5u

static int decode_at(crdt_ormap *dst, const uint8_t *data, size_t len,
                     const crdt_limits *lim, size_t depth,
                     crdt_decode_info *info);

/* Reads one value of type t (tag checked) into *out. */
static int decode_value(const crdt_ormap *tmp, cr *r, size_t depth,
                        const crdt_type *t, void **out)
{
    const uint8_t *v = r->p;
    crdt_decode_info vi;
    size_t vlen, levels;
    uint32_t tag;
    int rv;

    levels = r->lim.max_depth > depth
                 ? LEVELS_PER_MAP * (r->lim.max_depth - depth) + LEVELS_LEAF
                 : LEVELS_LEAF;
    if ((rv = crdtp_cr_skip(r, levels)))
        return rv;
    vlen = (size_t)(r->p - v);
    vi.offset = 0;
    if ((rv = crdtp_decode_header(v, vlen, &tag, &vi)))
        return crdtp_cr_fail_at(r, v + vi.offset, rv);
    if (tag != t->tag)
        return crdtp_cr_fail_at(r, v + crdtp_tag_offset(v), CRDT_ERR_DECODE);
    if (!(*out = new_value(tmp, t)))
        return crdtp_cr_fail_at(r, v, CRDT_ERR_NOMEM);
    vi.offset = 0;
    vi.code = CRDT_ERR_DECODE;
    rv = is_ormap_type(t) ? decode_at(*out, v, vlen, &r->lim, depth + 1, &vi)
                          : t->decode(*out, v, vlen, &r->lim, &vi);
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
    if (n > r->lim.max_elements)
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

/* The decoder's temporary: the map being read, every dot it holds with
 * the offset of its entry (to check that no dot is in two places), and
 * the level the map nests at. */
typedef struct map_tmp {
    crdt_ormap m;
    crdtp_dot_at *all;
    size_t nall, capall;
    size_t depth; /* set by decode_at */
} map_tmp;

static int note_dot(map_tmp *t, crdt_dot d, size_t off)
{
    return crdtp_dot_at_push(&t->all, &t->nall, &t->capall, &t->m.mem, d,
                             off);
}

/* The number of dots in clean c, or SIZE_MAX if it does not fit. */
static size_t ctx_count(const dotctx *c)
{
    size_t i, n = c->ncloud;

    for (i = 0; i < c->vv.len; i++) {
        if (c->vv.counts[i] > SIZE_MAX - n)
            return SIZE_MAX;
        n += (size_t)c->vv.counts[i];
    }
    return n;
}

/* Checks a decoded causal value at v: its dots are in the map's context,
 * its own context is exactly its dots, and the entry is not empty; notes
 * its dots. */
static int check_causal(map_tmp *t, cr *r, const entry *e, const uint8_t *v,
                        size_t off)
{
    crdtp_dotbuf b = {NULL, 0, 0};
    size_t i;
    int rv;

    if ((rv = dots_into(&t->m, e->ds, e->val, &b, false))) {
        crdtp_free(&t->m.mem, b.d); /* what was pushed before the failure */
        return crdtp_cr_fail_at(r, v, rv);
    }
    rv = CRDT_OK;
    if (b.n == 0 && e->ndots == 0)
        rv = crdtp_cr_fail_at(r, r->base + off, CRDT_ERR_DECODE);
    else if (ctx_count(e->ds->ctx(e->val)) != b.n)
        rv = crdtp_cr_fail_at(r, v, CRDT_ERR_DECODE);
    for (i = 0; i < b.n && !rv; i++) {
        if (!crdtp_dotctx_contains(&t->m.ctx, b.d[i].actor, b.d[i].counter))
            rv = crdtp_cr_fail_at(r, v, CRDT_ERR_DECODE);
        else if ((rv = note_dot(t, b.d[i], off)))
            rv = crdtp_cr_fail_at(r, v, rv);
    }
    crdtp_free(&t->m.mem, b.d);
    return rv;
}

/* Reads an entry's values into e (type, ds, dots set). */
static int decode_values(map_tmp *t, cr *r, entry *e, size_t off)
{
    const uint8_t *at = r->p;
    uint32_t n, i;
    int rv;

    if ((rv = crdtp_cr_array(r, &n)))
        return rv;
    if (e->ds ? n != 1 : (n != e->ndots || n == 0))
        return crdtp_cr_fail_at(r, at, CRDT_ERR_DECODE);
    if (e->ds || n == 1) {
        const uint8_t *v = r->p;

        if ((rv = decode_value(&t->m, r, t->depth, e->type, &e->val)))
            return rv;
        return e->ds ? check_causal(t, r, e, v, off) : CRDT_OK;
    }
    if (!(e->slots = crdtp_malloc_array(&t->m.mem, n, sizeof *e->slots)))
        return crdtp_cr_fail_at(r, at, CRDT_ERR_NOMEM);
    for (i = 0; i < n; i++)
        e->slots[i] = NULL;
    for (i = 0; i < n; i++)
        if ((rv = decode_value(&t->m, r, t->depth, e->type, &e->slots[i])))
            return rv;
    if ((rv = plain_view(&t->m, e)))
        return crdtp_cr_fail_at(r, at, rv);
    return CRDT_OK;
}

static inline void dec_init(void *tmp, const void *dst)
{
    map_tmp *t = tmp;

    map_init(&t->m, ((const crdt_ormap *)dst)->reg,
             &((const crdt_ormap *)dst)->mem);
    t->all = NULL;
    t->nall = t->capall = 0;
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    map_tmp *t = tmp;
    crdt_ormap *m = &t->m;
    const uint8_t *at, *key;
    uint32_t n, i, k;
    size_t klen, j;
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
              !(m->live = crdtp_malloc_array(&m->mem, n, sizeof *m->live))))
        return crdtp_cr_fail_at(r, at, CRDT_ERR_NOMEM);
    m->cap = n;
    for (i = 0; i < n; i++) {
        entry *e = &m->ents[i];
        const uint8_t *eat = r->p, *kat, *tat;
        size_t off = (size_t)(eat - r->base);
        uint64_t tag;

        entry_init(e);
        m->len = i + 1; /* cleared on failure */
        if ((rv = crdtp_cr_array(r, &k)))
            return rv;
        if (k != 4)
            return crdtp_cr_fail_at(r, eat, CRDT_ERR_DECODE);
        kat = r->p;
        if ((rv = crdtp_cr_bin(r, &key, &klen)))
            return rv;
        if (i > 0 && cmp_key(m->ents[i - 1].key, m->ents[i - 1].klen, key,
                             klen) > 0)
            return crdtp_cr_fail_at(r, kat, CRDT_ERR_DECODE);
        if ((rv = copy_key(&m->mem, key, klen, &e->key)))
            return crdtp_cr_fail_at(r, kat, rv);
        e->klen = klen;
        tat = r->p;
        if ((rv = cr_uint(r, &tag)))
            return rv;
        if (tag > UINT32_MAX || !(e->type = type_for(m, (uint32_t)tag)))
            return crdtp_cr_fail_at(r, tat, CRDT_ERR_TYPE);
        if (i > 0 && cmp_kt(&m->ents[i - 1], key, klen, (uint32_t)tag) >= 0)
            return crdtp_cr_fail_at(r, tat, CRDT_ERR_DECODE);
        e->ds = dotstore_of(e->type);
        if ((rv = decode_dots(m, r, e)))
            return rv;
        for (j = 0; j < e->ndots; j++)
            if ((rv = note_dot(t, dots_of(e)[j], off)))
                return crdtp_cr_fail_at(r, eat, rv);
        if ((rv = decode_values(t, r, e, off)))
            return rv;
    }
    return CRDT_OK;
}

/* Checks, once the whole input was read, that no dot is in two places
 * (O(D log D) for D dots, bounded by the input length); then installs
 * the map in dst. */
static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    map_tmp *t = tmp;
    size_t i;

    if (t->nall > 1)
        qsort(t->all, t->nall, sizeof *t->all, crdtp_dot_at_cmp);
    for (i = 1; i < t->nall; i++)
        if (dot_cmp(t->all[i - 1].d, t->all[i].d) == 0)
            return crdtp_cr_fail_at(r, r->base + t->all[i].off,
                                    CRDT_ERR_DECODE);
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
    crdtp_free(&t->m.mem, t->all);
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
 * Dot store (nested maps)
 * ====================================================================== */

static dotctx *ds_ctx(void *obj)
{
    return &((crdt_ormap *)obj)->ctx;
}

/* Every dot of m: its keys' and its causal values' (each value's own
 * context, which is exactly its dots). */
static int ds_dots(const void *obj, crdtp_dotbuf *b, const crdt_mem *mem)
{
    const crdt_ormap *m = obj;
    size_t i, k;
    crdt_dot d;
    int rv;

    for (i = 0; i < m->len; i++) {
        const entry *e = &m->ents[i];
        crdtp_dotwalk dw;

        for (k = 0; k < e->ndots; k++)
            if ((rv = crdtp_dotbuf_push(b, mem, dots_of(e)[k])))
                return rv;
        if (!e->ds)
            continue;
        dw = crdtp_dotwalk_start(e->ds->ctx(e->val));
        while (crdtp_dotwalk_next(&dw, &d))
            if ((rv = crdtp_dotbuf_push(b, mem, d)))
                return rv;
    }
    return CRDT_OK;
}

static const crdtp_dotstore ormap_dotstore = {ds_ctx, ds_dots};

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
