#!/usr/bin/env bash
# Provisions a machine to run sandboxed executions: the sandbox's Python packages, the group of
# the execution uids, the root of the execution directories, and the runner.
#
#   provision.sh --local   Debian packages from requirements/debian.txt (npm start, npm test, CI)
#   --dev-tools            also the tools the test suite needs (requirements/dev-tools.txt)
#   provision.sh --image   a venv at /opt/codejail/sandbox-venv with requirements/sandbox.txt
#                          (the container image's build)
#
# Runs as root and is idempotent: a second run changes nothing and skips apt-get and pip.
# Paths that must stay in sync: RUNNER_DIR with CODEJAIL_RUNNER_DIR, EXEC_ROOT with the
# execution directory root, SANDBOX_GID with the uid pool's gid (function/config.ts), and
# SANDBOX_VENV with CODEJAIL_PYTHON in the image (its bin/python).
set -euo pipefail

SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUNNER_DIR=/opt/codejail/runner
EXEC_ROOT=/var/lib/codejail/exec
SANDBOX_VENV=/opt/codejail/sandbox-venv
SANDBOX_GROUP=codejail-sandbox
SANDBOX_GID=2002717000
LAUNCHER=/opt/codejail/bin/codejail-launch
LAUNCHER_CONFIG=/etc/codejail/launcher.conf
# The service's own user in the image; the launcher is executable by its group only.
WEB_USER=codejail-web
WEB_UID=10001
SANDBOX_UID_BASE=2002717000
SANDBOX_UID_COUNT=64
# The image installs the sandbox libraries with pip, so it needs only the interpreter from Debian.
IMAGE_DEBIAN_PACKAGES=(python3 python3-venv procps)

usage() {
  echo "usage: $0 --local [--dev-tools] | --image" >&2
  exit 2
}

step() {
  echo "provision: $*"
}

# Installs the given Debian packages unless dpkg already lists every one of them as installed.
install_debian_packages() {
  local missing=()
  local package
  for package in "$@"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" != installed ]]; then
      missing+=("$package")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    step "Debian packages: all $# installed"
    return
  fi

  step "Debian packages: installing ${missing[*]}"
  local log
  log="$(mktemp)"
  # apt-get's progress goes to a log that is shown only when it fails.
  if ! DEBIAN_FRONTEND=noninteractive apt-get update >"$log" 2>&1 ||
    ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
      >>"$log" 2>&1; then
    cat "$log" >&2
    echo "provision: apt-get failed to install ${missing[*]}" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

# Reads a package list: one name per line, '#' starts a comment.
read_package_list() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' "$1" | grep -v '^$'
}

# Creates the sandbox venv and installs the pinned requirements, unless the venv already has
# exactly this requirements file installed.
install_sandbox_venv() {
  local requirements="$SOURCE_DIR/requirements/sandbox.txt"
  local stamp="$SANDBOX_VENV/.requirements.sha256"
  local digest
  digest="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$digest" ]]; then
    step "sandbox venv: $SANDBOX_VENV is up to date"
    return
  fi

  step "sandbox venv: installing $requirements into $SANDBOX_VENV"
  if [[ ! -x "$SANDBOX_VENV/bin/python" ]]; then
    /usr/bin/python3 -m venv "$SANDBOX_VENV"
  fi
  "$SANDBOX_VENV/bin/pip" install --no-cache-dir --disable-pip-version-check -q -r "$requirements"
  echo "$digest" >"$stamp"
  chown -R root:root "$SANDBOX_VENV"
  chmod -R go-w "$SANDBOX_VENV"
}

# The execution uids (CODEJAIL_SANDBOX_UID_BASE + slot, from 2002717000 by default) are bare
# numbers. The kernel needs no passwd entry for setuid, so only the group is created, which gives
# the gid a name in listings.
create_sandbox_group() {
  local existing
  existing="$(getent group "$SANDBOX_GROUP" || true)"
  if [[ -z "$existing" ]]; then
    if getent group "$SANDBOX_GID" >/dev/null; then
      echo "provision: gid $SANDBOX_GID is already used by another group:" \
        "$(getent group "$SANDBOX_GID")" >&2
      exit 1
    fi
    groupadd --gid "$SANDBOX_GID" "$SANDBOX_GROUP"
    step "group: created $SANDBOX_GROUP with gid $SANDBOX_GID"
  elif [[ "$(cut -d: -f3 <<<"$existing")" != "$SANDBOX_GID" ]]; then
    echo "provision: group $SANDBOX_GROUP exists with another gid: $existing" >&2
    exit 1
  else
    step "group: $SANDBOX_GROUP has gid $SANDBOX_GID"
  fi
}

