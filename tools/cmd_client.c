/* SPDX-License-Identifier: MIT */
/*
 * crdt client: talks to a running crdt-node over its client socket
 * (<crdt/client.h>).
 *
 *   crdt client --node SOCKET VERB KEY [ARG] [--type T] [--by N]
 *               [--consistency L] [--session FILE] [--timeout S]
 *
 * Exit status: 0 done, 1 error (one line on stderr), 2 usage, 4 the
 * consistency level or session could not be met within --timeout.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <crdt/client.h>
#include <crdt/type.h>

#include "cli.h"

#define EXIT_UNMET 4

static const char client_usage[] =
    "--node SOCKET VERB KEY [ARG] [OPTIONS]";

static const char client_help[] =
    "Sends one request to a running crdt-node through its client socket\n"
    "(the node's --client, by default DIR/client.sock) and prints the\n"
    "answer.  Verbs:\n"
    "  inc KEY [--by N] [--type gcounter|pncounter]\n"
    "  dec KEY [--by N]                      (pncounter)\n"
    "  set KEY VALUE [--type lww|mvreg]\n"
    "  add KEY ELEM [--type orset|gset]\n"
    "  remove KEY ELEM                       (orset)\n"
    "  enable KEY | disable KEY [--type ewflag|dwflag]\n"
    "  get KEY          prints the value exactly as `crdt value` does\n"
    "  watch KEY        one JSON line per change (as `crdt inspect`, with\n"
    "                   \"key\"), until interrupted\n"
    "  status           the node's peers and counters, as JSON\n"
    "--type names the type when the key is first written (default: gcounter\n"
    "for inc, pncounter for dec, lww for set, orset for add and remove,\n"
    "ewflag for enable and disable); a write of another type to an existing\n"
    "key is an error.\n"
    "options:\n"
    "  --consistency L  local, one (default), quorum or all: a write returns\n"
    "                   once L replicas committed it, a read merges the\n"
    "                   key's state from L replicas\n"
    "  --session FILE   read the session token from FILE (if it exists) and\n"
    "                   write the new one back: read-your-writes, monotonic\n"
    "                   reads and writes, writes-follow-reads across nodes\n"
    "  --timeout S      seconds to meet the level or session (default 5)\n"
    "exit status: 0 done, 1 error, 2 usage, 4 level or session not met in\n"
    "time (a write that timed out is applied on the node and still spreads)\n";

static int cusage(const char *fmt, const char *arg)
{
    fprintf(stderr, "crdt: client: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'crdt client --help')\n");
    return EXIT_USAGE;
}

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;

    *data = NULL;
    *len = 0;
    if (!f)
        return errno == ENOENT ? 0 : -1;
    for (;;) {
        size_t r;

        if (n == cap) {
            uint8_t *nb;

            cap = cap ? cap * 2 : 4096;
            if (cap > (2u << 20) || !(nb = realloc(buf, cap))) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return -1;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *data = buf;
    *len = n;
    return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    char tmp[4200];
    FILE *f;

    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >=
        (int)sizeof tmp)
        return -1;
    f = fopen(tmp, "wb");
    if (!f)
        return -1;
    if (fwrite(data, 1, len, f) != len || fflush(f) || fsync(fileno(f))) {
        fclose(f);
        unlink(tmp);
        return -1;
    }
    if (fclose(f) || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Prints the value of a reply's state as `crdt value` (or, with
 * @p watch, a JSON line as `crdt inspect` with the key). */
