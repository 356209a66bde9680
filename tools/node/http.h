/* SPDX-License-Identifier: MIT */
/*
 * crdt-node's metrics endpoint (--metrics HOST:PORT): a tiny HTTP/1.1
 * server on a libuv loop that answers
 *   GET /metrics  200, the body the caller's nhttp_body_fn writes, as
 *                 "text/plain; version=0.0.4; charset=utf-8" (Prometheus)
 *   GET /         200, one line pointing at /metrics
 *   other paths   404;  other methods on / or /metrics: 405 (Allow: GET, HEAD)
 * HEAD is answered as GET without the body.  Every response carries
 * Content-Length and "Connection: close": one request per connection.
 * A request line plus headers over the head limit (8 KiB) gets 431, a
 * malformed one 400 (an HTTP/1.1 request without exactly one Host header
 * is malformed), a body function that fails 500.  A client that has not
 * sent its whole head within the idle timeout (5 s) is closed without a
 * response; after the response the connection is half-closed and drained
 * until the client closes, again for at most the idle timeout.  At most
 * 32 connections are open at once; further ones are accepted and closed
 * at once, and counted.
 *
 * Not thread-safe: every call, and the body function, runs on the loop's
 * thread.
 */
#ifndef CRDT_NODE_HTTP_H
#define CRDT_NODE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include <crdt/codec.h>

/** A running endpoint (opaque). */
typedef struct nhttp nhttp;

/**
 * Writes the body of GET /metrics into @p body (empty, growable) and
 * returns 0; any other value answers 500 and drops what was written.
 * Called once for each GET or HEAD of /metrics, on the loop's thread; it
 * must not call nhttp_stop.
 */
typedef int (*nhttp_body_fn)(void *user, crdt_buf *body);

#define NHTTP_DEFAULT_IDLE_MS 5000u
#define NHTTP_DEFAULT_MAX_CONNS 32u
#define NHTTP_DEFAULT_MAX_HEAD 8192u

/** Tunables; start from nhttp_settings_default. */
typedef struct nhttp_settings {
    uint64_t idle_ms;  /**< head deadline, then drain deadline (> 0) */
    size_t max_conns;  /**< open connections at most (> 0) */
    size_t max_head;   /**< request line + headers, bytes (>= 64) */
} nhttp_settings;

/** Counters since start. */
typedef struct nhttp_counters {
    uint64_t connections; /**< connections accepted and served */
    uint64_t rejected;    /**< accepted and closed at once (over max) */
    uint64_t timeouts;    /**< closed for not sending a head in time */
    uint64_t requests;    /**< responses sent (any status) */
    uint64_t status_2xx;  /**< of which 200 */
    uint64_t status_4xx;  /**< 400, 404, 405, 431 */
    uint64_t status_5xx;  /**< 500 */
    size_t open;          /**< connections open now */
} nhttp_counters;

/** Fills @p s with the defaults (5 s, 32 connections, 8 KiB). */
void nhttp_settings_default(nhttp_settings *s);

/**
 * nhttp_start listens on @p hostport ("127.0.0.1:9100", "[::1]:9100",
 * as crdt_gossip_uv_parse_addr; port 0: the kernel picks one, see
 * nhttp_address) on @p loop with the default settings; nhttp_start_with
 * takes @p s (NULL: defaults).
 *
 * Ownership: @p loop, @p fn and @p user are kept until the endpoint has
 * closed; @p hostport and @p s are only read.  *out (malloc) lives until
 * nhttp_stop's callback.
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument, bad address or settings),
 * CRDT_ERR_NOMEM, CRDT_ERR_IO (socket, bind or listen failed: the handle
 * is then closed through the loop, freed on its next run).  *out is
 * written only on success.
 */
int nhttp_start(nhttp **out, uv_loop_t *loop, const char *hostport,
                nhttp_body_fn fn, void *user);
int nhttp_start_with(nhttp **out, uv_loop_t *loop, const char *hostport,
                     const nhttp_settings *s, nhttp_body_fn fn, void *user);

