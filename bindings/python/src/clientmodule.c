/* SPDX-License-Identifier: MIT */
/*
 * crdt.Client, crdt.Session and crdt.Watch: the blocking client of a
 * crdt-node (libcrdt-node's crdt/client.h) for Python.
 *
 * A Client owns one crdt_client connection.  Every request is one
 * crdt_client_call made with the GIL released; while it runs the Client
 * is marked busy and any other use of it (from another thread) raises
 * RuntimeError, as for the other objects of the extension (crdtpy.h).
 * The reply's views point into the connection's buffer, so they are
 * turned into Python objects at once, before anything else can use it.
 *
 * watch() opens a second connection of its own (a watch keeps answering
 * on its connection until that closes) and returns a Watch iterator over
 * it; it waits in slices of WATCH_SLICE_MS so that signals (Ctrl-C) are
 * seen between them.
 *
 * Keys, values and elements are str (sent as UTF-8) or bytes-like; the
 * state of get/watch goes through crdt.decode, status through
 * json.loads.
 */
#include "crdtpy.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <crdt/client.h>

/* How long one wait of a watch lasts before signals are checked. */
#define WATCH_SLICE_MS 200u
/* A call with a consistency timeout waits at least this much longer than
 * it, so the node's own TIMEOUT reply arrives before the client gives
 * up. */
#define CALL_GRACE_MS 1000u

static PyObject *decode_fn;  /* crdt._crdt.decode */
static PyObject *json_loads; /* json.loads */

/* ============================================================= helpers */

/* A str (its UTF-8) or a bytes-like object (a buffer view). */
typedef struct cbytes {
    Py_buffer view;
    int has_view;
    const uint8_t *p;
    size_t n;
} cbytes;

static int cbytes_get(PyObject *o, cbytes *b, const char *what)
{
    memset(b, 0, sizeof *b);
    if (PyUnicode_Check(o)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(o, &n);

        if (!s)
            return -1;
        b->p = (const uint8_t *)s;
        b->n = (size_t)n;
        return 0;
    }
    if (PyObject_GetBuffer(o, &b->view, PyBUF_SIMPLE) < 0) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be str or bytes-like, not %.100s", what,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    b->has_view = 1;
    b->p = b->view.buf;
    b->n = (size_t)b->view.len;
    if (!b->p)
        b->p = (const uint8_t *)""; /* present, if empty */
    return 0;
}

static void cbytes_release(cbytes *b)
{
    if (b->has_view)
        PyBuffer_Release(&b->view);
    b->has_view = 0;
}

/* Seconds (int or float >= 0) to milliseconds, rounded up; None: *none. */
static int seconds_ms(PyObject *o, uint32_t *ms, uint32_t none,
                      uint32_t max, const char *what)
{
    double s;

    if (o == Py_None) {
        *ms = none;
        return 0;
    }
    if (!PyFloat_Check(o) && !PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a number of seconds or "
                     "None, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    s = PyFloat_AsDouble(o);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (!(s >= 0) || s * 1000.0 > (double)max) {
        PyErr_Format(PyExc_ValueError, "%s must be in 0..%u seconds, got %R",
                     what, max / 1000u, o);
        return -1;
    }
    *ms = (uint32_t)ceil(s * 1000.0);
    if (*ms == 0)
        *ms = 1; /* 0 would mean "no bound" */
    return 0;
}

/* A consistency name to its crdt_level. */
static int level_of(const char *s, int *level)
{
    int l = crdt_level_parse(s, strlen(s));

    if (l < 0) {
        PyErr_Format(PyExc_ValueError, "consistency must be \"local\", "
                     "\"one\", \"quorum\" or \"all\", not \"%s\"", s);
        return -1;
    }
    *level = l;
    return 0;
}

/* A failed crdt_client_* call: the error, with errno's text for I/O. */
static PyObject *client_error(int rv, int err)
{
    if (rv == CRDT_ERR_IO && err)
        return crdtpy_error_msg(rv, strerror(err));
    if (rv == CRDT_ERR_TIMEOUT)
        return crdtpy_error_msg(rv, "the node did not reply within the "
                                    "client's timeout");
    return crdtpy_error(rv);
}

