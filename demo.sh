#!/usr/bin/env bash
# ferrosync demo: builds the tools, makes a fresh server root, applies the reference LDAP-to-LDAP batch file
# with bin/dsconfig, and shows what was configured.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$top"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Building ferrosync (cargo build --release)"
cargo build --release --quiet

root="$(mktemp -d /tmp/ferrosync-demo.XXXXXX)"
export FERROSYNC_ROOT="$root"
step "Server root: $root"

step "bin/dsconfig --no-prompt --batch-file sample-dsconfig-batch-files/reference-ldap-to-ldap.dsconfig"
bin/dsconfig --no-prompt --batch-file sample-dsconfig-batch-files/reference-ldap-to-ldap.dsconfig

step "bin/dsconfig list-external-servers --property server-host-name --property server-port"
bin/dsconfig list-external-servers --property server-host-name --property server-port
step "bin/dsconfig list-sync-pipes --property sync-source --property sync-destination"
bin/dsconfig list-sync-pipes --property sync-source --property sync-destination
step "bin/dsconfig list-sync-classes --pipe-name ds389-to-openldap --property evaluation-order-index --property include-filter"
bin/dsconfig list-sync-classes --pipe-name ds389-to-openldap --property evaluation-order-index --property include-filter
step "bin/dsconfig get-external-server-prop --server-name openldap   (the password is stored encrypted)"
bin/dsconfig get-external-server-prop --server-name openldap

step "A bad value is refused with its reason and position, and nothing changes"
bin/dsconfig set-sync-class-prop --pipe-name ds389-to-openldap --class-name people \
    --set "include-filter:(&(objectClass=person)(uid=a" || true

step "Done. The configuration is in $root/config/config.db; every change is in $root/logs/config-audit.log:"
cat "$root/logs/config-audit.log" | head -5
echo "..."
echo
echo "Try it yourself: export FERROSYNC_ROOT=$root; bin/dsconfig --help-sync"
