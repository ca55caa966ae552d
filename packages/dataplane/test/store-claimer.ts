/**
 * A worker thread of the claim race in store.test.ts: opens its own store (its own SQLite
 * connection or PostgreSQL pool), waits for 'go', then claims until the queue is empty and
 * posts back what it got.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../src/store/open.js';

const { dataDir, database, workerId, groups } = workerData as { dataDir: string; database: string | undefined; workerId: string; groups: string[] };
const store = await openStore({ dataDir, database });
const go = new Promise((resolve) => parentPort!.once('message', resolve));
parentPort!.postMessage({ ready: true });
await go;
const claimed: string[] = [];
for (;;) {
  const attempt = await store.claimTask(workerId, 'development', groups);
  if (attempt === null) break;
  claimed.push(`${attempt.runId}/${attempt.taskId}/${attempt.attempt}`);
}
await store.close();
parentPort!.postMessage({ claimed });
