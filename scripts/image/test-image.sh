#!/usr/bin/env bash
# Builds the service image, starts it with default container privileges and runs the HTTP and
# sandbox integration tests against the running container instead of a service on the host.
#
#   test-image.sh   (npm run test:image; .ci/run runs it after npm test). Run as root.
#
# Container privileges come from run-local.sh: no --privileged, Docker's default capabilities
# (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, NET_RAW,
# SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT) and nothing else, podman's default seccomp
# profile, no user namespace and the cgroup controllers mounted read-only. So the service can
# mount nothing, write no cgroup and create no namespace but a user namespace, as on Cloud Run
# and in a Kubernetes pod without a securityContext. It falls back to rlimits and one shared
# execution root, and /health/detail (printed for the first container) reports cgroups and
# disk_quota as "none".
#
# Some suites need their own service settings. Each configuration below starts one container
# with those variables, passes them to the tests as TEST_SERVICE_ENV, and runs the tests written
# for them. test/helpers/server.ts fails any test that requests a variable the container lacks.
# jest runs in the container's network namespace (nsenter --net) and reaches the service at
# 127.0.0.1:8080 there, so that the abstract unix socket network-environment.test.ts listens on
# lies in the namespace the sandbox could reach, as the service's own sockets do.
#
# Environment: TEST_SANDBOX_NAMESPACE (as for npm test) selects the sandbox uids and execution
# root. podman runs the container without a user namespace, so it shares uids and /proc with the
# host, and the tests' search for leftover sandbox processes in the host's /proc covers it.
# codejail-launch reads the uids and root from its configuration file. So a container whose values
# differ from the image's gets a copy of that file with them, and the root as a tmpfs.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
NAMESPACE="${TEST_SANDBOX_NAMESPACE:-0}"
# A tag and container names of this script's own, so that another build or a developer's
# run-local.sh container cannot interfere. Exported for build-local.sh and run-local.sh.
export SERVICE_IMAGE="localhost/codejail-service:test-$NAMESPACE"
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

# TEST_UID_BASE, TEST_EXEC_ROOT and SECOND_SERVICE_ENV of test/helpers/server.ts, computed the
# same way.
TEST_UID_BASE=$((2002717000 + NAMESPACE * 1000))
TEST_EXEC_ROOT=/var/lib/codejail/exec
((NAMESPACE == 0)) || TEST_EXEC_ROOT="/var/lib/codejail/exec-test-$NAMESPACE"
SECOND_ENV=("CODEJAIL_SANDBOX_UID_BASE=$((TEST_UID_BASE + 500))"
  "CODEJAIL_EXEC_ROOT=$TEST_EXEC_ROOT-second")
# The sandbox uids and execution root that provision.sh configures in the image, and the file in
# which it writes them for codejail-launch.
IMAGE_UID_BASE=2002717000
IMAGE_EXEC_ROOT=/var/lib/codejail/exec
LAUNCHER_CONFIG=/etc/codejail/launcher.conf

# The variables of test/http/contract.test.ts's service; every configuration that runs that
# file has them, because its beforeAll requests them.
CONTRACT_ENV=(
  CODEJAIL_MAX_PAYLOAD_BYTES=65536
  CODEJAIL_MAX_LIBRARY_BYTES=65536
  CODEJAIL_MAX_BODY_BYTES=262144
  CODEJAIL_MAX_PARTS=4
)
CANARY_ENV=(CODEJAIL_TEST_CANARY=service-secret)
# For contract, fidelity and every sandbox suite except packages. The body limits are far above
# what those tests send, and the override contexts of resources.test.ts apply only to requests
# whose limit_overrides_context names them.
OVERRIDES='{"course-v1:Big+1+1":{"FSIZE":20971520},"course-v1:Cpu+1+1":{"CPU":1,"REALTIME":15}}'
MAIN_ENV=("${CONTRACT_ENV[@]}" "${CANARY_ENV[@]}" "CODEJAIL_LIMIT_OVERRIDES=$OVERRIDES")
# packages.test.ts raises the default limits, which the wall-clock tests of processes.test.ts
# must not get.
PACKAGES_ENV=("${CANARY_ENV[@]}" 'CODEJAIL_LIMITS={"REALTIME":20,"CPU":15}')
DISABLED_ENV=("${CONTRACT_ENV[@]}" "${SECOND_ENV[@]}" CODEJAIL_ENABLED=false)
BROKEN_ENV=("${CONTRACT_ENV[@]}" "${SECOND_ENV[@]}" CODEJAIL_RUNNER_DIR=/nonexistent)

