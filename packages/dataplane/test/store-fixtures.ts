/** Builders for the store tests: a pipeline spec, a run, attempts, log lines, a worker. */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import pg from 'pg';
import { SQLITE_FILE } from '../src/store/open.js';
import type { LogLine, PipelineSpec, Run, TaskAttempt, TaskSpec, WorkerInfo } from '../src/types.js';

export function task(id: string, options: Partial<TaskSpec> = {}): TaskSpec {
  return {
    id,
    run: 'bash',
    code: `echo ${id}`,
    needs: [],
    when: 'success',
    retries: { count: 0, backoff: 'fixed', delayMs: 1000, maxDelayMs: 60_000 },
    timeoutMs: null,
    secrets: [],
    group: 'default',
    ...options,
  };
}

export function spec(name: string, tasks: TaskSpec[] = [task('a')]): PipelineSpec {
  return { name, params: { n: { type: 'integer', default: 1 } }, tasks, concurrency: null };
}

let runs = 0;
export function run(options: Partial<Run> = {}): Run {
  return {
    id: `run-${++runs}-${Math.random().toString(36).slice(2, 8)}`,
    pipeline: 'p',
    version: 1,
    environment: 'development',
    params: { n: 1, nested: { list: [1, 'two', null] } },
    state: 'queued',
    attempt: 1,
    created: new Date(),
    started: null,
    ended: null,
    createdBy: 'ana',
    ...options,
  };
}

export function attempt(runId: string, taskId: string, options: Partial<TaskAttempt> = {}): TaskAttempt {
  return {
    runId,
    taskId,
    attempt: 1,
    state: 'pending',
    workerId: null,
    queued: null,
    started: null,
    ended: null,
    retryAt: null,
    exitCode: null,
    error: null,
    output: null,
    ...options,
  };
}

export function line(runId: string, taskId: string, attemptNo: number, seq: number): LogLine {
  return { runId, taskId, attempt: attemptNo, seq, stream: seq % 3 === 0 ? 'stderr' : 'stdout', at: new Date(1_700_000_000_000 + seq), text: `line ${seq} of ${taskId}#${attemptNo}` };
}

export function worker(id: string, options: Partial<WorkerInfo> = {}): WorkerInfo {
  return {
    id,
    group: 'default',
    environment: 'development',
    host: 'box-1',
    pid: 4242,
    slots: 4,
    running: 0,
    state: 'up',
    lastSeen: new Date(),
    cpu: 0.25,
    memoryBytes: 8 * 2 ** 30,
    load: 1.5,
    ...options,
  };
}

/** Rows of a query straight on the database, bypassing the store (for what the API does not show). */
export async function rawRows(env: { url: string | undefined; dataDir: string }, sql: string): Promise<Record<string, unknown>[]> {
  if (env.url === undefined) {
    const db = new Database(join(env.dataDir, SQLITE_FILE), { readonly: true });
    try {
      return db.prepare(sql).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: env.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}
