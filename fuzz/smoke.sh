#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) from its seeds and prints one line per
# target: executions, seconds, crashes. Usage: fuzz/smoke.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
export RUSTC_BOOTSTRAP=1
cargo fuzz build >/dev/null 2>&1 || { echo "cargo fuzz build failed"; exit 1; }
status=0
for t in $(cargo fuzz list); do
    mkdir -p "corpus/$t"
    log="artifacts/$t.log"
    mkdir -p artifacts
    cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    crashes=$(find "artifacts/$t" -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' 2>/dev/null | wc -l)
    echo "$t: ${runs:-?} executions in ${secs} s, exit $rc, $crashes crash/oom/timeout files"
    [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] || status=1
done
exit $status
