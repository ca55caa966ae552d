import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server-helpers.js';

const run = promisify(execFile);
const fixture = (name: string) => new URL(`../../test/fixtures/${name}`, import.meta.url).pathname;
const MONGOSH = new URL('../../../../node_modules/.bin/mongosh', import.meta.url).pathname;
// Debian's python3 has python3-pymongo; the python3 first on PATH may be another interpreter.
const DEBIAN_PYTHON = '/usr/bin/python3';

let env: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  env = await startServer();
});
after(async () => {
  await env.stop();
});

test('mongosh --eval works against Argon', async () => {
  const { stdout } = await run(MONGOSH, [env.uri, '--quiet', '--norc', '--file', fixture('mongosh-check.js')], { timeout: 60_000 });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(out, { count: 2, v2: 20, sorted: [2, 3, 1], indexes: ['_id_', 'k_1'], ping: 1 });
});

test('pymongo works against Argon', { skip: !existsSync(DEBIAN_PYTHON) && 'no /usr/bin/python3' }, async () => {
  const { stdout } = await run(DEBIAN_PYTHON, [fixture('pymongo_check.py'), env.uri], { timeout: 60_000 });
  assert.equal(stdout.trim(), 'OK');
});
