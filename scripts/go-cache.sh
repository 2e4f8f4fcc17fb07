# Sourced by the test bed's Go build scripts (test/kube/build.sh, test/temporal-server/build.sh,
# test/otelcol/build.sh). One GOPATH, module cache and build cache under ~/.cache/firebreak for all
# of them, so a module downloaded or a package compiled for one build serves the others, and nothing
# lands in the repo or in the user's own GOPATH. The caller sets BUILD_NAME (used in log lines).
# shellcheck shell=bash

CACHE_ROOT="${FIREBREAK_CACHE_DIR:-$HOME/.cache/firebreak}"
export GOPATH="$CACHE_ROOT/go"
export GOMODCACHE="$CACHE_ROOT/go/pkg/mod"
export GOCACHE="$CACHE_ROOT/go/cache"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CGO_ENABLED=0
export GOFLAGS=""

log() { printf '[%s %s] %s\n' "${BUILD_NAME:-build}" "$(date -u +%H:%M:%S)" "$*" >&2; }

# `go mod download -json MODULE@VERSION` and print one field (Dir, GoMod, Time...) of its answer.
# Every stage reads its whole input (no `head`): an early exit would SIGPIPE the writer under pipefail.
module_field() {
  (cd /tmp && go mod download -json "$1") | sed -n 's/^\t"'"$2"'": "\(.*\)",\{0,1\}$/\1/p' | sed -n 1p
}

# go build is silent for minutes: say it is alive. Stopped by stop_ticker or when the script exits.
start_ticker() {
  local started=$1
  (while sleep 60; do log "still building ($(($(date +%s) - started))s)"; done) &
  TICKER_PID=$!
  trap 'stop_ticker' EXIT
}
stop_ticker() {
  [[ -z "${TICKER_PID:-}" ]] || kill "$TICKER_PID" 2>/dev/null || true
  TICKER_PID=""
}

# A warm run: when $1 (the built binary) is executable, logs it as cached, prints $2 (what the
# bed reads: the binary, or its directory; $1 by default) and ends the build script.
exit_if_cached() {
  local built=$1 printed=${2:-$1}
  [[ -x "$built" ]] || return 0
  log "cached: $built"
  echo "$printed"
  exit 0
}

# An empty staging directory for a build that publish_dir then moves to $1; prints its path.
fresh_staging() {
  rm -rf "$1.partial"
  mkdir -p "$1.partial"
  echo "$1.partial"
}

# Replaces directory $2 by the finished staging directory $1 in one rename, so a build killed
# half-way is never mistaken for a cached one (the caller's "is it built?" test looks at $2 only).
publish_dir() {
  local staging=$1 final=$2
  rm -rf "$final.old"
  [[ -e "$final" ]] && mv "$final" "$final.old"
  mv "$staging" "$final"
  rm -rf "$final.old"
}
