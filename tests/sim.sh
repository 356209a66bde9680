#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of `crdt sim`: the example scenarios converge to the
# values their writes imply, runs replay exactly (same output, same trace
# hash), bad scenarios fail with exit 1 and one line naming the scenario's
# line, a run that cannot converge in --max-ms exits 3, usage errors exit
# 2.  With CRDT_VALGRIND=1 the small scenarios also run under valgrind (any
# error or leak fails).
#
#   bash tests/sim.sh path/to/crdt     (make check passes $CRDT_CLI)
#
# Ends with "sim: N passed, M failed" and exits non-zero if M > 0.
set -u

crdt="${1:-${CRDT_CLI:-}}"
if [ -z "$crdt" ] || [ ! -x "$crdt" ]; then
    echo "usage: bash tests/sim.sh path/to/crdt" >&2
    exit 2
fi
crdt="$(cd "$(dirname "$crdt")" && pwd)/$(basename "$crdt")"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ex="$src/examples/scenarios"
py=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 2

pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# run NAME EXPECTED_STATUS ARGS...: runs crdt with ARGS, output in out,
# stderr in err; checks the exit status.
run() {
    local name="$1" want="$2" got
    shift 2
    "$crdt" "$@" >out 2>err
    got=$?
    if [ "$got" -eq "$want" ]; then
        ok
    else
        bad "$name: exit $got, expected $want; stderr: $(head -c 300 err)"
    fi
}

# json_check NAME PYTHON_EXPR: evaluates EXPR with r = the JSON in out.
json_check() {
    local name="$1" expr="$2"
    if "$py" -c "import json,sys; r=json.load(open('out')); sys.exit(0 if ($expr) else 1)" 2>err.py; then
        ok
    else
        bad "$name: $expr is false for $(head -c 400 out) $(cat err.py)"
    fi
}

# err_has NAME TEXT: stderr is one line and contains TEXT; stdout empty.
err_has() {
    local name="$1" text="$2"
    if [ "$(wc -l <err)" -eq 1 ] && grep -qF -- "$text" err && [ ! -s out ]; then
        ok
    else
        bad "$name: stderr '$(cat err)' lacks '$text' (or stdout not empty)"
    fi
}

# --- the examples converge, with the values their writes imply -----------

every_node='all(n["up"] and n["values"] == r["nodes"][0]["values"] for n in r["nodes"])'

run partition 0 sim --dump "$ex/partition.jsonl"
json_check partition 'r["converged"] and r["converged_ms"] >= 1800'
json_check partition "$every_node"
json_check partition 'r["nodes"][0]["values"] == {"hits": 18, "name": "grace", "on": True, "seen": ["x"], "stock": -2, "tags": []}'
cp out partition.1
run partition-again 0 sim --dump "$ex/partition.jsonl"
if cmp -s out partition.1; then ok; else bad "partition: a second run differs"; fi

run churn 0 sim --dump "$ex/churn.jsonl"
json_check churn "$every_node"
# node 1 restarted without its state: its new write adds to, not masks,
# the old one; apple was re-added concurrently with its remove (add wins);
# temp was deleted
json_check churn 'r["nodes"][0]["values"] == {"cart": ["apple", "pear"], "visits": 4}'

run membership 0 sim --dump "$ex/membership.jsonl"
json_check membership "$every_node"
json_check membership 'r["nodes"][0]["values"] == {"leader": ["n7", "n8"], "maintenance": False, "members": ["n39"]}'

run demo 0 sim "$ex/demo.jsonl"
json_check demo 'r["converged"] and set(r) == {"converged", "converged_ms", "rounds", "messages", "bytes", "trace_hash"}'
json_check demo 'len(r["trace_hash"]) == 16 and r["messages"] > 0 and r["bytes"] > r["messages"]'
run demo-dump 0 sim --dump "$ex/demo.jsonl"
json_check demo-dump 'len(r["nodes"]) == 1000'
json_check demo-dump "$every_node"
json_check demo-dump 'r["nodes"][0]["values"] == {"status": "amber", "tags": ["blue"], "visits": 7}'

# stdin and -o
run stdin 0 sim - <"$ex/churn.jsonl"
json_check stdin 'r["converged"]'
run output 0 sim -o result.json "$ex/churn.jsonl"
if [ ! -s out ] && "$py" -c "import json; assert json.load(open('result.json'))['converged']"; then
    ok
else
    bad "output: -o did not write result.json"
fi

# --- every value type, every op --------------------------------------------

