#!/usr/bin/env bash
# Installs the classic lossless codecs that `snailzip bench` compares against (Debian/Ubuntu).
# FLIF has no Debian package in current releases; bench reports it as skipped when absent.
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update
$sudo apt-get install -y webp libjxl-tools libopenjp2-tools optipng
# optional: FLIF, if the distribution still carries it
$sudo apt-get install -y flif 2>/dev/null || echo "flif not available from apt; it will be skipped"
