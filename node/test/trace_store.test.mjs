// Completion stores by URL (memory, and Redis when redis-server is installed), the metrics endpoint, trace
// context (message.trace, currentTrace() in handlers, publishes that continue it), and a trace that crosses
// languages: Node publishes, a Python listener handles and publishes, Node reads the same trace back.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs'
import * as m from '../index.js'
import { setup, listener, runUntil, until, ROOT } from './helpers.mjs'

const KNOWN = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const KNOWN_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const KNOWN_SPAN = '00f067aa0ba902b7'

let ctx
before(async () => { ctx = await setup() })
after(async () => { await ctx.ep.close() })

const pub = (queueUrl) => new m.SqsPublisher({ queueUrl, ...ctx.ep.connection })

async function traceparents(queueUrl, want, timeoutMs = 20000) {
  const out = []
  const deadline = Date.now() + timeoutMs
  while (out.length < want && Date.now() < deadline) {
    const r = await ctx.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageAttributeNames: ['All'], WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }))
    for (const msg of r.Messages ?? []) out.push([msg.Body, msg.MessageAttributes?.traceparent?.StringValue ?? ''])
  }
  return out
}

test('store URLs and metrics addresses are checked where given', async () => {
  const q = await ctx.queue()
  for (const good of ['memory', 'memory://?capacity=10&lease=2s', 'redis://127.0.0.1:6379/0', 'dynamodb://completions']) {
    listener(ctx.ep, q, { completionStore: good })
  }
  listener(ctx.ep, q, { completionStore: { capacity: 10 } })
  assert.throws(() => listener(ctx.ep, q, { completionStore: 'redis://user:hunter2@cache:6379/0?lease=soon' }), (e) => {
    assert.ok(e instanceof m.ListenerError, e)
    assert.equal(e.code, 'listener.invalid_config')
    assert.match(e.message, /redis:\/\/user:\*\*\*@cache.*lease/)
    assert.doesNotMatch(e.message, /hunter2/)
    return true
  })
  assert.throws(() => listener(ctx.ep, q, { completionStore: 'mongo://x' }), /mongo/)
  assert.throws(() => listener(ctx.ep, q, { completionStore: 42 }), m.InvalidArgumentError)
  listener(ctx.ep, q, { metricsAddr: 0 })
  assert.throws(() => listener(ctx.ep, q, { metricsAddr: 'everywhere' }), /everywhere/)
  assert.equal(listener(ctx.ep, q, { metricsAddr: 0 }).metricsAddress, null)
  listener(ctx.ep, q, { completionStore: 'memory', idempotencyKey: 'data.order_id' })
  assert.throws(() => listener(ctx.ep, q, { idempotencyKey: 'data..order_id' }), /data\.\.order_id/)
  await assert.rejects(pub(q).publish({ n: 1 }, { traceparent: '00-xyz-01' }), m.InvalidArgumentError)
})

async function runOnceWithStore(store) {
  const q = await ctx.queue()
  await pub(q).publish({ n: 1 })
  const once = []
  let flaky = 0
  const l = listener(ctx.ep, q, { retryBaseMs: 200, retryMaxMs: 1000, completionStore: store })
  l.subscribe({ name: 'once', handler: (p, msg) => { once.push(msg.messageId) } })
  l.subscribe({ name: 'flaky', handler: () => (++flaky === 1 ? m.ProcessStatus.RETRIABLE_ERROR : m.ProcessStatus.DONE) })
  const stats = await runUntil(l, () => flaky >= 2 && l.stats().deleted >= 1)
  assert.equal(once.length, 1)
  assert.equal(flaky, 2)
  assert.equal(stats.received, 2)
  assert.equal(stats.skippedCompleted, 1)
  assert.ok(stats.storeCalls >= 3, JSON.stringify(stats))
  assert.equal(stats.storeErrors, 0)
}

test('a business key runs a subscriber once per order', async () => {
  const q = await ctx.queue()
  await pub(q).publish({ order_id: 'A-1', n: 1 })
  await pub(q).publish({ order_id: 'A-1', n: 2 })
  const calls = []
  const l = listener(ctx.ep, q, { retryBaseMs: 200, retryMaxMs: 1000, completionStore: 'memory', idempotencyKey: 'order_id' })
  l.subscribe({ name: 'orders', handler: (p) => { calls.push(p.n) } })
  const stats = await runUntil(l, () => l.stats().deleted >= 2)
  assert.equal(calls.length, 1)
  assert.equal(stats.skippedCompleted, 1)
})

test('a memory store by URL runs a subscriber once for a message delivered twice', () => runOnceWithStore('memory'))

const redisServer = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim()
test('a Redis store', { skip: redisServer ? false : 'redis-server is not installed' }, async () => {
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
  })
  const server = spawn(redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  try {
    await until(() => new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true) })
      c.on('error', () => resolve(false))
    }), 10000)
    await runOnceWithStore(`redis://127.0.0.1:${port}/0?lease=5s`)
  } finally {
    server.kill()
  }
})

async function scrape({ host, port }, metric) {
  const text = await (await fetch(`http://${host}:${port}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{`))
  assert.ok(line, text.slice(0, 500))
  return Number(line.split(' ').pop())
}

