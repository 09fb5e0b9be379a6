"""Fixtures: one embedded endpoint for the session (in-process), a fresh queue per test, boto3 clients.

Everything talks HTTP to a real SQS/SNS endpoint through real SDKs (boto3 and the core's AWS SDK for Rust).
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any, Callable, Iterator

import boto3
import pytest

from mega.local import LocalEndpoint

os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTORS = os.path.join(ROOT, "tests", "vectors")


@pytest.fixture(scope="session")
def endpoint() -> Iterator[LocalEndpoint]:
    with LocalEndpoint() as ep:
        yield ep


@pytest.fixture(scope="session")
def sqs(endpoint: LocalEndpoint) -> Any:
    return boto3.client("sqs", endpoint_url=endpoint.url, region_name="us-east-1")


@pytest.fixture(scope="session")
def sns(endpoint: LocalEndpoint) -> Any:
    return boto3.client("sns", endpoint_url=endpoint.url, region_name="us-east-1")


@pytest.fixture
def queue(sqs: Any) -> str:
    return sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]


@pytest.fixture
def listener_factory(endpoint: LocalEndpoint) -> Callable[..., Any]:
    from mega.aws.sqs.subscribe import SqsListener

    def make(queue_url: str, **kw: Any) -> SqsListener:
        kw.setdefault("wait_time_seconds", 1)
        kw.setdefault("shutdown_grace", 5.0)
        return SqsListener(queue_url, endpoint_url=endpoint.url, region_name="us-east-1", **kw)

    return make


def run_until(listener: Any, condition: Callable[[], bool], timeout: float = 20.0) -> dict[str, Any]:
    """Runs ``listener.listen()`` on a thread until ``condition()`` holds (then stops it): its stats."""
    out: dict[str, Any] = {}

    def target() -> None:
        out["stats"] = listener.listen()

    t = threading.Thread(target=target)
    t.start()
    deadline = timeout
    step = 0.02
    waited = 0.0
    while waited < deadline and not condition():
        threading.Event().wait(step)
        waited += step
    listener.stop()
    t.join(timeout=15)
    assert not t.is_alive(), "listen() did not return after stop()"
    assert condition(), "the condition never held"
    return out["stats"]


def counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    a = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])
