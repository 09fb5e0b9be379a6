"""``python -m mega demo``: seed 003's shopping-cart story with Python subscribers on the embedded endpoint
(the same story as ``mega demo``): no AWS account, no Docker, no second process."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from typing import Any

from .aws.sns import SnsPublisher
from .aws.sqs.publish import SqsPublisher
from .aws.sqs.subscribe import DataSubscriber, EventSubscriber, Message, ProcessStatus, RetriableError, SqsListener
from .event import Payload, PayloadBuilder
from .local import LocalEndpoint
from .match.functions import empty, gt, match, not_, one_of

journal: list[str] = []
handled: Counter[str] = Counter()
lock = threading.Lock()


def note(who: str, line: str) -> None:
    with lock:
        journal.append(f"  {who:<24} {line}")
        handled[who] += 1


def how(message: Message) -> str:
    return f"({message.encoding}, {'via SNS' if message.sns else 'direct'})"


class ShoppingCartItemAdded(EventSubscriber):
    domain = "shopping_cart"
    name = "item.added"
    version = one_of(1, 2)
    attributes = dict(item_id=not_(empty()), quantity=gt(0))

    def process(self, payload: Payload, message: Message) -> ProcessStatus:
        note("ShoppingCartItemAdded", f"item {payload.event.item_id} x{payload.event.quantity} {how(message)}")
        return ProcessStatus.DONE


class ShoppingCartItemRemoved(EventSubscriber):
    domain = "shopping_cart"
    name = "item.removed"

    def process(self, payload: Payload, message: Message) -> None:
        note("ShoppingCartItemRemoved", f"cart {payload.event.subject} {how(message)}")


class ShoppingCartCheckout(EventSubscriber):
    domain = "shopping_cart"
    name = "checkout"

    def process(self, payload: Payload, message: Message) -> None:
        if payload.event.subject == "cart-poison":
            note("ShoppingCartCheckout", f"cart cart-poison: payment service unavailable (attempt "
                 f"{message.receive_count}) -> RETRIABLE_ERROR")
            raise RetriableError("payment service unavailable")
        note("ShoppingCartCheckout", f"cart {payload.event.subject} checked out {how(message)}")


class UserNotification(DataSubscriber):
    pattern = dict(
        type=match(r"user:notification:(.*)"),
        notification_type=one_of("email", "sms", "push"),
        user=dict(id=gt(0), email=not_(match(r"test@(.*)")), template=lambda lhs: bool(lhs)),
    )

    def process(self, payload: dict[str, Any], message: Message) -> None:
        note("UserNotification", f"{payload['notification_type']} to user {payload['user']['id']} {how(message)}")


def cart_event(name: str, cart: str, version: int = 1, **attributes: Any) -> Payload:
    return (
        PayloadBuilder()
        .with_event(domain="shopping_cart", name=name, version=version, subject=cart,
                    publisher="shopping-cart-service", **attributes)
        .with_object(type="shopping_cart", id=cart, current={"id": cart, "currency": "USD"})
        .build()
    )


def demo() -> int:
    started = time.monotonic()
    with LocalEndpoint() as ep:
        print(f"sqs-mega demo (Python) on the embedded SQS + SNS endpoint at {ep.url} (no AWS account needed)\n")
        dlq = ep.create_queue("shopping-cart-events-dlq")
        queue = ep.create_queue("shopping-cart-events", {"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:shopping-cart-events-dlq",
             "maxReceiveCount": "2"})})
        topic = ep.create_topic("shopping-cart")
        ep.subscribe(topic, queue)
        print(f"queue {queue}\n  dead-letter queue after 2 receives: {dlq}\n  subscribed to topic {topic}\n")

        direct = SqsPublisher(queue, **ep.connection)
        via_sns = SnsPublisher(topic, **ep.connection)
        sends: list[tuple[str, Any, bool, bool]] = [
            ("item.added", cart_event("item.added", "cart-1", item_id="61fcc874", quantity=5, price="19.99"), False, False),
            ("item.added", cart_event("item.added", "cart-1", 2, item_id="3c7f8798", quantity=1, price="102.50"), True, False),
            ("item.added (quantity 0: no match)", cart_event("item.added", "cart-2", item_id="bba76edc", quantity=0), False, False),
            ("item.removed", cart_event("item.removed", "cart-1", item_id="3c7f8798", quantity=1), True, True),
            ("checkout", cart_event("checkout", "cart-1"), False, True),
            ("checkout (poison)", cart_event("checkout", "cart-poison"), True, False),
            ("user notification", {"type": "user:notification:email", "notification_type": "email",
                                   "user": {"id": 987650, "email": "johndoe_86@example.com",
                                            "template": "order_confirmed"}}, True, True),
        ]
        print("published:")
        for what, payload, binary, sns in sends:
            (via_sns if sns else direct).publish(payload, binary_encoding=binary)
            print(f"  {what:<36} {'bson' if binary else 'json'}, {'via SNS' if sns else 'direct'}")

        listener = SqsListener(queue, **ep.connection, wait_time_seconds=1, retry_base=1.0, retry_max=2.0)
        for s in (ShoppingCartItemAdded, ShoppingCartItemRemoved, ShoppingCartCheckout, UserNotification):
            listener.register_subscriber(s)

        def watch() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if listener.stats()["deleted"] >= 6 and ep.queue_counts(dlq)[0] >= 1:
                    break
                time.sleep(0.1)
            listener.stop()

        threading.Thread(target=watch, daemon=True).start()
        stats = listener.listen()
        dead = ep.queue_counts(dlq)[0]

    print("\nhandled:")
    print("\n".join(journal))
    print(f"\nsummary ({time.monotonic() - started:.1f} s):")
    print(f"  published {len(sends)} messages ({sum(not s[2] for s in sends)} JSON, {sum(s[2] for s in sends)} "
          f"BSON; {sum(s[3] for s in sends)} through SNS)")
    for name, n in sorted(handled.items()):
        print(f"  {name:<24} {n} handled")
    print(f"  received {stats['received']}, deleted {stats['deleted']}, unmatched {stats['unmatched']}, "
          f"retried {stats['retried']}; in the dead-letter queue: {dead}")
    expected = {"ShoppingCartItemAdded": 2, "ShoppingCartItemRemoved": 1, "ShoppingCartCheckout": 3,
                "UserNotification": 1}
    if dict(handled) == expected and stats["deleted"] == 6 and dead == 1:
        print("\nAll checks passed: every message handled or parked in the dead-letter queue, none lost.")
        return 0
    print(f"\nCHECK FAILED: handled {dict(handled)}, expected {expected}; deleted {stats['deleted']}, "
          f"dead-lettered {dead}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mega", description="sqs-mega for Python")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="the seed 003 demo on the embedded endpoint")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2


if __name__ == "__main__":
    sys.exit(main())