/* ============================================================= Session */

typedef struct SessionObject {
    PyObject_HEAD
    PyObject *token; /* bytes, or None before the first reply */
} SessionObject;

static PyTypeObject Session_Type;

static int session_set_token(SessionObject *self, PyObject *v, void *c)
{
    PyObject *b;

    (void)c;
    if (!v || v == Py_None) {
        Py_XSETREF(self->token, Py_NewRef(Py_None));
        return 0;
    }
    if (!PyObject_CheckBuffer(v) || PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "token must be bytes-like or None, "
                     "not %.100s", Py_TYPE(v)->tp_name);
        return -1;
    }
    if (!(b = PyBytes_FromObject(v)))
        return -1;
    Py_XSETREF(self->token, b);
    return 0;
}

static PyObject *session_get_token(SessionObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->token ? self->token : Py_None);
}

static int session_init(SessionObject *self, PyObject *args, PyObject *kwds)
{
    static char *kw[] = {"token", NULL};
    PyObject *token = Py_None;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Session", kw, &token))
        return -1;
    return session_set_token(self, token, NULL);
}

static void session_dealloc(SessionObject *self)
{
    Py_XDECREF(self->token);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *session_repr(SessionObject *self)
{
    return PyUnicode_FromFormat("Session(%R)",
                                self->token ? self->token : Py_None);
}

static PyGetSetDef session_getset[] = {
    {"token", (getter)session_get_token, (setter)session_set_token,
     "The session token (bytes) of the last reply that carried one, or\n"
     "None.  Sent with every request made with this session.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject Session_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "crdt.Session",
    .tp_basicsize = sizeof(SessionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Session(token=None)\n--\n\n"
              "A client session: pass it as session= to Client requests.\n"
              "Each request sends its token; each reply's token replaces\n"
              "it, so later reads see at least the writes made before\n"
              "(read-your-writes), even through another node.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)session_init,
    .tp_dealloc = (destructor)session_dealloc,
    .tp_repr = (reprfunc)session_repr,
    .tp_getset = session_getset,
};

/* The token a session= argument sends (None: no token). */
static int session_token(PyObject *session, cbytes *b)
{
    memset(b, 0, sizeof *b);
    if (session == Py_None)
        return 0;
    if (PyObject_TypeCheck(session, &Session_Type)) {
        PyObject *t = ((SessionObject *)session)->token;

        if (!t || t == Py_None)
            return 0;
        b->p = (const uint8_t *)PyBytes_AS_STRING(t);
        b->n = (size_t)PyBytes_GET_SIZE(t);
        return 0;
    }
    if (PyUnicode_Check(session) || !PyObject_CheckBuffer(session)) {
        PyErr_Format(PyExc_TypeError, "session must be a crdt.Session, "
                     "bytes or None, not %.100s", Py_TYPE(session)->tp_name);
        return -1;
    }
    return cbytes_get(session, b, "session");
}

/* Stores a reply's token in a Session (other session= values are only
 * sent). */
static int session_update(PyObject *session, const crdt_client_reply *rp)
{
    PyObject *t;

    if (!rp->token || !PyObject_TypeCheck(session, &Session_Type))
        return 0;
    t = PyBytes_FromStringAndSize((const char *)rp->token,
                                  (Py_ssize_t)rp->tlen);
    if (!t)
        return -1;
    Py_XSETREF(((SessionObject *)session)->token, t);
    return 0;
}

/* The value of a get or watch reply: the decoded state, or None. */
static PyObject *reply_value(const crdt_client_reply *rp)
{
    PyObject *b, *v;

    if (!rp->state || rp->deleted)
        Py_RETURN_NONE;
    b = PyBytes_FromStringAndSize((const char *)rp->state,
                                  (Py_ssize_t)rp->slen);
    if (!b)
        return NULL;
    v = PyObject_CallOneArg(decode_fn, b);
    Py_DECREF(b);
    return v;
}

/* Raises the error a !ok reply carries. */
static PyObject *reply_error(const crdt_client_reply *rp)
{
    PyObject *m = NULL;
    const char *msg = NULL;

    if (rp->msg) {
        m = PyUnicode_DecodeUTF8(rp->msg, (Py_ssize_t)rp->msglen, "replace");
        if (!m)
            return NULL;
        msg = PyUnicode_AsUTF8(m);
        if (!msg) {
            Py_DECREF(m);
            return NULL;
        }
    }
    crdtpy_error_msg(rp->err, msg);
    Py_XDECREF(m);
    return NULL;
}

/* ============================================================== Client */

typedef struct ClientObject {
    PyObject_HEAD
    crdt_client *c;  /* NULL once closed */
    PyObject *path;  /* bytes (file system encoding) */
    uint32_t wait_ms; /* bound of each wait (0: none) */
    int busy;        /* a call is waiting with the GIL released */
} ClientObject;

static PyTypeObject Client_Type;
static PyTypeObject Watch_Type;

/* Connects to path (bytes) with the GIL released. */
static int connect_path(PyObject *path, crdt_client **out)
{
    const char *p = PyBytes_AS_STRING(path);
    int rv, err = 0;

    if (strlen(p) != (size_t)PyBytes_GET_SIZE(path)) {
        PyErr_SetString(PyExc_ValueError, "path contains a NUL byte");
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    rv = crdt_client_connect(out, p);
    err = errno;
    Py_END_ALLOW_THREADS
    if (rv) {
        client_error(rv, rv == CRDT_ERR_IO ? err : 0);
        return -1;
    }
    return 0;
}

static int client_init(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kw[] = {"path", "timeout", NULL};
    PyObject *path = NULL, *timeout = NULL;
    crdt_client *c;
    uint32_t ms;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&|O:Client", kw,
                                     PyUnicode_FSConverter, &path, &timeout))
        return -1;
    if (timeout) {
        if (seconds_ms(timeout, &ms, 0, UINT32_MAX, "timeout") < 0)
            goto fail;
    } else {
        ms = 5000;
    }
    if (self->c || self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Client already connected");
        goto fail;
    }
    if (connect_path(path, &c) < 0)
        goto fail;
    self->c = c;
    self->wait_ms = ms;
    Py_XSETREF(self->path, path);
    return 0;
fail:
    Py_XDECREF(path);
    return -1;
}

static void client_dealloc(ClientObject *self)
{
    crdt_client_close(self->c);
    Py_XDECREF(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Checks that self may be used now. */
static int client_ready(ClientObject *self)
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Client in use by another thread");
        return -1;
    }
    if (!self->c) {
        PyErr_SetString(PyExc_ValueError, "Client is closed");
        return -1;
    }
    return 0;
}

/* What one request carries, as parsed from a method's arguments. */
typedef struct callargs {
    int op;
    PyObject *key, *value, *session, *timeout;
    const char *type, *consistency;
    uint64_t by;
} callargs;

/* Sends a request and returns what its op returns: acks for writes, the
 * value for get, a dict for status. */
static PyObject *client_request(ClientObject *self, const callargs *a)
{
    crdt_client_request rq;
    crdt_client_reply rp;
    cbytes key, value, token;
    uint32_t wait, tms = CRDT_CLIENT_DEFAULT_TIMEOUT_MS;
    PyObject *res = NULL;
    int rv, err = 0;

    if (client_ready(self) < 0)
        return NULL;
    memset(&key, 0, sizeof key);
    memset(&value, 0, sizeof value);
    memset(&token, 0, sizeof token);
    crdt_client_request_init(&rq, a->op);
    if (a->consistency && level_of(a->consistency, &rq.level) < 0)
        return NULL;
    if (a->timeout &&
        seconds_ms(a->timeout, &tms, CRDT_CLIENT_DEFAULT_TIMEOUT_MS,
                   CRDT_CLIENT_MAX_TIMEOUT_MS, "timeout") < 0)
        return NULL;
    rq.timeout_ms = tms;
    rq.by = a->by;
    if (a->type) {
        rq.type = a->type;
        rq.typelen = strlen(a->type);
    }
    if (a->key) {
        if (cbytes_get(a->key, &key, "key") < 0)
            goto out;
        if (key.n == 0 || key.n > CRDT_CLIENT_MAX_KEY) {
            crdtpy_error_msg(CRDT_ERR_INVALID_ARG,
                             "a key must be 1..1024 bytes");
            goto out;
        }
        rq.key = key.p;
        rq.klen = key.n;
    }
    if (a->value) {
        if (cbytes_get(a->value, &value, "value") < 0)
            goto out;
        rq.value = value.p;
        rq.vlen = value.n;
    }
    if (a->session && session_token(a->session, &token) < 0)
        goto out;
    rq.token = token.p;
    rq.tlen = token.n;
    wait = self->wait_ms;
    if (wait && a->timeout && a->timeout != Py_None &&
        wait < tms + CALL_GRACE_MS)
        wait = tms + CALL_GRACE_MS;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rv = crdt_client_call(self->c, &rq, &rp, wait);
    err = errno;
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (rv) {
        client_error(rv, err);
        goto out;
    }
    if (a->session && session_update(a->session, &rp) < 0)
        goto out;
    if (!rp.ok) {
        reply_error(&rp);
        goto out;
    }
    if (a->op == CRDT_OP_GET) {
        res = reply_value(&rp);
    } else if (a->op == CRDT_OP_STATUS) {
        PyObject *s;

        if (!rp.status) {
            crdtpy_error_msg(CRDT_ERR_DECODE, "status reply without status");
            goto out;
        }
        s = PyUnicode_DecodeUTF8(rp.status, (Py_ssize_t)rp.statuslen,
                                 "strict");
        if (!s)
            goto out;
        res = PyObject_CallOneArg(json_loads, s);
        Py_DECREF(s);
    } else {
        res = PyLong_FromUnsignedLong(rp.acks);
    }
out:
    cbytes_release(&key);
    cbytes_release(&value);
    cbytes_release(&token);
    return res;
}

static int by_conv(PyObject *o, void *out)
{
    return crdtpy_u64(o, out, "by") == 0;
}

/* inc and dec: (key, by=1, type=..., consistency="one", timeout=None,
 * session=None) */
static PyObject *counter_op(ClientObject *self, PyObject *args,
                            PyObject *kwds, int op, const char *fname)
{
    static char *kw[] = {"key", "by", "type", "consistency", "timeout",
                         "session", NULL};
    callargs a = {op, NULL, NULL, NULL, NULL, NULL, "one", 1};
    char fmt[32];

    snprintf(fmt, sizeof fmt, "O|O&zsOO:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kw, &a.key, by_conv,
                                     &a.by, &a.type, &a.consistency,
                                     &a.timeout, &a.session))
        return NULL;
    return client_request(self, &a);
}

static PyObject *client_inc(ClientObject *self, PyObject *args,
                            PyObject *kwds)
{
    return counter_op(self, args, kwds, CRDT_OP_INC, "inc");
}

static PyObject *client_dec(ClientObject *self, PyObject *args,
                            PyObject *kwds)
{
    return counter_op(self, args, kwds, CRDT_OP_DEC, "dec");
}

/* set, add, remove: (key, value/elem, type=..., consistency, timeout,
 * session) */
static PyObject *value_op(ClientObject *self, PyObject *args, PyObject *kwds,
                          int op)
{
    static char *kw_value[] = {"key", "value", "type", "consistency",
                               "timeout", "session", NULL};
    static char *kw_elem[] = {"key", "elem", "type", "consistency",
                              "timeout", "session", NULL};
    callargs a = {op, NULL, NULL, NULL, NULL, NULL, "one", 1};
    const char *fmt = op == CRDT_OP_SET   ? "OO|zsOO:set"
                      : op == CRDT_OP_ADD ? "OO|zsOO:add"
                                          : "OO|zsOO:remove";

    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt,
                                     op == CRDT_OP_SET ? kw_value : kw_elem,
                                     &a.key, &a.value, &a.type,
                                     &a.consistency, &a.timeout, &a.session))
        return NULL;
    return client_request(self, &a);
}

