#!/usr/bin/env bash
# Makes a throwaway certificate authority and the two leaf certificates that
# the zk-standby TLS tunnel needs for mutual TLS:
#
#   ca.crt ca.key          the tunnel's own CA; both ends trust only it
#   server.crt server.key  for the ZooKeeper-side stunnel (server mode); its
#                          subjectAltName lists every SERVER_NAME given, plus
#                          localhost and 127.0.0.1
#   client.crt client.key  for the replicator-side stunnel (client mode); its
#                          name (CLIENT_NAME, default zkstandby-replicator) is
#                          what the server side checks with checkHost
#
# usage: make-test-certs.sh OUTDIR [SERVER_NAME...]
#   SERVER_NAME defaults to zk1.primary.example zk2.primary.example
#   zk3.primary.example, the names deploy/stunnel/zkstandby-client.conf checks.
# environment: CLIENT_NAME (default zkstandby-replicator), DAYS (default 30).
#
# If OUTDIR already holds ca.crt and ca.key, that CA is reused and only the
# leaf certificates are made afresh (useful to issue a second client
# certificate from the same CA). Keys are written with mode 0600.
#
# This is for tests and trials. In production use your own PKI, or at least
# keep ca.key offline and issue short-lived leaf certificates.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "" | -*) usage >&2; exit 2 ;;
esac
out=$1
shift
servers=("$@")
[ ${#servers[@]} -eq 0 ] && servers=(zk1.primary.example zk2.primary.example zk3.primary.example)
client_name=${CLIENT_NAME:-zkstandby-replicator}
days=${DAYS:-30}

command -v openssl >/dev/null || { echo "make-test-certs: openssl is not installed" >&2; exit 1; }
umask 077
mkdir -p "$out"
cd "$out"
work=$(mktemp -d .make-test-certs.XXXXXX)
trap 'rm -rf "$work"' EXIT

# P-256 keys: fast to make, and every TLS 1.2/1.3 stack accepts them.
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -s ca.crt ] || [ ! -s ca.key ]; then
  newkey ca.key
  openssl req -x509 -new -key ca.key -sha256 -days "$days" \
    -subj "/O=zk-standby/CN=zk-standby tunnel CA (test)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt
fi

# issue NAME SUBJECT_CN SAN EXTENDED_KEY_USAGE
issue() {
  local name=$1 cn=$2 san=$3 eku=$4
  newkey "$name.key"
  openssl req -new -key "$name.key" -subj "/O=zk-standby/CN=$cn" -out "$work/$name.csr"
  cat > "$work/$name.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$eku
subjectAltName=$san
EOF
  openssl x509 -req -in "$work/$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -CAserial "$work/ca.srl" -sha256 -days "$days" -extfile "$work/$name.ext" \
    -out "$name.crt" 2>/dev/null
}

san="DNS:localhost,IP:127.0.0.1"
for s in "${servers[@]}"; do san="$san,DNS:$s"; done
issue server "${servers[0]}" "$san" serverAuth
issue client "$client_name" "DNS:$client_name" clientAuth

# Certificates are public; keys stay 0600 (umask above).
chmod 0644 ca.crt server.crt client.crt
openssl verify -CAfile ca.crt server.crt client.crt >/dev/null
echo "make-test-certs: wrote $(pwd)/{ca,server,client}.{crt,key}" >&2
