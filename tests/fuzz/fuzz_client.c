/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the crdt-node client protocol's decoders
 * (crdt/client.h): every input is decoded both as a request and as a
 * reply body, and looked at by the framing helper.  Replayed in `make
 * check` by replay.c over tests/fuzz/corpus/client (written by
 * client_corpus.c: valid messages of every op, in shortest and in wide
 * integer forms, with unknown keys).
 *
 * Oracle, for each decoder:
 *   - the output, prefilled with a pattern, is untouched on failure, and
 *     the code is one the header documents for bad input (request:
 *     DECODE, VERSION, LIMIT, INVALID_ARG; reply: DECODE, VERSION,
 *     LIMIT);
 *   - on success every view lies inside the input; the fields re-encode
 *     (the encoder accepts whatever the decoder gives), the encoding
 *     decodes to the same fields, and encoding those gives the same bytes
 *     again (a fixed point);
 *   - crdt_client_frame gives 0, LIMIT, or 4 + N <= len, as documented.
 * Any violation prints what went wrong and aborts.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/client.h>
#include <crdt/codec.h>

#define FUZZ_DECLARATIONS_ONLY
#include "fuzz_common.h"

const char fuzz_type_name[] = "client";

static void fc_fail(const char *what)
{
    fprintf(stderr, "ORACLE FAILURE (client): %s\n", what);
    abort();
}

static bool fc_inside(const void *p, size_t n, const uint8_t *d, size_t len)
{
    const uint8_t *q = p;

    if (!q)
        return n == 0;
    return q >= d && n <= len && q - d <= (ptrdiff_t)(len - n);
}

static bool fc_eq(const void *a, size_t al, const void *b, size_t bl)
{
    if (!a || !b)
        return a == b && al == 0 && bl == 0;
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static bool fc_req_eq(const crdt_client_request *a,
                      const crdt_client_request *b)
{
    return a->id == b->id && a->op == b->op && a->by == b->by &&
           a->level == b->level && a->timeout_ms == b->timeout_ms &&
           fc_eq(a->key, a->klen, b->key, b->klen) &&
           fc_eq(a->type, a->typelen, b->type, b->typelen) &&
           fc_eq(a->value, a->vlen, b->value, b->vlen) &&
           fc_eq(a->token, a->tlen, b->token, b->tlen);
}

static bool fc_rep_eq(const crdt_client_reply *a, const crdt_client_reply *b)
{
    return a->id == b->id && a->ok == b->ok && a->err == b->err &&
           a->deleted == b->deleted && a->acks == b->acks &&
           fc_eq(a->msg, a->msglen, b->msg, b->msglen) &&
           fc_eq(a->type, a->typelen, b->type, b->typelen) &&
           fc_eq(a->state, a->slen, b->state, b->slen) &&
           fc_eq(a->token, a->tlen, b->token, b->tlen) &&
           fc_eq(a->status, a->statuslen, b->status, b->statuslen);
}

static void fc_request(const uint8_t *d, size_t len)
{
    crdt_client_request rq, before, back;
    crdt_buf b1, b2;
    int rv;

    memset(&rq, 0xa5, sizeof rq);
    before = rq;
    rv = crdt_client_request_decode(&rq, d, len);
    if (rv != CRDT_OK) {
        if (rv != CRDT_ERR_DECODE && rv != CRDT_ERR_VERSION &&
            rv != CRDT_ERR_LIMIT && rv != CRDT_ERR_INVALID_ARG)
            fc_fail("request: an undocumented error");
        if (memcmp(&rq, &before, sizeof rq) != 0)
            fc_fail("request: output written on failure");
        return;
    }
    if (!fc_inside(rq.key, rq.klen, d, len) ||
        !fc_inside(rq.type, rq.typelen, d, len) ||
        !fc_inside(rq.value, rq.vlen, d, len) ||
        !fc_inside(rq.token, rq.tlen, d, len))
        fc_fail("request: a view outside the input");
    if (!crdt_client_op_name(rq.op) || !crdt_level_name(rq.level) ||
        rq.timeout_ms > CRDT_CLIENT_MAX_TIMEOUT_MS ||
        (rq.key && (rq.klen == 0 || rq.klen > CRDT_CLIENT_MAX_KEY)))
        fc_fail("request: a field out of its documented range");
    crdt_buf_init(&b1, NULL);
    crdt_buf_init(&b2, NULL);
    if (crdt_client_request_encode(&rq, &b1))
        fc_fail("request: what decodes does not encode");
    if (crdt_client_request_decode(&back, b1.data, b1.len))
        fc_fail("request: the re-encoding does not decode");
    if (!fc_req_eq(&rq, &back))
        fc_fail("request: the re-encoding decodes to other fields");
    if (crdt_client_request_encode(&back, &b2) || b1.len != b2.len ||
        memcmp(b1.data, b2.data, b1.len) != 0)
        fc_fail("request: encoding is not a fixed point");
    crdt_buf_clear(&b1);
    crdt_buf_clear(&b2);
}

static void fc_reply(const uint8_t *d, size_t len)
{
    crdt_client_reply rp, before, back;
    crdt_buf b1, b2;
    int rv;

    memset(&rp, 0xa5, sizeof rp);
    before = rp;
    rv = crdt_client_reply_decode(&rp, d, len);
    if (rv != CRDT_OK) {
        if (rv != CRDT_ERR_DECODE && rv != CRDT_ERR_VERSION &&
            rv != CRDT_ERR_LIMIT)
            fc_fail("reply: an undocumented error");
        if (memcmp(&rp, &before, sizeof rp) != 0)
            fc_fail("reply: output written on failure");
        return;
    }
    if (!fc_inside(rp.msg, rp.msglen, d, len) ||
        !fc_inside(rp.type, rp.typelen, d, len) ||
        !fc_inside(rp.state, rp.slen, d, len) ||
        !fc_inside(rp.token, rp.tlen, d, len) ||
        !fc_inside(rp.status, rp.statuslen, d, len))
        fc_fail("reply: a view outside the input");
    if (rp.ok ? rp.err != 0 : rp.err >= 0)
        fc_fail("reply: err does not match ok");
    crdt_buf_init(&b1, NULL);
    crdt_buf_init(&b2, NULL);
    if (crdt_client_reply_encode(&rp, &b1))
        fc_fail("reply: what decodes does not encode");
    if (crdt_client_reply_decode(&back, b1.data, b1.len))
        fc_fail("reply: the re-encoding does not decode");
    if (!fc_rep_eq(&rp, &back))
        fc_fail("reply: the re-encoding decodes to other fields");
    if (crdt_client_reply_encode(&back, &b2) || b1.len != b2.len ||
        memcmp(b1.data, b2.data, b1.len) != 0)
        fc_fail("reply: encoding is not a fixed point");
    crdt_buf_clear(&b1);
    crdt_buf_clear(&b2);
}

static void fc_frame(const uint8_t *d, size_t len)
{
    long long f = crdt_client_frame(d, len);

    if (len < 4 ? f != 0
                : f != 0 && f != CRDT_ERR_LIMIT &&
                      (f < 5 || (unsigned long long)f > len))
        fc_fail("frame: an undocumented result");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* libFuzzer may pass NULL for an empty input; the decoders reject
     * NULL data, so give them a valid pointer. */
    static const uint8_t empty[1];
    const uint8_t *d = size ? data : empty;

    fc_request(d, size);
    fc_reply(d, size);
    fc_frame(d, size);
    return 0;
}
