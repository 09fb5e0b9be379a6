"""Every pattern function against tests/vectors/patterns.json, and the seed 003 examples."""

from __future__ import annotations

import base64
import json
import os
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

import mega
from mega.aws.sqs.subscribe import DataSubscriber, EventSubscriber
from mega.match import compile, compile_json
from mega.match.evaluation import evaluate
from mega.match.functions import and_, any_, empty, eq, gt, gte, lt, lte, match, not_, one_of, or_

from conftest import VECTORS
from test_payloads import untag

with open(os.path.join(VECTORS, "patterns.json")) as f:
    ALL = json.load(f)["vectors"]


def is_even(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v % 2 == 0


def fails(v: Any) -> bool:
    raise RuntimeError("this callback always fails")


CALLBACKS = {"is_even": is_even, "fails": fails}


class Untranslatable(Exception):
    pass


FUNCS = {"$gt": gt, "$gte": gte, "$lt": lt, "$lte": lte, "$match": match, "$eq": eq}


def to_dsl(p: Any) -> Any:
    """The JSON pattern format written with mega.match.functions, where the seed's DSL can say it."""
    if isinstance(p, list):
        return [to_dsl(x) for x in p]
    if not isinstance(p, dict):
        return p
    if len(p) == 1:
        (k, v), = p.items()
        if k in FUNCS:
            return FUNCS[k](to_dsl(v))
        try:
            if k == "$date":
                return date.fromisoformat(v)
            if k == "$datetime":
                return datetime.fromisoformat(v.replace("Z", "+00:00"))
        except (TypeError, ValueError):
            raise Untranslatable(f"{k} {v!r} is no Python value (a compile-error vector)") from None
        if k == "$decimal":
            return Decimal(v)
        if k == "$bytes":
            return base64.b64decode(v)
        if k == "$float":
            return float(v)
        if k in ("$one_of", "$in"):
            return one_of(*[to_dsl(x) for x in v])
        if k == "$not":
            return not_(to_dsl(v))
        if k == "$neq":
            return not_(eq(to_dsl(v)))
        if k == "$and":
            return and_(*[to_dsl(x) for x in v])
        if k == "$or":
            return or_(*[to_dsl(x) for x in v])
        if k == "$any" and v is True:
            return any_()
        if k == "$empty" and v is True:
            return empty()
        if k == "$fn":
            if v not in CALLBACKS:
                raise Untranslatable(f"unknown callback {v}")  # a compile-error vector of the JSON format
            return CALLBACKS[v]
    if any(k.startswith("$") for k in p):
        raise Untranslatable(next(k for k in p if k.startswith("$")))
    return {k: to_dsl(v) for k, v in p.items()}


def dsl_matcher(pattern: Any) -> Any:
    if isinstance(pattern, dict) and set(pattern) == {"$event"}:
        rules = {k: to_dsl(v) for k, v in pattern["$event"].items()}
        sub: type[EventSubscriber] = type("Sub", (EventSubscriber,), dict(rules, process=lambda self, p: None))
        return sub._compile()
    if isinstance(pattern, dict) and set(pattern) == {"$data"}:
        return compile(to_dsl(pattern["$data"]))
    return compile(to_dsl(pattern))


@pytest.mark.parametrize("v", ALL, ids=[v["name"] for v in ALL])
def test_vector_in_json_format(v: dict[str, Any]) -> None:
    """All vectors, MEGA and EventBridge syntax, through the JSON pattern format."""
    text = json.dumps(v["pattern"])
    if "error_path" in v:
        with pytest.raises(mega.PatternError) as e:
            compile_json(text, v["syntax"], CALLBACKS)
        assert e.value.detail == v["error_path"]
        return
    p = compile_json(text, v["syntax"], CALLBACKS)
    payload = untag(v["payload"])
    assert p.matches(payload) is v["match"]
    if v["match"] is False and "explain_path" in v:
        assert p.explain(payload) is not None


MEGA = [v for v in ALL if v["syntax"] == "mega"]


def translatable(v: dict[str, Any]) -> bool:
    try:
        to_dsl(v["pattern"])
        return True
    except Untranslatable:
        return False


DSL = [v for v in MEGA if translatable(v)]


@pytest.mark.parametrize("v", DSL, ids=[v["name"] for v in DSL])
def test_vector_with_functions(v: dict[str, Any]) -> None:
    """The vectors the seed's DSL can say, written with mega.match.functions, dates, Decimals and callables."""
    if "error_path" in v:
        with pytest.raises(mega.PatternError):
            dsl_matcher(v["pattern"])
        return
    assert dsl_matcher(v["pattern"]).matches(untag(v["payload"])) is v["match"]


def test_most_vectors_are_said_with_functions() -> None:
    # Only the EventBridge-only operators ($exists, $prefix, $cidr, $wildcard...) are left out.
    assert len(DSL) >= 140, len(DSL)


def test_seed_user_notification() -> None:
    class UserNotification(DataSubscriber):
        pattern = dict(
            type=match(r"user:notification:(.*)"),
            notification_type=one_of("email", "sms", "push"),
            user=dict(id=gt(0), email=not_(match(r"test@(.*)")), template=lambda lhs: lhs == "password_changed"),
        )

        def process(self, payload: dict[str, Any]) -> None:
            pass

    p = UserNotification._compile()
    assert p is not None
    event: dict[str, Any] = {
        "type": "user:notification:email", "notification_type": "email", "ts": 1592163068,
        "user": {"id": 987650, "first_name": "John", "email": "johndoe_86@example.com", "template": "password_changed"},
        "meta": {"generated_by": "user_service"},
    }
    assert p.matches(event)
    assert not p.matches({"type": "user:notification:email", "notification_type": "email"})
    assert not p.matches({**event, "user": {**event["user"], "email": "test@example.com"}})
    assert not p.matches({**event, "user": {**event["user"], "template": "other"}})


SEED_LOGIN = {
    "protocol": "mega", "version": "1",
    "event": {"domain": "user", "name": "user:login:web", "version": 1, "timestamp": "2020-06-12T17:29:58.000",
              "subject": "987650", "publisher": "login-api",
              "attributes": {"email": "johndoe_86@example.com", "success": True, "attempts": 4}},
    "object": {"type": "user", "id": "987650", "version": 2,
               "current": {"id": 987650, "username": "john-doe", "email": "johndoe_86@example.com",
                           "created_at": "2020-03-28T15:23:01", "updated_at": "2020-05-18T16:12:59",
                           "last_login": "2020-06-02T05:38:43"}},
    "extra": {"ip_address": "2804:14c:5ba9:b067:70cc:9baa:5287:19b3"},
}


class UserLogin(EventSubscriber):
    domain = "user"
    name = match(r"user:login:(.*)")
    version = any_()
    subject = match(r"^\d+$")
    attributes = dict(success=True, attempts=gt(2))
    object_type = "user"
    object_version = one_of(1, 2, 3)
    object_current = dict(email=not_(empty()), username=not_(["test", "synthetic"]), created_at=gte(date(2020, 1, 1)))

    def process(self, payload: Any) -> None:
        pass


def test_seed_user_login() -> None:
    p = UserLogin._compile()
    assert p is not None
    canonical = mega.event.Payload.from_dict(SEED_LOGIN).to_dict()
    assert p.matches(canonical)
    low = json.loads(json.dumps(SEED_LOGIN))
    low["event"]["attributes"]["attempts"] = 2
    assert not p.matches(mega.event.Payload.from_dict(low).to_dict())
    synthetic = json.loads(json.dumps(SEED_LOGIN))
    synthetic["object"]["current"]["username"] = "synthetic"
    assert not p.matches(mega.event.Payload.from_dict(synthetic).to_dict())


def test_alias_is_ignored_when_both_are_given() -> None:
    class Both(EventSubscriber):
        event_name = "a"
        name = "b"

        def process(self, payload: Any) -> None:
            pass

    p = Both._compile()
    assert p is not None
    ev = {"protocol": "mega", "version": 1, "event": {"name": "a", "timestamp": "2020-01-01T00:00:00"}}
    assert p.matches(mega.event.Payload.from_dict(ev).to_dict())


def test_functions_evaluate_directly_and_in_the_evaluator() -> None:
    assert and_(gt(5), not_(gt(10)))(7) and not and_(gt(5), not_(gt(10)))(13)
    assert evaluate(7, and_(gt(5), lte(10))) and not evaluate(2, and_(gt(5), lt(10)))
    assert evaluate({"a": [1, 2, 3]}, {"a": [2]})
    assert evaluate(datetime(2020, 3, 1), gte(date(2020, 1, 1)))
    assert evaluate(Decimal("19.99"), lt(20))


def test_a_raising_lambda_is_no_match_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert not evaluate({"a": 1}, {"a": fails})
    assert any("raised" in r.getMessage() for r in caplog.records)


def test_bad_patterns_name_the_place() -> None:
    with pytest.raises(mega.PatternError, match=r"/a/\$gt") as e:
        compile({"a": gt({"x": 1})})
    assert e.value.code == "pattern.invalid"
    with pytest.raises(mega.PatternError):
        compile({"a": match("(")})
    with pytest.raises(mega.PatternError):
        compile({1: "x"})
