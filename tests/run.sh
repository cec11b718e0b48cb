#!/usr/bin/env bash
# Runs every test binary given, then prints the total as "N passed, N failed".
# A binary that crashes or exits non-zero without reporting a FAIL counts as one failure.
passed=0; failed=0; skipped=0
mkdir -p tests/out
for t in "$@"; do
    echo "== $t"
    t0=$SECONDS
    out=$("$t" 2> >(tee tests/out/$(basename "$t").stderr >&2)); rc=$?
    echo "$out"
    p=$(grep -c '^PASS: ' <<<"$out"); f=$(grep -c '^FAIL: ' <<<"$out"); s=$(grep -c '^SKIP: ' <<<"$out")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then echo "FAIL: $t exited with status $rc"; failed=$((failed + 1)); fi
    echo "-- $t took $((SECONDS - t0)) s"   # CI's 30-minute budget: which binary grew
done
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
