/** The `dataplane` command end to end: a real `dataplane serve`, commands as separate processes. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, cli, freePort, serve, type ServeProcess } from './cli-helpers.js';

const EXAMPLE = `name: example
description: fibonacci in two steps
params:
  n: {type: integer, default: 10}
tasks:
  fib:
    run: python
    file: steps/fib.py
  report:
    run: bash
    needs: [fib]
    code: |
      echo "inputs: $(cat "$DATAPLANE_INPUTS")"
`;
const FIB = `import json, os
def f(n): return n if n < 2 else f(n - 1) + f(n - 2)
n = int(os.environ['DATAPLANE_PARAM_N'])
print('fib', n, '=', f(n))
json.dump({'fib': f(n)}, open(os.environ['DATAPLANE_OUTPUT'], 'w'))
`;

describe('dataplane CLI', () => {
  let dir: string;
  let server: ServeProcess;
  let env: Record<string, string>;
  const dp = (...args: string[]) => cli(args, env);
  const json = async (...args: string[]) => {
    const r = await dp('--json', ...args);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dataplane-cli-'));
    mkdirSync(join(dir, 'steps'));
    writeFileSync(join(dir, 'example.yaml'), EXAMPLE);
    writeFileSync(join(dir, 'steps', 'fib.py'), FIB);
    writeFileSync(join(dir, 'broken.yaml'), 'name: broken\ntasks:\n  boom: {run: bash, code: "echo no >&2; exit 4"}\n');
    writeFileSync(join(dir, 'remote.yaml'), 'name: remote\ntasks:\n  where: {run: bash, group: far, code: "echo far away"}\n');
    server = await serve(join(dir, 'data'), ['--workers', '1']);
    env = { DATAPLANE_SERVER: server.url };
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints its version and help with examples', async () => {
    const version = await dp('--version');
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
    const help = await dp('--help');
    assert.match(help.stdout, /Examples:/);
    assert.match(help.stdout, /dataplane run example --param n=10 --wait/);
    assert.match((await dp('run', '--help')).stdout, /--wait/);
  });

  it('applies a pipeline with the files it names, then lists and shows it', async () => {
    const applied = await dp('pipeline', 'apply', join(dir, 'example.yaml'));
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /applied example version 1 \(2 tasks\)/);
    assert.match((await dp('pipeline', 'apply', join(dir, 'example.yaml'))).stdout, /unchanged/);
    const list = await json('pipeline', 'list');
    assert.deepEqual(list.map((p: { name: string }) => p.name), ['example']);
    const shown = await json('pipeline', 'show', 'example@1');
    assert.equal(shown.spec.tasks[0].code, FIB);
    assert.match((await dp('pipeline', 'show', 'example')).stdout, /fib\s+python/);
    const valid = await dp('pipeline', 'validate', join(dir, 'broken.yaml'));
    assert.equal(valid.code, 0, valid.stderr);
  });

  it('explains an invalid file and an unknown pipeline, exit code 1', async () => {
    writeFileSync(join(dir, 'invalid.yaml'), 'name: invalid\ntasks:\n  a: {run: python, code: "1", needs: [ghost]}\n');
    const bad = await dp('pipeline', 'apply', join(dir, 'invalid.yaml'));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /tasks\.a\.needs\[0\]/);
    assert.match(bad.stderr, /InvalidPipeline/);
    const missing = await dp('run', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no pipeline 'nope' \(PipelineNotFound\)/);
  });

  it('runs with --wait: exit 0 when it succeeded, 1 when it failed', async () => {
    const ok = await dp('run', 'example', '--param', 'n=12', '--wait');
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /succeeded/);
    assert.match(ok.stdout, /report\s+succeeded/);
    assert.equal((await dp('pipeline', 'apply', join(dir, 'broken.yaml'))).code, 0);
    const failed = await dp('run', 'broken', '--wait');
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /boom\s+failed\s+1\s+\S+\s+\S+\s+4\s+exited with code 4/);
  });

  it('gives JSON with --json: the run and its tasks after --wait', async () => {
    const result = await cli(['--json', 'run', 'example', '--param', 'n=7', '--wait'], env);
    assert.equal(result.code, 0, result.stderr);
    const detail = JSON.parse(result.stdout);
    assert.equal(detail.run.state, 'succeeded');
    assert.deepEqual(detail.tasks.map((t: { taskId: string; state: string }) => [t.taskId, t.state]), [['fib', 'succeeded'], ['report', 'succeeded']]);
    assert.deepEqual(detail.tasks[0].output, { fib: 13 });
    const runs = await json('runs', 'list', '--pipeline', 'example', '--limit', '5');
    assert.equal(runs[0].id, detail.run.id);
    const logs = await json('logs', detail.run.id, '--task', 'fib');
    assert.deepEqual(logs.map((l: { text: string }) => l.text), ['fib 7 = 13']);
  });

  it('follows a run: its log lines as they come, until it ends', async () => {
    const r = await dp('run', 'example', '--param', 'n=5', '--follow');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /fib \| fib 5 = 5/);
    assert.match(r.stdout, /report \| inputs: \{"fib":\{"fib":5\}\}/);
    const id = /run (r\w+)/.exec(r.stdout)![1]!;
    const shown = await dp('runs', 'show', id);
    assert.match(shown.stdout, /fib\s+succeeded/);
    assert.match((await dp('logs', id)).stdout, /report \| inputs/);
  });

  it('cancels and reruns runs', async () => {
    writeFileSync(join(dir, 'slow.yaml'), 'name: slow\ntasks:\n  nap: {run: bash, code: "sleep 30"}\n');
    await dp('pipeline', 'apply', join(dir, 'slow.yaml'));
    const run = await json('run', 'slow');
    const cancelled = await json('runs', 'cancel', run.id);
    assert.equal(cancelled.state, 'cancelled');
    const rerun = await json('runs', 'rerun', run.id);
    assert.equal(rerun.attempt, 2);
    assert.equal((await json('runs', 'cancel', run.id)).state, 'cancelled');
    const again = await dp('runs', 'cancel', run.id);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already ended \(cancelled\) \(RunNotActive\)/);
  });

  it('runs tasks of another group on a remote worker over WebSocket', async () => {
    const worker = spawn(process.execPath, [BIN, 'worker', '--server', server.url, '--group', 'far', '--concurrency', '2', '--id', 'remote-1', '--work-dir', join(dir, 'remote-work')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    worker.stderr!.on('data', (d) => (out += d));
    try {
      const deadline = Date.now() + 10_000;
      while (!(await json('worker', 'list')).some((w: { id: string; state: string }) => w.id === 'remote-1' && w.state === 'up')) {
        assert.ok(Date.now() < deadline, `the remote worker did not connect: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await dp('pipeline', 'apply', join(dir, 'remote.yaml'));
      const result = await cli(['--json', 'run', 'remote', '--wait'], env);
      assert.equal(result.code, 0, result.stderr);
      const detail = JSON.parse(result.stdout);
      assert.equal(detail.tasks[0].workerId, 'remote-1');
      assert.match((await dp('worker', 'list')).stdout, /remote-1\s+up\s+far\s+development/);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });

  it('says how to fix an unreachable server', async () => {
    const r = await cli(['runs', 'list'], { DATAPLANE_SERVER: `http://127.0.0.1:${await freePort()}` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach the Dataplane server at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.match(r.stderr, /hint: start it with `dataplane serve`/);
  });

  it('refuses a second server on the same data directory', async () => {
    const r = await cli(['serve', '--data', join(dir, 'data'), '--port', String(await freePort())]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /in use by process \d+/);
  });
});
