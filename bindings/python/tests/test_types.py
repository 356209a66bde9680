# SPDX-License-Identifier: MIT
"""Behaviour of every class, its errors and its misuse."""
import copy
import pickle
import threading

import pytest

import crdt

U64 = 2**64 - 1
ALL = [crdt.VClock, crdt.DotContext, crdt.GCounter, crdt.PNCounter,
       crdt.LWWRegister, crdt.MVRegister, crdt.GSet, crdt.ORSet,
       crdt.EWFlag, crdt.DWFlag, crdt.ORMap]


# ---------------------------------------------------------------- actors

def test_actor_is_xxh3_of_the_name():
    xxhash = pytest.importorskip("xxhash")
    for name in ["", "bob", "ünïcödé", "a" * 100]:
        assert crdt.actor(name) == xxhash.xxh3_64_intdigest(name.encode())
        assert crdt.actor(name.encode()) == crdt.actor(name)
    assert crdt.actor("bob") == 1442208253991303397  # README's example


def test_random_actor():
    xs = {crdt.random_actor() for _ in range(100)}
    assert len(xs) == 100 and all(0 < x <= U64 for x in xs)


def test_actor_of_matches_a_node():
    n = crdt.Node(7, incarnation=9)
    assert crdt.actor_of(7, 9) == n.actor and n.incarnation == 9


# ----------------------------------------------------------- generic verbs

@pytest.mark.parametrize("cls", ALL)
def test_generic_verbs(cls):
    x = cls()
    assert x == cls() and not (x != cls())
    assert type(x.copy()) is cls and x.copy() == x
    enc = bytes(x)
    assert enc[0] & 0xF0 == 0x90 and enc[1] == crdt.FORMAT_VERSION
    assert cls.from_bytes(enc) == x and x.to_bytes() == enc
    assert crdt.decode(enc) == x and type(crdt.decode(enc)) is cls
    assert cls.from_bytes(bytearray(enc)) == x
    assert cls.from_bytes(memoryview(enc)) == x
    assert pickle.loads(pickle.dumps(x)) == x
    assert copy.copy(x) == x and copy.deepcopy(x) == x
    assert x.merge(cls()) is None
    assert repr(x).startswith(cls.__name__ + "(")
    with pytest.raises(TypeError):
        hash(x)
    with pytest.raises(TypeError):
        cls(1)
    assert isinstance(x, crdt.CRDT)
    assert cls.__doc__ and all(
        getattr(cls, m).__doc__ for m in dir(cls) if not m.startswith("_"))


@pytest.mark.parametrize("cls", ALL)
def test_merge_of_another_class_is_a_type_error(cls):
    other = crdt.GCounter if cls is not crdt.GCounter else crdt.GSet
    x = cls()
    before = bytes(x)
    with pytest.raises(TypeError):
        x.merge(other())
    with pytest.raises(TypeError):
        x.merge(b"not a crdt")
    with pytest.raises(TypeError):
        x.merge(None)
    assert bytes(x) == before
    assert (x == other()) is False and x != 3


@pytest.mark.parametrize("cls", ALL)
def test_from_bytes_of_another_class(cls):
    other = crdt.GCounter if cls is not crdt.GCounter else crdt.GSet
    with pytest.raises(crdt.DecodeError) as e:
        cls.from_bytes(bytes(other()))
    assert e.value.code == -7 and e.value.offset is not None  # TYPE


def test_decode_errors_carry_offsets():
    good = bytes.fromhex("930103820501cd012cce00011170")  # gcounter.h
    g = crdt.GCounter.from_bytes(good)
    assert g.value == 70001 and g.counts() == {5: 1, 300: 70000}
    for n in range(len(good)):
        with pytest.raises(crdt.DecodeError) as e:
            crdt.GCounter.from_bytes(good[:n])
        # where the input ended, or the envelope that promised more
        assert 0 <= e.value.offset <= n and isinstance(e.value, ValueError)
        assert e.value.code == -3
    with pytest.raises(crdt.DecodeError) as e:
        crdt.GCounter.from_bytes(good + b"\x00")
    assert e.value.offset == len(good)
    # non-canonical integer form at byte 4
    with pytest.raises(crdt.DecodeError) as e:
        crdt.GCounter.from_bytes(bytes.fromhex("93010381cc0501"))
    assert e.value.offset == 4
    # unknown format version
    with pytest.raises(crdt.DecodeError) as e:
        crdt.decode(bytes.fromhex("93020380"))
    assert e.value.code == -6
    # unknown type tag
    with pytest.raises(crdt.DecodeError) as e:
        crdt.decode(bytes.fromhex("93017f80"))
    assert e.value.code == -7
    for junk in [b"", b"\xc1", b"\x90", b"hello", bytes(range(256))]:
        with pytest.raises(crdt.DecodeError):
            crdt.decode(junk)
    with pytest.raises(TypeError):
        crdt.decode("93010380")
    with pytest.raises(TypeError):
        crdt.decode(12)


