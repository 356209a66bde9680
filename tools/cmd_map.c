/* SPDX-License-Identifier: MIT */
/*
 * crdt map update and map remove: build and change OR-maps from the
 * shell.
 *
 * map update's arguments are a path of steps, KEY TYPE OP, where the OP
 * of a nested map (TYPE ormap) is `update` followed by the next step, or
 * `remove KEY`, and any other OP is one of the operations of the
 * top-level commands (inc, dec, set, add, remove, enable, disable) with
 * its argument.  So step i is o->pos[3 i] (KEY), o->pos[3 i + 1] (TYPE),
 * o->pos[3 i + 2] (OP), and every step but the last is an `ormap update`.
 * The whole path is checked before the map is read.
 *
 * Then one crdt_ormap_update per step, each running the next step in its
 * callback on the value it gets (a nested map, with the map's causal
 * context), down to the last step, whose callback applies the operation
 * through the type table and fills the value's delta (from which the map
 * rebuilds a plain value).  The library makes the whole update atomic.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/common.h>
#include <crdt/ormap.h>
#include <crdt/type.h>

#include "cli.h"

/* A parsed map update path, and where its update failed. */
typedef struct path {
    char *const *pos;     /* the arguments; step i at pos[3 i] (above) */
    size_t n;             /* steps */
    const type_ops *t;    /* the last step's TYPE */
    const char *rm_key;   /* the last OP is a nested map's remove KEY; */
    op_args op;           /* else the last OP */
    crdt_actor actor;     /* the updates' actor */
    size_t level;         /* the step whose value the callback gets */
    size_t failed;        /* the deepest step that failed; n: none */
    bool op_failed;       /* ... in its last OP */
    const char *held;     /* CRDT_ERR_TYPE: the type the key holds */
} path;

static bool is_map(const type_ops *t)
{
    return type_has(t, OP_MAP);
}

/* Writes the OPs type @p t takes in a map, separated by ", ". */
static void op_names(char *dst, size_t cap, const type_ops *t)
{
    size_t used = 0;
    int k, n;

    if (is_map(t)) {
        snprintf(dst, cap, "update, remove");
        return;
    }
    snprintf(dst, cap, "none");
    for (k = OP_INC; k <= OP_DISABLE; k++) {
        if (!type_has(t, (op_kind)k))
            continue;
        n = snprintf(dst + used, cap - used, "%s%s", used ? ", " : "",
                     op_name((op_kind)k));
        if (n < 0 || (size_t)n >= cap - used)
            return;
        used += (size_t)n;
    }
}

/* Parses the steps in o->pos into @p p and checks the options against
 * the last OP.  Returns -1 to go on, with *@p next the index of the
 * FILE operand, or the exit status of a usage error. */
static int parse_path(const command *c, const opts *o, path *p, int *next)
{
    const char *word, *arg = NULL;
    char names[256];
    op_kind k;
    int i = 0, status;

    memset(p, 0, sizeof *p);
    p->pos = o->pos;
    p->actor = o->actor;
    for (;;) {
        if (i >= o->npos)
            return usage_fail(c, "missing KEY");
        if (++i >= o->npos)
            return usage_fail(c, "missing TYPE");
        p->t = type_by_name(o->pos[i]);
        if (!p->t || !type_has(p->t, OP_MERGE)) {
            type_names(names, sizeof names, OP_MERGE);
            return usage_fail(c, "'%s' is not a type a map holds (types: "
                              "%s)", o->pos[i], names);
        }
        p->n++;
        if (++i >= o->npos)
            return usage_fail(c, "missing OP");
        word = o->pos[i++];
        if (is_map(p->t) && strcmp(word, "update") == 0)
            continue;
        if (is_map(p->t))
            k = strcmp(word, "remove") == 0 ? OP_REMOVE : OP_ANY;
        else
            k = op_by_name(word);
        if (k == OP_ANY || (!is_map(p->t) && !type_has(p->t, k))) {
            op_names(names, sizeof names, p->t);
            return usage_fail(c, "'%s' is not an operation on %s "
                              "(operations: %s)", word, p->t->type()->name,
                              names);
        }
        if (k == OP_SET || k == OP_ADD || k == OP_REMOVE) {
            if (i >= o->npos)
                return usage_fail(c, "missing %s",
                                  is_map(p->t)  ? "KEY"
                                  : k == OP_SET ? "VALUE"
                                                : "ELEM");
            arg = o->pos[i++];
        }
        break;
    }
    if (is_map(p->t))
        p->rm_key = arg;
    op_args_init(&p->op, k, o, arg);
    if (o->have_by && k != OP_INC && k != OP_DEC)
        return usage_fail(c, "--by does not apply to %s", word);
    if (o->have_time && k != OP_SET)
        return usage_fail(c, "--time does not apply to %s", word);
    if (k == OP_SET && (status = op_usage(c, p->t, &p->op)) >= 0)
        return status;
    if (o->npos - i > 1)
        return usage_fail(c, "unexpected argument '%s'", o->pos[i + 1]);
    *next = i;
    p->failed = p->n;
    return -1;
}

