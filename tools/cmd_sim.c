/* SPDX-License-Identifier: MIT */
/*
 * crdt sim SCENARIO: runs a scenario file (JSON Lines) on the gossip
 * engine's simulator and prints how the cluster converged, as one line of
 * JSON.  The format and the run are the library's
 * (crdt_sim_run_scenario, <crdt/sim.h>); README.md, "Scenarios", is the
 * reference.
 *
 * Exit status: 0 converged, 3 not converged within --max-ms, 1 a bad
 * scenario (one line naming the scenario's line and the problem) or an
 * I/O error, 2 a usage error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <crdt/sim.h>

#include "cli.h"

#define EXIT_NOT_CONVERGED 3

static int run_sim(const command *c, opts *o)
{
    const char *path = pos_file(o, 0);
    crdt_sim_scenario_options so;
    uint8_t *text;
    size_t len;
    char err[256];
    bool converged = false;
    out ob;
    int rv, status;

    (void)c;
    if ((status = read_input(path, &text, &len)))
        return status;
    crdt_sim_scenario_options_default(&so);
    if (o->have_max_ms)
        so.max_ms = o->max_ms;
    so.dump = o->dump;
    out_init(&ob);
    rv = crdt_sim_run_scenario((const char *)text, len, &so, NULL, &ob.b,
                               &converged, err, sizeof err);
    free(text);
    if (rv) {
        out_clear(&ob);
        if (rv == CRDT_ERR_DECODE)
            return fail(EXIT_INPUT, "%s: %s", label(path), err);
        return fail(EXIT_INPUT, "%s: %s", label(path), crdt_strerror(rv));
    }
    out_str(&ob, "\n");
    status = emit(&ob, o->output);
    out_clear(&ob);
    if (!status && !converged)
        status = EXIT_NOT_CONVERGED;
    return status;
}

const command cmd_sim = {
    .name = "sim",
    .synopsis = "[--max-ms MS] [--dump] SCENARIO",
    .summary = "run a scenario on the gossip simulator",
    .run = run_sim,
    .applies = OP_NONE,
    .optmask = OPT_OUTPUT | OPT_SIM,
    .min_pos = 1,
    .max_pos = 1,
    .usage = "[--max-ms MS] [--dump] [-o FILE] SCENARIO",
    .help =
        "Runs SCENARIO (a JSON Lines file, '-' for stdin) on a simulated\n"
        "cluster of gossip engines.  The first line configures the cluster,\n"
        "e.g. {\"nodes\": 50, \"seed\": 7, \"loss\": 0.3}; every later line "
        "is\none event at simulated time t (milliseconds, non-decreasing): "
        "a write\n({\"t\": 0, \"node\": 3, \"key\": \"hits\", \"type\": "
        "\"gcounter\", \"op\": \"inc\"}),\na partition, heal, crash, "
        "restart, a network change.  After the last\nevent the run goes on "
        "until every live node holds an identical store.\n"
        "\n"
        "Prints one line of JSON: converged, converged_ms (the simulated "
        "time\nat which the nodes became equal), rounds (after the last "
        "event),\nmessages, bytes, trace_hash (the same seed gives the same "
        "hash).\n"
        "\n"
        "  --max-ms MS  give up MS simulated ms after the last event\n"
        "               (default 3600000, one hour)\n"
        "  --dump       also print every node's values (\"nodes\")\n" OUTPUT_HELP
        "\n"
        "exit status: 0 converged, 3 not converged, 1 bad scenario (the "
        "line and\nthe problem on stderr), 2 usage error.  README.md, "
        "\"Scenarios\", lists\nevery setting and event.\n",
};
