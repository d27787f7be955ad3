#!/usr/bin/env bash
# Stops a PingOne API emulator started by start-pingone-emulator.sh: stop-pingone-emulator.sh PID
set -euo pipefail
PID="${1:?usage: $0 PID}"
if kill -0 "$PID" 2>/dev/null && tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -q pingone-emulator/emulator.py; then
  kill "$PID"
fi