static PyObject *client_set(ClientObject *self, PyObject *args,
                            PyObject *kwds)
{
    return value_op(self, args, kwds, CRDT_OP_SET);
}

static PyObject *client_add(ClientObject *self, PyObject *args,
                            PyObject *kwds)
{
    return value_op(self, args, kwds, CRDT_OP_ADD);
}

static PyObject *client_remove(ClientObject *self, PyObject *args,
                               PyObject *kwds)
{
    return value_op(self, args, kwds, CRDT_OP_REMOVE);
}

/* enable, disable: (key, type=None, consistency, timeout, session) */
static PyObject *flag_op(ClientObject *self, PyObject *args, PyObject *kwds,
                         int op)
{
    static char *kw[] = {"key", "type", "consistency", "timeout", "session",
                         NULL};
    callargs a = {op, NULL, NULL, NULL, NULL, NULL, "one", 1};

    if (!PyArg_ParseTupleAndKeywords(args, kwds,
                                     op == CRDT_OP_ENABLE ? "O|zsOO:enable"
                                                          : "O|zsOO:disable",
                                     kw, &a.key, &a.type, &a.consistency,
                                     &a.timeout, &a.session))
        return NULL;
    return client_request(self, &a);
}

static PyObject *client_enable(ClientObject *self, PyObject *args,
                               PyObject *kwds)
{
    return flag_op(self, args, kwds, CRDT_OP_ENABLE);
}

