#!/usr/bin/env bash
# start-389ds.sh DIR [PORT=13890] [LDAPS_PORT=13891] [NAME=tPORT]
#
# Starts a throwaway 389 Directory Server (Debian 12: 389-ds-base 2.3.x) on 127.0.0.1 only:
#   * suffix dc=example,dc=com with ou=people and ou=groups; bind "cn=Directory Manager" / Password1
#   * Retro Changelog plugin on -> cn=changelog (changeNumber, targetDn, changeType, changes, newRdn,
#     deleteOldRdn, newSuperior, changeTime, targetUniqueId = the entry's nsUniqueId);
#     root DSE: changelog, firstchangenumber, lastchangenumber. The changelog starts empty.
#   * Content Synchronization plugin on (RFC 4533 syncrepl provider; needs the retro changelog)
#   * ldap://127.0.0.1:PORT (StartTLS ok) and ldaps://127.0.0.1:LDAPS_PORT; server cert signed by
#     the host's 389 self-signed CA (/etc/dirsrv/ssca, copy in DIR/config/ca.crt) with
#     SAN DNS:localhost, DNS:$(hostname), IP:127.0.0.1 (so CA_FILE verification works with 127.0.0.1)
# First start creates the instance (lib389 SetupDs, ~10 s); if DIR already holds an instance,
# ns-slapd is just started again (~1-1.5 s), on the ports it was created with.
#
# No systemd: `dscreate` would call systemctl, so lib389's SetupDs is driven from /usr/bin/python3
# with with_systemd forced off and the pid file in DIR/run. Outside DIR there is only the symlink
# /etc/dirsrv/slapd-NAME -> DIR/config (lib389 finds instances there; NAME must be unique on the
# host) and the shared CA /etc/dirsrv/ssca. ns-slapd drops to user dirsrv: DIR is chowned to dirsrv
# and every parent of DIR must be traversable (x) by others (/tmp is fine).
#
# Environment:
#   DS_NOSYNC=1          nsslapd-db-durable-transaction: off (benchmarks; only when DIR is created)
#   DS_CONTENT_SYNC=0    leave the Content Synchronization plugin off (only when DIR is created): 389 DS 2.3's
#                        plugin can deadlock the database under concurrent writes while persistent searches run
#   DS_RETROCL=0         leave the Retro Changelog plugin (and so Content Synchronization) off (only when DIR is
#                        created): for tests of tools that turn it on, such as prepare-endpoint-server
#   START_TIMEOUT=60     seconds to wait for the server to answer
#   SUMMARY_PREFIX=...   prefix for the summary variable names (e.g. DST_ -> DST_URL=...)
#
# stdout: only the summary, one KEY='value' per line (eval-able, values single-quoted):
#   SERVER DIR HOST PORT LDAPS_PORT URL LDAPS_URL BIND_DN BIND_PW BASE_DN CA_FILE
#   CHANGELOG_DN PID PID_FILE LOG_FILE INSTANCE
# stderr: progress messages. Exit status != 0 (with the log tail on stderr) if it does not start.
# Stop with: stop-389ds.sh DIR [--rm]
set -euo pipefail

