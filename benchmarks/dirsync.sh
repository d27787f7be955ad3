#!/usr/bin/env bash
# DirSync throughput: changes/s from a Samba AD domain controller to OpenLDAP through ferrosync's
# active-directory source (DirSync, polled every 200 ms) and the AD to LDAP mapping.
#
#   benchmarks/dirsync.sh [N=2000]
#
# N users are added to AD with one ldapadd, then each gets one modify (ldapmodify), while the sync server is
# stopped (Samba takes only some 35 writes/s, so live it would be the bottleneck). Then the sync server starts and
# reads the backlog with DirSync: the figure is N divided by the time from `start-server` until the last change is
# at OpenLDAP (polled every 200 ms with ldapsearch), the server's start included.
#
# Servers: the running ones named by FERROSYNC_TEST_AD_* and FERROSYNC_TEST_OPENLDAP_* (as tests/run.sh exports
# them), else throwaway ones started here: Samba on SAMBA_IP (default 127.0.0.31; its ports are 389/636) and
# OpenLDAP on OPENLDAP_PORT (default 8489). Each run writes below a new OU, so it can repeat on the same servers.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$top"
N="${1:-2000}"
cargo build --release --quiet -p ferrosync-tools --bin dsconfig --bin realtime-sync --bin start-server --bin stop-server --bin status
bindir="${CARGO_TARGET_DIR:-$top/target}/release"
work="$(mktemp -d /tmp/ferrosync-dirsync.XXXXXX)"
chmod 755 "$work"
started=()
cleanup() {
    "$bindir/stop-server" --server-root "$work/root" >/dev/null 2>&1 || true
    for s in "${started[@]}"; do
        case "$s" in
        samba) tests/servers/stop-samba-ad.sh "$work/samba" --rm >/dev/null 2>&1 || true ;;
        openldap) tests/servers/stop-openldap.sh "$work/openldap" --rm >/dev/null 2>&1 || true ;;
        esac
    done
    rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${FERROSYNC_TEST_AD_URL:-}" ]; then
    eval "$(SUMMARY_PREFIX=FERROSYNC_TEST_AD_ tests/servers/start-samba-ad.sh "$work/samba" "${SAMBA_IP:-127.0.0.31}")"
    started+=(samba)
fi
if [ -z "${FERROSYNC_TEST_OPENLDAP_URL:-}" ]; then
    eval "$(SLAPD_LOGLEVEL=0 SUMMARY_PREFIX=FERROSYNC_TEST_OPENLDAP_ tests/servers/start-openldap.sh "$work/openldap" "${OPENLDAP_PORT:-8489}" "$((${OPENLDAP_PORT:-8489} + 1))")"
    started+=(openldap)
