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
 * Types are rows of one table (type_table below): the library's type
 * descriptor (create, merge, encode, decode, ...) plus a few small
 * functions for what the tool adds (inc, dec, set, value, inspect); a NULL
 * entry means the command does not apply to that type.  States are decoded
 * through a crdt_registry of those descriptors.  Adding a type is adding a
 * row.
 *
 * Exit status: 0 success, 1 bad input or a failed operation (malformed
 * encoding, wrong type, overflow, I/O error), 2 usage (unknown command,
 * type or option, bad option value, wrong number of arguments).
 */
#define _POSIX_C_SOURCE 200809L

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

#define EXIT_INPUT 1
#define EXIT_USAGE 2

/* Largest input state accepted, in bytes (64 MiB). */
#define MAX_INPUT ((size_t)64 << 20)

static const char *const prog = "crdt";

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* ======================================================================
 * Diagnostics
 * ====================================================================== */

/* Prints "crdt: <message>\n" on stderr and returns @p status. */
static int fail(int status, const char *fmt, ...) PRINTF_LIKE(2, 3);

static int fail(int status, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

/* The name a path is reported under. */
static const char *label(const char *path)
{
    return (!path || strcmp(path, "-") == 0) ? "stdin" : path;
}

/* ======================================================================
 * Output buffer: a crdt_buf with a sticky error, so that formatting code
 * can append freely and check once.
 * ====================================================================== */

typedef struct out {
    crdt_buf b;
    int err;        /* first libcrdt error, sticky */
    unsigned depth; /* maps being printed, for nested maps' JSON */
} out;

static void out_init(out *o)
{
    crdt_buf_init(&o->b, NULL);
    o->err = CRDT_OK;
    o->depth = 0;
}

static void out_clear(out *o)
{
    crdt_buf_clear(&o->b);
}

static void out_bytes(out *o, const void *p, size_t n)
{
    if (!o->err && n)
        o->err = crdt_buf_append(&o->b, p, n);
}

static void out_str(out *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

static void out_u64(out *o, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);

    out_bytes(o, tmp, (size_t)n);
}

/* Appends @p n bytes as lower-case hex. */
static void out_hex(out *o, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char pair[2];
    size_t i;

    for (i = 0; i < n && !o->err; i++) {
        pair[0] = digits[p[i] >> 4];
        pair[1] = digits[p[i] & 15];
        out_bytes(o, pair, 2);
    }
}

/* True iff the @p n bytes at @p p are well-formed UTF-8 (no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static bool utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0, k, len;
    uint32_t c, min;

    while (i < n) {
        c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* Appends a JSON string literal of the UTF-8 text at @p p (must be
 * valid UTF-8): quotes, backslashes and control characters escaped. */
static void out_json_text(out *o, const uint8_t *p, size_t n)
{
    char esc[8];
    size_t i, run = 0;

    out_bytes(o, "\"", 1);
    for (i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
            continue;
        out_bytes(o, p + run, i - run);
        switch (p[i]) {
        case '"': out_str(o, "\\\""); break;
        case '\\': out_str(o, "\\\\"); break;
        case '\n': out_str(o, "\\n"); break;
        case '\r': out_str(o, "\\r"); break;
        case '\t': out_str(o, "\\t"); break;
        case '\b': out_str(o, "\\b"); break;
        case '\f': out_str(o, "\\f"); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", p[i]);
            out_str(o, esc);
        }
        run = i + 1;
    }
    out_bytes(o, p + run, n - run);
    out_bytes(o, "\"", 1);
}

/* Appends user bytes as JSON: {"hex":"...","text":"..."} where "text" is
 * the bytes as a JSON string if they are valid UTF-8, else null. */
static void out_json_bytes(out *o, const uint8_t *p, size_t n)
{
    out_str(o, "{\"hex\":\"");
    out_hex(o, p, n);
    out_str(o, "\",\"text\":");
    if (utf8_valid(p, n))
        out_json_text(o, p, n);
    else
        out_str(o, "null");
    out_str(o, "}");
}

/* ======================================================================
 * Types
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
 * none was given; it is never NULL for the ops in actor_ops.
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
    OP_DISABLE
} op_kind;

#define ACTOR_OP(k) (1u << (k))

typedef struct type_ops {
    const crdt_type *(*type)(void);
    bool replicated; /* a CRDT: merge and compare apply */
    int (*compare)(const void *a, const void *b, crdt_order *order);
    int (*inc)(void *obj, crdt_actor actor, uint64_t by);
    int (*dec)(void *obj, crdt_actor actor, uint64_t by);
    int (*set)(void *obj, crdt_actor actor, const uint64_t *time,
               const uint8_t *val, size_t len);
    bool set_untimed; /* set takes no --time (writes ordered causally) */
    int (*add)(void *obj, const crdt_actor *actor, const uint8_t *elem,
               size_t len);
    int (*remove)(void *obj, const uint8_t *elem, size_t len);
    int (*enable)(void *obj, const crdt_actor *actor);
    int (*disable)(void *obj, const crdt_actor *actor);
    unsigned actor_ops; /* ACTOR_OP(k) for each op that makes a new event
                         * (a dot): the actor is then required; the
                         * others get NULL or ignore it */
    int (*value)(const void *obj, out *o);
    int (*inspect)(const void *obj, out *o);
} type_ops;

/* --- vclock ----------------------------------------------------------- */

static int vc_compare(const void *a, const void *b, crdt_order *order)
{
    *order = crdt_vclock_compare(a, b);
    return CRDT_OK;
}

