#!/usr/bin/env bash
# Builds sandbox-image/Dockerfile on this machine without a Docker engine or a container
# registry: Debian's buildah against the local stand-in base image from make-base.sh, with the
# sandbox's Python packages from Debian (SANDBOX_PACKAGES=debian), because the Python package index
# is out of reach here. The Dockerfile itself is the one Cloud Build uses, unchanged.
#
#   build-local.sh [--rebuild-base]   tags the result as SERVICE_IMAGE (common.sh)
#
# Run as root from anywhere. Installs buildah, podman, runc and debootstrap when missing.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

# Outbound HTTPS from this machine passes a proxy whose CA only the host trusts. npm in the build
# reads the host's bundle from this path inside each RUN step (a read-only bind mount) through
# the Dockerfile's NODE_EXTRA_CA_CERTS build argument. Nothing of it stays in the image.
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
BUILD_CA_PATH=/run/host-ca-certificates.crt

main() {
  require_root
  ensure_container_tools

  local base_args=()
  [[ "${1:-}" == --rebuild-base ]] && base_args=(--rebuild)
  bash "$SCRIPT_DIR/make-base.sh" "${base_args[@]}"

  local ca_args=()
  if [[ -r "$HOST_CA_BUNDLE" ]]; then
    ca_args=(--volume "$HOST_CA_BUNDLE:$BUILD_CA_PATH:ro"
      --build-arg "NODE_EXTRA_CA_CERTS=$BUILD_CA_PATH")
  fi

  echo "build-local: building $SERVICE_IMAGE"
  # --pull=never: every base comes from the local storage, never from a registry.
  # shellcheck disable=SC2046 # container_ulimits prints separate flags
  "${BUILDAH[@]}" build --pull=never --layers --isolation=oci --runtime=runc \
    $(container_ulimits) \
    --file "$REPO_ROOT/sandbox-image/Dockerfile" \
    --build-arg "NODE_IMAGE=$BASE_IMAGE" \
    --build-arg SANDBOX_PACKAGES=debian \
    "${ca_args[@]}" \
    --tag "$SERVICE_IMAGE" \
    "$REPO_ROOT"
}

main "$@"
