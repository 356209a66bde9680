/* SPDX-License-Identifier: MIT */
/*
 * Gossip datagrams: the envelope, packing items into datagrams, and the
 * checked parse of every kind (gossip_wire.h lists them).
 *
 * Parsing is strict and allocation-bounded: the MessagePack pull reader
 * (mpread.c) accepts only shortest forms and checks every declared count
 * against the bytes left, so the arrays parse allocates are bounded by
 * the datagram's length, and every state is decoded (with the node's
 * limits) before any of them is applied.
 */
#include "config.h"

#include <string.h>

#include "gossip_wire.h"
#include "mem_internal.h"

/* ======================================================================
 * Building
 * ====================================================================== */

size_t gp_envelope_init(crdt_gossip *g)
{
    uint8_t *q = g->env;

    q = cw_put_uint(q, CRDT_GOSSIP_WIRE_VERSION);
    q = cw_put_uint(q, g->cluster_id);
    q = cw_put_uint(q, g->node_id);
    q = cw_put_uint(q, g->incarnation);
    return (size_t)(q - g->env);
}

void gp_begin(crdt_gossip *g, int kind, unsigned nbody, cw *w)
{
    uint8_t *q;

    crdt_buf_reset(&g->out);
    w->buf = &g->out;
    w->start = 0;
    w->err = 0;
    msgpack_packer_init(&w->pk, w, cw_write_cb);
    /* the array header, the node's fixed fields, the kind */
    q = cw_span(w, GP_ENVELOPE_MAX);
    if (!q)
        return; /* w->err: the writes that follow fail, cw_end reports */
    q = cw_put_array(q, 5 + nbody);
    memcpy(q, g->env, g->envlen);
    q = cw_put_uint(q + g->envlen, (uint64_t)kind);
    cw_commit(w, q);
}

void gp_pack_init(gp_packer *p, crdt_gossip *g, uint64_t to, int kind,
                  unsigned budget)
{
    memset(p, 0, sizeof *p);
    p->g = g;
    p->to = to;
    p->kind = kind;
    p->budget = budget;
    /* crdt_buf_init, inline: a packer is set up for every summary and
     * most pack nothing */
    p->items.mem = g->mem;
}

void gp_pack_clear(gp_packer *p)
{
    if (p->items.data)
        crdt_buf_clear(&p->items);
}

uint32_t gp_sum32(uint64_t sum, uint64_t salt)
{
    uint64_t x = sum ^ salt;

    return (uint32_t)(crdtp_splitmix(&x) >> 32);
}

/* Bytes of the datagram for n items of `bytes`: envelope, the STATES
 * flag or the TREE salt, the array header. */
static size_t dgram_size(const gp_packer *p, uint32_t n, size_t bytes)
{
    size_t hdr = n < 16 ? 1 : n <= 0xffff ? 3 : 5;

    return GP_ENVELOPE_MAX + (p->kind == CRDT_GOSSIP_STATES) +
           (p->kind == CRDT_GOSSIP_TREE ? CW_UINT_MAX : 0) + hdr + bytes;
}

static int flush(gp_packer *p, size_t nbytes, uint32_t n, bool last_more)
{
    crdt_gossip *g = p->g;
    uint8_t *q;
    cw w;
    int rv;

    gp_begin(g, p->kind,
             p->kind == CRDT_GOSSIP_STATES || p->kind == CRDT_GOSSIP_TREE
                 ? 2
                 : 1,
             &w);
    q = cw_span(&w, CW_UINT_MAX + CW_HDR_MAX + nbytes);
    if (q) {
        if (p->kind == CRDT_GOSSIP_STATES)
            *q++ = last_more ? 0xc3 : 0xc2;
        else if (p->kind == CRDT_GOSSIP_TREE)
            q = cw_put_uint(q, p->salt);
        q = cw_put_array(q, n);
        if (nbytes)
            memcpy(q, p->items.data, nbytes);
        cw_commit(&w, q + nbytes);
    }
    if ((rv = cw_end(&w)))
        return rv;
    p->sent++;
    return gp_send(g, p->to, p->kind);
}

