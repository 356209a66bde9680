/* SPDX-License-Identifier: MIT */
/*
 * crdt-node's durable store: every key's gossip state (the canonical
 * OR-map encoding crdt_gossip_state writes) and the node's identity, in
 * an LMDB environment.
 *
 * On-disk layout of a data directory DIR (created with mode 0700):
 *   DIR/data.mdb, DIR/lock.mdb  the LMDB environment (files mode 0600),
 *                               two named databases:
 *     "meta"  identity, values big-endian uint64 unless said otherwise:
 *             "format" (1), "node_id", "cluster_id", "name" (bytes),
 *             "incarnation" (of the last start), "starts" (count).
 *     "keys"  one entry per key: the value is the key's state.  LMDB keys
 *             are at most K = mdb_env_get_maxkeysize() bytes (511), crdt
 *             keys at most NSTORE_MAX_KEY (1024): a key shorter than K is
 *             its own LMDB key; a longer one is stored under
 *             key[0 .. K-32) || BLAKE2b-256(key) (exactly K bytes, so it
 *             never meets a short key) with the value
 *             u16 big-endian klen || key || state.
 *   DIR/node.lock               flock(LOCK_EX) by the process that has
 *                               the store open read-write (it holds its
 *                               pid as text, for people).
 *
 * Durability: the environment uses LMDB's default synchronous commits
 * (never MDB_NOSYNC, MDB_NOMETASYNC or MDB_WRITEMAP): when nstore_start,
 * nstore_put, nstore_put_many or nstore_restore return CRDT_OK, their
 * writes are on disk (fsync'd) and survive a crash of the process or the
 * machine; when they fail, none of their writes happened.  A process
 * killed mid-call leaves the store as it was before the call or after.
 *
 * Errors are libcrdt codes (crdt/common.h): CRDT_ERR_IO (an LMDB, file or
 * directory operation failed), CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE
 * (corrupt content), CRDT_ERR_NOMEM, CRDT_ERR_BUSY (DIR is in use),
 * CRDT_ERR_NOT_FOUND.  Functions on an open store keep a one-line reason
 * (path, LMDB's mdb_strerror, ...) for nstore_error; the others write it
 * to the caller's @p err of @p errcap bytes (may be NULL/0).
 *
 * Not thread-safe: one call at a time on a store, from any thread (the
 * environment is opened with MDB_NOTLS and every call ends its own
 * transaction, so a worker thread may do the puts).  Do not fork with a
 * store open and use it in the child; do not open a DIR twice in one
 * process (LMDB's rule; the second nstore_open of a DIR fails with BUSY
 * anyway).  Reader slots left by killed processes are freed at open.
 */
#ifndef CRDT_NODE_STORE_H
#define CRDT_NODE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <crdt/codec.h>

/** Longest key the store accepts (the gossip engine's default). */
#define NSTORE_MAX_KEY 1024u
/** Initial map size when 0 is given to nstore_open. */
#define NSTORE_DEFAULT_MAP_SIZE ((size_t)64 << 20)
/** The map grows (doubling) up to this size, then writes fail with IO
 * (64 GiB; 1 GiB where size_t has 32 bits). */
#if SIZE_MAX > 0xffffffffu
#define NSTORE_MAX_MAP_SIZE ((size_t)64 << 30)
#else
#define NSTORE_MAX_MAP_SIZE ((size_t)1 << 30)
#endif

typedef struct nstore nstore;

/** One write of nstore_put_many (borrowed views). */
typedef struct nstore_item {
    const uint8_t *key;
    size_t klen;
    const uint8_t *state;
    size_t slen;
} nstore_item;

/**
 * nstore_open opens (creating DIR, mode 0700, and the environment if
 * missing) the store in @p dir read-write, and takes DIR/node.lock for
 * the store's lifetime.  @p map_size is the initial LMDB map size (0:
 * NSTORE_DEFAULT_MAP_SIZE; an existing larger map is kept); writes double
 * it when full, up to NSTORE_MAX_MAP_SIZE.
 *
 * Ownership: on success *@p out is a new store to nstore_close; @p dir is
 * copied.
 * Errors: CRDT_ERR_INVALID_ARG (NULL), CRDT_ERR_BUSY (another process, or
 * this one, has DIR open: "data directory ... is in use"), CRDT_ERR_IO
 * (mkdir, lock file or LMDB failure), CRDT_ERR_NOMEM, CRDT_ERR_RANDOM
 * (sodium_init failed); the reason goes to @p err.  *@p out is written
 * only on success.
 */
int nstore_open(nstore **out, const char *dir, size_t map_size, char *err,
                size_t errcap);

/** nstore_close closes the environment and releases node.lock.  NULL:
 * no-op. */
void nstore_close(nstore *st);

/** nstore_error returns the reason of the last failed call on @p st (""
 * if none); valid until the next call on @p st. */
const char *nstore_error(const nstore *st);

/** nstore_map_size returns the current LMDB map size in bytes. */
size_t nstore_map_size(const nstore *st);

