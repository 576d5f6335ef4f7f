#!/bin/sh
# A raw snapshot of a whole Redis (every key, sessions and bans included) as an RDB file, taken
# over the network like a replica does (redis-cli --rdb): works from any host that reaches Redis,
# no access to its disk needed. For the sidecar's durable records alone, with their encryption
# keys and a check, prefer `smartpush-guard store backup --to DIR`; this is the Redis-level copy.
#
#   REDISCLI_AUTH=<password> scripts/redis-rdb-backup.sh redis://redis-0.redis:6379 /backup/redis-$(date +%F)
#
# The password goes in REDISCLI_AUTH, never in the URL (it would show in the process list).
# Restoring it into a Redis that runs with the append-only file: see the README, "Operations: what
# survives a crash, backup and restore".
set -eu
if [ $# -ne 2 ]; then
  echo "usage: $0 REDIS_URL OUT_DIR   (password in REDISCLI_AUTH)" >&2
  exit 2
fi
url=$1
out=$2
if [ -e "$out/dump.rdb" ]; then
  echo "$out/dump.rdb exists: a backup never overwrites another" >&2
  exit 1
fi
umask 077
mkdir -p "$out"
redis-cli -u "$url" --rdb "$out/dump.rdb.partial" >/dev/null
# An RDB file starts with the magic "REDIS": anything else is not a snapshot.
if [ "$(head -c 5 "$out/dump.rdb.partial")" != "REDIS" ]; then
  echo "$out/dump.rdb.partial is not an RDB file" >&2
  exit 1
fi
mv "$out/dump.rdb.partial" "$out/dump.rdb"
redis-cli -u "$url" INFO persistence > "$out/persistence.txt"
echo "wrote $out/dump.rdb ($(wc -c < "$out/dump.rdb") bytes); keep the sidecar's encryption keys with it"
