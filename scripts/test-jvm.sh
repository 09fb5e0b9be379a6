#!/usr/bin/env bash
# The JVM package (bindings/jvm): builds the C library (debug, the shared target directory) and runs
# `mvn verify` (Java 17, JNA, JUnit 5 from Maven Central) against it: the vectors, every outcome, an
# SNS-enveloped BSON event, poison to the DLQ, SIGTERM to the worker example, 100,000 messages.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build -p sqs-mega-ffi --locked
cd bindings/jvm
mvn -q -B verify -Dsqsmega.library="$target/debug/libsqs_mega.so" -Dsurefire.printSummary=true
echo "== bindings/jvm: mvn verify passed"
