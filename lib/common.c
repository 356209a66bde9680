/* SPDX-License-Identifier: MIT */
/*
 * Error strings, actor ids, limits and version queries.
 *
 * Actor ids from names are XXH3-64 with seed 0 (libxxhash's XXH3_64bits):
 * fixed by the format, so never change the function here.  Random actor ids
 * come from getrandom(2), retried on EINTR; zero is redrawn so that callers
 * may use 0 as "no actor".
 */
#include "config.h"

#include <errno.h>
#include <sys/random.h>
#include <xxhash.h>

#include <crdt/common.h>

const char *crdt_strerror(int err)
{
    switch (err) {
    case CRDT_OK:
        return "success";
    case CRDT_ERR_NOMEM:
        return "out of memory";
    case CRDT_ERR_INVALID_ARG:
        return "invalid argument";
    case CRDT_ERR_DECODE:
        return "malformed encoding";
    case CRDT_ERR_LIMIT:
        return "input exceeds a decode limit";
    case CRDT_ERR_OVERFLOW:
        return "counter overflow";
    case CRDT_ERR_VERSION:
        return "unsupported format version";
    case CRDT_ERR_TYPE:
        return "unknown or unexpected type";
    case CRDT_ERR_BUFFER:
        return "output buffer too small";
    case CRDT_ERR_CLOCK_DRIFT:
        return "clock drift beyond bound";
    case CRDT_ERR_RANDOM:
        return "random source failed";
    case CRDT_ERR_NOT_FOUND:
        return "not found";
    case CRDT_ERR_IO:
        return "input/output error";
    case CRDT_ERR_BUSY:
        return "not allowed from inside a callback";
    case CRDT_ERR_AUTH:
        return "authentication failed";
    case CRDT_ERR_TIMEOUT:
        return "not met in time";
    default:
        return "unknown error";
    }
}

crdt_actor crdt_actor_from_name(const void *name, size_t len)
{
    static const char empty[1];

    return (crdt_actor)XXH3_64bits(len ? name : empty, len);
}

int crdt_actor_random(crdt_actor *out)
{
    uint64_t v = 0;

    if (!out)
        return CRDT_ERR_INVALID_ARG;
    while (v == 0) {
        ssize_t n = getrandom(&v, sizeof v, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof v)
            return CRDT_ERR_RANDOM;
    }
    *out = v;
    return CRDT_OK;
}

void crdt_limits_default(crdt_limits *lim)
{
    if (!lim)
        return;
    lim->version = CRDT_LIMITS_VERSION;
    lim->max_actors = CRDT_DEFAULT_MAX_ACTORS;
    lim->max_value_bytes = CRDT_DEFAULT_MAX_VALUE_BYTES;
    lim->max_elements = CRDT_DEFAULT_MAX_ELEMENTS;
    lim->max_depth = CRDT_DEFAULT_MAX_DEPTH;
}

const char *crdt_version_string(void)
{
    return CRDT_VERSION_STRING;
}

int crdt_version_number(void)
{
    return CRDT_VERSION_NUMBER;
}
