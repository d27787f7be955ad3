#!/usr/bin/env bash
# Resync at PingOne's speed, against the PingOne API emulator (tests/pingone-emulator, plain HTTP, pages of up to
# 1000 users): ferrosync's resync from 389 DS into the emulator against what the emulator takes from a raw loader
# with the same concurrency, measured side by side (ROUNDS rounds; each create run on a freshly reset emulator):
#   raw POST   N users sent by curl --parallel --parallel-max C (one curl process, kept-alive connections);
#   resync     creating the same N users (num-worker-threads C, max-requests-per-second raised out of the way),
#              correlating from one listing of the environment's users;
#   raw list   every user read by paged GETs (limit=1000, following _links.next, one after the other);
#   resync     again, finding everything in sync.
#
#   benchmarks/pingone-resync-speed.sh [N] [ROUNDS] [C]      defaults 10000 1 8
#   BENCH_INSYNC_ONLY=1: no raw POSTs; BENCH_INSYNC_REPEAT: how many in-sync pairs (raw listing, resync) per round.
#   Ports (environment): BENCH_DS_PORT (34994; LDAPS +1), BENCH_P1_PORT (19490).
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$top"
N="${1:-10000}"
ROUNDS="${2:-1}"
C="${3:-8}"
DS_PORT="${BENCH_DS_PORT:-34994}"
P1_PORT="${BENCH_P1_PORT:-19490}"

tests/servers/install-deps.sh 389ds >&2
cargo build --release --quiet -p ferrosync-tools --bin dsconfig --bin resync
bindir="${CARGO_TARGET_DIR:-$top/target}/release"

