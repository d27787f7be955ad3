#!/usr/bin/env bash
# Starts the SCIM test gateway (tests/scim-proxy/proxy.py, Python 3 stdlib only) on 127.0.0.1:PORT in front of a
# running SCIM server, and prints its coordinates as KEY='value' lines (eval-able), like the other scripts.
# The gateway throttles on demand (429 + Retry-After), accepts basic credentials and OAuth client-credentials
# tokens it issues (forwarding with the upstream's bearer token), and counts requests.
#
#   tests/servers/start-scim-proxy.sh [PORT=18082] UPSTREAM_URL UPSTREAM_TOKEN
#   SUMMARY_PREFIX=X_ ...   prefix for the variable names
#   SCIM_PROXY_TLS_CERT=cert.pem SCIM_PROXY_TLS_KEY=key.pem ...   serve HTTPS with that certificate
#   PORT 0 picks a free port.
#
# Prints URL (the SCIM base through the gateway), TOKEN_URL, ADMIN_URL, PORT, BASIC_USER/BASIC_PASSWORD,
# CLIENT_ID/CLIENT_SECRET, PID, LOG_FILE. Stop it with: kill $PID
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT="${1:-18082}"
UPSTREAM="${2:?usage: start-scim-proxy.sh PORT UPSTREAM_URL UPSTREAM_TOKEN}"
TOKEN="${3:?usage: start-scim-proxy.sh PORT UPSTREAM_URL UPSTREAM_TOKEN}"
BASIC_USER=sync-user BASIC_PASSWORD=basic-Pa55 CLIENT_ID=sync-client CLIENT_SECRET=client-S3cret
out="$(mktemp /tmp/scim-proxy.XXXXXX)"
LOG="${SCIM_PROXY_LOG:-$out.log}"
SCHEME=http
TLS=()
if [ -n "${SCIM_PROXY_TLS_CERT:-}" ]; then
  SCHEME=https
  TLS=(--tls-cert "$SCIM_PROXY_TLS_CERT" --tls-key "${SCIM_PROXY_TLS_KEY:?SCIM_PROXY_TLS_KEY goes with SCIM_PROXY_TLS_CERT}")
fi
python3 "$top/tests/scim-proxy/proxy.py" --port "$PORT" --upstream "$UPSTREAM" --upstream-token "$TOKEN" \
    --basic "$BASIC_USER:$BASIC_PASSWORD" --client "$CLIENT_ID:$CLIENT_SECRET" "${TLS[@]}" >"$out" 2>"$LOG" &
PID=$!
for _ in $(seq 1 100); do
  grep -q '^PORT=' "$out" 2>/dev/null && break
  if ! kill -0 "$PID" 2>/dev/null; then break; fi
  sleep 0.05
done
REAL_PORT="$(sed -n 's/^PORT=//p' "$out")"
rm -f "$out"
if [ -z "$REAL_PORT" ]; then
  echo "start-scim-proxy: the gateway did not start on 127.0.0.1:$PORT (see $LOG)" >&2
  kill "$PID" 2>/dev/null || true
  exit 1
fi
P=${SUMMARY_PREFIX:-}
kv() { printf "%s%s='%s'\n" "$P" "$1" "$2"; }
kv URL "$SCHEME://127.0.0.1:$REAL_PORT/scim"
kv TOKEN_URL "$SCHEME://127.0.0.1:$REAL_PORT/oauth/token"
kv ADMIN_URL "$SCHEME://127.0.0.1:$REAL_PORT/admin"
kv PORT "$REAL_PORT"
kv BASIC_USER "$BASIC_USER"
kv BASIC_PASSWORD "$BASIC_PASSWORD"
kv CLIENT_ID "$CLIENT_ID"
kv CLIENT_SECRET "$CLIENT_SECRET"
kv PID "$PID"
kv LOG_FILE "$LOG"
