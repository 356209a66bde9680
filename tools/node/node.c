/* SPDX-License-Identifier: MIT */
/* crdt-node's replica: lifecycle, store, node messages (node.h). */
#include "config.h"

#include "node.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <xxhash.h>

#include <crdt/ormap.h>

#include "http.h"
#include "log.h"
#include "mp.h"

/* ======================================================================
 * Small helpers
 * ====================================================================== */

uint64_t node_now_ms(const node *n)
{
    return uv_now(n->loop);
}

static uint64_t name_id(const char *s)
{
    uint64_t v = XXH3_64bits(s, strlen(s));

    return v ? v : 1;
}

size_t node_replicas(const node *n)
{
    return crdt_gossip_peer_count(n->g) + 1;
}

nmsg node_msg(const node *n, int kind, uint64_t req)
{
    nmsg m;

    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.cluster = n->cluster_id;
    m.from = n->node_id;
    m.req = req;
    return m;
}

/* Sends an encoded message of @p kind. */
static int send_raw(node *n, const uint8_t *addr, size_t alen,
                    const crdt_buf *b, int kind)
{
    int rv = crdt_gossip_uv_send_to(n->uv, addr, alen, b->data, b->len);

    if (!rv)
        n->stats.msgs_out[kind]++;
    return rv;
}

int node_send_msg(node *n, const uint8_t *addr, size_t alen, const nmsg *m)
{
    crdt_buf b;
    size_t i;
    crdt_gossip_peer p;
    int rv;

    crdt_buf_init(&b, NULL);
    if ((rv = nmsg_encode(m, &b)) == CRDT_OK) {
        if (addr)
            rv = send_raw(n, addr, alen, &b, m->kind);
        else
            for (i = 0; crdt_gossip_peer_at(n->g, i, &p) == CRDT_OK; i++)
                if (p.addrlen)
                    (void)send_raw(n, p.addr, p.addrlen, &b, m->kind);
    }
    crdt_buf_clear(&b);
    return rv;
}

int node_send_state(node *n, int kind, uint64_t req, const uint8_t *key,
                    size_t klen, const uint8_t *state, size_t slen,
                    const uint8_t *addr, size_t alen)
{
    nmsg m = node_msg(n, kind, req);
    uint64_t i, parts;
    int rv = CRDT_OK;

    /* the fields around the part take at most 5 + 4 * 9 + 1 + (5 + klen)
     * + 3 * 9 + 5 bytes */
    if (n->max_plain < 96 + klen + 64 || slen > NMSG_MAX_STATE)
        return CRDT_ERR_LIMIT;
    m.key = key;
    m.klen = klen;
    m.total = slen;
    m.chunk = n->max_plain - 96 - klen;
    parts = nmsg_parts(slen, m.chunk);
    for (i = 0; i < parts && !rv; i++) {
        m.index = i;
        m.bytes = state + (slen ? i * m.chunk : 0);
        m.blen = i + 1 < parts ? m.chunk : slen - i * m.chunk;
        rv = node_send_msg(n, addr, alen, &m);
        if (rv == CRDT_ERR_IO || rv == CRDT_ERR_INVALID_ARG)
            rv = CRDT_OK; /* a datagram lost: the sender retries */
    }
    return rv;
}

/* ======================================================================
 * Durable store: group commit on a worker thread
 *
 * Every change of a key (a local write, a merge from a peer) enqueues the
 * key's state into the next batch (a key already there is replaced by its
 * newer state), with an optional waiter to call once it is on disk.  One
 * batch at a time is committed (one LMDB transaction, one fsync) on
 * libuv's thread pool, so the loop never waits for the disk and the
 * writes that arrive during a commit share the next one.
 * ====================================================================== */

typedef struct cwait {
    node_commit_fn fn;
    void *arg;
} cwait;

struct cbatch {
    uv_work_t work;
    node *n;
    nstore_item *items;
    crdt_buf *bufs;
    size_t len, cap;
    cwait *waits;
    size_t nwaits, wcap;
    int rv;
};

static void batch_free(cbatch *b)
{
    size_t i;

    if (!b)
        return;
    for (i = 0; i < b->len; i++) {
        free((void *)b->items[i].key);
        crdt_buf_clear(&b->bufs[i]);
    }
    free(b->items);
    free(b->bufs);
    free(b->waits);
    free(b);
}

static void batch_work(uv_work_t *w)
{
    cbatch *b = w->data;

    b->rv = b->len ? nstore_put_many(b->n->st, b->items, b->len) : CRDT_OK;
}

static void batch_start(node *n);

