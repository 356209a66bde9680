#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# crdt-node over a real (virtual) network: 3 nodes, each in its own network
# namespace, joined by veth pairs to a bridge in a hub namespace, on a
# private 10.213.X.0/24 that exists only inside these namespaces.  The
# links lose datagrams (tc netem loss 10% delay 20ms 10ms when the kernel
# has sch_netem, else an nftables random drop of 10% of the incoming
# datagrams, without delay).  Random writes at levels one / quorum / all on
# random nodes, then node 3 is cut off (nftables inside its namespace):
# quorum writes on the majority side succeed, on node 3 they exit 4, writes
# at level one on node 3 succeed; after the heal every node must converge
# to a value the acknowledged writes imply (acknowledged writes there,
# writes of unknown outcome maybe, nothing nobody wrote).
#
# Needs root and a working `ip netns`; otherwise exits 77 (skipped).
# Touches nothing outside its own namespaces (crdt-PID-hub, crdt-PID-n1..3);
# an EXIT trap deletes them and kills every process it started.  Seeded:
# CRDT_SEED=N reproduces the choices (not the timing).
set -u
cli="${CRDT_CLI:?CRDT_CLI must name the crdt binary}"
nodebin="${CRDT_NODE:?CRDT_NODE must name the crdt-node binary}"
. "$(dirname "$0")/libtool_resolve.sh"
resolve_program cli
resolve_program nodebin
seed="${CRDT_SEED:-$(( $(date +%s) % 100000 ))}"
writes="${CRDT_NETNS_WRITES:-30}"     # writes while lossy
pwrites="${CRDT_NETNS_PWRITES:-16}"   # writes during the partition

