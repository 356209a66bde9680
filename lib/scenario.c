/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: a JSON Lines file that configures a simulated cluster and
 * scripts writes and faults against it (`crdt sim`, and the Python
 * bindings), run on the simulator (sim.c).  README.md ("Scenarios") is
 * the reference of the format; crdt/sim.h documents the entry point.
 *
 * The whole file is parsed and checked before the simulation starts, so
 * a bad line is reported without running anything; the errors found only
 * while running (an op on a crashed node, a key written with two types)
 * name their line too.  JSON is parsed with jansson; the result is
 * written by hand, since counters and ids are 64-bit and jansson's
 * integers are signed.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>
#include <crdt/sim.h>

#include "mem_internal.h"

/* ======================================================================
 * Events
 * ====================================================================== */

enum ev_kind {
    EV_OP, EV_PARTITION, EV_HEAL, EV_CRASH, EV_RESTART, EV_SET, EV_BLOCK,
    EV_UNBLOCK
};

enum op_kind {
    OP_INC, OP_DEC, OP_SET, OP_ADD, OP_REMOVE, OP_ENABLE, OP_DISABLE,
    OP_DELETE
};

typedef struct event {
    enum ev_kind kind;
    size_t line;
    uint64_t t;
    size_t node;             /* op, crash, restart */
    enum op_kind op;
    const crdt_type *type;   /* op (NULL for delete) */
    const char *key, *arg;   /* op: key, value or element (in json) */
    size_t klen, alen;
    uint64_t by;
    bool keep;               /* restart */
    json_t *json;            /* partition groups, set object, block pairs */
} event;

typedef struct scen {
    crdt_sim_settings set;
    bool join_seed;
    uint64_t skew;           /* max |clock offset| */
    event *ev;
    size_t nev;
    json_t **lines;          /* parsed lines, freed at the end */
    size_t nlines;
    char *err;
    size_t errlen;
    const crdt_mem *mem;
} scen;

static int fail(scen *s, size_t line, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(s->err, s->errlen, "line %zu: ", line);

    if (n >= 0 && (size_t)n < s->errlen) {
        va_start(ap, fmt);
        vsnprintf(s->err + n, s->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return CRDT_ERR_DECODE;
}

/* A non-negative integer field; -1 if absent. */
static int get_uint(scen *s, size_t line, json_t *o, const char *name,
                    uint64_t max, uint64_t *out, bool *present)
{
    json_t *v = json_object_get(o, name);

    *present = v != NULL;
    if (!v)
        return CRDT_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max)
        return fail(s, line, "'%s' must be an integer from 0 to %llu", name,
                    (unsigned long long)max);
    *out = (uint64_t)json_integer_value(v);
    return CRDT_OK;
}

static int get_prob(scen *s, size_t line, json_t *o, const char *name,
                    double *out)
{
    json_t *v = json_object_get(o, name);

    if (!v)
        return CRDT_OK;
    if (!json_is_number(v) || json_number_value(v) < 0 ||
        json_number_value(v) > 1)
        return fail(s, line, "'%s' must be a number from 0 to 1", name);
    *out = json_number_value(v);
    return CRDT_OK;
}

static int get_latency(scen *s, size_t line, json_t *o, uint32_t *lo,
                       uint32_t *hi)
{
    json_t *v = json_object_get(o, "latency_ms"), *a, *b;

    if (!v)
        return CRDT_OK;
    a = json_array_get(v, 0);
    b = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 ||
        !json_is_integer(a) || !json_is_integer(b) ||
        json_integer_value(a) < 0 || json_integer_value(b) > 3600000 ||
        json_integer_value(a) > json_integer_value(b))
        return fail(s, line,
                    "'latency_ms' must be [min, max] with 0 <= min <= max "
                    "<= 3600000");
    *lo = (uint32_t)json_integer_value(a);
    *hi = (uint32_t)json_integer_value(b);
    return CRDT_OK;
}

/* ======================================================================
 * The first line: settings
 * ====================================================================== */

/* Engine settings a scenario may set by name. */
typedef struct knob {
    const char *name;
    size_t off;     /* in crdt_gossip_settings */
    int width;      /* 4: uint32_t, 8: size_t */
    uint64_t min, max;
} knob;

