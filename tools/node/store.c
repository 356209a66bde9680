/* SPDX-License-Identifier: MIT */
/*
 * crdt-node's durable store on LMDB (layout and durability promise in
 * store.h).
 *
 * Every write is one LMDB write transaction run by run_write: the body
 * may be run again when the map fills up (MDB_MAP_FULL: abort, double the
 * map with no transaction active, retry), so bodies only read and write
 * through the transaction and their argument's outputs.  An LMDB failure
 * inside a body is recorded in st->mdb_rc by mdb_fail, which is how
 * run_write tells a full map from other errors.
 *
 * Workload: one put per local write or merged remote change (the daemon
 * batches them per loop turn with put_many: each commit is an fsync, the
 * cost that dominates); load once per start; backup and restore rarely.
 */
#define _DEFAULT_SOURCE 1
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include <crdt/ormap.h>

#include "log.h"
#include "store.h"

/* LMDB key length limit used for the key mapping (see store.h): at most
 * 511, LMDB's default, so that every build maps keys alike. */
#define KMAX 511u
#define HASHLEN 32u
#define FORMAT 1u

struct nstore {
    MDB_env *env;     /* read-write environment */
    MDB_dbi meta;     /* "meta" */
    MDB_dbi keys;     /* "keys" */
    int lockfd;       /* DIR/node.lock, flock'd; -1 if none */
    size_t map_size;  /* current map size */
    unsigned kmax;    /* LMDB keys of this length are long-key entries */
    int mdb_rc;       /* last LMDB error inside a write body */
    char *dir;        /* copy of the directory path */
    char err[640];    /* last error's reason */
};

/* ------------------------------------------------------------ helpers */

