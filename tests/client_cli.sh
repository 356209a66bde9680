#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `crdt client` against one crdt-node on 127.0.0.1: every verb on every
# type it applies to, `get` printing exactly what `crdt value` prints for
# the same state, and the exit statuses (0 done, 1 error with one line on
# stderr, 2 usage, 4 not met in time).  Stops by itself.
set -u
cli="${CRDT_CLI:?}"
nodebin="${CRDT_NODE:?}"
. "$(dirname "$0")/libtool_resolve.sh"
resolve_program cli
resolve_program nodebin
tmp="$(mktemp -d /tmp/crdt-client-test.XXXXXX)"
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
n=0
# expect STATUS OUTPUT -- ARGS...: runs crdt client ARGS, checks both
expect() {
    local want_rc="$1" want_out="$2" out rc
    shift 3
    n=$((n + 1))
    out="$("$cli" client --node "$tmp/d/client.sock" "$@" 2>"$tmp/err")"
    rc=$?
    if [ "$rc" != "$want_rc" ] || { [ "$want_out" != '*' ] && [ "$out" != "$want_out" ]; }; then
        echo "FAIL: crdt client $*: exit $rc (want $want_rc), output '$out' (want '$want_out'), stderr: $(cat "$tmp/err")"
        fails=$((fails + 1))
    elif [ "$rc" -ne 0 ] && [ "$(wc -l < "$tmp/err")" -ne 1 ]; then
        echo "FAIL: crdt client $*: stderr is not one line: $(cat "$tmp/err")"
        fails=$((fails + 1))
    fi
}
"$nodebin" keygen > "$tmp/k"
port=$(( 40000 + (RANDOM + $$) % 20000 ))
"$nodebin" --name solo --listen "127.0.0.1:$port" --data "$tmp/d" \
    --key-file "$tmp/k" --log-level error 2>"$tmp/log" &
pid=$!
for t in $(seq 50); do [ -S "$tmp/d/client.sock" ] && break; sleep 0.1; done

expect 0 '' -- inc g
expect 0 '' -- inc g --by 41
expect 0 42 -- get g
expect 0 '' -- dec p --by 5
expect 0 '' -- inc p --by 2 --type pncounter
expect 0 -3 -- get p
expect 1 '' -- dec g                      # dec does not apply to a gcounter
expect 1 '' -- add g x                    # nor add: the key is a gcounter
expect 1 '' -- inc s --type orset         # inc on a new orset
expect 0 '' -- set r hello
expect 0 hello -- get r
expect 0 '' -- set m one --type mvreg
expect 0 one -- get m
expect 0 '' -- add s b
expect 0 '' -- add s a --consistency local
expect 0 "$(printf 'a\nb')" -- get s
expect 0 '' -- remove s a
expect 0 b -- get s
expect 0 '' -- add gs x --type gset
expect 1 '' -- remove gs x               # a gset has no remove
expect 0 '' -- enable f
expect 0 true -- get f
expect 0 '' -- disable f
expect 0 false -- get f
expect 0 '' -- disable dw --type dwflag
expect 0 false -- get dw
expect 1 '' -- set g 5 --type lww        # another type than the key's
expect 1 '' -- get nokey                 # never written
expect 0 '' -- inc q --consistency quorum   # one node: quorum of 1
expect 0 '' -- inc q --consistency all
expect 0 2 -- get q --consistency all
expect 2 '' -- frob k                    # unknown verb
expect 2 '' -- inc                       # missing key
expect 2 '' -- set k                     # missing value
expect 2 '' -- inc k --consistency most  # unknown level
expect 2 '' -- inc k --timeout -1
expect 2 '' -- get k --by 3              # --by applies to inc and dec
expect 1 '' -- inc k --type blob         # unknown type: the node says so
# get prints what `crdt value` prints for the same state
for key in g p r m s gs f dw; do
    n=$((n + 1))
    a="$("$cli" client --node "$tmp/d/client.sock" get "$key")"
    b="$(/usr/bin/python3 - "$tmp/d/client.sock" "$key" <<'PY' | "$cli" value
import socket, struct, sys, msgpack
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
body = msgpack.packb({"v": 1, "id": 7, "op": "get", "key": sys.argv[2].encode()})
s.sendall(struct.pack(">I", len(body)) + body)
buf = b""
while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
    buf += s.recv(65536)
rep = msgpack.unpackb(buf[4:], raw=False)
assert rep["ok"] and rep["id"] == 7, rep
sys.stdout.buffer.write(rep["state"])
PY
)"
    [ "$a" = "$b" ] || { echo "FAIL: get $key printed '$a', crdt value of its state '$b'"; fails=$((fails + 1)); }
done
# no node at the socket: exit 1, one line
n=$((n + 1))
"$cli" client --node "$tmp/nonexistent.sock" get g 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] ||
    { echo "FAIL: no node: exit $rc, stderr $(cat "$tmp/err")"; fails=$((fails + 1)); }
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ $rc -eq 0 ] || { echo "FAIL: SIGTERM exit $rc: $(tail -3 "$tmp/log")"; fails=$((fails + 1)); }
[ $fails -eq 0 ] || { echo "client_cli.sh: $fails of $n checks failed"; exit 1; }
echo "client_cli.sh: $n checks passed"
