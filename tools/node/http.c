/* SPDX-License-Identifier: MIT */
/*
 * crdt-node's metrics endpoint (http.h).
 *
 * Representation: the server keeps a doubly linked list of connections.
 * Each connection is one malloc block: a TCP handle, a timer, the write
 * and shutdown requests, the response buffer and max_head bytes for the
 * request head.  A connection goes through two phases:
 *   HEAD   bytes are appended to the head buffer until an empty line ends
 *          the head (answered), the buffer is full (431), or the timer
 *          fires (closed, no response);
 *   DRAIN  the response is written, the write side shut down, and what
 *          the client still sends is read into the head buffer and
 *          dropped, until EOF, an error or the timer: closing with unread
 *          bytes would reset the connection and could lose the response.
 * A connection is freed when both its handles have closed; the server is
 * freed when the listener, every connection and every rejected socket
 * have closed (`pending` counts them during nhttp_stop).
 *
 * Cost: one request per connection (Connection: close); the head is
 * parsed once, when its end is seen (each read scans only the new bytes
 * for the end).
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#include <crdt/common.h>
#include <crdt/gossip_uv.h>

/* ---- types ------------------------------------------------------------ */

enum { PHASE_HEAD = 0, PHASE_DRAIN };

typedef struct conn conn;
struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    uv_shutdown_t sd;
    nhttp *srv;
    conn *prev, *next;  /* the server's list */
    int phase;          /* PHASE_* */
    int handles;        /* open handles, 2 until closing completes */
    bool closing;
    crdt_buf out;       /* the response, kept until written */
    size_t len;         /* head bytes received */
    size_t scanned;     /* head bytes already searched for the end
                           (nhttp_parse_head's resume point) */
    char head[];        /* srv->set.max_head bytes */
};

/* An over-the-limit connection: accepted, then closed at once. */
typedef struct reject {
    uv_tcp_t tcp;
    nhttp *srv;
} reject;

struct nhttp {
    uv_loop_t *loop;
    uv_tcp_t listener;
    nhttp_body_fn fn;
    void *user;
    nhttp_settings set;
    struct sockaddr_storage addr; /* bound */
    conn *conns;                  /* list head */
    size_t pending;               /* handles closing (during stop) */
    int rejects;                  /* reject sockets still closing */
    bool stopping;
    void (*on_closed)(void *user);
    void *closed_user;
    nhttp_counters cnt;
};

/* ---- server lifetime -------------------------------------------------- */

static void maybe_free(nhttp *h)
{
    void (*cb)(void *);
    void *user;

    if (!h->stopping || h->pending || h->conns || h->rejects)
        return;
    cb = h->on_closed;
    user = h->closed_user;
    free(h);
    if (cb)
        cb(user);
}

static void listener_closed(uv_handle_t *hd)
{
    nhttp *h = hd->data;

    h->pending--;
    maybe_free(h);
}

static void reject_closed(uv_handle_t *hd)
{
    reject *r = hd->data;
    nhttp *h = r->srv;

    free(r);
    h->rejects--;
    maybe_free(h);
}

/* ---- connections ------------------------------------------------------ */

static void conn_handle_closed(uv_handle_t *hd)
{
    conn *c = hd->data;
    nhttp *h = c->srv;

    if (--c->handles > 0)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->cnt.open--;
    crdt_buf_clear(&c->out);
    free(c);
    maybe_free(h);
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;

    if (c->phase == PHASE_HEAD)
        c->srv->cnt.timeouts++;
    conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn *c = req->data;

    if (status < 0)
        conn_close(c); /* also UV_ECANCELED when closed meanwhile: no-op */
}

static void on_written(uv_write_t *req, int status)
{
    conn *c = req->data;

    if (c->closing)
        return;
    c->sd.data = c;
    if (status < 0 || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp,
                                  on_shutdown) < 0)
        conn_close(c);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Internal Server Error";
    }
}

/*
 * Sends the response and enters the drain phase.  @p ctype NULL: plain
 * text; @p body/@p blen the body (not sent for HEAD, still counted in
 * Content-Length).
 */