#define KNOB32(f, lo, hi)                                                     \
    {#f, offsetof(crdt_gossip_settings, f), 4, lo, hi}
#define KNOBSZ(f, lo, hi)                                                     \
    {#f, offsetof(crdt_gossip_settings, f), 8, lo, hi}

static const knob knobs[] = {
    KNOB32(round_ms, 1, 3600000),
    KNOB32(fanout, 1, 64),
    KNOB32(repair_ms, 1, 3600000),
    KNOB32(down_after_ms, 1, UINT32_MAX),
    KNOB32(down_probe_rounds, 0, UINT32_MAX),
    KNOB32(log_rounds, 0, UINT32_MAX),
    KNOBSZ(log_max_bytes, 0, (uint64_t)1 << 40),
    KNOB32(push_rounds, 0, 255),
    KNOB32(sample_size, 0, 16),
    KNOBSZ(max_key_bytes, 1, 65535),
    KNOBSZ(max_keys, 1, (uint64_t)1 << 40),
    KNOBSZ(reassembly_max_bytes, 0, (uint64_t)1 << 32),
    KNOB32(reassembly_ms, 1, UINT32_MAX),
};

static int parse_settings(scen *s, json_t *o)
{
    static const char *const net_keys[] = {
        "nodes", "seed", "latency_ms", "loss", "dup", "reorder",
        "mtu",   "join", "clock_skew_ms",
    };
    const char *name;
    json_t *v;
    uint64_t x;
    bool has;
    size_t i;
    int rv;

    if (!json_is_object(o))
        return fail(s, 1, "the first line must be an object of settings");
    json_object_foreach(o, name, v) {
        bool known = false;

        for (i = 0; i < sizeof net_keys / sizeof *net_keys; i++)
            known |= strcmp(name, net_keys[i]) == 0;
        for (i = 0; i < sizeof knobs / sizeof *knobs; i++)
            known |= strcmp(name, knobs[i].name) == 0;
        if (!known)
            return fail(s, 1, "unknown setting '%s'", name);
    }
    if ((rv = get_uint(s, 1, o, "nodes", 1000000, &x, &has)))
        return rv;
    if (!has || x == 0)
        return fail(s, 1, "'nodes' (at least 1) is required");
    s->set.nodes = (size_t)x;
    if ((rv = get_uint(s, 1, o, "seed", INT64_MAX, &s->set.seed, &has)) ||
        (rv = get_latency(s, 1, o, &s->set.latency_min_ms,
                          &s->set.latency_max_ms)) ||
        (rv = get_prob(s, 1, o, "loss", &s->set.loss)) ||
        (rv = get_prob(s, 1, o, "dup", &s->set.dup)) ||
        (rv = get_prob(s, 1, o, "reorder", &s->set.reorder)))
        return rv;
    if ((rv = get_uint(s, 1, o, "mtu", CRDT_GOSSIP_MAX_DATAGRAM, &x, &has)))
        return rv;
    if (has) {
        if (x < CRDT_GOSSIP_MIN_DATAGRAM)
            return fail(s, 1, "'mtu' must be from %u to %u",
                        CRDT_GOSSIP_MIN_DATAGRAM, CRDT_GOSSIP_MAX_DATAGRAM);
        s->set.mtu = (uint32_t)x;
    }
    if ((rv = get_uint(s, 1, o, "clock_skew_ms", 3600000, &s->skew, &has)))
        return rv;
    v = json_object_get(o, "join");
    if (v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "seed") == 0)
            s->join_seed = true;
        else if (!json_is_string(v) ||
                 strcmp(json_string_value(v), "formed") != 0)
            return fail(s, 1, "'join' must be \"seed\" or \"formed\"");
    }
    for (i = 0; i < sizeof knobs / sizeof *knobs; i++) {
        const knob *k = &knobs[i];
        char *f = (char *)&s->set.gossip + k->off;

        if ((rv = get_uint(s, 1, o, k->name, k->max, &x, &has)))
            return rv;
        if (!has)
            continue;
        if (x < k->min)
            return fail(s, 1, "'%s' must be at least %llu", k->name,
                        (unsigned long long)k->min);
        if (k->width == 4) {
            uint32_t y = (uint32_t)x;

            memcpy(f, &y, 4);
        } else {
            size_t y = (size_t)x;

            memcpy(f, &y, sizeof y);
        }
    }
    s->set.join_seed = s->join_seed;
    return CRDT_OK;
}

