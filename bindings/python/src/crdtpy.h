/* SPDX-License-Identifier: MIT */
/*
 * crdtpy.h: what the parts of the crdt._crdt extension share:
 * crdtmodule.c (errors, the data types, the module), gossipmodule.c
 * (crdt.Node, crdt.Sim, scenarios) and clientmodule.c (crdt.Client, the
 * crdt-node client).
 *
 * Ownership.  Every data-type object (CrdtObject) owns the C state at
 * @c obj and frees it with its type's destroy, except a *view*: an object
 * lent to an update callback (ORMap.update, Node.update, Sim.update) that
 * points at a value the map or node owns.  A view's mutators also join
 * their delta into @c sink (the update's value_delta), and once the
 * callback returns the view is emptied (obj = NULL): using it afterwards
 * raises ValueError instead of touching freed memory.
 *
 * Concurrency.  The GIL is released around long operations (large merges,
 * encodes and decodes, simulator runs).  While it is released, the
 * objects involved are marked @c busy, and every method checks the mark
 * first (with the GIL held), so another thread gets RuntimeError rather
 * than a data race.  The same mark guards a map or node while its update
 * callback runs (the C library forbids touching it from there).
 */
#ifndef CRDTPY_H
#define CRDTPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <crdt/crdt.h>
#include <crdt/gossip.h>
#include <crdt/sim.h>

/* One built-in type as the bindings see it. */
typedef struct crdtpy_tinfo {
    PyTypeObject *pytype;               /* its Python class */
    const crdt_type *(*desc)(void);     /* its vtable */
    uint32_t tag;                       /* wire tag */
    size_t (*weight)(const void *obj);  /* rough size, for GIL release */
} crdtpy_tinfo;

/* A data-type object (see the top of this file). */
typedef struct CrdtObject {
    PyObject_HEAD
    void *obj;                 /* the C state (NULL: an expired view) */
    const crdtpy_tinfo *ti;
    void *sink;                /* views: delta to join each mutation into */
    crdt_hlc *hlc;             /* views in a node: the node's clock */
    int view;                  /* obj is borrowed: never freed here */
    int busy;                  /* in use without the GIL, or mid-update */
} CrdtObject;

/* crdtmodule.c */
extern PyTypeObject CrdtBase_Type;
const crdtpy_tinfo *crdtpy_tinfo_of_tag(uint32_t tag);
const crdtpy_tinfo *crdtpy_tinfo_of_class(PyObject *cls);
PyObject *crdtpy_error(int code);
PyObject *crdtpy_error_msg(int code, const char *msg);
PyObject *crdtpy_decode_error(int code, size_t offset);
PyObject *crdtpy_scenario_error(const char *msg);
CrdtObject *crdtpy_view_new(const crdtpy_tinfo *ti, void *value, void *sink,
                            crdt_hlc *hlc);
void crdtpy_view_expire(CrdtObject *v);
PyObject *crdtpy_wrap_copy(uint32_t tag, const crdt_type *type,
                           const void *value);
int crdtpy_u64(PyObject *o, uint64_t *out, const char *what);
int crdtpy_key(PyObject *o, Py_buffer *view, const char *what);

/* An update callback's context: fn(view) or fn(view, actor). */
struct crdtpy_upd {
    PyObject *fn;
    const crdtpy_tinfo *ti;
    crdt_hlc *hlc;
    PyObject *actor;  /* passed as fn's second argument if not NULL */
    int pyerr;        /* fn raised: the exception is pending */
};
int crdtpy_run_update(struct crdtpy_upd *u, void *value, void *delta);

/* gossipmodule.c */
int crdtpy_gossip_init(PyObject *module);

/* clientmodule.c: crdt.Client, crdt.Session, crdt.Watch (after the
 * module's functions are added: it looks up decode) */
int crdtpy_client_init(PyObject *module);

#endif /* CRDTPY_H */
