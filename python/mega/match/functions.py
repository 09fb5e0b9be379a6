"""The pattern functions of seed 003. Each returns a :class:`Function`, a description that the core compiles;
nothing here runs per message except the plain callables (lambdas) a pattern holds.

``quantity=and_(gt(5), not_(gt(10)))``, ``name=match(r'user:login:(.*)')``, ``version=one_of(1, 2)``,
``email=not_(empty())``, ``created_at=gte(date(2020, 1, 1))``, ``template=lambda lhs: ...``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Function",
    "eq",
    "gt",
    "gte",
    "lt",
    "lte",
    "match",
    "one_of",
    "not_",
    "and_",
    "or_",
    "any_",
    "empty",
]


class Function:
    """A pattern function and its arguments."""

    __slots__ = ("op", "args")

    def __init__(self, op: str, *args: Any) -> None:
        self.op = op
        self.args = args

    def __call__(self, lhs: Any) -> bool:
        """Evaluates the function against a value (the seed's functions were callables too)."""
        from .evaluation import evaluate

        return evaluate(lhs, self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Function) and (self.op, self.args) == (other.op, other.args)

    def __hash__(self) -> int:
        return hash((self.op, len(self.args)))

    def __repr__(self) -> str:
        name = {"not": "not_", "and": "and_", "or": "or_", "any": "any_"}.get(self.op, self.op)
        return f"{name}({', '.join(map(repr, self.args))})"


def eq(rhs: Any) -> Function:
    """Equal to ``rhs`` (numbers compare by value, numeric strings included; dates at day precision)."""
    return Function("eq", rhs)


def gt(rhs: Any) -> Function:
    """Greater than ``rhs`` (a number, a string, a datetime or a date)."""
    return Function("gt", rhs)


def gte(rhs: Any) -> Function:
    """Greater than or equal to ``rhs``."""
    return Function("gte", rhs)


def lt(rhs: Any) -> Function:
    """Less than ``rhs``."""
    return Function("lt", rhs)


def lte(rhs: Any) -> Function:
    """Less than or equal to ``rhs``."""
    return Function("lte", rhs)


def match(regex: str) -> Function:
    """A string matching the regular expression from its start (as Python's ``re.match``)."""
    return Function("match", regex)


def one_of(*options: Any) -> Function:
    """Any of the options (each a value or a pattern)."""
    return Function("one_of", *options)


def not_(pattern: Any) -> Function:
    """A present value the pattern does not match."""
    return Function("not", pattern)


def and_(*patterns: Any) -> Function:
    """Every pattern matches."""
    return Function("and", *patterns)


def or_(*patterns: Any) -> Function:
    """At least one pattern matches."""
    return Function("or", *patterns)


def any_() -> Function:
    """Any present value (``None`` included)."""
    return Function("any")


def empty() -> Function:
    """``None``, or an empty string, list, dict or bytes."""
    return Function("empty")
