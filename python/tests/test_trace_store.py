"""Completion stores given by URL (memory, and Redis when redis-server is installed), the metrics endpoint,
and trace context: ``message.trace``, ``mega.trace.current()`` in ``def`` and ``async def`` handlers, and
publishes from handlers that continue the trace."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import urllib.request
from typing import Any, Callable, Iterator

import pytest

import mega
import mega.trace
from mega.aws.sqs.publish import BatchEntry, SqsPublisher
from mega.aws.sqs.subscribe import DataSubscriber, Message, ProcessStatus, SqsListener

from conftest import run_until

KNOWN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
KNOWN_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
KNOWN_SPAN = "00f067aa0ba902b7"


def publisher(endpoint: Any, queue: str) -> SqsPublisher:
    return SqsPublisher(queue, endpoint_url=endpoint.url, region_name="us-east-1")


def traceparent_of(sqs: Any, queue: str, timeout: float = 10.0) -> list[tuple[str, str]]:
    """(body, traceparent attribute) of every message that arrives on a queue within the timeout."""
    out: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"], WaitTimeSeconds=1, MaxNumberOfMessages=10)
        for m in r.get("Messages", []):
            out.append((m["Body"], m.get("MessageAttributes", {}).get("traceparent", {}).get("StringValue", "")))
        if out:
            return out
    return out


# -- configuration ------------------------------------------------------------------------------------------


def test_store_urls_and_metrics_addresses_are_checked_where_given(
    queue: str, listener_factory: Callable[..., SqsListener]
) -> None:
    for good in ("memory", "memory://?capacity=10&lease=2s&ttl=1h", "redis://127.0.0.1:6379/0", "dynamodb://completions"):
        listener_factory(queue, completion_store=good)
    with pytest.raises(mega.ListenerError) as e:
        listener_factory(queue, completion_store="redis://user:hunter2@cache:6379/0?lease=soon")
    assert "redis://user:***@cache" in str(e.value) and "lease" in str(e.value) and "hunter2" not in str(e.value)
    with pytest.raises(mega.ListenerError, match="mongo"):
        listener_factory(queue, completion_store="mongo://x")
    with pytest.raises(mega.InvalidArgumentError, match="completion_store"):
        listener_factory(queue, completion_store=42)
    listener_factory(queue, metrics_addr=0)
    listener_factory(queue, metrics_addr="127.0.0.1:9464")
    with pytest.raises(mega.ListenerError, match="everywhere"):
        listener_factory(queue, metrics_addr="everywhere")
    assert listener_factory(queue, metrics_addr=0).metrics_address is None  # not running
    listener_factory(queue, completion_store="memory", idempotency_key="data.order_id")
    with pytest.raises(mega.ListenerError, match="data..order_id"):
        listener_factory(queue, idempotency_key="data..order_id")


def test_publish_traceparent_is_checked() -> None:
    p = SqsPublisher("http://127.0.0.1:1/000000000000/q", region_name="us-east-1")
    with pytest.raises(mega.InvalidArgumentError, match="traceparent"):
        p.publish({"n": 1}, traceparent="00-xyz-01")


# -- stores ---------------------------------------------------------------------------------------------------


def run_once_with_store(endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener], store: str) -> None:
    """Two subscribers, one asks for a retry: on the redelivery, the store skips the one that finished."""
    once: list[str] = []
    flaky: list[int] = []

    class Once(DataSubscriber):
        def process(self, payload: dict[str, Any], message: Message) -> None:
            once.append(message.message_id)

    class Flaky(DataSubscriber):
        def process(self, payload: dict[str, Any]) -> ProcessStatus:
            flaky.append(1)
            return ProcessStatus.RETRIABLE_ERROR if len(flaky) == 1 else ProcessStatus.DONE

    publisher(endpoint, queue).publish({"n": 1})
    listener = listener_factory(queue, retry_base=0.2, retry_max=1.0, completion_store=store)
    listener.register_subscriber(Once)
    listener.register_subscriber(Flaky)
    stats = run_until(listener, lambda: len(flaky) >= 2 and listener.stats()["deleted"] >= 1)
    assert len(once) == 1 and len(flaky) == 2
    assert stats["received"] == 2 and stats["skipped_completed"] == 1
    assert stats["store_calls"] >= 3 and stats["store_errors"] == 0


def test_a_business_key_runs_a_subscriber_once_per_order(
    endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]
) -> None:
    calls: list[int] = []

    class Orders(DataSubscriber):
        def process(self, payload: dict[str, Any]) -> None:
            calls.append(payload["n"])

    pub = publisher(endpoint, queue)
    pub.publish({"order_id": "A-1", "n": 1})
    pub.publish({"order_id": "A-1", "n": 2})
    listener = listener_factory(queue, retry_base=0.2, retry_max=1.0, completion_store="memory", idempotency_key="order_id")
    listener.register_subscriber(Orders)
    stats = run_until(listener, lambda: listener.stats()["deleted"] >= 2)
    assert len(calls) == 1 and stats["skipped_completed"] == 1


def test_memory_store_by_url(endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    run_once_with_store(endpoint, queue, listener_factory, "memory://?capacity=100")


@pytest.fixture
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_store(endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener], redis_url: str) -> None:
    run_once_with_store(endpoint, queue, listener_factory, redis_url + "?lease=5s")


# -- metrics --------------------------------------------------------------------------------------------------


def scrape(address: tuple[str, int], metric: str) -> int:
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/metrics", timeout=5) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith(metric + "{"):
            return int(float(line.rsplit(" ", 1)[1]))
    raise AssertionError(f"{metric} not in {text[:500]}")


def test_metrics_endpoint_serves_growing_counters(
    endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]
) -> None:
    seen: list[int] = []

    class Sub(DataSubscriber):
        def process(self, payload: dict[str, Any]) -> None:
            seen.append(payload["n"])

    listener = listener_factory(queue, metrics_addr="127.0.0.1:0")
    listener.register_subscriber(Sub)
    pub = publisher(endpoint, queue)
    values: list[int] = []

    def condition() -> bool:
        address = listener.metrics_address
        if len(values) == 3:
            return True
        if address is None:
            return False
        if not values:
            pub.publish({"n": 1})
            values.append(-1)
        elif len(values) == 1 and len(seen) == 1:
            values.append(scrape(address, "mega_listener_received_total"))
            pub.publish({"n": 2})
        elif len(values) == 2 and len(seen) == 2:
            values.append(scrape(address, "mega_listener_received_total"))
        return len(values) == 3

    run_until(listener, condition)
    assert values[1] >= 1 and values[2] > values[1]
    assert listener.metrics_address is None


# -- trace context --------------------------------------------------------------------------------------------


def test_handlers_see_the_senders_trace_and_continue_it(
    endpoint: Any, sqs: Any, queue: str, listener_factory: Callable[..., SqsListener]
) -> None:
    out = sqs.create_queue(QueueName=queue.rsplit("/", 1)[1] + "-out")["QueueUrl"]
    out_pub = publisher(endpoint, out)
    seen: dict[str, Any] = {}

    class Sync(DataSubscriber):
        pattern = {"via": "sync"}

        def process(self, payload: dict[str, Any], message: Message) -> None:
            seen["sync"] = message.trace
            seen["sync_current"] = mega.trace.current()
            out_pub.publish({"from": "sync"})

    class Async(DataSubscriber):
        pattern = {"via": "async"}

        async def process(self, payload: dict[str, Any], message: Message) -> None:
            await asyncio.sleep(0)
            seen["async"] = message.trace
            seen["async_current"] = mega.trace.current()
            # A batch continues the trace too.
            out_pub.publish_batch([BatchEntry({"from": "async"})])

    pub = publisher(endpoint, queue)
    pub.publish({"via": "sync"}, traceparent=KNOWN)
    pub.publish({"via": "async"}, traceparent=mega.trace.TraceContext(KNOWN))
    listener = listener_factory(queue)
    listener.register_subscriber(Sync)
    listener.register_subscriber(Async)
    run_until(listener, lambda: "sync" in seen and "async" in seen)
    for via in ("sync", "async"):
        t = seen[via]
        assert isinstance(t, mega.trace.TraceContext)
        assert t.trace_id == KNOWN_TRACE and t.span_id != KNOWN_SPAN and len(t.span_id) == 16
        assert t.parent == KNOWN and t.parent_span_id == KNOWN_SPAN and t.sampled
        assert t.traceparent == f"00-{t.trace_id}-{t.span_id}-01"
        assert seen[via + "_current"] == t
    assert seen["sync"].span_id != seen["async"].span_id
    assert mega.trace.current() is None  # outside handlers

    got: list[tuple[str, str]] = []
    deadline = time.monotonic() + 20
    while len(got) < 2 and time.monotonic() < deadline:
        got += traceparent_of(sqs, out, timeout=2)
    assert len(got) == 2
    for body, tp in got:
        assert tp[3:35] == KNOWN_TRACE, (body, tp)
        assert tp[36:52] not in (seen["sync"].span_id, seen["async"].span_id)  # a new span of the handler's


def test_publishing_outside_handlers_starts_a_trace(endpoint: Any, sqs: Any, queue: str) -> None:
    publisher(endpoint, queue).publish({"n": 1})
    [(_, tp)] = traceparent_of(sqs, queue)
    assert len(tp) == 55 and tp[3:35] != KNOWN_TRACE
