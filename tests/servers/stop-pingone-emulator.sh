#!/usr/bin/env bash
# Stops a PingOne API emulator started by start-pingone-emulator.sh: stop-pingone-emulator.sh PID
set -euo pipefail
PID="${1:?usage: $0 PID}"
if kill -0 "$PID" 2>/dev/null && tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep pingone-emulator/emulator.py >/dev/null; then
  kill "$PID"
fi
