/* SPDX-License-Identifier: MIT */
/*
 * crdt-node's metrics endpoint (tools/node/http.h) and the Prometheus
 * exposition helpers (tools/node/prom.h).
 *
 * The server runs on a loop in the test's thread; clients run in a second
 * thread with blocking sockets (2 s send and receive timeouts), write what
 * they received into the fixture and wake the loop with a uv_async, which
 * stops the server; the assertions run after the loop has ended.  Only
 * 127.0.0.1 and ::1 are used, on ports the kernel picks.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include <crdt/common.h>
#include <crdt/gossip_uv.h>

#include "http.h"
#include "prom.h"

/* ---- fixture ---------------------------------------------------------- */

#define MAX_REQ 16
#define RESP_CAP 16384
#define MAX_FDS 40

typedef struct fx fx;
struct fx {
    uv_loop_t loop;
    uv_async_t done;
    nhttp *h;
    struct sockaddr_storage sa;
    void (*client)(fx *);
    int fail;                 /* the body function fails */
    int calls;                /* body function calls */
    int closed;               /* nhttp_stop's callback ran */
    nhttp_counters cnt;       /* at the client's end, before the stop */
    const char *req[MAX_REQ]; /* for client_requests */
    size_t reqlen[MAX_REQ];   /* 0: strlen */
    size_t nreq;
    char resp[MAX_REQ][RESP_CAP];
    size_t rlen[MAX_REQ];
    double secs[MAX_REQ];     /* how long each exchange took */
    int fds[MAX_FDS];         /* left open by a client, closed after */
    size_t nfds;
};

static fx F;

static const char body_text[] = "# TYPE up gauge\nup 1\n";

static int body_fn(void *user, crdt_buf *b)
{
    fx *f = user;

    f->calls++;
    if (crdt_buf_append(b, "partial", 7) != CRDT_OK)
        return -1;
    if (f->fail)
        return -1;
    crdt_buf_reset(b);
    return crdt_buf_append(b, body_text, sizeof body_text - 1);
}

static void on_closed(void *user)
{
    ((fx *)user)->closed++;
}

static void on_done(uv_async_t *a)
{
    fx *f = a->data;

    nhttp_stats(f->h, &f->cnt);
    uv_close((uv_handle_t *)a, NULL);
    nhttp_stop(f->h, on_closed, f);
}

static void *client_main(void *arg)
{
    fx *f = arg;

    f->client(f);
    uv_async_send(&f->done);
    return NULL;
}

/* Starts the server on @p hostport; the result of nhttp_start_with. */
static int fx_start(const char *hostport, const nhttp_settings *s)
{
    char addr[CRDT_GOSSIP_UV_ADDR_MAX];
    int rc;

    memset(&F, 0, sizeof F);
    ck_assert_int_eq(uv_loop_init(&F.loop), 0);
    rc = nhttp_start_with(&F.h, &F.loop, hostport, s, body_fn, &F);
    if (rc != CRDT_OK) {
        uv_run(&F.loop, UV_RUN_DEFAULT); /* frees the failed listener */
        ck_assert_int_eq(uv_loop_close(&F.loop), 0);
        return rc;
    }
    ck_assert_uint_gt(nhttp_address(F.h, addr, sizeof addr), 0);
    ck_assert_int_eq(crdt_gossip_uv_parse_addr((const uint8_t *)addr,
                                               strlen(addr), &F.sa),
                     CRDT_OK);
    ck_assert_int_ne(strcmp(strrchr(addr, ':'), ":0"), 0);
    return rc;
}

/* Runs @p client in a thread until it is done and the server has closed. */
static void fx_run(void (*client)(fx *))
{
    pthread_t t;
    size_t i;

    F.client = client;
    ck_assert_int_eq(uv_async_init(&F.loop, &F.done, on_done), 0);
    F.done.data = &F;
    ck_assert_int_eq(pthread_create(&t, NULL, client_main, &F), 0);
    uv_run(&F.loop, UV_RUN_DEFAULT);
    pthread_join(t, NULL);
    for (i = 0; i < F.nfds; i++)
        close(F.fds[i]);
    ck_assert_int_eq(F.closed, 1);
    ck_assert_int_eq(uv_loop_close(&F.loop), 0);
}