bool gp_pack_item_begin(gp_packer *p, cw *w)
{
    if (p->full || p->err)
        return false;
    p->mark = p->items.len;
    w->buf = &p->items;
    w->start = p->items.len;
    w->err = 0;
    msgpack_packer_init(&w->pk, w, cw_write_cb);
    return true;
}

void gp_pack_item_end(gp_packer *p, cw *w)
{
    size_t max = p->g->max_datagram, item;
    int rv;

    if ((rv = cw_end(w))) {
        p->err = rv;
        return;
    }
    item = p->items.len - p->mark;
    if (p->n == 0 || dgram_size(p, p->n + 1, p->items.len) <= max) {
        p->n++;
        return;
    }
    /* the new item does not fit: send the others, keep it */
    if (p->sent + 1 >= p->budget) {
        /* no datagram left for the item: drop it, stop */
        p->items.len = p->mark;
        p->full = true;
        return;
    }
    if ((rv = flush(p, p->mark, p->n, false))) {
        p->err = rv;
        return;
    }
    memmove(p->items.data, p->items.data + p->mark, item);
    p->items.len = item;
    p->n = 1;
}

int gp_pack_finish(gp_packer *p)
{
    int rv = p->err;

    if (!rv && p->n)
        rv = flush(p, p->items.len, p->n, p->more || p->full);
    p->n = 0;
    p->items.len = 0;
    return rv;
}

/* ======================================================================
 * Parsing
 * ====================================================================== */

/* Inline fast paths of the reader for what datagrams are made of (small
 * arrays, integers, short bins); anything else, and every error, goes to
 * mpread.c, which records it.  Forced inline: a call costs more than
 * they do. */
#if defined(__GNUC__)
#define RD_INLINE static inline __attribute__((always_inline))
#else
#define RD_INLINE static inline
#endif

RD_INLINE int rd_array(cr *r, uint32_t *n)
{
    const uint8_t *p = r->p;

    if (!r->err && p < r->end && (*p & 0xf0) == 0x90 &&
        (size_t)(*p & 0x0f) < (size_t)(r->end - p)) {
        *n = *p & 0x0f;
        r->p = p + 1;
        return CRDT_OK;
    }
    return crdtp_cr_array(r, n);
}

RD_INLINE int rd_uint(cr *r, uint64_t *v)
{
    const uint8_t *p = r->p, *q;

    if (!r->err && p < r->end) {
        uint8_t b = *p;

        if (b < 0x80) {
            *v = b;
            r->p = p + 1;
            return CRDT_OK;
        }
        /* 0xcc..0xcf: 1, 2, 4 or 8 bytes follow (the last integers of
         * a datagram have fewer than 9 bytes after them) */
        if (b >= 0xcc && b <= 0xcf &&
            (size_t)(r->end - p) > ((size_t)1 << (b - 0xcc)) &&
            (q = cr_fast_uint(p, v)) != NULL) {
            r->p = q;
            return CRDT_OK;
        }
    }
    return crdtp_cr_uint(r, v);
}

RD_INLINE int rd_bin(cr *r, const uint8_t **b, size_t *n)
{
    const uint8_t *p = r->p;

    if (!r->err && r->end - p >= 2 && *p == 0xc4 &&
        p[1] <= r->lim.max_value_bytes && p[1] <= (size_t)(r->end - p - 2)) {
        *b = p + 2;
        *n = p[1];
        r->p = p + 2 + p[1];
        return CRDT_OK;
    }
    return crdtp_cr_bin(r, b, n);
}

/* Containers skip_obj follows itself; deeper ones go to crdtp_cr_skip. */
#define SKIP_DEPTH 16u

