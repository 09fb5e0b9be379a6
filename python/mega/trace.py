"""Trace context across services and languages: the W3C ``traceparent`` every publisher sends as a message
attribute, and what a handler sees of it.

* ``message.trace`` (a :class:`TraceContext`) is the context of the message's handling: a child span of the
  sender's (same ``trace_id``, a new ``span_id``), or a new trace when the message carried none; ``parent``
  is the sender's ``traceparent`` (or ``None``).
* While a handler runs (``def`` or ``async def``), :func:`current` returns that context, and every publish
  made from it continues the trace (a new span of the same trace) unless given ``traceparent=``.
* Outside handlers, a publish starts a new trace, or sends the ``traceparent`` it is given.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

__all__ = ["TraceContext", "current"]


@dataclass(frozen=True)
class TraceContext:
    """One span's place in a trace: ``traceparent`` (``00-<trace_id>-<span_id>-<flags>``), its ``trace_id``
    (32 hex digits) and ``span_id`` (16), and ``parent``: the sender's ``traceparent``, if any."""

    traceparent: str
    parent: str | None = None

    @property
    def trace_id(self) -> str:
        return self.traceparent[3:35]

    @property
    def span_id(self) -> str:
        return self.traceparent[36:52]

    @property
    def sampled(self) -> bool:
        return int(self.traceparent[53:55], 16) & 1 == 1

    @property
    def parent_span_id(self) -> str | None:
        return self.parent[36:52] if self.parent is not None else None

    def __str__(self) -> str:
        return self.traceparent


_current: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar("mega_trace", default=None)


def current() -> TraceContext | None:
    """The context of the handler running in this thread or task, or ``None`` outside handlers."""
    return _current.get()
