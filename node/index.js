'use strict'
// sqs-mega for Node: the JavaScript half. It owns conversions (tagged JSON both ways), wraps handlers so
// that nothing they do can escape as anything but a status, and gives the API its Node shape. Polling,
// decoding, matching, retries and deletes are the Rust core's (the addon), off the event loop.

const { EventEmitter } = require('node:events')
const { AsyncLocalStorage } = require('node:async_hooks')
const path = require('node:path')

function loadNative() {
  const tried = []
  const abi = process.report?.getReport?.().header?.glibcVersionRuntime ? 'gnu' : 'musl'
  const names = [`sqs-mega.${process.platform}-${process.arch}-${abi}.node`, `sqs-mega.${process.platform}-${process.arch}.node`]
  for (const name of names) {
    try {
      return require(path.join(__dirname, name))
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') throw e
      tried.push(name)
    }
  }
  throw new Error(`sqs-mega: no native addon for ${process.platform}-${process.arch} (looked for ${tried.join(', ')}); build it with \`npm run build\``)
}

const native = loadNative()

// ---------------------------------------------------------------------------------------------------------
// Errors: one class per family of the core's error table (docs/errors.md), with its stable `code`.

class MegaError extends Error {
  constructor(message, { code = 'mega', category = 'internal', detail = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = new.target.name
    this.code = code
    this.category = category
    this.detail = detail
  }
}
class JsonError extends MegaError {}
class DecodeError extends MegaError {}
class EncodeError extends MegaError {}
class PatternError extends MegaError {}
class InvalidArgumentError extends MegaError {}
class PublishError extends MegaError {}
class ServiceError extends MegaError {}
class ListenerError extends MegaError {}
class BusyError extends MegaError {}
class HandlerError extends MegaError {}
/** Throw it (or a subclass) from a handler: the message comes back later (RETRIABLE_ERROR). */
class RetriableError extends MegaError {
  constructor(message, options = {}) {
    super(message, { code: 'handler.retriable', category: 'transient', ...options })
  }
}

const errorClasses = {
  JsonError, DecodeError, EncodeError, PatternError, InvalidArgumentError, PublishError, ServiceError,
  ListenerError, BusyError, HandlerError,
}
const table = new Map(native.errorTable().map(([code, cls, category]) => [code, { cls, category }]))

function megaError(code, message, detail) {
  const entry = table.get(code)
  const Cls = entry ? errorClasses[entry.cls] : code === 'invalid_argument' ? InvalidArgumentError : MegaError
  return new Cls(message, { code, category: entry ? entry.category : 'bad_input', detail: detail || null })
}

function fromNative(e) {
  if (!(e instanceof Error) || typeof e.message !== 'string' || !e.message.includes('\u001f')) return e
  const [code, message, detail] = e.message.split('\u001f')
  return megaError(code, message, detail)
}

function call(fn) {
  try {
    return fn()
  } catch (e) {
    throw fromNative(e)
  }
}

async function callAsync(promise) {
  try {
    return await promise
  } catch (e) {
    throw fromNative(e)
  }
}

// ---------------------------------------------------------------------------------------------------------
// Values: tagged JSON ({"$datetime"}, {"$bytes"}, {"$decimal"}, {"$float"}) both ways.

/** An exact decimal (BSON Decimal128, or an integer beyond 64 bits): its text; `Number(d)` gives a float. */
class Decimal {
  constructor(text) {
    this.text = String(text)
  }

  toString() {
    return this.text
  }

  valueOf() {
    return Number(this.text)
  }

  toJSON() {
    return this.text
  }
}

function replacer(key, value) {
  const raw = this[key]
  if (raw instanceof Decimal) return { $decimal: raw.text }
  if (raw instanceof Date) return { $datetime: raw.toISOString() }
  if (raw instanceof Uint8Array) return { $bytes: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') }
  if (typeof raw === 'bigint') return { $decimal: raw.toString() }
  if (typeof raw === 'number' && !Number.isFinite(raw)) return { $float: String(raw) }
  if (typeof raw === 'function' || typeof raw === 'symbol') {
    throw new EncodeError(`a ${typeof raw} has no payload form (at ${JSON.stringify(key)})`, { code: 'encode.json' })
  }
  return value
}

function toTagged(value) {
  return JSON.stringify(value === undefined ? null : value, replacer)
}

function reviver(key, value) {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value)
    if (keys.length === 1) {
      const k = keys[0]
      if (k === '$datetime') return new Date(value.$datetime)
      if (k === '$bytes') return Buffer.from(value.$bytes, 'base64')
      if (k === '$decimal') return new Decimal(value.$decimal)
      if (k === '$float') return Number(value.$float)
    }
  }
  return value
}

