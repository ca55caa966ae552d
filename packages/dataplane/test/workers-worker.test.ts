import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import type { TaskAssignment, TaskKind } from '../src/types.js';
import { channelPair, connectWebSocket, wsChannel } from '../src/workers/channels.js';
import { forkWorker } from '../src/workers/local.js';
import type { AttemptRef, Channel, ServerMessage, WorkerMessage } from '../src/workers/protocol.js';
import { closeWarmRunners } from '../src/workers/warm.js';
import { runWorker, type WorkerOptions } from '../src/workers/worker.js';

const root = mkdtempSync(join(tmpdir(), 'dp-worker-test-'));
/** Whatever a failed test left running: closed at the end, so the file never hangs. */
const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
  closeWarmRunners();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
function assignment(run: TaskKind, code: string, extra: Partial<TaskAssignment> = {}): TaskAssignment {
  return {
    runId: 'run-w', taskId: `t${++counter}`, attempt: 1, pipeline: 'p', version: 1, run, code,
    params: {}, inputs: {}, secrets: {}, timeoutMs: null, ...extra,
  };
}

/** The server's end, recording what the worker says. */
class Server {
  readonly messages: WorkerMessage[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(readonly channel: Channel<WorkerMessage, ServerMessage>) {
    cleanups.push(() => channel.close());
    channel.onMessage((m) => {
      this.messages.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    channel.onClose(() => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  send(m: ServerMessage): void {
    this.channel.send(m);
  }

  /** The first message (from `from` on) matching, waiting for it. */
  async waitFor<T extends WorkerMessage['type']>(type: T, match: (m: Extract<WorkerMessage, { type: T }>) => boolean = () => true, ms = 10000): Promise<Extract<WorkerMessage, { type: T }>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.find((m) => m.type === type && match(m as Extract<WorkerMessage, { type: T }>));
      if (found) return found as Extract<WorkerMessage, { type: T }>;
      if (Date.now() > deadline) throw new Error(`no ${type} message in ${ms} ms; got ${this.messages.map((m) => m.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  of(ref: AttemptRef): WorkerMessage[] {
    return this.messages.filter((m) => 'runId' in m && m.runId === ref.runId && m.taskId === ref.taskId && m.attempt === ref.attempt);
  }

  logText(ref: AttemptRef): string[] {
    return this.of(ref).flatMap((m) => (m.type === 'logs' ? m.lines.map((l) => l.text) : []));
  }
}

const same = (ref: AttemptRef) => (m: AttemptRef) => m.runId === ref.runId && m.taskId === ref.taskId && m.attempt === ref.attempt;

function options(id: string, extra: Partial<WorkerOptions> = {}): WorkerOptions {
  return { workerId: id, group: 'g1', environment: 'dev', slots: 2, workRoot: join(root, id), heartbeatMs: 100, ...extra };
}

function inMemory(extra: Partial<WorkerOptions> = {}): { server: Server; stopped: Promise<void> } {
  const [serverEnd, workerEnd] = channelPair<WorkerMessage, ServerMessage>();
  const server = new Server(serverEnd);
  const stopped = runWorker(workerEnd, options(`mem-${++counter}`, extra));
  return { server, stopped };
}

/** One assignment through its whole life: started, its logs, done. */
async function assignAndFinish(server: Server, a: TaskAssignment) {
  server.send({ type: 'assign', assignment: a });
  const done = await server.waitFor('done', same(a));
  const kinds = server.of(a).map((m) => m.type);
  return { done, kinds, logs: server.logText(a) };
}

describe('worker over an in-memory channel', () => {
  test('hello, heartbeats, and an assignment from started to done', async () => {
    const { server, stopped } = inMemory();
    const hello = await server.waitFor('hello');
    assert.equal(server.messages[0].type, 'hello');
    assert.deepEqual({ ...hello, host: typeof hello.host }, { type: 'hello', workerId: hello.workerId, group: 'g1', environment: 'dev', slots: 2, host: 'string', pid: process.pid });
    const beat = await server.waitFor('heartbeat', (m) => m.cpu !== null);
    assert.ok(beat.cpu! >= 0 && beat.cpu! <= 1 && beat.memoryBytes! > 0 && typeof beat.load === 'number');

    const a = assignment('python', "import json, os\nprint('hello', os.environ['DATAPLANE_PARAM_WHO'])\njson.dump({'n': 1}, open(os.environ['DATAPLANE_OUTPUT'], 'w'))", { params: { who: 'ana' } });
    const { done, kinds, logs } = await assignAndFinish(server, a);
    assert.deepEqual(done.outcome, { state: 'succeeded', exitCode: 0, error: null, output: { n: 1 } });
    assert.deepEqual(kinds, ['started', 'logs', 'done']);
    assert.deepEqual(logs, ['hello ana']);
    const log = server.of(a).find((m) => m.type === 'logs');
    assert.ok(log?.type === 'logs' && log.lines[0].seq === 0 && !Number.isNaN(Date.parse(log.lines[0].at)));

    server.send({ type: 'stop' });
    await stopped;
  });

  test('slots: extra assignments wait; heartbeats list what runs', async () => {
    const { server, stopped } = inMemory({ slots: 1 });
    const first = assignment('bash', 'sleep 0.4; echo one');
    const second = assignment('bash', 'echo two');
    server.send({ type: 'assign', assignment: first });
    server.send({ type: 'assign', assignment: second });
    await server.waitFor('started', same(first));
    const beat = await server.waitFor('heartbeat', (m) => m.running.length > 0);
    assert.deepEqual(beat.running, [{ runId: first.runId, taskId: first.taskId, attempt: 1 }]);
    assert.equal(server.of(second).length, 0);
    await server.waitFor('done', same(second));
    const order = server.messages.filter((m) => m.type === 'started' || m.type === 'done').map((m) => `${m.type} ${(m as AttemptRef).taskId}`);
    assert.deepEqual(order, [`started ${first.taskId}`, `done ${first.taskId}`, `started ${second.taskId}`, `done ${second.taskId}`]);
    server.send({ type: 'stop' });
    await stopped;
  });

  test('cancel a running attempt, a queued one, and one that timed out on the server', async () => {
    const { server, stopped } = inMemory({ slots: 1 });
    const running = assignment('bash', 'echo up; sleep 1000');
    const queued = assignment('bash', 'echo never');
    server.send({ type: 'assign', assignment: running });
    server.send({ type: 'assign', assignment: queued });
    await server.waitFor('logs', same(running));
    server.send({ type: 'cancel', ...refOf(queued), reason: 'cancelled by ana' });
    server.send({ type: 'cancel', ...refOf(running), reason: 'cancelled by ana' });
    const queuedDone = await server.waitFor('done', same(queued));
    assert.equal(queuedDone.outcome.state, 'cancelled');
    assert.deepEqual(Object.keys(queuedDone).sort(), ['at', 'attempt', 'outcome', 'runId', 'taskId', 'type']);
    assert.equal((await server.waitFor('done', same(running))).outcome.state, 'cancelled');
    assert.deepEqual(server.of(queued).map((m) => m.type), ['done']);

    const slow = assignment('bash', 'sleep 1000');
    server.send({ type: 'assign', assignment: slow });
    await server.waitFor('started', same(slow));
    server.send({ type: 'cancel', ...refOf(slow), reason: 'timed_out' });
    assert.equal((await server.waitFor('done', same(slow))).outcome.state, 'timed_out');
    server.send({ type: 'stop' });
    await stopped;
  });

  test('stop cancels what runs, reports it, then resolves', async () => {
    const { server, stopped } = inMemory();
    const a = assignment('python', "import time\nprint('working', flush=True)\ntime.sleep(1000)");
    server.send({ type: 'assign', assignment: a });
    await server.waitFor('logs', same(a));
    server.send({ type: 'stop' });
    await stopped;
    const done = await server.waitFor('done', same(a));
    assert.equal(done.outcome.state, 'cancelled');
    await server.waitFor('done', () => server.closed, 2000).catch(() => undefined);
    assert.ok(server.closed, 'the worker closes the channel after stopping');
  });

  test('the channel closing (server gone) stops the worker and its tasks', async () => {
    const { server, stopped } = inMemory();
    const a = assignment('bash', 'echo $$; sleep 1000');
    server.send({ type: 'assign', assignment: a });
    await server.waitFor('logs', same(a));
    const pid = Number(server.logText(a)[0]);
    server.channel.close();
    await stopped;
    assert.throws(() => process.kill(pid, 0));
  });
});

function refOf(a: AttemptRef): AttemptRef {
  return { runId: a.runId, taskId: a.taskId, attempt: a.attempt };
}

describe('worker in a forked process, over IPC', () => {
  test('hello, heartbeat, assign → started → logs → done, cancel, stop', async () => {
    const { child, channel } = forkWorker({ ...options('forked-1'), slots: 2 });
    cleanups.push(() => child.kill());
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const server = new Server(channel);
    const hello = await server.waitFor('hello');
    assert.equal(hello.pid, child.pid);
    assert.equal(hello.workerId, 'forked-1');
    await server.waitFor('heartbeat');

    const a = assignment('python', "import json, os\nprint('from', os.environ['DATAPLANE_TASK_ID'])\njson.dump([1], open(os.environ['DATAPLANE_OUTPUT'], 'w'))");
    const { done, kinds, logs } = await assignAndFinish(server, a);
    assert.deepEqual(done.outcome, { state: 'succeeded', exitCode: 0, error: null, output: [1] });
    assert.deepEqual(kinds, ['started', 'logs', 'done']);
    assert.deepEqual(logs, [`from ${a.taskId}`]);

    const long = assignment('bash', 'echo up; sleep 1000');
    const other = assignment('bash', 'echo up; sleep 1000');
    server.send({ type: 'assign', assignment: long });
    server.send({ type: 'assign', assignment: other });
    await server.waitFor('logs', same(long));
    server.send({ type: 'cancel', ...refOf(long), reason: 'cancelled' });
    assert.equal((await server.waitFor('done', same(long))).outcome.state, 'cancelled');

    await server.waitFor('logs', same(other));
    server.send({ type: 'stop' });
    assert.equal((await server.waitFor('done', same(other))).outcome.state, 'cancelled');
    assert.equal(await exited, 0);
  });

  test('40 trivial Python tasks in a chain through a forked worker (time printed)', async () => {
    const { child, channel } = forkWorker(options('forked-chain'));
    cleanups.push(() => child.kill());
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const server = new Server(channel);
    await server.waitFor('hello');
    await assignAndFinish(server, assignment('python', 'pass')); // the runner is up
    const t = performance.now();
    let input: unknown = 0;
    for (let i = 0; i < 40; i++) {
      const code = "import json, os\nn = json.load(open(os.environ['DATAPLANE_INPUTS']))['prev']\nprint(n)\njson.dump(n + 1, open(os.environ['DATAPLANE_OUTPUT'], 'w'))";
      const { done } = await assignAndFinish(server, assignment('python', code, { inputs: { prev: input } }));
      assert.equal(done.outcome.state, 'succeeded');
      input = done.outcome.output;
    }
    const ms = performance.now() - t;
    assert.equal(input, 40);
    console.log(`40 Python tasks in a chain through a forked worker: ${ms.toFixed(0)} ms (${(ms / 40).toFixed(1)} ms each)`);
    server.send({ type: 'stop' });
    await exited;
  });

  test('the worker process exits when its parent disconnects', async () => {
    const { child, channel } = forkWorker(options('forked-2'));
    cleanups.push(() => child.kill());
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const server = new Server(channel);
    await server.waitFor('hello');
    channel.close();
    assert.equal(await exited, 0);
  });
});

describe('worker over a WebSocket', () => {
  test('hello, assign → done, stop', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => wss.close());
    const accepted = new Promise<Server>((resolve) => wss.once('connection', (socket) => resolve(new Server(wsChannel<WorkerMessage, ServerMessage>(socket)))));
    await new Promise((resolve) => wss.once('listening', resolve));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    const stopped = runWorker(await connectWebSocket<ServerMessage, WorkerMessage>(url), options('ws-1'));
    const server = await accepted;
    await server.waitFor('hello');
    const { done, logs } = await assignAndFinish(server, assignment('node', "console.log('over ws')"));
    assert.equal(done.outcome.state, 'succeeded');
    assert.deepEqual(logs, ['over ws']);
    server.send({ type: 'stop' });
    await stopped;
    wss.close();
  });
});
