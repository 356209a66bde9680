# SPDX-License-Identifier: MIT
"""Interop with an independent MessagePack implementation.

Python's msgpack (Debian's python3-msgpack) and the wire format as README.md
documents it, against libcrdt through tests/interop_helper:

(a) every encoding C makes decodes in Python to exactly the documented
    structure and the same logical content (the helper's JSON model), and
    msgpack.packb(..., use_bin_type=True) of that structure gives C's bytes
    back, byte for byte (both sides are canonical);
(b) states Python builds from the documented format alone are accepted by C,
    which re-encodes them to identical bytes with the same content;
(c) encodings that break a documented rule are rejected by C with the
    documented error, at the documented byte offset where it is clear;
(d) crdt_actor_from_name(name) == xxhash.xxh3_64_intdigest(name).

Run by tests/interop.sh (make check) as
    /usr/bin/python3 -m pytest -q tests/test_interop.py
with CRDT_INTEROP_HELPER naming the helper.  CRDT_SEED=N reproduces a run;
CRDT_INTEROP_CASES sets the number of random states per type and check.
"""
import json
import os
import random
import subprocess

import msgpack
import pytest
import xxhash

HELPER = os.environ.get("CRDT_INTEROP_HELPER", "tests/interop_helper")
SEED = int(os.environ.get("CRDT_SEED") or random.SystemRandom().getrandbits(32))
CASES = int(os.environ.get("CRDT_INTEROP_CASES") or 400)

FORMAT_VERSION = 1
U64 = 2**64 - 1

# enum crdt_error (include/crdt/common.h)
DECODE, LIMIT, OVERFLOW, VERSION, TYPE = -3, -4, -5, -6, -7
ERR_NAMES = {DECODE: "DECODE", LIMIT: "LIMIT", OVERFLOW: "OVERFLOW",
             VERSION: "VERSION", TYPE: "TYPE"}

# Every boundary of the MessagePack unsigned forms and its neighbours.
EDGES = [1, 2, 0x7E, 0x7F, 0x80, 0x81, 0xFE, 0xFF, 0x100, 0x101, 0xFFFE,
         0xFFFF, 0x10000, 0x10001, 0xFFFFFFFE, 0xFFFFFFFF, 0x100000000,
         0x100000001, U64 - 1, U64]


def rng_for(*what):
    """A random.Random seeded from SEED and a label, so that each check
    draws the same numbers for a seed whatever runs before it."""
    return random.Random("%d/%s" % (SEED, "/".join(map(str, what))))


def ctx(what):
    return "%s (CRDT_SEED=%d reproduces)" % (what, SEED)


# ---------------------------------------------------------------------------
# The helper
# ---------------------------------------------------------------------------

