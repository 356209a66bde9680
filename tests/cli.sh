#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of the crdt command-line tool.
#
#   bash tests/cli.sh path/to/crdt     (make check passes $CRDT_CLI)
#
# With CRDT_VALGRIND=1 crdt invocations run under
#   valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all
# and any valgrind error or leak fails the test.  CRDT_VALGRIND_EVERY=N
# (default 1: every run) samples them, deterministically: the runs are
# numbered 1, 2, ... in script order (each run and each README session
# step counts one), and run k goes under valgrind if (k - 1) % N == 0 (runs
# 1, N + 1, 2N + 1, ...) or if it is expected to fail (expect_err: the error
# paths are where leaks hide, so all of them are checked), except the
# ~450 truncated encodings, which take the every-N grid like the passing
# runs (they all fail in the same decoders, which the sanitizer build and
# the fuzzers cover byte by byte).  The other runs are tested as usual,
# without valgrind.  Ends with
# "cli: R crdt runs, V under valgrind (...)" and "cli: N passed, M failed",
# and exits non-zero if M > 0.
set -u

crdt="${1:-${CRDT_CLI:-}}"
if [ -z "$crdt" ] || [ ! -x "$crdt" ]; then
    echo "usage: bash tests/cli.sh path/to/crdt" >&2
    exit 2
fi
crdt="$(cd "$(dirname "$crdt")" && pwd)/$(basename "$crdt")"
readme="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/README.md"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 2

# --- running crdt ----------------------------------------------------------
# An uninstalled libtool program is a wrapper script that finds the
# uninstalled library and execs the real binary under .libs/.  Resolve it
# once (libtool --mode=execute rewrites the path and sets the library path)
# so that each run costs one exec and valgrind sees the real program.
if head -c 2 "$crdt" | grep -q '#!'; then
    lt="$(dirname "$crdt")/../libtool"
    if [ ! -x "$lt" ]; then
        echo "cli.sh: $crdt is a libtool wrapper but $lt is missing" >&2
        exit 2
    fi
    resolved="$("$lt" --mode=execute sh -c \
        'printf "%s\n%s\n" "$1" "${LD_LIBRARY_PATH:-}"' _ "$crdt")" || exit 2
    crdt="$(printf '%s\n' "$resolved" | sed -n 1p)"
    export LD_LIBRARY_PATH="$(printf '%s\n' "$resolved" | sed -n 2p)"
fi

valgrind=()
if [ "${CRDT_VALGRIND:-0}" = 1 ]; then
    valgrind=(valgrind -q --error-exitcode=99 --leak-check=full
        --errors-for-leak-kinds=all)
fi
every="${CRDT_VALGRIND_EVERY:-1}"
case "$every" in
'' | *[!0-9]* | 0)
    echo "cli.sh: CRDT_VALGRIND_EVERY must be a positive integer" >&2
    exit 2
    ;;
esac

pass=0
failed=0
nrun=0
nvg=0       # runs under valgrind
nvg_fail=0  # of which expected to fail and not on the every-N grid
want_fail=0 # set by expect_err around its run
grid_only=0 # 1: expected failures too go under valgrind only on the grid
prefix=()

# next_run: counts a run and sets prefix to the valgrind command if this
# run goes under valgrind (see the header), else to nothing.
next_run() {
    nrun=$((nrun + 1))
    prefix=()
    [ "${#valgrind[@]}" -gt 0 ] || return 0
    if [ $(((nrun - 1) % every)) -eq 0 ]; then
        prefix=("${valgrind[@]}")
    elif [ "$want_fail" = 1 ] && [ "$grid_only" = 0 ]; then
        prefix=("${valgrind[@]}")
        nvg_fail=$((nvg_fail + 1))
    else
        return 0
    fi
    nvg=$((nvg + 1))
}

ok() {
    pass=$((pass + 1))
}

bad() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
    if [ -s err ]; then sed 's/^/  stderr: /' err | head -5 >&2; fi
}

# run [--in FILE] ARGS...: runs crdt with stdin from FILE (default
# /dev/null); stdout goes to ./out, stderr to ./err, the status to $rc.
run() {
    local in=/dev/null
    if [ "${1:-}" = --in ]; then
        in="$2"
        shift 2
    fi
    next_run
    "${prefix[@]}" "$crdt" "$@" <"$in" >out 2>err
    rc=$?
    if [ "$rc" -eq 99 ] && [ "${#prefix[@]}" -gt 0 ]; then
        bad "valgrind reported errors: crdt $*"
        sed 's/^/  /' err >&2
    fi
}

hex() {
    od -An -v -tx1 "$1" | tr -d ' \n'
}

# expect NAME TEXT [--in FILE] ARGS...: exit 0, stdout is TEXT plus a
# newline, stderr empty.
expect() {
    local name="$1" want="$2"
    shift 2
    run "$@"
    printf '%s\n' "$want" >want
    if [ "$rc" -eq 0 ] && cmp -s out want && [ ! -s err ]; then
        ok
    else
        bad "$name: rc=$rc stdout='$(head -c 300 out)' want '$want'"
    fi
}

# expect_raw NAME BYTES [--in FILE] ARGS...: stdout is exactly BYTES.
expect_raw() {
    local name="$1" want="$2"
    shift 2
    run "$@"
    printf '%s' "$want" >want
    if [ "$rc" -eq 0 ] && cmp -s out want && [ ! -s err ]; then
        ok
    else
        bad "$name: rc=$rc stdout='$(head -c 300 out)' want '$want'"
    fi
}

# expect_hex NAME HEX [--in FILE] ARGS...: stdout's bytes are HEX.
expect_hex() {
    local name="$1" want="$2"
    shift 2
    run "$@"
    if [ "$rc" -eq 0 ] && [ "$(hex out)" = "$want" ] && [ ! -s err ]; then
        ok
    else
        bad "$name: rc=$rc stdout=$(hex out) want $want"
    fi
}

# expect_err NAME STATUS REGEX [--in FILE] ARGS...: exit STATUS, nothing on
# stdout, exactly one line on stderr, matching the extended REGEX.
expect_err() {
    local name="$1" want_rc="$2" re="$3"
    shift 3
    want_fail=1
    run "$@"
    want_fail=0
    if [ "$rc" -eq "$want_rc" ] && [ ! -s out ] &&
        [ "$(wc -l <err)" -eq 1 ] && grep -Eq -- "$re" err; then
        ok
    else
        bad "$name: rc=$rc (want $want_rc) stdout=$(head -c 100 out | od -An -c | head -2) stderr='$(cat err)' want /$re/"
    fi
}

# check NAME COMMAND...: the shell command succeeds.
check() {
    local name="$1"
    shift
    if "$@"; then ok; else bad "$name"; fi
}

# save FILE [--in FILE] ARGS...: runs crdt, which must succeed, and keeps
# its stdout in FILE.
save() {
    local dst="$1"
    shift
    run "$@"
    if [ "$rc" -eq 0 ] && [ ! -s err ]; then
        cp out "$dst"
        ok
    else
        bad "save $dst: crdt $*: rc=$rc"
        : >"$dst"
    fi
}

# merge_orders NAME A B C: merging the three files in each of the six
# orders gives identical bytes, and merging the result with itself changes
# nothing.  The result is left in NAME.merged.
merge_orders() {
    local name="$1" first="" order
    shift
    for order in "$1 $2 $3" "$1 $3 $2" "$2 $1 $3" "$2 $3 $1" "$3 $1 $2" "$3 $2 $1"; do
        # shellcheck disable=SC2086
        run merge $order
        if [ "$rc" -ne 0 ] || [ -s err ]; then
            bad "$name merge $order: rc=$rc"
        elif [ -z "$first" ]; then
            first=1
            cp out "$name.merged"
            ok
        else
            check "$name merge $order gives the same bytes" cmp -s out "$name.merged"
        fi
    done
    run merge "$name.merged" "$name.merged"
    check "$name merge is idempotent" cmp -s out "$name.merged"
}

unhex() {
    printf '%s' "$1" | sed 's/../\\x&/g' | xargs -0 printf '%b'
}

# --- top level ---------------------------------------------------------------
run --help
check "--help exits 0 and prints usage" \
    eval '[ "$rc" -eq 0 ] && grep -q "^usage: crdt COMMAND" out && [ ! -s err ]'
run help
check "help prints usage" eval '[ "$rc" -eq 0 ] && grep -q "^usage: crdt" out'
run --version
check "--version" eval '[ "$rc" -eq 0 ] && grep -Eq "^crdt \(libcrdt\) [0-9]+\.[0-9]+\.[0-9]+$" out'
for cmd in new inc dec set add remove enable disable value merge compare inspect; do
    run "$cmd" --help
    check "$cmd --help" eval '[ "$rc" -eq 0 ] && grep -q "^usage: crdt $cmd" out && [ ! -s err ]'
    run help "$cmd"
    check "help $cmd" eval '[ "$rc" -eq 0 ] && grep -q "^usage: crdt $cmd" out'
done
# --help wins over other arguments, but not after "--".
run inc --bogus --help
check "inc --bogus --help" eval '[ "$rc" -eq 0 ] && grep -q "^usage: crdt inc" out'
expect_err "no command" 2 "^crdt: missing command"
expect_err "unknown command" 2 "^crdt: unknown command 'frobnicate'" frobnicate
expect_err "unknown top option" 2 "^crdt: unknown option '--bogus'" --bogus
expect_err "help unknown" 2 "^crdt: help: unknown command 'nope'" help nope
expect_err "unknown type" 2 "^crdt: new: unknown type 'nosuch' \(types: " new nosuch
expect_err "new no type" 2 "^crdt: new: missing argument" new
expect_err "new two types" 2 "^crdt: new: unexpected argument 'vclock'" new vclock vclock
expect_err "unknown option" 2 "^crdt: value: unknown option '--frob'" value --frob
expect_err "option of another command" 2 "^crdt: value: unknown option '--actor'" value --actor 1
expect_err "-o without file" 2 "^crdt: new: -o needs a file name" new vclock -o
expect_err "-o twice" 2 "^crdt: new: output given twice" new vclock -o a -o b
expect_err "merge no files" 2 "^crdt: merge: missing argument" merge
expect_err "compare one file" 2 "^crdt: compare: missing argument" compare x
expect_err "compare three files" 2 "^crdt: compare: unexpected argument 'z'" compare x y z
expect_err "merge stdin twice" 2 "^crdt: merge: stdin \('-'\) given more than once" merge - -
expect_err "compare stdin twice" 2 "^crdt: compare: stdin \('-'\) given more than once" compare - -

# --- actor and number validation ----------------------------------------------
save vc0.bin new vclock
for bad_actor in -1 +1 1x x "" " 1" "1 " 0x10 1e3 18446744073709551616 \
    99999999999999999999 184467440737095516150; do
    expect_err "--actor '$bad_actor'" 2 "^crdt: inc: invalid --actor '.*': expected a decimal integer" \
        inc --actor "$bad_actor" vc0.bin
done
expect_err "--actor= empty" 2 "^crdt: inc: invalid --actor ''" inc --actor= vc0.bin
expect_err "--actor missing value" 2 "^crdt: inc: --actor needs a value" inc --actor
expect_err "no actor" 2 "^crdt: inc: --actor or --actor-name is required" inc vc0.bin
expect_err "actor twice" 2 "^crdt: inc: actor given twice" inc --actor 1 --actor-name a vc0.bin
for bad_by in 0 -1 x 18446744073709551616 ""; do
    expect_err "--by '$bad_by'" 2 "^crdt: inc: invalid --by '.*'" inc --actor 1 --by "$bad_by" vc0.bin
