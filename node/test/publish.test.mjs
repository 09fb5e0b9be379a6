// Publishing, checked byte for byte through the AWS SDK for JavaScript; SNS envelopes; batches.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs'
import * as m from '../index.js'
import { setup, listener, runUntil } from './helpers.mjs'

let ctx
before(async () => { ctx = await setup() })
after(async () => { await ctx.ep.close() })

const EVENT = new m.PayloadBuilder().withEvent({ name: 'user.created', subject: '987650' }).withObject({ current: { id: 987650 } }).build()

for (const [name, payload] of [['data', { type: 'user_notification', user: { id: 987650 } }], ['mega', EVENT], ['plaintext', 'plain text'], ['bytes', Buffer.from([0, 255, 7])]]) {
  for (const binaryEncoding of [false, true]) {
    test(`body byte for byte: ${name}, ${binaryEncoding ? 'bson' : 'json'}`, async () => {
      const q = await ctx.queue()
      const p = new m.SqsPublisher({ queueUrl: q, ...ctx.ep.connection })
      if (binaryEncoding && name === 'plaintext') {
        await assert.rejects(p.publish(payload, { binaryEncoding }), (e) => e instanceof m.EncodeError && e.code === 'encode.binary_plaintext')
        return
      }
      const sent = await p.publish(payload, { binaryEncoding })
      const got = await ctx.sqs.send(new ReceiveMessageCommand({ QueueUrl: q, MessageAttributeNames: ['All'] }))
      const [body, encoding] = m.encode(payload, binaryEncoding)
      const msg = got.Messages[0]
      assert.equal(msg.MessageId, sent.messageId)
      assert.equal(msg.Body, body)
      assert.deepEqual(msg.MessageAttributes['mega.encoding'], { DataType: 'String', StringValue: encoding })
      const back = m.decode(msg.Body, encoding).payload
      assert.deepEqual(back instanceof m.Payload ? back.toJSON() : back, payload instanceof m.Payload ? payload.toJSON() : payload)
    })
  }
}

test('attributes, options and their errors', async () => {
  const q = await ctx.queue()
  const p = new m.SqsPublisher({ queueUrl: q, ...ctx.ep.connection })
  await p.publish({ a: 1 }, { attributes: { s: 'x', n: 2.5, b: Buffer.from([1]), custom: { dataType: 'Number.int', value: '7' } } })
  const a = (await ctx.sqs.send(new ReceiveMessageCommand({ QueueUrl: q, MessageAttributeNames: ['All'] }))).Messages[0].MessageAttributes
  assert.deepEqual(a.s, { DataType: 'String', StringValue: 'x' })
  assert.deepEqual(a.n, { DataType: 'Number', StringValue: '2.5' })
  assert.equal(Buffer.from(a.b.BinaryValue).toString('hex'), '01')
  assert.deepEqual(a.custom, { DataType: 'Number.int', StringValue: '7' })
  await assert.rejects(p.publish({ a: 1 }, { attributes: { 'mega.x': 'reserved' } }), (e) => e instanceof m.InvalidArgumentError && e.code === 'publish.invalid_attribute')
  await assert.rejects(p.publish({ a: 1 }, { delaySeconds: 901 }), (e) => e instanceof m.InvalidArgumentError && /0 to 900/.test(e.message))
  await assert.rejects(p.publish({ a: 1 }, { colour: 'red' }), /unknown or mistyped publish option colour/)
})

test('a batch gives one result per entry', async () => {
  const q = await ctx.queue()
  const p = new m.SqsPublisher({ queueUrl: q, ...ctx.ep.connection })
  const entries = Array.from({ length: 12 }, (_, i) => ({ i }))
  entries.splice(3, 0, { payload: { big: 'x'.repeat(1024 * 1024 + 1) } })
  entries.push({ payload: { i: 99 }, options: { binaryEncoding: true } })
  const results = await p.publishBatch(entries)
  assert.equal(results.length, 14)
  assert.ok(results[3] instanceof m.EncodeError && results[3].code === 'encode.too_large')
  assert.ok(results.filter((_, i) => i !== 3).every((r) => typeof r.messageId === 'string'))
})

test('SNS to SQS: the envelope is unwrapped, its metadata reaches the handler', async () => {
  const q = await ctx.queue()
  const topic = await ctx.ep.createTopic(`t-${Date.now()}`)
  await ctx.ep.subscribe(topic, q)
  const sns = new m.SnsPublisher({ topicArn: topic, ...ctx.ep.connection })
  const sent = await sns.publish({ order: 7 }, { binaryEncoding: true, subject: 'hello', attributes: { tenant: 'acme' } })
  const got = []
  const l = listener(ctx.ep, q)
  l.subscribe({ name: 'orders', pattern: { order: 7 }, handler: (p, msg) => { got.push([p, msg]) } })
  await runUntil(l, () => got.length >= 1)
  const [p, msg] = got[0]
  assert.deepEqual(p, { order: 7 })
  assert.equal(msg.encoding, 'bson')
  assert.equal(msg.sns.topicArn, topic)
  assert.equal(msg.sns.subject, 'hello')
  assert.equal(msg.sns.messageId, sent.messageId)
  assert.deepEqual(msg.sns.messageAttributes.tenant, { dataType: 'String', value: 'acme' })
})

test('no secret in errors', async () => {
  const p = new m.SqsPublisher({ queueUrl: 'http://127.0.0.1:1/000000000000/q', endpoint: 'http://127.0.0.1:1', region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'very-secret-key' } })
  await assert.rejects(p.publish({ a: 1 }), (e) => e instanceof m.ServiceError && !e.message.includes('very-secret-key') && e.category === 'transient')
})
