#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { ArgonError } from '../errors.js';
import type { Store } from '../storage/store.js';
import { formatDuration, output, paint, printTable, shellQuote, withProgress } from './format.js';
import { DEFAULT_SERVER, withCredentials, withServer } from './server-client.js';
import { registerSecurityCommands } from './security.js';
import { registerConflictCommands } from './conflicts.js';
import { registerGateCommands } from './gates.js';
import { currentBranch, setCurrentBranch } from './head.js';
import { describeFailure } from './failures.js';
import { printDiff, summariseChanges } from './changes.js';

/**
 * The `argon` command. `serve` runs the database server; most other commands talk to the running
 * server (`--server` or ARGON_SERVER); `stats` opens the embedded store directly (`--data` or
 * ARGON_DATA chooses its directory), so run it while no server holds it.
 */
const program = new Command()
  .name('argon')
  .description('Argon: a MongoDB-compatible document database with Git-like branches')
  // From the package's package.json (this file runs as dist/src/cli/main.js), so it cannot drift.
  .version((JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version)
  // Subcommands inherit this: their help then lists --data, --server and --json, which they honour.
  .configureHelp({ showGlobalOptions: true })
  .option('--data <dir>', "data directory: the store (serve, stats), the first admin's credentials, the current branch (switch)", process.env.ARGON_DATA ?? '.argon')
  .option('--json', 'print JSON for scripts instead of tables')
  .option('--server <uri>', 'the running server (main endpoint) for branch, diff, merge, log and connect', process.env.ARGON_SERVER ?? DEFAULT_SERVER);

interface GlobalOptions {
  data: string;
  json?: boolean;
  server: string;
}

async function withStore<T>(fn: (store: Store, opts: GlobalOptions) => Promise<T> | T): Promise<T> {
  const opts = program.opts<GlobalOptions>();
  // Loaded on demand: LMDB's native module would slow down every command that talks to a server.
  const { Store } = await import('../storage/store.js');
  const store = await Store.open(resolve(opts.data), { compactionIntervalMs: 0 });
  try {
    return await fn(store, opts);
  } finally {
    await store.close();
  }
}

/** A branch as a table row; `*` marks the current branch (argon switch), as git marks HEAD. */
function branchRow(b: Record<string, unknown>, current: unknown): Record<string, unknown> {
  const name = b.name === current ? `${paint.green('*')} ${paint.bold(String(b.name))}` : `  ${String(b.name)}`;
  return { name, parent: b.parent ?? '-', forkLsn: b.forkLsn, created: b.created, ownBytes: b.ownBytes, protected: b.protected ? paint.yellow('protected') : '' };
}

/** The state a merge or revert ended in, coloured by outcome. */
function mergeStatus(status: string): string {
  return status === 'conflicts' ? paint.red(status) : status === 'merged' ? paint.green(status) : status;
}

/** The branch commands use when none is given: the one `argon switch` chose for this data directory. */
function current(): string {
  return currentBranch(resolve(program.opts<GlobalOptions>().data));
}

/** The server's URI, signed in with ARGON_USER/ARGON_PASSWORD or the local first-admin file. */
function serverUri(): string {
  const opts = program.opts<GlobalOptions>();
  return withCredentials(opts.server, resolve(opts.data));
}

program
  .command('status')
  .description('the running server: version, uptime, head LSN, branches, endpoints and connections')
  .action(() =>
    withServer(serverUri(), async (admin) => {
      const [server, build, { branches }, { endpoints }] = await Promise.all([admin({ serverStatus: 1 }), admin({ buildInfo: 1 }), admin({ argonBranchList: 1 }), admin({ argonEndpoints: 1 })]);
      const status = {
        server: program.opts<GlobalOptions>().server,
        branch: current(),
        version: build.argonVersion,
        compatibleWith: build.version,
        uptimeSeconds: server.uptime,
        headLsn: server.argon.headLsn,
        branches: branches.length,
        connections: server.connections.current,
        endpoints,
      };
      output(program.opts<GlobalOptions>().json, status, () => {
        console.log(`${paint.bold(`Argon ${status.version}`)} (MongoDB ${status.compatibleWith} compatible), up ${formatDuration(status.uptimeSeconds)}`);
        console.log(`on branch ${status.branch}`);
        console.log(`head LSN ${status.headLsn} · ${status.branches} branches · ${status.connections} connections`);
        printTable((endpoints as Record<string, unknown>[]).map((e) => ({ endpoint: e.ref, port: e.port, state: e.state === 'active' ? paint.green('active') : paint.yellow(String(e.state)), connections: e.connections, lastActive: e.lastActive })));
      });
    }),
  );

const branch = program.command('branch').description('create, list, rename, delete, protect and reset branches (on the running server)');

branch
  .command('list')
  .description('list branches')
  .action(() =>
    withServer(serverUri(), async (admin) => {
      const { branches } = await admin({ argonBranchList: 1 });
      output(program.opts<GlobalOptions>().json, branches, () => printTable((branches as Record<string, unknown>[]).map((b) => branchRow(b, current()))));
    }),
  );

branch
  .command('create <name>')
  .description('create a branch (copy-on-write: instant at any data size)')
  .option('--from <ref>', 'parent: a branch, a tag or branch@time|lsn (default: the current branch, see argon switch)')
  .option('--at <time|lsn>', 'fork from a past point: an ISO 8601 time or an LSN')
  .action((name: string, o: { from?: string; at?: string }) =>
    withServer(serverUri(), async (admin) => {
      const at = o.at === undefined ? {} : /^\d+$/.test(o.at) ? { at: Number(o.at) } : { at: parseTime(o.at) };
      const { branch: info } = await admin({ argonBranchCreate: name, from: o.from ?? current(), ...at });
      output(program.opts<GlobalOptions>().json, info, () => console.log(`Created branch '${info.name}' from '${info.parent}' at LSN ${info.forkLsn}`));
    }),
  );

branch
  .command('rename <from> <to>')
  .description('rename a branch')
  .action((from: string, to: string) =>
    withServer(serverUri(), async (admin) => {
      const { branch: info } = await admin({ argonBranchRename: from, to });
      output(program.opts<GlobalOptions>().json, info, () => console.log(`Renamed branch '${from}' to '${to}'`));
    }),
  );

branch
  .command('delete <name>')
  .description('delete a branch (history its children still need stays readable)')
  .action((name: string) =>
    withServer(serverUri(), async (admin) => {
      await admin({ argonBranchDelete: name });
      output(program.opts<GlobalOptions>().json, { deleted: name }, () => console.log(`Deleted branch '${name}'`));
    }),
  );

branch
  .command('protect <name>')
  .description('protect a branch: no direct writes, changes only by merge')
  .option('--off', 'lift the protection')
  .action((name: string, o: { off?: boolean }) =>
    withServer(serverUri(), async (admin) => {
      const { branch: info } = await admin({ argonBranchProtect: name, protect: !o.off });
      output(program.opts<GlobalOptions>().json, info, () => console.log(`Branch '${name}' is ${info.protected ? 'protected' : 'no longer protected'}`));
    }),
  );

branch
  .command('reset <name>')
  .description("reset a branch to its parent's head, or to a past point of its own; the old state stays as a backup branch")
  .option('--to <parent|time|lsn>', "'parent', an ISO 8601 time or an LSN", 'parent')
  .option('--backup <name>', 'name of the backup branch (default NAME-backup-LSN)')
  .action((name: string, o: { to: string; backup?: string }) =>
    withServer(serverUri(), async (admin) => {
      const to = o.to === 'parent' ? 'parent' : /^\d+$/.test(o.to) ? Number(o.to) : parseTime(o.to);
      const result = await withProgress(`resetting ${name}`, () => admin({ argonBranchReset: name, to, ...(o.backup ? { backup: o.backup } : {}) }));
      output(program.opts<GlobalOptions>().json, result, () => console.log(`Reset '${name}' (fork LSN ${result.branch.forkLsn}); the old state is branch '${result.backup.name}'`));
    }),
  );

for (const [verb, suspended] of [['suspend', true], ['resume', false]] as const) {
  branch
    .command(`${verb} <ref>`)
    .description(suspended ? "suspend a branch's endpoint (its next client resumes it)" : "resume a branch's endpoint")
    .action((ref: string) =>
      withServer(serverUri(), async (admin) => {
        const { endpoint } = await admin(suspended ? { argonBranchSuspend: ref } : { argonBranchResume: ref });
        output(program.opts<GlobalOptions>().json, endpoint, () => console.log(`Endpoint of '${ref}' on port ${endpoint.port} is ${endpoint.state}`));
      }),
    );
}

const tag = program.command('tag').description('name points of branches (usable wherever a ref is)');

tag
  .command('create <name>')
  .description('tag a ref: a branch head (default: the current branch), another tag, or branch@time|lsn')
  .option('--from <ref>', 'what to tag')
  .action((name: string, o: { from?: string }) =>
    withServer(serverUri(), async (admin) => {
      const { tag: info } = await admin({ argonTagCreate: name, from: o.from ?? current() });
      output(program.opts<GlobalOptions>().json, info, () => console.log(`Tagged ${info.branch} at LSN ${info.lsn} as '${info.name}'`));
    }),
  );

tag
  .command('list')
  .description('list tags')
  .action(() =>
    withServer(serverUri(), async (admin) => {
      const { tags } = await admin({ argonTagList: 1 });
      output(program.opts<GlobalOptions>().json, tags, () => printTable(tags));
    }),
  );

tag
  .command('delete <name>')
  .description('delete a tag')
  .action((name: string) =>
    withServer(serverUri(), async (admin) => {
      await admin({ argonTagDelete: name });
      output(program.opts<GlobalOptions>().json, { deleted: name }, () => console.log(`Deleted tag '${name}'`));
    }),
  );

program
  .command('diff <from> <to>')
  .description('documents and fields that differ between two refs (branches, tags, branch@time|lsn)')
  .option('--stat', 'counts per collection, and per field path how many documents changed it')
  .option('--summary', 'one line per collection')
  .option('--limit <n>', 'most documents (with --stat, field paths) listed; 0: all', '50')
  .action((from: string, to: string, o: { stat?: boolean; summary?: boolean; limit: string }) =>
    withServer(serverUri(), async (admin) => {
      const diff = await withProgress(`diffing ${from} and ${to}`, () => admin({ argonDiff: from, to }));
      output(program.opts<GlobalOptions>().json, diff, () => printDiff(diff, from, to, { stat: o.stat, summary: o.summary, limit: Number(o.limit) }));
    }),
  );

program
  .command('merge <source>')
  .description('three-way merge of a branch into another; exits non-zero unless it completes')
  .requiredOption('--into <target>', 'the branch that receives the changes')
  .option('--strategy <strategy>', 'fail (default: conflicts stop the merge), ours or theirs', 'fail')
  .option('--dry-run', 'show what would happen, write nothing')
  .action((source: string, o: { into: string; strategy: string; dryRun?: boolean }) =>
    withServer(serverUri(), async (admin) => {
      const result = await withProgress(`merging ${source} into ${o.into}`, () => admin({ argonMerge: source, into: o.into, strategy: o.strategy, dryRun: !!o.dryRun }));
      output(program.opts<GlobalOptions>().json, result, () => {
        const { inserted, updated, deleted } = result.applied;
        console.log(`${o.dryRun ? 'Dry run: ' : ''}${mergeStatus(result.status)}${result.fastForward ? ' (fast-forward)' : ''}: ${inserted} inserted, ${updated} updated, ${deleted} deleted`);
        for (const c of result.conflicts) console.log(`  conflict ${c.kind} ${c.db}.${c.coll} ${JSON.stringify(c.id)} ${c.path}${c.resolved ? ` (took ${c.resolved})` : ''}`);
      });
      if (result.status === 'conflicts') process.exitCode = 1;
    }),
  );

program
  .command('commit [branch]')
  .description("name the branch's current state with a message (usable as a ref: BRANCH@LSN)")
  .requiredOption('-m, --message <text>', 'the commit message')
  .option('--author <name>', 'who commits', process.env.USER ?? 'anonymous')
  .action((name: string | undefined, o: { message: string; author: string }) =>
    withServer(serverUri(), async (admin) => {
      const { commit } = await admin({ argonCommit: name ?? current(), message: o.message, author: o.author });
      output(program.opts<GlobalOptions>().json, commit, () => console.log(`Committed ${commit.ref}: ${commit.message}`));
    }),
  );

program
  .command('revert <branch>')
  .description('undo the changes of one LSN (or a range A..B) on a branch as a new change; exits non-zero on conflicts')
  .requiredOption('--lsn <lsn|a..b>', 'the LSN or range to undo (see argon log)')
  .option('--strategy <strategy>', 'fail (default), ours (keep later edits) or theirs (force the undo)', 'fail')
  .option('--dry-run', 'show what would happen, write nothing')
  .action((name: string, o: { lsn: string; strategy: string; dryRun?: boolean }) =>
    withServer(serverUri(), async (admin) => {
      const [from, to] = o.lsn.split('..').map(Number);
      const result = await withProgress(`reverting ${o.lsn} on ${name}`, () => admin({ argonRevert: name, fromLsn: from, ...(to === undefined ? {} : { toLsn: to }), strategy: o.strategy, dryRun: !!o.dryRun }));
      output(program.opts<GlobalOptions>().json, result, () => {
        const { inserted, updated, deleted } = result.applied;
        console.log(`${o.dryRun ? 'Dry run: ' : ''}${mergeStatus(result.status)}: ${inserted} inserted, ${updated} updated, ${deleted} deleted`);
        for (const c of result.conflicts) console.log(`  conflict ${c.kind} ${c.db}.${c.coll} ${JSON.stringify(c.id)} ${c.path}`);
      });
      if (result.status === 'conflicts') process.exitCode = 1;
    }),
  );

program
  .command('log [branch]')
  .description("a branch's change log, newest first")
  .option('--limit <n>', 'how many entries', '20')
  .option('--ns <db.collection>', 'only changes to this database or collection')
  .option('--id <json>', "only changes to the document with this _id (JSON, e.g. '\"a\"' or '{\"$oid\":\"…\"}'; needs --ns)")
  .option('--before <lsn>', 'only entries older than this LSN: the next page after one ending at it')
  .action((name: string | undefined, o: { limit: string; ns?: string; id?: string; before?: string }) =>
    withServer(serverUri(), async (admin) => {
      const branchName = name ?? current();
      const limit = Number(o.limit);
      const filter = { ...(o.ns ? { ns: o.ns } : {}), ...(o.id ? { id: o.id, idJson: true } : {}), ...(o.before ? { beforeLsn: Number(o.before) } : {}) };
      // One entry more than shown tells whether another page follows.
      const reply = await admin({ argonLog: branchName, limit: limit + 1, ...filter });
      const entries = (reply.entries as Record<string, any>[]).slice(0, limit);
      const messages = new Map((reply.commits as Record<string, any>[]).map((c) => [c.lsn, `${c.message} (${c.author})`]));
      output(program.opts<GlobalOptions>().json, entries, () => {
        printTable(entries.map((e) => ({ lsn: e.lsn, time: e.time, branch: e.branch, who: e.who ?? '-', commit: messages.get(e.lsn) ?? '', changes: summariseChanges(e.changes) })));
        if (reply.entries.length > limit) {
          const next = ['npx', 'argon', 'log', branchName, '--limit', o.limit, ...(o.ns ? ['--ns', o.ns] : []), ...(o.id ? ['--id', o.id] : []), '--before', String(entries.at(-1)!.lsn)];
          console.log(paint.dim(`more: ${next.map(shellQuote).join(' ')}`));
        }
      });
    }),
  );

program
  .command('history <branch> <ns> <id>')
  .description("every version of one document (ns: db.collection; id: its _id as JSON): who changed it, when, and how it was")
  .option('--limit <n>', 'how many versions', '20')
  .action((branch: string, ns: string, id: string, o: { limit: string }) =>
    withServer(serverUri(), async (admin) => {
      const { versions } = await admin({ argonHistory: branch, ns, id, idJson: true, limit: Number(o.limit) });
      output(program.opts<GlobalOptions>().json, versions, () =>
        printTable((versions as Record<string, any>[]).map((v) => ({ lsn: v.lsn, time: v.time, who: v.who ?? '-', op: v.op, document: v.compacted ? '(compacted)' : v.document }))),
      );
    }),
  );

program
  .command('stats [branch]')
  .description('documents, own bytes and logical size of a branch')
  .action((name: string | undefined) =>
    withStore((store, opts) => {
      const stats = store.branchStats(name ?? current());
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
  .option('--no-auth', 'accept every client without authentication (SCRAM and API keys are on by default)')
  .option('--suspend-after <seconds>', "suspend other branches' endpoints after this long without a client (0: never)", '300')
  .option('--tls-cert <file>', 'PEM certificate: TLS on every wire endpoint (plain clients still accepted) and HTTPS')
  .option('--tls-key <file>', "PEM private key of --tls-cert's certificate")
  .option('--tls-ca <file>', 'PEM CA: clients may present a certificate, and one it did not sign is refused')
  .option('--tls-required', 'close plain (non-TLS) wire connections')
  .action(async (o: { host: string; port: string; branchPorts?: string; httpPort: string; auth: boolean; suspendAfter: string; tlsCert?: string; tlsKey?: string; tlsCa?: string; tlsRequired?: boolean }) => {
    const suspendAfter = Number(o.suspendAfter);
    if (!Number.isFinite(suspendAfter) || suspendAfter < 0) throw new ArgonError('BadValue', '--suspend-after takes a number of seconds (0: never)');
    if ((o.tlsCert === undefined) !== (o.tlsKey === undefined) || ((o.tlsCa || o.tlsRequired) && !o.tlsCert)) {
      throw new ArgonError('BadValue', '--tls-cert and --tls-key go together, and --tls-ca and --tls-required need them');
    }
    const tls = o.tlsCert && o.tlsKey ? { certFile: o.tlsCert, keyFile: o.tlsKey, caFile: o.tlsCa, required: o.tlsRequired } : undefined;
    const { ArgonServer } = await import('../server/server.js');
    const { readyMessage, serverLogger } = await import('./logger.js'); // pino: loaded by serve only
    const opts = program.opts<GlobalOptions>();
    const range = o.branchPorts?.split('-').map(Number) as [number, number] | undefined;
    const server = await ArgonServer.start({ dataDir: resolve(opts.data), host: o.host, port: Number(o.port), branchPorts: range, httpPort: Number(o.httpPort),
      auth: o.auth,
      logger: serverLogger(),
      autoSuspendMs: suspendAfter * 1000,
      admin: { user: process.env.ARGON_ADMIN_USER, password: process.env.ARGON_ADMIN_PASSWORD },
      tls,
    });
    const ready = readyMessage({ uri: await server.uri('main'), auth: o.auth, data: opts.data, dataDir: resolve(opts.data), credentialsFile: server.credentialsFile });
    server.log.info(ready.fields, ready.msg);
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
  .action((branchName: string | undefined) =>
    withServer(serverUri(), async (admin) => {
      const reply = await admin({ argonEndpoint: branchName ?? current() });
      const url = new URL(serverUri());
      url.port = String(reply.port);
      console.log(url.toString());
    }),
  );

program
  .command('switch [branch]')
  .description('set the branch commands use when none is given (kept in the data directory, like git\'s HEAD); without BRANCH, print it')
  .action((name: string | undefined) => {
    const json = program.opts<GlobalOptions>().json;
    if (name === undefined) return output(json, { branch: current() }, () => console.log(current()));
    return withServer(serverUri(), async (admin) => {
      const { branches } = await admin({ argonBranchList: 1 });
      if (!(branches as Record<string, unknown>[]).some((b) => b.name === name)) {
        throw new ArgonError('BranchNotFound', `No branch named '${name}' (argon branch list shows them; argon branch create ${name} makes one)`);
      }
      setCurrentBranch(resolve(program.opts<GlobalOptions>().data), name);
      output(json, { branch: name }, () => console.log(`Switched to branch '${name}'`));
    });
  });

function parseTime(text: string): Date {
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new ArgonError('BadValue', `'${text}' is neither an LSN nor an ISO 8601 time`);
  return time;
}

registerSecurityCommands(program, serverUri);
registerConflictCommands(program, serverUri, current);
registerGateCommands(program, serverUri);

program.parseAsync(process.argv).catch((err: unknown) => {
  const opts = program.opts<GlobalOptions>();
  console.error(describeFailure(err, opts.server, resolve(opts.data)));
  process.exitCode = 1;
});
