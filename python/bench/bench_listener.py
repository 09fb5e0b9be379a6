"""Python listener benchmark, one run, figures side by side (medians of ROUNDS rounds).

    bash python/bench/run.sh          # builds the release wheel into .venv-bench and runs this

On the embedded endpoint (in-process), draining MESSAGES preloaded no-op messages:
  (a) a Python ``def`` subscriber, (b) an ``async def`` subscriber (on the caller's event loop),
  (c) the same listener with a native Rust handler, (d) the seed's boto3 loop (receive 1, delete 1),
  (e) Celery with its SQS broker draining no-op tasks (when celery[sqs] is installed);
and a CPU-bound Python thread's speed beside the busy listener (a), next to the same thread alone.
Goals (issue 12): (a) >= 70% of (c), (a) >= 20x (d), <= 0.21 requests per message, CPU thread >= 80%.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
import uuid
from typing import Any, Callable

import boto3

from mega import _native
from mega.aws import settings as make_settings
from mega.aws.sqs.publish import SqsPublisher
from mega.aws.sqs.subscribe import DataSubscriber, SqsListener
from mega.local import LocalEndpoint

MESSAGES = int(os.environ.get("MEGA_BENCH_MESSAGES", "20000"))
PEER_MESSAGES = int(os.environ.get("MEGA_BENCH_PEER_MESSAGES", "1000"))
ROUNDS = int(os.environ.get("MEGA_BENCH_ROUNDS", "3"))
POLLERS = 2
IN_FLIGHT = 100


def preload(ep: LocalEndpoint, count: int) -> str:
    url = ep.create_queue(f"bench-{uuid.uuid4().hex[:10]}")
    pub = SqsPublisher(url, **ep.connection)
    batch = [{"type": "order", "n": n} for n in range(count)]
    for i in range(0, count, 1000):
        assert all(not isinstance(r, Exception) for r in pub.publish_batch(batch[i : i + 1000]))
    return url


def python_drain(ep: LocalEndpoint, asynchronous: bool) -> tuple[float, float]:
    url = preload(ep, MESSAGES)
    count = [0]
    lock = threading.Lock()
    listener = SqsListener(url, **ep.connection, wait_time_seconds=1, pollers=POLLERS, max_in_flight=IN_FLIGHT)

    def seen() -> None:
        with lock:
            count[0] += 1
            if count[0] == MESSAGES:
                listener.stop()

    if asynchronous:

        class AsyncNoOp(DataSubscriber):
            async def process(self, payload: dict[str, Any]) -> None:
                seen()

        listener.register_subscriber(AsyncNoOp)

        async def main() -> dict[str, Any]:
            return await listener.listen_async()

        t0 = time.perf_counter()
        stats = asyncio.run(main())
    else:

        class NoOp(DataSubscriber):
            def process(self, payload: dict[str, Any]) -> None:
                seen()

        listener.register_subscriber(NoOp)
        t0 = time.perf_counter()
        stats = listener.listen()
    seconds = time.perf_counter() - t0
    assert stats["done"] == MESSAGES, stats
    return MESSAGES / seconds, stats["requests_per_message"]


def rust_drain(ep: LocalEndpoint) -> tuple[float, float]:
    url = preload(ep, MESSAGES)
    s = make_settings(ep.connection["aws_access_key_id"], ep.connection["aws_secret_access_key"], "us-east-1", ep.url)
    seconds, stats = _native._bench_rust_drain(url, s, MESSAGES, POLLERS, IN_FLIGHT)
    assert stats["done"] == MESSAGES, stats
    return MESSAGES / seconds, stats["requests_per_message"]


def boto3_loop(ep: LocalEndpoint) -> tuple[float, float]:
    """The seed's own loop: receive 1 message, handle it, delete it."""
    url = preload(ep, PEER_MESSAGES)
    sqs = boto3.client("sqs", **ep.connection)
    done = requests = 0
    t0 = time.perf_counter()
    while done < PEER_MESSAGES:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
        requests += 1
        for m in got.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            requests += 1
            done += 1
    return done / (time.perf_counter() - t0), requests / done