cat >ops.jsonl <<'EOF'
{"nodes": 3, "seed": 5}
{"t": 0, "node": 0, "key": "g", "type": "gcounter", "op": "inc"}
{"t": 0, "node": 1, "key": "g", "type": "gcounter", "op": "inc", "by": 41}
{"t": 0, "node": 0, "key": "p", "type": "pncounter", "op": "inc", "by": 3}
{"t": 0, "node": 2, "key": "p", "type": "pncounter", "op": "dec", "by": 10}
{"t": 0, "node": 1, "key": "l", "type": "lww", "op": "set", "value": "first"}
{"t": 0, "node": 0, "key": "m", "type": "mvreg", "op": "set", "value": "b"}
{"t": 0, "node": 1, "key": "m", "type": "mvreg", "op": "set", "value": "a"}
{"t": 0, "node": 0, "key": "s", "type": "orset", "op": "add", "elem": "x"}
{"t": 0, "node": 0, "key": "s", "type": "orset", "op": "add", "elem": "y"}
{"t": 0, "node": 2, "key": "gs", "type": "gset", "op": "add", "elem": "z"}
{"t": 0, "node": 2, "key": "gs", "type": "gset", "op": "add", "elem": ""}
{"t": 0, "node": 0, "key": "e", "type": "ewflag", "op": "enable"}
{"t": 0, "node": 1, "key": "d", "type": "dwflag", "op": "disable"}
{"t": 0, "node": 2, "key": "gone", "type": "gcounter", "op": "inc"}
{"t": 10, "node": 0, "key": "s", "type": "orset", "op": "remove", "elem": "x"}
{"t": 20, "node": 1, "key": "d", "type": "dwflag", "op": "enable"}
{"t": 30, "node": 2, "key": "gone", "op": "delete"}
{"t": 50, "node": 2, "key": "l", "type": "lww", "op": "set", "value": "second \"quoted\" \\ \u00e9"}
EOF
run ops 0 sim --dump ops.jsonl
json_check ops "$every_node"
json_check ops 'r["nodes"][0]["values"] == {"d": True, "e": True, "g": 42, "gs": ["", "z"], "l": "second \"quoted\" \\ \u00e9", "m": ["a", "b"], "p": -7, "s": ["y"]}'

# --- not converged: exit 3 -------------------------------------------------

run maxms 3 sim --max-ms 0 "$ex/partition.jsonl"
json_check maxms 'r["converged"] is False and r["converged_ms"] is None and r["rounds"] is None'
printf '{"nodes": 2, "loss": 1.0}\n{"t": 0, "node": 0, "key": "k", "type": "gcounter", "op": "inc"}\n' >lost.jsonl
run lost 3 sim --max-ms 5000 lost.jsonl

# --- bad scenarios: exit 1, one line naming the line -----------------------

