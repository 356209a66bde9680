# SPDX-License-Identifier: MIT
"""crdt.Client against a fake crdt-node written here (a thread, a Unix
socket in a temporary directory, python3-msgpack): the requests the client
sends are checked field by field, and scripted replies (values, errors,
tokens, silence, a closed connection) check what the client makes of
them."""
import os
import socket
import struct
import tempfile
import threading
import time

import msgpack
import pytest

import crdt


class FakeNode:
    """Accepts connections on DIR/client.sock; for each request frame calls
    handler(request dict) -> a reply dict, a list of them, None (no reply)
    or "close" (hang up).  Replies get "v": 1 and the request's id unless
    they set their own.  Every request is kept in .requests."""

    def __init__(self, handler):
        self.dir = tempfile.mkdtemp(prefix="crdt-fake-")
        self.path = os.path.join(self.dir, "client.sock")
        self.handler = handler
        self.requests = []
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(self.path)
        self.lsock.listen(8)
        self.lsock.settimeout(0.2)
        self.stop = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    @staticmethod
    def _read(c, n):
        buf = b""
        while len(buf) < n:
            chunk = c.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def _serve(self, c):
        try:
            while True:
                head = self._read(c, 4)
                if head is None:
                    return
                (n,) = struct.unpack(">I", head)
                body = self._read(c, n)
                if body is None:
                    return
                req = msgpack.unpackb(body, raw=False)
                self.requests.append(req)
                out = self.handler(req)
                if out == "close":
                    c.close()
                    return
                if out is None:
                    continue
                for rep in out if isinstance(out, list) else [out]:
                    if isinstance(rep, bytes):  # a raw body
                        data = rep
                    else:
                        rep = dict(rep)
                        rep.setdefault("v", 1)
                        rep.setdefault("id", req["id"])
                        data = msgpack.packb(rep, use_bin_type=True)
                    c.sendall(struct.pack(">I", len(data)) + data)
        except OSError:
            pass

    def close(self):
        self.stop.set()
        self.lsock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(2)
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.rmdir(self.dir)


@pytest.fixture
def node():
    nodes = []

    def make(handler):
        n = FakeNode(handler)
        nodes.append(n)
        return n
    yield make
    for n in nodes:
        n.close()


def ok(**kw):
    return dict(ok=True, **kw)


def test_writes_send_every_field(node):
    n = node(lambda req: ok(acks=3, type=req.get("type", "")))
    with crdt.Client(n.path) as c:
        assert c.inc("hits") == 3
        assert c.inc(b"hits", by=5, type="pncounter", consistency="quorum",
                     timeout=2.5) == 3
        assert c.dec(bytearray(b"k"), 2) == 3
        assert c.set("reg", "välue") == 3
        assert c.set("reg", b"\x00\xff", type="mvreg", consistency="all") == 3
        assert c.add("cart", "apple") == 3
        assert c.add("tags", b"x", type="gset", consistency="local") == 3
        assert c.remove("cart", "apple") == 3
        assert c.enable("flag") == 3
        assert c.disable("flag", type="dwflag") == 3
    base = {"v": 1, "level": "one", "timeout_ms": 5000}
    want = [
        dict(base, id=1, op="inc", key=b"hits", by=1),
        dict(base, id=2, op="inc", key=b"hits", type="pncounter", by=5,
             level="quorum", timeout_ms=2500),
        dict(base, id=3, op="dec", key=b"k", by=2),
        dict(base, id=4, op="set", key=b"reg", value="välue".encode()),
        dict(base, id=5, op="set", key=b"reg", type="mvreg",
             value=b"\x00\xff", level="all"),
        dict(base, id=6, op="add", key=b"cart", elem=b"apple"),
        dict(base, id=7, op="add", key=b"tags", type="gset", elem=b"x",
             level="local"),
        dict(base, id=8, op="remove", key=b"cart", elem=b"apple"),
        dict(base, id=9, op="enable", key=b"flag"),
        dict(base, id=10, op="disable", key=b"flag", type="dwflag"),
    ]
    assert n.requests == want


def test_get_decodes_the_state(node):
    g = crdt.GCounter()
    g.inc(crdt.actor("a"), 7)
    s = crdt.ORSet()
    s.add(1, b"x")

    def handler(req):
        if req["key"] == b"g":
            return ok(type="gcounter", state=bytes(g), acks=1)
        if req["key"] == b"s":
            return ok(type="orset", state=bytes(s), acks=2)
        return ok()  # absent: no state
    n = node(handler)
    with crdt.Client(n.path) as c:
        v = c.get("g")
        assert isinstance(v, crdt.GCounter) and v == g and v.value == 7
        assert c.get(b"s", consistency="quorum") == s
        assert c.get("missing") is None
    assert n.requests[1] == {"v": 1, "id": 2, "op": "get", "key": b"s",
                             "level": "quorum", "timeout_ms": 5000}


