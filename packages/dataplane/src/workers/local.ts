import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childChannel } from './channels.js';
import type { Channel, ServerMessage, WorkerMessage } from './protocol.js';
import type { WorkerOptions } from './worker.js';

/** The options a local worker process gets from its parent (JSON in this variable, not argv: `ps` shows argv). */
export const WORKER_OPTIONS_ENV = 'DATAPLANE_WORKER_OPTIONS';

export type LocalWorkerOptions = Omit<WorkerOptions, 'signal'>;

/** Forks a local worker process (main.ts) and returns the server's end of its IPC channel. */
export function forkWorker(options: LocalWorkerOptions, spawnOptions: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}): {
  child: ChildProcess;
  channel: Channel<WorkerMessage, ServerMessage>;
} {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = fork(main, [], {
    env: { ...(spawnOptions.env ?? process.env), [WORKER_OPTIONS_ENV]: JSON.stringify(options) },
    execArgv: spawnOptions.execArgv ?? [],
    serialization: 'json',
  });
  return { child, channel: childChannel<WorkerMessage, ServerMessage>(child) };
}
