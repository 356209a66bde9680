# SPDX-License-Identifier: MIT
"""Jepsen-style test of real crdt-node processes on 127.0.0.1.

A 3-node cluster (data directories in tmp_path, free UDP ports) is driven
by K concurrent client threads, each one *session* (its own crdt.Session)
doing random operations on a few keys (orset add of unique elements,
pncounter inc, get) on random nodes at random levels with short timeouts,
for a bounded time; mid-run one node is killed with SIGKILL and restarted
with the same arguments.  Every operation is recorded in a history (session,
node, kind, key, argument, level, invocation and completion times from
time.monotonic, outcome ok / timeout / error, the value read), and the
checker below, pure functions over such histories, verifies:

- read-your-writes: a session's OK read of k reflects every OK write the
  session made to k before the read was invoked (set: contains the
  element; counter: >= the sum of the session's acknowledged increments);
- monotonic reads: a session's successive OK reads of k never lose an
  element an earlier read saw (counters never decrease);
- monotonic writes: a session's read that reflects one of its writes
  reflects every earlier OK write of the session to that key (writes are
  seen in session order), and every OK write made before the read;
- writes-follow-reads: whatever a session read before one of its OK
  writes (any key) is still visible in its reads after that write;
- no phantoms: no read returns an element nobody had begun to add, or a
  counter above the sum of the increments begun before it completed;
- quorum intersection (README "Consistency levels"): a read at R sees
  every write acknowledged at W before it began when R + W > N;
- convergence: after the run, every node answers the same value for every
  key (polled, bounded), each set contains every element whose add was
  acknowledged at level one or above and nothing nobody added, each
  counter lies in [acknowledged, acknowledged + unknown outcomes].

Each check is shown to detect violations on hand-made histories first.
CRDT_SEED seeds the choices (not the timing); CRDT_NODE names the binary
(check.sh exports it; default <build>/tools/crdt-node); the test is
skipped when there is none.
"""
import collections
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time

import pytest

import crdt
from conftest import SEED

LEVELS = ("local", "one", "quorum", "all")
# replicas a level counts: a local write is not committed (not counted)
W_SIZE = {"local": 0, "one": 1, "quorum": 2, "all": 3}
R_SIZE = {"local": 1, "one": 1, "quorum": 2, "all": 3}


# ---------------------------------------------------------------------------
# The checker.  A history is a list of dicts:
#   session, node, kind ('add' | 'inc' | 'get'), type ('set' | 'counter'),
#   key, arg (element str / increment int / None), level, t0, t1,
#   outcome ('ok' | 'timeout' | 'error'), value (frozenset / int / None)
# Operations of one session never overlap (one thread each).
# ---------------------------------------------------------------------------

def _sessions(h):
    by = collections.defaultdict(list)
    for op in h:
        by[op["session"]].append(op)
    for ops in by.values():
        ops.sort(key=lambda o: o["t0"])
    return by


def _ok_read(op):
    return op["kind"] == "get" and op["outcome"] == "ok"


def _ok_write(op):
    return op["kind"] != "get" and op["outcome"] == "ok"


def _fmt(op):
    v = op.get("value")
    if isinstance(v, frozenset):
        v = "{%d elems}" % len(v)
    return ("%s %s %s %s(%s) @%s [%.3f-%.3f] %s %s" % (
        op["session"], op["node"], op["kind"], op["key"], op["arg"],
        op["level"], op["t0"], op["t1"], op["outcome"], v))


def check_read_your_writes(h):
    bad = []
    for s, ops in _sessions(h).items():
        for r in filter(_ok_read, ops):
            mine = [w for w in ops if _ok_write(w) and w["key"] == r["key"]
                    and w["t1"] <= r["t0"]]
            if r["type"] == "set":
                miss = [w["arg"] for w in mine if w["arg"] not in r["value"]]
                if miss:
                    bad.append("read-your-writes: %s misses own %s"
                               % (_fmt(r), miss[:5]))
            else:
                want = sum(w["arg"] for w in mine)
                if r["value"] < want:
                    bad.append("read-your-writes: %s < own acked sum %d"
                               % (_fmt(r), want))
    return bad


