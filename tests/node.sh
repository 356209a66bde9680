#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# crdt-node on loopback (127.0.0.1 only): a 5-node cluster driven through
# `crdt client`.  Random writes at every level on random nodes, kill -9 and
# restart of nodes mid-run, then every node must answer `get` with a value
# the acknowledged writes imply (Jepsen-style bounds: acknowledged writes
# must be there; writes whose outcome is unknown may be); a node with the
# wrong key changes nothing; a session read on another node right after a
# write sees it; ONE / QUORUM / ALL with two nodes down; SIGTERM drains and
# exits 0; backup while running and restore.  Seeded: CRDT_SEED=N
# reproduces the choices (not the timing).  Stops by itself (every wait is
# bounded; an EXIT trap kills what is left).
set -u
cli="${CRDT_CLI:?CRDT_CLI must name the crdt binary}"
nodebin="${CRDT_NODE:?CRDT_NODE must name the crdt-node binary}"
. "$(dirname "$0")/libtool_resolve.sh"
resolve_program cli
resolve_program nodebin
seed="${CRDT_SEED:-$(( $(date +%s) % 100000 ))}"
writes="${CRDT_NODE_WRITES:-80}"
echo "node.sh: seed $seed (CRDT_SEED=$seed reproduces the choices)"
RANDOM=$seed
tmp="$(mktemp -d /tmp/crdt-node-test.XXXXXX)"
pids=()
fails=0
cleanup() {
    local p
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
check() { if eval "$1"; then :; else fail "$2"; fi; }

# ports: a random base in 20000..59000, the first free run of 7
base=$(( 20000 + (RANDOM * 7 + $$) % 39000 ))
port() { echo $(( base + $1 )); }

(umask 077; "$nodebin" keygen > "$tmp/cluster.key") || { echo "keygen failed"; exit 1; }
(umask 077; "$nodebin" keygen > "$tmp/other.key")
check "grep -Eq '^crdt-key v1 [0-9a-f]{8} [0-9a-f]{64}$' '$tmp/cluster.key'" "keygen line format"

start() { # start I [extra args...]
    local i=$1; shift
    local join=()
    [ "$i" -ne 1 ] && join=(--join "127.0.0.1:$(port 1)")
    [ "$i" -eq 1 ] && join=(--join "127.0.0.1:$(port 2)")
    [ "$i" -eq 2 ] && join+=(--metrics "127.0.0.1:$(port 8)")
    "$nodebin" --name "n$i" --listen "127.0.0.1:$(port "$i")" \
        --data "$tmp/d$i" --key-file "$tmp/cluster.key" "${join[@]}" \
        --round-ms 50 --repair-ms 400 --down-after-ms 1000 \
        --log-level "${CRDT_NODE_LOG:-info}" "$@" 2>>"$tmp/n$i.log" &
    pids[$i]=$!
}
sock() { echo "$tmp/d$1/client.sock"; }
wait_sock() { # wait until node I answers status (5 s)
    local t
    for t in $(seq 50); do
        "$cli" client --node "$(sock "$1")" status >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
peers_up() { "$cli" client --node "$(sock "$1")" status 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["peers_up"])' 2>/dev/null || echo 0; }
get() { "$cli" client --node "$(sock "$1")" get "$2" "${@:3}" 2>/dev/null; }

for i in 1 2 3 4 5; do start "$i"; done
for i in 1 2 3 4 5; do wait_sock "$i" || fail "node $i did not start: $(tail -3 "$tmp/n$i.log")"; done
formed=0
for t in $(seq 100); do
    ok=1
    for i in 1 2 3 4 5; do [ "$(peers_up "$i")" -ge 4 ] || ok=0; done
    [ $ok -eq 1 ] && { formed=1; break; }
    sleep 0.1
done
check "[ $formed -eq 1 ]" "the cluster did not form (each node should see 4 peers up)"
check "[ \"\$(stat -c %a '$(sock 1)')\" = 600 ]" "client socket mode is 600"

# --- random writes, kill -9 and restarts ---------------------------------
levels=(local one quorum all)
acked_sum=0; unknown_sum=0
: > "$tmp/acked"; : > "$tmp/unknown"
killed=0
for w in $(seq "$writes"); do
    if [ $((w % 40)) -eq 10 ]; then # kill -9 one node, restart it later
        killed=$(( RANDOM % 5 + 1 ))
        kill -9 "${pids[$killed]}" 2>/dev/null; wait "${pids[$killed]}" 2>/dev/null
    fi
    if [ $((w % 40)) -eq 25 ] && [ $killed -ne 0 ]; then
        start "$killed"; wait_sock "$killed" || fail "node $killed did not restart"
        killed=0
    fi
    i=$(( RANDOM % 5 + 1 ))
    lvl=${levels[$(( RANDOM % 4 ))]}
    by=$(( RANDOM % 5 + 1 ))
    "$cli" client --node "$(sock "$i")" inc c --type pncounter --by "$by" \
        --consistency "$lvl" --timeout 0.5 >/dev/null 2>>"$tmp/client.log"
    rc=$?
    # acknowledged at one or above: committed and must survive; local, a
    # timeout (applied on a node that may then die) or a connection error
    # (the node may have died after applying): unknown
    if [ $rc -eq 0 ] && [ "$lvl" != local ]; then acked_sum=$((acked_sum + by))
    else unknown_sum=$((unknown_sum + by)); fi
    "$cli" client --node "$(sock "$i")" add s "e$w" --consistency "$lvl" \
        --timeout 0.5 >/dev/null 2>>"$tmp/client.log"
    rc=$?
    if [ $rc -eq 0 ] && [ "$lvl" != local ]; then echo "e$w" >> "$tmp/acked"
    else echo "e$w" >> "$tmp/unknown"; fi
done
[ $killed -ne 0 ] && { start "$killed"; wait_sock "$killed" || fail "node $killed did not restart"; }
echo "node.sh: $writes counter writes: acknowledged sum $acked_sum, unknown $unknown_sum; set: $(wc -l < "$tmp/acked") acknowledged, $(wc -l < "$tmp/unknown") unknown"

converged=0
for t in $(seq 150); do
    v1=$(get 1 c); s1=$(get 1 s | sort | tr '\n' ' ')
    same=1
    for i in 2 3 4 5; do
        [ "$(get "$i" c)" = "$v1" ] || same=0
        [ "$(get "$i" s | sort | tr '\n' ' ')" = "$s1" ] || same=0
    done
    [ $same -eq 1 ] && [ -n "$v1" ] && { converged=1; break; }
    sleep 0.2
done
check "[ $converged -eq 1 ]" "the 5 nodes did not converge within 30 s"
v=$(get 1 c)
check "[ -n '$v' ] && [ '$v' -ge $acked_sum ] && [ '$v' -le $((acked_sum + unknown_sum)) ]" \
    "counter $v outside [acknowledged $acked_sum, +unknown $unknown_sum]"
get 1 s | sort > "$tmp/final"
missing=$(comm -23 <(sort "$tmp/acked") "$tmp/final" | wc -l)
extra=$(comm -23 "$tmp/final" <(sort "$tmp/acked" "$tmp/unknown") | wc -l)
check "[ $missing -eq 0 ]" "$missing acknowledged set elements lost"
check "[ $extra -eq 0 ]" "$extra set elements nobody wrote"
echo "node.sh: converged: counter $v, set $(wc -l < "$tmp/final") elements"

# --- a node with the wrong key changes nothing ---------------------------
"$nodebin" --name intruder --listen "127.0.0.1:$(port 6)" --data "$tmp/d6" \
    --key-file "$tmp/other.key" --join "127.0.0.1:$(port 1)" --round-ms 50 \
    --repair-ms 300 --log-level error 2>>"$tmp/n6.log" &
pids[6]=$!
wait_sock_path() { local t; for t in $(seq 50); do "$cli" client --node "$1" status >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
wait_sock_path "$tmp/d6/client.sock" || fail "intruder did not start"
"$cli" client --node "$tmp/d6/client.sock" inc c --type pncounter --by 100000 --consistency one >/dev/null 2>&1
"$cli" client --node "$tmp/d6/client.sock" add s intruder --consistency one >/dev/null 2>&1
sleep 2
check "[ \"\$(get 1 c)\" = '$v' ]" "the wrong-key node changed the counter"
check "! get 2 s | grep -qx intruder" "the wrong-key node added to the set"
rej=$("$cli" client --node "$(sock 1)" status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["rejected_unauthenticated"])')
check "[ '$rej' -gt 0 ]" "node 1 counted no rejected datagram from the wrong-key node"
kill -9 "${pids[6]}" 2>/dev/null; wait "${pids[6]}" 2>/dev/null; pids[6]=

# --- sessions: read-your-writes on another node ---------------------------
sess_ok=0
for k in $(seq 20); do
    a=$(( RANDOM % 5 + 1 )); b=$(( (a + RANDOM % 4) % 5 + 1 ))
    rm -f "$tmp/sess"
    "$cli" client --node "$(sock "$a")" add "sk$k" "v$k" --consistency local --session "$tmp/sess" >/dev/null 2>&1 ||
        { fail "session write $k on node $a"; continue; }
    out=$("$cli" client --node "$(sock "$b")" get "sk$k" --session "$tmp/sess" --timeout 3 2>&1)
    [ "$out" = "v$k" ] && sess_ok=$((sess_ok + 1)) || fail "session read $k on node $b after a write on node $a: '$out'"
done
echo "node.sh: session reads that saw the write just made elsewhere: $sess_ok/20"

# --- levels with two nodes down ------------------------------------------
kill -9 "${pids[4]}" "${pids[5]}" 2>/dev/null; wait "${pids[4]}" "${pids[5]}" 2>/dev/null
"$cli" client --node "$(sock 1)" inc lv --consistency quorum --timeout 3 >/dev/null 2>&1
check "[ $? -eq 0 ]" "quorum write with 3 of 5 up should succeed"
"$cli" client --node "$(sock 1)" inc lv --consistency one --timeout 3 >/dev/null 2>&1
check "[ $? -eq 0 ]" "one write with 3 of 5 up should succeed"
t0=$(date +%s%N)
"$cli" client --node "$(sock 1)" inc lv --consistency all --timeout 1 >/dev/null 2>"$tmp/all.err"
rc=$?; t1=$(date +%s%N)
check "[ $rc -eq 4 ]" "all write with 2 of 5 down should exit 4, got $rc"
check "[ $(( (t1 - t0) / 1000000 )) -lt 3000 ]" "all write timed out in $(( (t1 - t0) / 1000000 )) ms, over the 1 s timeout + grace"
check "grep -q 'level all not met' '$tmp/all.err'" "all's error says what was not met: $(cat "$tmp/all.err")"
get 2 lv --consistency all --timeout 1 >/dev/null; rc=$?
check "[ $rc -eq 4 ]" "all read with 2 of 5 down should exit 4, got $rc"
v=$(get 2 lv --consistency quorum --timeout 3)
check "[ '$v' = 3 ]" "quorum read after writes (R+W>N) should see 3 (the timed-out all write applied too), got '$v'"
start 4; start 5; wait_sock 4; wait_sock 5
"$cli" client --node "$(sock 1)" inc lv --consistency all --timeout 5 >/dev/null 2>&1
check "[ $? -eq 0 ]" "all write with every node back should succeed"
v=$(get 5 lv)
check "[ '$v' = 4 ]" "node 5 answers 4 right after an all write, got '$v'"

# --- backup while running, restore ----------------------------------------
vb=$(get 1 c)
"$nodebin" backup --data "$tmp/d1" "$tmp/backup.mdb" 2>"$tmp/backup.err"
check "[ $? -eq 0 ]" "backup of a running node: $(cat "$tmp/backup.err")"
"$nodebin" restore --data "$tmp/d1" "$tmp/backup.mdb" 2>/dev/null
check "[ $? -ne 0 ]" "restore into a running node's directory must be refused"

# --- metrics --------------------------------------------------------------
metrics=$(/usr/bin/python3 -c 'import sys, urllib.request; print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode())' "$(port 8)" 2>&1)
check "echo \"\$metrics\" | grep -q '^# TYPE crdt_node_keys gauge'" "metrics: keys gauge: $(echo "$metrics" | head -3)"
check "echo \"\$metrics\" | grep -Eq '^crdt_node_requests_total\\{op=\"get\"\\} [1-9]'" "metrics: get requests counted"
# nodes 4 and 5 restarted just now: node 2 sees them up within a round
up=0
for t in $(seq 50); do
    metrics=$(/usr/bin/python3 -c 'import sys, urllib.request; print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode())' "$(port 8)" 2>&1)
    echo "$metrics" | grep -Eq '^crdt_node_peers_up 4$' && { up=1; break; }
    sleep 0.1
done
check "[ $up -eq 1 ]" "metrics: 4 peers up: $(echo "$metrics" | grep peers_)"

# --- key rotation without downtime (edit the key file, SIGHUP every node) --
hup_all() { local i; for i in 1 2 3 4 5; do kill -HUP "${pids[$i]}"; done; sleep 0.3; }
(umask 077; "$nodebin" keygen > "$tmp/new.key")
cp "$tmp/cluster.key" "$tmp/old.key"
rot=0
for step in add primary drop; do
    case $step in
    add) cat "$tmp/old.key" "$tmp/new.key" > "$tmp/k.tmp" ;;
    primary) cat "$tmp/new.key" "$tmp/old.key" > "$tmp/k.tmp" ;;
    drop) cat "$tmp/new.key" > "$tmp/k.tmp" ;;
    esac
    mv "$tmp/k.tmp" "$tmp/cluster.key"
    hup_all
    i=$(( RANDOM % 5 + 1 ))
    "$cli" client --node "$(sock "$i")" inc rot --consistency all --timeout 3 >/dev/null 2>"$tmp/rot.err"
    rc=$?
    check "[ $rc -eq 0 ]" "a write at level all after key rotation step '$step' (node $i): $(cat "$tmp/rot.err")"
    [ $rc -eq 0 ] && rot=$((rot + 1))
