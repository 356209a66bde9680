/* SPDX-License-Identifier: MIT */
/*
 * libcrdt-node's UDP transport (crdt/gossip_uv.h): addresses, start and
 * stop, two nodes converging over loopback, and what the transport
 * counts.  Only 127.0.0.1 and ::1 are used, on ports the kernel picks;
 * every loop run is bounded in time.
 */
#define _POSIX_C_SOURCE 200809L

#include <check.h>
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

static Suite *uv_suite(void)
{
    Suite *s = suite_create("gossip_uv");
    TCase *tc = tcase_create("uv");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_uv_addresses);
    tcase_add_test(tc, test_uv_start_errors);
    tcase_add_test(tc, test_uv_two_nodes);
    tcase_add_test(tc, test_uv_sealed);
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
