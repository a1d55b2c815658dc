#!/usr/bin/env bash
# Builds the example app's image from manifests/hello/ with the host's static busybox.
# Offline: FROM scratch needs no registry.
set -euo pipefail
cd "$(dirname "$0")/../manifests/hello"
cp /bin/busybox ./busybox
if ! out=$(docker build -q -t luma-example/hello:latest . 2>&1); then echo "$out" >&2; exit 1; fi
echo "built luma-example/hello:latest" >&2
