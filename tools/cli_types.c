/* SPDX-License-Identifier: MIT */
/*
 * The types the crdt tool works on: one row per type (type_table, at the
 * end) of the library's type descriptor plus a few small functions for
 * what the tool adds (inc, dec, set, add, remove, enable, disable,
 * compare, value, inspect); a NULL entry means the command does not apply
 * to that type.  States are decoded through a crdt_registry of those
 * descriptors.  Adding a type is adding a row.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/dotctx.h>
#include <crdt/flag.h>
#include <crdt/gcounter.h>
#include <crdt/gset.h>
#include <crdt/hlc.h>
#include <crdt/lww.h>
#include <crdt/mvreg.h>
#include <crdt/ormap.h>
#include <crdt/orset.h>
#include <crdt/pncounter.h>
#include <crdt/type.h>
#include <crdt/vclock.h>

#include "cli.h"

/* --- vclock ----------------------------------------------------------- */

static int vc_compare(const void *a, const void *b, crdt_order *order)
{
    *order = crdt_vclock_compare(a, b);
    return CRDT_OK;
}

/* Adds @p by to the actor's counter: --by 1 is one event.  The clock has
 * no delta mutators: the delta is the clock {actor: new counter}. */
static int vc_inc(void *obj, crdt_actor actor, uint64_t by, void *delta)
{
    uint64_t cur = crdt_vclock_get(obj, actor);
    int rv;

    if (by > UINT64_MAX - cur)
        return CRDT_ERR_OVERFLOW;
    if ((rv = crdt_vclock_set(obj, actor, cur + by)) || !delta)
        return rv;
    return crdt_vclock_set(delta, actor, cur + by);
}

/* {"actor": counter, ...} with actors as decimal strings (JSON keys). */
static int vc_value_json(const void *obj, out *o)
{
    size_t i, n = crdt_vclock_size(obj);
    crdt_actor actor;
    uint64_t counter;
    int rv;

    out_str(o, "{");
    for (i = 0; i < n; i++) {
        if ((rv = crdt_vclock_entry(obj, i, &actor, &counter)))
            return rv;
        out_str(o, i ? ",\"" : "\"");
        out_u64(o, actor);
        out_str(o, "\":");
        out_u64(o, counter);
    }
    out_str(o, "}");
    return o->err;
}

static int vc_inspect(const void *obj, out *o)
{
    size_t i, n = crdt_vclock_size(obj);
    crdt_actor actor;
    uint64_t counter;
    int rv;

    out_str(o, ",\"entries\":[");
    for (i = 0; i < n; i++) {
        if ((rv = crdt_vclock_entry(obj, i, &actor, &counter)))
            return rv;
        out_entry_json(o, i > 0, actor, "counter", counter);
    }
    out_str(o, "],\"value\":");
    return vc_value_json(obj, o);
}

static int vc_value(const void *obj, out *o)
{
    int rv = vc_value_json(obj, o);

    out_str(o, "\n");
    return rv ? rv : o->err;
}

/* --- dotctx ------------------------------------------------------------ */

static int dc_compare(const void *a, const void *b, crdt_order *order)
{
    *order = crdt_dotctx_compare(a, b);
    return CRDT_OK;
}

/* Records the actor's next @p by events (crdt_dotctx_next_dot each).  A
 * context with a gap before them keeps each new dot in its cloud, so @p by
 * is bounded by the decoders' default limit on cloud size.  The delta is
 * the context of the new dots. */
static int dc_inc(void *obj, crdt_actor actor, uint64_t by, void *delta)
{
    crdt_dot dot;
    uint64_t i;
    int rv;

    if (by > CRDT_DEFAULT_MAX_ELEMENTS)
        return CRDT_ERR_LIMIT;
    for (i = 0; i < by; i++)
        if ((rv = crdt_dotctx_next_dot(obj, actor, &dot)) ||
            (delta && (rv = crdt_dotctx_add(delta, dot))))
            return rv;
    return CRDT_OK;
}

