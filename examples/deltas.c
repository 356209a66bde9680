/* SPDX-License-Identifier: MIT */
/*
 * Delta-state replication: three replicas of a PN-counter and an LWW
 * register exchange only deltas (small states of the same type), in
 * different orders and with a duplicate, and still converge.  Built and
 * run by `make check`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>

#define N 3

static int check(int rv, const char *what)
{
    if (rv != CRDT_OK) {
        fprintf(stderr, "%s: %s\n", what, crdt_strerror(rv));
        exit(EXIT_FAILURE);
    }
    return rv;
}

int main(void)
{
    crdt_pncounter *stock[N], *delta[N];
    crdt_lww *title[N], *tdelta[N];
    crdt_hlc *clock = crdt_hlc_new(NULL, NULL);
    crdt_actor id[N];
    int64_t v;
    int i, j;

    if (!clock)
        return EXIT_FAILURE;
    for (i = 0; i < N; i++) {
        char name[32];

        snprintf(name, sizeof name, "replica-%d", i);
        id[i] = crdt_actor_from_name(name, strlen(name));
        stock[i] = crdt_pncounter_new(NULL);
        delta[i] = crdt_pncounter_new(NULL);
        title[i] = crdt_lww_new(NULL);
        tdelta[i] = crdt_lww_new(NULL);
        if (!stock[i] || !delta[i] || !title[i] || !tdelta[i])
            return EXIT_FAILURE;
    }

    /* Local updates; each joins its delta into delta[i] (a delta group). */
    check(crdt_pncounter_increment(stock[0], id[0], 10, delta[0]), "inc");
    check(crdt_pncounter_decrement(stock[0], id[0], 3, delta[0]), "dec");
    check(crdt_pncounter_increment(stock[1], id[1], 5, delta[1]), "inc");
    check(crdt_pncounter_decrement(stock[2], id[2], 1, delta[2]), "dec");
    check(crdt_lww_set_now(title[1], clock, id[1], "draft", 5, tdelta[1]),
          "set");
    check(crdt_lww_set_now(title[2], clock, id[2], "final", 5, tdelta[2]),
          "set");

    /* Every replica merges every delta group, in its own order, plus one
     * duplicate: merge is idempotent, so the duplicate is harmless. */
    for (i = 0; i < N; i++) {
        for (j = 0; j < N; j++) {
            int k = (i + j) % N;

            check(crdt_pncounter_merge(stock[i], delta[k]), "merge");
            check(crdt_lww_merge(title[i], tdelta[k]), "merge");
        }
        check(crdt_pncounter_merge(stock[i], delta[i]), "merge");
    }

    for (i = 0; i < N; i++) {
        const uint8_t *p;
        size_t len;

        check(crdt_pncounter_value(stock[i], &v), "value");
        check(crdt_lww_value(title[i], &p, &len), "value");
        printf("replica %d: stock %" PRId64 ", title %.*s\n", i, v, (int)len,
               (const char *)p);
        if (!crdt_pncounter_equal(stock[i], stock[0]) ||
            !crdt_lww_equal(title[i], title[0]) || v != 11) {
            fprintf(stderr, "replicas diverged\n");
            return EXIT_FAILURE;
        }
    }

    for (i = 0; i < N; i++) {
        crdt_pncounter_free(stock[i]);
        crdt_pncounter_free(delta[i]);
        crdt_lww_free(title[i]);
        crdt_lww_free(tdelta[i]);
    }
    crdt_hlc_free(clock);
    return EXIT_SUCCESS;
}
