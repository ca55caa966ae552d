import type { Command } from 'commander';
import { client, globals } from './context.js';
import { output, paint, printTable, when } from './format.js';

export function registerWorkerCommands(program: Command): void {
  const worker = program
    .command('worker')
    .description('run a remote worker (connects to --server over WebSocket), or list workers')
    .option('--group <group>', 'the task group it runs', 'default')
    .option('--environment <env>', 'the environment it serves', 'development')
    .option('--concurrency <n>', 'tasks at once')
    .addHelpText('after', '\nExamples:\n  $ dataplane worker --server http://10.0.0.5:9001 --group gpu --environment production --concurrency 2\n  $ dataplane worker list')
    .action(async () => {
      throw new Error('remote workers are not available yet');
    });

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
