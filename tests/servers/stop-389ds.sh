#!/usr/bin/env bash
# stop-389ds.sh DIR [--rm]
#
# Stops the ns-slapd started by start-389ds.sh DIR: only the pid in DIR/run/slapd.pid (checked to be
# an ns-slapd of this instance). Without --rm: SIGTERM = clean shutdown (takes ~0.7-3 s), SIGKILL after
# 60 s. With --rm: SIGKILL at once (the data is thrown away anyway), then DIR, the symlink
# /etc/dirsrv/slapd-NAME and the semaphore /dev/shm/sem.slapd-NAME.stats are deleted. Succeeds (and does nothing) if nothing runs / DIR is gone.
set -euo pipefail

usage() { echo "usage: $0 DIR [--rm]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
DIR=$1
RM=0
if [ $# -eq 2 ]; then
  [ "$2" = "--rm" ] || usage
  RM=1
fi

# running and not a zombie
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

[ -d "$DIR" ] || exit 0
DIR=$(cd "$DIR" && pwd -P)
NAME=""
if [ -f "$DIR/instance.env" ]; then
  NAME=$(sed -n 's/^I_NAME=//p' "$DIR/instance.env")
fi
PIDFILE="$DIR/run/slapd.pid"
if [ -f "$PIDFILE" ]; then
  PID=$(cat "$PIDFILE")
  # guard against pid reuse: must be ns-slapd started with -i DIR/run/slapd.pid
  CMD=""
  if [[ "$PID" =~ ^[0-9]+$ ]] && alive "$PID"; then CMD=$(tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null || true); fi
  if [[ "$CMD" == *ns-slapd*" -i $PIDFILE"* ]]; then
    if [ "$RM" = 1 ]; then
      kill -9 "$PID" 2>/dev/null || true
    else
      kill "$PID" 2>/dev/null || true
      for _ in $(seq 1 600); do alive "$PID" || break; sleep 0.1; done
      if alive "$PID"; then kill -9 "$PID" 2>/dev/null || true; fi
    fi
    for _ in $(seq 1 100); do alive "$PID" || break; sleep 0.05; done
    echo "stop-389ds: stopped ns-slapd pid $PID ($DIR)" >&2
  fi
  rm -f "$PIDFILE"
fi
if [ "$RM" = 1 ]; then
  L="/etc/dirsrv/slapd-$NAME"
  # only if NAME is not (any more) used by an instance in another DIR
  if [ -n "$NAME" ] && { [ ! -L "$L" ] || [ "$(readlink "$L")" = "$DIR/config" ]; }; then
    rm -f "$L"
    # SNMP stats semaphore that ns-slapd leaves behind when killed
    rm -f "/dev/shm/sem.slapd-$NAME.stats"
  fi
  rm -rf "$DIR"
  echo "stop-389ds: removed $DIR" >&2
fi
