#!/usr/bin/env bash
# Installs the Debian packages the test bed runs for real (Alertmanager + amtool, Prometheus).
# Idempotent: does nothing when they are already there. Everything else the bed needs is built
# from Go modules into ~/.cache/firebreak by its own scripts.
set -euo pipefail

missing=()
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
command -v prometheus >/dev/null || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0

packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
echo "[provision] installing Debian packages: ${packages}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "[provision] need root to apt-get install ${packages}; install them and re-run" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
# --no-install-recommends keeps it small; the packages' services are not started by the bed's use.
$sudo apt-get install -y -qq --no-install-recommends ${packages} >&2
