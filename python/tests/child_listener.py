"""A listener process for the signal and crash tests: ``child_listener.py QUEUE_URL ENDPOINT SLEEP GRACE``.

Prints ``ready`` when listening, ``started ID`` and ``finished ID`` around each handler (which sleeps SLEEP
seconds), ``stopped`` when listen() returns, ``interrupted`` after Ctrl-C (KeyboardInterrupt re-raised).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from mega.aws.sqs.subscribe import DataSubscriber, Message, SqsListener

queue_url, endpoint, sleep, grace = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])


def say(line: str) -> None:
    print(line, flush=True)


class Slow(DataSubscriber):
    def process(self, payload: dict[str, Any], message: Message) -> None:
        say(f"started {message.message_id}")
        time.sleep(sleep)
        say(f"finished {message.message_id}")


listener = SqsListener(queue_url, endpoint_url=endpoint, region_name="us-east-1", wait_time_seconds=1,
                       shutdown_grace=grace, visibility_timeout=2, max_in_flight=2)
listener.register_subscriber(Slow)
threading.Timer(0.2, lambda: say("ready")).start()
try:
    stats = listener.listen()
    say(f"stopped done={stats['done']} released={stats['released']}")
except KeyboardInterrupt:
    say("interrupted")
    sys.exit(0)
