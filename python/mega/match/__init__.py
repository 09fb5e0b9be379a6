"""Pattern matching: the functions of seed 003 (:mod:`mega.match.functions`), the evaluator
(:mod:`mega.match.evaluation`) and :func:`compile` / :func:`compile_json`, which give a compiled pattern
for repeated use."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .. import _native

__all__ = ["compile", "compile_json", "CompiledPattern"]

CompiledPattern = _native.CompiledPattern


def compile(pattern: Any) -> _native.CompiledPattern:
    """Compiles a pattern of :mod:`mega.match.functions`, literals, dicts, lists, dates and callables."""
    return _native.compile_pattern(pattern)


def compile_json(
    text: str, syntax: str = "mega", callbacks: Mapping[str, Callable[[Any], Any]] | None = None
) -> _native.CompiledPattern:
    """Compiles a pattern of the JSON pattern format (``docs/patterns.md``; ``syntax="eventbridge"`` for
    EventBridge patterns), ``{"$fn": "name"}`` naming a function of ``callbacks``."""
    return _native.compile_json(text, syntax, dict(callbacks) if callbacks else None)
