#!/usr/bin/env bash
# stop-postgresql.sh DIR [--rm]
#
# Stops the PostgreSQL started by start-postgresql.sh DIR: only the postmaster recorded in DIR/data (checked to
# be a postgres serving DIR/data), with pg_ctl's fast shutdown, then SIGKILL after 20 s. With --rm, DIR is
# deleted too. Succeeds (and does nothing) if nothing runs in DIR or DIR does not exist.
set -euo pipefail

usage() { echo "usage: $0 DIR [--rm]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
DIR=$1
RM=0
if [ $# -eq 2 ]; then
  [ "$2" = "--rm" ] || usage
  RM=1
fi
BIN=/usr/lib/postgresql/15/bin

# running and not a zombie
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

if [ -d "$DIR" ]; then
  DIR=$(cd "$DIR" && pwd -P)
  PIDFILE="$DIR/data/postmaster.pid"
  if [ -f "$PIDFILE" ]; then
    PID=$(head -1 "$PIDFILE")
    # guard against pid reuse: the process must be the postgres of DIR/data
    if [[ "$PID" =~ ^[0-9]+$ ]] && alive "$PID" \
       && tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -F -- "$DIR/data" >/dev/null; then
      runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 20 stop >/dev/null 2>&1 || true
      if alive "$PID"; then
        kill -9 "$PID" 2>/dev/null || true
        for _ in $(seq 1 100); do alive "$PID" || break; sleep 0.05; done
      fi
      echo "stop-postgresql: stopped postgres pid $PID ($DIR)" >&2
    fi
  fi
  if [ "$RM" = 1 ]; then rm -rf "$DIR"; echo "stop-postgresql: removed $DIR" >&2; fi
fi