static void respond(conn *c, int status, const char *ctype,
                    const void *body, size_t blen, bool head_only)
{
    nhttp *h = c->srv;
    char hdr[512];
    int n;
    uv_buf_t b;

    n = snprintf(hdr, sizeof hdr,
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "%s"
                 "Connection: close\r\n"
                 "\r\n",
                 status, reason(status),
                 ctype ? ctype : "text/plain; charset=utf-8", blen,
                 status == 405 ? "Allow: GET, HEAD\r\n" : "");
    h->cnt.requests++;
    if (status < 300)
        h->cnt.status_2xx++;
    else if (status < 500)
        h->cnt.status_4xx++;
    else
        h->cnt.status_5xx++;
    c->phase = PHASE_DRAIN;
    /* the drain phase gets its own deadline */
    uv_timer_start(&c->timer, on_timer, h->set.idle_ms, 0);
    if (n < 0 || (size_t)n >= sizeof hdr ||
        crdt_buf_append(&c->out, hdr, (size_t)n) != CRDT_OK ||
        (!head_only && blen &&
         crdt_buf_append(&c->out, body, blen) != CRDT_OK)) {
        conn_close(c);
        return;
    }
    b = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0)
        conn_close(c);
}

static void respond_error(conn *c, int status, bool head_only)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status, reason(status));

    respond(c, status, NULL, body, n > 0 ? (size_t)n : 0, head_only);
}

/* ---- parsing ---------------------------------------------------------- */

static bool is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
           (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Length of the line at @p p (up to @p end), without its LF or CRLF;
 * *next gets the start of the next line.  -1 when there is no LF or a
 * CR not followed by LF. */
static long line_len(const char *p, const char *end, const char **next)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    const char *e;

    if (!lf)
        return -1;
    e = lf;
    if (e > p && e[-1] == '\r')
        e--;
    if (memchr(p, '\r', (size_t)(e - p)))
        return -1;
    *next = lf + 1;
    return (long)(e - p);
}

