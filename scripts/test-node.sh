#!/usr/bin/env bash
# The Node package (node/): npm install, a debug build of the addon (napi build, the shared target
# directory), tsc on the shipped types, node --test (per-test timeouts) on the embedded endpoint; then the
# packed tarball installed into a fresh project (examples/node copied to a temporary folder) with no Rust:
# the README's quickstart, the TypeScript example under tsc --noEmit, and the worker example.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/node"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
npm_flags=(--no-audit --no-fund --loglevel=error)

echo "== npm install (node/)"
npm install "${npm_flags[@]}"
echo "== napi build (debug)"
npm run --silent build:debug
echo "== tsc: the shipped types"
npx tsc -p tsconfig.json
echo "== node --test"
npm test --silent

echo "== npm pack, installed into a fresh project"
rm -f sqs-mega-*.tgz
tarball="$root/node/$(npm pack --silent | tail -1)"
project="$(mktemp -d)"
trap 'rm -rf "$project"' EXIT
cp "$root"/examples/node/{package.json,quickstart.mjs,worker.mjs,typed.ts,tsconfig.json} "$project/"
(cd "$project" && npm install "${npm_flags[@]}" "$tarball" typescript@5 @types/node@20)
echo "== the quickstart, from the installed tarball"
out="$(cd "$project" && timeout 60 node quickstart.mjs)"
[ "$out" = "big order 7" ] || { echo "quickstart printed: $out" >&2; exit 1; }
echo "== tsc --noEmit: the TypeScript example against the shipped types"
(cd "$project" && npx tsc -p tsconfig.json)
echo "== the worker example, from the installed tarball"
timeout 120 node test/worker.check.mjs "$project/worker.mjs"
