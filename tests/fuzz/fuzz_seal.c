/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the sealed-datagram path (crdt/seal.h): every
 * input is a datagram as it arrives off the network, opened with a fixed
 * keyring (seal_keys.h) and, when it opens, fed to a gossip node.
 * Replayed in `make check` by replay.c over tests/fuzz/corpus/seal (the
 * gossip corpus sealed with the fixed keys, written by seal_corpus.c).
 *
 * Input: one datagram; or, when the first byte is 0xff, a sequence of
 * datagrams, each a 2-byte big-endian length and its bytes (fragmented
 * messages); or, when the first byte is 0xfe, one plaintext that the
 * target seals itself with the primary key before delivering it (so that
 * the fuzzer reaches the node through a valid seal, which it cannot
 * forge).
 *
 * Oracle, for each datagram:
 *   - crdt_seal_open either opens it, giving len - 45 bytes, or fails
 *     with the error its header documents for that input (VERSION iff the
 *     first byte is not 0xc1, DECODE iff empty or shorter than 45 with
 *     0xc1, else NOT_FOUND or AUTH), leaving the output buffer and length
 *     untouched;
 *   - a strict sealer (no plaintext) rejects exactly what crdt_seal_open
 *     rejects (and plaintext), and a datagram it rejects changes nothing
 *     in its node and makes it allocate nothing;
 *   - an upgrade-mode sealer passes plaintext through: a datagram its node
 *     drops changes nothing (as fuzz_gossip);
 *   - no crash, no leak; the nodes' memory stays within the bound of
 *     fuzz_gossip; no datagram they send is longer than max_sealed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>
#include <crdt/seal.h>

#define FUZZ_DECLARATIONS_ONLY
#include "fuzz_common.h"
#include "seal_keys.h"

const char fuzz_type_name[] = "seal";

#define FS_SEALED 1245u
#define FS_REASSEMBLY (64u << 10)

static void fs_fail(const char *what)
{
    fprintf(stderr, "ORACLE FAILURE (seal): %s\n", what);
    abort();
}

static size_t fs_longest;

static int fs_send(void *ud, uint64_t to, const uint8_t *addr, size_t alen,
                   const uint8_t *data, size_t len)
{
    (void)ud, (void)to, (void)addr, (void)alen;
    if (len > fs_longest)
        fs_longest = len;
    if (len == 0 || (data[0] != CRDT_SEAL_FORMAT_1 &&
                     !crdt_seal_is_plaintext(data, len)))
        fs_fail("sent a datagram neither sealed nor plaintext");
    return 0;
}

static int fs_inc(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    (void)u;
    return crdt_gcounter_increment(v, w->actor, 2, d);
}

static int fs_add(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_orset_add(v, w->actor, u, strlen(u), d);
}

/* A node of cluster 7 behind a sealer on keyring kr. */
typedef struct fs_node {
    fz_mem fm;
    crdt_mem mem;
    crdt_gossip *g;
    crdt_sealer *s;
} fs_node;

static void fs_node_init(fs_node *n, const crdt_keyring *kr, bool upgrade)
{
    crdt_sealer_settings ss;
    crdt_gossip_settings s;

    memset(&n->fm, 0, sizeof n->fm);
    n->mem.malloc = fz_malloc;
    n->mem.realloc = fz_realloc;
    n->mem.free = fz_free;
    n->mem.user_data = &n->fm;
    crdt_sealer_settings_default(&ss);
    ss.cluster_id = FS_CLUSTER;
    ss.max_sealed = FS_SEALED;
    ss.accept_plaintext = upgrade;
    ss.send = fs_send;
    if (crdt_sealer_new(&n->s, kr, &ss, &n->mem))
        fs_fail("sealer_new");
    crdt_gossip_settings_default(&s);
    s.node_id = 1;
    s.cluster_id = FS_CLUSTER;
    s.seed = 3;
    s.incarnation = 11;
    s.max_datagram = (uint32_t)crdt_sealer_max_plaintext(n->s);
    s.reassembly_max_bytes = FS_REASSEMBLY;
    s.callbacks.send = crdt_sealer_send;
    s.callbacks.user_data = n->s;
    if (crdt_gossip_new(&n->g, &s, &n->mem) ||
        crdt_gossip_add_peer(n->g, 2, (const uint8_t *)"p2", 2) ||
        crdt_gossip_add_peer(n->g, 3, NULL, 0) ||
        crdt_gossip_update(n->g, "a", 1, crdt_gcounter_type(), fs_inc,
                           NULL) ||
        crdt_gossip_update(n->g, "s", 1, crdt_orset_type(), fs_add, "x") ||
        crdt_gossip_tick(n->g, 1000))
        fs_fail("setting up the node");
}

static void fs_node_free(fs_node *n)
{
    crdt_gossip_free(n->g);
    crdt_sealer_free(n->s);
    if (n->fm.blocks != 0 || n->fm.live != 0)
        fs_fail("memory leaked");
}

static uint64_t fs_rejected(const crdt_sealer *s)
{
    crdt_sealer_stats st;
    uint64_t n = 0;
    int i;

    crdt_sealer_stats_get(s, &st);
    for (i = 0; i < CRDT_SEAL_REJECT_REASONS; i++)
        n += st.rejected[i];
    return n;
}

static uint64_t fs_drops(const crdt_gossip *g)
{
    crdt_gossip_metrics m;
    uint64_t n = 0;
    int i;

    crdt_gossip_metrics_get(g, &m);
    for (i = 0; i < CRDT_GOSSIP_DROP_REASONS; i++)
        n += m.dropped[i];
    return n;
}