def check_monotonic_reads(h):
    bad = []
    for s, ops in _sessions(h).items():
        seen = {}
        for r in filter(_ok_read, ops):
            k = r["key"]
            if k in seen:
                if r["type"] == "set":
                    lost = seen[k][0] - r["value"]
                    if lost:
                        bad.append("monotonic reads: %s lost %s seen by %s"
                                   % (_fmt(r), sorted(lost)[:5],
                                      _fmt(seen[k][1])))
                elif r["value"] < seen[k][0]:
                    bad.append("monotonic reads: %s < %d seen by %s"
                               % (_fmt(r), seen[k][0], _fmt(seen[k][1])))
            if r["type"] == "set":
                seen[k] = (seen.get(k, (frozenset(), r))[0] | r["value"], r)
            else:
                seen[k] = (max(seen.get(k, (0, r))[0], r["value"]), r)
    return bad


def check_monotonic_writes(h):
    """A session's read reflects its writes in session order: if it shows
    the session's j-th write to the key (acknowledged or not), it shows
    every earlier acknowledged one; and it shows every acknowledged write
    made before it (across the session's keys, each read shows its key)."""
    bad = []
    for s, ops in _sessions(h).items():
        for r in filter(_ok_read, ops):
            if r["type"] != "set":
                continue
            writes = [w for w in ops if w["kind"] == "add"
                      and w["key"] == r["key"] and w["t0"] < r["t0"]]
            shown = [i for i, w in enumerate(writes) if w["arg"] in r["value"]]
            last = max(shown) if shown else -1
            for i, w in enumerate(writes):
                if w["outcome"] == "ok" and w["arg"] not in r["value"] and (
                        i < last or w["t1"] <= r["t0"]):
                    bad.append("monotonic writes: %s shows a later write of "
                               "the session but not %s"
                               % (_fmt(r), _fmt(w)))
    return bad


def check_writes_follow_reads(h):
    bad = []
    for s, ops in _sessions(h).items():
        for w in filter(_ok_write, ops):
            before = {}
            for r in ops:
                if _ok_read(r) and r["t1"] <= w["t0"]:
                    k = r["key"]
                    if r["type"] == "set":
                        before[k] = before.get(k, frozenset()) | r["value"]
                    else:
                        before[k] = max(before.get(k, 0), r["value"])
            for r in ops:
                if not _ok_read(r) or r["t0"] < w["t1"] or r["key"] not in before:
                    continue
                b = before[r["key"]]
                if r["type"] == "set" and not b <= r["value"]:
                    bad.append("writes-follow-reads: %s lost %s read before %s"
                               % (_fmt(r), sorted(b - r["value"])[:5], _fmt(w)))
                elif r["type"] == "counter" and r["value"] < b:
                    bad.append("writes-follow-reads: %s < %d read before %s"
                               % (_fmt(r), b, _fmt(w)))
    return bad


def check_no_phantoms(h):
    bad = []
    writes = [w for w in h if w["kind"] != "get"]
    for r in filter(_ok_read, h):
        began = [w for w in writes if w["key"] == r["key"]
                 and w["t0"] <= r["t1"]]
        if r["type"] == "set":
            extra = r["value"] - {w["arg"] for w in began}
            if extra:
                bad.append("phantom: %s has %s nobody had added"
                           % (_fmt(r), sorted(extra)[:5]))
        elif r["value"] > sum(w["arg"] for w in began):
            bad.append("phantom: %s above every increment begun (%d)"
                       % (_fmt(r), sum(w["arg"] for w in began)))
    return bad


