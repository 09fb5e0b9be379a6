"""A run of 100,000 messages: all handled once, memory bounded (no per-message leak in the binding)."""

from __future__ import annotations

import threading
from typing import Any, Callable

import pytest

from mega.aws.sqs.publish import SqsPublisher
from mega.aws.sqs.subscribe import DataSubscriber, SqsListener

TOTAL = 100_000


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.timeout(600)
def test_100k_messages_with_bounded_rss(endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    pub = SqsPublisher(queue, endpoint_url=endpoint.url)
    chunk = [{"type": "order", "n": 0, "lines": [{"sku": "A-1", "qty": 2}]}] * 1000
    for i in range(0, TOTAL, 1000):
        results = pub.publish_batch([dict(c, n=i + j) for j, c in enumerate(chunk)])
        assert all(not isinstance(r, Exception) for r in results)
    seen = bytearray(TOTAL)
    count = [0]
    marks: dict[str, float] = {}
    lock = threading.Lock()

    class Orders(DataSubscriber):
        pattern = {"type": "order"}

        def process(self, payload: dict[str, Any]) -> None:
            with lock:
                seen[payload["n"]] += 1
                count[0] += 1
                if count[0] == 20_000:
                    marks["warm"] = rss_mib()
                if count[0] == TOTAL:
                    marks["end"] = rss_mib()
                    listener.stop()

    listener = listener_factory(queue, pollers=2)
    listener.register_subscriber(Orders)
    stats = listener.listen()
    assert stats["done"] == TOTAL and stats["deleted"] == TOTAL
    assert seen == bytearray([1]) * TOTAL, "every message handled exactly once"
    growth = marks["end"] - marks["warm"]
    assert growth < 40, f"RSS grew {growth:.1f} MiB over the last 80,000 messages ({marks})"