static int print_state(const crdt_client_reply *rp, const uint8_t *key,
                       size_t klen, bool watch)
{
    crdt_registry *reg = registry_new(true);
    const crdt_type *t = NULL;
    void *obj = NULL;
    const type_ops *ops;
    out ob;
    int rv, status = 0;

    if (!reg)
        return fail(EXIT_INPUT, "%s", crdt_strerror(CRDT_ERR_NOMEM));
    out_init(&ob);
    if (watch && (rp->deleted || !rp->state)) {
        out_str(&ob, "{\"key\":");
        out_json_bytes(&ob, key, klen);
        out_str(&ob, ",\"deleted\":true}\n");
        rv = ob.err;
        goto done;
    }
    rv = crdt_registry_decode(reg, rp->state, rp->slen, NULL, NULL, &t, &obj,
                              NULL);
    if (rv) {
        status = fail(EXIT_INPUT, "the node sent a state that does not "
                      "decode: %s", crdt_strerror(rv));
        goto done;
    }
    ops = type_by_tag(t->tag);
    if (!ops) {
        status = fail(EXIT_INPUT, "type %s is not supported by this tool",
                      t->name);
        goto done;
    }
    if (watch) {
        out_str(&ob, "{\"key\":");
        out_json_bytes(&ob, key, klen);
        out_str(&ob, ",\"type\":\"");
        out_str(&ob, t->name);
        out_str(&ob, "\",\"version\":");
        out_u64(&ob, CRDT_FORMAT_VERSION);
        if (!(rv = ops->inspect(obj, &ob)))
            out_str(&ob, "}\n");
    } else {
        rv = ops->value(obj, &ob);
    }
done:
    if (!status) {
        if (rv == CRDT_ERR_NOT_FOUND)
            status = fail(EXIT_INPUT, "%s has no value (never written)",
                          t ? t->name : "the key");
        else if (rv || ob.err)
            status = fail(EXIT_INPUT, "%s", crdt_strerror(rv ? rv : ob.err));
        else if (fwrite(ob.b.data, 1, ob.b.len, stdout) != ob.b.len ||
                 fflush(stdout))
            status = fail(EXIT_INPUT, "stdout: %s", strerror(errno));
    }
    if (obj)
        t->destroy(obj);
    out_clear(&ob);
    crdt_registry_free(reg);
    return status;
}

static int reply_fail(const crdt_client_reply *rp)
{
    int code = rp->err ? rp->err : CRDT_ERR_INVALID_ARG;

    fprintf(stderr, "crdt: client: %.*s (%s)\n",
            (int)(rp->msg ? rp->msglen : strlen(crdt_strerror(code))),
            rp->msg ? rp->msg : crdt_strerror(code), crdt_strerror(code));
    return code == CRDT_ERR_TIMEOUT ? EXIT_UNMET : EXIT_INPUT;
}

