/* SPDX-License-Identifier: MIT */
/*
 * Causal delivery queue (include/crdt/causal.h): messages stamped with
 * their sender's version vector wait until their causal past has been
 * delivered.  Tuned for the usual case of a few senders and a short
 * reordering window, with every cost bounded for hostile stamps.
 *
 * Representation:
 *   snd     the delivered clock D, as a sorted array of senders {actor,
 *           delivered, held}; an entry may count 0 delivered while it has
 *           held messages (it is inserted at push, so that pop never
 *           allocates), and goes when it has neither.
 *   msgs    one allocation each: the header and the payload; the stamp
 *           is a crdt_vclock of its own.  Every held message is on the
 *           arrival list (aprev/anext, oldest first) and on exactly one
 *           of: the ready FIFO (ready set) or the waiter list of the dot
 *           it waits for (cur.wactor, cur.wcounter).
 *   slots   open-addressing table keyed by dot (actor, counter), SipHash
 *           (crypto_shorthash) under a random per-queue key, linear
 *           probing, deletion by backward shift (no tombstones).  A slot
 *           holds the held message of its dot (owner) and the messages
 *           waiting for that dot to be delivered.  A slot is in use iff
 *           it has an owner or a waiter.  At most 2 per held message (its
 *           own dot, the dot it waits for), and push reserves room for
 *           that before it commits, so pop, drop, stamp and advance never
 *           grow the table.
 *
 * Waiting: a message from j with stamp V is deliverable iff D[j] ==
 * V[j] - 1 and V[k] <= D[k] for k != j.  check() walks V from cur.pos and
 * stops at the first unmet entry: the message then waits for dot (k,
 * V[k]) (or (j, V[j] - 1)), i.e. for D[k] to reach that counter.  D only
 * grows, so met entries stay met and the walk resumes where it stopped
 * when that dot is delivered (reached()).  D grows by one at a time in
 * pop and stamp, which call reached() for the new dot; advance jumps, and
 * re-examines every waiting message instead.
 *
 * Invariants: every held message's dot (sender, seq) has seq > D[sender];
 * ready messages are deliverable against D (at most one per sender); the
 * dots held are distinct.  Every mutation reserves what it needs first
 * and then commits in steps that cannot fail.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <crdt/causal.h>

#include "mem_internal.h"

#define MIN_SLOTS 16u

typedef struct msg msg;

/* How far the check of a stamp got: entries [0, pos) are met; a waiting
 * message waits for dot (wactor, wcounter), the entry at pos. */
typedef struct cursor {
    size_t pos;
    crdt_actor wactor;
    uint64_t wcounter;
} cursor;

typedef struct mlist {
    msg *head, *tail;
} mlist;

struct msg {
    msg *prev, *next;   /* ready FIFO, or the waiter list of cur's dot */
    msg *aprev, *anext; /* arrival list */
    crdt_vclock *stamp; /* a copy, on the queue's allocator */
    crdt_actor sender;
    uint64_t seq;       /* stamp[sender] */
    cursor cur;         /* where its check stopped */
    size_t size;        /* bytes counted: len + ENTRY_BYTES * entries */
    size_t len;
    bool ready;
    uint8_t data[];
};

typedef struct slot {
    crdt_actor actor;
    uint64_t counter;
    uint64_t hash;      /* of (actor, counter): home = hash & mask */
    msg *owner;         /* the held message of this dot, or NULL */
    mlist waiters;      /* waiting for this dot to be delivered */
} slot;

typedef struct sndent {
    crdt_actor actor;
    uint64_t delivered; /* D[actor] */
    size_t held;        /* held messages from actor */
} sndent;

struct crdt_causal_queue {
    crdt_mem mem;
    crdt_causal_settings set;
    uint8_t key[crypto_shorthash_KEYBYTES];
    sndent *snd;        /* ascending actor */
    size_t nsnd, capsnd;
    slot *slots;        /* nslots, a power of two, or NULL */
    size_t nslots;
    mlist ready;        /* deliverable, in the order they became so */
    msg *ahead, *atail; /* held, oldest first */
    msg *popped;        /* last popped, freed by the next mutating call */
    crdt_vclock *scratch; /* crdt_causal_queue_stamp's clock */
    size_t held, nready, bytes, ready_bytes;
    uint64_t accepted, delivered, duplicates, rejected, dropped;
};