function fromTagged(text) {
  return JSON.parse(text, reviver)
}

// ---------------------------------------------------------------------------------------------------------
// MEGA events

class Payload {
  constructor(event, object = null, extra = {}) {
    this.event = event
    this.object = object
    this.extra = extra
  }

  /** The protocol's map form (what is published). */
  toJSON() {
    const d = { protocol: 'mega', version: 1, event: stripNulls(this.event) }
    if (this.object) d.object = stripNulls(this.object)
    if (this.extra && Object.keys(this.extra).length) d.extra = this.extra
    return d
  }

  /** A payload from its map form, validated (InvalidArgumentError naming the field). */
  static from(map) {
    return Payload.fromCanonical(fromTagged(call(() => native.validateEvent(toTagged(map)))))
  }

  static fromCanonical(d) {
    const e = d.event
    const event = {
      name: e.name, timestamp: e.timestamp, version: e.version ?? null, domain: e.domain ?? null,
      subject: e.subject ?? null, publisher: e.publisher ?? null, attributes: e.attributes ?? {},
    }
    const o = d.object
    const object = o
      ? { type: o.type ?? null, id: o.id ?? null, version: o.version ?? null, current: o.current, previous: o.previous ?? null }
      : null
    return new Payload(event, object, d.extra ?? {})
  }
}

function stripNulls(o) {
  const out = {}
  for (const [k, v] of Object.entries(o)) {
    if (v === null || v === undefined) continue
    if (k === 'attributes' && v && typeof v === 'object' && Object.keys(v).length === 0) continue
    out[k] = v
  }
  return out
}

const EVENT_FIELDS = new Set(['name', 'timestamp', 'version', 'domain', 'subject', 'publisher'])
const OBJECT_FIELDS = new Set(['type', 'id', 'version', 'current', 'previous'])

/** Builds a MEGA event: withEvent({ name, subject, ...attributes }), withObject({ current, ... }), build(). */
class PayloadBuilder {
  constructor() {
    this._event = null
    this._object = null
    this._extra = {}
  }

  withEvent(fields) {
    const event = {}
    const attributes = { ...(fields.attributes || {}) }
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'attributes') continue
      if (EVENT_FIELDS.has(k)) event[k] = v
      else attributes[k] = v
    }
    if (Object.keys(attributes).length) event.attributes = attributes
    this._event = event
    return this
  }

  withObject(fields) {
    for (const k of Object.keys(fields)) {
      if (!OBJECT_FIELDS.has(k)) {
        throw new InvalidArgumentError(`object has no field '${k}' (fields: ${[...OBJECT_FIELDS].join(', ')})`, { code: 'event.invalid' })
      }
    }
    this._object = { ...fields }
    return this
  }

  withExtra(values) {
    Object.assign(this._extra, values)
    return this
  }

  build() {
    const d = { protocol: 'mega', version: 1 }
    if (this._event) d.event = { timestamp: new Date(), ...this._event } // a Date holds milliseconds, as BSON does
    if (this._object) d.object = this._object
    if (Object.keys(this._extra).length) d.extra = this._extra
    return Payload.from(d)
  }
}

function classify(payload) {
  if (payload instanceof Payload) return ['mega', toTagged(payload.toJSON())]
  if (typeof payload === 'string') return ['plaintext', toTagged(payload)]
  if (payload instanceof Uint8Array) return ['binary', toTagged(payload)]
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) return ['data', toTagged(payload)]
  throw new InvalidArgumentError(
    `cannot publish ${payload === null ? 'null' : Array.isArray(payload) ? 'an array' : `a ${typeof payload}`}: a payload is a Payload, a plain object (data), a string (plaintext) or a Buffer`,
    { code: 'invalid_argument' },
  )
}

function payloadOf(kind, value) {
  return kind === 'mega' ? Payload.fromCanonical(value) : value
}

/** Decodes any SQS body (a string, or bytes that must be UTF-8): { kind, encoding, payload, sns }. */
function decode(body, encoding) {
  const d = fromTagged(call(() => native.decode(body, encoding ?? null)))
  return { kind: d.kind, encoding: d.encoding, payload: payloadOf(d.kind, d.payload), sns: d.sns }
}

