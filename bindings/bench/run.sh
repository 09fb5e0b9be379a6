#!/usr/bin/env bash
# Ruby and JVM listener benchmarks next to the C callback path, on the embedded endpoint, one run each, against
# a release build of the C library. Not part of the tests: figures go in issue notes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release -p sqs-mega-ffi --locked
lib="$target/release/libsqs_mega.so"
out="$target/bench-bindings"
mkdir -p "$out"
gcc -O2 -std=c11 -Iinclude bindings/bench/c_noop.c -o "$out/c_noop" -L"$target/release" -lsqs_mega -Wl,-rpath,"$target/release"
echo "== Ruby"
SQS_MEGA_LIB="$lib" ruby -Ibindings/ruby/lib bindings/bench/bench.rb "$out/c_noop"
echo
echo "== JVM"
(cd bindings/jvm && mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt)
java -Xmx512m -Dsqsmega.library="$lib" -cp "bindings/jvm/target/test-classes:bindings/jvm/target/classes:$(cat bindings/jvm/target/classpath.txt)" \
    io.sqsmega.Bench "$out/c_noop"