static PyObject *client_disable(ClientObject *self, PyObject *args,
                                PyObject *kwds)
{
    return flag_op(self, args, kwds, CRDT_OP_DISABLE);
}

static PyObject *client_get(ClientObject *self, PyObject *args,
                            PyObject *kwds)
{
    static char *kw[] = {"key", "consistency", "timeout", "session", NULL};
    callargs a = {CRDT_OP_GET, NULL, NULL, NULL, NULL, NULL, "one", 1};

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|sOO:get", kw, &a.key,
                                     &a.consistency, &a.timeout, &a.session))
        return NULL;
    return client_request(self, &a);
}

static PyObject *client_status(ClientObject *self, PyObject *args,
                               PyObject *kwds)
{
    static char *kw[] = {"timeout", NULL};
    callargs a = {CRDT_OP_STATUS, NULL, NULL, NULL, NULL, NULL, NULL, 1};

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:status", kw,
                                     &a.timeout))
        return NULL;
    return client_request(self, &a);
}

static PyObject *client_close(ClientObject *self, PyObject *unused)
{
    (void)unused;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Client in use by another thread");
        return NULL;
    }
    crdt_client_close(self->c);
    self->c = NULL;
    Py_RETURN_NONE;
}

static PyObject *client_enter(ClientObject *self, PyObject *unused)
{
    (void)unused;
    if (client_ready(self) < 0)
        return NULL;
    return Py_NewRef(self);
}

