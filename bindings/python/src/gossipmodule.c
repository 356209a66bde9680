/* SPDX-License-Identifier: MIT */
/*
 * crdt.Node (the sans-IO gossip engine, <crdt/gossip.h>), crdt.Sim (the
 * deterministic network simulator, <crdt/sim.h>) and crdt scenarios.
 *
 * Callbacks into Python (send, on_change, on_peer) run inside the C call
 * that triggers them.  An exception a callback raises cannot cross the C
 * engine, so the first one is kept, the engine carries on (a send that
 * raised counts as a send failure), and the exception is raised when the
 * C call returns; later ones in the same call are dropped.
 *
 * The simulator runs with the GIL released (its callbacks take it back),
 * with the Sim marked busy: any other call on it, from another thread or
 * from a callback, raises RuntimeError.
 */
#include "crdtpy.h"

#include <stddef.h>
#include <string.h>

/* ======================================================== saved errors */

typedef struct saved_exc {
    PyObject *type, *value, *tb;
} saved_exc;

/* Moves the pending exception into @p s unless one is saved already. */
static void save_exc(saved_exc *s)
{
    if (s->type) {
        PyErr_Clear();
        return;
    }
    PyErr_Fetch(&s->type, &s->value, &s->tb);
}

/* After a C call: raise the saved exception, if any (returns -1). */
static int restore_exc(saved_exc *s)
{
    if (!s->type)
        return 0;
    PyErr_Restore(s->type, s->value, s->tb);
    s->type = s->value = s->tb = NULL;
    return -1;
}

static void clear_exc(saved_exc *s)
{
    Py_CLEAR(s->type);
    Py_CLEAR(s->value);
    Py_CLEAR(s->tb);
}

/* ============================================================ settings */

struct setting {
    const char *name;
    size_t off;
    size_t size; /* 4: uint32_t, 8: uint64_t or size_t */
};

#define S(f) #f, offsetof(crdt_gossip_settings, f), \
    sizeof(((crdt_gossip_settings *)0)->f)
static const struct setting gsettings[] = {
    {S(cluster_id)},   {S(seed)},          {S(incarnation)},
    {S(round_ms)},     {S(fanout)},        {S(repair_ms)},
    {S(max_datagram)}, {S(down_after_ms)}, {S(down_probe_rounds)},
    {S(log_rounds)},   {S(log_max_bytes)}, {S(push_rounds)},
    {S(sample_size)},  {S(max_peers)},     {S(max_keys)},
    {S(max_key_bytes)}, {S(reassembly_max_bytes)}, {S(reassembly_ms)},
    {S(queue_max_bytes)},
};
#undef S

/* Sets the engine settings named in @p kw (a dict; NULL: none); any other
 * key is a TypeError. */
static int apply_settings(PyObject *kw, crdt_gossip_settings *s,
                          const char *who)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    size_t i;

    while (kw && PyDict_Next(kw, &pos, &k, &v)) {
        const char *name = PyUnicode_AsUTF8(k);
        uint64_t x;

        if (!name)
            return -1;
        for (i = 0; i < sizeof gsettings / sizeof gsettings[0]; i++)
            if (!strcmp(gsettings[i].name, name))
                break;
        if (i == sizeof gsettings / sizeof gsettings[0]) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got an unexpected keyword argument '%s'", who,
                         name);
            return -1;
        }
        if (crdtpy_u64(v, &x, name) < 0)
            return -1;
        if (gsettings[i].size == 4) {
            uint32_t y = (uint32_t)x;

            if (x > UINT32_MAX) {
                PyErr_Format(PyExc_OverflowError, "%s must be < 2**32", name);
                return -1;
            }
            memcpy((char *)s + gsettings[i].off, &y, 4);
        } else if (gsettings[i].size == sizeof(size_t) &&
                   sizeof(size_t) != 8) {
            size_t y = (size_t)x;

            if (x > SIZE_MAX) {
                PyErr_Format(PyExc_OverflowError, "%s too large", name);
                return -1;
            }
            memcpy((char *)s + gsettings[i].off, &y, sizeof y);
        } else {
            memcpy((char *)s + gsettings[i].off, &x, 8);
        }
    }
    return 0;
}

/* Pops @p name from dict @p kw (new reference or NULL, no error). */
static PyObject *pop(PyObject *kw, const char *name)
{
    PyObject *v;

    if (!kw)
        return NULL;
    v = PyDict_GetItemString(kw, name);
    if (!v)
        return NULL;
    Py_INCREF(v);
    PyDict_DelItemString(kw, name);
    return v;
}

static int callable_or_none(PyObject **o, const char *name)
{
    if (*o == Py_None)
        Py_CLEAR(*o);
    if (*o && !PyCallable_Check(*o)) {
        PyErr_Format(PyExc_TypeError, "%s must be callable or None", name);
        return -1;
    }
    return 0;
}

/* ============================================================= shared */

static PyTypeObject Peer_Type;
static PyStructSequence_Field peer_fields[] = {
    {"id", "the peer's node id"},
    {"up", "whether it is up"},
    {"last_heard_ms", "time of its last datagram (0: never)"},
    {"addr", "its address blob (bytes)"},
    {NULL, NULL}};
static PyStructSequence_Desc peer_desc = {
    "crdt.Peer", "What a node knows of a peer.", peer_fields, 4};

static PyObject *peer_tuple(const crdt_gossip_peer *p)
{
    PyObject *t = PyStructSequence_New(&Peer_Type), *a;

    if (!t)
        return NULL;
    a = PyBytes_FromStringAndSize((const char *)p->addr,
                                  (Py_ssize_t)p->addrlen);
    if (!a) {
        Py_DECREF(t);
        return NULL;
    }
    PyStructSequence_SET_ITEM(t, 0, PyLong_FromUnsignedLongLong(p->id));
    PyStructSequence_SET_ITEM(t, 1, PyBool_FromLong(p->up));
    PyStructSequence_SET_ITEM(t, 2,
                              PyLong_FromUnsignedLongLong(p->last_heard_ms));
    PyStructSequence_SET_ITEM(t, 3, a);
    if (PyErr_Occurred()) {
        Py_DECREF(t);
        return NULL;
    }
    return t;
}

