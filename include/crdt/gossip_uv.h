/* SPDX-License-Identifier: MIT */
/**
 * @file gossip_uv.h
 * A gossip node (crdt/gossip.h) on a UDP socket of a libuv loop
 * (libcrdt-node).
 *
 * The engine does no I/O; this attaches one to an event loop the
 * application already runs, in a few lines:
 *
 *     crdt_gossip_settings gs;      // node_id, cluster_id, ...; no send
 *     crdt_gossip_uv_settings us;   // callback: the transport polls
 *     crdt_gossip_uv *u;
 *
 *     crdt_gossip_new(&g, &gs, reg);
 *     crdt_gossip_uv_settings_default(&us);
 *     us.listen = "127.0.0.1:7946";
 *     crdt_gossip_uv_start(&u, loop, g, &us);
 *     crdt_gossip_add_peer(g, 2, (const uint8_t *)"127.0.0.1:7947", 15);
 *     uv_run(loop, UV_RUN_DEFAULT);
 *
 * The transport binds the socket, reads every datagram into
 * crdt_gossip_receive (with the sender's "host:port" as its address),
 * ticks the node at crdt_gossip_next_deadline on a libuv timer, and
 * after each of those drains the node's queue (crdt_gossip_poll) onto
 * the socket, to each peer's address blob read as "host:port" (an IPv4
 * address, or an IPv6 address in brackets, and a port).  Peers whose
 * address is missing or does not parse are skipped and counted.
 *
 * Datagrams never rely on IP fragmentation: the socket is set to
 * "don't fragment" (IP_PMTUDISC_DO / IPV6_PMTUDISC_DO, or IPV6_DONTFRAG),
 * and none longer than the node's max_datagram is sent or accepted.
 *
 * With a sealer (crdt/seal.h) in the settings, every datagram is sealed
 * before it leaves and opened before the node sees it; one that fails is
 * counted by the sealer and never reaches the node.
 *
 * Writes made by the application (crdt_gossip_update and friends) are
 * sent at the next round; call crdt_gossip_uv_flush after a write to send
 * at once what the node queued.
 *
 * uv.h needs POSIX declarations: compile with a POSIX feature macro
 * (e.g. -D_POSIX_C_SOURCE=200809L) when using a strict -std=c11.
 *
 * Threads: everything runs on the loop's thread; the node must not be
 * used from another thread while attached.
 */
#ifndef CRDT_GOSSIP_UV_H
#define CRDT_GOSSIP_UV_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <crdt/common.h>
#include <crdt/gossip.h>
#include <crdt/seal.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of crdt_gossip_uv_settings this header describes. */
#define CRDT_GOSSIP_UV_SETTINGS_VERSION 1u

/** Longest "host:port" text the transport reads or writes, NUL included. */
#define CRDT_GOSSIP_UV_ADDR_MAX 64u

/** How to attach (crdt_gossip_uv_settings_default fills it). */
typedef struct crdt_gossip_uv_settings {
    uint32_t version;   /**< CRDT_GOSSIP_UV_SETTINGS_VERSION */
    /** Address to bind, "host:port" (port 0: the kernel picks one; read
     * it back with crdt_gossip_uv_address).  Required. */
    const char *listen;
    /** Seal every datagram sent and open every one received with this
     * sealer (crdt/seal.h), which must be made without a send callback
     * and is borrowed: it must outlive the transport.  The node's
     * max_datagram must then be at most crdt_sealer_max_plaintext().
     * NULL (the default): plaintext datagrams. */
    crdt_sealer *sealer;
    /** Called once for every error the loop meets after start (a failed
     * tick, receive or send), with the error code and what failed; the
     * transport carries on.  NULL: errors are only counted. */
    void (*on_error)(void *user, int err, const char *what);
    void *user;         /**< passed to on_error and on_datagram */
    /**
     * Application datagrams on the same socket.  Called with every
     * received datagram, after it is opened (with a sealer) and before the
     * node sees it, with the sender's "host:port" (@p addr, @p alen bytes)
     * and the loop's time.  Return non-zero if the datagram was the
     * application's (the node never sees it), 0 to hand it to the node.
     * Send application datagrams with crdt_gossip_uv_send_to.  A gossip
     * datagram begins with the bytes 0x9X 0x01 (an array whose first
     * element is the wire version 1): give application datagrams another
     * start.  NULL (the default): every datagram goes to the node.
     */
    int (*on_datagram)(void *user, const uint8_t *addr, size_t alen,
                       const uint8_t *data, size_t len, uint64_t now_ms);
} crdt_gossip_uv_settings;

/** A node attached to a loop (opaque). */
typedef struct crdt_gossip_uv crdt_gossip_uv;

