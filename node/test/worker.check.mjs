// Runs a worker example (node worker.mjs QUEUE_URL, from an installed package) against the embedded endpoint:
// node test/worker.check.mjs PATH_TO_WORKER_MJS. Checks its lines and that SIGTERM/SIGINT end it with 0.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { LocalEndpoint, SqsPublisher, PayloadBuilder } from '../index.js'

const worker = process.argv[2]
const ep = await LocalEndpoint.start()
for (const sig of ['SIGTERM', 'SIGINT']) {
  const queueUrl = await ep.createQueue(`worker-${sig}`)
  const env = { ...process.env, AWS_ENDPOINT_URL: ep.url, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' }
  const p = spawn(process.execPath, [worker, queueUrl], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]()
  const next = async () => (await lines.next()).value
  assert.match(await next(), /^listening on /)
  const pub = new SqsPublisher({ queueUrl, ...ep.connection })
  const eventId = (await pub.publish(new PayloadBuilder().withEvent({ name: 'user.created', subject: '1' }).build())).messageId
  const dataId = (await pub.publish({ b: 2, a: 1 }, { binaryEncoding: true })).messageId
  const got = new Set([await next(), await next()])
  assert.deepEqual(got, new Set([`${eventId} event user.created attempt 1`, `${dataId} data {"a":1,"b":2}`]))
  const exited = new Promise((resolve) => p.on('exit', resolve))
  p.kill(sig)
  assert.equal(await next(), 'stopped: 2 message(s) done')
  assert.equal(await exited, 0)
  console.log(`worker example: ok (${sig})`)
}
await ep.close()
