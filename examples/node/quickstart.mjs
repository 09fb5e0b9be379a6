import { LocalEndpoint, SqsListener, SqsPublisher, gt } from 'sqs-mega'

const ep = await LocalEndpoint.start() // on AWS: no LocalEndpoint, no ...ep.connection
const queueUrl = await ep.createQueue('orders')
await new SqsPublisher({ queueUrl, ...ep.connection }).publish({ type: 'order', id: 7, total: 250 })

const listener = new SqsListener({ queueUrl, ...ep.connection })
listener.subscribe({
  name: 'big-orders',
  pattern: { type: 'order', total: gt(100) },
  handler: async (order) => {
    console.log('big order', order.id)
    listener.close() // one is enough for this example
  },
})
await listener.listen()
await ep.close()
