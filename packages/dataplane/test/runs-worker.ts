/**
 * TEMPORARY: a minimal local worker process for the engine's tests, built on executeTask, until
 * src/workers/main.ts (runWorker) lands. Same protocol, same environment variables as LocalWorkers.
 */
import { hostname } from 'node:os';
import { executeTask, type Execution } from '../src/workers/executor.js';
import type { ServerMessage, WorkerMessage } from '../src/workers/protocol.js';

const running = new Map<string, { exec: Execution; ref: { runId: string; taskId: string; attempt: number } }>();
const send = (m: WorkerMessage) => process.connected && process.send!(m);
const key = (r: { runId: string; taskId: string; attempt: number }) => `${r.runId}/${r.taskId}/${r.attempt}`;

send({ type: 'hello', workerId: process.env.DATAPLANE_WORKER_ID!, group: process.env.DATAPLANE_WORKER_GROUP!, environment: process.env.DATAPLANE_WORKER_ENVIRONMENT!, slots: Number(process.env.DATAPLANE_WORKER_SLOTS), host: hostname(), pid: process.pid });
const beat = setInterval(() => send({ type: 'heartbeat', running: [...running.values()].map((r) => r.ref), cpu: null, memoryBytes: null, load: null }), 1000);

process.on('message', (m: ServerMessage) => {
  if (m.type === 'assign') {
    const a = m.assignment;
    const ref = { runId: a.runId, taskId: a.taskId, attempt: a.attempt };
    const exec = executeTask(a, {
      workRoot: process.env.DATAPLANE_WORK_DIR!,
      warm: process.env.DP_TEST_WARM === '1',
      onStarted: (s) => send({ type: 'started', ...ref, at: s.at.toISOString() }),
      onLines: (lines) => send({ type: 'logs', ...ref, lines: lines.map((l) => ({ ...l, at: l.at.toISOString() })) }),
    });
    running.set(key(ref), { exec, ref });
    exec.done.then((outcome) => {
      running.delete(key(ref));
      send({ type: 'done', ...ref, outcome, at: new Date().toISOString() });
    });
  } else if (m.type === 'cancel') {
    running.get(key(m))?.exec.cancel(m.reason.startsWith('timeout') ? 'timed_out' : 'cancelled');
  } else if (m.type === 'stop') {
    shutdown();
  }
});
process.on('disconnect', shutdown);

function shutdown(): void {
  clearInterval(beat);
  for (const r of running.values()) r.exec.cancel('cancelled');
  Promise.all([...running.values()].map((r) => r.exec.done)).then(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
}
