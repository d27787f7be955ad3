#!/usr/bin/env bash
# Real-time sync: sustained changes/s and the lag from a source write to its arrival at the destination, for
# ferrosync's change detectors side by side with OpenLDAP's own replication between two slapd on this machine.
#
#   benchmarks/realtime.sh [RATE...]       default: 100 500 max   (changes/s; `max`: as fast as the source accepts)
#
# Systems (RT_SYSTEMS, space-separated, default: all of them, in this order):
#   fs-accesslog       ferrosync, OpenLDAP source --type openldap (accesslog, polling interval 500 ms, the default;
#                      the source's accesslog database has syncprov, so the server rings the source's doorbell)
#   fs-accesslog-100   the same, polling interval 100 ms
#   fs-content-sync    ferrosync, OpenLDAP source --type content-sync (RFC 4533 refreshAndPersist: pushed)
#   fs-389-changelog   ferrosync, 389 DS source --type generic-ldap (cn=changelog, polled every 500 ms)
#   syncrepl           a second slapd replicating the source with plain syncrepl (refreshAndPersist)
#   delta-syncrepl     the same with delta-syncrepl (syncdata=accesslog)
#   fs-...-pg          any ferrosync system above with its store in PostgreSQL instead of SQLite (a throwaway
#                      PostgreSQL 15 on 127.0.0.1:RT_PG_PORT (25433), durable, each run a schema of its own), to
#                      compare the stores side by side: RT_SYSTEMS="fs-389-changelog fs-389-changelog-pg"
# Every destination is OpenLDAP. The writes are `modify replace: description` of inetOrgPerson entries, round
# robin, the value `<id> <unix-nanos>`, sent from RT_CONNS (4) connections at a fixed rate for RT_DURATION (25)
# seconds, or as fast as the source takes them for RT_MAX_DURATION (20) seconds. Fixed rates write a pool of
# RT_ENTRIES (1,000) entries; `max` writes a pool of RT_MAX_ENTRIES (100,000), so that no entry is written twice
# in a run: a synchronizer that reads the current entry (ferrosync) could otherwise make a hot entry current
# while its change-log backlog grows, and look faster than it is.
# The runs are interleaved (for each rate, every system one after another) because this machine's speed drifts.
#
# Each run starts from a fresh OpenLDAP source (a copy of a template loaded offline, so cn=accesslog is empty)
# and a fresh destination: a slapd holding the same entries (loaded offline); for syncrepl, the consumer then
# refreshes the one write made since the load. Destinations and consumers run the same slapd.conf,
# adapted from the one tests/servers/start-openldap.sh generates: no accesslog, syncprov kept (the observer needs
# it), plus the `syncrepl` directive for the consumers. The 389 DS source is one instance for all its runs. Every
# server has dbnosync / no durable transactions (RT_DURABLE=1: each server commits every write to disk, as it does
# by default), and no stats logging.
#
# The lag: benchmarks/realtime (rtbench) watches the destination with an RFC 4533 refreshAndPersist search and
# timestamps each entry as it arrives; a write has arrived when its entry shows its id or a later one. A warm-up
# write must arrive before the measurement starts (then 0.5 s pass). After the last write rtbench waits for every
# write, at most RT_DRAIN (120) seconds. "bounded": every write arrived, the lag grew by at most 50 ms per second
# of writing (least-squares slope), the last 5 s' p50 is at most 2 x the first 5 s' + 200 ms, and ferrosync's
# unread change-log backlog (status) is under 2 s of writes.
#
# RT_POISSON=1 sends the writes of a fixed rate at exponentially distributed intervals (a Poisson process) instead
# of every 1/rate s: at low rates this includes the idle gaps after which a change must wake the synchronizer.
# Each ferrosync pipe is prepared as README.md says: set-startpoint, resync (all entries are already equal, but
# resync records them in the id map), then realtime-sync start. RT_RESYNC=0 skips the resync: the id map then
# starts empty, and the first change of each entry looks its DN up in it.
# RT_WORKERS=N sets ferrosync's num-worker-threads (default: ferrosync's default, 4). RT_BINDIR=DIR uses the
# ferrosync binaries in DIR (e.g. another checkout's target/release) instead of building this one.
#
# Output: a markdown table (stdout). RT_KEEP=1 keeps the work folder (per-run lags, per-second series, ferrosync
# logs and status) and prints its path. Ports: 8389-8391 (OpenLDAP source, its LDAPS, the destination) and
# 38890-38891 (389 DS). The default run takes about 30 minutes on 2 cores (the 389 DS load of 100,000 entries
# about 2 of them).
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$top"
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(100 500 max)
read -r -a systems <<<"${RT_SYSTEMS:-fs-accesslog fs-accesslog-100 fs-content-sync fs-389-changelog syncrepl delta-syncrepl}"
ENTRIES=${RT_ENTRIES:-1000}
MAX_ENTRIES=${RT_MAX_ENTRIES:-100000}
CONNS=${RT_CONNS:-4}
DURATION=${RT_DURATION:-25}
MAX_DURATION=${RT_MAX_DURATION:-20}
DRAIN=${RT_DRAIN:-120}
KEEP=${RT_KEEP:-0}
RESYNC=${RT_RESYNC:-1}
POISSON=()
[ "${RT_POISSON:-0}" = 1 ] && POISSON=(--poisson)
WORKERS=${RT_WORKERS:-}
# RT_DURABLE=1: every server commits each write to disk (their default); otherwise dbnosync / no durable transactions
DURABLE=${RT_DURABLE:-0}
NOSYNC=1
[ "$DURABLE" = 1 ] && NOSYNC=0
for v in "$ENTRIES" "$MAX_ENTRIES" "$CONNS" "$DURATION" "$MAX_DURATION" "$DRAIN" "${WORKERS:-1}"; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "RT_* settings must be positive integers (got '$v')" >&2; exit 2; }
done
for r in "${rates[@]}"; do [[ "$r" =~ ^([1-9][0-9]*|max)$ ]] || { echo "usage: $0 [RATE|max ...]" >&2; exit 2; }; done
need_389=0
need_pg=0
for s in "${systems[@]}"; do
    case "$s" in fs-*-pg) need_pg=1 ;; *-pg) echo "RT_SYSTEMS: $s: only ferrosync systems (fs-...) have a store" >&2; exit 2 ;; esac
    case "${s%-pg}" in fs-accesslog | fs-accesslog-100 | fs-content-sync | syncrepl | delta-syncrepl) ;;
        fs-389-changelog) need_389=1 ;;
        *) echo "unknown system in RT_SYSTEMS: $s" >&2; exit 2 ;;
    esac