def test_status_is_a_dict(node):
    n = node(lambda req: ok(status='{"node": "a", "peers": [1, 2]}'))
    with crdt.Client(n.path) as c:
        assert c.status() == {"node": "a", "peers": [1, 2]}
    assert n.requests == [{"v": 1, "id": 1, "op": "status", "level": "one",
                           "timeout_ms": 5000}]


def test_session_tokens(node):
    counter = iter(range(100))
    n = node(lambda req: ok(acks=1, token=b"t%d" % next(counter)))
    s = crdt.Session()
    assert s.token is None and "Session(None)" == repr(s)
    with crdt.Client(n.path) as c:
        c.inc("k", session=s)
        assert s.token == b"t0"
        c.get("k", session=s)
        assert s.token == b"t1"
        c.set("r", "v", session=b"raw")  # bytes: sent, not updated
        assert s.token == b"t1"
        c.add("x", "e", session=crdt.Session(b"given"))
    assert "token" not in n.requests[0]
    assert n.requests[1]["token"] == b"t0"
    assert n.requests[2]["token"] == b"raw"
    assert n.requests[3]["token"] == b"given"
    s.token = bytearray(b"ab")
    assert s.token == b"ab"
    s.token = None
    assert s.token is None
    with pytest.raises(TypeError):
        s.token = "text"
    with pytest.raises(TypeError):
        crdt.Session(5)


def test_node_errors_raise_their_classes(node):
    replies = {
        b"nf": dict(ok=False, err=-11, msg="no such key"),
        b"to": dict(ok=False, err=-15, msg="quorum not reached in 5000 ms"),
        b"ty": dict(ok=False, err=-7, msg="key holds an orset"),
        b"xx": dict(ok=False, err=-99),
        b"nm": dict(ok=False, err=-1, msg="node out of memory"),
    }
    n = node(lambda req: replies[req["key"]])
    with crdt.Client(n.path) as c:
        with pytest.raises(crdt.NotFoundError) as e:
            c.get("nf")
        assert e.value.code == -11 and "no such key" in str(e.value)
        with pytest.raises(crdt.ConsistencyTimeout) as e:
            c.inc("to", consistency="quorum")
        assert isinstance(e.value, TimeoutError)
        assert isinstance(e.value, crdt.Error) and e.value.code == -15
        assert "quorum not reached" in str(e.value)
        with pytest.raises(crdt.TypeMismatchError):
            c.inc("ty")
        with pytest.raises(crdt.Error) as e:
            c.inc("xx")
        assert e.value.code == -99
        with pytest.raises(crdt.Error) as e:  # the node's, not ours
            c.inc("nm")
        assert not isinstance(e.value, MemoryError) and e.value.code == -1
        # the connection is still good after error replies
        with pytest.raises(crdt.NotFoundError):
            c.get("nf")


def test_wait_timeout_and_recovery(node):
    def handler(req):
        if req["key"] == b"slow":
            return None  # never answers
        return ok(acks=1)
    n = node(handler)
    with crdt.Client(n.path, timeout=0.2) as c:
        assert c.timeout == pytest.approx(0.2)
        t0 = time.monotonic()
        with pytest.raises(crdt.ConsistencyTimeout):
            c.get("slow")
        assert 0.15 < time.monotonic() - t0 < 3
        # a request with its own longer timeout waits that long plus a
        # second: the next call skips the stale id and works
        assert c.inc("fast", timeout=0.1) == 1
    assert crdt.Client(n.path, timeout=None).timeout is None


def test_late_reply_is_skipped(node):
    def handler(req):
        if req["id"] == 1:
            time.sleep(0.4)
        return ok(acks=req["id"])
    n = node(handler)
    with crdt.Client(n.path, timeout=0.1) as c:
        with pytest.raises(TimeoutError):
            c.inc("a")
        # reply 1 arrives late and is skipped; reply 2 is ours
        assert c.inc("a", timeout=1) == 2


