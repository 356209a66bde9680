/* SPDX-License-Identifier: MIT */
/*
 * A gossip node on a UDP socket of a libuv loop (crdt/gossip_uv.h).
 *
 * One uv_udp_t and one uv_timer_t per node.  The node runs in poll mode:
 * after every receive and tick the queue is drained onto the socket with
 * uv_udp_try_send (a datagram the kernel will not take at once is dropped
 * and counted: the engine's exchanges tolerate loss, and retrying would
 * need a copy per datagram).  Times given to the node are the loop's
 * uv_now(), monotonic milliseconds.
 */
#define _POSIX_C_SOURCE 200809L /* uv.h needs POSIX types under c11 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <crdt/gossip_uv.h>

struct crdt_gossip_uv {
    uv_udp_t udp;
    uv_timer_t timer;
    uv_loop_t *loop;
    crdt_gossip *g;
    crdt_gossip_uv_settings set;
    crdt_gossip_uv_stats st;
    int closing;                 /* handles still to close */
    void (*on_closed)(void *);
    void *closed_user;
    uint8_t rbuf[65536];         /* one datagram read */
    uint8_t sbuf[65536];         /* one datagram polled */
    uint8_t seal[65536 + CRDT_SEAL_OVERHEAD]; /* it sealed */
    size_t max_datagram;         /* the node's, for send_to */
};

void crdt_gossip_uv_settings_default(crdt_gossip_uv_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->version = CRDT_GOSSIP_UV_SETTINGS_VERSION;
}

/* ======================================================================
 * Addresses
 * ====================================================================== */

int crdt_gossip_uv_parse_addr(const uint8_t *text, size_t len,
                              struct sockaddr_storage *sa)
{
    char host[CRDT_GOSSIP_UV_ADDR_MAX];
    size_t hl, i;
    const uint8_t *port;
    size_t plen;
    unsigned long p = 0;
    bool v6;

    if (!text || !sa || len == 0 || len >= sizeof host)
        return CRDT_ERR_INVALID_ARG;
    v6 = text[0] == '[';
    if (v6) {
        const uint8_t *close = memchr(text, ']', len);

        if (!close || (size_t)(close - text) + 1 >= len ||
            close[1] != ':')
            return CRDT_ERR_INVALID_ARG;
        hl = (size_t)(close - text) - 1;
        memcpy(host, text + 1, hl);
        port = close + 2;
    } else {
        const uint8_t *colon = NULL;

        for (i = len; i > 0; i--)
            if (text[i - 1] == ':') {
                colon = text + i - 1;
                break;
            }
        if (!colon)
            return CRDT_ERR_INVALID_ARG;
        hl = (size_t)(colon - text);
        memcpy(host, text, hl);
        port = colon + 1;
    }
    host[hl] = 0;
    plen = len - (size_t)(port - text);
    if (plen == 0 || plen > 5)
        return CRDT_ERR_INVALID_ARG;
    for (i = 0; i < plen; i++) {
        if (port[i] < '0' || port[i] > '9')
            return CRDT_ERR_INVALID_ARG;
        p = p * 10 + (unsigned long)(port[i] - '0');
    }
    if (p > 65535)
        return CRDT_ERR_INVALID_ARG;
    memset(sa, 0, sizeof *sa);
    if (v6 ? uv_ip6_addr(host, (int)p, (struct sockaddr_in6 *)sa)
           : uv_ip4_addr(host, (int)p, (struct sockaddr_in *)sa))
        return CRDT_ERR_INVALID_ARG;
    return CRDT_OK;
}

size_t crdt_gossip_uv_format_addr(const struct sockaddr *sa, char *buf,
                                  size_t cap)
{
    char host[INET6_ADDRSTRLEN];
    int n;

    if (!sa || !buf)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

        if (uv_ip4_name(a, host, sizeof host))
            return 0;
        n = snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(a->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

        if (uv_ip6_name(a, host, sizeof host))
            return 0;
        n = snprintf(buf, cap, "[%s]:%u", host,
                     (unsigned)ntohs(a->sin6_port));
    } else {
        return 0;
    }
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}

/* ======================================================================
 * Driving the node
 * ====================================================================== */

static void report(crdt_gossip_uv *u, int err, const char *what)
{
    u->st.errors++;
    if (u->set.on_error)
        u->set.on_error(u->set.user, err, what);
}

