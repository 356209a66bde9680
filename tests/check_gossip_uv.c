/* SPDX-License-Identifier: MIT */
/*
 * libcrdt-node's UDP transport (crdt/gossip_uv.h): addresses, start and
 * stop, two nodes converging over loopback, and what the transport
 * counts.  Only 127.0.0.1 and ::1 are used, on ports the kernel picks;
 * every loop run is bounded in time.
 */
#define _GNU_SOURCE 1 /* memmem */

#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>
#include <crdt/gossip_uv.h>

#include "testutil.h"

static int parse(const char *s, struct sockaddr_storage *sa)
{
    return crdt_gossip_uv_parse_addr((const uint8_t *)s, strlen(s), sa);
}

START_TEST(test_uv_addresses)
{
    static const char *const good[] = {"127.0.0.1:7946", "0.0.0.0:0",
                                       "[::1]:65535", "[fe80::1]:1"};
    static const char *const bad[] = {
        "",          "127.0.0.1",      "127.0.0.1:",  "127.0.0.1:65536",
        ":80",       "127.0.0.1:8x",   "localhost:80", "[::1]80",
        "[::1:80",   "::1:80",         "1.2.3:4",      "127.0.0.1:123456",
        "[::1]:",    "300.0.0.1:1",
        "123456789012345678901234567890123456789012345678901234567890:1"};
    struct sockaddr_storage sa;
    char out[CRDT_GOSSIP_UV_ADDR_MAX];
    size_t i, n;

    for (i = 0; i < sizeof good / sizeof *good; i++) {
        ck_assert_int_eq(parse(good[i], &sa), CRDT_OK);
        n = crdt_gossip_uv_format_addr((struct sockaddr *)&sa, out,
                                       sizeof out);
        ck_assert_uint_eq(n, strlen(good[i]));
        ck_assert_str_eq(out, good[i]);
        /* too small a buffer: 0, never a cut address */
        ck_assert_uint_eq(
            crdt_gossip_uv_format_addr((struct sockaddr *)&sa, out, n), 0);
    }
    for (i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(parse(bad[i], &sa) == CRDT_ERR_INVALID_ARG,
                      "'%s' parsed", bad[i]);
    ck_assert_int_eq(crdt_gossip_uv_parse_addr(NULL, 3, &sa),
                     CRDT_ERR_INVALID_ARG);
    memset(&sa, 0, sizeof sa);
    ck_assert_uint_eq(
        crdt_gossip_uv_format_addr((struct sockaddr *)&sa, out, sizeof out),
        0);
}
END_TEST

static crdt_gossip *node(uint64_t id)
{
    crdt_gossip_settings s;
    crdt_gossip *g;

    crdt_gossip_settings_default(&s);
    s.node_id = id;
    s.cluster_id = 9;
    s.seed = id;
    s.round_ms = 20;
    s.repair_ms = 200;
    tu_must(crdt_gossip_new(&g, &s, NULL), "gossip_new");
    return g;
}

static int closed;

static void on_closed(void *user)
{
    closed += *(int *)user;
}

START_TEST(test_uv_start_errors)
{
    uv_loop_t loop;
    crdt_gossip *g = node(1), *h = node(2);
    crdt_gossip_uv_settings us;
    crdt_gossip_uv *u = NULL, *v = NULL;
    char addr[CRDT_GOSSIP_UV_ADDR_MAX];
    int one = 1;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    crdt_gossip_uv_settings_default(&us);
    /* no address, a bad one, a bad version, NULLs */
    ck_assert_int_eq(crdt_gossip_uv_start(&u, &loop, g, &us),
                     CRDT_ERR_INVALID_ARG);
    us.listen = "127.0.0.1";
    ck_assert_int_eq(crdt_gossip_uv_start(&u, &loop, g, &us),
                     CRDT_ERR_INVALID_ARG);
    us.listen = "127.0.0.1:0";
    us.version = 99;
    ck_assert_int_eq(crdt_gossip_uv_start(&u, &loop, g, &us),
                     CRDT_ERR_INVALID_ARG);
    us.version = CRDT_GOSSIP_UV_SETTINGS_VERSION;
    ck_assert_int_eq(crdt_gossip_uv_start(NULL, &loop, g, &us),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gossip_uv_start(&u, NULL, g, &us),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_gossip_uv_start(&u, &loop, NULL, &us),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_ptr_null(u);
    /* a port already taken: CRDT_ERR_IO, and nothing left on the loop */
    tu_must(crdt_gossip_uv_start(&u, &loop, g, &us), "start");
    tu_must(crdt_gossip_uv_address(u, addr, sizeof addr), "address");
    ck_assert_int_eq(strncmp(addr, "127.0.0.1:", 10), 0);
    ck_assert_int_ne(strcmp(addr, "127.0.0.1:0"), 0);
    ck_assert_int_eq(crdt_gossip_uv_address(u, addr, 5), CRDT_ERR_BUFFER);
    tu_must(crdt_gossip_uv_address(u, addr, sizeof addr), "address");
    us.listen = addr;
    ck_assert_int_eq(crdt_gossip_uv_start(&v, &loop, h, &us), CRDT_ERR_IO);
    ck_assert_ptr_null(v);
    /* stop: the callback runs once the handles closed; the loop ends */
    closed = 0;
    crdt_gossip_uv_stop(u, on_closed, &one);
    ck_assert_int_eq(closed, 0);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    crdt_gossip_uv_stop(NULL, NULL, NULL);
    crdt_gossip_free(g);
    crdt_gossip_free(h);
}
END_TEST

static int inc_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    (void)u;
    return crdt_gcounter_increment(v, w->actor, 1, d);
}

static uint64_t counter(const crdt_gossip *g)
{
    const crdt_type *t;
    const void *v;

    if (crdt_gossip_get(g, "k", 1, &t, &v))
        return 0;
    return crdt_gcounter_value(v);
}

typedef struct pair {
    crdt_gossip *g[2];
    crdt_gossip_uv *u[2];
    uint64_t want;
    int done;
} pair;

static void on_tick(uv_timer_t *t)
{
    pair *p = t->data;

    if (counter(p->g[0]) == p->want && counter(p->g[1]) == p->want) {
        p->done = 1;
        uv_stop(t->loop);
    }
}

static void on_timeout(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop until both nodes count p->want, or 5 s. */
static void run_until(uv_loop_t *loop, pair *p)
{
    uv_timer_t check_t, limit;

    p->done = 0;
    uv_timer_init(loop, &check_t);
    uv_timer_init(loop, &limit);
    check_t.data = p;
    uv_timer_start(&check_t, on_tick, 5, 5);
    uv_timer_start(&limit, on_timeout, 5000, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&check_t, NULL);
    uv_close((uv_handle_t *)&limit, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

START_TEST(test_uv_two_nodes)
{
    static const char *const listen[] = {"127.0.0.1:0", "[::1]:0"};
    uv_loop_t loop;
    pair p;
    char addr[2][CRDT_GOSSIP_UV_ADDR_MAX];
    crdt_gossip_uv_stats st[2];
    crdt_gossip_metrics m;
    int i, fam;

    for (fam = 0; fam < 2; fam++) {
        ck_assert_int_eq(uv_loop_init(&loop), 0);
        memset(&p, 0, sizeof p);
        for (i = 0; i < 2; i++) {
            crdt_gossip_uv_settings us;

            p.g[i] = node((uint64_t)i + 1);
            crdt_gossip_uv_settings_default(&us);
            us.listen = listen[fam];
            if (crdt_gossip_uv_start(&p.u[i], &loop, p.g[i], &us) ==
                    CRDT_ERR_IO &&
                fam == 1) {
                /* no IPv6 loopback on this machine: nothing to test */
                crdt_gossip_free(p.g[i]);
                if (i == 1) {
                    crdt_gossip_uv_stop(p.u[0], NULL, NULL);
                    crdt_gossip_free(p.g[0]);
                }
                uv_run(&loop, UV_RUN_DEFAULT);
                ck_assert_int_eq(uv_loop_close(&loop), 0);
                return;
            }
            tu_must(crdt_gossip_uv_address(p.u[i], addr[i], sizeof addr[i]),
                    "address");
        }
        /* node 1 knows node 0; node 0 learns node 1 from its datagrams.
         * A third peer has no usable address: counted, not sent to. */
        tu_must(crdt_gossip_add_peer(p.g[1], 1, (const uint8_t *)addr[0],
                                     strlen(addr[0])),
                "add_peer");
        tu_must(crdt_gossip_add_peer(p.g[1], 77, (const uint8_t *)"nowhere",
                                     7),
                "add_peer");
        for (i = 0; i < 3; i++)
            tu_must(crdt_gossip_update(p.g[i % 2], "k", 1,
                                       crdt_gcounter_type(), inc_fn, NULL),
                    "update");
        tu_must(crdt_gossip_uv_flush(p.u[0]), "flush");
        p.want = 3;
        run_until(&loop, &p);
        ck_assert_msg(p.done, "no convergence over %s", listen[fam]);
        /* node 0 learned node 2 (and, maybe already, 77 from samples) */
        ck_assert_uint_ge(crdt_gossip_peer_count(p.g[0]), 1);
        for (i = 0; i < 2; i++)
            crdt_gossip_uv_stats_get(p.u[i], &st[i]);
        ck_assert_uint_gt(st[0].sent, 0);
        ck_assert_uint_gt(st[1].received, 0);
        ck_assert_uint_gt(st[1].no_address, 0);
        ck_assert_uint_eq(st[0].errors + st[1].errors, 0);
        ck_assert_uint_ge(st[0].received_bytes, st[0].received);

        /* garbage sent to node 0 from node 1's socket address is
         * dropped by the engine and changes nothing */
        {
            uv_udp_t raw;
            struct sockaddr_storage to;
            uv_buf_t b = uv_buf_init((char *)"\x96\x01garbage", 9);
            uint64_t d0 = crdt_gossip_digest(p.g[0]), bad0;

            crdt_gossip_metrics_get(p.g[0], &m);
            bad0 = m.dropped[CRDT_GOSSIP_DROP_MALFORMED];

            tu_must(crdt_gossip_uv_parse_addr((const uint8_t *)addr[0],
                                              strlen(addr[0]), &to),
                    "parse");
            ck_assert_int_eq(uv_udp_init(&loop, &raw), 0);
            ck_assert_int_ge(uv_udp_try_send(&raw, &b, 1,
                                             (struct sockaddr *)&to),
                             0);
            /* until node 0 has counted it (a few ms), or 5 s */
            for (i = 0; i < 1000; i++) {
                crdt_gossip_metrics_get(p.g[0], &m);
                if (m.dropped[CRDT_GOSSIP_DROP_MALFORMED] > bad0)
                    break;
                run_until(&loop, &p); /* converged: one 5-ms check */
            }
            ck_assert_uint_eq(m.dropped[CRDT_GOSSIP_DROP_MALFORMED],
                              bad0 + 1);
            ck_assert_uint_eq(crdt_gossip_digest(p.g[0]), d0);
            uv_close((uv_handle_t *)&raw, NULL);
        }
        closed = 0;
        for (i = 0; i < 2; i++) {
            static int one = 1; /* read when the handles close */

            crdt_gossip_uv_stop(p.u[i], on_closed, &one);
            /* stopping twice is harmless */
            crdt_gossip_uv_stop(p.u[i], on_closed, &one);
        }
        ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
        ck_assert_int_eq(closed, 2);
        ck_assert_int_eq(uv_loop_close(&loop), 0);
        for (i = 0; i < 2; i++)
            crdt_gossip_free(p.g[i]);
    }
}
END_TEST

/* Sealed transports: two nodes sharing a key converge; a third that
 * sends plaintext to one of them changes nothing there and is counted. */
typedef struct sealed {
    crdt_gossip *g[3];
    crdt_sealer *s[2];
    int done;
} sealed;

static void sealed_check(uv_timer_t *t)
{
    sealed *x = t->data;
    crdt_sealer_stats st;

    crdt_sealer_stats_get(x->s[0], &st);
    if (counter(x->g[0]) == 2 && counter(x->g[1]) == 2 &&
        st.rejected[CRDT_SEAL_REJECT_PLAINTEXT] > 0) {
        x->done = 1;
        uv_stop(t->loop);
    }
}

START_TEST(test_uv_sealed)
{
    uv_loop_t loop;
    uv_timer_t check_t, limit;
    crdt_keyring *kr;
    uint8_t key[CRDT_SEAL_KEY_BYTES];
    sealed x;
    crdt_gossip_uv *u[3];
    char addr[3][CRDT_GOSSIP_UV_ADDR_MAX];
    crdt_sealer_stats st;
    crdt_gossip_uv_stats us0;
    int i;

    memset(&x, 0, sizeof x);
    memset(key, 0x5a, sizeof key);
    tu_must(crdt_keyring_new(&kr, NULL), "keyring_new");
    tu_must(crdt_keyring_add(kr, 1, key, true), "keyring_add");
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    for (i = 0; i < 3; i++) {
        crdt_gossip_uv_settings us;

        x.g[i] = node((uint64_t)i + 1);
        crdt_gossip_uv_settings_default(&us);
        us.listen = "127.0.0.1:0";
        if (i < 2) {
            crdt_sealer_settings ss;

            crdt_sealer_settings_default(&ss);
            ss.cluster_id = 9;
            tu_must(crdt_sealer_new(&x.s[i], kr, &ss, NULL), "sealer_new");
            us.sealer = x.s[i];
        }
        tu_must(crdt_gossip_uv_start(&u[i], &loop, x.g[i], &us), "start");
        tu_must(crdt_gossip_uv_address(u[i], addr[i], sizeof addr[i]),
                "address");
    }
    for (i = 1; i < 3; i++)
        tu_must(crdt_gossip_add_peer(x.g[i], 1, (const uint8_t *)addr[0],
                                     strlen(addr[0])),
                "add_peer");
    for (i = 0; i < 2; i++)
        tu_must(crdt_gossip_update(x.g[i], "k", 1, crdt_gcounter_type(),
                                   inc_fn, NULL),
                "update");
    for (i = 0; i < 5; i++)
        tu_must(crdt_gossip_update(x.g[2], "k", 1, crdt_gcounter_type(),
                                   inc_fn, NULL),
                "update");
    uv_timer_init(&loop, &check_t);
    uv_timer_init(&loop, &limit);
    check_t.data = &x;
    uv_timer_start(&check_t, sealed_check, 5, 5);
    uv_timer_start(&limit, on_timeout, 5000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_msg(x.done, "sealed pair: no convergence, or nothing rejected");
    /* node 0 never saw node 2: not a peer, and its 5 increments absent */
    ck_assert_uint_eq(counter(x.g[0]), 2);
    ck_assert_uint_eq(crdt_gossip_peer_count(x.g[0]), 1);
    crdt_sealer_stats_get(x.s[0], &st);
    ck_assert_uint_gt(st.opened, 0);
    crdt_gossip_uv_stats_get(u[0], &us0);
    ck_assert_uint_gt(us0.sent, 0);
    ck_assert_uint_eq(us0.send_failed, 0);
    uv_close((uv_handle_t *)&check_t, NULL);
    uv_close((uv_handle_t *)&limit, NULL);
    for (i = 0; i < 3; i++)
        crdt_gossip_uv_stop(u[i], NULL, NULL);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    for (i = 0; i < 3; i++)
        crdt_gossip_free(x.g[i]);
    for (i = 0; i < 2; i++)
        crdt_sealer_free(x.s[i]);
    crdt_keyring_free(kr);
}
END_TEST

/* ------------------------------------------------------------------
 * Application datagrams: on_datagram and crdt_gossip_uv_send_to
 * ------------------------------------------------------------------ */

typedef struct app {
    int keep;      /* on_datagram's answer for application datagrams */
    int keep_all;  /* ... and for gossip datagrams (else 0) */
    unsigned n_app, n_gossip;
    char addr[CRDT_GOSSIP_UV_ADDR_MAX];
    size_t alen;
    uint8_t data[2048];
    size_t len;
    uint64_t now;
} app;

static int app_dgram(void *user, const uint8_t *addr, size_t alen,
                     const uint8_t *data, size_t len, uint64_t now_ms)
{
    app *a = user;

    if (len >= 2 && (data[0] & 0xf0) == 0x90 && data[1] == 0x01) {
        a->n_gossip++;
        return a->keep_all;
    }
    a->n_app++;
    ck_assert_uint_lt(alen, sizeof a->addr);
    memcpy(a->addr, addr, alen);
    a->addr[alen] = '\0';
    a->alen = alen;
    ck_assert_uint_le(len, sizeof a->data);
    memcpy(a->data, data, len);
    a->len = len;
    a->now = now_ms;
    return a->keep;
}

/* A plain UDP socket that keeps the last datagram it read. */
typedef struct sink {
    uv_udp_t udp;
    uint8_t buf[4096];
    uint8_t data[4096];
    size_t len;
    unsigned n;
} sink;

static void sink_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    sink *k = h->data;

    (void)hint;
    *b = uv_buf_init((char *)k->buf, sizeof k->buf);
}

static void sink_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b,
                      const struct sockaddr *from, unsigned flags)
{
    sink *k = h->data;

    (void)b;
    (void)flags;
    if (n < 0 || !from)
        return;
    memcpy(k->data, k->buf, (size_t)n);
    k->len = (size_t)n;
    k->n++;
}

typedef bool (*done_fn)(void *arg);

typedef struct waiter {
    done_fn done;
    void *arg;
    bool ok;
} waiter;

static void waiter_tick(uv_timer_t *t)
{
    waiter *w = t->data;

    if (w->done(w->arg)) {
        w->ok = true;
        uv_stop(t->loop);
    }
}

/* Runs the loop until done(arg), or 5 s; returns whether it got done. */
static bool run_while(uv_loop_t *loop, done_fn done, void *arg)
{
    uv_timer_t check_t, limit;
    waiter w = {done, arg, false};

    if (done(arg))
        return true;
    uv_timer_init(loop, &check_t);
    uv_timer_init(loop, &limit);
    check_t.data = &w;
    uv_timer_start(&check_t, waiter_tick, 2, 2);
    uv_timer_start(&limit, on_timeout, 5000, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&check_t, NULL);
    uv_close((uv_handle_t *)&limit, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return w.ok;
}

typedef struct until {
    const unsigned *counter;
    unsigned want;
    const crdt_gossip *g; /* or: bytes_received of g above want_bytes */
    uint64_t want_bytes;
    const crdt_gossip *c[2]; /* or: both count want_count */
    uint64_t want_count;
} until;

static bool until_counter(void *arg)
{
    until *u = arg;

    return *u->counter >= u->want;
}

static bool until_bytes(void *arg)
{
    until *u = arg;
    crdt_gossip_metrics m;

    crdt_gossip_metrics_get(u->g, &m);
    return m.bytes_received >= u->want_bytes;
}

static bool until_converged(void *arg)
{
    until *u = arg;

    return counter(u->c[0]) == u->want_count &&
           counter(u->c[1]) == u->want_count;
}

static uint64_t bytes_in(const crdt_gossip *g)
{
    crdt_gossip_metrics m;

    crdt_gossip_metrics_get(g, &m);
    return m.bytes_received;
}

static void check_app(bool with_seal)
{
    static const uint8_t msg1[] = "\x95\x4e" "application datagram one";
    static const uint8_t msg2[] = "\x93\x02" "another: the node gets it";
    uv_loop_t loop;
    crdt_gossip *g[2];
    crdt_gossip_uv *u[2];
    crdt_sealer *s[2] = {NULL, NULL};
    crdt_keyring *kr = NULL;
    app a[2];
    sink k;
    until w;
    char addr[3][CRDT_GOSSIP_UV_ADDR_MAX];
    uint8_t big[CRDT_GOSSIP_MAX_DATAGRAM + 1];
    size_t max;
    uint64_t b0;
    int i;

    memset(a, 0, sizeof a);
    memset(big, 0x5c, sizeof big);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    if (with_seal) {
        uint8_t key[CRDT_SEAL_KEY_BYTES];

        memset(key, 0x3c, sizeof key);
        tu_must(crdt_keyring_new(&kr, NULL), "keyring_new");
        tu_must(crdt_keyring_add(kr, 1, key, true), "keyring_add");
    }
    for (i = 0; i < 2; i++) {
        crdt_gossip_uv_settings us;

        g[i] = node((uint64_t)i + 1);
        crdt_gossip_uv_settings_default(&us);
        us.listen = "127.0.0.1:0";
        us.on_datagram = app_dgram;
        us.user = &a[i];
        if (with_seal) {
            crdt_sealer_settings ss;

            crdt_sealer_settings_default(&ss);
            ss.cluster_id = 9;
            tu_must(crdt_sealer_new(&s[i], kr, &ss, NULL), "sealer_new");
            us.sealer = s[i];
        }
        tu_must(crdt_gossip_uv_start(&u[i], &loop, g[i], &us), "start");
        tu_must(crdt_gossip_uv_address(u[i], addr[i], sizeof addr[i]),
                "address");
    }

    /* 1. an application datagram on_datagram keeps: it arrives whole,
     * with the sender's address, and the node never sees it */
    a[0].keep = 1;
    b0 = bytes_in(g[0]);
    tu_must(crdt_gossip_uv_send_to(u[1], (const uint8_t *)addr[0],
                                   strlen(addr[0]), msg1, sizeof msg1 - 1),
            "send_to");
    memset(&w, 0, sizeof w);
    w.counter = &a[0].n_app;
    w.want = 1;
    ck_assert_msg(run_while(&loop, until_counter, &w),
                  "application datagram not received");
    ck_assert_str_eq(a[0].addr, addr[1]);
    ck_assert_uint_eq(a[0].alen, strlen(addr[1]));
    ck_assert_uint_eq(a[0].len, sizeof msg1 - 1);
    ck_assert_int_eq(memcmp(a[0].data, msg1, a[0].len), 0);
    ck_assert_uint_gt(a[0].now, 0);
    ck_assert_uint_eq(bytes_in(g[0]), b0);

    /* 2. one it returns 0 for goes on to the node (which drops it) */
    a[0].keep = 0;
    tu_must(crdt_gossip_uv_send_to(u[1], (const uint8_t *)addr[0],
                                   strlen(addr[0]), msg2, sizeof msg2 - 1),
            "send_to");
    memset(&w, 0, sizeof w);
    w.g = g[0];
    w.want_bytes = b0 + sizeof msg2 - 1;
    ck_assert_msg(run_while(&loop, until_bytes, &w),
                  "datagram not handed to the node");
    ck_assert_uint_eq(bytes_in(g[0]), b0 + sizeof msg2 - 1);
    ck_assert_uint_eq(a[0].n_app, 2);
    ck_assert_int_eq(memcmp(a[0].data, msg2, a[0].len), 0);

    /* 3. gossip datagrams kept by on_datagram never reach the node */
    a[0].keep_all = 1;
    b0 = bytes_in(g[0]);
    tu_must(crdt_gossip_add_peer(g[1], 1, (const uint8_t *)addr[0],
                                 strlen(addr[0])),
            "add_peer");
    tu_must(crdt_gossip_update(g[1], "k", 1, crdt_gcounter_type(), inc_fn,
                               NULL),
            "update");
    tu_must(crdt_gossip_uv_flush(u[1]), "flush");
    memset(&w, 0, sizeof w);
    w.counter = &a[0].n_gossip;
    w.want = 2;
    ck_assert_msg(run_while(&loop, until_counter, &w),
                  "no gossip datagram seen by on_datagram");
    ck_assert_uint_eq(bytes_in(g[0]), b0);
    ck_assert_uint_eq(counter(g[0]), 0);
    ck_assert_uint_eq(crdt_gossip_peer_count(g[0]), 0);

    /* 4. ... and handed on (0), they converge the two nodes */
    a[0].keep_all = 0;
    tu_must(crdt_gossip_update(g[0], "k", 1, crdt_gcounter_type(), inc_fn,
                               NULL),
            "update");
    memset(&w, 0, sizeof w);
    w.c[0] = g[0];
    w.c[1] = g[1];
    w.want_count = 2;
    ck_assert_msg(run_while(&loop, until_converged, &w),
                  "no convergence with on_datagram set");
    ck_assert_uint_gt(bytes_in(g[0]), b0);
    ck_assert_uint_gt(a[1].n_gossip, 0);
    ck_assert_uint_eq(a[1].n_app, 0);

    /* 5. on the wire: a plain socket as the destination sees the sealed
     * bytes (45 more, not the plaintext) or, without a sealer, exactly
     * the bytes sent */
    memset(&k, 0, sizeof k);
    {
        struct sockaddr_storage sa;
        int len = (int)sizeof sa;

        tu_must(parse("127.0.0.1:0", &sa), "parse");
        ck_assert_int_eq(uv_udp_init(&loop, &k.udp), 0);
        k.udp.data = &k;
        ck_assert_int_eq(
            uv_udp_bind(&k.udp, (const struct sockaddr *)&sa, 0), 0);
        ck_assert_int_eq(
            uv_udp_getsockname(&k.udp, (struct sockaddr *)&sa, &len), 0);
        ck_assert_uint_gt(crdt_gossip_uv_format_addr(
                              (struct sockaddr *)&sa, addr[2],
                              sizeof addr[2]),
                          0);
        ck_assert_int_eq(uv_udp_recv_start(&k.udp, sink_alloc, sink_recv),
                         0);
    }
    tu_must(crdt_gossip_uv_send_to(u[0], (const uint8_t *)addr[2],
                                   strlen(addr[2]), msg1, sizeof msg1 - 1),
            "send_to");
    memset(&w, 0, sizeof w);
    w.counter = &k.n;
    w.want = 1;
    ck_assert_msg(run_while(&loop, until_counter, &w),
                  "nothing reached the plain socket");
    if (with_seal) {
        ck_assert_uint_eq(k.len, sizeof msg1 - 1 + CRDT_SEAL_OVERHEAD);
        ck_assert_ptr_null(memmem(k.data, k.len, msg1 + 2,
                                  sizeof msg1 - 3));
        ck_assert_int_ne(memcmp(k.data, msg1, 2), 0);
    } else {
        ck_assert_uint_eq(k.len, sizeof msg1 - 1);
        ck_assert_int_eq(memcmp(k.data, msg1, k.len), 0);
    }

    /* 6. errors */
    max = with_seal ? crdt_sealer_max_plaintext(s[0])
                 : crdt_gossip_max_datagram();
    ck_assert_uint_lt(max, sizeof big);
#define SEND(uu, ad, al, d, l) \
    crdt_gossip_uv_send_to((uu), (const uint8_t *)(ad), (al), (d), (l))
    ck_assert_int_eq(SEND(NULL, addr[2], strlen(addr[2]), msg1, 3),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(SEND(u[0], NULL, 5, msg1, 3), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(SEND(u[0], addr[2], 0, msg1, 3), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(SEND(u[0], "", 0, msg1, 3), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(SEND(u[0], "nowhere", 7, msg1, 3),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(SEND(u[0], "127.0.0.1:99999", 15, msg1, 3),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(SEND(u[0], addr[2], strlen(addr[2]), NULL, 3),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(SEND(u[0], addr[2], strlen(addr[2]), msg1, 0),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(SEND(u[0], addr[2], strlen(addr[2]), big, max + 1),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(SEND(u[0], addr[2], strlen(addr[2]), big,
                          CRDT_GOSSIP_MAX_DATAGRAM + 1),
                     CRDT_ERR_INVALID_ARG);
    /* the longest allowed is sent (sealed: exactly max_sealed bytes) */
    if (with_seal) {
        unsigned n0 = k.n;

        tu_must(SEND(u[0], addr[2], strlen(addr[2]), big, max), "send max");
        memset(&w, 0, sizeof w);
        w.counter = &k.n;
        w.want = n0 + 1;
        ck_assert_msg(run_while(&loop, until_counter, &w),
                      "the longest datagram did not arrive");
        ck_assert_uint_eq(k.len, max + CRDT_SEAL_OVERHEAD);
    }
    uv_close((uv_handle_t *)&k.udp, NULL);
    for (i = 0; i < 2; i++)
        crdt_gossip_uv_stop(u[i], NULL, NULL);
    /* stopped (the handles still closing): refused */
    ck_assert_int_eq(SEND(u[0], addr[1], strlen(addr[1]), msg1, 3),
                     CRDT_ERR_INVALID_ARG);
#undef SEND
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    for (i = 0; i < 2; i++) {
        crdt_gossip_free(g[i]);
        crdt_sealer_free(s[i]);
    }
    crdt_keyring_free(kr);
}

START_TEST(test_uv_app_plain)
{
    check_app(false);
}
END_TEST

START_TEST(test_uv_app_sealed)
{
    check_app(true);
}
END_TEST

static Suite *uv_suite(void)
{
    Suite *s = suite_create("gossip_uv");
    TCase *tc = tcase_create("uv");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_uv_addresses);
    tcase_add_test(tc, test_uv_start_errors);
    tcase_add_test(tc, test_uv_two_nodes);
    tcase_add_test(tc, test_uv_sealed);
    tcase_add_test(tc, test_uv_app_plain);
    tcase_add_test(tc, test_uv_app_sealed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(uv_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
