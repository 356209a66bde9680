/* SPDX-License-Identifier: MIT */
/*
 * crdt-causal-bench: pushes and deliveries per second through the causal
 * delivery queue (crdt/causal.h).
 *
 *     bench/crdt-causal-bench [senders [messages [window]]] [--seed N]
 *
 * `senders` (8) processes broadcast `messages` (1,000,000) messages in
 * total; before each send the sender delivers a random part of what it
 * has not seen yet, so stamps carry real cross-sender dependencies.  The receiving queue gets them
 * reordered: the stream is shuffled within consecutive windows of
 * `window` (64) messages, and one message in ten arrives twice.  After
 * every push the receiver pops whatever is deliverable.  Stamps are built
 * before the clock starts; the timed loop is push + pop only.  Prints one
 * line of key=value pairs: messages, pushes, duplicates, the most held at
 * once, seconds, and pushes and deliveries per second.
 */
#define _POSIX_C_SOURCE 200809L

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crdt/causal.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int rv, const char *what)
{
    if (rv) {
        fprintf(stderr, "crdt-causal-bench: %s: %s\n", what,
                crdt_strerror(rv));
        exit(1);
    }
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

typedef struct bmsg {
    crdt_actor sender;
    crdt_vclock *stamp;
} bmsg;

int main(int argc, char **argv)
{
    unsigned long num[3] = {8, 1000000, 64};
    int nnum = 0, i;
    uint64_t seed = 1;
    size_t ns, nm, win, k, npush = 0, maxheld = 0, *order, *seen;
    crdt_causal_queue **nodes, *rx;
    crdt_causal_settings set;
    crdt_causal_stats st;
    bmsg *m;
    crdt_causal_msg out;
    double t0, t1;
    uint8_t payload[64];

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 0);
        } else if (nnum < 3 && argv[i][0] >= '0' && argv[i][0] <= '9') {
            num[nnum++] = strtoul(argv[i], NULL, 10);
        } else {
            fprintf(stderr, "usage: crdt-causal-bench [senders [messages "
                            "[window]]] [--seed N]\n");
            return 2;
        }
    }
    ns = num[0] ? num[0] : 1;
    nm = num[1];
    win = num[2] ? num[2] : 1;
    memset(payload, 0x5a, sizeof payload);

    /* the senders' history: each sends, then delivers the others' */
    nodes = calloc(ns, sizeof *nodes);
    m = calloc(nm ? nm : 1, sizeof *m);
    order = calloc(2 * nm + 1, sizeof *order);
    if (!nodes || !m || !order)
        check(CRDT_ERR_NOMEM, "calloc");
    for (k = 0; k < ns; k++)
        check(crdt_causal_queue_new(&nodes[k], NULL, NULL), "new");
    seen = calloc(ns, sizeof *seen);
    if (!seen)
        check(CRDT_ERR_NOMEM, "calloc");
    for (k = 0; k < nm; k++) {
        size_t p = (size_t)(rng_next(&seed) % ns);

        /* p first catches up on a random part of what was sent: the
         * send order is a causal order, so each message is deliverable */
        if (k > seen[p]) {
            size_t upto = seen[p] + (size_t)(rng_next(&seed) %
                                             (k - seen[p] + 1));

            for (; seen[p] < upto; seen[p]++) {
                const bmsg *b = &m[seen[p]];

                check(crdt_causal_queue_push(nodes[p], b->sender, b->stamp,
                                             NULL, 0, NULL), "push");
                while (crdt_causal_queue_pop(nodes[p], &out) == CRDT_OK)
                    ;
            }
        }
        m[k].sender = (crdt_actor)p + 1;
        m[k].stamp = crdt_vclock_new(NULL);
        if (!m[k].stamp)
            check(CRDT_ERR_NOMEM, "vclock");
        check(crdt_causal_queue_stamp(nodes[p], m[k].sender, m[k].stamp),
              "stamp");
    }
    free(seen);
    for (k = 0; k < ns; k++)
        crdt_causal_queue_free(nodes[k]);

    /* arrival order: shuffled within windows, one in ten twice */
    for (k = 0; k < nm; k++) {
        order[npush++] = k;
        if (rng_next(&seed) % 10 == 0)
            order[npush++] = k;
    }
    for (k = 0; k < npush; k += win) {
        size_t n = npush - k < win ? npush - k : win, j;

        for (j = n; j > 1; j--) {
            size_t r = (size_t)(rng_next(&seed) % j), t = order[k + j - 1];

            order[k + j - 1] = order[k + r];
            order[k + r] = t;
        }
    }

    crdt_causal_settings_default(&set);
    check(crdt_causal_queue_new(&rx, &set, NULL), "new");
    t0 = now_s();
    for (k = 0; k < npush; k++) {
        const bmsg *b = &m[order[k]];

        check(crdt_causal_queue_push(rx, b->sender, b->stamp, payload,
                                     sizeof payload, NULL), "push");
        while (crdt_causal_queue_pop(rx, &out) == CRDT_OK)
            ;
        crdt_causal_queue_stats(rx, &st);
        if (st.held > maxheld)
            maxheld = st.held;
    }
    t1 = now_s();
    crdt_causal_queue_stats(rx, &st);
    if (st.delivered != nm || st.held != 0) {
        fprintf(stderr, "crdt-causal-bench: delivered %llu of %zu\n",
                (unsigned long long)st.delivered, nm);
        return 1;
    }
    printf("senders=%zu messages=%zu window=%zu pushes=%zu duplicates=%llu "
           "max_held=%zu seconds=%.3f pushes_per_s=%.0f "
           "deliveries_per_s=%.0f\n",
           ns, nm, win, npush, (unsigned long long)st.duplicates, maxheld,
           t1 - t0, (double)npush / (t1 - t0), (double)nm / (t1 - t0));
    crdt_causal_queue_free(rx);
    for (k = 0; k < nm; k++)
        crdt_vclock_free(m[k].stamp);
    free(m);
    free(order);
    free(nodes);
    return 0;
}