static void seterr(nstore *st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void seterr(nstore *st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(st->err, sizeof st->err, fmt, ap);
    va_end(ap);
}

static void copyerr(char *err, size_t errcap, const char *msg)
{
    if (err && errcap)
        snprintf(err, errcap, "%s", msg);
}

/* Records an LMDB failure of @p what and returns the libcrdt code. */
static int mdb_fail(nstore *st, int rc, const char *what)
{
    st->mdb_rc = rc;
    seterr(st, "%s: %s (data directory %s)", what, mdb_strerror(rc),
           st->dir);
    return rc == ENOMEM ? CRDT_ERR_NOMEM : CRDT_ERR_IO;
}

static void be64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* A key quoted for a message. */
static const char *qkey(char *buf, size_t cap, const uint8_t *key,
                        size_t klen)
{
    return nlog_quote(buf, cap, key, klen > 64 ? 64 : klen);
}

/* The LMDB key of a crdt key (store.h): the key itself if shorter than
 * kmax, else its first kmax - 32 bytes and its BLAKE2b-256. */
static void map_key(unsigned kmax, const uint8_t *key, size_t klen,
                    uint8_t *buf, MDB_val *out)
{
    if (klen < kmax) {
        out->mv_data = (void *)key;
        out->mv_size = klen;
        return;
    }
    memcpy(buf, key, kmax - HASHLEN);
    crypto_generichash(buf + kmax - HASHLEN, HASHLEN, key, klen, NULL, 0);
    out->mv_data = buf;
    out->mv_size = kmax;
}

/* The crdt key and state of a "keys" entry; CRDT_ERR_DECODE if malformed. */
static int entry_view(unsigned kmax, const MDB_val *k, const MDB_val *v,
                      const uint8_t **key, size_t *klen,
                      const uint8_t **state, size_t *slen)
{
    const uint8_t *p = v->mv_data;
    size_t n;

    if (k->mv_size == 0 || k->mv_size > kmax)
        return CRDT_ERR_DECODE;
    if (k->mv_size < kmax) {
        if (v->mv_size == 0)
            return CRDT_ERR_DECODE;
        *key = k->mv_data;
        *klen = k->mv_size;
        *state = p;
        *slen = v->mv_size;
        return CRDT_OK;
    }
    if (v->mv_size < 2)
        return CRDT_ERR_DECODE;
    n = (size_t)p[0] << 8 | p[1];
    if (n < kmax || n > NSTORE_MAX_KEY || v->mv_size < 2 + n + 1 ||
        memcmp(p + 2, k->mv_data, kmax - HASHLEN) != 0)
        return CRDT_ERR_DECODE;
    *key = p + 2;
    *klen = n;
    *state = p + 2 + n;
    *slen = v->mv_size - 2 - n;
    return CRDT_OK;
}

/* Runs @p body in a write transaction and commits it, growing the map
 * and retrying while it is full. */
static int run_write(nstore *st, int (*body)(nstore *, MDB_txn *, void *),
                     void *arg)
{
    for (;;) {
        MDB_txn *txn;
        size_t ns;
        int rc, rv;

        st->mdb_rc = 0;
        st->err[0] = '\0';
        if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
            return mdb_fail(st, rc, "mdb_txn_begin");
        rv = body(st, txn, arg);
        if (rv) {
            mdb_txn_abort(txn);
        } else if ((rc = mdb_txn_commit(txn))) {
            rv = mdb_fail(st, rc, "mdb_txn_commit");
        }
        if (!rv)
            return CRDT_OK;
        if (st->mdb_rc != MDB_MAP_FULL)
            return rv;
        if (st->map_size >= NSTORE_MAX_MAP_SIZE) {
            seterr(st, "store full: map size %zu bytes is the maximum "
                       "(data directory %s)", st->map_size, st->dir);
            return CRDT_ERR_IO;
        }
        ns = st->map_size > NSTORE_MAX_MAP_SIZE / 2 ? NSTORE_MAX_MAP_SIZE
                                                     : st->map_size * 2;
        if ((rc = mdb_env_set_mapsize(st->env, ns)))
            return mdb_fail(st, rc, "mdb_env_set_mapsize");
        st->map_size = ns;
    }
}

static int put_raw(nstore *st, MDB_txn *txn, MDB_dbi dbi, const void *k,
                   size_t klen, const void *v, size_t vlen, const char *what)
{
    MDB_val mk = {klen, (void *)k}, mv = {vlen, (void *)v};
    int rc = mdb_put(txn, dbi, &mk, &mv, 0);

    return rc ? mdb_fail(st, rc, what) : CRDT_OK;
}

static int put_u64(nstore *st, MDB_txn *txn, const char *name, uint64_t v)
{
    uint8_t b[8];

    be64(b, v);
    return put_raw(st, txn, st->meta, name, strlen(name), b, 8,
                   "mdb_put meta");
}

/* Reads meta @p name of @p dbi as a uint64: CRDT_OK, CRDT_ERR_NOT_FOUND,
 * CRDT_ERR_DECODE or CRDT_ERR_IO. */
static int get_u64(nstore *st, MDB_txn *txn, MDB_dbi dbi, const char *name,
                   uint64_t *v)
{
    MDB_val k = {strlen(name), (void *)name}, d;
    int rc = mdb_get(txn, dbi, &k, &d);

    if (rc == MDB_NOTFOUND)
        return CRDT_ERR_NOT_FOUND;
    if (rc)
        return mdb_fail(st, rc, "mdb_get meta");
    if (d.mv_size != 8) {
        seterr(st, "meta \"%s\" is %zu bytes, not 8 (data directory %s)",
               name, d.mv_size, st->dir);
        return CRDT_ERR_DECODE;
    }
    *v = rd64(d.mv_data);
    return CRDT_OK;
}

/* Stores one key's state under its mapped LMDB key. */
static int put_entry(nstore *st, MDB_txn *txn, const uint8_t *key,
                     size_t klen, const uint8_t *state, size_t slen)
{
    uint8_t buf[KMAX];
    MDB_val k, v;
    int rc;

    map_key(st->kmax, key, klen, buf, &k);
    if (klen < st->kmax) {
        v.mv_size = slen;
        v.mv_data = (void *)state;
        rc = mdb_put(txn, st->keys, &k, &v, 0);
    } else {
        v.mv_size = 2 + klen + slen;
        rc = mdb_put(txn, st->keys, &k, &v, MDB_RESERVE);
        if (!rc) {
            uint8_t *p = v.mv_data;

            p[0] = (uint8_t)(klen >> 8);
            p[1] = (uint8_t)klen;
            memcpy(p + 2, key, klen);
            memcpy(p + 2 + klen, state, slen);
        }
    }
    return rc ? mdb_fail(st, rc, "mdb_put") : CRDT_OK;
}

/* Looks up a key's stored state (a view into the map, valid until the
 * transaction's next write or its end). */
static int get_entry(nstore *st, MDB_txn *txn, const uint8_t *key,
                     size_t klen, const uint8_t **state, size_t *slen)
{
    uint8_t buf[KMAX];
    const uint8_t *sk;
    size_t sklen;
    MDB_val k, v;
    int rc;

    map_key(st->kmax, key, klen, buf, &k);
    rc = mdb_get(txn, st->keys, &k, &v);
    if (rc == MDB_NOTFOUND)
        return CRDT_ERR_NOT_FOUND;
    if (rc)
        return mdb_fail(st, rc, "mdb_get");
    if (entry_view(st->kmax, &k, &v, &sk, &sklen, state, slen)) {
        char q[160];

        seterr(st, "stored entry of key %s is malformed (data directory %s)",
               qkey(q, sizeof q, key, klen), st->dir);
        return CRDT_ERR_DECODE;
    }
    if (sklen != klen || memcmp(sk, key, klen) != 0)
        return CRDT_ERR_NOT_FOUND;
    return CRDT_OK;
}

static bool key_ok(size_t klen)
{
    return klen >= 1 && klen <= NSTORE_MAX_KEY;
}

/* Takes DIR/node.lock; CRDT_ERR_BUSY if another open file holds it. */
static int take_lock(nstore *st)
{
    size_t n = strlen(st->dir) + sizeof "/node.lock";
    char *path = malloc(n), pid[32];
    int fd, len;

    if (!path) {
        seterr(st, "out of memory");
        return CRDT_ERR_NOMEM;
    }
    snprintf(path, n, "%s/node.lock", st->dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        seterr(st, "cannot open %s: %s", path, strerror(errno));
        free(path);
        return CRDT_ERR_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ssize_t r = pread(fd, pid, sizeof pid - 1, 0);

        pid[r > 0 ? r : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            seterr(st, "data directory %s is in use by another crdt-node "
                       "process (%s is locked%s%s)", st->dir, path,
                   pid[0] ? " by pid " : "", pid);
        else
            seterr(st, "cannot lock %s: %s", path, strerror(e));
        close(fd);
        free(path);
        return e == EWOULDBLOCK ? CRDT_ERR_BUSY : CRDT_ERR_IO;
    }
    free(path);
    len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* only informative: the lock is what counts */
    }
    st->lockfd = fd;
    return CRDT_OK;
}

static int open_dbis(nstore *st, MDB_txn *txn, void *arg)
{
    int rc;

    (void)arg;
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta)) ||
        (rc = mdb_dbi_open(txn, "keys", MDB_CREATE, &st->keys)))
        return mdb_fail(st, rc, "mdb_dbi_open");
    return CRDT_OK;
}

