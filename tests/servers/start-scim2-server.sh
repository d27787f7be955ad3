#!/usr/bin/env bash
# Start the python-scim `scim2-server` test server (PyPI scim2-server) on loopback, in-memory storage,
# default RFC 7643 schemas (User, Group, EnterpriseUser extension).
# Usage: start-scim2-server.sh [PORT] [VENV_DIR] [TOKEN]
#   PORT      default 18080          VENV_DIR default ${SCIM2_VENV:-$HOME/.cache/scim2-server-venv}
#   TOKEN     default s3cret (bearer); pass "" to accept every request (no auth)
# Prints: URL=..., BASE_URL=..., TOKEN=..., PID=...  (eval-able; SUMMARY_PREFIX=X_ prefixes the names). Stop it with: kill $PID
# Installs what it needs on first use (no root needed).
# Env: SCIM2_SERVER_VERSION (pin, default 0.8.3), SCIM2_LOG (default $VENV_DIR/server-$PORT.log)
set -euo pipefail
PORT=${1:-18080}
VENV=${2:-${SCIM2_VENV:-$HOME/.cache/scim2-server-venv}}
TOKEN=${3-s3cret}
VER=${SCIM2_SERVER_VERSION:-0.8.3}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/scim2-server" ]; then
  "$PY" -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "scim2-server==$VER" >&2
fi
LOG=${SCIM2_LOG:-$VENV/server-$PORT.log}
ARGS=(--hostname 127.0.0.1 --port "$PORT")
[ -n "$TOKEN" ] && ARGS+=(--bearer-token "$TOKEN")
nohup "$VENV/bin/scim2-server" "${ARGS[@]}" >"$LOG" 2>&1 &
PID=$!
BASE="http://127.0.0.1:$PORT/v2"
AUTH=(); [ -n "$TOKEN" ] && AUTH=(-H "Authorization: Bearer $TOKEN")
for _ in $(seq 1 100); do   # up to ~10 s
  if curl -sf -o /dev/null "${AUTH[@]}" "$BASE/ServiceProviderConfig"; then
    P=${SUMMARY_PREFIX:-}; printf "%sURL=%s\n%sBASE_URL=%s\n%sTOKEN=%s\n%sPID=%s\n" "$P" "$BASE" "$P" "$BASE" "$P" "$TOKEN" "$P" "$PID"; exit 0
  fi
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
echo "scim2-server did not answer on $BASE; log $LOG:" >&2; cat "$LOG" >&2
kill "$PID" 2>/dev/null || true
exit 1
