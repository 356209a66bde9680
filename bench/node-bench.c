/* SPDX-License-Identifier: MIT */
/*
 * crdt-node-bench: crdt-node end to end, on a 3-node loopback cluster the
 * bench starts itself.
 *
 *     bench/crdt-node-bench [--node-bin PATH] [--clients C] [--seconds S]
 *                           [--runs R] [--keys K] [--updates N]
 *                           [--round-ms MS] [--quick] [--json]
 *
 * 1. Client requests per second through the nodes' Unix client sockets:
 *    C (4) threads, each with its own crdt_client connected to node
 *    (thread % 3), issue pncounter `inc` (by 1) on random keys of K (1000)
 *    at each level (local, one, quorum, all), then `get` at one and
 *    quorum, for S (1.0) seconds a case.  Each request is timed
 *    (CLOCK_MONOTONIC around crdt_client_call); a run reports ok replies
 *    per second and the p50 / p99 / max of their latencies.  Runs are
 *    interleaved across cases (run 1 of every case, then run 2, ...) and
 *    each number is the median over R (3) runs.
 * 2. Sealed datagrams per second: one op = crdt_seal then crdt_seal_open
 *    (and crdt_sealer_seal then crdt_sealer_open) of a 1,200-byte and a
 *    100-byte datagram; median of 5 runs of at least 0.2 s.
 * 3. Bytes on the wire per update: N (1000) pncounter incs at level one on
 *    node 1 (one client, 100 keys), until node 2 and 3 hold every key's
 *    state (compared with `get` at level local); the nodes' status
 *    bytes_sent and datagrams_sent, summed over the 3 nodes, from before
 *    the first write to convergence, divided by N, gross and net of the
 *    idle traffic (measured for 1 s before).  The same writes, at the
 *    same pace, through 3 unsealed crdt_gossip nodes in this process
 *    (poll mode, datagrams delivered at once, simulated clock), give the
 *    unsealed bytes; the nodes' own bytes minus 45 (CRDT_SEAL_OVERHEAD)
 *    per datagram give their plaintext.
 *
 * Nodes: crdt-node (--node-bin, default the build's tools/crdt-node) with
 * --round-ms MS (100), a fresh key, data directories under
 * /tmp/crdt-node-bench.XXXXXX; SIGTERM'ed, reaped (their exit status
 * checked) and removed at the end, and on error or SIGINT/SIGTERM.
 *
 * Debugging: NODE_BENCH_LOG=LEVEL gives the nodes --log-level LEVEL (warn);
 * NODE_BENCH_KEEP=1 keeps the directory (with the nodes' logs n1..n3.log).
 *
 * Caveat: clients, the 3 nodes and everything else on the machine share
 * its cores (2 on the reference box): client numbers measure the whole
 * cluster on one machine, not one node.
 */
#define _XOPEN_SOURCE 700

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <crdt/client.h>
#include <crdt/gossip.h>
#include <crdt/pncounter.h>
#include <crdt/seal.h>

#ifndef CRDT_NODE_BIN
#define CRDT_NODE_BIN "tools/crdt-node"
#endif

#define NNODES 3

/* ------------------------------------------------------------ options */

static struct {
    const char *node_bin;
    int clients;
    double seconds;
    int runs;
    unsigned keys;
    unsigned updates;
    unsigned round_ms;
    bool json;
} opt = {NULL, 4, 1.0, 3, 1000, 1000, 100, false};

/* ------------------------------------------------------------ cluster */

static char tmpdir[64];
static pid_t pids[NNODES];
static int ports[NNODES];
static char sockpath[NNODES][128];
static volatile sig_atomic_t interrupted;
static int exit_status[NNODES] = {-1, -1, -1};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) && errno == EINTR && !interrupted)
        ;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* SIGTERM every node still running, reap it (SIGKILL after 5 s), remove
 * the temporary directory.  Idempotent. */
static void stop_cluster(void)
{
    double t0 = now_s();
    int i, left;

    for (i = 0; i < NNODES; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    do {
        left = 0;
        for (i = 0; i < NNODES; i++) {
            int st;

            if (pids[i] <= 0)
                continue;
            if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
                exit_status[i] = WIFEXITED(st) ? WEXITSTATUS(st)
                                               : 128 + WTERMSIG(st);
                pids[i] = 0;
            } else
                left++;
        }
        if (left && now_s() - t0 > 5.0) {
            for (i = 0; i < NNODES; i++)
                if (pids[i] > 0) {
                    fprintf(stderr,
                            "crdt-node-bench: node %d did not stop on "
                            "SIGTERM within 5 s: SIGKILL\n",
                            i + 1);
                    kill(pids[i], SIGKILL);
                    waitpid(pids[i], NULL, 0);
                    exit_status[i] = 128 + SIGKILL;
                    pids[i] = 0;
                }
            left = 0;
        }
        if (left)
            sleep_ms(10);
    } while (left);
    if (tmpdir[0]) {
        if (getenv("NODE_BENCH_KEEP"))
            fprintf(stderr, "crdt-node-bench: kept %s (NODE_BENCH_KEEP)\n",
                    tmpdir);
        else
            nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        tmpdir[0] = 0;
    }
}

static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("crdt-node-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (tmpdir[0]) {
        int i;

        for (i = 0; i < NNODES; i++) {
            char p[160], line[512];
            FILE *f;

            snprintf(p, sizeof p, "%s/n%d.log", tmpdir, i + 1);
            if ((f = fopen(p, "r"))) {
                while (fgets(line, sizeof line, f))
                    fprintf(stderr, "  n%d: %s", i + 1, line);
                fclose(f);
            }
        }
    }
    stop_cluster();
    exit(1);
}

