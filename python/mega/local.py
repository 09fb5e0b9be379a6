"""The embedded SQS + SNS endpoint, in-process, for tests and demos: no AWS account, no Docker, no second
process.

    with LocalEndpoint() as ep:
        sqs = boto3.client("sqs", endpoint_url=ep.url, region_name="us-east-1")
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Mapping, TypedDict

from . import _native

__all__ = ["LocalEndpoint", "Connection"]


class Connection(TypedDict):
    """What connects a publisher, a listener or a boto3 client to an endpoint."""

    endpoint_url: str
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


class LocalEndpoint:
    """A running endpoint on loopback. ``port=0`` picks a free port; ``data_dir`` makes it durable."""

    def __init__(
        self, port: int = 0, region: str = "us-east-1", data_dir: str | os.PathLike[str] | None = None
    ) -> None:
        self.region = region
        self._native = _native.NativeLocal(port=port, region=region, data_dir=data_dir)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: give it as ``endpoint_url``."""
        return self._native.url

    @property
    def connection(self) -> Connection:
        """Keyword arguments that connect a publisher, a listener or a boto3 client to this endpoint
        (``endpoint_url``, ``region_name`` and placeholder credentials, which it does not check):
        ``SqsPublisher(queue_url, **ep.connection)``, ``boto3.client("sqs", **ep.connection)``."""
        return {
            "endpoint_url": self.url,
            "region_name": self.region,
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",
        }

    def create_queue(self, name: str, attributes: Mapping[str, str] | None = None) -> str:
        """Creates a queue (``attributes`` as SQS names them: ``VisibilityTimeout``, ``RedrivePolicy``,
        ``FifoQueue``...) and returns its URL."""
        return self._native.create_queue(name, dict(attributes) if attributes else None)

    def create_topic(self, name: str) -> str:
        """Creates an SNS topic and returns its ARN."""
        return self._native.create_topic(name)

    def subscribe(self, topic_arn: str, queue: str, raw: bool = False) -> str:
        """Subscribes a queue (URL or ARN) to a topic, in the SNS envelope or ``raw``; returns the
        subscription's ARN."""
        return self._native.subscribe(topic_arn, queue, raw)

    def queue_counts(self, queue_url: str) -> tuple[int, int]:
        """``(visible, in flight)``: the approximate numbers of a queue's messages."""
        return self._native.queue_counts(queue_url)

    def close(self) -> None:
        """Stops the endpoint (its queues are gone unless it is durable)."""
        self._native.close()

    def __enter__(self) -> LocalEndpoint:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalEndpoint({self.url})"
