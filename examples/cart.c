/* SPDX-License-Identifier: MIT */
/*
 * A shopping cart on two replicas, a phone and a laptop, that ship only
 * deltas: the items are an add-wins OR-set, the delivery address an
 * MV-register.  While apart, one removes an item the other adds again
 * (the add wins), and both write the address (the writes become
 * siblings, which a later write resolves).  Deltas travel encoded,
 * arrive in different orders and some twice, and the replicas converge.
 * Built and run by `make check`; exits non-zero on any mismatch.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>

typedef struct replica {
    const char *name;
    crdt_actor id;
    crdt_orset *items; /* the cart */
    crdt_mvreg *addr;  /* the delivery address */
} replica;

/* Every item either replica ever adds, in the order we print them. */
static const char *const all_items[] = {"apples", "bread", "eggs", "milk"};
#define N_ITEMS (sizeof all_items / sizeof all_items[0])

/* Reports a failed call; true iff rv is CRDT_OK. */
static bool ok(int rv, const char *what)
{
    if (rv != CRDT_OK)
        fprintf(stderr, "cart: %s: %s\n", what, crdt_strerror(rv));
    return rv == CRDT_OK;
}

/* Reports a result that differs from the expected one. */
static bool want(bool cond, const char *what)
{
    if (!cond)
        fprintf(stderr, "cart: mismatch: %s\n", what);
    return cond;
}

static bool add(replica *r, const char *item, crdt_orset *delta)
{
    return ok(crdt_orset_add(r->items, r->id, item, strlen(item), delta),
              "crdt_orset_add");
}

static bool rm(replica *r, const char *item, crdt_orset *delta)
{
    return ok(crdt_orset_remove(r->items, item, strlen(item), delta),
              "crdt_orset_remove");
}

/* Sends an OR-set delta group as its canonical encoding and merges what
 * arrives into dst. */
static bool ship_items(crdt_orset *dst, const crdt_orset *delta)
{
    crdt_orset *got = crdt_orset_new(NULL);
    crdt_buf wire;
    bool r;

    if (!got)
        return ok(CRDT_ERR_NOMEM, "crdt_orset_new");
    crdt_buf_init(&wire, NULL);
    r = ok(crdt_orset_encode(delta, &wire), "crdt_orset_encode") &&
        ok(crdt_orset_decode(got, wire.data, wire.len, NULL, NULL),
           "crdt_orset_decode") &&
        ok(crdt_orset_merge(dst, got), "crdt_orset_merge");
    crdt_buf_clear(&wire);
    crdt_orset_free(got);
    return r;
}

/* The same for an MV-register delta group. */
static bool ship_addr(crdt_mvreg *dst, const crdt_mvreg *delta)
{
    crdt_mvreg *got = crdt_mvreg_new(NULL);
    crdt_buf wire;
    bool r;

    if (!got)
        return ok(CRDT_ERR_NOMEM, "crdt_mvreg_new");
    crdt_buf_init(&wire, NULL);
    r = ok(crdt_mvreg_encode(delta, &wire), "crdt_mvreg_encode") &&
        ok(crdt_mvreg_decode(got, wire.data, wire.len, NULL, NULL),
           "crdt_mvreg_decode") &&
        ok(crdt_mvreg_merge(dst, got), "crdt_mvreg_merge");
    crdt_buf_clear(&wire);
    crdt_mvreg_free(got);
    return r;
}

/* True iff r's cart holds exactly the n items of want_items. */
static bool cart_is(const replica *r, const char *const *want_items,
                    size_t n)
{
    size_t i;

    if (crdt_orset_size(r->items) != n)
        return false;
    for (i = 0; i < n; i++) {
        if (!crdt_orset_contains(r->items, want_items[i],
                                 strlen(want_items[i])))
            return false;
    }
    return true;
}

/* True iff the i-th sibling of r's address holds the string s. */
static bool sibling_is(const replica *r, size_t i, const char *s)
{
    const uint8_t *p;
    size_t len;

    return crdt_mvreg_get(r->addr, i, NULL, &p, &len) == CRDT_OK &&
           len == strlen(s) && memcmp(p, s, len) == 0;
}

/* Prints "name: cart a, b; address x | y". */
static void show(const replica *r)
{
    const char *sep = "";
    size_t i, len;
    const uint8_t *p;

    printf("%-6s: cart", r->name);
    for (i = 0; i < N_ITEMS; i++) {
        if (crdt_orset_contains(r->items, all_items[i],
                                strlen(all_items[i]))) {
            printf("%s %s", sep, all_items[i]);
            sep = ",";
        }
    }
    printf("; address");
    sep = " ";
    for (i = 0; i < crdt_mvreg_count(r->addr); i++) {
        if (crdt_mvreg_get(r->addr, i, NULL, &p, &len) == CRDT_OK)
            printf("%s%.*s", sep, (int)len, (const char *)p);
        sep = " | ";
    }
    printf("\n");
}

