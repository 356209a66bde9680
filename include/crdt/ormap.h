/* SPDX-License-Identifier: MIT */
/**
 * @file crdt/ormap.h
 * Observed-remove map: byte-string keys to embedded CRDT values of any
 * registered type, on one causal context for the whole map and every
 * value in it (the causal map of Almeida, Shoker and Baquero 2018's
 * delta-state CRDTs, with Riak DT's per-key presence dots and embedded
 * counters).
 *
 * Two kinds of values:
 *  - causal values, the dot stores: orset, mvreg, ewflag, dwflag and
 *    nested ormaps.  Their dots are dots of the map: a mutation inside a
 *    value draws its new dots from the map's context, and removing a key
 *    removes the value's observed dots, so the value resets.
 *  - plain values, every other type (vclock, dotctx, gcounter,
 *    pncounter, lww, gset and application types).  They carry no dots,
 *    so the map keeps one slot per updating actor: the slot is tagged
 *    with the map dot of that actor's latest update of the key and holds
 *    the join of that actor's value deltas to the key (Riak's embedded
 *    counter, for any type).  The key's value is the join of its slots.
 *
 * State: a causal context C (crdt/dotctx.h) and, per key, an entry: the
 * value's type, the key's dots D (a set of dots of C) and
 *  - causal: one value V whose dots are in C (its own context, as an
 *    object, is exactly its dots);
 *  - plain: one value per dot of D (the slots), D non-empty.
 * No dot of C is in two places (two keys, a key's D and its value, two
 * levels of nested maps).  The key is present iff D is non-empty.  A
 * causal entry with D empty and dots left in V (possible when deltas
 * arrive out of causal order: a remove that saw the key's presence but
 * not all of its value) is kept, hidden; an entry with nothing left is
 * dropped.  Removed keys leave nothing but their dots in C: no
 * tombstones.
 *
 * Verbs:
 *  - update(actor, key, type, fn): fn mutates a copy of the key's value
 *    (for a new key, type->create's empty value) and fills value_delta.
 *    A causal value is mutated with C as its context, so its new dots
 *    are fresh in C.  Then the key gets one new presence dot d of actor
 *    (after every dot fn drew), superseding D.  For a plain value, the
 *    actor's slot (the key's dots of actor) is replaced by the slot d
 *    holding the old slot joined with value_delta; the other actors'
 *    slots stay.  The delta is {key: ({d}, value_delta)} (plain: the new
 *    slot) with context {d}, the superseded dots and value_delta's
 *    context.
 *  - remove(key): observed remove: the key's dots and its value's dots
 *    (causal) or slots (plain) go; the delta is those dots as context
 *    and no entries.  A concurrent update survives with exactly what it
 *    brought: for a causal value the updater's new dots (an OR-set value
 *    {x} removed while y is added concurrently merges to {y}); for a
 *    plain value the updater's slot, which holds every update of that
 *    actor to the key since its slot was last removed (a counter keeps
 *    that actor's whole count, as Riak's maps do).
 *  - merge (join), per key: D and plain slots by the dot-store join (a
 *    dot survives iff on both sides, or on one side and not in the other
 *    side's context; a slot on both sides has its values joined); causal
 *    values by their type's join with the two maps' contexts as their
 *    contexts (a key on one side only is joined with an empty value
 *    under the other side's context, which removes what that side saw
 *    removed); contexts joined.
 *  - A key created with different types on two replicas concurrently (a
 *    misuse) holds one entry per type, each joined on its own: the key
 *    shows (get, iteration, size) the present entry of the largest wire
 *    tag, update with another type fails with CRDT_ERR_TYPE, and remove
 *    removes them all.  Keeping both, rather than letting one type win,
 *    is what keeps merge a join once removes reset values.
 *  - One dot, two payloads: a dot names one event, but two maps can
 *    disagree about it when an actor id was reused (a replica restarted
 *    from a stale snapshot, or a faulty one).  Where both hold the dot at
 *    one place (the same key and type, as its presence, the same slot, or
 *    the same dot of the same element or value, at any depth) it stays:
 *    an MV-register's two values give the greater in byte order (mvreg.h),
 *    a plain slot's two values their join by the value's type.  Where
 *    they hold it at two places (two keys, two types of a key, a key's
 *    presence and a dot in its value, two elements or values, at any
 *    depth), each side has seen the dot and does not hold it where the
 *    other does, so the join drops it from both, as it drops any dot one
 *    side has seen and does not hold (an OR-set does the same with one
 *    dot under two elements); an entry left with no dot goes, the dot
 *    stays in the context.  So no dot ever ends up in two places, and
 *    merge stays a join on every decodable state, with the same bytes in
 *    either order.  (Letting one place keep the dot would make every
 *    merge look up where the other side holds each dot it drops because
 *    that side has seen it: an index of every dot of both maps.)
 *  - Merge is commutative, associative and idempotent.
 *
 * Semantics:
 *  - Add wins: an update concurrent with a remove of the same key keeps
 *    the key, with what the update brought (above).
 *  - Remove resets: a key removed and then updated again starts from an
 *    empty value, on every replica that saw the remove.
 *  - A key keeps its type while it is present: update with another type
 *    fails with CRDT_ERR_TYPE; after a remove, any type may be used.
 *  - A plain value's slots grow with the actors that update the key, not
 *    with the updates; a plain value's delta is the updating actor's slot
 *    (for a gset: every element that actor added to the key), so large
 *    collections belong in causal values (an orset).
 *
 * Reading: crdt_ormap_get and crdt_ormap_entry lend the value: a causal
 * value itself (its context is its own dots: query it with the type's
 * functions; it is not the map's state), a plain value as the join of its
 * slots, kept up to date by every mutation.
 *
 * Representation: a sorted array of entries (memcmp order over the common
 * length, then the shorter key first), searched by binary search: O(log n)
 * lookup, and the canonical (encoding) order and merge's linear two-
 * pointer pass come for free; an insert or remove moves the tail.  A hash
 * index would make lookups O(1) expected and inserts cheaper on large
 * maps, but it needs a keyed hash (hostile keys) and a sort before each
 * encode and merge; maps of embedded CRDTs are usually small and merged
 * or encoded as often as looked up, so the sorted array wins until
 * measurements say otherwise.  An index of the present entries keeps size
 * and crdt_ormap_entry O(1).  A map that receives small merges (deltas)
 * also keeps an index of its dots, which makes those merges independent
 * of its size (see crdt_ormap_merge); it costs about 55 bytes a dot.
 *
 * Depth: a map nested in a map counts one level; a map holds at most
 * CRDT_ORMAP_MAX_DEPTH levels of maps (itself included) when built by
 * crdt_ormap_update, which checks the height of a mutated map-typed value
 * (CRDT_ERR_LIMIT), and at most crdt_limits.max_depth levels when decoded.
 * Merge, copy, equal and encode recurse once per level.
 *
 * Encoding body (type tag CRDT_TAG_ORMAP), three fields:
 *     [1, 12, {actor: counter, ...}, [[actor, counter], ...],
 *      [[key, tag, [[actor, counter], ...], [value, ...]], ...]]
 * The first two fields are the causal context's body (as crdt/dotctx.h).
 * Then the entries, strictly ascending by key (bytes, memcmp then
 * length), then tag (one key may hold entries of several types, see
 * above), each four fields: key a MessagePack bin; tag the value type's
 * wire tag; the key's dots D, strictly ascending by (actor, counter), each
 * in the context; and the values, each a complete encoding of that tag
 * inline (a nested array [1, tag, body...]):
 *  - causal tag (7 mvreg, 8 orset, 9 ewflag, 10 dwflag, 12 ormap): one
 *    value, whose own context is exactly its dots, all in the map's
 *    context; D may be [] only if the value has a dot.
 *  - any other tag: one value per dot of D, in D's order (the slots); D
 *    is not empty.
 * No dot is in two places (the D of two keys, a D and a value, two
 * values).  Example: key "a" holding a gcounter {1: 2}, updated once by
 * actor 1:
 *     [1, 12, {1: 1}, [], [[h'61', 3, [[1, 1]], [[1, 3, {1: 2}]]]]]
 *     = 95 01 0c 81 01 01 90 91 94 c4 01 61 03 91 92 01 01
 *       91 93 01 03 81 01 02
 * and after removing "a" (nothing is left but the dot):
 *     [1, 12, {1: 1}, [], []] = 95 01 0c 81 01 01 90 90
 */
