/* SPDX-License-Identifier: MIT */
/*
 * Allocation helpers.  Every allocation in libcrdt goes through these, with
 * the crdt_mem kept in the owning object; array helpers check n * size for
 * overflow before calling the hook.
 */
#ifndef CRDT_MEM_INTERNAL_H
#define CRDT_MEM_INTERNAL_H

#include <crdt/common.h>

/* Copies *mem (or the default allocator when mem is NULL) into dst. */
void crdtp_mem_set(crdt_mem *dst, const crdt_mem *mem);

void *crdtp_malloc(const crdt_mem *mem, size_t size);
void crdtp_free(const crdt_mem *mem, void *ptr);
/* NULL on overflow of n * size or failure; *ptr is untouched then. */
void *crdtp_malloc_array(const crdt_mem *mem, size_t n, size_t size);
void *crdtp_realloc_array(const crdt_mem *mem, void *ptr, size_t n,
                          size_t size);
/* Next capacity >= need when growing from cur: doubles from max(cur, 4);
 * returns need itself when doubling would overflow. */
size_t crdtp_grow_cap(size_t cur, size_t need);

#endif
