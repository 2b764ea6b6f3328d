# Settings shared by make-base.sh, build-local.sh, run-local.sh and test-image.sh. These scripts
# build, run and test the service image on a Debian 12 machine without a Docker engine. Debian's
# buildah builds it and Debian's podman runs it, both rootful, with runc. Source this file: it
# only defines settings and functions.

# The image names in the local container storage (/var/lib/containers/storage). SERVICE_IMAGE and
# CONTAINER_NAME may be set by the caller, so that test-image.sh neither tests an image another
# build tagged in between nor replaces a developer's running container.
BASE_IMAGE=localhost/codejail-node-base:20-bookworm
SERVICE_IMAGE="${SERVICE_IMAGE:-localhost/codejail-service:local}"
CONTAINER_NAME="${CONTAINER_NAME:-codejail-local}"

# The capabilities run-local.sh gives the container: Docker's default set, the same 14 that
# containerd grants a Kubernetes container without a securityContext (defaultUnixCaps in its
# oci/spec.go). Pinned, so that the host's containers.conf adds none; podman 4.3's own default is
# this set without AUDIT_WRITE, MKNOD and NET_RAW. Without SYS_ADMIN the service can neither mount
# nor create a namespace, except a user namespace (podman's seccomp profile allows that one).
CONTAINER_CAPABILITIES=(AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE
  NET_RAW SETFCAP SETGID SETPCAP SETUID SYS_CHROOT)

# runc, not crun: Debian 12's crun rejects a hybrid cgroup v1/v2 hierarchy. cgroupfs, because
# there is no systemd to ask for cgroups. The file events backend, because there is no journald.
PODMAN=(podman --cgroup-manager=cgroupfs --runtime=runc --events-backend=file)
BUILDAH=(buildah --cgroup-manager=cgroupfs)

# podman's default RLIMIT_NOFILE (1048576) and RLIMIT_NPROC are above the hard limits here, and
# raising a hard limit needs CAP_SYS_RESOURCE, which this machine does not grant: runc then fails
# with "error setting rlimit ... operation not permitted". The container gets the caller's hard
# limits instead, with RLIMIT_NPROC capped at 32768 (measured here: 65536 failed, 32768 worked).
# The runner sets far lower limits for each execution.
container_ulimits() {
  local nofile nproc
  nofile="$(ulimit -Hn)"
  nproc="$(ulimit -Hu)"
  [[ "$nofile" == unlimited || "$nofile" -gt 1048576 ]] && nofile=1048576
  [[ "$nproc" == unlimited || "$nproc" -gt 32768 ]] && nproc=32768
  echo "--ulimit=nofile=$nofile:$nofile --ulimit=nproc=$nproc:$nproc"
}

# Installs the Debian packages that the scripts need, if any is missing.
ensure_container_tools() {
  local packages=(buildah podman runc containernetworking-plugins debootstrap curl)
  local missing=()
  local package
  for package in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" != installed ]]; then
      missing+=("$package")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return

  echo "image: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    >/dev/null
}

require_root() {
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "image: must run as root (rootful buildah, podman and debootstrap)" >&2
    exit 1
  fi
}
