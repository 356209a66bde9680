/* SPDX-License-Identifier: MIT */
/*
 * crdt-node's replica: a gossip node (libcrdt-gossip) on a sealed UDP
 * socket of a libuv loop (libcrdt-node), its durable store (store.h), its
 * client socket (server.c) and the requests in flight.
 *
 *   node.c    start and stop, the group commit, the node-to-node
 *             messages (HELLO, REPL/ACK for write levels, READ/STATE for
 *             read levels and sessions), key files, metrics and status
 *   ops.c     a client request from decode to reply: session coverage,
 *             the write or read, its level, the session token
 *   server.c  the Unix client socket: framing, connections, watches
 *   main.c    options, keygen, backup and restore, signals
 *   store.c   the LMDB store (store.h)       token.c  session tokens
 *   msg.c     node-to-node message codec     http.c   the /metrics server
 *   prom.c    Prometheus text helpers        log.c    logfmt lines
 *   mp.h      the MessagePack forms msg.c and token.c use
 *
 * Node-to-node messages share the gossip socket and its sealing.  Each is
 * one MessagePack array [78, cluster_id, sender_id, kind, req, ...]; the
 * 78 ('N') in place of the gossip wire version tells them apart:
 *   1 HELLO  [.., 1, 0]                          "I am sender_id" (join)
 *   2 WELCOME [.., 2, 0]                         the answer to HELLO
 *   3 REPL   [.., 3, req, key, total, chunk, i, bytes]
 *            part i of the key's state (chunks of `chunk` bytes, `total`
 *            bytes in all): merge it, commit it, then ACK
 *   4 ACK    [.., 4, req, status]                0: merged and committed
 *   5 READ   [.., 5, req, key]                   send me your state of key
 *   6 STATE  [.., 6, req, key, total, chunk, i, bytes]  (total 0: none)
 */
#ifndef CRDT_NODE_NODE_H
#define CRDT_NODE_NODE_H

#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <crdt/client.h>
#include <crdt/gossip.h>
#include <crdt/gossip_uv.h>
#include <crdt/seal.h>

#include "msg.h"
#include "store.h"
#include "token.h"

#define NODE_MAX_KEY_FILES 16
#define NODE_MAX_JOINS 64
#define NODE_MAX_PENDING 4096        /* requests waiting at once */
#define NODE_MAX_STATE NMSG_MAX_STATE /* largest state sent or read */
#define NODE_PARTIAL_BUDGET (32u << 20) /* REPL reassembly memory */
#define NODE_RESEND_MS 100           /* REPL/READ retransmission */
#define NODE_DRAIN_MS 10000          /* longest a drain waits for requests */


typedef struct node_config {
    const char *name;
    const char *listen;
    const char *data;
    const char *key_files[NODE_MAX_KEY_FILES];
    size_t nkey_files;
    const char *joins[NODE_MAX_JOINS];
    size_t njoins;
    const char *cluster;        /* default "crdt" */
    const char *client;         /* default DATA/client.sock */
    const char *metrics;        /* NULL: none */
    bool accept_plaintext;      /* upgrade mode */
    uint32_t round_ms, repair_ms, down_after_ms;
    uint32_t max_datagram;      /* sealed bytes on the wire (1232) */
} node_config;

typedef struct node_stats {
    uint64_t requests[CRDT_OP_STATUS + 1];
    uint64_t replies_ok, replies_err, timeouts, session_waits;
    uint64_t writes_committed, keys_flushed, flushes;
    uint64_t msgs_in[NMSG_STATE + 1], msgs_out[NMSG_STATE + 1];
    uint64_t msgs_dropped;
    uint64_t latency_us_sum[CRDT_LEVEL_ALL + 1];
    uint64_t latency_n[CRDT_LEVEL_ALL + 1];
    uint64_t client_conns, watch_events;
} node_stats;

typedef struct node node;
typedef struct cbatch cbatch;
/* Called once a key's state enqueued with node_commit_async is committed
 * (rv 0) or could not be (an error). */
typedef void (*node_commit_fn)(node *n, void *arg, int rv);
typedef struct conn conn;
typedef struct op op;

/* Starts everything on @p loop; on failure logs why and returns an error
 * (everything made so far is closed). */
int node_start(node **out, uv_loop_t *loop, const node_config *cfg);
/* SIGTERM: stop taking requests, finish the ones in flight (each by its
 * own deadline), flush, close every handle; the loop then ends. */
void node_drain(node *n);
/* SIGHUP: read the key files again and seal with the new keyring. */
int node_reload_keys(node *n);
/* Frees what is left after the loop ended. */
void node_free(node *n);

