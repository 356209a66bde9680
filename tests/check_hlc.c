/* SPDX-License-Identifier: MIT */
/*
 * Hybrid logical clock suite: timestamp packing, local events under a wall
 * clock that stalls, steps back and jumps, counter rollover, receive events
 * (the paper's cases), the drift bound, codec (exact bytes, hostile input),
 * a property test of random message exchanges between three clocks against
 * a vector-clock model of happened-before, and allocation failures.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crdt/hlc.h>

#include "testutil.h"

/* A wall clock the test moves by hand. */
typedef struct fake_wall {
    uint64_t ms;
    long calls;
} fake_wall;

static uint64_t fake_ms(void *ud)
{
    fake_wall *w = ud;

    w->calls++;
    return w->ms;
}

static crdt_hlc *mk(fake_wall *w, uint64_t drift, const crdt_mem *mem)
{
    crdt_hlc_settings s;
    crdt_hlc *h;

    crdt_hlc_settings_default(&s);
    s.wall_ms = fake_ms;
    s.user_data = w;
    s.max_drift_ms = drift;
    h = crdt_hlc_new(&s, mem);
    ck_assert_ptr_nonnull(h);
    return h;
}

static uint64_t now(crdt_hlc *h)
{
    uint64_t ts = 0;

    ck_assert_int_eq(crdt_hlc_now(h, &ts), CRDT_OK);
    ck_assert_uint_eq(ts, crdt_hlc_last(h));
    return ts;
}

static uint64_t update(crdt_hlc *h, uint64_t remote)
{
    uint64_t ts = 0;

    ck_assert_int_eq(crdt_hlc_update(h, remote, &ts), CRDT_OK);
    ck_assert_uint_eq(ts, crdt_hlc_last(h));
    return ts;
}

/* Restores a clock's last timestamp through the codec, from hand-made
 * canonical bytes [1, 6, last]. */
static void restore(crdt_hlc *h, uint64_t last)
{
    uint8_t b[12] = {0x93, 0x01, 0x06};
    size_t n = 3, k, i;

    if (last < 0x80) {
        b[n++] = (uint8_t)last;
    } else {
        k = last <= 0xff ? 1 : last <= 0xffff ? 2 : last <= 0xffffffffu ? 4 : 8;
        b[n++] = k == 1 ? 0xcc : k == 2 ? 0xcd : k == 4 ? 0xce : 0xcf;
        for (i = 0; i < k; i++)
            b[n++] = (uint8_t)(last >> (8 * (k - 1 - i)));
    }
    ck_assert_int_eq(crdt_hlc_decode(h, b, n, NULL, NULL), CRDT_OK);
    ck_assert_uint_eq(crdt_hlc_last(h), last);
}

/* ---------------------------------------------------------------- basic */

START_TEST(test_hlc_basic_pack)
{
    uint64_t ts = crdt_hlc_pack(1700000000123u, 42);

    ck_assert_uint_eq(ts, ((uint64_t)1700000000123u << 16) | 42);
    ck_assert_uint_eq(crdt_hlc_ms(ts), 1700000000123u);
    ck_assert_uint_eq(crdt_hlc_logical(ts), 42);
    ck_assert_uint_eq(crdt_hlc_pack(CRDT_HLC_MS_MAX, 0xffff), UINT64_MAX);
    ck_assert_uint_eq(crdt_hlc_ms(UINT64_MAX), CRDT_HLC_MS_MAX);
    ck_assert_uint_eq(crdt_hlc_logical(UINT64_MAX), CRDT_HLC_LOGICAL_MAX);
    /* bits above the 48th are discarded */
    ck_assert_uint_eq(crdt_hlc_pack(CRDT_HLC_MS_MAX + 2, 0),
                      crdt_hlc_pack(1, 0));
    /* integer order is (ms, logical) order */
    ck_assert_uint_lt(crdt_hlc_pack(5, 0xffff), crdt_hlc_pack(6, 0));
    ck_assert_uint_eq(CRDT_HLC_MS_MAX, 0xffffffffffffu);
}
END_TEST

