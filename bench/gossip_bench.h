/* SPDX-License-Identifier: MIT */
/* The gossip section of crdt-bench (gossip_bench.c). */
#ifndef CRDT_GOSSIP_BENCH_H
#define CRDT_GOSSIP_BENCH_H

/* Runs the gossip cases; argv holds the options after --gossip (--json,
 * --quick, --curve FILE).  Returns the exit status. */
int gossip_bench_main(int argc, char **argv);

#endif
