#!/bin/sh
# Creates the secret files deploy/docker-compose.yml mounts (once; existing files are kept).
# They stay out of git (.gitignore). Needs openssl.
set -eu
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
chmod 700 "$dir"
umask 077
make() {
  if [ -s "$dir/$1" ]; then echo "keeping $dir/$1"; return; fi
  "$2" > "$dir/$1"
  echo "wrote $dir/$1"
}
session_keys() { printf '{"1": "%s"}\n' "$(openssl rand -base64 32 | tr -d '\n')"; }
encryption_keys() { printf '{"1": "%s"}\n' "$(openssl rand -base64 32 | tr -d '\n')"; }
admin_token() { openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n'; echo; }
make session-keys.json session_keys
make encryption-keys.json encryption_keys
make admin-token admin_token
# The container runs as uid 1000 (node); compose mounts these files as they are on the host.
chmod 644 "$dir"/* 2>/dev/null || true
echo "admin token for the API on 127.0.0.1:9090: $(cat "$dir/admin-token")"