START_TEST(test_hlc_basic_new)
{
    crdt_hlc_settings s;
    crdt_hlc *h;
    uint64_t ts, t0 = (uint64_t)time(NULL) * 1000u;

    crdt_hlc_settings_default(&s);
    ck_assert_uint_eq(s.version, CRDT_HLC_SETTINGS_VERSION);
    ck_assert_ptr_nonnull(s.wall_ms);
    ck_assert_ptr_null(s.user_data);
    ck_assert_uint_eq(s.max_drift_ms, CRDT_HLC_DEFAULT_MAX_DRIFT_MS);
    crdt_hlc_settings_default(NULL);
    /* the default wall clock is real time, in ms */
    ck_assert_uint_ge(s.wall_ms(NULL), t0);
    ck_assert_uint_lt(s.wall_ms(NULL), t0 + 10000u);

    h = crdt_hlc_new(NULL, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(crdt_hlc_last(h), 0);
    ts = now(h);
    ck_assert_uint_ge(crdt_hlc_ms(ts), t0);
    ck_assert_uint_lt(crdt_hlc_ms(ts), t0 + 10000u);
    ck_assert_uint_gt(now(h), ts);
    crdt_hlc_free(h);

    /* NULL wall_ms means the system clock too */
    s.wall_ms = NULL;
    h = crdt_hlc_new(&s, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_ge(crdt_hlc_ms(now(h)), t0);
    crdt_hlc_free(h);

    s.version = CRDT_HLC_SETTINGS_VERSION + 1;
    ck_assert_ptr_null(crdt_hlc_new(&s, NULL));
    crdt_hlc_free(NULL);
    ck_assert_uint_eq(crdt_hlc_last(NULL), 0);
    ck_assert_int_eq(crdt_hlc_now(NULL, &ts), CRDT_ERR_INVALID_ARG);
    h = crdt_hlc_new(NULL, NULL);
    ck_assert_int_eq(crdt_hlc_now(h, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_hlc_update(h, 1, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_hlc_update(NULL, 1, &ts), CRDT_ERR_INVALID_ARG);
    ck_assert_uint_eq(crdt_hlc_last(h), 0);
    crdt_hlc_free(h);
}
END_TEST

START_TEST(test_hlc_basic_wall_moves)
{
    fake_wall w = {1000, 0};
    crdt_hlc *h = mk(&w, 0, NULL);

    /* first event: (pt, 0) */
    ck_assert_uint_eq(now(h), crdt_hlc_pack(1000, 0));
    ck_assert_int_eq(w.calls, 1);
    /* stalled wall: the counter ticks */
    ck_assert_uint_eq(now(h), crdt_hlc_pack(1000, 1));
    ck_assert_uint_eq(now(h), crdt_hlc_pack(1000, 2));
    /* wall moves forward: counter resets */
    w.ms = 1001;
    ck_assert_uint_eq(now(h), crdt_hlc_pack(1001, 0));
    /* wall steps backwards: l holds, the counter ticks */
    w.ms = 500;
    ck_assert_uint_eq(now(h), crdt_hlc_pack(1001, 1));
    ck_assert_uint_eq(now(h), crdt_hlc_pack(1001, 2));
    /* back to where it was: still l, counter */
    w.ms = 1001;
    ck_assert_uint_eq(now(h), crdt_hlc_pack(1001, 3));
    /* a jump forward */
    w.ms = 9000000;
    ck_assert_uint_eq(now(h), crdt_hlc_pack(9000000, 0));
    /* a wall clock of 0 (unreadable) */
    w.ms = 0;
    ck_assert_uint_eq(now(h), crdt_hlc_pack(9000000, 1));
    crdt_hlc_free(h);

    /* a fresh clock whose wall reads 0 still never issues 0 */
    h = mk(&w, 0, NULL);
    ck_assert_uint_eq(now(h), 1);
    crdt_hlc_free(h);
}
END_TEST

START_TEST(test_hlc_basic_rollover)
{
    fake_wall w = {77, 0};
    crdt_hlc *h = mk(&w, 0, NULL);
    uint64_t prev = 0, ts;
    long i;

    for (i = 0; i <= 0xffff; i++) {
        tu_expect_k(crdt_hlc_now(h, &ts) == CRDT_OK && ts > prev &&
                 crdt_hlc_ms(ts) == 77 && crdt_hlc_logical(ts) == i,
             "counter does not count within one ms", i);
        prev = ts;
    }
    /* counter exhausted: l advances by one ms, counter resets */
    ck_assert_uint_eq(now(h), crdt_hlc_pack(78, 0));
    ck_assert_uint_eq(now(h), crdt_hlc_pack(78, 1));
    /* the wall catches up with the advanced l */
    w.ms = 78;
    ck_assert_uint_eq(now(h), crdt_hlc_pack(78, 2));
    w.ms = 79;
    ck_assert_uint_eq(now(h), crdt_hlc_pack(79, 0));
    /* rollover through update, from a restored state */
    restore(h, crdt_hlc_pack(500, 0xfffe));
    w.ms = 10;
    ck_assert_uint_eq(update(h, crdt_hlc_pack(500, 0xffff)),
                      crdt_hlc_pack(501, 0));
    crdt_hlc_free(h);
}
END_TEST

START_TEST(test_hlc_basic_overflow)
{
    fake_wall w = {CRDT_HLC_MS_MAX + 1, 0};
    crdt_hlc *h = mk(&w, 0, NULL);
    uint64_t ts = 123;

    /* physical time beyond 48 bits */
    ck_assert_int_eq(crdt_hlc_now(h, &ts), CRDT_ERR_OVERFLOW);
    ck_assert_int_eq(crdt_hlc_update(h, 5, &ts), CRDT_ERR_OVERFLOW);
    ck_assert_uint_eq(ts, 123);
    ck_assert_uint_eq(crdt_hlc_last(h), 0);
    /* the largest physical time is fine */
    w.ms = CRDT_HLC_MS_MAX;
    ck_assert_uint_eq(now(h), crdt_hlc_pack(CRDT_HLC_MS_MAX, 0));
    /* the last timestamp cannot be exceeded */
    restore(h, UINT64_MAX - 1);
    ck_assert_uint_eq(now(h), UINT64_MAX);
    ck_assert_int_eq(crdt_hlc_now(h, &ts), CRDT_ERR_OVERFLOW);
    ck_assert_int_eq(crdt_hlc_update(h, 0, &ts), CRDT_ERR_OVERFLOW);
    ck_assert_uint_eq(ts, 123);
    ck_assert_uint_eq(crdt_hlc_last(h), UINT64_MAX);
    /* nor can a remote one */
    restore(h, 0);
    ck_assert_int_eq(crdt_hlc_update(h, UINT64_MAX, &ts), CRDT_ERR_OVERFLOW);
    ck_assert_uint_eq(crdt_hlc_last(h), 0);
    ck_assert_uint_eq(update(h, UINT64_MAX - 1), UINT64_MAX);
    crdt_hlc_free(h);
}
END_TEST

/* --------------------------------------------------------------- update */

START_TEST(test_hlc_update_cases)
{
    fake_wall w = {1000, 0};
    crdt_hlc *h = mk(&w, 0, NULL);

    ck_assert_uint_eq(now(h), crdt_hlc_pack(1000, 0));
    now(h); /* (1000, 1) */
    /* remote behind local (and behind pt): l' == l, c + 1 */
    ck_assert_uint_eq(update(h, crdt_hlc_pack(900, 50)),
                      crdt_hlc_pack(1000, 2));
    /* remote equal to local: l' == l == lm, max(c, cm) + 1 */
    ck_assert_uint_eq(update(h, crdt_hlc_pack(1000, 2)),
                      crdt_hlc_pack(1000, 3));
    /* same l, remote counter larger */
    ck_assert_uint_eq(update(h, crdt_hlc_pack(1000, 9)),
                      crdt_hlc_pack(1000, 10));
    /* same l, remote counter smaller */
    ck_assert_uint_eq(update(h, crdt_hlc_pack(1000, 4)),
                      crdt_hlc_pack(1000, 11));
    /* remote ahead of local and of pt: l' == lm, cm + 1 */
    ck_assert_uint_eq(update(h, crdt_hlc_pack(1200, 7)),
                      crdt_hlc_pack(1200, 8));
    /* wall ahead of both: (pt, 0) */
    w.ms = 1500;
    ck_assert_uint_eq(update(h, crdt_hlc_pack(1400, 3)),
                      crdt_hlc_pack(1500, 0));
    /* wall equals remote's l, local behind: l' == lm == pt, cm + 1 */
    w.ms = 1600;
    ck_assert_uint_eq(update(h, crdt_hlc_pack(1600, 5)),
                      crdt_hlc_pack(1600, 6));
    /* wall equals local's l, remote behind: c + 1 */
    ck_assert_uint_eq(update(h, crdt_hlc_pack(1, 1)),
                      crdt_hlc_pack(1600, 7));
    /* remote ahead while the wall went backwards */
    w.ms = 10;
    ck_assert_uint_eq(update(h, crdt_hlc_pack(1700, 0)),
                      crdt_hlc_pack(1700, 1));
    /* a send after a receive continues from it */
    ck_assert_uint_eq(now(h), crdt_hlc_pack(1700, 2));
    ck_assert_int_eq(w.calls, 12);
    crdt_hlc_free(h);
}
END_TEST

START_TEST(test_hlc_update_drift)
{
    fake_wall w = {100000, 0};
    crdt_hlc *h = mk(&w, 1000, NULL), *u;
    uint64_t ts = 9, before;

    before = now(h);
    /* exactly at the bound: accepted */
    ck_assert_uint_eq(update(h, crdt_hlc_pack(101000, 0xffff)),
                      crdt_hlc_pack(101001, 0));
    before = crdt_hlc_last(h);
    /* one ms past the bound: rejected, clock and ts untouched */
    ck_assert_int_eq(crdt_hlc_update(h, crdt_hlc_pack(101001, 0), &ts),
                     CRDT_ERR_CLOCK_DRIFT);
    ck_assert_uint_eq(ts, 9);
    ck_assert_uint_eq(crdt_hlc_last(h), before);
    ck_assert_int_eq(crdt_hlc_update(h, UINT64_MAX, &ts),
                     CRDT_ERR_CLOCK_DRIFT);
    ck_assert_uint_eq(crdt_hlc_last(h), before);
    ck_assert_uint_eq(ts, 9);
    /* the bound follows the wall clock, not the clock's own l */
    w.ms = 101001;
    ck_assert_uint_eq(update(h, crdt_hlc_pack(102001, 0)),
                      crdt_hlc_pack(102001, 1));
    /* a remote far behind is never rejected */
    ck_assert_uint_eq(update(h, 1), crdt_hlc_pack(102001, 2));
    crdt_hlc_free(h);

    /* 0 = unbounded */
    u = mk(&w, 0, NULL);
    ck_assert_uint_eq(update(u, crdt_hlc_pack(CRDT_HLC_MS_MAX, 5)),
                      crdt_hlc_pack(CRDT_HLC_MS_MAX, 6));
    crdt_hlc_free(u);
    /* a bound so large that pt + bound overflows 48 bits: unbounded */
    u = mk(&w, UINT64_MAX, NULL);
    ck_assert_uint_eq(update(u, crdt_hlc_pack(CRDT_HLC_MS_MAX, 5)),
                      crdt_hlc_pack(CRDT_HLC_MS_MAX, 6));
    crdt_hlc_free(u);
    /* the default bound is one minute */
    u = mk(&w, CRDT_HLC_DEFAULT_MAX_DRIFT_MS, NULL);
    ck_assert_int_eq(crdt_hlc_update(u, crdt_hlc_pack(w.ms + 60001, 0), &ts),
                     CRDT_ERR_CLOCK_DRIFT);
    ck_assert_uint_eq(crdt_hlc_last(u), 0);
    ck_assert_uint_eq(update(u, crdt_hlc_pack(w.ms + 60000, 0)),
                      crdt_hlc_pack(w.ms + 60000, 1));
    crdt_hlc_free(u);
}
END_TEST

/* ---------------------------------------------------------------- codec */

static void encode(const crdt_hlc *h, crdt_buf *b)
{
    crdt_buf_init(b, NULL);
    ck_assert_int_eq(crdt_hlc_encode(h, b), CRDT_OK);
}

START_TEST(test_hlc_codec_bytes)
{
    const uint8_t fresh[] = {0x93, 0x01, 0x06, 0x00};
    /* [1, 6, pack(1, 0) = 0x10000] */
    const uint8_t one[] = {0x93, 0x01, 0x06, 0xce, 0x00, 0x01, 0x00, 0x00};
    /* [1, 6, pack(1700000000000, 3)] */
    const uint8_t big[] = {0x93, 0x01, 0x06, 0xcf, 0x01, 0x8b, 0xcf,
                           0xe5, 0x68, 0x00, 0x00, 0x03};
    fake_wall w = {1, 0};
    crdt_hlc *h = mk(&w, 0, NULL), *d = mk(&w, 0, NULL);
    crdt_buf b;
    uint8_t small[11], exact[sizeof big];
    crdt_buf fb;

    encode(h, &b);
    ck_assert_uint_eq(b.len, sizeof fresh);
    ck_assert_mem_eq(b.data, fresh, sizeof fresh);
    crdt_buf_clear(&b);
    now(h);
    encode(h, &b);
    ck_assert_uint_eq(b.len, sizeof one);
    ck_assert_mem_eq(b.data, one, sizeof one);
    crdt_buf_clear(&b);

    w.ms = 1700000000000u;
    now(h);
    now(h);
    now(h);
    now(h);
    ck_assert_uint_eq(crdt_hlc_last(h), crdt_hlc_pack(1700000000000u, 3));
    encode(h, &b);
    ck_assert_uint_eq(b.len, sizeof big);
    ck_assert_mem_eq(b.data, big, sizeof big);
    /* restore into a fresh clock: it continues after the saved state even
     * though its wall clock went backwards */
    w.ms = 5;
    ck_assert_int_eq(crdt_hlc_decode(d, b.data, b.len, NULL, NULL), CRDT_OK);
    ck_assert_uint_eq(crdt_hlc_last(d), crdt_hlc_last(h));
    ck_assert_uint_eq(now(d), crdt_hlc_pack(1700000000000u, 4));
    /* a fixed buffer one byte short: error, nothing written */
    crdt_buf_init_fixed(&fb, small, sizeof small);
    ck_assert_int_eq(crdt_hlc_encode(h, &fb), CRDT_ERR_BUFFER);
    ck_assert_uint_eq(fb.len, 0);
    crdt_buf_init_fixed(&fb, exact, sizeof exact);
    ck_assert_int_eq(crdt_hlc_encode(h, &fb), CRDT_OK);
    ck_assert_mem_eq(exact, big, sizeof big);
    ck_assert_int_eq(crdt_hlc_encode(NULL, &fb), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_hlc_encode(h, NULL), CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_hlc_decode(NULL, big, sizeof big, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    ck_assert_int_eq(crdt_hlc_decode(d, NULL, 3, NULL, NULL),
                     CRDT_ERR_INVALID_ARG);
    crdt_buf_clear(&b);
    crdt_hlc_free(h);
    crdt_hlc_free(d);
}
END_TEST

static void expect_reject(const uint8_t *in, size_t len, int code,
                          size_t offset)
{
    fake_wall w = {1, 0};
    crdt_hlc *d = mk(&w, 0, NULL);
    crdt_decode_info info = {0, 0};
    uint64_t before = now(d);

    ck_assert_int_eq(crdt_hlc_decode(d, in, len, NULL, &info), code);
    ck_assert_int_eq(info.code, code);
    ck_assert_uint_eq(info.offset, offset);
    ck_assert_uint_eq(crdt_hlc_last(d), before); /* untouched */
    crdt_hlc_free(d);
}

START_TEST(test_hlc_codec_reject)
{
    const uint8_t longint[] = {0x93, 0x01, 0x06, 0xcc, 0x05};
    const uint8_t longint2[] = {0x93, 0x01, 0x06, 0xcf, 0, 0, 0, 0,
                                0xff, 0xff, 0xff, 0xff};
    const uint8_t negative[] = {0x93, 0x01, 0x06, 0xff};
    const uint8_t str[] = {0x93, 0x01, 0x06, 0xa1, 0x31};
    const uint8_t badver[] = {0x93, 0x02, 0x06, 0x00};
    const uint8_t badtag[] = {0x93, 0x01, 0x05, 0x00};
    const uint8_t trailing[] = {0x93, 0x01, 0x06, 0x00, 0x00};
    const uint8_t nobody[] = {0x92, 0x01, 0x06};
    const uint8_t extra[] = {0x94, 0x01, 0x06, 0x00, 0x00};
    const uint8_t notarray[] = {0x81, 0x01, 0x06};
    const uint8_t longarray[] = {0xdc, 0x00, 0x03, 0x01, 0x06, 0x00};
    const uint8_t ok[] = {0x93, 0x01, 0x06, 0xcd, 0x01, 0x00};
    size_t cut;

    expect_reject(longint, sizeof longint, CRDT_ERR_DECODE, 3);
    expect_reject(longint2, sizeof longint2, CRDT_ERR_DECODE, 3);
    expect_reject(negative, sizeof negative, CRDT_ERR_DECODE, 3);
    expect_reject(str, sizeof str, CRDT_ERR_DECODE, 3);
    expect_reject(badver, sizeof badver, CRDT_ERR_VERSION, 1);
    expect_reject(badtag, sizeof badtag, CRDT_ERR_TYPE, 2);
    expect_reject(trailing, sizeof trailing, CRDT_ERR_DECODE, 4);
    expect_reject(nobody, sizeof nobody, CRDT_ERR_DECODE, 0);
    expect_reject(extra, sizeof extra, CRDT_ERR_DECODE, 0);
    expect_reject(notarray, sizeof notarray, CRDT_ERR_DECODE, 0);
    expect_reject(longarray, sizeof longarray, CRDT_ERR_DECODE, 0);
    expect_reject(NULL, 0, CRDT_ERR_DECODE, 0);
    /* every proper prefix of a valid encoding */
    for (cut = 0; cut < sizeof ok; cut++) {
        fake_wall w = {1, 0};
        crdt_hlc *d = mk(&w, 0, NULL);
        crdt_decode_info info = {99, 0};

        ck_assert_int_eq(crdt_hlc_decode(d, ok, cut, NULL, &info),
                         CRDT_ERR_DECODE);
        ck_assert_uint_le(info.offset, cut);
        ck_assert_uint_eq(crdt_hlc_last(d), 0);
        ck_assert_int_eq(crdt_hlc_decode(d, ok, sizeof ok, NULL, &info),
                         CRDT_OK);
        ck_assert_uint_eq(crdt_hlc_last(d), 256);
        crdt_hlc_free(d);
    }
}
END_TEST

/* ------------------------------------------------------------- property */

#define NCLOCKS 3
#define MAX_EVENTS 48
#define MAX_FLIGHT 8

typedef struct ev {
    uint64_t vc[NCLOCKS]; /* vector clock of the event: the model of hb */
    uint64_t ts;
} ev;

typedef struct msg {
    uint64_t vc[NCLOCKS];
    uint64_t ts;
    int from;
} msg;

/* e happened before f iff e.vc <= f.vc pointwise and e != f. */
static bool hb(const ev *e, const ev *f)
{
    int i;

    for (i = 0; i < NCLOCKS; i++)
        if (e->vc[i] > f->vc[i])
            return false;
    return memcmp(e->vc, f->vc, sizeof e->vc) != 0;
}

static void step_wall(tu_rng *r, fake_wall *w)
{
    switch (tu_below(r, 6)) {
    case 0: /* stall */
        break;
    case 1: /* backwards */
        w->ms -= tu_below(r, 50);
        break;
    case 2: /* jump */
        w->ms += tu_below(r, 3000);
        break;
    default: /* tick */
        w->ms += tu_below(r, 3);
        break;
    }
}

START_TEST(test_hlc_property_causality)
{
    static const uint64_t drifts[] = {0, 200, CRDT_HLC_DEFAULT_MAX_DRIFT_MS};
    tu_rng rng;
    long n = tu_cases(10000), k, rejected = 0, received = 0;

    tu_rng_init(&rng, tu_seed("hlc") ^ 0x1);
    for (k = 0; k < n; k++) {
        fake_wall w[NCLOCKS];
        crdt_hlc *h[NCLOCKS];
        uint64_t vc[NCLOCKS][NCLOCKS], last[NCLOCKS], max_wall = 0;
        uint64_t drift = drifts[tu_below(&rng, 3)];
        ev evs[MAX_EVENTS];
        msg fl[MAX_FLIGHT];
        size_t nev = 0, nfl = 0, e;
        int i;

        memset(vc, 0, sizeof vc);
        for (i = 0; i < NCLOCKS; i++) {
            /* skews of up to a few seconds around a common epoch */
            w[i].ms = 1700000000000u + tu_below(&rng, 4000);
            w[i].calls = 0;
            h[i] = mk(&w[i], drift, NULL);
            last[i] = 0;
        }
        while (nev < MAX_EVENTS) {
            ev *f = &evs[nev];
            uint64_t ts = 0;
            int rv;

            i = (int)tu_below(&rng, NCLOCKS);
            step_wall(&rng, &w[i]);
            if (w[i].ms > max_wall)
                max_wall = w[i].ms;
            if (nfl && tu_below(&rng, 2)) {
                /* receive a random message in flight (not one's own) */
                size_t m = tu_below(&rng, nfl);
                int j;

                if (fl[m].from == i)
                    continue;
                rv = crdt_hlc_update(h[i], fl[m].ts, &ts);
                if (rv == CRDT_ERR_CLOCK_DRIFT) {
                    tu_expect_k(drift != 0 &&
                             crdt_hlc_ms(fl[m].ts) > w[i].ms + drift,
                         "rejected a remote within the bound", k);
                    tu_expect_k(crdt_hlc_last(h[i]) == last[i],
                         "a rejected update changed the clock", k);
                    fl[m] = fl[--nfl]; /* dropped */
                    rejected++;
                    continue;
                }
                tu_expect_k(rv == CRDT_OK, "update failed", k);
                tu_expect_k(ts > fl[m].ts, "receive not after the send", k);
                for (j = 0; j < NCLOCKS; j++)
                    if (fl[m].vc[j] > vc[i][j])
                        vc[i][j] = fl[m].vc[j];
                fl[m] = fl[--nfl];
                received++;
            } else {
                /* local or send event */
                tu_expect_k(crdt_hlc_now(h[i], &ts) == CRDT_OK, "now failed", k);
            }
            vc[i][i]++;
            /* strictly monotonic per clock; never behind the wall; never
             * ahead of the largest wall reading (no rollover here) */
            tu_expect_k(ts > last[i], "not monotonic", k);
            tu_expect_k(ts == crdt_hlc_last(h[i]), "last is not the result", k);
            tu_expect_k(crdt_hlc_ms(ts) >= w[i].ms, "behind the wall clock", k);
            tu_expect_k(crdt_hlc_ms(ts) <= max_wall, "ahead of every wall", k);
            last[i] = ts;
            memcpy(f->vc, vc[i], sizeof f->vc);
            f->ts = ts;
            /* happened-before implies timestamp order */
            for (e = 0; e < nev; e++) {
                tu_expect_k(!hb(&evs[e], f) || evs[e].ts < f->ts,
                     "happened-before but not timestamp order", k);
                tu_expect_k(!hb(f, &evs[e]), "model: event before an earlier", k);
            }
            nev++;
            if (nfl < MAX_FLIGHT && tu_below(&rng, 2)) {
                memcpy(fl[nfl].vc, f->vc, sizeof f->vc);
                fl[nfl].ts = ts;
                fl[nfl].from = i;
                nfl++;
            }
        }
        for (i = 0; i < NCLOCKS; i++)
            crdt_hlc_free(h[i]);
    }
    /* the cases exercised both outcomes of receive */
    if (n >= 1000) {
        ck_assert_int_gt(received, n);
        ck_assert_int_gt(rejected, 0);
    }
}
END_TEST

/* ---------------------------------------------------------------- nomem */

START_TEST(test_hlc_nomem_new)
{
    tu_mem tm;
    long n;

    tu_mem_init(&tm);
    for (n = 0;; n++) {
        crdt_hlc *h;

        tu_mem_fail_at(&tm, n);
        h = crdt_hlc_new(NULL, &tm.mem);
        tu_mem_off(&tm);
        if (h) {
            ck_assert_int_gt(n, 0);
            ck_assert_uint_eq(crdt_hlc_last(h), 0);
            crdt_hlc_free(h);
        }
        ck_assert_int_eq(tm.live, 0);
        if (h)
            break;
    }
}
END_TEST

START_TEST(test_hlc_nomem_encode)
{
    fake_wall w = {1700000000000u, 0};
    tu_mem tm;
    long n;

    tu_mem_init(&tm);
    for (n = 0;; n++) {
        crdt_hlc *h = mk(&w, 0, &tm.mem), *d = mk(&w, 0, &tm.mem);
        crdt_buf b;
        uint64_t last = now(h);
        int rv, rv2 = CRDT_OK;

        crdt_buf_init(&b, &tm.mem);
        tu_mem_fail_at(&tm, n);
        rv = crdt_hlc_encode(h, &b);
        if (rv == CRDT_OK) /* decode never allocates */
            rv2 = crdt_hlc_decode(d, b.data, b.len, NULL, NULL);
        tu_mem_off(&tm);
        ck_assert_uint_eq(crdt_hlc_last(h), last);
        if (rv != CRDT_OK) {
            ck_assert_int_eq(rv, CRDT_ERR_NOMEM);
            ck_assert_uint_eq(b.len, 0);
        } else {
            ck_assert_int_eq(rv2, CRDT_OK);
            ck_assert_uint_eq(crdt_hlc_last(d), last);
        }
        crdt_buf_clear(&b);
        crdt_hlc_free(h);
        crdt_hlc_free(d);
        ck_assert_int_eq(tm.live, 0);
        if (rv == CRDT_OK)
            break;
    }
}
END_TEST

static Suite *hlc_suite(void)
{
    Suite *s = suite_create("hlc");
    TCase *tc;

    tc = tcase_create("basic");
    tcase_add_test(tc, test_hlc_basic_pack);
    tcase_add_test(tc, test_hlc_basic_new);
    tcase_add_test(tc, test_hlc_basic_wall_moves);
    tcase_add_test(tc, test_hlc_basic_rollover);
    tcase_add_test(tc, test_hlc_basic_overflow);
    suite_add_tcase(s, tc);
    tc = tcase_create("update");
    tcase_add_test(tc, test_hlc_update_cases);
    tcase_add_test(tc, test_hlc_update_drift);
    suite_add_tcase(s, tc);
    tc = tcase_create("codec");
    tcase_add_test(tc, test_hlc_codec_bytes);
    tcase_add_test(tc, test_hlc_codec_reject);
    suite_add_tcase(s, tc);
    tc = tcase_create("property");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_hlc_property_causality);
    suite_add_tcase(s, tc);
    tc = tcase_create("nomem");
    tcase_add_test(tc, test_hlc_nomem_new);
    tcase_add_test(tc, test_hlc_nomem_encode);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hlc_suite());
    int failed;

    tu_seed("hlc"); /* drawn once, before Check forks the tests */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