def check_quorum_intersection(h, n=3):
    bad = []
    acked = [w for w in h if _ok_write(w)]
    for r in filter(_ok_read, h):
        need = [w for w in acked if w["key"] == r["key"] and
                w["t1"] < r["t0"] and W_SIZE[w["level"]] + R_SIZE[r["level"]] > n
                and W_SIZE[w["level"]] > 0]
        if r["type"] == "set":
            miss = [w for w in need if w["arg"] not in r["value"]]
            if miss:
                bad.append("R+W>N: %s misses %s" % (_fmt(r), _fmt(miss[0])))
        elif r["value"] < sum(w["arg"] for w in need):
            bad.append("R+W>N: %s < %d acknowledged at W"
                       % (_fmt(r), sum(w["arg"] for w in need)))
    return bad


def check_final(h, finals):
    """finals: {node: {key: value}} read after the run on every node."""
    bad = []
    nodes = sorted(finals)
    keys = sorted({k for f in finals.values() for k in f})
    for k in keys:
        vals = {nd: finals[nd].get(k) for nd in nodes}
        if len({repr(sorted(v) if isinstance(v, frozenset) else v)
                for v in vals.values()}) != 1:
            bad.append("not converged: %s: %s" % (k, {
                nd: (len(v) if isinstance(v, frozenset) else v)
                for nd, v in vals.items()}))
        v = vals[nodes[0]]
        ws = [w for w in h if w["kind"] != "get" and w["key"] == k]
        sure = [w for w in ws if w["outcome"] == "ok" and w["level"] != "local"]
        if isinstance(v, frozenset):
            lost = {w["arg"] for w in sure} - v
            extra = v - {w["arg"] for w in ws}
            if lost:
                bad.append("final %s lost %d acknowledged: %s"
                           % (k, len(lost), sorted(lost)[:5]))
            if extra:
                bad.append("final %s has %s nobody added" % (k, sorted(extra)[:5]))
        else:
            lo = sum(w["arg"] for w in sure)
            hi = sum(w["arg"] for w in ws)
            if v is None or not lo <= v <= hi:
                bad.append("final %s = %s outside [%d, %d]" % (k, v, lo, hi))
    return bad


CHECKS = {
    "read-your-writes": check_read_your_writes,
    "monotonic-reads": check_monotonic_reads,
    "monotonic-writes": check_monotonic_writes,
    "writes-follow-reads": check_writes_follow_reads,
    "no-phantoms": check_no_phantoms,
    "quorum-intersection": check_quorum_intersection,
}


# ---------------------------------------------------------------------------
# The checker on hand-made histories
# ---------------------------------------------------------------------------

class H:
    """Builds a history: each op takes the next unit of time."""

    def __init__(self):
        self.ops, self.t = [], 0.0

    def op(self, s, kind, key, arg=None, value=None, outcome="ok",
           level="one", node="n1"):
        typ = "counter" if key.startswith("c") else "set"
        if kind == "get" and typ == "set" and value is not None:
            value = frozenset(value)
        self.ops.append(dict(session=s, node=node, kind=kind, type=typ,
                             key=key, arg=arg, level=level, t0=self.t,
                             t1=self.t + 0.5, outcome=outcome, value=value))
        self.t += 1
        return self


def _valid():
    return (H().op("A", "add", "s0", "a1").op("B", "add", "s0", "b1")
            .op("A", "get", "s0", value={"a1"})
            .op("A", "inc", "c0", 2).op("B", "inc", "c0", 3, outcome="timeout")
            .op("A", "get", "c0", value=2)
            .op("B", "get", "s0", value={"a1", "b1"})
            .op("A", "add", "s1", "a2", level="quorum")
            .op("B", "get", "s1", value={"a2"}, level="quorum")
            .op("A", "get", "s0", value={"a1", "b1"})
            .op("A", "get", "c0", value=5).ops)