/* ======================================================================
 * Event lines
 * ====================================================================== */

typedef struct op_name {
    const char *type, *op;
    enum op_kind kind;
    int arg; /* 0 none, 1 "by", 2 "value", 3 "elem" */
} op_name;

static const op_name ops[] = {
    {"gcounter", "inc", OP_INC, 1},      {"pncounter", "inc", OP_INC, 1},
    {"pncounter", "dec", OP_DEC, 1},     {"lww", "set", OP_SET, 2},
    {"mvreg", "set", OP_SET, 2},         {"orset", "add", OP_ADD, 3},
    {"orset", "remove", OP_REMOVE, 3},   {"gset", "add", OP_ADD, 3},
    {"ewflag", "enable", OP_ENABLE, 0},  {"ewflag", "disable", OP_DISABLE, 0},
    {"dwflag", "enable", OP_ENABLE, 0},  {"dwflag", "disable", OP_DISABLE, 0},
};

static const crdt_type *type_of(const char *name)
{
    static const struct {
        const char *name;
        const crdt_type *(*fn)(void);
    } types[] = {
        {"gcounter", crdt_gcounter_type}, {"pncounter", crdt_pncounter_type},
        {"lww", crdt_lww_type},           {"mvreg", crdt_mvreg_type},
        {"orset", crdt_orset_type},       {"gset", crdt_gset_type},
        {"ewflag", crdt_ewflag_type},     {"dwflag", crdt_dwflag_type},
    };
    size_t i;

    for (i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(name, types[i].name) == 0)
            return types[i].fn();
    return NULL;
}

static int get_node(scen *s, size_t line, json_t *v, const char *what,
                    size_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) >= s->set.nodes)
        return fail(s, line, "'%s' must be a node from 0 to %zu", what,
                    s->set.nodes - 1);
    *out = (size_t)json_integer_value(v);
    return CRDT_OK;
}

static int parse_op(scen *s, size_t line, json_t *o, event *e)
{
    json_t *key = json_object_get(o, "key"), *type = json_object_get(o, "type");
    json_t *op = json_object_get(o, "op");
    const char *tn, *on;
    size_t i;
    int rv;

    e->kind = EV_OP;
    if ((rv = get_node(s, line, json_object_get(o, "node"), "node",
                       &e->node)))
        return rv;
    if (!json_is_string(key) || json_string_length(key) == 0)
        return fail(s, line, "'key' must be a non-empty string");
    e->key = json_string_value(key);
    e->klen = json_string_length(key);
    if (!json_is_string(op))
        return fail(s, line, "'op' must be a string");
    on = json_string_value(op);
    if (strcmp(on, "delete") == 0) {
        e->op = OP_DELETE;
        return CRDT_OK;
    }
    if (!json_is_string(type) || !(e->type = type_of(json_string_value(type))))
        return fail(s, line,
                    "'type' must be gcounter, pncounter, lww, mvreg, orset, "
                    "gset, ewflag or dwflag");
    tn = json_string_value(type);
    for (i = 0; i < sizeof ops / sizeof *ops; i++)
        if (strcmp(ops[i].type, tn) == 0 && strcmp(ops[i].op, on) == 0)
            break;
    if (i == sizeof ops / sizeof *ops)
        return fail(s, line, "op '%s' does not apply to %s", on, tn);
    e->op = ops[i].kind;
    if (ops[i].arg == 1) {
        bool has;

        e->by = 1;
        if ((rv = get_uint(s, line, o, "by", UINT64_MAX, &e->by, &has)))
            return rv;
        if (e->by == 0)
            return fail(s, line, "'by' must be at least 1");
    } else if (ops[i].arg >= 2) {
        const char *f = ops[i].arg == 2 ? "value" : "elem";
        json_t *a = json_object_get(o, f);

        if (!json_is_string(a))
            return fail(s, line, "'%s' must be a string", f);
        e->arg = json_string_value(a);
        e->alen = json_string_length(a);
    }
    return CRDT_OK;
}

