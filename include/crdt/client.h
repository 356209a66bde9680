/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/client.h
 * The crdt-node client protocol (libcrdt-node): the codec of requests and
 * replies, the framing helper, and a small blocking client over the
 * node's Unix stream socket.
 *
 * Framing: each message is a 4-byte big-endian length N
 * (1 <= N <= CRDT_CLIENT_MAX_MESSAGE) followed by N bytes holding exactly
 * one MessagePack map with string keys.
 *
 * Request (client -> node):
 *
 *     "v"          uint        protocol version, 1 (required)
 *     "id"         uint        request id, echoed in the reply (required)
 *     "op"         str         "inc" "dec" "set" "add" "remove" "enable"
 *                              "disable" "get" "watch" "status" (required)
 *     "key"        bin or str  1..1024 bytes (required but for status)
 *     "type"       str         gcounter, pncounter, lww, mvreg, orset,
 *                              gset, ewflag, dwflag (writes)
 *     "by"         uint        inc/dec amount (default 1)
 *     "value"      bin or str  set: the register's value (required)
 *     "elem"       bin or str  add/remove: the element (required)
 *     "level"      str         "local" "one" "quorum" "all" (default "one")
 *     "timeout_ms" uint        default 5000, at most 3,600,000
 *     "token"      bin         session token from an earlier reply
 *
 * Reply (node -> client):
 *
 *     "v"       uint   1 (required)
 *     "id"      uint   the request's id, 0 if it was unreadable (required)
 *     "ok"      bool   (required)
 *     "err"     int    when !ok: a negative libcrdt error code (required
 *                      then)
 *     "msg"     str    when !ok: one line of explanation
 *     "type"    str    the key's type name
 *     "state"   bin    get/watch: the value's canonical encoding
 *     "deleted" bool   watch: the key was deleted
 *     "acks"    uint   replicas that committed the write / were merged
 *     "token"   bin    the session token after this request
 *     "status"  str    status: a JSON object (text)
 *
 * Decoding is liberal where other languages' MessagePack writers differ
 * and strict everywhere else: integers may come in any width (a signed
 * encoding of a non-negative value too) and keys in any order, and keys
 * not listed are skipped whatever they hold (nested up to
 * CRDT_CLIENT_MAX_DEPTH); but a listed key of the wrong MessagePack type,
 * a listed key twice, a key that is not a string, bytes after the map,
 * or a count larger than the bytes left is an error.  Decoders never
 * allocate: their outputs are views borrowed from the input.
 *
 * A `watch` request gets one reply at once (the current state; no
 * "state" when the key is absent) and one more per change, all with the
 * request's id, until the client closes the connection.  Requests on one
 * connection are answered in order.
 *
 * The codec functions are pure and thread-safe; a crdt_client must not be
 * used by two threads at once.
 */
#ifndef CRDT_CLIENT_H
#define CRDT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <crdt/codec.h>
#include <crdt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The protocol version written in "v" and the only one read. */
#define CRDT_CLIENT_VERSION 1u
/** Largest message body N (the 4-byte length prefix not included). */
#define CRDT_CLIENT_MAX_MESSAGE (16u << 20)
/** Longest key, in bytes. */
#define CRDT_CLIENT_MAX_KEY 1024u
/** The "timeout_ms" of a request that has none. */
#define CRDT_CLIENT_DEFAULT_TIMEOUT_MS 5000u
/** The largest "timeout_ms" a request may carry (one hour). */
#define CRDT_CLIENT_MAX_TIMEOUT_MS 3600000u
/** Deepest nesting of arrays and maps inside a skipped unknown key's
 * value (the message's own map not counted). */
#define CRDT_CLIENT_MAX_DEPTH 16u

/** Operations of a request ("op"). */
typedef enum crdt_client_op {
    CRDT_OP_INC = 1, /**< "inc": add "by" to a counter */
    CRDT_OP_DEC,     /**< "dec": subtract "by" from a pncounter */
    CRDT_OP_SET,     /**< "set": write "value" to a register */
    CRDT_OP_ADD,     /**< "add": add "elem" to a set */
    CRDT_OP_REMOVE,  /**< "remove": remove "elem" from an orset */
    CRDT_OP_ENABLE,  /**< "enable": enable a flag */
    CRDT_OP_DISABLE, /**< "disable": disable a flag */
    CRDT_OP_GET,     /**< "get": read a key */
    CRDT_OP_WATCH,   /**< "watch": read a key, then each change */
    CRDT_OP_STATUS   /**< "status": the node's status (no key) */
} crdt_client_op;

