/* SPDX-License-Identifier: MIT */
/*
 * elemset: the element store shared by the G-set and the OR-set: a set of
 * byte strings in contiguous storage with a keyed open-addressing index,
 * plus (for dot stores) one dot per element inline.
 *
 * Representation (one allocation each, grown by doubling):
 *   arena  the bytes of elements longer than ES_INLINE (8), back to back,
 *          no terminator.  Removing one leaves its bytes as garbage (or
 *          shrinks the arena when they are at its end); the arena is
 *          compacted when garbage exceeds half of it.
 *   ents   n entries {ref, len, hash}: 16 bytes each.  ref holds an
 *          element of <= 8 bytes itself (zero-padded: compared as one
 *          word, no arena access, no garbage on removal), else the
 *          offset of its bytes in the arena.  hash is the low 32 bits of
 *          SipHash-2-4 (crypto_shorthash) of the bytes under the object's
 *          key: all zero while the set is unkeyed (keyed == false, at
 *          most ES_KEY_AT elements), random and per object once it has
 *          held more (see "Keying" below).  Entry order is storage
 *          order: appends go last; a removal moves the last entry into
 *          the hole.
 *   dots   (dot stores only, else NULL) parallel to ents: the element's
 *          one dot inline (counter >= 1), or, when it has several,
 *          counter == 0 and actor holding a pointer to a dotlist (sorted
 *          dots, at least 2).  So the usual one-dot element costs 16
 *          bytes and no allocation.
 *   slots  2^k index slots, 8 bytes each: hash << 32 | (entry index + 1),
 *          0 = empty.  Linear probing from hash & mask, deletion by
 *          backward shift (no tombstones); load factor <= 3/4.  The hash
 *          in the slot rejects almost every non-matching probe without
 *          touching the entry.
 *
 * Memory for n elements of b bytes with dots: (b > 8 ? b : 0) + 16 + 16
 * + 8 * slots / n (between 10.7 and 21.3 by the load factor), plus growth
 * slack: 50.3 bytes per 8-byte element at 10^6 (bench --mem), 58.7 when
 * short elements still went to the arena.
 *
 * Measured (bench orswot_*, 100,000 8-byte elements, 2 vCPU EPYC): slots
 * holding the hash beside the index vs bare 4-byte indices: the bare form
 * saves 4-8 bytes per element but each probe then loads the entry (a
 * cache miss at 100,000 elements); see the orset commit for numbers.
 *
 * Costs: find/add/remove O(1) expected (one SipHash of the bytes, a probe
 * run of ~1.5 slots; an add of a new element reuses the empty slot its
 * lookup ended on; a removal probes once more, for the slot of the entry
 * it moves, a line the OR-set prefetches before hashing); past
 * ES_KEY_AT elements the key is secret and per object, so an adversary
 * cannot choose colliding elements.
 *
 * Keying.  Drawing a random key is a getrandom syscall (randombytes_buf:
 * 1,135 ns on the 2 vCPU EPYC VM), 70 times a G-counter's new+free, and
 * every set delta pays it (each mutation's delta, each set the gossip
 * engine decodes), though nearly all of them hold one element.  So a set
 * starts unkeyed, with the all-zero key, and crdtp_es_grow draws the
 * random key (sodium_init + randombytes_buf; CRDT_ERR_RANDOM if
 * libsodium cannot initialize) when the set is to hold more than
 * ES_KEY_AT elements, rehashing the entries and rebuilding the index in
 * place; the set then stays keyed (crdtp_es_clear keeps the key).
 * Security: with the zero key public an adversary can make every element
 * of a small set collide (same home slot, or by brute force the same
 * 32-bit hash), but a probe run is at most n <= ES_KEY_AT slots, so a
 * lookup costs at most ES_KEY_AT slot reads and entry comparisons (each
 * at most the element's length, which the hashing already read): a
 * constant factor, not the O(n) per operation (O(n^2) per set) that
 * HashDoS needs.  Measured: a lookup of an absent 8-byte element in 32
 * elements sharing one home slot 37 ns against 16 ns for random ones;
 * full 32-bit collisions add an L1 entry compare per probe (estimated
 * under 2x more, not measured).  ES_KEY_AT = 32 rather than 64: the
 * worst case stays well below one getrandom, sets up to 32 elements
 * (every mutation's delta, most gossiped deltas) never draw a key, and
 * 64 would double the bound to save a rekey (the syscall plus ~33
 * SipHashes, once per set lifetime) only for sets of 33-64 elements.
 * Consequences for callers: (1) a crdtp_es_reserve may rekey, making
 * hashes computed before it and slot hints stale: check s->keyed before
 * and after (crdtp_es_rehash); (2) two sets share hashes only if
 * crdtp_es_same_key (flag and key); (3) a call that fails after its
 * reserve (or a later reserve of the same call) may leave the set
 * rekeyed: same contents, a different key, which nothing observes.
 * At 100,000 8-byte elements a lookup is bound by latency: the SipHash
 * (~10 ns, ~155 instructions in libsodium), then the index slot and the
 * entry, each usually an L2 miss.
 */
