// @ts-check
/**
 * SQL backends for tests: a suite that touches a SQL store runs once per backend, SQLite and
 * PostgreSQL, so both implementations keep passing the same cases.
 *
 *   import { after, before, describe, it } from 'node:test';
 *   import { sqlBackends, stopTestPostgres } from '@argon/testing';
 *
 *   after(stopTestPostgres); // top level: stops the throwaway cluster once the file is done
 *   for (const backend of sqlBackends('plinth')) {
 *     describe(`store (${backend.name})`, () => {
 *       let env;
 *       before(async () => (env = await backend.open()));
 *       after(() => env.cleanup());
 *       it('…', async () => { … env.url, env.dataDir … });
 *     });
 *   }
 *
 * Each `open()` gives a fresh temporary data directory and, for PostgreSQL, a fresh database
 * (`<project>_test_<random>`); `cleanup()` drops and removes them. PostgreSQL is the server at
 * $<PROJECT>_TEST_POSTGRES_URL when set (a role that may CREATE DATABASE; PostgreSQL 13 or later),
 * else a throwaway cluster started on first use from Debian's binaries (/usr/lib/postgresql/N/bin,
 * or $PG_BIN) on a free loopback port, as the `postgres` OS user when running as root, stopped by
 * stopTestPostgres() or at the latest when the process exits. With neither, `open()` throws so the
 * suite fails; <PROJECT>_SKIP_POSTGRES=1 leaves the PostgreSQL backend out instead.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/** @typedef {import('./postgres.js').SqlTestEnv} SqlTestEnv */
/** @typedef {import('./postgres.js').SqlBackend} SqlBackend */
/** @typedef {{ url: string; stop(): Promise<void> }} Cluster */

/**
 * @param {string} project lower case: names the environment variables, databases and directories
 * @returns {SqlBackend[]}
 */
export function sqlBackends(project) {
  const env = project.toUpperCase();
  /** @type {SqlBackend[]} */
  const backends = [{ name: 'sqlite', open: () => openSqlite(project) }];
  if (process.env[`${env}_SKIP_POSTGRES`] !== '1') backends.push({ name: 'postgres', open: () => openPostgres(project) });
  return backends;
}

/** Stops the throwaway cluster, if this process started one (a no-op with a server URL). */
export async function stopTestPostgres() {
  const starting = cluster;
  cluster = undefined;
  if (starting === undefined) return;
  const started = await starting.catch(() => undefined);
  await started?.stop();
}