def test_every_error_code_maps_to_an_exception():
    table = {-1: MemoryError, -2: crdt.InvalidArgumentError,
             -3: crdt.DecodeError, -4: crdt.LimitError,
             -5: crdt.CRDTOverflowError, -6: crdt.DecodeError,
             -7: crdt.TypeMismatchError, -8: crdt.BufferTooSmallError,
             -9: crdt.ClockDriftError, -10: crdt.RandomSourceError,
             -11: crdt.NotFoundError, -12: crdt.BusyError,
             -13: crdt.AuthenticationError, -14: crdt.TransportError,
             -15: crdt.ConsistencyTimeout, -99: crdt.Error}
    builtin = {-2: ValueError, -3: ValueError, -4: ValueError,
               -5: OverflowError, -7: TypeError, -8: BufferError,
               -9: ValueError, -10: OSError, -11: KeyError,
               -12: RuntimeError, -13: ValueError, -14: OSError,
               -15: TimeoutError}
    for code, exc in table.items():
        with pytest.raises(exc) as e:
            crdt._crdt._raise(code)
        if code != -1:
            assert e.value.code == code and isinstance(e.value, crdt.Error)
            assert crdt.strerror(code) in str(e.value)
        if code in builtin:
            assert isinstance(e.value, builtin[code])
    assert crdt.strerror(0) and crdt.strerror(-1000)


# ---------------------------------------------------------------- VClock

def test_vclock():
    a, b = crdt.VClock(), crdt.VClock()
    d = a.inc(1)
    assert type(d) is crdt.VClock and dict(d) == {1: 1}
    a.inc(1, by=2)
    assert a[1] == 3 and a[99] == 0 and len(a) == 1
    b.inc(2, 5)
    assert a.concurrent(b) and not (a < b) and not (a > b) and a != b
    ab = a.copy()
    ab.merge(b)
    assert list(ab) == [(1, 3), (2, 5)] and dict(ab) == {1: 3, 2: 5}
    assert a < ab and a <= ab and ab > a and ab >= a and not ab < a
    assert ab <= ab and ab >= ab and not ab < ab and not ab.concurrent(ab)
    assert repr(ab) == "VClock({1: 3, 2: 5})"
    assert bytes(ab).hex() == "93010182010302 05".replace(" ", "")
    with pytest.raises(crdt.CRDTOverflowError):
        a.inc(1, U64)
    assert a[1] == 3
    assert a.inc(7, 0) == crdt.VClock() and len(a) == 1


def test_vclock_can_deliver():
    local, msg = crdt.VClock(), crdt.VClock()
    msg.inc(1)
    assert local.can_deliver(msg, 1) and not local.can_deliver(msg, 2)
    msg.inc(2)  # depends on an event of 2 local has not seen
    assert not local.can_deliver(msg, 1)
    local.inc(2)
    assert local.can_deliver(msg, sender=1)
    local.merge(msg)
    assert not local.can_deliver(msg, 1)  # already delivered
    with pytest.raises(TypeError):
        local.can_deliver(crdt.GCounter(), 1)


# -------------------------------------------------------------- counters