static unsigned env_kmax(MDB_env *env)
{
    int k = mdb_env_get_maxkeysize(env);

    return k > 0 && (unsigned)k < KMAX ? (unsigned)k : KMAX;
}

/* --------------------------------------------------------- lifecycle */

int nstore_open(nstore **out, const char *dir, size_t map_size, char *err,
                size_t errcap)
{
    nstore *st;
    MDB_envinfo info;
    int rc, rv;

    copyerr(err, errcap, "");
    if (!out || !dir || !*dir) {
        copyerr(err, errcap, "nstore_open: no directory");
        return CRDT_ERR_INVALID_ARG;
    }
    if (sodium_init() < 0) {
        copyerr(err, errcap, "sodium_init failed");
        return CRDT_ERR_RANDOM;
    }
    st = calloc(1, sizeof *st);
    if (!st || !(st->dir = strdup(dir))) {
        free(st);
        copyerr(err, errcap, "out of memory");
        return CRDT_ERR_NOMEM;
    }
    st->lockfd = -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        seterr(st, "cannot create data directory %s: %s", dir,
               strerror(errno));
        rv = CRDT_ERR_IO;
        goto fail;
    }
    if ((rv = take_lock(st)))
        goto fail;
    st->map_size = map_size ? map_size : NSTORE_DEFAULT_MAP_SIZE;
    if ((rc = mdb_env_create(&st->env))) {
        rv = mdb_fail(st, rc, "mdb_env_create");
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(st->env, 2)) ||
        (rc = mdb_env_set_mapsize(st->env, st->map_size))) {
        rv = mdb_fail(st, rc, "mdb_env_set_mapsize");
        goto fail;
    }
    if ((rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600))) {
        rv = mdb_fail(st, rc, "mdb_env_open");
        goto fail;
    }
    /* Reader slots of a killed process (ours, or a backup's) would keep
     * old pages from reuse; free them. */
    {
        int dead;

        if ((rc = mdb_reader_check(st->env, &dead))) {
            rv = mdb_fail(st, rc, "mdb_reader_check");
            goto fail;
        }
    }
    if (mdb_env_info(st->env, &info) == 0 && info.me_mapsize > st->map_size)
        st->map_size = info.me_mapsize;
    st->kmax = env_kmax(st->env);
    if ((rv = run_write(st, open_dbis, NULL)))
        goto fail;
    st->err[0] = '\0';
    *out = st;
    return CRDT_OK;
fail:
    copyerr(err, errcap, st->err);
    nstore_close(st);
    return rv;
}

void nstore_close(nstore *st)
{
    if (!st)
        return;
    if (st->env)
        mdb_env_close(st->env);
    if (st->lockfd >= 0)
        close(st->lockfd); /* releases the flock */
    free(st->dir);
    free(st);
}

const char *nstore_error(const nstore *st)
{
    return st ? st->err : "no store";
}

size_t nstore_map_size(const nstore *st)
{
    return st ? st->map_size : 0;
}

/* -------------------------------------------------------------- meta */

struct start_arg {
    uint64_t node_id, cluster_id, incarnation;
    const char *name;
};

