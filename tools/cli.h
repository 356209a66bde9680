/* SPDX-License-Identifier: MIT */
/*
 * What the files of the crdt command-line tool share.
 *
 *   crdt.c        main: the command table, dispatch, --help, --version
 *   cli_common.c  diagnostics, reading and decoding states, writing
 *                 output (-o), option parsing
 *   cli_json.c    the output buffer and the JSON helpers
 *   cli_types.c   the type table: what the tool does with each type
 *                 (mutators, compare, value, inspect), type lookups,
 *                 the registries states are decoded with
 *   cmd_*.c       the commands, one file per group, each command a
 *                 `const command` declared below
 *
 * Every command reads whole states, works on the decoded objects and
 * builds its complete output in one buffer (out) before writing it in one
 * go, so a failing command writes nothing but one line on stderr.
 */
#ifndef CRDT_TOOLS_CLI_H
#define CRDT_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/type.h>
#include <crdt/vclock.h> /* crdt_order */

/* Exit status: 0 success, 1 bad input or a failed operation (malformed
 * encoding, wrong type, overflow, I/O error), 2 usage (unknown command,
 * type or option, bad option value, wrong number of arguments). */
#define EXIT_INPUT 1
#define EXIT_USAGE 2

/* Largest input state accepted, in bytes (64 MiB). */
#define MAX_INPUT ((size_t)64 << 20)

/* The program's name in messages and help. */
extern const char prog[];

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* ======================================================================
 * Diagnostics (cli_common.c)
 * ====================================================================== */

