// Node listener benchmark, one run, figures side by side (medians of ROUNDS rounds):
//   bash node/bench/run.sh
// On the embedded endpoint (in-process), no-op handlers draining preloaded messages: this package, the core's
// listener with a native Rust handler, and sqs-consumer with handleMessage and with handleMessageBatch.
// Goals (issue 13): >= 5x sqs-consumer handleMessage, >= 3x handleMessageBatch, >= 60% of native, <= 0.21 req/msg.
import { createRequire } from 'node:module'
import { SQSClient } from '@aws-sdk/client-sqs'
import { Consumer } from 'sqs-consumer'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const native = require('../index.js')._native

const MESSAGES = Number(process.env.MEGA_BENCH_MESSAGES || 20000)
const PEER_MESSAGES = Number(process.env.MEGA_BENCH_PEER_MESSAGES || 5000)
const ROUNDS = Number(process.env.MEGA_BENCH_ROUNDS || 3)
const POLLERS = 2
const IN_FLIGHT = 100

let n = 0
async function preload(ep, count) {
  const queueUrl = await ep.createQueue(`bench-${process.pid}-${n++}`)
  const pub = new m.SqsPublisher({ queueUrl, ...ep.connection })
  for (let i = 0; i < count; i += 1000) {
    const r = await pub.publishBatch(Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({ type: 'order', n: i + j })))
    if (r.some((x) => x instanceof Error)) throw r.find((x) => x instanceof Error)
  }
  return queueUrl
}

async function ours(ep) {
  const queueUrl = await preload(ep, MESSAGES)
  const l = new m.SqsListener({ queueUrl, ...ep.connection, waitTimeSeconds: 1, pollers: POLLERS, maxInFlight: IN_FLIGHT })
  let count = 0
  l.subscribe({ name: 'noop', handler: async () => { if (++count === MESSAGES) l.close() } })
  const t0 = performance.now()
  const stats = await l.listen()
  const s = (performance.now() - t0) / 1000
  if (stats.done !== MESSAGES) throw new Error(`done ${stats.done}`)
  return [MESSAGES / s, stats.requestsPerMessage]
}

async function rust(ep) {
  const queueUrl = await preload(ep, MESSAGES)
  const c = ep.connection
  const [secs, stats] = await native.benchRustDrain(queueUrl, { region: c.region, endpoint: c.endpoint, accessKeyId: 'local', secretAccessKey: 'local' }, MESSAGES, POLLERS, IN_FLIGHT)
  return [MESSAGES / Number(secs), JSON.parse(stats).requestsPerMessage]
}

async function sqsConsumer(ep, batch) {
  const queueUrl = await preload(ep, PEER_MESSAGES)
  const c = ep.connection
  const sqs = new SQSClient({ region: c.region, endpoint: c.endpoint, credentials: c.credentials })
  let count = 0
  let requests = 0
  const t0 = performance.now()
  await new Promise((resolve, reject) => {
    const options = { queueUrl, sqs, batchSize: 10, waitTimeSeconds: 1 }
    const done = (k) => { count += k; if (count >= PEER_MESSAGES) { consumer.stop(); resolve() } }
    if (batch) options.handleMessageBatch = async (msgs) => { done(msgs.length); return msgs }
    else options.handleMessage = async (msg) => { done(1); return msg }
    const consumer = Consumer.create(options)
    consumer.on('error', reject)
    consumer.on('processing_error', reject)
    consumer.on('response_processed', () => { requests++ })
    consumer.start()
  })
  const s = (performance.now() - t0) / 1000
  return [PEER_MESSAGES / s, NaN]
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const ep = await m.LocalEndpoint.start()
const rows = { ours: [], rust: [], single: [], batch: [] }
console.log(`Node listener benchmark: ${MESSAGES} messages per drain (${PEER_MESSAGES} for sqs-consumer), ${ROUNDS} rounds, pollers=${POLLERS}, maxInFlight=${IN_FLIGHT}, Node ${process.version}\n`)
for (let r = 0; r < ROUNDS; r++) {
  rows.rust.push(await rust(ep))
  rows.ours.push(await ours(ep))
  rows.single.push(await sqsConsumer(ep, false))
  rows.batch.push(await sqsConsumer(ep, true))
  console.log(`round ${r + 1}: ` + Object.entries(rows).map(([k, v]) => `${k} ${Math.round(v.at(-1)[0]).toLocaleString('en')} msg/s`).join(', '))
}
await ep.close()
const med = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, [median(v.map((x) => x[0])), median(v.map((x) => x[1]))]]))
const names = {
  ours: 'sqs-mega (JS async handler)',
  rust: 'core listener, native Rust handler',
  single: 'sqs-consumer, handleMessage',
  batch: 'sqs-consumer, handleMessageBatch',
}
console.log(`\n${''.padEnd(38)} ${'msg/s'.padStart(9)} ${'req/msg'.padStart(8)}`)
for (const [k, [rate, rpm]] of Object.entries(med)) {
  console.log(`${names[k].padEnd(38)} ${Math.round(rate).toLocaleString('en').padStart(9)} ${Number.isNaN(rpm) ? '       -' : rpm.toFixed(3).padStart(8)}`)
}
const o = med.ours[0]
console.log(`\ngoals: >= 5x handleMessage: ${(o / med.single[0]).toFixed(1)}x; >= 3x handleMessageBatch: ${(o / med.batch[0]).toFixed(1)}x; ` +
  `>= 60% of native: ${Math.round((100 * o) / med.rust[0])}%; <= 0.21 requests/message: ${med.ours[1].toFixed(3)}`)