done
check "[ \"\$(get 3 rot --consistency all)\" = 3 ]" "every rotation step's write reached every node"
check "[ \$(grep -c 'level=info event=keys_reload keys=' '$tmp/n1.log') -ge 3 ]" "SIGHUP logs keys_reload for each step"
check "! grep -q 'event=keys_reload err' '$tmp'/n[1-5].log" "no key reload failed: $(grep -h 'keys_reload err' "$tmp"/n[1-5].log | head -2)"
echo "node.sh: key rotation (add, make primary, drop the old key): $rot/3 steps wrote at level all"

# --- SIGTERM drains -------------------------------------------------------
# a request that cannot finish (level all with node 5 gone, 60 s timeout)
# holds a drain for at most 10 s, and its client gets exit 4
kill -9 "${pids[5]}"; wait "${pids[5]}" 2>/dev/null; pids[5]=
"$cli" client --node "$(sock 1)" inc drainkey --consistency all --timeout 60 \
    >/dev/null 2>"$tmp/drain.err" &
drain_client=$!
sleep 0.5
t0=$(date +%s)
for i in 1 2 3 4; do kill -TERM "${pids[$i]}" 2>/dev/null; done
wait $drain_client; rc=$?
check "[ $rc -eq 4 ]" "a request held by the drain gets exit 4, got $rc: $(cat "$tmp/drain.err")"
for i in 1 2 3 4; do
    wait "${pids[$i]}"; rc=$?
    check "[ $rc -eq 0 ]" "node $i exit status after SIGTERM: $rc"
    pids[$i]=
