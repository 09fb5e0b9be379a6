"""The seed package's evaluator, for tests and tools: ``evaluate(lhs, rhs)``, the payload value against the
pattern, by the core's matcher (the same rules a listener applies)."""

from __future__ import annotations

from typing import Any

from .. import _native

__all__ = ["evaluate"]


def evaluate(lhs: Any, rhs: Any) -> bool:
    """Whether the value ``lhs`` matches the pattern ``rhs``."""
    return _native.evaluate(lhs, rhs)
