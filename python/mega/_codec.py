"""Decoding and encoding message bodies without a queue (tools, tests, custom consumers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _native
from ._payload import classify

__all__ = ["Decoded", "decode", "encode"]


@dataclass(frozen=True)
class Decoded:
    """A decoded body: ``kind`` (``mega``, ``data``, ``plaintext``, ``binary``, ``none``), the ``payload``
    (a :class:`mega.event.Payload`, ``dict``, ``str``, ``bytes`` or ``None``), the ``encoding`` it was in
    and the SNS envelope's metadata when there was one."""

    kind: str
    payload: Any
    encoding: str | None
    sns: dict[str, Any] | None


def decode(body: str | bytes, encoding: str | None = None) -> Decoded:
    """Decodes any SQS body (JSON, BSON in Base64, plaintext, SNS envelopes); ``encoding`` is the
    ``mega.encoding`` attribute if the message had one. Raises :class:`mega.errors.DecodeError`."""
    kind, enc, value, sns = _native.decode(body, encoding)
    if kind == "mega":
        from .event import Payload

        value = Payload._from_canonical(value)
    return Decoded(kind, value, enc, sns)


def encode(payload: Any, binary_encoding: bool = False) -> tuple[str, str]:
    """``(body, encoding)`` for a payload, as a publisher would send it."""
    kind, value = classify(payload)
    return _native.encode(kind, value, binary_encoding)
