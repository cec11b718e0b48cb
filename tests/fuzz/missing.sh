#!/usr/bin/env bash
# usage: tests/fuzz/missing.sh NAME — prints the data files harness NAME needs (tests/fuzz/needs)
# that build/fuzz/data lacks and exits 0 when some are missing; exits 1 when it has them all.
cd "$(dirname "$0")/../.."
missing=()
for f in $(sed -n "s/^$1: //p" tests/fuzz/needs); do [ -e "build/fuzz/data/$f" ] || missing+=("$f"); done
[ ${#missing[@]} -gt 0 ] && echo "${missing[*]}"
