# SPDX-License-Identifier: MIT
"""Operation sequences for every data type, for the property tests.

A history is a list of steps on three replicas: (replica, op) applies a
mutator to that replica, ("sync", i, j) merges replica j into replica i
(so removes observe other replicas' adds, as in real use).  Replica r uses
actors 2r+1 and 2r+2, so replicas never share an actor.
"""
from hypothesis import strategies as st

import crdt

REPLICAS = 3
VALUES = [b"", b"a", b"b", b"ab", b"\x00", b"\xff" * 3,
          b"a value longer than sixteen bytes"]
ELEMS = [b"", b"x", b"y", b"xy", b"\x00\x01", b"an element of 20 bytes"]

values = st.sampled_from(VALUES) | st.binary(max_size=24)
elems = st.sampled_from(ELEMS) | st.binary(max_size=12)
which_actor = st.integers(0, 1)
amounts = st.integers(0, 3) | st.integers(0, 2**40)
times = st.integers(0, 4) | st.integers(0, 2**63)

# ORMap keys and the class each holds (one class per key, so updates
# never conflict on type; the misuse is tested separately).
MAP_KEYS = {b"c": "gcounter", b"p": "pncounter", b"s": "orset",
            b"r": "lww", b"f": "ewflag", b"v": "mvreg", b"m": "ormap",
            b"g": "gset"}


def actor(replica, k):
    return 2 * replica + k + 1


def op_strategy(name):
    """A strategy of ops for the class called name (crdt.CLASSES)."""
    if name == "vclock":
        return st.tuples(st.just("inc"), which_actor, st.integers(0, 3))
    if name == "dotctx":
        return st.one_of(st.tuples(st.just("next"), which_actor),
                         st.tuples(st.just("add"), which_actor,
                                   st.integers(1, 8)))
    if name == "gcounter":
        return st.tuples(st.just("inc"), which_actor, amounts)
    if name == "pncounter":
        return st.tuples(st.sampled_from(["inc", "dec"]), which_actor,
                         amounts)
    if name == "lww":
        return st.tuples(st.just("set"), which_actor, values, times)
    if name == "mvreg":
        return st.one_of(st.tuples(st.just("set"), which_actor, values),
                         st.tuples(st.just("clear")))
    if name == "gset":
        return st.tuples(st.just("add"), elems)
    if name == "orset":
        return st.one_of(st.tuples(st.just("add"), which_actor, elems),
                         st.tuples(st.just("remove"), elems),
                         st.tuples(st.just("clear")))
    if name in ("ewflag", "dwflag"):
        return st.tuples(st.sampled_from(["enable", "disable"]), which_actor)
    if name == "ormap":
        return st.one_of(
            st.tuples(st.just("update"), which_actor,
                      st.sampled_from(sorted(MAP_KEYS)),
                      st.integers(0, 2**32)),
            st.tuples(st.just("remove"), st.sampled_from(sorted(MAP_KEYS))))
    raise KeyError(name)


def history(name, max_size=24):
    step = st.one_of(
        st.tuples(st.integers(0, REPLICAS - 1), op_strategy(name)),
        st.tuples(st.just("sync"), st.integers(0, REPLICAS - 1),
                  st.integers(0, REPLICAS - 1)))
    return st.lists(step, max_size=max_size)


def _map_fn(kind, a, seed):
    """The mutation of a map value of kind, chosen by seed."""
    r = seed % 4
    if kind == "gcounter":
        return lambda c: c.inc(a, r)
    if kind == "pncounter":
        return lambda c: c.dec(a, r) if seed & 4 else c.inc(a, r)
    if kind == "orset":
        e = ELEMS[seed % len(ELEMS)]
        return lambda s: s.remove(e) if seed & 8 else s.add(a, e)
    if kind == "lww":
        return lambda g: g.set(a, VALUES[seed % len(VALUES)], time=r)
    if kind == "ewflag":
        return lambda f: f.enable(a) if seed & 8 else f.disable(a)
    if kind == "mvreg":
        return lambda g: g.set(a, VALUES[seed % len(VALUES)])
    if kind == "gset":
        return lambda s: s.add(ELEMS[seed % len(ELEMS)])
    if kind == "ormap":
        k = [b"x", b"y"][seed & 1]
        return lambda m: (m.remove(k) if seed & 16 else
                          m.update(a, k, crdt.GCounter,
                                   lambda c: c.inc(a, 1 + r)))
    raise KeyError(kind)


def apply(obj, replica, op):
    """Applies op to obj as replica; returns the delta."""
    kind = op[0]
    if kind in ("inc", "dec"):
        return getattr(obj, kind)(actor(replica, op[1]), op[2])
    if kind == "next":
        return obj.next_dot(actor(replica, op[1]))
    if kind == "add" and isinstance(obj, crdt.DotContext):
        return obj.add((actor(replica, op[1]), op[2]))
    if kind == "set" and isinstance(obj, crdt.LWWRegister):
        return obj.set(actor(replica, op[1]), op[2], time=op[3])
    if kind == "set":
        return obj.set(actor(replica, op[1]), op[2])
    if kind == "clear":
        return obj.clear()
    if kind == "add" and isinstance(obj, crdt.GSet):
        return obj.add(op[1])
    if kind == "add":
        return obj.add(actor(replica, op[1]), op[2])
    if kind == "remove":
        return obj.remove(op[1])
    if kind in ("enable", "disable"):
        return getattr(obj, kind)(actor(replica, op[1]))
    if kind == "update":
        a = actor(replica, op[1])
        cls = crdt.CLASSES[MAP_KEYS[op[2]]]
        return obj.update(a, op[2], cls, _map_fn(MAP_KEYS[op[2]], a, op[3]))
    raise KeyError(kind)