static int start_body(nstore *st, MDB_txn *txn, void *arg)
{
    struct start_arg *a = arg;
    uint64_t nid = 0, cid = 0, fmt = 0, old = 0, starts = 0, inc;
    int rv;

    rv = get_u64(st, txn, st->meta, "node_id", &nid);
    if (rv == CRDT_OK)
        rv = get_u64(st, txn, st->meta, "cluster_id", &cid);
    if (rv == CRDT_OK) {
        if (nid != a->node_id || cid != a->cluster_id) {
            seterr(st, "data directory %s belongs to node %016llx of "
                       "cluster %016llx, not to node %016llx of cluster "
                       "%016llx", st->dir, (unsigned long long)nid,
                   (unsigned long long)cid,
                   (unsigned long long)a->node_id,
                   (unsigned long long)a->cluster_id);
            return CRDT_ERR_INVALID_ARG;
        }
    } else if (rv != CRDT_ERR_NOT_FOUND) {
        return rv;
    }
    rv = get_u64(st, txn, st->meta, "format", &fmt);
    if (rv == CRDT_OK && fmt != FORMAT) {
        seterr(st, "data directory %s has store format %llu, this program "
                   "reads %u", st->dir, (unsigned long long)fmt, FORMAT);
        return CRDT_ERR_VERSION;
    }
    if ((rv && rv != CRDT_ERR_NOT_FOUND) ||
        ((rv = get_u64(st, txn, st->meta, "incarnation", &old)) &&
         rv != CRDT_ERR_NOT_FOUND) ||
        ((rv = get_u64(st, txn, st->meta, "starts", &starts)) &&
         rv != CRDT_ERR_NOT_FOUND))
        return rv;
    do
        randombytes_buf(&inc, sizeof inc);
    while (inc == 0 || inc == old);
    if ((rv = put_u64(st, txn, "format", FORMAT)) ||
        (rv = put_u64(st, txn, "node_id", a->node_id)) ||
        (rv = put_u64(st, txn, "cluster_id", a->cluster_id)) ||
        (rv = put_raw(st, txn, st->meta, "name", 4, a->name,
                      strlen(a->name), "mdb_put meta")) ||
        (rv = put_u64(st, txn, "incarnation", inc)) ||
        (rv = put_u64(st, txn, "starts", starts + 1)))
        return rv;
    a->incarnation = inc;
    return CRDT_OK;
}

int nstore_start(nstore *st, uint64_t node_id, uint64_t cluster_id,
                 const char *name, uint64_t *incarnation)
{
    struct start_arg a = {node_id, cluster_id, 0, name};
    int rv;

    if (!st)
        return CRDT_ERR_INVALID_ARG;
    if (!name || !incarnation || node_id == 0) {
        seterr(st, "nstore_start: node id 0 or no name");
        return CRDT_ERR_INVALID_ARG;
    }
    if ((rv = run_write(st, start_body, &a)))
        return rv;
    *incarnation = a.incarnation;
    return CRDT_OK;
}

int nstore_meta(nstore *st, uint64_t *node_id, uint64_t *cluster_id,
                uint64_t *incarnation, uint64_t *starts, char *name,
                size_t namecap)
{
    uint64_t v[4] = {0, 0, 0, 0};
    static const char *const names[4] = {"node_id", "cluster_id",
                                         "incarnation", "starts"};
    MDB_txn *txn;
    MDB_val k = {4, (void *)"name"}, d;
    int rc, rv = CRDT_OK, i;

    if (!st)
        return CRDT_ERR_INVALID_ARG;
    st->err[0] = '\0';
    if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))
        return mdb_fail(st, rc, "mdb_txn_begin");
    for (i = 0; i < 4 && !rv; i++)
        rv = get_u64(st, txn, st->meta, names[i], &v[i]);
    if (rv == CRDT_ERR_NOT_FOUND)
        seterr(st, "data directory %s has no identity (never started)",
               st->dir);
    if (!rv && name && namecap) {
        rc = mdb_get(txn, st->meta, &k, &d);
        if (rc) {
            rv = rc == MDB_NOTFOUND ? CRDT_ERR_NOT_FOUND
                                    : mdb_fail(st, rc, "mdb_get meta");
        } else {
            size_t n = d.mv_size < namecap - 1 ? d.mv_size : namecap - 1;

            memcpy(name, d.mv_data, n);
            name[n] = '\0';
        }
    }
    mdb_txn_abort(txn);
    if (rv)
        return rv;
    if (node_id)
        *node_id = v[0];
    if (cluster_id)
        *cluster_id = v[1];
    if (incarnation)
        *incarnation = v[2];
    if (starts)
        *starts = v[3];
    return CRDT_OK;
}

/* -------------------------------------------------------------- load */

