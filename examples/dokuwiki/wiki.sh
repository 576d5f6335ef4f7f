#!/bin/sh
# A stock Debian DokuWiki (apt-get install --no-install-recommends dokuwiki php8.2-cgi), served by
# PHP's built-in server, with its configuration and pages in DIR (default var/dokuwiki) instead of
# /etc/dokuwiki and /var/lib/dokuwiki: nothing of the package is changed.
#
#   examples/dokuwiki/wiki.sh [DIR] [HOST:PORT]      (default var/dokuwiki 127.0.0.1:8082)
#
# Accounts (DokuWiki's plain-text user file), password WIKI_PASSWORD (default dokuwiki-demo):
# admin@wiki.example (group admin) and editor@wiki.example. DokuWiki folds a login name to its
# page-name characters, so it stores them as admin_wiki.example and editor_wiki.example and signs
# people in with their email address. Created once; delete DIR to start again.
set -eu
DIR=${1:-var/dokuwiki}
LISTEN=${2:-127.0.0.1:8082}
PASSWORD=${WIKI_PASSWORD:-dokuwiki-demo}
DOKU=/usr/share/dokuwiki
if [ ! -f "$DOKU/doku.php" ]; then
  echo "DokuWiki is not installed: sudo apt-get install --no-install-recommends dokuwiki php8.2-cgi" >&2
  exit 1
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ ! -f "$DIR/conf/local.php" ]; then
  mkdir -p "$DIR/conf"
  # The wiki's page store: the package's empty skeleton (pages, meta, cache…).
  cp -R /var/lib/dokuwiki/data "$DIR/data"
  hash=$(php -r 'echo password_hash($argv[1], PASSWORD_BCRYPT);' "$PASSWORD")
  cat > "$DIR/conf/local.php" <<PHP
<?php
\$conf['title'] = 'DokuWiki behind smartpush-guard';
\$conf['savedir'] = '$DIR/data';
\$conf['useacl'] = 1;
\$conf['authtype'] = 'authplain';
\$conf['superuser'] = '@admin';
\$conf['securecookie'] = 0;
\$conf['userewrite'] = 0;
PHP
  cat > "$DIR/conf/users.auth.php" <<USERS
# login:passwordhash:Real Name:email:groups
admin_wiki.example:$hash:Wiki Admin:admin@wiki.example:admin,user
editor_wiki.example:$hash:Wiki Editor:editor@wiki.example:user
USERS
  cat > "$DIR/conf/acl.auth.php" <<'ACL'
# Anyone may read; signed-in users may edit and upload.
*               @ALL        1
*               @user       8
ACL
  printf '<?php\n' > "$DIR/conf/plugins.local.php"
fi
# DOKU_CONF is defined before Debian's preload.php runs, so the wiki reads DIR/conf (and, through
# its savedir, DIR/data); the package's own files under /etc/dokuwiki stay the defaults.
cat > "$DIR/prepend.php" <<PHP
<?php
if (!defined('DOKU_CONF')) define('DOKU_CONF', '$DIR/conf/');
PHP
exec php -S "$LISTEN" -t "$DOKU" -d auto_prepend_file="$DIR/prepend.php" -d display_errors=stderr
