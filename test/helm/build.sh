#!/usr/bin/env bash
# Builds helm once per version into ~/.cache/firebreak/helm-<version>/helm, from its Go module
# (`go install helm.sh/helm/v4/cmd/helm@<version>`), for the chart tests (test/helm-chart.test.ts):
# `helm lint` and `helm template` of deploy/helm/firebreak. Helm 4 reads the same Chart.yaml
# apiVersion v2 charts as Helm 3, so the chart serves users of either.
# Idempotent: a warm run only checks that the published binary is there and prints its directory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD_NAME=helm-build
# shellcheck source=../../scripts/go-cache.sh
source "$HERE/../../scripts/go-cache.sh"

HELM_VERSION="${FIREBREAK_HELM_VERSION:-v4.3.2}"
OUT="$CACHE_ROOT/helm-$HELM_VERSION"

exit_if_cached "$OUT/helm" "$OUT"

started=$(date +%s)
staging="$(fresh_staging "$OUT")"
log "building helm $HELM_VERSION — a cold build takes minutes"
start_ticker "$started"
(cd /tmp && GOBIN="$staging" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")
stop_ticker
"$staging/helm" version --short >&2
publish_dir "$staging" "$OUT"
log "done in $(($(date +%s) - started))s"
echo "$OUT"
