/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/type.h
 * Type descriptors (vtables) and registries: how code holds CRDTs without
 * knowing their types, and how applications add types of their own.
 *
 * A crdt_type describes one replicated data type through the verbs every
 * libcrdt type offers (create, destroy, copy, equal, merge, encode,
 * decode).  Each built-in type exports its descriptor from its own module
 * (crdt_gcounter_type(), ...), so linking a descriptor pulls in only that
 * type.  Merge is the join: commutative, associative, idempotent; it is
 * also how a delta is applied or joined into a delta group (deltas are
 * states of the same type).
 *
 * A crdt_registry maps wire tags and names to descriptors, so that an
 * encoding of unknown type can be decoded generically
 * (crdt_registry_decode).  Applications register their own types with
 * tags >= CRDT_TAG_USER_MIN; built-in tags are below it.
 */
#ifndef CRDT_TYPE_H
#define CRDT_TYPE_H

#include <crdt/codec.h>
#include <crdt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRDT_TYPE_VERSION 1u
/** First tag available to application-defined types. */
#define CRDT_TAG_USER_MIN 1024u

/**
 * A type descriptor.  Every function must follow the libcrdt contract of
 * its verb: a failed call returns a negative crdt_error and changes
 * nothing.  All fields are required.
 */
typedef struct crdt_type {
    uint32_t version; /**< CRDT_TYPE_VERSION */
    uint32_t tag;     /**< wire tag (the second element of an encoding) */
    const char *name; /**< short lower-case name, e.g. "gcounter" */
    /** New empty object allocated with @p mem (NULL = malloc); NULL on
     *  failure. */
    void *(*create)(const crdt_mem *mem);
    /** Frees an object from create (NULL is a no-op). */
    void (*destroy)(void *obj);
    /** Makes @p dst equal to @p src (assignment). */
    int (*copy)(void *dst, const void *src);
    /** True iff the two states are equal. */
    bool (*equal)(const void *a, const void *b);
    /** Joins @p src (a state or a delta) into @p dst. */
    int (*merge)(void *dst, const void *src);
    /** Appends the canonical encoding of @p obj to @p out. */
    int (*encode)(const void *obj, crdt_buf *out);
    /** Replaces @p dst by the decoded state; @p dst unchanged on error. */
    int (*decode)(void *dst, const uint8_t *data, size_t len,
                  const crdt_limits *lim, crdt_decode_info *info);
} crdt_type;

/**
 * crdt_type_check validates a descriptor: version, every function present,
 * a non-empty name.
 *
 * Errors: CRDT_ERR_INVALID_ARG if it is not usable.
 */
CRDT_API int crdt_type_check(const crdt_type *type);

/** An opaque map from tags and names to type descriptors. */
typedef struct crdt_registry crdt_registry;

/**
 * crdt_registry_new returns an empty registry.
 *
 * Ownership: free with crdt_registry_free.  Descriptors added later are
 * borrowed and must outlive the registry (built-in ones are static).
 * Errors: NULL if allocation fails.
 */
CRDT_API crdt_registry *crdt_registry_new(const crdt_mem *mem);

/** crdt_registry_free frees @p reg (not the descriptors).  NULL: no-op. */
CRDT_API void crdt_registry_free(crdt_registry *reg);

/**
 * crdt_registry_add registers @p type under its tag and name.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL, or crdt_type_check fails, or the tag
 * or name is already registered), CRDT_ERR_NOMEM.  Unchanged on error.
 * Complexity: O(n).
 */
CRDT_API int crdt_registry_add(crdt_registry *reg,
                               const crdt_type *type) CRDT_WARN_UNUSED;

/**
 * crdt_registry_add_builtins registers every built-in replicated type
 * (vclock, dotctx, gcounter, pncounter, lww, and those of later modules).
 * Linking it links all of them.
 *
 * Errors: as crdt_registry_add; on error the registry is unchanged.
 */
CRDT_API int crdt_registry_add_builtins(crdt_registry *reg) CRDT_WARN_UNUSED;

/** crdt_registry_find returns the type registered for @p tag, or NULL. */
CRDT_API const crdt_type *crdt_registry_find(const crdt_registry *reg,
                                             uint32_t tag);

/** crdt_registry_find_name returns the type called @p name, or NULL. */
CRDT_API const crdt_type *crdt_registry_find_name(const crdt_registry *reg,
                                                  const char *name);

/** crdt_registry_size returns the number of registered types. */
CRDT_API size_t crdt_registry_size(const crdt_registry *reg);

/**
 * crdt_registry_entry returns the @p i-th registered type (in order of
 * registration), or NULL when @p i >= size.
 */
CRDT_API const crdt_type *crdt_registry_entry(const crdt_registry *reg,
                                              size_t i);

/**
 * crdt_registry_create returns a new empty object of @p type (normally one
 * of @p reg's types) allocated with @p mem (NULL = malloc): type->create,
 * except that an OR-map (crdt_ormap_type()) is made with crdt_ormap_new(reg,
 * mem), so that its values may be of any type @p reg holds, user types
 * included.  Code that holds objects generically should create them here
 * rather than through type->create.
 *
 * Ownership: the caller destroys the object with type->destroy; an OR-map
 * borrows @p reg, which must outlive it.
 * Errors: NULL if @p reg or @p type is NULL or allocation fails.
 */
CRDT_API void *crdt_registry_create(const crdt_registry *reg,
                                    const crdt_type *type,
                                    const crdt_mem *mem);

/**
 * crdt_registry_decode decodes an encoding of any registered type: reads
 * the envelope's tag, creates an object of that type with @p mem
 * (crdt_registry_create: an OR-map can hold values of any of @p reg's
 * types) and decodes into it.
 *
 * Ownership: on success *@p obj is a new object the caller destroys with
 * (*@p type)->destroy; a decoded OR-map borrows @p reg, which must outlive
 * it.  @p info as in the types' decoders.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_TYPE (tag not registered), the
 * decoder's errors, CRDT_ERR_NOMEM.  Out-parameters are written only on
 * success.
 */
CRDT_API int crdt_registry_decode(const crdt_registry *reg,
                                  const uint8_t *data, size_t len,
                                  const crdt_limits *lim, const crdt_mem *mem,
                                  const crdt_type **type, void **obj,
                                  crdt_decode_info *info) CRDT_WARN_UNUSED;

#ifdef __cplusplus
}
#endif
#endif /* CRDT_TYPE_H */
