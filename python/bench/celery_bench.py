"""(e) of bench_listener.py: a Celery worker with its SQS broker (kombu) draining no-op tasks from the same
embedded endpoint. The worker runs as its own process (`celery worker`, threads pool); the drain is timed
from the first task taken to the empty queue, so Celery's start-up is not counted against it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from typing import Any

from celery import Celery

CONCURRENCY = 20


def make_app(port: str, queue_url: str) -> Celery:
    app = Celery("celery_bench", broker=f"sqs://local:local@127.0.0.1:{port}")
    app.conf.broker_transport_options = {
        "region": "us-east-1",
        "is_secure": False,
        "wait_time_seconds": 1,
        "predefined_queues": {
            "celery": {"url": queue_url, "access_key_id": "local", "secret_access_key": "local"}
        },
    }
    app.conf.task_default_queue = "celery"
    app.conf.worker_prefetch_multiplier = 10
    app.conf.worker_hijack_root_logger = False

    @app.task(name="noop")
    def noop(n: int) -> None:
        return None

    return app


if "MEGA_CELERY_QUEUE_URL" in os.environ:  # imported by the worker process
    app = make_app(os.environ["MEGA_CELERY_PORT"], os.environ["MEGA_CELERY_QUEUE_URL"])


def run(ep: Any, count: int) -> tuple[float, float]:
    port = ep.url.rsplit(":", 1)[1]
    queue_url = ep.create_queue(f"celery-{uuid.uuid4().hex[:8]}")
    client = make_app(port, queue_url)
    for n in range(count):
        client.send_task("noop", args=(n,))
    assert ep.queue_counts(queue_url) == (count, 0)
    env = dict(os.environ, MEGA_CELERY_PORT=port, MEGA_CELERY_QUEUE_URL=queue_url,
               PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_bench", "worker", "--pool=threads",
         f"--concurrency={CONCURRENCY}", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while ep.queue_counts(queue_url)[0] == count:
            assert time.monotonic() < deadline and worker.poll() is None, "the Celery worker took nothing"
            time.sleep(0.005)
        t0 = time.perf_counter()
        while ep.queue_counts(queue_url) != (0, 0):
            assert time.monotonic() < deadline and worker.poll() is None, "the Celery worker did not drain"
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return count / seconds, float("nan")