enum { ST_READY, ST_WAIT, ST_OBSOLETE };

/* ======================================================================
 * Senders (the delivered clock)
 * ====================================================================== */

/* Index of a in snd, or where it would go, searching from lo (every
 * entry before lo is smaller than a): a few steps forward, then binary
 * search.  A stamp's actors ascend, so check() walks them with one
 * cursor, and stamps over the same actors as snd never branch-miss. */
static size_t snd_seek(const crdt_causal_queue *q, crdt_actor a, size_t lo,
                       bool *found)
{
    size_t hi = q->nsnd, k;

    for (k = 0; k < 4 && lo < hi && q->snd[lo].actor < a; k++)
        lo++;
    if (lo < hi && q->snd[lo].actor < a) {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;

            if (q->snd[mid].actor < a)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    *found = lo < q->nsnd && q->snd[lo].actor == a;
    return lo;
}

static size_t snd_find(const crdt_causal_queue *q, crdt_actor a, bool *found)
{
    return snd_seek(q, a, 0, found);
}

static uint64_t d_of(const crdt_causal_queue *q, crdt_actor a)
{
    bool found;
    size_t i = snd_find(q, a, &found);

    return found ? q->snd[i].delivered : 0;
}

static int snd_reserve(crdt_causal_queue *q, size_t n)
{
    size_t cap;
    sndent *p;

    if (n <= q->capsnd)
        return CRDT_OK;
    cap = crdtp_grow_cap(q->capsnd, n);
    p = crdtp_realloc_array(&q->mem, q->snd, cap, sizeof *p);
    if (!p)
        return CRDT_ERR_NOMEM;
    q->snd = p;
    q->capsnd = cap;
    return CRDT_OK;
}

/* The entry of a, inserted (with room reserved) if absent. */
static sndent *snd_get(crdt_causal_queue *q, crdt_actor a)
{
    bool found;
    size_t i = snd_find(q, a, &found);

    if (!found) {
        memmove(q->snd + i + 1, q->snd + i, (q->nsnd - i) * sizeof *q->snd);
        q->snd[i].actor = a;
        q->snd[i].delivered = 0;
        q->snd[i].held = 0;
        q->nsnd++;
    }
    return &q->snd[i];
}

/* One held message of a is gone; the entry goes if it is now empty. */
static void snd_unhold(crdt_causal_queue *q, crdt_actor a)
{
    bool found;
    size_t i = snd_find(q, a, &found);

    if (!found)
        return;
    q->snd[i].held--;
    if (q->snd[i].held == 0 && q->snd[i].delivered == 0) {
        memmove(q->snd + i, q->snd + i + 1,
                (q->nsnd - i - 1) * sizeof *q->snd);
        q->nsnd--;
    }
}

/* ======================================================================
 * Dot table
 * ====================================================================== */

static uint64_t dot_hash(const crdt_causal_queue *q, crdt_actor a,
                         uint64_t c)
{
    uint8_t in[16], out[crypto_shorthash_BYTES];
    uint64_t h;

    memcpy(in, &a, 8);
    memcpy(in + 8, &c, 8);
    crypto_shorthash(out, in, sizeof in, q->key);
    memcpy(&h, out, sizeof h);
    return h;
}

static bool slot_used(const slot *s)
{
    return s->owner || s->waiters.head;
}

/* Index of dot (a, c) with *found, or the free slot where it would go
 * (SIZE_MAX for a queue without a table). */
static size_t slot_find(const crdt_causal_queue *q, crdt_actor a, uint64_t c,
                        uint64_t h, bool *found)
{
    size_t mask, i;

    *found = false;
    if (!q->nslots)
        return SIZE_MAX;
    mask = q->nslots - 1;
    for (i = (size_t)h & mask;; i = (i + 1) & mask) {
        const slot *s = &q->slots[i];

        if (!slot_used(s))
            return i;
        if (s->actor == a && s->counter == c) {
            *found = true;
            return i;
        }
    }
}

/* The slot of (a, c) or NULL. */
static slot *slot_lookup(const crdt_causal_queue *q, crdt_actor a,
                         uint64_t c)
{
    bool found;
    size_t i;

    if (!q->nslots)
        return NULL;
    i = slot_find(q, a, c, dot_hash(q, a, c), &found);
    return found ? &q->slots[i] : NULL;
}

/* The slot of (a, c), claimed if absent; the table has room (reserved).
 * The caller gives it an owner or a waiter before the next lookup. */
static slot *slot_claim(crdt_causal_queue *q, crdt_actor a, uint64_t c)
{
    uint64_t h = dot_hash(q, a, c);
    bool found;
    size_t i = slot_find(q, a, c, h, &found);
    slot *s = &q->slots[i];

    if (!found) {
        memset(s, 0, sizeof *s);
        s->actor = a;
        s->counter = c;
        s->hash = h;
    }
    return s;
}

/* Deletes slot s if it is no longer used: backward shift of the probe run
 * after it, so no tombstones.  Moves other slots: pointers into the table
 * are dead afterwards. */
static void slot_release(crdt_causal_queue *q, slot *s)
{
    size_t mask = q->nslots - 1, i = (size_t)(s - q->slots), j = i;

    if (slot_used(s))
        return;
    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (!slot_used(&q->slots[j]))
            break;
        home = (size_t)q->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            q->slots[i] = q->slots[j];
            i = j;
        }
    }
    memset(&q->slots[i], 0, sizeof q->slots[i]);
}

