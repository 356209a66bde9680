# SPDX-License-Identifier: MIT
"""Reference counting and leaks: a million operations keep the process's
memory flat (RSS, and the interpreter's allocated blocks)."""
import os
import sys

import pytest

import crdt


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def work(n):
    """n iterations of 4 operations each on every kind of object; each
    allocates and frees C state and Python objects."""
    g, s, m = crdt.GCounter(), crdt.ORSet(), crdt.ORMap()
    lww, mv = crdt.LWWRegister(), crdt.MVRegister()
    for i in range(n):
        g.merge(g.inc(1))                       # delta, merge
        s.add(1, b"%d" % (i & 63))              # bounded state
        lww.set(1, b"v", time=i)
        if i % 16 == 0:
            m.update(1, b"k%d" % (i & 7), crdt.GCounter,
                     lambda c: c.inc(1))
            bytes(crdt.decode(bytes(s)))
            mv.set(i & 3, b"x")
            s.remove(b"%d" % (i & 63))
            try:
                crdt.GCounter.from_bytes(b"\x93\x01\x03")
            except crdt.DecodeError:
                pass
    return g.value


def test_a_million_operations_keep_memory_flat():
    work(25_000)  # warm up allocator pools and caches
    blocks0, rss0 = sys.getallocatedblocks(), rss()
    assert work(250_000) == 250_000  # 4 ops an iteration: a million
    blocks1, rss1 = sys.getallocatedblocks(), rss()
    # A leaked object or C state per op would be >= 250,000 blocks or
    # tens of MB.
    assert abs(blocks1 - blocks0) < 1000, (blocks0, blocks1)
    if not os.environ.get("CRDT_PY_ASAN"):  # ASan's quarantine grows RSS
        assert rss1 - rss0 < 4 << 20, (rss0, rss1)
