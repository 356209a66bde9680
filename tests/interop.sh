#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs tests/test_interop.py (an independent MessagePack implementation,
# Debian's python3-msgpack, against our encodings) with Debian's own
# /usr/bin/python3, not whatever python3 comes first on PATH.  Missing
# modules fail the test: interop is part of the contract.
# CRDT_SEED=N reproduces a run; CRDT_INTEROP_CASES sets states per type.
set -eu
py=/usr/bin/python3
srcdir="${srcdir:-.}"
helper="${CRDT_INTEROP_HELPER:-$(pwd)/tests/interop_helper}"

if [ ! -x "$py" ] || ! "$py" -c 'import msgpack, xxhash, pytest' 2>/dev/null; then
    echo "interop.sh: $py cannot import msgpack, xxhash and pytest." >&2
    echo "On Debian: apt-get install python3-msgpack python3-xxhash python3-pytest" >&2
    exit 1
fi
if [ -z "${CRDT_SEED:-}" ]; then
    CRDT_SEED="$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
fi
echo "interop: seed $CRDT_SEED (CRDT_SEED=$CRDT_SEED reproduces)"
export CRDT_SEED CRDT_INTEROP_HELPER="$helper" PYTHONDONTWRITEBYTECODE=1
exec "$py" -m pytest -q -s -p no:cacheprovider "$srcdir/tests/test_interop.py"