skip() { echo "netns.sh: SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2)"
command -v timeout >/dev/null 2>&1 || skip "no timeout command (coreutils)"

pfx="crdt-$$"
hub="$pfx-hub"
ns() { echo "$pfx-n$1"; }
net="10.213.$(( $$ % 250 + 1 ))"   # exists only inside our namespaces
addr() { echo "$net.$1"; }
P=7400                              # every node listens on its own address
tmp="$(mktemp -d /tmp/crdt-netns-test.XXXXXX)"
pids=()
made=()
fails=0
t_start=$SECONDS

cleanup() {
    local p n
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    for n in "${made[@]:-}"; do
        [ -n "$n" ] || continue
        # anything left running inside our own namespaces was started here
        for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$n" 2>/dev/null
    done
    if [ -n "${CRDT_NETNS_KEEP:-}" ]; then echo "netns.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! err=$(ip netns add "$hub" 2>&1); then skip "ip netns add failed: $err"; fi
made+=("$hub")
ip netns exec "$hub" true 2>/dev/null || skip "ip netns exec does not work"

echo "netns.sh: seed $seed (CRDT_SEED=$seed reproduces the choices)"
RANDOM=$seed

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
check() { if eval "$1"; then :; else fail "$2"; fi; }
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }

# --- topology: bridge in the hub, a veth pair to each node -----------------
setup_err=$(
    set -e
    exec 2>&1
    ip -n "$hub" link set lo up
    ip -n "$hub" link add br0 type bridge
    ip -n "$hub" link set br0 up
)
[ $? -eq 0 ] || skip "cannot make a bridge in a namespace: $setup_err"
for i in 1 2 3; do
    n=$(ns "$i")
    ip netns add "$n" || { echo "netns.sh: ip netns add $n failed"; exit 1; }
    made+=("$n")
    setup_err=$(
        set -e
        exec 2>&1
        ip -n "$n" link set lo up
        # created inside the hub, the peer end moved straight into the node
        ip -n "$hub" link add "vh$i" type veth peer name eth0 netns "$n"
        ip -n "$hub" link set "vh$i" master br0 up
        ip -n "$n" addr add "$(addr "$i")/24" dev eth0
        ip -n "$n" link set eth0 up
    )
    [ $? -eq 0 ] || skip "cannot make a veth pair between namespaces: $setup_err"
done
if command -v ping >/dev/null 2>&1; then # the bridge forwards (bounded 3 s)
    reach=0
    for t in $(seq 30); do
        nsx "$(ns 1)" ping -c1 -W1 "$(addr 3)" >/dev/null 2>&1 &&
            nsx "$(ns 3)" ping -c1 -W1 "$(addr 2)" >/dev/null 2>&1 && { reach=1; break; }
        sleep 0.1
    done
    check "[ $reach -eq 1 ]" "the namespaces cannot reach each other over the bridge"
fi

# --- impairment: netem if the kernel has it, else nftables random drop -----
have_nft=0
if command -v nft >/dev/null 2>&1 && nsx "$(ns 1)" nft list tables >/dev/null 2>&1; then have_nft=1; fi
impair=
if tc -n "$(ns 1)" qdisc add dev eth0 root netem loss 10% delay 20ms 10ms 2>"$tmp/netem.err"; then
    impair=netem
    for i in 2 3; do
        tc -n "$(ns "$i")" qdisc add dev eth0 root netem loss 10% delay 20ms 10ms ||
            { echo "netns.sh: netem on node $i failed"; exit 1; }
    done
    echo "netns.sh: impairment: tc netem loss 10% delay 20ms 10ms on each node's veth"
elif [ $have_nft -eq 1 ]; then
    impair=nft
    for i in 1 2 3; do
        nsx "$(ns "$i")" nft -f - <<EOF || { echo "netns.sh: nft loss rule on node $i failed"; exit 1; }
table inet crdtloss {
    chain in {
        type filter hook input priority 0; policy accept;
        iifname "eth0" udp dport $P numgen random mod 100 < 10 drop
    }
}
EOF
    done
    echo "netns.sh: impairment: nftables drops 10% of incoming datagrams; delay NOT applied: the kernel lacks sch_netem ($(head -1 "$tmp/netem.err"))"
else
    skip "neither tc netem ($(head -1 "$tmp/netem.err")) nor nftables work in a namespace"
fi

# --- the cluster ------------------------------------------------------------
(umask 077; "$nodebin" keygen > "$tmp/cluster.key") || { echo "netns.sh: keygen failed"; exit 1; }
start() { # start I
    local i=$1 j=1
    [ "$i" -eq 1 ] && j=2
    ip netns exec "$(ns "$i")" "$nodebin" --name "n$i" --listen "$(addr "$i"):$P" \
        --data "$tmp/d$i" --key-file "$tmp/cluster.key" --join "$(addr "$j"):$P" \
        --round-ms 50 --repair-ms 400 --down-after-ms 1000 \
        --log-level "${CRDT_NODE_LOG:-info}" 2>>"$tmp/n$i.log" &
    pids[$i]=$!
}
sock() { echo "$tmp/d$1/client.sock"; }
# the client talks over the node's unix socket: no namespace needed
client() { timeout 10 "$cli" client --node "$(sock "$1")" "${@:2}"; }
wait_sock() {
    local t
    for t in $(seq 50); do client "$1" status >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
peers_up() { client "$1" status 2>/dev/null | grep -o '"peers_up":[0-9]*' | cut -d: -f2 | grep . || echo -1; }
get() { client "$1" get "$2" "${@:3}" 2>/dev/null; }
wait_peers() { # wait_peers SECONDS N1 UP1 N2 UP2 ...: until each node sees that many peers up
    local until=$(( SECONDS + $1 )) ok k
    shift
    local a=("$@")
    while :; do
        ok=1
        for (( k = 0; k < ${#a[@]}; k += 2 )); do
            [ "$(peers_up "${a[k]}")" -eq "${a[k+1]}" ] || ok=0
        done
        [ $ok -eq 1 ] && return 0
        [ $SECONDS -ge $until ] && return 1
        sleep 0.2
    done
}

for i in 1 2 3; do start "$i"; done
for i in 1 2 3; do wait_sock "$i" || fail "node $i did not start: $(tail -3 "$tmp/n$i.log")"; done
wait_peers 10 1 2 2 2 3 2; check "[ $? -eq 0 ]" "the cluster did not form over the lossy links (each node should see 2 peers up)"
echo "netns.sh: cluster formed after $(( SECONDS - t_start )) s"

# --- writes -------------------------------------------------------------------
acked_sum=0; unknown_sum=0
: > "$tmp/acked"; : > "$tmp/unknown"; : > "$tmp/acked_q"
w=0
q_major_ok=0; q_major_n=0
write() { # write NODE LEVEL [TIMEOUT]: one counter increment, one set element; sets $rc_inc
    local i=$1 lvl=$2 to=${3:-0.5} by rc t
    w=$((w + 1))
    by=$(( RANDOM % 5 + 1 ))
    t=$(date +%s%N)
    client "$i" inc c --type pncounter --by "$by" --consistency "$lvl" --timeout "$to" \
        >/dev/null 2>"$tmp/err"
    rc=$?; rc_inc=$rc
    echo "$phase n$i $lvl inc rc=$rc $(( ($(date +%s%N) - t) / 1000000 ))ms" >> "$tmp/ops"; cp "$tmp/err" "$tmp/err_inc"
    cat "$tmp/err" >> "$tmp/client.log"
    case $rc in
        0) acked_sum=$((acked_sum + by)) ;;
        4|1|124) unknown_sum=$((unknown_sum + by)) ;;
        *) unknown_sum=$((unknown_sum + by)); fail "inc on node $i at $lvl: exit $rc: $(cat "$tmp/err")" ;;
    esac
    t=$(date +%s%N)
    client "$i" add s "e$w" --consistency "$lvl" --timeout "$to" >/dev/null 2>"$tmp/err"
    rc=$?; rc_add=$rc
    echo "$phase n$i $lvl add rc=$rc $(( ($(date +%s%N) - t) / 1000000 ))ms" >> "$tmp/ops"; cp "$tmp/err" "$tmp/err_add"
    cat "$tmp/err" >> "$tmp/client.log"
    case $rc in
        0) echo "e$w" >> "$tmp/acked"
           [ "$lvl" = one ] || echo "e$w" >> "$tmp/acked_q" ;;
        4|1|124) echo "e$w" >> "$tmp/unknown" ;;
        *) echo "e$w" >> "$tmp/unknown"; fail "add on node $i at $lvl: exit $rc: $(cat "$tmp/err")" ;;
    esac
}
levels=(one quorum all)
phase=lossy
t0=$SECONDS
for k in $(seq "$writes"); do
    write $(( RANDOM % 3 + 1 )) "${levels[$(( RANDOM % 3 ))]}"