done
expect_hex "--actor max" 93010181cfffffffffffffffff01 \
    inc --actor 18446744073709551615 vc0.bin
expect_hex "--actor=0 (leading zeros ok)" 930101810001 inc --actor=000 vc0.bin
# --actor-name is XXH3-64 of the name's bytes: "bob" -> 1442208253991303397.
run inc --actor-name bob vc0.bin
cp out bob.bin
expect '--actor-name bob' '{"1442208253991303397":1}' value bob.bin
expect '--actor-name=bob' '{"1442208253991303397":1}' --in <(
    "$crdt" inc --actor-name=bob vc0.bin) value -

# --- vclock -----------------------------------------------------------------------
expect_hex "new vclock" 93010180 new vclock
expect "value of new vclock" '{}' value vc0.bin
expect "inspect new vclock" '{"type":"vclock","version":1,"entries":[],"value":{}}' inspect vc0.bin
# The README's example clock {5: 1, 300: 70000}.
save vc1.bin inc --actor 5 vc0.bin
save vcA.bin --in vc1.bin inc --actor 300 --by 70000
expect_hex "vclock encoding" 930101820501cd012cce00011170 merge vcA.bin
expect "vclock value" '{"5":1,"300":70000}' value vcA.bin
expect "vclock value from stdin" '{"5":1,"300":70000}' --in vcA.bin value
expect "vclock value from -" '{"5":1,"300":70000}' --in vcA.bin value -
expect "vclock inspect" \
    '{"type":"vclock","version":1,"entries":[{"actor":5,"counter":1},{"actor":300,"counter":70000}],"value":{"5":1,"300":70000}}' \
    inspect vcA.bin
expect "vclock inc twice" '{"7":2}' --in <("$crdt" inc --actor 7 vc0.bin |
    "$crdt" inc --actor 7) value
expect_err "vclock inc overflow" 1 "^crdt: stdin: inc: counter overflow$" \
    --in <("$crdt" inc --actor 1 --by 18446744073709551615 vc0.bin) inc --actor 1
expect_err "dec on vclock" 1 "^crdt: vcA.bin: dec does not apply to vclock \(only to " dec --actor 1 vcA.bin
expect_err "set on vclock" 1 "^crdt: vcA.bin: set does not apply to vclock \(only to " set --actor 1 x vcA.bin
# compare: all four outcomes.
save vcB.bin inc --actor 9 vcA.bin            # after vcA
save vcC.bin inc --actor 10 vcA.bin           # concurrent with vcB
expect "compare equal" equal compare vcA.bin vcA.bin
expect "compare before" before compare vcA.bin vcB.bin
expect "compare after" after compare vcB.bin vcA.bin
expect "compare concurrent" concurrent compare vcB.bin vcC.bin
expect "compare empty before" before compare vc0.bin vcA.bin
expect "compare stdin" after --in vcB.bin compare - vcA.bin
# merge: every order of three states gives the same bytes.
merge_orders vc vcA.bin vcB.bin vcC.bin
cp vc.merged vcM.bin
expect "vclock merge value" '{"5":1,"9":1,"10":1,"300":70000}' value vcM.bin
run --in vcB.bin merge vcA.bin - vcC.bin
check "vclock merge with stdin" cmp -s out vcM.bin
run merge vcA.bin
check "merge of one file" cmp -s out vcA.bin
expect "merged is after each input" after compare vcM.bin vcC.bin

# --- dotctx ---------------------------------------------------------------------------
expect_hex "new dotctx" 9401028090 new dotctx
save dc0.bin new dotctx
expect "value of new dotctx" '{"vv":{},"cloud":[]}' value dc0.bin
expect "inspect new dotctx" '{"type":"dotctx","version":1,"vv":[],"cloud":[],"value":{"vv":{},"cloud":[]}}' inspect dc0.bin
# dotctx.h's example: vv {5: 3}, cloud {(5, 7), (9, 2)}.
unhex 94010281050392920507920902 >dcA.bin
expect "dotctx value" '{"vv":{"5":3},"cloud":[{"actor":5,"counter":7},{"actor":9,"counter":2}]}' value dcA.bin
expect "dotctx inspect" \
    '{"type":"dotctx","version":1,"vv":[{"actor":5,"counter":3}],"cloud":[{"actor":5,"counter":7},{"actor":9,"counter":2}],"value":{"vv":{"5":3},"cloud":[{"actor":5,"counter":7},{"actor":9,"counter":2}]}}' \
    inspect dcA.bin
# inc records the actor's next events: after the highest dot it has.
save dcB.bin inc --actor 5 --by 3 dc0.bin
expect_hex "dotctx inc --by 3" 94010281050390 merge dcB.bin
save dcC.bin inc --actor 9 dcA.bin
expect "dotctx inc after a gap stays in the cloud" \
    '{"vv":{"5":3},"cloud":[{"actor":5,"counter":7},{"actor":9,"counter":2},{"actor":9,"counter":3}]}' value dcC.bin
save dcD.bin inc --actor 7 dcB.bin
expect_err "dotctx inc --by beyond 2^24" 1 "^crdt: dcB.bin: inc: --by 16777217 is more than dotctx takes at once \(16777216\)$" \
    inc --actor 1 --by 16777217 dcB.bin
expect "dotctx compare equal" equal compare dcA.bin dcA.bin
expect "dotctx compare before" before compare dcB.bin dcA.bin
expect "dotctx compare after" after compare dcC.bin dcA.bin
expect "dotctx compare concurrent" concurrent compare dcD.bin dcA.bin
merge_orders dc dcA.bin dcC.bin dcD.bin
expect "dotctx merge value" '{"vv":{"5":3,"7":1},"cloud":[{"actor":5,"counter":7},{"actor":9,"counter":2},{"actor":9,"counter":3}]}' value dc.merged
# Merging fills the gap 9:1 and compacts: the cloud dots of 9 fold into vv.
save dcE.bin inc --actor 9 dc0.bin
expect "dotctx merge compacts" '{"vv":{"5":3,"9":3},"cloud":[{"actor":5,"counter":7}]}' --in <("$crdt" merge dcC.bin dcE.bin) value
expect_err "dec on dotctx" 1 "^crdt: dcA.bin: dec does not apply to dotctx \(only to pncounter\)$" dec --actor 1 dcA.bin
expect_err "merge dotctx with vclock" 1 "^crdt: vcA.bin: cannot merge vclock into dotctx \(dcA.bin\)$" merge dcA.bin vcA.bin

# --- gcounter -------------------------------------------------------------------------
expect_hex "new gcounter" 93010380 new gcounter
save gc0.bin new gcounter
expect "value of new gcounter" 0 value gc0.bin
expect "inspect new gcounter" '{"type":"gcounter","version":1,"entries":[],"value":0}' inspect gc0.bin
save gcA.bin inc --actor 1 --by 5 gc0.bin
save gcB.bin --in gc0.bin inc --actor 2 --by 7
expect_hex "gcounter encoding" 930103810105 merge gcA.bin
expect "gcounter value" 5 value gcA.bin
# Two actors increment by 5 and 7; their merged value is 12.
expect "gcounter 5 + 7 merged" 12 --in <("$crdt" merge gcA.bin gcB.bin) value
expect "gcounter inspect" '{"type":"gcounter","version":1,"entries":[{"actor":1,"count":5},{"actor":2,"count":7}],"value":12}' \
    --in <("$crdt" merge gcA.bin gcB.bin) inspect
save gcC.bin inc --actor-name carol gcA.bin
save gcD.bin inc --actor 1 gcA.bin
expect "gcounter inc default by 1" 6 value gcD.bin
merge_orders gc gcA.bin gcB.bin gcC.bin
expect "gcounter merged value" 13 value gc.merged
expect "gcounter compare equal" equal compare gcA.bin gcA.bin
expect "gcounter compare before" before compare gcA.bin gcD.bin
expect "gcounter compare after" after compare gc.merged gcB.bin
expect "gcounter compare concurrent" concurrent compare gcD.bin gcC.bin
save gcMax.bin inc --actor 1 --by 18446744073709551615 gc0.bin
expect "gcounter at UINT64_MAX" 18446744073709551615 value gcMax.bin
expect_err "gcounter inc past UINT64_MAX" 1 "^crdt: gcMax.bin: inc: counter overflow$" inc --actor 2 gcMax.bin
expect_err "gcounter merge past UINT64_MAX" 1 "^crdt: gcB.bin: merge: counter overflow$" merge gcMax.bin gcB.bin
expect "gcounter compare past UINT64_MAX is concurrent" concurrent compare gcMax.bin gcB.bin
expect_err "dec on gcounter" 1 "^crdt: gcA.bin: dec does not apply to gcounter \(only to pncounter\)$" dec --actor 1 gcA.bin
expect_err "merge gcounter with vclock" 1 "^crdt: vcA.bin: cannot merge vclock into gcounter \(gcA.bin\)$" merge gcA.bin vcA.bin

# --- pncounter ------------------------------------------------------------------------
expect_hex "new pncounter" 9401048080 new pncounter
save pn0.bin new pncounter
expect "value of new pncounter" 0 value pn0.bin
expect "inspect new pncounter" '{"type":"pncounter","version":1,"p":[],"n":[],"value":0}' inspect pn0.bin
save pnA.bin inc --actor 5 --by 3 pn0.bin
save pnB.bin dec --actor 7 pn0.bin
# pncounter.h's example: P {5: 3}, N {7: 1}.
expect_hex "pncounter encoding" 940104810503810701 merge pnA.bin pnB.bin
expect "pncounter value" 2 --in <("$crdt" merge pnA.bin pnB.bin) value
save pnC.bin dec --actor 5 --by 10 pnA.bin
expect "pncounter negative value" -7 value pnC.bin
expect "pncounter inspect" '{"type":"pncounter","version":1,"p":[{"actor":5,"count":3}],"n":[{"actor":5,"count":10}],"value":-7}' inspect pnC.bin
merge_orders pn pnA.bin pnB.bin pnC.bin
expect "pncounter merged value" -8 value pn.merged
expect "pncounter compare equal" equal compare pnC.bin pnC.bin
expect "pncounter compare before" before compare pnA.bin pnC.bin
expect "pncounter compare after" after compare pn.merged pnB.bin
expect "pncounter compare concurrent" concurrent compare pnB.bin pnC.bin
expect_err "compare gcounter with pncounter" 1 "^crdt: pn0.bin: cannot compare pncounter with gcounter \(gcA.bin\)$" compare gcA.bin pn0.bin
# The value is exact beyond the int64 range.
expect "pncounter value below INT64_MIN" -18446744073709551615 \
    --in <("$crdt" dec --actor 1 --by 18446744073709551615 pn0.bin) value
expect "pncounter value above INT64_MAX" 9223372036854775808 \
    --in <("$crdt" inc --actor 1 --by 9223372036854775808 pn0.bin) value