done
t1=$(date +%s)
check "[ $((t1 - t0)) -le 13 ]" "the drain took $((t1 - t0)) s (at most 10 s for requests in flight)"
check "[ ! -e '$(sock 1)' ]" "the client socket is removed at exit"
"$nodebin" restore --data "$tmp/d7" "$tmp/backup.mdb" 2>/dev/null
check "[ $? -eq 0 ]" "restore into a new directory"
"$nodebin" --name n1 --listen "127.0.0.1:$(port 7)" --data "$tmp/d7" \
    --key-file "$tmp/cluster.key" --log-level error 2>>"$tmp/n7.log" &
pids[7]=$!
wait_sock 7 || fail "node on the restored store did not start"
check "[ \"\$(get 7 c)\" = '$vb' ]" "the restored store answers the counter as it was at the backup ($vb)"
check "[ \"\$(get 7 sk1)\" = v1 ]" "restored store has the session keys"
kill -TERM "${pids[7]}"; wait "${pids[7]}"; pids[7]=

if [ $fails -ne 0 ]; then
    for i in 1 2 3 4 5 6 7; do [ -s "$tmp/n$i.log" ] && { echo "--- n$i log (tail)"; tail -5 "$tmp/n$i.log"; }; done
    echo "node.sh: $fails failures (seed $seed)"
    exit 1
fi
echo "node.sh: all checks passed (seed $seed)"