int main(void)
{
    static const char *const merged[] = {"bread", "eggs", "milk"};
    replica phone = {"phone", 0, NULL, NULL};
    replica laptop = {"laptop", 0, NULL, NULL};
    /* delta groups: each mutator joins its delta into one of these */
    crdt_orset *p1 = crdt_orset_new(NULL), *p2 = crdt_orset_new(NULL);
    crdt_orset *l2 = crdt_orset_new(NULL);
    crdt_mvreg *pa = crdt_mvreg_new(NULL), *la = crdt_mvreg_new(NULL);
    crdt_mvreg *pr = crdt_mvreg_new(NULL);
    const uint8_t *best;
    size_t len;
    bool good = false;

    phone.id = crdt_actor_from_name("phone", 5);
    laptop.id = crdt_actor_from_name("laptop", 6);
    phone.items = crdt_orset_new(NULL);
    laptop.items = crdt_orset_new(NULL);
    phone.addr = crdt_mvreg_new(NULL);
    laptop.addr = crdt_mvreg_new(NULL);
    if (!phone.items || !laptop.items || !phone.addr || !laptop.addr ||
        !p1 || !p2 || !l2 || !pa || !la || !pr) {
        ok(CRDT_ERR_NOMEM, "new");
        goto out;
    }

    /* 1. The phone fills the cart; the laptop gets the delta. */
    if (!add(&phone, "apples", p1) || !add(&phone, "bread", p1) ||
        !ship_items(laptop.items, p1))
        goto out;

    /* 2. Apart: the phone drops the bread and adds eggs; the laptop,
     * which has not seen that remove, adds bread again, adds milk and
     * removes the apples it has seen.  Both write the address. */
    if (!rm(&phone, "bread", p2) || !add(&phone, "eggs", p2) ||
        !add(&laptop, "bread", l2) || !add(&laptop, "milk", l2) ||
        !rm(&laptop, "apples", l2))
        goto out;
    if (!ok(crdt_mvreg_write(phone.addr, phone.id, "home", 4, pa),
            "crdt_mvreg_write") ||
        !ok(crdt_mvreg_write(laptop.addr, laptop.id, "office", 6, la),
            "crdt_mvreg_write"))
        goto out;

    /* 3. Together again: each merges the other's deltas in its own order,
     * some twice (the laptop gets the old p1 once more).  Merge is
     * idempotent, so duplicates change nothing. */
    if (!ship_items(phone.items, l2) || !ship_items(phone.items, l2) ||
        !ship_items(laptop.items, p2) || !ship_items(laptop.items, p1) ||
        !ship_addr(phone.addr, la) || !ship_addr(laptop.addr, pa) ||
        !ship_addr(laptop.addr, pa))
        goto out;
    show(&phone);
    show(&laptop);
    /* The bread survives: the laptop's add was concurrent with the
     * phone's remove (add wins).  The apples are gone: their remove saw
     * the only add. */
    if (!want(cart_is(&phone, merged, 3), "phone's cart") ||
        !want(cart_is(&laptop, merged, 3), "laptop's cart") ||
        !want(crdt_orset_equal(phone.items, laptop.items), "carts differ"))
        goto out;
    /* Both addresses are kept, as siblings in dot order. */
    if (!want(crdt_mvreg_count(phone.addr) == 2, "two siblings") ||
        !want((sibling_is(&phone, 0, "home") &&
               sibling_is(&phone, 1, "office")) ||
                  (sibling_is(&phone, 0, "office") &&
                   sibling_is(&phone, 1, "home")),
              "siblings home and office") ||
        !want(crdt_mvreg_equal(phone.addr, laptop.addr), "addresses differ"))
        goto out;

    /* 4. The phone resolves the siblings (NULL comparator: the greatest
     * by bytes, "office") and writes the choice back, which supersedes
     * both; the laptop gets that delta twice. */
    if (!ok(crdt_mvreg_resolve(phone.addr, NULL, NULL, &best, &len),
            "crdt_mvreg_resolve") ||
        !ok(crdt_mvreg_write(phone.addr, phone.id, best, len, pr),
            "crdt_mvreg_write") ||
        !ship_addr(laptop.addr, pr) || !ship_addr(laptop.addr, pr))
        goto out;
    show(&laptop);
    if (!want(crdt_mvreg_count(laptop.addr) == 1 &&
                  sibling_is(&laptop, 0, "office"),
              "resolved address") ||
        !want(crdt_mvreg_equal(phone.addr, laptop.addr), "addresses differ"))
        goto out;
    printf("converged\n");
    good = true;

out:
    crdt_orset_free(phone.items);
    crdt_orset_free(laptop.items);
    crdt_mvreg_free(phone.addr);
    crdt_mvreg_free(laptop.addr);
    crdt_orset_free(p1);
    crdt_orset_free(p2);
    crdt_orset_free(l2);
    crdt_mvreg_free(pa);
    crdt_mvreg_free(la);
    crdt_mvreg_free(pr);
    return good ? EXIT_SUCCESS : EXIT_FAILURE;
}
