"""The listener from Python, on the embedded endpoint: statuses, exceptions, return values, threads, async."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

import pytest

import mega
from mega.aws.sqs.publish import SqsPublisher
from mega.aws.sqs.subscribe import (
    DataSubscriber,
    EventSubscriber,
    InMemoryCompletionStore,
    Message,
    MessageSubscriber,
    ProcessStatus,
    RetriableError,
    SqsListener,
)
from mega.event import Payload, PayloadBuilder
from mega.match.functions import gt

from conftest import counts, run_until


def publisher(endpoint: Any, queue: str) -> SqsPublisher:
    return SqsPublisher(queue, endpoint_url=endpoint.url, region_name="us-east-1")


def make(status_or_fn: Any, kind: type = DataSubscriber, **attrs: Any) -> tuple[type, list[Any]]:
    """A subscriber class whose process records the payload and returns (or raises) what it is told."""
    seen: list[Any] = []

    def process(self: Any, payload: Any) -> Any:
        seen.append(payload)
        if callable(status_or_fn) and not isinstance(status_or_fn, ProcessStatus):
            return status_or_fn(payload)
        return status_or_fn

    return type("Sub", (kind,), dict(attrs, process=process)), seen


@pytest.mark.parametrize(
    "outcome, deleted, stat",
    [
        (None, True, "done"),
        (ProcessStatus.DONE, True, "done"),
        (ProcessStatus.FATAL_ERROR, True, "fatal_error"),
        (ProcessStatus.RETRY_LATER, False, "retry_later"),
        (ProcessStatus.RETRIABLE_ERROR, False, "retriable_error"),
    ],
)
def test_each_status(endpoint: Any, sqs: Any, queue: str, listener_factory: Callable[..., SqsListener],
                     outcome: Any, deleted: bool, stat: str) -> None:
    publisher(endpoint, queue).publish({"n": 1})
    sub, seen = make(outcome)
    listener = listener_factory(queue, retry_base=60.0)
    listener.register_subscriber(sub)
    stats = run_until(listener, lambda: len(seen) >= 1 and listener.stats()[stat] >= 1)
    assert stats[stat] == 1
    assert seen == [{"n": 1}]
    assert counts(sqs, queue) == ((0, 0) if deleted else (0, 1)), "deleted only when done for good"


def raising(exc: BaseException) -> Callable[[Any], Any]:
    def f(_: Any) -> Any:
        raise exc
    return f


class Transient(Exception):
    pass


@pytest.mark.parametrize(
    "fn, stat, kept",
    [
        (raising(ValueError("boom")), "fatal_error", False),
        (raising(RetriableError("later")), "retriable_error", True),
        (raising(Transient("listed in retry_on")), "retriable_error", True),
        (raising(SystemExit(3)), "retriable_error", True),
        (lambda _: "done", "retriable_error", True),  # not a ProcessStatus
        (lambda _: 1, "retriable_error", True),  # an int is not a ProcessStatus either
    ],
    ids=["exception", "RetriableError", "retry_on", "SystemExit", "wrong type str", "wrong type int"],
)
def test_exceptions_and_wrong_returns_are_never_done(
    endpoint: Any, sqs: Any, queue: str, listener_factory: Callable[..., SqsListener],
    fn: Any, stat: str, kept: bool, caplog: pytest.LogCaptureFixture,
) -> None:
    publisher(endpoint, queue).publish({"n": 1})
    sub, seen = make(fn)
    listener = listener_factory(queue, retry_base=60.0, retry_on=[Transient])
    listener.register_subscriber(sub)
    stats = run_until(listener, lambda: listener.stats()[stat] >= 1)
    assert stats["done"] == 0 and stats[stat] == 1
    assert counts(sqs, queue) == ((0, 1) if kept else (0, 0))
    assert any("Sub" in r.getMessage() for r in caplog.records), "the failure is logged, naming the subscriber"


def test_subscriber_retry_on(endpoint: Any, sqs: Any, queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    publisher(endpoint, queue).publish({"n": 1})
    sub, _ = make(raising(TimeoutError()), retry_on=(TimeoutError,))
    listener = listener_factory(queue, retry_base=60.0)
    listener.register_subscriber(sub)
    stats = run_until(listener, lambda: listener.stats()["retriable_error"] >= 1)
    assert stats["fatal_error"] == 0


def test_every_matching_subscriber_gets_the_message_and_events_are_payloads(
    endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]
) -> None:
    pub = publisher(endpoint, queue)
    pub.publish(PayloadBuilder().with_event(name="item.added", domain="cart", quantity=5).with_object(current={"id": 1}).build())
    pub.publish({"n": 10}, binary_encoding=True)
    pub.publish({"n": 0})
    pub.publish("plain text")
    events, ev_seen = make(None, EventSubscriber, domain="cart", attributes=dict(quantity=gt(0)))
    big, big_seen = make(None, DataSubscriber, pattern=dict(n=gt(5)))
    every, every_seen = make(None, MessageSubscriber)
    listener = listener_factory(queue)
    for s in (events, big, every):
        listener.register_subscriber(s)
    stats = run_until(listener, lambda: len(every_seen) >= 4)
    assert len(ev_seen) == 1 and isinstance(ev_seen[0], Payload) and ev_seen[0].event.quantity == 5
    assert big_seen == [{"n": 10}]
    assert sorted(map(repr, every_seen)) == sorted(map(repr, [ev_seen[0], {"n": 10}, {"n": 0}, "plain text"]))
    assert stats["deleted"] == 4


def test_process_can_take_the_message(endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    sent = publisher(endpoint, queue).publish({"n": 1}, attributes={"tenant": "acme", "weight": 3})
    got: list[Message] = []

    class WithMessage(DataSubscriber):
        def process(self, payload: dict[str, Any], message: Message) -> None:
            got.append(message)

    listener = listener_factory(queue)
    listener.register_subscriber(WithMessage)
    run_until(listener, lambda: bool(got))
    m = got[0]
    assert m.message_id == sent.message_id and m.receive_count == 1 and m.encoding == "json"
    assert m.message_attributes["tenant"] == ("String", "acme")
    assert m.message_attributes["weight"] == ("Number", "3")
    assert m.sns is None and m.sent_at is not None


def test_threading_local_persists_on_a_worker_thread(
    endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]
) -> None:
    """Handlers run on threads attached once: a thread-local set by one message is seen by the next."""
    local = threading.local()
    seen: list[tuple[str, int]] = []

    class Counter(DataSubscriber):
        def process(self, payload: dict[str, Any]) -> None:
            local.n = getattr(local, "n", 0) + 1
            seen.append((threading.current_thread().name, local.n))

    pub = publisher(endpoint, queue)
    for i in range(30):
        pub.publish({"i": i})
    listener = listener_factory(queue, workers=1)
    listener.register_subscriber(Counter)
    run_until(listener, lambda: len(seen) >= 30)
    names = {n for n, _ in seen}
    assert len(names) == 1 and next(iter(names)).startswith("mega-worker")
    assert [n for _, n in seen] == list(range(1, 31))


def test_handlers_run_concurrently(endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    barrier = threading.Barrier(4, timeout=10)
    passed: list[int] = []

    class Together(DataSubscriber):
        def process(self, payload: dict[str, Any]) -> None:
            barrier.wait()  # only returns when four handlers run at once
            passed.append(1)

    pub = publisher(endpoint, queue)
    for i in range(4):
        pub.publish({"i": i})
    listener = listener_factory(queue, workers=4)
    listener.register_subscriber(Together)
    stats = run_until(listener, lambda: len(passed) >= 4)
    assert stats["done"] == 4


def test_async_def_runs_on_the_callers_loop(endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    pub = publisher(endpoint, queue)
    for i in range(3):
        pub.publish({"i": i})
    pub.publish({"i": 99})
    loops: list[Any] = []
    outcomes: list[int] = []

    class AsyncSub(DataSubscriber):
        async def process(self, payload: dict[str, Any]) -> ProcessStatus | None:
            loops.append(asyncio.get_running_loop())
            await asyncio.sleep(0.01)
            outcomes.append(payload["i"])
            if payload["i"] == 99:
                raise RuntimeError("fatal in a coroutine")
            return None

    listener = listener_factory(queue)
    listener.register_subscriber(AsyncSub)

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(listener.listen_async())
        while len(outcomes) < 4:
            await asyncio.sleep(0.02)
        listener.stop()
        stats = await asyncio.wait_for(task, 15)
        assert all(lp is loop for lp in loops)
        return stats

    stats = asyncio.run(asyncio.wait_for(main(), 30))
    assert stats["done"] == 3 and stats["fatal_error"] == 1


def test_async_def_under_blocking_listen(endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    publisher(endpoint, queue).publish({"i": 1})
    got: list[int] = []

    class AsyncSub(DataSubscriber):
        async def process(self, payload: dict[str, Any]) -> None:
            await asyncio.sleep(0)
            got.append(payload["i"])

    listener = listener_factory(queue)
    listener.register_subscriber(AsyncSub)
    assert run_until(listener, lambda: bool(got))["done"] == 1


def test_stop_from_a_handler_and_rerun(endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    pub = publisher(endpoint, queue)
    pub.publish({"i": 1})
    listener = listener_factory(queue)

    class Stopper(DataSubscriber):
        def process(self, payload: dict[str, Any]) -> None:
            listener.stop()

    listener.register_subscriber(Stopper)
    t0 = time.monotonic()
    assert listener.listen()["done"] == 1  # blocks until the handler stops it
    assert time.monotonic() - t0 < 10
    pub.publish({"i": 2})
    assert listener.listen()["done"] == 1  # a listener can run again


def test_registration_rules(endpoint: Any, queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    sub, _ = make(None)
    listener = listener_factory(queue)
    listener.register_subscriber(sub)
    with pytest.raises(mega.ListenerError, match="registered already") as e:
        listener.register_subscriber(sub)
    assert e.value.code == "listener.duplicate_subscriber"
    with pytest.raises(mega.InvalidArgumentError, match="subclass of MessageSubscriber"):
        listener.register_subscriber(sub())  # type: ignore[arg-type]
    with pytest.raises(mega.InvalidArgumentError, match="no subscriber"):
        listener_factory(queue).listen()


def test_settings_are_checked_where_given(queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    with pytest.raises(mega.ListenerError, match="max_number_of_messages") as e:
        listener_factory(queue, max_number_of_messages=11)
    assert e.value.code == "listener.invalid_config" and e.value.category == "configuration"
    with pytest.raises(mega.InvalidArgumentError, match="unmatched policy"):
        listener_factory(queue, unmatched="drop")
    with pytest.raises(mega.InvalidArgumentError, match="workers must be at least 1"):
        listener_factory(queue, workers=0)
    with pytest.raises(mega.InvalidArgumentError, match="shutdown_grace"):
        listener_factory(queue, shutdown_grace=-1.0)
    with pytest.raises(mega.InvalidArgumentError, match="go together"):
        SqsListener(queue, aws_access_key_id="only-the-id")


def test_a_missing_queue_is_a_listener_error(endpoint: Any, listener_factory: Callable[..., SqsListener]) -> None:
    sub, _ = make(None)
    listener = listener_factory(endpoint.url + "/000000000000/no-such-queue")
    listener.register_subscriber(sub)
    with pytest.raises(mega.ListenerError) as e:
        listener.listen()
    assert e.value.code == "listener.queue"


def test_completion_store_skips_subscribers_that_succeeded(
    endpoint: Any, sqs: Any, queue: str, listener_factory: Callable[..., SqsListener]
) -> None:
    """Two subscribers, one retries: on redelivery the one that finished is not called again."""
    publisher(endpoint, queue).publish({"n": 1})
    ok, ok_seen = make(None)
    flaky_calls: list[int] = []

    class Flaky(DataSubscriber):
        def process(self, payload: dict[str, Any]) -> ProcessStatus:
            flaky_calls.append(1)
            return ProcessStatus.RETRY_LATER if len(flaky_calls) == 1 else ProcessStatus.DONE

    listener = listener_factory(queue, retry_base=0.2, completion_store=InMemoryCompletionStore(100))
    listener.register_subscriber(ok)
    listener.register_subscriber(Flaky)
    stats = run_until(listener, lambda: len(flaky_calls) >= 2 and listener.stats()["deleted"] >= 1)
    assert len(ok_seen) == 1 and stats["skipped_completed"] == 1


def test_a_handler_slower_than_the_visibility_timeout_keeps_its_message(
    endpoint: Any, sqs: Any, queue: str, listener_factory: Callable[..., SqsListener]
) -> None:
    """Heartbeat: while a handler runs past the visibility timeout, nobody else receives its message."""
    publisher(endpoint, queue).publish({"n": 1})
    started = threading.Event()
    receive_counts: list[int] = []

    class Slow(DataSubscriber):
        def process(self, payload: dict[str, Any], message: Message) -> None:
            receive_counts.append(message.receive_count)
            started.set()
            time.sleep(3.5)

    listener = listener_factory(queue, visibility_timeout=1)
    listener.register_subscriber(Slow)

    def other_consumer() -> None:
        assert started.wait(10)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0, VisibilityTimeout=0)
            assert not got.get("Messages"), "the message was handed to another consumer"
            time.sleep(0.2)

    t = threading.Thread(target=other_consumer)
    t.start()
    stats = run_until(listener, lambda: listener.stats()["done"] >= 1, timeout=30)
    t.join()
    assert receive_counts == [1] and stats["heartbeats"] >= 1 and stats["deleted"] == 1
