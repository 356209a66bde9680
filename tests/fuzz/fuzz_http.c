/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for crdt-node's metrics endpoint request-head parser
 * (tools/node/http.h, nhttp_parse_head, the code on_read runs): every
 * input is the bytes a client sent on one connection.  Replayed in `make
 * check` by replay.c over tests/fuzz/corpus/http (written by
 * http_corpus.c: GET and HEAD requests, HTTP/1.0 and 1.1, CRLF and bare
 * LF, many headers, a head over the 8 KiB limit, near misses).
 *
 * Oracle, with the server's default limit (8 KiB) and a tight one:
 *   - the result is one of the four documented ones and agrees with a
 *     separate model of where the head ends: OK or BAD only when an end
 *     ("\n\n" or "\n\r\n") lies within the limit, else TOO_LARGE when the
 *     input reaches the limit and PARTIAL when it does not; head_len is
 *     that end;
 *   - an accepted head has a method of 1+ tchars at the start followed by
 *     one SP, a path starting with '/' right after it, without bytes
 *     <= 0x20 or >= 0x7f and without '?', the rest of the target up to
 *     one SP, then exactly "HTTP/1.0" or "HTTP/1.1" (and minor saying
 *     which) ending the first line; every borrowed pointer lies inside
 *     the head; an HTTP/1.1 head has exactly one Host header, a 1.0 one
 *     at most one (counted here, not by the parser);
 *   - parsing again gives the same result and fields, whatever *out held
 *     before (it is not written unless OK), and the bytes after the head
 *     do not matter (parsing only the head gives the same);
 *   - feeding the bytes in two reads with the resume offset, as the
 *     server does, gives the same result as one read;
 *   - a prefix cut before the head's end is never accepted: it is
 *     PARTIAL (with the default limit), so a request is not served before
 *     its empty line has arrived;
 *   - what is accepted under the tight limit is accepted, the same,
 *     under the default one.
 * Any violation prints what went wrong and aborts.
 */
#define _POSIX_C_SOURCE 200809L /* <uv.h>, through http.h */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define FUZZ_DECLARATIONS_ONLY
#include "fuzz_common.h"

const char fuzz_type_name[] = "http";

static void fh_fail(const char *what)
{
    fprintf(stderr, "ORACLE FAILURE (http): %s\n", what);
    abort();
}

static bool fh_tchar(unsigned char ch)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    size_t i;

    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
        (ch >= 'A' && ch <= 'Z'))
        return true;
    for (i = 0; i < sizeof extra - 1; i++)
        if (ch == (unsigned char)extra[i])
            return true;
    return false;
}

/* The model: the end offset of the first "\n\n" or "\n\r\n" within the
 * first n bytes, or 0. */
