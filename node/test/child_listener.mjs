// A listener process for the signal and crash tests: node child_listener.mjs QUEUE_URL ENDPOINT SLEEP_MS GRACE_MS
// Prints `ready`, `started ID` / `finished ID` around each handler, `stopped done=N released=N` at the end.
import { SqsListener } from '../index.js'

const [queueUrl, endpoint, sleepMs, graceMs] = process.argv.slice(2)
const l = new SqsListener({
  queueUrl, endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  waitTimeSeconds: 1, visibilityTimeout: 2, shutdownGraceMs: Number(graceMs),
})
l.subscribe({
  name: 'slow',
  handler: async (payload, message) => {
    console.log(`started ${message.messageId}`)
    await new Promise((r) => setTimeout(r, Number(sleepMs)))
    console.log(`finished ${message.messageId}`)
  },
})
l.closeOnSignals()
setTimeout(() => console.log('ready'), 200)
const stats = await l.listen()
console.log(`stopped done=${stats.done} released=${stats.released}`)
// Nothing else: the process must exit by itself now (no handle left referenced).