/**
 * nhttp_address writes the bound address as "host:port" (the real port
 * when 0 was asked for) into @p buf of @p cap bytes, NUL-terminated
 * (CRDT_GOSSIP_UV_ADDR_MAX suffices), and returns its length; 0 if it
 * does not fit.
 */
size_t nhttp_address(const nhttp *h, char *buf, size_t cap);

/** Copies the counters into @p c. */
void nhttp_stats(const nhttp *h, nhttp_counters *c);

/**
 * nhttp_stop closes the listener and every connection (pending responses
 * are dropped).  When the last handle has closed, the memory is freed and
 * then @p on_closed (may be NULL) is called with @p user.  @p h must not
 * be used after this call.  A NULL @p h is ignored.
 */
void nhttp_stop(nhttp *h, void (*on_closed)(void *user), void *user);

/* ---- the request-head parser (what the server runs on each read) ---- */

/** What nhttp_parse_head found. */
enum {
    NHTTP_HEAD_OK = 0,      /**< a well-formed head: *out filled */
    NHTTP_HEAD_PARTIAL,     /**< no end of the head yet: read more */
    NHTTP_HEAD_TOO_LARGE,   /**< no end within max_head bytes (431) */
    NHTTP_HEAD_BAD          /**< the head ended but is malformed (400) */
};

/** A parsed request head; the pointers borrow from the parsed bytes. */
typedef struct nhttp_request {
    const char *method; /**< 1+ tchars (RFC 9110), case kept */
    size_t mlen;
    const char *path;   /**< the target up to '?', starts with '/' */
    size_t plen;
    int minor;          /**< 0 (HTTP/1.0) or 1 (HTTP/1.1) */
    size_t head_len;    /**< bytes of the head, its empty line included */
} nhttp_request;

/**
 * nhttp_parse_head looks in the first min(@p len, @p max_head) bytes at
 * @p p for the end of a request head, a line feed followed by an empty
 * line ("\n\n" or "\n\r\n": the first such), and parses the head up to
 * it.  Bytes after the head (a body, a pipelined request) are ignored.
 * The server calls it on each read with its buffer and settings'
 * max_head (NHTTP_DEFAULT_MAX_HEAD, 8 KiB, by default): NHTTP_HEAD_BAD
 * is its 400, NHTTP_HEAD_TOO_LARGE its 431.  Pure and reentrant.
 * Accepted: a request line "METHOD SP TARGET SP HTTP/1.0" or "HTTP/1.1"
 * (method: 1+ tchars; target: starts with '/', bytes 0x21..0x7e only;
 * its query, from the first '?', is dropped from path), then header
 * lines "NAME:VALUE" (name: 1+ tchars; value: no control bytes but HTAB),
 * each line ending in LF or CRLF (a CR elsewhere is malformed); an
 * HTTP/1.1 head needs exactly one Host header, an HTTP/1.0 one at most
 * one (names compared without case).  No obs-fold, no absolute-form.
 *
 * @p scanned (may be NULL: scan from 0) lets a caller that appends to one
 * buffer scan only the new bytes: start it at 0 and pass it on every
 * call with the same, longer, bytes; it is updated on NHTTP_HEAD_PARTIAL
 * and NHTTP_HEAD_TOO_LARGE only.  Given that way (from calls on prefixes
 * of the same bytes), the result does not depend on it; a value beyond
 * the bytes is taken as 0.
 *
 * Returns NHTTP_HEAD_OK (and fills *out: its pointers point into @p p,
 * valid as long as those bytes), NHTTP_HEAD_PARTIAL (@p len < @p
 * max_head and no end seen), NHTTP_HEAD_TOO_LARGE (@p len >= @p max_head
 * and no end within the first @p max_head bytes) or NHTTP_HEAD_BAD; *out
 * is written only on NHTTP_HEAD_OK.  Never allocates; reads nothing
 * beyond p[min(len, max_head) - 1].  @p p may be NULL when @p len is 0.
 */
int nhttp_parse_head(const char *p, size_t len, size_t max_head,
                     size_t *scanned, nhttp_request *out);

#endif