def celery_drain(ep: LocalEndpoint) -> tuple[float, float] | None:
    try:
        import celery  # noqa: F401
        import kombu.transport.SQS  # noqa: F401
    except ImportError:
        return None
    from celery_bench import run  # python/bench/celery_bench.py

    return run(ep, PEER_MESSAGES)


def cpu_work(stop: threading.Event, out: list[int]) -> None:
    n = 0
    while not stop.is_set():
        sum(i * i for i in range(1000))
        n += 1
    out.append(n)


def cpu_thread_speed(ep: LocalEndpoint) -> tuple[float, float]:
    """Iterations per second of a CPU-bound Python thread alone, then beside a busy listener (a)."""

    def measure(during: Callable[[], None] | None, seconds: float = 2.0) -> float:
        stop = threading.Event()
        out: list[int] = []
        t = threading.Thread(target=cpu_work, args=(stop, out))
        t0 = time.perf_counter()
        t.start()
        if during is None:
            time.sleep(seconds)
        else:
            during()
        stop.set()
        t.join()
        return out[0] / (time.perf_counter() - t0)

    alone = measure(None)
    beside = measure(lambda: python_drain(ep, False))
    return alone, beside


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> int:
    print(f"Python listener benchmark: {MESSAGES} messages per drain ({PEER_MESSAGES} for the peers), "
          f"{ROUNDS} rounds, pollers={POLLERS}, max_in_flight={IN_FLIGHT}, workers=10 (the default), Python {sys.version.split()[0]}\n")
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in "abcde"}
    cpu: list[tuple[float, float]] = []
    with LocalEndpoint() as ep:
        for r in range(ROUNDS):
            rows["c"].append(rust_drain(ep))
            rows["a"].append(python_drain(ep, False))
            rows["b"].append(python_drain(ep, True))
            rows["d"].append(boto3_loop(ep))
            e = celery_drain(ep)
            if e is not None:
                rows["e"].append(e)
            cpu.append(cpu_thread_speed(ep))
            print(f"round {r + 1}: " + ", ".join(f"({k}) {v[-1][0]:,.0f} msg/s" for k, v in rows.items() if v))
    names = {
        "a": "(a) Python def subscriber",
        "b": "(b) Python async def subscriber",
        "c": "(c) native Rust handler",
        "d": "(d) seed's boto3 loop (receive 1, delete 1)",
        "e": "(e) Celery, SQS broker, no-op tasks",
    }
    print(f"\n{'':46} {'msg/s':>10} {'req/msg':>8} {'vs (c)':>7} {'vs (d)':>8}")
    med = {k: (median([x[0] for x in v]), median([x[1] for x in v])) for k, v in rows.items() if v}
    for k, (rate, rpm) in med.items():
        print(f"{names[k]:46} {rate:>10,.0f} {rpm:>8.3f} {rate / med['c'][0]:>6.0%} {rate / med['d'][0]:>7.1f}x")
    if "e" not in med:
        print(f"{names['e']:46} {'not installed (pip install celery[sqs]; needs libcurl headers)':>40}")
    alone = median([c[0] for c in cpu])
    beside = median([c[1] for c in cpu])
    print(f"\nCPU-bound Python thread: alone {alone:,.0f} it/s, beside the busy listener (a) {beside:,.0f} it/s "
          f"= {beside / alone:.0%} of its speed")
    a, c, d = med["a"][0], med["c"][0], med["d"][0]
    print(f"\ngoals: (a) >= 70% of (c): {a / c:.0%}; (a) >= 20x (d): {a / d:.1f}x; "
          f"<= 0.21 requests/message: {med['a'][1]:.3f}; CPU thread >= 80%: {beside / alone:.0%}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
