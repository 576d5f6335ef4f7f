#!/usr/bin/env bash
# Replays the Dockerfile's steps without a Docker engine, to catch what a real `docker build` /
# `docker run` would trip over:
#   1. every COPY source of every stage exists in the build context and is not excluded by
#      .dockerignore (COPY --from must name an earlier stage);
#   2. the stage the final image takes node_modules from installs production dependencies only;
#      it is replayed in a temporary directory (its COPY steps, then npm ci --omit=dev);
#   3. the final stage's filesystem is assembled from its COPY steps (context files filtered by
#      .dockerignore, Docker's COPY semantics) and must be readable by a non-root user;
#   4. from there, with no devDependencies and a clean environment, the image's ENTRYPOINT runs
#      `config check config/demo.yaml` and `policy check policies/smartpush.yaml`, and tsx
#      compiles JSX as it does in the checkout;
#   5. the sidecar starts (`demo` with GUARD_UPSTREAM, which writes its generated secrets to var/
#      and then runs what `serve` runs), the HEALTHCHECK command passes against it, SIGTERM (the
#      STOPSIGNAL) makes it exit 0, and the HEALTHCHECK fails once it is gone.
# RUN steps other than the dependency install (apt-get, chown) are not replayed.
#
# Usage: scripts/docker-build-steps.sh     (exit 0: every step passed; non-zero: the first failure)
#   DOCKERFILE=path   replay another Dockerfile against this checkout's context (default ./Dockerfile)
#   STEP_TIMEOUT=s    limit for each one-shot command run from the image (default 120)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockerfile="${DOCKERFILE:-$root/Dockerfile}"
dockerignore="$root/.dockerignore"

log() { printf 'docker-build-steps: %s\n' "$*"; }
die() {
  printf 'docker-build-steps: FAILED: %s\n' "$*" >&2
  exit 1
}

command -v node >/dev/null 2>&1 || die "node is not on PATH"
command -v npm >/dev/null 2>&1 || die "npm is not on PATH"
[ -f "$dockerfile" ] || die "no Dockerfile at $dockerfile"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smartpush-guard-image.XXXXXX")
case "$tmp/" in "$root"/*) die "the temporary directory $tmp is inside the checkout; set TMPDIR elsewhere" ;; esac
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$(date +%s)

# ------------------------------------------------------------------------------------------------
# .dockerignore: Docker's patterns (anchored at the context root, * within one path segment,
# ** across segments, ! re-includes, last match wins, a match on a directory covers its contents).
# ------------------------------------------------------------------------------------------------
glob_to_regex() {
  local g=$1 re='' c i n=${#1}
  for ((i = 0; i < n; i++)); do
    c=${g:i:1}
    case "$c" in
      '*')
        if [ "${g:i+1:1}" = '*' ]; then
          i=$((i + 1))
          if [ "${g:i+1:1}" = '/' ]; then
            i=$((i + 1))
            re+='(.*/)?'
          else
            re+='.*'
          fi
        else
          re+='[^/]*'
        fi
        ;;
      '?') re+='[^/]' ;;
      '.' | '+' | '(' | ')' | '|' | '^' | '$' | '{' | '}') re+="\\$c" ;;
      \\) re+="\\\\" ;;
      *) re+=$c ;;
    esac
  done
  printf '^%s$' "$re"
}

ignore_regex=()
ignore_negate=()
if [ -f "$dockerignore" ]; then
  while IFS= read -r pattern || [ -n "$pattern" ]; do
    pattern=${pattern%$'\r'}
    pattern="${pattern#"${pattern%%[![:space:]]*}"}"
    pattern="${pattern%"${pattern##*[![:space:]]}"}"
    case "$pattern" in '' | '#'*) continue ;; esac
    negate=0
    if [ "${pattern:0:1}" = '!' ]; then
      negate=1
      pattern=${pattern:1}
    fi
    while [ "${pattern:0:1}" = '/' ]; do pattern=${pattern:1}; done
    while [ "${pattern:0:2}" = './' ]; do pattern=${pattern:2}; done
    while [ "${pattern: -1}" = '/' ]; do pattern=${pattern%/}; done
    [ -n "$pattern" ] || continue
    ignore_regex+=("$(glob_to_regex "$pattern")")
    ignore_negate+=("$negate")
  done <"$dockerignore"