int client_main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"node", required_argument, NULL, 'n'},
        {"type", required_argument, NULL, 't'},
        {"by", required_argument, NULL, 'b'},
        {"consistency", required_argument, NULL, 'c'},
        {"session", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *node = NULL, *type = NULL, *session = NULL;
    crdt_client_request rq;
    crdt_client_reply rp;
    crdt_client *cl = NULL;
    uint8_t *token = NULL;
    size_t tlen = 0;
    double timeout_s = CRDT_CLIENT_DEFAULT_TIMEOUT_MS / 1000.0;
    int level = CRDT_LEVEL_ONE, op, c, rv, status = 0, npos, need;
    uint64_t by = 1;
    bool have_by = false;
    char **pos;

    /* GNU getopt permutes: options may come before or after the operands
     * ("--" ends the options, for a VALUE that starts with '-') */
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
        char *end;

        switch (c) {
        case 'n': node = optarg; break;
        case 't': type = optarg; break;
        case 'b':
            errno = 0;
            by = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg || optarg[0] == '-')
                return cusage("bad --by '%s'", optarg);
            have_by = true;
            break;
        case 'c':
            level = crdt_level_parse(optarg, strlen(optarg));
            if (level < 0)
                return cusage("unknown consistency level '%s' (local, "
                              "one, quorum, all)", optarg);
            break;
        case 's': session = optarg; break;
        case 'T':
            errno = 0;
            timeout_s = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(timeout_s > 0) ||
                timeout_s > CRDT_CLIENT_MAX_TIMEOUT_MS / 1000.0)
                return cusage("bad --timeout '%s' (seconds, up to 3600)",
                              optarg);
            break;
        case 'h':
            printf("usage: crdt client %s\n\n%s", client_usage, client_help);
            return fflush(stdout) ? EXIT_INPUT : 0;
        case ':':
            return cusage("option '%s' needs a value", argv[optind - 1]);
        default:
            return cusage("unknown option '%s'", argv[optind - 1]);
        }
    }
    pos = argv + optind;
    npos = argc - optind;
    if (!node)
        return cusage("%s", "--node SOCKET is required");
    if (npos < 1)
        return cusage("%s", "missing verb");
    op = crdt_client_op_parse(pos[0], strlen(pos[0]));
    if (op < 0)
        return cusage("unknown verb '%s'", pos[0]);
    need = op == CRDT_OP_STATUS ? 1
           : (op == CRDT_OP_SET || op == CRDT_OP_ADD ||
              op == CRDT_OP_REMOVE)
               ? 3
               : 2;
    if (npos != need)
        return cusage("wrong number of operands for '%s'", pos[0]);
    if (have_by && op != CRDT_OP_INC && op != CRDT_OP_DEC)
        return cusage("--by applies to inc and dec, not '%s'", pos[0]);
    if (npos >= 2 && (strlen(pos[1]) == 0 ||
                      strlen(pos[1]) > CRDT_CLIENT_MAX_KEY))
        return cusage("a key is 1 to 1024 bytes, not '%s'", pos[1]);
    crdt_client_request_init(&rq, op);
    if (npos >= 2) {
        rq.key = (const uint8_t *)pos[1];
        rq.klen = strlen(pos[1]);
    }
    if (npos >= 3) {
        rq.value = (const uint8_t *)pos[2];
        rq.vlen = strlen(pos[2]);
    }
    if (type) {
        rq.type = type;
        rq.typelen = strlen(type);
    }
    rq.by = by;
    rq.level = level;
    rq.timeout_ms = (uint32_t)(timeout_s * 1000.0 + 0.5);
    if (rq.timeout_ms == 0)
        rq.timeout_ms = 1;
    if (session && op != CRDT_OP_STATUS && op != CRDT_OP_WATCH) {
        if (read_file(session, &token, &tlen))
            return fail(EXIT_INPUT, "%s: %s", session, strerror(errno));
        if (tlen) {
            rq.token = token;
            rq.tlen = tlen;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if ((rv = crdt_client_connect(&cl, node))) {
        free(token);
        return fail(EXIT_INPUT, "%s: cannot connect: %s", node,
                    errno ? strerror(errno) : crdt_strerror(rv));
    }
    if (op == CRDT_OP_WATCH) {
        if ((rv = crdt_client_send(cl, &rq)))
            status = fail(EXIT_INPUT, "%s: %s", node, crdt_strerror(rv));
        while (!status) {
            rv = crdt_client_recv(cl, &rp, 0);
            if (rv) {
                status = fail(EXIT_INPUT, "%s: %s", node,
                              rv == CRDT_ERR_IO ? "the node closed the "
                                                  "connection"
                                                : crdt_strerror(rv));
                break;
            }
            if (!rp.ok) {
                status = reply_fail(&rp);
                break;
            }
            status = print_state(&rp, rq.key, rq.klen, true);
        }
        goto out;
    }
    rv = crdt_client_call(cl, &rq, &rp, rq.timeout_ms + 5000);
    if (rv == CRDT_ERR_TIMEOUT) {
        status = fail(EXIT_UNMET, "%s: no answer within the timeout", node);
        goto out;
    }
    if (rv) {
        status = fail(EXIT_INPUT, "%s: %s", node, crdt_strerror(rv));
        goto out;
    }
    if (session && rp.token && rp.tlen &&
        write_file(session, rp.token, rp.tlen)) {
        status = fail(EXIT_INPUT, "%s: %s", session, strerror(errno));
        goto out;
    }
    if (!rp.ok) {
        if (rp.err == CRDT_ERR_NOT_FOUND && op == CRDT_OP_GET)
            status = fail(EXIT_INPUT, "%s: no such key", pos[1]);
        else
            status = reply_fail(&rp);
        goto out;
    }
    if (op == CRDT_OP_STATUS) {
        if (!rp.status ||
            fwrite(rp.status, 1, rp.statuslen, stdout) != rp.statuslen ||
            fputc('\n', stdout) == EOF || fflush(stdout))
            status = fail(EXIT_INPUT, "stdout: %s", strerror(errno));
    } else if (op == CRDT_OP_GET) {
        status = print_state(&rp, rq.key, rq.klen, false);
    }
out:
    crdt_client_close(cl);
    free(token);
    return status;
}

/* Only listed by `crdt --help`: crdt.c hands `crdt client ...` to
 * client_main, which parses its own options. */
static int run_client(const command *c, opts *o)
{
    (void)c;
    (void)o;
    return EXIT_USAGE;
}

const command cmd_client = {
    .name = "client",
    .synopsis = "--node SOCKET VERB KEY [ARG]",
    .summary = "ask a running crdt-node (see crdt client --help)",
    .run = run_client,
    .applies = OP_NONE,
    .optmask = 0,
    .min_pos = 0,
    .max_pos = -1,
    .usage = client_usage,
    .help = client_help,
};
