"""The Rust half of the package (PyO3). Private: use the modules of `mega`."""

from collections.abc import Callable, Mapping
from typing import Any, final

__all__ = [
    "__version__",
    "decode",
    "encode",
    "validate_event",
    "compile_pattern",
    "compile_event_rules",
    "compile_json",
    "evaluate",
    "set_log_level",
    "error_table",
    "CompiledPattern",
    "Settings",
    "NativePublisher",
    "NativeListener",
    "Delivery",
    "NativeLocal",
    "_bench_rust_drain",
]

__version__: str

def decode(
    body: str | bytes, encoding: str | None = None
) -> tuple[str, str | None, Any, dict[str, Any] | None]: ...
def encode(kind: str, value: Any, binary_encoding: bool = False) -> tuple[str, str]: ...
def validate_event(payload: Any) -> dict[str, Any]: ...
def compile_pattern(pattern: Any) -> CompiledPattern: ...
def compile_event_rules(rules: list[tuple[str, Any]]) -> CompiledPattern: ...
def compile_json(
    text: str, syntax: str = "mega", callbacks: Mapping[str, Callable[[Any], Any]] | None = None
) -> CompiledPattern: ...
def evaluate(lhs: Any, rhs: Any) -> bool: ...
def set_log_level(level: int) -> None: ...
def error_table() -> list[tuple[str, str, str, str]]: ...
def _bench_rust_drain(
    queue_url: str, settings: Settings, count: int, pollers: int, max_in_flight: int
) -> tuple[float, dict[str, Any]]: ...
@final
class CompiledPattern:
    def matches(self, value: Any) -> bool: ...
    def explain(self, value: Any) -> str | None: ...

@final
class Settings:
    def __new__(
        cls,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
    ) -> Settings: ...

@final
class NativePublisher:
    def __new__(cls, settings: Settings, target: str, address: str) -> NativePublisher: ...
    def publish(
        self,
        kind: str,
        value: Any,
        *,
        binary_encoding: bool = False,
        attributes: dict[str, Any] | None = None,
        delay_seconds: int | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        subject: str | None = None,
        traceparent: str | None = None,
        parent_trace: str | None = None,
    ) -> dict[str, Any]: ...
    def publish_batch(self, entries: list[tuple[str, Any, dict[str, Any]]]) -> list[Any]: ...

@final
class NativeListener:
    def __new__(
        cls,
        queue_url: str,
        *,
        settings: Settings,
        max_number_of_messages: int,
        wait_time_seconds: int,
        visibility_timeout: int | None,
        pollers: int,
        max_in_flight: int,
        shutdown_grace: float,
        heartbeat: bool,
        retry_base: float,
        retry_max: float,
        unmatched: str,
        raw: str,
        invalid: str,
        completion_store_capacity: int | None,
        completion_store_url: str | None = None,
        metrics_addr: str | None = None,
        idempotency_key: str | None = None,
    ) -> NativeListener: ...
    def subscribe(self, name: str, kind: str, pattern: CompiledPattern | None = None) -> None: ...
    def start(self) -> None: ...
    def wait(self, timeout: float) -> bool: ...
    def finish(self) -> dict[str, Any]: ...
    def stop(self) -> None: ...
    @property
    def running(self) -> bool: ...
    def next(self, timeout: float) -> Delivery | None: ...
    @property
    def metrics_addr(self) -> tuple[str, int] | None: ...
    def stats(self) -> dict[str, Any]: ...

@final
class Delivery:
    @property
    def subscriber(self) -> str: ...
    def payload(self) -> tuple[str, Any]: ...
    def message(self) -> dict[str, Any]: ...
    def trace(self) -> tuple[str, str | None]: ...
    def complete(self, status: int) -> bool: ...
    @property
    def pending(self) -> bool: ...

@final
class NativeLocal:
    def __new__(cls, *, port: int = 0, region: str | None = None, data_dir: Any = None) -> NativeLocal: ...
    @property
    def url(self) -> str: ...
    def create_queue(self, name: str, attributes: dict[str, str] | None = None) -> str: ...
    def create_topic(self, name: str) -> str: ...
    def subscribe(self, topic_arn: str, queue: str, raw: bool = False) -> str: ...
    def queue_counts(self, queue_url: str) -> tuple[int, int]: ...
    def close(self) -> None: ...

