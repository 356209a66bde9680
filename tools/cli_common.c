/* SPDX-License-Identifier: MIT */
/*
 * What the crdt commands share (cli.h): diagnostics, reading and decoding
 * states (at most MAX_INPUT bytes, with the decoder's error and offset on
 * failure), writing output (to stdout, or with -o through a temporary
 * file renamed over the target), and parsing the command line.
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
#include <crdt/type.h>

#include "cli.h"

/* ======================================================================
 * Diagnostics
 * ====================================================================== */

int fail(int status, const char *fmt, ...)
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
const char *label(const char *path)
{
    return (!path || strcmp(path, "-") == 0) ? "stdin" : path;
}

/* ======================================================================
 * Input
 * ====================================================================== */

/* Reads all of @p path ("-" or NULL: stdin) into a new buffer, at most
 * MAX_INPUT bytes.  *data is never NULL on success. */
int read_input(const char *path, uint8_t **data, size_t *len)
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

void state_clear(state *st)
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

/* Reads and decodes the state in @p path, of any type the tool knows; on
 * failure prints one line and returns the exit status. */
int load_state(const opts *o, const char *path, state *st)
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
int emit(out *o, const char *path)
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
int emit_state(const state *st, const char *path)
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

/* Prints "crdt: CMD: <message> (see 'crdt CMD --help')" and returns 2. */
int usage_fail(const command *c, const char *fmt, ...)
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
int parse_opts(const command *c, int argc, char **argv, opts *o)
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
        } else if ((c->optmask & OPT_SIM) &&
                   match_opt(argv, argc, &i, "--max-ms", &val)) {
            if (!val)
                return usage_fail(c, "--max-ms needs a value");
            if (o->have_max_ms)
                return usage_fail(c, "--max-ms given twice");
            if (!parse_u64(val, &v))
                return usage_fail(c, "invalid --max-ms '%s': expected a "
                                  "decimal integer 0..%" PRIu64,
                                  val, UINT64_MAX);
            o->have_max_ms = true;
            o->max_ms = v;
        } else if ((c->optmask & OPT_SIM) && strcmp(a, "--dump") == 0) {
            o->dump = true;
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
const char *pos_file(const opts *o, int idx)
{
    return idx < o->npos ? o->pos[idx] : NULL;
}

/* Reports that command @p c does not apply to the state's type. */
int not_applicable(const command *c, const char *path, const state *st)
{
    char names[256];

    type_names(names, sizeof names, c->applies);
    return fail(EXIT_INPUT, "%s: %s does not apply to %s (only to %s)",
                label(path), c->name, st->t->name, names);
}