static void on_signal(int sig)
{
    int i;

    (void)sig;
    interrupted = 1;
    for (i = 0; i < NNODES; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
}

static void check(int rv, const char *what)
{
    if (rv)
        die("%s: %s", what, crdt_strerror(rv));
}

/* Three free UDP ports on 127.0.0.1 (bound together, then released). */
static void pick_ports(void)
{
    int fd[NNODES], i;

    for (i = 0; i < NNODES; i++) {
        struct sockaddr_in a;
        socklen_t al = sizeof a;

        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd[i] < 0 || bind(fd[i], (struct sockaddr *)&a, sizeof a) ||
            getsockname(fd[i], (struct sockaddr *)&a, &al))
            die("cannot pick a UDP port: %s", strerror(errno));
        ports[i] = ntohs(a.sin_port);
    }
    for (i = 0; i < NNODES; i++)
        close(fd[i]);
}

static void start_node(int i)
{
    char name[16], lsn[32], join[32], data[96], key[96], logp[96],
        round[16];
    sigset_t block, old;
    pid_t pid;

    snprintf(name, sizeof name, "n%d", i + 1);
    snprintf(lsn, sizeof lsn, "127.0.0.1:%d", ports[i]);
    snprintf(join, sizeof join, "127.0.0.1:%d", ports[i == 0 ? 1 : 0]);
    snprintf(data, sizeof data, "%s/d%d", tmpdir, i + 1);
    snprintf(key, sizeof key, "%s/cluster.key", tmpdir);
    snprintf(logp, sizeof logp, "%s/n%d.log", tmpdir, i + 1);
    snprintf(round, sizeof round, "%u", opt.round_ms);
    snprintf(sockpath[i], sizeof sockpath[i], "%s/client.sock", data);
    /* SIGINT and SIGTERM stay blocked from before the fork until the child
     * has reset them to the default: caught by the bench's handler in the
     * child, before exec, they would be lost and the node would not stop */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        char *argv[] = {(char *)opt.node_bin, "--name", name, "--listen",
                        lsn, "--data", data, "--key-file", key,
                        "--join", join, "--round-ms", round,
                        "--log-level",
                        getenv("NODE_BENCH_LOG") ? getenv("NODE_BENCH_LOG")
                                                 : "warn",
                        NULL};
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);

#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(opt.node_bin, argv);
        fprintf(stderr, "exec %s: %s\n", opt.node_bin, strerror(errno));
        _exit(127);
    }
    pids[i] = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* One request on a fresh connection (status). */
static int status_of(int i, char *out, size_t cap)
{
    crdt_client *c;
    crdt_client_request rq;
    crdt_client_reply rp;
    int rv;

    if ((rv = crdt_client_connect(&c, sockpath[i])))
        return rv;
    crdt_client_request_init(&rq, CRDT_OP_STATUS);
    rv = crdt_client_call(c, &rq, &rp, 5000);
    if (!rv && (!rp.ok || !rp.status))
        rv = rp.ok ? CRDT_ERR_DECODE : rp.err;
    if (!rv) {
        size_t n = rp.statuslen < cap - 1 ? rp.statuslen : cap - 1;

        memcpy(out, rp.status, n);
        out[n] = 0;
    }
    crdt_client_close(c);
    return rv;
}

static uint64_t json_u64(const char *js, const char *field)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof pat, "\"%s\":", field);
    if (!(p = strstr(js, pat)))
        die("status has no %s: %.200s", field, js);
    return strtoull(p + strlen(pat), NULL, 10);
}

static void start_cluster(void)
{
    char keyline[CRDT_SEAL_KEY_TEXT_BYTES + 1], p[96], js[8192];
    uint8_t key[CRDT_SEAL_KEY_BYTES];
    uint32_t id;
    double t0;
    int i, fd;

    strcpy(tmpdir, "/tmp/crdt-node-bench.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        tmpdir[0] = 0;
        die("mkdtemp: %s", strerror(errno));
    }
    check(crdt_seal_key_generate(&id, key, keyline, sizeof keyline),
          "key_generate");
    memset(key, 0, sizeof key);
    snprintf(p, sizeof p, "%s/cluster.key", tmpdir);
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, keyline, strlen(keyline)) !=
                      (ssize_t)strlen(keyline))
        die("cannot write %s", p);
    close(fd);
    memset(keyline, 0, sizeof keyline);
    pick_ports();
    for (i = 0; i < NNODES; i++)
        start_node(i);
    /* every node answers status and sees the 2 others up (20 s) */
    t0 = now_s();
    for (i = 0; i < NNODES;) {
        if (interrupted)
            die("interrupted");
        if (status_of(i, js, sizeof js) == CRDT_OK &&
            json_u64(js, "peers_up") >= NNODES - 1) {
            i++;
            continue;
        }
        if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) == pids[i]) {
            pids[i] = 0;
            die("node %d exited during start", i + 1);
        }
        if (now_s() - t0 > 20.0)
            die("the cluster did not form within 20 s (node %d)", i + 1);
        sleep_ms(20);
    }
    if (!opt.json)
        fprintf(stderr, "crdt-node-bench: cluster formed in %.2f s\n",
                now_s() - t0);
}

/* ---------------------------------------------------- client workload */

static uint64_t sum_field(const char *field);