save pnMax.bin dec --actor 1 --by 18446744073709551615 pn0.bin
expect_err "pncounter dec past UINT64_MAX" 1 "^crdt: stdin: dec: counter overflow$" --in pnMax.bin dec --actor 2
expect "pncounter inc still possible" -18446744073709551614 --in <("$crdt" inc --actor 2 pnMax.bin) value
expect_err "set on pncounter" 1 "^crdt: pnA.bin: set does not apply to pncounter \(only to lww, mvreg\)$" set --actor 1 x pnA.bin

# --- lww ----------------------------------------------------------------------------
expect_hex "new lww" 920105 new lww
save lw0.bin new lww
expect_err "value of empty lww" 1 "^crdt: lw0.bin: lww has no value \(never written\)$" value lw0.bin
expect "inspect empty lww" '{"type":"lww","version":1,"value":null}' inspect lw0.bin
# lww.h's example: timestamp 1, actor 2, value "hi".
expect_hex "lww set --time" 9501050102c4026869 set --actor 2 --time 1 hi lw0.bin
save lw1.bin set --actor 2 --time 1 hi lw0.bin
expect_raw "lww value is raw bytes" "hi" value lw1.bin
expect "lww inspect" '{"type":"lww","version":1,"timestamp":1,"actor":2,"value":{"hex":"6869","text":"hi"}}' inspect lw1.bin
save lw2.bin --in lw1.bin set --actor 1 --time 2 "second write"
expect_raw "later write wins" "second write" value lw2.bin
run set --actor 9 --time 1 older lw2.bin
check "an older write leaves the register as it is" cmp -s out lw2.bin
save lw3.bin set --actor 3 --time 2 third lw2.bin
expect_raw "equal time: larger actor wins" "third" value lw3.bin
save lwE.bin set --actor 1 --time 5 "" lw0.bin
expect_raw "empty value is a value" "" value lwE.bin
expect "inspect empty value" '{"type":"lww","version":1,"timestamp":5,"actor":1,"value":{"hex":"","text":""}}' inspect lwE.bin
expect_raw "value starting with - after --" "-x" --in <("$crdt" set --actor 1 --time 1 -- -x lw0.bin) value
expect_raw "value with a newline" $'two\nlines' --in <("$crdt" set --actor 1 --time 1 $'two\nlines' lw0.bin) value
expect "inspect escapes text" '{"type":"lww","version":1,"timestamp":1,"actor":1,"value":{"hex":"6122625c630901","text":"a\"b\\c\t\u0001"}}' \
    --in <("$crdt" set --actor 1 --time 1 $'a"b\\c\t\x01' lw0.bin) inspect
expect "inspect non-UTF-8 value" '{"type":"lww","version":1,"timestamp":1,"actor":1,"value":{"hex":"ff6869","text":null}}' \
    --in <("$crdt" set --actor 1 --time 1 $'\xffhi' lw0.bin) inspect
expect "inspect UTF-8 value" '{"type":"lww","version":1,"timestamp":1,"actor":1,"value":{"hex":"c3a9e282ac","text":"é€"}}' \
    --in <("$crdt" set --actor 1 --time 1 'é€' lw0.bin) inspect
expect_err "set without VALUE" 2 "^crdt: set: missing argument" set --actor 1
expect_err "set bad --time" 2 "^crdt: set: invalid --time '-5'" set --actor 1 --time -5 x lw0.bin
expect_err "set --time overflow" 2 "^crdt: set: invalid --time '18446744073709551616'" set --actor 1 --time 18446744073709551616 x lw0.bin
expect_err "inc on lww" 1 "^crdt: lw1.bin: inc does not apply to lww \(only to .*vclock" inc --actor 1 lw1.bin
expect_err "set on vclock names lww, mvreg" 1 "^crdt: vcA.bin: set does not apply to vclock \(only to lww, mvreg\)$" set --actor 1 x vcA.bin
# Without --time: a hybrid logical clock on the system clock, which first
# sees the register's timestamp, so the write wins.
now_ms=$(date +%s%3N)
save lwN.bin set --actor-name alice now lw3.bin
ts=$("$crdt" inspect lwN.bin | sed -n 's/.*"timestamp":\([0-9]*\),.*/\1/p')
check "set: HLC timestamp is close to the wall clock" \
    eval '[ -n "$ts" ] && [ $((ts >> 16)) -ge $((now_ms - 600000)) ] && [ $((ts >> 16)) -le $((now_ms + 600000)) ]'
save lwF.bin set --actor 1 --time $(((now_ms + 20000) << 16)) future lw0.bin
save lwG.bin set --actor 1 later lwF.bin
expect_raw "set: new write orders after a timestamp ahead of the clock" later value lwG.bin
expect "set: ... so the new state is after the old one" after compare lwG.bin lwF.bin
"$crdt" set --actor 1 --time $(((now_ms + 3600000) << 16)) far lw0.bin >lwD.bin
expect_err "set: timestamp beyond the HLC drift bound" 1 \
    "^crdt: lwD.bin: set: clock drift beyond bound \(.*give --time\)$" set --actor 1 x lwD.bin
expect_hex "set --time still works past the drift bound" \
    "$(hex <("$crdt" set --actor 1 --time $(((now_ms + 3600000) << 16 | 1)) x lw0.bin))" \
    set --actor 1 --time $(((now_ms + 3600000) << 16 | 1)) x lwD.bin
# compare: a total order (never concurrent).
expect "lww compare before" before compare lw1.bin lw2.bin
expect "lww compare after" after compare lw3.bin lw2.bin
expect "lww compare equal" equal compare lw2.bin lw2.bin
expect "lww compare empty" before compare lw0.bin lw1.bin
# merge: every order of three registers gives the same bytes.
merge_orders lw lw1.bin lw3.bin lwE.bin
expect_raw "lww merge keeps the latest write" "" value lw.merged
expect_err "merge lww with vclock" 1 "^crdt: vcA.bin: cannot merge vclock into lww \(lw1.bin\)$" merge lw1.bin vcA.bin
expect_err "merge vclock with lww" 1 "^crdt: lw2.bin: cannot merge lww into vclock \(vcA.bin\)$" merge vcA.bin lw2.bin lw1.bin
expect_err "compare lww with vclock" 1 "^crdt: vcA.bin: cannot compare vclock with lww \(lw1.bin\)$" compare lw1.bin vcA.bin

# --- hlc (a clock's persisted state: inspect and value only) -----------------------
expect_hex "new hlc" 93010600 new hlc
save hl0.bin new hlc
expect "hlc value of a new clock" 0 value hl0.bin
expect "hlc inspect of a new clock" '{"type":"hlc","version":1,"ms":0,"logical":0,"value":0}' inspect hl0.bin
unhex 930106cf018bcfe568000007 >hl1.bin
expect "hlc value" 111411200000000007 value hl1.bin
expect "hlc inspect" '{"type":"hlc","version":1,"ms":1700000000000,"logical":7,"value":111411200000000007}' inspect hl1.bin
expect_err "merge hlc" 1 "^crdt: hl0.bin: merge does not apply to hlc \(only to " merge hl0.bin hl1.bin
expect_err "compare hlc" 1 "^crdt: hl0.bin: compare does not apply to hlc \(only to " compare hl0.bin hl1.bin
expect_err "inc hlc" 1 "^crdt: hl0.bin: inc does not apply to hlc" inc --actor 1 hl0.bin

# --- gset ----------------------------------------------------------------------
expect_hex "new gset" 93010b90 new gset
save gs0.bin new gset
expect_raw "value of new gset prints nothing" "" value gs0.bin
expect "inspect new gset" '{"type":"gset","version":1,"value":[]}' inspect gs0.bin
# gset.h's example {"b", "a", ""}; a G-set add needs no actor (one is ignored).
save gsA.bin --in <("$crdt" add b gs0.bin | "$crdt" add --actor 7 a) add ""
expect_hex "gset encoding" 93010b93c400c40161c40162 merge gsA.bin
expect_raw "gset value: byte order, one per line" $'\na\nb\n' value gsA.bin
expect "gset inspect" '{"type":"gset","version":1,"value":[{"hex":"","text":""},{"hex":"61","text":"a"},{"hex":"62","text":"b"}]}' inspect gsA.bin
run add a gsA.bin
check "gset add of a member changes nothing" cmp -s out gsA.bin
save gsB.bin add c gs0.bin
save gsC.bin --in <("$crdt" add ab gs0.bin) add -- -d
merge_orders gs gsA.bin gsB.bin gsC.bin
expect_raw "gset merge is the union" $'\n-d\na\nab\nb\nc\n' value gs.merged
expect "gset compare before (subset)" before compare gsA.bin gs.merged
expect "gset compare concurrent" concurrent compare gsA.bin gsB.bin
expect "gset compare equal" equal compare gsB.bin gsB.bin
expect_err "remove on gset" 1 "^crdt: gsA.bin: remove does not apply to gset \(only to orset\)$" remove a gsA.bin
expect_err "add without ELEM" 2 "^crdt: add: missing argument" add

# --- orset ---------------------------------------------------------------------
expect_hex "new orset" 950108809090 new orset
save os0.bin new orset
expect_raw "value of new orset prints nothing" "" value os0.bin
expect_err "merge gset with orset" 1 "^crdt: os0.bin: cannot merge orset into gset \(gsA.bin\)$" merge gsA.bin os0.bin
expect "inspect new orset" '{"type":"orset","version":1,"vv":[],"cloud":[],"elements":[],"value":[]}' inspect os0.bin
# orset.h's example: actor 5 adds "a" then "b".
expect_hex "orset encoding" 950108810502909292c401619192050192c4016291920502 \
    --in <("$crdt" add --actor 5 a os0.bin) add --actor 5 b
expect_err "orset add needs an actor" 2 "^crdt: add: --actor or --actor-name is required for orset \(see 'crdt add --help'\)$" add x os0.bin
# Replica 1 adds x and y; from there replica 1 removes x while replica 2
# concurrently adds x again: add wins, the merge keeps x.
save osA.bin --in <("$crdt" add --actor 1 x os0.bin) add --actor 1 y
save osR.bin remove x osA.bin
expect_raw "orset remove" $'y\n' value osR.bin
save osB.bin add --actor 2 x osA.bin
expect_raw "add wins over a concurrent remove" $'x\ny\n' --in <("$crdt" merge osR.bin osB.bin) value
expect "orset inspect after add-wins merge" \
    '{"type":"orset","version":1,"vv":[{"actor":1,"counter":2},{"actor":2,"counter":1}],"cloud":[],"elements":[{"elem":{"hex":"78","text":"x"},"dots":[{"actor":2,"counter":1}]},{"elem":{"hex":"79","text":"y"},"dots":[{"actor":1,"counter":2}]}],"value":[{"hex":"78","text":"x"},{"hex":"79","text":"y"}]}' \
    --in <("$crdt" merge osR.bin osB.bin) inspect
# A remove wins over the adds it observed ...
expect_raw "remove of an observed add" $'y\n' --in <("$crdt" merge osA.bin osR.bin) value
# ... and removes nothing it has not observed: replica 3 adds w, replica 1
# removes w before seeing that add (a no-op), the merge keeps w.
save osW.bin add --actor 3 w os0.bin
save osAw.bin remove w osA.bin
check "remove of an absent element changes nothing" cmp -s osAw.bin osA.bin
expect_raw "remove of an unobserved add keeps the element" $'w\nx\ny\n' \
    --in <("$crdt" merge osAw.bin osW.bin) value