/** Consistency levels of a request ("level"). */
typedef enum crdt_level {
    CRDT_LEVEL_LOCAL = 1, /**< "local": this node only */
    CRDT_LEVEL_ONE,       /**< "one": this node (the default) */
    CRDT_LEVEL_QUORUM,    /**< "quorum": a majority of the replicas */
    CRDT_LEVEL_ALL        /**< "all": every replica */
} crdt_level;

/**
 * crdt_client_op_name returns the wire name of @p op ("inc", ...), or
 * NULL if @p op is not a crdt_client_op.
 *
 * Ownership: a static string.  Complexity O(1).
 */
CRDT_API const char *crdt_client_op_name(int op);

/**
 * crdt_client_op_parse returns the crdt_client_op named by the @p n bytes
 * at @p s (not NUL-terminated; exact, case-sensitive match).
 *
 * Errors: CRDT_ERR_INVALID_ARG for an unknown name or NULL @p s with
 * @p n > 0.  Complexity O(n).
 */
CRDT_API int crdt_client_op_parse(const char *s, size_t n);

/**
 * crdt_level_name returns the wire name of @p level ("local", "one",
 * "quorum", "all"), or NULL if @p level is not a crdt_level.
 *
 * Ownership: a static string.  Complexity O(1).
 */
CRDT_API const char *crdt_level_name(int level);

/**
 * crdt_level_parse returns the crdt_level named by the @p n bytes at
 * @p s (exact, case-sensitive match).
 *
 * Errors: CRDT_ERR_INVALID_ARG for an unknown name or NULL @p s with
 * @p n > 0.  Complexity O(n).
 */
CRDT_API int crdt_level_parse(const char *s, size_t n);

/**
 * A request, as views: nothing here is owned.  After a decode, every
 * pointer points into the decoded bytes; for an encode, into whatever the
 * caller supplies.  A NULL pointer means the key is absent (its length is
 * then 0); an empty string present on the wire has a non-NULL pointer.
 */
typedef struct crdt_client_request {
    uint64_t id;         /**< request id (echoed in the reply) */
    int op;              /**< crdt_client_op */
    const uint8_t *key;  /**< the key (NULL: absent, status only) */
    size_t klen;         /**< its length, 1..CRDT_CLIENT_MAX_KEY */
    const char *type;    /**< type name, not validated (NULL: absent) */
    size_t typelen;      /**< its length */
    uint64_t by;         /**< inc/dec amount (default 1; always 1 after
                          *   decoding another op) */
    const uint8_t *value; /**< "value" of set, "elem" of add/remove
                           *   (NULL: absent, and for every other op) */
    size_t vlen;         /**< its length */
    int level;           /**< crdt_level (default CRDT_LEVEL_ONE) */
    uint32_t timeout_ms; /**< default CRDT_CLIENT_DEFAULT_TIMEOUT_MS */
    const uint8_t *token; /**< session token (NULL: absent) */
    size_t tlen;         /**< its length */
} crdt_client_request;

/**
 * crdt_client_request_init fills @p rq with an empty request of @p op:
 * id 0, no key, type, value or token, by 1, level CRDT_LEVEL_ONE,
 * timeout_ms CRDT_CLIENT_DEFAULT_TIMEOUT_MS.  Does nothing if @p rq is
 * NULL.  Complexity O(1).
 */
CRDT_API void crdt_client_request_init(crdt_client_request *rq, int op);

/**
 * crdt_client_request_encode appends the message body of @p rq (the map,
 * without the length prefix) to @p out.  Keys are written in the order of
 * the table above, integers in their shortest form, "key", "value" and
 * "elem" as bin; "key" only if present, "type" and "token" only if
 * present, "by" only for inc and dec, "value" only for set and "elem"
 * only for add and remove; "level" and "timeout_ms" always.
 *
 * Ownership: borrows @p rq; @p out grows as needed.
 * Errors: CRDT_ERR_INVALID_ARG when an argument is NULL, or @p rq is not
 * one crdt_client_request_decode would accept (unknown op or level, key
 * missing or out of 1..CRDT_CLIENT_MAX_KEY, set/add/remove without a
 * value, timeout_ms over CRDT_CLIENT_MAX_TIMEOUT_MS, a NULL pointer with
 * a non-zero length); CRDT_ERR_LIMIT if the body would exceed
 * CRDT_CLIENT_MAX_MESSAGE; CRDT_ERR_NOMEM or CRDT_ERR_BUFFER from
 * @p out.  On error @p out's length is unchanged.
 * Complexity O(size of the message).
 */