phase="start"
started_containers=()
failed_configurations=()
# Scratch directory for jest's JSON results and launcher configurations; removed on exit.
work_dir=""
# The image's LAUNCHER_CONFIG; empty for an image without a launcher.
image_launcher_config=""

start_phase() {
  phase="$1"
  echo "test-image: [${SECONDS}s] $phase"
}

# Removes every container this script started, whatever happened, and names the failed phase.
finish() {
  local status=$?
  local name
  for name in "${started_containers[@]}"; do
    "${PODMAN[@]}" rm --force --ignore "$name" >/dev/null ||
      echo "test-image: removing container $name failed" >&2
  done
  if ((status == 0)); then
    echo "test-image: passed in ${SECONDS}s"
  else
    echo "test-image: FAILED in phase: $phase (after ${SECONDS}s)" >&2
  fi
  [[ -z "$work_dir" ]] || rm -rf "$work_dir"
}

# Prints the NAME=value arguments as one JSON object.
to_json_object() {
  node -e 'const entries = process.argv.slice(1).map((a) => [a.slice(0, a.indexOf("=")),
    a.slice(a.indexOf("=") + 1)]); console.log(JSON.stringify(Object.fromEntries(entries)));' \
    -- "$@"
}

# run_configuration NAME HEALTH_STATUS ENV_ARRAY JEST_ARGS...
# Starts a container with the variables in the array named ENV_ARRAY, waits until /health/
# returns HEALTH_STATUS, runs jest with JEST_ARGS against it and removes it. A failed test is
# recorded, and so is a run without any test (a name pattern that no longer matches). The next
# configuration still runs. A container that does not start stops the script.
run_configuration() {
  local name="$1" health_status="$2"
  local -n variables="$3"
  shift 3
  local container="codejail-image-test-$NAMESPACE-$name"
  # What startServer() gives every local service first, so that the configuration's own values
  # win: the namespace's uids and root, and the executor that CODEJAIL_TEST_EXECUTOR selects.
  local defaults=("CODEJAIL_SANDBOX_UID_BASE=$TEST_UID_BASE" "CODEJAIL_EXEC_ROOT=$TEST_EXEC_ROOT")
  if [[ -n "${CODEJAIL_TEST_EXECUTOR:-}" ]]; then
    defaults+=("CODEJAIL_EXECUTOR=$CODEJAIL_TEST_EXECUTOR")
  fi
  local uid_base="$TEST_UID_BASE" exec_root="$TEST_EXEC_ROOT" options=() variable
  for variable in "${defaults[@]}" "${variables[@]}"; do
    options+=("--env=$variable")
    case "$variable" in
      CODEJAIL_SANDBOX_UID_BASE=*) uid_base="${variable#*=}" ;;
      CODEJAIL_EXEC_ROOT=*) exec_root="${variable#*=}" ;;
    esac
  done
  # An execution root the image lacks: a tmpfs, 0711 and owned by the container's user (U=true)
  # like provision.sh's.
  if [[ "$exec_root" != "$IMAGE_EXEC_ROOT" ]]; then
    options+=("--mount=type=tmpfs,destination=$exec_root,tmpfs-mode=0711,U=true")
  fi
  if [[ -n "$image_launcher_config" ]] &&
    [[ "$uid_base" != "$IMAGE_UID_BASE" || "$exec_root" != "$IMAGE_EXEC_ROOT" ]]; then
    local config="$work_dir/$name-launcher.conf"
    sed -e "s#^uid_base=.*#uid_base=$uid_base#" -e "s#^exec_root=.*#exec_root=$exec_root#" \
      <<<"$image_launcher_config" >"$config"
    chmod 0644 "$config"
    options+=("--volume=$config:$LAUNCHER_CONFIG:ro")
  fi

  start_phase "start container $name"
  started_containers+=("$container")
  CONTAINER_NAME="$container" EXPECTED_HEALTH_STATUS="$health_status" \
    bash "$SCRIPT_DIR/run-local.sh" "${options[@]}"
  local pid
  pid="$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$container")"
  if [[ "$name" == main ]]; then
    report_privileges "$container"
  fi

  start_phase "tests against $name: jest $*"
  local results="$work_dir/$name.json" passed
  if ! TEST_SERVICE_URL="http://127.0.0.1:8080" \
    TEST_SERVICE_ENV="$(to_json_object "${variables[@]}")" \
    NODE_OPTIONS=--experimental-vm-modules \
    nsenter --target "$pid" --net "$REPO_ROOT/node_modules/.bin/jest" --runInBand \
    --json --outputFile="$results" "$@"; then
    failed_configurations+=("$name")
    echo "test-image: tests against $name failed; last container logs:" >&2
    "${PODMAN[@]}" logs --tail 20 "$container" >&2
  else
    passed="$(node -e 'console.log(require(process.argv[1]).numPassedTests)' "$results")"
    echo "test-image: tests passed against $name: $passed"
    if ((passed == 0)); then
      failed_configurations+=("$name")
      echo "test-image: no test ran against $name; check the jest arguments" >&2
    fi
  fi
  "${PODMAN[@]}" rm --force "$container" >/dev/null
}

