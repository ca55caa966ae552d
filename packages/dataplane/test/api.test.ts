/** The HTTP API over a real server (port 0, SQLite, one forked worker): shapes, errors, WebSocket. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataplaneApiError, DataplaneClient, DataplaneConnectionError } from '../src/api/client.js';
import type { RunEvent, Wire } from '../src/api/types.js';
import { startServer, type DataplaneServer } from '../src/server.js';

const HELLO = `name: hello
params:
  n: {type: integer, default: 3}
tasks:
  count:
    run: python
    code: |
      import os, time
      for i in range(int(os.environ['DATAPLANE_PARAM_N'])):
          print('line', i, flush=True)
          time.sleep(0.1)
`;

describe('REST API', () => {
  let server: DataplaneServer;
  let dataDir: string;
  let c: DataplaneClient;
  const raw = (path: string, init?: RequestInit) => fetch(server.url + path, init);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'dataplane-api-'));
    server = await startServer({ dataDir, port: 0, workers: 1 });
    c = new DataplaneClient({ server: server.url });
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('applies a pipeline as YAML: 201 for a new version, 200 when unchanged', async () => {
    const first = await raw('/v1/pipelines', { method: 'POST', headers: { 'content-type': 'text/yaml' }, body: HELLO });
    assert.equal(first.status, 201);
    const body = (await first.json()) as { created: boolean; pipeline: { name: string; version: number; tasks: number } };
    assert.deepEqual([body.created, body.pipeline.name, body.pipeline.version, body.pipeline.tasks], [true, 'hello', 1, 1]);
    const again = await raw('/v1/pipelines', { method: 'POST', headers: { 'content-type': 'text/yaml' }, body: HELLO });
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { created: boolean }).created, false);
    const list = await c.listPipelines();
    assert.deepEqual(list.map((p) => [p.name, p.version]), [['hello', 1]]);
    const detail = await c.getPipeline('hello', 1);
    assert.equal(detail.source, HELLO);
    assert.equal(detail.spec.tasks[0]!.id, 'count');
  });

  it('takes JSON with the files a pipeline names, and never reads its own disk for file:', async () => {
    const source = 'name: from-file\ntasks:\n  t: {run: python, file: steps/t.py}\n';
    const applied = await c.applyPipeline({ source, filename: 'p.yaml', files: { 'steps/t.py': 'print(1)\n' } });
    assert.equal(applied.created, true);
    assert.equal((await c.getPipeline('from-file')).spec.tasks[0]!.code, 'print(1)\n');
    const err = await c.applyPipeline({ source: source.replace('from-file', 'no-files'), filename: join(process.cwd(), 'p.yaml') }).catch((e: unknown) => e);
    assert.ok(err instanceof DataplaneApiError && err.status === 400 && err.code === 'InvalidPipeline', String(err));
  });

  it('answers an invalid pipeline with 400 InvalidPipeline and every issue', async () => {
    const res = await raw('/v1/pipelines', { method: 'POST', headers: { 'content-type': 'text/yaml' }, body: 'name: bad\ntasks:\n  a: {run: python, code: "1", needs: [nope]}\n  b: {run: python, code: "1", needs: [a, ghost]}\n' });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; message: string; issues: { path: string; message: string }[] } };
    assert.equal(body.error.code, 'InvalidPipeline');
    assert.match(body.error.message, /invalid pipeline/);
    assert.deepEqual(body.error.issues.map((i) => i.path), ['tasks.a.needs[0]', 'tasks.b.needs[1]']);
    const validate = await raw('/v1/pipelines/validate', { method: 'POST', headers: { 'content-type': 'text/yaml' }, body: HELLO });
    assert.equal(validate.status, 200);
    assert.equal(((await validate.json()) as { valid: boolean }).valid, true);
  });

  it('refuses bodies over 1 MiB with 413 PayloadTooLarge', async () => {
    const res = await raw('/v1/pipelines', { method: 'POST', headers: { 'content-type': 'text/yaml' }, body: `name: big\n# ${'x'.repeat(1 << 20)}\n` });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'PayloadTooLarge');
  });

  it('answers unknown runs, pipelines and routes with 404 and a code', async () => {
    for (const [path, method, code] of [
      ['/v1/runs/nope', 'GET', 'RunNotFound'],
      ['/v1/runs/nope/logs', 'GET', 'RunNotFound'],
      ['/v1/runs/nope/cancel', 'POST', 'RunNotFound'],
      ['/v1/runs/nope/rerun', 'POST', 'RunNotFound'],
      ['/v1/pipelines/nope', 'GET', 'PipelineNotFound'],
      ['/v1/pipelines/nope', 'DELETE', 'PipelineNotFound'],
      ['/v1/pipelines/nope/runs', 'POST', 'PipelineNotFound'],
      ['/v1/nothing', 'GET', 'NotFound'],
    ] as const) {
      const res = await raw(path, { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) });
      assert.equal(res.status, 404, `${method} ${path}`);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, code, `${method} ${path}`);
      assert.equal(typeof body.error.message, 'string');
    }
  });

  it('runs a pipeline: 201 with the run, details, logs, then 409 for a cancel of an ended run', async () => {
    const bad = await c.startRun('hello', { n: 'lots' }).catch((e: unknown) => e);
    assert.ok(bad instanceof DataplaneApiError && bad.status === 400 && bad.code === 'InvalidParams' && Array.isArray(bad.details.issues));
    const run = await c.startRun('hello', { n: 2 });
    assert.equal(run.pipeline, 'hello');
    assert.deepEqual(run.params, { n: 2 });
    await server.engine.waitForRun(run.id);
    const detail = await c.getRun(run.id);
    assert.equal(detail.run.state, 'succeeded');
    assert.equal(detail.tasks[0]!.state, 'succeeded');
    assert.ok(detail.transitions.length >= 6);
    const logs = await c.logs(run.id, { task: 'count' });
    assert.deepEqual(logs.lines.map((l) => l.text), ['line 0', 'line 1']);
    const runs = await c.listRuns({ pipeline: 'hello', states: ['succeeded'] });
    assert.ok(runs.some((r) => r.id === run.id));
    const conflict = await c.cancelRun(run.id).catch((e: unknown) => e);
    assert.ok(conflict instanceof DataplaneApiError && conflict.status === 409 && conflict.code === 'RunNotActive');
  });

  it('streams a run over /ws: the backlog, then live lines and the end', async () => {
    const run = await c.startRun('hello', { n: 6 });
    // Let some lines happen before subscribing: they must come as the backlog, once each.
    await new Promise((r) => setTimeout(r, 250));
    const events: Wire<RunEvent>[] = [];
    const ended = new Promise<void>((resolve) => {
      void c.follow(run.id, (e) => {
        events.push(e);
        if (e.type === 'run' && ['succeeded', 'failed'].includes(e.run.state)) resolve();
        if (e.type === 'subscribed' && e.run.state === 'succeeded') resolve();
      });
    });
    await ended;
    const lines = events.flatMap((e) => (e.type === 'log' && e.line.stream === 'stdout' ? [e.line.text] : []));
    assert.deepEqual(lines, [0, 1, 2, 3, 4, 5].map((i) => `line ${i}`));
    const subscribed = events.findIndex((e) => e.type === 'subscribed');
    assert.ok(subscribed > 0, 'backlog lines came before subscribed');
    assert.ok(events.slice(subscribed).some((e) => e.type === 'log'), 'and live lines after');
    assert.ok(events.some((e) => e.type === 'task' && e.task.state === 'succeeded'));
  });

  it('serves health, workers, metrics and an OpenAPI document of every route', async () => {
    const health = await c.health();
    assert.equal(health.status, 'ok');
    assert.equal(health.store, 'sqlite');
    assert.deepEqual(health.workers, { up: 1, total: 1 });
    const workers = await c.listWorkers();
    assert.equal(workers[0]!.group, 'default');
    assert.equal(workers[0]!.environment, 'development');
    const metrics = await c.metrics();
    for (const name of ['dataplane_queue_depth', 'dataplane_dispatch_latency_seconds_bucket', 'dataplane_task_duration_seconds_bucket', 'dataplane_run_outcomes_total{pipeline="hello",state="succeeded"}', 'dataplane_workers_up{group="default",environment="development"} 1']) {
      assert.ok(metrics.includes(name), name);
    }
    const doc = (await c.openApi()) as { paths: Record<string, Record<string, unknown>> };
    for (const path of ['/health', '/metrics', '/openapi.json', '/v1/pipelines', '/v1/pipelines/validate', '/v1/pipelines/{name}', '/v1/pipelines/{name}/runs', '/v1/runs', '/v1/runs/{id}', '/v1/runs/{id}/cancel', '/v1/runs/{id}/rerun', '/v1/runs/{id}/logs', '/v1/workers', '/ws', '/ws/worker']) {
      assert.ok(doc.paths[path], `OpenAPI lists ${path}`);
      const url = path.replace(/\{(\w+)\}/g, ':$1');
      for (const method of Object.keys(doc.paths[path]!)) {
        if (!path.startsWith('/ws')) assert.ok(server.app.hasRoute({ method: method.toUpperCase(), url }), `route ${method} ${path} exists`);
      }
    }
  });

  it('lets the client say when the server is not there', async () => {
    const closed = await freePort();
    const err = await new DataplaneClient({ server: `http://127.0.0.1:${closed}` }).health().catch((e: unknown) => e);
    assert.ok(err instanceof DataplaneConnectionError);
    assert.match(err.message, /cannot reach the Dataplane server at http:\/\/127.0.0.1:\d+: ECONNREFUSED/);
    assert.match(err.hint, /dataplane serve/);
  });
});

/** A port nothing listens on (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