/* Room for @p need slots in use at a load factor of at most 3/4. */
static int table_reserve(crdt_causal_queue *q, size_t need)
{
    size_t n = MIN_SLOTS, i;
    slot *t;

    if (q->nslots && need <= q->nslots / 4 * 3)
        return CRDT_OK;
    while (n / 4 * 3 < need) {
        if (n > SIZE_MAX / 2 / sizeof *t)
            return CRDT_ERR_NOMEM;
        n *= 2;
    }
    if (n <= q->nslots)
        return CRDT_OK;
    t = crdtp_malloc_array(&q->mem, n, sizeof *t);
    if (!t)
        return CRDT_ERR_NOMEM;
    memset(t, 0, n * sizeof *t);
    for (i = 0; i < q->nslots; i++) {
        const slot *s = &q->slots[i];
        size_t k;

        if (!slot_used(s))
            continue;
        for (k = (size_t)s->hash & (n - 1); slot_used(&t[k]);
             k = (k + 1) & (n - 1))
            ;
        t[k] = *s;
    }
    crdtp_free(&q->mem, q->slots);
    q->slots = t;
    q->nslots = n;
    return CRDT_OK;
}

/* ======================================================================
 * Lists and messages
 * ====================================================================== */

static void list_append(mlist *l, msg *m)
{
    m->next = NULL;
    m->prev = l->tail;
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
}

static void list_unlink(mlist *l, msg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        l->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        l->tail = m->prev;
    m->prev = m->next = NULL;
}

/* Takes m off the list of every held message, in arrival order, and out
 * of the held counts. */
static void unhold(crdt_causal_queue *q, msg *m)
{
    if (m->aprev)
        m->aprev->anext = m->anext;
    else
        q->ahead = m->anext;
    if (m->anext)
        m->anext->aprev = m->aprev;
    else
        q->atail = m->aprev;
    q->held--;
    q->bytes -= m->size;
}

static void msg_free(const crdt_causal_queue *q, msg *m)
{
    if (!m)
        return;
    crdt_vclock_free(m->stamp);
    crdtp_free(&q->mem, m);
}

static void free_popped(crdt_causal_queue *q)
{
    msg_free(q, q->popped);
    q->popped = NULL;
}

/*
 * Resumes the check of a message from @p sender stamped @p stamp against
 * D at c->pos: ST_READY (deliverable), ST_OBSOLETE (its own dot is
 * already delivered), or ST_WAIT with the dot it waits for in c.
 */
static int check(const crdt_causal_queue *q, const crdt_vclock *stamp,
                 crdt_actor sender, cursor *c)
{
    size_t n = crdt_vclock_size(stamp), j = 0;

    for (; c->pos < n; c->pos++) {
        crdt_actor a = 0;
        uint64_t v = 0, d;
        bool found;

        (void)crdt_vclock_entry(stamp, c->pos, &a, &v);
        j = snd_seek(q, a, j, &found);
        d = found ? q->snd[j].delivered : 0;
        if (a == sender) {
            if (d >= v)
                return ST_OBSOLETE;
            if (d < v - 1) {
                c->wactor = a;
                c->wcounter = v - 1;
                return ST_WAIT;
            }
        } else if (d < v) {
            c->wactor = a;
            c->wcounter = v;
            return ST_WAIT;
        }
    }
    return ST_READY;
}

