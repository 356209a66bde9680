/* SPDX-License-Identifier: MIT */
/*
 * The client socket (node.h): a Unix stream socket, mode 0600, framed
 * MessagePack requests and replies (crdt/client.h), answered in order
 * per connection, and watches.
 */
#include "config.h"

#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define CONN_MAX_QUEUED (64u << 20) /* reply bytes not yet written */
#define CONN_MAX_WATCHES 1024

typedef struct watch {
    uint64_t id;
    uint8_t *key;
    size_t klen;
} watch;

struct conn {
    conn *next;
    node *n;
    uv_pipe_t pipe;
    uint8_t *buf;
    size_t len, cap;
    size_t queued;
    watch *w;
    size_t nw;
    bool closing;
};

typedef struct wreq {
    uv_write_t req;
    conn *c;
    size_t len;
    uint8_t data[];
} wreq;

static void conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    size_t i;

    for (i = 0; i < c->nw; i++)
        free(c->w[i].key);
    free(c->w);
    free(c->buf);
    free(c);
}

static void conn_close(conn *c)
{
    node *n = c->n;
    conn **pp = &n->conns;

    if (c->closing)
        return;
    c->closing = true;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    ops_conn_gone(n, c);
    uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;

    w->c->queued -= w->len;
    if (status < 0)
        conn_close(w->c);
    free(w);
}

void server_reply(node *n, conn *c, const crdt_client_reply *rp)
{
    crdt_buf b;
    wreq *w;
    uv_buf_t ub;

    (void)n;
    if (!c || c->closing)
        return;
    crdt_buf_init(&b, NULL);
    if (crdt_client_reply_encode(rp, &b) || b.len > CRDT_CLIENT_MAX_MESSAGE) {
        crdt_buf_clear(&b);
        conn_close(c);
        return;
    }
    if (c->queued + b.len > CONN_MAX_QUEUED) {
        nlog(NLOG_WARN, "client_slow", "queued=%zu action=close", c->queued);
        crdt_buf_clear(&b);
        conn_close(c);
        return;
    }
    w = malloc(sizeof *w + 4 + b.len);
    if (!w) {
        crdt_buf_clear(&b);
        conn_close(c);
        return;
    }
    (void)crdt_client_frame_put(w->data, b.len);
    memcpy(w->data + 4, b.data, b.len);
    w->c = c;
    w->len = 4 + b.len;
    crdt_buf_clear(&b);
    ub = uv_buf_init((char *)w->data, (unsigned)w->len);
    c->queued += w->len;
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &ub, 1, on_written)) {
        c->queued -= w->len;
        free(w);
        conn_close(c);
    }
}

int server_watch(node *n, conn *c, uint64_t id, const uint8_t *key,
                 size_t klen)
{
    watch *nw;

    (void)n;
    if (!c)
        return CRDT_ERR_INVALID_ARG;
    if (c->nw >= CONN_MAX_WATCHES)
        return CRDT_ERR_LIMIT;
    nw = realloc(c->w, (c->nw + 1) * sizeof *nw);
    if (!nw)
        return CRDT_ERR_NOMEM;
    c->w = nw;
    nw[c->nw].key = malloc(klen);
    if (!nw[c->nw].key)
        return CRDT_ERR_NOMEM;
    memcpy(nw[c->nw].key, key, klen);
    nw[c->nw].klen = klen;
    nw[c->nw].id = id;
    c->nw++;
    return CRDT_OK;
}

void server_notify(node *n, const uint8_t *key, size_t klen)
{
    conn *c, *next;
    crdt_buf vb;
    const char *tname = NULL;
    int have = -1;

    crdt_buf_init(&vb, NULL);
    for (c = n->conns; c; c = next) {
        size_t i;

        next = c->next;
        for (i = 0; i < c->nw && !c->closing; i++) {
            crdt_client_reply rp;

            if (c->w[i].klen != klen || memcmp(c->w[i].key, key, klen))
                continue;
            if (have < 0)
                have = node_value(n, key, klen, &vb, &tname) == CRDT_OK;
            crdt_client_reply_init(&rp);
            rp.id = c->w[i].id;
            rp.ok = true;
            rp.acks = 1;
            if (have) {
                rp.type = tname;
                rp.typelen = strlen(tname);
                rp.state = vb.data;
                rp.slen = vb.len;
            } else
                rp.deleted = true;
            n->stats.watch_events++;
            server_reply(n, c, &rp);
        }
    }
    crdt_buf_clear(&vb);
}

