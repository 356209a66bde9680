/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition helpers (prom.h).  Each call composes its
 * lines in a scratch buffer and appends them to the caller's at once, so
 * a failure leaves the caller's buffer as it was.  Not on a hot path: a
 * scrape writes a few hundred lines.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

#include <crdt/common.h>

static int name_ok(const char *s, int colon)
{
    size_t i;

    if (!s || !*s)
        return 0;
    for (i = 0; s[i]; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_' || (colon && c == ':');

        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

int nprom_valid_name(const char *name)
{
    return name_ok(name, 1);
}

static int put(crdt_buf *b, const char *s)
{
    return crdt_buf_append(b, s, strlen(s));
}

/* Escapes \\ and \n, and \" too when @p quote. */
static int escape(crdt_buf *b, const char *s, size_t n, int quote)
{
    size_t i, from = 0;
    int rc = CRDT_OK;

    for (i = 0; i < n && rc == CRDT_OK; i++) {
        const char *e = s[i] == '\\'           ? "\\\\"
                        : s[i] == '\n'         ? "\\n"
                        : quote && s[i] == '"' ? "\\\""
                                               : NULL;
        if (!e)
            continue;
        rc = crdt_buf_append(b, s + from, i - from);
        if (rc == CRDT_OK)
            rc = put(b, e);
        from = i + 1;
    }
    if (rc == CRDT_OK)
        rc = crdt_buf_append(b, s + from, n - from);
    return rc;
}

/* Appends the scratch buffer @p t to @p b when @p rc is 0; frees t. */
static int commit(crdt_buf *b, crdt_buf *t, int rc)
{
    if (rc == CRDT_OK)
        rc = crdt_buf_append(b, t->data, t->len);
    crdt_buf_clear(t);
    return rc;
}

static int header(crdt_buf *t, const char *name, const char *type,
                  const char *help)
{
    int rc = CRDT_OK;

    if (help) {
        rc = put(t, "# HELP ");
        if (rc == CRDT_OK)
            rc = put(t, name);
        if (rc == CRDT_OK)
            rc = put(t, " ");
        if (rc == CRDT_OK)
            rc = escape(t, help, strlen(help), 0);
        if (rc == CRDT_OK)
            rc = put(t, "\n");
    }
    if (rc == CRDT_OK)
        rc = put(t, "# TYPE ");
    if (rc == CRDT_OK)
        rc = put(t, name);
    if (rc == CRDT_OK)
        rc = put(t, " ");
    if (rc == CRDT_OK)
        rc = put(t, type);
    if (rc == CRDT_OK)
        rc = put(t, "\n");
    return rc;
}

static int type_ok(const char *type)
{
    return type && (!strcmp(type, "counter") || !strcmp(type, "gauge"));
}

int nprom_header(crdt_buf *b, const char *name, const char *type,
                 const char *help)
{
    crdt_buf t;

    if (!b || !nprom_valid_name(name) || !type_ok(type))
        return CRDT_ERR_INVALID_ARG;
    crdt_buf_init(&t, NULL);
    return commit(b, &t, header(&t, name, type, help));
}

/* The sample line, with @p value already formatted. */
static int sample(crdt_buf *t, const char *name, const char *labels,
                  const char *value)
{
    int rc = put(t, name);

    if (rc == CRDT_OK && labels && *labels) {
        rc = put(t, "{");
        if (rc == CRDT_OK)
            rc = put(t, labels);
        if (rc == CRDT_OK)
            rc = put(t, "}");
    }
    if (rc == CRDT_OK)
        rc = put(t, " ");
    if (rc == CRDT_OK)
        rc = put(t, value);
    if (rc == CRDT_OK)
        rc = put(t, "\n");
    return rc;
}

static void fmt_double(char *s, size_t cap, double v)
{
    if (isnan(v))
        snprintf(s, cap, "NaN");
    else if (isinf(v))
        snprintf(s, cap, v > 0 ? "+Inf" : "-Inf");
    else {
        snprintf(s, cap, "%.15g", v);
        if (strtod(s, NULL) != v)
            snprintf(s, cap, "%.17g", v);
    }
}

static int metric(crdt_buf *b, const char *name, const char *type,
                  const char *help, const char *labels, const char *value)
{
    crdt_buf t;
    int rc = CRDT_OK;

    if (!b || !nprom_valid_name(name) || (type && !type_ok(type)))
        return CRDT_ERR_INVALID_ARG;
    crdt_buf_init(&t, NULL);
    if (type)
        rc = header(&t, name, type, help);
    if (rc == CRDT_OK)
        rc = sample(&t, name, labels, value);
    return commit(b, &t, rc);
}

int nprom_sample_u64(crdt_buf *b, const char *name, const char *labels,
                     uint64_t v)
{
    char s[24];

    snprintf(s, sizeof s, "%" PRIu64, v);
    return metric(b, name, NULL, NULL, labels, s);
}

int nprom_sample_double(crdt_buf *b, const char *name, const char *labels,
                        double v)
{
    char s[32];

    fmt_double(s, sizeof s, v);
    return metric(b, name, NULL, NULL, labels, s);
}

int nprom_metric_u64(crdt_buf *b, const char *name, const char *type,
                     const char *help, const char *labels, uint64_t v)
{
    char s[24];

    if (!type)
        return CRDT_ERR_INVALID_ARG;
    snprintf(s, sizeof s, "%" PRIu64, v);
    return metric(b, name, type, help, labels, s);
}

int nprom_metric_double(crdt_buf *b, const char *name, const char *type,
                        const char *help, const char *labels, double v)
{
    char s[32];

    if (!type)
        return CRDT_ERR_INVALID_ARG;
    fmt_double(s, sizeof s, v);
    return metric(b, name, type, help, labels, s);
}

int nprom_escape(crdt_buf *b, const void *s, size_t n)
{
    crdt_buf t;

    if (!b || (!s && n))
        return CRDT_ERR_INVALID_ARG;
    crdt_buf_init(&t, NULL);
    return commit(b, &t, escape(&t, s, n, 1));
}

int nprom_label(crdt_buf *labels, const char *key, const char *value)
{
    crdt_buf t;
    int rc = CRDT_OK;

    if (!labels || !name_ok(key, 0) || !value)
        return CRDT_ERR_INVALID_ARG;
    crdt_buf_init(&t, NULL);
    if (labels->len)
        rc = put(&t, ",");
    if (rc == CRDT_OK)
        rc = put(&t, key);
    if (rc == CRDT_OK)
        rc = put(&t, "=\"");
    if (rc == CRDT_OK)
        rc = escape(&t, value, strlen(value), 1);
    if (rc == CRDT_OK)
        rc = put(&t, "\"");
    /* room for the NUL first, so the append below cannot fail after it */
    if (rc == CRDT_OK)
        rc = crdt_buf_reserve(labels, t.len + 1);
    rc = commit(labels, &t, rc);
    if (rc == CRDT_OK)
        labels->data[labels->len] = 0;
    return rc;
}
