#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/compare.sh: libcrdt's bench/crdt-bench against the Rust crdts 7.2.0
# peer harness (../shared/peers/rust-crdts-bench), run alternately on the
# same machine: peer, ours, peer, ours, ... RUNS times each.  Per case, the
# run with the median ns_per_op is kept (the peer's run.sh rule), then a
# table shows ours, the peer's, ratio = peer / ours, and the target of
# issue 3 or 4 for that case and whether the median meets it:
#   issue 3: vclock/gcounter/pncounter merge and vclock_cmp >=10x at 64 and
#            1024 actors, >=4x at 4; lwwreg_merge parity (>=0.9x); then,
#            below the table, vclock_merge actors=1024 within 3x of memcpy
#            bytes=16384, msgpack encode >=5x and decode >=3x of the peer's
#            msgpack_gcounter actors=1024 with no more bytes;
#   issue 4: orswot_merge elems=1000 and elems=100000 >=5x, orswot_add and
#            orswot_rm >=3x, mvreg_merge values=2 and values=4 >=5x; then,
#            below the table, memory: our bytes per element of a
#            MEM_ELEMS-element set (8 actors, 8-byte elements; the target is
#            set at 1,000,000) at most a quarter of the peer's
#            live_bytes_per_elem.  Ours is the larger of the two figures
#            crdt-bench --mem prints (live heap, VmRSS growth); like the
#            timings, the median of the RUNS runs on each side.
#
# Environment (all optional):
#   RUNS=3            alternating runs of each harness
#   PEER_DIR=         the peer harness (default: ../shared/peers/
#                     rust-crdts-bench from the repository root, or from the
#                     main worktree's root when run from a git worktree)
#   BENCH_BIN=        our bench binary (default: bench/crdt-bench under the
#                     current directory, the repository, or its build/)
#   BENCH_FILTER=     comma-separated substrings of our case names; the
#                     peer runs the same case names (PEER_FILTER overrides)
#   BENCH_REP_MS, BENCH_REPS, BENCH_SPINUP_MS   passed to both harnesses
#   MEM_ELEMS=0       elements of the memory case, orswot_mem: the peer's
#                     (run.sh) and ours (crdt-bench --mem); 0 skips it.  It
#                     runs when BENCH_FILTER is empty or names a substring
#                     of "orswot_mem" (BENCH_FILTER=orswot_mem: only it)
#   OUT_DIR=          where raw and median lines are kept (default: a new
#                     temporary directory, printed at the end)
#
# The peer's run.sh installs its Debian packages when missing (needs root)
# and builds with cargo, offline; see its README.md.
set -euo pipefail