/*
 * Skips one object with at most max_depth levels of containers, as
 * crdtp_cr_skip does, reading what states are made of (positive and
 * negative fixints, nil, booleans, fix arrays and maps, unsigned
 * integers, bin 8) inline.  Any other object, a container past
 * SKIP_DEPTH levels, and anything that would fail (truncation, counts
 * beyond the input, depth) go to crdtp_cr_skip as one object from its
 * first byte, so that errors are reported exactly as it reports them.
 */
static int skip_obj(cr *r, size_t max_depth)
{
    uint64_t left[SKIP_DEPTH + 1];
    const uint8_t *p = r->p, *end = r->end;
    size_t depth = 0;
    int rv;

    if (r->err)
        return r->err;
    if (max_depth > CR_SKIP_MAX_DEPTH)
        max_depth = CR_SKIP_MAX_DEPTH;
    left[0] = 1;
    for (;;) {
        uint8_t b;

        while (left[depth] == 0) {
            if (depth == 0) {
                r->p = p;
                return CRDT_OK;
            }
            depth--;
        }
        left[depth]--;
        if (p < end) {
            b = *p;
            if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
                b == 0xc3) {
                p++;
                continue;
            }
            if ((b & 0xe0) == 0x80) { /* fixmap 0x8n, fixarray 0x9n */
                uint64_t kids = (uint64_t)(b & 0x0f) << (b < 0x90);

                if (!kids) {
                    p++;
                    continue;
                }
                if (kids <= (size_t)(end - p - 1) && depth + 1 <= max_depth &&
                    depth + 1 <= SKIP_DEPTH) {
                    p++;
                    left[++depth] = kids;
                    continue;
                }
            } else if (b >= 0xcc && b <= 0xcf) {
                size_t n = (size_t)1 << (b - 0xcc);

                if (n < (size_t)(end - p)) {
                    p += 1 + n;
                    continue;
                }
            } else if (b == 0xc4 && end - p >= 2 &&
                       p[1] <= (size_t)(end - p - 2)) {
                p += 2 + p[1];
                continue;
            }
        }
        /* the general skip, for this object */
        r->p = p;
        if ((rv = crdtp_cr_skip(r, max_depth - depth)))
            return rv;
        p = r->p;
    }
}

/* Reads an array header of exactly n items. */
RD_INLINE int arr_exact(cr *r, uint32_t n)
{
    uint32_t got;
    int rv = rd_array(r, &got);

    if (!rv && got != n)
        rv = crdtp_cr_fail(r, CRDT_ERR_DECODE);
    return rv;
}

/* The parsed lists live in arrays of the node kept from one datagram to
 * the next (one per kind of list), so that parsing allocates nothing in
 * the steady state; a list grown past SCRATCH_KEEP bytes by a large
 * datagram is freed after it. */
enum { S_ITEMS, S_SUMS, S_MEMBERS, S_BLOCKS, S_LEAVES, S_KHS, S_WANTS };
#define SCRATCH_KEEP 16384u

static void *scratch_get(crdt_gossip *g, unsigned which, size_t n,
                         size_t size)
{
    size_t bytes, cap = g->scrcap[which];
    void *p;

    if (!n)
        n = 1;
    if (n > SIZE_MAX / size)
        return NULL;
    bytes = n * size;
    if (bytes <= cap)
        return g->scr[which];
    if (cap <= SIZE_MAX / 2 && 2 * cap > bytes)
        bytes = 2 * cap;
    p = crdtp_malloc(&g->mem, bytes);
    if (!p)
        return NULL;
    crdtp_free(&g->mem, g->scr[which]);
    g->scr[which] = p;
    g->scrcap[which] = bytes;
    if (bytes > SCRATCH_KEEP)
        g->scr_big = true;
    return p;
}

/* Room for n elements of size bytes: small (in the message) if it has
 * room and is not NULL, else the node's array `which`; NULL for NOMEM. */