enum { CASE_COUNT = 6 };
static const struct {
    int op, level;
    const char *name;
} cases[CASE_COUNT] = {
    {CRDT_OP_INC, CRDT_LEVEL_LOCAL, "inc local"},
    {CRDT_OP_INC, CRDT_LEVEL_ONE, "inc one"},
    {CRDT_OP_INC, CRDT_LEVEL_QUORUM, "inc quorum"},
    {CRDT_OP_INC, CRDT_LEVEL_ALL, "inc all"},
    {CRDT_OP_GET, CRDT_LEVEL_ONE, "get one"},
    {CRDT_OP_GET, CRDT_LEVEL_QUORUM, "get quorum"},
};

typedef struct worker {
    pthread_t th;
    int idx, op, level;
    pthread_barrier_t *bar;
    volatile const int *go;
    double deadline;
    uint64_t seed;
    uint64_t *lat;
    size_t nlat, caplat;
    uint64_t errors, ok;
    int first_err;
    char first_msg[160];
    double end;
} worker;

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    crdt_client *c = NULL;
    crdt_client_request rq;
    crdt_client_reply rp;
    char key[32];
    int rv;

    rv = crdt_client_connect(&c, sockpath[w->idx % NNODES]);
    pthread_barrier_wait(w->bar);
    if (rv) {
        w->errors++;
        w->first_err = rv;
        w->end = now_s();
        return NULL;
    }
    crdt_client_request_init(&rq, w->op);
    rq.level = w->level;
    rq.timeout_ms = 2000;
    if (w->op == CRDT_OP_INC)
        rq.type = "pncounter", rq.typelen = 9;
    rq.key = (const uint8_t *)key;
    while (!interrupted) {
        uint64_t t0, t1;
        double t;

        rq.klen = (size_t)snprintf(key, sizeof key, "k%u",
                                   (unsigned)(rnd(&w->seed) % opt.keys));
        t0 = now_ns();
        rv = crdt_client_call(c, &rq, &rp, 5000);
        t1 = now_ns();
        if (rv || !rp.ok) {
            /* a get of a key never written is "not found": still a read */
            bool absent = !rv && w->op == CRDT_OP_GET &&
                          rp.err == CRDT_ERR_NOT_FOUND;

            if (!absent) {
                if (!w->errors++) {
                    w->first_err = rv ? rv : rp.err;
                    snprintf(w->first_msg, sizeof w->first_msg, "%.*s",
                             rv ? 0 : (int)rp.msglen, rv ? "" : rp.msg);
                }
                if (rv) /* the connection is unusable */
                    break;
                goto next;
            }
        }
        w->ok++;
        if (w->nlat == w->caplat) {
            size_t nc = w->caplat ? 2 * w->caplat : 4096;
            uint64_t *nl = realloc(w->lat, nc * sizeof *nl);

            if (!nl)
                break;
            w->lat = nl;
            w->caplat = nc;
        }
        w->lat[w->nlat++] = t1 - t0;
    next:
        t = (double)t1 / 1e9;
        if (t >= w->deadline)
            break;
    }
    w->end = now_s();
    crdt_client_close(c);
    return NULL;
}

typedef struct run_result {
    double ops_s, p50_us, p99_us, max_us;
    uint64_t ok, errors, commits;
    uint64_t slow; /* replies that took 250 ms (NODE_RESEND_MS) or more */
} run_result;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static run_result client_run(int cs, int run)
{
    worker *w = calloc((size_t)opt.clients, sizeof *w);
    pthread_barrier_t bar;
    run_result r;
    uint64_t *all;
    size_t n = 0, k;
    double t0, end = 0;
    int i;

    if (!w)
        die("out of memory");
    memset(&r, 0, sizeof r);
    r.commits = sum_field("store_commits");
    pthread_barrier_init(&bar, NULL, (unsigned)opt.clients + 1);
    for (i = 0; i < opt.clients; i++) {
        w[i].idx = i;
        w[i].op = cases[cs].op;
        w[i].level = cases[cs].level;
        w[i].bar = &bar;
        w[i].seed = (uint64_t)(cs * 1000 + run * 100 + i + 1);
        w[i].deadline = 1e300;
        if (pthread_create(&w[i].th, NULL, worker_main, &w[i]))
            die("pthread_create failed");
    }
    /* the deadline is set before the barrier releases the workers */
    t0 = now_s() + 0.001;
    for (i = 0; i < opt.clients; i++)
        w[i].deadline = t0 + opt.seconds;
    pthread_barrier_wait(&bar);
    t0 = now_s();
    for (i = 0; i < opt.clients; i++) {
        pthread_join(w[i].th, NULL);
        r.ok += w[i].ok;
        r.errors += w[i].errors;
        n += w[i].nlat;
        if (w[i].end > end)
            end = w[i].end;
    }
    pthread_barrier_destroy(&bar);
    if (interrupted)
        die("interrupted");
    r.commits = sum_field("store_commits") - r.commits;
    for (i = 0; i < opt.clients; i++)
        if (w[i].errors && w[i].first_err) {
            fprintf(stderr,
                    "crdt-node-bench: %s run %d client %d: %" PRIu64
                    " errors, first: %s%s%s\n",
                    cases[cs].name, run + 1, i, w[i].errors,
                    crdt_strerror(w[i].first_err),
                    w[i].first_msg[0] ? ": " : "", w[i].first_msg);
            break;
        }
    all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        die("out of memory");
    for (i = 0, k = 0; i < opt.clients; i++) {
        if (w[i].nlat)
            memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
        k += w[i].nlat;
        free(w[i].lat);
    }
    qsort(all, n, sizeof *all, cmp_u64);
    r.ops_s = end > t0 ? (double)r.ok / (end - t0) : 0;
    if (n) {
        size_t i99 = (size_t)((double)n * 0.99 + 0.999999);

        r.p50_us = (double)all[(n - 1) / 2] / 1e3;
        r.p99_us = (double)all[(i99 ? i99 : 1) - 1] / 1e3;
        r.max_us = (double)all[n - 1] / 1e3;
        for (k = n; k > 0 && all[k - 1] >= 250000000u; k--)
            r.slow++;
    }
    free(all);
    free(w);
    return r;
}