die() {
    printf 'compare.sh: %s\n' "$*" >&2
    exit 1
}
log() { printf '# %s\n' "$*" >&2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
RUNS="${RUNS:-3}"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS=$RUNS: expected a positive integer"

# --- the peer harness ---------------------------------------------------------
find_peer() {
    local main
    if [ -n "${PEER_DIR:-}" ]; then
        echo "$PEER_DIR"
        return
    fi
    if [ -d "$repo/../shared/peers/rust-crdts-bench" ]; then
        echo "$repo/../shared/peers/rust-crdts-bench"
        return
    fi
    # In a git worktree, ../shared sits beside the main worktree.
    main="$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
    if [ -n "$main" ] && [ -d "$main/../../shared/peers/rust-crdts-bench" ]; then
        echo "$main/../../shared/peers/rust-crdts-bench"
        return
    fi
    echo "$repo/../shared/peers/rust-crdts-bench"
}
peer_dir="$(find_peer)"
[ -d "$peer_dir" ] || die "peer harness not found at $peer_dir (set PEER_DIR to the rust-crdts-bench directory)"
[ -f "$peer_dir/run.sh" ] || die "$peer_dir has no run.sh (set PEER_DIR to the rust-crdts-bench directory)"
peer_dir="$(cd "$peer_dir" && pwd)"

# --- our bench ------------------------------------------------------------------
find_bench() {
    local c
    for c in "${BENCH_BIN:-}" "$PWD/bench/crdt-bench" "$repo/bench/crdt-bench" "$repo/build/bench/crdt-bench"; do
        [ -n "$c" ] && [ -f "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
    done
    return 1
}
bench_bin="$(find_bench)" || die "bench/crdt-bench not found: build it ('make' in the build directory) or set BENCH_BIN"
if [ -n "${BENCH_BIN:-}" ] && [ "$bench_bin" != "$BENCH_BIN" ]; then
    die "BENCH_BIN=$BENCH_BIN is not an executable file"
fi

MEM_ELEMS="${MEM_ELEMS:-0}"
[[ "$MEM_ELEMS" =~ ^[0-9]+$ ]] || die "MEM_ELEMS=$MEM_ELEMS: expected a number of elements"
# The memory case runs if MEM_ELEMS > 0 and BENCH_FILTER selects the name
# orswot_mem as it selects case names (a comma-separated substring).
mem=0
if [ "$MEM_ELEMS" -gt 0 ]; then
    if [ -z "${BENCH_FILTER:-}" ]; then
        mem=1
    else
        IFS=, read -ra parts <<<"$BENCH_FILTER"
        for p in "${parts[@]}"; do
            if [ -n "$p" ] && [[ orswot_mem == *"$p"* ]]; then mem=1; fi
        done
    fi
fi

if ! our_cases="$("$bench_bin" --list 2>/dev/null)"; then
    # crdt-bench fails when BENCH_FILTER selects none of its timed cases.
    [ "$mem" = 1 ] || die "BENCH_FILTER=${BENCH_FILTER:-} matches none of our cases"
    our_cases=""
fi
[ -n "$our_cases" ] || [ "$mem" = 1 ] ||
    die "BENCH_FILTER=${BENCH_FILTER:-} matches none of our cases"
if [ -z "${PEER_FILTER:-}" ]; then
    # Our case names; our msgpack_vclock is compared with the peer's
    # msgpack_gcounter until we have one of our own.  The peer's run.sh
    # runs its memory case only if its filter names orswot_mem.
    PEER_FILTER="$(printf '%s\n' "$our_cases" | awk -v mem="$mem" '
        NF { n[$1] = 1; if ($1 ~ /^msgpack_/) n["msgpack_gcounter"] = 1 }
        END {
            if (mem) n["orswot_mem"] = 1
            s = ""; for (k in n) s = s (s == "" ? "" : ",") k; print s
        }')"
fi

out="${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/crdt-compare.XXXXXX")}"
mkdir -p "$out"
: > "$out/ours-raw.txt"
: > "$out/peer-raw.txt"
: > "$out/ours-mem-raw.txt"
: > "$out/peer-mem-raw.txt"

log "peer: $peer_dir (BENCH_FILTER=$PEER_FILTER)"
log "ours: $bench_bin (BENCH_FILTER=${BENCH_FILTER:-})"
[ "$mem" = 0 ] || log "memory case: $MEM_ELEMS elements"
log "$RUNS alternating runs each; raw lines in $out"
for i in $(seq 1 "$RUNS"); do
    log "peer run $i/$RUNS"
    if ! RUNS=1 MEM_ELEMS="$([ "$mem" = 1 ] && echo "$MEM_ELEMS" || echo 0)" \
        BENCH_FILTER="$PEER_FILTER" \
        bash "$peer_dir/run.sh" > "$out/peer-run.txt"; then
        die "peer run.sh failed (its messages are above)"
    fi
    grep '^case=' "$out/peer-run.txt" | grep -v '^case=orswot_mem ' >> "$out/peer-raw.txt" ||
        [ -z "$our_cases" ] || die "peer run.sh printed no case lines"
    if [ "$mem" = 1 ]; then
        grep '^case=orswot_mem ' "$out/peer-run.txt" >> "$out/peer-mem-raw.txt" ||
            die "peer run.sh printed no orswot_mem line"
    fi
    log "our run $i/$RUNS"
    if [ -n "$our_cases" ]; then
        if ! "$bench_bin" --lines > "$out/ours-run.txt"; then
            die "$bench_bin failed (its messages are above)"
        fi
        grep '^case=' "$out/ours-run.txt" >> "$out/ours-raw.txt" || die "$bench_bin printed no case lines"
    fi
    if [ "$mem" = 1 ]; then
        if ! "$bench_bin" --mem "$MEM_ELEMS" > "$out/ours-run.txt"; then
            die "$bench_bin --mem $MEM_ELEMS failed (its messages are above)"
        fi
        grep '^case=orswot_mem ' "$out/ours-run.txt" >> "$out/ours-mem-raw.txt" ||
            die "$bench_bin --mem printed no orswot_mem line"
    fi
done
rm -f "$out/peer-run.txt" "$out/ours-run.txt"

