/* SPDX-License-Identifier: MIT */
/*
 * Session tokens of crdt-node.
 *
 * A token is what a client session has observed and written: for each key
 * the session touched, the causal context of that key's state as the
 * session last saw it (the events it has seen: writes, and the writes
 * removes undid).  A node serves a request that carries a token only when,
 * for every key of the token, its own state of the key has seen every
 * event of the token's context (ntoken_covered_by): then what it answers
 * is at least what the session saw, which is what read-your-writes,
 * monotonic reads, monotonic writes and writes-follow-reads need.
 *
 * Encoding (canonical MessagePack, opaque to clients):
 *     [1, [[key (bin), context (bin: crdt_dotctx's canonical encoding)],
 *          ...]]
 * keys ascending (byte order, shorter first), each once; at most
 * NTOKEN_MAX_KEYS keys and NTOKEN_MAX_BYTES bytes.  The empty token (no
 * keys) is the empty byte string, and only that: [1, []] is rejected, so
 * that every token has exactly one encoding.  A context must be a
 * canonical crdt_dotctx encoding of format version 1.
 */
#ifndef CRDT_NODE_TOKEN_H
#define CRDT_NODE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <crdt/common.h>
#include <crdt/dotctx.h>

/** Most keys a token holds; a session that touches more gets
 * CRDT_ERR_LIMIT and must start over (a new session). */
#define NTOKEN_MAX_KEYS 1024u
/** Longest encoded token accepted. */
#define NTOKEN_MAX_BYTES (1u << 20)

typedef struct ntoken ntoken;

/**
 * ntoken_new makes an empty token on allocator @p mem (NULL = malloc).
 * Errors: CRDT_ERR_NOMEM.
 */
int ntoken_new(ntoken **out, const crdt_mem *mem);
/** ntoken_free frees @p t.  NULL: no-op. */
void ntoken_free(ntoken *t);

/**
 * ntoken_decode replaces @p t's contents with the token of @p len bytes at
 * @p data (len 0: the empty token).  Hostile input safe: a malformed,
 * non-canonical, unsorted, oversized token is rejected and @p t is
 * unchanged; allocation is bounded by @p len.
 * Errors: CRDT_ERR_DECODE (also for a context that is not a dotctx
 * encoding of version 1), CRDT_ERR_VERSION (the token's version is not
 * 1), CRDT_ERR_LIMIT (over NTOKEN_MAX_KEYS keys or NTOKEN_MAX_BYTES, or a
 * context over the default crdt_limits), CRDT_ERR_NOMEM,
 * CRDT_ERR_INVALID_ARG.
 */
int ntoken_decode(ntoken *t, const uint8_t *data, size_t len);

/**
 * ntoken_encode appends @p t's canonical encoding to @p out (nothing
 * for the empty token).
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER,
 * CRDT_ERR_LIMIT (the encoding would exceed NTOKEN_MAX_BYTES, which
 * ntoken_decode refuses); @p out's length unchanged on error.
 */
int ntoken_encode(const ntoken *t, crdt_buf *out);

/**
 * ntoken_observe joins @p ctx into the token's context of the key of
 * @p klen bytes at @p key (adding the key if new).
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_LIMIT (a new key beyond
 * NTOKEN_MAX_KEYS), CRDT_ERR_NOMEM.  @p t unchanged on error.
 */
int ntoken_observe(ntoken *t, const uint8_t *key, size_t klen,
                   const crdt_dotctx *ctx);

/** ntoken_merge joins every key of @p src into @p dst (same errors as
 * ntoken_observe; @p dst unchanged on error). */
int ntoken_merge(ntoken *dst, const ntoken *src);

/** ntoken_count returns the number of keys. */
size_t ntoken_count(const ntoken *t);

/** ntoken_at reads the @p i-th key (ascending) and its context (both
 * borrowed until the next change of @p t).  CRDT_ERR_NOT_FOUND past the
 * end. */
int ntoken_at(const ntoken *t, size_t i, const uint8_t **key, size_t *klen,
              const crdt_dotctx **ctx);

/** ntoken_find returns the context of the key, or NULL. */
const crdt_dotctx *ntoken_find(const ntoken *t, const uint8_t *key,
                               size_t klen);

/**
 * ntoken_ctx_covers tells whether @p have has seen every event of
 * @p want (NULL @p have: only if @p want is empty).
 */
bool ntoken_ctx_covers(const crdt_dotctx *have, const crdt_dotctx *want);

#endif
