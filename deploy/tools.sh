#!/usr/bin/env bash
# Installs the two tools the deployment tests (scripts/test/deploy.test.ts) need, idempotently:
#   - kustomize, built once per machine from the Go module proxy into .cache/bin (git-ignored);
#   - docker-compose (Debian package), whose `docker-compose config` validates docker-compose.yml
#     without a Docker engine.
# Run by the deployment tests when a tool is missing (so `npm test` needs no prior step), or by
# hand: npm run deploy:tools
set -euo pipefail
cd "$(dirname "$0")/.."
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.7.1}"

if [[ -x .cache/bin/kustomize ]] && .cache/bin/kustomize version | grep -qx "$KUSTOMIZE_VERSION"; then
  echo "kustomize $KUSTOMIZE_VERSION: .cache/bin/kustomize"
else
  command -v go > /dev/null || { echo "deploy/tools.sh: Go is needed to build kustomize" >&2; exit 1; }
  echo "building kustomize $KUSTOMIZE_VERSION into .cache/bin (once per machine)"
  mkdir -p .cache/bin
  GOBIN="$PWD/.cache/bin" GOFLAGS=-buildvcs=false go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
fi

if command -v docker-compose > /dev/null; then
  echo "docker-compose: $(command -v docker-compose)"
else
  sudo=()
  if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
  echo "installing the docker-compose Debian package"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends docker-compose > /dev/null
fi