static int update_step(crdt_ormap *m, path *p, size_t k, crdt_ormap *delta);

/* crdt_ormap_update's callback: runs the next step in @p value, a nested
 * map, or the last OP on it. */
static int step_fn(void *value, void *delta, void *user_data)
{
    path *p = user_data;
    size_t k = p->level;
    int rv;

    if (k + 1 < p->n)
        return update_step(value, p, k + 1, delta);
    if (p->rm_key)
        rv = crdt_ormap_remove(value, p->rm_key, strlen(p->rm_key), delta);
    else
        rv = type_apply(p->t, value, &p->op, delta);
    if (rv) {
        p->failed = k;
        p->op_failed = true;
    }
    return rv;
}

/* Updates step @p k's key in @p m: the map read, or step k - 1's value.
 * Records the deepest step that fails. */
static int update_step(crdt_ormap *m, path *p, size_t k, crdt_ormap *delta)
{
    const char *key = p->pos[3 * k];
    bool last = k + 1 == p->n;
    const crdt_type *t = last ? p->t->type() : crdt_ormap_type(), *held;
    int rv;

    /* m is at level k + 1 of maps; a map value would be at k + 2.  The
     * library would refuse that update after running the steps below it:
     * refuse it first, so that a long path does not recurse further. */
    if (t == crdt_ormap_type() && k + 2 > CRDT_ORMAP_MAX_DEPTH) {
        rv = CRDT_ERR_LIMIT;
    } else {
        p->level = k;
        rv = crdt_ormap_update(m, p->actor, key, strlen(key), t, step_fn,
                               p, delta);
    }
    if (rv && p->failed == p->n) {
        p->failed = k;
        if (rv == CRDT_ERR_TYPE &&
            crdt_ormap_get(m, key, strlen(key), &held, NULL) == CRDT_OK)
            p->held = held->name;
    }
    return rv;
}

/* Reports the failed update of @p p in the map read from @p file:
 * "crdt: FILE: map update: 'KEY': ...: <error>", the keys down to the
 * step that failed.  Returns EXIT_INPUT. */
static int update_fail(const command *c, const char *file, const path *p,
                       int rv)
{
    size_t i, len = strlen(label(file)) + strlen(c->name) + 3;
    char *where, *w;
    int status;

    for (i = 0; i <= p->failed; i++)
        len += strlen(p->pos[3 * i]) + 4;
    if (!(where = malloc(len)))
        return fail(EXIT_INPUT, "%s", crdt_strerror(CRDT_ERR_NOMEM));
    w = where + sprintf(where, "%s: %s", label(file), c->name);
    for (i = 0; i <= p->failed; i++)
        w += sprintf(w, ": '%s'", p->pos[3 * i]);
    if (p->op_failed && !p->rm_key)
        status = op_fail(where, p->t->type(), &p->op, rv);
    else if (p->op_failed)
        status = fail(EXIT_INPUT, "%s: remove: %s", where,
                      crdt_strerror(rv));
    else if (rv == CRDT_ERR_TYPE && p->held)
        status = fail(EXIT_INPUT, "%s: %s (the key holds a value of type "
                      "%s)", where, crdt_strerror(rv), p->held);
    else if (rv == CRDT_ERR_LIMIT)
        status = fail(EXIT_INPUT, "%s: %s (maps nest at most %u levels "
                      "deep)", where, crdt_strerror(rv),
                      CRDT_ORMAP_MAX_DEPTH);
    else
        status = fail(EXIT_INPUT, "%s: %s", where, crdt_strerror(rv));
    free(where);
    return status;
}

static int run_update(const command *c, opts *o)
{
    const char *file;
    state st;
    path p;
    int next = 0, rv, status;

    if ((status = parse_path(c, o, &p, &next)) >= 0)
        return status;
    file = pos_file(o, next);
    if ((status = load_state(o, file, &st)))
        return status;
    if (!type_has(st.ops, c->applies))
        status = not_applicable(c, file, &st);
    else if ((rv = update_step(st.obj, &p, 0, NULL)))
        status = update_fail(c, file, &p, rv);
    else
        status = emit_state(&st, o->output);
    state_clear(&st);
    return status;
}