def test_peer_close_and_connect_errors(node, tmp_path):
    n = node(lambda req: "close")
    c = crdt.Client(n.path)
    with pytest.raises(crdt.TransportError) as e:
        c.inc("k")
    assert isinstance(e.value, OSError) and e.value.code == -14
    with pytest.raises(crdt.TransportError):
        c.inc("k")
    c.close()
    c.close()
    assert c.closed
    with pytest.raises(ValueError):
        c.inc("k")
    with pytest.raises(crdt.TransportError) as e:
        crdt.Client(str(tmp_path / "none.sock"))
    assert "No such file" in str(e.value)
    with pytest.raises(crdt.InvalidArgumentError):
        crdt.Client("x" * 200)
    with pytest.raises(ValueError):
        crdt.Client(str(tmp_path / "a\0b"))


def test_bad_arguments(node):
    n = node(lambda req: ok())
    with crdt.Client(n.path) as c:
        with pytest.raises(ValueError):
            c.inc("k", consistency="most")
        with pytest.raises(ValueError):
            c.inc("")
        with pytest.raises(ValueError):
            c.inc("k" * 1025)
        with pytest.raises(TypeError):
            c.inc(5)
        with pytest.raises(TypeError):
            c.set("k", 5)
        with pytest.raises(OverflowError):
            c.inc("k", by=-1)
        with pytest.raises(ValueError):
            c.inc("k", timeout=-1)
        with pytest.raises(ValueError):
            c.inc("k", timeout=3601)
        with pytest.raises(TypeError):
            c.inc("k", session=5)
        assert c.inc("k" * 1024) == 0
        assert isinstance(c.fileno(), int)
        assert n.path in repr(c) or "client.sock" in repr(c)
        assert c.path == n.path
    assert len(n.requests) == 1  # nothing else was sent


def test_liberal_replies(node):
    # integers in wide forms, unknown keys, keys in another order
    body = (b"\x86\xa2ok\xc3\xa4acks\xcf" + (4).to_bytes(8, "big") +
            b"\xa1z\x91\x80\xa1v\xcd\x00\x01\xa2id\xcf" +
            (1).to_bytes(8, "big") + b"\xa5token\xc4\x01T")
    n = node(lambda req: body)
    s = crdt.Session()
    with crdt.Client(n.path) as c:
        assert c.inc("k", session=s) == 4
    assert s.token == b"T"


def test_watch(node):
    g1, g2 = crdt.GCounter(), crdt.GCounter()
    g1.inc(1, 1)
    g2.inc(1, 2)

    def handler(req):
        if req["op"] != "watch":
            return ok()
        return [ok(), ok(type="gcounter", state=bytes(g1), token=b"w1"),
                ok(type="gcounter", state=bytes(g2)), ok(deleted=True),
                dict(ok=False, err=-11, msg="gone")]
    n = node(handler)
    s = crdt.Session(b"s0")
    with crdt.Client(n.path) as c:
        with c.watch("w", session=s) as w:
            assert iter(w) is w
            assert next(w) is None
            assert next(w) == g1 and s.token == b"w1"
            assert next(w) == g2
            assert next(w) is None
            with pytest.raises(crdt.NotFoundError):
                next(w)
        assert list(w) == []  # closed: iteration stops
        assert c.inc("k") == 0  # the client's own connection is free
    assert n.requests[0] == {"v": 1, "id": 1, "op": "watch", "key": b"w",
                             "level": "one", "timeout_ms": 5000,
                             "token": b"s0"}


def test_watch_peer_close(node):
    n = node(lambda req: "close")
    with crdt.Client(n.path) as c:
        w = c.watch("w")
        with pytest.raises(crdt.TransportError):
            next(w)
        w.close()


def test_gil_released_while_waiting(node):
    def handler(req):
        time.sleep(0.5)
        return ok(acks=1)
    n = node(handler)
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1
    with crdt.Client(n.path) as c:
        t = threading.Thread(target=spin)
        t.start()
        time.sleep(0.05)
        before = ticks[0]
        assert c.inc("k") == 1
        during = ticks[0] - before
        stop.set()
        t.join()
    # with the GIL held for 0.5 s the spinner would barely move
    assert during > 10000


def test_one_thread_at_a_time(node):
    gate = threading.Event()

    def handler(req):
        gate.wait(5)
        return ok(acks=1)
    n = node(handler)
    with crdt.Client(n.path) as c:
        res = []
        t = threading.Thread(target=lambda: res.append(c.inc("k")))
        t.start()
        time.sleep(0.1)
        with pytest.raises(RuntimeError):
            c.inc("k")
        with pytest.raises(RuntimeError):
            c.close()
        gate.set()
        t.join()
        assert res == [1]
