/* SPDX-License-Identifier: MIT */
/*
 * crdt-node's durable store (tools/node/store.h): puts and gets across
 * reopens, the snapshot crdt_gossip_restore reads, incarnations, map
 * growth, the directory lock, backup while open and merging restore,
 * and commits that survive kill -9.  Every directory is made under one
 * mkdtemp root in /tmp, removed when the suite ends.  The kill test
 * prints its seed (CRDT_SEED reproduces the timings drawn).
 */
#define _GNU_SOURCE 1

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>

#include "store.h"
#include "testutil.h"

#define CLUSTER 0xc1c1c1c1c1c1c1c1ull

static char root[64];
static int dirno;

static void mkroot(void)
{
    strcpy(root, "/tmp/check_nstore.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rmroot(void)
{
    if (root[0])
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh path under the root (not created). */
static char *newpath(const char *what)
{
    char *p;

    ck_assert_int_gt(asprintf(&p, "%s/%s%d", root, what, dirno++), 0);
    return p;
}

/* ------------------------------------------------------ gossip helpers */

static int inc_fn(void *value, void *delta, const crdt_gossip_write *w,
                  void *ud)
{
    return crdt_gcounter_increment(value, w->actor, *(const uint64_t *)ud,
                                   delta);
}

static int add_fn(void *value, void *delta, const crdt_gossip_write *w,
                  void *ud)
{
    const char *e = ud;

    return crdt_orset_add(value, w->actor, e, strlen(e), delta);
}

static crdt_gossip *node(uint64_t id, uint64_t inc)
{
    crdt_gossip_settings s;
    crdt_gossip *g;

    crdt_gossip_settings_default(&s);
    s.node_id = id;
    s.cluster_id = CLUSTER;
    s.seed = id * 7919 + inc;
    s.incarnation = inc;
    ck_assert_int_eq(crdt_gossip_new(&g, &s, NULL), CRDT_OK);
    return g;
}

static void inc(crdt_gossip *g, const char *key, uint64_t by)
{
    ck_assert_int_eq(crdt_gossip_update(g, key, strlen(key),
                                        crdt_gcounter_type(), inc_fn, &by),
                     CRDT_OK);
}

static void add(crdt_gossip *g, const char *key, const char *elem)
{
    ck_assert_int_eq(crdt_gossip_update(g, key, strlen(key),
                                        crdt_orset_type(), add_fn,
                                        (void *)elem),
                     CRDT_OK);
}

static uint64_t counter(crdt_gossip *g, const char *key)
{
    const void *v;

    ck_assert_int_eq(crdt_gossip_get(g, key, strlen(key), NULL, &v),
                     CRDT_OK);
    return crdt_gcounter_value(v);
}

static bool has(crdt_gossip *g, const char *key, const char *elem)
{
    const void *v;

    ck_assert_int_eq(crdt_gossip_get(g, key, strlen(key), NULL, &v),
                     CRDT_OK);
    return crdt_orset_contains(v, elem, strlen(elem));
}

/* Stores every key of @p g in @p st, in one batch. */
static void put_all(nstore *st, crdt_gossip *g)
{
    size_t n = crdt_gossip_key_count(g), i;
    nstore_item *it = calloc(n ? n : 1, sizeof *it);
    crdt_buf *b = calloc(n ? n : 1, sizeof *b);

    ck_assert_ptr_nonnull(it);
    ck_assert_ptr_nonnull(b);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(crdt_gossip_key_at(g, i, &it[i].key, &it[i].klen,
                                            NULL),
                         CRDT_OK);
        crdt_buf_init(&b[i], NULL);
        ck_assert_int_eq(crdt_gossip_state(g, it[i].key, it[i].klen, &b[i]),
                         CRDT_OK);
        it[i].state = b[i].data;
        it[i].slen = b[i].len;
    }
    ck_assert_msg(nstore_put_many(st, it, n) == CRDT_OK, "%s",
                  nstore_error(st));
    for (i = 0; i < n; i++)
        crdt_buf_clear(&b[i]);
    free(b);
    free(it);
}

/* A fresh gossip node holding what the store in @p dir holds. */
static crdt_gossip *load_node(const char *dir, uint64_t id)
{
    crdt_gossip *g = node(id, 999);
    crdt_buf snap;
    nstore *st;
    char err[256];

    ck_assert_msg(nstore_open(&st, dir, 0, err, sizeof err) == CRDT_OK,
                  "%s", err);
    crdt_buf_init(&snap, NULL);
    ck_assert_int_eq(nstore_load(st, id, &snap, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_gossip_restore(g, snap.data, snap.len, NULL),
                     CRDT_OK);
    crdt_buf_clear(&snap);
    nstore_close(st);
    return g;
}

static void snapshot_of(const char *dir, crdt_buf *out)
{
    nstore *st;
    char err[256];

    ck_assert_msg(nstore_open(&st, dir, 0, err, sizeof err) == CRDT_OK,
                  "%s", err);
    crdt_buf_init(out, NULL);
    ck_assert_int_eq(nstore_load(st, 1, out, NULL), CRDT_OK);
    nstore_close(st);
}

/* Ends a forked child after writing its result byte to @p fd.  By
 * SIGKILL, not exit: under valgrind a child's exit would leak-check (and
 * fail on) its copy of the parent's heap. */
static void child_end(int fd, char result)
{
    if (write(fd, &result, 1) != 1)
        _exit(3);
    kill(getpid(), SIGKILL);
    _exit(4);
}

/* Runs nstore_backup in a child process, as `crdt-node backup` would
 * while the node (this process) has the directory open; returns its
 * result (0 = ok). */
static int backup_in_child(const char *dir, const char *path)
{
    int fds[2], status;
    char res = 99;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char err[256];
        int rv = nstore_backup(dir, path, err, sizeof err);

        if (rv)
            fprintf(stderr, "backup: %s\n", err);
        child_end(fds[1], rv ? 1 : 0);
    }
    close(fds[1]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    if (read(fds[0], &res, 1) != 1)
        res = 98;
    close(fds[0]);
    return res;
}

/* ---------------------------------------------------------------- tests */

START_TEST(test_nstore_basic_reopen)
{
    char *dir = newpath("basic"), err[256];
    uint8_t longkey[NSTORE_MAX_KEY + 1], k700[700];
    nstore *st, *st2;
    crdt_buf b;
    struct stat sb;

    memset(longkey, 'L', sizeof longkey);
    memset(k700, 'L', sizeof k700);
    k700[699] = 'x'; /* shares the first 511 bytes with longkey */
    ck_assert_msg(nstore_open(&st, dir, 0, err, sizeof err) == CRDT_OK, "%s",
                  err);
    ck_assert_int_eq(stat(dir, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0700);
    ck_assert_uint_eq(nstore_count(st), 0);
    ck_assert_int_eq(nstore_put(st, (const uint8_t *)"a", 1,
                                (const uint8_t *)"A1", 2),
                     CRDT_OK);
    ck_assert_int_eq(nstore_put(st, (const uint8_t *)"b", 1,
                                (const uint8_t *)"B", 1),
                     CRDT_OK);
    ck_assert_int_eq(nstore_put(st, (const uint8_t *)"a", 1,
                                (const uint8_t *)"A2", 2),
                     CRDT_OK);
    ck_assert_int_eq(nstore_put(st, longkey, NSTORE_MAX_KEY,
                                (const uint8_t *)"long", 4),
                     CRDT_OK);
    ck_assert_int_eq(nstore_put(st, k700, 700, (const uint8_t *)"k700", 4),
                     CRDT_OK);
    ck_assert_int_eq(nstore_put(st, longkey, 511,
                                (const uint8_t *)"511", 3),
                     CRDT_OK);
    ck_assert_int_eq(nstore_put(st, longkey, 510,
                                (const uint8_t *)"510", 3),
                     CRDT_OK);
    /* misuse */
    ck_assert_int_eq(nstore_put(st, longkey, 0, (const uint8_t *)"x", 1),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nstore_put(st, longkey, NSTORE_MAX_KEY + 1,
                                (const uint8_t *)"x", 1),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nstore_put(st, longkey, 1, (const uint8_t *)"x", 0),
                     CRDT_ERR_INVALID_ARG);
    ck_assert(strstr(nstore_error(st), "item 0") != NULL);
    {
        /* a batch with one bad item writes nothing */
        nstore_item it[2] = {{(const uint8_t *)"c", 1,
                              (const uint8_t *)"C", 1},
                             {(const uint8_t *)"d", 0,
                              (const uint8_t *)"D", 1}};

        ck_assert_int_eq(nstore_put_many(st, it, 2), CRDT_ERR_INVALID_ARG);
        it[1].klen = 1;
        ck_assert_uint_eq(nstore_count(st), 6);
        ck_assert_int_eq(nstore_put_many(st, it, 2), CRDT_OK);
        ck_assert_int_eq(nstore_put_many(st, NULL, 0), CRDT_OK);
    }
    ck_assert_uint_eq(nstore_count(st), 8);
    /* a second open in this process: busy */
    ck_assert_int_eq(nstore_open(&st2, dir, 0, err, sizeof err),
                     CRDT_ERR_BUSY);
    ck_assert_msg(strstr(err, "in use") != NULL, "%s", err);
    nstore_close(st);

    ck_assert_msg(nstore_open(&st, dir, 0, err, sizeof err) == CRDT_OK, "%s",
                  err);
    ck_assert_uint_eq(nstore_count(st), 8);
    crdt_buf_init(&b, NULL);
    ck_assert_int_eq(nstore_get(st, (const uint8_t *)"a", 1, &b), CRDT_OK);
    ck_assert_uint_eq(b.len, 2);
    ck_assert_int_eq(memcmp(b.data, "A2", 2), 0);
    crdt_buf_reset(&b);
    ck_assert_int_eq(nstore_get(st, longkey, NSTORE_MAX_KEY, &b), CRDT_OK);
    ck_assert_int_eq(memcmp(b.data, "long", 4), 0);
    crdt_buf_reset(&b);
    ck_assert_int_eq(nstore_get(st, k700, 700, &b), CRDT_OK);
    ck_assert_int_eq(memcmp(b.data, "k700", 4), 0);
    crdt_buf_reset(&b);
    ck_assert_int_eq(nstore_get(st, longkey, 511, &b), CRDT_OK);
    ck_assert_int_eq(memcmp(b.data, "511", 3), 0);
    crdt_buf_reset(&b);
    ck_assert_int_eq(nstore_get(st, longkey, 510, &b), CRDT_OK);
    ck_assert_int_eq(memcmp(b.data, "510", 3), 0);
    crdt_buf_reset(&b);
    ck_assert_int_eq(nstore_get(st, longkey, 600, &b), CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(nstore_get(st, (const uint8_t *)"zz", 2, &b),
                     CRDT_ERR_NOT_FOUND);
    ck_assert_int_eq(nstore_get(st, longkey, 0, &b), CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(b.len, 0);
    crdt_buf_clear(&b);
    nstore_close(st);
    nstore_close(NULL);
    ck_assert_int_eq(nstore_open(NULL, dir, 0, NULL, 0),
                     CRDT_ERR_INVALID_ARG);
    free(dir);
}
END_TEST

START_TEST(test_nstore_load_restore)
{
    char *dir = newpath("load"), err[256], key[32];
    crdt_gossip *a = node(1, 11), *b;
    crdt_buf snap, ref;
    nstore *st;
    size_t n = 0;
    uint8_t big[800];
    int i;

    for (i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "c%d", i);
        inc(a, key, (uint64_t)i + 1);
        snprintf(key, sizeof key, "s%d", i);
        add(a, key, "x");
        add(a, key, i % 2 ? "odd" : "even");
    }
    memset(big, 'k', sizeof big);
    ck_assert_int_eq(crdt_gossip_update(a, big, sizeof big,
                                        crdt_gcounter_type(), inc_fn,
                                        &(uint64_t){7}),
                     CRDT_OK);
    ck_assert_int_eq(crdt_gossip_update(a, big, 600, crdt_gcounter_type(),
                                        inc_fn, &(uint64_t){6}),
                     CRDT_OK);
    ck_assert_int_eq(crdt_gossip_delete(a, "c3", 2), CRDT_OK); /* tombstone */
    ck_assert_msg(nstore_open(&st, dir, 0, err, sizeof err) == CRDT_OK, "%s",
                  err);
    put_all(st, a);
    ck_assert_uint_eq(nstore_count(st), crdt_gossip_key_count(a));
    crdt_buf_init(&snap, NULL);
    ck_assert_int_eq(nstore_load(st, 1, &snap, &n), CRDT_OK);
    ck_assert_uint_eq(n, crdt_gossip_key_count(a));
    /* byte for byte what the engine's own snapshot says */
    crdt_buf_init(&ref, NULL);
    ck_assert_int_eq(crdt_gossip_snapshot(a, &ref), CRDT_OK);
    ck_assert_uint_eq(snap.len, ref.len);
    ck_assert_int_eq(memcmp(snap.data, ref.data, ref.len), 0);
    nstore_close(st);

    b = load_node(dir, 2);
    ck_assert_uint_eq(crdt_gossip_digest(b), crdt_gossip_digest(a));
    ck_assert_uint_eq(counter(b, "c39"), 40);
    ck_assert(has(b, "s5", "odd"));
    ck_assert_int_eq(crdt_gossip_get(b, "c3", 2, NULL, NULL),
                     CRDT_ERR_NOT_FOUND);

    /* an empty store loads as an empty snapshot */
    {
        char *d2 = newpath("empty");
        crdt_gossip *c = load_node(d2, 3);

        ck_assert_uint_eq(crdt_gossip_key_count(c), 0);
        crdt_gossip_free(c);
        free(d2);
    }
    crdt_buf_clear(&snap);
    crdt_buf_clear(&ref);
    crdt_gossip_free(a);
    crdt_gossip_free(b);
    free(dir);
}
END_TEST

START_TEST(test_nstore_start_incarnations)
{
    char *dir = newpath("start"), err[256], name[32];
    uint64_t incs[50], nid, cid, ic, starts;
    nstore *st;
    int i, j;

    ck_assert_msg(nstore_open(&st, dir, 0, err, sizeof err) == CRDT_OK, "%s",
                  err);
    ck_assert_int_eq(nstore_meta(st, &nid, NULL, NULL, NULL, NULL, 0),
                     CRDT_ERR_NOT_FOUND);
    for (i = 0; i < 50; i++) {
        if (i % 10 == 9) { /* some across reopens */
            nstore_close(st);
            ck_assert_int_eq(nstore_open(&st, dir, 0, err, sizeof err),
                             CRDT_OK);
        }
        ck_assert_msg(nstore_start(st, 42, CLUSTER, "alpha", &incs[i]) ==
                          CRDT_OK,
                      "%s", nstore_error(st));
        ck_assert_uint_ne(incs[i], 0);
        for (j = 0; j < i; j++)
            ck_assert_uint_ne(incs[i], incs[j]);
    }
    ck_assert_int_eq(nstore_meta(st, &nid, &cid, &ic, &starts, name,
                                 sizeof name),
                     CRDT_OK);
    ck_assert_uint_eq(nid, 42);
    ck_assert_uint_eq(cid, CLUSTER);
    ck_assert_uint_eq(ic, incs[49]);
    ck_assert_uint_eq(starts, 50);
    ck_assert_str_eq(name, "alpha");
    /* another node, another cluster: refused, named, nothing written */
    ck_assert_int_eq(nstore_start(st, 43, CLUSTER, "beta", &ic),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_msg(strstr(nstore_error(st), "000000000000002a") &&
                      strstr(nstore_error(st), "000000000000002b"),
                  "%s", nstore_error(st));
    ck_assert_int_eq(nstore_start(st, 42, 1, "alpha", &ic),
                     CRDT_ERR_INVALID_ARG);
    ck_assert(strstr(nstore_error(st), "0000000000000001") != NULL);
    ck_assert_int_eq(nstore_start(st, 0, CLUSTER, "alpha", &ic),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nstore_meta(st, NULL, NULL, &ic, &starts, NULL, 0),
                     CRDT_OK);
    ck_assert_uint_eq(ic, incs[49]);
    ck_assert_uint_eq(starts, 50);
    nstore_close(st);
    free(dir);
}
END_TEST

START_TEST(test_nstore_growth_tiny_map)
{
    char *dir = newpath("grow"), err[256], key[32];
    uint8_t *state = malloc(1u << 21);
    nstore_item it[16];
    crdt_buf b;
    nstore *st;
    size_t i, j, first;

    ck_assert_ptr_nonnull(state);
    for (i = 0; i < (1u << 21); i++)
        state[i] = (uint8_t)(i * 31 + 7);
    ck_assert_msg(nstore_open(&st, dir, 64 << 10, err, sizeof err) == CRDT_OK,
                  "%s", err);
    first = nstore_map_size(st);
    ck_assert_uint_eq(first, 64 << 10);
    /* 256 keys of 16 KiB in batches of 16: 4 MiB */
    for (i = 0; i < 256; i += 16) {
        char keys[16][32];

        for (j = 0; j < 16; j++) {
            snprintf(keys[j], sizeof keys[j], "g%03zu", i + j);
            it[j].key = (const uint8_t *)keys[j];
            it[j].klen = strlen(keys[j]);
            it[j].state = state + (i + j);
            it[j].slen = 16 << 10;
        }
        ck_assert_msg(nstore_put_many(st, it, 16) == CRDT_OK, "%s",
                      nstore_error(st));
    }
    /* one value larger than the map so far, in one put */
    ck_assert_msg(nstore_put(st, (const uint8_t *)"huge", 4, state,
                             1u << 21) == CRDT_OK,
                  "%s", nstore_error(st));
    ck_assert_uint_gt(nstore_map_size(st), 4u << 20);
    nstore_close(st);
    /* reopened with the tiny size: keeps the grown map, all there */
    ck_assert_int_eq(nstore_open(&st, dir, 64 << 10, err, sizeof err),
                     CRDT_OK);
    ck_assert_uint_gt(nstore_map_size(st), 4u << 20);
    ck_assert_uint_eq(nstore_count(st), 257);
    crdt_buf_init(&b, NULL);
    for (i = 0; i < 256; i++) {
        snprintf(key, sizeof key, "g%03zu", i);
        crdt_buf_reset(&b);
        ck_assert_int_eq(nstore_get(st, (const uint8_t *)key, strlen(key),
                                    &b),
                         CRDT_OK);
        ck_assert_uint_eq(b.len, 16 << 10);
        ck_assert_int_eq(memcmp(b.data, state + i, b.len), 0);
    }
    crdt_buf_reset(&b);
    ck_assert_int_eq(nstore_get(st, (const uint8_t *)"huge", 4, &b),
                     CRDT_OK);
    ck_assert_uint_eq(b.len, 1u << 21);
    ck_assert_int_eq(memcmp(b.data, state, b.len), 0);
    crdt_buf_clear(&b);
    nstore_close(st);
    free(state);
    free(dir);
}
END_TEST

START_TEST(test_nstore_lock_other_process)
{
    char *dir = newpath("lock"), err[256], c;
    int to_parent[2], to_child[2], status;
    nstore *st;
    pid_t pid;

    ck_assert_int_eq(pipe(to_parent), 0);
    ck_assert_int_eq(pipe(to_child), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(to_parent[0]);
        close(to_child[1]);
        if (nstore_open(&st, dir, 0, err, sizeof err) != CRDT_OK)
            child_end(to_parent[1], 'f');
        if (write(to_parent[1], "o", 1) != 1)
            _exit(2);
        /* hold it until the parent closes its end */
        while (read(to_child[0], &c, 1) > 0)
            ;
        nstore_close(st);
        child_end(to_parent[1], 'c');
    }
    close(to_parent[1]);
    close(to_child[0]);
    ck_assert_int_eq(read(to_parent[0], &c, 1), 1);
    ck_assert_int_eq(c, 'o');
    ck_assert_int_eq(nstore_open(&st, dir, 0, err, sizeof err),
                     CRDT_ERR_BUSY);
    ck_assert_msg(strstr(err, "in use") && strstr(err, dir), "%s", err);
    ck_assert_int_eq(nstore_restore(dir, "/nonexistent-backup", NULL, err,
                                    sizeof err),
                     CRDT_ERR_IO);
    close(to_child[1]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(read(to_parent[0], &c, 1), 1);
    ck_assert_int_eq(c, 'c'); /* it closed the store */
    close(to_parent[0]);
    ck_assert_msg(nstore_open(&st, dir, 0, err, sizeof err) == CRDT_OK, "%s",
                  err);
    nstore_close(st);
    free(dir);
}
END_TEST

START_TEST(test_nstore_backup_restore_merge)
{
    char *d1 = newpath("live"), *d2 = newpath("other"),
         *d3 = newpath("fresh"), *d4 = newpath("alien"),
         *d5 = newpath("corrupt"), *bak0 = newpath("bak"),
         *bak1 = newpath("bak"), *bakc = newpath("bak"), *tmp, err[512],
         key[32];
    crdt_gossip *g = node(1, 101), *h, *both, *loaded;
    crdt_buf s1, s2, s3;
    nstore *st1, *st2, *st;
    uint64_t inc_g, nid, ic;
    size_t n;
    int i;

    /* the live node writes, starts, and is backed up while open */
    ck_assert_msg(nstore_open(&st1, d1, 0, err, sizeof err) == CRDT_OK, "%s",
                  err);
    ck_assert_int_eq(nstore_start(st1, 1, CLUSTER, "one", &inc_g), CRDT_OK);
    for (i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        inc(g, key, 1);
        add(g, "set", "base");
    }
    put_all(st1, g);
    ck_assert_int_eq(backup_in_child(d1, bak0), 0);
    ck_assert_int_eq(asprintf(&tmp, "%s.tmp", bak0), (int)strlen(bak0) + 4);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    ck_assert_int_eq(access(bak0, F_OK), 0);
    free(tmp);

    /* restore into an empty directory: same keys, same identity */
    ck_assert_msg(nstore_restore(d2, bak0, &n, err, sizeof err) == CRDT_OK,
                  "%s", err);
    ck_assert_uint_eq(n, 11);
    ck_assert_msg(nstore_open(&st2, d2, 0, err, sizeof err) == CRDT_OK, "%s",
                  err);
    ck_assert_int_eq(nstore_meta(st2, &nid, NULL, &ic, NULL, NULL, 0),
                     CRDT_OK);
    ck_assert_uint_eq(nid, 1);
    ck_assert_uint_eq(ic, inc_g);
    /* restoring while the node runs is refused */
    ck_assert_int_eq(nstore_restore(d2, bak0, NULL, err, sizeof err),
                     CRDT_ERR_BUSY);
    ck_assert_msg(strstr(err, "in use") != NULL, "%s", err);
    nstore_close(st2);
    loaded = load_node(d2, 1);
    ck_assert_uint_eq(crdt_gossip_digest(loaded), crdt_gossip_digest(g));
    crdt_gossip_free(loaded);

    /* both sides go on: g in d1 (backed up again), h (a later start of
     * node 1 on d2's copy) in d2 */
    for (i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        inc(g, key, 2);
    }
    add(g, "set", "left");
    inc(g, "gonly", 3);
    put_all(st1, g);
    ck_assert_int_eq(backup_in_child(d1, bak1), 0);
    {
        crdt_buf snap;

        h = node(1, 202);
        ck_assert_int_eq(nstore_open(&st2, d2, 0, err, sizeof err), CRDT_OK);
        crdt_buf_init(&snap, NULL);
        ck_assert_int_eq(nstore_load(st2, 1, &snap, NULL), CRDT_OK);
        ck_assert_int_eq(crdt_gossip_restore(h, snap.data, snap.len, NULL),
                         CRDT_OK);
        crdt_buf_clear(&snap);
    }
    for (i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        inc(h, key, 5);
    }
    add(h, "set", "right");
    inc(h, "honly", 4);
    put_all(st2, h);
    nstore_close(st2);

    /* the merge: both sides' writes */
    ck_assert_msg(nstore_restore(d2, bak1, &n, err, sizeof err) == CRDT_OK,
                  "%s", err);
    ck_assert_uint_eq(n, 12);
    loaded = load_node(d2, 1);
    ck_assert_uint_eq(counter(loaded, "k0"), 8);
    ck_assert_uint_eq(counter(loaded, "k9"), 8);
    ck_assert_uint_eq(counter(loaded, "gonly"), 3);
    ck_assert_uint_eq(counter(loaded, "honly"), 4);
    ck_assert(has(loaded, "set", "base"));
    ck_assert(has(loaded, "set", "left"));
    ck_assert(has(loaded, "set", "right"));
    both = node(7, 1);
    {
        crdt_buf sg, sh;

        crdt_buf_init(&sg, NULL);
        crdt_buf_init(&sh, NULL);
        ck_assert_int_eq(crdt_gossip_snapshot(g, &sg), CRDT_OK);
        ck_assert_int_eq(crdt_gossip_snapshot(h, &sh), CRDT_OK);
        ck_assert_int_eq(crdt_gossip_restore(both, sg.data, sg.len, NULL),
                         CRDT_OK);
        ck_assert_int_eq(crdt_gossip_restore(both, sh.data, sh.len, NULL),
                         CRDT_OK);
        crdt_buf_clear(&sg);
        crdt_buf_clear(&sh);
    }
    ck_assert_uint_eq(crdt_gossip_digest(loaded), crdt_gossip_digest(both));
    crdt_gossip_free(loaded);
    /* restoring the same backup again changes nothing (idempotent) */
    snapshot_of(d2, &s1);
    ck_assert_int_eq(nstore_restore(d2, bak1, NULL, err, sizeof err),
                     CRDT_OK);
    snapshot_of(d2, &s2);
    ck_assert_uint_eq(s1.len, s2.len);
    ck_assert_int_eq(memcmp(s1.data, s2.data, s1.len), 0);
    crdt_buf_clear(&s2);

    /* another node's directory: refused, named */
    ck_assert_int_eq(nstore_open(&st, d4, 0, err, sizeof err), CRDT_OK);
    ck_assert_int_eq(nstore_start(st, 9, CLUSTER, "nine", &ic), CRDT_OK);
    nstore_close(st);
    ck_assert_int_eq(nstore_restore(d4, bak1, NULL, err, sizeof err),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err, "0000000000000009") &&
                      strstr(err, "0000000000000001"),
                  "%s", err);
    ck_assert_int_eq(nstore_open(&st, d4, 0, err, sizeof err), CRDT_OK);
    ck_assert_uint_eq(nstore_count(st), 0);
    nstore_close(st);

    /* a corrupt state in the backup (after good keys): DIR unchanged */
    ck_assert_int_eq(nstore_open(&st, d5, 0, err, sizeof err), CRDT_OK);
    ck_assert_int_eq(nstore_start(st, 1, CLUSTER, "one", &ic), CRDT_OK);
    put_all(st, g);
    ck_assert_int_eq(nstore_put(st, (const uint8_t *)"zz-bad", 6,
                                (const uint8_t *)"\x93\x01\x0c\xc1", 4),
                     CRDT_OK);
    nstore_close(st);
    ck_assert_int_eq(nstore_backup(d5, bakc, err, sizeof err), CRDT_OK);
    ck_assert_int_eq(nstore_restore(d2, bakc, NULL, err, sizeof err),
                     CRDT_ERR_DECODE);
    ck_assert_msg(strstr(err, "zz-bad") != NULL, "%s", err);
    snapshot_of(d2, &s3);
    ck_assert_uint_eq(s1.len, s3.len);
    ck_assert_int_eq(memcmp(s1.data, s3.data, s1.len), 0);
    /* into a fresh directory: nothing stored either */
    ck_assert_int_eq(nstore_restore(d3, bakc, NULL, err, sizeof err),
                     CRDT_ERR_DECODE);
    ck_assert_int_eq(nstore_open(&st, d3, 0, err, sizeof err), CRDT_OK);
    ck_assert_uint_eq(nstore_count(st), 0);
    ck_assert_int_eq(nstore_meta(st, NULL, NULL, NULL, NULL, NULL, 0),
                     CRDT_ERR_NOT_FOUND);
    nstore_close(st);
    /* not a backup; no store to back up */
    ck_assert_int_eq(nstore_restore(d3, d1, NULL, err, sizeof err),
                     CRDT_ERR_IO);
    ck_assert_int_eq(nstore_backup(root, bakc, err, sizeof err),
                     CRDT_ERR_IO);
    ck_assert_msg(strstr(err, root) != NULL, "%s", err);
    ck_assert_int_eq(access(bakc, F_OK), 0); /* the old file stays */

    nstore_close(st1);
    crdt_buf_clear(&s1);
    crdt_buf_clear(&s3);
    crdt_gossip_free(both);
    crdt_gossip_free(g);
    crdt_gossip_free(h);
    free(d1);
    free(d2);
    free(d3);
    free(d4);
    free(d5);
    free(bak0);
    free(bak1);
    free(bakc);
}
END_TEST

/* The writer of the concurrent backup test: from a 64 KiB map (so that
 * the map grows under the backups), puts keys a<i> and b<i> (real states
 * of about 4 KiB) in one transaction per i and reports i after each. */
static void pair_writer(const char *dir, int fd)
{
    crdt_gossip *g = node(6, 1);
    char err[256], key[2][16], *elem = malloc(4001);
    crdt_buf b[2];
    nstore *st;
    uint32_t i;
    int j;

    if (!elem || nstore_open(&st, dir, 64 << 10, err, sizeof err) != CRDT_OK)
        _exit(1);
    crdt_buf_init(&b[0], NULL);
    crdt_buf_init(&b[1], NULL);
    for (i = 0;; i++) {
        nstore_item it[2];

        for (j = 0; j < 2; j++) {
            snprintf(key[j], sizeof key[j], "%c%06u", "ab"[j], i);
            memset(elem, 'a' + (int)(i % 26), 4000);
            memcpy(elem, key[j], 7);
            elem[4000] = '\0';
            crdt_buf_reset(&b[j]);
            if (crdt_gossip_update(g, key[j], 7, crdt_orset_type(), add_fn,
                                   elem) ||
                crdt_gossip_state(g, key[j], 7, &b[j]))
                _exit(2);
            it[j].key = (const uint8_t *)key[j];
            it[j].klen = 7;
            it[j].state = b[j].data;
            it[j].slen = b[j].len;
        }
        if (nstore_put_many(st, it, 2) || write(fd, &i, sizeof i) != sizeof i)
            _exit(3);
    }
}

START_TEST(test_nstore_backup_concurrent_writer)
{
    char *dir = newpath("busy"), err[256], key[32];
    int fds[2], status, k;
    uint32_t v;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        pair_writer(dir, fds[1]);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &v, sizeof v), (ssize_t)sizeof v);
    /* this process never opens dir's environment but through backups */
    for (k = 0; k < 5; k++) {
        char *bak = newpath("cbak"), *to = newpath("cto");
        nstore *st;
        crdt_buf b;
        size_t n, j;

        usleep(20000);
        ck_assert_msg(nstore_backup(dir, bak, err, sizeof err) == CRDT_OK,
                      "%s", err);
        ck_assert_msg(nstore_restore(to, bak, &n, err, sizeof err) ==
                          CRDT_OK,
                      "%s", err);
        /* one transaction's state: whole pairs, a prefix of them */
        ck_assert_uint_eq(n % 2, 0);
        ck_assert_int_eq(nstore_open(&st, to, 0, err, sizeof err), CRDT_OK);
        ck_assert_uint_eq(nstore_count(st), n);
        crdt_buf_init(&b, NULL);
        for (j = 0; j < n / 2; j++) {
            snprintf(key, sizeof key, "a%06zu", j);
            ck_assert_int_eq(nstore_get(st, (const uint8_t *)key, 7, &b),
                             CRDT_OK);
            key[0] = 'b';
            ck_assert_int_eq(nstore_get(st, (const uint8_t *)key, 7, &b),
                             CRDT_OK);
        }
        crdt_buf_clear(&b);
        nstore_close(st);
        free(bak);
        free(to);
    }
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
    while (read(fds[0], &v, sizeof v) == (ssize_t)sizeof v)
        ;
    close(fds[0]);
    free(dir);
}
END_TEST

/* The child of the kill test: puts key i (a real state) and reports i
 * on @p fd after each commit, until killed. */
static void kill_child(const char *dir, int round, int fd)
{
    crdt_gossip *g = node(5, 1000 + (uint64_t)round);
    char err[256], key[32];
    crdt_buf b;
    nstore *st;
    uint32_t i;

    if (nstore_open(&st, dir, 0, err, sizeof err) != CRDT_OK)
        _exit(1);
    crdt_buf_init(&b, NULL);
    for (i = 0;; i++) {
        int len = snprintf(key, sizeof key, "r%02d-%06u", round, i);

        if (crdt_gossip_update(g, key, (size_t)len, crdt_orset_type(),
                               add_fn, (void *)key) ||
            crdt_gossip_state(g, key, (size_t)len, &b) ||
            nstore_put(st, (const uint8_t *)key, (size_t)len, b.data,
                       b.len) ||
            write(fd, &i, sizeof i) != sizeof i)
            _exit(2);
        crdt_buf_reset(&b);
    }
}

START_TEST(test_nstore_kill9_durable)
{
    uint64_t seed = tu_seed("nstore");
    char *dir = newpath("kill"), err[256], key[32];
    struct timespec t0, t1;
    tu_rng rng;
    size_t total = 0;
    int round;

    tu_rng_init(&rng, seed);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (round = 0; round < 20; round++) {
        int fds[2], status;
        uint32_t v, last = 0;
        bool any = false;
        pid_t pid;
        nstore *st;
        crdt_buf b;
        ssize_t r;

        ck_assert_int_eq(pipe(fds), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            kill_child(dir, round, fds[1]);
        }
        close(fds[1]);
        /* the first commit, then a random few ms more */
        ck_assert_int_eq(read(fds[0], &v, sizeof v), (ssize_t)sizeof v);
        last = v;
        any = true;
        usleep((useconds_t)(1000 + tu_below(&rng, 15000)));
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        while ((r = read(fds[0], &v, sizeof v)) == (ssize_t)sizeof v)
            last = v;
        ck_assert_int_eq(r, 0);
        close(fds[0]);

        /* the lock died with the child; every reported key is there */
        ck_assert_msg(nstore_open(&st, dir, 0, err, sizeof err) == CRDT_OK,
                      "round %d: %s", round, err);
        crdt_buf_init(&b, NULL);
        for (v = 0; any && v <= last; v++) {
            int len = snprintf(key, sizeof key, "r%02d-%06u", round, v);
            crdt_ormap *m = crdt_ormap_new(NULL, NULL);

            crdt_buf_reset(&b);
            ck_assert_msg(nstore_get(st, (const uint8_t *)key, (size_t)len,
                                     &b) == CRDT_OK,
                          "seed %llu round %d: key %s reported, missing",
                          (unsigned long long)seed, round, key);
            ck_assert_int_eq(crdt_ormap_decode(m, b.data, b.len, NULL, NULL),
                             CRDT_OK);
            ck_assert_uint_eq(crdt_ormap_size(m), 1);
            crdt_ormap_free(m);
        }
        total += (size_t)last + 1;
        ck_assert_uint_ge(nstore_count(st), total);
        crdt_buf_clear(&b);
        nstore_close(st);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "nstore: kill -9: 20 rounds, %zu commits checked, %.0f ms\n",
            total, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    free(dir);
}
END_TEST

static Suite *nstore_suite(void)
{
    Suite *s = suite_create("nstore");
    TCase *tc = tcase_create("store");

    tcase_add_unchecked_fixture(tc, mkroot, rmroot);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_nstore_basic_reopen);
    tcase_add_test(tc, test_nstore_load_restore);
    tcase_add_test(tc, test_nstore_start_incarnations);
    tcase_add_test(tc, test_nstore_growth_tiny_map);
    tcase_add_test(tc, test_nstore_lock_other_process);
    tcase_add_test(tc, test_nstore_backup_restore_merge);
    tcase_add_test(tc, test_nstore_backup_concurrent_writer);
    tcase_add_test(tc, test_nstore_kill9_durable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(nstore_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