usage() { echo "usage: $0 DIR [PORT=13890] [LDAPS_PORT=13891] [NAME=tPORT]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 4 ]; then usage; fi
DIR=$1
PORT=${2:-13890}
SPORT=${3:-13891}
NAME=${4:-t$PORT}
SUFFIX="dc=example,dc=com"
ROOTDN="cn=Directory Manager"
ROOTPW="Password1"          # 389 requires >= 8 characters
PY=/usr/bin/python3         # lib389 lives in the system python, not in pyenv/venvs
TIMEOUT=${START_TIMEOUT:-60}
HERE=$(cd "$(dirname "$0")" && pwd)

log() { echo "start-389ds: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
errlog_tail() {
  for f in "$DIR/dscreate.log" "$DIR/ns-slapd.out" "$DIR/log/errors"; do
    if [ -s "$f" ]; then echo "---- tail of $f ----" >&2; tail -15 "$f" >&2; fi
  done
}

[[ "$NAME" =~ ^[A-Za-z0-9_-]+$ ]] || die "NAME must match [A-Za-z0-9_-]+"
"$HERE/install-deps.sh" 389ds

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd -P)
PIDFILE="$DIR/run/slapd.pid"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  die "389-ds already running in $DIR (pid $(cat "$PIDFILE")); stop it with stop-389ds.sh $DIR"
fi

# An existing instance keeps its name and ports.
if [ -f "$DIR/instance.env" ]; then
  # shellcheck disable=SC1091
  . "$DIR/instance.env"     # sets I_NAME I_PORT I_SPORT
  if { [ $# -ge 2 ] && [ "$PORT" != "$I_PORT" ]; } || { [ $# -ge 3 ] && [ "$SPORT" != "$I_SPORT" ]; } \
     || { [ $# -ge 4 ] && [ "$NAME" != "$I_NAME" ]; }; then
    die "$DIR holds instance $I_NAME on ports $I_PORT/$I_SPORT; ports and name cannot change on restart"
  fi
  NAME=$I_NAME; PORT=$I_PORT; SPORT=$I_SPORT
fi
for p in "$PORT" "$SPORT"; do
  port_busy "$p" && die "port $p on 127.0.0.1 is already in use (another server?)"
done
LINK="/etc/dirsrv/slapd-$NAME"
if [ -L "$LINK" ] || [ -e "$LINK" ]; then
  target=$(readlink -f "$LINK" || true)
  if [ "$target" != "$DIR/config" ] && [ -e "$target/dse.ldif" ]; then
    # Left by a test run that was killed (its trap never ran): no server runs from it, so the name is free.
    if pgrep -f -- "ns-slapd.*-D $target" >/dev/null 2>&1; then
      die "instance name $NAME is taken: $LINK -> $target, which is running (pass another NAME)"
    fi
    echo "start-389ds: instance name $NAME was left by a stopped instance ($target): reusing the name" >&2
    rm -f "$LINK"
  fi
fi

chown dirsrv:dirsrv "$DIR"
if ! runuser -u dirsrv -- test -w "$DIR"; then
  die "user dirsrv cannot write $DIR (is a parent directory not traversable by others?)"
fi
U="ldap://127.0.0.1:$PORT"
T0=$(now)

if [ ! -f "$DIR/config/dse.ldif" ]; then
  # ---------------- first start: create the instance ----------------
  rm -rf "$DIR/config" "$DIR/run"
  mkdir -p /etc/dirsrv "$DIR/config" "$DIR/run"
  chown dirsrv:dirsrv "$DIR/config" "$DIR/run"
  ln -sfn "$DIR/config" "$LINK"
  printf 'I_NAME=%s\nI_PORT=%s\nI_SPORT=%s\n' "$NAME" "$PORT" "$SPORT" > "$DIR/instance.env"
  cat > "$DIR/instance.inf" <<EOF
[general]
config_version = 2
full_machine_name = localhost
selinux = False
systemd = False
start = True
strict_host_checking = False

[slapd]
instance_name = $NAME
port = $PORT
secure_port = $SPORT
root_dn = $ROOTDN
root_password = $ROOTPW
self_sign_cert = True
user = dirsrv
group = dirsrv
config_dir = $LINK
cert_dir = $LINK
schema_dir = $LINK/schema
backup_dir = $DIR/bak
db_dir = $DIR/db
db_home_dir = $DIR/db
ldif_dir = $DIR/ldif
lock_dir = $DIR/lock
log_dir = $DIR/log
run_dir = $DIR/run
ldapi = $DIR/run/slapd.socket
initconfig_dir = $DIR/initconfig
inst_dir = $DIR/inst

[backend-userroot]
suffix = $SUFFIX
create_suffix_entry = True
sample_entries = no
EOF
  cat > "$DIR/dscreate-nosystemd.py" <<'EOF'
# `dscreate from-file`, but without systemctl, with the pid file inside DIR, a server cert whose
# SAN also has 127.0.0.1, the base OUs, and the retro changelog + content sync plugins turned on
# (they take effect in the restart SetupDs does at its end, so the base entries are not logged).
import logging, os, socket, subprocess, sys
import ldap
import lib389, lib389.paths, lib389.nss_ssl
import lib389.instance.setup as setup
from lib389.dseldif import DSEldif
from lib389.idm.organizationalunit import OrganizationalUnits

lib389.paths.Paths.with_systemd = property(lambda self: False)
lib389.DirSrv.pid_file = lambda self: os.environ['DS_PIDFILE']

_check_output = subprocess.check_output
def check_output(cmd, *a, **kw):
    # certutil -R ... -8 localhost  ->  --extSAN dns:localhost,dns:HOST,ip:127.0.0.1
    if cmd and cmd[0].endswith('certutil') and '-R' in cmd and '-8' in cmd:
        i = cmd.index('-8')
        names = ['dns:' + n for n in cmd[i + 1].split(',')]
        host = socket.gethostname()
        if host and 'dns:' + host not in names:
            names.append('dns:' + host)
        names.append('ip:127.0.0.1')
        cmd = cmd[:i] + ['--extSAN', ','.join(names)] + cmd[i + 2:]
    return _check_output(cmd, *a, **kw)
lib389.nss_ssl.check_output = check_output

_create_base_domain = setup.create_base_domain
def create_base_domain(inst, basedn):
    domain = _create_base_domain(inst, basedn)
    ous = OrganizationalUnits(inst, basedn)
    for ou in ('people', 'groups'):
        ous.create(properties={'ou': ou})
    R, A = ldap.MOD_REPLACE, ldap.MOD_ADD
    retrocl = os.environ.get('DS_RETROCL', '1') == '1'
    if retrocl:
        inst.modify_s('cn=Retro Changelog Plugin,cn=plugins,cn=config', [
            (R, 'nsslapd-pluginEnabled', [b'on']),
            (A, 'nsslapd-attribute', [b'nsuniqueid:targetUniqueId']),
            (R, 'nsslapd-changelogmaxage', [b'7d'])])
    if retrocl and os.environ.get('DS_CONTENT_SYNC', '1') == '1':
        inst.modify_s('cn=Content Synchronization,cn=plugins,cn=config', [
            (R, 'nsslapd-pluginEnabled', [b'on'])])
    inst.modify_s('cn=config', [
        (R, 'nsslapd-listenhost', [b'127.0.0.1']),
        (R, 'nsslapd-securelistenhost', [b'127.0.0.1'])])
    if os.environ.get('DS_NOSYNC') == '1':
        # only settable offline; 2.3 keeps it in cn=bdb (bdb is the default implementation)
        OFFLINE_EDITS.append(('cn=bdb,cn=config,cn=ldbm database,cn=plugins,cn=config',
                              'nsslapd-db-durable-transaction', 'off'))
    return domain
setup.create_base_domain = create_base_domain

# dse.ldif edits that cannot be made online: applied between the stop and the start of
# the restart that ends SetupDs
OFFLINE_EDITS = []
_start = lib389.DirSrv.start
def start(self, *a, **kw):
    if OFFLINE_EDITS:
        dse = DSEldif(self)
        for dn, attr, value in OFFLINE_EDITS:
            dse.replace(dn, attr, value)
        OFFLINE_EDITS.clear()
    return _start(self, *a, **kw)
lib389.DirSrv.start = start

logging.basicConfig(level=logging.INFO, format='dscreate: %(message)s')
sd = setup.SetupDs(verbose=False, dryrun=False, log=logging.getLogger('dscreate'))
sys.exit(0 if sd.create_from_inf(sys.argv[1]) else 1)
EOF
  log "creating instance $NAME in $DIR (takes 10-20 s) ..."
  # flock: instance creations are serialized host-wide (they share the CA in /etc/dirsrv/ssca)
  if ! DS_PIDFILE="$PIDFILE" DS_NOSYNC="${DS_NOSYNC:-0}" DS_CONTENT_SYNC="${DS_CONTENT_SYNC:-1}" DS_RETROCL="${DS_RETROCL:-1}" flock -o -w 600 /etc/dirsrv \
       $PY "$DIR/dscreate-nosystemd.py" "$DIR/instance.inf" </dev/null >"$DIR/dscreate.log" 2>&1; then
    errlog_tail
    if [ -f "$PIDFILE" ]; then kill "$(cat "$PIDFILE")" 2>/dev/null || true; fi
    rm -f "$LINK" "$LINK.removed" "$DIR/instance.env"
    die "instance creation failed (see $DIR/dscreate.log); remove $DIR before retrying"
  fi
  log "created in $(elapsed "$T0") s"
else
  # ---------------- existing instance: just start ns-slapd (it daemonizes) ----------------
  ln -sfn "$DIR/config" "$LINK"
  rm -f "$PIDFILE"
  if ! /usr/sbin/ns-slapd -D "$LINK" -i "$PIDFILE" </dev/null >"$DIR/ns-slapd.out" 2>&1; then
    errlog_tail; die "ns-slapd failed to start"
  fi
fi

ready=0
deadline=$(( $(date +%s) + TIMEOUT ))
while [ "$(date +%s)" -le "$deadline" ]; do
  if ldapsearch -x -LLL -o nettimeout=2 -H "$U" -D "$ROOTDN" -w "$ROOTPW" -s base -b "$SUFFIX" dn \
       >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
PID=$(cat "$PIDFILE" 2>/dev/null || true)
if [ "$ready" != 1 ] || [ -z "$PID" ] || ! kill -0 "$PID" 2>/dev/null; then
  errlog_tail
  die "389-ds did not answer on $U within ${TIMEOUT}s (pid file: ${PID:-none})"
fi
log "389-ds $NAME ready in $(elapsed "$T0") s (pid $PID, $U, ldaps://127.0.0.1:$SPORT)"

P=${SUMMARY_PREFIX:-}
kv() { printf "%s%s='%s'\n" "$P" "$1" "$2"; }
kv SERVER 389ds
kv DIR "$DIR"
kv HOST 127.0.0.1
kv PORT "$PORT"
kv LDAPS_PORT "$SPORT"
kv URL "$U"
kv LDAPS_URL "ldaps://127.0.0.1:$SPORT"
kv BIND_DN "$ROOTDN"
kv BIND_PW "$ROOTPW"
kv BASE_DN "$SUFFIX"
kv CA_FILE "$DIR/config/ca.crt"
kv CHANGELOG_DN "cn=changelog"
kv PID "$PID"
kv PID_FILE "$PIDFILE"
kv LOG_FILE "$DIR/log/errors"
kv INSTANCE "$NAME"