static void batch_done(uv_work_t *w, int status)
{
    cbatch *b = w->data;
    node *n = b->n;
    size_t i;

    if (status) /* cancelled: never happens, we do not cancel */
        b->rv = CRDT_ERR_IO;
    n->commit_inflight = NULL;
    if (b->rv)
        nlog(NLOG_ERROR, "store_commit", "keys=%zu err=%d reason=\"%s\"",
             b->len, b->rv, nstore_error(n->st));
    else {
        n->stats.keys_flushed += b->len;
        n->stats.flushes++;
    }
    for (i = 0; i < b->nwaits; i++)
        b->waits[i].fn(n, b->waits[i].arg, b->rv);
    if (b->rv && !n->draining) {
        /* keep the states: they go again with the next batch (and are in
         * memory and at the peers meanwhile) */
        for (i = 0; i < b->len; i++)
            (void)node_commit_async(n, b->items[i].key, b->items[i].klen,
                                    NULL, NULL);
    }
    batch_free(b);
    if (n->commit_next)
        batch_start(n);
}

static void batch_start(node *n)
{
    cbatch *b = n->commit_next;

    n->commit_next = NULL;
    n->commit_inflight = b;
    b->work.data = b;
    if (uv_queue_work(n->loop, &b->work, batch_work, batch_done)) {
        /* no thread pool: commit here */
        batch_work(&b->work);
        batch_done(&b->work, 0);
    }
}

bool node_commit_idle(const node *n)
{
    return !n->commit_inflight && !n->commit_next;
}

int node_commit_async(node *n, const uint8_t *key, size_t klen,
                      node_commit_fn fn, void *arg)
{
    cbatch *b = n->commit_next;
    crdt_buf st;
    size_t i;
    int rv;

    crdt_buf_init(&st, NULL);
    if ((rv = crdt_gossip_state(n->g, key, klen, &st))) {
        crdt_buf_clear(&st);
        return rv;
    }
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) {
            crdt_buf_clear(&st);
            return CRDT_ERR_NOMEM;
        }
        b->n = n;
        n->commit_next = b;
    }
    for (i = 0; i < b->len; i++)
        if (b->items[i].klen == klen && !memcmp(b->items[i].key, key, klen))
            break;
    if (fn && b->nwaits == b->wcap) {
        size_t nc = b->wcap ? b->wcap * 2 : 8;
        cwait *nw = realloc(b->waits, nc * sizeof *nw);

        if (!nw)
            goto nomem;
        b->waits = nw;
        b->wcap = nc;
    }
    if (i == b->len) {
        uint8_t *k;

        if (b->len == b->cap) {
            size_t nc = b->cap ? b->cap * 2 : 16;
            nstore_item *ni = realloc(b->items, nc * sizeof *ni);
            crdt_buf *nb;

            if (!ni)
                goto nomem;
            b->items = ni;
            nb = realloc(b->bufs, nc * sizeof *nb);
            if (!nb)
                goto nomem;
            b->bufs = nb;
            b->cap = nc;
        }
        k = malloc(klen ? klen : 1);
        if (!k)
            goto nomem;
        memcpy(k, key, klen);
        b->items[i].key = k;
        b->items[i].klen = klen;
        b->bufs[i] = st;
        b->len++;
    } else {
        crdt_buf_clear(&b->bufs[i]);
        b->bufs[i] = st;
    }
    b->items[i].state = b->bufs[i].data;
    b->items[i].slen = b->bufs[i].len;
    if (fn)
        b->waits[b->nwaits++] = (cwait){fn, arg};
    n->stats.writes_committed += fn != NULL;
    if (!n->commit_inflight)
        batch_start(n);
    return CRDT_OK;
nomem:
    crdt_buf_clear(&st);
    return CRDT_ERR_NOMEM;
}

void node_mark_dirty(node *n, const uint8_t *key, size_t klen)
{
    if (n->loading)
        return;
    if (node_commit_async(n, key, klen, NULL, NULL))
        /* not lost: the state stays in memory, at the peers, and is
         * committed with the key's next change or repaired after a
         * restart */
        nlog(NLOG_WARN, "store_enqueue", "reason=\"out of memory\"");
}

int node_merge_state(node *n, uint64_t from, const uint8_t *key,
                     size_t klen, const uint8_t *state, size_t slen)
{
    crdt_buf snap;
    crdt_decode_info info;
    int rv;

    /* a one-key snapshot: [1, from, [[key, state]]] */
    crdt_buf_init(&snap, NULL);
    rv = mpw_array(&snap, 3);
    if (!rv)
        rv = mpw_uint(&snap, 1);
    if (!rv)
        rv = mpw_uint(&snap, from);
    if (!rv)
        rv = mpw_array(&snap, 1);
    if (!rv)
        rv = mpw_array(&snap, 2);
    if (!rv)
        rv = mpw_bin(&snap, key, klen);
    if (!rv)
        rv = crdt_buf_append(&snap, state, slen);
    if (!rv)
        rv = crdt_gossip_restore(n->g, snap.data, snap.len, &info);
    crdt_buf_clear(&snap);
    return rv;
}

int node_value(node *n, const uint8_t *key, size_t klen, crdt_buf *buf,
               const char **type)
{
    const crdt_type *t;
    const void *v;
    int rv = crdt_gossip_get(n->g, key, klen, &t, &v);

    if (rv)
        return rv;
    if (type)
        *type = t->name;
    return t->encode(v, buf);
}