merge_orders os osR.bin osB.bin osW.bin
expect_raw "orset merged value" $'w\nx\ny\n' value os.merged
expect "orset compare before" before compare osA.bin osR.bin
expect "orset compare after" after compare osR.bin osA.bin
expect "orset compare concurrent" concurrent compare osR.bin osW.bin
# The lattice order, not the contexts': R's remove made no event, and B's
# re-add superseded the dot R removed, so merging R into B leaves B as it is.
expect "orset compare: a remove is below a concurrent re-add" before compare osR.bin osB.bin
expect "orset compare equal" equal compare osA.bin osA.bin
expect_raw "orset value: byte order, elements as they are" $'\na\nab\nb\ntwo\nlines\n' \
    --in <("$crdt" add --actor 1 b os0.bin | "$crdt" add --actor 1 $'two\nlines' |
        "$crdt" add --actor 1 ab | "$crdt" add --actor 1 a | "$crdt" add --actor 1 "") value
expect_err "remove without ELEM" 2 "^crdt: remove: missing argument" remove
expect_err "remove takes no actor" 2 "^crdt: remove: unknown option '--actor'" remove --actor 1 x osA.bin
expect_err "set on orset" 1 "^crdt: osA.bin: set does not apply to orset \(only to lww, mvreg\)$" set --actor 1 x osA.bin
# One dot, two elements: replicas that both add as actor 1 from the same
# state give the dot (1, 3) to different elements.  Each side has seen the
# other's dot and does not hold it under its element, so the merge drops
# it from both (both adds count as removed); the same bytes both ways.
save osP.bin add --actor 1 p osA.bin
save osQ.bin add --actor 1 q osA.bin
save osPQ.bin merge osP.bin osQ.bin
run merge osQ.bin osP.bin
check "orset one dot, two elements: merge A B and merge B A give the same bytes" cmp -s out osPQ.bin
expect_raw "orset one dot, two elements: neither keeps it" $'x\ny\n' value osPQ.bin
# p also added concurrently by actor 2: p keeps that dot, q goes.
save osP2.bin add --actor 2 p osA.bin
merge_orders osx osP.bin osP2.bin osQ.bin
expect_raw "orset one dot, two elements: an element with another dot stays" $'p\nx\ny\n' value osx.merged
expect "orset one dot, two elements: the dot is in no element" \
    '{"type":"orset","version":1,"vv":[{"actor":1,"counter":3},{"actor":2,"counter":1}],"cloud":[],"elements":[{"elem":{"hex":"70","text":"p"},"dots":[{"actor":2,"counter":1}]},{"elem":{"hex":"78","text":"x"},"dots":[{"actor":1,"counter":1}]},{"elem":{"hex":"79","text":"y"},"dots":[{"actor":1,"counter":2}]}],"value":[{"hex":"70","text":"p"},{"hex":"78","text":"x"},{"hex":"79","text":"y"}]}' \
    inspect osx.merged

# --- mvreg ---------------------------------------------------------------------
expect_hex "new mvreg" 950107809090 new mvreg
save mv0.bin new mvreg
expect_raw "value of new mvreg prints nothing" "" value mv0.bin
expect "inspect new mvreg" '{"type":"mvreg","version":1,"vv":[],"cloud":[],"siblings":[],"value":[]}' inspect mv0.bin
# Two replicas write concurrently: both values are kept as siblings
# (mvreg.h's example).
save mv1.bin set --actor 1 a mv0.bin
save mv2.bin set --actor 2 b mv0.bin
expect_hex "mvreg siblings encoding" 95010782010102019092930101c40161930201c40162 merge mv1.bin mv2.bin
save mvS.bin merge mv2.bin mv1.bin
expect_raw "mvreg value prints both siblings" $'a\nb\n' value mvS.bin
expect "mvreg inspect siblings" \
    '{"type":"mvreg","version":1,"vv":[{"actor":1,"counter":1},{"actor":2,"counter":1}],"cloud":[],"siblings":[{"actor":1,"counter":1,"value":{"hex":"61","text":"a"}},{"actor":2,"counter":1,"value":{"hex":"62","text":"b"}}],"value":[{"hex":"61","text":"a"},{"hex":"62","text":"b"}]}' \
    inspect mvS.bin
# A later write resolves them: it supersedes every sibling it has seen.
save mvR.bin set --actor 3 c mvS.bin
expect_raw "mvreg set after merge resolves" $'c\n' value mvR.bin
expect_raw "mvreg resolution survives merging the old siblings" $'c\n' --in <("$crdt" merge mv1.bin mvR.bin mv2.bin) value
expect_raw "mvreg siblings in byte order, not dot order" $'a\nz\n' \
    --in <("$crdt" merge mv1.bin <("$crdt" set --actor 0 z mv0.bin)) value
expect_raw "mvreg equal siblings print twice" $'x\nx\n' \
    --in <("$crdt" merge <("$crdt" set --actor 1 x mv0.bin) <("$crdt" set --actor 2 x mv0.bin)) value
expect_raw "mvreg empty value is a line" $'\n' --in <("$crdt" set --actor 1 "" mv0.bin) value
expect_err "mvreg set --time" 2 "^crdt: set: --time does not apply to mvreg \(its writes supersede what they have seen\) \(see 'crdt set --help'\)$" \
    set --actor 1 --time 5 x mv1.bin
expect_err "mvreg set needs an actor" 2 "^crdt: set: --actor or --actor-name is required" set x mv1.bin
save mv3.bin set --actor 4 d mv1.bin
merge_orders mv mv2.bin mv3.bin mvR.bin
expect_raw "mvreg merged value" $'c\nd\n' value mv.merged
expect "mvreg compare concurrent" concurrent compare mv1.bin mv2.bin
expect "mvreg compare before" before compare mv1.bin mvS.bin
expect "mvreg compare after" after compare mvR.bin mv2.bin
expect "mvreg compare equal" equal compare mvR.bin mvR.bin
expect_err "add on mvreg" 1 "^crdt: mv1.bin: add does not apply to mvreg \(only to gset, orset\)$" add --actor 1 x mv1.bin
# One dot, two values: two replicas write as actor 1 from the same state
# (an actor id reused, e.g. by a replica restarted from a stale copy), so
# both writes get the dot (1, 2).  Merge keeps the value greater in byte
# order, whatever the order of the files: the same bytes both ways.
save mvT.bin set --actor 1 tea mvR.bin
save mvC.bin set --actor 1 coffee mvR.bin
save mvTC.bin merge mvT.bin mvC.bin
run merge mvC.bin mvT.bin
check "mvreg one dot, two values: merge A B and merge B A give the same bytes" cmp -s out mvTC.bin
expect_hex "mvreg one dot, two values: the greater value keeps the dot" \
    950107830102020103019091930102c403746561 merge mvC.bin mvT.bin
save mvK.bin set --actor 1 cocoa mvR.bin
merge_orders mvx mvT.bin mvC.bin mvK.bin
check "mvreg one dot, three values: any order" cmp -s mvx.merged mvTC.bin
expect_raw "mvreg one dot, three values: the greatest" $'tea\n' value mvx.merged

# --- ewflag, dwflag ------------------------------------------------------------
expect_hex "new ewflag" 950109809090 new ewflag
expect_hex "new dwflag" 95010a809090 new dwflag
save ew0.bin new ewflag
save dw0.bin new dwflag
expect "new ewflag is false" false value ew0.bin
expect "new dwflag is true" true value dw0.bin
expect "inspect new ewflag" '{"type":"ewflag","version":1,"vv":[],"cloud":[],"dots":[],"value":false}' inspect ew0.bin
# flag.h's examples: an ewflag enabled by actor 1, then disabled.
expect_hex "ewflag enable" 9501098101019091920101 enable --actor 1 ew0.bin
save ew1.bin enable --actor 1 ew0.bin
expect "ewflag enabled" true value ew1.bin
expect "ewflag inspect" '{"type":"ewflag","version":1,"vv":[{"actor":1,"counter":1}],"cloud":[],"dots":[{"actor":1,"counter":1}],"value":true}' inspect ew1.bin
expect_hex "ewflag disable (no actor)" 9501098101019090 disable ew1.bin
save ewD.bin disable --actor 9 ew1.bin
expect "ewflag disabled" false value ewD.bin
expect_err "ewflag enable needs an actor" 2 "^crdt: enable: --actor or --actor-name is required for ewflag" enable ew0.bin
# Concurrent enable (replica 2) and disable (replica 1): enable wins.
save ewE.bin enable --actor 2 ew1.bin
expect "ewflag: concurrent enable and disable give true" true --in <("$crdt" merge ewD.bin ewE.bin) value
expect "ewflag: a disable wins over the enables it saw" false --in <("$crdt" merge ew1.bin ewD.bin) value
save ew3.bin enable --actor 3 ew0.bin
merge_orders ew ewD.bin ewE.bin ew3.bin
expect "ewflag merged value" true value ew.merged
expect "ewflag compare concurrent" concurrent compare ewD.bin ew3.bin
expect "ewflag compare before" before compare ew1.bin ewD.bin
# The disable-wins dual.
save dw1.bin disable --actor 1 dw0.bin
expect "dwflag disabled" false value dw1.bin
expect "dwflag inspect" '{"type":"dwflag","version":1,"vv":[{"actor":1,"counter":1}],"cloud":[],"dots":[{"actor":1,"counter":1}],"value":false}' inspect dw1.bin
expect_err "dwflag disable needs an actor" 2 "^crdt: disable: --actor or --actor-name is required for dwflag" disable dw0.bin
save dwE.bin enable dw1.bin
expect "dwflag enabled (no actor)" true value dwE.bin
save dwD.bin disable --actor 2 dw1.bin
expect "dwflag: concurrent enable and disable give false" false --in <("$crdt" merge dwE.bin dwD.bin) value
expect "dwflag: an enable wins over the disables it saw" true --in <("$crdt" merge dw1.bin dwE.bin) value
save dw3.bin disable --actor 3 dw0.bin
merge_orders dw dwE.bin dwD.bin dw3.bin
expect "dwflag merged value" false value dw.merged
expect "dwflag compare after" after compare dwE.bin dw1.bin
expect_err "merge ewflag with dwflag" 1 "^crdt: dw0.bin: cannot merge dwflag into ewflag \(ew0.bin\)$" merge ew0.bin dw0.bin
expect_err "enable on orset" 1 "^crdt: osA.bin: enable does not apply to orset \(only to ewflag, dwflag\)$" enable --actor 1 osA.bin
expect_err "disable on gset" 1 "^crdt: gsA.bin: disable does not apply to gset \(only to ewflag, dwflag\)$" disable gsA.bin

