#!/usr/bin/env bash
# Start a SCIM 2.0 server built on npm scimmy + scimmy-routers + express (glue: scimmy-server/server.mjs,
# an in-memory store for Users (+EnterpriseUser extension) and Groups) on loopback.
# Usage: start-scimmy.sh [PORT] [APP_DIR] [TOKEN]
#   PORT     default 18081     APP_DIR default ${SCIMMY_DIR:-$HOME/.cache/scimmy-server}   TOKEN default s3cret (bearer, required)
# Prints: URL=..., BASE_URL=..., TOKEN=..., PID=...  (eval-able; SUMMARY_PREFIX=X_ prefixes the names). Stop it with: kill $PID
# Installs what it needs on first use (no root needed).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PORT=${1:-18081}
DIR=${2:-${SCIMMY_DIR:-$HOME/.cache/scimmy-server}}
TOKEN=${3:-s3cret}
mkdir -p "$DIR"
cp "$HERE/scimmy-server/server.mjs" "$DIR/server.mjs"
if [ ! -d "$DIR/node_modules/scimmy-routers" ]; then
  cp "$HERE/scimmy-server/package.json" "$DIR/package.json"
  (cd "$DIR" && npm install --no-audit --no-fund --silent >&2)
fi
LOG=${SCIMMY_LOG:-$DIR/server-$PORT.log}
nohup node "$DIR/server.mjs" "$PORT" "$TOKEN" >"$LOG" 2>&1 &
PID=$!
BASE="http://127.0.0.1:$PORT/scim/v2"
for _ in $(seq 1 100); do   # up to ~10 s
  if curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/ServiceProviderConfig"; then
    P=${SUMMARY_PREFIX:-}; printf "%sURL=%s\n%sBASE_URL=%s\n%sTOKEN=%s\n%sPID=%s\n" "$P" "$BASE" "$P" "$BASE" "$P" "$TOKEN" "$P" "$PID"; exit 0
  fi
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
echo "scimmy server did not answer on $BASE; log $LOG:" >&2; cat "$LOG" >&2
kill "$PID" 2>/dev/null || true
exit 1