#ifndef CRDT_ELEMSET_INTERNAL_H
#define CRDT_ELEMSET_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include <crdt/common.h>
#include <crdt/dotctx.h>

/* Hot paths: cold code kept out of line (a smaller frame for the hot
 * one), small helpers forced in line. */
#if defined(__GNUC__)
#define ES_NOINLINE __attribute__((noinline))
#define ES_INLINE_ALWAYS inline __attribute__((always_inline))
#else
#define ES_NOINLINE
#define ES_INLINE_ALWAYS inline
#endif

/* A hint to start loading *p for writing (a macro: GCC drops the builtin
 * from inline helpers, which it then finds pure). */
#if defined(__GNUC__)
#define ES_PREFETCH(p) __builtin_prefetch((p), 1)
#else
#define ES_PREFETCH(p) ((void)(p))
#endif

#define ES_KEYBYTES 16u
#define ES_NONE ((size_t)-1)
/* Largest element: lengths are 31-bit (bit 31 is a transient mark). */
#define ES_MAX_LEN ((size_t)0x7fffffffu)
#define ES_MARK 0x80000000u

/* Elements of at most this many bytes live inline in their entry. */
#define ES_INLINE 8u

typedef struct es_ent {
    uint64_t ref;  /* len <= ES_INLINE: the bytes, zero-padded; else their
                      offset in the arena */
    uint32_t len;  /* bytes; bit 31 is a transient mark of merges */
    uint32_t hash; /* keyed hash of the bytes (low 32 bits) */
} es_ent;

/* Several dots of one element: n >= 2 sorted (actor, counter). */
typedef struct es_dotlist {
    size_t n;
    crdt_dot d[];
} es_dotlist;

typedef struct elemset {
    uint8_t *arena;
    size_t alen, acap, garbage;
    es_ent *ents;
    crdt_dot *dots; /* NULL unless with_dots */
    size_t n, cap;
    uint64_t *slots;
    size_t nslots; /* 0 or a power of two */
    bool with_dots;
    bool keyed; /* key is random (else all zero); never reset */
    uint8_t key[ES_KEYBYTES];
} elemset;

/* Sets of at most this many elements hash under the zero key (see
 * "Keying" above). */
#define ES_KEY_AT 32u

/* An empty unkeyed set (zero key, no syscall); cannot fail (returns
 * CRDT_OK). */
int crdtp_es_init(elemset *s, bool with_dots);
/* Frees everything (and the dot lists); s stays usable and empty. */
void crdtp_es_clear(elemset *s, const crdt_mem *mem);
void crdtp_es_swap(elemset *a, elemset *b);
/* dst becomes a copy of src (key and keyed included); dst unchanged on
 * error. */
int crdtp_es_copy(elemset *dst, const crdt_mem *mem, const elemset *src);

/* Keyed hash (crypto_shorthash: SipHash-2-4 under s->key), low 32
 * bits. */
static inline uint32_t crdtp_shorthash(const elemset *s, const void *p,
                                       size_t n)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint32_t h;

    crypto_shorthash(out, p, n, s->key);
    memcpy(&h, out, sizeof h);
    return h;
}
/* Whether a's stored hashes are valid in b: the same key, both keyed or
 * both not (a random key is all zero with probability 2^-128, but an
 * unkeyed set must never pass for a keyed one). */
static inline bool crdtp_es_same_key(const elemset *a, const elemset *b)
{
    return a->keyed == b->keyed &&
           memcmp(a->key, b->key, ES_KEYBYTES) == 0;
}
/* h, computed under s's key when s->keyed was `was`, still valid after a
 * crdtp_es_reserve that may have rekeyed s: recomputed if it did. */
static inline uint32_t crdtp_es_rehash(const elemset *s, bool was,
                                       const void *p, size_t n, uint32_t h)
{
    return s->keyed == was ? h : crdtp_shorthash(s, p, n);
}
/* Index of the element, or ES_NONE. */
size_t crdtp_es_find(const elemset *s, const void *p, size_t n, uint32_t h);
/* Index of the element, or ES_NONE.  *slot is then the element's index
 * slot (for crdtp_es_remove_slot), or, if absent, the empty slot where it
 * would go (for crdtp_es_push_at, valid while nslots is unchanged) or
 * ES_NONE. */
size_t crdtp_es_find_slot(const elemset *s, const void *p, size_t n,
                          uint32_t h, size_t *slot);
