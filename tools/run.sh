#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's quick start.  On a Debian 12 machine as root:
#   bash tools/run.sh bench   installs what is missing, builds from scratch,
#                             prints the benchmark tables (data types, then
#                             the gossip engine), runs a simulated cluster
#                             and draws the spread plot
#   bash tools/run.sh test    installs what is missing, builds from scratch,
#                             runs every test (Check suites, examples, CLI,
#                             Python interop, the Python bindings' suite,
#                             exports, install + pkg-config, make distcheck)
# Extra arguments after "bench" go to both bench/crdt-bench runs (e.g.
# --json).  GOSSIP_RUNS, GOSSIP_NODES (see bench/README.md) shorten the
# gossip section.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-}"
shift || true
jobs="$(nproc 2>/dev/null || echo 2)"

log() { printf '== %s\n' "$*" >&2; }

# Debian packages the build and the tests need (by dpkg name).
deps=(autoconf automake libtool pkg-config make gcc libc6-dev
      libmsgpack-dev libxxhash-dev libsodium-dev libjansson-dev libuv1-dev liblmdb-dev check
      python3 python3-msgpack python3-xxhash python3-pytest valgrind
      python3-dev python3-setuptools python3-hypothesis
      iproute2 nftables)

install_missing() {
    local need=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed' || need+=("$p")
    done
    [ "${#need[@]}" -eq 0 ] && return 0
    log "installing Debian packages: ${need[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "run.sh: need root to apt-get install ${need[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
}

# Fresh out-of-tree build in $1 with extra configure arguments.
build() {
    local dir="$1"
    shift
    log "building in $dir"
    (cd "$root" && autoreconf -fi >/dev/null 2>&1) ||
        { (cd "$root" && autoreconf -fi); exit 1; }
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$dir" && "$root/configure" -q --enable-werror "$@" &&
        make -s -j"$jobs")
}

case "$cmd" in
bench)
    install_missing "${deps[@]}" gnuplot-nox
    build "$root/build/release"
    rel="$root/build/release"
    log "data types (bench/crdt-bench)"
    "$rel/bench/crdt-bench" "$@"
    log "gossip engine (bench/crdt-bench --gossip)"
    "$rel/bench/crdt-bench" --gossip --curve "$rel/spread.dat" "$@"
    log "a simulated cluster: examples/scenarios/demo.jsonl"
    "$rel/tools/crdt" sim "$root/examples/scenarios/demo.jsonl" \
        >"$rel/demo.json" || true
    python3 - "$rel/demo.json" "$root/examples/scenarios/demo.jsonl" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
cfg, ev = lines[0], lines[1:]
n, loss = cfg["nodes"], cfg.get("loss", 0)
theory = math.log(n, 3) + math.log(math.log(n))
print(json.dumps(r))
print("%d nodes, %d%% loss: a partition healed at %.1f s, node %d crashed "
      "and came back without its state, %d writes in all"
      % (n, loss * 100, next(e["t"] for e in ev if "heal" in e) / 1000,
         next(e["crash"] for e in ev if "crash" in e),
         sum(1 for e in ev if "node" in e)))
if r["converged"]:
    print("converged at %.2f s simulated, %d rounds after the last event; "
          "%d datagrams, %.1f MB" % (r["converged_ms"] / 1000, r["rounds"],
                                     r["messages"], r["bytes"] / 1e6))
else:
    print("NOT converged")
print("theory for one update through %d nodes, push-pull without loss: "
      "log3(N) + ln ln N = %.1f rounds (the spread rows above measure it)"
      % (n, theory))
PY
    if command -v gnuplot >/dev/null; then
        gnuplot -e "data='$rel/spread.dat'; out='$rel/spread.png'" \
            "$root/tools/spread.gp" && log "plot: $rel/spread.png"
    fi
    log "crdt-node end to end: 3 nodes on loopback (bench/crdt-node-bench)"
    nb=()  # of the arguments, the ones crdt-node-bench shares
    for a in "$@"; do case "$a" in --json|--quick) nb+=("$a") ;; esac; done
    "$rel/bench/crdt-node-bench" --node-bin "$rel/tools/crdt-node" ${nb[@]+"${nb[@]}"}
    ;;
test)
    install_missing "${deps[@]}"
    build "$root/build/release"
    cd "$root/build/release"
    log "make check"
    make -s -j"$jobs" check || { cat tests/*.log bindings/python/*.log >&2 || true; exit 1; }
    # Check's own summary lines for every suite, then the other suites'
    # (the Python bindings' log is bindings/python/check.log).
    logs="tests/*.log $(ls bindings/python/*.log 2>/dev/null || true)"
    grep -h '^[0-9]*%: Checks' tests/*.log
    grep -hE '^[a-z0-9_-]+: [0-9]+ passed, [0-9]+ failed' $logs || true
    log "exported symbols and writable data"
    bash "$root/tests/exports.sh" "$root" "$root/build/release"
    log "install into a temporary prefix, build a program with pkg-config"
    bash "$root/tests/install.sh" "$root" "$root/build/release"
    log "pip install of the Python bindings against that install"
    bash "$root/bindings/python/install-test.sh" "$root" "$root/build/release"
    log "make distcheck"
    make -s -j"$jobs" distcheck >distcheck.log 2>&1 ||
        { tail -50 distcheck.log >&2; exit 1; }
    # One total: Check's checks plus every "suite: N passed, M failed" line.
    summary="$(grep -hE '^[0-9]*%: Checks|^[a-z0-9_-]+: [0-9]+ passed, [0-9]+ failed' \
        $logs | tr -d ',' | awk '
        /Checks:/ { p += $3 - $5 - $7; f += $5 + $7; next }
        { p += $2; f += $4 }
        END { print p + 0, f + 0 }')"
    set -- $summary
    echo "all tests: $1 passed, $2 failed"
    ;;
*)
    echo "usage: bash tools/run.sh bench [crdt-bench args] | test" >&2
    exit 2
    ;;
esac
