# SPDX-License-Identifier: MIT
"""libcrdt for Python: delta-state CRDTs, the gossip engine and its network
simulator.

Every class wraps the C library's own object (crdt._crdt, a CPython
extension); nothing here reimplements a type.  Quick tour::

    import crdt
    a, b = crdt.GCounter(), crdt.GCounter()
    delta = a.inc(crdt.actor("alice"), 5)   # every mutator returns its delta
    b.merge(delta)                          # ship and merge deltas or states
    assert b.value == 5 and bytes(a) == bytes(b)
    assert crdt.decode(bytes(a)) == a       # canonical encodings

See help(crdt.ORMap), help(crdt.Node), help(crdt.Sim), help(crdt.Client)
(a crdt-node's client) and README.md ("Python").
"""
import collections.abc as _abc
import json as _json
import os as _os

from crdt._crdt import (  # noqa: F401
    CRDT, VClock, DotContext, GCounter, PNCounter, LWWRegister, MVRegister,
    GSet, ORSet, EWFlag, DWFlag, ORMap, HLC, Node, Sim, Peer,
    Error, DecodeError, InvalidArgumentError, LimitError, CRDTOverflowError,
    TypeMismatchError, ClockDriftError, BufferTooSmallError,
    RandomSourceError, NotFoundError, BusyError, AuthenticationError,
    TransportError, ScenarioError, ConsistencyTimeout, Client, Session, Watch,
    actor, random_actor, decode, actor_of, strerror,
    LIBRARY_VERSION, FORMAT_VERSION, MAX_DATAGRAM, MIN_DATAGRAM,
)
from crdt._crdt import _run_scenario

__version__ = "0.1.0"

__all__ = [
    "CRDT", "VClock", "DotContext", "GCounter", "PNCounter", "LWWRegister",
    "MVRegister", "GSet", "ORSet", "EWFlag", "DWFlag", "ORMap", "HLC",
    "Node", "Sim", "Peer", "Error", "DecodeError", "InvalidArgumentError",
    "LimitError", "CRDTOverflowError", "TypeMismatchError",
    "ClockDriftError", "BufferTooSmallError", "RandomSourceError",
    "NotFoundError", "BusyError", "AuthenticationError", "TransportError",
    "ScenarioError", "ConsistencyTimeout", "Client", "Session", "Watch",
    "actor", "random_actor",
    "decode", "actor_of", "strerror", "run_scenario", "run_scenario_file",
    "CLASSES", "LIBRARY_VERSION", "FORMAT_VERSION",
]

#: Every data-type class, by the library's type name.
CLASSES = {
    "vclock": VClock, "dotctx": DotContext, "gcounter": GCounter,
    "pncounter": PNCounter, "lww": LWWRegister, "mvreg": MVRegister,
    "gset": GSet, "orset": ORSet, "ewflag": EWFlag, "dwflag": DWFlag,
    "ormap": ORMap,
}

# The read protocols the classes implement (virtual subclasses: no
# behaviour is added).
_abc.Mapping.register(ORMap)
_abc.Mapping.register(Node)
for _c in (GSet, ORSet):
    _abc.Collection.register(_c)
del _c


def run_scenario(text, *, max_ms=3_600_000, dump=False):
    """Run a `crdt sim` scenario (JSON Lines text, str or bytes) on the
    simulator and return its result as a dict: converged, converged_ms,
    rounds, messages, bytes, trace_hash (and nodes with dump=True: each
    node's id, whether it is up, and its values as `crdt value` prints
    them).  crdt.ScenarioError (a ValueError) names the bad line."""
    conv, out = _run_scenario(text, max_ms=max_ms, dump=dump)
    res = _json.loads(out)
    assert res["converged"] == conv
    return res


def run_scenario_file(path, *, max_ms=3_600_000, dump=False):
    """run_scenario on the contents of the file at path."""
    with open(_os.fspath(path), "rb") as f:
        return run_scenario(f.read(), max_ms=max_ms, dump=dump)
