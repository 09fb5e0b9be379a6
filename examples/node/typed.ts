// The TypeScript example: `tsc --noEmit` checks it against the types the package ships.
import { LocalEndpoint, Payload, PayloadBuilder, ProcessStatus, RetriableError, SqsListener, SqsPublisher, Stats, gt, oneOf } from 'sqs-mega'

export async function main(): Promise<Stats> {
  const ep = await LocalEndpoint.start()
  const queueUrl = await ep.createQueue('typed')
  const event: Payload = new PayloadBuilder().withEvent({ name: 'item.added', domain: 'cart', quantity: 2 }).withObject({ current: { id: 1 } }).build()
  await new SqsPublisher({ queueUrl, ...ep.connection }).publish(event, { binaryEncoding: true })
  const listener = new SqsListener({ queueUrl, ...ep.connection, maxInFlight: 50 })
  listener.subscribe({
    name: 'added',
    kind: 'event',
    rules: { domain: 'cart', version: oneOf(1, 2), attributes: { quantity: gt(0) } },
    handler: async (payload, message) => {
      if (message.receiveCount > 3) return ProcessStatus.FATAL_ERROR
      if (!payload.event.attributes.quantity) throw new RetriableError('not yet')
      listener.close()
      return ProcessStatus.DONE
    },
  })
  listener.on('processed', ({ subscriber, status }) => console.log(subscriber, status))
  const stats = await listener.listen()
  await ep.close()
  return stats
}
