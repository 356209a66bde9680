#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The C example in README.md's "API tour" compiles warning-free against the
# built library and runs.  Run by make check (srcdir and builddir from the
# environment automake gives tests, or as arguments).
set -euo pipefail
src="${1:-${srcdir:-.}}"
bld="${2:-.}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

awk '/^## API tour/ { tour = 1 }
     tour && /^```c$/ { on = 1; next }
     on && /^```$/ { exit }
     on { print }' "$src/README.md" >"$tmp/tour.c"
test -s "$tmp/tour.c" || { echo "readme.sh: no C block in the API tour" >&2; exit 1; }
${CC:-cc} -std=c11 -Wall -Wextra -Werror -Wno-unused-result \
    -I"$src/include" -o "$tmp/tour" "$tmp/tour.c" \
    "$bld/lib/.libs/libcrdt.a" $(pkg-config --libs libxxhash) \
    $(pkg-config --libs msgpack-c 2>/dev/null || pkg-config --libs msgpack)
"$tmp/tour" >"$tmp/out"
grep -qx concurrent "$tmp/out" || { echo "readme.sh: unexpected output:" >&2; cat "$tmp/out" >&2; exit 1; }
echo "readme: the API tour example compiles and prints what it says"