/* "vv":{"actor":counter,...},"cloud":[{"actor":A,"counter":C},...] when
 * @p as_map, else the vector as an array of entries like the cloud. */
static int dc_fields(const void *obj, bool as_map, out *o)
{
    size_t i, n = crdt_dotctx_vv_size(obj);
    crdt_actor actor;
    uint64_t counter;
    crdt_dot dot;
    int rv;

    out_str(o, as_map ? "\"vv\":{" : "\"vv\":[");
    for (i = 0; i < n; i++) {
        if ((rv = crdt_dotctx_vv_entry(obj, i, &actor, &counter)))
            return rv;
        out_str(o, i ? "," : "");
        out_str(o, as_map ? "\"" : "{\"actor\":");
        out_u64(o, actor);
        out_str(o, as_map ? "\":" : ",\"counter\":");
        out_u64(o, counter);
        out_str(o, as_map ? "" : "}");
    }
    out_str(o, as_map ? "},\"cloud\":[" : "],\"cloud\":[");
    n = crdt_dotctx_cloud_size(obj);
    for (i = 0; i < n; i++) {
        if ((rv = crdt_dotctx_cloud_dot(obj, i, &dot)))
            return rv;
        out_entry_json(o, i > 0, dot.actor, "counter", dot.counter);
    }
    out_str(o, "]");
    return o->err;
}

static int dc_value(const void *obj, out *o)
{
    int rv;

    out_str(o, "{");
    if ((rv = dc_fields(obj, true, o)))
        return rv;
    out_str(o, "}\n");
    return o->err;
}

static int dc_inspect(const void *obj, out *o)
{
    int rv;

    out_str(o, ",");
    if ((rv = dc_fields(obj, false, o)))
        return rv;
    out_str(o, ",\"value\":{");
    if ((rv = dc_fields(obj, true, o)))
        return rv;
    out_str(o, "}");
    return o->err;
}

/* --- gcounter ---------------------------------------------------------- */

static int gc_inc(void *obj, crdt_actor actor, uint64_t by, void *delta)
{
    return crdt_gcounter_increment(obj, actor, by, delta);
}

static int gc_value(const void *obj, out *o)
{
    out_u64(o, crdt_gcounter_value(obj));
    out_str(o, "\n");
    return o->err;
}

static int gc_inspect(const void *obj, out *o)
{
    size_t i, n = crdt_gcounter_size(obj);
    crdt_actor actor;
    uint64_t count;
    int rv;

    out_str(o, ",\"entries\":[");
    for (i = 0; i < n; i++) {
        if ((rv = crdt_gcounter_entry(obj, i, &actor, &count)))
            return rv;
        out_entry_json(o, i > 0, actor, "count", count);
    }
    out_str(o, "],\"value\":");
    out_u64(o, crdt_gcounter_value(obj));
    return o->err;
}

/* --- pncounter ---------------------------------------------------------- */

static int pn_inc(void *obj, crdt_actor actor, uint64_t by, void *delta)
{
    return crdt_pncounter_increment(obj, actor, by, delta);
}

static int pn_dec(void *obj, crdt_actor actor, uint64_t by, void *delta)
{
    return crdt_pncounter_decrement(obj, actor, by, delta);
}

/* The exact value sum(P) - sum(N), which lies in (-2^64, 2^64) and so
 * may not fit an int64_t: printed from the two totals. */
static void pn_value_number(const void *obj, out *o)
{
    uint64_t pos, neg;

    crdt_pncounter_totals(obj, &pos, &neg);
    if (pos >= neg) {
        out_u64(o, pos - neg);
    } else {
        out_str(o, "-");
        out_u64(o, neg - pos);
    }
}

static int pn_value(const void *obj, out *o)
{
    pn_value_number(obj, o);
    out_str(o, "\n");
    return o->err;
}