CRDT_API int crdt_client_request_encode(const crdt_client_request *rq,
                                        crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_client_request_decode reads the message body in the @p len bytes
 * at @p data (no length prefix) into @p rq.  It checks, beyond the
 * MessagePack itself (see the top of this file): "v" is 1; "v", "id" and
 * "op" are present, "key" too but for status, "value" for set and "elem"
 * for add and remove; the key is 1..CRDT_CLIENT_MAX_KEY bytes; the op and
 * level names are known; timeout_ms is at most CRDT_CLIENT_MAX_TIMEOUT_MS.
 * "type" is not checked against the known types (the node's registry
 * does that).  Absent optional keys get the defaults of
 * crdt_client_request_init; "by" is read for inc and dec only (1 for the
 * other ops, whatever the message says), "value" for set and "elem" for
 * add and remove only, so that what decodes re-encodes to the same
 * fields.
 *
 * Ownership: every pointer written to @p rq points into @p data, which
 * must outlive its use.  Never allocates.
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument; an unknown op or level
 * name; an empty key); CRDT_ERR_DECODE (not one MessagePack map with
 * string keys, a listed key of the wrong type or twice, trailing bytes,
 * a required key missing, an integer out of its field's range);
 * CRDT_ERR_VERSION ("v" is not 1); CRDT_ERR_LIMIT (@p len over
 * CRDT_CLIENT_MAX_MESSAGE, a key over CRDT_CLIENT_MAX_KEY, timeout_ms
 * over the maximum, nesting deeper than CRDT_CLIENT_MAX_DEPTH).  On error
 * @p rq is untouched.
 * Complexity O(len).
 */
CRDT_API int crdt_client_request_decode(crdt_client_request *rq,
                                        const uint8_t *data,
                                        size_t len) CRDT_WARN_UNUSED;

/**
 * A reply, as views (see crdt_client_request).  Absent strings are NULL
 * with length 0.
 */
typedef struct crdt_client_reply {
    uint64_t id;          /**< the request's id (0: it was unreadable) */
    bool ok;              /**< the request succeeded */
    int err;              /**< when !ok: a negative crdt_error; else 0 */
    const char *msg;      /**< when !ok: explanation (NULL: absent) */
    size_t msglen;        /**< its length */
    const char *type;     /**< the key's type name (NULL: absent) */
    size_t typelen;       /**< its length */
    const uint8_t *state; /**< canonical encoding (NULL: absent) */
    size_t slen;          /**< its length */
    bool deleted;         /**< watch: the key was deleted */
    uint32_t acks;        /**< replicas that committed or were merged */
    const uint8_t *token; /**< session token (NULL: absent) */
    size_t tlen;          /**< its length */
    const char *status;   /**< status: JSON object text (NULL: absent) */
    size_t statuslen;     /**< its length */
} crdt_client_reply;

/**
 * crdt_client_reply_init fills @p rp with an empty successful reply:
 * id 0, ok, nothing else.  Does nothing if @p rp is NULL.
 */
CRDT_API void crdt_client_reply_init(crdt_client_reply *rp);

/**
 * crdt_client_reply_encode appends the message body of @p rp to @p out:
 * "v", "id", "ok", then "err" and "msg" only when !ok, and each of
 * "type", "state", "token", "status" only if present, "deleted" only if
 * true, "acks" only if non-zero.
 *
 * Ownership: borrows @p rp; @p out grows as needed.
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument, !ok with err >= 0, a NULL
 * pointer with a non-zero length); CRDT_ERR_LIMIT (body over
 * CRDT_CLIENT_MAX_MESSAGE); CRDT_ERR_NOMEM or CRDT_ERR_BUFFER from
 * @p out.  On error @p out's length is unchanged.
 * Complexity O(size of the message).
 */
CRDT_API int crdt_client_reply_encode(const crdt_client_reply *rp,
                                      crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_client_reply_decode reads the reply body in the @p len bytes at
 * @p data into @p rp.  Checks: "v" is 1; "v", "id" and "ok" are present;
 * when "ok" is false, "err" is present and negative (and fits an int);
 * "acks" fits 32 bits.  When "ok" is true, err is 0 whatever the message
 * says.
 *
 * Ownership: every pointer written to @p rp points into @p data.  Never
 * allocates.
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument); CRDT_ERR_DECODE,
 * CRDT_ERR_VERSION, CRDT_ERR_LIMIT as crdt_client_request_decode.  On
 * error @p rp is untouched.
 * Complexity O(len).
 */
CRDT_API int crdt_client_reply_decode(crdt_client_reply *rp,
                                      const uint8_t *data,
                                      size_t len) CRDT_WARN_UNUSED;

/**
 * crdt_client_frame looks at the @p len bytes received so far at @p buf
 * (the start of a frame) and returns the whole frame's length, 4 + N,
 * when all of it is there, or 0 when more bytes are needed (fewer than 4,
 * or fewer than 4 + N).  The body is then buf[4 .. 4 + N).
 *
 * Errors: CRDT_ERR_LIMIT when the prefix says N == 0 or N >
 * CRDT_CLIENT_MAX_MESSAGE (the stream cannot be resynchronised: close
 * it); CRDT_ERR_INVALID_ARG when @p buf is NULL and @p len > 0.
 * Complexity O(1).
 */
CRDT_API long long crdt_client_frame(const uint8_t *buf, size_t len);

/**
 * crdt_client_frame_put writes the 4-byte big-endian prefix of a body of
 * @p n bytes to @p prefix.
 *
 * Errors: CRDT_ERR_LIMIT when @p n is 0 or over CRDT_CLIENT_MAX_MESSAGE;
 * CRDT_ERR_INVALID_ARG when @p prefix is NULL.  @p prefix is written only
 * on success.  Complexity O(1).
 */
CRDT_API int crdt_client_frame_put(uint8_t prefix[4], size_t n);

/** A blocking connection to a node's client socket (opaque). */
typedef struct crdt_client crdt_client;

/**
 * crdt_client_connect connects to the node's Unix stream socket at
 * @p path and writes the new connection to *out.  The socket is
 * non-blocking and close-on-exec; the calls below wait with poll().
 *
 * Ownership: *out (allocated with malloc) is the caller's: free it with
 * crdt_client_close.  @p path is borrowed.
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument, empty @p path or longer
 * than a sockaddr_un holds); CRDT_ERR_NOMEM; CRDT_ERR_IO (socket or
 * connect failed; errno is kept from the failing call).  *out is
 * written only on success.
 * Complexity O(1).
 */
CRDT_API int crdt_client_connect(crdt_client **out,
                                 const char *path) CRDT_WARN_UNUSED;

/**
 * crdt_client_close closes the socket and frees @p c.  Views from
 * earlier replies die with it.  NULL does nothing.
 */
CRDT_API void crdt_client_close(crdt_client *c);

/**
 * crdt_client_call sends @p rq with the next request id of the
 * connection (1, 2, ...; rq->id is ignored and @p rq is not changed),
 * then reads replies until the one with that id (replies with other ids,
 * left over from an earlier call that timed out, are skipped; a reply
 * with id 0, the node's answer to a request it could not read, is taken
 * as this one's) and decodes it into @p rp.  A reply that says !ok is
 * still a successful call: look at rp->ok and rp->err.
 *
 * Ownership: the views in @p rp point into the connection's buffer and
 * stay valid until the next call on @p c (call, send, recv or close).
 * Errors: CRDT_ERR_INVALID_ARG (NULL argument, or @p rq not encodable:
 * see crdt_client_request_encode); CRDT_ERR_NOMEM; CRDT_ERR_TIMEOUT when
 * @p wait_ms milliseconds (0: no bound) pass before the reply has come;
 * CRDT_ERR_IO when the connection is closed by the node or fails (errno
 * says why; ECONNRESET for an orderly close); CRDT_ERR_LIMIT when the
 * node sends a frame over the maximum; a decode error of the reply.  A
 * timeout in the middle of sending, an I/O error and an oversized frame
 * leave the connection unusable: every later call fails with
 * CRDT_ERR_IO.  @p rp is written only on success.
 */
CRDT_API int crdt_client_call(crdt_client *c, const crdt_client_request *rq,
                              crdt_client_reply *rp,
                              uint32_t wait_ms) CRDT_WARN_UNUSED;

/**
 * crdt_client_send sends @p rq, with the next request id, without
 * waiting for a reply (for watch: then crdt_client_recv each reply).
 * Blocks until the whole message is written.
 *
 * Errors: as crdt_client_call, but never CRDT_ERR_TIMEOUT.
 */
CRDT_API int crdt_client_send(crdt_client *c,
                              const crdt_client_request *rq) CRDT_WARN_UNUSED;

/**
 * crdt_client_recv waits up to @p wait_ms milliseconds (0: no bound) for
 * the next reply, whatever its id, and decodes it into @p rp.
 *
 * Ownership and errors: as crdt_client_call.  A reply that fails to
 * decode is dropped (the next recv reads the one after it).
 */
CRDT_API int crdt_client_recv(crdt_client *c, crdt_client_reply *rp,
                              uint32_t wait_ms) CRDT_WARN_UNUSED;

/**
 * crdt_client_fd returns the connection's socket, for poll() (readable:
 * a reply may be complete), or -1 for NULL @p c.  Do not read, write or
 * close it.
 */
CRDT_API int crdt_client_fd(const crdt_client *c);

#ifdef __cplusplus
}
#endif

#endif /* CRDT_CLIENT_H */