# --- ormap (states built with crdt map update, map remove) ----------------------
expect_hex "new ormap" 95010c809090 new ormap
save map0.bin new ormap
expect "value of new ormap" '[]' value map0.bin
expect "inspect new ormap" '{"type":"ormap","version":1,"vv":[],"cloud":[],"entries":[],"value":[]}' inspect map0.bin
# The updates the map tests make, each by its actor A (1..9) to a key of
# its own type: a gcounter A adds A to; a nested map holding an mvreg
# "reg" A writes "vA" into; an ewflag A enables; an orset A adds "tA" to;
# an lww A writes "w" into at time A.
# map_up FILE A KEY KIND IN: the map IN after A's update of KEY with the
# KIND of update (count, nested, on, tags, ff: the keys they go to in
# mapA.bin below), saved in FILE.
map_up() {
    local dst="$1" a="$2" key="$3" kind="$4" in="$5"
    case "$kind" in
    count) save "$dst" map update --actor "$a" --by "$a" "$key" gcounter inc "$in" ;;
    nested) save "$dst" map update --actor "$a" "$key" ormap update reg mvreg set "v$a" "$in" ;;
    on) save "$dst" map update --actor "$a" "$key" ewflag enable "$in" ;;
    tags) save "$dst" map update --actor "$a" "$key" orset add "t$a" "$in" ;;
    ff) save "$dst" map update --actor "$a" --time "$a" "$key" lww set w "$in" ;;
    esac
}
# mapA.bin: A's updates of "count", "nested", "on", "tags", of "gone" (a
# gcounter), then "gone" removed, then h'ff' (a key that is not UTF-8).
for a in 1 2 3; do
    map_up map$a.bin $a count count map0.bin
    for k in nested on tags; do
        map_up map$a.bin $a $k $k map$a.bin
    done
    map_up map$a.bin $a gone count map$a.bin
    save map$a.bin map remove gone map$a.bin
    map_up map$a.bin $a $'\xff' ff map$a.bin
done
# Keys in byte order, each with its type and dots; "gone" was removed
# and left nothing but its dot (1,9) in the context.  One causal
# context: actor 1's mvreg write in "nested" drew (1,2), then "reg"
# got (1,3) and "nested" (1,4); the ewflag's enable (1,5), "on" (1,6);
# the orset's add (1,7), "tags" (1,8); the plain values (gcounter,
# lww) drew none.  A causal value's own context is exactly its dots.
expect "ormap inspect" \
    '{"type":"ormap","version":1,"vv":[{"actor":1,"counter":10}],"cloud":[],"entries":[{"key":{"hex":"636f756e74","text":"count"},"type":"gcounter","dots":[{"actor":1,"counter":1}]},{"key":{"hex":"6e6573746564","text":"nested"},"type":"ormap","dots":[{"actor":1,"counter":4}]},{"key":{"hex":"6f6e","text":"on"},"type":"ewflag","dots":[{"actor":1,"counter":6}]},{"key":{"hex":"74616773","text":"tags"},"type":"orset","dots":[{"actor":1,"counter":8}]},{"key":{"hex":"ff","text":null},"type":"lww","dots":[{"actor":1,"counter":10}]}],"value":[{"key":{"hex":"636f756e74","text":"count"},"value":{"type":"gcounter","version":1,"entries":[{"actor":1,"count":1}],"value":1}},{"key":{"hex":"6e6573746564","text":"nested"},"value":{"type":"ormap","version":1,"vv":[],"cloud":[{"actor":1,"counter":2},{"actor":1,"counter":3}],"entries":[{"key":{"hex":"726567","text":"reg"},"type":"mvreg","dots":[{"actor":1,"counter":3}]}],"value":[{"key":{"hex":"726567","text":"reg"},"value":{"type":"mvreg","version":1,"vv":[],"cloud":[{"actor":1,"counter":2}],"siblings":[{"actor":1,"counter":2,"value":{"hex":"7631","text":"v1"}}],"value":[{"hex":"7631","text":"v1"}]}}]}},{"key":{"hex":"6f6e","text":"on"},"value":{"type":"ewflag","version":1,"vv":[],"cloud":[{"actor":1,"counter":5}],"dots":[{"actor":1,"counter":5}],"value":true}},{"key":{"hex":"74616773","text":"tags"},"value":{"type":"orset","version":1,"vv":[],"cloud":[{"actor":1,"counter":7}],"elements":[{"elem":{"hex":"7431","text":"t1"},"dots":[{"actor":1,"counter":7}]}],"value":[{"hex":"7431","text":"t1"}]}},{"key":{"hex":"ff","text":null},"value":{"type":"lww","version":1,"timestamp":1,"actor":1,"value":{"hex":"77","text":"w"}}}]}' \
    inspect map1.bin
merge_orders map map1.bin map2.bin map3.bin
# Counts add up (one slot per actor), concurrent writes become
# siblings, the LWW's latest write wins, the removed key stays removed.
expect "ormap merged value" \
    '[{"key":{"hex":"636f756e74","text":"count"},"value":{"type":"gcounter","version":1,"entries":[{"actor":1,"count":1},{"actor":2,"count":2},{"actor":3,"count":3}],"value":6}},{"key":{"hex":"6e6573746564","text":"nested"},"value":{"type":"ormap","version":1,"vv":[],"cloud":[{"actor":1,"counter":2},{"actor":1,"counter":3},{"actor":2,"counter":2},{"actor":2,"counter":3},{"actor":3,"counter":2},{"actor":3,"counter":3}],"entries":[{"key":{"hex":"726567","text":"reg"},"type":"mvreg","dots":[{"actor":1,"counter":3},{"actor":2,"counter":3},{"actor":3,"counter":3}]}],"value":[{"key":{"hex":"726567","text":"reg"},"value":{"type":"mvreg","version":1,"vv":[],"cloud":[{"actor":1,"counter":2},{"actor":2,"counter":2},{"actor":3,"counter":2}],"siblings":[{"actor":1,"counter":2,"value":{"hex":"7631","text":"v1"}},{"actor":2,"counter":2,"value":{"hex":"7632","text":"v2"}},{"actor":3,"counter":2,"value":{"hex":"7633","text":"v3"}}],"value":[{"hex":"7631","text":"v1"},{"hex":"7632","text":"v2"},{"hex":"7633","text":"v3"}]}}]}},{"key":{"hex":"6f6e","text":"on"},"value":{"type":"ewflag","version":1,"vv":[],"cloud":[{"actor":1,"counter":5},{"actor":2,"counter":5},{"actor":3,"counter":5}],"dots":[{"actor":1,"counter":5},{"actor":2,"counter":5},{"actor":3,"counter":5}],"value":true}},{"key":{"hex":"74616773","text":"tags"},"value":{"type":"orset","version":1,"vv":[],"cloud":[{"actor":1,"counter":7},{"actor":2,"counter":7},{"actor":3,"counter":7}],"elements":[{"elem":{"hex":"7431","text":"t1"},"dots":[{"actor":1,"counter":7}]},{"elem":{"hex":"7432","text":"t2"},"dots":[{"actor":2,"counter":7}]},{"elem":{"hex":"7433","text":"t3"},"dots":[{"actor":3,"counter":7}]}],"value":[{"hex":"7431","text":"t1"},{"hex":"7432","text":"t2"},{"hex":"7433","text":"t3"}]}},{"key":{"hex":"ff","text":null},"value":{"type":"lww","version":1,"timestamp":3,"actor":3,"value":{"hex":"77","text":"w"}}}]' \
    value map.merged
expect "ormap compare before" before compare map1.bin map.merged
expect "ormap compare concurrent" concurrent compare map1.bin map2.bin
# Every key removed: the context alone.
cp map1.bin all.bin
for k in count nested on tags $'\xff'; do
    save all.bin map remove "$k" all.bin
done
check "ormap with every key removed is its context" \
    eval '[ "$(hex all.bin)" = 95010c81010a9090 ]'
# Add wins with what the update brought, and a remove resets: actor 1
# added t1 to "tags"; one replica removes "tags", another concurrently
# adds t2 (dot (2,1), key dot (2,2)).  The merge keeps t2 alone.
map_up t0.bin 1 tags tags map0.bin
save tR.bin map remove tags t0.bin
map_up tU.bin 2 tags tags t0.bin
check "ormap remove leaves the context" \
    eval '[ "$(hex tR.bin)" = 95010c8101029090 ]'
expect_hex "ormap add wins over a remove with what it added (orset)" \
    95010c8201020202909194c40474616773089192020291950108810201909192c402743291920201 \
    merge tR.bin tU.bin
expect "ormap concurrent add and remove: value" \
    '[{"key":{"hex":"74616773","text":"tags"},"value":{"type":"orset","version":1,"vv":[{"actor":2,"counter":1}],"cloud":[],"elements":[{"elem":{"hex":"7432","text":"t2"},"dots":[{"actor":2,"counter":1}]}],"value":[{"hex":"7432","text":"t2"}]}}]' \
    --in <("$crdt" merge tU.bin tR.bin) value
# A plain value keeps one slot per actor: actors 1 and 2 added 1 and 2
# to "count" (slots (1,1) and (2,1)).  A remove concurrent with actor
# 3's update leaves actor 3's slot alone (3); concurrent with actor
# 1's, actor 1's slot, which holds all its updates to the key (2).
map_up c0.bin 1 count count map0.bin
map_up c1.bin 2 count count c0.bin
check "ormap plain value: a slot per actor" \
    eval '[ "$(hex c1.bin)" = 95010c8201010201909194c405636f756e74039292010192020192930103810101930103810202 ]'
save cR.bin map remove count c1.bin
check "ormap plain value removed" \
    eval '[ "$(hex cR.bin)" = 95010c82010102019090 ]'
map_up cU3.bin 3 count count c1.bin
map_up cU1.bin 1 count count c1.bin
expect_hex "ormap remove and a new actor's update: its slot" \
    95010c83010102010301909194c405636f756e74039192030191930103810303 \
    merge cR.bin cU3.bin
expect_hex "ormap remove and an old actor's update: its whole slot" \
    95010c8201020201909194c405636f756e74039192010291930103810102 \
    merge cU1.bin cR.bin
# Re-added after the remove: from empty (1, not 2), or with another
# type; while the key exists, another type is an error.
map_up cA.bin 1 count count cR.bin
check "ormap re-added key starts from empty" \
    eval '[ "$(hex cA.bin)" = 95010c8201020201909194c405636f756e74039192010291930103810101 ]'
map_up cT.bin 1 count tags cR.bin
check "ormap re-added key with another type" \
    eval '[ "$(hex cT.bin)" = 95010c8201030201909194c405636f756e7408919201039195010880919201029192c402743191920102 ]'
expect_err "ormap update with another type fails while the key exists" 1 \
    "^crdt: c1.bin: map update: 'count': unknown or unexpected type \(the key holds a value of type gcounter\)$" \
    map update --actor 1 count orset add t1 c1.bin
# A key created with two types concurrently (a misuse) keeps an entry
# per type and shows the larger tag (orset, 8, over gcounter, 3); an
# update with the hidden type fails; a remove removes both.
map_up k1.bin 1 k count map0.bin
map_up k2.bin 2 k tags map0.bin
save k12.bin merge k1.bin k2.bin
expect "ormap key of two types" \
    '{"type":"ormap","version":1,"vv":[{"actor":1,"counter":1},{"actor":2,"counter":2}],"cloud":[],"entries":[{"key":{"hex":"6b","text":"k"},"type":"gcounter","dots":[{"actor":1,"counter":1}]},{"key":{"hex":"6b","text":"k"},"type":"orset","dots":[{"actor":2,"counter":2}]}],"value":[{"key":{"hex":"6b","text":"k"},"value":{"type":"orset","version":1,"vv":[{"actor":2,"counter":1}],"cloud":[],"elements":[{"elem":{"hex":"7432","text":"t2"},"dots":[{"actor":2,"counter":1}]}],"value":[{"hex":"7432","text":"t2"}]}}]}' \
    inspect k12.bin
