#!/usr/bin/env bash
# start-openldap.sh DIR [PORT=3389] [LDAPS_PORT=3636]
#
# Starts a throwaway OpenLDAP slapd (Debian 12: 2.5.x) on 127.0.0.1 with all state in DIR:
#   * mdb database dc=example,dc=com (ou=people, ou=groups loaded offline with slapadd),
#     rootdn cn=admin,dc=example,dc=com / secret, no size/time limits; cn=blind-writer (password
#     blind-secret) may write but not read the entries of uid=*,ou=people,ou=*,dc=example,dc=com
#   * schemas core, cosine, inetorgperson, nis (posixAccount) + the ppolicy overlay
#     (OpenLDAP 2.5 has the ppolicy schema built into the module: pwdAccountLockedTime, pwdPolicy ...)
#   * accesslog overlay -> cn=accesslog (logops writes, logsuccess TRUE), readable by the rootdn only
#   * syncprov overlay on both databases (RFC 4533 / delta-syncrepl)
#   * ldap://127.0.0.1:PORT (StartTLS) and ldaps://127.0.0.1:LDAPS_PORT with a throwaway CA in
#     DIR/tls/ca.pem and a server cert (SAN localhost, $(hostname), 127.0.0.1, ::1); client certificates
#     are asked for but not required (TLSVerifyClient try: one from another CA ends the handshake), and the client certificate DIR/tls/client-cert.pem
#     (key client-key.pem, subject cn=sync-client,o=ferrosync tests) binds with SASL EXTERNAL as the rootdn
# If DIR already holds a database it is reused (restart, ~0.1 s); slapd.conf is regenerated.
#
# Environment:
#   SLAPD_DBNOSYNC=1     add `dbnosync` to both mdb databases (benchmarks; unsafe on crash)
#   SLAPD_PPOLICY_DEFAULT=1  also create cn=default,ou=policies,dc=example,dc=com (pwdPolicy,
#                        pwdLockout TRUE) and make it the ppolicy default, so that binds of entries with
#                        pwdAccountLockedTime are refused (rc=49). Off by default: the extra ou=policies
#                        subtree would show up in subtree searches of the base.
#   SLAPD_KEEP_CONF=1    on a restart, keep DIR/slapd.conf as it is instead of regenerating it (for tests that
#                        add lines to it, e.g. the access lines prepare-endpoint-server prints)
#   SLAPD_LOGLEVEL=...   slapd -d level (default: stats; 0 = quiet, for benchmarks)
#   START_TIMEOUT=30     seconds to wait for the server to answer
#   SUMMARY_PREFIX=...   prefix for the summary variable names (e.g. SRC_ -> SRC_URL=...)
#
# stdout: only the summary, one KEY='value' per line (eval-able, values single-quoted):
#   SERVER DIR HOST PORT LDAPS_PORT URL LDAPS_URL BIND_DN BIND_PW BASE_DN CA_FILE
#   CHANGELOG_DN CLIENT_CERT_FILE CLIENT_KEY_FILE CLIENT_CERT_SUBJECT PID PID_FILE LOG_FILE
# stderr: progress messages. Exit status != 0 (with the log tail on stderr) if slapd does not start.
# Stop with: stop-openldap.sh DIR [--rm]
set -euo pipefail