/* Arena bytes an element of n bytes takes (0 when inline). */
static inline size_t crdtp_es_abytes(size_t n)
{
    return n > ES_INLINE ? n : 0;
}
/* Makes room for k more elements taking `bytes` arena bytes in all (the
 * sum of their crdtp_es_abytes): then k pushes cannot fail.  Unchanged
 * (capacity aside) on error.  crdtp_es_grow is its allocating part.
 * When n + k > ES_KEY_AT and the set is unkeyed, it also draws the key
 * (CRDT_ERR_RANDOM, unchanged, if libsodium cannot initialize) and
 * rehashes: hashes and slot hints from before are then stale (see
 * crdtp_es_rehash). */
int crdtp_es_grow(elemset *s, const crdt_mem *mem, size_t k, size_t bytes);
static inline int crdtp_es_reserve(elemset *s, const crdt_mem *mem,
                                   size_t k, size_t bytes)
{
    /* cap <= UINT32_MAX - 1 always, as the slots' indices need */
    if (k <= s->cap - s->n && bytes <= s->acap - s->alen &&
        s->n + k <= s->nslots / 4 * 3 &&
        (s->keyed || s->n + k <= ES_KEY_AT))
        return CRDT_OK;
    return crdtp_es_grow(s, mem, k, bytes);
}
/* Appends an element known to be absent; room reserved; h under the
 * current key (after the reserve).  Returns its index; its dot (if any)
 * is zeroed for the caller to set. */
size_t crdtp_es_push(elemset *s, const void *p, size_t n, uint32_t h);
/* The same into the empty slot crdtp_es_find_slot gave (ES_NONE: probe
 * for one; the hint is stale if a reserve rekeyed since). */
size_t crdtp_es_push_at(elemset *s, const void *p, size_t n, uint32_t h,
                        size_t slot);
/* Removes the element at i, whose index slot crdtp_es_find_slot gave
 * (frees its dot list): the last entry moves to i.  Never fails. */
void crdtp_es_remove_slot(elemset *s, const crdt_mem *mem, size_t i,
                          size_t slot);
/* The index slot of the last entry (n > 0), which a removal rewrites
 * when it moves that entry into the hole.  Prefetched (ES_PREFETCH)
 * before the key is hashed, its cache miss overlaps the hashing and the
 * probe instead of following them. */
static inline const uint64_t *crdtp_es_last_slot(const elemset *s)
{
    return &s->slots[s->ents[s->n - 1].hash & (s->nslots - 1)];
}
/* Removes the element of bytes p[0..n), hash h, if present: true if it
 * was.  Never fails. */
bool crdtp_es_remove_key(elemset *s, const crdt_mem *mem, const void *p,
                         size_t n, uint32_t h);
/* Removes every element whose dot is {0, 0} (dead), in one pass. */
void crdtp_es_remove_dead(elemset *s, const crdt_mem *mem);

static inline const uint8_t *crdtp_es_bytes(const elemset *s, size_t i)
{
    const es_ent *e = &s->ents[i];

    if ((e->len & ~ES_MARK) <= ES_INLINE)
        return (const uint8_t *)&e->ref;
    return s->arena + e->ref;
}

static inline size_t crdtp_es_len(const elemset *s, size_t i)
{
    return s->ents[i].len & ~ES_MARK;
}

/* The dots of element i: *n of them at the returned pointer. */
static inline const crdt_dot *crdtp_es_dots(const elemset *s, size_t i,
                                            size_t *n)
{
    const crdt_dot *d = &s->dots[i];

    if (d->counter) {
        *n = 1;
        return d;
    }
    if (d->actor == 0) {
        *n = 0;
        return d;
    }
    {
        const es_dotlist *l = (const es_dotlist *)(uintptr_t)d->actor;

        *n = l->n;
        return l->d;
    }
}

/* Allocates a dot list of n >= 2 dots (uninitialized). */
es_dotlist *crdtp_es_dotlist_new(const crdt_mem *mem, size_t n);
/* Sets element i's dots: one inline dot (n == 1, l NULL), dead (n == 0),
 * or the list l (n >= 2, taken).  Frees the previous list. */
void crdtp_es_set_dots(elemset *s, const crdt_mem *mem, size_t i,
                       const crdt_dot *one, es_dotlist *l, size_t n);

/* Order of the canonical encodings: bytes by memcmp, then length. */
int crdtp_es_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb);
/* Fills perm[0..n) with entry indices in canonical (sorted) order; tmp
 * is scratch of 2 * n uint64 + 2 * n uint32 (see elemset.c). */
int crdtp_es_sorted(const elemset *s, const crdt_mem *mem, uint32_t **perm);

#endif /* CRDT_ELEMSET_INTERNAL_H */
