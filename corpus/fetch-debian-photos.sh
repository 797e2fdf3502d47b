#!/usr/bin/env bash
# Assembles the Debian part of the photo training corpus: downloads the packages named in
# photos-debian.tsv with `apt-get download`, extracts only the listed photos into DIR
# (default: ~/.cache/snailzip/photos/debian), named PACKAGE__PATH (below /usr/share, with
# every character other than letters, digits, '.', '_' and '-' as '_'), and verifies every
# sha256. Needs apt-get (Debian 12 package lists: run `apt-get update` first), dpkg-deb
# and sha256sum. Idempotent: files that already verify are kept.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-${HOME}/.cache/snailzip/photos/debian}"
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
manifest="$dir/debian.sha256"
: >"$manifest.tmp"
# package  version  path  size  format  quality  sha256 (an empty field becomes "-", since
# `read` would merge two tabs)
tail -n +2 "$here/photos-debian.tsv" | sed "s/\t\t/\t-\t/g" | while IFS=$'\t' read -r pkg ver path _size _fmt _q sha; do
    # unique, shell- and sha256sum-safe name: package, then the path below /usr/share
    name="${pkg}__$(echo "${path#/usr/share/}" | tr -c 'A-Za-z0-9._\n-' '_' | tr '/' '_')"
    echo "$sha  $name" >>"$manifest.tmp"
    if [ -f "$dir/$name" ] && echo "$sha  $dir/$name" | sha256sum -c --quiet - 2>/dev/null; then
        continue
    fi
    deb=$(ls "$work/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        (cd "$work" && apt-get download -q "$pkg=$ver" >/dev/null 2>&1 || apt-get download -q "$pkg")
        deb=$(ls "$work/${pkg}_"*.deb | head -n1)
        mkdir -p "$work/$pkg"
        dpkg-deb -x "$deb" "$work/$pkg"
    fi
    cp "$work/$pkg$path" "$dir/$name.part"
    mv "$dir/$name.part" "$dir/$name"
done
mv "$manifest.tmp" "$manifest"
(cd "$dir" && sha256sum -c --quiet debian.sha256)
echo "$(wc -l <"$manifest") Debian photos verified in $dir"
