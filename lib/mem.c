/* SPDX-License-Identifier: MIT */
/*
 * Allocator hooks.  The default allocator wraps the C library; objects copy
 * the crdt_mem they were given so that a caller's struct need not outlive
 * the call.  Nothing here holds mutable global state.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "mem_internal.h"

static void *default_malloc(size_t size, void *ud)
{
    (void)ud;
    return malloc(size);
}

static void *default_realloc(void *ptr, size_t size, void *ud)
{
    (void)ud;
    return realloc(ptr, size);
}

static void default_free(void *ptr, void *ud)
{
    (void)ud;
    free(ptr);
}

static const crdt_mem default_mem = {
    default_malloc, default_realloc, default_free, NULL
};

const crdt_mem *crdt_mem_default(void)
{
    return &default_mem;
}

void crdtp_mem_set(crdt_mem *dst, const crdt_mem *mem)
{
    *dst = mem ? *mem : default_mem;
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
