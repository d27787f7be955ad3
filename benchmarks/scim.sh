#!/usr/bin/env bash
# SCIM destination throughput and HTTP cost: ferrosync from 389 Directory Server into python-scim's
# scim2-server (in memory), through the counting gateway tests/scim-proxy/proxy.py. Reports users/s and HTTP
# requests per synchronized change for:
#   1. resync creating N users;
#   2. resync again with nothing to change;
#   3. resync after one attribute of every user changed;
#   4. real-time sync of one modify per user (the first change of each user since the server started);
#   5. real-time sync of a second modify per user (the resources are known by then).
#
#   benchmarks/scim.sh [N]           default 2000
#   Ports (environment): BENCH_DS_PORT (34890; LDAPS +1), BENCH_SCIM2_PORT (18090); the gateway takes a free one.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$top"
N="${1:-2000}"
DS_PORT="${BENCH_DS_PORT:-34890}"
SCIM2_PORT="${BENCH_SCIM2_PORT:-18090}"

tests/servers/install-deps.sh 389ds >&2
cargo build --release --quiet -p ferrosync-tools --bin dsconfig --bin resync --bin realtime-sync \
    --bin start-server --bin stop-server --bin status
bindir="${CARGO_TARGET_DIR:-$top/target}/release"

work="$(mktemp -d /tmp/ferrosync-bench-scim.XXXXXX)"
chmod 755 "$work"
root="$work/root"
cleanup() {
    "$bindir/stop-server" --server-root "$root" >/dev/null 2>&1 || true
    [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null || true
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
eval "$(SCIM2_LOG="$work/scim2.log" SUMMARY_PREFIX=SCIM2_ tests/servers/start-scim2-server.sh "$SCIM2_PORT")"
eval "$(SCIM_PROXY_LOG="$work/proxy.log" SUMMARY_PREFIX=PROXY_ tests/servers/start-scim-proxy.sh 0 "$SCIM2_URL" "$SCIM2_TOKEN")"

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$2"; }
rate() { python3 -c "import sys; n,t=float(sys.argv[1]),float(sys.argv[2]); print(f'{n/t:,.0f}')" "$1" "$2"; }
stats() { curl -sf "$PROXY_ADMIN_URL/stats"; }
reset_stats() { curl -sf -X POST "$PROXY_ADMIN_URL/reset-stats" >/dev/null; }
# "requests (GET/POST/PATCH/...)" and requests per change, from the gateway's counts.
per_change() {
    stats | python3 -c '
import json, sys
s = json.load(sys.stdin); n = int(sys.argv[1])
m = ", ".join("%s %d" % kv for kv in sorted(s["by_method"].items()))
print("%d (%s) | %.2f" % (s["requests"], m, s["requests"] / n))' "$1"
}

echo "loading $N users into 389 DS..." >&2
python3 - "$N" >"$work/users.ldif" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print(f"dn: uid=user{i},ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: user{i}\ncn: User {i}\n"
          f"sn: Number{i}\ngivenName: User\nmail: user{i}@example.com\ntitle: Engineer\ndepartmentNumber: {i % 50}\n")
PY
ldapadd "${SRC[@]}" -c -f "$work/users.ldif" >/dev/null
modify_all() { # $1 = new title
    python3 - "$N" "$1" <<'PY' | ldapmodify "${SRC[@]}" -c >/dev/null
import sys
for i in range(int(sys.argv[1])):
    print(f"dn: uid=user{i},ou=people,dc=example,dc=com\nchangetype: modify\nreplace: title\ntitle: {sys.argv[2]}\n")
PY
}

sed -e "s/server-port:13890/server-port:$DS_PORT/" -e "s|http://127.0.0.1:18080/v2|$PROXY_URL|" \
    -e "s/bearer-token:s3cret/bearer-token:$SCIM2_TOKEN/" \
    -e "s/--set num-worker-threads:4/--set num-worker-threads:8 --set \"change-detection-polling-interval:100 ms\"/" \
    sample-dsconfig-batch-files/reference-sync-ldap-to-scim2.dsconfig >"$work/pipe.dsconfig"
"$bindir/dsconfig" --server-root "$root" --no-prompt --quiet --batch-file "$work/pipe.dsconfig" >/dev/null

results=()
resync() { # $1 = label, $2 = what to check in the output
    reset_stats
    local t0 t1
    t0=$(now)
    "$bindir/resync" --server-root "$root" --pipe-name ldap-to-scim >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
    t1=$(now)
    grep -q "$2" "$work/out" || { echo "resync: expected '$2':"; cat "$work/out"; exit 1; }
    results+=("$1 | $N | $(elapsed "$t0" "$t1") s | $(rate "$N" "$(elapsed "$t0" "$t1")") | $(per_change "$N")")
}
resync "resync: create" "$N entries were created"
resync "resync: nothing to change" "$N entries were in-sync"
modify_all Manager
resync "resync: one attribute changed" "$N entries were modified"

# Real time: wait until the gateway has seen N PATCH requests and the pipe has nothing in flight.
"$bindir/realtime-sync" --server-root "$root" set-startpoint --pipe-name ldap-to-scim --end-of-changelog >/dev/null
"$bindir/realtime-sync" --server-root "$root" start --pipe-name ldap-to-scim >/dev/null
"$bindir/start-server" --server-root "$root" >/dev/null
realtime() { # $1 = label, $2 = new title
    reset_stats
    local t0 t1 base
    base=$("$bindir/status" --server-root "$root" --script-friendly | sed -n 's/^ldap-to-scim\tOps Completed Total\t//p')
    t0=$(now)
    modify_all "$2"
    for _ in $(seq 1 6000); do
        done_=$("$bindir/status" --server-root "$root" --script-friendly | sed -n 's/^ldap-to-scim\tOps Completed Total\t//p')
        [ $((done_ - base)) -ge "$N" ] && break
        sleep 0.1
    done
    t1=$(now)
    [ $((done_ - base)) -ge "$N" ] || { echo "real time: only $((done_ - base)) of $N changes completed"; exit 1; }
    results+=("$1 | $N | $(elapsed "$t0" "$t1") s | $(rate "$N" "$(elapsed "$t0" "$t1")") | $(per_change "$N")")
}
realtime "real time: first modify of each user" Director
realtime "real time: second modify of each user" Officer
failed=$("$bindir/status" --server-root "$root" --script-friendly | sed -n 's/^ldap-to-scim\tFailed At Resource\t//p')
[ "${failed:-0}" = 0 ] || echo "warning: $failed changes failed at the resource" >&2
check=$(curl -sf -H "Authorization: Bearer $SCIM2_TOKEN" "$SCIM2_URL/Users?filter=title%20eq%20%22Officer%22&count=1" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["totalResults"])')
[ "$check" = "$N" ] || echo "warning: $check of $N users carry the last title at the service" >&2

# The service's own capacity: N creates of the same shape sent straight to scim2-server by 8 Python threads.
raw=$(python3 - "$N" "$SCIM2_URL" "$SCIM2_TOKEN" <<'PY'
import json, sys, threading, time, urllib.request
n, url, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def post(i):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "raw%d" % i, "displayName": "Raw %d" % i, "title": "Engineer",
            "name": {"givenName": "Raw", "familyName": "Number%d" % i},
            "emails": [{"value": "raw%d@example.com" % i, "type": "work", "primary": True}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": str(i % 50)}}
    req = urllib.request.Request(url + "/Users", data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/scim+json"})
    urllib.request.urlopen(req).read()
t0 = time.time()
ts = [threading.Thread(target=lambda k=k: [post(i) for i in range(k, n, 8)]) for k in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print("%.2f" % (time.time() - t0))
PY
)
results+=("raw: $N POSTs straight to scim2-server, 8 threads | $N | $raw s | $(rate "$N" "$raw") | $N (POST $N) | 1.00")

echo
echo "| run | users | time | users/s | HTTP requests (by method) | requests per change |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}" | sed 's/^/| /; s/$/ |/'
