"""The embedded SQS + SNS endpoint, in-process, for tests and demos: no AWS account, no Docker, no second
process.

    with LocalEndpoint() as ep:
        sqs = boto3.client("sqs", endpoint_url=ep.url, region_name="us-east-1")
"""

from __future__ import annotations

import os
from types import TracebackType

from . import _native

__all__ = ["LocalEndpoint"]


class LocalEndpoint:
    """A running endpoint on loopback. ``port=0`` picks a free port; ``data_dir`` makes it durable."""

    def __init__(
        self, port: int = 0, region: str = "us-east-1", data_dir: str | os.PathLike[str] | None = None
    ) -> None:
        self.region = region
        self._native = _native.NativeLocal(port=port, region=region, data_dir=data_dir)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: give it as ``endpoint_url``."""
        return self._native.url

    def close(self) -> None:
        """Stops the endpoint (its queues are gone unless it is durable)."""
        self._native.close()

    def __enter__(self) -> LocalEndpoint:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalEndpoint({self.url})"
