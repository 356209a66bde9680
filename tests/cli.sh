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
save vcM.bin merge vcA.bin vcB.bin vcC.bin
expect "vclock merge value" '{"5":1,"9":1,"10":1,"300":70000}' value vcM.bin
for order in "vcA vcC vcB" "vcB vcA vcC" "vcB vcC vcA" "vcC vcA vcB" "vcC vcB vcA"; do
    set -- $order
    run merge "$1.bin" "$2.bin" "$3.bin"
    check "vclock merge $order" cmp -s out vcM.bin
done
run merge vcM.bin vcM.bin vcM.bin
check "vclock merge idempotent" cmp -s out vcM.bin
run --in vcB.bin merge vcA.bin - vcC.bin
check "vclock merge with stdin" cmp -s out vcM.bin
run merge vcA.bin
check "merge of one file" cmp -s out vcA.bin
expect "merged is after each input" after compare vcM.bin vcC.bin

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
len=$(wc -c <vcM.bin)
for ((i = 1; i < len; i++)); do
    head -c "$i" vcM.bin >trunc.bin
    expect_err "truncated to $i bytes" 1 "^crdt: trunc.bin: malformed encoding at byte [0-9]+" value trunc.bin
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
rm -f big.bin

# --- summary ------------------------------------------------------------------
echo "cli: $nrun crdt runs${prefix:+ under valgrind}"
echo "cli: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
