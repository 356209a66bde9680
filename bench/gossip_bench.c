/* SPDX-License-Identifier: MIT */
/*
 * The gossip section of crdt-bench (crdt-bench --gossip): the engine's
 * costs in rounds, bytes, time and memory, each next to its reference,
 * measured in one run.  bench/README.md ("Gossip") describes every row.
 *
 *   spread   rounds until all N nodes hold one fresh update (push-pull,
 *            fanout 1, 0% and 30% loss), mean and p99 over GOSSIP_RUNS
 *            seeded runs, next to log3(N) + ln(ln N) (Karp et al. 2000);
 *            also the fraction of nodes holding the update per round
 *            (--curve FILE) next to the push-pull recurrence
 *   steady   bytes per node per round with 1% of 10,000 keys changed per
 *            round in a 100-node cluster, next to the minimum (every node
 *            receives each change once) and to a full-state exchange
 *   repair   two nodes of 100,000 keys that differ in 10: digest bytes and
 *            round trips, the 10 states excluded
 *   merge    small deltas decoded and merged per second on one node
 *   sim      simulated deliveries per second
 *   memory   engine bytes per peer and per key
 *
 * Knobs (environment): GOSSIP_RUNS (100), GOSSIP_NODES
 * ("10,100,1000,10000"), GOSSIP_SEED (1), GOSSIP_CASES (a comma-separated
 * subset of merge, memory, repair, steady, spread); --quick runs a small
 * version of everything (a smoke test).
 */
#define _POSIX_C_SOURCE 200809L

#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GLIBC__) &&                                                    \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HAVE_MALLINFO2 1
#endif

#include <crdt/crdt.h>
#include <crdt/gossip.h>
#include <crdt/sim.h>

#include "gossip_bench.h"

/* ======================================================================
 * Helpers
 * ====================================================================== */

static void gb_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "crdt-bench --gossip: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void must(int rv, const char *what)
{
    if (rv)
        gb_die("%s: %s", what, crdt_strerror(rv));
}