static int pn_side(const void *obj, crdt_pncounter_side side, out *o)
{
    size_t i, n = crdt_pncounter_size(obj, side);
    crdt_actor actor;
    uint64_t count;
    int rv;

    out_str(o, "[");
    for (i = 0; i < n; i++) {
        if ((rv = crdt_pncounter_entry(obj, side, i, &actor, &count)))
            return rv;
        out_entry_json(o, i > 0, actor, "count", count);
    }
    out_str(o, "]");
    return o->err;
}

static int pn_inspect(const void *obj, out *o)
{
    int rv;

    out_str(o, ",\"p\":");
    if ((rv = pn_side(obj, CRDT_PNCOUNTER_POS, o)))
        return rv;
    out_str(o, ",\"n\":");
    if ((rv = pn_side(obj, CRDT_PNCOUNTER_NEG, o)))
        return rv;
    out_str(o, ",\"value\":");
    pn_value_number(obj, o);
    return o->err;
}

/* --- lww --------------------------------------------------------------- */

/* The register's total order: the one holding the winning write is
 * after; two registers are never concurrent. */
static int lww_cmp(const void *a, const void *b, crdt_order *order)
{
    int c = crdt_lww_compare(a, b);

    *order = c < 0 ? CRDT_BEFORE : c > 0 ? CRDT_AFTER : CRDT_EQUAL;
    return CRDT_OK;
}

/* Without a time, the default source: a hybrid logical clock on the
 * system clock which crdt_lww_set_now first updates with the register's
 * timestamp, so the write orders after the one it replaces. */
static int lww_set(void *obj, crdt_actor actor, const uint64_t *time,
                   const uint8_t *val, size_t len, void *delta)
{
    crdt_hlc *hlc;
    int rv;

    if (time)
        return crdt_lww_set(obj, *time, actor, val, len, delta);
    if (!(hlc = crdt_hlc_new(NULL, NULL)))
        return CRDT_ERR_NOMEM;
    rv = crdt_lww_set_now(obj, hlc, actor, val, len, delta);
    crdt_hlc_free(hlc);
    return rv;
}

/* The value's bytes as they are (no newline); CRDT_ERR_NOT_FOUND when
 * the register is empty. */
static int lww_value(const void *obj, out *o)
{
    const uint8_t *p;
    size_t n;
    int rv;

    if ((rv = crdt_lww_value(obj, &p, &n)))
        return rv;
    out_bytes(o, p, n);
    return o->err;
}

static int lww_inspect(const void *obj, out *o)
{
    const uint8_t *p;
    size_t n;
    int rv;

    if (!crdt_lww_has_value(obj)) {
        out_str(o, ",\"value\":null");
        return o->err;
    }
    if ((rv = crdt_lww_value(obj, &p, &n)))
        return rv;
    out_str(o, ",\"timestamp\":");
    out_u64(o, crdt_lww_timestamp(obj));
    out_str(o, ",\"actor\":");
    out_u64(o, crdt_lww_actor(obj));
    out_str(o, ",\"value\":");
    out_json_bytes(o, p, n);
    return o->err;
}

/* --- hlc ---------------------------------------------------------------
 * A clock's persisted state (its last timestamp), not a CRDT: the library
 * has no descriptor for it, so here is one for decoding, encoding and
 * printing it.  Merge and compare do not apply (replicated is false), so
 * its merge is never called. */

static void *hlc_create(const crdt_mem *mem)
{
    return crdt_hlc_new(NULL, mem);
}

static void hlc_destroy(void *obj)
{
    crdt_hlc_free(obj);
}

static int hlc_decode(void *obj, const uint8_t *data, size_t len,
                      const crdt_limits *lim, crdt_decode_info *info)
{
    return crdt_hlc_decode(obj, data, len, lim, info);
}

static int hlc_encode(const void *obj, crdt_buf *buf)
{
    return crdt_hlc_encode(obj, buf);
}

/* Assignment through the encoding (the clock has no copy). */
static int hlc_copy(void *dst, const void *src)
{
    uint8_t tmp[16];
    crdt_buf b;
    int rv;

    crdt_buf_init_fixed(&b, tmp, sizeof tmp);
    if ((rv = crdt_hlc_encode(src, &b)))
        return rv;
    return crdt_hlc_decode(dst, b.data, b.len, NULL, NULL);
}

