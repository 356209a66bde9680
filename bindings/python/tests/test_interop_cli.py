# SPDX-License-Identifier: MIT
"""Bytes made in Python decode in C (the crdt CLI's inspect, value and
merge) and the CLI's bytes decode in Python, for every type."""
import json
import os
import random
import subprocess

import pytest

import crdt
import _ops

CLI = os.environ.get("CRDT_CLI")
pytestmark = pytest.mark.skipif(not CLI, reason="CRDT_CLI not set "
                                "(check.sh sets it to the build's tools/crdt)")
STATES = 12  # random states per type


def cli(*args, data=b""):
    res = subprocess.run([CLI, *map(str, args)], input=data,
                         capture_output=True, check=False)
    assert res.returncode == 0, (args, res.stderr.decode(errors="replace"))
    return res.stdout


def hexes(values):
    return [bytes.fromhex(v["hex"]) for v in values]


def python_view(x):
    """What `crdt inspect`'s "value" says of x, from the Python API."""
    if isinstance(x, (crdt.GCounter, crdt.PNCounter)):
        return x.value
    if isinstance(x, crdt.VClock):
        return {str(a): c for a, c in x}
    if isinstance(x, crdt.DotContext):
        return {"vv": {str(a): c for a, c in x.vv.items()},
                "cloud": [{"actor": a, "counter": c} for a, c in x.cloud]}
    if isinstance(x, crdt.LWWRegister):
        return x.value
    if isinstance(x, (crdt.GSet, crdt.ORSet)):
        return list(x)
    if isinstance(x, crdt.MVRegister):
        return x.values
    if isinstance(x, (crdt.EWFlag, crdt.DWFlag)):
        return bool(x)
    if isinstance(x, crdt.ORMap):
        return [(k, python_view(v)) for k, v in x.items()]
    raise TypeError(x)


def c_view(name, v):
    """The same from inspect's JSON value."""
    if name == "lww":
        return None if v is None else bytes.fromhex(v["hex"])
    if name in ("gset", "orset", "mvreg"):
        return hexes(v)
    if name == "ormap":
        return [(bytes.fromhex(e["key"]["hex"]),
                 c_view(e["value"]["type"], e["value"]["value"]))
                for e in v]
    return v


def random_state(name, rng):
    reps = [crdt.CLASSES[name]() for _ in range(_ops.REPLICAS)]
    for _ in range(rng.randrange(1, 14)):
        r = rng.randrange(_ops.REPLICAS)
        if rng.random() < 0.2:
            reps[r].merge(reps[rng.randrange(_ops.REPLICAS)])
            continue
        _ops.apply(reps[r], r, random_op(name, rng))
    return reps[0], reps[1]


def random_op(name, rng):
    a = rng.randrange(2)
    v = rng.choice(_ops.VALUES)
    e = rng.choice(_ops.ELEMS)
    return {
        "vclock": lambda: ("inc", a, rng.randrange(4)),
        "dotctx": lambda: rng.choice([("next", a), ("add", a, rng.randrange(1, 9))]),
        "gcounter": lambda: ("inc", a, rng.choice([1, 2, 2**40, 2**56])),
        "pncounter": lambda: (rng.choice(["inc", "dec"]), a, rng.randrange(2**33)),
        "lww": lambda: ("set", a, v, rng.randrange(5)),
        "mvreg": lambda: rng.choice([("set", a, v), ("clear",)]),
        "gset": lambda: ("add", e),
        "orset": lambda: rng.choice([("add", a, e), ("remove", e), ("clear",)]),
        "ewflag": lambda: (rng.choice(["enable", "disable"]), a),
        "dwflag": lambda: (rng.choice(["enable", "disable"]), a),
        "ormap": lambda: rng.choice([
            ("update", a, rng.choice(sorted(_ops.MAP_KEYS)), rng.getrandbits(32)),
            ("remove", rng.choice(sorted(_ops.MAP_KEYS)))]),
    }[name]()


@pytest.mark.parametrize("name", sorted(crdt.CLASSES))
def test_python_bytes_decode_in_c(name, rng):
    for _ in range(STATES):
        x, y = random_state(name, rng)
        ins = json.loads(cli("inspect", data=bytes(x)))
        assert ins["type"] == name and ins["version"] == crdt.FORMAT_VERSION
        assert c_view(name, ins["value"]) == python_view(x), ins
        # C's merge of Python's states is Python's merge, byte for byte
        xy = x.copy()
        xy.merge(y)
        c_merge(tmp_path_of(name), x, y, xy)


def tmp_path_of(name, _dirs={}):
    import tempfile
    if "d" not in _dirs:
        _dirs["d"] = tempfile.TemporaryDirectory(prefix="crdt-py-")
    return _dirs["d"].name


