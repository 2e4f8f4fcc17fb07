#!/usr/bin/env bash
# Builds the test bed's OpenTelemetry Collector once per manifest into
# ~/.cache/firebreak/otelcol-<builder version>-<manifest hash>/otelcol-firebreak, with the
# collector builder of the same release as the components (test/otelcol/manifest.yaml). Editing the
# manifest gives a new directory, so a stale binary is never reused.
# Idempotent: a warm run only checks that the published binary is there and prints its path.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD_NAME=otelcol-build
# shellcheck source=../../scripts/go-cache.sh
source "$HERE/../../scripts/go-cache.sh"

BUILDER_VERSION="${FIREBREAK_OTELCOL_BUILDER_VERSION:-v0.161.0}"
MANIFEST="$HERE/manifest.yaml"
manifest_hash="$(sha256sum "$MANIFEST" | cut -c1-12)"
OUT="$CACHE_ROOT/otelcol-$BUILDER_VERSION-$manifest_hash"
BINARY="$OUT/otelcol-firebreak"

exit_if_cached "$BINARY"

started=$(date +%s)
builder_dir="$CACHE_ROOT/otelcol-builder-$BUILDER_VERSION"
if [[ ! -x "$builder_dir/builder" ]]; then
  log "installing the collector builder $BUILDER_VERSION"
  fresh_staging "$builder_dir" >/dev/null
  (cd /tmp && GOBIN="$builder_dir.partial" go install -trimpath "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION")
  publish_dir "$builder_dir.partial" "$builder_dir"
fi

staging="$(fresh_staging "$OUT")"
log "building the collector from $MANIFEST — a cold build takes minutes"
start_ticker "$started"
# The builder generates a Go module (main.go, components.go, go.mod) in output_path, resolves it
# with `go get`/`go mod tidy` through the module proxy, and compiles it.
(cd "$staging" && "$builder_dir/builder" --config "$MANIFEST" --ldflags "-s -w")
stop_ticker
"$staging/otelcol-firebreak" components >"$staging/components.txt"
publish_dir "$staging" "$OUT"
log "done in $(($(date +%s) - started))s; $(du -sh "$BINARY" | cut -f1) $BINARY"
echo "$BINARY"