RD_INLINE void *scratch(crdt_gossip *g, unsigned which, size_t n, size_t size,
                        void *small)
{
    return small && n <= GP_MSG_SMALL ? small
                                      : scratch_get(g, which, n, size);
}

int gp_parse_envelope(cr *r, gp_msg *m)
{
    uint64_t v, kind;

    memset(m, 0, GP_MSG_BUFS);
    if (rd_array(r, &m->nfields) || m->nfields < 5)
        return CRDT_ERR_DECODE;
    if (rd_uint(r, &v))
        return CRDT_ERR_DECODE;
    if (v != CRDT_GOSSIP_WIRE_VERSION)
        return CRDT_ERR_VERSION;
    if (rd_uint(r, &m->cluster) || rd_uint(r, &m->sender) ||
        rd_uint(r, &m->incarnation) || rd_uint(r, &kind))
        return CRDT_ERR_DECODE;
    if (kind < CRDT_GOSSIP_PUSH || kind >= CRDT_GOSSIP_KINDS)
        return CRDT_ERR_DECODE;
    m->kind = (int)kind;
    return CRDT_OK;
}

/*
 * Checks the shape of a key's state at r: an OR-map encoding
 * [1, 12, vv, cloud, entries] whose entries are all under the empty key,
 * and leaves r past it.  What this does not check (canonical forms, the
 * values) crdt_ormap_decode does.
 */
static int check_state(cr *r)
{
    uint32_t nbody, n, i;
    const uint8_t *start = r->p;
    int rv;

    if (!(rv = crdtp_cr_envelope(r, CRDT_TAG_ORMAP, &nbody)) && nbody != 3)
        rv = crdtp_cr_fail_at(r, start, CRDT_ERR_DECODE);
    if (!rv && !(rv = skip_obj(r, 2)) && !(rv = skip_obj(r, 3)))
        rv = rd_array(r, &n);
    for (i = 0; !rv && i < n; i++) {
        const uint8_t *k;
        size_t klen;

        if ((rv = arr_exact(r, 4)) || (rv = rd_bin(r, &k, &klen)))
            break;
        if (klen)
            rv = crdtp_cr_fail_at(r, k, CRDT_ERR_DECODE);
        else if (!(rv = skip_obj(r, 1)) && !(rv = skip_obj(r, 3)))
            rv = skip_obj(r, r->lim.max_depth + 4);
    }
    return rv;
}

/* Decodes the state at raw (whose shape was checked) into a new map. */
static int decode_checked(crdt_gossip *g, const uint8_t *raw, size_t len,
                          crdt_ormap **out, crdt_decode_info *info)
{
    crdt_ormap *m = crdt_ormap_new(g->reg, &g->mem);
    int rv;

    if (!m)
        return CRDT_ERR_NOMEM;
    rv = crdt_ormap_decode(m, raw, len, &g->lim, info);
    if (rv) {
        crdt_ormap_free(m);
        return rv;
    }
    *out = m;
    return CRDT_OK;
}

int gp_decode_state(crdt_gossip *g, const uint8_t *raw, size_t len,
                    crdt_ormap **out, crdt_decode_info *info)
{
    cr r;
    int rv;

    crdtp_cr_init(&r, raw, len, &g->lim);
    if ((rv = check_state(&r))) {
        crdtp_cr_info(&r, info);
        return rv;
    }
    return decode_checked(g, raw, len, out, info);
}