/* ------------------------------------------------------- seal section */

typedef struct seal_row {
    const char *name;
    size_t len;
    double ns_op, ops_s;
} seal_row;

static seal_row seal_bench(size_t len, bool sealer)
{
    uint8_t key[CRDT_SEAL_KEY_BYTES], *pt, *sd, *out;
    crdt_sealer_settings ss;
    crdt_keyring *kr;
    crdt_sealer *s;
    double rates[5];
    seal_row row;
    uint32_t id;
    int r;

    check(crdt_keyring_new(&kr, NULL), "keyring_new");
    check(crdt_seal_key_generate(&id, key, NULL, 0), "key_generate");
    check(crdt_keyring_add(kr, id, key, true), "keyring_add");
    crdt_sealer_settings_default(&ss);
    ss.cluster_id = 7;
    check(crdt_sealer_new(&s, kr, &ss, NULL), "sealer_new");
    pt = malloc(len);
    sd = malloc(len + CRDT_SEAL_OVERHEAD);
    out = malloc(len + CRDT_SEAL_OVERHEAD);
    if (!pt || !sd || !out)
        die("out of memory");
    memset(pt, 0x5a, len);
    for (r = 0; r < 5; r++) {
        long n = 64, done = 0;
        double t0 = now_s(), t;

        do {
            long i;

            for (i = 0; i < n; i++) {
                size_t sl, ol;
                const uint8_t *p;

                pt[0] = (uint8_t)i;
                if (sealer) {
                    check(crdt_sealer_seal(s, pt, len, sd,
                                           len + CRDT_SEAL_OVERHEAD, &sl),
                          "sealer_seal");
                    check(crdt_sealer_open(s, sd, sl, &p, &ol),
                          "sealer_open");
                } else {
                    check(crdt_seal(kr, 7, pt, len, sd,
                                    len + CRDT_SEAL_OVERHEAD, &sl),
                          "seal");
                    check(crdt_seal_open(kr, 7, sd, sl, out, len, &ol),
                          "seal_open");
                    p = out;
                }
                if (ol != len || p[0] != (uint8_t)i)
                    die("seal round trip mismatch");
            }
            done += n;
            n *= 2;
            t = now_s() - t0;
        } while (t < 0.2);
        rates[r] = (double)done / t;
    }
    row.name = sealer ? "sealer_seal+sealer_open" : "seal+open";
    row.len = len;
    row.ops_s = median(rates, 5);
    row.ns_op = 1e9 / row.ops_s;
    crdt_sealer_free(s);
    crdt_keyring_free(kr);
    memset(key, 0, sizeof key);
    free(pt);
    free(sd);
    free(out);
    return row;
}

/* ------------------------------------------------------- wire section */

#define WIRE_KEYS 100u

typedef struct wire_result {
    double idle_s, write_s, conv_s;
    uint64_t idle_bytes, idle_dgrams;
    uint64_t bytes, dgrams; /* first write to convergence */
    bool converged;
} wire_result;

static void sums(uint64_t *bytes, uint64_t *dgrams)
{
    char js[8192];
    int i;

    *bytes = *dgrams = 0;
    for (i = 0; i < NNODES; i++) {
        if (interrupted)
            die("interrupted");
        if (status_of(i, js, sizeof js))
            die("status of node %d failed", i + 1);
        *bytes += json_u64(js, "bytes_sent");
        *dgrams += json_u64(js, "datagrams_sent");
    }
}

static uint64_t sum_field(const char *field)
{
    char js[8192];
    uint64_t t = 0;
    int i;

    for (i = 0; i < NNODES; i++) {
        if (interrupted)
            die("interrupted");
        if (status_of(i, js, sizeof js))
            die("status of node %d failed", i + 1);
        t += json_u64(js, field);
    }
    return t;
}

static crdt_client *connect_or_die(int i)
{
    crdt_client *c;
    int rv = crdt_client_connect(&c, sockpath[i]);

    if (rv)
        die("connect to node %d: %s", i + 1, crdt_strerror(rv));
    return c;
}

/* The key of update u (same sequence in the real and simulated run). */
static size_t wire_key(unsigned u, char *key, size_t cap)
{
    uint64_t s = 0x5eed0000u + u;

    return (size_t)snprintf(key, cap, "w%u", (unsigned)(rnd(&s) % WIRE_KEYS));
}

