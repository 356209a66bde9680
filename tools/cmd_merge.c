/* SPDX-License-Identifier: MIT */
/*
 * crdt merge and compare: the commands that join states of one type and
 * order them.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <crdt/common.h>
#include <crdt/type.h>

#include "cli.h"

static int run_merge(const command *c, opts *o)
{
    state acc, st;
    int i, nstdin = 0, rv, status;

    for (i = 0; i < o->npos; i++)
        if (strcmp(o->pos[i], "-") == 0 && ++nstdin > 1)
            return usage_fail(c, "stdin ('-') given more than once");
    if ((status = load_state(o, o->pos[0], &acc)))
        return status;
    if (!type_has(acc.ops, c->applies)) {
        status = not_applicable(c, o->pos[0], &acc);
        state_clear(&acc);
        return status;
    }
    for (i = 1; i < o->npos; i++) {
        if ((status = load_state(o, o->pos[i], &st)))
            break;
        if (st.t != acc.t)
            status = fail(EXIT_INPUT, "%s: cannot merge %s into %s (%s)",
                          label(o->pos[i]), st.t->name, acc.t->name,
                          label(o->pos[0]));
        else if ((rv = acc.t->merge(acc.obj, st.obj)))
            status = fail(EXIT_INPUT, "%s: merge: %s", label(o->pos[i]),
                          crdt_strerror(rv));
        state_clear(&st);
        if (status)
            break;
    }
    if (!status)
        status = emit_state(&acc, o->output);
    state_clear(&acc);
    return status;
}

/* The lattice order of two states of one type: with m = a merge b,
 * a == b is equal, m == b (a below b) before, m == a after, else
 * concurrent. */
static int derived_compare(const crdt_type *t, const void *a, const void *b,
                           crdt_order *order)
{
    void *m = t->create(NULL);
    bool ma, mb;
    int rv;

    if (!m)
        return CRDT_ERR_NOMEM;
    if ((rv = t->merge(m, a)) || (rv = t->merge(m, b))) {
        t->destroy(m);
        /* A join too large to represent is neither a nor b (both are
         * representable), so neither is below the other. */
        if (rv != CRDT_ERR_OVERFLOW)
            return rv;
        *order = CRDT_CONCURRENT;
        return CRDT_OK;
    }
    ma = t->equal(m, a);
    mb = t->equal(m, b);
    t->destroy(m);
    *order = ma && mb ? CRDT_EQUAL
             : mb     ? CRDT_BEFORE
             : ma     ? CRDT_AFTER
                      : CRDT_CONCURRENT;
    return CRDT_OK;
}

static int run_compare(const command *c, opts *o)
{
    state a, b;
    crdt_order order;
    out ob;
    int rv, status;

    if (strcmp(o->pos[0], "-") == 0 && strcmp(o->pos[1], "-") == 0)
        return usage_fail(c, "stdin ('-') given more than once");
    if ((status = load_state(o, o->pos[0], &a)))
        return status;
    if ((status = load_state(o, o->pos[1], &b))) {
        state_clear(&a);
        return status;
    }
    out_init(&ob);
    if (a.t != b.t) {
        status = fail(EXIT_INPUT, "%s: cannot compare %s with %s (%s)",
                      label(o->pos[1]), b.t->name, a.t->name,
                      label(o->pos[0]));
    } else if (!type_has(a.ops, c->applies)) {
        status = not_applicable(c, o->pos[0], &a);
    } else if ((rv = a.ops->compare
                         ? a.ops->compare(a.obj, b.obj, &order)
                         : derived_compare(a.t, a.obj, b.obj, &order))) {
        status = fail(EXIT_INPUT, "compare: %s", crdt_strerror(rv));
    } else {
        out_str(&ob, crdt_order_name(order));
        out_str(&ob, "\n");
        status = emit(&ob, o->output);
    }
    out_clear(&ob);
    state_clear(&a);
    state_clear(&b);
    return status;
}

const command cmd_merge = {
    .name = "merge",
    .synopsis = "FILE...",
    .summary = "merge states of one type",
    .run = run_merge,
    .applies = OP_MERGE,
    .optmask = OPT_OUTPUT,
    .min_pos = 1,
    .max_pos = -1,
    .usage = "[-o FILE] FILE...",
    .help =
        "Merges (joins) states of one type and writes the canonical encoding\n"
        "of the result: the same bytes in whatever order the files come.\n"
        "States of different types are an error.  '-' reads one of the\n"
        "states from stdin.\n\n" OUTPUT_HELP,
};

const command cmd_compare = {
    .name = "compare",
    .synopsis = "A B",
    .summary = "before, after, equal or concurrent",
    .run = run_compare,
    .applies = OP_MERGE,
    .optmask = OPT_OUTPUT,
    .min_pos = 2,
    .max_pos = 2,
    .usage = "[-o FILE] A B",
    .help =
        "Prints how state A is ordered against state B: before (B has seen\n"
        "all of A and more), after, equal or concurrent.  Both must have one\n"
        "type.  vclock, dotctx: the causal order.  lww: the order of "
        "the writes\n"
        "(never concurrent).  Counters, sets, mvreg, flags, ormap: the order\n"
        "of their lattice, A before B iff merging A into B leaves B as it is\n"
        "and A != B (B has seen all of A: every add, write, remove).\n\n"
        OUTPUT_HELP,
};