#ifndef CRDT_ORMAP_H
#define CRDT_ORMAP_H

#include <crdt/codec.h>
#include <crdt/common.h>
#include <crdt/dotctx.h>
#include <crdt/type.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Levels of maps crdt_ormap_update lets a map reach (itself included). */
#define CRDT_ORMAP_MAX_DEPTH 16u
/** Longest key: 2^32 - 1 bytes (a MessagePack bin). */
#define CRDT_ORMAP_MAX_KEY_BYTES ((size_t)0xffffffffu)

/** crdt_ormap_max_depth returns CRDT_ORMAP_MAX_DEPTH. */
CRDT_API size_t crdt_ormap_max_depth(void);

/** An opaque observed-remove map. */
typedef struct crdt_ormap crdt_ormap;

/**
 * The mutation run by crdt_ormap_update: mutate @p value (an object of
 * the type given to update) and fill @p value_delta (a fresh empty object
 * of the same type) with the mutation's delta, e.g.
 * `return crdt_gcounter_increment(value, actor, 1, value_delta);`.
 * Return CRDT_OK or a negative error (which update returns unchanged).
 * A causal value (orset, mvreg, ewflag, dwflag, ormap) comes with the
 * map's causal context as its own, so the dots it draws are new to the
 * map; a plain value is the key's whole value, the join of its slots.
 * Both objects belong to the map; do not keep them.
 */
