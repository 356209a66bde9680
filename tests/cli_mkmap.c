/* SPDX-License-Identifier: MIT */
/*
 * cli-mkmap: writes OR-map states built by the library, for tests/cli.sh
 * (the crdt tool reads maps but has no command that builds them).
 *
 *   cli-mkmap ACTOR   a map updated by ACTOR (1..9), in this order:
 *                       "count"  gcounter, ACTOR adds ACTOR
 *                       "nested" ormap {"reg": mvreg written "vACTOR"}
 *                       "on"     ewflag enabled by ACTOR
 *                       "tags"   orset with "tACTOR" added by ACTOR
 *                       "gone"   gcounter updated, then the key removed
 *                       h'ff'    lww "w" at time ACTOR (a non-UTF-8 key)
 *   cli-mkmap deep D  D maps nested under key "k" (1..16 levels), the
 *                     innermost holding "k": a gcounter of 1
 *   cli-mkmap up ACTOR KEY KIND
 *                     the map on stdin after ACTOR's update of KEY ("ff"
 *                     is h'ff') with KIND, one of the updates above by
 *                     its key's name (count, nested, on, tags, ff), so
 *                     that a key can be updated with another type
 *   cli-mkmap rm KEY  the map on stdin after removing KEY
 *
 * The canonical encoding goes to stdout; exit 1 on any error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/flag.h>
#include <crdt/gcounter.h>
#include <crdt/lww.h>
#include <crdt/mvreg.h>
#include <crdt/ormap.h>
#include <crdt/orset.h>

typedef struct job {
    crdt_actor actor;
    unsigned depth; /* deep: map levels still to nest */
    char text[8];
} job;

static int count_fn(void *v, void *d, void *ud)
{
    const job *j = ud;

    return crdt_gcounter_increment(v, j->actor, j->actor, d);
}

static int tags_fn(void *v, void *d, void *ud)
{
    job *j = ud;

    snprintf(j->text, sizeof j->text, "t%u", (unsigned)j->actor);
    return crdt_orset_add(v, j->actor, j->text, strlen(j->text), d);
}

static int on_fn(void *v, void *d, void *ud)
{
    const job *j = ud;

    return crdt_ewflag_enable(v, j->actor, d);
}

static int reg_fn(void *v, void *d, void *ud)
{
    job *j = ud;

    snprintf(j->text, sizeof j->text, "v%u", (unsigned)j->actor);
    return crdt_mvreg_write(v, j->actor, j->text, strlen(j->text), d);
}

static int nested_fn(void *v, void *d, void *ud)
{
    const job *j = ud;

    return crdt_ormap_update(v, j->actor, "reg", 3, crdt_mvreg_type(),
                             reg_fn, ud, d);
}

static int lww_fn(void *v, void *d, void *ud)
{
    const job *j = ud;

    return crdt_lww_set(v, j->actor, j->actor, "w", 1, d);
}

static int one_fn(void *v, void *d, void *ud)
{
    (void)ud;
    return crdt_gcounter_increment(v, 1, 1, d);
}

static int deep_fn(void *v, void *d, void *ud)
{
    job *j = ud;

    if (--j->depth == 0)
        return crdt_ormap_update(v, 1, "k", 1, crdt_gcounter_type(), one_fn,
                                 ud, d);
    return crdt_ormap_update(v, 1, "k", 1, crdt_ormap_type(), deep_fn, ud,
                             d);
}

/* The updates of an ACTOR map, by key. */
typedef struct kind {
    const char *name;
    const char *key;
    size_t klen;
    const crdt_type *(*type)(void);
    crdt_ormap_update_fn fn;
} kind;

static const kind kinds[] = {
    {"count", "count", 5, crdt_gcounter_type, count_fn},
    {"nested", "nested", 6, crdt_ormap_type, nested_fn},
    {"on", "on", 2, crdt_ewflag_type, on_fn},
    {"tags", "tags", 4, crdt_orset_type, tags_fn},
    {"ff", "\xff", 1, crdt_lww_type, lww_fn},
};