done
pools=()
for r in "${rates[@]}"; do
    if [ "$r" = max ]; then p=$MAX_ENTRIES; else p=$ENTRIES; fi
    [[ " ${pools[*]} " == *" $p "* ]] || pools+=("$p")
done
largest=$(printf '%s\n' "${pools[@]}" | sort -n | tail -1)

SRC_PORT=8389 SRC_LDAPS=8390 DST_PORT=8391 DS_PORT=38890 DS_LDAPS=38891
BASE=dc=example,dc=com
PEOPLE=ou=people,$BASE
ADMIN=cn=admin,$BASE
ADMIN_PW=secret
SLAPD=/usr/sbin/slapd

if [ "$need_389" = 1 ] || [ "$need_pg" = 1 ]; then tests/servers/install-deps.sh all >&2; else tests/servers/install-deps.sh openldap >&2; fi
if [ -n "${RT_BINDIR:-}" ]; then
    bindir=$(cd "$RT_BINDIR" && pwd)
    echo "building rtbench (ferrosync from $bindir)..." >&2
else
    echo "building ferrosync and rtbench..." >&2
    cargo build --release --quiet
    bindir="${CARGO_TARGET_DIR:-$top/target}/release"
fi
rt_target="${CARGO_TARGET_DIR:-$top/target}/rtbench"
(cd benchmarks/realtime && CARGO_TARGET_DIR="$rt_target" cargo build --release --quiet)
RTBENCH="$rt_target/release/rtbench"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports=("$SRC_PORT" "$SRC_LDAPS" "$DST_PORT")
if [ "$need_389" = 1 ]; then ports+=("$DS_PORT" "$DS_LDAPS"); fi
for p in "${ports[@]}"; do
    if port_busy "$p"; then echo "port $p is in use" >&2; exit 1; fi
