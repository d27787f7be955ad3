#!/usr/bin/env bash
# Runs ferrosync's fuzz targets with cargo-fuzz (libFuzzer) on the machine's stable toolchain, one after another
# (or JOBS at a time), each for SECONDS (default 600), then minimizes each corpus. Prints one line per target:
# target, seconds, executions, crashes. See FUZZING.md.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). RUSTC_BOOTSTRAP=1 lets the stable toolchain take the
# unstable flags cargo-fuzz passes; `--sanitizer none` since the code has no unsafe (libFuzzer still catches
# panics, stack overflows, timeouts and out-of-memory).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(ls fuzz_targets | sed 's/\.rs$//')
fi
jobs="${JOBS:-1}"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo fuzz build -O --sanitizer none >&2
logs="$(mktemp -d)"
run_one() {
    local t="$1" log="$logs/$1.log"
    mkdir -p "corpus/$t" "artifacts/$t"
    local rc=0
    cargo fuzz run -O --sanitizer none "$t" "corpus/$t" -- -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1 || rc=$?
    local execs crashes
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    crashes="$(find "artifacts/$t" -type f | wc -l)"
    printf '%-18s %6ss %12s execs  crashes: %s  (exit %s, log %s)\n' "$t" "$seconds" "$execs" "$crashes" "$rc" "$log"
}
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
for t in "${targets[@]}"; do
    cargo fuzz cmin -O --sanitizer none "$t" "corpus/$t" >"$logs/$t.cmin.log" 2>&1 || echo "cmin of $t failed: $logs/$t.cmin.log" >&2
done