def c_merge(d, x, y, xy):
    fx, fy = os.path.join(d, "x.bin"), os.path.join(d, "y.bin")
    with open(fx, "wb") as f:
        f.write(bytes(x))
    with open(fy, "wb") as f:
        f.write(bytes(y))
    out = cli("merge", fx, fy)
    assert out == bytes(xy), type(x)
    assert crdt.decode(out) == xy


# (CLI command, the same in Python) per type; each CLI command reads the
# state on stdin and writes the new one.
BOB = crdt.actor("bob")
SCRIPTS = {
    "gcounter": [(["inc", "--actor", 1, "--by", 5], lambda g: g.inc(1, 5)),
                 (["inc", "--actor-name", "bob", "--by", 7], lambda g: g.inc(BOB, 7))],
    "pncounter": [(["inc", "--actor", 1, "--by", 3], lambda p: p.inc(1, 3)),
                  (["dec", "--actor", 2, "--by", 10], lambda p: p.dec(2, 10))],
    "vclock": [(["inc", "--actor", 1], lambda v: v.inc(1)),
               (["inc", "--actor", 2, "--by", 3], lambda v: v.inc(2, 3))],
    "dotctx": [(["inc", "--actor", 4, "--by", 3],
                lambda c: [c.next_dot(4) for _ in range(3)])],
    "lww": [(["set", "--actor", 1, "--time", 5, "hi"],
             lambda r: r.set(1, b"hi", time=5)),
            (["set", "--actor", 2, "--time", 5, "ha"],
             lambda r: r.set(2, b"ha", time=5))],
    "mvreg": [(["set", "--actor", 1, "tea"], lambda m: m.set(1, b"tea")),
              (["set", "--actor", 2, "coffee"], lambda m: m.set(2, b"coffee"))],
    "gset": [(["add", "b"], lambda s: s.add(b"b")),
             (["add", "a"], lambda s: s.add(b"a"))],
    "orset": [(["add", "--actor", 1, "x"], lambda s: s.add(1, b"x")),
              (["add", "--actor", 1, "y"], lambda s: s.add(1, b"y")),
              (["remove", "x"], lambda s: s.remove(b"x"))],
    "ewflag": [(["enable", "--actor", 1], lambda f: f.enable(1)),
               (["disable"], lambda f: f.disable()),
               (["enable", "--actor", 2], lambda f: f.enable(2))],
    "dwflag": [(["disable", "--actor", 1], lambda f: f.disable(1)),
               (["enable"], lambda f: f.enable())],
    "ormap": [(["map", "update", "--actor", 1, "visits", "gcounter", "inc",
                "--by", 2],
               lambda m: m.update(1, b"visits", crdt.GCounter,
                                  lambda c: c.inc(1, 2))),
              (["map", "update", "--actor", 2, "user", "ormap", "update",
                "name", "lww", "set", "--time", 1, "ada"],
               lambda m: m.update(2, b"user", crdt.ORMap, lambda u: u.update(
                   2, b"name", crdt.LWWRegister,
                   lambda r: r.set(2, b"ada", time=1)))),
              (["map", "update", "--actor", 1, "tags", "orset", "add", "x"],
               lambda m: m.update(1, b"tags", crdt.ORSet,
                                  lambda s: s.add(1, b"x"))),
              (["map", "remove", "visits"], lambda m: m.remove(b"visits"))],
}
VALUES = {"gcounter": b"12", "pncounter": b"-7", "vclock": b'{"1":1,"2":3}',
          "lww": b"ha", "mvreg": b"coffee", "gset": b"a\nb",
          "orset": b"y", "ewflag": b"true", "dwflag": b"true"}


def test_scripts_cover_every_type():
    assert set(SCRIPTS) == set(crdt.CLASSES)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_cli_bytes_decode_in_python(name):
    state = cli("new", name)
    x = crdt.CLASSES[name]()
    assert crdt.decode(state) == x and bytes(x) == state
    for args, op in SCRIPTS[name]:
        state = cli(*args, data=state)
        op(x)
        y = crdt.decode(state)
        assert type(y) is type(x) and y == x and bytes(y) == state
    if name in VALUES:
        assert cli("value", data=state).strip() == VALUES[name]
    # and back: C reads what Python re-encodes
    assert cli("inspect", data=bytes(x)) == cli("inspect", data=state)


def test_hlc_interop():
    h = crdt.HLC(wall_ms=lambda: 123456)
    h.now()
    ins = json.loads(cli("inspect", data=bytes(h)))
    assert ins["type"] == "hlc" and ins["ms"] == 123456 and ins["value"] == h.last


def test_c_rejects_what_python_rejects(rng):
    for name in sorted(crdt.CLASSES):
        x, _ = random_state(name, rng)
        bad = bytes(x)[:-1]
        with pytest.raises(crdt.DecodeError) as e:
            crdt.CLASSES[name].from_bytes(bad)
        res = subprocess.run([CLI, "inspect"], input=bad, capture_output=True)
        assert res.returncode == 1
        assert b"at byte %d" % e.value.offset in res.stderr, res.stderr
