#!/usr/bin/env bash
# The kernel tests of the AArch64 build (make aarch64) under qemu: the NEON and dotprod sets
# against the scalar reference, bit for bit, on the same inputs as the x86 sets.
bin=build/aarch64/tests/test_kernels
if [ ! -x "$bin" ] || ! command -v qemu-aarch64 >/dev/null; then
    echo "SKIP: aarch64_kernels (needs aarch64-linux-gnu-gcc and qemu-aarch64: apt-get install gcc-aarch64-linux-gnu qemu-user)"
    exit 0
fi
exec qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin"