static int check_pairs(scen *s, size_t line, json_t *v, const char *what)
{
    size_t i;
    json_t *p;

    if (!json_is_array(v))
        return fail(s, line, "'%s' must be a list of [from, to] pairs", what);
    json_array_foreach(v, i, p) {
        size_t a, b;
        int rv;

        if (!json_is_array(p) || json_array_size(p) != 2)
            return fail(s, line, "'%s' must be a list of [from, to] pairs",
                        what);
        if ((rv = get_node(s, line, json_array_get(p, 0), what, &a)) ||
            (rv = get_node(s, line, json_array_get(p, 1), what, &b)))
            return rv;
    }
    return CRDT_OK;
}

static int parse_event(scen *s, size_t line, json_t *o, event *e)
{
    static const char *const kinds[] = {"node",   "partition", "heal",
                                        "crash",  "restart",   "set",
                                        "block",  "unblock"};
    json_t *t = json_object_get(o, "t"), *v;
    size_t i, nk = 0;
    int rv;

    memset(e, 0, sizeof *e);
    e->line = line;
    if (!json_is_object(o))
        return fail(s, line, "an event must be an object");
    if (!json_is_integer(t) || json_integer_value(t) < 0)
        return fail(s, line, "'t' (non-negative milliseconds) is required");
    e->t = (uint64_t)json_integer_value(t);
    for (i = 0; i < sizeof kinds / sizeof *kinds; i++)
        nk += json_object_get(o, kinds[i]) != NULL;
    if (nk != 1)
        return fail(s, line,
                    "an event must have exactly one of node (an op), "
                    "partition, heal, crash, restart, set, block, unblock");
    if (json_object_get(o, "node"))
        return parse_op(s, line, o, e);
    if ((v = json_object_get(o, "partition"))) {
        json_t *g;

        e->kind = EV_PARTITION;
        e->json = v;
        if (!json_is_array(v))
            return fail(s, line, "'partition' must be a list of groups");
        json_array_foreach(v, i, g) {
            size_t k, n;
            json_t *x;

            if (!json_is_array(g))
                return fail(s, line, "'partition' must be a list of lists of "
                                     "nodes");
            json_array_foreach(g, k, x)
                if ((rv = get_node(s, line, x, "partition", &n)))
                    return rv;
        }
        return CRDT_OK;
    }
    if ((v = json_object_get(o, "heal"))) {
        e->kind = EV_HEAL;
        if (!json_is_true(v))
            return fail(s, line, "'heal' must be true");
        return CRDT_OK;
    }
    if ((v = json_object_get(o, "crash"))) {
        e->kind = EV_CRASH;
        return get_node(s, line, v, "crash", &e->node);
    }
    if ((v = json_object_get(o, "restart"))) {
        json_t *st = json_object_get(o, "state");

        e->kind = EV_RESTART;
        if ((rv = get_node(s, line, v, "restart", &e->node)))
            return rv;
        if (!json_is_string(st) ||
            (strcmp(json_string_value(st), "kept") &&
             strcmp(json_string_value(st), "lost")))
            return fail(s, line, "'state' must be \"kept\" or \"lost\"");
        e->keep = strcmp(json_string_value(st), "kept") == 0;
        return CRDT_OK;
    }
    if ((v = json_object_get(o, "set"))) {
        const char *name;
        json_t *x;
        double p = 0;
        uint32_t lo, hi;

        e->kind = EV_SET;
        e->json = v;
        if (!json_is_object(v))
            return fail(s, line, "'set' must be an object");
        json_object_foreach(v, name, x) {
            if (strcmp(name, "loss") && strcmp(name, "dup") &&
                strcmp(name, "reorder") && strcmp(name, "latency_ms"))
                return fail(s, line,
                            "'set' takes loss, dup, reorder and latency_ms, "
                            "not '%s'",
                            name);
        }
        if ((rv = get_prob(s, line, v, "loss", &p)) ||
            (rv = get_prob(s, line, v, "dup", &p)) ||
            (rv = get_prob(s, line, v, "reorder", &p)) ||
            (rv = get_latency(s, line, v, &lo, &hi)))
            return rv;
        return CRDT_OK;
    }
    v = json_object_get(o, "block");
    e->kind = v ? EV_BLOCK : EV_UNBLOCK;
    if (!v)
        v = json_object_get(o, "unblock");
    e->json = v;
    return check_pairs(s, line, v, v == json_object_get(o, "block")
                                       ? "block"
                                       : "unblock");
}

