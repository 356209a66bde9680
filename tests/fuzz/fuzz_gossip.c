/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the gossip engine's network entry point
 * (crdt_gossip_receive: every datagram kind, fragments included) and its
 * snapshot decoder (crdt_gossip_restore).  Replayed in `make check` by
 * replay.c over tests/fuzz/corpus/gossip (datagrams captured from a run,
 * made by tests/fuzz/gossip_corpus.c).
 *
 * Input: one datagram; or, when the first byte is 0xff, a sequence of
 * datagrams, each a 2-byte big-endian length and its bytes (so that
 * fragments can be reassembled).  The whole input is also tried as a
 * snapshot.
 *
 * Oracle, for a node of cluster 7 holding a few keys and peers:
 *   - no crash, no leak (LeakSanitizer; the counting allocator must end
 *     at zero live blocks);
 *   - a datagram that the metrics count as dropped changes nothing: same
 *     digest, same keys;
 *   - a rejected snapshot changes nothing;
 *   - no datagram the node sends in answer exceeds max_datagram;
 *   - the node's memory grows by at most 64 bytes per input byte plus the
 *     reassembly budget and a constant, whatever the input declares.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>

#define FUZZ_DECLARATIONS_ONLY
#include "fuzz_common.h"

const char fuzz_type_name[] = "gossip";

#define FG_REASSEMBLY (64u << 10)

static size_t fg_longest;

static int fg_send(void *ud, uint64_t to, const uint8_t *addr, size_t alen,
                   const uint8_t *data, size_t len)
{
    (void)ud, (void)to, (void)addr, (void)alen, (void)data;
    if (len > fg_longest)
        fg_longest = len;
    return 0;
}

static int fg_inc(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    (void)u;
    return crdt_gcounter_increment(v, w->actor, 2, d);
}

static int fg_add(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_orset_add(v, w->actor, u, strlen(u), d);
}

static void fg_fail(const char *what)
{
    fprintf(stderr, "ORACLE FAILURE (gossip): %s\n", what);
    abort();
}

static crdt_gossip *fg_node(fz_mem *fm, const crdt_mem *mem)
{
    crdt_gossip_settings s;
    crdt_gossip *g;

    crdt_gossip_settings_default(&s);
    s.node_id = 1;
    s.cluster_id = 7;
    s.seed = 3;
    s.incarnation = 11;
    s.max_datagram = 1200;
    s.reassembly_max_bytes = FG_REASSEMBLY;
    s.callbacks.send = fg_send;
    if (crdt_gossip_new(&g, &s, mem) ||
        crdt_gossip_add_peer(g, 2, (const uint8_t *)"p2", 2) ||
        crdt_gossip_add_peer(g, 3, NULL, 0) ||
        crdt_gossip_update(g, "a", 1, crdt_gcounter_type(), fg_inc, NULL) ||
        crdt_gossip_update(g, "s", 1, crdt_orset_type(), fg_add, "x") ||
        crdt_gossip_tick(g, 1000))
        fg_fail("setting up the node");
    (void)fm;
    return g;
}

static uint64_t fg_drops(const crdt_gossip *g)
{
    crdt_gossip_metrics m;
    uint64_t n = 0;
    int i;

    crdt_gossip_metrics_get(g, &m);
    for (i = 0; i < CRDT_GOSSIP_DROP_REASONS; i++)
        n += m.dropped[i];
    return n;
}

static void fg_datagram(crdt_gossip *g, const uint8_t *d, size_t n)
{
    uint64_t digest = crdt_gossip_digest(g), drops = fg_drops(g);
    size_t keys = crdt_gossip_key_count(g);
    uint8_t *copy = malloc(n ? n : 1);

    if (!copy)
        fg_fail("out of memory");
    memcpy(copy, d, n); /* exactly n bytes, so ASan sees any over-read */
    if (crdt_gossip_receive(g, 2000, (const uint8_t *)"fz", 2, copy, n))
        fg_fail("receive failed");
    free(copy);
    if (fg_drops(g) != drops && (crdt_gossip_digest(g) != digest ||
                                 crdt_gossip_key_count(g) != keys))
        fg_fail("a dropped datagram changed the store");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_mem fm;
    crdt_mem mem = {fz_malloc, fz_realloc, fz_free, &fm};
    crdt_gossip *g;
    size_t base;
    uint64_t digest;

    memset(&fm, 0, sizeof fm);
    fg_longest = 0;
    g = fg_node(&fm, &mem);
    base = fm.live;
    fm.peak = fm.live;
    if (size > 0 && data[0] == 0xff) {
        size_t off = 1;

        while (off + 2 <= size) {
            size_t n = (size_t)data[off] << 8 | data[off + 1];

            off += 2;
            if (n > size - off)
                n = size - off;
            fg_datagram(g, data + off, n);
            off += n;
        }
    } else {
        fg_datagram(g, data, size);
    }
    if (crdt_gossip_tick(g, 10000))
        fg_fail("tick failed");
    if (fm.peak > base + 64 * size + FG_REASSEMBLY + (256u << 10))
        fg_fail("the node allocated beyond its bound");
    if (fg_longest > 1200)
        fg_fail("a datagram longer than max_datagram was sent");
    digest = crdt_gossip_digest(g);
    {
        crdt_decode_info info;
        int rv = crdt_gossip_restore(g, data, size, &info);

        if (rv && crdt_gossip_digest(g) != digest)
            fg_fail("a rejected snapshot changed the store");
        if (rv && rv != CRDT_ERR_NOMEM && info.offset > size)
            fg_fail("snapshot error offset beyond the input");
    }
    crdt_gossip_free(g);
    if (fm.blocks != 0 || fm.live != 0)
        fg_fail("memory leaked");
    return 0;
}
