#!/usr/bin/env bash
# Runs every fuzz harness (or those named) for SECONDS each, two at a time, on its corpus
# (build/fuzz/corpus/NAME, grown run after run) plus the seeds. Any crash, leak, UB report or
# input slower than 10 s fails the run; the finding is saved as build/fuzz/crashes/NAME-*.
# Prints one line per harness: runs, execs/s, coverage (edges and features), corpus size.
# usage: tests/fuzz/run.sh SECONDS [NAME...]
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=$1; shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=($(ls build/fuzz/fuzz_* | sed 's|.*/fuzz_||'))
mkdir -p build/fuzz/crashes build/fuzz/logs
run_one() {
    local n=$1 secs=$2 missing
    if missing=$(bash tests/fuzz/missing.sh "$n"); then printf 'SKIP: fuzz_%s (needs %s: made from ../shared)\n' "$n" "$missing"; return; fi
    mkdir -p "build/fuzz/corpus/$n"
    build/fuzz/fuzz_$n -max_total_time="$secs" -timeout=10 -rss_limit_mb=3072 -max_len=1048576 -print_final_stats=1 \
        -artifact_prefix="build/fuzz/crashes/$n-" "build/fuzz/corpus/$n" "build/fuzz/seeds/$n" $(ls -d tests/fuzz/regressions/$n 2>/dev/null) >"build/fuzz/logs/$n.log" 2>&1
    local rc=$?
    local execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build/fuzz/logs/$n.log")
    local speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "build/fuzz/logs/$n.log")
    local cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "build/fuzz/logs/$n.log" | tail -1)
    if [ $rc -eq 0 ]; then
        printf 'PASS: fuzz_%s: %s s, %s runs, %s exec/s, %s\n' "$n" "$secs" "${execs:-?}" "${speed:-?}" "${cov:-?}"
    else
        printf 'FAIL: fuzz_%s: exit %d after %s runs (build/fuzz/logs/%s.log):\n' "$n" $rc "${execs:-?}" "$n"
        grep -m3 -E 'ERROR|runtime error|SUMMARY|Test unit written|abort' "build/fuzz/logs/$n.log" | sed 's/^/  /'
    fi
}
export -f run_one
out=$(printf '%s\n' "${names[@]}" | xargs -P "$(nproc)" -I{} bash -c "run_one {} $secs")
echo "$out"
! grep -q '^FAIL' <<<"$out"