/* Prints "crdt: <message>\n" on stderr and returns @p status. */
int fail(int status, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* The name a path is reported under ("stdin" for NULL or "-"). */
const char *label(const char *path);

/* Reads all of @p path ("-" or NULL: stdin), at most MAX_INPUT bytes,
 * into a new buffer the caller frees (never NULL on success).  Returns 0
 * or an exit status, the error printed. */
int read_input(const char *path, uint8_t **data, size_t *len);

/* ======================================================================
 * Output buffer and JSON (cli_json.c)
 * ====================================================================== */

/* A crdt_buf with a sticky error, so that formatting code can append
 * freely and check once. */
typedef struct out {
    crdt_buf b;
    int err;        /* first libcrdt error, sticky */
    unsigned depth; /* maps being printed, for nested maps' JSON */
} out;

void out_init(out *o);
void out_clear(out *o);
void out_bytes(out *o, const void *p, size_t n);
void out_str(out *o, const char *s);
void out_u64(out *o, uint64_t v);

/* Appends user bytes as JSON: {"hex":"...","text":"..."} where "text" is
 * the bytes as a JSON string if they are valid UTF-8, else null. */
void out_json_bytes(out *o, const uint8_t *p, size_t n);

/* Appends {"actor":A,"NAME":N}, after a comma if @p comma: an entry of a
 * JSON array of counts ("count") or dots ("counter"). */
void out_entry_json(out *o, bool comma, uint64_t actor, const char *name,
                    uint64_t n);

/* A borrowed byte string. */
typedef struct view {
    const uint8_t *p;
    size_t n;
} view;

/* qsort's comparison of views in byte order: memcmp over the common
 * length, then the shorter first (the order of the encodings). */
int view_cmp(const void *a, const void *b);

/* Reads the @p i-th element of a set or sibling of a register. */
typedef int (*view_fn)(const void *obj, size_t i, view *v);

/* Writes the @p n byte strings of @p obj in byte order: one per line
 * (the bytes as they are, then a newline) when @p json is false, else as
 * a JSON array of BYTES. */
int out_views(const void *obj, size_t n, view_fn get, bool json, out *o);

/* A reader of the canonical MessagePack that libcrdt writes: just the
 * unsigned integers, bins and array and map headers that causal contexts,
 * dot lists and map entries are made of.  Each function reads one item at
 * r->i and moves past it, or returns false (malformed or truncated). */
typedef struct rd {
    const uint8_t *p;
    size_t n, i;
} rd;

bool rd_uint(rd *r, uint64_t *v);
/* An array header (@p map false) or map header, its count to *@p count. */
bool rd_header(rd *r, bool map, uint64_t *count);
/* One object of any kind, nested ones included. */
bool rd_skip(rd *r);
/* A bin's bytes, borrowed from @p r. */
bool rd_bin(rd *r, view *v);
/* A list of dots [[actor, counter], ...], written to @p o as
 * [{"actor":A,"counter":C},...]. */
bool rd_dots_json(rd *r, out *o);

/* Writes the causal context of a dot-store state @p obj of type @p t
 * (orset, mvreg, flags, ormap) as dotctx's inspect prints it,
 * ,"vv":[...],"cloud":[...], read from its encoding; with @p dots (the
 * flags), the dots that follow the context too, as ,"dots":[...]. */
int dotstore_json(const crdt_type *t, const void *obj, bool dots, out *o);

/* ======================================================================
 * Types (cli_types.c)
 * ====================================================================== */

/*
 * One row per type: the library's descriptor of the type (<crdt/type.h>:
 * create, destroy, copy, equal, merge, encode, decode) and what this tool
 * adds for it.  Every function returns a libcrdt error code; an operation
 * is NULL when the command does not apply to the type.
 *
 * compare NULL means the order is derived from the lattice: a <= b iff
 * merge(a, b) == b.  set writes a register; time NULL means "now" from a
 * hybrid logical clock that has first seen the register's own timestamp.
 * add, remove, enable and disable get the actor as a pointer, NULL when
 * none was given; it is never NULL for the ops in actor_ops.  The
 * operations that change a state take a delta: NULL, or an object of the
 * type that the operation's delta is joined into (as the library's
 * mutators do; a map's plain value is updated through it).  On error the
 * state and the delta may have changed, and are dropped.
 * value writes what `crdt value` prints (with its final newline, if any)
 * or fails with CRDT_ERR_NOT_FOUND when there is no value; inspect writes
 * the JSON members that follow "type" and "version" (starting with a
 * comma), ending with "value".
 */
/* The operations a command may need of a type. */
typedef enum op_kind {
    OP_ANY,
    OP_MERGE,
    OP_INC,
    OP_DEC,
    OP_SET,
    OP_ADD,
    OP_REMOVE,
    OP_ENABLE,
    OP_DISABLE,
    OP_MAP,  /* the map commands (ormap) */
    OP_NONE  /* a command that reads no state (sim) */
} op_kind;

#define ACTOR_OP(k) (1u << (k))

typedef struct type_ops {
    const crdt_type *(*type)(void);
    bool replicated; /* a CRDT: merge and compare apply */
    int (*compare)(const void *a, const void *b, crdt_order *order);
    int (*inc)(void *obj, crdt_actor actor, uint64_t by, void *delta);
    int (*dec)(void *obj, crdt_actor actor, uint64_t by, void *delta);
    int (*set)(void *obj, crdt_actor actor, const uint64_t *time,
               const uint8_t *val, size_t len, void *delta);
    bool set_untimed; /* set takes no --time (writes ordered causally) */
    int (*add)(void *obj, const crdt_actor *actor, const uint8_t *elem,
               size_t len, void *delta);
    int (*remove)(void *obj, const uint8_t *elem, size_t len, void *delta);
    int (*enable)(void *obj, const crdt_actor *actor, void *delta);
    int (*disable)(void *obj, const crdt_actor *actor, void *delta);
    unsigned actor_ops; /* ACTOR_OP(k) for each op that makes a new event
                         * (a dot): the actor is then required; the
                         * others get NULL or ignore it */
    int (*value)(const void *obj, out *o);
    int (*inspect)(const void *obj, out *o);
} type_ops;

/* The row of the type named @p name, or of wire tag @p tag; NULL if the
 * tool has none. */
const type_ops *type_by_name(const char *name);
const type_ops *type_by_tag(uint32_t tag);

/* True iff type @p t offers operation @p k (OP_ANY: every type does). */
bool type_has(const type_ops *t, op_kind k);

/* Writes the names of the types that offer @p k, separated by ", ", into
 * @p dst ("none" if no type does). */
void type_names(char *dst, size_t cap, op_kind k);

/* A registry of the table's replicated types (@p replicated) or of the
 * others (the clock); NULL if allocation fails. */
crdt_registry *registry_new(bool replicated);

/* ======================================================================
 * States: the command line, operations, input and output
 * ====================================================================== */

/* A decoded state: its type's row, its descriptor and the object. */
typedef struct state {
    const type_ops *ops;
    const crdt_type *t;
    void *obj;
} state;

/* Frees the object, if any, and empties @p st. */
void state_clear(state *st);

/* The command line, parsed. */
typedef struct opts {
    const char *output;
    bool have_actor;
    crdt_actor actor;
    bool have_by;
    uint64_t by;
    bool have_time;
    uint64_t time;
    bool have_max_ms; /* sim */
    uint64_t max_ms;
    bool dump;        /* sim */
    char **pos; /* positional arguments (compacted into argv) */
    int npos;
    const crdt_registry *reg;       /* the replicated types */
    const crdt_registry *clock_reg; /* the others: the clock */
} opts;

/* --- operations on a state (cli_types.c) --- */

/* An operation on a state (inc, dec, set, add, remove, enable, disable)
 * and its arguments. */
typedef struct op_args {
    op_kind kind;
    const crdt_actor *actor; /* NULL when none was given */
    uint64_t by;             /* inc, dec */
    const uint64_t *time;    /* set: NULL for "now" */
    const uint8_t *arg;      /* set's VALUE, add's and remove's ELEM */
    size_t len;
} op_args;

/* The command that runs operation @p k on a state ("inc", ...), and the
 * operation of that name (OP_ANY if none). */
const char *op_name(op_kind k);
op_kind op_by_name(const char *name);

/* Fills @p a with operation @p k, the options in @p o and @p arg (VALUE
 * or ELEM; NULL when the operation takes none). */
void op_args_init(op_args *a, op_kind k, const opts *o, const char *arg);

/* Applies @p a to @p obj of type @p t, which offers it (type_has) and
 * has passed op_usage, joining its delta into @p delta if not NULL.
 * Returns a libcrdt error code. */
int type_apply(const type_ops *t, void *obj, const op_args *a, void *delta);

/* Reports that @p a failed with @p rv on a state of type @p t, as
 * "crdt: WHERE: OP: <error>" (with a hint where --by or --time helps).
 * Returns EXIT_INPUT. */
int op_fail(const char *where, const crdt_type *t, const op_args *a, int rv);

/* --- input and output (cli_common.c) --- */

/* Reads (at most MAX_INPUT bytes) and decodes the state in @p path ("-"
 * or NULL: stdin), of any type the tool knows; on failure prints one line
 * and returns the exit status, with @p st empty. */
int load_state(const opts *o, const char *path, state *st);

/* Writes the finished output in one go: to stdout (@p path NULL or "-"),
 * or to @p path through a temporary file renamed over it (so @p path is
 * never half written).  A sticky error in @p o is reported instead.
 * Returns the exit status. */
int emit(out *o, const char *path);

/* Encodes @p st and writes it out as emit does. */
int emit_state(const state *st, const char *path);

/* ======================================================================
 * Commands (cli_common.c; the commands themselves in cmd_*.c)
 * ====================================================================== */

/* The options a command takes (command.optmask). */
enum {
    OPT_OUTPUT = 1 << 0, /* -o FILE, --output FILE */
    OPT_ACTOR = 1 << 1,  /* --actor N, --actor-name NAME */
    OPT_BY = 1 << 2,     /* --by N */
    OPT_TIME = 1 << 3,   /* --time T */
    OPT_ACTOR_OPTIONAL = 1 << 4, /* with OPT_ACTOR: the type decides */
    OPT_SIM = 1 << 5             /* --max-ms MS, --dump */
};

struct command;
typedef int (*cmd_fn)(const struct command *c, opts *o);

typedef struct command {
    const char *name;
    const char *synopsis; /* its line in `crdt --help`: the arguments, */
    const char *summary;  /* and what it does in a few words */
    cmd_fn run;
    op_kind applies;      /* the types it applies to (help, errors) */
    unsigned optmask;
    int min_pos, max_pos; /* max_pos -1: unbounded */
    const char *usage;    /* synopsis after "crdt NAME " */
    const char *help;     /* description and options */
    const struct command *const *subs; /* a group of subcommands (run
                                        * NULL): them, NULL-terminated;
                                        * each named "GROUP SUB" */
} command;

/* Prints "crdt: CMD: <message> (see 'crdt CMD --help')" (without CMD
 * when @p c is NULL) and returns EXIT_USAGE. */
int usage_fail(const command *c, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Parses the arguments after the command name into @p o, as @p c allows.
 * Returns -1 to go on, or an exit status. */
int parse_opts(const command *c, int argc, char **argv, opts *o);

/* The file operand at @p idx, or NULL (stdin) if absent. */
const char *pos_file(const opts *o, int idx);

/* Reports that command @p c does not apply to the state's type; returns
 * EXIT_INPUT. */
int not_applicable(const command *c, const char *path, const state *st);

/* Checks the arguments of @p a for type @p t (cli_types.c): an actor
 * where the operation makes an event, no --time for a register ordered
 * causally.  Returns -1 if they are fine, else prints the usage error and
 * returns EXIT_USAGE. */
int op_usage(const command *c, const type_ops *t, const op_args *a);

/* Help texts shared by the commands' descriptions. */
#define OUTPUT_HELP                                                        \
    "  -o, --output FILE  write to FILE (atomically: a temporary file in\n" \
    "                     FILE's directory, renamed over it) instead of\n"  \
    "                     stdout\n"
#define ACTOR_HELP                                                         \
    "  --actor N          the replica's actor id, a decimal integer\n"      \
    "                     0..18446744073709551615\n"                        \
    "  --actor-name NAME  the actor id derived from NAME's bytes (XXH3-64,\n" \
    "                     seed 0: crdt_actor_from_name)\n"
#define BY_HELP                                                            \
    "  --by N             the amount, 1..18446744073709551615\n"
#define TIME_HELP                                                          \
    "  --time T           the timestamp, a decimal integer (an HLC\n"      \
    "                     timestamp is milliseconds << 16 | counter);\n"   \
    "                     lww only\n"
#define FILE_HELP                                                          \
    "FILE is a state in its canonical encoding (at most 64 MiB); without\n" \
    "FILE, or with '-', the state is read from stdin.\n"

/* The commands, by group. */
/* cmd_mutate.c: make or change a state */
extern const command cmd_new, cmd_inc, cmd_dec, cmd_set, cmd_add,
    cmd_remove, cmd_enable, cmd_disable;
/* cmd_read.c: print a state */
extern const command cmd_value, cmd_inspect;
/* cmd_merge.c: join and order states */
extern const command cmd_merge, cmd_compare;
/* cmd_map.c: the group `crdt map` (update, remove) */
extern const command cmd_map;
/* cmd_sim.c: run a scenario on the simulator (libcrdt-gossip) */
extern const command cmd_sim;
/* cmd_key.c: a new key for sealed datagrams (libcrdt-gossip) */
extern const command cmd_keygen;
/* cmd_client.c, with libcrdt-node: `crdt client` parses its own options */
extern const command cmd_client;
int client_main(int argc, char **argv);

#endif /* CRDT_TOOLS_CLI_H */
