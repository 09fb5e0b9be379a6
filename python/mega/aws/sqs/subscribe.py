"""Subscribing to an SQS queue (seed 003): subscribers declare patterns and ``process`` what matches; the
:class:`SqsListener` polls, decodes, matches, retries and deletes (in the Rust core, without the GIL).

How handlers run:

* ``def process`` runs on the listener's worker threads (``workers`` of them, each a normal Python thread,
  so ``threading.local`` values persist from one message to the next on a thread);
* ``async def process`` runs on the event loop of ``await listener.listen_async()`` (or, under the blocking
  ``listen()``, on an event loop thread of the listener's own).

What a handler's outcome means:

* ``None`` or ``ProcessStatus.DONE``: done; ``RETRY_LATER`` / ``RETRIABLE_ERROR``: the message comes back
  later (with backoff); ``FATAL_ERROR``: done for good (deleted once every subscriber is done);
* raising :class:`mega.errors.RetriableError` (or a class listed in the subscriber's or the listener's
  ``retry_on``): ``RETRIABLE_ERROR``; raising anything else: ``FATAL_ERROR``, logged with its traceback on
  the ``mega`` logger; returning anything else: ``RETRIABLE_ERROR``, logged with what came back;
* a handler that hangs keeps its message invisible (heartbeat) until it finishes or the listener stops; a
  worker thread that dies releases its message for redelivery. Nothing is counted as done by accident.

``process(self, payload)`` receives the payload; ``process(self, payload, message)`` also receives the
:class:`Message` (id, receive count, attributes, SNS metadata, ``trace``).

Each handler call runs in its message's trace context (:mod:`mega.trace`): ``mega.trace.current()`` is
``message.trace``, and what the handler publishes continues that trace.
"""

from __future__ import annotations

import asyncio
import atexit
import enum
import inspect
import logging
import signal
import threading
import time
import weakref
from datetime import datetime
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar, Iterable, Mapping

from ... import _native
from ...aws import settings as _settings
from ...errors import InvalidArgumentError, RetriableError
from ...event import Payload
from ...trace import TraceContext, _current

__all__ = [
    "ProcessStatus",
    "Message",
    "MessageSubscriber",
    "DataSubscriber",
    "EventSubscriber",
    "SqsListener",
    "InMemoryCompletionStore",
    "RetriableError",
    "TraceContext",
]

logger = logging.getLogger("mega")


class ProcessStatus(enum.IntEnum):
    """What became of a message (seed 001); the numbers are the C ABI's."""

    DONE = 1
    RETRY_LATER = 2
    FATAL_ERROR = 3
    RETRIABLE_ERROR = 4


class Message:
    """What SQS said about a message: ``message_id``, ``receive_count``, ``attributes`` (system),
    ``message_attributes`` (name → ``(data_type, value)``), ``body``, ``group_id``, ``sent_at``, the
    ``encoding`` of the payload and, when it came through SNS, ``sns`` (``message_id``, ``topic_arn``,
    ``subject``, ``timestamp``, ``message_attributes``), and ``trace``: the :class:`mega.trace.TraceContext`
    of its handling (``traceparent``, ``trace_id``, ``span_id``, the sender's ``parent``)."""

    __slots__ = (
        "message_id",
        "receipt_handle",
        "body",
        "receive_count",
        "group_id",
        "sent_at",
        "attributes",
        "message_attributes",
        "encoding",
        "sns",
        "trace",
    )

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    group_id: str | None
    sent_at: datetime | None
    attributes: dict[str, str]
    message_attributes: dict[str, tuple[str, Any]]
    encoding: str | None
    sns: dict[str, Any] | None
    trace: TraceContext

    def __init__(self, fields: Mapping[str, Any], trace: TraceContext) -> None:
        for k in self.__slots__[:-1]:
            setattr(self, k, fields[k])
        self.trace = trace

    def __repr__(self) -> str:
        return f"<Message {self.message_id} receive_count={self.receive_count}>"


