#!/usr/bin/env bash
# Builds the proxy daemon's image (seed 001: `docker exec <container> luma-proxy deploy …`)
# offline, FROM scratch: the host's node binary with the libraries ldd names, and Luma's
# CLI bundled into one file by esbuild (tsx's own dependency, so already installed).
# Nothing is pulled. Needs `npm run build` first (make proxy-image does it).
#
#   LUMA_PROXY_IMAGE  the tag (default luma-proxy:latest)
#   LUMA_PROXY_LABEL  an extra image label KEY=VALUE (the tests mark their image with it)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${LUMA_PROXY_IMAGE:-luma-proxy:latest}"
NODE_BIN="$(readlink -f "$(command -v node)")"
[ -f dist/cli/luma-proxy.js ] || { echo "proxy-image: dist/ is missing: run npm run build" >&2; exit 1; }

context="$(mktemp -d "${TMPDIR:-/tmp}/luma-proxy-image-XXXXXX")"
trap 'rm -rf "$context"' EXIT
root="$context/rootfs"
app="$root/opt/luma-proxy"
mkdir -p "$root/usr/local/bin" "$app/node_modules" "$root/var/lib/luma-proxy" "$root/tmp"
chmod 1777 "$root/tmp"

# node and every shared object it loads (the loader included), at the paths ldd prints.
cp "$NODE_BIN" "$root/usr/local/bin/node"
for lib in $(ldd "$NODE_BIN" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done

# One ESM file: the client commands start fast and the image carries no node_modules
# tree. The CommonJS packages inside call require(), which an ESM bundle lacks: the
# banner gives it one. ssh2's optional native helpers (*.node) stay out: it falls back.
node_modules/.bin/esbuild dist/cli/luma-proxy.js --bundle --minify --platform=node --format=esm \
  --target=node20 --log-level=warning --outfile="$app/luma-proxy.mjs" \
  --external:fs-native-extensions '--external:*.node' \
  --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"

# The state lock's native addon loads its prebuilt binary from its own package folder,
# so that package and what it requires are copied as they are (Linux x64 prebuild only).
native_packages="$(node -e '
  const fs = require("node:fs");
  const seen = new Set();
  const walk = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const manifest = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, "utf8"));
    for (const dependency of Object.keys(manifest.dependencies ?? {})) walk(dependency);
  };
  walk("fs-native-extensions");
  console.log([...seen].join(" "));
')"
for package in $native_packages; do cp -r "node_modules/$package" "$app/node_modules/"; done
find "$app/node_modules/fs-native-extensions/prebuilds" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +

# `luma-proxy` on PATH, and `./luma-proxy` from the working directory / as the seed's
# examples write it. A scratch image has no shell: the kernel reads the #! line itself.
printf '#!/usr/local/bin/node\nimport("/opt/luma-proxy/luma-proxy.mjs");\n' >"$root/usr/local/bin/luma-proxy"
chmod 755 "$root/usr/local/bin/luma-proxy"
ln -s /usr/local/bin/luma-proxy "$root/luma-proxy"

cat >"$context/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
# Listen on every interface of the container (the CLI's default is loopback), and keep
# the socket, routes and certificates in the volume.
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    LUMA_STATE_DIR=/var/lib/luma-proxy \
    LUMA_LISTEN=0.0.0.0:80 \
    LUMA_HTTPS_LISTEN=0.0.0.0:443
WORKDIR /
VOLUME /var/lib/luma-proxy
EXPOSE 80 443
ENTRYPOINT ["/usr/local/bin/luma-proxy"]
CMD ["run"]
EOF

label_args=()
[ -n "${LUMA_PROXY_LABEL:-}" ] && label_args=(--label "$LUMA_PROXY_LABEL")
docker build -q "${label_args[@]}" -t "$IMAGE" "$context" >/dev/null
size="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
echo "proxy-image: built $IMAGE ($((size / 1000000)) MB)"