typedef int (*crdt_ormap_update_fn)(void *value, void *value_delta,
                                    void *user_data);

/* ----------------------------------------------------------- lifecycle */

/**
 * crdt_ormap_new returns an empty map.  @p reg (may be NULL: the built-in
 * types) supplies the types whose values decode and merge can embed; it
 * is borrowed and must outlive the map.  Update accepts any valid
 * descriptor, registered or not, but only registered (or built-in) types
 * decode.
 *
 * Ownership: free with crdt_ormap_free.  @p mem (NULL = malloc) is copied
 * and used for the map and every value it creates.
 * Errors: NULL if allocation fails.  Complexity: O(1).
 */
CRDT_API crdt_ormap *crdt_ormap_new(const crdt_registry *reg,
                                    const crdt_mem *mem);

/** crdt_ormap_free frees @p m, its keys and values.  NULL is a no-op. */
CRDT_API void crdt_ormap_free(crdt_ormap *m);

/**
 * crdt_ormap_clone returns a deep copy of @p src with its registry and
 * allocator.  Errors: NULL if @p src is NULL or allocation fails.
 * Complexity: O(size of the state).
 */
CRDT_API crdt_ormap *crdt_ormap_clone(const crdt_ormap *src);

/**
 * crdt_ormap_copy makes @p dst a deep copy of @p src (assignment, not a
 * join).  @p dst keeps its registry and allocator.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM; @p dst unchanged on error.
 * src == dst is ok.  Complexity: O(size of the state).
 */
CRDT_API int crdt_ormap_copy(crdt_ormap *dst,
                             const crdt_ormap *src) CRDT_WARN_UNUSED;

/* ------------------------------------------------------------- queries */

/** crdt_ormap_size returns the number of present keys, those with an
 * entry that has a dot (0 for NULL); hidden entries do not count, and a
 * key with entries of several types counts once.  Complexity: O(1). */
CRDT_API size_t crdt_ormap_size(const crdt_ormap *m);