static bool wire_converged(crdt_client *c[NNODES])
{
    static uint8_t ref[4096];
    crdt_client_request rq;
    crdt_client_reply rp;
    char key[32];
    unsigned k;
    int i;

    crdt_client_request_init(&rq, CRDT_OP_GET);
    rq.level = CRDT_LEVEL_LOCAL;
    rq.key = (const uint8_t *)key;
    for (k = 0; k < WIRE_KEYS; k++) {
        size_t rl = 0;
        bool have = false;

        rq.klen = (size_t)snprintf(key, sizeof key, "w%u", k);
        for (i = 0; i < NNODES; i++) {
            int rv = crdt_client_call(c[i], &rq, &rp, 5000);

            if (rv)
                die("get on node %d: %s", i + 1, crdt_strerror(rv));
            if (i == 0) {
                if (!rp.ok || !rp.state)
                    break; /* a key no update chose */
                if (rp.slen > sizeof ref)
                    die("state too large");
                memcpy(ref, rp.state, rp.slen);
                rl = rp.slen;
                have = true;
            } else if (have && (!rp.ok || !rp.state || rp.slen != rl ||
                                memcmp(rp.state, ref, rl)))
                return false;
        }
    }
    return true;
}

static wire_result wire_real(void)
{
    crdt_client *c[NNODES];
    crdt_client_request rq;
    crdt_client_reply rp;
    wire_result w;
    uint64_t b0, d0, b1, d1;
    double t0, t1;
    char key[32];
    unsigned u;
    int i;

    memset(&w, 0, sizeof w);
    for (i = 0; i < NNODES; i++)
        c[i] = connect_or_die(i);
    /* idle traffic of the formed cluster, 1 s */
    sleep_ms(500);
    sums(&b0, &d0);
    t0 = now_s();
    sleep_ms(1000);
    sums(&b1, &d1);
    t1 = now_s();
    w.idle_s = t1 - t0;
    w.idle_bytes = b1 - b0;
    w.idle_dgrams = d1 - d0;
    /* N updates at level one on node 1 */
    sums(&b0, &d0);
    t0 = now_s();
    crdt_client_request_init(&rq, CRDT_OP_INC);
    rq.type = "pncounter";
    rq.typelen = 9;
    rq.level = CRDT_LEVEL_ONE;
    rq.key = (const uint8_t *)key;
    for (u = 0; u < opt.updates; u++) {
        int rv;

        rq.klen = wire_key(u, key, sizeof key);
        rv = crdt_client_call(c[0], &rq, &rp, 5000);
        if (rv || !rp.ok)
            die("wire update %u: %s", u,
                crdt_strerror(rv ? rv : rp.err));
        if (interrupted)
            die("interrupted");
    }
    w.write_s = now_s() - t0;
    /* until nodes 2 and 3 hold every state node 1 has (30 s) */
    while (!(w.converged = wire_converged(c)) && now_s() - t0 < 30.0 &&
           !interrupted)
        sleep_ms(5);
    t1 = now_s();
    sums(&b1, &d1);
    w.conv_s = t1 - t0;
    w.bytes = b1 - b0;
    w.dgrams = d1 - d0;
    for (i = 0; i < NNODES; i++)
        crdt_client_close(c[i]);
    return w;
}

/* The same writes through 3 unsealed engines in this process. */
typedef struct simnode {
    crdt_gossip *g;
} simnode;

static int inc1(void *value, void *delta, const crdt_gossip_write *w,
                void *user)
{
    (void)user;
    return crdt_pncounter_increment(value, w->actor, 1, delta);
}

static uint64_t sim_bytes, sim_dgrams;

/* Node and cluster ids as large as the daemon's (hashes of names: 9 bytes
 * in MessagePack), so that headers weigh the same. */
static uint64_t sim_id(int i)
{
    uint64_t s = 0xc0ffee00u + (uint64_t)i;

    return rnd(&s) | (1ull << 63);
}

static void sim_pump(crdt_gossip *g[NNODES], uint64_t t)
{
    static uint8_t buf[CRDT_GOSSIP_MAX_DATAGRAM];
    bool any;
    int i, j;

    for (i = 0; i < NNODES; i++)
        if (crdt_gossip_next_deadline(g[i]) <= t)
            check(crdt_gossip_tick(g[i], t), "sim tick");
    do {
        any = false;
        for (i = 0; i < NNODES; i++) {
            crdt_gossip_datagram dg;

            while (crdt_gossip_poll(g[i], &dg, buf, sizeof buf) == CRDT_OK) {
                char from[32];

                any = true;
                sim_bytes += dg.len;
                sim_dgrams++;
                for (j = 0; j < NNODES && sim_id(j) != dg.to; j++)
                    ;
                if (j == NNODES)
                    continue;
                snprintf(from, sizeof from, "127.0.0.1:%d", ports[i]);
                check(crdt_gossip_receive(g[j], t,
                                          (const uint8_t *)from,
                                          strlen(from), buf, dg.len),
                      "sim receive");
            }
        }
    } while (any);
}

