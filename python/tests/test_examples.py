"""The README's Python promises: the worker example and ``python -m mega demo``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from mega.aws.sqs.publish import SqsPublisher
from mega.event import PayloadBuilder

from conftest import ROOT

WORKER = os.path.join(ROOT, "examples", "python", "worker.py")


@pytest.mark.parametrize(
    "sig,store",
    [(signal.SIGTERM, None), (signal.SIGINT, None), (signal.SIGTERM, "memory")],
    ids=["SIGTERM", "SIGINT", "SIGTERM-memory-store"],
)
def test_worker_example(endpoint: Any, queue: str, sig: int, store: str | None) -> None:
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint.url, AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    if store is not None:
        env.update(MEGA_COMPLETION_STORE=store, MEGA_METRICS_ADDR="127.0.0.1:0")
    p = subprocess.Popen([sys.executable, WORKER, queue], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        assert p.stdout.readline().startswith("listening on ")
        pub = SqsPublisher(queue, endpoint_url=endpoint.url)
        event_id = pub.publish(PayloadBuilder().with_event(name="user.created", subject="1").build()).message_id
        data_id = pub.publish({"b": 2, "a": 1}, binary_encoding=True).message_id
        lines = {p.stdout.readline().strip() for _ in range(2)}
        assert lines == {f"{event_id} event user.created attempt 1", f"{data_id} data {json.dumps({'a': 1, 'b': 2})}"}
        p.send_signal(sig)
        out, _ = p.communicate(timeout=20)
        assert p.returncode == 0
        assert "stopped: 2 message(s) done" in out
    finally:
        p.kill()


def test_worker_example_refuses_a_bad_store(endpoint: Any, queue: str) -> None:
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint.url, AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               MEGA_COMPLETION_STORE="redis://user:hunter2@cache:6379/0?lease=soon")
    out = subprocess.run([sys.executable, WORKER, queue], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "completion store redis://user:***@cache" in out.stderr and "lease" in out.stderr
    assert "hunter2" not in out.stderr + out.stdout


def test_python_m_mega_demo() -> None:
    out = subprocess.run([sys.executable, "-m", "mega", "demo"], capture_output=True, text=True, timeout=90,
                         cwd="/")
    assert out.returncode == 0, out.stderr
    assert "All checks passed" in out.stdout
    assert "ShoppingCartCheckout     3 handled" in out.stdout


def test_readme_quickstart_is_the_example_and_runs() -> None:
    quickstart = os.path.join(ROOT, "examples", "python", "quickstart.py")
    with open(quickstart) as f, open(os.path.join(ROOT, "README.md")) as r:
        assert "```python\n" + f.read() + "```" in r.read(), "README's Python section shows quickstart.py"
    out = subprocess.run([sys.executable, quickstart], capture_output=True, text=True, timeout=60, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "big order 7\n"