expect_err "ormap update with a key's shadowed type fails" 1 \
    "^crdt: k12.bin: map update: 'k': unknown or unexpected type \(the key holds a value of type orset\)$" \
    map update --actor 1 k gcounter inc k12.bin
save k12R.bin map remove k k12.bin
check "ormap remove of a key of two types removes both" \
    eval '[ "$(hex k12R.bin)" = 95010c82010102029090 ]'
deep=()
for ((i = 0; i < 15; i++)); do deep+=(k ormap update); done
save deep16.bin map update --actor 1 "${deep[@]}" k gcounter inc map0.bin
run value deep16.bin
check "ormap nested 16 deep prints every level" \
    eval '[ "$rc" -eq 0 ] && [ "$(grep -o "\"type\":\"ormap\",\"version\"" out | wc -l)" -eq 15 ] && grep -q "\"type\":\"gcounter\",\"version\":1,\"entries\":\[{\"actor\":1,\"count\":1}\],\"value\":1}}\]}}\]" out'
expect_err "add on ormap" 1 "^crdt: map1.bin: add does not apply to ormap \(only to gset, orset\)$" add x map1.bin
expect_err "merge ormap with orset" 1 "^crdt: osA.bin: cannot merge orset into ormap \(map1.bin\)$" merge map1.bin osA.bin

# --- map update, map remove --------------------------------------------------
run map --help
check "map --help" eval '[ "$rc" -eq 0 ] && grep -q "^usage: crdt map SUBCOMMAND" out && grep -q "^  update --actor N KEY TYPE OP" out && grep -q "^  remove KEY \[FILE\]" out && [ ! -s err ]'
run help map
check "help map" eval '[ "$rc" -eq 0 ] && grep -q "^usage: crdt map SUBCOMMAND" out'
for sub in update remove; do
    run map "$sub" --help
    check "map $sub --help" eval '[ "$rc" -eq 0 ] && grep -q "^usage: crdt map $sub" out && grep -q "^applies to: ormap$" out && [ ! -s err ]'
    run help map "$sub"
    check "help map $sub" eval '[ "$rc" -eq 0 ] && grep -q "^usage: crdt map $sub" out'
done
run map update --bogus --help
check "map update --bogus --help" eval '[ "$rc" -eq 0 ] && grep -q "^usage: crdt map update" out'
run --help
check "--help lists the map commands" eval 'grep -q "^  map update --actor N KEY TYPE OP \[ARG\] \[FILE\]  update a key of an OR-map$" out && grep -q "^  map remove KEY \[FILE\]  *remove a key from an OR-map$" out'
expect_err "map without subcommand" 2 "^crdt: map: missing subcommand \(see 'crdt map --help'\)$" map
expect_err "map unknown subcommand" 2 "^crdt: map: unknown subcommand 'frob'" map frob
expect_err "map unknown option" 2 "^crdt: map: unknown option '--frob'" map --frob
expect_err "help map unknown subcommand" 2 "^crdt: help: unexpected argument 'frob'" help map frob

save mu0.bin new ormap
# mapv VALUE: the value of a map whose one key "k" holds VALUE.
mapv() {
    printf '[{"key":{"hex":"6b","text":"k"},"value":%s}]' "$1"
}
# Every operation on every type that takes it, inside a map: the value is
# as the top-level command leaves a state of the type.  Plain values keep
# a slot per actor (gcounter, pncounter), causal values draw their dots
# from the map's context (orset, mvreg, flags).
save mg1.bin map update --actor 1 k gcounter inc mu0.bin
expect "map gcounter inc" "$(mapv '{"type":"gcounter","version":1,"entries":[{"actor":1,"count":1}],"value":1}')" value mg1.bin
save mg2.bin map update --actor 2 --by 5 k gcounter inc mg1.bin
expect "map gcounter inc --by, another actor" "$(mapv '{"type":"gcounter","version":1,"entries":[{"actor":1,"count":1},{"actor":2,"count":5}],"value":6}')" value mg2.bin
save mp1.bin map update --actor 1 --by 3 k pncounter inc mu0.bin
save mp2.bin map update --actor 2 --by 10 k pncounter dec mp1.bin
expect "map pncounter inc, dec" "$(mapv '{"type":"pncounter","version":1,"p":[{"actor":1,"count":3}],"n":[{"actor":2,"count":10}],"value":-7}')" value mp2.bin
save mv1.bin map update --actor 1 --by 3 k vclock inc mu0.bin
save mv2.bin map update --actor 1 k vclock inc mv1.bin
expect "map vclock inc" "$(mapv '{"type":"vclock","version":1,"entries":[{"actor":1,"counter":4}],"value":{"1":4}}')" value mv2.bin
save md1.bin map update --actor 5 --by 2 k dotctx inc mu0.bin
expect "map dotctx inc" "$(mapv '{"type":"dotctx","version":1,"vv":[{"actor":5,"counter":2}],"cloud":[],"value":{"vv":{"5":2},"cloud":[]}}')" value md1.bin
save ml1.bin map update --actor 1 --time 5 k lww set hi mu0.bin
expect "map lww set --time" "$(mapv '{"type":"lww","version":1,"timestamp":5,"actor":1,"value":{"hex":"6869","text":"hi"}}')" value ml1.bin
save ml2.bin map update --actor 2 --time 4 k lww set older ml1.bin
expect "map lww: an older write loses" "$(mapv '{"type":"lww","version":1,"timestamp":5,"actor":1,"value":{"hex":"6869","text":"hi"}}')" value ml2.bin
save ml3.bin map update --actor 2 k lww set now ml1.bin
check "map lww set without --time: a later write from the clock" \
    eval '"$crdt" value ml3.bin | grep -q "\"actor\":2,\"value\":{\"hex\":\"6e6f77\",\"text\":\"now\"}}}\]$"'
save mm1.bin map update --actor 1 k mvreg set a mu0.bin
expect "map mvreg set" "$(mapv '{"type":"mvreg","version":1,"vv":[{"actor":1,"counter":1}],"cloud":[],"siblings":[{"actor":1,"counter":1,"value":{"hex":"61","text":"a"}}],"value":[{"hex":"61","text":"a"}]}')" value mm1.bin
save mm2.bin map update --actor 2 k mvreg set b mm1.bin
expect "map mvreg set supersedes" "$(mapv '{"type":"mvreg","version":1,"vv":[{"actor":2,"counter":1}],"cloud":[],"siblings":[{"actor":2,"counter":1,"value":{"hex":"62","text":"b"}}],"value":[{"hex":"62","text":"b"}]}')" value mm2.bin
save mm3.bin map update --actor 3 k mvreg set c mm1.bin
save mm23.bin merge mm2.bin mm3.bin
expect "map mvreg concurrent sets merge to siblings" "$(mapv '{"type":"mvreg","version":1,"vv":[{"actor":2,"counter":1},{"actor":3,"counter":1}],"cloud":[],"siblings":[{"actor":2,"counter":1,"value":{"hex":"62","text":"b"}},{"actor":3,"counter":1,"value":{"hex":"63","text":"c"}}],"value":[{"hex":"62","text":"b"},{"hex":"63","text":"c"}]}')" \
    value mm23.bin
save ms1.bin map update --actor 1 k gset add y mu0.bin
save ms2.bin map update --actor 7 k gset add x ms1.bin
expect "map gset add" "$(mapv '{"type":"gset","version":1,"value":[{"hex":"78","text":"x"},{"hex":"79","text":"y"}]}')" value ms2.bin
save mo1.bin map update --actor 1 k orset add x mu0.bin
save mo2.bin map update --actor 1 k orset add y mo1.bin
save mo3.bin map update --actor 1 k orset remove x mo2.bin
expect "map orset add, remove" "$(mapv '{"type":"orset","version":1,"vv":[],"cloud":[{"actor":1,"counter":3}],"elements":[{"elem":{"hex":"79","text":"y"},"dots":[{"actor":1,"counter":3}]}],"value":[{"hex":"79","text":"y"}]}')" value mo3.bin
save me1.bin map update --actor 1 k ewflag enable mu0.bin
expect "map ewflag enable" "$(mapv '{"type":"ewflag","version":1,"vv":[{"actor":1,"counter":1}],"cloud":[],"dots":[{"actor":1,"counter":1}],"value":true}')" value me1.bin
save me2.bin map update --actor 1 k ewflag disable me1.bin
expect "map ewflag disable" "$(mapv '{"type":"ewflag","version":1,"vv":[],"cloud":[],"dots":[],"value":false}')" value me2.bin
save mw1.bin map update --actor 1 k dwflag disable mu0.bin
expect "map dwflag disable" "$(mapv '{"type":"dwflag","version":1,"vv":[{"actor":1,"counter":1}],"cloud":[],"dots":[{"actor":1,"counter":1}],"value":false}')" value mw1.bin
save mw2.bin map update --actor 2 k dwflag enable mw1.bin
expect "map dwflag enable" "$(mapv '{"type":"dwflag","version":1,"vv":[],"cloud":[],"dots":[],"value":true}')" value mw2.bin
expect "map update: the map after it" after compare mg2.bin mg1.bin
expect "map update from stdin" "$(mapv '{"type":"gcounter","version":1,"entries":[{"actor":1,"count":2}],"value":2}')" \
    --in <("$crdt" map update --actor 1 k gcounter inc mg1.bin) value
run --in mg1.bin map update --actor 1 k gcounter inc -
check "map update from -" eval '[ "$rc" -eq 0 ] && "$crdt" value out | grep -q "\"count\":2}\],\"value\":2}}\]$"'
expect "map update --actor-name" "$(mapv '{"type":"gcounter","version":1,"entries":[{"actor":1442208253991303397,"count":1}],"value":1}')" \
    --in <("$crdt" map update --actor-name bob k gcounter inc mu0.bin) value
# Keys are bytes: not UTF-8, empty, or starting with '-' (after '--').
save mk1.bin map update --actor 1 -- $'\xff' gset add -x mu0.bin
expect "map non-UTF-8 key, ELEM after --" '[{"key":{"hex":"ff","text":null},"value":{"type":"gset","version":1,"value":[{"hex":"2d78","text":"-x"}]}}]' value mk1.bin
save mk2.bin map update --actor 1 "" gcounter inc mu0.bin
expect "map empty key" '[{"key":{"hex":"","text":""},"value":{"type":"gcounter","version":1,"entries":[{"actor":1,"count":1}],"value":1}}]' value mk2.bin
save mk3.bin map update --actor 1 -- -k gcounter inc mk2.bin
save mk4.bin map remove -- -k mk3.bin
expect_err "map remove of a key starting with - before --" 2 "^crdt: map remove: unknown option '-k'" map remove -k mk3.bin
expect "map remove of a key after --" '[{"key":{"hex":"","text":""},"value":{"type":"gcounter","version":1,"entries":[{"actor":1,"count":1}],"value":1}}]' value mk4.bin