static int recheck(const crdt_causal_queue *q, msg *m)
{
    return check(q, m->stamp, m->sender, &m->cur);
}

static void discard(crdt_causal_queue *q, msg *m);

/* Files a held message that is on no list by the result of check(). */
static void place(crdt_causal_queue *q, msg *m, int st)
{
    if (st == ST_READY) {
        m->ready = true;
        list_append(&q->ready, m);
        q->nready++;
        q->ready_bytes += m->size;
    } else if (st == ST_WAIT) {
        slot *s = slot_claim(q, m->cur.wactor, m->cur.wcounter);

        m->ready = false;
        list_append(&s->waiters, m);
    } else {
        m->ready = false;
        m->prev = m->next = NULL;
        discard(q, m);
    }
}

/* Takes a held message off every list and the table, and frees it. */
static void discard(crdt_causal_queue *q, msg *m)
{
    slot *s;

    if (m->ready) {
        list_unlink(&q->ready, m);
        q->nready--;
        q->ready_bytes -= m->size;
    } else if ((s = slot_lookup(q, m->cur.wactor, m->cur.wcounter)) &&
               (m->prev || m->next || s->waiters.head == m)) {
        list_unlink(&s->waiters, m);
        slot_release(q, s);
    }
    if ((s = slot_lookup(q, m->sender, m->seq)) && s->owner == m) {
        s->owner = NULL;
        slot_release(q, s);
    }
    unhold(q, m);
    q->dropped++;
    snd_unhold(q, m->sender);
    msg_free(q, m);
}

/* D[a] has just become c: a held message of that dot is obsolete, and the
 * messages that waited for the dot resume their check. */
static void reached(crdt_causal_queue *q, crdt_actor a, uint64_t c)
{
    slot *s = slot_lookup(q, a, c);
    msg *owner, *w, *next;

    if (!s)
        return;
    owner = s->owner;
    w = s->waiters.head;
    s->owner = NULL;
    s->waiters.head = s->waiters.tail = NULL;
    slot_release(q, s);
    if (owner) {
        /* its slot is gone: discard finds no owner slot to clear */
        discard(q, owner);
    }
    for (; w; w = next) {
        next = w->next;
        w->prev = w->next = NULL;
        place(q, w, recheck(q, w));
    }
}

/* ======================================================================
 * Lifecycle
 * ====================================================================== */

void crdt_causal_settings_default(crdt_causal_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->version = CRDT_CAUSAL_SETTINGS_VERSION;
    s->max_messages = CRDT_CAUSAL_DEFAULT_MAX_MESSAGES;
    s->max_bytes = CRDT_CAUSAL_DEFAULT_MAX_BYTES;
}

int crdt_causal_queue_new(crdt_causal_queue **out,
                          const crdt_causal_settings *settings,
                          const crdt_mem *mem)
{
    crdt_causal_settings set;
    crdt_causal_queue *q;
    crdt_mem m;

    if (!out)
        return CRDT_ERR_INVALID_ARG;
    if (settings)
        set = *settings;
    else
        crdt_causal_settings_default(&set);
    if (set.version != CRDT_CAUSAL_SETTINGS_VERSION || !set.max_messages ||
        !set.max_bytes)
        return CRDT_ERR_INVALID_ARG;
    if (sodium_init() < 0)
        return CRDT_ERR_RANDOM;
    crdtp_mem_set(&m, mem);
    q = crdtp_malloc(&m, sizeof *q);
    if (!q)
        return CRDT_ERR_NOMEM;
    memset(q, 0, sizeof *q);
    q->mem = m;
    q->set = set;
    randombytes_buf(q->key, sizeof q->key);
    *out = q;
    return CRDT_OK;
}

void crdt_causal_queue_free(crdt_causal_queue *q)
{
    msg *m, *next;

    if (!q)
        return;
    for (m = q->ahead; m; m = next) {
        next = m->anext;
        msg_free(q, m);
    }
    free_popped(q);
    crdt_vclock_free(q->scratch);
    crdtp_free(&q->mem, q->slots);
    crdtp_free(&q->mem, q->snd);
    crdtp_free(&q->mem, q);
}

