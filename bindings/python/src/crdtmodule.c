/* SPDX-License-Identifier: MIT */
/*
 * crdt._crdt: CPython bindings of libcrdt's data types (this file) and of
 * libcrdt-gossip's engine and simulator (gossipmodule.c).
 *
 * Every Python object wraps one C object and calls libcrdt for every
 * operation: there is no Python-side copy of any state.  The generic
 * verbs (merge, copy, ==, bytes, from_bytes) go through the type's vtable
 * (crdt_type); the type-specific ones call the type's own functions.
 * Mutators build a fresh object of the same class and pass it as the C
 * mutator's delta, so the delta returned is exactly the library's.
 *
 * Ownership and threads: see crdtpy.h.  Errors: every negative crdt_error
 * becomes an exception (crdtpy_error); none is dropped.
 */
#include "crdtpy.h"

#include <string.h>

/* Objects at least this big (rough elements, tinfo.weight) are merged and
 * encoded with the GIL released; bytes objects at least this long are
 * decoded with it released.  Below, releasing costs more than it gives. */
#define BIG_WEIGHT 2048u
#define BIG_BYTES 65536u

/* ================================================================ errors */

static PyObject *E_Error, *E_Decode, *E_Invalid, *E_Limit, *E_Overflow,
    *E_TypeMismatch, *E_Drift, *E_Buffer, *E_Random, *E_NotFound, *E_Busy,
    *E_Auth, *E_IO, *E_Timeout,
    *E_Scenario;

static PyObject *raise_with(PyObject *cls, int code, const char *msg,
                            Py_ssize_t offset)
{
    PyObject *exc, *v;

    exc = PyObject_CallFunction(cls, "s", msg);
    if (!exc)
        return NULL;
    v = PyLong_FromLong(code);
    if (!v || PyObject_SetAttrString(exc, "code", v) < 0)
        goto fail;
    Py_DECREF(v);
    v = offset >= 0 ? PyLong_FromSsize_t(offset) : Py_NewRef(Py_None);
    if (!v || PyObject_SetAttrString(exc, "offset", v) < 0)
        goto fail;
    Py_DECREF(v);
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
fail:
    Py_XDECREF(v);
    Py_DECREF(exc);
    return NULL;
}

/* The exception class of an error code (NULL for CRDT_ERR_NOMEM). */
static PyObject *class_of(int code)
{
    switch (code) {
    case CRDT_ERR_NOMEM: return NULL;
    case CRDT_ERR_INVALID_ARG: return E_Invalid;
    case CRDT_ERR_DECODE:
    case CRDT_ERR_VERSION: return E_Decode;
    case CRDT_ERR_LIMIT: return E_Limit;
    case CRDT_ERR_OVERFLOW: return E_Overflow;
    case CRDT_ERR_TYPE: return E_TypeMismatch;
    case CRDT_ERR_BUFFER: return E_Buffer;
    case CRDT_ERR_CLOCK_DRIFT: return E_Drift;
    case CRDT_ERR_RANDOM: return E_Random;
    case CRDT_ERR_NOT_FOUND: return E_NotFound;
    case CRDT_ERR_BUSY: return E_Busy;
    case CRDT_ERR_AUTH: return E_Auth;
    case CRDT_ERR_IO: return E_IO;
    case CRDT_ERR_TIMEOUT: return E_Timeout;
    default: return E_Error;
    }
}

/* Raises the exception of a failed call's code (any code, even one this
 * version does not know: crdt.Error) and returns NULL. */
PyObject *crdtpy_error(int code)
{
    PyObject *cls = class_of(code);

    if (!cls)
        return PyErr_NoMemory();
    return raise_with(cls, code, crdt_strerror(code), -1);
}

/* The same with the text @p msg (NUL-terminated) after the library's:
 * for errors reported by someone else (a node's reply, the OS), so
 * CRDT_ERR_NOMEM is crdt.Error here, not this process's MemoryError. */
PyObject *crdtpy_error_msg(int code, const char *msg)
{
    PyObject *cls = class_of(code), *s;

    if (!cls)
        cls = E_Error;
    if (!msg || !*msg)
        return raise_with(cls, code, crdt_strerror(code), -1);
    s = PyUnicode_FromFormat("%s: %s", crdt_strerror(code), msg);
    if (!s)
        return NULL;
    raise_with(cls, code, PyUnicode_AsUTF8(s), -1);
    Py_DECREF(s);
    return NULL;
}

/* A failed decode: DecodeError (whatever the code, but NOMEM) with the
 * byte offset the decoder reported. */
PyObject *crdtpy_decode_error(int code, size_t offset)
{
    char msg[160];

    if (code == CRDT_ERR_NOMEM)
        return PyErr_NoMemory();
    snprintf(msg, sizeof msg, "%s at byte %zu", crdt_strerror(code), offset);
    return raise_with(E_Decode, code, msg, (Py_ssize_t)offset);
}

PyObject *crdtpy_scenario_error(const char *msg)
{
    return raise_with(E_Scenario, CRDT_ERR_DECODE, msg, -1);
}

/* ============================================================ arguments */

int crdtpy_u64(PyObject *o, uint64_t *out, const char *what)
{
    unsigned long long v;

    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_OverflowError,
                         "%s must be in 0..2**64-1, got %R", what, o);
        }
        return -1;
    }
    *out = v;
    return 0;
}

static int u64_conv(PyObject *o, void *out)
{
    return crdtpy_u64(o, out, "argument") == 0;
}

/* Bytes-like argument (bytes, bytearray, memoryview...); str is refused,
 * since its bytes depend on an encoding.  Release with PyBuffer_Release. */
