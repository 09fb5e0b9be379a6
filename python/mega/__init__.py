"""sqs-mega: async task processing, event streaming and pattern matching over Amazon SQS and SNS, with the
MEGA event protocol, on a Rust core.

Modules (seed 003): :mod:`mega.event`, :mod:`mega.match.functions`, :mod:`mega.aws.sqs.publish`,
:mod:`mega.aws.sns`, :mod:`mega.aws.sqs.subscribe`; and :mod:`mega.local` (an embedded endpoint for tests).
"""

from __future__ import annotations

import logging

from . import _native
from .errors import (
    BusyError,
    DecodeError,
    EncodeError,
    HandlerError,
    InvalidArgumentError,
    JsonError,
    ListenerError,
    MegaError,
    PatternError,
    PublishError,
    RetriableError,
    ServiceError,
)

__version__: str = _native.__version__

__all__ = [
    "__version__",
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
    "decode",
    "encode",
    "Decoded",
]

logger = logging.getLogger("mega")


def _sync_log_level() -> None:
    _native.set_log_level(logger.getEffectiveLevel())


_sync_log_level()

from ._codec import Decoded, decode, encode  # noqa: E402