/* Sends everything the node queued. */
static void drain(crdt_gossip_uv *u)
{
    crdt_gossip_datagram dg;

    while (crdt_gossip_poll(u->g, &dg, u->sbuf, sizeof u->sbuf) ==
           CRDT_OK) {
        struct sockaddr_storage sa;
        uv_buf_t b = uv_buf_init((char *)u->sbuf, (unsigned)dg.len);
        int rv;

        if (crdt_gossip_uv_parse_addr(dg.addr, dg.addrlen, &sa)) {
            u->st.no_address++;
            continue;
        }
        if (u->set.sealer) {
            size_t n;

            if (crdt_sealer_seal(u->set.sealer, u->sbuf, dg.len, u->seal,
                                 sizeof u->seal, &n)) {
                u->st.send_failed++;
                continue;
            }
            b = uv_buf_init((char *)u->seal, (unsigned)n);
        }
        rv = uv_udp_try_send(&u->udp, &b, 1, (const struct sockaddr *)&sa);
        if (rv < 0) {
            u->st.send_failed++;
            continue;
        }
        u->st.sent++;
        u->st.sent_bytes += b.len;
    }
}

static void on_timer(uv_timer_t *t);

/* Drains, then sets the timer to the node's next deadline. */
static void rearm(crdt_gossip_uv *u)
{
    uint64_t now = uv_now(u->loop), at;

    drain(u);
    if (u->closing)
        return;
    at = crdt_gossip_next_deadline(u->g);
    if (at == CRDT_GOSSIP_NEVER) {
        uv_timer_stop(&u->timer);
        return;
    }
    uv_timer_start(&u->timer, on_timer, at > now ? at - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    crdt_gossip_uv *u = t->data;
    int rv = crdt_gossip_tick(u->g, uv_now(u->loop));

    if (rv)
        report(u, rv, "tick");
    rearm(u);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    crdt_gossip_uv *u = h->data;

    (void)hint;
    *buf = uv_buf_init((char *)u->rbuf, sizeof u->rbuf);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags)
{
    crdt_gossip_uv *u = h->data;
    char addr[CRDT_GOSSIP_UV_ADDR_MAX];
    size_t alen;
    int rv;

    (void)buf;
    if (n < 0) {
        report(u, CRDT_ERR_IO, uv_strerror((int)n));
        return;
    }
    if (!from) /* nothing more to read */
        return;
    u->st.received++;
    u->st.received_bytes += (uint64_t)n;
    if (flags & UV_UDP_PARTIAL) {
        u->st.oversize++;
        return;
    }
    alen = crdt_gossip_uv_format_addr(from, addr, sizeof addr);
    if (u->set.on_datagram) {
        const uint8_t *plain = u->rbuf;
        size_t plen = (size_t)n;

        if (u->set.sealer &&
            crdt_sealer_open(u->set.sealer, u->rbuf, (size_t)n, &plain,
                             &plen))
            return; /* counted by the sealer */
        if (u->set.on_datagram(u->set.user, (const uint8_t *)addr, alen,
                               plain, plen, uv_now(u->loop))) {
            rearm(u);
            return;
        }
        rv = crdt_gossip_receive(u->g, uv_now(u->loop),
                                 (const uint8_t *)addr, alen, plain, plen);
    } else if (u->set.sealer)
        rv = crdt_sealer_receive(u->set.sealer, u->g, uv_now(u->loop),
                                 (const uint8_t *)addr, alen, u->rbuf,
                                 (size_t)n);
    else
        rv = crdt_gossip_receive(u->g, uv_now(u->loop),
                                 (const uint8_t *)addr, alen, u->rbuf,
                                 (size_t)n);
    if (rv)
        report(u, rv, "receive");
    rearm(u);
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

/* Never fragment: the engine keeps every datagram within max_datagram,
 * and a datagram the path cannot carry should be lost, not split. */
static void no_fragments(uv_udp_t *udp, int family)
{
    uv_os_fd_t fd;
    int v;

    if (uv_fileno((uv_handle_t *)udp, &fd))
        return;
    if (family == AF_INET) {
#if defined(IP_MTU_DISCOVER) && defined(IP_PMTUDISC_DO)
        v = IP_PMTUDISC_DO;
        (void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
#elif defined(IP_DONTFRAG)
        v = 1;
        (void)setsockopt(fd, IPPROTO_IP, IP_DONTFRAG, &v, sizeof v);
#endif
    } else {
#if defined(IPV6_MTU_DISCOVER) && defined(IPV6_PMTUDISC_DO)
        v = IPV6_PMTUDISC_DO;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof v);
#elif defined(IPV6_DONTFRAG)
        v = 1;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &v, sizeof v);
#endif
    }
    (void)v;
}

static void on_close(uv_handle_t *h)
{
    crdt_gossip_uv *u = h->data;

    if (--u->closing == 0) {
        void (*cb)(void *) = u->on_closed;
        void *user = u->closed_user;

        free(u);
        if (cb)
            cb(user);
    }
}

int crdt_gossip_uv_start(crdt_gossip_uv **out, uv_loop_t *loop,
                         crdt_gossip *g, const crdt_gossip_uv_settings *s)
{
    struct sockaddr_storage sa;
    crdt_gossip_uv *u;

    if (!out || !loop || !g || !s ||
        s->version != CRDT_GOSSIP_UV_SETTINGS_VERSION || !s->listen ||
        crdt_gossip_uv_parse_addr((const uint8_t *)s->listen,
                                  strlen(s->listen), &sa))
        return CRDT_ERR_INVALID_ARG;
    u = calloc(1, sizeof *u);
    if (!u)
        return CRDT_ERR_NOMEM;
    u->loop = loop;
    u->g = g;
    u->set = *s;
    u->set.listen = NULL; /* borrowed only during the call */
    u->max_datagram = s->sealer ? crdt_sealer_max_plaintext(s->sealer)
                                : crdt_gossip_max_datagram();
    if (uv_udp_init(loop, &u->udp)) {
        free(u);
        return CRDT_ERR_IO;
    }
    u->udp.data = u;
    u->closing = 1; /* from here on, the socket closes through the loop */
    if (uv_udp_bind(&u->udp, (const struct sockaddr *)&sa, 0) ||
        uv_timer_init(loop, &u->timer)) {
        uv_close((uv_handle_t *)&u->udp, on_close);
        return CRDT_ERR_IO;
    }
    u->timer.data = u;
    u->closing = 0;
    no_fragments(&u->udp, sa.ss_family);
    if (uv_udp_recv_start(&u->udp, on_alloc, on_recv)) {
        u->closing = 2;
        uv_close((uv_handle_t *)&u->udp, on_close);
        uv_close((uv_handle_t *)&u->timer, on_close);
        return CRDT_ERR_IO;
    }
    uv_timer_start(&u->timer, on_timer, 0, 0);
    *out = u;
    return CRDT_OK;
}

void crdt_gossip_uv_stop(crdt_gossip_uv *u, void (*on_closed)(void *user),
                         void *user)
{
    if (!u || u->closing)
        return;
    u->on_closed = on_closed;
    u->closed_user = user;
    u->closing = 2;
    uv_udp_recv_stop(&u->udp);
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->udp, on_close);
    uv_close((uv_handle_t *)&u->timer, on_close);
}