def helper(*args, stdin=""):
    res = subprocess.run([HELPER, *map(str, args)], input=stdin,
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, "%s %s: exit %d: %s" % (
        HELPER, " ".join(map(str, args)), res.returncode, res.stderr)
    return res.stdout


def c_gen(name, n, seed):
    """N states from C: [(encoding bytes, model)]."""
    out = []
    for line in helper("gen", name, seed, n).splitlines():
        hexenc, model = line.split(" ", 1)
        out.append((bytes.fromhex(hexenc), json.loads(model)))
    assert len(out) == n
    return out


def c_canon(name, encodings):
    """C decodes each encoding: ("ok", re-encoding, model) or
    ("error", code, offset)."""
    stdin = "".join(e.hex() + "\n" for e in encodings)
    out = []
    for line in helper("canon", name, stdin=stdin).splitlines():
        if line.startswith("error "):
            _, code, off = line.split()
            out.append(("error", int(code), int(off)))
        else:
            hexenc, model = line.split(" ", 1)
            out.append(("ok", bytes.fromhex(hexenc), json.loads(model)))
    assert len(out) == len(encodings)
    return out


def c_types():
    return helper("types").split()


# ---------------------------------------------------------------------------
# MessagePack written by hand (for non-canonical forms msgpack never makes)
# ---------------------------------------------------------------------------

def mp_uint(v, width=None):
    """v as a MessagePack unsigned int, in the given form (None: shortest,
    else one of 'fix', 8, 16, 32, 64)."""
    if width is None:
        return msgpack.packb(v)
    if width == "fix":
        assert v < 0x80
        return bytes([v])
    marker = {8: 0xCC, 16: 0xCD, 32: 0xCE, 64: 0xCF}[width]
    return bytes([marker]) + v.to_bytes(width // 8, "big")


def envelope(tag, body):
    """The canonical bytes of [FORMAT_VERSION, tag, *body]."""
    return msgpack.packb([FORMAT_VERSION, tag, *body], use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, strict_map_key=False, raw=False)


def is_uint(v):
    return type(v) is int and 0 <= v <= U64


# ---------------------------------------------------------------------------
# Per-type knowledge, from README.md "Wire format" only
# ---------------------------------------------------------------------------

def rand_actor(rng):
    k = rng.randrange(6)
    if k == 0:
        return rng.choice([0] + EDGES)
    if k == 1:
        return rng.randrange(300)
    return rng.getrandbits(rng.choice([8, 16, 24, 32, 48, 64]))


def rand_count(rng, big=False):
    k = rng.randrange(4)
    if big:
        return U64 // 8 - rng.randrange(1000)
    if k == 0:
        return rng.choice(EDGES)
    if k == 1:
        return rng.randrange(1, 128)
    return rng.randrange(1, 2 ** rng.choice([8, 16, 32, 64]))


def rand_actor_map(rng, count=rand_count):
    """A random {actor: counter} map with sorted keys, no zero counters."""
    n = rng.choice([0, 1, 2, 3, 5, 8, 15, 16, 17, 40, rng.randrange(300)])
    actors = sorted({rand_actor(rng) for _ in range(n)})
    return {a: count(rng) for a in actors}


def check_actor_map(m, what):
    """A documented {actor: counter} map: uints, keys strictly ascending in
    the bytes, no zero counter.  Returns its entries as [[a, c], ...]."""
    assert type(m) is dict, "%s is %r, not a map" % (what, type(m))
    keys = list(m)
    assert all(is_uint(k) for k in keys), "%s: actor is not a uint" % what
    assert keys == sorted(set(keys)), "%s: actors not ascending" % what
    assert all(is_uint(c) and c > 0 for c in m.values()), \
        "%s: counter is zero or not a uint" % what
    return [[a, c] for a, c in m.items()]


def capped_map(rng):
    """A random actor map whose counts sum to at most 2^64 - 1 (sometimes
    exactly)."""
    m = rand_actor_map(rng)
    while sum(m.values()) > U64:
        del m[rng.choice(list(m))]
    if m and rng.randrange(10) == 0:
        last = max(m)
        m[last] += U64 - sum(m.values())
    return m


def map_breakers(rng, pre, post=b""):
    """Encodings whose {actor: counter} map, right after the bytes pre
    and followed by post, breaks a rule: (label, bytes, code, offset)."""
    m = len(pre)
    a, b = sorted(rng.sample(range(1, 1 << 20), 2))
    ea, eb = mp_uint(a), mp_uint(b)
    out = [
        # b before a: the second key is the first offending byte.
        ("unsorted", b"\x82" + eb + b"\x01" + ea + b"\x01",
         DECODE, m + 1 + len(eb) + 1),
        ("duplicate", b"\x82" + ea + b"\x01" + ea + b"\x02",
         DECODE, m + 1 + len(ea) + 1),
        ("zero counter", b"\x81" + ea + b"\x00", DECODE, m + 1 + len(ea)),
        ("negative counter", b"\x81" + ea + b"\xff", DECODE,
         m + 1 + len(ea)),
        ("negative actor", b"\x81\xff\x01", DECODE, m + 1),
        ("str actor", b"\x81\xa1x\x01", DECODE, m + 1),
        ("float counter", b"\x81\x01\xcb" + bytes(8), DECODE, m + 2),
        ("array instead of map", b"\x92\x01\x01", DECODE, m),
        ("nil instead of map", b"\xc0", DECODE, m),
        ("map16 for 1 entry", b"\xde\x00\x01\x01\x01", DECODE, m),
        ("map32 for 1 entry", b"\xdf\x00\x00\x00\x01\x01\x01", DECODE, m),
        ("map claims more than the bytes", b"\x85\x01\x01", DECODE, m),
    ]
    # Each non-shortest integer form of an actor and a counter.
    for v, forms in ((5, [8, 16, 32, 64]), (0x80, [16, 32, 64]),
                     (0x100, [32, 64]), (0x10000, [64])):
        for w in forms:
            out.append(("actor %#x as uint%d" % (v, w),
                        b"\x81" + mp_uint(v, w) + b"\x01", DECODE, m + 1))
            out.append(("counter %#x as uint%d" % (v, w),
                        b"\x81\x01" + mp_uint(v, w), DECODE, m + 2))
    return [(label + " at %d" % m, pre + body + post, code, off)
            for label, body, code, off in out]


def sum_breakers(pre, post=b""):
    """Counter maps whose counts sum past 2^64 - 1: CRDT_ERR_OVERFLOW at
    the count that takes the sum past it."""
    m = len(pre)
    cases = [
        ("U64 + 1", [(1, U64), (2, 1)]),
        ("2 * 2^63", [(7, 1 << 63), (9, 1 << 63)]),
        ("third count", [(1, U64 // 2), (2, U64 // 2), (3, 2)]),
    ]
    out = []
    for label, entries in cases:
        body = bytes([0x80 | len(entries)])
        off = None
        total = 0
        for a, c in entries:
            body += mp_uint(a)
            total += c
            if total > U64 and off is None:
                off = m + len(body)
            body += mp_uint(c)
        out.append(("sum " + label + " at %d" % m, pre + body + post,
                    OVERFLOW, off))
    # Exactly 2^64 - 1 is fine: not a breaker, checked in (b) instead.
    return out


def over_limit_map():
    n = (1 << 20) + 1
    return b"\xdf" + n.to_bytes(4, "big") + b"\x01" * (2 * n)


class VClock:
    """README: tag 1, body {actor: counter, ...}."""
    name = "vclock"
    tag = 1

    def model_of_body(self, body):
        assert len(body) == 1, "vclock body has %d fields" % len(body)
        return {"entries": check_actor_map(body[0], "vclock map")}

    def body_of_model(self, model):
        return [{a: c for a, c in model["entries"]}]

    def random_model(self, rng):
        return {"entries": [[a, c] for a, c in rand_actor_map(rng).items()]}

    def broken(self, rng):
        """Encodings breaking a body rule: (label, bytes, code, offset)."""
        pre = bytes([0x93, FORMAT_VERSION, self.tag])
        return map_breakers(rng, pre) + [
            ("no body", bytes([0x92, FORMAT_VERSION, self.tag]), DECODE, 0),
            ("two bodies", bytes([0x94, FORMAT_VERSION, self.tag]) +
             b"\x80\x80", DECODE, 0),
            # More actors than the default limit (2^20): rejected at the
            # map header, before anything is read or allocated.
            ("2^20 + 1 actors", pre + over_limit_map(), LIMIT, 3),
        ]


class DotCtx:
    """README: tag 2, body: the compact version vector (a vclock's map),
    then the dot cloud as [actor, counter] pairs sorted by actor then
    counter, each with counter > vv[actor] + 1."""
    name = "dotctx"
    tag = 2

    def model_of_body(self, body):
        assert len(body) == 2, "dotctx body has %d fields" % len(body)
        vv = check_actor_map(body[0], "dotctx vector")
        cloud = body[1]
        assert type(cloud) is list, "dotctx cloud is not an array"
        vmap = dict((a, c) for a, c in vv)
        for d in cloud:
            assert type(d) is list and len(d) == 2, "dot is not a pair"
            assert is_uint(d[0]) and is_uint(d[1]), "dot is not uints"
            assert d[1] > vmap.get(d[0], 0) + 1, "cloud dot %r not compact" % d
        keys = [tuple(d) for d in cloud]
        assert keys == sorted(set(keys)), "cloud not strictly ascending"
        return {"vv": vv, "cloud": [list(d) for d in cloud]}

    def body_of_model(self, model):
        return [{a: c for a, c in model["vv"]}, [list(d) for d in model["cloud"]]]

    def random_model(self, rng):
        vv = rand_actor_map(rng)
        if rng.randrange(3) == 0:
            vv = {a: rng.randrange(1, 300) for a in vv}
        cloud = set()
        actors = list(vv) + [rand_actor(rng) for _ in range(rng.randrange(4))]
        for a in actors:
            if rng.randrange(2):
                continue
            low = vv.get(a, 0) + 2
            if low > U64:
                continue
            for _ in range(rng.randrange(1, 5)):
                hi = rng.choice([low + 20, low + 300, U64])
                cloud.add((a, rng.randint(low, min(hi, U64))))
        return {"vv": [[a, c] for a, c in vv.items()],
                "cloud": [list(d) for d in sorted(cloud)]}

    def broken(self, rng):
        pre = bytes([0x94, FORMAT_VERSION, self.tag])
        v = pre + b"\x81\x05\x03"  # vv {5: 3}; the cloud starts at 6
        m = len(v)
        out = map_breakers(rng, pre, post=b"\x90") + [
            ("vector only", bytes([0x93, FORMAT_VERSION, self.tag]) +
             b"\x80", DECODE, 0),
            ("three fields", bytes([0x95, FORMAT_VERSION, self.tag]) +
             b"\x80\x90\x90", DECODE, 0),
            ("cloud is a map", v + b"\x81\x09\x02", DECODE, m),
            ("cloud is nil", v + b"\xc0", DECODE, m),
            ("array16 for 1 dot", v + b"\xdc\x00\x01\x92\x09\x02", DECODE, m),
            ("cloud claims more than the bytes", v + b"\x95\x92\x09\x02",
             DECODE, m),
            # Out of order: the second dot's first byte.
            ("unsorted actors", v + b"\x92\x92\x09\x02\x92\x07\x02",
             DECODE, m + 4),
            ("unsorted counters", v + b"\x92\x92\x09\x05\x92\x09\x03",
             DECODE, m + 4),
            ("duplicate dot", v + b"\x92\x92\x09\x05\x92\x09\x05",
             DECODE, m + 4),
            # Invalid counter: the counter.
            ("dot the vector covers", v + b"\x91\x92\x05\x02", DECODE, m + 3),
            ("dot equal to the vector", v + b"\x91\x92\x05\x03", DECODE,
             m + 3),
            ("dot extending the vector", v + b"\x91\x92\x05\x04", DECODE,
             m + 3),
            ("dot 1 of a new actor", v + b"\x91\x92\x09\x01", DECODE, m + 3),
            ("zero counter", v + b"\x91\x92\x09\x00", DECODE, m + 3),
            ("negative counter", v + b"\x91\x92\x09\xff", DECODE, m + 3),
            ("counter 0x80 as uint16", v + b"\x91\x92\x09\xcd\x00\x80",
             DECODE, m + 3),
            ("actor 9 as uint8", v + b"\x91\x92\xcc\x09\x02", DECODE, m + 2),
            ("negative actor", v + b"\x91\x92\xff\x02", DECODE, m + 2),
            ("dot of three", v + b"\x91\x93\x09\x02\x02", DECODE, None),
            ("dot of one", v + b"\x91\x91\x09", DECODE, None),
            ("dot as a map", v + b"\x91\x81\x09\x02", DECODE, m + 1),
            ("dot as an int", v + b"\x91\x09\x02\x02", DECODE, m + 1),
            # A dot takes at least 3 bytes: a cloud header that claims more
            # dots than the bytes left can hold is itself the offence.
            ("one dot in one byte", v + b"\x91\x09", DECODE, m),
            ("trailing after the cloud", v + b"\x90\x00", DECODE, m + 1),
            ("2^20 + 1 vector actors", pre + over_limit_map() + b"\x90",
             LIMIT, 3),
        ]
        return out


def check_elems(elems, what):
    """bins strictly ascending by bytes (memcmp, then the shorter first:
    Python's own bytes order)."""
    assert type(elems) is list, "%s is not an array" % what
    assert all(type(e) is bytes for e in elems), "%s: an element is not bin" % what
    assert all(a < b for a, b in zip(elems, elems[1:])), \
        "%s: elements not strictly ascending" % what


def rand_elem(rng):
    n = rng.choice([0, 1, 2, 3, 8, 9, 31, 32, 255, 256, rng.randrange(40)])
    if rng.randrange(3) == 0:
        return bytes(rng.choice(b"ab") for _ in range(min(n, 4)))
    return rng.randbytes(n)


class GSet:
    """README: tag 11, body [bin, ...] ascending by bytes."""
    name = "gset"
    tag = 11

    def model_of_body(self, body):
        assert len(body) == 1, "gset body has %d fields" % len(body)
        check_elems(body[0], "gset")
        return {"elems": [e.hex() for e in body[0]]}

    def body_of_model(self, model):
        return [[bytes.fromhex(e) for e in model["elems"]]]

    def random_model(self, rng):
        n = rng.choice([0, 1, 2, 5, 15, 16, 17, rng.randrange(100)])
        return {"elems": [e.hex() for e in sorted({rand_elem(rng)
                                                   for _ in range(n)})]}

    def broken(self, rng):
        pre = bytes([0x93, FORMAT_VERSION, self.tag])
        return [
            ("no body", bytes([0x92, FORMAT_VERSION, self.tag]), DECODE, 0),
            ("two bodies", bytes([0x94, FORMAT_VERSION, self.tag]) +
             b"\x90\x90", DECODE, 0),
            ("map body", pre + b"\x80", DECODE, 3),
            ("array16 for 1", pre + b"\xdc\x00\x01\xc4\x00", DECODE, 3),
            ("str element", pre + b"\x91\xa1a", DECODE, 4),
            ("int element", pre + b"\x91\x01", DECODE, 4),
            ("nil element", pre + b"\x91\xc0", DECODE, 4),
            ("bin16 for 1 byte", pre + b"\x91\xc5\x00\x01a", DECODE, 4),
            ("bin32 for 1 byte", pre + b"\x91\xc6\x00\x00\x00\x01a", DECODE, 4),
            ("bin past the end", pre + b"\x91\xc4\x05ab", DECODE, 8),
            ("element over 16 MiB", pre + b"\x91\xc6" +
             ((16 << 20) + 1).to_bytes(4, "big") + b"x", LIMIT, 4),
            ("unsorted", pre + b"\x92\xc4\x01b\xc4\x01a", DECODE, 7),
            ("longer first", pre + b"\x92\xc4\x02aa\xc4\x01a", DECODE, 8),
            ("duplicate", pre + b"\x92\xc4\x01a\xc4\x01a", DECODE, 7),
            ("duplicate empty", pre + b"\x92\xc4\x00\xc4\x00", DECODE, 6),
            ("trailing", pre + b"\x90\x00", DECODE, 4),
        ]


class ORSet:
    """README: tag 8, body: a causal context exactly as dotctx's two fields,
    then [[bin, [[actor, counter], ...]], ...]: elements ascending by bytes,
    each with a non-empty, strictly ascending list of dots, each in the
    context and under no other element.  The C model has the elements only (the API has no context
    iterator); the context is checked here from the bytes."""
    name = "orset"
    tag = 8

    def model_of_body(self, body):
        assert len(body) == 3, "orset body has %d fields" % len(body)
        ctx_model = DotCtx().model_of_body(body[:2])
        vv = dict((a, c) for a, c in ctx_model["vv"])
        cloud = set(tuple(d) for d in ctx_model["cloud"])
        elems = body[2]
        assert type(elems) is list, "orset elements are not an array"
        for pair in elems:
            assert type(pair) is list and len(pair) == 2, "element not a pair"
        check_elems([e for e, _ in elems], "orset")
        out = []
        seen = set()
        for e, dots in elems:
            assert type(dots) is list and dots, "element without dots"
            for d in dots:
                assert type(d) is list and len(d) == 2 and \
                    is_uint(d[0]) and is_uint(d[1]), "dot is not a pair"
                assert d[1] >= 1 and (d[1] <= vv.get(d[0], 0) or
                                      tuple(d) in cloud), \
                    "dot %r not in the context" % d
            keys = [tuple(d) for d in dots]
            assert keys == sorted(set(keys)), "dots not strictly ascending"
            assert not seen & set(keys), "a dot under two elements"
            seen |= set(keys)
            out.append([e.hex(), [list(d) for d in dots]])
        return dict(ctx_model, elems=out)

    def c_view(self, model):
        return {"elems": model["elems"]}

    def body_of_model(self, model):
        return DotCtx().body_of_model(model) + [
            [[bytes.fromhex(e), [list(d) for d in dots]]
             for e, dots in model["elems"]]]

    def random_model(self, rng):
        ctx_model = DotCtx().random_model(rng)
        dots = [(a, c) for a, n in ctx_model["vv"]
                for c in range(max(1, n - 3), n + 1)]
        dots += [tuple(d) for d in ctx_model["cloud"]]
        rng.shuffle(dots)  # each dot goes to one element at most
        elems = {}
        for _ in range(rng.randrange(12)):
            e = rand_elem(rng)
            k = rng.choice([1, 1, 1, 2, 3])
            if e in elems or len(dots) < k:
                continue
            elems[e] = sorted(dots[:k])
            del dots[:k]
        return dict(ctx_model, elems=[[e.hex(), [list(d) for d in ds]]
                                      for e, ds in sorted(elems.items())])

    def broken(self, rng):
        v = bytes([0x95, FORMAT_VERSION, self.tag]) + b"\x81\x05\x03\x90"
        m = len(v)  # the elements start at 7; context {5: 1..3}
        # Offsets: the offending element, dot or counter's first byte.
        return [
            ("context only", bytes([0x94, FORMAT_VERSION, self.tag]) +
             b"\x80\x90", DECODE, 0),
            ("four fields", bytes([0x96, FORMAT_VERSION, self.tag]) +
             b"\x80\x90\x90\x90", DECODE, 0),
            ("dot outside the context",
             v + b"\x91\x92\xc4\x01a\x91\x92\x05\x04", DECODE, 13),
            ("dot of another actor",
             v + b"\x91\x92\xc4\x01a\x91\x92\x06\x01", DECODE, 13),
            ("element without dots", v + b"\x91\x92\xc4\x01a\x90",
             DECODE, 12),
            ("unsorted dots",
             v + b"\x91\x92\xc4\x01a\x92\x92\x05\x02\x92\x05\x01",
             DECODE, 16),
            ("duplicate dots",
             v + b"\x91\x92\xc4\x01a\x92\x92\x05\x02\x92\x05\x02",
             DECODE, 16),
            ("unsorted elements", v + b"\x92\x92\xc4\x01b\x91\x92\x05\x01"
             b"\x92\xc4\x01a\x91\x92\x05\x02", DECODE, 17),
            ("duplicate elements", v + b"\x92\x92\xc4\x01a\x91\x92\x05\x01"
             b"\x92\xc4\x01a\x91\x92\x05\x02", DECODE, 17),
            ("a dot under two elements",
             v + b"\x92\x92\xc4\x01a\x91\x92\x05\x02"
             b"\x92\xc4\x01b\x91\x92\x05\x02", DECODE, 21),
            ("str element", v + b"\x91\x92\xa1a\x91\x92\x05\x01", DECODE,
             m + 2),
            ("bin16 element", v + b"\x91\x92\xc5\x00\x01a\x91\x92\x05\x01",
             DECODE, m + 2),
            ("element not a pair", v + b"\x91\x93\xc4\x01a\x91\x92\x05\x01"
             b"\x00", DECODE, 8),
            ("elements as a map", v + b"\x81\xc4\x01a\x91\x92\x05\x01",
             DECODE, m),
            ("non-compact context",
             bytes([0x95, FORMAT_VERSION, self.tag]) +
             b"\x81\x05\x03\x91\x92\x05\x04\x90", DECODE, 9),
        ]


def check_dot_list(dots, vv, cloud, what):
    """[[actor, counter], ...] strictly ascending, each in the context."""
    assert type(dots) is list, "%s is not an array" % what
    for d in dots:
        assert type(d) is list and len(d) == 2 and is_uint(d[0]) and \
            is_uint(d[1]), "%s: a dot is not a pair of uints" % what
        assert d[1] >= 1 and (d[1] <= vv.get(d[0], 0) or tuple(d) in cloud), \
            "%s: dot %r not in the context" % (what, d)
    keys = [tuple(d) for d in dots]
    assert keys == sorted(set(keys)), "%s: dots not strictly ascending" % what
    return [list(d) for d in dots]


def context_of(body, what):
    """The context fields (as dotctx) of a dot store's body: its model,
    vv as a dict, cloud as a set."""
    ctx_model = DotCtx().model_of_body(body[:2])
    return (ctx_model, dict((a, c) for a, c in ctx_model["vv"]),
            set(tuple(d) for d in ctx_model["cloud"]))


def context_dots(ctx_model):
    """Some dots of a context: the last few of each vector entry and the
    cloud."""
    dots = [(a, c) for a, n in ctx_model["vv"]
            for c in range(max(1, n - 3), n + 1)]
    return dots + [tuple(d) for d in ctx_model["cloud"]]


def dot_store_breakers(tag, tail):
    """Rule breakers for [context, cloud, store] bodies; tail(dots) builds
    the store field from dots [[a, c], ...]."""
    v = bytes([0x95, FORMAT_VERSION, tag]) + b"\x81\x05\x03\x90"
    m = len(v)  # the store starts at 7; context {5: 1..3}
    return [
        ("context only", bytes([0x94, FORMAT_VERSION, tag]) + b"\x80\x90",
         DECODE, 0),
        ("four fields", bytes([0x96, FORMAT_VERSION, tag]) +
         b"\x80\x90\x90\x90", DECODE, 0),
        ("store is a map", v + b"\x80", DECODE, m),
        ("store is nil", v + b"\xc0", DECODE, m),
        ("dot outside the context", v + tail([(5, 4)]), DECODE, None),
        ("dot of an unseen actor", v + tail([(6, 1)]), DECODE, None),
        ("unsorted dots", v + tail([(5, 2), (5, 1)]), DECODE, None),
        ("duplicate dots", v + tail([(5, 2), (5, 2)]), DECODE, None),
        ("non-compact context", bytes([0x95, FORMAT_VERSION, tag]) +
         b"\x81\x05\x03\x91\x92\x05\x04\x90", DECODE, 9),
        ("trailing", v + tail([]) + b"\x00", DECODE, len(v + tail([]))),
    ]


class Flag:
    """README/crdt/flag.h: tags 9 (ewflag) and 10 (dwflag), body: a context
    as dotctx's, then the dots [[actor, counter], ...] strictly ascending,
    each in the context.  ewflag: true iff some dot; dwflag: true iff none.
    The C model is the value only (no dot iterator in the API)."""

    def __init__(self, name, tag, enable_wins):
        self.name, self.tag, self.enable_wins = name, tag, enable_wins

    def model_of_body(self, body):
        assert len(body) == 3, "%s body has %d fields" % (self.name, len(body))
        ctx_model, vv, cloud = context_of(body, self.name)
        dots = check_dot_list(body[2], vv, cloud, self.name + " dots")
        value = bool(dots) if self.enable_wins else not dots
        return dict(ctx_model, dots=dots, value=value)

    def c_view(self, model):
        return {"value": model["value"]}

    def body_of_model(self, model):
        return DotCtx().body_of_model(model) + [
            [list(d) for d in model["dots"]]]

    def random_model(self, rng):
        ctx_model = DotCtx().random_model(rng)
        pool = context_dots(ctx_model)
        dots = sorted(set(rng.sample(pool, min(len(pool),
                                                rng.choice([0, 1, 1, 2, 3])))))
        value = bool(dots) if self.enable_wins else not dots
        return dict(ctx_model, dots=[list(d) for d in dots], value=value)

    def broken(self, rng):
        def tail(dots):
            return msgpack.packb([list(d) for d in dots])
        return dot_store_breakers(self.tag, tail) + [
            ("dot of three", bytes([0x95, FORMAT_VERSION, self.tag]) +
             b"\x81\x05\x03\x90\x91\x93\x05\x01\x01", DECODE, None),
        ]


class MVReg:
    """crdt/mvreg.h: tag 7, body: a context as dotctx's, then the siblings
    [[actor, counter, value(bin)], ...] strictly ascending by dot, each
    dot in the context."""
    name = "mvreg"
    tag = 7

    def model_of_body(self, body):
        assert len(body) == 3, "mvreg body has %d fields" % len(body)
        ctx_model, vv, cloud = context_of(body, "mvreg")
        sibs = body[2]
        assert type(sibs) is list, "mvreg siblings are not an array"
        for t in sibs:
            assert type(t) is list and len(t) == 3, "sibling is not a triple"
            assert type(t[2]) is bytes, "sibling value is not bin"
        check_dot_list([t[:2] for t in sibs], vv, cloud, "mvreg siblings")
        return dict(ctx_model,
                    siblings=[[a, c, v.hex()] for a, c, v in sibs])

    def c_view(self, model):
        return {"siblings": model["siblings"]}

    def body_of_model(self, model):
        return DotCtx().body_of_model(model) + [
            [[a, c, bytes.fromhex(v)] for a, c, v in model["siblings"]]]

    def random_model(self, rng):
        ctx_model = DotCtx().random_model(rng)
        pool = context_dots(ctx_model)
        dots = sorted(set(rng.sample(pool, min(len(pool),
                                                rng.choice([0, 1, 1, 2, 3])))))
        return dict(ctx_model, siblings=[[a, c, rand_elem(rng).hex()]
                                         for a, c in dots])

    def broken(self, rng):
        def tail(dots):
            return msgpack.packb([[a, c, b"v"] for a, c in dots],
                                 use_bin_type=True)
        v = bytes([0x95, FORMAT_VERSION, self.tag]) + b"\x81\x05\x03\x90"
        return dot_store_breakers(self.tag, tail) + [
            ("str value", v + b"\x91\x93\x05\x01\xa1v", DECODE, 11),
            # Too short for a sibling: the array header may be blamed.
            ("nil value", v + b"\x91\x93\x05\x01\xc0", DECODE, None),
            ("bin16 value", v + b"\x91\x93\x05\x01\xc5\x00\x01v", DECODE, 11),
            ("pair sibling", v + b"\x91\x92\x05\x01", DECODE, None),
        ]


# crdt/ormap.h: the causal values (dot stores whose dots are the map's) and
# the plain values (kept as one slot per dot of the key).
ORMAP_CAUSAL = ["mvreg", "orset", "ewflag", "dwflag", "ormap"]
ORMAP_PLAIN = ["vclock", "dotctx", "gcounter", "pncounter", "lww", "gset"]
# Types an OR-map value may have in the random states Python builds.
ORMAP_VALUE_TYPES = ORMAP_PLAIN + ORMAP_CAUSAL
# Levels of maps nested in the maps Python builds (the top one included).
ORMAP_GEN_DEPTH = 3


def compact_context(dots):
    """The compact causal context holding exactly the dots: {"vv", "cloud"}
    as dotctx's model."""
    vv, cloud = {}, []
    for a, c in sorted(set(map(tuple, dots))):
        if c == vv.get(a, 0) + 1:
            vv[a] = c
        else:
            cloud.append([a, c])
    return {"vv": [[a, c] for a, c in sorted(vv.items())], "cloud": cloud}


def causal_value_dots(name, model):
    """Every dot of a causal value's model (a nested map's: its keys' dots
    and its causal values' dots, at every level)."""
    if name == "orset":
        return [tuple(d) for _, dots in model["elems"] for d in dots]
    if name == "mvreg":
        return [(a, c) for a, c, _ in model["siblings"]]
    if name in ("ewflag", "dwflag"):
        return [tuple(d) for d in model["dots"]]
    assert name == "ormap"
    out = []
    for _, vname, dots, values in model["entries"]:
        out += [tuple(d) for d in dots]
        if vname in ORMAP_CAUSAL:
            out += causal_value_dots(vname, values[0])
    return out


def join_actor_maps(maps):
    out = {}
    for m in maps:
        for a, c in m:
            out[a] = max(out.get(a, 0), c)
    return [[a, c] for a, c in sorted(out.items())]


def join_plain(name, models):
    """The join of a plain value's slots, as the C model prints it."""
    if name == "vclock":
        return {"entries": join_actor_maps(m["entries"] for m in models)}
    if name == "gcounter":
        e = join_actor_maps(m["entries"] for m in models)
        return {"entries": e, "value": sum(c for _, c in e)}
    if name == "pncounter":
        p = join_actor_maps(m["p"] for m in models)
        n = join_actor_maps(m["n"] for m in models)
        return {"p": p, "n": n,
                "value": sum(c for _, c in p) - sum(c for _, c in n)}
    if name == "gset":
        return {"elems": [e.hex() for e in sorted(
            {bytes.fromhex(e) for m in models for e in m["elems"]})]}
    if name == "lww":
        writes = [m for m in models if m["value"] is not None]
        if not writes:
            return {"value": None}
        # by timestamp, then actor, then bytes (memcmp, then length)
        return max(writes, key=lambda m: (m["timestamp"], m["actor"],
                                          bytes.fromhex(m["value"])))
    assert name == "dotctx"
    vv = dict((a, c) for a, c in join_actor_maps(m["vv"] for m in models))
    cloud = sorted({tuple(d) for m in models for d in m["cloud"]})
    for a, c in cloud:  # ascending: each dot extends vv or stays
        if c == vv.get(a, 0) + 1:
            vv[a] = c
    return {"vv": [[a, c] for a, c in sorted(vv.items())],
            "cloud": [[a, c] for a, c in cloud if c > vv.get(a, 0)]}


def rand_plain_slots(rng, name, k):
    """k slot values of a plain type whose join is valid (counters: the
    slots share out one map whose counts sum to at most 2^64 - 1)."""
    if name not in ("gcounter", "pncounter"):
        return [SPECS[name].random_model(rng) for _ in range(k)]

    def share(m):
        parts = [{} for _ in range(k)]
        for a, c in m.items():
            for i in rng.sample(range(k), rng.randint(1, k)):
                parts[i][a] = c if rng.randrange(2) else rng.randint(1, c)
        return [[[a, c] for a, c in sorted(p.items())] for p in parts]
    if name == "gcounter":
        return [{"entries": e, "value": sum(c for _, c in e)}
                for e in share(capped_map(rng))]
    ps, ns = share(capped_map(rng)), share(capped_map(rng))
    return [{"p": p, "n": n,
             "value": sum(c for _, c in p) - sum(c for _, c in n)}
            for p, n in zip(ps, ns)]


def rand_causal_value(rng, name, dots, depth):
    """A model of a causal value holding exactly the given dots (and a
    context of exactly those)."""
    dots = sorted(dots)
    if name == "orset":
        elems = {}
        for d in dots:
            e = rand_elem(rng)
            if elems and rng.randrange(3) == 0:
                e = rng.choice(list(elems))
            elems.setdefault(e, []).append(list(d))
        model = {"elems": [[e.hex(), sorted(ds)]
                           for e, ds in sorted(elems.items())]}
    elif name == "mvreg":
        model = {"siblings": [[a, c, rand_elem(rng).hex()]
                              for a, c in dots]}
    elif name in ("ewflag", "dwflag"):
        model = {"dots": [list(d) for d in dots],
                 "value": bool(dots) == (name == "ewflag")}
    else:
        model = {"entries": rand_map_entries(rng, list(dots), depth + 1,
                                             use_all=True)}
    return dict(compact_context(dots), **model)


def rand_map_entries(rng, pool, depth, use_all=False):
    """Random entries [[key hex, type, dots, [value models]], ...] of a
    map at the given nesting depth (1: the top), with dots taken from
    pool (all of them if use_all), each used once."""
    rng.shuffle(pool)
    entries = []
    names = ORMAP_VALUE_TYPES if depth < ORMAP_GEN_DEPTH else \
        [n for n in ORMAP_VALUE_TYPES if n != "ormap"]
    # (key, type), a few keys with entries of two types (created with
    # two types concurrently), ascending by key, then tag
    keys = []
    for key in sorted({rand_elem(rng) for _ in range(rng.randrange(6))}):
        two = rng.sample(names, 2 if rng.randrange(8) == 0 else 1)
        keys += [(key, n) for n in sorted(two, key=lambda n: SPECS[n].tag)]
    if use_all and pool and not keys:
        keys = [(b"k", rng.choice(names))]
    for i, (key, name) in enumerate(keys):
        if use_all and i == len(keys) - 1:
            take = len(pool)
        else:
            take = min(len(pool), rng.choice([1, 1, 1, 2, 3, 5]))
        mine, pool = pool[:take], pool[take:]
        if not mine:
            break  # every entry holds a dot
        if name in ORMAP_CAUSAL:
            # The key's dots, then the value's (the key may have none:
            # a hidden entry, if the value has one).
            nd = rng.randint(0, len(mine))
            if nd == 0 and rng.randrange(3):
                nd = 1
            dots = sorted(mine[:nd])
            values = [rand_causal_value(rng, name, mine[nd:], depth)]
        else:
            dots = sorted(mine)
            values = rand_plain_slots(rng, name, len(dots))
        entries.append([key.hex(), name, [list(d) for d in dots], values])
    return entries


class ORMap:
    """crdt/ormap.h: tag 12, body: a context as dotctx's, then the entries
    [[key(bin), tag, dots, [value, ...]], ...] strictly ascending by key;
    each key's dots strictly ascending and in the context; each value an
    encoding of the entry's tag, inline: a causal tag (7, 8, 9, 10, 12)
    has one value, whose own context is exactly its dots, all in the map's
    context, and the entry has some dot; a plain tag has one value per dot
    of the key (its slots) and at least one dot.  No dot is in two places
    (two keys, a key and a value, two values, at any level).  The C model
    lists the present keys (with dots) with their values' models, a plain
    value's being the join of its slots."""
    name = "ormap"
    tag = 12

    def model_of_body(self, body):
        assert len(body) == 3, "ormap body has %d fields" % len(body)
        ctx_model, vv, cloud = context_of(body, "ormap")
        entries = body[2]
        assert type(entries) is list, "ormap entries are not an array"
        for e in entries:
            assert type(e) is list and len(e) == 4, "entry is not of four"
            assert type(e[0]) is bytes, "ormap key is not bin"
        kt = [(e[0], e[1]) for e in entries]
        assert all(a < b for a, b in zip(kt, kt[1:])), \
            "ormap entries not strictly ascending by key, then tag"
        seen = set()
        out = []

        def claim(dots, what):
            dots = set(map(tuple, dots))
            assert not seen & dots, "a dot in two places (%s)" % what
            seen.update(dots)
        for key, tag, dots, values in entries:
            assert is_uint(tag), "ormap entry tag is not a uint"
            vspec = next((s for s in SPECS.values() if s.tag == tag), None)
            assert vspec and vspec.name != "hlc", "tag %r not registered" % tag
            dots = check_dot_list(dots, vv, cloud, "ormap key dots")
            claim(dots, "key dots")
            assert type(values) is list, "ormap values are not an array"
            models = []
            for value in values:
                assert type(value) is list and len(value) >= 2 and \
                    value[0] == FORMAT_VERSION and value[1] == tag, \
                    "ormap value is not an encoding of the entry's tag"
                models.append(vspec.model_of_body(value[2:]))
            if vspec.name in ORMAP_CAUSAL:
                assert len(models) == 1, "causal entry of %d values" % len(
                    models)
                vdots = causal_value_dots(vspec.name, models[0])
                assert compact_context(vdots) == {
                    "vv": models[0]["vv"], "cloud": models[0]["cloud"]}, \
                    "causal value's context is not exactly its dots"
                check_dot_list(sorted(map(list, vdots)), vv, cloud,
                               "ormap value dots")
                claim(vdots, "value dots")
                assert dots or vdots, "causal entry without a dot"
            else:
                assert dots, "plain entry without dots"
                assert len(models) == len(dots), "plain entry: %d values " \
                    "for %d dots" % (len(models), len(dots))
            out.append([key.hex(), vspec.name, dots, models])
        return dict(ctx_model, entries=out)

    def c_view(self, model):
        """Each present key once, with its present entry of the largest
        tag (the last one: entries ascend by key, then tag)."""
        view = []
        for k, name, dots, values in model["entries"]:
            if not dots:
                continue  # hidden
            v = values[0] if name in ORMAP_CAUSAL else \
                join_plain(name, values)
            if view and view[-1][0] == k:
                view.pop()
            view.append([k, name, c_view(SPECS[name], v)])
        return {"entries": view}

    def body_of_model(self, model):
        return DotCtx().body_of_model(model) + [
            [[bytes.fromhex(k), SPECS[name].tag, [list(d) for d in dots],
              [[FORMAT_VERSION, SPECS[name].tag,
                *SPECS[name].body_of_model(v)] for v in values]]
             for k, name, dots, values in model["entries"]]]

    def random_model(self, rng):
        ctx_model = DotCtx().random_model(rng)
        pool = context_dots(ctx_model)
        return dict(ctx_model, entries=rand_map_entries(rng, pool, 1))

    def broken(self, rng):
        gc = b"\x93\x01\x03\x81\x01\x02"  # a gcounter {1: 2}

        def arr(items):
            """An array of the given encoded items (fewer than 16)."""
            return bytes([0x90 | len(items)]) + b"".join(items)

        def ent(key, tag, dots, values):
            return (b"\x94" + msgpack.packb(key, use_bin_type=True) +
                    msgpack.packb(tag) + msgpack.packb(dots) + arr(values))

        def causal(tag, dots, ctx=None):
            """A flag (9, 10) with these dots, its context exactly them
            unless ctx is given."""
            c = ctx if ctx is not None else compact_context(dots)
            return envelope(tag, DotCtx().body_of_model(c) + [dots])

        def tail(dots):
            if not dots:
                return b"\x90"
            return b"\x91" + ent(b"a", 3, dots, [gc] * len(dots))
        v = bytes([0x95, FORMAT_VERSION, self.tag]) + b"\x81\x05\x03\x90"
        m = len(v)  # the entries start at 7; context {5: 1..3}
        one = lambda e: v + b"\x91" + e
        # Offsets: the offending field; the values array when their count
        # is wrong; a causal value's header when its dots or context break
        # a rule of the map; the entry when it has no dot at all or holds
        # a dot seen before (the entries array when an entry is too short
        # to be one).
        ew = lambda dots, ctx=None: causal(9, dots, ctx)
        return dot_store_breakers(self.tag, tail) + [
            ("a dot under two keys", v + b"\x92" +
             ent(b"a", 3, [[5, 1]], [gc]) + ent(b"b", 3, [[5, 1]], [gc]),
             DECODE, 24),
            ("unsorted keys", v + b"\x92" + ent(b"b", 3, [[5, 1]], [gc]) +
             ent(b"a", 3, [[5, 2]], [gc]), DECODE, 25),
            ("duplicate keys", v + b"\x92" + ent(b"a", 3, [[5, 1]], [gc]) +
             ent(b"a", 3, [[5, 2]], [gc]), DECODE, 28),
            # one key, two types: ascending by tag
            ("one key, tags descending", v + b"\x92" +
             ent(b"a", 9, [[5, 1]], [ew([])]) + ent(b"a", 3, [[5, 2]], [gc]),
             DECODE, 28),
            ("str key", one(b"\x94\xa1a\x03\x91\x92\x05\x01\x91" + gc),
             DECODE, m + 2),
            ("entry of three (no tag)",
             one(b"\x93\xc4\x01a\x91\x92\x05\x01" + gc), DECODE, 8),
            ("entry of two", one(b"\x92\xc4\x01a\x91\x92\x05\x01"),
             DECODE, 7),
            ("entry of five",
             one(b"\x95" + ent(b"a", 3, [[5, 1]], [gc])[1:] + b"\x90"),
             DECODE, 8),
            ("values not an array",
             one(b"\x94\xc4\x01a\x03\x91\x92\x05\x01" + gc), DECODE, 17),
            ("tag as str", one(b"\x94\xc4\x01a\xa1\x03\x91\x92\x05\x01\x91"
                               + gc), DECODE, 12),
            ("value not an encoding", one(ent(b"a", 3, [[5, 1]], [b"\x01"])),
             DECODE, 18),
            ("value of version 2", one(ent(b"a", 3, [[5, 1]],
                                           [b"\x93\x02\x03\x80"])),
             VERSION, 19),
            ("entry of an unknown tag",
             one(ent(b"a", 1000, [[5, 1]], [b"\x93\x01\xcd\x03\xe8\x80"])),
             TYPE, 12),
            ("entry of hlc (unregistered)",
             one(ent(b"a", 6, [[5, 1]], [b"\x93\x01\x06\x05"])), TYPE, 12),
            ("value non-canonical",
             one(ent(b"a", 3, [[5, 1]], [b"\x93\x01\x03\x81\x01\xcc\x02"])),
             DECODE, 23),
            ("value of another tag than the entry's",
             one(ent(b"a", 1, [[5, 1]], [gc])), DECODE, 20),
            ("slots of two types",
             one(ent(b"a", 3, [[5, 1], [5, 2]], [gc, b"\x93\x01\x01\x80"])),
             DECODE, 29),
            # plain values: one per dot, at least one dot
            ("plain entry without dots", one(ent(b"a", 3, [], [gc])),
             DECODE, 14),
            ("plain entry without dots or values", one(ent(b"a", 3, [], [])),
             DECODE, 7),
            ("fewer slots than dots",
             one(ent(b"a", 3, [[5, 1], [5, 2]], [gc])), DECODE, 20),
            ("more slots than dots",
             one(ent(b"a", 3, [[5, 1]], [gc, gc])), DECODE, 17),
            # causal values: one, its context exactly its dots, in the
            # map's context, no dot shared
            ("causal entry without a value", one(ent(b"a", 9, [[5, 1]], [])),
             DECODE, 17),
            ("causal entry of two values",
             one(ent(b"a", 9, [[5, 1]], [ew([[5, 2]]), ew([[5, 3]])])),
             DECODE, 17),
            ("causal entry without a dot", one(ent(b"a", 9, [], [ew([])])),
             DECODE, 8),
            ("dwflag entry without a dot",
             one(ent(b"a", 10, [], [causal(10, [])])), DECODE, 8),
            ("causal value's context beyond its dots",
             one(ent(b"a", 9, [[5, 3]], [ew([[5, 2]],
                                            {"vv": [[5, 2]], "cloud": []})])),
             DECODE, 18),
            ("causal value's context of no dots",
             one(ent(b"a", 9, [[5, 3]], [ew([], {"vv": [[5, 1]],
                                                 "cloud": []})])),
             DECODE, 18),
            ("causal value's dot outside the map's context",
             one(ent(b"a", 9, [[5, 1]], [ew([[5, 4]])])), DECODE, 18),
            ("causal value's dot of an unseen actor",
             one(ent(b"a", 9, [[5, 1]], [ew([[6, 1]])])), DECODE, 18),
            ("a dot under a key and in its value",
             one(ent(b"a", 9, [[5, 1]], [ew([[5, 1]])])), DECODE, 8),
            ("a dot in two keys' values", v + b"\x92" +
             ent(b"a", 9, [[5, 1]], [ew([[5, 2]])]) +
             ent(b"b", 9, [[5, 3]], [ew([[5, 2]])]), DECODE, 30),
            ("a dot in one key's value and under another", v + b"\x92" +
             ent(b"a", 9, [[5, 1]], [ew([[5, 2]])]) +
             ent(b"b", 3, [[5, 2]], [gc]), DECODE, 30),
            ("mvreg value's context beyond its dots",
             one(ent(b"a", 7, [[5, 3]], [envelope(7, [{5: 2}, [],
                                                      [[5, 2, b"v"]]])])),
             DECODE, 18),
            ("orset value's context beyond its dots",
             one(ent(b"a", 8, [[5, 3]], [envelope(8, [{5: 2}, [],
                                                      [[b"x", [[5, 1]]]]])])),
             DECODE, 18),
            # nested maps: the same rules at every level
            ("a nested map's key dot under the outer key",
             one(ent(b"a", 12, [[5, 1]], [envelope(12, [{5: 1}, [], [
                 [b"x", 3, [[5, 1]], [[1, 3, {1: 2}]]]]])])),
             DECODE, 8),
            ("a nested map's context beyond its dots",
             one(ent(b"a", 12, [[5, 3]], [envelope(12, [{5: 2}, [], [
                 [b"x", 3, [[5, 2]], [[1, 3, {1: 2}]]]]])])),
             DECODE, 18),
            ("a nested map's value dot under the outer key",
             one(ent(b"a", 12, [[5, 1]], [envelope(12, [{5: 2}, [], [
                 [b"x", 9, [[5, 2]], [[1, 9, {5: 1}, [], [[5, 1]]]]]]])])),
             DECODE, 8),
        ]


class GCounter(VClock):
    """README: tag 3, body {actor: count, ...} as a vclock's, and the
    counts sum to at most 2^64 - 1 (else CRDT_ERR_OVERFLOW, at the count
    that takes the sum past it)."""
    name = "gcounter"
    tag = 3

    def model_of_body(self, body):
        assert len(body) == 1, "gcounter body has %d fields" % len(body)
        entries = check_actor_map(body[0], "gcounter map")
        value = sum(c for _, c in entries)
        assert value <= U64, "gcounter: counts sum past 2^64 - 1"
        return {"entries": entries, "value": value}

    def random_model(self, rng):
        entries = [[a, c] for a, c in capped_map(rng).items()]
        return {"entries": entries, "value": sum(c for _, c in entries)}

    def broken(self, rng):
        pre = bytes([0x93, FORMAT_VERSION, self.tag])
        return VClock.broken(self, rng) + sum_breakers(pre)


class PNCounter:
    """README: tag 4, body P {actor: count}, N {actor: count}, each as a
    gcounter's; value sum(P) - sum(N)."""
    name = "pncounter"
    tag = 4

    def model_of_body(self, body):
        assert len(body) == 2, "pncounter body has %d fields" % len(body)
        p = check_actor_map(body[0], "pncounter P")
        n = check_actor_map(body[1], "pncounter N")
        sp, sn = sum(c for _, c in p), sum(c for _, c in n)
        assert sp <= U64 and sn <= U64, "pncounter: a sum past 2^64 - 1"
        return {"p": p, "n": n, "value": sp - sn}

    def body_of_model(self, model):
        return [{a: c for a, c in model["p"]}, {a: c for a, c in model["n"]}]

    def random_model(self, rng):
        p = [[a, c] for a, c in capped_map(rng).items()]
        n = [[a, c] for a, c in capped_map(rng).items()]
        if rng.randrange(4) == 0:
            n = []
        return {"p": p, "n": n,
                "value": sum(c for _, c in p) - sum(c for _, c in n)}

    def broken(self, rng):
        pre = bytes([0x94, FORMAT_VERSION, self.tag])
        return (map_breakers(rng, pre, post=b"\x80") +
                map_breakers(rng, pre + b"\x80") +
                sum_breakers(pre, post=b"\x80") +
                sum_breakers(pre + b"\x81\x01\x01") + [
                    ("P only", bytes([0x93, FORMAT_VERSION, self.tag]) +
                     b"\x80", DECODE, 0),
                    ("three maps", bytes([0x95, FORMAT_VERSION, self.tag]) +
                     b"\x80\x80\x80", DECODE, 0),
                    ("N not a map", pre + b"\x80\x90", DECODE, 4),
                    ("2^20 + 1 actors in N", pre + b"\x80" +
                     over_limit_map(), LIMIT, 4),
                ])


class LWW:
    """include/crdt/lww.h: tag 5, body [] (empty register) or
    [timestamp, actor, value], value a bin (never a str)."""
    name = "lww"
    tag = 5

    def model_of_body(self, body):
        if len(body) == 0:
            return {"value": None}
        assert len(body) == 3, "lww body has %d fields" % len(body)
        ts, actor, value = body
        assert is_uint(ts) and is_uint(actor), "lww: not uints"
        assert type(value) is bytes, "lww value is %r, not bin" % type(value)
        return {"timestamp": ts, "actor": actor, "value": value.hex()}

    def body_of_model(self, model):
        if model["value"] is None:
            return []
        return [model["timestamp"], model["actor"],
                bytes.fromhex(model["value"])]

    def random_model(self, rng):
        if rng.randrange(12) == 0:
            return {"value": None}
        n = rng.choice([0, 1, 2, 15, 16, 17, 31, 32, 33, 255, 256, 257,
                        rng.randrange(64), rng.randrange(64),
                        rng.randrange(3000)])
        if rng.randrange(50) == 0:
            n = rng.choice([65535, 65536, 70000])  # bin 16 / bin 32
        ts = rng.choice([0, rng.choice(EDGES), rng.getrandbits(64),
                         rng.randrange(1 << 20)])
        return {"timestamp": ts, "actor": rand_actor(rng),
                "value": rng.randbytes(n).hex()}

    def broken(self, rng):
        pre = bytes([0x95, FORMAT_VERSION, self.tag])
        limit = (16 << 20) + 1
        return [
            ("str value", pre + b"\x01\x02\xa2hi", DECODE, 5),
            ("nil value", pre + b"\x01\x02\xc0", DECODE, 5),
            ("bool value", pre + b"\x01\x02\xc3", DECODE, 5),
            ("array value", pre + b"\x01\x02\x92\x01\x02", DECODE, 5),
            ("bin16 for 2 bytes", pre + b"\x01\x02\xc5\x00\x02hi",
             DECODE, 5),
            ("bin32 for 2 bytes", pre + b"\x01\x02\xc6\x00\x00\x00\x02hi",
             DECODE, 5),
            ("bin32 for 300 bytes", pre + b"\x01\x02\xc6" +
             (300).to_bytes(4, "big") + bytes(300), DECODE, 5),
            # The bin header claims more bytes than follow: the input
            # ended early, so the offset is its end.
            ("bin8 past the end", pre + b"\x01\x02\xc4\x05hi", DECODE, 9),
            ("value over 16 MiB", pre + b"\x01\x02\xc6" +
             limit.to_bytes(4, "big") + b"x", LIMIT, 5),
            ("negative timestamp", pre + b"\xff\x02\xc4\x00", DECODE, 3),
            ("float timestamp", pre + b"\xca" + bytes(4) + b"\x02\xc4\x00",
             DECODE, 3),
            ("timestamp 5 as uint16", pre + b"\xcd\x00\x05\x02\xc4\x00",
             DECODE, 3),
            ("actor 2 as uint64", pre + b"\x01\xcf" + (2).to_bytes(8, "big")
             + b"\xc4\x00", DECODE, 4),
            ("actor 0x100 as uint32", pre + b"\x01\xce\x00\x00\x01\x00"
             b"\xc4\x00", DECODE, 4),
            ("str actor", pre + b"\x01\xa1a\xc4\x00", DECODE, 4),
            ("one body field", bytes([0x93, FORMAT_VERSION, self.tag, 1]),
             DECODE, 0),
            ("two body fields", bytes([0x94, FORMAT_VERSION, self.tag, 1, 2]),
             DECODE, 0),
            ("four body fields", bytes([0x96, FORMAT_VERSION, self.tag, 1, 2,
                                        0xC4, 0, 1]), DECODE, 0),
            ("empty register, trailing nil",
             bytes([0x92, FORMAT_VERSION, self.tag, 0xC0]), DECODE, 3),
        ]


class HLC:
    """include/crdt/hlc.h: tag 6, body [last_ts]."""
    name = "hlc"
    tag = 6

    def model_of_body(self, body):
        assert len(body) == 1, "hlc body has %d fields" % len(body)
        assert is_uint(body[0]), "hlc: last_ts is not a uint"
        return {"value": body[0]}

    def body_of_model(self, model):
        return [model["value"]]

    def random_model(self, rng):
        return {"value": rng.choice([
            0, rng.choice(EDGES), rng.getrandbits(64),
            rng.getrandbits(rng.choice([7, 8, 16, 32, 33])),
            # milliseconds since the epoch << 16 | logical counter
            (1700000000000 + rng.randrange(1 << 36)) << 16 |
            rng.randrange(1 << 16)])}

    def broken(self, rng):
        pre = bytes([0x93, FORMAT_VERSION, self.tag])
        out = [
            ("no body", bytes([0x92, FORMAT_VERSION, self.tag]), DECODE, 0),
            ("two body fields", bytes([0x94, FORMAT_VERSION, self.tag, 1, 2]),
             DECODE, 0),
            ("negative", pre + b"\xff", DECODE, 3),
            ("int8", pre + b"\xd0\x05", DECODE, 3),
            ("nil", pre + b"\xc0", DECODE, 3),
            ("bin", pre + b"\xc4\x01\x05", DECODE, 3),
            ("float", pre + b"\xcb" + bytes(8), DECODE, 3),
            ("array", pre + b"\x91\x05", DECODE, 3),
            ("uint64 cut short", pre + b"\xcf\x00\x01", DECODE, 6),
        ]
        for v, forms in ((5, [8, 16, 32, 64]), (0x80, [16, 32, 64]),
                         (0x100, [32, 64]), (0x10000, [64])):
            for w in forms:
                out.append(("%#x as uint%d" % (v, w), pre + mp_uint(v, w),
                            DECODE, 3))
        return out


SPECS = {s.name: s for s in [
    VClock(), DotCtx(), GSet(), ORSet(), Flag("ewflag", 9, True),
    Flag("dwflag", 10, False), MVReg(), ORMap(), GCounter(), PNCounter(),
    LWW(), HLC()]}


def c_view(spec, model):
    """The part of a model the C helper prints (all of it but for orset)."""
    return spec.c_view(model) if hasattr(spec, "c_view") else model


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

def test_helper_types_all_known():
    """Every type the C library encodes has a Python spec here."""
    missing = [t for t in c_types() if t not in SPECS]
    assert not missing, "no Python spec for %s" % missing


@pytest.fixture(params=sorted(SPECS))
def spec(request):
    if request.param not in c_types():
        pytest.fail("C helper does not know %s" % request.param)
    return SPECS[request.param]


def test_a_c_encodings_read_by_python(spec):
    """(a) C's encodings are the documented structure, and canonical."""
    states = c_gen(spec.name, CASES, SEED)
    for i, (data, model) in enumerate(states):
        what = ctx("%s state %d (%s)" % (spec.name, i, data.hex()))
        obj = unpack(data)
        assert type(obj) is list and len(obj) >= 2, what
        assert obj[0] == FORMAT_VERSION, what
        assert obj[1] == spec.tag, what
        full = spec.model_of_body(obj[2:])
        assert c_view(spec, full) == model, what
        assert msgpack.packb(obj, use_bin_type=True) == data, \
            "not canonical: " + what
        # ... and the documented body, built from the model, too.
        assert envelope(spec.tag, spec.body_of_model(full)) == data, what
    print("\n%s: %d C encodings read and re-packed identically by Python"
          % (spec.name, len(states)))


def test_b_python_encodings_read_by_c(spec):
    """(b) States Python builds from the README are accepted by C, which
    re-encodes them identically and reads the same content."""
    rng = rng_for("b", spec.name)
    models = [spec.random_model(rng) for _ in range(CASES)]
    encs = [envelope(spec.tag, spec.body_of_model(m)) for m in models]
    for i, (m, e, r) in enumerate(zip(models, encs, c_canon(spec.name, encs))):
        what = ctx("%s python state %d (%s)" % (spec.name, i, e.hex()))
        assert r[0] == "ok", "%s: C says %s at %d" % (
            what, ERR_NAMES.get(r[1], r[1]), r[2])
        assert r[1] == e, what + ": C re-encodes " + r[1].hex()
        assert r[2] == c_view(spec, m), what
    print("\n%s: %d Python encodings accepted and reproduced by C"
          % (spec.name, len(encs)))


def test_c_rejects_broken_encodings(spec):
    """(c) Rule breakers get the documented error at the right offset."""
    rng = rng_for("c", spec.name)
    good = envelope(spec.tag, spec.body_of_model(spec.random_model(rng)))
    other_tag = next(t for t in range(1, 1 << 20) if t != spec.tag
                     and t not in (s.tag for s in SPECS.values()))
    cases = [
        ("version 0", bytes([good[0], 0]) + good[2:], VERSION, 1),
        ("version 2", bytes([good[0], 2]) + good[2:], VERSION, 1),
        ("version 255", bytes([good[0], 0xCC, 0xFF]) + good[2:], VERSION, 1),
        ("version as uint8", bytes([good[0], 0xCC, 1]) + good[2:], DECODE, 1),
        ("tag 0", good[:2] + b"\x00" + good[3:], TYPE, 2),
        ("unknown tag", good[:2] + mp_uint(other_tag) + good[3:], TYPE, 2),
        ("tag as uint16", good[:2] + mp_uint(spec.tag, 16) + good[3:],
         DECODE, 2),
        ("trailing byte", good + b"\x00", DECODE, len(good)),
        ("trailing nil", good + b"\xc0", DECODE, len(good)),
        ("two encodings", good + good, DECODE, len(good)),
        ("array16 envelope", b"\xdc\x00" + bytes([good[0] & 15]) + good[1:],
         DECODE, 0),
        ("map envelope", b"\x81" + good[1:3], DECODE, 0),
        ("empty", b"", DECODE, 0),
        ("empty array", b"\x90", DECODE, 0),
    ]
    for t in SPECS.values():
        if t.tag != spec.tag:
            # A valid encoding of another type is the wrong type.
            enc = envelope(t.tag, t.body_of_model(t.random_model(rng)))
            cases.append(("a %s" % t.name, enc, TYPE, 2))
    cases += spec.broken(rng)
    # Every proper prefix of a valid encoding (a sample of them when it is
    # long: all short ones and 300 random cuts).
    cuts = range(len(good))
    if len(good) > 600:
        cuts = sorted(set(range(300)) | set(rng.sample(cuts, 300)))
    for k in cuts:
        cases.append(("prefix %d of %s" % (k, good.hex()), good[:k],
                      DECODE, None))
    results = c_canon(spec.name, [c[1] for c in cases])
    for (label, data, code, off), r in zip(cases, results):
        what = ctx("%s: %s (%s)" % (spec.name, label, data[:64].hex()))
        assert r[0] == "error", what + ": accepted"
        assert r[1] == code, "%s: %s, expected %s" % (
            what, ERR_NAMES.get(r[1], r[1]), ERR_NAMES[code])
        assert 0 <= r[2] <= len(data), what + ": offset %d" % r[2]
        if off is not None:
            assert r[2] == off, "%s: offset %d, expected %d" % (what, r[2], off)
    print("\n%s: %d rule-breaking encodings rejected by C as documented"
          % (spec.name, len(cases)))


DOC_EXAMPLES = [
    # README.md "Wire format" examples
    # the clock {5: 1, 300: 70000}
    ("vclock", "93 01 01 82 05 01 cd 01 2c ce 00 01 11 70",
     [{5: 1, 300: 70000}], {"entries": [[5, 1], [300, 70000]]}),
    # include/crdt/dotctx.h: vv {5: 3}, cloud {(5, 7), (9, 2)}
    ("dotctx", "94 01 02 81 05 03 92 92 05 07 92 09 02",
     [{5: 3}, [[5, 7], [9, 2]]], {"vv": [[5, 3]], "cloud": [[5, 7], [9, 2]]}),
    # include/crdt/gset.h: {"b", "a", ""}
    ("gset", "93 01 0b 93 c4 00 c4 01 61 c4 01 62", [[b"", b"a", b"b"]],
     {"elems": ["", "61", "62"]}),
    # include/crdt/orset.h: actor 5 adds "a" then "b"
    ("orset", "95 01 08 81 05 02 90 92 92 c4 01 61 91 92 05 01"
     " 92 c4 01 62 91 92 05 02",
     [{5: 2}, [], [[b"a", [[5, 1]]], [b"b", [[5, 2]]]]],
     {"elems": [["61", [[5, 1]]], ["62", [[5, 2]]]]}),
    # include/crdt/flag.h
    ("ewflag", "95 01 09 81 01 01 90 91 92 01 01", [{1: 1}, [], [[1, 1]]],
     {"value": True}),
    ("ewflag", "95 01 09 81 01 01 90 90", [{1: 1}, [], []], {"value": False}),
    ("dwflag", "95 01 0a 80 90 90", [{}, [], []], {"value": True}),
    # include/crdt/mvreg.h: concurrent "a" by 1 and "b" by 2, merged
    ("mvreg", "95 01 07 82 01 01 02 01 90 92 93 01 01 c4 01 61 93 02 01 c4"
     " 01 62", [{1: 1, 2: 1}, [], [[1, 1, b"a"], [2, 1, b"b"]]],
     {"siblings": [[1, 1, "61"], [2, 1, "62"]]}),
    ("mvreg", "95 01 07 80 90 90", [{}, [], []], {"siblings": []}),
    # include/crdt/ormap.h and README: "a" holding a gcounter {1: 2}
    # (actor 1's slot), then removed (nothing left but the dot)
    ("ormap", "95 01 0c 81 01 01 90 91 94 c4 01 61 03 91 92 01 01 91 93 01"
     " 03 81 01 02", [{1: 1}, [], [[b"a", 3, [[1, 1]], [[1, 3, {1: 2}]]]]],
     {"entries": [["61", "gcounter", {"entries": [[1, 2]], "value": 2}]]}),
    ("ormap", "95 01 0c 81 01 01 90 90", [{1: 1}, [], []], {"entries": []}),
    # README: two slots, read as their join
    ("ormap", "95 01 0c 82 01 01 02 01 90 91 94 c4 01 61 03 92 92 01 01 92"
     " 02 01 92 93 01 03 81 01 02 93 01 03 81 02 05",
     [{1: 1, 2: 1}, [],
      [[b"a", 3, [[1, 1], [2, 1]], [[1, 3, {1: 2}], [1, 3, {2: 5}]]]]],
     {"entries": [["61", "gcounter", {"entries": [[1, 2], [2, 5]],
                                      "value": 7}]]}),
    # README: an orset value, its context exactly its dot
    ("ormap", "95 01 0c 81 01 02 90 91 94 c4 01 73 08 91 92 01 02 91 95 01"
     " 08 81 01 01 90 91 92 c4 01 78 91 92 01 01",
     [{1: 2}, [], [[b"s", 8, [[1, 2]], [[1, 8, {1: 1}, [],
                                          [[b"x", [[1, 1]]]]]]]]],
     {"entries": [["73", "orset", {"elems": [["78", [[1, 1]]]]}]]}),
    # a hidden entry: the key's dot removed, the value's dot not
    ("ormap", "95 01 0c 81 01 02 90 91 94 c4 01 73 08 90 91 95 01 08 81 01"
     " 01 90 91 92 c4 01 78 91 92 01 01",
     [{1: 2}, [], [[b"s", 8, [], [[1, 8, {1: 1}, [],
                                    [[b"x", [[1, 1]]]]]]]]],
     {"entries": []}),
    # one key created with two types: the larger tag (an ewflag, whose
    # value has no dot) shows
    ("ormap", "95 01 0c 81 01 02 90 92 94 c4 01 61 03 91 92 01 01 91 93 01"
     " 03 81 01 02 94 c4 01 61 09 91 92 01 02 91 95 01 09 80 90 90",
     [{1: 2}, [], [[b"a", 3, [[1, 1]], [[1, 3, {1: 2}]]],
                   [b"a", 9, [[1, 2]], [[1, 9, {}, [], []]]]]],
     {"entries": [["61", "ewflag", {"value": False}]]}),
    # an empty plain value in one slot: the key is present
    ("ormap", "95 01 0c 81 01 01 90 91 94 c4 01 62 03 91 92 01 01 91 93 01"
     " 03 80", [{1: 1}, [], [[b"b", 3, [[1, 1]], [[1, 3, {}]]]]],
     {"entries": [["62", "gcounter", {"entries": [], "value": 0}]]}),
    ("gcounter", "93 01 03 82 05 01 cd 01 2c ce 00 01 11 70",
     [{5: 1, 300: 70000}], {"entries": [[5, 1], [300, 70000]],
                            "value": 70001}),
    ("pncounter", "94 01 04 81 05 03 81 07 01", [{5: 3}, {7: 1}],
     {"p": [[5, 3]], "n": [[7, 1]], "value": 2}),
    # include/crdt/lww.h: timestamp 1, actor 2, value "hi"
    ("lww", "95 01 05 01 02 c4 02 68 69", [1, 2, b"hi"],
     {"timestamp": 1, "actor": 2, "value": "6869"}),
    ("lww", "92 01 05", [], {"value": None}),
]


@pytest.mark.parametrize("name,hexenc,body,model", DOC_EXAMPLES)
def test_documented_examples(name, hexenc, body, model):
    """The examples in the README and headers, both ways (model: what the
    C helper prints)."""
    if name not in c_types():
        pytest.fail("C helper does not know %s" % name)
    data = bytes.fromhex(hexenc)
    assert envelope(SPECS[name].tag, body) == data
    assert c_canon(name, [data]) == [("ok", data, model)]


def test_d_actor_from_name():
    """(d) Actor ids from names are XXH3-64, seed 0."""
    rng = rng_for("d")
    names = [b"", b"alice", b"bob", b"a" * 240, "r\u00e9plica-\u4e00".encode()]
    names += [bytes(rng.getrandbits(8) for _ in range(rng.choice(
        [1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, rng.randrange(2000)])))
        for _ in range(CASES)]
    out = helper("actors", stdin="".join(n.hex() + "\n" for n in names))
    got = [int(x) for x in out.split()]
    assert len(got) == len(names)
    for n, g in zip(names, got):
        assert g == xxhash.xxh3_64_intdigest(n), ctx("name %s" % n.hex())
    # The command-line form, for names a shell can pass.
    for n in ["alice", "bob", "node-17", "x" * 100]:
        assert int(helper("actor", n)) == xxhash.xxh3_64_intdigest(n.encode())
    print("\nactor ids: %d names agree with xxhash.xxh3_64_intdigest"
          % (len(names) + 4))
