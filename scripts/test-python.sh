#!/usr/bin/env bash
# The Python package (python/): installs it with pip (a debug build in the shared target directory), checks
# its types (mypy --strict, mypy.stubtest against the built module) and runs its tests (pytest, per-test
# timeouts) on the embedded endpoint and moto. Installs what it needs into .venv (the moto venv).
#
#   bash scripts/test-python.sh                 # all of it
#   bash scripts/test-python.sh -k listener     # pytest arguments
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

MEGA_MOTO_SERVER="${MEGA_MOTO_SERVER:-$(bash scripts/setup-moto.sh)}"
export MEGA_MOTO_SERVER
venv="$root/.venv"
py="$venv/bin/python"
export PATH="$venv/bin:$PATH"  # the maturin build backend runs `maturin` from PATH
if ! "$py" -c 'import maturin, pytest, pytest_timeout, mypy, boto3' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.9,<2' 'pytest>=8' \
        'pytest-timeout>=2' 'mypy>=1.10' boto3
fi

# `pip install ./python` as a user would, but a debug build (the tests do not need an optimised one, and
# the dependencies are already built in the shared target directory).
echo "== pip install ./python (debug build)"
MATURIN_PEP517_ARGS="--profile dev" "$venv/bin/pip" install --quiet --disable-pip-version-check \
    --no-build-isolation --force-reinstall --no-deps ./python

echo "== mypy --strict (the package) and mypy (tests, examples)"
(cd python && "$py" -m mypy --strict mega)
"$py" -m mypy --ignore-missing-imports --check-untyped-defs python/tests examples/python

echo "== mypy.stubtest mega (the stubs of mega._native against the built module)"
(cd / && "$py" -m mypy.stubtest mega)

echo "== pytest"
# From python/tests' parent, with the installed package (not the source folder) on the path.
cd python
exec "$venv/bin/pytest" -q -p no:cacheprovider "$@"
