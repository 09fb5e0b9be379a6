"""Seed 004's failure scenarios from Python: SIGTERM and Ctrl-C drain, a SIGKILLed listener, a handler
overrunning the grace, poison messages to the dead-letter queue, partial batches, fork."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable

import pytest

import mega
from mega.aws.sqs.publish import Published, SqsPublisher
from mega.aws.sqs.subscribe import DataSubscriber, Message, ProcessStatus, SqsListener

from conftest import counts, run_until

CHILD = os.path.join(os.path.dirname(__file__), "child_listener.py")


def start_child(queue: str, endpoint: Any, sleep: float, grace: float) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [sys.executable, CHILD, queue, endpoint.url, str(sleep), str(grace)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    return p


def read_until(p: subprocess.Popen[str], prefix: str) -> str:
    assert p.stdout is not None
    while True:
        line = p.stdout.readline()
        assert line, f"the child ended before printing {prefix!r}"
        if line.startswith(prefix):
            return line.strip()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_drains_work_in_flight(endpoint: Any, sqs: Any, queue: str, sig: int) -> None:
    p = start_child(queue, endpoint, sleep=1.5, grace=10)
    try:
        SqsPublisher(queue, endpoint_url=endpoint.url).publish({"n": 1})
        started = read_until(p, "started")
        t0 = time.monotonic()
        p.send_signal(sig)
        out, _ = p.communicate(timeout=20)
        assert p.returncode == 0
        assert f"finished {started.split()[1]}" in out, "the handler in flight finished"
        assert ("stopped done=1" in out) if sig == signal.SIGTERM else ("interrupted" in out)
        assert time.monotonic() - t0 < 8
        assert counts(sqs, queue) == (0, 0), "the message was deleted"
    finally:
        p.kill()


def test_work_past_the_grace_is_released(endpoint: Any, sqs: Any, queue: str) -> None:
    p = start_child(queue, endpoint, sleep=30, grace=0.5)
    try:
        SqsPublisher(queue, endpoint_url=endpoint.url).publish({"n": 1})
        read_until(p, "started")
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
        assert p.returncode == 0 and "released=1" in out
        assert time.monotonic() - t0 < 5, "stopped at the end of the grace, not after the handler"
        assert counts(sqs, queue) == (1, 0), "released: visible again at once"
    finally:
        p.kill()


def test_a_killed_listener_loses_nothing(endpoint: Any, sqs: Any, queue: str,
                                         listener_factory: Callable[..., SqsListener]) -> None:
    p = start_child(queue, endpoint, sleep=30, grace=5)
    sent = SqsPublisher(queue, endpoint_url=endpoint.url).publish({"n": 1})
    read_until(p, "started")
    p.kill()  # SIGKILL mid-handler
    p.wait(timeout=10)
    got: list[Message] = []

    class Survivor(DataSubscriber):
        def process(self, payload: dict[str, Any], message: Message) -> None:
            got.append(message)

    listener = listener_factory(queue)
    listener.register_subscriber(Survivor)
    run_until(listener, lambda: bool(got), timeout=30)
    assert got[0].message_id == sent.message_id and got[0].receive_count == 2


def test_poison_goes_to_the_dead_letter_queue(endpoint: Any, sqs: Any, listener_factory: Callable[..., SqsListener]) -> None:
    dlq = sqs.create_queue(QueueName=f"dlq-{os.getpid()}-{time.time_ns()}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    q = sqs.create_queue(
        QueueName=f"poison-{time.time_ns()}",
        Attributes={"VisibilityTimeout": "1",
                    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=q, MessageBody='{"protocol": "mega", "version": 1, "event": {}}')  # invalid event
    good: list[int] = []

    class Any_(DataSubscriber):
        def process(self, payload: dict[str, Any]) -> None:
            good.append(1)

    listener = listener_factory(q)
    listener.register_subscriber(Any_)
    stats = run_until(listener, lambda: counts(sqs, dlq)[0] == 1, timeout=30)
    assert stats["invalid"] >= 2 and not good
    body = sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"]
    assert body == '{"protocol": "mega", "version": 1, "event": {}}', "the poison arrives untouched"


def test_partial_batch(endpoint: Any, sqs: Any, queue: str, listener_factory: Callable[..., SqsListener]) -> None:
    pub = SqsPublisher(queue, endpoint_url=endpoint.url)
    results = pub.publish_batch([{"i": i} for i in range(10)])
    assert all(isinstance(r, Published) for r in results)
    handled: list[int] = []

    class HalfFails(DataSubscriber):
        def process(self, payload: dict[str, Any]) -> ProcessStatus:
            handled.append(payload["i"])
            return ProcessStatus.RETRIABLE_ERROR if payload["i"] % 2 else ProcessStatus.DONE

    listener = listener_factory(queue, retry_base=60.0)
    listener.register_subscriber(HalfFails)
    stats = run_until(listener, lambda: len(handled) >= 10)
    assert stats["done"] == 5 and stats["retriable_error"] == 5 and stats["deleted"] == 5
    assert counts(sqs, queue) == (0, 5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_use_after_fork_raises(endpoint: Any, queue: str) -> None:
    pub = SqsPublisher(queue, endpoint_url=endpoint.url)
    pub.publish({"before": "fork"})  # the runtime runs in this process now
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: must get an error, not hang
        try:
            pub.publish({"after": "fork"})
            os.write(w, b"no error")
        except mega.MegaError as e:
            os.write(w, f"{type(e).__name__} {e.detail}".encode())
        finally:
            os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    assert os.read(r, 1000).decode() == "ListenerError fork"