static bool hlc_equal(const void *a, const void *b)
{
    return crdt_hlc_last(a) == crdt_hlc_last(b);
}

static int hlc_merge(void *dst, const void *src)
{
    (void)dst;
    (void)src;
    return CRDT_ERR_TYPE;
}

static const crdt_type hlc_descriptor = {
    .version = CRDT_TYPE_VERSION,
    .tag = CRDT_TAG_HLC,
    .name = "hlc",
    .create = hlc_create,
    .destroy = hlc_destroy,
    .copy = hlc_copy,
    .equal = hlc_equal,
    .merge = hlc_merge,
    .encode = hlc_encode,
    .decode = hlc_decode,
};

static const crdt_type *hlc_type(void)
{
    return &hlc_descriptor;
}

/* The last timestamp issued, as a decimal integer. */
static int hlc_value(const void *obj, out *o)
{
    out_u64(o, crdt_hlc_last(obj));
    out_str(o, "\n");
    return o->err;
}

static int hlc_inspect(const void *obj, out *o)
{
    uint64_t last = crdt_hlc_last(obj);

    out_str(o, ",\"ms\":");
    out_u64(o, crdt_hlc_ms(last));
    out_str(o, ",\"logical\":");
    out_u64(o, crdt_hlc_logical(last));
    out_str(o, ",\"value\":");
    out_u64(o, last);
    return o->err;
}

/* --- gset --------------------------------------------------------------- */

/* A G-set needs no actor: its adds are not events of anyone. */
static int gs_add(void *obj, const crdt_actor *actor, const uint8_t *elem,
                  size_t len, void *delta)
{
    (void)actor;
    return crdt_gset_add(obj, elem, len, delta);
}

static int gs_view(const void *obj, size_t i, view *v)
{
    return crdt_gset_elem(obj, i, &v->p, &v->n);
}

static int gs_value(const void *obj, out *o)
{
    return out_views(obj, crdt_gset_size(obj), gs_view, false, o);
}

static int gs_inspect(const void *obj, out *o)
{
    out_str(o, ",\"value\":");
    return out_views(obj, crdt_gset_size(obj), gs_view, true, o);
}

/* --- orset ---------------------------------------------------------------- */

static int os_add(void *obj, const crdt_actor *actor, const uint8_t *elem,
                  size_t len, void *delta)
{
    return crdt_orset_add(obj, *actor, elem, len, delta);
}

static int os_remove(void *obj, const uint8_t *elem, size_t len, void *delta)
{
    return crdt_orset_remove(obj, elem, len, delta);
}

static int os_view(const void *obj, size_t i, view *v)
{
    return crdt_orset_elem(obj, i, &v->p, &v->n, NULL);
}

static int os_value(const void *obj, out *o)
{
    return out_views(obj, crdt_orset_size(obj), os_view, false, o);
}

/* An element and its storage index (for its dots), sorted by bytes. */
typedef struct os_entry {
    view v;   /* first, so that view_cmp sorts entries */
    size_t i; /* storage index */
} os_entry;

static int os_inspect(const void *obj, out *o)
{
    size_t i, k, n = crdt_orset_size(obj), ndots;
    os_entry *e;
    crdt_dot dot;
    int rv;

    if ((rv = dotstore_json(crdt_orset_type(), obj, false, o)))
        return rv;
    if (!(e = calloc(n ? n : 1, sizeof *e)))
        return CRDT_ERR_NOMEM;
    for (i = 0; i < n && !rv; i++) {
        e[i].i = i;
        rv = crdt_orset_elem(obj, i, &e[i].v.p, &e[i].v.n, NULL);
    }
    if (!rv)
        qsort(e, n, sizeof *e, view_cmp);
    out_str(o, ",\"elements\":[");
    for (i = 0; i < n && !rv; i++) {
        out_str(o, i ? ",{\"elem\":" : "{\"elem\":");
        out_json_bytes(o, e[i].v.p, e[i].v.n);
        out_str(o, ",\"dots\":[");
        rv = crdt_orset_elem(obj, e[i].i, NULL, NULL, &ndots);
        for (k = 0; k < ndots && !rv; k++) {
            if ((rv = crdt_orset_elem_dot(obj, e[i].i, k, &dot)))
                break;
            out_entry_json(o, k > 0, dot.actor, "counter", dot.counter);
        }
        out_str(o, "]}");
    }
    free(e);
    if (rv)
        return rv;
    out_str(o, "],\"value\":");
    return out_views(obj, n, os_view, true, o);
}

