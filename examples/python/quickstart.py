from mega.aws.sqs.publish import SqsPublisher
from mega.aws.sqs.subscribe import DataSubscriber, SqsListener
from mega.local import LocalEndpoint
from mega.match.functions import gt


class BigOrders(DataSubscriber):
    pattern = {"type": "order", "total": gt(100)}

    def process(self, payload):
        print("big order", payload["id"])
        listener.stop()  # one is enough for this example


with LocalEndpoint() as ep:  # on AWS: no LocalEndpoint, no **ep.connection
    queue = ep.create_queue("orders")
    SqsPublisher(queue, **ep.connection).publish({"type": "order", "id": 7, "total": 250})
    listener = SqsListener(queue, **ep.connection)
    listener.register_subscriber(BigOrders)
    listener.listen()
