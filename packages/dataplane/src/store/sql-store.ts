import { migrate, placeholders, query, SqlStore, type Connection, type Steps } from '@argon/common/sql';
import type { LogLine, PipelineSpec, PipelineVersion, Run, RunState, TaskAttempt, TaskState, Transition, WorkerInfo } from '../types.js';
import type { Dialect } from './dialect.js';
import { jsonValue, toAttempt, toDate, type Time, toLogLine, toPipeline, toRun, toTransition, toWorker, type LogRow, type PipelineRow, type RunRow, type TaskRow, type TransitionRow, type WorkerRow } from './rows.js';
import { migrations } from './schema.js';
import type { DataStore, SecretInfo } from './types.js';

/** The worker group of a task whose run names no saved pipeline version (see putAttempt). */
const DEFAULT_GROUP = 'default';

const RUN_COLUMNS: [keyof Omit<Run, 'id'>, string][] = [
  ['pipeline', 'pipeline'],
  ['version', 'version'],
  ['environment', 'environment'],
  ['params', 'params'],
  ['state', 'state'],
  ['attempt', 'attempt'],
  ['created', 'created'],
  ['started', 'started'],
  ['ended', 'ended'],
  ['createdBy', 'created_by'],
];

/**
 * The DataStore contract over SQL, for both backends: every operation's statements and the order
 * they run in. A backend supplies the connection (run, transaction) and the bulk log insert,
 * which only PostgreSQL can do in one statement (arrays).
 */
export abstract class SqlDataStore<C extends Connection = Connection> extends SqlStore<Dialect, C> implements DataStore {
  abstract readonly backend: 'sqlite' | 'postgres';

  /** Inserts log lines, skipping any already there (a batch sent again). */
  protected abstract insertLogs(lines: LogLine[]): Steps<void>;

  private readonly time = (date: Date | null | undefined) => (date == null ? null : this.dialect.time(date));

  /** Brings the schema to the latest version; refuses a database a newer Dataplane migrated. */
  protected migrate(): Steps<void> {
    const d = this.dialect;
    return migrate(d, {
      what: 'database',
      product: 'Dataplane',
      lock: 'dataplane_schema',
      steps: migrations(d),
      // A row per step applied, with when.
      history: {
        create: `CREATE TABLE IF NOT EXISTS schema_migrations (version ${d.types.int} PRIMARY KEY, applied ${d.types.time} NOT NULL)`,
        *version() {
          const [row] = yield* query<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_migrations');
          return row?.version ?? 0;
        },
        *applied(version) {
          yield* query('INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)', [version, d.time(new Date())]);
        },
      },
    });
  }

  // ---- pipelines ----

  savePipeline(name: string, spec: PipelineSpec, source: string, createdBy: string | null): Promise<{ version: PipelineVersion; created: boolean }> {
    return this.transaction(this.savePipelineSteps(name, spec, source, createdBy));
  }

  private *savePipelineSteps(name: string, spec: PipelineSpec, source: string, createdBy: string | null): Steps<{ version: PipelineVersion; created: boolean }> {
    // Two applies of one pipeline at once would both pick the same next version.
    yield* this.lock(`pipeline:${name}`);
    const [latest] = yield* query<PipelineRow>('SELECT * FROM pipelines WHERE name = $1 ORDER BY version DESC LIMIT 1', [name]);
    if (latest !== undefined && latest.deleted === null && latest.source === source) return { version: toPipeline(this.dialect, latest), created: false };
    // Versions go on after a delete, so a version number never names two specs.
    const version: PipelineVersion = { name, version: (latest?.version ?? 0) + 1, spec, source, created: new Date(), createdBy };
    yield* query('INSERT INTO pipelines (name, version, spec, source, created, created_by) VALUES ($1, $2, $3, $4, $5, $6)', [
      name, version.version, JSON.stringify(spec), source, this.dialect.time(version.created), createdBy,
    ]);
    for (const task of spec.tasks) {
      yield* query('INSERT INTO pipeline_tasks (pipeline, version, task_id, task_group) VALUES ($1, $2, $3, $4)', [name, version.version, task.id, task.group]);
    }
    return { version, created: true };
  }

  async getPipeline(name: string, version?: number): Promise<PipelineVersion | null> {
    const values: unknown[] = [name];
    const which = version === undefined ? '' : ` AND version = $${values.push(version)}`;
    const rows = await this.run(query<PipelineRow>(`SELECT * FROM pipelines WHERE name = $1 AND deleted IS NULL${which} ORDER BY version DESC LIMIT 1`, values));
    return rows[0] === undefined ? null : toPipeline(this.dialect, rows[0]);
  }