static PyObject *peers_list(const crdt_gossip *g)
{
    size_t i, n = crdt_gossip_peer_count(g);
    PyObject *l = PyList_New((Py_ssize_t)n);

    for (i = 0; l && i < n; i++) {
        crdt_gossip_peer p;
        PyObject *t;

        if (crdt_gossip_peer_at(g, i, &p) != CRDT_OK ||
            !(t = peer_tuple(&p))) {
            Py_DECREF(l);
            return PyErr_Occurred() ? NULL : crdtpy_error(CRDT_ERR_NOT_FOUND);
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

static int dict_set_u64(PyObject *d, const char *k, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    int rv;

    if (!o)
        return -1;
    rv = PyDict_SetItemString(d, k, o);
    Py_DECREF(o);
    return rv;
}

static PyObject *per_kind(const uint64_t *a)
{
    PyObject *d = PyDict_New();
    int k;

    for (k = 1; d && k < CRDT_GOSSIP_KINDS; k++)
        if (dict_set_u64(d, crdt_gossip_kind_name(k), a[k]) < 0)
            Py_CLEAR(d);
    return d;
}

/* A u64 field of a struct, by name and offset, for the dicts below. */
struct field {
    const char *name;
    size_t off;
};

#define M(f) {#f, offsetof(crdt_gossip_metrics, f)}
static const struct field metric_counts[] = {
    M(rounds), M(repairs), M(send_failures), M(deltas_logged),
    M(deltas_written), M(delta_bytes_written), M(deltas_freed),
    M(deltas_evicted), M(deltas_received), M(deltas_redundant),
    M(keys_repaired), M(log_bytes), M(log_entries), M(peers_up),
    M(peers_down), M(bytes_sent), M(bytes_received),
};
static const struct field metric_kinds[] = {
    M(sent), M(sent_bytes), M(received), M(received_bytes),
};
#undef M

/* Sets d[f.name] for each u64 field f of the struct at base. */
static int dict_fields(PyObject *d, const void *base, const struct field *f,
                       size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        uint64_t v;

        memcpy(&v, (const char *)base + f[i].off, sizeof v);
        if (dict_set_u64(d, f[i].name, v) < 0)
            return -1;
    }
    return 0;
}

static PyObject *metrics_dict(const crdt_gossip *g)
{
    crdt_gossip_metrics m;
    PyObject *d = PyDict_New(), *x;
    size_t i;
    int r;

    if (!d)
        return NULL;
    crdt_gossip_metrics_get(g, &m);
    if (dict_fields(d, &m, metric_counts,
                    sizeof metric_counts / sizeof metric_counts[0]) < 0)
        goto fail;
    for (i = 0; i < sizeof metric_kinds / sizeof metric_kinds[0]; i++) {
        const uint64_t *a =
            (const uint64_t *)((const char *)&m + metric_kinds[i].off);

        if (!(x = per_kind(a)))
            goto fail;
        r = PyDict_SetItemString(d, metric_kinds[i].name, x);
        Py_DECREF(x);
        if (r < 0)
            goto fail;
    }
    if (!(x = PyDict_New()))
        goto fail;
    for (r = 0; r < CRDT_GOSSIP_DROP_REASONS; r++)
        if (dict_set_u64(x, crdt_gossip_drop_name(r), m.dropped[r]) < 0) {
            Py_DECREF(x);
            goto fail;
        }
    r = PyDict_SetItemString(d, "dropped", x);
    Py_DECREF(x);
    if (r < 0)
        goto fail;
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

/* A copy of a store key's value; @p dflt (borrowed, may be NULL: raise
 * KeyError) if absent. */
static PyObject *store_get(const crdt_gossip *g, PyObject *key,
                           PyObject *dflt)
{
    const crdt_type *type = NULL;
    const void *value = NULL;
    Py_buffer b;
    int rv;

    if (crdtpy_key(key, &b, "key") < 0)
        return NULL;
    rv = crdt_gossip_get(g, b.buf, (size_t)b.len, &type, &value);
    PyBuffer_Release(&b);
    if (rv == CRDT_ERR_NOT_FOUND) {
        if (dflt)
            return Py_NewRef(dflt);
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    if (rv)
        return crdtpy_error(rv);
    return crdtpy_wrap_copy(type->tag, type, value);
}

/* The present keys (what: 0), values (1) or items (2) as a list, or a
 * dict (3), in the store's order. */
static PyObject *store_list(const crdt_gossip *g, int what)
{
    size_t i, n = crdt_gossip_key_count(g);
    PyObject *l = what == 3 ? PyDict_New() : PyList_New(0);

    for (i = 0; l && i < n; i++) {
        const uint8_t *k = NULL;
        size_t klen = 0;
        bool present = false;
        const crdt_type *type = NULL;
        const void *value = NULL;
        PyObject *ko = NULL, *vo = NULL, *item = NULL;
        int bad;

        if (crdt_gossip_key_at(g, i, &k, &klen, &present) != CRDT_OK ||
            !present)
            continue;
        ko = PyBytes_FromStringAndSize((const char *)k, (Py_ssize_t)klen);
        if (what && ko &&
            crdt_gossip_get(g, k, klen, &type, &value) == CRDT_OK)
            vo = crdtpy_wrap_copy(type->tag, type, value);
        if (!ko || (what && !vo)) {
            bad = 1;
        } else if (what == 3) {
            bad = PyDict_SetItem(l, ko, vo) < 0;
        } else {
            item = what == 0 ? Py_NewRef(ko)
                   : what == 1 ? Py_NewRef(vo)
                               : PyTuple_Pack(2, ko, vo);
            bad = !item || PyList_Append(l, item) < 0;
        }
        Py_XDECREF(ko);
        Py_XDECREF(vo);
        Py_XDECREF(item);
        if (bad) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "store changed");
            Py_CLEAR(l);
        }
    }
    return l;
}

static Py_ssize_t store_len(const crdt_gossip *g)
{
    size_t i, n = crdt_gossip_key_count(g), c = 0;

    for (i = 0; i < n; i++) {
        bool present = false;

        if (crdt_gossip_key_at(g, i, NULL, NULL, &present) == CRDT_OK &&
            present)
            c++;
    }
    return (Py_ssize_t)c;
}

static PyObject *store_state(const crdt_gossip *g, PyObject *key)
{
    crdt_buf buf;
    Py_buffer b;
    PyObject *r;
    int rv;

    if (crdtpy_key(key, &b, "key") < 0)
        return NULL;
    crdt_buf_init(&buf, NULL);
    rv = crdt_gossip_state(g, b.buf, (size_t)b.len, &buf);
    PyBuffer_Release(&b);
    if (rv == CRDT_ERR_NOT_FOUND) {
        crdt_buf_clear(&buf);
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    if (rv) {
        crdt_buf_clear(&buf);
        return crdtpy_error(rv);
    }
    r = PyBytes_FromStringAndSize((const char *)buf.data, (Py_ssize_t)buf.len);
    crdt_buf_clear(&buf);
    return r;
}

/* The gossip update callback: fn(value, actor) on a view. */
static int gossip_update_cb(void *value, void *delta,
                            const crdt_gossip_write *w, void *ud)
{
    struct crdtpy_upd *u = ud;
    int rv;

    u->hlc = w->hlc;
    if (!(u->actor = PyLong_FromUnsignedLongLong(w->actor))) {
        u->pyerr = 1;
        return CRDT_ERR_NOMEM;
    }
    rv = crdtpy_run_update(u, value, delta);
    Py_CLEAR(u->actor);
    return rv;
}

static int update_args(PyObject *cls, PyObject *fn, struct crdtpy_upd *u)
{
    if (!(u->ti = crdtpy_tinfo_of_class(cls))) {
        PyErr_Format(PyExc_TypeError,
                     "cls must be a crdt data type class, not %R", cls);
        return -1;
    }
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "fn must be callable");
        return -1;
    }
    u->fn = fn;
    return 0;
}

/* ================================================================ Node */

typedef struct NodeObject {
    PyObject_HEAD
    crdt_gossip *g;
    PyObject *send, *on_change, *on_peer;
    saved_exc exc;
    int busy;
} NodeObject;

static int node_send(void *ud, uint64_t to, const uint8_t *addr,
                     size_t addrlen, const uint8_t *data, size_t len)
{
    NodeObject *n = ud;
    PyObject *r;

    if (!n->send)
        return -1;
    r = PyObject_CallFunction(n->send, "Ky#y#", (unsigned long long)to,
                              (const char *)addr, (Py_ssize_t)addrlen,
                              (const char *)data, (Py_ssize_t)len);
    if (!r) {
        save_exc(&n->exc);
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static void node_on_change(void *ud, const uint8_t *key, size_t klen)
{
    NodeObject *n = ud;
    PyObject *r;

    if (!n->on_change)
        return;
    r = PyObject_CallFunction(n->on_change, "y#", (const char *)key,
                              (Py_ssize_t)klen);
    if (!r)
        save_exc(&n->exc);
    Py_XDECREF(r);
}

static void node_on_peer(void *ud, uint64_t peer, bool up)
{
    NodeObject *n = ud;
    PyObject *r;

    if (!n->on_peer)
        return;
    r = PyObject_CallFunction(n->on_peer, "KO", (unsigned long long)peer,
                              up ? Py_True : Py_False);
    if (!r)
        save_exc(&n->exc);
    Py_XDECREF(r);
}

static crdt_gossip *node_get(NodeObject *n)
{
    if (n->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the node is in use (its update callback is running)");
        return NULL;
    }
    if (!n->g) {
        PyErr_SetString(PyExc_ValueError, "the node is not initialised");
        return NULL;
    }
    return n->g;
}

/* Ends a call that may have run callbacks. */
static PyObject *node_done(NodeObject *n, int rv, PyObject *ok)
{
    if (restore_exc(&n->exc) < 0) {
        Py_XDECREF(ok);
        return NULL;
    }
    if (rv) {
        Py_XDECREF(ok);
        return crdtpy_error(rv);
    }
    return ok ? ok : Py_NewRef(Py_None);
}

static PyObject *node_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    crdt_gossip_settings s;
    PyObject *kwc = NULL, *id = NULL;
    NodeObject *n;
    int rv;

    if (!(n = (NodeObject *)type->tp_alloc(type, 0)))
        return NULL;
    kwc = kw ? PyDict_Copy(kw) : PyDict_New();
    if (!kwc)
        goto fail;
    if (PyTuple_GET_SIZE(args) > 1) {
        PyErr_SetString(PyExc_TypeError,
                        "Node(node_id, **settings): one positional argument");
        goto fail;
    }
    id = PyTuple_GET_SIZE(args) ? Py_NewRef(PyTuple_GET_ITEM(args, 0))
                                : pop(kwc, "node_id");
    n->send = pop(kwc, "send");
    n->on_change = pop(kwc, "on_change");
    n->on_peer = pop(kwc, "on_peer");
    if (!id) {
        PyErr_SetString(PyExc_TypeError, "Node() needs a node_id");
        goto fail;
    }
    crdt_gossip_settings_default(&s);
    /* Without a seed or an incarnation, the C defaults would give every
     * start of a node the same incarnation, hence the same write actor
     * (crdt/gossip.h): draw one from the OS instead.  Give either for a
     * reproducible node. */
    if (!PyDict_GetItemString(kwc, "seed") &&
        !PyDict_GetItemString(kwc, "incarnation") &&
        (rv = crdt_actor_random(&s.incarnation)) != CRDT_OK) {
        crdtpy_error(rv);
        goto fail;
    }
    if (crdtpy_u64(id, &s.node_id, "node_id") < 0 ||
        callable_or_none(&n->send, "send") < 0 ||
        callable_or_none(&n->on_change, "on_change") < 0 ||
        callable_or_none(&n->on_peer, "on_peer") < 0 ||
        apply_settings(kwc, &s, "Node") < 0)
        goto fail;
    s.callbacks.send = n->send ? node_send : NULL;
    s.callbacks.on_change = node_on_change;
    s.callbacks.on_peer = node_on_peer;
    s.callbacks.user_data = n;
    rv = crdt_gossip_new(&n->g, &s, NULL);
    if (rv) {
        crdtpy_error(rv);
        goto fail;
    }
    Py_DECREF(kwc);
    Py_DECREF(id);
    return (PyObject *)n;
fail:
    Py_XDECREF(kwc);
    Py_XDECREF(id);
    Py_DECREF(n);
    return NULL;
}

static int node_traverse(NodeObject *n, visitproc visit, void *arg)
{
    Py_VISIT(n->send);
    Py_VISIT(n->on_change);
    Py_VISIT(n->on_peer);
    Py_VISIT(n->exc.type);
    Py_VISIT(n->exc.value);
    Py_VISIT(n->exc.tb);
    return 0;
}

static int node_clear(NodeObject *n)
{
    /* Garbage: free the engine first, so no callback can find a cleared
     * reference. */
    crdt_gossip_free(n->g);
    n->g = NULL;
    Py_CLEAR(n->send);
    Py_CLEAR(n->on_change);
    Py_CLEAR(n->on_peer);
    clear_exc(&n->exc);
    return 0;
}

static void node_dealloc(NodeObject *n)
{
    PyObject_GC_UnTrack(n);
    node_clear(n);
    Py_TYPE(n)->tp_free((PyObject *)n);
}

static int u64_conv(PyObject *o, void *out)
{
    return crdtpy_u64(o, out, "argument") == 0;
}

static PyObject *node_tick(NodeObject *n, PyObject *arg)
{
    crdt_gossip *g = node_get(n);
    uint64_t now;

    if (!g || crdtpy_u64(arg, &now, "now_ms") < 0)
        return NULL;
    return node_done(n, crdt_gossip_tick(g, now), NULL);
}

static PyObject *node_receive(NodeObject *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"now_ms", "data", "addr", NULL};
    crdt_gossip *g = node_get(n);
    PyObject *data, *addr = NULL;
    Py_buffer d, a = {0};
    uint64_t now;
    int rv;

    if (!g || !PyArg_ParseTupleAndKeywords(args, kw, "O&O|O:receive", kwlist,
                                           u64_conv, &now, &data, &addr))
        return NULL;
    if (crdtpy_key(data, &d, "data") < 0)
        return NULL;
    if (addr && crdtpy_key(addr, &a, "addr") < 0) {
        PyBuffer_Release(&d);
        return NULL;
    }
    rv = crdt_gossip_receive(g, now, a.buf, addr ? (size_t)a.len : 0, d.buf,
                             (size_t)d.len);
    PyBuffer_Release(&d);
    if (addr)
        PyBuffer_Release(&a);
    return node_done(n, rv, NULL);
}

static PyObject *node_next_deadline(NodeObject *n, PyObject *unused)
{
    crdt_gossip *g = node_get(n);
    uint64_t t;

    (void)unused;
    if (!g)
        return NULL;
    t = crdt_gossip_next_deadline(g);
    if (t == CRDT_GOSSIP_NEVER)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(t);
}

static PyObject *node_poll(NodeObject *n, PyObject *unused)
{
    crdt_gossip *g = node_get(n);
    crdt_gossip_datagram dg;
    uint8_t *buf;
    int rv;

    (void)unused;
    if (!g)
        return NULL;
    if (!(buf = PyMem_Malloc(CRDT_GOSSIP_MAX_DATAGRAM)))
        return PyErr_NoMemory();
    rv = crdt_gossip_poll(g, &dg, buf, CRDT_GOSSIP_MAX_DATAGRAM);
    if (rv == CRDT_ERR_NOT_FOUND) {
        PyMem_Free(buf);
        Py_RETURN_NONE;
    }
    if (rv) {
        PyMem_Free(buf);
        return crdtpy_error(rv);
    }
    {
        PyObject *r = Py_BuildValue("(Ky#y#)", (unsigned long long)dg.to,
                                    (const char *)dg.addr,
                                    (Py_ssize_t)dg.addrlen, (const char *)buf,
                                    (Py_ssize_t)dg.len);
        PyMem_Free(buf);
        return r;
    }
}

static PyObject *node_update(NodeObject *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"key", "cls", "fn", NULL};
    crdt_gossip *g = node_get(n);
    struct crdtpy_upd u = {0};
    PyObject *key, *cls, *fn;
    Py_buffer b;
    int rv;

    if (!g || !PyArg_ParseTupleAndKeywords(args, kw, "OOO:update", kwlist,
                                           &key, &cls, &fn))
        return NULL;
    if (update_args(cls, fn, &u) < 0 || crdtpy_key(key, &b, "key") < 0)
        return NULL;
    n->busy++;
    rv = crdt_gossip_update(g, b.buf, (size_t)b.len, u.ti->desc(),
                            gossip_update_cb, &u);
    n->busy--;
    PyBuffer_Release(&b);
    if (rv && u.pyerr)
        return NULL;
    return node_done(n, rv, NULL);
}

