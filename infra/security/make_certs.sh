#!/usr/bin/env bash
# A private CA and a broker certificate for the secure Kafka profile, with openssl only.
#
#   infra/security/make_certs.sh [DIR]        (default <repo>/.data/security/certs)
#
# Writes into DIR:
#   ca.pem, ca.key        the CA (clients trust ca.pem: SLUICE_SSL_CAFILE)
#   broker.pem            broker certificate followed by the CA, SAN localhost, 127.0.0.1, kafka
#   broker.key            its key, unencrypted PKCS#8 (read by Kafka as ssl.keystore.type=PEM)
#   broker-keystore.pem   broker.key + broker.pem in one file: Kafka's PEM keystore
# Idempotent: when the files are there, the broker certificate is signed by ca.pem, carries the SANs
# and is valid for at least another day, nothing is rewritten. SLUICE_CERT_DAYS sets the lifetime (825).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${1:-$repo/.data/security/certs}"
days="${SLUICE_CERT_DAYS:-825}"
sans="DNS:localhost,IP:127.0.0.1,DNS:kafka"

log() { echo "certs: $*" >&2; }

valid() {
  local f
  for f in ca.pem ca.key broker.pem broker.key broker-keystore.pem; do [[ -s "$dir/$f" ]] || return 1; done
  openssl verify -CAfile "$dir/ca.pem" "$dir/broker.pem" > /dev/null 2>&1 || return 1
  openssl x509 -in "$dir/broker.pem" -noout -checkend 86400 > /dev/null 2>&1 || return 1
  local san; san="$(openssl x509 -in "$dir/broker.pem" -noout -ext subjectAltName 2>/dev/null)" || return 1
  [[ "$san" == *"DNS:localhost"* && "$san" == *"IP Address:127.0.0.1"* && "$san" == *"DNS:kafka"* ]]
}

if valid; then log "present and valid in $dir"; exit 0; fi

mkdir -p "$dir"
chmod 755 "$dir"
tmp="$(mktemp -d "$dir/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
umask 077

# P-256 keys: quick to make (the tests make several), accepted by Kafka's PEM keystore and by Python's ssl.
key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
openssl req -x509 -new -nodes "${key[@]}" -sha256 -days "$days" -subj "/CN=Sluice local CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2> /dev/null
openssl req -new -nodes "${key[@]}" -sha256 -subj "/CN=kafka" \
  -keyout "$tmp/broker.key.pem" -out "$tmp/broker.csr" 2> /dev/null
# PKCS#8 ("BEGIN PRIVATE KEY"): the form Kafka's PEM keystore reads.
openssl pkcs8 -topk8 -nocrypt -in "$tmp/broker.key.pem" -out "$tmp/broker.key"
printf '%s\n' "subjectAltName=$sans" "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth,clientAuth" > "$tmp/broker.ext"
openssl x509 -req -sha256 -days "$days" -in "$tmp/broker.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
  -CAcreateserial -extfile "$tmp/broker.ext" -out "$tmp/broker.crt" 2> /dev/null
cat "$tmp/broker.crt" "$tmp/ca.pem" > "$tmp/broker.pem"
cat "$tmp/broker.key" "$tmp/broker.pem" > "$tmp/broker-keystore.pem"
# The certificates are public; the broker container (another uid) must read the keystore too.
chmod 644 "$tmp/ca.pem" "$tmp/broker.pem"
chmod 640 "$tmp/broker.key" "$tmp/broker-keystore.pem"
for f in ca.pem ca.key broker.pem broker.key broker-keystore.pem; do mv -f "$tmp/$f" "$dir/$f"; done
valid || { log "generated certificates do not verify"; exit 1; }
log "wrote CA and broker certificate (SAN $sans) to $dir"