# Nested maps: a path of `ormap update` steps, or `ormap remove KEY`.
save mn1.bin map update --actor 1 outer ormap update inner gcounter inc mu0.bin
save mn2.bin map update --actor 1 outer ormap update other ormap update deep orset add z mn1.bin
expect "map nested update" '[{"key":{"hex":"6f75746572","text":"outer"},"value":{"type":"ormap","version":1,"vv":[{"actor":1,"counter":1}],"cloud":[{"actor":1,"counter":3},{"actor":1,"counter":4},{"actor":1,"counter":5}],"entries":[{"key":{"hex":"696e6e6572","text":"inner"},"type":"gcounter","dots":[{"actor":1,"counter":1}]},{"key":{"hex":"6f74686572","text":"other"},"type":"ormap","dots":[{"actor":1,"counter":5}]}],"value":[{"key":{"hex":"696e6e6572","text":"inner"},"value":{"type":"gcounter","version":1,"entries":[{"actor":1,"count":1}],"value":1}},{"key":{"hex":"6f74686572","text":"other"},"value":{"type":"ormap","version":1,"vv":[],"cloud":[{"actor":1,"counter":3},{"actor":1,"counter":4}],"entries":[{"key":{"hex":"64656570","text":"deep"},"type":"orset","dots":[{"actor":1,"counter":4}]}],"value":[{"key":{"hex":"64656570","text":"deep"},"value":{"type":"orset","version":1,"vv":[],"cloud":[{"actor":1,"counter":3}],"elements":[{"elem":{"hex":"7a","text":"z"},"dots":[{"actor":1,"counter":3}]}],"value":[{"hex":"7a","text":"z"}]}}]}}]}}]' \
    value mn2.bin
save mn3.bin map update --actor 1 outer ormap remove other mn2.bin
expect "map nested remove" '[{"key":{"hex":"6f75746572","text":"outer"},"value":{"type":"ormap","version":1,"vv":[{"actor":1,"counter":1}],"cloud":[],"entries":[{"key":{"hex":"696e6e6572","text":"inner"},"type":"gcounter","dots":[{"actor":1,"counter":1}]}],"value":[{"key":{"hex":"696e6e6572","text":"inner"},"value":{"type":"gcounter","version":1,"entries":[{"actor":1,"count":1}],"value":1}}]}}]' \
    value mn3.bin
check "map nested remove gives the outer key a new dot" \
    eval '"$crdt" inspect mn3.bin | grep -q "\"type\":\"ormap\",\"dots\":\[{\"actor\":1,\"counter\":7}\]"'
# deep16.bin (above) has 15 maps under the one read: 16 levels, the most
# a map holds.
expect_err "map update 17 levels deep" 1 "^crdt: mu0.bin: map update: ('k': ){15}'k': input exceeds a decode limit \(maps nest at most 16 levels deep\)$" \
    map update --actor 1 "${deep[@]}" k ormap update k gcounter inc mu0.bin

# map remove: observed remove; an absent key changes nothing; a key
# updated again starts from empty.
save mr1.bin map remove k mg2.bin
expect "map remove" '[]' value mr1.bin
check "map remove leaves the context" eval '[ "$(hex mr1.bin)" = 95010c82010102019090 ]'
run map remove nokey mg2.bin
check "map remove of an absent key changes nothing" eval '[ "$rc" -eq 0 ] && cmp -s out mg2.bin'
expect "map key updated after a remove starts from empty" "$(mapv '{"type":"gcounter","version":1,"entries":[{"actor":1,"count":1}],"value":1}')" \
    --in <("$crdt" map update --actor 1 k gcounter inc mr1.bin) value
expect "map key updated after a remove with another type" "$(mapv '{"type":"gset","version":1,"value":[{"hex":"61","text":"a"}]}')" \
    --in <("$crdt" map update --actor 1 k gset add a mr1.bin) value
# A remove concurrent with an update (two files merged): add wins with
# what the update brought.  Actor 1 built "outer" {inner: 1, other: 1};
# one replica removes "outer", another adds 2 to "inner": the merge has
# "outer" {inner: 2}, actor 2's slot alone, in any order.
save mc0.bin map update --actor 1 outer ormap update other gcounter inc mn1.bin
save mcR.bin map remove outer mc0.bin
save mcU.bin map update --actor 2 --by 2 outer ormap update inner gcounter inc mc0.bin
save mcW.bin map update --actor 3 k orset add w mu0.bin
merge_orders mc mcR.bin mcU.bin mcW.bin
save mcRU.bin merge mcR.bin mcU.bin
expect "map remove concurrent with an update: add wins" \
    '[{"key":{"hex":"6f75746572","text":"outer"},"value":{"type":"ormap","version":1,"vv":[{"actor":2,"counter":1}],"cloud":[],"entries":[{"key":{"hex":"696e6e6572","text":"inner"},"type":"gcounter","dots":[{"actor":2,"counter":1}]}],"value":[{"key":{"hex":"696e6e6572","text":"inner"},"value":{"type":"gcounter","version":1,"entries":[{"actor":2,"count":2}],"value":2}}]}}]' \
    value mcRU.bin
expect "map remove concurrent with an update: compare" concurrent compare mcR.bin mcU.bin
expect "map remove is below the merge" before compare mcR.bin mcRU.bin
# Errors of the operation or the map: exit 1, one line.
expect_err "map key with another type" 1 "^crdt: mg1.bin: map update: 'k': unknown or unexpected type \(the key holds a value of type gcounter\)$" \
    map update --actor 1 k orset add x mg1.bin
expect_err "map nested key with another type" 1 "^crdt: mn1.bin: map update: 'outer': 'inner': unknown or unexpected type \(the key holds a value of type gcounter\)$" \
    map update --actor 1 outer ormap update inner ormap update x gcounter inc mn1.bin
expect_err "map key with another type than a nested map" 1 "^crdt: mn1.bin: map update: 'outer': unknown or unexpected type \(the key holds a value of type ormap\)$" \
    map update --actor 1 outer gcounter inc mn1.bin
save mbig.bin map update --actor 1 --by 18446744073709551615 k gcounter inc mu0.bin
expect_err "map gcounter overflow" 1 "^crdt: mbig.bin: map update: 'k': inc: counter overflow$" \
    map update --actor 1 k gcounter inc mbig.bin
expect_err "map dotctx inc beyond 2^24" 1 "^crdt: mu0.bin: map update: 'k': inc: --by 16777217 is more than dotctx takes at once \(16777216\)$" \
    map update --actor 1 --by 16777217 k dotctx inc mu0.bin
save mlD.bin map update --actor 1 --time $(((now_ms + 3600000) << 16)) k lww set far mu0.bin
expect_err "map lww set beyond the drift bound" 1 "^crdt: mlD.bin: map update: 'k': set: clock drift beyond bound \(.*give --time\)$" \
    map update --actor 1 k lww set x mlD.bin
expect_err "map update of a gcounter" 1 "^crdt: gc0.bin: map update does not apply to gcounter \(only to ormap\)$" \
    map update --actor 1 k gcounter inc gc0.bin
expect_err "map remove of a gcounter" 1 "^crdt: gc0.bin: map remove does not apply to gcounter \(only to ormap\)$" \
    map remove k gc0.bin
: >mempty.bin
expect_err "map update of a bad encoding" 1 "^crdt: mempty.bin: malformed encoding at byte 0 \(empty input\)$" \
    map update --actor 1 k gcounter inc mempty.bin
# Usage errors: exit 2, before the map is read.
mu_usage() { # NAME REGEX ARGS...
    local name="$1" re="$2"
    shift 2
    expect_err "map update: $name" 2 "^crdt: map update: $re \(see 'crdt map update --help'\)$" map update "$@"
}
mu_usage "no actor" "--actor or --actor-name is required" k gcounter inc mu0.bin
mu_usage "no KEY" "missing KEY" --actor 1
mu_usage "no TYPE" "missing TYPE" --actor 1 k
mu_usage "no OP" "missing OP" --actor 1 k gcounter
mu_usage "no VALUE" "missing VALUE" --actor 1 k lww set
mu_usage "no ELEM" "missing ELEM" --actor 1 k orset remove
mu_usage "no nested KEY" "missing KEY" --actor 1 k ormap update
mu_usage "no KEY to remove" "missing KEY" --actor 1 k ormap remove
mu_usage "unknown type" "'nosuch' is not a type a map holds \(types: vclock, dotctx, gcounter, pncounter, lww, gset, orset, mvreg, ewflag, dwflag, ormap\)" \
    --actor 1 k nosuch inc mu0.bin
mu_usage "hlc" "'hlc' is not a type a map holds \(types: .*\)" --actor 1 k hlc inc mu0.bin
mu_usage "dec on gcounter" "'dec' is not an operation on gcounter \(operations: inc\)" --actor 1 k gcounter dec mu0.bin
mu_usage "update on orset" "'update' is not an operation on orset \(operations: add, remove\)" --actor 1 k orset update x gcounter inc
mu_usage "inc on ormap" "'inc' is not an operation on ormap \(operations: update, remove\)" --actor 1 k ormap inc mu0.bin
mu_usage "unknown OP" "'frob' is not an operation on ewflag \(operations: enable, disable\)" --actor 1 k ewflag frob
mu_usage "--by for set" "--by does not apply to set" --actor 1 --by 2 k lww set x mu0.bin
mu_usage "--by for a nested remove" "--by does not apply to remove" --actor 1 --by 2 k ormap remove x mu0.bin
mu_usage "--time for inc" "--time does not apply to inc" --actor 1 --time 2 k gcounter inc mu0.bin
mu_usage "--time for mvreg" "--time does not apply to mvreg \(its writes supersede what they have seen\)" --actor 1 --time 2 k mvreg set x mu0.bin
mu_usage "two files" "unexpected argument 'mu0.bin'" --actor 1 k gcounter inc mu0.bin mu0.bin
mu_usage "bad --by" "invalid --by '0'.*" --actor 1 --by 0 k gcounter inc mu0.bin
mu_usage "-o twice" "output given twice" --actor 1 -o a -o b k gcounter inc mu0.bin
expect_err "map remove: no KEY" 2 "^crdt: map remove: missing argument \(see 'crdt map remove --help'\)$" map remove
expect_err "map remove: two files" 2 "^crdt: map remove: unexpected argument 'mu0.bin'" map remove k mu0.bin mu0.bin
expect_err "map remove: takes no actor" 2 "^crdt: map remove: unknown option '--actor'" map remove --actor 1 k mu0.bin

# -o, in place too.
cp mu0.bin mio.bin
run map update --actor 1 -o mio.bin k gcounter inc mio.bin
check "map update -o in place" eval '[ "$rc" -eq 0 ] && [ ! -s out ] && [ ! -s err ] && cmp -s mio.bin mg1.bin'
run map update --actor 2 --by 5 k gcounter inc --output=mio.bin mio.bin
check "map update --output= in place" eval '[ "$rc" -eq 0 ] && [ ! -s out ] && cmp -s mio.bin mg2.bin'
run map remove -o mio.bin k mio.bin
check "map remove -o in place" eval '[ "$rc" -eq 0 ] && [ ! -s out ] && cmp -s mio.bin mr1.bin'
cp mg1.bin mio.bin
expect_err "map update -o: target untouched on error" 1 "^crdt: mio.bin: map update: 'k': " map update --actor 1 -o mio.bin k orset add x mio.bin
check "map update -o: target kept" cmp -s mio.bin mg1.bin
check "map update -o: no temporary files left" eval '! ls | grep -q "\.tmp-"'

