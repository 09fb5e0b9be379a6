"""Publishing: bodies checked byte for byte through boto3, SNS envelopes, batches, attributes, errors."""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable

import pytest

import mega
from mega.aws.sns import SnsPublisher
from mega.aws.sns.publish import SnsPublisher as SnsPublisher2
from mega.aws.sqs.publish import BatchEntry, Published, SqsPublisher
from mega.aws.sqs.subscribe import DataSubscriber, Message, SqsListener
from mega.event import PayloadBuilder

from conftest import run_until

EVENT = PayloadBuilder().with_event(name="user.created", subject="987650").with_object(current={"id": 987650}).build()


@pytest.mark.parametrize("binary", [False, True], ids=["json", "bson"])
@pytest.mark.parametrize(
    "payload", [{"type": "user_notification", "user": {"id": 987650}}, EVENT, "plain text", b"\x00\xffbytes"],
    ids=["data", "mega", "plaintext", "bytes"],
)
def test_body_byte_for_byte(endpoint: Any, sqs: Any, queue: str, payload: Any, binary: bool) -> None:
    if binary and isinstance(payload, str):
        with pytest.raises(mega.EncodeError) as e:
            SqsPublisher(queue, endpoint_url=endpoint.url).publish(payload, binary_encoding=True)
        assert e.value.code == "encode.binary_plaintext"
        return
    sent = SqsPublisher(queue, endpoint_url=endpoint.url).publish(payload, binary_encoding=binary)
    m = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"][0]
    body, encoding = mega.encode(payload, binary)
    assert m["MessageId"] == sent.message_id
    assert m["Body"] == body
    assert m["MessageAttributes"]["mega.encoding"] == {"StringValue": encoding, "DataType": "String"}
    back = mega.decode(m["Body"], encoding).payload
    assert back == payload


def test_attributes_delay_and_their_errors(endpoint: Any, sqs: Any, queue: str) -> None:
    pub = SqsPublisher(queue, endpoint_url=endpoint.url)
    pub.publish({"a": 1}, attributes={"s": "x", "n": 2.5, "b": b"\x01", "custom": ("Number.int", "7")})
    m = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"][0]["MessageAttributes"]
    assert m["s"] == {"StringValue": "x", "DataType": "String"}
    assert m["n"] == {"StringValue": "2.5", "DataType": "Number"}
    assert m["b"] == {"BinaryValue": b"\x01", "DataType": "Binary"}
    assert m["custom"] == {"StringValue": "7", "DataType": "Number.int"}
    with pytest.raises(mega.InvalidArgumentError, match="mega.x") as e:
        pub.publish({"a": 1}, attributes={"mega.x": "reserved"})
    assert e.value.code == "publish.invalid_attribute"
    with pytest.raises(mega.InvalidArgumentError, match="bool"):
        pub.publish({"a": 1}, attributes={"flag": True})
    with pytest.raises(mega.InvalidArgumentError, match="delay"):
        pub.publish({"a": 1}, delay_seconds=901)


def test_batch_gives_one_result_per_entry(endpoint: Any, sqs: Any, queue: str) -> None:
    pub = SqsPublisher(queue, endpoint_url=endpoint.url)
    entries: list[Any] = [{"i": i} for i in range(12)]
    entries.insert(3, BatchEntry({"big": "x" * (1024 * 1024 + 1)}))
    entries.append(BatchEntry({"i": 99}, binary_encoding=True, attributes={"k": "v"}))
    results = pub.publish_batch(entries)
    assert len(results) == 14
    assert isinstance(results[3], mega.EncodeError) and results[3].code == "encode.too_large"
    assert all(isinstance(r, Published) for i, r in enumerate(results) if i != 3)
    bodies: list[Any] = []
    while len(bodies) < 13:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        bodies += [mega.decode(m["Body"], m["MessageAttributes"]["mega.encoding"]["StringValue"]).payload
                   for m in got.get("Messages", [])]
    assert sorted(b["i"] for b in bodies) == list(range(12)) + [99]


def test_sns_to_sqs_envelope_is_unwrapped(endpoint: Any, sqs: Any, sns: Any, queue: str,
                                          listener_factory: Callable[..., SqsListener]) -> None:
    assert SnsPublisher is SnsPublisher2
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    pub = SnsPublisher(topic, endpoint_url=endpoint.url)
    sent = pub.publish({"order": 7}, binary_encoding=True, subject="hello", attributes={"tenant": "acme"})
    got: list[tuple[dict[str, Any], Message]] = []

    class Orders(DataSubscriber):
        pattern = {"order": 7}

        def process(self, payload: dict[str, Any], message: Message) -> None:
            got.append((payload, message))

    listener = listener_factory(queue)
    listener.register_subscriber(Orders)
    run_until(listener, lambda: bool(got))
    payload, message = got[0]
    assert payload == {"order": 7} and message.encoding == "bson"
    assert message.sns is not None
    assert message.sns["topic_arn"] == topic and message.sns["subject"] == "hello"
    assert message.sns["message_id"] == sent.message_id
    assert message.sns["message_attributes"]["tenant"] == ("String", "acme")


def test_no_secret_in_reprs_or_errors(endpoint: Any, queue: str) -> None:
    s = mega.aws.settings(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="very-secret-key")
    assert "very-secret-key" not in repr(s) and "AKIDEXAMPLE" not in repr(s)
    pub = SqsPublisher(queue, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="very-secret-key",
                       endpoint_url="http://127.0.0.1:1", region_name="us-east-1")
    with pytest.raises(mega.ServiceError) as e:
        pub.publish({"a": 1})
    assert "very-secret-key" not in str(e.value) and e.value.category == "transient"


def test_invalid_event_is_refused_before_sending(endpoint: Any, queue: str) -> None:
    bad = mega.event.Payload(mega.event.Event(""))
    with pytest.raises(mega.InvalidArgumentError, match="event.name"):
        SqsPublisher(queue, endpoint_url=endpoint.url).publish(bad)
    with pytest.raises(mega.InvalidArgumentError, match="cannot publish a list"):
        SqsPublisher(queue, endpoint_url=endpoint.url).publish([1, 2])  # type: ignore[arg-type]
    assert json.loads(mega.encode({"ok": 1})[0]) == {"ok": 1}
