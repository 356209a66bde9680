#!/bin/sh
# SPDX-License-Identifier: MIT
# make check: build the crdt Python package against this build tree (the
# fresh libcrdt and libcrdt-gossip, the source tree's headers) into
# bindings/python/build/ of the build directory, then run its pytest suite
# with Debian's /usr/bin/python3.  Nothing is written to the source tree.
#   CRDT_SEED=N reproduces a run; CRDT_HYP_EXAMPLES sets Hypothesis's
#   examples per property; PYTEST_ARGS adds pytest arguments.
# CI's ASan stage runs it with CFLAGS (sanitizers, for the extension),
# CRDT_PY_PRELOAD=libasan.so (preloaded for the test run only, not the
# build), PYTHONMALLOC=malloc and CRDT_PY_ASAN=1.
set -eu
py=/usr/bin/python3
srcdir="${srcdir:-.}"
src="$(cd "$srcdir/bindings/python" && pwd)"
inc="$(cd "$srcdir/include" && pwd)"
top="$(pwd)"
out="$top/bindings/python/build"

if [ ! -x "$py" ] || ! "$py" -c 'import pytest, hypothesis, msgpack, sysconfig, os; os.stat(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null; then
    echo "check.sh: $py lacks pytest, hypothesis, msgpack or Python.h." >&2
    echo "On Debian: apt-get install python3-dev python3-setuptools python3-pytest python3-hypothesis python3-msgpack" >&2
    exit 1
fi
if [ -z "${CRDT_SEED:-}" ]; then
    CRDT_SEED="$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
fi
echo "python: seed $CRDT_SEED (CRDT_SEED=$CRDT_SEED reproduces)"

mkdir -p "$out"
start=$(date +%s)
(cd "$src" && CRDT_WERROR=1 CRDT_INCLUDE_DIRS="$inc" \
    CRDT_LIBRARY_DIRS="$top/lib/.libs" PYTHONDONTWRITEBYTECODE=1 \
    "$py" setup.py -q build --build-base "$out/base" \
    --build-lib "$out/lib" --build-temp "$out/temp") >"$out/setup.log" 2>&1 ||
    { cat "$out/setup.log" >&2; exit 1; }
echo "python: extension built in $(( $(date +%s) - start )) s"

# The crdt CLI for the interop tests.  An uninstalled libtool program is a
# wrapper script that costs ~100 ms a run: resolve it once (as tests/cli.sh
# does) to the real binary and its library path.
cli="${CRDT_CLI:-$top/tools/crdt}"
if [ -f "$cli" ] && head -c 2 "$cli" | grep -q '#!' && [ -x "$top/libtool" ]; then
    resolved="$("$top/libtool" --mode=execute sh -c \
        'printf "%s\n%s\n" "$1" "${LD_LIBRARY_PATH:-}"' _ "$cli")"
    cli="$(printf '%s\n' "$resolved" | sed -n 1p)"
    LD_LIBRARY_PATH="$(printf '%s\n' "$resolved" | sed -n 2p)"
    export LD_LIBRARY_PATH
fi
export CRDT_SEED PYTHONPATH="$out/lib" PYTHONDONTWRITEBYTECODE=1 CRDT_CLI="$cli"
# crdt-node for test_cluster.py (skipped when absent): resolved the same
# way, so a kill -9 of the test's child is the node itself.
node="${CRDT_NODE:-$top/tools/crdt-node}"
if [ -f "$node" ] && head -c 2 "$node" | grep -q '#!' && [ -x "$top/libtool" ]; then
    resolved="$("$top/libtool" --mode=execute sh -c \
        'printf "%s\n%s\n" "$1" "${LD_LIBRARY_PATH:-}"' _ "$node")"
    node="$(printf '%s\n' "$resolved" | sed -n 1p)"
    LD_LIBRARY_PATH="$(printf '%s\n' "$resolved" | sed -n 2p)"
    export LD_LIBRARY_PATH
fi
if [ -x "$node" ]; then
    CRDT_NODE="$node"
    export CRDT_NODE
fi
cd "$out"
if [ -n "${CRDT_PY_PRELOAD:-}" ]; then
    export LD_PRELOAD="$CRDT_PY_PRELOAD"
fi
# shellcheck disable=SC2086
exec "$py" -m pytest -q -p no:cacheprovider --rootdir="$src/tests" \
    -o cache_dir="$out/.cache" ${PYTEST_ARGS:-} "$src/tests"
