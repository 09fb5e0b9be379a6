// Runs a worker example (node worker.mjs QUEUE_URL, from an installed package) against the embedded endpoint:
// node test/worker.check.mjs PATH_TO_WORKER_MJS. Checks its lines and that SIGTERM/SIGINT end it with 0.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { LocalEndpoint, SqsPublisher, PayloadBuilder } from '../index.js'

const worker = process.argv[2]
const ep = await LocalEndpoint.start()
const base = { ...process.env, AWS_ENDPOINT_URL: ep.url, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' }
delete base.MEGA_COMPLETION_STORE
delete base.MEGA_METRICS_ADDR
for (const [sig, store] of [['SIGTERM', null], ['SIGINT', null], ['SIGTERM', 'memory']]) {
  const queueUrl = await ep.createQueue(`worker-${sig}-${store ?? 'none'}`)
  const env = store ? { ...base, MEGA_COMPLETION_STORE: store, MEGA_METRICS_ADDR: '127.0.0.1:0' } : base
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
  console.log(`worker example: ok (${sig}${store ? `, MEGA_COMPLETION_STORE=${store}` : ''})`)
}
{
  // A bad store URL: exit code 1, the URL named (its password hidden) with the problem.
  const env = { ...base, MEGA_COMPLETION_STORE: 'redis://user:hunter2@cache:6379/0?lease=soon' }
  const p = spawn(process.execPath, [worker, await ep.createQueue('worker-bad-store')], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  p.stderr.on('data', (d) => { err += d })
  const code = await new Promise((resolve) => p.on('exit', resolve))
  assert.equal(code, 1, err)
  assert.match(err, /completion store redis:\/\/user:\*\*\*@cache.*lease/)
  assert.doesNotMatch(err, /hunter2/)
  console.log('worker example: ok (a bad MEGA_COMPLETION_STORE exits 1)')
}
await ep.close()
