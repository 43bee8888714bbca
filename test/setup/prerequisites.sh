#!/usr/bin/env bash
# What the tests and the benchmark need beyond `npm ci`, in one place (issue 14): `npm test`, `npm run bench`
# and CI's .ci/run all call this script first, so the list below is the only one.
#
# As root on Debian it installs what is missing (quietly; nothing to do costs well under a second) and starts
# Redis if nothing answers on 127.0.0.1:6379. Anywhere else it names what is missing and the command that
# gets it, and exits 1 before any test runs.
set -euo pipefail

# The real upstream (distribution) and the real clients; Redis; openssl for test keys and certificates;
# htpasswd (apache2-utils) for client-auth files; docker-compose to validate the compose files; chromium for
# the status-page test; dash, python3 and jq that the setup scripts are run with; wrk and curl for the
# benchmark and nginx-light (the offload front of issue 11, tested and benchmarked); iproute2 and ca-certificates that the client daemons expect; debootstrap for the Debian
# rootfs the container-image test builds its Node base on (no Docker Hub here); ceph-mon, ceph-osd,
# ceph-common and radosgw for the throwaway Ceph RADOS Gateway the S3 store is tested against
# (test/support/ceph-rgw.ts, issue 10; about 70 s and 266 MB to install).
PACKAGES=(
  docker-registry skopeo podman containerd docker.io debootstrap
  ceph-mon ceph-osd ceph-common radosgw
  redis-server redis-tools
  openssl apache2-utils ca-certificates iproute2
  docker-compose chromium
  jq dash python3
  wrk curl nginx-light
)

REDIS_PING=(redis-cli -h 127.0.0.1 -p 6379 ping)
# The command the machine notes give for this machine's Redis (nothing kept on disk).
REDIS_START=(redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
  --dir /var/lib/redis --logfile /var/log/redis/ci.log)

installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for package in "${PACKAGES[@]}"; do installed "$package" || missing+=("$package"); done
else
  echo "prerequisites: not a Debian system; the tests need these Debian packages (or equivalents):" >&2
  echo "  ${PACKAGES[*]}" >&2
  echo "  and Redis on 127.0.0.1:6379. \`npm run test:fast\` needs none of them." >&2
  exit 1
fi

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "prerequisites: missing Debian packages: ${missing[*]}" >&2
    echo "  install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    echo "  (the end-to-end tests run as root; \`npm run test:fast\` needs none of them)" >&2
    exit 1
  fi
  echo "prerequisites: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "prerequisites: apt-get failed (above)" >&2
    exit 1
  fi
  rm -f "$log"
fi

if ! "${REDIS_PING[@]}" >/dev/null 2>&1; then
  if [[ -n "${PULLTHROUGH_TEST_REDIS_URL:-}" ]]; then
    : # the tests use another Redis; nothing to start here
  elif [[ $(id -u) -ne 0 ]]; then
    echo "prerequisites: nothing answers on redis://127.0.0.1:6379; start it with:" >&2
    echo "  ${REDIS_START[*]}" >&2
    exit 1
  else
    echo "prerequisites: starting redis-server on 127.0.0.1:6379" >&2
    mkdir -p /var/lib/redis /var/log/redis
    "${REDIS_START[@]}"
    for _ in $(seq 1 50); do "${REDIS_PING[@]}" >/dev/null 2>&1 && break; sleep 0.1; done
    "${REDIS_PING[@]}" >/dev/null 2>&1 || { echo "prerequisites: redis-server did not start" >&2; exit 1; }
  fi
fi