bool gp_has_new_dot(const crdt_ormap *map, const uint8_t *raw, size_t len)
{
    cr r;
    uint32_t n, i, nbody;

    crdtp_cr_init(&r, raw, len, NULL);
    /* the envelope of every decoded state: [1, 12, ... (5 fields) */
    if (len >= 3 && raw[0] == 0x95 && raw[1] == CRDT_FORMAT_VERSION &&
        raw[2] == CRDT_TAG_ORMAP)
        r.p += 3;
    else if (crdtp_cr_envelope(&r, CRDT_TAG_ORMAP, &nbody))
        return false;
    if (crdtp_cr_map(&r, &n))
        return false;
    for (i = 0; i < n; i++) {
        crdt_dot d;

        if (rd_uint(&r, &d.actor) || rd_uint(&r, &d.counter))
            return false;
        if (!crdt_ormap_context_contains(map, d))
            return true;
    }
    if (rd_array(&r, &n))
        return false;
    for (i = 0; i < n; i++) {
        crdt_dot d;

        if (arr_exact(&r, 2) || rd_uint(&r, &d.actor) ||
            rd_uint(&r, &d.counter))
            return false;
        if (!crdt_ormap_context_contains(map, d))
            return true;
    }
    return false;
}

/* [key, state] (STATES) or [origin, seq, age, key, state] (PUSH). */
static int parse_items(crdt_gossip *g, cr *r, gp_msg *m, bool push)
{
    uint32_t n, i;
    uint64_t age = 0;
    int rv;

    if ((rv = rd_array(r, &n)))
        return rv;
    m->items = scratch(g, S_ITEMS, n, sizeof *m->items, m->item_buf);
    if (!m->items)
        return CRDT_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        gp_item *it = &m->items[i];

        memset(it, 0, sizeof *it);
        if ((rv = arr_exact(r, push ? 5 : 2)))
            return rv;
        if (push && ((rv = rd_uint(r, &it->origin)) ||
                     (rv = rd_uint(r, &it->seq)) ||
                     (rv = rd_uint(r, &age))))
            return rv;
        if (push && (it->seq == 0 || it->origin == 0 || age > 255))
            return crdtp_cr_fail(r, CRDT_ERR_DECODE);
        it->age = (unsigned)age;
        if ((rv = rd_bin(r, &it->key, &it->klen)))
            return rv;
        if (it->klen == 0 || it->klen > g->set.max_key_bytes)
            return crdtp_cr_fail(r, CRDT_ERR_DECODE);
        it->raw = r->p;
        if ((rv = check_state(r)))
            return crdtp_cr_fail(r, CRDT_ERR_DECODE);
        it->rawlen = (size_t)(r->p - it->raw);
        m->nitems = i + 1;
        if ((rv = decode_checked(g, it->raw, it->rawlen, &it->map, NULL)))
            return rv == CRDT_ERR_NOMEM ? rv
                                        : crdtp_cr_fail(r, CRDT_ERR_DECODE);
    }
    return CRDT_OK;
}

static int parse_summary(crdt_gossip *g, cr *r, gp_msg *m)
{
    uint32_t n, i;
    int rv;

    if ((rv = rd_uint(r, &m->lo)) || (rv = rd_uint(r, &m->hi)))
        return rv;
    if (m->lo > m->hi)
        return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    if ((rv = rd_array(r, &n)))
        return rv;
    m->sums = scratch(g, S_SUMS, n, sizeof *m->sums, m->sum_buf);
    if (!m->sums)
        return CRDT_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        gp_sum *s = &m->sums[i];

        if ((rv = arr_exact(r, 3)) || (rv = rd_uint(r, &s->origin)) ||
            (rv = rd_uint(r, &s->prefix)) || (rv = rd_uint(r, &s->bits)))
            return rv;
        if (s->origin < m->lo || s->origin > m->hi ||
            (i && s->origin <= m->sums[i - 1].origin))
            return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    }
    m->nsums = n;
    if ((rv = rd_array(r, &n)))
        return rv;
    m->members = scratch(g, S_MEMBERS, n, sizeof *m->members,
                         m->member_buf);
    if (!m->members)
        return CRDT_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        gp_member *p = &m->members[i];

        if ((rv = arr_exact(r, 2)) || (rv = rd_uint(r, &p->id)) ||
            (rv = rd_bin(r, &p->addr, &p->addrlen)))
            return rv;
        if (p->id == 0 || p->addrlen > 255)
            return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    }
    m->nmembers = n;
    return CRDT_OK;
}