/* ======================================================================
 * Gossip callbacks and node messages
 * ====================================================================== */

static void on_change(void *user, const uint8_t *key, size_t klen)
{
    node *n = user;

    node_mark_dirty(n, key, klen);
    ops_key_changed(n, key, klen);
}

static void on_peer(void *user, uint64_t peer, bool up)
{
    node *n = user;

    (void)n;
    nlog(up ? NLOG_INFO : NLOG_WARN, up ? "peer_up" : "peer_down",
         "peer=%016" PRIx64, peer);
}

static void on_uv_error(void *user, int err, const char *what)
{
    (void)user;
    nlog(NLOG_DEBUG, "transport_error", "err=%d what=\"%s\"", err, what);
}

/* REPL reassembly: one entry per (sender, req) being received. */
/* REPL reassembly: one entry per (sender, req) being received. */
typedef struct partial {
    struct partial *next;
    uint64_t from, req;
    npart part;
    size_t cost;
    uint64_t last_ms;
} partial;

static void partial_free(node *n, partial *p)
{
    n->partial_bytes -= p->cost;
    npart_clear(&p->part);
    free(p);
}

static void partials_expire(node *n, uint64_t now, bool all)
{
    partial **pp = (partial **)&n->partials;

    while (*pp) {
        partial *p = *pp;

        if (all || now - p->last_ms > 10000) {
            *pp = p->next;
            partial_free(n, p);
        } else
            pp = &p->next;
    }
}

static void send_ack(node *n, const uint8_t *addr, size_t alen, uint64_t req,
                     int status)
{
    nmsg m = node_msg(n, NMSG_ACK, req);

    m.status = status;
    (void)node_send_msg(n, addr, alen, &m);
}

/* An ACK to send once the merged state is on disk. */
typedef struct ackctx {
    uint64_t req;
    size_t alen;
    uint8_t addr[CRDT_GOSSIP_UV_ADDR_MAX];
} ackctx;

static void repl_committed(node *n, void *arg, int rv)
{
    ackctx *a = arg;

    if (n->uv)
        send_ack(n, a->addr, a->alen, a->req, rv);
    free(a);
}

/* A whole replicated state: merge it, commit it, then acknowledge. */
static void repl_merged(node *n, const uint8_t *addr, size_t alen,
                        uint64_t from, uint64_t req, const uint8_t *key,
                        size_t klen, const uint8_t *state, size_t slen)
{
    ackctx *a;
    int rv = node_merge_state(n, from, key, klen, state, slen);

    if (rv || alen > sizeof a->addr || !(a = malloc(sizeof *a))) {
        send_ack(n, addr, alen, req, rv ? rv : CRDT_ERR_NOMEM);
        return;
    }
    a->req = req;
    a->alen = alen;
    memcpy(a->addr, addr, alen);
    if ((rv = node_commit_async(n, key, klen, repl_committed, a))) {
        free(a);
        send_ack(n, addr, alen, req, rv);
    }
}

static void on_repl(node *n, const uint8_t *addr, size_t alen,
                    const nmsg *m)
{
    partial *p;

    if (m->total == 0)
        goto bad;
    if (m->total <= m->chunk) { /* one part, checked by nmsg_decode */
        repl_merged(n, addr, alen, m->from, m->req, m->key, m->klen,
                    m->bytes, m->blen);
        return;
    }
    for (p = n->partials; p; p = p->next)
        if (p->from == m->from && p->req == m->req)
            break;
    if (!p) {
        size_t cost = npart_cost(m);

        if (n->partial_bytes + cost > NODE_PARTIAL_BUDGET) {
            partials_expire(n, node_now_ms(n), false);
            if (n->partial_bytes + cost > NODE_PARTIAL_BUDGET)
                goto bad;
        }
        p = calloc(1, sizeof *p);
        if (!p)
            return;
        if (npart_init(&p->part, m)) {
            free(p);
            return;
        }
        p->from = m->from;
        p->req = m->req;
        p->cost = cost;
        n->partial_bytes += cost;
        p->next = n->partials;
        n->partials = p;
    }
    if (!npart_matches(&p->part, m))
        goto bad;
    p->last_ms = node_now_ms(n);
    if (npart_add(&p->part, m)) {
        partial **pp = (partial **)&n->partials;

        repl_merged(n, addr, alen, m->from, m->req, p->part.key,
                    p->part.klen, p->part.data, p->part.total);
        while (*pp != p)
            pp = &(*pp)->next;
        *pp = p->next;
        partial_free(n, p);
    }
    return;
bad:
    n->stats.msgs_dropped++;
}

static void on_read(node *n, const uint8_t *addr, size_t alen, uint64_t req,
                    const uint8_t *key, size_t klen)
{
    crdt_buf b;

    crdt_buf_init(&b, NULL);
    if (crdt_gossip_state(n->g, key, klen, &b) == CRDT_OK ||
        b.len == 0)
        (void)node_send_state(n, NMSG_STATE, req, key, klen, b.data, b.len,
                              addr, alen);
    crdt_buf_clear(&b);
}

