"""Amazon SQS and SNS: :mod:`mega.aws.sqs` (publish, subscribe) and :mod:`mega.aws.sns` (publish)."""

from __future__ import annotations

from .. import _native

__all__ = ["settings"]


def settings(
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    aws_session_token: str | None = None,
    profile_name: str | None = None,
) -> _native.Settings:
    """Connection settings with boto3's keyword names; whatever is ``None`` comes from the standard AWS chain
    (environment, ``AWS_ENDPOINT_URL``, ``~/.aws`` files, instance roles)."""
    return _native.Settings(
        region=region_name,
        endpoint_url=endpoint_url,
        access_key_id=aws_access_key_id,
        secret_access_key=aws_secret_access_key,
        session_token=aws_session_token,
        profile=profile_name,
    )
