/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/codec.h
 * Output buffers, the envelope every encoding shares, and the type tags.
 *
 * Every encoded value is one MessagePack array
 *     [format_version, type_tag, body...]
 * where format_version is CRDT_FORMAT_VERSION and type_tag one of
 * enum crdt_type_tag.  The body of each type is documented in its header
 * and in README.md.  Encodings are canonical: equal states give identical
 * bytes (entries sorted, every integer in its shortest MessagePack form).
 */
#ifndef CRDT_CODEC_H
#define CRDT_CODEC_H

#include <crdt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The one format version this library writes and reads. */
#define CRDT_FORMAT_VERSION 1u

/**
 * Type tags.  Part of the wire format: never renumbered or reused.
 */
typedef enum crdt_type_tag {
    CRDT_TAG_VCLOCK = 1,    /**< version vector */
    CRDT_TAG_DOTCTX = 2,    /**< causal context */
    CRDT_TAG_GCOUNTER = 3,  /**< grow-only counter */
    CRDT_TAG_PNCOUNTER = 4, /**< positive-negative counter */
    CRDT_TAG_LWW = 5,       /**< last-writer-wins register */
    CRDT_TAG_HLC = 6,       /**< hybrid logical clock state */
    CRDT_TAG_MVREG = 7,     /**< multi-value register */
    CRDT_TAG_ORSET = 8,     /**< add-wins observed-remove set */
    CRDT_TAG_EWFLAG = 9,    /**< enable-wins flag */
    CRDT_TAG_DWFLAG = 10,   /**< disable-wins flag */
    CRDT_TAG_GSET = 11,     /**< grow-only set */
    CRDT_TAG_ORMAP = 12     /**< observed-remove map of embedded CRDTs */
} crdt_type_tag;

/**
 * crdt_type_name returns the lower-case name of a type tag ("vclock",
 * "gcounter", ...), or NULL if @p tag is unknown.
 */
CRDT_API const char *crdt_type_name(uint32_t tag);

/**
 * crdt_type_from_name is the inverse of crdt_type_name: writes the tag of
 * @p name to @p tag.
 *
 * Errors: CRDT_ERR_INVALID_ARG for NULL arguments; CRDT_ERR_TYPE if the
 * name is unknown.  @p tag is written only on success.
 */
CRDT_API int crdt_type_from_name(const char *name, uint32_t *tag);

/**
 * An output byte buffer.  Either growable (crdt_buf_init: storage from the
 * allocator, grown as needed) or fixed (crdt_buf_init_fixed: the caller's
 * storage; writing past its capacity fails with CRDT_ERR_BUFFER).  Encoders
 * append to it; on failure they leave @c len as it was.
 *
 * The fields may be read; write them only through these functions.
 */
typedef struct crdt_buf {
    uint8_t *data; /**< bytes written so far start here (may be NULL) */
    size_t len;    /**< bytes written */
    size_t cap;    /**< bytes available at data */
    crdt_mem mem;  /**< allocator (growable buffers) */
    bool fixed;    /**< caller-owned storage, never grown or freed */
} crdt_buf;

/**
 * crdt_buf_init makes @p buf an empty growable buffer using @p mem
 * (NULL = malloc).  Allocates nothing.
 */
CRDT_API void crdt_buf_init(crdt_buf *buf, const crdt_mem *mem);

/**
 * crdt_buf_init_fixed makes @p buf an empty buffer over the caller's
 * @p cap bytes at @p data, which must outlive its use.
 */
CRDT_API void crdt_buf_init_fixed(crdt_buf *buf, uint8_t *data, size_t cap);

/**
 * crdt_buf_clear frees a growable buffer's storage (nothing for a fixed
 * one) and leaves it empty and reusable.
 */
CRDT_API void crdt_buf_clear(crdt_buf *buf);

/**
 * crdt_buf_reset forgets the contents (len = 0) and keeps the storage.
 */
CRDT_API void crdt_buf_reset(crdt_buf *buf);

/**
 * crdt_buf_reserve makes room for @p extra more bytes.
 *
 * Errors: CRDT_ERR_NOMEM (growable) or CRDT_ERR_BUFFER (fixed); the buffer
 * is unchanged on error.
 */
CRDT_API int crdt_buf_reserve(crdt_buf *buf, size_t extra) CRDT_WARN_UNUSED;

/**
 * crdt_buf_append copies @p n bytes from @p p to the end of @p buf.
 *
 * Errors: as crdt_buf_reserve; unchanged on error.
 */
CRDT_API int crdt_buf_append(crdt_buf *buf, const void *p,
                             size_t n) CRDT_WARN_UNUSED;

/**
 * crdt_decode_header reads the envelope of the encoding in @p data: the
 * format version must be CRDT_FORMAT_VERSION; the type tag is written to
 * @p tag.  It does not validate the body.  Use it to dispatch on the type
 * of an encoding of unknown type.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL), CRDT_ERR_DECODE (not an envelope),
 * CRDT_ERR_VERSION (other format version).  @p tag is written only on
 * success.
 */
CRDT_API int crdt_decode_header(const uint8_t *data, size_t len,
                                uint32_t *tag);

/**
 * Where a decoder stopped.  Decoders take an optional pointer to one and,
 * on failure, set @c offset to the byte offset of the first offending
 * byte and @c code to the error.  For an input cut short that is the
 * start of the first item that does not fit in the bytes left: the
 * header of an array, map or string whose count or length exceeds them,
 * a number whose bytes are missing, or @p len when the input ends
 * between two items.
 */
typedef struct crdt_decode_info {
    size_t offset; /**< byte offset of the problem */
    int code;      /**< the error returned */
} crdt_decode_info;

#ifdef __cplusplus
}
#endif
#endif /* CRDT_CODEC_H */
