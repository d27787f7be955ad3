#!/usr/bin/env bash
# Runs ferrosync's whole test suite: starts throwaway OpenLDAP and 389 Directory Server instances on 127.0.0.1,
# runs `cargo test` against them, and stops them again. Installs the Debian packages it needs when missing.
#
#   tests/run.sh [extra cargo test arguments]
#
# Ports (override with the environment): OpenLDAP 3389/3636, 389 DS 13890/13891 (instance name t13890), and a
# second 389 DS for content sync on 13892/13893 (t13892), the PingOne API emulator on 19443 (HTTPS; plain HTTP
# on 19444), HTTPS gateways in front of the SCIM servers on free ports, PostgreSQL on 15432, and a Samba AD
# domain controller on 127.0.0.11:389/636 (Samba's ports are fixed; it gets a loopback address of its own).
# Prometheus (installed by install-deps.sh all) is started by the tests that need it, one per test on a free port
# (tests/servers/start-prometheus.sh), since what it scrapes is the test's own sync server.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$top"

OPENLDAP_PORT="${OPENLDAP_PORT:-3389}"
OPENLDAP_LDAPS_PORT="${OPENLDAP_LDAPS_PORT:-3636}"
DS_PORT="${DS_PORT:-13890}"
DS_LDAPS_PORT="${DS_LDAPS_PORT:-13891}"
DS_CS_PORT="${DS_CS_PORT:-13892}"
DS_CS_LDAPS_PORT="${DS_CS_LDAPS_PORT:-13893}"
PINGONE_PORT="${PINGONE_PORT:-19443}"
POSTGRES_PORT="${POSTGRES_PORT:-15432}"
SAMBA_IP="${SAMBA_IP:-127.0.0.11}"

tests/servers/install-deps.sh all >&2

