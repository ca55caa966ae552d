import { ipcChannel } from './channels.js';
import { WORKER_OPTIONS_ENV, type LocalWorkerOptions } from './local.js';
import type { ServerMessage, WorkerMessage } from './protocol.js';
import { closeWarmRunners } from './warm.js';
import { runWorker } from './worker.js';

/**
 * A local worker process, forked by the server (see local.ts): options from the environment
 * (or flags, to run one by hand under a forking parent), runWorker over the IPC channel.
 */

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): LocalWorkerOptions {
  const fromEnv = env[WORKER_OPTIONS_ENV] ? (JSON.parse(env[WORKER_OPTIONS_ENV]) as Partial<LocalWorkerOptions>) : {};
  const flag = (name: string) => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  const options = {
    ...fromEnv,
    workerId: flag('worker-id') ?? fromEnv.workerId ?? `local-${process.pid}`,
    group: flag('group') ?? fromEnv.group ?? 'default',
    environment: flag('environment') ?? fromEnv.environment ?? 'default',
    slots: Number(flag('slots') ?? fromEnv.slots ?? 1),
    workRoot: flag('work-root') ?? fromEnv.workRoot ?? '',
    python: flag('python') ?? fromEnv.python,
  };
  if (!options.workRoot) throw new Error('a work root is needed (--work-root or the options in the environment)');
  if (!Number.isInteger(options.slots) || options.slots < 1) throw new Error(`slots must be a positive integer, not ${flag('slots') ?? fromEnv.slots}`);
  return options;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const stop = new AbortController();
  // Ctrl-C at the server's terminal reaches this process too: the server stops us in order.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => stop.abort());
  await runWorker(ipcChannel<ServerMessage, WorkerMessage>(), { ...options, signal: stop.signal });
  closeWarmRunners();
  // The channel closes once the last messages are out; this is only in case something lingers.
  setTimeout(() => process.exit(0), 2000).unref();
}

main().catch((error: Error) => {
  console.error(`dataplane worker: ${error.message}`);
  process.exit(1);
});