done

work="$(mktemp -d /tmp/ferrosync-rt.XXXXXX)"
chmod 755 "$work"
cleanup() {
    local d rm=--rm
    [ "$KEEP" = 1 ] && rm=""
    for d in "$work"/runs/*/root; do
        if [ -d "$d" ]; then "$bindir/stop-server" --server-root "$d" >/dev/null 2>&1 || true; fi
    done
    for d in "$work"/runs/*/src "$work"/runs/*/dst "$work"/tpl-*; do
        if [ -d "$d" ]; then tests/servers/stop-openldap.sh "$d" $rm >/dev/null 2>&1 || true; fi
    done
    if [ -d "$work/ds389" ]; then tests/servers/stop-389ds.sh "$work/ds389" --rm >/dev/null 2>&1 || true; fi
    if [ -d "$work/postgresql" ]; then tests/servers/stop-postgresql.sh "$work/postgresql" --rm >/dev/null 2>&1 || true; fi
    if [ "$KEEP" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# ---- templates, one per pool size: a source with the entries loaded offline (cn=accesslog stays empty), and a
# destination holding the same entries
for pool in "${pools[@]}"; do
    echo "preparing the templates ($pool entries)..." >&2
    t="$work/tpl-src-$pool"
    "$RTBENCH" ldif "$pool" "$PEOPLE" >"$work/people.ldif"
    SLAPD_LOGLEVEL=0 SLAPD_DBNOSYNC=$NOSYNC tests/servers/start-openldap.sh "$t" $SRC_PORT $SRC_LDAPS >/dev/null 2>&1
    tests/servers/stop-openldap.sh "$t" >/dev/null 2>&1
    # -w: write the syncrepl context (contextCSN) after the load, so syncprov starts from it
    "$SLAPD" -T add -q -w -f "$t/slapd.conf" -b "$BASE" -l "$work/people.ldif" >"$work/slapadd.log" 2>&1 \
        || { cat "$work/slapadd.log" >&2; exit 1; }
    mkdir -p "$work/tpl-dst-$pool/data"
    cp -a "$t/tls" "$work/tpl-dst-$pool/"
    cp -a "$t/data/data.mdb" "$work/tpl-dst-$pool/data/"
done
conf_template="$work/tpl-src-${pools[0]}"

# slapd.conf for a destination or consumer in DIR: the source's conf without the accesslog database and overlay;
# $2, when given, is the syncrepl directive of the main database.
consumer_conf() { # $1 = DIR, $2 = syncrepl line or ""
    awk -v from="$conf_template" -v to="$1" -v syncrepl="$2" '
        /^# ---- change log database/ { skip = 1 }
        /^# ---- main database/ { skip = 0 }
        skip { next }
        /^overlay[ \t]+accesslog/ { inlog = 1; next }
        /^overlay/ { inlog = 0 }
        inlog && /^(logdb|logops|logsuccess|logpurge|#)/ { next }
        {
            while ((i = index($0, from)) > 0) $0 = substr($0, 1, i - 1) to substr($0, i + length(from))
            print
        }
        /^directory/ && syncrepl != "" { print syncrepl }
    ' "$conf_template/slapd.conf" >"$1/slapd.conf"
}

# Starts slapd in DIR (its slapd.conf) on DST_PORT; tests/servers/stop-openldap.sh DIR stops it.
slapd_start() { # $1 = DIR
    if port_busy $DST_PORT; then echo "port $DST_PORT is in use" >&2; exit 1; fi
    nohup "$SLAPD" -d 0 -f "$1/slapd.conf" -h "ldap://127.0.0.1:$DST_PORT/" </dev/null >"$1/slapd.log" 2>&1 &
    echo $! >"$1/slapd.pid.launcher"
    local i
    for i in $(seq 1 600); do
        ldapsearch -x -LLL -o nettimeout=2 -H "ldap://127.0.0.1:$DST_PORT" -D "$ADMIN" -w "$ADMIN_PW" -s base \
            -b "" objectClass >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$1/slapd.pid.launcher")" 2>/dev/null || break
        [ "$i" -lt 600 ] && sleep 0.05
    done
    echo "slapd in $1 did not start:" >&2
    tail -20 "$1/slapd.log" >&2
    exit 1
}

# The 389 DS source, one instance for all its runs, with the largest pool.
if [ "$need_389" = 1 ]; then
    echo "creating the 389 DS source (10-20 s) and loading $largest entries..." >&2
    DS_NOSYNC=$NOSYNC tests/servers/start-389ds.sh "$work/ds389" $DS_PORT $DS_LDAPS "t$DS_PORT" >/dev/null 2>&1
    "$RTBENCH" ldif "$largest" "$PEOPLE" | awk -v out="$work/ds-load." 'BEGIN { RS = ""; ORS = "\n\n" } { print > (out NR % 4) }'
    for f in "$work"/ds-load.*; do
        ldapadd -x -H "ldap://127.0.0.1:$DS_PORT" -D "cn=Directory Manager" -w Password1 -f "$f" >/dev/null &
    done
    wait
    rm -f "$work"/ds-load.*
fi

# PostgreSQL for the -pg systems' stores (durable, as a production store is)
if [ "$need_pg" = 1 ]; then
    echo "starting PostgreSQL for the -pg systems..." >&2
    eval "$(SUMMARY_PREFIX=PG_ tests/servers/start-postgresql.sh "$work/postgresql" "${RT_PG_PORT:-25433}")"
fi

# ---- one run
context_csn() { # $1 = port
    ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$1" -D "$ADMIN" -w "$ADMIN_PW" -s base -b "$BASE" \
        contextCSN 2>/dev/null | sed -n 's/^contextCSN: //p' | sort | tr '\n' ' '
}
kv() { sed -n "s/^$2='\(.*\)'\$/\1/p" "$1"; }
status_field() { awk -F'\t' -v f="$2" '$2 == f { print $3 }' "$1"; }
results=()
run_no=0
one_run() { # $1 = system, $2 = rate (number or max)
    local system=${1%-pg} rate=$2 rtrate duration pool run dir src_url src_dn src_pw store=sqlite
    if [ "$1" != "$system" ]; then
        store=postgresql
        # Every ferrosync tool of this run reads FERROSYNC_STORE: a schema of its own in the benchmark's PostgreSQL.
        export FERROSYNC_STORE="$PG_URL&schema=rt_run_$((run_no + 1))_$$"
    fi
    run_no=$((run_no + 1))
    run="$work/runs/$(printf '%02d' $run_no)-$rate-$1"
    mkdir -p "$run"
    if [ "$rate" = max ]; then
        rtrate=0 duration=$MAX_DURATION pool=$MAX_ENTRIES
    else
        rtrate=$rate duration=$DURATION pool=$ENTRIES
    fi
    echo "run $run_no: $1 at $rate/s for ${duration}s, $pool entries" >&2

    # the source
    if [ "$system" = fs-389-changelog ]; then
        src_url="ldap://127.0.0.1:$DS_PORT" src_dn="cn=Directory Manager" src_pw=Password1
    else
        mkdir "$run/src"
        cp -a "$work/tpl-src-$pool/tls" "$work/tpl-src-$pool/data" "$work/tpl-src-$pool/accesslog" "$run/src/"
        SLAPD_LOGLEVEL=0 SLAPD_DBNOSYNC=$NOSYNC tests/servers/start-openldap.sh "$run/src" $SRC_PORT $SRC_LDAPS >/dev/null 2>&1
        src_url="ldap://127.0.0.1:$SRC_PORT" src_dn=$ADMIN src_pw=$ADMIN_PW
        # One write before anyone reads the log: slapd 2.5.13 (Debian 12) as a delta-syncrepl provider dies
        # ("munmap_chunk(): invalid pointer") when a consumer switches to an empty cn=accesslog. Done for
        # every system, so that all start alike.
        printf 'dn: uid=user0,%s\nchangetype: modify\nreplace: description\ndescription: init\n' "$PEOPLE" \
            | ldapmodify -x -H "$src_url" -D "$ADMIN" -w "$ADMIN_PW" >/dev/null
    fi

    # the destination
    dir="$run/dst"
    local provider="provider=ldap://127.0.0.1:$SRC_PORT type=refreshAndPersist searchbase=\"$BASE\""
    provider+=" bindmethod=simple binddn=\"$ADMIN\" credentials=$ADMIN_PW retry=\"1 +\""
    case "$system" in
        syncrepl | delta-syncrepl)
            # A copy of the entries as loaded, with the contextCSN the load wrote: the consumer's refresh only
            # fetches the write made since (a refresh of every entry, one commit each, takes minutes when durable).
            cp -a "$work/tpl-dst-$pool" "$dir"
            if [ "$system" = syncrepl ]; then
                consumer_conf "$dir" "syncrepl rid=001 $provider"
            else
                consumer_conf "$dir" "syncrepl rid=001 $provider syncdata=accesslog logbase=\"cn=accesslog\" logfilter=\"(&(objectClass=auditWriteObject)(reqResult=0))\""
            fi
            slapd_start "$dir"
            # The refresh is over when the consumer's contextCSN is the provider's.
            local want got="" i
            want=$(context_csn "$SRC_PORT")
            for i in $(seq 1 1200); do
                got=$(context_csn "$DST_PORT")
                [ -n "$got" ] && [ "$got" = "$want" ] && break
                sleep 0.1
            done
            [ "$got" = "$want" ] || { echo "the consumer did not finish its refresh in 120 s" >&2; exit 1; }
            local n
            n=$(ldapsearch -x -LLL -H "ldap://127.0.0.1:$DST_PORT" -D "$ADMIN" -w "$ADMIN_PW" -b "$PEOPLE" \
                -s one "(objectClass=inetOrgPerson)" 1.1 | grep -c '^dn:' || true)
            [ "$n" -ge "$pool" ] || { echo "the consumer has $n of $pool entries" >&2; exit 1; }
            ;;
        fs-389-changelog)
            # the 389 DS source holds the largest pool: so does its destination
            cp -a "$work/tpl-dst-$largest" "$dir"
            consumer_conf "$dir" ""
            slapd_start "$dir"
            ;;
        *)
            cp -a "$work/tpl-dst-$pool" "$dir"
            consumer_conf "$dir" ""
            slapd_start "$dir"
            ;;
    esac

    # ferrosync
    local root="$run/root" pid="" type extra="" uid="" port=$SRC_PORT
    case "$system" in
        fs-*)
            case "$system" in
                fs-accesslog) type=openldap ;;
                fs-accesslog-100) type=openldap extra='--set "change-detection-polling-interval:100 ms"' ;;
                fs-content-sync) type=content-sync ;;
                fs-389-changelog) type=generic-ldap uid="--set unique-id-attribute:nsUniqueId" port=$DS_PORT ;;
            esac
            [ -n "$WORKERS" ] && extra+=" --set num-worker-threads:$WORKERS"
            cat >"$run/pipe.dsconfig" <<EOF
dsconfig create-external-server --server-name src --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:$port --set "bind-dn:$src_dn" --set password:$src_pw
dsconfig create-external-server --server-name dst --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:$DST_PORT --set bind-dn:$ADMIN --set password:$ADMIN_PW
dsconfig create-sync-source --source-name s --type $type --set base-dn:$PEOPLE --set server:src $uid
dsconfig create-sync-destination --destination-name d --type generic-ldap --set base-dn:$PEOPLE --set server:dst
dsconfig create-sync-pipe --pipe-name p --set sync-source:s --set sync-destination:d $extra
dsconfig create-sync-class --pipe-name p --class-name people --set "include-filter:(objectClass=inetOrgPerson)" --set destination-correlation-attributes:dn
EOF
            "$bindir/dsconfig" --server-root "$root" --quiet --batch-file "$run/pipe.dsconfig" >/dev/null
            "$bindir/realtime-sync" --server-root "$root" set-startpoint --pipe-name p --end-of-changelog >/dev/null
            if [ "$RESYNC" = 1 ]; then
                # The documented order: start point, resync (which also fills the id map), then live sync.
                "$bindir/resync" --server-root "$root" --pipe-name p >"$run/resync.out" 2>&1 \
                    || { echo "resync failed:" >&2; tail "$run/resync.out" >&2; exit 1; }
            fi
            "$bindir/realtime-sync" --server-root "$root" start --pipe-name p >/dev/null
            "$bindir/start-server" --server-root "$root" >/dev/null
            pid=$(cat "$root/logs/server.pid")
            ;;
    esac

    "$RTBENCH" run --src "$src_url" --src-dn "$src_dn" --src-pw "$src_pw" \
        --dst "ldap://127.0.0.1:$DST_PORT" --dst-dn "$ADMIN" --dst-pw "$ADMIN_PW" --base "$PEOPLE" \
        --entries "$pool" --rate "$rtrate" --duration "$duration" --conns "$CONNS" --drain "$DRAIN" "${POISSON[@]}" \
        --lags "$run/lags.tsv" --series "$run/series.tsv" >"$run/result" 2>"$run/rtbench.err" \
        || { echo "rtbench failed:" >&2; cat "$run/rtbench.err" >&2; exit 1; }

    local rss="-" cpu="-" ops="-" backlog="-"
    if [ -n "$pid" ]; then
        rss="$(awk '/^VmHWM/ {printf "%.0f MB", $2 / 1024}' "/proc/$pid/status")"
        # user + system CPU seconds of the server process
        cpu="$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.1f s", ($12 + $13) / hz }' "/proc/$pid/stat")"
        sleep 0.3 # the server saves its counters every 250 ms
        "$bindir/status" --server-root "$root" --script-friendly >"$run/status" 2>&1 || true
        ops=$(status_field "$run/status" "Ops Completed Total")
        backlog=$(status_field "$run/status" "Source Unretrieved Changes")
        [ "$system" = fs-content-sync ] && backlog="n/a"
        "$bindir/stop-server" --server-root "$root" >/dev/null 2>&1 || true
    fi
    tests/servers/stop-openldap.sh "$dir" >/dev/null 2>&1
    if [ -d "$run/src" ]; then tests/servers/stop-openldap.sh "$run/src" >/dev/null 2>&1; fi
    rm -rf "$run/src/data" "$run/src/accesslog" "$dir/data"
    if [ "$KEEP" != 1 ]; then rm -f "$run/lags.tsv"; fi

    # bounded: every write arrived, the lag does not grow by more than 50 ms per second of writes (a backlog
    # grows by 1000 * (1 - applied/written) ms/s) and the last 5 s are not much worse than the first 5 s.
    local r="$run/result" bounded=no
    if [ "$(kv "$r" COMPLETE)" = yes ] && awk -v a="$(kv "$r" FIRST5_P50_MS)" -v b="$(kv "$r" LAST5_P50_MS)" \
        -v s="$(kv "$r" SLOPE_MS_PER_S)" 'BEGIN { exit !(b <= 2 * a + 200 && s <= 50) }'; then bounded=yes; fi
    # ... and ferrosync has not left more than 2 s of writes unread in the change log (with a small pool, reading
    # the current entry can keep the destination current while the log's backlog grows)
    if [[ "$backlog" =~ ^[0-9]+$ ]] && [ "$backlog" -gt $((2 * $(kv "$r" WRITE_RATE))) ]; then bounded="no (backlog)"; fi
    local label=$system
    case "$system" in
        fs-accesslog) label="ferrosync openldap (accesslog + doorbell, 500 ms)" ;;
        fs-accesslog-100) label="ferrosync openldap (accesslog + doorbell, 100 ms)" ;;
        fs-content-sync) label="ferrosync content-sync (push)" ;;
        fs-389-changelog) label="ferrosync 389 cn=changelog (500 ms)" ;;
        syncrepl) label="OpenLDAP syncrepl" ;;
        delta-syncrepl) label="OpenLDAP delta-syncrepl" ;;
    esac
    if [ "$store" = postgresql ]; then label+=", PostgreSQL store"; fi
    unset FERROSYNC_STORE
    local failures=""
    if [ "$(kv "$r" WRITE_FAILURES)" != 0 ]; then failures=" ($(kv "$r" WRITE_FAILURES) failed)"; fi
    local arrived
    arrived="$(kv "$r" ARRIVED)/$(kv "$r" WRITES)"
    results+=("$rate | $label | $(kv "$r" WRITE_RATE)$failures | $(kv "$r" DST_RATE) | $arrived | $(kv "$r" P50_MS) | $(kv "$r" P95_MS) | $(kv "$r" P99_MS) | $(kv "$r" MAX_MS) | $(kv "$r" FIRST5_P50_MS) / $(kv "$r" FIRST5_P99_MS) | $(kv "$r" LAST5_P50_MS) / $(kv "$r" LAST5_P99_MS) | $(kv "$r" SLOPE_MS_PER_S) | $bounded | $(kv "$r" DRAIN_S) | $rss | $cpu | $ops | $backlog")
    echo "  writes/s $(kv "$r" WRITE_RATE), applied/s $(kv "$r" DST_RATE), p50 $(kv "$r" P50_MS) ms, p99 $(kv "$r" P99_MS) ms, max $(kv "$r" MAX_MS) ms, bounded: $bounded, rss $rss, backlog $backlog" >&2
}

for rate in "${rates[@]}"; do
    for system in "${systems[@]}"; do
        one_run "$system" "$rate"
    done
done

poisson_note=""
[ ${#POISSON[@]} -gt 0 ] && poisson_note=" (Poisson arrivals)"
workers_note=""
[ -n "$WORKERS" ] && workers_note="; ferrosync num-worker-threads $WORKERS"
echo
echo "Lag in ms, from the send of a modify at the source to its arrival at the destination (RFC 4533 observer)."
echo "$CONNS writer connections; fixed rates: ${DURATION} s$poisson_note on $ENTRIES entries; max: ${MAX_DURATION} s on $MAX_ENTRIES entries; $(nproc) cores$workers_note."
[ "$DURABLE" = 1 ] && echo "Durable servers: every write is committed to disk (no dbnosync)."
echo "The ferrosync counters (status) are read when the last write has arrived; backlog = Source Unretrieved Changes."
if [ "$RESYNC" = 1 ]; then echo "Each ferrosync pipe was resynced (id map filled) before live sync."; else echo "No resync before live sync: the id map starts empty."; fi
echo
echo "| target/s | system | writes/s | applied/s | arrived | p50 | p95 | p99 | max | first 5 s p50 / p99 | last 5 s p50 / p99 | lag trend ms/s | bounded | drain s | ferrosync peak RSS | ferrosync CPU | ferrosync ops | ferrosync backlog |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}" | sed 's/^/| /; s/$/ |/'
