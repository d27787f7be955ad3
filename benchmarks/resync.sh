#!/usr/bin/env bash
# Resync throughput: ferrosync's resync from 389 Directory Server to OpenLDAP, side by side with OpenLDAP's own
# tools on the same servers: `ldapsearch | ldapadd` (one stream and four parallel streams) and the destination's
# raw write capacity (four parallel ldapadd of the same entries). Reports entries/s and peak RSS.
#
#   benchmarks/resync.sh [N...]          default: 10000 100000
#
# Two destination modes run: OpenLDAP as it is (every write synced to disk) and with `dbnosync`, where the
# destination is fast and ferrosync's own cost shows. Each run starts from an empty destination.
#
#   RS_MODES="synced dbnosync"   the destination modes to run (default: both)
#   RS_REPEAT=N                  run every method N times, interleaved (default 1): this machine's speed drifts
#   RS_METHODS="ferrosync ldap-1 ldap-4 raw"   the methods to run (default: all four, see below)
#   RS_LOAD=import|ldapadd        how the source is filled: an offline ldif2db import (default) or LDAP adds
#   RS_STORES="sqlite postgresql"  the stores of ferrosync's resync (default: sqlite): postgresql is a throwaway
#                                PostgreSQL 15 on 127.0.0.1:25434, durable, each run a schema of its own
#
# Besides the time, each row gives the CPU seconds the source (389 DS), the destination (slapd) and the client
# (ferrosync's resync; for the OpenLDAP tools: ldapsearch and ldapadd together) used during the run.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$top"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
read -r -a modes <<<"${RS_MODES:-synced dbnosync}"
read -r -a methods <<<"${RS_METHODS:-ferrosync ldap-1 ldap-4 raw}"
read -r -a stores <<<"${RS_STORES:-sqlite}"
for m in "${methods[@]}"; do
    case "$m" in ferrosync | ldap-1 | ldap-4 | raw) ;; *) echo "RS_METHODS: unknown method '$m' (ferrosync, ldap-1, ldap-4, raw)" >&2; exit 2 ;; esac
done
for st in "${stores[@]}"; do
    case "$st" in sqlite | postgresql) ;; *) echo "RS_STORES: unknown store '$st' (sqlite, postgresql)" >&2; exit 2 ;; esac
done
method() { [[ " ${methods[*]} " == *" $1 "* ]]; }
REPEAT=${RS_REPEAT:-1}
LOAD=${RS_LOAD:-import}
case "$LOAD" in import | ldapadd) ;; *) echo "RS_LOAD: unknown way '$LOAD' (import, ldapadd)" >&2; exit 2 ;; esac
for m in "${modes[@]}"; do
    case "$m" in synced | dbnosync) ;; *) echo "RS_MODES: unknown mode '$m' (synced, dbnosync)" >&2; exit 2 ;; esac
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { echo "RS_REPEAT must be a positive integer" >&2; exit 2; }

tests/servers/install-deps.sh all >&2
command -v /usr/bin/time >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends time >&2
cargo build --release --quiet
bindir="${CARGO_TARGET_DIR:-$top/target}/release"

