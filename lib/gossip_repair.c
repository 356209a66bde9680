/* SPDX-License-Identifier: MIT */
/*
 * The repair path: a push-pull comparison of two stores' digest trees
 * (gossip_digest.c) that costs in proportion to their difference.
 *
 *   A -> B  TREE   the sums of the root's 16 children (32 bits of each,
 *                  mixed with a salt new to the exchange, gp_sum32)
 *   B -> A  for each child whose sum differs: if B holds at most
 *           GP_LEAF_KEYS keys under it, KEYS (B's keys there: position
 *           and state hash), else TREE (B's sums of its 16 children)
 *   A -> B  the same, one level down, for what differs ... until KEYS
 *   X -> Y  on KEYS: STATES of the keys X has there that Y lacks or holds
 *           in another state, and WANT of the positions Y listed that X
 *           lacks or holds in another state
 *   Y -> X  STATES of the wanted keys
 * Both sides merge what they receive, so the keys that differed end
 * equal on both.  Descending one level per message, two stores of
 * 100,000 keys that differ in 10 keys exchange about 3 KB of sums and
 * keys in 4 round trips before the states.  Answers are bounded
 * (GP_REPAIR_DATAGRAMS, GP_STATES_DATAGRAMS); what is left waits for the
 * next exchange, which finds the repaired subtrees equal.
 */
#include "config.h"

#include <string.h>

#include "gossip_repair.h"
#include "mem_internal.h"

static void put_sums(cw *w, const uint64_t sums[GP_TREE_FANOUT],
                     uint64_t salt)
{
    uint8_t b[4 * GP_TREE_FANOUT];
    unsigned c;

    for (c = 0; c < GP_TREE_FANOUT; c++)
        cw_store_be32(b + 4 * c, gp_sum32(sums[c], salt));
    cw_bin(w, b, sizeof b);
}

int gp_repair_start(crdt_gossip *g, uint64_t to)
{
    uint64_t sums[GP_TREE_FANOUT], salt;
    cw w;
    int rv;

    if ((rv = gp_flush(g)))
        return rv;
    gp_tree_children(&g->tree, &g->store, 0, 0, sums);
    salt = crdtp_rng_next(&g->rng);
    gp_begin(g, CRDT_GOSSIP_TREE, 2, &w);
    cw_uint(&w, salt);
    cw_array(&w, 1);
    cw_array(&w, 3);
    cw_uint(&w, 0);
    cw_uint(&w, 0);
    put_sums(&w, sums, salt);
    if ((rv = cw_end(&w)) || (rv = gp_send(g, to, CRDT_GOSSIP_TREE)))
        return rv;
    g->m.repairs++;
    gp_expect_answer(g, to);
    return CRDT_OK;
}

/* Adds a TREE block for node (level, index) to p. */
static void pack_block(crdt_gossip *g, gp_packer *p, unsigned level,
                       uint64_t index)
{
    uint64_t sums[GP_TREE_FANOUT];
    cw w;

    if (!gp_pack_item_begin(p, &w))
        return;
    gp_tree_children(&g->tree, &g->store, level, index, sums);
    cw_array(&w, 3);
    cw_uint(&w, level);
    cw_uint(&w, index);
    put_sums(&w, sums, p->salt);
    gp_pack_item_end(p, &w);
}

/* Adds a KEYS leaf: this node's keys under (level, index). */
static void pack_leaf(crdt_gossip *g, gp_packer *p, unsigned level,
                      uint64_t index, size_t lo, size_t hi)
{
    const gp_store *s = &g->store;
    size_t i;
    cw w;

    if (!gp_pack_item_begin(p, &w))
        return;
    cw_array(&w, 3);
    cw_uint(&w, level);
    cw_uint(&w, index);
    cw_array(&w, hi - lo);
    for (i = lo; i < hi; i++) {
        const gp_key *k = &s->keys[s->bypos[i]];

        cw_array(&w, 2);
        cw_uint(&w, k->pos);
        cw_uint(&w, k->h);
    }
    gp_pack_item_end(p, &w);
}

/* Adds a key's state to a STATES packer. */
static void pack_state(gp_packer *p, const gp_key *k)
{
    cw w;

    if (!gp_pack_item_begin(p, &w))
        return;
    cw_array(&w, 2);
    cw_bin(&w, k->key, k->klen);
    if (!w.err) {
        int rv = crdt_ormap_encode(k->map, w.buf);

        if (rv)
            w.err = rv;
    }
    gp_pack_item_end(p, &w);
}

static int finish(gp_packer *p, int rv)
{
    int r2 = gp_pack_finish(p);

    gp_pack_clear(p);
    return rv ? rv : r2;
}