static PyObject *client_exit(ClientObject *self, PyObject *args)
{
    PyObject *r;

    (void)args;
    r = client_close(self, NULL);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *client_fileno(ClientObject *self, PyObject *unused)
{
    (void)unused;
    if (client_ready(self) < 0)
        return NULL;
    return PyLong_FromLong(crdt_client_fd(self->c));
}

static PyObject *client_get_closed(ClientObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->c == NULL);
}

static PyObject *client_get_path(ClientObject *self, void *c)
{
    (void)c;
    if (!self->path)
        Py_RETURN_NONE; /* never initialised */
    return PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(self->path),
                                            PyBytes_GET_SIZE(self->path));
}

static PyObject *client_get_timeout(ClientObject *self, void *c)
{
    (void)c;
    if (!self->wait_ms)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(self->wait_ms / 1000.0);
}

static PyObject *client_repr(ClientObject *self)
{
    return PyUnicode_FromFormat("Client(%R%s)",
                                self->path ? self->path : Py_None,
                                self->c ? "" : ", closed");
}

/* =============================================================== Watch */

typedef struct WatchObject {
    PyObject_HEAD
    crdt_client *c;    /* its own connection; NULL once closed */
    PyObject *session; /* updated with each reply's token (or None) */
    int busy;
} WatchObject;