# Execution directories are created by the service inside EXEC_ROOT. 0711 lets each execution
# uid reach its own directory without being able to list the others.
# The web process creates execution directories, so its user owns the root; a service running as
# root (development, CI) works with it as well.
create_exec_root() {
  install -d -o root -g root -m 0755 /var/lib/codejail
  install -d -o "$WEB_USER" -g "$WEB_USER" -m 0711 "$EXEC_ROOT"
  step "execution root: $EXEC_ROOT ($WEB_USER, 0711)"
}

# Copies the runner into a new directory and swaps it in whole, so that no module of an older
# runner is left behind and no execution loads a half-copied runner. An execution that starts in
# the instant between the two renames finds no runner and fails with a sandbox error.
# Creates the service's own user and group (the image runs the web process as this user).
create_web_user() {
  if ! getent group "$WEB_USER" >/dev/null; then
    groupadd --gid "$WEB_UID" "$WEB_USER"
  fi
  if ! getent passwd "$WEB_USER" >/dev/null; then
    useradd --uid "$WEB_UID" --gid "$WEB_USER" --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$WEB_USER"
  fi
  step "web user: $WEB_USER ($(id -u "$WEB_USER"))"
}

# Builds the set-user-ID launcher from source (or installs a prebuilt one next to the source, for
# images whose runtime stage has no compiler) and writes its root-owned configuration.
install_launcher() {
  local python="$1"
  local source="$SOURCE_DIR/launcher/codejail-launch.c"
  local prebuilt="$SOURCE_DIR/launcher/codejail-launch"
  local built
  built="$(mktemp)"
  if [[ -x "$prebuilt" ]]; then
    cp "$prebuilt" "$built"
  elif command -v gcc >/dev/null; then
    gcc -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -pie \
      -o "$built" "$source"
  else
    echo "provision: gcc is needed to build $source" >&2
    exit 1
  fi
  install -d -o root -g root -m 0755 "$(dirname "$LAUNCHER")" "$(dirname "$LAUNCHER_CONFIG")"
  install -o root -g "$WEB_USER" -m 4750 "$built" "$LAUNCHER"
  rm -f "$built"

  # Keys read by codejail-launch.c; the values must match the service's CODEJAIL_* settings.
  cat >"$LAUNCHER_CONFIG.new" <<CONFIG
uid_base=$SANDBOX_UID_BASE
uid_count=$SANDBOX_UID_COUNT
gid=$SANDBOX_GID
exec_root=$EXEC_ROOT
python=$python
template_script=$RUNNER_DIR/template.py
CONFIG
  chown root:root "$LAUNCHER_CONFIG.new"
  chmod 0644 "$LAUNCHER_CONFIG.new"
  mv "$LAUNCHER_CONFIG.new" "$LAUNCHER_CONFIG"
  step "launcher: $LAUNCHER (set-user-ID root, group $WEB_USER), $LAUNCHER_CONFIG"
}

install_runner() {
  local staging="$RUNNER_DIR.new"
  local previous="$RUNNER_DIR.old"
  rm -rf "$staging" "$previous"
  install -d -o root -g root -m 0755 "$(dirname "$RUNNER_DIR")" "$staging"
  install -o root -g root -m 0644 "$SOURCE_DIR"/runner/*.py "$staging/"
  if [[ -d "$RUNNER_DIR" ]]; then
    mv "$RUNNER_DIR" "$previous"
  fi
  mv "$staging" "$RUNNER_DIR"
  rm -rf "$previous"
  step "runner: installed $(ls "$RUNNER_DIR" | wc -l) files in $RUNNER_DIR"
}

main() {
  [[ $# -eq 1 || ($# -eq 2 && "$2" == --dev-tools) ]] || usage
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "provision: must run as root (it installs packages and creates $RUNNER_DIR)" >&2
    exit 1
  fi

  case "$1" in
    --local)
      mapfile -t packages < <(read_package_list "$SOURCE_DIR/requirements/debian.txt")
      install_debian_packages "${packages[@]}"
      ;;
    --image)
      install_debian_packages "${IMAGE_DEBIAN_PACKAGES[@]}"
      install_sandbox_venv
      ;;
    *)
      usage
      ;;
  esac

  if [[ "${2:-}" == --dev-tools ]]; then
    mapfile -t packages < <(read_package_list "$SOURCE_DIR/requirements/dev-tools.txt")
    install_debian_packages "${packages[@]}"
  fi

  create_sandbox_group
  create_web_user
  create_exec_root
  install_runner
  # SANDBOX_PYTHON overrides the interpreter the launcher accepts, for an image that points a
  # venv at Debian's packages (it must equal the service's CODEJAIL_PYTHON).
  if [[ "$1" == --image ]]; then
    install_launcher "${SANDBOX_PYTHON:-$SANDBOX_VENV/bin/python}"
  else
    install_launcher "${SANDBOX_PYTHON:-/usr/bin/python3}"
  fi
  step "done"
}

main "$@"
