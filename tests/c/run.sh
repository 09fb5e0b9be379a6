#!/usr/bin/env bash
# Builds the C library (libsqs_mega) and runs the C tests of tests/c/ against it: every test under
# AddressSanitizer + UndefinedBehaviorSanitizer (leak detection on), then every test once more under valgrind
# (no leaks, no invalid accesses), and builds the example examples/c/worker.c as the README says. A test that
# hangs (a deadlock, a stop that is not heard) is killed by `timeout` and fails.
#
#   bash tests/c/run.sh            # all of it
#   MEGA_C_TESTS="test_decode" bash tests/c/run.sh    # some tests
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

target=${CARGO_TARGET_DIR:-$root/target}
cargo build -p sqs-mega-ffi --locked
lib=$target/debug
out=$target/c-tests
mkdir -p "$out"

cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -Iinclude -Itests/c)
libs=(-L"$lib" -lsqs_mega -Wl,-rpath,"$lib" -lpthread)
tests=(${MEGA_C_TESTS:-test_decode test_patterns test_misuse test_listener test_trace})

# Valgrind, pkg-config and g++: installed here if missing (CI machines may be new).
missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v g++ >/dev/null || missing+=(g++)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    sudo_=""
    if [ "$(id -u)" != 0 ]; then sudo_="sudo -n"; fi
    $sudo_ apt-get update -qq
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# test_trace runs its completion store on Redis when redis-server is installed (a private server on a free
# port, no persistence), else in memory.
redis_pid=""
if command -v redis-server >/dev/null; then
    redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$out/redis.out" 2>&1 &
    redis_pid=$!
    trap 'kill "$redis_pid" 2>/dev/null || true' EXIT
    export MEGA_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
    echo "== Redis for test_trace at $MEGA_TEST_REDIS_URL"
fi

status=0
# The header alone, as C99 and as C++ (it has extern "C" guards for C++ users).
printf '#include "sqs_mega.h"\nint main(void) { return mega_version()[0] == 0; }\n' >"$out/header_only.c"
gcc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only "$out/header_only.c"
g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only -x c++ "$out/header_only.c"
echo "== include/sqs_mega.h compiles as C99 and C++17"

for t in "${tests[@]}"; do
    gcc "${cflags[@]}" -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
        "tests/c/$t.c" -o "$out/$t.asan" "${libs[@]}"
    echo "== $t (ASan + UBSan)"
    if ! ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        timeout 300 "$out/$t.asan"; then
        echo "FAILED: $t under ASan + UBSan"
        status=1
    fi
done

for t in "${tests[@]}"; do
    gcc "${cflags[@]}" -O1 "tests/c/$t.c" -o "$out/$t" "${libs[@]}"
    echo "== $t (valgrind)"
    if ! timeout 600 valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --suppressions=tests/c/valgrind.supp "$out/$t"; then
        echo "FAILED: $t under valgrind"
        status=1
    fi
done

# The example, built as the README tells a C user to: installed with scripts/install-c.sh and pkg-config
# (with the test flags), then run in its demo mode.
rm -rf "$out/prefix"
bash scripts/install-c.sh --debug "$out/prefix"
pc_flags=$(PKG_CONFIG_PATH="$out/prefix/lib/pkgconfig" pkg-config --cflags --libs sqs_mega)
# shellcheck disable=SC2086
gcc -std=c11 -Wall -Wextra -Werror -pedantic examples/c/worker.c -o "$out/worker" $pc_flags \
    -Wl,-rpath,"$out/prefix/lib"
echo "== examples/c/worker.c --demo"
if ! timeout 60 "$out/worker" --demo >"$out/worker.out" 2>&1 || [ "$(grep -cE '^[0-9a-f-]{36} (event|data) ' "$out/worker.out")" != 3 ]; then
    cat "$out/worker.out"
    echo "FAILED: examples/c/worker.c --demo"
    status=1
else
    cat "$out/worker.out"
fi