/* ======================================================================
 * Reading requests
 * ====================================================================== */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    conn *c = h->data;

    (void)hint;
    if (c->cap - c->len < 65536) {
        size_t nc = c->cap ? c->cap * 2 : 65536;
        uint8_t *nb;

        while (nc - c->len < 65536)
            nc *= 2;
        if (nc > 4 + CRDT_CLIENT_MAX_MESSAGE + 65536)
            nc = 4 + CRDT_CLIENT_MAX_MESSAGE + 65536;
        nb = nc > c->cap ? realloc(c->buf, nc) : c->buf;
        if (!nb) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->buf = nb;
        c->cap = nc;
    }
    *buf = uv_buf_init((char *)c->buf + c->len,
                       (unsigned)(c->cap - c->len));
}

static void bad_request(node *n, conn *c, uint64_t id, int err,
                        const char *msg)
{
    crdt_client_reply rp;

    crdt_client_reply_init(&rp);
    rp.id = id;
    rp.err = err;
    rp.msg = msg;
    rp.msglen = strlen(msg);
    n->stats.replies_err++;
    server_reply(n, c, &rp);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    node *n = c->n;
    size_t off = 0;

    (void)buf;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 && c->cap == c->len && c->cap) {
        conn_close(c); /* no memory for more */
        return;
    }
    c->len += (size_t)nread;
    while (!c->closing) {
        long long fl = crdt_client_frame(c->buf + off, c->len - off);
        crdt_client_request rq;
        int rv;

        if (fl == 0)
            break;
        if (fl < 0) {
            bad_request(n, c, 0, (int)fl,
                        "frame length 0 or over the maximum: closing");
            conn_close(c);
            return;
        }
        rv = crdt_client_request_decode(&rq, c->buf + off + 4,
                                        (size_t)fl - 4);
        if (rv)
            bad_request(n, c, 0, rv, "unreadable request");
        else
            ops_submit(n, c, &rq);
        off += (size_t)fl;
    }
    if (off) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    node *n = server->data;
    conn *c;

    if (status < 0)
        return;
    c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->n = n;
    uv_pipe_init(n->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) ||
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read)) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->pipe, conn_closed);
        return;
    }
    c->next = n->conns;
    n->conns = c;
    n->stats.client_conns++;
}

static void listener_closed(uv_handle_t *h)
{
    node *n = h->data;

    n->handles--;
}

int server_start(node *n)
{
    const char *path = n->cfg.client;
    mode_t old;
    struct stat st;
    int rv;

    if (!path) {
        snprintf(n->client_path, sizeof n->client_path, "%s/client.sock",
                 n->cfg.data);
    } else if (strlen(path) >= sizeof n->client_path) {
        nlog(NLOG_ERROR, "client_listen", "reason=\"path too long\"");
        return CRDT_ERR_INVALID_ARG;
    } else
        strcpy(n->client_path, path);
    /* a socket left by a killed node (the store's lock says none runs) */
    if (lstat(n->client_path, &st) == 0 && S_ISSOCK(st.st_mode))
        (void)unlink(n->client_path);
    uv_pipe_init(n->loop, &n->listener, 0);
    n->listener.data = n;
    n->handles++;
    old = umask(0077);
    rv = uv_pipe_bind(&n->listener, n->client_path);
    umask(old);
    if (!rv)
        rv = chmod(n->client_path, 0600) ? uv_translate_sys_error(errno) : 0;
    if (!rv)
        rv = uv_listen((uv_stream_t *)&n->listener, 128, on_connection);
    if (rv) {
        nlog(NLOG_ERROR, "client_listen", "path=%s reason=\"%s\"",
             n->client_path, uv_strerror(rv));
        uv_close((uv_handle_t *)&n->listener, listener_closed);
        return CRDT_ERR_IO;
    }
    n->listening = true;
    return CRDT_OK;
}

void server_stop(node *n)
{
    if (n->listening) {
        uv_close((uv_handle_t *)&n->listener, listener_closed);
        (void)unlink(n->client_path);
        n->listening = false;
    }
    /* connections stay open until their requests are answered; then
     * they close with the loop (see main.c) */
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn *c = req->data;

    (void)status;
    free(req);
    conn_close(c);
}

void server_close_all(node *n)
{
    conn *c, *next;

    for (c = n->conns; c; c = next) {
        uv_shutdown_t *req = malloc(sizeof *req);

        next = c->next;
        uv_read_stop((uv_stream_t *)&c->pipe);
        if (!req) {
            conn_close(c);
            continue;
        }
        req->data = c;
        if (uv_shutdown(req, (uv_stream_t *)&c->pipe, on_shutdown)) {
            free(req);
            conn_close(c);
        }
    }
}
