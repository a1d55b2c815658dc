#!/usr/bin/env bash
# Builds the image of the gRPC end-to-end test (test/e2e/grpc.test.ts): Debian's
# python3-grpcio on a debootstrapped minbase root, `docker import`ed (nothing is pulled
# from a registry), plus test/fixtures/grpc/server.py. Prints the image's tag.
#
# Both images are tagged with a hash of what they are made from and kept: the root
# (minutes: debootstrap downloads about 100 packages) is built once per machine and
# whenever this script changes; the server layer (a second) whenever server.py changes.
# Concurrent callers wait for one another on a lock rather than build twice.
#
#   LUMA_DEBIAN_MIRROR  the Debian mirror (default http://deb.debian.org/debian)
#   LUMA_DEBIAN_SUITE   the release (default bookworm)
set -euo pipefail
cd "$(dirname "$0")/.."

MIRROR="${LUMA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE="${LUMA_DEBIAN_SUITE:-bookworm}"
SERVER=test/fixtures/grpc/server.py
CACHE_LABEL=luma.dev/test-cache=grpc

say() { printf 'grpc-test-image: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
sha() { sha256sum | cut -c1-16; }

root_hash="$( { cat "$0"; echo "$MIRROR $SUITE"; } | sha)"
root_image="luma-test-grpc-root:$root_hash"
app_hash="$( { echo "$root_hash"; cat "$SERVER"; } | sha)"
app_image="luma-test-grpc:$app_hash"

present() { docker image inspect "$1" >/dev/null 2>&1; }

build_root() {
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (Debian package debootstrap; scripts/setup.sh installs it)"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root to build $root_image"
  local started
  # Global: the EXIT trap reads it after this function has returned.
  dir="$(mktemp -d "${TMPDIR:-/var/tmp}/luma-grpc-root-XXXXXX")"
  # debootstrap may leave /proc and /sys mounted in the root when it fails.
  trap 'umount -R "$dir/rootfs/proc" "$dir/rootfs/sys" 2>/dev/null || true; rm -rf "$dir"' EXIT
  started=$SECONDS
  say "debootstrapping $SUITE (minbase + python3-grpcio) from $MIRROR; this takes a few minutes, once per machine"
  debootstrap --variant=minbase --include=python3-grpcio "$SUITE" "$dir/rootfs" "$MIRROR" \
    >"$dir/debootstrap.log" 2>&1 || { tail -20 "$dir/debootstrap.log" >&2; die "debootstrap failed"; }
  # What the server never reads: documentation, translations, apt's package lists and cache.
  rm -rf "$dir"/rootfs/usr/share/{doc,man,info,locale} "$dir"/rootfs/var/cache/apt/* "$dir"/rootfs/var/lib/apt/lists/*
  tar -C "$dir/rootfs" --numeric-owner -c . |
    docker import --change "LABEL $CACHE_LABEL" --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$root_image" >/dev/null
  say "built $root_image in $((SECONDS - started)) s"
}

build_app() {
  local context
  context="$(mktemp -d "${TMPDIR:-/tmp}/luma-grpc-app-XXXXXX")"
  cp "$SERVER" "$context/server.py"
  printf 'FROM %s\nCOPY server.py /srv/server.py\nENTRYPOINT ["python3", "-u", "/srv/server.py"]\n' "$root_image" >"$context/Dockerfile"
  docker build -q --label "$CACHE_LABEL" -t "$app_image" "$context" >/dev/null
  rm -rf "$context"
}

exec 9>"${TMPDIR:-/tmp}/luma-grpc-test-image.lock"
flock 9
present "$root_image" || build_root
present "$app_image" || build_app
echo "$app_image"