/** Encodes a payload as a publisher would: [body, encoding]. */
function encode(payload, binaryEncoding = false) {
  const [kind, json] = classify(payload)
  return call(() => native.encode(kind, json, binaryEncoding))
}

// ---------------------------------------------------------------------------------------------------------
// Patterns: the seed's helpers, plain objects as partial matches, JS predicates anywhere.

class PatternFunction {
  constructor(op, args) {
    this.op = op
    this.args = args
  }
}

const eq = (v) => new PatternFunction('eq', [v])
const gt = (v) => new PatternFunction('gt', [v])
const gte = (v) => new PatternFunction('gte', [v])
const lt = (v) => new PatternFunction('lt', [v])
const lte = (v) => new PatternFunction('lte', [v])
const match = (re) => new PatternFunction('match', [re instanceof RegExp ? re.source : re])
const oneOf = (...options) => new PatternFunction('one_of', options)
const not = (p) => new PatternFunction('not', [p])
const and = (...ps) => new PatternFunction('and', ps)
const or = (...ps) => new PatternFunction('or', ps)
const any = () => new PatternFunction('any', [])
const empty = () => new PatternFunction('empty', [])
/** A calendar date (day precision): date('2020-01-01') or date(new Date(...)). */
const date = (d) => ({ [DATE]: typeof d === 'string' ? d : d.toISOString().slice(0, 10) })
const DATE = Symbol('sqs-mega date')

function predicateWrapper(fn) {
  return (text) => {
    try {
      return Boolean(fn(fromTagged(text)))
    } catch {
      return false // a predicate that throws is no match
    }
  }
}

function literal(v) {
  if (v instanceof Date) return { $datetime: v.toISOString() }
  if (v instanceof Decimal) return { $decimal: v.text }
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') }
  if (typeof v === 'bigint') return { $decimal: v.toString() }
  if (v !== null && typeof v === 'object' && DATE in v) return { $date: v[DATE] }
  if (Array.isArray(v)) return v.map(literal)
  if (v !== null && typeof v === 'object') {
    const out = {}
    for (const [k, x] of Object.entries(v)) out[k] = literal(x)
    return out
  }
  return v
}

function toPattern(p, fns) {
  if (p instanceof PatternFunction) {
    const sub = (x) => toPattern(x, fns)
    switch (p.op) {
      case 'eq': return { $eq: literal(p.args[0]) }
      case 'gt': case 'gte': case 'lt': case 'lte': return { [`$${p.op}`]: literal(p.args[0]) }
      case 'match': return { $match: p.args[0] }
      case 'one_of': return { $one_of: p.args.map(sub) }
      case 'not': return { $not: sub(p.args[0]) }
      case 'and': return { $and: p.args.map(sub) }
      case 'or': return { $or: p.args.map(sub) }
      case 'any': return { $any: true }
      case 'empty': return { $empty: true }
    }
  }
  if (typeof p === 'function') {
    fns.push(predicateWrapper(p))
    return { $fn: `js${fns.length - 1}` }
  }
  if (p instanceof Date || p instanceof Uint8Array || p instanceof Decimal || typeof p === 'bigint') return literal(p)
  if (p !== null && typeof p === 'object' && DATE in p) return literal(p)
  if (Array.isArray(p)) return p.map((x) => toPattern(x, fns))
  if (p !== null && typeof p === 'object') {
    const out = {}
    for (const [k, v] of Object.entries(p)) out[k] = toPattern(v, fns)
    return Object.keys(out).some((k) => k.startsWith('$')) ? { $map: out } : out
  }
  return p
}

const EVENT_RULES = {
  name: 'event_name', domain: 'event_domain', version: 'event_version', timestamp: 'event_timestamp',
  subject: 'event_subject', publisher: 'event_publisher', attributes: 'event_attributes',
  objectType: 'object_type', objectVersion: 'object_version', objectId: 'object_id',
  objectCurrent: 'object_current', objectPrevious: 'object_previous',
}

function eventRules(rules, fns) {
  const out = {}
  for (const [k, v] of Object.entries(rules || {})) {
    const name = EVENT_RULES[k] || k
    if (v !== undefined) out[name] = toPattern(v, fns)
  }
  return { $event: out }
}

class Pattern {
  constructor(pattern, { syntax = 'mega', json = false } = {}) {
    const fns = []
    const text = json ? (typeof pattern === 'string' ? pattern : JSON.stringify(pattern)) : JSON.stringify(toPattern(pattern, fns))
    this._native = call(() => native.compilePattern(text, syntax, fns))
  }

