/**
 * The DataStore contract, run against both backends: SQLite (embedded) and PostgreSQL (a
 * throwaway cluster from @argon/testing; DATAPLANE_SKIP_POSTGRES=1 leaves it out,
 * DATAPLANE_TEST_POSTGRES_URL uses an existing server). Each test gets a fresh database.
 */
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { sqlBackends, stopTestPostgres, type SqlTestEnv } from '@argon/testing';
import { openStore } from '../src/store/open.js';
import type { DataStore } from '../src/store/types.js';
import type { TaskAttempt } from '../src/types.js';
import { attempt, line, rawRows, run, spec, task, worker } from './store-fixtures.js';

after(stopTestPostgres);

const at = (ms: number) => new Date(1_700_000_000_000 + ms);
const key = (a: TaskAttempt) => `${a.runId}/${a.taskId}/${a.attempt}`;

for (const backend of sqlBackends('dataplane')) {
  describe(`store contract (${backend.name})`, () => {
    let env: SqlTestEnv;
    let store: DataStore;
    const open = () => openStore({ dataDir: env.dataDir, database: env.url });

    beforeEach(async () => {
      env = await backend.open();
      store = await open();
    });
    afterEach(async () => {
      await store.close();
      await env.cleanup();
    });

    it('reports its backend and seeds the development environment', async () => {
      assert.equal(store.backend, backend.name);
      assert.deepEqual((await rawRows(env, 'SELECT name FROM environments')).map((r) => r.name), ['development']);
      assert.deepEqual((await rawRows(env, 'SELECT version FROM schema_migrations')).map((r) => r.version), [1]);
    });

    it('versions pipelines: same source keeps the version, a change adds one', async () => {
      const first = await store.savePipeline('etl', spec('etl'), 'tasks: [a]', 'ana');
      assert.equal(first.created, true);
      assert.equal(first.version.version, 1);
      const again = await store.savePipeline('etl', spec('etl'), 'tasks: [a]', 'bo');
      assert.deepEqual(again, { version: first.version, created: false });
      const changed = spec('etl', [task('a'), task('b', { needs: ['a'], group: 'gpu' })]);
      const second = await store.savePipeline('etl', changed, 'tasks: [a, b]', null);
      assert.equal(second.created, true);
      assert.equal(second.version.version, 2);
      assert.deepEqual(await store.getPipeline('etl'), second.version);
      assert.deepEqual(await store.getPipeline('etl', 1), first.version);
      assert.equal(await store.getPipeline('etl', 3), null);
      assert.equal(await store.getPipeline('nope'), null);
    });

    it('lists the latest version of each pipeline and deletes them', async () => {
      await store.savePipeline('b', spec('b'), 'v1', null);
      await store.savePipeline('b', spec('b'), 'v2', null);
      await store.savePipeline('a', spec('a'), 'v1', null);
      assert.deepEqual((await store.listPipelines()).map((p) => `${p.name}@${p.version}`), ['a@1', 'b@2']);
      assert.equal(await store.deletePipeline('b'), true);
      assert.equal(await store.deletePipeline('b'), false);
      assert.equal(await store.getPipeline('b'), null);
      assert.equal(await store.getPipeline('b', 1), null);
      assert.deepEqual((await store.listPipelines()).map((p) => p.name), ['a']);
      // Applied again, it goes on numbering: version 2 still names the deleted spec in old runs.
      const back = await store.savePipeline('b', spec('b'), 'v2', null);
      assert.deepEqual([back.created, back.version.version], [true, 3]);
    });

    it('round-trips runs and task attempts, with any JSON output', async () => {
      const r = run({ created: at(0) });
      const outputs: unknown[] = [{ rows: 3, ok: true, tags: ['x'] }, [1, 2], 'text', 42, null, false];
      const attempts = outputs.map((output, i) => attempt(r.id, `t${i}`, { state: 'succeeded', output, exitCode: 0, queued: at(1), started: at(2), ended: at(3), workerId: 'w1' }));
      await store.createRun(r, attempts);
      assert.deepEqual(await store.getRun(r.id), r);
      assert.equal(await store.getRun('missing'), null);
      assert.deepEqual(await store.taskAttempts(r.id), attempts);

      const failed = { ...attempts[0]!, state: 'failed' as const, exitCode: 3, error: 'boom', output: { partial: true }, retryAt: at(10) };
      await store.putTaskAttempt(failed);
      const retry = attempt(r.id, 't0', { attempt: 2, state: 'queued', queued: at(11) });
      await store.putTaskAttempts([{ attempt: retry }, { attempt: { ...attempts[1]!, output: undefined } }]);
      const stored = await store.taskAttempts(r.id);
      assert.deepEqual(stored.slice(0, 3), [failed, retry, { ...attempts[1]!, output: null }]);

      await store.updateRun(r.id, { state: 'running', started: at(5), params: { changed: [true] } });
      assert.deepEqual(await store.getRun(r.id), { ...r, state: 'running', started: at(5), params: { changed: [true] } });
      await assert.rejects(store.updateRun('missing', { state: 'failed' }), /no run missing/);
    });

    it('keeps every transition of a run and its tasks, oldest first', async () => {
      const r = run({ created: at(0) });
      await store.createRun(r, [attempt(r.id, 'a', { state: 'queued', queued: at(1) }), attempt(r.id, 'b')]);
      await store.updateRun(r.id, { started: at(2) }, { state: 'running', at: at(2) });
      await store.putTaskAttempt(attempt(r.id, 'a', { state: 'running', started: at(3) }), { state: 'running', at: at(3) });
      await store.putTaskAttempts([
        { attempt: attempt(r.id, 'a', { state: 'failed', ended: at(4) }), transition: { state: 'failed', at: at(4), reason: 'exit 1' } },
        { attempt: attempt(r.id, 'b', { state: 'upstream_failed' }), transition: { state: 'upstream_failed', at: at(4) } },
      ]);
      await store.updateRun(r.id, { ended: at(5) }, { state: 'failed', at: at(5), reason: 'task a failed' });
      assert.deepEqual(await store.transitions(r.id), [
        { taskId: null, attempt: null, state: 'queued', at: at(0) },
        { taskId: 'b', attempt: 1, state: 'pending', at: at(0) },
        { taskId: 'a', attempt: 1, state: 'queued', at: at(1) },
        { taskId: null, attempt: null, state: 'running', at: at(2) },
        { taskId: 'a', attempt: 1, state: 'running', at: at(3) },
        { taskId: 'a', attempt: 1, state: 'failed', at: at(4), reason: 'exit 1' },
        { taskId: 'b', attempt: 1, state: 'upstream_failed', at: at(4) },
        { taskId: null, attempt: null, state: 'failed', at: at(5), reason: 'task a failed' },
      ]);
      assert.equal((await store.getRun(r.id))?.state, 'failed');
    });

    it('lists runs newest first, by pipeline, state and time, and the active ones oldest first', async () => {
      const runs = [
        run({ pipeline: 'a', created: at(1), state: 'succeeded' }),
        run({ pipeline: 'b', created: at(2), state: 'running' }),
        run({ pipeline: 'a', created: at(3), state: 'queued' }),
        run({ pipeline: 'a', created: at(4), state: 'failed' }),
        run({ pipeline: 'b', created: at(5), state: 'cancelled' }),
      ];
      for (const r of runs) await store.createRun(r, []);
      const ids = (list: { id: string }[]) => list.map((r) => r.id);
      const [r1, r2, r3, r4, r5] = runs.map((r) => r.id);
      assert.deepEqual(ids(await store.listRuns({})), [r5, r4, r3, r2, r1]);
      assert.deepEqual(ids(await store.listRuns({ pipeline: 'a' })), [r4, r3, r1]);
      assert.deepEqual(ids(await store.listRuns({ states: ['queued', 'running'] })), [r3, r2]);
      assert.deepEqual(ids(await store.listRuns({ states: [] })), []);
      assert.deepEqual(ids(await store.listRuns({ limit: 2 })), [r5, r4]);
      assert.deepEqual(ids(await store.listRuns({ before: at(4), limit: 2 })), [r3, r2]);
      assert.deepEqual(ids(await store.listRuns({ pipeline: 'b', before: at(5) })), [r2]);
      assert.deepEqual(ids(await store.activeRuns()), [r2, r3]);
    });

    it('claims the oldest queued attempt of the worker environment and groups, once', async () => {
      await store.savePipeline('p', spec('p', [task('cpu'), task('gpu', { group: 'gpu' }), task('late')]), 'src', null);
      const r = run({ pipeline: 'p', version: 1 });
      const other = run({ pipeline: 'p', version: 1, environment: 'production' });
      await store.createRun(r, [
        attempt(r.id, 'late', { state: 'queued', queued: at(3) }),
        attempt(r.id, 'cpu', { state: 'queued', queued: at(1) }),
        attempt(r.id, 'gpu', { state: 'queued', queued: at(0) }),
      ]);
      await store.createRun(other, [attempt(other.id, 'cpu', { state: 'queued', queued: at(0) })]);
      assert.equal(await store.claimTask('w1', 'development', []), null);

      const first = await store.claimTask('w1', 'development', ['default']);
      assert.deepEqual([first?.taskId, first?.state, first?.workerId], ['cpu', 'running', 'w1']);
      assert.ok(first?.started instanceof Date);
      assert.equal((await store.claimTask('w1', 'development', ['default']))?.taskId, 'late');
      assert.equal(await store.claimTask('w1', 'development', ['default']), null);
      assert.equal((await store.claimTask('w2', 'development', ['default', 'gpu']))?.taskId, 'gpu');
      assert.equal((await store.claimTask('w3', 'production', ['default']))?.runId, other.id);

      const stored = await store.taskAttempts(r.id);
      assert.deepEqual(stored.map((a) => `${a.taskId}:${a.state}:${a.workerId}`), ['cpu:running:w1', 'gpu:running:w2', 'late:running:w1']);
      const claims = (await store.transitions(r.id)).filter((t) => t.state === 'running');
      assert.deepEqual(claims.map((t) => t.reason), ['claimed by worker w1', 'claimed by worker w1', 'claimed by worker w2']);
    });

    it('never hands one attempt to two of 8 concurrent claimers (50 queued)', async (t) => {
      await store.savePipeline('race', spec('race', [task('x'), task('y', { group: 'gpu' })]), 'src', null);
      const queued = new Set<string>();
      for (let i = 0; i < 25; i++) {
        const r = run({ pipeline: 'race' });
        const attempts = ['x', 'y'].map((id) => attempt(r.id, id, { state: 'queued', queued: at(i) }));
        await store.createRun(r, attempts);
        for (const a of attempts) queued.add(key(a));
      }
      const claimed = await race(env, 8);
      t.diagnostic(`claims per claimer (${backend.name}): ${claimed.map((keys) => keys.length).join(' ')}`);
      const all = claimed.flat();
      assert.equal(all.length, 50, 'every queued attempt claimed');
      assert.deepEqual(new Set(all), queued, 'each exactly once');
      // Each attempt ended up on the worker its claim was answered to.
      const owner = new Map(claimed.flatMap((keys, i) => keys.map((k) => [k, `w${i}`] as const)));
      for (const r of await store.listRuns({ pipeline: 'race' })) {
        for (const a of await store.taskAttempts(r.id)) assert.equal(a.workerId, owner.get(key(a)));
      }
    });

    it('appends logs in batches and reads them in order, paged', async (t) => {
      const r = run();
      await store.createRun(r, []);
      const lines = [line(r.id, 'b', 1, 0), line(r.id, 'a', 2, 1), line(r.id, 'a', 1, 1), line(r.id, 'a', 2, 0), line(r.id, 'a', 1, 0)];
      await store.appendLogs(lines);
      await store.appendLogs([]);
      // A batch sent again (a worker reconnecting) adds nothing.
      await store.appendLogs([line(r.id, 'a', 1, 0), line(r.id, 'a', 1, 2)]);
      const order = (list: { taskId: string; attempt: number; seq: number }[]) => list.map((l) => `${l.taskId}#${l.attempt}:${l.seq}`);
      assert.deepEqual(order(await store.logs(r.id)), ['a#1:0', 'a#1:1', 'a#1:2', 'a#2:0', 'a#2:1', 'b#1:0']);
      assert.deepEqual(await store.logs(r.id, { taskId: 'b' }), [lines[0]]);
      assert.deepEqual(order(await store.logs(r.id, { taskId: 'a', attempt: 1, afterSeq: 0, limit: 1 })), ['a#1:1']);
      assert.deepEqual(order(await store.logs(r.id, { taskId: 'a', attempt: 1, afterSeq: 1 })), ['a#1:2']);
      assert.deepEqual(await store.logs(r.id, { taskId: 'a', attempt: 1, afterSeq: 2 }), []);

      const many = Array.from({ length: 5000 }, (_, seq) => line(r.id, 'c', 1, seq));
      const started = performance.now();
      await store.appendLogs(many);
      const elapsed = performance.now() - started;
      assert.equal((await store.logs(r.id, { taskId: 'c', attempt: 1 })).length, 5000);
      // Reported, not asserted (machines differ).
      t.diagnostic(`appendLogs of 5000 lines (${backend.name}): ${elapsed.toFixed(1)} ms`);
    });

    it('upserts and lists workers', async () => {
      await store.upsertWorker(worker('w2', { lastSeen: at(1) }));
      await store.upsertWorker(worker('w1', { lastSeen: at(2), cpu: null, memoryBytes: null, load: null }));
      const updated = worker('w2', { running: 3, state: 'lost', lastSeen: at(3), memoryBytes: 5 * 2 ** 40 });
      await store.upsertWorker(updated);
      assert.deepEqual(await store.listWorkers(), [worker('w1', { lastSeen: at(2), cpu: null, memoryBytes: null, load: null }), updated]);
    });

    it('keeps everything across close and reopen', async () => {
      const { version } = await store.savePipeline('keep', spec('keep'), 'src', 'ana');
      const r = run({ pipeline: 'keep' });
      const a = attempt(r.id, 'a', { state: 'succeeded', output: { n: 1 } });
      await store.createRun(r, [a]);
      await store.appendLogs([line(r.id, 'a', 1, 0)]);
      await store.upsertWorker(worker('w1', { lastSeen: at(0) }));
      await store.close();
      store = await open();
      assert.deepEqual(await store.getPipeline('keep'), version);
      assert.deepEqual(await store.getRun(r.id), r);
      assert.deepEqual(await store.taskAttempts(r.id), [a]);
      assert.deepEqual(await store.logs(r.id), [line(r.id, 'a', 1, 0)]);
      assert.deepEqual(await store.listWorkers(), [worker('w1', { lastSeen: at(0) })]);
      assert.equal((await store.transitions(r.id)).length, 2);
    });
  });
}

/** Starts `count` claimer threads, lets them go at once, and returns what each one claimed. */
async function race(env: SqlTestEnv, count: number): Promise<string[][]> {
  const workers = Array.from({ length: count }, (_, i) => {
    const data = { dataDir: env.dataDir, database: env.url, workerId: `w${i}`, groups: ['default', 'gpu'] };
    return new Worker(new URL('./store-claimer.js', import.meta.url), { workerData: data });
  });
  const message = (w: Worker) => new Promise<{ ready?: true; claimed?: string[] }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await Promise.all(workers.map(message));
  const results = workers.map(message);
  for (const w of workers) w.postMessage('go');
  return (await Promise.all(results)).map((r) => r.claimed ?? []);
}
