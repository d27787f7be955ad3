#!/usr/bin/env bash
# stop-samba-ad.sh DIR [--rm]: stops the samba that start-samba-ad.sh DIR started (SIGTERM to the root process
# stops all its children). --rm also deletes DIR and the loopback address the start script added.
DIR=${1:?usage: $0 DIR [--rm]}
if [ -f "$DIR/samba.pid" ]; then
  PID=$(cat "$DIR/samba.pid")
  if kill -0 "$PID" 2>/dev/null; then
    kill "$PID"
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PID" 2>/dev/null && kill -9 "$PID"
  fi
  rm -f "$DIR/samba.pid"
fi
if [ "${2:-}" = "--rm" ]; then
  if [ -f "$DIR/added-ip" ]; then ip addr del "$(cat "$DIR/added-ip")/32" dev lo 2>/dev/null || true; fi
  rm -rf "$DIR"
fi
echo "stopped samba in $DIR" >&2
