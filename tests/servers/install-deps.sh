#!/usr/bin/env bash
# install-deps.sh - install the Debian packages the throwaway test servers need.
#
# Idempotent and fast: when everything is installed it only runs dpkg-query (~10 ms).
# Otherwise it runs `apt-get update` once and installs the missing packages with
#   DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ...
# Must run as root (Debian 12). Waits up to 5 min for a concurrent apt/dpkg lock.
# Package daemons (the distro slapd) are kept from starting during the install by a
# temporary /usr/sbin/policy-rc.d when the host has none (it is removed afterwards).
#
# Usage: install-deps.sh [openldap|389ds|samba|postgresql|prometheus|browser|all]     (default: all)
set -euo pipefail

WHAT=${1:-all}
COMMON=(ldap-utils openssl hostname procps)
OPENLDAP=(slapd)
DS389=(389-ds-base python3-lib389 python3)
SAMBA=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind ldb-tools iproute2)
# Prometheus scrapes the sync server's metrics in the tests (its package's service is kept from starting).
PROMETHEUS=(prometheus curl)
# Headless Chromium loads the sync server's status page in the tests.
BROWSER=(chromium)
# PostgreSQL 15 (initdb, pg_ctl under /usr/lib/postgresql/15/bin; psql); the postgres user it creates runs it
POSTGRESQL=(postgresql-15 postgresql-client-15)
case "$WHAT" in
  openldap) WANT=("${COMMON[@]}" "${OPENLDAP[@]}") ;;
  389ds)    WANT=("${COMMON[@]}" "${DS389[@]}") ;;
  samba)    WANT=("${COMMON[@]}" "${SAMBA[@]}") ;;
  postgresql) WANT=("${COMMON[@]}" "${POSTGRESQL[@]}") ;;
  prometheus) WANT=("${COMMON[@]}" "${PROMETHEUS[@]}") ;;
  browser)  WANT=("${COMMON[@]}" "${BROWSER[@]}") ;;
  all)      WANT=("${COMMON[@]}" "${OPENLDAP[@]}" "${DS389[@]}" "${SAMBA[@]}" "${POSTGRESQL[@]}" "${PROMETHEUS[@]}" "${BROWSER[@]}") ;;
  *) echo "usage: $0 [openldap|389ds|samba|postgresql|prometheus|browser|all]" >&2; exit 2 ;;
esac

MISSING=()
for p in "${WANT[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || MISSING+=("$p")
done
[ ${#MISSING[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: missing packages (${MISSING[*]}) and not root" >&2; exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -q -o DPkg::Lock::Timeout=300)

# keep package maintainer scripts from starting daemons (e.g. slapd on :389, the distro's postgresql on :5432)
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$POLICY"; chmod 755 "$POLICY"; CREATED_POLICY=1
fi
cleanup() { if [ "$CREATED_POLICY" = 1 ]; then rm -f "$POLICY"; fi; }
trap cleanup EXIT

echo "install-deps.sh: installing ${MISSING[*]}" >&2
"${APT[@]}" update >/dev/null
"${APT[@]}" install -y --no-install-recommends "${MISSING[@]}" >/dev/null
echo "install-deps.sh: done" >&2
