#!/usr/bin/env bash
# Makes a throwaway CA and a certificate for 127.0.0.1 / localhost that the HTTPS test servers (the PingOne
# emulator, the SCIM gateway) serve, and prints their paths as KEY='value' lines (eval-able):
#
#   tests/servers/make-https-ca.sh DIR
#   SUMMARY_PREFIX=FERROSYNC_TEST_HTTPS_ ...   prefix for the variable names
#
#   CA_FILE            the CA certificate (what a file-based trust-manager-provider names)
#   CERT_FILE KEY_FILE the server's certificate (CA:FALSE, serverAuth, SAN localhost and 127.0.0.1) and key
#   SYSTEM_BUNDLE      the system's CA bundle, unchanged (to run a tool without the test CA)
#   BUNDLE_FILE        the system's CA bundle plus the test CA: with SSL_CERT_FILE pointing at it, OpenSSL
#                      (and so ferrosync's default trust, the system's CAs) trusts the test servers, as an
#                      operator's system trusts a corporate CA
set -euo pipefail
DIR="${1:?usage: make-https-ca.sh DIR}"
mkdir -p "$DIR"
cd "$DIR"
if [ ! -f cert.pem ] || [ ! -f ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=ferrosync HTTPS test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca-key.pem -out ca.pem 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost" -keyout key.pem -out server.csr 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
    -extfile server.ext -out cert.pem 2>/dev/null
  chmod 600 key.pem ca-key.pem
  rm -f server.csr ca.srl server.ext
fi
SYSTEM=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  if [ -f "$f" ]; then SYSTEM="$f"; break; fi
done
if [ -z "$SYSTEM" ]; then
  # No system bundle (a minimal container): an empty one, so the "system" trusts only what is added.
  SYSTEM="$DIR/empty-system-bundle.pem"
  : > "$SYSTEM"
fi
cat "$SYSTEM" ca.pem > bundle.pem
P=${SUMMARY_PREFIX:-}
kv() { printf "%s%s='%s'\n" "$P" "$1" "$2"; }
kv CA_FILE "$DIR/ca.pem"
kv CERT_FILE "$DIR/cert.pem"
kv KEY_FILE "$DIR/key.pem"
kv SYSTEM_BUNDLE "$SYSTEM"
kv BUNDLE_FILE "$DIR/bundle.pem"
