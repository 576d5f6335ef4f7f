#!/bin/sh
# Creates the TLS certificate nginx serves in deploy/docker-compose.yml: self-signed, for
# localhost and 127.0.0.1 (once; existing files are kept). Git-ignored. Needs openssl 1.1.1+.
#
# Trust it for a try-out: curl --cacert deploy/compose/tls/localhost.crt https://localhost:8443/
# or import localhost.crt into the browser's certificate store. For a real host name, put its
# certificate and key (e.g. from Let's Encrypt) at the same two paths and set public_url.
set -eu
dir="$(dirname "$0")/tls"
mkdir -p "$dir"
umask 077
if [ -s "$dir/localhost.crt" ] && [ -s "$dir/localhost.key" ]; then
  echo "keeping $dir/localhost.crt and $dir/localhost.key"
  exit 0
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -nodes \
  -days 825 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -addext "basicConstraints=critical,CA:FALSE" \
  -addext "keyUsage=critical,digitalSignature" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$dir/localhost.key" -out "$dir/localhost.crt" 2>/dev/null
# nginx's workers (uid 101 in the image) read the key through the bind mount.
chmod 644 "$dir/localhost.crt" "$dir/localhost.key"
echo "wrote $dir/localhost.crt and $dir/localhost.key (self-signed for localhost, 127.0.0.1, ::1)"