bad_scenario() {
    local name="$1" text="$2"
    shift 2
    printf '%b' "$text" >bad.jsonl
    run "$name" 1 sim bad.jsonl
    err_has "$name" "$*"
}
bad_scenario empty '' 'line 1: empty scenario'
bad_scenario no-nodes '{"seed": 1}\n' "line 1: 'nodes' (at least 1) is required"
bad_scenario zero-nodes '{"nodes": 0}\n' "line 1: 'nodes' (at least 1) is required"
bad_scenario unknown-setting '{"nodes": 2, "colour": "red"}\n' "line 1: unknown setting 'colour'"
bad_scenario bad-loss '{"nodes": 2, "loss": 1.5}\n' "line 1: 'loss' must be a number from 0 to 1"
bad_scenario bad-latency '{"nodes": 2, "latency_ms": [5, 1]}\n' "line 1: 'latency_ms' must be [min, max]"
bad_scenario bad-mtu '{"nodes": 2, "mtu": 100}\n' "line 1: 'mtu' must be from 512 to 65536"
bad_scenario bad-join '{"nodes": 2, "join": "all"}\n' "line 1: 'join' must be"
bad_scenario not-json '{"nodes": 2}\n{"t": 1, oops}\n' 'line 2: not JSON'
bad_scenario blank-lines '{"nodes": 2}\n\n\n{"t": 1}\n' 'line 4: an event must have exactly one of'
bad_scenario back-in-time '{"nodes": 2}\n{"t": 5, "heal": true}\n{"t": 4, "heal": true}\n' "line 3: 't' goes back in time (4 < 5)"
bad_scenario no-t '{"nodes": 2}\n{"heal": true}\n' "line 2: 't' (non-negative milliseconds) is required"
bad_scenario two-kinds '{"nodes": 2}\n{"t": 0, "heal": true, "crash": 1}\n' 'line 2: an event must have exactly one of'
bad_scenario node-range '{"nodes": 2}\n{"t": 0, "node": 2, "key": "k", "type": "gcounter", "op": "inc"}\n' "line 2: 'node' must be a node from 0 to 1"
bad_scenario bad-type '{"nodes": 2}\n{"t": 0, "node": 1, "key": "k", "type": "hlc", "op": "inc"}\n' "line 2: 'type' must be gcounter"
bad_scenario bad-op '{"nodes": 2}\n{"t": 0, "node": 1, "key": "k", "type": "gcounter", "op": "dec"}\n' "line 2: op 'dec' does not apply to gcounter"
bad_scenario by-zero '{"nodes": 2}\n{"t": 0, "node": 1, "key": "k", "type": "gcounter", "op": "inc", "by": 0}\n' "line 2: 'by' must be at least 1"
bad_scenario no-value '{"nodes": 2}\n{"t": 0, "node": 1, "key": "k", "type": "lww", "op": "set"}\n' "line 2: 'value' must be a string"
bad_scenario empty-key '{"nodes": 2}\n{"t": 0, "node": 1, "key": "", "type": "gcounter", "op": "inc"}\n' "line 2: 'key' must be a non-empty string"
bad_scenario bad-state '{"nodes": 2}\n{"t": 0, "restart": 1, "state": "maybe"}\n' "line 2: 'state' must be"
bad_scenario bad-set '{"nodes": 2}\n{"t": 0, "set": {"mtu": 600}}\n' "line 2: 'set' takes loss, dup, reorder and latency_ms, not 'mtu'"
bad_scenario bad-partition '{"nodes": 2}\n{"t": 0, "partition": [[0], [7]]}\n' "line 2: 'partition' must be a node from 0 to 1"
bad_scenario bad-block '{"nodes": 2}\n{"t": 0, "block": [[0]]}\n' "line 2: 'block' must be a list of [from, to] pairs"
# found only when the event runs
bad_scenario op-crashed '{"nodes": 2}\n{"t": 0, "crash": 1}\n{"t": 5, "node": 1, "key": "k", "type": "gcounter", "op": "inc"}\n' 'line 3: node 1 is crashed'
bad_scenario crash-twice '{"nodes": 2}\n{"t": 0, "crash": 1}\n{"t": 5, "crash": 1}\n' 'line 3: node 1 is already crashed'
bad_scenario restart-up '{"nodes": 2}\n{"t": 0, "restart": 1, "state": "kept"}\n' 'line 2: node 1 is not crashed'
bad_scenario two-types '{"nodes": 2}\n{"t": 0, "node": 1, "key": "k", "type": "gcounter", "op": "inc"}\n{"t": 1, "node": 1, "key": "k", "type": "orset", "op": "add", "elem": "e"}\n' "line 3: key 'k' holds another type on node 1"

# --- usage: exit 2 -----------------------------------------------------------

run usage-none 2 sim
err_has usage-none 'missing argument'
run usage-two 2 sim a b
err_has usage-two "unexpected argument 'b'"
run usage-opt 2 sim --nodes 3 x
err_has usage-opt "unknown option '--nodes'"
run usage-maxms 2 sim --max-ms x y
err_has usage-maxms "invalid --max-ms 'x'"
run missing-file 1 sim no-such-file.jsonl
err_has missing-file 'no-such-file.jsonl:'
run help 0 sim --help
if grep -q 'usage: crdt sim' out && ! grep -q '^types:' out; then ok; else bad "help"; fi

# --- under valgrind (small scenarios: every error path and a full run) -----

if [ "${CRDT_VALGRIND:-0}" = 1 ]; then
    vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all)
    real="$crdt"
    if head -c 2 "$crdt" | grep -q '#!'; then
        real="$(dirname "$crdt")/.libs/$(basename "$crdt")"
        export LD_LIBRARY_PATH="$(dirname "$crdt")/../lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    for f in "$ex/churn.jsonl" ops.jsonl bad.jsonl lost.jsonl; do
        "${vg[@]}" "$real" sim --dump --max-ms 3000 "$f" >/dev/null 2>vg.err
        if [ $? -eq 99 ]; then bad "valgrind: $f: $(head -c 500 vg.err)"; else ok; fi
    done
fi

echo "sim: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