static PyObject *node_delete(NodeObject *n, PyObject *key)
{
    crdt_gossip *g = node_get(n);
    Py_buffer b;
    int rv;

    if (!g || crdtpy_key(key, &b, "key") < 0)
        return NULL;
    rv = crdt_gossip_delete(g, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return node_done(n, rv, NULL);
}

static PyObject *node_getitem(NodeObject *n, PyObject *key)
{
    crdt_gossip *g = node_get(n);

    return g ? store_get(g, key, NULL) : NULL;
}

static int node_delitem(NodeObject *n, PyObject *key, PyObject *v)
{
    PyObject *r;

    if (v) {
        PyErr_SetString(PyExc_TypeError,
                        "store values change through update(key, cls, fn)");
        return -1;
    }
    r = node_delete(n, key);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static PyObject *node_getm(NodeObject *n, PyObject *args)
{
    crdt_gossip *g = node_get(n);
    PyObject *key, *dflt = Py_None;

    if (!g || !PyArg_UnpackTuple(args, "get", 1, 2, &key, &dflt))
        return NULL;
    return store_get(g, key, dflt);
}

static int node_contains(NodeObject *n, PyObject *key)
{
    crdt_gossip *g = node_get(n);
    Py_buffer b;
    int rv;

    if (!g || crdtpy_key(key, &b, "key") < 0)
        return -1;
    rv = crdt_gossip_get(g, b.buf, (size_t)b.len, NULL, NULL);
    PyBuffer_Release(&b);
    return rv == CRDT_OK;
}

static Py_ssize_t node_len(NodeObject *n)
{
    crdt_gossip *g = node_get(n);

    return g ? store_len(g) : -1;
}

static PyObject *node_list(NodeObject *n, int what)
{
    crdt_gossip *g = node_get(n);

    return g ? store_list(g, what) : NULL;
}

static PyObject *node_keys(NodeObject *n, PyObject *u)
{
    (void)u;
    return node_list(n, 0);
}
static PyObject *node_values(NodeObject *n, PyObject *u)
{
    (void)u;
    return node_list(n, 1);
}
static PyObject *node_items(NodeObject *n, PyObject *u)
{
    (void)u;
    return node_list(n, 2);
}

static PyObject *node_iter(NodeObject *n)
{
    PyObject *l = node_list(n, 0), *it;

    if (!l)
        return NULL;
    it = PyObject_GetIter(l);
    Py_DECREF(l);
    return it;
}

static PyObject *node_state(NodeObject *n, PyObject *key)
{
    crdt_gossip *g = node_get(n);

    return g ? store_state(g, key) : NULL;
}

static PyObject *node_snapshot(NodeObject *n, PyObject *unused)
{
    crdt_gossip *g = node_get(n);
    crdt_buf buf;
    PyObject *r;
    int rv;

    (void)unused;
    if (!g)
        return NULL;
    crdt_buf_init(&buf, NULL);
    rv = crdt_gossip_snapshot(g, &buf);
    if (rv) {
        crdt_buf_clear(&buf);
        return crdtpy_error(rv);
    }
    r = PyBytes_FromStringAndSize((const char *)buf.data, (Py_ssize_t)buf.len);
    crdt_buf_clear(&buf);
    return r;
}

static PyObject *node_restore(NodeObject *n, PyObject *data)
{
    crdt_gossip *g = node_get(n);
    crdt_decode_info info = {0, 0};
    Py_buffer b;
    int rv;

    if (!g || crdtpy_key(data, &b, "data") < 0)
        return NULL;
    rv = crdt_gossip_restore(g, b.buf, (size_t)b.len, &info);
    PyBuffer_Release(&b);
    if (restore_exc(&n->exc) < 0)
        return NULL;
    if (rv == CRDT_ERR_NOMEM || rv == CRDT_ERR_BUSY ||
        rv == CRDT_ERR_INVALID_ARG)
        return crdtpy_error(rv);
    if (rv)
        return crdtpy_decode_error(rv, info.offset);
    Py_RETURN_NONE;
}

static PyObject *node_add_peer(NodeObject *n, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"id", "addr", NULL};
    crdt_gossip *g = node_get(n);
    PyObject *addr = NULL;
    uint64_t id;
    Py_buffer a = {0};
    int rv;

    if (!g || !PyArg_ParseTupleAndKeywords(args, kw, "O&|O:add_peer", kwlist,
                                           u64_conv, &id, &addr))
        return NULL;
    if (addr && crdtpy_key(addr, &a, "addr") < 0)
        return NULL;
    rv = crdt_gossip_add_peer(g, id, a.buf, addr ? (size_t)a.len : 0);
    if (addr)
        PyBuffer_Release(&a);
    return node_done(n, rv, NULL);
}

/* A list of u64 from an iterable; *n gets the count.  PyMem_Free it. */
static uint64_t *u64_array(PyObject *it, size_t *n)
{
    PyObject *seq = PySequence_Fast(it, "expected an iterable of ints");
    Py_ssize_t i, len;
    uint64_t *a;

    if (!seq)
        return NULL;
    len = PySequence_Fast_GET_SIZE(seq);
    if (!(a = PyMem_Malloc(sizeof *a * (size_t)(len ? len : 1)))) {
        Py_DECREF(seq);
        return (uint64_t *)PyErr_NoMemory();
    }
    for (i = 0; i < len; i++)
        if (crdtpy_u64(PySequence_Fast_GET_ITEM(seq, i), &a[i], "id") < 0) {
            PyMem_Free(a);
            Py_DECREF(seq);
            return NULL;
        }
    Py_DECREF(seq);
    *n = (size_t)len;
    return a;
}

static PyObject *node_add_peers(NodeObject *n, PyObject *ids)
{
    crdt_gossip *g = node_get(n);
    uint64_t *a;
    size_t cnt = 0;
    int rv;

    if (!g || !(a = u64_array(ids, &cnt)))
        return NULL;
    rv = crdt_gossip_add_peers(g, a, cnt);
    PyMem_Free(a);
    return node_done(n, rv, NULL);
}

static PyObject *node_remove_peer(NodeObject *n, PyObject *arg)
{
    crdt_gossip *g = node_get(n);
    uint64_t id;

    if (!g || crdtpy_u64(arg, &id, "id") < 0)
        return NULL;
    return node_done(n, crdt_gossip_remove_peer(g, id), NULL);
}

static PyObject *node_peers(NodeObject *n, PyObject *unused)
{
    crdt_gossip *g = node_get(n);

    (void)unused;
    return g ? peers_list(g) : NULL;
}

static PyObject *node_metrics(NodeObject *n, PyObject *unused)
{
    crdt_gossip *g = node_get(n);

    (void)unused;
    return g ? metrics_dict(g) : NULL;
}

static PyObject *node_u64_attr(NodeObject *n, void *which)
{
    crdt_gossip *g = node_get(n);
    uint64_t v = 0;

    if (!g)
        return NULL;
    switch ((int)(intptr_t)which) {
    case 0: v = crdt_gossip_node_id(g); break;
    case 1: v = crdt_gossip_incarnation(g); break;
    case 2: v = crdt_gossip_actor(g); break;
    case 3: v = crdt_gossip_digest(g); break;
    case 4: v = crdt_gossip_key_count(g); break;
    case 5: v = crdt_gossip_peers_up(g); break;
    }
    return PyLong_FromUnsignedLongLong(v);
}

static PyObject *node_repr(NodeObject *n)
{
    if (!n->g)
        return PyUnicode_FromString("<crdt.Node (freed)>");
    return PyUnicode_FromFormat(
        "<crdt.Node id=%llu: %zu keys, %zu peers>",
        (unsigned long long)crdt_gossip_node_id(n->g),
        crdt_gossip_key_count(n->g), crdt_gossip_peer_count(n->g));
}

static PyMethodDef node_methods[] = {
    {"tick", (PyCFunction)node_tick, METH_O,
     "tick($self, now_ms, /)\n--\n\n"
     "Run the timers due at now_ms (rounds, repair, failure detection).\n"
     "Datagrams go out through send (or queue for poll())."},
    {"receive", (PyCFunction)(void (*)(void))node_receive,
     METH_VARARGS | METH_KEYWORDS,
     "receive($self, now_ms, data, addr=b'')\n--\n\n"
     "Process one datagram that arrived at now_ms from address addr (an\n"
     "opaque blob the node gives back to send).  Malformed or foreign\n"
     "datagrams are dropped and counted in metrics(), never raised."},
    {"next_deadline", (PyCFunction)node_next_deadline, METH_NOARGS,
     "next_deadline($self, /)\n--\n\n"
     "When to call tick() next (in the clock of tick and receive), or None."},
    {"poll", (PyCFunction)node_poll, METH_NOARGS,
     "poll($self, /)\n--\n\n"
     "The oldest queued datagram as (to, addr, data), or None.  Only a\n"
     "node made without send queues."},
    {"update", (PyCFunction)(void (*)(void))node_update,
     METH_VARARGS | METH_KEYWORDS,
     "update($self, key, cls, fn)\n--\n\n"
     "Mutate key's value of class cls: fn(value, actor) mutates value (an\n"
     "empty one for a new or deleted key) with its mutators, actor being\n"
     "the node's write actor; e.g. lambda c, a: c.inc(a).  The delta is\n"
     "logged and gossiped.  LWWRegister.set without a time uses the node's\n"
     "clock.  The value is lent to fn only; an exception from fn\n"
     "propagates and changes nothing."},
    {"delete", (PyCFunction)node_delete, METH_O,
     "delete($self, key, /)\n--\n\n"
     "Delete key (observed remove; a concurrent update elsewhere wins)."},
    {"get", (PyCFunction)node_getm, METH_VARARGS,
     "get($self, key, default=None, /)\n--\n\nA copy of key's value, or default."},
    {"keys", (PyCFunction)node_keys, METH_NOARGS,
     "keys($self, /)\n--\n\nThe present keys, in the order they were first stored."},
    {"values", (PyCFunction)node_values, METH_NOARGS,
     "values($self, /)\n--\n\nCopies of the present keys' values."},
    {"items", (PyCFunction)node_items, METH_NOARGS,
     "items($self, /)\n--\n\n[(key, copy of value)]."},
    {"state", (PyCFunction)node_state, METH_O,
     "state($self, key, /)\n--\n\n"
     "The canonical encoding of key's state: a one-entry ORMap (the value\n"
     "under the empty key) or a deleted key's tombstone; crdt.decode reads\n"
     "it."},
    {"snapshot", (PyCFunction)node_snapshot, METH_NOARGS,
     "snapshot($self, /)\n--\n\nThe node's durable state (every key's state), as bytes."},
    {"restore", (PyCFunction)node_restore, METH_O,
     "restore($self, data, /)\n--\n\n"
     "Merge a snapshot (of any node of the cluster) into the store, as if\n"
     "it had arrived from a peer.  crdt.DecodeError for a bad snapshot\n"
     "(the store is unchanged)."},
    {"add_peer", (PyCFunction)(void (*)(void))node_add_peer,
     METH_VARARGS | METH_KEYWORDS,
     "add_peer($self, id, addr=b'')\n--\n\n"
     "Add peer id with an address blob (at most 255 bytes), or change a\n"
     "known peer's address."},
    {"add_peers", (PyCFunction)node_add_peers, METH_O,
     "add_peers($self, ids, /)\n--\n\nAdd peers without addresses (known ones are skipped)."},
    {"remove_peer", (PyCFunction)node_remove_peer, METH_O,
     "remove_peer($self, id, /)\n--\n\nForget peer id."},
    {"peers", (PyCFunction)node_peers, METH_NOARGS,
     "peers($self, /)\n--\n\n[crdt.Peer(id, up, last_heard_ms, addr)] in id order."},
    {"metrics", (PyCFunction)node_metrics, METH_NOARGS,
     "metrics($self, /)\n--\n\n"
     "The node's counters as a dict (crdt_gossip_metrics: per-kind\n"
     "'sent', 'received', ... are dicts by message kind, 'dropped' by\n"
     "reason)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef node_getset[] = {
    {"node_id", (getter)node_u64_attr, NULL, "This node's id.", (void *)0},
    {"incarnation", (getter)node_u64_attr, NULL, "This start's incarnation.",
     (void *)1},
    {"actor", (getter)node_u64_attr, NULL,
     "The actor this node writes with: actor_of(node_id, incarnation).",
     (void *)2},
    {"digest", (getter)node_u64_attr, NULL,
     "The store's root digest: equal stores have equal digests.", (void *)3},
    {"key_count", (getter)node_u64_attr, NULL,
     "Keys the store holds states for, deleted keys' tombstones included.",
     (void *)4},
    {"peers_up", (getter)node_u64_attr, NULL, "Peers that are up.",
     (void *)5},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMappingMethods node_mapping = {
    .mp_length = (lenfunc)node_len,
    .mp_subscript = (binaryfunc)node_getitem,
    .mp_ass_subscript = (objobjargproc)node_delitem,
};

static PySequenceMethods node_sequence = {
    .sq_contains = (objobjproc)node_contains,
};

static PyTypeObject Node_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "crdt.Node",
    .tp_basicsize = sizeof(NodeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc =
        "Node(node_id, *, send=None, on_change=None, on_peer=None, "
        "**settings)\n--\n\n"
        "A gossip engine node (libcrdt-gossip), sans-IO: feed it the time\n"
        "(tick) and received datagrams (receive); it hands datagrams to\n"
        "send(to, addr, data), or queues them for poll() when send is None.\n"
        "on_change(key) reports keys a peer's data changed; on_peer(id, up)\n"
        "reports peers going up and down.  Callbacks run inside tick,\n"
        "receive, restore and the peer methods; an exception one raises is\n"
        "re-raised when that call returns.\n\n"
        "The store reads as a mapping of bytes keys to COPIES of the values\n"
        "(node[key], get, in, len, keys, values, items); write with\n"
        "update(key, cls, fn), delete with delete(key) or del node[key].\n\n"
        "Without seed or incarnation, the incarnation (hence the write\n"
        "actor) is random, so a restarted node never reuses its actor.\n"
        "settings: cluster_id, seed, incarnation, round_ms, fanout,\n"
        "repair_ms, max_datagram, down_after_ms, down_probe_rounds,\n"
        "log_rounds, log_max_bytes, push_rounds, sample_size, max_peers,\n"
        "max_keys, max_key_bytes, reassembly_max_bytes, reassembly_ms,\n"
        "queue_max_bytes (crdt/gossip.h).",
    .tp_new = node_new,
    .tp_dealloc = (destructor)node_dealloc,
    .tp_traverse = (traverseproc)node_traverse,
    .tp_clear = (inquiry)node_clear,
    .tp_methods = node_methods,
    .tp_getset = node_getset,
    .tp_as_mapping = &node_mapping,
    .tp_as_sequence = &node_sequence,
    .tp_iter = (getiterfunc)node_iter,
    .tp_repr = (reprfunc)node_repr,
    .tp_hash = PyObject_HashNotImplemented,
};

/* ================================================================= Sim */

typedef struct SimObject {
    PyObject_HEAD
    crdt_sim *sim;
    PyObject *on_change, *on_peer;
    saved_exc exc;
    uint32_t lat_min, lat_max;
    double loss, dup, reorder;
    int busy;
} SimObject;

static void sim_on_change(void *ud, size_t node, uint64_t now_ms,
                          const uint8_t *key, size_t klen)
{
    SimObject *s = ud;
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *r;

    if (s->on_change) {
        r = PyObject_CallFunction(s->on_change, "nKy#", (Py_ssize_t)node,
                                  (unsigned long long)now_ms,
                                  (const char *)key, (Py_ssize_t)klen);
        if (!r)
            save_exc(&s->exc);
        Py_XDECREF(r);
    }
    PyGILState_Release(st);
}

static void sim_on_peer(void *ud, size_t node, uint64_t peer, bool up)
{
    SimObject *s = ud;
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *r;

    if (s->on_peer) {
        r = PyObject_CallFunction(s->on_peer, "nKO", (Py_ssize_t)node,
                                  (unsigned long long)peer,
                                  up ? Py_True : Py_False);
        if (!r)
            save_exc(&s->exc);
        Py_XDECREF(r);
    }
    PyGILState_Release(st);
}

static crdt_sim *sim_get(SimObject *s)
{
    if (s->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the Sim is in use (running, or in an update callback)");
        return NULL;
    }
    if (!s->sim) {
        PyErr_SetString(PyExc_ValueError, "the Sim is not initialised");
        return NULL;
    }
    return s->sim;
}

static PyObject *sim_done(SimObject *s, int rv, PyObject *ok)
{
    if (restore_exc(&s->exc) < 0) {
        Py_XDECREF(ok);
        return NULL;
    }
    if (rv) {
        Py_XDECREF(ok);
        return crdtpy_error(rv);
    }
    return ok ? ok : Py_NewRef(Py_None);
}

/* Node @p i of a sim, up; IndexError / ValueError otherwise. */
static crdt_gossip *sim_node(SimObject *s, Py_ssize_t i)
{
    crdt_sim *sim = sim_get(s);
    crdt_gossip *g;

    if (!sim)
        return NULL;
    if (i < 0 || (size_t)i >= crdt_sim_nodes(sim)) {
        PyErr_Format(PyExc_IndexError, "no node %zd (the Sim has %zu)", i,
                     crdt_sim_nodes(sim));
        return NULL;
    }
    if (!(g = crdt_sim_node(sim, (size_t)i)))
        PyErr_Format(PyExc_ValueError, "node %zd is crashed", i);
    return g;
}

static int latency_arg(PyObject *o, uint32_t *lo, uint32_t *hi)
{
    uint64_t a, b;

    if (!PyTuple_Check(o) && !PyList_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "latency_ms must be (min, max)");
        return -1;
    }
    if (PySequence_Size(o) != 2) {
        PyErr_SetString(PyExc_ValueError, "latency_ms must be (min, max)");
        return -1;
    }
    {
        PyObject *x = PySequence_GetItem(o, 0), *y = PySequence_GetItem(o, 1);
        int bad = !x || !y || crdtpy_u64(x, &a, "latency") < 0 ||
                  crdtpy_u64(y, &b, "latency") < 0;

        Py_XDECREF(x);
        Py_XDECREF(y);
        if (bad)
            return -1;
    }
    if (a > UINT32_MAX || b > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "latency_ms must be < 2**32");
        return -1;
    }
    *lo = (uint32_t)a;
    *hi = (uint32_t)b;
    return 0;
}

static int prob_arg(PyObject *o, double *p, const char *name)
{
    double v = PyFloat_AsDouble(o);

    if (v == -1.0 && PyErr_Occurred())
        return -1;
    if (!(v >= 0.0 && v <= 1.0)) {
        PyErr_Format(PyExc_ValueError, "%s must be in [0, 1]", name);
        return -1;
    }
    *p = v;
    return 0;
}

/* One network option of Sim(): @p o (borrowed) into @p st. */
static int sim_option(const char *name, PyObject *o, crdt_sim_settings *st)
{
    uint64_t x;
    int t;

    if (!strcmp(name, "seed"))
        return crdtpy_u64(o, &st->seed, "seed");
    if (!strcmp(name, "latency_ms"))
        return latency_arg(o, &st->latency_min_ms, &st->latency_max_ms);
    if (!strcmp(name, "loss"))
        return prob_arg(o, &st->loss, "loss");
    if (!strcmp(name, "dup"))
        return prob_arg(o, &st->dup, "dup");
    if (!strcmp(name, "reorder"))
        return prob_arg(o, &st->reorder, "reorder");
    if (!strcmp(name, "mtu")) {
        if (crdtpy_u64(o, &x, "mtu") < 0)
            return -1;
        if (x > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "mtu must be < 2**32");
            return -1;
        }
        st->mtu = (uint32_t)x;
        return 0;
    }
    /* join_seed */
    if ((t = PyObject_IsTrue(o)) < 0)
        return -1;
    st->join_seed = t != 0;
    return 0;
}

