/* SPDX-License-Identifier: MIT */
/*
 * crdt-node: a replica of a libcrdt-gossip store on real sockets.
 *
 *   crdt-node keygen                       a new cluster key on stdout
 *   crdt-node --name NAME --listen HOST:PORT --data DIR --key-file FILE
 *             [--key-file OLDER]... [--join HOST:PORT]... [--cluster ID]
 *             [--client SOCKET] [--metrics HOST:PORT] [--log-level L]
 *   crdt-node backup --data DIR FILE       a consistent copy, while running
 *   crdt-node restore --data DIR FILE      merge a backup into DIR (stopped)
 *
 * Exit status: 0 (a clean stop after SIGTERM or SIGINT), 1 (could not
 * start, or a failed backup or restore), 2 (usage).
 */
#include "config.h"

#include "node.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <crdt/seal.h>

#include "log.h"

static const char usage_text[] =
    "usage: crdt-node --name NAME --listen HOST:PORT --data DIR "
    "--key-file FILE\n"
    "                 [--key-file OLDER]... [--join HOST:PORT]... "
    "[--cluster ID]\n"
    "                 [--client SOCKET] [--metrics HOST:PORT] "
    "[--log-level LEVEL]\n"
    "                 [--accept-plaintext] [--round-ms N] [--repair-ms N]\n"
    "                 [--down-after-ms N] [--max-datagram BYTES]\n"
    "       crdt-node keygen\n"
    "       crdt-node backup --data DIR FILE\n"
    "       crdt-node restore --data DIR FILE\n"
    "\n"
    "Runs one replica of a gossip cluster of CRDT keys.  Datagrams are sealed\n"
    "with the first key of the first --key-file (XChaCha20-Poly1305); every\n"
    "key given is accepted, so a key can be rotated without downtime.  The\n"
    "store in DIR (LMDB) survives kill -9: a write acknowledged at level one\n"
    "or above is committed.  Clients talk to DIR/client.sock (crdt client).\n"
    "Signals: SIGTERM/SIGINT drain and stop, SIGHUP reloads the key files.\n"
    "Logs: logfmt lines on stderr; LEVEL is error, warn, info (default) or\n"
    "debug.\n";

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "crdt-node: %s\n", msg);
    fputs(usage_text, stderr);
    return 2;
}

