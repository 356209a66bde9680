/* SPDX-License-Identifier: MIT */
/*
 * The C side of the independent-implementation interop test
 * (tests/test_interop.py, run by tests/interop.sh) and the seed corpus
 * generator of the fuzz targets.  Works for every type in typetab.c.
 *
 *   interop_helper gen TYPE SEED N   N random states, one per line:
 *                                    "<hex encoding> <json model>"
 *   interop_helper canon TYPE        for each hex line on stdin: decode,
 *                                    print "<hex re-encoding> <json model>"
 *                                    or "error CODE OFFSET"
 *   interop_helper actor NAME        crdt_actor_from_name(NAME) in decimal
 *   interop_helper actors            the same for each hex-encoded name on
 *                                    stdin (names with any bytes)
 *   interop_helper types             the type names, one per line
 *   interop_helper corpus TYPE DIR   writes TYPE's seed corpus into DIR
 *   interop_helper                   self-check: gen/encode/decode/model
 *                                    round trips of every type (a test)
 *
 * Exit status: 0, 1 on a failed self-check or I/O error, 2 on misuse.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "typetab.h"

static const crdt_type *tt_ops(const tt_type *t)
{
    return t->ops();
}

static int usage(void)
{
    fputs("usage: interop_helper gen TYPE SEED N | canon TYPE | actor NAME"
          " | actors | types | corpus TYPE DIR\n",
          stderr);
    return 2;
}

static const tt_type *type_arg(const char *name)
{
    const tt_type *t = tt_find(name);

    if (!t)
        fprintf(stderr, "interop_helper: unknown type '%s'\n", name);
    return t;
}

static void put_hex(FILE *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        fputc(digits[p[i] >> 4], out);
        fputc(digits[p[i] & 15], out);
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes n hex digits at s into out (n / 2 bytes); -1 if not hex. */
static int parse_hex(const char *s, size_t n, uint8_t *out)
{
    size_t i;

    if (n % 2)
        return -1;
    for (i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Prints "<hex> <model>\n" of obj. */
static int print_state(const tt_type *t, const void *obj, crdt_buf *b)
{
    int rv;

    crdt_buf_reset(b);
    if ((rv = tt_ops(t)->encode(obj, b))) {
        fprintf(stderr, "interop_helper: encode: %s\n", crdt_strerror(rv));
        return 1;
    }
    put_hex(stdout, b->data, b->len);
    fputc(' ', stdout);
    t->model(obj, stdout);
    fputc('\n', stdout);
    return 0;
}

/* Makes a random state of shape; i < TT_NSHAPES takes each shape once so
 * that every run covers all of them. */
static void *make_state(const tt_type *t, tu_rng *rng, tt_shape shape)
{
    void *obj = tt_ops(t)->create(NULL);
    int rv;

    if (!obj) {
        fputs("interop_helper: out of memory\n", stderr);
        return NULL;
    }
    if ((rv = t->gen(obj, rng, shape))) {
        fprintf(stderr, "interop_helper: gen %s: %s\n", tt_ops(t)->name,
                crdt_strerror(rv));
        tt_ops(t)->destroy(obj);
        return NULL;
    }
    return obj;
}

static int cmd_gen(const tt_type *t, uint64_t seed, long n)
{
    crdt_buf b;
    tu_rng rng;
    long i;
    int rv = 0;

    tu_rng_init(&rng, seed);
    crdt_buf_init(&b, NULL);
    for (i = 0; i < n && rv == 0; i++) {
        void *obj = make_state(t, &rng, i < TT_NSHAPES ? (tt_shape)i : TT_ANY);

        if (!obj) {
            rv = 1;
            break;
        }
        rv = print_state(t, obj, &b);
        tt_ops(t)->destroy(obj);
    }
    crdt_buf_clear(&b);
    return rv;
}

/* Reads one hex line from stdin into *bytes (malloc'd) and *n; returns 1
 * on a line, 0 at the end, -1 if the line is not hex. */
static int read_hex_line(char **line, size_t *cap, uint8_t **bytes, size_t *n)
{
    ssize_t got = getline(line, cap, stdin);
    size_t k;

    if (got < 0)
        return 0;
    k = (size_t)got;
    while (k && ((*line)[k - 1] == '\n' || (*line)[k - 1] == '\r' ||
                 (*line)[k - 1] == ' '))
        k--;
    free(*bytes);
    *bytes = malloc(k / 2 + 1);
    if (!*bytes || parse_hex(*line, k, *bytes)) {
        fputs("interop_helper: a line of stdin is not hex\n", stderr);
        return -1;
    }
    *n = k / 2;
    return 1;
}

static int cmd_actors(void)
{
    char *line = NULL;
    size_t cap = 0, n;
    uint8_t *bytes = NULL;
    int got;

    while ((got = read_hex_line(&line, &cap, &bytes, &n)) > 0)
        printf("%" PRIu64 "\n", crdt_actor_from_name(bytes, n));
    free(bytes);
    free(line);
    return got < 0 ? 2 : 0;
}

static int cmd_canon(const tt_type *t)
{
    char *line = NULL;
    size_t cap = 0, n;
    uint8_t *bytes = NULL;
    crdt_buf b;
    int got, rv = 0;

    crdt_buf_init(&b, NULL);
    while ((got = read_hex_line(&line, &cap, &bytes, &n)) != 0) {
        crdt_decode_info info = {0, 0};
        void *obj;
        int drv;

        if (got < 0) {
            rv = 2;
            break;
        }
        obj = tt_ops(t)->create(NULL);
        if (!obj) {
            rv = 1;
            break;
        }
        drv = tt_ops(t)->decode(obj, bytes, n, NULL, &info);
        if (drv == CRDT_OK)
            rv = print_state(t, obj, &b);
        else
            printf("error %d %zu\n", drv, info.offset);
        tt_ops(t)->destroy(obj);
        if (rv)
            break;
        fflush(stdout);
    }
    free(bytes);
    free(line);
    crdt_buf_clear(&b);
    return rv;
}

static const char *const shape_names[TT_NSHAPES] = {
    [TT_EMPTY] = "empty", [TT_SMALL] = "small", [TT_BIG] = "big",
    [TT_MANY] = "many",   [TT_EDGE] = "edge",
};

/* Files of at most this size, so that libFuzzer (-max_len=4096) sees
 * whole encodings. */
#define CORPUS_MAX 4096

static int cmd_corpus(const tt_type *t, const char *dir)
{
    crdt_buf b;
    int s, k, tries, rv = 0;

    crdt_buf_init(&b, NULL);
    for (s = 0; s < TT_NSHAPES && rv == 0; s++) {
        for (k = 0; k < (s == TT_EMPTY ? 1 : 3) && rv == 0; k++) {
            char path[4096];
            FILE *f;

            for (tries = 0;; tries++) {
                tu_rng rng;
                void *obj;

                tu_rng_init(&rng, (uint64_t)(1000 * tries + 10 * s + k));
                obj = make_state(t, &rng, (tt_shape)s);
                if (!obj)
                    return 1;
                crdt_buf_reset(&b);
                rv = tt_ops(t)->encode(obj, &b);
                tt_ops(t)->destroy(obj);
                if (rv) {
                    fprintf(stderr, "interop_helper: encode: %s\n",
                            crdt_strerror(rv));
                    return 1;
                }
                if (b.len <= CORPUS_MAX || tries == 100)
                    break;
            }
            if (s == TT_EMPTY)
                snprintf(path, sizeof path, "%s/%s", dir, shape_names[s]);
            else
                snprintf(path, sizeof path, "%s/%s-%d", dir, shape_names[s],
                         k);
            f = fopen(path, "wb");
            if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f)) {
                fprintf(stderr, "interop_helper: cannot write %s\n", path);
                rv = 1;
            }
        }
    }
    crdt_buf_clear(&b);
    return rv;
}