class MessageSubscriber:
    """A subscriber to every payload: MEGA events, data objects, plaintext and bytes. An optional
    ``pattern`` is matched against events (their map form) and data objects.

    ``retry_on``: exception classes that mean "try again later" (``RETRIABLE_ERROR``) for this subscriber.
    """

    pattern: ClassVar[Any] = None
    retry_on: ClassVar[tuple[type[BaseException], ...]] = ()
    _kind: ClassVar[str] = "message"

    if TYPE_CHECKING:
        # `process(self, payload)` or `process(self, payload, message)`, `def` or `async def`: any of them
        # overrides this declaration.
        process: Callable[..., ProcessStatus | None | Awaitable[ProcessStatus | None]]
    else:

        def process(self, payload: Any) -> ProcessStatus | None:
            raise NotImplementedError(f"{type(self).__name__} must define process(self, payload)")

    @classmethod
    def _compile(cls) -> _native.CompiledPattern | None:
        return _native.compile_pattern(cls.pattern) if cls.pattern is not None else None


class DataSubscriber(MessageSubscriber):
    """A subscriber to data objects (JSON objects that are not MEGA events), matched by ``pattern`` (a
    partial dict; ``None`` takes them all). ``process`` receives the ``dict``."""

    _kind = "data"


# The seed's table: attribute, alias.
_EVENT_ATTRIBUTES = (
    ("event_name", "name"),
    ("event_domain", "domain"),
    ("event_version", "version"),
    ("event_timestamp", "timestamp"),
    ("event_subject", "subject"),
    ("event_publisher", "publisher"),
    ("event_attributes", "attributes"),
    ("object_type", None),
    ("object_version", None),
    ("object_id", None),
    ("object_current", "current_object"),
    ("object_previous", "previous_object"),
)


class EventSubscriber(MessageSubscriber):
    """A subscriber to MEGA events, matched by class attributes (seed 003's table): ``event_name`` /
    ``name``, ``event_domain`` / ``domain``, ``event_version`` / ``version``, ``event_timestamp`` /
    ``timestamp``, ``event_subject`` / ``subject``, ``event_publisher`` / ``publisher``,
    ``event_attributes`` / ``attributes``, ``object_type``, ``object_version``, ``object_id``,
    ``object_current`` / ``current_object``, ``object_previous`` / ``previous_object``. When an attribute
    and its alias are both given, the alias is ignored. ``process`` receives a :class:`mega.event.Payload`."""

    _kind = "event"

    @classmethod
    def _compile(cls) -> _native.CompiledPattern | None:
        rules: list[tuple[str, Any]] = []
        for name, alias in _EVENT_ATTRIBUTES:
            value = getattr(cls, name, None)
            if value is None and alias is not None:
                value = getattr(cls, alias, None)
            if value is not None and not inspect.isroutine(value):
                rules.append((name, value))
        return _native.compile_event_rules(rules) if rules else None


class InMemoryCompletionStore:
    """Remembers, per message and subscriber, who already succeeded, so that a redelivered message is not
    processed twice by a subscriber that finished it (up to ``capacity`` entries, oldest forgotten first).
    One process only: give ``SqsListener(completion_store=...)`` a URL (``redis://HOST:6379/0``,
    ``dynamodb://TABLE``) for a store every process shares."""

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise InvalidArgumentError(f"capacity must be at least 1, not {capacity}", code="invalid_argument")
        self.capacity = capacity


def _payload_of(kind: str, value: Any) -> Any:
    return Payload._from_canonical(value) if kind == "mega" else value