/** crdt_ormap_contains: true iff @p key (@p klen bytes) is present: it
 * has a dot.  Complexity: O(log n) key comparisons, n entries. */
CRDT_API bool crdt_ormap_contains(const crdt_ormap *m, const void *key,
                                  size_t klen);

/**
 * crdt_ormap_get looks up @p key: its value's type and the value (see
 * "Reading" at the top of this header): a causal value itself, whose
 * context is its own dots, or a plain value as the join of its slots.  A
 * key with present entries of several types shows the one of the largest
 * wire tag.
 *
 * Ownership: *@p value is borrowed from the map (read it through the
 * type's functions, e.g. crdt_gcounter_value; do not merge it into or
 * out of other objects as if it were the map's state) and valid until
 * the map's next mutation or free.  @p type or @p value may be NULL.
 * Errors: CRDT_ERR_INVALID_ARG (NULL map, NULL key with klen > 0),
 * CRDT_ERR_NOT_FOUND (the key is not present: never updated, removed, or
 * a hidden entry).  Out-parameters are written only on success.
 * Complexity: O(log n).
 */
CRDT_API int crdt_ormap_get(const crdt_ormap *m, const void *key, size_t klen,
                            const crdt_type **type, const void **value);

/**
 * crdt_ormap_entry reads the @p i-th present key in key order (bytes,
 * memcmp then length), for iteration up to crdt_ormap_size: its bytes,
 * length, type and value, all borrowed as in crdt_ormap_get (the entry
 * crdt_ormap_get shows).  Any out-parameter may be NULL.
 * Errors: CRDT_ERR_INVALID_ARG (NULL map), CRDT_ERR_NOT_FOUND (i >=
 * size).  Complexity: O(1).
 */
CRDT_API int crdt_ormap_entry(const crdt_ormap *m, size_t i,
                              const uint8_t **key, size_t *klen,
                              const crdt_type **type, const void **value);

/**
 * crdt_ormap_context_contains: true iff the map's causal context holds
 * dot @p d, i.e. the map has seen the event (an update, or the update a
 * later remove undid).  A delta whose context holds a dot this returns
 * false for changes the map when merged.  False for a NULL map.
 * Complexity: O(log actors + log cloud).
 */
CRDT_API bool crdt_ormap_context_contains(const crdt_ormap *m, crdt_dot d);

/**
 * crdt_ormap_context_copy replaces the contents of @p out with the map's
 * causal context: every event the map has seen.  crdt-node's session
 * tokens are made of these.
 * Errors: CRDT_ERR_INVALID_ARG (NULL), CRDT_ERR_NOMEM (@p out unchanged).
 * Complexity: O(context size).
 */
CRDT_API int crdt_ormap_context_copy(const crdt_ormap *m,
                                     crdt_dotctx *out) CRDT_WARN_UNUSED;

/**
 * crdt_ormap_equal: true iff the states are equal: same context, same
 * entries (hidden ones included) with the same dots, types (by tag) and
 * equal values (a plain value: equal slots, dot by dot).  NULL is the
 * empty map.  Complexity: O(size of the states).
 */
CRDT_API bool crdt_ormap_equal(const crdt_ormap *a, const crdt_ormap *b);

/* ------------------------------------------------------------ mutators */

