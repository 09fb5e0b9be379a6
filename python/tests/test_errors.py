"""The exception hierarchy is the core's error table; logging goes through the `mega` logger."""

from __future__ import annotations

import logging

import pytest

import mega
import mega.errors
from mega import _native


def test_every_family_has_its_exception_class() -> None:
    table = _native.error_table()
    assert len(table) >= 30
    for code, cls_name, category, summary in table:
        cls = getattr(mega.errors, cls_name)
        assert issubclass(cls, mega.MegaError), code
        assert getattr(mega, cls_name) is cls
        assert category in {"bad_input", "configuration", "transient", "service", "internal"}
        assert summary


def test_raised_errors_carry_code_category_and_detail() -> None:
    with pytest.raises(mega.DecodeError) as e:
        mega.decode("not base64!", "bson")
    assert (e.value.code, e.value.category, e.value.detail) == ("decode.base64", "bad_input", "base64")
    assert isinstance(e.value, ValueError)
    assert "base64" in str(e.value).lower()


def test_core_log_events_reach_the_mega_logger(caplog: pytest.LogCaptureFixture, endpoint: object, sqs: object,
                                               queue: str) -> None:
    """The core's own events (a plaintext nobody takes, deleted) arrive as records of the `mega` logger."""
    from conftest import run_until
    from mega.aws.sqs.subscribe import DataSubscriber, SqsListener

    class S(DataSubscriber):
        def process(self, payload: object) -> None:
            pass

    caplog.set_level(logging.INFO, logger="mega")
    mega._sync_log_level()
    try:
        sqs.send_message(QueueUrl=queue, MessageBody="plain words")  # type: ignore[attr-defined]
        listener = SqsListener(queue, endpoint_url=endpoint.url, region_name="us-east-1",  # type: ignore[attr-defined]
                               wait_time_seconds=1)
        listener.register_subscriber(S)
        run_until(listener, lambda: listener.stats()["deleted"] >= 1)
    finally:
        caplog.set_level(logging.WARNING, logger="mega")
        mega._sync_log_level()
    messages = [r.getMessage() for r in caplog.records if r.name == "mega"]
    assert any("no subscriber takes this plaintext" in m and "kind=plaintext" in m for m in messages), messages
