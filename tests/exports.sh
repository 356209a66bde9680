#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Each shared library (libcrdt, libcrdt-gossip, libcrdt-node) exports
# exactly the functions declared CRDT_API in its public headers, and no
# object of any has writable data (no global mutable state).
# Usage: exports.sh SRCDIR BUILDDIR
set -euo pipefail
src="$1"
bld="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Checks that library $1 exports exactly the functions declared CRDT_API
# in headers $2..., and that its static archive has no writable data.
check_lib() {
    local lib="$1"
    shift
    local so="$bld/lib/.libs/$lib.so" a="$bld/lib/.libs/$lib.a" w

    # Names declared after CRDT_API: the identifier before the first "(".
    awk '
    /^[ \t]*#/ { next }
    /CRDT_API/ { decl = ""; on = 1 }
    on { decl = decl " " $0
         if (index(decl, "(")) {
             s = substr(decl, 1, index(decl, "(") - 1)
             n = split(s, w, /[^A-Za-z0-9_]+/)
             for (i = n; i > 0; i--) if (w[i] != "") { print w[i]; break }
             on = 0
         } }' "$@" | sort -u >"$tmp/declared"
    nm -D --defined-only "$so" | awk '$2 == "T" { print $3 }' | sort -u \
        >"$tmp/exported"
    if ! diff -u "$tmp/declared" "$tmp/exported"; then
        echo "exports.sh: $lib: exported symbols differ from CRDT_API declarations" >&2
        exit 1
    fi
    echo "exports: $lib: $(wc -l <"$tmp/exported") functions, all declared CRDT_API"

    # No writable data: every object's .data and .bss are empty (read-only
    # tables of pointers live in .data.rel.ro, which RELRO makes
    # read-only).
    if [ -f "$a" ]; then
        w="$(size -A "$a" | awk '/^[^ ]+ +\(ex / { obj = $1 }
            ($1 == ".data" || $1 == ".bss") && $2 > 0 { print obj, $1, $2 }')"
        if [ -n "$w" ]; then
            echo "exports.sh: writable data in $lib.a (object, section, bytes):" >&2
            echo "$w" >&2
            exit 1
        fi
        echo "exports: no writable data (.data/.bss) in any object of $lib.a"
    fi
}

gossip_h="$src/include/crdt/gossip.h $src/include/crdt/sim.h $src/include/crdt/seal.h"
node_h="$src/include/crdt/gossip_uv.h $src/include/crdt/client.h"
types_h=""
for h in "$src"/include/crdt/*.h; do
    case " $gossip_h $node_h " in *" $h "*) ;; *) types_h="$types_h $h" ;; esac
done
# shellcheck disable=SC2086
check_lib libcrdt $types_h
# shellcheck disable=SC2086
check_lib libcrdt-gossip $gossip_h
# shellcheck disable=SC2086
check_lib libcrdt-node $node_h