# --- -o -----------------------------------------------------------------------
run new vclock -o o1.bin
check "-o writes nothing to stdout" eval '[ "$rc" -eq 0 ] && [ ! -s out ] && [ ! -s err ]'
check "-o file content" eval '[ "$(hex o1.bin)" = 93010180 ]'
run inc --actor 5 --output=o1.bin o1.bin
check "-o over the input file" eval '[ "$rc" -eq 0 ] && [ "$(hex o1.bin)" = 930101810501 ]'
run merge vcA.bin vcB.bin --output o2.bin
check "--output FILE" cmp -s o2.bin <("$crdt" merge vcA.bin vcB.bin)
run value -o o3.txt vcA.bin
check "value -o" eval '[ "$(cat o3.txt)" = "{\"5\":1,\"300\":70000}" ]'
: >empty.bin
cp vcA.bin keep.bin
expect_err "-o untouched on bad input" 1 "^crdt: empty.bin: " value -o keep.bin empty.bin
check "-o target kept" cmp -s keep.bin vcA.bin
check "no temporary files left" eval '! ls | grep -q "\.tmp-"'
expect_err "-o into missing directory" 1 "^crdt: nodir/x.bin: No such file or directory" new vclock -o nodir/x.bin
umask 022
run new vclock -o perm.bin
check "-o file mode follows umask" eval '[ "$(stat -c %a perm.bin)" = 644 ]'

# --- bad input ------------------------------------------------------------------
expect_err "empty file" 1 "^crdt: empty.bin: malformed encoding at byte 0 \(empty input\)$" value empty.bin
expect_err "empty stdin" 1 "^crdt: stdin: malformed encoding at byte 0 \(empty input\)$" inspect
expect_err "missing file" 1 "^crdt: nonexistent.bin: No such file or directory$" value nonexistent.bin
expect_err "directory" 1 "^crdt: \.: Is a directory$" value .
# Every proper prefix of a valid encoding is rejected, with an offset.
grid_only=1
for f in vcM.bin dc.merged gc.merged pn.merged lw2.bin hl1.bin gs.merged \
    os.merged mv.merged ew.merged dw.merged map.merged; do
    [ -s "$f" ] || continue
    len=$(wc -c <"$f")
    for ((i = 1; i < len; i++)); do
        head -c "$i" "$f" >trunc.bin
        expect_err "$f truncated to $i bytes" 1 "^crdt: trunc.bin: malformed encoding at byte [0-9]+" value trunc.bin
    done
done
grid_only=0
# Hand-made bad encodings: the error and the offset of the offending byte.
bad_enc() { # NAME HEX REGEX
    unhex "$2" >bad.bin
    expect_err "$1" 1 "^crdt: bad.bin: $3$" inspect bad.bin
}
bad_enc "trailing byte" 930101810501c0 "malformed encoding at byte 6"
bad_enc "unsorted actors" 9301018209010501 "malformed encoding at byte 6"
bad_enc "duplicate actor" 9301018205010501 "malformed encoding at byte 6"
bad_enc "zero counter" 930101810500 "malformed encoding at byte 5"
bad_enc "non-shortest integer" 93010181cc0501 "malformed encoding at byte 4"
bad_enc "wrong version" 93020180 "unsupported format version at byte 1"
bad_enc "unknown tag" 93016380 "unknown type tag 99 at byte 2"
bad_enc "envelope too short" 9101 "malformed encoding at byte 0"
bad_enc "not an array" c1 "malformed encoding at byte 0"
bad_enc "missing body" 920101 "malformed encoding at byte 0"
bad_enc "map count beyond input" 930101820501 "malformed encoding at byte 3"
bad_enc "input ends in an integer" 93010181cd01 "malformed encoding at byte 6 \(input ends early\)"
bad_enc "lww value as str" 9501050102a26869 "malformed encoding at byte 5"
bad_enc "lww with 4 fields" 94010501 "malformed encoding at byte 0"
bad_enc "lww non-shortest bin" 9501050102c5000268 "malformed encoding at byte 5"
bad_enc "lww trailing byte" 9501050102c402686969 "malformed encoding at byte 9"
bad_enc "hlc nil" 930106c0 "malformed encoding at byte 3"
bad_enc "ormap with an hlc value (not replicated)" 95010c810101909194c4016806919201019193010600 "unknown or unexpected type at byte 12"
bad_enc "dotctx cloud dot covered by vv" 94010281050391920503 "malformed encoding at byte 9"
bad_enc "dotctx cloud dot extending vv" 94010281050391920504 "malformed encoding at byte 9"
bad_enc "dotctx unsorted cloud" 94010281050392920902920507 "malformed encoding at byte 10"
bad_enc "dotctx duplicate cloud dot" 94010281050392920507920507 "malformed encoding at byte 10"
bad_enc "dotctx without cloud" 93010280 "malformed encoding at byte 0"
bad_enc "gcounter counts past UINT64_MAX" 9301038201cfffffffffffffffff0201 "counter overflow at byte 15"
bad_enc "pncounter without N" 93010480 "malformed encoding at byte 0"
bad_enc "pncounter zero count" 940104810100 "malformed encoding at byte 5"
bad_enc "gset unsorted" 93010b92c40162c40161 "malformed encoding at byte 7"
bad_enc "orset dot outside the context" 95010880909192c4016191920501 "malformed encoding at byte 11"
bad_enc "mvreg value as str" 950107810101909193010101a161 "malformed encoding at byte 11"
bad_enc "ewflag dot outside the context" 950109809091920101 "malformed encoding at byte 6"
bad_enc "ormap value malformed" 95010c810101909194c4016b04919201019193010481 "malformed encoding at byte 21"
bad_enc "ormap entry without a tag" 95010c810101909193c4016191920101930103810102 "malformed encoding at byte 8"
# A plain entry: as many values (14) as dots (none here).
bad_enc "ormap plain entry without dots" 95010c810101909194c40161039091930103810102 "malformed encoding at byte 14"
bad_enc "ormap plain entry, two values for one dot" 95010c810101909194c40161039192010192930103810102930103810102 "malformed encoding at byte 17"
bad_enc "ormap causal value's context beyond its dots" 95010c810103909194c401610991920103919501098101029091920102 "malformed encoding at byte 18"
# A dot in two places: the entry where it appears the second time.
bad_enc "ormap dot under the key and in its value" 95010c810101909194c401610991920101919501098101019091920101 "malformed encoding at byte 8"
# A map nested one level deeper than the decoders' limit (16): deep16
# (key dots (1,1) innermost to (1,16) outermost) under key "k", dot (1,17).
# The bounded walk that delimits the outer value stops inside the 17th map
# (at byte 288), at the header of its gcounter's body.
{ unhex 95010c810111909194c4016b0c9192011191; cat deep16.bin; } >deep17.bin
expect_err "ormap nested 17 deep" 1 "^crdt: deep17.bin: input exceeds a decode limit at byte 309$" value deep17.bin
# Random bytes (deterministic: bash's RANDOM with a fixed seed).
RANDOM=4242
for ((k = 0; k < 72; k++)); do
    n=$((RANDOM % 64 + 1))
    s=""
    for ((j = 0; j < n; j++)); do
        printf -v b '%02x' $((RANDOM % 256))
        s="$s$b"
    done
    # Half the cases start with a plausible envelope so the body is tested.
    # Tags 1..12 in turn, each with its envelope's array length.
    if ((k % 2)); then
        tag=$(((k / 2) % 12 + 1))
        case $tag in 1 | 3 | 6 | 11) arr=93 ;; 2 | 4) arr=94 ;; *) arr=95 ;; esac
        printf -v s '%s01%02x%s' "$arr" "$tag" "$s"
    fi
    unhex "$s" >rand.bin
    expect_err "random input $k" 1 "^crdt: rand.bin: .* at byte [0-9]+|^crdt: rand.bin: type .* is not supported" value rand.bin
done
# Oversized input: more than 64 MiB.
head -c $((64 * 1024 * 1024 + 1)) /dev/zero >big.bin
expect_err "input over 64 MiB" 1 "^crdt: big.bin: input larger than 64 MiB$" value big.bin
truncate -s $((64 * 1024 * 1024)) big.bin
expect_err "input of exactly 64 MiB is decoded" 1 "^crdt: big.bin: malformed encoding at byte 0$" value big.bin
rm -f big.bin

# --- the README's wire-format examples ----------------------------------------
# Every hex example in README.md's "Wire format" section (each `xx xx ...`
# in backticks: the examples table and the field-by-field text) decodes,
# and re-encodes to the same bytes (the encodings are canonical).
if [ -f "$readme" ]; then
    awk '/^## Wire format/ { s = 1; next }
         s && /^## / { exit }
         s' "$readme" |
        grep -o '`[0-9a-f][0-9a-f]\( [0-9a-f][0-9a-f]\)\{1,\}`' |
        tr -d '` ' >wire_hex.txt
    nhex=0
    while IFS= read -r h; do
        nhex=$((nhex + 1))
        unhex "$h" >wire.bin
        run inspect wire.bin
        if [ "$rc" -ne 0 ] || [ -s err ]; then
            bad "README wire example $h: inspect rc=$rc"
            continue
        fi
        if grep -q '^{"type":"hlc"' out; then # merge does not take clocks
            ok
            continue
        fi
        run merge wire.bin
        if [ "$rc" -eq 0 ] && [ "$(hex out)" = "$h" ] && [ ! -s err ]; then
            ok
        else
            bad "README wire example $h: re-encodes as $(hex out) (rc=$rc)"
        fi
    done <wire_hex.txt
    check "README wire examples found" [ "$nhex" -ge 10 ]
fi

# --- the README's session ---------------------------------------------------------
# Runs every "$ command" of the console block in README.md's section on the
# tool and compares stdout and stderr with the lines that follow it.
crdt() {
    "${prefix[@]}" "$crdt" "$@"
}
session_step() {
    local got
    # A step whose output shows an error message is expected to fail.
    case "$2" in "crdt: "* | *$'\n'"crdt: "*) want_fail=1 ;; esac
    next_run
    want_fail=0
    got="$(eval "$1" 2>&1; echo x)"
    got="${got%x}"
    if [ "$got" = "$2" ]; then
        ok
    else
        bad "README session: \$ $1"
        printf '  got:  %s\n  want: %s\n' "$got" "$2" >&2
    fi
    return 0
}
if [ -f "$readme" ]; then
    awk '/^## The crdt command-line tool/ { s = 1 }
         s && /^```console/ { c = 1; next }
         c && /^```/ { exit }
         c' "$readme" >session.txt
    mkdir session
    steps=0
    cmd=""
    want=""
    while IFS= read -r line; do
        if [ "${line#\$ }" != "$line" ]; then
            if [ -n "$cmd" ]; then
                cd session && session_step "$cmd" "$want" && cd ..
                steps=$((steps + 1))
            fi
            cmd="${line#\$ }"
            want=""
        else
            want="$want$line"$'\n'
        fi
    done <session.txt
    if [ -n "$cmd" ]; then
        cd session && session_step "$cmd" "$want" && cd ..
        steps=$((steps + 1))
    fi
    check "README session has steps" [ "$steps" -ge 10 ]
else
    echo "cli: $readme not found; README session skipped" >&2
fi

# --- summary ------------------------------------------------------------------
if [ "${#valgrind[@]}" -gt 0 ]; then
    echo "cli: $nrun crdt runs, $nvg under valgrind: $((nvg - nvg_fail)) sampled (runs 1, 1 + N, 1 + 2N, ... for CRDT_VALGRIND_EVERY=N=$every) + $nvg_fail more expected to fail"
else
    echo "cli: $nrun crdt runs"
fi
echo "cli: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
