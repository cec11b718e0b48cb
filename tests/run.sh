#!/usr/bin/env bash
# Runs every test binary given, then prints the total as "N passed, N failed".
# OCTET_TEST_SKIP="test_kernels test_serve.sh ..." leaves those out (a shorter run; CI's no-../shared stage).
# A binary that crashes or exits non-zero without reporting a FAIL counts as one failure.
passed=0; failed=0; skipped=0
mkdir -p tests/out
for t in "$@"; do
    echo "== $t"
    # OCTET_TEST_SKIP: test binaries or scripts (by name) left out of this run, each said as a skip
    if [[ " ${OCTET_TEST_SKIP:-} " == *" $(basename "$t") "* ]]; then
        echo "SKIP: $(basename "$t") (left out by OCTET_TEST_SKIP)"; skipped=$((skipped + 1)); continue
    fi
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