fi
AD_URL=$FERROSYNC_TEST_AD_URL AD_DN=$FERROSYNC_TEST_AD_BIND_DN AD_PW=$FERROSYNC_TEST_AD_BIND_PW AD_BASE=$FERROSYNC_TEST_AD_BASE_DN
L_URL=$FERROSYNC_TEST_OPENLDAP_URL L_DN=$FERROSYNC_TEST_OPENLDAP_BIND_DN L_PW=$FERROSYNC_TEST_OPENLDAP_BIND_PW L_BASE=$FERROSYNC_TEST_OPENLDAP_BASE_DN
ad_host=${AD_URL#ldap://}; ad_host=${ad_host%%:*}
l_hostport=${L_URL#ldap://}; l_host=${l_hostport%%:*}; l_port=${l_hostport##*:}

t="bench$(date +%s)"
ADB="OU=$t,$AD_BASE"
LB="ou=$t,$L_BASE"
printf 'dn: %s\nobjectClass: organizationalUnit\n\ndn: OU=people,%s\nobjectClass: organizationalUnit\n\n' "$ADB" "$ADB" |
    ldapadd -x -H "$AD_URL" -D "$AD_DN" -w "$AD_PW" >/dev/null
printf 'dn: %s\nobjectClass: organizationalUnit\nou: %s\n\ndn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n' "$LB" "$t" "$LB" |
    ldapadd -x -H "$L_URL" -D "$L_DN" -w "$L_PW" >/dev/null

root="$work/root"
mkdir "$root"
cat >"$work/config.dsconfig" <<EOF
dsconfig create-external-server --server-name ad --type active-directory --set server-host-name:$ad_host --set server-port:389 --set "bind-dn:$AD_DN" --set "password:$AD_PW"
dsconfig create-external-server --server-name openldap --type generic-ldap --set server-host-name:$l_host --set server-port:$l_port --set "bind-dn:$L_DN" --set "password:$L_PW"
dsconfig create-sync-source --source-name ad --type active-directory --set base-dn:$AD_BASE --set server:ad
dsconfig create-sync-destination --destination-name ldap --type generic-ldap --set base-dn:$LB --set server:openldap
dsconfig create-sync-pipe --pipe-name p --set sync-source:ad --set sync-destination:ldap --set "change-detection-polling-interval:200 ms"
dsconfig create-dn-map --map-name people --set "from-dn-pattern:*,OU=people,$ADB" --set "to-dn-pattern:{1},ou=people,$LB"
dsconfig create-attribute-map --map-name users
dsconfig create-attribute-mapping --map-name users --mapping-name objectClass --type constructed --set value-pattern:inetOrgPerson
dsconfig create-attribute-mapping --map-name users --mapping-name uid --type direct --set from-attribute:sAMAccountName
dsconfig create-attribute-mapping --map-name users --mapping-name cn --type direct --set from-attribute:cn
dsconfig create-attribute-mapping --map-name users --mapping-name sn --type direct --set from-attribute:sn
dsconfig create-attribute-mapping --map-name users --mapping-name description --type direct --set from-attribute:description
dsconfig create-sync-class --pipe-name p --class-name users --set include-base-dn:OU=people,$ADB --set "include-filter:(objectClass=user)" --set attribute-map:users --set dn-map:people --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:uid
EOF
"$bindir/dsconfig" --server-root "$root" --no-prompt --quiet --batch-file "$work/config.dsconfig" >/dev/null
"$bindir/realtime-sync" --server-root "$root" set-startpoint --pipe-name p --end-of-changelog >/dev/null
"$bindir/realtime-sync" --server-root "$root" start --pipe-name p >/dev/null

# sAMAccountName: at most 20 characters, unique in the domain.
sfx=$(printf '%x' "$(date +%s)" | tail -c 6)
for i in $(seq 1 "$N"); do
    printf 'dn: CN=u%s-%s,OU=people,%s\nobjectClass: user\nsAMAccountName: u%s%s\nsn: Bench\ndescription: v1\n\n' "$i" "$sfx" "$ADB" "$i" "$sfx"
done >"$work/add.ldif"
for i in $(seq 1 "$N"); do
    printf 'dn: CN=u%s-%s,OU=people,%s\nchangetype: modify\nreplace: description\ndescription: v2\n-\n\n' "$i" "$sfx" "$ADB"
done >"$work/modify.ldif"

now_ms() { date +%s%3N; }
count() { # entries below ou=people at OpenLDAP matching $1
    ldapsearch -x -H "$L_URL" -D "$L_DN" -w "$L_PW" -b "ou=people,$LB" -s one -LLL "$1" 1.1 2>/dev/null | grep -c '^dn:' || true
}
phase() { # name, ldif, ldap tool, filter that matches a synchronized entry
    local name=$1 ldif=$2 tool=$3 filter=$4
    local t0 t1 t2 n
    "$bindir/stop-server" --server-root "$root" >/dev/null 2>&1 || true
    t0=$(now_ms)
    $tool -x -H "$AD_URL" -D "$AD_DN" -w "$AD_PW" -f "$ldif" >/dev/null
    t1=$(now_ms)
    "$bindir/start-server" --server-root "$root" >/dev/null
    while :; do
        n=$(count "$filter")
        [ "$n" -ge "$N" ] && break
        if [ $(($(now_ms) - t1)) -gt $((600 * 1000)) ]; then
            echo "$name: only $n of $N changes arrived within 10 minutes" >&2
            "$bindir/status" --server-root "$root" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
    t2=$(now_ms)
    awk -v n="$N" -v name="$name" -v w=$((t1 - t0)) -v a=$((t2 - t1)) 'BEGIN {
        printf "| %s | %d | %.1f s (%.0f/s) | %.1f s | **%.0f changes/s** |\n", name, n, w / 1000, n * 1000 / w, a / 1000, n * 1000 / a }'
}
echo "| phase | changes | Samba writes them in | backlog at OpenLDAP after start-server | throughput |"
echo "|---|---|---|---|---|"
phase "add users" "$work/add.ldif" ldapadd "(description=v1)"
phase "modify description" "$work/modify.ldif" ldapmodify "(description=v2)"