static int parse_u32(const char *s, uint32_t *v)
{
    char *end;
    unsigned long x;

    errno = 0;
    x = strtoul(s, &end, 10);
    if (errno || *end || end == s || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

/* A new key line on stdout (the caller's umask and redirection decide the
 * file); the key is wiped from memory after. */
static int cmd_keygen(void)
{
    char text[CRDT_SEAL_KEY_TEXT_BYTES + 1];
    uint8_t key[CRDT_SEAL_KEY_BYTES];
    uint32_t id;
    int rv = crdt_seal_key_generate(&id, key, text, sizeof text), status = 0;

    sodium_memzero(key, sizeof key);
    if (rv) {
        fprintf(stderr, "crdt-node: keygen: %s\n", crdt_strerror(rv));
        return 1;
    }
    if (fputs(text, stdout) == EOF || fflush(stdout)) {
        fprintf(stderr, "crdt-node: keygen: stdout: %s\n", strerror(errno));
        status = 1;
    }
    sodium_memzero(text, sizeof text);
    return status;
}

static int cmd_backup(int argc, char **argv, bool restore)
{
    const char *dir = NULL, *file = NULL;
    char err[512] = "";
    size_t nkeys = 0;
    int i, rv;

    for (i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            dir = argv[++i];
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            return usage("backup/restore take --data DIR FILE");
    }
    if (!dir || !file)
        return usage("backup/restore take --data DIR FILE");
    rv = restore ? nstore_restore(dir, file, &nkeys, err, sizeof err)
                 : nstore_backup(dir, file, err, sizeof err);
    if (rv) {
        fprintf(stderr, "crdt-node: %s: %s\n",
                restore ? "restore" : "backup",
                err[0] ? err : crdt_strerror(rv));
        return 1;
    }
    if (restore)
        fprintf(stderr, "crdt-node: restored %zu keys into %s\n", nkeys,
                dir);
    return 0;
}

static node *the_node;

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (!the_node)
        return;
    if (signum == SIGHUP) {
        (void)node_reload_keys(the_node);
        return;
    }
    nlog(NLOG_INFO, "signal", "signal=%s action=drain",
         signum == SIGTERM ? "TERM" : "INT");
    node_drain(the_node);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"name", required_argument, NULL, 'n'},
        {"listen", required_argument, NULL, 'l'},
        {"data", required_argument, NULL, 'd'},
        {"key-file", required_argument, NULL, 'k'},
        {"join", required_argument, NULL, 'j'},
        {"cluster", required_argument, NULL, 'c'},
        {"client", required_argument, NULL, 's'},
        {"metrics", required_argument, NULL, 'm'},
        {"log-level", required_argument, NULL, 'L'},
        {"accept-plaintext", no_argument, NULL, 'P'},
        {"round-ms", required_argument, NULL, 'r'},
        {"repair-ms", required_argument, NULL, 'R'},
        {"down-after-ms", required_argument, NULL, 'D'},
        {"max-datagram", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    node_config cfg;
    uv_loop_t loop;
    uv_signal_t sig[4];
    static const int signums[] = {SIGTERM, SIGINT, SIGHUP};
    int c, rv, i;

    if (argc >= 2 && !strcmp(argv[1], "keygen"))
        return argc == 2 ? cmd_keygen() : usage("keygen takes no argument");
    if (argc >= 2 && !strcmp(argv[1], "backup"))
        return cmd_backup(argc, argv, false);
    if (argc >= 2 && !strcmp(argv[1], "restore"))
        return cmd_backup(argc, argv, true);
    memset(&cfg, 0, sizeof cfg);
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'n': cfg.name = optarg; break;
        case 'l': cfg.listen = optarg; break;
        case 'd': cfg.data = optarg; break;
        case 'k':
            if (cfg.nkey_files == NODE_MAX_KEY_FILES)
                return usage("too many --key-file");
            cfg.key_files[cfg.nkey_files++] = optarg;
            break;
        case 'j':
            if (cfg.njoins == NODE_MAX_JOINS)
                return usage("too many --join");
            cfg.joins[cfg.njoins++] = optarg;
            break;
        case 'c': cfg.cluster = optarg; break;
        case 's': cfg.client = optarg; break;
        case 'm': cfg.metrics = optarg; break;
        case 'L':
            if (nlog_parse_level(optarg) < 0)
                return usage("--log-level is error, warn, info or debug");
            nlog_set_level(nlog_parse_level(optarg));
            break;
        case 'P': cfg.accept_plaintext = true; break;
        case 'r':
            if (parse_u32(optarg, &cfg.round_ms) || !cfg.round_ms)
                return usage("bad --round-ms");
            break;
        case 'R':
            if (parse_u32(optarg, &cfg.repair_ms) || !cfg.repair_ms)
                return usage("bad --repair-ms");
            break;
        case 'D':
            if (parse_u32(optarg, &cfg.down_after_ms) || !cfg.down_after_ms)
                return usage("bad --down-after-ms");
            break;
        case 'M':
            if (parse_u32(optarg, &cfg.max_datagram))
                return usage("bad --max-datagram");
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': puts("crdt-node " PACKAGE_VERSION); return 0;
        default: return usage(NULL);
        }
    }
    if (optind != argc)
        return usage("unexpected argument");
    if (!cfg.name || !*cfg.name || !cfg.listen || !cfg.data ||
        !cfg.nkey_files)
        return usage("--name, --listen, --data and --key-file are required");
    if (strlen(cfg.name) > 64 ||
        strspn(cfg.name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789._-") != strlen(cfg.name))
        return usage("--name is 1 to 64 letters, digits, '.', '_' or '-'");
    signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&loop)) {
        fputs("crdt-node: cannot make an event loop\n", stderr);
        return 1;
    }
    for (i = 0; i < 3; i++) {
        uv_signal_init(&loop, &sig[i]);
        uv_signal_start(&sig[i], on_signal, signums[i]);
        uv_unref((uv_handle_t *)&sig[i]);
    }
    rv = node_start(&the_node, &loop, &cfg);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* the node's handles are closed: close the signals and anything left */
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    node_free(the_node);
    return rv ? 1 : 0;
}
