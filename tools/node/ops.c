/* SPDX-License-Identifier: MIT */
/*
 * A client request from decode to reply (node.h): wait until the node's
 * state covers the session token (pulling the token's keys from peers),
 * run the write or read, meet its level (REPL/ACK, READ/STATE), then
 * answer with the value and the new token.
 */
#include "config.h"

#include "node.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>

#include "log.h"

/* What a request waits for: its session's state, its own commit, its
 * replicas' acknowledgements, their states. */
enum { PH_SESSION = 1, PH_COMMIT, PH_ACKS, PH_READS };

/* A state being received in parts from one peer. */
typedef struct rpart {
    struct rpart *next;
    uint64_t from;
    npart part;
    size_t cost;               /* counted in the node's partial_bytes */
} rpart;

struct op {
    op *next;
    conn *c;
    uint64_t id;
    int opcode, level;
    uint8_t *key;
    size_t klen;
    const crdt_type *type;     /* writes: the type asked for (or NULL) */
    uint64_t by;
    uint8_t *value;
    size_t vlen;
    ntoken *tok;
    uint64_t req;
    uint64_t start_ns, deadline_ms, next_send_ms;
    int phase;
    uint64_t *peers;           /* distinct peers that answered */
    size_t npeers, peers_cap, need;
    crdt_buf state;            /* REPL: the state sent */
    rpart *parts;
};

/* ======================================================================
 * Types and writes
 * ====================================================================== */

static const crdt_type *type_named(const char *s, size_t n)
{
    static const crdt_type *(*const all[])(void) = {
        crdt_gcounter_type, crdt_pncounter_type, crdt_lww_type,
        crdt_mvreg_type,    crdt_orset_type,     crdt_gset_type,
        crdt_ewflag_type,   crdt_dwflag_type};
    size_t i;

    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        const crdt_type *t = all[i]();

        if (strlen(t->name) == n && !memcmp(t->name, s, n))
            return t;
    }
    return NULL;
}

/* The type a write of @p o uses for a key that has none yet. */
static const crdt_type *default_type(int opcode)
{
    switch (opcode) {
    case CRDT_OP_INC: return crdt_gcounter_type();
    case CRDT_OP_DEC: return crdt_pncounter_type();
    case CRDT_OP_SET: return crdt_lww_type();
    case CRDT_OP_ADD:
    case CRDT_OP_REMOVE: return crdt_orset_type();
    case CRDT_OP_ENABLE:
    case CRDT_OP_DISABLE: return crdt_ewflag_type();
    default: return NULL;
    }
}

static bool is_write(int opcode)
{
    return opcode >= CRDT_OP_INC && opcode <= CRDT_OP_DISABLE;
}

static int write_fn(void *value, void *delta, const crdt_gossip_write *w,
                    void *user)
{
    op *o = user;
    uint32_t tag = o->type->tag;

    switch (o->opcode) {
    case CRDT_OP_INC:
        if (tag == CRDT_TAG_GCOUNTER)
            return crdt_gcounter_increment(value, w->actor, o->by, delta);
        if (tag == CRDT_TAG_PNCOUNTER)
            return crdt_pncounter_increment(value, w->actor, o->by, delta);
        break;
    case CRDT_OP_DEC:
        if (tag == CRDT_TAG_PNCOUNTER)
            return crdt_pncounter_decrement(value, w->actor, o->by, delta);
        break;
    case CRDT_OP_SET:
        if (tag == CRDT_TAG_LWW)
            return crdt_lww_set_now(value, w->hlc, w->actor, o->value,
                                    o->vlen, delta);
        if (tag == CRDT_TAG_MVREG)
            return crdt_mvreg_write(value, w->actor, o->value, o->vlen,
                                    delta);
        break;
    case CRDT_OP_ADD:
        if (tag == CRDT_TAG_ORSET)
            return crdt_orset_add(value, w->actor, o->value, o->vlen, delta);
        if (tag == CRDT_TAG_GSET)
            return crdt_gset_add(value, o->value, o->vlen, delta);
        break;
    case CRDT_OP_REMOVE:
        if (tag == CRDT_TAG_ORSET)
            return crdt_orset_remove(value, o->value, o->vlen, delta);
        break;
    case CRDT_OP_ENABLE:
        if (tag == CRDT_TAG_EWFLAG)
            return crdt_ewflag_enable(value, w->actor, delta);
        if (tag == CRDT_TAG_DWFLAG)
            return crdt_dwflag_enable(value, delta);
        break;
    case CRDT_OP_DISABLE:
        if (tag == CRDT_TAG_EWFLAG)
            return crdt_ewflag_disable(value, delta);
        if (tag == CRDT_TAG_DWFLAG)
            return crdt_dwflag_disable(value, w->actor, delta);
        break;
    }
    return CRDT_ERR_INVALID_ARG;
}

