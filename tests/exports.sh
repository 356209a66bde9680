#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The shared library exports exactly the functions declared CRDT_API in the
# public headers, and no object of the library has writable data (no
# global mutable state).  Usage: exports.sh SRCDIR BUILDDIR
set -euo pipefail
src="$1"
bld="$2"
so="$bld/lib/.libs/libcrdt.so"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

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
     } }' "$src"/include/crdt/*.h | sort -u >"$tmp/declared"
nm -D --defined-only "$so" | awk '$2 == "T" { print $3 }' | sort -u >"$tmp/exported"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "exports.sh: exported symbols differ from CRDT_API declarations" >&2
    exit 1
fi
echo "exports: $(wc -l <"$tmp/exported") functions, all declared CRDT_API"

# No writable data: every object's .data and .bss are empty (read-only
# tables of pointers live in .data.rel.ro, which RELRO makes read-only).
a="$bld/lib/.libs/libcrdt.a"
if [ -f "$a" ]; then
    w="$(size -A "$a" | awk '/^[^ ]+ +\(ex / { obj = $1 }
        ($1 == ".data" || $1 == ".bss") && $2 > 0 { print obj, $1, $2 }')"
    if [ -n "$w" ]; then
        echo "exports.sh: writable data in libcrdt.a (object, section, bytes):" >&2
        echo "$w" >&2
        exit 1
    fi
    echo "exports: no writable data (.data/.bss) in any object of libcrdt.a"
fi