/* ======================================================================
 * Running
 * ====================================================================== */

typedef struct op_arg {
    const event *e;
} op_arg;

static int op_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    const event *e = ((const op_arg *)u)->e;
    uint32_t tag = e->type->tag;

    switch (e->op) {
    case OP_INC:
        return tag == CRDT_TAG_GCOUNTER
                   ? crdt_gcounter_increment(v, w->actor, e->by, d)
                   : crdt_pncounter_increment(v, w->actor, e->by, d);
    case OP_DEC:
        return crdt_pncounter_decrement(v, w->actor, e->by, d);
    case OP_SET:
        return tag == CRDT_TAG_LWW
                   ? crdt_lww_set_now(v, w->hlc, w->actor, e->arg, e->alen, d)
                   : crdt_mvreg_write(v, w->actor, e->arg, e->alen, d);
    case OP_ADD:
        return tag == CRDT_TAG_ORSET
                   ? crdt_orset_add(v, w->actor, e->arg, e->alen, d)
                   : crdt_gset_add(v, e->arg, e->alen, d);
    case OP_REMOVE:
        return crdt_orset_remove(v, e->arg, e->alen, d);
    case OP_ENABLE:
        return tag == CRDT_TAG_EWFLAG ? crdt_ewflag_enable(v, w->actor, d)
                                      : crdt_dwflag_enable(v, d);
    default:
        return tag == CRDT_TAG_EWFLAG ? crdt_ewflag_disable(v, d)
                                      : crdt_dwflag_disable(v, w->actor, d);
    }
}

static int apply(scen *s, crdt_sim *sim, const event *e)
{
    size_t n = s->set.nodes, i, j;
    json_t *g, *x;
    int rv = CRDT_OK;

    switch (e->kind) {
    case EV_OP:
        if (!crdt_sim_is_up(sim, e->node))
            return fail(s, e->line, "node %zu is crashed", e->node);
        if (e->op == OP_DELETE) {
            rv = crdt_sim_delete(sim, e->node, e->key, e->klen);
        } else {
            op_arg a = {e};

            rv = crdt_sim_update(sim, e->node, e->key, e->klen, e->type,
                                 op_fn, &a);
        }
        if (rv == CRDT_ERR_TYPE)
            return fail(s, e->line, "key '%s' holds another type on node %zu",
                        e->key, e->node);
        if (rv && rv != CRDT_ERR_NOMEM)
            return fail(s, e->line, "%s", crdt_strerror(rv));
        return rv;
    case EV_PARTITION: {
        size_t *group = crdtp_malloc_array(s->mem, n, sizeof *group);

        if (!group)
            return CRDT_ERR_NOMEM;
        for (i = 0; i < n; i++)
            group[i] = CRDT_SIM_ISOLATED;
        json_array_foreach(e->json, i, g)
            json_array_foreach(g, j, x)
                group[json_integer_value(x)] = i;
        rv = crdt_sim_partition(sim, group);
        crdtp_free(s->mem, group);
        return rv;
    }
    case EV_HEAL:
        crdt_sim_heal(sim);
        return CRDT_OK;
    case EV_CRASH:
        if (!crdt_sim_is_up(sim, e->node))
            return fail(s, e->line, "node %zu is already crashed", e->node);
        return crdt_sim_crash(sim, e->node);
    case EV_RESTART:
        if (crdt_sim_is_up(sim, e->node))
            return fail(s, e->line, "node %zu is not crashed", e->node);
        return crdt_sim_restart(sim, e->node, e->keep);
    case EV_SET: {
        uint32_t lo = s->set.latency_min_ms, hi = s->set.latency_max_ms;

        get_prob(s, e->line, e->json, "loss", &s->set.loss);
        get_prob(s, e->line, e->json, "dup", &s->set.dup);
        get_prob(s, e->line, e->json, "reorder", &s->set.reorder);
        get_latency(s, e->line, e->json, &lo, &hi);
        s->set.latency_min_ms = lo;
        s->set.latency_max_ms = hi;
        return crdt_sim_set_network(sim, lo, hi, s->set.loss, s->set.dup,
                                    s->set.reorder);
    }
    default:
        json_array_foreach(e->json, i, g) {
            rv = crdt_sim_block(sim, (size_t)json_integer_value(
                                         json_array_get(g, 0)),
                                (size_t)json_integer_value(
                                    json_array_get(g, 1)),
                                e->kind == EV_BLOCK);
            if (rv)
                return rv;
        }
        return CRDT_OK;
    }
}