# Per case (everything before the first measured field), the line of the
# run with the median of field $2 (default ns_per_op): the same rule as the
# peer's run.sh.
median_lines() {
    awk -v want="${2:-ns_per_op}" '
    /^case=/ {
        key = ""; v = ""
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^(ns_per_op|peak_rss_kb|live_heap_bytes_per_elem|live_bytes_per_elem)=/) break
            key = key (key == "" ? "" : " ") $i
        }
        for (i = 1; i <= NF; i++)
            if (index($i, want "=") == 1) v = substr($i, length(want) + 2)
        if (!(key in n)) { order[++k] = key; n[key] = 0 }
        n[key]++; val[key, n[key]] = v + 0; line[key, n[key]] = $0
    }
    END {
        for (j = 1; j <= k; j++) {
            key = order[j]; m = n[key]
            for (a = 1; a <= m; a++) idx[a] = a
            for (a = 1; a <= m; a++)
                for (b = a + 1; b <= m; b++)
                    if (val[key, idx[b]] < val[key, idx[a]]) { t = idx[a]; idx[a] = idx[b]; idx[b] = t }
            print line[key, idx[int((m + 1) / 2)]] (m > 1 ? " runs=" m : "")
        }
    }' "$1"
}
median_lines "$out/ours-raw.txt" > "$out/ours.txt"
median_lines "$out/peer-raw.txt" > "$out/peer.txt"
# Ours: the larger of the heap and VmRSS figures, as "bytes_per_elem".
awk '{
    h = 0; r = 0
    for (i = 1; i <= NF; i++) {
        if ($i ~ /^live_heap_bytes_per_elem=/) h = substr($i, 26) + 0
        if ($i ~ /^live_bytes_per_elem=/) r = substr($i, 21) + 0
    }
    printf "%s ours_bytes_per_elem=%.1f\n", $0, (h > r ? h : r)
}' "$out/ours-mem-raw.txt" > "$out/ours-mem-all.txt"
median_lines "$out/ours-mem-all.txt" ours_bytes_per_elem > "$out/ours-mem.txt"
median_lines "$out/peer-mem-raw.txt" live_bytes_per_elem > "$out/peer-mem.txt"
rm -f "$out/ours-mem-all.txt"

# --- the table ------------------------------------------------------------------
awk -v runs="$RUNS" -v mem="$mem" -v mem_elems="$MEM_ELEMS" \
    -v ours_mem="$(cat "$out/ours-mem.txt")" -v peer_mem="$(cat "$out/peer-mem.txt")" '
