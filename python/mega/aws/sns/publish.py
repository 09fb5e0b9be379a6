"""Publishing to an SNS topic (seed 003): ``SnsPublisher(topic_arn=...).publish(payload)``."""

from __future__ import annotations

from typing import Any, Mapping

from ...trace import TraceContext
from .._publish import BatchEntry, Published, _Publisher

__all__ = ["SnsPublisher", "Published", "BatchEntry"]


class SnsPublisher(_Publisher):
    """Publishes MEGA events, data objects, plaintext and ``bytes`` to one topic; subscribed queues receive
    them raw or in the SNS envelope, and listeners unwrap either transparently."""

    _target = "topic"

    def __init__(
        self,
        topic_arn: str,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        aws_session_token: str | None = None,
        profile_name: str | None = None,
    ) -> None:
        self.topic_arn = topic_arn
        super().__init__(
            topic_arn,
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
        subject: str | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        traceparent: str | TraceContext | None = None,
    ) -> Published:
        """Encodes and publishes one payload; ``subject`` is the notification's subject."""
        return self._publish(
            payload,
            binary_encoding=binary_encoding,
            attributes=attributes,
            subject=subject,
            group_id=group_id,
            deduplication_id=deduplication_id,
            traceparent=traceparent,
        )
