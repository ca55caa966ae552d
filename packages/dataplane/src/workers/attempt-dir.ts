import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TaskAssignment, TaskKind } from '../types.js';

/**
 * The per-attempt directory a task runs in (its cwd, its TMPDIR, its code and data files) and the
 * environment it sees. The worker's own environment is not passed on: it may hold credentials.
 */

export interface AttemptDir {
  dir: string;
  codePath: string;
  outputPath: string;
  env: Record<string, string>;
}

/** What every task gets, whatever the worker's own environment holds. */
export function baseEnv(tmpdir: string): Record<string, string> {
  return {
    PATH: process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: process.env.HOME || homedir(),
    LANG: process.env.LANG || 'C.UTF-8',
    TMPDIR: tmpdir,
  };
}

export async function prepareAttemptDir(a: TaskAssignment, workRoot: string, extraEnv: Record<string, string> = {}): Promise<AttemptDir> {
  await mkdir(workRoot, { recursive: true });
  const dir = await mkdtemp(join(workRoot, `${safeName(a.runId)}.${safeName(a.taskId)}.${a.attempt}-`));
  const tmp = join(dir, 'tmp');
  const codePath = join(dir, codeFileName(a.run, a.code));
  const paramsPath = join(dir, 'params.json');
  const inputsPath = join(dir, 'inputs.json');
  const outputPath = join(dir, 'output.json');
  await Promise.all([
    mkdir(tmp),
    writeFile(codePath, a.code),
    writeFile(paramsPath, JSON.stringify(a.params ?? {})),
    writeFile(inputsPath, JSON.stringify(a.inputs ?? {})),
  ]);
  const env: Record<string, string> = {
    ...baseEnv(tmp),
    ...extraEnv,
    ...a.secrets,
    ...paramEnv(a.params ?? {}),
    DATAPLANE_PARAMS: paramsPath,
    DATAPLANE_INPUTS: inputsPath,
    DATAPLANE_OUTPUT: outputPath,
    DATAPLANE_RUN_ID: a.runId,
    DATAPLANE_TASK_ID: a.taskId,
    DATAPLANE_ATTEMPT: String(a.attempt),
  };
  return { dir, codePath, outputPath, env };
}

export async function removeAttemptDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 2 }).catch(() => undefined);
}

/** `DATAPLANE_PARAM_<NAME>`: strings as they are, everything else as JSON. */
export function paramEnv(params: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const key = `DATAPLANE_PARAM_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
    env[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return env;
}

/**
 * Node code is CommonJS (`require` works) unless it uses `import`/`export` statements, then an ES
 * module (top-level `await` works there): without a package.json beside it, the extension decides.
 */
function codeFileName(kind: TaskKind, code: string): string {
  if (kind === 'python') return 'task.py';
  if (kind === 'bash') return 'task.sh';
  return /^\s*(import\s*[\w{*'"]|export\s)/m.test(code) ? 'task.mjs' : 'task.cjs';
}

/** Run and task ids go into a directory name: keep it a plain, short file name. */
function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
}
