/* SPDX-License-Identifier: MIT */
/*
 * crdt-seal-bench: sealed datagrams (crdt/seal.h) per second.
 *
 *     bench/crdt-seal-bench [bytes...]
 *
 * For each plaintext size (default 1200, the engine's default datagram,
 * plus 64 and 8192), it times crdt_seal, crdt_seal_open (which checks the
 * tag before it decrypts, to leave its output untouched on failure),
 * crdt_sealer_open (one pass, into the sealer's buffer: what
 * crdt_sealer_receive costs before the engine), and the sealer's
 * rejection of a forged tag and of an unknown key id.  Each row is the
 * best of 5 runs of at least 0.2 s, as "op bytes ops_per_s MB_per_s".
 */
#define _POSIX_C_SOURCE 200809L

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crdt/seal.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int rv, const char *what)
{
    if (rv) {
        fprintf(stderr, "crdt-seal-bench: %s: %s\n", what, crdt_strerror(rv));
        exit(1);
    }
}

enum { OP_SEAL, OP_OPEN, OP_SEALER_OPEN, OP_REJECT_AUTH, OP_REJECT_KEY,
       OP_COUNT };
static const char *const op_names[OP_COUNT] = {
    "seal", "open", "sealer_open", "reject_auth", "reject_unknown_key"};

typedef struct ctx {
    crdt_keyring *kr;
    crdt_sealer *s;
    uint8_t *pt, *sd, *bad, *unknown, *out;
    size_t len, sdlen;
} ctx;

static int run_once(ctx *c, int op, long n)
{
    const uint8_t *p;
    size_t m;
    long i;
    int rv = 0;

    for (i = 0; i < n; i++) {
        switch (op) {
        case OP_SEAL:
            rv |= crdt_seal(c->kr, 7, c->pt, c->len, c->out,
                            c->len + CRDT_SEAL_OVERHEAD, &m);
            break;
        case OP_OPEN:
            rv |= crdt_seal_open(c->kr, 7, c->sd, c->sdlen, c->out, c->len,
                                 &m);
            break;
        case OP_SEALER_OPEN:
            rv |= crdt_sealer_open(c->s, c->sd, c->sdlen, &p, &m);
            break;
        case OP_REJECT_AUTH:
            rv |= crdt_sealer_open(c->s, c->bad, c->sdlen, &p, &m) !=
                  CRDT_ERR_AUTH;
            break;
        default:
            rv |= crdt_sealer_open(c->s, c->unknown, c->sdlen, &p, &m) !=
                  CRDT_ERR_NOT_FOUND;
            break;
        }
    }
    return rv;
}

static void bench_size(size_t len)
{
    uint8_t key[CRDT_SEAL_KEY_BYTES];
    crdt_sealer_settings ss;
    uint32_t id;
    ctx c;
    int op;

    memset(&c, 0, sizeof c);
    c.len = len;
    check(crdt_keyring_new(&c.kr, NULL), "keyring_new");
    check(crdt_seal_key_generate(&id, key, NULL, 0), "key_generate");
    check(crdt_keyring_add(c.kr, id == 1 ? 2 : 1, key, true), "add");
    crdt_sealer_settings_default(&ss);
    ss.cluster_id = 7;
    ss.max_sealed = CRDT_GOSSIP_MAX_DATAGRAM + CRDT_SEAL_OVERHEAD;
    check(crdt_sealer_new(&c.s, c.kr, &ss, NULL), "sealer_new");
    c.pt = malloc(len + 1);
    c.sd = malloc(len + CRDT_SEAL_OVERHEAD);
    c.bad = malloc(len + CRDT_SEAL_OVERHEAD);
    c.unknown = malloc(len + CRDT_SEAL_OVERHEAD);
    c.out = malloc(len + CRDT_SEAL_OVERHEAD);
    if (!c.pt || !c.sd || !c.bad || !c.unknown || !c.out) {
        fprintf(stderr, "crdt-seal-bench: out of memory\n");
        exit(1);
    }
    memset(c.pt, 0x5a, len + 1);
    check(crdt_seal(c.kr, 7, c.pt, len, c.sd, len + CRDT_SEAL_OVERHEAD,
                    &c.sdlen),
          "seal");
    memcpy(c.bad, c.sd, c.sdlen);
    c.bad[c.sdlen - 1] ^= 1;
    memcpy(c.unknown, c.sd, c.sdlen);
    c.unknown[4] ^= 0x80;
    for (op = 0; op < OP_COUNT; op++) {
        double best = 0;
        int r;

        for (r = 0; r < 5; r++) {
            long n = 256, done = 0;
            double t0 = now_s(), t;

            do {
                if (run_once(&c, op, n)) {
                    fprintf(stderr, "crdt-seal-bench: %s failed\n",
                            op_names[op]);
                    exit(1);
                }
                done += n;
                n *= 2;
                t = now_s() - t0;
            } while (t < 0.2);
            if (done / t > best)
                best = done / t;
        }
        printf("%-20s %6zu %12.0f %9.1f\n", op_names[op], len, best,
               best * (double)len / 1e6);
    }
    crdt_sealer_free(c.s);
    crdt_keyring_free(c.kr);
    free(c.pt);
    free(c.sd);
    free(c.bad);
    free(c.unknown);
    free(c.out);
}

int main(int argc, char **argv)
{
    int i;

    printf("%-20s %6s %12s %9s\n", "op", "bytes", "ops_per_s", "MB_per_s");
    if (argc < 2) {
        bench_size(1200);
        bench_size(64);
        bench_size(8192);
        return 0;
    }
    for (i = 1; i < argc; i++) {
        char *end;
        unsigned long n = strtoul(argv[i], &end, 10);

        if (*end || n > CRDT_GOSSIP_MAX_DATAGRAM) {
            fprintf(stderr, "usage: crdt-seal-bench [bytes (0..65536)...]\n");
            return 2;
        }
        bench_size((size_t)n);
    }
    return 0;
}
