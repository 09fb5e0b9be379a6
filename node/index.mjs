// ESM entry point: the same module as index.js.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const m = require('./index.js')

export const {
  Payload, PayloadBuilder, Decimal, decode, encode,
  eq, gt, gte, lt, lte, match, oneOf, not, and, or, any, empty, date, compile, compileJson, evaluate, Pattern,
  SqsPublisher, SnsPublisher, SqsListener, ProcessStatus, LocalEndpoint, currentTrace,
  MegaError, JsonError, DecodeError, EncodeError, PatternError, InvalidArgumentError, PublishError,
  ServiceError, ListenerError, BusyError, HandlerError, RetriableError,
} = m
export default m