/** @param {string} project @returns {Promise<SqlTestEnv>} */
async function openSqlite(project) {
  const dataDir = await mkdtemp(join(tmpdir(), `${project}-test-`));
  return { url: undefined, dataDir, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
}

/** @param {string} project @returns {Promise<SqlTestEnv>} */
async function openPostgres(project) {
  const env = project.toUpperCase();
  const server = process.env[`${env}_TEST_POSTGRES_URL`] || (await (cluster ??= startCluster(env))).url;
  const database = `${project}_test_${randomBytes(6).toString('hex')}`;
  // template0 with C collation: independent of whatever locale the server was initialised with.
  await asAdmin(server, `CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
  const url = new URL(server);
  url.pathname = `/${database}`;
  const dataDir = await mkdtemp(join(tmpdir(), `${project}-test-`));
  return {
    url: url.toString(),
    dataDir,
    cleanup: async () => {
      await asAdmin(server, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** @param {string} server @param {string} sql */
async function asAdmin(server, sql) {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

// The throwaway cluster, one per process.

/** @type {Promise<Cluster> | undefined} */
let cluster;

const OS_USER = 'postgres';
const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const runuser = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((path) => existsSync(path));

/**
 * initdb refuses to run as root: as root, commands run as the postgres OS user.
 * @param {string} command @param {string[]} args @returns {[string, string[]]}
 */
function asPostgresUser(command, args) {
  if (!isRoot) return [command, args];
  if (runuser === undefined) throw new Error('running as root, and runuser (util-linux) is missing to run PostgreSQL as postgres');
  return [runuser, ['-u', OS_USER, '--', command, ...args]];
}

function findBinDir() {
  const candidates = process.env.PG_BIN
    ? [process.env.PG_BIN]
    : (existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [])
        .filter((version) => /^\d+$/.test(version))
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => `/usr/lib/postgresql/${version}/bin`);
  return candidates.find((dir) => ['initdb', 'pg_ctl', 'postgres'].every((bin) => existsSync(join(dir, bin))));
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** @param {string} file */
function logTail(file) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-20).join('\n');
  } catch {
    return '(no server log)';
  }
}

/** @param {string} env the project's environment variable prefix, for the error message */
async function startCluster(env) {
  const binDir = findBinDir();
  if (binDir === undefined) {
    throw new Error(
      `PostgreSQL tests need ${env}_TEST_POSTGRES_URL or PostgreSQL server binaries ` +
        '(apt-get install postgresql, or PG_BIN=<dir with initdb, pg_ctl, postgres>); ' +
        `set ${env}_SKIP_POSTGRES=1 to run without the PostgreSQL backend`,
    );
  }
  return startClusterFrom(binDir);
}

/** @param {string} binDir @returns {Promise<Cluster>} */
async function startClusterFrom(binDir) {
  /** @param {string} name */
  const bin = (name) => join(binDir, name);
  const dir = await mkdtemp(join(tmpdir(), 'argon-test-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let server;

  // Safety net for a file that never calls stopTestPostgres() or is interrupted: an immediate
  // shutdown (synchronous, the only kind an 'exit' handler can do) and the directory removed.
  const killServer = () => {
    if (server !== undefined && server.exitCode === null && server.signalCode === null) {
      // Through pg_ctl: as root our child is runuser, and signalling it would orphan the postmaster.
      const [command, args] = asPostgresUser(bin('pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w']);
      spawnSync(command, args, { stdio: 'ignore' });
    }
  };
  const stopNow = () => {
    killServer();
    rmSync(dir, { recursive: true, force: true });
  };
  /** @param {NodeJS.Signals} signal */
  const onSignal = (signal) => {
    stopNow();
    process.removeListener('exit', stopNow);
    process.kill(process.pid, signal);
  };
  const unhook = () => {
    process.removeListener('exit', stopNow);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
  process.on('exit', stopNow);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    if (isRoot) {
      const uid = Number((await run('id', ['-u', OS_USER])).stdout.trim());
      const gid = Number((await run('id', ['-g', OS_USER])).stdout.trim());
      await chown(dir, uid, gid);
    }
    const [initdb, initdbArgs] = asPostgresUser(bin('initdb'), [
      '-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync',
    ]);
    await run(initdb, initdbArgs, { cwd: dir });

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      // A test cluster: durability settings off for speed; the port is the only thing that can clash.
      await appendFile(
        join(dataDir, 'postgresql.conf'),
        [
          `port = ${port}`,
          "listen_addresses = '127.0.0.1'",
          `unix_socket_directories = '${dir}'`,
          'max_connections = 200',
          'fsync = off',
          'synchronous_commit = off',
          'full_page_writes = off',
          '',
        ].join('\n'),
      );
      const log = openSync(logFile, 'a');
      const [postgres, postgresArgs] = asPostgresUser(bin('postgres'), ['-D', dataDir]);
      // Our own child rather than daemonized by pg_ctl, so it is reaped when it exits.
      const child = spawn(postgres, postgresArgs, { cwd: dir, stdio: ['ignore', log, log] });
      closeSync(log);
      child.unref();
      server = child;
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      try {
        await waitReady(url, child);
      } catch (err) {
        if (attempt === 3) throw new Error(`PostgreSQL did not start: ${/** @type {Error} */ (err).message}\n${logTail(logFile)}`);
        killServer();
        continue;
      }
      return {
        url,
        stop: async () => {
          unhook();
          // Referenced again so the process waits for the server's exit instead of ending first.
          child.ref();
          const exited = new Promise((resolve) => child.once('exit', resolve));
          if (child.exitCode === null && child.signalCode === null) {
            const [pgCtl, args] = asPostgresUser(bin('pg_ctl'), ['stop', '-D', dataDir, '-m', 'fast', '-w']);
            await run(pgCtl, args).catch(() => child.kill('SIGQUIT'));
            await exited;
          }
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (err) {
    stopNow();
    unhook();
    throw err;
  }
}

/** @param {string} url @param {import('node:child_process').ChildProcess} child */
async function waitReady(url, child) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postgres exited during startup (${child.exitCode ?? child.signalCode})`);
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
