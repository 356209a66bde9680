/* SPDX-License-Identifier: MIT */
/*
 * A driver for counting the instructions of crdt_ormap_merge on the
 * gossip engine's workload: one-key maps (the value under the empty key)
 * of gcounter slots, one per writer, receiving one-slot deltas.  Not built
 * by make; build it against a -O2 build and run it under callgrind with
 * the merges alone collected:
 *
 *   gcc -O2 -g -std=c11 -I include -o omd bench/ormap-merge-driver.c \
 *       build/rel/lib/.libs/libcrdt.a -lmsgpackc -lxxhash -lsodium -lm
 *   valgrind --tool=callgrind --toggle-collect=measured_merge \
 *       ./omd MODE SLOTS
 *
 * It prints the number of measured merges; instructions per merge = the
 * collected total / that number.  Modes, each on a map of SLOTS writers'
 * slots (actors 1..SLOTS, each counting 2):
 *   replace  each writer in turn increments on its own replica and the
 *            delta (its new slot, superseding its old one) is merged: the
 *            gossip engine's steady state
 *   add      a new writer's first delta (one more slot), into copies
 *   same     a delta already merged (nothing changes), again and again
 *   drop     a remove by a replica that saw writer 1's slot only (one
 *            slot goes), into copies
 *   readd    the same remove, then writer 1 increments by 1 from empty
 *            (one slot replaced by a smaller one), into copies
 *   keys     1000 keys, SLOTS writers, one-slot deltas of random keys
 *            (the path for small sources into large maps)
 *   state    1000 keys, SLOTS writers; a replica's whole state, 10 keys
 *            of it updated since, into copies (the full pass)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/gcounter.h>
#include <crdt/ormap.h>

#define REPS 2000

static void die(const char *what, int rv)
{
    fprintf(stderr, "%s: %s\n", what, crdt_strerror(rv));
    exit(1);
}

static void must(int rv, const char *what)
{
    if (rv)
        die(what, rv);
}

typedef struct inc_arg {
    crdt_actor actor;
    uint64_t by;
} inc_arg;

static int inc_fn(void *value, void *value_delta, void *ud)
{
    const inc_arg *a = ud;

    return crdt_gcounter_increment(value, a->actor, a->by, value_delta);
}

static void inc(crdt_ormap *m, crdt_actor actor, const char *key,
                uint64_t by, crdt_ormap *delta)
{
    inc_arg a = {actor, by};

    must(crdt_ormap_update(m, actor, key, strlen(key), crdt_gcounter_type(),
                           inc_fn, &a, delta),
         "update");
}

/* The measured call (callgrind --toggle-collect=measured_merge). */
__attribute__((noinline)) int measured_merge(crdt_ormap *dst,
                                             const crdt_ormap *src);
__attribute__((noinline)) int measured_merge(crdt_ormap *dst,
                                             const crdt_ormap *src)
{
    return crdt_ormap_merge(dst, src);
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static uint64_t value(const crdt_ormap *m, const char *key)
{
    const void *v;

    if (crdt_ormap_get(m, key, strlen(key), NULL, &v))
        return 0;
    return crdt_gcounter_value(v);
}

/* A map of n writers' slots under key, each counting 2. */
static crdt_ormap *base(size_t n, const char *key)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL);
    size_t a;

    for (a = 1; a <= n; a++)
        inc(m, a, key, 2, NULL);
    return m;
}

