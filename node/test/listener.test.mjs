// The listener from Node on the embedded endpoint: statuses, throws, rejections, wrong returns, events.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as m from '../index.js'
import { setup, listener, runUntil, counts } from './helpers.mjs'

let ctx
before(async () => { ctx = await setup() })
after(async () => { await ctx.ep.close() })

const pub = (queueUrl) => new m.SqsPublisher({ queueUrl, ...ctx.ep.connection })

for (const [name, outcome, stat, deleted] of [
  ['nothing', () => undefined, 'done', true],
  ['DONE', () => m.ProcessStatus.DONE, 'done', true],
  ['FATAL_ERROR', () => m.ProcessStatus.FATAL_ERROR, 'fatalError', true],
  ['RETRY_LATER', () => m.ProcessStatus.RETRY_LATER, 'retryLater', false],
  ['RETRIABLE_ERROR', () => m.ProcessStatus.RETRIABLE_ERROR, 'retriableError', false],
  ['a throw (sync handler)', () => { throw new Error('boom') }, 'fatalError', true],
  ['a rejection', async () => { throw new Error('boom') }, 'fatalError', true],
  ['a RetriableError', async () => { throw new m.RetriableError('later') }, 'retriableError', false],
  ['a classified error', async () => { const e = new Error('timeout'); e.code = 'ETIMEDOUT'; throw e }, 'retriableError', false],
  ['a wrong return value', () => 'done', 'retriableError', false],
  ['true', () => true, 'retriableError', false],
]) {
  test(`handler outcome: ${name}`, async () => {
    const q = await ctx.queue()
    await pub(q).publish({ n: 1 })
    const errors = []
    const l = listener(ctx.ep, q, { retryBaseMs: 60000, isRetriable: (e) => e.code === 'ETIMEDOUT' })
    l.on('processing_error', (e, info) => errors.push([e, info]))
    l.subscribe({ name: 'S', handler: outcome })
    const stats = await runUntil(l, () => l.stats()[stat] >= 1)
    assert.equal(stats[stat], 1)
    if (stat !== 'done') assert.equal(stats.done, 0, 'never counted as done')
    assert.deepEqual(await counts(ctx.sqs, q), deleted ? [0, 0] : [0, 1])
    if (/throw|rejection|Error|wrong|true/.test(name)) {
      assert.equal(errors.length, 1)
      assert.equal(errors[0][1].subscriber, 'S')
    }
    if (name === 'a wrong return value') assert.match(errors[0][0].message, /returned string "done", which is not a ProcessStatus/)
  })
}

test('every matching subscriber gets the message; events, data, plaintext; message fields', async () => {
  const q = await ctx.queue()
  const p = pub(q)
  const sent = await p.publish(new m.PayloadBuilder().withEvent({ name: 'item.added', domain: 'cart', quantity: 5 }).withObject({ current: { id: 1 } }).build(), { attributes: { tenant: 'acme', weight: 3 } })
  await p.publish({ n: 10, at: new Date('2020-01-02T03:04:05.006Z'), raw: Buffer.from([0, 1]) }, { binaryEncoding: true })
  await p.publish({ n: 0 })
  await p.publish('plain text')
  const seen = { events: [], big: [], every: [] }
  const l = listener(ctx.ep, q)
  l.subscribe({ name: 'events', kind: 'event', rules: { domain: 'cart', attributes: { quantity: m.gt(0) } }, handler: (pl, msg) => { seen.events.push([pl, msg]) } })
  l.subscribe({ name: 'big', pattern: { n: m.gt(5) }, handler: (pl) => { seen.big.push(pl) } })
  l.subscribe({ name: 'every', kind: 'message', handler: (pl) => { seen.every.push(pl) } })
  const received = []
  l.on('message_received', (pl, msg) => received.push(msg.messageId))
  const stats = await runUntil(l, () => seen.every.length >= 4)
  assert.equal(stats.deleted, 4)
  const [ev, msg] = seen.events[0]
  assert.ok(ev instanceof m.Payload)
  assert.equal(ev.event.attributes.quantity, 5)
  assert.equal(msg.messageId, sent.messageId)
  assert.equal(msg.receiveCount, 1)
  assert.deepEqual(msg.messageAttributes.tenant, { dataType: 'String', value: 'acme' })
  assert.deepEqual(msg.messageAttributes.weight, { dataType: 'Number', value: '3' })
  assert.equal(msg.encoding, 'json')
  assert.deepEqual(seen.big, [{ n: 10, at: new Date('2020-01-02T03:04:05.006Z'), raw: Buffer.from([0, 1]) }])
  assert.ok(seen.every.includes('plain text'))
  assert.ok(received.length >= 4)
})

test('handlers run concurrently, bounded by maxInFlight', async () => {
  const q = await ctx.queue()
  const p = pub(q)
  await p.publishBatch(Array.from({ length: 8 }, (_, i) => ({ i })))
  let now = 0
  let most = 0
  let done = 0
  const l = listener(ctx.ep, q, { maxInFlight: 4 })
  l.subscribe({ name: 'slow', handler: async () => { now++; most = Math.max(most, now); await new Promise((r) => setTimeout(r, 100)); now--; done++ } })
  await runUntil(l, () => done >= 8)
  assert.equal(most, 4)
})

test('close() drains: work in flight finishes, listen() resolves', async () => {
  const q = await ctx.queue()
  await pub(q).publish({ n: 1 })
  let started = false
  let finished = false
  const l = listener(ctx.ep, q)
  l.subscribe({ name: 'slow', handler: async () => { started = true; await new Promise((r) => setTimeout(r, 500)); finished = true } })
  const run = l.listen()
  while (!started) await new Promise((r) => setTimeout(r, 10))
  await l.close()
  assert.equal(finished, true)
  const stats = await run
  assert.equal(stats.done, 1)
  assert.deepEqual(await counts(ctx.sqs, q), [0, 0])
})

test('registration and settings errors', async () => {
  const q = await ctx.queue()
  const l = listener(ctx.ep, q)
  l.subscribe({ name: 'a', handler: () => {} })
  assert.throws(() => l.subscribe({ name: 'a', handler: () => {} }), (e) => e instanceof m.ListenerError && e.code === 'listener.duplicate_subscriber')
  assert.throws(() => l.subscribe({ name: 'b' }), m.InvalidArgumentError)
  assert.throws(() => listener(ctx.ep, q, { maxNumberOfMessages: 11 }), (e) => e instanceof m.ListenerError && e.code === 'listener.invalid_config')
  assert.throws(() => listener(ctx.ep, q, { unmatched: 'drop' }), m.InvalidArgumentError)
  const missing = listener(ctx.ep, ctx.ep.url + '/000000000000/nope')
  missing.subscribe({ name: 'x', handler: () => {} })
  await assert.rejects(missing.listen(), (e) => e instanceof m.ListenerError && e.code === 'listener.queue')
})

test('completion store: a redelivered message skips the subscriber that finished', async () => {
  const q = await ctx.queue()
  await pub(q).publish({ n: 1 })
  let ok = 0
  let flaky = 0
  const l = listener(ctx.ep, q, { retryBaseMs: 200, completionStore: { capacity: 100 } })
  l.subscribe({ name: 'ok', handler: () => { ok++ } })
  l.subscribe({ name: 'flaky', handler: () => (++flaky === 1 ? m.ProcessStatus.RETRY_LATER : m.ProcessStatus.DONE) })
  const stats = await runUntil(l, () => flaky >= 2 && l.stats().deleted >= 1)
  assert.equal(ok, 1)
  assert.equal(stats.skippedCompleted, 1)
})