/* ---- blocking client -------------------------------------------------- */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(const fx *f)
{
    struct timeval tv = {2, 0};
    socklen_t len = f->sa.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                               : sizeof(struct sockaddr_in6);
    int fd = socket(f->sa.ss_family, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)&f->sa, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

/* Reads until EOF, an error or the timeout; NUL-terminates. */
static size_t read_all(int fd, char *out, size_t cap)
{
    size_t n = 0;
    ssize_t k;

    while (n + 1 < cap && (k = recv(fd, out + n, cap - 1 - n, 0)) > 0)
        n += (size_t)k;
    out[n] = 0;
    return n;
}

/* Sends each F.req on its own connection and keeps the responses. */
static void client_requests(fx *f)
{
    size_t i;

    for (i = 0; i < f->nreq; i++) {
        double t0 = now();
        int fd = dial(f);

        if (fd < 0)
            continue;
        send_all(fd, f->req[i], f->reqlen[i] ? f->reqlen[i]
                                             : strlen(f->req[i]));
        f->rlen[i] = read_all(fd, f->resp[i], RESP_CAP);
        f->secs[i] = now() - t0;
        close(fd);
    }
}

static void add_req(const char *r)
{
    F.req[F.nreq++] = r;
}

static void expect_status(size_t i, int status)
{
    char want[32];

    snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
    ck_assert_msg(strncmp(F.resp[i], want, strlen(want)) == 0,
                  "request %zu (%s): got '%.40s', want %d", i, F.req[i],
                  F.resp[i], status);
    ck_assert_ptr_nonnull(strstr(F.resp[i], "\r\nConnection: close\r\n"));
}

/* The body after the head, checked against Content-Length. */
static const char *body_of(size_t i)
{
    const char *cl = strstr(F.resp[i], "\r\nContent-Length: ");
    const char *end = strstr(F.resp[i], "\r\n\r\n");

    ck_assert_ptr_nonnull(cl);
    ck_assert_ptr_nonnull(end);
    ck_assert_uint_eq(strtoul(cl + 18, NULL, 10),
                      F.rlen[i] - (size_t)(end + 4 - F.resp[i]));
    return end + 4;
}

/* ---- the server ------------------------------------------------------- */

static const char metrics_head[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
    "Content-Length: 21\r\n"
    "Connection: close\r\n"
    "\r\n";

START_TEST(test_nhttp_serve_metrics)
{
    static const char *const listen[] = {"127.0.0.1:0", "[::1]:0"};
    int rc = fx_start(listen[_i], NULL);

    if (rc == CRDT_ERR_IO && _i == 1)
        return; /* no IPv6 loopback on this machine */
    ck_assert_int_eq(rc, CRDT_OK);
    add_req("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
    add_req("GET /metrics?name[]=up HTTP/1.0\n\n"); /* bare LF, no Host */
    add_req("GET / HTTP/1.1\r\nhOsT: x\r\n\r\n");
    add_req("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    add_req("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    fx_run(client_requests);

    ck_assert_str_eq(F.resp[0], "HTTP/1.1 200 OK\r\n"
                                "Content-Type: text/plain; version=0.0.4; "
                                "charset=utf-8\r\n"
                                "Content-Length: 21\r\n"
                                "Connection: close\r\n"
                                "\r\n"
                                "# TYPE up gauge\nup 1\n");
    ck_assert_str_eq(body_of(1), body_text);
    expect_status(2, 200);
    ck_assert_ptr_nonnull(strstr(body_of(2), "/metrics"));
    ck_assert_ptr_nonnull(
        strstr(F.resp[2], "Content-Type: text/plain; charset=utf-8\r\n"));
    /* HEAD: the same head (and Content-Length), no body */
    ck_assert_str_eq(F.resp[3], metrics_head);
    expect_status(4, 200);
    ck_assert_ptr_nonnull(strstr(F.resp[4], "Content-Length: 42\r\n"));
    ck_assert_str_eq(strstr(F.resp[4], "\r\n\r\n"), "\r\n\r\n");
    ck_assert_int_eq(F.calls, 3);
    ck_assert_uint_eq(F.cnt.requests, 5);
    ck_assert_uint_eq(F.cnt.status_2xx, 5);
    ck_assert_uint_eq(F.cnt.connections, 5);
    ck_assert_uint_eq(F.cnt.rejected + F.cnt.timeouts, 0);
}
END_TEST

START_TEST(test_nhttp_serve_errors)
{
    static char big[10240];
    size_t i, n;

    ck_assert_int_eq(fx_start("127.0.0.1:0", NULL), CRDT_OK);
    add_req("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");           /* 0: 404 */
    add_req("HEAD /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n");      /* 404 */
    add_req("POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n");       /* 2: 405 */
    add_req("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n");            /* 405 */
    add_req("GARBAGE\r\n\r\n");                                 /* 4: 400 */
    add_req("GET /metrics HTTP/1.1\r\n\r\n");                   /* no Host */
    add_req("GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    add_req("GET metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    add_req("GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n");
    add_req("GET /metrics HTTP/1.1\r\nHost x\r\n\r\n");
    add_req("GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n");
    add_req("GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    add_req("GET /metrics HTTP/1.1\r\nHost: x\rY\r\n\r\n");     /* 12: 400 */
    /* 13: 9 KiB of headers, 431 */
    n = (size_t)snprintf(big, sizeof big,
                         "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    memset(big + n, 'a', 9216);
    memcpy(big + n + 9216, "\r\n\r\n", 5);
    add_req(big);
    fx_run(client_requests);

    for (i = 0; i < 2; i++)
        expect_status(i, 404);
    ck_assert_str_eq(body_of(0), "404 Not Found\n");
    /* HEAD: the length of the body it would have had, no body */
    ck_assert_ptr_nonnull(strstr(F.resp[1], "\r\nContent-Length: 14\r\n"));
    ck_assert_str_eq(strstr(F.resp[1], "\r\n\r\n"), "\r\n\r\n");
    for (i = 2; i < 4; i++) {
        expect_status(i, 405);
        ck_assert_ptr_nonnull(strstr(F.resp[i], "\r\nAllow: GET, HEAD\r\n"));
        ck_assert_str_eq(body_of(i), "405 Method Not Allowed\n");
    }
    for (i = 4; i < 13; i++) {
        expect_status(i, 400);
        ck_assert_str_eq(body_of(i), "400 Bad Request\n");
    }
    expect_status(13, 431);
    ck_assert_str_eq(body_of(13), "431 Request Header Fields Too Large\n");
    ck_assert_int_eq(F.calls, 0);
    ck_assert_uint_eq(F.cnt.requests, 14);
    ck_assert_uint_eq(F.cnt.status_4xx, 14);
    ck_assert_uint_eq(F.cnt.status_2xx + F.cnt.status_5xx, 0);
}
END_TEST

START_TEST(test_nhttp_serve_fn_error)
{
    ck_assert_int_eq(fx_start("127.0.0.1:0", NULL), CRDT_OK);
    F.fail = 1;
    add_req("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    add_req("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); /* fn not involved */
    fx_run(client_requests);
    expect_status(0, 500);
    ck_assert_str_eq(body_of(0), "500 Internal Server Error\n");
    expect_status(1, 200);
    ck_assert_int_eq(F.calls, 1);
    ck_assert_uint_eq(F.cnt.status_5xx, 1);
    ck_assert_uint_eq(F.cnt.status_2xx, 1);
}
END_TEST

/* A client that sends part of a head, and one that sends nothing, are
 * closed without a response after the (shortened) idle timeout. */
START_TEST(test_nhttp_limits_idle)
{
    nhttp_settings s;

    nhttp_settings_default(&s);
    ck_assert_uint_eq(s.idle_ms, 5000);
    s.idle_ms = 200;
    ck_assert_int_eq(fx_start("127.0.0.1:0", &s), CRDT_OK);
    add_req("GET /metr");
    add_req("");
    fx_run(client_requests);
    ck_assert_uint_eq(F.rlen[0], 0);
    ck_assert_uint_eq(F.rlen[1], 0);
    ck_assert_msg(F.secs[0] >= 0.15 && F.secs[0] < 1.0, "took %.3f s",
                  F.secs[0]);
    ck_assert_msg(F.secs[1] >= 0.15 && F.secs[1] < 1.0, "took %.3f s",
                  F.secs[1]);
    ck_assert_uint_eq(F.cnt.timeouts, 2);
    ck_assert_uint_eq(F.cnt.requests, 0);
}
END_TEST

/* 32 idle connections are open; the 33rd is closed at once; the 32 are
 * still served. */
static void client_33(fx *f)
{
    int fd;
    size_t i;

    for (i = 0; i < 32; i++)
        if ((fd = dial(f)) >= 0)
            f->fds[f->nfds++] = fd;
    f->secs[0] = now();
    fd = dial(f);
    if (fd >= 0) {
        f->rlen[0] = read_all(fd, f->resp[0], RESP_CAP);
        close(fd);
    }
    f->secs[0] = now() - f->secs[0];
    if (f->nfds == 32) {
        send_all(f->fds[31], "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                 35);
        f->rlen[1] = read_all(f->fds[31], f->resp[1], RESP_CAP);
    }
}

START_TEST(test_nhttp_limits_connections)
{
    ck_assert_int_eq(fx_start("127.0.0.1:0", NULL), CRDT_OK);
    fx_run(client_33);
    ck_assert_uint_eq(F.nfds, 32);
    ck_assert_uint_eq(F.rlen[0], 0);
    ck_assert_msg(F.secs[0] < 1.0, "33rd took %.3f s", F.secs[0]);
    ck_assert_str_eq(body_of(1), body_text);
    ck_assert_uint_eq(F.cnt.rejected, 1);
    ck_assert_uint_eq(F.cnt.connections, 32);
    ck_assert_uint_eq(F.cnt.open, 32);
    ck_assert_uint_eq(F.cnt.requests, 1);
}
END_TEST

/* Stopping with connections in every phase frees everything (valgrind). */
static void client_open(fx *f)
{
    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t i;
    int fd;

    for (i = 0; i < 5; i++) {
        if ((fd = dial(f)) < 0)
            return;
        f->fds[f->nfds++] = fd;
        if (i % 2)
            send_all(fd, get, 10); /* part of a head */
    }
    /* a whole request whose response (read up to the head's end only)
     * proves the others were accepted; its connection stays draining */
    if ((fd = dial(f)) < 0)
        return;
    f->fds[f->nfds++] = fd;
    send_all(fd, get, sizeof get - 1);
    f->rlen[0] = (size_t)recv(fd, f->resp[0], sizeof metrics_head - 1,
                              MSG_WAITALL);
}

START_TEST(test_nhttp_stop_open)
{
    ck_assert_int_eq(fx_start("127.0.0.1:0", NULL), CRDT_OK);
    fx_run(client_open);
    ck_assert_uint_eq(F.nfds, 6);
    ck_assert_uint_eq(F.rlen[0], sizeof metrics_head - 1);
    ck_assert_uint_eq(F.cnt.open, 6);
    ck_assert_uint_eq(F.cnt.connections, 6);
    ck_assert_uint_eq(F.cnt.requests, 1);
}
END_TEST

START_TEST(test_nhttp_start_errors)
{
    static const char *const bad[] = {"", "127.0.0.1", "localhost:80",
                                      "[::1]80", "127.0.0.1:65536"};
    uv_loop_t loop;
    nhttp *h = NULL, *h2 = (nhttp *)&loop;
    nhttp_settings s;
    char addr[CRDT_GOSSIP_UV_ADDR_MAX], small[4];
    size_t i;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    for (i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(nhttp_start(&h, &loop, bad[i], body_fn, &F),
                         CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nhttp_start(NULL, &loop, "127.0.0.1:0", body_fn, &F),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nhttp_start(&h, NULL, "127.0.0.1:0", body_fn, &F),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nhttp_start(&h, &loop, NULL, body_fn, &F),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nhttp_start(&h, &loop, "127.0.0.1:0", NULL, &F),
                     CRDT_ERR_INVALID_ARG);
    nhttp_settings_default(&s);
    s.max_conns = 0;
    ck_assert_int_eq(
        nhttp_start_with(&h, &loop, "127.0.0.1:0", &s, body_fn, &F),
        CRDT_ERR_INVALID_ARG);
    nhttp_settings_default(&s);
    s.idle_ms = 0;
    ck_assert_int_eq(
        nhttp_start_with(&h, &loop, "127.0.0.1:0", &s, body_fn, &F),
        CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(h);

    /* the port is taken: CRDT_ERR_IO, *out untouched, freed by the loop */
    ck_assert_int_eq(nhttp_start(&h, &loop, "127.0.0.1:0", body_fn, &F),
                     CRDT_OK);
    ck_assert_uint_gt(nhttp_address(h, addr, sizeof addr), 0);
    ck_assert_uint_eq(nhttp_address(h, small, sizeof small), 0);
    ck_assert_int_eq(nhttp_start(&h2, &loop, addr, body_fn, &F),
                     CRDT_ERR_IO);
    ck_assert_ptr_eq(h2, (nhttp *)&loop);
    nhttp_stop(NULL, NULL, NULL);
    nhttp_stop(h, NULL, NULL);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- exposition helpers ----------------------------------------------- */

static void expect_buf(crdt_buf *b, const char *want)
{
    ck_assert_uint_eq(b->len, strlen(want));
    ck_assert_int_eq(memcmp(b->data, want, b->len), 0);
}

START_TEST(test_nprom_format)
{
    crdt_buf b;

    crdt_buf_init(&b, NULL);
    ck_assert_int_eq(nprom_metric_u64(&b, "crdt_node_keys", "gauge",
                                      "Keys in the store.", NULL, 42),
                     CRDT_OK);
    ck_assert_int_eq(nprom_header(&b, "crdt_gossip_sent_total", "counter",
                                  "Datagrams sent,\nby kind \\ \"type\"."),
                     CRDT_OK);
    ck_assert_int_eq(nprom_sample_u64(&b, "crdt_gossip_sent_total",
                                      "kind=\"ping\"", UINT64_MAX),
                     CRDT_OK);
    ck_assert_int_eq(nprom_sample_u64(&b, "crdt_gossip_sent_total", "", 0),
                     CRDT_OK);
    ck_assert_int_eq(nprom_header(&b, "x:y", "gauge", NULL), CRDT_OK);
    ck_assert_int_eq(nprom_sample_double(&b, "x:y", NULL, 0.1), CRDT_OK);
    ck_assert_int_eq(nprom_sample_double(&b, "x:y", NULL, -2.5e-300),
                     CRDT_OK);
    ck_assert_int_eq(nprom_sample_double(&b, "x:y", NULL, 1.0 / 3), CRDT_OK);
    ck_assert_int_eq(nprom_sample_double(&b, "x:y", NULL, NAN), CRDT_OK);
    ck_assert_int_eq(nprom_sample_double(&b, "x:y", NULL, INFINITY),
                     CRDT_OK);
    ck_assert_int_eq(nprom_metric_double(&b, "up", "gauge", "1 if up.",
                                         "a=\"b\"", -INFINITY),
                     CRDT_OK);
    expect_buf(&b, "# HELP crdt_node_keys Keys in the store.\n"
                   "# TYPE crdt_node_keys gauge\n"
                   "crdt_node_keys 42\n"
                   "# HELP crdt_gossip_sent_total Datagrams sent,\\nby "
                   "kind \\\\ \"type\".\n"
                   "# TYPE crdt_gossip_sent_total counter\n"
                   "crdt_gossip_sent_total{kind=\"ping\"} "
                   "18446744073709551615\n"
                   "crdt_gossip_sent_total 0\n"
                   "# TYPE x:y gauge\n"
                   "x:y 0.1\n"
                   "x:y -2.5e-300\n"
                   "x:y 0.33333333333333331\n"
                   "x:y NaN\n"
                   "x:y +Inf\n"
                   "# HELP up 1 if up.\n"
                   "# TYPE up gauge\n"
                   "up{a=\"b\"} -Inf\n");
    crdt_buf_clear(&b);
}
END_TEST

START_TEST(test_nprom_escape)
{
    crdt_buf b, l;

    crdt_buf_init(&b, NULL);
    crdt_buf_init(&l, NULL);
    ck_assert_int_eq(nprom_escape(&b, "a\\b\"c\nd\te", 9), CRDT_OK);
    expect_buf(&b, "a\\\\b\\\"c\\nd\te");
    ck_assert_int_eq(nprom_escape(&b, NULL, 0), CRDT_OK);
    ck_assert_uint_eq(b.len, 12);
    crdt_buf_reset(&b);

    ck_assert_int_eq(nprom_label(&l, "peer", "[::1]:7946"), CRDT_OK);
    ck_assert_str_eq((const char *)l.data, "peer=\"[::1]:7946\"");
    ck_assert_int_eq(nprom_label(&l, "name", "a \"b\"\\\n"), CRDT_OK);
    ck_assert_str_eq((const char *)l.data,
                     "peer=\"[::1]:7946\",name=\"a \\\"b\\\"\\\\\\n\"");
    ck_assert_int_eq(nprom_label(&l, "_ok9", ""), CRDT_OK);
    ck_assert_int_eq(nprom_sample_u64(&b, "m", (const char *)l.data, 7),
                     CRDT_OK);
    expect_buf(&b, "m{peer=\"[::1]:7946\",name=\"a \\\"b\\\"\\\\\\n\","
                   "_ok9=\"\"} 7\n");
    crdt_buf_clear(&l);
    crdt_buf_clear(&b);
}
END_TEST

START_TEST(test_nprom_invalid)
{
    static const char *const bad_names[] = {"", "9up", "a-b", "a b", "\xc3\xa9"};
    uint8_t mem[8];
    crdt_buf b;
    size_t i;

    crdt_buf_init(&b, NULL);
    for (i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        ck_assert(!nprom_valid_name(bad_names[i]));
        ck_assert_int_eq(nprom_header(&b, bad_names[i], "gauge", NULL),
                         CRDT_ERR_INVALID_ARG);
        ck_assert_int_eq(nprom_sample_u64(&b, bad_names[i], NULL, 1),
                         CRDT_ERR_INVALID_ARG);
    }
    ck_assert(nprom_valid_name("_a:b9"));
    ck_assert(!nprom_valid_name(NULL));
    ck_assert_int_eq(nprom_header(&b, "m", "histogram", NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nprom_metric_u64(&b, "m", NULL, NULL, NULL, 1),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nprom_label(&b, "a:b", "v"), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nprom_label(&b, "a", NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(nprom_sample_u64(NULL, "m", NULL, 1),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(b.len, 0);
    crdt_buf_clear(&b);

    /* a fixed buffer that is too small is left as it was */
    crdt_buf_init_fixed(&b, mem, sizeof mem);
    ck_assert_int_eq(nprom_sample_u64(&b, "m", NULL, 1), CRDT_OK);
    ck_assert_int_eq(nprom_sample_u64(&b, "m", NULL, 12345), CRDT_ERR_BUFFER);
    ck_assert_int_eq(nprom_label(&b, "k", "v"), CRDT_ERR_BUFFER);
    expect_buf(&b, "m 1\n");
}
END_TEST

/* ---- the request-head parser ----------------------------------------- */

START_TEST(test_nhttp_parse_table)
{
    static const struct {
        const char *in;
        int want;
        const char *method, *path; /* when OK */
        int minor;
        size_t head_len; /* when OK: 0 means all of in */
    } t[] = {
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", NHTTP_HEAD_OK,
         "GET", "/metrics", 1, 0},
        {"HEAD /?a=b HTTP/1.0\n\n", NHTTP_HEAD_OK, "HEAD", "/", 0, 0},
        {"GET / HTTP/1.0\nhost:\n\r\n", NHTTP_HEAD_OK, "GET", "/", 0, 0},
        {"GET /x HTTP/1.1\nHOST: a\n\nrest", NHTTP_HEAD_OK, "GET", "/x",
         1, 25},
        {"", NHTTP_HEAD_PARTIAL, NULL, NULL, 0, 0},
        {"GET / HTTP/1.1\r\nHost: x\r\n", NHTTP_HEAD_PARTIAL, NULL, NULL,
         0, 0},
        {"GET / HTTP/1.1\r\nHost: x\n\r", NHTTP_HEAD_PARTIAL, NULL, NULL,
         0, 0},
        {"GET / HTTP/1.1\r\n\r\n", NHTTP_HEAD_BAD, NULL, NULL, 0, 0},
        {"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", NHTTP_HEAD_BAD,
         NULL, NULL, 0, 0},
        {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", NHTTP_HEAD_BAD, NULL,
         NULL, 0, 0},
        {"GET *  HTTP/1.1\r\nHost: a\r\n\r\n", NHTTP_HEAD_BAD, NULL,
         NULL, 0, 0},
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", NHTTP_HEAD_BAD, NULL,
         NULL, 0, 0},
        {"GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", NHTTP_HEAD_BAD, NULL,
         NULL, 0, 0},
        {"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", NHTTP_HEAD_BAD, NULL,
         NULL, 0, 0},
        {"\n\n", NHTTP_HEAD_BAD, NULL, NULL, 0, 0},
    };
    nhttp_request r;
    size_t i, len, scanned;
    int rv;

    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        len = strlen(t[i].in);
        memset(&r, 0, sizeof r);
        rv = nhttp_parse_head(t[i].in, len, NHTTP_DEFAULT_MAX_HEAD, NULL, &r);
        ck_assert_msg(rv == t[i].want, "case %zu: %d, want %d", i, rv,
                      t[i].want);
        if (rv != NHTTP_HEAD_OK) {
            ck_assert_ptr_null(r.method); /* not written */
            continue;
        }
        ck_assert_ptr_eq(r.method, t[i].in);
        ck_assert_uint_eq(r.mlen, strlen(t[i].method));
        ck_assert_int_eq(memcmp(r.method, t[i].method, r.mlen), 0);
        ck_assert_uint_eq(r.plen, strlen(t[i].path));
        ck_assert_int_eq(memcmp(r.path, t[i].path, r.plen), 0);
        ck_assert_int_eq(r.minor, t[i].minor);
        ck_assert_uint_eq(r.head_len, t[i].head_len ? t[i].head_len : len);
        /* one byte less is not a head yet */
        ck_assert_int_eq(nhttp_parse_head(t[i].in, r.head_len - 1,
                                          NHTTP_DEFAULT_MAX_HEAD, NULL, &r),
                         NHTTP_HEAD_PARTIAL);
    }

    /* resuming: byte by byte as reads would arrive */
    {
        static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

        scanned = 0;
        for (len = 0; len < sizeof req - 1; len++)
            ck_assert_int_eq(nhttp_parse_head(req, len, 64, &scanned, &r),
                             NHTTP_HEAD_PARTIAL);
        ck_assert_uint_le(scanned, len);
        ck_assert_int_eq(nhttp_parse_head(req, len, 64, &scanned, &r),
                         NHTTP_HEAD_OK);
        ck_assert_uint_eq(r.head_len, sizeof req - 1);
        /* the limit: no end within max_head bytes; at most max bytes read */
        ck_assert_int_eq(nhttp_parse_head(req, len, len - 1, NULL, &r),
                         NHTTP_HEAD_TOO_LARGE);
        ck_assert_int_eq(nhttp_parse_head(req, len - 1, len - 1, NULL, &r),
                         NHTTP_HEAD_TOO_LARGE);
        ck_assert_int_eq(nhttp_parse_head(req, len - 2, len - 1, NULL, &r),
                         NHTTP_HEAD_PARTIAL);
        ck_assert_int_eq(nhttp_parse_head(req, len + 100, len, NULL, &r),
                         NHTTP_HEAD_OK);
        ck_assert_int_eq(nhttp_parse_head(NULL, 0, 64, NULL, &r),
                         NHTTP_HEAD_PARTIAL);
    }
}
END_TEST

static Suite *nhttp_suite(void)
{
    Suite *s = suite_create("nhttp");
    TCase *tc = tcase_create("serve");

    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, test_nhttp_serve_metrics, 0, 2);
    tcase_add_test(tc, test_nhttp_serve_errors);
    tcase_add_test(tc, test_nhttp_serve_fn_error);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_nhttp_limits_idle);
    tcase_add_test(tc, test_nhttp_limits_connections);
    suite_add_tcase(s, tc);
    tc = tcase_create("lifecycle");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_nhttp_stop_open);
    tcase_add_test(tc, test_nhttp_start_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("parse");
    tcase_add_test(tc, test_nhttp_parse_table);
    suite_add_tcase(s, tc);
    tc = tcase_create("prom");
    tcase_add_test(tc, test_nprom_format);
    tcase_add_test(tc, test_nprom_escape);
    tcase_add_test(tc, test_nprom_invalid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(nhttp_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
