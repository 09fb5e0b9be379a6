// The README's Node section shows examples/node/quickstart.mjs as it is (scripts/test-node.sh runs it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from './helpers.mjs'

test('README shows the quickstart verbatim', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const quickstart = readFileSync(path.join(ROOT, 'examples/node/quickstart.mjs'), 'utf8')
  assert.ok(readme.includes('```js\n' + quickstart + '```'))
})