/* ======================================================================
 * Contexts and tokens
 * ====================================================================== */

/* The causal context of the node's state of a key into @p ctx (emptied
 * first); an absent key has the empty context. */
static int key_ctx(node *n, const uint8_t *key, size_t klen,
                   crdt_dotctx **ctx)
{
    crdt_buf b;
    crdt_ormap *m;
    int rv;

    *ctx = crdt_dotctx_new(NULL);
    if (!*ctx)
        return CRDT_ERR_NOMEM;
    crdt_buf_init(&b, NULL);
    rv = crdt_gossip_state(n->g, key, klen, &b);
    if (rv == CRDT_ERR_NOT_FOUND) {
        crdt_buf_clear(&b);
        return CRDT_OK;
    }
    m = rv ? NULL : crdt_ormap_new(NULL, NULL);
    if (!rv && !m)
        rv = CRDT_ERR_NOMEM;
    if (!rv)
        rv = crdt_ormap_decode(m, b.data, b.len, NULL, NULL);
    if (!rv)
        rv = crdt_ormap_context_copy(m, *ctx);
    crdt_ormap_free(m);
    crdt_buf_clear(&b);
    if (rv) {
        crdt_dotctx_free(*ctx);
        *ctx = NULL;
    }
    return rv;
}

/* Whether the node's state covers every key of the token; the first key
 * it does not cover (index) in *missing. */
static bool covers(node *n, const ntoken *t, size_t from, size_t *missing)
{
    size_t i;

    for (i = from; i < ntoken_count(t); i++) {
        const uint8_t *k;
        size_t kl;
        const crdt_dotctx *want;
        crdt_dotctx *have;
        bool ok;

        (void)ntoken_at(t, i, &k, &kl, &want);
        if (key_ctx(n, k, kl, &have))
            return *missing = i, false;
        ok = ntoken_ctx_covers(have, want);
        crdt_dotctx_free(have);
        if (!ok)
            return *missing = i, false;
    }
    return true;
}

/* ======================================================================
 * Replies
 * ====================================================================== */

static void op_unlink(node *n, op *o)
{
    op **pp = &n->ops;

    while (*pp && *pp != o)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = o->next;
        n->nops--;
    }
}

static void rpart_free(node *n, rpart *p)
{
    n->partial_bytes -= p->cost;
    npart_clear(&p->part);
    free(p);
}

static void op_free(node *n, op *o)
{
    rpart *p, *q;

    for (p = o->parts; p; p = q) {
        q = p->next;
        rpart_free(n, p);
    }
    free(o->key);
    free(o->value);
    free(o->peers);
    ntoken_free(o->tok);
    crdt_buf_clear(&o->state);
    free(o);
}

static void latency(node *n, op *o)
{
    int l = o->level >= CRDT_LEVEL_LOCAL && o->level <= CRDT_LEVEL_ALL
                ? o->level
                : 0;

    n->stats.latency_us_sum[l] += (uv_hrtime() - o->start_ns) / 1000;
    n->stats.latency_n[l]++;
}

/* Adds the key's context to the token and encodes it into @p tb. */
static int token_out(node *n, op *o, crdt_buf *tb)
{
    crdt_dotctx *ctx;
    int rv;

    if (!o->tok || !o->key)
        return CRDT_OK;
    if ((rv = key_ctx(n, o->key, o->klen, &ctx)))
        return rv;
    if (crdt_dotctx_vv_size(ctx) || crdt_dotctx_cloud_size(ctx))
        rv = ntoken_observe(o->tok, o->key, o->klen, ctx);
    crdt_dotctx_free(ctx);
    return rv ? rv : ntoken_encode(o->tok, tb);
}