/* A tree node (level, index): index < 16^level. */
static int parse_node(cr *r, uint32_t max_level, uint32_t *level,
                      uint64_t *index)
{
    uint64_t l;
    int rv;

    if ((rv = rd_uint(r, &l)) || (rv = rd_uint(r, index)))
        return rv;
    if (l > max_level || (l < 16 && *index >> (4 * l)))
        return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    *level = (uint32_t)l;
    return CRDT_OK;
}

static int parse_tree(crdt_gossip *g, cr *r, gp_msg *m)
{
    uint32_t n, i, c;
    int rv;

    if ((rv = rd_uint(r, &m->salt)) || (rv = rd_array(r, &n)))
        return rv;
    m->blocks = scratch(g, S_BLOCKS, n, sizeof *m->blocks, NULL);
    if (!m->blocks)
        return CRDT_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        gp_block *b = &m->blocks[i];
        const uint8_t *p;
        size_t len;

        if ((rv = arr_exact(r, 3)) ||
            (rv = parse_node(r, GP_TREE_MAX_LEVEL - 1, &b->level,
                             &b->index)) ||
            (rv = crdtp_cr_bin(r, &p, &len)))
            return rv;
        if (len != 4 * GP_TREE_FANOUT)
            return crdtp_cr_fail(r, CRDT_ERR_DECODE);
        for (c = 0; c < GP_TREE_FANOUT; c++)
            b->sums[c] = cr_load_be32(p + 4 * c);
    }
    m->nblocks = n;
    return CRDT_OK;
}

static int parse_keys(crdt_gossip *g, cr *r, gp_msg *m)
{
    uint32_t n, i, k, total = 0;
    const uint8_t *save = r->p;
    int rv;

    /* first pass: count the keys, to allocate once */
    if ((rv = rd_array(r, &n)))
        return rv;
    for (i = 0; i < n; i++) {
        uint32_t level, nk;
        uint64_t index;

        if ((rv = arr_exact(r, 3)) ||
            (rv = parse_node(r, GP_TREE_MAX_LEVEL, &level, &index)) ||
            (rv = rd_array(r, &nk)))
            return rv;
        for (k = 0; k < nk; k++)
            if ((rv = crdtp_cr_skip(r, 2)))
                return rv;
        total += nk;
    }
    r->p = save;
    m->leaves = scratch(g, S_LEAVES, n, sizeof *m->leaves, NULL);
    m->khs = scratch(g, S_KHS, total, sizeof *m->khs, NULL);
    if (!m->leaves || !m->khs)
        return CRDT_ERR_NOMEM;
    rd_array(r, &n);
    for (i = 0, total = 0; i < n; i++) {
        gp_leaf *lf = &m->leaves[i];
        uint64_t first = 0, last = UINT64_MAX;

        arr_exact(r, 3);
        parse_node(r, GP_TREE_MAX_LEVEL, &lf->level, &lf->index);
        if (lf->level) {
            first = lf->index << (64 - 4 * lf->level);
            last = first | (lf->level < 16
                                ? ((uint64_t)1 << (64 - 4 * lf->level)) - 1
                                : 0);
        }
        rd_array(r, &lf->nkeys);
        lf->keys = m->khs + total;
        for (k = 0; k < lf->nkeys; k++) {
            gp_kh *kh = &lf->keys[k];

            if ((rv = arr_exact(r, 2)) || (rv = rd_uint(r, &kh->pos)) ||
                (rv = rd_uint(r, &kh->h)))
                return rv;
            if (kh->pos < first || kh->pos > last ||
                (k && kh->pos < lf->keys[k - 1].pos))
                return crdtp_cr_fail(r, CRDT_ERR_DECODE);
        }
        total += lf->nkeys;
    }
    m->nleaves = n;
    m->nkhs = total;
    return CRDT_OK;
}