/* Delivers d to node n; returns whether its sealer rejected it. */
static bool fs_deliver(fs_node *n, const uint8_t *d, size_t len)
{
    uint64_t digest = crdt_gossip_digest(n->g), drops = fs_drops(n->g),
             rej = fs_rejected(n->s);
    size_t keys = crdt_gossip_key_count(n->g);
    unsigned long calls = n->fm.calls;
    bool rejected;

    if (crdt_sealer_receive(n->s, n->g, 2000, (const uint8_t *)"fz", 2, d,
                            len))
        fs_fail("sealer_receive failed");
    rejected = fs_rejected(n->s) != rej;
    if (rejected && (crdt_gossip_digest(n->g) != digest ||
                     crdt_gossip_key_count(n->g) != keys ||
                     n->fm.calls != calls || fs_drops(n->g) != drops))
        fs_fail("a rejected datagram reached the node");
    if (!rejected && fs_drops(n->g) != drops &&
        (crdt_gossip_digest(n->g) != digest ||
         crdt_gossip_key_count(n->g) != keys))
        fs_fail("a dropped datagram changed the store");
    return rejected;
}

static void fs_datagram(const crdt_keyring *kr, fs_node *strict,
                        fs_node *upgrade, const uint8_t *d, size_t len)
{
    static uint8_t out[65536 + 64];
    uint8_t *copy = malloc(len ? len : 1);
    size_t m = 424242;
    int rv;
    bool rej;

    if (!copy)
        fs_fail("out of memory");
    memcpy(copy, d, len); /* exactly len bytes, so ASan sees over-reads */
    memset(out, 0xa5, 64);
    rv = crdt_seal_open(kr, FS_CLUSTER, copy, len, out, sizeof out, &m);
    if (rv == CRDT_OK) {
        if (m != len - CRDT_SEAL_OVERHEAD)
            fs_fail("opened length");
    } else {
        int want = len == 0 ? CRDT_ERR_DECODE
                   : copy[0] != CRDT_SEAL_FORMAT_1 ? CRDT_ERR_VERSION
                   : len < CRDT_SEAL_OVERHEAD      ? CRDT_ERR_DECODE
                                                   : 0;
        size_t i;

        if (want ? rv != want
                 : rv != CRDT_ERR_NOT_FOUND && rv != CRDT_ERR_AUTH)
            fs_fail("open: an undocumented error for this input");
        if (m != 424242)
            fs_fail("open: length written on failure");
        for (i = 0; i < 64; i++)
            if (out[i] != 0xa5)
                fs_fail("open: output written on failure");
    }
    rej = fs_deliver(strict, copy, len);
    if (len <= FS_SEALED &&
        rej != (rv != CRDT_OK || crdt_seal_is_plaintext(copy, len)))
        fs_fail("the strict sealer and crdt_seal_open disagree");
    if (len > FS_SEALED && !rej)
        fs_fail("an oversize datagram was accepted");
    rej = fs_deliver(upgrade, copy, len);
    if (crdt_seal_is_plaintext(copy, len) && len <= FS_SEALED && rej)
        fs_fail("upgrade mode rejected plaintext");
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_mem km;
    crdt_mem kmem = {fz_malloc, fz_realloc, fz_free, &km};
    crdt_keyring *kr;
    fs_node strict, upgrade;
    size_t base_s, base_u;

    memset(&km, 0, sizeof km);
    kr = fs_keyring(&kmem);
    if (!kr)
        fs_fail("keyring");
    fs_longest = 0;
    fs_node_init(&strict, kr, false);
    fs_node_init(&upgrade, kr, true);
    base_s = strict.fm.live;
    base_u = upgrade.fm.live;
    strict.fm.peak = base_s;
    upgrade.fm.peak = base_u;
    if (size > 0 && data[0] == 0xff) {
        size_t off = 1;

        while (off + 2 <= size) {
            size_t n = (size_t)data[off] << 8 | data[off + 1];

            off += 2;
            if (n > size - off)
                n = size - off;
            fs_datagram(kr, &strict, &upgrade, data + off, n);
            off += n;
        }
    } else if (size > 0 && data[0] == 0xfe) {
        static uint8_t sealed[65536 + CRDT_SEAL_OVERHEAD];
        size_t n;

        if (crdt_seal(kr, FS_CLUSTER, data + 1, size - 1, sealed,
                      sizeof sealed, &n))
            fs_fail("seal");
        fs_datagram(kr, &strict, &upgrade, sealed, n);
    } else {
        fs_datagram(kr, &strict, &upgrade, data, size);
    }
    if (crdt_gossip_tick(strict.g, 10000) ||
        crdt_gossip_tick(upgrade.g, 10000))
        fs_fail("tick failed");
    if (strict.fm.peak > base_s + 64 * size + FS_REASSEMBLY + (256u << 10) ||
        upgrade.fm.peak > base_u + 64 * size + FS_REASSEMBLY + (256u << 10))
        fs_fail("a node allocated beyond its bound");
    if (fs_longest > FS_SEALED)
        fs_fail("a datagram longer than max_sealed was sent");
    fs_node_free(&strict);
    fs_node_free(&upgrade);
    crdt_keyring_free(kr);
    if (km.blocks != 0)
        fs_fail("keyring memory leaked");
    return 0;
}
