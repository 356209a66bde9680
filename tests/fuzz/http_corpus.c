/* SPDX-License-Identifier: MIT */
/*
 * Writes the seed corpus of the metrics endpoint's request-head fuzz
 * target (fuzz_http.c): GET and HEAD of /metrics and /, HTTP/1.1 and 1.0,
 * CRLF and bare LF line ends, a query, a body after the head, many
 * headers, a head just under and one over the 8 KiB limit, and near
 * misses the parser refuses (each checked here to get the result it is
 * named after).
 *
 *   http_corpus OUT_DIR
 */
#define _POSIX_C_SOURCE 200809L /* <uv.h>, through http.h */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static const char *dir;

static void put(const char *name, const char *d, size_t len, int want)
{
    char path[1024];
    nhttp_request r;
    FILE *f;
    int rv = nhttp_parse_head(d, len, NHTTP_DEFAULT_MAX_HEAD, NULL, &r);

    if (rv != want) {
        fprintf(stderr, "http_corpus: %s parses as %d, not %d\n", name, rv,
                want);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(d, 1, len, f) != len || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void puts_(const char *name, const char *s, int want)
{
    put(name, s, strlen(s), want);
}

/* A request with @p n filler headers of @p vlen value bytes each. */
static char *many(size_t n, size_t vlen, size_t *len)
{
    size_t cap = 64 + n * (vlen + 16), i;
    char *b = malloc(cap), *p;

    if (!b)
        exit(1);
    p = b + sprintf(b, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
    for (i = 0; i < n; i++) {
        p += sprintf(p, "X-H%zu: ", i % 1000);
        memset(p, 'v', vlen);
        p += vlen;
        *p++ = '\r';
        *p++ = '\n';
    }
    *p++ = '\r';
    *p++ = '\n';
    *len = (size_t)(p - b);
    return b;
}

int main(int argc, char **argv)
{
    char *b;
    size_t len;

    if (argc != 2) {
        fprintf(stderr, "usage: http_corpus OUT_DIR\n");
        return 2;
    }
    dir = argv[1];
    /* accepted */
    puts_("get-metrics-11", "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n"
          "User-Agent: Prometheus/2.45.0\r\nAccept: text/plain;version=0.0.4"
          "\r\n\r\n", NHTTP_HEAD_OK);
    puts_("head-metrics-11", "HEAD /metrics HTTP/1.1\r\nhost: a\r\n\r\n",
          NHTTP_HEAD_OK);
    puts_("get-index-10", "GET / HTTP/1.0\r\n\r\n", NHTTP_HEAD_OK);
    puts_("get-index-10-host", "GET / HTTP/1.0\r\nHOST: b\r\n\r\n",
          NHTTP_HEAD_OK);
    puts_("get-lf", "GET /metrics HTTP/1.1\nHost: x\n\n", NHTTP_HEAD_OK);
    puts_("get-mixed-eol", "GET /metrics HTTP/1.1\r\nHost: x\n\r\n",
          NHTTP_HEAD_OK);
    puts_("get-query", "GET /metrics?name[]=a&b=%20 HTTP/1.1\r\nHost: x"
          "\r\n\r\n", NHTTP_HEAD_OK);
    puts_("get-body-after", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4"
          "\r\n\r\nbodyGET / HTTP/1.1\r\n", NHTTP_HEAD_OK);
    puts_("post-tchars", "P!#$%&'*+-.^_`|~0z / HTTP/1.1\r\nHost: x\r\n"
          "X-Tab:\ta\tb \r\nEmpty:\r\n\r\n", NHTTP_HEAD_OK);
    puts_("get-404", "GET /nope/../x HTTP/1.1\r\nHost: x\r\n\r\n",
          NHTTP_HEAD_OK);
    b = many(100, 20, &len);
    put("many-headers", b, len, NHTTP_HEAD_OK);
    free(b);
    b = many(1, NHTTP_DEFAULT_MAX_HEAD - 64, &len);
    put("near-limit", b, len, NHTTP_HEAD_OK);
    free(b);
    /* over the limit: 9 KiB of headers, no end within 8 KiB */
    b = many(300, 24, &len);
    put("oversized", b, len, NHTTP_HEAD_TOO_LARGE);
    free(b);
    /* not ended yet */
    puts_("partial", "GET /metrics HTTP/1.1\r\nHost: x\r\n", NHTTP_HEAD_PARTIAL);
    puts_("partial-cr", "GET / HTTP/1.0\r\n\r", NHTTP_HEAD_PARTIAL);
    /* refused */
    puts_("bad-no-host-11", "GET / HTTP/1.1\r\n\r\n", NHTTP_HEAD_BAD);
    puts_("bad-two-hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
          NHTTP_HEAD_BAD);
    puts_("bad-version", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", NHTTP_HEAD_BAD);
    puts_("bad-http09", "GET /\r\n\r\n", NHTTP_HEAD_BAD);
    puts_("bad-absolute", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
          NHTTP_HEAD_BAD);
    puts_("bad-two-spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
          NHTTP_HEAD_BAD);
    puts_("bad-ctl-path", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
          NHTTP_HEAD_BAD);
    puts_("bad-lone-cr", "GET / HTTP/1.1\rHost: a\r\n\r\n", NHTTP_HEAD_BAD);
    puts_("bad-fold", "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
          NHTTP_HEAD_BAD);
    puts_("bad-space-name", "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
          NHTTP_HEAD_BAD);
    puts_("bad-empty-first", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
          NHTTP_HEAD_BAD);
    puts_("bad-ctl-value", "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n",
          NHTTP_HEAD_BAD);
    return 0;
}