done
echo "netns.sh: lossy phase: $writes writes in $(( SECONDS - t0 )) s; counter acknowledged $acked_sum, unknown $unknown_sum"

# --- partition: node 3 alone ---------------------------------------------
cut_off() {
    if [ $have_nft -eq 1 ]; then
        nsx "$(ns 3)" nft -f - <<EOF
table inet crdtpart {
    chain in { type filter hook input priority -10; policy accept; ip saddr { $(addr 1), $(addr 2) } drop; }
    chain out { type filter hook output priority -10; policy accept; ip daddr { $(addr 1), $(addr 2) } drop; }
}
EOF
    else
        ip -n "$hub" link set vh3 down
    fi
}
heal() {
    if [ $have_nft -eq 1 ]; then nsx "$(ns 3)" nft delete table inet crdtpart
    else ip -n "$hub" link set vh3 up; fi
}
cut_off || { fail "could not cut node 3 off"; }
t0=$SECONDS
wait_peers 8 3 0 1 1 2 1
check "[ $? -eq 0 ]" "after the cut node 3 should see 0 peers up and nodes 1, 2 one each (saw $(peers_up 3), $(peers_up 1), $(peers_up 2))"
echo "netns.sh: partition detected after $(( SECONDS - t0 )) s"
q3_n=0; one3_n=0; qmaj_n=0; qmaj_fail=0
phase=partition
for k in $(seq "$pwrites"); do
    i=$(( RANDOM % 3 + 1 ))
    if [ "$i" -eq 3 ]; then
        if [ $(( RANDOM % 2 )) -eq 0 ]; then
            write 3 quorum 0.3
            q3_n=$((q3_n + 1))
            check "[ $rc_inc -eq 4 ] && [ $rc_add -eq 4 ]" "quorum write on the isolated node 3 should exit 4, got $rc_inc/$rc_add"
            check "grep -q 'level quorum not met' '$tmp/err_inc'" "node 3's quorum error should say 'level quorum not met': $(cat "$tmp/err_inc")"
        else
            write 3 one 2
            one3_n=$((one3_n + 1))
            check "[ $rc_inc -eq 0 ] && [ $rc_add -eq 0 ]" "level-one write on the isolated node 3 should succeed, got $rc_inc/$rc_add: $(cat "$tmp/err_inc" "$tmp/err_add")"
        fi
    else
        write "$i" quorum 2
        qmaj_n=$((qmaj_n + 1))
        [ $rc_inc -eq 0 ] && [ $rc_add -eq 0 ] || {
            qmaj_fail=$((qmaj_fail + 1))
            fail "quorum write on node $i of the majority side should succeed, got $rc_inc/$rc_add: $(cat "$tmp/err_inc" "$tmp/err_add")"
        }
    fi
