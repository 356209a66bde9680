/* SPDX-License-Identifier: MIT */
/*
 * Type registries: a small array of borrowed descriptors, searched
 * linearly (a process registers a handful of types; lookups happen once
 * per decoded message, next to a decode that costs far more).
 */
#include "config.h"

#include <string.h>

#include <crdt/ormap.h>
#include <crdt/type.h>

#include "codec_internal.h"
#include "mem_internal.h"
#include "type_internal.h"

struct crdt_registry {
    const crdt_type **types; /* registration order */
    size_t len, cap;
    crdt_mem mem;
};

int crdt_type_check(const crdt_type *t)
{
    if (!t || t->version != CRDT_TYPE_VERSION || !t->name || !*t->name ||
        !t->create || !t->destroy || !t->copy || !t->equal || !t->merge ||
        !t->encode || !t->decode)
        return CRDT_ERR_INVALID_ARG;
    return CRDT_OK;
}

crdt_registry *crdt_registry_new(const crdt_mem *mem)
{
    crdt_mem m;
    crdt_registry *reg;

    crdtp_mem_set(&m, mem);
    reg = crdtp_malloc(&m, sizeof *reg);
    if (!reg)
        return NULL;
    reg->types = NULL;
    reg->len = reg->cap = 0;
    reg->mem = m;
    return reg;
}

void crdt_registry_free(crdt_registry *reg)
{
    crdt_mem m;

    if (!reg)
        return;
    m = reg->mem;
    crdtp_free(&m, reg->types);
    crdtp_free(&m, reg);
}

const crdt_type *crdt_registry_find(const crdt_registry *reg, uint32_t tag)
{
    size_t i;

    for (i = 0; reg && i < reg->len; i++)
        if (reg->types[i]->tag == tag)
            return reg->types[i];
    return NULL;
}

const crdt_type *crdt_registry_find_name(const crdt_registry *reg,
                                         const char *name)
{
    size_t i;

    for (i = 0; reg && name && i < reg->len; i++)
        if (strcmp(reg->types[i]->name, name) == 0)
            return reg->types[i];
    return NULL;
}

size_t crdt_registry_size(const crdt_registry *reg)
{
    return reg ? reg->len : 0;
}

const crdt_type *crdt_registry_entry(const crdt_registry *reg, size_t i)
{
    return reg && i < reg->len ? reg->types[i] : NULL;
}

/* Room for n more entries, so that a batch of adds cannot fail halfway. */
static int reserve(crdt_registry *reg, size_t n)
{
    const crdt_type **t;
    size_t cap;

    if (reg->cap - reg->len >= n)
        return CRDT_OK;
    cap = crdtp_grow_cap(reg->cap, reg->len + n);
    t = crdtp_realloc_array(&reg->mem, (void *)reg->types, cap, sizeof *t);
    if (!t)
        return CRDT_ERR_NOMEM;
    reg->types = t;
    reg->cap = cap;
    return CRDT_OK;
}

/* Whether t is valid and its tag and name are free in reg. */
static bool addable(const crdt_registry *reg, const crdt_type *t)
{
    return crdt_type_check(t) == CRDT_OK && !crdt_registry_find(reg, t->tag) &&
           !crdt_registry_find_name(reg, t->name);
}

int crdtp_registry_add_all(crdt_registry *reg, const crdt_type *const *ts,
                           size_t n)
{
    size_t i, j;
    int rv;

    if (!reg)
        return CRDT_ERR_INVALID_ARG;
    for (i = 0; i < n; i++) {
        if (!addable(reg, ts[i]))
            return CRDT_ERR_INVALID_ARG;
        for (j = 0; j < i; j++)
            if (ts[j]->tag == ts[i]->tag ||
                strcmp(ts[j]->name, ts[i]->name) == 0)
                return CRDT_ERR_INVALID_ARG;
    }
    if ((rv = reserve(reg, n)))
        return rv;
    for (i = 0; i < n; i++)
        reg->types[reg->len++] = ts[i];
    return CRDT_OK;
}

int crdt_registry_add(crdt_registry *reg, const crdt_type *type)
{
    return crdtp_registry_add_all(reg, &type, 1);
}

void *crdt_registry_create(const crdt_registry *reg, const crdt_type *type,
                           const crdt_mem *mem)
{
    if (!reg || !type)
        return NULL;
    /* an OR-map embeds values of the registry's types, not only the
     * built-in ones its descriptor's create knows */
    if (type == crdt_ormap_type())
        return crdt_ormap_new(reg, mem);
    return type->create(mem);
}

int crdt_registry_decode(const crdt_registry *reg, const uint8_t *data,
                         size_t len, const crdt_limits *lim,
                         const crdt_mem *mem, const crdt_type **type,
                         void **obj, crdt_decode_info *info)
{
    const crdt_type *t;
    uint32_t tag;
    void *o;
    int rv;

    if (!reg || !data || !type || !obj)
        return CRDT_ERR_INVALID_ARG;
    if ((rv = crdtp_decode_header(data, len, &tag, info)))
        return rv;
    t = crdt_registry_find(reg, tag);
    if (!t) {
        if (info) {
            info->offset = crdtp_tag_offset(data);
            info->code = CRDT_ERR_TYPE;
        }
        return CRDT_ERR_TYPE;
    }
    o = crdt_registry_create(reg, t, mem);
    if (!o)
        return CRDT_ERR_NOMEM;
    if ((rv = t->decode(o, data, len, lim, info))) {
        t->destroy(o);
        return rv;
    }
    *type = t;
    *obj = o;
    return CRDT_OK;
}