static void fail(node *n, op *o, int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void fail(node *n, op *o, int err, const char *fmt, ...)
{
    crdt_client_reply rp;
    char msg[512];
    crdt_buf tb;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    crdt_buf_init(&tb, NULL);
    crdt_client_reply_init(&rp);
    rp.id = o->id;
    rp.ok = false;
    rp.err = err;
    rp.msg = msg;
    rp.msglen = strlen(msg);
    rp.acks = (uint32_t)(o->npeers + (is_write(o->opcode) &&
                                      o->phase == PH_ACKS));
    if (err == CRDT_ERR_NOT_FOUND || err == CRDT_ERR_TIMEOUT) {
        if (o->tok && ntoken_count(o->tok))
            (void)ntoken_encode(o->tok, &tb);
        if (tb.len) {
            rp.token = tb.data;
            rp.tlen = tb.len;
        }
    }
    if (err == CRDT_ERR_TIMEOUT)
        n->stats.timeouts++;
    n->stats.replies_err++;
    latency(n, o);
    server_reply(n, o->c, &rp);
    crdt_buf_clear(&tb);
    op_unlink(n, o);
    op_free(n, o);
}

static void succeed(node *n, op *o, uint32_t acks)
{
    crdt_client_reply rp;
    crdt_buf tb, vb;
    const char *tname = NULL;
    int rv;

    crdt_buf_init(&tb, NULL);
    crdt_buf_init(&vb, NULL);
    crdt_client_reply_init(&rp);
    rp.id = o->id;
    rp.ok = true;
    rp.acks = acks;
    if (node_value(n, o->key, o->klen, &vb, &tname) == CRDT_OK) {
        rp.type = tname;
        rp.typelen = strlen(tname);
        if (!is_write(o->opcode)) {
            rp.state = vb.data;
            rp.slen = vb.len;
        }
    } else if (!is_write(o->opcode) && o->opcode != CRDT_OP_WATCH) {
        crdt_buf_clear(&vb);
        fail(n, o, CRDT_ERR_NOT_FOUND, "no such key");
        return;
    }
    if ((rv = token_out(n, o, &tb))) {
        crdt_buf_clear(&tb);
        crdt_buf_clear(&vb);
        if (is_write(o->opcode))
            fail(n, o, rv,
                 "the write is applied, but the session token cannot take "
                 "it (%s): start a new session",
                 crdt_strerror(rv));
        else
            fail(n, o, rv,
                 "the session token cannot take this key (%s): start a "
                 "new session",
                 crdt_strerror(rv));
        return;
    }
    if (tb.len) {
        rp.token = tb.data;
        rp.tlen = tb.len;
    }
    n->stats.replies_ok++;
    latency(n, o);
    server_reply(n, o->c, &rp);
    crdt_buf_clear(&tb);
    crdt_buf_clear(&vb);
    op_unlink(n, o);
    op_free(n, o);
}

/* ======================================================================
 * Running a request
 * ====================================================================== */

static size_t remote_needed(node *n, int level)
{
    size_t r = node_replicas(n);

    switch (level) {
    case CRDT_LEVEL_QUORUM: return r / 2;  /* r/2 + 1 with this node */
    case CRDT_LEVEL_ALL: return r - 1;
    default: return 0;
    }
}

static void send_reads(node *n, op *o, const uint8_t *key, size_t klen)
{
    nmsg m = node_msg(n, NMSG_READ, o->req);

    m.key = key;
    m.klen = klen;
    (void)node_send_msg(n, NULL, 0, &m);
}

/* Asks peers for the keys of the token the node does not cover. */
static void send_session_reads(node *n, op *o)
{
    size_t i = 0, miss;

    while (!covers(n, o->tok, i, &miss)) {
        const uint8_t *k;
        size_t kl;

        (void)ntoken_at(o->tok, miss, &k, &kl, NULL);
        send_reads(n, o, k, kl);
        i = miss + 1;
    }
}

static void write_committed(node *n, void *arg, int rv);

static void execute(node *n, op *o)
{
    int rv;

    if (o->opcode == CRDT_OP_WATCH) {
        if ((rv = server_watch(n, o->c, o->id, o->key, o->klen)))
            fail(n, o, rv, "cannot watch: %s", crdt_strerror(rv));
        else
            succeed(n, o, 1);
        return;
    }
    if (is_write(o->opcode)) {
        const crdt_type *have = NULL;

        if (crdt_gossip_get(n->g, o->key, o->klen, &have, NULL) ==
            CRDT_OK) {
            if (o->type && o->type != have) {
                fail(n, o, CRDT_ERR_TYPE, "the key holds a %s, not a %s",
                     have->name, o->type->name);
                return;
            }
            o->type = have;
        } else if (!o->type)
            o->type = default_type(o->opcode);
        rv = crdt_gossip_update(n->g, o->key, o->klen, o->type, write_fn, o);
        if (rv == CRDT_ERR_INVALID_ARG) {
            fail(n, o, rv, "%s does not apply to a %s",
                 crdt_client_op_name(o->opcode), o->type->name);
            return;
        }
        if (rv) {
            fail(n, o, rv, "write failed: %s", crdt_strerror(rv));
            return;
        }
        ops_key_changed(n, o->key, o->klen);
        (void)crdt_gossip_uv_flush(n->uv);
        if (o->level == CRDT_LEVEL_LOCAL) {
            node_mark_dirty(n, o->key, o->klen);
            succeed(n, o, 1);
            return;
        }
        o->phase = PH_COMMIT;
        if ((rv = node_commit_async(n, o->key, o->klen, write_committed,
                                    o))) {
            fail(n, o, rv,
                 "the write is applied in memory but could not be "
                 "queued for commit: %s",
                 crdt_strerror(rv));
            return;
        }
        return;
    }
    /* get */
    o->need = remote_needed(n, o->level);
    if (o->need == 0) {
        succeed(n, o, 1);
        return;
    }
    o->phase = PH_READS;
    o->next_send_ms = 0;
    ops_tick(n);
}

/* The write of @p arg is on disk (rv 0): meet its level. */
static void write_committed(node *n, void *arg, int rv)
{
    op *o = arg;

    if (rv) {
        fail(n, o, rv,
             "the write is applied in memory but could not be committed: "
             "%s",
             crdt_strerror(rv));
        return;
    }
    {
        o->need = remote_needed(n, o->level);
        if (o->need == 0) {
            succeed(n, o, 1);
            return;
        }
        if ((rv = crdt_gossip_state(n->g, o->key, o->klen, &o->state))) {
            fail(n, o, rv, "cannot read the state back: %s",
                 crdt_strerror(rv));
            return;
        }
        o->phase = PH_ACKS;
        o->next_send_ms = 0;
        ops_tick(n);
    }
}

void ops_submit(node *n, conn *c, const crdt_client_request *rq)
{
    op *o;
    int rv;

    if (rq->op >= CRDT_OP_INC && rq->op <= CRDT_OP_STATUS)
        n->stats.requests[rq->op]++;
    o = calloc(1, sizeof *o);
    if (!o) {
        crdt_client_reply rp;

        crdt_client_reply_init(&rp);
        rp.id = rq->id;
        rp.err = CRDT_ERR_NOMEM;
        server_reply(n, c, &rp);
        return;
    }
    o->c = c;
    o->id = rq->id;
    o->opcode = rq->op;
    o->level = rq->level ? rq->level : CRDT_LEVEL_ONE;
    o->by = rq->by;
    o->start_ns = uv_hrtime();
    o->deadline_ms = node_now_ms(n) + rq->timeout_ms;
    o->req = n->next_req++;
    crdt_buf_init(&o->state, NULL);
    o->next = n->ops;
    n->ops = o;
    n->nops++;
    if (rq->op == CRDT_OP_STATUS) {
        crdt_client_reply rp;
        crdt_buf b;

        crdt_buf_init(&b, NULL);
        crdt_client_reply_init(&rp);
        rp.id = rq->id;
        rp.ok = node_status_json(n, &b) == CRDT_OK;
        if (rp.ok) {
            rp.status = (const char *)b.data;
            rp.statuslen = b.len;
            n->stats.replies_ok++;
        } else {
            rp.err = CRDT_ERR_NOMEM;
            n->stats.replies_err++;
        }
        server_reply(n, c, &rp);
        crdt_buf_clear(&b);
        op_unlink(n, o);
        op_free(n, o);
        return;
    }
    if (n->draining) {
        fail(n, o, CRDT_ERR_BUSY, "the node is shutting down");
        return;
    }
    if (n->nops > NODE_MAX_PENDING) {
        fail(n, o, CRDT_ERR_LIMIT, "too many requests in flight (%d)",
             NODE_MAX_PENDING);
        return;
    }
    if (!rq->key || !rq->klen) {
        fail(n, o, CRDT_ERR_INVALID_ARG, "%s needs a key",
             crdt_client_op_name(rq->op));
        return;
    }
    o->key = malloc(rq->klen);
    if (rq->vlen || rq->value)
        o->value = malloc(rq->vlen ? rq->vlen : 1);
    if (!o->key || ((rq->vlen || rq->value) && !o->value) ||
        ntoken_new(&o->tok, NULL)) {
        fail(n, o, CRDT_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(o->key, rq->key, rq->klen);
    o->klen = rq->klen;
    if (rq->vlen)
        memcpy(o->value, rq->value, rq->vlen);
    o->vlen = rq->vlen;
    if (rq->type) {
        o->type = type_named(rq->type, rq->typelen);
        if (!o->type) {
            fail(n, o, CRDT_ERR_TYPE, "unknown type \"%.*s\"",
                 (int)(rq->typelen > 32 ? 32 : rq->typelen), rq->type);
            return;
        }
    }
    if ((rq->op == CRDT_OP_SET || rq->op == CRDT_OP_ADD ||
         rq->op == CRDT_OP_REMOVE) &&
        !rq->value) {
        fail(n, o, CRDT_ERR_INVALID_ARG, "%s needs a %s",
             crdt_client_op_name(rq->op),
             rq->op == CRDT_OP_SET ? "value" : "element");
        return;
    }
    if (rq->token && (rv = ntoken_decode(o->tok, rq->token, rq->tlen))) {
        fail(n, o, rv, "bad session token: %s", crdt_strerror(rv));
        return;
    }
    if (ntoken_count(o->tok)) {
        size_t miss;

        if (!covers(n, o->tok, 0, &miss)) {
            n->stats.session_waits++;
            o->phase = PH_SESSION;
            o->next_send_ms = 0;
            ops_tick(n);
            return;
        }
    }
    execute(n, o);
}

/* ======================================================================
 * Peers' answers
 * ====================================================================== */

static op *find_req(node *n, uint64_t req)
{
    op *o;

    for (o = n->ops; o; o = o->next)
        if (o->req == req)
            return o;
    return NULL;
}

/* Records that @p from answered; returns true if it is new. */
static bool answered(op *o, uint64_t from)
{
    size_t i;

    for (i = 0; i < o->npeers; i++)
        if (o->peers[i] == from)
            return false;
    if (o->npeers == o->peers_cap) {
        size_t nc = o->peers_cap ? o->peers_cap * 2 : 8;
        uint64_t *np = realloc(o->peers, nc * sizeof *np);

        if (!np)
            return false;
        o->peers = np;
        o->peers_cap = nc;
    }
    o->peers[o->npeers++] = from;
    return true;
}

void ops_on_ack(node *n, uint64_t from, uint64_t req, int64_t status)
{
    op *o = find_req(n, req);

    if (!o || o->phase != PH_ACKS || status != 0)
        return;
    if (answered(o, from) && o->npeers >= o->need)
        succeed(n, o, (uint32_t)o->npeers + 1);
}

/* A whole state of a key from a peer, for op @p o. */
static void got_state(node *n, op *o, uint64_t from, const uint8_t *key,
                      size_t klen, const uint8_t *state, size_t slen)
{
    if (slen && node_merge_state(n, from, key, klen, state, slen))
        n->stats.msgs_dropped++;
    if (o->phase == PH_READS) {
        if (answered(o, from) && o->npeers >= o->need)
            succeed(n, o, (uint32_t)o->npeers + 1);
    } else if (o->phase == PH_SESSION) {
        size_t miss;

        if (covers(n, o->tok, 0, &miss)) {
            o->phase = 0;
            execute(n, o);
        }
    }
}

void ops_on_state(node *n, const nmsg *m)
{
    op *o = find_req(n, m->req);
    rpart *p, **pp;

    if (!o || (o->phase != PH_READS && o->phase != PH_SESSION))
        return;
    /* only the keys asked for: the request's, or its session's */
    if (o->phase == PH_READS
            ? m->klen != o->klen || memcmp(m->key, o->key, m->klen)
            : !ntoken_find(o->tok, m->key, m->klen)) {
        n->stats.msgs_dropped++;
        return;
    }
    if (m->total <= m->chunk) { /* one part, checked by nmsg_decode */
        got_state(n, o, m->from, m->key, m->klen, m->bytes, m->blen);
        return;
    }
    for (pp = &o->parts; *pp; pp = &(*pp)->next)
        if ((*pp)->from == m->from && (*pp)->part.klen == m->klen &&
            !memcmp((*pp)->part.key, m->key, m->klen))
            break;
    p = *pp;
    if (!p) {
        size_t cost = npart_cost(m);

        /* reassembly memory is bounded for the whole node, with REPL's */
        if (n->partial_bytes + cost > NODE_PARTIAL_BUDGET) {
            n->stats.msgs_dropped++;
            return;
        }
        p = calloc(1, sizeof *p);
        if (!p)
            return;
        if (npart_init(&p->part, m)) {
            free(p);
            return;
        }
        p->from = m->from;
        p->cost = cost;
        n->partial_bytes += cost;
        p->next = o->parts;
        o->parts = p;
    }
    if (!npart_matches(&p->part, m))
        return;
    if (npart_add(&p->part, m)) {
        rpart **q = &o->parts;

        while (*q != p)
            q = &(*q)->next;
        *q = p->next;
        got_state(n, o, m->from, p->part.key, p->part.klen, p->part.data,
                  p->part.total);
        /* o may be gone now */
        rpart_free(n, p);
    }
}

/* ======================================================================
 * Timers
 * ====================================================================== */

void ops_tick(node *n)
{
    uint64_t now = node_now_ms(n);
    op *o, *next;

    for (o = n->ops; o; o = next) {
        next = o->next;
        if (!o->phase || o->phase == PH_COMMIT) /* commits always end */
            continue;
        if (now >= o->deadline_ms) {
            if (o->phase == PH_SESSION)
                fail(n, o, CRDT_ERR_TIMEOUT,
                     "session not met: this node has not seen everything "
                     "the session has, and no peer sent it in time");
            else if (o->phase == PH_ACKS)
                fail(n, o, CRDT_ERR_TIMEOUT,
                     "level %s not met: %zu of %zu replicas committed the "
                     "write in time (it is applied here and still spreads)",
                     crdt_level_name(o->level), o->npeers + 1, o->need + 1);
            else
                fail(n, o, CRDT_ERR_TIMEOUT,
                     "level %s not met: %zu of %zu replicas answered in "
                     "time",
                     crdt_level_name(o->level), o->npeers + 1, o->need + 1);
            continue;
        }
        if (now < o->next_send_ms)
            continue;
        o->next_send_ms = now + NODE_RESEND_MS;
        if (o->phase == PH_SESSION)
            send_session_reads(n, o);
        else if (o->phase == PH_READS)
            send_reads(n, o, o->key, o->klen);
        else if (o->phase == PH_ACKS) {
            /* to the peers that have not acknowledged yet */
            size_t i, j;
            crdt_gossip_peer p;

            for (i = 0; crdt_gossip_peer_at(n->g, i, &p) == CRDT_OK; i++) {
                bool done = false;

                for (j = 0; j < o->npeers && !done; j++)
                    done = o->peers[j] == p.id;
                if (!done && p.addrlen)
                    (void)node_send_state(n, NMSG_REPL, o->req, o->key,
                                          o->klen, o->state.data,
                                          o->state.len, p.addr, p.addrlen);
            }
        }
    }
}

void ops_cap_deadlines(node *n, uint64_t at_ms)
{
    op *o;

    for (o = n->ops; o; o = o->next)
        if (o->deadline_ms > at_ms)
            o->deadline_ms = at_ms;
}

void ops_conn_gone(node *n, conn *c)
{
    op *o;

    for (o = n->ops; o; o = o->next)
        if (o->c == c)
            o->c = NULL;
}

void ops_key_changed(node *n, const uint8_t *key, size_t klen)
{
    server_notify(n, key, klen);
}

void ops_free_all(node *n)
{
    while (n->ops) {
        op *o = n->ops;

        n->ops = o->next;
        op_free(n, o);
    }
    n->nops = 0;
}