/**
 * nstore_start records a start of node @p node_id of cluster @p cluster_id
 * named @p name (NUL-terminated): on a fresh store writes the identity;
 * on one of the same node and cluster, keeps it.  Draws a random non-zero
 * incarnation different from the stored one (getrandom), stores it,
 * increments "starts", commits durably, then writes it to
 * *@p incarnation.  The gossip engine writes with actor
 * XXH3(node_id || incarnation): a fresh incarnation per start never
 * reuses a dot.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL, node_id 0, or the store belongs to
 * another node or cluster: the message names both), CRDT_ERR_DECODE
 * (malformed meta), CRDT_ERR_RANDOM, CRDT_ERR_IO.  Nothing written on
 * error.
 */
int nstore_start(nstore *st, uint64_t node_id, uint64_t cluster_id,
                 const char *name, uint64_t *incarnation);

/**
 * nstore_meta reads the stored identity (any out-parameter may be NULL;
 * @p name gets at most @p namecap - 1 bytes and a NUL).
 *
 * Errors: CRDT_ERR_NOT_FOUND (never started), CRDT_ERR_DECODE,
 * CRDT_ERR_IO, CRDT_ERR_INVALID_ARG.
 */
int nstore_meta(nstore *st, uint64_t *node_id, uint64_t *cluster_id,
                uint64_t *incarnation, uint64_t *starts, char *name,
                size_t namecap);

/**
 * nstore_load appends to @p snapshot a gossip snapshot of every stored
 * key, the format crdt_gossip_restore reads (and crdt_gossip_snapshot
 * writes): MessagePack [1, @p node_id, [[key (bin), state], ...]], keys
 * ascending as bytes.  States are copied as stored, not decoded
 * (crdt_gossip_restore checks them all before applying any).  Writes the
 * number of keys to *@p nkeys (may be NULL).
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM / CRDT_ERR_BUFFER (from
 * @p snapshot), CRDT_ERR_DECODE (a malformed long-key entry),
 * CRDT_ERR_IO; @p snapshot's length is unchanged on error.
 * Complexity: O(n log n) for n keys, one read transaction.
 */
int nstore_load(nstore *st, uint64_t node_id, crdt_buf *snapshot,
                size_t *nkeys);

/**
 * nstore_put stores @p state (@p slen > 0 bytes) as the state of the key
 * of @p klen (1..NSTORE_MAX_KEY) bytes, replacing any previous one, in
 * one durable transaction.  The state is not checked: store what
 * crdt_gossip_state wrote.  Each commit syncs (about 5 ms on an ext4
 * disk, measured): batch the writes of a loop turn with nstore_put_many
 * (1000 keys of 200 bytes: about 7 ms).
 *
 * Ownership: copies both.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_IO (incl. a map at its maximum
 * size); on error the store is unchanged.
 */
int nstore_put(nstore *st, const uint8_t *key, size_t klen,
               const uint8_t *state, size_t slen);

/**
 * nstore_put_many stores the @p n items in one durable transaction: all
 * or none.  A key given twice ends with its last state.
 *
 * Errors: as nstore_put (the message names the offending item).
 */
int nstore_put_many(nstore *st, const nstore_item *items, size_t n);

/**
 * nstore_get appends the key's stored state to @p out.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOT_FOUND, CRDT_ERR_DECODE,
 * CRDT_ERR_IO, CRDT_ERR_NOMEM / CRDT_ERR_BUFFER; @p out unchanged on
 * error.
 */
int nstore_get(nstore *st, const uint8_t *key, size_t klen, crdt_buf *out);

/** nstore_count returns the number of stored keys (0 on error, with the
 * reason in nstore_error). */
size_t nstore_count(nstore *st);

/**
 * nstore_backup writes a compacted, consistent copy of the store in
 * @p dir to the single LMDB file @p path (open it with MDB_NOSUBDIR):
 * into "@p path.tmp", fsync'd, renamed to @p path, the directory
 * fsync'd.  Works while a crdt-node process has DIR open (it opens the
 * environment read-only as another LMDB reader and does not take
 * node.lock); the copy is the state of one committed transaction.
 * Must not be called by a process that has @p dir open itself (LMDB).
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_IO (no store in @p dir, file
 * or LMDB failure; @p path is untouched and the .tmp removed),
 * CRDT_ERR_NOMEM; the reason goes to @p err.
 */
int nstore_backup(const char *dir, const char *path, char *err,
                  size_t errcap);

/**
 * nstore_restore merges every key of the backup file @p path into the
 * store in @p dir (creating it): a key DIR lacks gets the backup's state;
 * a key both have gets the join of the two (decoded as OR-maps with the
 * built-in types, crdt_ormap_merge, re-encoded).  Meta: if DIR has no
 * identity it takes the backup's; if DIR's identity is of another node
 * or cluster, the restore is refused.  One transaction: on error DIR's
 * store is unchanged.  Takes node.lock: the node must not be running.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL; identity mismatch, named),
 * CRDT_ERR_BUSY (DIR in use), CRDT_ERR_VERSION (a backup of another
 * store format), CRDT_ERR_DECODE (a corrupt state in the
 * backup or DIR, whatever the decoder's error: the message names the key
 * and gives the decoder's reason; or not a crdt-node backup),
 * CRDT_ERR_IO, CRDT_ERR_NOMEM; the reason goes to @p err.  Writes the
 * number of keys in the backup to *@p nkeys (may be NULL) on success.
 */
int nstore_restore(const char *dir, const char *path, size_t *nkeys,
                   char *err, size_t errcap);

#endif