/* Pops Sim()'s network options from @p kw into @p st. */
static int sim_options(PyObject *kw, crdt_sim_settings *st)
{
    static const char *const names[] = {"seed", "latency_ms", "loss", "dup",
                                        "reorder", "mtu", "join_seed"};
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        PyObject *o = pop(kw, names[i]);
        int rv;

        if (!o)
            continue;
        rv = sim_option(names[i], o, st);
        Py_DECREF(o);
        if (rv < 0)
            return -1;
    }
    return 0;
}

static PyObject *sim_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    crdt_sim_settings st;
    PyObject *kwc = NULL, *o;
    SimObject *s;
    uint64_t nodes = 3;
    int rv;

    if (!(s = (SimObject *)type->tp_alloc(type, 0)))
        return NULL;
    if (!(kwc = kw ? PyDict_Copy(kw) : PyDict_New()))
        goto fail;
    crdt_sim_settings_default(&st);
    if (PyTuple_GET_SIZE(args) > 1) {
        PyErr_SetString(PyExc_TypeError,
                        "Sim(nodes=3, **options): one positional argument");
        goto fail;
    }
    o = PyTuple_GET_SIZE(args) ? Py_NewRef(PyTuple_GET_ITEM(args, 0))
                               : pop(kwc, "nodes");
    if (o) {
        rv = crdtpy_u64(o, &nodes, "nodes");
        Py_DECREF(o);
        if (rv < 0)
            goto fail;
    }
    st.nodes = (size_t)nodes;
    if (sim_options(kwc, &st) < 0)
        goto fail;
    s->on_change = pop(kwc, "on_change");
    s->on_peer = pop(kwc, "on_peer");
    if (callable_or_none(&s->on_change, "on_change") < 0 ||
        callable_or_none(&s->on_peer, "on_peer") < 0 ||
        apply_settings(kwc, &st.gossip, "Sim") < 0)
        goto fail;
    st.on_change = sim_on_change;
    st.on_peer = sim_on_peer;
    st.user_data = s;
    s->lat_min = st.latency_min_ms;
    s->lat_max = st.latency_max_ms;
    s->loss = st.loss;
    s->dup = st.dup;
    s->reorder = st.reorder;
    Py_BEGIN_ALLOW_THREADS
    rv = crdt_sim_new(&s->sim, &st, NULL);
    Py_END_ALLOW_THREADS
    if (restore_exc(&s->exc) < 0)
        goto fail;
    if (rv) {
        crdtpy_error(rv);
        goto fail;
    }
    Py_DECREF(kwc);
    return (PyObject *)s;
