"""Payloads: the shared decoding vectors, encoding, MEGA events built as seed 003 shows."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

import mega
from mega.event import Event, ObjectData, Payload, PayloadBuilder

from conftest import VECTORS

with open(os.path.join(VECTORS, "payloads.json")) as f:
    PAYLOAD_VECTORS = json.load(f)["vectors"]


def untag(v: Any) -> Any:
    """Tagged JSON (tests/vectors) to Python values."""
    if isinstance(v, dict):
        if len(v) == 1:
            (k, x), = v.items()
            if k == "$datetime":
                return datetime.fromisoformat(x.replace("Z", "+00:00"))
            if k == "$decimal":
                return Decimal(x)
            if k == "$bytes":
                return base64.b64decode(x)
            if k == "$float":
                return float(x)
        return {k: untag(x) for k, x in v.items()}
    if isinstance(v, list):
        return [untag(x) for x in v]
    return v


def same(a: Any, b: Any) -> bool:
    """Equal with kinds: an int is not a float, NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b)


@pytest.mark.parametrize("v", PAYLOAD_VECTORS, ids=[v["name"] for v in PAYLOAD_VECTORS])
def test_payload_vectors(v: dict[str, Any]) -> None:
    body: str | bytes = v["body"] if "body" in v else base64.b64decode(v["body_base64"])
    if "error" in v:
        with pytest.raises(mega.DecodeError) as e:
            mega.decode(body, v.get("encoding"))
        assert e.value.detail == v["error"]["code"]
        assert e.value.code == "decode." + v["error"]["code"]
        assert v["error"]["message_contains"] in str(e.value)
        return
    d = mega.decode(body, v.get("encoding"))
    expect = v["expect"]
    assert d.kind == expect["kind"]
    assert d.encoding == expect["encoding"]
    payload = d.payload.to_dict() if isinstance(d.payload, Payload) else d.payload
    want = untag(expect["payload"])
    assert same(payload, want), (payload, want)
    assert (d.sns is None) == (expect["sns"] is None)


def test_encode_round_trips_every_kind() -> None:
    data = {"a": 1, "b": [1.5, "x", None, True], "d": Decimal("1.10"), "when": datetime(2020, 1, 2, tzinfo=timezone.utc)}
    for binary in (False, True):
        body, enc = mega.encode(data if binary else {k: v for k, v in data.items() if k != "when"}, binary)
        assert enc == ("bson" if binary else "json")
        back = mega.decode(body, enc).payload
        if binary:
            assert same(back, data)
    assert mega.decode(mega.encode("hello")[0]).payload == "hello"
    assert mega.decode(*mega.encode(b"\x00\x01", False)).payload == b"\x00\x01"


def test_seed_json_body_is_what_python_json_writes() -> None:
    payload = {"type": "user_notification", "notification_type": "email", "user": {"id": 987650, "email": "johndoe_86@example.com"}}
    body, enc = mega.encode(payload)
    assert json.loads(body) == payload and enc == "json"
    bson_body, _ = mega.encode(payload, binary_encoding=True)
    # Seed 003's Base64 text for the same object.
    assert bson_body == "cwAAAAJ0eXBlABIAAAB1c2VyX25vdGlmaWNhdGlvbgACbm90aWZpY2F0aW9uX3R5cGUABgAAAGVtYWlsAAN1c2VyAC8AAAAQaWQAAhIPAAJlbWFpbAAXAAAAam9obmRvZV84NkBleGFtcGxlLmNvbQAAAA=="


def test_payload_builder_seed_examples() -> None:
    p = (
        PayloadBuilder()
        .with_event(name="user.created", subject="987650", email="johndoe_86@example.com")
        .with_object(current={"id": 987650, "full_name": "John Doe", "birthdate": "1986-02-15"})
        .build()
    )
    assert p.event.name == "user.created"
    assert p.event.email == "johndoe_86@example.com"  # an event attribute, read as a field
    assert p.object is not None and p.object.current["full_name"] == "John Doe"
    assert isinstance(p.event.timestamp, datetime)

    b = PayloadBuilder()
    b.with_event(domain="shopping_cart", name="item.added", version=1, subject="987650",
                 publisher="shopping-cart-service", item_id="61fcc874", quantity=5, price="19.99")
    b.with_object(type="shopping_cart", id="18a3f92e", version=2, current={"value": "377.37"}, previous={"value": "277.42"})
    b.with_extra(channel="web/desktop")
    p2 = b.build()
    assert (p2.event.domain, p2.event.version, p2.event.item_id, p2.event.quantity) == ("shopping_cart", 1, "61fcc874", 5)
    assert p2.object is not None and p2.object.previous == {"value": "277.42"} and p2.extra == {"channel": "web/desktop"}
    # Through the codec and back, JSON and BSON.
    for binary in (False, True):
        back = mega.decode(*mega.encode(p2, binary)).payload
        assert isinstance(back, Payload) and back.object is not None
        assert back.event.item_id == "61fcc874" and back.object.current == {"value": "377.37"}


def test_invalid_events_name_the_field() -> None:
    with pytest.raises(mega.InvalidArgumentError, match="event.name"):
        PayloadBuilder().with_event(subject="x").build()
    with pytest.raises(mega.InvalidArgumentError, match="object.current"):
        PayloadBuilder().with_event(name="x").with_object(current={}).build()
    with pytest.raises(mega.InvalidArgumentError, match="no field 'colour'"):
        PayloadBuilder().with_object(colour="red")
    with pytest.raises(ValueError):  # bad input is a ValueError too
        Payload.from_dict({"protocol": "mega", "version": 2, "event": {"name": "x"}})
    with pytest.raises(AttributeError, match="no field or attribute 'nope'"):
        Payload(Event("x")).event.nope


def test_unencodable_values_are_named() -> None:
    with pytest.raises(mega.EncodeError, match=r"\$\.user\.tags\[1\]") as e:
        mega.encode({"user": {"tags": ["a", object()]}})
    assert e.value.code == "encode.json"
    with pytest.raises(mega.InvalidArgumentError, match="cannot publish a int"):
        mega.encode(5)


def test_objects_compare() -> None:
    assert Payload(Event("a", datetime(2020, 1, 1)), ObjectData({"x": 1})) == Payload(Event("a", datetime(2020, 1, 1)), ObjectData({"x": 1}))