/* Prints obj's model into a string (caller frees). */
static char *model_string(const tt_type *t, const void *obj)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);

    if (!f)
        return NULL;
    t->model(obj, f);
    fclose(f);
    return s;
}

/* No arguments: for every type, random states survive encode -> decode
 * with the same state, bytes and model. */
static int self_check(void)
{
    size_t i;
    long k, cases = 300;
    int bad = 0;

    for (i = 0; tt_types[i]; i++) {
        const tt_type *t = tt_types[i];
        tu_rng rng;
        crdt_buf b1, b2;

        tu_rng_init(&rng, 7 + i);
        crdt_buf_init(&b1, NULL);
        crdt_buf_init(&b2, NULL);
        for (k = 0; k < cases && !bad; k++) {
            void *a = make_state(t, &rng, k < TT_NSHAPES ? (tt_shape)k : TT_ANY);
            void *d = tt_ops(t)->create(NULL);
            char *ma, *md;

            if (!a || !d)
                return 1;
            crdt_buf_reset(&b1);
            crdt_buf_reset(&b2);
            if (tt_ops(t)->encode(a, &b1) ||
                tt_ops(t)->decode(d, b1.data, b1.len, NULL, NULL) ||
                tt_ops(t)->encode(d, &b2) || !tt_ops(t)->equal(a, d) || b1.len != b2.len ||
                memcmp(b1.data, b2.data, b1.len) != 0) {
                fprintf(stderr, "self-check %s: case %ld does not round-trip\n",
                        tt_ops(t)->name, k);
                bad = 1;
            }
            ma = model_string(t, a);
            md = model_string(t, d);
            if (!ma || !md || strcmp(ma, md) != 0) {
                fprintf(stderr, "self-check %s: case %ld: model differs\n",
                        tt_ops(t)->name, k);
                bad = 1;
            }
            free(ma);
            free(md);
            tt_ops(t)->destroy(a);
            tt_ops(t)->destroy(d);
        }
        crdt_buf_clear(&b1);
        crdt_buf_clear(&b2);
        if (!bad)
            printf("interop_helper self-check %s: %ld states round-trip\n",
                   tt_ops(t)->name, cases);
    }
    return bad;
}

int main(int argc, char **argv)
{
    const tt_type *t;

    if (argc == 1)
        return self_check();
    if (strcmp(argv[1], "gen") == 0 && argc == 5) {
        char *end;
        uint64_t seed = strtoull(argv[3], &end, 0);
        long n = strtol(argv[4], NULL, 10);

        if (*end || n < 0)
            return usage();
        if (!(t = type_arg(argv[2])))
            return 2;
        return cmd_gen(t, seed, n);
    }
    if (strcmp(argv[1], "canon") == 0 && argc == 3) {
        if (!(t = type_arg(argv[2])))
            return 2;
        return cmd_canon(t);
    }
    if (strcmp(argv[1], "actor") == 0 && argc == 3) {
        printf("%" PRIu64 "\n",
               crdt_actor_from_name(argv[2], strlen(argv[2])));
        return 0;
    }
    if (strcmp(argv[1], "actors") == 0 && argc == 2)
        return cmd_actors();
    if (strcmp(argv[1], "types") == 0 && argc == 2) {
        size_t i;

        for (i = 0; tt_types[i]; i++)
            printf("%s\n", tt_types[i]->ops()->name);
        return 0;
    }
    if (strcmp(argv[1], "corpus") == 0 && argc == 4) {
        if (!(t = type_arg(argv[2])))
            return 2;
        return cmd_corpus(t, argv[3]);
    }
    return usage();
}
