// Shared by the tests: one embedded endpoint per test file, fresh queues, an AWS SDK client, waiting.
import { SQSClient, GetQueueAttributesCommand } from '@aws-sdk/client-sqs'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { LocalEndpoint, SqsListener } from '../index.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

export async function setup() {
  const ep = await LocalEndpoint.start()
  const sqs = new SQSClient({ ...ep.connection })
  return { ep, sqs, queue: () => ep.createQueue(`q-${randomUUID().slice(0, 12)}`) }
}

export function listener(ep, queueUrl, options = {}) {
  return new SqsListener({ queueUrl, ...ep.connection, waitTimeSeconds: 1, shutdownGraceMs: 5000, ...options })
}

export async function until(condition, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('the condition never held')
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Runs listen() until the condition holds, then closes: the run's stats. */
export async function runUntil(l, condition, timeoutMs = 20000) {
  const run = l.listen()
  try {
    await until(condition, timeoutMs)
  } finally {
    await l.close()
  }
  return run
}

export async function counts(sqs, queueUrl) {
  const a = await sqs.send(new GetQueueAttributesCommand({
    QueueUrl: queueUrl,
    AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
  }))
  return [Number(a.Attributes.ApproximateNumberOfMessages), Number(a.Attributes.ApproximateNumberOfMessagesNotVisible)]
}
