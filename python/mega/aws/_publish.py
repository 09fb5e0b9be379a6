"""What SQS and SNS publishers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .. import _native
from .._payload import classify
from ..errors import MegaError
from ..trace import TraceContext, _current
from . import settings

__all__ = ["Published", "BatchEntry"]


@dataclass(frozen=True)
class Published:
    """A message the service accepted."""

    message_id: str
    sequence_number: str | None = None


@dataclass
class BatchEntry:
    """One entry of ``publish_batch`` with its own options (a bare payload takes the defaults)."""

    payload: Any
    binary_encoding: bool = False
    attributes: Mapping[str, Any] | None = None
    delay_seconds: int | None = None
    group_id: str | None = None
    deduplication_id: str | None = None
    subject: str | None = None
    traceparent: str | TraceContext | None = None
    _fields: tuple[str, ...] = field(
        default=(
            "binary_encoding",
            "attributes",
            "delay_seconds",
            "group_id",
            "deduplication_id",
            "subject",
            "traceparent",
        ),
        init=False,
        repr=False,
    )

    def _options(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self._fields:
            v = getattr(self, f)
            if v is not None and v is not False:
                out[f] = dict(v) if f == "attributes" else v
        _trace_options(out)
        return out


def _trace_options(options: dict[str, Any]) -> None:
    """The trace a message carries: the ``traceparent`` given, else a new span of the running handler's
    context (:func:`mega.trace.current`), else (``None`` given and no handler) a new trace."""
    given = options.pop("traceparent", None)
    if given is not None:
        options["traceparent"] = str(given)
        return
    running = _current.get()
    if running is not None:
        options["parent_trace"] = running.traceparent


class _Publisher:
    _target = ""

    def __init__(self, address: str, **credentials: Any) -> None:
        self._native = _native.NativePublisher(settings(**credentials), self._target, address)

    def _publish(self, payload: Any, **options: Any) -> Published:
        kind, value = classify(payload)
        if options.get("attributes") is not None:
            options["attributes"] = dict(options["attributes"])
        _trace_options(options)
        r = self._native.publish(kind, value, **options)
        return Published(r["message_id"], r["sequence_number"])

    def publish_batch(self, entries: Iterable[Any]) -> list[Published | MegaError]:
        """Publishes many payloads (or :class:`BatchEntry`), ten per request: one result per entry, in
        order, a :class:`Published` or the :class:`mega.errors.MegaError` that entry met (not raised)."""
        native_entries = []
        for e in entries:
            entry = e if isinstance(e, BatchEntry) else BatchEntry(e)
            kind, value = classify(entry.payload)
            native_entries.append((kind, value, entry._options()))
        out: list[Published | MegaError] = []
        for r in self._native.publish_batch(native_entries):
            out.append(r if isinstance(r, MegaError) else Published(r["message_id"], r["sequence_number"]))
        return out