# Shows what the service runs with: the container's user and capability bounding set, and the
# confinement layers it chose (cgroups and per-slot disks are "none" without SYS_ADMIN).
report_privileges() {
  local container="$1" port
  port="$("${PODMAN[@]}" port "$container" 8080/tcp)"
  echo "test-image: user and capability bounding set of $container:" \
    "$("${PODMAN[@]}" inspect --format '{{.Config.User}} {{.BoundingCaps}}' "$container")"
  echo "test-image: GET /health/detail: $(curl --silent --max-time 5 \
    "http://127.0.0.1:${port##*:}/health/detail")"
}

main() {
  require_root
  trap finish EXIT
  cd "$REPO_ROOT"
  work_dir="$(mktemp -d)"

  start_phase "install container tools"
  ensure_container_tools
  if [[ ! -x node_modules/.bin/jest ]]; then
    start_phase "install npm dependencies"
    npm ci --no-audit --no-fund
  fi

  start_phase "build image $SERVICE_IMAGE"
  bash "$SCRIPT_DIR/build-local.sh"
  # shellcheck disable=SC2046 # container_ulimits prints separate flags
  image_launcher_config="$("${PODMAN[@]}" run --rm --pull=never $(container_ulimits) \
    --entrypoint cat "$SERVICE_IMAGE" "$LAUNCHER_CONFIG" 2>/dev/null || true)"

  run_configuration main 200 MAIN_ENV test/http test/sandbox \
    --testPathIgnorePatterns packages.test.ts --testNamePattern '^(?!switches )'
  run_configuration packages 200 PACKAGES_ENV test/sandbox/packages.test.ts
  run_configuration disabled 200 DISABLED_ENV test/http/contract.test.ts \
    --testNamePattern 'switches answers 500 when execution is switched off'
  run_configuration broken 503 BROKEN_ENV test/http/contract.test.ts \
    --testNamePattern 'switches answers 500 and 503 health when the safety check fails'

  phase="tests"
  if ((${#failed_configurations[@]} > 0)); then
    echo "test-image: tests failed against: ${failed_configurations[*]}" >&2
    exit 1
  fi
}

main "$@"