fail:
    Py_XDECREF(kwc);
    Py_DECREF(s);
    return NULL;
}

static int sim_traverse(SimObject *s, visitproc visit, void *arg)
{
    Py_VISIT(s->on_change);
    Py_VISIT(s->on_peer);
    Py_VISIT(s->exc.type);
    Py_VISIT(s->exc.value);
    Py_VISIT(s->exc.tb);
    return 0;
}

static int sim_clear(SimObject *s)
{
    crdt_sim_free(s->sim);
    s->sim = NULL;
    Py_CLEAR(s->on_change);
    Py_CLEAR(s->on_peer);
    clear_exc(&s->exc);
    return 0;
}

static void sim_dealloc(SimObject *s)
{
    PyObject_GC_UnTrack(s);
    sim_clear(s);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyObject *sim_update(SimObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"node", "key", "cls", "fn", NULL};
    struct crdtpy_upd u = {0};
    PyObject *key, *cls, *fn;
    Py_ssize_t i;
    Py_buffer b;
    int rv;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "nOOO:update", kwlist, &i,
                                     &key, &cls, &fn))
        return NULL;
    if (!sim_node(s, i) || update_args(cls, fn, &u) < 0 ||
        crdtpy_key(key, &b, "key") < 0)
        return NULL;
    s->busy++;
    rv = crdt_sim_update(s->sim, (size_t)i, b.buf, (size_t)b.len,
                         u.ti->desc(), gossip_update_cb, &u);
    s->busy--;
    PyBuffer_Release(&b);
    if (rv && u.pyerr)
        return NULL;
    return sim_done(s, rv, NULL);
}

