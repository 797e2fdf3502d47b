#!/usr/bin/env bash
# Downloads the benchmark corpora from their official sources into DIR (default:
# ${SNAILZIP_DATA:-../shared/data}) and verifies them. Needs curl, tar, md5sum, sha256sum.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-${SNAILZIP_DATA:-../shared/data}}"
mkdir -p "$dir/kodak"
cd "$dir"

if [ ! -f cifar-10-batches-bin/test_batch.bin ]; then
    curl -fL -o cifar-10-binary.tar.gz https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
    # checksum published on https://www.cs.toronto.edu/~kriz/cifar.html
    echo "c32a1d4ab5d03f1284b67883e8d87530  cifar-10-binary.tar.gz" | md5sum -c -
    tar xzf cifar-10-binary.tar.gz
    rm cifar-10-binary.tar.gz
fi
for n in $(seq -w 1 24); do
    f="kodak/kodim$n.png"
    [ -f "$f" ] || curl -fL -o "$f" "https://r0k.us/graphics/kodak/kodak/kodim$n.png"
done
sha256sum -c "$here/kodak.sha256"
echo "data ready in $dir (export SNAILZIP_DATA=$dir)"
