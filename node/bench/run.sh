#!/usr/bin/env bash
# Builds the addon in release mode and runs node/bench/bench.mjs (sqs-consumer installed beside it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root/node"
npm install --no-audit --no-fund --loglevel=error
npm run --silent build
(cd bench && npm install --no-audit --no-fund --loglevel=error)
exec node bench/bench.mjs
