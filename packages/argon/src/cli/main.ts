#!/usr/bin/env node
import { resolve } from 'node:path';
import { Command } from 'commander';
import { ArgonError } from '../errors.js';
import { Store } from '../storage/store.js';
import type { BranchInfo } from '../storage/types.js';

/**
 * The `argon` command. `serve` runs the database server; `connect` asks a running server for a
 * branch's connection string; the other commands open the embedded store directly (`--data` or
 * ARGON_DATA chooses its directory), so run them while no server holds it, or use the server.
 */
const program = new Command()
  .name('argon')
  .description('Argon: a MongoDB-compatible document database with Git-like branches')
  .option('--data <dir>', 'data directory of the embedded store', process.env.ARGON_DATA ?? '.argon')
  .option('--json', 'print JSON for scripts instead of tables');

interface GlobalOptions {
  data: string;
  json?: boolean;
}

async function withStore<T>(fn: (store: Store, opts: GlobalOptions) => Promise<T> | T): Promise<T> {
  const opts = program.opts<GlobalOptions>();
  const store = await Store.open(resolve(opts.data), { compactionIntervalMs: 0 });
  try {
    return await fn(store, opts);
  } finally {
    await store.close();
  }
}

function printTable(rows: Record<string, unknown>[]): void {
  if (rows.length === 0) return;
  const keys = Object.keys(rows[0]!);
  const cells = rows.map((r) => keys.map((k) => String(r[k] ?? '')));
  const widths = keys.map((k, i) => Math.max(k.length, ...cells.map((c) => c[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(keys.map((k) => k.toUpperCase())));
  for (const c of cells) console.log(line(c));
}

function branchRow(b: BranchInfo): Record<string, unknown> {
  return { name: b.name, parent: b.parent ?? '-', forkLsn: b.forkLsn, created: b.created.toISOString(), ownBytes: b.ownBytes };
}

function output(json: boolean | undefined, value: unknown, human: () => void): void {
  if (json) console.log(JSON.stringify(value, null, 2));
  else human();
}

program
  .command('status')
  .description('open (or create) the data directory and show its branches and sizes')
  .action(() =>
    withStore((store, opts) => {
      const branches = store.listBranches().map((b) => ({ ...branchRow(b), documents: store.branchStats(b.name).documents }));
      output(opts.json, { data: store.path, headLsn: store.headLsn, branches }, () => {
        console.log(`Argon store at ${store.path} — head LSN ${store.headLsn}`);
        printTable(branches);
      });
    }),
  );

const branch = program.command('branch').description('create, list, rename and delete branches');

branch
  .command('list')
  .description('list branches')
  .action(() => withStore((store, opts) => output(opts.json, store.listBranches(), () => printTable(store.listBranches().map(branchRow)))));

branch
  .command('create <name>')
  .description('create a branch (copy-on-write: instant at any data size)')
  .option('--from <branch>', 'parent branch', 'main')
  .option('--at <time|lsn>', 'fork from a past point: an ISO 8601 time or an LSN')
  .action((name: string, o: { from: string; at?: string }) =>
    withStore(async (store, opts) => {
      const at = o.at === undefined ? {} : /^\d+$/.test(o.at) ? { lsn: Number(o.at) } : { time: parseTime(o.at) };
      const info = await store.createBranch(name, { from: o.from, ...at });
      output(opts.json, info, () => console.log(`Created branch '${info.name}' from '${info.parent}' at LSN ${info.forkLsn}`));
    }),
  );

branch
  .command('rename <from> <to>')
  .description('rename a branch')
  .action((from: string, to: string) =>
    withStore(async (store, opts) => {
      const info = await store.renameBranch(from, to);
      output(opts.json, info, () => console.log(`Renamed branch '${from}' to '${to}'`));
    }),
  );

branch
  .command('delete <name>')
  .description('delete a branch (history its children still need stays readable)')
  .action((name: string) =>
    withStore(async (store, opts) => {
      await store.deleteBranch(name);
      output(opts.json, { deleted: name }, () => console.log(`Deleted branch '${name}'`));
    }),
  );

program
  .command('stats [branch]')
  .description('documents, own bytes and logical size of a branch')
  .action((name: string | undefined) =>
    withStore((store, opts) => {
      const stats = store.branchStats(name ?? 'main');
      output(opts.json, stats, () => printTable([{ ...stats }]));
    }),
  );

program
  .command('serve')
  .description('start the database server (MongoDB wire protocol; one endpoint per branch)')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--port <port>', "port of the main branch's endpoint", '27017')
  .option('--branch-ports <first-last>', 'port range for other branches\' endpoints (default port+1 to port+200)')
  .option('--http-port <port>', 'HTTP port for /health and Prometheus /metrics', '8080')
  .action(async (o: { host: string; port: string; branchPorts?: string; httpPort: string }) => {
    const { ArgonServer } = await import('../server/server.js');
    const opts = program.opts<GlobalOptions>();
    const range = o.branchPorts?.split('-').map(Number) as [number, number] | undefined;
    const server = await ArgonServer.start({ dataDir: resolve(opts.data), host: o.host, port: Number(o.port), branchPorts: range, httpPort: Number(o.httpPort) });
    server.log.info({ data: resolve(opts.data), uri: await server.uri('main') }, 'Argon is ready');
    const stop = async (signal: string) => {
      server.log.info({ signal }, 'shutting down');
      await server.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });

program
  .command('connect [branch]')
  .description("print a branch's connection string (starts its endpoint on the running server)")
  .option('--server <uri>', 'the running server (main endpoint)', process.env.ARGON_SERVER ?? 'mongodb://127.0.0.1:27017/?directConnection=true')
  .action(async (branchName: string | undefined, o: { server: string }) => {
    const { MongoClient } = await import('mongodb');
    const client = new MongoClient(o.server, { serverSelectionTimeoutMS: 3000 });
    try {
      const reply = await client.db('admin').command({ argonEndpoint: branchName ?? 'main' });
      const url = new URL(o.server);
      url.port = String(reply.port);
      console.log(url.toString());
    } finally {
      await client.close();
    }
  });

function parseTime(text: string): Date {
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new ArgonError('BadValue', `'${text}' is neither an LSN nor an ISO 8601 time`);
  return time;
}

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error & { codeName?: string };
  console.error(`argon: ${e.codeName ? `${e.codeName}: ` : ''}${e.message}`);
  process.exitCode = 1;
});
