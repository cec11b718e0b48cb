#!/usr/bin/env bash
# Every input a fuzz harness ever crashed on (tests/fuzz/regressions/NAME) and every seed, run
# once through its harness with ASan and UBSan: each finding stays fixed. Needs clang with
# libFuzzer (Debian: clang, libclang-rt-14-dev); SKIP without it. A harness whose data comes from
# ../shared (tests/fuzz/needs) is skipped by name without it.
cd "$(dirname "$0")/.."
if ! command -v clang >/dev/null || ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }' |
        clang -fsanitize=fuzzer -x c - -o build/fuzz-probe 2>/dev/null; then
    echo "SKIP: fuzz_regressions (needs clang with libFuzzer: apt-get install clang libclang-rt-14-dev)"
    exit 0
fi
rm -f build/fuzz-probe
if ! make -s fuzz-build >build/fuzz-build.log 2>&1; then echo "FAIL: fuzz_regressions: make fuzz-build failed"; tail -5 build/fuzz-build.log; exit 1; fi
for h in build/fuzz/fuzz_*; do
    n=${h##*/fuzz_}
    if missing=$(bash tests/fuzz/missing.sh "$n"); then echo "SKIP: fuzz_regressions_$n (needs $missing: made from ../shared)"; continue; fi
    dirs=(build/fuzz/seeds/$n)
    [ -d tests/fuzz/regressions/$n ] && dirs+=(tests/fuzz/regressions/$n)
    if out=$("$h" -runs=0 -timeout=10 "${dirs[@]}" 2>&1); then
        echo "PASS: fuzz_regressions_$n ($(find "${dirs[@]}" -type f | wc -l) inputs)"
    else
        echo "FAIL: fuzz_regressions_$n"; grep -m3 -E 'ERROR|runtime error|SUMMARY' <<<"$out" | sed 's/^/  /'
    fi
done
