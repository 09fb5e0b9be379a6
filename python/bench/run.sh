#!/usr/bin/env bash
# Builds the release wheel of the Python package into .venv-bench (with boto3, and Celery with its SQS
# broker for the comparison) and runs python/bench/bench_listener.py. Not part of the tests: figures go in
# issue notes, measured in one run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
venv="$root/.venv-bench"
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.9,<2' boto3
if ! "$venv/bin/python" -c 'import kombu.transport.SQS, pycurl' 2>/dev/null; then
    # kombu's SQS transport needs pycurl, built against libcurl's headers.
    if ! dpkg -s libcurl4-openssl-dev >/dev/null 2>&1; then
        sudo_=""; if [ "$(id -u)" != 0 ]; then sudo_="sudo -n"; fi
        $sudo_ apt-get update -qq && $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            libcurl4-openssl-dev libssl-dev >/dev/null || echo "no libcurl headers: Celery is left out"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'celery[sqs]>=5.3' || echo "Celery is left out"
fi
PATH="$venv/bin:$PATH" "$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation \
    --force-reinstall --no-deps ./python
cd /
exec "$venv/bin/python" "$root/python/bench/bench_listener.py"
