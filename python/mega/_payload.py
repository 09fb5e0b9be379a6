"""How a Python object travels: which kind of MEGA payload it is."""

from __future__ import annotations

from typing import Any

from .errors import InvalidArgumentError


def classify(payload: Any) -> tuple[str, Any]:
    """``(kind, value)`` for the core: a MEGA event (its dict), a data object, plaintext or bytes."""
    from .event import Payload

    if isinstance(payload, Payload):
        return "mega", payload.to_dict()
    if isinstance(payload, dict):
        return "data", payload
    if isinstance(payload, str):
        return "plaintext", payload
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return "binary", bytes(payload)
    raise InvalidArgumentError(
        f"cannot publish a {type(payload).__name__}: a payload is a mega.event.Payload, a dict (data object), "
        "a str (plaintext) or bytes",
        code="invalid_argument",
    )