/* --- mvreg ------------------------------------------------------------- */

/* A write supersedes what the register has seen: no timestamp (cmd_set
 * rejects --time for it, set_untimed). */
static int mv_set(void *obj, crdt_actor actor, const uint64_t *time,
                  const uint8_t *val, size_t len, void *delta)
{
    (void)time;
    return crdt_mvreg_write(obj, actor, val, len, delta);
}

static int mv_view(const void *obj, size_t i, view *v)
{
    return crdt_mvreg_get(obj, i, NULL, &v->p, &v->n);
}

/* Every sibling's value, in byte order, one per line (none when the
 * register holds no sibling). */
static int mv_value(const void *obj, out *o)
{
    return out_views(obj, crdt_mvreg_count(obj), mv_view, false, o);
}

static int mv_inspect(const void *obj, out *o)
{
    size_t i, n = crdt_mvreg_count(obj);
    const uint8_t *p;
    crdt_dot dot;
    size_t len;
    int rv;

    if ((rv = dotstore_json(crdt_mvreg_type(), obj, false, o)))
        return rv;
    out_str(o, ",\"siblings\":[");
    for (i = 0; i < n; i++) {
        if ((rv = crdt_mvreg_get(obj, i, &dot, &p, &len)))
            return rv;
        out_str(o, i ? ",{\"actor\":" : "{\"actor\":");
        out_u64(o, dot.actor);
        out_str(o, ",\"counter\":");
        out_u64(o, dot.counter);
        out_str(o, ",\"value\":");
        out_json_bytes(o, p, len);
        out_str(o, "}");
    }
    out_str(o, "],\"value\":");
    return out_views(obj, n, mv_view, true, o);
}

/* --- ewflag, dwflag ----------------------------------------------------
 * The operation that adds a dot takes the actor: enable for the
 * enable-wins flag, disable for the disable-wins flag. */

static int ew_enable(void *obj, const crdt_actor *actor, void *delta)
{
    return crdt_ewflag_enable(obj, *actor, delta);
}

static int ew_disable(void *obj, const crdt_actor *actor, void *delta)
{
    (void)actor;
    return crdt_ewflag_disable(obj, delta);
}

static int dw_enable(void *obj, const crdt_actor *actor, void *delta)
{
    (void)actor;
    return crdt_dwflag_enable(obj, delta);
}

static int dw_disable(void *obj, const crdt_actor *actor, void *delta)
{
    return crdt_dwflag_disable(obj, *actor, delta);
}

static int flag_value(bool v, out *o)
{
    out_str(o, v ? "true\n" : "false\n");
    return o->err;
}

static int ew_value(const void *obj, out *o)
{
    return flag_value(crdt_ewflag_value(obj), o);
}

static int dw_value(const void *obj, out *o)
{
    return flag_value(crdt_dwflag_value(obj), o);
}

static int ew_inspect(const void *obj, out *o)
{
    int rv = dotstore_json(crdt_ewflag_type(), obj, true, o);

    out_str(o, crdt_ewflag_value(obj) ? ",\"value\":true"
                                      : ",\"value\":false");
    return rv ? rv : o->err;
}

static int dw_inspect(const void *obj, out *o)
{
    int rv = dotstore_json(crdt_dwflag_type(), obj, true, o);

    out_str(o, crdt_dwflag_value(obj) ? ",\"value\":true"
                                      : ",\"value\":false");
    return rv ? rv : o->err;
}

