/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpus of the node message fuzz target
 * (fuzz_nodemsg.c): a message of every kind as crdt-node's codec writes
 * them, with small and extreme fields (integers of every width, negative
 * statuses, the longest key), and a state split into parts as
 * node_send_state does (first, middle and last part, an empty state, a
 * total that is an exact multiple of the chunk).
 *
 *   nodemsg_corpus OUT_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/codec.h>

#include "msg.h"

static const char *dir;

static void put(const char *name, const nmsg *m)
{
    char path[1024];
    crdt_buf b;
    nmsg back;
    FILE *f;

    crdt_buf_init(&b, NULL);
    if (nmsg_encode(m, &b) || nmsg_decode(&back, b.data, b.len)) {
        fprintf(stderr, "nodemsg_corpus: %s does not round-trip\n", name);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f)) {
        perror(path);
        exit(1);
    }
    crdt_buf_clear(&b);
}

static nmsg msg(int kind, uint64_t cluster, uint64_t from, uint64_t req)
{
    nmsg m;

    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.cluster = cluster;
    m.from = from;
    m.req = req;
    return m;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"", "hello", "welcome", "repl",
                                        "ack", "read", "state"};
    static uint8_t key[NMSG_MAX_KEY];
    static uint8_t state[300];
    char name[64];
    nmsg m;
    size_t i;
    int kind;

    if (argc != 2) {
        fprintf(stderr, "usage: nodemsg_corpus OUT_DIR\n");
        return 2;
    }
    dir = argv[1];
    memset(key, 'k', sizeof key);
    for (i = 0; i < sizeof state; i++)
        state[i] = (uint8_t)(i * 7);
    for (kind = NMSG_HELLO; kind < NMSG_KINDS; kind++) {
        /* small fields */
        m = msg(kind, 7, 2, 5);
        m.key = (const uint8_t *)"cart:42";
        m.klen = 7;
        m.status = -3;
        m.total = 6;
        m.chunk = 6;
        m.bytes = state;
        m.blen = 6;
        snprintf(name, sizeof name, "%s-small", names[kind]);
        if (kind != NMSG_ACK)
            m.status = 0;
        put(name, &m);
        /* every integer wide */
        m = msg(kind, UINT64_MAX, 0x1234567890ull, 65536);
        m.key = key;
        m.klen = kind == NMSG_READ ? NMSG_MAX_KEY : 256;
        m.status = kind == NMSG_ACK ? INT64_MIN : 0;
        m.total = 300;
        m.chunk = 128;
        m.index = 1;
        m.bytes = state;
        m.blen = 128;
        snprintf(name, sizeof name, "%s-wide", names[kind]);
        put(name, &m);
    }
    /* ACK statuses of every width */
    {
        static const int64_t st[] = {0, -1, -33, -129, -32769, 200, 70000,
                                     -2147483649LL};

        for (i = 0; i < sizeof st / sizeof *st; i++) {
            m = msg(NMSG_ACK, 9, 3, i);
            m.status = st[i];
            snprintf(name, sizeof name, "ack-status-%zu", i);
            put(name, &m);
        }
    }
    /* a 300-byte state in parts of 100 (an exact multiple) and of 128 */
    for (kind = NMSG_REPL; kind <= NMSG_STATE; kind += 3) {
        uint64_t chunk, parts, p;

        for (chunk = 100; chunk <= 128; chunk += 28) {
            parts = nmsg_parts(sizeof state, chunk);
            for (p = 0; p < parts; p++) {
                m = msg(kind, 9, 4, 77);
                m.key = (const uint8_t *)"k";
                m.klen = 1;
                m.total = sizeof state;
                m.chunk = chunk;
                m.index = p;
                m.bytes = state + p * chunk;
                m.blen = p + 1 < parts ? chunk : sizeof state - p * chunk;
                snprintf(name, sizeof name, "%s-part-%u-%u", names[kind],
                         (unsigned)chunk, (unsigned)p);
                put(name, &m);
            }
        }
        /* an empty state */
        m = msg(kind, 9, 4, 78);
        m.key = (const uint8_t *)"k";
        m.klen = 1;
        m.chunk = 1100;
        snprintf(name, sizeof name, "%s-empty", names[kind]);
        put(name, &m);
        /* the largest total, its last 1-byte part of chunk 7 */
        m.total = NMSG_MAX_STATE;
        m.chunk = 7;
        m.index = (NMSG_MAX_STATE - 1) / 7;
        m.bytes = state;
        m.blen = NMSG_MAX_STATE - m.index * 7;
        snprintf(name, sizeof name, "%s-max-total", names[kind]);
        put(name, &m);
    }
    return 0;
}
