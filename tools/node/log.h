/* SPDX-License-Identifier: MIT */
/*
 * crdt-node's structured log: one logfmt line per event on stderr,
 *   ts=2026-12-05T13:47:02.123Z level=info event=start name=a ...
 * Levels: error, warn, info, debug; lines below the set level are not
 * written.  Values with spaces, quotes or '=' are quoted by the caller
 * with nlog_quote.
 */
#ifndef CRDT_NODE_LOG_H
#define CRDT_NODE_LOG_H

#include <stddef.h>

enum { NLOG_ERROR = 0, NLOG_WARN, NLOG_INFO, NLOG_DEBUG };

/* Sets the level (NLOG_*); returns the previous one. */
int nlog_set_level(int level);
/* Parses "error".."debug"; -1 if unknown. */
int nlog_parse_level(const char *s);
/* Whether lines of @p level are written. */
int nlog_enabled(int level);
/* Writes one line: ts, level, event=@p event, then @p fmt (printf-style
 * "key=value ..." pairs), if @p level is enabled. */
void nlog(int level, const char *event, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Writes @p s (of @p n bytes) into @p buf (@p cap bytes) as a logfmt value:
 * as is when it is printable ASCII without space, '"' or '=', else quoted
 * with \" \\ and \xNN escapes, truncated to fit.  Returns buf. */
const char *nlog_quote(char *buf, size_t cap, const void *s, size_t n);

#endif
