// Types of the sqs-mega Node package.
import { EventEmitter } from 'node:events'

/** A payload value: what JSON and BSON carry (Dates for date-times, Buffers for bytes, strings for decimals). */
export type Value = null | boolean | number | string | Date | Buffer | Decimal | Value[] | { [key: string]: Value }

/** An exact decimal (BSON Decimal128, or an integer beyond 64 bits): its text; `Number(d)` gives a float. */
export declare class Decimal {
  constructor(text: string | number | bigint)
  readonly text: string
  toString(): string
  valueOf(): number
  toJSON(): string
}
export type DataObject = { [key: string]: Value }

export interface MegaEvent {
  name: string
  timestamp: Date
  version: number | null
  domain: string | null
  subject: string | null
  publisher: string | null
  attributes: DataObject
}

export interface ObjectData {
  type: string | null
  id: string | null
  version: number | null
  current: DataObject
  previous: DataObject | null
}

/** A MEGA event payload. */
export declare class Payload {
  constructor(event: MegaEvent, object?: ObjectData | null, extra?: DataObject)
  event: MegaEvent
  object: ObjectData | null
  extra: DataObject
  /** The protocol's map form (what is published). */
  toJSON(): DataObject
  /** A payload from its map form, validated (InvalidArgumentError naming the field). */
  static from(map: DataObject): Payload
}

/** Builds a MEGA event: fields that are not event fields become event attributes. */
export declare class PayloadBuilder {
  withEvent(fields: { name?: string; timestamp?: Date; version?: number; domain?: string; subject?: string; publisher?: string; attributes?: DataObject; [attribute: string]: Value | undefined }): this
  withObject(fields: { current: DataObject; type?: string; id?: string; version?: number; previous?: DataObject }): this
  withExtra(values: DataObject): this
  build(): Payload
}

/** What can be published: a MEGA event, a data object, plaintext or bytes. */
export type PublishPayload = Payload | DataObject | string | Uint8Array
export type ReceivedPayload = Payload | DataObject | string | Buffer

export interface SnsMetadata {
  type: string
  messageId: string
  topicArn: string
  subject: string | null
  timestamp: Date
  messageAttributes: { [name: string]: { dataType: string; value: string } }
}

export interface Decoded {
  kind: 'mega' | 'data' | 'plaintext' | 'binary' | 'none'
  encoding: 'json' | 'bson' | 'text' | 'binary' | null
  payload: ReceivedPayload | null
  sns: SnsMetadata | null
}

export declare function decode(body: string | Uint8Array, encoding?: string | null): Decoded
export declare function encode(payload: PublishPayload, binaryEncoding?: boolean): [string, string]

// Patterns ---------------------------------------------------------------------------------------------

export declare class PatternFunction {
  readonly op: string
  readonly args: unknown[]
}
export type PatternValue =
  | Value
  | PatternFunction
  | ((value: Value) => boolean)
  | PatternValue[]
  | { [key: string]: PatternValue }

export declare function eq(value: Value): PatternFunction
export declare function gt(value: number | string | Date | DateOnly): PatternFunction
export declare function gte(value: number | string | Date | DateOnly): PatternFunction
export declare function lt(value: number | string | Date | DateOnly): PatternFunction
export declare function lte(value: number | string | Date | DateOnly): PatternFunction
export declare function match(regex: string | RegExp): PatternFunction
export declare function oneOf(...options: PatternValue[]): PatternFunction
export declare function not(pattern: PatternValue): PatternFunction
export declare function and(...patterns: PatternValue[]): PatternFunction
export declare function or(...patterns: PatternValue[]): PatternFunction
export declare function any(): PatternFunction
export declare function empty(): PatternFunction
export interface DateOnly { readonly __dateOnly: unique symbol }
/** A calendar date (day precision). */
export declare function date(d: string | Date): DateOnly

