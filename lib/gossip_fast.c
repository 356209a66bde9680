/* SPDX-License-Identifier: MIT */
/*
 * The fast path: push-pull exchanges of logged deltas driven by
 * summaries (Scuttlebutt, van Renesse et al. 2008).
 *
 * A round at node A, for each of fanout random peers B:
 *   A -> B  PUSH  the young deltas: those logged since A's last round
 *                 and at most push_rounds rounds old (few nodes have
 *                 them yet, so they go unasked), but for the ones that
 *                 came from B
 *   A -> B  SYN   A's summary: per origin, the seqs A has seen
 *   B -> A  PUSH  the logged deltas the summary does not cover
 *   B -> A  ACK   B's summary of the same origin range
 *   A -> B  PUSH  the logged deltas B's summary does not cover
 * A summary acknowledges everything it covers, so neither side sends the
 * other a delta it has seen (in particular none goes back to the peer it
 * came from), and each exchange moves deltas both ways: push-pull, which
 * spreads an update to N nodes in about log3 N + ln ln N rounds (Karp et
 * al. 2000).  A summary too long for GP_SUMMARY_DATAGRAMS datagrams
 * covers a rotating part of the origins.
 *
 * Receiving a delta: one whose id the node has seen is dropped unread;
 * one that does not change the store is dropped after the merge; one that
 * does is logged under its id.
 */
#include "config.h"

#include <string.h>

#include "gossip_fast.h"
#include "mem_internal.h"

/* The i-th logged entry of origin o (ascending seq). */
static gp_entry *ent(const gp_origin *o, uint32_t i)
{
    return o->ents[o->off + i];
}

/* Writes up to sample_size random peers (not `to`) as [[id, addr]...]
 * at q, which has room for members_bytes; returns the end. */
static uint8_t *put_members(crdt_gossip *g, uint8_t *q, uint64_t to)
{
    uint64_t pick[16];
    size_t at[16], n = 0, want = g->sample_size, i;

    if (want > 16)
        want = 16;
    pick[0] = to;
    for (i = 0; i < want; i++) {
        size_t j;
        uint64_t id = gp_pick_up(g, pick, n + 1, &j);

        if (!id)
            break;
        pick[++n] = id;
        at[n] = j;
        if (n + 1 >= 16)
            break;
    }
    q = cw_put_array(q, n);
    for (i = 1; i <= n; i++) {
        const uint8_t *addr;
        size_t len;

        gp_peer_addr(g, at[i], &addr, &len);
        *q++ = 0x92; /* [id, addr] */
        q = cw_put_uint(q, pick[i]);
        q = cw_put_bin(q, addr, len);
    }
    return q;
}

/* The bytes of one summary entry (an upper bound is enough). */
#define SUM_ENTRY_MAX (1u + 9u + 9u + 9u)
/* Envelope, lo, hi, two array headers, members (at most 16 of 9 + 2 +
 * 255 + 1 bytes: computed exactly below). */
static size_t members_bytes(const crdt_gossip *g)
{
    return 3 + (size_t)(g->sample_size < 16 ? g->sample_size : 16) *
                   (1 + 9 + 2 + 255);
}

/*
 * Sends the summary of the origins in [lo, hi] to `to` as SYN or ACK
 * datagrams, each covering a sub-range; with rotate, starts at the
 * node's cursor and advances it past what fitted in the budget.
 */