static int on_tree(crdt_gossip *g, const gp_msg *m)
{
    gp_packer tree, keys;
    uint32_t b;
    int rv;

    if ((rv = gp_flush(g)) || (rv = gp_store_sort(&g->store)))
        return rv;
    gp_pack_init(&tree, g, m->sender, CRDT_GOSSIP_TREE, GP_REPAIR_DATAGRAMS);
    tree.salt = m->salt;
    gp_pack_init(&keys, g, m->sender, CRDT_GOSSIP_KEYS, GP_REPAIR_DATAGRAMS);
    for (b = 0; b < m->nblocks && !tree.err && !keys.err; b++) {
        const gp_block *bl = &m->blocks[b];
        uint64_t mine[GP_TREE_FANOUT];
        unsigned c, level = bl->level + 1;

        gp_tree_children(&g->tree, &g->store, bl->level, bl->index, mine);
        for (c = 0; c < GP_TREE_FANOUT; c++) {
            uint64_t child = bl->index * GP_TREE_FANOUT + c;
            size_t lo, hi;

            if (gp_sum32(mine[c], m->salt) == bl->sums[c])
                continue;
            gp_store_range(&g->store, level, child, &lo, &hi);
            if (hi - lo <= GP_LEAF_KEYS || level >= GP_TREE_MAX_LEVEL)
                pack_leaf(g, &keys, level, child, lo, hi);
            else
                pack_block(g, &tree, level, child);
        }
    }
    rv = finish(&keys, CRDT_OK);
    return finish(&tree, rv);
}

static int on_keys(crdt_gossip *g, const gp_msg *m)
{
    const gp_store *s = &g->store;
    gp_packer states, want;
    uint32_t l;
    int rv;

    if ((rv = gp_flush(g)) || (rv = gp_store_sort(&g->store)))
        return rv;
    gp_pack_init(&states, g, m->sender, CRDT_GOSSIP_STATES,
                 GP_STATES_DATAGRAMS);
    gp_pack_init(&want, g, m->sender, CRDT_GOSSIP_WANT, GP_REPAIR_DATAGRAMS);
    for (l = 0; l < m->nleaves; l++) {
        const gp_leaf *lf = &m->leaves[l];
        size_t lo, hi, i, j = 0;

        gp_store_range(s, lf->level, lf->index, &lo, &hi);
        for (i = lo; i < hi || j < lf->nkeys;) {
            const gp_key *k = i < hi ? &s->keys[s->bypos[i]] : NULL;
            const gp_kh *t = j < lf->nkeys ? &lf->keys[j] : NULL;
            cw w;

            if (k && (!t || k->pos < t->pos)) {
                pack_state(&states, k); /* ours only */
                i++;
                continue;
            }
            if (!k || t->pos < k->pos || k->h != t->h) {
                /* theirs only, or both in different states */
                if (gp_pack_item_begin(&want, &w)) {
                    cw_uint(&w, t->pos);
                    gp_pack_item_end(&want, &w);
                }
                if (k && t->pos == k->pos) {
                    pack_state(&states, k);
                    i++;
                }
                j++;
                continue;
            }
            i++, j++; /* equal */
        }
    }
    rv = finish(&states, CRDT_OK);
    return finish(&want, rv);
}

static int on_want(crdt_gossip *g, const gp_msg *m)
{
    const gp_store *s = &g->store;
    gp_packer states;
    uint32_t i;
    int rv;

    if ((rv = gp_flush(g)) || (rv = gp_store_sort(&g->store)))
        return rv;
    gp_pack_init(&states, g, m->sender, CRDT_GOSSIP_STATES,
                 GP_STATES_DATAGRAMS);
    for (i = 0; i < m->nwants; i++) {
        size_t lo, hi, k;

        gp_store_range(s, GP_TREE_MAX_LEVEL, m->wants[i], &lo, &hi);
        for (k = lo; k < hi; k++)
            pack_state(&states, &s->keys[s->bypos[k]]);
    }
    return finish(&states, CRDT_OK);
}

static int on_states(crdt_gossip *g, const gp_msg *m)
{
    uint32_t i;
    int rv;

    for (i = 0; i < m->nitems; i++) {
        const gp_item *it = &m->items[i];
        bool changed;

        rv = gp_apply(g, it->key, it->klen, it->map, 0, 0, 0, 0, it->raw,
                      it->rawlen, &changed);
        if (rv)
            return rv;
        if (changed)
            g->m.keys_repaired++;
    }
    if (m->more)
        gp_want_repair(g, m->sender);
    return CRDT_OK;
}

int gp_repair_receive(crdt_gossip *g, const gp_msg *m)
{
    switch (m->kind) {
    case CRDT_GOSSIP_TREE:
        return on_tree(g, m);
    case CRDT_GOSSIP_KEYS:
        return on_keys(g, m);
    case CRDT_GOSSIP_WANT:
        return on_want(g, m);
    default:
        return on_states(g, m);
    }
}
