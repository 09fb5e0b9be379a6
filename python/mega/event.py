"""MEGA events (seed 002): :class:`Payload`, :class:`Event`, :class:`ObjectData` and :class:`PayloadBuilder`.

``payload.event.name``, ``payload.event.item_id`` (an event attribute), ``payload.object.current``: received
events and built ones read alike. Validation is the core's: an invalid event raises
:class:`mega.errors.InvalidArgumentError` naming the section and field (``event.name is missing``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from . import _native

__all__ = ["Payload", "Event", "ObjectData", "PayloadBuilder"]

_EVENT_FIELDS = ("name", "timestamp", "version", "domain", "subject", "publisher")
_OBJECT_FIELDS = ("type", "id", "version", "current", "previous")


def _now() -> datetime:
    """Now, in UTC, to the millisecond: the precision of BSON date-times, so JSON and BSON round trips agree."""
    t = datetime.now(timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


class Event:
    """The ``event`` section: what happened. Unknown attribute names read ``attributes``."""

    __slots__ = ("name", "timestamp", "version", "domain", "subject", "publisher", "attributes")

    def __init__(
        self,
        name: str,
        timestamp: datetime | None = None,
        version: int | None = None,
        domain: str | None = None,
        subject: str | None = None,
        publisher: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.timestamp = timestamp if timestamp is not None else _now()
        self.version = version
        self.domain = domain
        self.subject = subject
        self.publisher = publisher
        self.attributes: dict[str, Any] = dict(attributes or {})

    def __getattr__(self, key: str) -> Any:
        # Only called for names that are not fields: event attributes (payload.event.item_id).
        try:
            return object.__getattribute__(self, "attributes")[key]
        except KeyError:
            raise AttributeError(f"the event has no field or attribute {key!r}") from None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "timestamp": self.timestamp}
        for f in ("version", "domain", "subject", "publisher"):
            v = getattr(self, f)
            if v is not None:
                d[f] = v
        if self.attributes:
            d["attributes"] = self.attributes
        return d

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> Event:
        return cls(
            d["name"],
            d.get("timestamp"),
            d.get("version"),
            d.get("domain"),
            d.get("subject"),
            d.get("publisher"),
            d.get("attributes"),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Event({self.to_dict()!r})"


class ObjectData:
    """The ``object`` section: the state of the entity the event is about."""

    __slots__ = ("type", "id", "version", "current", "previous")

    def __init__(
        self,
        current: Mapping[str, Any],
        type: str | None = None,
        id: str | None = None,
        version: int | None = None,
        previous: Mapping[str, Any] | None = None,
    ) -> None:
        self.current: dict[str, Any] = dict(current)
        self.type = type
        self.id = id
        self.version = version
        self.previous: dict[str, Any] | None = dict(previous) if previous is not None else None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for f in ("type", "id", "version"):
            v = getattr(self, f)
            if v is not None:
                d[f] = v
        d["current"] = self.current
        if self.previous is not None:
            d["previous"] = self.previous
        return d

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> ObjectData:
        return cls(d["current"], d.get("type"), d.get("id"), d.get("version"), d.get("previous"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectData) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ObjectData({self.to_dict()!r})"


class Payload:
    """A MEGA event payload: ``event``, an optional ``object`` and ``extra``."""

    __slots__ = ("event", "object", "extra")

    def __init__(
        self, event: Event, object: ObjectData | None = None, extra: Mapping[str, Any] | None = None
    ) -> None:
        self.event = event
        self.object = object
        self.extra: dict[str, Any] = dict(extra or {})

    def to_dict(self) -> dict[str, Any]:
        """The protocol's map form (what is published)."""
        d: dict[str, Any] = {"protocol": "mega", "version": 1, "event": self.event.to_dict()}
        if self.object is not None:
            d["object"] = self.object.to_dict()
        if self.extra:
            d["extra"] = self.extra
        return d

    def validate(self) -> Payload:
        """Checks the payload against the protocol (raises :class:`InvalidArgumentError`); returns it."""
        _native.validate_event(self.to_dict())
        return self

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Payload:
        """A payload from its map form, validated (``version`` may be ``1`` or ``"1"``; a timestamp text
        is read as ISO-8601)."""
        return cls._from_canonical(_native.validate_event(dict(d)))

    @classmethod
    def _from_canonical(cls, d: Mapping[str, Any]) -> Payload:
        obj = d.get("object")
        return cls(Event._from(d["event"]), ObjectData._from(obj) if obj else None, d.get("extra"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Payload) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Payload({self.to_dict()!r})"


class PayloadBuilder:
    """Builds a :class:`Payload` as seed 003 shows: ``with_event(name=..., subject=..., item_id=...)`` (names
    that are not event fields become event attributes), ``with_object(current=..., previous=..., type=...,
    id=..., version=...)``, ``with_extra(**values)``, then ``build()``."""

    def __init__(self) -> None:
        self._event: dict[str, Any] | None = None
        self._object: dict[str, Any] | None = None
        self._extra: dict[str, Any] = {}

    def with_event(self, **fields: Any) -> PayloadBuilder:
        event: dict[str, Any] = {}
        attributes: dict[str, Any] = dict(fields.pop("attributes", None) or {})
        for k, v in fields.items():
            if k in _EVENT_FIELDS:
                event[k] = v
            else:
                attributes[k] = v
        if attributes:
            event["attributes"] = attributes
        self._event = event
        return self

    def with_object(self, **fields: Any) -> PayloadBuilder:
        unknown = set(fields) - set(_OBJECT_FIELDS)
        if unknown:
            from .errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"object has no field {sorted(unknown)[0]!r} (fields: {', '.join(_OBJECT_FIELDS)})",
                code="event.invalid",
            )
        self._object = dict(fields)
        return self

    def with_extra(self, **values: Any) -> PayloadBuilder:
        self._extra.update(values)
        return self

    def build(self) -> Payload:
        """The payload, validated: raises :class:`mega.errors.InvalidArgumentError` naming the field."""
        d: dict[str, Any] = {"protocol": "mega", "version": 1}
        if self._event is not None:
            event = dict(self._event)
            event.setdefault("timestamp", _now())
            d["event"] = event
        if self._object is not None:
            d["object"] = self._object
        if self._extra:
            d["extra"] = self._extra
        return Payload.from_dict(d)
