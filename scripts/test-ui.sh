#!/usr/bin/env bash
# The mega console in a real browser (cli/ui/test): builds `mega`, installs Debian's chromium when it is
# missing and playwright-core (never a Playwright browser download), then node --test drives headless
# chromium against `mega local --ui` on free ports. Screenshots go to target/ui-screenshots/ (git-ignored).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

echo "== cargo build -p sqs-mega-cli (the mega binary)"
cargo build -p sqs-mega-cli --locked

chromium_bin="${CHROMIUM:-}"
if [[ -z "$chromium_bin" ]]; then
    chromium_bin="$(command -v chromium || command -v chromium-browser || true)"
fi
if [[ -z "$chromium_bin" ]]; then
    echo "== apt-get install chromium (Debian's headless-capable browser)"
    sudo=""
    if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y --no-install-recommends chromium \
        || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends chromium; }
    chromium_bin="$(command -v chromium)"
fi
echo "chromium: $chromium_bin ($("$chromium_bin" --version 2>/dev/null | tail -1))"

echo "== npm ci (cli/ui/test: playwright-core only)"
cd "$root/cli/ui/test"
npm ci --no-audit --no-fund --loglevel=error

echo "== node --test: the console in headless chromium"
export MEGA_BIN="${MEGA_BIN:-$CARGO_TARGET_DIR/debug/mega}"
export CHROMIUM="$chromium_bin"
export MEGA_UI_SCREENSHOTS="${MEGA_UI_SCREENSHOTS:-$root/target/ui-screenshots}"
rm -rf "$MEGA_UI_SCREENSHOTS"
timeout 300 node --test --test-timeout=240000 console.test.mjs
echo "screenshots (test artefacts):"
ls -1 "$MEGA_UI_SCREENSHOTS"/*.png | sed 's/^/  /'