work="$(mktemp -d /tmp/ferrosync-bench.XXXXXX)"
chmod 755 "$work"
SRC_PORT=33890 SRC_LDAPS=33891 DST_PORT=5389 DST_LDAPS=5636
cleanup() {
    tests/servers/stop-openldap.sh "$work/dst" --rm >/dev/null 2>&1 || true
    tests/servers/stop-389ds.sh "$work/src" --rm >/dev/null 2>&1 || true
    tests/servers/stop-postgresql.sh "$work/postgresql" --rm >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

if [[ " ${stores[*]} " == *" postgresql "* ]]; then
    eval "$(SUMMARY_PREFIX=PG_ tests/servers/start-postgresql.sh "$work/postgresql" 25434)"
fi
eval "$(DS_NOSYNC=1 SUMMARY_PREFIX=SRC_ tests/servers/start-389ds.sh "$work/src" $SRC_PORT $SRC_LDAPS "t$SRC_PORT")"
SRC=(-x -H "$SRC_URL" -D "$SRC_BIND_DN" -w "$SRC_BIND_PW")

dst_start() { # $1 = dbnosync (1) or not (0)
    tests/servers/stop-openldap.sh "$work/dst" --rm >/dev/null 2>&1 || true
    eval "$(SLAPD_LOGLEVEL=0 SLAPD_DBNOSYNC=$1 SUMMARY_PREFIX=DST_ tests/servers/start-openldap.sh "$work/dst" $DST_PORT $DST_LDAPS)"
}
DST=(-x -H "ldap://127.0.0.1:$DST_PORT" -D cn=admin,dc=example,dc=com -w secret)

now() { date +%s.%N; }
# CPU seconds (user + system) a process has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU seconds this shell's finished children used so far (the OpenLDAP tools). `times` must run in this shell,
# not in a command substitution's subshell, which has no children of its own.
children_cpu() { # $1 = the variable to set
    times >"$work/times"
    printf -v "$1" '%s' "$(awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); printf "%.2f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$work/times")"
}
sub() { python3 -c "import sys; print(f'{float(sys.argv[1])-float(sys.argv[2]):.1f}')" "$1" "$2"; }
rate() { python3 -c "import sys; n,t=float(sys.argv[1]),float(sys.argv[2]); print(f'{n/t:,.0f}')" "$1" "$2"; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$2"; }

gen_ldif() { # $1 = first index, $2 = count
    python3 - "$1" "$2" <<'PY'
import sys
first, n = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
for i in range(first, first + n):
    out.write(f"dn: uid=user{i},ou=people,dc=example,dc=com\nobjectClass: top\nobjectClass: person\n"
              f"objectClass: organizationalPerson\nobjectClass: inetOrgPerson\nuid: user{i}\ncn: User {i}\n"
              f"sn: Number{i}\ngivenName: User\nmail: user{i}@example.com\ntelephoneNumber: +1 555 {i:07d}\n"
              f"employeeNumber: {i}\ntitle: Engineer\ndescription: benchmark entry {i}\n\n")
PY
}

# The suffix and its OUs, as start-389ds.sh creates them (an offline import replaces the whole backend).
base_ldif() {
    printf 'dn: dc=example,dc=com\nobjectClass: top\nobjectClass: domain\ndc: example\n\n'
    for ou in people groups; do
        printf 'dn: ou=%s,dc=example,dc=com\nobjectClass: top\nobjectClass: organizationalUnit\nou: %s\n\n' "$ou" "$ou"
    done
}

loaded=0
results=()
for n in "${sizes[@]}"; do
    if [ "$loaded" -lt "$n" ]; then
        if [ "$LOAD" = import ]; then
            # Offline: the whole backend is imported again (base entries and entries 0..n-1), much faster than
            # LDAP adds (1,000,000 entries: minutes instead of most of an hour).
            echo "importing entries 0..$((n - 1)) into 389 DS offline (ldif2db)..." >&2
            { base_ldif; gen_ldif 0 "$n"; } >"$work/import.ldif"
            chmod 644 "$work/import.ldif"
            tests/servers/stop-389ds.sh "$work/src" >&2
            runuser -u dirsrv -- /usr/sbin/ns-slapd ldif2db -D "/etc/dirsrv/slapd-t$SRC_PORT" -n userRoot \
                -i "$work/import.ldif" >"$work/import.log" 2>&1 || { tail -20 "$work/import.log" >&2; exit 1; }
            rm -f "$work/import.ldif"
            eval "$(SUMMARY_PREFIX=SRC_ tests/servers/start-389ds.sh "$work/src" $SRC_PORT $SRC_LDAPS "t$SRC_PORT")"
        else
            echo "loading entries $loaded..$((n - 1)) into 389 DS..." >&2
            per=$(((n - loaded + 3) / 4))
            for k in 0 1 2 3; do
                s=$((loaded + k * per)); c=$per
                [ $((s + c)) -gt "$n" ] && c=$((n - s))
                [ "$c" -gt 0 ] && gen_ldif "$s" "$c" >"$work/load$k.ldif"
            done
            for k in 0 1 2 3; do [ -f "$work/load$k.ldif" ] && ldapadd "${SRC[@]}" -c -f "$work/load$k.ldif" >/dev/null & done
            wait
            rm -f "$work"/load*.ldif
        fi
        loaded=$n
    fi
    if method raw; then
        gen_ldif 0 "$n" >"$work/all.ldif"
        split -n l/4 -d "$work/all.ldif" "$work/part"
    fi

    for rep in $(seq 1 "$REPEAT"); do
    for m in "${modes[@]}"; do
        if [ "$m" = dbnosync ]; then mode=1; label=dbnosync; else mode=0; label="synced writes"; fi
        # Runs one method (its commands on stdin are a function name) and records its row.
        row() { # $1 = method label, $2 = peak RSS, t0/t1 and the cpu_* variables set by the caller
            results+=("$n | $label | $1 | $(elapsed "$t0" "$t1") s | $(rate "$n" "$(elapsed "$t0" "$t1")") | $(sub "$(cpu_of "$SRC_PID")" "$src0") | $(sub "$(cpu_of "$DST_PID")" "$dst0") | $client_cpu | $2")
        }

        # ferrosync resync, with each store asked for
        for st in "${stores[@]}"; do
        method ferrosync || break
        store=()
        store_label=""
        if [ "$st" = postgresql ]; then
            store=(--store "$PG_URL&schema=rs_${n}_${rep}_${m}_$$")
            store_label=", PostgreSQL store"
        fi
        dst_start $mode
        root="$work/root"; rm -rf "$root"
        cat >"$work/pipe.dsconfig" <<EOF2
dsconfig create-external-server --server-name src --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:$SRC_PORT --set "bind-dn:cn=Directory Manager" --set password:Password1 --set max-connections:4
dsconfig create-external-server --server-name dst --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:$DST_PORT --set bind-dn:cn=admin,dc=example,dc=com --set password:secret --set max-connections:8
dsconfig create-sync-source --source-name s --type generic-ldap --set base-dn:ou=people,dc=example,dc=com --set server:src
dsconfig create-sync-destination --destination-name d --type generic-ldap --set base-dn:ou=people,dc=example,dc=com --set server:dst
dsconfig create-sync-pipe --pipe-name p --set sync-source:s --set sync-destination:d
dsconfig create-sync-class --pipe-name p --class-name people --set "include-filter:(objectClass=inetOrgPerson)" --set destination-correlation-attributes:dn
EOF2
        "$bindir/dsconfig" --server-root "$root" "${store[@]}" --quiet --batch-file "$work/pipe.dsconfig" >/dev/null
        src0=$(cpu_of "$SRC_PID"); dst0=$(cpu_of "$DST_PID")
        t0=$(now)
        /usr/bin/time -f "%M %U %S" -o "$work/rss" "$bindir/resync" --server-root "$root" "${store[@]}" --pipe-name p >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
        t1=$(now)
        grep -q "$n entries were created" "$work/out" || { echo "resync did not create $n entries:"; cat "$work/out"; exit 1; }
        read -r rss ucpu scpu <"$work/rss"
        client_cpu=$(python3 -c "import sys; print(f'{float(sys.argv[1])+float(sys.argv[2]):.1f}')" "$ucpu" "$scpu")
        row "ferrosync resync$store_label" "$((rss / 1024)) MB"

        done

        # ldapsearch | ldapadd, one stream
        if method ldap-1; then
        dst_start $mode
        src0=$(cpu_of "$SRC_PID"); dst0=$(cpu_of "$DST_PID"); children_cpu c0
        t0=$(now)
        ldapsearch "${SRC[@]}" -LLL -o ldif-wrap=no -E pr=1000/noprompt -b ou=people,dc=example,dc=com "(objectClass=inetOrgPerson)" \
            | grep -v '^#' | ldapadd "${DST[@]}" -c >/dev/null 2>"$work/err" || true
        t1=$(now)
        children_cpu c1; client_cpu=$(sub "$c1" "$c0")
        row "ldapsearch \\| ldapadd, 1 stream" "-"
        fi

        # ldapsearch | ldapadd, four streams (partitioned by the last digit of the uid)
        if method ldap-4; then
        dst_start $mode
        src0=$(cpu_of "$SRC_PID"); dst0=$(cpu_of "$DST_PID"); children_cpu c0
        t0=$(now)
        for f in "(|(uid=*0)(uid=*1)(uid=*2))" "(|(uid=*3)(uid=*4)(uid=*5))" "(|(uid=*6)(uid=*7))" "(|(uid=*8)(uid=*9))"; do
            ldapsearch "${SRC[@]}" -LLL -o ldif-wrap=no -E pr=1000/noprompt -b ou=people,dc=example,dc=com "$f" \
                | grep -v '^#' | ldapadd "${DST[@]}" -c >/dev/null 2>>"$work/err" &
        done
        wait
        t1=$(now)
        children_cpu c1; client_cpu=$(sub "$c1" "$c0")
        row "ldapsearch \\| ldapadd, 4 streams" "-"
        fi

        # The destination's raw capacity: 4 parallel ldapadd of prepared LDIF
        if method raw; then
        dst_start $mode
        src0=$(cpu_of "$SRC_PID"); dst0=$(cpu_of "$DST_PID"); children_cpu c0
        t0=$(now)
        for p in "$work"/part0*; do ldapadd "${DST[@]}" -c -f "$p" >/dev/null 2>>"$work/err" & done
        wait
        t1=$(now)
        children_cpu c1; client_cpu=$(sub "$c1" "$c0")
        row "raw: 4 parallel ldapadd of LDIF" "-"
        fi
    done
    done
    rm -f "$work"/part0* "$work/all.ldif"
done

echo
echo "| entries | destination | method | time | entries/s | CPU s: 389 DS | CPU s: slapd | CPU s: client | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}" | sed 's/^/| /; s/$/ |/'