usage() { echo "usage: $0 DIR [PORT=3389] [LDAPS_PORT=3636]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 3 ]; then usage; fi
DIR=$1
PORT=${2:-3389}
SPORT=${3:-3636}
SUFFIX="dc=example,dc=com"
ROOTDN="cn=admin,$SUFFIX"
ROOTPW="secret"
LOGLEVEL=${SLAPD_LOGLEVEL:-stats}
TIMEOUT=${START_TIMEOUT:-30}
HERE=$(cd "$(dirname "$0")" && pwd)

log() { echo "start-openldap: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

"$HERE/install-deps.sh" openldap
SLAPD=/usr/sbin/slapd

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd -P)
if [ -f "$DIR/slapd.pid" ] && kill -0 "$(cat "$DIR/slapd.pid")" 2>/dev/null; then
  die "slapd already running in $DIR (pid $(cat "$DIR/slapd.pid")); stop it with stop-openldap.sh $DIR"
fi
for p in "$PORT" "$SPORT"; do
  port_busy "$p" && die "port $p on 127.0.0.1 is already in use (another server?)"
done
T0=$(now)
mkdir -p "$DIR/data" "$DIR/accesslog" "$DIR/tls"

# --- throwaway CA + server certificate (leaf is CA:FALSE, so rustls accepts it too)
if [ ! -f "$DIR/tls/cert.pem" ] || [ ! -f "$DIR/tls/ca.pem" ]; then
  (
    cd "$DIR/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=ferrosync test CA $PORT" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=localhost" -keyout key.pem -out server.csr 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=DNS:localhost,DNS:$(hostname),IP:127.0.0.1,IP:::1" > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile server.ext -out cert.pem 2>/dev/null
    chmod 600 key.pem ca-key.pem
    rm -f server.csr ca.srl
  ) || die "could not create the TLS certificate in $DIR/tls"
fi
# --- a TLS client certificate from the same CA (subject cn=sync-client,o=ferrosync tests; made for DIRs made
# before it existed too), which SASL EXTERNAL maps to the rootdn (authz-regexp below)
if [ ! -f "$DIR/tls/client-cert.pem" ]; then
  (
    cd "$DIR/tls"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/O=ferrosync tests/CN=sync-client" -keyout client-key.pem -out client.csr 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=clientAuth" > client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile client.ext -out client-cert.pem 2>/dev/null
    chmod 600 client-key.pem
    rm -f client.csr client.ext ca.srl
  ) || die "could not create the TLS client certificate in $DIR/tls"
fi

HASH=$("$SLAPD" -T passwd -s "$ROOTPW")
NOSYNC=""
if [ "${SLAPD_DBNOSYNC:-0}" = 1 ]; then NOSYNC="dbnosync"; fi
POLICY_DN="cn=default,ou=policies,$SUFFIX"
PPOLICY_DEFAULT=""
if [ "${SLAPD_PPOLICY_DEFAULT:-0}" = 1 ]; then PPOLICY_DEFAULT="ppolicy_default \"$POLICY_DN\""; fi

CONF_OUT="$DIR/slapd.conf"
# SLAPD_KEEP_CONF=1: restart with DIR/slapd.conf as it is (a test edited it)
if [ "${SLAPD_KEEP_CONF:-0}" = 1 ] && [ -f "$DIR/slapd.conf" ]; then CONF_OUT=/dev/null; fi
cat > "$CONF_OUT" <<EOF
# generated by start-openldap.sh - regenerated at every start
include         /etc/ldap/schema/core.schema
include         /etc/ldap/schema/cosine.schema
include         /etc/ldap/schema/inetorgperson.schema
include         /etc/ldap/schema/nis.schema
pidfile         $DIR/slapd.pid
argsfile        $DIR/slapd.args
modulepath      /usr/lib/ldap
moduleload      back_mdb
moduleload      accesslog
moduleload      syncprov
# ppolicy: in 2.5 the schema (pwdPolicy, pwdAccountLockedTime, ...) lives in the module
moduleload      ppolicy
sizelimit       unlimited
timelimit       unlimited
TLSCACertificateFile   $DIR/tls/ca.pem
TLSCertificateFile     $DIR/tls/cert.pem
TLSCertificateKeyFile  $DIR/tls/key.pem
# client certificates are asked for, and checked against the CA, but not required (clients without one work).
# 'try', not 'allow': with 'allow' slapd takes the subject of a certificate it could not verify as the SASL
# EXTERNAL identity, so any self-made certificate would bind under a name of its choosing.
TLSVerifyClient        try
# SASL EXTERNAL: the test client certificate's subject binds as the rootdn
authz-regexp           "^cn=sync-client,o=ferrosync tests\$" "$ROOTDN"

# ---- change log database (written by the accesslog overlay of the main database)
database        mdb
suffix          "cn=accesslog"
# same rootdn as the main db: binding as $ROOTDN gives full access here too
rootdn          "$ROOTDN"
directory       $DIR/accesslog
maxsize         4294967296
$NOSYNC
index           default eq
index           objectClass,entryCSN,reqEnd,reqResult,reqStart,reqDN eq
limits          dn.exact="$ROOTDN" size=unlimited time=unlimited
access to * by dn.exact="$ROOTDN" manage by * none
overlay         syncprov
syncprov-nopresent TRUE
syncprov-reloadhint TRUE

# ---- main database
database        mdb
suffix          "$SUFFIX"
rootdn          "$ROOTDN"
rootpw          $HASH
directory       $DIR/data
maxsize         4294967296
$NOSYNC
index           objectClass,entryCSN,entryUUID eq
index           cn,uid,mail eq,sub
index           member,memberUid,uidNumber,gidNumber eq
limits          dn.exact="$ROOTDN" size=unlimited time=unlimited
access to attrs=userPassword by self write by anonymous auth by * none
# cn=blind-writer may write the entries of people but not read them (a test: a real-time modify of an entry
# ferrosync wrote before needs no read of it)
access to dn.regex="^uid=[^,]+,ou=people,ou=[^,]+,$SUFFIX\$" by dn.exact="cn=blind-writer,$SUFFIX" =w by * break
access to * by * read
overlay         syncprov
syncprov-checkpoint 100 10
syncprov-sessionlog 1000
overlay         accesslog
logdb           "cn=accesslog"
logops          writes
logsuccess      TRUE
# purge entries older than 7 days, check daily
logpurge        07+00:00 01+00:00
# without a default policy the overlay only provides the schema (binds are not checked)
overlay         ppolicy
$PPOLICY_DEFAULT
EOF

# --- base entries loaded offline (so they do NOT appear in cn=accesslog)
if [ ! -f "$DIR/data/data.mdb" ]; then
  cat > "$DIR/base.ldif" <<EOF
dn: $SUFFIX
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: cn=blind-writer,$SUFFIX
objectClass: person
cn: blind-writer
sn: writer
userPassword: blind-secret
EOF
  "$SLAPD" -T add -f "$DIR/slapd.conf" -b "$SUFFIX" -l "$DIR/base.ldif" >"$DIR/slapadd.log" 2>&1 \
    || { tail -20 "$DIR/slapadd.log" >&2; die "slapadd failed, see $DIR/slapadd.log"; }
  log "created database in $DIR"
fi
if [ -n "$PPOLICY_DEFAULT" ] && [ ! -f "$DIR/ppolicy-default.done" ]; then
  cat > "$DIR/ppolicy.ldif" <<EOF
dn: ou=policies,$SUFFIX
objectClass: organizationalUnit
ou: policies

dn: $POLICY_DN
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
EOF
  "$SLAPD" -T add -f "$DIR/slapd.conf" -b "$SUFFIX" -l "$DIR/ppolicy.ldif" >>"$DIR/slapadd.log" 2>&1 \
    || { tail -20 "$DIR/slapadd.log" >&2; die "slapadd of the default password policy failed"; }
  touch "$DIR/ppolicy-default.done"
fi

rm -f "$DIR/slapd.pid"
# -d keeps slapd in the foreground (the log goes to stderr -> DIR/slapd.log); $! is the server pid.
# stdin/stdout/stderr are redirected so callers capturing our output do not wait for slapd.
nohup "$SLAPD" -d "$LOGLEVEL" -f "$DIR/slapd.conf" \
  -h "ldap://127.0.0.1:$PORT/ ldaps://127.0.0.1:$SPORT/" </dev/null >"$DIR/slapd.log" 2>&1 &
PID=$!
echo "$PID" > "$DIR/slapd.pid.launcher"

ready=0
deadline=$(( $(date +%s) + TIMEOUT ))
while [ "$(date +%s)" -le "$deadline" ]; do
  if ! kill -0 "$PID" 2>/dev/null; then break; fi
  if ldapsearch -x -LLL -o nettimeout=2 -H "ldap://127.0.0.1:$PORT/" -D "$ROOTDN" -w "$ROOTPW" \
       -s base -b "$SUFFIX" dn >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.05
done
if [ "$ready" != 1 ] || ! kill -0 "$PID" 2>/dev/null; then
  echo "---- tail of $DIR/slapd.log ----" >&2; tail -25 "$DIR/slapd.log" >&2 || true
  if kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    die "slapd (pid $PID) did not answer on 127.0.0.1:$PORT within ${TIMEOUT}s; killed it"
  fi
  die "slapd exited during startup (see $DIR/slapd.log)"
fi
log "slapd ready in $(elapsed "$T0") s (pid $PID, ldap://127.0.0.1:$PORT, ldaps://127.0.0.1:$SPORT)"

P=${SUMMARY_PREFIX:-}
kv() { printf "%s%s='%s'\n" "$P" "$1" "$2"; }
kv SERVER openldap
kv DIR "$DIR"
kv HOST 127.0.0.1
kv PORT "$PORT"
kv LDAPS_PORT "$SPORT"
kv URL "ldap://127.0.0.1:$PORT"
kv LDAPS_URL "ldaps://127.0.0.1:$SPORT"
kv BIND_DN "$ROOTDN"
kv BIND_PW "$ROOTPW"
kv BASE_DN "$SUFFIX"
kv CA_FILE "$DIR/tls/ca.pem"
kv CHANGELOG_DN "cn=accesslog"
kv CLIENT_CERT_FILE "$DIR/tls/client-cert.pem"
kv CLIENT_KEY_FILE "$DIR/tls/client-key.pem"
kv CLIENT_CERT_SUBJECT "cn=sync-client,o=ferrosync tests"
kv PID "$PID"
kv PID_FILE "$DIR/slapd.pid"
kv LOG_FILE "$DIR/slapd.log"
