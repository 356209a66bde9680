# SPDX-License-Identifier: MIT
"""Hypothesis property tests of every data type on generated histories:
the join laws (commutative, associative, idempotent), delta == mutation,
canonical encoding round trips.  The seed is printed in the header
(CRDT_SEED reproduces; Hypothesis also prints the failing example)."""
import pytest
from hypothesis import given, strategies as st

import crdt
import _ops

TYPES = sorted(crdt.CLASSES)


def run_history(name, steps):
    """Replays steps on fresh replicas; checks delta == mutation at every
    op; returns the replicas."""
    cls = crdt.CLASSES[name]
    reps = [cls() for _ in range(_ops.REPLICAS)]
    for step in steps:
        if step[0] == "sync":
            reps[step[1]].merge(reps[step[2]])
            continue
        r, op = step
        before = reps[r].copy()
        delta = _ops.apply(reps[r], r, op)
        assert type(delta) is cls
        # delta == mutation: joining the delta into the state before the
        # op gives the state after it ...
        joined = before.copy()
        joined.merge(delta)
        assert joined == reps[r], (op, joined, reps[r])
        # ... and into any other replica, the join with the state after.
        other = reps[(r + 1) % _ops.REPLICAS].copy()
        other.merge(before)
        via_state = other.copy()
        via_state.merge(reps[r])
        other.merge(delta)
        assert other == via_state, (op, other, via_state)
    return reps


def joined(*xs):
    out = xs[0].copy()
    for x in xs[1:]:
        out.merge(x)
    return out


@pytest.mark.parametrize("name", TYPES)
def test_join_laws_deltas_and_codec(name):
    @given(_ops.history(name))
    def prop(steps):
        a, b, c = run_history(name, steps)
        # commutative (same state, same canonical bytes)
        ab, ba = joined(a, b), joined(b, a)
        assert ab == ba and bytes(ab) == bytes(ba)
        # associative
        l, r = joined(joined(a, b), c), joined(a, joined(b, c))
        assert l == r and bytes(l) == bytes(r)
        # idempotent
        assert joined(a, a) == a and joined(ab, a) == ab
        # round trip, by class and through crdt.decode
        for x in (a, b, c, l):
            enc = bytes(x)
            y = type(x).from_bytes(enc)
            assert y == x and bytes(y) == enc
            z = crdt.decode(enc)
            assert type(z) is type(x) and z == x
            # equal states encode identically, different ones differently
            assert (bytes(x) == bytes(a)) == (x == a)
    prop()


@pytest.mark.parametrize("name", TYPES)
def test_decode_never_crashes_on_mutations_of_valid_bytes(name):
    """Bytes derived from a valid encoding by flipping, truncating or
    extending either decode to a state that round-trips or raise
    DecodeError; nothing else."""
    @given(_ops.history(name, 8), st.lists(st.tuples(st.integers(0, 2**16),
                                                       st.integers(0, 255)),
                                             max_size=3),
           st.integers(0, 2**16), st.binary(max_size=3))
    def prop(steps, flips, cut, tail):
        a = run_history(name, steps)[0]
        enc = bytearray(bytes(a))
        for pos, val in flips:
            enc[pos % len(enc)] = val
        data = bytes(enc[:max(0, len(enc) - cut % 4)]) + tail
        try:
            x = crdt.CLASSES[name].from_bytes(data)
        except crdt.DecodeError as e:
            assert 0 <= e.offset <= len(data)
            assert isinstance(e, ValueError) and e.code < 0
        else:
            assert bytes(x) == data  # only canonical encodings decode
    prop()