export declare class Pattern {
  matches(value: Value): boolean
  matchesAsync(value: Value): Promise<boolean>
  explain(value: Value): string | null
}
export declare function compile(pattern: PatternValue): Pattern
export declare function compileJson(pattern: string | object, syntax?: 'mega' | 'eventbridge'): Pattern
export declare function evaluate(lhs: Value, rhs: PatternValue): Promise<boolean>

// AWS --------------------------------------------------------------------------------------------------

export interface AwsOptions {
  region?: string
  endpoint?: string
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  profile?: string
}

export interface PublishOptions {
  binaryEncoding?: boolean
  /** Strings are String, numbers Number, Buffers Binary; or say the type. */
  attributes?: { [name: string]: string | number | Uint8Array | { dataType: string; value: string | Uint8Array } }
  delaySeconds?: number
  groupId?: string
  deduplicationId?: string
  /** SNS only. */
  subject?: string
  /** The trace context to send (default: a new span of the running handler's context, else a new trace). */
  traceparent?: string | TraceContext
  /** Send no traceparent attribute. */
  noTrace?: boolean
}

export interface Published {
  messageId: string
  sequenceNumber: string | null
}

declare class Publisher {
  publish(payload: PublishPayload, options?: PublishOptions): Promise<Published>
  publishBatch(entries: Array<PublishPayload | { payload: PublishPayload; options?: PublishOptions }>): Promise<Array<Published | MegaError>>
}
export declare class SqsPublisher extends Publisher {
  constructor(options: AwsOptions & { queueUrl: string })
  readonly queueUrl: string
}
export declare class SnsPublisher extends Publisher {
  constructor(options: AwsOptions & { topicArn: string })
  readonly topicArn: string
}

// Listening --------------------------------------------------------------------------------------------

export declare const ProcessStatus: {
  readonly DONE: 1
  readonly RETRY_LATER: 2
  readonly FATAL_ERROR: 3
  readonly RETRIABLE_ERROR: 4
}
export type ProcessStatus = (typeof ProcessStatus)[keyof typeof ProcessStatus]

export interface Message {
  messageId: string
  receiptHandle: string
  body: string
  receiveCount: number
  groupId: string | null
  sentAt: Date | null
  attributes: { [name: string]: string }
  messageAttributes: { [name: string]: { dataType: string; value: string | Buffer | null } }
  encoding: string | null
  sns: SnsMetadata | null
  subscriber: string
  /** The trace context of this message's handling: a new span of the sender's trace, or a new trace. */
  trace: TraceContext
}

/** One span's place in a W3C trace. */
export interface TraceContext {
  /** 00-<traceId>-<spanId>-<flags> */
  readonly traceparent: string
  /** 32 lowercase hex digits. */
  readonly traceId: string
  /** 16 lowercase hex digits. */
  readonly spanId: string
  /** The sender's traceparent, or null when the message carried none. */
  readonly parent: string | null
}

/** The trace context of the handler running in this async context (null outside handlers): what publishes
 * made here continue. */
export declare function currentTrace(): TraceContext | null

export type Handler<P> = (payload: P, message: Message) => ProcessStatus | void | Promise<ProcessStatus | void>

export interface EventRules {
  name?: PatternValue
  domain?: PatternValue
  version?: PatternValue
  timestamp?: PatternValue
  subject?: PatternValue
  publisher?: PatternValue
  attributes?: { [key: string]: PatternValue }
  objectType?: PatternValue
  objectVersion?: PatternValue
  objectId?: PatternValue
  objectCurrent?: { [key: string]: PatternValue }
  objectPrevious?: { [key: string]: PatternValue }
}

export type Subscription =
  | { name: string; kind: 'event'; rules?: EventRules; handler: Handler<Payload> }
  | { name: string; kind?: 'data'; pattern?: { [key: string]: PatternValue }; handler: Handler<DataObject> }
  | { name: string; kind: 'message'; pattern?: { [key: string]: PatternValue }; handler: Handler<ReceivedPayload> }

