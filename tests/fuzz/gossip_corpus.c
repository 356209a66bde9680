/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpus of the gossip fuzz target: the datagrams of a
 * small run (every kind, fragments included), as node 1 of cluster 7
 * receives them, up to PER_KIND files per kind, plus one multi-datagram
 * input of a whole fragmented message and one snapshot.
 *
 *   gossip_corpus DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>

#define N 3
#define PER_KIND 4

static int inc(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_gcounter_increment(v, w->actor, *(uint64_t *)u, d);
}

static int add(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_orset_add(v, w->actor, u, strlen(u), d);
}

static int set(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_lww_set_now(v, w->hlc, w->actor, u, strlen(u), d);
}

static void put(const char *dir, const char *name, const uint8_t *b,
                size_t n)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    static uint8_t buf[65536], frags[65536];
    crdt_gossip *g[N];
    int count[CRDT_GOSSIP_KINDS] = {0};
    size_t nfrag = 1, i, j;
    uint64_t t, by;
    char big[2500];
    crdt_buf snap;

    if (argc != 2) {
        fprintf(stderr, "usage: gossip_corpus DIR\n");
        return 2;
    }
    frags[0] = 0xff;
    for (i = 0; i < N; i++) {
        crdt_gossip_settings s;

        crdt_gossip_settings_default(&s);
        s.node_id = i + 1;
        s.cluster_id = 7;
        s.seed = i + 100;
        s.max_datagram = 600;
        if (i == 2)
            s.log_max_bytes = 0; /* their writes travel by repair */
        if (crdt_gossip_new(&g[i], &s, NULL))
            return 1;
        for (j = 0; j < N; j++)
            if (j != i && crdt_gossip_add_peer(g[i], j + 1,
                                               (const uint8_t *)"peer", 4))
                return 1;
    }
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (i = 0; i < 12; i++) {
        char e[16];

        by = i + 1;
        snprintf(e, sizeof e, "elem%zu", i);
        if (crdt_gossip_update(g[i % N], "counter", 7, crdt_gcounter_type(),
                               inc, &by) ||
            crdt_gossip_update(g[(i + 1) % N], "set", 3, crdt_orset_type(),
                               add, e))
            return 1;
    }
    if (crdt_gossip_update(g[2], "big", 3, crdt_lww_type(), set, big) ||
        crdt_gossip_delete(g[1], "set", 3))
        return 1;
    for (t = 0; t < 4000; t += 10) {
        for (i = 0; i < N; i++)
            crdt_gossip_tick(g[i], t);
        for (i = 0; i < N; i++) {
            crdt_gossip_datagram dg;

            while (crdt_gossip_poll(g[i], &dg, buf, sizeof buf) == 0) {
                int kind = buf[4] == 0xcf ? buf[13] : 0;

                if (dg.to == 1 && kind > 0 && kind < CRDT_GOSSIP_KINDS &&
                    count[kind] < PER_KIND) {
                    char name[64];

                    snprintf(name, sizeof name, "%s-%d",
                             crdt_gossip_kind_name(kind), count[kind]++);
                    put(argv[1], name, buf, dg.len);
                }
                if (dg.to == 1 && kind == CRDT_GOSSIP_FRAG &&
                    nfrag + 2 + dg.len <= sizeof frags && nfrag < 8000) {
                    frags[nfrag++] = (uint8_t)(dg.len >> 8);
                    frags[nfrag++] = (uint8_t)dg.len;
                    memcpy(frags + nfrag, buf, dg.len);
                    nfrag += dg.len;
                }
                crdt_gossip_receive(g[dg.to - 1], t, NULL, 0, buf, dg.len);
            }
        }
    }
    if (nfrag > 1)
        put(argv[1], "fragments", frags, nfrag);
    crdt_buf_init(&snap, NULL);
    if (crdt_gossip_snapshot(g[0], &snap))
        return 1;
    put(argv[1], "snapshot", snap.data, snap.len);
    crdt_buf_clear(&snap);
    for (i = 0; i < N; i++)
        crdt_gossip_free(g[i]);
    for (i = 1; i < CRDT_GOSSIP_KINDS; i++)
        printf("%s: %d\n", crdt_gossip_kind_name((int)i), count[i]);
    return 0;
}
