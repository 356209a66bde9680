/* SPDX-License-Identifier: MIT */
/*
 * The digest tree: sums (mod 2^64) of the keys' state hashes, grouped by
 * the keys' positions (XXH3 of the key).  Node i of level l sums the keys
 * whose position's top 4l bits are i, so level 0 is the root and every
 * node has 16 children.  The tree's shape depends only on the key set's
 * positions, never on a node's history, so two nodes compare any level
 * node by node.
 *
 * Levels 0..depth are stored as arrays (16^l sums each); a change of one
 * key's hash adds the difference on every stored level, O(depth).  The
 * depth follows the store's size (about one key per leaf, at most
 * GP_TREE_MAX_DEPTH), and deeper levels, which repair needs only below
 * differing leaves, are summed from the store's sorted-by-position view.
 * Sums, not XORs, so that the arithmetic is the same everywhere and a
 * key's contribution is removed by subtracting it.
 */
#include "config.h"

#include <string.h>

#include "gossip_internal.h"
#include "mem_internal.h"

void gp_tree_init(gp_tree *t, const crdt_mem *mem)
{
    memset(t, 0, sizeof *t);
    crdtp_mem_set(&t->mem, mem);
}

void gp_tree_clear(gp_tree *t)
{
    unsigned l;

    for (l = 0; l <= GP_TREE_MAX_DEPTH; l++)
        crdtp_free(&t->mem, t->level[l]);
    memset(t->level, 0, sizeof t->level);
    t->depth = 0;
    t->root = 0;
}

static uint64_t node_of(uint64_t pos, unsigned level)
{
    return level ? pos >> (64 - 4 * level) : 0;
}

void gp_tree_add(gp_tree *t, uint64_t pos, uint64_t delta)
{
    unsigned l;

    if (t->level[0])
        t->root += delta;
    for (l = 0; l <= t->depth && t->level[l]; l++)
        t->level[l][node_of(pos, l)] += delta;
}

uint64_t gp_tree_root(const gp_tree *t)
{
    return t->root;
}

unsigned gp_tree_depth_for(size_t nkeys)
{
    unsigned d = 1;

    while (d < GP_TREE_MAX_DEPTH && nkeys >= ((size_t)1 << (4 * (d + 1))))
        d++;
    return d;
}

int gp_tree_rebuild(gp_tree *t, unsigned depth, const gp_store *s)
{
    uint64_t *lv[GP_TREE_MAX_DEPTH + 1] = {0};
    unsigned l;
    size_t i;

    if (depth > GP_TREE_MAX_DEPTH)
        depth = GP_TREE_MAX_DEPTH;
    for (l = 0; l <= depth; l++) {
        size_t n = (size_t)1 << (4 * l);

        lv[l] = crdtp_malloc_array(&t->mem, n, sizeof(uint64_t));
        if (!lv[l]) {
            while (l-- > 0)
                crdtp_free(&t->mem, lv[l]);
            return CRDT_ERR_NOMEM;
        }
        memset(lv[l], 0, n * sizeof(uint64_t));
    }
    for (i = 0; i < s->len; i++)
        for (l = 0; l <= depth; l++)
            lv[l][node_of(s->keys[i].pos, l)] += s->keys[i].h;
    gp_tree_clear(t);
    memcpy(t->level, lv, sizeof lv);
    t->depth = depth;
    t->root = lv[0][0];
    return CRDT_OK;
}

void gp_tree_children(const gp_tree *t, const gp_store *s, unsigned level,
                      uint64_t index, uint64_t out[GP_TREE_FANOUT])
{
    size_t lo, hi, i;
    unsigned c;

    if (level + 1 <= t->depth && t->level[level + 1]) {
        memcpy(out, t->level[level + 1] + index * GP_TREE_FANOUT,
               GP_TREE_FANOUT * sizeof *out);
        return;
    }
    memset(out, 0, GP_TREE_FANOUT * sizeof *out);
    if (level >= GP_TREE_MAX_LEVEL)
        return;
    gp_store_range(s, level, index, &lo, &hi);
    for (i = lo; i < hi; i++) {
        const gp_key *k = &s->keys[s->bypos[i]];

        c = (unsigned)(node_of(k->pos, level + 1) & (GP_TREE_FANOUT - 1));
        out[c] += k->h;
    }
}
