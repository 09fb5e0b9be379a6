#!/usr/bin/env python3
"""Generates tests/vectors/payloads.json, the payload decoding conformance vectors.

BSON bodies are produced with PyMongo's `bson` package, an implementation independent of ours, and every
expected result is written out by hand here, so the vectors check our decoders against something they did
not produce. Regenerate with:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install pymongo && /tmp/v/bin/python tests/vectors/generate_payloads.py

The file is committed; tests in every language read it and never run this script.
"""

import base64
import datetime as dt
import json
import os

import bson
from bson.decimal128 import Decimal128
from bson.int64 import Int64

I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def tagged(v):
    """Python value -> tagged JSON value ($bytes, $datetime, $decimal, $float)."""
    if isinstance(v, dict):
        return {k: tagged(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [tagged(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, Int64):
        return int(v)
    if isinstance(v, int):
        return v if I64_MIN <= v <= I64_MAX else {"$decimal": str(v)}
    if isinstance(v, float):
        if v != v:
            return {"$float": "NaN"}
        if v in (float("inf"), float("-inf")):
            return {"$float": "Infinity" if v > 0 else "-Infinity"}
        return v
    if isinstance(v, Decimal128):
        return {"$decimal": str(v)}
    if isinstance(v, DecimalText):
        return {"$decimal": v.text}
    if isinstance(v, bytes):
        return {"$bytes": base64.b64encode(v).decode()}
    if isinstance(v, dt.datetime):
        return {"$datetime": v.isoformat().replace("+00:00", "Z")}
    raise TypeError(type(v))


class DecimalText:
    """An exact decimal expected from a JSON number that does not fit 64 bits or a float."""

    def __init__(self, text):
        self.text = text


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def bson_b64(doc) -> str:
    return b64(bson.encode(doc))


UTC = dt.timezone.utc
TS = dt.datetime(2020, 5, 4, 15, 53, 27, 823000, tzinfo=UTC)

SEED_DATA = {
    "type": "user_notification",
    "notification_type": "email",
    "user": {"id": 987650, "email": "johndoe_86@example.com"},
}

# The seed 001 MEGA event, and its canonical form: event keys other than the known fields are attributes.
SEED_EVENT_JSON = """{
    "protocol": "mega",
    "version": 1,
    "event": {
        "name": "user.updated",
        "timestamp": "2020-05-04T15:53:27.823",
        "version": 1,
        "domain": "user",
        "subject": "987650",
        "username": "john.doe",
        "attributes": {
            "email": "johndoe_86@example.com",
            "ssn": "497279436"
        }
    },
    "object": {
        "current": {
            "id": 987650,
            "full_name": "John Doe",
            "username": "john.doe",
            "email": "johndoe_86@example.com",
            "ssn": "497279436",
            "birthdate": "1986-02-15",
            "created_at": "2020-05-03T12:20:23.000",
            "updated_at": "2020-05-04T15:52:01.000"
        }
    }
}"""
SEED_EVENT_CANONICAL = {
    "protocol": "mega",
    "version": 1,
    "event": {
        "name": "user.updated",
        "timestamp": TS,
        "version": 1,
        "domain": "user",
        "subject": "987650",
        "attributes": {
            "email": "johndoe_86@example.com",
            "ssn": "497279436",
            "username": "john.doe",
        },
    },
    "object": {
        "current": {
            "id": 987650,
            "full_name": "John Doe",
            "username": "john.doe",
            "email": "johndoe_86@example.com",
            "ssn": "497279436",
            "birthdate": "1986-02-15",
            "created_at": "2020-05-03T12:20:23.000",
            "updated_at": "2020-05-04T15:52:01.000",
        }
    },
}

# A BSON MEGA event as a Python publisher would send it: the timestamp is a BSON datetime.
BSON_EVENT = {
    "protocol": "mega",
    "version": 1,
    "event": {
        "domain": "shopping_cart",
        "name": "item.added",
        "version": 2,
        "timestamp": TS,
        "subject": "987650",
        "publisher": "shopping-cart-service",
        "item_id": "61fcc874-624e-40f8-8fd7-0e663c7837e8",
        "quantity": 5,
    },
    "object": {
        "type": "shopping_cart",
        "id": "18a3f92e-1fbf-45eb-8769-d836d0a1be55",
        "version": 2,
        "current": {"value": Decimal128("377.37"), "items": [{"quantity": 10}]},
        "previous": {"value": Decimal128("277.42")},
    },
    "extra": {"channel": "web/desktop"},
}
BSON_EVENT_CANONICAL = {
    "protocol": "mega",
    "version": 1,
    "event": {
        "name": "item.added",
        "timestamp": TS,
        "version": 2,
        "domain": "shopping_cart",
        "subject": "987650",
        "publisher": "shopping-cart-service",
        "attributes": {"item_id": "61fcc874-624e-40f8-8fd7-0e663c7837e8", "quantity": 5},
    },
    "object": BSON_EVENT["object"],
    "extra": {"channel": "web/desktop"},
}

TYPED_DOC = {
    "when": dt.datetime(2021, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    "price": Decimal128("19.99"),
    "tiny": Decimal128("1E-7"),
    "blob": b"\x00\x01\xfe\xff",
    "i32": -7,
    "i64": Int64(1 << 40),
    "double": 2.5,
    "null": None,
    "flag": True,
    "list": [1, "two", [3.0], {"four": 4}],
    "unicode": "Olá ☕ 😀",
}


def sns_envelope(message, subject=None, attributes=None, type_="Notification", extra=None):
    env = {
        "Type": type_,
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:shopping-cart",
    }
    if subject is not None:
        env["Subject"] = subject
    env.update(
        {
            "Message": message,
            "Timestamp": "2020-05-04T15:53:23.123Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:shopping-cart:2bcfbf39",
        }
    )
    if attributes:
        env["MessageAttributes"] = {k: {"Type": "String", "Value": v} for k, v in attributes.items()}
    if extra:
        env.update(extra)
    return json.dumps(env)


def sns_expect(subject=None, attributes=None, type_="Notification", extra=None):
    meta = {
        "type": type_,
        "message_id": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "topic_arn": "arn:aws:sns:us-east-1:123456789012:shopping-cart",
    }
    if subject is not None:
        meta["subject"] = subject
    meta["timestamp"] = "2020-05-04T15:53:23.123Z"
    meta["message_attributes"] = {
        k: {"type": "String", "value": v} for k, v in (attributes or {}).items()
    }
    meta["unsubscribe_url"] = "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:shopping-cart:2bcfbf39"
    if extra:
        meta.update(extra)
    meta["signature_version"] = "1"
    meta["signature"] = "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q="
    meta["signing_cert_url"] = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
    return meta


def ok(name, body, kind, encoding, payload, sns=None, declared=None):
    v = {"name": name, "body": body}
    if declared is not None:
        v["encoding"] = declared
    v["expect"] = {"kind": kind, "encoding": encoding, "payload": tagged(payload), "sns": sns}
    return v


def err(name, body, code, contains, declared=None, body_base64=None):
    v = {"name": name}
    if body_base64 is not None:
        v["body_base64"] = body_base64
    else:
        v["body"] = body
    if declared is not None:
        v["encoding"] = declared
    v["error"] = {"code": code, "message_contains": contains}
    return v


def main():
    seed_bson = bson_b64(SEED_DATA)
    assert seed_bson == (
        "cwAAAAJ0eXBlABIAAAB1c2VyX25vdGlmaWNhdGlvbgACbm90aWZpY2F0aW9uX3R5cGUABgAAAGVtYWlsAAN1c2VyAC8AAAAQaWQAAhIP"
        "AAJlbWFpbAAXAAAAam9obmRvZV84NkBleGFtcGxlLmNvbQAAAA=="
    ), "PyMongo must reproduce the seed's example"
    typed_bytes = bson.encode(TYPED_DOC)
    bson_event = bson_b64(BSON_EVENT)
    # The length of the `unicode` string made to point past the end of the document.
    at = typed_bytes.index(b"unicode\x00") + len(b"unicode\x00")
    corrupt = typed_bytes[:at] + (1000).to_bytes(4, "little") + typed_bytes[at + 4:]
    deep = "[" * 200 + "]" * 200
    vectors = [
        # JSON objects
        ok("data object, seed example", json.dumps(SEED_DATA), "data", "json", SEED_DATA),
        ok("data object, empty", "{}", "data", "json", {}),
        ok("data object, whitespace around", " \n\t{\"a\": [1, {\"b\": null}]}\r\n ", "data", "json", {"a": [1, {"b": None}]}),
        ok(
            "data object, unicode and escapes",
            '{"name": "Jos\\u00e9 \u2615 \\ud83d\\ude00", "quote": "\\"q\\"", "tab": "a\\tb", "slash": "\\/"}',
            "data", "json",
            {"name": "José ☕ 😀", "quote": '"q"', "tab": "a\tb", "slash": "/"},
        ),
        ok(
            "data object, large numbers stay exact",
            '{"big": 123456789012345678901234567890, "max": 9223372036854775807, "min": -9223372036854775808,'
            ' "over": 9223372036854775808, "float": 1.5e300, "huge": 1e400, "frac": 0.1, "negzero": -0.0}',
            "data", "json",
            {"big": 123456789012345678901234567890, "max": I64_MAX, "min": I64_MIN,
             "over": 9223372036854775808, "float": 1.5e300, "huge": DecimalText("1E+400"), "frac": 0.1,
             "negzero": -0.0},
        ),
        ok("data object, duplicate keys keep the last value", '{"a": 1, "b": 2, "a": 3}', "data", "json", {"a": 3, "b": 2}),
        ok("data object, nested lists and maps", json.dumps({"l": [[1, 2], [{"m": {"n": [True, False]}}]]}), "data", "json",
           {"l": [[1, 2], [{"m": {"n": [True, False]}}]]}),
        ok("data object, protocol mega but version 2 is data", '{"protocol": "mega", "version": 2, "event": {}}', "data", "json",
           {"protocol": "mega", "version": 2, "event": {}}),
        ok("data object, protocol other", '{"protocol": "http", "version": 1}', "data", "json", {"protocol": "http", "version": 1}),
        # MEGA events in JSON
        ok("mega event, seed 001 example", SEED_EVENT_JSON, "mega", "json", SEED_EVENT_CANONICAL),
        ok(
            "mega event, version as a string",
            '{"protocol": "mega", "version": "1", "event": {"name": "user:login:web", "timestamp": "2020-06-12T17:29:58.000",'
            ' "subject": 987650, "attributes": {"success": true, "attempts": 4}}}',
            "mega", "json",
            {"protocol": "mega", "version": 1, "event": {"name": "user:login:web",
             "timestamp": dt.datetime(2020, 6, 12, 17, 29, 58, tzinfo=UTC), "subject": "987650",
             "attributes": {"success": True, "attempts": 4}}},
        ),
        err("mega event, missing event.name", '{"protocol": "mega", "version": 1, "event": {"timestamp": "2020-01-01"}}',
            "invalid_event", "event.name is missing"),
        err("mega event, empty object.current",
            '{"protocol": "mega", "version": 1, "event": {"name": "x", "timestamp": "2020-01-01"}, "object": {"current": {}}}',
            "invalid_event", "object.current must be a non-empty map"),
        err("mega event, bad timestamp", '{"protocol": "mega", "version": 1, "event": {"name": "x", "timestamp": "yesterday"}}',
            "invalid_event", "event.timestamp `yesterday` is not an ISO-8601 date-time"),
        # JSON that is not an object, and text
        ok("json list is plaintext", "[1, 2, 3]", "plaintext", "plaintext", "[1, 2, 3]"),
        ok("json number is plaintext", "42", "plaintext", "plaintext", "42"),
        ok("json string is plaintext", '"hello"', "plaintext", "plaintext", '"hello"'),
        ok("json true is plaintext (though valid Base64)", "true", "plaintext", "plaintext", "true"),
        ok("plaintext", "hello world", "plaintext", "plaintext", "hello world"),
        ok("plaintext, unicode", "Olá, mundo! ☕ 😀", "plaintext", "plaintext", "Olá, mundo! ☕ 😀"),
        ok("plaintext, broken JSON object", '{"a": 1', "plaintext", "plaintext", '{"a": 1'),
        ok("plaintext, Base64 with bad padding", "AAECAw=", "plaintext", "plaintext", "AAECAw="),
        ok("plaintext, Base64 with whitespace", "AAEC AwQ=", "plaintext", "plaintext", "AAEC AwQ="),
        ok("ambiguous: `test` is valid Base64, so undeclared it is binary", "test", "binary", "binary", b"\xb5\xeb\x2d"),
        ok("ambiguous: `test` declared plaintext", "test", "plaintext", "plaintext", "test", declared="plaintext"),
        # Base64: BSON and binary blobs
        ok("bson data object, the seed example", seed_bson, "data", "bson", SEED_DATA),
        ok("bson data object, every typed kind", b64(typed_bytes), "data", "bson", TYPED_DOC),
        ok("bson mega event", bson_event, "mega", "bson", BSON_EVENT_CANONICAL),
        ok("bson mega event, declared", bson_event, "mega", "bson", BSON_EVENT_CANONICAL, declared="bson"),
        ok("binary blob", b64(b"\x00\x01\x02\x03\x04"), "binary", "binary", b"\x00\x01\x02\x03\x04"),
        ok("binary blob, truncated BSON", b64(typed_bytes[:-1]), "binary", "binary", typed_bytes[:-1]),
        ok("binary blob, BSON with a corrupted string length", b64(corrupt), "binary", "binary", corrupt),
        err("bson declared, corrupted string length", b64(corrupt), "bson", "(element `unicode`)", declared="bson"),
        ok("binary declared: BSON bytes stay bytes", seed_bson, "binary", "binary", base64.b64decode(seed_bson), declared="binary"),
        ok("plaintext declared: a JSON object stays text", '{"a": 1}', "plaintext", "plaintext", '{"a": 1}', declared="plaintext"),
        ok("json declared", '{"a": 1}', "data", "json", {"a": 1}, declared="json"),
        # Declared encodings that the body breaks
        err("json declared, not JSON", '{"a": ', "json", "body is not valid JSON", declared="json"),
        err("json declared, a list", "[1]", "json_not_object", "a JSON list, not an object", declared="json"),
        err("bson declared, not Base64", "not base64!", "base64", "not strict standard Base64", declared="bson"),
        err("bson declared, truncated", b64(typed_bytes[:-1]), "bson", "declared document size", declared="bson"),
        err("binary declared, bad padding", "AAECAw=", "base64", "not strict standard Base64", declared="binary"),
        err("unknown declared encoding", "x", "unknown_encoding", "unknown mega.encoding attribute value `yaml`", declared="yaml"),
        err("invalid UTF-8", None, "invalid_utf8", "first invalid byte at offset 2", body_base64=b64(b"ab\xffcd")),
        err("nesting too deep", deep, "json", "nesting deeper than 128 levels"),
        # SNS envelopes
        ok("sns: json data object", sns_envelope(json.dumps(SEED_DATA), subject="hello"), "data", "json", SEED_DATA,
           sns=sns_expect(subject="hello")),
        ok("sns: bson mega event declared in the envelope", sns_envelope(bson_event, attributes={"mega.encoding": "bson"}),
           "mega", "bson", BSON_EVENT_CANONICAL, sns=sns_expect(attributes={"mega.encoding": "bson"})),
        ok("sns: bson mega event recognised", sns_envelope(bson_event), "mega", "bson", BSON_EVENT_CANONICAL, sns=sns_expect()),
        ok("sns: plaintext message", sns_envelope("order 42 shipped"), "plaintext", "plaintext", "order 42 shipped", sns=sns_expect()),
        ok("sns: mega event in json", sns_envelope(SEED_EVENT_JSON), "mega", "json", SEED_EVENT_CANONICAL, sns=sns_expect()),
        ok("sns: an envelope inside an envelope is not unwrapped twice", sns_envelope(sns_envelope("x")), "data", "json",
           json.loads(sns_envelope("x")), sns=sns_expect()),
        ok(
            "sns: subscription confirmation carries no payload",
            sns_envelope("You have chosen to subscribe to the topic.", type_="SubscriptionConfirmation",
                         extra={"Token": "2336412f37f", "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"}),
            "none", None, None,
            sns=sns_expect(type_="SubscriptionConfirmation",
                           extra={"subscribe_url": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription", "token": "2336412f37f"}),
        ),
        err("sns: declared json message that is not JSON", sns_envelope("oops", attributes={"mega.encoding": "json"}),
            "json", "in the SNS notification's Message: body is not valid JSON"),
        ok("not sns: Type alone does not make an envelope", '{"Type": "Notification", "Message": "x"}', "data", "json",
           {"Type": "Notification", "Message": "x"}),
    ]
    doc = {
        "description": "Payload decoding conformance vectors for sqs-mega. Each vector gives an SQS body (`body`, or "
        "`body_base64` for bytes that are not UTF-8), optionally the declared `encoding` (the mega.encoding message "
        "attribute), and either `expect` ({kind, encoding, payload, sns}: payload in tagged JSON, compared with kinds: "
        "an integer is not a float) or `error` ({code, message_contains}). See docs/payloads.md. Generated by "
        "generate_payloads.py with PyMongo's bson.",
        "vectors": vectors,
    }
    path = os.path.join(os.path.dirname(__file__), "payloads.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(vectors)} vectors to {path}")


if __name__ == "__main__":
    main()