static int run_remove(const command *c, opts *o)
{
    const char *key = o->pos[0], *file = pos_file(o, 1);
    state st;
    int rv, status;

    if ((status = load_state(o, file, &st)))
        return status;
    if (!type_has(st.ops, c->applies))
        status = not_applicable(c, file, &st);
    else if ((rv = crdt_ormap_remove(st.obj, key, strlen(key), NULL)))
        status = fail(EXIT_INPUT, "%s: %s: '%s': %s", label(file), c->name,
                      key, crdt_strerror(rv));
    else
        status = emit_state(&st, o->output);
    state_clear(&st);
    return status;
}

const command cmd_map_update = {
    .name = "map update",
    .synopsis = "--actor N KEY TYPE OP [ARG] [FILE]",
    .summary = "update a key of an OR-map",
    .run = run_update,
    .applies = OP_MAP,
    .optmask = OPT_OUTPUT | OPT_ACTOR | OPT_BY | OPT_TIME,
    .min_pos = 0,
    .max_pos = -1,
    .usage = "(--actor N | --actor-name NAME) [--by N] [--time T] "
             "[-o FILE]\n       KEY TYPE OP [ARG] [FILE]",
    .help =
        "Applies OP to the value of KEY (the argument's bytes) in an OR-map\n"
        "and writes the new map (crdt_ormap_update, with the map's own\n"
        "causal context).  The update is an event of the actor, which is\n"
        "required: the key gets a new dot, so a remove made concurrently\n"
        "elsewhere does not undo it (add wins).  A key that is not present\n"
        "starts from an empty value of TYPE (a removed key starts again\n"
        "from empty); a key present with another type is an error.\n\n"
        "TYPE is any type a map holds (all but hlc).  OP and ARG are those\n"
        "of the command of the same name, on the key's value:\n"
        "  inc [--by N]           gcounter, pncounter, vclock, dotctx\n"
        "  dec [--by N]           pncounter\n"
        "  set [--time T] VALUE   lww, mvreg (--time: lww only)\n"
        "  add ELEM               gset, orset\n"
        "  remove ELEM            orset\n"
        "  enable, disable        ewflag, dwflag\n"
        "and for a nested map (TYPE ormap):\n"
        "  update KEY TYPE OP [ARG]  the same, one map down\n"
        "  remove KEY             remove KEY from the nested map\n"
        "so that\n"
        "  crdt map update --actor 1 outer ormap update inner gcounter inc "
        "--by 2\n"
        "adds 2 to the counter at \"inner\" in the map at \"outer\" (and "
        "gives\nboth keys a new dot).  Maps nest at most 16 levels deep.  "
        "--by and\n--time go with the last OP.  A KEY, VALUE or ELEM "
        "starting with '-'\ngoes after '--'.\n\n"
        FILE_HELP "\n" ACTOR_HELP BY_HELP TIME_HELP OUTPUT_HELP,
};

const command cmd_map_remove = {
    .name = "map remove",
    .synopsis = "KEY [FILE]",
    .summary = "remove a key from an OR-map",
    .run = run_remove,
    .applies = OP_MAP,
    .optmask = OPT_OUTPUT,
    .min_pos = 1,
    .max_pos = 2,
    .usage = "[-o FILE] KEY [FILE]",
    .help =
        "Removes KEY (the argument's bytes) from an OR-map and writes the\n"
        "new map (crdt_ormap_remove): removes the key's dots and its\n"
        "value's that this state has observed, so an update of the key\n"
        "made concurrently elsewhere survives a merge with what it brought\n"
        "(add wins), and a key updated after its remove starts from an\n"
        "empty value.  Removing an absent key changes nothing.  A key of a\n"
        "nested map is removed by an update of the key that holds that\n"
        "map: 'crdt map update --actor N OUTER ormap remove KEY'.  A KEY\n"
        "starting with '-' goes after '--'.\n\n"
        FILE_HELP "\n" OUTPUT_HELP,
};

static const command *const map_commands[] = {
    &cmd_map_update,
    &cmd_map_remove,
    NULL,
};

const command cmd_map = {
    .name = "map",
    .run = NULL,
    .subs = map_commands,
    .applies = OP_MAP,
    .usage = "SUBCOMMAND [OPTIONS] [ARGS]",
    .help =
        "Builds and changes OR-maps: maps from byte-string keys to values of\n"
        "any type but hlc, nested maps included, on one causal context.\n"
        "'crdt new ormap' makes an empty one; 'crdt value', 'inspect',\n"
        "'merge' and 'compare' read them.  'crdt map SUBCOMMAND --help'\n"
        "describes a subcommand.\n",
};
