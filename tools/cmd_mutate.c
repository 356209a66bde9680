/* SPDX-License-Identifier: MIT */
/*
 * crdt new, inc, dec, set, add, remove, enable, disable: the commands that
 * make a state or change one.  Each reads one state, applies the type's
 * operation from the type table (cli_types.c) and writes the new state.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <crdt/common.h>
#include <crdt/type.h>

#include "cli.h"

static int run_new(const command *c, opts *o)
{
    const type_ops *t = type_by_name(o->pos[0]);
    char names[256];
    state st;
    int status;

    if (!t) {
        type_names(names, sizeof names, OP_ANY);
        return usage_fail(c, "unknown type '%s' (types: %s)", o->pos[0],
                          names);
    }
    st.ops = t;
    st.t = t->type();
    if (!(st.obj = st.t->create(NULL)))
        return fail(EXIT_INPUT, "%s", crdt_strerror(CRDT_ERR_NOMEM));
    status = emit_state(&st, o->output);
    state_clear(&st);
    return status;
}

/* inc, dec, set, add, remove, enable, disable: [ARG] [FILE], ARG being
 * set's VALUE or add's and remove's ELEM. */
static int run_op(const command *c, opts *o)
{
    bool has_arg = c->applies == OP_SET || c->applies == OP_ADD ||
                   c->applies == OP_REMOVE;
    const char *path = pos_file(o, has_arg ? 1 : 0);
    op_args a;
    state st;
    int rv, status;

    op_args_init(&a, c->applies, o, has_arg ? o->pos[0] : NULL);
    if ((status = load_state(o, path, &st)))
        return status;
    if (!type_has(st.ops, c->applies))
        status = not_applicable(c, path, &st);
    else if ((status = op_usage(c, st.ops, &a)) >= 0)
        ; /* reported */
    else if ((rv = type_apply(st.ops, st.obj, &a, NULL)))
        status = op_fail(label(path), st.t, &a, rv);
    else
        status = emit_state(&st, o->output);
    state_clear(&st);
    return status;
}

const command cmd_new = {
    .name = "new",
    .synopsis = "TYPE",
    .summary = "an empty state",
    .run = run_new,
    .applies = OP_ANY,
    .optmask = OPT_OUTPUT,
    .min_pos = 1,
    .max_pos = 1,
    .usage = "TYPE [-o FILE]",
    .help =
        "Writes the canonical encoding of an empty state of TYPE (an hlc is\n"
        "a clock that has issued nothing).\n\n" OUTPUT_HELP,
};

const command cmd_inc = {
    .name = "inc",
    .synopsis = "--actor N [--by N] [FILE]",
    .summary = "increment a counter or clock",
    .run = run_op,
    .applies = OP_INC,
    .optmask = OPT_OUTPUT | OPT_ACTOR | OPT_BY,
    .min_pos = 0,
    .max_pos = 1,
    .usage = "(--actor N | --actor-name NAME) [--by N] [-o FILE] [FILE]",
    .help =
        "Adds N (default 1) to the actor's entry and writes the new state;\n"
        "for a dotctx, records the actor's next N events (N at most 2^24).\n"
        "Overflow is an error and changes nothing.\n\n" FILE_HELP "\n"
        ACTOR_HELP BY_HELP OUTPUT_HELP,
};

const command cmd_dec = {
    .name = "dec",
    .synopsis = "--actor N [--by N] [FILE]",
    .summary = "decrement a PN-counter",
    .run = run_op,
    .applies = OP_DEC,
    .optmask = OPT_OUTPUT | OPT_ACTOR | OPT_BY,
    .min_pos = 0,
    .max_pos = 1,
    .usage = "(--actor N | --actor-name NAME) [--by N] [-o FILE] [FILE]",
    .help =
        "Subtracts N (default 1) from a counter and writes the new state.\n"
        "Overflow is an error and changes nothing.\n\n" FILE_HELP "\n"
        ACTOR_HELP BY_HELP OUTPUT_HELP,
};

