"""Publishing to an SQS queue (seed 003): ``SqsPublisher(queue_url=...).publish(payload)``."""

from __future__ import annotations

from typing import Any, Mapping

from ...trace import TraceContext
from .._publish import BatchEntry, Published, _Publisher

__all__ = ["SqsPublisher", "Published", "BatchEntry"]


class SqsPublisher(_Publisher):
    """Sends MEGA events (:class:`mega.event.Payload`), data objects (``dict``), plaintext (``str``) and
    ``bytes`` to one queue. Credentials, region and endpoint default to the standard AWS chain."""

    _target = "queue"

    def __init__(
        self,
        queue_url: str,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        aws_session_token: str | None = None,
        profile_name: str | None = None,
    ) -> None:
        self.queue_url = queue_url
        super().__init__(
            queue_url,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            region_name=region_name,
            endpoint_url=endpoint_url,
            aws_session_token=aws_session_token,
            profile_name=profile_name,
        )

    def publish(
        self,
        payload: Any,
        binary_encoding: bool = False,
        *,
        attributes: Mapping[str, Any] | None = None,
        delay_seconds: int | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        traceparent: str | TraceContext | None = None,
    ) -> Published:
        """Encodes (JSON, or BSON in Base64 with ``binary_encoding``) and sends one payload. ``attributes``:
        ``str`` values are String, numbers Number, ``bytes`` Binary, ``(data_type, value)`` any type.
        ``traceparent``: the trace context to send (default: a new span of the running handler's, else a new
        trace; see :mod:`mega.trace`)."""
        return self._publish(
            payload,
            binary_encoding=binary_encoding,
            attributes=attributes,
            delay_seconds=delay_seconds,
            group_id=group_id,
            deduplication_id=deduplication_id,
            traceparent=traceparent,
        )
