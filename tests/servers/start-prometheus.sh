#!/usr/bin/env bash
# start-prometheus.sh DIR PORT TARGET
#
# Starts a throwaway Prometheus (Debian 12's package, 2.42) on 127.0.0.1:PORT with all state in DIR, scraping
# TARGET (host:port of a sync server's HTTP Connection Handler, path /metrics) every second. No systemd: the
# binary runs in the background, its data in DIR/data, its log in DIR/prometheus.log. The package's own
# service is never started (install-deps.sh keeps it from starting).
#
# Environment:
#   METRICS_PATH=/metrics   the path scraped
#   SCRAPE_INTERVAL=1s      how often
#   START_TIMEOUT=30        seconds to wait until Prometheus answers /-/ready
#   SUMMARY_PREFIX=...      prefix for the summary variable names (e.g. PROM_ -> PROM_URL=...)
#
# stdout: only the summary, one KEY='value' per line (eval-able, values single-quoted):
#   DIR URL PORT TARGET PID PID_FILE LOG_FILE
# stderr: progress messages. Refuses a busy PORT. Exit status != 0 (with the log tail on stderr) when it does
# not start. Stop with: stop-prometheus.sh DIR
set -euo pipefail

usage() { echo "usage: $0 DIR PORT TARGET" >&2; exit 2; }
if [ $# -ne 3 ]; then usage; fi
DIR=$1
PORT=$2
TARGET=$3
METRICS_PATH=${METRICS_PATH:-/metrics}
INTERVAL=${SCRAPE_INTERVAL:-1s}
TIMEOUT=${START_TIMEOUT:-30}
HERE=$(cd "$(dirname "$0")" && pwd)

log() { echo "start-prometheus: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "PORT must be a number: $PORT"
"$HERE/install-deps.sh" prometheus
PROMETHEUS=/usr/bin/prometheus

mkdir -p "$DIR/data"
DIR=$(cd "$DIR" && pwd -P)
PIDFILE="$DIR/prometheus.pid"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  die "Prometheus already running in $DIR (pid $(cat "$PIDFILE")); stop it with stop-prometheus.sh $DIR"
fi
port_busy "$PORT" && die "127.0.0.1:$PORT is in use"

cat >"$DIR/prometheus.yml" <<YML
global:
  scrape_interval: $INTERVAL
  scrape_timeout: $INTERVAL
  evaluation_interval: $INTERVAL
scrape_configs:
  - job_name: ferrosync
    metrics_path: $METRICS_PATH
    static_configs:
      - targets: ['$TARGET']
YML

LOGFILE="$DIR/prometheus.log"
log "starting Prometheus on 127.0.0.1:$PORT, scraping $TARGET$METRICS_PATH every $INTERVAL"
"$PROMETHEUS" --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
  --web.listen-address="127.0.0.1:$PORT" --log.level=warn >"$LOGFILE" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$PIDFILE"

ready=0
for _ in $(seq 1 $((TIMEOUT * 10))); do
  if curl -fsS "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  tail -20 "$LOGFILE" >&2 || true
  kill "$PID" 2>/dev/null || true
  rm -f "$PIDFILE"
  die "Prometheus did not become ready on 127.0.0.1:$PORT"
fi
log "ready (pid $PID)"

P=${SUMMARY_PREFIX:-}
q() { printf "%s%s='%s'\n" "$P" "$1" "${2//\'/\'\\\'\'}"; }
q DIR "$DIR"
q URL "http://127.0.0.1:$PORT"
q PORT "$PORT"
q TARGET "$TARGET"
q PID "$PID"
q PID_FILE "$PIDFILE"
q LOG_FILE "$LOGFILE"
