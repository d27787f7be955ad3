#!/usr/bin/env bash
# Sync servers in a topology on a PostgreSQL store: takeover time, and what the PostgreSQL store costs.
#
#   benchmarks/topology.sh                 every part below, in this order
#   TB_PARTS="takeover throughput resync"  the parts to run
#
# takeover    Two sync servers (a: priority 1, b: priority 2; separate server roots, one PostgreSQL store) and a
#             pipe from 389 DS (cn=changelog) to OpenLDAP, while a writer modifies entries at TB_RATE (200)/s.
#             TB_ROUNDS (10) times: `kill -9` of the server running the pipe, then one probe entry added at the
#             source; the takeover time is from the kill to the probe's arrival at the destination (the standby's
#             lease wait, its start, and the backlog since the last committed start point). The killed server
#             is started again, and the pipe goes back to it (priority 1) before the next round; that hand-back
#             pause is measured the same way. Goal: max under 10 s.
# throughput  benchmarks/realtime.sh with RT_SYSTEMS="fs-389-changelog fs-389-changelog-pg" at TB_RT_RATES
#             (500 max): real-time throughput and lag with the PostgreSQL store against SQLite, in one run.
#             Goal: at least 0.8x.
# resync      benchmarks/resync.sh with RS_METHODS=ferrosync RS_STORES="sqlite postgresql" RS_MODES=dbnosync for
#             TB_RESYNC_SIZES (100000 1000000) entries into OpenLDAP without disk syncs (a fast destination).
#             Goal: peak RSS under 100 MB, and the 1,000,000-entry rate within 20 % of the 100,000-entry rate.
#
# Output: markdown tables (stdout), progress on stderr. Ports: PostgreSQL 25435, 389 DS 43890/43891, OpenLDAP
# 43389/43636 (takeover); realtime.sh and resync.sh use theirs.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$top"
read -r -a parts <<<"${TB_PARTS:-takeover throughput resync}"
ROUNDS=${TB_ROUNDS:-10}
RATE=${TB_RATE:-200}
for p in "${parts[@]}"; do
    case "$p" in takeover | throughput | resync) ;; *) echo "TB_PARTS: unknown part '$p' (takeover, throughput, resync)" >&2; exit 2 ;; esac
done
for v in "$ROUNDS" "$RATE"; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "TB_ROUNDS and TB_RATE must be positive integers (got '$v')" >&2; exit 2; }
done
has() { [[ " ${parts[*]} " == *" $1 "* ]]; }

