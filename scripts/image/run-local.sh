#!/usr/bin/env bash
# Starts the image from build-local.sh as container CONTAINER_NAME (common.sh) with default
# container privileges: no --privileged, Docker's default capabilities only (CONTAINER_CAPABILITIES
# in common.sh), the runtime's default seccomp profile, no user namespace. Publishes it on a free
# port of 127.0.0.1 only, waits for GET /health/ and prints the port.
#
#   run-local.sh [PODMAN_RUN_ARGS...]   e.g. run-local.sh -e CODEJAIL_MAX_CONCURRENCY=2
#
# Environment: SERVICE_IMAGE and CONTAINER_NAME (common.sh), EXPECTED_HEALTH_STATUS (default 200;
# 503 for a configuration whose safety check must fail, as soon as the service responds).
# A running container of the same name is replaced. Stop it with:
#   podman --cgroup-manager=cgroupfs --runtime=runc --events-backend=file rm -f codejail-local
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

HEALTH_TIMEOUT_S=30
EXPECTED_HEALTH_STATUS="${EXPECTED_HEALTH_STATUS:-200}"

main() {
  require_root
  "${PODMAN[@]}" rm --force --ignore "$CONTAINER_NAME" >/dev/null

  # CODEJAIL_EGRESS_PROBE_URL stays unset: on this machine nothing may contact an outside
  # address, so the service reports the egress probe as skipped.
  # shellcheck disable=SC2046 # container_ulimits prints separate flags
  local capabilities
  capabilities="$(IFS=,; echo "${CONTAINER_CAPABILITIES[*]}")"
  "${PODMAN[@]}" run --detach --pull=never --name "$CONTAINER_NAME" \
    --cap-drop=all --cap-add="$capabilities" \
    $(container_ulimits) \
    --publish 127.0.0.1::8080 \
    "$@" "$SERVICE_IMAGE" >/dev/null

  local port
  port="$("${PODMAN[@]}" port "$CONTAINER_NAME" 8080/tcp)"
  port="${port##*:}"
  echo "run-local: $CONTAINER_NAME listens on 127.0.0.1:$port"

  # /health/ returns 503 until the startup safety check has passed, and curl prints 000 while
  # nothing listens yet.
  local deadline=$((SECONDS + HEALTH_TIMEOUT_S)) status=000
  while ((SECONDS < deadline)) && [[ "$status" != "$EXPECTED_HEALTH_STATUS" ]]; do
    sleep 0.5
    status="$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 2 \
      "http://127.0.0.1:$port/health/" || true)"
  done

  if [[ "$status" == "$EXPECTED_HEALTH_STATUS" ]]; then
    echo "run-local: GET /health/ returned $status ${SECONDS}s after start; PORT=$port"
    return
  fi
  echo "run-local: GET /health/ returned HTTP $status, not $EXPECTED_HEALTH_STATUS, after" \
    "${HEALTH_TIMEOUT_S}s (000: no response); last logs:" >&2
  "${PODMAN[@]}" logs --tail 30 "$CONTAINER_NAME" >&2
  exit 1
}

main "$@"