# The demo again with a memory completion store and metrics from the environment; a bad store URL makes the
# worker exit 1 naming the variable and the problem.
echo "== examples/c/worker.c --demo with MEGA_COMPLETION_STORE=memory, MEGA_METRICS_ADDR=127.0.0.1:0"
if ! MEGA_COMPLETION_STORE=memory MEGA_METRICS_ADDR=127.0.0.1:0 timeout 60 "$out/worker" --demo >"$out/worker-store.out" 2>&1 \
    || [ "$(grep -cE '^[0-9a-f-]{36} (event|data) ' "$out/worker-store.out")" != 3 ]; then
    cat "$out/worker-store.out"
    echo "FAILED: examples/c/worker.c with MEGA_COMPLETION_STORE=memory"
    status=1
fi
echo "== examples/c/worker.c with a bad MEGA_COMPLETION_STORE exits 1"
bad_status=0
MEGA_COMPLETION_STORE='redis://user:hunter2@cache:6379/0?lease=soon' timeout 60 "$out/worker" --demo >"$out/worker-bad.out" 2>&1 || bad_status=$?
cat "$out/worker-bad.out"
if [ "$bad_status" != 1 ] || ! grep -q 'MEGA_COMPLETION_STORE failed: .*lease' "$out/worker-bad.out" || grep -q hunter2 "$out/worker-bad.out"; then
    echo "FAILED: a bad MEGA_COMPLETION_STORE (exit status $bad_status)"
    status=1
fi

# The worker on a real endpoint named by AWS_ENDPOINT_URL alone (as every AWS SDK reads it): `mega local` in
# another process, a queue made and filled through the C ABI's standard-chain settings, the worker prints one
# line per message (its id first), and exits 0 after SIGTERM.
echo "== examples/c/worker.c QUEUE_URL with AWS_ENDPOINT_URL, stopped by SIGTERM"
cargo build -p sqs-mega-cli --locked --quiet
gcc "${cflags[@]}" tests/c/seed_queue.c -o "$out/seed_queue" "${libs[@]}"
"$target/debug/mega" local --port 0 >"$out/local.out" 2>&1 &
local_pid=$!
endpoint=""
for _ in $(seq 1 100); do
    endpoint=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$out/local.out" | head -n 1 || true)
    [ -n "$endpoint" ] && break
    sleep 0.1
done
worker_ok=0
if [ -n "$endpoint" ]; then
    export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
    if timeout 60 "$out/seed_queue" c-worker >"$out/seed.out"; then
        queue=$(sed -n 1p "$out/seed.out"); id1=$(sed -n 2p "$out/seed.out"); id2=$(sed -n 3p "$out/seed.out")
        "$out/worker" "$queue" >"$out/worker-env.out" 2>&1 &
        worker_pid=$!
        for _ in $(seq 1 300); do
            [ "$(grep -c ' event \| data ' "$out/worker-env.out" 2>/dev/null || true)" -ge 2 ] && break
            sleep 0.1
        done
        kill -TERM "$worker_pid"
        # A worker that does not stop within 30 s is killed, and fails.
        ( sleep 30 && kill -KILL "$worker_pid" 2>/dev/null ) &
        watchdog=$!
        worker_status=0
        wait "$worker_pid" || worker_status=$?
        kill "$watchdog" 2>/dev/null || true
        echo "worker exit status: $worker_status"
        if [ "$worker_status" = 0 ] && grep -q "^stopped: 2 message(s) done" "$out/worker-env.out" && grep -q "^$id1 event user:login attempt 1\$" "$out/worker-env.out" \
            && grep -q "^$id2 data " "$out/worker-env.out"; then
            worker_ok=1
        fi
        cat "$out/worker-env.out"
    fi
    unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
fi
kill -TERM "$local_pid" 2>/dev/null || true
wait "$local_pid" 2>/dev/null || true
if [ "$worker_ok" != 1 ]; then
    cat "$out/local.out" "$out/seed.out" 2>/dev/null || true
    echo "FAILED: the worker with AWS_ENDPOINT_URL"
    status=1
fi

exit $status