static int send_summary(crdt_gossip *g, uint64_t to, int kind, uint64_t lo,
                        uint64_t hi, bool rotate)
{
    const gp_log *l = &g->log;
    size_t first, end, i, n, room, cap, dgrams = 0, seg;
    uint64_t seg_lo[2], seg_hi[2];
    size_t seg_first[2], seg_end[2], nseg;
    bool members = true;
    int rv = CRDT_OK;

    /* the origins in [lo, hi]: [first, end) */
    for (first = 0; first < l->norigins && l->origins[first].origin < lo;
         first++)
        ;
    for (end = first; end < l->norigins && l->origins[end].origin <= hi;
         end++)
        ;
    n = end - first;
    room = g->max_datagram - GP_ENVELOPE_MAX - 2 * 9 - 2 * 3 -
           members_bytes(g);
    cap = room / SUM_ENTRY_MAX;
    if (!cap)
        cap = 1;
    /* two segments when rotating: [cursor, end) then [first, cursor) */
    if (rotate && n > cap * GP_SUMMARY_DATAGRAMS && g->cursor > first &&
        g->cursor < end) {
        size_t c = g->cursor;

        seg_first[0] = c, seg_end[0] = end;
        seg_lo[0] = l->origins[c].origin, seg_hi[0] = hi;
        seg_first[1] = first, seg_end[1] = c;
        seg_lo[1] = lo, seg_hi[1] = l->origins[c].origin - 1;
        nseg = 2;
    } else {
        seg_first[0] = first, seg_end[0] = end;
        seg_lo[0] = lo, seg_hi[0] = hi;
        nseg = 1;
    }
    for (seg = 0; seg < nseg && dgrams < GP_SUMMARY_DATAGRAMS; seg++) {
        uint64_t dlo = seg_lo[seg];

        i = seg_first[seg];
        do {
            size_t k = seg_end[seg] - i < cap ? seg_end[seg] - i : cap, j;
            uint64_t dhi = i + k < seg_end[seg]
                               ? l->origins[i + k].origin - 1
                               : seg_hi[seg];
            uint8_t *q;
            cw w;

            /* written in place: lo, hi, the entries, the members */
            gp_begin(g, kind, 4, &w);
            q = cw_span(&w, 2 * CW_UINT_MAX + CW_HDR_MAX +
                                k * SUM_ENTRY_MAX + members_bytes(g));
            if (q) {
                q = cw_put_uint(q, dlo);
                q = cw_put_uint(q, dhi);
                q = cw_put_array(q, k);
                for (j = i; j < i + k; j++) {
                    *q++ = 0x93; /* [origin, prefix, bits] */
                    q = cw_put_uint(q, l->origins[j].origin);
                    q = cw_put_uint(q, l->origins[j].prefix);
                    q = cw_put_uint(q, l->origins[j].bits);
                }
                if (members)
                    q = put_members(g, q, to);
                else
                    *q++ = 0x90; /* [] */
                cw_commit(&w, q);
            }
            members = false;
            if ((rv = cw_end(&w)) || (rv = gp_send(g, to, kind)))
                return rv;
            dgrams++;
            i += k;
            dlo = dhi + 1;
        } while (i < seg_end[seg] && dgrams < GP_SUMMARY_DATAGRAMS);
        if (rotate)
            g->cursor = i < end ? i : 0;
    }
    return rv;
}

/* Adds a logged delta to a PUSH packer: [origin, seq, age, key, delta]. */
static void pack_entry(crdt_gossip *g, gp_packer *p, const gp_entry *e)
{
    const gp_key *k = &g->store.keys[e->key];
    uint8_t *q;
    cw w;

    if (!gp_pack_item_begin(p, &w))
        return;
    q = cw_span(&w, 1 + 3 * CW_UINT_MAX + CW_HDR_MAX + (size_t)k->klen +
                        e->len);
    if (q) {
        *q++ = 0x95;
        q = cw_put_uint(q, e->origin);
        q = cw_put_uint(q, e->seq);
        q = cw_put_uint(q, gp_entry_age(e, g->round));
        q = cw_put_bin(q, k->key, k->klen);
        memcpy(q, e->bytes, e->len);
        cw_commit(&w, q + e->len);
    }
    gp_pack_item_end(p, &w);
}