work="$(mktemp -d /tmp/ferrosync-tests.XXXXXX)"
chmod 755 "$work"
cleanup() {
    tests/servers/stop-openldap.sh "$work/openldap" --rm >/dev/null 2>&1 || true
    tests/servers/stop-389ds.sh "$work/389ds" --rm >/dev/null 2>&1 || true
    tests/servers/stop-389ds.sh "$work/389cs" --rm >/dev/null 2>&1 || true
    tests/servers/stop-samba-ad.sh "$work/samba" --rm >/dev/null 2>&1 || true
    tests/servers/stop-postgresql.sh "$work/postgresql" --rm >/dev/null 2>&1 || true
    if [ -n "${FERROSYNC_TEST_PINGONE_PID:-}" ]; then
        tests/servers/stop-pingone-emulator.sh "$FERROSYNC_TEST_PINGONE_PID" >/dev/null 2>&1 || true
    fi
    [ -n "${SCIM2_PID:-}" ] && kill "$SCIM2_PID" 2>/dev/null || true
    [ -n "${SCIMMY_PID:-}" ] && kill "$SCIMMY_PID" 2>/dev/null || true
    [ -n "${SCIM2_GATEWAY_PID:-}" ] && kill "$SCIM2_GATEWAY_PID" 2>/dev/null || true
    [ -n "${SCIMMY_GATEWAY_PID:-}" ] && kill "$SCIMMY_GATEWAY_PID" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "starting OpenLDAP on 127.0.0.1:$OPENLDAP_PORT and 389 Directory Server on 127.0.0.1:$DS_PORT..." >&2
set -a
eval "$(SLAPD_LOGLEVEL=0 SUMMARY_PREFIX=FERROSYNC_TEST_OPENLDAP_ tests/servers/start-openldap.sh "$work/openldap" "$OPENLDAP_PORT" "$OPENLDAP_LDAPS_PORT")"
eval "$(DS_CONTENT_SYNC=0 SUMMARY_PREFIX=FERROSYNC_TEST_389_ tests/servers/start-389ds.sh "$work/389ds" "$DS_PORT" "$DS_LDAPS_PORT" "t$DS_PORT")"
# A second 389 DS for RFC 4533 content sync: 389 DS 2.3's content sync plugin can deadlock the database when
# persistent searches run while other clients write concurrently, so those tests get an instance of their own.
eval "$(SUMMARY_PREFIX=FERROSYNC_TEST_389CS_ tests/servers/start-389ds.sh "$work/389cs" "$DS_CS_PORT" "$DS_CS_LDAPS_PORT" "t$DS_CS_PORT")"
# Two real SCIM 2.0 servers (pip and npm installs are cached under $HOME/.cache).
eval "$(SUMMARY_PREFIX=FERROSYNC_TEST_SCIM2_ tests/servers/start-scim2-server.sh "${SCIM2_PORT:-18080}")"
SCIM2_PID=$FERROSYNC_TEST_SCIM2_PID
eval "$(SUMMARY_PREFIX=FERROSYNC_TEST_SCIMMY_ tests/servers/start-scimmy.sh "${SCIMMY_PORT:-18083}")"
SCIMMY_PID=$FERROSYNC_TEST_SCIMMY_PID
# HTTPS: the PingOne emulator and the SCIM gateways serve TLS with a throwaway CA. The tools trust it the way an
# operator's system trusts a corporate CA: OpenSSL's SSL_CERT_FILE names the system's bundle plus that CA (the
# tests that need it run a tool with the system's bundle alone, or name the CA in a file-based
# trust-manager-provider).
eval "$(SUMMARY_PREFIX=FERROSYNC_TEST_HTTPS_ tests/servers/make-https-ca.sh "$work/https")"
SSL_CERT_FILE="$FERROSYNC_TEST_HTTPS_BUNDLE_FILE"
# One HTTPS gateway in front of each SCIM server, passing the bearer token through: the URL ferrosync is given.
eval "$(SCIM_PROXY_TLS_CERT="$FERROSYNC_TEST_HTTPS_CERT_FILE" SCIM_PROXY_TLS_KEY="$FERROSYNC_TEST_HTTPS_KEY_FILE" \
    SUMMARY_PREFIX=FERROSYNC_TEST_SCIM2_GATEWAY_ tests/servers/start-scim-proxy.sh 0 "$FERROSYNC_TEST_SCIM2_URL" "$FERROSYNC_TEST_SCIM2_TOKEN")"
SCIM2_GATEWAY_PID=$FERROSYNC_TEST_SCIM2_GATEWAY_PID
eval "$(SCIM_PROXY_TLS_CERT="$FERROSYNC_TEST_HTTPS_CERT_FILE" SCIM_PROXY_TLS_KEY="$FERROSYNC_TEST_HTTPS_KEY_FILE" \
    SUMMARY_PREFIX=FERROSYNC_TEST_SCIMMY_GATEWAY_ tests/servers/start-scim-proxy.sh 0 "$FERROSYNC_TEST_SCIMMY_URL" "$FERROSYNC_TEST_SCIMMY_TOKEN")"
SCIMMY_GATEWAY_PID=$FERROSYNC_TEST_SCIMMY_GATEWAY_PID
# The SCIM tests put their own gateway (tests/scim-proxy/proxy.py: 429s, basic and OAuth authorization, request
# counts) in front of these servers, one per test on a free port, since each test throttles on its own;
# tests/servers/start-scim-proxy.sh PORT URL TOKEN starts one by hand (PORT 0: a free one).
# The PingOne API emulator (Python 3 stdlib): the ping-one-customer source and destination tests.
eval "$(PINGONE_TLS_CERT="$FERROSYNC_TEST_HTTPS_CERT_FILE" PINGONE_TLS_KEY="$FERROSYNC_TEST_HTTPS_KEY_FILE" \
    PINGONE_EMULATOR_LOG="$work/pingone-emulator.log" SUMMARY_PREFIX=FERROSYNC_TEST_PINGONE_ tests/servers/start-pingone-emulator.sh "$PINGONE_PORT")"
# A Samba 4 Active Directory domain controller: DirSync source, AD destination, passwords.
eval "$(SUMMARY_PREFIX=FERROSYNC_TEST_AD_ tests/servers/start-samba-ad.sh "$work/samba" "$SAMBA_IP")"
# What tests keep for a reader (the status page's screenshot).
FERROSYNC_TEST_ARTEFACTS="${FERROSYNC_TEST_ARTEFACTS:-${CARGO_TARGET_DIR:-$top/target}/test-artefacts}"
# PostgreSQL 15 for the PostgreSQL store: FERROSYNC_TEST_POSTGRES_URL (with ?passfile=), _PASSFILE, _CA_FILE;
# each test makes a schema of its own in its database.
eval "$(SUMMARY_PREFIX=FERROSYNC_TEST_POSTGRES_ tests/servers/start-postgresql.sh "$work/postgresql" "$POSTGRES_PORT")"
set +a

cargo test --release --workspace "$@"
# The whole suite (no arguments) also runs the real-time and resync suites on the PostgreSQL store: every root they
# make gets a store of its own in the test PostgreSQL (FERROSYNC_TEST_STORE=postgresql, read by the tests' Root).
# Set FERROSYNC_TEST_STORE=postgresql yourself to run any other test that way.
if [ "$#" -eq 0 ]; then
    echo "the real-time and resync suites again, on the PostgreSQL store..." >&2
    FERROSYNC_TEST_STORE=postgresql cargo test --release -p ferrosync-tools --test realtime --test resync
fi
