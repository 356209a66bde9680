/* SPDX-License-Identifier: MIT */
/* crdt-node's structured log (log.h). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static int level_now = NLOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

int nlog_set_level(int level)
{
    int old = level_now;

    if (level >= NLOG_ERROR && level <= NLOG_DEBUG)
        level_now = level;
    return old;
}

int nlog_parse_level(const char *s)
{
    int i;

    for (i = 0; s && i <= NLOG_DEBUG; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int nlog_enabled(int level)
{
    return level <= level_now;
}

void nlog(int level, const char *event, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int k;
    va_list ap;

    if (!nlog_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(line + n, sizeof line - n, ".%03ldZ level=%s event=%s",
                 ts.tv_nsec / 1000000L, names[level], event);
    if (k > 0)
        n += (size_t)k < sizeof line - n ? (size_t)k : sizeof line - n - 1;
    if (fmt && *fmt && n + 2 < sizeof line) {
        line[n++] = ' ';
        va_start(ap, fmt);
        k = vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
        if (k > 0)
            n += (size_t)k < sizeof line - n ? (size_t)k
                                             : sizeof line - n - 1;
    }
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
    fflush(stderr);
}

const char *nlog_quote(char *buf, size_t cap, const void *s, size_t n)
{
    const unsigned char *p = s;
    size_t i, o = 0;
    int plain = n > 0;

    if (cap == 0)
        return buf;
    for (i = 0; i < n && plain; i++)
        if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == '"' || p[i] == '=' ||
            p[i] == '\\')
            plain = 0;
    if (plain && n < cap) {
        memcpy(buf, p, n);
        buf[n] = '\0';
        return buf;
    }
    if (cap < 3) {
        buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (i = 0; i < n; i++) {
        char e[5];
        size_t el;

        if (p[i] == '"' || p[i] == '\\') {
            e[0] = '\\';
            e[1] = (char)p[i];
            el = 2;
        } else if (p[i] < ' ' || p[i] >= 0x7f) {
            snprintf(e, sizeof e, "\\x%02x", p[i]);
            el = 4;
        } else {
            e[0] = (char)p[i];
            el = 1;
        }
        if (o + el + 2 > cap)
            break;
        memcpy(buf + o, e, el);
        o += el;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
