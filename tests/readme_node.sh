#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the first two shell blocks of README.md's "crdt-node" section as
# written, but on free ports and in a temporary directory, with crdt-node
# and crdt from the build: the four commands that start a 3-node cluster,
# then the client commands, whose outputs are checked.  127.0.0.1 only;
# stops by itself (an EXIT trap kills the nodes).
set -u
cli="${CRDT_CLI:?}"
nodebin="${CRDT_NODE:?}"
. "$(dirname "$0")/libtool_resolve.sh"
resolve_program cli
resolve_program nodebin
readme="${srcdir:-$(dirname "$0")/..}/README.md"
tmp="$(mktemp -d /tmp/crdt-readme-node.XXXXXX)"
pids=()
cleanup() { local p; for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
base=$(( 30000 + (RANDOM * 3 + $$) % 30000 ))

# the blocks: from the section heading, the first two ```sh ... ``` blocks
awk '/^## crdt-node/{on=1} on && /^```sh$/{n++; inb=1; next} inb && /^```$/{inb=0; if (n==2) exit; next} inb{print > ("'"$tmp"'/block" n ".sh")}' "$readme"
[ -s "$tmp/block1.sh" ] && [ -s "$tmp/block2.sh" ] || { echo "readme_node.sh: blocks not found in $readme"; exit 1; }
for f in "$tmp"/block1.sh "$tmp"/block2.sh; do
    sed -i -e "s/7001/$((base + 1))/g; s/7002/$((base + 2))/g; s/7003/$((base + 3))/g" \
        -e "s|^crdt-node |\"\$CRDT_NODE\" |; s|^crdt client |\"\$CRDT_CLI\" client |" "$f"
done
cd "$tmp"
export CRDT_CLI="$cli" CRDT_NODE="$nodebin"
# the four commands, each in this shell (the nodes log to a file)
while IFS= read -r line; do
    [ -z "$line" ] && continue
    case "$line" in
    *'&') eval "${line%&} 2>>nodes.log >/dev/null &"; pids+=($!) ;;
    *) eval "$line" ;;
    esac
done < block1.sh
check_started=${#pids[@]}
for t in $(seq 100); do
    [ -S c/client.sock ] && "$cli" client --node c/client.sock status 2>/dev/null |
        grep -q '"peers_up":2' && [ -S a/client.sock ] &&
        "$cli" client --node a/client.sock status | grep -q '"peers_up":2' && break
    sleep 0.1
done
fails=0
check() { if ! eval "$1"; then echo "FAIL: $2"; fails=$((fails + 1)); fi; }
check "[ $check_started -eq 3 ]" "the block starts 3 nodes in the background"
check "grep -Eq '^crdt-key v1 [0-9a-f]{8} [0-9a-f]{64}\$' cluster.key" "keygen wrote a key line"
# the client block, line by line (watch runs in the background, bounded)
mapfile -t lines < <(grep -v '^$' block2.sh)
check "[ \${#lines[@]} -eq 6 ]" "the client block has 6 commands"
eval "${lines[0]}" >out0 2>&1; check "[ $? -eq 0 ]" "inc at quorum: $(cat out0)"
eval "${lines[1]}" >out1 2>&1; check "[ $? -eq 0 ]" "add with a session: $(cat out1)"
eval "${lines[2]}" >out2 2>&1; check "[ \"\$(cat out2)\" = apple ]" "session read on another node sees apple: '$(cat out2)'"
ok=0
for t in $(seq 50); do eval "${lines[3]}" >out3 2>&1; [ "$(cat out3)" = 1 ] && { ok=1; break; }; sleep 0.1; done
check "[ $ok -eq 1 ]" "get visits on c gives 1: '$(cat out3)'"
eval "${lines[4]}" >out4 2>&1
check "/usr/bin/python3 -c 'import json,sys; d=json.load(open(\"out4\")); sys.exit(0 if d[\"peers_up\"]==2 and d[\"name\"]==\"a\" else 1)'" "status is JSON with 2 peers up: $(head -c 300 out4)"
( eval "timeout 3 ${lines[5]%%#*}" >out5 2>&1 ) &
wpid=$!
sleep 0.5
"$cli" client --node b/client.sock add cart pear >/dev/null
wait $wpid
check "[ \$(wc -l < out5) -ge 2 ]" "watch printed the state and the change: $(cat out5)"
check "grep -q '\"key\":' out5 && tail -1 out5 | grep -q pear" "watch's last line has the key and pear: $(tail -1 out5)"
check "tail -1 out5 | /usr/bin/python3 -c 'import json,sys; json.loads(sys.stdin.read())'" "watch lines are JSON"
[ $fails -eq 0 ] || { tail -20 nodes.log; exit 1; }
echo "readme_node.sh: the README's cluster and client commands work"
