import type { Dialect } from './dialect.js';

/**
 * The schema of both backends, as migrations: entry i takes a database from version i to i + 1,
 * so a later release appends a step instead of editing one that databases in the field already
 * ran. schema_migrations records each step applied (see SqlDataStore.migrate).
 *
 * Runs, tasks, transitions and logs carry no foreign key to pipelines or environments: a run
 * stays readable whatever happens to its pipeline, and an environment may be named before
 * anyone created it. Their child rows do reference the run, so deleting a run (retention) takes
 * its attempts, transitions and logs along.
 */
export function migrations(d: Dialect): readonly string[] {
  const t = d.types;
  return [
    `
  CREATE TABLE environments (
    name ${t.id} PRIMARY KEY,
    description ${t.text},
    created ${t.time} NOT NULL
  );
  INSERT INTO environments (name, description, created) VALUES ('development', 'The default environment', ${d.now});

  CREATE TABLE users (
    name ${t.id} PRIMARY KEY,
    password_hash ${t.text} NOT NULL,
    created ${t.time} NOT NULL
  );

  -- Only a hash of each key is kept: a leaked database does not leak working keys.
  CREATE TABLE api_keys (
    id ${t.id} PRIMARY KEY,
    user_name ${t.id} NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    key_hash ${t.text} NOT NULL UNIQUE,
    description ${t.text},
    created ${t.time} NOT NULL,
    last_used ${t.time}
  );

  -- A role per user and environment ('*': every environment).
  CREATE TABLE permissions (
    user_name ${t.id} NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    environment ${t.id} NOT NULL,
    role ${t.text} NOT NULL,
    PRIMARY KEY (user_name, environment)
  );

  -- Values are encrypted by the server (the key is not in the database).
  CREATE TABLE secrets (
    environment ${t.id} NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
    name ${t.id} NOT NULL,
    ciphertext ${t.bytes} NOT NULL,
    nonce ${t.bytes} NOT NULL,
    created ${t.time} NOT NULL,
    updated ${t.time} NOT NULL,
    PRIMARY KEY (environment, name)
  );

  -- Every version is kept; deleting a pipeline marks all its versions deleted.
  CREATE TABLE pipelines (
    name ${t.id} NOT NULL,
    version ${t.int} NOT NULL,
    spec ${t.json} NOT NULL,
    source ${t.text} NOT NULL,
    created ${t.time} NOT NULL,
    created_by ${t.text},
    deleted ${t.time},
    PRIMARY KEY (name, version)
  );

  -- Each task's worker group, so a queued attempt carries it (tasks.task_group) without the spec.
  CREATE TABLE pipeline_tasks (
    pipeline ${t.id} NOT NULL,
    version ${t.int} NOT NULL,
    task_id ${t.id} NOT NULL,
    task_group ${t.id} NOT NULL,
    PRIMARY KEY (pipeline, version, task_id),
    FOREIGN KEY (pipeline, version) REFERENCES pipelines (name, version)
  );

  -- The files a pipeline's tasks load their code from, per version.
  CREATE TABLE code_files (
    pipeline ${t.id} NOT NULL,
    version ${t.int} NOT NULL,
    path ${t.id} NOT NULL,
    content ${t.text} NOT NULL,
    PRIMARY KEY (pipeline, version, path),
    FOREIGN KEY (pipeline, version) REFERENCES pipelines (name, version)
  );

  CREATE TABLE pipeline_runs (
    id ${t.id} PRIMARY KEY,
    pipeline ${t.id} NOT NULL,
    version ${t.int} NOT NULL,
    environment ${t.id} NOT NULL,
    params ${t.json} NOT NULL,
    state ${t.text} NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt ${t.int} NOT NULL,
    created ${t.time} NOT NULL,
    started ${t.time},
    ended ${t.time},
    created_by ${t.text}
  );
  CREATE INDEX pipeline_runs_created ON pipeline_runs (created, id);
  CREATE INDEX pipeline_runs_pipeline ON pipeline_runs (pipeline, created, id);
  CREATE INDEX pipeline_runs_active ON pipeline_runs (created, id) WHERE state IN ('queued', 'running');

  -- Task attempts. environment and task_group are copied from the run and the pipeline when the
  -- row is written, so the queue (state 'queued') is one partial index, probed by claimTask.
  CREATE TABLE tasks (
    run_id ${t.id} NOT NULL REFERENCES pipeline_runs (id) ON DELETE CASCADE,
    task_id ${t.id} NOT NULL,
    attempt ${t.int} NOT NULL,
    state ${t.text} NOT NULL CHECK (state IN ('pending', 'queued', 'running', 'succeeded', 'failed', 'retrying', 'skipped', 'cancelled', 'upstream_failed', 'timed_out')),
    worker_id ${t.text},
    queued ${t.time},
    started ${t.time},
    ended ${t.time},
    retry_at ${t.time},
    exit_code ${t.int},
    error ${t.text},
    output ${t.json},
    environment ${t.id} NOT NULL,
    task_group ${t.id} NOT NULL,
    PRIMARY KEY (run_id, task_id, attempt)
  );
  CREATE INDEX tasks_queue ON tasks (environment, task_group, queued) WHERE state = 'queued';

  -- Every state a run (task_id NULL) or a task attempt entered, in order.
  CREATE TABLE transitions (
    id ${t.rowId},
    run_id ${t.id} NOT NULL REFERENCES pipeline_runs (id) ON DELETE CASCADE,
    task_id ${t.id},
    attempt ${t.int},
    state ${t.text} NOT NULL,
    at ${t.time} NOT NULL,
    reason ${t.text}
  );
  CREATE INDEX transitions_run ON transitions (run_id, at, id);

  CREATE TABLE workers (
    id ${t.id} PRIMARY KEY,
    worker_group ${t.id} NOT NULL,
    environment ${t.id} NOT NULL,
    host ${t.text} NOT NULL,
    pid ${t.int} NOT NULL,
    slots ${t.int} NOT NULL,
    running ${t.int} NOT NULL,
    state ${t.text} NOT NULL CHECK (state IN ('up', 'lost', 'stopped')),
    last_seen ${t.time} NOT NULL,
    cpu ${t.real},
    memory_bytes ${t.bigint},
    load ${t.real}
  );

  CREATE TABLE logs (
    run_id ${t.id} NOT NULL REFERENCES pipeline_runs (id) ON DELETE CASCADE,
    task_id ${t.id} NOT NULL,
    attempt ${t.int} NOT NULL,
    seq ${t.int} NOT NULL,
    stream ${t.text} NOT NULL CHECK (stream IN ('stdout', 'stderr', 'system')),
    at ${t.time} NOT NULL,
    text ${t.text} NOT NULL,
    PRIMARY KEY (run_id, task_id, attempt, seq)
  );
  `,
  ];
}