/**
 * crdt_ormap_update mutates @p key's value (see "Verbs" at the top of
 * this header).  @p fn runs on a copy of the key's value of @p type (a
 * hidden entry's included), or of type->create's empty value if the key
 * has none (never updated, or removed: a removed key starts again from
 * empty), with a fresh value_delta; a causal value is mutated with the
 * map's context as its own.  Then the update commits with a new dot
 * (actor, m + 1), m the largest counter of @p actor in the context after
 * @p fn ran.  A causal value becomes the mutated copy and the new dot
 * supersedes all of the key's dots.  A plain value's slots of @p actor
 * are replaced by one slot under the new dot, holding them joined with
 * value_delta; the other actors' slots stay.  If @p delta is non-NULL,
 * the update's delta {key: (new dot, value_delta, or the new slot for a
 * plain value)} with context {new dot}, the superseded dots and
 * value_delta's context is joined into it (crdt_ormap_merge); merging
 * that delta anywhere has the effect of the update, provided fn fills
 * value_delta as the type's own mutators do
 * (value after fn == value before joined with value_delta).
 *
 * Ownership: copies the key; borrows @p type (it must outlive the map);
 * @p fn must not touch @p m or @p delta.
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p m, @p type or @p fn; invalid
 * descriptor; NULL key with klen > 0; klen > CRDT_ORMAP_MAX_KEY_BYTES;
 * @p delta == @p m), CRDT_ERR_TYPE (the key is present and shows a value
 * of another type; after a remove any type will do), CRDT_ERR_LIMIT (the
 * value is a map that would exceed CRDT_ORMAP_MAX_DEPTH),
 * CRDT_ERR_OVERFLOW (the actor's counter is exhausted), CRDT_ERR_NOMEM,
 * or @p fn's error unchanged.  Atomic: on error neither @p m nor @p delta
 * changes.
 * Complexity: O(log n) lookup, plus copying the value for fn (a causal
 * value with a copy of the map's context), plus, for a plain value, a
 * join of the actor's slots; for a key new or re-added, the insert's
 * memmove and an O(n) rebuild of the present-key index; if @p m holds
 * a dot index (see crdt_ormap_merge), a hash update per dot the key gains
 * or loses; the join into @p delta is a merge.
 */
CRDT_API int crdt_ormap_update(crdt_ormap *m, crdt_actor actor,
                               const void *key, size_t klen,
                               const crdt_type *type, crdt_ormap_update_fn fn,
                               void *user_data,
                               crdt_ormap *delta) CRDT_WARN_UNUSED;

/**
 * crdt_ormap_remove removes @p key (observed remove): every entry of the
 * key (one per type, hidden ones included) goes, its dots and its value's
 * dots (causal) or slots (plain) leaving the state and staying in the
 * context, so nothing of the key remains but those dots; updates that saw
 * them are undone everywhere, while a concurrent update keeps the key
 * with what it brought (see "Verbs" at the top of this header).  Removing
 * a key with no entry is a no-op that returns CRDT_OK and leaves @p delta
 * unchanged.  If @p delta is non-NULL, the remove's delta (context = the
 * removed dots, no entries) is joined into it.
 *
 * Errors: CRDT_ERR_INVALID_ARG (NULL @p m, NULL key with klen > 0,
 * @p delta == @p m), CRDT_ERR_NOMEM.  Atomic.
 * Complexity: O(log n) plus the removed entry's size, the erase's memmove
 * and an O(n) rebuild of the present-key index (and, with a dot index, a
 * hash update per removed dot); plus the join into @p delta.
 */
CRDT_API int crdt_ormap_remove(crdt_ormap *m, const void *key, size_t klen,
                               crdt_ormap *delta) CRDT_WARN_UNUSED;

/**
 * crdt_ormap_merge joins @p src (a state or a delta) into @p dst as
 * described at the top of this header: per entry (key and type), the
 * dots and a plain value's slots by the dot-store join, a causal value
 * by its type's join with the two maps' contexts as its context; then the
 * contexts.  A join: commutative, associative, idempotent, also when the
 * two hold one dot with different payloads (see the top of this header).
 * Entries left with no dot, under the key or in the value, are dropped.
 *
 * Ownership: borrows both; values new to @p dst are copied with its
 * allocator.  src == dst is ok.
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, an embedded type's merge
 * error (e.g. CRDT_ERR_OVERFLOW of a counter); on error @p dst is
 * unchanged.
 * Complexity: O(n + m) entries plus, for each entry on both sides, a
 * merge of its values, and for a causal entry on one side only, a join
 * with the other side's context; O(context sizes) for the contexts.  A
 * plain value costs what changes: src's slots and the slots src's
 * context removes are looked up (binary search), each new or changed
 * slot is copied and joined into the key's value, and the slots left
 * alone are neither copied nor moved; when a slot goes whose content no
 * new slot of its actor holds (the actor removed the key in between),
 * the value is recomputed as the join of the remaining slots.  A small
 * @p src (at most 8 entries) is merged in place: into a @p dst of fewer
 * than 16 entries by one pass over them; into a larger @p dst, when
 * @p src has at most 64 dots in its context (as deltas do), in O(src)
 * binary searches and hash lookups, plus the merge of the entries it
 * touches, plus, when a key appears or goes, a memmove and an O(n) shift
 * of the present-key index; the index of @p dst's dots this needs is
 * built (O(dots of dst)) at the second such merge and kept by update and
 * remove, and dropped by a larger merge, copy and decode.
 */