static PyObject *sim_delete(SimObject *s, PyObject *args)
{
    PyObject *key;
    Py_ssize_t i;
    Py_buffer b;
    int rv;

    if (!PyArg_ParseTuple(args, "nO:delete", &i, &key))
        return NULL;
    if (!sim_node(s, i) || crdtpy_key(key, &b, "key") < 0)
        return NULL;
    rv = crdt_sim_delete(s->sim, (size_t)i, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return sim_done(s, rv, NULL);
}

static PyObject *sim_set_network(SimObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"latency_ms", "loss", "dup", "reorder", NULL};
    PyObject *lat = Py_None, *loss = Py_None, *dup = Py_None,
             *reorder = Py_None;
    crdt_sim *sim = sim_get(s);
    uint32_t lo = s->lat_min, hi = s->lat_max;
    double l = s->loss, d = s->dup, r = s->reorder;
    int rv;

    if (!sim || !PyArg_ParseTupleAndKeywords(args, kw, "|$OOOO:set_network",
                                             kwlist, &lat, &loss, &dup,
                                             &reorder))
        return NULL;
    if ((lat != Py_None && latency_arg(lat, &lo, &hi) < 0) ||
        (loss != Py_None && prob_arg(loss, &l, "loss") < 0) ||
        (dup != Py_None && prob_arg(dup, &d, "dup") < 0) ||
        (reorder != Py_None && prob_arg(reorder, &r, "reorder") < 0))
        return NULL;
    rv = crdt_sim_set_network(sim, lo, hi, l, d, r);
    if (rv)
        return crdtpy_error(rv);
    s->lat_min = lo;
    s->lat_max = hi;
    s->loss = l;
    s->dup = d;
    s->reorder = r;
    Py_RETURN_NONE;
}

static PyObject *sim_partition(SimObject *s, PyObject *groups)
{
    crdt_sim *sim = sim_get(s);
    PyObject *outer, *inner;
    size_t n, *g, i;
    Py_ssize_t gi, k;
    int rv;

    if (!sim)
        return NULL;
    n = crdt_sim_nodes(sim);
    if (!(outer = PySequence_Fast(groups, "groups must be a list of lists")))
        return NULL;
    if (!(g = PyMem_Malloc(sizeof *g * n))) {
        Py_DECREF(outer);
        return PyErr_NoMemory();
    }
    for (i = 0; i < n; i++)
        g[i] = CRDT_SIM_ISOLATED;
    for (gi = 0; gi < PySequence_Fast_GET_SIZE(outer); gi++) {
        inner = PySequence_Fast(PySequence_Fast_GET_ITEM(outer, gi),
                                "each group must be a list of node indexes");
        if (!inner)
            goto fail;
        for (k = 0; k < PySequence_Fast_GET_SIZE(inner); k++) {
            Py_ssize_t v =
                PyNumber_AsSsize_t(PySequence_Fast_GET_ITEM(inner, k), NULL);

            if (v == -1 && PyErr_Occurred()) {
                Py_DECREF(inner);
                goto fail;
            }
            if (v < 0 || (size_t)v >= n) {
                PyErr_Format(PyExc_IndexError, "no node %zd", v);
                Py_DECREF(inner);
                goto fail;
            }
            g[v] = (size_t)gi;
        }
        Py_DECREF(inner);
    }
    Py_DECREF(outer);
    rv = crdt_sim_partition(sim, g);
    PyMem_Free(g);
    return sim_done(s, rv, NULL);
fail:
    Py_DECREF(outer);
    PyMem_Free(g);
    return NULL;
}

static PyObject *sim_block(SimObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"frm", "to", "blocked", NULL};
    crdt_sim *sim = sim_get(s);
    Py_ssize_t a, b;
    int blocked = 1;

    if (!sim || !PyArg_ParseTupleAndKeywords(args, kw, "nn|p:block", kwlist,
                                             &a, &b, &blocked))
        return NULL;
    if (a < 0 || b < 0) {
        PyErr_SetString(PyExc_IndexError, "node indexes are >= 0");
        return NULL;
    }
    return sim_done(s, crdt_sim_block(sim, (size_t)a, (size_t)b, blocked),
                    NULL);
}

static PyObject *sim_heal(SimObject *s, PyObject *unused)
{
    crdt_sim *sim = sim_get(s);

    (void)unused;
    if (!sim)
        return NULL;
    crdt_sim_heal(sim);
    Py_RETURN_NONE;
}

static PyObject *sim_crash(SimObject *s, PyObject *arg)
{
    Py_ssize_t i = PyNumber_AsSsize_t(arg, PyExc_IndexError);

    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (!sim_node(s, i))
        return NULL;
    return sim_done(s, crdt_sim_crash(s->sim, (size_t)i), NULL);
}

static PyObject *sim_restart(SimObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"node", "keep_state", "incarnation", NULL};
    crdt_sim *sim = sim_get(s);
    Py_ssize_t i;
    int keep = 1;
    uint64_t inc = 0;

    if (!sim || !PyArg_ParseTupleAndKeywords(args, kw, "n|p$O&:restart",
                                             kwlist, &i, &keep, u64_conv,
                                             &inc))
        return NULL;
    if (i < 0 || (size_t)i >= crdt_sim_nodes(sim)) {
        PyErr_Format(PyExc_IndexError, "no node %zd", i);
        return NULL;
    }
    if (crdt_sim_is_up(sim, (size_t)i)) {
        PyErr_Format(PyExc_ValueError, "node %zd is not crashed", i);
        return NULL;
    }
    return sim_done(s, crdt_sim_restart_as(sim, (size_t)i, keep, inc), NULL);
}

static PyObject *sim_set_clock_offset(SimObject *s, PyObject *args)
{
    crdt_sim *sim = sim_get(s);
    Py_ssize_t i;
    long long off;

    if (!sim || !PyArg_ParseTuple(args, "nL:set_clock_offset", &i, &off))
        return NULL;
    if (i < 0) {
        PyErr_SetString(PyExc_IndexError, "node indexes are >= 0");
        return NULL;
    }
    return sim_done(s, crdt_sim_set_clock_offset(sim, (size_t)i, off), NULL);
}

