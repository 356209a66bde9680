/* SPDX-License-Identifier: MIT */
/* crdt-node's node-to-node message codec (msg.h). */
#include "config.h"

#include <stdlib.h>

#include "msg.h"

#include <crdt/common.h>

#include "mp.h"

bool nmsg_is_node(const uint8_t *data, size_t len)
{
    return data && len >= 2 && (data[0] & 0xf0) == 0x90 &&
           data[1] == NMSG_MARK;
}

uint64_t nmsg_parts(uint64_t total, uint64_t chunk)
{
    if (chunk == 0)
        return 0;
    return total ? (total - 1) / chunk + 1 : 1;
}

static size_t items_of(int kind)
{
    switch (kind) {
    case NMSG_HELLO:
    case NMSG_WELCOME: return 5;
    case NMSG_ACK:
    case NMSG_READ: return 6;
    case NMSG_REPL:
    case NMSG_STATE: return 10;
    default: return 0;
    }
}

int nmsg_decode(nmsg *m, const uint8_t *data, size_t len)
{
    mpr r;
    uint64_t items, mark, kind, parts, want;

    if (!m || !nmsg_is_node(data, len))
        return CRDT_ERR_DECODE;
    mpr_init(&r, data, len);
    if (!mpr_array(&r, &items) || !mpr_uint(&r, &mark) ||
        mark != NMSG_MARK || !mpr_uint(&r, &m->cluster) ||
        !mpr_uint(&r, &m->from) || !mpr_uint(&r, &kind) ||
        !mpr_uint(&r, &m->req) || kind == 0 || kind >= NMSG_KINDS ||
        items != items_of((int)kind))
        return CRDT_ERR_DECODE;
    m->kind = (int)kind;
    m->key = m->bytes = NULL;
    m->klen = m->blen = 0;
    m->total = m->chunk = m->index = 0;
    m->status = 0;
    switch (m->kind) {
    case NMSG_ACK:
        if (!mpr_int(&r, &m->status))
            return CRDT_ERR_DECODE;
        break;
    case NMSG_READ:
        if (!mpr_bin(&r, &m->key, &m->klen))
            return CRDT_ERR_DECODE;
        break;
    case NMSG_REPL:
    case NMSG_STATE:
        if (!mpr_bin(&r, &m->key, &m->klen) || !mpr_uint(&r, &m->total) ||
            !mpr_uint(&r, &m->chunk) || !mpr_uint(&r, &m->index) ||
            !mpr_bin(&r, &m->bytes, &m->blen))
            return CRDT_ERR_DECODE;
        if (m->total > NMSG_MAX_STATE || m->chunk == 0 ||
            m->chunk > NMSG_MAX_STATE)
            return CRDT_ERR_DECODE;
        parts = nmsg_parts(m->total, m->chunk);
        if (m->index >= parts)
            return CRDT_ERR_DECODE;
        want = m->index + 1 < parts ? m->chunk
                                    : m->total - m->index * m->chunk;
        if (m->blen != want)
            return CRDT_ERR_DECODE;
        break;
    default:
        break;
    }
    if (r.p != r.end)
        return CRDT_ERR_DECODE;
    if ((m->kind == NMSG_READ || m->kind == NMSG_REPL ||
         m->kind == NMSG_STATE) &&
        (m->klen == 0 || m->klen > NMSG_MAX_KEY))
        return CRDT_ERR_DECODE;
    return CRDT_OK;
}

int nmsg_encode(const nmsg *m, crdt_buf *out)
{
    size_t items, len0;
    int rv;

    if (!m || !out || !(items = items_of(m->kind)))
        return CRDT_ERR_INVALID_ARG;
    len0 = out->len;
    rv = mpw_array(out, items);
    if (!rv)
        rv = mpw_uint(out, NMSG_MARK);
    if (!rv)
        rv = mpw_uint(out, m->cluster);
    if (!rv)
        rv = mpw_uint(out, m->from);
    if (!rv)
        rv = mpw_uint(out, (uint64_t)m->kind);
    if (!rv)
        rv = mpw_uint(out, m->req);
    if (!rv && m->kind == NMSG_ACK)
        rv = mpw_int(out, m->status);
    if (!rv && (m->kind == NMSG_READ || m->kind == NMSG_REPL ||
                m->kind == NMSG_STATE))
        rv = mpw_bin(out, m->key, m->klen);
    if (!rv && (m->kind == NMSG_REPL || m->kind == NMSG_STATE)) {
        rv = mpw_uint(out, m->total);
        if (!rv)
            rv = mpw_uint(out, m->chunk);
        if (!rv)
            rv = mpw_uint(out, m->index);
        if (!rv)
            rv = mpw_bin(out, m->bytes, m->blen);
    }
    if (rv)
        out->len = len0;
    return rv;
}

size_t npart_cost(const nmsg *m)
{
    return (size_t)m->total + (size_t)(nmsg_parts(m->total, m->chunk) / 8) +
           1 + m->klen;
}

int npart_init(npart *p, const nmsg *m)
{
    memset(p, 0, sizeof *p);
    p->parts = nmsg_parts(m->total, m->chunk);
    p->key = malloc(m->klen ? m->klen : 1);
    p->bits = calloc(p->parts / 8 + 1, 1);
    p->data = malloc(m->total ? m->total : 1);
    if (!p->key || !p->bits || !p->data) {
        npart_clear(p);
        return CRDT_ERR_NOMEM;
    }
    memcpy(p->key, m->key, m->klen);
    p->klen = m->klen;
    p->total = m->total;
    p->chunk = m->chunk;
    return CRDT_OK;
}

bool npart_matches(const npart *p, const nmsg *m)
{
    return p->total == m->total && p->chunk == m->chunk &&
           p->klen == m->klen && memcmp(p->key, m->key, m->klen) == 0;
}

bool npart_add(npart *p, const nmsg *m)
{
    uint64_t i = m->index;

    if (!(p->bits[i / 8] & (1u << (i % 8)))) {
        p->bits[i / 8] |= (uint8_t)(1u << (i % 8));
        memcpy(p->data + i * p->chunk, m->bytes, m->blen);
        p->got++;
    }
    return p->got == p->parts;
}

void npart_clear(npart *p)
{
    free(p->key);
    free(p->bits);
    free(p->data);
    memset(p, 0, sizeof *p);
}
