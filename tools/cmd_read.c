/* SPDX-License-Identifier: MIT */
/*
 * crdt value and inspect: the commands that print a state, through the
 * type table's value and inspect (cli_types.c).
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

/* value and inspect: the state's value, or all of it as JSON. */
static int run_print(const command *c, opts *o)
{
    bool inspect = c == &cmd_inspect;
    const char *path = pos_file(o, 0);
    state st;
    out ob;
    int rv, status;

    if ((status = load_state(o, path, &st)))
        return status;
    out_init(&ob);
    if (inspect) {
        out_str(&ob, "{\"type\":\"");
        out_str(&ob, st.t->name);
        out_str(&ob, "\",\"version\":");
        out_u64(&ob, CRDT_FORMAT_VERSION);
        if (!(rv = st.ops->inspect(st.obj, &ob)))
            out_str(&ob, "}\n");
    } else {
        rv = st.ops->value(st.obj, &ob);
    }
    if (rv == CRDT_ERR_NOT_FOUND && !inspect)
        status = fail(EXIT_INPUT, "%s: %s has no value (never written)",
                      label(path), st.t->name);
    else if (rv)
        status = fail(EXIT_INPUT, "%s: %s", label(path), crdt_strerror(rv));
    else
        status = emit(&ob, o->output);
    out_clear(&ob);
    state_clear(&st);
    return status;
}

const command cmd_value = {
    .name = "value",
    .synopsis = "[FILE]",
    .summary = "print the value",
    .run = run_print,
    .applies = OP_ANY,
    .optmask = OPT_OUTPUT,
    .min_pos = 0,
    .max_pos = 1,
    .usage = "[-o FILE] [FILE]",
    .help =
        "Prints the state's value:\n"
        "  gcounter, pncounter  the value, a decimal integer (a PN-counter's\n"
        "          is exact, even beyond the int64 range)\n"
        "  vclock  one line of JSON, {\"actor\": counter, ...}, actors as "
        "decimal\n          strings (JSON keys), ascending\n"
        "  dotctx  one line of JSON, {\"vv\":{\"actor\": counter, ...},\n"
        "          \"cloud\":[{\"actor\":A,\"counter\":C},...]}\n"
        "  lww     the value's bytes as they are (no newline added); an "
        "empty\n          register (never written) is an error, exit 1\n"
        "  hlc     the last timestamp issued, a decimal integer\n"
        "  gset, orset  the elements in byte order, one per line\n"
        "  mvreg   every sibling's value in byte order, one per line (two\n"
        "          siblings holding the same bytes print twice; no sibling\n"
        "          prints nothing)\n"
        "  ewflag, dwflag  true or false\n"
        "  ormap   one line of JSON: the present keys in key order,\n"
        "          [{\"key\":BYTES,\"value\":V},...], V the key's value as\n"
        "          'crdt inspect' prints it "
        "(BYTES: see 'crdt inspect --help')\n"
        "Elements and sibling values are printed as they are, each followed\n"
        "by a newline: one that contains a newline spans several lines (use\n"
        "'crdt inspect' for exact bytes).\n\n"
        FILE_HELP "\n" OUTPUT_HELP,
};

const command cmd_inspect = {
    .name = "inspect",
    .synopsis = "[FILE]",
    .summary = "any encoding as JSON",
    .run = run_print,
    .applies = OP_ANY,
    .optmask = OPT_OUTPUT,
    .min_pos = 0,
    .max_pos = 1,
    .usage = "[-o FILE] [FILE]",
    .help =
        "Prints any libcrdt encoding as one line of JSON: \"type\", "
        "\"version\"\n(the format version), the type's fields, and "
        "\"value\":\n"
        "  vclock  \"entries\":[{\"actor\":A,\"counter\":C},...], "
        "\"value\":{\"A\":C,...}\n"
        "  dotctx  \"vv\":[{\"actor\":A,\"counter\":C},...], "
        "\"cloud\":[{\"actor\":A,\"counter\":C},...],\n"
        "          \"value\":{\"vv\":{\"A\":C,...},\"cloud\":[...]}\n"
        "  gcounter  \"entries\":[{\"actor\":A,\"count\":C},...], "
        "\"value\":V\n"
        "  pncounter  \"p\":[{\"actor\":A,\"count\":C},...], "
        "\"n\":[...], \"value\":V\n"
        "  lww     \"timestamp\":T, \"actor\":A, \"value\":BYTES "
        "(empty: \"value\":null)\n"
        "  hlc     \"ms\":M, \"logical\":L, \"value\":T\n"
        "  gset    \"value\":[BYTES,...] (byte order)\n"
        "  orset   CONTEXT, "
        "\"elements\":[{\"elem\":BYTES,\"dots\":DOTS},...],\n"
        "          \"value\":[BYTES,...]\n"
        "  mvreg   CONTEXT, \"siblings\":[{\"actor\":A,\"counter\":C,"
        "\"value\":BYTES},...]\n"
        "          (dot order), \"value\":[BYTES,...] (byte order)\n"
        "  ewflag, dwflag  CONTEXT, \"dots\":DOTS, \"value\":true|false\n"
        "  ormap   CONTEXT, \"entries\":[{\"key\":BYTES,\"type\":NAME,"
        "\"dots\":DOTS},...]\n"
        "          (every entry in key, then tag order: the value's type "
        "and the\n          key's dots),\n"
        "          \"value\":[{\"key\":BYTES,\"value\":V},...] (present "
        "keys; V as\n"
        "          inspect prints the value, nested maps too)\n"
        "CONTEXT is the causal context as dotctx prints it, \"vv\":[...], "
        "\"cloud\":DOTS;\nDOTS is [{\"actor\":A,\"counter\":C},...].\n"
        "BYTES is {\"hex\":\"6869\",\"text\":\"hi\"}: \"text\" is the bytes "
        "as a JSON\nstring if they are valid UTF-8, else null.  Actor ids, "
        "counters and\ntimestamps are exact decimal JSON numbers that may "
        "exceed 2^53: read\nthem with a parser that keeps big integers "
        "(Python's json does).\n\n"
        FILE_HELP "\n" OUTPUT_HELP,
};
