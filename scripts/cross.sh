#!/usr/bin/env bash
# Cross-architecture check of "decodes bit-exactly on any machine": builds the codec without
# the trainer (--no-default-features: no dfdx) for aarch64 (little-endian, no x86 kernels)
# and s390x (big-endian), and runs under qemu-user the tests that pin the arithmetic and the
# format: the golden hashes and bytes (it::determinism), the x86-64-written .snz files of
# every version and built-in model decoded in process (it::golden), the fuzz seeds (every
# container version), the malformed-input corpus (it::regressions), and the library's
# bit-exactness unit tests (f16 cache, kernels at every available level, container,
# weights).
#
# On 2026-12-02, on the 2-core development machine (shared with other builds), from a cold
# target folder: aarch64 built in 272 s and tested in 30 s, s390x built in 358 s and tested
# in 142 s (qemu emulates s390x much more slowly), 13 min 22 s in all; run again with the
# builds in place, 5 min 18 s (aarch64 tests 48 s, s390x 216 s); everything passed.
# .ci/run calls it only with SNAILZIP_CROSS set.
#
# Installs what is missing: the rustup targets and, with apt-get (as root), qemu-user and the
# cross gcc/libc. Usage: scripts/cross.sh [TARGET...] (default: both targets).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-unknown-linux-gnu s390x-unknown-linux-gnu)

# target -> gnu prefix, qemu binary, Debian packages
prefix_of() { case "$1" in
    aarch64-unknown-linux-gnu) echo aarch64-linux-gnu ;;
    s390x-unknown-linux-gnu) echo s390x-linux-gnu ;;
    *) echo "cross.sh: unsupported target $1" >&2; exit 2 ;;
esac; }
qemu_of() { echo "qemu-${1%%-*}"; }
packages_of() { case "$1" in
    aarch64-unknown-linux-gnu) echo gcc-aarch64-linux-gnu libc6-dev-arm64-cross ;;
    s390x-unknown-linux-gnu) echo gcc-s390x-linux-gnu libc6-dev-s390x-cross ;;
esac; }

missing=()
for t in "${targets[@]}"; do
    p=$(prefix_of "$t")
    if ! command -v "$p-gcc" >/dev/null 2>&1 || [ ! -d "/usr/$p/lib" ]; then
        read -ra pk <<<"$(packages_of "$t")"
        missing+=("${pk[@]}")
    fi
    command -v "$(qemu_of "$t")" >/dev/null 2>&1 || missing+=(qemu-user)
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

status=0
for t in "${targets[@]}"; do
    p=$(prefix_of "$t")
    var=$(tr 'a-z-' 'A-Z_' <<<"$t")
    export "CARGO_TARGET_${var}_LINKER=$p-gcc"
    export "CARGO_TARGET_${var}_RUNNER=$(qemu_of "$t") -L /usr/$p"
    export "CC_${t//-/_}=$p-gcc"
    start=$(date +%s)
    echo "== $t: build"
    cargo test --no-default-features --target "$t" --lib --test main --no-run --quiet
    built=$(date +%s)
    echo "== $t: library bit-exactness tests"
    cargo test --no-default-features --target "$t" --lib -- \
        arith:: engine:: codec::container codec::mixture weights:: || status=1
    echo "== $t: golden hashes, x86-64 files, fuzz seeds"
    cargo test --no-default-features --target "$t" --test main -- \
        it::determinism it::golden it::fuzz_seeds it::regressions || status=1
    echo "== $t: built in $((built - start)) s, tested in $(($(date +%s) - built)) s"
done
exit $status
