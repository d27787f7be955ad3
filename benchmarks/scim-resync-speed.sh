#!/usr/bin/env bash
# Resync at the SCIM service's speed: ferrosync's resync from 389 DS into a SCIM server (in memory, straight, no
# gateway): python-scim's scim2-server (BENCH_SERVER=scim2, the default) or npm scimmy (BENCH_SERVER=scimmy),
# against what the service takes from a raw loader with the same concurrency, measured side by side and
# interleaved (ROUNDS rounds; each create run on a freshly started service):
#   raw POST       N users sent by curl --parallel --parallel-max C (one curl process, kept-alive connections);
#   resync         creating the same N users (num-worker-threads C), correlating from one listing of the
#                  service, the creates in Bulk requests (both servers say bulk.supported);
#   raw list       every user read by paged GETs (startIndex/count, pages of 1000, one after the other);
#   resync         again, finding everything in sync;
#   resync single  creating the N users with --noBatchedCreates: one POST per create, C in flight.
#
#   benchmarks/scim-resync-speed.sh [N] [ROUNDS] [C]      defaults 10000 2 8
#   BENCH_INSYNC_ONLY=1: only the create by resync (to fill the service) and the in-sync pair (raw listing, then
#   resync), BENCH_INSYNC_REPEAT times (default 1). The in-sync resync must change no resource (a listing after it
#   reads the same bytes).
#   Ports (environment): BENCH_DS_PORT (34990; LDAPS +1), BENCH_SCIM2_PORT (18190).
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$top"
N="${1:-10000}"
ROUNDS="${2:-2}"
C="${3:-8}"
DS_PORT="${BENCH_DS_PORT:-34990}"
SCIM2_PORT="${BENCH_SCIM2_PORT:-18190}"
SERVER="${BENCH_SERVER:-scim2}"
case "$SERVER" in scim2 | scimmy) ;; *) echo "BENCH_SERVER is scim2 or scimmy" >&2; exit 2 ;; esac

tests/servers/install-deps.sh 389ds >&2
cargo build --release --quiet -p ferrosync-tools --bin dsconfig --bin resync
bindir="${CARGO_TARGET_DIR:-$top/target}/release"

