/* SPDX-License-Identifier: MIT */
/*
 * Three gossip nodes on loopback UDP sockets in one process: the
 * engine (crdt/gossip.h) embedded in an application that owns the
 * sockets, the clock and the loop.  Each node increments a shared
 * counter and adds its name to a shared set; the loop runs until every
 * node holds the same store (or 10 seconds pass), then prints what each
 * node sees.  `make check` runs it.
 *
 * The pattern, per node:
 *   - the send callback writes the datagram to the peer's address
 *     (the "host:port" blob the node was told, or learned);
 *   - a readable socket: recvfrom, then crdt_gossip_receive;
 *   - poll() sleeps until the earliest crdt_gossip_next_deadline, then
 *     crdt_gossip_tick.
 * Only 127.0.0.1 is used, on ports the kernel picks.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>

#define NODES 3

typedef struct node {
    int fd;
    char addr[32]; /* "127.0.0.1:port" */
    crdt_gossip *g;
} node;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "127.0.0.1:port" to a sockaddr; only loopback addresses are accepted. */
static int parse_addr(const uint8_t *a, size_t n, struct sockaddr_in *sa)
{
    char buf[32];
    const char *colon;

    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, a, n);
    buf[n] = 0;
    colon = strchr(buf, ':');
    if (!colon || strncmp(buf, "127.0.0.1", (size_t)(colon - buf)) != 0)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return 0;
}

/* The engine's send callback: called only from inside tick and receive. */
static int send_cb(void *user, uint64_t to, const uint8_t *addr,
                   size_t addrlen, const uint8_t *data, size_t len)
{
    node *self = user;
    struct sockaddr_in sa;

    (void)to;
    if (parse_addr(addr, addrlen, &sa))
        return -1;
    return sendto(self->fd, data, len, 0, (struct sockaddr *)&sa,
                  sizeof sa) == (ssize_t)len
               ? 0
               : -1;
}

static int inc(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    (void)u;
    return crdt_gcounter_increment(v, w->actor, 1, d);
}

static int add(void *v, void *d, const crdt_gossip_write *w, void *u)
{
    const char *name = u;

    return crdt_orset_add(v, w->actor, name, strlen(name), d);
}

static int check(int rv, const char *what)
{
    if (rv) {
        fprintf(stderr, "gossip_udp: %s: %s\n", what, crdt_strerror(rv));
        exit(1);
    }
    return rv;
}

int main(void)
{
    static const char *const names[NODES] = {"ada", "grace", "edsger"};
    node n[NODES];
    struct pollfd pfd[NODES];
    uint64_t start = now_ms();
    int i, j, converged = 0;

    for (i = 0; i < NODES; i++) {
        struct sockaddr_in sa = {0};
        socklen_t sl = sizeof sa;
        crdt_gossip_settings s;

        n[i].fd = socket(AF_INET, SOCK_DGRAM, 0);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (n[i].fd < 0 || bind(n[i].fd, (struct sockaddr *)&sa, sizeof sa) ||
            getsockname(n[i].fd, (struct sockaddr *)&sa, &sl)) {
            perror("gossip_udp: socket");
            return 1;
        }
        snprintf(n[i].addr, sizeof n[i].addr, "127.0.0.1:%u",
                 (unsigned)ntohs(sa.sin_port));
        crdt_gossip_settings_default(&s);
        s.node_id = crdt_actor_from_name(names[i], strlen(names[i]));
        s.cluster_id = 42;
        s.seed = (uint64_t)i + 1; /* an app would draw it at random */
        s.round_ms = 50;
        s.repair_ms = 500;
        s.callbacks.send = send_cb;
        s.callbacks.user_data = &n[i];
        check(crdt_gossip_new(&n[i].g, &s, NULL), "new");
        pfd[i].fd = n[i].fd;
        pfd[i].events = POLLIN;
    }
    /* each node knows the next one only: membership gossip does the rest */
    for (i = 0; i < NODES; i++) {
        const node *p = &n[(i + 1) % NODES];

        check(crdt_gossip_add_peer(n[i].g, crdt_gossip_node_id(p->g),
                                   (const uint8_t *)p->addr,
                                   strlen(p->addr)),
              "add_peer");
        check(crdt_gossip_update(n[i].g, "visits", 6, crdt_gcounter_type(),
                                 inc, NULL),
              "update");
        check(crdt_gossip_update(n[i].g, "who", 3, crdt_orset_type(), add,
                                 (void *)names[i]),
              "update");
    }
    while (now_ms() - start < 10000 && !converged) {
        uint64_t t = now_ms(), next = CRDT_GOSSIP_NEVER;
        int timeout;

        for (i = 0; i < NODES; i++) {
            uint64_t d = crdt_gossip_next_deadline(n[i].g);

            if (d <= t)
                check(crdt_gossip_tick(n[i].g, t), "tick");
            d = crdt_gossip_next_deadline(n[i].g);
            if (d < next)
                next = d;
        }
        timeout = next == CRDT_GOSSIP_NEVER ? 100
                  : next > t                ? (int)(next - t)
                                            : 0;
        if (poll(pfd, NODES, timeout) < 0) {
            perror("gossip_udp: poll");
            return 1;
        }
        for (i = 0; i < NODES; i++) {
            uint8_t buf[CRDT_GOSSIP_MAX_DATAGRAM];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            char addr[32];
            ssize_t len;

            if (!(pfd[i].revents & POLLIN))
                continue;
            len = recvfrom(n[i].fd, buf, sizeof buf, 0,
                           (struct sockaddr *)&from, &fl);
            if (len < 0)
                continue;
            snprintf(addr, sizeof addr, "127.0.0.1:%u",
                     (unsigned)ntohs(from.sin_port));
            check(crdt_gossip_receive(n[i].g, now_ms(), (const uint8_t *)addr,
                                      strlen(addr), buf, (size_t)len),
                  "receive");
        }
        converged = 1;
        for (i = 1; i < NODES; i++)
            converged &= crdt_gossip_digest(n[i].g) ==
                         crdt_gossip_digest(n[0].g);
    }
    for (i = 0; i < NODES; i++) {
        const crdt_type *t;
        const void *v;
        uint64_t visits = 0;
        size_t who = 0;

        if (crdt_gossip_get(n[i].g, "visits", 6, &t, &v) == CRDT_OK)
            visits = crdt_gcounter_value(v);
        if (crdt_gossip_get(n[i].g, "who", 3, &t, &v) == CRDT_OK)
            who = crdt_orset_size(v);
        printf("%-7s %s: visits=%llu, %zu names, %zu peers\n", names[i],
               n[i].addr, (unsigned long long)visits, who,
               crdt_gossip_peer_count(n[i].g));
        if (visits != NODES || who != NODES ||
            crdt_gossip_peer_count(n[i].g) != NODES - 1)
            converged = 0;
    }
    printf("%s in %llu ms\n", converged ? "converged" : "NOT converged",
           (unsigned long long)(now_ms() - start));
    for (j = 0; j < NODES; j++) {
        crdt_gossip_free(n[j].g);
        close(n[j].fd);
    }
    return converged ? 0 : 1;
}
