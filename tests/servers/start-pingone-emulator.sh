#!/usr/bin/env bash
# Starts the PingOne API emulator (tests/pingone-emulator/emulator.py, Python 3 stdlib only) on 127.0.0.1:PORT
# and prints its coordinates as KEY='value' lines (eval-able), like the directory server scripts.
#
#   tests/servers/start-pingone-emulator.sh [PORT=19443]
#   SUMMARY_PREFIX=FERROSYNC_TEST_PINGONE_ ...   prefix for the variable names
#   PINGONE_TLS_CERT=cert.pem PINGONE_TLS_KEY=key.pem ...   serve HTTPS on PORT with that certificate (see
#       make-https-ca.sh), and plain HTTP on PORT+1 for the one plain-HTTP test (PLAIN_URL, PLAIN_AUTH_URL)
#
# Stop it with tests/servers/stop-pingone-emulator.sh PID (or kill PID).
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT="${1:-19443}"
LOG="${PINGONE_EMULATOR_LOG:-/tmp/pingone-emulator-$PORT.log}"
SCHEME=http
PROBE_PORT="$PORT"
ARGS=("$PORT")
if [ -n "${PINGONE_TLS_CERT:-}" ]; then
  SCHEME=https
  PLAIN_PORT=$((PORT + 1))
  PROBE_PORT="$PLAIN_PORT"
  ARGS+=(--tls-cert "$PINGONE_TLS_CERT" --tls-key "${PINGONE_TLS_KEY:?PINGONE_TLS_KEY goes with PINGONE_TLS_CERT}" --plain-port "$PLAIN_PORT")
fi
python3 "$top/tests/pingone-emulator/emulator.py" "${ARGS[@]}" >"$LOG" 2>&1 &
PID=$!
ready=0
for _ in $(seq 1 100); do
  if python3 - "$PROBE_PORT" <<'PY' 2>/dev/null; then ready=1; break; fi
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/admin/stats" % sys.argv[1], timeout=1).read()
PY
  if ! kill -0 "$PID" 2>/dev/null; then break; fi
  sleep 0.05
done
if [ "$ready" != 1 ]; then
  echo "start-pingone-emulator: the emulator did not start on 127.0.0.1:$PORT (see $LOG)" >&2
  kill "$PID" 2>/dev/null || true
  exit 1
fi
ENV_ID=8a4f2d1e-7c3b-4e5a-9f6d-0b1c2d3e4f50
P=${SUMMARY_PREFIX:-}
kv() { printf "%s%s='%s'\n" "$P" "$1" "$2"; }
kv URL "$SCHEME://127.0.0.1:$PORT/v1"
kv AUTH_URL "$SCHEME://127.0.0.1:$PORT/$ENV_ID/as/token"
# The admin endpoints (test set-up, no auth) are reached over plain HTTP when there is a plain port.
kv ADMIN_URL "http://127.0.0.1:$PROBE_PORT/admin"
if [ "$SCHEME" = https ]; then
  kv PLAIN_URL "http://127.0.0.1:$PLAIN_PORT/v1"
  kv PLAIN_AUTH_URL "http://127.0.0.1:$PLAIN_PORT/$ENV_ID/as/token"
fi
kv ENV_ID "$ENV_ID"
kv CLIENT_ID 5c1e0b7a-2d4f-4a6b-8c9d-0e1f2a3b4c5d
kv CLIENT_SECRET emulator-secret-1
kv CLIENT2_ID 9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a
kv CLIENT2_SECRET emulator-secret-2
kv DEFAULT_POPULATION_ID 3f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910
kv PID "$PID"
kv LOG_FILE "$LOG"
