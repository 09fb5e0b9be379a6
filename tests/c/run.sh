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
tests=(${MEGA_C_TESTS:-test_decode test_patterns test_misuse test_listener})

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
if ! timeout 60 "$out/worker" --demo >"$out/worker.out" 2>&1 || [ "$(grep -c '^event \|^data ' "$out/worker.out")" != 3 ]; then
    cat "$out/worker.out"
    echo "FAILED: examples/c/worker.c --demo"
    status=1
else
    cat "$out/worker.out"
fi

exit $status
