#!/usr/bin/env bash
# ferrosync demo: starts two throwaway directories on 127.0.0.1 (389 Directory Server as the source, OpenLDAP as
# the destination), configures a pipe from the reference batch file, sets the start point, resyncs, starts the
# sync server and the pipe, makes changes at the source and shows them arrive, then stops everything.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$top"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

step "Building ferrosync (cargo build --release) and installing the directory servers if missing"
cargo build --release --quiet
tests/servers/install-deps.sh all >/dev/null

work="$(mktemp -d /tmp/ferrosync-demo.XXXXXX)"
chmod 755 "$work"
export FERROSYNC_ROOT="$work/root"
cleanup() {
    bin/stop-server >/dev/null 2>&1 || true
    tests/servers/stop-openldap.sh "$work/openldap" --rm >/dev/null 2>&1 || true
    tests/servers/stop-389ds.sh "$work/389ds" --rm >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "Starting 389 Directory Server on 127.0.0.1:13890 (source) and OpenLDAP on 127.0.0.1:3389 (destination)"
eval "$(SUMMARY_PREFIX=SRC_ tests/servers/start-389ds.sh "$work/389ds" 13890 13891 t13890 2>/dev/null)"
eval "$(SLAPD_LOGLEVEL=0 SUMMARY_PREFIX=DST_ tests/servers/start-openldap.sh "$work/openldap" 3389 3636 2>/dev/null)"
SRC=(-x -H "$SRC_URL" -D "$SRC_BIND_DN" -w "$SRC_BIND_PW")
DST=(-x -H "$DST_URL" -D "$DST_BIND_DN" -w "$DST_BIND_PW")

step "Loading 10 people and a group into the source"
{
    for i in $(seq 1 10); do
        printf 'dn: uid=user%s,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: user%s\ncn: User %s\nsn: Number%s\ngivenName: User\ntelephoneNumber: +1 555 010%s\n\n' "$i" "$i" "$i" "$i" "$i"
    done
    printf 'dn: cn=staff,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: staff\nmember: uid=user1,ou=people,dc=example,dc=com\nmember: uid=user2,ou=people,dc=example,dc=com\n\n'
} | ldapadd "${SRC[@]}" >/dev/null
echo "source has $(ldapsearch "${SRC[@]}" -LLL -b dc=example,dc=com '(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))' 1.1 | grep -c '^dn:') entries"

step "Configuring the pipe with the reference batch file (server root: $FERROSYNC_ROOT)"
run bin/dsconfig --no-prompt --batch-file sample-dsconfig-batch-files/reference-ldap-to-ldap.dsconfig

step "Setting the start point, then resynchronizing what is already there"
run bin/realtime-sync set-startpoint --pipe-name ds389-to-openldap --end-of-changelog
run bin/resync --pipe-name ds389-to-openldap
echo "destination has $(ldapsearch "${DST[@]}" -LLL -b dc=example,dc=com '(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))' 1.1 | grep -c '^dn:') entries"

step "Starting the sync server and the pipe"
run bin/start-server
run bin/realtime-sync start --pipe-name ds389-to-openldap

step "Changing the source: a new person, a changed phone number, a new group member, a rename and a delete"
ldapmodify "${SRC[@]}" >/dev/null <<'LDIF'
dn: uid=ada,ou=people,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: ada
cn: Ada Lovelace
sn: Lovelace
givenName: Ada

dn: uid=user3,ou=people,dc=example,dc=com
changetype: modify
replace: telephoneNumber
telephoneNumber: +44 20 7946 0000

dn: cn=staff,ou=groups,dc=example,dc=com
changetype: modify
add: member
member: uid=ada,ou=people,dc=example,dc=com

dn: uid=user4,ou=people,dc=example,dc=com
changetype: modrdn
newrdn: uid=user4-renamed
deleteoldrdn: 1

dn: uid=user5,ou=people,dc=example,dc=com
changetype: delete
LDIF
sleep 2

step "At the destination, two seconds later"
run ldapsearch "${DST[@]}" -LLL -b ou=people,dc=example,dc=com "(|(uid=ada)(uid=user3)(uid=user4*)(uid=user5))" uid cn mail telephoneNumber
run ldapsearch "${DST[@]}" -LLL -b cn=staff,ou=groups,dc=example,dc=com -s base member

step "bin/status"
bin/status | sed -n '1,30p'

step "The sync log (logs/sync), last lines"
tail -n 6 "$FERROSYNC_ROOT/logs/sync"

step "Stopping the sync server and the directories"
run bin/stop-server

cat <<EOF

Each step by hand (the launchers in bin/ use this folder as the server root unless FERROSYNC_ROOT is set):
  tests/servers/start-389ds.sh DIR 13890 13891           # a source directory with a change log
  tests/servers/start-openldap.sh DIR 3389 3636           # a destination directory
  bin/dsconfig --no-prompt --batch-file sample-dsconfig-batch-files/reference-ldap-to-ldap.dsconfig
  bin/realtime-sync set-startpoint --pipe-name ds389-to-openldap --end-of-changelog
  bin/resync --pipe-name ds389-to-openldap
  bin/start-server
  bin/realtime-sync start --pipe-name ds389-to-openldap
  bin/status
  bin/stop-server
EOF