CRDT_API int crdt_ormap_merge(crdt_ormap *dst,
                              const crdt_ormap *src) CRDT_WARN_UNUSED;

/* --------------------------------------------------------------- codec */

/**
 * crdt_ormap_encode appends the canonical encoding of @p m (see the top
 * of this header) to @p out; embedded values are encoded by their types.
 *
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_NOMEM, CRDT_ERR_BUFFER, an
 * embedded type's encode error; on error @p out's length is unchanged.
 * Complexity: O(size of the encoding).
 */
CRDT_API int crdt_ormap_encode(const crdt_ormap *m,
                               crdt_buf *out) CRDT_WARN_UNUSED;

/**
 * crdt_ormap_decode replaces @p dst with the map encoded in the @p len
 * bytes at @p data (see "Encoding body" at the top of this header).  It
 * rejects anything crdt_dotctx_decode rejects in the context; entries
 * that are not [key, tag, dots, values]; entries not strictly ascending
 * by key, then tag; unsorted or duplicate dots, dots not in the context;
 * a dot in two places (the dots of two keys, a key's dots and a value,
 * two values, at any level of nesting); a value whose tag is not the
 * entry's; for a causal tag, values other than one, a value whose own
 * context is not exactly its dots, or an entry with no dot at all; for a
 * plain tag, no dots or values not one per dot; and embedded values their
 * own decoders reject.  Each embedded value is delimited by a bounded walk (no
 * allocation, no recursion) and decoded by its type from @p dst's
 * registry (built-ins when NULL).  Nested maps are decoded with @p dst's
 * registry.
 *
 * Ownership: borrows @p data; @p dst keeps its registry and allocator.
 * @p lim NULL = crdt_limits_default(); @p info (may be NULL) receives the
 * code and the offset of the offending byte (errors inside an embedded
 * value are reported at their offset in @p data).
 * Errors: CRDT_ERR_INVALID_ARG, CRDT_ERR_DECODE, CRDT_ERR_VERSION,
 * CRDT_ERR_TYPE (an embedded tag not registered), CRDT_ERR_LIMIT (more
 * than lim->max_elements entries or dots, keys longer than
 * lim->max_value_bytes, maps nested deeper than lim->max_depth levels),
 * CRDT_ERR_NOMEM, embedded decoders' errors, and the value type's merge
 * errors when joining a plain value's slots (CRDT_ERR_OVERFLOW of
 * counters).  On error @p dst is unchanged.
 * Complexity: O(len * depth), plus O(D log D) for D dots (the check that
 * no dot is in two places); allocations bounded by the input size.
 */
CRDT_API int crdt_ormap_decode(crdt_ormap *dst, const uint8_t *data,
                               size_t len, const crdt_limits *lim,
                               crdt_decode_info *info) CRDT_WARN_UNUSED;

/**
 * crdt_ormap_type returns the type descriptor of OR-maps (tag
 * CRDT_TAG_ORMAP).  Its create makes maps over the built-in types only
 * (registry NULL); crdt_registry_create and crdt_registry_decode make
 * maps over their registry's types.  Ownership: a static constant.
 */
CRDT_API const crdt_type *crdt_ormap_type(void);

#ifdef __cplusplus
}
#endif
#endif /* CRDT_ORMAP_H */