takeover() {
    tests/servers/install-deps.sh all >&2
    cargo build --release --quiet
    local bindir="${CARGO_TARGET_DIR:-$top/target}/release"
    local work
    work="$(mktemp -d /tmp/ferrosync-topology.XXXXXX)"
    chmod 755 "$work"
    # shellcheck disable=SC2064
    trap "
        '$bindir/stop-server' --server-root '$work/a' >/dev/null 2>&1 || true
        '$bindir/stop-server' --server-root '$work/b' >/dev/null 2>&1 || true
        [ -n \"\${writer:-}\" ] && kill \"\$writer\" 2>/dev/null || true
        tests/servers/stop-openldap.sh '$work/dst' --rm >/dev/null 2>&1 || true
        tests/servers/stop-389ds.sh '$work/src' --rm >/dev/null 2>&1 || true
        tests/servers/stop-postgresql.sh '$work/postgresql' --rm >/dev/null 2>&1 || true
        rm -rf '$work'
    " EXIT
    echo "starting PostgreSQL, 389 DS and OpenLDAP..." >&2
    eval "$(SUMMARY_PREFIX=PG_ tests/servers/start-postgresql.sh "$work/postgresql" 25435)"
    eval "$(DS_NOSYNC=1 SUMMARY_PREFIX=SRC_ tests/servers/start-389ds.sh "$work/src" 43890 43891 t43890)"
    eval "$(SLAPD_LOGLEVEL=0 SLAPD_DBNOSYNC=1 SUMMARY_PREFIX=DST_ tests/servers/start-openldap.sh "$work/dst" 43389 43636)"
    local SRC=(-x -H "$SRC_URL" -D "$SRC_BIND_DN" -w "$SRC_BIND_PW")
    local DST=(-x -H "ldap://127.0.0.1:43389" -D cn=admin,dc=example,dc=com -w secret)
    local people=ou=people,dc=example,dc=com
    local store="$PG_URL&schema=takeover_$$"
    export FERROSYNC_STORE="$store"

    # 100 entries to modify, on both sides
    python3 - >"$work/load.ldif" <<'PY'
for i in range(100):
    print(f"dn: uid=tb{i},ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: tb{i}\ncn: tb{i}\nsn: s\n")
PY
    ldapadd "${SRC[@]}" -f "$work/load.ldif" >/dev/null
    ldapadd "${DST[@]}" -f "$work/load.ldif" >/dev/null
    cat >"$work/pipe.dsconfig" <<EOF
dsconfig create-external-server --server-name src --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:43890 --set "bind-dn:$SRC_BIND_DN" --set password:$SRC_BIND_PW
dsconfig create-external-server --server-name dst --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:43389 --set bind-dn:cn=admin,dc=example,dc=com --set password:secret
dsconfig create-sync-source --source-name s --type generic-ldap --set base-dn:$people --set server:src --set unique-id-attribute:nsUniqueId
dsconfig create-sync-destination --destination-name d --type generic-ldap --set base-dn:$people --set server:dst
dsconfig create-sync-pipe --pipe-name p --set sync-source:s --set sync-destination:d --set "change-detection-polling-interval:100 ms"
dsconfig create-sync-class --pipe-name p --class-name people --set "include-filter:(objectClass=inetOrgPerson)" --set destination-correlation-attributes:dn
EOF
    "$bindir/dsconfig" --server-root "$work/a" --quiet --batch-file "$work/pipe.dsconfig" >/dev/null
    # Every server of a topology needs the key file that sealed the bind passwords.
    mkdir -p "$work/b/config"
    cp "$work/a/config/encryption.key" "$work/b/config/"
    "$bindir/realtime-sync" --server-root "$work/a" set-startpoint --pipe-name p --end-of-changelog >/dev/null
    "$bindir/realtime-sync" --server-root "$work/a" start --pipe-name p >/dev/null
    "$bindir/start-server" --server-root "$work/a" --server-name a --priority-index 1 >/dev/null
    "$bindir/start-server" --server-root "$work/b" --server-name b --priority-index 2 >/dev/null

    # The writer: modifies at RATE/s, round robin, all along.
    python3 - "$RATE" >"$work/mods.ldif" <<'PY'
import sys
rate = int(sys.argv[1])
for n in range(rate * 3600):
    print(f"dn: uid=tb{n % 100},ou=people,dc=example,dc=com\nchangetype: modify\nreplace: description\ndescription: {n}\n")
PY
    python3 - "$RATE" "$work/mods.ldif" 2>/dev/null <<'PY' | ldapmodify "${SRC[@]}" -c >/dev/null 2>&1 &
import sys, time
rate, path = int(sys.argv[1]), sys.argv[2]
start = time.monotonic()
with open(path) as f:
    block, n = [], 0
    for line in f:
        block.append(line)
        if line == "\n":
            sys.stdout.write("".join(block)); sys.stdout.flush(); block = []; n += 1
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
PY
    writer=$!

    runs_on() { "$bindir/status" --server-root "$work/b" --script-friendly 2>/dev/null | awk -F'\t' '$1 == "p" && $2 == "Runs On" { split($3, w, " "); print w[1] }'; }
    arrived() { ldapsearch "${DST[@]}" -LLL -b "uid=$1,$people" -s base 1.1 2>/dev/null | grep -q '^dn:'; }
    # Adds probe $1 at the source and prints the seconds from $2 (a `date +%s.%N`) until it reaches the destination.
    probe() {
        printf 'dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: p\nsn: p\n' "$1" "$people" "$1" | ldapadd "${SRC[@]}" >/dev/null
        local i
        for i in $(seq 1 1200); do
            if arrived "$1"; then python3 -c "import sys,time; print(f'{time.time()-float(sys.argv[1]):.2f}')" "$2"; return; fi
            sleep 0.05
        done
        echo "never (60 s)"
    }
    wait_runs_on() { # $1 = server name
        local i
        for i in $(seq 1 600); do [ "$(runs_on)" = "$1" ] && return 0; sleep 0.1; done
        echo "the pipe did not run on $1 within 60 s" >&2; exit 1
    }
    wait_runs_on a
    local takeovers=() handbacks=() r t0 victim standby
    for r in $(seq 1 "$ROUNDS"); do
        victim=$(runs_on)
        if [ "$victim" = a ]; then standby=b; else standby=a; fi
        sleep 2
        t0=$(date +%s.%N)
        kill -9 "$(cat "$work/$victim/logs/server.pid")"
        takeovers+=("$(probe "kill$r" "$t0")")
        [ "$(runs_on)" = "$standby" ] || { echo "round $r: the pipe runs on '$(runs_on)', not on $standby" >&2; exit 1; }
        local prio=1
        [ "$victim" = b ] && prio=2
        t0=$(date +%s.%N)
        "$bindir/start-server" --server-root "$work/$victim" --server-name "$victim" --priority-index $prio >/dev/null
        wait_runs_on a
        handbacks+=("$(probe "back$r" "$t0")")
        echo "round $r: takeover ${takeovers[-1]} s, back on a after ${handbacks[-1]} s" >&2
    done
    kill "$writer" 2>/dev/null || true
    writer=""
    # Nothing lost: once the last writes are in, the destination holds what the source holds.
    dump() {
        ldapsearch "$@" -LLL -o ldif-wrap=no -b "$people" -s one "(objectClass=inetOrgPerson)" uid description 2>/dev/null \
            | python3 -c 'import sys
out = []
for rec in sys.stdin.read().strip().split("\n\n"):
    d = dict((l.split(": ", 1) + [""])[:2] for l in rec.splitlines() if not l.startswith("dn:"))
    out.append(d.get("uid", "") + "=" + d.get("description", ""))
print("\n".join(sorted(out)))'
    }
    local same=no i
    for i in $(seq 1 120); do
        if [ "$(dump "${SRC[@]}" | md5sum)" = "$(dump "${DST[@]}" | md5sum)" ]; then same=yes; break; fi
        sleep 0.5
    done
    echo
    echo "Takeover after kill -9 of the server running the pipe ($ROUNDS rounds, $RATE modifies/s all along; lease 5 s)."
    echo "The destination equals the source at the end: $same."
    echo
    python3 - "${takeovers[*]}" "${handbacks[*]}" <<'PY'
import statistics, sys
rows = [("takeover: kill -9 to the first change applied by the standby", sys.argv[1].split()),
        ("hand-back: start of the preferred server to the first change applied by it", sys.argv[2].split())]
print("| what | runs | median | max | all (s) |")
print("|---|---|---|---|---|")
for label, values in rows:
    nums = [float(v) for v in values if v.replace(".", "", 1).isdigit()]
    missing = len(values) - len(nums)
    med = f"{statistics.median(nums):.2f} s" if nums else "-"
    mx = f"{max(nums):.2f} s" if nums else "-"
    note = f" ({missing} never arrived)" if missing else ""
    print(f"| {label} | {len(values)}{note} | {med} | {mx} | {' '.join(values)} |")
PY
    unset FERROSYNC_STORE
    trap - EXIT
    "$bindir/stop-server" --server-root "$work/a" >/dev/null 2>&1 || true
    "$bindir/stop-server" --server-root "$work/b" >/dev/null 2>&1 || true
    tests/servers/stop-openldap.sh "$work/dst" --rm >/dev/null 2>&1 || true
    tests/servers/stop-389ds.sh "$work/src" --rm >/dev/null 2>&1 || true
    tests/servers/stop-postgresql.sh "$work/postgresql" --rm >/dev/null 2>&1 || true
    rm -rf "$work"
}

if has takeover; then (takeover); fi
if has throughput; then
    read -r -a rt_rates <<<"${TB_RT_RATES:-500 max}"
    RT_SYSTEMS="fs-389-changelog fs-389-changelog-pg" benchmarks/realtime.sh "${rt_rates[@]}"
fi
if has resync; then
    read -r -a sizes <<<"${TB_RESYNC_SIZES:-100000 1000000}"
    RS_METHODS=ferrosync RS_STORES="sqlite postgresql" RS_MODES=dbnosync benchmarks/resync.sh "${sizes[@]}"
fi