static PyObject *sim_run(SimObject *s, uint64_t t, int until_converged)
{
    crdt_sim *sim = sim_get(s);
    uint64_t conv = 0;
    int rv;

    if (!sim)
        return NULL;
    s->busy++;
    Py_BEGIN_ALLOW_THREADS
    rv = until_converged ? crdt_sim_run_until_converged(sim, t, &conv)
                         : crdt_sim_run_until(sim, t);
    Py_END_ALLOW_THREADS
    s->busy--;
    if (!until_converged || rv)
        return sim_done(s, rv, NULL);
    if (conv == CRDT_GOSSIP_NEVER)
        return sim_done(s, 0, Py_NewRef(Py_None));
    return sim_done(s, 0, PyLong_FromUnsignedLongLong(conv));
}

static PyObject *sim_run_until(SimObject *s, PyObject *arg)
{
    uint64_t t;

    if (crdtpy_u64(arg, &t, "t_ms") < 0)
        return NULL;
    return sim_run(s, t, 0);
}

static PyObject *sim_run_for(SimObject *s, PyObject *arg)
{
    crdt_sim *sim = sim_get(s);
    uint64_t t, now;

    if (!sim || crdtpy_u64(arg, &t, "ms") < 0)
        return NULL;
    now = crdt_sim_now(sim);
    return sim_run(s, t > UINT64_MAX - now ? UINT64_MAX : now + t, 0);
}

static PyObject *sim_run_until_converged(SimObject *s, PyObject *args,
                                         PyObject *kw)
{
    static char *kwlist[] = {"max_ms", NULL};
    crdt_sim *sim = sim_get(s);
    uint64_t max = 0;
    int given = 0;
    PyObject *o = NULL;

    if (!sim || !PyArg_ParseTupleAndKeywords(args, kw,
                                             "|O:run_until_converged", kwlist,
                                             &o))
        return NULL;
    if (o && o != Py_None) {
        if (crdtpy_u64(o, &max, "max_ms") < 0)
            return NULL;
        given = 1;
    }
    if (!given) /* one simulated hour from now */
        max = crdt_sim_now(sim) + 3600000u;
    return sim_run(s, max, 1);
}

static PyObject *sim_converged(SimObject *s, PyObject *unused)
{
    crdt_sim *sim = sim_get(s);

    (void)unused;
    return sim ? PyBool_FromLong(crdt_sim_converged(sim)) : NULL;
}

static PyObject *sim_stores_equal(SimObject *s, PyObject *unused)
{
    crdt_sim *sim = sim_get(s);
    bool r;

    (void)unused;
    if (!sim)
        return NULL;
    s->busy++;
    Py_BEGIN_ALLOW_THREADS
    r = crdt_sim_stores_equal(sim);
    Py_END_ALLOW_THREADS
    s->busy--;
    return PyBool_FromLong(r);
}

static Py_ssize_t sim_len(SimObject *s)
{
    crdt_sim *sim = sim_get(s);

    return sim ? (Py_ssize_t)crdt_sim_nodes(sim) : -1;
}

static PyObject *sim_is_up(SimObject *s, PyObject *arg)
{
    crdt_sim *sim = sim_get(s);
    Py_ssize_t i = PyNumber_AsSsize_t(arg, PyExc_IndexError);

    if (!sim || (i == -1 && PyErr_Occurred()))
        return NULL;
    return PyBool_FromLong(i >= 0 && crdt_sim_is_up(sim, (size_t)i));
}

/* what: 0 node_id, 1 actor, 2 digest, 3 keys, 4 values (dict),
 * 5 metrics, 6 peers */
static PyObject *sim_node_query(SimObject *s, PyObject *arg, int what)
{
    Py_ssize_t i = PyNumber_AsSsize_t(arg, PyExc_IndexError);
    crdt_gossip *g;

    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (!(g = sim_node(s, i)))
        return NULL;
    switch (what) {
    case 0: return PyLong_FromUnsignedLongLong(crdt_gossip_node_id(g));
    case 1: return PyLong_FromUnsignedLongLong(crdt_gossip_actor(g));
    case 2: return PyLong_FromUnsignedLongLong(crdt_gossip_digest(g));
    case 3: return store_list(g, 0);
    case 4: return store_list(g, 3);
    case 5: return metrics_dict(g);
    default: return peers_list(g);
    }
}

static PyObject *sim_node_id(SimObject *s, PyObject *a)
{
    return sim_node_query(s, a, 0);
}
static PyObject *sim_actor(SimObject *s, PyObject *a)
{
    return sim_node_query(s, a, 1);
}
static PyObject *sim_digest(SimObject *s, PyObject *a)
{
    return sim_node_query(s, a, 2);
}
static PyObject *sim_keys(SimObject *s, PyObject *a)
{
    return sim_node_query(s, a, 3);
}
static PyObject *sim_values(SimObject *s, PyObject *a)
{
    return sim_node_query(s, a, 4);
}
static PyObject *sim_metrics(SimObject *s, PyObject *a)
{
    return sim_node_query(s, a, 5);
}
static PyObject *sim_peers(SimObject *s, PyObject *a)
{
    return sim_node_query(s, a, 6);
}

static PyObject *sim_getv(SimObject *s, PyObject *args)
{
    PyObject *key, *dflt = Py_None;
    Py_ssize_t i;
    crdt_gossip *g;

    if (!PyArg_ParseTuple(args, "nO|O:get", &i, &key, &dflt) ||
        !(g = sim_node(s, i)))
        return NULL;
    return store_get(g, key, dflt);
}

static PyObject *sim_state(SimObject *s, PyObject *args)
{
    PyObject *key;
    Py_ssize_t i;
    crdt_gossip *g;

    if (!PyArg_ParseTuple(args, "nO:state", &i, &key) ||
        !(g = sim_node(s, i)))
        return NULL;
    return store_state(g, key);
}

static PyObject *sim_send(SimObject *s, PyObject *args)
{
    crdt_sim *sim = sim_get(s);
    Py_ssize_t a, b;
    PyObject *data;
    Py_buffer d;
    int rv;

    if (!sim || !PyArg_ParseTuple(args, "nnO:send", &a, &b, &data))
        return NULL;
    if (a < 0 || b < 0) {
        PyErr_SetString(PyExc_IndexError, "node indexes are >= 0");
        return NULL;
    }
    if (crdtpy_key(data, &d, "data") < 0)
        return NULL;
    rv = crdt_sim_send(sim, (size_t)a, (size_t)b, d.buf, (size_t)d.len);
    PyBuffer_Release(&d);
    return sim_done(s, rv, NULL);
}

#define F(f) {#f, offsetof(crdt_sim_stats, f)}
static const struct field stat_fields[] = {
    F(sent), F(sent_bytes), F(delivered), F(delivered_bytes), F(lost),
    F(duplicated), F(partitioned), F(to_crashed), F(oversize), F(events),
};
#undef F