static void add_peer_addr(node *n, uint64_t id, const uint8_t *addr,
                          size_t alen)
{
    crdt_gossip_peer p;

    if (id == n->node_id)
        return;
    if (crdt_gossip_peer_find(n->g, id, &p) == CRDT_OK &&
        p.addrlen == alen && !memcmp(p.addr, addr, alen))
        return;
    if (crdt_gossip_add_peer(n->g, id, addr, alen) == CRDT_OK)
        nlog(NLOG_INFO, "peer_added", "peer=%016" PRIx64 " addr=%.*s", id,
             (int)alen, (const char *)addr);
}

/* Every application datagram (opened); returns 1 if it was ours. */
static int on_datagram(void *user, const uint8_t *addr, size_t alen,
                       const uint8_t *data, size_t len, uint64_t now_ms)
{
    node *n = user;
    nmsg m;
    size_t j;

    (void)now_ms;
    if (!nmsg_is_node(data, len))
        return 0;
    if (nmsg_decode(&m, data, len) || m.cluster != n->cluster_id ||
        m.from == n->node_id || m.from == 0) {
        n->stats.msgs_dropped++;
        return 1;
    }
    n->stats.msgs_in[m.kind]++;
    switch (m.kind) {
    case NMSG_HELLO:
    case NMSG_WELCOME:
        add_peer_addr(n, m.from, addr, alen);
        if (m.kind == NMSG_HELLO) {
            nmsg w = node_msg(n, NMSG_WELCOME, 0);

            (void)node_send_msg(n, addr, alen, &w);
        }
        for (j = 0; j < n->cfg.njoins; j++)
            if (strlen(n->cfg.joins[j]) == alen &&
                !memcmp(n->cfg.joins[j], addr, alen))
                n->join_ok[j] = true;
        break;
    case NMSG_ACK:
        ops_on_ack(n, m.from, m.req, m.status);
        break;
    case NMSG_READ:
        on_read(n, addr, alen, m.req, m.key, m.klen);
        break;
    case NMSG_REPL:
        on_repl(n, addr, alen, &m);
        break;
    case NMSG_STATE:
        ops_on_state(n, &m);
        break;
    }
    return 1;
}

/* ======================================================================
 * Joining
 * ====================================================================== */

static void on_join_timer(uv_timer_t *t)
{
    node *n = t->data;
    nmsg m = node_msg(n, NMSG_HELLO, 0);
    size_t j, left = 0;

    for (j = 0; j < n->cfg.njoins; j++)
        if (!n->join_ok[j]) {
            left++;
            if (node_send_msg(n, (const uint8_t *)n->cfg.joins[j],
                              strlen(n->cfg.joins[j]), &m))
                nlog(NLOG_WARN, "join_send", "to=%s", n->cfg.joins[j]);
        }
    if (!left && !n->draining)
        uv_timer_stop(t);
}

static void on_op_timer(uv_timer_t *t)
{
    node *n = t->data;

    ops_tick(n);
    partials_expire(n, node_now_ms(n), false);
}

/* ======================================================================
 * Keys
 * ====================================================================== */

static int load_keyring(const node_config *cfg, crdt_keyring **out)
{
    crdt_keyring *kr;
    size_t f;
    int rv;

    if ((rv = crdt_keyring_new(&kr, NULL)))
        return rv;
    for (f = 0; f < cfg->nkey_files; f++) {
        FILE *fp = fopen(cfg->key_files[f], "r");
        char line[512];
        unsigned lineno = 0;

        if (!fp) {
            nlog(NLOG_ERROR, "key_file", "path=%s reason=\"%s\"",
                 cfg->key_files[f], strerror(errno));
            crdt_keyring_free(kr);
            return CRDT_ERR_IO;
        }
        while (fgets(line, sizeof line, fp)) {
            size_t l = strlen(line);
            crdt_decode_info info;

            lineno++;
            while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' ||
                         line[l - 1] == ' '))
                line[--l] = '\0';
            if (!l || line[0] == '#')
                continue;
            {
                /* the same key twice (in two files, say) is one key; the
                 * same id with another key is an error */
                uint32_t id;
                uint8_t key[CRDT_SEAL_KEY_BYTES];
                char have[CRDT_SEAL_KEY_TEXT_BYTES + 2];
                bool same = false, dup = false;

                if (crdt_seal_key_parse(line, l, &id, key, &info) ==
                        CRDT_OK &&
                    crdt_keyring_has(kr, id)) {
                    uint32_t id2;
                    uint8_t key2[CRDT_SEAL_KEY_BYTES];

                    dup = true;
                    same = crdt_keyring_key_text(kr, id, have,
                                                 sizeof have) == CRDT_OK &&
                           crdt_seal_key_parse(have, strcspn(have, "\n"),
                                               &id2, key2, NULL) ==
                               CRDT_OK &&
                           sodium_memcmp(key, key2, sizeof key) == 0;
                    sodium_memzero(key2, sizeof key2);
                }
                sodium_memzero(key, sizeof key);
                sodium_memzero(have, sizeof have);
                if (dup && same)
                    continue;
                if (dup) {
                    nlog(NLOG_ERROR, "key_file",
                         "path=%s line=%u reason=\"key id %08" PRIx32
                         " appears with two different keys\"",
                         cfg->key_files[f], lineno, id);
                    sodium_memzero(line, sizeof line);
                    fclose(fp);
                    crdt_keyring_free(kr);
                    return CRDT_ERR_INVALID_ARG;
                }
            }
            rv = crdt_keyring_add_text(kr, line, l,
                                       crdt_keyring_count(kr) == 0, &info);
            sodium_memzero(line, sizeof line);
            if (rv) {
                nlog(NLOG_ERROR, "key_file",
                     "path=%s line=%u reason=\"%s\"", cfg->key_files[f],
                     lineno, crdt_strerror(rv));
                fclose(fp);
                crdt_keyring_free(kr);
                return rv;
            }
        }
        fclose(fp);
    }
    if (crdt_keyring_count(kr) == 0) {
        nlog(NLOG_ERROR, "key_file", "reason=\"no key in the key files\"");
        crdt_keyring_free(kr);
        return CRDT_ERR_INVALID_ARG;
    }
    *out = kr;
    return CRDT_OK;
}