def test_checker_accepts_a_valid_history():
    h = _valid()
    for name, f in CHECKS.items():
        assert f(h) == [], name
    final = {"s0": frozenset({"a1", "b1"}), "s1": frozenset({"a2"}), "c0": 5}
    assert check_final(h, {"n1": final, "n2": dict(final)}) == []


def test_checker_read_your_writes():
    h = H().op("A", "add", "s0", "a1", node="n1").op(
        "A", "get", "s0", value=set(), node="n2").ops
    assert check_read_your_writes(h)
    # a timed-out write need not be seen; another session's need not be
    h = (H().op("A", "add", "s0", "a1", outcome="timeout")
         .op("B", "add", "s0", "b1").op("A", "get", "s0", value=set()).ops)
    assert check_read_your_writes(h) == []
    h = H().op("A", "inc", "c0", 4).op("A", "inc", "c0", 1).op(
        "A", "get", "c0", value=4).ops
    assert check_read_your_writes(h)


def test_checker_monotonic_reads():
    h = H().op("A", "get", "s0", value={"x"}).op("A", "get", "s0",
                                                 value=set()).ops
    assert check_monotonic_reads(h)
    h = H().op("A", "get", "c0", value=3).op("A", "get", "c0", value=2).ops
    assert check_monotonic_reads(h)
    # another session may see less
    h = H().op("A", "get", "s0", value={"x"}).op("B", "get", "s0",
                                                 value=set()).ops
    assert check_monotonic_reads(h) == []


def test_checker_monotonic_writes():
    # the later (unacknowledged) write is visible, the earlier acked one
    # is not: only this check sees it (the read began before a1 was acked
    # in this made-up timing, so read-your-writes does not require it)
    h = H().op("A", "add", "s0", "a1").op("A", "add", "s0", "a2",
                                          outcome="timeout").ops
    h[0]["t1"] = 5.0
    h.append(dict(h[1], kind="get", arg=None, t0=2.0, t1=2.5, outcome="ok",
                  value=frozenset({"a2"})))
    assert check_monotonic_writes(h)
    assert check_read_your_writes(h) == []
    h = H().op("A", "add", "s0", "a1").op("A", "add", "s1", "a2").op(
        "A", "get", "s0", value=set()).ops
    assert check_monotonic_writes(h)


def test_checker_writes_follow_reads():
    h = (H().op("A", "get", "s0", value={"b1"}).op("A", "add", "s1", "a1")
         .op("A", "get", "s0", value=set()).ops)
    assert check_writes_follow_reads(h)
    h = (H().op("A", "get", "c0", value=7).op("A", "add", "s1", "a1")
         .op("A", "get", "c0", value=6).ops)
    assert check_writes_follow_reads(h)
    # without a write in between it is monotonic reads' business only
    h = H().op("A", "get", "s0", value={"b1"}).op("A", "get", "s0",
                                                  value=set()).ops
    assert check_writes_follow_reads(h) == []


def test_checker_phantoms():
    h = H().op("A", "get", "s0", value={"ghost"}).ops
    assert check_no_phantoms(h)
    h = H().op("A", "inc", "c0", 2, outcome="error").op(
        "B", "get", "c0", value=3).ops
    assert check_no_phantoms(h)
    # a read concurrent with an add may see it (even if it then fails)
    h = H().op("A", "add", "s0", "x", outcome="timeout").ops
    h.append(dict(h[0], session="B", kind="get", arg=None, t0=-0.1, t1=0.2,
                  outcome="ok", value=frozenset({"x"})))
    assert check_no_phantoms(h) == []


def test_checker_quorum_intersection():
    h = H().op("A", "add", "s0", "a1", level="quorum").op(
        "B", "get", "s0", value=set(), level="quorum", node="n2").ops
    assert check_quorum_intersection(h)
    h = H().op("A", "add", "s0", "a1", level="one").op(
        "B", "get", "s0", value=set(), level="quorum", node="n2").ops
    assert check_quorum_intersection(h) == []
    h = H().op("A", "inc", "c0", 5, level="all").op(
        "B", "get", "c0", value=0, level="one", node="n2").ops
    assert check_quorum_intersection(h)


