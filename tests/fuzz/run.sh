#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang in build/fuzz and runs each for
# SECONDS (default 60), one after the other, printing the executions per
# target from libFuzzer's final stats.
#
#   bash tests/fuzz/run.sh [SECONDS] [TYPE...]
#
# Each target starts from its seed corpus (tests/fuzz/corpus/<type>) and
# crash regressions (tests/fuzz/regress/<type>); new inputs go to
# build/fuzz/corpus/<type>, crashes to build/fuzz/artifacts/<type>/.  A
# crash fails the run (exit 1) after all targets ran; minimise one with
#   build/fuzz/tests/fuzz/fuzz_<type> -minimize_crash=1 -runs=100000 CRASH
# and add it under tests/fuzz/regress/<type>/ with the fix.
# As root on Debian it installs clang and libFuzzer if they are missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
secs="${1:-60}"
shift || true
bld="$root/build/fuzz"
jobs=2

log() { printf '== %s\n' "$*" >&2; }

# The build's own dependencies (as tools/run.sh) plus clang and libFuzzer.
deps=(autoconf automake libtool pkg-config make libc6-dev libmsgpack-dev
      libxxhash-dev libsodium-dev libjansson-dev libuv1-dev liblmdb-dev check clang
      libclang-rt-14-dev)
need=()
for p in "${deps[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "run.sh: need root to apt-get install ${need[*]}" >&2
        exit 1
    fi
    log "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

log "building the fuzz targets with clang in $bld"
(cd "$root" && autoreconf -fi >/dev/null 2>&1) || (cd "$root" && autoreconf -fi)
mkdir -p "$bld"
(cd "$bld" && "$root/configure" -q --enable-fuzzing --disable-shared \
    --enable-werror CC=clang && make -s -j"$jobs")

if [ "$#" -eq 0 ]; then
    set -- $(cd "$bld/tests/fuzz" && ls fuzz_* | grep -v '\.' | sed 's/^fuzz_//')
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
failed=()
summary=()
for t in "$@"; do
    bin="$bld/tests/fuzz/fuzz_$t"
    work="$bld/corpus/$t"
    art="$bld/artifacts/$t"
    mkdir -p "$work" "$art"
    dirs=("$work" "$root/tests/fuzz/corpus/$t")
    [ -d "$root/tests/fuzz/regress/$t" ] && dirs+=("$root/tests/fuzz/regress/$t")
    log "fuzzing $t for $secs s"
    rc=0
    "$bin" -max_len=4096 -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -use_value_profile=1 -print_final_stats=1 \
        -artifact_prefix="$art/" "${dirs[@]}" >"$bld/fuzz_$t.log" 2>&1 || rc=$?
    # (A crash on the first input leaves no coverage line: not an error.)
    execs="$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$bld/fuzz_$t.log")"
    rate="$(awk '/^stat::average_exec_per_sec:/ { print $2 }' "$bld/fuzz_$t.log")"
    added="$(awk '/^stat::new_units_added:/ { print $2 }' "$bld/fuzz_$t.log")"
    cov="$( (grep -o 'cov: [0-9]*' "$bld/fuzz_$t.log" || true) | tail -1 | cut -d' ' -f2)"
    line="fuzz $t: ${execs:-?} executions in $secs s (${rate:-?}/s), coverage ${cov:-?}, ${added:-?} new inputs"
    if [ "$rc" -ne 0 ]; then
        line="$line, CRASH (exit $rc): $(ls "$art" | tr '\n' ' ')"
        failed+=("$t")
        grep -m1 -A30 'ERROR\|ORACLE FAILURE\|runtime error' "$bld/fuzz_$t.log" >&2 || true
    fi
    echo "$line"
    summary+=("$line")
done

echo "== summary (logs in $bld/fuzz_<type>.log)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashes in: ${failed[*]}" >&2
    exit 1
fi