def test_gcounter():
    g = crdt.GCounter()
    d1 = g.inc(5)
    d2 = g.inc(actor=300, by=70000)
    assert g.value == int(g) == 70001 and g.counts() == {5: 1, 300: 70000}
    assert bytes(g).hex() == "930103820501cd012cce00011170"
    assert d1.counts() == {5: 1} and d2.counts() == {300: 70000}
    assert repr(g) == "GCounter(value=70001)"
    h = crdt.GCounter()
    h.merge(d2)
    h.merge(d1)
    h.merge(d1)
    assert h == g
    with pytest.raises(crdt.CRDTOverflowError) as e:
        g.inc(9, U64)
    assert isinstance(e.value, OverflowError)
    assert g.value == 70001 and g.counts() == {5: 1, 300: 70000}
    big = crdt.GCounter()
    big.inc(1, U64)
    with pytest.raises(OverflowError):
        g.merge(big)  # the sum would pass 2**64 - 1
    assert g.value == 70001
    with pytest.raises(OverflowError):
        g.inc(-1)
    with pytest.raises(OverflowError):
        g.inc(2**64)
    with pytest.raises(OverflowError):
        g.inc(1, -1)
    with pytest.raises(TypeError):
        g.inc("1")
    with pytest.raises(TypeError):
        g.inc(1.0)
    with pytest.raises(TypeError):
        g.inc()
    with pytest.raises(TypeError):
        g.inc(1, 2, 3)
    with pytest.raises(TypeError):
        g.inc(1, step=2)
    assert g.value == 70001


def test_pncounter():
    p = crdt.PNCounter()
    p.inc(5, 3)
    d = p.dec(7)
    assert p.value == int(p) == 2 and p.totals == (3, 1)
    assert bytes(p).hex() == "94010481050381 0701".replace(" ", "")
    assert type(d) is crdt.PNCounter and d.totals == (0, 1)
    p.dec(8, U64 - 1)
    assert p.value == int(p) == 3 - U64  # exact beyond int64
    assert repr(p) == "PNCounter(value=%d)" % (3 - U64)
    with pytest.raises(crdt.CRDTOverflowError):
        p.dec(9, 1)  # the decrements would sum past 2**64 - 1
    assert p.totals == (3, U64)


# -------------------------------------------------------------- registers

def test_lww_register():
    r = crdt.LWWRegister()
    assert r.value is None and r.timestamp == 0 and repr(r) == "LWWRegister(None)"
    d = r.set(2, b"hi", time=1)
    assert r.value == b"hi" and d == r
    assert bytes(r).hex() == "9501050102c4026869"
    assert r.set(1, b"old", time=0) == crdt.LWWRegister()  # no-op: empty delta
    assert r.value == b"hi"
    r.set(1, b"")
    assert r.value == b"" and r.timestamp > 1 and r.actor == 1
    # the default clock observes the register: the write always wins
    r2 = crdt.LWWRegister()
    r2.set(3, b"later", time=crdt.HLC.pack(5000, 3))
    r2.set(1, b"after", clock=crdt.HLC(wall_ms=lambda: 4000))
    assert r2.value == b"after" and r2.timestamp == crdt.HLC.pack(5000, 4)
    clock = crdt.HLC(wall_ms=lambda: 1000)
    r3 = crdt.LWWRegister()
    r3.set(1, b"x", clock=clock)
    assert r3.timestamp == crdt.HLC.pack(1000, 0) == clock.last
    with pytest.raises(TypeError):
        r.set(1, "str")
    with pytest.raises(TypeError):
        r.set(1, b"x", clock=object())


def test_lww_clock_drift():
    r = crdt.LWWRegister()
    r.set(1, b"x", time=crdt.HLC.pack(10**9, 0))
    slow = crdt.HLC(wall_ms=lambda: 1000)
    with pytest.raises(crdt.ClockDriftError):
        r.set(2, b"y", clock=slow)
    assert r.value == b"x"


def test_mvregister():
    base = crdt.MVRegister()
    a, b = base.copy(), base.copy()
    a.set(1, b"tea")
    b.set(2, b"coffee")
    a.merge(b)
    assert a.values == [b"coffee", b"tea"]
    assert a.siblings == [(1, 1, b"tea"), (2, 1, b"coffee")]
    assert a.resolve() == b"tea" and a.resolve(key=len) == b"coffee"
    assert a.resolve(key=lambda v: 0) == b"tea"  # tie: first in dot order
    d = a.set(1, a.resolve())
    assert a.values == [b"tea"] and d.values == [b"tea"]
    d = a.clear()
    assert a.values == [] and a.resolve() is None and d.values == []
    e = crdt.MVRegister()
    e.set(1, b"a")
    e.set(2, b"b")
    assert e.values == [b"b"]
    with pytest.raises(TypeError):
        e.resolve(key=3)
    with pytest.raises(ZeroDivisionError):
        e.resolve(key=lambda v: 1 / 0)
    assert e.values == [b"b"]