/* MessagePack headers, shortest form. */
static size_t mp_uint(uint8_t *p, uint64_t v)
{
    if (v < 128) {
        p[0] = (uint8_t)v;
        return 1;
    }
    if (v <= 0xff) {
        p[0] = 0xcc;
        p[1] = (uint8_t)v;
        return 2;
    }
    if (v <= 0xffff) {
        p[0] = 0xcd;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)v;
        return 3;
    }
    if (v <= 0xffffffffu) {
        p[0] = 0xce;
        p[1] = (uint8_t)(v >> 24);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 8);
        p[4] = (uint8_t)v;
        return 5;
    }
    p[0] = 0xcf;
    be64(p + 1, v);
    return 9;
}

static size_t mp_array(uint8_t *p, size_t n)
{
    if (n < 16) {
        p[0] = (uint8_t)(0x90 | n);
        return 1;
    }
    if (n <= 0xffff) {
        p[0] = 0xdc;
        p[1] = (uint8_t)(n >> 8);
        p[2] = (uint8_t)n;
        return 3;
    }
    p[0] = 0xdd;
    p[1] = (uint8_t)(n >> 24);
    p[2] = (uint8_t)(n >> 16);
    p[3] = (uint8_t)(n >> 8);
    p[4] = (uint8_t)n;
    return 5;
}

static size_t mp_bin(uint8_t *p, size_t n)
{
    if (n <= 0xff) {
        p[0] = 0xc4;
        p[1] = (uint8_t)n;
        return 2;
    }
    if (n <= 0xffff) {
        p[0] = 0xc5;
        p[1] = (uint8_t)(n >> 8);
        p[2] = (uint8_t)n;
        return 3;
    }
    p[0] = 0xc6;
    p[1] = (uint8_t)(n >> 24);
    p[2] = (uint8_t)(n >> 16);
    p[3] = (uint8_t)(n >> 8);
    p[4] = (uint8_t)n;
    return 5;
}

typedef struct view {
    const uint8_t *key, *state;
    size_t klen, slen;
} view;

static int cmp_view(const void *a, const void *b)
{
    const view *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);

    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

int nstore_load(nstore *st, uint64_t node_id, crdt_buf *snapshot,
                size_t *nkeys)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_stat ms;
    MDB_val k, v;
    view *vs = NULL;
    size_t n = 0, i, total;
    uint8_t hdr[16];
    bool sorted = true;
    int rc, rv = CRDT_OK;

    if (!st)
        return CRDT_ERR_INVALID_ARG;
    st->err[0] = '\0';
    if (!snapshot) {
        seterr(st, "nstore_load: no buffer");
        return CRDT_ERR_INVALID_ARG;
    }
    if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))
        return mdb_fail(st, rc, "mdb_txn_begin");
    if ((rc = mdb_stat(txn, st->keys, &ms)) ||
        (rc = mdb_cursor_open(txn, st->keys, &cur))) {
        rv = mdb_fail(st, rc, "mdb_stat");
        goto out;
    }
    if (ms.ms_entries > UINT32_MAX ||
        !(vs = malloc((ms.ms_entries ? ms.ms_entries : 1) * sizeof *vs))) {
        seterr(st, "out of memory loading %zu keys", ms.ms_entries);
        rv = CRDT_ERR_NOMEM;
        goto out;
    }
    /* 1 + uint + array32 header */
    total = 1 + mp_uint(hdr, 1) + mp_uint(hdr, node_id) + 5;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        view *e;

        if (n == ms.ms_entries) {
            seterr(st, "store changed during load (data directory %s)",
                   st->dir);
            rv = CRDT_ERR_IO;
            goto out;
        }
        e = &vs[n];
        if (entry_view(st->kmax, &k, &v, &e->key, &e->klen, &e->state,
                       &e->slen)) {
            seterr(st, "malformed entry #%zu in \"keys\" (data directory %s)",
                   n, st->dir);
            rv = CRDT_ERR_DECODE;
            goto out;
        }
        if (n && sorted && cmp_view(&vs[n - 1], e) > 0)
            sorted = false;
        total += 1 + 5 + e->klen + e->slen;
        n++;
    }
    if (rc != MDB_NOTFOUND) {
        rv = mdb_fail(st, rc, "mdb_cursor_get");
        goto out;
    }
    if (!sorted)
        qsort(vs, n, sizeof *vs, cmp_view);
    if (crdt_buf_reserve(snapshot, total)) {
        seterr(st, "out of memory: snapshot of %zu bytes", total);
        rv = snapshot->fixed ? CRDT_ERR_BUFFER : CRDT_ERR_NOMEM;
        goto out;
    }
    /* The reservation covers everything: the appends cannot fail. */
    i = 0;
    hdr[i++] = 0x93;
    i += mp_uint(hdr + i, 1);
    i += mp_uint(hdr + i, node_id);
    i += mp_array(hdr + i, n);
    rv = crdt_buf_append(snapshot, hdr, i);
    for (i = 0; i < n && !rv; i++) {
        size_t h = 0;

        hdr[h++] = 0x92;
        h += mp_bin(hdr + h, vs[i].klen);
        if (!(rv = crdt_buf_append(snapshot, hdr, h)) &&
            !(rv = crdt_buf_append(snapshot, vs[i].key, vs[i].klen)))
            rv = crdt_buf_append(snapshot, vs[i].state, vs[i].slen);
    }
    if (!rv && nkeys)
        *nkeys = n;
