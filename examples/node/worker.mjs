// A worker: node examples/node/worker.mjs QUEUE_URL
//
// Subscribes to every data object and MEGA event of the queue and prints one line per message handled, its
// message id first (`ID event NAME attempt N` / `ID data JSON`). Region, credentials and endpoint come from
// the standard AWS environment (AWS_REGION, AWS_ACCESS_KEY_ID..., AWS_ENDPOINT_URL for `mega local`).
// SIGTERM or Ctrl-C stops it gracefully (work in flight finishes); exit code 0.
//
// MEGA_COMPLETION_STORE chooses where subscribers' completions are kept, so that a message delivered twice is
// handled once: memory, redis://HOST:6379/0, dynamodb://TABLE (unset: no store); an invalid URL exits with
// code 1 and says why. MEGA_METRICS_ADDR (9464, 0.0.0.0:9464) serves Prometheus metrics at /metrics. Each
// handler runs in its message's trace (message.trace): what it publishes continues that trace.
import { SqsListener, MegaError } from 'sqs-mega'

const queueUrl = process.argv[2]
if (!queueUrl) {
  console.error('usage: node worker.mjs QUEUE_URL')
  process.exit(2)
}

let listener
try {
  listener = new SqsListener({
    queueUrl,
    completionStore: process.env.MEGA_COMPLETION_STORE || undefined,
    metricsAddr: process.env.MEGA_METRICS_ADDR || undefined,
  })
} catch (e) {
  if (!(e instanceof MegaError)) throw e
  console.error(`worker: ${e.message}`)
  process.exit(1)
}
listener.subscribe({
  name: 'events',
  kind: 'event',
  handler: (payload, message) => {
    console.log(`${message.messageId} event ${payload.event.name} attempt ${message.receiveCount}`)
  },
})
listener.subscribe({
  name: 'data',
  handler: (payload, message) => {
    const sorted = JSON.stringify(payload, (k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v))
    console.log(`${message.messageId} data ${sorted}`)
  },
})
listener.closeOnSignals()
console.log(`listening on ${queueUrl} (Ctrl-C stops)`)
const stats = await listener.listen()
console.log(`stopped: ${stats.done} message(s) done`)
