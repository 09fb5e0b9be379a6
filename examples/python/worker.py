"""A worker: ``python examples/python/worker.py QUEUE_URL``.

Subscribes to every data object and MEGA event of the queue and prints one line per message handled, its
message id first (``ID event NAME attempt N`` / ``ID data JSON``). Region, credentials and endpoint come from
the standard AWS environment (``AWS_REGION``, ``AWS_ACCESS_KEY_ID``..., ``AWS_ENDPOINT_URL`` for the embedded
endpoint of ``mega local``). SIGTERM or Ctrl-C stops it gracefully (work in flight finishes), exit code 0.

``MEGA_COMPLETION_STORE`` chooses where subscribers' completions are kept, so that a message delivered twice
is handled once: ``memory``, ``redis://HOST:6379/0``, ``dynamodb://TABLE`` (unset: no store); an invalid URL
exits with code 1 and says why. ``MEGA_METRICS_ADDR`` (``9464``, ``0.0.0.0:9464``) serves Prometheus metrics
at ``/metrics``. Each line's handler runs in its message's trace (``message.trace``): what it would publish
continues that trace.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

from mega.errors import MegaError
from mega.aws.sqs.subscribe import DataSubscriber, EventSubscriber, Message, SqsListener
from mega.event import Payload


_out = threading.Lock()


def say(line: str) -> None:
    """One whole line at a time: handlers run on several threads."""
    with _out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Events(EventSubscriber):
    def process(self, payload: Payload, message: Message) -> None:
        say(f"{message.message_id} event {payload.event.name} attempt {message.receive_count}")


class Data(DataSubscriber):
    def process(self, payload: dict[str, Any], message: Message) -> None:
        say(f"{message.message_id} data {json.dumps(payload, sort_keys=True, default=str)}")


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} QUEUE_URL", file=sys.stderr)
        return 2
    try:
        listener = SqsListener(
            sys.argv[1],
            completion_store=os.environ.get("MEGA_COMPLETION_STORE") or None,
            metrics_addr=os.environ.get("MEGA_METRICS_ADDR") or None,
        )
    except MegaError as e:
        print(f"worker: {e}", file=sys.stderr)
        return 1
    listener.register_subscriber(Events)
    listener.register_subscriber(Data)
    print(f"listening on {sys.argv[1]} (Ctrl-C stops)", flush=True)
    try:
        stats = listener.listen()
    except KeyboardInterrupt:
        stats = listener.stats()
    print(f"stopped: {stats['done']} message(s) done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
