/* SPDX-License-Identifier: MIT */
/*
 * The fixed keyring of the sealed-datagram fuzz target (fuzz_seal.c) and
 * its corpus writer (seal_corpus.c): key 1 (the primary) and key
 * 0x01020304, both derived from constants, for cluster 7.  Changing them
 * invalidates the seed corpus (rewrite it with seal_corpus).
 */
#ifndef CRDT_FUZZ_SEAL_KEYS_H
#define CRDT_FUZZ_SEAL_KEYS_H

#include <crdt/seal.h>

#define FS_CLUSTER 7u
#define FS_KEY_A 1u
#define FS_KEY_B 0x01020304u

/* Key a (which 0) or b (which 1) into k. */
static inline void fs_key(uint8_t *k, int which)
{
    unsigned i;

    for (i = 0; i < CRDT_SEAL_KEY_BYTES; i++)
        k[i] = which ? (uint8_t)(255 - i) : (uint8_t)(i * 3 + 1);
}

/* The keyring: keys a (primary) and b; NULL on failure. */
static inline crdt_keyring *fs_keyring(const crdt_mem *mem)
{
    crdt_keyring *kr;
    uint8_t k[CRDT_SEAL_KEY_BYTES];

    if (crdt_keyring_new(&kr, mem))
        return NULL;
    fs_key(k, 0);
    if (crdt_keyring_add(kr, FS_KEY_A, k, true)) {
        crdt_keyring_free(kr);
        return NULL;
    }
    fs_key(k, 1);
    if (crdt_keyring_add(kr, FS_KEY_B, k, false)) {
        crdt_keyring_free(kr);
        return NULL;
    }
    return kr;
}

#endif