export interface ListenerOptions extends AwsOptions {
  queueUrl: string
  maxNumberOfMessages?: number
  waitTimeSeconds?: number
  visibilityTimeout?: number
  pollers?: number
  maxInFlight?: number
  shutdownGraceMs?: number
  heartbeat?: boolean
  retryBaseMs?: number
  retryMaxMs?: number
  unmatched?: 'delete' | 'keep'
  raw?: 'delete' | 'keep'
  invalid?: 'keep' | 'delete'
  /** An in-memory store ({ capacity }), or a store URL: 'memory', 'redis://HOST:6379/0', 'dynamodb://TABLE'
   * (each with ?lease=30s&ttl=24h). */
  completionStore?: { capacity?: number } | string
  /** Serve Prometheus metrics (GET /metrics) while listening: 9464 (loopback), '0.0.0.0:9464', 0 (a free
   * port: see metricsAddress). */
  metricsAddr?: number | string
  /** The completion store's key of a message: a dotted path into its payload ('order_id', 'data.order_id' of an
   * event) whose string or integer is a business key (default: the message id). */
  idempotencyKey?: string
  isRetriable?: (error: unknown) => boolean
}

export interface Stats {
  receiveCalls: number
  received: number
  dispatched: number
  done: number
  retryLater: number
  fatalError: number
  retriableError: number
  skippedCompleted: number
  unmatched: number
  invalid: number
  deleted: number
  deleteCalls: number
  deleteFailed: number
  retried: number
  released: number
  heartbeats: number
  visibilityCalls: number
  receiveErrors: number
  inFlight: number
  storeCalls: number
  storeErrors: number
  storeBusy: number
  handlerP50Ms: number
  handlerP99Ms: number
  requestsPerMessage: number
}

export interface ProcessedEvent {
  subscriber: string
  status: 'DONE' | 'RETRY_LATER' | 'FATAL_ERROR' | 'RETRIABLE_ERROR'
  message: Message | null
}

export declare class SqsListener extends EventEmitter {
  constructor(options: ListenerOptions)
  readonly queueUrl: string
  subscribe(subscription: Subscription): this
  listen(): Promise<Stats>
  close(): Promise<void>
  closeOnSignals(signals?: NodeJS.Signals[]): this
  readonly running: boolean
  /** Where the metrics endpoint listens while running with metricsAddr, else null. */
  readonly metricsAddress: { host: string; port: number } | null
  stats(): Stats
  on(event: 'message_received', listener: (payload: ReceivedPayload, message: Message) => void): this
  on(event: 'processed', listener: (event: ProcessedEvent) => void): this
  on(event: 'processing_error', listener: (error: unknown, event: ProcessedEvent) => void): this
}

export declare class LocalEndpoint {
  static start(options?: { port?: number }): Promise<LocalEndpoint>
  readonly url: string
  readonly region: string
  readonly connection: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } }
  createQueue(name: string, attributes?: { [name: string]: string }): Promise<string>
  createTopic(name: string): Promise<string>
  subscribe(topicArn: string, queue: string, options?: { raw?: boolean }): Promise<string>
  queueCounts(queueUrl: string): Promise<[number, number]>
  close(): Promise<void>
}

// Errors -----------------------------------------------------------------------------------------------

export declare class MegaError extends Error {
  constructor(message: string, options?: { code?: string; category?: string; detail?: string | null; cause?: unknown })
  /** The core's stable code (docs/errors.md), e.g. "decode.base64". */
  code: string
  category: 'bad_input' | 'configuration' | 'transient' | 'service' | 'internal' | string
  detail: string | null
}
export declare class JsonError extends MegaError {}
export declare class DecodeError extends MegaError {}
export declare class EncodeError extends MegaError {}
export declare class PatternError extends MegaError {}
export declare class InvalidArgumentError extends MegaError {}
export declare class PublishError extends MegaError {}
export declare class ServiceError extends MegaError {}
export declare class ListenerError extends MegaError {}
export declare class BusyError extends MegaError {}
export declare class HandlerError extends MegaError {}
export declare class RetriableError extends MegaError {}