const command cmd_set = {
    .name = "set",
    .synopsis = "--actor N [--time T] VALUE [FILE]",
    .summary = "write a register",
    .run = run_op,
    .applies = OP_SET,
    .optmask = OPT_OUTPUT | OPT_ACTOR | OPT_TIME,
    .min_pos = 1,
    .max_pos = 2,
    .usage =
        "(--actor N | --actor-name NAME) [--time T] [-o FILE] VALUE [FILE]",
    .help =
        "Writes VALUE (the argument's bytes) into a register "
        "with timestamp T\n"
        "and writes the new state.  Without --time, T comes from a hybrid\n"
        "logical clock on the system clock that first observes "
        "the register's\n"
        "timestamp, so the write wins over the one it replaces (an error if\n"
        "that timestamp is more than 60 s ahead of the system clock).  With\n"
        "--time, a write that orders before the register's current write\n"
        "(by timestamp, then actor, then bytes) leaves it as it is, as any\n"
        "merge would.  An mvreg write takes no --time (a usage error): it\n"
        "supersedes every sibling the register holds, and writes made\n"
        "concurrently elsewhere stay beside it as siblings after a merge.\n"
        "A VALUE starting with '-' goes after '--'.\n\n"
        FILE_HELP "\n" ACTOR_HELP TIME_HELP OUTPUT_HELP,
};

const command cmd_add = {
    .name = "add",
    .synopsis = "[--actor N] ELEM [FILE]",
    .summary = "add to a set",
    .run = run_op,
    .applies = OP_ADD,
    .optmask = OPT_OUTPUT | OPT_ACTOR | OPT_ACTOR_OPTIONAL,
    .min_pos = 1,
    .max_pos = 2,
    .usage = "[--actor N | --actor-name NAME] [-o FILE] ELEM [FILE]",
    .help =
        "Adds ELEM (the argument's bytes) to a set and writes the new state.\n"
        "An orset add is an event of the actor, which is required; a gset\n"
        "add needs no actor (one given is ignored).  An ELEM starting with\n"
        "'-' goes after '--'.\n\n"
        FILE_HELP "\n" ACTOR_HELP OUTPUT_HELP,
};

const command cmd_remove = {
    .name = "remove",
    .synopsis = "ELEM [FILE]",
    .summary = "remove from an OR-set",
    .run = run_op,
    .applies = OP_REMOVE,
    .optmask = OPT_OUTPUT,
    .min_pos = 1,
    .max_pos = 2,
    .usage = "[-o FILE] ELEM [FILE]",
    .help =
        "Removes ELEM from an orset and writes the new state: removes the\n"
        "adds this state has observed, so an add made concurrently elsewhere\n"
        "survives a merge (add wins).  Removing an absent element changes\n"
        "nothing.  An ELEM starting with '-' goes after '--'.\n\n"
        FILE_HELP "\n" OUTPUT_HELP,
};

const command cmd_enable = {
    .name = "enable",
    .synopsis = "[--actor N] [FILE]",
    .summary = "enable a flag",
    .run = run_op,
    .applies = OP_ENABLE,
    .optmask = OPT_OUTPUT | OPT_ACTOR | OPT_ACTOR_OPTIONAL,
    .min_pos = 0,
    .max_pos = 1,
    .usage = "[--actor N | --actor-name NAME] [-o FILE] [FILE]",
    .help =
        "Enables a flag and writes the new state.  ewflag (enable-wins, new:\n"
        "false): an event of the actor, which is required; it wins over a\n"
        "concurrent disable.  dwflag (disable-wins, new: true): removes the\n"
        "disables this state has observed (no actor needed; one given is\n"
        "ignored); a concurrent disable wins.\n\n"
        FILE_HELP "\n" ACTOR_HELP OUTPUT_HELP,
};

const command cmd_disable = {
    .name = "disable",
    .synopsis = "[--actor N] [FILE]",
    .summary = "disable a flag",
    .run = run_op,
    .applies = OP_DISABLE,
    .optmask = OPT_OUTPUT | OPT_ACTOR | OPT_ACTOR_OPTIONAL,
    .min_pos = 0,
    .max_pos = 1,
    .usage = "[--actor N | --actor-name NAME] [-o FILE] [FILE]",
    .help =
        "Disables a flag and writes the new state.  dwflag (disable-wins):\n"
        "an event of the actor, which is required; it wins over a concurrent\n"
        "enable.  ewflag (enable-wins): removes the enables this state has\n"
        "observed (no actor needed; one given is ignored); a concurrent\n"
        "enable wins.\n\n"
        FILE_HELP "\n" ACTOR_HELP OUTPUT_HELP,
};
