#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of `crdt keygen`: it prints one key line
# (crdt-key v1 <8 hex digits> <64 hex digits>, see <crdt/seal.h>) that
# differs from run to run, writes nothing else, and takes no arguments.
#
#   bash tests/keygen.sh path/to/crdt     (make check passes $CRDT_CLI)
#
# Ends with "keygen: N passed, M failed" and exits non-zero if M > 0.
set -u

crdt="${1:-${CRDT_CLI:-}}"
if [ -z "$crdt" ] || [ ! -x "$crdt" ]; then
    echo "usage: bash tests/keygen.sh path/to/crdt" >&2
    exit 2
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

pass=0
failed=0
check() {
    local name="$1"
    shift
    if "$@"; then
        pass=$((pass + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $name" >&2
    fi
}

line='^crdt-key v1 [0-9a-f]{8} [0-9a-f]{64}$'
"$crdt" keygen >"$tmp/a" 2>"$tmp/err"
check "keygen exits 0" test "$?" -eq 0
check "keygen prints one key line" \
    eval "[ \"\$(wc -l <'$tmp/a')\" -eq 1 ] && grep -Eq '$line' '$tmp/a'"
check "keygen line is 86 bytes" test "$(wc -c <"$tmp/a")" -eq 86
check "keygen writes nothing to stderr" test ! -s "$tmp/err"
check "keygen: the key id is not 0" \
    eval "! grep -q '^crdt-key v1 00000000 ' '$tmp/a'"
"$crdt" keygen >"$tmp/b"
check "two keys differ" eval "! cmp -s '$tmp/a' '$tmp/b'"
check "two key ids differ" \
    test "$(cut -d' ' -f3 "$tmp/a")" != "$(cut -d' ' -f3 "$tmp/b")"
(umask 077 && "$crdt" keygen >"$tmp/c")
check "umask 077 makes a private key file" \
    test "$(stat -c %a "$tmp/c")" = 600
"$crdt" keygen extra >"$tmp/out" 2>"$tmp/err"
check "keygen takes no arguments (exit 2)" test "$?" -eq 2
check "no key printed on a usage error" test ! -s "$tmp/out"
"$crdt" keygen --help >"$tmp/out" 2>&1
check "keygen --help" grep -q '^usage: crdt keygen' "$tmp/out"
"$crdt" --help >"$tmp/out" 2>&1
check "crdt --help lists keygen" grep -q '^  keygen ' "$tmp/out"

echo "keygen: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
