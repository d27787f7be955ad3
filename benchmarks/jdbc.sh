#!/usr/bin/env bash
# Rows per second into PostgreSQL: ferrosync's resync from 389 DS into a `jdbc` sync destination (a table),
# side by side with PostgreSQL's own loaders of the same rows on the same server, interleaved over ROUNDS rounds
# (the table dropped and created again before every load):
#   resync        N entries of 9 attributes (two multi-valued, into text[] columns) created as N rows;
#   COPY          the same N rows from a CSV file (psql \copy, one stream);
#   INSERT        the same N rows as INSERT statements of 1,000 rows each (psql, one stream, each its own
#                 transaction);
#   resync again  the N rows compared with the N entries, nothing to write.
#
#   benchmarks/jdbc.sh [N] [ROUNDS]        defaults 10000 2
#   Ports (environment): BENCH_DS_PORT (34890; LDAPS +1), BENCH_PG_PORT (25432). BENCH_PG_NOSYNC=1 turns
#   PostgreSQL's fsync off (the loaders' own cost shows). BENCH_BASELINE_RESYNC=PATH also runs both resyncs with
#   another resync binary (an earlier build, say), in a server root of its own, in the same rounds.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$top"
N="${1:-10000}"
ROUNDS="${2:-2}"
DS_PORT="${BENCH_DS_PORT:-34890}"
PG_PORT="${BENCH_PG_PORT:-25432}"

tests/servers/install-deps.sh 389ds >&2
tests/servers/install-deps.sh postgresql >&2
cargo build --release --quiet -p ferrosync-tools --bin dsconfig --bin resync
bindir="${CARGO_TARGET_DIR:-$top/target}/release"

