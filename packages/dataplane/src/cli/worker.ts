import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { connectWebSocket } from '../workers/channels.js';
import type { ServerMessage, WorkerMessage } from '../workers/protocol.js';
import { runWorker } from '../workers/worker.js';
import { client, globals, positiveInt } from './context.js';
import { output, paint, printTable, when } from './format.js';

interface RemoteOptions {
  group: string;
  environment: string;
  concurrency: number;
  id: string;
  workDir: string;
}

export function registerWorkerCommands(program: Command): void {
  const worker = program
    .command('worker')
    .description('run a remote worker (connects to --server over WebSocket), or list workers')
    .option('--group <group>', 'the task group it runs', 'default')
    .option('--environment <env>', 'the environment it serves', 'development')
    .option('--concurrency <n>', 'tasks at once', positiveInt, 1)
    .option('--id <id>', 'its name (default: host and pid)', `${hostname()}-${process.pid}`)
    .option('--work-dir <dir>', "where tasks' directories go", join(tmpdir(), 'dataplane-worker'))
    .addHelpText('after', '\nExamples:\n  $ dataplane worker --server http://10.0.0.5:9001 --group gpu --environment production --concurrency 2\n  $ dataplane worker list')
    .action((o: RemoteOptions, cmd: Command) => remoteWorker(globals(cmd).server, o));

  worker
    .command('list')
    .description('workers: connected, lost and stopped')
    .action(async (_o, cmd: Command) => {
      const list = await client(cmd).listWorkers();
      output(globals(cmd).json, list, () =>
        printTable(
          list.map((w) => ({
            worker: w.id,
            state: w.state === 'up' ? paint.green('up') : paint.yellow(w.state),
            group: w.group,
            environment: w.environment,
            host: `${w.host}:${w.pid}`,
            running: `${w.running}/${w.slots}`,
            cpu: w.cpu === null ? '-' : `${Math.round(w.cpu * 100)}%`,
            memory: w.memoryBytes === null ? '-' : `${Math.round(w.memoryBytes / 1048576)} MiB`,
            seen: when(w.lastSeen),
          })),
        ),
      );
    });
}

/**
 * A worker on another machine: connects to the server's /ws/worker and runs what it is assigned.
 * A lost connection is retried (1 s, doubling up to 30 s): the server retried its tasks elsewhere
 * meanwhile. The server's `stop` (it shuts down or dropped us) and SIGINT/SIGTERM end it.
 */
async function remoteWorker(server: string, o: RemoteOptions): Promise<void> {
  const url = `${server.replace(/^http/, 'ws').replace(/\/+$/, '')}/ws/worker`;
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  let delay = 1000;
  while (!abort.signal.aborted) {
    const channel = await connectWebSocket<ServerMessage, WorkerMessage>(url).catch((err: Error) => {
      console.error(`${paint.yellow('cannot connect')} to ${url}: ${err.message}; again in ${delay / 1000} s`);
      return null;
    });
    if (channel) {
      delay = 1000;
      let stopped = false;
      channel.onMessage((m) => (stopped ||= m.type === 'stop'));
      console.error(`worker ${paint.bold(o.id)} connected to ${server} (group ${o.group}, environment ${o.environment}, ${o.concurrency} at once)`);
      await runWorker(channel, { workerId: o.id, group: o.group, environment: o.environment, slots: o.concurrency, workRoot: o.workDir, signal: abort.signal });
      if (stopped) return void console.error('the server stopped this worker');
      if (abort.signal.aborted) return;
      console.error(`${paint.yellow('connection lost')}; reconnecting`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 30_000);
  }
}
