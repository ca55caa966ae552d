import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from './helpers/cli.js';
import { startServe } from './helpers/serve.js';

/** What a new user of `plinth` meets first: --version, the help of serve, the log format of serve. */

const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

test('--version prints the version of the package', async () => {
  for (const flag of ['--version', '-V']) {
    const run = await runCli([flag]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), PACKAGE.version);
  }
});

test('serve --help lists --data (it is an option of serve itself)', async () => {
  assert.match((await runCli(['serve', '--help'])).stdout, /--data <dir>/);
});

test('the log format of serve: pretty lines on a terminal, JSON lines otherwise', async () => {
  const { logTransport } = await import('../src/cli/logger.js');
  assert.equal(logTransport(true)?.target, 'pino-pretty');
  assert.equal(logTransport(false), undefined);
  assert.equal(logTransport(undefined), undefined, 'a pipe or file: stdout.isTTY is undefined');
  // startServe reads the piped output as JSON lines, up to the ready line.
  const dataDir = mkdtempSync(join(tmpdir(), 'plinth-ux-'));
  try {
    const served = await startServe({ dataDir, accessKey: 'AKIAUXTEST0000000000', secretKey: 'ux-secret-key-0000000000000000000000000' });
    assert.match(served.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await served.kill('SIGTERM'), 0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
