#!/usr/bin/env bash
# start-samba-ad.sh DIR [IP=127.0.0.11]
#
# Provisions (first run, ~4 s) and starts a throwaway Samba 4 Active Directory domain controller with all state
# in DIR (Debian 12: Samba 4.17):
#   realm SAMDOM.EXAMPLE.COM, NetBIOS domain SAMDOM, base DN DC=samdom,DC=example,DC=com
#   Administrator / Passw0rd!123 (bind as CN=Administrator,CN=Users,DC=samdom,DC=example,DC=com,
#   Administrator@SAMDOM.EXAMPLE.COM or SAMDOM\Administrator)
#   ldap://IP:389 (simple binds allowed over plain LDAP: "ldap server require strong auth = no"), StartTLS,
#   ldaps://IP:636 (self-signed certificate made at first start, CN=DC1.samdom.example.com, no SAN: clients must
#   skip verification), the global catalog on 3268/3269. Only the LDAP service runs (no smbd, kdc, dns, rpc).
#
# Samba's LDAP ports are fixed at 389/636 (no smb.conf option): only the address can be chosen, so each instance
# gets a loopback address of its own, added to lo when missing (needs root / CAP_NET_ADMIN; stop --rm removes it).
#
# Environment:
#   SAMBA_SERVICES=ldap  the samba services to run
#   SUMMARY_PREFIX=...   prefix for the summary variable names
# stdout: only the summary, one KEY='value' per line (eval-able):
#   SERVER DIR HOST PORT LDAPS_PORT URL LDAPS_URL BIND_DN BIND_PW BASE_DN REALM DOMAIN CONF PID PID_FILE LOG_FILE
# stderr: progress. Stop with: stop-samba-ad.sh DIR [--rm]
set -euo pipefail

DIR=${1:?usage: $0 DIR [IP=127.0.0.11]}
IP=${2:-127.0.0.11}
REALM=SAMDOM.EXAMPLE.COM
DOMAIN=SAMDOM
BASEDN="DC=samdom,DC=example,DC=com"
ADMINPASS='Passw0rd!123'
SERVICES=${SAMBA_SERVICES:-ldap}
log() { echo "start-samba-ad: $*" >&2; }
die() { log "$*"; exit 1; }

"$(dirname "${BASH_SOURCE[0]}")/install-deps.sh" samba >&2

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ -f "$DIR/samba.pid" ] && kill -0 "$(cat "$DIR/samba.pid")" 2>/dev/null; then
  die "samba already running in $DIR (pid $(cat "$DIR/samba.pid"))"
fi
CONF="$DIR/etc/smb.conf"

# Samba only binds addresses configured on an interface.
# (the list is read whole first: with pipefail, `ip ... | grep -q` fails when grep stops reading early)
lo_addrs=$(ip -o addr show dev lo)
if [ "$IP" != "127.0.0.1" ] && ! grep -qw "inet $IP" <<<"$lo_addrs"; then
  ip addr add "$IP/32" dev lo || die "cannot add $IP to lo (needs CAP_NET_ADMIN)"
  echo "$IP" > "$DIR/added-ip"
fi
if (exec 3<>"/dev/tcp/$IP/389") 2>/dev/null; then
  die "something already listens on $IP:389: use another loopback address"
fi

if [ ! -f "$CONF" ]; then
  samba-tool domain provision --targetdir="$DIR" --use-rfc2307 \
    --realm="$REALM" --domain="$DOMAIN" --adminpass="$ADMINPASS" \
    --server-role=dc --dns-backend=NONE --host-name=dc1 --host-ip="$IP" \
    --option="interfaces = $IP/32" --option="bind interfaces only = yes" \
    >"$DIR/provision.log" 2>&1 \
    || { tail -20 "$DIR/provision.log" >&2; die "provision failed, see $DIR/provision.log"; }
  # Keep every runtime path inside DIR and allow simple binds over plain LDAP.
  /usr/bin/python3 - "$CONF" "$DIR" "$SERVICES" <<'EOF'
import re, sys
conf, d, services = sys.argv[1:4]
s = open(conf).read()
s = re.sub(r"\tlog file = .*\n", "", s)
s = re.sub(r"\tpanic action = .*\n", "", s)
s = re.sub(r"\tserver services = .*\n", "", s)
extra = f"""\tserver services = {services}
\tldap server require strong auth = no
\tlog file = {d}/log/log.%m
\tlog level = 1
\tpid directory = {d}/run
\tncalrpc dir = {d}/run/ncalrpc
\twinbindd socket directory = {d}/run/winbindd
\tntp signd socket directory = {d}/run/ntp_signd
"""
s = s.replace("[global]\n", "[global]\n" + extra, 1)
open(conf, "w").write(s)
EOF
  mkdir -p "$DIR/log" "$DIR/run" "$DIR/cache"
  # Tests create users with short throwaway passwords: no complexity, no history, no minimum age.
  samba-tool domain passwordsettings set -s "$CONF" --complexity=off --history-length=0 \
    --min-pwd-age=0 --min-pwd-length=4 >>"$DIR/provision.log" 2>&1 || log "could not relax the password policy"
fi

nohup samba -i -s "$CONF" >"$DIR/samba.log" 2>&1 &
PID=$!
echo $PID > "$DIR/samba.pid"
ready=0
for _ in $(seq 1 600); do
  if ldapsearch -x -LLL -H "ldap://$IP" -s base -b "" dnsHostName >/dev/null 2>&1; then ready=1; break; fi
  kill -0 $PID 2>/dev/null || { tail -20 "$DIR/samba.log" >&2; die "samba exited during startup, see $DIR/samba.log"; }
  sleep 0.1
done
[ "$ready" = 1 ] || { kill $PID 2>/dev/null || true; die "samba did not answer on $IP:389 within 60 s"; }
# LDAPS is ready once the self-signed certificate exists (made at first start).
for _ in $(seq 1 100); do
  LDAPTLS_REQCERT=never ldapsearch -x -LLL -H "ldaps://$IP" -s base -b "" dnsHostName >/dev/null 2>&1 && break
  sleep 0.1
done
log "Samba AD DC ready on ldap://$IP (pid $PID)"

P=${SUMMARY_PREFIX:-}
kv() { printf "%s%s='%s'\n" "$P" "$1" "$2"; }
kv SERVER samba-ad
kv DIR "$DIR"
kv HOST "$IP"
kv PORT 389
kv LDAPS_PORT 636
kv URL "ldap://$IP:389"
kv LDAPS_URL "ldaps://$IP:636"
kv BIND_DN "CN=Administrator,CN=Users,$BASEDN"
kv BIND_PW "$ADMINPASS"
kv BASE_DN "$BASEDN"
kv REALM "$REALM"
kv DOMAIN "$DOMAIN"
kv CONF "$CONF"
kv PID "$PID"
kv PID_FILE "$DIR/samba.pid"
kv LOG_FILE "$DIR/samba.log"
