#!/usr/bin/env bash
# stop-openldap.sh DIR [--rm]
#
# Stops the slapd started by start-openldap.sh DIR: only the pid recorded in DIR (checked to be
# a slapd using DIR/slapd.conf), SIGTERM, then SIGKILL after 10 s. With --rm, DIR is deleted too.
# Succeeds (and does nothing) if nothing runs in DIR or DIR does not exist.
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

if [ -d "$DIR" ]; then
  DIR=$(cd "$DIR" && pwd -P)
  for f in "$DIR/slapd.pid.launcher" "$DIR/slapd.pid"; do
    [ -f "$f" ] || continue
    PID=$(cat "$f")
    [[ "$PID" =~ ^[0-9]+$ ]] || continue
    # guard against pid reuse: the process must be the slapd that uses our slapd.conf
    if kill -0 "$PID" 2>/dev/null && tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -F "$DIR/slapd.conf" >/dev/null; then
      kill "$PID" 2>/dev/null || true
      for _ in $(seq 1 200); do alive "$PID" || break; sleep 0.05; done
      if alive "$PID"; then
        kill -9 "$PID" 2>/dev/null || true
        for _ in $(seq 1 100); do alive "$PID" || break; sleep 0.05; done
      fi
      echo "stop-openldap: stopped slapd pid $PID ($DIR)" >&2
    fi
  done
  rm -f "$DIR/slapd.pid" "$DIR/slapd.pid.launcher"
  if [ "$RM" = 1 ]; then rm -rf "$DIR"; echo "stop-openldap: removed $DIR" >&2; fi
fi