/* --- ormap ----------------------------------------------------------------
 * Its value is the present keys in key order, each with its value as
 * `crdt inspect` prints that value alone:
 *     [{"key":BYTES,"value":{"type":...,"version":1,...}},...]
 * Nested maps recurse; o->depth bounds the recursion to the decoders'
 * default depth limit (a decoded state is never deeper).  inspect also
 * prints every entry's key, type and dots, read from the encoding (the
 * API has no accessor for a key's dots). */

/* ,"entries":[{"key":BYTES,"type":NAME,"dots":DOTS},...]: every entry in
 * key, then tag order, hidden ones included, from the encoding
 * [1, 12, vv, cloud, [[key, tag, dots, [value, ...]], ...]]. */
static int map_entries_json(const void *obj, out *o)
{
    const type_ops *ops;
    uint64_t n, i, four, tag;
    crdt_buf b;
    view key;
    rd r;
    bool okay;
    int rv;

    crdt_buf_init(&b, NULL);
    if ((rv = crdt_ormap_encode(obj, &b))) {
        crdt_buf_clear(&b);
        return rv;
    }
    r.p = b.data;
    r.n = b.len;
    r.i = 0;
    okay = rd_header(&r, false, &n) && n == 5 && rd_skip(&r) &&
           rd_skip(&r) && rd_skip(&r) && rd_skip(&r) &&
           rd_header(&r, false, &n);
    out_str(o, ",\"entries\":[");
    for (i = 0; okay && i < n; i++) {
        if (!(okay = rd_header(&r, false, &four) && four == 4 &&
                     rd_bin(&r, &key) && rd_uint(&r, &tag)))
            break;
        out_str(o, i ? ",{\"key\":" : "{\"key\":");
        out_json_bytes(o, key.p, key.n);
        out_str(o, ",\"type\":");
        if (tag <= UINT32_MAX && (ops = type_by_tag((uint32_t)tag))) {
            out_str(o, "\"");
            out_str(o, ops->type()->name);
            out_str(o, "\"");
        } else {
            out_u64(o, tag);
        }
        out_str(o, ",\"dots\":");
        okay = rd_dots_json(&r, o) && rd_skip(&r);
        out_str(o, "}");
    }
    out_str(o, "]");
    crdt_buf_clear(&b);
    return okay ? o->err : CRDT_ERR_DECODE;
}

static int map_value_json(const void *obj, out *o)
{
    size_t i, n = crdt_ormap_size(obj), klen;
    const type_ops *ops;
    const crdt_type *t;
    const uint8_t *key;
    const void *v;
    int rv = CRDT_OK;

    if (o->depth >= CRDT_DEFAULT_MAX_DEPTH)
        return CRDT_ERR_LIMIT;
    o->depth++;
    out_str(o, "[");
    for (i = 0; i < n && !rv; i++) {
        if ((rv = crdt_ormap_entry(obj, i, &key, &klen, &t, &v)))
            break;
        out_str(o, i ? ",{\"key\":" : "{\"key\":");
        out_json_bytes(o, key, klen);
        out_str(o, ",\"value\":{\"type\":\"");
        out_str(o, t->name);
        out_str(o, "\",\"version\":");
        out_u64(o, CRDT_FORMAT_VERSION);
        if ((ops = type_by_tag(t->tag)) && ops->type() == t)
            rv = ops->inspect(v, o);
        out_str(o, "}}");
    }
    out_str(o, "]");
    o->depth--;
    return rv ? rv : o->err;
}

static int map_value(const void *obj, out *o)
{
    int rv = map_value_json(obj, o);

    out_str(o, "\n");
    return rv ? rv : o->err;
}

static int map_inspect(const void *obj, out *o)
{
    int rv;

    if ((rv = dotstore_json(crdt_ormap_type(), obj, false, o)) ||
        (rv = map_entries_json(obj, o)))
        return rv;
    out_str(o, ",\"value\":");
    return map_value_json(obj, o);
}