def test_checker_final():
    h = (H().op("A", "add", "s0", "a1").op("A", "add", "s0", "a2",
                                           level="local")
         .op("A", "inc", "c0", 2).op("A", "inc", "c0", 3, outcome="timeout").ops)
    good = {"s0": frozenset({"a1"}), "c0": 2}
    assert check_final(h, {"n1": good, "n2": good}) == []
    assert check_final(h, {"n1": dict(good, c0=5), "n2": dict(good, c0=5)}) == []
    assert check_final(h, {"n1": good, "n2": dict(good, c0=5)})  # diverged
    lost = {"s0": frozenset({"a2"}), "c0": 2}
    assert check_final(h, {"n1": lost, "n2": lost})
    extra = {"s0": frozenset({"a1", "zz"}), "c0": 2}
    assert check_final(h, {"n1": extra})
    assert check_final(h, {"n1": dict(good, c0=1)})
    assert check_final(h, {"n1": dict(good, c0=6)})


# ---------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------

def _node_binary():
    b = os.environ.get("CRDT_NODE")
    if b:
        return b if os.access(b, os.X_OK) else None
    # <build>/bindings/python/build/lib/crdt/__init__.py
    build = os.path.abspath(os.path.join(os.path.dirname(crdt.__file__),
                                         *[os.pardir] * 5))
    b = os.path.join(build, "tools", "crdt-node")
    return b if os.access(b, os.X_OK) else None


def _free_ports(n, rnd):
    ports = []
    while len(ports) < n:
        p = rnd.randrange(20000, 60000)
        if p in ports:
            continue
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        ports.append(p)
    return ports