work="$(mktemp -d /tmp/ferrosync-bench-jdbc.XXXXXX)"
chmod 755 "$work"
cleanup() {
    tests/servers/stop-389ds.sh "$work/src" --rm >/dev/null 2>&1 || true
    tests/servers/stop-postgresql.sh "$work/pg" --rm >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

eval "$(DS_NOSYNC=1 DS_CONTENT_SYNC=0 SUMMARY_PREFIX=SRC_ tests/servers/start-389ds.sh "$work/src" "$DS_PORT" $((DS_PORT + 1)) "t$DS_PORT")"
eval "$(PG_NOSYNC="${BENCH_PG_NOSYNC:-0}" SUMMARY_PREFIX=PG_ tests/servers/start-postgresql.sh "$work/pg" "$PG_PORT")"
SRC=(-x -H "$SRC_URL" -D "$SRC_BIND_DN" -w "$SRC_BIND_PW")
export PGPASSFILE="$PG_PASSFILE" PGSSLMODE=require
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DATABASE")

# source speed-lib.sh for now, elapsed, rate, result (one row per run, N rows).
# shellcheck source=benchmarks/speed-lib.sh
. benchmarks/speed-lib.sh

# The same N people as LDIF (for 389 DS), CSV (for COPY) and INSERT statements.
python3 - "$N" "$work" <<'PY'
import csv, sys
n, work = int(sys.argv[1]), sys.argv[2]
def arr(values):
    return "{" + ",".join('"' + v.replace('\\', '\\\\').replace('"', '\\"') + '"' for v in values) + "}"
def lit(v):
    return "'" + v.replace("'", "''") + "'"
with open(f"{work}/load.ldif", "w") as ldif, open(f"{work}/rows.csv", "w", newline="") as c, \
        open(f"{work}/insert.sql", "w") as sql:
    w = csv.writer(c)
    batch = []
    for i in range(n):
        mails = [f"user{i}@example.com", f"u{i}@mail.example.com"]
        phones = [f"+1 555 {i:07d}"]
        ldif.write(f"dn: uid=user{i},ou=people,dc=example,dc=com\nobjectClass: top\nobjectClass: person\n"
                   f"objectClass: organizationalPerson\nobjectClass: inetOrgPerson\nuid: user{i}\ncn: User {i}\n"
                   f"sn: Number{i}\ngivenName: User\nmail: {mails[0]}\nmail: {mails[1]}\n"
                   f"telephoneNumber: {phones[0]}\nemployeeNumber: {i}\ntitle: Engineer\n"
                   f"description: benchmark entry {i}\n\n")
        row = [f"user{i}", f"User {i}", f"Number{i}", "User", arr(mails), arr(phones), str(i), "Engineer",
               f"benchmark entry {i}"]
        w.writerow(row)
        batch.append("(" + ", ".join(lit(v) for v in row) + ")")
        if len(batch) == 1000 or i == n - 1:
            sql.write("INSERT INTO bench.people VALUES\n" + ",\n".join(batch) + ";\n")
            batch = []
PY
echo "loading $N entries into 389 DS..." >&2
ldapadd "${SRC[@]}" -c -f "$work/load.ldif" >/dev/null

recreate() {
    "${PSQL[@]}" <<'SQL'
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.people (
    user_id     text PRIMARY KEY,
    full_name   text,
    surname     text,
    given_name  text,
    mails       text[],
    phones      text[],
    employee_no integer,
    title       text,
    description text
);
SQL
}
count() { "${PSQL[@]}" -tA -c "SELECT count(*) FROM bench.people"; }
check_count() { # $1 = what
    local c
    c=$(count)
    [ "$c" = "$N" ] || { echo "$1: $c rows instead of $N" >&2; exit 1; }
}

root="$work/root"
cat >"$work/pipe.dsconfig" <<EOF
dsconfig create-external-server --server-name src --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:$DS_PORT --set "bind-dn:$SRC_BIND_DN" --set "password:$SRC_BIND_PW" --set max-connections:4
dsconfig create-sync-source --source-name s --type generic-ldap --set base-dn:ou=people,dc=example,dc=com --set server:src
dsconfig create-passphrase-provider --provider-name pgpw --type file-based --set password-file:$PG_PASSWORD_FILE
dsconfig create-external-server --server-name pg --type jdbc --set jdbc-driver-type:postgres --set server-host-name:127.0.0.1 --set server-port:$PG_PORT --set database-name:$PG_DATABASE --set user-name:$PG_ROLE --set passphrase-provider:pgpw --set jdbc-connection-properties:sslmode=require
dsconfig create-sync-destination --destination-name d --type jdbc --set server:pg --set table:bench.people --set key-column:user_id --set column-map:uid:user_id --set column-map:cn:full_name --set column-map:sn:surname --set column-map:givenName:given_name --set column-map:mail:mails --set column-map:telephoneNumber:phones --set column-map:employeeNumber:employee_no --set column-map:title:title --set column-map:description:description
dsconfig create-sync-pipe --pipe-name p --set sync-source:s --set sync-destination:d
dsconfig create-sync-class --pipe-name p --class-name people --set "include-filter:(objectClass=inetOrgPerson)" --set destination-correlation-attributes:dn
EOF
"$bindir/dsconfig" --server-root "$root" --quiet --batch-file "$work/pipe.dsconfig" >/dev/null
baseline="${BENCH_BASELINE_RESYNC:-}"
if [ -n "$baseline" ]; then
    "$bindir/dsconfig" --server-root "$work/root-baseline" --quiet --batch-file "$work/pipe.dsconfig" >/dev/null
fi

resync_run() { # $1 = round, $2 = label, $3 = what the output must say, [$4 = resync binary, $5 = server root]
    local t0 t1
    t0=$(now)
    "${4:-$bindir/resync}" --server-root "${5:-$root}" --pipe-name p >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
    t1=$(now)
    grep -q "$3" "$work/out" || { echo "resync: expected '$3':"; cat "$work/out"; exit 1; }
    result "$1" "$2" "$t0" "$t1"
}

raw_load() { # $1 = round, $2 = label, the rest: psql's arguments
    local t0 t1 round="$1" label="$2"
    shift 2
    recreate
    t0=$(now)
    "${PSQL[@]}" "$@"
    t1=$(now)
    check_count "$label"
    result "$round" "$label" "$t0" "$t1"
}

for round in $(seq 1 "$ROUNDS"); do
    recreate
    resync_run "$round" "ferrosync resync (creates)" "$N entries were created"
    check_count "resync"
    resync_run "$round" "ferrosync resync again (all in sync)" "$N entries were in-sync"
    if [ -n "$baseline" ]; then
        recreate
        resync_run "$round" "baseline resync (creates)" "$N entries were created" "$baseline" "$work/root-baseline"
        check_count "baseline resync"
        resync_run "$round" "baseline resync again (all in sync)" "$N entries were in-sync" "$baseline" "$work/root-baseline"
    fi

    raw_load "$round" "raw: COPY of a CSV file (psql)" -c "\\copy bench.people FROM '$work/rows.csv' WITH (FORMAT csv)"
    raw_load "$round" "raw: psql, INSERTs of 1,000 rows" -f "$work/insert.sql"
done

echo
echo "$N rows into PostgreSQL 15 (fsync $([ "${BENCH_PG_NOSYNC:-0}" = 1 ] && echo off || echo on)), $ROUNDS round(s)"
echo "| round | run | time | rows/s |"
echo "|---|---|---|---|"
printf '%s\n' "${results[@]}" | sed 's/^/| /; s/$/ |/'