static wire_result wire_sim(double idle_s, double write_s)
{
    crdt_gossip *g[NNODES];
    wire_result w;
    uint64_t t = 0, t0, b0, d0, idle_ms, write_ms;
    unsigned u = 0;
    int i, j;

    memset(&w, 0, sizeof w);
    for (i = 0; i < NNODES; i++) {
        crdt_gossip_settings gs;

        crdt_gossip_settings_default(&gs);
        gs.node_id = sim_id(i);
        gs.cluster_id = sim_id(100);
        gs.seed = (uint64_t)(i + 11);
        gs.round_ms = opt.round_ms;
        gs.max_datagram = CRDT_GOSSIP_DEFAULT_DATAGRAM;
        check(crdt_gossip_new(&g[i], &gs, NULL), "sim gossip_new");
    }
    for (i = 0; i < NNODES; i++)
        for (j = 0; j < NNODES; j++)
            if (i != j) {
                char a[32];

                snprintf(a, sizeof a, "127.0.0.1:%d", ports[j]);
                check(crdt_gossip_add_peer(g[i], sim_id(j),
                                           (const uint8_t *)a, strlen(a)),
                      "sim add_peer");
            }
    /* warm up 3 s, then the idle window */
    for (; t < 3000; t++)
        sim_pump(g, t);
    idle_ms = (uint64_t)(idle_s * 1000 + 0.5);
    b0 = sim_bytes;
    d0 = sim_dgrams;
    for (t0 = t; t < t0 + idle_ms; t++)
        sim_pump(g, t);
    w.idle_s = (double)idle_ms / 1000;
    w.idle_bytes = sim_bytes - b0;
    w.idle_dgrams = sim_dgrams - d0;
    /* the N writes spread evenly over write_s, then until converged */
    write_ms = (uint64_t)(write_s * 1000 + 0.5);
    b0 = sim_bytes;
    d0 = sim_dgrams;
    for (t0 = t;; t++) {
        while (u < opt.updates &&
               (write_ms == 0 ||
                (uint64_t)u * write_ms / opt.updates <= t - t0)) {
            char key[32];
            size_t kl = wire_key(u, key, sizeof key);

            check(crdt_gossip_update(g[0], key, kl, crdt_pncounter_type(),
                                     inc1, NULL),
                  "sim update");
            u++;
        }
        sim_pump(g, t);
        if (u == opt.updates && (t - t0) % 5 == 0 &&
            crdt_gossip_digest(g[1]) == crdt_gossip_digest(g[0]) &&
            crdt_gossip_digest(g[2]) == crdt_gossip_digest(g[0])) {
            w.converged = true;
            break;
        }
        if (t - t0 > 60000)
            break;
    }
    w.write_s = (double)write_ms / 1000;
    w.conv_s = (double)(t - t0) / 1000;
    w.bytes = sim_bytes - b0;
    w.dgrams = sim_dgrams - d0;
    for (i = 0; i < NNODES; i++)
        crdt_gossip_free(g[i]);
    return w;
}

/* --------------------------------------------------------------- main */

static void usage(int code)
{
    fputs("usage: crdt-node-bench [--node-bin PATH] [--clients C] "
          "[--seconds S] [--runs R]\n"
          "                       [--keys K] [--updates N] [--round-ms MS] "
          "[--quick] [--json]\n",
          code ? stderr : stdout);
    exit(code);
}

static const char *default_node_bin(const char *argv0)
{
    static char p[4096];
    const char *slash;

    if (access(CRDT_NODE_BIN, X_OK) == 0)
        return CRDT_NODE_BIN;
    /* argv[0]'s directory/../tools/crdt-node (bench/ next to tools/) */
    if ((slash = strrchr(argv0, '/'))) {
        snprintf(p, sizeof p, "%.*s/../tools/crdt-node",
                 (int)(slash - argv0), argv0);
        if (access(p, X_OK) == 0)
            return p;
    }
    return CRDT_NODE_BIN;
}

static double fmt_scale(double v, const char **unit)
{
    if (v >= 1e6) {
        *unit = " M";
        return v / 1e6;
    }
    if (v >= 1e3) {
        *unit = " k";
        return v / 1e3;
    }
    *unit = "  ";
    return v;
}