/* Merges each of the n deltas into its own copy of m. */
static size_t into_copies(const crdt_ormap *m, crdt_ormap *const *d,
                          size_t n, const char *key, uint64_t want)
{
    crdt_ormap **c = malloc(n * sizeof *c);
    size_t i;

    for (i = 0; i < n; i++)
        if (!(c[i] = crdt_ormap_clone(m)))
            die("clone", CRDT_ERR_NOMEM);
    for (i = 0; i < n; i++)
        must(measured_merge(c[i], d[i]), "merge");
    for (i = 0; i < n; i++) {
        if (value(c[i], key) != want) {
            fprintf(stderr, "wrong value %llu, want %llu\n",
                    (unsigned long long)value(c[i], key),
                    (unsigned long long)want);
            exit(1);
        }
        crdt_ormap_free(c[i]);
    }
    free(c);
    return n;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "replace";
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 16, i, done = 0;
    crdt_ormap *dst, *d[REPS];

    if (n < 1 || n > 1000) {
        fprintf(stderr, "usage: %s MODE SLOTS (1..1000)\n", argv[0]);
        return 2;
    }
    if (!strcmp(mode, "replace")) {
        crdt_ormap **w = malloc(n * sizeof *w);

        dst = base(n, "");
        for (i = 0; i < n; i++)
            w[i] = crdt_ormap_clone(dst);
        for (i = 0; i < REPS; i++) {
            d[i] = crdt_ormap_new(NULL, NULL);
            inc(w[i % n], (crdt_actor)(i % n + 1), "", 1, d[i]);
        }
        for (i = 0; i < REPS; i++)
            must(measured_merge(dst, d[i]), "merge");
        done = REPS;
        if (value(dst, "") != 2 * n + REPS)
            die("wrong value", CRDT_ERR_INVALID_ARG);
        for (i = 0; i < n; i++)
            crdt_ormap_free(w[i]);
        free(w);
    } else if (!strcmp(mode, "same")) {
        crdt_ormap *w;

        dst = base(n, "");
        w = crdt_ormap_clone(dst);
        d[0] = crdt_ormap_new(NULL, NULL);
        inc(w, 1, "", 1, d[0]);
        must(crdt_ormap_merge(dst, d[0]), "merge");
        for (i = 0; i < REPS; i++)
            must(measured_merge(dst, d[0]), "merge");
        done = REPS;
        for (i = 1; i < REPS; i++)
            d[i] = crdt_ormap_new(NULL, NULL);
        crdt_ormap_free(w);
    } else if (!strcmp(mode, "add") || !strcmp(mode, "drop") ||
               !strcmp(mode, "readd")) {
        crdt_ormap *w;
        uint64_t want = 2 * n + 1;

        dst = base(n, "");
        if (!strcmp(mode, "add")) {
            w = crdt_ormap_clone(dst);
        } else { /* a replica that saw writer 1's slot only */
            w = base(1, "");
            want = 2 * (n - 1);
        }
        d[0] = crdt_ormap_new(NULL, NULL);
        if (!strcmp(mode, "add")) {
            inc(w, n + 1, "", 1, d[0]);
        } else {
            must(crdt_ormap_remove(w, "", 0, d[0]), "remove");
            if (!strcmp(mode, "readd")) {
                inc(w, 1, "", 1, d[0]);
                want = 2 * (n - 1) + 1;
            }
        }
        for (i = 1; i < REPS; i++)
            d[i] = crdt_ormap_clone(d[0]);
        done = into_copies(dst, d, REPS / 4, "", want);
        crdt_ormap_free(w);
    } else if (!strcmp(mode, "keys")) {
        crdt_ormap **w = malloc(n * sizeof *w);
        uint64_t x = 1;
        size_t k;

        dst = crdt_ormap_new(NULL, NULL);
        for (k = 0; k < 1000; k++) {
            char key[16];

            snprintf(key, sizeof key, "key%zu", k);
            for (i = 1; i <= n; i++)
                inc(dst, i, key, 2, NULL);
        }
        for (i = 0; i < n; i++)
            w[i] = crdt_ormap_clone(dst);
        /* two warm-up merges: the second builds the dot index */
        for (i = 0; i < REPS; i++) {
            char key[16];

            snprintf(key, sizeof key, "key%llu",
                     (unsigned long long)(mix(x++) % 1000));
            d[i] = crdt_ormap_new(NULL, NULL);
            inc(w[i % n], (crdt_actor)(i % n + 1), key, 1, d[i]);
        }
        must(crdt_ormap_merge(dst, d[0]), "merge");
        must(crdt_ormap_merge(dst, d[1]), "merge");
        for (i = 2; i < REPS; i++)
            must(measured_merge(dst, d[i]), "merge");
        done = REPS - 2;
        for (i = 0; i < n; i++)
            crdt_ormap_free(w[i]);
        free(w);
    } else if (!strcmp(mode, "state")) {
        crdt_ormap *w;
        size_t k;

        dst = crdt_ormap_new(NULL, NULL);
        for (k = 0; k < 1000; k++) {
            char key[16];

            snprintf(key, sizeof key, "key%zu", k);
            for (i = 1; i <= n; i++)
                inc(dst, i, key, 2, NULL);
        }
        w = crdt_ormap_clone(dst);
        for (k = 0; k < 10; k++) {
            char key[16];

            snprintf(key, sizeof key, "key%zu", k * 97);
            inc(w, k % n + 1, key, 1, NULL);
        }
        for (i = 0; i < REPS; i++)
            d[i] = i < 20 ? crdt_ormap_clone(w) : crdt_ormap_new(NULL, NULL);
        done = into_copies(dst, d, 20, "key0", 2 * n + 1);
        crdt_ormap_free(w);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("%zu merges\n", done);
    for (i = 0; i < REPS; i++)
        crdt_ormap_free(d[i]);
    crdt_ormap_free(dst);
    return 0;
}