out:
    free(vs);
    if (cur)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rv;
}

/* -------------------------------------------------------- put and get */

struct put_arg {
    const nstore_item *items;
    size_t n;
};

static int put_body(nstore *st, MDB_txn *txn, void *arg)
{
    struct put_arg *a = arg;
    size_t i;
    int rv;

    for (i = 0; i < a->n; i++) {
        const nstore_item *it = &a->items[i];

        if ((rv = put_entry(st, txn, it->key, it->klen, it->state,
                            it->slen))) {
            char q[160], msg[sizeof st->err];

            memcpy(msg, st->err, sizeof msg);
            seterr(st, "put of key %s (item %zu): %s",
                   qkey(q, sizeof q, it->key, it->klen), i, msg);
            return rv;
        }
    }
    return CRDT_OK;
}

int nstore_put_many(nstore *st, const nstore_item *items, size_t n)
{
    struct put_arg a = {items, n};
    size_t i;

    if (!st)
        return CRDT_ERR_INVALID_ARG;
    if (!items && n) {
        seterr(st, "nstore_put_many: no items");
        return CRDT_ERR_INVALID_ARG;
    }
    for (i = 0; i < n; i++) {
        if (!items[i].key || !key_ok(items[i].klen) || !items[i].state ||
            !items[i].slen) {
            seterr(st, "put: item %zu has a key of %zu bytes (1..%u) or an "
                       "empty state", i, items[i].klen, NSTORE_MAX_KEY);
            return CRDT_ERR_INVALID_ARG;
        }
    }
    if (!n)
        return CRDT_OK;
    return run_write(st, put_body, &a);
}

int nstore_put(nstore *st, const uint8_t *key, size_t klen,
               const uint8_t *state, size_t slen)
{
    nstore_item it = {key, klen, state, slen};

    return nstore_put_many(st, &it, 1);
}

int nstore_get(nstore *st, const uint8_t *key, size_t klen, crdt_buf *out)
{
    MDB_txn *txn;
    const uint8_t *s;
    size_t slen;
    int rc, rv;

    if (!st)
        return CRDT_ERR_INVALID_ARG;
    st->err[0] = '\0';
    if (!key || !key_ok(klen) || !out) {
        seterr(st, "nstore_get: no key, key of %zu bytes or no buffer", klen);
        return CRDT_ERR_INVALID_ARG;
    }
    if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))
        return mdb_fail(st, rc, "mdb_txn_begin");
    rv = get_entry(st, txn, key, klen, &s, &slen);
    if (!rv && (rv = crdt_buf_append(out, s, slen)))
        seterr(st, "out of memory");
    mdb_txn_abort(txn);
    return rv;
}

size_t nstore_count(nstore *st)
{
    MDB_txn *txn;
    MDB_stat ms;
    int rc;

    if (!st)
        return 0;
    st->err[0] = '\0';
    if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn))) {
        mdb_fail(st, rc, "mdb_txn_begin");
        return 0;
    }
    rc = mdb_stat(txn, st->keys, &ms);
    mdb_txn_abort(txn);
    if (rc) {
        mdb_fail(st, rc, "mdb_stat");
        return 0;
    }
    return ms.ms_entries;
}

/* ------------------------------------------------------------ backup */

static int fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *d;
    int fd, rv;

    if (!slash)
        d = strdup(".");
    else if (slash == path)
        d = strdup("/");
    else
        d = strndup(path, (size_t)(slash - path));
    if (!d)
        return -1;
    fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(d);
    if (fd < 0)
        return -1;
    rv = fsync(fd);
    close(fd);
    return rv;
}