int node_reload_keys(node *n)
{
    crdt_keyring *kr;
    int rv = load_keyring(&n->cfg, &kr);

    if (rv) {
        nlog(NLOG_ERROR, "keys_reload", "err=%d keeping=old", rv);
        return rv;
    }
    if ((rv = crdt_sealer_set_keyring(n->sealer, kr))) {
        crdt_keyring_free(kr);
        return rv;
    }
    crdt_keyring_free(n->kr);
    n->kr = kr;
    nlog(NLOG_INFO, "keys_reload", "keys=%zu primary=%08" PRIx32,
         crdt_keyring_count(kr), crdt_keyring_primary(kr));
    return CRDT_OK;
}

/* ======================================================================
 * Start and stop
 * ====================================================================== */

int node_start(node **out, uv_loop_t *loop, const node_config *cfg)
{
    node *n = calloc(1, sizeof *n);
    crdt_gossip_settings gs;
    crdt_sealer_settings ss;
    crdt_gossip_uv_settings us;
    crdt_buf snap;
    size_t nkeys = 0, j;
    int rv;

    if (!n)
        return CRDT_ERR_NOMEM;
    n->cfg = *cfg;
    n->loop = loop;
    n->node_id = name_id(cfg->name);
    n->cluster_id = name_id(cfg->cluster ? cfg->cluster : "crdt");
    n->next_req = 1;
    uv_update_time(loop);
    n->started_ms = uv_now(loop);
    {
        char err[512] = "";

        if ((rv = nstore_open(&n->st, cfg->data, 0, err, sizeof err))) {
            nlog(NLOG_ERROR, "store_open", "dir=%s err=%d reason=\"%s\"",
                 cfg->data, rv, err[0] ? err : crdt_strerror(rv));
            goto fail;
        }
    }
    if ((rv = nstore_start(n->st, n->node_id, n->cluster_id, cfg->name,
                           &n->incarnation))) {
        nlog(NLOG_ERROR, "store_start", "dir=%s reason=\"%s\"", cfg->data,
             nstore_error(n->st));
        goto fail;
    }
    if ((rv = load_keyring(cfg, &n->kr)))
        goto fail;
    crdt_sealer_settings_default(&ss);
    ss.cluster_id = n->cluster_id;
    if (cfg->max_datagram)
        ss.max_sealed = cfg->max_datagram;
    ss.accept_plaintext = cfg->accept_plaintext;
    if ((rv = crdt_sealer_new(&n->sealer, n->kr, &ss, NULL))) {
        nlog(NLOG_ERROR, "sealer", "err=%d", rv);
        goto fail;
    }
    n->max_plain = (uint32_t)crdt_sealer_max_plaintext(n->sealer);
    crdt_gossip_settings_default(&gs);
    gs.node_id = n->node_id;
    gs.cluster_id = n->cluster_id;
    gs.incarnation = n->incarnation;
    gs.seed = n->incarnation;
    gs.max_datagram = n->max_plain;
    if (cfg->round_ms)
        gs.round_ms = cfg->round_ms;
    if (cfg->repair_ms)
        gs.repair_ms = cfg->repair_ms;
    if (cfg->down_after_ms)
        gs.down_after_ms = cfg->down_after_ms;
    gs.callbacks.on_change = on_change;
    gs.callbacks.on_peer = on_peer;
    gs.callbacks.user_data = n;
    if ((rv = crdt_gossip_new(&n->g, &gs, NULL))) {
        nlog(NLOG_ERROR, "gossip", "err=%d", rv);
        goto fail;
    }
    crdt_buf_init(&snap, NULL);
    rv = nstore_load(n->st, n->node_id, &snap, &nkeys);
    if (!rv && nkeys) {
        crdt_decode_info info;

        n->loading = true;
        rv = crdt_gossip_restore(n->g, snap.data, snap.len, &info);
        n->loading = false;
    }
    crdt_buf_clear(&snap);
    if (rv) {
        nlog(NLOG_ERROR, "store_load", "dir=%s err=%d reason=\"%s\"",
             cfg->data, rv, crdt_strerror(rv));
        goto fail;
    }
    crdt_gossip_uv_settings_default(&us);
    us.listen = cfg->listen;
    us.sealer = n->sealer;
    us.on_error = on_uv_error;
    us.on_datagram = on_datagram;
    us.user = n;
    if ((rv = crdt_gossip_uv_start(&n->uv, loop, n->g, &us))) {
        nlog(NLOG_ERROR, "listen", "addr=%s err=%d reason=\"%s\"",
             cfg->listen, rv, crdt_strerror(rv));
        goto fail;
    }
    (void)crdt_gossip_uv_address(n->uv, n->listen_addr,
                                 sizeof n->listen_addr);
    uv_timer_init(loop, &n->op_timer);
    n->op_timer.data = n;
    uv_timer_init(loop, &n->join_timer);
    n->join_timer.data = n;
    n->handles = 2;
    uv_timer_start(&n->op_timer, on_op_timer, NODE_RESEND_MS / 5,
                   NODE_RESEND_MS / 5);
    if (cfg->njoins)
        uv_timer_start(&n->join_timer, on_join_timer, 0, 1000);
    for (j = 0; j < cfg->njoins; j++) {
        struct sockaddr_storage sa;

        if (crdt_gossip_uv_parse_addr((const uint8_t *)cfg->joins[j],
                                      strlen(cfg->joins[j]), &sa))
            nlog(NLOG_WARN, "join_addr", "addr=%s reason=unparseable",
                 cfg->joins[j]);
    }
    if ((rv = server_start(n)))
        goto fail_started;
    if (cfg->metrics) {
        nhttp *h;

        if ((rv = nhttp_start(&h, loop, cfg->metrics, node_metrics_text,
                              n))) {
            nlog(NLOG_ERROR, "metrics_listen", "addr=%s err=%d",
                 cfg->metrics, rv);
            goto fail_started;
        }
        n->http = h;
    }
    nlog(NLOG_INFO, "start",
         "name=%s node=%016" PRIx64 " incarnation=%016" PRIx64
         " listen=%s data=%s client=%s keys=%zu key_ids=%zu metrics=%s",
         cfg->name, n->node_id, n->incarnation, n->listen_addr, cfg->data,
         n->client_path, nkeys, crdt_keyring_count(n->kr),
         cfg->metrics ? cfg->metrics : "-");
    *out = n;
    return CRDT_OK;
fail_started:
    /* handles are on the loop: close them through drain */
    *out = n;
    node_drain(n);
    return rv ? rv : CRDT_ERR_IO;
fail:
    node_free(n);
    return rv;
}