static PyObject *client_watch(ClientObject *self, PyObject *args,
                              PyObject *kwds)
{
    static char *kw[] = {"key", "consistency", "session", NULL};
    PyObject *keyo, *session = Py_None;
    const char *consistency = "one";
    crdt_client_request rq;
    cbytes key, token;
    WatchObject *w;
    int rv, err = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|sO:watch", kw, &keyo,
                                     &consistency, &session))
        return NULL;
    if (client_ready(self) < 0)
        return NULL;
    crdt_client_request_init(&rq, CRDT_OP_WATCH);
    if (level_of(consistency, &rq.level) < 0)
        return NULL;
    if (cbytes_get(keyo, &key, "key") < 0)
        return NULL;
    if (key.n == 0 || key.n > CRDT_CLIENT_MAX_KEY) {
        cbytes_release(&key);
        return crdtpy_error_msg(CRDT_ERR_INVALID_ARG,
                                "a key must be 1..1024 bytes");
    }
    if (session_token(session, &token) < 0) {
        cbytes_release(&key);
        return NULL;
    }
    rq.key = key.p;
    rq.klen = key.n;
    rq.token = token.p;
    rq.tlen = token.n;
    w = PyObject_New(WatchObject, &Watch_Type);
    if (!w)
        goto fail;
    w->c = NULL;
    w->busy = 0;
    w->session = Py_NewRef(session);
    if (connect_path(self->path, &w->c) < 0)
        goto fail;
    Py_BEGIN_ALLOW_THREADS
    rv = crdt_client_send(w->c, &rq);
    err = errno;
    Py_END_ALLOW_THREADS
    if (rv) {
        client_error(rv, err);
        goto fail;
    }
    cbytes_release(&key);
    cbytes_release(&token);
    return (PyObject *)w;
fail:
    cbytes_release(&key);
    cbytes_release(&token);
    Py_XDECREF(w);
    return NULL;
}

static void watch_dealloc(WatchObject *self)
{
    crdt_client_close(self->c);
    Py_XDECREF(self->session);
    PyObject_Free(self);
}

static PyObject *watch_next(WatchObject *self)
{
    crdt_client_reply rp;
    int rv, err = 0;

    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Watch in use by another thread");
        return NULL;
    }
    if (!self->c)
        return NULL; /* StopIteration */
    for (;;) {
        self->busy = 1;
        Py_BEGIN_ALLOW_THREADS
        rv = crdt_client_recv(self->c, &rp, WATCH_SLICE_MS);
        err = errno;
        Py_END_ALLOW_THREADS
        self->busy = 0;
        if (rv != CRDT_ERR_TIMEOUT)
            break;
        if (PyErr_CheckSignals() < 0)
            return NULL;
    }
    if (rv)
        return client_error(rv, err);
    if (session_update(self->session, &rp) < 0)
        return NULL;
    if (!rp.ok)
        return reply_error(&rp);
    return reply_value(&rp);
}

static PyObject *watch_close(WatchObject *self, PyObject *unused)
{
    (void)unused;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Watch in use by another thread");
        return NULL;
    }
    crdt_client_close(self->c);
    self->c = NULL;
    Py_RETURN_NONE;
}