/* --- for ops.c and server.c ------------------------------------------- */
struct node {
    node_config cfg;
    uv_loop_t *loop;
    uint64_t node_id, cluster_id, incarnation;
    char listen_addr[CRDT_GOSSIP_UV_ADDR_MAX];
    nstore *st;
    crdt_keyring *kr;
    crdt_sealer *sealer;
    crdt_gossip *g;
    crdt_gossip_uv *uv;
    uint32_t max_plain;        /* largest plaintext datagram */
    void *http;                /* nhttp * */
    /* client socket */
    uv_pipe_t listener;
    bool listening;
    conn *conns;
    char client_path[4096];
    /* requests in flight */
    op *ops;
    size_t nops;
    uint64_t next_req;
    uv_timer_t op_timer;
    /* group commit (node.c): the batch being committed, the next one */
    struct cbatch *commit_inflight, *commit_next;
    bool loading;
    /* joins not yet answered */
    bool join_ok[NODE_MAX_JOINS];
    uv_timer_t join_timer;
    /* REPL reassembly */
    void *partials;            /* struct partial list */
    size_t partial_bytes;
    bool draining;
    int handles;               /* handles still open at drain */
    node_stats stats;
    uint64_t started_ms;
};

/* A message of @p kind for request @p req from this node (the other
 * fields zero). */
nmsg node_msg(const node *n, int kind, uint64_t req);
/* Encodes and sends @p m to the peer at addr (NULL: every peer). */
int node_send_msg(node *n, const uint8_t *addr, size_t alen, const nmsg *m);
/* Sends the key's state in chunks as REPL (kind) or STATE to one address
 * (addr) or every peer (addr NULL). */
int node_send_state(node *n, int kind, uint64_t req, const uint8_t *key,
                    size_t klen, const uint8_t *state, size_t slen,
                    const uint8_t *addr, size_t alen);
/* Merges a peer's state of a key into the store (as the repair path
 * does); the change is committed by the group commit (on_change). */
int node_merge_state(node *n, uint64_t from, const uint8_t *key,
                     size_t klen, const uint8_t *state, size_t slen);
/* Enqueues the key's current state for the next group commit; @p fn (may
 * be NULL) is called with @p arg once it is on disk.  Errors: the key has
 * no state, CRDT_ERR_NOMEM (fn is then not called). */
int node_commit_async(node *n, const uint8_t *key, size_t klen,
                      node_commit_fn fn, void *arg);
/* The key changed: commit it with the next batch (no waiter). */
void node_mark_dirty(node *n, const uint8_t *key, size_t klen);
/* Whether no commit is running or waiting. */
bool node_commit_idle(const node *n);
/* Replicas of the cluster this node knows of: peers + 1. */
size_t node_replicas(const node *n);
/* Status as a JSON object / metrics in Prometheus' text format. */
int node_status_json(node *n, crdt_buf *out);
int node_metrics_text(void *n, crdt_buf *out);
uint64_t node_now_ms(const node *n);

/* ops.c */
/* Takes a decoded request from connection @p c (or NULL for none). */
void ops_submit(node *n, conn *c, const crdt_client_request *rq);
/* A peer's ACK / STATE for request req. */
void ops_on_ack(node *n, uint64_t from, uint64_t req, int64_t status);
void ops_on_state(node *n, const nmsg *m);
/* Every NODE_RESEND_MS: resends, deadlines. */
void ops_tick(node *n);
/* Drain: no request waits past @p at_ms. */
void ops_cap_deadlines(node *n, uint64_t at_ms);
/* A connection closed: forget it in its ops. */
void ops_conn_gone(node *n, conn *c);
/* The key changed (a local write or a merge): tell its watchers. */
void ops_key_changed(node *n, const uint8_t *key, size_t klen);
/* Frees every op (at exit). */
void ops_free_all(node *n);

/* server.c */
int server_start(node *n);
void server_stop(node *n);
/* Closes every connection once its replies are written. */
void server_close_all(node *n);
/* Sends a reply on connection @p c (NULL: dropped). */
void server_reply(node *n, conn *c, const crdt_client_reply *rp);
/* Watches: connections watching a key get server_reply'd changes. */
void server_notify(node *n, const uint8_t *key, size_t klen);
/* Registers a watch of key on c with request id. */
int server_watch(node *n, conn *c, uint64_t id, const uint8_t *key,
                 size_t klen);
/* Fills a reply with the key's type and state (value encoding) into buf;
 * CRDT_ERR_NOT_FOUND when absent. */
int node_value(node *n, const uint8_t *key, size_t klen, crdt_buf *buf,
               const char **type);

#endif
