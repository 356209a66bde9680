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