static void on_handle_closed(uv_handle_t *h)
{
    node *n = h->data;

    n->handles--;
}

static void on_uv_closed(void *user)
{
    (void)user;
}

static void on_http_closed(void *user)
{
    (void)user;
}

/* Drain: once no op is in flight (or at their deadlines), close. */
static void finish_drain(node *n)
{
    (void)crdt_gossip_uv_flush(n->uv);
    uv_timer_stop(&n->op_timer);
    uv_timer_stop(&n->join_timer);
    uv_close((uv_handle_t *)&n->op_timer, on_handle_closed);
    uv_close((uv_handle_t *)&n->join_timer, on_handle_closed);
    server_close_all(n);
    if (n->http)
        nhttp_stop(n->http, on_http_closed, n);
    n->http = NULL;
    crdt_gossip_uv_stop(n->uv, on_uv_closed, n);
    n->uv = NULL;
    nlog(NLOG_INFO, "stopped", "name=%s", n->cfg.name);
}

static void on_drain_timer(uv_timer_t *t)
{
    node *n = t->data;

    ops_tick(n);
    if (n->nops == 0 && node_commit_idle(n)) {
        uv_timer_stop(t);
        finish_drain(n);
    }
}

void node_drain(node *n)
{
    if (!n || n->draining)
        return;
    n->draining = true;
    nlog(NLOG_INFO, "draining", "in_flight=%zu", n->nops);
    ops_cap_deadlines(n, node_now_ms(n) + NODE_DRAIN_MS);
    server_stop(n);
    if (!n->uv) {
        finish_drain(n);
        return;
    }
    uv_timer_stop(&n->op_timer);
    uv_timer_start(&n->op_timer, on_drain_timer, 0, NODE_RESEND_MS / 5);
}

void node_free(node *n)
{
    if (!n)
        return;
    ops_free_all(n);
    partials_expire(n, 0, true);
    batch_free(n->commit_next);
    batch_free(n->commit_inflight);
    crdt_gossip_free(n->g);
    crdt_sealer_free(n->sealer);
    crdt_keyring_free(n->kr);
    nstore_close(n->st);
    free(n);
}