int crdt_gossip_uv_flush(crdt_gossip_uv *u)
{
    if (!u || u->closing)
        return CRDT_ERR_INVALID_ARG;
    rearm(u);
    return CRDT_OK;
}

int crdt_gossip_uv_send_to(crdt_gossip_uv *u, const uint8_t *addr,
                           size_t alen, const uint8_t *data, size_t len)
{
    struct sockaddr_storage sa;
    uv_buf_t b;
    size_t n;

    if (!u || u->closing || !addr || !data || len == 0 ||
        len > u->max_datagram ||
        crdt_gossip_uv_parse_addr(addr, alen, &sa))
        return CRDT_ERR_INVALID_ARG;
    b = uv_buf_init((char *)data, (unsigned)len);
    if (u->set.sealer) {
        if (crdt_sealer_seal(u->set.sealer, data, len, u->seal,
                             sizeof u->seal, &n)) {
            u->st.send_failed++;
            return CRDT_ERR_IO;
        }
        b = uv_buf_init((char *)u->seal, (unsigned)n);
    }
    if (uv_udp_try_send(&u->udp, &b, 1, (const struct sockaddr *)&sa) < 0) {
        u->st.send_failed++;
        return CRDT_ERR_IO;
    }
    u->st.sent++;
    u->st.sent_bytes += b.len;
    return CRDT_OK;
}

int crdt_gossip_uv_address(const crdt_gossip_uv *u, char *buf, size_t cap)
{
    struct sockaddr_storage sa;
    int len = (int)sizeof sa;

    if (!u || !buf || cap == 0)
        return CRDT_ERR_INVALID_ARG;
    if (uv_udp_getsockname(&u->udp, (struct sockaddr *)&sa, &len))
        return CRDT_ERR_IO;
    if (!crdt_gossip_uv_format_addr((const struct sockaddr *)&sa, buf, cap))
        return CRDT_ERR_BUFFER;
    return CRDT_OK;
}

void crdt_gossip_uv_stats_get(const crdt_gossip_uv *u,
                              crdt_gossip_uv_stats *st)
{
    if (!st)
        return;
    if (!u) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = u->st;
}