/* --- the table -------------------------------------------------------- */

static const type_ops type_table[] = {
    {.type = crdt_vclock_type,
     .replicated = true,
     .compare = vc_compare,
     .inc = vc_inc,
     .value = vc_value,
     .inspect = vc_inspect},
    {.type = crdt_dotctx_type,
     .replicated = true,
     .compare = dc_compare,
     .inc = dc_inc,
     .value = dc_value,
     .inspect = dc_inspect},
    {.type = crdt_gcounter_type,
     .replicated = true,
     .inc = gc_inc,
     .value = gc_value,
     .inspect = gc_inspect},
    {.type = crdt_pncounter_type,
     .replicated = true,
     .inc = pn_inc,
     .dec = pn_dec,
     .value = pn_value,
     .inspect = pn_inspect},
    {.type = crdt_lww_type,
     .replicated = true,
     .compare = lww_cmp,
     .set = lww_set,
     .value = lww_value,
     .inspect = lww_inspect},
    {.type = hlc_type, .value = hlc_value, .inspect = hlc_inspect},
    {.type = crdt_gset_type,
     .replicated = true,
     .add = gs_add,
     .value = gs_value,
     .inspect = gs_inspect},
    {.type = crdt_orset_type,
     .replicated = true,
     .add = os_add,
     .remove = os_remove,
     .actor_ops = ACTOR_OP(OP_ADD),
     .value = os_value,
     .inspect = os_inspect},
    {.type = crdt_mvreg_type,
     .replicated = true,
     .set = mv_set,
     .set_untimed = true,
     .value = mv_value,
     .inspect = mv_inspect},
    {.type = crdt_ewflag_type,
     .replicated = true,
     .enable = ew_enable,
     .disable = ew_disable,
     .actor_ops = ACTOR_OP(OP_ENABLE),
     .value = ew_value,
     .inspect = ew_inspect},
    {.type = crdt_dwflag_type,
     .replicated = true,
     .enable = dw_enable,
     .disable = dw_disable,
     .actor_ops = ACTOR_OP(OP_DISABLE),
     .value = dw_value,
     .inspect = dw_inspect},
    {.type = crdt_ormap_type,
     .replicated = true,
     .value = map_value,
     .inspect = map_inspect},
};

#define N_TYPES (sizeof type_table / sizeof type_table[0])

static const char *type_name(const type_ops *t)
{
    return t->type()->name;
}

const type_ops *type_by_name(const char *name)
{
    size_t i;

    for (i = 0; i < N_TYPES; i++)
        if (strcmp(type_name(&type_table[i]), name) == 0)
            return &type_table[i];
    return NULL;
}

const type_ops *type_by_tag(uint32_t tag)
{
    size_t i;

    for (i = 0; i < N_TYPES; i++)
        if (type_table[i].type()->tag == tag)
            return &type_table[i];
    return NULL;
}

bool type_has(const type_ops *t, op_kind k)
{
    switch (k) {
    case OP_MERGE: return t->replicated;
    case OP_INC: return t->inc != NULL;
    case OP_DEC: return t->dec != NULL;
    case OP_SET: return t->set != NULL;
    case OP_ADD: return t->add != NULL;
    case OP_REMOVE: return t->remove != NULL;
    case OP_ENABLE: return t->enable != NULL;
    case OP_DISABLE: return t->disable != NULL;
    case OP_MAP: return t->type()->tag == CRDT_TAG_ORMAP;
    default: return true;
    }
}

/* --- operations --------------------------------------------------------- */

const char *op_name(op_kind k)
{
    static const char *const names[] = {
        [OP_INC] = "inc",         [OP_DEC] = "dec",
        [OP_SET] = "set",         [OP_ADD] = "add",
        [OP_REMOVE] = "remove",   [OP_ENABLE] = "enable",
        [OP_DISABLE] = "disable",
    };

    return k < sizeof names / sizeof names[0] && names[k] ? names[k] : "?";
}

