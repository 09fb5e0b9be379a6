#!/usr/bin/env bash
# Runs the JVM worker example: bash examples/jvm/run.sh QUEUE_URL (builds bindings/jvm if needed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root/bindings/jvm"
[ -f target/classpath.txt ] || mvn -q -B -DskipTests package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
cp="target/classes:$(cat target/classpath.txt)"
exec java -Dsqsmega.library="${SQS_MEGA_LIB:-$root/target/debug/libsqs_mega.so}" -cp "$cp" "$root/examples/jvm/Worker.java" "$@"