/* ======================================================================
 * Output
 * ====================================================================== */

static int out_str(crdt_buf *o, const char *s)
{
    return crdt_buf_append(o, s, strlen(s));
}

static int out_fmt(crdt_buf *o, const char *fmt, ...)
{
    char b[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof b)
        return CRDT_ERR_INVALID_ARG;
    return crdt_buf_append(o, b, (size_t)n);
}

/* Bytes as a JSON string (they come from the scenario's JSON strings, so
 * they are UTF-8; other bytes are written as \u00XX). */
static int out_json_bytes(crdt_buf *o, const uint8_t *p, size_t n)
{
    size_t i;
    int rv = crdt_buf_append(o, "\"", 1);

    for (i = 0; !rv && i < n; i++) {
        uint8_t c = p[i];

        if (c == '"' || c == '\\')
            rv = out_fmt(o, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            rv = out_fmt(o, "\\u%04x", c);
        else
            rv = crdt_buf_append(o, &c, 1);
    }
    return rv ? rv : crdt_buf_append(o, "\"", 1);
}

typedef struct span {
    const uint8_t *p;
    size_t n;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = n ? memcmp(x->p, y->p, n) : 0;

    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int out_spans(crdt_buf *o, const crdt_mem *mem, span *v, size_t n)
{
    size_t i;
    int rv = crdt_buf_append(o, "[", 1);

    (void)mem;
    qsort(v, n, sizeof *v, span_cmp);
    for (i = 0; !rv && i < n; i++) {
        if (i)
            rv = crdt_buf_append(o, ",", 1);
        if (!rv)
            rv = out_json_bytes(o, v[i].p, v[i].n);
    }
    return rv ? rv : crdt_buf_append(o, "]", 1);
}

/* A value as `crdt value` would print it, in JSON. */
static int out_value(crdt_buf *o, const crdt_mem *mem, const crdt_type *t,
                     const void *v)
{
    size_t n, i;
    span *sp;
    int rv;

    switch (t->tag) {
    case CRDT_TAG_GCOUNTER:
        return out_fmt(o, "%llu",
                       (unsigned long long)crdt_gcounter_value(v));
    case CRDT_TAG_PNCOUNTER: {
        uint64_t p, q;

        crdt_pncounter_totals(v, &p, &q);
        return p >= q ? out_fmt(o, "%llu", (unsigned long long)(p - q))
                      : out_fmt(o, "-%llu", (unsigned long long)(q - p));
    }
    case CRDT_TAG_LWW: {
        const uint8_t *p;
        size_t len;

        if (crdt_lww_value(v, &p, &len))
            return out_str(o, "null");
        return out_json_bytes(o, p, len);
    }
    case CRDT_TAG_EWFLAG:
        return out_str(o, crdt_ewflag_value(v) ? "true" : "false");
    case CRDT_TAG_DWFLAG:
        return out_str(o, crdt_dwflag_value(v) ? "true" : "false");
    case CRDT_TAG_MVREG:
        n = crdt_mvreg_count(v);
        break;
    case CRDT_TAG_ORSET:
        n = crdt_orset_size(v);
        break;
    case CRDT_TAG_GSET:
        n = crdt_gset_size(v);
        break;
    default:
        return out_str(o, "null");
    }
    sp = crdtp_malloc_array(mem, n ? n : 1, sizeof *sp);
    if (!sp)
        return CRDT_ERR_NOMEM;
    for (i = 0, rv = CRDT_OK; i < n && !rv; i++) {
        if (t->tag == CRDT_TAG_MVREG)
            rv = crdt_mvreg_get(v, i, NULL, &sp[i].p, &sp[i].n);
        else if (t->tag == CRDT_TAG_ORSET)
            rv = crdt_orset_elem(v, i, &sp[i].p, &sp[i].n, NULL);
        else
            rv = crdt_gset_elem(v, i, &sp[i].p, &sp[i].n);
    }
    if (!rv)
        rv = out_spans(o, mem, sp, n);
    crdtp_free(mem, sp);
    return rv;
}

static int out_node(crdt_buf *o, const crdt_mem *mem, const crdt_sim *sim,
                    size_t i)
{
    const crdt_gossip *g = crdt_sim_node(sim, i);
    size_t n = g ? crdt_gossip_key_count(g) : 0, k, m = 0;
    span *keys = crdtp_malloc_array(mem, n ? n : 1, sizeof *keys);
    int rv;

    if (!keys)
        return CRDT_ERR_NOMEM;
    for (k = 0; k < n; k++) {
        bool present;

        if (!crdt_gossip_key_at(g, k, &keys[m].p, &keys[m].n, &present) &&
            present)
            m++;
    }
    qsort(keys, m, sizeof *keys, span_cmp);
    rv = out_fmt(o, "%s{\"id\":%zu,\"up\":%s,\"values\":{", i ? "," : "", i,
                 g ? "true" : "false");
    for (k = 0; !rv && k < m; k++) {
        const crdt_type *t;
        const void *v;

        if (k)
            rv = crdt_buf_append(o, ",", 1);
        if (!rv)
            rv = out_json_bytes(o, keys[k].p, keys[k].n);
        if (!rv)
            rv = crdt_buf_append(o, ":", 1);
        if (!rv && !(rv = crdt_gossip_get(g, keys[k].p, keys[k].n, &t, &v)))
            rv = out_value(o, mem, t, v);
    }
    crdtp_free(mem, keys);
    return rv ? rv : out_str(o, "}}");
}

/* ======================================================================
 * Entry
 * ====================================================================== */

void crdt_sim_scenario_options_default(crdt_sim_scenario_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = CRDT_SIM_SCENARIO_VERSION;
    o->max_ms = 3600000;
}

/* Splits text into lines and parses them (blank lines skipped). */
static int parse_all(scen *s, const char *text, size_t len)
{
    size_t line = 0, off = 0, cap = 0, nev = 0;
    int rv;

    while (off < len) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - text) : len, a = off;
        json_error_t jerr;
        json_t *j;

        line++;
        off = end + 1;
        while (a < end && (text[a] == ' ' || text[a] == '\t' ||
                           text[a] == '\r'))
            a++;
        if (a == end)
            continue;
        j = json_loadb(text + a, end - a, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
            return fail(s, line, "not JSON: %s", jerr.text);
        if (s->nlines == cap) {
            size_t c = cap ? 2 * cap : 64;
            json_t **l = crdtp_realloc_array(s->mem, s->lines, c,
                                             sizeof *l);
            event *ev = crdtp_realloc_array(s->mem, s->ev, c, sizeof *ev);

            if (l)
                s->lines = l;
            if (ev)
                s->ev = ev;
            if (!l || !ev) {
                json_decref(j);
                return CRDT_ERR_NOMEM;
            }
            cap = c;
        }
        s->lines[s->nlines++] = j;
        if (s->nlines == 1) {
            if ((rv = parse_settings(s, j)))
                return rv;
            continue;
        }
        if ((rv = parse_event(s, line, j, &s->ev[nev])))
            return rv;
        if (nev && s->ev[nev].t < s->ev[nev - 1].t)
            return fail(s, line, "'t' goes back in time (%llu < %llu)",
                        (unsigned long long)s->ev[nev].t,
                        (unsigned long long)s->ev[nev - 1].t);
        s->nev = ++nev;
    }
    if (!s->nlines)
        return fail(s, 1, "empty scenario: the first line must set 'nodes'");
    return CRDT_OK;
}

int crdt_sim_run_scenario(const char *text, size_t len,
                          const crdt_sim_scenario_options *opt,
                          const crdt_mem *mem, crdt_buf *out,
                          bool *converged, char *err, size_t errlen)
{
    crdt_sim_scenario_options dflt;
    crdt_mem m;
    scen s;
    crdt_sim *sim = NULL;
    crdt_registry *reg = NULL;
    uint64_t conv = CRDT_GOSSIP_NEVER, last = 0, round;
    size_t i, start;
    crdt_sim_stats st;
    int rv;

    if (!text || !out || !converged || (!err && errlen))
        return CRDT_ERR_INVALID_ARG;
    if (!opt) {
        crdt_sim_scenario_options_default(&dflt);
        opt = &dflt;
    }
    if (opt->version != CRDT_SIM_SCENARIO_VERSION)
        return CRDT_ERR_INVALID_ARG;
    if (errlen)
        err[0] = 0;
    crdtp_mem_set(&m, mem);
    memset(&s, 0, sizeof s);
    s.err = err;
    s.errlen = errlen;
    s.mem = &m;
    crdt_sim_settings_default(&s.set);
    rv = parse_all(&s, text, len);
    if (rv)
        goto out;
    reg = crdt_registry_new(&m);
    if (!reg || crdt_registry_add_builtins(reg)) {
        rv = CRDT_ERR_NOMEM;
        goto out;
    }
    s.set.gossip.registry = reg;
    if ((rv = crdt_sim_new(&sim, &s.set, &m)))
        goto out;
    if (s.skew) {
        /* per-node clock offsets, uniform in [-skew, skew], from the seed */
        uint64_t x = s.set.seed ^ 0x736b6577u;

        for (i = 0; i < s.set.nodes; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            if ((rv = crdt_sim_set_clock_offset(
                     sim, i,
                     (int64_t)((x >> 11) % (2 * s.skew + 1)) -
                         (int64_t)s.skew)))
                goto out;
        }
    }
    for (i = 0; i < s.nev; i++) {
        const event *e = &s.ev[i];

        if ((rv = crdt_sim_run_until(sim, e->t)) || (rv = apply(&s, sim, e)))
            goto out;
        last = e->t;
    }
    if ((rv = crdt_sim_run_until_converged(sim, last + opt->max_ms, &conv)))
        goto out;
    *converged = conv != CRDT_GOSSIP_NEVER;
    crdt_sim_stats_get(sim, &st);
    round = s.set.gossip.round_ms;
    start = out->len;
    rv = out_fmt(out, "{\"converged\":%s,\"converged_ms\":",
                 *converged ? "true" : "false");
    if (!rv)
        rv = *converged ? out_fmt(out, "%llu", (unsigned long long)conv)
                        : out_str(out, "null");
    if (!rv)
        rv = *converged
                 ? out_fmt(out, ",\"rounds\":%llu",
                           (unsigned long long)((conv - last + round - 1) /
                                                round))
                 : out_str(out, ",\"rounds\":null");
    if (!rv)
        rv = out_fmt(out, ",\"messages\":%llu,\"bytes\":%llu",
                     (unsigned long long)st.sent,
                     (unsigned long long)st.sent_bytes);
    if (!rv)
        rv = out_fmt(out, ",\"trace_hash\":\"%016llx\"",
                     (unsigned long long)crdt_sim_trace_hash(sim));
    if (!rv && opt->dump) {
        rv = out_str(out, ",\"nodes\":[");
        for (i = 0; !rv && i < s.set.nodes; i++)
            rv = out_node(out, &m, sim, i);
        if (!rv)
            rv = out_str(out, "]");
    }
    if (!rv)
        rv = out_str(out, "}");
    if (rv)
        out->len = start;
out:
    crdt_sim_free(sim);
    crdt_registry_free(reg);
    for (i = 0; i < s.nlines; i++)
        json_decref(s.lines[i]);
    crdtp_free(&m, s.lines);
    crdtp_free(&m, s.ev);
    if (rv == CRDT_ERR_NOMEM && errlen)
        snprintf(err, errlen, "out of memory");
    return rv;
}
