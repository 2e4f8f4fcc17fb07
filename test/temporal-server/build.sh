#!/usr/bin/env bash
# Builds a production-shaped Temporal once per version into ~/.cache/firebreak/temporal-server-<version>:
#   bin/temporal-server     go.temporal.io/server/cmd/server (frontend, history, matching, worker)
#   bin/temporal-sql-tool   go.temporal.io/server/cmd/tools/sql (creates and migrates the SQL schema)
#   schema/postgresql/v12   the versioned schema files of the same release
# The version is the one the pinned Temporal CLI (scripts/temporal-bin.ts) embeds as its dev server,
# so the bed's PostgreSQL-backed cluster and the SQLite dev server run the same server code; the
# build checks that against the CLI's go.mod. The server module has no replace directives, so
# `go install module@version` builds exactly the module graph of the release.
# Idempotent: a warm run only checks that the published directory is complete and prints it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD_NAME=temporal-server-build
# shellcheck source=../../scripts/go-cache.sh
source "$HERE/../../scripts/go-cache.sh"

SERVER_VERSION="${FIREBREAK_TEMPORAL_SERVER_VERSION:-v1.29.1}"
OUT="$CACHE_ROOT/temporal-server-$SERVER_VERSION"

if [[ -x "$OUT/bin/temporal-server" && -x "$OUT/bin/temporal-sql-tool" && -d "$OUT/schema/postgresql/v12/visibility" ]]; then
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi

cli_version="v$(sed -n "s/^export const TEMPORAL_CLI_VERSION = '\(.*\)';$/\1/p" "$HERE/../../scripts/temporal-bin.ts")"
cli_mod="$(module_field "github.com/temporalio/cli@$cli_version" GoMod)"
embedded="$(sed -n 's/^\tgo\.temporal\.io\/server \(v[^ ]*\).*$/\1/p' "$cli_mod")"
if [[ "$embedded" != "$SERVER_VERSION" && -z "${FIREBREAK_TEMPORAL_SERVER_VERSION:-}" ]]; then
  log "the Temporal CLI $cli_version embeds server $embedded, not $SERVER_VERSION: update SERVER_VERSION here"
  exit 1
fi

started=$(date +%s)
staging="$OUT.partial"
rm -rf "$staging"
mkdir -p "$staging/bin" "$staging/schema"
log "building temporal-server and temporal-sql-tool $SERVER_VERSION (the CLI $cli_version embeds $embedded) — a cold build takes minutes"
start_ticker "$started"
(cd /tmp && GOBIN="$staging/bin" go install -trimpath -ldflags "-s -w" \
  "go.temporal.io/server/cmd/server@$SERVER_VERSION" \
  "go.temporal.io/server/cmd/tools/sql@$SERVER_VERSION")
stop_ticker
mv "$staging/bin/server" "$staging/bin/temporal-server"
mv "$staging/bin/sql" "$staging/bin/temporal-sql-tool"

module_dir="$(module_field "go.temporal.io/server@$SERVER_VERSION" Dir)"
cp -R "$module_dir/schema/postgresql" "$staging/schema/"
# The module cache is read-only; the published copy should be removable like the rest of the cache.
chmod -R u+w "$staging/schema"

"$staging/bin/temporal-server" --version >&2
publish_dir "$staging" "$OUT"
log "done in $(($(date +%s) - started))s; $(du -sh "$OUT" | cut -f1) in $OUT"
echo "$OUT"