static PyObject *watch_enter(WatchObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *watch_exit(WatchObject *self, PyObject *args)
{
    PyObject *r;

    (void)args;
    if (!(r = watch_close(self, NULL)))
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyMethodDef watch_methods[] = {
    {"close", (PyCFunction)watch_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the watch's connection (the node stops\n"
     "watching); iteration then stops."},
    {"__enter__", (PyCFunction)watch_enter, METH_NOARGS,
     "Return the watch itself."},
    {"__exit__", (PyCFunction)watch_exit, METH_VARARGS,
     "Close the watch."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject Watch_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "crdt.Watch",
    .tp_basicsize = sizeof(WatchObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "What Client.watch returns: an iterator over a key's value,\n"
              "first as it is, then after each change: the decoded CRDT,\n"
              "or None while the key is absent or once it is deleted.\n"
              "Each next() waits (without the GIL, seeing signals) for the\n"
              "node's next reply.  It has its own connection: close() (or\n"
              "a with block) ends the watch.  Errors raise crdt.Error\n"
              "subclasses; a closed connection raises crdt.TransportError.",
    .tp_dealloc = (destructor)watch_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)watch_next,
    .tp_methods = watch_methods,
};

/* ======================================================= Client's type */

#define WRITE_DOC(sig, what)                                               \
    sig "\n--\n\n" what "\n"                                               \
        "consistency: \"local\", \"one\", \"quorum\" or \"all\"; timeout: " \
        "seconds\nthe node may take to reach it (None: its default, 5 s);\n" \
        "session: a crdt.Session (updated from the reply) or a bytes\n"   \
        "token.  Returns the number of replicas that committed the\n"     \
        "write.  Keys and values are str (UTF-8) or bytes.  type names\n" \
        "the type when the key is new (None: the node's default for the\n" \
        "operation: gcounter for inc, pncounter for dec, lww for set,\n"  \
        "orset for add and remove, ewflag for enable and disable); a\n"   \
        "type other than an existing key's raises TypeMismatchError."

static PyMethodDef client_methods[] = {
    {"inc", (PyCFunction)(void (*)(void))client_inc,
     METH_VARARGS | METH_KEYWORDS,
     WRITE_DOC("inc($self, /, key, by=1, type=None, consistency='one', "
               "timeout=None, session=None)",
               "Add by to the counter at key (a gcounter or pncounter).")},
    {"dec", (PyCFunction)(void (*)(void))client_dec,
     METH_VARARGS | METH_KEYWORDS,
     WRITE_DOC("dec($self, /, key, by=1, type=None, "
               "consistency='one', timeout=None, session=None)",
               "Subtract by from the pncounter at key.")},
    {"set", (PyCFunction)(void (*)(void))client_set,
     METH_VARARGS | METH_KEYWORDS,
     WRITE_DOC("set($self, /, key, value, type=None, consistency='one', "
               "timeout=None, session=None)",
               "Write value to the register at key (lww or mvreg).")},
    {"add", (PyCFunction)(void (*)(void))client_add,
     METH_VARARGS | METH_KEYWORDS,
     WRITE_DOC("add($self, /, key, elem, type=None, consistency='one', "
               "timeout=None, session=None)",
               "Add elem to the set at key (orset or gset).")},
    {"remove", (PyCFunction)(void (*)(void))client_remove,
     METH_VARARGS | METH_KEYWORDS,
     WRITE_DOC("remove($self, /, key, elem, type=None, "
               "consistency='one', timeout=None, session=None)",
               "Remove elem from the orset at key.")},
    {"enable", (PyCFunction)(void (*)(void))client_enable,
     METH_VARARGS | METH_KEYWORDS,
     WRITE_DOC("enable($self, /, key, type=None, consistency='one', "
               "timeout=None, session=None)",
               "Enable the flag at key (ewflag or dwflag).")},
    {"disable", (PyCFunction)(void (*)(void))client_disable,
     METH_VARARGS | METH_KEYWORDS,
     WRITE_DOC("disable($self, /, key, type=None, consistency='one', "
               "timeout=None, session=None)",
               "Disable the flag at key (ewflag or dwflag).")},
    {"get", (PyCFunction)(void (*)(void))client_get,
     METH_VARARGS | METH_KEYWORDS,
     "get($self, /, key, consistency='one', timeout=None, session=None)\n"
     "--\n\n"
     "Read key: its value as a CRDT object (crdt.decode of the node's\n"
     "state), or None when the key is absent.  consistency, timeout and\n"
     "session as for the writes (inc)."},
    {"status", (PyCFunction)(void (*)(void))client_status,
     METH_VARARGS | METH_KEYWORDS,
     "status($self, /, timeout=None)\n--\n\n"
     "The node's status, a dict (its JSON status object)."},
    {"watch", (PyCFunction)(void (*)(void))client_watch,
     METH_VARARGS | METH_KEYWORDS,
     "watch($self, /, key, consistency='one', session=None)\n--\n\n"
     "Watch key on a connection of its own: returns a crdt.Watch that\n"
     "yields the key's value now and after each change (None while\n"
     "absent or once deleted), until closed."},
    {"close", (PyCFunction)client_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the connection (idempotent); later "
     "requests raise\nValueError."},
    {"fileno", (PyCFunction)client_fileno, METH_NOARGS,
     "fileno($self, /)\n--\n\nThe connection's socket descriptor (for "
     "select/poll only)."},
    {"__enter__", (PyCFunction)client_enter, METH_NOARGS,
     "Return the client itself."},
    {"__exit__", (PyCFunction)client_exit, METH_VARARGS,
     "Close the client."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef client_getset[] = {
    {"closed", (getter)client_get_closed, NULL,
     "Whether close() was called.", NULL},
    {"path", (getter)client_get_path, NULL,
     "The node's client socket path.", NULL},
    {"timeout", (getter)client_get_timeout, NULL,
     "Seconds each request waits for its reply (None: no bound).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject Client_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "crdt.Client",
    .tp_basicsize = sizeof(ClientObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "Client(path, timeout=5.0)\n--\n\n"
        "A blocking connection to a crdt-node's client socket at path\n"
        "(DIR/client.sock).  Each request waits for its reply at most\n"
        "timeout seconds (None: no bound; a request's own consistency\n"
        "timeout, plus a second, if longer), with the GIL released.\n"
        "Writes (inc, dec, set, add, remove, enable, disable) return the\n"
        "number of replicas that committed them; get returns the value\n"
        "(a CRDT object, or None); status a dict; watch a crdt.Watch.\n"
        "A failure the node reports raises its crdt.Error subclass (with\n"
        "the node's message); no reply in time raises\n"
        "crdt.ConsistencyTimeout (a TimeoutError); a lost connection\n"
        "crdt.TransportError (an OSError).  One thread at a time: use\n"
        "from another while a request waits raises RuntimeError.  Usable\n"
        "as a context manager (closes on exit).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)client_init,
    .tp_dealloc = (destructor)client_dealloc,
    .tp_repr = (reprfunc)client_repr,
    .tp_methods = client_methods,
    .tp_getset = client_getset,
};

int crdtpy_client_init(PyObject *m)
{
    PyObject *json;

    if (PyType_Ready(&Session_Type) < 0 || PyType_Ready(&Client_Type) < 0 ||
        PyType_Ready(&Watch_Type) < 0)
        return -1;
    if (!decode_fn && !(decode_fn = PyObject_GetAttrString(m, "decode")))
        return -1;
    if (!json_loads) {
        if (!(json = PyImport_ImportModule("json")))
            return -1;
        json_loads = PyObject_GetAttrString(json, "loads");
        Py_DECREF(json);
        if (!json_loads)
            return -1;
    }
    if (PyModule_AddObjectRef(m, "Client", (PyObject *)&Client_Type) < 0 ||
        PyModule_AddObjectRef(m, "Session", (PyObject *)&Session_Type) < 0 ||
        PyModule_AddObjectRef(m, "Watch", (PyObject *)&Watch_Type) < 0)
        return -1;
    return 0;
}