op_kind op_by_name(const char *name)
{
    int k;

    for (k = OP_INC; k <= OP_DISABLE; k++)
        if (strcmp(op_name((op_kind)k), name) == 0)
            return (op_kind)k;
    return OP_ANY;
}

void op_args_init(op_args *a, op_kind k, const opts *o, const char *arg)
{
    a->kind = k;
    a->actor = o->have_actor ? &o->actor : NULL;
    a->by = o->by;
    a->time = o->have_time ? &o->time : NULL;
    a->arg = (const uint8_t *)arg;
    a->len = arg ? strlen(arg) : 0;
}

int op_usage(const command *c, const type_ops *t, const op_args *a)
{
    if (!a->actor && (t->actor_ops & ACTOR_OP(a->kind)))
        return usage_fail(c, "--actor or --actor-name is required for %s",
                          type_name(t));
    if (a->kind == OP_SET && a->time && t->set_untimed)
        return usage_fail(c, "--time does not apply to %s (its writes "
                          "supersede what they have seen)", type_name(t));
    return -1;
}

int type_apply(const type_ops *t, void *obj, const op_args *a, void *delta)
{
    switch (a->kind) {
    case OP_INC: return t->inc(obj, *a->actor, a->by, delta);
    case OP_DEC: return t->dec(obj, *a->actor, a->by, delta);
    case OP_SET:
        return t->set(obj, *a->actor, a->time, a->arg, a->len, delta);
    case OP_ADD: return t->add(obj, a->actor, a->arg, a->len, delta);
    case OP_REMOVE: return t->remove(obj, a->arg, a->len, delta);
    case OP_ENABLE: return t->enable(obj, a->actor, delta);
    case OP_DISABLE: return t->disable(obj, a->actor, delta);
    default: return CRDT_ERR_INVALID_ARG;
    }
}

int op_fail(const char *where, const crdt_type *t, const op_args *a, int rv)
{
    const char *name = op_name(a->kind);

    if (rv == CRDT_ERR_LIMIT && (a->kind == OP_INC || a->kind == OP_DEC))
        return fail(EXIT_INPUT, "%s: %s: --by %" PRIu64 " is more than "
                    "%s takes at once (%zu)", where, name, a->by, t->name,
                    CRDT_DEFAULT_MAX_ELEMENTS);
    return fail(EXIT_INPUT, "%s: %s: %s%s", where, name, crdt_strerror(rv),
                rv == CRDT_ERR_CLOCK_DRIFT
                    ? " (the state's timestamp is ahead of the system "
                      "clock; give --time)"
                    : "");
}

/* Writes the names of the types that offer @p k, separated by ", ", into
 * @p dst ("none" if no type does). */
void type_names(char *dst, size_t cap, op_kind k)
{
    size_t i, used = 0;
    int n;

    snprintf(dst, cap, "none");
    for (i = 0; i < N_TYPES; i++) {
        if (!type_has(&type_table[i], k))
            continue;
        n = snprintf(dst + used, cap - used, "%s%s", used ? ", " : "",
                     type_name(&type_table[i]));
        if (n < 0 || (size_t)n >= cap - used)
            return;
        used += (size_t)n;
    }
}

/* A registry of the table's replicated types (@p replicated) or of the
 * others (the clock), for decoding states of any of them
 * (crdt_registry_decode reports where an encoding goes wrong, the
 * envelope included).  Two, because a map decodes its values with the
 * registry it was decoded with: the clock is no replicated type, and a
 * map holding one is as invalid here as it is to the library. */
crdt_registry *registry_new(bool replicated)
{
    crdt_registry *reg = crdt_registry_new(NULL);
    size_t i;

    for (i = 0; reg && i < N_TYPES; i++) {
        if (type_table[i].replicated != replicated)
            continue;
        if (crdt_registry_add(reg, type_table[i].type()) != CRDT_OK) {
            crdt_registry_free(reg);
            return NULL;
        }
    }
    return reg;
}
