#!/usr/bin/env bash
# Installs Debian's redis-server (the real server the completion-store tests start on loopback ports) when it
# is missing. Idempotent. Prints the path of redis-server.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
    sudo_=""
    if [ "$(id -u)" != 0 ]; then sudo_="sudo -n"; fi
    $sudo_ apt-get update -qq >&2
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    # The package starts a system-wide server on 6379; the tests start their own on free ports.
    ($sudo_ systemctl disable --now redis-server || $sudo_ service redis-server stop || true) >/dev/null 2>&1
fi
command -v redis-server
