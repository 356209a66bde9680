#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench.py: what the crdt bindings cost, in operations per second.

For a G-counter (8 actors) and a 10,000-element G-set: increment (add),
merge and encode through the bindings (Python calling crdt._crdt), the
same library calls in a C loop in this process (crdt._crdt._bench_c: no
Python in the loop), and a pure-Python dict-based G-counter / set-based
G-set as a user would otherwise write them (encoded with python3-msgpack,
the same canonical bytes).

With --cffi it also measures the per-call overhead of cffi in API mode
(python3-cffi, compiled here against the same library) against the
CPython C API the bindings use: a trivial query and an increment with its
delta, wrapped as a binding would wrap them.

    PYTHONPATH=<built crdt> /usr/bin/python3 bindings/python/bench.py [--cffi]
CRDT_INCLUDE_DIRS / CRDT_LIBRARY_DIRS (as for setup.py) point --cffi at
an uninstalled build; otherwise pkg-config finds libcrdt.
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

# The script's own directory holds the crdt sources, not the built
# extension: import the built or installed package instead.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
import crdt  # noqa: E402

SET_SIZE = 10_000


def best(fn, n, repeat=5):
    """Seconds per call of fn(n) (which runs n operations), best of
    repeat."""
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(n)
        ts.append((time.perf_counter() - t0) / n)
    return min(ts)


class PyGCounter:
    """A G-counter as a user would write it: a dict actor -> count."""

    def __init__(self):
        self.counts = {}

    def inc(self, actor, by=1):
        n = self.counts.get(actor, 0) + by
        self.counts[actor] = n
        return {actor: n}  # the delta

    def merge(self, other):
        c = self.counts
        for a, n in other.counts.items():
            if n > c.get(a, 0):
                c[a] = n

    def encode(self):
        import msgpack
        return msgpack.packb([1, 3, dict(sorted(self.counts.items()))])


def bench_counter():
    rows = []
    g = crdt.GCounter()

    def inc(n):
        for _ in range(n):
            g.inc(1)
    a, b = crdt.GCounter(), crdt.GCounter()
    pa, pb = PyGCounter(), PyGCounter()
    for i in range(1, 9):
        a.inc(i, i)
        b.inc(i + 4, 3)
        pa.inc(i, i)
        pb.inc(i + 4, 3)
    assert pa.encode() == bytes(a)

    def merge(n):
        for _ in range(n):
            a.merge(b)

    def encode(n):
        for _ in range(n):
            bytes(a)
    p = PyGCounter()

    def pinc(n):
        for _ in range(n):
            p.inc(1)

    def pmerge(n):
        for _ in range(n):
            pa.merge(pb)

    def pencode(n):
        for _ in range(n):
            pa.encode()
    N = 200_000
    rows.append(("counter increment", best(inc, N),
                 crdt._crdt._bench_c("gcounter_inc", N), best(pinc, N)))
    rows.append(("counter merge (8 actors)", best(merge, N),
                 crdt._crdt._bench_c("gcounter_merge", N), best(pmerge, N)))
    rows.append(("counter encode (8 actors)", best(encode, N),
                 crdt._crdt._bench_c("gcounter_encode", N), best(pencode, N)))
    return rows


def bench_set():
    import msgpack
    elems = [b"e%d" % i for i in range(SET_SIZE)]
    s = crdt.GSet()
    ps = set()

    def add(n):
        for i in range(n):
            s.add(elems[i % SET_SIZE])

    def padd(n):
        for i in range(n):
            ps.add(elems[i % SET_SIZE])
    a, b = crdt.GSet(), crdt.GSet()
    pa, pb = set(), set()
    for i, e in enumerate(elems):
        a.add(e)
        pa.add(e)
        if i % 2:
            b.add(e)
            pb.add(e)

    def merge(n):
        for _ in range(n):
            a.merge(b)

    def pmerge(n):
        for _ in range(n):
            pa.update(pb)

    def encode(n):
        for _ in range(n):
            bytes(a)

    def pencode(n):
        for _ in range(n):
            msgpack.packb([1, 11, sorted(pa)])
    assert msgpack.packb([1, 11, sorted(pa)]) == bytes(a)
    N = 200_000
    M = 300
    return [
        ("set add (10k elements)", best(add, N),
         crdt._crdt._bench_c("gset_add", N, SET_SIZE), best(padd, N)),
        ("set merge (10k <- 5k)", best(merge, M),
         crdt._crdt._bench_c("gset_merge", M, SET_SIZE), best(pmerge, M)),
        ("set encode (10k)", best(encode, M),
         crdt._crdt._bench_c("gset_encode", M, SET_SIZE), best(pencode, M)),
    ]


def fmt_rate(sec):
    r = 1 / sec
    if r >= 1e6:
        return "%.2f M/s" % (r / 1e6)
    if r >= 1e3:
        return "%.1f k/s" % (r / 1e3)
    return "%.0f /s" % r


