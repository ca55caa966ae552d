// PostgreSQL 15 peer for the "branch creation" benchmark.
//
// Argon creates branches copy-on-write. The closest thing PostgreSQL offers is
// the full-copy approach: `CREATE DATABASE x TEMPLATE y`, which physically
// copies every relation of the template database. This module starts a
// throwaway PostgreSQL server, loads a template database with documents and
// times template copies.
//
// Usage:
//   const server = await startPostgres({ log: console.error });
//   try {
//     await loadTemplate(server, 100_000, (i) => ({ n: i }));
//     const ms = await timeTemplateCopies(server, 5);
//   } finally {
//     await server.stop();
//   }
//
// Requirements: PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin,
// override with opts.binDir or $PG_BIN) and the `pg` npm package (root
// devDependency). When running as root, initdb/pg_ctl run as the `postgres`
// OS user via runuser (initdb refuses to run as root).

import { execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const { Client } = pg;

const DEFAULT_BIN_DIR = '/usr/lib/postgresql/15/bin';
const TEMPLATE_DB = 'template_src';
const SUPERUSER = 'postgres';
const OS_USER = 'postgres';

// ---------------------------------------------------------------------------
// process helpers

function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { maxBuffer: 16 * 1024 * 1024, ...options },
      (err, stdout, stderr) => {
        if (err) {
          const msg = [
            `command failed: ${cmd} ${args.join(' ')}`,
            `exit: ${err.code ?? err.signal ?? 'unknown'}`,
            stderr && `stderr:\n${String(stderr).trim()}`,
            stdout && `stdout:\n${String(stdout).trim()}`,
          ]
            .filter(Boolean)
            .join('\n');
          const e = new Error(msg);
          e.cause = err;
          reject(e);
        } else {
          resolve({ stdout: String(stdout), stderr: String(stderr) });
        }
      },
    );
  });
}

function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((p) =>
  existsSync(p),
);

/** Wrap cmd/args so they run as the postgres OS user when we are root. */
function asPostgresUser(cmd, args) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) return [cmd, args];
  if (RUNUSER) return [RUNUSER, ['-u', OS_USER, '--', cmd, ...args]];
  // Fallback: su with a shell command line.
  const line = [cmd, ...args].map(shellQuote).join(' ');
  return ['su', [OS_USER, '-s', '/bin/sh', '-c', line]];
}

function runAsPostgres(cmd, args, options = {}) {
  const [c, a] = asPostgresUser(cmd, args);
  return run(c, a, options);
}

async function lookupOsUser(name) {
  const uid = Number((await run('id', ['-u', name])).stdout.trim());
  const gid = Number((await run('id', ['-g', name])).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(`could not resolve uid/gid of OS user "${name}"`);
  }
  return { uid, gid };
}

