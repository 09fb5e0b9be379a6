#!/usr/bin/env bash
# Runs every check and test of the project. This is the command the README gives, and what CI runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Each step's header; the time the previous one took (the whole run must stay well under 45 minutes on a cold
# 2-core machine).
step_name=""
step_start=$SECONDS
step() {
    if [[ -n "$step_name" ]]; then printf '    (%s: %ds)\n' "$step_name" $((SECONDS - step_start)); fi
    step_name="$*"
    step_start=$SECONDS
    if [[ $# -gt 0 ]]; then printf '\n==> %s\n' "$*"; fi
}

# The declared minimum Rust version (rust-version in Cargo.toml), checked with that exact toolchain when it is
# installed (as `1.95.0`, say), else with the active one if it is that version, else after installing it.
# Never skipped silently: MEGA_SKIP_MSRV=1 skips it, and says so.
check_msrv() {
    local msrv toolchain active
    msrv="$(sed -n 's/^rust-version = "\([0-9.]*\)"$/\1/p' Cargo.toml)"
    if [[ -z "$msrv" ]]; then
        echo "MSRV: no rust-version in Cargo.toml" >&2
        return 1
    fi
    toolchain="$msrv"
    if [[ "$msrv" =~ ^[0-9]+\.[0-9]+$ ]]; then toolchain="$msrv.0"; fi
    active="$(rustc --version | cut -d' ' -f2)"
    if rustc "+$toolchain" --version >/dev/null 2>&1; then
        echo "MSRV $msrv: checking with the installed toolchain $toolchain ($(rustc "+$toolchain" --version))"
        cargo "+$toolchain" check --workspace --all-targets --locked
    elif [[ "$active" == "$msrv" || "$active" == "$msrv".* ]]; then
        echo "MSRV $msrv: no toolchain $toolchain, but the active one is $active, that version: checking with it"
        cargo check --workspace --all-targets --locked
    elif [[ "${MEGA_SKIP_MSRV:-}" == 1 ]]; then
        echo "MSRV $msrv: NOT CHECKED (MEGA_SKIP_MSRV=1; the active toolchain is $active)"
    elif timeout 300 rustup toolchain install "$toolchain" --profile minimal; then
        echo "MSRV $msrv: checking with the toolchain $toolchain just installed ($(rustc "+$toolchain" --version))"
        cargo "+$toolchain" check --workspace --all-targets --locked
    else
        echo "MSRV $msrv: cannot check: no toolchain $toolchain, the active one is $active, and installing" \
            "$toolchain failed. Install it (rustup toolchain install $toolchain --profile minimal), raise" \
            "rust-version in Cargo.toml to a toolchain CI has, or set MEGA_SKIP_MSRV=1 to skip this check." >&2
        return 1
    fi
}

# A one-shot run keeps nothing for next time: incremental compilation state would only fill the disk.
if [[ "${CI:-}" == true ]]; then export CARGO_INCREMENTAL=0; fi
echo "disk free where the target directory goes: $(df -h "${CARGO_TARGET_DIR:-$root}" | awk 'NR==2 {print $4}')"

step "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "moto server (third-party SQS/SNS implementation for the fidelity tests)"
MEGA_MOTO_SERVER="$(bash scripts/setup-moto.sh)"
export MEGA_MOTO_SERVER

step "redis-server (Debian's package: the completion-store tests start their own on loopback ports)"
MEGA_REDIS_SERVER="$(bash scripts/setup-redis.sh)"
export MEGA_REDIS_SERVER

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "payload-only core: cargo clippy -p sqs-mega --no-default-features -D warnings (as the embedded endpoint builds it)"
cargo clippy -p sqs-mega --no-default-features --lib --locked -- -D warnings

step "MSRV: cargo check with the rust-version of Cargo.toml"
check_msrv

step "fuzz targets (fuzz/, outside the workspace): cargo clippy -D warnings on stable"
# A check, not a fuzzing build (cargo-fuzz, nightly): it proves the targets compile against the core of today.
# The workspace's target directory, so the dependencies they share are built once.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" \
    cargo clippy --manifest-path fuzz/Cargo.toml --locked -- -D warnings

step "cargo doc -D warnings (broken intra-doc links, bad HTML in doc comments)"
# The C ABI crate's library is named sqs_mega too (the C library's name): documented on its own, so that its
# pages do not collide with the core's.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --exclude sqs-mega-ffi --no-deps --locked
RUSTDOCFLAGS="-D warnings" cargo doc -p sqs-mega-ffi --no-deps --locked

step "payload-only core: unit tests without the aws feature"
cargo test -p sqs-mega --no-default-features --lib --locked

step "cargo test"
cargo test --workspace --locked

step "Python package (python/: pip install, mypy --strict, stubtest, pytest)"
bash scripts/test-python.sh

step "Node package (node/: napi build, tsc, node --test, npm pack into a fresh project)"
bash scripts/test-node.sh

step "Ruby gem (bindings/ruby: gem build, installed, minitest, the worker example)"
bash scripts/test-ruby.sh

step "JVM package (bindings/jvm: mvn verify, JNA over the C ABI)"
bash scripts/test-jvm.sh

step "C tests (tests/c: ASan + UBSan, valgrind, the C example)"
bash tests/c/run.sh

step "mega console in a browser (cli/ui/test: headless Debian chromium driven by playwright-core; screenshots in target/ui-screenshots/)"
bash scripts/test-ui.sh

step
echo "target directory: $(du -sh "${CARGO_TARGET_DIR:-$root/target}" 2>/dev/null | cut -f1)"
printf '\n==> all passed in %dm%02ds\n' $((SECONDS / 60)) $((SECONDS % 60))
