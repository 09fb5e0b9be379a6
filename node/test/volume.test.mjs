// 100,000 messages: each handled once, heap and RSS bounded (no per-message leak in the binding).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as m from '../index.js'
import { setup, listener } from './helpers.mjs'

const TOTAL = 100_000

test('100,000 messages with bounded heap and RSS', { timeout: 600_000 }, async () => {
  const ctx = await setup()
  try {
    const q = await ctx.queue()
    const pub = new m.SqsPublisher({ queueUrl: q, ...ctx.ep.connection })
    for (let i = 0; i < TOTAL; i += 1000) {
      const results = await pub.publishBatch(Array.from({ length: 1000 }, (_, j) => ({ type: 'order', n: i + j, lines: [{ sku: 'A-1', qty: 2 }] })))
      assert.ok(results.every((r) => !(r instanceof Error)))
    }
    const seen = new Uint8Array(TOTAL)
    let count = 0
    const marks = {}
    const l = listener(ctx.ep, q, { pollers: 2 })
    l.subscribe({
      name: 'orders',
      pattern: { type: 'order' },
      handler: (p) => {
        seen[p.n]++
        count++
        if (count === 20_000) {
          global.gc?.()
          marks.warm = { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed }
        }
        if (count === TOTAL) {
          global.gc?.()
          marks.end = { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed }
          l.close()
        }
      },
    })
    const stats = await l.listen()
    assert.equal(stats.done, TOTAL)
    assert.equal(stats.deleted, TOTAL)
    assert.ok(seen.every((x) => x === 1), 'every message handled exactly once')
    const mib = (x) => x / 1024 / 1024
    const rssGrowth = mib(marks.end.rss - marks.warm.rss)
    const heapGrowth = mib(marks.end.heap - marks.warm.heap)
    assert.ok(rssGrowth < 60, `RSS grew ${rssGrowth.toFixed(1)} MiB over the last 80,000 messages`)
    assert.ok(heapGrowth < 30, `the JS heap grew ${heapGrowth.toFixed(1)} MiB over the last 80,000 messages`)
  } finally {
    await ctx.ep.close()
  }
})
