#!/usr/bin/env bash
# stop-prometheus.sh DIR [--rm]
#
# Stops the Prometheus started by start-prometheus.sh DIR: only the pid in DIR/prometheus.pid, checked to be a
# prometheus of this DIR. SIGTERM, SIGKILL after 10 s. With --rm, DIR is deleted too. Succeeds (and does
# nothing) when nothing runs or DIR is gone.
set -euo pipefail

usage() { echo "usage: $0 DIR [--rm]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
DIR=$1
RM=0
if [ $# -eq 2 ]; then
  [ "$2" = "--rm" ] || usage
  RM=1
fi
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

[ -d "$DIR" ] || exit 0
DIR=$(cd "$DIR" && pwd -P)
PIDFILE="$DIR/prometheus.pid"
if [ -f "$PIDFILE" ]; then
  PID=$(cat "$PIDFILE")
  CMD=""
  if [[ "$PID" =~ ^[0-9]+$ ]] && alive "$PID"; then CMD=$(tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null || true); fi
  if [[ "$CMD" == *prometheus*"--config.file=$DIR/prometheus.yml"* ]]; then
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$PID" || break; sleep 0.1; done
    if alive "$PID"; then kill -9 "$PID" 2>/dev/null || true; fi
    echo "stop-prometheus: stopped prometheus pid $PID ($DIR)" >&2
  fi
  rm -f "$PIDFILE"
fi
if [ "$RM" = 1 ]; then
  rm -rf "$DIR"
  echo "stop-prometheus: removed $DIR" >&2
fi
