#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of the crdt command-line tool.
#
#   bash tests/cli.sh path/to/crdt     (make check passes $CRDT_CLI)
#
# With CRDT_VALGRIND=1 every crdt invocation runs under
#   valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all
# and any valgrind error or leak fails the test.  Ends with
# "cli: N passed, M failed" and exits non-zero if M > 0.
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

prefix=()
if [ "${CRDT_VALGRIND:-0}" = 1 ]; then
    prefix=(valgrind -q --error-exitcode=99 --leak-check=full
        --errors-for-leak-kinds=all)
fi

pass=0
failed=0
nrun=0

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
    nrun=$((nrun + 1))
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
    run "$@"
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
for cmd in new inc dec set value merge compare inspect; do
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
expect_err "set on pncounter" 1 "^crdt: pnA.bin: set does not apply to pncounter \(only to lww\)$" set --actor 1 x pnA.bin

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
expect_err "set on vclock names lww" 1 "^crdt: vcA.bin: set does not apply to vclock \(only to lww\)$" set --actor 1 x vcA.bin
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
for f in vcM.bin dc.merged gc.merged pn.merged lw2.bin hl1.bin; do
    len=$(wc -c <"$f")
    for ((i = 1; i < len; i++)); do
        head -c "$i" "$f" >trunc.bin
        expect_err "$f truncated to $i bytes" 1 "^crdt: trunc.bin: malformed encoding at byte [0-9]+" value trunc.bin
    done
done
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
bad_enc "dotctx cloud dot covered by vv" 94010281050391920503 "malformed encoding at byte 9"
bad_enc "dotctx cloud dot extending vv" 94010281050391920504 "malformed encoding at byte 9"
bad_enc "dotctx unsorted cloud" 94010281050392920902920507 "malformed encoding at byte 10"
bad_enc "dotctx duplicate cloud dot" 94010281050392920507920507 "malformed encoding at byte 10"
bad_enc "dotctx without cloud" 93010280 "malformed encoding at byte 0"
bad_enc "gcounter counts past UINT64_MAX" 9301038201cfffffffffffffffff0201 "counter overflow at byte 15"
bad_enc "pncounter without N" 93010480 "malformed encoding at byte 0"
bad_enc "pncounter zero count" 940104810100 "malformed encoding at byte 5"
# Random bytes (deterministic: bash's RANDOM with a fixed seed).
RANDOM=4242
for ((k = 0; k < 40; k++)); do
    n=$((RANDOM % 64 + 1))
    s=""
    for ((j = 0; j < n; j++)); do
        printf -v b '%02x' $((RANDOM % 256))
        s="$s$b"
    done
    # Half the cases start with a plausible envelope so the body is tested.
    if ((k % 2)); then s="93010$((k % 6 + 1))$s"; fi
    unhex "$s" >rand.bin
    expect_err "random input $k" 1 "^crdt: rand.bin: .* at byte [0-9]+|^crdt: rand.bin: type .* is not supported" value rand.bin
done
# Oversized input: more than 64 MiB.
head -c $((64 * 1024 * 1024 + 1)) /dev/zero >big.bin
expect_err "input over 64 MiB" 1 "^crdt: big.bin: input larger than 64 MiB$" value big.bin
truncate -s $((64 * 1024 * 1024)) big.bin
expect_err "input of exactly 64 MiB is decoded" 1 "^crdt: big.bin: malformed encoding at byte 0$" value big.bin
rm -f big.bin

# --- the README's session ---------------------------------------------------------
# Runs every "$ command" of the console block in README.md's section on the
# tool and compares stdout and stderr with the lines that follow it.
crdt() {
    "${prefix[@]}" "$crdt" "$@"
}
session_step() {
    local got
    got="$(eval "$1" 2>&1; echo x)"
    got="${got%x}"
    nrun=$((nrun + 1))
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
echo "cli: $nrun crdt runs${prefix:+ under valgrind}"
echo "cli: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