/* ======================================================================
 * Queries
 * ====================================================================== */

uint64_t crdt_causal_queue_delivered(const crdt_causal_queue *q,
                                     crdt_actor actor)
{
    return q ? d_of(q, actor) : 0;
}

/* Makes dst (a clock of the queue's own) the delivered clock, with self's
 * entry replaced by self_count when with_self.  dst may be left partly
 * built on error. */
static int build_clock(const crdt_causal_queue *q, crdt_vclock *dst,
                       bool with_self, crdt_actor self, uint64_t self_count)
{
    size_t i = crdt_vclock_size(dst);
    int rv;

    while (i-- > 0) {
        crdt_actor a = 0;

        (void)crdt_vclock_entry(dst, i, &a, NULL);
        if ((rv = crdt_vclock_set(dst, a, 0))) /* a removal: cannot fail */
            return rv;
    }
    for (i = 0; i < q->nsnd; i++) {
        uint64_t c = q->snd[i].delivered;

        if (with_self && q->snd[i].actor == self)
            continue;
        if (c && (rv = crdt_vclock_set(dst, q->snd[i].actor, c)))
            return rv;
    }
    return with_self ? crdt_vclock_set(dst, self, self_count) : CRDT_OK;
}

int crdt_causal_queue_clock(const crdt_causal_queue *q, crdt_vclock *out)
{
    crdt_vclock *tmp;
    int rv;

    if (!q || !out)
        return CRDT_ERR_INVALID_ARG;
    tmp = crdt_vclock_new(&q->mem);
    if (!tmp)
        return CRDT_ERR_NOMEM;
    rv = build_clock(q, tmp, false, 0, 0);
    if (rv == CRDT_OK)
        rv = crdt_vclock_copy(out, tmp);
    crdt_vclock_free(tmp);
    return rv;
}

void crdt_causal_queue_stats(const crdt_causal_queue *q,
                             crdt_causal_stats *out)
{
    if (!q || !out)
        return;
    memset(out, 0, sizeof *out);
    out->held = q->held;
    out->ready = q->nready;
    out->bytes = q->bytes;
    out->accepted = q->accepted;
    out->delivered = q->delivered;
    out->duplicates = q->duplicates;
    out->rejected = q->rejected;
    out->dropped = q->dropped;
}

/* An item of waiting_for's sweep: a held dot, or a dot some waiting
 * message needs. */
typedef struct witem {
    crdt_actor actor;
    uint64_t counter;
    int need; /* 0: held, 1: needed */
} witem;

static int witem_cmp(const void *pa, const void *pb)
{
    const witem *a = pa, *b = pb;

    if (a->actor != b->actor)
        return a->actor < b->actor ? -1 : 1;
    if (a->counter != b->counter)
        return a->counter < b->counter ? -1 : 1;
    return a->need - b->need;
}

int crdt_causal_queue_waiting_for(const crdt_causal_queue *q,
                                  crdt_causal_gap *out, size_t cap,
                                  size_t *count)
{
    size_t n = 0, k = 0, i, j, ngaps = 0;
    witem *it;
    const msg *m;

    if (!q || !count || (!out && cap))
        return CRDT_ERR_INVALID_ARG;
    if (q->held == q->nready) { /* nothing waits */
        *count = 0;
        return CRDT_OK;
    }
    for (m = q->ahead; m; m = m->anext) {
        n++;
        if (!m->ready)
            n += crdt_vclock_size(m->stamp) - m->cur.pos;
    }
    it = crdtp_malloc_array(&q->mem, n, sizeof *it);
    if (!it)
        return CRDT_ERR_NOMEM;
    for (m = q->ahead; m; m = m->anext) {
        it[k].actor = m->sender;
        it[k].counter = m->seq;
        it[k++].need = 0;
        if (m->ready)
            continue;
        for (i = m->cur.pos; i < crdt_vclock_size(m->stamp); i++) {
            crdt_actor a = 0;
            uint64_t c = 0;

            (void)crdt_vclock_entry(m->stamp, i, &a, &c);
            if (a == m->sender)
                c--;
            if (c > d_of(q, a)) {
                it[k].actor = a;
                it[k].counter = c;
                it[k++].need = 1;
            }
        }
    }
    qsort(it, k, sizeof *it, witem_cmp);
    for (i = 0; i < k; i = j) {
        crdt_actor a = it[i].actor;
        uint64_t maxneed = 0, cur = d_of(q, a) + 1;
        bool any = false, done = false;

        for (j = i; j < k && it[j].actor == a; j++)
            if (it[j].need) {
                maxneed = it[j].counter; /* ascending: the last is max */
                any = true;
            }
        if (!any)
            continue;
        for (size_t h = i; h < j && !done; h++) {
            uint64_t c = it[h].counter;

            if (it[h].need || c > maxneed)
                continue;
            if (c > cur) {
                if (ngaps < cap) {
                    out[ngaps].actor = a;
                    out[ngaps].first = cur;
                    out[ngaps].last = c - 1;
                }
                ngaps++;
            }
            if (c == UINT64_MAX)
                done = true;
            cur = c + 1;
        }
        if (!done && cur <= maxneed) {
            if (ngaps < cap) {
                out[ngaps].actor = a;
                out[ngaps].first = cur;
                out[ngaps].last = maxneed;
            }
            ngaps++;
        }
    }
    crdtp_free(&q->mem, it);
    *count = ngaps;
    return CRDT_OK;
}