void gp_fast_round(crdt_gossip *g)
{
    uint64_t to[65];
    size_t at[65], n = 0, i, t, young, first;
    unsigned eager = gp_push_rounds(g);
    const gp_log *l = &g->log;

    for (i = 0; i < g->set.fanout; i++) {
        uint64_t id = gp_pick_up(g, to, n, &at[n]);

        if (!id)
            break;
        to[n++] = id;
    }
    if (g->ndown && g->set.down_probe_rounds &&
        crdtp_rng_below(&g->rng, g->set.down_probe_rounds) == 0) {
        uint64_t id = gp_pick_down(g, &at[n]);

        if (id)
            to[n++] = id;
    }
    /* the deltas logged since the last round sit at the end of the log;
     * those still young go unasked (their own, and the ones that just
     * arrived: few of the cluster have them yet) */
    for (young = 0; young < l->count; young++) {
        const gp_entry *e = l->fifo[(l->head + l->count - 1 - young) % l->cap];

        if (e->round + 1 < g->round)
            break;
    }
    first = l->count - young;
    for (t = 0; t < n; t++) {
        gp_packer p;

        gp_pack_init(&p, g, to[t], CRDT_GOSSIP_PUSH, GP_PUSH_DATAGRAMS);
        for (i = first; i < l->count; i++) {
            const gp_entry *e = l->fifo[(l->head + i) % l->cap];

            if (gp_entry_age(e, g->round) <= eager && e->from != to[t])
                pack_entry(g, &p, e);
        }
        gp_pack_finish(&p);
        gp_pack_clear(&p);
        send_summary(g, to[t], CRDT_GOSSIP_SYN, 0, UINT64_MAX, t == 0);
        /* sending cannot change the table (the callback finds the node
         * busy): at[t] is still the peer's index */
        gp_expect_answer_at(g, at[t]);
    }
}

int gp_fast_push(crdt_gossip *g, const gp_msg *m)
{
    uint32_t i;
    int rv;

    for (i = 0; i < m->nitems; i++) {
        const gp_item *it = &m->items[i];
        bool changed;

        g->m.deltas_received++;
        /* seen before, or forged under this node's own actor */
        if (it->origin == g->actor ||
            gp_log_seen(&g->log, it->origin, it->seq)) {
            g->m.deltas_redundant++;
            continue;
        }
        rv = gp_apply(g, it->key, it->klen, it->map, it->origin, it->seq,
                      it->age, m->sender, it->raw, it->rawlen, &changed);
        if (rv)
            return rv;
        if (!changed)
            g->m.deltas_redundant++;
    }
    return CRDT_OK;
}

int gp_fast_summary(crdt_gossip *g, const gp_msg *m)
{
    const gp_log *l = &g->log;
    gp_packer p;
    size_t i, j = 0;
    bool behind = false;
    int rv;

    gp_learn_members(g, m->members, m->nmembers);
    gp_pack_init(&p, g, m->sender, CRDT_GOSSIP_PUSH, GP_PUSH_DATAGRAMS);
    for (i = 0; i < l->norigins && !p.full && !p.err; i++) {
        const gp_origin *o = &l->origins[i];
        uint64_t prefix = 0, bits = 0;
        uint32_t k;

        if (o->origin < m->lo)
            continue;
        if (o->origin > m->hi)
            break;
        while (j < m->nsums && m->sums[j].origin < o->origin)
            j++;
        if (j < m->nsums && m->sums[j].origin == o->origin) {
            prefix = m->sums[j].prefix;
            bits = m->sums[j].bits;
        }
        /* seqs we saw and no longer hold, which the peer lacks */
        if (o->prefix > prefix &&
            (!o->nents || ent(o, 0)->seq > prefix + 1) &&
            !gp_origin_covers(prefix, bits, prefix + 1))
            behind = true;
        for (k = 0; k < o->nents; k++)
            if (!gp_origin_covers(prefix, bits, ent(o, k)->seq))
                pack_entry(g, &p, ent(o, k));
    }
    rv = gp_pack_finish(&p);
    gp_pack_clear(&p);
    /* a repair with a lagging peer at most every 10 rounds: a peer's
     * summary can lag for good where repair, not deltas, filled it in */
    if (behind &&
        g->now - g->last_behind >= 10 * (uint64_t)g->set.round_ms) {
        g->last_behind = g->now;
        gp_want_repair(g, m->sender);
    }
    if (!rv && m->kind == CRDT_GOSSIP_SYN)
        rv = send_summary(g, m->sender, CRDT_GOSSIP_ACK, m->lo, m->hi, false);
    return rv;
}
