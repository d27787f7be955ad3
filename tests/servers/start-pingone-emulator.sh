#!/usr/bin/env bash
# Starts the PingOne API emulator (tests/pingone-emulator/emulator.py, Python 3 stdlib only) on 127.0.0.1:PORT
# and prints its coordinates as KEY='value' lines (eval-able), like the directory server scripts.
#
#   tests/servers/start-pingone-emulator.sh [PORT=19443]
#   SUMMARY_PREFIX=FERROSYNC_TEST_PINGONE_ ...   prefix for the variable names
#
# Stop it with tests/servers/stop-pingone-emulator.sh PID (or kill PID).
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT="${1:-19443}"
LOG="${PINGONE_EMULATOR_LOG:-/tmp/pingone-emulator-$PORT.log}"
python3 "$top/tests/pingone-emulator/emulator.py" "$PORT" >"$LOG" 2>&1 &
PID=$!
ready=0
for _ in $(seq 1 100); do
  if python3 - "$PORT" <<'PY' 2>/dev/null; then ready=1; break; fi
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
kv URL "http://127.0.0.1:$PORT/v1"
kv AUTH_URL "http://127.0.0.1:$PORT/$ENV_ID/as/token"
kv ADMIN_URL "http://127.0.0.1:$PORT/admin"
kv ENV_ID "$ENV_ID"
kv CLIENT_ID 5c1e0b7a-2d4f-4a6b-8c9d-0e1f2a3b4c5d
kv CLIENT_SECRET emulator-secret-1
kv CLIENT2_ID 9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a
kv CLIENT2_SECRET emulator-secret-2
kv DEFAULT_POPULATION_ID 3f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910
kv PID "$PID"
kv LOG_FILE "$LOG"
