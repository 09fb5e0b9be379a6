// Seed 004's failure scenarios from Node: SIGTERM/SIGINT drain (and the process exits by itself), work past
// the grace released, a SIGKILLed worker loses nothing, poison to the DLQ, a partial batch.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { SendMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs'
import * as m from '../index.js'
import { setup, listener, runUntil, counts, until } from './helpers.mjs'

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'child_listener.mjs')
let ctx
before(async () => { ctx = await setup() })
after(async () => { await ctx.ep.close() })

function child(queueUrl, sleepMs, graceMs) {
  const p = spawn(process.execPath, [CHILD, queueUrl, ctx.ep.url, String(sleepMs), String(graceMs)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = []
  const waiters = []
  createInterface({ input: p.stdout }).on('line', (line) => {
    lines.push(line)
    for (const w of waiters.splice(0)) w()
  })
  const exited = new Promise((resolve) => p.on('exit', (code, signal) => resolve({ code, signal })))
  const waitFor = async (prefix) => {
    for (;;) {
      const found = lines.find((l) => l.startsWith(prefix))
      if (found) return found
      await Promise.race([new Promise((r) => waiters.push(r)), exited.then(() => { throw new Error(`exited before ${prefix}`) })])
    }
  }
  return { p, lines, exited, waitFor }
}

for (const sig of ['SIGTERM', 'SIGINT']) {
  test(`${sig} drains work in flight and the process exits by itself`, async () => {
    const q = await ctx.queue()
    const c = child(q, 1500, 10000)
    await c.waitFor('ready')
    await new m.SqsPublisher({ queueUrl: q, ...ctx.ep.connection }).publish({ n: 1 })
    const started = await c.waitFor('started')
    const t0 = Date.now()
    c.p.kill(sig)
    const { code } = await c.exited
    assert.equal(code, 0)
    assert.ok(c.lines.includes(`finished ${started.split(' ')[1]}`))
    assert.ok(c.lines.includes('stopped done=1 released=0'), c.lines.join('\n'))
    assert.ok(Date.now() - t0 < 8000)
    assert.deepEqual(await counts(ctx.sqs, q), [0, 0])
  })
}

test('work past the grace is released, and the process still exits', async () => {
  const q = await ctx.queue()
  const c = child(q, 30000, 500)
  await c.waitFor('ready')
  await new m.SqsPublisher({ queueUrl: q, ...ctx.ep.connection }).publish({ n: 1 })
  await c.waitFor('started')
  c.p.kill('SIGTERM')
  await c.waitFor('stopped')
  assert.ok(c.lines.includes('stopped done=0 released=1'))
  assert.deepEqual(await counts(ctx.sqs, q), [1, 0])
  // The abandoned handler's timer is the only thing left: the process exits when it fires, or is killed.
  c.p.kill('SIGKILL')
  await c.exited
})

test('a SIGKILLed worker loses nothing', async () => {
  const q = await ctx.queue()
  const c = child(q, 30000, 5000)
  await c.waitFor('ready')
  const sent = await new m.SqsPublisher({ queueUrl: q, ...ctx.ep.connection }).publish({ n: 1 })
  await c.waitFor('started')
  c.p.kill('SIGKILL')
  await c.exited
  const got = []
  const l = listener(ctx.ep, q)
  l.subscribe({ name: 'survivor', handler: (p, msg) => { got.push(msg) } })
  await runUntil(l, () => got.length >= 1, 30000)
  assert.equal(got[0].messageId, sent.messageId)
  assert.equal(got[0].receiveCount, 2)
})

test('poison goes to the dead-letter queue untouched', async () => {
  const dlq = await ctx.ep.createQueue(`dlq-${Date.now()}`)
  const q = await ctx.ep.createQueue(`poison-${Date.now()}`, {
    VisibilityTimeout: '1',
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:us-east-1:000000000000:${dlq.split('/').pop()}`, maxReceiveCount: '2' }),
  })
  const poison = '{"protocol": "mega", "version": 1, "event": {}}'
  await ctx.sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: poison }))
  let handled = 0
  const l = listener(ctx.ep, q)
  l.subscribe({ name: 'any', handler: () => { handled++ } })
  const stats = await runUntil(l, async () => (await counts(ctx.sqs, dlq))[0] === 1, 30000)
  assert.ok(stats.invalid >= 2)
  assert.equal(handled, 0)
  const got = await ctx.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq }))
  assert.equal(got.Messages[0].Body, poison)
})

test('a partial batch: only the failed messages come back', async () => {
  const q = await ctx.queue()
  await new m.SqsPublisher({ queueUrl: q, ...ctx.ep.connection }).publishBatch(Array.from({ length: 10 }, (_, i) => ({ i })))
  const handled = []
  const l = listener(ctx.ep, q, { retryBaseMs: 60000 })
  l.subscribe({ name: 'half', handler: (p) => { handled.push(p.i); return p.i % 2 ? m.ProcessStatus.RETRIABLE_ERROR : undefined } })
  const stats = await runUntil(l, () => handled.length >= 10)
  assert.equal(stats.done, 5)
  assert.equal(stats.deleted, 5)
  await until(async () => (await counts(ctx.sqs, q))[1] === 5)
})