# ------------------------------------------------------------------ sets

def test_gset():
    s = crdt.GSet()
    assert s.add(b"b") == crdt.GSet.from_bytes(bytes(s.copy().add(b"b")))
    s.add(b"a")
    s.add(b"")
    s.add(b"a")
    assert list(s) == [b"", b"a", b"b"] and len(s) == 3 and set(s) == {b"", b"a", b"b"}
    assert bytes(s).hex() == "93010b93c400c40161c40162"
    assert b"a" in s and b"z" not in s and bytearray(b"a") in s
    with pytest.raises(TypeError):
        "a" in s
    with pytest.raises(TypeError):
        s.add("a")
    assert repr(s) == "GSet({b'', b'a', b'b'})"


def test_orset_add_wins():
    s = crdt.ORSet()
    s.add(5, b"a")
    s.add(5, b"b")
    assert bytes(s).hex() == ("950108810502909292c401619192050192c40162"
                              "919205 02").replace(" ", "")
    s1, s2 = s.copy(), s.copy()
    d = s1.remove(b"a")
    assert len(d) == 0 and b"a" not in s1
    s2.add(6, b"a")
    s1.merge(s2)
    assert sorted(s1) == [b"a", b"b"]  # the concurrent add survives
    s3 = s.copy()
    s3.remove(b"a")
    s4 = s.copy()
    s4.merge(s3)
    assert list(s4) == [b"b"]
    c = s4.clear()
    assert len(s4) == 0 and type(c) is crdt.ORSet
    assert s.remove(b"nothing") == crdt.ORSet()
    big = crdt.ORSet()
    for i in range(50):
        big.add(1, b"%d" % i)
    assert "...(30 more)" in repr(big)


# ----------------------------------------------------------------- flags

def test_flags():
    e = crdt.EWFlag()
    assert not e and e.value is False
    e1, e2 = e.copy(), e.copy()
    e1.enable(1)
    e2.enable(2)
    e2.merge(e1)
    e1.disable()
    e1.merge(e2)
    assert bool(e2) is True
    f1, f2 = crdt.EWFlag(), None
    f1.enable(1)
    f2 = f1.copy()
    f1.disable(1)
    f2.enable(2)
    f1.merge(f2)
    assert f1  # enable wins
    assert bytes(crdt.DWFlag()).hex() == "95010a809090"
    w = crdt.DWFlag()
    assert w and w.value is True
    w1, w2 = w.copy(), w.copy()
    w1.disable(1)
    w2.enable()
    w2.merge(w1)
    assert not w2  # disable wins
    with pytest.raises(TypeError):
        crdt.EWFlag().enable()
    with pytest.raises(TypeError):
        crdt.DWFlag().disable()
    assert repr(w2) == "DWFlag(False)"


def test_dotcontext():
    c = crdt.DotContext()
    d = c.next_dot(1)
    assert (1, 1) in c and (1, 1) in d and c.vv == {1: 1}
    c.add((1, 5))
    assert c.cloud == [(1, 5)] and (1, 3) not in c
    with pytest.raises(TypeError):
        (1,) in c


# ------------------------------------------------------------------ ORMap

def test_ormap_readme_example():
    m = crdt.ORMap()
    d = m.update(1, b"a", crdt.GCounter, lambda c: c.inc(1, 2))
    assert bytes(m).hex() == ("95010c81010190 9194c4016103919201019193"
                              "0103810102").replace(" ", "")
    assert d == m
    d = m.remove(b"a")
    assert bytes(m).hex() == "95010c8101019090" and len(m) == 0
    assert type(d) is crdt.ORMap


