/* SPDX-License-Identifier: MIT */
/*
 * The delta log and the per-origin summaries of the fast path.
 *
 * A delta's id is (origin, seq): the write actor of the node that made it
 * and that node's sequence number, 1, 2, ...  For each origin the node
 * keeps what it has seen as a prefix (every seq <= prefix) and a 64-bit
 * window of the seqs after it, which is what its summaries send; a seq
 * more than 64 past the prefix slides the window, taking the oldest
 * missing seqs as seen (they are long gone from every log; repair covers
 * them).
 *
 * Logged deltas sit in a FIFO (logging order) for expiry and in their
 * origin's array (ascending seq) for answering summaries: for each origin
 * in a peer's summary range, the entries past the peer's prefix that its
 * window lacks.  Each entry is one allocation holding its bytes.
 *
 * Origins are a sorted array (binary search; insertion moves the tail),
 * so that a summary range [lo, hi] is a contiguous run.  They number about
 * the writers active in the last log window.
 */
#include "config.h"

#include <string.h>

#include "gossip_internal.h"
#include "mem_internal.h"

void gp_log_init(gp_log *l, const crdt_mem *mem)
{
    memset(l, 0, sizeof *l);
    crdtp_mem_set(&l->mem, mem);
}

void gp_log_clear(gp_log *l)
{
    size_t i;

    for (i = 0; i < l->count; i++)
        crdtp_free(&l->mem, l->fifo[(l->head + i) % l->cap]);
    for (i = 0; i < l->norigins; i++)
        crdtp_free(&l->mem, l->origins[i].ents);
    crdtp_free(&l->mem, l->fifo);
    crdtp_free(&l->mem, l->origins);
    memset(l, 0, offsetof(gp_log, mem));
}

unsigned gp_entry_age(const gp_entry *e, uint64_t round)
{
    uint64_t a = e->age + (round > e->round ? round - e->round : 0);

    return a > 255 ? 255 : (unsigned)a;
}

gp_entry *gp_entry_new(const crdt_mem *mem, uint64_t origin, uint64_t seq,
                       uint32_t key, uint64_t round, unsigned age,
                       uint64_t from, const uint8_t *data, size_t len)
{
    gp_entry *e;

    if (len > UINT32_MAX || len > SIZE_MAX - sizeof *e)
        return NULL;
    e = crdtp_malloc(mem, sizeof *e + len);
    if (!e)
        return NULL;
    e->origin = origin;
    e->seq = seq;
    e->round = round;
    e->from = from;
    e->key = key;
    e->len = (uint32_t)len;
    e->age = (uint8_t)(age > 255 ? 255 : age);
    memcpy(e->bytes, data, len);
    return e;
}