function field(line, name,    i, f, a) {
    f = split(line, a, " ")
    for (i = 1; i <= f; i++)
        if (index(a[i], name "=") == 1) return substr(a[i], length(name) + 2)
    return ""
}
function keyof(line,    i, f, a, k) {
    f = split(line, a, " "); k = ""
    for (i = 1; i <= f && a[i] !~ /^ns_per_op=/; i++) k = k (k == "" ? "" : " ") a[i]
    return k
}
function params(key) { return index(key, " ") ? substr(key, index(key, " ") + 1) : "" }
function x(r) { return r == "" ? "-" : sprintf("%.2fx", r) }
function verdict(ok) { return ok ? "yes" : "NO" }
FILENAME == ARGV[1] { k = keyof($0); peer[k] = $0; c = field($0, "case"); npeer[c]++; bycase[c] = $0; next }
{ k = keyof($0); ours[k] = $0; order[++n] = k }
END {
    printf "libcrdt vs Rust crdts 7.2.0: median of %d alternating runs each; ratio = peer ns / ours ns (higher is better for us)\n\n", runs
    printf "%-17s %-22s %12s %12s %9s  %-16s %s\n", "case", "params", "ours ns/op", "peer ns/op", "ratio", "target", "met"
    for (i = 1; i <= n; i++) {
        k = order[i]; c = field(ours[k], "case"); p = params(k)
        o = field(ours[k], "ns_per_op") + 0
        pl = (k in peer) ? peer[k] : (npeer[c] == 1 ? bycase[c] : "")
        pn = pl == "" ? "" : field(pl, "ns_per_op") + 0
        r = (pn == "" || o <= 0) ? "" : pn / o
        t = "-"; met = "-"
        if (c ~ /^(vclock|gcounter|pncounter)_(merge|cmp)$/ && r != "") {
            a = field(ours[k], "actors") + 0
            need = (a <= 4) ? 4 : 10
            if (a == 4 || a == 64 || a == 1024) { t = ">=" need "x"; met = verdict(r >= need) }
        } else if (c == "lwwreg_merge" && r != "") {
            t = "parity (>=0.9x)"; met = verdict(r >= 0.9)
        } else if (r != "" && ((c == "orswot_merge" && (p ~ /^elems=(1000|100000)( |$)/)) ||
                               (c == "mvreg_merge" && (p ~ /^values=(2|4)( |$)/)))) {
            t = ">=5x (issue 4)"; met = verdict(r >= 5)
        } else if (r != "" && (c == "orswot_add" || c == "orswot_rm")) {
            t = ">=3x (issue 4)"; met = verdict(r >= 3)
        }
        printf "%-17s %-22s %12s %12s %9s  %-16s %s\n", c, p == "" ? "-" : p, field(ours[k], "ns_per_op"), pl == "" ? "-" : field(pl, "ns_per_op"), x(r), t, met
    }
    if (n == 0) printf "(no timed case selected by BENCH_FILTER)\n"

    printf "\nOther targets of issue 3:\n"
    mk = ""; ck = ""
    for (i = 1; i <= n; i++) {
        if (order[i] == "case=vclock_merge actors=1024") mk = order[i]
        if (order[i] == "case=memcpy bytes=16384") ck = order[i]
    }
    if (mk != "" && ck != "") {
        m = field(ours[mk], "ns_per_op") + 0; cp = field(ours[ck], "ns_per_op") + 0
        printf "  vclock_merge actors=1024 %s ns / memcpy of its 16384 bytes %s ns = %.2fx memcpy (target <=3x): %s\n", field(ours[mk], "ns_per_op"), field(ours[ck], "ns_per_op"), m / cp, verdict(m / cp <= 3)
    } else {
        printf "  vclock_merge actors=1024 vs memcpy bytes=16384: not measured (filtered out)\n"
    }
    ok = ""
    for (i = 1; i <= n; i++) if (order[i] == "case=msgpack_gcounter actors=1024") ok = order[i]
    what = "msgpack_gcounter"
    if (ok == "") {
        for (i = 1; i <= n; i++) if (order[i] == "case=msgpack_vclock actors=1024") ok = order[i]
        what = "msgpack_vclock (stand-in: same 1024 actors and counters)"
    }
    pk = "case=msgpack_gcounter actors=1024"
    if (ok != "" && (pk in peer)) {
        oe = field(ours[ok], "enc_ns") + 0; od = field(ours[ok], "dec_ns") + 0
        pe = field(peer[pk], "enc_ns") + 0; pd = field(peer[pk], "dec_ns") + 0
        ob = field(ours[ok], "bytes") + 0; pb = field(peer[pk], "bytes") + 0
        printf "  ours: %s\n", what
        printf "  encode 1024-actor counter: ours %s ns, peer %s ns: %.2fx (target >=5x): %s\n", field(ours[ok], "enc_ns"), field(peer[pk], "enc_ns"), pe / oe, verdict(pe / oe >= 5)
        printf "  decode 1024-actor counter: ours %s ns, peer %s ns: %.2fx (target >=3x): %s\n", field(ours[ok], "dec_ns"), field(peer[pk], "dec_ns"), pd / od, verdict(pd / od >= 3)
        printf "  encoded size: ours %d bytes, peer %d bytes (target: no more bytes): %s\n", ob, pb, verdict(ob <= pb)
    } else {
        printf "  msgpack encode/decode vs the peer msgpack_gcounter: not measured (filtered out)\n"
    }

    printf "\nOther targets of issue 4:\n"
    if (!mem) {
        printf "  memory per element of a 1,000,000-element set: not measured (MEM_ELEMS=0 or filtered out)\n"
    } else if (ours_mem == "" || peer_mem == "") {
        printf "  memory per element: missing line (ours: %s; peer: %s)\n", ours_mem == "" ? "none" : "ok", peer_mem == "" ? "none" : "ok"
    } else {
        ob = field(ours_mem, "ours_bytes_per_elem") + 0
        pb = field(peer_mem, "live_bytes_per_elem") + 0
        printf "  memory per element, %d-element set, 8 actors: ours %s B (live heap %s, VmRSS growth %s), peer live %s B: %.1f%% of the peer (target <=25%%): %s%s\n", mem_elems, field(ours_mem, "ours_bytes_per_elem"), field(ours_mem, "live_heap_bytes_per_elem"), field(ours_mem, "live_bytes_per_elem"), field(peer_mem, "live_bytes_per_elem"), (pb > 0 ? 100 * ob / pb : 0), verdict(pb > 0 && ob * 4 <= pb), (mem_elems == 1000000 ? "" : " (the target is set at 1,000,000 elements)")
    }
    printf "\nTimings on a shared machine are noisy; see the spread_pct of each run in the raw lines.\n"
}' "$out/peer.txt" "$out/ours.txt"
log "median lines: $out/ours.txt, $out/peer.txt; every run: $out/ours-raw.txt, $out/peer-raw.txt"
[ "$mem" = 0 ] || log "memory: $out/ours-mem.txt, $out/peer-mem.txt; every run: $out/ours-mem-raw.txt, $out/peer-mem-raw.txt"