static uint64_t gb_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t heap_bytes(void)
{
#ifdef HAVE_MALLINFO2
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static int inc_fn(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    return crdt_gcounter_increment(v, w->actor, *(const uint64_t *)u, d);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    char *end;
    unsigned long long v;

    if (!s || !*s)
        return dflt;
    v = strtoull(s, &end, 10);
    if (*end)
        gb_die("%s=%s: not a number", name, s);
    return v;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* ======================================================================
 * Output
 * ====================================================================== */

/* One result row: a figure and the reference it stands next to. */
typedef struct gb_row {
    char name[24];
    char params[48];
    char unit[16];
    double value;
    char ref_name[40];  /* e.g. "log3(N)+lnln(N)" */
    double ref;         /* the reference's value (NAN: none) */
    char target[40];    /* e.g. "<= ref + 1" */
    int met;            /* 1 met, 0 missed, -1 no target */
    char extra[96];     /* more fields, JSON fragment "k":v,... */
} gb_row;

typedef struct gb_out {
    gb_row *rows;
    size_t n, cap;
} gb_out;

static gb_row *add_row(gb_out *o, const char *name, const char *unit,
                       double value, const char *fmt, ...)
{
    gb_row *r;
    va_list ap;

    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 32;
        o->rows = realloc(o->rows, o->cap * sizeof *o->rows);
        if (!o->rows)
            gb_die("out of memory");
    }
    r = &o->rows[o->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    va_start(ap, fmt);
    vsnprintf(r->params, sizeof r->params, fmt, ap);
    va_end(ap);
    r->value = value;
    r->ref = NAN;
    r->met = -1;
    return r;
}

static void set_ref(gb_row *r, const char *name, double ref)
{
    snprintf(r->ref_name, sizeof r->ref_name, "%s", name);
    r->ref = ref;
}

static void set_target(gb_row *r, const char *what, bool met)
{
    snprintf(r->target, sizeof r->target, "%s", what);
    r->met = met;
}

static void fmt_num(char *b, size_t n, double v)
{
    if (isnan(v))
        snprintf(b, n, "-");
    else if (fabs(v) >= 1e6)
        snprintf(b, n, "%.3g", v);
    else if (fabs(v) >= 100 || v == floor(v))
        snprintf(b, n, "%.0f", v);
    else
        snprintf(b, n, "%.2f", v);
}

static void print_table(const gb_out *o)
{
    size_t i;

    printf("%-10s %-28s %12s %-10s %12s %-22s %-8s %s\n", "case", "params",
           "value", "unit", "reference", "ref is", "ratio", "target");
    for (i = 0; i < o->n; i++) {
        const gb_row *r = &o->rows[i];
        char v[32], ref[32], ratio[32];

        fmt_num(v, sizeof v, r->value);
        fmt_num(ref, sizeof ref, r->ref);
        if (isnan(r->ref) || r->ref == 0)
            snprintf(ratio, sizeof ratio, "-");
        else
            snprintf(ratio, sizeof ratio, "%.2f", r->value / r->ref);
        printf("%-10s %-28s %12s %-10s %12s %-22s %-8s %s%s\n", r->name,
               r->params, v, r->unit, ref, r->ref_name, ratio, r->target,
               r->met < 0 ? "" : r->met ? " (met)" : " (MISSED)");
    }
}

static void json_num(double v)
{
    if (isnan(v) || isinf(v))
        printf("null");
    else
        printf("%.6g", v);
}

static void print_json(const gb_out *o)
{
    size_t i;

    printf("{\"gossip\":[");
    for (i = 0; i < o->n; i++) {
        const gb_row *r = &o->rows[i];

        printf("%s{\"case\":\"%s\",\"params\":\"%s\",\"unit\":\"%s\","
               "\"value\":",
               i ? "," : "", r->name, r->params, r->unit);
        json_num(r->value);
        printf(",\"reference\":");
        json_num(r->ref);
        printf(",\"reference_is\":\"%s\",\"target\":\"%s\",\"met\":%s",
               r->ref_name, r->target,
               r->met < 0 ? "null" : r->met ? "true" : "false");
        if (r->extra[0])
            printf(",%s", r->extra);
        printf("}");
    }
    printf("]}\n");
}

/* ======================================================================
 * spread: rounds until every node holds a fresh update
 * ====================================================================== */

#define ROUND_MS 100u
#define CURVE_ROUNDS 40

typedef struct spread_ctx {
    char key[32];
    size_t klen;
    size_t have;        /* nodes holding the current update */
    uint8_t *holds;     /* per node */
    uint64_t t0;        /* write time */
    uint64_t done;      /* time every node held it, or 0 */
    size_t n;
    double *curve;      /* per round: sum over runs of the fraction */
} spread_ctx;

static void spread_on_change(void *ud, size_t node, uint64_t now,
                             const uint8_t *key, size_t klen)
{
    spread_ctx *c = ud;
    size_t r;

    if (klen != c->klen || memcmp(key, c->key, klen) || c->holds[node])
        return;
    c->holds[node] = 1;
    c->have++;
    r = (size_t)((now - c->t0 + ROUND_MS - 1) / ROUND_MS);
    if (c->curve)
        for (; r < CURVE_ROUNDS; r++)
            c->curve[r] += 1.0 / (double)c->n;
    if (c->have == c->n)
        c->done = now;
}

/* The push-pull recurrence for the uninformed fraction u: a node stays
 * uninformed if no informed node's push reaches it (each lands with
 * probability 1 - loss) and its own pull fails (request and answer both
 * delivered, to an informed peer). */
static double theory_next(double u, double loss)
{
    double i = 1.0 - u, q = 1.0 - loss;

    return u * exp(-i * q) * (1.0 - i * q * q);
}

static double karp(double n)
{
    return log(n) / log(3.0) + log(log(n));
}

typedef struct spread_result {
    double mean, p99, deliveries_per_s;
    size_t complete, runs;
} spread_result;

static spread_result run_spread(size_t n, double loss, size_t runs,
                                uint64_t seed, const crdt_registry *reg,
                                double *curve)
{
    crdt_sim_settings s;
    crdt_sim *sim;
    spread_ctx c;
    spread_result res = {0, 0, 0, 0, runs};
    double *rounds = calloc(runs, sizeof *rounds);
    crdt_sim_stats st;
    uint64_t t_start, delivered0, wall0, wall = 0;
    size_t r;

    if (!rounds)
        gb_die("out of memory");
    memset(&c, 0, sizeof c);
    c.n = n;
    c.curve = curve;
    c.holds = calloc(n, 1);
    if (!c.holds)
        gb_die("out of memory");
    crdt_sim_settings_default(&s);
    s.nodes = n;
    s.seed = seed;
    s.latency_min_ms = 1;
    s.latency_max_ms = 10;
    s.loss = loss;
    s.gossip.round_ms = ROUND_MS;
    s.gossip.fanout = 1;
    s.gossip.registry = reg;
    s.on_change = spread_on_change;
    s.user_data = &c;
    must(crdt_sim_new(&sim, &s, NULL), "sim");
    /* let every node's timers start */
    must(crdt_sim_run_until(sim, 1000), "run");
    crdt_sim_stats_get(sim, &st);
    delivered0 = st.delivered;
    for (r = 0; r < runs; r++) {
        size_t origin = (size_t)(mix(seed * 1000003u + r) % n);
        uint64_t by = 1, limit;

        c.klen = (size_t)snprintf(c.key, sizeof c.key, "u%zu", r);
        memset(c.holds, 0, n);
        c.have = 1;
        c.holds[origin] = 1;
        c.done = 0;
        c.t0 = crdt_sim_now(sim);
        if (curve) {
            size_t k;

            for (k = 0; k < CURVE_ROUNDS; k++)
                curve[k] += 1.0 / (double)n;
        }
        must(crdt_sim_update(sim, origin, c.key, c.klen,
                             crdt_gcounter_type(), inc_fn, &by),
             "update");
        limit = c.t0 + 600000;
        wall0 = gb_now_ns();
        t_start = c.t0;
        while (!c.done && crdt_sim_now(sim) < limit)
            must(crdt_sim_run_until(sim, crdt_sim_now(sim) + ROUND_MS),
                 "run");
        wall += gb_now_ns() - wall0;
        if (c.done) {
            rounds[res.complete++] =
                (double)(c.done - t_start) / (double)ROUND_MS;
        }
        /* the next run starts at a round boundary of the clock */
        must(crdt_sim_run_until(sim, crdt_sim_now(sim) + 2 * ROUND_MS -
                                         crdt_sim_now(sim) % ROUND_MS),
             "run");
    }
    crdt_sim_stats_get(sim, &st);
    if (res.complete) {
        double sum = 0;
        size_t k;

        qsort(rounds, res.complete, sizeof *rounds, cmp_dbl);
        for (k = 0; k < res.complete; k++)
            sum += rounds[k];
        res.mean = sum / (double)res.complete;
        /* nearest rank */
        k = (size_t)ceil(0.99 * (double)res.complete);
        res.p99 = rounds[k ? k - 1 : 0];
    }
    res.deliveries_per_s = wall ? (double)(st.delivered - delivered0) /
                                      ((double)wall / 1e9)
                                : 0;
    crdt_sim_free(sim);
    free(c.holds);
    free(rounds);
    return res;
}

static void bench_spread(gb_out *o, const size_t *ns, size_t nn,
                         size_t runs, uint64_t seed, FILE *curve_file)
{
    crdt_registry *reg = crdt_registry_new(NULL);
    double dps[2 * 16];
    size_t i, li;
    static const double losses[] = {0.0, 0.3};

    if (nn > 16)
        gb_die("at most 16 cluster sizes");

    if (!reg || crdt_registry_add_builtins(reg))
        gb_die("registry");
    for (i = 0; i < nn; i++) {
        for (li = 0; li < 2; li++) {
            double curve[CURVE_ROUNDS] = {0}, th = karp((double)ns[i]);
            bool plot = curve_file && ns[i] == 1000;
            uint64_t t0 = gb_now_ns();
            spread_result sr;
            gb_row *r;

            fprintf(stderr, "# spread N=%zu loss=%.0f%%: %zu runs...\n",
                    ns[i], losses[li] * 100, runs);
            sr = run_spread(ns[i], losses[li], runs, seed + i * 10 + li, reg,
                            plot ? curve : NULL);
            fprintf(stderr, "#   %.1f s, %.3g deliveries/s\n",
                    (double)(gb_now_ns() - t0) / 1e9, sr.deliveries_per_s);
            dps[2 * i + li] = sr.deliveries_per_s;
            r = add_row(o, "spread", "rounds", sr.mean,
                        "N=%zu loss=%.0f%% mean", ns[i], losses[li] * 100);
            set_ref(r, "log3(N)+lnln(N)", th);
            snprintf(r->extra, sizeof r->extra,
                     "\"runs\":%zu,\"complete\":%zu", sr.runs, sr.complete);
            if (ns[i] >= 1000 && losses[li] == 0)
                set_target(r, "<= ref + 1", sr.mean <= th + 1);
            if (ns[i] == 1000 && losses[li] > 0)
                set_target(r, "<= 15", sr.mean <= 15);
            r = add_row(o, "spread", "rounds", sr.p99,
                        "N=%zu loss=%.0f%% p99", ns[i], losses[li] * 100);
            set_ref(r, "log3(N)+lnln(N)", th);
            if (ns[i] >= 1000 && losses[li] == 0)
                set_target(r, "<= ref + 3", sr.p99 <= th + 3);
            if (sr.complete < sr.runs) {
                r = add_row(o, "spread", "runs", (double)sr.complete,
                            "N=%zu loss=%.0f%% complete", ns[i],
                            losses[li] * 100);
                set_target(r, "all runs", false);
            }
            if (plot) {
                double u = 1.0 - 1.0 / (double)ns[i];
                size_t k;

                fprintf(curve_file,
                        "# round measured_fraction theory_fraction "
                        "(N=%zu, loss %.0f%%, %zu runs)\n",
                        ns[i], losses[li] * 100, runs);
                /* the theory starts at the write; the first round of the
                 * origin comes half a round later on average */
                for (k = 0; k < CURVE_ROUNDS; k++) {
                    fprintf(curve_file, "%zu %.6f %.6f\n", k,
                            curve[k] / (double)runs, 1.0 - u);
                    u = theory_next(u, losses[li]);
                }
                fprintf(curve_file, "\n\n");
            }
        }
    }
    /* wall-clock rate of the spread runs above, cluster build excluded:
     * a formed cluster of N nodes holds N * N peer entries, so the rate
     * falls as the tables outgrow the caches */
    for (i = 0; i < nn; i++)
        for (li = 0; li < 2; li++) {
            gb_row *r = add_row(o, "sim", "deliveries/s", dps[2 * i + li],
                                "spread N=%zu loss=%.0f%%", ns[i],
                                losses[li] * 100);
            set_target(r, ">= 1,000,000", dps[2 * i + li] >= 1e6);
        }
    crdt_registry_free(reg);
}

/* ======================================================================
 * steady: bytes per node per round under a steady write load
 * ====================================================================== */

static void bench_steady(gb_out *o, size_t n, size_t keys, uint64_t seed,
                         bool quick)
{
    crdt_registry *reg = crdt_registry_new(NULL);
    crdt_sim_settings s;
    crdt_sim *sim;
    size_t per_round = keys / 100, warm = quick ? 5 : 20,
           rounds = quick ? 10 : 50, i, k;
    uint64_t sent0 = 0, sent = 0, written0 = 0, written = 0, snapshot = 0,
             x = seed, by = 1, conv, kind0[CRDT_GOSSIP_KINDS] = {0},
             kind[CRDT_GOSSIP_KINDS] = {0};
    crdt_buf b;
    gb_row *r;

    if (!reg || crdt_registry_add_builtins(reg))
        gb_die("registry");
    crdt_sim_settings_default(&s);
    s.nodes = n;
    s.seed = seed;
    s.latency_min_ms = 1;
    s.latency_max_ms = 10;
    s.gossip.round_ms = ROUND_MS;
    s.gossip.registry = reg;
    must(crdt_sim_new(&sim, &s, NULL), "sim");
    fprintf(stderr, "# steady: %zu nodes, %zu keys, %zu writes a round\n",
            n, keys, per_round);
    /* every key written once, then converged */
    for (k = 0; k < keys; k++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "key%zu", k);

        must(crdt_sim_update(sim, (size_t)(mix(x++) % n), key, (size_t)kl,
                             crdt_gcounter_type(), inc_fn, &by),
             "update");
        if (k % per_round == per_round - 1)
            must(crdt_sim_run_until(sim, crdt_sim_now(sim) + ROUND_MS),
                 "run");
    }
    must(crdt_sim_run_until_converged(sim, crdt_sim_now(sim) + 600000,
                                      &conv),
         "converge");
    if (conv == CRDT_GOSSIP_NEVER)
        gb_die("steady: the initial load did not converge");
    for (i = 0; i < warm + rounds; i++) {
        if (i == warm) {
            for (k = 0; k < n; k++) {
                crdt_gossip_metrics m;

                crdt_gossip_metrics_get(crdt_sim_node(sim, k), &m);
                sent0 += m.bytes_sent;
                written0 += m.delta_bytes_written;
                for (i = 1; i < CRDT_GOSSIP_KINDS; i++)
                    kind0[i] += m.sent_bytes[i];
                i = warm;
            }
        }
        for (k = 0; k < per_round; k++) {
            char key[16];
            int kl = snprintf(key, sizeof key, "key%zu",
                              (size_t)(mix(x++) % keys));
            uint64_t step = ROUND_MS * k / per_round;

            must(crdt_sim_run_until(sim, crdt_sim_now(sim) +
                                             (step ? 1 : 0)),
                 "run");
            must(crdt_sim_update(sim, (size_t)(mix(x++) % n), key,
                                 (size_t)kl, crdt_gcounter_type(), inc_fn,
                                 &by),
                 "update");
        }
        must(crdt_sim_run_until(sim, (crdt_sim_now(sim) / ROUND_MS + 1) *
                                         ROUND_MS),
             "run");
    }
    for (k = 0; k < n; k++) {
        crdt_gossip_metrics m;

        crdt_gossip_metrics_get(crdt_sim_node(sim, k), &m);
        sent += m.bytes_sent;
        written += m.delta_bytes_written;
        for (i = 1; i < CRDT_GOSSIP_KINDS; i++)
            kind[i] += m.sent_bytes[i];
    }
    fprintf(stderr, "#   bytes per node per round by kind:");
    for (i = 1; i < CRDT_GOSSIP_KINDS; i++)
        fprintf(stderr, " %s %.0f", crdt_gossip_kind_name((int)i),
                (double)(kind[i] - kind0[i]) / (double)n / (double)rounds);
    fprintf(stderr, "\n");
    crdt_buf_init(&b, NULL);
    must(crdt_gossip_snapshot(crdt_sim_node(sim, 0), &b), "snapshot");
    snapshot = b.len;
    crdt_buf_clear(&b);
    {
        double per = (double)(sent - sent0) / (double)n / (double)rounds;
        /* each change (its bytes as a PUSH item) reaches the n - 1 other
         * nodes once: per node and round, the round's changes' bytes
         * times (n - 1) / n, sent and received alike */
        double min = (double)(written - written0) * (double)(n - 1) /
                     (double)n / (double)rounds;

        r = add_row(o, "steady", "bytes/node/round", per,
                    "N=%zu keys=%zu 1%%/round", n, keys);
        set_ref(r, "minimum", min);
        set_target(r, "<= 2 x minimum", per <= 2 * min);
        r = add_row(o, "steady", "bytes/node/round", per,
                    "N=%zu keys=%zu vs full", n, keys);
        set_ref(r, "full-state exchange", (double)snapshot);
    }
    crdt_sim_free(sim);
    crdt_registry_free(reg);
}

/* ======================================================================
 * repair: two stores of K keys that differ in D
 * ====================================================================== */

static crdt_gossip *repair_node(uint64_t id, const crdt_registry *reg)
{
    crdt_gossip_settings s;
    crdt_gossip *g;

    crdt_gossip_settings_default(&s);
    s.node_id = id;
    s.seed = id;
    s.registry = reg;
    s.log_max_bytes = 0; /* no fast path: the digests alone */
    s.repair_ms = 1000;
    s.round_ms = 1000000; /* no rounds in the measured window */
    must(crdt_gossip_new(&g, &s, NULL), "new");
    must(crdt_gossip_add_peer(g, 3 - id, NULL, 0), "peer");
    return g;
}

static void bench_repair(gb_out *o, size_t keys, size_t diff)
{
    crdt_registry *reg = crdt_registry_new(NULL);
    crdt_gossip *a, *b;
    crdt_buf snap;
    uint8_t *buf = malloc(CRDT_GOSSIP_MAX_DATAGRAM);
    uint64_t by = 1, bytes = 0, state_bytes = 0, t;
    size_t k, waves = 0, last_digest_wave = 0;
    crdt_gossip_metrics ma;
    gb_row *r;

    if (!reg || crdt_registry_add_builtins(reg) || !buf)
        gb_die("setup");
    fprintf(stderr, "# repair: %zu keys, %zu differ\n", keys, diff);
    a = repair_node(1, reg);
    b = repair_node(2, reg);
    for (k = 0; k < keys; k++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "key%zu", k);

        must(crdt_gossip_update(a, key, (size_t)kl, crdt_gcounter_type(),
                                inc_fn, &by),
             "update");
    }
    crdt_buf_init(&snap, NULL);
    must(crdt_gossip_snapshot(a, &snap), "snapshot");
    must(crdt_gossip_restore(b, snap.data, snap.len, NULL), "restore");
    crdt_buf_clear(&snap);
    for (k = 0; k < diff; k++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "key%zu",
                          (size_t)(mix(k) % keys));

        must(crdt_gossip_update(b, key, (size_t)kl, crdt_gcounter_type(),
                                inc_fn, &by),
             "update");
    }
    if (crdt_gossip_digest(a) == crdt_gossip_digest(b))
        gb_die("repair: the stores do not differ");
    /* start both clocks; let a's repair timer fire once */
    must(crdt_gossip_tick(a, 1), "tick");
    must(crdt_gossip_tick(b, 1), "tick");
    crdt_gossip_metrics_get(a, &ma);
    for (t = 1; ma.repairs == 0; t += 10) {
        must(crdt_gossip_tick(a, t), "tick");
        crdt_gossip_metrics_get(a, &ma);
    }
    /* waves: deliver everything a has queued to b, then b's to a, ... */
    for (;;) {
        crdt_gossip *from = waves % 2 ? b : a, *to = waves % 2 ? a : b;
        crdt_gossip_datagram dg;
        bool any = false, digest = false;

        while (crdt_gossip_poll(from, &dg, buf, CRDT_GOSSIP_MAX_DATAGRAM) ==
               CRDT_OK) {
            int kind = buf[4] == 0xcf ? buf[13] : buf[5];

            any = true;
            if (kind == CRDT_GOSSIP_STATES) {
                state_bytes += dg.len;
            } else if (kind == CRDT_GOSSIP_TREE || kind == CRDT_GOSSIP_KEYS ||
                       kind == CRDT_GOSSIP_WANT) {
                bytes += dg.len;
                digest = true;
            }
            must(crdt_gossip_receive(to, t, NULL, 0, buf, dg.len), "recv");
        }
        if (!any)
            break;
        waves++;
        if (getenv("GOSSIP_DEBUG"))
            fprintf(stderr, "#   wave %zu: %s (digest %d)\n", waves,
                    waves % 2 ? "a->b" : "b->a", digest);
        if (digest)
            last_digest_wave = waves;
        if (waves > 64)
            gb_die("repair: no end");
    }
    if (crdt_gossip_digest(a) != crdt_gossip_digest(b))
        gb_die("repair: the stores still differ");
    r = add_row(o, "repair", "bytes", (double)bytes,
                "keys=%zu differ=%zu digests", keys, diff);
    /* memberlist 0.2.2's push/pull of 24-byte entries, full state both
     * ways (../shared/peers/memberlist-bench: 2 (24 K + 189)) */
    set_ref(r, "memberlist push/pull", 2.0 * (24.0 * (double)keys + 189));
    set_target(r, "<= 8 KiB (stretch 2 KiB)", bytes <= 8192);
    snprintf(r->extra, sizeof r->extra, "\"state_bytes\":%" PRIu64,
             state_bytes);
    r = add_row(o, "repair", "round trips",
                (double)(last_digest_wave + 1) / 2.0,
                "keys=%zu differ=%zu digests", keys, diff);
    set_target(r, "<= 4 (stretch 2)", (last_digest_wave + 1) / 2 <= 4);
    r = add_row(o, "repair", "bytes", (double)state_bytes,
                "keys=%zu differ=%zu states", keys, diff);
    crdt_gossip_free(a);
    crdt_gossip_free(b);
    crdt_registry_free(reg);
    free(buf);
}