/** What the transport counted since start. */
typedef struct crdt_gossip_uv_stats {
    uint64_t sent;           /**< datagrams handed to the socket */
    uint64_t sent_bytes;     /**< their bytes */
    uint64_t received;       /**< datagrams read from the socket */
    uint64_t received_bytes; /**< their bytes */
    uint64_t send_failed;    /**< the socket refused (full buffer, no
                              *   route), or sealing failed */
    uint64_t no_address;     /**< peer without a parseable "host:port" */
    uint64_t oversize;       /**< datagrams read longer than max_datagram */
    uint64_t errors;         /**< errors from the node (see on_error) */
} crdt_gossip_uv_stats;

/**
 * crdt_gossip_uv_settings_default fills @p s: no listen address (it must
 * be set), no error callback.  Complexity O(1).
 */
CRDT_API void crdt_gossip_uv_settings_default(crdt_gossip_uv_settings *s);

/**
 * crdt_gossip_uv_start binds a UDP socket on @p loop at s->listen and
 * attaches node @p g to it: the node is ticked on a timer and fed every
 * datagram from then on.  @p g must have been made without a send
 * callback (its datagrams are queued and polled; a node with one sends
 * through it and the transport only receives); it stays owned by the
 * caller and must outlive the transport.  On success *out (allocated
 * with malloc: about 130 KiB, two datagram buffers) owns the socket and
 * timer until crdt_gossip_uv_stop.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument, wrong settings version,
 * missing or unparseable listen address),
 * CRDT_ERR_NOMEM, CRDT_ERR_IO (the socket could not be made or bound;
 * nothing is left on the loop).  Complexity O(1).
 */
CRDT_API int crdt_gossip_uv_start(crdt_gossip_uv **out, uv_loop_t *loop,
                                  crdt_gossip *g,
                                  const crdt_gossip_uv_settings *s);

/**
 * crdt_gossip_uv_stop detaches the node: stops reading and ticking and
 * closes the socket and timer.  The handles close on the loop's next
 * iteration, after which @p u is freed and @p on_closed (if not NULL) is
 * called with @p user; the node may be freed any time after this call.
 * NULL @p u does nothing.  Complexity O(1).
 */
CRDT_API void crdt_gossip_uv_stop(crdt_gossip_uv *u,
                                  void (*on_closed)(void *user),
                                  void *user);

/**
 * crdt_gossip_uv_flush sends at once whatever the node has queued (for
 * instance the deltas of a write just made) and re-arms the timer to the
 * node's next deadline.  Returns CRDT_OK or the node's error.
 * Complexity: O(queued datagrams).
 */
CRDT_API int crdt_gossip_uv_flush(crdt_gossip_uv *u);

/**
 * crdt_gossip_uv_send_to sends the @p len bytes at @p data (sealed, with a
 * sealer) to the "host:port" of @p alen bytes at @p addr from the
 * transport's socket: an application datagram (see on_datagram).  Keep it
 * within the node's max_datagram, as the node does; longer than the
 * sealer's crdt_sealer_max_plaintext() (with a sealer) or
 * CRDT_GOSSIP_MAX_DATAGRAM is refused.  The kernel takes it at once or it is
 * dropped (counted in send_failed), as the node's own datagrams are.
 * Errors: CRDT_ERR_INVALID_ARG (NULL, stopped, unparseable address,
 * @p len 0 or too long), CRDT_ERR_IO (the socket refused it, or
 * sealing failed).  Complexity O(len).
 */
CRDT_API int crdt_gossip_uv_send_to(crdt_gossip_uv *u, const uint8_t *addr,
                                    size_t alen, const uint8_t *data,
                                    size_t len);

/**
 * crdt_gossip_uv_address writes the bound address as "host:port" (the
 * port the kernel picked, if s->listen asked for 0) into @p buf of
 * @p cap bytes, NUL-terminated; CRDT_GOSSIP_UV_ADDR_MAX always suffices.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_BUFFER, CRDT_ERR_IO.
 */
CRDT_API int crdt_gossip_uv_address(const crdt_gossip_uv *u, char *buf,
                                    size_t cap);

/** crdt_gossip_uv_stats_get copies the transport's counters. */
CRDT_API void crdt_gossip_uv_stats_get(const crdt_gossip_uv *u,
                                       crdt_gossip_uv_stats *st);

/**
 * crdt_gossip_uv_parse_addr reads "host:port" (@p len bytes at @p text,
 * not NUL-terminated: an IPv4 address, or an IPv6 address in brackets,
 * then a decimal port) into @p sa.  Errors: CRDT_ERR_INVALID_ARG.
 * Complexity O(len).
 */
CRDT_API int crdt_gossip_uv_parse_addr(const uint8_t *text, size_t len,
                                       struct sockaddr_storage *sa);

/**
 * crdt_gossip_uv_format_addr writes @p sa (AF_INET or AF_INET6) as
 * "host:port" into @p buf of @p cap bytes, NUL-terminated, and returns
 * its length, or 0 when the family is unknown or @p cap too small.
 */
CRDT_API size_t crdt_gossip_uv_format_addr(const struct sockaddr *sa,
                                           char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
