/* SPDX-License-Identifier: MIT */
/*
 * crdt-sim-bench: how fast the network simulator (crdt/sim.h) drives the
 * gossip engine, in simulated deliveries per second of wall-clock time.
 *
 *     bench/crdt-sim-bench [nodes [writes [tail_s]]] [--join] [--seed N]
 *
 * A cluster of `nodes` (1000) starts formed (every node knows every
 * other; --join: only node 0), runs 1 s, takes `writes` (1) G-counter
 * increments on nodes 0, 1, ..., runs until converged, then `tail_s` (0)
 * more simulated seconds of steady-state gossip.  It prints the time to
 * build the cluster and, for the run, the simulated time, events,
 * deliveries, bytes, and deliveries and events per wall-clock second.
 * The run is deterministic (the trace hash is printed): only the wall
 * clock varies between runs.
 */
#define _POSIX_C_SOURCE 200809L

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crdt/gcounter.h>
#include <crdt/sim.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int inc(void *value, void *delta, const crdt_gossip_write *w,
               void *user)
{
    (void)user;
    return crdt_gcounter_increment(value, w->actor, 1, delta);
}

static void check(int rv, const char *what)
{
    if (rv) {
        fprintf(stderr, "crdt-sim-bench: %s: %s\n", what, crdt_strerror(rv));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    crdt_sim_settings s;
    crdt_sim *sim;
    crdt_sim_stats st;
    unsigned long num[3] = {1000, 1, 0};
    int nnum = 0, i;
    uint64_t conv;
    double t0, t1, t2;

    crdt_sim_settings_default(&s);
    s.seed = 42;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--join") == 0)
            s.join_seed = true;
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            s.seed = strtoull(argv[++i], NULL, 0);
        else if (nnum < 3 && argv[i][0] >= '0' && argv[i][0] <= '9')
            num[nnum++] = strtoul(argv[i], NULL, 10);
        else {
            fprintf(stderr, "usage: crdt-sim-bench [nodes [writes "
                            "[tail_s]]] [--join] [--seed N]\n");
            return 2;
        }
    }
    s.nodes = num[0];
    t0 = now_s();
    check(crdt_sim_new(&sim, &s, NULL), "crdt_sim_new");
    t1 = now_s();
    check(crdt_sim_run_until(sim, 1000), "run");
    for (i = 0; (unsigned long)i < num[1]; i++)
        check(crdt_sim_update(sim, (size_t)i % s.nodes, "k", 1,
                              crdt_gcounter_type(), inc, NULL),
              "update");
    check(crdt_sim_run_until_converged(sim, 3600 * 1000, &conv), "run");
    if (conv == CRDT_GOSSIP_NEVER) {
        fprintf(stderr, "crdt-sim-bench: no convergence in an hour\n");
        return 1;
    }
    check(crdt_sim_run_until(sim, crdt_sim_now(sim) + num[2] * 1000),
          "run");
    t2 = now_s();
    crdt_sim_stats_get(sim, &st);
    printf("nodes=%zu %s writes=%lu build_s=%.3f converged_ms=%llu "
           "sim_ms=%llu events=%llu delivered=%llu bytes=%llu run_s=%.3f "
           "deliveries_per_s=%.0f events_per_s=%.0f trace=%016llx\n",
           s.nodes, s.join_seed ? "join" : "formed", num[1], t1 - t0,
           (unsigned long long)conv,
           (unsigned long long)crdt_sim_now(sim),
           (unsigned long long)st.events, (unsigned long long)st.delivered,
           (unsigned long long)st.delivered_bytes, t2 - t1,
           (double)st.delivered / (t2 - t1), (double)st.events / (t2 - t1),
           (unsigned long long)crdt_sim_trace_hash(sim));
    crdt_sim_free(sim);
    return 0;
}
