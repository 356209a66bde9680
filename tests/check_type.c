/* SPDX-License-Identifier: MIT */
/*
 * Type descriptors and registries: every built-in descriptor is valid and
 * behaves like its type's own functions; registries reject duplicates
 * atomically; generic decode dispatches on the tag; an application type
 * (a max-register, defined here) registers and round-trips like a built-in;
 * the types without dots keep the join laws, with identical bytes, when
 * replicas share actor ids.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <crdt/crdt.h>

#include "testutil.h"
#include "typetab.h"

/* ------------------------------------------- an application-defined type */

#define TAG_MAXREG 1024u

typedef struct maxreg {
    crdt_mem mem;
    uint64_t v;
} maxreg;

static void *mr_create(const crdt_mem *mem)
{
    crdt_mem m = mem ? *mem : *crdt_mem_default();
    maxreg *r = m.malloc(sizeof *r, m.user_data);

    if (r) {
        r->mem = m;
        r->v = 0;
    }
    return r;
}

static void mr_destroy(void *o)
{
    maxreg *r = o;

    if (r)
        r->mem.free(r, r->mem.user_data);
}

static int mr_copy(void *d, const void *s)
{
    ((maxreg *)d)->v = ((const maxreg *)s)->v;
    return CRDT_OK;
}

static bool mr_equal(const void *a, const void *b)
{
    return ((const maxreg *)a)->v == ((const maxreg *)b)->v;
}

static int mr_merge(void *d, const void *s)
{
    maxreg *r = d;

    if (((const maxreg *)s)->v > r->v)
        r->v = ((const maxreg *)s)->v;
    return CRDT_OK;
}

/* [1, 1024, v] with v < 128 (a positive fixint), enough for the test */
static int mr_encode(const void *o, crdt_buf *out)
{
    uint8_t b[5] = {0x93, 0x01, 0xcd, 0x04, 0x00};
    uint8_t v = (uint8_t)((const maxreg *)o)->v;
    int rv;

    if (((const maxreg *)o)->v >= 128)
        return CRDT_ERR_INVALID_ARG;
    if ((rv = crdt_buf_reserve(out, 6)))
        return rv;
    rv = crdt_buf_append(out, b, sizeof b);
    return rv ? rv : crdt_buf_append(out, &v, 1);
}

static int mr_decode(void *d, const uint8_t *data, size_t len,
                     const crdt_limits *lim, crdt_decode_info *info)
{
    (void)lim;
    if (len != 6 || memcmp(data, "\x93\x01\xcd\x04\x00", 5) != 0 ||
        data[5] >= 128) {
        if (info) {
            info->offset = 0;
            info->code = CRDT_ERR_DECODE;
        }
        return CRDT_ERR_DECODE;
    }
    ((maxreg *)d)->v = data[5];
    return CRDT_OK;
}

static const crdt_type maxreg_type = {
    CRDT_TYPE_VERSION, TAG_MAXREG, "maxreg", mr_create, mr_destroy,
    mr_copy,           mr_equal,   mr_merge, mr_encode, mr_decode,
};

/* ---------------------------------------------------------------- tests */

static const crdt_type *builtin(size_t i)
{
    const crdt_type *(*const all[])(void) = {
        crdt_vclock_type,  crdt_dotctx_type, crdt_gcounter_type,
        crdt_pncounter_type, crdt_lww_type, crdt_orset_type,
        crdt_gset_type,    crdt_mvreg_type,  crdt_ewflag_type,
        crdt_dwflag_type, crdt_ormap_type};

    return i < sizeof all / sizeof all[0] ? all[i]() : NULL;
}

START_TEST(test_type_builtin_descriptors)
{
    const crdt_type *t;
    size_t i;

    for (i = 0; (t = builtin(i)) != NULL; i++) {
        ck_assert_int_eq(crdt_type_check(t), CRDT_OK);
        ck_assert_str_eq(t->name, crdt_type_name(t->tag));
        ck_assert_uint_lt(t->tag, CRDT_TAG_USER_MIN);
    }
    ck_assert_uint_eq(i, 11);
    ck_assert_int_eq(crdt_type_check(NULL), CRDT_ERR_INVALID_ARG);
    {
        crdt_type bad = maxreg_type;

        bad.merge = NULL;
        ck_assert_int_eq(crdt_type_check(&bad), CRDT_ERR_INVALID_ARG);
        bad = maxreg_type;
        bad.version = 99;
        ck_assert_int_eq(crdt_type_check(&bad), CRDT_ERR_INVALID_ARG);
    }
}
END_TEST