/* ======================================================================
 * merge: small deltas decoded and merged per second
 * ====================================================================== */

typedef struct captured {
    uint8_t **b;
    size_t *len;
    size_t n, cap, deltas;
} captured;

static void keep(captured *c, const uint8_t *b, size_t len)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->b = realloc(c->b, c->cap * sizeof *c->b);
        c->len = realloc(c->len, c->cap * sizeof *c->len);
        if (!c->b || !c->len)
            gb_die("out of memory");
    }
    c->b[c->n] = malloc(len);
    if (!c->b[c->n])
        gb_die("out of memory");
    memcpy(c->b[c->n], b, len);
    c->len[c->n++] = len;
}

static void bench_merge(gb_out *o, size_t ndeltas, size_t keys,
                        const crdt_registry *reg)
{
    enum { WRITERS = 16 };
    crdt_gossip *w[WRITERS];
    captured cap = {NULL, NULL, 0, 0, 0};
    uint8_t *buf = malloc(CRDT_GOSSIP_MAX_DATAGRAM);
    double best = 0, samples[5];
    size_t i, k, rep, made = 0;
    uint64_t by = 1, t = 0, x = 1;

    if (!buf)
        gb_die("out of memory");
    /* writers push their fresh deltas to node 1 each round: capture the
     * PUSH datagrams (kind byte 13 after a 9-byte incarnation) */
    for (i = 0; i < WRITERS; i++) {
        crdt_gossip_settings s;

        crdt_gossip_settings_default(&s);
        s.node_id = 100 + i;
        s.seed = i;
        s.cluster_id = 7;
        s.registry = reg;
        s.log_rounds = 1;
        /* node 1 never answers: keep it up, or the writers would push
         * only to probe it and their deltas would age out unsent */
        s.down_after_ms = UINT32_MAX;
        must(crdt_gossip_new(&w[i], &s, NULL), "new");
        must(crdt_gossip_add_peer(w[i], 1, NULL, 0), "peer");
    }
    while (made < ndeltas) {
        t += 100;
        for (i = 0; i < WRITERS && made < ndeltas; i++) {
            crdt_gossip_datagram dg;

            for (k = 0; k < 40 && made < ndeltas; k++, made++) {
                char key[16];
                int kl = snprintf(key, sizeof key, "key%zu",
                                  (size_t)(mix(x++) % keys));

                must(crdt_gossip_update(w[i], key, (size_t)kl,
                                        crdt_gcounter_type(), inc_fn, &by),
                     "update");
            }
            must(crdt_gossip_tick(w[i], t), "tick");
            must(crdt_gossip_tick(w[i], crdt_gossip_next_deadline(w[i])),
                 "tick");
            while (crdt_gossip_poll(w[i], &dg, buf,
                                    CRDT_GOSSIP_MAX_DATAGRAM) == CRDT_OK)
                if (buf[4] == 0xcf && buf[13] == CRDT_GOSSIP_PUSH)
                    keep(&cap, buf, dg.len);
        }
    }
    for (i = 0; i < WRITERS; i++)
        crdt_gossip_free(w[i]);
    /* node 1 receives them all, five times over (fresh each time) */
    for (rep = 0; rep < 5; rep++) {
        crdt_gossip_settings s;
        crdt_gossip *g;
        crdt_gossip_metrics m;
        uint64_t t0, ns;

        crdt_gossip_settings_default(&s);
        s.node_id = 1;
        s.cluster_id = 7;
        s.registry = reg;
        must(crdt_gossip_new(&g, &s, NULL), "new");
        t0 = gb_now_ns();
        for (i = 0; i < cap.n; i++)
            must(crdt_gossip_receive(g, 1, NULL, 0, cap.b[i], cap.len[i]),
                 "receive");
        ns = gb_now_ns() - t0;
        crdt_gossip_metrics_get(g, &m);
        if (m.deltas_received - m.deltas_redundant != ndeltas)
            gb_die("merge: %" PRIu64 " of %zu deltas merged",
                   m.deltas_received - m.deltas_redundant, ndeltas);
        samples[rep] = (double)ndeltas / ((double)ns / 1e9);
        crdt_gossip_free(g);
    }
    qsort(samples, 5, sizeof *samples, cmp_dbl);
    best = samples[2];
    {
        gb_row *r = add_row(o, "merge", "deltas/s", best,
                            "gcounter deltas, %zu keys, median", keys);

        set_target(r, ">= 1,000,000", best >= 1e6);
        snprintf(r->extra, sizeof r->extra,
                 "\"deltas\":%zu,\"datagrams\":%zu", ndeltas, cap.n);
    }
    for (i = 0; i < cap.n; i++)
        free(cap.b[i]);
    free(cap.b);
    free(cap.len);
    free(buf);
}

