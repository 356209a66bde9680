/* SPDX-License-Identifier: MIT */
/*
 * crdt: the libcrdt command-line tool.
 *
 * A state travels as its canonical encoding.  Every command reads whole
 * states (from FILE or stdin, at most MAX_INPUT bytes), decodes them with
 * the type's own decoder (which treats every byte as hostile), works on the
 * decoded object, and builds its complete output in one crdt_buf before
 * writing it in one go: to stdout, or with -o to a temporary file in the
 * target's directory that is then renamed over the target.  So a failing
 * command writes nothing but one line on stderr.
 *
 * This file holds main: the command table, dispatch, --help and
 * --version.  cli.h says where the rest is: what the commands share
 * (cli_common.c), the type table (cli_types.c), and the commands, one
 * file per group (cmd_*.c).
 *
 * Exit status: 0 success, 1 bad input or a failed operation (malformed
 * encoding, wrong type, overflow, I/O error), 2 usage (unknown command,
 * type or option, bad option value, wrong number of arguments).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <crdt/common.h>
#include <crdt/type.h>

#include "cli.h"

const char prog[] = "crdt";

/* ======================================================================
 * Help and dispatch
 * ====================================================================== */

/* The commands, in the order of `crdt --help`.  Each is defined in the
 * file of its group and declared in cli.h; adding a command is adding its
 * file to tools_crdt_SOURCES in Makefile.am, its declaration to cli.h and
 * its line here.  A command with subcommands (`crdt map update`) is a
 * group: its entry lists them (command.subs), and dispatch, help and
 * `crdt --help` go one word further. */