/* Adds @p by to the actor's counter: --by 1 is one event. */
static int vc_inc(void *obj, crdt_actor actor, uint64_t by)
{
    uint64_t cur;

    if (by == 1)
        return crdt_vclock_increment(obj, actor, NULL);
    cur = crdt_vclock_get(obj, actor);
    if (by > UINT64_MAX - cur)
        return CRDT_ERR_OVERFLOW;
    return crdt_vclock_set(obj, actor, cur + by);
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
        out_str(o, i ? ",{\"actor\":" : "{\"actor\":");
        out_u64(o, actor);
        out_str(o, ",\"counter\":");
        out_u64(o, counter);
        out_str(o, "}");
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
 * is bounded by the decoders' default limit on cloud size. */
static int dc_inc(void *obj, crdt_actor actor, uint64_t by)
{
    uint64_t i;
    int rv;

    if (by > CRDT_DEFAULT_MAX_ELEMENTS)
        return CRDT_ERR_LIMIT;
    for (i = 0; i < by; i++)
        if ((rv = crdt_dotctx_next_dot(obj, actor, NULL)))
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
        out_str(o, i ? ",{\"actor\":" : "{\"actor\":");
        out_u64(o, dot.actor);
        out_str(o, ",\"counter\":");
        out_u64(o, dot.counter);
        out_str(o, "}");
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

static int gc_inc(void *obj, crdt_actor actor, uint64_t by)
{
    return crdt_gcounter_increment(obj, actor, by, NULL);
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
        out_str(o, i ? ",{\"actor\":" : "{\"actor\":");
        out_u64(o, actor);
        out_str(o, ",\"count\":");
        out_u64(o, count);
        out_str(o, "}");
    }
    out_str(o, "],\"value\":");
    out_u64(o, crdt_gcounter_value(obj));
    return o->err;
}

/* --- pncounter ---------------------------------------------------------- */

static int pn_inc(void *obj, crdt_actor actor, uint64_t by)
{
    return crdt_pncounter_increment(obj, actor, by, NULL);
}

static int pn_dec(void *obj, crdt_actor actor, uint64_t by)
{
    return crdt_pncounter_decrement(obj, actor, by, NULL);
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
        out_str(o, i ? ",{\"actor\":" : "{\"actor\":");
        out_u64(o, actor);
        out_str(o, ",\"count\":");
        out_u64(o, count);
        out_str(o, "}");
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
                   const uint8_t *val, size_t len)
{
    crdt_hlc *hlc;
    int rv;

    if (time)
        return crdt_lww_set(obj, *time, actor, val, len, NULL);
    if (!(hlc = crdt_hlc_new(NULL, NULL)))
        return CRDT_ERR_NOMEM;
    rv = crdt_lww_set_now(obj, hlc, actor, val, len, NULL);
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

/* --- shared by the set, register, flag and map types ----------------- */

/* A borrowed byte string. */
typedef struct view {
    const uint8_t *p;
    size_t n;
} view;

/* Byte order: memcmp over the common length, then the shorter first (the
 * order of the encodings). */
static int view_cmp(const void *a, const void *b)
{
    const view *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n ? 1 : 0;
}

/* Reads the @p i-th element of a set or sibling of a register. */
typedef int (*view_fn)(const void *obj, size_t i, view *v);

/* Writes the @p n byte strings of @p obj in byte order: one per line
 * (the bytes as they are, then a newline) when @p json is false, else as
 * a JSON array of BYTES. */
static int out_views(const void *obj, size_t n, view_fn get, bool json,
                     out *o)
{
    view *v = calloc(n ? n : 1, sizeof *v);
    size_t i;
    int rv = CRDT_OK;

    if (!v)
        return CRDT_ERR_NOMEM;
    for (i = 0; i < n && !rv; i++)
        rv = get(obj, i, &v[i]);
    if (!rv) {
        qsort(v, n, sizeof *v, view_cmp);
        out_str(o, json ? "[" : "");
        for (i = 0; i < n; i++) {
            if (json) {
                out_str(o, i ? "," : "");
                out_json_bytes(o, v[i].p, v[i].n);
            } else {
                out_bytes(o, v[i].p, v[i].n);
                out_str(o, "\n");
            }
        }
        out_str(o, json ? "]" : "");
        rv = o->err;
    }
    free(v);
    return rv;
}

/* A reader of the canonical MessagePack that libcrdt writes: just the
 * unsigned integers and array and map headers that a causal context and
 * a dot list are made of. */
typedef struct rd {
    const uint8_t *p;
    size_t n, i;
} rd;

static bool rd_be(rd *r, size_t k, uint64_t *v)
{
    size_t j;

    if (r->n - r->i < k)
        return false;
    for (*v = 0, j = 0; j < k; j++)
        *v = *v << 8 | r->p[r->i++];
    return true;
}

static bool rd_uint(rd *r, uint64_t *v)
{
    uint8_t b;

    if (r->i >= r->n)
        return false;
    b = r->p[r->i++];
    if (b < 0x80) {
        *v = b;
        return true;
    }
    switch (b) {
    case 0xcc: return rd_be(r, 1, v);
    case 0xcd: return rd_be(r, 2, v);
    case 0xce: return rd_be(r, 4, v);
    case 0xcf: return rd_be(r, 8, v);
    default: return false;
    }
}

/* An array header (@p map false) or map header, its count to *@p count. */
static bool rd_header(rd *r, bool map, uint64_t *count)
{
    uint8_t b, fix = map ? 0x80 : 0x90;

    if (r->i >= r->n)
        return false;
    b = r->p[r->i++];
    if ((b & 0xf0) == fix) {
        *count = b & 0x0f;
        return true;
    }
    if (b == (map ? 0xde : 0xdc))
        return rd_be(r, 2, count);
    if (b == (map ? 0xdf : 0xdd))
        return rd_be(r, 4, count);
    return false;
}

/* Skips one MessagePack object of any kind, nested ones included, with
 * a count of the objects still to skip instead of recursion. */
static bool rd_skip(rd *r)
{
    uint64_t left = 1, n;
    uint8_t b;

    while (left > 0) {
        left--;
        if (r->i >= r->n)
            return false;
        b = r->p[r->i++];
        if (b < 0x80 || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            continue; /* fixint, nil, bool */
        if ((b & 0xf0) == 0x80) {
            left += 2u * (b & 0x0f);
            continue;
        }
        if ((b & 0xf0) == 0x90) {
            left += b & 0x0f;
            continue;
        }
        if ((b & 0xe0) == 0xa0) { /* fixstr */
            n = b & 0x1f;
        } else if (b >= 0xc4 && b <= 0xc9) { /* bin, ext: 8, 16, 32 */
            if (!rd_be(r, (size_t)1 << ((b - 0xc4) % 3), &n))
                return false;
            n += b >= 0xc7; /* ext's type byte */
        } else if (b >= 0xca && b <= 0xd3) { /* float, uint, int */
            static const uint8_t width[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8};

            n = width[b - 0xca];
        } else if (b >= 0xd4 && b <= 0xd8) { /* fixext 1..16, type byte */
            n = 1 + ((uint64_t)1 << (b - 0xd4));
        } else if (b >= 0xd9 && b <= 0xdb) { /* str 8, 16, 32 */
            if (!rd_be(r, (size_t)1 << (b - 0xd9), &n))
                return false;
        } else if (b >= 0xdc) { /* array, map: 16, 32 */
            if (!rd_be(r, b & 1 ? 4 : 2, &n))
                return false;
            left += b >= 0xde ? 2 * n : n;
            continue;
        } else {
            return false; /* 0xc1 */
        }
        if (r->n - r->i < n)
            return false;
        r->i += (size_t)n;
    }
    return true;
}

/* A bin's bytes, borrowed from @p r. */
static bool rd_bin(rd *r, view *v)
{
    uint64_t n;
    uint8_t b;

    if (r->i >= r->n)
        return false;
    b = r->p[r->i++];
    if (b < 0xc4 || b > 0xc6 || !rd_be(r, (size_t)1 << (b - 0xc4), &n) ||
        r->n - r->i < n)
        return false;
    v->p = r->p + r->i;
    v->n = (size_t)n;
    r->i += (size_t)n;
    return true;
}

/* Writes a list of dots [[actor, counter], ...] read from @p r as
 * [{"actor":A,"counter":C},...]. */
static bool rd_dots_json(rd *r, out *o)
{
    uint64_t n, two, actor, counter, i;

    if (!rd_header(r, false, &n))
        return false;
    out_str(o, "[");
    for (i = 0; i < n; i++) {
        if (!rd_header(r, false, &two) || two != 2 || !rd_uint(r, &actor) ||
            !rd_uint(r, &counter))
            return false;
        out_str(o, i ? ",{\"actor\":" : "{\"actor\":");
        out_u64(o, actor);
        out_str(o, ",\"counter\":");
        out_u64(o, counter);
        out_str(o, "}");
    }
    out_str(o, "]");
    return true;
}

/*
 * The causal context of a dot-store state (orset, mvreg, flags, ormap),
 * as dotctx's inspect prints it: ,"vv":[...],"cloud":[...].  These types
 * have no accessor for their context, but their encoding starts with its
 * two fields, [1, tag, {actor: counter, ...}, [[actor, counter], ...],
 * ...], so they are read from there.  With @p dots (the flags), the dots
 * that follow the context are written too, as ,"dots":[...].
 */
static int dotstore_json(const crdt_type *t, const void *obj, bool dots,
                         out *o)
{
    uint64_t n, i, v, actor, counter;
    crdt_buf b;
    rd r;
    bool okay;
    int rv;

    crdt_buf_init(&b, NULL);
    if ((rv = t->encode(obj, &b))) {
        crdt_buf_clear(&b);
        return rv;
    }
    r.p = b.data;
    r.n = b.len;
    r.i = 0;
    okay = rd_header(&r, false, &n) && n >= 4 && rd_uint(&r, &v) &&
           rd_uint(&r, &v) && rd_header(&r, true, &n);
    out_str(o, ",\"vv\":[");
    for (i = 0; okay && i < n; i++) {
        if (!(okay = rd_uint(&r, &actor) && rd_uint(&r, &counter)))
            break;
        out_str(o, i ? ",{\"actor\":" : "{\"actor\":");
        out_u64(o, actor);
        out_str(o, ",\"counter\":");
        out_u64(o, counter);
        out_str(o, "}");
    }
    out_str(o, "],\"cloud\":");
    okay = okay && rd_dots_json(&r, o);
    if (dots) {
        out_str(o, ",\"dots\":");
        okay = okay && rd_dots_json(&r, o);
    }
    crdt_buf_clear(&b);
    return okay ? o->err : CRDT_ERR_DECODE;
}

/* --- gset --------------------------------------------------------------- */

/* A G-set needs no actor: its adds are not events of anyone. */
static int gs_add(void *obj, const crdt_actor *actor, const uint8_t *elem,
                  size_t len)
{
    (void)actor;
    return crdt_gset_add(obj, elem, len, NULL);
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
                  size_t len)
{
    return crdt_orset_add(obj, *actor, elem, len, NULL);
}

static int os_remove(void *obj, const uint8_t *elem, size_t len)
{
    return crdt_orset_remove(obj, elem, len, NULL);
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
            out_str(o, k ? ",{\"actor\":" : "{\"actor\":");
            out_u64(o, dot.actor);
            out_str(o, ",\"counter\":");
            out_u64(o, dot.counter);
            out_str(o, "}");
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
                  const uint8_t *val, size_t len)
{
    (void)time;
    return crdt_mvreg_write(obj, actor, val, len, NULL);
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

static int ew_enable(void *obj, const crdt_actor *actor)
{
    return crdt_ewflag_enable(obj, *actor, NULL);
}

static int ew_disable(void *obj, const crdt_actor *actor)
{
    (void)actor;
    return crdt_ewflag_disable(obj, NULL);
}

static int dw_enable(void *obj, const crdt_actor *actor)
{
    (void)actor;
    return crdt_dwflag_enable(obj, NULL);
}

static int dw_disable(void *obj, const crdt_actor *actor)
{
    return crdt_dwflag_disable(obj, *actor, NULL);
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

static const type_ops *type_by_tag(uint32_t tag);

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

static const type_ops *type_by_name(const char *name)
{
    size_t i;

    for (i = 0; i < N_TYPES; i++)
        if (strcmp(type_name(&type_table[i]), name) == 0)
            return &type_table[i];
    return NULL;
}

static const type_ops *type_by_tag(uint32_t tag)
{
    size_t i;

    for (i = 0; i < N_TYPES; i++)
        if (type_table[i].type()->tag == tag)
            return &type_table[i];
    return NULL;
}

static bool type_has(const type_ops *t, op_kind k)
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
    default: return true;
    }
}

/* Writes the names of the types that offer @p k, separated by ", ", into
 * @p dst ("none" if no type does). */
static void type_names(char *dst, size_t cap, op_kind k)
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
static crdt_registry *registry_new(bool replicated)
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

/* ======================================================================
 * Input
 * ====================================================================== */

/* Reads all of @p path ("-" or NULL: stdin) into a new buffer, at most
 * MAX_INPUT bytes.  *data is never NULL on success. */
static int read_input(const char *path, uint8_t **data, size_t *len)
{
    bool is_stdin = !path || strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    uint8_t *buf = NULL, *p;
    size_t n = 0, cap = 0, got;
    int status = 0;

    if (!f)
        return fail(EXIT_INPUT, "%s: %s", label(path), strerror(errno));
    for (;;) {
        /* Grow to at most MAX_INPUT + 1 bytes: reading one byte more than
         * the limit tells an input at the limit from a larger one. */
        if (cap - n < 4096 && cap < MAX_INPUT + 1) {
            size_t ncap = cap ? cap * 2 : 65536;

            if (ncap > MAX_INPUT + 1)
                ncap = MAX_INPUT + 1;
            if (!(p = realloc(buf, ncap))) {
                status = fail(EXIT_INPUT, "%s: %s", label(path),
                              crdt_strerror(CRDT_ERR_NOMEM));
                break;
            }
            buf = p;
            cap = ncap;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n > MAX_INPUT) {
            status = fail(EXIT_INPUT, "%s: input larger than %zu MiB",
                          label(path), MAX_INPUT >> 20);
            break;
        }
        if (got == 0) {
            if (ferror(f))
                status = fail(EXIT_INPUT, "%s: %s", label(path),
                              strerror(errno));
            break;
        }
    }
    if (!is_stdin)
        fclose(f);
    if (status) {
        free(buf);
        return status;
    }
    if (!buf && !(buf = malloc(1)))
        return fail(EXIT_INPUT, "%s: %s", label(path),
                    crdt_strerror(CRDT_ERR_NOMEM));
    *data = buf;
    *len = n;
    return 0;
}

/* A decoded state: its type's row, its descriptor and the object. */
typedef struct state {
    const type_ops *ops;
    const crdt_type *t;
    void *obj;
} state;

static void state_clear(state *st)
{
    if (st->t && st->obj)
        st->t->destroy(st->obj);
    st->ops = NULL;
    st->t = NULL;
    st->obj = NULL;
}

/* Reports a decode failure: the libcrdt error text and byte offset. */
static int decode_fail(const char *path, size_t len,
                       const crdt_decode_info *info)
{
    const char *hint = "";

    if (info->code == CRDT_ERR_DECODE && len == 0)
        hint = " (empty input)";
    else if (info->code == CRDT_ERR_DECODE && info->offset == len)
        hint = " (input ends early)";
    return fail(EXIT_INPUT, "%s: %s at byte %zu%s", label(path),
                crdt_strerror(info->code), info->offset, hint);
}

/* The command line, parsed. */
typedef struct opts {
    const char *output;
    bool have_actor;
    crdt_actor actor;
    bool have_by;
    uint64_t by;
    bool have_time;
    uint64_t time;
    char **pos; /* positional arguments (compacted into argv) */
    int npos;
    const crdt_registry *reg;       /* the replicated types */
    const crdt_registry *clock_reg; /* the others: the clock */
} opts;

/* Reads and decodes the state in @p path, of any type the tool knows; on
 * failure prints one line and returns the exit status. */
static int load_state(const opts *o, const char *path, state *st)
{
    crdt_decode_info info = {0, CRDT_OK};
    const crdt_registry *reg = o->reg;
    uint8_t *data = NULL;
    size_t len = 0;
    uint32_t tag;
    int rv, status;

    st->ops = NULL;
    st->t = NULL;
    st->obj = NULL;
    if ((status = read_input(path, &data, &len)))
        return status;
    if (crdt_decode_header(data, len, &tag) == 0 &&
        crdt_registry_find(o->clock_reg, tag))
        reg = o->clock_reg;
    rv = crdt_registry_decode(reg, data, len, NULL, NULL, &st->t, &st->obj,
                              &info);
    if (rv == CRDT_ERR_TYPE && crdt_decode_header(data, len, &tag) == 0 &&
        !crdt_registry_find(reg, tag)) {
        if (crdt_type_name(tag))
            status = fail(EXIT_INPUT, "%s: type %s (tag %" PRIu32
                          ") is not supported by this tool",
                          label(path), crdt_type_name(tag), tag);
        else
            status = fail(EXIT_INPUT, "%s: unknown type tag %" PRIu32
                          " at byte %zu", label(path), tag, info.offset);
    } else if (rv) {
        if (info.code == CRDT_OK) { /* failed before decoding (NOMEM) */
            info.code = rv;
            info.offset = 0;
        }
        status = decode_fail(path, len, &info);
    } else {
        st->ops = type_by_tag(st->t->tag);
    }
    free(data);
    if (status)
        state_clear(st);
    return status;
}

/* ======================================================================
 * Output
 * ====================================================================== */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes the finished output in one go: to stdout, or to @p path through
 * a temporary file renamed over it (so @p path is never half written). */
static int emit(out *o, const char *path)
{
    char *tmp;
    size_t n;
    mode_t mask;
    int fd, saved;

    if (o->err)
        return fail(EXIT_INPUT, "%s", crdt_strerror(o->err));
    if (!path || strcmp(path, "-") == 0) {
        if ((o->b.len && fwrite(o->b.data, 1, o->b.len, stdout) != o->b.len)
            || fflush(stdout) != 0)
            return fail(EXIT_INPUT, "stdout: %s", strerror(errno));
        return 0;
    }
    n = strlen(path);
    if (!(tmp = malloc(n + sizeof ".tmp-XXXXXX")))
        return fail(EXIT_INPUT, "%s: %s", path,
                    crdt_strerror(CRDT_ERR_NOMEM));
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    if ((fd = mkstemp(tmp)) < 0) {
        saved = errno;
        free(tmp);
        return fail(EXIT_INPUT, "%s: %s", path, strerror(saved));
    }
    mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 ||
        write_all(fd, o->b.data, o->b.len) != 0) {
        saved = errno;
        close(fd);
        goto fail;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        saved = errno;
        goto fail;
    }
    free(tmp);
    return 0;
fail:
    unlink(tmp);
    free(tmp);
    return fail(EXIT_INPUT, "%s: %s", path, strerror(saved));
}

/* Encodes @p st and writes it out. */
static int emit_state(const state *st, const char *path)
{
    out o;
    int rv, status;

    out_init(&o);
    if ((rv = st->t->encode(st->obj, &o.b)))
        o.err = rv;
    status = emit(&o, path);
    out_clear(&o);
    return status;
}

/* ======================================================================
 * Command line
 * ====================================================================== */

enum {
    OPT_OUTPUT = 1 << 0, /* -o FILE, --output FILE */
    OPT_ACTOR = 1 << 1,  /* --actor N, --actor-name NAME */
    OPT_BY = 1 << 2,     /* --by N */
    OPT_TIME = 1 << 3,   /* --time T */
    OPT_ACTOR_OPTIONAL = 1 << 4 /* with OPT_ACTOR: the type decides */
};

struct command;
typedef int (*cmd_fn)(const struct command *c, opts *o);

typedef struct command {
    const char *name;
    cmd_fn run;
    op_kind applies;      /* the types it applies to (help, errors) */
    unsigned optmask;
    int min_pos, max_pos; /* max_pos -1: unbounded */
    const char *usage;    /* synopsis after "crdt NAME " */
    const char *help;     /* description and options */
} command;

static int usage_fail(const command *c, const char *fmt, ...)
    PRINTF_LIKE(2, 3);

/* Prints "crdt: CMD: <message> (see 'crdt CMD --help')" and returns 2. */
static int usage_fail(const command *c, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: %s%s", prog, c ? c->name : "", c ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s %s%s--help')\n", prog, c ? c->name : "",
            c ? " " : "");
    return EXIT_USAGE;
}

/* Parses a decimal uint64: digits only, no sign, no overflow, no junk. */
static bool parse_u64(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    unsigned d;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

/* Matches "--name VALUE" and "--name=VALUE" at argv[*i]; on a match sets
 * *val (NULL if the value is missing) and advances *i past the value. */
static bool match_opt(char **argv, int argc, int *i, const char *name,
                      const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return false;
    if (a[n] == '=') {
        *val = a + n + 1;
        return true;
    }
    if (a[n] != '\0')
        return false;
    *val = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

/* Parses the arguments after the command name.  Returns -1 to go on, or
 * an exit status. */
static int parse_opts(const command *c, int argc, char **argv, opts *o)
{
    const char *val;
    bool dashdash = false;
    uint64_t v;
    int i;

    memset(o, 0, sizeof *o);
    o->pos = argv;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (dashdash || a[0] != '-' || strcmp(a, "-") == 0) {
            argv[o->npos++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            dashdash = true;
        } else if ((c->optmask & OPT_OUTPUT) &&
                   (match_opt(argv, argc, &i, "-o", &val) ||
                    match_opt(argv, argc, &i, "--output", &val))) {
            if (!val || !*val)
                return usage_fail(c, "%s needs a file name", a);
            if (o->output)
                return usage_fail(c, "output given twice");
            o->output = val;
        } else if ((c->optmask & OPT_ACTOR) &&
                   match_opt(argv, argc, &i, "--actor", &val)) {
            if (!val)
                return usage_fail(c, "--actor needs a value");
            if (o->have_actor)
                return usage_fail(c, "actor given twice");
            if (!parse_u64(val, &v))
                return usage_fail(c, "invalid --actor '%s': expected a "
                                  "decimal integer 0..%" PRIu64,
                                  val, UINT64_MAX);
            o->have_actor = true;
            o->actor = v;
        } else if ((c->optmask & OPT_ACTOR) &&
                   match_opt(argv, argc, &i, "--actor-name", &val)) {
            if (!val)
                return usage_fail(c, "--actor-name needs a value");
            if (o->have_actor)
                return usage_fail(c, "actor given twice");
            o->have_actor = true;
            o->actor = crdt_actor_from_name(val, strlen(val));
        } else if ((c->optmask & OPT_BY) &&
                   match_opt(argv, argc, &i, "--by", &val)) {
            if (!val)
                return usage_fail(c, "--by needs a value");
            if (o->have_by)
                return usage_fail(c, "--by given twice");
            if (!parse_u64(val, &v) || v == 0)
                return usage_fail(c, "invalid --by '%s': expected a "
                                  "decimal integer 1..%" PRIu64,
                                  val, UINT64_MAX);
            o->have_by = true;
            o->by = v;
        } else if ((c->optmask & OPT_TIME) &&
                   match_opt(argv, argc, &i, "--time", &val)) {
            if (!val)
                return usage_fail(c, "--time needs a value");
            if (o->have_time)
                return usage_fail(c, "--time given twice");
            if (!parse_u64(val, &v))
                return usage_fail(c, "invalid --time '%s': expected a "
                                  "decimal integer 0..%" PRIu64,
                                  val, UINT64_MAX);
            o->have_time = true;
            o->time = v;
        } else {
            return usage_fail(c, "unknown option '%s'", a);
        }
    }
    if (o->npos < c->min_pos)
        return usage_fail(c, "missing argument");
    if (c->max_pos >= 0 && o->npos > c->max_pos)
        return usage_fail(c, "unexpected argument '%s'",
                          o->pos[c->max_pos]);
    if ((c->optmask & OPT_ACTOR) && !(c->optmask & OPT_ACTOR_OPTIONAL) &&
        !o->have_actor)
        return usage_fail(c, "--actor or --actor-name is required");
    if (!o->have_by)
        o->by = 1;
    return -1;
}

/* The file operand at @p idx, or NULL (stdin) if absent. */
static const char *pos_file(const opts *o, int idx)
{
    return idx < o->npos ? o->pos[idx] : NULL;
}

/* ======================================================================
 * Commands
 * ====================================================================== */

static int cmd_new(const command *c, opts *o)
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

/* Reports that command @p c does not apply to the state's type. */
static int not_applicable(const command *c, const char *path,
                          const state *st)
{
    char names[256];

    type_names(names, sizeof names, c->applies);
    return fail(EXIT_INPUT, "%s: %s does not apply to %s (only to %s)",
                label(path), c->name, st->t->name, names);
}

/* inc and dec. */
static int counter_cmd(const command *c, opts *o)
{
    const char *path = pos_file(o, 0);
    state st;
    int rv, status;

    if ((status = load_state(o, path, &st)))
        return status;
    if (!type_has(st.ops, c->applies))
        status = not_applicable(c, path, &st);
    else if ((rv = c->applies == OP_INC
                       ? st.ops->inc(st.obj, o->actor, o->by)
                       : st.ops->dec(st.obj, o->actor, o->by)) ==
             CRDT_ERR_LIMIT)
        status = fail(EXIT_INPUT, "%s: %s: --by %" PRIu64 " is more than "
                      "%s takes at once (%zu)", label(path), c->name, o->by,
                      st.t->name, CRDT_DEFAULT_MAX_ELEMENTS);
    else if (rv)
        status = fail(EXIT_INPUT, "%s: %s: %s", label(path), c->name,
                      crdt_strerror(rv));
    else
        status = emit_state(&st, o->output);
    state_clear(&st);
    return status;
}

static int cmd_set(const command *c, opts *o)
{
    const char *value = o->pos[0], *path = pos_file(o, 1);
    state st;
    int rv, status;

    if ((status = load_state(o, path, &st)))
        return status;
    if (!type_has(st.ops, c->applies))
        status = not_applicable(c, path, &st);
    else if (o->have_time && st.ops->set_untimed)
        status = usage_fail(c, "--time does not apply to %s (its writes "
                            "supersede what they have seen)", st.t->name);
    else if ((rv = st.ops->set(st.obj, o->actor,
                               o->have_time ? &o->time : NULL,
                               (const uint8_t *)value, strlen(value))))
        status = fail(EXIT_INPUT, "%s: %s: %s%s", label(path), c->name,
                      crdt_strerror(rv),
                      rv == CRDT_ERR_CLOCK_DRIFT
                          ? " (the state's timestamp is ahead of the "
                            "system clock; give --time)"
                          : "");
    else
        status = emit_state(&st, o->output);
    state_clear(&st);
    return status;
}

/* add, remove, enable and disable: ELEM [FILE] or [FILE]. */
static int cmd_mutate(const command *c, opts *o)
{
    bool has_elem = c->applies == OP_ADD || c->applies == OP_REMOVE;
    const uint8_t *elem = has_elem ? (const uint8_t *)o->pos[0] : NULL;
    size_t len = has_elem ? strlen(o->pos[0]) : 0;
    const char *path = pos_file(o, has_elem ? 1 : 0);
    const crdt_actor *actor = o->have_actor ? &o->actor : NULL;
    state st;
    int rv, status;

    if ((status = load_state(o, path, &st)))
        return status;
    if (!type_has(st.ops, c->applies)) {
        status = not_applicable(c, path, &st);
        goto done;
    }
    if (!actor && (st.ops->actor_ops & ACTOR_OP(c->applies))) {
        status = usage_fail(c, "--actor or --actor-name is required for %s",
                            st.t->name);
        goto done;
    }
    switch (c->applies) {
    case OP_ADD: rv = st.ops->add(st.obj, actor, elem, len); break;
    case OP_REMOVE: rv = st.ops->remove(st.obj, elem, len); break;
    case OP_ENABLE: rv = st.ops->enable(st.obj, actor); break;
    default: rv = st.ops->disable(st.obj, actor); break;
    }
    if (rv)
        status = fail(EXIT_INPUT, "%s: %s: %s", label(path), c->name,
                      crdt_strerror(rv));
    else
        status = emit_state(&st, o->output);
done:
    state_clear(&st);
    return status;
}

static int cmd_value(const command *c, opts *o)
{
    const char *path = pos_file(o, 0);
    state st;
    out ob;
    int rv, status;

    (void)c;
    if ((status = load_state(o, path, &st)))
        return status;
    out_init(&ob);
    rv = st.ops->value(st.obj, &ob);
    if (rv == CRDT_ERR_NOT_FOUND)
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

static int cmd_merge(const command *c, opts *o)
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

static int cmd_compare(const command *c, opts *o)
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

static int cmd_inspect(const command *c, opts *o)
{
    const char *path = pos_file(o, 0);
    state st;
    out ob;
    int rv, status;

    (void)c;
    if ((status = load_state(o, path, &st)))
        return status;
    out_init(&ob);
    out_str(&ob, "{\"type\":\"");
    out_str(&ob, st.t->name);
    out_str(&ob, "\",\"version\":");
    out_u64(&ob, CRDT_FORMAT_VERSION);
    if ((rv = st.ops->inspect(st.obj, &ob))) {
        status = fail(EXIT_INPUT, "%s: %s", label(path), crdt_strerror(rv));
    } else {
        out_str(&ob, "}\n");
        status = emit(&ob, o->output);
    }
    out_clear(&ob);
    state_clear(&st);
    return status;
}

/* ======================================================================
 * Help and dispatch
 * ====================================================================== */

#define OUTPUT_HELP                                                        \
    "  -o, --output FILE  write to FILE (atomically: a temporary file in\n" \
    "                     FILE's directory, renamed over it) instead of\n"  \
    "                     stdout\n"
#define ACTOR_HELP                                                         \
    "  --actor N          the replica's actor id, a decimal integer\n"      \
    "                     0..18446744073709551615\n"                        \
    "  --actor-name NAME  the actor id derived from NAME's bytes (XXH3-64,\n" \
    "                     seed 0: crdt_actor_from_name)\n"
#define FILE_HELP                                                          \
    "FILE is a state in its canonical encoding (at most 64 MiB); without\n" \
    "FILE, or with '-', the state is read from stdin.\n"

static const command commands[] = {
    {"new", cmd_new, OP_ANY, OPT_OUTPUT, 1, 1, "TYPE [-o FILE]",
     "Writes the canonical encoding of an empty state of TYPE (an hlc is\n"
     "a clock that has issued nothing).\n\n" OUTPUT_HELP},
    {"inc", counter_cmd, OP_INC, OPT_OUTPUT | OPT_ACTOR | OPT_BY, 0, 1,
     "(--actor N | --actor-name NAME) [--by N] [-o FILE] [FILE]",
     "Adds N (default 1) to the actor's entry and writes the new state;\n"
     "for a dotctx, records the actor's next N events (N at most 2^24).\n"
     "Overflow is an error and changes nothing.\n\n" FILE_HELP "\n"
     ACTOR_HELP
     "  --by N             the amount, 1..18446744073709551615\n"
     OUTPUT_HELP},
    {"dec", counter_cmd, OP_DEC, OPT_OUTPUT | OPT_ACTOR | OPT_BY, 0, 1,
     "(--actor N | --actor-name NAME) [--by N] [-o FILE] [FILE]",
     "Subtracts N (default 1) from a counter and writes the new state.\n"
     "Overflow is an error and changes nothing.\n\n" FILE_HELP "\n"
     ACTOR_HELP
     "  --by N             the amount, 1..18446744073709551615\n"
     OUTPUT_HELP},
    {"set", cmd_set, OP_SET, OPT_OUTPUT | OPT_ACTOR | OPT_TIME, 1, 2,
     "(--actor N | --actor-name NAME) [--time T] [-o FILE] VALUE [FILE]",
     "Writes VALUE (the argument's bytes) into a register with timestamp T\n"
     "and writes the new state.  Without --time, T comes from a hybrid\n"
     "logical clock on the system clock that first observes the register's\n"
     "timestamp, so the write wins over the one it replaces (an error if\n"
     "that timestamp is more than 60 s ahead of the system clock).  With\n"
     "--time, a write that orders before the register's current write\n"
     "(by timestamp, then actor, then bytes) leaves it as it is, as any\n"
     "merge would.  An mvreg write takes no --time (a usage error): it\n"
     "supersedes every sibling the register holds, and writes made\n"
     "concurrently elsewhere stay beside it as siblings after a merge.\n"
     "A VALUE starting with '-' goes after '--'.\n\n"
     FILE_HELP "\n" ACTOR_HELP
     "  --time T           the timestamp, a decimal integer (an HLC\n"
     "                     timestamp is milliseconds << 16 | counter);\n"
     "                     lww only\n"
     OUTPUT_HELP},
    {"add", cmd_mutate, OP_ADD,
     OPT_OUTPUT | OPT_ACTOR | OPT_ACTOR_OPTIONAL, 1, 2,
     "[--actor N | --actor-name NAME] [-o FILE] ELEM [FILE]",
     "Adds ELEM (the argument's bytes) to a set and writes the new state.\n"
     "An orset add is an event of the actor, which is required; a gset\n"
     "add needs no actor (one given is ignored).  An ELEM starting with\n"
     "'-' goes after '--'.\n\n"
     FILE_HELP "\n" ACTOR_HELP OUTPUT_HELP},
    {"remove", cmd_mutate, OP_REMOVE, OPT_OUTPUT, 1, 2,
     "[-o FILE] ELEM [FILE]",
     "Removes ELEM from an orset and writes the new state: removes the\n"
     "adds this state has observed, so an add made concurrently elsewhere\n"
     "survives a merge (add wins).  Removing an absent element changes\n"
     "nothing.  An ELEM starting with '-' goes after '--'.\n\n"
     FILE_HELP "\n" OUTPUT_HELP},
    {"enable", cmd_mutate, OP_ENABLE,
     OPT_OUTPUT | OPT_ACTOR | OPT_ACTOR_OPTIONAL, 0, 1,
     "[--actor N | --actor-name NAME] [-o FILE] [FILE]",
     "Enables a flag and writes the new state.  ewflag (enable-wins, new:\n"
     "false): an event of the actor, which is required; it wins over a\n"
     "concurrent disable.  dwflag (disable-wins, new: true): removes the\n"
     "disables this state has observed (no actor needed; one given is\n"
     "ignored); a concurrent disable wins.\n\n"
     FILE_HELP "\n" ACTOR_HELP OUTPUT_HELP},
    {"disable", cmd_mutate, OP_DISABLE,
     OPT_OUTPUT | OPT_ACTOR | OPT_ACTOR_OPTIONAL, 0, 1,
     "[--actor N | --actor-name NAME] [-o FILE] [FILE]",
     "Disables a flag and writes the new state.  dwflag (disable-wins):\n"
     "an event of the actor, which is required; it wins over a concurrent\n"
     "enable.  ewflag (enable-wins): removes the enables this state has\n"
     "observed (no actor needed; one given is ignored); a concurrent\n"
     "enable wins.\n\n"
     FILE_HELP "\n" ACTOR_HELP OUTPUT_HELP},
    {"value", cmd_value, OP_ANY, OPT_OUTPUT, 0, 1, "[-o FILE] [FILE]",
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
     "          'crdt inspect' prints it (BYTES: see 'crdt inspect --help')\n"
     "Elements and sibling values are printed as they are, each followed\n"
     "by a newline: one that contains a newline spans several lines (use\n"
     "'crdt inspect' for exact bytes).\n\n"
     FILE_HELP "\n" OUTPUT_HELP},
    {"merge", cmd_merge, OP_MERGE, OPT_OUTPUT, 1, -1, "[-o FILE] FILE...",
     "Merges (joins) states of one type and writes the canonical encoding\n"
     "of the result: the same bytes in whatever order the files come.\n"
     "States of different types are an error.  '-' reads one of the\n"
     "states from stdin.\n\n" OUTPUT_HELP},
    {"compare", cmd_compare, OP_MERGE, OPT_OUTPUT, 2, 2, "[-o FILE] A B",
     "Prints how state A is ordered against state B: before (B has seen\n"
     "all of A and more), after, equal or concurrent.  Both must have one\n"
     "type.  vclock, dotctx: the causal order.  lww: the order of the writes\n"
     "(never concurrent).  Counters, sets, mvreg, flags, ormap: the order\n"
     "of their lattice, A before B iff merging A into B leaves B as it is\n"
     "and A != B (B has seen all of A: every add, write, remove).\n\n"
     OUTPUT_HELP},
    {"inspect", cmd_inspect, OP_ANY, OPT_OUTPUT, 0, 1, "[-o FILE] [FILE]",
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
     "  orset   CONTEXT, \"elements\":[{\"elem\":BYTES,\"dots\":DOTS},...],\n"
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
     FILE_HELP "\n" OUTPUT_HELP},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_command_help(const command *c)
{
    char names[256];

    type_names(names, sizeof names, c->applies);
    printf("usage: %s %s %s\n\n%s\n%s: %s\n", prog, c->name, c->usage,
           c->help, c->applies == OP_ANY ? "types" : "applies to", names);
}

static void print_help(void)
{
    char names[256];

    type_names(names, sizeof names, OP_ANY);
    printf(
        "usage: %s COMMAND [OPTIONS] [ARGS]\n"
        "\n"
        "Works on libcrdt states in their canonical encoding: reads a "
        "state from\nFILE or stdin, writes the new state to stdout or -o "
        "FILE.\n"
        "\n"
        "commands:\n"
        "  new TYPE                            an empty state\n"
        "  inc --actor N [--by N] [FILE]       increment a counter or "
        "clock\n"
        "  dec --actor N [--by N] [FILE]       decrement a PN-counter\n"
        "  set --actor N [--time T] VALUE [FILE]  write a register\n"
        "  add [--actor N] ELEM [FILE]         add to a set\n"
        "  remove ELEM [FILE]                  remove from an OR-set\n"
        "  enable [--actor N] [FILE]           enable a flag\n"
        "  disable [--actor N] [FILE]          disable a flag\n"
        "  value [FILE]                        print the value\n"
        "  merge FILE...                       merge states of one type\n"
        "  compare A B                         before, after, equal or "
        "concurrent\n"
        "  inspect [FILE]                      any encoding as JSON\n"
        "  help [COMMAND]                      this text, or a command's\n"
        "\n"
        "types: %s\n"
        "\n"
        "Actors are --actor N (decimal uint64) or --actor-name NAME "
        "(XXH3-64 of\nNAME's bytes).  In JSON output, actor ids and "
        "counters are exact decimal\nnumbers, which may exceed 2^53.  "
        "Inputs are limited to 64 MiB.\n"
        "\n"
        "exit status: 0 success, 1 bad input or failed operation (one line "
        "on\nstderr; for a bad encoding the error and its byte offset), 2 "
        "usage error.\n"
        "\n"
        "'%s COMMAND --help' describes a command.  %s --version prints "
        "the version.\n",
        prog, names, prog, prog);
}

static const command *command_by_name(const char *name)
{
    size_t i;

    for (i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
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

int main(int argc, char **argv)
{
    const command *c;
    crdt_registry *reg, *clock_reg;
    opts o;
    int status;

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
    if (strcmp(argv[1], "help") == 0) {
        if (argc == 2) {
            print_help();
        } else if (argc == 3 && (c = command_by_name(argv[2]))) {
            print_command_help(c);
        } else if (argc > 3) {
            return usage_fail(NULL, "help: unexpected argument '%s'",
                              argv[3]);
        } else {
            return usage_fail(NULL, "help: unknown command '%s'",
                              argv[2]);
        }
        return flush_stdout();
    }
    if (!(c = command_by_name(argv[1]))) {
        if (argv[1][0] == '-')
            return usage_fail(NULL, "unknown option '%s'", argv[1]);
        return usage_fail(NULL, "unknown command '%s'", argv[1]);
    }
    if (wants_help(argc - 2, argv + 2)) {
        print_command_help(c);
        return flush_stdout();
    }
    if ((status = parse_opts(c, argc - 2, argv + 2, &o)) >= 0)
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