function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function tail(file, lines = 30) {
  try {
    const text = await readFile(file, 'utf8');
    return text.trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------------------
// server lifecycle

/**
 * Start a throwaway PostgreSQL 15 server in a fresh temp dir (owned by the
 * postgres OS user) on a free loopback port; the unix socket dir is the temp
 * dir too.
 *
 * Settings: fsync and synchronous_commit stay ON (a fair peer), shared_buffers
 * is a modest 128MB, autovacuum is off (no background noise and no autovacuum
 * worker connected to the template while copying), max_wal_size is large so
 * the bulk load does not trigger checkpoints on its own.
 *
 * @param {{ log?: (msg: string) => void, binDir?: string,
 *           sharedBuffers?: string, settings?: Record<string,string|number> }} [opts]
 * @returns {Promise<{ port: number, host: string, socketDir: string, dir: string,
 *   dataDir: string, url: string, database: string, user: string,
 *   clientConfig: (database?: string) => object, stop: () => Promise<void> }>}
 */
export async function startPostgres(opts = {}) {
  const log = opts.log ?? (() => {});
  const binDir = opts.binDir ?? process.env.PG_BIN ?? DEFAULT_BIN_DIR;
  const bin = (name) => path.join(binDir, name);

  const missing = ['initdb', 'pg_ctl', 'postgres'].filter((b) => !existsSync(bin(b)));
  if (missing.length) {
    throw new Error(
      `PostgreSQL binaries not found in ${binDir} (missing: ${missing.join(', ')}). ` +
        `Install PostgreSQL 15 (e.g. apt-get install postgresql-15) or set PG_BIN / opts.binDir.`,
    );
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

  const version = (await run(bin('postgres'), ['--version'])).stdout.trim();
  log(`postgres: ${version}`);
  if (!/\b15\./.test(version)) log(`warning: expected PostgreSQL 15, got "${version}"`);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'argon-pgbench-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  let stopped = false;
  let started = false;

  const removeDirSync = () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  };

  // Safety net: if the process exits without stop(), shut the server down
  // synchronously so no postgres process is left behind.
  const onExit = () => {
    if (stopped) return;
    stopped = true;
    if (started) {
      const [c, a] = asPostgresUser(bin('pg_ctl'), [
        'stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30',
      ]);
      const r = spawnSync(c, a, { stdio: 'ignore', cwd: dir });
      if (r.status !== 0) killPostmasterSync(dataDir, 'SIGQUIT');
    }
    removeDirSync();
  };
  process.on('exit', onExit);

  try {
    if (isRoot) {
      const { uid, gid } = await lookupOsUser(OS_USER);
      await chown(dir, uid, gid);
    }

    log(`initdb in ${dataDir}`);
    await runAsPostgres(
      bin('initdb'),
      [
        '-D', dataDir,
        '-U', SUPERUSER,
        '--auth=trust',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync', // throwaway cluster: don't fsync the freshly created files
      ],
      { cwd: dir },
    );

    const settings = {
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: `'${dir}'`,
      max_connections: 30,
      shared_buffers: opts.sharedBuffers ?? "'128MB'",
      fsync: 'on',
      synchronous_commit: 'on',
      full_page_writes: 'on',
      max_wal_size: "'16GB'",
      min_wal_size: "'1GB'",
      checkpoint_timeout: "'1h'",
      autovacuum: 'off',
      logging_collector: 'off',
      log_min_messages: 'warning',
      ...(opts.settings ?? {}),
    };

    let lastErr;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freeLoopbackPort();
      const conf = Object.entries({ ...settings, port })
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n');
      await appendFile(
        path.join(dataDir, 'postgresql.conf'),
        `\n# --- argon branch-creation benchmark (attempt ${attempt}) ---\n${conf}\n`,
      );
      log(`starting postgres on 127.0.0.1:${port}`);
      // The postmaster is spawned as OUR child (not daemonized by `pg_ctl
      // start`): on this machine PID 1 does not reap orphans, so a daemonized
      // postmaster would linger as a <defunct> zombie after shutdown.
      const logFd = openSync(logFile, 'a');
      const [c, a] = asPostgresUser(bin('postgres'), ['-D', dataDir]);
      const proc = spawn(c, a, { cwd: dir, stdio: ['ignore', logFd, logFd] });
      closeSync(logFd);
      proc.unref(); // don't keep the event loop alive; the exit hook stops it
      started = true;
      const exited = new Promise((resolve) => {
        proc.once('exit', (code, signal) => resolve({ code, signal }));
        proc.once('error', (err) => resolve({ code: null, signal: null, err }));
      });
      let exitInfo = null;
      exited.then((info) => {
        exitInfo = info;
      });
      try {
        await waitUntilReady({ host: '127.0.0.1', port, user: SUPERUSER }, () => exitInfo);
        const host = '127.0.0.1';
        const url = `postgres://${SUPERUSER}@${host}:${port}/postgres`;
        const clientConfig = (database = 'postgres') => ({
          host,
          port,
          user: SUPERUSER,
          database,
        });
        return {
          port,
          host,
          binDir,
          socketDir: dir,
          dir,
          dataDir,
          logFile,
          url,
          database: 'postgres',
          user: SUPERUSER,
          clientConfig,
          async stop() {
            if (stopped) return;
            stopped = true;
            process.off('exit', onExit);
            proc.ref(); // keep the loop alive until the child has been reaped
            try {
              if (!exitInfo) {
                try {
                  await runAsPostgres(
                    bin('pg_ctl'),
                    ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'],
                    { cwd: dir },
                  );
                } catch (err) {
                  log(`pg_ctl stop failed (${err.message}); signalling the postmaster`);
                  killPostmasterSync(dataDir, 'SIGQUIT');
                }
                const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
                await exited;
                clearTimeout(timer);
              }
              log('postgres stopped');
            } finally {
              await rm(dir, { recursive: true, force: true });
            }
          },
        };
      } catch (err) {
        lastErr = err;
        if (!exitInfo) {
          killPostmasterSync(dataDir, 'SIGQUIT');
          proc.ref();
          await exited;
        }
        started = false;
        log(`start attempt ${attempt} failed: ${err.message}\n${await tail(logFile)}`);
      }
    }
    throw new Error(
      `could not start PostgreSQL: ${lastErr?.message}\n--- server log ---\n${await tail(logFile)}`,
    );
  } catch (err) {
    onExit();
    process.off('exit', onExit);
    throw err;
  }
}

/** Poll until a connection succeeds; fail fast if the postmaster exited. */
async function waitUntilReady(cfg, getExit, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    const ex = getExit();
    if (ex) {
      throw new Error(
        `postgres exited during startup (code ${ex.code}, signal ${ex.signal}${ex.err ? `, ${ex.err.message}` : ''})`,
      );
    }
    const c = new Client({ ...cfg, database: 'postgres', connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch (err) {
      lastErr = err;
      await c.end().catch(() => {});
    }
    if (Date.now() > deadline) {
      throw new Error(`postgres not ready after ${timeoutMs} ms: ${lastErr?.message}`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Signal the postmaster whose pid is in postmaster.pid (best effort). */
function killPostmasterSync(dataDir, signal) {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, signal);
  } catch {
    /* not running / no pid file */
  }
}

// ---------------------------------------------------------------------------
// data loading

/**
 * Create database `template_src` (dropped first if it exists) with table
 * docs(id bigint primary key, doc jsonb) and load n rows, id = i and
 * doc = makeDoc(i) for i in [0, n).
 *
 * Rows go in as multi-row INSERT ... SELECT FROM unnest($1::bigint[], $2::text[])
 * batches over a few parallel connections (synchronous_commit=off for the
 * loader sessions only). The primary key is added after the load (faster
 * than maintaining the index row by row; the end schema is identical). Then
 * VACUUM (FREEZE, ANALYZE) so the template is in a settled state (hint bits,
 * visibility map) and CHECKPOINT. All connections to template_src are closed
 * on return.
 *
 * @param {object} server result of startPostgres()
 * @param {number} n number of documents
 * @param {(i: number) => any} makeDoc JSON-serializable document for row i
 * @param {{ batchSize?: number, concurrency?: number,
 *           onProgress?: (done: number, total: number) => void }} [opts]
 */
export async function loadTemplate(server, n, makeDoc, opts = {}) {
  const batchSize = opts.batchSize ?? 1000;
  const concurrency = Math.max(1, opts.concurrency ?? 2);
  const onProgress = opts.onProgress;

  const admin = new Client(server.clientConfig('postgres'));
  await admin.connect();
  try {
    await waitForNoSessions(admin, TEMPLATE_DB);
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB}`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);

    const clients = [];
    try {
      for (let k = 0; k < concurrency; k++) {
        const c = new Client(server.clientConfig(TEMPLATE_DB));
        await c.connect();
        await c.query('SET synchronous_commit = off');
        clients.push(c);
      }
      await clients[0].query('CREATE TABLE docs (id bigint NOT NULL, doc jsonb NOT NULL)');

      let next = 0;
      let done = 0;
      const sql =
        'INSERT INTO docs (id, doc) SELECT id, d::jsonb FROM unnest($1::bigint[], $2::text[]) AS t(id, d)';
      const worker = async (c) => {
        for (;;) {
          const start = next;
          if (start >= n) return;
          const end = Math.min(n, start + batchSize);
          next = end;
          const ids = new Array(end - start);
          const docs = new Array(end - start);
          for (let i = start; i < end; i++) {
            ids[i - start] = i;
            docs[i - start] = JSON.stringify(makeDoc(i));
          }
          await c.query(sql, [ids, docs]);
          done += end - start;
          if (onProgress) onProgress(done, n);
        }
      };
      await Promise.all(clients.map(worker));

      await clients[0].query('ALTER TABLE docs ADD PRIMARY KEY (id)');
      await clients[0].query('VACUUM (FREEZE, ANALYZE) docs');
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    }

    await admin.query('CHECKPOINT');
    await waitForNoSessions(admin, TEMPLATE_DB);
  } finally {
    await admin.end();
  }
}

/** Size of template_src in bytes (pg_database_size). */
export async function templateSize(server) {
  const c = new Client(server.clientConfig('postgres'));
  await c.connect();
  try {
    const r = await c.query('SELECT pg_database_size($1)::bigint AS size', [TEMPLATE_DB]);
    return Number(r.rows[0].size);
  } finally {
    await c.end();
  }
}

// Client.end() returns before the backend process has actually exited. CREATE
// DATABASE ... TEMPLATE refuses (after waiting up to ~5 s, polling every
// 100 ms) while any other session is connected to the template, so wait until
// pg_stat_activity is clean to keep that wait out of the timings.
async function waitForNoSessions(client, db, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await client.query(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [db],
    );
    if (r.rows[0].n === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`${r.rows[0].n} session(s) still connected to ${db}`);
    }
    await new Promise((res) => setTimeout(res, 10));
  }
}

// ---------------------------------------------------------------------------
// timing

/**
 * Time `CREATE DATABASE copy_k TEMPLATE template_src` `runs` times. Each copy
 * is dropped after it has been timed (not timed), followed by an untimed
 * CHECKPOINT so every run starts from the same clean state (no dirty buffers
 * or pending checkpoint work left over from the previous copy/drop).
 *
 * Strategy: PostgreSQL 15 added `STRATEGY`. Its default, WAL_LOG, copies the
 * template block by block through shared buffers and writes every block to
 * WAL (cost ~ database size in WAL + data writes, no checkpoint). FILE_COPY
 * is the pre-15 behaviour: a checkpoint, then a file-level copy of the
 * template directory, another checkpoint, and an fsync of the copied files.
 * We measure WAL_LOG as the primary figure because it is what PG15 does
 * when a user simply types `CREATE DATABASE x TEMPLATE y`; the strategy is
 * spelled out in the statement so the figure does not depend on the default.
 * Pass opts.strategy = 'FILE_COPY' for the secondary figure (on a mostly idle
 * server it is usually faster for large templates, since it skips WAL, but its
 * checkpoints get expensive when the server has lots of dirty data).
 *
 * The client is connected to the `postgres` database; no session may be
 * connected to template_src (we wait until none is).
 *
 * @param {object} server result of startPostgres()
 * @param {number} runs number of timed copies
 * With opts.viaPsql each CREATE DATABASE runs in its own `psql` process and the timing includes
 * that process's start and exit, as a command-line tool's user would see it.
 *
 * @param {{ strategy?: 'WAL_LOG' | 'FILE_COPY', checkpointBetween?: boolean, viaPsql?: boolean }} [opts]
 * @returns {Promise<number[]>} durations in milliseconds
 */
export async function timeTemplateCopies(server, runs, opts = {}) {
  const strategy = String(opts.strategy ?? 'WAL_LOG').toUpperCase();
  if (strategy !== 'WAL_LOG' && strategy !== 'FILE_COPY') {
    throw new Error(`unknown strategy ${opts.strategy}; use WAL_LOG or FILE_COPY`);
  }
  const checkpointBetween = opts.checkpointBetween ?? true;

  const c = new Client(server.clientConfig('postgres'));
  await c.connect();
  const durations = [];
  try {
    for (let k = 0; k < runs; k++) {
      const name = `copy_${k}`;
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      if (checkpointBetween) await c.query('CHECKPOINT');
      await waitForNoSessions(c, TEMPLATE_DB);

      const sql = `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB} STRATEGY = ${strategy}`;
      const t0 = process.hrtime.bigint();
      if (opts.viaPsql) {
        await run(path.join(server.binDir, 'psql'), ['-X', '-q', '-h', server.host, '-p', String(server.port), '-U', SUPERUSER, '-d', 'postgres', '-c', sql]);
      } else {
        await c.query(sql);
      }
      const t1 = process.hrtime.bigint();
      durations.push(Number(t1 - t0) / 1e6);

      await c.query(`DROP DATABASE ${name}`);
    }
    if (checkpointBetween) await c.query('CHECKPOINT');
  } finally {
    await c.end();
  }
  return durations;
}

/** Median of an array of numbers (helper for reports). */
export function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
