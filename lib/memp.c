/* SPDX-License-Identifier: MIT */
/*
 * Allocation helpers over a crdt_mem (mem_internal.h).  Compiled into
 * libcrdt and, as its own copy, into libcrdt-gossip (hidden in both).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "mem_internal.h"

void crdtp_mem_set(crdt_mem *dst, const crdt_mem *mem)
{
    *dst = mem ? *mem : *crdt_mem_default();
}

void *crdtp_malloc(const crdt_mem *mem, size_t size)
{
    return mem->malloc(size ? size : 1, mem->user_data);
}

void crdtp_free(const crdt_mem *mem, void *ptr)
{
    if (ptr)
        mem->free(ptr, mem->user_data);
}

void *crdtp_malloc_array(const crdt_mem *mem, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return crdtp_malloc(mem, n * size);
}

void *crdtp_realloc_array(const crdt_mem *mem, void *ptr, size_t n,
                          size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    if (!ptr)
        return crdtp_malloc(mem, n * size);
    return mem->realloc(ptr, (n * size) != 0 ? n * size : 1, mem->user_data);
}

size_t crdtp_grow_cap(size_t cur, size_t need)
{
    size_t cap = cur < 4 ? 4 : cur;

    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return need;
        cap *= 2;
    }
    return cap;
}