/* ======================================================================
 * Mutators
 * ====================================================================== */

int crdt_causal_queue_push(crdt_causal_queue *q, crdt_actor sender,
                           const crdt_vclock *stamp, const void *data,
                           size_t len, crdt_causal_status *status)
{
    cursor cur = {0, 0, 0};
    msg *m;
    size_t n, size;
    uint64_t seq;
    slot *s;
    bool known;
    int st, rv;

    if (!q || !stamp || (!data && len))
        return CRDT_ERR_INVALID_ARG;
    seq = crdt_vclock_get(stamp, sender);
    if (seq == 0)
        return CRDT_ERR_INVALID_ARG;
    free_popped(q);
    if (seq <= d_of(q, sender) ||
        ((s = slot_lookup(q, sender, seq)) && s->owner)) {
        q->duplicates++;
        if (status)
            *status = CRDT_CAUSAL_DUPLICATE;
        return CRDT_OK;
    }

    /* deliverable now? (the held copy resumes where this stops) */
    st = check(q, stamp, sender, &cur);

    /* bounds; bytes and ready_bytes may exceed max_bytes (see header) */
    n = crdt_vclock_size(stamp);
    if (n > (SIZE_MAX - len) / CRDT_CAUSAL_ENTRY_BYTES)
        goto limit;
    size = len + n * CRDT_CAUSAL_ENTRY_BYTES;
    if (size > q->set.max_bytes)
        goto limit;
    if (st == ST_READY) {
        if (q->nready >= q->set.max_messages ||
            q->ready_bytes > q->set.max_bytes - size)
            goto limit;
    } else if (q->held >= q->set.max_messages ||
               q->bytes > q->set.max_bytes - size) {
        goto limit;
    }

    /* everything that can fail */
    if (len > SIZE_MAX - sizeof *m)
        return CRDT_ERR_NOMEM;
    m = crdtp_malloc(&q->mem, sizeof *m + len);
    if (!m)
        return CRDT_ERR_NOMEM;
    memset(m, 0, sizeof *m);
    m->stamp = crdt_vclock_new(&q->mem);
    rv = m->stamp ? crdt_vclock_copy(m->stamp, stamp) : CRDT_ERR_NOMEM;
    if (rv == CRDT_OK)
        rv = table_reserve(q, 2 * (q->held + 1));
    if (rv == CRDT_OK) {
        (void)snd_find(q, sender, &known);
        rv = snd_reserve(q, q->nsnd + !known);
    }
    if (rv != CRDT_OK) {
        msg_free(q, m);
        return rv;
    }

    /* commit */
    m->sender = sender;
    m->seq = seq;
    m->cur = cur;
    m->size = size;
    m->len = len;
    if (len)
        memcpy(m->data, data, len);
    snd_get(q, sender)->held++;
    slot_claim(q, sender, seq)->owner = m;
    m->aprev = q->atail;
    if (q->atail)
        q->atail->anext = m;
    else
        q->ahead = m;
    q->atail = m;
    q->held++;
    q->bytes += size;
    q->accepted++;
    place(q, m, st);
    if (status)
        *status = st == ST_READY ? CRDT_CAUSAL_READY : CRDT_CAUSAL_WAITING;
    return CRDT_OK;

limit:
    q->rejected++;
    return CRDT_ERR_LIMIT;
}