work="$(mktemp -d /tmp/ferrosync-bench-p1speed.XXXXXX)"
chmod 755 "$work"
cleanup() {
    [ -n "${P1_PID:-}" ] && kill "$P1_PID" 2>/dev/null || true
    tests/servers/stop-389ds.sh "$work/src" --rm >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

eval "$(DS_NOSYNC=1 DS_CONTENT_SYNC=0 SUMMARY_PREFIX=SRC_ tests/servers/start-389ds.sh "$work/src" "$DS_PORT" $((DS_PORT + 1)) "t$DS_PORT")"
SRC=(-x -H "$SRC_URL" -D "$SRC_BIND_DN" -w "$SRC_BIND_PW")
eval "$(PINGONE_EMULATOR_LOG="$work/p1.log" SUMMARY_PREFIX=P1_ tests/servers/start-pingone-emulator.sh "$P1_PORT")"

# shellcheck source=benchmarks/speed-lib.sh
. "$top/benchmarks/speed-lib.sh"
reset_p1() {
    curl -sf -X POST "$P1_ADMIN_URL/reset" >/dev/null
    curl -sf -X POST -H "Content-Type: application/json" --data '{"page_cap": 1000}' "$P1_ADMIN_URL/config" >/dev/null
}

echo "loading $N users into 389 DS..." >&2
python3 - "$N" >"$work/users.ldif" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print(f"dn: uid=user{i},ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: user{i}\ncn: User {i}\n"
          f"sn: Number{i}\ngivenName: User\nmail: user{i}@example.com\n")
PY
ldapadd "${SRC[@]}" -c -f "$work/users.ldif" >/dev/null

reset_p1
TOKEN=$(curl -sf -u "$P1_CLIENT_ID:$P1_CLIENT_SECRET" -d grant_type=client_credentials "$P1_AUTH_URL" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
USERS_URL="$P1_URL/environments/$P1_ENV_ID/users"
# The raw loader's requests: the users resync sends (username, email, name), as one curl config.
python3 - "$N" "$USERS_URL" "$TOKEN" "$P1_DEFAULT_POPULATION_ID" >"$work/posts.curl" <<'PY'
import json, sys
n, url, token, pop = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
for i in range(n):
    body = {"username": "user%d" % i, "email": "user%d@example.com" % i,
            "name": {"given": "User", "family": "Number%d" % i}, "population": {"id": pop}}
    print('url = "%s"\nrequest = "POST"\nheader = "Authorization: Bearer %s"\n'
          'header = "Content-Type: application/json"\ndata = %s\noutput = "/dev/null"\n'
          'write-out = "%%{http_code}\\n"\nnext' % (url, token, json.dumps(json.dumps(body))))
PY
sed -i '$ d' "$work/posts.curl"

root="$work/root"
cat >"$work/pipe.dsconfig" <<EOF
dsconfig create-external-server --server-name ds --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:$DS_PORT --set "bind-dn:$SRC_BIND_DN" --set "password:$SRC_BIND_PW"
dsconfig create-sync-source --source-name src --type generic-ldap --set base-dn:ou=people,dc=example,dc=com --set server:ds
dsconfig create-sync-destination --destination-name p1 --type ping-one-customer --set ping-one-api-url:$P1_URL --set ping-one-auth-url:$P1_AUTH_URL --set ping-one-environment-id:$P1_ENV_ID --set ping-one-oauth-client-id:$P1_CLIENT_ID --set ping-one-oauth-client-secret:$P1_CLIENT_SECRET --set ping-one-default-population-id:$P1_DEFAULT_POPULATION_ID --set allow-credentials-over-http:true --set max-requests-per-second:1000000
dsconfig create-sync-pipe --pipe-name p --set sync-source:src --set sync-destination:p1 --set num-worker-threads:$C
dsconfig create-attribute-map --map-name to-p1
dsconfig create-attribute-mapping --map-name to-p1 --mapping-name username --type constructed --set value-pattern:{uid}
dsconfig create-attribute-mapping --map-name to-p1 --mapping-name email --type constructed --set value-pattern:{mail}
dsconfig create-attribute-mapping --map-name to-p1 --mapping-name name --type constructed --set 'value-pattern:{{"given":"{givenName}","family":"{sn}"}}'
dsconfig create-sync-class --pipe-name p --class-name users --set "include-filter:(objectClass=inetOrgPerson)" --set attribute-map:to-p1 --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:username
EOF
"$bindir/dsconfig" --server-root "$root" --no-prompt --quiet --batch-file "$work/pipe.dsconfig" >"$work/dsconfig.out" 2>&1 ||
    { cat "$work/dsconfig.out"; exit 1; }

# raw_list ROUND [check]: every user by paged GETs; sets `digest` (of the users read, which changes when a user
# does); with `check`, not timed.
raw_list() {
    local t0 t1 got
    t0=$(now)
    read -r got digest < <(python3 - "$USERS_URL" "$TOKEN" <<'PY'
import hashlib, json, sys, http.client, urllib.parse
url, token = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port)
path, n, h = "%s?limit=1000" % u.path, 0, hashlib.sha256()
while path:
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    j = json.loads(c.getresponse().read())
    n += len(j["_embedded"]["users"])
    h.update(json.dumps(j["_embedded"]["users"], sort_keys=True).encode())
    nxt = j.get("_links", {}).get("next", {}).get("href")
    path = None
    if nxt:
        p = urllib.parse.urlparse(nxt)
        path = p.path + "?" + p.query
print(n, h.hexdigest())
PY
)
    t1=$(now)
    [ "$got" = "$N" ] || { echo "raw list: $got of $N users"; exit 1; }
    [ "${2:-}" = check ] || result "$1" "raw: paged listing of $N users (pages of 1000)" "$t0" "$t1"
}

# in_sync ROUND: the raw listing and the resync that finds everything in sync, back to back, BENCH_INSYNC_REPEAT
# times (default 1); the resync must change no user (the next listing's digest is the same). Then one entry
# changed at the source (one of the last page's): the resync modifies it alone.
in_sync() {
    local k before=""
    for k in $(seq 1 "${BENCH_INSYNC_REPEAT:-1}"); do
        raw_list "$1"
        [ -z "$before" ] || [ "$before" = "$digest" ] || { echo "the in-sync resync changed users"; exit 1; }
        timed_resync "$1" "nothing to change" "$N entries were in-sync" p
        before=$digest
    done
    raw_list "$1" check
    [ "$before" = "$digest" ] || { echo "the in-sync resync changed users"; exit 1; }
    printf 'dn: uid=user%d,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: sn\nsn: Changed\n' \
        $((N - 2)) | ldapmodify "${SRC[@]}" >/dev/null
    timed_resync "$1" "one entry changed" "$((N - 1)) entries were in-sync, 1 entries were modified, 0 entries were created" p
}

for round in $(seq 1 "$ROUNDS"); do
    if [ -z "${BENCH_INSYNC_ONLY:-}" ]; then
        reset_p1
        raw_post "$round"
    fi
    reset_p1
    timed_resync "$round" "create" "$N entries were created" p
    in_sync "$round"
done

print_results "PingOne emulator, $N users, concurrency $C"
