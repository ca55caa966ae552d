import { resolve } from 'node:path';
import type { Command } from 'commander';
import { serverLogger } from '@argon/common/logger';
import { startServer } from '../server.js';
import { positiveInt } from './context.js';

interface ServeOptions {
  data: string;
  host: string;
  port: number;
  database?: string;
  workers: number;
  slots: number;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the server: REST API, WebSockets, the engine and N local workers')
    .option('--data <dir>', 'data directory (store, lock, work dirs); one server at a time', process.env.DATAPLANE_DATA ?? './.dataplane')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', (v) => Number(v), 9001)
    .option('--database <url>', 'postgres://… (default: SQLite in the data directory)', process.env.DATAPLANE_DATABASE)
    .option('--workers <n>', "local worker processes (group 'default', environment 'development'); 0 for none", (v) => Number(v), 2)
    .option('--slots <n>', 'tasks each local worker runs at once', positiveInt, 4)
    .addHelpText('after', '\nExamples:\n  $ dataplane serve\n  $ dataplane serve --data /var/lib/dataplane --host 0.0.0.0 --workers 4\n  $ dataplane serve --database postgres://dataplane@db/dataplane')
    .action((o: ServeOptions) => serve(o));
}

async function serve(o: ServeOptions): Promise<void> {
  const log = serverLogger('dataplane');
  if (!Number.isInteger(o.workers) || o.workers < 0) throw new Error(`--workers takes a whole number ≥ 0, not ${o.workers}`);
  const server = await startServer({ dataDir: resolve(o.data), host: o.host, port: o.port, database: o.database, workers: o.workers, slots: o.slots, logger: log });
  log.info({ url: server.url, data: resolve(o.data), store: server.store.backend, workers: o.workers }, `Dataplane is ready on ${server.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn('second signal: exiting without finishing');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping: workers, then pending writes, then the store');
    server.close().then(
      () => {
        log.info('stopped');
        log.flush();
        process.exitCode = 0;
      },
      (err: unknown) => {
        log.error({ err }, 'unclean stop');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