static bool ieq(const char *a, size_t n, const char *lit)
{
    size_t i;

    if (strlen(lit) != n)
        return false;
    for (i = 0; i < n; i++) {
        char x = a[i], y = lit[i];

        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* Parses the head in [p, end) (which ends with the empty line); false
 * when it is malformed (*rq may then be partly written). */
static bool parse_head(const char *p, const char *end, nhttp_request *rq)
{
    const char *next, *sp, *q;
    long n;
    size_t i, hosts = 0;
    bool v11;

    n = line_len(p, end, &next);
    if (n <= 0)
        return false;
    /* method SP target SP HTTP/d.d */
    for (i = 0; i < (size_t)n && is_tchar((unsigned char)p[i]); i++)
        ;
    if (i == 0 || i >= (size_t)n || p[i] != ' ')
        return false;
    rq->method = p;
    rq->mlen = i;
    q = p + i + 1;
    sp = memchr(q, ' ', (size_t)(p + n - q));
    if (!sp || sp == q || *q != '/')
        return false;
    for (rq->path = q; q < sp; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
            return false;
    q = memchr(rq->path, '?', (size_t)(sp - rq->path));
    rq->plen = (size_t)((q ? q : sp) - rq->path);
    sp++;
    if (p + n - sp != 8 || memcmp(sp, "HTTP/1.", 7) != 0 ||
        (sp[7] != '0' && sp[7] != '1'))
        return false;
    v11 = sp[7] == '1';
    rq->minor = v11 ? 1 : 0;
    /* header fields */
    for (p = next; (n = line_len(p, end, &next)) > 0; p = next) {
        const char *colon = memchr(p, ':', (size_t)n);

        if (!colon || colon == p)
            return false;
        for (q = p; q < colon; q++)
            if (!is_tchar((unsigned char)*q))
                return false;
        for (q = colon + 1; q < p + n; q++)
            if ((unsigned char)*q < 0x20 ? *q != '\t' : *q == 0x7f)
                return false;
        if (ieq(p, (size_t)(colon - p), "host"))
            hosts++;
    }
    if (n != 0 || next != end)
        return false;
    return v11 ? hosts == 1 : hosts <= 1;
}

static const char index_text[] =
    "crdt-node: Prometheus metrics at /metrics\n";

static void serve(conn *c, const nhttp_request *rq)
{
    nhttp *h = c->srv;
    bool get = rq->mlen == 3 && memcmp(rq->method, "GET", 3) == 0;
    bool head = rq->mlen == 4 && memcmp(rq->method, "HEAD", 4) == 0;
    bool metrics = rq->plen == 8 && memcmp(rq->path, "/metrics", 8) == 0;
    bool index = rq->plen == 1;
    crdt_buf body;

    if (!metrics && !index) {
        respond_error(c, 404, head);
        return;
    }
    if (!get && !head) {
        respond_error(c, 405, false);
        return;
    }
    if (index) {
        respond(c, 200, NULL, index_text, sizeof index_text - 1, head);
        return;
    }
    crdt_buf_init(&body, NULL);
    if (h->fn(h->user, &body) != 0) {
        crdt_buf_clear(&body);
        respond_error(c, 500, head);
        return;
    }
    respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", body.data,
            body.len, head);
    crdt_buf_clear(&body);
}

/* Looks in [p, p + len) from *scanned on for the empty line that ends
 * the head; its end offset, or 0 (then *scanned is where to go on). */
static size_t head_end(const char *p, size_t len, size_t *scanned)
{
    size_t i = *scanned;

    for (; i < len; i++) {
        if (p[i] != '\n')
            continue;
        if (i + 1 < len && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
        if (i + 2 >= len)
            break; /* the next read decides */
    }
    *scanned = i;
    return 0;
}

int nhttp_parse_head(const char *p, size_t len, size_t max_head,
                     size_t *scanned, nhttp_request *out)
{
    nhttp_request rq;
    size_t n = len < max_head ? len : max_head;
    size_t from = scanned && *scanned <= n ? *scanned : 0;
    size_t end = head_end(p, n, &from);

    if (!end) {
        if (scanned)
            *scanned = from;
        return len >= max_head ? NHTTP_HEAD_TOO_LARGE : NHTTP_HEAD_PARTIAL;
    }
    if (!parse_head(p, p + end, &rq))
        return NHTTP_HEAD_BAD;
    rq.head_len = end;
    *out = rq;
    return NHTTP_HEAD_OK;
}

/* ---- reading ---------------------------------------------------------- */

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    conn *c = hd->data;
    size_t cap = c->srv->set.max_head;

    (void)suggested;
    if (c->phase == PHASE_HEAD)
        *buf = uv_buf_init(c->head + c->len, (unsigned)(cap - c->len));
    else
        *buf = uv_buf_init(c->head, (unsigned)cap);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    nhttp_request rq;

    (void)buf;
    if (nread < 0) {
        conn_close(c); /* EOF or error, in either phase */
        return;
    }
    if (c->phase != PHASE_HEAD || nread == 0)
        return; /* drained */
    c->len += (size_t)nread;
    switch (nhttp_parse_head(c->head, c->len, c->srv->set.max_head,
                             &c->scanned, &rq)) {
    case NHTTP_HEAD_OK:
        serve(c, &rq);
        break;
    case NHTTP_HEAD_BAD:
        respond_error(c, 400, false);
        break;
    case NHTTP_HEAD_TOO_LARGE:
        respond_error(c, 431, false);
        break;
    default:
        break; /* partial: the next read goes on */
    }
}

/* ---- accepting -------------------------------------------------------- */

static void reject_one(nhttp *h, uv_stream_t *server)
{
    reject *r = malloc(sizeof *r);

    h->cnt.rejected++;
    if (!r || uv_tcp_init(h->loop, &r->tcp) < 0) {
        free(r);
        return; /* out of memory: left unaccepted, which makes libuv
                   stop polling the listener for good (known limit) */
    }
    r->srv = h;
    r->tcp.data = r;
    h->rejects++;
    (void)uv_accept(server, (uv_stream_t *)&r->tcp);
    uv_close((uv_handle_t *)&r->tcp, reject_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    nhttp *h = server->data;
    conn *c;

    if (status < 0 || h->stopping)
        return;
    if (h->cnt.open >= h->set.max_conns) {
        reject_one(h, server);
        return;
    }
    c = calloc(1, sizeof *c + h->set.max_head);
    if (!c) {
        reject_one(h, server);
        return;
    }
    c->srv = h;
    crdt_buf_init(&c->out, NULL);
    if (uv_tcp_init(h->loop, &c->tcp) < 0) {
        free(c);
        reject_one(h, server);
        return;
    }
    /* from here on the connection closes through conn_close */
    uv_timer_init(h->loop, &c->timer); /* cannot fail */
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = h->conns;
    if (h->conns)
        h->conns->prev = c;
    h->conns = c;
    h->cnt.open++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    h->cnt.connections++;
    uv_timer_start(&c->timer, on_timer, h->set.idle_ms, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

/* ---- public ----------------------------------------------------------- */

void nhttp_settings_default(nhttp_settings *s)
{
    s->idle_ms = NHTTP_DEFAULT_IDLE_MS;
    s->max_conns = NHTTP_DEFAULT_MAX_CONNS;
    s->max_head = NHTTP_DEFAULT_MAX_HEAD;
}

int nhttp_start(nhttp **out, uv_loop_t *loop, const char *hostport,
                nhttp_body_fn fn, void *user)
{
    return nhttp_start_with(out, loop, hostport, NULL, fn, user);
}

int nhttp_start_with(nhttp **out, uv_loop_t *loop, const char *hostport,
                     const nhttp_settings *s, nhttp_body_fn fn, void *user)
{
    struct sockaddr_storage sa;
    nhttp_settings set;
    nhttp *h;
    int len = sizeof h->addr;

    if (s)
        set = *s;
    else
        nhttp_settings_default(&set);
    if (!out || !loop || !hostport || !fn || set.idle_ms == 0 ||
        set.max_conns == 0 || set.max_head < 64 || set.max_head > (1u << 30) ||
        crdt_gossip_uv_parse_addr((const uint8_t *)hostport,
                                  strlen(hostport), &sa) != CRDT_OK)
        return CRDT_ERR_INVALID_ARG;
    h = calloc(1, sizeof *h);
    if (!h)
        return CRDT_ERR_NOMEM;
    h->loop = loop;
    h->fn = fn;
    h->user = user;
    h->set = set;
    if (uv_tcp_init(loop, &h->listener) < 0) {
        free(h);
        return CRDT_ERR_IO;
    }
    h->listener.data = h;
    if (uv_tcp_bind(&h->listener, (const struct sockaddr *)&sa, 0) < 0 ||
        uv_listen((uv_stream_t *)&h->listener, 64, on_connection) < 0 ||
        uv_tcp_getsockname(&h->listener, (struct sockaddr *)&h->addr,
                           &len) < 0) {
        h->stopping = true;
        h->pending = 1;
        uv_close((uv_handle_t *)&h->listener, listener_closed);
        return CRDT_ERR_IO;
    }
    *out = h;
    return CRDT_OK;
}

size_t nhttp_address(const nhttp *h, char *buf, size_t cap)
{
    if (!h || !buf)
        return 0;
    return crdt_gossip_uv_format_addr((const struct sockaddr *)&h->addr, buf,
                                      cap);
}

void nhttp_stats(const nhttp *h, nhttp_counters *c)
{
    *c = h->cnt;
}

void nhttp_stop(nhttp *h, void (*on_closed)(void *user), void *user)
{
    conn *c;

    if (!h || h->stopping)
        return;
    h->stopping = true;
    h->on_closed = on_closed;
    h->closed_user = user;
    h->pending = 1;
    uv_close((uv_handle_t *)&h->listener, listener_closed);
    for (c = h->conns; c; c = c->next)
        conn_close(c);
}
