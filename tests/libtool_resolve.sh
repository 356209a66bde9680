# SPDX-License-Identifier: MIT
# Sourced by the shell tests that run the programs many times: an
# uninstalled libtool program (tools/crdt, tools/crdt-node) is a wrapper
# script that costs ~100-200 ms a run; resolve_program VAR replaces the
# path in $VAR with the real binary and exports the library path it needs.
resolve_program() {
    local var="$1" bin top out
    bin="${!var}"
    [ -f "$bin" ] && head -c 2 "$bin" | grep -q '#!' || return 0
    top="$(cd "$(dirname "$bin")/.." && pwd)"
    [ -x "$top/libtool" ] || return 0
    out="$("$top/libtool" --mode=execute sh -c \
        'printf "%s\n%s\n" "$1" "${LD_LIBRARY_PATH:-}"' _ "$bin")" || return 0
    printf -v "$var" '%s' "$(printf '%s\n' "$out" | sed -n 1p)"
    LD_LIBRARY_PATH="$(printf '%s\n' "$out" | sed -n 2p)"
    export LD_LIBRARY_PATH
}