/* ======================================================================
 * memory: bytes per peer and per key
 * ====================================================================== */

static void bench_memory(gb_out *o, size_t npeers, size_t nkeys,
                         const crdt_registry *reg)
{
    crdt_gossip_settings s;
    crdt_gossip *g;
    uint64_t *ids = malloc(npeers * sizeof *ids), by = 1;
    size_t h0, h1, i;
    gb_row *r;

    if (!ids)
        gb_die("out of memory");
    crdt_gossip_settings_default(&s);
    s.node_id = 1;
    s.registry = reg;
    s.log_max_bytes = 0; /* keys only, no logged deltas */
    must(crdt_gossip_new(&g, &s, NULL), "new");
    for (i = 0; i < npeers; i++)
        ids[i] = 2 + i;
    h0 = heap_bytes();
    must(crdt_gossip_add_peers(g, ids, npeers), "peers");
    h1 = heap_bytes();
    r = add_row(o, "memory", "bytes/peer",
                (double)(h1 - h0) / (double)npeers, "%zu peers", npeers);
    set_target(r, "<= 64 + address", (double)(h1 - h0) / npeers <= 64);
    h0 = heap_bytes();
    for (i = 0; i < nkeys; i++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "key%zu", i);

        must(crdt_gossip_update(g, key, (size_t)kl, crdt_gcounter_type(),
                                inc_fn, &by),
             "update");
    }
    h1 = heap_bytes();
    add_row(o, "memory", "bytes/key", (double)(h1 - h0) / (double)nkeys,
            "%zu gcounter keys", nkeys);
    crdt_gossip_free(g);
    free(ids);
}

