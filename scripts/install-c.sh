#!/usr/bin/env bash
# Builds the C library of sqs-mega and installs it under a prefix:
#   PREFIX/lib/libsqs_mega.so, PREFIX/lib/libsqs_mega.a, PREFIX/include/sqs_mega.h,
#   PREFIX/lib/pkgconfig/sqs_mega.pc
#
#   bash scripts/install-c.sh [--debug] PREFIX        (e.g. ~/.local or /usr/local)
#
# Then: cc app.c $(PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs sqs_mega)
# (and -Wl,-rpath,PREFIX/lib, or PREFIX/lib in the loader's path, when PREFIX is not a system directory).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile=release
if [ "${1:-}" = "--debug" ]; then
    profile=debug
    shift
fi
if [ $# -ne 1 ]; then
    echo "usage: $0 [--debug] PREFIX" >&2
    exit 2
fi
mkdir -p "$1"
prefix="$(cd "$1" && pwd)"
cd "$root"
if [ "$profile" = release ]; then
    cargo build --release -p sqs-mega-ffi --locked
else
    cargo build -p sqs-mega-ffi --locked
fi
target="${CARGO_TARGET_DIR:-$root/target}/$profile"
version="$(sed -n 's/^#define MEGA_VERSION_STRING "\(.*\)"$/\1/p' include/sqs_mega.h)"
install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$target/libsqs_mega.so" "$prefix/lib/"
install -m 0644 "$target/libsqs_mega.a" "$prefix/lib/"
install -m 0644 include/sqs_mega.h "$prefix/include/"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" ffi/sqs_mega.pc.in >"$prefix/lib/pkgconfig/sqs_mega.pc"
echo "installed sqs_mega $version ($profile) under $prefix"
