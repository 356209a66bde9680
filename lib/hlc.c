/* SPDX-License-Identifier: MIT */
/*
 * Hybrid logical clocks (see crdt/hlc.h for the algorithm and guarantees).
 *
 * Representation: the clock is its last issued timestamp plus its settings.
 * Because a timestamp is (l << 16) | c, the paper's case analysis collapses
 * into integer arithmetic: the next timestamp is
 *     now:    max(pack(pt, 0), last + 1)
 *     update: max(pack(pt, 0), last + 1, remote + 1)
 * where "+ 1" on a counter of 0xffff carries into l, which is exactly the
 * documented rollover rule.  Each call is a wall-clock read, a few compares
 * and no allocation.
 *
 * Invariant: last only grows, except through crdt_hlc_decode (documented
 * assignment).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include "config.h"

#include <time.h>

#include <crdt/hlc.h>

#include "codec_internal.h"
#include "hlc_internal.h"
#include "mem_internal.h"

struct crdt_hlc {
    uint64_t last;                   /* last issued timestamp, 0 = none */
    uint64_t (*wall_ms)(void *);     /* physical clock, never NULL */
    void *user_data;                 /* for wall_ms */
    uint64_t max_drift_ms;           /* 0 = unbounded */
    crdt_mem mem;                    /* allocator of this struct */
};

/* ======================================================================
 * Timestamps
 * ====================================================================== */

uint64_t crdt_hlc_pack(uint64_t ms, uint16_t logical)
{
    return ((ms & CRDT_HLC_MS_MAX) << CRDT_HLC_LOGICAL_BITS) | logical;
}

uint64_t crdt_hlc_ms(uint64_t ts)
{
    return ts >> CRDT_HLC_LOGICAL_BITS;
}

uint16_t crdt_hlc_logical(uint64_t ts)
{
    return (uint16_t)(ts & CRDT_HLC_LOGICAL_MAX);
}

/* ======================================================================
 * Settings and lifecycle
 * ====================================================================== */

static uint64_t system_wall_ms(void *user_data)
{
    struct timespec t;

    (void)user_data;
    if (clock_gettime(CLOCK_REALTIME, &t) != 0 || t.tv_sec < 0)
        return 0;
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

void crdt_hlc_settings_default(crdt_hlc_settings *s)
{
    if (!s)
        return;
    s->version = CRDT_HLC_SETTINGS_VERSION;
    s->wall_ms = system_wall_ms;
    s->user_data = NULL;
    s->max_drift_ms = CRDT_HLC_DEFAULT_MAX_DRIFT_MS;
}

crdt_hlc *crdt_hlc_new(const crdt_hlc_settings *settings,
                       const crdt_mem *mem)
{
    crdt_hlc_settings s;
    crdt_mem m;
    crdt_hlc *hlc;

    if (settings) {
        if (settings->version != CRDT_HLC_SETTINGS_VERSION)
            return NULL;
        s = *settings;
    } else {
        crdt_hlc_settings_default(&s);
    }
    crdtp_mem_set(&m, mem);
    hlc = crdtp_malloc(&m, sizeof *hlc);
    if (!hlc)
        return NULL;
    hlc->last = 0;
    hlc->wall_ms = s.wall_ms ? s.wall_ms : system_wall_ms;
    hlc->user_data = s.user_data;
    hlc->max_drift_ms = s.max_drift_ms;
    hlc->mem = m;
    return hlc;
}

void crdt_hlc_free(crdt_hlc *hlc)
{
    crdt_mem m;

    if (!hlc)
        return;
    m = hlc->mem;
    crdtp_free(&m, hlc);
}

/* ======================================================================
 * Queries
 * ====================================================================== */

uint64_t crdt_hlc_last(const crdt_hlc *hlc)
{
    return hlc ? hlc->last : 0;
}

/* ======================================================================
 * Events
 * ====================================================================== */

int crdtp_hlc_next(const crdt_hlc *hlc, bool has_remote, uint64_t remote,
                   uint64_t *ts)
{
    uint64_t pt = hlc->wall_ms(hlc->user_data), next;

    if (pt > CRDT_HLC_MS_MAX)
        return CRDT_ERR_OVERFLOW;
    if (has_remote && hlc->max_drift_ms &&
        hlc->max_drift_ms < CRDT_HLC_MS_MAX - pt &&
        crdt_hlc_ms(remote) > pt + hlc->max_drift_ms)
        return CRDT_ERR_CLOCK_DRIFT;
    if (hlc->last == UINT64_MAX || (has_remote && remote == UINT64_MAX))
        return CRDT_ERR_OVERFLOW;
    next = pt << CRDT_HLC_LOGICAL_BITS;
    if (next < hlc->last + 1)
        next = hlc->last + 1;
    if (has_remote && next < remote + 1)
        next = remote + 1;
    *ts = next;
    return CRDT_OK;
}

void crdtp_hlc_commit(crdt_hlc *hlc, uint64_t ts)
{
    hlc->last = ts;
}

int crdt_hlc_now(crdt_hlc *hlc, uint64_t *ts)
{
    uint64_t t;
    int rv;

    if (!hlc || !ts)
        return CRDT_ERR_INVALID_ARG;
    if ((rv = crdtp_hlc_next(hlc, false, 0, &t)))
        return rv;
    hlc->last = t;
    *ts = t;
    return CRDT_OK;
}

int crdt_hlc_update(crdt_hlc *hlc, uint64_t remote, uint64_t *ts)
{
    uint64_t t;
    int rv;

    if (!hlc || !ts)
        return CRDT_ERR_INVALID_ARG;
    if ((rv = crdtp_hlc_next(hlc, true, remote, &t)))
        return rv;
    hlc->last = t;
    *ts = t;
    return CRDT_OK;
}

/* ======================================================================
 * Codec
 * ====================================================================== */

int crdt_hlc_encode(const crdt_hlc *hlc, crdt_buf *out)
{
    cw w;

    if (!hlc || !out)
        return CRDT_ERR_INVALID_ARG;
    cw_begin(&w, out, CRDT_TAG_HLC, 1);
    cw_uint(&w, hlc->last);
    return cw_end(&w);
}

static inline int dec_body(cr *r, void *tmp, const void *dst, uint32_t nbody)
{
    (void)dst, (void)nbody;
    return crdtp_cr_uint(r, tmp);
}

static inline int dec_commit(cr *r, void *dst, void *tmp)
{
    (void)r;
    ((crdt_hlc *)dst)->last = *(uint64_t *)tmp;
    return CRDT_OK;
}

static const crdtp_decoder hlc_decoder = {
    .tag = CRDT_TAG_HLC, .nbody = CRDTP_NBODY(1), .body = dec_body,
    .commit = dec_commit,
};

int crdt_hlc_decode(crdt_hlc *dst, const uint8_t *data, size_t len,
                    const crdt_limits *lim, crdt_decode_info *info)
{
    uint64_t last = 0;

    return crdtp_decode(&hlc_decoder, dst, &last, data, len, lim, 0, info);
}
