/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/seal.h
 * Sealed gossip datagrams (libcrdt-gossip): authenticated encryption of
 * every datagram with a keyring that rotates without downtime.
 *
 * The gossip engine's datagrams are plaintext.  This module seals each one
 * with XChaCha20-Poly1305 (libsodium's crypto_aead_xchacha20poly1305_ietf)
 * under the keyring's primary key, and opens a received one with the key
 * its header names, so that a peer without a key of the keyring can
 * neither read nor forge nor alter a datagram.
 *
 * Format 1 of a sealed datagram (n plaintext bytes, n + 45 in all):
 *
 *     offset  bytes  field
 *     0       1      0xc1: format 1
 *     1       4      key id, big-endian, non-zero
 *     5       24     nonce, random
 *     29      n      ciphertext (XChaCha20 of the plaintext)
 *     29 + n  16     Poly1305 tag
 *
 * The associated data is bytes 0..4 (format and key id) followed by the
 * cluster id as 8 bytes big-endian, so a datagram of another cluster, or
 * one whose header was altered, fails to authenticate like any other
 * forgery.  0xc1 is the one byte MessagePack never uses, so no MessagePack
 * value starts with it, and a plaintext gossip datagram (a MessagePack
 * array: first byte 0x90..0x9f, 0xdc or 0xdd) is never mistaken for a
 * sealed one, nor the reverse (crdt_seal_is_plaintext).  A later format
 * will take another first byte that starts no MessagePack array.
 *
 * Why this construction: a random 192-bit nonce needs no state (no
 * counter to persist across restarts or to share between the
 * incarnations of a node) and makes a nonce collision negligible (below
 * 2^-64 after 2^64 datagrams under one key), where a random 96-bit nonce
 * (ChaCha20-Poly1305-IETF, AES-GCM) is unsafe after about 2^32 datagrams,
 * a few hours of a busy cluster.  The key id is 32 bits so that ids drawn
 * at random by independent `keygen` runs do not collide in practice.
 * Overhead: 45 bytes (CRDT_SEAL_OVERHEAD), within the 48 the node's
 * design allows; the engine's max_datagram must leave room for it
 * (crdt_seal_max_plaintext).  At the IPv6 minimum MTU (1280 bytes: 1232
 * of UDP payload) that is max_datagram = 1187.
 *
 * What sealing does not do: it does not hide the key id, the length or
 * the timing of datagrams, and it does not stop replays.  A replayed
 * datagram carries only data a member of the cluster sent; the engine's
 * merges are idempotent and a deleted key's tombstone stays, so it
 * brings nothing the cluster did not write, but it may make a node
 * answer (as the original did) or take the sender for up.
 *
 * Two layers:
 *   - crdt_keyring, crdt_seal and crdt_seal_open: keys and the two
 *     primitives, on caller buffers, without allocating.
 *   - crdt_sealer: the seam with a gossip node.  It wraps the node's send
 *     callback (crdt_sealer_send) and its receive (crdt_sealer_receive),
 *     applies the upgrade policy (plaintext accepted, or sent, during a
 *     migration) and counts every datagram it rejects, by reason
 *     (crdt_sealer_stats).  A rejected datagram never reaches the node,
 *     so it changes nothing there and costs no allocation.
 *
 * Keys in memory.  A keyring keeps its keys in memory from its crdt_mem
 * allocator (not sodium_malloc): the allocator hooks are the library's
 * one memory contract (applications route and account memory through
 * them; tests fail each allocation in turn and inspect freed blocks), and
 * sodium_malloc costs three or more pages (guard pages around each
 * block) and an mlock() per allocation, which RLIMIT_MEMLOCK often
 * refuses in containers.  Every byte that held a key is wiped with
 * sodium_memzero before it is freed or reused: storage never grows with
 * realloc (a moved block would leave a copy behind); it is copied to a
 * new block and the old one wiped; a removed key's slot is wiped; stack
 * copies made while parsing or formatting are wiped.  Keys are not
 * locked into RAM: a host that must keep them out of swap should use
 * encrypted swap or mlockall(2).
 *
 * Key files.  A key travels as one line of text,
 *     crdt-key v1 IIIIIIII KKKK...KKKK
 * IIIIIIII the key id as 8 hexadecimal digits (non-zero), KKKK... the
 * 32-byte key as 64 hexadecimal digits (lowercase when written; either
 * case read), fields separated by one space, then an optional "\n" (or
 * "\r\n") and nothing else: 86 bytes with the newline
 * (CRDT_SEAL_KEY_TEXT_BYTES).  This module reads and writes the line on
 * caller buffers and does no file I/O; a program that reads a key file
 * should keep it readable by its owner only and wipe its buffer
 * afterwards.  crdt_seal_key_generate makes a new key and id.
 *
 * Thread safety.  crdt_seal and crdt_seal_open only read the keyring:
 * any number of threads may call them on one keyring at once, provided
 * none changes it meanwhile (add, remove, set_primary, free need it to
 * themselves).  A sealer, like a gossip node, is used from one thread at
 * a time.
 */
#ifndef CRDT_SEAL_H
#define CRDT_SEAL_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/gossip.h>

#ifdef __cplusplus
extern "C" {
#endif

/** First byte of a sealed datagram of format 1. */
#define CRDT_SEAL_FORMAT_1 0xc1u
/** Bytes of a key. */
#define CRDT_SEAL_KEY_BYTES 32u
/** Bytes of a nonce. */
#define CRDT_SEAL_NONCE_BYTES 24u
/** Bytes before the ciphertext: format, key id, nonce. */
#define CRDT_SEAL_HEADER_BYTES 29u
/** Bytes of the authentication tag, after the ciphertext. */
#define CRDT_SEAL_TAG_BYTES 16u
/** Bytes a sealed datagram has beyond its plaintext. */
#define CRDT_SEAL_OVERHEAD 45u
/** Keys a keyring holds at most. */
#define CRDT_SEAL_MAX_KEYS 256u
/** Bytes of a key line with its "\n" (crdt_seal_key_format writes one
 * more, the terminating NUL). */
#define CRDT_SEAL_KEY_TEXT_BYTES 86u

/** crdt_seal_overhead returns CRDT_SEAL_OVERHEAD. */
CRDT_API size_t crdt_seal_overhead(void);
/** crdt_seal_key_bytes returns CRDT_SEAL_KEY_BYTES. */
CRDT_API size_t crdt_seal_key_bytes(void);

/**
 * crdt_seal_max_plaintext returns the largest plaintext whose sealed
 * datagram fits in @p sealed_max bytes: @p sealed_max - CRDT_SEAL_OVERHEAD,
 * or 0 if @p sealed_max is smaller than the overhead.  Set a gossip
 * node's max_datagram to it for the transport's largest payload.
 */
CRDT_API size_t crdt_seal_max_plaintext(size_t sealed_max);

/**
 * crdt_seal_is_plaintext tells whether @p len bytes at @p data look like a
 * plaintext gossip datagram: at least one byte, the first a MessagePack
 * array header (0x90..0x9f, 0xdc, 0xdd).  A sealed datagram never does.
 * Complexity: O(1).
 */
CRDT_API bool crdt_seal_is_plaintext(const uint8_t *data, size_t len);

/* -------------------------------------------------------------- keyring */

/** An opaque set of keys, each with a non-zero 32-bit id; one of them
 * may be the primary, the one crdt_seal uses. */
typedef struct crdt_keyring crdt_keyring;

/**
 * crdt_keyring_new creates an empty keyring (no keys, no primary).
 *
 * Ownership: on success *@p out is a new keyring the caller frees with
 * crdt_keyring_free.  @p mem (NULL = malloc) is copied and used for every
 * allocation of the keyring, keys included.
 * Errors: CRDT_ERR_INVALID_ARG (@p out NULL), CRDT_ERR_RANDOM (libsodium
 * failed to initialise), CRDT_ERR_NOMEM.  *@p out is written only on
 * success.
 * Complexity: O(1).
 */
CRDT_API int crdt_keyring_new(crdt_keyring **out,
                              const crdt_mem *mem) CRDT_WARN_UNUSED;

/**
 * crdt_keyring_free wipes every key of @p kr (sodium_memzero) and frees
 * it.  NULL: no-op.  Complexity: O(keys).
 */
CRDT_API void crdt_keyring_free(crdt_keyring *kr);

/**
 * crdt_keyring_add adds the key of CRDT_SEAL_KEY_BYTES bytes at @p key
 * under @p id, and makes it the primary if @p primary is true or if it is
 * the keyring's first key.
 *
 * Ownership: copies the key (the caller may wipe its copy at once).
 * Errors: CRDT_ERR_INVALID_ARG (NULL, @p id 0, or a key with @p id
 * already in the keyring), CRDT_ERR_LIMIT (already CRDT_SEAL_MAX_KEYS
 * keys), CRDT_ERR_NOMEM.  The keyring is unchanged on error.
 * Complexity: O(keys); allocates when the keyring grows (the old storage
 * is wiped and freed).
 */
CRDT_API int crdt_keyring_add(crdt_keyring *kr, uint32_t id,
                              const uint8_t *key,
                              bool primary) CRDT_WARN_UNUSED;

/**
 * crdt_keyring_add_text parses one key line (see "Key files" at the top)
 * from the @p len bytes at @p text and adds the key as crdt_keyring_add
 * does.
 *
 * Ownership: borrows @p text; the key bytes decoded from it are wiped
 * from the stack before returning.  @p info may be NULL.
 * Errors: CRDT_ERR_DECODE (not a key line: wrong prefix, field lengths,
 * separators, a non-hexadecimal digit, key id 0, bytes after the line),
 * CRDT_ERR_VERSION (a key line of another version, "crdt-key vN"), and
 * crdt_keyring_add's errors.  @p info, when given, gets the error and the
 * byte offset in @p text where the line went wrong (0 for errors that are
 * not about the text).  The keyring is unchanged on error.
 * Complexity: O(len).
 */
CRDT_API int crdt_keyring_add_text(crdt_keyring *kr, const char *text,
                                   size_t len, bool primary,
                                   crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_keyring_remove removes the key @p id and wipes its storage.  The
 * primary cannot be removed: make another key primary first.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL, or @p id is the primary),
 * CRDT_ERR_NOT_FOUND.  Never allocates.  Complexity: O(keys).
 */
CRDT_API int crdt_keyring_remove(crdt_keyring *kr, uint32_t id);

/**
 * crdt_keyring_set_primary makes key @p id the one crdt_seal uses.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOT_FOUND (unchanged).
 * Complexity: O(log keys).
 */
CRDT_API int crdt_keyring_set_primary(crdt_keyring *kr, uint32_t id);

/** crdt_keyring_primary returns the primary key's id, 0 if the keyring
 * is empty or NULL. */
CRDT_API uint32_t crdt_keyring_primary(const crdt_keyring *kr);

/** crdt_keyring_count returns the number of keys (0 for NULL). */
CRDT_API size_t crdt_keyring_count(const crdt_keyring *kr);

/**
 * crdt_keyring_id_at reads the id of the @p i-th key, in ascending id
 * order, into *@p id.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOT_FOUND (i out of range).
 */
CRDT_API int crdt_keyring_id_at(const crdt_keyring *kr, size_t i,
                                uint32_t *id);

/** crdt_keyring_has tells whether @p kr holds a key with id @p id. */
CRDT_API bool crdt_keyring_has(const crdt_keyring *kr, uint32_t id);

/**
 * crdt_keyring_key_text writes the key line of key @p id (with its "\n"
 * and a terminating NUL) to the @p cap bytes at @p out: what a key file
 * holds.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOT_FOUND, CRDT_ERR_BUFFER (@p cap
 * below CRDT_SEAL_KEY_TEXT_BYTES + 1).  @p out is written only on success.
 * The caller owns the secret in @p out and should wipe it after use.
 * Complexity: O(1) plus a lookup.
 */
CRDT_API int crdt_keyring_key_text(const crdt_keyring *kr, uint32_t id,
                                   char *out, size_t cap) CRDT_WARN_UNUSED;

/* --------------------------------------------------------------- keys */

/**
 * crdt_seal_key_generate draws a new key (CRDT_SEAL_KEY_BYTES random
 * bytes, libsodium's randombytes_buf) and a random non-zero key id.
 * With @p text non-NULL, also writes the key line (as
 * crdt_keyring_key_text) to the @p cap bytes at @p text: what
 * `crdt keygen` prints (and `crdt-node keygen` is to print).
 *
 * Ownership: the caller owns the secret written to @p key and @p text and
 * should wipe it after use.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p id or @p key), CRDT_ERR_BUFFER
 * (@p text given and @p cap too small), CRDT_ERR_RANDOM (libsodium failed
 * to initialise).  Nothing is written on error.
 */
CRDT_API int crdt_seal_key_generate(uint32_t *id, uint8_t *key, char *text,
                                    size_t cap) CRDT_WARN_UNUSED;

/**
 * crdt_seal_key_format writes the key line of @p key (CRDT_SEAL_KEY_BYTES
 * bytes) under @p id, with its "\n" and a NUL, to the @p cap bytes at
 * @p out.
 * Errors: CRDT_ERR_INVALID_ARG (NULL, @p id 0), CRDT_ERR_BUFFER (@p cap
 * below CRDT_SEAL_KEY_TEXT_BYTES + 1).  @p out is written only on
 * success.
 */
CRDT_API int crdt_seal_key_format(uint32_t id, const uint8_t *key, char *out,
                                  size_t cap) CRDT_WARN_UNUSED;

/**
 * crdt_seal_key_parse reads a key line from the @p len bytes at @p text
 * into *@p id and the CRDT_SEAL_KEY_BYTES bytes at @p key.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION, as
 * crdt_keyring_add_text (with @p info).  Nothing is written to @p id and
 * @p key on error.
 */
CRDT_API int crdt_seal_key_parse(const char *text, size_t len, uint32_t *id,
                                 uint8_t *key,
                                 crdt_decode_info *info) CRDT_WARN_UNUSED;

/* ----------------------------------------------------------- seal, open */

/**
 * crdt_seal seals the @p len bytes at @p data under the keyring's primary
 * key for cluster @p cluster_id, writing the datagram (@p len +
 * CRDT_SEAL_OVERHEAD bytes, format at the top) to the @p cap bytes at
 * @p out and its length to *@p outlen.  The nonce is drawn from
 * libsodium's randombytes_buf.
 *
 * Ownership: borrows everything; @p out must not overlap @p data.
 * Errors: CRDT_ERR_INVALID_ARG (NULL pointers, NULL @p data with a
 * length), CRDT_ERR_NOT_FOUND (the keyring has no primary key),
 * CRDT_ERR_BUFFER (@p cap < @p len + CRDT_SEAL_OVERHEAD).  @p out and
 * *@p outlen are written only on success.
 * Complexity: O(len); never allocates.
 */
CRDT_API int crdt_seal(const crdt_keyring *kr, uint64_t cluster_id,
                       const uint8_t *data, size_t len, uint8_t *out,
                       size_t cap, size_t *outlen) CRDT_WARN_UNUSED;

/**
 * crdt_seal_open checks and decrypts the sealed datagram of @p len bytes
 * at @p data for cluster @p cluster_id, with the key its header names
 * (only that key: there is no trial of the others), writing the
 * plaintext (@p len - CRDT_SEAL_OVERHEAD bytes) to the @p cap bytes at
 * @p out and its length to *@p outlen.  The tag is checked before
 * anything is decrypted.
 *
 * Ownership: borrows everything; @p out must not overlap @p data.
 * Errors, checked in this order:
 *   CRDT_ERR_INVALID_ARG  NULL pointers (NULL @p data with a length);
 *   CRDT_ERR_VERSION      the first byte is not CRDT_SEAL_FORMAT_1 (a
 *                         plaintext datagram gives this too: see
 *                         crdt_seal_is_plaintext);
 *   CRDT_ERR_DECODE       shorter than CRDT_SEAL_OVERHEAD (truncated);
 *   CRDT_ERR_NOT_FOUND    no key of the keyring has the header's key id;
 *   CRDT_ERR_BUFFER       @p cap < @p len - CRDT_SEAL_OVERHEAD;
 *   CRDT_ERR_AUTH         the tag does not authenticate: another key or
 *                         cluster, or any byte altered.
 * @p out and *@p outlen are written only on success.
 * Complexity: O(len) and O(log keys); never allocates.
 */
CRDT_API int crdt_seal_open(const crdt_keyring *kr, uint64_t cluster_id,
                            const uint8_t *data, size_t len, uint8_t *out,
                            size_t cap, size_t *outlen) CRDT_WARN_UNUSED;

/**
 * crdt_seal_key_id reads the key id of a sealed datagram's header into
 * *@p id without checking anything else (for logs and metrics).
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_VERSION, CRDT_ERR_DECODE (as
 * crdt_seal_open).
 */
CRDT_API int crdt_seal_key_id(const uint8_t *data, size_t len,
                              uint32_t *id);

/* ---------------------------------------------- the seam with the engine */

/** Why crdt_sealer_open rejected a datagram (crdt_sealer_stats). */
typedef enum crdt_seal_reject {
    CRDT_SEAL_REJECT_MALFORMED = 0, /**< truncated: shorter than a header
                                     *   and tag, or empty */
    CRDT_SEAL_REJECT_VERSION,       /**< unknown first byte: neither a
                                     *   known format nor plaintext */
    CRDT_SEAL_REJECT_OVERSIZE,      /**< longer than max_sealed */
    CRDT_SEAL_REJECT_UNKNOWN_KEY,   /**< key id not in the keyring */
    CRDT_SEAL_REJECT_AUTH,          /**< tag check failed: forged,
                                     *   altered, other key or cluster */
    CRDT_SEAL_REJECT_PLAINTEXT,     /**< plaintext, not accepted */
    CRDT_SEAL_REJECT_REASONS
} crdt_seal_reject;

/** crdt_seal_reject_name: "malformed", "version", "oversize",
 * "unknown_key", "auth", "plaintext"; NULL for an unknown reason. */
CRDT_API const char *crdt_seal_reject_name(int reason);

/** Counters of a sealer since it was created. */
typedef struct crdt_sealer_stats {
    uint64_t sealed;             /**< datagrams sealed */
    uint64_t sealed_bytes;       /**< their sealed bytes */
    uint64_t seal_failures;      /**< datagrams not sent: no primary key,
                                  *   too long, or the inner send failed */
    uint64_t sent_plaintext;     /**< sent unsealed (send_plaintext) */
    uint64_t opened;             /**< datagrams opened */
    uint64_t opened_bytes;       /**< their sealed bytes */
    uint64_t accepted_plaintext; /**< plaintext accepted
                                  *   (accept_plaintext) */
    uint64_t rejected[CRDT_SEAL_REJECT_REASONS]; /**< by reason */
    uint64_t rejected_bytes;     /**< bytes of all rejected datagrams */
} crdt_sealer_stats;

#define CRDT_SEALER_SETTINGS_VERSION 1u

/**
 * Sealer settings.  Fill with crdt_sealer_settings_default(), then set at
 * least cluster_id (the node's) and send (unless the node polls).
 *
 * Migrating a plaintext cluster to sealed datagrams without downtime
 * takes three rolling restarts (as memberlist's GossipVerifyIncoming and
 * GossipVerifyOutgoing): every node with accept_plaintext and
 * send_plaintext; then every node with accept_plaintext only; then every
 * node with neither (the default).
 */
typedef struct crdt_sealer_settings {
    uint32_t version;      /**< CRDT_SEALER_SETTINGS_VERSION */
    uint64_t cluster_id;   /**< bound into every datagram; the node's */
    /** Largest datagram on the wire, sealed (CRDT_GOSSIP_DEFAULT_DATAGRAM
     * + CRDT_SEAL_OVERHEAD: 1245, so that the engine's default fits).
     * At least CRDT_GOSSIP_MIN_DATAGRAM + CRDT_SEAL_OVERHEAD, at most
     * CRDT_GOSSIP_MAX_DATAGRAM + CRDT_SEAL_OVERHEAD. */
    size_t max_sealed;
    /** Upgrade mode: plaintext datagrams are passed to the node (and
     * counted) instead of rejected (false). */
    bool accept_plaintext;
    /** First step of an upgrade: datagrams are sent unsealed (false).
     * Requires accept_plaintext. */
    bool send_plaintext;
    /** The transport: sends a sealed datagram, as the engine's send
     * callback (crdt/gossip.h).  NULL: only crdt_sealer_seal and
     * crdt_sealer_open are usable (a polling application). */
    int (*send)(void *user_data, uint64_t to, const uint8_t *addr,
                size_t addrlen, const uint8_t *data, size_t len);
    void *user_data;       /**< passed to send */
} crdt_sealer_settings;

/** crdt_sealer_settings_default fills @p s with the defaults above
 * (cluster_id 0, no send callback).  NULL: no-op. */
CRDT_API void crdt_sealer_settings_default(crdt_sealer_settings *s);

/** An opaque sealer: a keyring, a cluster id, a policy, a
 * send and a receive buffer of max_sealed bytes each, and the counters. */
typedef struct crdt_sealer crdt_sealer;

/**
 * crdt_sealer_new creates a sealer on keyring @p kr.
 *
 * Use: set the gossip node's max_datagram to crdt_sealer_max_plaintext(),
 * its send callback to crdt_sealer_send with the sealer as user_data (or,
 * polling, seal each polled datagram with crdt_sealer_seal), and pass every
 * received datagram to crdt_sealer_receive instead of crdt_gossip_receive.
 *
 * Ownership: on success *@p out is a new sealer the caller frees with
 * crdt_sealer_free.  @p kr is borrowed: it must outlive the sealer (or be
 * replaced with crdt_sealer_set_keyring) and not change while a sealer
 * call runs.  @p settings is copied; @p mem (NULL = malloc) is copied and
 * used for the sealer's one allocation.
 * Errors: CRDT_ERR_INVALID_ARG (NULL, wrong settings version, max_sealed
 * out of range, send_plaintext without accept_plaintext),
 * CRDT_ERR_NOMEM.  *@p out is written only on success.
 * Complexity: O(1); allocates 2 * max_sealed bytes (a send and a receive
 * buffer), once.
 */
CRDT_API int crdt_sealer_new(crdt_sealer **out, const crdt_keyring *kr,
                             const crdt_sealer_settings *settings,
                             const crdt_mem *mem) CRDT_WARN_UNUSED;

/** crdt_sealer_free frees @p s (not its keyring).  NULL: no-op. */
CRDT_API void crdt_sealer_free(crdt_sealer *s);

/**
 * crdt_sealer_set_keyring makes @p s use keyring @p kr from now on (a
 * reloaded keyring, e.g. on SIGHUP).  The old one is no longer used and
 * may be freed.  Errors: CRDT_ERR_INVALID_ARG.
 */
CRDT_API int crdt_sealer_set_keyring(crdt_sealer *s, const crdt_keyring *kr);

/**
 * crdt_sealer_max_plaintext returns the largest datagram @p s can seal:
 * max_sealed - CRDT_SEAL_OVERHEAD, the max_datagram to give the node.
 */
CRDT_API size_t crdt_sealer_max_plaintext(const crdt_sealer *s);

/**
 * crdt_sealer_seal seals the @p len bytes at @p data as crdt_seal does
 * with the sealer's keyring and cluster id (or copies them unsealed with
 * send_plaintext), and counts it.
 *
 * Errors: crdt_seal's (CRDT_ERR_BUFFER also when the sealed datagram
 * would exceed max_sealed), each counted as a seal failure.  @p out and
 * *@p outlen are written only on success.
 * Complexity: O(len); never allocates.
 */
CRDT_API int crdt_sealer_seal(crdt_sealer *s, const uint8_t *data,
                              size_t len, uint8_t *out, size_t cap,
                              size_t *outlen) CRDT_WARN_UNUSED;

/**
 * crdt_sealer_send is a gossip send callback (crdt_gossip_callbacks.send)
 * whose user_data is a crdt_sealer: it seals the datagram into the
 * sealer's buffer and passes it to the settings' send with the same
 * @p to and @p addr.
 *
 * Returns 0, or non-zero (counted as a seal failure by the sealer and as
 * a send failure by the node) when sealing fails, when the settings have
 * no send, or when it returns non-zero.
 * Complexity: O(len); never allocates.
 */
CRDT_API int crdt_sealer_send(void *sealer, uint64_t to, const uint8_t *addr,
                              size_t addrlen, const uint8_t *data,
                              size_t len);

/**
 * crdt_sealer_open opens a received datagram of @p len bytes at @p data.
 * On success *@p plain points at the plaintext and *@p plainlen is its
 * length: into the sealer's receive buffer (valid until the next
 * crdt_sealer_open or crdt_sealer_receive on @p s; sealing and sending
 * use another buffer, so a node may answer while it reads) for a sealed
 * datagram, or @p data itself for plaintext accepted under
 * accept_plaintext.
 *
 * Every datagram is counted: opened, accepted as plaintext, or rejected
 * with its reason (crdt_seal_reject).  A datagram longer than max_sealed
 * is rejected before any cryptography.
 * Errors: CRDT_ERR_INVALID_ARG (NULL pointers); for a rejected datagram
 * crdt_seal_open's error (CRDT_ERR_VERSION also for plaintext that is not
 * accepted, CRDT_ERR_LIMIT for oversize).  The out-parameters are written
 * only on success.
 * Complexity: O(len) and O(log keys); never allocates.
 */
CRDT_API int crdt_sealer_open(crdt_sealer *s, const uint8_t *data,
                              size_t len, const uint8_t **plain,
                              size_t *plainlen) CRDT_WARN_UNUSED;

/**
 * crdt_sealer_receive opens a received datagram (crdt_sealer_open) and
 * passes its plaintext to crdt_gossip_receive(@p g, @p now_ms, @p addr,
 * @p addrlen, ...).  A rejected datagram is counted by the sealer and
 * never reaches @p g: it changes nothing there, allocates nothing, and is
 * not counted in the node's metrics.
 *
 * Errors: CRDT_OK for every datagram, rejected or not (as
 * crdt_gossip_receive; the stats say which); CRDT_ERR_INVALID_ARG (NULL
 * @p s or @p g, NULL @p data with a length); crdt_gossip_receive's
 * CRDT_ERR_BUSY and CRDT_ERR_NOMEM.
 * Complexity: crdt_sealer_open's, then crdt_gossip_receive's.
 */
CRDT_API int crdt_sealer_receive(crdt_sealer *s, crdt_gossip *g,
                                 uint64_t now_ms, const uint8_t *addr,
                                 size_t addrlen, const uint8_t *data,
                                 size_t len);

/** crdt_sealer_stats_get copies the sealer's counters into @p st. */
CRDT_API void crdt_sealer_stats_get(const crdt_sealer *s,
                                    crdt_sealer_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_SEAL_H */