/* Through the descriptor: two replicas of a gcounter merge commutatively
 * and round-trip through the registry's generic decoder. */
START_TEST(test_type_builtin_generic_use)
{
    crdt_registry *reg = crdt_registry_new(NULL);
    const crdt_type *t = crdt_gcounter_type(), *got = NULL;
    void *a = t->create(NULL), *b = t->create(NULL), *c = t->create(NULL);
    void *obj = NULL;
    crdt_buf buf;

    ck_assert_int_eq(crdt_registry_add_builtins(reg), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(a, 1, 5, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_gcounter_increment(b, 2, 7, NULL), CRDT_OK);
    ck_assert_int_eq(t->copy(c, b), CRDT_OK);
    ck_assert_int_eq(t->merge(c, a), CRDT_OK);
    ck_assert_int_eq(t->merge(a, b), CRDT_OK);
    ck_assert(t->equal(a, c));
    ck_assert_uint_eq(crdt_gcounter_value(a), 12);
    crdt_buf_init(&buf, NULL);
    ck_assert_int_eq(t->encode(a, &buf), CRDT_OK);
    ck_assert_int_eq(crdt_registry_decode(reg, buf.data, buf.len, NULL, NULL,
                                          &got, &obj, NULL),
                     CRDT_OK);
    ck_assert_ptr_eq(got, t);
    ck_assert(t->equal(obj, a));
    got->destroy(obj);
    crdt_buf_clear(&buf);
    t->destroy(a);
    t->destroy(b);
    t->destroy(c);
    crdt_registry_free(reg);
}
END_TEST

START_TEST(test_type_registry_add_find)
{
    crdt_registry *reg = crdt_registry_new(NULL);
    crdt_type dup = maxreg_type;
    size_t n;

    ck_assert_uint_eq(crdt_registry_size(reg), 0);
    ck_assert_int_eq(crdt_registry_add_builtins(reg), CRDT_OK);
    n = crdt_registry_size(reg);
    ck_assert_uint_eq(n, 11); /* every built-in replicated type */
    ck_assert_ptr_eq(crdt_registry_find(reg, CRDT_TAG_LWW), crdt_lww_type());
    ck_assert_ptr_eq(crdt_registry_find_name(reg, "pncounter"),
                     crdt_pncounter_type());
    ck_assert_ptr_null(crdt_registry_find(reg, 999));
    ck_assert_ptr_null(crdt_registry_find_name(reg, "nope"));
    ck_assert_ptr_eq(crdt_registry_entry(reg, 0), crdt_vclock_type());
    ck_assert_ptr_null(crdt_registry_entry(reg, n));
    /* a second add_builtins collides on every tag: all or nothing */
    ck_assert_int_eq(crdt_registry_add_builtins(reg), CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(crdt_registry_size(reg), n);
    ck_assert_int_eq(crdt_registry_add(reg, &maxreg_type), CRDT_OK);
    ck_assert_ptr_eq(crdt_registry_find(reg, TAG_MAXREG), &maxreg_type);
    dup.tag = TAG_MAXREG + 1; /* same name, new tag */
    ck_assert_int_eq(crdt_registry_add(reg, &dup), CRDT_ERR_INVALID_ARG);
    dup = maxreg_type;
    dup.name = "other"; /* same tag, new name */
    ck_assert_int_eq(crdt_registry_add(reg, &dup), CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(crdt_registry_size(reg), n + 1);
    ck_assert_int_eq(crdt_registry_add(NULL, &maxreg_type),
                     CRDT_ERR_INVALID_ARG);
    crdt_registry_free(reg);
    crdt_registry_free(NULL);
}
END_TEST

START_TEST(test_type_registry_user_type)
{
    crdt_registry *reg = crdt_registry_new(NULL);
    const crdt_type *got = NULL;
    void *a = maxreg_type.create(NULL), *obj = NULL;
    crdt_buf buf;
    crdt_decode_info info;

    ck_assert_int_eq(crdt_registry_add(reg, &maxreg_type), CRDT_OK);
    ((maxreg *)a)->v = 42;
    crdt_buf_init(&buf, NULL);
    ck_assert_int_eq(maxreg_type.encode(a, &buf), CRDT_OK);
    ck_assert_int_eq(crdt_registry_decode(reg, buf.data, buf.len, NULL, NULL,
                                          &got, &obj, &info),
                     CRDT_OK);
    ck_assert_ptr_eq(got, &maxreg_type);
    ck_assert_uint_eq(((maxreg *)obj)->v, 42);
    got->destroy(obj);
    /* a built-in encoding is an unknown type to this registry */
    {
        crdt_vclock *vc = crdt_vclock_new(NULL);

        crdt_buf_reset(&buf);
        ck_assert_int_eq(crdt_vclock_encode(vc, &buf), CRDT_OK);
        obj = NULL;
        ck_assert_int_eq(crdt_registry_decode(reg, buf.data, buf.len, NULL,
                                              NULL, &got, &obj, &info),
                         CRDT_ERR_TYPE);
        ck_assert_ptr_null(obj);
        ck_assert_int_eq(info.code, CRDT_ERR_TYPE);
        ck_assert_uint_eq(info.offset, 2);
        crdt_vclock_free(vc);
    }
    /* a broken envelope reports where */
    {
        const uint8_t badver[] = {0x93, 0x07, 0x03, 0x80};

        ck_assert_int_eq(crdt_registry_decode(reg, badver, sizeof badver,
                                              NULL, NULL, &got, &obj, &info),
                         CRDT_ERR_VERSION);
        ck_assert_uint_eq(info.offset, 1);
    }
    crdt_buf_clear(&buf);
    maxreg_type.destroy(a);
    crdt_registry_free(reg);
}
END_TEST

/* The update function of the map test: raise the maxreg to *user_data. */
static int mr_raise(void *value, void *value_delta, void *user_data)
{
    uint64_t v = *(const uint64_t *)user_data;

    ((maxreg *)value)->v = v;
    ((maxreg *)value_delta)->v = v;
    return CRDT_OK;
}

static int put_sub(void *value, void *value_delta, void *user_data)
{
    return crdt_ormap_update(value, 2, "in", 2, &maxreg_type, mr_raise,
                             user_data, value_delta);
}

/* A map made by crdt_registry_create holds a user type, at the top level
 * and nested; crdt_registry_decode reads it back; a map made by the
 * descriptor's own create knows only the built-in types. */
START_TEST(test_type_registry_user_type_in_map)
{
    crdt_registry *reg = crdt_registry_new(NULL);
    const crdt_type *got = NULL, *vt;
    const void *val;
    crdt_ormap *m, *other, *plain;
    crdt_decode_info info;
    void *obj = NULL;
    uint64_t v = 7, w = 9;
    crdt_buf buf;

    ck_assert_int_eq(crdt_registry_add_builtins(reg), CRDT_OK);
    ck_assert_int_eq(crdt_registry_add(reg, &maxreg_type), CRDT_OK);
    ck_assert_ptr_null(crdt_registry_create(NULL, &maxreg_type, NULL));
    ck_assert_ptr_null(crdt_registry_create(reg, NULL, NULL));
    m = crdt_registry_create(reg, crdt_ormap_type(), NULL);
    other = crdt_registry_create(reg, crdt_ormap_type(), NULL);
    ck_assert(m && other);
    ck_assert_int_eq(crdt_ormap_update(m, 1, "k", 1, &maxreg_type, mr_raise,
                                       &v, NULL),
                     CRDT_OK);
    ck_assert_int_eq(crdt_ormap_update(m, 1, "sub", 3, crdt_ormap_type(),
                                       put_sub, &w, NULL),
                     CRDT_OK);
    crdt_buf_init(&buf, NULL);
    ck_assert_int_eq(crdt_ormap_encode(m, &buf), CRDT_OK);
    ck_assert_int_eq(crdt_registry_decode(reg, buf.data, buf.len, NULL, NULL,
                                          &got, &obj, &info),
                     CRDT_OK);
    ck_assert_ptr_eq(got, crdt_ormap_type());
    ck_assert(crdt_ormap_equal(obj, m));
    ck_assert_int_eq(crdt_ormap_get(obj, "k", 1, &vt, &val), CRDT_OK);
    ck_assert_ptr_eq(vt, &maxreg_type);
    ck_assert_uint_eq(((const maxreg *)val)->v, 7);
    /* merge of a decoded map into another registry-made map */
    ck_assert_int_eq(crdt_ormap_merge(other, obj), CRDT_OK);
    ck_assert(crdt_ormap_equal(other, m));
    got->destroy(obj);
    /* the descriptor's create: built-ins only */
    plain = crdt_ormap_type()->create(NULL);
    ck_assert_ptr_nonnull(plain);
    ck_assert_int_eq(crdt_ormap_decode(plain, buf.data, buf.len, NULL,
                                       &info),
                     CRDT_ERR_TYPE);
    ck_assert_uint_eq(crdt_ormap_size(plain), 0);
    crdt_ormap_type()->destroy(plain);
    crdt_buf_clear(&buf);
    crdt_ormap_free(m);
    crdt_ormap_free(other);
    crdt_registry_free(reg);
}
END_TEST

/* The maxreg of key "k" in m, or UINT64_MAX if absent. */
static uint64_t mr_get(const crdt_ormap *m)
{
    const void *val;

    if (crdt_ormap_get(m, "k", 1, NULL, &val) != CRDT_OK)
        return UINT64_MAX;
    return ((const maxreg *)val)->v;
}

static bool has_bytes(const crdt_buf *b, const char *p, size_t n)
{
    size_t i;

    for (i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, p, n) == 0)
            return true;
    return false;
}

static void mr_valid(const crdt_ormap *m)
{
    const char *why = tt_find("ormap")->invalid(m);

    ck_assert_msg(why == NULL, "ormap invariant broken: %s", why);
}

/* A user type is a plain value: the map holds one slot per updating
 * actor, a concurrent update survives a remove with its actor's slot,
 * and a remove resets the key. */
START_TEST(test_type_registry_user_type_slots)
{
    crdt_registry *reg = crdt_registry_new(NULL);
    crdt_ormap *m, *c, *d;
    uint64_t v7 = 7, v9 = 9, v3 = 3, v4 = 4;
    crdt_buf buf;

    ck_assert_int_eq(crdt_registry_add_builtins(reg), CRDT_OK);
    ck_assert_int_eq(crdt_registry_add(reg, &maxreg_type), CRDT_OK);
    m = crdt_registry_create(reg, crdt_ormap_type(), NULL);
    d = crdt_registry_create(reg, crdt_ormap_type(), NULL);
    ck_assert(m && d);
    ck_assert_int_eq(crdt_ormap_update(m, 1, "k", 1, &maxreg_type, mr_raise,
                                       &v7, NULL),
                     CRDT_OK);
    c = crdt_ormap_clone(m);
    ck_assert_ptr_nonnull(c);
    /* actor 2 raises to 9 while actor 1's replica removes the key */
    ck_assert_int_eq(crdt_ormap_update(c, 2, "k", 1, &maxreg_type, mr_raise,
                                       &v9, d),
                     CRDT_OK);
    ck_assert_uint_eq(mr_get(c), 9);
    mr_valid(c);
    ck_assert_int_eq(crdt_ormap_remove(m, "k", 1, NULL), CRDT_OK);
    ck_assert_uint_eq(mr_get(m), UINT64_MAX);
    ck_assert_int_eq(crdt_ormap_merge(m, d), CRDT_OK);
    ck_assert_uint_eq(mr_get(m), 9);
    mr_valid(m);
    /* two slots: actor 1 writes 4 next to actor 2's 9; the value is
     * their join, and each slot is encoded */
    ck_assert_int_eq(crdt_ormap_update(m, 1, "k", 1, &maxreg_type, mr_raise,
                                       &v4, NULL),
                     CRDT_OK);
    ck_assert_uint_eq(mr_get(m), 9);
    mr_valid(m);
    crdt_buf_init(&buf, NULL);
    ck_assert_int_eq(crdt_ormap_encode(m, &buf), CRDT_OK);
    ck_assert(has_bytes(&buf, "\x93\x01\xcd\x04\x00\x04", 6));
    ck_assert(has_bytes(&buf, "\x93\x01\xcd\x04\x00\x09", 6));
    crdt_buf_clear(&buf);
    /* a remove resets: the re-added key holds only the new write */
    ck_assert_int_eq(crdt_ormap_remove(m, "k", 1, NULL), CRDT_OK);
    ck_assert_int_eq(crdt_ormap_update(m, 1, "k", 1, &maxreg_type, mr_raise,
                                       &v3, NULL),
                     CRDT_OK);
    ck_assert_uint_eq(mr_get(m), 3);
    ck_assert_int_eq(crdt_ormap_merge(c, m), CRDT_OK);
    ck_assert_uint_eq(mr_get(c), 3);
    ck_assert(crdt_ormap_equal(c, m));
    mr_valid(c);
    crdt_ormap_free(m);
    crdt_ormap_free(c);
    crdt_ormap_free(d);
    crdt_registry_free(reg);
}
END_TEST

START_TEST(test_type_nomem_registry)
{
    tu_mem tm;
    long n;
    crdt_buf enc;
    crdt_pncounter *pn = crdt_pncounter_new(NULL);

    ck_assert_int_eq(crdt_pncounter_decrement(pn, 3, 9, NULL), CRDT_OK);
    crdt_buf_init(&enc, NULL);
    ck_assert_int_eq(crdt_pncounter_encode(pn, &enc), CRDT_OK);
    tu_mem_init(&tm);
    for (n = 0;; n++) {
        crdt_registry *reg;
        const crdt_type *got = NULL;
        void *obj = NULL;
        int rv = CRDT_ERR_NOMEM;

        tu_mem_fail_at(&tm, n);
        reg = crdt_registry_new(&tm.mem);
        if (reg) {
            rv = crdt_registry_add_builtins(reg);
            if (rv == CRDT_OK)
                rv = crdt_registry_decode(reg, enc.data, enc.len, NULL,
                                          &tm.mem, &got, &obj, NULL);
            else
                ck_assert_uint_eq(crdt_registry_size(reg), 0);
        }
        tu_mem_off(&tm);
        if (rv == CRDT_OK) {
            ck_assert(got->equal(obj, pn));
            got->destroy(obj);
        } else {
            ck_assert_int_eq(rv, CRDT_ERR_NOMEM);
            ck_assert_ptr_null(obj);
        }
        crdt_registry_free(reg);
        ck_assert_int_eq(tm.live, 0);
        if (rv == CRDT_OK)
            break;
    }
    ck_assert_int_gt(n, 2);
    crdt_buf_clear(&enc);
    crdt_pncounter_free(pn);
}
END_TEST

/*
 * The types without dots, under shared actor ids: replicas that mutate
 * as one actor from one state make entries that differ under one actor
 * (two counts, two writes with one timestamp).  Their merges resolve
 * those without regard to the order (the larger count, the union, LWW's
 * total order of (timestamp, actor, value bytes)), so the join laws hold
 * with identical bytes both ways.
 */
static const crdt_type *(*const nodot_types[])(void) = {
    crdt_gcounter_type, crdt_pncounter_type, crdt_vclock_type,
    crdt_dotctx_type,   crdt_gset_type,      crdt_lww_type,
};

/* A mutation of obj (of type t) by actor a (1 or 2) with a random amount
 * or value from a small space. */
static int nodot_op(const crdt_type *t, void *obj, tu_rng *rng,
                    crdt_actor a)
{
    static const char *const vals[] = {"", "x", "y", "xy", "a value longer"
                                                          " than sixteen"};
    const char *v = vals[tu_below(rng, 5)];
    uint64_t n = 1 + tu_below(rng, 3);

    switch (t->tag) {
    case CRDT_TAG_GCOUNTER:
        return crdt_gcounter_increment(obj, a, n, NULL);
    case CRDT_TAG_PNCOUNTER:
        return tu_below(rng, 2) ? crdt_pncounter_increment(obj, a, n, NULL)
                                : crdt_pncounter_decrement(obj, a, n, NULL);
    case CRDT_TAG_VCLOCK:
        return crdt_vclock_increment(obj, a, NULL);
    case CRDT_TAG_DOTCTX: {
        crdt_dot d;

        d.actor = a;
        d.counter = n + tu_below(rng, 4); /* gaps: cloud dots */
        return crdt_dotctx_add(obj, d);
    }
    case CRDT_TAG_GSET:
        return crdt_gset_add(obj, v, strlen(v), NULL);
    default: /* lww: timestamps 1..3, so writes tie on (timestamp, actor) */
        return crdt_lww_set(obj, n, a, v, strlen(v), NULL);
    }
}

static void *nodot_merged(const crdt_type *t, const void *a, const void *b)
{
    void *r = t->create(NULL);

    tu_expect(r != NULL, "create");
    tu_must(t->copy(r, a), "copy");
    tu_must(t->merge(r, b), "merge");
    return r;
}

static bool nodot_same_bytes(const crdt_type *t, const void *a,
                             const void *b)
{
    crdt_buf x, y;
    bool same;

    crdt_buf_init(&x, NULL);
    crdt_buf_init(&y, NULL);
    tu_must(t->encode(a, &x), "encode");
    tu_must(t->encode(b, &y), "encode");
    same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    crdt_buf_clear(&x);
    crdt_buf_clear(&y);
    return same;
}

START_TEST(test_type_builtin_shared_actors)
{
    const crdt_type *t = nodot_types[_i]();
    tu_rng rng;
    long n = tu_cases(10000), k;

    tu_rng_init(&rng, tu_seed("type") ^ (uint64_t)(_i + 1));
    for (k = 0; k < n; k++) {
        void *base = t->create(NULL), *r[3], *ab, *ba, *ab_c, *bc, *a_bc;
        void *aa, *abb, *dec = t->create(NULL);
        crdt_buf e;
        int i, j;

        for (i = (int)tu_below(&rng, 3); i > 0; i--)
            tu_must_k(nodot_op(t, base, &rng, 1 + tu_below(&rng, 2)), "op",
                      k);
        for (i = 0; i < 3; i++) {
            r[i] = nodot_merged(t, base, base);
            for (j = (int)tu_below(&rng, 4); j > 0; j--)
                tu_must_k(nodot_op(t, r[i], &rng, 1 + tu_below(&rng, 2)),
                          "op", k);
        }
        ab = nodot_merged(t, r[0], r[1]);
        ba = nodot_merged(t, r[1], r[0]);
        ab_c = nodot_merged(t, ab, r[2]);
        bc = nodot_merged(t, r[1], r[2]);
        a_bc = nodot_merged(t, r[0], bc);
        aa = nodot_merged(t, r[0], r[0]);
        abb = nodot_merged(t, ab, r[1]);
        tu_expect_k(t->equal(ab, ba) && nodot_same_bytes(t, ab, ba),
                    "not commutative", k);
        tu_expect_k(t->equal(ab_c, a_bc) && nodot_same_bytes(t, ab_c, a_bc),
                    "not associative", k);
        tu_expect_k(t->equal(aa, r[0]), "not idempotent", k);
        tu_expect_k(t->equal(abb, ab), "not absorbing", k);
        crdt_buf_init(&e, NULL);
        tu_must_k(t->encode(ab_c, &e), "encode", k);
        tu_must_k(t->decode(dec, e.data, e.len, NULL, NULL), "decode", k);
        tu_expect_k(t->equal(dec, ab_c) && nodot_same_bytes(t, dec, ab_c),
                    "round trip", k);
        crdt_buf_clear(&e);
        for (i = 0; i < 3; i++)
            t->destroy(r[i]);
        t->destroy(base);
        t->destroy(ab);
        t->destroy(ba);
        t->destroy(ab_c);
        t->destroy(bc);
        t->destroy(a_bc);
        t->destroy(aa);
        t->destroy(abb);
        t->destroy(dec);
    }
}
END_TEST

static Suite *type_suite(void)
{
    Suite *s = suite_create("type");
    TCase *tc;

    tc = tcase_create("builtin");
    tcase_add_test(tc, test_type_builtin_descriptors);
    tcase_add_test(tc, test_type_builtin_generic_use);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_type_builtin_shared_actors, 0,
                        (int)(sizeof nodot_types / sizeof nodot_types[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("registry");
    tcase_add_test(tc, test_type_registry_add_find);
    tcase_add_test(tc, test_type_registry_user_type);
    tcase_add_test(tc, test_type_registry_user_type_in_map);
    tcase_add_test(tc, test_type_registry_user_type_slots);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_add_test(tc, test_type_nomem_registry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(type_suite());
    int failed;

    tu_seed("type"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