def table(rows):
    head = ("operation", "crdt (Python)", "C loop", "pure Python",
            "ns/op Py-C")
    out = [head]
    for name, py, c, pure in rows:
        out.append((name, fmt_rate(py), fmt_rate(c), fmt_rate(pure),
                    "%.0f" % ((py - c) * 1e9)))
    w = [max(len(r[i]) for r in out) for i in range(len(head))]
    lines = []
    for k, r in enumerate(out):
        lines.append("  ".join(r[i].ljust(w[i]) if i == 0 else
                               r[i].rjust(w[i]) for i in range(len(r))))
        if k == 0:
            lines.append("  ".join("-" * x for x in w))
    return "\n".join(lines)


# ----------------------------------------------------------------- cffi

CDEF = """
typedef struct crdt_gcounter crdt_gcounter;
typedef struct crdt_mem crdt_mem;
crdt_gcounter *crdt_gcounter_new(const crdt_mem *mem);
void crdt_gcounter_free(crdt_gcounter *g);
uint64_t crdt_gcounter_value(const crdt_gcounter *g);
int crdt_gcounter_increment(crdt_gcounter *g, uint64_t actor, uint64_t by,
                            crdt_gcounter *delta);
"""


def build_cffi(tmp):
    import cffi
    inc = [d for d in os.environ.get("CRDT_INCLUDE_DIRS", "").split(":") if d]
    libdirs = [d for d in os.environ.get("CRDT_LIBRARY_DIRS", "").split(":")
               if d]
    extra = []
    if not inc and not libdirs:
        out = subprocess.run(["pkg-config", "--cflags", "--libs", "libcrdt"],
                             check=True, capture_output=True, text=True)
        for f in shlex.split(out.stdout):
            if f.startswith("-I"):
                inc.append(f[2:])
            elif f.startswith("-L"):
                libdirs.append(f[2:])
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source("_crdt_cffi_bench", "#include <crdt/gcounter.h>",
                   include_dirs=inc, library_dirs=libdirs,
                   runtime_library_dirs=libdirs, libraries=["crdt"],
                   extra_compile_args=extra)
    ffi.compile(tmpdir=tmp, verbose=False)
    sys.path.insert(0, tmp)
    import _crdt_cffi_bench
    return _crdt_cffi_bench


def bench_cffi():
    with tempfile.TemporaryDirectory(prefix="crdt-cffi-") as tmp:
        mod = build_cffi(tmp)
        ffi, lib = mod.ffi, mod.lib

        class CffiGCounter:
            """A GCounter as a cffi binding would wrap it."""
            __slots__ = ("p",)

            def __init__(self):
                self.p = ffi.gc(lib.crdt_gcounter_new(ffi.NULL),
                                lib.crdt_gcounter_free)

            @property
            def value(self):
                return lib.crdt_gcounter_value(self.p)

            def inc(self, actor, by=1):
                d = CffiGCounter()
                rv = lib.crdt_gcounter_increment(self.p, actor, by, d.p)
                if rv:
                    raise crdt.Error(rv)
                return d
        cg, g = CffiGCounter(), crdt.GCounter()
        raw = cg.p
        N = 500_000

        def cffi_raw(n):
            f = lib.crdt_gcounter_value
            for _ in range(n):
                f(raw)

        def cffi_value(n):
            for _ in range(n):
                cg.value

        def capi_value(n):
            for _ in range(n):
                g.value

        def cffi_inc(n):
            for _ in range(n):
                cg.inc(1)

        def capi_inc(n):
            for _ in range(n):
                g.inc(1)

        def empty(n):
            for _ in range(n):
                pass
        loop = best(empty, N)
        res = [("crdt_gcounter_value: cffi lib call, no wrapper",
                best(cffi_raw, N) - loop),
               ("value: cffi wrapped in a property", best(cffi_value, N) - loop),
               ("value: C API getter (crdt.GCounter)",
                best(capi_value, N) - loop),
               ("inc with delta: cffi class", best(cffi_inc, N) - loop),
               ("inc with delta: C API (crdt.GCounter)",
                best(capi_inc, N) - loop)]
        return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cffi", action="store_true",
                    help="also measure cffi's per-call overhead")
    args = ap.parse_args()
    print("libcrdt %s, Python %s, crdt._crdt at %s" % (
        crdt.LIBRARY_VERSION, sys.version.split()[0], crdt._crdt.__file__))
    print("(best of 5 runs each; a set's add cycles over its 10,000 "
          "elements)\n")
    print(table(bench_counter() + bench_set()))
    if args.cffi:
        print("\nper-call overhead, ns per call (loop overhead subtracted):")
        for name, sec in bench_cffi():
            print("  %-48s %6.0f" % (name, sec * 1e9))


if __name__ == "__main__":
    main()
