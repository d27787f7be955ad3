# Shared by benchmarks/scim-resync-speed.sh and pingone-resync-speed.sh (sourced): timing, the raw loader, a
# timed resync and the table of results. Expects N, C, work (with posts.curl), root, bindir.
results=()
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$2"; }
rate() { python3 -c "import sys; n,t=float(sys.argv[1]),float(sys.argv[2]); print(f'{n/t:.0f}')" "$1" "$2"; }
# result ROUND WHAT T0 T1: one row of the table, N users in T1 - T0.
result() { results+=("$1 | $2 | $(elapsed "$3" "$4") s | $(rate "$N" "$(elapsed "$3" "$4")")"); }

# raw_post ROUND: the N requests of $work/posts.curl, C at a time, from one curl process; each must answer 201.
raw_post() {
    local t0 t1 ok
    t0=$(now)
    ok=$(curl -s --no-progress-meter --parallel --parallel-max "$C" --parallel-immediate -K "$work/posts.curl" | grep -c '^201$' || true)
    t1=$(now)
    [ "$ok" = "$N" ] || { echo "raw POST: only $ok of $N created"; exit 1; }
    result "$1" "raw: $N POSTs, curl --parallel-max $C" "$t0" "$t1"
}

# timed_resync ROUND LABEL WANT PIPE [ARGS...]: resync of pipe PIPE, whose output must say WANT and that it
# correlated from a listing; its output stays in $work/out.
timed_resync() {
    local t0 t1 round="$1" label="$2" want="$3" pipe="$4"
    shift 4
    t0=$(now)
    # shellcheck disable=SC2086 # BENCH_RESYNC_ARGS: more arguments, such as --logLevel debug; BENCH_RESYNC_WRAP:
    # a command to run resync under (such as strace or perf record)
    ${BENCH_RESYNC_WRAP:-} "$bindir/resync" --server-root "$root" --pipe-name "$pipe" "$@" ${BENCH_RESYNC_ARGS:-} >"$work/out" 2>&1 || {
        cat "$work/out"
        echo "the first failures' reasons:"
        grep -m 5 '^#' "$root/logs/resync-failed-DNs.log" | cut -c 1-1500
        exit 1
    }
    t1=$(now)
    grep -q "$want" "$work/out" || {
        echo "resync: expected '$want':"
        cat "$work/out"
        echo "the end of its log:"
        tail -n 20 "$root/logs/tools/resync.log" | cut -c 1-1500
        exit 1
    }
    grep -q "Correlation: from one listing" "$work/out" || { echo "resync did not correlate from a listing:"; cat "$work/out"; exit 1; }
    result "$round" "ferrosync resync: $label ($C threads)" "$t0" "$t1"
    # BENCH_LOG_DIR: where to keep each resync's output and log
    if [ -n "${BENCH_LOG_DIR:-}" ]; then
        cp "$work/out" "$BENCH_LOG_DIR/resync-$round-$(date +%H%M%S).out"
        cp "$root/logs/tools/resync.log" "$BENCH_LOG_DIR/resync-$round-$(date +%H%M%S).log"
    fi
}

# print_results TITLE
print_results() {
    echo
    echo "$1"
    echo "| round | run | time | users/s |"
    echo "|---|---|---|---|"
    printf '%s\n' "${results[@]}" | sed 's/^/| /; s/$/ |/'
}
