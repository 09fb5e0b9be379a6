#!/usr/bin/env bash
# The Ruby gem (bindings/ruby): installs Ruby, ruby-ffi and minitest from Debian's packages when missing,
# builds the C library (debug, the shared target directory), builds the gem with the library inside, installs
# it into a temporary GEM_HOME, and runs the minitest suite and the worker example against the installed gem.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

if ! ruby -e 'require "ffi"; require "minitest"' 2>/dev/null; then
    echo "installing ruby, ruby-ffi, ruby-minitest"
    sudo_=""
    if [ "$(id -u)" != 0 ]; then sudo_="sudo -n"; fi
    $sudo_ apt-get update -qq
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ruby ruby-ffi ruby-minitest >/dev/null
fi

cargo build -p sqs-mega-ffi --locked
cd bindings/ruby
mkdir -p lib/sqs_mega/native
cp "$target/debug/libsqs_mega.so" lib/sqs_mega/native/
echo "== gem build"
rm -f sqs_mega-*.gem
gem build --silent sqs_mega.gemspec
gem_home="$(mktemp -d)"
trap 'rm -rf "$gem_home"' EXIT
GEM_HOME="$gem_home" gem install --local --ignore-dependencies --no-document sqs_mega-*.gem >/dev/null
echo "== minitest, against the installed gem (which finds libsqs_mega next to itself)"
export GEM_HOME="$gem_home" GEM_PATH="$gem_home:$(ruby -e 'print Gem.default_path.join(":")')"
unset SQS_MEGA_LIB
ruby -e 'require "sqs_mega"; abort "loaded #{SqsMega::Native::LOADED_FROM}" unless SqsMega::Native::LOADED_FROM.start_with?(ENV["GEM_HOME"])'
status=0
for t in test/test_*.rb; do
    echo "-- $t"
    ruby -Itest "$t" || status=1
done
exit $status
