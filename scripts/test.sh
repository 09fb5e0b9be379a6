#!/usr/bin/env bash
# Runs every check and test of the project. This is the command the README gives, and what CI runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "moto server (third-party SQS/SNS implementation for the fidelity tests)"
MEGA_MOTO_SERVER="$(bash scripts/setup-moto.sh)"
export MEGA_MOTO_SERVER

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "C tests (tests/c: ASan + UBSan, valgrind, the C example)"
bash tests/c/run.sh
