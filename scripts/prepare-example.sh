#!/usr/bin/env bash
# Puts Debian's static busybox into the example app's build context (manifests/hello/),
# which Luma then builds as the Image `hello`. Offline: the image is FROM scratch.
set -euo pipefail
cd "$(dirname "$0")/../manifests/hello"
cmp -s /bin/busybox ./busybox 2>/dev/null || cp /bin/busybox ./busybox