static int parse_want(crdt_gossip *g, cr *r, gp_msg *m)
{
    uint32_t n, i;
    int rv;

    if ((rv = rd_array(r, &n)))
        return rv;
    m->wants = scratch(g, S_WANTS, n, sizeof *m->wants, NULL);
    if (!m->wants)
        return CRDT_ERR_NOMEM;
    for (i = 0; i < n; i++)
        if ((rv = rd_uint(r, &m->wants[i])))
            return rv;
    m->nwants = n;
    return CRDT_OK;
}

static int parse_frag(cr *r, gp_msg *m)
{
    uint64_t idx, count, total;
    int rv;

    if ((rv = rd_uint(r, &m->fid)) || (rv = rd_uint(r, &idx)) ||
        (rv = rd_uint(r, &count)) || (rv = rd_uint(r, &total)) ||
        (rv = crdtp_cr_bin(r, &m->fbytes, &m->flen)))
        return rv;
    if (count < 2 || count > UINT32_MAX || idx >= count ||
        total > UINT32_MAX || total < count || m->flen == 0)
        return crdtp_cr_fail(r, CRDT_ERR_DECODE);
    m->findex = (uint32_t)idx;
    m->fcount = (uint32_t)count;
    m->ftotal = (uint32_t)total;
    return CRDT_OK;
}

int gp_parse_body(crdt_gossip *g, cr *r, gp_msg *m)
{
    static const uint32_t nbody[CRDT_GOSSIP_KINDS] = {
        [CRDT_GOSSIP_PUSH] = 1, [CRDT_GOSSIP_SYN] = 4,
        [CRDT_GOSSIP_ACK] = 4,  [CRDT_GOSSIP_TREE] = 2,
        [CRDT_GOSSIP_KEYS] = 1, [CRDT_GOSSIP_STATES] = 2,
        [CRDT_GOSSIP_WANT] = 1, [CRDT_GOSSIP_FRAG] = 5,
    };
    int rv;

    if (m->nfields != 5 + nbody[m->kind])
        return CRDT_ERR_DECODE;
    switch (m->kind) {
    case CRDT_GOSSIP_PUSH:
        rv = parse_items(g, r, m, true);
        break;
    case CRDT_GOSSIP_STATES:
        if (!(rv = crdtp_cr_bool(r, &m->more)))
            rv = parse_items(g, r, m, false);
        break;
    case CRDT_GOSSIP_SYN:
    case CRDT_GOSSIP_ACK:
        rv = parse_summary(g, r, m);
        break;
    case CRDT_GOSSIP_TREE:
        rv = parse_tree(g, r, m);
        break;
    case CRDT_GOSSIP_KEYS:
        rv = parse_keys(g, r, m);
        break;
    case CRDT_GOSSIP_WANT:
        rv = parse_want(g, r, m);
        break;
    default:
        rv = parse_frag(r, m);
        break;
    }
    if (!rv)
        rv = crdtp_cr_finish(r);
    if (rv) {
        gp_msg_clear(g, m);
        return rv == CRDT_ERR_NOMEM ? rv : CRDT_ERR_DECODE;
    }
    return CRDT_OK;
}

void gp_msg_clear(crdt_gossip *g, gp_msg *m)
{
    uint32_t i;

    for (i = 0; m->items && i < m->nitems; i++)
        crdt_ormap_free(m->items[i].map);
    for (i = 0; g->scr_big && i < GP_SCRATCH_LISTS; i++)
        if (g->scrcap[i] > SCRATCH_KEEP) {
            crdtp_free(&g->mem, g->scr[i]);
            g->scr[i] = NULL;
            g->scrcap[i] = 0;
        }
    g->scr_big = false;
    m->items = NULL; /* m is dead now; this keeps a second clear harmless */
    m->nitems = 0;
}