int main(int argc, char **argv)
{
    run_result res[CASE_COUNT][16];
    double med[CASE_COUNT][5];
    seal_row seal[4];
    wire_result wr, ws;
    struct sigaction sa;
    double t_start = now_s(), v[16];
    int i, r, cs;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;

        if (!strcmp(a, "--json"))
            opt.json = true;
        else if (!strcmp(a, "--quick")) {
            opt.seconds = 0.3;
            opt.runs = 1;
            opt.updates = 200;
        } else if (!strcmp(a, "--node-bin") && more)
            opt.node_bin = argv[++i];
        else if (!strcmp(a, "--clients") && more)
            opt.clients = atoi(argv[++i]);
        else if (!strcmp(a, "--seconds") && more)
            opt.seconds = atof(argv[++i]);
        else if (!strcmp(a, "--runs") && more)
            opt.runs = atoi(argv[++i]);
        else if (!strcmp(a, "--keys") && more)
            opt.keys = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--updates") && more)
            opt.updates = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--round-ms") && more)
            opt.round_ms = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            usage(0);
        else
            usage(2);
    }
    if (opt.clients < 1 || opt.clients > 256 || opt.seconds <= 0 ||
        opt.runs < 1 || opt.runs > 16 || opt.keys < 1 || opt.updates < 1 ||
        opt.round_ms < 1)
        usage(2);
    if (!opt.node_bin)
        opt.node_bin = default_node_bin(argv[0]);
    if (access(opt.node_bin, X_OK))
        die("%s is not executable (--node-bin)", opt.node_bin);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    /* 2. seal (before the nodes run: less noise) */
    if (!opt.json)
        fprintf(stderr, "crdt-node-bench: seal\n");
    seal[0] = seal_bench(1200, false);
    seal[1] = seal_bench(100, false);
    seal[2] = seal_bench(1200, true);
    seal[3] = seal_bench(100, true);

    /* 3. bytes per update, on the fresh cluster; then 1. clients */
    if (interrupted)
        die("interrupted");
    start_cluster();
    if (!opt.json)
        fprintf(stderr, "crdt-node-bench: %u updates at level one\n",
                opt.updates);
    wr = wire_real();
    ws = wire_sim(wr.idle_s, wr.write_s);
    for (r = 0; r < opt.runs; r++)
        for (cs = 0; cs < CASE_COUNT; cs++) {
            if (!opt.json)
                fprintf(stderr, "crdt-node-bench: run %d/%d %s\n", r + 1,
                        opt.runs, cases[cs].name);
            res[cs][r] = client_run(cs, r);
        }
    stop_cluster();
    for (i = 0; i < NNODES; i++)
        if (exit_status[i] != 0)
            fprintf(stderr,
                    "crdt-node-bench: node %d exited with status %d after "
                    "SIGTERM (expected 0)\n",
                    i + 1, exit_status[i]);
    for (cs = 0; cs < CASE_COUNT; cs++) {
        for (r = 0; r < opt.runs; r++)
            v[r] = res[cs][r].ops_s;
        med[cs][0] = median(v, opt.runs);
        for (r = 0; r < opt.runs; r++)
            v[r] = res[cs][r].p50_us;
        med[cs][1] = median(v, opt.runs);
        for (r = 0; r < opt.runs; r++)
            v[r] = res[cs][r].p99_us;
        med[cs][2] = median(v, opt.runs);
        for (r = 0; r < opt.runs; r++)
            v[r] = res[cs][r].max_us;
        med[cs][3] = median(v, opt.runs);
        for (r = 0; r < opt.runs; r++)
            v[r] = res[cs][r].ok ? (double)res[cs][r].commits /
                                       (double)res[cs][r].ok
                                 : 0;
        med[cs][4] = median(v, opt.runs);
    }

    {
        double n = (double)opt.updates;
        double idle_rate_r = wr.idle_s > 0 ? wr.idle_bytes / wr.idle_s : 0;
        double idle_rate_s = ws.idle_s > 0 ? ws.idle_bytes / ws.idle_s : 0;
        double gross_r = (double)wr.bytes / n, gross_s = (double)ws.bytes / n;
        double net_r = ((double)wr.bytes - idle_rate_r * wr.conv_s) / n;
        double net_s = ((double)ws.bytes - idle_rate_s * ws.conv_s) / n;
        double ovh = (double)wr.dgrams * CRDT_SEAL_OVERHEAD;
        double plain_r = ((double)wr.bytes - ovh) / n;
        double loadavg = 0;
        FILE *f = fopen("/proc/loadavg", "r");
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

        if (f) {
            if (fscanf(f, "%lf", &loadavg) != 1)
                loadavg = 0;
            fclose(f);
        }
        if (opt.json) {
            printf("{\"machine\":{\"cpus\":%ld,\"loadavg_1m\":%.2f,"
                   "\"caveat\":\"clients and the 3 nodes share the "
                   "machine's cores\"},\n",
                   ncpu, loadavg);
            printf(" \"config\":{\"nodes\":%d,\"clients\":%d,\"seconds\":"
                   "%.3f,\"runs\":%d,\"keys\":%u,\"updates\":%u,"
                   "\"round_ms\":%u},\n \"client\":[",
                   NNODES, opt.clients, opt.seconds, opt.runs, opt.keys,
                   opt.updates, opt.round_ms);
            for (cs = 0; cs < CASE_COUNT; cs++) {
                uint64_t errs = 0, slow = 0;

                for (r = 0; r < opt.runs; r++) {
                    errs += res[cs][r].errors;
                    slow += res[cs][r].slow;
                }
                printf("%s\n  {\"case\":\"%s\",\"op\":\"%s\",\"level\":\"%s\","
                       "\"ops_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
                       "\"max_us\":%.1f,\"fsyncs_per_op\":%.3f,\"errors\":%" PRIu64
                       ",\"over_250ms\":%" PRIu64 ",\"runs\":[",
                       cs ? "," : "", cases[cs].name,
                       crdt_client_op_name(cases[cs].op),
                       crdt_level_name(cases[cs].level), med[cs][0],
                       med[cs][1], med[cs][2], med[cs][3], med[cs][4], errs,
                       slow);
                for (r = 0; r < opt.runs; r++)
                    printf("%s{\"ops_per_s\":%.1f,\"ok\":%" PRIu64
                           ",\"errors\":%" PRIu64 ",\"commits\":%" PRIu64
                           ",\"over_250ms\":%" PRIu64 ",\"p50_us\":%.1f,"
                           "\"p99_us\":%.1f,\"max_us\":%.1f}",
                           r ? "," : "", res[cs][r].ops_s, res[cs][r].ok,
                           res[cs][r].errors, res[cs][r].commits,
                           res[cs][r].slow, res[cs][r].p50_us,
                           res[cs][r].p99_us, res[cs][r].max_us);
                printf("]}");
            }
            printf("],\n \"seal\":[");
            for (i = 0; i < 4; i++)
                printf("%s\n  {\"case\":\"%s\",\"bytes\":%zu,\"ns_per_op\":"
                       "%.1f,\"ops_per_s\":%.0f}",
                       i ? "," : "", seal[i].name, seal[i].len,
                       seal[i].ns_op, seal[i].ops_s);
            printf("],\n \"wire\":{\"updates\":%u,\"level\":\"one\","
                   "\"sealed\":{\"bytes\":%" PRIu64 ",\"datagrams\":%" PRIu64
                   ",\"write_s\":%.3f,\"converged_s\":%.3f,\"converged\":%s,"
                   "\"idle_bytes_per_s\":%.1f,\"idle_datagrams_per_s\":%.1f,"
                   "\"bytes_per_update\":%.1f,"
                   "\"net_bytes_per_update\":%.1f,"
                   "\"seal_overhead_bytes\":%.0f,"
                   "\"plaintext_bytes_per_update\":%.1f},\n"
                   "  \"unsealed\":{\"bytes\":%" PRIu64 ",\"datagrams\":%" PRIu64
                   ",\"converged_s\":%.3f,\"converged\":%s,"
                   "\"idle_bytes_per_s\":%.1f,\"idle_datagrams_per_s\":%.1f,"
                   "\"bytes_per_update\":%.1f,"
                   "\"net_bytes_per_update\":%.1f},\n"
                   "  \"ratio_sealed_unsealed\":%.3f,"
                   "\"net_ratio_sealed_unsealed\":%.3f}}\n",
                   opt.updates, wr.bytes, wr.dgrams, wr.write_s, wr.conv_s,
                   wr.converged ? "true" : "false", idle_rate_r,
                   wr.idle_s > 0 ? wr.idle_dgrams / wr.idle_s : 0, gross_r,
                   net_r, ovh, plain_r, ws.bytes, ws.dgrams, ws.conv_s,
                   ws.converged ? "true" : "false", idle_rate_s,
                   ws.idle_s > 0 ? ws.idle_dgrams / ws.idle_s : 0, gross_s,
                   net_s, gross_s > 0 ? gross_r / gross_s : 0,
                   net_s > 0 ? net_r / net_s : 0);
            return 0;
        }
        printf("crdt-node-bench: %d crdt-node on 127.0.0.1, %d client "
               "threads, %.1f s per case, median of %d runs\n",
               NNODES, opt.clients, opt.seconds, opt.runs);
        printf("fsyncs/op: LMDB transactions (each one fsync) of the 3 "
               "nodes per request: below 1 when the group commit batches\n"
               ">=250ms: replies of all runs that took 250 ms or more (the "
               "node resends REPL/READ every 100 ms)\n");
        printf("machine: %ld cpus, load %.2f; clients and the 3 nodes share "
               "them (numbers are the whole cluster's on one box)\n\n",
               ncpu, loadavg);
        printf("%-12s %10s %10s %10s %10s %10s %8s %8s\n", "case", "ops/s",
               "p50_us", "p99_us", "max_us", "fsyncs/op", ">=250ms",
               "errors");
        for (cs = 0; cs < CASE_COUNT; cs++) {
            const char *u;
            double x = fmt_scale(med[cs][0], &u);
            uint64_t errs = 0, slow = 0;

            for (r = 0; r < opt.runs; r++) {
                errs += res[cs][r].errors;
                slow += res[cs][r].slow;
            }
            printf("%-12s %8.2f%s %10.0f %10.0f %10.0f %10.2f %8" PRIu64
                   " %8" PRIu64 "\n",
                   cases[cs].name, x, u, med[cs][1], med[cs][2], med[cs][3],
                   med[cs][4], slow, errs);
        }
        printf("\n%-24s %6s %10s %10s\n", "seal (median of 5)", "bytes",
               "ns/op", "ops/s");
        for (i = 0; i < 4; i++) {
            const char *u;
            double x = fmt_scale(seal[i].ops_s, &u);

            printf("%-24s %6zu %10.0f %8.2f%s\n", seal[i].name, seal[i].len,
                   seal[i].ns_op, x, u);
        }
        printf("\nbytes on the wire per update: %u pncounter incs at level "
               "one on node 1, %u keys, all 3 nodes' sends until converged\n",
               opt.updates, WIRE_KEYS);
        printf("%-24s %10s %10s %10s %10s %10s\n", "", "bytes", "datagrams",
               "to_conv_s", "B/update", "net B/upd");
        printf("%-24s %10" PRIu64 " %10" PRIu64 " %10.2f %10.1f %10.1f%s\n",
               "sealed (crdt-node)", wr.bytes, wr.dgrams, wr.conv_s, gross_r,
               net_r, wr.converged ? "" : "  NOT CONVERGED");
        printf("%-24s %10.0f %10" PRIu64 " %10s %10.1f %10s\n",
               "  of which seal 45 B/dg", ovh, wr.dgrams, "", ovh / n, "");
        printf("%-24s %10" PRIu64 " %10" PRIu64 " %10.2f %10.1f %10.1f%s\n",
               "unsealed (in-process)", ws.bytes, ws.dgrams, ws.conv_s,
               gross_s, net_s, ws.converged ? "" : "  NOT CONVERGED");
        printf("sealed / unsealed: %.2fx (net of idle: %.2fx); writes took "
               "%.2f s\n",
               gross_s > 0 ? gross_r / gross_s : 0,
               net_s > 0 ? net_r / net_s : 0, wr.write_s);
        printf("idle (3 nodes): sealed %.0f B/s in %.1f datagrams/s, "
               "unsealed %.0f B/s in %.1f datagrams/s\n",
               idle_rate_r, wr.idle_s > 0 ? wr.idle_dgrams / wr.idle_s : 0,
               idle_rate_s, ws.idle_s > 0 ? ws.idle_dgrams / ws.idle_s : 0);
        printf("(net = minus the idle rate times the time to convergence; "
               "the node's plaintext is %.1f B/update)\n",
               plain_r);
        fprintf(stderr, "crdt-node-bench: %.1f s\n", now_s() - t_start);
    }
    return 0;
}