class _Entry:
    """A registered subscriber: its instance and how to call it."""

    __slots__ = ("name", "instance", "process", "is_async", "wants_message", "retry_on")

    process: Callable[..., Any]

    def __init__(self, name: str, instance: MessageSubscriber, retry_on: tuple[type[BaseException], ...]):
        self.name = name
        self.instance = instance
        self.process = instance.process
        self.is_async = inspect.iscoroutinefunction(self.process)
        try:
            params = [
                p
                for p in inspect.signature(self.process).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
        except (TypeError, ValueError):
            params = []
        self.wants_message = len(params) >= 2
        self.retry_on = tuple(type(instance).retry_on) + retry_on

    def args(self, delivery: _native.Delivery, trace: TraceContext) -> tuple[Any, ...]:
        kind, value = delivery.payload()
        payload = _payload_of(kind, value)
        if self.wants_message:
            return (payload, Message(delivery.message(), trace))
        return (payload,)

    def status_of(self, result: Any) -> ProcessStatus:
        if result is None:
            return ProcessStatus.DONE
        if isinstance(result, ProcessStatus):
            return result
        logger.error(
            "subscriber %s returned %r, which is not a ProcessStatus: counted as RETRIABLE_ERROR",
            self.name,
            result,
        )
        return ProcessStatus.RETRIABLE_ERROR

    def status_of_exception(self, e: BaseException) -> ProcessStatus:
        if isinstance(e, RetriableError) or (self.retry_on and isinstance(e, self.retry_on)):
            logger.warning("subscriber %s: %s: %s (RETRIABLE_ERROR)", self.name, type(e).__name__, e)
            return ProcessStatus.RETRIABLE_ERROR
        if not isinstance(e, Exception):
            # SystemExit, KeyboardInterrupt, GeneratorExit...: not the handler's verdict on the message.
            logger.warning("subscriber %s interrupted (%r): counted as RETRIABLE_ERROR", self.name, e)
            return ProcessStatus.RETRIABLE_ERROR
        logger.error("subscriber %s failed: counted as FATAL_ERROR", self.name, exc_info=e)
        return ProcessStatus.FATAL_ERROR


_live: weakref.WeakSet[SqsListener] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for listener in list(_live):
        listener.stop()


class SqsListener:
    """Listens to one queue and dispatches each message to every registered subscriber it matches.

    The seed's parameters, and more; the defaults are chosen for cost:

    * ``max_number_of_messages=10`` (SQS's maximum, a tenth of the receive calls of the seed's 1);
    * ``wait_time_seconds=20`` (long polling: an idle queue costs 3 requests a minute);
    * ``visibility_timeout=None``: the queue's own; a message still being processed has its visibility
      extended (heartbeat), so a slow handler never has its message given to another consumer;
    * ``max_in_flight=100`` messages received and not yet finished (a receive asks for 10 only when 10 can be
      taken, so fewer in flight means more receive calls); ``workers=10`` threads run ``def`` handlers;
      ``pollers=1``; ``shutdown_grace=30`` seconds for work in flight when stopping;
    * retries back off from ``retry_base=2`` seconds, doubling per receive, up to ``retry_max=900``;
    * ``unmatched="delete"``, ``raw="delete"`` (plaintext and binary when no MessageSubscriber takes them:
      seed 001), ``invalid="keep"`` (undecodable bodies stay, for the dead-letter queue);
    * ``completion_store``: skip subscribers that already succeeded on a redelivered message (off by
      default): an :class:`InMemoryCompletionStore`, or a store URL: ``"memory"``,
      ``"redis://HOST:6379/0"`` (``rediss://`` for TLS), ``"dynamodb://TABLE?region=..."``, each taking
      ``lease=30s`` and ``ttl=24h``; a bad URL raises :class:`mega.errors.ListenerError` naming it;
    * ``idempotency_key``: the completion store's key of a message, a dotted path into its payload
      (``"order_id"``, ``"data.order_id"`` in an event) whose string or integer is a business key, so that two
      messages for the same work run once (default: the message id);
    * ``metrics_addr``: serve Prometheus metrics (``GET /metrics``) while listening, on ``9464``
      (loopback), ``"0.0.0.0:9464"``, or port 0 for a free one (see :attr:`metrics_address`);
    * ``retry_on``: exception classes that mean ``RETRIABLE_ERROR`` for every subscriber.

    Credentials, region and endpoint come from the standard AWS chain unless given.
    """

    def __init__(
        self,
        queue_url: str,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        region_name: str | None = None,
        max_number_of_messages: int = 10,
        wait_time_seconds: int = 20,
        visibility_timeout: int | None = None,
        *,
        endpoint_url: str | None = None,
        aws_session_token: str | None = None,
        profile_name: str | None = None,
        max_in_flight: int = 100,
        workers: int = 10,
        pollers: int = 1,
        shutdown_grace: float = 30.0,
        heartbeat: bool = True,
        retry_base: float = 2.0,
        retry_max: float = 900.0,
        unmatched: str = "delete",
        raw: str = "delete",
        invalid: str = "keep",
        completion_store: InMemoryCompletionStore | str | None = None,
        metrics_addr: str | int | None = None,
        idempotency_key: str | None = None,
        retry_on: Iterable[type[BaseException]] = (),
    ) -> None:
        if completion_store is not None and not isinstance(completion_store, (InMemoryCompletionStore, str)):
            raise InvalidArgumentError(
                f"completion_store must be an InMemoryCompletionStore or a store URL, not {completion_store!r}",
                code="invalid_argument",
            )
        self.queue_url = queue_url
        self._native = _native.NativeListener(
            queue_url,
            settings=_settings(
                aws_access_key_id,
                aws_secret_access_key,
                region_name,
                endpoint_url,
                aws_session_token,
                profile_name,
            ),
            max_number_of_messages=max_number_of_messages,
            wait_time_seconds=wait_time_seconds,
            visibility_timeout=visibility_timeout,
            pollers=pollers,
            max_in_flight=max_in_flight,
            shutdown_grace=shutdown_grace,
            heartbeat=heartbeat,
            retry_base=retry_base,
            retry_max=retry_max,
            unmatched=unmatched,
            raw=raw,
            invalid=invalid,
            completion_store_capacity=(
                completion_store.capacity if isinstance(completion_store, InMemoryCompletionStore) else None
            ),
            completion_store_url=completion_store if isinstance(completion_store, str) else None,
            metrics_addr=str(metrics_addr) if metrics_addr is not None else None,
            idempotency_key=idempotency_key,
        )
        if workers < 1:
            raise InvalidArgumentError(f"workers must be at least 1, not {workers}", code="invalid_argument")
        self._workers_count = workers
        self._retry_on = tuple(retry_on)
        self._entries: dict[str, _Entry] = {}
        self._types: set[type] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_stats: dict[str, Any] | None = None
        _live.add(self)

    # -- registration -------------------------------------------------------------------------------------

    def register_subscriber(self, subscriber: type[MessageSubscriber]) -> None:
        """Registers a subscriber class (made once, with no arguments). A class can be registered once."""
        if not isinstance(subscriber, type) or not issubclass(subscriber, MessageSubscriber):
            raise InvalidArgumentError(
                f"register_subscriber takes a subclass of MessageSubscriber, DataSubscriber or EventSubscriber, "
                f"not {subscriber!r}",
                code="invalid_argument",
            )
        if subscriber in self._types:
            from ...errors import ListenerError

            raise ListenerError(
                f"the subscriber {subscriber.__qualname__} is registered already (a type is registered once)",
                code="listener.duplicate_subscriber",
            )
        name = base = f"{subscriber.__module__}.{subscriber.__qualname__}"
        n = 1
        while name in self._entries:  # another class of the same name (made by a factory, say)
            n += 1
            name = f"{base}#{n}"
        entry = _Entry(name, subscriber(), self._retry_on)
        self._native.subscribe(name, subscriber._kind, subscriber._compile())
        self._entries[name] = entry
        self._types.add(subscriber)

    @property
    def subscribers(self) -> list[type[MessageSubscriber]]:
        return [type(e.instance) for e in self._entries.values()]

    # -- running ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stops listening: no new messages; work in flight finishes (up to ``shutdown_grace``); the rest is
        released for redelivery; ``listen()`` returns. From any thread, a handler or a signal handler."""
        self._native.stop()

    @property
    def running(self) -> bool:
        return self._native.running

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the metrics endpoint while listening with ``metrics_addr`` (the port picked
        for port 0), else ``None``."""
        return self._native.metrics_addr

    def stats(self) -> dict[str, Any]:
        """The counters of the current or last run (received, done, retried, deleted, requests per message...)."""
        return self._native.stats()

    def _complete(self, entry: _Entry, delivery: _native.Delivery, status: ProcessStatus) -> None:
        if not delivery.complete(int(status)):
            logger.warning(
                "subscriber %s finished after the listener gave up on its message (released for redelivery)",
                entry.name,
            )

    def _handle_sync(self, entry: _Entry, delivery: _native.Delivery) -> None:
        trace = TraceContext(*delivery.trace())
        token = _current.set(trace)
        try:
            status = entry.status_of(entry.process(*entry.args(delivery, trace)))
        except BaseException as e:  # noqa: BLE001 - every outcome must become a status
            status = entry.status_of_exception(e)
        finally:
            _current.reset(token)
        self._complete(entry, delivery, status)

    async def _handle_async(self, entry: _Entry, delivery: _native.Delivery) -> None:
        # The task runs in its own copy of the context: the variable is set for this handler alone.
        trace = TraceContext(*delivery.trace())
        _current.set(trace)
        try:
            status = entry.status_of(await entry.process(*entry.args(delivery, trace)))
        except asyncio.CancelledError:
            self._complete(entry, delivery, ProcessStatus.RETRIABLE_ERROR)
            raise
        except BaseException as e:  # noqa: BLE001
            status = entry.status_of_exception(e)
        self._complete(entry, delivery, status)

    def _start_async(self, entry: _Entry, delivery: _native.Delivery) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._handle_async(entry, delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _work(self) -> None:
        native = self._native
        entries = self._entries
        while True:
            delivery = native.next(0.1)
            if delivery is None:
                if not native.running:
                    return
                continue
            entry = entries[delivery.subscriber]
            if entry.is_async:
                loop = self._loop
                if loop is None or loop.is_closed():
                    delivery.complete(int(ProcessStatus.RETRIABLE_ERROR))
                else:
                    loop.call_soon_threadsafe(self._start_async, entry, delivery)
            else:
                self._handle_sync(entry, delivery)
            del delivery

    def _start(self) -> list[threading.Thread]:
        if not self._entries:
            raise InvalidArgumentError("no subscriber is registered", code="invalid_argument")
        from ... import _sync_log_level

        _sync_log_level()  # the `mega` logger's level as it is now decides which core events cross over
        self._native.start()
        sync = any(not e.is_async for e in self._entries.values())
        count = self._workers_count if sync else 1
        workers = [
            threading.Thread(target=self._work, name=f"mega-worker-{i}", daemon=True) for i in range(count)
        ]
        for w in workers:
            w.start()
        return workers

    def _end(self, workers: list[threading.Thread]) -> dict[str, Any]:
        # Idle workers see the end within 0.1 s. A worker still inside a handler that overran the shutdown
        # grace is left to finish on its own (a daemon thread; its message was released already).
        deadline = time.monotonic() + 0.5
        for w in workers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
        stats = self._native.finish()
        self._last_stats = stats
        return stats

    def listen(self) -> dict[str, Any]:
        """Listens until stopped, blocking this thread (seed 003), and returns the run's counters.

        On the main thread, SIGTERM stops gracefully (work in flight finishes, the rest is released) and so
        does Ctrl-C, after which ``KeyboardInterrupt`` is raised again; a second Ctrl-C stops waiting at once.
        Elsewhere, call :meth:`stop`. ``async def`` subscribers run on an event loop thread of the listener's.
        """
        own_loop: asyncio.AbstractEventLoop | None = None
        loop_thread: threading.Thread | None = None
        if any(e.is_async for e in self._entries.values()):
            own_loop = asyncio.new_event_loop()
            loop_thread = threading.Thread(target=own_loop.run_forever, name="mega-asyncio", daemon=True)
            loop_thread.start()
            self._loop = own_loop
        main = threading.current_thread() is threading.main_thread()
        previous: Any = None
        if main:
            previous = signal.signal(signal.SIGTERM, lambda _s, _f: self.stop())
        try:
            workers = self._start()
            try:
                while not self._native.wait(0.1):
                    pass
            except KeyboardInterrupt:
                self.stop()
                while not self._native.wait(0.1):  # a second Ctrl-C ends the wait at once
                    pass
                self._end(workers)
                raise
            return self._end(workers)
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
            if own_loop is not None and loop_thread is not None:
                own_loop.call_soon_threadsafe(own_loop.stop)
                loop_thread.join(timeout=5)
                own_loop.close()
                self._loop = None

    async def listen_async(self) -> dict[str, Any]:
        """Listens until stopped (or cancelled), from a coroutine: ``async def`` subscribers run on the running
        event loop, ``def`` subscribers on worker threads. SIGTERM and SIGINT stop gracefully when the loop
        runs on the main thread (handlers installed with ``loop.add_signal_handler`` and removed after)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        installed: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(sig, self.stop)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError):
                    pass
        try:
            workers = self._start()
            try:
                await loop.run_in_executor(None, self._wait_end)
            except asyncio.CancelledError:
                self.stop()
                await asyncio.shield(loop.run_in_executor(None, self._wait_end))
                raise
            finally:
                if self._tasks:
                    await asyncio.gather(*list(self._tasks), return_exceptions=True)
            return self._end(workers)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            self._loop = None

    def _wait_end(self) -> None:
        while not self._native.wait(1.0):
            pass

    def __repr__(self) -> str:
        return f"SqsListener({self.queue_url!r}, subscribers={len(self._entries)})"