def test_ormap_mapping_protocol_and_nesting():
    m = crdt.ORMap()
    m.update(1, b"visits", crdt.GCounter, lambda c: c.inc(1, 2))
    m.update(2, b"user", crdt.ORMap,
             lambda u: u.update(2, b"name", crdt.LWWRegister,
                                lambda r: r.set(2, b"ada", time=1)))
    assert list(m) == [b"user", b"visits"] == m.keys()
    assert len(m) == 2 and b"user" in m and b"nope" not in m
    assert m[b"visits"].value == 2 and m.get(b"nope") is None
    assert m.get(b"nope", 5) == 5
    assert m[b"user"][b"name"].value == b"ada"
    assert m.type_of(b"user") is crdt.ORMap
    assert [k for k, _ in m.items()] == m.keys()
    assert [type(v) for v in m.values()] == [crdt.ORMap, crdt.GCounter]
    assert dict(m)[b"visits"] == m[b"visits"]
    with pytest.raises(KeyError):
        m[b"nope"]
    # a copy: mutating it leaves the map alone
    c = m[b"visits"]
    c.inc(9, 100)
    assert m[b"visits"].value == 2
    # add wins over a concurrent remove
    other = m.copy()
    m.remove(b"visits")
    other.update(3, b"visits", crdt.GCounter, lambda c: c.inc(3, 1))
    m.merge(other)
    assert m[b"visits"].value == 1
    del m[b"visits"]
    assert b"visits" not in m
    with pytest.raises(TypeError):
        m[b"x"] = crdt.GCounter()
    import collections.abc
    assert isinstance(m, collections.abc.Mapping)
    assert repr(m).startswith("ORMap({b'user': ORMap({b'name': LWWRegister(")


def test_ormap_update_errors_change_nothing():
    m = crdt.ORMap()
    m.update(1, b"k", crdt.GCounter, lambda c: c.inc(1))
    before = bytes(m)
    with pytest.raises(crdt.TypeMismatchError) as e:
        m.update(1, b"k", crdt.ORSet, lambda s: s.add(1, b"x"))
    assert isinstance(e.value, TypeError)

    def boom(c):
        c.inc(1, 5)
        raise KeyError("mine")
    with pytest.raises(KeyError, match="mine"):
        m.update(1, b"k", crdt.GCounter, boom)
    with pytest.raises(crdt.CRDTOverflowError):
        m.update(1, b"k", crdt.GCounter, lambda c: c.inc(1, U64))
    with pytest.raises(TypeError):
        m.update(1, b"k", int, lambda c: None)
    with pytest.raises(TypeError):
        m.update(1, b"k", crdt.GCounter, "not callable")
    with pytest.raises(TypeError):
        m.update(1, "k", crdt.GCounter, lambda c: None)
    assert bytes(m) == before


def test_ormap_view_expires_and_map_is_guarded():
    m = crdt.ORMap()
    kept = []

    def fn(c):
        kept.append(c)
        with pytest.raises(RuntimeError):
            len(m)  # the map is mid-update
        with pytest.raises(RuntimeError):
            m.update(1, b"other", crdt.GCounter, lambda c: None)
        with pytest.raises(ValueError):
            c.merge(crdt.GCounter())  # merge into a lent value
        c.inc(1, 2)
    m.update(1, b"k", crdt.GCounter, fn)
    assert m[b"k"].value == 2
    with pytest.raises(ValueError, match="lent to an update callback"):
        kept[0].value
    with pytest.raises(ValueError):
        kept[0].inc(1)
    with pytest.raises(ValueError):
        bytes(kept[0])
    assert m[b"k"].value == 2


def test_ormap_depth_limit():
    def nest(depth):
        if depth == 0:
            return lambda c: c.inc(1)
        return lambda m: m.update(1, b"x", crdt.ORMap if depth > 1 else crdt.GCounter,
                                  nest(depth - 1))
    m = crdt.ORMap()
    m.update(1, b"x", crdt.ORMap, nest(14))  # 16 levels of maps in all
    with pytest.raises(crdt.LimitError):
        crdt.ORMap().update(1, b"x", crdt.ORMap, nest(16))


def test_ormap_every_value_class():
    m = crdt.ORMap()
    for i, cls in enumerate(ALL):
        m.update(1, b"%d" % i, cls, lambda v: None)
    assert len(m) == len(ALL) or len(m) < len(ALL)  # plain empties too
    for k, v in m.items():
        assert type(v) is m.type_of(k)
    assert crdt.decode(bytes(m)) == m


# ----------------------------------------------------------------- HLC