int nstore_backup(const char *dir, const char *path, char *err,
                  size_t errcap)
{
    MDB_env *env = NULL;
    char *tmp = NULL;
    int fd = -1, rc, rv = CRDT_ERR_IO, tries;
    size_t n;

    copyerr(err, errcap, "");
    if (!dir || !path || !*path) {
        copyerr(err, errcap, "nstore_backup: no directory or path");
        return CRDT_ERR_INVALID_ARG;
    }
    n = strlen(path) + sizeof ".tmp";
    if (!(tmp = malloc(n))) {
        copyerr(err, errcap, "out of memory");
        return CRDT_ERR_NOMEM;
    }
    snprintf(tmp, n, "%s.tmp", path);
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 2))) {
        if (err)
            snprintf(err, errcap, "mdb_env_create: %s", mdb_strerror(rc));
        goto out;
    }
    if ((rc = mdb_env_open(env, dir, MDB_RDONLY, 0600))) {
        if (err)
            snprintf(err, errcap, "cannot open the store in %s: %s%s", dir,
                     mdb_strerror(rc),
                     rc == ENOENT ? " (no store there)" : "");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (err)
            snprintf(err, errcap, "cannot create %s: %s", tmp,
                     strerror(errno));
        goto out;
    }
    for (tries = 0;; tries++) {
        rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
        if (rc != MDB_MAP_RESIZED || tries == 3)
            break;
        /* the node grew its map: adopt the new size and copy again */
        if (mdb_env_set_mapsize(env, 0) || ftruncate(fd, 0) ||
            lseek(fd, 0, SEEK_SET) != 0)
            break;
    }
    if (rc) {
        if (err)
            snprintf(err, errcap, "copy of the store in %s to %s: %s", dir,
                     tmp, mdb_strerror(rc));
        goto out;
    }
    if (fsync(fd) != 0) {
        if (err)
            snprintf(err, errcap, "fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    rc = close(fd);
    fd = -1;
    if (rc != 0) {
        if (err)
            snprintf(err, errcap, "close %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        if (err)
            snprintf(err, errcap, "rename %s to %s: %s", tmp, path,
                     strerror(errno));
        goto out;
    }
    if (fsync_parent(path) != 0) {
        if (err)
            snprintf(err, errcap, "fsync of the directory of %s: %s", path,
                     strerror(errno));
        goto out_kept;
    }
    rv = CRDT_OK;
    goto out_kept;
out:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out_kept:
    if (env)
        mdb_env_close(env);
    free(tmp);
    return rv;
}

/* ----------------------------------------------------------- restore */

struct restore_arg {
    MDB_txn *bk;      /* read transaction on the backup */
    MDB_dbi bmeta, bkeys;
    unsigned bkmax;
    const char *path;
    size_t nkeys;
};

static int decode_state(nstore *st, crdt_ormap **out, const uint8_t *s,
                        size_t slen, const char *whose, const uint8_t *key,
                        size_t klen)
{
    crdt_ormap *m = crdt_ormap_new(NULL, NULL);
    crdt_decode_info info = {0, 0};
    char q[160];
    int rv;

    if (!m) {
        seterr(st, "out of memory");
        return CRDT_ERR_NOMEM;
    }
    if ((rv = crdt_ormap_decode(m, s, slen, NULL, &info))) {
        if (rv == CRDT_ERR_NOMEM) {
            seterr(st, "out of memory decoding key %s",
                   qkey(q, sizeof q, key, klen));
        } else {
            seterr(st, "%s state of key %s is corrupt: %s at byte %zu of "
                       "%zu", whose, qkey(q, sizeof q, key, klen),
                   crdt_strerror(rv), info.offset, slen);
            rv = CRDT_ERR_DECODE;
        }
        crdt_ormap_free(m);
        return rv;
    }
    *out = m;
    return CRDT_OK;
}

static int restore_meta(nstore *st, MDB_txn *txn, struct restore_arg *a)
{
    uint64_t dn, dc, bn, bc, fmt;
    MDB_cursor *cur;
    MDB_val k, v;
    int rv, rc;

    rv = get_u64(st, a->bk, a->bmeta, "format", &fmt);
    if (rv == CRDT_OK && fmt != FORMAT) {
        seterr(st, "backup %s has store format %llu, this program reads %u",
               a->path, (unsigned long long)fmt, FORMAT);
        return CRDT_ERR_VERSION;
    }
    if (rv && rv != CRDT_ERR_NOT_FOUND)
        return rv;
    rv = get_u64(st, a->bk, a->bmeta, "node_id", &bn);
    if (!rv)
        rv = get_u64(st, a->bk, a->bmeta, "cluster_id", &bc);
    if (rv == CRDT_ERR_NOT_FOUND)
        return CRDT_OK; /* a backup of a store never started */
    if (rv)
        return rv;
    rv = get_u64(st, txn, st->meta, "node_id", &dn);
    if (!rv)
        rv = get_u64(st, txn, st->meta, "cluster_id", &dc);
    if (!rv) {
        if (dn != bn || dc != bc) {
            seterr(st, "backup %s is of node %016llx of cluster %016llx, "
                       "data directory %s of node %016llx of cluster "
                       "%016llx", a->path, (unsigned long long)bn,
                   (unsigned long long)bc, st->dir, (unsigned long long)dn,
                   (unsigned long long)dc);
            return CRDT_ERR_INVALID_ARG;
        }
        return CRDT_OK;
    }
    if (rv != CRDT_ERR_NOT_FOUND)
        return rv;
    /* no identity here: take the backup's */
    if ((rc = mdb_cursor_open(a->bk, a->bmeta, &cur)))
        return mdb_fail(st, rc, "mdb_cursor_open (backup)");
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if ((rv = put_raw(st, txn, st->meta, k.mv_data, k.mv_size,
                          v.mv_data, v.mv_size, "mdb_put meta"))) {
            mdb_cursor_close(cur);
            return rv;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? CRDT_OK
                              : mdb_fail(st, rc, "mdb_cursor_get (backup)");
}

static int restore_body(nstore *st, MDB_txn *txn, void *arg)
{
    struct restore_arg *a = arg;
    MDB_cursor *cur;
    MDB_val k, v;
    crdt_buf buf;
    int rc, rv;

    a->nkeys = 0;
    if ((rv = restore_meta(st, txn, a)))
        return rv;
    if ((rc = mdb_cursor_open(a->bk, a->bkeys, &cur)))
        return mdb_fail(st, rc, "mdb_cursor_open (backup)");
    crdt_buf_init(&buf, NULL);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !rv;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *key, *bs, *ds;
        size_t klen, bslen, dslen;
        crdt_ormap *bm = NULL, *dm = NULL;

        if (entry_view(a->bkmax, &k, &v, &key, &klen, &bs, &bslen) ||
            klen > NSTORE_MAX_KEY) {
            seterr(st, "backup %s: malformed entry #%zu", a->path,
                   a->nkeys);
            rv = CRDT_ERR_DECODE;
            break;
        }
        if ((rv = decode_state(st, &bm, bs, bslen, "backup", key, klen)))
            break;
        rv = get_entry(st, txn, key, klen, &ds, &dslen);
        if (rv == CRDT_ERR_NOT_FOUND) {
            rv = put_entry(st, txn, key, klen, bs, bslen);
        } else if (!rv &&
                   !(rv = decode_state(st, &dm, ds, dslen, "stored", key,
                                       klen))) {
            crdt_buf_reset(&buf);
            if ((rv = crdt_ormap_merge(dm, bm)) ||
                (rv = crdt_ormap_encode(dm, &buf))) {
                char q[160];

                seterr(st, "merge of key %s: %s",
                       qkey(q, sizeof q, key, klen), crdt_strerror(rv));
            } else {
                rv = put_entry(st, txn, key, klen, buf.data, buf.len);
            }
        }
        crdt_ormap_free(bm);
        crdt_ormap_free(dm);
        a->nkeys++;
    }
    mdb_cursor_close(cur);
    crdt_buf_clear(&buf);
    if (!rv && rc != MDB_NOTFOUND)
        rv = mdb_fail(st, rc, "mdb_cursor_get (backup)");
    return rv;
}

int nstore_restore(const char *dir, const char *path, size_t *nkeys,
                   char *err, size_t errcap)
{
    struct restore_arg a;
    MDB_env *benv = NULL;
    nstore *st = NULL;
    struct stat sb;
    int rc, rv = CRDT_ERR_IO;

    copyerr(err, errcap, "");
    if (!dir || !path) {
        copyerr(err, errcap, "nstore_restore: no directory or path");
        return CRDT_ERR_INVALID_ARG;
    }
    memset(&a, 0, sizeof a);
    a.path = path;
    if (stat(path, &sb) != 0) {
        if (err)
            snprintf(err, errcap, "cannot read backup %s: %s", path,
                     strerror(errno));
        return CRDT_ERR_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        if (err)
            snprintf(err, errcap, "cannot read backup %s: not a regular "
                                  "file", path);
        return CRDT_ERR_IO;
    }
    /* Lock DIR before opening anything of LMDB's in it. */
    if ((rv = nstore_open(&st, dir, 0, err, errcap)))
        return rv;
    rv = CRDT_ERR_IO;
    if ((rc = mdb_env_create(&benv)) || (rc = mdb_env_set_maxdbs(benv, 2)) ||
        (rc = mdb_env_open(benv, path,
                           MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0600)) ||
        (rc = mdb_txn_begin(benv, NULL, MDB_RDONLY, &a.bk))) {
        if (err)
            snprintf(err, errcap, "cannot open backup %s: %s", path,
                     mdb_strerror(rc));
        goto out;
    }
    if ((rc = mdb_dbi_open(a.bk, "meta", 0, &a.bmeta)) ||
        (rc = mdb_dbi_open(a.bk, "keys", 0, &a.bkeys))) {
        if (err)
            snprintf(err, errcap, "%s is not a crdt-node backup: %s", path,
                     mdb_strerror(rc));
        rv = CRDT_ERR_DECODE;
        goto out;
    }
    a.bkmax = env_kmax(benv);
    if ((rv = run_write(st, restore_body, &a))) {
        copyerr(err, errcap, st->err);
        goto out;
    }
    if (nkeys)
        *nkeys = a.nkeys;
out:
    if (a.bk)
        mdb_txn_abort(a.bk);
    if (benv)
        mdb_env_close(benv);
    nstore_close(st);
    return rv;
}
