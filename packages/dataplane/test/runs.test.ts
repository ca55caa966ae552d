/**
 * The engine end to end: real stores (SQLite, and PostgreSQL when available), real forked worker
 * processes, real python3. Each case starts its own engine on a fresh data directory/database.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { sqlBackends, stopTestPostgres } from '@argon/testing';
import type { TaskAttempt } from '../src/types.js';
import { channelPair } from '../src/workers/channels.js';
import type { ServerMessage, WorkerMessage } from '../src/workers/protocol.js';
import { runWorker } from '../src/workers/worker.js';
import { alive, block, readLines, runToEnd, startEngine, until, type TestEngine } from './runs-helpers.js';

after(stopTestPostgres);

const byTask = (tasks: TaskAttempt[]) => Object.fromEntries(tasks.map((t) => [t.taskId, t]));

/** A python task that appends "<task> start|end <ms>" to $DATAPLANE_PARAM_LOG, sleeping between. */
const marked = (id: string, sleepS = 0.1) =>
  block(`
import os, time
def mark(what):
    with open(os.environ['DATAPLANE_PARAM_LOG'], 'a') as f:
        f.write('${id} %s %f\\n' % (what, time.time()))
mark('start'); time.sleep(${sleepS}); mark('end')
`);

function marks(path: string): Record<string, { start: number; end: number }> {
  const out: Record<string, { start: number; end: number }> = {};
  for (const line of readLines(path)) {
    const [id, what, at] = line.split(' ');
    (out[id!] ??= { start: 0, end: 0 })[what as 'start' | 'end'] = Number(at);
  }
  return out;
}