  async listPipelines(): Promise<PipelineVersion[]> {
    const rows = await this.run(
      query<PipelineRow>(
        `SELECT * FROM pipelines p WHERE deleted IS NULL
           AND version = (SELECT MAX(version) FROM pipelines q WHERE q.name = p.name)
         ORDER BY name`,
      ),
    );
    return rows.map((row) => toPipeline(this.dialect, row));
  }

  async deletePipeline(name: string): Promise<boolean> {
    const rows = await this.run(query('UPDATE pipelines SET deleted = $2 WHERE name = $1 AND deleted IS NULL RETURNING version', [name, this.dialect.time(new Date())]));
    return rows.length > 0;
  }

  // ---- runs and attempts ----

  createRun(run: Run, tasks: TaskAttempt[]): Promise<void> {
    return this.transaction(this.createRunSteps(run, tasks));
  }

  /** Also keeps the run's and each attempt's first state as a transition, so the history starts at the start. */
  private *createRunSteps(run: Run, tasks: TaskAttempt[]): Steps<void> {
    yield* query(
      `INSERT INTO pipeline_runs (id, pipeline, version, environment, params, state, attempt, created, started, ended, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [run.id, run.pipeline, run.version, run.environment, JSON.stringify(run.params), run.state, run.attempt, this.dialect.time(run.created), this.time(run.started), this.time(run.ended), run.createdBy],
    );
    yield* this.addTransition(run.id, null, null, { state: run.state, at: run.created });
    for (const attempt of tasks) yield* this.putAttempt(attempt, { state: attempt.state, at: attempt.queued ?? run.created });
  }

  async getRun(id: string): Promise<Run | null> {
    const [row] = await this.run(query<RunRow>('SELECT * FROM pipeline_runs WHERE id = $1', [id]));
    return row === undefined ? null : toRun(this.dialect, row);
  }

  async listRuns(filter: { pipeline?: string; states?: RunState[]; limit?: number; before?: Date }): Promise<Run[]> {
    const values: unknown[] = [];
    const where: string[] = [];
    if (filter.pipeline !== undefined) where.push(`pipeline = $${values.push(filter.pipeline)}`);
    if (filter.states !== undefined) {
      if (filter.states.length === 0) return [];
      where.push(`state IN (${placeholders(values, filter.states)})`);
    }
    if (filter.before !== undefined) where.push(`created < $${values.push(this.dialect.time(filter.before))}`);
    const limit = filter.limit === undefined ? '' : ` LIMIT $${values.push(filter.limit)}`;
    const sql = `SELECT * FROM pipeline_runs${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created DESC, id DESC${limit}`;
    return (await this.run(query<RunRow>(sql, values))).map((row) => toRun(this.dialect, row));
  }

  async activeRuns(): Promise<Run[]> {
    // Spelled as the partial index pipeline_runs_active is, so SQLite uses it.
    const rows = await this.run(query<RunRow>(`SELECT * FROM pipeline_runs WHERE state IN ('queued', 'running') ORDER BY created, id`));
    return rows.map((row) => toRun(this.dialect, row));
  }

  updateRun(id: string, patch: Partial<Omit<Run, 'id'>>, transition?: Transition<RunState>): Promise<void> {
    return this.transaction(this.updateRunSteps(id, patch, transition));
  }

  private *updateRunSteps(id: string, patch: Partial<Omit<Run, 'id'>>, transition?: Transition<RunState>): Steps<void> {
    const values: unknown[] = [id];
    const changes = { ...patch, state: patch.state ?? transition?.state };
    const sets = RUN_COLUMNS.filter(([field]) => changes[field] !== undefined).map(([field, column]) => `${column} = $${values.push(this.runValue(field, changes[field]))}`);
    const sql = sets.length > 0 ? `UPDATE pipeline_runs SET ${sets.join(', ')} WHERE id = $1 RETURNING id` : 'SELECT id FROM pipeline_runs WHERE id = $1';
    const found = yield* query(sql, values);
    if (found.length === 0) throw new Error(`no run ${id}`);
    if (transition !== undefined) yield* this.addTransition(id, null, null, transition);
  }

  private runValue(field: keyof Omit<Run, 'id'>, value: unknown): unknown {
    if (field === 'params') return JSON.stringify(value);
    return value instanceof Date ? this.dialect.time(value) : value;
  }

  async taskAttempts(runId: string): Promise<TaskAttempt[]> {
    const rows = await this.run(query<TaskRow>('SELECT * FROM tasks WHERE run_id = $1 ORDER BY task_id, attempt', [runId]));
    return rows.map((row) => toAttempt(this.dialect, row));
  }

  putTaskAttempt(attempt: TaskAttempt, transition?: Transition<TaskState>): Promise<void> {
    // Without a transition it is one statement: no transaction needed.
    return transition === undefined ? this.run(this.putAttempt(attempt)) : this.transaction(this.putAttempt(attempt, transition));
  }

  putTaskAttempts(attempts: { attempt: TaskAttempt; transition?: Transition<TaskState> }[]): Promise<void> {
    return this.transaction(this.putAttemptsSteps(attempts));
  }

  private *putAttemptsSteps(attempts: { attempt: TaskAttempt; transition?: Transition<TaskState> }[]): Steps<void> {
    for (const { attempt, transition } of attempts) yield* this.putAttempt(attempt, transition);
  }

  /**
   * Upserts one attempt. A new row takes its environment from the run and its worker group from
   * the run's pipeline version (DEFAULT_GROUP when that version was never saved), so the queue
   * needs no join; an existing row keeps them.
   */
  private *putAttempt(a: TaskAttempt, transition?: Transition<TaskState>): Steps<void> {
    yield* query(
      `INSERT INTO tasks (run_id, task_id, attempt, state, worker_id, queued, started, ended, retry_at, exit_code, error, output, environment, task_group)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
         (SELECT environment FROM pipeline_runs WHERE id = $1),
         COALESCE((SELECT pt.task_group FROM pipeline_runs r JOIN pipeline_tasks pt ON pt.pipeline = r.pipeline AND pt.version = r.version
                   WHERE r.id = $1 AND pt.task_id = $2), '${DEFAULT_GROUP}'))
       ON CONFLICT (run_id, task_id, attempt) DO UPDATE SET
         state = excluded.state, worker_id = excluded.worker_id, queued = excluded.queued, started = excluded.started, ended = excluded.ended,
         retry_at = excluded.retry_at, exit_code = excluded.exit_code, error = excluded.error, output = excluded.output`,
      [a.runId, a.taskId, a.attempt, a.state, a.workerId, this.time(a.queued), this.time(a.started), this.time(a.ended), this.time(a.retryAt), a.exitCode, a.error, jsonValue(a.output)],
    );
    if (transition !== undefined) yield* this.addTransition(a.runId, a.taskId, a.attempt, transition);
  }

  private *addTransition(runId: string, taskId: string | null, attempt: number | null, t: Transition<string>): Steps<void> {
    yield* query('INSERT INTO transitions (run_id, task_id, attempt, state, at, reason) VALUES ($1, $2, $3, $4, $5, $6)', [
      runId, taskId, attempt, t.state, this.dialect.time(t.at), t.reason ?? null,
    ]);
  }

  async transitions(runId: string): Promise<{ taskId: string | null; attempt: number | null; state: string; at: Date; reason?: string }[]> {
    const rows = await this.run(query<TransitionRow>('SELECT task_id, attempt, state, at, reason FROM transitions WHERE run_id = $1 ORDER BY at, id', [runId]));
    return rows.map(toTransition);
  }

  // ---- the embedded queue ----

  claimTask(workerId: string, environment: string, groups: string[]): Promise<TaskAttempt | null> {
    if (groups.length === 0) return Promise.resolve(null);
    return this.transaction(this.claimSteps(workerId, environment, groups));
  }

  /**
   * Picks and takes the oldest queued attempt in one transaction. On SQLite the transaction is
   * IMMEDIATE, so it holds the database's write lock from its first statement: no other claimer
   * reads the same row in between. On PostgreSQL the SELECT locks its row, and SKIP LOCKED lets
   * a concurrent claimer take the next one instead of waiting for this one's commit.
   */
  private *claimSteps(workerId: string, environment: string, groups: string[]): Steps<TaskAttempt | null> {
    const values: unknown[] = [environment];
    const [picked] = yield* query<{ run_id: string; task_id: string; attempt: number }>(
      `SELECT run_id, task_id, attempt FROM tasks
       WHERE state = 'queued' AND environment = $1 AND task_group IN (${placeholders(values, groups)})
       ORDER BY queued, run_id, task_id, attempt LIMIT 1${this.dialect.skipLocked}`,
      values,
    );
    if (picked === undefined) return null;
    const now = new Date();
    const [row] = yield* query<TaskRow>(
      `UPDATE tasks SET state = 'running', worker_id = $4, started = $5 WHERE run_id = $1 AND task_id = $2 AND attempt = $3 RETURNING *`,
      [picked.run_id, picked.task_id, picked.attempt, workerId, this.dialect.time(now)],
    );
    yield* this.addTransition(picked.run_id, picked.task_id, picked.attempt, { state: 'running', at: now, reason: `claimed by worker ${workerId}` });
    return toAttempt(this.dialect, row!);
  }

  // ---- logs ----

  async appendLogs(lines: LogLine[]): Promise<void> {
    if (lines.length > 0) await this.transaction(this.insertLogs(lines));
  }

  async logs(runId: string, options: { taskId?: string; attempt?: number; afterSeq?: number; limit?: number } = {}): Promise<LogLine[]> {
    const values: unknown[] = [runId];
    let where = 'run_id = $1';
    if (options.taskId !== undefined) where += ` AND task_id = $${values.push(options.taskId)}`;
    if (options.attempt !== undefined) where += ` AND attempt = $${values.push(options.attempt)}`;
    if (options.afterSeq !== undefined) where += ` AND seq > $${values.push(options.afterSeq)}`;
    const limit = options.limit === undefined ? '' : ` LIMIT $${values.push(options.limit)}`;
    const rows = await this.run(query<LogRow>(`SELECT * FROM logs WHERE ${where} ORDER BY task_id, attempt, seq${limit}`, values));
    return rows.map(toLogLine);
  }

  // ---- secrets ----

  putSecret(environment: string, name: string, ciphertext: Buffer, nonce: Buffer): Promise<{ created: boolean }> {
    return this.transaction(this.putSecretSteps(environment, name, ciphertext, nonce));
  }

  private *putSecretSteps(environment: string, name: string, ciphertext: Buffer, nonce: Buffer): Steps<{ created: boolean }> {
    const now = this.dialect.time(new Date());
    // secrets reference environments; an environment may be named before anyone created it.
    yield* query('INSERT INTO environments (name, description, created) VALUES ($1, NULL, $2) ON CONFLICT (name) DO NOTHING', [environment, now]);
    const existing = yield* query('SELECT name FROM secrets WHERE environment = $1 AND name = $2', [environment, name]);
    if (existing.length > 0) {
      yield* query('UPDATE secrets SET ciphertext = $3, nonce = $4, updated = $5 WHERE environment = $1 AND name = $2', [environment, name, ciphertext, nonce, now]);
      return { created: false };
    }
    yield* query('INSERT INTO secrets (environment, name, ciphertext, nonce, created, updated) VALUES ($1, $2, $3, $4, $5, $5)', [environment, name, ciphertext, nonce, now]);
    return { created: true };
  }

  async deleteSecret(environment: string, name: string): Promise<boolean> {
    const rows = await this.run(query('DELETE FROM secrets WHERE environment = $1 AND name = $2 RETURNING name', [environment, name]));
    return rows.length > 0;
  }

  async listSecrets(environment?: string): Promise<SecretInfo[]> {
    const where = environment === undefined ? '' : ' WHERE environment = $1';
    const rows = await this.run(
      query<{ environment: string; name: string; created: Time; updated: Time }>(
        `SELECT environment, name, created, updated FROM secrets${where} ORDER BY environment, name`,
        environment === undefined ? [] : [environment],
      ),
    );
    return rows.map((r) => ({ environment: r.environment, name: r.name, created: toDate(r.created), updated: toDate(r.updated) }));
  }

  async getSecretCiphertexts(environment: string, names: string[]): Promise<{ name: string; ciphertext: Buffer; nonce: Buffer }[]> {
    if (names.length === 0) return [];
    const values: unknown[] = [environment];
    const rows = await this.run(
      query<{ name: string; ciphertext: Uint8Array; nonce: Uint8Array }>(`SELECT name, ciphertext, nonce FROM secrets WHERE environment = $1 AND name IN (${placeholders(values, names)})`, values),
    );
    return rows.map((r) => ({ name: r.name, ciphertext: Buffer.from(r.ciphertext), nonce: Buffer.from(r.nonce) }));
  }

  // ---- workers ----

  async upsertWorker(w: WorkerInfo): Promise<void> {
    await this.run(
      query(
        `INSERT INTO workers (id, worker_group, environment, host, pid, slots, running, state, last_seen, cpu, memory_bytes, load)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (id) DO UPDATE SET
           worker_group = excluded.worker_group, environment = excluded.environment, host = excluded.host, pid = excluded.pid,
           slots = excluded.slots, running = excluded.running, state = excluded.state, last_seen = excluded.last_seen,
           cpu = excluded.cpu, memory_bytes = excluded.memory_bytes, load = excluded.load`,
        [w.id, w.group, w.environment, w.host, w.pid, w.slots, w.running, w.state, this.dialect.time(w.lastSeen), w.cpu, w.memoryBytes, w.load],
      ),
    );
  }

  async listWorkers(): Promise<WorkerInfo[]> {
    return (await this.run(query<WorkerRow>('SELECT * FROM workers ORDER BY id'))).map(toWorker);
  }
}
