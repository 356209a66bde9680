/* SPDX-License-Identifier: MIT */
/*
 * Quick start: two replicas track causality with version vectors, ship
 * their state as canonical MessagePack, and merge.  Built by `make check`;
 * the README walks through it.
 */
#include <stdio.h>
#include <stdlib.h>

#include <crdt/crdt.h>

static int fail(const char *what, int rv)
{
    fprintf(stderr, "%s: %s\n", what, crdt_strerror(rv));
    return EXIT_FAILURE;
}

int main(void)
{
    crdt_actor alice = crdt_actor_from_name("alice", 5);
    crdt_actor bob = crdt_actor_from_name("bob", 3);
    crdt_vclock *a = crdt_vclock_new(NULL), *b = crdt_vclock_new(NULL);
    crdt_vclock *received = crdt_vclock_new(NULL);
    crdt_buf wire;
    int rv;

    if (!a || !b || !received)
        return fail("crdt_vclock_new", CRDT_ERR_NOMEM);

    /* Each replica records its own events. */
    if ((rv = crdt_vclock_increment(a, alice, NULL)) ||
        (rv = crdt_vclock_increment(a, alice, NULL)) ||
        (rv = crdt_vclock_increment(b, bob, NULL)))
        return fail("increment", rv);
    printf("a vs b: %s\n", crdt_order_name(crdt_vclock_compare(a, b)));

    /* Alice sends her clock; Bob decodes and merges it. */
    crdt_buf_init(&wire, NULL);
    if ((rv = crdt_vclock_encode(a, &wire)))
        return fail("encode", rv);
    printf("encoded %zu bytes\n", wire.len);
    if ((rv = crdt_vclock_decode(received, wire.data, wire.len, NULL, NULL)))
        return fail("decode", rv);
    if ((rv = crdt_vclock_merge(b, received)))
        return fail("merge", rv);
    printf("after merge, b vs a: %s\n",
           crdt_order_name(crdt_vclock_compare(b, a)));
    printf("b[alice] = %llu, b[bob] = %llu\n",
           (unsigned long long)crdt_vclock_get(b, alice),
           (unsigned long long)crdt_vclock_get(b, bob));

    crdt_buf_clear(&wire);
    crdt_vclock_free(a);
    crdt_vclock_free(b);
    crdt_vclock_free(received);
    return EXIT_SUCCESS;
}
