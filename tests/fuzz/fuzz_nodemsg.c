/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for crdt-node's node-to-node message decoder
 * (tools/node/msg.h): every input is a datagram as crdt-node's
 * on_datagram sees it, after opening.  Replayed in `make check` by
 * replay.c over tests/fuzz/corpus/nodemsg (written by nodemsg_corpus.c:
 * a message of every kind, parts of a chunked state, extreme fields).
 *
 * Oracle:
 *   - nmsg_decode accepts only what nmsg_is_node accepts, and its result
 *     does not depend on what the output held before;
 *   - on success the fields are in their documented ranges (kind known;
 *     key 1..NMSG_MAX_KEY bytes for READ, REPL and STATE, none otherwise;
 *     total <= NMSG_MAX_STATE, chunk >= 1, index < parts and the part
 *     exactly as long as its index implies), every borrowed pointer lies
 *     inside the input, and re-encoding gives the input byte for byte
 *     (the decoder accepts only the canonical form);
 *   - it never allocates (the codec is pure: nothing to count here, but
 *     ASan would see a leak or an over-read of the exact-size input).
 * Any violation prints what went wrong and aborts.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/codec.h>
#include <crdt/common.h>

#include "msg.h"

#define FUZZ_DECLARATIONS_ONLY
#include "fuzz_common.h"

const char fuzz_type_name[] = "nodemsg";

static void fn_fail(const char *what)
{
    fprintf(stderr, "ORACLE FAILURE (nodemsg): %s\n", what);
    abort();
}

static bool fn_inside(const uint8_t *p, size_t n, const uint8_t *d,
                      size_t len)
{
    if (!p)
        return n == 0;
    return p >= d && n <= len && (size_t)(p - d) <= len - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t empty[1];
    const uint8_t *d = size ? data : empty;
    nmsg m, z;
    crdt_buf b;
    uint64_t parts;
    bool keyed, part;
    int rv, rz;

    memset(&m, 0xa5, sizeof m);
    memset(&z, 0, sizeof z);
    rv = nmsg_decode(&m, d, size);
    rz = nmsg_decode(&z, d, size);
    if (rv != rz)
        fn_fail("the result depends on the output's old contents");
    if (rv != CRDT_OK) {
        if (rv != CRDT_ERR_DECODE)
            fn_fail("an undocumented error");
        return 0;
    }
    if (!nmsg_is_node(d, size))
        fn_fail("decoded what nmsg_is_node refuses");
    if (memcmp(&m, &z, sizeof m) != 0 &&
        (m.kind != z.kind || m.cluster != z.cluster || m.from != z.from ||
         m.req != z.req || m.key != z.key || m.klen != z.klen ||
         m.total != z.total || m.chunk != z.chunk || m.index != z.index ||
         m.bytes != z.bytes || m.blen != z.blen || m.status != z.status))
        fn_fail("the fields depend on the output's old contents");
    if (m.kind < NMSG_HELLO || m.kind >= NMSG_KINDS)
        fn_fail("an unknown kind decoded");
    if (!fn_inside(m.key, m.klen, d, size) ||
        !fn_inside(m.bytes, m.blen, d, size))
        fn_fail("a borrowed pointer outside the input");
    keyed = m.kind == NMSG_READ || m.kind == NMSG_REPL ||
            m.kind == NMSG_STATE;
    part = m.kind == NMSG_REPL || m.kind == NMSG_STATE;
    if (keyed ? m.klen < 1 || m.klen > NMSG_MAX_KEY : m.key || m.klen)
        fn_fail("key out of its documented range");
    if (part) {
        if (m.total > NMSG_MAX_STATE || m.chunk < 1)
            fn_fail("total or chunk out of range");
        parts = nmsg_parts(m.total, m.chunk);
        if (m.index >= parts)
            fn_fail("index >= parts");
        if (m.blen != (m.index + 1 < parts ? m.chunk
                                           : m.total - m.index * m.chunk))
            fn_fail("the part's length does not match its index");
    } else if (m.bytes || m.blen || m.total || m.chunk || m.index)
        fn_fail("a part in a kind without one");
    if (m.kind != NMSG_ACK && m.status)
        fn_fail("a status in a kind without one");
    crdt_buf_init(&b, NULL);
    if (nmsg_encode(&m, &b))
        fn_fail("what decodes does not encode");
    if (b.len != size || memcmp(b.data, d, size) != 0)
        fn_fail("re-encoding differs from the input (not canonical)");
    crdt_buf_clear(&b);
    return 0;
}
