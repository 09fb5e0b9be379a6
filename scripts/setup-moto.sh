#!/usr/bin/env bash
# Installs the third-party moto server (used by the fidelity/differential tests) into .venv.
# Idempotent: does nothing when it is already installed. Prints the path of moto_server.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/moto_server" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6' >&2
fi
echo "$venv/bin/moto_server"