int crdt_causal_queue_pop(crdt_causal_queue *q, crdt_causal_msg *out)
{
    msg *m;
    slot *s;
    bool found;
    size_t i;

    if (!q || !out)
        return CRDT_ERR_INVALID_ARG;
    free_popped(q);
    m = q->ready.head;
    if (!m)
        return CRDT_ERR_NOT_FOUND;
    list_unlink(&q->ready, m);
    q->nready--;
    q->ready_bytes -= m->size;
    unhold(q, m);
    i = snd_find(q, m->sender, &found); /* found: m was held */
    q->snd[i].held--;
    q->snd[i].delivered = m->seq;
    if ((s = slot_lookup(q, m->sender, m->seq)) && s->owner == m) {
        s->owner = NULL;
        slot_release(q, s);
    }
    q->popped = m;
    q->delivered++;
    reached(q, m->sender, m->seq);

    out->sender = m->sender;
    out->seq = m->seq;
    out->stamp = m->stamp;
    out->data = m->len ? m->data : NULL;
    out->len = m->len;
    return CRDT_OK;
}

int crdt_causal_queue_stamp(crdt_causal_queue *q, crdt_actor self,
                            crdt_vclock *out)
{
    uint64_t d;
    bool known;
    int rv;

    if (!q || !out)
        return CRDT_ERR_INVALID_ARG;
    d = d_of(q, self);
    if (d == UINT64_MAX)
        return CRDT_ERR_OVERFLOW;
    free_popped(q);
    (void)snd_find(q, self, &known);
    if ((rv = snd_reserve(q, q->nsnd + !known)))
        return rv;
    if (!q->scratch && !(q->scratch = crdt_vclock_new(&q->mem)))
        return CRDT_ERR_NOMEM;
    if ((rv = build_clock(q, q->scratch, true, self, d + 1)) ||
        (rv = crdt_vclock_copy(out, q->scratch)))
        return rv;
    snd_get(q, self)->delivered = d + 1;
    reached(q, self, d + 1);
    return CRDT_OK;
}

int crdt_causal_queue_drop(crdt_causal_queue *q, crdt_actor sender,
                           size_t *n)
{
    msg *m, *next;
    size_t k = 0;

    if (!q)
        return CRDT_ERR_INVALID_ARG;
    free_popped(q);
    for (m = q->ahead; m; m = next) {
        next = m->anext;
        if (m->sender == sender && !m->ready) {
            discard(q, m);
            k++;
        }
    }
    if (n)
        *n = k;
    return CRDT_OK;
}

int crdt_causal_queue_advance(crdt_causal_queue *q, const crdt_vclock *vc)
{
    size_t i, nv, fresh = 0;
    msg *m, *next;
    int rv;

    if (!q || !vc)
        return CRDT_ERR_INVALID_ARG;
    free_popped(q);
    nv = crdt_vclock_size(vc);
    for (i = 0; i < nv; i++) {
        crdt_actor a = 0;
        bool found;

        (void)crdt_vclock_entry(vc, i, &a, NULL);
        (void)snd_find(q, a, &found);
        fresh += !found;
    }
    if ((rv = snd_reserve(q, q->nsnd + fresh)))
        return rv;

    /* commit: D joins vc */
    for (i = 0; i < nv; i++) {
        crdt_actor a = 0;
        uint64_t c = 0;
        sndent *e;

        (void)crdt_vclock_entry(vc, i, &a, &c);
        e = snd_get(q, a);
        if (c > e->delivered)
            e->delivered = c;
    }
    /* held messages it covers go; then waiting ones whose dot is met
     * resume, oldest first */
    for (m = q->ahead; m; m = next) {
        next = m->anext;
        if (m->seq <= d_of(q, m->sender))
            discard(q, m);
    }
    for (m = q->ahead; m; m = next) {
        slot *s;

        next = m->anext; /* place() may discard m (not after pass one) */
        if (m->ready || m->cur.wcounter > d_of(q, m->cur.wactor))
            continue;
        s = slot_lookup(q, m->cur.wactor, m->cur.wcounter);
        list_unlink(&s->waiters, m);
        slot_release(q, s);
        place(q, m, recheck(q, m));
    }
    return CRDT_OK;
}