/* ======================================================================
 * Status and metrics
 * ====================================================================== */

static int appendf(crdt_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int appendf(crdt_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0)
        return CRDT_ERR_INVALID_ARG;
    return crdt_buf_append(b, tmp, (size_t)k < sizeof tmp ? (size_t)k
                                                           : sizeof tmp - 1);
}

int node_status_json(node *n, crdt_buf *out)
{
    crdt_gossip_metrics m;
    crdt_gossip_uv_stats us;
    crdt_sealer_stats ss;
    crdt_gossip_peer p;
    size_t i;
    uint64_t rejected = 0;
    int rv;

    crdt_gossip_metrics_get(n->g, &m);
    crdt_gossip_uv_stats_get(n->uv, &us);
    crdt_sealer_stats_get(n->sealer, &ss);
    for (i = 0; i < CRDT_SEAL_REJECT_REASONS; i++)
        rejected += ss.rejected[i];
    rv = appendf(out,
                 "{\"name\":\"%s\",\"node\":\"%016" PRIx64
                 "\",\"incarnation\":\"%016" PRIx64
                 "\",\"listen\":\"%s\",\"uptime_ms\":%" PRIu64
                 ",\"keys\":%zu,\"replicas\":%zu,\"peers_up\":%" PRIu64
                 ",\"peers_down\":%" PRIu64 ",\"peers\":[",
                 n->cfg.name, n->node_id, n->incarnation, n->listen_addr,
                 node_now_ms(n) - n->started_ms,
                 crdt_gossip_key_count(n->g), node_replicas(n), m.peers_up,
                 m.peers_down);
    for (i = 0; !rv && crdt_gossip_peer_at(n->g, i, &p) == CRDT_OK; i++)
        rv = appendf(out,
                     "%s{\"node\":\"%016" PRIx64
                     "\",\"addr\":\"%.*s\",\"up\":%s}",
                     i ? "," : "", p.id, (int)p.addrlen,
                     (const char *)p.addr, p.up ? "true" : "false");
    if (!rv)
        rv = appendf(
            out,
            "],\"requests\":%" PRIu64 ",\"replies_ok\":%" PRIu64
            ",\"replies_err\":%" PRIu64 ",\"timeouts\":%" PRIu64
            ",\"in_flight\":%zu,\"writes_committed\":%" PRIu64
            ",\"store_commits\":%" PRIu64
            ",\"rounds\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
            ",\"bytes_received\":%" PRIu64 ",\"datagrams_sent\":%" PRIu64
            ",\"datagrams_received\":%" PRIu64
            ",\"rejected_unauthenticated\":%" PRIu64
            ",\"deltas_logged\":%" PRIu64 ",\"keys_repaired\":%" PRIu64
            "}",
            n->stats.requests[CRDT_OP_INC] + n->stats.requests[CRDT_OP_DEC] +
                n->stats.requests[CRDT_OP_SET] +
                n->stats.requests[CRDT_OP_ADD] +
                n->stats.requests[CRDT_OP_REMOVE] +
                n->stats.requests[CRDT_OP_ENABLE] +
                n->stats.requests[CRDT_OP_DISABLE] +
                n->stats.requests[CRDT_OP_GET] +
                n->stats.requests[CRDT_OP_WATCH] +
                n->stats.requests[CRDT_OP_STATUS],
            n->stats.replies_ok, n->stats.replies_err, n->stats.timeouts,
            n->nops, n->stats.writes_committed, n->stats.flushes, m.rounds, us.sent_bytes,
            us.received_bytes, us.sent, us.received, rejected,
            m.deltas_logged, m.keys_repaired);
    return rv;
}

static int metric(crdt_buf *b, const char *name, const char *type,
                  const char *help)
{
    return appendf(b, "# HELP crdt_node_%s %s\n# TYPE crdt_node_%s %s\n",
                   name, help, name, type);
}