class Cluster:
    def __init__(self, binary, tmp, n=3):
        self.bin, self.tmp, self.n = binary, tmp, n
        self.procs = {}
        self.names = ["n%d" % (i + 1) for i in range(n)]
        self.key = tmp / "cluster.key"
        with open(self.key, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            subprocess.run([binary, "keygen"], stdout=f, check=True,
                           timeout=10)
        self.ports = {}

    def sock(self, name):
        return str(self.tmp / ("d-" + name) / "client.sock")

    def args(self, name):
        i = self.names.index(name)
        join = self.names[1] if i == 0 else self.names[0]
        return [self.bin, "--name", name,
                "--listen", "127.0.0.1:%d" % self.ports[name],
                "--data", str(self.tmp / ("d-" + name)),
                "--key-file", str(self.key),
                "--join", "127.0.0.1:%d" % self.ports[join],
                "--round-ms", "50", "--repair-ms", "400",
                "--down-after-ms", "1000", "--log-level", "info"]

    def start(self, name):
        log = open(self.tmp / (name + ".log"), "ab")
        self.procs[name] = subprocess.Popen(
            self.args(name), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=log)
        log.close()

    def kill(self, name):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            p.send_signal(signal.SIGKILL)
        if p:
            p.wait(5)

    def kill_all(self):
        for name in list(self.procs):
            self.kill(name)

    def status(self, name):
        with crdt.Client(self.sock(name), timeout=1.0) as c:
            return c.status()

    def wait_up(self, names, deadline_s=10.0):
        """Until each node answers status and sees every other peer up."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            ok = True
            for name in names:
                p = self.procs.get(name)
                if p is None or p.poll() is not None:
                    return False
                try:
                    if self.status(name).get("peers_up", 0) < self.n - 1:
                        ok = False
                except (crdt.Error, OSError):
                    ok = False
            if ok:
                return True
            time.sleep(0.1)
        return False

    def boot(self, rnd, tries=3):
        for _ in range(tries):
            self.ports = dict(zip(self.names, _free_ports(self.n, rnd)))
            for name in self.names:
                self.start(name)
            if self.wait_up(self.names):
                return True
            self.kill_all()  # a port taken meanwhile, or slow: again
        return False

    def logs(self, lines=30):
        out = []
        for name in self.names:
            p = self.tmp / (name + ".log")
            if p.exists():
                tail = p.read_text(errors="replace").splitlines()[-lines:]
                out.append("--- %s.log (last %d lines)\n%s"
                           % (name, len(tail), "\n".join(tail)))
        return "\n".join(out)


@pytest.fixture
def cluster(tmp_path):
    binary = _node_binary()
    if not binary:
        pytest.skip("no crdt-node binary (set CRDT_NODE, or build "
                    "tools/crdt-node next to this package)")
    c = Cluster(binary, tmp_path)
    try:
        yield c
    finally:
        c.kill_all()


SET_KEYS = ("s0", "s1", "s2")
COUNTER_KEYS = ("c0", "c1")
OP_TIMEOUT = 0.5


def _value(typ, v):
    if typ == "set":
        return frozenset() if v is None else frozenset(
            e.decode() for e in v)
    return 0 if v is None else v.value


def _worker(idx, cluster, rnd, stop, history, lock):
    sid = "S%d" % idx
    sess = crdt.Session()
    clients = {}
    n = 0
    while not stop.is_set():
        node = rnd.choice(cluster.names)
        level = rnd.choice(LEVELS)
        x = rnd.random()
        if x < 0.35:
            kind, key = "add", rnd.choice(SET_KEYS)
            n += 1
            arg = "%s-%d" % (sid, n)
        elif x < 0.55:
            kind, key, arg = "inc", rnd.choice(COUNTER_KEYS), rnd.randint(1, 5)
        else:
            kind, key, arg = "get", rnd.choice(SET_KEYS + COUNTER_KEYS), None
        typ = "set" if key in SET_KEYS else "counter"
        op = dict(session=sid, node=node, kind=kind, type=typ, key=key,
                  arg=arg, level=level, value=None)
        op["t0"] = time.monotonic()
        try:
            c = clients.get(node)
            if c is None:
                c = clients[node] = crdt.Client(cluster.sock(node),
                                                timeout=2.0)
            kw = dict(consistency=level, timeout=OP_TIMEOUT, session=sess)
            if kind == "add":
                c.add(key, arg, **kw)
            elif kind == "inc":
                c.inc(key, by=arg, type="pncounter", **kw)
            else:
                op["value"] = _value(typ, c.get(key, **kw))
            op["outcome"] = "ok"
        except crdt.ConsistencyTimeout as e:
            op["outcome"], op["err"] = "timeout", str(e)
        except (crdt.Error, OSError) as e:
            op["outcome"], op["err"] = "error", "%s: %s" % (
                type(e).__name__, e)
            c = clients.pop(node, None)
            if c is not None:
                c.close()
            time.sleep(0.02)  # a node that is down: do not spin
        op["t1"] = time.monotonic()
        with lock:
            history.append(op)
    for c in clients.values():
        c.close()


def _read_all(cluster):
    out = {}
    for name in cluster.names:
        vals = {}
        with crdt.Client(cluster.sock(name), timeout=2.0) as c:
            for k in SET_KEYS + COUNTER_KEYS:
                vals[k] = _value("set" if k in SET_KEYS else "counter",
                                 c.get(k, consistency="local"))
        out[name] = vals
    return out


def _converged(finals):
    vs = list(finals.values())
    return all(v == vs[0] for v in vs[1:])


def test_cluster_sessions_and_convergence(cluster, capsys):
    K, RUN_S, KILL_AT, RESTART_AT = 6, 8.0, 2.5, 4.5
    rnd = random.Random("%d/cluster" % SEED)
    t_start = time.monotonic()
    assert cluster.boot(random.SystemRandom()), \
        "the cluster did not form\n" + cluster.logs()
    t_formed = time.monotonic()
    victim = rnd.choice(cluster.names)
    history, lock, stop = [], threading.Lock(), threading.Event()
    threads = [threading.Thread(
        target=_worker, args=(i, cluster, random.Random("%d/w%d" % (SEED, i)),
                              stop, history, lock), daemon=True)
        for i in range(K)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    time.sleep(KILL_AT)
    t_kill = time.monotonic()
    cluster.kill(victim)
    time.sleep(RESTART_AT - KILL_AT)
    t_restart = time.monotonic()
    cluster.start(victim)
    time.sleep(max(0.0, RUN_S - (time.monotonic() - t0)))
    stop.set()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    t_run = time.monotonic()
    alive = {n: p.poll() for n, p in cluster.procs.items()}
    assert all(rc is None for rc in alive.values()), \
        "a node exited: %s\n%s" % (alive, cluster.logs())
    cluster.wait_up(cluster.names, 10.0)
    finals, end = None, time.monotonic() + 10.0
    while time.monotonic() < end:
        try:
            finals = _read_all(cluster)
        except (crdt.Error, OSError):
            finals = None
        if finals and _converged(finals):
            break
        time.sleep(0.2)
    t_conv = time.monotonic()

    found = {name: f(history) for name, f in CHECKS.items()}
    found["convergence"] = (check_final(history, finals) if finals
                            else ["no final reads"])
    outcomes = collections.Counter(o["outcome"] for o in history)
    per_level = collections.defaultdict(collections.Counter)
    for o in history:
        per_level[o["level"]][o["outcome"]] += 1
    kinds = collections.Counter((o["kind"], o["outcome"]) for o in history)
    nviol = sum(len(v) for v in found.values())
    lines = [
        "cluster: seed %d (CRDT_SEED=%d reproduces the choices)" % (SEED, SEED),
        "cluster: %d ops by %d sessions in %.1f s; killed %s at +%.1f s, "
        "restarted at +%.1f s" % (len(history), K, t_run - t0, victim,
                                  t_kill - t0, t_restart - t0),
        "cluster: outcomes %s" % dict(outcomes),
        "cluster: per kind %s" % {"%s/%s" % k: v for k, v in
                                  sorted(kinds.items())},
        "cluster: per level %s" % {lv: dict(per_level[lv]) for lv in LEVELS},
        "cluster: formed in %.1f s, converged %.1f s after the run"
        % (t_formed - t_start, t_conv - t_run),
    ]
    if finals:
        f = finals[cluster.names[0]]
        lines.append("cluster: final %s" % {
            k: (len(v) if isinstance(v, frozenset) else v)
            for k, v in sorted(f.items())})
    # what the session checks had to go on
    ryw = sum(1 for ops in _sessions(history).values()
              for i, r in enumerate(ops) if _ok_read(r)
              for w in ops[:i] if _ok_write(w) and w["key"] == r["key"])
    after = [o for o in history if o["node"] == victim and _ok_read(o)
             and o["t0"] > t_restart]
    lines.append("cluster: %d (read, own earlier acked write) pairs; %d OK "
                 "reads on %s after its restart" % (ryw, len(after), victim))
    lines.append("cluster: violations %s (total %d)" % (
        {k: len(v) for k, v in found.items()}, nviol))
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    with open(cluster.tmp / "history.json", "w") as f:
        json.dump(sorted(history, key=lambda o: o["t0"]), f, default=sorted,
                  indent=0)
    if nviol:
        detail = ["history: %s" % (cluster.tmp / "history.json")]
        for name, v in found.items():
            detail += v[:10]
        errs = collections.Counter(o.get("err", "")[:80] for o in history
                                   if o["outcome"] == "error")
        pytest.fail("%d violations:\n%s\nerrors: %s\n%s"
                    % (nviol, "\n".join(detail), dict(errs), cluster.logs()))
