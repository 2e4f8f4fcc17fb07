#!/usr/bin/env bash
# Installs the Debian packages of the test-bed components named on the command line (test/run.ts
# passes those of the components it starts); with no argument, those of the default bed.
# Idempotent: does nothing when they are already there. Everything else the bed needs is built
# from Go modules into ~/.cache/firebreak by its own scripts.
#
#   prometheus     prometheus
#   alertmanager   prometheus-alertmanager (with amtool)
#   smtp           exim4-daemon-light (Exim, the bed's SMTP server) and openssl (its certificate)
#   postgresql     postgresql (the server under the bed's production-shaped Temporal)
set -euo pipefail

[ $# -eq 0 ] && set -- prometheus alertmanager smtp

missing=()
for component in "$@"; do
  case "$component" in
    prometheus) command -v prometheus >/dev/null || missing+=(prometheus) ;;
    alertmanager)
      command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
      command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
      ;;
    smtp)
      [ -x /usr/sbin/exim4 ] || missing+=(exim4-daemon-light)
      command -v openssl >/dev/null || missing+=(openssl)
      ;;
    postgresql)
      compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
      ;;
    *)
      echo "[provision] unknown component '$component' (prometheus, alertmanager, smtp, postgresql)" >&2
      exit 2
      ;;
  esac
done
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
# --no-install-recommends keeps it small; the bed runs private instances, never the packages'
# system services. --no-remove: Exim is a mail-transport-agent and would replace another one (a
# developer's Postfix, say); refuse instead, so the bed never removes what a machine relies on.
$sudo apt-get install -y -qq --no-install-recommends --no-remove ${packages} >&2