/* ======================================================================
 * Entry
 * ====================================================================== */

/* GOSSIP_CASES: comma-separated case names to run (default: all). */
static bool wanted(const char *name)
{
    const char *list = getenv("GOSSIP_CASES"), *p;
    size_t n = strlen(name);

    if (!list || !*list)
        return true;
    for (p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
            return true;
    return false;
}

int gossip_bench_main(int argc, char **argv)
{
    gb_out o = {NULL, 0, 0};
    bool json = false, quick = false;
    const char *curve_path = NULL;
    size_t ns[8], nn = 0, runs, i;
    uint64_t seed;
    FILE *curve = NULL;
    crdt_registry *reg = crdt_registry_new(NULL);
    const char *list;
    int a;

    for (a = 0; a < argc; a++) {
        if (strcmp(argv[a], "--json") == 0)
            json = true;
        else if (strcmp(argv[a], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[a], "--curve") == 0 && a + 1 < argc)
            curve_path = argv[++a];
        else if (strcmp(argv[a], "--gossip") != 0)
            gb_die("unknown argument '%s' (--json, --quick, --curve FILE)",
                   argv[a]);
    }
    if (!reg || crdt_registry_add_builtins(reg))
        gb_die("registry");
    runs = (size_t)env_u64("GOSSIP_RUNS", quick ? 5 : 100);
    seed = env_u64("GOSSIP_SEED", 1);
    list = getenv("GOSSIP_NODES");
    if (!list || !*list)
        list = quick ? "10,100" : "10,100,1000,10000";
    while (*list && nn < 8) {
        char *end;
        unsigned long long v = strtoull(list, &end, 10);

        if (end == list || v < 2)
            gb_die("GOSSIP_NODES: expected numbers >= 2, got '%s'", list);
        ns[nn++] = (size_t)v;
        list = *end == ',' ? end + 1 : end;
    }
    if (curve_path) {
        curve = fopen(curve_path, "w");
        if (!curve)
            gb_die("%s: cannot write", curve_path);
    }
    fprintf(stderr, "# libcrdt %s gossip bench: seed %" PRIu64
            ", %zu runs per spread case\n",
            crdt_version_string(), seed, runs);
    if (wanted("merge"))
        bench_merge(&o, quick ? 20000 : 400000, 1000, reg);
    if (wanted("memory"))
        bench_memory(&o, quick ? 10000 : 100000, quick ? 10000 : 100000,
                     reg);
    if (wanted("repair"))
        bench_repair(&o, quick ? 10000 : 100000, 10);
    if (wanted("steady"))
        bench_steady(&o, quick ? 20 : 100, quick ? 1000 : 10000, seed,
                     quick);
    if (wanted("spread"))
        bench_spread(&o, ns, nn, runs, seed, curve);
    if (curve && fclose(curve))
        gb_die("%s: write failed", curve_path);
    if (json)
        print_json(&o);
    else
        print_table(&o);
    for (i = 0; i < o.n; i++)
        (void)o.rows[i];
    free(o.rows);
    crdt_registry_free(reg);
    return fflush(stdout) ? 1 : 0;
}