/* Index of the first origin >= o. */
static size_t origin_lb(const gp_log *l, uint64_t o)
{
    size_t a = 0, b = l->norigins;

    while (a < b) {
        size_t m = a + (b - a) / 2;

        if (l->origins[m].origin < o)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

/* The last origin found is remembered: a delta's origin is looked up to
 * test it, to make room for it and to log it. */
gp_origin *gp_log_origin(gp_log *l, uint64_t origin)
{
    size_t i = l->memo;

    if (i < l->norigins && l->origins[i].origin == origin)
        return &l->origins[i];
    i = origin_lb(l, origin);
    if (i < l->norigins && l->origins[i].origin == origin) {
        l->memo = i;
        return &l->origins[i];
    }
    return NULL;
}

bool gp_origin_covers(uint64_t prefix, uint64_t bits, uint64_t seq)
{
    return seq <= prefix ||
           (seq - prefix <= 64 && (bits >> (seq - prefix - 1)) & 1);
}

bool gp_log_seen(gp_log *l, uint64_t origin, uint64_t seq)
{
    const gp_origin *o = gp_log_origin(l, origin);

    return o && gp_origin_covers(o->prefix, o->bits, seq);
}

int gp_log_reserve(gp_log *l, uint64_t origin)
{
    gp_origin *o = gp_log_origin(l, origin);

    if (!o && l->norigins == l->ocap) {
        size_t cap = crdtp_grow_cap(l->ocap, l->norigins + 1);
        gp_origin *n = crdtp_realloc_array(&l->mem, l->origins, cap,
                                           sizeof *n);

        if (!n)
            return CRDT_ERR_NOMEM;
        l->origins = n;
        l->ocap = cap;
    }
    if (l->count == l->cap) {
        size_t cap = crdtp_grow_cap(l->cap, l->count + 1), i;
        gp_entry **f = crdtp_malloc_array(&l->mem, cap, sizeof *f);

        if (!f)
            return CRDT_ERR_NOMEM;
        for (i = 0; i < l->count; i++)
            f[i] = l->fifo[(l->head + i) % l->cap];
        crdtp_free(&l->mem, l->fifo);
        l->fifo = f;
        l->head = 0;
        l->cap = cap;
    }
    if (o && o->off + o->nents == o->cap) {
        gp_entry **e;
        uint32_t cap = o->cap;

        if (o->off > o->nents) {
            /* slide the live part down instead of growing */
            memmove(o->ents, o->ents + o->off, o->nents * sizeof *o->ents);
            o->off = 0;
            return CRDT_OK;
        }
        if (cap > UINT32_MAX / 2)
            return CRDT_ERR_LIMIT;
        cap = cap ? 2 * cap : 4;
        e = crdtp_realloc_array(&l->mem, o->ents, cap, sizeof *e);
        if (!e)
            return CRDT_ERR_NOMEM;
        o->ents = e;
        o->cap = cap;
    } else if (!o) {
        /* the new origin's first entry array */
        gp_entry **e = crdtp_malloc_array(&l->mem, 4, sizeof *e);
        size_t i = origin_lb(l, origin);

        if (!e)
            return CRDT_ERR_NOMEM;
        memmove(&l->origins[i + 1], &l->origins[i],
                (l->norigins - i) * sizeof *l->origins);
        memset(&l->origins[i], 0, sizeof l->origins[i]);
        l->origins[i].origin = origin;
        l->origins[i].ents = e;
        l->origins[i].cap = 4;
        l->norigins++;
    }
    return CRDT_OK;
}

static void mark(gp_origin *o, uint64_t seq, uint64_t round)
{
    if (round > o->last_round)
        o->last_round = round;
    if (gp_origin_covers(o->prefix, o->bits, seq))
        return;
    if (seq - o->prefix > 64) {
        /* slide the window so that seq is its last bit */
        uint64_t shift = seq - o->prefix - 64;

        o->bits = shift >= 64 ? 0 : o->bits >> shift;
        o->prefix += shift;
    }
    o->bits |= (uint64_t)1 << (seq - o->prefix - 1);
    while (o->bits & 1) {
        o->bits >>= 1;
        o->prefix++;
    }
}

int gp_log_mark_seen(gp_log *l, uint64_t origin, uint64_t seq,
                     uint64_t round)
{
    gp_origin *o;
    int rv = gp_log_reserve(l, origin);

    if (rv)
        return rv;
    o = gp_log_origin(l, origin);
    mark(o, seq, round);
    return CRDT_OK;
}

void gp_log_append(gp_log *l, gp_entry *e)
{
    gp_origin *o = gp_log_origin(l, e->origin);
    uint32_t i;

    gp_entry **v = o->ents + o->off;

    mark(o, e->seq, e->round);
    /* insert by seq (usually at the end) */
    for (i = o->nents; i > 0 && v[i - 1]->seq > e->seq; i--)
        v[i] = v[i - 1];
    v[i] = e;
    o->nents++;
    l->fifo[(l->head + l->count) % l->cap] = e;
    l->count++;
    l->bytes += sizeof *e + e->len;
}

static void unlink_entry(gp_log *l, gp_entry *e)
{
    gp_origin *o = gp_log_origin(l, e->origin);
    uint32_t i;

    if (o && o->nents) {
        gp_entry **v = o->ents + o->off;

        if (v[0] == e) {
            /* the usual case: the origin's oldest goes first */
            o->off++;
            o->nents--;
        } else {
            for (i = 0; i < o->nents && v[i] != e; i++)
                ;
            if (i < o->nents) {
                memmove(&v[i], &v[i + 1], (o->nents - i - 1) * sizeof *v);
                o->nents--;
            }
        }
        if (!o->nents)
            o->off = 0;
    }
    l->bytes -= sizeof *e + e->len;
    crdtp_free(&l->mem, e);
}

size_t gp_log_trim(gp_log *l, size_t max_bytes)
{
    size_t freed = 0;

    while (l->count && l->bytes > max_bytes) {
        gp_entry *e = l->fifo[l->head];

        l->head = (l->head + 1) % l->cap;
        l->count--;
        unlink_entry(l, e);
        freed++;
    }
    return freed;
}

size_t gp_log_expire(gp_log *l, uint64_t min_round, size_t max_bytes,
                     uint64_t forget_before, size_t *evicted)
{
    size_t freed = 0, ev = 0, i, j;

    while (l->count) {
        gp_entry *e = l->fifo[l->head];
        bool old = e->round < min_round, over = l->bytes > max_bytes;

        if (!old && !over)
            break;
        l->head = (l->head + 1) % l->cap;
        l->count--;
        unlink_entry(l, e);
        freed++;
        if (!old)
            ev++;
    }
    /* forget idle origins with nothing logged */
    for (i = j = 0; i < l->norigins; i++) {
        gp_origin *o = &l->origins[i];

        if (o->nents == 0 && o->last_round < forget_before) {
            crdtp_free(&l->mem, o->ents);
            continue;
        }
        if (i != j)
            l->origins[j] = *o;
        j++;
    }
    l->norigins = j;
    if (evicted)
        *evicted = ev;
    return freed;
}