done
# R + W > N: a quorum read on the majority side sees every element a quorum
# (or all) write acknowledged, whichever node took it; node 3 cannot read at quorum
for i in 1 2; do
    client "$i" get s --consistency quorum --timeout 2 2>"$tmp/err" | sort > "$tmp/qread$i"
    rc=${PIPESTATUS[0]}
    missing=$(comm -23 <(sort "$tmp/acked_q") "$tmp/qread$i" | tr '\n' ' ')
    check "[ $rc -eq 0 ] && [ -z '$missing' ]" "quorum read on node $i during the partition (exit $rc: $(cat "$tmp/err")) misses quorum-acknowledged elements: $missing"
done
client 3 get s --consistency quorum --timeout 0.3 >/dev/null 2>"$tmp/err"
rc=$?
check "[ $rc -eq 4 ]" "quorum read on the isolated node 3 should exit 4, got $rc: $(cat "$tmp/err")"
echo "netns.sh: partition: $pwrites writes in $(( SECONDS - t0 )) s: node 3 quorum $q3_n (all refused: expected), node 3 one $one3_n, majority quorum $qmaj_n ($qmaj_fail failed)"

# --- heal and converge --------------------------------------------------------
heal || fail "could not heal the partition"
t0=$SECONDS
echo "netns.sh: $w writes: counter acknowledged $acked_sum, unknown $unknown_sum; set: $(wc -l < "$tmp/acked") acknowledged, $(wc -l < "$tmp/unknown") unknown"
converged=0
until=$(( SECONDS + 40 ))
while [ $SECONDS -lt $until ]; do
    v1=$(get 1 c); s1=$(get 1 s | sort | tr '\n' ' ')
    same=1
    for i in 2 3; do
        [ "$(get "$i" c)" = "$v1" ] || same=0
        [ "$(get "$i" s | sort | tr '\n' ' ')" = "$s1" ] || same=0
    done
    [ $same -eq 1 ] && [ -n "$v1" ] && { converged=1; break; }
    sleep 0.2
done
check "[ $converged -eq 1 ]" "the 3 nodes did not converge within 40 s of the heal (counter: $(get 1 c) / $(get 2 c) / $(get 3 c))"
[ $converged -eq 1 ] && echo "netns.sh: converged $(( SECONDS - t0 )) s after the heal"
for i in 1 2 3; do
    v=$(get "$i" c)
    check "[ -n '$v' ] && [ '$v' -ge $acked_sum ] && [ '$v' -le $((acked_sum + unknown_sum)) ]" \
        "node $i: counter '$v' outside [acknowledged $acked_sum, +unknown $unknown_sum]"
    get "$i" s | sort > "$tmp/final$i"
    missing=$(comm -23 <(sort "$tmp/acked") "$tmp/final$i" | wc -l)
    extra=$(comm -23 "$tmp/final$i" <(sort "$tmp/acked" "$tmp/unknown") | wc -l)
    check "[ $missing -eq 0 ]" "node $i: $missing acknowledged set elements missing: $(comm -23 <(sort "$tmp/acked") "$tmp/final$i" | head -5 | tr '\n' ' ')"
    check "[ $extra -eq 0 ]" "node $i: $extra set elements nobody wrote"
done
wait_peers 10 1 2 2 2 3 2; check "[ $? -eq 0 ]" "after the heal each node should see 2 peers up again"
echo "netns.sh: final counter $(get 1 c), set $(wc -l < "$tmp/final1") elements; total $(( SECONDS - t_start )) s"

# --- stop -------------------------------------------------------------------------
for i in 1 2 3; do kill -TERM "${pids[$i]}" 2>/dev/null; done
for i in 1 2 3; do
    timeout 10 tail --pid="${pids[$i]}" -f /dev/null ||
        { fail "node $i still running 10 s after SIGTERM"; kill -9 "${pids[$i]}" 2>/dev/null; }
    wait "${pids[$i]}"; rc=$?
    check "[ $rc -eq 0 ]" "node $i exit status after SIGTERM: $rc"
    pids[$i]=
done

if [ $fails -ne 0 ]; then
    for i in 1 2 3; do [ -s "$tmp/n$i.log" ] && { echo "--- n$i log (tail)"; tail -15 "$tmp/n$i.log"; }; done
    echo "netns.sh: $fails failures (seed $seed, $impair)"
    exit 1
fi
echo "netns.sh: all checks passed (seed $seed, $impair)"