for (const backend of sqlBackends('dataplane')) {
  describe(`engine (${backend.name})`, () => {
    let t: TestEngine | undefined;
    const start = async (options: { workers?: number; slots?: number; heartbeatTimeoutMs?: number } = {}) => (t = await startEngine({ ...options, env: await backend.open() }));
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    it('runs a DAG in order: fan-out after its upstream, fan-in after all of them', async () => {
      const e = await start({ slots: 4 });
      const log = join(e.scratch, 'marks');
      const yaml = `name: dag
params:
  log: {type: string}
tasks:
  a:
    run: python
    code: |
${marked('a', 0)}
  b:
    run: python
    needs: [a]
    code: |
${marked('b', 0.3)}
  c:
    run: python
    needs: [a]
    code: |
${marked('c', 0.3)}
  d:
    run: python
    needs: [b, c]
    code: |
${marked('d', 0)}
`;
      const run = await runToEnd(e, yaml, { log });
      assert.equal(run.state, 'succeeded');
      const m = marks(log);
      assert.ok(m.b!.start >= m.a!.end && m.c!.start >= m.a!.end, 'b and c after a');
      assert.ok(m.d!.start >= Math.max(m.b!.end, m.c!.end), 'd after b and c');
      assert.ok(m.b!.start < m.c!.end && m.c!.start < m.b!.end, 'b and c side by side (4 slots)');
      const { tasks, transitions } = await e.engine.getRun(run.id);
      assert.deepEqual(tasks.map((x) => x.taskId), ['a', 'b', 'c', 'd']);
      assert.deepEqual(
        transitions.filter((x) => x.taskId === 'd').map((x) => x.state),
        ['pending', 'queued', 'running', 'succeeded'],
      );
      assert.deepEqual(transitions.filter((x) => x.taskId === null).map((x) => x.state), ['queued', 'running', 'succeeded']);
    });

    it('follows when: success, failure and always (Airflow trigger rules)', async () => {
      const e = await start();
      const run = await runToEnd(
        e,
        `name: rules
tasks:
  bad: {run: bash, code: "echo failing; exit 3"}
  ok: {run: bash, code: "true"}
  on_success: {run: bash, needs: [bad], code: "true"}
  on_failure: {run: bash, needs: [bad], when: failure, code: "true"}
  always: {run: bash, needs: [bad, ok], when: always, code: "true"}
  after_upstream_failed: {run: bash, needs: [on_success], code: "true"}
  failure_not_met: {run: bash, needs: [ok], when: failure, code: "true"}
  after_skip: {run: bash, needs: [failure_not_met], code: "true"}
  always_after_skip: {run: bash, needs: [failure_not_met], when: always, code: "true"}
`,
      );
      assert.equal(run.state, 'failed');
      const s = byTask((await e.engine.getRun(run.id)).tasks);
      assert.equal(s.bad!.state, 'failed');
      assert.equal(s.bad!.exitCode, 3);
      assert.equal(s.on_success!.state, 'upstream_failed');
      assert.equal(s.on_failure!.state, 'succeeded');
      assert.equal(s.always!.state, 'succeeded');
      assert.equal(s.after_upstream_failed!.state, 'upstream_failed');
      assert.equal(s.failure_not_met!.state, 'skipped');
      assert.equal(s.after_skip!.state, 'skipped');
      assert.equal(s.always_after_skip!.state, 'succeeded');
    });

    it('passes params to tasks and outputs to downstream inputs', async () => {
      const e = await start();
      const run = await runToEnd(
        e,
        `name: flow
params:
  n: {type: integer}
  label: {type: string, default: x}
tasks:
  produce:
    run: python
    code: |
${block(`
import json, os
n = int(os.environ['DATAPLANE_PARAM_N'])
params = json.load(open(os.environ['DATAPLANE_PARAMS']))
json.dump({'double': n * 2, 'label': params['label']}, open(os.environ['DATAPLANE_OUTPUT'], 'w'))
`)}
  consume:
    run: python
    needs: [produce]
    code: |
${block(`
import json, os
inputs = json.load(open(os.environ['DATAPLANE_INPUTS']))
json.dump({'plus_one': inputs['produce']['double'] + 1}, open(os.environ['DATAPLANE_OUTPUT'], 'w'))
`)}
`,
        { n: '20' },
      );
      assert.equal(run.state, 'succeeded');
      assert.deepEqual(run.params, { n: 20, label: 'x' });
      const s = byTask((await e.engine.getRun(run.id)).tasks);
      assert.deepEqual(s.produce!.output, { double: 40, label: 'x' });
      assert.deepEqual(s.consume!.output, { plus_one: 41 });
      await assert.rejects(e.engine.startRun('flow', { params: { n: 'many' } }), { code: 'InvalidParams' });
    });

    it('retries failed attempts after the backoff, as new attempts', async () => {
      const e = await start();
      const counter = join(e.scratch, 'count');
      const run = await runToEnd(
        e,
        `name: flaky
params:
  counter: {type: string}
tasks:
  flaky:
    run: bash
    retries: {count: 3, backoff: fixed, delay: 150ms}
    code: |
      n=$(( $(cat "$DATAPLANE_PARAM_COUNTER" 2>/dev/null || echo 0) + 1 )); echo $n > "$DATAPLANE_PARAM_COUNTER"
      echo "attempt $n"; [ $n -ge 3 ]
`,
        { counter },
      );
      assert.equal(run.state, 'succeeded');
      const { tasks, attempts, transitions } = await e.engine.getRun(run.id);
      assert.equal(tasks[0]!.attempt, 3);
      assert.deepEqual(attempts.map((a) => a.state), ['retrying', 'retrying', 'succeeded']);
      const queuedAt = transitions.filter((x) => x.taskId === 'flaky' && x.state === 'queued').map((x) => x.at.getTime());
      const endedAt = attempts.map((a) => a.ended!.getTime());
      assert.ok(queuedAt[1]! - endedAt[0]! >= 140 && queuedAt[2]! - endedAt[1]! >= 140, `waited the backoff: ${queuedAt} vs ${endedAt}`);
      const lines = await e.engine.logs(run.id, { taskId: 'flaky' });
      assert.deepEqual(lines.filter((l) => l.stream === 'stdout').map((l) => `${l.attempt}:${l.text}`), ['1:attempt 1', '2:attempt 2', '3:attempt 3']);
    });

    it('times out a task that runs too long, and fails the run', async () => {
      const e = await start();
      const began = Date.now();
      const run = await runToEnd(e, `name: slow\ntasks:\n  slow: {run: bash, timeout: 300ms, code: "sleep 20"}\n`);
      assert.equal(run.state, 'failed');
      assert.ok(Date.now() - began < 5000);
      const [task] = (await e.engine.getRun(run.id)).tasks;
      assert.equal(task!.state, 'timed_out');
    });

    it('cancels a running run: its process group is killed, the rest cancelled', async () => {
      const e = await start();
      const pids = join(e.scratch, 'pids');
      await e.engine.applyPipeline(`name: long
params:
  pids: {type: string}
tasks:
  sleeper:
    run: bash
    code: |
      sleep 60 & echo $! >> "$DATAPLANE_PARAM_PIDS"; echo $$ >> "$DATAPLANE_PARAM_PIDS"; wait
  next: {run: bash, needs: [sleeper], code: "true"}
`);
      const run = await e.engine.startRun('long', { params: { pids } });
      await until(() => readLines(pids).length === 2, 10_000, 'the task to start');
      const cancelled = await e.engine.cancelRun(run.id, { user: 'ana' });
      assert.equal(cancelled.state, 'cancelled');
      const procs = readLines(pids).map(Number);
      await until(() => procs.every((p) => !alive(p)), 5000, 'the process group to die');
      const s = byTask((await e.engine.getRun(run.id)).tasks);
      assert.equal(s.sleeper!.state, 'cancelled');
      assert.equal(s.next!.state, 'cancelled');
      await assert.rejects(e.engine.cancelRun(run.id), { code: 'RunNotActive' });
    });

    it('reruns a failed run: failed and not-run tasks again, succeeded ones kept', async () => {
      const e = await start();
      const dir = e.scratch;
      const yaml = `name: fixme
params:
  dir: {type: string}
tasks:
  first:
    run: bash
    code: |
      echo x >> "$DATAPLANE_PARAM_DIR/first-ran"; echo '{"v": 7}' > "$DATAPLANE_OUTPUT"
  second:
    run: bash
    needs: [first]
    code: |
      test -e "$DATAPLANE_PARAM_DIR/fixed"
  third:
    run: python
    needs: [second]
    code: |
${block("import json, os\njson.dump(json.load(open(os.environ['DATAPLANE_INPUTS'])), open(os.environ['DATAPLANE_OUTPUT'], 'w'))")}
`;
      const failed = await runToEnd(e, yaml, { dir });
      assert.equal(failed.state, 'failed');
      writeFileSync(join(dir, 'fixed'), '');
      const rerun = await e.engine.rerun(failed.id, { user: 'ana' });
      assert.equal(rerun.attempt, 2);
      const done = await e.engine.waitForRun(failed.id);
      assert.equal(done.state, 'succeeded');
      const s = byTask((await e.engine.getRun(failed.id)).tasks);
      assert.equal(s.first!.attempt, 1, 'first kept');
      assert.equal(readLines(join(dir, 'first-ran')).length, 1, 'first ran once');
      assert.equal(s.second!.attempt, 2);
      assert.equal(s.third!.attempt, 2);
      assert.deepEqual(s.third!.output, { second: null });
      await assert.rejects(e.engine.rerun(failed.id), { code: 'RunNotRerunnable' });
    });

    it('keeps runs beyond the pipeline concurrency queued', async () => {
      const e = await start({ slots: 4 });
      // Each run's task logs when it really started and ended: their intervals must not overlap.
      // (Run events of different runs are written on separate chains, so their order says less.)
      const spans = join(e.scratch, 'spans');
      await e.engine.applyPipeline(`name: one-at-a-time
concurrency: 1
params:
  spans: {type: string}
tasks:
  work: {run: bash, code: 'echo "$(date +%s%N) $DATAPLANE_RUN_ID start" >> "$DATAPLANE_PARAM_SPANS"; sleep 0.3; echo "$(date +%s%N) $DATAPLANE_RUN_ID end" >> "$DATAPLANE_PARAM_SPANS"'}
`);
      const runs = await Promise.all([1, 2, 3].map(() => e.engine.startRun('one-at-a-time', { params: { spans } })));
      assert.deepEqual(runs.map((r) => r.state).sort(), ['queued', 'queued', 'running']);
      const ended = await Promise.all(runs.map((r) => e.engine.waitForRun(r.id)));
      assert.ok(ended.every((r) => r.state === 'succeeded'));
      const events = readLines(spans).map((line) => line.split(' ')).sort((a, b) => (BigInt(a[0]!) < BigInt(b[0]!) ? -1 : 1));
      assert.equal(events.length, 6);
      let inside = 0;
      for (const [, , what] of events) {
        inside += what === 'start' ? 1 : -1;
        assert.ok(inside <= 1, `two runs of a concurrency-1 pipeline ran at once: ${events.map((e) => e.join(' ')).join('; ')}`);
      }
    });

    it('retries the attempts of a worker that dies on another worker, as new attempts', async () => {
      const e = await start({ workers: 2, slots: 1 });
      const pids = join(e.scratch, 'pids');
      await e.engine.applyPipeline(`name: survive
params:
  pids: {type: string}
tasks:
  work:
    run: bash
    code: |
      echo $PPID >> "$DATAPLANE_PARAM_PIDS"; [ "$DATAPLANE_ATTEMPT" -gt 1 ] || sleep 3
`);
      const run = await e.engine.startRun('survive', { params: { pids } });
      await until(() => readLines(pids).length === 1, 10_000, 'the task to start');
      const first = (await e.engine.getRun(run.id)).tasks[0]!;
      const victim = e.engine.listWorkers().find((w) => w.id === first.workerId)!;
      process.kill(victim.pid, 'SIGKILL');
      const done = await e.engine.waitForRun(run.id, 15_000);
      assert.equal(done.state, 'succeeded');
      const { attempts } = await e.engine.getRun(run.id);
      assert.deepEqual(attempts.map((a) => a.state), ['retrying', 'succeeded']);
      assert.match(attempts[0]!.error!, /interrupted: worker .* disconnected/);
      assert.notEqual(attempts[1]!.workerId, victim.id);
    });

    it('declares a silent worker lost after the heartbeat timeout and retries its attempt elsewhere', async () => {
      const e = await start({ workers: 0, heartbeatTimeoutMs: 1500 });
      // A worker that says hello, takes its assignment and then says nothing more (a hung machine).
      const [server, silent] = channelPair<WorkerMessage, ServerMessage>();
      e.engine.attachWorker(server);
      silent.send({ type: 'hello', workerId: 'silent', group: 'default', environment: 'development', slots: 1, host: 'nowhere', pid: 1 });
      await until(() => e.engine.listWorkers().length === 1, 5000, 'hello');
      await e.engine.applyPipeline('name: hang\ntasks:\n  t: {run: bash, code: "echo ok"}\n');
      const run = await e.engine.startRun('hang');
      await until(async () => (await e.engine.getRun(run.id)).tasks[0]!.workerId === 'silent', 5000, 'the assignment');
      // A real worker (in this process; its tasks are real processes) to take the retry.
      const [server2, real] = channelPair<WorkerMessage, ServerMessage>();
      e.engine.attachWorker(server2);
      const stopped = runWorker(real, { workerId: 'real', group: 'default', environment: 'development', slots: 1, workRoot: join(e.scratch, 'work') });
      const done = await e.engine.waitForRun(run.id, 10_000);
      assert.equal(done.state, 'succeeded');
      const { attempts } = await e.engine.getRun(run.id);
      assert.deepEqual(attempts.map((a) => [a.state, a.workerId]), [['retrying', 'silent'], ['succeeded', 'real']]);
      assert.match(attempts[0]!.error!, /missed heartbeats/);
      assert.equal(e.engine.listWorkers().find((w) => w.id === 'silent')!.state, 'lost');
      real.close();
      await stopped;
    });
  });
}
