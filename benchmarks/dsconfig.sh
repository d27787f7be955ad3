#!/usr/bin/env bash
# dsconfig speed: a 1,000-command batch file applied to a new server root, and single get-...-prop commands.
# Prints the figures; BENCHMARKS.md records them. Usage: benchmarks/dsconfig.sh [RUNS=5]
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-5}"
cd "$top"
cargo build --release --quiet --bin dsconfig
bin="${CARGO_TARGET_DIR:-$top/target}/release/dsconfig"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1,000 commands: 100 servers, 100 sources, 100 destinations, 100 pipes, 100 attribute maps with 400 mappings,
# 100 sync classes.
batch="$work/batch.dsconfig"
{
    for i in $(seq 1 100); do
        echo "dsconfig create-external-server --server-name s$i --type generic-ldap --set server-host-name:host$i.example.com --set server-port:389 --set \"bind-dn:cn=Sync User,cn=Root DNs,cn=config\" --set password:secret$i"
        echo "dsconfig create-sync-source --source-name src$i --type generic-ldap --set base-dn:ou=people,dc=example,dc=com --set server:s$i"
        echo "dsconfig create-sync-destination --destination-name dst$i --type generic-ldap --set base-dn:ou=people,dc=example,dc=com --set server:s$i"
        echo "dsconfig create-sync-pipe --pipe-name p$i --set sync-source:src$i --set sync-destination:dst$i --set \"change-detection-polling-interval:500 ms\""
        echo "dsconfig create-attribute-map --map-name m$i"
        echo "dsconfig create-attribute-mapping --map-name m$i --mapping-name mail --type constructed --set \"value-pattern:{givenName:/^(.).*/\$1/}{sn}@example.com\""
        echo "dsconfig create-attribute-mapping --map-name m$i --mapping-name cn --type direct --set from-attribute:displayName"
        echo "dsconfig create-attribute-mapping --map-name m$i --mapping-name description --type constructed --set \"conditional-value-pattern:(title=*) : {title}\""
        echo "dsconfig create-attribute-mapping --map-name m$i --mapping-name employeeNumber --type direct --set from-attribute:uid"
        echo "dsconfig create-sync-class --pipe-name p$i --class-name people --set include-base-dn:ou=people,dc=example,dc=com --set \"include-filter:(&(objectClass=person)(!(uid=admin*)))\" --set attribute-map:m$i --set destination-correlation-attributes:dn,uid"
    done
} >"$batch"
echo "batch file: $(grep -c '^dsconfig' "$batch") commands"

now_ms() { date +%s%3N; }
best=""
for r in $(seq 1 "$runs"); do
    rm -rf "$work/root"
    mkdir "$work/root"
    "$bin" --server-root "$work/root" list-sync-pipes >/dev/null # the store exists, as it would
    t0=$(now_ms)
    "$bin" --server-root "$work/root" --no-prompt --quiet --batch-file "$batch" >/dev/null
    t=$(($(now_ms) - t0))
    echo "run $r: 1,000-command batch applied in ${t} ms"
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
done
echo "best: ${best} ms for 1,000 commands"

n=50
t0=$(now_ms)
for _ in $(seq 1 $n); do
    "$bin" --server-root "$work/root" get-sync-pipe-prop --pipe-name p50 >/dev/null
done
t=$(($(now_ms) - t0))
echo "get-sync-pipe-prop: $((t / n)) ms per command on average over $n runs (process start included)"