  /** Whether the value matches (patterns with JS functions: use matchesAsync). */
  matches(value) {
    return call(() => this._native.matches(toTagged(value)))
  }

  /** Whether the value matches, JS predicates included (they run on this thread, between other work). */
  async matchesAsync(value) {
    return callAsync(this._native.matchesAsync(toTagged(value)))
  }

  /** Why the value does not match (null when it does). */
  explain(value) {
    return call(() => this._native.explain(toTagged(value)))
  }
}

/** Compiles a pattern of the helpers, plain objects, arrays, Dates and functions. */
const compile = (pattern) => new Pattern(pattern)
/** Compiles a pattern of the JSON pattern format (docs/patterns.md), or EventBridge syntax. */
const compileJson = (pattern, syntax = 'mega') => new Pattern(pattern, { syntax, json: true })
/** The seed's evaluator: does `lhs` match the pattern `rhs`? */
const evaluate = (lhs, rhs) => new Pattern(rhs).matchesAsync(lhs)

// ---------------------------------------------------------------------------------------------------------
// AWS settings and publishers

function settingsOf(o = {}) {
  const c = o.credentials || {}
  return {
    region: o.region ?? undefined,
    endpoint: o.endpoint ?? o.endpointUrl ?? undefined,
    accessKeyId: c.accessKeyId ?? undefined,
    secretAccessKey: c.secretAccessKey ?? undefined,
    sessionToken: c.sessionToken ?? undefined,
    profile: o.profile ?? undefined,
  }
}

const ProcessStatus = Object.freeze({ DONE: 1, RETRY_LATER: 2, FATAL_ERROR: 3, RETRIABLE_ERROR: 4 })
const STATUS_NAMES = ['', 'DONE', 'RETRY_LATER', 'FATAL_ERROR', 'RETRIABLE_ERROR']

// ---------------------------------------------------------------------------------------------------------
// Trace context: each handler runs in its message's context (an AsyncLocalStorage), which publishes made from
// it continue (a new span of the same trace).

const traceStorage = new AsyncLocalStorage()

/** The trace context of the handler running in this async context: { traceparent, traceId, spanId, parent },
 * or null outside handlers. */
function currentTrace() {
  return traceStorage.getStore() ?? null
}

/** The publish options the addon gets: the traceparent given (a string or a trace context), else the running
 * handler's context to continue. */
function traceOptions(options) {
  const { traceparent, ...rest } = options || {}
  if (traceparent !== undefined && traceparent !== null) {
    return { ...rest, traceparent: typeof traceparent === 'string' ? traceparent : traceparent.traceparent }
  }
  const running = traceStorage.getStore()
  return running ? { ...rest, parentTrace: running.traceparent } : rest
}

function publishResult([messageId, sequenceNumber]) {
  return { messageId, sequenceNumber: sequenceNumber ?? null }
}

class Publisher {
  constructor(target, address, options) {
    this._native = call(() => new native.NativePublisher(settingsOf(options), target, address))
  }

  /** Publishes one payload: { messageId, sequenceNumber }. */
  async publish(payload, options = {}) {
    const [kind, json] = classify(payload)
    return publishResult(await callAsync(this._native.publish(kind, json, toTagged(traceOptions(options)))))
  }

  /** Publishes many payloads (or { payload, options }), ten per request: one result per entry, in order,
   * { messageId } or the MegaError that entry met (not thrown). */
  async publishBatch(entries) {
    const list = entries.map((e) => {
      const isEntry = e !== null && typeof e === 'object' && 'payload' in e && !(e instanceof Payload)
      const [kind, json] = classify(isEntry ? e.payload : e)
      return [kind, json, toTagged(traceOptions(isEntry ? e.options || {} : {}))]
    })
    const results = await callAsync(this._native.publishBatch(list))
    return results.map(([id, x]) => {
      if (id != null) return publishResult([id, x])
      const [code, message, detail] = x.split('\u001f')
      return megaError(code, message, detail)
    })
  }
}

class SqsPublisher extends Publisher {
  constructor({ queueUrl, ...options }) {
    super('queue', queueUrl, options)
    this.queueUrl = queueUrl
  }
}

class SnsPublisher extends Publisher {
  constructor({ topicArn, ...options }) {
    super('topic', topicArn, options)
    this.topicArn = topicArn
  }
}

// ---------------------------------------------------------------------------------------------------------
// The listener

