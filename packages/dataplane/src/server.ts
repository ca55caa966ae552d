import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildApi } from './api/server.js';
import { lockDataDir } from '@argon/common';
import { Engine } from './runs/engine.js';
import type { EngineLog } from './runs/log.js';
import { openStore } from './store/open.js';
import { loadMasterKey, SecretVault } from './store/secrets.js';
import type { DataStore } from './store/types.js';

export interface ServerOptions {
  /** Data directory: the SQLite store (unless `database`), the lock, local workers' work dirs, master.key (unless DATAPLANE_MASTER_KEY). */
  dataDir: string;
  host?: string;
  /** 0 picks a free port (tests). */
  port?: number;
  /** postgres://… ; default SQLite in the data directory. */
  database?: string;
  /** Local worker processes (default 2). */
  workers?: number;
  /** Attempts each local worker runs at once (default 4). */
  slots?: number;
  /** pino; silent when absent. */
  logger?: FastifyBaseLogger & EngineLog;
  bodyLimit?: number;
}

export interface DataplaneServer {
  engine: Engine;
  app: FastifyInstance;
  store: DataStore;
  /** http://host:port */
  url: string;
  /** Stops workers, writes what is pending, closes the store and releases the data directory. */
  close(): Promise<void>;
}

export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `dataplane serve`: the data directory locked, the store opened, the engine started, the API listening. */
export async function startServer(options: ServerOptions): Promise<DataplaneServer> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const release = lockDataDir(dataDir, 'dataplane.lock');
  const cleanup: (() => Promise<void>)[] = [async () => release()];
  const undo = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };
  try {
    // Before the store, so a malformed DATAPLANE_MASTER_KEY stops the start at once. Never logged.
    const { key } = loadMasterKey(dataDir);
    const store = await openStore({ dataDir, database: options.database });
    cleanup.push(() => store.close());
    const vault = new SecretVault(store, key);
    const engine = new Engine();
    cleanup.push(() => engine.stop());
    await engine.start({ store, vault, dataDir, workers: options.workers, slots: options.slots, log: options.logger });
    const app = await buildApi(engine, { logger: options.logger, bodyLimit: options.bodyLimit, version: VERSION });
    // Closed after the engine stopped (undo runs backwards): remote workers' sockets closing must
    // find the engine stopping, or their running attempts would be retried elsewhere meanwhile.
    cleanup.splice(cleanup.length - 1, 0, () => app.close());
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 9001 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const host = options.host ?? '127.0.0.1';
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return { engine, app, store, url, close: once(undo) };
  } catch (err) {
    await undo();
    throw err;
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  return () => (done ??= fn());
}