static const kind *kind_named(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

/* The key named on the command line: "ff" is h'ff', others as they are. */
static void key_arg(const char *arg, const char **key, size_t *klen)
{
    if (strcmp(arg, "ff") == 0) {
        *key = "\xff";
        *klen = 1;
    } else {
        *key = arg;
        *klen = strlen(arg);
    }
}

/* Replaces m with the map encoded on stdin. */
static int read_stdin(crdt_ormap *m)
{
    crdt_buf in;
    uint8_t chunk[4096];
    size_t n;
    int rv = CRDT_OK;

    crdt_buf_init(&in, NULL);
    while (!rv && (n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        rv = crdt_buf_append(&in, chunk, n);
    if (!rv)
        rv = ferror(stdin) ? CRDT_ERR_INVALID_ARG
                           : crdt_ormap_decode(m, in.data, in.len, NULL,
                                               NULL);
    crdt_buf_clear(&in);
    return rv;
}

/* build's return for a command line it does not take (errors are < 0) */
#define USAGE 1
/* main's, for stdout failing */
#define WRITE_FAILED 2

static int build(crdt_ormap *m, int argc, char **argv)
{
    const crdt_type *map = crdt_ormap_type();
    job j = {0, 0, ""};
    const kind *k;
    const char *key;
    size_t klen;
    int rv;

    if (argc == 5 && strcmp(argv[1], "up") == 0) {
        if (argv[2][0] < '1' || argv[2][0] > '9' || argv[2][1] ||
            !(k = kind_named(argv[4])))
            return USAGE;
        j.actor = (crdt_actor)(argv[2][0] - '0');
        key_arg(argv[3], &key, &klen);
        if ((rv = read_stdin(m)))
            return rv;
        return crdt_ormap_update(m, j.actor, key, klen, k->type(), k->fn, &j,
                                 NULL);
    }
    if (argc == 3 && strcmp(argv[1], "rm") == 0) {
        key_arg(argv[2], &key, &klen);
        if ((rv = read_stdin(m)))
            return rv;
        return crdt_ormap_remove(m, key, klen, NULL);
    }

    if (argc == 3 && strcmp(argv[1], "deep") == 0) {
        j.depth = (unsigned)atoi(argv[2]);
        if (j.depth < 1 || j.depth > 16)
            return USAGE;
        if (j.depth == 1)
            return crdt_ormap_update(m, 1, "k", 1, crdt_gcounter_type(),
                                     one_fn, &j, NULL);
        j.depth--;
        return crdt_ormap_update(m, 1, "k", 1, map, deep_fn, &j, NULL);
    }
    if (argc != 2 || argv[1][0] < '1' || argv[1][0] > '9' || argv[1][1])
        return USAGE;
    j.actor = (crdt_actor)(argv[1][0] - '0');
    if ((rv = crdt_ormap_update(m, j.actor, "count", 5, crdt_gcounter_type(),
                                count_fn, &j, NULL)) ||
        (rv = crdt_ormap_update(m, j.actor, "nested", 6, map, nested_fn, &j,
                                NULL)) ||
        (rv = crdt_ormap_update(m, j.actor, "on", 2, crdt_ewflag_type(),
                                on_fn, &j, NULL)) ||
        (rv = crdt_ormap_update(m, j.actor, "tags", 4, crdt_orset_type(),
                                tags_fn, &j, NULL)) ||
        (rv = crdt_ormap_update(m, j.actor, "gone", 4, crdt_gcounter_type(),
                                count_fn, &j, NULL)) ||
        (rv = crdt_ormap_remove(m, "gone", 4, NULL)))
        return rv;
    return crdt_ormap_update(m, j.actor, "\xff", 1, crdt_lww_type(), lww_fn,
                             &j, NULL);
}

int main(int argc, char **argv)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL);
    crdt_buf b;
    int rv;

    crdt_buf_init(&b, NULL);
    if (!m)
        rv = CRDT_ERR_NOMEM;
    else if (!(rv = build(m, argc, argv)) && !(rv = crdt_ormap_encode(m, &b)))
        rv = fwrite(b.data, 1, b.len, stdout) == b.len && fflush(stdout) == 0
                 ? CRDT_OK
                 : WRITE_FAILED;
    crdt_buf_clear(&b);
    crdt_ormap_free(m);
    if (rv == USAGE) {
        fprintf(stderr, "cli-mkmap: usage: cli-mkmap ACTOR | "
                        "cli-mkmap deep D | cli-mkmap up ACTOR KEY KIND | "
                        "cli-mkmap rm KEY\n");
        return 2;
    }
    if (rv) {
        fprintf(stderr, "cli-mkmap: %s\n",
                rv == WRITE_FAILED ? "stdout: write failed"
                                   : crdt_strerror(rv));
        return 1;
    }
    return 0;
}