class SqsListener extends EventEmitter {
  /**
   * @param {object} o queueUrl, region / endpoint / credentials (else the standard AWS chain), and
   *   maxNumberOfMessages (10), waitTimeSeconds (20), visibilityTimeout (the queue's), pollers (1),
   *   maxInFlight (100), shutdownGraceMs (30000), heartbeat (true), retryBaseMs / retryMaxMs (2000 /
   *   900000), unmatched ('delete'), raw ('delete'), invalid ('keep'), completionStore ({ capacity } or
   *   a store URL: 'memory', 'redis://HOST:6379/0', 'dynamodb://TABLE'), metricsAddr (9464,
   *   '0.0.0.0:9464', 0: a free port), idempotencyKey (the completion store's key: a dotted path into the
   *   payload, 'order_id'; default the message id), isRetriable (error => boolean, besides RetriableError).
   */
  constructor(o) {
    super()
    const { queueUrl, isRetriable, completionStore, metricsAddr, ...rest } = o
    if (completionStore !== undefined && completionStore !== null && typeof completionStore !== 'string' && typeof completionStore !== 'object') {
      throw new InvalidArgumentError(`completionStore must be { capacity } or a store URL, not ${describe(completionStore)}`, { code: 'invalid_argument' })
    }
    this.queueUrl = queueUrl
    this._isRetriable = isRetriable || null
    this._closing = null
    this._running = null
    this._signals = null
    const options = {
      maxNumberOfMessages: rest.maxNumberOfMessages,
      waitTimeSeconds: rest.waitTimeSeconds,
      visibilityTimeout: rest.visibilityTimeout,
      pollers: rest.pollers,
      maxInFlight: rest.maxInFlight ?? 100,
      shutdownGraceMs: rest.shutdownGraceMs,
      heartbeat: rest.heartbeat,
      retryBaseMs: rest.retryBaseMs,
      retryMaxMs: rest.retryMaxMs,
      unmatched: rest.unmatched,
      raw: rest.raw,
      invalid: rest.invalid,
      completionStoreCapacity: completionStore && typeof completionStore === 'object' ? completionStore.capacity ?? 100000 : undefined,
      completionStore: typeof completionStore === 'string' ? completionStore : undefined,
      metricsAddr: metricsAddr === undefined || metricsAddr === null ? undefined : String(metricsAddr),
      idempotencyKey: rest.idempotencyKey ?? undefined,
    }
    this._native = call(() => new native.NativeListener(queueUrl, settingsOf(rest), options))
  }

  /**
   * Registers a subscriber: { name, kind: 'data' | 'event' | 'message', pattern (data), rules (event:
   * domain, name, version, attributes, objectType, ...), handler: async (payload, message) => status }.
   */
  subscribe({ name, kind = 'data', pattern, rules, handler }) {
    if (typeof handler !== 'function') throw new InvalidArgumentError('subscribe needs a handler function', { code: 'invalid_argument' })
    if (typeof name !== 'string' || !name) throw new InvalidArgumentError('subscribe needs a name', { code: 'invalid_argument' })
    const fns = []
    let text = null
    if (kind === 'event') {
      if (pattern !== undefined) throw new InvalidArgumentError('an event subscriber takes rules, not a pattern', { code: 'invalid_argument' })
      if (rules && Object.keys(rules).length) text = JSON.stringify(eventRules(rules, fns))
    } else if (pattern !== undefined && pattern !== null) {
      text = JSON.stringify(toPattern(pattern, fns))
    }
    call(() => this._native.subscribe(name, kind, text, fns, this._wrap(name, handler)))
    return this
  }

  _wrap(name, handler) {
    return async (text) => {
      let message = null
      try {
        const d = fromTagged(text)
        message = { ...d.message, encoding: d.encoding, sns: d.sns, subscriber: name }
        Object.freeze(message.trace)
        const payload = payloadOf(d.kind, d.payload)
        if (this.listenerCount('message_received')) this.emit('message_received', payload, message)
        const result = await traceStorage.run(message.trace, () => handler(payload, message))
        const status = this._statusOf(name, result, message)
        if (this.listenerCount('processed')) this.emit('processed', { subscriber: name, status: STATUS_NAMES[status], message })
        return status
      } catch (error) {
        const retriable = error instanceof RetriableError || (this._isRetriable !== null && safeIsRetriable(this._isRetriable, error))
        const status = retriable ? ProcessStatus.RETRIABLE_ERROR : ProcessStatus.FATAL_ERROR
        this._report(error, name, message, STATUS_NAMES[status])
        return status
      }
    }
  }

