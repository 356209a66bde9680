/* SPDX-License-Identifier: MIT */
/*
 * Three gossip nodes on one libuv loop, each on its own loopback UDP
 * socket through libcrdt-node (crdt/gossip_uv.h): the transport owns the
 * socket and the timer, the application only makes nodes and writes.
 * Each node increments a shared counter and adds its name to a shared
 * set; a check timer stops the loop once every node holds the same store
 * (or after 10 seconds), then every node is detached and freed.
 * `make check` runs it.  Only 127.0.0.1 is used, on ports the kernel
 * picks.
 */
#define _POSIX_C_SOURCE 200809L /* uv.h under -std=c11 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>
#include <crdt/gossip_uv.h>

#define NODES 3

static crdt_gossip *g[NODES];
static crdt_gossip_uv *net[NODES];
static char addr[NODES][CRDT_GOSSIP_UV_ADDR_MAX];
static int converged;

static int inc(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    (void)u;
    return crdt_gcounter_increment(v, w->actor, 1, d);
}

static int add(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    const char *name = u;

    return crdt_orset_add(v, w->actor, name, strlen(name), d);
}

static void check(int rv, const char *what)
{
    if (rv) {
        fprintf(stderr, "gossip_uv: %s: %s\n", what, crdt_strerror(rv));
        exit(1);
    }
}

static void on_error(void *user, int err, const char *what)
{
    fprintf(stderr, "gossip_uv: node %d: %s: %s\n", (int)(intptr_t)user,
            what, crdt_strerror(err));
}

/* Every 20 ms: has every node the same store, and found every other? */
static void on_check(uv_timer_t *t)
{
    int i;

    for (i = 0; i < NODES; i++)
        if (crdt_gossip_digest(g[i]) != crdt_gossip_digest(g[0]) ||
            crdt_gossip_peer_count(g[i]) != NODES - 1)
            return;
    converged = 1;
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL);
    for (i = 0; i < NODES; i++)
        crdt_gossip_uv_stop(net[i], NULL, NULL); /* the loop then ends */
}

static void on_give_up(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "gossip_uv: no convergence in 10 s\n");
    exit(1);
}

int main(void)
{
    static const char *const names[NODES] = {"ada", "grace", "edsger"};
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t check_timer, give_up;
    uint64_t start = uv_now(loop);
    int i;

    for (i = 0; i < NODES; i++) {
        crdt_gossip_settings s;
        crdt_gossip_uv_settings us;

        crdt_gossip_settings_default(&s); /* no send callback: polled */
        s.node_id = crdt_actor_from_name(names[i], strlen(names[i]));
        s.cluster_id = 42;
        s.seed = (uint64_t)i + 1; /* an app would draw it at random */
        s.round_ms = 50;
        s.repair_ms = 500;
        check(crdt_gossip_new(&g[i], &s, NULL), "new");
        crdt_gossip_uv_settings_default(&us);
        us.listen = "127.0.0.1:0";
        us.on_error = on_error;
        us.user = (void *)(intptr_t)i;
        check(crdt_gossip_uv_start(&net[i], loop, g[i], &us), "start");
        check(crdt_gossip_uv_address(net[i], addr[i], sizeof addr[i]),
              "address");
    }
    /* each node knows the next one only: membership gossip does the rest */
    for (i = 0; i < NODES; i++) {
        int next = (i + 1) % NODES;

        check(crdt_gossip_add_peer(g[i], crdt_gossip_node_id(g[next]),
                                   (const uint8_t *)addr[next],
                                   strlen(addr[next])),
              "add_peer");
        check(crdt_gossip_update(g[i], "visits", 6, crdt_gcounter_type(),
                                 inc, NULL),
              "update");
        check(crdt_gossip_update(g[i], "who", 3, crdt_orset_type(), add,
                                 (void *)names[i]),
              "update");
    }
    uv_timer_init(loop, &check_timer);
    uv_timer_start(&check_timer, on_check, 20, 20);
    uv_timer_init(loop, &give_up);
    uv_timer_start(&give_up, on_give_up, 10000, 0);
    uv_unref((uv_handle_t *)&give_up); /* does not keep the loop alive */
    uv_run(loop, UV_RUN_DEFAULT);
    for (i = 0; i < NODES; i++) {
        const crdt_type *t;
        const void *v;
        uint64_t visits = 0;
        size_t who = 0;

        if (crdt_gossip_get(g[i], "visits", 6, &t, &v) == CRDT_OK)
            visits = crdt_gcounter_value(v);
        if (crdt_gossip_get(g[i], "who", 3, &t, &v) == CRDT_OK)
            who = crdt_orset_size(v);
        printf("%-7s %s: visits=%llu, %zu names, %zu peers\n", names[i],
               addr[i], (unsigned long long)visits, who,
               crdt_gossip_peer_count(g[i]));
        if (visits != NODES || who != NODES ||
            crdt_gossip_peer_count(g[i]) != NODES - 1)
            converged = 0;
        crdt_gossip_free(g[i]);
    }
    printf("%s in %llu ms\n", converged ? "converged" : "NOT converged",
           (unsigned long long)(uv_now(loop) - start));
    uv_close((uv_handle_t *)&give_up, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 && converged ? 0 : 1;
}