test('the metrics endpoint serves counters that grow', async () => {
  const q = await ctx.queue()
  const seen = []
  const l = listener(ctx.ep, q, { metricsAddr: '127.0.0.1:0' })
  l.subscribe({ name: 'S', handler: (p) => { seen.push(p.n) } })
  const run = l.listen()
  try {
    await until(() => l.metricsAddress !== null)
    const address = l.metricsAddress
    assert.equal(address.host, '127.0.0.1')
    await pub(q).publish({ n: 1 })
    await until(() => seen.length === 1)
    const first = await scrape(address, 'mega_listener_received_total')
    await pub(q).publish({ n: 2 })
    await until(() => seen.length === 2)
    const second = await scrape(address, 'mega_listener_received_total')
    assert.ok(first >= 1 && second > first, `${first} then ${second}`)
  } finally {
    await l.close()
  }
  await run
  assert.equal(l.metricsAddress, null)
})

test('handlers see the sender\'s trace and what they publish continues it', async () => {
  const q = await ctx.queue()
  const out = await ctx.queue()
  const outPub = pub(out)
  const seen = {}
  const l = listener(ctx.ep, q)
  l.subscribe({
    name: 'sync',
    pattern: { via: 'sync' },
    handler: (p, msg) => {
      seen.sync = [msg.trace, m.currentTrace()]
      return outPub.publish({ from: 'sync' }).then(() => undefined)
    },
  })
  l.subscribe({
    name: 'async',
    pattern: { via: 'async' },
    handler: async (p, msg) => {
      await new Promise((r) => setTimeout(r, 10))
      seen.async = [msg.trace, m.currentTrace()]
      await outPub.publishBatch([{ from: 'async' }])
    },
  })
  await pub(q).publish({ via: 'sync' }, { traceparent: KNOWN })
  await pub(q).publish({ via: 'async' }, { traceparent: { traceparent: KNOWN } })
  await runUntil(l, () => seen.sync && seen.async && l.stats().done >= 2)
  for (const via of ['sync', 'async']) {
    const [t, current] = seen[via]
    assert.equal(t.traceId, KNOWN_TRACE)
    assert.notEqual(t.spanId, KNOWN_SPAN)
    assert.equal(t.parent, KNOWN)
    assert.equal(t.traceparent, `00-${t.traceId}-${t.spanId}-01`)
    assert.ok(Object.isFrozen(t))
    assert.equal(current, t)
  }
  assert.equal(m.currentTrace(), null)
  const got = await traceparents(out, 2)
  assert.equal(got.length, 2)
  for (const [body, tp] of got) {
    assert.equal(tp.slice(3, 35), KNOWN_TRACE, body)
    assert.ok(![seen.sync[0].spanId, seen.async[0].spanId].includes(tp.slice(36, 52)))
  }
  // Outside handlers: a new trace, or none.
  const q2 = await ctx.queue()
  await pub(q2).publish({ n: 1 })
  await pub(q2).publish({ n: 2 }, { noTrace: true })
  const fresh = (await traceparents(q2, 2)).map(([, tp]) => tp).sort()
  assert.equal(fresh[0], '')
  assert.equal(fresh[1].length, 55)
  assert.notEqual(fresh[1].slice(3, 35), KNOWN_TRACE)
})

// Across languages: the Python package of this repository (installed in .venv by scripts/test-python.sh, which
// CI runs first; MEGA_PYTHON names another interpreter).
const python = [process.env.MEGA_PYTHON, path.join(ROOT, '.venv', 'bin', 'python')].find((p) => p && existsSync(p))
const pythonOk = python && spawnSync(python, ['-c', 'import mega.trace'], { cwd: '/' }).status === 0
const PY_HANDLER = `
import sys
from mega.aws.sqs.publish import SqsPublisher
from mega.aws.sqs.subscribe import DataSubscriber, SqsListener
endpoint, queue, out = sys.argv[1:4]
listener = SqsListener(queue, endpoint_url=endpoint, region_name="us-east-1", wait_time_seconds=1)
class Handler(DataSubscriber):
    def process(self, payload, message):
        print(message.trace.trace_id, message.trace.span_id, message.trace.parent, flush=True)
        SqsPublisher(out, endpoint_url=endpoint, region_name="us-east-1").publish({"from": "python"})
        listener.stop()
listener.register_subscriber(Handler)
listener.listen()
`

test('a trace crosses languages: Node publishes, Python handles and publishes, Node reads it', { skip: pythonOk ? false : 'no Python with the mega package (run scripts/test-python.sh first, or set MEGA_PYTHON)' }, async () => {
  const q = await ctx.queue()
  const out = await ctx.queue()
  await pub(q).publish({ from: 'node' }, { traceparent: KNOWN })
  const env = { ...process.env, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_REGION: 'us-east-1' }
  const child = spawn(python, ['-c', PY_HANDLER, ctx.ep.url, q, out], { env, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000)
  const code = await new Promise((resolve) => child.on('exit', resolve))
  clearTimeout(timer)
  assert.equal(code, 0, stderr)
  const [traceId, spanId, parent] = stdout.trim().split(' ')
  assert.equal(traceId, KNOWN_TRACE)
  assert.notEqual(spanId, KNOWN_SPAN)
  assert.equal(parent, KNOWN)

  const seen = []
  const l = listener(ctx.ep, out)
  l.subscribe({ name: 'back', handler: (p, msg) => { seen.push([p.from, msg.trace]) } })
  await runUntil(l, () => seen.length === 1)
  assert.equal(seen[0][0], 'python')
  assert.equal(seen[0][1].traceId, KNOWN_TRACE)
  assert.equal(seen[0][1].parent.slice(3, 35), KNOWN_TRACE)
})
