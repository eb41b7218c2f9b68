#!/usr/bin/env bash
# Installs what `npm run images:test` (scripts/images.ts) needs on a machine without a Docker engine,
# idempotently, from Debian's packages: podman and buildah (the engine, rootful), runc (the runtime it
# is run with: crun refuses hybrid cgroup hierarchies) and debootstrap (the local Node.js base image).
# Nothing is installed when a Docker engine answers. Run by .ci/run, or by hand: npm run images:tools
set -euo pipefail
if docker info > /dev/null 2>&1; then
  echo "image tools: a Docker engine answers, nothing to install"
  exit 0
fi
missing=()
for tool in podman buildah runc debootstrap; do
  command -v "$tool" > /dev/null || missing+=("$tool")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "image tools: $(podman --version), $(buildah --version | cut -d' ' -f1-3), debootstrap present"
  exit 0
fi
sudo=()
if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
echo "image tools: installing ${missing[*]} (Debian packages)"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
