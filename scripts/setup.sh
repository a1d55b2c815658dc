#!/usr/bin/env bash
# One setup shared by `make run`, `make test` and CI: npm packages, the Docker engine
# (Debian's docker.io), busybox-static, pebble and openssl (TLS tests), chromium (console
# tests), docker-registry (Swarm tests), PostgreSQL (store tests), and a running dockerd.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
fi

can_apt() { command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; }; }

apt_install() {
  can_apt || die "please install $* by hand (Debian packages: $*); this machine has no apt-get or no root"
  say "installing $* from Debian's packages"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v node >/dev/null 2>&1 || die "please install Node.js 20 or newer (Debian: nodejs npm) and run this again"

# npm packages: reinstall only when the lockfile changed since the last install.
# (`npm install`, not `npm ci`: npm 11 leaves other platforms' optional packages out of
# the lockfile, which `npm ci` then refuses as out of sync.)
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -x /bin/busybox ] || missing+=(busybox-static)
# busybox must be the static build (ldd fails on it): the images we build have no libc.
if [ -x /bin/busybox ] && ldd /bin/busybox >/dev/null 2>&1; then missing+=(busybox-static); fi
# Prometheus' own tools check Luma's /metrics, dashboard queries and alert rules in the e2e
# tests (test/e2e/observability/). Installing it may start a system service; the tests
# never use that one: each starts its own prometheus on a free port with its own data.
{ command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; } || missing+=(prometheus)
# The TLS tests run a real ACME server (Pebble, with pebble-challtestsrv as its DNS) and
# make its HTTPS certificate with openssl.
command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1 || missing+=(pebble)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The Swarm runtime's tests push images to a real registry (Debian's docker-registry, the
# CNCF distribution server); each test starts its own on a free port, never the system
# service that installing it may start.
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
# The web console's end-to-end tests drive Debian's Chromium through playwright-core
# (Playwright's own browser download cannot run here).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The gRPC test's image is a debootstrapped Debian root with grpcio (scripts/grpc-test-image.sh,
# run by test/e2e/grpc.test.ts: about two minutes once per machine, then cached).
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)

# The PostgreSQL store's tests start a private instance of Debian's PostgreSQL (initdb and
# postgres run as the package's `postgres` user, on a free port): test/support/postgres.ts.
# Installing it may start the system's own cluster; the tests never use that one.
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

docker_answers() { $SUDO docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! docker_answers; then
  [ "$(id -u)" = 0 ] || [ -n "$SUDO" ] || die "the Docker engine is not running and cannot be started without root: run 'sudo dockerd &' (Debian package docker.io)"
  say "starting dockerd"
  mkdir -p .luma
  $SUDO sh -c 'nohup dockerd >/var/log/luma-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker_answers && break; sleep 0.5; done
  docker_answers || die "dockerd did not answer within 30 s; see /var/log/luma-dockerd.log"
fi
