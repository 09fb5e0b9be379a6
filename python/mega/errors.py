"""The exceptions of sqs-mega: one class per family of the core's error table (``docs/errors.md``).

Every exception raised by the library is a :class:`MegaError` and carries the core's stable ``code``
(``"decode.base64"``), its ``category`` (``bad_input``, ``configuration``, ``transient``, ``service``,
``internal``) and a ``detail`` (a decode reason, the path inside a pattern, the service's error code).
Bad input is also a :class:`ValueError`, so code written against the standard exceptions keeps working.
"""

from __future__ import annotations

__all__ = [
    "MegaError",
    "JsonError",
    "DecodeError",
    "EncodeError",
    "PatternError",
    "InvalidArgumentError",
    "PublishError",
    "ServiceError",
    "ListenerError",
    "BusyError",
    "HandlerError",
    "RetriableError",
]


class MegaError(Exception):
    """Base class of every sqs-mega exception."""

    code: str = "mega"
    category: str = "internal"
    detail: str | None = None

    def __init__(self, message: str = "", *, code: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.detail = detail


class JsonError(MegaError, ValueError):
    """Text that should be JSON is not."""


class DecodeError(MegaError, ValueError):
    """A message body could not be decoded (``detail`` is the reason: ``base64``, ``invalid_event``...)."""


class EncodeError(MegaError, ValueError):
    """A payload could not be encoded into a message body."""


class PatternError(MegaError, ValueError):
    """A pattern could not be compiled (``detail`` is where, inside the pattern)."""


class InvalidArgumentError(MegaError, ValueError):
    """An argument, option, attribute or MEGA event breaks a rule (the message names it)."""


class PublishError(MegaError):
    """SQS or SNS refused one message or batch entry."""


class ServiceError(MegaError):
    """A call to SQS or SNS failed (``detail`` is the service's error code)."""


class ListenerError(MegaError):
    """The listener could not start or had to stop (bad settings, a queue that cannot be used)."""


class BusyError(MegaError, RuntimeError):
    """The listener is already running."""


class HandlerError(MegaError):
    """A handler failed (reported in logs and counters, never raised to a caller)."""


class RetriableError(MegaError):
    """Raise it (or a subclass) from ``process`` to say the failure is transient: the message's status is
    ``RETRIABLE_ERROR`` and it comes back later. Any other exception is a ``FATAL_ERROR``, unless its class is
    listed in the subscriber's ``retry_on`` or the listener's ``retry_on``."""

    code = "handler.retriable"
    category = "transient"