static const command *const commands[] = {
    &cmd_new,     /* cmd_mutate.c */
    &cmd_inc,
    &cmd_dec,
    &cmd_set,
    &cmd_add,
    &cmd_remove,
    &cmd_enable,
    &cmd_disable,
    &cmd_value,   /* cmd_read.c */
    &cmd_merge,   /* cmd_merge.c */
    &cmd_compare,
    &cmd_inspect, /* cmd_read.c */
    &cmd_map,     /* cmd_map.c: map update, map remove */
    &cmd_sim,     /* cmd_sim.c, with libcrdt-gossip */
    &cmd_keygen,  /* cmd_key.c, with libcrdt-gossip */
    &cmd_client,  /* cmd_client.c, with libcrdt-node */
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* Prints a line of a command list: NAME SYNOPSIS, then SUMMARY from
 * column 38 (two spaces after a longer synopsis). */
static void print_entry(const char *name, const char *synopsis,
                        const char *summary)
{
    int n = printf("  %s %s", name, synopsis);

    printf("%*s%s\n", n < 36 ? 38 - n : 2, "", summary);
}

/* Lists @p c, or each command of a group, without the first @p skip
 * characters of their names. */
static void print_entries(const command *c, size_t skip)
{
    const command *const *s;

    if (!c->subs) {
        print_entry(c->name + skip, c->synopsis, c->summary);
        return;
    }
    for (s = c->subs; *s; s++)
        print_entry((*s)->name + skip, (*s)->synopsis, (*s)->summary);
}

static void print_command_help(const command *c)
{
    char names[256];

    type_names(names, sizeof names, c->applies);
    printf("usage: %s %s %s\n\n%s\n", prog, c->name, c->usage, c->help);
    if (c->subs) {
        printf("subcommands:\n");
        print_entries(c, strlen(c->name) + 1);
        printf("\n");
    }
    if (c->applies != OP_NONE)
        printf("%s: %s\n", c->applies == OP_ANY ? "types" : "applies to",
               names);
}

static void print_help(void)
{
    char names[256];
    size_t i;

    type_names(names, sizeof names, OP_ANY);
    printf("usage: %s COMMAND [OPTIONS] [ARGS]\n"
           "\n"
           "Works on libcrdt states in their canonical encoding: reads a "
           "state from\nFILE or stdin, writes the new state to stdout or -o "
           "FILE.\n"
           "\n"
           "commands:\n",
           prog);
    for (i = 0; i < N_COMMANDS; i++)
        print_entries(commands[i], 0);
    print_entry("help", "[COMMAND]", "this text, or a command's");
    printf("\n"
           "types: %s\n"
           "\n"
           "Actors are --actor N (decimal uint64) or --actor-name NAME "
           "(XXH3-64 of\nNAME's bytes).  In JSON output, actor ids and "
           "counters are exact decimal\nnumbers, which may exceed 2^53.  "
           "Inputs are limited to 64 MiB.\n"
           "\n"
           "exit status: 0 success, 1 bad input or failed operation (one "
           "line on\nstderr; for a bad encoding the error and its byte "
           "offset), 2 usage error.\n"
           "\n"
           "'%s COMMAND --help' describes a command.  %s --version prints "
           "the version.\n",
           names, prog, prog);
}

static const command *command_by_name(const char *name)
{
    size_t i;

    for (i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

/* The subcommand of @p group named @p name (after the group's name). */
static const command *sub_by_name(const command *group, const char *name)
{
    size_t skip = strlen(group->name) + 1;
    const command *const *s;

    for (s = group->subs; *s; s++)
        if (strcmp((*s)->name + skip, name) == 0)
            return *s;
    return NULL;
}

/* True iff argv (before any "--") asks for help. */
static bool wants_help(int argc, char **argv)
{
    int i;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

static int flush_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout))
        return fail(EXIT_INPUT, "stdout: %s", strerror(errno));
    return 0;
}

/* crdt help [COMMAND [SUBCOMMAND]] */
static int run_help(int argc, char **argv)
{
    const command *c, *sub;
    int next = 3;

    if (argc == 2) {
        print_help();
        return flush_stdout();
    }
    c = command_by_name(argv[2]);
    if (c && c->subs && argc > 3 && (sub = sub_by_name(c, argv[3]))) {
        c = sub;
        next = 4;
    }
    if (argc > next)
        return usage_fail(NULL, "help: unexpected argument '%s'",
                          argv[next]);
    if (!c)
        return usage_fail(NULL, "help: unknown command '%s'", argv[2]);
    print_command_help(c);
    return flush_stdout();
}

int main(int argc, char **argv)
{
    const command *c, *sub;
    crdt_registry *reg, *clock_reg;
    opts o;
    int next = 2, status;

    if (argc < 2)
        return usage_fail(NULL, "missing command");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_help();
        return flush_stdout();
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("%s (libcrdt) %s\n", prog, crdt_version_string());
        return flush_stdout();
    }
    if (strcmp(argv[1], "help") == 0)
        return run_help(argc, argv);
    if (!(c = command_by_name(argv[1]))) {
        if (argv[1][0] == '-')
            return usage_fail(NULL, "unknown option '%s'", argv[1]);
        return usage_fail(NULL, "unknown command '%s'", argv[1]);
    }
    if (c == &cmd_client) /* its own options, see cmd_client.c */
        return client_main(argc - 1, argv + 1);
    if (c->subs) { /* a group: the subcommand in argv[2], or its help */
        if (argc > 2 && (sub = sub_by_name(c, argv[2]))) {
            c = sub;
            next = 3;
        } else if (wants_help(argc - 2, argv + 2)) {
            print_command_help(c);
            return flush_stdout();
        } else if (argc == 2) {
            return usage_fail(c, "missing subcommand");
        } else if (argv[2][0] == '-') {
            return usage_fail(c, "unknown option '%s'", argv[2]);
        } else {
            return usage_fail(c, "unknown subcommand '%s'", argv[2]);
        }
    }
    if (wants_help(argc - next, argv + next)) {
        print_command_help(c);
        return flush_stdout();
    }
    if ((status = parse_opts(c, argc - next, argv + next, &o)) >= 0)
        return status;
    reg = registry_new(true);
    clock_reg = registry_new(false);
    if (!reg || !clock_reg) {
        crdt_registry_free(reg);
        crdt_registry_free(clock_reg);
        return fail(EXIT_INPUT, "%s", crdt_strerror(CRDT_ERR_NOMEM));
    }
    o.reg = reg;
    o.clock_reg = clock_reg;
    status = c->run(c, &o);
    crdt_registry_free(reg);
    crdt_registry_free(clock_reg);
    return status;
}