static PyObject *sim_stats(SimObject *s, PyObject *unused)
{
    crdt_sim *sim = sim_get(s);
    crdt_sim_stats st;
    PyObject *d;

    (void)unused;
    if (!sim || !(d = PyDict_New()))
        return NULL;
    crdt_sim_stats_get(sim, &st);
    if (dict_fields(d, &st, stat_fields,
                    sizeof stat_fields / sizeof stat_fields[0]) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *sim_attr(SimObject *s, void *which)
{
    crdt_sim *sim = sim_get(s);

    if (!sim)
        return NULL;
    return PyLong_FromUnsignedLongLong(which ? crdt_sim_trace_hash(sim)
                                             : crdt_sim_now(sim));
}

static PyObject *sim_repr(SimObject *s)
{
    if (!s->sim || s->busy)
        return PyUnicode_FromString("<crdt.Sim>");
    return PyUnicode_FromFormat("<crdt.Sim %zu nodes at %llu ms>",
                                crdt_sim_nodes(s->sim),
                                (unsigned long long)crdt_sim_now(s->sim));
}

static PyMethodDef sim_methods[] = {
    {"update", (PyCFunction)(void (*)(void))sim_update,
     METH_VARARGS | METH_KEYWORDS,
     "update($self, node, key, cls, fn)\n--\n\n"
     "Write on node (an index) at the current simulated time, as\n"
     "Node.update: fn(value, actor) mutates value."},
    {"delete", (PyCFunction)sim_delete, METH_VARARGS,
     "delete($self, node, key, /)\n--\n\nDelete key on node."},
    {"set_network", (PyCFunction)(void (*)(void))sim_set_network,
     METH_VARARGS | METH_KEYWORDS,
     "set_network($self, *, latency_ms=None, loss=None, dup=None, "
     "reorder=None)\n--\n\n"
     "Change the network for datagrams sent from now on (None: keep)."},
    {"partition", (PyCFunction)sim_partition, METH_O,
     "partition($self, groups, /)\n--\n\n"
     "Split the network into groups (lists of node indexes); nodes in no\n"
     "group are cut off from every other.  Replaces earlier partitions."},
    {"block", (PyCFunction)(void (*)(void))sim_block,
     METH_VARARGS | METH_KEYWORDS,
     "block($self, frm, to, blocked=True)\n--\n\n"
     "Block (or unblock) the one-way link frm -> to."},
    {"heal", (PyCFunction)sim_heal, METH_NOARGS,
     "heal($self, /)\n--\n\nRemove every partition and blocked link."},
    {"crash", (PyCFunction)sim_crash, METH_O,
     "crash($self, node, /)\n--\n\n"
     "Stop node (its snapshot is kept for a restart with state)."},
    {"restart", (PyCFunction)(void (*)(void))sim_restart,
     METH_VARARGS | METH_KEYWORDS,
     "restart($self, node, keep_state=True, *, incarnation=0)\n--\n\n"
     "Restart a crashed node with a new incarnation, with its snapshot\n"
     "(keep_state) or empty."},
    {"set_clock_offset", (PyCFunction)sim_set_clock_offset, METH_VARARGS,
     "set_clock_offset($self, node, offset_ms, /)\n--\n\n"
     "Node sees the simulated time plus offset_ms (may be negative)."},
    {"run_until", (PyCFunction)sim_run_until, METH_O,
     "run_until($self, t_ms, /)\n--\n\nRun every event up to simulated time t_ms."},
    {"run_for", (PyCFunction)sim_run_for, METH_O,
     "run_for($self, ms, /)\n--\n\nRun ms more simulated milliseconds."},
    {"run_until_converged", (PyCFunction)(void (*)(void))sim_run_until_converged,
     METH_VARARGS | METH_KEYWORDS,
     "run_until_converged($self, max_ms=None)\n--\n\n"
     "Run until every node that is up holds the same store, or until\n"
     "simulated time max_ms (default: one simulated hour from now).\n"
     "Returns the simulated time they became equal, or None."},
    {"converged", (PyCFunction)sim_converged, METH_NOARGS,
     "converged($self, /)\n--\n\nTrue iff every node that is up has the same digest."},
    {"stores_equal", (PyCFunction)sim_stores_equal, METH_NOARGS,
     "stores_equal($self, /)\n--\n\n"
     "True iff every node that is up holds byte-for-byte the same store."},
    {"is_up", (PyCFunction)sim_is_up, METH_O,
     "is_up($self, node, /)\n--\n\nTrue iff node exists and is not crashed."},
    {"node_id", (PyCFunction)sim_node_id, METH_O,
     "node_id($self, node, /)\n--\n\nThe node id of node (its index + 1)."},
    {"actor", (PyCFunction)sim_actor, METH_O,
     "actor($self, node, /)\n--\n\nThe actor node writes with (this incarnation)."},
    {"digest", (PyCFunction)sim_digest, METH_O,
     "digest($self, node, /)\n--\n\nThe root digest of node's store."},
    {"keys", (PyCFunction)sim_keys, METH_O,
     "keys($self, node, /)\n--\n\nThe present keys of node's store."},
    {"values", (PyCFunction)sim_values, METH_O,
     "values($self, node, /)\n--\n\n"
     "node's store as a dict {key: copy of the value}."},
    {"get", (PyCFunction)sim_getv, METH_VARARGS,
     "get($self, node, key, default=None, /)\n--\n\nA copy of key's value on node."},
    {"state", (PyCFunction)sim_state, METH_VARARGS,
     "state($self, node, key, /)\n--\n\nThe encoding of key's state on node."},
    {"metrics", (PyCFunction)sim_metrics, METH_O,
     "metrics($self, node, /)\n--\n\nnode's engine counters (Node.metrics)."},
    {"peers", (PyCFunction)sim_peers, METH_O,
     "peers($self, node, /)\n--\n\nnode's peer table (Node.peers)."},
    {"send", (PyCFunction)sim_send, METH_VARARGS,
     "send($self, frm, to, data, /)\n--\n\n"
     "Inject a datagram from node frm to node to through the network."},
    {"stats", (PyCFunction)sim_stats, METH_NOARGS,
     "stats($self, /)\n--\n\nThe network counters as a dict."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef sim_getset[] = {
    {"now", (getter)sim_attr, NULL, "The simulated time in ms.", NULL},
    {"trace_hash", (getter)sim_attr, NULL,
     "A hash of everything the network did: same seed and calls, same hash.",
     (void *)1},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods sim_sequence = {
    .sq_length = (lenfunc)sim_len,
};

static PyTypeObject Sim_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "crdt.Sim",
    .tp_basicsize = sizeof(SimObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc =
        "Sim(nodes=3, *, seed=1, latency_ms=(1, 20), loss=0.0, dup=0.0, "
        "reorder=0.0, mtu=1200, join_seed=False, on_change=None, "
        "on_peer=None, **settings)\n--\n\n"
        "A deterministic simulated cluster of gossip nodes (crdt/sim.h):\n"
        "node i (0 <= i < len(sim)) has node id i + 1.  Write with\n"
        "update/delete, inject faults (set_network, partition, block, heal,\n"
        "crash, restart, set_clock_offset), run (run_until, run_for,\n"
        "run_until_converged), read every node (values, get, digest,\n"
        "metrics).  Same seed and calls, same run (trace_hash).\n"
        "on_change(node, now_ms, key) and on_peer(node, peer, up) run\n"
        "during runs and may not call the Sim.  settings: the engine\n"
        "settings of crdt.Node.",
    .tp_new = sim_new,
    .tp_dealloc = (destructor)sim_dealloc,
    .tp_traverse = (traverseproc)sim_traverse,
    .tp_clear = (inquiry)sim_clear,
    .tp_methods = sim_methods,
    .tp_getset = sim_getset,
    .tp_as_sequence = &sim_sequence,
    .tp_repr = (reprfunc)sim_repr,
};

/* ============================================================ scenarios */

static PyObject *mod_run_scenario(PyObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"text", "max_ms", "dump", NULL};
    crdt_sim_scenario_options o;
    PyObject *text, *r;
    Py_buffer b;
    crdt_buf out;
    bool conv = false;
    char err[512] = "";
    int dump = 0, rv;
    uint64_t max_ms;

    (void)m;
    crdt_sim_scenario_options_default(&o);
    max_ms = o.max_ms;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$O&p:run_scenario", kwlist,
                                     &text, u64_conv, &max_ms, &dump))
        return NULL;
    if (PyUnicode_Check(text)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(text, &n);

        if (!p)
            return NULL;
        text = PyBytes_FromStringAndSize(p, n);
    } else {
        Py_INCREF(text);
    }
    if (!text)
        return NULL;
    if (crdtpy_key(text, &b, "text") < 0) {
        Py_DECREF(text);
        return NULL;
    }
    o.max_ms = max_ms;
    o.dump = dump;
    crdt_buf_init(&out, NULL);
    Py_BEGIN_ALLOW_THREADS
    rv = crdt_sim_run_scenario(b.buf, (size_t)b.len, &o, NULL, &out, &conv,
                               err, sizeof err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    Py_DECREF(text);
    if (rv == CRDT_ERR_DECODE) {
        crdt_buf_clear(&out);
        return crdtpy_scenario_error(err[0] ? err : crdt_strerror(rv));
    }
    if (rv) {
        crdt_buf_clear(&out);
        return crdtpy_error(rv);
    }
    r = Py_BuildValue("(Os#)", conv ? Py_True : Py_False,
                      (const char *)out.data, (Py_ssize_t)out.len);
    crdt_buf_clear(&out);
    return r;
}

static PyMethodDef gossip_functions[] = {
    {"_run_scenario", (PyCFunction)(void (*)(void))mod_run_scenario,
     METH_VARARGS | METH_KEYWORDS,
     "_run_scenario(text, *, max_ms=3600000, dump=False)\n--\n\n"
     "Run a crdt sim scenario (JSON Lines); (converged, result JSON)."},
    {NULL, NULL, 0, NULL}};

int crdtpy_gossip_init(PyObject *m)
{
    if (!Peer_Type.tp_name &&
        PyStructSequence_InitType2(&Peer_Type, &peer_desc) < 0)
        return -1;
    if (PyType_Ready(&Node_Type) < 0 || PyType_Ready(&Sim_Type) < 0)
        return -1;
    if (PyModule_AddObjectRef(m, "Node", (PyObject *)&Node_Type) < 0 ||
        PyModule_AddObjectRef(m, "Sim", (PyObject *)&Sim_Type) < 0 ||
        PyModule_AddObjectRef(m, "Peer", (PyObject *)&Peer_Type) < 0 ||
        PyModule_AddFunctions(m, gossip_functions) < 0 ||
        PyModule_AddIntConstant(m, "MAX_DATAGRAM", CRDT_GOSSIP_MAX_DATAGRAM) <
            0 ||
        PyModule_AddIntConstant(m, "MIN_DATAGRAM", CRDT_GOSSIP_MIN_DATAGRAM) <
            0)
        return -1;
    return 0;
}