fi

# True when the context-relative path (or a directory above it) is excluded from the context.
is_ignored() {
  local path=$1 result=1 i p re
  for i in "${!ignore_regex[@]}"; do
    re=${ignore_regex[$i]}
    p=$path
    while :; do
      if [[ $p =~ $re ]]; then
        if [ "${ignore_negate[$i]}" = 1 ]; then result=1; else result=0; fi
        break
      fi
      [[ $p == */* ]] || break
      p=${p%/*}
    done
  done
  return "$result"
}

# ------------------------------------------------------------------------------------------------
# Dockerfile: logical instructions (continuations joined, comments and blank lines dropped).
# ------------------------------------------------------------------------------------------------
mapfile -t instructions < <(awk '
  /^[[:space:]]*#/ { next }
  /^[[:space:]]*$/ { next }
  {
    line = $0
    buf = cont ? buf " " line : line
    if (buf ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, "", buf); cont = 1; next }
    print buf; buf = ""; cont = 0
  }
  END { if (cont) print buf }
' "$dockerfile")

json_words() { node -e 'const v = JSON.parse(process.argv[1]); if (!Array.isArray(v)) process.exit(1); for (const w of v) console.log(String(w));' "$1"; }

trim() {
  local s=$1
  s="${s#"${s%%[![:space:]]*}"}"
  printf '%s' "${s%"${s##*[![:space:]]}"}"
}

# Per stage: name and WORKDIR. Per COPY: stage, --from, sources (newline-separated), destination.
stage_names=()
stage_workdirs=()
copy_stage=()
copy_from=()
copy_srcs=()
copy_dest=()
stage_runs=()
final_env=()
entrypoint=()
healthcheck=()
stage=-1

for line in "${instructions[@]}"; do
  keyword=${line%%[[:space:]]*}
  keyword=${keyword^^}
  args=$(trim "${line#"${line%%[[:space:]]*}"}")
  case "$keyword" in
    FROM)
      stage=$((stage + 1))
      read -ra words <<<"$args"
      name=""
      for ((w = 0; w < ${#words[@]}; w++)); do
        if [ "${words[$w]^^}" = AS ] && [ $((w + 1)) -lt ${#words[@]} ]; then name=${words[$((w + 1))]}; fi
      done
      stage_names[stage]=$name
      stage_workdirs[stage]=/
      stage_runs[stage]=""
      final_env=()
      entrypoint=()
      healthcheck=()
      ;;
    WORKDIR)
      [ "$stage" -ge 0 ] || die "WORKDIR before FROM"
      case "$args" in
        /*) stage_workdirs[stage]=$args ;;
        *) stage_workdirs[stage]="${stage_workdirs[stage]%/}/$args" ;;
      esac
      ;;
    COPY | ADD)
      [ "$stage" -ge 0 ] || die "$keyword before FROM"
      from=""
      rest=$args
      while [ "${rest:0:2}" = '--' ]; do
        flag=${rest%%[[:space:]]*}
        case "$flag" in --from=*) from=${flag#--from=} ;; esac
        rest=$(trim "${rest#"$flag"}")
      done
      if [ "${rest:0:1}" = '[' ]; then
        mapfile -t words < <(json_words "$rest") || die "cannot parse JSON form: $line"
      else
        read -ra words <<<"$rest"
      fi
      [ ${#words[@]} -ge 2 ] || die "$keyword needs a source and a destination: $line"
      case "$rest" in *'$'*) die "cannot replay a $keyword with variables: $line" ;; esac
      copy_stage+=("$stage")
      copy_from+=("$from")
      copy_dest+=("${words[-1]}")
      copy_srcs+=("$(printf '%s\n' "${words[@]:0:${#words[@]}-1}")")
      ;;
    RUN)
      stage_runs[stage]+="$args"$'\n'
      ;;
    ENV)
      read -ra words <<<"$args"
      if [[ ${words[0]} == *=* ]]; then
        final_env+=("${words[@]}")
      else
        final_env+=("${words[0]}=${args#"${words[0]}"*[[:space:]]}")
      fi
      ;;
    ENTRYPOINT)
      [ "${args:0:1}" = '[' ] || die "ENTRYPOINT should use the exec (JSON) form so signals reach node: $line"
      mapfile -t entrypoint < <(json_words "$args") || die "cannot parse ENTRYPOINT: $line"
      ;;
    HEALTHCHECK)
      hc=$args
      while [ "${hc:0:2}" = '--' ]; do hc=$(trim "${hc#"${hc%%[[:space:]]*}"}"); done
      case "$hc" in
        CMD\ \[* | cmd\ \[*)
          mapfile -t healthcheck < <(json_words "$(trim "${hc:3}")") || die "cannot parse HEALTHCHECK: $line"
          ;;
        CMD\ * | cmd\ *) healthcheck=(/bin/sh -c "$(trim "${hc:3}")") ;;
        NONE | none) healthcheck=() ;;
        *) die "cannot parse HEALTHCHECK: $line" ;;
      esac
      ;;
  esac
done

[ "$stage" -ge 1 ] || die "the Dockerfile has $((stage + 1)) stage(s); expected a multi-stage build"
final=$stage
[ ${#entrypoint[@]} -gt 0 ] || die "the final stage has no ENTRYPOINT"
[ ${#healthcheck[@]} -gt 0 ] || die "the final stage has no HEALTHCHECK"
log "Dockerfile: $((final + 1)) stages, final stage '${stage_names[final]:-#$final}' (WORKDIR ${stage_workdirs[final]})"

stage_index() { # name or number -> index of an earlier stage, or nothing
  local want=$1 before=$2 i
  for ((i = 0; i < before; i++)); do
    if [ "${stage_names[$i]}" = "$want" ] || [ "$i" = "$want" ]; then
      echo "$i"
      return
    fi
  done
}

# ------------------------------------------------------------------------------------------------
# Step 1: every COPY source is in the build context.
# ------------------------------------------------------------------------------------------------
normalize() { # a COPY source or context path -> context-relative path
  local p=$1
  while [ "${p:0:1}" = '/' ]; do p=${p:1}; done
  while [ "${p:0:2}" = './' ]; do p=${p:2}; done
  while [ "${p: -1}" = '/' ] && [ ${#p} -gt 1 ]; do p=${p%/}; done
  printf '%s' "${p:-.}"
}

# Context files under a context-relative path, .dockerignore applied (one per line).
context_files() {
  local rel=$1 f base=$root
  [ "$rel" = . ] || base="$root/$rel"
  if [ -d "$base" ]; then
    while IFS= read -r -d '' f; do
      f=${f#"$root/"}
      is_ignored "$f" || printf '%s\n' "$f"
    done < <(find "$base" \( -type f -o -type l \) -print0 | sort -z)
  elif [ -e "$root/$rel" ] || [ -L "$root/$rel" ]; then
    is_ignored "$rel" || printf '%s\n' "$rel"
  fi
}

for k in "${!copy_stage[@]}"; do
  s=${copy_stage[$k]}
  where="stage '${stage_names[$s]:-#$s}'"
  if [ -n "${copy_from[$k]}" ]; then
    if [ -z "$(stage_index "${copy_from[$k]}" "$s")" ]; then
      case "${copy_from[$k]}" in
        *[:/]*) log "note: COPY --from=${copy_from[$k]} in $where pulls from an image; not checked" ;;
        *) die "COPY --from=${copy_from[$k]} in $where names no earlier stage" ;;
      esac
    fi
    continue
  fi
  while IFS= read -r src; do
    rel=$(normalize "$src")
    case "$rel" in ..* | */../* | */..) die "COPY $src in $where reaches outside the build context" ;; esac
    if [[ $rel == *[*?[]* ]]; then
      matches=$(cd "$root" && { compgen -G "$rel" || true; })
      [ -n "$matches" ] || die "COPY $src in $where matches no file in $root"
      continue
    fi
    [ -e "$root/$rel" ] || die "COPY $src in $where: $rel does not exist in $root"
    is_ignored "$rel" && die "COPY $src in $where: $rel is excluded by .dockerignore, so the build cannot see it"
    if [ -z "$(context_files "$rel")" ]; then
      die "COPY $src in $where: $rel holds no files once .dockerignore applies (and git keeps no empty directory, so a fresh clone lacks it)"
    fi
  done <<<"${copy_srcs[$k]}"
done
log "step 1 ok: every COPY source exists in the build context and survives .dockerignore"

# ------------------------------------------------------------------------------------------------
# Replaying COPY into a stage root (Docker semantics: a directory's contents go into the
# destination; a file goes to the destination, or into it when it ends in / or has siblings).
# ------------------------------------------------------------------------------------------------
resolve_dest() { # stage index, destination -> absolute path inside that stage's filesystem
  local s=$1 dest=$2 abs
  case "$dest" in
    /*) abs=$dest ;;
    *) abs="${stage_workdirs[$s]%/}/$dest" ;;
  esac
  [ "${dest: -1}" = '/' ] && abs="$abs/"
  printf '%s' "$abs"
}

place() { # source path on disk, context-relative or stage-relative name, stage rootfs, dest, multi
  local from_path=$1 rootfs=$2 dest=$3 multi=$4 target
  if [ -d "$from_path" ]; then
    mkdir -p "$rootfs$dest"
    cp -RP "$from_path/." "$rootfs$dest/"
  else
    if [ "${dest: -1}" = '/' ] || [ "$multi" = 1 ]; then
      target="$rootfs${dest%/}/$(basename "$from_path")"
    else
      target="$rootfs$dest"
    fi
    mkdir -p "$(dirname "$target")"
    cp -P "$from_path" "$target"
  fi
}

replay_context_copy() { # copy index, stage rootfs
  local k=$1 rootfs=$2 s dest srcs=() multi=0 src rel f inner
  s=${copy_stage[$k]}
  dest=$(resolve_dest "$s" "${copy_dest[$k]}")
  mapfile -t srcs <<<"${copy_srcs[$k]}"
  [ ${#srcs[@]} -gt 1 ] && multi=1
  for src in "${srcs[@]}"; do
    rel=$(normalize "$src")
    if [ -d "$root/$rel" ]; then
      mkdir -p "$rootfs${dest%/}"
      while IFS= read -r f; do
        [ -n "$f" ] || continue
        inner=$f
        [ "$rel" = . ] || inner=${f#"$rel"/}
        mkdir -p "$rootfs${dest%/}/$(dirname "$inner")"
        cp -P "$root/$f" "$rootfs${dest%/}/$inner"
      done < <(context_files "$rel")
    else
      for f in $(cd "$root" && compgen -G "$rel"); do
        is_ignored "$f" && continue
        place "$root/$f" "$rootfs" "$dest" "$multi"
      done
    fi
  done
}

# ------------------------------------------------------------------------------------------------
# Step 2: the dependency stage(s) the final stage copies from.
# ------------------------------------------------------------------------------------------------
replayed=" "
replay_dependency_stage() {
  local s=$1 rootfs="$tmp/stage-$1" k workdir runs
  case "$replayed" in *" $s "*) return ;; esac
  runs=${stage_runs[$s]}
  grep -Eq 'npm (ci|install|i)( |$)' <<<"$runs" || die "stage '${stage_names[$s]}' installs no dependencies; cannot replay it"
  grep -Eq 'npm (install|i)( |$)' <<<"$runs" && die "stage '${stage_names[$s]}' uses npm install; use npm ci so the lockfile is honoured"
  grep -Eq 'npm ci.*(--omit[= ]dev|--only[= ]prod)' <<<"$runs" ||
    die "stage '${stage_names[$s]}' runs npm ci without --omit=dev; the final image would carry devDependencies"
  mkdir -p "$rootfs"
  for k in "${!copy_stage[@]}"; do
    [ "${copy_stage[$k]}" = "$s" ] || continue
    [ -z "${copy_from[$k]}" ] || die "cannot replay COPY --from inside stage '${stage_names[$s]}'"
    replay_context_copy "$k" "$rootfs"
  done
  workdir="$rootfs${stage_workdirs[$s]}"
  mkdir -p "$workdir"
  if [ ! -f "$workdir/package.json" ] || [ ! -f "$workdir/package-lock.json" ]; then
    die "stage '${stage_names[$s]}' does not COPY package.json and package-lock.json into its WORKDIR before npm ci"
  fi
  log "stage '${stage_names[$s]}': npm ci --omit=dev --no-audit --no-fund (in $workdir)"
  if ! (cd "$workdir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error) >"$tmp/npm-ci.log" 2>&1; then
    cat "$tmp/npm-ci.log" >&2
    die "npm ci --omit=dev failed in stage '${stage_names[$s]}'"
  fi
  replayed+="$s "
}

# ------------------------------------------------------------------------------------------------
# Step 3: the final stage's filesystem.
# ------------------------------------------------------------------------------------------------
image="$tmp/image"
app="$image${stage_workdirs[final]}"
mkdir -p "$app"
for k in "${!copy_stage[@]}"; do
  [ "${copy_stage[$k]}" = "$final" ] || continue
  if [ -n "${copy_from[$k]}" ]; then
    s=$(stage_index "${copy_from[$k]}" "$final")
    [ -n "$s" ] || die "COPY --from=${copy_from[$k]} in the final stage cannot be replayed"
    replay_dependency_stage "$s"
    dest=$(resolve_dest "$final" "${copy_dest[$k]}")
    mapfile -t srcs <<<"${copy_srcs[$k]}"
    multi=0
    [ ${#srcs[@]} -gt 1 ] && multi=1
    for src in "${srcs[@]}"; do
      case "$src" in /*) path="$tmp/stage-$s$src" ;; *) path="$tmp/stage-$s${stage_workdirs[$s]%/}/$src" ;; esac
      [ -e "$path" ] || die "COPY --from=${copy_from[$k]} $src: not present in that stage after its npm ci"
      place "$path" "$image" "$dest" "$multi"
    done
  else
    replay_context_copy "$k" "$image"
  fi
done
log "step 2 ok: node_modules installed with production dependencies only"

[ -d "$app/node_modules" ] || die "the final stage has no node_modules in ${stage_workdirs[final]}"
for s in $replayed; do
  lock="$tmp/stage-$s${stage_workdirs[$s]%/}/package-lock.json"
  present=$(node -e '
    const fs = require("node:fs"), path = require("node:path");
    const [lock, app] = process.argv.slice(1);
    const pkgs = JSON.parse(fs.readFileSync(lock, "utf8")).packages ?? {};
    for (const [key, meta] of Object.entries(pkgs)) {
      if (key && meta.dev === true && fs.existsSync(path.join(app, key))) console.log(key);
    }' "$lock" "$app")
  [ -z "$present" ] || die "devDependencies reached the final image: $(tr '\n' ' ' <<<"$present")"
done
# COPY keeps the context's file modes and the files belong to root: the node user must read them.
unreadable=$(find "$image" -path "$app/node_modules" -prune -o \( -type f ! -perm -o=r -print \) -o \( -type d ! -perm -o=rx -print \) | head -5)
[ -z "$unreadable" ] || die "files the non-root user cannot read: $(tr '\n' ' ' <<<"$unreadable")"
log "step 3 ok: image filesystem assembled in $app ($(find "$app" -path "$app/node_modules" -prune -o -type f -print | wc -l | tr -d ' ') app files, readable by a non-root user)"

# ------------------------------------------------------------------------------------------------
# Step 4: run the image's entrypoint from there, with a clean environment (no NODE_OPTIONS, no
# NODE_PATH, no repository node_modules above it) and the final stage's ENV.
# ------------------------------------------------------------------------------------------------
for dir in "$tmp" "$(dirname "$tmp")"; do
  [ ! -d "$dir/node_modules" ] || die "$dir/node_modules would leak packages into the replayed image; set TMPDIR elsewhere"
done
mkdir -p "$tmp/home"
run_env=(env -i "PATH=$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin" "HOME=$tmp/home" "${final_env[@]}")
# One-shot commands must end on their own; a hang is a failure, not a stuck build.
limit=()
hc_limit=()
if command -v timeout >/dev/null 2>&1; then
  limit=(timeout -k 5 "${STEP_TIMEOUT:-120}")
  hc_limit=(timeout -k 2 10)
fi

run_entrypoint() {
  local out
  if ! out=$(cd "$app" && "${limit[@]}" "${run_env[@]}" "${entrypoint[@]}" "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    die "\`${entrypoint[*]} $*\` failed or ran past ${STEP_TIMEOUT:-120} s in the replayed image (production dependencies only)"
  fi
  printf '%s\n' "$out" | sed 's/^/    /'
}

# config check reads every secret the config names: make them as an operator would, check, and
# remove them again so the demo below still meets a first start (new keys, new store).
log "running: ${entrypoint[*]} secrets init, then config check config/demo.yaml"
run_entrypoint secrets init
run_entrypoint config check config/demo.yaml
rm -f "$app/var/session-keys.json" "$app/var/encryption-keys.json" "$app/var/admin-token"
log "running: ${entrypoint[*]} policy check policies/smartpush.yaml"
run_entrypoint policy check policies/smartpush.yaml

# tsx takes its JSX settings from tsconfig.json in the working directory: without it every page
# would fail with "React is not defined".
probe="$app/src/__image_probe__.tsx"
printf 'export const markup = <p>ok</p>;\n' >"$probe"
cat >"$app/__image_probe__.mjs" <<'EOF'
import { register } from 'tsx/esm/api';
register();
const { markup } = await import('./src/__image_probe__.tsx');
if (markup?.type !== 'p') {
  console.error('JSX compiled to', markup);
  process.exit(1);
}
EOF
if ! out=$(cd "$app" && "${limit[@]}" "${run_env[@]}" node __image_probe__.mjs 2>&1); then
  printf '%s\n' "$out" >&2
  die "tsx cannot compile the pages' JSX in the image (is tsconfig.json copied into the final stage?)"
fi
rm -f "$probe" "$app/__image_probe__.mjs"
log "step 4 ok: config check, policy check and JSX compile with production dependencies only"

# The sidecar + HEALTHCHECK + STOPSIGNAL, on free ports so it never collides with a running demo.
# `serve --config config/demo.yaml` needs the secrets the demo generates into var/, so the replay
# starts `demo` with GUARD_UPSTREAM set: no bundled app, only the sidecar that `serve` would run
# (startGuard and the same signal handling), after writing its secrets to var/.
free_port() { node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'; }
guard_port=$(free_port)
admin_port=$(free_port)
upstream_port=$(free_port)
serve_env=("GUARD_PORT=$guard_port" "GUARD_ADMIN_PORT=$admin_port" "GUARD_UPSTREAM=http://127.0.0.1:$upstream_port")
log "running: ${entrypoint[*]} demo (GUARD_UPSTREAM set, ports $guard_port/$admin_port), then the HEALTHCHECK"
(cd "$app" && exec "${run_env[@]}" "${serve_env[@]}" "${entrypoint[@]}" demo) >"$tmp/serve.log" 2>&1 &
server_pid=$!

healthy=0
for _ in $(seq 1 60); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$tmp/serve.log" >&2
    die "the sidecar exited before it became healthy"
  fi
  if (cd "$app" && "${hc_limit[@]}" "${run_env[@]}" "${serve_env[@]}" "${healthcheck[@]}") >/dev/null 2>&1; then
    healthy=1
    break
  fi
  sleep 0.5
done
if [ "$healthy" != 1 ]; then
  cat "$tmp/serve.log" >&2
  die "the HEALTHCHECK command did not pass within 30 s against the running sidecar"
fi

kill -TERM "$server_pid"
stopped=0
for _ in $(seq 1 60); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    stopped=1
    break
  fi
  sleep 0.25
done
if [ "$stopped" != 1 ]; then
  cat "$tmp/serve.log" >&2
  die "the sidecar did not exit within 15 s of SIGTERM"
fi
status=0
wait "$server_pid" || status=$?
server_pid=""
if [ "$status" != 0 ]; then
  cat "$tmp/serve.log" >&2
  die "the sidecar exited with status $status after SIGTERM (expected 0)"
fi
if (cd "$app" && "${hc_limit[@]}" "${run_env[@]}" "${serve_env[@]}" "${healthcheck[@]}") >/dev/null 2>&1; then
  die "the HEALTHCHECK command passes with nothing listening; it checks nothing"
fi
log "step 5 ok: the sidecar became healthy per the HEALTHCHECK, exited 0 on SIGTERM, and the check fails once it is gone"

log "all steps passed in $(($(date +%s) - started)) s"