static size_t fh_end(const char *d, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i++) {
        if (d[i] != '\n')
            continue;
        if (d[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && d[i + 1] == '\r' && d[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static bool fh_same(const nhttp_request *a, const nhttp_request *b)
{
    return a->method == b->method && a->mlen == b->mlen &&
           a->path == b->path && a->plen == b->plen &&
           a->minor == b->minor && a->head_len == b->head_len;
}

/* Host headers in the head [d, d + n) (its first line skipped). */
static size_t fh_hosts(const char *d, size_t n)
{
    const char *p = memchr(d, '\n', n), *end = d + n, *lf, *colon;
    size_t hosts = 0, i;

    for (p = p + 1; p < end; p = lf + 1) {
        lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf)
            fh_fail("a header line without LF in an accepted head");
        colon = memchr(p, ':', (size_t)(lf - p));
        if (!colon) {
            if (lf - p > 1 || (lf - p == 1 && *p != '\r'))
                fh_fail("a header line without ':' accepted");
            continue; /* the empty line */
        }
        if (colon - p != 4)
            continue;
        for (i = 0; i < 4; i++)
            if ((p[i] | 0x20) != "host"[i])
                break;
        hosts += i == 4;
    }
    return hosts;
}

static void fh_check_ok(const char *d, size_t size, const nhttp_request *r)
{
    const char *line_end, *q, *target_end;
    size_t i, llen;

    if (r->head_len < 2 || r->head_len > size)
        fh_fail("head_len outside the input");
    if (r->method != d || r->mlen == 0 || r->mlen >= r->head_len)
        fh_fail("the method is not at the start");
    for (i = 0; i < r->mlen; i++)
        if (!fh_tchar((unsigned char)d[i]))
            fh_fail("a method byte that is not a tchar");
    if (d[r->mlen] != ' ')
        fh_fail("the method is not followed by SP");
    if (r->path != d + r->mlen + 1 || r->plen == 0 ||
        r->plen > r->head_len - r->mlen - 1)
        fh_fail("the path is not right after the method, or outside");
    if (r->path[0] != '/')
        fh_fail("the path does not start with '/'");
    for (i = 0; i < r->plen; i++) {
        unsigned char ch = (unsigned char)r->path[i];

        if (ch <= 0x20 || ch >= 0x7f || ch == '?')
            fh_fail("a path byte that is not allowed");
    }
    /* the first line: method SP target SP HTTP/1.x */
    line_end = memchr(d, '\n', r->head_len);
    if (!line_end)
        fh_fail("no first line in an accepted head");
    llen = (size_t)(line_end - d);
    if (llen && d[llen - 1] == '\r')
        llen--;
    if (memchr(d, '\r', llen))
        fh_fail("a CR inside the request line");
    if (llen < r->mlen + 1 + r->plen + 9)
        fh_fail("the request line is too short for its parts");
    if (memcmp(d + llen - 9, " HTTP/1.", 8) != 0 ||
        (d[llen - 1] != '0' && d[llen - 1] != '1'))
        fh_fail("the version is not HTTP/1.0 or HTTP/1.1");
    if (r->minor != d[llen - 1] - '0')
        fh_fail("minor does not match the version");
    target_end = d + llen - 9;
    for (q = r->path + r->plen; q < target_end; q++) {
        unsigned char ch = (unsigned char)*q;

        if (q == r->path + r->plen ? ch != '?' : ch <= 0x20 || ch >= 0x7f)
            fh_fail("the query is not '?' and visible bytes");
    }
    if (r->minor == 1 ? fh_hosts(d, r->head_len) != 1
                      : fh_hosts(d, r->head_len) > 1)
        fh_fail("a Host count the version does not allow");
}

/* One parse with a prefilled output; checks it against the model and
 * that a zeroed output gives the same. */
static int fh_parse(const char *d, size_t size, size_t max,
                    nhttp_request *out)
{
    nhttp_request z, pre;
    size_t n = size < max ? size : max, end = fh_end(d, n);
    int rv, rz;

    memset(out, 0xa5, sizeof *out);
    pre = *out;
    memset(&z, 0, sizeof z);
    rv = nhttp_parse_head(d, size, max, NULL, out);
    rz = nhttp_parse_head(d, size, max, NULL, &z);
    if (rv != rz)
        fh_fail("the result depends on the output's old contents");
    switch (rv) {
    case NHTTP_HEAD_OK:
        if (!end || out->head_len != end)
            fh_fail("accepted with no end, or another end, than the model");
        if (!fh_same(out, &z))
            fh_fail("the fields depend on the output's old contents");
        fh_check_ok(d, size, out);
        break;
    case NHTTP_HEAD_BAD:
        if (!end)
            fh_fail("malformed without an end of the head");
        break;
    case NHTTP_HEAD_PARTIAL:
    case NHTTP_HEAD_TOO_LARGE:
        if (end)
            fh_fail("the end of the head was missed");
        if ((rv == NHTTP_HEAD_TOO_LARGE) != (size >= max))
            fh_fail("PARTIAL and TOO_LARGE confused");
        break;
    default:
        fh_fail("an undocumented result");
    }
    if (rv != NHTTP_HEAD_OK && memcmp(out, &pre, sizeof pre) != 0)
        fh_fail("the output written on failure");
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char empty[1];
    const char *d = size ? (const char *)data : empty;
    const size_t max = NHTTP_DEFAULT_MAX_HEAD;
    size_t tight = 64 + size % 97, cut, scanned, k;
    nhttp_request r, r2;
    int rv, rv2;

    rv = fh_parse(d, size, max, &r);
    /* again: the same */
    rv2 = fh_parse(d, size, max, &r2);
    if (rv != rv2 || (rv == NHTTP_HEAD_OK && !fh_same(&r, &r2)))
        fh_fail("parsing the same bytes twice differs");
    /* in two reads, resuming as on_read does */
    cut = size ? (size_t)data[size / 2] * 31 % (size + 1) : 0;
    scanned = 0;
    rv2 = nhttp_parse_head(d, cut, max, &scanned, &r2);
    if (rv2 == NHTTP_HEAD_PARTIAL) {
        if (scanned > cut)
            fh_fail("the resume offset beyond the bytes");
        rv2 = nhttp_parse_head(d, size, max, &scanned, &r2);
        if (rv2 != rv || (rv == NHTTP_HEAD_OK && !fh_same(&r, &r2)))
            fh_fail("two reads differ from one");
    } else if (rv2 == NHTTP_HEAD_TOO_LARGE) {
        if (cut < max || rv != NHTTP_HEAD_TOO_LARGE)
            fh_fail("TOO_LARGE for a prefix, not for the whole");
    } else if (rv2 != rv ||
               (rv == NHTTP_HEAD_OK && !fh_same(&r, &r2))) {
        fh_fail("a prefix ended the head differently");
    }
    if (rv == NHTTP_HEAD_OK) {
        /* the bytes after the head do not matter */
        rv2 = fh_parse(d, r.head_len, max, &r2);
        if (rv2 != NHTTP_HEAD_OK || !fh_same(&r, &r2))
            fh_fail("the bytes after the head changed the result");
        /* no prefix cut before the end is accepted */
        for (k = 0; k < 4; k++) {
            size_t n = k == 0   ? r.head_len - 1
                       : k == 1 ? r.head_len - 2
                       : k == 2 ? r.head_len / 2
                                : (size_t)data[0] % r.head_len;

            if (fh_parse(d, n, max, &r2) != NHTTP_HEAD_PARTIAL)
                fh_fail("a prefix of an accepted head is not PARTIAL");
        }
    }
    /* a tight limit: only what fits in it, as the default would */
    rv2 = fh_parse(d, size, tight, &r2);
    if (rv2 == NHTTP_HEAD_OK || rv2 == NHTTP_HEAD_BAD) {
        if (rv2 != rv || (rv == NHTTP_HEAD_OK && !fh_same(&r, &r2)))
            fh_fail("the tight limit disagrees with the default");
    } else if (rv == NHTTP_HEAD_OK && r.head_len <= tight) {
        fh_fail("a head within the tight limit not found under it");
    }
    return 0;
}
