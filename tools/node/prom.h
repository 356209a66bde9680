/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition format 0.0.4, for crdt-node's /metrics:
 *
 *   # HELP name help text
 *   # TYPE name counter
 *   name{k="v",k2="v2"} 42
 *
 * A metric's # HELP and # TYPE lines come once, before its first sample
 * (nprom_header), then one line per label set (nprom_sample_*);
 * nprom_metric_* write both for a metric with one sample.  Names must
 * match [a-zA-Z_:][a-zA-Z0-9_:]*; label values are escaped with
 * nprom_label (\\, \" and \n), help text with \\ and \n.
 *
 * Every function appends to @p b and returns 0, or CRDT_ERR_INVALID_ARG
 * (bad name, type or NULL), CRDT_ERR_NOMEM or CRDT_ERR_BUFFER, leaving
 * @p b as it was.
 */
#ifndef CRDT_NODE_PROM_H
#define CRDT_NODE_PROM_H

#include <stddef.h>
#include <stdint.h>

#include <crdt/codec.h>

/* Whether @p name is a valid metric name. */
int nprom_valid_name(const char *name);

/* "# HELP name help\n# TYPE name type\n"; @p type "counter" or "gauge";
 * @p help may be NULL (no HELP line). */
int nprom_header(crdt_buf *b, const char *name, const char *type,
                 const char *help);

/* "name{labels} value\n"; @p labels NULL or "" for none, else already in
 * the form k="v",k2="v2" (see nprom_label).  Doubles print in the
 * shortest form that reads back exactly, or NaN, +Inf, -Inf. */
int nprom_sample_u64(crdt_buf *b, const char *name, const char *labels,
                     uint64_t v);
int nprom_sample_double(crdt_buf *b, const char *name, const char *labels,
                        double v);

/* nprom_header then one sample. */
int nprom_metric_u64(crdt_buf *b, const char *name, const char *type,
                     const char *help, const char *labels, uint64_t v);
int nprom_metric_double(crdt_buf *b, const char *name, const char *type,
                        const char *help, const char *labels, double v);

/* Appends @p n bytes of @p s escaped as a label value (no quotes). */
int nprom_escape(crdt_buf *b, const void *s, size_t n);

/* Appends key="escaped value" to a label list in @p labels, with a comma
 * first when it is not empty, and keeps a NUL after the bytes (not
 * counted in len) so labels->data can be passed as @p labels above.
 * @p key must be a valid label name ([a-zA-Z_][a-zA-Z0-9_]*). */
int nprom_label(crdt_buf *labels, const char *key, const char *value);

#endif