  _statusOf(name, result, message) {
    if (result === undefined || result === null) return ProcessStatus.DONE
    if (result === 1 || result === 2 || result === 3 || result === 4) return result
    const error = new HandlerError(
      `subscriber ${name} returned ${describe(result)}, which is not a ProcessStatus: counted as RETRIABLE_ERROR`,
      { code: 'handler.retriable', category: 'transient' },
    )
    this._report(error, name, message, 'RETRIABLE_ERROR')
    return ProcessStatus.RETRIABLE_ERROR
  }

  _report(error, subscriber, message, status) {
    if (this.listenerCount('processing_error')) {
      this.emit('processing_error', error, { subscriber, status, message })
    } else {
      console.error(`sqs-mega: subscriber ${subscriber}: ${status}:`, error)
    }
  }

  /** Listens until close(): resolves with the run's counters. */
  async listen() {
    this._running = (async () => {
      try {
        return JSON.parse(await callAsync(this._native.listen()))
      } finally {
        this._running = null
      }
    })()
    return this._running
  }

  /** Stops gracefully: no new messages, work in flight finishes (up to shutdownGraceMs), the rest is
   * released; resolves when listen() has returned. */
  async close() {
    this._native.close()
    this._removeSignals()
    if (this._running) {
      try {
        await this._running
      } catch {
        // listen() reports its own failure
      }
    }
  }

  /** Stops gracefully on SIGINT and SIGTERM (once; the handlers are removed after close, so a second Ctrl-C
   * ends the process as Node normally does). */
  closeOnSignals(signals = ['SIGINT', 'SIGTERM']) {
    this._removeSignals()
    const handler = () => {
      this.close()
    }
    for (const s of signals) process.once(s, handler)
    this._signals = { signals, handler }
    return this
  }

  _removeSignals() {
    if (!this._signals) return
    for (const s of this._signals.signals) process.removeListener(s, this._signals.handler)
    this._signals = null
  }

  get running() {
    return this._native.running
  }

  /** { host, port } of the metrics endpoint while listening with metricsAddr (the port picked for 0), else
   * null. */
  get metricsAddress() {
    const a = this._native.metricsAddr
    return a ? { host: a[0], port: Number(a[1]) } : null
  }

  /** The counters of the current or last run. */
  stats() {
    return JSON.parse(this._native.stats())
  }
}

function safeIsRetriable(f, error) {
  try {
    return Boolean(f(error))
  } catch {
    return false
  }
}

function describe(v) {
  try {
    return `${typeof v} ${JSON.stringify(v)}`
  } catch {
    return typeof v
  }
}

// ---------------------------------------------------------------------------------------------------------
// The embedded endpoint

class LocalEndpoint {
  constructor(n) {
    this._native = n
    this.url = n.url
    this.region = 'us-east-1'
  }

  /** Starts the embedded SQS + SNS endpoint in this process, on loopback (port 0: a free one). */
  static async start({ port = 0 } = {}) {
    return new LocalEndpoint(call(() => new native.NativeLocal(port)))
  }

  /** What connects a publisher or listener (or an AWS SDK client) to this endpoint. */
  get connection() {
    return { endpoint: this.url, region: this.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
  }

  createQueue(name, attributes) {
    return callAsync(this._native.createQueue(name, attributes ?? null))
  }

  createTopic(name) {
    return callAsync(this._native.createTopic(name))
  }

  subscribe(topicArn, queue, { raw = false } = {}) {
    return callAsync(this._native.subscribe(topicArn, queue, raw))
  }

  /** [visible, inFlight] */
  queueCounts(queueUrl) {
    return callAsync(this._native.queueCounts(queueUrl))
  }

  async close() {
    this._native.close()
  }
}

module.exports = {
  // payloads
  Payload, PayloadBuilder, Decimal, decode, encode,
  // patterns
  eq, gt, gte, lt, lte, match, oneOf, not, and, or, any, empty, date, compile, compileJson, evaluate, Pattern,
  // publishing and listening
  SqsPublisher, SnsPublisher, SqsListener, ProcessStatus, LocalEndpoint, currentTrace,
  // errors
  MegaError, JsonError, DecodeError, EncodeError, PatternError, InvalidArgumentError, PublishError,
  ServiceError, ListenerError, BusyError, HandlerError, RetriableError,
}
// The addon itself, for node/bench (not part of the API).
Object.defineProperty(module.exports, '_native', { value: native, enumerable: false })