int node_metrics_text(void *user, crdt_buf *b)
{
    node *n = user;
    crdt_gossip_metrics m;
    crdt_gossip_uv_stats us;
    crdt_sealer_stats ss;
    int rv = 0, k, l;

    crdt_gossip_metrics_get(n->g, &m);
    crdt_gossip_uv_stats_get(n->uv, &us);
    crdt_sealer_stats_get(n->sealer, &ss);
#define M1(name, type, help, fmt, v)                                        \
    do {                                                                    \
        if (!rv)                                                            \
            rv = metric(b, name, type, help);                               \
        if (!rv)                                                            \
            rv = appendf(b, "crdt_node_" name " " fmt "\n", v);            \
    } while (0)
    M1("keys", "gauge", "Keys in the store, deleted keys included.", "%zu",
       crdt_gossip_key_count(n->g));
    M1("peers_up", "gauge", "Peers that answer.", "%" PRIu64, m.peers_up);
    M1("peers_down", "gauge", "Peers marked down.", "%" PRIu64,
       m.peers_down);
    M1("in_flight", "gauge", "Client requests waiting.", "%zu", n->nops);
    M1("rounds_total", "counter", "Gossip rounds run.", "%" PRIu64,
       m.rounds);
    M1("datagrams_sent_total", "counter", "Datagrams sent.", "%" PRIu64,
       us.sent);
    M1("datagrams_received_total", "counter", "Datagrams received.",
       "%" PRIu64, us.received);
    M1("bytes_sent_total", "counter", "Bytes sent, sealed.", "%" PRIu64,
       us.sent_bytes);
    M1("bytes_received_total", "counter", "Bytes received.", "%" PRIu64,
       us.received_bytes);
    M1("send_failures_total", "counter", "Datagrams the socket refused.",
       "%" PRIu64, us.send_failed);
    if (!rv)
        rv = metric(b, "rejected_total", "counter",
                    "Datagrams the sealer rejected, by reason (a peer "
                    "without the key).");
    for (k = 0; !rv && k < CRDT_SEAL_REJECT_REASONS; k++)
        rv = appendf(b, "crdt_node_rejected_total{reason=\"%s\"} %" PRIu64
                        "\n",
                     crdt_seal_reject_name(k), ss.rejected[k]);
    M1("deltas_logged_total", "counter", "Deltas logged for the fast path.",
       "%" PRIu64, m.deltas_logged);
    M1("keys_repaired_total", "counter", "Keys changed by repair.",
       "%" PRIu64, m.keys_repaired);
    M1("writes_committed_total", "counter",
       "Writes and replicated states that waited for their commit.",
       "%" PRIu64, n->stats.writes_committed);
    M1("keys_flushed_total", "counter",
       "Key states written by the group commit.", "%" PRIu64,
       n->stats.keys_flushed);
    M1("store_commits_total", "counter",
       "LMDB transactions (one fsync each) of the group commit.",
       "%" PRIu64, n->stats.flushes);
    M1("timeouts_total", "counter",
       "Requests whose level or session was not met in time.", "%" PRIu64,
       n->stats.timeouts);
    M1("session_waits_total", "counter",
       "Requests that waited for their session's state.", "%" PRIu64,
       n->stats.session_waits);
    M1("node_messages_dropped_total", "counter",
       "Malformed or unexpected node-to-node messages.", "%" PRIu64,
       n->stats.msgs_dropped);
    M1("watch_events_total", "counter", "Changes sent to watchers.",
       "%" PRIu64, n->stats.watch_events);
    if (!rv)
        rv = metric(b, "requests_total", "counter",
                    "Client requests by operation.");
    for (k = CRDT_OP_INC; !rv && k <= CRDT_OP_STATUS; k++)
        rv = appendf(b, "crdt_node_requests_total{op=\"%s\"} %" PRIu64 "\n",
                     crdt_client_op_name(k), n->stats.requests[k]);
    if (!rv)
        rv = metric(b, "replies_total", "counter",
                    "Client replies by result.");
    if (!rv)
        rv = appendf(b,
                     "crdt_node_replies_total{result=\"ok\"} %" PRIu64 "\n"
                     "crdt_node_replies_total{result=\"error\"} %" PRIu64
                     "\n",
                     n->stats.replies_ok, n->stats.replies_err);
    if (!rv)
        rv = metric(b, "request_seconds", "summary",
                    "Client request latency by consistency level.");
    for (l = CRDT_LEVEL_LOCAL; !rv && l <= CRDT_LEVEL_ALL; l++)
        rv = appendf(b,
                     "crdt_node_request_seconds_sum{level=\"%s\"} %.6f\n"
                     "crdt_node_request_seconds_count{level=\"%s\"} %" PRIu64
                     "\n",
                     crdt_level_name(l),
                     (double)n->stats.latency_us_sum[l] / 1e6,
                     crdt_level_name(l), n->stats.latency_n[l]);
    if (!rv)
        rv = metric(b, "node_messages_total", "counter",
                    "Node-to-node messages by kind and direction.");
    for (k = NMSG_HELLO; !rv && k <= NMSG_STATE; k++) {
        static const char *const kn[] = {"", "hello", "welcome", "repl",
                                         "ack", "read", "state"};

        rv = appendf(b,
                     "crdt_node_node_messages_total{kind=\"%s\",dir=\"in\"} "
                     "%" PRIu64 "\n"
                     "crdt_node_node_messages_total{kind=\"%s\",dir=\"out\"} "
                     "%" PRIu64 "\n",
                     kn[k], n->stats.msgs_in[k], kn[k], n->stats.msgs_out[k]);
    }
    if (!rv)
        rv = metric(b, "gossip_dropped_total", "counter",
                    "Gossip datagrams dropped, by reason.");
    for (k = 0; !rv && k < CRDT_GOSSIP_DROP_REASONS; k++)
        rv = appendf(b, "crdt_node_gossip_dropped_total{reason=\"%s\"} "
                        "%" PRIu64 "\n",
                     crdt_gossip_drop_name(k), m.dropped[k]);
#undef M1
    return rv;
}
