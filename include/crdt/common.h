/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/common.h
 * Errors, allocator hooks, actor ids, decode limits and version queries
 * shared by every libcrdt module.
 */
#ifndef CRDT_COMMON_H
#define CRDT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CRDT_BUILDING_LIBRARY) && defined(__GNUC__)
#define CRDT_API __attribute__((visibility("default")))
#else
#define CRDT_API
#endif

#if defined(__GNUC__)
#define CRDT_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define CRDT_WARN_UNUSED
#endif

/** Library version as a string, "MAJOR.MINOR.PATCH". */
#define CRDT_VERSION_STRING "0.1.0"
/** Library version as MAJOR * 10000 + MINOR * 100 + PATCH. */
#define CRDT_VERSION_NUMBER 100

/**
 * Error codes.  Every fallible call returns CRDT_OK (0) or one of these
 * negative values.  The numbers are part of the ABI and never reused.
 */
typedef enum crdt_error {
    CRDT_OK = 0,
    CRDT_ERR_NOMEM = -1,       /**< an allocation failed */
    CRDT_ERR_INVALID_ARG = -2, /**< a NULL or out-of-range argument */
    CRDT_ERR_DECODE = -3,      /**< malformed or non-canonical encoding */
    CRDT_ERR_LIMIT = -4,       /**< input exceeds a decode limit, or a
                                    configured bound (peers, a queue)
                                    is full */
    CRDT_ERR_OVERFLOW = -5,    /**< a counter or value would overflow */
    CRDT_ERR_VERSION = -6,     /**< unknown encoding format version */
    CRDT_ERR_TYPE = -7,        /**< unknown or unexpected type tag */
    CRDT_ERR_BUFFER = -8,      /**< fixed output buffer too small */
    CRDT_ERR_CLOCK_DRIFT = -9, /**< remote clock beyond the drift bound */
    CRDT_ERR_RANDOM = -10,     /**< the system random source failed */
    CRDT_ERR_NOT_FOUND = -11,  /**< no such entry */
    CRDT_ERR_BUSY = -12,       /**< called from inside a callback */
    CRDT_ERR_AUTH = -13,       /**< authentication failed: not sealed with
                                *   that key for that cluster, or altered */
    CRDT_ERR_IO = -14,         /**< a socket or file operation failed */
    CRDT_ERR_TIMEOUT = -15     /**< a consistency level or session could
                                *   not be met in time */
} crdt_error;

/**
 * crdt_strerror describes an error code in English.
 *
 * Ownership: returns a static string; never NULL (unknown codes give
 * "unknown error").
 */
CRDT_API const char *crdt_strerror(int err);

/**
 * Allocator hooks.  Every libcrdt object keeps the crdt_mem it was created
 * with (NULL means the C library's malloc/realloc/free) and routes all its
 * allocations through it.  The struct is copied into the object, so it
 * need not outlive the call; user_data must outlive the object.
 *
 * The functions follow the C library's contracts, except that they receive
 * @p user_data.  @c realloc is never called with size 0, @c free may be
 * called with NULL.
 */
typedef struct crdt_mem {
    void *(*malloc)(size_t size, void *user_data);
    void *(*realloc)(void *ptr, size_t size, void *user_data);
    void (*free)(void *ptr, void *user_data);
    void *user_data;
} crdt_mem;

/**
 * crdt_mem_default returns the allocator used when NULL is passed: the C
 * library's malloc, realloc and free.
 *
 * Ownership: a pointer to a constant; do not free.
 */
CRDT_API const crdt_mem *crdt_mem_default(void);

/**
 * Actor (replica) ids are 64-bit unsigned integers.  The wire carries the
 * integer; use crdt_actor_from_name() or crdt_actor_random() to make one.
 */
typedef uint64_t crdt_actor;

/**
 * crdt_actor_from_name derives an actor id from a name: XXH3-64 (seed 0)
 * of the @p len bytes at @p name, as computed by libxxhash's
 * XXH3_64bits().  The mapping is part of the format and never changes, so
 * other languages derive the same id (e.g. Python's
 * `xxhash.xxh3_64_intdigest(name)`).
 *
 * Ownership: borrows @p name (may be NULL when @p len is 0).
 */
CRDT_API crdt_actor crdt_actor_from_name(const void *name, size_t len);

/**
 * crdt_actor_random draws a uniformly random non-zero actor id from the
 * operating system's random source (getrandom(2)).
 *
 * Errors: CRDT_ERR_INVALID_ARG if @p out is NULL; CRDT_ERR_RANDOM if the
 * system source fails.  @p out is written only on success.
 */
CRDT_API int crdt_actor_random(crdt_actor *out) CRDT_WARN_UNUSED;

/**
 * Limits applied by every decoder.  Inputs beyond a limit are rejected with
 * CRDT_ERR_LIMIT.  Independently of these, a decoder never allocates more
 * than a small constant times the input length.  Fill one with
 * crdt_limits_default() and adjust; pass NULL for the defaults.
 */
typedef struct crdt_limits {
    uint32_t version;        /**< CRDT_LIMITS_VERSION */
    size_t max_actors;       /**< entries in one clock or counter */
    size_t max_value_bytes;  /**< bytes in one register value or element */
    size_t max_elements;     /**< elements of one set, map or dot cloud */
    size_t max_depth;        /**< nesting of embedded values */
} crdt_limits;

#define CRDT_LIMITS_VERSION 1u
#define CRDT_DEFAULT_MAX_ACTORS ((size_t)1 << 20)
#define CRDT_DEFAULT_MAX_VALUE_BYTES ((size_t)16 << 20)
#define CRDT_DEFAULT_MAX_ELEMENTS ((size_t)1 << 24)
#define CRDT_DEFAULT_MAX_DEPTH ((size_t)16)

/**
 * crdt_limits_default fills @p lim with the default limits (the
 * CRDT_DEFAULT_* macros).  Does nothing if @p lim is NULL.
 */
CRDT_API void crdt_limits_default(crdt_limits *lim);

/** crdt_version_string returns CRDT_VERSION_STRING of the linked library. */
CRDT_API const char *crdt_version_string(void);
/** crdt_version_number returns CRDT_VERSION_NUMBER of the linked library. */
CRDT_API int crdt_version_number(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_COMMON_H */
