"""Fidelity: the publish and listen basics against moto, a third-party SQS/SNS implementation."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from typing import Any, Iterator

import boto3
import pytest

import mega
from mega.aws.sns import SnsPublisher
from mega.aws.sqs.publish import SqsPublisher
from mega.aws.sqs.subscribe import DataSubscriber, EventSubscriber, Message, SqsListener
from mega.event import Payload, PayloadBuilder

from conftest import run_until


def moto_server() -> str:
    path = os.environ.get("MEGA_MOTO_SERVER") or shutil.which("moto_server")
    if not path:
        path = os.path.join(os.path.dirname(sys.executable), "moto_server")
    assert os.path.exists(path), "moto_server not found: run scripts/setup-moto.sh or set MEGA_MOTO_SERVER"
    return path


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([moto_server(), "-H", "127.0.0.1", "-p", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "moto did not start"
            time.sleep(0.1)
    yield url
    p.terminate()
    p.wait(timeout=10)


def test_publish_and_listen_on_moto(moto: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1")
    queue = sqs.create_queue(QueueName=f"m-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    pub = SqsPublisher(queue, endpoint_url=moto, region_name="us-east-1")
    event = PayloadBuilder().with_event(name="item.added", domain="cart", quantity=2).with_object(current={"id": 1}).build()
    pub.publish(event, binary_encoding=True)
    pub.publish({"kind": "data"})
    m = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0)
    bodies = sorted(x["Body"] for x in m["Messages"])
    assert bodies == sorted([mega.encode(event, True)[0], mega.encode({"kind": "data"})[0]])

    got: list[Any] = []

    class Events(EventSubscriber):
        domain = "cart"

        def process(self, payload: Payload) -> None:
            got.append(payload.event.quantity)

    class Data(DataSubscriber):
        def process(self, payload: dict[str, Any]) -> None:
            got.append(payload)

    listener = SqsListener(queue, endpoint_url=moto, region_name="us-east-1", wait_time_seconds=1, shutdown_grace=5)
    listener.register_subscriber(Events)
    listener.register_subscriber(Data)
    stats = run_until(listener, lambda: len(got) >= 2, timeout=60)
    assert sorted(map(repr, got)) == sorted(map(repr, [2, {"kind": "data"}]))
    assert stats["deleted"] == 2


def test_sns_envelope_from_moto(moto: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1")
    sns = boto3.client("sns", endpoint_url=moto, region_name="us-east-1")
    queue = sqs.create_queue(QueueName=f"m-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    SnsPublisher(topic, endpoint_url=moto, region_name="us-east-1").publish({"n": 5}, subject="s")
    got: list[Message] = []

    class Data(DataSubscriber):
        pattern = {"n": 5}

        def process(self, payload: dict[str, Any], message: Message) -> None:
            got.append(message)

    listener = SqsListener(queue, endpoint_url=moto, region_name="us-east-1", wait_time_seconds=1, shutdown_grace=5)
    listener.register_subscriber(Data)
    run_until(listener, lambda: bool(got), timeout=60)
    assert got[0].sns is not None and got[0].sns["topic_arn"] == topic