work="$(mktemp -d /tmp/ferrosync-bench-scimspeed.XXXXXX)"
chmod 755 "$work"
cleanup() {
    [ -n "${SCIM2_PID:-}" ] && kill "$SCIM2_PID" 2>/dev/null || true
    tests/servers/stop-389ds.sh "$work/src" --rm >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

eval "$(DS_NOSYNC=1 DS_CONTENT_SYNC=0 SUMMARY_PREFIX=SRC_ tests/servers/start-389ds.sh "$work/src" "$DS_PORT" $((DS_PORT + 1)) "t$DS_PORT")"
SRC=(-x -H "$SRC_URL" -D "$SRC_BIND_DN" -w "$SRC_BIND_PW")
if curl -s -o /dev/null "http://127.0.0.1:$SCIM2_PORT/"; then
    echo "port $SCIM2_PORT is taken: set BENCH_SCIM2_PORT" >&2; exit 1
fi
start_scim() {
    [ -n "${SCIM2_PID:-}" ] && { kill "$SCIM2_PID" 2>/dev/null || true; wait "$SCIM2_PID" 2>/dev/null || true; }
    if [ "$SERVER" = scim2 ]; then
        eval "$(SCIM2_LOG="$work/scim2.log" SUMMARY_PREFIX=SCIM2_ tests/servers/start-scim2-server.sh "$SCIM2_PORT")"
    else
        eval "$(SCIMMY_LOG="$work/scimmy.log" SUMMARY_PREFIX=SCIM2_ tests/servers/start-scimmy.sh "$SCIM2_PORT")"
    fi
}

# shellcheck source=benchmarks/speed-lib.sh
. "$top/benchmarks/speed-lib.sh"

echo "loading $N users into 389 DS..." >&2
python3 - "$N" >"$work/users.ldif" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print(f"dn: uid=user{i},ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: user{i}\ncn: User {i}\n"
          f"sn: Number{i}\ngivenName: User\nmail: user{i}@example.com\ntitle: Engineer\ndepartmentNumber: {i % 50}\n")
PY
ldapadd "${SRC[@]}" -c -f "$work/users.ldif" >/dev/null

start_scim
# The raw loader's requests: the same resources resync sends (the sample mapping's user), as one curl config.
python3 - "$N" "$SCIM2_URL" "$SCIM2_TOKEN" >"$work/posts.curl" <<'PY'
import json, sys
n, url, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(n):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "user%d" % i, "displayName": "User %d" % i, "title": "Engineer",
            "name": {"givenName": "User", "familyName": "Number%d" % i},
            "emails": [{"value": "user%d@example.com" % i, "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": str(i % 50)}}
    print('url = "%s/Users"\nrequest = "POST"\nheader = "Authorization: Bearer %s"\n'
          'header = "Content-Type: application/scim+json"\ndata = %s\noutput = "/dev/null"\n'
          'write-out = "%%{http_code}\\n"\nnext' % (url, token, json.dumps(json.dumps(body))))
PY
sed -i '$ d' "$work/posts.curl"

root="$work/root"
sed -e "s/server-port:13890/server-port:$DS_PORT/" -e "s|https://scim.example.com/v2|$SCIM2_URL|" \
    -e "s/bearer-token:s3cret/bearer-token:$SCIM2_TOKEN/" \
    -e "s/--set num-worker-threads:4/--set num-worker-threads:$C/" \
    sample-dsconfig-batch-files/reference-sync-ldap-to-scim2.dsconfig >"$work/pipe.dsconfig"
cat >>"$work/pipe.dsconfig" <<EOF
dsconfig set-external-server-prop --server-name scim --set allow-credentials-over-http:true
EOF
"$bindir/dsconfig" --server-root "$root" --no-prompt --quiet --batch-file "$work/pipe.dsconfig" >/dev/null 2>&1 ||
    "$bindir/dsconfig" --server-root "$root" --no-prompt --quiet --batch-file <(head -n -1 "$work/pipe.dsconfig") >/dev/null

# raw_list ROUND [check]: every user by paged GETs; sets `digest` (of the pages' bytes, which change when a
# resource does); with `check`, not timed.
raw_list() {
    local t0 t1 got
    t0=$(now)
    read -r got digest < <(python3 - "$SCIM2_URL" "$SCIM2_TOKEN" <<'PY'
import hashlib, json, sys
url, token = sys.argv[1], sys.argv[2]
# One curl process for all pages would need the total first; the pages are read one after the other, as
# ferrosync reads them, through one kept-alive connection.
import http.client, urllib.parse
u = urllib.parse.urlparse(url)
c = http.client.HTTPConnection(u.hostname, u.port)
start, n, h = 1, 0, hashlib.sha256()
while True:
    c.request("GET", "%s/Users?startIndex=%d&count=1000" % (u.path, start), headers={"Authorization": "Bearer " + token})
    body = c.getresponse().read()
    h.update(body)
    j = json.loads(body)
    got = len(j.get("Resources", []))
    if not got: break
    n += got; start += got
    if start > j["totalResults"]: break
print(n, h.hexdigest())
PY
)
    t1=$(now)
    [ "$got" = "$N" ] || { echo "raw list: $got of $N users"; exit 1; }
    [ "${2:-}" = check ] || result "$1" "raw: paged listing of $N users (pages of 1000)" "$t0" "$t1"
}

# in_sync ROUND: the raw listing and the resync that finds everything in sync, back to back, BENCH_INSYNC_REPEAT
# times (default 1); the resync must change no resource (the next listing's digest is the same).
in_sync() {
    local k before=""
    for k in $(seq 1 "${BENCH_INSYNC_REPEAT:-1}"); do
        raw_list "$1"
        [ -z "$before" ] || [ "$before" = "$digest" ] || { echo "the in-sync resync changed resources"; exit 1; }
        timed_resync "$1" "nothing to change" "$N entries were in-sync" ldap-to-scim
        before=$digest
    done
    raw_list "$1" check
    [ "$before" = "$digest" ] || { echo "the in-sync resync changed resources"; exit 1; }
    # One entry changed at the source (one of the last page's): the resync finds it and modifies it alone.
    printf 'dn: uid=user%d,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: title\ntitle: Manager\n' \
        $((N - 2)) | ldapmodify "${SRC[@]}" >/dev/null
    timed_resync "$1" "one entry changed" "$((N - 1)) entries were in-sync, 1 entries were modified, 0 entries were created" ldap-to-scim
}

for round in $(seq 1 "$ROUNDS"); do
    if [ -z "${BENCH_INSYNC_ONLY:-}" ]; then
        start_scim
        raw_post "$round"
    fi
    start_scim
    timed_resync "$round" "create, Bulk" "$N entries were created" ldap-to-scim
    grep -q "Creates: in batches of up to" "$work/out" || { echo "resync did not send Bulk requests:"; cat "$work/out"; exit 1; }
    in_sync "$round"
    [ -n "${BENCH_INSYNC_ONLY:-}" ] && continue
    start_scim
    timed_resync "$round" "create, one POST each" "$N entries were created" ldap-to-scim --noBatchedCreates
done

print_results "$SERVER, $N users, concurrency $C"