int crdtpy_key(PyObject *o, Py_buffer *view, const char *what)
{
    if (PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be bytes, not str (encode it first)", what);
        return -1;
    }
    if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be bytes-like, not %.100s",
                     what, Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

/* =========================================================== type table */

static size_t w_vclock(const void *o) { return crdt_vclock_size(o); }
static size_t w_gcounter(const void *o) { return crdt_gcounter_size(o); }
static size_t w_pncounter(const void *o)
{
    return crdt_pncounter_size(o, CRDT_PNCOUNTER_POS) +
           crdt_pncounter_size(o, CRDT_PNCOUNTER_NEG);
}
static size_t w_lww(const void *o)
{
    const uint8_t *p;
    size_t n = 0;

    (void)crdt_lww_value(o, &p, &n);
    return n / 64;
}
static size_t w_mvreg(const void *o) { return crdt_mvreg_count(o); }
static size_t w_gset(const void *o) { return crdt_gset_size(o); }
static size_t w_orset(const void *o) { return crdt_orset_size(o) * 2; }
static size_t w_small(const void *o) { (void)o; return 1; }
static size_t w_ormap(const void *o) { return crdt_ormap_size(o) * 16; }
static size_t w_dotctx(const void *o)
{
    return crdt_dotctx_vv_size(o) + crdt_dotctx_cloud_size(o);
}

extern PyTypeObject VClock_Type, GCounter_Type, PNCounter_Type, LWW_Type,
    MVReg_Type, GSet_Type, ORSet_Type, EWFlag_Type, DWFlag_Type, ORMap_Type,
    DotCtx_Type, HLC_Type;

static const crdtpy_tinfo tinfos[] = {
    {&VClock_Type, crdt_vclock_type, CRDT_TAG_VCLOCK, w_vclock},
    {&DotCtx_Type, crdt_dotctx_type, CRDT_TAG_DOTCTX, w_dotctx},
    {&GCounter_Type, crdt_gcounter_type, CRDT_TAG_GCOUNTER, w_gcounter},
    {&PNCounter_Type, crdt_pncounter_type, CRDT_TAG_PNCOUNTER, w_pncounter},
    {&LWW_Type, crdt_lww_type, CRDT_TAG_LWW, w_lww},
    {&MVReg_Type, crdt_mvreg_type, CRDT_TAG_MVREG, w_mvreg},
    {&ORSet_Type, crdt_orset_type, CRDT_TAG_ORSET, w_orset},
    {&EWFlag_Type, crdt_ewflag_type, CRDT_TAG_EWFLAG, w_small},
    {&DWFlag_Type, crdt_dwflag_type, CRDT_TAG_DWFLAG, w_small},
    {&GSet_Type, crdt_gset_type, CRDT_TAG_GSET, w_gset},
    {&ORMap_Type, crdt_ormap_type, CRDT_TAG_ORMAP, w_ormap},
};
#define NTINFO (sizeof tinfos / sizeof tinfos[0])

const crdtpy_tinfo *crdtpy_tinfo_of_tag(uint32_t tag)
{
    size_t i;

    for (i = 0; i < NTINFO; i++)
        if (tinfos[i].tag == tag)
            return &tinfos[i];
    return NULL;
}

const crdtpy_tinfo *crdtpy_tinfo_of_class(PyObject *cls)
{
    size_t i;

    for (i = 0; i < NTINFO; i++)
        if ((PyObject *)tinfos[i].pytype == cls)
            return &tinfos[i];
    return NULL;
}

/* The shared module clock: LWWRegister.set's default timestamps. */
static crdt_hlc *module_hlc;

/* ========================================================= base object */

static CrdtObject *obj_alloc(const crdtpy_tinfo *ti)
{
    CrdtObject *o = (CrdtObject *)ti->pytype->tp_alloc(ti->pytype, 0);

    if (!o)
        return NULL;
    o->ti = ti;
    return o;
}

/* A new object owning a new empty state of @p ti. */
static CrdtObject *obj_new_empty(const crdtpy_tinfo *ti)
{
    CrdtObject *o = obj_alloc(ti);

    if (!o)
        return NULL;
    o->obj = ti->desc()->create(NULL);
    if (!o->obj) {
        Py_DECREF(o);
        return (CrdtObject *)PyErr_NoMemory();
    }
    return o;
}

CrdtObject *crdtpy_view_new(const crdtpy_tinfo *ti, void *value, void *sink,
                            crdt_hlc *hlc)
{
    CrdtObject *o = obj_alloc(ti);

    if (!o)
        return NULL;
    o->obj = value;
    o->view = 1;
    o->sink = sink;
    o->hlc = hlc;
    return o;
}

void crdtpy_view_expire(CrdtObject *v)
{
    v->obj = NULL;
    v->sink = NULL;
    v->hlc = NULL;
}

/* A new object holding a copy of @p value (a value lent by a map or a
 * node). */
PyObject *crdtpy_wrap_copy(uint32_t tag, const crdt_type *type,
                           const void *value)
{
    const crdtpy_tinfo *ti = crdtpy_tinfo_of_tag(tag);
    CrdtObject *o;
    int rv;

    if (!ti || !type) {
        PyErr_Format(PyExc_TypeError, "no Python class for type tag %u",
                     (unsigned)tag);
        return NULL;
    }
    o = obj_new_empty(ti);
    if (!o)
        return NULL;
    rv = type->copy(o->obj, value);
    if (rv) {
        Py_DECREF(o);
        return crdtpy_error(rv);
    }
    return (PyObject *)o;
}

/* The C state of @p o, or NULL with an exception set if it may not be
 * used now. */
static void *get(CrdtObject *o)
{
    if (o->busy) {
        PyErr_Format(PyExc_RuntimeError,
                     "this %s is in use (by another thread, or by the update "
                     "callback running on it)", Py_TYPE(o)->tp_name);
        return NULL;
    }
    if (!o->obj) {
        PyErr_Format(PyExc_ValueError,
                     "this %s was lent to an update callback that has "
                     "returned; read the value from its map or node",
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    return o->obj;
}

/* An empty object of self's class, to receive a mutation's delta. */
static CrdtObject *delta_new(CrdtObject *self)
{
    return obj_new_empty(self->ti);
}

/* Ends a mutator: on success joins the delta into a view's sink and
 * returns it; on error drops it and raises. */
static PyObject *finish(CrdtObject *self, CrdtObject *delta, int rv)
{
    if (!rv && self->sink)
        rv = self->ti->desc()->merge(self->sink, delta->obj);
    if (rv) {
        Py_DECREF(delta);
        return crdtpy_error(rv);
    }
    return (PyObject *)delta;
}

static void crdt_dealloc(CrdtObject *self)
{
    if (self->obj && !self->view)
        self->ti->desc()->destroy(self->obj);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *crdt_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    const crdtpy_tinfo *ti = crdtpy_tinfo_of_class((PyObject *)type);

    if (!ti) {
        PyErr_Format(PyExc_TypeError, "cannot create %.100s objects",
                     type->tp_name);
        return NULL;
    }
    if (PyTuple_GET_SIZE(args) || (kw && PyDict_GET_SIZE(kw))) {
        PyErr_Format(PyExc_TypeError,
                     "%.100s() takes no arguments (use %.100s.from_bytes to "
                     "decode)", type->tp_name, type->tp_name);
        return NULL;
    }
    return (PyObject *)obj_new_empty(ti);
}

static PyObject *crdt_merge(CrdtObject *self, PyObject *arg)
{
    CrdtObject *src = (CrdtObject *)arg;
    void *d, *s;
    int rv;

    if (Py_TYPE(arg) != Py_TYPE(self)) {
        PyErr_Format(PyExc_TypeError, "cannot merge %.100s into %.100s",
                     Py_TYPE(arg)->tp_name, Py_TYPE(self)->tp_name);
        return NULL;
    }
    if (self->sink) {
        PyErr_SetString(PyExc_ValueError,
                        "cannot merge into a value inside an update "
                        "callback; use its mutators");
        return NULL;
    }
    if (!(d = get(self)) || !(s = get(src)))
        return NULL;
    if (self->ti->weight(d) + self->ti->weight(s) >= BIG_WEIGHT) {
        self->busy++;
        src->busy++;
        Py_BEGIN_ALLOW_THREADS
        rv = self->ti->desc()->merge(d, s);
        Py_END_ALLOW_THREADS
        self->busy--;
        src->busy--;
    } else {
        rv = self->ti->desc()->merge(d, s);
    }
    if (rv)
        return crdtpy_error(rv);
    Py_RETURN_NONE;
}

static PyObject *crdt_copy(CrdtObject *self, PyObject *unused)
{
    void *s = get(self);
    CrdtObject *o;
    int rv;

    (void)unused;
    if (!s || !(o = delta_new(self)))
        return NULL;
    rv = self->ti->desc()->copy(o->obj, s);
    if (rv) {
        Py_DECREF(o);
        return crdtpy_error(rv);
    }
    return (PyObject *)o;
}

static PyObject *crdt_deepcopy(CrdtObject *self, PyObject *memo)
{
    (void)memo;
    return crdt_copy(self, NULL);
}

/* Encodes @p obj of @p ti; the GIL is released for big objects, with
 * @p holder marked busy. */
static PyObject *encode_obj(CrdtObject *holder, const crdtpy_tinfo *ti,
                            const void *obj)
{
    crdt_buf buf;
    PyObject *res;
    int rv;

    crdt_buf_init(&buf, NULL);
    if (ti->weight(obj) >= BIG_WEIGHT) {
        holder->busy++;
        Py_BEGIN_ALLOW_THREADS
        rv = ti->desc()->encode(obj, &buf);
        Py_END_ALLOW_THREADS
        holder->busy--;
    } else {
        rv = ti->desc()->encode(obj, &buf);
    }
    if (rv) {
        crdt_buf_clear(&buf);
        return crdtpy_error(rv);
    }
    res = PyBytes_FromStringAndSize((const char *)buf.data,
                                    (Py_ssize_t)buf.len);
    crdt_buf_clear(&buf);
    return res;
}

static PyObject *crdt_bytes(CrdtObject *self, PyObject *unused)
{
    void *s = get(self);

    (void)unused;
    return s ? encode_obj(self, self->ti, s) : NULL;
}

/* Decodes @p data as @p ti (which the envelope may contradict: the
 * decoder rejects another tag with CRDT_ERR_TYPE). */
static PyObject *decode_as(const crdtpy_tinfo *ti, PyObject *data)
{
    crdt_decode_info info = {0, 0};
    Py_buffer b;
    CrdtObject *o;
    int rv;

    if (crdtpy_key(data, &b, "data") < 0)
        return NULL;
    o = obj_new_empty(ti);
    if (!o) {
        PyBuffer_Release(&b);
        return NULL;
    }
    /* Only immutable bytes are read without the GIL: another thread could
     * rewrite a bytearray while the decoder reads it. */
    if (PyBytes_CheckExact(data) && (size_t)b.len >= BIG_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        rv = ti->desc()->decode(o->obj, b.buf, (size_t)b.len, NULL, &info);
        Py_END_ALLOW_THREADS
    } else {
        rv = ti->desc()->decode(o->obj, b.buf, (size_t)b.len, NULL, &info);
    }
    PyBuffer_Release(&b);
    if (rv) {
        Py_DECREF(o);
        return crdtpy_decode_error(rv, info.offset);
    }
    return (PyObject *)o;
}

static PyObject *crdt_from_bytes(PyObject *cls, PyObject *data)
{
    const crdtpy_tinfo *ti = crdtpy_tinfo_of_class(cls);

    if (!ti) {
        PyErr_SetString(PyExc_TypeError,
                        "from_bytes needs a concrete class; use crdt.decode");
        return NULL;
    }
    return decode_as(ti, data);
}

static PyObject *crdt_reduce(CrdtObject *self, PyObject *unused)
{
    PyObject *fb, *b, *res;

    (void)unused;
    b = crdt_bytes(self, NULL);
    if (!b)
        return NULL;
    fb = PyObject_GetAttrString((PyObject *)Py_TYPE(self), "from_bytes");
    if (!fb) {
        Py_DECREF(b);
        return NULL;
    }
    res = Py_BuildValue("(N(N))", fb, b);
    return res;
}

static PyObject *crdt_richcompare(PyObject *a, PyObject *b, int op)
{
    void *x, *y;
    bool eq;

    if (Py_TYPE(a) != Py_TYPE(b) || (op != Py_EQ && op != Py_NE))
        Py_RETURN_NOTIMPLEMENTED;
    if (!(x = get((CrdtObject *)a)) || !(y = get((CrdtObject *)b)))
        return NULL;
    eq = ((CrdtObject *)a)->ti->desc()->equal(x, y);
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyMethodDef base_methods[] = {
    {"merge", (PyCFunction)crdt_merge, METH_O,
     "merge($self, other, /)\n--\n\n"
     "Join other (a state or a delta of the same class) into self, in\n"
     "place; returns None.  The join is commutative, associative and\n"
     "idempotent.  TypeError for another class."},
    {"copy", (PyCFunction)crdt_copy, METH_NOARGS,
     "copy($self, /)\n--\n\nA new, independent object equal to self."},
    {"__copy__", (PyCFunction)crdt_copy, METH_NOARGS,
     "__copy__($self, /)\n--\n\nSame as copy()."},
    {"__deepcopy__", (PyCFunction)crdt_deepcopy, METH_O,
     "__deepcopy__($self, memo, /)\n--\n\nSame as copy()."},
    {"__bytes__", (PyCFunction)crdt_bytes, METH_NOARGS,
     "__bytes__($self, /)\n--\n\n"
     "The C library's canonical MessagePack encoding: bytes(x).  Equal\n"
     "states give identical bytes."},
    {"to_bytes", (PyCFunction)crdt_bytes, METH_NOARGS,
     "to_bytes($self, /)\n--\n\nSame as bytes(self)."},
    {"from_bytes", (PyCFunction)crdt_from_bytes, METH_O | METH_CLASS,
     "from_bytes($cls, data, /)\n--\n\n"
     "Decode the canonical encoding data (bytes-like) into a new object.\n"
     "Raises crdt.DecodeError (a ValueError with .offset, the byte the\n"
     "decoder stopped at, and .code) for anything but exactly one\n"
     "canonical encoding of this class."},
    {"__reduce__", (PyCFunction)crdt_reduce, METH_NOARGS,
     "__reduce__($self, /)\n--\n\nPickle support, through the encoding."},
    {NULL, NULL, 0, NULL}};

PyTypeObject CrdtBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "crdt.CRDT",
    .tp_basicsize = sizeof(CrdtObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Base class of every libcrdt data type: merge, copy, ==,\n"
              "bytes(x), from_bytes, pickling.  Not instantiable.",
    .tp_dealloc = (destructor)crdt_dealloc,
    .tp_richcompare = crdt_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_methods = base_methods,
    .tp_new = crdt_new,
};

/* Class boilerplate: a final subclass of crdt.CRDT.  tp_richcompare and
 * tp_hash (unhashable: the objects are mutable) are inherited together
 * from the base, unless a class defines its own comparison (VClock), which
 * PyType_Ready then makes unhashable too. */
#define CRDT_CLASS(var, pyname, doc, ...)                                    \
    PyTypeObject var = {                                                     \
        PyVarObject_HEAD_INIT(NULL, 0)                                       \
        .tp_name = "crdt." pyname,                                           \
        .tp_basicsize = sizeof(CrdtObject),                                  \
        .tp_flags = Py_TPFLAGS_DEFAULT,                                      \
        .tp_doc = doc,                                                       \
        .tp_base = &CrdtBase_Type,                                           \
        .tp_dealloc = (destructor)crdt_dealloc,                              \
        .tp_new = crdt_new,                                                  \
        __VA_ARGS__}

/* Fast argument parsing for (actor[, by]) mutators, the hot path. */
static int parse_actor_by(PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames, uint64_t *actor, uint64_t *by,
                          const char *fname)
{
    PyObject *a = nargs > 0 ? args[0] : NULL;
    PyObject *b = nargs > 1 ? args[1] : NULL;
    Py_ssize_t i, nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    if (nargs > 2)
        goto usage;
    for (i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);

        if (!a && PyUnicode_CompareWithASCIIString(k, "actor") == 0)
            a = args[nargs + i];
        else if (!b && PyUnicode_CompareWithASCIIString(k, "by") == 0)
            b = args[nargs + i];
        else
            goto usage;
    }
    if (!a)
        goto usage;
    if (crdtpy_u64(a, actor, "actor") < 0)
        return -1;
    *by = 1;
    if (b && crdtpy_u64(b, by, "by") < 0)
        return -1;
    return 0;
usage:
    PyErr_Format(PyExc_TypeError, "%s(actor, by=1): bad arguments", fname);
    return -1;
}

/* repr helper: "Name(inner)" from a list of item reprs, at most 20. */
static PyObject *repr_items(CrdtObject *self, PyObject *items,
                            const char *open, const char *close)
{
    Py_ssize_t n = PyList_GET_SIZE(items), shown = n > 20 ? 20 : n, i;
    PyObject *parts = PyList_New(0), *sep = NULL, *joined = NULL,
             *res = NULL;

    if (!parts)
        return NULL;
    for (i = 0; i < shown; i++) {
        PyObject *r = PyObject_Repr(PyList_GET_ITEM(items, i));

        if (!r || PyList_Append(parts, r) < 0) {
            Py_XDECREF(r);
            goto out;
        }
        Py_DECREF(r);
    }
    if (n > shown) {
        PyObject *r = PyUnicode_FromFormat("...(%zd more)", n - shown);

        if (!r || PyList_Append(parts, r) < 0) {
            Py_XDECREF(r);
            goto out;
        }
        Py_DECREF(r);
    }
    sep = PyUnicode_FromString(", ");
    if (!sep || !(joined = PyUnicode_Join(sep, parts)))
        goto out;
    res = n ? PyUnicode_FromFormat("%s(%s%U%s)", _PyType_Name(Py_TYPE(self)),
                                   open, joined, close)
            : PyUnicode_FromFormat("%s()", _PyType_Name(Py_TYPE(self)));
out:
    Py_DECREF(parts);
    Py_XDECREF(sep);
    Py_XDECREF(joined);
    return res;
}

/* =============================================================== VClock */

static PyObject *vclock_pairs(const crdt_vclock *vc)
{
    size_t i, n = crdt_vclock_size(vc);
    PyObject *l = PyList_New((Py_ssize_t)n);

    for (i = 0; l && i < n; i++) {
        crdt_actor a = 0;
        uint64_t c = 0;
        PyObject *t;

        (void)crdt_vclock_entry(vc, i, &a, &c);
        t = Py_BuildValue("(KK)", (unsigned long long)a,
                          (unsigned long long)c);
        if (!t) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

static PyObject *vclock_inc(CrdtObject *self, PyObject *const *args,
                            Py_ssize_t nargs, PyObject *kwnames)
{
    uint64_t actor, by, cur;
    crdt_vclock *vc = get(self);
    CrdtObject *d;
    int rv = CRDT_OK;

    if (!vc || parse_actor_by(args, nargs, kwnames, &actor, &by, "inc") < 0)
        return NULL;
    if (!(d = delta_new(self)))
        return NULL;
    cur = crdt_vclock_get(vc, actor);
    if (by > UINT64_MAX - cur)
        rv = CRDT_ERR_OVERFLOW;
    else if (by) {
        rv = crdt_vclock_set(d->obj, actor, cur + by);
        if (!rv)
            rv = crdt_vclock_set(vc, actor, cur + by);
    }
    return finish(self, d, rv);
}

static PyObject *vclock_concurrent(CrdtObject *self, PyObject *other)
{
    void *a, *b;

    if (Py_TYPE(other) != Py_TYPE(self)) {
        PyErr_SetString(PyExc_TypeError, "concurrent() needs a VClock");
        return NULL;
    }
    if (!(a = get(self)) || !(b = get((CrdtObject *)other)))
        return NULL;
    return PyBool_FromLong(crdt_vclock_concurrent(a, b));
}

static PyObject *vclock_can_deliver(CrdtObject *self, PyObject *args,
                                    PyObject *kw)
{
    static char *kwlist[] = {"msg_clock", "sender", NULL};
    PyObject *msg;
    uint64_t sender;
    void *a, *b;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O&:can_deliver", kwlist,
                                     &VClock_Type, &msg, u64_conv, &sender))
        return NULL;
    if (!(a = get(self)) || !(b = get((CrdtObject *)msg)))
        return NULL;
    return PyBool_FromLong(crdt_vclock_can_deliver(a, b, sender));
}

static PyObject *vclock_getitem(CrdtObject *self, PyObject *key)
{
    uint64_t actor;
    void *vc = get(self);

    if (!vc || crdtpy_u64(key, &actor, "actor") < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(crdt_vclock_get(vc, actor));
}

static Py_ssize_t vclock_len(CrdtObject *self)
{
    void *vc = get(self);

    return vc ? (Py_ssize_t)crdt_vclock_size(vc) : -1;
}

static PyObject *vclock_iter(CrdtObject *self)
{
    void *vc = get(self);
    PyObject *l, *it;

    if (!vc || !(l = vclock_pairs(vc)))
        return NULL;
    it = PyObject_GetIter(l);
    Py_DECREF(l);
    return it;
}

static PyObject *vclock_richcompare(PyObject *a, PyObject *b, int op)
{
    void *x, *y;
    crdt_order o;
    bool r = false;

    if (Py_TYPE(a) != Py_TYPE(b))
        Py_RETURN_NOTIMPLEMENTED;
    if (!(x = get((CrdtObject *)a)) || !(y = get((CrdtObject *)b)))
        return NULL;
    o = crdt_vclock_compare(x, y);
    switch (op) {
    case Py_EQ: r = o == CRDT_EQUAL; break;
    case Py_NE: r = o != CRDT_EQUAL; break;
    case Py_LT: r = o == CRDT_BEFORE; break;
    case Py_LE: r = o == CRDT_BEFORE || o == CRDT_EQUAL; break;
    case Py_GT: r = o == CRDT_AFTER; break;
    case Py_GE: r = o == CRDT_AFTER || o == CRDT_EQUAL; break;
    }
    return PyBool_FromLong(r);
}

static PyObject *vclock_repr(CrdtObject *self)
{
    void *vc = get(self);
    PyObject *l, *d, *r;

    if (!vc || !(l = vclock_pairs(vc)))
        return NULL;
    d = PyDict_New();
    if (d && PyDict_MergeFromSeq2(d, l, 1) == 0)
        r = PyUnicode_FromFormat("VClock(%R)", d);
    else
        r = NULL;
    Py_DECREF(l);
    Py_XDECREF(d);
    return r;
}

static PyMethodDef vclock_methods[] = {
    {"inc", (PyCFunction)(void (*)(void))vclock_inc,
     METH_FASTCALL | METH_KEYWORDS,
     "inc($self, actor, by=1)\n--\n\n"
     "Add by to actor's counter; returns the delta, a VClock holding\n"
     "{actor: new counter}.  crdt.CRDTOverflowError past 2**64-1."},
    {"concurrent", (PyCFunction)vclock_concurrent, METH_O,
     "concurrent($self, other, /)\n--\n\n"
     "True iff neither clock has seen all of the other."},
    {"can_deliver", (PyCFunction)(void (*)(void))vclock_can_deliver,
     METH_VARARGS | METH_KEYWORDS,
     "can_deliver($self, msg_clock, sender)\n--\n\n"
     "The causal delivery rule, self being what this replica delivered:\n"
     "True iff msg_clock[sender] == self[sender] + 1 and msg_clock[k] <=\n"
     "self[k] for every other actor k.  After delivering, merge msg_clock."},
    {NULL, NULL, 0, NULL}};

static PyMappingMethods vclock_mapping = {
    .mp_length = (lenfunc)vclock_len,
    .mp_subscript = (binaryfunc)vclock_getitem,
};

CRDT_CLASS(VClock_Type, "VClock",
           "VClock()\n--\n\n"
           "A version vector: a counter per actor (an absent actor counts 0).\n\n"
           "vc[actor] reads a counter, len(vc) counts the actors with a\n"
           "non-zero counter, iteration yields (actor, counter) pairs in\n"
           "ascending actor order (so dict(vc) works).  <, <=, ==, >, >= are\n"
           "the causal order (a < b: b has seen all of a and more);\n"
           "concurrent() is the rest.  merge() takes the pointwise maximum.",
           .tp_methods = vclock_methods, .tp_as_mapping = &vclock_mapping,
           .tp_iter = (getiterfunc)vclock_iter,
           .tp_richcompare = vclock_richcompare,
           .tp_repr = (reprfunc)vclock_repr);

/* ============================================================= GCounter */

static PyObject *gcounter_inc(CrdtObject *self, PyObject *const *args,
                              Py_ssize_t nargs, PyObject *kwnames)
{
    uint64_t actor, by;
    void *g = get(self);
    CrdtObject *d;

    if (!g || parse_actor_by(args, nargs, kwnames, &actor, &by, "inc") < 0)
        return NULL;
    if (!(d = delta_new(self)))
        return NULL;
    return finish(self, d, crdt_gcounter_increment(g, actor, by, d->obj));
}

static PyObject *gcounter_value(CrdtObject *self, void *closure)
{
    void *g = get(self);

    (void)closure;
    return g ? PyLong_FromUnsignedLongLong(crdt_gcounter_value(g)) : NULL;
}

static PyObject *gcounter_int(CrdtObject *self)
{
    return gcounter_value(self, NULL);
}

static PyObject *gcounter_counts(CrdtObject *self, PyObject *unused)
{
    void *g = get(self);
    size_t i, n;
    PyObject *d;

    (void)unused;
    if (!g || !(d = PyDict_New()))
        return NULL;
    n = crdt_gcounter_size(g);
    for (i = 0; i < n; i++) {
        crdt_actor a = 0;
        uint64_t c = 0;
        PyObject *k, *v;
        int bad;

        (void)crdt_gcounter_entry(g, i, &a, &c);
        k = PyLong_FromUnsignedLongLong(a);
        v = PyLong_FromUnsignedLongLong(c);
        bad = !k || !v || PyDict_SetItem(d, k, v) < 0;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (bad) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *gcounter_repr(CrdtObject *self)
{
    void *g = get(self);

    return g ? PyUnicode_FromFormat("GCounter(value=%llu)",
                                    (unsigned long long)crdt_gcounter_value(g))
             : NULL;
}

static PyMethodDef gcounter_methods[] = {
    {"inc", (PyCFunction)(void (*)(void))gcounter_inc,
     METH_FASTCALL | METH_KEYWORDS,
     "inc($self, actor, by=1)\n--\n\n"
     "Add by to actor's count (a replica increments its own actor only);\n"
     "returns the delta, a GCounter {actor: new count}.  Raises\n"
     "crdt.CRDTOverflowError (an OverflowError) if the value would pass\n"
     "2**64-1, changing nothing."},
    {"counts", (PyCFunction)gcounter_counts, METH_NOARGS,
     "counts($self, /)\n--\n\nA dict {actor: count} of the non-zero counts."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef gcounter_getset[] = {
    {"value", (getter)gcounter_value, NULL,
     "The counter's value: the sum of every actor's count.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyNumberMethods gcounter_number = {
    .nb_int = (unaryfunc)gcounter_int,
};

CRDT_CLASS(GCounter_Type, "GCounter",
           "GCounter()\n--\n\n"
           "A grow-only counter: a count per actor; the value (c.value,\n"
           "int(c)) is their sum.  merge() takes the pointwise maximum.",
           .tp_methods = gcounter_methods, .tp_getset = gcounter_getset,
           .tp_as_number = &gcounter_number,
           .tp_repr = (reprfunc)gcounter_repr);

/* ============================================================ PNCounter */

static PyObject *pn_mut(CrdtObject *self, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kwnames, int dec)
{
    uint64_t actor, by;
    void *pn = get(self);
    CrdtObject *d;
    int rv;

    if (!pn || parse_actor_by(args, nargs, kwnames, &actor, &by,
                              dec ? "dec" : "inc") < 0)
        return NULL;
    if (!(d = delta_new(self)))
        return NULL;
    rv = dec ? crdt_pncounter_decrement(pn, actor, by, d->obj)
             : crdt_pncounter_increment(pn, actor, by, d->obj);
    return finish(self, d, rv);
}

static PyObject *pn_inc(CrdtObject *self, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kwnames)
{
    return pn_mut(self, args, nargs, kwnames, 0);
}

static PyObject *pn_dec(CrdtObject *self, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kwnames)
{
    return pn_mut(self, args, nargs, kwnames, 1);
}

static PyObject *pn_value(CrdtObject *self, void *closure)
{
    void *pn = get(self);
    uint64_t p = 0, n = 0;
    int64_t v;
    PyObject *a, *b, *r;

    (void)closure;
    if (!pn)
        return NULL;
    if (crdt_pncounter_value(pn, &v) == CRDT_OK)
        return PyLong_FromLongLong(v);
    /* outside int64: exact from the two sums */
    crdt_pncounter_totals(pn, &p, &n);
    a = PyLong_FromUnsignedLongLong(p);
    b = PyLong_FromUnsignedLongLong(n);
    r = a && b ? PyNumber_Subtract(a, b) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return r;
}

static PyObject *pn_int(CrdtObject *self) { return pn_value(self, NULL); }

static PyObject *pn_totals(CrdtObject *self, void *closure)
{
    void *pn = get(self);
    uint64_t p = 0, n = 0;

    (void)closure;
    if (!pn)
        return NULL;
    crdt_pncounter_totals(pn, &p, &n);
    return Py_BuildValue("(KK)", (unsigned long long)p, (unsigned long long)n);
}

static PyObject *pn_repr(CrdtObject *self)
{
    PyObject *v = pn_value(self, NULL), *r;

    if (!v)
        return NULL;
    r = PyUnicode_FromFormat("PNCounter(value=%S)", v);
    Py_DECREF(v);
    return r;
}

static PyMethodDef pn_methods[] = {
    {"inc", (PyCFunction)(void (*)(void))pn_inc, METH_FASTCALL | METH_KEYWORDS,
     "inc($self, actor, by=1)\n--\n\n"
     "Raise the value by by (actor's P count); returns the delta, a\n"
     "PNCounter.  crdt.CRDTOverflowError if the increments would sum past\n"
     "2**64-1."},
    {"dec", (PyCFunction)(void (*)(void))pn_dec, METH_FASTCALL | METH_KEYWORDS,
     "dec($self, actor, by=1)\n--\n\n"
     "Lower the value by by (actor's N count); returns the delta, a\n"
     "PNCounter.  crdt.CRDTOverflowError if the decrements would sum past\n"
     "2**64-1."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef pn_getset[] = {
    {"value", (getter)pn_value, NULL,
     "The value, increments minus decrements: an exact int in\n"
     "(-2**64, 2**64).", NULL},
    {"totals", (getter)pn_totals, NULL,
     "(increments, decrements): the two sums.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyNumberMethods pn_number = {
    .nb_int = (unaryfunc)pn_int,
};

CRDT_CLASS(PNCounter_Type, "PNCounter",
           "PNCounter()\n--\n\n"
           "A counter that goes up and down: two grow-only counters, P\n"
           "(increments) and N (decrements); the value (c.value, int(c)) is\n"
           "sum(P) - sum(N).",
           .tp_methods = pn_methods, .tp_getset = pn_getset,
           .tp_as_number = &pn_number, .tp_repr = (reprfunc)pn_repr);

/* ========================================================== LWWRegister */

typedef struct HLCObject {
    PyObject_HEAD
    crdt_hlc *hlc;
    PyObject *wall;   /* the wall_ms callable, or NULL */
    int failed;       /* wall raised during the current call */
} HLCObject;

static PyObject *lww_set(CrdtObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"actor", "value", "time", "clock", NULL};
    uint64_t actor, ts;
    PyObject *value, *time = Py_None, *clock = Py_None;
    Py_buffer b;
    void *reg = get(self);
    CrdtObject *d;
    crdt_hlc *hlc;
    int rv;

    if (!reg || !PyArg_ParseTupleAndKeywords(args, kw, "O&O|OO:set", kwlist,
                                             u64_conv, &actor, &value, &time,
                                             &clock))
        return NULL;
    if (clock != Py_None && !PyObject_TypeCheck(clock, &HLC_Type)) {
        PyErr_SetString(PyExc_TypeError, "clock must be a crdt.HLC or None");
        return NULL;
    }
    if (time != Py_None && crdtpy_u64(time, &ts, "time") < 0)
        return NULL;
    if (crdtpy_key(value, &b, "value") < 0)
        return NULL;
    if (!(d = delta_new(self))) {
        PyBuffer_Release(&b);
        return NULL;
    }
    if (time != Py_None) {
        rv = crdt_lww_set(reg, ts, actor, b.buf, (size_t)b.len, d->obj);
    } else {
        hlc = clock != Py_None ? ((HLCObject *)clock)->hlc
              : self->hlc      ? self->hlc
                               : module_hlc;
        if (clock != Py_None)
            ((HLCObject *)clock)->failed = 0;
        rv = crdt_lww_set_now(reg, hlc, actor, b.buf, (size_t)b.len, d->obj);
        if (clock != Py_None && ((HLCObject *)clock)->failed) {
            PyBuffer_Release(&b);
            Py_DECREF(d);
            return NULL;
        }
    }
    PyBuffer_Release(&b);
    return finish(self, d, rv);
}

static PyObject *lww_value(CrdtObject *self, void *closure)
{
    void *reg = get(self);
    const uint8_t *p;
    size_t n;

    (void)closure;
    if (!reg)
        return NULL;
    if (crdt_lww_value(reg, &p, &n) != CRDT_OK)
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
}

static PyObject *lww_timestamp(CrdtObject *self, void *closure)
{
    void *reg = get(self);

    (void)closure;
    return reg ? PyLong_FromUnsignedLongLong(crdt_lww_timestamp(reg)) : NULL;
}

static PyObject *lww_actor(CrdtObject *self, void *closure)
{
    void *reg = get(self);

    (void)closure;
    return reg ? PyLong_FromUnsignedLongLong(crdt_lww_actor(reg)) : NULL;
}

static PyObject *lww_repr(CrdtObject *self)
{
    PyObject *v = lww_value(self, NULL), *r;

    if (!v)
        return NULL;
    if (v == Py_None)
        r = PyUnicode_FromString("LWWRegister(None)");
    else
        r = PyUnicode_FromFormat(
            "LWWRegister(%R, timestamp=%llu, actor=%llu)", v,
            (unsigned long long)crdt_lww_timestamp(self->obj),
            (unsigned long long)crdt_lww_actor(self->obj));
    Py_DECREF(v);
    return r;
}

static PyMethodDef lww_methods[] = {
    {"set", (PyCFunction)(void (*)(void))lww_set,
     METH_VARARGS | METH_KEYWORDS,
     "set($self, actor, value, time=None, clock=None)\n--\n\n"
     "Write value (bytes) by actor at timestamp time.  time=None takes\n"
     "the timestamp from a hybrid logical clock (clock, a crdt.HLC; by\n"
     "default the module's clock on the system time, or the node's inside\n"
     "Node.update) after it observes the register's timestamp, so the\n"
     "write always wins over the one it replaces.  With an explicit time\n"
     "a write that orders before the current one is a no-op (as a merge\n"
     "would be).  Returns the delta, an LWWRegister (empty for a no-op)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef lww_getset[] = {
    {"value", (getter)lww_value, NULL,
     "The value written last (bytes), or None if never written.", NULL},
    {"timestamp", (getter)lww_timestamp, NULL,
     "Timestamp of the write held (0 if empty).", NULL},
    {"actor", (getter)lww_actor, NULL,
     "Actor of the write held (0 if empty).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

CRDT_CLASS(LWW_Type, "LWWRegister",
           "LWWRegister()\n--\n\n"
           "A last-writer-wins register of bytes.  Writes are ordered by\n"
           "(timestamp, actor, value bytes); merge keeps the later write.\n"
           "r.value is the bytes, or None if never written.",
           .tp_methods = lww_methods, .tp_getset = lww_getset,
           .tp_repr = (reprfunc)lww_repr);

/* =========================================================== MVRegister */

static PyObject *mvreg_set(CrdtObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"actor", "value", NULL};
    uint64_t actor;
    PyObject *value;
    Py_buffer b;
    void *reg = get(self);
    CrdtObject *d;
    int rv;

    if (!reg || !PyArg_ParseTupleAndKeywords(args, kw, "O&O:set", kwlist,
                                             u64_conv, &actor, &value))
        return NULL;
    if (crdtpy_key(value, &b, "value") < 0)
        return NULL;
    if (!(d = delta_new(self))) {
        PyBuffer_Release(&b);
        return NULL;
    }
    rv = crdt_mvreg_write(reg, actor, b.buf, (size_t)b.len, d->obj);
    PyBuffer_Release(&b);
    return finish(self, d, rv);
}

static PyObject *mvreg_clear(CrdtObject *self, PyObject *unused)
{
    void *reg = get(self);
    CrdtObject *d;

    (void)unused;
    if (!reg || !(d = delta_new(self)))
        return NULL;
    return finish(self, d, crdt_mvreg_clear(reg, d->obj));
}

static PyObject *mvreg_values(CrdtObject *self, void *closure)
{
    void *reg = get(self);
    size_t i, n;
    PyObject *l;

    (void)closure;
    if (!reg)
        return NULL;
    n = crdt_mvreg_count(reg);
    if (!(l = PyList_New((Py_ssize_t)n)))
        return NULL;
    for (i = 0; i < n; i++) {
        const uint8_t *p = NULL;
        size_t len = 0;
        PyObject *v;

        (void)crdt_mvreg_get(reg, i, NULL, &p, &len);
        if (!(v = PyBytes_FromStringAndSize((const char *)p,
                                            (Py_ssize_t)len))) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, v);
    }
    if (PyList_Sort(l) < 0) {
        Py_DECREF(l);
        return NULL;
    }
    return l;
}

static PyObject *mvreg_siblings(CrdtObject *self, void *closure)
{
    void *reg = get(self);
    size_t i, n;
    PyObject *l;

    (void)closure;
    if (!reg)
        return NULL;
    n = crdt_mvreg_count(reg);
    if (!(l = PyList_New((Py_ssize_t)n)))
        return NULL;
    for (i = 0; i < n; i++) {
        const uint8_t *p = NULL;
        size_t len = 0;
        crdt_dot dot = {0, 0};
        PyObject *t;

        (void)crdt_mvreg_get(reg, i, &dot, &p, &len);
        t = Py_BuildValue("(KKy#)", (unsigned long long)dot.actor,
                          (unsigned long long)dot.counter, p,
                          (Py_ssize_t)len);
        if (!t) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

static PyObject *mvreg_resolve(CrdtObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"key", NULL};
    PyObject *key = Py_None, *best = NULL, *bestk = NULL;
    void *reg = get(self);
    const uint8_t *p;
    size_t i, n, len;

    if (!reg || !PyArg_ParseTupleAndKeywords(args, kw, "|O:resolve", kwlist,
                                             &key))
        return NULL;
    if (key == Py_None) {
        if (crdt_mvreg_resolve(reg, NULL, NULL, &p, &len) != CRDT_OK)
            Py_RETURN_NONE;
        return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)len);
    }
    if (!PyCallable_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "key must be callable or None");
        return NULL;
    }
    /* The greatest by key; ties go to the first in dot order, as in C.
     * The siblings are copied out first: key may mutate the register. */
    {
        PyObject *sibs = mvreg_siblings(self, NULL);

        if (!sibs)
            return NULL;
        n = (size_t)PyList_GET_SIZE(sibs);
        for (i = 0; i < n; i++) {
            PyObject *v = PyTuple_GET_ITEM(PyList_GET_ITEM(sibs, i), 2);
            PyObject *k = PyObject_CallOneArg(key, v);
            int gt;

            if (!k)
                goto fail;
            gt = bestk ? PyObject_RichCompareBool(k, bestk, Py_GT) : 1;
            if (gt < 0) {
                Py_DECREF(k);
                goto fail;
            }
            if (gt) {
                Py_XSETREF(bestk, k);
                Py_XSETREF(best, Py_NewRef(v));
            } else {
                Py_DECREF(k);
            }
        }
        Py_DECREF(sibs);
        Py_XDECREF(bestk);
        return best ? best : Py_NewRef(Py_None);
    fail:
        Py_DECREF(sibs);
        Py_XDECREF(bestk);
        Py_XDECREF(best);
        return NULL;
    }
}

static PyObject *mvreg_repr(CrdtObject *self)
{
    PyObject *l = mvreg_values(self, NULL), *r;

    if (!l)
        return NULL;
    r = repr_items(self, l, "[", "]");
    Py_DECREF(l);
    return r;
}

static PyMethodDef mvreg_methods[] = {
    {"set", (PyCFunction)(void (*)(void))mvreg_set,
     METH_VARARGS | METH_KEYWORDS,
     "set($self, actor, value)\n--\n\n"
     "Write value (bytes) as actor's next event, superseding every\n"
     "sibling this replica holds; returns the delta, an MVRegister."},
    {"clear", (PyCFunction)mvreg_clear, METH_NOARGS,
     "clear($self, /)\n--\n\n"
     "Remove every observed sibling (a concurrent write survives);\n"
     "returns the delta."},
    {"resolve", (PyCFunction)(void (*)(void))mvreg_resolve,
     METH_VARARGS | METH_KEYWORDS,
     "resolve($self, key=None)\n--\n\n"
     "Pick one sibling's bytes: the greatest by key(value) (key=None:\n"
     "byte order), ties going to the first in dot order, so every replica\n"
     "holding the same state picks the same one.  None if there is no\n"
     "sibling.  Write the result back with set() to supersede them all."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef mvreg_getset[] = {
    {"values", (getter)mvreg_values, NULL,
     "Every sibling's value (list of bytes) in byte order.", NULL},
    {"siblings", (getter)mvreg_siblings, NULL,
     "[(actor, counter, value)] in dot order.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

CRDT_CLASS(MVReg_Type, "MVRegister",
           "MVRegister()\n--\n\n"
           "A multi-value register of bytes: a write supersedes what its\n"
           "replica has seen; concurrent writes are all kept, as siblings,\n"
           "until a later write (often of resolve()'s choice) supersedes\n"
           "them.",
           .tp_methods = mvreg_methods, .tp_getset = mvreg_getset,
           .tp_repr = (reprfunc)mvreg_repr);

/* ====================================================== GSet and ORSet */

/* The elements of a gset (orset if @p or), as a sorted list of bytes. */
static PyObject *set_elems(void *s, int or)
{
    size_t i, n = or ? crdt_orset_size(s) : crdt_gset_size(s);
    PyObject *l = PyList_New((Py_ssize_t)n);

    for (i = 0; l && i < n; i++) {
        const uint8_t *p = NULL;
        size_t len = 0;
        PyObject *v;

        if (or)
            (void)crdt_orset_elem(s, i, &p, &len, NULL);
        else
            (void)crdt_gset_elem(s, i, &p, &len);
        if (!(v = PyBytes_FromStringAndSize((const char *)p,
                                            (Py_ssize_t)len))) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, v);
    }
    if (l && PyList_Sort(l) < 0) {
        Py_DECREF(l);
        return NULL;
    }
    return l;
}

static int is_orset(CrdtObject *self) { return self->ti->tag == CRDT_TAG_ORSET; }

static Py_ssize_t set_len(CrdtObject *self)
{
    void *s = get(self);

    if (!s)
        return -1;
    return (Py_ssize_t)(is_orset(self) ? crdt_orset_size(s)
                                       : crdt_gset_size(s));
}

static int set_contains(CrdtObject *self, PyObject *elem)
{
    void *s = get(self);
    Py_buffer b;
    bool r;

    if (!s || crdtpy_key(elem, &b, "element") < 0)
        return -1;
    r = is_orset(self) ? crdt_orset_contains(s, b.buf, (size_t)b.len)
                       : crdt_gset_contains(s, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return r;
}

static PyObject *set_iter(CrdtObject *self)
{
    void *s = get(self);
    PyObject *l, *it;

    if (!s || !(l = set_elems(s, is_orset(self))))
        return NULL;
    it = PyObject_GetIter(l);
    Py_DECREF(l);
    return it;
}

static PyObject *set_repr(CrdtObject *self)
{
    void *s = get(self);
    PyObject *l, *r;

    if (!s || !(l = set_elems(s, is_orset(self))))
        return NULL;
    r = repr_items(self, l, "{", "}");
    Py_DECREF(l);
    return r;
}

static PySequenceMethods set_sequence = {
    .sq_length = (lenfunc)set_len,
    .sq_contains = (objobjproc)set_contains,
};

static PyObject *gset_add(CrdtObject *self, PyObject *elem)
{
    void *s = get(self);
    Py_buffer b;
    CrdtObject *d;
    int rv;

    if (!s || crdtpy_key(elem, &b, "element") < 0)
        return NULL;
    if (!(d = delta_new(self))) {
        PyBuffer_Release(&b);
        return NULL;
    }
    rv = crdt_gset_add(s, b.buf, (size_t)b.len, d->obj);
    PyBuffer_Release(&b);
    return finish(self, d, rv);
}

static PyMethodDef gset_methods[] = {
    {"add", (PyCFunction)gset_add, METH_O,
     "add($self, elem, /)\n--\n\n"
     "Add elem (bytes); returns the delta, the GSet {elem}."},
    {NULL, NULL, 0, NULL}};

CRDT_CLASS(GSet_Type, "GSet",
           "GSet()\n--\n\n"
           "A grow-only set of bytes: add only; merge is union.  Supports in,\n"
           "len() and iteration in byte order (so set(s) and sorted(s) work).",
           .tp_methods = gset_methods, .tp_as_sequence = &set_sequence,
           .tp_iter = (getiterfunc)set_iter, .tp_repr = (reprfunc)set_repr);

static PyObject *orset_add(CrdtObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"actor", "elem", NULL};
    uint64_t actor;
    PyObject *elem;
    void *s = get(self);
    Py_buffer b;
    CrdtObject *d;
    int rv;

    if (!s || !PyArg_ParseTupleAndKeywords(args, kw, "O&O:add", kwlist,
                                           u64_conv, &actor, &elem))
        return NULL;
    if (crdtpy_key(elem, &b, "element") < 0)
        return NULL;
    if (!(d = delta_new(self))) {
        PyBuffer_Release(&b);
        return NULL;
    }
    rv = crdt_orset_add(s, actor, b.buf, (size_t)b.len, d->obj);
    PyBuffer_Release(&b);
    return finish(self, d, rv);
}

static PyObject *orset_remove(CrdtObject *self, PyObject *elem)
{
    void *s = get(self);
    Py_buffer b;
    CrdtObject *d;
    int rv;

    if (!s || crdtpy_key(elem, &b, "element") < 0)
        return NULL;
    if (!(d = delta_new(self))) {
        PyBuffer_Release(&b);
        return NULL;
    }
    rv = crdt_orset_remove(s, b.buf, (size_t)b.len, d->obj);
    PyBuffer_Release(&b);
    return finish(self, d, rv);
}

static PyObject *orset_clear(CrdtObject *self, PyObject *unused)
{
    void *s = get(self);
    CrdtObject *d;

    (void)unused;
    if (!s || !(d = delta_new(self)))
        return NULL;
    return finish(self, d, crdt_orset_clear(s, d->obj));
}

static PyMethodDef orset_methods[] = {
    {"add", (PyCFunction)(void (*)(void))orset_add,
     METH_VARARGS | METH_KEYWORDS,
     "add($self, actor, elem)\n--\n\n"
     "Add elem (bytes) as actor's next event; returns the delta, an ORSet."},
    {"remove", (PyCFunction)orset_remove, METH_O,
     "remove($self, elem, /)\n--\n\n"
     "Remove the adds of elem this replica has observed (a no-op if\n"
     "absent; a concurrent add elsewhere survives: add wins); returns the\n"
     "delta, an ORSet."},
    {"clear", (PyCFunction)orset_clear, METH_NOARGS,
     "clear($self, /)\n--\n\n"
     "Remove every observed element; returns the delta."},
    {NULL, NULL, 0, NULL}};

CRDT_CLASS(ORSet_Type, "ORSet",
           "ORSet()\n--\n\n"
           "An add-wins observed-remove set of bytes (no tombstones).  add\n"
           "makes a new event of its actor; remove removes only the adds it\n"
           "has observed, so an add concurrent with a remove survives the\n"
           "merge.  Supports in, len() and iteration in byte order (so\n"
           "set(s) and sorted(s) work).",
           .tp_methods = orset_methods, .tp_as_sequence = &set_sequence,
           .tp_iter = (getiterfunc)set_iter, .tp_repr = (reprfunc)set_repr);

/* ================================================================ flags */

/* enable/disable with an optional or required actor. */
static PyObject *flag_op(CrdtObject *self, PyObject *args, PyObject *kw,
                         const char *fname, int need_actor)
{
    static char *kwlist[] = {"actor", NULL};
    PyObject *a = Py_None;
    uint64_t actor = 0;
    void *f = get(self);
    CrdtObject *d;
    int ew = self->ti->tag == CRDT_TAG_EWFLAG, en = fname[0] == 'e', rv;
    char fmt[32];

    snprintf(fmt, sizeof fmt, "|O:%s", fname);
    if (!f || !PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &a))
        return NULL;
    if (a == Py_None && need_actor) {
        PyErr_Format(PyExc_TypeError, "%s.%s() needs an actor",
                     Py_TYPE(self)->tp_name, fname);
        return NULL;
    }
    if (a != Py_None && crdtpy_u64(a, &actor, "actor") < 0)
        return NULL;
    if (!(d = delta_new(self)))
        return NULL;
    if (ew)
        rv = en ? crdt_ewflag_enable(f, actor, d->obj)
                : crdt_ewflag_disable(f, d->obj);
    else
        rv = en ? crdt_dwflag_enable(f, d->obj)
                : crdt_dwflag_disable(f, actor, d->obj);
    return finish(self, d, rv);
}

static PyObject *ew_enable(CrdtObject *s, PyObject *a, PyObject *k)
{
    return flag_op(s, a, k, "enable", 1);
}
static PyObject *ew_disable(CrdtObject *s, PyObject *a, PyObject *k)
{
    return flag_op(s, a, k, "disable", 0);
}
static PyObject *dw_enable(CrdtObject *s, PyObject *a, PyObject *k)
{
    return flag_op(s, a, k, "enable", 0);
}
static PyObject *dw_disable(CrdtObject *s, PyObject *a, PyObject *k)
{
    return flag_op(s, a, k, "disable", 1);
}

static int flag_bool(CrdtObject *self)
{
    void *f = get(self);

    if (!f)
        return -1;
    return self->ti->tag == CRDT_TAG_EWFLAG ? crdt_ewflag_value(f)
                                            : crdt_dwflag_value(f);
}

static PyObject *flag_value(CrdtObject *self, void *closure)
{
    int r = flag_bool(self);

    (void)closure;
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *flag_repr(CrdtObject *self)
{
    int r = flag_bool(self);

    if (r < 0)
        return NULL;
    return PyUnicode_FromFormat("%s(%s)", _PyType_Name(Py_TYPE(self)),
                                r ? "True" : "False");
}

static PyGetSetDef flag_getset[] = {
    {"value", (getter)flag_value, NULL, "The flag's value: bool(f).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyNumberMethods flag_number = {
    .nb_bool = (inquiry)flag_bool,
};

static PyMethodDef ew_methods[] = {
    {"enable", (PyCFunction)(void (*)(void))ew_enable,
     METH_VARARGS | METH_KEYWORDS,
     "enable($self, actor)\n--\n\n"
     "Enable, as actor's next event (it wins over a concurrent disable);\n"
     "returns the delta, an EWFlag."},
    {"disable", (PyCFunction)(void (*)(void))ew_disable,
     METH_VARARGS | METH_KEYWORDS,
     "disable($self, actor=None)\n--\n\n"
     "Disable: remove the observed enables (makes no event, so actor is\n"
     "accepted and ignored); returns the delta, an EWFlag."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef dw_methods[] = {
    {"enable", (PyCFunction)(void (*)(void))dw_enable,
     METH_VARARGS | METH_KEYWORDS,
     "enable($self, actor=None)\n--\n\n"
     "Enable: remove the observed disables (makes no event, so actor is\n"
     "accepted and ignored); returns the delta, a DWFlag."},
    {"disable", (PyCFunction)(void (*)(void))dw_disable,
     METH_VARARGS | METH_KEYWORDS,
     "disable($self, actor)\n--\n\n"
     "Disable, as actor's next event (it wins over a concurrent enable);\n"
     "returns the delta, a DWFlag."},
    {NULL, NULL, 0, NULL}};

CRDT_CLASS(EWFlag_Type, "EWFlag",
           "EWFlag()\n--\n\n"
           "An enable-wins flag, new flags disabled: concurrent enable and\n"
           "disable merge to enabled.  bool(f) and f.value read it.",
           .tp_methods = ew_methods, .tp_getset = flag_getset,
           .tp_as_number = &flag_number, .tp_repr = (reprfunc)flag_repr);

CRDT_CLASS(DWFlag_Type, "DWFlag",
           "DWFlag()\n--\n\n"
           "A disable-wins flag, new flags ENABLED: concurrent enable and\n"
           "disable merge to disabled.  bool(f) and f.value read it.",
           .tp_methods = dw_methods, .tp_getset = flag_getset,
           .tp_as_number = &flag_number, .tp_repr = (reprfunc)flag_repr);

/* =========================================================== DotContext */

static PyObject *dot_arg(PyObject *o, crdt_dot *d)
{
    PyObject *a, *c;

    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 2) {
        PyErr_SetString(PyExc_TypeError, "a dot is an (actor, counter) tuple");
        return NULL;
    }
    a = PyTuple_GET_ITEM(o, 0);
    c = PyTuple_GET_ITEM(o, 1);
    if (crdtpy_u64(a, &d->actor, "actor") < 0 ||
        crdtpy_u64(c, &d->counter, "counter") < 0)
        return NULL;
    return o;
}

static int dotctx_contains(CrdtObject *self, PyObject *o)
{
    void *c = get(self);
    crdt_dot d;

    if (!c || !dot_arg(o, &d))
        return -1;
    return crdt_dotctx_contains(c, d);
}

static PyObject *dotctx_next(CrdtObject *self, PyObject *arg)
{
    void *c = get(self);
    uint64_t actor;
    crdt_dot dot;
    CrdtObject *d;
    int rv;

    if (!c || crdtpy_u64(arg, &actor, "actor") < 0 || !(d = delta_new(self)))
        return NULL;
    rv = crdt_dotctx_next_dot(c, actor, &dot);
    if (!rv)
        rv = crdt_dotctx_add(d->obj, dot);
    return finish(self, d, rv);
}

static PyObject *dotctx_add(CrdtObject *self, PyObject *arg)
{
    void *c = get(self);
    crdt_dot dot;
    CrdtObject *d;
    int rv;

    if (!c || !dot_arg(arg, &dot) || !(d = delta_new(self)))
        return NULL;
    rv = crdt_dotctx_add(c, dot);
    if (!rv)
        rv = crdt_dotctx_add(d->obj, dot);
    return finish(self, d, rv);
}

static PyObject *dotctx_vv(CrdtObject *self, void *closure)
{
    void *c = get(self);
    size_t i, n;
    PyObject *d;

    (void)closure;
    if (!c || !(d = PyDict_New()))
        return NULL;
    n = crdt_dotctx_vv_size(c);
    for (i = 0; i < n; i++) {
        crdt_dot e = {0, 0};
        PyObject *k, *v;
        int bad;

        (void)crdt_dotctx_vv_entry(c, i, &e.actor, &e.counter);
        k = PyLong_FromUnsignedLongLong(e.actor);
        v = PyLong_FromUnsignedLongLong(e.counter);
        bad = !k || !v || PyDict_SetItem(d, k, v) < 0;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (bad) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *dotctx_cloud(CrdtObject *self, void *closure)
{
    void *c = get(self);
    size_t i, n;
    PyObject *l;

    (void)closure;
    if (!c)
        return NULL;
    n = crdt_dotctx_cloud_size(c);
    if (!(l = PyList_New((Py_ssize_t)n)))
        return NULL;
    for (i = 0; i < n; i++) {
        crdt_dot e = {0, 0};
        PyObject *t;

        (void)crdt_dotctx_cloud_dot(c, i, &e);
        if (!(t = Py_BuildValue("(KK)", (unsigned long long)e.actor,
                                (unsigned long long)e.counter))) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

static PyObject *dotctx_repr(CrdtObject *self)
{
    PyObject *vv = dotctx_vv(self, NULL), *cl, *r;

    if (!vv)
        return NULL;
    if (!(cl = dotctx_cloud(self, NULL))) {
        Py_DECREF(vv);
        return NULL;
    }
    r = PyUnicode_FromFormat("DotContext(vv=%R, cloud=%R)", vv, cl);
    Py_DECREF(vv);
    Py_DECREF(cl);
    return r;
}

static PyMethodDef dotctx_methods[] = {
    {"next_dot", (PyCFunction)dotctx_next, METH_O,
     "next_dot($self, actor, /)\n--\n\n"
     "Record actor's next event; returns the delta, the context of that\n"
     "one dot."},
    {"add", (PyCFunction)dotctx_add, METH_O,
     "add($self, dot, /)\n--\n\n"
     "Add the dot (actor, counter); returns the delta."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef dotctx_getset[] = {
    {"vv", (getter)dotctx_vv, NULL,
     "The version vector part: {actor: n}, dots 1..n all present.", NULL},
    {"cloud", (getter)dotctx_cloud, NULL,
     "The dots beyond the vector: [(actor, counter)], ascending.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods dotctx_sequence = {
    .sq_contains = (objobjproc)dotctx_contains,
};

CRDT_CLASS(DotCtx_Type, "DotContext",
           "DotContext()\n--\n\n"
           "A causal context: a set of dots (actor, counter), kept as a\n"
           "version vector plus the dots beyond it.  (actor, counter) in ctx\n"
           "tests a dot; merge() is set union.",
           .tp_methods = dotctx_methods, .tp_getset = dotctx_getset,
           .tp_as_sequence = &dotctx_sequence,
           .tp_repr = (reprfunc)dotctx_repr);

/* ================================================================ ORMap */

/* Runs the user's fn on a view of @p value whose mutators also join into
 * @p delta; the view expires when fn returns. */
int crdtpy_run_update(struct crdtpy_upd *u, void *value, void *delta)
{
    CrdtObject *v = crdtpy_view_new(u->ti, value, delta, u->hlc);
    PyObject *r;

    if (!v) {
        u->pyerr = 1;
        return CRDT_ERR_NOMEM;
    }
    r = u->actor ? PyObject_CallFunctionObjArgs(u->fn, (PyObject *)v,
                                                u->actor, NULL)
                 : PyObject_CallOneArg(u->fn, (PyObject *)v);
    crdtpy_view_expire(v);
    Py_DECREF(v);
    if (!r) {
        u->pyerr = 1;
        return CRDT_ERR_INVALID_ARG;
    }
    Py_DECREF(r);
    return CRDT_OK;
}

static int ormap_update_cb(void *value, void *value_delta, void *ud)
{
    return crdtpy_run_update(ud, value, value_delta);
}

static PyObject *ormap_update(CrdtObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"actor", "key", "cls", "fn", NULL};
    uint64_t actor;
    PyObject *key, *cls, *fn;
    struct crdtpy_upd u = {0};
    void *m = get(self);
    Py_buffer b;
    CrdtObject *d;
    int rv;

    if (!m || !PyArg_ParseTupleAndKeywords(args, kw, "O&OOO:update", kwlist,
                                           u64_conv, &actor, &key, &cls, &fn))
        return NULL;
    if (!(u.ti = crdtpy_tinfo_of_class(cls))) {
        PyErr_Format(PyExc_TypeError,
                     "cls must be a crdt data type class (GCounter, ORSet, "
                     "ORMap, ...), not %R", cls);
        return NULL;
    }
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "fn must be callable");
        return NULL;
    }
    if (crdtpy_key(key, &b, "key") < 0)
        return NULL;
    if (!(d = delta_new(self))) {
        PyBuffer_Release(&b);
        return NULL;
    }
    u.fn = fn;
    u.hlc = self->hlc;
    self->busy++;
    rv = crdt_ormap_update(m, actor, b.buf, (size_t)b.len, u.ti->desc(),
                           ormap_update_cb, &u, d->obj);
    self->busy--;
    PyBuffer_Release(&b);
    if (rv && u.pyerr) {
        Py_DECREF(d);
        return NULL;
    }
    return finish(self, d, rv);
}

static PyObject *ormap_remove(CrdtObject *self, PyObject *key)
{
    void *m = get(self);
    Py_buffer b;
    CrdtObject *d;
    int rv;

    if (!m || crdtpy_key(key, &b, "key") < 0)
        return NULL;
    if (!(d = delta_new(self))) {
        PyBuffer_Release(&b);
        return NULL;
    }
    rv = crdt_ormap_remove(m, b.buf, (size_t)b.len, d->obj);
    PyBuffer_Release(&b);
    return finish(self, d, rv);
}

/* m[key]: a copy of the value; KeyError if absent.  @p dflt non-NULL:
 * return it instead of raising. */
static PyObject *ormap_lookup(CrdtObject *self, PyObject *key, PyObject *dflt)
{
    void *m = get(self);
    const crdt_type *type = NULL;
    const void *value = NULL;
    Py_buffer b;
    int rv;

    if (!m || crdtpy_key(key, &b, "key") < 0)
        return NULL;
    rv = crdt_ormap_get(m, b.buf, (size_t)b.len, &type, &value);
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

static PyObject *ormap_getitem(CrdtObject *self, PyObject *key)
{
    return ormap_lookup(self, key, NULL);
}

static int ormap_setitem(CrdtObject *self, PyObject *key, PyObject *v)
{
    PyObject *d;

    if (v) {
        PyErr_SetString(PyExc_TypeError,
                        "ORMap values change through update(actor, key, "
                        "cls, fn), not assignment");
        return -1;
    }
    d = ormap_remove(self, key);
    Py_XDECREF(d);
    return d ? 0 : -1;
}

static PyObject *ormap_get(CrdtObject *self, PyObject *args)
{
    PyObject *key, *dflt = Py_None;

    if (!PyArg_UnpackTuple(args, "get", 1, 2, &key, &dflt))
        return NULL;
    return ormap_lookup(self, key, dflt);
}

static int ormap_contains(CrdtObject *self, PyObject *key)
{
    void *m = get(self);
    Py_buffer b;
    bool r;

    if (!m || crdtpy_key(key, &b, "key") < 0)
        return -1;
    r = crdt_ormap_contains(m, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return r;
}

static Py_ssize_t ormap_len(CrdtObject *self)
{
    void *m = get(self);

    return m ? (Py_ssize_t)crdt_ormap_size(m) : -1;
}

/* what: 0 keys, 1 values, 2 items. */
static PyObject *ormap_list(CrdtObject *self, int what)
{
    void *m = get(self);
    size_t i, n;
    PyObject *l;

    if (!m)
        return NULL;
    n = crdt_ormap_size(m);
    if (!(l = PyList_New((Py_ssize_t)n)))
        return NULL;
    for (i = 0; i < n; i++) {
        const uint8_t *k = NULL;
        size_t klen = 0;
        const crdt_type *type = NULL;
        const void *value = NULL;
        PyObject *ko = NULL, *vo = NULL, *item;

        (void)crdt_ormap_entry(m, i, &k, &klen, &type, &value);
        if (what != 1 &&
            !(ko = PyBytes_FromStringAndSize((const char *)k,
                                             (Py_ssize_t)klen)))
            goto fail;
        if (what != 0 && !(vo = crdtpy_wrap_copy(type->tag, type, value))) {
            Py_XDECREF(ko);
            goto fail;
        }
        if (what == 2) {
            item = PyTuple_Pack(2, ko, vo);
            Py_DECREF(ko);
            Py_DECREF(vo);
            if (!item)
                goto fail;
        } else {
            item = what ? vo : ko;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, item);
    }
    return l;
fail:
    Py_DECREF(l);
    return NULL;
}

static PyObject *ormap_keys(CrdtObject *s, PyObject *u)
{
    (void)u;
    return ormap_list(s, 0);
}
static PyObject *ormap_values(CrdtObject *s, PyObject *u)
{
    (void)u;
    return ormap_list(s, 1);
}
static PyObject *ormap_items(CrdtObject *s, PyObject *u)
{
    (void)u;
    return ormap_list(s, 2);
}

static PyObject *ormap_iter(CrdtObject *self)
{
    PyObject *l = ormap_list(self, 0), *it;

    if (!l)
        return NULL;
    it = PyObject_GetIter(l);
    Py_DECREF(l);
    return it;
}

static PyObject *ormap_type_of(CrdtObject *self, PyObject *key)
{
    void *m = get(self);
    const crdt_type *type = NULL;
    const crdtpy_tinfo *ti;
    Py_buffer b;
    int rv;

    if (!m || crdtpy_key(key, &b, "key") < 0)
        return NULL;
    rv = crdt_ormap_get(m, b.buf, (size_t)b.len, &type, NULL);
    PyBuffer_Release(&b);
    if (rv == CRDT_ERR_NOT_FOUND) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    if (rv)
        return crdtpy_error(rv);
    ti = crdtpy_tinfo_of_tag(type->tag);
    return ti ? Py_NewRef((PyObject *)ti->pytype) : Py_NewRef(Py_None);
}

static PyObject *ormap_repr(CrdtObject *self)
{
    PyObject *items = ormap_list(self, 2), *parts, *r = NULL;
    Py_ssize_t i, n;

    if (!items)
        return NULL;
    n = PyList_GET_SIZE(items);
    if (!(parts = PyList_New(n))) {
        Py_DECREF(items);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        PyObject *it = PyList_GET_ITEM(items, i);
        PyObject *s = PyUnicode_FromFormat("%R: %R", PyTuple_GET_ITEM(it, 0),
                                           PyTuple_GET_ITEM(it, 1));
        if (!s)
            goto out;
        PyList_SET_ITEM(parts, i, s);
    }
    /* parts are already "k: v" strings: print them bare */
    {
        PyObject *bare = PyList_New(0);

        if (!bare)
            goto out;
        for (i = 0; i < n && i < 20; i++) {
            PyObject *s = PyList_GET_ITEM(parts, i);

            if (PyList_Append(bare, s) < 0) {
                Py_DECREF(bare);
                goto out;
            }
        }
        if (n > 20) {
            PyObject *s = PyUnicode_FromFormat("...(%zd more)", n - 20);

            if (!s || PyList_Append(bare, s) < 0) {
                Py_XDECREF(s);
                Py_DECREF(bare);
                goto out;
            }
            Py_DECREF(s);
        }
        {
            PyObject *sep = PyUnicode_FromString(", "), *j;

            j = sep ? PyUnicode_Join(sep, bare) : NULL;
            Py_XDECREF(sep);
            Py_DECREF(bare);
            if (!j)
                goto out;
            r = n ? PyUnicode_FromFormat("ORMap({%U})", j)
                  : PyUnicode_FromString("ORMap()");
            Py_DECREF(j);
        }
    }
out:
    Py_DECREF(items);
    Py_DECREF(parts);
    return r;
}

static PyMethodDef ormap_methods[] = {
    {"update", (PyCFunction)(void (*)(void))ormap_update,
     METH_VARARGS | METH_KEYWORDS,
     "update($self, actor, key, cls, fn)\n--\n\n"
     "Mutate key's value of class cls (any crdt data type, ORMap for a\n"
     "nested map): fn(value) is called with the value (an empty one if\n"
     "key is absent or was removed) and mutates it with its own mutators,\n"
     "e.g. lambda c: c.inc(actor, 2).  The value is lent to fn and\n"
     "unusable after it returns.  The key then gets a new event of actor\n"
     "(add wins over a concurrent remove).  Returns the delta, an ORMap.\n"
     "crdt.TypeMismatchError (a TypeError) if key holds another class;\n"
     "an exception raised by fn propagates and changes nothing."},
    {"remove", (PyCFunction)ormap_remove, METH_O,
     "remove($self, key, /)\n--\n\n"
     "Remove key (what this replica has observed of it; a concurrent\n"
     "update survives with what it brought).  Returns the delta."},
    {"get", (PyCFunction)ormap_get, METH_VARARGS,
     "get($self, key, default=None, /)\n--\n\n"
     "A copy of key's value, or default."},
    {"keys", (PyCFunction)ormap_keys, METH_NOARGS,
     "keys($self, /)\n--\n\nThe present keys (bytes) in byte order, as a list."},
    {"values", (PyCFunction)ormap_values, METH_NOARGS,
     "values($self, /)\n--\n\nCopies of the values, in key order, as a list."},
    {"items", (PyCFunction)ormap_items, METH_NOARGS,
     "items($self, /)\n--\n\n[(key, copy of value)] in key order."},
    {"type_of", (PyCFunction)ormap_type_of, METH_O,
     "type_of($self, key, /)\n--\n\nThe class of key's value (KeyError if absent)."},
    {NULL, NULL, 0, NULL}};

static PyMappingMethods ormap_mapping = {
    .mp_length = (lenfunc)ormap_len,
    .mp_subscript = (binaryfunc)ormap_getitem,
    .mp_ass_subscript = (objobjargproc)ormap_setitem,
};

static PySequenceMethods ormap_sequence = {
    .sq_contains = (objobjproc)ormap_contains,
};

CRDT_CLASS(ORMap_Type, "ORMap",
           "ORMap()\n--\n\n"
           "An observed-remove map from bytes keys to CRDT values of any\n"
           "class (nested ORMaps included), on one causal context.\n\n"
           "The mapping protocol reads it: m[key] and m.get(key) give a COPY\n"
           "of the value (mutating the copy does not change the map), `in`,\n"
           "len(), iteration over the keys in byte order, keys(), values(),\n"
           "items().  Write with update(actor, key, cls, fn); remove with\n"
           "remove(key) or del m[key].  Add wins: an update concurrent with\n"
           "a remove keeps the key.",
           .tp_methods = ormap_methods, .tp_as_mapping = &ormap_mapping,
           .tp_as_sequence = &ormap_sequence,
           .tp_iter = (getiterfunc)ormap_iter,
           .tp_repr = (reprfunc)ormap_repr);

/* ================================================================== HLC */

static uint64_t hlc_wall(void *ud)
{
    HLCObject *h = ud;
    PyObject *r;
    uint64_t v = 0;

    if (h->failed)
        return 0;
    r = PyObject_CallNoArgs(h->wall);
    if (!r || crdtpy_u64(r, &v, "wall_ms()") < 0)
        h->failed = 1;
    Py_XDECREF(r);
    return v;
}

static PyObject *hlc_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"wall_ms", "max_drift_ms", NULL};
    PyObject *wall = Py_None;
    uint64_t drift = CRDT_HLC_DEFAULT_MAX_DRIFT_MS;
    crdt_hlc_settings s;
    HLCObject *h;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$O&:HLC", kwlist, &wall,
                                     u64_conv, &drift))
        return NULL;
    if (wall != Py_None && !PyCallable_Check(wall)) {
        PyErr_SetString(PyExc_TypeError, "wall_ms must be callable or None");
        return NULL;
    }
    if (!(h = (HLCObject *)type->tp_alloc(type, 0)))
        return NULL;
    crdt_hlc_settings_default(&s);
    s.max_drift_ms = drift;
    if (wall != Py_None) {
        h->wall = Py_NewRef(wall);
        s.wall_ms = hlc_wall;
        s.user_data = h;
    }
    if (!(h->hlc = crdt_hlc_new(&s, NULL))) {
        Py_DECREF(h);
        return PyErr_NoMemory();
    }
    return (PyObject *)h;
}

static void hlc_dealloc(HLCObject *h)
{
    PyObject_GC_UnTrack(h);
    crdt_hlc_free(h->hlc);
    Py_CLEAR(h->wall);
    Py_TYPE(h)->tp_free((PyObject *)h);
}

static int hlc_traverse(HLCObject *h, visitproc visit, void *arg)
{
    Py_VISIT(h->wall);
    return 0;
}

static int hlc_clear(HLCObject *h)
{
    Py_CLEAR(h->wall);
    /* the clock may still be called: fall back to a constant 0 ms */
    h->failed = 1;
    return 0;
}

static PyObject *hlc_result(HLCObject *h, int rv, uint64_t ts)
{
    if (h->failed && h->wall)
        return NULL;
    if (rv)
        return crdtpy_error(rv);
    return PyLong_FromUnsignedLongLong(ts);
}

static PyObject *hlc_now(HLCObject *h, PyObject *unused)
{
    uint64_t ts = 0;
    int rv;

    (void)unused;
    h->failed = 0;
    rv = crdt_hlc_now(h->hlc, &ts);
    return hlc_result(h, rv, ts);
}

static PyObject *hlc_update(HLCObject *h, PyObject *arg)
{
    uint64_t remote, ts = 0;
    int rv;

    if (crdtpy_u64(arg, &remote, "remote") < 0)
        return NULL;
    h->failed = 0;
    rv = crdt_hlc_update(h->hlc, remote, &ts);
    return hlc_result(h, rv, ts);
}

static PyObject *hlc_last(HLCObject *h, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(crdt_hlc_last(h->hlc));
}

static PyObject *hlc_bytes(HLCObject *h, PyObject *unused)
{
    crdt_buf buf;
    PyObject *r;
    int rv;

    (void)unused;
    crdt_buf_init(&buf, NULL);
    rv = crdt_hlc_encode(h->hlc, &buf);
    if (rv) {
        crdt_buf_clear(&buf);
        return crdtpy_error(rv);
    }
    r = PyBytes_FromStringAndSize((const char *)buf.data, (Py_ssize_t)buf.len);
    crdt_buf_clear(&buf);
    return r;
}

static PyObject *hlc_from_bytes(PyObject *cls, PyObject *data)
{
    crdt_decode_info info = {0, 0};
    PyObject *args = PyTuple_New(0), *h;
    Py_buffer b;
    int rv;

    if (!args)
        return NULL;
    h = hlc_new((PyTypeObject *)cls, args, NULL);
    Py_DECREF(args);
    if (!h)
        return NULL;
    if (crdtpy_key(data, &b, "data") < 0) {
        Py_DECREF(h);
        return NULL;
    }
    rv = crdt_hlc_decode(((HLCObject *)h)->hlc, b.buf, (size_t)b.len, NULL,
                         &info);
    PyBuffer_Release(&b);
    if (rv) {
        Py_DECREF(h);
        return crdtpy_decode_error(rv, info.offset);
    }
    return h;
}

static PyObject *hlc_pack(PyObject *cls, PyObject *args)
{
    uint64_t ms, logical;

    (void)cls;
    if (!PyArg_ParseTuple(args, "O&O&:pack", u64_conv, &ms, u64_conv,
                          &logical))
        return NULL;
    if (ms > CRDT_HLC_MS_MAX || logical > CRDT_HLC_LOGICAL_MAX) {
        PyErr_SetString(PyExc_OverflowError,
                        "ms must be < 2**48 and logical < 2**16");
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(crdt_hlc_pack(ms, (uint16_t)logical));
}

static PyObject *hlc_split(PyObject *cls, PyObject *arg)
{
    uint64_t ts;

    (void)cls;
    if (crdtpy_u64(arg, &ts, "ts") < 0)
        return NULL;
    return Py_BuildValue("(KI)", (unsigned long long)crdt_hlc_ms(ts),
                         (unsigned)crdt_hlc_logical(ts));
}

static PyObject *hlc_repr(HLCObject *h)
{
    uint64_t t = crdt_hlc_last(h->hlc);

    return PyUnicode_FromFormat("HLC(last=%llu: ms=%llu, logical=%u)",
                                (unsigned long long)t,
                                (unsigned long long)crdt_hlc_ms(t),
                                (unsigned)crdt_hlc_logical(t));
}

static PyMethodDef hlc_methods[] = {
    {"now", (PyCFunction)hlc_now, METH_NOARGS,
     "now($self, /)\n--\n\n"
     "Issue the timestamp of a local or send event: strictly greater than\n"
     "every timestamp issued or received before."},
    {"update", (PyCFunction)hlc_update, METH_O,
     "update($self, remote, /)\n--\n\n"
     "Issue the timestamp of receiving a message stamped remote.\n"
     "crdt.ClockDriftError if remote is too far ahead of the wall clock."},
    {"__bytes__", (PyCFunction)hlc_bytes, METH_NOARGS,
     "__bytes__($self, /)\n--\n\nThe clock's persisted state (its last timestamp)."},
    {"from_bytes", (PyCFunction)hlc_from_bytes, METH_O | METH_CLASS,
     "from_bytes($cls, data, /)\n--\n\n"
     "A clock (on the system time) restored from bytes(clock)."},
    {"pack", (PyCFunction)hlc_pack, METH_VARARGS | METH_STATIC,
     "pack(ms, logical, /)\n--\n\nThe timestamp (ms << 16) | logical."},
    {"split", (PyCFunction)hlc_split, METH_O | METH_STATIC,
     "split(ts, /)\n--\n\n(ms, logical) of a timestamp."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef hlc_getset[] = {
    {"last", (getter)hlc_last, NULL,
     "The last timestamp issued (0 if none).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject HLC_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "crdt.HLC",
    .tp_basicsize = sizeof(HLCObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "HLC(wall_ms=None, *, max_drift_ms=60000)\n--\n\n"
              "A hybrid logical clock: 64-bit timestamps (ms << 16 | logical)\n"
              "close to wall-clock time that never go backwards.  wall_ms, a\n"
              "callable returning milliseconds, replaces the system clock\n"
              "(for tests and simulations).",
    .tp_new = hlc_new,
    .tp_dealloc = (destructor)hlc_dealloc,
    .tp_traverse = (traverseproc)hlc_traverse,
    .tp_clear = (inquiry)hlc_clear,
    .tp_methods = hlc_methods,
    .tp_getset = hlc_getset,
    .tp_repr = (reprfunc)hlc_repr,
};

/* ====================================================== module functions */

static PyObject *mod_actor(PyObject *m, PyObject *name)
{
    const char *p;
    Py_ssize_t n;
    Py_buffer b;
    crdt_actor a;

    (void)m;
    if (PyUnicode_Check(name)) {
        if (!(p = PyUnicode_AsUTF8AndSize(name, &n)))
            return NULL;
        return PyLong_FromUnsignedLongLong(crdt_actor_from_name(p, (size_t)n));
    }
    if (crdtpy_key(name, &b, "name") < 0)
        return NULL;
    a = crdt_actor_from_name(b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLongLong(a);
}

static PyObject *mod_random_actor(PyObject *m, PyObject *unused)
{
    crdt_actor a;
    int rv;

    (void)m;
    (void)unused;
    rv = crdt_actor_random(&a);
    return rv ? crdtpy_error(rv) : PyLong_FromUnsignedLongLong(a);
}

static PyObject *mod_decode(PyObject *m, PyObject *data)
{
    const crdtpy_tinfo *ti;
    Py_buffer b;
    uint32_t tag = 0;
    int rv;

    (void)m;
    if (crdtpy_key(data, &b, "data") < 0)
        return NULL;
    rv = crdt_decode_header(b.buf, (size_t)b.len, &tag);
    PyBuffer_Release(&b);
    if (rv)
        return crdtpy_decode_error(rv, 0);
    if (tag == CRDT_TAG_HLC)
        return hlc_from_bytes((PyObject *)&HLC_Type, data);
    if (!(ti = crdtpy_tinfo_of_tag(tag)))
        return crdtpy_decode_error(CRDT_ERR_TYPE, 0);
    return decode_as(ti, data);
}

static PyObject *mod_actor_of(PyObject *m, PyObject *args)
{
    uint64_t id, inc;

    (void)m;
    if (!PyArg_ParseTuple(args, "O&O&:actor_of", u64_conv, &id, u64_conv,
                          &inc))
        return NULL;
    return PyLong_FromUnsignedLongLong(crdt_gossip_actor_of(id, inc));
}

static PyObject *mod_strerror(PyObject *m, PyObject *arg)
{
    long c = PyLong_AsLong(arg);

    (void)m;
    if (c == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(crdt_strerror((int)c));
}

static PyObject *mod_raise(PyObject *m, PyObject *arg)
{
    long c = PyLong_AsLong(arg);

    (void)m;
    if (c == -1 && PyErr_Occurred())
        return NULL;
    return crdtpy_error((int)c);
}

/* _bench_c(op, n): the C side of bench.py, timed here so that it runs the
 * library calls the bindings make, in this process, without Python in the
 * loop.  Returns seconds per operation. */
#include <time.h>
static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static PyObject *mod_bench_c(PyObject *m, PyObject *args)
{
    const char *op;
    Py_ssize_t n, i, setsize = 10000;
    double t0, t1;
    int rv = 0;
    char key[16];

    (void)m;
    if (!PyArg_ParseTuple(args, "sn|n:_bench_c", &op, &n, &setsize))
        return NULL;
    if (n <= 0)
        n = 1;
    if (!strcmp(op, "gcounter_inc")) {
        /* the bindings' inc: a fresh delta, the increment, a free */
        crdt_gcounter *g = crdt_gcounter_new(NULL);

        t0 = now_s();
        for (i = 0; i < n && !rv; i++) {
            crdt_gcounter *d = crdt_gcounter_new(NULL);

            rv = crdt_gcounter_increment(g, 1, 1, d);
            crdt_gcounter_free(d);
        }
        t1 = now_s();
        crdt_gcounter_free(g);
    } else if (!strcmp(op, "gcounter_merge") ||
               !strcmp(op, "gcounter_encode")) {
        crdt_gcounter *a = crdt_gcounter_new(NULL), *b = crdt_gcounter_new(NULL);
        crdt_buf buf;

        crdt_buf_init(&buf, NULL);
        for (i = 1; i <= 8; i++) {
            rv |= crdt_gcounter_increment(a, (crdt_actor)i, (uint64_t)i, NULL);
            rv |= crdt_gcounter_increment(b, (crdt_actor)i + 4, 3, NULL);
        }
        t0 = now_s();
        for (i = 0; i < n && !rv; i++) {
            if (op[9] == 'm') {
                rv = crdt_gcounter_merge(a, b);
            } else {
                crdt_buf_reset(&buf);
                rv = crdt_gcounter_encode(a, &buf);
            }
        }
        t1 = now_s();
        crdt_buf_clear(&buf);
        crdt_gcounter_free(a);
        crdt_gcounter_free(b);
    } else if (!strcmp(op, "gset_add")) {
        crdt_gset *s = crdt_gset_new(NULL);

        t0 = now_s();
        for (i = 0; i < n && !rv; i++) {
            crdt_gset *d = crdt_gset_new(NULL);
            int len = snprintf(key, sizeof key, "e%zd", i % setsize);

            rv = crdt_gset_add(s, key, (size_t)len, d);
            crdt_gset_free(d);
        }
        t1 = now_s();
        crdt_gset_free(s);
    } else if (!strcmp(op, "gset_merge") || !strcmp(op, "gset_encode")) {
        crdt_gset *a = crdt_gset_new(NULL), *b = crdt_gset_new(NULL);
        crdt_buf buf;

        crdt_buf_init(&buf, NULL);
        for (i = 0; i < setsize && !rv; i++) {
            int len = snprintf(key, sizeof key, "e%zd", i);

            rv = crdt_gset_add(a, key, (size_t)len, NULL);
            if (!rv && i % 2)
                rv = crdt_gset_add(b, key, (size_t)len, NULL);
        }
        t0 = now_s();
        for (i = 0; i < n && !rv; i++) {
            if (op[5] == 'm') {
                rv = crdt_gset_merge(a, b);
            } else {
                crdt_buf_reset(&buf);
                rv = crdt_gset_encode(a, &buf);
            }
        }
        t1 = now_s();
        crdt_buf_clear(&buf);
        crdt_gset_free(a);
        crdt_gset_free(b);
    } else {
        PyErr_Format(PyExc_ValueError, "unknown op %s", op);
        return NULL;
    }
    if (rv)
        return crdtpy_error(rv);
    return PyFloat_FromDouble((t1 - t0) / (double)n);
}

static PyMethodDef module_methods[] = {
    {"actor", mod_actor, METH_O,
     "actor(name, /)\n--\n\n"
     "The library's actor id of name (str, as UTF-8, or bytes): XXH3-64\n"
     "with seed 0, the same in every language."},
    {"random_actor", mod_random_actor, METH_NOARGS,
     "random_actor()\n--\n\nA random non-zero actor id from the OS's random source."},
    {"decode", mod_decode, METH_O,
     "decode(data, /)\n--\n\n"
     "Decode any encoding into an object of its class (read from the\n"
     "envelope's type tag).  crdt.DecodeError for anything else."},
    {"actor_of", mod_actor_of, METH_VARARGS,
     "actor_of(node_id, incarnation, /)\n--\n\n"
     "The write actor of that incarnation of a gossip node."},
    {"strerror", mod_strerror, METH_O,
     "strerror(code, /)\n--\n\nThe library's text of an error code."},
    {"_raise", mod_raise, METH_O,
     "_raise(code, /)\n--\n\nRaise the exception of an error code (for tests)."},
    {"_bench_c", mod_bench_c, METH_VARARGS,
     "_bench_c(op, n, setsize=10000, /)\n--\n\n"
     "Seconds per op of a C loop of the library calls behind an operation\n"
     "(bench.py)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef crdt_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "crdt._crdt",
    .m_doc = "CPython bindings of libcrdt and libcrdt-gossip (use the crdt "
             "package).",
    .m_size = -1,
    .m_methods = module_methods,
};

static PyObject *new_exc(PyObject *m, const char *name, const char *doc,
                         PyObject *base1, PyObject *base2)
{
    char full[64];
    PyObject *bases, *e;

    snprintf(full, sizeof full, "crdt.%s", name);
    bases = base2 ? PyTuple_Pack(2, base1, base2) : PyTuple_Pack(1, base1);
    if (!bases)
        return NULL;
    e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (!e || PyModule_AddObjectRef(m, name, e) < 0)
        return NULL;
    return e;
}

PyMODINIT_FUNC PyInit__crdt(void)
{
    PyObject *m;
    size_t i;

    if (PyType_Ready(&CrdtBase_Type) < 0 || PyType_Ready(&HLC_Type) < 0)
        return NULL;
    for (i = 0; i < NTINFO; i++)
        if (PyType_Ready(tinfos[i].pytype) < 0)
            return NULL;
    if (!(m = PyModule_Create(&crdt_module)))
        return NULL;
    if (!(E_Error = new_exc(m, "Error",
                            "Base class of the errors libcrdt reports; .code "
                            "is the C error code (crdt_error).",
                            PyExc_Exception, NULL)) ||
        !(E_Decode = new_exc(m, "DecodeError",
                             "Bytes that are not one canonical encoding of the "
                             "expected type; .offset is the byte offset where "
                             "decoding stopped, .code the C error.",
                             E_Error, PyExc_ValueError)) ||
        !(E_Invalid = new_exc(m, "InvalidArgumentError",
                              "CRDT_ERR_INVALID_ARG: an argument out of range.",
                              E_Error, PyExc_ValueError)) ||
        !(E_Limit = new_exc(m, "LimitError",
                            "CRDT_ERR_LIMIT: a size or depth limit.",
                            E_Error, PyExc_ValueError)) ||
        !(E_Overflow = new_exc(m, "CRDTOverflowError",
                               "CRDT_ERR_OVERFLOW: a counter, value or clock "
                               "would pass its maximum (nothing changed).",
                               E_Error, PyExc_OverflowError)) ||
        !(E_TypeMismatch = new_exc(m, "TypeMismatchError",
                                   "CRDT_ERR_TYPE: a map or store key holds a "
                                   "value of another type.",
                                   E_Error, PyExc_TypeError)) ||
        !(E_Drift = new_exc(m, "ClockDriftError",
                            "CRDT_ERR_CLOCK_DRIFT: a remote timestamp too far "
                            "ahead of the wall clock.",
                            E_Error, PyExc_ValueError)) ||
        !(E_Buffer = new_exc(m, "BufferTooSmallError",
                             "CRDT_ERR_BUFFER: an output buffer too small.",
                             E_Error, PyExc_BufferError)) ||
        !(E_Random = new_exc(m, "RandomSourceError",
                             "CRDT_ERR_RANDOM: the OS random source failed.",
                             E_Error, PyExc_OSError)) ||
        !(E_NotFound = new_exc(m, "NotFoundError",
                               "CRDT_ERR_NOT_FOUND: no such entry.",
                               E_Error, PyExc_KeyError)) ||
        !(E_Busy = new_exc(m, "BusyError",
                           "CRDT_ERR_BUSY: a node called from its own "
                           "callback.",
                           E_Error, PyExc_RuntimeError)) ||
        !(E_Auth = new_exc(m, "AuthenticationError",
                           "CRDT_ERR_AUTH: a sealed datagram that does not "
                           "authenticate (wrong key or cluster, or "
                           "altered).",
                           E_Error, PyExc_ValueError)) ||
        !(E_IO = new_exc(m, "TransportError",
                         "CRDT_ERR_IO: a socket or file operation failed.",
                         E_Error, PyExc_OSError)) ||
        !(E_Timeout = new_exc(m, "ConsistencyTimeout",
                              "CRDT_ERR_TIMEOUT: a consistency level or "
                              "session could not be met in time, or a "
                              "client's wait for the node's reply ran "
                              "out.",
                              E_Error, PyExc_TimeoutError)) ||
        !(E_Scenario = new_exc(m, "ScenarioError",
                               "A crdt sim scenario that is malformed or "
                               "cannot run; the message names the line.",
                               E_Error, PyExc_ValueError)))
        goto fail;
    if (PyModule_AddObjectRef(m, "CRDT", (PyObject *)&CrdtBase_Type) < 0 ||
        PyModule_AddObjectRef(m, "HLC", (PyObject *)&HLC_Type) < 0)
        goto fail;
    for (i = 0; i < NTINFO; i++)
        if (PyModule_AddObjectRef(m, _PyType_Name(tinfos[i].pytype),
                                  (PyObject *)tinfos[i].pytype) < 0)
            goto fail;
    if (PyModule_AddStringConstant(m, "LIBRARY_VERSION",
                                   crdt_version_string()) < 0 ||
        PyModule_AddIntConstant(m, "FORMAT_VERSION", CRDT_FORMAT_VERSION) < 0)
        goto fail;
    if (!module_hlc && !(module_hlc = crdt_hlc_new(NULL, NULL))) {
        PyErr_NoMemory();
        goto fail;
    }
    if (crdtpy_gossip_init(m) < 0 || crdtpy_client_init(m) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