def test_hlc():
    t = [1000]
    h = crdt.HLC(wall_ms=lambda: t[0])
    a = h.now()
    b = h.now()
    assert a == crdt.HLC.pack(1000, 0) and b == a + 1
    t[0] = 500  # the wall clock steps back
    assert h.now() > b
    assert crdt.HLC.split(h.update(crdt.HLC.pack(2000, 7))) == (2000, 8)
    enc = bytes(h)
    h2 = crdt.decode(enc)
    assert isinstance(h2, crdt.HLC) and h2.last == h.last
    assert crdt.HLC.from_bytes(enc).last == h.last
    with pytest.raises(crdt.ClockDriftError):
        h.update(crdt.HLC.pack(10**10, 0))
    bad = crdt.HLC(wall_ms=lambda: "x")
    with pytest.raises(TypeError):
        bad.now()
    with pytest.raises(OverflowError):
        crdt.HLC.pack(2**48, 0)


# ------------------------------------------------------------ threads

def test_threads_get_runtime_error_not_a_crash():
    """Large merges and encodes release the GIL and mark their objects
    busy: other threads using them get RuntimeError (or succeed)."""
    a, b = crdt.GSet(), crdt.GSet()
    for i in range(20000):
        (a if i % 2 else b).add(b"%d" % i)
    errors, done = [], threading.Event()

    def merger():
        try:
            for _ in range(30):
                x = a.copy()
                try:
                    x.merge(b)
                except RuntimeError as e:
                    errors.append(e)
                bytes(x)
        finally:
            done.set()

    def poker():
        for _ in range(100000):
            if done.is_set():
                break
            try:
                b.add(b"new")
                len(b)
                bytes(b)
            except RuntimeError as e:
                errors.append(e)
    ts = [threading.Thread(target=merger), threading.Thread(target=poker)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all("in use" in str(e) for e in errors)
    assert len(b) == 10001
    a.merge(b)
    enc = bytes(a)
    assert len(enc) > 65536  # decoded without the GIL
    assert crdt.GSet.from_bytes(enc) == a
    assert crdt.GSet.from_bytes(bytearray(enc)) == a  # with it


def test_every_public_name_is_documented():
    import pydoc
    for obj in ALL + [crdt.CRDT, crdt.HLC, crdt.Node, crdt.Sim, crdt.Peer,
                      crdt.Client, crdt.Session, crdt.Watch]:
        assert obj.__doc__, obj
        for name in dir(obj):
            if not name.startswith("_"):
                assert getattr(obj, name).__doc__, (obj, name)
    for f in [crdt.actor, crdt.random_actor, crdt.decode, crdt.actor_of,
              crdt.strerror, crdt.run_scenario, crdt.run_scenario_file]:
        assert f.__doc__, f
    text = pydoc.render_doc(crdt.ORSet, renderer=pydoc.plaintext)
    assert "add(self, /, actor, elem)" in text and "add wins" in text


def test_stubs_cover_the_module():
    """crdt/_crdt.pyi names every public class, method, property and
    function of the extension, so type checkers see all of it."""
    import ast
    import os
    path = os.path.join(os.path.dirname(crdt.__file__), "_crdt.pyi")
    if not os.path.exists(path):  # an uninstalled package: the sources
        path = os.path.join(os.path.dirname(__file__), "..", "crdt",
                            "_crdt.pyi")
    tree = ast.parse(open(path, encoding="utf-8").read())
    stubbed = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            stubbed[node.name] = {n.name for n in node.body
                                  if isinstance(n, (ast.FunctionDef,
                                                    ast.AnnAssign))
                                  and hasattr(n, "name")} | {
                n.target.id for n in node.body
                if isinstance(n, ast.AnnAssign)}
        elif isinstance(node, ast.FunctionDef):
            stubbed[node.name] = set()
        elif isinstance(node, ast.AnnAssign):
            stubbed[node.target.id] = set()
    mod = crdt._crdt
    for name in dir(mod):
        if name.startswith("__"):
            continue
        assert name in stubbed, name
        obj = getattr(mod, name)
        if isinstance(obj, type) and not issubclass(obj, BaseException) \
                and obj is not crdt.Peer:
            own = {m for m in vars(obj) if not m.startswith("_")}
            inherited = set().union(*(stubbed.get(b.__name__, set())
                                      for b in obj.__mro__[1:]))
            assert own <= stubbed[name] | inherited, (name, own - stubbed[name])
